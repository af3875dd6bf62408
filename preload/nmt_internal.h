/*
 * nmt_internal.h: what the recorder's files share with each other.
 *
 * The recorder is split by concern (docs/ARCHITECTURE.md), one file each: nmt_state.c (the state
 * every module shares: nmt_state.h), nmt_hooks.c (the interposed entry points
 * and the hot path), nmt_bootstrap.c (real functions and the static arena),
 * nmt_capture.c (the sampled path: stacks and events), nmt_thread.c
 * (per-thread rings), nmt_writer.c (the background thread, the aggregate,
 * and a fork child's writer), nmt_snapshot.c (encoding records), nmt_os.c
 * (every contact with the OS: files, /proc, the clock, stderr), nmt_config.c
 * (NMTRACE_* variables), nmt_init.c (life cycle: init, fork, exit, signals),
 * nmt_jvm*.c (the JVM bridge, nmt_jvm.h). Nothing here is exported from
 * libnmtrace.so.
 */
#ifndef NMT_INTERNAL_H
#define NMT_INTERNAL_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <time.h>

#include "nmt_jvm.h"
#include "nmt_ring.h"
#include "nmt_state.h"
#include "nmt_unwind.h"

#define NMT_LIKELY(x)   __builtin_expect(!!(x), 1)
#define NMT_UNLIKELY(x) __builtin_expect(!!(x), 0)
#define NMT_NOINLINE    __attribute__((noinline))
/* For code that runs when another library's constructor allocates, which can
 * be before the ASan runtime has mapped its shadow memory, and for the
 * unwinders' reads of other functions' stack frames (ASan's redzones among
 * them): the test-only sanitized build (NMT_SANITIZE) leaves it out of ASan's
 * checks. */
#define NMT_NO_ASAN   __attribute__((no_sanitize_address))
#define NMT_MAX_DEPTH 256
/* Room for Java frames appended by the JVM bridge after the native ones. */
#define NMT_MAX_FRAMES (NMT_MAX_DEPTH + 512)

/* ---- configuration (nmt_config.c) ---- */
/* NMTRACE_UNWIND's values: their index in nmc_vars.c's word list. */
enum { NMT_UNWIND_LIBUNWIND = 0, NMT_UNWIND_FP = 1, NMT_UNWIND_AUTO = 2, NMT_UNWIND_CHECK = 3 };
struct nmt_config {
    uint64_t rate; /* NMTRACE_RATE: mean bytes between samples; 1 = all */
    uint64_t seed; /* NMTRACE_SEED: 0 = from time and pid */
    int seed_set;
    int unwind_fp;     /* NMTRACE_UNWIND=fp */
    int unwind_mode;   /* NMTRACE_UNWIND: NMT_UNWIND_* */
    uint32_t depth;    /* NMTRACE_DEPTH */
    uint32_t interval; /* NMTRACE_INTERVAL seconds, 0 = off */
    int interval_auto; /* NMTRACE_INTERVAL unset or auto: gaps grow (nmt_writer.c) */
    uint64_t growth;   /* NMTRACE_GROWTH bytes, 0 = off */
    int dump_signal;   /* NMTRACE_SIGNAL, 0 = off */
    char trigger[512]; /* NMTRACE_TRIGGER path, "" = off */
    char output[512];  /* NMTRACE_OUTPUT pattern */
    int java;          /* NMTRACE_JAVA=auto (1) | off (0) */
    int java_walk;     /* NMTRACE_JAVA_WALK: NMT_WALK_* (nmt_jvm_internal.h) */
    uint32_t ring_kib; /* NMTRACE_RING: per-thread ring size in KiB */
    int on_full_drop;  /* NMTRACE_ON_FULL=drop: a full ring drops instead of waiting */
    int quiet;         /* NMTRACE_QUIET=1: no notices on stderr */
    char run[64];      /* NMTRACE_RUN: the launcher's run token, "" = not launched */
};
NMT_HIDDEN extern struct nmt_config nmt__cfg;
NMT_HIDDEN void nmt__config_load(void);
/* Writes "config.NAME" INFO pairs through add(). */
NMT_HIDDEN void nmt__config_describe(void (*add)(void *, const char *, const char *), void *ctx);

