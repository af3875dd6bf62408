#!/usr/bin/env python3
"""Robustness suite: the recorder must never change what a program does.

Usage: robust.py CASE --preload LIST --bindir DIR --plugin SO --workdir DIR
LIST is what goes in LD_PRELOAD (':'-separated, as CMake's NMT_TEST_PRELOAD).
Each case runs a program of tests/robust/ unprofiled and under the recorder
(default rate, and rate 1 where exactness matters) and checks that
  - stdout, stderr, the files it writes and its exit status or terminating
    signal are the same as unprofiled (NMTRACE_QUIET=1, except where a case
    checks what the recorder says on stderr);
  - it ends (a generous timeout is a hang guard, never a pass condition);
  - every profile reads back with tests/recorder/nmtprof.py (FORMAT.md),
    and nothing is lost silently: at rate 1 a profile that counts no loss
    holds exactly the bytes the program says it leaked from rb_leak_site.
Exit 0 pass, 1 fail, 77 skip.
"""
import argparse
import os
import pathlib
import queue
import re
import resource
import shutil
import signal
import stat
import subprocess
import sys
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "recorder"))
import nmtprof  # noqa: E402
import seccomp_allow  # noqa: E402

# Counters of FORMAT.md §3 that say something was not recorded. Names that
# later versions add with "drop" or "lost" in them are taken as losses too.
LOSS_COUNTERS = ("rec.ring_drops", "rec.ring_drop_bytes", "rec.free_drops", "rec.lost_no_ring",
                 "rec.unwind_errors", "rec.liveset_full", "rec.internal_errors",
                 "rec.write_errors", "java.records_lost")
PROFILE_NAME = re.compile(r"^nmtrace\.\d+(\.\d+)?\.nmt$")


class Fail(Exception):
    pass


class Skip(Exception):
    pass


def check(cond, msg):
    if not cond:
        raise Fail(msg)


def snippet(b):
    s = b.decode(errors="replace")
    return repr(s if len(s) <= 600 else s[:300] + " ... " + s[-300:])


class Result:
    """What one run of a program did."""

    def __init__(self, label, pid, stdout, stderr, status, files, profdir):
        self.label, self.pid = label, pid
        self.stdout, self.stderr, self.status = stdout, stderr, status
        self.files, self.profdir = files, profdir

    def leaked(self):
        m = re.search(rb"^leaked (\d+)$", self.stdout, re.M)
        return int(m.group(1)) if m else None


def status_text(st):
    if st is None:
        return "still running"
    if st < 0:
        return "killed by %s" % signal.Signals(-st).name
    return "exit %d" % st


def tree_files(root):
    """Every file under root: its bytes, or where a symlink points."""
    out = {}
    for d, _dirs, names in os.walk(root):
        for n in names:
            p = os.path.join(d, n)
            rel = os.path.relpath(p, root)
            if os.path.islink(p):
                out[rel] = b"symlink to " + os.readlink(p).encode()
            else:
                with open(p, "rb") as f:
                    out[rel] = f.read()
    return out


class Proc:
    """A running program with its stdout read line by line."""

    def __init__(self, label, p, cwd, profdir, guard):
        self.label, self.p = label, p
        self.cwd, self.profdir, self.guard = cwd, profdir, guard
        self.lines = queue.Queue()
        self.out, self.err = [], []
        self.t_out = threading.Thread(target=self._pump_out)
        self.t_err = threading.Thread(target=self._pump, args=(p.stderr, self.err))
        self.t_out.start()
        self.t_err.start()

    def _pump_out(self):
        for line in iter(self.p.stdout.readline, b""):
            self.out.append(line)
            self.lines.put(line)
        self.lines.put(None)

    @staticmethod
    def _pump(f, into):
        for chunk in iter(lambda: f.read(65536), b""):
            into.append(chunk)

    def send(self, data):
        self.p.stdin.write(data)
        self.p.stdin.flush()

    def read_line(self):
        try:
            line = self.lines.get(timeout=self.guard)
        except queue.Empty:
            raise Fail("%s: no output line within %d s (hang?)" % (self.label, self.guard))
        if line is None:
            raise Fail("%s: ended early (%s); stderr %s" % (
                self.label, status_text(self.p.wait()), snippet(b"".join(self.err))))
        return line

    def wait_for(self, what, cond):
        """Waits until cond() is true; the guard only stops a hang."""
        end = time.monotonic() + self.guard
        while not cond():
            if self.p.poll() is not None:
                if cond():
                    break  # it ended right after doing what we wait for
                raise Fail("%s: ended (%s) before %s" % (self.label, status_text(self.p.returncode),
                                                         what))
            if time.monotonic() > end:
                raise Fail("%s: no %s within %d s" % (self.label, what, self.guard))
            time.sleep(0.02)

    def snapshots(self):
        """Complete snapshots in the run's profiles now (the file may be mid-write)."""
        n = []
        for path in profile_paths(self.profdir):
            try:
                n += nmtprof.Profile(path).snapshots
            except (nmtprof.ProfileError, OSError):
                pass
        return n

    def finish(self, close_stdin=True):
        if close_stdin and self.p.stdin:
            try:
                self.p.stdin.close()
            except BrokenPipeError:
                pass  # it ended without reading all of it
        try:
            st = self.p.wait(timeout=self.guard)
        except subprocess.TimeoutExpired:
            os.killpg(self.p.pid, signal.SIGKILL)
            self.p.wait()
            raise Fail("%s: did not end within %d s (hang); stdout so far %s" % (
                self.label, self.guard, snippet(b"".join(self.out))))
        self.t_out.join()
        self.t_err.join()
        return Result(self.label, self.p.pid, b"".join(self.out), b"".join(self.err), st,
                      tree_files(self.cwd), self.profdir)


