/*
 * test_liveset.c: units for the set of live sampled pointers
 * (preload/nmt_liveset.h): membership, where a pointer is placed (its page's
 * bucket, neighbouring pages in neighbouring buckets, regions apart), the
 * hash buckets taking a crowded page and the page bucket's count of them,
 * the count at which a pointer is refused, and exactly one removal per
 * insertion with threads racing, in a heap crowded enough that half of each
 * page's samples overflow.
 */
#include <criterion/criterion.h>
#include <pthread.h>
#include <stdlib.h>

#include "../../preload/nmt_liveset.h"

static struct nmt_liveset *set_new(void)
{
    struct nmt_liveset *s = aligned_alloc(64, sizeof(struct nmt_liveset));
    cr_assert_not_null(s);
    for (uint32_t b = 0; b < NMT_LIVESET_BUCKETS; b++)
        for (int i = 0; i < NMT_LIVESET_WAYS; i++)
            atomic_init(&s->bucket[b].slot[i], 0);
    return s;
}

/* The bucket p is in, or -1. */
static int where(struct nmt_liveset *s, uintptr_t p)
{
    for (uint32_t b = 0; b < NMT_LIVESET_BUCKETS; b++)
        for (int i = 0; i < NMT_LIVESET_WAYS; i++)
            if (atomic_load(&s->bucket[b].slot[i]) == p)
                return (int)b;
    return -1;
}

#define HEAP 0x5555a0000000ull /* 64 MiB-aligned, as glibc's arenas are */

Test(liveset, insert_remove)
{
    struct nmt_liveset *s = set_new();
    void *p = (void *)(HEAP + 0x1230);
    cr_assert_eq(nmt_liveset_remove(s, p), 0, "absent: nothing removed");
    cr_assert_eq(nmt_liveset_insert(s, p), 0);
    cr_assert_eq(nmt_liveset_remove(s, (void *)(HEAP + 0x1240)), 0, "a neighbour is not p");
    cr_assert_eq(nmt_liveset_remove(s, p), 1);
    cr_assert_eq(nmt_liveset_remove(s, p), 0, "a second free of p finds nothing");
    cr_assert_eq(where(s, (uintptr_t)p), -1);
    free(s);
}

Test(liveset, neighbouring_pages_use_neighbouring_buckets)
{
    struct nmt_liveset *s = set_new();
    /* 64 blocks, one per page: a thread's samples spread over its heap. */
    int first = -1;
    for (uintptr_t k = 0; k < 64; k++) {
        uintptr_t p = HEAP + k * 4096 + 16 * (k % 7);
        cr_assert_eq(nmt_liveset_insert(s, (void *)p), 0);
        int b = where(s, p);
        cr_assert_eq((uint32_t)b, nmt_liveset_page_bucket(p), "page %lu: in its page's bucket",
                     (unsigned long)k);
        if (k == 0)
            first = b;
        else
            cr_assert_eq((uint32_t)b, (uint32_t)(first + (int)k) & (NMT_LIVESET_BUCKETS - 1),
                         "page %lu: the bucket after the previous page's", (unsigned long)k);
    }
    free(s);
}

Test(liveset, regions_start_apart)
{
    /* Page 0 of 64 regions of 64 MiB (each an arena's start): their page
     * buckets are not one and the same. */
    uint32_t seen[64];
    int distinct = 0;
    for (int r = 0; r < 64; r++) {
        uint32_t b = nmt_liveset_page_bucket(HEAP + ((uintptr_t)r << 26));
        int dup = 0;
        for (int j = 0; j < distinct; j++)
            dup |= seen[j] == b;
        if (!dup)
            seen[distinct++] = b;
    }
    cr_assert_geq(distinct, 56, "%d distinct buckets for 64 arenas' first pages", distinct);
}

/* The spill count of p's page bucket. */
static uintptr_t spill_of(struct nmt_liveset *s, uintptr_t p)
{
    return atomic_load(&s->bucket[nmt_liveset_page_bucket(p)].slot[NMT_LIVESET_SPILL]);
}

