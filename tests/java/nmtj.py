"""nmtj: what the Java integration tests share (tests/java/test_*.py).

Finds the build's artefacts and the JDK, runs programs with and without the
recorder, reads profile files at the record level (docs/FORMAT.md) without
nmreport, and reads `nmreport --json` output (docs/JSON.md). Every test is a
script that calls main(); it exits 0 (pass), 1 (fail) or 77 (skipped: no JDK).
Python 3 standard library only.
"""

import argparse
import glob
import json
import os
import shutil
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "recorder"))
import nmtprof  # noqa: E402  (the FORMAT.md reader shared with the recorder tests)

SKIP = 77


class Fail(Exception):
    """A test assertion that did not hold; the message says what and why."""


def fail(msg):
    raise Fail(msg)


def check(cond, msg):
    if not cond:
        raise Fail(msg)


class Ctx:
    """Paths of one build, the JDK, and a scratch directory for one test."""

    def __init__(self, argv):
        ap = argparse.ArgumentParser()
        ap.add_argument("--build", required=True, help="the CMake build directory")
        ap.add_argument("--java", default="", help="java executable (default: from PATH)")
        ap.add_argument("--keep", action="store_true", help="keep the scratch directory")
        ap.add_argument("--preload", default="", help="what to put in LD_PRELOAD, ':'-separated "
                        "(default: the build's libnmtrace.so; NMT_TEST_PRELOAD in tests/CMakeLists.txt)")
        self.args, self.rest = ap.parse_known_args(argv)
        b = os.path.abspath(self.args.build)
        self.build = b
        self.lib = os.path.join(b, "lib", "libnmtrace.so")
        self.preload = self.args.preload or self.lib
        self.nmreport = os.path.join(b, "bin", "nmreport")
        self.launcher = os.path.join(b, "bin", "nmtrace")
        self.ex_classes = os.path.join(b, "examples", "classes")
        self.ex_lib = os.path.join(b, "examples", "lib")
        self.test_classes = os.path.join(b, "tests", "java", "classes")
        self.java = self.args.java
        self.tmp = None

    # -- preconditions -------------------------------------------------

    def need_java(self):
        """Skip (77) when there is no JDK; fail when the JDK is there but the
        classes were not built (that is a build problem, not a missing JDK)."""
        if self.args.java == "" or not os.access(self.args.java, os.X_OK):
            skip("no JDK was found when the build was configured (install a JDK 11+ with javac "
                 "and jni.h, then reconfigure)")
        jcmd = os.path.join(os.path.dirname(os.path.realpath(self.java)), "jcmd")
        self.jcmd = jcmd if os.access(jcmd, os.X_OK) else shutil.which("jcmd")
        for d in (self.ex_classes, self.test_classes):
            check(os.path.isdir(d), "%s missing: build the examples_java and java_test_classes targets" % d)

    def need_lib(self):
        check(os.path.exists(self.lib), "%s missing: build the nmtrace target" % self.lib)

    def need_nmreport(self):
        check(os.access(self.nmreport, os.X_OK), "%s missing: build the nmreport target" % self.nmreport)

    def scratch(self, name):
        root = os.path.join(self.build, "tests", "java", "scratch")
        os.makedirs(root, exist_ok=True)
        self.tmp = tempfile.mkdtemp(prefix=name + ".", dir=root)
        return self.tmp

    # -- running -------------------------------------------------------

    def java_cmd(self, main, *args, jvm=(), classes="test", heap="-Xmx256m"):
        cp = self.test_classes if classes == "test" else self.ex_classes
        cmd = [self.java, heap, "-XX:ErrorFile=%s/hs_err_%%p.log" % self.tmp, "-cp", cp]
        if classes != "test":
            cmd.append("-Djava.library.path=" + self.ex_lib)
        return cmd + list(jvm) + [main] + [str(a) for a in args]

    def recorded_env(self, extra=None, base=None):
        """The environment of a recorded run: our library preloaded, profiles
        named <scratch>/p.<pid>.nmt, the given NMTRACE_* settings."""
        env = dict(os.environ if base is None else base)
        for k in list(env):
            if k.startswith("NMTRACE_") or k in ("LD_PRELOAD", "JAVA_TOOL_OPTIONS", "_JAVA_OPTIONS"):
                del env[k]
        env["LD_PRELOAD"] = self.preload
        env["NMTRACE_OUTPUT"] = os.path.join(self.tmp, "p.%p.nmt")
        for k, v in (extra or {}).items():
            env[k] = str(v)
        return env

    def plain_env(self):
        env = dict(os.environ)
        for k in list(env):
            if k.startswith("NMTRACE_") or k in ("LD_PRELOAD", "JAVA_TOOL_OPTIONS", "_JAVA_OPTIONS"):
                del env[k]
        return env

    def run(self, cmd, env=None, timeout=60, stdin=None, what=None):
        what = what or " ".join(os.path.basename(c) if i == 0 else c for i, c in enumerate(cmd))
        try:
            p = subprocess.run(cmd, env=env if env is not None else self.plain_env(),
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                               input=stdin, timeout=timeout, text=True, cwd=self.tmp)
        except subprocess.TimeoutExpired:
            fail("%s did not finish within %d s (hang?)" % (what, timeout))
        sys.stdout.write("$ %s\n  exit %d\n" % (" ".join(cmd), p.returncode))
        for line in p.stdout.splitlines()[-8:]:
            sys.stdout.write("  | " + line + "\n")
        for line in p.stderr.splitlines()[-8:]:
            sys.stdout.write("  ! " + line + "\n")
        return p

    def no_crash_files(self):
        crashes = glob.glob(os.path.join(self.tmp, "hs_err_*.log")) + glob.glob(os.path.join(self.tmp, "core*"))
        if crashes:
            with open(crashes[0], errors="replace") as f:
                head = "".join(f.readlines()[:30])
            fail("JVM crash file %s:\n%s" % (crashes[0], head))

    def profiles(self):
        return sorted(glob.glob(os.path.join(self.tmp, "p.*.nmt")))

    def profile_of(self, pid):
        path = os.path.join(self.tmp, "p.%d.nmt" % pid)
        check(os.path.exists(path), "no profile %s for pid %d (have: %s)" % (path, pid, self.profiles()))
        return path

    def main_profile(self):
        """The profile of the process the test started: the one whose parent
        is not another recorded process of this run."""
        infos = [read_profile(p) for p in self.profiles()]
        check(infos, "no profile written in %s" % self.tmp)
        pids = {i["pid"] for i in infos}
        roots = [i for i in infos if i["ppid"] not in pids]
        check(len(roots) == 1, "expected one top-level profile, found %s" % [i["path"] for i in roots])
        return roots[0]

    # -- nmreport ------------------------------------------------------

    def report(self, *args, timeout=120):
        self.need_nmreport()
        p = self.run([self.nmreport] + [str(a) for a in args], timeout=timeout)
        check(p.returncode == 0, "nmreport %s failed (exit %d): %s" % (" ".join(map(str, args)), p.returncode,
                                                                       p.stderr.strip()[-500:]))
        return p.stdout

    def report_json(self, *args):
        out = self.report("--json", *args)
        try:
            return json.loads(out)
        except ValueError as e:
            fail("nmreport --json printed invalid JSON (%s): %s" % (e, out[:300]))

    def cleanup(self, ok):
        if self.tmp and ok and not self.args.keep:
            shutil.rmtree(self.tmp, ignore_errors=True)
        elif self.tmp:
            print("scratch kept: %s" % self.tmp)


