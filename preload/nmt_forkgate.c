/*
 * nmt_forkgate.c: no recorder thread is inside the unwinder or the link map
 * when the process forks.
 *
 * A fork child has only the thread that forked; locks other threads held at
 * that instant stay held in the child for ever. Two such locks are ours to
 * worry about, because only the recorder makes the application's threads
 * take them all the time: libunwind's own mutexes (taken inside
 * unw_backtrace) and glibc's lock on the list of loaded objects, taken by
 * dl_iterate_phdr (libunwind calls it to find unwind tables; glibc 2.36
 * does not reset it in the child). A child whose first sampled allocation
 * then unwinds would wait on them for ever.
 *
 * So every such call is bracketed by nmt__gate_enter/nmt__gate_leave, and
 * the pthread_atfork prepare handler closes the gate and waits until no
 * thread is inside before fork goes on; threads that arrive meanwhile wait
 * until the fork is done (parent and child handlers reopen it). Entering
 * costs one uncontended atomic add on a per-thread-hashed counter and one
 * load: it is on the sampled path only, never on the unsampled one.
 * vfork and posix_spawn run no fork handlers; their children only exec.
 *
 * Nothing here may block for long: the prepare handler gives up waiting
 * after NMT_GATE_WAIT_NS (a thread descheduled inside the unwinder for that
 * long is no reason to hang the application's fork), and so does a thread
 * waiting at a closed gate.
 */
#include <link.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdint.h>

#include "nmt_internal.h"

#define SHARDS           64
#define NMT_GATE_WAIT_NS 2000000000ull

struct shard {
    _Atomic int64_t inside;
    char pad[64 - sizeof(int64_t)];
};

static struct shard shards[SHARDS] __attribute__((aligned(64)));
static _Atomic int forking; /* forks being prepared right now */

/* Each thread's counter: spread by the address of its TLS block. */
static struct shard *my_shard(void)
{
    uint64_t h = (uint64_t)(uintptr_t)&nmt__tls * 0x9E3779B97F4A7C15ull;
    return &shards[h >> 58];
}

NMT_HIDDEN void nmt__gate_enter(void)
{
    struct shard *s = my_shard();
    nmt__tls.gate_depth++;
    for (;;) {
        atomic_fetch_add_explicit(&s->inside, 1, memory_order_seq_cst);
        if (NMT_LIKELY(atomic_load_explicit(&forking, memory_order_seq_cst) == 0))
            return;
        /* A fork is being prepared: step out and let it happen first. A
         * thread already inside (a nested entry) stays: the forking thread
         * waits for it anyway. */
        if (nmt__tls.gate_depth > 1)
            return;
        atomic_fetch_sub_explicit(&s->inside, 1, memory_order_seq_cst);
        uint64_t start = nmt__clock_ns(CLOCK_MONOTONIC);
        while (atomic_load_explicit(&forking, memory_order_seq_cst) != 0 &&
               nmt__clock_ns(CLOCK_MONOTONIC) - start < NMT_GATE_WAIT_NS)
            sched_yield();
        if (atomic_load_explicit(&forking, memory_order_seq_cst) != 0) {
            atomic_fetch_add_explicit(&s->inside, 1, memory_order_seq_cst);
            return; /* the fork is taking very long: go on rather than stall */
        }
    }
}

NMT_HIDDEN void nmt__gate_leave(void)
{
    nmt__tls.gate_depth--;
    atomic_fetch_sub_explicit(&my_shard()->inside, 1, memory_order_seq_cst);
}

NMT_HIDDEN int nmt__dl_iterate_phdr(int (*cb)(struct dl_phdr_info *, size_t, void *), void *arg)
{
    nmt__gate_enter();
    int r = dl_iterate_phdr(cb, arg);
    nmt__gate_leave();
    return r;
}

static int64_t threads_inside(void)
{
    int64_t n = 0;
    for (int i = 0; i < SHARDS; i++)
        n += atomic_load_explicit(&shards[i].inside, memory_order_seq_cst);
    return n - nmt__tls.gate_depth; /* a fork from inside (a signal handler) */
}

NMT_HIDDEN void nmt__gate_fork_prepare(void)
{
    atomic_fetch_add_explicit(&forking, 1, memory_order_seq_cst);
    uint64_t start = 0;
    while (threads_inside() > 0) {
        uint64_t now = nmt__clock_ns(CLOCK_MONOTONIC);
        if (start == 0)
            start = now;
        else if (now - start >= NMT_GATE_WAIT_NS)
            break;
        sched_yield();
    }
}

NMT_HIDDEN void nmt__gate_fork_parent(void)
{
    atomic_fetch_sub_explicit(&forking, 1, memory_order_seq_cst);
}

/* The child has one thread: only its own entries can be inside. */
NMT_HIDDEN void nmt__gate_fork_child(void)
{
    for (int i = 0; i < SHARDS; i++)
        atomic_store_explicit(&shards[i].inside, 0, memory_order_relaxed);
    atomic_store_explicit(&my_shard()->inside, nmt__tls.gate_depth, memory_order_relaxed);
    atomic_store_explicit(&forking, 0, memory_order_seq_cst);
}