def unmount_under(d):
    with open("/proc/mounts") as f:
        points = [line.split()[1] for line in f]
    for m in sorted(points, reverse=True):
        if m.startswith(d + "/"):
            subprocess.run(["umount", m], capture_output=True)


def profile_paths(d):
    if not os.path.isdir(d):
        return []
    return sorted(os.path.join(d, n) for n in os.listdir(d) if n.endswith(".nmt"))


class Suite:
    def __init__(self, a):
        # Programs run in their own directories: relative entries made absolute.
        self.preload = ":".join(os.path.abspath(x) if "/" in x else x
                                for x in a.preload.split(":") if x)
        self.bindir = os.path.abspath(a.bindir)
        self.plugin = os.path.abspath(a.plugin)
        self.work = os.path.abspath(a.workdir)
        self.guard = a.guard
        self.runs = 0
        self.failures = []
        unmount_under(self.work)  # left by a run that was killed
        shutil.rmtree(self.work, ignore_errors=True)
        os.makedirs(self.work)

    def prog(self, name):
        return os.path.join(self.bindir, name)

    def start(self, argv, label, profiled=True, env=None, limits=None, quiet=True):
        self.runs += 1
        base = os.path.join(self.work, "%02d-%s" % (self.runs, label))
        cwd, profdir = os.path.join(base, "cwd"), os.path.join(base, "prof")
        os.makedirs(cwd)
        os.makedirs(profdir)
        e = {k: v for k, v in os.environ.items()
             if not k.startswith("NMTRACE_") and k != "LD_PRELOAD"}
        if profiled:
            e["LD_PRELOAD"] = self.preload
            e["NMTRACE_OUTPUT"] = os.path.join(profdir, "p.%p.nmt")
            if quiet:
                e["NMTRACE_QUIET"] = "1"
        e.update(env or {})
        lim = dict(limits or {})

        def child_setup():
            os.setsid()  # its own group: a hang is killed whole
            resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
            for res, v in lim.items():
                resource.setrlimit(res, (v, v))

        p = subprocess.Popen(argv, env=e, cwd=cwd, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, preexec_fn=child_setup)
        return Proc("%s (%s)" % (label, " ".join(os.path.basename(x) for x in argv)), p,
                    cwd, profdir, self.guard)

    def run(self, argv, label, stdin=b"", **kw):
        pr = self.start(argv, label, **kw)
        try:
            if stdin:
                pr.send(stdin)
        except BrokenPipeError:
            pass
        return pr.finish()

    def soft(self, fn, *args):
        """Runs one check; a failure is noted and the case goes on."""
        try:
            fn(*args)
        except Fail as e:
            self.failures.append(str(e))
            print("FAIL:", e)


# ---- comparisons -------------------------------------------------------------

def same_as(plain, r, ignore_files=None):
    """r did exactly what the unprofiled run did."""
    errs = []
    if r.status != plain.status:
        errs.append("%s, unprofiled %s" % (status_text(r.status), status_text(plain.status)))
    if r.stdout != plain.stdout:
        errs.append("stdout differs: " + text_diff(r.stdout, plain.stdout))
    if r.stderr != plain.stderr:
        errs.append("stderr differs: " + text_diff(r.stderr, plain.stderr))
    errs += files_differ(plain.files, r.files, ignore_files)
    check(not errs, "%s: %s" % (r.label, "; ".join(errs)))


def text_diff(got, want):
    """Where two outputs part: the first line that differs, and their sizes."""
    g, w = got.splitlines(keepends=True), want.splitlines(keepends=True)
    i = 0
    while i < min(len(g), len(w)) and g[i] == w[i]:
        i += 1
    return "from line %d: %s, unprofiled %s (%d lines, unprofiled %d)" % (
        i + 1, snippet(b"".join(g[i:i + 3])), snippet(b"".join(w[i:i + 3])), len(g), len(w))


def files_differ(want, got, ignore=None):
    errs = []
    got = {k: v for k, v in got.items() if not (ignore and ignore(k))}
    for name in sorted(set(want) | set(got)):
        if name not in got:
            errs.append("file %s missing" % name)
        elif name not in want:
            errs.append("extra file %s (%d bytes)" % (name, len(got[name])))
        elif got[name] != want[name]:
            errs.append("file %s differs: %d bytes, unprofiled %d" % (
                name, len(got[name]), len(want[name])))
    return errs


# Where the profile is, said once at start and once at exit by default: not
# a notice about a problem.
ANNOUNCEMENT = re.compile(r"^nmtrace: (recording pid \d+ to /|pid \d+: \d+ snapshots? in /)")


def nmtrace_lines(stderr):
    """The recorder's notices on stderr, its two announcements left out."""
    return [l for l in stderr.decode(errors="replace").splitlines()
            if l.startswith("nmtrace") and not ANNOUNCEMENT.match(l)]


def same_but_notices(plain, r, ignore_files=None):
    """Not quiet: the same, except lines of the recorder's own on stderr.
    Returns those lines."""
    lines = nmtrace_lines(r.stderr)
    rest = b"".join(l for l in r.stderr.splitlines(keepends=True) if not l.startswith(b"nmtrace"))
    stripped = Result(r.label, r.pid, r.stdout, rest, r.status, r.files, r.profdir)
    same_as(plain, stripped, ignore_files)
    check(b"nmtrace" not in r.stdout or b"nmtrace" in plain.stdout,
          "%s: the recorder wrote to stdout" % r.label)
    return lines


