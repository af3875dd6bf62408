"""`nmtrace attach PID` into a running JVM (AttachTarget), one case per run
(--case):

leak       the JVM leaks through JNI and keeps DirectByteBuffers before and
           during the attach; `attach --interval 1`, detached once the window
           below has leaked, names both leaks with their Java frames, and the
           growth between the first snapshot and the last before the
           detach's is within 15 % of what the program's own counters say
           for the same instants (System.nanoTime is CLOCK_MONOTONIC, the
           snapshots' clock, so a slow machine moves both alike; the detach
           puts the GOT entries back before it writes its own snapshot, and
           what leaks in between is counted but not recorded). Sampling:
           1000-byte JNI blocks at rate 4096 are each sampled with p = 0.217;
           over the window at least 8000 blocks leak (waited for), so the
           estimate's relative standard deviation, sqrt((1 - p) / (n p)), is
           2.1 % and 15 % is over 7 of them; the counter lines lag by at most
           one tick (20 blocks) at either end. Direct buffers of 64 KiB are
           sampled with p > 0.9999. --diagnose
           names the mappings the JVM had at the attach as their own cause
           (before-attach), not as growth no rule explains.
cycles     20 attach/detach cycles on one JVM: each gives a profile (one more
           at rate 1 TiB has no sample, and nmreport says why), the JVM's
           output is unchanged, no crash, and the last 10 cycles add under
           4 MiB to its RSS (a JVM whose heap is pre-touched; RSS read once it
           has settled, after cycle 10 and after cycle 20). The first cycles
           pay for what the first attach sets up once (some 6-7 MiB: not
           judged); over the last 10 a quiet or busy run adds under 1 MiB (the
           JVM's own drift), and an attach that left 1 MiB behind adds 10 MiB.
rate1      attaches at rate 1, 4096 and 1 again into one JVM, the sessions
           switching the recorder's tables between their two set-ups (at rate
           1 no address filter, every free recorded), each detached once at
           least 1500 blocks leaked between its first snapshot and a later
           one (waited for): each profile names the JNI leak with its Java
           frames, at rate 1 (every block recorded) its growth over that
           window is within 15 % of the program's count, and the JVM's
           output is unchanged.
jemalloc   the same JVM with libjemalloc.so.2 preloaded: the JNI leak is found.
preloaded  a JVM started with LD_PRELOAD=libnmtrace.so: refused, with the
           profile it is already recording to.
disabled   -XX:+DisableAttachMechanism: refused with the reason, and no
           signal reaches the JVM (its output is unchanged: no thread dump).
late       the JNI library is loaded only after the attach: the hooked dlopen
           patches it before System.loadLibrary returns, so its leak is found
           with its Java frames and every block counts: the estimate is within
           5 standard deviations of the program's count (30000 blocks at
           p = 0.217: 6500 samples, 1.1 % standard deviation), with no
           allowance for blocks missed while the writer had not looked yet;
           the program stops leaking before the detach (a line "pause").
errors     without a JVM: a process that is not a JVM, a pid that is gone, and
           bad options (--rate 0 and 2t, --depth 0 and 999, --interval 1.5s,
           ...) each get one line and a non-zero status (1, 1, 2).
depth      `attach --depth 4`, then an attach without --depth, then (with
           jcmd) `depth:4`, into one JVM: each profile's header and
           config.DEPTH state its own depth (the attach without --depth gets
           the default 64, not the earlier 4, and a last plain attach the
           default rate), and under depth 4 no stack has more than 5 native
           frames (the allocation function and 4 callers: capture takes
           depth + 1) nor more than 4 Java frames, and some stack has exactly
           4 (ByteBuffer.allocateDirect's stack has 5: main, allocateDirect,
           DirectByteBuffer.<init>, Unsafe.allocateMemory and
           allocateMemory0), while under the default depth some stack is
           deeper than that. jcmd `depth:0` is refused. Each session waits for
           program ticks, not time: each tick allocates a 64 KiB direct
           buffer, sampled with p > 0.9999 at rate 4096.
jcmd       `jcmd PID JVMTI.agent_load libnmtrace.so output:PATH` records like
           attach; a second load says "already attached"; `... detach` ends it.
           rate:, interval: and depth: take what the NMTRACE_* variables take
           (rate:2t is refused, rate:64k,interval:5m recorded as such, and
           interval:AUTO as the recorder's own cadence).
detach_names  a method first met by the detach's own last rounds is named in
           the session's profile: once a snapshot shows the bridge attached,
           the program leaks one 4 MiB block through a method it never called
           before (AttachTarget.leakOnce) and the test detaches at once; the
           block's stack names that method (the detach names what its last
           rounds found on its own thread, which is the JVM's, before the
           final snapshot; before, such names came after it and were lost,
           showing java:<serial>). It fails on the old order where the
           bridge's thread lags: with its naming delayed 3 s, every Java
           frame of the session was unnamed; on a quiet machine the bridge's
           thread names the method before the detach comes, and it passes.
early      the attach comes while the JVM is still starting, in the JVMTI
           start phase, where JVMTI hands out no environment: the bridge's
           start waits for the live phase on its own thread instead of
           failing, the attach answers at once and says so, a snapshot
           (--interval 1) shows the bridge attached (java.state 3), and the
           JNI leak, which the program starts only then (a line "start"), has
           its Java frames: however long the bridge's thread takes to see the
           JVM live, no block is leaked before (those samples would have no
           Java frames: java.err.not_attached), and the detach waits until the
           profile names NativeLib.leak (a detach names what its own last
           rounds found, detach_names, but not a batch the bridge's thread
           has held for over 200 ms). The
           window is made deterministic by an agent (early_gate.c, -agentpath)
           that holds the JVM in its VMStart callback, after HotSpot started
           its Signal Dispatcher and before the live phase, until the test
           writes "go" on its stdin, which it does once `nmtrace attach` has
           returned; -XX:-UsePerfData keeps the client from reading "still
           starting" in the perf data (by chance, an attach right after the
           JVM installs its SIGQUIT handler finds no perf data yet, and gets
           into the same window).
early_jcmd  the same early attach by `jcmd PID JVMTI.agent_load`, which prints
           only a return code: the note that Java frames wait for the JVM is
           said on the JVM's stderr instead, in one line, and the JNI leak,
           started once the bridge is attached as in early, has its Java
           frames.
early_again  the same early attach, detached before the JVM is live; the
           bridge's start completes after the detach, between sessions (and
           replays the JVM's code then), or on a slow machine during the next
           session. The next session's profile describes the JVM's code once,
           as the session after it does (JCODE records of kind 3), and its JNI
           leak, started once a snapshot shows the bridge attached as in
           early, has Java frames.
starting   a process that looks like a HotSpot JVM in its start-up without
           perf data (fake_starting_jvm.py: libjvm.so mapped, SIGQUIT caught,
           a thread named "VM Thread" but no "Service Thread" yet) is refused
           as still starting, and gets no signal: a SIGQUIT before HotSpot's
           attach mechanism has started can print a thread dump on the JVM's
           stdout. Once it has a "Service Thread" the attach goes ahead and
           signals it.
"""
import glob
import json
import math
import os
import re
import subprocess
import sys
import time

