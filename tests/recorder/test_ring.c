/*
 * test_ring.c: units for the per-thread SPSC ring (preload/nmt_ring.h):
 * order, padding at the end of the data, full and recovery, zero-length
 * records, batched reads (nmt_ring_next) across padding and mixed with
 * peek, and a two-thread stress run that checks every record; and its
 * wait and wake-up protocol (preload/nmt_wake.h): a sleeping consumer woken
 * by a producer, producers waiting for room losing nothing, and every way a
 * wait ends without room (no consumer, a stalled one, a record too big).
 */
#include <criterion/criterion.h>
#include <pthread.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>

#include "../../preload/nmt_ring.h"
#include "../../preload/nmt_wake.h"

static struct nmt_ring *ring_new(uint32_t cap)
{
    struct nmt_ring *r = aligned_alloc(NMT_RING_CACHELINE, nmt_ring_footprint(cap));
    cr_assert_not_null(r);
    nmt_ring_init(r, cap);
    return r;
}

static int push(struct nmt_ring *r, uint32_t len, unsigned char fill)
{
    unsigned char *p = nmt_ring_reserve(r, len);
    if (!p)
        return 0;
    cr_assert_eq((uintptr_t)p % 8, 0);
    memset(p, fill, len);
    nmt_ring_commit(r);
    return 1;
}

static void pop_expect(struct nmt_ring *r, uint32_t len, unsigned char fill)
{
    uint32_t got = 12345;
    const unsigned char *p = nmt_ring_peek(r, &got);
    cr_assert_not_null(p);
    cr_assert_eq((uintptr_t)p % 8, 0);
    cr_assert_eq(got, len);
    for (uint32_t i = 0; i < len; i++)
        cr_assert_eq(p[i], fill);
    nmt_ring_release(r);
}

Test(ring, layout)
{
    cr_assert_eq(offsetof(struct nmt_ring, tail) % NMT_RING_CACHELINE, 0);
    cr_assert_eq(offsetof(struct nmt_ring, head) % NMT_RING_CACHELINE, 0);
    cr_assert_neq(offsetof(struct nmt_ring, tail) / NMT_RING_CACHELINE,
                  offsetof(struct nmt_ring, head) / NMT_RING_CACHELINE);
    cr_assert_eq(offsetof(struct nmt_ring, data) % NMT_RING_CACHELINE, 0);
}

/* Batched reads see the same records as peek, skip the padding at the end
 * of the data, give space back only at release_to, and leave the ring in a
 * state where peek carries on. */
Test(ring, batched_reads_across_padding)
{
    struct nmt_ring *r = ring_new(4096);
    unsigned char fill = 0;
    uint32_t want = 0; /* fill of the next record to read */
    int pads = 0;      /* batches that skipped padding */
    for (int pass = 0; pass < 40; pass++) {
        /* 300..1700-byte records: the producer wraps every few passes. */
        uint32_t len = 300 + (uint32_t)(pass * 397) % 1400;
        int pushed = 0;
        while (push(r, len, (unsigned char)(fill + 1)))
            fill++, pushed++;
        cr_assert_gt(pushed, 0);
        if (pass % 3 == 2) {
            while (pushed--)
                pop_expect(r, len, (unsigned char)++want);
            continue;
        }
        uint64_t pos = nmt_ring_position(r), end = nmt_ring_committed(r), start = pos;
        uint32_t got;
        const unsigned char *p;
        int seen = 0;
        while ((p = nmt_ring_next(r, &pos, end, &got)) != NULL) {
            cr_assert_eq(got, len);
            cr_assert_eq(p[0], (unsigned char)++want);
            cr_assert_eq(p[got - 1], (unsigned char)want);
            seen++;
        }
        cr_assert_eq(seen, pushed);
        cr_assert_eq(pos, end);
        /* More bytes than the records take: padding was skipped. */
        pads += end - start > (uint64_t)pushed * (NMT_RING_HDR + ((len + 7) & ~7u));
        cr_assert_null(nmt_ring_reserve(r, len), "no room before release_to");
        nmt_ring_release_to(r, pos);
        cr_assert_eq(nmt_ring_used(r), 0);
        uint32_t l;
        cr_assert_null(nmt_ring_peek(r, &l));
    }
    cr_assert_gt(pads, 0, "no batch met the padding at the end of the data");
    free(r);
}

