"""The launcher passes on the signals it is given: TERM, INT, HUP, QUIT,
USR1 and USR2 sent to nmtrace reach the command, and nmtrace exits with the
command's status (the handler's exit code, or 128 + N when the signal killed
it); the --signal one reaches the command's recorder, which writes a
snapshot, and does not kill the launcher."""
import os
import signal
import subprocess
import sys
import time

import nmtj

# The command: optionally catches one signal (then prints it and exits 40),
# writes its pid to a file once ready, and waits.
CHILD = r"""
import os, signal, sys
sig, ready = int(sys.argv[1]), sys.argv[2]
def caught(s, f):
    sys.stdout.write("caught %d\n" % s)
    sys.stdout.flush()
    os._exit(40)
if sig:
    signal.signal(sig, caught)
signal.signal(signal.SIGTERM, caught)
with open(ready + ".tmp", "w") as f:
    f.write(str(os.getpid()))
os.rename(ready + ".tmp", ready)
while True:
    signal.pause()
"""


def wait_for(cond, what, limit=120):
    """Polls cond() until true; `limit` seconds only guard against a hang."""
    end = time.monotonic() + limit
    while not cond():
        nmtj.check(time.monotonic() < end, "gave up waiting for %s" % what)
        time.sleep(0.05)


def start(c, tag, sig, *opts):
    ready = os.path.join(c.tmp, "ready." + tag)
    cmd = [c.launcher, "-q", "-o", os.path.join(c.tmp, tag + ".%p.nmt")] + list(opts) + \
          ["--", sys.executable, "-c", CHILD, str(int(sig)), ready]
    p = subprocess.Popen(cmd, env=c.plain_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                         text=True, cwd=c.tmp)
    wait_for(lambda: os.path.exists(ready) or p.poll() is not None, "the command to start")
    nmtj.check(p.poll() is None, "nmtrace %s exited %s before the signal" % (tag, p.returncode))
    with open(ready) as f:
        return p, int(f.read())


def finish(p, tag):
    try:
        out, err = p.communicate(timeout=120)
    except subprocess.TimeoutExpired:
        p.kill()
        nmtj.fail("nmtrace %s did not end after its command was signalled" % tag)
    return out, err


def body(c):
    c.need_lib()
    nmtj.check(os.access(c.launcher, os.X_OK), "%s missing: build the launcher" % c.launcher)
    c.scratch("launcher_signals")

    for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP, signal.SIGQUIT, signal.SIGUSR1,
                signal.SIGUSR2):
        tag = sig.name
        p, _ = start(c, tag, sig)
        os.kill(p.pid, sig)
        out, err = finish(p, tag)
        nmtj.check(p.returncode == 40 and "caught %d" % sig in out,
                   "%s to nmtrace: exit %d, command printed %r (want the command to catch it and "
                   "nmtrace to exit 40); stderr %r" % (tag, p.returncode, out, err[-300:]))

    # A command that does not catch HUP dies of it: nmtrace exits 128 + HUP.
    p, _ = start(c, "hup_dies", 0)
    os.kill(p.pid, signal.SIGHUP)
    out, err = finish(p, "hup_dies")
    nmtj.check(p.returncode == 128 + signal.SIGHUP, "HUP killing the command: nmtrace exited %d, "
               "want %d; stderr %r" % (p.returncode, 128 + signal.SIGHUP, err[-300:]))

    # --signal: the recorder in the command writes a snapshot; nmtrace lives on.
    p, pid = start(c, "dump", 0, "--signal", "RTMIN+3")
    prof = os.path.join(c.tmp, "dump.%d.nmt" % pid)

    def snapshots():
        try:
            # The recorder creates the file with its first snapshot.
            if not os.path.exists(prof) or os.path.getsize(prof) == 0:
                return 0
            return nmtj.read_profile(prof)["snapshots"]
        except nmtj.Fail:
            return 0  # the snapshot is still being written

    os.kill(p.pid, signal.SIGRTMIN + 3)
    wait_for(lambda: snapshots() >= 1, "the snapshot the --signal asks for")
    nmtj.check(p.poll() is None, "nmtrace died of its --signal (exit %s)" % p.returncode)
    os.kill(p.pid, signal.SIGTERM)
    out, err = finish(p, "dump")
    nmtj.check(p.returncode == 40, "nmtrace --signal run: exit %d after TERM, want 40" % p.returncode)
    # docs/FORMAT.md: snapshot reason 4 is the dump signal.
    reasons = nmtj.read_profile(prof)["reasons"]
    nmtj.check(4 in reasons, "no snapshot of reason 4 (signal) in %s: reasons %s" % (prof, reasons))


nmtj.main("launcher_signals", body)
