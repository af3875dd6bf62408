/*
 * tsan_wake.c: the wait/wake protocol between the rings' producers and their
 * one consumer (preload/nmt_wake.h), built with ThreadSanitizer (NMT_TSAN).
 * A plain program like tsan_ring.c: exit 0 when every check holds, 1
 * otherwise; TSan makes a data race fatal.
 *
 * Producers push into their own tiny rings exactly as the recorder does
 * (nmt_capture.c: reserve, and on a full ring nmt_ring_reserve_wait with the
 * recorder's stall bound; wake the consumer past half full and when done).
 * The consumer plays the writer (nmt_writer.c): passes over the rings, each
 * ring drained up to what it held, beats, nmt_wake_passed, and a sleep on the
 * futex with no timeout when has_work finds nothing. Two runs:
 *
 *  1. A fixed number of records per producer. Each producer fills its ring
 *     before the consumer exists, so every one of them waits at least once.
 *     Each ends like an exiting thread (a `done` flag and a wake-up). The main
 *     thread waits until the consumer has finished every ring, then stops it
 *     (stop flag and a wake-up). Nothing else wakes the consumer at those two
 *     points, so a lost wake-up leaves it asleep and the test never ends
 *     (CTest's timeout fails it).
 *  2. Producers push until their ring is full with no consumer serving. The
 *     main thread stops the consumer while they push and wait; the consumer
 *     closes the bell (nmt_wake_open 0) as the writer does when it ends, and
 *     the main thread drains what is left, as the final snapshot does, while
 *     the producers still push. Every wait that began after a producer saw
 *     the bell closed must end at once (room or closed), never by the stall
 *     bound.
 *
 * Both runs check that every record pushed arrives exactly once, whole and
 * in order per ring.
 */
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../preload/nmt_wake.h"

#define NPROD        4
#define CAP          NMT_RING_MIN_CAP /* a few dozen records: rings fill */
#define RECORDS      100000u          /* per producer, run 1 */
#define MIN_RUN2     20000u           /* per producer before the stop, run 2 */
#define STALL_NS     1000000000ull    /* the recorder's bound (nmt_capture.c) */
#define BURST        256              /* a pass this busy is followed at once */
#define CLOSED_TRIES 100u             /* run 2: a producer ends after this many closed ends */

struct prod {
    struct nmt_ring *ring;
    int id;
    _Atomic int done;        /* no more records: like a DEAD slot */
    _Atomic uint32_t filled; /* its ring was found full (run 1: before the consumer) */
    _Atomic uint64_t pushed; /* records committed */
    /* Producer's own, read after join. */
    uint64_t ends[4];          /* nmt_ring_reserve_wait results by enum nmt_wait_end */
    uint64_t after_close;      /* waits that began with the bell seen closed */
    uint64_t late_not_at_once; /* ... and ended other than by room or closed */
    uint64_t released;         /* waits that began open and ended closed */
    /* Consumer's own. */
    uint64_t consumed;
    int finished; /* done and drained */
};

static struct nmt_wake bell;
static struct prod prods[NPROD];
static _Atomic int stop;
static _Atomic uint32_t finished_n; /* rings the consumer has finished */
static int run_fixed;               /* 1: run 1 (RECORDS each); 0: run 2 (until closed) */

static void fail(const char *what, const struct prod *p, uint64_t a, uint64_t b)
{
    fprintf(stderr, "tsan_wake: ring %d: %s (%lu, %lu)\n", p ? p->id : -1, what, (unsigned long)a,
            (unsigned long)b);
    fflush(stderr);
    _Exit(1);
}

/* A record of 1 + (seq % 13) words, each word seq * 16 + its index. */
static uint32_t words_of(uint64_t seq)
{
    return 1 + (uint32_t)(seq % 13);
}

