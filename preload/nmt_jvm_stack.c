/*
 * nmt_jvm_stack.c: the JVM bridge on the application's sampled path, and the
 * java.* counters it writes into each snapshot.
 *
 * nmt_jvm_append takes the Java stack of the calling thread with the
 * bridge's own walker (nmt_jvm_walk.c) or, where that declines, with
 * HotSpot's AsyncGetCallTrace, which walks the thread's frames from its last
 * Java frame anchor without locks and without a safepoint (it is made to run
 * in signal handlers). Both give the same frames. It replaces the native
 * frames that lie in the code cache (the interpreter, a native-method
 * wrapper, compiled code: native unwinding cannot name them and usually
 * derails there) with the Java frames, leaf first, in a raw form that
 * nmt_jvm_translate turns into file frames on the writer thread. Every
 * reason a Java stack could not be taken is counted (nmt__jvm_count,
 * nmt_jvm_state.c).
 */
#include <stdatomic.h>
#include <string.h>
#include <ucontext.h>

#include "nmt_jvm_internal.h"

/* Java frames taken per sample at most (the stack buffer below). */
#define JAVA_DEPTH_MAX 512
#define CODE_CACHE_MAX (2ull << 30)

static _Atomic uint64_t code_lo, code_hi;

void nmt__jvm_code_range_add(uint64_t start, uint64_t size)
{
    uint64_t end = start + size, cur;
    if (start == 0 || size == 0)
        return;
    /* HotSpot reserves its code cache (at most 2 GiB) in one piece. Code
     * reported elsewhere must not widen the range over libraries whose
     * frames nmt_jvm_append would then drop. */
    uint64_t lo = atomic_load_explicit(&code_lo, memory_order_relaxed);
    uint64_t hi = atomic_load_explicit(&code_hi, memory_order_relaxed);
    if (lo && (end > hi ? end : hi) - (start < lo ? start : lo) > CODE_CACHE_MAX)
        return;
    cur = atomic_load_explicit(&code_lo, memory_order_relaxed);
    while ((cur == 0 || start < cur) &&
           !atomic_compare_exchange_weak_explicit(&code_lo, &cur, start, memory_order_relaxed,
                                                  memory_order_relaxed))
        ;
    cur = atomic_load_explicit(&code_hi, memory_order_relaxed);
    while (end > cur && !atomic_compare_exchange_weak_explicit(
                            &code_hi, &cur, end, memory_order_relaxed, memory_order_relaxed))
        ;
}

int nmt_jvm_in_code(uint64_t pc)
{
    uint64_t lo = atomic_load_explicit(&code_lo, memory_order_relaxed);
    uint64_t hi = atomic_load_explicit(&code_hi, memory_order_relaxed);
    return lo != 0 && pc >= lo && pc < hi;
}

static uint32_t first_code_frame(const uint64_t *frames, uint32_t n)
{
    uint64_t lo = atomic_load_explicit(&code_lo, memory_order_relaxed);
    uint64_t hi = atomic_load_explicit(&code_hi, memory_order_relaxed);
    /* Frame 0 is nmtrace's entry point, never code-cache code. */
    for (uint32_t i = 1; lo && i < n; i++)
        if (frames[i] >= lo && frames[i] < hi)
            return i;
    return n;
}

static uint64_t raw_frame(const struct nmt__asgct_frame *f)
{
    uint64_t id = (uint64_t)(uintptr_t)f->method;
    if (id == 0 || (id & 7) || (id >> 3) > NMT_JRAW_ID_MASK)
        return 0;
    uint64_t type, bci;
    if (f->lineno == -3) {
        type = 3; /* a native method: its JNI wrapper or intrinsic */
        bci = NMT_JRAW_BCI_NONE;
    } else {
        /* AsyncGetCallTrace does not say interpreted from compiled. */
        type = 4;
        bci = f->lineno >= 0 && f->lineno < (jint)NMT_JRAW_BCI_NONE ? (uint64_t)f->lineno
                                                                    : NMT_JRAW_BCI_NONE;
    }
    return (1ull << 63) | (type << 60) | (bci << NMT_JRAW_BCI_SHIFT) | (id >> 3);
}

