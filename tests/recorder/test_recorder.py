#!/usr/bin/env python3
"""Integration tests of libnmtrace.so on real programs with ground truth.

Usage: test_recorder.py CASE --lib LIB[:LIB...] --bindir DIR --workdir DIR
Each CASE runs real processes under LD_PRELOAD (LIB: what to preload, in
order) and checks the profile with the independent reader nmtprof.py
(docs/FORMAT.md). Exit 0 pass, 1 fail, 77 skip.
"""
import argparse
import glob
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import nmtprof  # noqa: E402

SITES = ["leak_malloc_site", "leak_calloc_site", "leak_realloc_site", "leak_memalign_site"]


class Fail(Exception):
    pass


def check(cond, msg):
    if not cond:
        raise Fail(msg)


class Env:
    def __init__(self, a):
        # --lib is what goes into LD_PRELOAD: the recorder, in a sanitized
        # build with the sanitizer runtime (':'-separated).
        self.lib = ":".join(os.path.abspath(p) for p in a.lib.split(":") if p)
        self.bindir = os.path.abspath(a.bindir)
        self.work = os.path.abspath(a.workdir)
        shutil.rmtree(self.work, ignore_errors=True)
        os.makedirs(self.work)

    def prog(self, name):
        return os.path.join(self.bindir, name)

    def recorder(self):
        """libnmtrace.so alone (--lib may also hold a sanitizer's runtime),
        for a program that loads it itself."""
        return [p for p in self.lib.split(":") if "libnmtrace" in os.path.basename(p)][-1]

    def run(self, argv, env=None, timeout=120, preload=True, check_rc=True):
        e = dict(os.environ)
        for k in list(e):
            if k.startswith("NMTRACE_"):
                del e[k]
        e["NMTRACE_OUTPUT"] = os.path.join(self.work, "p.%p.nmt")
        if preload:
            e["LD_PRELOAD"] = self.lib
        e.update(env or {})
        r = subprocess.run(argv, env=e, capture_output=True, text=True, timeout=timeout,
                           cwd=self.work)
        if check_rc and r.returncode != 0:
            raise Fail("%s exited %d: %s" % (argv, r.returncode, r.stderr[-2000:]))
        return r

    def profiles(self):
        return sorted(glob.glob(os.path.join(self.work, "*.nmt")))

    def only_profile(self):
        ps = self.profiles()
        check(len(ps) == 1, "expected one profile, found %s" % ps)
        return nmtprof.Profile(ps[0])

    def clean(self):
        for p in self.profiles():
            os.unlink(p)


# Exact (rate 1) runs get rings big enough for the whole run: the point is
# exactness, not how fast the writer drains on a loaded machine (that, and the
# counted drops of small rings, are tested by ring_overflow and bench/).
BIG_RING = {"NMTRACE_RING": "65536"}


def truth_run(env, rate, seed=None, scale="1", extra=None):
    env.clean()
    e = {"NMTRACE_RATE": str(rate)}
    if rate == 1:
        e.update(BIG_RING)
    e.update(extra or {})
    if seed is not None:
        e["NMTRACE_SEED"] = str(seed)
    r = env.run([env.prog("prog_truth"), scale], e)
    truth = json.loads(r.stdout)
    prof = env.only_profile()
    return truth, prof, prof.last()


def case_exact(env):
    """Rate 1: every allocation recorded, so per-site live bytes are exact."""
    truth, prof, snap = truth_run(env, 1)
    syms = nmtprof.Symbols(env.prog("prog_truth"))
    for site in SITES:
        got = nmtprof.site_total(prof, snap, syms, site, "live_bytes")
        check(got == truth[site], "%s: live %d, truth %d" % (site, got, truth[site]))
        objs = nmtprof.site_total(prof, snap, syms, site, "live_objects")
        check(objs > 0, "%s: no live objects" % site)
    mm = truth["leak_mmap_site"]
    com = nmtprof.site_total(prof, snap, syms, "leak_mmap_site", "committed")
    res = nmtprof.site_total(prof, snap, syms, "leak_mmap_site", "reserved")
    check(com == mm["committed"], "mmap committed %d, truth %d" % (com, mm["committed"]))
    check(res == mm["reserved"], "mmap reserved %d, truth %d" % (res, mm["reserved"]))
    churn = nmtprof.site_total(prof, snap, syms, "churn", "live_bytes")
    check(churn == 0, "churn (all freed) shows %d live bytes" % churn)
    churn_c = nmtprof.site_total(prof, snap, syms, "churn", "committed")
    check(churn_c == 0, "churn mmaps (all unmapped) show %d committed" % churn_c)
    c = snap.counters
    check(c.get("rec.ring_drops", 0) == 0, "ring drops at rate 1: %s" % c.get("rec.ring_drops"))
    print("exact: all sites exact; samples", c.get("rec.samples"))


def case_sampled(env):
    """Default rate, fixed seed: each >= 32 MiB site within +-15 %.

    The sites hold ~130 MiB each (scale 4): for small objects the relative
    standard error of a byte-sampled estimate is sqrt(rate / bytes), 12.5 %
    at 32 MiB but 6 % at 130 MiB, so +-15 % is a meaningful 2.4 sigma bound
    rather than a coin toss on the seed."""
    truth, prof, snap = truth_run(env, 524288, seed=42, scale="4")
    check(prof.header["rate"] == 524288, "rate in header")
    syms = nmtprof.Symbols(env.prog("prog_truth"))
    for site in SITES:
        got = nmtprof.site_total(prof, snap, syms, site, "live_bytes")
        err = abs(got - truth[site]) / truth[site]
        print("%s: estimate %d truth %d (%.1f%%)" % (site, got, truth[site], 100 * err))
        check(err <= 0.15, "%s off by %.1f%%" % (site, 100 * err))
    # The default rate's default ring is 256 KiB (docs/PERFORMANCE.md §0).
    check_own_memory(snap.counters, 256 << 10)


def case_unbiased(env):
    """30 seeds: the mean estimate of each site within +-3 % of the truth."""
    syms = nmtprof.Symbols(env.prog("prog_truth"))
    sums = {s: 0 for s in SITES}
    n = 30
    truth = None
    for seed in range(1, n + 1):
        truth, prof, snap = truth_run(env, 524288, seed=seed * 7919, scale="4")
        for site in SITES:
            sums[site] += nmtprof.site_total(prof, snap, syms, site, "live_bytes")
    for site in SITES:
        mean = sums[site] / n
        err = (mean - truth[site]) / truth[site]
        print("%s: mean of %d = %.0f, truth %d (%+.2f%%)" % (site, n, mean, truth[site], 100 * err))
        check(abs(err) <= 0.03, "%s biased by %+.2f%%" % (site, 100 * err))


def case_threads(env):
    """8 threads per wave allocating, leaking and exiting."""
    env.clean()
    # After each wave the program asks for a snapshot (SIGUSR1) and waits
    # until it is in the file: the writer has then recycled that wave's
    # slots, however far behind a busy machine left it. No periodic
    # snapshot: the file must grow only when asked to (prog_threads.c).
    out = os.path.join(env.work, "threads.nmt")
    r = env.run([env.prog("prog_threads"), "12", "8", out],
                dict(BIG_RING, NMTRACE_RATE="1", NMTRACE_SIGNAL="USR1", NMTRACE_INTERVAL="0",
                     NMTRACE_OUTPUT=out), timeout=240)
    truth = json.loads(r.stdout)
    prof = env.only_profile()
    snap = prof.last()
    syms = nmtprof.Symbols(env.prog("prog_threads"))
    got = nmtprof.site_total(prof, snap, syms, "thread_leak_site", "live_bytes")
    check(got == truth["thread_leak_site"], "threads: live %d truth %d" % (got,
                                                                         truth["thread_leak_site"]))
    c = snap.counters
    check(c["rec.ring_drops"] == 0 and c["rec.free_drops"] == 0, "drops: %s" % c)
    # Rings of exited threads are recycled by the writer: the slot count
    # follows the threads alive at once (8), not the 96 created. Every wave
    # starts with the earlier waves' slots free (the snapshot between waves),
    # so its 8 threads need no new one: 8, plus the main thread's and the
    # shared slot of exiting threads' last frees (nmt_thread.c), at most.
    check(len(prof.snapshots) == 12 + 1, "%d snapshots, expected one per wave and the exit one"
          % len(prof.snapshots))
    check(c["rec.thread_slots"] <= 8 + 2, "slots not reused: %d" % c["rec.thread_slots"])
    print("threads: exact, %d slots for 96 threads" % c["rec.thread_slots"])
    check_own_memory(c, int(BIG_RING["NMTRACE_RING"]) * 1024)


