"""The launcher installed under a path with a space: a copy of the build's
bin/nmtrace and lib/libnmtrace.so in '<scratch>/inst dir/' records a C
program and starts a JVM (LD_PRELOAD cannot hold such a path as it is; the
launcher must hand it one it can)."""
import os
import re
import shutil

import nmtj


def body(c):
    c.need_lib()
    c.scratch("launcher space")
    inst = os.path.join(c.tmp, "inst dir")
    for sub, src in (("bin", c.launcher), ("lib", c.lib)):
        os.makedirs(os.path.join(inst, sub))
        shutil.copy2(src, os.path.join(inst, sub, os.path.basename(src)))
    nt = os.path.join(inst, "bin", "nmtrace")

    exe = os.path.join(c.build, "examples", "c_leak")
    p = c.run([nt, "-o", os.path.join(c.tmp, "c.%p.nmt"), exe, "100", "64"])
    nmtj.check(p.returncode == 0, "nmtrace (under a path with a space) c_leak exited %d: %r" %
               (p.returncode, p.stderr[-500:]))
    nmtj.check("cannot be preloaded" not in p.stderr, "ld.so did not preload the recorder: %r" % p.stderr)
    m = re.search(r"^nmtrace: profile written to (.+)$", p.stderr, re.M)
    nmtj.check(m, "no profile for c_leak: %r" % p.stderr[-500:])
    nmtj.check(nmtj.read_profile(m.group(1))["snapshots"] >= 1, "c_leak's profile has no snapshot")

    java = c.args.java
    if not (java and os.access(java, os.X_OK)):
        print("no JDK: the java part of this test was not run")
        return
    p = c.run([nt, "-q", "-o", os.path.join(c.tmp, "j.%p.nmt"), java, "-Xshare:auto", "-version"])
    nmtj.check(p.returncode == 0, "nmtrace (under a path with a space) java -version exited %d: %r" %
               (p.returncode, p.stderr[-800:]))
    m = re.search(r"^nmtrace: profile written to (.+/j\.(\d+)\.nmt)$", p.stderr, re.M)
    nmtj.check(m, "no profile for java: %r" % p.stderr[-800:])
    nmtj.check(nmtj.read_profile(m.group(1))["snapshots"] >= 1, "java's profile has no snapshot")


nmtj.main("launcher_space", body)
