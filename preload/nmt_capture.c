/*
 * nmt_capture.c: the sampled path, run by the application thread.
 *
 * Only a sampled allocation, a free that the address filter cannot rule
 * out, or an mmap-family call comes here. It takes the stack (by default
 * with the fast unwinder of nmt_unwind.c, and with libunwind's unw_backtrace
 * where that one cannot; NMTRACE_UNWIND=libunwind, fp and check choose
 * otherwise), lets the JVM bridge append Java frames, and publishes one
 * event into the thread's own ring. A ring past half full wakes the writer
 * if it sleeps. A full ring makes the thread wait for the writer's next
 * round (NMTRACE_ON_FULL=wait, the default), bounded: the wait gives up
 * when the writer shows no progress for a second, and the event is then
 * dropped and counted. It is dropped and counted at once with
 * NMTRACE_ON_FULL=drop, and where no writer would answer (may_wait). The
 * re-entrancy guard is held throughout, so whatever the unwinder or the JVM
 * allocates goes straight to the real allocator.
 */
#include <alloca.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#define UNW_LOCAL_ONLY
#include <libunwind.h>

#include "nmt_attach.h"
#include "nmt_internal.h"
#include "nmt_sampler.h"
#include "nmt_unwind.h"

static _Atomic uint32_t nmt__thread_serial;

NMT_HIDDEN int64_t nmt__gap_refill(struct nmt_tls *t)
{
    uint64_t rate = nmt__cfg.rate;
    if (rate <= 1)
        return 0; /* rate 1: every allocation is sampled */
    if (!t->inited_rng) {
        t->rng_serial = atomic_fetch_add_explicit(&nmt__thread_serial, 1, memory_order_relaxed);
        nmt_sampler_seed(t->rng, nmt__cfg.seed, t->rng_serial);
        t->inited_rng = 1;
    }
    /* Returned first, then gaps[] from its end: the draws' own order. A
     * signal handler's allocation in between may take the same slot again;
     * each gap is still an exponential draw at the rate. */
    int64_t first = nmt_sampler_next_gap(t->rng, rate);
    for (int i = NMT_GAP_BATCH - 1; i >= 0; i--)
        t->gaps[i] = nmt_sampler_next_gap(t->rng, rate);
    t->ngaps = NMT_GAP_BATCH;
    return first;
}

extern void *__libc_stack_end; /* the main thread's initial stack pointer (ld.so) */

#define STACK_SPAN_MAX (64u << 20)

/* Where the stack the caller runs on ends, without locks or allocation:
 * pthread_getattr_np takes the thread's lock and can allocate, so calling it
 * from inside an allocation that pthread_getattr_np itself made deadlocks
 * (the JVM asks for its threads' stacks that way). glibc puts a thread's
 * descriptor (pthread_self()) at the top of the block its stack grows down
 * in, also for stacks the program supplies; the main thread's stack ends
 * above __libc_stack_end. 0 when neither is a plausible end. */
static uintptr_t stack_end_above(uintptr_t sp)
{
    uintptr_t self = (uintptr_t)pthread_self();
    if (self > sp && self - sp < STACK_SPAN_MAX)
        return self;
    uintptr_t end = (uintptr_t)__libc_stack_end;
    if (end > sp && end - sp < STACK_SPAN_MAX)
        return end;
    return 0;
}

/* Sets t->stack_lo/hi to a range of the current stack known to be mapped:
 * from the page of sp up to the stack's end, checked once with msync
 * (MS_ASYNC does nothing but fail on any unmapped page; not mincore, on
 * which the seccomp filter of a hardened service, systemd's
 * @system-service, kills the process) and remembered, so that later
 * captures on the same stack make no syscall. Everything below stack_lo
 * down to the caller's own frame is live stack as well. Returns 0 (and an
 * empty range) when the range is unknown or not wholly mapped. */
static NMT_NOINLINE int stack_bounds_new(struct nmt_tls *t, uintptr_t sp)
{
    uintptr_t page = sp & ~(uintptr_t)4095;
    uintptr_t hi = stack_end_above(sp);
    if (hi != 0 && hi == t->stack_hi && page >= t->stack_lo)
        return 1;
    /* A new stack, or deeper than checked so far: check what is new. */
    uintptr_t from = page, to = hi;
    if (hi != 0 && hi == t->stack_hi && t->stack_lo != 0)
        to = t->stack_lo;
    t->stack_lo = t->stack_hi = 0;
    if (hi == 0)
        return 0;
    to = (to + 4095) & ~(uintptr_t)4095;
    if (to > from && msync((void *)from, to - from, MS_ASYNC) != 0)
        return 0;
    t->stack_lo = page;
    t->stack_hi = hi;
    return 1;
}

