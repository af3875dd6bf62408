"""A process that `nmtrace attach` takes for a HotSpot JVM in its start-up,
for test_attach.py --case starting. It maps a file named libjvm.so (the
client's "is it a JVM" test), catches SIGQUIT, has no perf data (as with
-XX:-UsePerfData) and a thread named "VM Thread", as HotSpot has from early
in its start-up. On "service" on stdin it starts a thread named "Service
Thread", as HotSpot does right after its attach mechanism's start. It says
"ready", "named", and "SIGQUIT" when the signal comes, and then exits.

usage: fake_starting_jvm.py DIR
"""
import ctypes
import mmap
import os
import signal
import sys
import threading

PR_SET_NAME = 15
libc = ctypes.CDLL(None, use_errno=True)


def say(what):
    sys.stdout.write(what + "\n")
    sys.stdout.flush()


def named_thread(name):
    """A thread that sets its own name (its /proc comm) and then waits."""
    ready = threading.Event()

    def run():
        libc.prctl(PR_SET_NAME, name.encode(), 0, 0, 0)
        ready.set()
        threading.Event().wait()

    threading.Thread(target=run, daemon=True).start()
    ready.wait()


def on_quit(signum, frame):
    say("SIGQUIT")
    os._exit(0)


def main():
    path = os.path.join(sys.argv[1], "libjvm.so")
    with open(path, "wb") as f:
        f.write(b"\0" * mmap.PAGESIZE)
    f = open(path, "rb")
    m = mmap.mmap(f.fileno(), mmap.PAGESIZE, prot=mmap.PROT_READ)
    signal.signal(signal.SIGQUIT, on_quit)
    named_thread("VM Thread")
    say("ready")
    for line in sys.stdin:
        if line.strip() == "service":
            named_thread("Service Thread")
            say("named")
    m.close()


main()