Test(ring, fifo_order)
{
    struct nmt_ring *r = ring_new(4096);
    uint32_t len;
    cr_assert_null(nmt_ring_peek(r, &len));
    for (unsigned i = 0; i < 20; i++)
        cr_assert(push(r, i * 7, (unsigned char)i));
    for (unsigned i = 0; i < 20; i++)
        pop_expect(r, i * 7, (unsigned char)i);
    cr_assert_null(nmt_ring_peek(r, &len));
    cr_assert_eq(nmt_ring_used(r), 0);
    free(r);
}

Test(ring, uncommitted_is_invisible)
{
    struct nmt_ring *r = ring_new(4096);
    uint32_t len;
    cr_assert_not_null(nmt_ring_reserve(r, 16));
    cr_assert_null(nmt_ring_peek(r, &len));
    cr_assert_eq(nmt_ring_used(r), 0);
    /* A second reserve without commit abandons the first. */
    cr_assert(push(r, 24, 0xab));
    pop_expect(r, 24, 0xab);
    cr_assert_null(nmt_ring_peek(r, &len));
    free(r);
}

Test(ring, peek_twice_same_record)
{
    struct nmt_ring *r = ring_new(4096);
    uint32_t a, b;
    push(r, 8, 1);
    push(r, 16, 2);
    const void *p1 = nmt_ring_peek(r, &a);
    const void *p2 = nmt_ring_peek(r, &b);
    cr_assert_eq(p1, p2);
    cr_assert_eq(a, 8);
    nmt_ring_release(r);
    pop_expect(r, 16, 2);
    free(r);
}

Test(ring, wrap_with_padding)
{
    struct nmt_ring *r = ring_new(4096);
    /* Four records of 1008 bytes each (1000 + header, rounded) fill 4032. */
    for (int i = 0; i < 4; i++)
        cr_assert(push(r, 1000, (unsigned char)(10 + i)));
    cr_assert_eq(nmt_ring_used(r), 4032);
    /* The fifth needs 64 bytes of padding plus 1008: it does not fit yet. */
    cr_assert_not(push(r, 1000, 99));
    pop_expect(r, 1000, 10);
    cr_assert_eq(nmt_ring_used(r), 3024);
    unsigned char *p = nmt_ring_reserve(r, 1000);
    cr_assert_not_null(p);
    /* The record starts at the beginning of the data: it never wraps. */
    cr_assert_eq(p, r->data + NMT_RING_HDR);
    memset(p, 14, 1000);
    nmt_ring_commit(r);
    cr_assert_eq(nmt_ring_used(r), 3024 + 64 + 1008);
    for (int i = 1; i < 5; i++)
        pop_expect(r, 1000, (unsigned char)(10 + i));
    uint32_t len;
    cr_assert_null(nmt_ring_peek(r, &len));
    cr_assert_eq(nmt_ring_used(r), 0);
    free(r);
}

Test(ring, record_ending_exactly_at_the_end)
{
    struct nmt_ring *r = ring_new(4096);
    cr_assert(push(r, 2040, 1)); /* 2048 bytes */
    cr_assert(push(r, 2040, 2)); /* ends at 4096 exactly, no padding */
    cr_assert_eq(nmt_ring_used(r), 4096);
    cr_assert_not(push(r, 0, 3));
    pop_expect(r, 2040, 1);
    cr_assert(push(r, 0, 3));
    cr_assert_eq(nmt_ring_used(r), 2048 + 8);
    pop_expect(r, 2040, 2);
    pop_expect(r, 0, 3);
    free(r);
}

