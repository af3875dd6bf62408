#!/usr/bin/env python3
"""check_docs.py: the commands and output excerpts of the documentation are
run, so they cannot drift from what the programs really do.

Every fenced block of the Markdown files given must be preceded by a marker
comment (a block without one fails the test, so a new block cannot be added
untested):

  <!-- nmt:doc [ATTR...] -->       run the block
  <!-- nmt:skip REASON -->        not run; REASON is printed (a grammar, a
                                  build or install step, ...)

A run block either holds commands and their output, a command being a line
`$ CMD` and its output the lines after it, or, with no `$ ` line, only
commands (one a line, `# comment` allowed), each of which must exit 0.
Attributes (ATTR is name="value" or a bare name):

  cmd="CMD"    the whole block is the output of CMD (no `$ ` lines in it)
  setup="CMD"  run first, not shown (e.g. record the profile the block reads)
  whole        the output must match entirely; by default the block is an
               excerpt: its lines must appear in the output, in order (a
               `$ ` command with no line after it only has to exit 0)
  tol="P"      numbers (sizes with their unit, counts, percentages) may differ
               by P percent (sampled figures); default exact
  needs="TOOL" the block needs TOOL on PATH; without it the block is listed
               as not run (and the test does not fail)

All blocks of one file run in order in one scratch directory, with `build`
and `examples` there pointing into the build and source trees and the build's
bin/ first on PATH; a profile name `NAME.DIGITS.nmt` in a command that does
not exist there means the newest `NAME.*.nmt` (pids differ from run to run).

Both the expected and the real output are normalised before comparing:
runs of blanks become one, pids in profile names (`x.4711.nmt`), temporary
directories (`/tmp/name.XXXXXX/`), the source and scratch directory prefixes
of paths, hexadecimal addresses, `pid N` and times in seconds (`at 0.5s`).
In an expected line `...` matches any text.

NMT_DOCS_UPDATE=1 rewrites the run blocks from the real output instead of
comparing: a line that still matches is kept as written; one that does not is
replaced by the closest real line after the previous match (an excerpt keeps
its choice of lines; a `whole` block that differs is rewritten entirely; a
`$ ` command with no output lines gets its whole output); review the diff.

usage: check_docs.py SRC_DIR BUILD_DIR WORK_DIR FILE.md...
Exit status 0: every run block matched.
"""
import difflib
import glob
import os
import re
import shlex
import shutil
import subprocess
import sys
import tempfile

SRC, BUILD, WORK = (os.path.abspath(a) for a in sys.argv[1:4])
FILES = sys.argv[4:]
UPDATE = os.environ.get("NMT_DOCS_UPDATE") == "1"
MARK = re.compile(r"^<!--\s*nmt:(doc|skip)\b(.*?)-->\s*$")
FENCE = re.compile(r"^(```|~~~)")
NUM = re.compile(r"-?\d+(?:\.\d+)?(?:\s?(?:B|KiB|MiB|GiB|TiB)\b)?")
UNITS = {"B": 1, "KiB": 1 << 10, "MiB": 1 << 20, "GiB": 1 << 30, "TiB": 1 << 40}
failures = []


def check(cond, what, detail=""):
    print(("ok   " if cond else "FAIL ") + what + ("" if cond or not detail else "\n" + detail))
    if not cond:
        failures.append(what)
    return cond


def attrs_of(text):
    out = {}
    for tok in shlex.split(text):
        name, eq, val = tok.partition("=")
        out[name] = val if eq else True
    return out


def blocks_of(path):
    """(marker kind, attributes, first line index, last line index) of every fenced block."""
    lines = open(path).read().split("\n")
    out, i = [], 0
    while i < len(lines):
        if not FENCE.match(lines[i]):
            i += 1
            continue
        j = i + 1
        while j < len(lines) and not FENCE.match(lines[j]):
            j += 1
        k = i - 1
        while k >= 0 and lines[k].strip() == "":
            k -= 1
        m = MARK.match(lines[k]) if k >= 0 else None
        kind = m.group(1) if m else None
        out.append((kind, attrs_of(m.group(2)) if m and kind == "doc" else
                    (m.group(2).strip() if m else None), i + 1, j))
        i = j + 1
    return lines, out