static inline int stack_bounds(struct nmt_tls *t, uintptr_t sp)
{
    if (NMT_LIKELY(sp - t->stack_lo < t->stack_hi - t->stack_lo))
        return 1; /* inside the range found before: the same stack */
    return stack_bounds_new(t, sp);
}

/*
 * libunwind's memory reader, without descriptors.
 *
 * libunwind 1.6 reads memory for the local address space through an
 * accessor. When a frame has no unwind tables it falls back to following
 * the frame chain and from then on validates every address before reading
 * it, by writing the address into a pipe it keeps on the lowest descriptors
 * it could get when it was initialised (3 and 4 in a fresh process), and it
 * closes and reopens those numbers when a read from them fails. A program
 * that closed and reused 3 and 4 had its files read, written and closed.
 *
 * So the accessor is replaced by this one, which needs no descriptor and
 * makes no system call: words inside the calling thread's stack are read
 * directly (every register save slot on the DWARF path is there, and so is
 * every frame of a frame chain that is one); other reads for a cursor
 * (arg != NULL: the frame-chain fallback led out of the stack) fail, which
 * ends the walk there. Such a read used to go through process_vm_readv,
 * which fails instead of faulting on an unmapped address, but a seccomp
 * filter that kills on it (systemd's SystemCallFilter=@system-service
 * leaves it out) killed the program (tests/robust: robust_seccomp). Reads
 * that libunwind makes without a cursor (arg == NULL: its own unwind
 * tables) were never validated and are read directly, as before.
 */
static NMT_NO_ASAN int safe_access_mem(unw_addr_space_t as, unw_word_t addr, unw_word_t *val,
                                       int write, void *arg)
{
    (void)as;
    if (write) {
        *(unw_word_t *)addr = *val;
        return 0;
    }
    struct nmt_tls *t = &nmt__tls;
    uintptr_t live = (uintptr_t)__builtin_frame_address(0);
    /* No addr + 8 here: a frame chain ending in 0 asks for -8, and the sum
     * would wrap to 0 and pass. */
    if (arg == NULL ||
        (addr >= live && addr < t->stack_hi && t->stack_hi - addr >= sizeof(unw_word_t))) {
        *val = *(const unw_word_t *)addr;
        return 0;
    }
    return -UNW_EINVAL;
}

/* The two lowest free descriptor numbers, which the next pipe will get:
 * found by making a pipe and closing it. -1 when there are not two. */
static void lowest_free_pair(int *a, int *b)
{
    int fds[2];
    if (pipe2(fds, O_CLOEXEC) != 0) {
        *a = *b = -1;
        return;
    }
    close(fds[0]);
    close(fds[1]);
    *a = fds[0];
    *b = fds[1];
}

/* 1 when a and b are the two ends of one pipe made with O_NONBLOCK and
 * O_CLOEXEC: how libunwind makes its validation pipe. */
static int is_unwind_pipe(int a, int b)
{
    struct stat sa, sb;
    if (a < 0 || b < 0 || fstat(a, &sa) != 0 || fstat(b, &sb) != 0)
        return 0;
    if (!S_ISFIFO(sa.st_mode) || sa.st_ino != sb.st_ino || sa.st_dev != sb.st_dev)
        return 0;
    int fa = fcntl(a, F_GETFL), fb = fcntl(b, F_GETFL);
    int da = fcntl(a, F_GETFD), db = fcntl(b, F_GETFD);
    return fa >= 0 && fb >= 0 && (fa & O_ACCMODE) == O_RDONLY && (fb & O_ACCMODE) == O_WRONLY &&
           (fa & fb & O_NONBLOCK) && da >= 0 && db >= 0 && (da & db & FD_CLOEXEC);
}

/* Runs in the constructor, before the program has threads. libunwind makes
 * its pipe when it is first initialised, whatever accessor is used later:
 * initialise it here, on numbers we found free, install our reader, and
 * close the pipe, which nothing reads any more. Had libunwind been
 * initialised already, the check finds no fresh pipe and nothing is closed
 * (our reader still keeps libunwind off its descriptors). */
/* 1 when libunwind is left alone (nmt__unwind_init): also the counter
 * rec.libunwind_off. */
static int libunwind_off;