Test(ring, full_then_recovers)
{
    struct nmt_ring *r = ring_new(4096);
    int n = 0;
    while (push(r, 24, (unsigned char)n))
        n++;
    cr_assert_eq(n, 4096 / 32);
    cr_assert_eq(nmt_ring_used(r), 4096);
    cr_assert_not(push(r, 0, 0));
    pop_expect(r, 24, 0);
    cr_assert(push(r, 24, (unsigned char)n));
    cr_assert_not(push(r, 24, 0));
    for (int i = 1; i <= n; i++)
        pop_expect(r, 24, (unsigned char)i);
    cr_assert_eq(nmt_ring_used(r), 0);
    free(r);
}

Test(ring, zero_length_records)
{
    struct nmt_ring *r = ring_new(4096);
    int n = 0;
    while (push(r, 0, 0))
        n++;
    cr_assert_eq(n, 4096 / NMT_RING_HDR);
    for (int i = 0; i < n; i++)
        pop_expect(r, 0, 0);
    uint32_t len;
    cr_assert_null(nmt_ring_peek(r, &len));
    free(r);
}

Test(ring, record_size_limit)
{
    struct nmt_ring *r = ring_new(4096);
    uint32_t max = nmt_ring_max_record(r);
    cr_assert_null(nmt_ring_reserve(r, max + 1));
    cr_assert_null(nmt_ring_reserve(r, UINT32_MAX));
    /* A maximal record always fits in an empty ring, wherever it stands. */
    for (int i = 0; i < 50; i++) {
        cr_assert(push(r, (uint32_t)(i * 40) % 500, 7));
        pop_expect(r, (uint32_t)(i * 40) % 500, 7);
        cr_assert(push(r, max, (unsigned char)i));
        pop_expect(r, max, (unsigned char)i);
    }
    free(r);
}

/* Two-thread stress: every record carries its sequence number, its length
 * and a checksum of pseudo-random content derived from the sequence number. */
#define STRESS_RECORDS 3000000u

struct stress_rec {
    uint64_t seq;
    uint64_t sum;
    uint32_t n; /* payload words that follow */
    uint32_t pad;
    uint64_t words[];
};

static uint64_t mix(uint64_t x)
{
    x ^= x >> 33;
    x *= 0xff51afd7ed558ccdull;
    x ^= x >> 33;
    return x;
}

static void *producer(void *arg)
{
    struct nmt_ring *r = arg;
    for (uint64_t seq = 0; seq < STRESS_RECORDS; seq++) {
        uint32_t n = (uint32_t)(mix(seq) % 40);
        uint32_t len = (uint32_t)sizeof(struct stress_rec) + n * 8;
        struct stress_rec *rec;
        while (!(rec = nmt_ring_reserve(r, len)))
            sched_yield();
        rec->seq = seq;
        rec->n = n;
        rec->pad = 0;
        uint64_t sum = seq;
        for (uint32_t i = 0; i < n; i++) {
            rec->words[i] = mix(seq * 64 + i);
            sum = sum * 31 + rec->words[i];
        }
        rec->sum = sum;
        nmt_ring_commit(r);
    }
    return NULL;
}

Test(ring, two_thread_stress, .timeout = 120)
{
    struct nmt_ring *r = ring_new(1u << 14);
    pthread_t t;
    cr_assert_eq(pthread_create(&t, NULL, producer, r), 0);
    uint64_t expect = 0;
    while (expect < STRESS_RECORDS) {
        uint32_t len;
        const struct stress_rec *rec = nmt_ring_peek(r, &len);
        if (!rec) {
            sched_yield();
            continue;
        }
        cr_assert_eq(rec->seq, expect, "record %lu arrived as %lu", expect, rec->seq);
        cr_assert_eq(len, sizeof(struct stress_rec) + rec->n * 8);
        cr_assert_eq(rec->n, mix(expect) % 40);
        uint64_t sum = rec->seq;
        for (uint32_t i = 0; i < rec->n; i++)
            sum = sum * 31 + rec->words[i];
        cr_assert_eq(sum, rec->sum, "record %lu torn", expect);
        nmt_ring_release(r);
        expect++;
    }
    pthread_join(t, NULL);
    uint32_t len;
    cr_assert_null(nmt_ring_peek(r, &len));
    cr_assert_eq(nmt_ring_used(r), 0);
    free(r);
}

