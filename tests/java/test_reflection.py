"""Reflection inflation: 1024 Method.invoke targets called 20 times each.
With the default sun.reflect.inflationThreshold (15) the JDK generates an
accessor class per target; with the threshold out of reach it does not. The
Metaspace committed through libjvm's Metaspace code must grow by at least
half of what the JVM's own Metaspace figure grows, and most of that growth
must sit under jdk.internal.reflect.MethodAccessorGenerator."""
import os

import nmtj

META_RE = r"^metaspace::"


def run(c, threshold):
    for p in c.profiles():
        os.unlink(p)
    out, prof = nmtj.record_java(c, "ReflectionInflation", 1024, 20,
                                 jvm=["-Dsun.reflect.inflationThreshold=%d" % threshold])
    used = nmtj.printed_number(out, "Metaspace used")
    classes = nmtj.printed_number(out, "times each through Method.invoke;")
    js = c.report_json("--committed", prof)
    meta = nmtj.stacks_with_frame(js, META_RE, r"libjvm\.so$")
    gen = [s for s in meta if any(nmtj.frame_matches(f, r"MethodAccessorGenerator") for f in s["frames"])]
    committed, by_gen = nmtj.total(meta, "committed"), nmtj.total(gen, "committed")
    print("threshold %d: %d classes loaded, Metaspace used %s, committed by Metaspace code %s, "
          "of it under MethodAccessorGenerator %s" % (threshold, classes, nmtj.mib(used), nmtj.mib(committed),
                                                      nmtj.mib(by_gen)))
    return classes, used, committed, by_gen


def body(c):
    c.need_java()
    c.need_lib()
    c.need_nmreport()
    c.scratch("reflection")
    c_off, u_off, m_off, _ = run(c, 1000000000)
    c_on, u_on, m_on, gen_on = run(c, 15)
    nmtj.check(c_on - c_off >= 1000, "only %d more classes with inflation: no accessors generated?" % (c_on - c_off))
    grew = u_on - u_off
    nmtj.check(m_on - m_off >= 0.5 * grew, "Metaspace commits grew by %d bytes, the JVM's Metaspace by %d"
               % (m_on - m_off, grew))
    nmtj.check(gen_on >= 0.5 * (m_on - m_off), "only %d of the %d extra committed bytes are under "
               "MethodAccessorGenerator (no Java frames?)" % (gen_on, m_on - m_off))


nmtj.main("java_reflection", body)
