"""The recorder's own Java stack walker (preload/nmt_jvm_walk.c, HotSpot's
VMStructs) against HotSpot's AsyncGetCallTrace, on real programs.

NMTRACE_JAVA_WALK=check takes every sampled Java stack with both walkers and
compares them; the profile keeps AsyncGetCallTrace's. Its counters (the
last snapshot's, docs/FORMAT.md): java.walk.checked (stacks both took and
compared), java.walk.mismatch (compared stacks that differ in frame count or
in a (method, bci) pair), java.walk.declined (stacks the own walker handed to
AsyncGetCallTrace: a frame it does not know), java.walk.asgct_refused (stacks
the own walker took and AsyncGetCallTrace refused, during a GC say).

Every check-mode run asserts: no mismatch; at least MIN_CHECKED stacks
compared; and that the own walker took (checked + asgct_refused) at least
MIN_SHARE of the stacks it was asked for (took + declined). The programs do a
fixed amount of work, never a fixed time, at a dense rate (RATE: thousands of
samples a run), so what a run samples depends on the rate, not on the
machine; compilation is made synchronous (-Xbatch) where the mode is the
point, so that compiled frames are there however fast the machine is.

Cases (--case):
  int, c1, c2, tiered  WalkMix (tests/java/WalkMix.java), one run per phase
             (Unsafe, direct buffers, streams and lambdas, method handles,
             reflection, exceptions, deoptimization, JNI mallocs, a JNI
             upcall), so a failure names the call path: interpreter only
             (-Xint), C1 only, C2 only, default tiers. Each phase's own
             frames must be in the sampled stacks (the comparison covered it).
  deep       DeepStack 150 frames under the default NMTRACE_DEPTH (64: both
             walkers keep the innermost 64), and 200 frames under 256 (stacks
             of 200+ Java frames compared whole).
  inline     InlineHot as test_inlined.py runs it (-Xcomp, C2, grab inlined
             into hot): inlined frames and their bcis compared.
  threads    WalkMix on 6 threads with every phase at once; ManyThreads (400
             short-lived threads: zlib's mallocs in native code, direct
             buffers, threads starting and ending while sampled).
  auto       The default (no NMTRACE_JAVA_WALK): the own walker takes the
             stacks (java.walk.own), nothing is compared, and the stacks in
             the profile, now the own walker's, are whole: down to
             Thread.run for WalkMix, 201 frames of DeepStack.down and main.
  asgct      NMTRACE_JAVA_WALK=asgct: the old behaviour, java.walk.own 0 and
             Java stacks still taken; a valid value is taken silently.
  bad_value  NMTRACE_JAVA_WALK=bogus: one line on stderr naming the variable
             (under LD_PRELOAD and under the launcher), and the default is used.
  seccomp    A JVM under systemd's @system-service seccomp filter (any other
             system call kills it): it ends normally, the walker takes its
             stacks, libunwind is left alone (rec.libunwind_off).
"""
import os
import sys

import nmtj

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "robust"))
import seccomp_allow  # noqa: E402

# One sample per 4 KiB on average: WalkMix's 8 KiB blocks are sampled 86 % of
# the time, so each phase run gives about 6000 Java stacks (measured with
# AsyncGetCallTrace alone: 6100-6250, 12000 for the two phases that allocate
# twice per call).
RATE = 4096
# WalkMix's threads and rounds for the per-phase runs: 2 x 12 rounds of 4096
# calls of the phase's method each.
THREADS, ROUNDS = 2, 12
# A sixth of the smallest count above: sampling spreads a count of 6000 by
# about 80, so only a walker that takes few stacks (or a program that no
# longer runs its phase) falls under it.
MIN_CHECKED = 1000
# The own walker must take nine stacks in ten it is asked for. With
# AsyncGetCallTrace alone, 96-99.7 % of a phase run's samples on Java threads
# got Java frames; the rest are the JIT compiler threads' mallocs (JavaThreads
# without a Java frame: 100-250 samples a run with C1 or C2, 11 with -Xint),
# a thread's first and last moments (15) and deoptimization (0-4). A walker
# that hands even all of those to AsyncGetCallTrace and counts them declined
# stays above 0.95; one that declines a phase's call path (most of its run)
# falls far below 0.9.
MIN_SHARE = 0.9
WALK = ("java.walk.own", "java.walk.declined", "java.walk.checked", "java.walk.mismatch",
        "java.walk.asgct_refused")
