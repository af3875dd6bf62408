"""A method inlined by C2 into a hot caller appears as its own frame.
InlineHot.grab (which allocates through Unsafe) runs inlined into InlineHot.hot:
the scenario forces C2 (-Xcomp, tiered off) and the inlining (CompileCommand), so
every sample is taken in compiled code; plain LD_PRELOAD, no flag for nmtrace."""
import nmtj


def body(c):
    c.need_java()
    c.need_lib()
    c.need_nmreport()
    c.scratch("inlined")
    jvm = ["-Xcomp", "-XX:-TieredCompilation", "-XX:CompileCommand=quiet",
           "-XX:CompileCommand=inline,InlineHot::grab",
           "-XX:CompileCommand=compileonly,InlineHot::*",
           "-XX:CompileCommand=compileonly,jdk.internal.misc.Unsafe::*",
           "-XX:CompileCommand=compileonly,sun.misc.Unsafe::*"]
    out, prof = nmtj.record_java(c, "InlineHot", 20, jvm=jvm, classes="test",
                                 env={"NMTRACE_RATE": 65536, "NMTRACE_SEED": 7}, timeout=120)
    nmtj.check("done 20" in out, "InlineHot did not finish: %r" % out)
    js = c.report_json("--alloc-space", prof)
    stacks = nmtj.stacks_with_frame(js, r"InlineHot\.grab$")
    nmtj.check(stacks, "no sampled stack contains InlineHot.grab")
    good = 0
    for s in stacks:
        names = [f["function"] for f in s["frames"]]
        i = next(k for k, n in enumerate(names) if n.endswith("InlineHot.grab"))
        if i + 1 < len(names) and names[i + 1].endswith("InlineHot.hot"):
            good += 1
    total = nmtj.total(stacks, "alloc_space")
    print("%d stacks with grab, %d with grab directly above hot; %s allocated through them" %
          (len(stacks), good, nmtj.mib(total)))
    nmtj.check(good == len(stacks), "grab is not directly above hot in every stack")
    nmtj.check(total > 64 << 20, "too little allocated through grab: %d" % total)


nmtj.main("java_bridge_inlined", body)
