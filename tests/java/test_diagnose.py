"""`nmreport --diagnose --json` on the programs of examples/ (and a churning
service with no leak): the first finding names the cause and the owner, and
its bytes are within 15 % of the ground truth the program prints.

Snapshots come from NMTRACE_GROWTH (every few MiB of tracked growth) rather
than from time, so which snapshots exist depends on the program's own steps,
not on how fast a busy machine runs it; --diagnose judges trends per
snapshot step for the same reason. The churn scenario snapshots every second
and asserts what holds by construction: nothing it allocates stays live, so
no finding may be a leak suspect; it runs until it has the three snapshots
a leak suspect needs, so that this holds for a reason.

Usage: test_diagnose.py --scenario NAME (see SCENARIOS)."""
import json
import os
import re
import subprocess
import sys
import time

import nmtj

# Sampling rates keep the 95 % sampling error of each ground truth's
# estimate (docs/nmreport.1, DIAGNOSE) under a third of the 15 % allowed.
GROWTH = {"NMTRACE_GROWTH": 2 << 20}


def number(out, pattern):
    """The last number the program printed matching pattern (a program that
    reports per phase prints its final figure last)."""
    found = re.findall(pattern, out)
    nmtj.check(found, "the program did not print /%s/; it printed: %s" % (pattern, out[-300:]))
    return int(found[-1])


# name: (main class, args, JVM flags, env, [(cause, owner substring, truth regex or None, verdict)])
SCENARIOS = {
    "jni": ("JniLeak", (2, 20000, 1000), (), dict(GROWTH, NMTRACE_RATE=16384),
            [("jni-library", "nmex_session_open", r"leaked (\d+) bytes", None)]),
    "jni_jemalloc": ("JniLeak", (2, 20000, 1000), (), dict(GROWTH, NMTRACE_RATE=16384, JEMALLOC=1),
                     [("jni-library", "nmex_session_open", r"leaked (\d+) bytes", None)]),
    "direct": ("DirectBuffers", (2000, 65536, 16), ("-XX:+DisableExplicitGC", "-XX:MaxDirectMemorySize=1g"),
               dict(GROWTH, NMTRACE_RATE=65536), [("direct-buffers", "DirectBuffers.main", r"direct pool still holds (\d+) bytes", None)]),
    "nio": ("NioTempCache", (4, 4194304, 3), (), GROWTH,
            [("nio-temp-cache", "NioTempCache", r"caches hold about (\d+) bytes", None)]),
    "unsafe": ("UnsafeLeak", (20000, 4096, 2), (), dict(GROWTH, NMTRACE_RATE=16384),
               [("unsafe", "UnsafeLeak.main", r"leaked (\d+) bytes", None)]),
    # MetaspaceSize at the limit: no "Metadata GC Threshold" collection, whose
    # purge uncommits free Metaspace chunks. When it ran depended on the load:
    # after the program printed its figure, the final snapshot saw ~5 MiB
    # less committed (and resident) Metaspace than the program had counted.
    "metaspace": ("MetaspaceGrowth", (3000,), ("-XX:MaxMetaspaceSize=256m", "-XX:MetaspaceSize=256m"), GROWTH,
                  [("metaspace", "MetaspaceGrowth", r"Metaspace committed grew by (\d+) bytes", None)]),
    "reflection": ("ReflectionInflation", (1024, 20), (), GROWTH,
                   [("reflection-inflation", "ReflectionInflation", r"Metaspace committed grew by (\d+) bytes", None)]),
    "levelling": ("Levelling", (10, 4000, 8192, 2000, 1600, 50), (), dict(GROWTH, NMTRACE_RATE=1024, NMTRACE_SEED=3),
                  [("jni-library", "nmex_session_open", r"leaked so far (\d+) bytes", "leak-suspect")]),
    "warmup": ("WarmUp", (160, 8, 500), ("-Xms256m", "-XX:MaxMetaspaceSize=64m", "-XX:MaxDirectMemorySize=64m",
                                         "-XX:ReservedCodeCacheSize=64m"), {"NMTRACE_INTERVAL": 1},
               [("warm-up", "JVM", r"MiB to (\d+) MiB", None)]),
    "cacheleak": ("CacheAndLeak", (), (), {"NMTRACE_GROWTH": 2 << 20, "NMTRACE_RATE": 65536, "NMTRACE_SEED": 5},
                  [("unsafe", "CacheAndLeak.leakStep", r"worker leaked (\d+) bytes", "leak-suspect"),
                   ("levels-off", "OffHeapCache.put", r"cache holds (\d+) bytes", "levels-off")]),
}


def first_findings(c, prof, n):
    p = c.run([c.nmreport, "--diagnose", "--json", prof])
    nmtj.check(p.returncode == 0, "nmreport --diagnose --json exited %d: %s" % (p.returncode, p.stderr[-300:]))
    js = json.loads(p.stdout)
    found = js["profiles"][0]["findings"]
    for i, f in enumerate(found[:6]):
        print("finding %d: %s %s %s %s %d bytes" % (i + 1, f["cause"], f["verdict"], f["owner_kind"],
                                                 f["owner"], f["bytes"]))
    nmtj.check(len(found) >= n, "%d findings, expected at least %d" % (len(found), n))
    return js["profiles"][0], found