# ---- profiles ----------------------------------------------------------------

def read_profile(path):
    """A profile, or None for an empty file (nothing could be written)."""
    data = open(path, "rb").read()
    if len(data) < len(nmtprof.MAGIC) and nmtprof.MAGIC.startswith(data):
        return None
    try:
        return nmtprof.Profile(path)
    except Exception as e:  # ProfileError, and struct errors from a damaged record
        raise Fail("profile %s does not read back: %s" % (path, e))


def losses(snap):
    return {k: v for k, v in snap.counters.items()
            if v and (k in LOSS_COUNTERS or re.match(r"rec\..*(drop|lost)", k))}


def check_profile(prof, label, exact=False, truth=None, prog=None, need_exit=True):
    """One profile: complete to its exit snapshot if need_exit, and at rate 1
    with a known leak either every byte of it or a counted loss."""
    if need_exit:
        check(prof.snapshots, "%s: %s has no complete snapshot" % (label, prof.path))
        check(prof.last().reason == 1,
              "%s: %s ends with a snapshot of reason %d, not the exit snapshot" % (
                  label, prof.path, prof.last().reason))
        check(not prof.truncated, "%s: %s is cut after its exit snapshot" % (label, prof.path))
    if not prof.snapshots:
        return
    snap = prof.last()
    check(prof.header["exe"] and snap.maps, "%s: %s has %s and %d MAPS entries in its last "
          "snapshot: its stacks cannot be symbolized" % (
              label, prof.path, "exe %r" % prof.header["exe"], len(snap.maps)))
    seqs = [s.seq for s in prof.snapshots]
    check(seqs == list(range(len(seqs))), "%s: snapshot seqs %s" % (label, seqs))
    lost = losses(snap)
    if lost:
        print("  %s: counted losses %s" % (label, lost))
    if exact and truth is not None and not lost:
        syms = nmtprof.Symbols(prog)
        got = nmtprof.site_total(prof, snap, syms, "rb_leak_site", "live_bytes")
        check(got == truth, "%s: rb_leak_site holds %d live bytes at rate 1, the program leaked "
              "%d, and no loss is counted (%s)" % (label, got, truth, prof.path))


def profiles_of(r, allow_empty=False):
    out = []
    for path in profile_paths(r.profdir):
        p = read_profile(path)
        if p is None:
            check(allow_empty, "%s: empty profile %s" % (r.label, path))
            continue
        out.append(p)
    return out


def main_profile(r, profs):
    mine = [p for p in profs if p.header["pid"] == r.pid]
    check(len(mine) == 1, "%s: %d profiles of pid %d (files %s)" % (
        r.label, len(mine), r.pid, profile_paths(r.profdir)))
    return mine[0]


# ---- the common shape: unprofiled, then default rate and rate 1 --------------

RATES = (None, "1")


def rate_env(rate, env=None):
    e = dict(env or {})
    if rate:
        e["NMTRACE_RATE"] = rate
    return e


def rate_label(rate):
    return "rate1" if rate == "1" else "default"


def same_everywhere(s, argv, label, rates=RATES, env=None, limits=None, stdin=b"",
                    need_exit=True, allow_empty=False, each=None):
    """Runs argv unprofiled and at each rate; checks output, files, status and
    the profiles. each(r, profs, rate) adds case-specific checks."""
    plain = s.run(argv, label + "-plain", profiled=False, env=env, limits=limits, stdin=stdin)
    print("%s unprofiled: %s, %d bytes of stdout" % (label, status_text(plain.status),
                                                     len(plain.stdout)))
    for rate in rates:
        def checks():
            r = s.run(argv, "%s-%s" % (label, rate_label(rate)), env=rate_env(rate, env),
                      limits=limits, stdin=stdin)
            same_as(plain, r)
            profs = profiles_of(r, allow_empty)
            if each:
                each(r, profs, rate)
            else:
                for p in profs:
                    exact = rate == "1" and p.header["pid"] == r.pid
                    check_profile(p, r.label, exact, plain.leaked(), argv[0], need_exit)
            print("%s: same as unprofiled, %d profile(s) read back" % (r.label, len(profs)))

        s.soft(checks)
    return plain


# ---- cases -------------------------------------------------------------------

def case_pthread_exit(s):
    same_everywhere(s, [s.prog("rb_exit"), "pthread_exit"], "pthread_exit")


def case_pthread_exit_worker(s):
    same_everywhere(s, [s.prog("rb_exit"), "pthread_exit_worker"], "pthread_exit_worker")


def case_exit_threads(s):
    # Threads still allocate during the exit snapshot: their last events may
    # miss it, so the leak is not compared exactly (need_exit still holds).
    def each(r, profs, rate):
        check(len(profs) == 1, "%s: %d profiles" % (r.label, len(profs)))
        check_profile(profs[0], r.label)
    same_everywhere(s, [s.prog("rb_exit"), "exit_threads"], "exit_threads", each=each)


def died(s, mode, sig):
    def each(r, profs, rate):
        # No destructor runs: what was written before must read back.
        for p in profs:
            check_profile(p, r.label, need_exit=False)
    plain = same_everywhere(s, [s.prog("rb_exit"), mode], mode, need_exit=False, allow_empty=True,
                            each=each)
    check(plain.status == -sig, "unprofiled %s: %s" % (mode, status_text(plain.status)))


def case_abort(s):
    died(s, "abort", signal.SIGABRT)


def case_segv(s):
    died(s, "segv", signal.SIGSEGV)


