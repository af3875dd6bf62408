"""DirectByteBuffer growth under -XX:+DisableExplicitGC and an
Unsafe.allocateMemory leak: in both, the live native memory is malloc'ed
under Unsafe_AllocateMemory0 in libjvm, with the bytes the program says it
still holds (within 15 %). --scenario direct|unsafe picks one.

Why 15 % holds: at NMTRACE_RATE=8192 each block is sampled independently
(the sampler is a Poisson process over bytes) with p = 1 - exp(-size/8192)
and weighted size/p. UnsafeLeak's 20000 blocks of 4 KiB: p = 0.39, 7869
sampled on average, and the Chernoff bound puts a 15 % miss below
2 exp(-1180^2 / (3 * 7869)) < 1e-25. DirectBuffers' 64 KiB blocks are
sampled with p > 0.9996."""
import nmtj

SCENARIOS = {
    # Every buffer is still allocated natively: no GC ran to clean them.
    "direct": ("DirectBuffers", (2000, 65536, 16),
               ["-XX:+DisableExplicitGC", "-XX:MaxDirectMemorySize=1g"], "direct pool still holds"),
    "unsafe": ("UnsafeLeak", (20000, 4096, 2), [], "leaked"),
}


def body(c):
    which = c.rest[c.rest.index("--scenario") + 1] if "--scenario" in c.rest else "direct"
    main, args, jvm, label = SCENARIOS[which]
    c.need_java()
    c.need_lib()
    c.need_nmreport()
    c.scratch("unsafe_" + which)
    out, prof = nmtj.record_java(c, main, *args, jvm=jvm, env={"NMTRACE_RATE": 8192, "NMTRACE_SEED": 7})
    truth = nmtj.printed_number(out, label)
    js = c.report_json(prof)
    under = nmtj.stacks_with_frame(js, r"^Unsafe_AllocateMemory0", r"libjvm\.so$")
    live = nmtj.total(under, "inuse_space")
    print("live under Unsafe_AllocateMemory0: %s in %d stacks; ground truth %s" % (
        nmtj.mib(live), len(under), nmtj.mib(truth)))
    nmtj.check(under, "no stack passes through Unsafe_AllocateMemory0 in libjvm.so")
    nmtj.check(nmtj.within(live, truth, 0.15), "%d live bytes under Unsafe_AllocateMemory0, not within 15%% of %d"
               % (live, truth))
    # It is the biggest owner of live malloc memory, and its frames are jvm's.
    top = js["top_sites"][0]
    nmtj.check(top["class"] == "jvm" and top["values"]["inuse_space"] >= 0.5 * truth,
               "top site is %s [%s] class %s" % (top["function"], top["lib"], top["class"]))
    sites = {(s["site"] or {}).get("function") for s in under}
    print("allocation sites of those stacks: %s" % sorted(str(s) for s in sites))


nmtj.main("java_unsafe_growth", body)