NMT_HIDDEN void nmt__unwind_init(void)
{
    if (nmt__cfg.unwind_mode == NMT_UNWIND_FP)
        return;
    /* libunwind's start-up probes mincore, on which the seccomp filter of a
     * hardened service (systemd's SystemCallFilter=@system-service) kills
     * the process; a filter cannot be asked what it allows. Under one,
     * libunwind is never called: the stacks it would take are walked by
     * frame pointers (unwind_raw). */
    if (nmt__os_seccomp_filtered()) {
        libunwind_off = 1;
        atomic_store_explicit(&nmt__ctr.libunwind_off, 1, memory_order_relaxed);
        nmt__say("nmtrace: a seccomp filter confines this process: libunwind is not used (its "
                 "start-up makes a system call such filters may forbid); stacks the call-frame "
                 "tables cannot unwind are walked by frame pointers");
        return;
    }
    int a, b;
    lowest_free_pair(&a, &b);
    unw_accessors_t *acc = unw_get_accessors(unw_local_addr_space);
    if (acc != NULL)
        acc->access_mem = safe_access_mem;
    unw_set_caching_policy(unw_local_addr_space, UNW_CACHE_PER_THREAD);
    if (acc != NULL && is_unwind_pipe(a, b)) {
        close(a);
        close(b);
    }
}

/* Frame-pointer walk, bounded by this thread's stack. Needs code built with
 * frame pointers (libnmtrace.so is); stops at the first frame without one.
 * It reads other functions' frames, redzones included in an ASan build: no
 * ASan checks (NMT_NO_ASAN), as for safe_access_mem. */
static NMT_NO_ASAN int fp_walk(void **out, int max)
{
    struct nmt_tls *t = &nmt__tls;
    uintptr_t fp = (uintptr_t)__builtin_frame_address(0);
    if (!stack_bounds(t, fp))
        return 0;
    int n = 0;
    while (n < max) {
        if (fp < (uintptr_t)__builtin_frame_address(0) || fp + 16 > t->stack_hi || (fp & 7) != 0)
            break;
        const uintptr_t *f = (const uintptr_t *)fp;
        uintptr_t ret = f[1], next = f[0];
        if (ret < 4096)
            break;
        out[n++] = (void *)ret;
        if (next <= fp)
            break;
        fp = next;
    }
    return n;
}

/* The first frame of stack[0..n) that does not return into the recorder. */
static int first_foreign(void *const *stack, int n)
{
    int i = 0;
    while (i < n && (uintptr_t)stack[i] >= nmt__self_lo && (uintptr_t)stack[i] < nmt__self_hi)
        i++;
    return i;
}

/* Whether the fast unwinder's stack a and libunwind's b agree on the first
 * room frames past the recorder's own (the ones nmt__capture keeps). */
/* The length of a[0..n) up to and with its first frame in the JVM's code
 * cache, where the fast unwinder stops (the Java frames replace the rest). */
static int until_jvm_code(void *const *a, int n)
{
    for (int i = 0; nmt_jvm_in_code != NULL && i < n; i++)
        if (nmt_jvm_in_code((uintptr_t)a[i]))
            return i + 1;
    return n;
}

static int same_stack(void *const *a, int na, void *const *b, int nb, int room)
{
    na = until_jvm_code(a, na);
    nb = until_jvm_code(b, nb);
    int i = first_foreign(a, na), j = first_foreign(b, nb);
    na = na - i < room ? na - i : room;
    nb = nb - j < room ? nb - j : room;
    return na == nb && memcmp(a + i, b + j, sizeof(void *) * (size_t)na) == 0;
}

/* The fast unwinder (nmt_unwind.c) over this thread's stack, without our
 * own frames, crossing them from start_fp (nmt_unwind_span) when not 0.
 * NMT_UNWIND_FALLBACK: it could not take this stack. *walk: its
 * nmt_unwind_span.replayed (0 when it could not). Inlined: one call fewer
 * per sample. */
static inline __attribute__((always_inline)) int fast_walk(void **out, int max, int *cut,
                                                           uintptr_t start_fp, uint64_t *walk)
{
    struct nmt_tls *t = &nmt__tls;
    if (!stack_bounds(t, (uintptr_t)__builtin_frame_address(0)))
        return NMT_UNWIND_FALLBACK;
    /* The thread's own slot (slot_enter ran): its last walk; none in the
     * shared slot of exited threads. */
    struct nmt_unwind_memo *memo = t->thr != NULL ? &t->thr->unwind_memo : NULL;
    struct nmt_unwind_span span = {t->stack_hi, nmt__self_lo, nmt__self_hi, memo, 0, start_fp, 0};
    int n = nmt__fast_unwind(out, max, &span);
    *cut = span.cut;
    *walk = span.replayed;
    return n;
}

/* The raw stack into tmp[] (room for want) by libunwind, or by frame
 * pointers; nmt__capture drops what it holds of our own frames. With check,
 * the fast unwinder takes it too, and a difference in the first room frames
 * is counted in rec.unwind_mismatch (libunwind's stack is the one kept). */
