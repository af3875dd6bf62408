/*
 * nmt_wake.h: how the rings' producers and their one consumer wake each
 * other instead of polling.
 *
 * The consumer (the writer thread) sleeps on a futex when it has nothing to
 * do. A producer wakes it only when it has a reason (its ring passed half
 * full, its ring is full, a snapshot was asked for, a thread ended) and only
 * when the consumer is known to sleep: a push normally makes no syscall.
 * A producer whose ring is full may wait on a second futex for the consumer's
 * next pass over the rings; it gives up when the consumer shows no sign of
 * progress for a while (it may be blocked on a lock the producer holds), and
 * later producers then do not wait at all until the consumer moves again.
 *
 * No lost wake-up: the consumer announces its sleep with an exchange on
 * `sleeping`, then looks for work; a producer publishes work, then exchanges
 * `sleeping` back to 0. Both are read-modify-writes of one word, so one of
 * them comes second and sees the other's: either the producer finds the
 * consumer asleep and wakes it, or the consumer, synchronised with the
 * producer, finds the work. Likewise a producer counts itself in `waiters`
 * before it looks at the ring, and the consumer, after releasing space, bumps
 * `passes` and then reads `waiters` (all seq_cst). No fences: the protocol is
 * also checkable under ThreadSanitizer.
 * Producers' waits are cut into short slices all the same, so no producer
 * ever depends on a single wake-up.
 *
 * Everything is static inline and needs no allocation; nmt_wake_consumer is
 * async-signal-safe (it may change errno).
 */
#ifndef NMT_WAKE_H
#define NMT_WAKE_H

#include <limits.h>
#include <linux/futex.h>
#include <stdatomic.h>
#include <stdint.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "nmt_ring.h"

/* A waiting producer re-checks its ring at least this often. */
#define NMT_WAKE_SLICE_NS 10000000ull

struct nmt_wake {
    _Atomic uint32_t sleeping; /* futex: 1 while the consumer sleeps or is about to */
    _Atomic uint32_t nudged;   /* 1: a producer asked for a pass the consumer has not begun */
    _Atomic uint32_t passes;   /* futex: bumped after each consumer pass over the rings */
    _Atomic uint32_t waiters;  /* producers waiting for room */
    _Atomic uint32_t open;     /* 1 while a consumer serves: only then may producers wait */
    _Atomic uint32_t beat;     /* bumped by the consumer as it works: its sign of life */
    _Atomic uint64_t stalled;  /* beat + 1 when a wait saw no progress; 0 = none */
};

enum nmt_wait_end {
    NMT_WAIT_ROOM = 0,    /* room found */
    NMT_WAIT_CLOSED = 1,  /* no consumer serves (any more) */
    NMT_WAIT_STALLED = 2, /* the consumer made no progress for stall_ns */
    NMT_WAIT_TOO_BIG = 3, /* the record can never fit */
};

static inline long nmt_wake__futex(_Atomic uint32_t *word, int op, uint32_t val,
                                   const struct timespec *ts)
{
    return syscall(SYS_futex, (uint32_t *)word, op, val, ts, NULL, 0);
}

static inline uint64_t nmt_wake__now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static inline struct timespec nmt_wake__ts(uint64_t ns)
{
    struct timespec ts = {(time_t)(ns / 1000000000ull), (long)(ns % 1000000000ull)};
    return ts;
}

/* Any thread, signal handlers included: wakes the consumer if it sleeps
 * (a syscall only then). Call after publishing what it should find. */
static inline void nmt_wake_consumer(struct nmt_wake *w)
{
    if (atomic_exchange_explicit(&w->sleeping, 0, memory_order_seq_cst) != 0)
        nmt_wake__futex(&w->sleeping, FUTEX_WAKE_PRIVATE, 1, NULL);
}

/* nmt_wake_consumer for a reason the consumer's has_work cannot see (a
 * thread's growth estimate): a consumer about to sleep finds the nudge and
 * makes one more pass instead. */
static inline void nmt_wake_nudge(struct nmt_wake *w)
{
    atomic_store_explicit(&w->nudged, 1, memory_order_seq_cst);
    nmt_wake_consumer(w);
}

/* Consumer: sleeps until woken or for timeout_ns (< 0: no timeout), unless
 * has_work(ctx), asked after the sleep is announced, finds work. */
