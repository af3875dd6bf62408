/*
 * nmt_state.h: the recorder's shared state, defined in nmt_state.c.
 *
 * Everything more than one module of the recorder reads or writes lives
 * here: the process's recording state, the event sequence, the sampled-
 * address filter, the per-thread (TLS) state, the writer's doorbell, and
 * every loss and diagnostic counter. The modules depend on this state and on
 * the modules below them, never on each other in a cycle: the hooks call
 * the sampled path (nmt_capture.c), which publishes into the rings
 * (nmt_thread.c, nmt_ring.h); the writer (nmt_writer.c) drains the rings and
 * calls the snapshot encoder (nmt_snapshot.c), which writes the format
 * (format/nmt_enc.h) through the OS file (nmt_os.c); nmt_init.c starts and
 * stops them all. docs/ARCHITECTURE.md draws the whole picture.
 */
#ifndef NMT_STATE_H
#define NMT_STATE_H

#include <stdatomic.h>
#include <stdint.h>

#include "nmt_addrfilter.h"
#include "nmt_liveset.h"
#include "nmt_wake.h"

#define NMT_HIDDEN __attribute__((visibility("hidden")))
/* On the definitions of the read-mostly words that every sample reads (the
 * state, the rate's mode, the attach session, whether a JVM was seen, the
 * rules' generation): the linker gathers a section's pieces from all files
 * into one place, so a sample loads one line for them (two with the JVM
 * bridge's) rather than one for each word, scattered over .bss between the
 * large tables. Nothing written often belongs here (nmt__seq has a line of
 * its own). */
#define NMT_READ_MOSTLY __attribute__((section(".nmt_read_mostly")))

/* ---- the process ---- */
enum nmt_state {
    NMT_OFF = 0,     /* not initialised yet, or disabled (AT_SECURE, fatal init error) */
    NMT_ON = 1,      /* recording */
    NMT_STOPPED = 2, /* final snapshot taken: pass everything through */
};
NMT_HIDDEN extern _Atomic int nmt__state;
NMT_HIDDEN extern _Atomic int nmt__disabled; /* never record in this process */
/* The event sequence's counter, which orders events across threads unless
 * the clock does (nmt__seq_clock). Every sampled allocation and every
 * recorded free then writes it, from any thread: it has a
 * cache line of its own, so that those writes do not take away the lines of
 * read-mostly state the sampled path reads (the configuration, the unwind
 * rules' generation) from the other threads' caches. */
struct nmt_seq {
    _Alignas(64) _Atomic uint64_t next;
};
NMT_HIDDEN extern struct nmt_seq nmt__seq;
/* Where the sequence comes from, chosen before the first event and never
 * changed (nmt__os_seq_clock_usable): 1, the CPU's time-stamp counter; 0,
 * nmt__seq's counter. */
NMT_HIDDEN extern int nmt__seq_clock;
/* The next number of the sequence: larger than every number taken before it
 * in the happens-before sense, on any thread (nmt_writer.c relies on that
 * alone; the numbers need not be dense). From the counter, by an atomic add
 * on a line every sampling thread writes, which at rate 1 moves between
 * their CPUs at every event. From the clock, by RDTSCP, which reads the
 * time-stamp counter only once the thread's earlier loads are complete
 * (after whatever showed it an earlier event's effects) and before any
 * later store of the thread is visible (before whatever shows another
 * thread this event's): the kernel keeps its own monotonic time by that
 * counter only when every CPU's is in step. */
static inline uint64_t nmt__seq_take(void)
{
#if defined(__x86_64__)
    if (__builtin_expect(nmt__seq_clock, 1)) {
        uint32_t lo, hi, cpu;
        __asm__ volatile("rdtscp" : "=a"(lo), "=d"(hi), "=c"(cpu) : : "memory");
        return (uint64_t)hi << 32 | lo;
    }
#endif
    return atomic_fetch_add_explicit(&nmt__seq.next, 1, memory_order_relaxed);
}
NMT_HIDDEN extern struct nmt_addrfilter nmt__filter;
/* Exact mode (NMTRACE_RATE > 1): sampled pointers are also in nmt__liveset,
 * and the freeing thread removes them and clears their page's mark itself.
 * At rate 1 (nmt__every) every allocation is recorded, so every free is
 * too: the filter is not kept, it is pinned whole so that every
 * free reaches the slow path, and the writer matches the frees
 * (nmt_liveset.h says why the set is not used there). Both are set from the
 * rate by nmt__rate_mode() before recording starts. */
NMT_HIDDEN extern struct nmt_liveset nmt__liveset;
NMT_HIDDEN extern int nmt__exact;
NMT_HIDDEN extern int nmt__every;
NMT_HIDDEN void nmt__rate_mode(uint64_t rate);
NMT_HIDDEN extern uintptr_t nmt__self_lo, nmt__self_hi; /* our own text */
NMT_HIDDEN extern _Atomic int nmt__child_pending;       /* fork child: writer not started */
NMT_HIDDEN extern uint64_t nmt__start_realtime, nmt__start_monotonic; /* HEADER times */