static NMT_NOINLINE int unwind_raw(void **tmp, int want, int room)
{
    int mode = nmt__cfg.unwind_mode;
    if (mode == NMT_UNWIND_FP || libunwind_off)
        return fp_walk(tmp, want);
    int cut, n = NMT_UNWIND_FALLBACK;
    uint64_t walk;
    void **fast = NULL;
    if (mode == NMT_UNWIND_CHECK && nmt_cfi_usable()) {
        fast = alloca(sizeof(void *) * (size_t)room);
        /* From this frame, as libunwind's walk below: both stacks meet
         * the same frames of ours. */
        n = fast_walk(fast, room, &cut, (uintptr_t)__builtin_frame_address(0), &walk);
        if (n == NMT_UNWIND_FALLBACK)
            atomic_fetch_add_explicit(&nmt__ctr.unwind_fallbacks, 1, memory_order_relaxed);
    }
    /* for safe_access_mem */
    stack_bounds(&nmt__tls, (uintptr_t)__builtin_frame_address(0));
    atomic_fetch_add_explicit(&nmt__ctr.unwind_libunwind, 1, memory_order_relaxed);
    nmt__gate_enter(); /* libunwind's locks and the link map's: not across a fork */
    int m = unw_backtrace(tmp, want);
    nmt__gate_leave();
    if (n != NMT_UNWIND_FALLBACK && !same_stack(fast, n, tmp, m, room))
        atomic_fetch_add_explicit(&nmt__ctr.unwind_mismatch, 1, memory_order_relaxed);
    return m;
}

/* The stack by libunwind (or frame pointers): into a scratch array with
 * room for our own frames, then the caller's frames into raw[] (room for
 * room). Returns their number; *cut: frames were left out. */
static NMT_NOINLINE int capture_slow(void **raw, int room, uint32_t max, int *cut)
{
    int want = (int)max + 7; /* our own frames: up to ~6 deep */
    void **tmp = alloca(sizeof(void *) * (size_t)want);
    int n = unwind_raw(tmp, want, room);
    int i = first_foreign(tmp, n), k = 0;
    for (; i < n && k < room; i++)
        raw[k++] = tmp[i];
    *cut = n == want || i < n;
    return k;
}

/* Fills frames[] (room for max) with: entry, then the caller's frames out to
 * the root. Our own frames are dropped by address, whatever the inlining.
 * With auto, the fast unwinder writes the caller's frames in place; a stack
 * it cannot take is taken by libunwind (rec.unwind_fallbacks), and so is
 * every stack where the rule tables cannot be trusted (attached late:
 * nmt_cfi_usable). *walk: not 0 when the fast unwinder replayed the
 * thread's kept walk whole (nmt_unwind_span.replayed): two captures with
 * the same entry that answer the same number here took the same frames. */
static inline __attribute__((always_inline)) uint32_t
capture_from(uint64_t *frames, uint32_t max, void *entry, uintptr_t start_fp, uint64_t *walk)
{
    void **raw = (void **)(frames + 1);
    int room = (int)max - 1, k = 0, cut = 0;
    frames[0] = (uintptr_t)entry;
    int n = NMT_UNWIND_FALLBACK;
    *walk = 0;
    if (nmt__cfg.unwind_mode == NMT_UNWIND_AUTO && nmt_cfi_usable()) {
        n = fast_walk(raw, room, &cut, start_fp, walk);
        if (n == NMT_UNWIND_FALLBACK)
            atomic_fetch_add_explicit(&nmt__ctr.unwind_fallbacks, 1, memory_order_relaxed);
        k = n;
    }
    if (n == NMT_UNWIND_FALLBACK)
        k = capture_slow(raw, room, max, &cut);
    if (k == 0)
        atomic_fetch_add_explicit(&nmt__ctr.unwind_errors, 1, memory_order_relaxed);
    if (cut)
        atomic_fetch_add_explicit(&nmt__ctr.truncated_stacks, 1, memory_order_relaxed);
    return (uint32_t)k + 1;
}

NMT_HIDDEN uint32_t nmt__capture(uint64_t *frames, uint32_t max, void *entry)
{
    uint64_t walk;
    return capture_from(frames, max, entry, 0, &walk);
}

/* The slot to publish into. *late is set when it is the shared slot of
 * exited threads, which slot_leave() must unlock. */
static struct nmt_thread *slot_find(struct nmt_tls *t, int *late)
{
    if (atomic_load_explicit(&nmt__child_pending, memory_order_relaxed))
        nmt__child_start();
    if (t->thr != NULL)
        return t->thr;
    if (t->exited == 0) {
        t->thr = nmt__thread_claim();
        return t->thr;
    }
    struct nmt_thread *thr = nmt__thread_late_lock();
    *late = thr != NULL;
    return thr;
}