# WalkMix's phases and the method each samples under (for upcall: the Java
# method called back from native code, which only an entry frame leads to).
PHASES = {"unsafe": "WalkMix.phaseUnsafe", "direct": "WalkMix.phaseDirect",
          "stream": "WalkMix.phaseStream", "handle": "WalkMix.phaseHandle",
          "reflect": "WalkMix.phaseReflect", "exception": "WalkMix.phaseException",
          "deopt": "WalkMix.phaseDeopt", "jni": "WalkMix.phaseJni",
          "upcall": "NativeWalk.fromNative"}
MODES = {"int": ["-Xint"],
         "c1": ["-XX:TieredStopAtLevel=1", "-Xbatch"],
         "c2": ["-XX:-TieredCompilation", "-Xbatch"],
         "tiered": []}
# test_inlined.py's flags: C2 only, everything compiled at its first call,
# InlineHot.grab inlined into InlineHot.hot.
INLINE_JVM = ["-Xcomp", "-XX:-TieredCompilation", "-XX:CompileCommand=quiet",
              "-XX:CompileCommand=inline,InlineHot::grab",
              "-XX:CompileCommand=compileonly,InlineHot::*",
              "-XX:CompileCommand=compileonly,jdk.internal.misc.Unsafe::*",
              "-XX:CompileCommand=compileonly,sun.misc.Unsafe::*"]


class Run:
    """One recorded run: the profile (moved to <scratch>/<label>.nmt so the
    next run's is the only p.*.nmt), its last snapshot's counters, stderr."""

    def __init__(self, c, label, main, *args, walk="check", jvm=(), env=None, expect=None,
                 timeout=180, wrap=()):
        self.label = label
        e = {"NMTRACE_RATE": RATE, "NMTRACE_SEED": 7}
        if walk is not None:
            e["NMTRACE_JAVA_WALK"] = walk
        e.update(env or {})
        jvm = ["-Djava.library.path=" + os.path.join(c.build, "tests", "java")] + list(jvm)
        cmd = list(wrap) + c.java_cmd(main, *args, jvm=jvm)
        env = c.recorded_env(e)
        if wrap:  # the wrapper preloads the recorder into the JVM only (rb_seccomp)
            env["RB_PRELOAD"] = env.pop("LD_PRELOAD")
        p = c.run(cmd, env=env, timeout=timeout, what="%s (%s)" % (main, label))
        c.no_crash_files()
        nmtj.check(p.returncode == 0, "%s: %s exited %d under the recorder; stderr: %s" % (
            label, main, p.returncode, p.stderr.strip()[-500:]))
        if expect is not None:
            nmtj.check(expect in p.stdout, "%s: %s did not finish: %r" % (label, main, p.stdout))
        info = c.main_profile()
        nmtj.check(info["snapshots"] >= 1, "%s: %s has no complete snapshot" % (label, info["path"]))
        self.path = os.path.join(c.tmp, label + ".nmt")
        os.rename(info["path"], self.path)
        self.stderr = p.stderr
        self.prof = nmtj.nmtprof.Profile(self.path)
        self.counters = self.prof.last().counters

    def walk(self):
        """The java.walk.* counters: a profile without them is from a recorder
        without the own walker."""
        missing = [k for k in WALK if k not in self.counters]
        nmtj.check(not missing, "%s: no %s in the profile's counters: a recorder without its own "
                   "Java walker (NMTRACE_JAVA_WALK)? java.* counters: %s" % (
                       self.label, ", ".join(missing), self.java_counters()))
        return {k[10:]: self.counters[k] for k in WALK}

    def java_counters(self):
        return {k: v for k, v in sorted(self.counters.items()) if k.startswith("java.") and v}

    def stacks(self):
        """(Java frame names leaf first, samples) of every sampled stack."""
        out = []
        for sid, site in self.prof.last().sites.items():
            if site["alloc_samples"] > 0:
                names = [self.prof.methods.get(f & 0xFFFFFFFF, "?")
                         for f in self.prof.stacks.get(sid, []) if f >> 63]
                out.append((names, site["alloc_samples"]))
        return out

    def samples_through(self, method):
        return sum(n for names, n in self.stacks() if method in names)

    def compiled(self, method):
        return any(self.prof.methods.get(s) == method for s in self.prof.compiled)

    def compiled_on_stacks(self):
        """The methods of the sampled stacks that have compiled code (JCODE),
        but for native methods (their wrappers are compiled code too)."""
        on = {f & 0xFFFFFFFF for sid, site in self.prof.last().sites.items() if site["alloc_samples"]
              for f in self.prof.stacks.get(sid, []) if f >> 63 and (f >> 60) & 7 != 3}
        return sorted(self.prof.methods.get(s, "?") for s in on & self.prof.compiled)


