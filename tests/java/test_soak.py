#!/usr/bin/env python3
"""Each Java scenario of examples/ run N times (default 20) under the recorder with
the JVM bridge active (plain LD_PRELOAD, no JVM flag): every run must exit 0,
leave no JVM crash file and write a readable profile whose Java stacks were taken
(java.* counters). Label java, soak."""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import nmtj  # noqa: E402

# Small arguments: each run takes about a second on a quiet machine.
SCENARIOS = [
    ("JniLeak", ["2", "2000", "1000"], []),
    ("DirectBuffers", ["200", "65536", "4"], ["-XX:+DisableExplicitGC"]),
    ("NioTempCache", ["4", "1048576", "2"], []),
    ("UnsafeLeak", ["2000", "4096", "2"], []),
    ("MetaspaceGrowth", ["300"], []),
    ("ReflectionInflation", ["128", "20"], []),
    ("Levelling", ["4", "4000", "8192", "2000", "400", "50"], []),
    ("WarmUp", ["40", "8", "50"], []),
]


def body(c):
    c.need_java()
    c.need_lib()
    runs = int(os.environ.get("NMT_SOAK_RUNS", "20"))
    c.scratch("soak")
    total_java = 0
    for main, args, jvm in SCENARIOS:
        for i in range(runs):
            for p in c.profiles():
                os.unlink(p)
            cmd = c.java_cmd(main, *args, jvm=jvm, classes="examples")
            p = c.run(cmd, env=c.recorded_env({"NMTRACE_RATE": "65536"}), timeout=120,
                      what="%s run %d" % (main, i + 1))
            nmtj.check(p.returncode == 0, "%s run %d exited %d" % (main, i + 1, p.returncode))
            c.no_crash_files()
            info = c.main_profile()
            nmtj.check(info["snapshots"] >= 1, "%s run %d: no complete snapshot" % (main, i + 1))
            # The bridge starts before the main class loads, and VMDeath names
            # what was sampled: every run whose Java code allocates natively
            # names Java methods. WarmUp only touches the Java heap.
            named = info["types"].get(nmtj.nmtprof.JMETHOD, 0)
            via = nmtj.nmtprof.Profile(info["path"]).last().counters.get("java.attach_via")
            nmtj.check(via == 4, "%s run %d: java.attach_via is %s, not 4 (JNI_CreateJavaVM caught)"
                       % (main, i + 1, via))
            nmtj.check(named > 0 or main == "WarmUp",
                       "%s run %d: no Java method named (JMETHOD)" % (main, i + 1))
            total_java += named
    print("%d scenarios x %d runs: no crash, no hang; %d JMETHOD records" %
          (len(SCENARIOS), runs, total_java))


nmtj.main("java_soak", body)
