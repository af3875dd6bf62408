/*
 * tsan_ring.c: the per-thread SPSC ring (preload/nmt_ring.h) between a
 * producer thread and a consumer, built with ThreadSanitizer (NMT_TSAN).
 * Criterion cannot run under TSan (its shared arena is mapped where TSan
 * keeps its own memory), so this is a plain program: exit 0 when every record
 * arrived in order and whole, 1 otherwise; TSan makes a data race fatal.
 * The consumer alternates between record-by-record reads (peek/release) and
 * batches (nmt_ring_next/nmt_ring_release_to), as the writer does.
 */
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>

#include "../../preload/nmt_ring.h"

#define RECORDS 200000u

/* A record of 1 + (seq % 13) words, each word seq * 16 + its index. */
static uint32_t words_of(uint64_t seq)
{
    return 1 + (uint32_t)(seq % 13);
}

static void *producer(void *arg)
{
    struct nmt_ring *r = arg;
    for (uint64_t seq = 0; seq < RECORDS; seq++) {
        uint32_t n = words_of(seq);
        uint64_t *w;
        while ((w = nmt_ring_reserve(r, n * 8)) == NULL)
            sched_yield();
        for (uint32_t i = 0; i < n; i++)
            w[i] = seq * 16 + i;
        nmt_ring_commit(r);
    }
    return NULL;
}

/* 1 when w[0..len) is record seq, whole. */
static int check(uint64_t seq, const uint64_t *w, uint32_t len)
{
    if (len != words_of(seq) * 8) {
        fprintf(stderr, "tsan_ring: record %lu has %u bytes, want %u\n", (unsigned long)seq, len,
                words_of(seq) * 8);
        return 0;
    }
    for (uint32_t i = 0; i < len / 8; i++)
        if (w[i] != seq * 16 + i) {
            fprintf(stderr, "tsan_ring: record %lu torn at word %u\n", (unsigned long)seq, i);
            return 0;
        }
    return 1;
}

int main(void)
{
    /* Small, so that the producer wraps and finds the ring full often. */
    uint32_t cap = 1u << 10;
    struct nmt_ring *r = aligned_alloc(NMT_RING_CACHELINE, nmt_ring_footprint(cap));
    pthread_t t;
    if (r == NULL)
        return 1;
    nmt_ring_init(r, cap);
    if (pthread_create(&t, NULL, producer, r) != 0)
        return 1;
    for (uint64_t seq = 0; seq < RECORDS;) {
        uint32_t len;
        const uint64_t *w;
        if ((seq / 1000) % 2) {
            uint64_t pos = nmt_ring_position(r), end = nmt_ring_committed(r);
            while ((w = nmt_ring_next(r, &pos, end, &len)) != NULL) {
                if (!check(seq, w, len))
                    return 1;
                seq++;
            }
            nmt_ring_release_to(r, pos);
            sched_yield();
            continue;
        }
        w = nmt_ring_peek(r, &len);
        if (w == NULL) {
            sched_yield();
            continue;
        }
        if (!check(seq, w, len))
            return 1;
        nmt_ring_release(r);
        seq++;
    }
    pthread_join(t, NULL);
    free(r);
    printf("tsan_ring: %u records in order\n", RECORDS);
    return 0;
}
