/*
 * test_ring.c: units for the per-thread SPSC ring (preload/nmt_ring.h):
 * order, padding at the end of the data, full and recovery, zero-length
 * records, and a two-thread stress run that checks every record.
 */
#include <criterion/criterion.h>
#include <pthread.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>

#include "../preload/nmt_ring.h"

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