import nmtj

JEMALLOC = ("/usr/lib/x86_64-linux-gnu/libjemalloc.so.2", "/usr/lib/aarch64-linux-gnu/libjemalloc.so.2",
            "/usr/lib/libjemalloc.so.2", "/usr/local/lib/libjemalloc.so.2")
WAIT_S = 60  # upper bound for any condition a test waits for


class Target:
    """AttachTarget running until quit(); its counters file is the truth."""

    def __init__(self, c, blocks, direct, tick_ms, keep=0, jvm=(), env=None, gated=False):
        self.counters = os.path.join(c.tmp, "counters.txt")
        cp = c.test_classes + os.pathsep + c.ex_classes
        cmd = [c.java, "-XX:ErrorFile=%s/hs_err_%%p.log" % c.tmp, "-cp", cp,
               "-Djava.library.path=" + c.ex_lib] + list(jvm) + [
            "AttachTarget", self.counters, str(blocks), "1000", str(direct), str(tick_ms), str(keep)]
        self.p = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                  text=True, cwd=c.tmp, env=env if env is not None else c.plain_env())
        self.pid = self.p.pid
        # gated: the early gate agent holds the JVM in its start-up (release()).
        self.expect_line("held\n" if gated else "ready\n")

    def expect_line(self, want):
        first = self.p.stdout.readline()
        if first != want:
            self.p.kill()
            nmtj.fail("AttachTarget did not start (%r expected): %r %s" % (
                want, first, self.p.stderr.read()[-500:]))

    def send(self, line):
        self.p.stdin.write(line + "\n")
        self.p.stdin.flush()

    def release(self):
        """Lets a JVM held by the early gate finish starting."""
        self.send("go")
        self.expect_line("ready\n")

    def ticks(self):
        try:
            with open(self.counters) as f:
                return [tuple(int(x) for x in line.split()) for line in f if line.count(" ") == 2]
        except OSError:
            return []

    def wait_ticks(self, n):
        self.wait_for(lambda: len(self.ticks()) >= n, "AttachTarget made fewer than %d ticks" % n)

    def wait_for(self, cond, what):
        """Returns cond()'s first true value, asked every 50 ms for up to
        WAIT_S while the program runs; what says what did not happen."""
        end = time.monotonic() + WAIT_S
        while True:
            v = cond()
            if v:
                return v
            nmtj.check(time.monotonic() < end, "%s in %d s" % (what, WAIT_S))
            nmtj.check(self.p.poll() is None, "AttachTarget ended early")
            time.sleep(0.05)

    def rss_kib(self):
        with open("/proc/%d/status" % self.pid) as f:
            return int(re.search(r"VmRSS:\s+(\d+)", f.read()).group(1))

    def quit(self):
        try:
            out, err = self.p.communicate("quit\n", timeout=WAIT_S)
        except subprocess.TimeoutExpired:
            self.p.kill()
            nmtj.fail("AttachTarget did not end after quit (hang?)")
        return "ready\n" + out, err, self.p.returncode

    def kill(self):
        if self.p.poll() is None:
            self.p.kill()
            self.p.wait()


def attach(c, *args, expect_ok=True):
    p = c.run([c.launcher, "attach"] + [str(a) for a in args], timeout=WAIT_S + 30)
    if expect_ok:
        nmtj.check(p.returncode == 0, "nmtrace attach failed (exit %d): %s" % (p.returncode, p.stderr.strip()))
    return p


def detach(c, t, prof):
    d = c.run([c.launcher, "detach", str(t.pid)], timeout=WAIT_S)
    nmtj.check(d.returncode == 0 and d.stdout.strip() == prof,
               "detach failed or named another profile: %r %r" % (d.stdout, d.stderr))
    return d


def record_growth(c, t, prof, jni_bytes):
    """Lets the session writing prof record until, between its first
    snapshot and a later one, the program has leaked jni_bytes (its counter
    lines say so), however slowly it ticks; then detaches."""
    def leaked():
        snaps, ticks = nmtj.snapshots_so_far(prof), t.ticks()
        # A counter line after the first snapshot: every line before it is
        # written. One before the last may not be yet: that only waits longer.
        if len(snaps) < 2 or not ticks or ticks[-1][0] <= snaps[0].monotonic:
            return False
        return value_at(ticks, snaps[-1].monotonic, 1) - value_at(ticks, snaps[0].monotonic, 1) >= jni_bytes
    t.wait_for(leaked, "%s: fewer than %d JNI bytes leaked between two snapshots" % (prof, jni_bytes))
    detach(c, t, prof)


