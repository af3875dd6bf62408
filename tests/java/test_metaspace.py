"""Metaspace growth from class loaders: it shows as committed mmap whose
stacks pass through libjvm's Metaspace code, at least 80 % of the Metaspace
the JVM reports in use, and it grows with the number of loaders (300 vs 3000)."""
import os

import nmtj

META_RE = r"^metaspace::"  # the Metaspace allocator (VirtualSpaceNode::commit_range ...), not the CDS archive


def run(c, loaders):
    for p in c.profiles():
        os.unlink(p)
    out, prof = nmtj.record_java(c, "MetaspaceGrowth", loaders, jvm=["-XX:MaxMetaspaceSize=256m"])
    used = nmtj.printed_number(out, "Metaspace used")
    js = c.report_json("--committed", prof)
    meta = nmtj.stacks_with_frame(js, META_RE, r"libjvm\.so$")
    committed = nmtj.total(meta, "committed")
    print("%d loaders: Metaspace used %s; committed by Metaspace stacks %s in %d stacks" % (
        loaders, nmtj.mib(used), nmtj.mib(committed), len(meta)))
    nmtj.check(meta, "no committed mmap passes through libjvm Metaspace code")
    return used, committed


def body(c):
    c.need_java()
    c.need_lib()
    c.need_nmreport()
    c.scratch("metaspace")
    used_small, small = run(c, 300)
    used_big, big = run(c, 3000)
    nmtj.check(big >= 0.8 * used_big, "Metaspace stacks committed %d bytes, less than 80%% of the %d used"
               % (big, used_big))
    grew = used_big - used_small
    nmtj.check(big - small >= 0.7 * grew, "committed Metaspace grew by %d bytes from 300 to 3000 loaders, "
               "the JVM's own figure by %d" % (big - small, grew))


nmtj.main("java_metaspace", body)