/*
 * AsyncGetCallTrace reads the context only for a thread running Java code
 * with no frame anchor (then only its instruction, stack and frame pointers:
 * HotSpot's os::fetch_frame_from_context); a thread in malloc is in the VM or
 * in native code and is walked from its anchor. The context must still
 * describe a real frame: this function's own. On x86-64 those three
 * registers are filled in directly; getcontext would also save the signal
 * mask with a system call (rt_sigprocmask, more than half of this function's
 * cost in a VM). Out of line, so that the frame the context names is live
 * while AsyncGetCallTrace runs (and, with getcontext, because it returns
 * twice as far as the compiler knows).
 */
static __attribute__((noinline)) jint take_trace(nmt__asgct_fn asgct, JNIEnv *env,
                                                 struct nmt__asgct_frame *buf, uint32_t depth)
{
    ucontext_t uc;
#if defined(__x86_64__)
    /* The registers only: the rest of a ucontext_t (the signal mask, the
     * floating-point area; 900 bytes) is never read. */
    memset(&uc.uc_mcontext, 0, sizeof(uc.uc_mcontext));
    void *pc, *sp;
    __asm__ volatile("leaq 0(%%rip), %0\n\tmovq %%rsp, %1" : "=r"(pc), "=r"(sp));
    uc.uc_mcontext.gregs[REG_RIP] = (greg_t)(uintptr_t)pc;
    uc.uc_mcontext.gregs[REG_RSP] = (greg_t)(uintptr_t)sp;
    uc.uc_mcontext.gregs[REG_RBP] = (greg_t)(uintptr_t)__builtin_frame_address(0);
#else
    if (getcontext(&uc) != 0)
        return -100; /* counted as java.err.other */
#endif
    struct nmt__asgct_trace trace = {env, 0, buf};
    asgct(&trace, (jint)depth, &uc);
    return trace.num_frames;
}

/*
 * NMTRACE_JAVA_WALK=check: both walkers take the stack and are compared.
 * The profile gets AsyncGetCallTrace's stack, the reference. Out of line, so
 * that the second buffer is on the stack only in this mode.
 */
static __attribute__((noinline)) jint take_checked(nmt__asgct_fn asgct, JNIEnv *env,
                                                   struct nmt__asgct_frame *buf, uint32_t depth)
{
    struct nmt__asgct_frame own[JAVA_DEPTH_MAX + 1];
    int mine = nmt__jvm_walk(env, own, depth);
    int filled = nmt__jvm_walk_fill(env);
    jint got = take_trace(asgct, env, buf, depth);
    if (filled)
        nmt__jvm_walk_unfill(env);
    if (mine <= 0) {
        nmt__jvm_count(NMT_JST_WALK_DECLINED, 1);
        return got;
    }
    if (got <= 0) {
        nmt__jvm_count(NMT_JST_WALK_REFUSED, 1);
        return got;
    }
    int same = mine == got;
    for (int i = 0; same && i < got; i++)
        same = own[i].lineno == buf[i].lineno && own[i].method == buf[i].method;
    nmt__jvm_count(NMT_JST_WALK_CHECKED, 1);
    if (!same)
        nmt__jvm_count(NMT_JST_WALK_MISMATCH, 1);
    return got;
}

/* The calling thread's Java frames: the bridge's own walker, and
 * AsyncGetCallTrace where it declines (NMTRACE_JAVA_WALK). */
static jint java_stack(nmt__asgct_fn asgct, JNIEnv *env, struct nmt__asgct_frame *buf,
                       uint32_t depth)
{
    int mode = nmt__jvm_walk_mode();
    if (mode == NMT_WALK_AUTO) {
        int own = nmt__jvm_walk(env, buf, depth);
        if (own > 0) {
            nmt__jvm_count(NMT_JST_WALK_OWN, 1);
            return own;
        }
        nmt__jvm_count(NMT_JST_WALK_DECLINED, 1);
    } else if (mode == NMT_WALK_CHECK) {
        return take_checked(asgct, env, buf, depth);
    }
    return take_trace(asgct, env, buf, depth);
}