Test(liveset, crowded_page_overflows_to_hash_buckets)
{
    struct nmt_liveset *s = set_new();
    /* 20 live samples on one page: 7 in its bucket, the rest in hash buckets,
     * which the page bucket counts. */
    uintptr_t base = HEAP + 0x7000;
    int in_page = 0;
    for (uintptr_t k = 0; k < 20; k++) {
        uintptr_t p = base + k * 32;
        cr_assert_eq(nmt_liveset_insert(s, (void *)p), 0, "sample %lu", (unsigned long)k);
        int b = where(s, p);
        if ((uint32_t)b == nmt_liveset_page_bucket(p))
            in_page++;
        else
            cr_assert_geq(b, (int)NMT_LIVESET_HALF, "sample %lu: an overflow in the hash half",
                          (unsigned long)k);
    }
    cr_assert_eq(in_page, NMT_LIVESET_PAGE_WAYS);
    cr_assert_eq(spill_of(s, base), 20 - NMT_LIVESET_PAGE_WAYS);
    for (uintptr_t k = 0; k < 20; k++)
        cr_assert(nmt_liveset_has(s, (void *)(base + k * 32)), "sample %lu", (unsigned long)k);
    cr_assert_not(nmt_liveset_has(s, (void *)(base + 20 * 32)), "a neighbour");
    /* Every one is found and removed exactly once, in any order; the count
     * goes back to 0 (checked with every other slot below). */
    for (uintptr_t k = 20; k-- > 0;)
        cr_assert_eq(nmt_liveset_remove(s, (void *)(base + k * 32)), 1);
    for (uint32_t b = 0; b < NMT_LIVESET_BUCKETS; b++)
        for (int i = 0; i < NMT_LIVESET_WAYS; i++)
            cr_assert_eq(atomic_load(&s->bucket[b].slot[i]), 0);
    free(s);
}

/* A search that misses p's page bucket reads the hash buckets only when the
 * page bucket's count says some of its pointers are there. */
Test(liveset, hash_buckets_read_only_when_counted)
{
    struct nmt_liveset *s = set_new();
    uintptr_t p = HEAP + 0x5670;
    uint32_t b = nmt_liveset_candidate(p, 1);
    atomic_store(&s->bucket[b].slot[2], p); /* there, but not counted */
    cr_assert_not(nmt_liveset_has(s, (void *)p));
    cr_assert_eq(nmt_liveset_remove(s, (void *)p), 0);
    atomic_store(&s->bucket[nmt_liveset_page_bucket(p)].slot[NMT_LIVESET_SPILL], 1);
    cr_assert(nmt_liveset_has(s, (void *)p));
    cr_assert_eq(nmt_liveset_remove(s, (void *)p), 1);
    cr_assert_eq(spill_of(s, p), 0, "the removal from a hash bucket took its count back");
    cr_assert_eq(atomic_load(&s->bucket[b].slot[2]), 0);
    free(s);
}

/* The free path's two steps (nmt_hooks.c: free_marked, free_sample):
 * locate says where p is, and take removes it from there, once, taking the
 * page bucket's count back when p was in a hash bucket. */
Test(liveset, locate_then_take)
{
    struct nmt_liveset *s = set_new();
    uintptr_t base = HEAP + 0x9000;
    for (uintptr_t k = 0; k < NMT_LIVESET_PAGE_WAYS + 1; k++)
        cr_assert_eq(nmt_liveset_insert(s, (void *)(base + k * 32)), 0);
    int k;
    cr_assert_null(nmt_liveset_locate(s, (void *)(base + 0x800), &k), "a neighbour");
    /* The first in its page's bucket, the last in a hash bucket. */
    uintptr_t first = base, last = base + NMT_LIVESET_PAGE_WAYS * 32;
    _Atomic uintptr_t *slot = nmt_liveset_locate(s, (void *)first, &k);
    cr_assert_not_null(slot);
    cr_assert_eq(k, 0);
    cr_assert_eq(atomic_load(slot), first);
    _Atomic uintptr_t *spilled = nmt_liveset_locate(s, (void *)last, &k);
    cr_assert_not_null(spilled);
    cr_assert_gt(k, 0, "the eighth pointer of a page is in a hash bucket");
    cr_assert_eq((uint32_t)where(s, last), nmt_liveset_candidate(last, k));
    cr_assert_eq(spill_of(s, base), 1);
    /* A slot that no longer holds p (another free of p took it): nothing. */
    cr_assert_eq(nmt_liveset_take(s, (void *)first, slot, 0), 1);
    cr_assert_eq(nmt_liveset_take(s, (void *)first, slot, 0), 0);
    cr_assert_eq(nmt_liveset_take(s, (void *)last, spilled, k), 1);
    cr_assert_eq(spill_of(s, base), 0, "the hash bucket's removal took its count back");
    cr_assert_eq(nmt_liveset_take(s, (void *)last, spilled, k), 0);
    cr_assert_eq(spill_of(s, base), 0, "a failed take leaves the count alone");
    cr_assert_eq(where(s, first), -1);
    cr_assert_eq(where(s, last), -1);
    free(s);
}