/* ---- the writer's doorbell ---- */
/* The writer's sleep and the producers' waits for room (nmt_wake.h). */
NMT_HIDDEN extern struct nmt_wake nmt__bell;
/* Wakes the writer if it sleeps, for a module that has published work for it
 * (a ring past half full, an exited thread, a JVM that appeared). Any thread,
 * async-signal-safe; errno is preserved. */
NMT_HIDDEN void nmt__writer_wake(void);
/* The main thread ended without exit() (pthread_exit): from then on the
 * writer watches for the moment only the recorder's threads remain. */
NMT_HIDDEN extern _Atomic int nmt__main_exited;

/* ---- per-thread state: initial-exec TLS only (a general-dynamic access can malloc) ---- */
struct nmt_thread;
/* Gaps drawn at once: four keep struct nmt_tls at 128 bytes of the static
 * TLS, which is scarce for a library loaded late (struct nmt_unwind_memo). */
#define NMT_GAP_BATCH 4
struct nmt_tls {
    uint64_t countdown; /* bytes until the next sample; 0 = take the slow path */
    uint64_t rng[2];
    struct nmt_thread *thr;       /* this thread's ring, NULL until first event */
    uint32_t guard;               /* > 0: inside nmtrace, pass through */
    uint32_t inited;              /* countdown drawn */
    uint32_t inited_rng;          /* rng seeded */
    uint32_t rng_serial;          /* this thread's number, for seeding */
    uint32_t exited;              /* thread-exit destructor ran (count) */
    uint32_t main_thread;         /* the thread-group leader ("main" thread) */
    uint32_t writer;              /* the writer thread: allocates from nmt_wheap.c */
    uint32_t gate_depth;          /* inside the fork gate (nmt_forkgate.c) */
    uint32_t session;             /* the attach its countdown was drawn for (nmt_attach.h) */
    uint32_t ngaps;               /* gaps left in gaps[], taken from the end */
    uintptr_t stack_lo, stack_hi; /* mapped part of the stack, for the unwinders */
    double grown; /* NMTRACE_GROWTH: estimated bytes sampled since this thread woke the writer */
    /* The next countdowns, drawn NMT_GAP_BATCH at a time (nmt__next_gap),
     * so that the draw's code and the configuration it reads come to the
     * CPU once per batch rather than once per sample. */
    int64_t gaps[NMT_GAP_BATCH];
};
extern __thread struct nmt_tls nmt__tls __attribute__((tls_model("initial-exec")));

/* Whether this thread records now: not inside the recorder (the writer's
 * guard is always held), and recording. Recording implies that the real
 * functions are known (nmt__state is set NMT_ON after resolution), and the
 * acquire makes the tables' set-up for the rate (nmt__every) visible before
 * anything is recorded. */
static inline int nmt__recording(const struct nmt_tls *t)
{
    return !t->guard && atomic_load_explicit(&nmt__state, memory_order_acquire) == NMT_ON;
}

/* ---- loss and diagnostic counters (COUNTERS rec.*, docs/FORMAT.md) ---- */
struct nmt_counters {
    /* Bumped by any thread, relaxed, never on the unsampled path. */
    _Atomic uint64_t lost_no_ring;     /* events with no ring to go to */
    _Atomic uint64_t after_final;      /* full ring once exit's final snapshot had begun */
    _Atomic uint64_t small_rings;      /* rings made smaller than configured */
    _Atomic uint64_t liveset_full;     /* exact mode: no room in the live set */
    _Atomic uint64_t unwind_errors;    /* stacks without a caller frame */
    _Atomic uint64_t truncated_stacks; /* stacks cut at NMTRACE_DEPTH */
    _Atomic uint64_t unwind_fallbacks; /* stacks the fast unwinder left to libunwind */
    _Atomic uint64_t unwind_mismatch;  /* NMTRACE_UNWIND=check: stacks that differed */
    _Atomic uint64_t unwind_libunwind; /* stacks libunwind took, for any reason */
    _Atomic uint64_t libunwind_off;    /* 1: a seccomp filter keeps libunwind out */
    /* munmap/mprotect/MAP_FIXED calls recorded before a syscall that then failed */
    _Atomic uint64_t mmap_failed_after_record;
    /* Waits for room in a full ring: how many, nanoseconds in all, and how
     * many gave up because the writer showed no progress (their events then
     * count as drops). A fork child starts them from 0. */
    _Atomic uint64_t ring_waits, ring_wait_ns, ring_wait_stalls;
    /* The writer's own (or the final snapshot's thread's); a fork child
     * starts them from 0. */
    uint64_t internal_errors; /* no memory for a table entry, a failed encoding */
    uint64_t write_errors;    /* snapshots not written */
    /* the loss counters of exited threads' slots, folded in before reuse */
    uint64_t dead_drops, dead_drop_bytes, dead_free_drops;
};
NMT_HIDDEN extern struct nmt_counters nmt__ctr;
/* Fork child: the counters a child starts from 0 (above). */
NMT_HIDDEN void nmt__counters_after_fork(void);

#endif
