#!/usr/bin/env python3
"""run_churn.py: nmt_churn plain vs under profilers, interleaved, in one go.

For each size mix (16..4096 and the small 16..256), every round runs the same
churn (after --warmup untimed iterations per thread, so that one-time costs
such as a profiler's per-thread set-up are not timed) once per configuration,
in a rotated order:

  plain          no profiler
  floor          LD_PRELOAD=libnmt_floor.so (bench/floor.c): hooks that only
                 forward, the cost of interposing at all; nmtrace's distance
                 to it is printed
  nmt            LD_PRELOAD=libnmtrace.so, default rate (512 KiB)
  nmt-nosample   NMTRACE_RATE=1T, a rate no run reaches: nmtrace's hooks on
                 their fast path alone, so that the default rate's distance to
                 the floor splits into the hooks' part and the samples' part
  nmt-rate1      NMTRACE_RATE=1: every allocation recorded
  nmt-rate1-16M  the same with NMTRACE_RING=16384 (16 MiB rings), to show
                 whether the ring size is what loses events
  heaptrack      heaptrack -o FILE nmt_churn ... (skipped when not installed)
  jemalloc       LD_PRELOAD=libjemalloc.so.2 (reference allocator)
  jemalloc-prof  the same with MALLOC_CONF=prof:true,lg_prof_sample:19

and prints, per mix, median ns/op and the median over rounds of each run's
ratio to the plain run of the same round (or to jemalloc for jemalloc-prof).
Three clocks: wall (what the application waits, but on a shared machine also
whatever else runs), the churn threads' own CPU time (the cost the profiler
adds to the application's threads, robust to other load), and the process's
CPU time (adds background threads: nmtrace's writer).

The nmtrace rows read each profile's counters: the recorder's own memory
(rec.own_bytes) is printed against its budget of 4 MiB + 1 MiB per thread
slot, and the rate-1 rows: an event lost to a full ring
makes a run faster, and it is said how many were lost.

Not a test: nothing here passes or fails; the targets are printed as met or
missed with the measured margin. Temporary files go to one directory that is
removed at the end; every run is bounded by --timeout.
"""
import argparse
import os
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import benchlib as bl  # noqa: E402

MIXES = [("16..4096", ["--min", "16", "--max", "4096"], 1.03),
         ("16..256", ["--small"], 1.06)]
CLOCKS = [("wall", "ns_per_op"), ("thread cpu", "thread_cpu_ns_per_op"),
          ("process cpu", "cpu_ns_per_op")]
ALL_CONFIGS = ["plain", "floor", "nmt", "nmt-nosample", "nmt-rate1", "nmt-rate1-16M", "heaptrack",
               "jemalloc", "jemalloc-prof"]


def load_nmtprof():
    sys.path.insert(0, os.path.join(bl.REPO, "tests", "recorder"))
    try:
        import nmtprof
        return nmtprof
    except ImportError:
        return None


class Runner:
    def __init__(self, a, build, tmp):
        self.a, self.tmp = a, tmp
        self.churn = bl.need_file(os.path.join(build, "bin", "nmt_churn"), "nmt_churn")
        self.nmt = bl.need_file(os.path.join(build, "lib", "libnmtrace.so"), "libnmtrace.so")
        self.floor = bl.need_file(os.path.join(build, "lib", "libnmt_floor.so"), "libnmt_floor.so")
        self.heaptrack = bl.tool("heaptrack")
        self.jemalloc = bl.find_jemalloc()
        self.nmtprof = load_nmtprof()
        self.notes = []

    def configs(self):
        out = []
        for c in self.a.configs.split(","):
            if c not in ALL_CONFIGS:
                sys.exit("unknown configuration %r (known: %s)" % (c, ", ".join(ALL_CONFIGS)))
            if c == "heaptrack" and not self.heaptrack:
                self.notes.append("heaptrack is not installed: its rows are skipped")
                continue
            if c.startswith("jemalloc") and not self.jemalloc:
                self.notes.append("libjemalloc.so.2 not found: jemalloc rows are skipped")
                continue
            out.append(c)
        if "plain" not in out:
            out.insert(0, "plain")
        if "jemalloc-prof" in out and "jemalloc" not in out:
            out.insert(out.index("jemalloc-prof"), "jemalloc")  # its base
        return out

    def command(self, cfg, args):
        env = dict(os.environ)
        for k in list(env):
            if k.startswith("NMTRACE_") or k in ("LD_PRELOAD", "MALLOC_CONF"):
                del env[k]
        cmd = [self.churn] + args
        prof = None
        if cfg.startswith("nmt"):
            env["LD_PRELOAD"] = self.nmt
            env["NMTRACE_QUIET"] = "1"
            env["NMTRACE_OUTPUT"] = os.path.join(self.tmp, "nmt.%p.nmt")
            if cfg.startswith("nmt-rate1"):
                env["NMTRACE_RATE"] = "1"
            if cfg == "nmt-nosample":
                env["NMTRACE_RATE"] = "1T"
            if cfg == "nmt-rate1-16M":
                env["NMTRACE_RING"] = "16384"
            prof = "nmt"
        elif cfg == "floor":
            env["LD_PRELOAD"] = self.floor
        elif cfg == "heaptrack":
            cmd = [self.heaptrack, "-o", os.path.join(self.tmp, "heaptrack.%p")] + cmd
        elif cfg.startswith("jemalloc"):
            env["LD_PRELOAD"] = self.jemalloc
            if cfg == "jemalloc-prof":
                env["MALLOC_CONF"] = "prof:true,lg_prof_sample:19,prof_prefix:%s" % (
                    os.path.join(self.tmp, "jeprof"))
        return cmd, env, prof

    def counters(self):
        """Counters of the one profile the last nmtrace run left, then removes
        every file of the temporary directory."""
        got = None
        for name in sorted(os.listdir(self.tmp)):
            path = os.path.join(self.tmp, name)
            if name.endswith(".nmt") and self.nmtprof and got is None:
                try:
                    got = self.nmtprof.Profile(path).last().counters
                except Exception as e:  # a bad profile is reported, not fatal here
                    self.notes.append("could not read %s: %s" % (name, e))
            os.unlink(path)
        return got

    def run(self, cfg, args):
        cmd, env, prof = self.command(cfg, args)
        rc, out, err, tree_cpu, wall = bl.run_timed(cmd, env, self.a.timeout)
        res = bl.parse_result(out)
        counters = self.counters()
        if rc != 0 or res is None:
            self.notes.append("%s %s failed (rc %s): %s" % (
                cfg, " ".join(args), rc, (err.strip().splitlines() or ["no output"])[-1]))
            return None
        if cfg == "jemalloc-prof" and "Invalid conf" in err:
            self.notes.append("this jemalloc has no profiler: %s" % err.strip().splitlines()[0])
        res["tree_cpu_s"] = tree_cpu
        res["run_wall_s"] = wall
        if prof and counters is not None:
            res["counters"] = counters
        return res