Test(liveset, refused_only_when_all_candidates_are_full)
{
    struct nmt_liveset *s = set_new();
    uintptr_t p = HEAP + 0x3450;
    /* Fill p's three candidate buckets with other pointers. */
    for (int k = 0; k < NMT_LIVESET_CANDIDATES; k++) {
        uint32_t b = nmt_liveset_candidate(p, k);
        for (int i = 0; i < NMT_LIVESET_WAYS; i++)
            atomic_store(&s->bucket[b].slot[i], (uintptr_t)0x1000 + 16u * (unsigned)(k * 8 + i));
    }
    uintptr_t spill = spill_of(s, p);
    cr_assert_eq(nmt_liveset_insert(s, (void *)p), -1);
    cr_assert_eq(where(s, p), -1);
    cr_assert_eq(spill_of(s, p), spill, "a refused pointer left a count");
    /* One free slot in the last candidate is enough. */
    atomic_store(&s->bucket[nmt_liveset_candidate(p, NMT_LIVESET_CANDIDATES - 1)].slot[3], 0);
    cr_assert_eq(nmt_liveset_insert(s, (void *)p), 0);
    cr_assert_eq(nmt_liveset_remove(s, (void *)p), 1);
    free(s);
}

/* Two threads insert the same pointers in turn and race to remove them:
 * each insertion is removed exactly once (a double free is harmless). */
#define RACE_PTRS  4096
#define RACE_LOOPS 50
struct race {
    struct nmt_liveset *s;
    _Atomic int removed[RACE_PTRS];
    pthread_barrier_t go;
};

static uintptr_t race_ptr(int i)
{
    return HEAP + (uintptr_t)(i / 16) * 4096 + (uintptr_t)(i % 16) * 64; /* 16 per page */
}

static void *race_remover(void *arg)
{
    struct race *r = arg;
    for (int loop = 0; loop < RACE_LOOPS; loop++) {
        pthread_barrier_wait(&r->go);
        for (int i = 0; i < RACE_PTRS; i++)
            if (nmt_liveset_remove(r->s, (void *)race_ptr(i)))
                atomic_fetch_add(&r->removed[i], 1);
        pthread_barrier_wait(&r->go);
    }
    return NULL;
}

Test(liveset, each_insertion_removed_once_under_races)
{
    static struct race r;
    r.s = set_new();
    pthread_barrier_init(&r.go, NULL, 3);
    pthread_t t[2];
    for (int k = 0; k < 2; k++)
        pthread_create(&t[k], NULL, race_remover, &r);
    for (int loop = 0; loop < RACE_LOOPS; loop++) {
        for (int i = 0; i < RACE_PTRS; i++)
            cr_assert_eq(nmt_liveset_insert(r.s, (void *)race_ptr(i)), 0, "loop %d, pointer %d",
                         loop, i);
        pthread_barrier_wait(&r.go); /* both remove */
        pthread_barrier_wait(&r.go);
        for (int i = 0; i < RACE_PTRS; i++)
            cr_assert_eq(atomic_exchange(&r.removed[i], 0), 1, "loop %d, pointer %d", loop, i);
    }
    for (int k = 0; k < 2; k++)
        pthread_join(t[k], NULL);
    /* Every slot empty again, the page buckets' counts of their overflows
     * among them: each removal from a hash bucket took its count back once. */
    for (uint32_t b = 0; b < NMT_LIVESET_BUCKETS; b++)
        for (int i = 0; i < NMT_LIVESET_WAYS; i++)
            cr_assert_eq(atomic_load(&r.s->bucket[b].slot[i]), 0, "bucket %u slot %d", b, i);
    pthread_barrier_destroy(&r.go);
    free(r.s);
}