def daemon(s, nounwind, rates):
    rounds = 4
    argv = [s.prog("rb_daemon"), str(rounds)] + (["nounwind"] if nounwind else [])
    label = "daemon_nounwind" if nounwind else "daemon_fds"

    def drive(pr, profiled):
        pr.send(b"go\n")
        pr.read_line()
        if profiled:  # the profile is open before the program closes everything
            pr.wait_for("snapshot after round 0", lambda: len(pr.snapshots()) >= 1)
        pr.send(b"close\n")
        pr.read_line()
        for r in range(1, rounds + 1):
            before = len(pr.snapshots()) if profiled else 0
            pr.send(b"round\n")
            pr.read_line()
            if profiled:
                pr.wait_for("snapshot after round %d" % r, lambda: len(pr.snapshots()) > before)
        pr.send(b"end\n")
        return pr.finish()

    plain = drive(s.start(argv, label + "-plain", profiled=False), False)
    check(plain.status == 0, "unprofiled %s: %s %s" % (label, status_text(plain.status),
                                                       snippet(plain.stderr)))
    for rate in rates:
        env = rate_env(rate, {"NMTRACE_GROWTH": "1m"})
        pr = s.start(argv, "%s-%s" % (label, rate_label(rate)), env=env)
        try:
            r = drive(pr, True)
        except Fail as e:
            s.failures.append(str(e))
            print("FAIL:", e)
            # Go on without waiting, to show what happened to the files.
            r = finish_blind(pr, rounds)

        def checks():
            same_as(plain, r)
            prof = main_profile(r, profiles_of(r))
            check_profile(prof, r.label, rate == "1", plain.leaked(), argv[0])
            check(len(prof.snapshots) >= rounds + 2, "%s: only %d snapshots" % (
                r.label, len(prof.snapshots)))
            print("%s: data files identical, %d snapshots" % (r.label, len(prof.snapshots)))
        s.soft(checks)


def finish_blind(pr, rounds):
    try:
        pr.send(b"x\n" * (rounds + 3))
    except (BrokenPipeError, ValueError):
        pass
    return pr.finish()


def case_daemon_fds(s):
    daemon(s, False, RATES)


def case_daemon_nounwind(s):
    daemon(s, True, ("1",))


def case_seccomp(s):
    """A program under the seccomp filter of a hardened systemd service
    (SystemCallFilter=@system-service: any other system call kills the
    process; rb_seccomp.c), allocating from a frame without unwind tables
    whose frame pointer leads out of the stack (rb_wild_fp.S), so that an
    unwinder that follows it must not probe that memory with a system call
    outside the set. Same output and exit status as unprofiled, with the
    default unwinder (which hands that stack to libunwind) and with
    libunwind for every stack, at the default rate and at rate 1, the exit
    snapshot included."""
    allow = seccomp_allow.allow_numbers()
    if allow is None:
        raise Skip("no x86-64 system call table here")
    env = {"RB_ALLOW": allow}
    argv = [s.prog("rb_seccomp"), "churn", "3000"]
    plain = s.run(argv, "seccomp-probe", profiled=False, env=env)
    if plain.status == 77:
        raise Skip("no seccomp filter here: " + snippet(plain.stderr))
    same_everywhere(s, argv, "seccomp", env=env)
    same_everywhere(s, argv, "seccomp_libunwind", env=dict(env, NMTRACE_UNWIND="libunwind"))

    # Started under the filter (rb_seccomp exec): the recorder's start-up
    # runs confined too, so libunwind is left alone (rec.libunwind_off).
    def confined(r, profs, rate):
        for p in profs:
            check_profile(p, r.label, need_exit=False)
        last = [p for p in profs if p.snapshots]
        check(last and last[-1].last().counters.get("rec.libunwind_off") == 1,
              "%s: rec.libunwind_off is not 1 in the confined program's profile" % r.label)
    same_everywhere(s, [s.prog("rb_seccomp"), "exec"] + argv, "seccomp_exec", env=env,
                    each=confined)


def case_ulimit_f0(s):
    same_everywhere(s, [s.prog("rb_limits"), "fsize", "0"], "ulimit_f0",
                    limits={resource.RLIMIT_FSIZE: 0}, need_exit=False, allow_empty=True)


def case_ulimit_f_small(s):
    limit = 16384

    def each(r, profs, rate):
        for p in profs:
            check(os.path.getsize(p.path) <= limit, "%s: profile beyond the limit" % r.label)
            check_profile(p, r.label, need_exit=False)
    same_everywhere(s, [s.prog("rb_limits"), "fsize", "3000"], "ulimit_f_small",
                    limits={resource.RLIMIT_FSIZE: limit}, allow_empty=True, each=each)


def load_size(path):
    """Bytes of address space the PT_LOAD segments of an ELF file take."""
    out = subprocess.run(["readelf", "-lW", path], capture_output=True, text=True,
                         check=True).stdout
    lo, hi = None, 0
    for line in out.splitlines():
        f = line.split()
        if f and f[0] == "LOAD":
            va, memsz = int(f[2], 16), int(f[5], 16)
            lo = va if lo is None else min(lo, va)
            hi = max(hi, va + memsz)
    return (hi - (lo or 0) + 4095) // 4096 * 4096


def preload_code_size(s, prog):
    """Address space of the preloaded objects and the libraries only they bring in."""
    def libs(path):
        out = subprocess.run(["ldd", path], capture_output=True, text=True).stdout
        return {m.group(1) for m in re.finditer(r"=> (/\S+)", out)}
    have = libs(prog)
    extra = set()
    for obj in s.preload.split(":"):
        extra.add(obj)
        extra |= libs(obj) - have
    return sum(load_size(o) for o in extra), sorted(extra)