def summarise(runner, mix, rows, cfgs, allocs):
    name, _args, target = mix
    print("\n### mix %s bytes: %d threads x %d iterations (after %d untimed), window %d, "
          "%d rounds\n" % (name, runner.a.threads, runner.a.iters, runner.a.warmup,
                           runner.a.window, len(rows)))
    head = "| config |"
    for clock, _k in CLOCKS:
        head += " %s ns/op | x base |" % clock
    head += " run cpu s |"
    print(head)
    print("|" + "---|" * (2 + 2 * len(CLOCKS)))
    for c in cfgs:
        base = "jemalloc" if c == "jemalloc-prof" else "plain"
        line = "| %s |" % c
        for _clock, k in CLOCKS:
            vals = [r[c][k] for r in rows if r.get(c)]
            ratio, _ = bl.paired_ratio(rows, c, base, k)
            line += " %s | %s |" % (bl.fmt(bl.median(vals), "%.1f"),
                                     "" if c == "plain" else bl.fmt(ratio, "%.3f"))
        tcpu = [r[c]["tree_cpu_s"] for r in rows if r.get(c)]
        line += " %s |" % bl.fmt(bl.median(tcpu), "%.2f")
        print(line)
    print("\n(x base: median over rounds of the run's ratio to plain in the same round; "
          "jemalloc-prof is divided by jemalloc. run cpu s: CPU seconds of the whole run, "
          "every process, start-up and exit included.)\n")

    verdicts = []
    if "nmt" in cfgs:
        for clock, k in CLOCKS[:2]:
            r, rs = bl.paired_ratio(rows, "nmt", "plain", k)
            verdicts.append("default rate vs plain (%s): %.3fx, target <= %.2fx: %s" % (
                clock, r, target, bl.verdict(r, bl.median_ci(rs), target)))
    if "nmt" in cfgs:
        # The same cost in time, which a faster or slower host changes less
        # than the ratio: the recorder's work is mostly memory latency.
        ds = bl.paired_diffs(rows, "nmt", "plain", "thread_cpu_ns_per_op")
        if ds:
            lo, hi = bl.median_ci(ds)
            verdicts.append("default rate vs plain (thread cpu): %+.1f ns per op%s" % (
                bl.median(ds), "" if lo != lo else
                " (95%% interval of the median %+.1f..%+.1f)" % (lo, hi)))
    if "nmt" in cfgs and "floor" in cfgs:
        for clock, k in CLOCKS[:2]:
            r, _ = bl.paired_ratio(rows, "nmt", "floor", k)
            f, _ = bl.paired_ratio(rows, "floor", "plain", k)
            verdicts.append("floor vs plain (%s): %.3fx; default rate vs floor: %.3fx (%+.1f%%)" % (
                clock, f, r, (r - 1) * 100))
    if "nmt" in cfgs and "nmt-nosample" in cfgs:
        base = "floor" if "floor" in cfgs else "plain"
        for clock, k in CLOCKS[:2]:
            h, _ = bl.paired_ratio(rows, "nmt-nosample", base, k)
            r, _ = bl.paired_ratio(rows, "nmt", "nmt-nosample", k)
            verdicts.append("default rate (%s): hooks alone %.3fx %s, samples on top %.3fx" % (
                clock, h, base, r))
    verdicts += own_memory(rows, cfgs)
    for rc in ("nmt-rate1", "nmt-rate1-16M"):
        if rc in cfgs and "heaptrack" in cfgs:
            for clock, k in CLOCKS[:2]:
                r, rs = bl.paired_ratio(rows, "heaptrack", rc, k)
                verdicts.append("%s vs heaptrack (%s): %.2fx faster, target >= 3x: %s" % (
                    rc, clock, r, bl.verdict(r, bl.median_ci(rs), 3.0, at_most=False)))
    for rc in ("nmt-rate1", "nmt-rate1-16M"):
        if rc not in cfgs:
            continue
        cs = [r[rc]["counters"] for r in rows if r.get(rc) and "counters" in r[rc]]
        if not cs:
            verdicts.append("%s: no counters (profile reader missing or profile unreadable)" % rc)
            continue
        drops = [c.get("rec.ring_drops", 0) for c in cs]
        fdrops = [c.get("rec.free_drops", 0) for c in cs]
        samples = [c.get("rec.samples", 0) for c in cs]
        md = bl.median(drops)
        verdicts.append(
            "%s ring drops: median %d allocation events lost of %d allocations (%.1f%%), "
            "%d frees lost, %d samples recorded%s" % (
                rc, md, allocs, 100.0 * md / allocs, bl.median(fdrops), bl.median(samples),
                "" if md == 0 else " -- this run is faster than a lossless one would be"))
    for v in verdicts:
        print("- " + v)


