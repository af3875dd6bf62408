"""Installation (issue 13, item 1).

prefix: `cmake --install BUILD --prefix TMP/p` puts nmtrace and nmreport in
bin, libnmtrace.so in the library directory and both man pages in
share/man/man1; the installed nmtrace records a small C program and the
installed nmreport reads its profile, both run from another directory, by
the absolute path the launcher printed; the installed tree still works once
moved (the launcher finds the recorder relative to itself).

quickstart: the README's quick start block, run line by line as written
from directories other than the clone, with only what stands for the
user's own things replaced: /usr/local by a temporary prefix, `java -jar
service.jar` by a test program that runs until told to stop (once its first
periodic snapshot is in), and the example profile path by the one the
recorder's start line says.

deb: `cpack -G DEB` makes a package whose control fields (name, version,
maintainer, dependencies on the runtime libraries) and file list are right;
it is installed into a throwaway root with dpkg (its own admin directory,
dependencies forced, maintainer scripts run outside a chroot with a no-op
ldconfig first in PATH, so nothing of the machine changes), run from there,
then removed, leaving no file behind."""
import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time

LEAK_C = r"""
#include <stdio.h>
#include <stdlib.h>
void *keep[64];
__attribute__((noinline)) void install_test_leak(int i) { keep[i] = malloc(1 << 20); }
int main(void)
{
    for (int i = 0; i < 64; i++)
        install_test_leak(i);
    printf("leaked %d MiB\n", 64);
    return 0;
}
"""


class Fail(Exception):
    pass


def check(cond, msg):
    if not cond:
        raise Fail(msg)


def run(argv, cwd, env=None, ok=True):
    p = subprocess.run(argv, cwd=cwd, env=env, capture_output=True, text=True, timeout=300)
    print("$ %s  (in %s) -> %d" % (" ".join(argv), cwd, p.returncode))
    if ok and p.returncode != 0:
        raise Fail("%s exited %d:\n%s%s" % (argv, p.returncode, p.stdout[-1500:], p.stderr[-1500:]))
    return p


def clean_env():
    env = {k: v for k, v in os.environ.items()
           if not k.startswith("NMTRACE_") and k not in ("LD_PRELOAD", "JAVA_TOOL_OPTIONS")}
    return env


def build_program(a, tmp):
    src = os.path.join(tmp, "leak.c")
    with open(src, "w") as f:
        f.write(LEAK_C)
    exe = os.path.join(tmp, "leak")
    run([a.cc, "-O1", "-g", "-o", exe, src], tmp)
    return exe


def record_and_read(bindir, exe, workdir, readdir):
    """Runs the installed launcher on exe in workdir (relative -o) and the
    installed nmreport on the path it printed, in readdir. Returns the
    launcher's stderr."""
    p = run([os.path.join(bindir, "nmtrace"), "-r", "64k", "-o", "leak.%p.nmt", "--", exe], workdir,
            clean_env())
    check(p.stdout == "leaked 64 MiB\n", "the program's output changed: %r" % p.stdout)
    m = re.search(r"^nmtrace: read it with: (\S+) (\S+)$", p.stderr, re.M)
    check(m, "no 'read it with' line: %r" % p.stderr)
    # Not on PATH here: the hint names the nmreport installed next to it.
    check(m.group(1) == os.path.join(bindir, "nmreport"), "the hint's reader is %s" % m.group(1))
    path = m.group(2)
    check(path.startswith(workdir + "/") and os.path.isfile(path), "%s is not the absolute path of the "
          "profile in %s" % (path, workdir))
    r = run([os.path.join(bindir, "nmreport"), "--nodecount", "3", path], readdir, clean_env())
    check("install_test_leak" in r.stdout, "nmreport does not name the leak:\n%s" % r.stdout)
    return p.stderr


def check_man_page(a, page, launcher):
    """nmtrace.1 names every recorder variable of common/nmc_vars.c and every
    long option of the launcher's --help."""
    text = open(page).read().replace("\\-", "-")
    table = open(os.path.join(a.src, "common", "nmc_vars.c")).read()
    names = set(re.findall(r'^\s*\{"(NMTRACE_[A-Z0-9_]+)",', table, re.M))
    names -= {"NMTRACE_DEBUG_PATH", "NMTRACE_BUILD"}  # read by nmreport and the examples
    check(len(names) >= 10, "no variable table in common/nmc_vars.c")
    missing = sorted(n for n in names if ".B " + n not in text)
    check(not missing, "nmtrace.1 does not document %s" % missing)
    helptext = run([launcher, "--help"], os.path.dirname(launcher)).stdout
    opts = set(re.findall(r"--([a-z][a-z-]+)", helptext))
    missing = sorted(o for o in opts if "-" + o.replace("-", "\\-") not in open(page).read() and
                     "--" + o not in text)
    check(not missing, "nmtrace.1 does not document --%s" % missing)


