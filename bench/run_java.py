#!/usr/bin/env python3
"""run_java.py: bench/java/NativeChurn plain vs under libnmtrace.so, interleaved.

Three workloads:

  (default)    NativeChurn: --threads x --iters timed iterations after --warmup
               untimed ones
  --seconds S  NativeChurn sized so that its loop takes about S seconds in the
               plain JVM (a calibration run first; --warmup defaults to 0, so the
               JIT's warm-up is part of the run, as in a real short job)
  --sleep MS   bench/java/Sleep: a JVM that only sleeps MS milliseconds: what
               the recorder adds to the JVM's start (spawn to main) and exit
               (end of main to the process reaped), in milliseconds over the
               plain run of the same round

Configurations, each run once per round in a rotated order:

  plain      java ... NativeChurn
  nmt-off    LD_PRELOAD=libnmtrace.so, default rate, NMTRACE_JAVA=off
  nmt-auto   the same with the JVM bridge allowed (the default): sampled
             allocations on Java threads also take the Java stack
  base-auto  (with --base-lib PATH) nmt-auto with another libnmtrace.so, an
             earlier build: before and after in the same invocation
  nmt-asgct  (with --asgct) nmt-auto with NMTRACE_JAVA_WALK=asgct: every
             Java stack taken by AsyncGetCallTrace instead of the bridge's
             own walker, to compare the two in the same invocation
  nmt-attach (with --attach) started plain, then `nmtrace attach PID` as soon
             as the JVM takes SIGQUIT (during the untimed warm-up): the
             overhead once attached, hooks through the GOT instead of
             LD_PRELOAD

Prints median seconds and the median over rounds of each run's ratio to the
plain run of the same round, for the workload's timed loop (after warm-up),
the whole process's wall time (JVM start-up and the final snapshot included)
and the CPU time of the whole process. Also reads each profile's java.*
counters, to show that the bridge really was attached, and the bridge's cost
per Java stack taken: per round, the process CPU of nmt-auto minus that of
nmt-off, divided by nmt-auto's java.stacks (an upper bound: the bridge's
fixed costs, its thread and JVMTI set-up, are included; a lower --rate
spreads them over more stacks; on a loaded machine this difference of two
totals is noise, and --perf is the measurement).

With --perf, each nmtrace configuration then runs once more (--perf-runs N:
N times, alternating, the samples pooled) under `perf record -g` and the
share of the process's CPU samples in the recorder's own code is printed, by
part (bench/java/perfshare.py): a figure the machine's load does not move,
unlike the timed ratios.

Not a test. Every run is bounded by --timeout; temporary files are removed.
"""
import argparse
import os
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import benchlib as bl  # noqa: E402

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "java"))
import perfshare  # noqa: E402

CONFIGS = ["plain", "nmt-off", "nmt-auto"]
JVM_OPTS = "-Xmx256m -Xms256m -Xmn32m -XX:MaxDirectMemorySize=256m -XX:+UseSerialGC"


def load_nmtprof():
    sys.path.insert(0, os.path.join(bl.REPO, "tests", "recorder"))
    try:
        import nmtprof
        return nmtprof
    except ImportError:
        return None