/* Java frames a stack may keep: NMTRACE_DEPTH, as for its native frames
 * (each frame walked costs time, ~17 ns with the own walker and 40-60 ns
 * with AsyncGetCallTrace, so a deep Java stack is bounded by what is kept),
 * within the buffer below. */
static uint32_t java_depth(void)
{
    uint32_t d = nmt__jvm_depth != NULL ? nmt__jvm_depth() : JAVA_DEPTH_MAX;
    return d == 0 || d > JAVA_DEPTH_MAX ? JAVA_DEPTH_MAX : d;
}

uint32_t nmt_jvm_append(uint64_t *frames, uint32_t n, uint32_t max)
{
    int st = atomic_load_explicit(&nmt__jvm_state, memory_order_relaxed);
    if (__builtin_expect(st != NMT_JVM_ATTACHED, 1)) {
        /* Once a JVM is known every sample without Java frames is counted,
         * by why; before, the process is not (yet) a Java process. */
        if (st == NMT_JVM_OFF || !atomic_load_explicit(&nmt__jvm_found, memory_order_relaxed))
            return n;
        nmt__jvm_count(st == NMT_JVM_FAILED    ? NMT_JST_FAILED
                       : st == NMT_JVM_STOPPED ? NMT_JST_STOPPED
                                               : NMT_JST_NOT_ATTACHED,
                       1);
        return n;
    }
    nmt__asgct_fn asgct = atomic_load_explicit(&nmt__jvm_asgct, memory_order_acquire);
    JavaVM *vm = atomic_load_explicit(&nmt__jvm_vm, memory_order_acquire);
    if (!asgct || !vm) {
        nmt__jvm_count(NMT_JST_NO_ASGCT, 1);
        return n;
    }
    /* GetEnv only reads the thread's own TLS: no lock, no state change. */
    JNIEnv *env = NULL;
    if ((*vm)->GetEnv(vm, (void **)&env, JNI_VERSION_1_6) != JNI_OK || !env) {
        nmt__jvm_count(NMT_JST_NOT_JAVA, 1);
        return n;
    }
    /* The Java frames replace the native ones from the first frame in the
     * code cache on, so they may use that room too. */
    uint32_t cut = first_code_frame(frames, n);
    if (cut >= max) {
        nmt__jvm_count(NMT_JST_NO_ROOM, 1);
        return n;
    }
    uint32_t keep = java_depth();
    if (keep > max - cut)
        keep = max - cut;
    /* One frame more than is kept, to tell a stack that was cut from one
     * that just fits: only a deeper stack pays for that frame's walk. */
    struct nmt__asgct_frame buf[JAVA_DEPTH_MAX + 1];
    jint got_frames = java_stack(asgct, env, buf, keep + 1);
    if (got_frames <= 0) {
        int code = -got_frames;
        nmt__jvm_count(
            code <= 10 ? (enum nmt__jvm_stat)(NMT_JST_ERR_FIRST + code) : NMT_JST_ERR_OTHER, 1);
        return n;
    }
    uint32_t got = (uint32_t)got_frames;
    if (got > keep) {
        got = keep;
        nmt__jvm_count(NMT_JST_TRUNCATED, 1);
    }
    /* java.trimmed_native is java.stacks less these: one count per stack on
     * the usual path, where the Java frames replace native ones. */
    if (cut >= n)
        nmt__jvm_count(NMT_JST_UNTRIMMED, 1);
    uint32_t out = cut;
    for (uint32_t i = 0; i < got; i++) {
        uint64_t w = raw_frame(&buf[i]);
        if (!w) {
            nmt__jvm_count(NMT_JST_BAD_FRAME, 1);
            continue;
        }
        frames[out++] = w;
    }
    nmt__jvm_count(NMT_JST_OK, 1);
    return out;
}

/* Counter names, in enum order; the AsyncGetCallTrace results keep the names
 * HotSpot's forte.cpp gives them. */