class Skip(Exception):
    pass


def skip(msg):
    raise Skip(msg)


def profile_so_far(path):
    """A profile a process is still writing, read up to its last whole record
    (a cut record at its end is the one being appended): an nmtprof.Profile,
    or None while it cannot be read yet (not created, its header not
    written)."""
    try:
        return nmtprof.Profile(path)
    except (OSError, nmtprof.ProfileError):
        return None


def snapshots_so_far(path):
    """The complete snapshots of a profile still being written (profile_so_far);
    none while it cannot be read yet."""
    p = profile_so_far(path)
    return p.snapshots if p is not None else []


def read_profile(path):
    """The record-level facts of a profile, read with the recorder tests'
    FORMAT.md reader (tests/recorder/nmtprof.py): pid, ppid, exe, the
    number of complete snapshots with their times and reasons, the count of
    each record type, and whether the file ends in a cut record."""
    try:
        p = nmtprof.Profile(path)
    except nmtprof.ProfileError as e:
        fail("%s: %s" % (path, e))
    h = p.header
    return {"path": path, "pid": h["pid"], "ppid": h["ppid"], "exe": h["exe"],
            "snapshots": len(p.snapshots), "cut": p.truncated, "types": p.types,
            "times": [(s.seq, (s.monotonic - h["start_monotonic"]) / 1e9) for s in p.snapshots],
            "reasons": [s.reason for s in p.snapshots]}