/* Leaves errno as it was (the free path counts on it: nmt__record_free). */
static NMT_NOINLINE struct nmt_thread *slot_enter_slow(struct nmt_tls *t, int *late)
{
    int saved = errno;
    struct nmt_thread *thr = slot_find(t, late);
    errno = saved;
    return thr;
}

/* The usual case inline: the thread's own slot, no fork child to start. */
static inline struct nmt_thread *slot_enter(struct nmt_tls *t, int *late)
{
    *late = 0;
    if (NMT_LIKELY(t->thr != NULL &&
                   !atomic_load_explicit(&nmt__child_pending, memory_order_relaxed)))
        return t->thr;
    return slot_enter_slow(t, late);
}

static NMT_NOINLINE void slot_leave_late(void)
{
    int saved = errno;
    nmt__thread_late_unlock();
    errno = saved;
}

static void slot_leave(int late)
{
    if (late)
        slot_leave_late();
}

/* A writer that has not moved for this long is taken to be stuck (it may be
 * blocked on a lock the waiting thread holds): the wait gives up. */
#define NMT_STALL_NS 1000000000ull

/* Whether this thread may wait for room now: only when asked to, only for
 * an event the application's own call produced (guard 1: not from inside
 * the recorder, so never on the writer thread, whose guard is always held),
 * only while recording and while a writer serves (it does not in a fork
 * child before its writer started, nor once the final snapshot is under
 * way). A signal handler that interrupts a push finds the guard held and
 * records nothing, so it cannot wait on its own thread's ring either. */
static int may_wait(const struct nmt_tls *t)
{
    return !nmt__cfg.on_full_drop && t->guard == 1 &&
           atomic_load_explicit(&nmt__state, memory_order_relaxed) == NMT_ON &&
           atomic_load_explicit(&nmt__bell.open, memory_order_relaxed);
}

/* The ring had no room: wait for the writer if waiting is allowed. */
static NMT_NOINLINE void *reserve_wait(struct nmt_thread *thr, uint32_t len)
{
    if (!may_wait(&nmt__tls))
        return NULL;
    int saved = errno; /* the free path counts on it (nmt__record_free) */
    void *p;
    uint64_t ns;
    int end;
    p = nmt_ring_reserve_wait(thr->ring, len, &nmt__bell, NMT_STALL_NS, &ns, &end);
    if (end != NMT_WAIT_TOO_BIG) {
        atomic_fetch_add_explicit(&nmt__ctr.ring_waits, 1, memory_order_relaxed);
        atomic_fetch_add_explicit(&nmt__ctr.ring_wait_ns, ns, memory_order_relaxed);
    }
    if (end == NMT_WAIT_STALLED)
        atomic_fetch_add_explicit(&nmt__ctr.ring_wait_stalls, 1, memory_order_relaxed);
    errno = saved;
    return p;
}

/* Room for one record of len bytes in thr's ring, waiting for the writer if
 * the ring is full and waiting is allowed. NULL: drop the event. */
static inline void *reserve(struct nmt_thread *thr, uint32_t len)
{
    void *p = nmt_ring_reserve(thr->ring, len);
    if (NMT_LIKELY(p != NULL))
        return p;
    return reserve_wait(thr, len);
}

/* The futex wake of commit, errno kept (nmt__record_free). */
static NMT_NOINLINE void wake_writer(void)
{
    int saved = errno;
    nmt_wake_consumer(&nmt__bell);
    errno = saved;
}

/* Publishes the reserved record; wakes a sleeping writer when the ring has
 * filled past half (the common push costs no syscall). */
static inline void commit(struct nmt_thread *thr)
{
    struct nmt_ring *r = thr->ring; /* loaded once: the store below is atomic */
    if (NMT_UNLIKELY(nmt_ring_past_half_at(r, nmt_ring_commit(r))))
        wake_writer();
}

/* NMTRACE_GROWTH: the writer can only see growth in what it has drained.
 * Each thread wakes it after sampling a quarter of the threshold (estimated
 * bytes, frees not subtracted: at worst an early look), so a growth snapshot
 * follows the growth without a timer. */
static void growth_wake(struct nmt_tls *t, size_t size)
{
    t->grown += nmt_sampler_weight(size, nmt__cfg.rate) * (double)size;
    if (t->grown * 4 >= (double)nmt__cfg.growth) {
        t->grown = 0;
        nmt_wake_nudge(&nmt__bell);
    }
}

/* Once exit has begun (nmt_fini set NMT_STOPPED before the final drain),
 * no thread may wait for room any more; an event that then finds its ring
 * full comes after the point the final snapshot describes. It is counted
 * apart (rec.after_final), not as a loss. */
