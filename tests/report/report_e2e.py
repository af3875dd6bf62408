#!/usr/bin/env python3
"""report_e2e.py: nmreport on a real recording.

Records tests/report/prog_leaks.c under LD_PRELOAD=libnmtrace.so at rate 1 (every
allocation), with interval snapshots, then runs every view and measure of
nmreport on the profile and checks them against the ground truth the program
prints: the five leak sites by name, their API, their bytes, mmap figures
exactly; diffs, -o, and bad copies of the real file (cut, damaged, empty,
future version) give one clear line and the right exit status, and the input
file is never modified.

usage: report_e2e.py NMREPORT LIBNMTRACE PROG_LEAKS WORKDIR
"""
import hashlib
import json
import os
import re
import shutil
import struct
import subprocess
import sys
import zlib

NMREPORT, LIB, PROG, WORK = sys.argv[1:5]
failures = []


def check(cond, what):
    if not cond:
        failures.append(what)
        print("FAIL:", what)


def nmr(*args, expect=0):
    p = subprocess.run([NMREPORT, *args], capture_output=True, text=True)
    check(p.returncode == expect,
          f"nmreport {' '.join(args)}: exit {p.returncode}, wanted {expect}: {p.stderr.strip()}")
    return p


def record():
    shutil.rmtree(WORK, ignore_errors=True)
    os.makedirs(WORK)
    out = os.path.join(WORK, "leaks.nmt")
    env = dict(os.environ, LD_PRELOAD=LIB, NMTRACE_RATE="1", NMTRACE_INTERVAL="1",
               # Rate 1 sends every event through the rings: make them big
               # enough that no free is lost (lost frees overstate live bytes).
               NMTRACE_RING="1048576",
               NMTRACE_OUTPUT=out)
    truth = os.path.join(WORK, "truth.json")
    # The program stays until an interval snapshot is in the file, however
    # long a busy machine keeps the writer from taking one: a time to wait
    # would not promise one.
    subprocess.run([PROG, "--hold-until-snapshot", out, truth], env=env, check=True,
                   timeout=300)
    files = [f for f in os.listdir(WORK) if f.endswith(".nmt")]
    if len(files) != 1:
        sys.exit(f"expected one profile in {WORK}, found {files}")
    with open(truth) as f:
        return os.path.join(WORK, files[0]), json.load(f)


def payload_byte(data, at):
    """A byte of a record's payload at or after offset at: one the record's
    checksum covers, so changing it makes the file corrupt. A byte of a
    record's length instead can make the file read as cut short there (the
    record seems to run past its end), which depends on where the records of
    this run happen to lie."""
    off = 8  # after the magic
    while off + 8 <= len(data):
        length = struct.unpack_from("<I", data, off + 4)[0]
        start, end = off + 8, off + 8 + length
        if end + 4 > len(data):
            break
        if length > 0 and end > at:
            return at if at >= start else start + length // 2
        off = end + 4
    check(False, f"no record payload after byte {at} of {len(data)}")
    return at