static void *producer(void *arg)
{
    struct prod *p = arg;
    for (uint64_t seq = 0; !run_fixed || seq < RECORDS; seq++) {
        uint32_t len = words_of(seq) * 8;
        uint64_t *w = nmt_ring_reserve(p->ring, len);
        while (w == NULL) {
            if (atomic_load(&p->filled) == 0)
                atomic_store(&p->filled, 1);
            int was_open = (int)atomic_load(&bell.open);
            uint64_t ns;
            int end;
            w = nmt_ring_reserve_wait(p->ring, len, &bell, STALL_NS, &ns, &end);
            p->ends[end]++;
            if (!was_open) {
                p->after_close++;
                if (end != NMT_WAIT_ROOM && end != NMT_WAIT_CLOSED)
                    p->late_not_at_once++;
            }
            if (end == NMT_WAIT_TOO_BIG)
                fail("record too big for the ring", p, len, CAP);
            if (end == NMT_WAIT_CLOSED) {
                if (run_fixed)
                    fail("bell closed while the consumer serves", p, seq, 0);
                if (was_open)
                    p->released++;
                /* The recorder drops the event and goes on; this producer
                 * tries the same record again, a few times. */
                if (p->ends[NMT_WAIT_CLOSED] == CLOSED_TRIES)
                    goto out;
                sched_yield();
            }
            if (end == NMT_WAIT_STALLED)
                sched_yield(); /* the consumer is slow (a busy machine): try again */
        }
        for (uint32_t i = 0; i < len / 8; i++)
            w[i] = seq * 16 + i;
        nmt_ring_commit(p->ring);
        atomic_store_explicit(&p->pushed, seq + 1, memory_order_relaxed);
        if (nmt_ring_past_half(p->ring))
            nmt_wake_consumer(&bell);
    }
out:
    /* Like a thread's exit: the consumer drains the rest and finishes it. */
    atomic_store_explicit(&p->done, 1, memory_order_release);
    nmt_wake_consumer(&bell);
    return NULL;
}

static void check(struct prod *p, const uint64_t *w, uint32_t len)
{
    uint64_t seq = p->consumed;
    if (len != words_of(seq) * 8)
        fail("record has the wrong length", p, seq, len);
    for (uint32_t i = 0; i < len / 8; i++)
        if (w[i] != seq * 16 + i)
            fail("record torn or out of order", p, seq, w[i]);
    p->consumed++;
}

/* One ring, up to what it held when we got to it (as nmt__writer_round). */
static uint64_t drain(struct prod *p)
{
    uint64_t n = 0, end = nmt_ring_committed(p->ring);
    const void *rec;
    uint32_t len;
    while (nmt_ring_position(p->ring) < end && (rec = nmt_ring_peek(p->ring, &len)) != NULL) {
        check(p, rec, len);
        nmt_ring_release(p->ring);
        if ((++n & 255) == 0)
            nmt_wake_beat(&bell);
    }
    return n;
}

static uint64_t pass(void)
{
    uint64_t n = 0;
    for (int i = 0; i < NPROD; i++) {
        struct prod *p = &prods[i];
        if (p->finished)
            continue;
        int done = atomic_load_explicit(&p->done, memory_order_acquire);
        n += drain(p);
        if (done) {
            p->finished = 1;
            atomic_fetch_add(&finished_n, 1);
        }
    }
    nmt_wake_passed(&bell);
    return n;
}

/* As the writer's has_work: asked after the sleep is announced. */
static int has_work(void *arg)
{
    (void)arg;
    if (atomic_load(&stop) || atomic_load(&bell.waiters))
        return 1;
    for (int i = 0; i < NPROD; i++) {
        struct prod *p = &prods[i];
        if (!p->finished && (atomic_load_explicit(&p->done, memory_order_acquire) ||
                             nmt_ring_used(p->ring) >= CAP / 2))
            return 1;
    }
    return 0;
}

static void *consumer(void *arg)
{
    (void)arg;
    for (;;) {
        uint64_t n = pass();
        if (atomic_load(&stop))
            break;
        if (n >= BURST) {
            sched_yield();
            continue;
        }
        nmt_wake_sleep(&bell, -1, has_work, NULL);
    }
    nmt_wake_open(&bell, 0); /* as the writer thread does when it ends */
    return NULL;
}

