"""The nmtrace launcher (preload/launcher/nmtrace.c): --help, one-line errors
with exit 2 for bad options, NMTRACE_* and LD_PRELOAD set from options
(keeping a preloaded allocator after the recorder), the profile's path
printed, the child's exit status passed on (128 + N for a signal), and the
perf-map flags added to a java command's JAVA_TOOL_OPTIONS."""
import os
import re

import nmtj


def body(c):
    c.need_lib()
    nmtj.check(os.access(c.launcher, os.X_OK), "%s missing: the launcher target (preload/launcher) "
               "is not built" % c.launcher)
    c.scratch("launcher")
    lib = os.path.realpath(c.lib)
    nt = c.launcher

    p = c.run([nt, "--help"])
    nmtj.check(p.returncode == 0 and p.stdout.startswith("usage: nmtrace"), "--help failed")
    for bad in (["--rate", "x", "true"], ["--bogus", "true"], ["--unwind", "dwarf", "true"],
                ["--signal", "SEGV", "true"], ["--java", "maybe", "true"], ["--depth", "0", "true"],
                ["-o"], []):
        p = c.run([nt] + bad)
        lines = p.stderr.splitlines()
        nmtj.check(p.returncode == 2 and len(lines) == 1 and lines[0].startswith("nmtrace: "),
                   "nmtrace %s: exit %d, stderr %r (want exit 2 and one line)" % (" ".join(bad), p.returncode,
                                                                                 p.stderr))

    env = c.plain_env()
    jemalloc = [j for j in ("/usr/lib/x86_64-linux-gnu/libjemalloc.so.2", "/usr/lib/libjemalloc.so.2")
                if os.path.exists(j)]
    if jemalloc:
        env["LD_PRELOAD"] = jemalloc[0]
    pattern = os.path.join(c.tmp, "e.%p.nmt")
    p = c.run([nt, "-o", pattern, "-r", "64k", "-g", "1m", "-i", "2", "-d", "32", "-u", "fp", "-s", "5",
               "--signal", "USR1", "--trigger", c.tmp + "/go", "--java", "off", "-q", "--", "env"], env=env)
    nmtj.check(p.returncode == 0, "nmtrace -- env exited %d" % p.returncode)
    got = dict(l.split("=", 1) for l in p.stdout.splitlines() if "=" in l)
    # Passed on as written: the recorder reads the same grammar (common/nmc_vars.c).
    want = {"NMTRACE_OUTPUT": pattern, "NMTRACE_RATE": "64k", "NMTRACE_GROWTH": "1m",
            "NMTRACE_INTERVAL": "2", "NMTRACE_DEPTH": "32", "NMTRACE_UNWIND": "fp", "NMTRACE_SEED": "5",
            "NMTRACE_SIGNAL": "USR1", "NMTRACE_TRIGGER": c.tmp + "/go", "NMTRACE_JAVA": "off",
            "NMTRACE_QUIET": "1"}
    for k, v in want.items():
        nmtj.check(got.get(k) == v, "%s is %r, want %r" % (k, got.get(k), v))
    preload = got.get("LD_PRELOAD", "").split()
    nmtj.check(preload[:1] == [lib], "LD_PRELOAD is %r, want %s first" % (got.get("LD_PRELOAD"), lib))
    if jemalloc:
        nmtj.check(preload[1:] == jemalloc, "the user's LD_PRELOAD was not kept after ours: %r" % preload)

    exe = os.path.join(c.build, "examples", "c_leak")
    p = c.run([nt, "-o", os.path.join(c.tmp, "c.%p.nmt"), exe, "100", "64"])
    nmtj.check(p.returncode == 0, "nmtrace c_leak exited %d" % p.returncode)
    m = re.search(r"^nmtrace: profile written to (\S+)$", p.stderr, re.M)
    nmtj.check(m, "no 'profile written to' line: %r" % p.stderr)
    nmtj.check(re.search(r"^nmtrace: read it with: nmreport %s$" % re.escape(m.group(1)), p.stderr, re.M),
               "no 'read it with: nmreport' line")
    info = nmtj.read_profile(m.group(1))
    nmtj.check(m.group(1) == os.path.join(c.tmp, "c.%d.nmt" % info["pid"]), "the named file is not the pid's")
    nmtj.check(info["snapshots"] >= 1, "the named profile has no complete snapshot")

    # A shell that runs one program and then execs another: the profile named
    # is the last program's (same pid); the first one's is listed as another.
    p = c.run([nt, "-o", os.path.join(c.tmp, "x.%p.nmt"), "--", "sh", "-c", "/bin/true; exec \"$0\" 10 64", exe])
    m = re.search(r"^nmtrace: profile written to (\S+)$", p.stderr, re.M)
    nmtj.check(p.returncode == 0 and m, "nmtrace sh -c 'exec c_leak': exit %d, %r" % (p.returncode, p.stderr))
    info = nmtj.read_profile(m.group(1))
    nmtj.check(os.path.basename(info["exe"]) == "c_leak", "the profile named is %s's, not c_leak's" % info["exe"])
    nmtj.check("also written by another process of the run" in p.stderr, "the /bin/true child's profile "
               "was not listed: %r" % p.stderr)

    for cmd, status in ((["sh", "-c", "exit 3"], 3), (["sh", "-c", "kill -TERM $$"], 143),
                        (["/nonexistent/program"], 127)):
        p = c.run([nt, "-o", os.path.join(c.tmp, "s.%p.nmt"), "--"] + cmd)
        nmtj.check(p.returncode == status, "nmtrace %s exited %d, want %d" % (cmd, p.returncode, status))

    java = c.args.java
    if java and os.access(java, os.X_OK):
        env = c.plain_env()
        env["JAVA_TOOL_OPTIONS"] = "-Xss2m"
        p = c.run([nt, "-q", "-o", os.path.join(c.tmp, "j.%p.nmt"), java, "-Xshare:auto", "-version"], env=env)
        nmtj.check(p.returncode == 0, "nmtrace java -version exited %d" % p.returncode)
        nmtj.check("Picked up JAVA_TOOL_OPTIONS: -Xss2m -XX:+UnlockDiagnosticVMOptions -XX:+DumpPerfMapAtExit"
                   in p.stderr, "JAVA_TOOL_OPTIONS was not extended: %r" % p.stderr[:300])
        m = re.search(r"profile written to \S+/j\.(\d+)\.nmt", p.stderr)
        nmtj.check(m, "no profile line for java")
        perf = "/tmp/perf-%s.map" % m.group(1)
        nmtj.check(os.path.exists(perf), "%s was not written (DumpPerfMapAtExit)" % perf)
        os.unlink(perf)
    else:
        print("no JDK: the java part of this test was not run")


nmtj.main("launcher", body)