JEMALLOC = ("/usr/lib/x86_64-linux-gnu/libjemalloc.so.2", "/usr/lib/aarch64-linux-gnu/libjemalloc.so.2",
            "/usr/lib/libjemalloc.so.2", "/usr/local/lib/libjemalloc.so.2")


def judge(c, name):
    main, args, jvm, env, want = SCENARIOS[name]
    env = dict(env)
    if env.pop("JEMALLOC", None):
        # jemalloc under the recorder: its own mmaps hold the same bytes as
        # the mallocs inside them and must not be counted a second time.
        found = [j for j in JEMALLOC if os.path.exists(j)]
        if not found:
            nmtj.skip("libjemalloc.so.2 is not installed (Debian: libjemalloc2)")
        env["LD_PRELOAD"] = c.preload + " " + found[0]
    out, prof = nmtj.record_java(c, main, *args, jvm=jvm, env=env, timeout=120)
    _, found = first_findings(c, prof, len(want))
    # Findings of the application's code, in rank order; want[0] must be the
    # very first finding, later ones the next findings of the application.
    app = [f for f in found if f["owner_kind"] != "jvm"]
    for i, (cause, owner, truth_re, verdict) in enumerate(want):
        f = found[0] if i == 0 else app[i]
        nmtj.check(f["cause"] == cause, "finding %d is %s, not %s: %s" % (i + 1, f["cause"], cause, f))
        nmtj.check(owner in f["owner"], "finding %d's owner is %s, not %s" % (i + 1, f["owner"], owner))
        if verdict:
            nmtj.check(f["verdict"] == verdict, "finding %d is %s, not %s" % (i + 1, f["verdict"], verdict))
        if truth_re:
            truth = number(out, truth_re)
            if "MiB" in truth_re:
                truth <<= 20
            nmtj.check(nmtj.within(f["bytes"], truth, 0.15), "finding %d holds %s, the program says %s" % (
                i + 1, nmtj.mib(f["bytes"]), nmtj.mib(truth)))


def churn(c):
    """At least three snapshots (fewer cannot make a leak suspect, so the
    check would hold vacuously): the run goes on, past its 4 s, until three
    periodic ones are in the file, however long a busy machine keeps the
    writer from taking them."""
    stop = os.path.join(c.tmp, "stop")
    cmd = c.java_cmd("NativeChurn", 4, 4, stop, classes="test")
    p = subprocess.Popen(cmd, env=c.recorded_env({"NMTRACE_INTERVAL": 1}), cwd=c.tmp, text=True,
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        path = os.path.join(c.tmp, "p.%d.nmt" % p.pid)
        # The bound only turns a hang into a failure before the test's own
        # timeout (180 s).
        deadline = time.monotonic() + 120
        while len(nmtj.snapshots_so_far(path)) < 3:
            if p.poll() is not None:
                nmtj.fail("NativeChurn ended before its stop file (exit %d): %s"
                          % (p.returncode, p.stderr.read()[-500:]))
            nmtj.check(time.monotonic() < deadline, "%s: fewer than 3 snapshots in 120 s at "
                       "NMTRACE_INTERVAL=1" % path)
            time.sleep(0.1)
        open(stop, "w").close()
        out, err = p.communicate(timeout=40)
    except subprocess.TimeoutExpired:
        nmtj.fail("NativeChurn did not end within 40 s of its stop file")
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()
    c.no_crash_files()
    nmtj.check(p.returncode == 0, "NativeChurn exited %d under the recorder; stderr: %s"
               % (p.returncode, err.strip()[-500:]))
    info = c.main_profile()
    prof = info["path"]
    info, found = first_findings(c, prof, 0)
    nmtj.check(info["snapshots"] >= 3, "only %d snapshots at NMTRACE_INTERVAL=1" % info["snapshots"])
    leaks = [f for f in found if f["verdict"] == "leak-suspect"]
    nmtj.check(not leaks, "a run that keeps nothing has leak suspects: %s" % leaks)
    p = c.run([c.nmreport, "--diagnose", "--fail-on", "leak-suspect", prof])
    nmtj.check(p.returncode == 0, "--fail-on leak-suspect exited %d on a run without leaks" % p.returncode)


def c_leak(c):
    """The C demo, a native program: the owner is its own function."""
    exe = os.path.join(c.build, "examples", "c_leak")
    nmtj.check(os.access(exe, os.X_OK), "%s missing: build the c_leak target" % exe)
    p = c.run([exe, "2000", "4096"], env=c.recorded_env({"NMTRACE_RATE": 1}))
    nmtj.check(p.returncode == 0, "c_leak exited %d" % p.returncode)
    _, found = first_findings(c, c.main_profile()["path"], 1)
    f = found[0]
    nmtj.check(f["cause"] == "native-code" and "leak_request_buffers" in f["owner"],
               "first finding: %s %s" % (f["cause"], f["owner"]))
    nmtj.check(f["bytes"] == number(p.stdout, r"leak_request_buffers leaked (\d+) bytes"),
               "every allocation recorded, yet %d bytes" % f["bytes"])


def body(c):
    c.need_lib()
    c.need_nmreport()
    name = c.rest[c.rest.index("--scenario") + 1]
    c.scratch("diagnose_" + name)
    if name == "c_leak":
        return c_leak(c)
    c.need_java()
    if name == "churn":
        churn(c)
    else:
        judge(c, name)


nmtj.main("java_diagnose_" + (sys.argv[sys.argv.index("--scenario") + 1] if "--scenario" in sys.argv else ""),
          body)
