"""nmreport on crafted, checksum-valid profiles (tests/report/report_crafted.c): a
stack of 400,000 frames, figures at INT64_MAX, UINT64_MAX and INT64_MIN,
zero counts under huge sizes, extreme header fields and times. Every view and
export on every file must exit 0, or exit non-zero with one line on stderr
naming the problem; never crash (a signal, or a sanitizer's report in the
ASan+UBSan build).

usage: report_crafted.py NMREPORT REPORT_CRAFTED WORKDIR [FRAMES]"""
import glob
import os
import shutil
import subprocess
import sys

VIEWS = [
    ["--text"], ["--text", "--inuse-objects"], ["--text", "--alloc-space"],
    ["--text", "--alloc-objects"], ["--text", "--reserved"], ["--text", "--committed"],
    ["--text", "--threshold", "1", "--nodecount", "3"], ["--tree"], ["--tree", "--callers"],
    ["--by", "lib"], ["--by", "class"], ["--stacks"], ["--collapsed"], ["--stats"], ["--json"],
    ["--timeline"], ["--growth"], ["--rss"], ["--rss", "--expect", "1g"],
    ["--pprof", "{out}.pb.gz"], ["--heap-v2", "{out}.heap"], ["--flamegraph", "{out}.svg"],
    ["--html", "{out}.html"], ["--timeline", "--svg", "{out}.t.svg"],
    ["--text", "--base", "{file}"], ["--growth", "--snapshot", "0", "--base-snapshot", "last"],
    ["--json", "--base-snapshot", "0"],
]


def main():
    nmreport, gen, work = sys.argv[1:4]
    frames = sys.argv[4] if len(sys.argv) > 4 else "400000"
    shutil.rmtree(work, ignore_errors=True)
    os.makedirs(work)
    r = subprocess.run([gen, work, frames])
    if r.returncode != 0:
        print("FAIL: %s exited %d" % (gen, r.returncode))
        return 1
    files = sorted(glob.glob(os.path.join(work, "*.nmt")))
    if len(files) < 7:
        print("FAIL: %s wrote %d files, want 7" % (gen, len(files)))
        return 1
    bad = 0
    for f in files:
        out = os.path.join(work, os.path.basename(f) + ".out")
        for view in VIEWS:
            args = [a.format(out=out, file=f) for a in view]
            cmd = [nmreport] + args + [f]
            try:
                p = subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                                   text=True, errors="replace", timeout=600)
            except subprocess.TimeoutExpired:
                print("FAIL: %s did not finish in 600 s" % " ".join(cmd))
                bad += 1
                continue
            lines = p.stderr.splitlines()
            clean = p.returncode == 0 or (p.returncode > 0 and len(lines) == 1 and
                                          lines[0].startswith("nmreport: "))
            # The files are valid: the plain view must read every one of them.
            if view == ["--text"] and p.returncode != 0:
                clean = False
            if not clean:
                print("FAIL: %s: exit %d, stderr:\n%s" % (" ".join(cmd), p.returncode,
                                                           "\n".join(lines[:30])))
                bad += 1
    n = len(files) * len(VIEWS)
    print("%d passed, %d failed" % (n - bad, bad))
    return 1 if bad else 0


sys.exit(main())
