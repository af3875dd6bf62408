"""The launcher, the recorder and nmreport accept and refuse the same strings
(common/nmc_vars.c): each value is given as a launcher option, as the
recorder's NMTRACE_* variable and, for sizes, as nmreport's --expect; the
test states which values the grammar accepts and checks all three say so.
Unknown NMTRACE_* names are said once per run: by the launcher, or by the
first recorded process, not again by its children.

usage: test_agree.py --build DIR [--preload LIB[:LIB...]]
"""
import argparse
import glob
import os
import subprocess
import sys
import tempfile

# value -> accepted? (README.md, "Values")
SIZES = {"0": 1, "4096": 1, "64k": 1, "64K": 1, "64KiB": 1, "64kb": 1, "1.5g": 1, "2t": 1,
         "2TB": 1, "7b": 1, "8388607t": 1, "8388608t": 0, "1.5": 0, "1.5b": 0, "-1": 0, "2x": 0,
         " 1": 0, "0x10": 0, "1e3": 0, "lots": 0, "99999999999999999999999": 0, "1.1234567k": 0}
DURATIONS = {"0": 1, "2": 1, "1s": 1, "1.5m": 1, "2000ms": 1, "2m": 1, "1h": 1, "365d": 1,
             "1500ms": 0, "1.5": 0, "366d": 0, "soon": 0, "-1": 0, "1w": 0, "1 s": 0, "1sec": 0,
             "auto": 1, "AUTO": 1, "autox": 0}
SIGNALS = {"USR1": 1, "usr1": 1, "SIGUSR1": 1, "10": 1, "RTMIN+2": 1, "rtmax-1": 1, "WINCH": 1,
           "off": 1, "SEGV": 0, "TERM": 0, "sigquit": 0, "NOPE": 0, "RTMIN+999": 0, "0x10": 0,
           "-10": 0}

DEPTHS = {"1": 1, "64": 1, "256": 1, "0": 0, "257": 0, "1k": 0, "-1": 0, "6 4": 0, "deep": 0}
UNWINDS = {"fp": 1, "FP": 1, "libunwind": 1, "LibUnwind": 1, "auto": 1, "check": 1, "Check": 1,
           "dwarf": 0, "f": 0, "fp ": 0, "checks": 0}

failures = []


def check(cond, msg):
    if not cond:
        failures.append(msg)
        print("FAIL: " + msg)


def run(argv, env, tmp):
    return subprocess.run(argv, env=env, cwd=tmp, stdin=subprocess.DEVNULL,
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, timeout=60)


def plain_env():
    return {k: v for k, v in os.environ.items()
            if not k.startswith("NMTRACE_") and k != "LD_PRELOAD"}


def launcher_accepts(a, opt, value, tmp):
    env = plain_env()
    if a.extra:  # a sanitized recorder: its runtime follows it
        env["LD_PRELOAD"] = a.extra
    r = run([a.launcher, "-q", "-o", tmp + "/l.%p.nmt", opt, value, "--", "true"], env, tmp)
    lines = r.stderr.splitlines()
    if r.returncode != 0:
        check(r.returncode == 2 and len(lines) == 1 and opt in lines[0],
              "nmtrace %s '%s': exit %d, want 2 and one line naming %s: %r"
              % (opt, value, r.returncode, opt, r.stderr))
    return r.returncode == 0


def recorder_accepts(a, var, value, tmp):
    env = dict(plain_env(), LD_PRELOAD=a.preload, NMTRACE_OUTPUT=tmp + "/r.%p.nmt")
    env[var] = value
    r = run(["true"], env, tmp)
    check(r.returncode == 0, "true under NMTRACE_%s exited %d" % (var, r.returncode))
    said = [l for l in r.stderr.splitlines() if var in l]
    check(len(said) <= 1, "%s='%s': more than one line: %r" % (var, value, said))
    return not said


