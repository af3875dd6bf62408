"""ProcessBuilder children of a recorded JVM, with each launch mechanism
(fork, vfork, posix_spawn through jspawnhelper): same output, no crash, and
the exec'ed java child writes its own complete profile naming the parent."""
import os

import nmtj


def body(c):
    c.need_java()
    c.need_lib()
    c.scratch("children")
    for mech in ("POSIX_SPAWN", "FORK", "VFORK"):
        for p in c.profiles():
            os.unlink(p)
        cmd = c.java_cmd("Children", 16, 4, 1, jvm=["-Djdk.lang.Process.launchMechanism=" + mech])
        _, _, info = nmtj.same_behaviour(c, cmd, {"NMTRACE_RATE": 65536})
        kids = [nmtj.read_profile(p) for p in c.profiles()]
        java_kids = [k for k in kids if k["ppid"] == info["pid"] and k["snapshots"] >= 1
                     and os.path.basename(k["exe"] or "") == "java"]
        nmtj.check(java_kids, "%s: no complete profile from a child of pid %d (profiles: %s)" % (
            mech, info["pid"], [(k["path"], k["ppid"], k["snapshots"]) for k in kids]))


nmtj.main("java_children", body)