/* ---- waiting and waking (nmt_wake.h) ---- */

struct pair {
    struct nmt_ring *r;
    struct nmt_wake w;
    _Atomic int stop;
    _Atomic uint64_t sleeps, got;
    uint64_t records;
};

static int pair_has_work(void *arg)
{
    struct pair *p = arg;
    return atomic_load(&p->stop) || nmt_ring_used(p->r) >= p->r->cap / 2 ||
           atomic_load(&p->w.waiters) != 0;
}

/* The consumer as the writer runs it: drain, tell waiters, sleep. Records
 * carry their sequence number; any gap or reordering fails the test. */
static void *consumer(void *arg)
{
    struct pair *p = arg;
    uint64_t expect = 0;
    for (;;) {
        int last = atomic_load(&p->stop); /* then one more drain */
        uint32_t len;
        const uint64_t *rec;
        while ((rec = nmt_ring_peek(p->r, &len)) != NULL) {
            cr_assert_eq(*rec, expect, "record %lu arrived as %lu", expect, *rec);
            expect++;
            nmt_ring_release(p->r);
        }
        atomic_store(&p->got, expect);
        nmt_wake_passed(&p->w);
        if (last)
            break;
        atomic_fetch_add(&p->sleeps, 1);
        nmt_wake_sleep(&p->w, -1, pair_has_work, p);
    }
    return NULL;
}

static void *waiting_producer(void *arg)
{
    struct pair *p = arg;
    for (uint64_t seq = 0; seq < p->records; seq++) {
        uint64_t ns;
        int end;
        uint64_t *rec = nmt_ring_reserve_wait(p->r, 8 + (uint32_t)(seq % 5) * 8, &p->w,
                                              60ull * 1000000000, &ns, &end);
        cr_assert_not_null(rec, "record %lu: the wait ended with %d", seq, end);
        cr_assert_eq(end, NMT_WAIT_ROOM);
        *rec = seq;
        nmt_ring_commit(p->r);
        if (nmt_ring_past_half(p->r))
            nmt_wake_consumer(&p->w);
    }
    return NULL;
}

Test(wake, producer_waits_for_room_and_loses_nothing, .timeout = 120)
{
    /* A 4 KiB ring and 200k records: the producer must wait again and again,
     * and the consumer sleeps whenever the ring is below half. */
    struct pair p = {.r = ring_new(4096), .records = 200000};
    nmt_wake_open(&p.w, 1);
    pthread_t c, t;
    cr_assert_eq(pthread_create(&c, NULL, consumer, &p), 0);
    cr_assert_eq(pthread_create(&t, NULL, waiting_producer, &p), 0);
    pthread_join(t, NULL);
    atomic_store(&p.stop, 1);
    nmt_wake_consumer(&p.w);
    pthread_join(c, NULL);
    cr_assert_eq(atomic_load(&p.got), p.records);
    cr_assert_eq(atomic_load(&p.w.waiters), 0);
    cr_assert_gt(atomic_load(&p.sleeps), 0);
    free(p.r);
}

Test(wake, sleeping_consumer_is_woken, .timeout = 60)
{
    /* The consumer sleeps with no timeout: only wakes bring it back. */
    struct pair p = {.r = ring_new(4096)};
    nmt_wake_open(&p.w, 1);
    pthread_t c;
    cr_assert_eq(pthread_create(&c, NULL, consumer, &p), 0);
    for (uint64_t seq = 0; seq < 1000; seq++) {
        uint64_t *rec;
        while ((rec = nmt_ring_reserve(p.r, 8)) == NULL) {
            nmt_wake_consumer(&p.w); /* full: the consumer must come */
            sched_yield();
        }
        *rec = seq;
        nmt_ring_commit(p.r);
        if (seq % 100 == 99)
            nmt_wake_consumer(&p.w); /* below half: wake it by hand */
        while (seq % 100 == 99 && atomic_load(&p.got) <= seq)
            sched_yield(); /* each wake is answered by a drain */
    }
    atomic_store(&p.stop, 1);
    nmt_wake_consumer(&p.w);
    pthread_join(c, NULL);
    cr_assert_eq(atomic_load(&p.got), 1000);
    free(p.r);
}

