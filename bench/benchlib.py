"""benchlib: what the bench/ runners share (stdlib only).

Finding the build's artefacts, running one timed child with a bound on its run
time, interleaving configurations over rounds, and the statistics (medians of
per-round ratios, so that a slow moment of the shared machine hits both sides
of a pair alike).
"""
import math
import os
import resource
import shutil
import statistics
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)


def find_build(arg):
    """The build directory: --build, then $NMT_BUILD, then <repo>/build."""
    for cand in (arg, os.environ.get("NMT_BUILD"), os.path.join(REPO, "build")):
        if cand and os.path.isdir(cand):
            return os.path.abspath(cand)
    sys.exit("no build directory: pass --build DIR (or set NMT_BUILD)")


def need_file(path, what):
    if not os.path.exists(path):
        sys.exit("%s not found at %s (build it first)" % (what, path))
    return path


def find_jemalloc():
    for d in ("/usr/lib/x86_64-linux-gnu", "/usr/lib64", "/usr/lib", "/usr/local/lib"):
        p = os.path.join(d, "libjemalloc.so.2")
        if os.path.exists(p):
            return p
    return None


def run_timed(cmd, env, timeout, on_start=None):
    """Runs cmd; returns (rc, stdout, stderr, cpu_seconds of it and every
    descendant it waited for, wall seconds). A child past `timeout` is killed
    with its whole process group. on_start(pid), when given, runs once the
    child is started (to attach to it, say)."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.monotonic()
    p = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                         text=True, start_new_session=True)
    if on_start is not None:
        on_start(p.pid)
    try:
        out, err = p.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(p.pid, 9)
        out, err = p.communicate()
        return None, out, err + "\n(killed after %d s)" % timeout, 0.0, timeout
    wall = time.monotonic() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return p.returncode, out, err, cpu, wall


def parse_result(out):
    """The key=value pairs of the line starting with RESULT, as floats."""
    for line in out.splitlines():
        if line.startswith("RESULT "):
            kv = dict(f.split("=", 1) for f in line.split()[1:])
            return {k: float(v) for k, v in kv.items()}
    return None


def rotated(items, r):
    """items in the order of round r: rotated so every configuration takes
    every position, which spreads warm-up and drift effects evenly."""
    k = r % len(items)
    return items[k:] + items[:k]


def median(xs):
    return statistics.median(xs) if xs else float("nan")


def median_ci(xs, level=0.95):
    """A distribution-free confidence interval of the median of xs: the
    order statistics x[j] and x[n-1-j] for the largest j at which the
    median lies between them with probability >= level (the count of values
    below the median is binomial(n, 1/2)). (nan, nan) when n < 6, where
    even the whole range covers less than 95 %."""
    s, n = sorted(xs), len(xs)
    j, below = -1, 0.0  # below: P(Binomial(n, 1/2) <= j + 1)
    while True:
        below += math.comb(n, j + 1) / 2.0 ** n
        if 1 - 2 * below < level:
            break
        j += 1
    return (s[j], s[n - 1 - j]) if j >= 0 else (float("nan"), float("nan"))


def verdict(value, ci, target, at_most=True, unit=None):
    """MET or MISSED when the median's 95 % interval lies on one side of the
    target; otherwise the median is within this machine's noise of it, and
    saying which side would be a coin toss. value is a ratio, or with unit
    (e.g. "ms") a difference in that unit."""
    lo, hi = ci
    met = value <= target if at_most else value >= target
    span = "%.3f-%.3f" % (lo, hi) if unit is None else "%+.1f..%+.1f %s" % (lo, hi, unit)
    ci_txt = "" if lo != lo else " (95%% interval of the median %s)" % span
    if lo == lo and lo <= target <= hi:
        return "within noise of the target, median %s%s" % ("under" if met else "over", ci_txt)
    if met:
        return "MET" + ci_txt
    if unit is not None:
        return "MISSED by %.1f %s%s" % (abs(value - target), unit, ci_txt)
    return "MISSED by %.1f%%%s" % (abs(value / target - 1) * 100, ci_txt)


def paired_ratio(rows, num, den, key):
    """Median over rounds of num/den, pairing the runs of the same round."""
    rs = []
    for r in rows:
        a, b = r.get(num), r.get(den)
        if a is not None and b is not None and b.get(key):
            rs.append(a[key] / b[key])
    return median(rs), rs


def paired_diffs(rows, num, den, key):
    """num - den in each round where both ran."""
    return [r[num][key] - r[den][key] for r in rows if r.get(num) and r.get(den)]


def fmt(x, spec="%.2f"):
    return "-" if x is None or x != x else spec % x


def machine_summary():
    cpu = "?"
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    load = os.getloadavg()
    return "nproc %d, %s, kernel %s, load average %.1f %.1f %.1f" % (
        os.cpu_count(), cpu, os.uname().release, *load)


def tool(name):
    return shutil.which(name)


def cachegrind_parts(path, classify, events=("Ir",)):
    """Counts per part in one cachegrind output file: classify(file,
    function) names the part of each function's count. With the default
    events, instructions per part; otherwise the sum of the named events
    (cache misses, say) per part."""
    out = {}
    fl = fn = ""
    cols_of = [0]
    with open(path) as f:
        for line in f:
            if line.startswith("events:"):
                names = line.split()[1:]
                cols_of = [names.index(e) for e in events if e in names]
            elif line.startswith("fl="):
                fl = line[3:].strip()
            elif line.startswith("fn="):
                fn = line[3:].strip()
            elif line[:1].isdigit():
                cols = line.split()[1:]
                got = sum(int(cols[i]) for i in cols_of if i < len(cols))
                if got:
                    key = classify(fl, fn)
                    out[key] = out.get(key, 0) + got
    return out