/* ---- diagnostics (nmt_os.c): one line on stderr, never via stdio (it allocates) ---- */
NMT_HIDDEN void nmt__say(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* clock_gettime(clk) in nanoseconds (nmt_os.c; vDSO: no syscall) */
NMT_HIDDEN uint64_t nmt__clock_ns(clockid_t clk);
/* Whether the event sequence may come from the CPU's clock (nmt_state.h:
 * nmt__seq_clock); the constructor asks once (nmt_os.c). */
NMT_HIDDEN int nmt__os_seq_clock_usable(void);
/* 1 when a seccomp filter confines the process (nmt_os.c). */
NMT_HIDDEN int nmt__os_seccomp_filtered(void);
/* 1 when the clock-source file at path names the TSC (nmt_os.c). */
NMT_HIDDEN int nmt__os_clocksource_is_tsc(const char *path);

/* ---- the reader named in the exit line (nmt_hint.c) ---- */
/* Remembers the path this library was loaded as (from the constructor). */
NMT_HIDDEN void nmt__hint_self(const char *loaded_as);
/* "nmreport", or the absolute path of the one next to this library when PATH
 * would not run that one; buf holds it. */
NMT_HIDDEN const char *nmt__hint_reader(char *buf, size_t size);

/* ---- real functions and bootstrap (nmt_bootstrap.c) ---- */
struct nmt_real {
    void *(*malloc)(size_t);
    void (*free)(void *);
    void *(*calloc)(size_t, size_t);
    void *(*realloc)(void *, size_t);
    int (*posix_memalign)(void **, size_t, size_t);
    void *(*aligned_alloc)(size_t, size_t);
    void *(*memalign)(size_t, size_t);
    void *(*valloc)(size_t);
    void *(*pvalloc)(size_t);
    size_t (*malloc_usable_size)(void *);
    void *(*mmap)(void *, size_t, int, int, int, off_t);
    int (*munmap)(void *, size_t);
    void *(*mremap)(void *, size_t, size_t, int, ...);
    int (*mprotect)(void *, size_t, int);
};
/* Until resolution, .free is a stand-in that resolves first (so that
 * free()'s fast path needs no NULL test) and the other members are NULL. */
NMT_HIDDEN extern struct nmt_real nmt__real;
NMT_HIDDEN int nmt__resolve_real(void);
/* Set (release) once every member of nmt__real is the real function. */
NMT_HIDDEN extern _Atomic int nmt__resolved;
static inline int nmt__unresolved(void)
{
    return !atomic_load_explicit(&nmt__resolved, memory_order_acquire);
}
/* Pins the arena and the writer's heap in nmt__filter (nmt_addrfilter_pin):
 * free() and realloc() then send their blocks to the slow path, which
 * recognises them. Done before the first of their blocks is handed out, and
 * again by whatever clears the filter. At rate 1 (nmt__every) it pins every
 * page instead: every free then takes the slow path. */
NMT_HIDDEN void nmt__boot_pin(void);
/* Empties the address filter and the live set, giving their pages back
 * rather than writing them, and pins the static heaps again: for a fork
 * child (whose parent's samples are not its own) and an attach session.
 * Only while no other thread uses them. At rate 1, once pinned whole, the
 * tables hold nothing of the parent's or the last session's, and it does
 * nothing. */
NMT_HIDDEN void nmt__tables_reset(void);
/* Makes the tables a sample writes at random resident, without changing
 * them (nmt_prefault.c): run by the writer thread at its start, so that
 * their first-touch page faults are not the application's. */
NMT_HIDDEN void nmt__tables_prefault(void);
/* The same by its fallback alone (kernels before 5.14), for the tests. */
NMT_HIDDEN void nmt__tables_prefault_by_touch(void);
NMT_HIDDEN void *nmt__boot_alloc(size_t size, size_t align);
NMT_HIDDEN extern char nmt__boot_arena[];
#define NMT_BOOT_ARENA_SIZE (256u << 10)
/* The writer thread's heap (nmt_wheap.c) follows the bootstrap arena in the
 * same static block, so one compare recognises both, and one pin covers
 * both. */
#define NMT_WHEAP_SIZE (8u << 20)
static inline int nmt__is_boot(const void *p)
{
    return (uintptr_t)p - (uintptr_t)nmt__boot_arena < NMT_BOOT_ARENA_SIZE + NMT_WHEAP_SIZE;
}
NMT_HIDDEN int nmt__wheap_owns(const void *p);
NMT_HIDDEN void *nmt__wheap_alloc(size_t size);  /* NULL: use the real allocator */
NMT_HIDDEN void *nmt__wheap_calloc(size_t size); /* zeroed */
NMT_HIDDEN void nmt__wheap_free(void *p);
NMT_HIDDEN void *nmt__wheap_realloc(void *p, size_t size, void *(*alloc)(size_t));
NMT_HIDDEN void nmt__wheap_after_fork(void);
NMT_HIDDEN size_t nmt__wheap_in_use(void); /* bytes of live blocks, for rec.own_writer_heap */
NMT_HIDDEN size_t nmt__boot_size(const void *p);
NMT_HIDDEN size_t nmt__boot_used(void); /* bytes handed out, for rec.bootstrap_bytes */

/* ---- life cycle (nmt_init.c) ---- */
NMT_HIDDEN void nmt__ensure_init(void);

/* ---- per-thread rings (nmt_thread.c) ---- */
enum { NMT_SLOT_FREE = 0, NMT_SLOT_OWNED = 1, NMT_SLOT_DEAD = 2 };
struct nmt_thread {
    struct nmt_thread *next; /* registry list; slots are reused, never unlinked */
    _Atomic int state;
    uint32_t serial; /* thread number, for seeding */
    /* Producer-owned loss counters; the writer reads them relaxed. */
    _Atomic uint64_t drops, drop_bytes, free_drops;
    struct nmt_ring *ring;
    size_t map_len; /* bytes mapped for the slot and its ring (rec.own_rings) */
    /* The fast unwinder's last walk on the owning thread (nmt_unwind.h) */
    struct nmt_unwind_memo unwind_memo;
};
NMT_HIDDEN extern struct nmt_thread *_Atomic nmt__threads;

/* Starts loading, for writing, the lines the thread's next event will write:
 * the sequence's counter (unless the clock is its source), its ring's
 * producer line and the start of the next record, and with stack != 0 the
 * head of the unwinder's memo and the rest of a record with a short stack.
 * At the default rate an event comes thousands of operations after this
 * thread's last one, when these lines have left the CPU's caches; called
 * before the real allocation or the live set's lookup, whose work then hides
 * their misses. Only loads and prefetches: a slot and its ring are never
 * unmapped, so even t->thr left from an exited owner is safe to read. */
static inline void nmt__event_prefetch(const struct nmt_tls *t, int stack)
{
    if (!nmt__seq_clock)
        __builtin_prefetch(&nmt__seq, 1);
    const struct nmt_thread *thr = t->thr;
    if (thr == NULL)
        return;
    const struct nmt_ring *r = thr->ring;
    __builtin_prefetch(&r->tail, 1);
    const unsigned char *at =
        r->data + ((uint32_t)atomic_load_explicit(&r->tail, memory_order_relaxed) & r->mask);
    __builtin_prefetch(at, 1);
    if (stack) {
        __builtin_prefetch(at + 64, 1);
        __builtin_prefetch(at + 128, 1);
        __builtin_prefetch(&thr->unwind_memo, 1);
        __builtin_prefetch((const char *)&thr->unwind_memo + 64, 1);
        __builtin_prefetch((const char *)&thr->unwind_memo + 128, 1);
    }
}
NMT_HIDDEN struct nmt_thread *nmt__thread_claim(void);
NMT_HIDDEN void nmt__thread_init_key(void);
NMT_HIDDEN void nmt__thread_arm_main(void); /* on the main thread: report its pthread_exit */
NMT_HIDDEN struct nmt_thread *nmt__thread_late_lock(void);
NMT_HIDDEN void nmt__thread_late_unlock(void);
NMT_HIDDEN void nmt__threads_after_fork(struct nmt_thread *mine);

/* ---- events in the rings ---- */
enum nmt_ev_type {
    NMT_EV_ALLOC = 1,   /* arg: ptr, size */
    NMT_EV_FREE = 2,    /* arg: ptr */
    NMT_EV_MMAP = 3,    /* arg: addr, len, prot | flags << 32 */
    NMT_EV_MUNMAP = 4,  /* arg: addr, len */
    NMT_EV_MREMAP = 5,  /* arg: old, old_len, new, new_len */
    NMT_EV_MPROTECT = 6 /* arg: addr, len, prot */
};
struct nmt_ev {
    uint16_t type;
    uint16_t nframes;
    uint32_t flags; /* NMT_EVF_* */
    uint64_t seq;
    uint64_t arg[4];
    uint64_t frames[]; /* leaf first; frame 0 is the entry point */
};
#define NMT_EVF_JAVA 1u /* frames end with the JVM bridge's raw Java frames */
/* No frames (nframes 0): the stack is the one of the last event before it in
 * the same ring that carried a stack, which had these very frames, no Java
 * frames, and came from the same thread or the ring's earlier owner. The
 * producer sets it only when the fast unwinder replayed both stacks whole
 * from one unchanged walk (nmt_capture.c); the writer keeps the id it gave
 * that stack per ring (nmt_ring's last_stack, cleared with the ring). */
#define NMT_EVF_SAME     2u
#define NMT_EV_FREE_SIZE (offsetof(struct nmt_ev, arg) + sizeof(uint64_t))
/* An allocation with NMT_EVF_SAME: arg[0] and arg[1] only. */
#define NMT_EV_SAME_ALLOC_SIZE (offsetof(struct nmt_ev, arg) + 2 * sizeof(uint64_t))

/* ---- the sampled path (nmt_capture.c) ---- */
NMT_HIDDEN void *nmt__sampled_alloc(void *ptr, size_t size, void *entry);
/* seq: taken by the caller before the block could be reused. Leaves errno
 * as it was, so the caller need not save it. */
NMT_HIDDEN void nmt__record_free(void *ptr, uint64_t seq);
NMT_HIDDEN void nmt__record_mmap(int type, uint64_t a0, uint64_t a1, uint64_t a2, uint64_t a3,
                                 void *entry, uint64_t seq);
/* Draws NMT_GAP_BATCH + 1 gaps: returns the first, keeps the others in
 * t->gaps (nmt_capture.c); 0 at rate 1. */
NMT_HIDDEN int64_t nmt__gap_refill(struct nmt_tls *t);
/* The next countdown at the configured rate: the draws come in the order the
 * sampler makes them, a batch at a time. A caller whose rate changed (an
 * attach) empties the batch first (t->ngaps = 0). */
static inline int64_t nmt__next_gap(struct nmt_tls *t)
{
    if (NMT_UNLIKELY(t->ngaps == 0))
        return nmt__gap_refill(t);
    return t->gaps[--t->ngaps];
}
NMT_HIDDEN uint32_t nmt__capture(uint64_t *frames, uint32_t max, void *entry);
NMT_HIDDEN void nmt__unwind_init(void);

/* ---- the JVM bridge (nmt_jvm*.c, its interface in nmt_jvm.h) ---- */
#define NMT_JAVA_ROOM 512 /* frame slots reserved for the bridge's raw Java frames */

/* ---- the fork gate (nmt_forkgate.c): brackets unwinding and link-map
 * walks, so that no recorder-made call holds their locks across a fork ---- */
struct dl_phdr_info;
NMT_HIDDEN void nmt__gate_enter(void);
NMT_HIDDEN void nmt__gate_leave(void);
/* dl_iterate_phdr inside the gate: every recorder call to it goes here. */
NMT_HIDDEN int nmt__dl_iterate_phdr(int (*cb)(struct dl_phdr_info *, size_t, void *), void *arg);
NMT_HIDDEN void nmt__gate_fork_prepare(void);
NMT_HIDDEN void nmt__gate_fork_parent(void);
NMT_HIDDEN void nmt__gate_fork_child(void);

/* ---- the writer (nmt_writer.c); its doorbell is in nmt_state.h ---- */
NMT_HIDDEN int nmt__writer_start(void);
NMT_HIDDEN void nmt__writer_stop(void);          /* final snapshot, then stop */
NMT_HIDDEN void nmt__writer_request(int reason); /* async-signal-safe */
NMT_HIDDEN void nmt__writer_after_fork(void);
/* On a thread's first sampling decision: 1 when the calling thread is the
 * writer, before its start routine ran (code that wraps thread creation may
 * allocate there); it then takes the guard and the writer's heap for good,
 * as the start routine would, and the allocation is not sampled. */
NMT_HIDDEN int nmt__writer_born(struct nmt_tls *t);
/* A fork child's writer starts at its first recorded event (any thread,
 * guard held), once: a child that only execs leaves no file. */
NMT_HIDDEN void nmt__child_start(void);

#endif
