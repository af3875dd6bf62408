/*
 * test_addrfilter.c: units for the sampled-pointer filter
 * (preload/nmt_addrfilter.h): no false negatives, counting, saturation,
 * pinning, the page index, and the false-positive rate the header
 * documents.
 */
#include <criterion/criterion.h>
#include <math.h>
#include <pthread.h>
#include <stdlib.h>

#include "../../preload/nmt_addrfilter.h"

static struct nmt_addrfilter *filter_new(void)
{
    struct nmt_addrfilter *f = calloc(1, sizeof(*f));
    cr_assert_not_null(f);
    return f;
}

Test(addrfilter, add_sub_maybe)
{
    struct nmt_addrfilter *f = filter_new();
    void *p = (void *)0x7f0012345670ull;
    cr_assert_not(nmt_addrfilter_maybe(f, p));
    nmt_addrfilter_add(f, p);
    cr_assert(nmt_addrfilter_maybe(f, p));
    nmt_addrfilter_add(f, p); /* the same address sampled twice (reuse) */
    nmt_addrfilter_sub(f, p);
    cr_assert(nmt_addrfilter_maybe(f, p));
    nmt_addrfilter_sub(f, p);
    cr_assert_not(nmt_addrfilter_maybe(f, p));
    free(f);
}

Test(addrfilter, sub_never_underflows)
{
    struct nmt_addrfilter *f = filter_new();
    void *p = (void *)0x5550000ull;
    nmt_addrfilter_sub(f, p);
    cr_assert_eq(f->count[nmt_addrfilter_slot(p)], 0);
    nmt_addrfilter_add(f, p);
    nmt_addrfilter_sub(f, p);
    nmt_addrfilter_sub(f, p);
    cr_assert_eq(f->count[nmt_addrfilter_slot(p)], 0);
    cr_assert_not(nmt_addrfilter_maybe(f, p));
    free(f);
}

Test(addrfilter, no_false_negatives)
{
    struct nmt_addrfilter *f = filter_new();
    enum { N = 100000 };
    uint64_t *ptrs = malloc(N * sizeof(*ptrs));
    uint64_t x = 0x123456789ull;
    for (int i = 0; i < N; i++) {
        x = x * 6364136223846793005ull + 1442695040888963407ull;
        ptrs[i] = (x >> 16) << 4;
        nmt_addrfilter_add(f, (void *)ptrs[i]);
    }
    for (int i = 0; i < N; i++)
        cr_assert(nmt_addrfilter_maybe(f, (void *)ptrs[i]));
    /* Removing half keeps the other half visible. */
    for (int i = 0; i < N; i += 2)
        nmt_addrfilter_sub(f, (void *)ptrs[i]);
    for (int i = 1; i < N; i += 2)
        cr_assert(nmt_addrfilter_maybe(f, (void *)ptrs[i]));
    for (int i = 1; i < N; i += 2)
        nmt_addrfilter_sub(f, (void *)ptrs[i]);
    for (uint32_t s = 0; s < NMT_ADDRFILTER_SLOTS; s++)
        cr_assert_eq(f->count[s], 0);
    free(ptrs);
    free(f);
}

Test(addrfilter, neighbouring_chunks_spread)
{
    /* Consecutive 16-byte chunks, as a bump allocator hands them out, must
     * not collide: they land in distinct slots. */
    struct nmt_addrfilter *f = filter_new();
    uint64_t base = 0x7f3a00000000ull;
    for (uint64_t i = 0; i < 4096; i++) {
        uint32_t s = nmt_addrfilter_slot((void *)(base + 16 * i));
        cr_assert_eq(f->count[s], 0, "chunk %lu collides", i);
        nmt_addrfilter_add(f, (void *)(base + 16 * i));
    }
    free(f);
}

/* The slot level's locality: a page's 256 granules are 256 neighbouring
 * bytes of the table (4 cache lines), so the frees of a sample's neighbours
 * read lines that are already cached. */
Test(addrfilter, a_page_is_four_cache_lines_of_slots)
{
    uint64_t page = 0x7f3a5678a000ull;
    uint32_t first = nmt_addrfilter_slot((void *)page);
    for (uint64_t off = 0; off < 4096; off += 16)
        cr_assert_eq(nmt_addrfilter_slot((void *)(page + off)), first + off / 16);
    cr_assert_eq(first % 256, 0);
}

static void check_false_positive_rate(unsigned live)
{
    struct nmt_addrfilter *f = filter_new();
    uint64_t x = 77;
    for (unsigned i = 0; i < live; i++) {
        x = x * 6364136223846793005ull + 1442695040888963407ull;
        nmt_addrfilter_add(f, (void *)((x >> 20) << 4));
    }
    /* Other 16-aligned addresses in a heap-like range. */
    unsigned hits = 0, n = 200000;
    for (unsigned i = 0; i < n; i++)
        hits += nmt_addrfilter_maybe(f, (void *)(0x555500000000ull + 48ull * i));
    /* The pointer level alone gives 1 - exp(-L / slots); the page level in
     * front can only lower it (a hit needs both levels). */
    double expect = 1.0 - exp(-(double)live / NMT_ADDRFILTER_SLOTS);
    double got = (double)hits / n;
    cr_assert(got < 1.1 * expect + 0.002, "live %u: fp %.4f, bound %.4f", live, got, expect);
    free(f);
}