static int past_final(void)
{
    if (atomic_load_explicit(&nmt__state, memory_order_relaxed) == NMT_ON)
        return 0;
    atomic_fetch_add_explicit(&nmt__ctr.after_final, 1, memory_order_relaxed);
    return 1;
}

static void count_drop(struct nmt_thread *thr, uint64_t bytes)
{
    if (past_final())
        return;
    atomic_store_explicit(&thr->drops, atomic_load_explicit(&thr->drops, memory_order_relaxed) + 1,
                          memory_order_relaxed);
    atomic_store_explicit(&thr->drop_bytes,
                          atomic_load_explicit(&thr->drop_bytes, memory_order_relaxed) + bytes,
                          memory_order_relaxed);
}

/* Publishes a stack-carrying event. frames[] is in the caller's stack
 * (bounded by NMTRACE_DEPTH plus the Java frames). */
static int publish(struct nmt_thread *thr, const struct nmt_ev *head, const uint64_t *frames,
                   uint32_t nframes)
{
    uint32_t len = (uint32_t)(sizeof(struct nmt_ev) + nframes * sizeof(uint64_t));
    struct nmt_ev *ev = reserve(thr, len);
    if (ev == NULL)
        return -1;
    memcpy(ev, head, sizeof(*ev));
    ev->nframes = (uint16_t)nframes;
    memcpy(ev->frames, frames, nframes * sizeof(uint64_t));
    commit(thr);
    return 0;
}

/* A JVM was seen in this process (nmt__jvm_found, from the bridge; its
 * address is NULL without one). One load in the usual case: no JVM. */
static inline int jvm_seen(void)
{
    return &nmt__jvm_found != NULL && atomic_load_explicit(&nmt__jvm_found, memory_order_relaxed) &&
           nmt_jvm_append != NULL;
}

/* Frame slots for one stack: the native depth, and the Java frames' room
 * once a JVM was seen. */
static inline uint32_t frame_room(void)
{
    uint32_t room = nmt__cfg.depth + 1;
    if (jvm_seen())
        room += NMT_JAVA_ROOM;
    return room;
}

/* start_fp: the caller's own frame address, where the fast unwinder starts
 * crossing the recorder's frames (those below it are skipped). room comes
 * from frame_room(): larger than the native depth only once a JVM was seen,
 * and then there is a bridge to append its frames. *walk: capture_from's,
 * 0 when the bridge changed the stack (Java frames are never referred to:
 * the writer translates them as they come). */
static inline __attribute__((always_inline)) uint32_t take_stack(uint64_t *frames, uint32_t room,
                                                                 void *entry, uint32_t *flags,
                                                                 void *start_fp, uint64_t *walk)
{
    uint32_t n = capture_from(frames, nmt__cfg.depth + 1, entry, (uintptr_t)start_fp, walk);
    if (room > nmt__cfg.depth + 1) { /* frame_room saw a JVM */
        uint32_t native = n;
        n = nmt_jvm_append(frames, n, room);
        /* Java frames, when any, come last: tell the writer to translate. */
        if (n > 0 && (frames[n - 1] >> 63))
            *flags |= NMT_EVF_JAVA;
        if (n != native || (*flags & NMT_EVF_JAVA))
            *walk = 0;
    }
    return n;
}

/* Whether the stack just taken (take_stack's walk, its entry) is that of
 * r's last event that carried a stack: its event then carries none
 * (NMT_EVF_SAME). Both were replayed whole from one kept walk, unchanged
 * in between, so their frames are the same; r's note is cleared with the
 * ring, and set only by a committed event (note_stack), so the writer has
 * applied, or will apply first, the event it refers to. */
static inline int stack_repeats(const struct nmt_ring *r, uint64_t walk, void *entry)
{
    return walk != 0 && walk == r->last_walk && (uintptr_t)entry == r->last_entry;
}

/* After a committed event that carried a stack (its frames, or
 * NMT_EVF_SAME): what the next one may refer to. */
static inline void note_stack(struct nmt_ring *r, uint64_t walk, void *entry)
{
    r->last_walk = walk;
    r->last_entry = (uintptr_t)entry;
}

/* Fills the allocation event reserved at ev, in place: its fields are
 * stored one by one rather than copied from a header built in this frame,
 * whose wide reload of narrower stores cannot be forwarded from the store
 * buffer and so would wait for the stack's stores into the ring. */
static inline __attribute__((always_inline)) void
put_alloc(struct nmt_ev *ev, uint32_t nframes, uint32_t flags, uint64_t seq, void *ptr, size_t size)
{
    ev->type = NMT_EV_ALLOC;
    ev->nframes = (uint16_t)nframes;
    ev->flags = flags;
    ev->seq = seq;
    ev->arg[0] = (uintptr_t)ptr;
    ev->arg[1] = size;
    if (!(flags & NMT_EVF_SAME)) /* its record ends before them (NMT_EV_SAME_ALLOC_SIZE) */
        ev->arg[2] = ev->arg[3] = 0;
}