def check_compared(r, min_checked=MIN_CHECKED, min_share=MIN_SHARE):
    """The comparison of check mode: no mismatch, enough stacks compared, and
    the own walker took most of the stacks it was asked for."""
    w = r.walk()
    took = w["checked"] + w["asgct_refused"]
    share = took / float(took + w["declined"]) if took + w["declined"] else 0.0
    print("%s: compared %d, mismatch %d, declined %d, asgct_refused %d, own %d: the own walker "
          "took %.1f %%; java.stacks %d" % (
              r.label, w["checked"], w["mismatch"], w["declined"], w["asgct_refused"], w["own"],
              100 * share, r.counters.get("java.stacks", 0)))
    nmtj.check(w["mismatch"] == 0, "%s: %d of %d compared stacks differ between the own walker and "
               "AsyncGetCallTrace" % (r.label, w["mismatch"], w["checked"]))
    nmtj.check(w["checked"] >= min_checked, "%s: only %d stacks compared, want %d or more "
               "(java.* counters: %s)" % (r.label, w["checked"], min_checked, r.java_counters()))
    nmtj.check(share >= min_share, "%s: the own walker took %d stacks and declined %d (%.1f %%, "
               "want %.0f %% or more)" % (r.label, took, w["declined"], 100 * share,
                                          100 * min_share))


def soft(failures, fn, *args):
    """Runs fn; a failed check is kept in failures and the next one runs."""
    try:
        fn(*args)
    except nmtj.Fail as e:
        failures.append(str(e))
        print("FAIL (going on): %s" % e)


def end(failures):
    nmtj.check(not failures, "%d failed:\n  %s" % (len(failures), "\n  ".join(failures)))


def walkmix(c, label, phases, threads=THREADS, rounds=ROUNDS, **kw):
    return Run(c, label, "WalkMix", threads, rounds, phases,
               expect="done %d %d %s" % (threads, rounds, phases), **kw)


def case_mode(c, mode):
    """Every WalkMix phase in its own check-mode run under one compilation
    mode; a phase that fails does not stop the others."""
    failures = []
    for phase, marker in PHASES.items():
        def one():
            r = walkmix(c, "%s-%s" % (mode, phase), phase, jvm=MODES[mode])
            n = r.samples_through(marker)
            print("%s: %d samples under %s" % (r.label, n, marker))
            nmtj.check(n >= MIN_CHECKED, "%s: only %d sampled stacks under %s: the phase was not "
                       "sampled (want %d)" % (r.label, n, marker, MIN_CHECKED))
            # -Xint compiles nothing; under -Xbatch a method that gets hot is
            # compiled before it goes on, so compiled frames were walked.
            if mode == "int":
                nmtj.check(not r.prof.compiled, "%s: compiled code under -Xint" % r.label)
            elif mode in ("c1", "c2"):
                nmtj.check(r.compiled_on_stacks(), "%s: no method of the sampled stacks was "
                           "compiled" % r.label)
            check_compared(r)
        soft(failures, one)
    end(failures)


def java_depth(r, method):
    """The largest number of Java frames of a sampled stack through method."""
    return max((len(names) for names, _ in r.stacks() if method in names), default=0)


