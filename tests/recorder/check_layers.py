#!/usr/bin/env python3
"""The recorder's files form layers: no cycle in their call graph.

Usage: check_layers.py OBJ,OBJ,... (the object files of libnmtrace.so)

Builds the graph "file A uses a symbol file B defines" from `nm` of each
object file, and fails, printing each cycle with the symbols that make it,
when the graph has a cycle (a strongly connected set of two or more files).
Not edges, because they are no layer's call:
- the shared state (nmt_state.c, nmt_jvm_state.c) and the configuration
  (nmt__cfg), which every layer reads;
- names without the nmt prefix: malloc, free, mmap or dlsym called from
  inside the recorder go to the process's functions through the interposed
  ones, and their definitions here are the hooks themselves.
"""
import os
import subprocess
import sys

STATE_FILES = {"nmt_state.c", "nmt_jvm_state.c"}
STATE_SYMBOLS = {"nmt__cfg"}
MIN_OBJECTS = 20  # fewer: the build changed and the check would prove nothing


def symbols(obj):
    """(defined, used) global symbols of one object file."""
    out = subprocess.run(["nm", obj], capture_output=True, text=True, check=True).stdout
    defined, used = set(), set()
    for line in out.splitlines():
        f = line.split()
        if len(f) == 2 and f[0] in ("U", "w", "v"):
            used.add(f[1])
        elif len(f) == 3 and f[1] in "BDGRSTVW":
            defined.add(f[2])
    return defined, used


def file_name(obj):
    """nmt_writer.c.o -> nmt_writer.c"""
    return os.path.basename(obj)[: -len(".o")]


def graph(objs):
    defs, uses = {}, {}
    for o in objs:
        defs[file_name(o)], uses[file_name(o)] = symbols(o)
    owner = {s: n for n, ds in defs.items() for s in ds}
    edges = {n: {} for n in defs}
    for n, used in uses.items():
        for s in used:
            m = owner.get(s)
            if m is None or m == n or m in STATE_FILES or s in STATE_SYMBOLS:
                continue
            if s.startswith("nmt"):
                edges[n].setdefault(m, set()).add(s)
    return edges


def cycles(edges):
    """Strongly connected sets of two or more files (Tarjan, iterative)."""
    index, low, stack, on, found = {}, {}, [], set(), []
    for root in sorted(edges):
        if root in index:
            continue
        work = [(root, iter(sorted(edges[root])))]
        index[root] = low[root] = len(index)
        stack.append(root)
        on.add(root)
        while work:
            v, it = work[-1]
            w = next(it, None)
            if w is not None:
                if w not in index:
                    index[w] = low[w] = len(index)
                    stack.append(w)
                    on.add(w)
                    work.append((w, iter(sorted(edges[w]))))
                elif w in on:
                    low[v] = min(low[v], index[w])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[v])
            if low[v] == index[v]:
                comp = []
                while True:
                    w = stack.pop()
                    on.discard(w)
                    comp.append(w)
                    if w == v:
                        break
                if len(comp) > 1:
                    found.append(sorted(comp))
    return found


def main():
    if len(sys.argv) != 2:
        sys.exit("usage: check_layers.py OBJ,OBJ,... (the object files of libnmtrace.so)")
    objs = [o for o in sys.argv[1].split(",") if o.endswith(".o")]
    if len(objs) < MIN_OBJECTS:
        sys.exit("check_layers: %d object files given, expected at least %d: "
                 "pass the objects of libnmtrace.so" % (len(objs), MIN_OBJECTS))
    edges = graph(objs)
    bad = cycles(edges)
    for comp in bad:
        print("cycle among: " + " ".join(comp))
        for a in comp:
            for b in comp:
                if b in edges[a]:
                    print("  %s -> %s: %s" % (a, b, ", ".join(sorted(edges[a][b]))))
    if bad:
        sys.exit(1)
    print("check_layers: %d files, no cycle" % len(edges))


if __name__ == "__main__":
    main()
