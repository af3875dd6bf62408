"""System.exit while eight threads allocate natively, three times: the exit
status stays 7, nothing hangs or crashes, and each profile ends with a
complete snapshot (the exit snapshot is written while threads still run)."""
import os

import nmtj


def body(c):
    c.need_java()
    c.need_lib()
    c.scratch("exit_race")
    cmd = c.java_cmd("ExitRace", 8, 50, 7)
    for _ in range(3):
        for p in c.profiles():
            os.unlink(p)
        nmtj.same_behaviour(c, cmd, {"NMTRACE_RATE": 8192}, expect_rc=7, timeout=45)


nmtj.main("java_exit_race", body)