def case_deep(c):
    """Deep recursion (DeepStack.down calls itself, then allocates 4000 blocks
    of 8 KiB). 150 frames under the default depth: AsyncGetCallTrace keeps the
    innermost 64 frames, so the comparison covers cut stacks. 200 frames under
    NMTRACE_DEPTH=256 (its largest value): stacks of 205 Java frames
    compared whole."""
    failures = []

    def cut():
        r = Run(c, "deep-150-depth64", "DeepStack", 150, 4000, expect="done 150")
        top = java_depth(r, "DeepStack.down")
        ncut = r.counters.get("java.truncated", 0)
        print("%s: at most %d Java frames, java.truncated %d" % (r.label, top, ncut))
        nmtj.check(top == 64, "%s: the deepest stack has %d Java frames, want 64" % (r.label, top))
        nmtj.check(ncut >= MIN_CHECKED, "%s: few stacks cut (java.truncated %d)" % (r.label, ncut))
        check_compared(r)

    def whole():
        r = Run(c, "deep-200-depth256", "DeepStack", 200, 4000, env={"NMTRACE_DEPTH": 256},
                expect="done 200")
        top = java_depth(r, "DeepStack.down")
        print("%s: at most %d Java frames" % (r.label, top))
        # 201 frames of down and main, and the allocating Unsafe frames.
        nmtj.check(top >= 202, "%s: the deepest stack has %d Java frames, want 202 or more" % (
            r.label, top))
        check_compared(r)

    soft(failures, cut)
    soft(failures, whole)
    end(failures)


def case_inline(c):
    """C2 code with an inlined method (test_inlined.py's scenario, one round
    of 50000 allocations of 4-5 KiB): the walkers agree on the inlined frame
    and its bci. AsyncGetCallTrace puts grab directly above hot."""
    r = Run(c, "inline", "InlineHot", 1, jvm=INLINE_JVM, expect="done 1")
    pairs = sum(n for names, n in r.stacks() for i in range(len(names) - 1)
                if names[i] == "InlineHot.grab" and names[i + 1] == "InlineHot.hot")
    print("%s: %d samples with grab directly above hot" % (r.label, pairs))
    nmtj.check(pairs >= MIN_CHECKED, "%s: only %d samples with InlineHot.grab above InlineHot.hot"
               % (r.label, pairs))
    nmtj.check(r.compiled("InlineHot.hot"), "%s: InlineHot.hot was never compiled" % r.label)
    check_compared(r)


def case_threads(c):
    """Many threads at once: WalkMix on 6 threads with every phase (default
    tiers), and ManyThreads' 400 short-lived threads, 50 at a time."""
    failures = []

    def six():
        r = walkmix(c, "threads-6", "all", threads=6, rounds=3)
        for phase, marker in PHASES.items():
            n = r.samples_through(marker)
            nmtj.check(n >= MIN_CHECKED, "%s: only %d sampled stacks under %s (want %d)" % (
                r.label, n, marker, MIN_CHECKED))
        check_compared(r)

    def short():
        # No bound on the share here: two samples in five of this run are
        # taken while a thread starts or ends, with no Java frame yet or any
        # more (AsyncGetCallTrace alone: 3146 stacks, 802 no_java_frame, 1137
        # thread_exit), which a walker may count as declined.
        r = Run(c, "threads-short", "ManyThreads", 400, 50, expect="threads 400 ")
        check_compared(r, min_share=0.0)

    soft(failures, six)
    soft(failures, short)
    end(failures)