def one_profile(a, tmp):
    env = dict(plain_env(), LD_PRELOAD=a.preload, NMTRACE_OUTPUT=tmp + "/p.%p.nmt",
               NMTRACE_QUIET="1")
    run(["true"], env, tmp)
    found = glob.glob(tmp + "/p.*.nmt")
    check(len(found) == 1, "no profile of `true` for nmreport: %s" % found)
    return found[0] if found else None


def nmreport_accepts(a, value, prof, tmp):
    r = run([a.nmreport, "--rss", "--expect", value, prof], plain_env(), tmp)
    if r.returncode != 0:
        check("--expect" in r.stderr and len(r.stderr.splitlines()) == 1,
              "nmreport --expect '%s': exit %d without one line naming --expect: %r"
              % (value, r.returncode, r.stderr))
    return r.returncode == 0


def agree(a, tmp):
    prof = one_profile(a, tmp)
    cases = [("--growth", "NMTRACE_GROWTH", SIZES), ("--interval", "NMTRACE_INTERVAL", DURATIONS),
             ("--signal", "NMTRACE_SIGNAL", SIGNALS), ("--depth", "NMTRACE_DEPTH", DEPTHS),
             ("--unwind", "NMTRACE_UNWIND", UNWINDS)]
    for opt, var, table in cases:
        for value, want in sorted(table.items()):
            got = {"nmtrace " + opt: launcher_accepts(a, opt, value, tmp),
                   var: recorder_accepts(a, var, value, tmp)}
            if opt == "--growth" and prof:
                got["nmreport --expect"] = nmreport_accepts(a, value, prof, tmp)
            for who, ok in sorted(got.items()):
                check(ok == bool(want), "%s '%s' is %s, want %s" % (
                    who, value, "accepted" if ok else "refused", "accepted" if want else "refused"))
    print("agree: %d values, each given to every program that takes it"
          % sum(len(t) for _, _, t in cases))


def unknown_once(a, tmp):
    """A misspelt name is said once per run, naming the name it resembles."""
    env = dict(plain_env(), NMTRACE_RATEE="4096", NMTRACE_OUTPUT=tmp + "/u.%p.nmt")
    if a.extra:
        env["LD_PRELOAD"] = a.extra
    script = "/bin/true; /bin/true; exit 0"  # two recorded children of a recorded shell
    r = run([a.launcher, "--", "sh", "-c", script], env, tmp)
    said = [l for l in r.stderr.splitlines() if "NMTRACE_RATEE" in l]
    check(r.returncode == 0 and len(said) == 1 and "did you mean NMTRACE_RATE?" in said[0],
          "under the launcher: want one line on NMTRACE_RATEE, got %r" % r.stderr)
    env["LD_PRELOAD"] = a.preload
    r = run(["sh", "-c", script], env, tmp)
    said = [l for l in r.stderr.splitlines() if "NMTRACE_RATEE" in l]
    check(r.returncode == 0 and len(said) == 1,
          "plain LD_PRELOAD: want one line on NMTRACE_RATEE, got %r" % r.stderr)
    env["NMTRACE_QUIET"] = "1"
    r = run(["sh", "-c", script], env, tmp)
    check("NMTRACE_RATEE" not in r.stderr, "NMTRACE_QUIET=1 did not silence it: %r" % r.stderr)
    print("unknown names: one line per run")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--build", required=True)
    ap.add_argument("--preload", default="")
    a = ap.parse_args()
    b = os.path.abspath(a.build)
    a.launcher, a.nmreport = b + "/bin/nmtrace", b + "/bin/nmreport"
    a.preload = a.preload or b + "/lib/libnmtrace.so"
    a.extra = ":".join(a.preload.split(":")[1:])
    with tempfile.TemporaryDirectory(prefix="nmt-agree.") as tmp:
        agree(a, tmp)
        unknown_once(a, tmp)
    if failures:
        print("%d failures" % len(failures))
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