def check_own_memory(c, ring_bytes):
    """rec.own_bytes is the sum of its parts, and the rings part is one ring
    of the configured size (plus its slot header) per thread slot."""
    parts = ["rec.own_rings", "rec.own_fixed", "rec.own_writer_heap", "rec.own_bridge_queue"]
    check(c["rec.own_bytes"] == sum(c[p] for p in parts), "own_bytes is not its parts: %s" %
          {p: c[p] for p in parts + ["rec.own_bytes"]})
    check(c["rec.small_rings"] == 0, "small rings: %d" % c["rec.small_rings"])
    slots = c["rec.thread_slots"]
    check(slots * ring_bytes <= c["rec.own_rings"] < slots * (ring_bytes + 4096),
          "own_rings %d for %d slots of %d" % (c["rec.own_rings"], slots, ring_bytes))
    # The address filter and the live set are static: always there.
    check(c["rec.own_fixed"] >= (1 << 20) + (512 << 10), "own_fixed %d" % c["rec.own_fixed"])
    check(c["rec.own_writer_heap"] > 0, "the writer's tables take no memory?")
    print("own memory: %d bytes (rings %d, fixed %d, writer heap %d)" %
          (c["rec.own_bytes"], c["rec.own_rings"], c["rec.own_fixed"], c["rec.own_writer_heap"]))


def case_fork_exec(env):
    if os.environ.get("NMT_TEST_SANITIZED"):
        # GCC 12's ASan runtime keeps its allocator's locks across fork: a
        # fork child's first new thread (the child's writer) can wait for
        # ever on a lock another parent thread held (seen in gdb in
        # SizeClassAllocator64::GetFromAllocator). Forks are tested on the
        # release recorder (this case, robust_fork_*).
        print("SKIP: fork children under the ASan runtime (no fork handling for its allocator)")
        return 77
    env.clean()
    r = env.run([env.prog("prog_fork")], dict(BIG_RING, NMTRACE_RATE="1"))
    ids = json.loads(r.stdout)
    check(ids["child_status"] == 0 and ids["exec_status"] == 0, "children failed: %s" % ids)
    profs = [nmtprof.Profile(p) for p in env.profiles()]
    by_role = {}
    syms = nmtprof.Symbols(env.prog("prog_fork"))
    for p in profs:
        snap = p.last()
        for role, func, blocks in (("parent", "parent_leak_site", 40),
                                   ("child", "child_leak_site", 24),
                                   ("exec", "exec_leak_site", 12)):
            got = nmtprof.site_total(p, snap, syms, func, "live_bytes")
            if got:
                check(got == blocks * (256 << 10), "%s: %d bytes" % (role, got))
                by_role[role] = p
    check(set(by_role) == {"parent", "child", "exec"}, "profiles for %s only (files %s)" %
          (sorted(by_role), env.profiles()))
    check(by_role["parent"].header["pid"] == ids["parent"], "parent pid")
    check(by_role["child"].header["pid"] == ids["child"], "child pid")
    check(by_role["child"].header["ppid"] == ids["parent"], "child's ppid")
    check(by_role["exec"].header["pid"] == ids["exec"], "exec pid")
    # The fork child's profile must not claim the parent's leak.
    snap = by_role["child"].last()
    check(nmtprof.site_total(by_role["child"], snap, syms, "parent_leak_site", "live_bytes") == 0,
          "child profile carries the parent's allocations")
    print("fork/exec: three profiles, each with its own leak")


def case_exit_race(env):
    """exit() while six threads allocate; at rate 1 with 4 KiB rings they
    are waiting for the writer when the final snapshot is taken, and must
    not keep waiting (nor hold up exit) afterwards."""
    for e in ({"NMTRACE_RATE": "4096"}, {"NMTRACE_RATE": "1", "NMTRACE_RING": "4"}):
        env.clean()
        # The timeout is the hang guard: exit must end, however busy the machine.
        env.run([env.prog("prog_exit_race")], e, timeout=120)
        prof = env.only_profile()
        check(prof.last().reason == 1, "last snapshot is not the exit one (%s)" % e)
    print("exit race: exit 0, final snapshot written")


def wait_for(what, cond, proc=None, limit=120):
    """Polls cond() until it is true. The limit only guards against a hang:
    the test waits for the state it checks, not for a guessed time."""
    deadline = time.time() + limit
    while True:
        got = cond()
        if got:
            return got
        check(proc is None or proc.poll() is None,
              "process exited (%s) while waiting for %s" % (proc and proc.returncode, what))
        check(time.time() < deadline, "no %s after %d s" % (what, limit))
        time.sleep(0.05)


def snapshot_reasons(env):
    """Reasons of the complete snapshots written so far (none if no file)."""
    ps = env.profiles()
    if len(ps) != 1:
        return []
    try:
        return [s.reason for s in nmtprof.Profile(ps[0]).snapshots]
    except nmtprof.ProfileError:
        return []


def case_kill9(env):
    env.clean()
    stop = os.path.join(env.work, "stop")
    e = dict(os.environ, LD_PRELOAD=env.lib, NMTRACE_INTERVAL="1", NMTRACE_RATE="65536",
             NMTRACE_OUTPUT=os.path.join(env.work, "p.%p.nmt"))
    p = subprocess.Popen([env.prog("prog_steady"), "600", "16", stop], env=e, cwd=env.work)
    try:
        # At least two interval snapshots, the last with more than 8 MiB of
        # the steady leak in it (16 MiB/s: under a second of running).
        syms = nmtprof.Symbols(env.prog("prog_steady"))

        def leaked_enough():
            if len(snapshot_reasons(env)) < 2:
                return False
            prof = nmtprof.Profile(env.profiles()[0])
            return nmtprof.site_total(prof, prof.last(), syms, "steady_leak_site",
                                      "live_bytes") > 8 << 20
        wait_for("two interval snapshots with the leak", leaked_enough, p)
    finally:
        p.send_signal(signal.SIGKILL)
        p.wait()
    prof = env.only_profile()
    check(len(prof.snapshots) >= 2, "only %d snapshots before kill -9" % len(prof.snapshots))
    check(all(s.reason == 2 for s in prof.snapshots), "interval snapshots expected")
    got = nmtprof.site_total(prof, prof.last(), syms, "steady_leak_site", "live_bytes")
    check(got > 8 << 20, "steady leak not visible in last snapshot: %d" % got)
    # Cut the file at every byte of its last 4 KiB: each prefix reads back.
    data = open(env.profiles()[0], "rb").read()
    cut = os.path.join(env.work, "cut.bin")
    for n in range(max(9, len(data) - 4096), len(data), 97):
        open(cut, "wb").write(data[:n])
        nmtprof.Profile(cut)
    print("kill -9: %d snapshots readable" % len(prof.snapshots))


