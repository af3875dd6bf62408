"""Garbage collection under the recorder with the collector given by
--gc (G1 or Parallel): many young and full GCs, Cleaners freeing direct
buffers from the reference handler thread. Same output, no crash."""
import nmtj


def body(c):
    gc = c.rest[c.rest.index("--gc") + 1] if "--gc" in c.rest else "G1"
    c.need_java()
    c.need_lib()
    c.scratch("gc_" + gc)
    cmd = c.java_cmd("GcChurn", 40, 20000, jvm=["-XX:+Use%sGC" % gc, "-Xms64m"], heap="-Xmx64m")
    nmtj.same_behaviour(c, cmd, {"NMTRACE_RATE": 16384})


nmtj.main("java_gc", body)
