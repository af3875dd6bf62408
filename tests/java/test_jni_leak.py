"""The JNI leak scenario: the top allocation site of live memory is the JNI
library's leaking function (class jni, lib libnmexjni.so), with the bytes the
program says it leaked, within 15 % (64 KiB sampling, fixed seed). The
scratch buffers it frees at once must not show as live. With --allocator
jemalloc the recorder wraps a preloaded jemalloc (LD_PRELOAD="libnmtrace.so
libjemalloc.so.2") and must find the same."""
import os

import nmtj

JEMALLOC = ("/usr/lib/x86_64-linux-gnu/libjemalloc.so.2", "/usr/lib/aarch64-linux-gnu/libjemalloc.so.2",
            "/usr/lib/libjemalloc.so.2", "/usr/local/lib/libjemalloc.so.2")


def body(c):
    c.need_java()
    c.need_lib()
    c.need_nmreport()
    env = {"NMTRACE_RATE": 65536, "NMTRACE_SEED": 42}
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
        # Issue 7: the stack goes on from the JNI function through the Java_
        # entry into the Java caller, named with its source line, with no JVM
        # flag (the bridge attaches by itself).
        leak = [s for s in nmtj.stacks_with_frame(js, r"^nmex_session_open$")
                if s["values"]["inuse_space"] > 0]
        heaviest = max(leak, key=lambda s: s["values"]["inuse_space"])
        names = [f["function"] for f in heaviest["frames"]]
        print("heaviest leak stack: " + " < ".join(names[:8]))
        i = names.index("nmex_session_open")
        nmtj.check(i + 1 < len(names) and names[i + 1] == "Java_NativeLib_leak",
                   "nmex_session_open is not called from Java_NativeLib_leak: %s" % names)
        java = [f for f in heaviest["frames"][i + 2:] if f["class"] == "java"]
        nmtj.check(java and java[0]["function"].endswith("NativeLib.leak"),
                   "no Java frame NativeLib.leak above the JNI entry: %s" % names)
        callers = [f for f in java[1:] if "JniLeak" in f["function"]]
        nmtj.check(callers and callers[0]["file"] == "JniLeak.java" and callers[0]["line"] > 0,
                   "the Java caller in JniLeak has no source line: %s" % (callers[:1],))
    scratch = [s for s in js["top_sites"] if s["function"] == "nmex_scratch_fill"]
    live_scratch = sum(s["values"]["inuse_space"] for s in scratch)
    nmtj.check(live_scratch < truth * 0.02, "freed scratch buffers still show %d live bytes" % live_scratch)


nmtj.main("java_jni_leak", body)