def case_ulimit_v(s):
    if os.environ.get("NMT_TEST_SANITIZED") == "1" or re.search(r"[at]san[^/]*\.so", s.preload):
        raise Skip("a sanitizer runtime cannot run under RLIMIT_AS (it maps its shadow)")
    argv = [s.prog("rb_limits"), "vm", "4"]
    full = s.run(argv, "ulimit_v-unlimited", profiled=False)
    check(full.status == 0, "unprofiled vm run failed: %s" % snippet(full.stderr))

    def fits(limit):
        r = s.run(argv, "ulimit_v-probe", profiled=False, limits={resource.RLIMIT_AS: limit})
        return r.status == full.status and r.stdout == full.stdout

    mib = 1 << 20
    hi = 64 * mib
    while not fits(hi):
        hi *= 2
        check(hi < (1 << 34), "no address-space limit lets the program run")
    lo = 8 * mib
    while hi - lo > mib:
        mid = (lo + hi) // 2 // mib * mib
        if fits(mid):
            hi = mid
        else:
            lo = mid
    code, objs = preload_code_size(s, argv[0])
    # Room for the recorder's code and libraries, its writer thread's stack and
    # its first tables; per-thread rings and anything more must fit in what
    # is left, or be given up (counted).
    limit = hi + code + 8 * mib
    print("ulimit_v: unprofiled need %d MiB, recorder code %d KiB (%s), limit %d MiB" % (
        hi // mib, code // 1024, " ".join(os.path.basename(o) for o in objs), limit // mib))
    same_everywhere(s, argv, "ulimit_v", limits={resource.RLIMIT_AS: limit})


def case_ulimit_n(s):
    # The recorder holds a descriptor only while it takes a snapshot: with
    # no periodic one (the first is due 10 s in, which a busy machine can
    # make this run last) none comes before the exit one, and the program
    # opens as many files as unprofiled, not one fewer.
    same_everywhere(s, [s.prog("rb_limits"), "nofile"], "ulimit_n",
                    env={"NMTRACE_INTERVAL": "0"}, limits={resource.RLIMIT_NOFILE: 64})


def case_heap_start(s):
    # The recorder's start-up (its writer thread's TLS block, allocated by
    # pthread_create on the main thread) must not come from the program's
    # heap: the program would find its heap already started and its blocks
    # placed differently, and a program that prints or orders by address
    # would print something else.
    if os.environ.get("NMT_TEST_SANITIZED") == "1" or re.search(r"[at]san[^/]*\.so", s.preload):
        raise Skip("a sanitizer runtime brings its own allocator: another heap than unprofiled")
    same_everywhere(s, [s.prog("rb_limits"), "heap"], "heap_start")


def case_setuid(s):
    """Under AT_SECURE the recorder records nothing and forwards every call:
    a setuid program that allocates more than the bootstrap arena holds
    gets every block (it used to get NULL once the arena ran out)."""
    if os.geteuid() != 0:
        raise Skip("making a set-user-ID program for another user needs root")
    lib = os.path.join(os.path.dirname(s.bindir), "lib", "libnmtrace.so")
    # The loader opens the library as the program's user: every directory on
    # the way must be searchable, the library readable, by others.
    path = os.path.realpath(lib)
    parts = [path] + [str(d) for d in pathlib.PurePath(path).parents]
    for p in parts:
        mode = os.stat(p).st_mode
        need = stat.S_IROTH if p == path else stat.S_IXOTH
        if not mode & need:
            raise Skip("%s is not open to other users: the setuid program could not load it" % p)
    prog = os.path.join(s.work, "rb_secure")
    shutil.copy(s.prog("rb_secure"), prog)
    os.chmod(s.work, 0o755)
    os.chown(prog, 65534, 65534)
    os.chmod(prog, 0o4755)
    r = subprocess.run([prog], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                       timeout=s.guard, env={k: v for k, v in os.environ.items()
                                             if not k.startswith("NMTRACE_")})
    if r.stdout.startswith("secure=0"):
        raise Skip("the set-user-ID bit had no effect here (a nosuid mount?)")
    if r.returncode != 0 or not r.stdout.startswith("secure=1 blocks="):
        raise Fail("setuid program: exit %d, stdout %r, stderr %r"
                   % (r.returncode, r.stdout, r.stderr))
    print("setuid: every block allocated under AT_SECURE (%s)" % r.stdout.strip())


def case_prodcons(s):
    same_everywhere(s, [s.prog("rb_threads"), "prodcons", "4", "4", "20000"], "prodcons")


def case_thread_storm(s):
    same_everywhere(s, [s.prog("rb_threads"), "storm", "2000", "50"], "thread_storm")


def children_profiles(r, prog, profs, rate, want_children, child_truths):
    """The parent's profile and, at rate 1, one per child with its own leak."""
    prof = main_profile(r, profs)
    check_profile(prof, r.label, rate == "1", 4096, prog)
    kids = [p for p in profs if p is not prof]
    for p in kids:
        check(p.header["pid"] != r.pid, "%s: two profiles of the parent" % r.label)
        check_profile(p, r.label)
    if rate == "1":
        check(len(kids) == want_children, "%s: %d child profiles, %d children" % (
            r.label, len(kids), want_children))
        syms = nmtprof.Symbols(prog)
        got = sorted(nmtprof.site_total(p, p.last(), syms, "rb_leak_site", "live_bytes")
                     for p in kids if not losses(p.last()))
        want = sorted(child_truths)
        counted = sum(1 for p in kids if losses(p.last()))
        check(counted or got == want, "%s: children's leaks %s, expected %s" % (
            r.label, got[:10], want[:10]))


def fork_case(s, label, argv, want_children, child_truths):
    def each(r, profs, rate):
        children_profiles(r, argv[0], profs, rate, want_children, child_truths)
    same_everywhere(s, argv, label, each=each)


def case_fork_storm(s):
    if re.search(r"lib[a-z]*san", s.preload):
        # As in fork_threads: a child forked while the recorder's writer
        # thread is in the ASan runtime can find its locks held forever (the
        # recorder then says its writer did not stop and writes no profile).
        raise Skip("the ASan runtime can deadlock a child forked while another thread is in it")
    n = 60
    truths = [1000 + i for i in range(n)] + [1000 + 1000 + i for i in range(0, n, 10)]
    fork_case(s, "fork_storm", [s.prog("rb_fork"), "storm", str(n)], len(truths), truths)


def case_fork_threads(s):
    if re.search(r"lib[a-z]*san", s.preload):
        # GCC 12's ASan runtime alone (no recorder) deadlocks a child forked
        # while other threads are in its allocator: it has no fork handler.
        raise Skip("the ASan runtime deadlocks children forked while threads allocate")
    n = 40
    fork_case(s, "fork_threads", [s.prog("rb_fork"), "threads", str(n)], n,
              [1000 + i for i in range(n)])


def case_posix_spawn(s):
    n = 20
    fork_case(s, "posix_spawn", [s.prog("rb_fork"), "spawn", str(n)], n,
              [1000 + i for i in range(n)])


def case_vfork(s):
    n = 20
    fork_case(s, "vfork", [s.prog("rb_fork"), "vfork", str(n)], n, [1000 + i for i in range(n)])


def case_exec_chain(s):
    n = 10
    argv = [s.prog("rb_fork"), "exec", str(n)]

    def each(r, profs, rate):
        # Every image has the same pid; the last one runs to exit.
        check(profs, "%s: no profile" % r.label)
        last = [p for p in profs if p.header["cmdline"][1:] == ["exec", "0"]]
        check(len(last) == 1, "%s: %d profiles of the last image (of %d)" % (
            r.label, len(last), len(profs)))
        for p in profs:
            check(p.header["pid"] == r.pid, "%s: a profile of pid %d" % (r.label, p.header["pid"]))
            check_profile(p, r.label, need_exit=p is last[0])
        check_profile(last[0], r.label, rate == "1", 2000, argv[0])
    same_everywhere(s, argv, "exec_chain", each=each)


def case_dlopen(s):
    same_everywhere(s, [s.prog("rb_dlopen"), s.plugin, "300"], "dlopen")


def case_kill9(s):
    """SIGKILL while snapshots follow each other: the file reads back up to
    its last complete snapshot, whatever byte the kill cut it at."""
    argv = [s.prog("rb_signal"), "grow"]
    for k in (2, 4, 7):
        pr = s.start(argv, "kill9-after-%d" % k, env={"NMTRACE_RATE": "1",
                                                       "NMTRACE_GROWTH": "1"})
        pr.read_line()
        pr.wait_for("%d snapshots" % k, lambda: len(pr.snapshots()) >= k)
        pr.p.send_signal(signal.SIGKILL)
        r = pr.finish()

        def checks():
            check(r.status == -signal.SIGKILL, "%s: %s" % (r.label, status_text(r.status)))
            profs = profiles_of(r)
            check(len(profs) == 1, "%s: %d profiles" % (r.label, len(profs)))
            p = profs[0]
            check(len(p.snapshots) >= k, "%s: %d snapshots read back, %d were seen" % (
                r.label, len(p.snapshots), k))
            check_profile(p, r.label, need_exit=False)
            print("%s: %d snapshots read back (file %s)" % (
                r.label, len(p.snapshots), "cut mid-record" if p.truncated else "whole"))
        s.soft(checks)


def case_signal_burst(s):
    argv = [s.prog("rb_signal"), "burst"]
    pr = s.start(argv, "signal_burst-plain", profiled=False)
    pr.read_line()
    plain = pr.finish()
    check(plain.status == 0, "unprofiled burst: %s" % snippet(plain.stderr))
    for rate in RATES:
        env = rate_env(rate, {"NMTRACE_SIGNAL": "USR1"})
        pr = s.start(argv, "signal_burst-%s" % rate_label(rate), env=env)
        pr.read_line()  # "ready": the recorder's handler is in place
        for _ in range(300):
            pr.p.send_signal(signal.SIGUSR1)
        pr.wait_for("snapshot on the signal",
                    lambda: any(x.reason == 4 for x in pr.snapshots()))
        for _ in range(300):
            pr.p.send_signal(signal.SIGUSR1)
        r = pr.finish()

        def checks():
            same_as(plain, r)
            prof = main_profile(r, profiles_of(r))
            check_profile(prof, r.label, rate == "1", plain.leaked(), argv[0])
            reasons = [x.reason for x in prof.snapshots]
            print("%s: same as unprofiled, snapshot reasons %s" % (r.label, reasons))
        s.soft(checks)


def quiet_and_loud(s, argv, label, env, plain, expect_line):
    """Quiet: nothing changes. Not quiet: stderr gets exactly one line of the
    recorder's, which names expect_line."""
    r = s.run(argv, label + "-quiet", env=env)
    s.soft(same_as, plain, r)
    r = s.run(argv, label + "-loud", env=env, quiet=False)

    def loud():
        lines = same_but_notices(plain, r)
        check(len(lines) == 1 and expect_line in lines[0],
              "%s: expected one line of the recorder's naming %r on stderr, got %s" % (
                  r.label, expect_line, lines))
    s.soft(loud)
    return r


def case_unwritable_dir(s):
    argv = [s.prog("rb_limits"), "fsize", "1000"]
    plain = s.run(argv, "unwritable-plain", profiled=False)
    places = []
    missing = os.path.join(s.work, "no-such-dir")
    places.append(("missing", missing))
    afile = os.path.join(s.work, "a-file")
    open(afile, "w").write("not a directory\n")
    places.append(("under-a-file", afile))
    ro = os.path.join(s.work, "read-only")
    os.makedirs(ro)
    mounted = False
    if os.geteuid() == 0:
        mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", "ro,size=64k", "tmpfs", ro],
                                 capture_output=True).returncode == 0
        if mounted:
            places.append(("read-only-mount", ro))
        else:
            print("read-only directory not tried: root, and cannot mount a read-only tmpfs")
    else:
        os.chmod(ro, 0o555)
        places.append(("read-only-dir", ro))
    try:
        for name, d in places:
            out = os.path.join(d, "p.%p.nmt")
            quiet_and_loud(s, argv, "unwritable-" + name, {"NMTRACE_OUTPUT": out}, plain, d)
            check(not os.path.exists(missing), "the recorder created %s" % missing)
            check(open(afile).read() == "not a directory\n", "the recorder changed %s" % afile)
            check(not os.path.isdir(ro) or not os.listdir(ro), "files appeared in %s" % ro)
    finally:
        if mounted:
            subprocess.run(["umount", ro])


def case_full_fs(s):
    if os.geteuid() != 0:
        raise Skip("mounting a small tmpfs needs root")
    full = os.path.join(s.work, "full")
    os.makedirs(full)
    if subprocess.run(["mount", "-t", "tmpfs", "-o", "size=256k", "tmpfs", full],
                      capture_output=True).returncode != 0:
        raise Skip("cannot mount a tmpfs")
    argv = [s.prog("rb_limits"), "fsize", "1000"]
    try:
        plain = s.run(argv, "full_fs-plain", profiled=False)
        for room in (0, 48 << 10):
            for n in os.listdir(full):
                os.unlink(os.path.join(full, n))
            fill(full, room)
            out = os.path.join(full, "room%d.%%p.nmt" % room)
            env = {"NMTRACE_OUTPUT": out, "NMTRACE_GROWTH": "1m"}
            for rate in RATES:
                r = s.run(argv, "full_fs-room%d-%s" % (room, rate_label(rate)),
                          env=rate_env(rate, env))

                def checks():
                    same_as(plain, r)
                    for n in os.listdir(full):
                        if n.startswith("room%d." % room) and n.endswith(".nmt"):
                            p = read_profile(os.path.join(full, n))
                            if p is not None:
                                check_profile(p, r.label, need_exit=False)
                                print("%s: %d snapshots fitted" % (r.label, len(p.snapshots)))
                            os.unlink(os.path.join(full, n))
                s.soft(checks)
        fill(full, 0)
        quiet_and_loud(s, argv, "full_fs-loud", {"NMTRACE_OUTPUT": os.path.join(full, "l.nmt")},
                       plain, "nmtrace")
    finally:
        subprocess.run(["umount", full])


def fill(d, room):
    """Fills the file system of d until only about room bytes are free."""
    spare = os.path.join(d, "spare")
    if room:
        with open(spare, "wb") as f:
            f.write(b"s" * room)
    fd = os.open(os.path.join(d, "filler"), os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    try:
        while os.write(fd, b"f" * 4096) > 0:
            pass
    except OSError:
        pass
    os.close(fd)
    if room:
        os.unlink(spare)


def case_output_exists(s):
    argv = [s.prog("rb_limits"), "fsize", "1000"]
    plain = s.run(argv, "output_exists-plain", profiled=False)
    d = os.path.join(s.work, "out")
    os.makedirs(d)
    target = os.path.join(d, "prof.nmt")
    with open(target, "wb") as f:
        f.write(b"someone else's precious file\n")
    os.chmod(target, 0o640)
    before = os.stat(target)
    r = s.run(argv, "output_exists", env={"NMTRACE_OUTPUT": target})
    s.soft(same_as, plain, r)
    after = os.stat(target)
    check(open(target, "rb").read() == b"someone else's precious file\n",
          "the existing file at the output path was written")
    check((after.st_ino, after.st_mode, after.st_mtime_ns, after.st_size) ==
          (before.st_ino, before.st_mode, before.st_mtime_ns, before.st_size),
          "the existing file at the output path was touched")
    alt = os.path.join(d, "prof.1.nmt")
    check(os.path.exists(alt), "no profile at %s (files: %s)" % (alt, os.listdir(d)))
    p = read_profile(alt)
    check(p is not None, "empty profile %s" % alt)
    check_profile(p, r.label)
    print("output_exists: existing file untouched, profile at prof.1.nmt")


def case_output_symlink(s):
    argv = [s.prog("rb_limits"), "fsize", "1000"]
    plain = s.run(argv, "output_symlink-plain", profiled=False)
    victim = os.path.join(s.work, "victim.txt")
    with open(victim, "wb") as f:
        f.write(b"a file the symlink points to\n")
    before = os.stat(victim)
    for name, points_to in (("existing", victim), ("dangling", os.path.join(s.work, "nothing"))):
        d = os.path.join(s.work, "link-" + name)
        os.makedirs(d)
        link = os.path.join(d, "prof.nmt")
        os.symlink(points_to, link)
        r = s.run(argv, "output_symlink-" + name, env={"NMTRACE_OUTPUT": link})
        s.soft(same_as, plain, r)
        check(os.path.islink(link) and os.readlink(link) == points_to,
              "%s: the symlink at the output path was replaced" % name)
        check(not os.path.exists(os.path.join(s.work, "nothing")),
              "dangling symlink: the recorder created the file it points to")
        after = os.stat(victim)
        check(open(victim, "rb").read() == b"a file the symlink points to\n" and
              after.st_mtime_ns == before.st_mtime_ns,
              "%s: the recorder wrote through the symlink" % name)
        alt = os.path.join(d, "prof.1.nmt")
        check(os.path.exists(alt), "%s: no profile at %s (files: %s)" % (name, alt, os.listdir(d)))
        p = read_profile(alt)
        check(p is not None, "empty profile %s" % alt)
        check_profile(p, r.label)
        print("output_symlink-%s: nothing written through the link" % name)


# Bad values of every recorder variable of the README's table.
BAD_VALUES = {
    "NMTRACE_OUTPUT": ["x" * 5000],
    "NMTRACE_RATE": ["lots", "0", "-1", "12q", "99999999999999999999999", "2t"],
    "NMTRACE_SEED": ["x1", "-3"],
    "NMTRACE_UNWIND": ["magic", "frames"],
    "NMTRACE_DEPTH": ["0", "257", "deep"],
    "NMTRACE_INTERVAL": ["-1", "soon", "1.5"],
    "NMTRACE_GROWTH": ["big", "-5", "1q"],
    "NMTRACE_SIGNAL": ["SEGV", "TERM", "NOPE", "RTMIN+999", "0x10"],
    "NMTRACE_TRIGGER": ["t" * 5000],
    "NMTRACE_JAVA": ["maybe"],
    "NMTRACE_JAVA_WALK": ["bogus", "agct"],
    "NMTRACE_RING": ["1", "huge", "8g"],
    "NMTRACE_ON_FULL": ["sometimes", "block"],
    "NMTRACE_QUIET": ["yes"],
    "NMTRACE_RUN": ["r" * 100],
}
# Read by nmreport and by the example scripts, not by the recorder.
NOT_RECORDER = {"NMTRACE_DEBUG_PATH", "NMTRACE_BUILD"}


def readme_variables():
    text = open(os.path.join(HERE, "..", "..", "README.md")).read()
    return set(re.findall(r"^\| `(NMTRACE_[A-Z_]+)`", text, re.M))


def case_bad_env(s):
    documented = readme_variables()
    check("NMTRACE_RATE" in documented, "README's variable table not found")
    untested = documented - set(BAD_VALUES) - NOT_RECORDER
    check(not untested, "README lists %s but robust.py has no bad value for them" %
          sorted(untested))
    argv = [s.prog("rb_threads"), "prodcons", "2", "2", "2000"]
    plain = s.run(argv, "bad_env-plain", profiled=False)
    default_profile = lambda name: PROFILE_NAME.match(os.path.basename(name))  # noqa: E731
    for var in sorted(BAD_VALUES):
        for value in BAD_VALUES[var]:
            label = "bad_env-%s=%s" % (var[8:], value[:12])
            env = {var: value}
            # A bad NMTRACE_OUTPUT falls back on the default name, in the cwd.
            ignore = default_profile if var == "NMTRACE_OUTPUT" else None
            if var != "NMTRACE_QUIET":
                r = s.run(argv, label + "-quiet", env=env)
                s.soft(same_as, plain, r, ignore)
            r = s.run(argv, label + "-loud", env=env, quiet=False)

            def loud():
                lines = same_but_notices(plain, r, ignore)
                check(len(lines) == 1 and var in lines[0],
                      "%s: expected one line naming %s on stderr, got %s" % (r.label, var, lines))
                for p in profiles_of(r):
                    check_profile(p, r.label)
            s.soft(loud)
    print("bad_env: %d values of %d variables" % (sum(map(len, BAD_VALUES.values())),
                                                  len(BAD_VALUES)))


def case_notice(s):
    """Not quiet: whatever the recorder says goes to stderr, in at most one line."""
    argv = [s.prog("rb_limits"), "fsize", "1000"]
    plain = s.run(argv, "notice-plain", profiled=False)
    r = s.run(argv, "notice", quiet=False)
    lines = same_but_notices(plain, r)
    check(len(lines) <= 1, "%s: %d lines of the recorder's on stderr: %s" % (
        r.label, len(lines), lines))
    for p in profiles_of(r):
        check_profile(p, r.label)
    print("notice: stdout and files unchanged; the recorder said %s" % lines)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("case")
    ap.add_argument("--preload", required=True, help="LD_PRELOAD value, ':'-separated")
    ap.add_argument("--bindir", required=True)
    ap.add_argument("--plugin", required=True)
    ap.add_argument("--workdir", required=True)
    ap.add_argument("--guard", type=int, default=120, help="seconds before a wait is a hang")
    a = ap.parse_args()
    fn = globals().get("case_" + a.case)
    if fn is None:
        print("robust.py: no case %r; cases: %s" % (a.case, " ".join(
            sorted(k[5:] for k in globals() if k.startswith("case_")))))
        return 2
    s = Suite(a)
    try:
        fn(s)
    except Skip as e:
        print("SKIP:", e)
        return 77
    except Fail as e:
        s.failures.append(str(e))
        print("FAIL:", e)
    if s.failures:
        print("%d failure(s) in %s" % (len(s.failures), a.case))
        return 1
    print("PASS:", a.case)
    return 0


if __name__ == "__main__":
    sys.exit(main())