def own_memory(rows, cfgs):
    """The recorder's own memory in each nmtrace configuration (median over
    rounds of the last snapshot's rec.own_* counters) against its budget."""
    out = []
    for c in cfgs:
        cs = [r[c]["counters"] for r in rows if r.get(c) and "counters" in r[c]]
        cs = [x for x in cs if "rec.own_bytes" in x]
        if not c.startswith("nmt") or not cs:
            continue
        mib = lambda k: bl.median([x[k] for x in cs]) / 1048576.0  # noqa: E731
        slots = bl.median([x["rec.thread_slots"] for x in cs])
        budget = 4 + slots
        out.append("%s own memory: %.2f MiB (rings %.2f, fixed %.2f, writer heap %.2f) for %d "
                   "thread slots; budget 4 MiB + 1 MiB per slot = %.0f MiB: %s" % (
                       c, mib("rec.own_bytes"), mib("rec.own_rings"), mib("rec.own_fixed"),
                       mib("rec.own_writer_heap"), slots, budget,
                       ("MET" if mib("rec.own_bytes") <= budget else "MISSED") if c == "nmt"
                       else "(the budget is for the default rate)"))
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--build", help="build directory (default $NMT_BUILD or <repo>/build)")
    ap.add_argument("--rounds", type=int, default=7)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--iters", type=int, default=500000, help="pairs per thread")
    ap.add_argument("--window", type=int, default=1000)
    ap.add_argument("--warmup", type=int, default=100000,
                    help="untimed iterations per thread first (one-time costs)")
    ap.add_argument("--configs", default=",".join(ALL_CONFIGS))
    ap.add_argument("--mixes", default="16..4096,16..256")
    ap.add_argument("--timeout", type=int, default=60, help="seconds per run")
    ap.add_argument("--budget", type=int, default=290,
                    help="seconds: no new round starts that would end past this")
    a = ap.parse_args()
    build = bl.find_build(a.build)
    mixes = [m for m in MIXES if m[0] in a.mixes.split(",")]
    with tempfile.TemporaryDirectory(prefix="nmt-churn-") as tmp:
        runner = Runner(a, build, tmp)
        cfgs = runner.configs()
        print("# nmt_churn, %s" % bl.machine_summary())
        print("# build %s; configurations: %s" % (build, ", ".join(cfgs)), flush=True)
        rows = {m[0]: [] for m in mixes}
        t0 = time.monotonic()
        for r in range(a.rounds):
            rs = time.monotonic()
            for mix in mixes:
                args = ["-t", str(a.threads), "-n", str(a.iters), "-w", str(a.window),
                        "--warmup", str(a.warmup)] + mix[1]
                row = {}
                for c in bl.rotated(cfgs, r):
                    row[c] = runner.run(c, args)
                rows[mix[0]].append(row)
            took = time.monotonic() - rs
            print("# round %d done in %.0f s" % (r + 1, took), file=sys.stderr, flush=True)
            if r + 1 < a.rounds and time.monotonic() - t0 + took > a.budget:
                runner.notes.append("stopped after %d of %d rounds: --budget %d s reached" % (
                    r + 1, a.rounds, a.budget))
                break
        allocs = a.threads * (a.iters + a.warmup + a.window)
        for mix in mixes:
            summarise(runner, mix, rows[mix[0]], cfgs, allocs)
        print("\n# load average at the end: %.1f %.1f %.1f; %.0f s in all" % (
            *os.getloadavg(), time.monotonic() - t0))
        for n in dict.fromkeys(runner.notes):
            print("note: " + n)


if __name__ == "__main__":
    main()
