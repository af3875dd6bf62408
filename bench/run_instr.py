#!/usr/bin/env python3
"""run_instr.py: what the recorder costs per op in instructions and simulated
cache misses (valgrind's cachegrind), a measure other load cannot disturb.
The floor row is libnmt_floor.so (bench/floor.c): hooks that only forward.

On a shared machine wall and CPU times move by tens of percent between runs;
instruction counts do not. For each size mix and configuration (plain, the floor,
nmtrace at the default rate, nmtrace at rate 1) nmt_churn runs on one thread under
cachegrind twice, with N1 and N2 iterations; the difference divided by
N2 - N1 is the steady-state cost of one op (one free+malloc pair), start-up
and exit cancelled out. Printed per op: instructions (Ir), L1 data read and
write misses (D1mr, D1mw) and last-level read misses (DLmr), and the
difference to plain and to the floor (nmtrace's distance to what any
forwarding interposer pays). nmtrace runs with a fixed NMTRACE_SEED, so the
counts repeat from run to run. With --parts, each nmtrace configuration's
instructions are also split by part (hooks' fast path, unwinding, the rest
of the sampled path, writer thread, JVM bridge), from cachegrind's
per-function counts of the same runs. Cachegrind serialises threads, so nmtrace's writer
thread's work is included in the nmtrace rows.

Cache figures are cachegrind's simulation of this machine's caches, not
hardware counters; they show where the recorder adds misses, not their cycle
cost. With --cold the simulated caches are made tiny (2 KiB L1s, a 16 KiB
last level), so that the thousands of program ops between two samples at the
default rate evict everything the recorder touched: each part's last-level
misses (code and data) per sample are then the distinct cache lines it
touches per sample, as a rarely sampled program sees them (the hooks' fast
path, whose lines would then miss on every op, is left out of that table).
Not a test.
"""
import argparse
import math
import os
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import benchlib as bl  # noqa: E402

SHOW = ["Ir", "D1mr", "D1mw", "DLmr"]
MIXES = [("16..4096", ["--min", "16", "--max", "4096"]), ("16..256", ["--small"])]
MIX_RANGE = {"16..4096": (16, 4096), "16..256": (16, 256)}


def totals(path):
    """Event totals from a cachegrind output file (its "summary:" line)."""
    with open(path) as f:
        for line in f:
            if line.startswith("events:"):
                names = line.split()[1:]
            elif line.startswith("summary:"):
                return dict(zip(names, (int(x) for x in line.split()[1:])))
    raise RuntimeError("no summary in " + path)


# --parts: where nmtrace's instructions go, by the source file (and for some,
# the function) cachegrind charges each one to. Inlined code is charged to its
# header with the caller's name: nmt_sampler.h's countdown in malloc is the
# hooks', nmt_ring.h's inside the writer's round is the writer's. libunwind
# has no symbols: its instructions are "???". libm's are split by use.
HOOK_FNS = {"malloc", "free", "calloc", "realloc"}
UNWIND_FNS = {"nmt__capture", "safe_access_mem", "stack_bounds", "stack_end_above", "fp_walk",
              "fast_walk", "first_foreign", "same_stack", "backtrace", "take_stack",
              "nmt__gate_enter", "nmt__gate_leave"}
UNWIND_FILES = ("???", "nmt_unwind", "nmt_cfi", "nmt_forkgate")  # file name prefixes
WRITER_FILES = {"nmt_writer.c", "nmt_livetab.c", "nmt_livetab.h", "nmt_stacktab.c", "nmt_snapshot.c",
                "nmt_smaps.c", "nmt_os.c", "nmt_mmap_model.c", "nmt_wheap.c", "nmt_enc.c"}
# run: the writer's merge of the rings (nmt_writer.c), with the ring and stack
# table headers inlined into it (nmt_cfi_insn.c's run is the unwinder's, by file).
WRITER_FNS = {"intern", "apply_alloc", "apply_free", "process", "nmt_sampler_weight", "run"}
PARTS = ["hooks' fast path (malloc, free, calloc, realloc)", "unwinding",
         "sampled path, the rest (decision, gap, live set, filter marks, ring pushes, slow frees)",
         "writer thread", "JVM bridge", "program and glibc (vs plain)"]