/* A page holding no live sample answers "certainly not" at the first level,
 * whatever the pointer level says. */
Test(addrfilter, page_level_filters_first)
{
    struct nmt_addrfilter *f = filter_new();
    void *sampled = (void *)0x7f0000001010ull;
    nmt_addrfilter_add(f, sampled);
    cr_assert(nmt_addrfilter_maybe(f, sampled));
    unsigned hits = 0;
    for (uint64_t i = 1; i < 4096; i++)
        hits += nmt_addrfilter_maybe(f, (void *)(0x7f0000001010ull + (i << 12)));
    cr_assert_eq(hits, 0, "%u frees on other pages said maybe", hits);
    nmt_addrfilter_sub(f, sampled);
    cr_assert(!nmt_addrfilter_maybe(f, sampled));
    free(f);
}

Test(addrfilter, false_positive_rate_as_documented)
{
    check_false_positive_rate(1000);
    check_false_positive_rate(100000);
}

struct adder {
    struct nmt_addrfilter *f;
    uint64_t base;
};

/* Each address is added and removed in turn, so every counter stays far
 * below saturation; a lost update would leave a counter off by one. */
static void *add_sub_many(void *arg)
{
    struct adder *a = arg;
    for (uint64_t i = 0; i < 200000; i++) {
        nmt_addrfilter_add(a->f, (void *)(a->base + 16 * (i % 64)));
        if (i >= 64)
            nmt_addrfilter_sub(a->f, (void *)(a->base + 16 * ((i - 64) % 64)));
    }
    return NULL;
}

Test(addrfilter, concurrent_updates_are_not_lost)
{
    struct nmt_addrfilter *f = filter_new();
    struct adder a = {f, 0x10000000ull}, b = {f, 0x10000000ull};
    pthread_t t1, t2;
    pthread_create(&t1, NULL, add_sub_many, &a);
    pthread_create(&t2, NULL, add_sub_many, &b);
    pthread_join(t1, NULL);
    pthread_join(t2, NULL);
    /* Each thread leaves its last 64 adds: 128 in all, two per address. */
    uint64_t total = 0;
    for (uint32_t s = 0; s < NMT_ADDRFILTER_SLOTS; s++)
        total += f->count[s];
    cr_assert_eq(total, 128);
    cr_assert_eq(f->page[nmt_addrfilter_page((void *)0x10000000ull)], 128);
    free(f);
}

/* A counter that reached 255 has lost count: it must stay "maybe" however
 * many subs follow, or a pointer still live would be missed. */
Test(addrfilter, saturated_counters_stay_maybe)
{
    struct nmt_addrfilter *f = filter_new();
    void *p = (void *)0x7f0012345670ull;
    for (int i = 0; i < 300; i++)
        nmt_addrfilter_add(f, p);
    cr_assert_eq(f->count[nmt_addrfilter_slot(p)], NMT_ADDRFILTER_SATURATED);
    cr_assert_eq(f->page[nmt_addrfilter_page(p)], NMT_ADDRFILTER_SATURATED);
    for (int i = 0; i < 300; i++)
        nmt_addrfilter_sub(f, p);
    cr_assert(nmt_addrfilter_maybe(f, p));
    free(f);
}

/* The fast path's page level: one byte per page, neighbouring pages in
 * neighbouring bytes, pages 4 GiB apart sharing one (a "maybe", never a
 * miss). */
Test(addrfilter, page_index_is_the_page_number_in_4_gib)
{
    uint64_t base = 0x7f3a12345000ull;
    for (uint64_t i = 0; i < 1000; i++)
        cr_assert_eq(nmt_addrfilter_page((void *)(base + (i << 12))),
                     nmt_addrfilter_page((void *)base) + i);
    cr_assert_eq(nmt_addrfilter_page((void *)(base + 4095)), nmt_addrfilter_page((void *)base));
    cr_assert_eq(nmt_addrfilter_page((void *)(base + (1ull << 32))),
                 nmt_addrfilter_page((void *)base));
    cr_assert_lt(nmt_addrfilter_page((void *)UINTPTR_MAX), NMT_ADDRFILTER_PAGES);
}

/* A pinned range answers "maybe" at the page level on every page, before and
 * after any add and sub on it, and leaves its neighbours alone. */
Test(addrfilter, pinned_pages_stay_maybe)
{
    struct nmt_addrfilter *f = filter_new();
    uint64_t lo = 0x7f0000100040ull, len = 5 * 4096 + 100;
    nmt_addrfilter_pin(f, (void *)lo, len);
    for (uint64_t a = lo; a < lo + len; a += 512)
        cr_assert(nmt_addrfilter_page_maybe(f, (void *)a), "%#lx", (unsigned long)a);
    cr_assert(nmt_addrfilter_page_maybe(f, (void *)(lo + len - 1)));
    cr_assert_not(nmt_addrfilter_page_maybe(f, (void *)(lo - 0x41)));
    cr_assert_not(nmt_addrfilter_page_maybe(f, (void *)((lo + len + 4095) & ~4095ull)));
    void *p = (void *)(lo + 4096);
    nmt_addrfilter_add(f, p);
    nmt_addrfilter_sub(f, p);
    nmt_addrfilter_sub(f, p);
    cr_assert(nmt_addrfilter_page_maybe(f, p));
    cr_assert_not(nmt_addrfilter_maybe(f, p), "the slot level still filters");
    free(f);
}
