/*
 * nmt_jvm_glue.c: the JVM bridge's only contact with the recorder's
 * internals: its re-entrancy guard, its stderr notices, the clock, the stack
 * depth and walker, the link map through the fork gate, waking the writer, and waiting
 * for it at VMDeath. Kept apart so the bridge can be exercised by a test
 * harness that provides the guard, the notices and the clock (the rest is
 * optional there).
 */
#include <time.h>

#include "nmt_internal.h"
#include "nmt_jvm_internal.h"

/* How long VMDeath waits at most for the writer to catch up. */
#define WRITER_WAIT_NS (200ull * 1000000)

void nmt__jvm_guard_enter(void)
{
    nmt__tls.guard++;
}

void nmt__jvm_guard_leave(void)
{
    nmt__tls.guard--;
}

int nmt__jvm_iterate_objects(int (*cb)(struct dl_phdr_info *, size_t, void *), void *arg)
{
    return nmt__dl_iterate_phdr(cb, arg);
}

void nmt__jvm_wake_writer(void)
{
    nmt__writer_wake();
}

void nmt__jvm_say(const char *msg)
{
    nmt__say("nmtrace: %s", msg);
}

uint32_t nmt__jvm_depth(void)
{
    return nmt__cfg.depth;
}

int nmt__jvm_walk_config(void)
{
    return nmt__cfg.java_walk;
}

uint64_t nmt__jvm_now_ns(void)
{
    return nmt__clock_ns(CLOCK_MONOTONIC);
}

void nmt__jvm_wait_writer(void)
{
    if (atomic_load(&nmt__state) != NMT_ON)
        return;
    uint64_t deadline = nmt__clock_ns(CLOCK_MONOTONIC) + WRITER_WAIT_NS;
    nmt__writer_wake(); /* it may be asleep until its next tick */
    for (struct nmt_thread *s = atomic_load_explicit(&nmt__threads, memory_order_acquire); s;
         s = s->next) {
        if (atomic_load_explicit(&s->state, memory_order_acquire) == NMT_SLOT_FREE || !s->ring)
            continue;
        /* Ring positions only grow: the writer has taken everything
         * committed so far once its head reaches this tail. */
        uint64_t tail = atomic_load_explicit(&s->ring->tail, memory_order_acquire);
        while (atomic_load_explicit(&s->ring->head, memory_order_acquire) < tail) {
            if (nmt__clock_ns(CLOCK_MONOTONIC) >= deadline || atomic_load(&nmt__state) != NMT_ON)
                return;
            struct timespec ts = {0, 100000}; /* a round takes well under 1 ms */
            nanosleep(&ts, NULL);
        }
    }
}
