"""HotSpot's own Native Memory Tracking (summary) at the same time as the
recorder: NMT's malloc headers and our hooks must coexist; the JVM prints its
NMT statistics at exit in both runs and the program's output is unchanged."""
import nmtj


def program_lines(out):
    return "".join(l + "\n" for l in out.splitlines() if l.startswith("rounds "))


def body(c):
    c.need_java()
    c.need_lib()
    c.scratch("nmt")
    cmd = c.java_cmd("GcChurn", 20, 20000, jvm=["-XX:NativeMemoryTracking=summary",
                                                 "-XX:+UnlockDiagnosticVMOptions", "-XX:+PrintNMTStatistics"])
    plain, rec, _ = nmtj.same_behaviour(c, cmd, {"NMTRACE_RATE": 16384}, comparable=program_lines)
    nmtj.check(program_lines(plain.stdout), "GcChurn printed no result line")
    for name, run in (("plain", plain), ("recorded", rec)):
        nmtj.check("Native Memory Tracking" in run.stdout and "Total: reserved=" in run.stdout,
                   "the %s run printed no NMT statistics" % name)


nmtj.main("java_nmt", body)