def case_prefix(a, tmp):
    prefix = os.path.join(tmp, "p")
    run(["cmake", "--install", a.build, "--prefix", prefix], tmp)
    files = sorted(os.path.relpath(os.path.join(d, f), prefix) for d, _, fs in os.walk(prefix) for f in fs)
    print("installed:", files)
    for want in ("bin/nmtrace", "bin/nmreport", "share/man/man1/nmtrace.1", "share/man/man1/nmreport.1"):
        check(want in files, "%s not installed: %s" % (want, files))
    libs = [f for f in files if f.endswith("/libnmtrace.so") and f.startswith("lib")]
    check(len(libs) == 1, "want one libnmtrace.so under lib*: %s" % files)
    check_man_page(a, os.path.join(prefix, "share/man/man1/nmtrace.1"), os.path.join(prefix, "bin", "nmtrace"))
    exe = build_program(a, tmp)
    work, read = os.path.join(tmp, "work"), os.path.join(tmp, "elsewhere")
    os.makedirs(work)
    os.makedirs(read)
    p = run([os.path.join(prefix, "bin", "nmtrace"), "-q", "--", "env"], read, clean_env())
    preload = re.search(r"^LD_PRELOAD=(\S+)", p.stdout, re.M)
    check(preload and preload.group(1) == os.path.join(prefix, libs[0]),
          "the installed launcher preloads %s, not the installed recorder" % (preload and preload.group(1)))
    record_and_read(os.path.join(prefix, "bin"), exe, work, read)
    # The tree moved as a whole still finds its recorder.
    moved = os.path.join(tmp, "moved")
    shutil.move(prefix, moved)
    record_and_read(os.path.join(moved, "bin"), exe, work, read)


QUICKSTART = "tests/install/test_install.py (quickstart) runs it as written -->"


def quickstart_lines(readme):
    text = open(readme).read()
    check(QUICKSTART in text, "README.md has no quick start block marked for this test")
    block = text[text.index(QUICKSTART):].split("```\n", 2)[1]  # the block after the marker
    return [re.sub(r"\s+# .*$", "", l) for l in block.splitlines() if l.strip()]


def shell(line, cwd, env, **kw):
    print("$ %s  (in %s)" % (line, cwd))
    return subprocess.Popen(["bash", "-c", line], cwd=cwd, env=env, **kw)


def case_quickstart(a, tmp):
    lines = quickstart_lines(os.path.join(a.src, "README.md"))
    build = "cmake -S . -B build && cmake --build build -j2 && cmake --install build"
    check(lines[0] == build, "the quick start's first line is %r, not %r" % (lines[0], build))
    prefix = os.path.join(tmp, "usr", "local")
    run(["cmake", "--install", a.build, "--prefix", prefix], tmp)
    env = clean_env()
    env["PATH"] = os.path.join(prefix, "bin") + ":" + env["PATH"]
    stop = os.path.join(tmp, "stop")
    prog = "%s 600 1 %s" % (os.path.join(a.bindir, "prog_steady"), stop)
    example = "/srv/app/nmtrace.12345.nmt"
    work, elsewhere = os.path.join(tmp, "work"), os.path.join(tmp, "elsewhere")
    os.makedirs(work)
    os.makedirs(elsewhere)

    def concrete(line, path):
        return line.replace("/usr/local", prefix).replace("java -jar service.jar", prog) \
                   .replace(example, path)

    rec = [l for l in lines[1:] if "service.jar" in l]
    reads = [l for l in lines[1:] if l.startswith("nmreport ")]
    check(len(rec) == 2 and rec[0].startswith("nmtrace ") and rec[1].startswith("LD_PRELOAD=/"),
          "the quick start records with nmtrace, then shows LD_PRELOAD: %s" % rec)
    check(len(rec) + len(reads) == len(lines) - 1, "a quick start line this test does not run: %s" % lines)
    errf = os.path.join(tmp, "stderr")
    with open(errf, "w") as err:
        p = shell(concrete(rec[0], example), work, env, stderr=err)
    try:
        deadline = time.time() + 120
        path = None
        while path is None or subprocess.run(["nmreport", path], env=env, cwd=elsewhere,
                                             capture_output=True).returncode != 0:
            check(p.poll() is None and time.time() < deadline, "no snapshot in 120 s: %r" %
                  open(errf).read())
            m = re.search(r"^nmtrace: recording pid \d+ to (/\S+)$", open(errf).read(), re.M)
            path = m and m.group(1)
            time.sleep(0.1)
        check(os.path.dirname(path) == work, "%s is not in the directory the program started in" % path)
        r = run(["bash", "-c", concrete(reads[0], path)], elsewhere, env)  # during the run
        open(stop, "w").close()
        check(p.wait(timeout=120) == 0, "the recorded program failed")
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()
    for line in reads:
        r = run(["bash", "-c", concrete(line, path)], elsewhere, env)
        check(r.stdout or os.listdir(elsewhere), "%r printed nothing" % line)
    r = run(["bash", "-c", concrete(rec[1], example).replace(" 600 1 " + stop, " 0.1 1")], work, env)
    m = re.search(r"^nmtrace: recording pid \d+ to (/\S+)$", r.stderr, re.M)
    check(m and os.path.isfile(m.group(1)), "the LD_PRELOAD line said no profile path: %r" % r.stderr)