static inline void nmt_wake_sleep(struct nmt_wake *w, int64_t timeout_ns, int (*has_work)(void *),
                                  void *ctx)
{
    atomic_exchange_explicit(&w->sleeping, 1, memory_order_seq_cst);
    if (!atomic_exchange_explicit(&w->nudged, 0, memory_order_seq_cst) && !has_work(ctx)) {
        struct timespec ts = nmt_wake__ts(timeout_ns < 0 ? 0 : (uint64_t)timeout_ns);
        nmt_wake__futex(&w->sleeping, FUTEX_WAIT_PRIVATE, 1, timeout_ns < 0 ? NULL : &ts);
    }
    atomic_store_explicit(&w->sleeping, 0, memory_order_relaxed);
}

/* Consumer: a sign of life, cheap enough to give every few hundred records. */
static inline void nmt_wake_beat(struct nmt_wake *w)
{
    atomic_store_explicit(&w->beat, atomic_load_explicit(&w->beat, memory_order_relaxed) + 1,
                          memory_order_relaxed);
}

/* Consumer: after a pass over the rings released their space (or, within a
 * pass, a large part of one ring's: nmt_writer.c). */
static inline void nmt_wake_passed(struct nmt_wake *w)
{
    nmt_wake_beat(w);
    atomic_fetch_add_explicit(&w->passes, 1, memory_order_seq_cst);
    if (atomic_load_explicit(&w->waiters, memory_order_seq_cst) != 0)
        nmt_wake__futex(&w->passes, FUTEX_WAKE_PRIVATE, INT_MAX, NULL);
}

/* Consumer: starts (1) or stops (0) serving. Stopping releases every waiting
 * producer; none waits afterwards. */
static inline void nmt_wake_open(struct nmt_wake *w, int open)
{
    atomic_store_explicit(&w->open, open ? 1u : 0u, memory_order_seq_cst);
    atomic_store_explicit(&w->stalled, 0, memory_order_relaxed);
    if (!open) {
        atomic_fetch_add_explicit(&w->passes, 1, memory_order_seq_cst);
        nmt_wake__futex(&w->passes, FUTEX_WAKE_PRIVATE, INT_MAX, NULL);
    }
}

/* Producer: nmt_ring_reserve that, while the ring is full and a consumer
 * serves, wakes the consumer and waits for its passes; it gives up once the
 * consumer has shown no progress for stall_ns. *waited_ns gets the time
 * spent and *end why it stopped. The caller decides whether waiting is
 * allowed at all (not from the consumer itself, not while holding what the
 * consumer may need when that can be avoided). */
static inline void *nmt_ring_reserve_wait(struct nmt_ring *r, uint32_t len, struct nmt_wake *w,
                                          uint64_t stall_ns, uint64_t *waited_ns, int *end)
{
    *waited_ns = 0;
    void *p = nmt_ring_reserve(r, len);
    if (p != NULL) {
        *end = NMT_WAIT_ROOM;
        return p;
    }
    if (len > nmt_ring_max_record(r)) {
        *end = NMT_WAIT_TOO_BIG;
        return NULL;
    }
    uint32_t beat = atomic_load_explicit(&w->beat, memory_order_relaxed);
    if (atomic_load_explicit(&w->stalled, memory_order_relaxed) == (uint64_t)beat + 1) {
        *end = NMT_WAIT_STALLED; /* a wait already found the consumer stuck here */
        return NULL;
    }
    atomic_fetch_add_explicit(&w->waiters, 1, memory_order_seq_cst);
    uint64_t t0 = nmt_wake__now(), seen_at = t0, now = t0;
    for (;;) {
        uint32_t passes = atomic_load_explicit(&w->passes, memory_order_seq_cst);
        if (!atomic_load_explicit(&w->open, memory_order_seq_cst)) {
            *end = NMT_WAIT_CLOSED;
            break;
        }
        p = nmt_ring_reserve(r, len);
        if (p != NULL) {
            *end = NMT_WAIT_ROOM;
            break;
        }
        nmt_wake_consumer(w);
        uint32_t b = atomic_load_explicit(&w->beat, memory_order_relaxed);
        if (b != beat) {
            beat = b;
            seen_at = now;
        } else if (now - seen_at >= stall_ns) {
            atomic_store_explicit(&w->stalled, (uint64_t)beat + 1, memory_order_relaxed);
            *end = NMT_WAIT_STALLED;
            break;
        }
        struct timespec ts = nmt_wake__ts(NMT_WAKE_SLICE_NS);
        nmt_wake__futex(&w->passes, FUTEX_WAIT_PRIVATE, passes, &ts);
        now = nmt_wake__now();
    }
    atomic_fetch_sub_explicit(&w->waiters, 1, memory_order_relaxed);
    *waited_ns = nmt_wake__now() - t0;
    return p;
}

#endif