def case_auto(c):
    """The default walker, nothing compared: the own walker takes most stacks,
    and the stacks it takes are whole."""
    failures = []

    def mix():
        r = walkmix(c, "auto-mix", "all", rounds=4, walk=None)
        # Every phase's stacks reach the thread's first frame (the walker
        # crossed every frame on the way: LambdaForms, reflection, the JNI
        # upcall's entry frame); the upcall's Java part lies on the native
        # method that called it back.
        inner = outer = upcall = above = 0
        for names, n in r.stacks():
            if any(m in names for m in PHASES.values()):
                inner += n
                outer += n if names[-1] == "java.lang.Thread.run" else 0
            if "NativeWalk.fromNative" in names:
                i = names.index("NativeWalk.fromNative")
                upcall += n
                above += n if names[i + 1:i + 3] == ["NativeWalk.upcall", "WalkMix.phaseUpcall"] else 0
        print("%s: %d of %d samples under a phase reach Thread.run; %d of %d called back lie on "
              "NativeWalk.upcall" % (r.label, outer, inner, above, upcall))
        nmtj.check(inner >= MIN_CHECKED and outer >= 0.95 * inner,
                   "%s: %d of %d samples under a phase reach Thread.run" % (r.label, outer, inner))
        nmtj.check(upcall >= MIN_CHECKED and above >= 0.95 * upcall,
                   "%s: %d of %d samples under NativeWalk.fromNative lie on NativeWalk.upcall and "
                   "WalkMix.phaseUpcall" % (r.label, above, upcall))
        w = r.walk()
        share = w["own"] / float(w["own"] + w["declined"]) if w["own"] + w["declined"] else 0.0
        print("%s: own %d, declined %d (%.1f %%); checked %d, mismatch %d, asgct_refused %d; "
              "java.stacks %d" % (r.label, w["own"], w["declined"], 100 * share, w["checked"],
                                  w["mismatch"], w["asgct_refused"], r.counters.get("java.stacks", 0)))
        nmtj.check(w["checked"] == 0 and w["mismatch"] == 0 and w["asgct_refused"] == 0,
                   "%s: stacks compared outside check mode: %s" % (r.label, w))
        nmtj.check(w["own"] >= MIN_CHECKED and share >= MIN_SHARE,
                   "%s: the own walker took %d stacks and declined %d, want %.0f %% or more" % (
                       r.label, w["own"], w["declined"], 100 * MIN_SHARE))

    def deep():
        r = Run(c, "auto-deep", "DeepStack", 200, 4000, walk=None, env={"NMTRACE_DEPTH": 256},
                expect="done 200")
        whole = every = 0
        for names, n in r.stacks():
            if "DeepStack.down" in names:
                every += n
                if names[-1] == "DeepStack.main" and names.count("DeepStack.down") == 201:
                    whole += n
        print("%s: %d of %d samples under DeepStack.down whole" % (r.label, whole, every))
        nmtj.check(every >= MIN_CHECKED and whole >= 0.9 * every,
                   "%s: %d of %d samples under DeepStack.down have its 201 frames and main" % (
                       r.label, whole, every))
        w = r.walk()
        share = w["own"] / float(w["own"] + w["declined"]) if w["own"] + w["declined"] else 0.0
        print("%s: own %d, declined %d (%.1f %%)" % (r.label, w["own"], w["declined"], 100 * share))
        nmtj.check(w["own"] >= MIN_CHECKED and share >= MIN_SHARE,
                   "%s: the own walker took %d stacks and declined %d, want %.0f %% or more" % (
                       r.label, w["own"], w["declined"], 100 * MIN_SHARE))

    soft(failures, mix)
    soft(failures, deep)
    end(failures)


def said_about(stderr, var="NMTRACE_JAVA_WALK"):
    return [line for line in stderr.splitlines() if var in line]


def case_asgct(c):
    """NMTRACE_JAVA_WALK=asgct: AsyncGetCallTrace alone, as before the own
    walker; the value is valid, so nothing is said about it."""
    r = walkmix(c, "asgct", "unsafe,jni", rounds=2, walk="asgct")
    stacks = r.counters.get("java.stacks", 0)
    print("%s: java.stacks %d" % (r.label, stacks))
    nmtj.check(stacks >= MIN_CHECKED, "%s: only %d Java stacks taken" % (r.label, stacks))
    nmtj.check(not said_about(r.stderr), "%s: said %s" % (r.label, said_about(r.stderr)))
    w = r.walk()
    print("%s: java.walk.* %s" % (r.label, w))
    nmtj.check(w["own"] == 0, "%s: the own walker took %d stacks" % (r.label, w["own"]))
    nmtj.check(w["checked"] == 0 and w["mismatch"] == 0 and w["asgct_refused"] == 0,
               "%s: stacks compared: %s" % (r.label, w))


def check_said_once(label, stderr):
    lines = said_about(stderr)
    nmtj.check(len(lines) == 1, "%s: want one line naming NMTRACE_JAVA_WALK on stderr, got %s" % (
        label, lines))
    nmtj.check("bogus" in lines[0] and "unknown variable" not in lines[0],
               "%s: the line does not refuse the value 'bogus' of a known variable: %r" % (
                   label, lines[0]))


