"""The NIO temporary buffer cache: live native memory under
Unsafe_AllocateMemory0 grows with the number of long-lived reader threads,
one buffer (4 MiB) per thread: 2 threads vs 6 threads differ by 4 x 4 MiB,
within 15 %."""
import os

import nmtj

BUF = 4 << 20


def live_unsafe(c, threads):
    for p in c.profiles():
        os.unlink(p)
    out, prof = nmtj.record_java(c, "NioTempCache", threads, BUF, 2)
    js = c.report_json(prof)
    under = nmtj.stacks_with_frame(js, r"^Unsafe_AllocateMemory0", r"libjvm\.so$")
    live = nmtj.total(under, "inuse_space")
    nio = nmtj.stacks_with_frame(js, r"getTemporaryDirectBuffer|sun\.nio\.ch\.Util")
    print("%d threads: %s live under Unsafe_AllocateMemory0 (%d stacks; %d with NIO Java frames)" % (
        threads, nmtj.mib(live), len(under), len(nio)))
    return live


def body(c):
    c.need_java()
    c.need_lib()
    c.need_nmreport()
    c.scratch("nio")
    two = live_unsafe(c, 2)
    six = live_unsafe(c, 6)
    nmtj.check(two >= 0.85 * 2 * BUF, "2 threads: only %d bytes live, expected at least 2 x %d" % (two, BUF))
    nmtj.check(nmtj.within(six - two, 4 * BUF, 0.15),
               "6 threads minus 2 threads is %d bytes, not 4 x %d within 15%%" % (six - two, BUF))


nmtj.main("java_nio_scaling", body)