def part(fl, fn):
    """The PARTS index of the instructions cachegrind charged to (fl, fn)."""
    base, fn = os.path.basename(fl), fn.split(".")[0]
    if fn.startswith("__expm1"):
        return 3  # the writer's sample weights
    if fn.startswith("__ieee754_log"):
        return 2  # the sampling gap
    if not base.startswith("nmt_") and base != "???":
        return 5
    if fn in HOOK_FNS:
        return 0
    if base.startswith(UNWIND_FILES) or fn in UNWIND_FNS:
        return 1
    if base in WRITER_FILES or fn in WRITER_FNS or fn.startswith("nmt__writer"):
        return 3
    if base.startswith("nmt_jvm"):
        return 4
    return 2


def parts(path, events=("Ir",)):
    """Ir (or the sum of other events) per part in a cachegrind output file."""
    got = bl.cachegrind_parts(path, part, events)
    return [got.get(i, 0) for i in range(len(PARTS))]


COLD_CACHES = ["--I1=2048,2,64", "--D1=2048,2,64", "--LL=16384,4,64"]
COLD_EVENTS = ("ILmr", "DLmr", "DLmw")
DEFAULT_RATE = 524288


def ops_per_sample(cfg, lo, hi):
    """Expected ops per sampled allocation: sizes uniform in [lo, hi], each
    sampled with probability 1 - exp(-size/rate) (1 at rate 1)."""
    if cfg.startswith("nmt-rate1"):
        return 1.0
    p = sum(-math.expm1(-s / DEFAULT_RATE) for s in range(lo, hi + 1)) / (hi - lo + 1)
    return 1.0 / p


def print_cold(mix, per_lines, cfgs, lo, hi):
    """The --cold table: each part's cache lines per sample, less plain's.
    The hooks' fast path and the program's rows are left out: with caches
    this small their lines miss on every op, which a real cache keeps."""
    shown = [c for c in cfgs if c.startswith("nmt")]
    print("\n### mix %s bytes, cache lines touched per sample (--cold: last-level misses, "
          "code + data)\n" % mix)
    print("| part | " + " | ".join(shown) + " |")
    print("|---|" + "---|" * len(shown))
    for i, name in enumerate(PARTS):
        if i in (0, 5):
            continue
        print("| %s | %s |" % (name, " | ".join(
            "%.1f" % ((per_lines[c][i] - per_lines["plain"][i]) * ops_per_sample(c, lo, hi))
            for c in shown)))


def print_parts(mix, per_parts, cfgs):
    """The --parts table of one mix: Ir per op of each part, per nmtrace
    configuration, less the plain run's (which has some too: the program's
    PLT jumps to malloc and free have no symbols, "???")."""
    shown = [c for c in cfgs if c.startswith("nmt")]
    print("\n### mix %s bytes, where nmtrace's instructions go, per op\n" % mix)
    print("| part | " + " | ".join(shown) + " |")
    print("|---|" + "---|" * len(shown))
    for i, name in enumerate(PARTS):
        vals = []
        for c in shown:
            vals.append("%.2f" % (per_parts[c][i] - per_parts["plain"][i]))
        print("| %s | %s |" % (name, " | ".join(vals)))