def case_triggers(env):
    """Growth, dump signal and trigger-file snapshots, each acted on only once
    the previous one is in the file."""
    env.clean()
    trig = os.path.join(env.work, "dump-now")
    stop = os.path.join(env.work, "stop")
    e = dict(os.environ, LD_PRELOAD=env.lib, NMTRACE_GROWTH="16m", NMTRACE_SIGNAL="USR1",
             NMTRACE_TRIGGER=trig, NMTRACE_OUTPUT=os.path.join(env.work, "p.%p.nmt"))
    p = subprocess.Popen([env.prog("prog_steady"), "600", "16", stop], env=e, cwd=env.work)
    try:
        # A growth snapshot also proves the recorder (and its signal handler)
        # is in place before the signal is sent.
        wait_for("growth snapshot", lambda: 3 in snapshot_reasons(env), p)
        p.send_signal(signal.SIGUSR1)
        wait_for("signal snapshot", lambda: 4 in snapshot_reasons(env), p)
        open(trig, "w").close()
        wait_for("trigger-file snapshot", lambda: 5 in snapshot_reasons(env), p)
        open(stop, "w").close()
        check(p.wait(timeout=120) == 0, "prog_steady failed")
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()
    prof = env.only_profile()
    reasons = [s.reason for s in prof.snapshots]
    check(3 in reasons, "no growth snapshot: %s" % reasons)
    check(4 in reasons, "no signal snapshot: %s" % reasons)
    check(5 in reasons, "no trigger-file snapshot: %s" % reasons)
    check(reasons[-1] == 1, "no exit snapshot")
    check(not os.path.exists(trig), "trigger file not consumed")
    check([s.seq for s in prof.snapshots] == list(range(len(reasons))), "seq numbers")
    print("triggers: reasons", reasons)


def case_defaults(env):
    """With no NMTRACE_* variable: the profile exists with its header from the
    start (nmreport on it says no snapshot yet, and why), its absolute path is
    said on stderr at start and at exit, periodic snapshots come without being
    asked for (config.INTERVAL=auto), so --growth has a series; NMTRACE_QUIET=1
    silences both lines."""
    env.clean()
    stop = os.path.join(env.work, "stop")
    errf = os.path.join(env.work, "stderr.txt")
    e = {k: v for k, v in os.environ.items() if not k.startswith("NMTRACE_")}
    e.update(LD_PRELOAD=env.lib, NMTRACE_OUTPUT="d.%p.nmt")  # relative: said absolute
    nmreport = env.prog("nmreport")
    with open(errf, "w") as err:
        p = subprocess.Popen([env.prog("prog_steady"), "600", "1", stop], env=e, cwd=env.work,
                             stderr=err)
    try:
        want = os.path.join(env.work, "d.%d.nmt" % p.pid)
        line = "nmtrace: recording pid %d to %s" % (p.pid, want)
        wait_for("the start line", lambda: line in open(errf).read().splitlines(), p)
        check(os.path.exists(want), "%s named at start but missing" % want)
        if not snapshot_reasons(env):
            r = subprocess.run([nmreport, want], capture_output=True, text=True)
            if not snapshot_reasons(env):  # still none: the answer was about this state
                check(r.returncode == 1 and "no snapshot yet: pid %d is still recording" % p.pid
                      in r.stderr, "nmreport on the new file: %d %r" % (r.returncode, r.stderr))
        wait_for("a periodic snapshot", lambda: 2 in snapshot_reasons(env), p)
        open(stop, "w").close()
        check(p.wait(timeout=120) == 0, "prog_steady failed")
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()
    prof = env.only_profile()
    check(prof.info.get("config.INTERVAL") == "auto", "config.INTERVAL is %r" %
          prof.info.get("config.INTERVAL"))
    n = len(prof.snapshots)
    lines = open(errf).read().splitlines()
    # The reader named is the build's nmreport (next to the recorder's lib/),
    # plain "nmreport" only if PATH finds that one.
    reader = env.prog("nmreport")
    on_path = shutil.which("nmreport", path=e.get("PATH"))
    if on_path and os.path.samefile(on_path, reader):
        reader = "nmreport"
    exit_line = "nmtrace: pid %d: %d snapshots in %s; read it with: %s %s" % (p.pid, n, want, reader, want)
    check(lines == [line, exit_line], "stderr %r, want the start line and %r" % (lines, exit_line))
    r = subprocess.run([nmreport, "--growth", want], capture_output=True, text=True)
    check(r.returncode == 0 and "Growth of" in r.stdout, "--growth on %d snapshots: %d %r" %
          (n, r.returncode, r.stderr))
    # One snapshot: --growth says what to do instead of giving verdicts.
    env.clean()
    r = env.run([env.prog("prog_steady"), "0.1", "1"], {"NMTRACE_QUIET": "1"})
    check("nmtrace:" not in r.stderr, "NMTRACE_QUIET=1 printed %r" % r.stderr)
    one = env.only_profile()
    if len(one.snapshots) == 1:
        r = subprocess.run([nmreport, "--growth", one.path], capture_output=True, text=True)
        check(r.returncode == 1 and r.stdout == "" and "growth needs 2 or more" in r.stderr,
              "--growth on one snapshot: %d %r %r" % (r.returncode, r.stdout, r.stderr))


def case_bad_env(env):
    env.clean()
    r = env.run([env.prog("prog_steady"), "0.2", "1"],
                {"NMTRACE_RATE": "lots", "NMTRACE_DEPTH": "0", "NMTRACE_UNWIND": "magic",
                 "NMTRACE_SIGNAL": "SEGV", "NMTRACE_ON_FULL": "block"})
    lines = [l for l in without_notices(r.stderr).splitlines() if l.startswith("nmtrace:")]
    check(len(lines) == 5, "expected one line per bad variable, got %s" % lines)
    for var in ("NMTRACE_RATE", "NMTRACE_DEPTH", "NMTRACE_UNWIND", "NMTRACE_SIGNAL",
                "NMTRACE_ON_FULL"):
        check(any(var in l for l in lines), "no line for %s" % var)
    prof = env.only_profile()
    check(prof.info["config.RATE"] == "524288", "default rate not used")
    check(prof.info["config.DEPTH"] == "64", "default depth not used")
    check(prof.info["config.SIGNAL"] == "off", "JVM signal accepted")
    check(prof.info["config.ON_FULL"] == "wait", "default NMTRACE_ON_FULL not used")
    print("bad env: defaults used, one line each")


def case_ring_overflow(env):
    """A tiny ring under a burst. NMTRACE_ON_FULL=drop: losses are counted,
    never silent. The default (wait): the thread waits, nothing is lost, and
    the profile is exact."""
    env.clean()
    env.run([env.prog("prog_truth"), "0.3"],
            {"NMTRACE_RATE": "1", "NMTRACE_RING": "4", "NMTRACE_ON_FULL": "drop"})
    prof = env.only_profile()
    c = prof.last().counters
    print("ring overflow, drop: drops", c["rec.ring_drops"], "free drops", c["rec.free_drops"])
    check(prof.info["config.ON_FULL"] == "drop", "ON_FULL not in INFO")
    check(c["rec.ring_drops"] + c["rec.free_drops"] > 0, "a 4 KiB ring at rate 1 lost nothing?")
    check(c["rec.ring_waits"] == 0, "waited with NMTRACE_ON_FULL=drop")
    check(c["rec.samples"] > 0, "nothing recorded")
    truth, prof, snap = truth_run(env, 1, scale="0.3", extra={"NMTRACE_RING": "4"})
    c = snap.counters
    print("ring overflow, wait: waits", c["rec.ring_waits"], "for", c["rec.ring_wait_ns"], "ns")
    check_no_loss(c)
    # A 4 KiB ring holds about twenty events: the burst cannot fit.
    check(c["rec.ring_waits"] > 0, "a 4 KiB ring at rate 1 never filled?")
    syms = nmtprof.Symbols(env.prog("prog_truth"))
    for site in SITES:
        got = nmtprof.site_total(prof, snap, syms, site, "live_bytes")
        check(got == truth[site], "%s: live %d, truth %d" % (site, got, truth[site]))