def dpkg_root(root, stub, *args):
    """dpkg on the throwaway root only. Scripts run unchrooted (the root has
    no shell), with DPKG_ROOT set, and find the no-op ldconfig first."""
    env = clean_env()
    env["PATH"] = stub + ":" + env.get("PATH", "/usr/sbin:/usr/bin:/sbin:/bin")
    return run(["dpkg", "--root=" + root, "--force-not-root", "--force-script-chrootless"] + list(args),
               root, env)


def case_deb(a, tmp):
    for tool in ("cpack", "dpkg", "dpkg-deb"):
        if shutil.which(tool) is None:
            print("SKIP: %s is not installed (the Debian package needs dpkg)" % tool)
            return 77
    out = os.path.join(tmp, "pkg")
    os.makedirs(out)
    run(["cpack", "-G", "DEB", "--config", os.path.join(a.build, "CPackConfig.cmake"), "-B", out], out)
    debs = [f for f in os.listdir(out) if f.endswith(".deb")]
    check(len(debs) == 1 and re.match(r"nmtrace_[\d.]+_\w+\.deb$", debs[0]), "cpack made %s" % debs)
    deb = os.path.join(out, debs[0])
    fields = run(["dpkg-deb", "-f", deb], out).stdout
    ctl = dict(re.findall(r"^(\S+): (.*)$", fields, re.M))
    check(ctl.get("Package") == "nmtrace", "Package: %r" % ctl.get("Package"))
    check(re.match(r"\d+\.\d+\.\d+$", ctl.get("Version", "")), "Version: %r" % ctl.get("Version"))
    check(ctl.get("Maintainer"), "no Maintainer field")
    deps = {d.strip().split()[0] for d in ctl.get("Depends", "").split(",") if d.strip()}
    for lib in ("libc6", "libunwind8", "libelf1", "libdw1", "zlib1g"):
        check(lib in deps, "Depends lacks %s: %r" % (lib, ctl.get("Depends")))
    listing = run(["dpkg-deb", "-c", deb], out).stdout
    paths = {l.split()[-1] for l in listing.splitlines() if not l.endswith("/")}
    for want in ("./usr/bin/nmtrace", "./usr/bin/nmreport", "./usr/share/man/man1/nmtrace.1",
                 "./usr/share/man/man1/nmreport.1"):
        check(want in paths, "%s not in the package: %s" % (want, sorted(paths)))
    check(any(re.match(r"\./usr/lib/(\S+/)?libnmtrace\.so$", p) for p in paths), "no libnmtrace.so "
          "under /usr/lib: %s" % sorted(paths))
    check(all(p.startswith("./usr/") for p in paths), "files outside /usr: %s" % sorted(paths))

    root, stub = os.path.join(tmp, "root"), os.path.join(tmp, "stub")
    for d in ("var/lib/dpkg/info", "var/lib/dpkg/updates"):
        os.makedirs(os.path.join(root, d))
    open(os.path.join(root, "var/lib/dpkg/status"), "w").close()
    os.makedirs(stub)
    with open(os.path.join(stub, "ldconfig"), "w") as f:
        f.write("#!/bin/sh\nexit 0\n")
    os.chmod(os.path.join(stub, "ldconfig"), 0o755)
    dpkg_root(root, stub, "--force-depends", "-i", deb)
    status = dpkg_root(root, stub, "-s", "nmtrace").stdout
    check("Status: install ok installed" in status, "not installed cleanly: %r" % status)
    exe = build_program(a, tmp)
    work = os.path.join(tmp, "work")
    os.makedirs(work)
    record_and_read(os.path.join(root, "usr", "bin"), exe, work, tmp)
    dpkg_root(root, stub, "-r", "nmtrace")
    left = [os.path.join(d, f) for d, _, fs in os.walk(root) for f in fs
            if not os.path.relpath(d, root).startswith("var")]
    check(not left, "files left after dpkg -r: %s" % left)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("case", choices=("prefix", "deb", "quickstart"))
    ap.add_argument("--src", default=os.path.join(os.path.dirname(__file__), "..", ".."))
    ap.add_argument("--bindir", required=True)
    ap.add_argument("--build", required=True)
    ap.add_argument("--cc", required=True)
    ap.add_argument("--workdir", required=True)
    a = ap.parse_args()
    a.build = os.path.abspath(a.build)
    shutil.rmtree(a.workdir, ignore_errors=True)
    os.makedirs(a.workdir)
    tmp = tempfile.mkdtemp(dir=os.path.abspath(a.workdir))
    try:
        rc = globals()["case_" + a.case](a, tmp)
    except Fail as e:
        print("FAIL:", e)
        return 1
    shutil.rmtree(tmp, ignore_errors=True)
    return rc or 0


if __name__ == "__main__":
    sys.exit(main())