def strip_dirs(text, scratch):
    """Paths as the docs show them: relative to the scratch and source trees."""
    return text.replace(scratch + "/", "").replace(BUILD + "/", "build/").replace(SRC + "/", "")


def normalise(text, scratch):
    text = strip_dirs(text, scratch)
    text = re.sub(r"/tmp/[\w-]+\.\w+/", "/tmp/DIR/", text)
    text = re.sub(r"\.\d+\.nmt\b", ".PID.nmt", text)
    text = re.sub(r"0x[0-9a-f]+", "0xADDR", text)
    text = re.sub(r"\bpid \d+", "pid PID", text)
    text = re.sub(r"\bat \d+(?:\.\d+)?s\b", "at Ts", text)
    return "\n".join(re.sub(r"[ \t]+", " ", l).strip() for l in text.split("\n"))


def number(tok):
    m = re.match(r"(-?\d+(?:\.\d+)?)\s?(\w*)", tok)
    return float(m.group(1)) * UNITS.get(m.group(2), 1)


def line_matches(expected, actual, tol):
    """An expected line matches a real one: text equal outside numbers and
    `...`; numbers equal, or within tol percent."""
    parts = expected.split("...")
    pat, nums = "", []
    for n, part in enumerate(parts):
        pos = 0
        for m in NUM.finditer(part):
            pat += re.escape(part[pos:m.start()])
            pat += r"(-?\d+(?:\.\d+)?(?:\s?(?:B|KiB|MiB|GiB|TiB)\b)?)"
            nums.append(m.group(0))
            pos = m.end()
        pat += re.escape(part[pos:])
        if n + 1 < len(parts):
            pat += ".*?"
    m = re.fullmatch(pat, actual)
    if not m:
        return False
    for want, got in zip(nums, m.groups()):
        a, b = number(want), number(got)
        if a != b and (tol is None or abs(a - b) > tol / 100.0 * max(abs(a), abs(b))):
            return False
    return True


def match_excerpt(expected, actual, tol, whole):
    """Index in actual of each expected line (None when unmatched)."""
    out, pos = [], 0
    for e in expected:
        if whole:
            out.append(pos if pos < len(actual) and line_matches(e, actual[pos], tol) else None)
            pos += 1
            continue
        hit = next((k for k in range(pos, len(actual)) if line_matches(e, actual[k], tol)), None)
        out.append(hit)
        if hit is not None:
            pos = hit + 1
    return out


class Runner:
    def __init__(self, doc):
        self.dir = tempfile.mkdtemp(prefix="docs.", dir=WORK)
        os.symlink(BUILD, os.path.join(self.dir, "build"))
        os.symlink(os.path.join(SRC, "examples"), os.path.join(self.dir, "examples"))
        self.env = dict(os.environ, PATH=os.path.join(BUILD, "bin") + ":" + os.environ["PATH"],
                        NMTRACE_BUILD=BUILD, NMT_SRC=SRC, NMT_LIB=os.path.join(BUILD, "lib",
                                                                            "libnmtrace.so"))
        self.outs = []
        self.doc = doc
        self.cache = {}

    def resolve(self, cmd):
        def one(m):
            if os.path.exists(os.path.join(self.dir, m.group(0))):
                return m.group(0)
            found = sorted(glob.glob(os.path.join(self.dir, m.group(1) + ".*.nmt")),
                           key=os.path.getmtime)
            return os.path.basename(found[-1]) if found else m.group(0)
        return re.sub(r"\b([\w-]+)\.\d+\.nmt\b", one, cmd)

    def run(self, cmd):
        """Runs cmd with bash in the scratch directory; (status, stdout+stderr)."""
        out_dir = tempfile.mkdtemp(prefix="nmtrace-example.", dir="/tmp")
        self.outs.append(out_dir)
        env = dict(self.env, OUT=out_dir)
        r = subprocess.run(["bash", "-c", self.resolve(cmd)], cwd=self.dir, env=env,
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                           timeout=600)
        return r.returncode, r.stdout

    def close(self):
        for d in self.outs:
            shutil.rmtree(d, ignore_errors=True)


def split_commands(body):
    """[(command, expected lines)] of a block with `$ ` lines."""
    out = []
    for line in body:
        if line.startswith("$ "):
            out.append([line[2:], []])
        elif out:
            out[-1][1].append(line)
    return out


