"""Hundreds of JVM threads created and exiting under the recorder: same output,
no crash or hang, a complete profile. A small sampling rate makes most threads
take the sampled path (rings, stacks) before they exit."""
import nmtj


def body(c):
    c.need_java()
    c.need_lib()
    c.scratch("threads")
    nmtj.same_behaviour(c, c.java_cmd("ManyThreads", 400, 50), {"NMTRACE_RATE": 4096})


nmtj.main("java_threads", body)
