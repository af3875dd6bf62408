#!/usr/bin/env python3
"""Interop tests of nmreport's exports against the tools that read them.

Each check records tests/report/report_exports_prog.c under libnmtrace.so at
rate 1 (exact figures), then:

  pprof    `go tool pprof -top` on --pprof output shows the same top
           allocation sites, in the same order, with the same flat bytes and
           the same total as `nmreport --text` / `--json`, for inuse_space,
           alloc_space and mmap_committed; `go tool pprof -raw` lists the
           sample types in Go's heap order and its samples sum to our totals.
  jeprof   `jeprof --text <program> <file>` on --heap-v2 output shows the
           same top sites in the same order, and the same total.
  flame    the --flamegraph SVG in headless Chromium (tests/report/browser).
  html     the --html page in headless Chromium (tests/report/browser).
  chart    the --timeline-svg chart in headless Chromium (tests/report/browser).

Exit status: 0 pass, 1 fail, 77 skip (the tool is not installed: a clear
message says which).
"""

import argparse
import gzip
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
failures = []


def check(cond, what):
    print(("ok   " if cond else "FAIL ") + what)
    if not cond:
        failures.append(what)
    return cond


def run(cmd, **kw):
    r = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, **kw)
    if r.returncode != 0:
        raise SystemExit(f"FAIL: {' '.join(cmd)} exited {r.returncode}:\n{r.stderr}")
    return r.stdout


def record(a, tmp):
    env = dict(os.environ, LD_PRELOAD=a.preload, NMTRACE_RATE="1", NMTRACE_GROWTH="1M",
               NMTRACE_OUTPUT=os.path.join(tmp, "exp.%p.nmt"), NMTRACE_QUIET="1")
    subprocess.run([a.prog], env=env, check=True)
    files = [f for f in os.listdir(tmp) if f.endswith(".nmt")]
    if len(files) != 1:
        raise SystemExit(f"FAIL: expected one profile in {tmp}, found {files}")
    return os.path.join(tmp, files[0])


def text_top(a, profile, measure_opt):
    """Sites with a non-zero flat value, in nmreport --text order."""
    out = run([a.nmreport, "--text", measure_opt, profile])
    names = []
    for line in out.splitlines()[2:]:
        m = re.match(r"\s*(-?[\d.]+ (?:B|KiB|MiB|GiB|TiB)|-?\d+)\s+[-\d.]+%\s+[-\d.]+%\s+\S+"
                     r"(?: \S+)?\s+[-\d.]+%\s+(\S+)", line)
        if m and not m.group(1).startswith("0 ") and m.group(1) != "0":
            names.append(m.group(2))
    return names


def json_view(a, profile, measure_opt):
    return json.loads(run([a.nmreport, "--json", measure_opt, profile]))


def check_pprof(a, profile, tmp):
    go = shutil.which("go")
    if not go:
        print("SKIP: go (golang-go) not installed: `go tool pprof` interop not checked")
        return 77
    out = os.path.join(tmp, "exp.pb.gz")
    run([a.nmreport, "--pprof", "-o", out, profile])
    with gzip.open(out, "rb") as f:
        check(len(f.read()) > 0, "--pprof output is gzip")
    for opt, idx, key in (("--inuse-space", "inuse_space", "inuse_space"),
                          ("--alloc-space", "alloc_space", "alloc_space"),
                          ("--committed", "mmap_committed", "committed")):
        ours = text_top(a, profile, opt)
        js = json_view(a, profile, opt)
        top = run([go, "tool", "pprof", "-top", f"-sample_index={idx}", "-unit=B", out])
        m = re.search(r"of (\d+)B total", top)
        theirs, flat = [], {}
        for line in top.splitlines():
            mm = re.match(r"\s*(\d+)B\s+[\d.]+%\s+[\d.]+%\s+\S+\s+[\d.]+%\s+(.+?)(?: \(inline\))?$",
                          line)
            if mm and int(mm.group(1)) > 0:
                theirs.append(mm.group(2))
                flat[mm.group(2)] = int(mm.group(1))
        total = js["totals"][key]
        check(m is not None and int(m.group(1)) == total,
              f"pprof {idx}: total {m and m.group(1)} == nmreport {total}")
        check(len(ours) >= 1 and theirs == ours,
              f"pprof {idx}: top sites {theirs} == nmreport --text {ours}")
        want = {s["function"]: s["values"][key] for s in js["top_sites"] if s["values"][key]}
        check(flat == want, f"pprof {idx}: flat bytes per site equal nmreport --json")
    raw = run([go, "tool", "pprof", "-raw", out])
    lines = raw.splitlines()
    i = lines.index("Samples:")
    types = lines[i + 1].replace("[dflt]", "").split()
    check(types == ["alloc_objects/count", "alloc_space/bytes", "inuse_objects/count",
                    "inuse_space/bytes", "mmap_reserved/bytes", "mmap_committed/bytes"],
          f"pprof -raw: sample types in Go heap order ({types})")
    check("inuse_space/bytes[dflt]" in lines[i + 1], "pprof -raw: inuse_space is the default")
    sums = [0] * 6
    nsamples = 0
    for line in lines[i + 2:]:
        mm = re.match(r"\s*((?:-?\d+\s+){5}-?\d+):", line)
        if not mm:
            if line and not line.startswith(" "):
                break
            continue
        nsamples += 1
        for k, v in enumerate(mm.group(1).split()):
            sums[k] += int(v)
    js = json_view(a, profile, "--inuse-space")
    t = js["totals"]
    want = [t["alloc_objects"], t["alloc_space"], t["inuse_objects"], t["inuse_space"],
            t["reserved"], t["committed"]]
    check(sums == want, f"pprof -raw: sample values sum to nmreport's totals ({sums} == {want})")
    check(nsamples == len(js["stacks"]), f"pprof -raw: one sample per stack ({nsamples})")
    check(re.search(r"exp_inline_helper .*\n\s+exp_site_inlined ", raw) is not None,
          "pprof -raw: the inlined helper and its caller share one location")
    check(re.search(r"api:\[mmap\]", raw) is not None, "pprof -raw: samples carry the api label")
    return 0