def window(prof):
    """The first snapshot of prof and the last before the detach's (reason
    1, exit): the detach puts the GOT entries back before it writes its
    snapshot, so blocks leaked in between are counted by the program and
    not recorded, as many as the writer's stop takes ticks."""
    snaps = [s for s in nmtj.nmtprof.Profile(prof).snapshots if s.reason != 1]
    nmtj.check(len(snaps) >= 2, "%s: fewer than 2 snapshots before the detach's" % prof)
    return snaps[0], snaps[-1]


def java_attached(t, prof):
    """Waits for a snapshot of prof in which the JVM bridge is attached
    (java.state 3): from then on sampled stacks get Java frames."""
    def state():
        snaps = nmtj.snapshots_so_far(prof)
        st = snaps[-1].counters.get("java.state") if snaps else None
        nmtj.check(st != 4, "the JVM bridge failed to start (java.state 4)")
        return st == 3
    t.wait_for(state, "no snapshot of %s shows the JVM bridge attached" % prof)


def finished_ok(c, t, what):
    """Quits the target and checks that nothing of its own changed; returns
    its stderr."""
    out, err, rc = t.quit()
    c.no_crash_files()
    left = glob.glob(os.path.join(c.tmp, ".attach_pid*")) + glob.glob("/tmp/nmtrace-attach-%d-*" % t.pid)
    nmtj.check(not left, "%s: attach or status files were left behind: %s" % (what, left))
    nmtj.check(rc == 0 and out == "ready\ndone\n",
               "%s: the JVM's output or status changed: exit %d, stdout %r, stderr %r" % (what, rc, out, err[-300:]))
    return err


def value_at(ticks, mono_ns, col):
    """The program's counter col at the instant mono_ns (last tick before)."""
    before = [t for t in ticks if t[0] <= mono_ns]
    nmtj.check(before, "no counter line before the snapshot at %d" % mono_ns)
    return before[-1][col]


def site_growth(c, prof, base_seq, seq, func_re):
    js = c.report_json("--base-snapshot", base_seq, "--snapshot", seq, prof)
    return sum(s["values"]["inuse_space"] for s in nmtj.stacks_with_frame(js, func_re))


def java_named(c, prof, func_re, java_re):
    js = c.report_json(prof)
    stacks = [s for s in nmtj.stacks_with_frame(js, func_re) if s["values"]["inuse_space"] > 0]
    nmtj.check(stacks, "no live stack with %s" % func_re)
    named = [s for s in stacks if any(f["class"] == "java" and re.search(java_re, f["function"])
                                      for f in s["frames"])]
    nmtj.check(named, "no %s stack has the Java frame %s: %s" % (
        func_re, java_re, [f["function"] for f in stacks[0]["frames"]]))
    weight = sum(s["values"]["inuse_space"] for s in named) / sum(s["values"]["inuse_space"] for s in stacks)
    print("%s: %.0f %% of live bytes under %s" % (func_re, 100 * weight, java_re))
    nmtj.check(weight > 0.9, "only %.0f %% of %s bytes have Java frames" % (100 * weight, func_re))


LEAK_BLOCKS = 8000  # 1000-byte JNI blocks waited for between the first and the last snapshot


def case_leak(c):
    t = Target(c, blocks=20, direct=65536, tick_ms=10)
    try:
        t.wait_ticks(50)  # it has been leaking before the attach
        p = attach(c, "--interval", 1, "--rate", 4096, t.pid)
        prof = p.stdout.strip().splitlines()[-1]
        nmtj.check(os.path.isabs(prof) and os.path.exists(prof), "attach printed no profile path: %r" % p.stdout)
        record_growth(c, t, prof, LEAK_BLOCKS * 1000)
        t.wait_ticks(len(t.ticks()) + 1)
        finished_ok(c, t, "leak")
    finally:
        t.kill()
    info = nmtj.read_profile(prof)
    nmtj.check(info["snapshots"] >= 3, "%d snapshots: 2 at --interval 1 were waited for, and the detach "
               "writes one" % info["snapshots"])
    first, last = window(prof)
    ticks = t.ticks()
    m0, m1 = first.monotonic, last.monotonic
    truth_jni = value_at(ticks, m1, 1) - value_at(ticks, m0, 1)
    truth_direct = value_at(ticks, m1, 2) - value_at(ticks, m0, 2)
    nmtj.check(truth_jni >= LEAK_BLOCKS * 1000, "only %d JNI bytes leaked in the window: too few to judge" % truth_jni)
    got_jni = site_growth(c, prof, first.seq, last.seq, r"^nmex_session_open$")
    got_direct = site_growth(c, prof, first.seq, last.seq, r"^Unsafe_AllocateMemory0$")
    dt = (m1 - m0) / 1e9
    print("window %.2f s: JNI %.0f B/s (truth %.0f), direct %.0f B/s (truth %.0f)" % (
        dt, got_jni / dt, truth_jni / dt, got_direct / dt, truth_direct / dt))
    nmtj.check(nmtj.within(got_jni, truth_jni, 0.15), "JNI growth rate off by more than 15 %")
    nmtj.check(nmtj.within(got_direct, truth_direct, 0.15), "direct buffer growth rate off by more than 15 %")
    java_named(c, prof, r"^nmex_session_open$", r"^NativeLib\.leak")
    # The mappings the JVM had at the attach are one finding of their own,
    # not growth nobody explains.
    d = json.loads(c.report("--diagnose", "--json", prof))
    causes = [(f["cause"], f["site"]) for p_ in d["profiles"] for f in p_["findings"]]
    owners = [f["owner"] for p_ in d["profiles"] for f in p_["findings"] if f["cause"] == "before-attach"]
    nmtj.check(all(o == "not recorded: mapped before the attach" for o in owners),
               "a before-attach finding names an owner it cannot know: %s" % owners)
    print("diagnose: %s" % causes)
    nmtj.check(any(cause == "before-attach" for cause, _ in causes),
               "no before-attach finding for the mappings made before the attach: %s" % causes)
    nmtj.check(not any("mapped_before_attach" in site and cause != "before-attach" for cause, site in causes),
               "the attach's baseline mappings are named another cause: %s" % causes)
    java_named(c, prof, r"^Unsafe_AllocateMemory0$", r"AttachTarget\.main")
    growth = c.report("--growth", prof)
    nmtj.check(re.search(r"leak-suspect\s+nmex_session_open", growth), "--growth does not flag the JNI leak")
    stats = c.report("--stats", prof)
    nmtj.check("attach.coverage" in stats and "since-attach" in stats, "--stats shows no attach coverage")


