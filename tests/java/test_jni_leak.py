"""The JNI leak scenario: the top allocation site of live memory is the JNI
library's leaking function (class jni, lib libnmexjni.so), with the bytes the
program says it leaked, within 15 %. The scratch buffers it frees at once must
not show as live.

Why 15 % holds: 40000 blocks of 1000 bytes at NMTRACE_RATE=8192; the sampler
is a Poisson process over bytes, so each block is sampled independently with
p = 1 - exp(-1000/8192) = 0.115 and weighted 1000/p. The count of sampled
blocks has mean 4597 (standard deviation 64); the Chernoff bound puts a 15 %
miss (690 blocks) below 2 exp(-690^2 / (3 * 4597)) < 1e-14 per run.

The Java frames: the bridge starts before the main class loads, so every
sampled leak block has the Java caller above the JNI entry, unless
AsyncGetCallTrace failed for it, which is counted (java.err.*): the bytes in
leak stacks without Java frames are at most those counted failures, each at
most one sample's weight. With --allocator
jemalloc the recorder wraps a preloaded jemalloc (LD_PRELOAD="libnmtrace.so
libjemalloc.so.2") and must find the same."""
import math
import os
import re

import nmtj

JEMALLOC = ("/usr/lib/x86_64-linux-gnu/libjemalloc.so.2", "/usr/lib/aarch64-linux-gnu/libjemalloc.so.2",
            "/usr/lib/libjemalloc.so.2", "/usr/local/lib/libjemalloc.so.2")


def body(c):
    c.need_java()
    c.need_lib()
    c.need_nmreport()
    env = {"NMTRACE_RATE": 8192, "NMTRACE_SEED": 42}
    if "--allocator" in c.rest and c.rest[c.rest.index("--allocator") + 1] == "jemalloc":
        found = [j for j in JEMALLOC if os.path.exists(j)]
        if not found:
            nmtj.skip("libjemalloc.so.2 is not installed (Debian: libjemalloc2)")
        env["LD_PRELOAD"] = c.preload + " " + found[0]
    c.scratch("jni_leak")
    out, prof = nmtj.record_java(c, "JniLeak", 2, 20000, 1000, env=env)
    truth = nmtj.printed_number(out, "leaked")
    js = c.report_json(prof)
    top = js["top_sites"][0]
    print("top site: %s [%s] class %s: %s, ground truth %s" % (
        top["function"], top["lib"], top["class"], nmtj.mib(top["values"]["inuse_space"]), nmtj.mib(truth)))
    nmtj.check(top["function"] == "nmex_session_open", "top site is %s, not nmex_session_open" % top["function"])
    nmtj.check(top["class"] == "jni", "nmex_session_open has class %s, not jni" % top["class"])
    nmtj.check((top["lib"] or "").endswith("libnmexjni.so"), "nmex_session_open is in %s" % top["lib"])
    nmtj.check(nmtj.within(top["values"]["inuse_space"], truth, 0.15),
               "live bytes %d are not within 15%% of the %d leaked" % (top["values"]["inuse_space"], truth))
    if "LD_PRELOAD" in env:
        # jemalloc really was the allocator underneath: its own mmaps are recorded.
        mapped = nmtj.total(nmtj.stacks_with_frame(c.report_json("--committed", prof), r".", r"libjemalloc"),
                            "committed")
        nmtj.check(mapped > 0, "no committed mmap from libjemalloc: was jemalloc preloaded?")
    if "LD_PRELOAD" not in env:
        # The stack goes on from the JNI function through the Java_
        # entry into the Java caller, named with its source line, with no JVM
        # flag (the bridge attaches by itself).
        leak = [s for s in nmtj.stacks_with_frame(js, r"^nmex_session_open$")
                if s["values"]["inuse_space"] > 0]
        with_java = [s for s in leak if any(f["class"] == "java" for f in s["frames"])]
        nmtj.check(with_java, "no leak stack has Java frames")
        for st in with_java:
            names = [f["function"] for f in st["frames"]]
            i = names.index("nmex_session_open")
            nmtj.check(i + 1 < len(names) and names[i + 1] == "Java_NativeLib_leak",
                       "nmex_session_open is not called from Java_NativeLib_leak: %s" % names)
            java = [f for f in st["frames"][i + 2:] if f["class"] == "java"]
            # The native method's own frame: from AsyncGetCallTrace, or its
            # compiled wrapper named from the code history ("(Native Method)").
            nmtj.check(java and re.match(r"NativeLib\.leak\b", java[0]["function"]),
                       "no Java frame NativeLib.leak above the JNI entry: %s" % names)
            # Issue 13: one name per method, and one frame per activation
            # (the native wrapper named by the perf map is the same call).
            nmtj.check(names[i + 2] == "NativeLib.leak" and names[i + 3] != "NativeLib.leak",
                       "NativeLib.leak is not one frame named NativeLib.leak: %s" % names[i:i + 4])
            callers = [f for f in java[1:] if "JniLeak" in f["function"]]
            nmtj.check(callers and callers[0]["file"] == "JniLeak.java" and callers[0]["line"] > 0,
                       "the Java caller in JniLeak has no source line: %s" % (callers[:1],))
        # Java methods are named one way in every stack (`pkg.Class.method`,
        # never a perf map's `long pkg.Class.method(int, int)`), and unnamed
        # interpreter frames are never repeated.
        for st in js["stacks"]:
            fr = st["frames"]
            for f in fr:
                nmtj.check(f["class"] != "java" or not re.search(r"[ (]", f["function"]),
                           "a Java frame spelled as the perf map does: %r" % f["function"])
            for a, b in zip(fr, fr[1:]):
                nmtj.check(not (a["function"] == b["function"] and "interpreted" in a["function"]),
                           "unnamed interpreter frames repeated: %r" % a["function"])
                nmtj.check(a["function"] != "Interpreter", "an unlabelled Interpreter frame")
        heaviest = max(with_java, key=lambda s: s["values"]["inuse_space"])
        print("heaviest leak stack: " + " < ".join(f["function"] for f in heaviest["frames"][:8]))
        counters = js["files"][0]["counters"]
        failed = sum(v for k, v in counters.items()
                     if k.startswith("java.err.") and k not in ("java.err.not_attached", "java.err.stopped"))
        bare = nmtj.total([s for s in leak if s not in with_java], "inuse_space")
        weight = 1000 / (1 - math.exp(-1000 / 8192))
        print("leak bytes without Java frames: %d; counted failures: %d" % (bare, failed))
        nmtj.check(bare <= failed * weight + 0.5,
                   "%d leaked bytes have no Java frames, more than the %d counted failures explain"
                   % (bare, failed))
    scratch = [s for s in js["top_sites"] if s["function"] == "nmex_scratch_fill"]
    live_scratch = sum(s["values"]["inuse_space"] for s in scratch)
    nmtj.check(live_scratch < truth * 0.02, "freed scratch buffers still show %d live bytes" % live_scratch)


nmtj.main("java_jni_leak", body)