# Every counter of events the recorder lost, or could not account for.
LOSS_COUNTERS = ("rec.ring_drops", "rec.ring_drop_bytes", "rec.free_drops", "rec.lost_no_ring",
                 "rec.liveset_full", "rec.ring_wait_stalls", "rec.internal_errors",
                 "rec.write_errors")


def check_no_loss(c):
    for k in LOSS_COUNTERS:
        check(k in c, "counter %s missing" % k)
        check(c[k] == 0, "%s = %d: events lost" % (k, c[k]))


def churn_run(env, extra):
    """prog_churn at rate 1: per leaking site the exact live bytes and
    objects, nothing live where everything was freed, nothing lost."""
    env.clean()
    r = env.run([env.prog("prog_churn")], dict(extra, NMTRACE_RATE="1"))
    truth = json.loads(r.stdout)
    prof = env.only_profile()
    snap = prof.last()
    check(snap.reason == 1, "last snapshot is not the exit one")
    syms = nmtprof.Symbols(env.prog("prog_churn"))
    for site, t in sorted(truth.items()):
        b = nmtprof.site_total(prof, snap, syms, site, "live_bytes")
        o = nmtprof.site_total(prof, snap, syms, site, "live_objects")
        check(t["objects"] > 0, "%s leaked nothing: a useless truth" % site)
        check((b, o) == (t["bytes"], t["objects"]), "%s: live %d bytes in %d objects, truth %d "
              "in %d" % (site, b, o, t["bytes"], t["objects"]))
    for field in ("live_bytes", "live_objects"):
        got = nmtprof.site_total(prof, snap, syms, "churn_site", field)
        check(got == 0, "churn_site (all freed) shows %s %d" % (field, got))
    c = snap.counters
    check_no_loss(c)
    return c


def case_churn_exact(env):
    """Four threads churning, leaking and freeing each other's blocks."""
    c = churn_run(env, {})
    print("churn: exact; %d samples, %d waits" % (c["rec.samples"], c["rec.ring_waits"]))


def case_churn_small_ring(env):
    """The same with 64 KiB rings: threads wait for the writer, lose nothing."""
    c = churn_run(env, {"NMTRACE_RING": "64"})
    # ~100k events of ~150 bytes per thread through 64 KiB: rings fill.
    check(c["rec.ring_waits"] > 0, "64 KiB rings at rate 1 never filled?")
    check(c["rec.ring_wait_ns"] > 0, "waits took no time")
    print("churn, 64 KiB rings: exact; %d waits, %.1f ms waiting" %
          (c["rec.ring_waits"], c["rec.ring_wait_ns"] / 1e6))


# The recorder's two announcements (where the profile is, at start and at
# exit; NMTRACE_QUIET=1 silences them): what the process itself printed is
# the rest.
NOTICE = re.compile(r"^nmtrace: (recording pid \d+ to /\S+|pid \d+: \d+ snapshots? in /\S+; "
                    r"read it with: \S*nmreport /\S+)\n", re.M)


def without_notices(stderr):
    """stderr (str or bytes) with the recorder's announcement lines removed."""
    if isinstance(stderr, bytes):
        return NOTICE.sub("", stderr.decode("utf-8", "replace")).encode()
    return NOTICE.sub("", stderr)


def run_both(env, argv, timeout=60):
    """Runs argv unprofiled and profiled: (plain, profiled) results."""
    plain = env.run(argv, preload=False, check_rc=False, timeout=timeout)
    prof = env.run(argv, check_rc=False, timeout=timeout)
    return plain, prof


def same_outcome(what, plain, prof):
    check(prof.returncode == plain.returncode, "%s: exit %d, unprofiled %d (stderr %r)" %
          (what, prof.returncode, plain.returncode, prof.stderr[-500:]))
    check(prof.stdout == plain.stdout, "%s: stdout %r, unprofiled %r" %
          (what, prof.stdout, plain.stdout))
    check(without_notices(prof.stderr) == plain.stderr, "%s: stderr %r, unprofiled %r" %
          (what, prof.stderr, plain.stderr))


def case_main_exit(env):
    """main() ends with pthread_exit: the process ends as it does unprofiled
    (exit 0 once the last thread leaves, atexit handlers and stdio flushed),
    with the final snapshot, whether other threads remain or not, and
    whether the recorder ever saw them or not."""
    for mode in ("alone", "worker", "quiet"):
        env.clean()
        try:
            plain, prof = run_both(env, [env.prog("prog_main_exit"), mode])
        except subprocess.TimeoutExpired:
            raise Fail("%s: the process did not end" % mode)
        same_outcome(mode, plain, prof)
        check("atexit ran" in plain.stdout, "%s: the program itself misbehaves" % mode)
        p = env.only_profile()
        check(p.last().reason == 1, "%s: no exit snapshot" % mode)
    # At rate 1 with small rings too: the worker's events reach the profile.
    env.clean()
    env.run([env.prog("prog_main_exit"), "worker"], {"NMTRACE_RATE": "1",
                                                         "NMTRACE_RING": "4"}, timeout=60)
    prof = env.only_profile()
    snap = prof.last()
    check_no_loss(snap.counters)
    check(snap.counters["rec.samples"] >= 1000, "the worker's allocations are missing")
    # Taken after main's exit: the process must still be described (the
    # main thread's /proc entry is empty by then).
    check(prof.header["exe"].endswith("prog_main_exit"), "exe: %r" % prof.header["exe"])
    check(snap.maps, "no mappings in the final snapshot")
    syms = nmtprof.Symbols(env.prog("prog_main_exit"))
    got = nmtprof.site_total(prof, snap, syms, "worker", "alloc_objects")
    check(got == 1000, "worker: %d allocations recorded, 1000 made" % got)
    print("main pthread_exit: same outcome as unprofiled, final snapshot written")


