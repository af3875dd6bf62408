#!/usr/bin/env python3
"""report_golden.py: golden-output tests of nmreport's text views.

Each case writes a synthetic profile with report_mkprofile (stacks made of
that program's own functions, so they symbolize to fixed names), runs one
nmreport view, normalises what legitimately varies between runs and machines
(addresses, absolute paths, line numbers of the generator, the number of
mappings, glibc's internal aliases of malloc & co) and compares with
tests/report/golden/<case>.txt. NMR_UPDATE_GOLDEN=1 rewrites the files.

Cases of scenario "real" record tests/report/report_prog.c (deterministic, one
thread) under libnmtrace.so at NMTRACE_RATE=1, so their figures are exact;
they run only when LIBNMTRACE and REPORT_PROG are given.

usage: report_golden.py NMREPORT MKPROFILE GOLDEN_DIR WORKDIR [LIBNMTRACE REPORT_PROG]
"""
import difflib
import os
import re
import subprocess
import sys

NMREPORT, MK, GOLDEN, WORK = (os.path.abspath(a) for a in sys.argv[1:5])
LIB, PROG = (":".join(os.path.abspath(p) for p in a.split(":")) for a in sys.argv[5:7]) if len(sys.argv) > 6 else (None, None)

CASES = [
    ("basic", "text", []),
    ("basic", "committed", ["--committed"]),
    ("basic", "alloc_objects", ["--alloc-objects"]),
    ("basic", "tree", ["--tree"]),
    ("basic", "callers", ["--tree", "--callers"]),
    ("basic", "by_lib", ["--by", "lib"]),
    ("basic", "by_class", ["--by", "class", "--reserved"]),
    ("basic", "stacks", ["--stacks"]),
    ("basic", "collapsed", ["--collapsed"]),
    ("basic", "stats", ["--stats"]),
    ("basic", "json", ["--json"]),
    ("basic", "rss", ["--rss"]),
    ("basic", "diff", ["--base-snapshot", "0"]),
    ("basic", "diff_negative", ["--snapshot", "0", "--base-snapshot", "2", "--tree"]),
    ("basic", "focus", ["--focus", "leak", "--nodecount", "2"]),
    ("basic", "timeline", ["--timeline"]),
    ("growth", "growth", ["--growth"]),
    ("growth", "timeline", ["--timeline"]),
    ("growth", "snapshot4", ["--snapshot", "4", "--threshold", "20"]),
    ("real", "text", []),
    ("real", "inuse_objects", ["--inuse-objects"]),
    ("real", "alloc_space", ["--alloc-space"]),
    ("real", "alloc_objects", ["--alloc-objects"]),
    ("real", "reserved", ["--reserved"]),
    ("real", "committed", ["--committed"]),
    ("real", "tree", ["--tree"]),
    ("real", "callers", ["--tree", "--callers", "--alloc-space"]),
    ("real", "by_lib", ["--by", "lib"]),
    ("real", "by_class", ["--by", "class", "--alloc-objects"]),
    ("real", "stacks", ["--stacks", "--alloc-space"]),
    ("real", "collapsed", ["--collapsed", "--alloc-space"]),
    ("real", "focus", ["--alloc-space", "--focus", "leak_", "--ignore", "inner"]),
]


def normalise(text, real):
    text = re.sub(r"0x[0-9a-f]+", "0xADDR", text)
    if real:
        text = re.sub(r" at \d+\.\ds ", " at Ts ", text)
        text = re.sub(r"/\S*/report_prog\.c:\d+", "report_prog.c:N", text)
        text = re.sub(r"/\S*/report_prog\b", "<exe>", text)
    text = re.sub(r"/\S*/report_mkprofile\.c:\d+", "report_mkprofile.c:N", text)
    text = re.sub(r"\"/\S*/report_mkprofile\.c\"", "\"report_mkprofile.c\"", text)
    text = re.sub(r"\"line\": \d+", "\"line\": N", text)
    text = re.sub(r"/\S*/report_mkprofile\b", "<exe>", text)
    text = re.sub(r"(mappings\s+)\d+", r"\g<1>N", text)
    text = re.sub(r"\"nmaps\": \d+", "\"nmaps\": N", text)
    # glibc names one function several ways (__GI___libc_malloc, __libc_malloc,
    # malloc; __mmap64, mmap): which one a symbolizer picks is not ours to test.
    text = re.sub(r"\b_*(?:GI_+)?(?:libc_)?(malloc|calloc|realloc|strdup|mmap)(?:64)?\b",
                  r"\1", text)
    # Source lines inside libc exist only where its debug info is installed.
    text = re.sub(r" \S+:\d+ (\[libc\.so\.6\])", r" \1", text)
    text = re.sub(r'"file": "[^"]*", ("line": N, "lib": "libc\.so\.6")', r'"file": null, \1', text)
    return text


def main():
    os.makedirs(WORK, exist_ok=True)
    for scen in sorted({c[0] for c in CASES} - {"real"}):
        subprocess.run([MK, scen, os.path.join(WORK, scen + ".nmt")], check=True)
    cases = CASES
    if LIB:
        out = os.path.join(WORK, "real.nmt")
        if os.path.exists(out):
            os.unlink(out)
        # The golden files show the exit snapshot as snapshot 0: no periodic
        # one before it (the first is due 10 s in, which a busy machine can
        # make this run last).
        env = dict(os.environ, LD_PRELOAD=LIB, NMTRACE_RATE="1", NMTRACE_INTERVAL="0",
                   NMTRACE_OUTPUT=out)
        subprocess.run([PROG], env=env, check=True, timeout=120)
    else:
        cases = [c for c in CASES if c[0] != "real"]
    update = os.environ.get("NMR_UPDATE_GOLDEN") == "1"
    failed = []
    for scen, name, args in cases:
        case = f"{scen}_{name}"
        p = subprocess.run([NMREPORT, *args, scen + ".nmt"], cwd=WORK, capture_output=True,
                           text=True)
        if p.returncode != 0:
            failed.append(case)
            print(f"{case}: exit {p.returncode}: {p.stderr}")
            continue
        got = normalise(p.stdout, scen == "real")
        path = os.path.join(GOLDEN, case + ".txt")
        if update:
            with open(path, "w") as f:
                f.write(got)
            continue
        want = open(path).read() if os.path.exists(path) else ""
        if got != want:
            failed.append(case)
            print(f"{case}: differs from {path}:")
            sys.stdout.writelines(difflib.unified_diff(
                want.splitlines(True), got.splitlines(True), "golden", "got"))
    if failed:
        sys.exit(f"golden mismatch: {', '.join(failed)} (NMR_UPDATE_GOLDEN=1 to accept)")
    print(f"report_golden: {len(cases)} cases {'written' if update else 'match'}")


main()
