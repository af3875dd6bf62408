"""The JVM's own accounts in each snapshot (JACCOUNTS), checked against what
the program itself reads from the same MXBeans at a known instant: buffer
pools to the byte, memory pools, class and thread counts, the direct memory
limit; once more with -XX:NativeMemoryTracking=summary for the NMT part.
The program prints its ground truth and System.nanoTime() (the recorder's
clock), then holds everything still until told to exit; the test waits for
a snapshot whose accounts were read after that instant."""
import os
import subprocess
import time

import nmtj
import nmtprof

HEAP = 256 << 20


def read_truth(p):
    truth = {"buffer": {}, "pool": {}}
    for line in p.stdout:
        f = line.split()
        if f[:1] != ["truth"]:
            continue
        if f[1] in ("buffer", "pool"):
            truth[f[1]][f[2].replace("_", " ")] = [int(x) for x in f[3:]]
        else:
            truth[f[1]] = int(f[2])
        if f[1] == "nano":
            return truth
    nmtj.fail("the program ended before printing its ground truth: %s" % p.stderr.read()[-500:])


def accounts_after(c, pid, nano, p, limit=150):
    """The accounts of the first snapshot read after nano (waits for it)."""
    deadline = time.time() + limit
    path = os.path.join(c.tmp, "p.%d.nmt" % pid)
    while True:
        if os.path.exists(path):
            try:
                for s in nmtprof.Profile(path).snapshots:
                    if s.accounts and s.accounts["taken_ns"] > nano:
                        return s.accounts
            except nmtprof.ProfileError as e:
                nmtj.fail("%s: %s" % (path, e))
        nmtj.check(p.poll() is None, "the JVM exited while the test waited for its accounts")
        nmtj.check(time.time() < deadline, "no snapshot with accounts read after the ground "
                   "truth within %d s" % limit)
        time.sleep(0.1)


def check_accounts(acc, truth, nmt):
    nmtj.check(acc["have"] & 0x2f == 0x2f, "parts missing from the accounts: have=%#x" % acc["have"])
    for name in ("direct", "mapped"):
        count, cap, used = truth["buffer"][name]
        got = acc["buffers"].get(name)
        nmtj.check(got == dict(count=count, capacity=cap, used=used),
                   "buffer pool %s: recorded %s, the program read %s" % (name, got, truth["buffer"][name]))
    nmtj.check(set(acc["pools"]) == set(truth["pool"]),
               "pools: recorded %s, the program saw %s" % (sorted(acc["pools"]), sorted(truth["pool"])))
    for name, (used, committed, mx) in truth["pool"].items():
        got = acc["pools"][name]
        nmtj.check(got["max"] == (None if mx < 0 else mx), "pool %s max: %s vs %d" % (name, got["max"], mx))
        if name in ("Metaspace", "Compressed Class Space"):
            # Nothing unloads (every loader is kept); the bridge may load a
            # few classes of its own after the program's reading.
            nmtj.check(used <= got["used"] <= used + (2 << 20),
                       "pool %s used: recorded %d, the program read %d" % (name, got["used"], used))
    nmtj.check(truth["classes"] <= acc["loaded_classes"] <= truth["classes"] + 300,
               "loaded classes: recorded %d, the program read %d" % (acc["loaded_classes"], truth["classes"]))
    nmtj.check(abs(acc["threads"] - truth["threads"]) <= 2,
               "threads: recorded %d, the program read %d" % (acc["threads"], truth["threads"]))
    nmtj.check(acc["max_direct"] == truth["maxmemory"],
               "max direct memory %d, the JDK's default is the heap limit %d" % (acc["max_direct"], truth["maxmemory"]))
    if not nmt:
        nmtj.check(not acc["nmt"], "NMT categories without NMT: %s" % acc["nmt"])
        return
    nmtj.check(acc["have"] & 0x10, "no NMT summary with -XX:NativeMemoryTracking=summary")
    nmtj.check(list(acc["nmt"])[0] == "Total", "NMT: Total is not first: %s" % list(acc["nmt"]))
    heap = acc["nmt"].get("Java Heap", {}).get("reserved")
    nmtj.check(heap == HEAP, "NMT Java Heap reserved %s, -Xmx is %d" % (heap, HEAP))
    # Direct buffers are NMT's "Other" (Unsafe.allocateMemory).
    other = acc["nmt"].get("Other", {}).get("committed", 0)
    nmtj.check(other >= truth["buffer"]["direct"][1],
               "NMT Other %d below the direct pool %d" % (other, truth["buffer"]["direct"][1]))


def run_one(c, nmt):
    jvm = ["-XX:NativeMemoryTracking=summary"] if nmt else []
    cmd = c.java_cmd("JvmAccounts", 16, 1, 300, os.path.join(c.tmp, "mapped.bin"), jvm=jvm,
                     heap="-Xmx%dm" % (HEAP >> 20))
    env = c.recorded_env({"NMTRACE_INTERVAL": 1, "NMTRACE_RATE": 65536})
    p = subprocess.Popen(cmd, env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, text=True, cwd=c.tmp)
    try:
        truth = read_truth(p)
        truth["maxmemory"] = truth.get("maxmemory", 0)
        acc = accounts_after(c, p.pid, truth["nano"], p)
        p.stdin.write("\n")
        p.stdin.close()
        nmtj.check(p.wait(timeout=120) == 0, "JvmAccounts failed")
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()
    check_accounts(acc, truth, nmt)
    print("accounts%s: direct %s, %d classes, %d NMT categories" %
          (" with NMT" if nmt else "", acc["buffers"]["direct"], acc["loaded_classes"], len(acc["nmt"])))


def body(c):
    c.need_java()
    c.need_lib()
    c.scratch("jvm_accounts")
    run_one(c, False)
    run_one(c, True)
    c.no_crash_files()


nmtj.main("java_jvm_accounts", body)