static void *sampled_alloc(void *ptr, size_t size, void *entry)
{
    struct nmt_tls *t = &nmt__tls;
    /* The sequence is taken first: after the real allocation returned ptr
     * (nmt_livetab.h says why that order), and before the stack's stores
     * into the ring are pending, which an atomic add would wait for. */
    uint64_t seq = nmt__seq_take();
    t->guard++;
    int late;
    struct nmt_thread *thr = slot_enter(t, &late);
    if (thr == NULL) {
        atomic_fetch_add_explicit(&nmt__ctr.lost_no_ring, 1, memory_order_relaxed);
        t->guard--;
        return ptr;
    }
    /* ptr goes into the live set and the filter before the stack is taken:
     * no free of ptr can come before this call returns it, and an event
     * that is not published takes the marks back. Their atomic updates come
     * before the stack's stores into the ring, which they would otherwise
     * wait for. Neither is kept at rate 1, where every free is recorded. */
    if (nmt__exact) {
        if (nmt_liveset_insert(&nmt__liveset, ptr) != 0) {
            /* Its page bucket and both hash buckets full. Lost, and counted. */
            atomic_fetch_add_explicit(&nmt__ctr.liveset_full, 1, memory_order_relaxed);
            count_drop(thr, size);
            slot_leave(late);
            t->guard--;
            return ptr;
        }
        nmt_addrfilter_add(&nmt__filter, ptr);
    }
    uint32_t room = frame_room();
    /* The usual case: the record is reserved at its largest and the stack
     * taken straight into it, shortened before it is committed. With no
     * room for that now (no wait), the stack goes to this frame and publish
     * copies it. An early return leaves the reservation unused. */
    struct nmt_ev *ev =
        nmt_ring_reserve(thr->ring, (uint32_t)(sizeof(struct nmt_ev) + room * sizeof(uint64_t)));
    uint64_t *frames = ev != NULL ? ev->frames : alloca(room * sizeof(uint64_t));
    uint32_t flags = 0;
    uint64_t walk;
    uint32_t n = take_stack(frames, room, entry, &flags, __builtin_frame_address(0), &walk);
    int published = 1;
    struct nmt_ring *r = thr->ring;
    if (ev != NULL && stack_repeats(r, walk, entry)) { /* the note stays as it is */
        put_alloc(ev, 0, NMT_EVF_SAME, seq, ptr, size);
        nmt_ring_shrink(r, ev, (uint32_t)NMT_EV_SAME_ALLOC_SIZE);
        commit(thr);
    } else if (ev != NULL) {
        put_alloc(ev, n, flags, seq, ptr, size);
        nmt_ring_shrink(r, ev, (uint32_t)(sizeof(struct nmt_ev) + n * sizeof(uint64_t)));
        commit(thr);
        note_stack(r, walk, entry);
    } else {
        struct nmt_ev head;
        if (stack_repeats(r, walk, entry)) {
            n = 0;
            flags = NMT_EVF_SAME;
        }
        put_alloc(&head, n, flags, seq, ptr, size);
        published = publish(thr, &head, frames, n) == 0;
        if (published)
            note_stack(r, walk, entry);
    }
    if (published) {
        if (nmt__cfg.growth)
            growth_wake(t, size);
    } else {
        count_drop(thr, size);
        if (nmt__exact && nmt_liveset_remove(&nmt__liveset, ptr))
            nmt_addrfilter_sub(&nmt__filter, ptr);
    }
    slot_leave(late);
    t->guard--;
    return ptr;
}

/* Fills and publishes the free event reserved at ev. */
static inline __attribute__((always_inline)) void
put_free(struct nmt_thread *thr, struct nmt_ev *ev, void *ptr, uint64_t seq)
{
    ev->type = NMT_EV_FREE;
    ev->nframes = 0;
    ev->flags = 0;
    ev->seq = seq;
    ev->arg[0] = (uintptr_t)ptr;
    commit(thr);
}

/* The usual free event: the thread's own slot and room in its ring, with no
 * call but a rare writer wake, so that it needs no frame of its own. 0 when
 * it does not apply (nothing was done): record_free then does it all. */