def main(name, body):
    """Runs body(ctx) as test `name`: exit 0, 1 or 77 with one clear line."""
    ctx = Ctx(sys.argv[1:])
    ok = False
    try:
        body(ctx)
        ok = True
        print("PASS: %s" % name)
        code = 0
    except Skip as e:
        print("SKIP: %s: %s" % (name, e))
        code = SKIP
        ok = True
    except Fail as e:
        print("FAIL: %s: %s" % (name, e))
        code = 1
    finally:
        ctx.cleanup(ok)
    sys.exit(code)


def same_behaviour(c, cmd, extra_env=None, expect_rc=0, timeout=60, comparable=None):
    """Runs cmd plainly and then under the recorder; the exit status and the
    comparable part of stdout (all of it by default) must be the same, with no
    JVM crash file, and the recorded process must leave a profile with at least
    one complete snapshot. Returns (plain, recorded, profile facts)."""
    comparable = comparable or (lambda s: s)
    plain = c.run(cmd, timeout=timeout, what="plain run")
    check(plain.returncode == expect_rc, "the plain run exited %d, expected %d" % (plain.returncode, expect_rc))
    rec = c.run(cmd, env=c.recorded_env(extra_env), timeout=timeout, what="recorded run")
    c.no_crash_files()
    check(rec.returncode == plain.returncode,
          "recorded run exited %d, plain run %d" % (rec.returncode, plain.returncode))
    check(comparable(rec.stdout) == comparable(plain.stdout),
          "recorded run printed something else:\n--- plain\n%s--- recorded\n%s" % (
              comparable(plain.stdout), comparable(rec.stdout)))
    info = c.main_profile()
    check(info["snapshots"] >= 1, "%s has no complete snapshot" % info["path"])
    return plain, rec, info


# -- reading `nmreport --json` (docs/JSON.md) -------------------------------


def frame_matches(fr, func_re, lib_re=None):
    import re
    if fr is None or not re.search(func_re, fr.get("function") or ""):
        return False
    return lib_re is None or re.search(lib_re, fr.get("lib") or "") is not None


def stacks_with_frame(js, func_re, lib_re=None):
    """The stacks of a --json document with a frame whose function matches
    func_re (and whose lib matches lib_re, when given)."""
    return [s for s in js["stacks"] if any(frame_matches(f, func_re, lib_re) for f in s["frames"])]


def total(stacks, measure):
    return sum(s["values"][measure] for s in stacks)


def within(value, truth, tolerance):
    return truth * (1 - tolerance) <= value <= truth * (1 + tolerance)


def mib(v):
    return "%.2f MiB" % (v / 1048576.0)


def printed_number(out, prefix):
    """The integer that follows `prefix` in a program's output."""
    import re
    m = re.search(re.escape(prefix) + r"\s*(-?\d+)", out)
    check(m is not None, "the program did not print %r; it printed: %s" % (prefix, out[-300:]))
    return int(m.group(1))


def record_java(c, main, *args, jvm=(), env=None, classes="examples", heap="-Xmx256m", timeout=60,
                expect_rc=0):
    """Runs an example under the recorder; returns (stdout, profile path)."""
    cmd = c.java_cmd(main, *args, jvm=jvm, classes=classes, heap=heap)
    p = c.run(cmd, env=c.recorded_env(env), timeout=timeout)
    c.no_crash_files()
    check(p.returncode == expect_rc, "%s exited %d under the recorder; stderr: %s" % (
        main, p.returncode, p.stderr.strip()[-500:]))
    info = c.main_profile()
    check(info["snapshots"] >= 1, "%s has no complete snapshot" % info["path"])
    return p.stdout, info["path"]
