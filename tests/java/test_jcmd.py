"""jcmd against a recorded JVM (NMT summary on): VM.native_memory summary and
Thread.print answer, the JVM goes on and exits normally. The attach mechanism
uses SIGQUIT and a UNIX socket, both of which the recorder must leave alone.
The second jcmd runs under the recorder too. Then the recorder's own dump
signal (NMTRACE_SIGNAL=USR1) must give a snapshot without disturbing the JVM."""
import os
import signal
import subprocess
import time

import nmtj


def signal_reasons(path):
    """The snapshot reasons of a profile the recorder may be writing right
    now: a file just created has no header yet, which is not a failure while
    waiting (a complete snapshot is checked at the end)."""
    try:
        return nmtj.read_profile(path)["reasons"]
    except nmtj.Fail:
        return []


def body(c):
    c.need_java()
    c.need_lib()
    nmtj.check(c.jcmd, "jcmd not found next to %s" % c.java)
    c.scratch("jcmd")
    cmd = c.java_cmd("Idle", jvm=["-XX:NativeMemoryTracking=summary"])
    proc = subprocess.Popen(cmd, env=c.recorded_env({"NMTRACE_RATE": 16384, "NMTRACE_SIGNAL": "USR1"}),
                            cwd=c.tmp, text=True,
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        line = proc.stdout.readline().split()
        nmtj.check(len(line) == 2 and line[0] == "ready", "Idle did not start: %r" % line)
        pid = line[1]
        nmt = c.run([c.jcmd, pid, "VM.native_memory", "summary"], timeout=30)
        nmtj.check(nmt.returncode == 0 and "Total: reserved=" in nmt.stdout,
                   "jcmd VM.native_memory failed (exit %d)" % nmt.returncode)
        dump = c.run([c.jcmd, pid, "Thread.print"], env=c.recorded_env({"NMTRACE_RATE": 65536}), timeout=30)
        nmtj.check(dump.returncode == 0 and "idle-waiter-2" in dump.stdout and "\"main\"" in dump.stdout,
                   "jcmd Thread.print failed or lacks our threads (exit %d)" % dump.returncode)
        os.kill(int(pid), signal.SIGUSR1)
        path = os.path.join(c.tmp, "p.%s.nmt" % pid)
        # Waits for the snapshot itself; the bound only turns a hang into a
        # failure before the test's own timeout (120 s).
        deadline = time.monotonic() + 80
        while time.monotonic() < deadline:
            if os.path.exists(path) and 4 in signal_reasons(path):
                break
            nmtj.check(proc.poll() is None, "the JVM ended after SIGUSR1 (exit %s)" % proc.returncode)
            time.sleep(0.2)
        else:
            nmtj.fail("no snapshot with reason 4 (signal) within 80 s of SIGUSR1")
        out, err = proc.communicate("done\n", timeout=30)
    except subprocess.TimeoutExpired:
        nmtj.fail("the recorded JVM did not exit after jcmd (hang?)")
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    nmtj.check(proc.returncode == 0 and out.strip() == "bye 64 done",
               "the recorded JVM ended with exit %d and printed %r; stderr: %s" % (proc.returncode, out,
                                                                                  err[-400:]))
    c.no_crash_files()
    info = c.profile_of(int(pid))
    nmtj.check(nmtj.read_profile(info)["snapshots"] >= 1, "%s has no complete snapshot" % info)


nmtj.main("java_jcmd", body)