def main():
    prof, truth = record()
    digest = hashlib.sha256(open(prof, "rb").read()).hexdigest()
    sites = {s["name"]: s for s in truth["sites"]}

    # --json: the allocation sites, by name, with their API and bytes.
    j = json.loads(nmr("--json", prof).stdout)
    top = {s["function"]: s for s in j["top_sites"]}
    for name, s in sites.items():
        if s["api"] == "mmap":
            continue
        check(name in top, f"json top_sites lacks {name}")
        if name in top:
            got = top[name]["values"]["inuse_space"]
            check(abs(got - s["bytes"]) <= 0.1 * s["bytes"],
                  f"{name}: inuse_space {got}, truth {s['bytes']}")
            check(top[name]["class"] == "exe" and top[name]["lib"] == os.path.basename(PROG),
                  f"{name}: class/lib {top[name]['class']}/{top[name]['lib']}")
        apis = {st["api"] for st in j["stacks"] if st["site"] and st["site"]["function"] == name}
        check(any(s["api"] in a for a in apis), f"{name}: api {apis}, truth {s['api']}")
    names = [s["function"] for s in j["top_sites"][:4]]
    check(set(names) == {n for n, s in sites.items() if s["api"] != "mmap"},
          f"the four largest sites are the leaks: {names}")
    check(j["files"][0]["pid"] == truth["pid"], "pid in json")
    check(j["files"][0]["snapshot"]["reason"] == "exit", "last snapshot is the exit one")
    check(j["files"][0]["nsnapshots"] >= 2, "interval snapshots recorded")

    # mmap figures are exact.
    mm = sites["leak_mmap_site"]
    jc = json.loads(nmr("--json", "--committed", prof).stdout)
    cm = {s["function"]: s["values"] for s in jc["top_sites"]}
    check(cm.get("leak_mmap_site", {}).get("committed") == mm["committed"],
          f"leak_mmap_site committed {cm.get('leak_mmap_site')}, truth {mm['committed']}")
    check(cm.get("leak_mmap_site", {}).get("reserved") == mm["reserved"], "reserved exact")

    # Text views name the sites.
    text = nmr(prof).stdout
    check(text.startswith("Total: "), "text starts with Total:")
    for name in sites:
        if sites[name]["api"] != "mmap":
            check(re.search(r"MiB .*%  " + name + r" \[", text), f"text shows {name}")
    tree = nmr("--tree", prof).stdout
    check(re.search(r"leak_calloc_site .*\n(\s+.*\n)*?\s+.*worker", tree),
          "tree: leak_calloc_site called from worker")
    callers = nmr("--tree", "--callers", prof).stdout
    check(re.search(r"^\s+\S+ MiB\s+\S+%  main ", callers, re.M), "callers tree shows main")
    check("exe" in nmr("--by", "class", prof).stdout, "--by class")
    check(os.path.basename(PROG) in nmr("--by", "lib", prof).stdout, "--by lib")
    stacks = nmr("--stacks", prof).stdout
    check("<- allocation site" in stacks and "(entry point)" in stacks, "--stacks")
    coll = nmr("--collapsed", prof).stdout.splitlines()
    check(all(re.match(r"^.+ -?\d+$", l) for l in coll), "collapsed lines end in a value")
    check(any(";leak_malloc_site [" in l for l in coll), "collapsed names leak_malloc_site")
    stats = nmr("--stats", prof).stdout
    check("rec.samples" in stats and "proc.rss" in stats, "--stats counters")
    tl = nmr("--timeline", prof).stdout
    check(len([l for l in tl.splitlines() if re.match(r"^\s+\d+\s+\d", l)]) >= 2, "--timeline")
    gr = nmr("--growth", prof).stdout
    check("allocation site" in gr, "--growth")
    rss = nmr("--rss", "--expect", "1G", prof).stdout
    check("RSS (VmRSS)" in rss and "within the reasonable total 1.0 GiB" in rss, "--rss")
    for m in ("--inuse-objects", "--alloc-space", "--alloc-objects", "--reserved", "--committed"):
        out = nmr(m, prof).stdout
        check(m[2:].replace("-", "_").replace("inuse_objects", "inuse_objects") in out, m)
    alloc = json.loads(nmr("--json", "--alloc-space", prof).stdout)
    check(alloc["totals"]["alloc_space"] >= truth["churn_bytes"], "alloc_space covers the churn")

    # Diff: the last snapshot minus the first is the growth in between.
    jd = json.loads(nmr("--json", "--base-snapshot", "0", prof).stdout)
    j0 = json.loads(nmr("--json", "--snapshot", "0", prof).stdout)
    check(jd["diff"] and jd["totals"]["inuse_space"] ==
          j["totals"]["inuse_space"] - j0["totals"]["inuse_space"], "diff totals")
    same = json.loads(nmr("--json", "--base", prof, prof).stdout)
    check(same["totals"]["inuse_space"] == 0 and same["stacks"] == [], "a file minus itself")
    neg = nmr("--snapshot", "0", "--base-snapshot", "last", prof).stdout
    check(re.search(r"-\d", neg) is not None or j["totals"]["inuse_space"] ==
          j0["totals"]["inuse_space"], "negative values shown")
    # Two files merged: twice the figures (a copy: the same file twice is read once).
    twin = prof + ".copy.nmt"
    shutil.copyfile(prof, twin)
    two = json.loads(nmr("--json", prof, twin).stdout)
    check(two["totals"]["inuse_space"] == 2 * j["totals"]["inuse_space"], "merge sums")

    # -o writes the file, nothing on stdout; -o never overwrites an input.
    out = os.path.join(WORK, "out.txt")
    p = nmr("-o", out, "--tree", prof)
    check(p.stdout == "" and open(out).read() == tree, "-o FILE")
    p = nmr("-o", prof, prof, expect=2)
    check("would overwrite" in p.stderr, "-o refuses an input")

    # Bad copies of the real file.
    data = open(prof, "rb").read()
    for cut in (0, 5, 8, 40, len(data) // 3, len(data) // 2, len(data) - 3):
        bad = os.path.join(WORK, f"cut{cut}.nmt")
        open(bad, "wb").write(data[:cut])
        p = subprocess.run([NMREPORT, bad], capture_output=True, text=True)
        lines = p.stderr.strip().splitlines()
        if p.returncode == 0:
            check(any("using the last complete snapshot" in l for l in lines),
                  f"cut at {cut}: warning")
        else:
            check(p.returncode == 1 and len(lines) == 1 and bad in lines[0],
                  f"cut at {cut}: one line naming the file: {p.stderr!r}")
    dmg = bytearray(data)
    dmg[payload_byte(data, len(data) // 2)] ^= 0xFF
    bad = os.path.join(WORK, "damaged.nmt")
    open(bad, "wb").write(dmg)
    p = nmr(bad, expect=1)
    check(re.match(r"^nmreport: .*damaged\.nmt: corrupt profile at byte \d+: ", p.stderr)
          and len(p.stderr.strip().splitlines()) == 1, f"damaged: {p.stderr!r}")
    v2 = bytearray(data)
    v2[16:20] = struct.pack("<I", 2)  # HEADER.format_version, then fix the CRC
    hlen = struct.unpack_from("<I", v2, 12)[0]
    struct.pack_into("<I", v2, 16 + hlen, zlib.crc32(bytes(v2[8:16 + hlen])))
    bad = os.path.join(WORK, "v2.nmt")
    open(bad, "wb").write(v2)
    check("unsupported format version 2" in nmr(bad, expect=1).stderr, "version 2")
    bad = os.path.join(WORK, "notprof.nmt")
    open(bad, "wb").write(b"#!/bin/sh\necho hi\n")
    check("not an nmtrace profile" in nmr(bad, expect=1).stderr, "bad magic")
    check("cannot open" in nmr(os.path.join(WORK, "missing.nmt"), expect=1).stderr, "missing")
    check("unknown" in nmr("--frobnicate", prof, expect=2).stderr, "bad option")
    check("--snapshot" in nmr("--help").stdout and "--collapsed" in nmr("--help").stdout, "--help")

    check(hashlib.sha256(open(prof, "rb").read()).hexdigest() == digest,
          "the input profile is unchanged")
    if failures:
        sys.exit(f"{len(failures)} checks failed")
    print("report_e2e: all checks passed")


main()