def case_main_exit_sigterm(env):
    """SIGTERM to a process whose main thread has left and whose worker
    waits: it dies of SIGTERM, as unprofiled."""
    rcs = []
    for preload in (False, True):
        env.clean()
        e = dict(os.environ, NMTRACE_OUTPUT=os.path.join(env.work, "p.%p.nmt"))
        if preload:
            e["LD_PRELOAD"] = env.lib
        p = subprocess.Popen([env.prog("prog_main_exit"), "block"], env=e, cwd=env.work,
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        line = p.stdout.readline() + p.stdout.readline()
        check(line == "main block\nready\n", "no ready line: %r" % line)
        p.send_signal(signal.SIGTERM)
        try:
            out, err = p.communicate(timeout=60)
        except subprocess.TimeoutExpired:
            p.kill()
            raise Fail("SIGTERM did not end the process (preload %s)" % preload)
        rcs.append((p.returncode, line + out, without_notices(err)))
    check(rcs[0] == rcs[1], "profiled %r, unprofiled %r" % (rcs[1], rcs[0]))
    check(rcs[0][0] == -signal.SIGTERM, "unprofiled exit %d" % rcs[0][0])
    print("main pthread_exit + SIGTERM: killed by SIGTERM, as unprofiled")


def case_fp_unwind(env):
    truth, prof, snap = None, None, None
    env.clean()
    r = env.run([env.prog("prog_truth_fp"), "0.2"],
                dict(BIG_RING, NMTRACE_RATE="1", NMTRACE_UNWIND="fp"))
    truth = json.loads(r.stdout)
    prof = env.only_profile()
    snap = prof.last()
    check(prof.header["flags"] & 1, "fp flag not in header")
    syms = nmtprof.Symbols(env.prog("prog_truth_fp"))
    for site in SITES:
        got = nmtprof.site_total(prof, snap, syms, site, "live_bytes")
        check(got == truth[site], "fp %s: %d vs %d" % (site, got, truth[site]))
    print("fp unwinder: exact")


def our_symbols(snap, prog):
    """Symbols of the program and of every test library (libuwt_*) it mapped."""
    paths = {os.path.realpath(prog)}
    for m in snap.maps:
        if os.path.basename(m["path"]).startswith("libuwt_"):
            paths.add(os.path.realpath(m["path"]))
    return [nmtprof.Symbols(p) for p in sorted(paths)]


def our_chain(snap, syms, frames, names):
    """The names (out of names) of a stack's frames past its entry point."""
    out = []
    for a in frames[1:]:
        for s in syms:
            f = s.function_at(snap, a - 1)
            if f is not None:
                if f in names:
                    out.append(f)
                break
    return out


def unwind_run(env, mode):
    """prog_unwind at rate 1 with NMTRACE_UNWIND=mode: checks that each kept
    block's stack holds the functions the program says, and that few stacks
    needed libunwind. Returns the last snapshot's counters."""
    env.clean()
    r = env.run([env.prog("prog_unwind")],
                dict(BIG_RING, NMTRACE_RATE="1", NMTRACE_UNWIND=mode, NMTRACE_DEPTH="128"))
    truth = json.loads(r.stdout)
    prof = env.only_profile()
    snap = prof.last()
    check(prof.info.get("config.UNWIND") == mode, "config.UNWIND %s" % prof.info.get("config.UNWIND"))
    c = snap.counters
    samples, falls = c.get("rec.samples", 0), c.get("rec.unwind_fallbacks", -1)
    print("%s: samples %d, fallbacks %d, mismatches %d"
          % (mode, samples, falls, c.get("rec.unwind_mismatch", -1)))
    # A library's stacks may fall back while nmt_cfi has not yet seen it
    # loaded (with a C library older than 2.35 its link map checks are
    # rate-limited): the dlopened ones, 41 stacks, are under a tenth of the
    # program's.
    check(samples >= 700, "only %d samples" % samples)
    check(0 <= falls <= samples // 10, "%d of %d stacks fell back to libunwind" % (falls, samples))
    check(c.get("rec.truncated_stacks", 0) == 0, "stacks cut at NMTRACE_DEPTH")
    syms = our_symbols(snap, env.prog("prog_unwind"))
    names = {n for t in truth for n in t["chain"]}
    for t in truth:
        if os.environ.get("NMT_TEST_SANITIZED") and "scenario_cxx" in t["chain"]:
            # ASan's runtime replaces operator new with its own allocator,
            # which never calls malloc: libstdc++'s blocks are not recorded.
            continue
        sids = [s for s in snap.sites if snap.sites[s]["live_bytes"] == t["size"]]
        check(len(sids) == 1, "%d sites keep %d bytes" % (len(sids), t["size"]))
        got = our_chain(snap, syms, prof.stacks[sids[0]], names)
        check(got == t["chain"], "%d bytes: stack %s, truth %s" % (t["size"], got, t["chain"]))
    return c


def case_unwind_check(env):
    """The fast unwinder (NMTRACE_UNWIND=auto, the default) records the stacks
    the program says, and NMTRACE_UNWIND=check, which takes every stack with
    it and with libunwind, finds no difference."""
    unwind_run(env, "auto")
    c = unwind_run(env, "check")
    check(c.get("rec.unwind_mismatch") == 0, "fast unwinder differs from libunwind on %s stacks"
          % c.get("rec.unwind_mismatch"))
    print("unwind check: stacks as the program says, no difference from libunwind")


def reload_run(env, attach):
    """prog_reload at rate 1, preloaded or attaching itself: two libraries
    with the same code and frames of different sizes are loaded, allocated
    through and unloaded in turn, the second usually where the first was.
    Only the program's one thread is recorded.
    Every block's stack must go from the library's function on to one_load
    (an unload the unwinder missed leaves it the other library's rule for the
    same address, and that step reads the wrong slot), and libunwind must
    take almost none of them. libunwind cannot referee this: its own trace
    cache keeps the other library's rule, and NMTRACE_UNWIND=check counts a
    mismatch for every block of the second library."""
    out = os.path.join(env.work, "reload.nmt")
    prog = env.prog("prog_reload")
    lib = "-"
    if attach:
        lib = env.recorder()
    extra = dict(BIG_RING, NMTRACE_JAVA="off")
    if not attach:
        extra.update(NMTRACE_RATE="1", NMTRACE_OUTPUT=out)
    r = env.run([prog, lib, env.prog("libreload_a.so"), env.prog("libreload_b.so"), out, "30"],
                extra, preload=not attach)
    truth = json.loads(r.stdout)
    prof = nmtprof.Profile(out)
    snap = prof.last()
    c = snap.counters
    print("%s: %s; samples %d, libunwind %d, fallbacks %d"
          % ("attached" if attach else "preloaded", truth, c.get("rec.samples", 0),
             c.get("rec.unwind_libunwind", -1), c.get("rec.unwind_fallbacks", -1)))
    check(truth["reused"] > 0, "libreload_b.so never loaded where libreload_a.so was: "
          "nothing tested")
    check(c.get("rec.samples", 0) >= truth["blocks"],
          "%d samples for %d blocks at rate 1" % (c.get("rec.samples", 0), truth["blocks"]))
    # The program has one thread. A second slot is the writer's: code that
    # runs on a new thread before its start routine (ASan's, in the
    # sanitized build) allocated there and was recorded as the program's,
    # and its stack took the rule tables' rebuild from the program's thread.
    check(c.get("rec.thread_slots") == 1,
          "%s thread slots for a program of one thread" % c.get("rec.thread_slots"))
    check(c.get("rec.unwind_libunwind", -1) == c.get("rec.unwind_fallbacks", -2)
          and c.get("rec.unwind_libunwind", -1) <= c.get("rec.samples", 0) // 50,
          "libunwind took %s of %s stacks" % (c.get("rec.unwind_libunwind"), c.get("rec.samples")))
    syms = nmtprof.Symbols(prog)
    through = 0
    for sid, site in snap.sites.items():
        f = prof.stacks.get(sid, [])
        # [0] malloc, [1] into reload_alloc (its library is gone), [2] into one_load.
        if (len(f) > 2 and syms.function_at(snap, f[1] - 1) is None
                and syms.function_at(snap, f[2] - 1) == "one_load"):
            through += site["alloc_objects"]
    check(through == truth["blocks"], "%d of %d blocks have the stack reload_alloc <- one_load"
          % (through, truth["blocks"]))


def case_reload_unwind(env):
    """Preloaded: a library just loaded is unwound by its tables at once
    (the dynamic linker's _dl_find_object says the list is behind), and one
    loaded where another was unloaded with its own rules."""
    reload_run(env, attach=False)
    print("reload unwind: every block's stack right, taken by the fast unwinder")


def case_attach_unwind(env):
    """After an attach the fast unwinder takes the stacks, as under LD_PRELOAD,
    because the attach hooks dlclose too."""
    if os.environ.get("NMT_TEST_SANITIZED"):
        print("SKIP: the sanitized recorder is preloaded with its runtime, not loaded late")
        return 77
    reload_run(env, attach=True)
    print("attach unwind: every block's stack right, taken by the fast unwinder")


def case_attach_relro(env):
    """An attach rewrites GOT entries in a RELRO segment and leaves each such
    page as it found it (prog_attach_relro checks the pages: read-only, and
    writable as the dynamic linker leaves an object it is still relocating);
    the library's allocation through the rewritten entry is recorded."""
    if os.environ.get("NMT_TEST_SANITIZED"):
        print("SKIP: the sanitized recorder is preloaded with its runtime, not loaded late")
        return 77
    lib = env.recorder()
    relro = env.prog("libreload_relro.so")
    out = os.path.join(env.work, "relro.nmt")
    r = env.run([env.prog("prog_attach_relro"), lib, relro, out], {"NMTRACE_JAVA": "off"},
                preload=False)
    print(r.stdout.strip())
    syms = nmtprof.Symbols(relro)
    for k in (0, 1):
        prof = nmtprof.Profile("%s.%d" % (out, k))
        snap = prof.last()
        n = nmtprof.site_total(prof, snap, syms, "reload_alloc", "alloc_objects")
        check(n == 1, "session %d: %d allocations through reload_alloc recorded, 1 made" % (k, n))
    print("attach relro: pages as found, the entry rewritten")


def case_jemalloc(env):
    """Wrapping an LD_PRELOADed jemalloc: its mallocs are attributed exactly
    and its own mmaps are recorded too."""
    libs = [p for p in ("/usr/lib/x86_64-linux-gnu/libjemalloc.so.2",) if os.path.exists(p)]
    if not libs:
        print("SKIP: libjemalloc.so.2 not installed (libjemalloc-dev)")
        return 77
    env.clean()
    if os.environ.get("NMT_TEST_SANITIZED"):
        # The sanitized recorder wraps ASan's allocator, and jemalloc placed
        # between them calls ASan's interceptors before ASan is set up.
        print("SKIP: jemalloc cannot be wrapped by the ASan build of the recorder")
        return 77
    e = dict(BIG_RING, NMTRACE_RATE="1", LD_PRELOAD=env.lib + ":" + libs[0])
    r = env.run([env.prog("prog_truth"), "0.3"], e)
    truth = json.loads(r.stdout)
    prof = env.only_profile()
    snap = prof.last()
    syms = nmtprof.Symbols(env.prog("prog_truth"))
    for site in SITES:
        got = nmtprof.site_total(prof, snap, syms, site, "live_bytes")
        check(got == truth[site], "jemalloc %s: %d vs %d" % (site, got, truth[site]))
    jemaps = [m for m in snap.maps if "libjemalloc" in m["path"]]
    check(jemaps, "libjemalloc not in the maps")
    # jemalloc maps its own extents: committed mmap beyond the test's own site.
    check(snap.counters["rec.mmap_committed"] > truth["leak_mmap_site"]["committed"],
          "jemalloc's own mmaps not recorded")
    print("jemalloc: exact through jemalloc, its mmaps recorded")


def case_java(env):
    java = shutil.which("java")
    javac = shutil.which("javac")
    if not java or not javac:
        print("SKIP: no JDK (java/javac) found")
        return 77
    env.clean()
    r = env.run([java, "-version"], timeout=120)
    check("version" in r.stderr, "java -version printed nothing")
    prof = env.only_profile()
    check(prof.info.get("jvm.reasonable_total"), "no jvm sizing info")
    env.clean()
    src = os.path.join(env.work, "Small.java")
    open(src, "w").write(
        "import java.nio.ByteBuffer; import java.util.*;\n"
        "public class Small { public static void main(String[] a) throws Exception {\n"
        " List<ByteBuffer> keep = new ArrayList<>();\n"
        " for (int i = 0; i < 64; i++) keep.add(ByteBuffer.allocateDirect(1 << 20));\n"
        " Thread t = new Thread(() -> { for (int i = 0; i < 1000; i++) new StringBuilder().append(i); });\n"
        " t.start(); t.join(); System.out.println(\"ok \" + keep.size()); } }\n")
    subprocess.run([javac, "-d", env.work, src], check=True, timeout=120)
    r = env.run([java, "-Xmx64m", "-cp", env.work, "Small"], timeout=120)
    check(r.stdout.strip() == "ok 64", "java program output: %r" % r.stdout)
    prof = env.only_profile()
    snap = prof.last()
    check(snap.counters["rec.samples"] > 0, "no samples in a JVM")
    check(snap.counters["rec.mmap_events"] > 0, "no mmap events in a JVM")
    # 64 buffers of 1 MiB at the default rate (512 KiB): each is sampled
    # independently with p = 1 - exp(-2) = 0.86 and weighted 1 MiB / p; the
    # estimate is below 32 MiB only if fewer than 28 are sampled (binomial
    # tail below 1e-15).
    live = sum(s["live_bytes"] for s in snap.sites.values())
    check(live >= 32 << 20, "64 MiB of direct buffers not seen (live %d)" % live)
    # Plain LD_PRELOAD: the bridge started when JNI_CreateJavaVM returned.
    check(snap.counters.get("java.attach_via") == 4,
          "java.attach_via is %s, not 4" % snap.counters.get("java.attach_via"))
    check(snap.counters.get("java.stacks", 0) > 0, "no sampled stack got Java frames")
    print("java: -version and a program ran, profile with %d stacks" % len(prof.stacks))



# ---- the host process: descriptors, signals and resource limits ----

def run_limited(env, argv, limits=None, preload=True, extra=None, stdin=None):
    """Runs argv with the given resource limits; returns (rc, stdout, stderr)
    as bytes. stdout is a pipe, so the program's stdio buffers it fully."""
    import resource

    def setup():
        for res, v in (limits or {}).items():
            resource.setrlimit(res, (v, v))

    e = dict(os.environ)
    for k in list(e):
        if k.startswith("NMTRACE_"):
            del e[k]
    e.pop("LD_PRELOAD", None)
    e["NMTRACE_OUTPUT"] = os.path.join(env.work, "p.%p.nmt")
    if preload:
        e["LD_PRELOAD"] = env.lib
    e.update(extra or {})
    r = subprocess.run(argv, env=e, capture_output=True, timeout=120, cwd=env.work,
                       preexec_fn=setup, stdin=subprocess.DEVNULL)
    return r.returncode, r.stdout, r.stderr


def same_as_plain(env, argv, limits, extra, what):
    plain = run_limited(env, argv, limits, preload=False)
    for rate in ("1", "524288"):
        e = {"NMTRACE_RATE": rate, "NMTRACE_QUIET": "1"}
        e.update(extra or {})
        got = run_limited(env, argv, limits, extra=e)
        check(got[0] == plain[0], "%s at rate %s: exit status %d, unprofiled %d (stderr %r)"
              % (what, rate, got[0], plain[0], got[2][-300:]))
        check(got[1] == plain[1], "%s at rate %s: stdout differs from unprofiled" % (what, rate))
        check(got[2] == plain[2], "%s at rate %s: stderr %r, unprofiled %r"
              % (what, rate, got[2][-300:], plain[2][-300:]))
    return plain


def no_fde_covers(binary, func):
    """True when no FDE in .eh_frame or .debug_frame covers func."""
    nm = subprocess.run(["nm", binary], capture_output=True, text=True, check=True).stdout
    addr = next(int(l.split()[0], 16) for l in nm.splitlines() if l.endswith(" " + func))
    frames = subprocess.run(["readelf", "-wf", binary], capture_output=True, text=True,
                            check=True).stdout
    for l in frames.splitlines():
        if " FDE " in l and "pc=" in l:
            lo, hi = (int(x, 16) for x in l.split("pc=")[1].split(".."))
            if lo <= addr < hi:
                return False
    return True


def case_hostio_fds(env):
    """A daemon that closes fds 3..1023 and writes its own files on 3 and 4,
    through code without unwind tables, while snapshots are taken: its files
    and stdout are those of an unprofiled run, at rate 1 and by default."""
    prog = env.prog("prog_hostio")
    check(no_fde_covers(prog, "hostio_nounwind_write"),
          "hostio_nounwind_write has unwind info: the fallback path is not exercised")
    ref = [os.path.join(env.work, n) for n in ("ref_a", "ref_b")]
    r = env.run([prog, "daemon"] + ref, preload=False)
    want = [open(p, "rb").read() for p in ref]
    check(len(want[0]) > 20000 and want[0] == want[1], "reference run wrote %d/%d bytes"
          % (len(want[0]), len(want[1])))
    for rate in ("1", "524288"):
        env.clean()
        out = [os.path.join(env.work, "out_%s_%s" % (rate, n)) for n in "ab"]
        prof = os.path.join(env.work, "daemon_%s.nmt" % rate)
        # Snapshots only when the program asks (between its steps, while
        # the recorder holds no descriptor): a periodic one, due 10 s in on
        # a run a busy machine made that long, would add to the count and
        # could hold a descriptor as the program opens its files.
        got = env.run([prog, "daemon"] + out + [prof],
                      env={"NMTRACE_RATE": rate, "NMTRACE_SIGNAL": "USR1",
                           "NMTRACE_INTERVAL": "0", "NMTRACE_OUTPUT": prof}, timeout=120)
        check(got.stdout == r.stdout, "rate %s: stdout %r, unprofiled %r"
              % (rate, got.stdout, r.stdout))
        for p, w in zip(out, want):
            data = open(p, "rb").read()
            check(data == w, "rate %s: %s has %d bytes, unprofiled %d" % (rate, p, len(data),
                                                                      len(w)))
        snaps = nmtprof.Profile(prof).snapshots
        # one before the close-all, one per batch, the final one
        check(len(snaps) == 6, "rate %s: %d snapshots (reasons %s), expected 6; stderr %r"
              % (rate, len(snaps), [x.reason for x in snaps], got.stderr[-500:]))
        check(snaps[-1].counters.get("rec.write_errors", 0) == 0,
              "rate %s: write errors counted" % rate)


def case_hostio_fsize(env):
    """Under ulimit -f (0 and small) the final snapshot's write raises no
    SIGXFSZ in the program: same stdout, stderr (NMTRACE_QUIET=1) and exit
    status as unprofiled; the loss is said once when not quiet."""
    import resource
    ls = shutil.which("ls")
    prog = env.prog("prog_hostio")
    for limit in (0, 4096):
        lim = {resource.RLIMIT_FSIZE: limit}
        for argv in ([ls, "/"], [prog, "print"]):
            plain = same_as_plain(env, argv, lim, None, "%s under ulimit -f %d" % (argv, limit))
            check(plain[0] == 0 and plain[1], "%s: the unprofiled run failed" % argv)
        env.clean()
        rc, out, err = run_limited(env, [prog, "print"], lim)
        lines = without_notices(err).decode().splitlines()
        check(rc == 0 and len(lines) == 1 and "nmtrace: writing the profile" in lines[0],
              "ulimit -f %d, not quiet: rc %d, stderr %r (expected one notice)" % (limit, rc, err))
        for p in env.profiles():
            check(header_only(p), "%s: a partial snapshot was left" % p)


def header_only(path):
    """True when the file is empty or holds whole HEADER and INFO records only
    (what the recorder writes at start): nothing of a snapshot."""
    import struct
    data = open(path, "rb").read()
    if not data:
        return True
    off = 8
    while off + 8 <= len(data):
        rtype, _, length = struct.unpack_from("<HHI", data, off)
        if rtype not in (1, 2):
            return False
        off += 8 + length + 4
    return off == len(data)


def case_hostio_errno(env):
    """Recording a free (rate 1: every block sampled, so every free and every
    moving realloc records one) leaves errno as the program set it: the same
    output as unprofiled, and every free keeps it."""
    prog = env.prog("prog_hostio")
    plain = env.run([prog, "errno"], preload=False).stdout
    check(plain.startswith("errno kept by 4000 of 4000 frees"), "unprofiled: %r" % plain)
    env.clean()
    got = env.run([prog, "errno"], {"NMTRACE_RATE": "1", "NMTRACE_QUIET": "1"}).stdout
    check(got == plain, "profiled at rate 1: %r, unprofiled: %r" % (got, plain))
    check(any(True for _ in env.profiles()), "no profile written")


def case_hostio_nofile(env):
    """A program that opens files until EMFILE gets as many as unprofiled,
    or one fewer: the recorder holds no descriptor (libunwind's pipe is
    closed at start), but its writer thread opens one for a moment now and
    then (/proc files and the profile at a snapshot), one at a time, so at
    most one is missing at any instant."""
    import re
    import resource
    prog = env.prog("prog_hostio")

    def count(out):
        m = re.match(rb"opened (\d+) descriptors, then: Too many open files\n$", out)
        check(m is not None, "unexpected output %r" % out)
        return int(m.group(1))

    for limit in (64, 1024):
        lim = {resource.RLIMIT_NOFILE: limit}
        plain = run_limited(env, [prog, "fds"], lim, preload=False)
        want = count(plain[1])
        check(plain[0] == 0 and plain[2] == b"", "unprofiled run: %r" % (plain,))
        for rate in ("1", "524288"):
            got = run_limited(env, [prog, "fds"], lim,
                              extra={"NMTRACE_RATE": rate, "NMTRACE_QUIET": "1"})
            check(got[0] == 0 and got[2] == b"", "ulimit -n %d at rate %s: %r" % (limit, rate, got))
            n = count(got[1])
            check(want - 1 <= n <= want, "ulimit -n %d at rate %s: %d descriptors, unprofiled %d"
                  % (limit, rate, n, want))


def case_hostio_output(env):
    """Unwritable directory, full filesystem, existing file or symlink at the
    output path: the program's output and status are unchanged, one line on
    stderr when the profile cannot be made, nothing written through a link."""
    prog = env.prog("prog_hostio")
    argv = [prog, "print"]
    plain = run_limited(env, argv, preload=False)
    # an existing file and a symlink at the path: both left as they were
    target = os.path.join(env.work, "target")
    with open(target, "w") as f:
        f.write("not a profile\n")
    link = os.path.join(env.work, "link.nmt")
    os.symlink(target, link)
    exist = os.path.join(env.work, "exist.nmt")
    shutil.copy(target, exist)
    for path in (link, exist):
        got = run_limited(env, argv, extra={"NMTRACE_OUTPUT": path})
        got = (got[0], got[1], without_notices(got[2]))
        check(got == plain, "output at %s: result differs from unprofiled (%r)" % (path, got[2]))
        check(open(target).read() == "not a profile\n" and open(exist).read() == open(target).read(),
              "a file at the output path was written")
        alt = path[:-4] + ".1.nmt"
        check(nmtprof.Profile(alt).snapshots, "no profile at %s" % alt)
        os.unlink(alt)
    # a directory we cannot write, and a full filesystem: as root (whom
    # permissions do not stop) both are tiny tmpfs mounts, read-only and full
    root = os.geteuid() == 0
    if root and shutil.which("mount") is None:
        print("SKIP: the unwritable and full filesystem cases need mount as root")
        return 77

    def mount_tmpfs(path, opts):
        os.mkdir(path)
        return subprocess.run(["mount", "-t", "tmpfs", "-o", opts, "tmpfs", path],
                              capture_output=True).returncode == 0

    def expect_one_notice(out, what, quiet):
        got = run_limited(env, argv, extra={"NMTRACE_OUTPUT": out, "NMTRACE_QUIET": quiet})
        check(got[:2] == plain[:2], "%s: exit status or stdout differ: %r" % (what, got[2]))
        lines = without_notices(got[2]).decode().splitlines()
        check(len(lines) == (0 if quiet == "1" else 1) and
              all(line.startswith("nmtrace: ") for line in lines),
              "%s, NMTRACE_QUIET=%s: stderr %r" % (what, quiet, got[2]))

    ro = os.path.join(env.work, "ro")
    if root:
        if not mount_tmpfs(ro, "ro,size=16k"):
            print("SKIP: cannot mount a tmpfs")
            return 77
    else:
        os.mkdir(ro, 0o555)
    try:
        for quiet in ("1", "0"):
            expect_one_notice(os.path.join(ro, "p.nmt"), "unwritable directory", quiet)
        check(os.listdir(ro) == [], "a file appeared in the unwritable directory")
    finally:
        if root:
            subprocess.run(["umount", ro])
        else:
            os.chmod(ro, 0o755)
    if not root:
        print("SKIP: a full filesystem needs root to mount a tmpfs")
        return 77
    mnt = os.path.join(env.work, "full")
    if not mount_tmpfs(mnt, "size=16k"):
        print("SKIP: cannot mount a tmpfs")
        return 77
    try:
        with open(os.path.join(mnt, "filler"), "wb") as f:
            try:
                f.write(b"x" * 65536)
            except OSError:
                pass
        out = os.path.join(mnt, "p.nmt")
        for quiet in ("1", "0"):
            expect_one_notice(out, "full filesystem", quiet)
            if os.path.exists(out):
                check(os.path.getsize(out) == 0, "full filesystem: a partial snapshot was left")
                os.unlink(out)
    finally:
        subprocess.run(["umount", mnt])


def vm_need(env, argv):
    """The smallest RLIMIT_AS (to 1 MiB) under which argv succeeds unprofiled."""
    import resource
    lo, hi = 1 << 20, 4 << 30
    check(run_limited(env, argv, {resource.RLIMIT_AS: hi}, preload=False)[0] == 0,
          "%s fails even with 4 GiB" % argv)
    while hi - lo > (1 << 20):
        mid = (lo + hi) // 2
        if run_limited(env, argv, {resource.RLIMIT_AS: mid}, preload=False)[0] == 0:
            hi = mid
        else:
            lo = mid
    return hi


def case_hostio_vm(env):
    """Under ulimit -v set just above what a program creating N threads needs
    unprofiled, it creates them all profiled too (same output and status),
    and the rings it got were cut down (rec.small_rings). The 24 MiB margin
    is the recorder's fixed cost (its code, static data with the writer's
    8 MiB heap, the writer's stack; about 16 MiB) plus room to spare; before,
    the writer thread's 64 MiB glibc arena and 16 MiB rings per thread at
    rate 1 did not fit."""
    if os.environ.get("NMT_TEST_SANITIZED"):
        # ASan reserves terabytes of address space for its shadow memory:
        # nothing runs under a ulimit -v sized for the plain program.
        print("SKIP: ulimit -v cannot be tested with the ASan build of the recorder")
        return 77
    import resource
    prog = env.prog("prog_hostio")
    for n in (1, 8):
        argv = [prog, "threads", str(n)]
        need = vm_need(env, argv)
        lim = {resource.RLIMIT_AS: need + (24 << 20)}
        plain = same_as_plain(env, argv, lim, None, "%d threads under ulimit -v" % n)
        check(plain[0] == 0, "unprofiled run failed under its own limit")
    env.clean()
    rc, out, err = run_limited(env, argv, lim, extra={"NMTRACE_RATE": "1"})
    check(rc == 0, "rate 1 under ulimit -v: exit status %d" % rc)
    small = env.only_profile().last().counters.get("rec.small_rings", 0)
    check(small >= 1, "rate 1 under ulimit -v: rec.small_rings is %d, expected >= 1" % small)


def case_smaps(env):
    """SMAPS: a mapping the program touched page by page is resident to the
    byte and owned by the stack that mapped it; one it never touched is not
    resident; the residency of the whole record adds up to the process's RSS."""
    env.clean()
    r = env.run([env.prog("prog_resident"), "32"])
    truth = json.loads(r.stdout)
    prof = env.only_profile()
    snap = prof.last()
    check(snap.smaps is not None, "no SMAPS record in the final snapshot")
    syms = nmtprof.Symbols(env.prog("prog_resident"))
    mine = set(nmtprof.stacks_through(prof, snap, syms, "resident_map_site"))
    check(mine, "no site through resident_map_site")
    lo, hi = truth["touched"], truth["touched"] + truth["len"]
    inside = [e for e in snap.smaps if e["start"] < hi and e["end"] > lo]
    got = sum(e["rss"] for e in inside if e["cstack"] in mine)
    # Every page was written once, nothing freed: resident to the byte.
    check(got == truth["len"], "touched mapping: %d resident bytes under its stack, "
          "expected %d (%s)" % (got, truth["len"], inside))
    check(all(e["anonymous"] == e["rss"] for e in inside), "touched mapping not anonymous")
    # The untouched mapping may share a kernel mapping with glibc's own
    # (a malloc chunk mapped next to it): none of that is its.
    other = set(nmtprof.stacks_through(prof, snap, syms, "untouched_map_site"))
    check(other, "no site through untouched_map_site")
    stray = [e for e in snap.smaps if e["cstack"] in other and e["rss"] > 0]
    check(not stray, "the untouched mapping shows resident bytes: %s" % stray)
    check(all(a["end"] <= b["start"] for a, b in zip(snap.smaps, snap.smaps[1:])),
          "SMAPS entries overlap or are out of order")
    # proc.rss is the kernel's running count, read just after SMAPS on the
    # same (only) thread: they differ by what the snapshot's own encoding
    # touched in between (its buffer, under 1 MiB here) and the kernel's
    # per-CPU counter slack (at most 64 pages per CPU).
    total = sum(e["rss"] for e in snap.smaps)
    rss = snap.counters["proc.rss"]
    slack = (1 << 20) + 64 * 4096 * (os.cpu_count() or 1)
    check(abs(total - rss) <= slack, "SMAPS adds up to %d, proc.rss is %d" % (total, rss))
    print("smaps: %d entries, %d bytes resident, proc.rss %d" % (len(snap.smaps), total, rss))


def case_rss_jemalloc(env):
    """nmreport --rss with jemalloc preloaded: jemalloc's own mmaps are its
    malloc heap, never also mmap of an owner; the program's own mapping is
    mmap by owner under its site; the parts add up to the total."""
    lib = "/usr/lib/x86_64-linux-gnu/libjemalloc.so.2"
    if not os.path.exists(lib) or os.environ.get("NMT_TEST_SANITIZED"):
        print("SKIP: libjemalloc.so.2 not installed, or the sanitized recorder (see jemalloc)")
        return 77
    env.clean()
    r = env.run([env.prog("prog_resident"), "32"], {"LD_PRELOAD": env.lib + ":" + lib})
    truth = json.loads(r.stdout)
    rep = subprocess.run([os.path.join(env.bindir, "nmreport"), "--json", env.profiles()[0]],
                         capture_output=True, text=True, timeout=120)
    check(rep.returncode == 0, "nmreport --json failed: %s" % rep.stderr[-500:])
    res = json.loads(rep.stdout)["files"][0]["resident"]
    check(res is not None, "no resident split (no SMAPS record)")
    parts = res["parts"]
    check(sum(parts.values()) == res["total"], "parts %s do not add up to %d" % (parts, res["total"]))
    check("jemalloc" in (res["malloc_other_allocator"] or ""), "allocator: %s" % res)
    # The 4 MiB block the program wrote lives in jemalloc's own mapping.
    check(parts["malloc_other"] >= 4 << 20, "jemalloc's heap: %d" % parts["malloc_other"])
    owners = res["mmap_owners"]
    check(owners and "resident_map_site" in owners[0]["name"], "mmap owners: %s" % owners)
    check(owners[0]["bytes"] == truth["len"], "resident_map_site: %d resident, expected %d" %
          (owners[0]["bytes"], truth["len"]))
    check(all("jemalloc" not in o["name"] for o in owners), "jemalloc counted as an mmap owner")
    print("rss_jemalloc: jemalloc %d, mmap by owner %d" % (parts["malloc_other"],
                                                          parts["mmap_by_owner"]))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("case")
    ap.add_argument("--lib", required=True)
    ap.add_argument("--bindir", required=True)
    ap.add_argument("--workdir", required=True)
    a = ap.parse_args()
    env = Env(a)
    try:
        rc = globals()["case_" + a.case](env)
    except (Fail, nmtprof.ProfileError) as e:
        print("FAIL:", e)
        return 1
    return rc or 0


if __name__ == "__main__":
    sys.exit(main())