def check_jeprof(a, profile, tmp):
    jeprof = shutil.which("jeprof")
    if not jeprof:
        print("SKIP: jeprof (libjemalloc-dev) not installed: heap_v2 interop not checked")
        return 77
    out = os.path.join(tmp, "exp.heap")
    run([a.nmreport, "--heap-v2", "-o", out, profile])
    ours = text_top(a, profile, "--inuse-space")
    js = json_view(a, profile, "--inuse-space")
    txt = run([jeprof, "--text", a.prog, out])
    theirs = []
    total = None
    for line in txt.splitlines():
        mm = re.match(r"Total: ([\d.]+) MB", line)
        if mm:
            total = float(mm.group(1))
        mm = re.match(r"\s*([\d.]+)\s+[\d.]+%\s+[\d.]+%\s+[\d.]+\s+[\d.]+%\s+(.+?)(?: \(inline\))?$",
                      line)
        if mm and float(mm.group(1)) > 0:
            theirs.append(mm.group(2))
    mb = js["totals"]["inuse_space"] / 1048576.0
    check(total is not None and abs(total - mb) < 0.051, f"jeprof: total {total} MB == {mb:.2f} MB")
    # jeprof prints 0.0 for sites under 0.05 MB: compare those it shows.
    check(len(theirs) >= 3 and theirs == ours[:len(theirs)],
          f"jeprof: top sites {theirs} == nmreport --text {ours[:len(theirs)]}")
    return 0


def check_browser(a, profile, tmp, kind):
    chromium = shutil.which(a.chromium)
    if not chromium:
        print(f"SKIP: {a.chromium} not installed: browser checks not run")
        return 77
    opt, name = {"flame": ("--flamegraph", "exp.svg"), "html": ("--html", "exp.html"),
                 "chart": ("--timeline-svg", "exp-chart.svg")}[kind]
    out = os.path.join(tmp, name)
    run([a.nmreport, opt, "-o", out, profile])
    r = subprocess.run([sys.executable, os.path.join(HERE, "browser", "check_page.py"),
                        "--chromium", chromium, "--kind", kind, "--search", "exp_site_(large|med)",
                        out])
    check(r.returncode == 0, f"browser checks of the {kind} output")
    return 0


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("what", choices=["pprof", "jeprof", "flame", "html", "chart"])
    ap.add_argument("--nmreport", required=True)
    ap.add_argument("--preload", required=True)
    ap.add_argument("--prog", required=True)
    ap.add_argument("--chromium", default="chromium")
    a = ap.parse_args()
    tmp = tempfile.mkdtemp(prefix="nmtrace-exports-")
    try:
        profile = record(a, tmp)
        if a.what == "pprof":
            rc = check_pprof(a, profile, tmp)
        elif a.what == "jeprof":
            rc = check_jeprof(a, profile, tmp)
        else:
            rc = check_browser(a, profile, tmp, a.what)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    if rc == 77:
        return 77
    print(f"{len(failures)} failure(s)")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