static const char *const stat_names[NMT_JST_COUNT] = {
    [NMT_JST_OK] = "java.stacks",
    [NMT_JST_ERR_FIRST + 0] = "java.err.no_java_frame",
    [NMT_JST_ERR_FIRST + 1] = "java.err.no_class_load",
    [NMT_JST_ERR_FIRST + 2] = "java.err.gc_active",
    [NMT_JST_ERR_FIRST + 3] = "java.err.unknown_not_java",
    [NMT_JST_ERR_FIRST + 4] = "java.err.not_walkable_not_java",
    [NMT_JST_ERR_FIRST + 5] = "java.err.unknown_java",
    [NMT_JST_ERR_FIRST + 6] = "java.err.not_walkable_java",
    [NMT_JST_ERR_FIRST + 7] = "java.err.unknown_state",
    [NMT_JST_ERR_FIRST + 8] = "java.err.thread_exit",
    [NMT_JST_ERR_FIRST + 9] = "java.err.deopt",
    [NMT_JST_ERR_FIRST + 10] = "java.err.safepoint",
    [NMT_JST_ERR_OTHER] = "java.err.other",
    [NMT_JST_NOT_ATTACHED] = "java.err.not_attached",
    [NMT_JST_FAILED] = "java.err.bridge_failed",
    [NMT_JST_STOPPED] = "java.err.stopped",
    [NMT_JST_NO_ASGCT] = "java.err.no_asgct",
    [NMT_JST_NOT_JAVA] = "java.err.not_java_thread",
    [NMT_JST_NO_ROOM] = "java.err.no_room",
    [NMT_JST_TRUNCATED] = "java.truncated",
    [NMT_JST_BAD_FRAME] = "java.bad_frames",
    [NMT_JST_TRIMMED] = "java.trimmed_native",
    [NMT_JST_METHODS] = "java.methods",
    [NMT_JST_NAMED] = "java.methods_named",
    [NMT_JST_UNNAMED] = "java.methods_unnamed",
    [NMT_JST_CLASSES] = "java.classes",
    [NMT_JST_CODE_LOAD] = "java.code.loads",
    [NMT_JST_CODE_UNLOAD] = "java.code.unloads",
    [NMT_JST_CODE_DYNAMIC] = "java.code.dynamic",
    [NMT_JST_RECORDS_LOST] = "java.records_lost",
    [NMT_JST_INTERNAL] = "java.internal_errors",
    [NMT_JST_LIVE_WAIT_NS] = "java.live_wait_ns",
    [NMT_JST_WALK_OWN] = "java.walk.own",
    [NMT_JST_WALK_DECLINED] = "java.walk.declined",
    [NMT_JST_WALK_CHECKED] = "java.walk.checked",
    [NMT_JST_WALK_MISMATCH] = "java.walk.mismatch",
    [NMT_JST_WALK_REFUSED] = "java.walk.asgct_refused",
};

void nmt_jvm_counters(nmt_counter_fn add, void *ctx)
{
    int st = atomic_load_explicit(&nmt__jvm_state, memory_order_relaxed);
    add(ctx, "java.state", st);
    /* A process that never had a JVM gets only java.state. */
    if (st == NMT_JVM_OFF || (st == NMT_JVM_WAITING && !atomic_load(&nmt__jvm_found)))
        return;
    add(ctx, "java.attach_via", atomic_load(&nmt__jvm_via));
    add(ctx, "java.asgct", atomic_load(&nmt__jvm_asgct) != NULL);
    add(ctx, "java.walk.ready", nmt__jvm_walk_ready());
    uint64_t ok = nmt__jvm_stat_get(NMT_JST_OK);
    for (int i = 0; i < NMT_JST_COUNT; i++) {
        if (!stat_names[i])
            continue; /* internal: folded into another counter */
        uint64_t v = nmt__jvm_stat_get((enum nmt__jvm_stat)i);
        if (i == NMT_JST_TRIMMED) {
            /* Read apart from java.stacks: a stack counted in one and not
             * yet in the other must not make this wrap. */
            uint64_t untrimmed = nmt__jvm_stat_get(NMT_JST_UNTRIMMED);
            v = ok > untrimmed ? ok - untrimmed : 0;
        }
        add(ctx, stat_names[i], (int64_t)v);
    }
    if (nmt__jvm_accounts_counters != NULL)
        nmt__jvm_accounts_counters(add, ctx);
}