def vs(ir, base_ir):
    """The distance of ir to base_ir, in instructions and percent."""
    return "%+.1f (%+.1f%%)" % (ir - base_ir, 100 * (ir / base_ir - 1))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--build")
    ap.add_argument("--n1", type=int, default=100000)
    ap.add_argument("--n2", type=int, default=300000)
    ap.add_argument("--configs", default="plain,floor,nmt,nmt-rate1")
    ap.add_argument("--parts", action="store_true",
                    help="also print where nmtrace's instructions go, by part")
    ap.add_argument("--cold", action="store_true",
                    help="tiny simulated caches: also print each part's cache lines per sample")
    a = ap.parse_args()
    if not bl.tool("valgrind"):
        sys.exit("valgrind is not installed")
    build = bl.find_build(a.build)
    churn = bl.need_file(os.path.join(build, "bin", "nmt_churn"), "nmt_churn")
    nmt = bl.need_file(os.path.join(build, "lib", "libnmtrace.so"), "libnmtrace.so")
    floor = bl.need_file(os.path.join(build, "lib", "libnmt_floor.so"), "libnmt_floor.so")
    cfgs = a.configs.split(",")
    if "plain" not in cfgs:
        cfgs.insert(0, "plain")
    print("# cachegrind, nmt_churn -t 1, per op = (run(%d) - run(%d)) / %d; %s" % (
        a.n2, a.n1, a.n2 - a.n1, bl.machine_summary()))
    with tempfile.TemporaryDirectory(prefix="nmt-instr-") as tmp:
        for mix, margs in MIXES:
            per, per_parts, per_lines = {}, {}, {}
            for c in cfgs:
                env = {k: v for k, v in os.environ.items()
                       if not k.startswith("NMTRACE_") and k != "LD_PRELOAD"}
                if c == "floor":
                    env["LD_PRELOAD"] = floor
                elif c != "plain":
                    # A fixed seed: both runs draw the same gaps, so N2 - N1
                    # ops hold the same samples from one build to the next.
                    env.update(LD_PRELOAD=nmt, NMTRACE_QUIET="1", NMTRACE_SEED="1",
                               NMTRACE_OUTPUT=os.path.join(tmp, "nmt.%p.nmt"))
                    if c.startswith("nmt-rate1"):
                        env["NMTRACE_RATE"] = "1"
                    if c.endswith("-libunwind"):  # the reference unwinder, for comparison
                        env["NMTRACE_UNWIND"] = "libunwind"
                tot, got, lines = [], [], []
                for n in (a.n1, a.n2):
                    out = os.path.join(tmp, "cg.out")
                    cmd = ["valgrind", "--tool=cachegrind", "--cache-sim=yes"] + (
                        COLD_CACHES if a.cold else []) + [
                        "--cachegrind-out-file=" + out, churn, "-t", "1", "-n", str(n)] + margs
                    if a.cold and bl.tool("setarch"):
                        # Caches this small make the counts depend on where
                        # things are: the same addresses in every run.
                        cmd = ["setarch", os.uname().machine, "-R"] + cmd
                    p = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=900)
                    if p.returncode != 0:
                        sys.exit("%s failed: %s" % (" ".join(cmd), p.stderr.strip()[-300:]))
                    tot.append(totals(out))
                    if a.parts:
                        got.append(parts(out))
                    if a.cold:
                        lines.append(parts(out, COLD_EVENTS))
                    for f in os.listdir(tmp):
                        os.unlink(os.path.join(tmp, f))
                per[c] = {e: (tot[1][e] - tot[0][e]) / (a.n2 - a.n1) for e in tot[0]}
                if a.parts:
                    per_parts[c] = [(y - x) / (a.n2 - a.n1) for x, y in zip(got[0], got[1])]
                if a.cold:
                    per_lines[c] = [(y - x) / (a.n2 - a.n1) for x, y in zip(lines[0], lines[1])]
            print("\n### mix %s bytes, per op\n" % mix)
            base = [b for b in ("plain", "floor") if b in per]
            print("| config | " + " | ".join(SHOW) + "".join(
                " | Ir vs %s" % b for b in base) + " |")
            print("|---|" + "---|" * (len(SHOW) + len(base)))
            for c in cfgs:
                d = per[c]
                extra = "".join(" | " + vs(d["Ir"], per[b]["Ir"]) if c != b else " | "
                                for b in base)
                print("| %s | %s%s |" % (c, " | ".join(
                    "%.2f" % d.get(e, float("nan")) for e in SHOW), extra))
            if a.parts:
                print_parts(mix, per_parts, cfgs)
            if a.cold:
                lo, hi = MIX_RANGE[mix]
                print_cold(mix, per_lines, cfgs, lo, hi)


if __name__ == "__main__":
    main()
