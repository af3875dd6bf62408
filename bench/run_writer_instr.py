#!/usr/bin/env python3
"""run_writer_instr.py: where nmtrace's instructions go at rate 1, per part.

Runs nmt_churn on one thread (or --threads T) under cachegrind (--cache-sim=no) with
LD_PRELOAD=libnmtrace.so and NMTRACE_RATE=1, twice per size mix (N1 and N2
iterations); the difference divided by N2 - N1 is the steady-state cost of one
op (one free+malloc pair, so two recorded events), start-up and exit
cancelled out. Cachegrind serialises threads, so the writer thread's work is
counted with the application's. Instructions are grouped by the source file
and function cachegrind attributes them to:

  writer: live table        preload/nmt_livetab.c
  writer: stack interning   preload/nmt_stacktab.{c,h} and glibc's memcmp
  writer: rounds            the rest of preload/nmt_writer.c (and the
                            sampling weight, nmt_sampler_weight)
  writer: filter release    nmt_addrfilter_sub called by the writer
  ring: consumer            nmt_ring.h inlined into the writer's round
                            (its merge of the rings: CONSUMER below)
  ring: producer            the rest of nmt_ring.h
  application side          everything else: hooks, unwinding, glibc, churn

Give several --build directories to compare builds (e.g. before and after a
change) in one table. Extra environment for the runs (NMTRACE_UNWIND=fp, ...)
goes in --env. Not a test.
"""
import argparse
import collections
import os
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import benchlib as bl  # noqa: E402

MIXES = {"16..4096": ["--min", "16", "--max", "4096"], "16..256": ["--small"]}
# The writer's functions that inline the consumer side of nmt_ring.h.
CONSUMER = ("nmt__writer_round", "merge", "merge2", "run", "next_event", "cursor_release", "drain")
WRITER = ("writer: live table", "writer: stack interning", "writer: rounds",
          "writer: filter release", "ring: consumer")


def part(path, fn):
    """The part an (object or source file, function) pair belongs to."""
    base = os.path.basename(path or "")
    if base.startswith("nmt_livetab"):
        return "writer: live table"
    if base.startswith("nmt_stacktab") or base.startswith("memcmp"):
        return "writer: stack interning"
    if base == "nmt_writer.c" or fn == "nmt_sampler_weight":
        return "writer: rounds"
    if base == "nmt_addrfilter.h" and fn.startswith("filter_sub"):
        return "writer: filter release"
    if base == "nmt_ring.h":
        return "ring: consumer" if fn in CONSUMER else "ring: producer"
    return "application side"


def parts(path):
    """Instructions per part in one cachegrind output file."""
    return collections.Counter(bl.cachegrind_parts(path, part))


def run(build, n, threads, margs, env, tmp):
    churn = bl.need_file(os.path.join(build, "bin", "nmt_churn"), "nmt_churn")
    lib = bl.need_file(os.path.join(build, "lib", "libnmtrace.so"), "libnmtrace.so")
    out = os.path.join(tmp, "cg.out")
    e = dict(env, LD_PRELOAD=lib, NMTRACE_RATE="1", NMTRACE_QUIET="1",
             NMTRACE_OUTPUT=os.path.join(tmp, "nmt.%p.nmt"))
    cmd = ["valgrind", "--tool=cachegrind", "--cache-sim=no",
           "--cachegrind-out-file=" + out, churn, "-t", str(threads), "-n", str(n)] + margs
    p = subprocess.run(cmd, env=e, capture_output=True, text=True, timeout=900)
    if p.returncode != 0:
        sys.exit("%s failed: %s" % (" ".join(cmd), p.stderr.strip()[-300:]))
    got = parts(out)
    for f in os.listdir(tmp):
        os.unlink(os.path.join(tmp, f))
    return got


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--build", action="append",
                    help="build directory (repeat to compare; default $NMT_BUILD or <repo>/build)")
    ap.add_argument("--n1", type=int, default=20000)
    ap.add_argument("--n2", type=int, default=60000)
    ap.add_argument("--mixes", default="16..4096,16..256")
    ap.add_argument("--threads", type=int, default=1,
                    help="churn threads (2: the writer merges two rings); per op divides by it")
    ap.add_argument("--env", action="append", default=[], help="NAME=VALUE for the runs")
    a = ap.parse_args()
    if not bl.tool("valgrind"):
        sys.exit("valgrind is not installed")
    builds = [bl.find_build(b) for b in (a.build or [None])]
    env = {k: v for k, v in os.environ.items()
           if not k.startswith("NMTRACE_") and k != "LD_PRELOAD"}
    for kv in a.env:
        if "=" not in kv:
            sys.exit("--env %s: give NAME=VALUE" % kv)
        k, v = kv.split("=", 1)
        env[k] = v
    mixes = a.mixes.split(",")
    for mix in mixes:
        if mix not in MIXES:
            sys.exit("--mixes: %s is not one of %s" % (mix, ", ".join(MIXES)))
    cols, per = [], {}
    with tempfile.TemporaryDirectory(prefix="nmt-winstr-") as tmp:
        for mix in mixes:
            for b in builds:
                t1 = run(b, a.n1, a.threads, MIXES[mix], env, tmp)
                t2 = run(b, a.n2, a.threads, MIXES[mix], env, tmp)
                col = "%s %s" % (mix, b)
                cols.append(col)
                per[col] = {k: (t2[k] - t1[k]) / (a.threads * (a.n2 - a.n1)) for k in set(t1) | set(t2)}
    print("# cachegrind, nmt_churn -t %d, NMTRACE_RATE=1 %s, Ir per op = (run(%d) - run(%d)) / %d; %s"
          % (a.threads, " ".join(a.env), a.n2, a.n1, a.threads * (a.n2 - a.n1),
             bl.machine_summary()))
    print("| part | " + " | ".join(cols) + " |")
    print("|---|" + "---|" * len(cols))
    names = list(WRITER) + ["ring: producer", "application side"]
    for k in names:
        print("| %s | %s |" % (k, " | ".join("%.1f" % per[c].get(k, 0.0) for c in cols)))
    print("| **writer, all parts** | %s |" % " | ".join(
        "**%.1f**" % sum(per[c].get(k, 0.0) for k in WRITER) for c in cols))
    print("| whole op | %s |" % " | ".join("%.1f" % sum(per[c].values()) for c in cols))


if __name__ == "__main__":
    main()