static inline int record_free_fast(void *ptr, uint64_t seq)
{
    struct nmt_tls *t = &nmt__tls;
    t->guard++;
    struct nmt_thread *thr = t->thr;
    struct nmt_ev *ev;
    if (NMT_UNLIKELY(thr == NULL ||
                     atomic_load_explicit(&nmt__child_pending, memory_order_relaxed) ||
                     (ev = nmt_ring_reserve(thr->ring, (uint32_t)NMT_EV_FREE_SIZE)) == NULL)) {
        t->guard--;
        return 0;
    }
    put_free(thr, ev, ptr, seq);
    t->guard--;
    return 1;
}

static void record_free(void *ptr, uint64_t seq)
{
    struct nmt_tls *t = &nmt__tls;
    t->guard++;
    int late;
    struct nmt_thread *thr = slot_enter(t, &late);
    struct nmt_ev *ev = thr ? reserve(thr, (uint32_t)NMT_EV_FREE_SIZE) : NULL;
    if (ev != NULL) {
        put_free(thr, ev, ptr, seq);
    } else if (thr != NULL && !past_final()) {
        atomic_store_explicit(&thr->free_drops,
                              atomic_load_explicit(&thr->free_drops, memory_order_relaxed) + 1,
                              memory_order_relaxed);
    } else if (thr == NULL) {
        atomic_fetch_add_explicit(&nmt__ctr.lost_no_ring, 1, memory_order_relaxed);
    }
    slot_leave(late);
    t->guard--;
}

static void record_mmap(int type, uint64_t a0, uint64_t a1, uint64_t a2, uint64_t a3, void *entry,
                        uint64_t seq)
{
    struct nmt_tls *t = &nmt__tls;
    t->guard++;
    int late;
    struct nmt_thread *thr = slot_enter(t, &late);
    if (thr == NULL) {
        atomic_fetch_add_explicit(&nmt__ctr.lost_no_ring, 1, memory_order_relaxed);
        t->guard--;
        return;
    }
    struct nmt_ev head = {.type = (uint16_t)type, .seq = seq, .arg = {a0, a1, a2, a3}};
    uint32_t n = 0;
    uint32_t room = frame_room();
    uint64_t *frames = alloca(room * sizeof(uint64_t));
    /* Only the calls that create or commit pages need a stack: the others
     * act on ranges whose owners are already known. */
    int stacked = type == NMT_EV_MMAP || type == NMT_EV_MPROTECT || type == NMT_EV_MREMAP;
    uint64_t walk = 0;
    if (stacked)
        n = take_stack(frames, room, entry, &head.flags, __builtin_frame_address(0), &walk);
    if (stacked && stack_repeats(thr->ring, walk, entry)) {
        n = 0;
        head.flags = NMT_EVF_SAME;
    }
    if (publish(thr, &head, frames, n) != 0)
        count_drop(thr, type == NMT_EV_MMAP ? a1 : 0);
    else if (stacked)
        note_stack(thr->ring, walk, entry);
    slot_leave(late);
    t->guard--;
}

/* The entry points. Once attached (nmt_attach.c), a detach must know when no
 * thread is inside the recorder any more: the sampled path brackets itself
 * then (never the unsampled hot path, and never under LD_PRELOAD). */
NMT_HIDDEN void *nmt__sampled_alloc(void *ptr, size_t size, void *entry)
{
    if (NMT_LIKELY(!nmt__attach_mode))
        return sampled_alloc(ptr, size, entry);
    if (nmt__attach_hold()) {
        sampled_alloc(ptr, size, entry);
        nmt__attach_release();
    }
    return ptr;
}

/* Every other free event: not in the usual case, or once attached. */
static NMT_NOINLINE void record_free_other(void *ptr, uint64_t seq)
{
    if (NMT_LIKELY(!nmt__attach_mode)) {
        record_free(ptr, seq);
        return;
    }
    int saved = errno;
    if (nmt__attach_hold()) {
        record_free(ptr, seq);
        nmt__attach_release();
    }
    errno = saved;
}

/* errno is left as it was: the usual case makes no call that could set it,
 * and the rare ones (slot_enter_slow, reserve_wait, slot_leave_late,
 * wake_writer, the attach bracket) keep it themselves, so free need not
 * save it around us. */
NMT_HIDDEN void nmt__record_free(void *ptr, uint64_t seq)
{
    if (NMT_LIKELY(!nmt__attach_mode) && record_free_fast(ptr, seq))
        return;
    record_free_other(ptr, seq);
}

NMT_HIDDEN void nmt__record_mmap(int type, uint64_t a0, uint64_t a1, uint64_t a2, uint64_t a3,
                                 void *entry, uint64_t seq)
{
    if (NMT_LIKELY(!nmt__attach_mode)) {
        record_mmap(type, a0, a1, a2, a3, entry, seq);
    } else if (nmt__attach_hold()) {
        record_mmap(type, a0, a1, a2, a3, entry, seq);
        nmt__attach_release();
    }
}
