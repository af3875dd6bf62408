"""The nmtrace launcher (preload/launcher/nmtrace.c): --help, one-line errors
with exit 2 for bad options, NMTRACE_* and LD_PRELOAD set from options
(keeping a preloaded allocator after the recorder), the profile's path
printed absolute, only this run's profiles listed (an earlier run's, even one
in the same second, never), the child's exit status passed on (128 + N for a
signal), and a java command left as it was (nothing added to
JAVA_TOOL_OPTIONS, no "Picked up" line, no perf map) unless --perf-map asks
for the map, which then goes on the command line, silently."""
import os
import re
import time
import shutil

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
    r = re.search(r"^nmtrace: read it with: (\S+) %s$" % re.escape(m.group(1)), p.stderr, re.M)
    nmtj.check(r, "no 'read it with' line")
    # The hint names "nmreport" only when PATH finds the one next to the
    # launcher, else that one by its absolute path: copied, it runs it.
    sibling = os.path.join(os.path.dirname(nt), "nmreport")
    on_path = shutil.which("nmreport", path=c.plain_env().get("PATH"))
    want = "nmreport" if on_path and os.path.realpath(on_path) == os.path.realpath(sibling) else sibling
    nmtj.check(r.group(1) == want, "the hint's reader is %s, want %s" % (r.group(1), want))
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

    # A relative -o: every path said is absolute, and names the file.
    p = c.run([nt, "-o", "rel.%p.nmt", exe, "10", "64"])
    m = re.search(r"^nmtrace: read it with: \S+ (\S+)$", p.stderr, re.M)
    nmtj.check(p.returncode == 0 and m and m.group(1).startswith("/") and os.path.isfile(m.group(1)),
               "relative -o: the path said is not the absolute path of the file: %r" % p.stderr)
    for line in p.stderr.splitlines():
        for path in re.findall(r"\S+\.nmt\b", line):
            nmtj.check(path.startswith("/"), "a relative path in %r" % line)

    # Two runs with the same pattern, each with a forked child: the second
    # lists only its own processes' profiles, never the first run's (the
    # run token decides, not file times: both may fall in the same second).
    listed = []
    for _ in range(2):
        p = c.run([nt, "-o", os.path.join(c.tmp, "r.%p.nmt"), "--", "sh", "-c",
                   "\"$0\" 10 64 & wait", exe])
        nmtj.check(p.returncode == 0, "nmtrace sh -c 'c_leak &': exit %d %r" % (p.returncode, p.stderr))
        listed.append(set(re.findall(r"(?:written to|run(?: \(pid \d+\))?:) (/\S+)$", p.stderr, re.M)))
        nmtj.check(len(listed[-1]) == 2, "want the shell's and c_leak's profiles: %r" % p.stderr)
    nmtj.check(not listed[0] & listed[1], "the second run listed the first's profiles: %s" %
               sorted(listed[0] & listed[1]))

    java = c.args.java
    if java and os.access(java, os.X_OK):
        env = c.plain_env()
        env["JAVA_TOOL_OPTIONS"] = "-Xss2m"
        started = time.time() - 1  # an older perf map is another process's (pid reuse)
        p = c.run([nt, "-q", "-o", os.path.join(c.tmp, "j.%p.nmt"), java, "-Xshare:auto", "-version"], env=env)
        nmtj.check(p.returncode == 0, "nmtrace java -version exited %d" % p.returncode)
        picked = [l for l in p.stderr.splitlines() if "Picked up" in l]
        nmtj.check(picked == ["Picked up JAVA_TOOL_OPTIONS: -Xss2m"], "the launcher changed what the "
                   "JVM picked up: %r" % picked)
        m = re.search(r"profile written to (/\S+/j\.(\d+)\.nmt)", p.stderr)
        nmtj.check(m, "no profile line for java")
        info = nmtj.read_profile(m.group(1))
        nmtj.check(info["snapshots"] >= 1, "java's profile has no snapshot")
        perf = "/tmp/perf-%s.map" % m.group(2)
        nmtj.check(not (os.path.exists(perf) and os.path.getmtime(perf) >= started),
                   "%s was written though not asked for" % perf)

        p = c.run([nt, "-q", "--perf-map", "-o", os.path.join(c.tmp, "k.%p.nmt"), java, "-Xshare:auto",
                   "-version"])
        nmtj.check(p.returncode == 0 and "Picked up" not in p.stderr,
                   "nmtrace --perf-map java -version: exit %d, %r" % (p.returncode, p.stderr[:300]))
        m = re.search(r"profile written to \S+/k\.(\d+)\.nmt", p.stderr)
        nmtj.check(m, "no profile line for java --perf-map")
        perf = "/tmp/perf-%s.map" % m.group(1)
        nmtj.check(os.path.exists(perf), "--perf-map: %s was not written" % perf)
        os.unlink(perf)
    else:
        print("no JDK: the java part of this test was not run")


nmtj.main("launcher", body)