def attacher(launcher, out, notes, rate=None):
    """on_start for nmt-attach: attaches (recording until the JVM exits) as
    soon as the launcher accepts the JVM (it refuses one still starting), at
    --rate's rate when one was given, as the preloaded configurations."""
    opts = ["--rate", rate] if rate else []
    def go(pid):
        end = time.monotonic() + 30
        while True:
            p = subprocess.run([launcher, "attach", "--output", out] + opts + [str(pid)],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
            # A JVM that has not yet installed its SIGQUIT handler is refused
            # with that reason: still starting, as far as the bench knows.
            early = ("still starting" in p.stderr or "not a JVM" in p.stderr
                     or "does not catch SIGQUIT" in p.stderr)
            if p.returncode == 0 or not early or time.monotonic() > end:
                break
            time.sleep(0.01)
        if p.returncode != 0:
            notes.append("attach failed: " + p.stderr.strip())
    return go


def bridge_cost_per_stack(rows):
    """Per round: (process CPU with the bridge - without it) / Java stacks, in us."""
    out = []
    for r in rows:
        on, off = r.get("nmt-auto"), r.get("nmt-off")
        if not on or not off or not on.get("counters"):
            continue
        n = on["counters"].get("java.stacks", 0)
        if n > 0:
            out.append((on["cpu_s"] - off["cpu_s"]) / n * 1e6)
    return out


def lib_of(c, ctx):
    """The libnmtrace.so configuration c preloads."""
    return ctx["base_lib"] if c == "base-auto" else ctx["nmt"]


def config_env(c, nmt, tmp, rate):
    """The environment of configuration c: none of the caller's NMTRACE_*."""
    env = {k: v for k, v in os.environ.items()
           if not k.startswith("NMTRACE_") and k not in ("LD_PRELOAD", "JAVA_TOOL_OPTIONS")}
    if c in ("nmt-off", "nmt-auto", "base-auto", "nmt-asgct"):
        env.update(LD_PRELOAD=nmt, NMTRACE_QUIET="1",
                   NMTRACE_OUTPUT=os.path.join(tmp, "nmt.%p.nmt"),
                   NMTRACE_JAVA="off" if c == "nmt-off" else "auto")
        if c == "nmt-asgct":
            env["NMTRACE_JAVA_WALK"] = "asgct"
        if rate:
            env["NMTRACE_RATE"] = rate
    return env


def last_counters(tmp, nmtprof, notes, c):
    """The counters of the last snapshot of the profile in tmp (then removed)."""
    counters = None
    for name in os.listdir(tmp):
        path = os.path.join(tmp, name)
        if name.endswith(".nmt") and nmtprof and counters is None:
            try:
                counters = nmtprof.Profile(path).last().counters
            except Exception as e:
                notes.append("could not read %s profile: %s" % (c, e))
        os.unlink(path)
    return counters


def run_one(c, cmd, env, ctx):
    """One run of configuration c: its RESULT values plus process_wall_s,
    cpu_s, the spawn-to-main and main-to-reaped times (ms, when the workload
    prints main_start_ns/main_end_ns) and the profile's counters; None on
    failure (said in the notes)."""
    start = attacher(ctx["launcher"], os.path.join(ctx["tmp"], "nmt.attach.nmt"), ctx["notes"],
                     ctx["rate"]) if c == "nmt-attach" else None
    t0 = time.monotonic_ns()
    rc, out, err, cpu, wall = bl.run_timed(cmd, env, ctx["timeout"], on_start=start)
    t1 = time.monotonic_ns()
    res = bl.parse_result(out)
    counters = last_counters(ctx["tmp"], ctx["nmtprof"], ctx["notes"], c)
    if rc != 0 or res is None:
        ctx["notes"].append("%s failed (rc %s): %s" % (
            c, rc, (err.strip().splitlines() or ["no output"])[-1]))
        return None
    if "main_start_ns" in res:
        res["start_ms"] = (res.pop("main_start_ns") - t0) / 1e6
        res["exit_ms"] = (t1 - res.pop("main_end_ns")) / 1e6
    res.update(process_wall_s=wall, cpu_s=cpu, counters=counters)
    return res


def run_rounds(configs, cmd, ctx, rounds, budget):
    rows = []
    t0 = time.monotonic()
    for r in range(rounds):
        rs = time.monotonic()
        row = {}
        for c in bl.rotated(configs, r):
            env = config_env(c, lib_of(c, ctx), ctx["tmp"], ctx["rate"])
            row[c] = run_one(c, cmd, env, ctx)
        rows.append(row)
        took = time.monotonic() - rs
        print("# round %d done in %.0f s" % (r + 1, took), file=sys.stderr, flush=True)
        if r + 1 < rounds and time.monotonic() - t0 + took > budget:
            ctx["notes"].append("stopped after %d of %d rounds: --budget %d s" % (
                r + 1, rounds, budget))
            break
    return rows


def paired_diff(rows, num, den, key):
    """Median over rounds of num - den, pairing the runs of the same round."""
    return bl.median(bl.paired_diffs(rows, num, den, key))


def print_counters(rows, c):
    cs = [x[c]["counters"] for x in rows if x.get(c) and x[c].get("counters")]
    if cs:
        keys = ("java.state", "java.asgct", "java.stacks", "java.walk.own", "java.classes", "rec.samples",
                "rec.ring_drops")
        print("  last run's counters: " + ", ".join(
            "%s %d" % (k, cs[-1][k]) for k in keys if k in cs[-1]))
        # A run whose bridge did not start (an attach refused or failed) has
        # native stacks only: its timing is not that of the configuration.
        bare = sum(1 for x in cs if not x.get("java.stacks"))
        if bare and c != "nmt-off":
            print("  note: %d of %d runs recorded no Java stack (java.state of each: %s)" % (
                bare, len(cs), ", ".join(str(x.get("java.state", "?")) for x in cs)))


def report_sleep(rows, configs, ms):
    print("\nSleep %d ms, %d rounds: medians, and the median over rounds of each run's "
          "difference to the plain run of its round\n" % (ms, len(rows)))
    print("| config | start ms | + plain | exit ms | + plain | process wall s | + plain ms "
          "| process cpu s | + plain ms |")
    print("|---|---|---|---|---|---|---|---|---|")
    for c in configs:
        line = "| %s |" % c
        for k, scale in (("start_ms", 1), ("exit_ms", 1), ("process_wall_s", 1000),
                         ("cpu_s", 1000)):
            vals = [r[c][k] for r in rows if r.get(c)]
            d = paired_diff(rows, c, "plain", k) * scale
            line += " %s | %s |" % (bl.fmt(bl.median(vals), "%.1f" if scale == 1 else "%.3f"),
                                     "" if c == "plain" else bl.fmt(d, "%+.1f"))
        print(line)
    print()
    for c in configs[1:]:
        for what, k in (("start", "start_ms"), ("exit", "exit_ms")):
            ds = bl.paired_diffs(rows, c, "plain", k)
            d = bl.median(ds)
            print("- %s, %s: %+.1f ms over plain; target <= 20 ms: %s" % (
                c, what, d, bl.verdict(d, bl.median_ci(ds), 20, unit="ms")))
        print_counters(rows, c)


def report_churn(rows, configs, a):
    print("\n%d threads x %d iterations (after %d warm-up), %d extra Java frames, %d rounds\n" % (
        a.threads, a.iters, a.warmup, a.depth, len(rows)))
    print("| config | loop s | x plain | loop cpu s | x plain | process wall s | x plain "
          "| process cpu s | x plain |")
    print("|---|---|---|---|---|---|---|---|---|")
    for c in configs:
        line = "| %s |" % c
        for k in ("loop_s", "loop_cpu_s", "process_wall_s", "cpu_s"):
            vals = [r[c][k] for r in rows if r.get(c)]
            ratio, _ = bl.paired_ratio(rows, c, "plain", k)
            line += " %s | %s |" % (bl.fmt(bl.median(vals), "%.3f"),
                                     "" if c == "plain" else bl.fmt(ratio, "%.3f"))
        print(line)
    print()
    for c in configs[1:]:
        rp, _ = bl.paired_ratio(rows, c, "plain", "process_wall_s")
        for what, k in (("loop wall", "loop_s"), ("loop cpu", "loop_cpu_s"), ("process cpu", "cpu_s")):
            v, vs = bl.paired_ratio(rows, c, "plain", k)
            print("- %s vs plain (%s): %.3fx; target <= 1.03x: %s" % (
                c, what, v, bl.verdict(v, bl.median_ci(vs), 1.03)))
        print("  whole process wall (start-up and exit included): %.3fx" % rp)
        print_counters(rows, c)
    per = bridge_cost_per_stack(rows)
    if per:
        print("- JVM bridge CPU per Java stack taken: median %.2f us over %d rounds "
              "(target <= 3 us; fixed costs included; a difference of two noisy totals: "
              "--perf measures it directly)" % (bl.median(per), len(per)))


def report_perf(configs, cmd, ctx, freq, runs):
    """runs runs of each nmtrace configuration under perf, alternating: the
    recorder's share (all runs' samples pooled), and its CPU per sampled
    allocation (rec.samples; the Java stack part also per Java stack,
    java.stacks)."""
    print("\nThe recorder's share of the process's CPU samples (perf record -g, cpu-clock, "
          "%d Hz; %d run%s each, samples pooled; bench/java/perfshare.py), and that CPU time "
          "per sampled allocation\n" % (freq, runs, "" if runs == 1 else "s"))
    perf_configs = [c for c in configs if c in ("nmt-off", "nmt-auto", "base-auto", "nmt-asgct")]
    pooled = {c: [0, {}, {}] for c in perf_configs}  # total, parts, counters summed
    for r in range(runs):
        for c in bl.rotated(perf_configs, r):
            data = os.path.join(ctx["tmp"], "perf.data")
            why = perfshare.record(cmd, config_env(c, lib_of(c, ctx), ctx["tmp"], ctx["rate"]), data,
                                   freq=freq, timeout=ctx["timeout"])
            total, parts = perfshare.shares(data) if not why else (0, {})
            # Also removes perf.data.
            counters = last_counters(ctx["tmp"], ctx["nmtprof"], ctx["notes"], c) or {}
            if why:
                ctx["notes"].append("perf record failed for %s: %s" % (c, why))
                continue
            acc = pooled[c]
            acc[0] += total
            for k, v in parts.items():
                acc[1][k] = acc[1].get(k, 0) + v
            for k in ("rec.samples", "java.stacks"):
                acc[2][k] = acc[2].get(k, 0) + counters.get(k, 0)
    print("| config | samples | recorder | part | share | us per sample |")
    print("|---|---|---|---|---|---|")
    for c in perf_configs:
        total, parts, counters = pooled[c]
        if not total:
            continue
        ours = sum(parts.values())
        nsamp = counters.get("rec.samples", 0)
        per = (lambda n: "%.2f" % (n / freq / nsamp * 1e6)) if nsamp else (lambda n: "-")
        print("| %s | %d | %.2f %% | | | %s |" % (c, total, 100.0 * ours / max(total, 1), per(ours)))
        for part, n in sorted(parts.items(), key=lambda kv: -kv[1]):
            print("| | | | %s | %.2f %% | %s |" % (part, 100.0 * n / max(total, 1), per(n)))
    for c in perf_configs:
        total, parts, counters = pooled[c]
        js, n = counters.get("java.stacks", 0), parts.get(perfshare.JAVA_PART, 0)
        if js and n:
            print("\n%s: %.2f us per Java stack (%d Java stacks, %d sampled allocations)" % (
                c, n / freq / js * 1e6, js, counters.get("rec.samples", 0)))


def calibrate(a, base_cmd, ctx):
    """Iterations per thread for a plain loop of about a.seconds: one short
    plain run, then (for runs over 5 s) one of about 5 s, scaled up."""
    iters, goal = 30000, min(a.seconds, 5.0)
    for _ in range(2):
        env = config_env("plain", ctx["nmt"], ctx["tmp"], None)
        res = run_one("plain", base_cmd + [str(a.threads), str(iters), str(a.warmup), str(a.depth)],
                      env, ctx)
        if res is None or res["loop_s"] <= 0:
            sys.exit("calibration run failed: %s" % "; ".join(ctx["notes"]))
        est = max(1000, int(iters * goal / res["loop_s"]))
        print("# calibration: %d iterations in %.2f s" % (iters, res["loop_s"]),
              file=sys.stderr, flush=True)
        if goal >= a.seconds or abs(est - iters) < iters * 0.1:
            break
        iters = est
    return max(1000, int(est * a.seconds / goal))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--build", help="build directory (default $NMT_BUILD or <repo>/build)")
    ap.add_argument("--rounds", type=int, default=7)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--iters", type=int, default=60000, help="timed iterations per thread")
    ap.add_argument("--warmup", type=int, help="untimed iterations per thread "
                    "(default 20000, 0 with --seconds)")
    ap.add_argument("--depth", type=int, default=0,
                    help="Java frames each NativeChurn worker adds under its loop (default 0)")
    ap.add_argument("--seconds", type=float,
                    help="size the timed loop to about this many seconds of the plain JVM")
    ap.add_argument("--sleep", type=int, metavar="MS",
                    help="run bench/java/Sleep (a JVM sleeping MS ms): start and exit costs")
    ap.add_argument("--rate", help="NMTRACE_RATE for the nmtrace configurations (default: unset)")
    ap.add_argument("--jvm-opts", default=JVM_OPTS)
    ap.add_argument("--java", default=os.path.join(os.environ.get("JAVA_HOME", "/usr"), "bin", "java"))
    ap.add_argument("--timeout", type=int, default=120, help="seconds per run")
    ap.add_argument("--attach", action="store_true",
                    help="also measure nmt-attach (nmtrace attach into the running JVM)")
    ap.add_argument("--asgct", action="store_true",
                    help="also measure nmt-asgct (Java stacks by AsyncGetCallTrace only)")
    ap.add_argument("--perf", type=int, nargs="?", const=2000, metavar="HZ",
                    help="then run each nmtrace configuration once under perf record "
                         "(default 2000 Hz) and print the recorder's share of the CPU")
    ap.add_argument("--base-lib", metavar="PATH",
                    help="also run nmt-auto with this libnmtrace.so (an earlier build's, copied "
                         "into a directory of its own) as configuration base-auto, in the same "
                         "rounds and perf runs")
    ap.add_argument("--perf-runs", type=int, default=1, metavar="N",
                    help="with --perf: N runs of each configuration, alternating, their "
                         "samples pooled (default 1)")
    ap.add_argument("--budget", type=int, default=400,
                    help="seconds: no new round starts that would end past this")
    a = ap.parse_args()
    if a.sleep is not None and (a.sleep < 0 or a.seconds is not None or a.attach):
        sys.exit("--sleep MS takes a non-negative MS and goes without --seconds and --attach")
    if a.seconds is not None and a.seconds <= 0:
        sys.exit("--seconds takes a positive number of seconds, e.g. --seconds 1")
    if a.depth < 0 or a.depth > 5000:
        sys.exit("--depth takes 0 to 5000 Java frames, e.g. --depth 100")
    if a.perf is not None and a.perf <= 0:
        sys.exit("--perf takes a positive sampling rate in Hz, e.g. --perf 2000")
    if a.perf_runs < 1:
        sys.exit("--perf-runs takes a positive number of runs, e.g. --perf-runs 5")
    if a.base_lib and (not os.path.isfile(a.base_lib)
                       or os.path.basename(a.base_lib) != "libnmtrace.so"):
        sys.exit("--base-lib: %s is not a file named libnmtrace.so (copy the earlier build's "
                 "library into a directory of its own: perf finds the recorder by that name)"
                 % a.base_lib)
    if a.warmup is None:
        a.warmup = 0 if a.seconds is not None else 20000
    build = bl.find_build(a.build)
    nmt = bl.need_file(os.path.join(build, "lib", "libnmtrace.so"), "libnmtrace.so")
    classes = os.path.join(build, "bench", "java")
    for cls in ("NativeChurn", "Sleep"):
        bl.need_file(os.path.join(classes, cls + ".class"), cls + ".class (target nmt_bench_java)")
    bl.need_file(os.path.join(build, "lib", "libnmt_bench_jni.so"), "libnmt_bench_jni.so")
    if not os.path.exists(a.java):
        sys.exit("java not found at %s (use --java)" % a.java)
    configs = CONFIGS + (["nmt-attach"] if a.attach else [])
    if a.base_lib:
        configs.append("base-auto")
    if a.asgct:
        configs.append("nmt-asgct")
    t0 = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="nmt-java-") as tmp:
        ctx = dict(nmt=nmt, base_lib=a.base_lib, tmp=tmp, rate=a.rate, timeout=a.timeout, notes=[],
                   nmtprof=load_nmtprof(), launcher=os.path.join(build, "bin", "nmtrace"))
        base = [a.java] + a.jvm_opts.split() + ["-cp", classes]
        if a.sleep is not None:
            cmd = base + ["Sleep", str(a.sleep)]
        else:
            base += ["-Djava.library.path=" + os.path.join(build, "lib"), "NativeChurn"]
            if a.seconds is not None:
                a.iters = calibrate(a, base, ctx)
            cmd = base + [str(a.threads), str(a.iters), str(a.warmup), str(a.depth)]
        print("# %s, %s" % ("Sleep" if a.sleep is not None else "NativeChurn",
                             bl.machine_summary()))
        print("# %s" % " ".join(cmd), flush=True)
        rows = run_rounds(configs, cmd, ctx, a.rounds, a.budget)
        if a.sleep is not None:
            report_sleep(rows, configs, a.sleep)
        else:
            report_churn(rows, configs, a)
        if a.perf:
            if not bl.tool("perf"):
                sys.exit("--perf needs perf (apt-get install linux-perf)")
            report_perf(configs, cmd, ctx, a.perf, a.perf_runs)
    print("\n# load average at the end: %.1f %.1f %.1f; %.0f s in all" % (
        *os.getloadavg(), time.monotonic() - t0))
    for n in dict.fromkeys(ctx["notes"]):
        print("note: " + n)


if __name__ == "__main__":
    main()
