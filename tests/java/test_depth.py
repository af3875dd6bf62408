"""NMTRACE_DEPTH bounds the Java frames of a stack as it bounds the native
ones: a stack deeper than the depth keeps its innermost frames (the
allocating method) and is counted in java.truncated; one that fits is whole,
down to main. DeepStack allocates under a chosen number of its own frames."""
import nmtj


def java_frames(prof):
    """The largest number of Java frames of a sampled stack, and how many
    sampled stacks have it."""
    p = nmtj.nmtprof.Profile(prof)
    counts = [sum(1 for f in p.stacks.get(sid, []) if f >> 63)
              for sid, site in p.last().sites.items() if site["alloc_samples"] > 0]
    top = max(counts, default=0)
    return top, counts.count(top), p.last().counters


def deep_stacks(c, prof):
    """The --alloc-space stacks through DeepStack.down: (names leaf first,
    bytes) each."""
    js = c.report_json("--alloc-space", prof)
    stacks = nmtj.stacks_with_frame(js, r"DeepStack\.down$")
    nmtj.check(stacks, "no sampled stack contains DeepStack.down")
    return [([f["function"] for f in s["frames"]], s["values"]["alloc_space"]) for s in stacks]


def body(c):
    c.need_java()
    c.need_lib()
    c.need_nmreport()
    c.scratch("depth")
    env = {"NMTRACE_RATE": 65536, "NMTRACE_SEED": 7}
    # 60 frames of DeepStack.down under a depth of 16: cut to 16, innermost kept.
    out, prof = nmtj.record_java(c, "DeepStack", 60, 20000, classes="test",
                                 env=dict(env, NMTRACE_DEPTH=16), timeout=120)
    nmtj.check("done 60" in out, "DeepStack did not finish: %r" % out)
    top, n, counters = java_frames(prof)
    print("depth 16: at most %d Java frames (%d stacks), java.truncated %d" % (
        top, n, counters.get("java.truncated", -1)))
    nmtj.check(top == 16, "a stack has %d Java frames under NMTRACE_DEPTH=16" % top)
    nmtj.check(counters.get("java.truncated", 0) >= 1, "no Java stack counted as cut")
    deep = deep_stacks(c, prof)
    # The loop's allocations (other samples under down, the JVM's own work
    # in freeMemory say, come from elsewhere): their innermost frames kept.
    nmtj.check(any(any("allocateMemory" in n for n in names) for names, _ in deep),
               "no stack through DeepStack.down kept the allocating Unsafe frames")
    for names, _ in deep:
        nmtj.check(not any(n.endswith("DeepStack.main") for n in names),
                   "a stack 60 frames deep kept main under a depth of 16: %s" % names)
    # 20 frames under the default depth (64): whole, main included.
    c.scratch("depth")
    out, prof = nmtj.record_java(c, "DeepStack", 20, 20000, classes="test", env=env,
                                 timeout=120)
    nmtj.check("done 20" in out, "DeepStack did not finish: %r" % out)
    # Whole: all 21 frames of down, then main. HotSpot's own walk may end
    # early now and then (AsyncGetCallTrace stops, without an error, at a
    # frame it cannot walk past), so most of the bytes, not all, must be so.
    deep = deep_stacks(c, prof)
    whole = sum(v for names, v in deep
                if names[-1].endswith("DeepStack.main") and
                sum(n.endswith("DeepStack.down") for n in names) == 21)
    every = sum(v for _, v in deep)
    print("depth 64: %s of %s under DeepStack.down in whole stacks" % (nmtj.mib(whole),
                                                                       nmtj.mib(every)))
    nmtj.check(whole >= 0.9 * every, "stacks that fit the depth were cut: %s" % [
        names for names, _ in deep if not names[-1].endswith("DeepStack.main")][:3])


nmtj.main("java_bridge_depth", body)