/* The main thread waits for a condition other threads bring about. */
static void await(_Atomic uint32_t *v, uint32_t want)
{
    while (atomic_load(v) < want)
        sched_yield();
}

static void run(int fixed)
{
    pthread_t pt[NPROD], ct;
    run_fixed = fixed;
    memset(&bell, 0, sizeof(bell));
    atomic_store(&stop, 0);
    atomic_store(&finished_n, 0);
    nmt_wake_open(&bell, 1);
    for (int i = 0; i < NPROD; i++) {
        struct prod *p = &prods[i];
        struct nmt_ring *ring = p->ring;
        memset(p, 0, sizeof(*p));
        p->ring = ring;
        p->id = i;
        nmt_ring_init(p->ring, CAP);
        if (pthread_create(&pt[i], NULL, producer, p) != 0)
            fail("pthread_create", NULL, 0, 0);
    }
    if (fixed)
        for (int i = 0; i < NPROD; i++)
            await(&prods[i].filled, 1);
    if (pthread_create(&ct, NULL, consumer, NULL) != 0)
        fail("pthread_create", NULL, 0, 0);
    if (fixed) {
        /* Every ring finished by the consumer, woken only by the
         * producers; then the stop, whose wake-up alone must end it. */
        await(&finished_n, NPROD);
    } else {
        for (int i = 0; i < NPROD; i++)
            while (atomic_load_explicit(&prods[i].pushed, memory_order_relaxed) < MIN_RUN2)
                sched_yield();
    }
    atomic_store(&stop, 1);
    nmt_wake_consumer(&bell);
    pthread_join(ct, NULL);
    if (!fixed) {
        /* The final drain, on this thread, while producers still push. */
        pass();
    }
    for (int i = 0; i < NPROD; i++)
        pthread_join(pt[i], NULL);
    if (!fixed)
        pass();

    uint64_t waits = 0, room = 0, closed = 0, stalled = 0, late = 0, released = 0;
    for (int i = 0; i < NPROD; i++) {
        struct prod *p = &prods[i];
        uint64_t pushed = atomic_load(&p->pushed);
        if (p->consumed != pushed)
            fail("records pushed and received differ", p, pushed, p->consumed);
        if (fixed && pushed != RECORDS)
            fail("producer pushed too few", p, pushed, RECORDS);
        if (nmt_ring_used(p->ring) != 0)
            fail("ring not empty at the end", p, nmt_ring_used(p->ring), 0);
        if (p->late_not_at_once != 0)
            fail("a wait that began after the close did not end at once", p, p->late_not_at_once,
                 p->after_close);
        if (fixed && p->ends[NMT_WAIT_ROOM] + p->ends[NMT_WAIT_STALLED] == 0)
            fail("the producer never waited (its ring was full before the consumer ran)", p, 0, 0);
        if (!fixed && p->after_close < CLOSED_TRIES - 1)
            fail("too few waits began after the close", p, p->after_close, CLOSED_TRIES - 1);
        room += p->ends[NMT_WAIT_ROOM];
        stalled += p->ends[NMT_WAIT_STALLED];
        closed += p->ends[NMT_WAIT_CLOSED];
        late += p->after_close;
        released += p->released;
    }
    waits = room + stalled + closed;
    if (atomic_load(&bell.waiters) != 0)
        fail("waiters left counted", NULL, atomic_load(&bell.waiters), 0);
    printf("tsan_wake: run %d: %d rings, %lu waits (%lu room, %lu stalled, %lu closed: %lu "
           "released by the close, %lu began after it), every record once and in order\n",
           fixed ? 1 : 2, NPROD, (unsigned long)waits, (unsigned long)room, (unsigned long)stalled,
           (unsigned long)closed, (unsigned long)released, (unsigned long)late);
}

int main(void)
{
    for (int i = 0; i < NPROD; i++) {
        prods[i].ring = aligned_alloc(NMT_RING_CACHELINE, nmt_ring_footprint(CAP));
        if (prods[i].ring == NULL)
            return 1;
    }
    run(1);
    run(0);
    for (int i = 0; i < NPROD; i++)
        free(prods[i].ring);
    return 0;
}
