"""perfshare: which part of a profiled JVM's CPU time the recorder's own code
took, from `perf record -g` CPU-clock samples (bench/run_java.py --perf).

A sample is the recorder's when, walking its call chain from the leaf, the
first frame in libnmtrace.so is not the JNI_CreateJavaVM wrapper (the whole
JVM start-up runs under that one: its callees are the JVM's work), or when
any frame is in libunwind (only the recorder uses it in a JVM, and libunwind
has no frame pointers, so chains through it rarely reach our frames). Kernel
frames and other libraries below a recorder frame (libunwind, the JVM's
AsyncGetCallTrace and JVMTI functions, system calls) count for the recorder,
and so does the JVM's work to post the events the bridge enabled (compiled
method loads, class loads and prepares, generated code): HotSpot builds a
compiled method's inlining records before it calls our callback.
Each such sample is put in one part, by the recorder functions on its chain.
Timed ratios move by ±15 % on a shared machine; these shares do not depend
on how long the process waited for a CPU.
"""
import re
import subprocess

LIB = "libnmtrace.so"
NOT_OURS = {"create_wrapper", "dlsym", "nmt__jvm_dlsym_stub"}

JAVA_PART = "Java stack (own walker or AsyncGetCallTrace)"
EVENTS_PART = "bridge set-up, JVMTI events, VMDeath"
# (part, pattern over the recorder's function names on the chain), first match wins.
PARTS = [
    ("exit snapshot", r"^(nmt_fini|nmt__writer_stop)$"),
    ("writer thread", r"^writer_main$"),
    ("bridge thread (naming, accounts)", r"^(names_main|bridge_main)$"),
    (EVENTS_PART, r"^(start_here|attach_here|on_class_prepare|on_class_load|on_vm_death|nmt__jvm_on_\w+|nmt__jvm_created)$"),
    (JAVA_PART, r"^(nmt_jvm_append|java_stack|take_trace|take_checked|nmt__jvm_walk|find_nmethod|"
                r"compiled_frames|pc_desc|method_id|read_int)$"),
    ("native unwind", r"^(nmt__capture|fp_walk|safe_access_mem|nmt_?_unwind\w*|nmt_cfi\w*)$|libunwind"),
    ("sampled path, the rest", r"^(sampled_alloc|free_slow|malloc_slow|calloc_slow|realloc_slow|record_mmap|take_stack|publish|\w+_slow\w*)$"),
    ("recorder start (its constructor)", r"^nmt_init$"),
    ("hooks (unsampled calls)", r"."),
]


def record(cmd, env, out, freq=2000, timeout=300):
    """Runs cmd with the environment env under perf record (CPU clock,
    frame-pointer call chains); perf itself runs without env's LD_PRELOAD.
    None, or why it could not."""
    clean = {k: v for k, v in env.items() if k != "LD_PRELOAD"}
    child = ["env"] + ["%s=%s" % kv for kv in env.items() if kv[0] == "LD_PRELOAD"] + cmd
    p = subprocess.run(["perf", "record", "-q", "-g", "-e", "cpu-clock", "-F", str(freq),
                        "-o", out, "--"] + child, env=clean, stdout=subprocess.DEVNULL,
                       stderr=subprocess.PIPE, text=True, timeout=timeout)
    return None if p.returncode == 0 else (p.stderr.strip().splitlines() or ["perf failed"])[-1]


def samples(data):
    """Yields each sample's frames, leaf first, as (function, library path)."""
    p = subprocess.run(["perf", "script", "-i", data, "-F", "comm,ip,sym,dso"],
                       stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    frame = re.compile(r"^\s+[0-9a-f]+ (.*?)(?:\+0x[0-9a-f]+)? \((.*)\)$")
    chain = None
    for line in p.stdout.splitlines():
        if not line.strip():
            if chain is not None:
                yield chain
            chain = None
        elif line[0] not in " \t":
            chain = []
        elif chain is not None:
            m = frame.match(line)
            if m:
                chain.append((m.group(1), m.group(2)))
    if chain is not None:
        yield chain


# The JVM's own work for the events the bridge asked for (building a compiled
# method's inlining records, say) runs before our callback is called.
JVM_FOR_US = re.compile(r"^JvmtiExport::post_(compiled_method_\w+|class_prepare|class_load|"
                        r"dynamic_code_generated\w*)\b")


def part_of(chain):
    """The recorder's part a sample belongs to, or None if it is not ours."""
    if any("libunwind" in dso for _, dso in chain):
        return "native unwind"
    if any(JVM_FOR_US.match(f) for f, _ in chain):
        return EVENTS_PART
    first = next((i for i, (_, dso) in enumerate(chain) if dso.endswith(LIB)), None)
    if first is None or chain[first][0] in NOT_OURS:
        return None
    names = [f for f, dso in chain if dso.endswith(LIB)]
    below = [f if dso.endswith(LIB) else dso for f, dso in chain[:first + 1]]
    for part, pat in PARTS:
        if any(re.search(pat, n) for n in names + below):
            return part
    return None


def shares(data):
    """(samples in all, {part: samples}) of a perf.data file."""
    total, parts = 0, {}
    for chain in samples(data):
        total += 1
        part = part_of(chain)
        if part:
            parts[part] = parts.get(part, 0) + 1
    return total, parts