def check_output(where, cmd, expected, real, attrs, scratch):
    """Compares; returns the lines to write back in update mode."""
    tol = float(attrs["tol"]) if "tol" in attrs else None
    whole = "whole" in attrs
    real_lines = [l for l in real.rstrip("\n").split("\n")]
    norm_real = normalise("\n".join(real_lines), scratch).split("\n")
    norm_exp = normalise("\n".join(expected), scratch).split("\n") if expected else []
    hits = match_excerpt(norm_exp, norm_real, tol, whole)
    missing = [expected[i] for i, h in enumerate(hits) if h is None]
    if whole and len(norm_real) != len(norm_exp):
        missing.append(f"({len(norm_real)} lines, the block has {len(norm_exp)})")
    if not UPDATE:
        check(not missing, f"{where}: output of `{cmd}`" +
              ("" if not missing else "\n     not found: " + "\n     not found: ".join(missing) +
               "\n     real output:\n       " + "\n       ".join(real_lines[:60])))
        return expected
    shown = [strip_dirs(l, scratch).rstrip() for l in real_lines]
    if not expected or (whole and missing):
        return shown
    new, pos = [], 0
    for i, h in enumerate(hits):
        if h is not None:  # still right: kept as written (no churn of pids, sizes)
            new.append(expected[i])
            pos = h + 1
            continue
        close = difflib.get_close_matches(norm_exp[i], norm_real[pos:], n=1, cutoff=0.3)
        h = pos + norm_real[pos:].index(close[0]) if close else None
        new.append(expected[i] if h is None or "..." in expected[i] else shown[h])
        if h is not None:
            pos = h + 1
    return new


def run_block(runner, where, attrs, body):
    if "needs" in attrs and shutil.which(attrs["needs"]) is None:
        print(f"skip {where}: needs {attrs['needs']}, not on PATH")
        return body
    if "setup" in attrs:
        rc, out = runner.run(attrs["setup"])
        if not check(rc == 0, f"{where}: setup `{attrs['setup']}` exits 0 ({rc})", out[-2000:]):
            return body
    if "cmd" in attrs:
        # Several blocks may quote one command (a script's output): run it once.
        if attrs["cmd"] not in runner.cache:
            runner.cache[attrs["cmd"]] = runner.run(attrs["cmd"])
        rc, out = runner.cache[attrs["cmd"]]
        check(rc == 0, f"{where}: `{attrs['cmd']}` exits 0 ({rc})", out[-2000:])
        return check_output(where, attrs["cmd"], body, out, attrs, runner.dir)
    pairs = split_commands(body)
    if not pairs:
        for line in body:
            cmd = line.split(" #")[0].strip()
            if cmd:
                rc, out = runner.run(cmd)
                check(rc == 0, f"{where}: `{cmd}` exits 0 ({rc})", out[-2000:])
        return body
    new = []
    for cmd, expected in pairs:
        rc, out = runner.run(cmd)
        check(rc == 0, f"{where}: `{cmd}` exits 0 ({rc})", out[-2000:])
        new.append("$ " + cmd)
        new += check_output(where, cmd, expected, out, attrs, runner.dir)
    return new


def main():
    shutil.rmtree(WORK, ignore_errors=True)
    os.makedirs(WORK)
    for path in FILES:
        rel = os.path.relpath(path, SRC)
        lines, blocks = blocks_of(path)
        runner = Runner(rel)
        edits = []
        try:
            for kind, attrs, first, last in blocks:
                where = f"{rel}:{first}"
                if kind is None:
                    check(False, f"{where}: block without an nmt:doc or nmt:skip marker")
                elif kind == "skip":
                    check(bool(attrs), f"{where}: nmt:skip gives its reason")
                    print(f"skip {where}: {attrs}")
                else:
                    body = lines[first:last]
                    new = run_block(runner, where, attrs, body)
                    if new != body:
                        edits.append((first, last, new))
        finally:
            runner.close()
        if UPDATE and edits:
            for first, last, new in reversed(edits):
                lines[first:last] = new
            with open(path, "w") as f:
                f.write("\n".join(lines))
            print(f"updated {rel}: {len(edits)} block(s)")
    if failures:
        print(f"{len(failures)} failure(s)")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
