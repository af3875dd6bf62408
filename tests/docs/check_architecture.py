"""docs/ARCHITECTURE.md names only what exists: every `path` it cites is a
file or directory of the repository; every `function()`, and every
function() in a code block, is defined (a line that starts with its
declaration) in a C or assembly file outside tests/; every `struct name` is
defined; and a function followed by a file, "`f()` (`dir/file.c`)", is
defined in that file. The document is written from the code; this keeps it
from drifting when files or functions are renamed.

usage: check_architecture.py [REPO]    (default: the repository holding this script)
"""
import os
import re
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
DOC = "docs/ARCHITECTURE.md"
SOURCE_EXT = (".c", ".h", ".S")
PATH_RE = re.compile(r"^[\w.-]+(/[\w.-]+)*/?$")
FILE_EXT = re.compile(r"\.(c|h|S|py|md|cmake|txt|1)$")


def sources(repo):
    """Text of every C/assembly file outside tests/ and build trees."""
    out = {}
    for top, dirs, files in os.walk(repo):
        rel = os.path.relpath(top, repo)
        dirs[:] = [d for d in dirs if not d.startswith((".", "build")) and
                   not (rel == "." and d == "tests")]
        for f in files:
            if f.endswith(SOURCE_EXT):
                p = os.path.join(top, f)
                with open(p, encoding="utf-8", errors="replace") as fh:
                    out[os.path.relpath(p, repo)] = fh.read()
    return out


def cited(text):
    """(paths, functions, structs) in backticks, and functions in code blocks."""
    paths, funcs, structs = set(), set(), set()
    for block in re.findall(r"^```\n(.*?)^```", text, re.M | re.S):
        funcs.update(re.findall(r"\b([A-Za-z_]\w*)\(\)", block))
    for tok in re.findall(r"`([^`\n]+)`", text):
        m = re.fullmatch(r"([A-Za-z_]\w*)\(\)", tok)
        if m:
            funcs.add(m.group(1))
        elif re.fullmatch(r"struct [A-Za-z_]\w*", tok):
            structs.add(tok.split()[1])
        elif PATH_RE.match(tok) and ("/" in tok or FILE_EXT.search(tok)):
            paths.add(tok)
    return paths, funcs, structs


def main():
    repo = os.path.abspath(sys.argv[1] if len(sys.argv) > 1 else os.path.join(HERE, "..", ".."))
    with open(os.path.join(repo, DOC), encoding="utf-8") as fh:
        text = fh.read()
    paths, funcs, structs = cited(text)
    src = sources(repo)
    problems = []
    for p in sorted(paths):
        full = os.path.join(repo, p)
        if not (os.path.isdir(full) if p.endswith("/") else os.path.exists(full)):
            problems.append("%s cites %s, which does not exist" % (DOC, p))
    for f in sorted(funcs):
        decl = re.compile(r"^[A-Za-z_].*[\s*]%s\(" % re.escape(f), re.M)
        if not any(decl.search(t) for t in src.values()):
            problems.append("%s cites %s(), which no source file defines" % (DOC, f))
    # "`f()` (`dir/file.c`" and "`f()`, `dir/file.c`": f is that file's.
    placed = sorted(set(re.findall(r"`(\w+)\(\)` ?[(,] ?`([\w./-]+\.[chS])`", text)))
    for f, path in placed:
        decl = re.compile(r"^[A-Za-z_].*[\s*]%s\(" % re.escape(f), re.M)
        if path in src and not decl.search(src[path]):
            problems.append("%s says %s() is in %s, which does not define it" % (DOC, f, path))
    for s in sorted(structs):
        defn = re.compile(r"\bstruct %s\s*\{" % re.escape(s))
        if not any(defn.search(t) for t in src.values()):
            problems.append("%s cites struct %s, which no source file defines" % (DOC, s))
    # A check that finds nothing to check would pass whatever the document says.
    if len(paths) < 10 or len(funcs) < 30:
        problems.append("%s: only %d paths and %d functions found: is the citation style "
                        "(`path/file.c`, `function()`) still the one this check reads?"
                        % (DOC, len(paths), len(funcs)))
    for p in problems:
        print("FAIL: " + p)
    print("%s: %d paths, %d functions (%d with their file), %d structs checked, %d missing"
          % (DOC, len(paths), len(funcs), len(placed), len(structs), len(problems)))
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
