#!/usr/bin/env python3
"""report_outputs.py: nmreport's outputs are safe to ask for.

- Every export view (binary or a page for another program) with standard
  output on a terminal (a pseudo-terminal here) and no -o writes nothing to
  the terminal, exits non-zero, and says in one stderr line how to fix it
  (-o FILE); with -o FILE, or standard output not a terminal, it writes.
- Text views still print on a terminal.
- A profile named twice (same path, a symlink to it, another spelling of
  its path) is read once, with one warning line per repeat: the figures are
  those of the single profile, not doubled.

usage: report_outputs.py NMREPORT MKPROFILE WORKDIR
"""
import os
import pty
import re
import shutil
import subprocess
import sys

NMREPORT, MK, WORK = (os.path.abspath(a) for a in sys.argv[1:4])
EXPORTS = ["--html", "--flamegraph", "--timeline-svg", "--pprof", "--heap-v2"]
failures = []


def check(cond, what):
    print(("ok   " if cond else "FAIL ") + what)
    if not cond:
        failures.append(what)


def run_on_tty(args):
    """Runs nmreport with stdout on a pseudo-terminal; returns (status, tty bytes, stderr)."""
    master, slave = pty.openpty()
    p = subprocess.Popen([NMREPORT] + args, stdout=slave, stderr=subprocess.PIPE, cwd=WORK)
    os.close(slave)
    out = b""
    while True:
        try:
            chunk = os.read(master, 65536)
        except OSError:  # EIO: the last writer closed the terminal
            break
        if not chunk:
            break
        out += chunk
    err = p.stderr.read().decode()
    p.wait()
    os.close(master)
    return p.returncode, out, err


def available(view):
    h = subprocess.run([NMREPORT, "--help"], capture_output=True, text=True).stdout
    return re.search(r"^\s+" + re.escape(view) + r"\b", h, re.M) is not None


def main():
    shutil.rmtree(WORK, ignore_errors=True)
    os.makedirs(WORK)
    prof = os.path.join(WORK, "p.nmt")
    subprocess.run([MK, "basic", prof], check=True, stdout=subprocess.DEVNULL)

    for view in EXPORTS:
        if not available(view):
            print(f"skip {view}: not built")
            continue
        rc, out, err = run_on_tty([view, prof])
        lines = err.strip().splitlines()
        check(rc != 0, f"{view} to a terminal: non-zero exit ({rc})")
        check(out == b"", f"{view} to a terminal: nothing written to it ({len(out)} bytes)")
        check(len(lines) == 1 and view in lines[0] and "-o " in lines[0],
              f"{view} to a terminal: one line naming the view and -o ({err.strip()!r})")
        dest = os.path.join(WORK, "out" + view)
        rc, out, err = run_on_tty([view, "-o", dest, prof])
        check(rc == 0 and os.path.getsize(dest) > 0 and out == b"",
              f"{view} -o FILE with a terminal: written to FILE ({rc}, {err.strip()!r})")
        r = subprocess.run([NMREPORT, view, prof], capture_output=True)
        check(r.returncode == 0 and len(r.stdout) > 0,
              f"{view} to a pipe: written ({r.returncode}, {len(r.stdout)} bytes)")

    rc, out, err = run_on_tty(["--text", prof])
    check(rc == 0 and b"Total:" in out, f"--text on a terminal still prints ({rc}, {err!r})")

    one = subprocess.run([NMREPORT, "--json", prof], capture_output=True, text=True)
    check(one.returncode == 0, "one profile: --json")
    link = os.path.join(WORK, "link.nmt")
    os.symlink(prof, link)
    for extra, what in (([prof], "the same path"), ([link], "a symlink"),
                        (["./p.nmt"], "another spelling"), ([link, prof], "two repeats")):
        r = subprocess.run([NMREPORT, "--json", prof] + extra, capture_output=True, text=True,
                           cwd=WORK)
        warns = [l for l in r.stderr.splitlines() if "same file" in l]
        check(r.returncode == 0 and r.stdout == one.stdout,
              f"profile twice ({what}): figures of one profile, not doubled")
        check(len(warns) == len(extra) and all(e in w for e, w in zip(extra, warns)),
              f"profile twice ({what}): one warning line per repeat naming it ({r.stderr.strip()!r})")

    if failures:
        print(f"{len(failures)} failure(s)")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