def settled_rss(t):
    """RSS once two readings 0.5 s apart differ by under 256 KiB."""
    end = time.monotonic() + WAIT_S
    last = t.rss_kib()
    while True:
        time.sleep(0.5)
        now = t.rss_kib()
        if abs(now - last) < 256:
            return now
        nmtj.check(time.monotonic() < end, "the JVM's RSS never settled (last %d KiB)" % now)
        last = now


CYCLES = 20
# What cycles CYCLES/2+1 to CYCLES may add to the JVM's settled RSS: a quiet
# or busy run adds under 1 MiB (the JVM's own drift: JIT, arenas), an attach
# that leaves 1 MiB behind 10 MiB: a leak of over 410 KiB a cycle fails.
CYCLES_GROWTH_KIB = 4 * 1024


def case_cycles(c):
    t = Target(c, blocks=0, direct=65536, tick_ms=5, keep=16,
               jvm=("-Xms64m", "-Xmx64m", "-XX:+AlwaysPreTouch"))
    try:
        t.wait_ticks(100)
        rss = [settled_rss(t)]
        for i in range(1, CYCLES + 1):
            p = attach(c, "--duration", 0, "--rate", 4096, t.pid)
            prof = p.stdout.strip()
            nmtj.check(os.path.exists(prof), "cycle %d: no profile %r" % (i, prof))
            nmtj.check(nmtj.read_profile(prof)["snapshots"] >= 1, "cycle %d: no complete snapshot" % i)
            if i in (CYCLES // 2, CYCLES):
                rss.append(settled_rss(t))
        # A profile without a sample says why (one sample per TiB: none).
        empty = attach(c, "--duration", 0, "--rate", "1t", t.pid).stdout.strip()
        text = c.report(empty)
        nmtj.check("Empty: no malloc-family allocation was sampled" in text and "since the attach" in text,
                   "an empty attach profile does not say why: %r" % text[:300])
        before, half, after = rss
        late = CYCLES - CYCLES // 2
        print("settled RSS before the first attach %d KiB, after cycle %d %d KiB (%+d), after cycle %d %d KiB "
              "(%+d: %+.0f KiB a cycle; bound %d KiB)" % (before, CYCLES // 2, half, half - before, CYCLES, after,
                                                          after - half, (after - half) / late, CYCLES_GROWTH_KIB))
        # The first cycles also pay what the first attach sets up once (the
        # recorder's own memory, the JVM's attach machinery): only the later
        # ones show what each cycle leaves behind.
        nmtj.check(after - half < CYCLES_GROWTH_KIB,
                   "the JVM's settled RSS grew by %d KiB over cycles %d to %d (%.0f KiB a cycle): a detach "
                   "leaves behind what its attach set up" % (after - half, CYCLES // 2 + 1, CYCLES,
                                                              (after - half) / late))
        finished_ok(c, t, "cycles")
    finally:
        t.kill()


RATE1_BLOCKS = 1500  # 1000-byte JNI blocks waited for in each session of case rate1


def case_rate1(c):
    """Attaches at rate 1, then at 4096, then at 1 again, into one JVM."""
    t = Target(c, blocks=20, direct=0, tick_ms=10)
    try:
        t.wait_ticks(50)
        profs = []
        for rate in (1, 4096, 1):
            p = attach(c, "--interval", 1, "--rate", rate, t.pid)
            prof = p.stdout.strip().splitlines()[-1]
            record_growth(c, t, prof, RATE1_BLOCKS * 1000)
            profs.append((rate, prof))
        t.wait_ticks(len(t.ticks()) + 1)
        finished_ok(c, t, "rate1")
    finally:
        t.kill()
    ticks = t.ticks()
    for rate, prof in profs:
        info = nmtj.read_profile(prof)
        nmtj.check(info["snapshots"] >= 3, "rate %d: %d snapshots: 2 at --interval 1 were waited for, and the "
                   "detach writes one" % (rate, info["snapshots"]))
        java_named(c, prof, r"^nmex_session_open$", r"^NativeLib\.leak")
        if rate != 1:
            continue
        # Every block recorded: the growth between the first snapshot and
        # the last before the detach's is the program's own count between
        # them, but for where the instants fall: a counter line comes after
        # its tick's 20 blocks, and what a snapshot holds ends a little
        # before its time stamp. 15 % of RATE1_BLOCKS is 225 blocks, some
        # 110 ms of ticks.
        first, last = window(prof)
        truth = value_at(ticks, last.monotonic, 1) - value_at(ticks, first.monotonic, 1)
        got = site_growth(c, prof, first.seq, last.seq, r"^nmex_session_open$")
        print("rate 1: JNI growth %d bytes, truth %d" % (got, truth))
        nmtj.check(truth >= RATE1_BLOCKS * 1000, "only %d JNI bytes leaked in the window: too few to judge" % truth)
        nmtj.check(nmtj.within(got, truth, 0.15), "rate 1: JNI growth %d, truth %d" % (got, truth))


def case_jemalloc(c):
    found = [j for j in JEMALLOC if os.path.exists(j)]
    if not found:
        nmtj.skip("libjemalloc.so.2 is not installed (Debian: libjemalloc2)")
    env = c.plain_env()
    env["LD_PRELOAD"] = found[0]
    t = Target(c, blocks=20, direct=0, tick_ms=10, env=env)
    try:
        t.wait_ticks(20)
        p = attach(c, "--duration", 2, "--rate", 4096, t.pid)
        prof = p.stdout.strip()
        finished_ok(c, t, "jemalloc")
    finally:
        t.kill()
    java_named(c, prof, r"^nmex_session_open$", r"^NativeLib\.leak")


def case_preloaded(c):
    t = Target(c, blocks=1, direct=0, tick_ms=10, env=c.recorded_env())
    try:
        p = attach(c, "--duration", 1, t.pid, expect_ok=False)
        nmtj.check(p.returncode != 0, "attach to a recording JVM succeeded")
        want = os.path.join(c.tmp, "p.%d.nmt" % t.pid)
        nmtj.check(len(p.stderr.strip().splitlines()) == 1 and "already recording to " + want in p.stderr,
                   "not one line naming %s: %r" % (want, p.stderr))
        finished_ok(c, t, "preloaded")
    finally:
        t.kill()


def case_disabled(c):
    t = Target(c, blocks=1, direct=0, tick_ms=10, jvm=("-XX:+DisableAttachMechanism",))
    try:
        p = attach(c, "--duration", 1, t.pid, expect_ok=False)
        nmtj.check(p.returncode != 0 and "DisableAttachMechanism" in p.stderr,
                   "not refused with the reason: exit %d %r" % (p.returncode, p.stderr))
        finished_ok(c, t, "disabled")
    finally:
        t.kill()


def jcmd(c, pid, *args):
    p = c.run([c.jcmd, str(pid), "JVMTI.agent_load", c.lib] + list(args), timeout=WAIT_S)
    nmtj.check(p.returncode == 0, "jcmd failed: %s" % p.stderr)
    m = re.search(r"return code: (-?\d+)", p.stdout)
    nmtj.check(m, "jcmd printed no return code: %r" % p.stdout)
    return int(m.group(1))


LATE_BLOCKS = 100  # 1000-byte blocks leaked per 10 ms tick once started
LATE_TOTAL = 30000  # blocks waited for


def case_late(c):
    t = Target(c, blocks=-LATE_BLOCKS, direct=0, tick_ms=10)
    try:
        t.wait_ticks(10)
        p = attach(c, "--rate", 4096, t.pid)
        prof = p.stdout.strip()
        t.p.stdin.write("start\n")
        t.p.stdin.flush()
        end = time.monotonic() + WAIT_S
        while not t.ticks() or t.ticks()[-1][1] < LATE_TOTAL * 1000:
            nmtj.check(time.monotonic() < end, "the late library leaked too little in %d s" % WAIT_S)
            time.sleep(0.05)
        # The leak stops before the detach, which puts the GOT entries back
        # well before it answers: blocks leaked in between would be counted
        # by the program and not recorded.
        t.p.stdin.write("pause\n")
        t.p.stdin.flush()
        while len(t.ticks()) < 2 or t.ticks()[-1][1] != t.ticks()[-2][1]:
            nmtj.check(time.monotonic() < end, "the late library did not stop leaking in %d s" % WAIT_S)
            nmtj.check(t.p.poll() is None, "AttachTarget ended early")
            time.sleep(0.05)
        truth = t.ticks()[-1][1]
        d = c.run([c.launcher, "detach", str(t.pid)], timeout=WAIT_S)
        nmtj.check(d.returncode == 0 and d.stdout.strip() == prof,
                   "detach failed or named another profile: %r %r" % (d.stdout, d.stderr))
        finished_ok(c, t, "late")
    finally:
        t.kill()
    java_named(c, prof, r"^nmex_session_open$", r"^NativeLib\.leak")
    got = sum(s["values"]["inuse_space"] for s in nmtj.stacks_with_frame(c.report_json(prof), r"^nmex_session_open$"))
    # The library is loaded by the first NativeLib.leak, after "start": the
    # hooked dlopen patches it before System.loadLibrary returns, so every
    # block in truth was allocated while hooked, whatever the machine's
    # load. Only sampling moves the estimate: each block is sampled with
    # p = 1 - exp(-1000/4096), and the estimate's relative standard deviation
    # is sqrt((1 - p) / (n p)) (1.1 % at 30000 blocks); 5 of them bound it
    # both ways. The leak had stopped before the detach: truth is exact.
    p = 1 - math.exp(-1000 / 4096)
    sd = math.sqrt((1 - p) / (truth / 1000 * p))
    print("late library: %d live bytes, %d leaked while attached (+/- %.1f %%)" % (got, truth, 100 * sd))
    nmtj.check(got >= truth * (1 - 5 * sd),
               "late library's %d live bytes are more than 5 standard deviations below %d: blocks "
               "allocated after System.loadLibrary returned were missed" % (got, truth))
    nmtj.check(got <= truth * (1 + 5 * sd),
               "late library's %d live bytes are more than 5 standard deviations above %d" % (got, truth))


def case_jcmd(c):
    if not c.jcmd:
        nmtj.skip("no jcmd next to java")
    prof = os.path.join(c.tmp, "jcmd.nmt")
    prof2 = os.path.join(c.tmp, "jcmd_auto.nmt")
    t = Target(c, blocks=20, direct=0, tick_ms=10)
    try:
        t.wait_ticks(20)
        # rate, interval and depth take what NMTRACE_RATE, NMTRACE_INTERVAL and
        # NMTRACE_DEPTH take: units, and their ranges.
        nmtj.check(jcmd(c, t.pid, "rate:2t") != 0, "jcmd rate:2t (NMTRACE_RATE stops at 1t) was not refused")
        nmtj.check(jcmd(c, t.pid, "output:" + prof + ",rate:64k,interval:5m") == 0, "the agent refused to start")
        t.wait_ticks(len(t.ticks()) + 100)
        nmtj.check(jcmd(c, t.pid) != 0, "a second load was not refused")
        nmtj.check(jcmd(c, t.pid, "detach") == 0, "detach was refused")
        # interval:auto (any case) is the recorder's own cadence, as NMTRACE_INTERVAL=auto.
        nmtj.check(jcmd(c, t.pid, "output:" + prof2 + ",interval:AUTO") == 0, "interval:AUTO was refused")
        t.wait_ticks(len(t.ticks()) + 20)
        nmtj.check(jcmd(c, t.pid, "detach") == 0, "the second detach was refused")
        out, err, rc = t.quit()
        c.no_crash_files()
        nmtj.check(rc == 0 and out == "ready\ndone\n", "the JVM's output changed: %r" % out)
        nmtj.check(err.count("already attached") == 1, "the refusal was not said once: %r" % err)
        nmtj.check(err.count("bad attach option 'rate:2t'") == 1, "rate:2t's refusal was not said once: %r" % err)
    finally:
        t.kill()
    info = nmtj.nmtprof.Profile(prof).info
    nmtj.check(info.get("config.RATE") == "65536" and info.get("config.INTERVAL") == "300",
               "rate:64k,interval:5m recorded at config.RATE %s, config.INTERVAL %s" % (
                   info.get("config.RATE"), info.get("config.INTERVAL")))
    auto = nmtj.nmtprof.Profile(prof2).info.get("config.INTERVAL")
    nmtj.check(auto == "auto", "interval:AUTO recorded as config.INTERVAL %s" % auto)
    java_named(c, prof, r"^nmex_session_open$", r"^NativeLib\.leak")


def java_counters(c, prof):
    """The java.* counters of the last snapshot (nmreport --stats)."""
    stats = c.report("--stats", prof)
    return {m.group(1): int(m.group(2)) for m in re.finditer(r"^\s*(java\.\S+)\s+(-?\d+)", stats, re.M)}


EARLY_BLOCKS = 20  # 1000-byte JNI blocks a tick, leaked in the early cases once the bridge is attached


def method_named(t, prof, method):
    """Waits until a JMETHOD record in prof names method. The bridge's
    thread names a method shortly after a sampled stack first has it, and
    the writer puts the name into the profile at its next snapshot."""
    def named():
        p = nmtj.profile_so_far(prof)
        return p is not None and method in p.methods.values()
    t.wait_for(named, "%s: no JMETHOD record names %s" % (prof, method))


def leak_once_attached(t, prof, ticks=50):
    """The early cases' leak (AttachTarget with blocks < 0): started once a
    snapshot of prof shows the JVM bridge attached (a second "start" changes
    nothing), then waited for until `ticks` ticks' worth more has leaked and
    the profile names NativeLib.leak. However late the bridge's own thread
    sees the JVM live, no block leaked in this session is sampled before
    Java frames can be had, and the detach comes once the name is in the
    profile (a detach names what its own last rounds found, but a batch the
    bridge's thread has held for over 200 ms would still be lost)."""
    java_attached(t, prof)
    leaked = t.wait_for(t.ticks, "AttachTarget made no tick")[-1][1]
    t.send("start")
    want = leaked + ticks * EARLY_BLOCKS * 1000
    t.wait_for(lambda: t.ticks()[-1][1] >= want, "the program leaked fewer than %d JNI bytes" % want)
    method_named(t, prof, "NativeLib.leak")


def case_detach_names(c):
    t = Target(c, blocks=1, direct=0, tick_ms=10)
    try:
        t.wait_ticks(5)  # the JNI library is loaded before the attach
        prof = attach(c, "--interval", 1, "--rate", 4096, t.pid).stdout.strip().splitlines()[-1]
        java_attached(t, prof)
        t.send("once")

        def once_logged():
            with open(t.counters) as f:
                return any(line.startswith("once ") for line in f)
        t.wait_for(once_logged, "AttachTarget did not log its once block")
        detach(c, t, prof)
        finished_ok(c, t, "detach_names")
    finally:
        t.kill()
    js = c.report_json(prof)
    stacks = [s for s in nmtj.stacks_with_frame(js, r"^nmex_session_open$") if s["values"]["inuse_space"] >= 4 << 20]
    nmtj.check(stacks, "no live stack of 4 MiB or more under nmex_session_open: the once block was not recorded")
    for s in stacks:
        java = [f["function"] for f in s["frames"] if f["class"] == "java"]
        print("the once block's Java frames: %s" % java)
        nmtj.check(any(re.search(r"^AttachTarget\.leakOnce", f) for f in java) and
                   not any(f.startswith("java:") for f in java),
                   "the once block's Java frames are not all named: %s" % java)


def gated_target(c):
    """The early cases' AttachTarget: held by the early gate agent in the
    JVMTI start phase until release(), without perf data, leaking
    EARLY_BLOCKS a tick once told "start" (leak_once_attached)."""
    gate = os.path.join(c.build, "tests", "java", "libnmtt_early_gate.so")
    nmtj.check(os.path.exists(gate), "%s missing: build the nmtt_early_gate target" % gate)
    return Target(c, blocks=-EARLY_BLOCKS, direct=0, tick_ms=10, jvm=("-XX:-UsePerfData", "-agentpath:" + gate),
                  gated=True)


def case_early(c):
    t = gated_target(c)
    try:
        # The JVM is in its VMStart callback until release(): the attach is
        # served in the start phase, whatever the machine's load.
        p = attach(c, "--rate", 4096, "--interval", 1, t.pid)
        prof = p.stdout.strip()
        t.release()
        leak_once_attached(t, prof)
        d = detach(c, t, prof)
        nmtj.check("JVM bridge" not in d.stderr, "the detach warned about the bridge: %r" % d.stderr)
        finished_ok(c, t, "early")
    finally:
        t.kill()
    js = java_counters(c, prof)
    print("java counters: %s" % {k: v for k, v in js.items() if not k.startswith("java.err.") or v})
    nmtj.check(js.get("java.err.bridge_failed", 0) == 0 and js.get("java.state") != 4,
               "the bridge failed to start (java.state %s, java.err.bridge_failed %s): an attach "
               "during the JVM's start-up lost its Java frames" % (
                   js.get("java.state"), js.get("java.err.bridge_failed")))
    nmtj.check(js.get("java.live_wait_ns", 0) > 0,
               "java.live_wait_ns is %s: the bridge did not wait for the live phase, so the attach "
               "was not served in the start phase the test set up" % js.get("java.live_wait_ns"))
    nmtj.check(js.get("java.asgct") == 1 and js.get("java.classes", 0) > 0 and js.get("java.stacks", 0) > 0,
               "no Java stacks after an early attach: %s" % js)
    java_named(c, prof, r"^nmex_session_open$", r"^NativeLib\.leak")
    nmtj.check(re.search(r"JVM bridge: the JVM is still starting", p.stderr),
               "nmtrace attach did not say that Java frames wait for the JVM: %r" % p.stderr)


def case_early_jcmd(c):
    if not c.jcmd:
        nmtj.skip("no jcmd next to java")
    prof = os.path.join(c.tmp, "early_jcmd.nmt")
    t = gated_target(c)
    try:
        nmtj.check(jcmd(c, t.pid, "output:" + prof + ",rate:4096,interval:1") == 0, "the agent refused to start")
        t.release()
        leak_once_attached(t, prof)
        nmtj.check(jcmd(c, t.pid, "detach") == 0, "detach was refused")
        err = finished_ok(c, t, "early_jcmd")
    finally:
        t.kill()
    said = [line for line in err.splitlines() if line.startswith("nmtrace attach:")]
    print("said on the JVM's stderr: %r" % said)
    nmtj.check(said == ["nmtrace attach: JVM bridge: the JVM is still starting: Java frames are "
                        "recorded once it has started"],
               "jcmd's early attach did not say, in one line on the JVM's stderr, that Java frames "
               "wait for the JVM: %r" % said)
    js = java_counters(c, prof)
    nmtj.check(js.get("java.live_wait_ns", 0) > 0,
               "java.live_wait_ns is %s: the attach was not served in the start phase the test set up"
               % js.get("java.live_wait_ns"))
    java_named(c, prof, r"^nmex_session_open$", r"^NativeLib\.leak")


def case_early_again(c):
    t = gated_target(c)

    def session(name):
        prof = attach(c, "--rate", 4096, "--interval", 1, "--output", name, t.pid).stdout.strip()
        leak_once_attached(t, prof, ticks=20)
        detach(c, t, prof)
        return prof

    try:
        # A session that ends while the bridge's start still waits for the
        # JVM to be live; the start completes between sessions.
        attach(c, "--rate", 4096, "--output", "waited.nmt", t.pid)
        d = c.run([c.launcher, "detach", str(t.pid)], timeout=WAIT_S)
        nmtj.check(d.returncode == 0, "detach of the waiting session failed: %r" % d.stderr)
        t.release()
        t.wait_ticks(50)
        again, later = session("again.nmt"), session("later.nmt")
        finished_ok(c, t, "early_again")
    finally:
        t.kill()
    kinds = {name: nmtj.nmtprof.Profile(prof).jcode_kinds for name, prof in (("again", again), ("later", later))}
    print("JCODE records by kind: %s" % kinds)
    # Every session replays the JVM's generated code once: the session after
    # the wait describes it no more often than the one after it.
    nmtj.check(kinds["again"].get(3, 0) > 0, "the session after the wait has no JVM code records")
    nmtj.check(kinds["again"].get(3, 0) <= kinds["later"].get(3, 0) * 1.1,
               "the session after a wait that ended between sessions describes the JVM's code twice: %s" % kinds)
    java_named(c, again, r"^nmex_session_open$", r"^NativeLib\.leak")


def case_starting(c):
    fake = subprocess.Popen([sys.executable, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                                          "fake_starting_jvm.py"), c.tmp],
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        nmtj.check(fake.stdout.readline() == "ready\n", "the fake JVM did not start")
        one_line_fail(attach(c, fake.pid, expect_ok=False), 1, "still starting")
        nmtj.check(fake.poll() is None, "the attach signalled a JVM still starting (it exited: %s)" % fake.poll())
        fake.stdin.write("service\n")
        fake.stdin.flush()
        nmtj.check(fake.stdout.readline() == "named\n", "the fake JVM did not name its Service Thread")
        client = subprocess.Popen([c.launcher, "attach", str(fake.pid)], stdout=subprocess.PIPE,
                                  stderr=subprocess.PIPE, text=True)
        got = fake.stdout.readline()
        fake.wait(timeout=WAIT_S)  # reaped: the client sees the process gone
        out, err = client.communicate(timeout=WAIT_S)
        nmtj.check(got == "SIGQUIT\n", "a JVM past its attach start got no SIGQUIT: %r, client %r" % (got, err))
        nmtj.check(client.returncode != 0, "the attach into a fake JVM succeeded: %r" % out)
    finally:
        if fake.poll() is None:
            fake.kill()
            fake.wait()


def one_line_fail(p, status, words):
    lines = p.stderr.strip().splitlines()
    nmtj.check(p.returncode == status and len(lines) == 1 and words in lines[0],
               "expected exit %d and one line with %r, got %d %r" % (status, words, p.returncode, p.stderr))


def case_errors(c):
    sleeper = subprocess.Popen(["sleep", "60"])
    try:
        one_line_fail(attach(c, sleeper.pid, expect_ok=False), 1, "not a JVM")
    finally:
        sleeper.kill()
        sleeper.wait()
    one_line_fail(attach(c, sleeper.pid, expect_ok=False), 1, "no process")
    one_line_fail(attach(c, "--rate", "0", "1", expect_ok=False), 2, "--rate")
    one_line_fail(attach(c, "--depth", "0", "1", expect_ok=False), 2, "--depth wants")
    one_line_fail(attach(c, "--depth", "999", "1", expect_ok=False), 2, "--depth wants")
    one_line_fail(attach(c, "--rate", "2t", "1", expect_ok=False), 2, "--rate wants what NMTRACE_RATE takes")
    one_line_fail(attach(c, "--interval", "1.5s", "1", expect_ok=False), 2, "--interval wants")
    one_line_fail(attach(c, "--duration", "soon", "1", expect_ok=False), 2, "--duration")
    one_line_fail(attach(c, "12x", expect_ok=False), 2, "PID")
    d = c.run([c.launcher, "detach", "--rate", "1", "1"])
    one_line_fail(d, 2, "detach")


DEPTH = 4


def frame_counts(prof):
    """The header's depth, config.DEPTH, and (native, Java) frames of every
    stack in the profile (raw STACK records: Java frames have bit 63 set)."""
    p = nmtj.nmtprof.Profile(prof)
    counts = []
    for frames in p.stacks.values():
        java = sum(1 for f in frames if f >> 63)
        counts.append((len(frames) - java, java))
    return p.header, p.info.get("config.DEPTH"), counts


def depth_session(c, t, start, stop):
    """One attach session: start() attaches and returns the profile, then 20
    program ticks (20 direct buffers, each sampled), then stop() detaches."""
    prof = start()
    t.wait_ticks(len(t.ticks()) + 20)
    stop()
    return prof


def case_depth(c):
    t = Target(c, blocks=20, direct=65536, tick_ms=10)
    profs = []
    try:
        t.wait_ticks(10)

        def detach():
            d = c.run([c.launcher, "detach", str(t.pid)], timeout=WAIT_S)
            nmtj.check(d.returncode == 0, "detach failed: %r" % d.stderr)

        profs.append(("--depth %d" % DEPTH, DEPTH, depth_session(
            c, t, lambda: attach(c, "--depth", DEPTH, "--rate", 4096, "--output", "d4.nmt", t.pid).stdout.strip(),
            detach)))
        # Without --depth: the process's own depth again, not the last session's.
        profs.append(("no --depth", 64, depth_session(
            c, t, lambda: attach(c, "--rate", 4096, "--output", "d64.nmt", t.pid).stdout.strip(), detach)))
        if c.jcmd:
            nmtj.check(jcmd(c, t.pid, "depth:0") != 0, "jcmd depth:0 was not refused")
            jprof = os.path.join(c.tmp, "jd4.nmt")

            def jstart():
                nmtj.check(jcmd(c, t.pid, "output:%s,rate:4096,depth:%d" % (jprof, DEPTH)) == 0,
                           "jcmd depth:%d was refused" % DEPTH)
                return jprof

            def jstop():
                nmtj.check(jcmd(c, t.pid, "detach") == 0, "jcmd detach was refused")

            profs.append(("jcmd depth:%d" % DEPTH, DEPTH, depth_session(c, t, jstart, jstop)))
        else:
            print("no jcmd next to java: its depth:N not checked")
        # A last plain attach: the default rate and depth, whatever came before.
        plain = attach(c, "--duration", 0, "--output", "plain.nmt", t.pid).stdout.strip()
        out, err, rc = t.quit()
        c.no_crash_files()
        nmtj.check(rc == 0 and out == "ready\ndone\n", "the JVM's output changed: %r %r" % (out, err[-300:]))
        if c.jcmd:
            nmtj.check(err.count("bad attach option 'depth:0'") == 1,
                       "the agent did not name depth:0 once on stderr: %r" % err[-500:])
    finally:
        t.kill()
    for what, depth, prof in profs:
        header, config, counts = frame_counts(prof)
        native = max(n for n, _ in counts)
        java = max(j for _, j in counts)
        print("%s: header depth %d, config.DEPTH %s, %d stacks, at most %d native and %d Java frames" % (
            what, header["depth"], config, len(counts), native, java))
        nmtj.check(header["depth"] == depth and config == str(depth),
                   "%s: the profile states depth %d (config.DEPTH %s), not %d" % (
                       what, header["depth"], config, depth))
        if depth == DEPTH:
            nmtj.check(native <= DEPTH + 1, "%s: a stack has %d native frames" % (what, native))
            nmtj.check(java <= DEPTH, "%s: a stack has %d Java frames" % (what, java))
            nmtj.check(java == DEPTH, "%s: no stack reached %d Java frames (at most %d): "
                       "the direct buffers' stacks were not sampled with their Java frames" % (what, DEPTH, java))
        else:
            nmtj.check(native > DEPTH + 1 or java > DEPTH,
                       "%s: no stack deeper than depth %d (at most %d native, %d Java frames)" % (
                           what, DEPTH, native, java))
    header, config, _ = frame_counts(plain)
    nmtj.check(header["rate"] == 524288 and header["depth"] == 64,
               "a plain attach after --rate 4096 --depth 4 recorded at rate %d, depth %d: "
               "an earlier session's options carried over" % (header["rate"], header["depth"]))


CASES = {"leak": case_leak, "cycles": case_cycles, "rate1": case_rate1, "jemalloc": case_jemalloc, "preloaded": case_preloaded,
         "disabled": case_disabled, "late": case_late, "errors": case_errors, "jcmd": case_jcmd,
         "detach_names": case_detach_names, "early": case_early, "early_jcmd": case_early_jcmd, "early_again": case_early_again, "starting": case_starting,
         "depth": case_depth}


def body(c):
    c.need_java()
    c.need_lib()
    c.need_nmreport()
    rest = c.rest
    nmtj.check("--case" in rest and rest[rest.index("--case") + 1] in CASES, "--case wants one of %s" % list(CASES))
    case = rest[rest.index("--case") + 1]
    c.scratch("attach_" + case)
    CASES[case](c)


nmtj.main("java_attach_" + (sys.argv[sys.argv.index("--case") + 1] if "--case" in sys.argv else "?"), body)