def case_bad_value(c):
    """A bad value is said in one line naming the variable, by the recorder
    under LD_PRELOAD and under the launcher, and the default (auto) is used."""
    r = walkmix(c, "bogus", "unsafe,jni", rounds=2, walk="bogus")
    check_said_once(r.label, r.stderr)
    w = r.walk()
    print("%s: said %r; java.walk.* %s" % (r.label, said_about(r.stderr)[0], w))
    nmtj.check(w["own"] >= MIN_CHECKED and w["checked"] == 0,
               "%s: the default (auto) was not used: %s" % (r.label, w))
    # The launcher passes the environment on: the recorder in the JVM says it, once.
    env = c.plain_env()
    env.update(NMTRACE_JAVA_WALK="bogus", NMTRACE_RATE=str(RATE))
    out = os.path.join(c.tmp, "l.%p.nmt")
    cmd = [c.launcher, "-o", out, "--"] + c.java_cmd(
        "WalkMix", 1, 1, "unsafe", jvm=["-Djava.library.path=" + os.path.join(c.build, "tests", "java")])
    p = c.run(cmd, env=env, timeout=180, what="nmtrace -- java WalkMix")
    nmtj.check(p.returncode == 0 and "done 1 1 unsafe" in p.stdout,
               "nmtrace -- java WalkMix: exit %d, stdout %r" % (p.returncode, p.stdout))
    check_said_once("launcher", p.stderr)


def case_seccomp(c):
    """A JVM under the seccomp filter of a hardened systemd service
    (SystemCallFilter=@system-service: any other system call kills the
    process; tests/robust/rb_seccomp.c): the recorder, the bridge reading
    HotSpot's layout and the walker make none outside the set. The JVM
    ends normally with its exit snapshot, the own walker is ready and takes
    the stacks, in default (auto) mode."""
    wrapper = os.path.join(c.build, "bin", "rb_seccomp")
    nmtj.check(os.path.exists(wrapper), "%s missing: build the rb_seccomp target" % wrapper)
    allow = seccomp_allow.allow_numbers()
    if allow is None:
        raise nmtj.Skip("no x86-64 system call table here")
    r = Run(c, "seccomp", "DeepStack", 40, 20000, walk=None, wrap=[wrapper, "exec"],
            env={"RB_ALLOW": allow}, expect="done 40")
    w = r.walk()
    print("%s: java.walk.ready %s, java.walk.* %s" % (
        r.label, r.counters.get("java.walk.ready"), w))
    nmtj.check(r.counters.get("java.walk.ready") == 1, "%s: the walker is not ready" % r.label)
    nmtj.check(r.counters.get("rec.libunwind_off") == 1,
               "%s: rec.libunwind_off is not 1 under the filter" % r.label)
    nmtj.check("seccomp filter" in r.stderr, "%s: nothing said about the filter" % r.label)
    nmtj.check(w["own"] >= MIN_CHECKED, "%s: the own walker took only %d stacks" % (
        r.label, w["own"]))


CASES = {"int": lambda c: case_mode(c, "int"), "c1": lambda c: case_mode(c, "c1"),
         "c2": lambda c: case_mode(c, "c2"), "tiered": lambda c: case_mode(c, "tiered"),
         "deep": case_deep, "inline": case_inline, "threads": case_threads, "auto": case_auto,
         "asgct": case_asgct, "bad_value": case_bad_value, "seccomp": case_seccomp}


def body(c):
    case = c.rest[c.rest.index("--case") + 1] if "--case" in c.rest else ""
    nmtj.check(case in CASES, "--case must be one of %s, not %r" % (", ".join(CASES), case))
    c.need_java()
    c.need_lib()
    lib = os.path.join(c.build, "tests", "java", "libnmtt_walk_jni.so")
    nmtj.check(os.path.exists(lib), "%s missing: build the nmtt_walk_jni target" % lib)
    c.scratch("walk_" + case)
    CASES[case](c)


nmtj.main("java_walk_" + (sys.argv[sys.argv.index("--case") + 1] if "--case" in sys.argv else "?"), body)