static struct nmt_ring *full_ring(void)
{
    struct nmt_ring *r = ring_new(4096);
    while (push(r, 64, 1))
        ;
    return r;
}

Test(wake, no_consumer_no_wait)
{
    struct nmt_ring *r = full_ring();
    struct nmt_wake w = {0}; /* never opened */
    uint64_t ns = 1;
    int end = -1;
    cr_assert_null(nmt_ring_reserve_wait(r, 64, &w, 60ull * 1000000000, &ns, &end));
    cr_assert_eq(end, NMT_WAIT_CLOSED);
    cr_assert_eq(atomic_load(&w.waiters), 0);
    free(r);
}

Test(wake, too_big_never_waits)
{
    struct nmt_ring *r = ring_new(4096);
    struct nmt_wake w = {0};
    nmt_wake_open(&w, 1);
    uint64_t ns = 1;
    int end = -1;
    cr_assert_null(
        nmt_ring_reserve_wait(r, nmt_ring_max_record(r) + 8, &w, 60ull * 1000000000, &ns, &end));
    cr_assert_eq(end, NMT_WAIT_TOO_BIG);
    cr_assert_eq(ns, 0);
    free(r);
}

Test(wake, stalled_consumer_ends_the_wait, .timeout = 60)
{
    /* A consumer that never moves: the first wait gives up after stall_ns,
     * the next does not wait at all until the consumer shows progress. */
    struct nmt_ring *r = full_ring();
    struct nmt_wake w = {0};
    nmt_wake_open(&w, 1);
    uint64_t ns;
    int end = -1;
    cr_assert_null(nmt_ring_reserve_wait(r, 64, &w, 20000000, &ns, &end));
    cr_assert_eq(end, NMT_WAIT_STALLED);
    cr_assert_geq(ns, 20000000);
    cr_assert_null(nmt_ring_reserve_wait(r, 64, &w, 20000000, &ns, &end));
    cr_assert_eq(end, NMT_WAIT_STALLED);
    cr_assert_eq(ns, 0, "waited again for a consumer known to be stuck");
    /* The consumer moves (and frees room): waiting works again. */
    uint32_t len;
    cr_assert_not_null(nmt_ring_peek(r, &len));
    nmt_ring_release(r);
    nmt_wake_passed(&w);
    cr_assert_not_null(nmt_ring_reserve_wait(r, 64, &w, 20000000, &ns, &end));
    cr_assert_eq(end, NMT_WAIT_ROOM);
    cr_assert_eq(atomic_load(&w.waiters), 0);
    free(r);
}

struct closing {
    struct nmt_ring *r;
    struct nmt_wake w;
    int end;
};

static void *wait_forever(void *arg)
{
    struct closing *c = arg;
    uint64_t ns;
    void *p = nmt_ring_reserve_wait(c->r, 64, &c->w, 3600ull * 1000000000, &ns, &c->end);
    cr_assert_null(p);
    return NULL;
}

Test(wake, closing_releases_waiters, .timeout = 60)
{
    /* A consumer that stops serving must not leave producers waiting. */
    struct closing c = {.r = full_ring(), .end = -1};
    nmt_wake_open(&c.w, 1);
    pthread_t t[3];
    for (int i = 0; i < 3; i++)
        cr_assert_eq(pthread_create(&t[i], NULL, wait_forever, &c), 0);
    while (atomic_load(&c.w.waiters) != 3)
        sched_yield();
    nmt_wake_beat(&c.w); /* alive, but it stops */
    nmt_wake_open(&c.w, 0);
    for (int i = 0; i < 3; i++)
        pthread_join(t[i], NULL);
    cr_assert_eq(c.end, NMT_WAIT_CLOSED);
    cr_assert_eq(atomic_load(&c.w.waiters), 0);
    free(c.r);
}
