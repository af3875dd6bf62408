/*
 * test_addrfilter.c: units for the sampled-pointer filter
 * (preload/nmt_addrfilter.h): no false negatives, counting, saturation,
 * pinning, the page index, and that only a marked page says maybe.
 */
#include <criterion/criterion.h>
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
    cr_assert_not(nmt_addrfilter_page_maybe(f, p));
    nmt_addrfilter_add(f, p);
    cr_assert(nmt_addrfilter_page_maybe(f, p));
    nmt_addrfilter_add(f, p); /* the same address sampled twice (reuse) */
    nmt_addrfilter_sub(f, p);
    cr_assert(nmt_addrfilter_page_maybe(f, p));
    nmt_addrfilter_sub(f, p);
    cr_assert_not(nmt_addrfilter_page_maybe(f, p));
    free(f);
}

Test(addrfilter, sub_never_underflows)
{
    struct nmt_addrfilter *f = filter_new();
    void *p = (void *)0x5550000ull;
    nmt_addrfilter_sub(f, p);
    cr_assert_eq(f->page[nmt_addrfilter_page(p)], 0);
    nmt_addrfilter_add(f, p);
    nmt_addrfilter_sub(f, p);
    nmt_addrfilter_sub(f, p);
    cr_assert_eq(f->page[nmt_addrfilter_page(p)], 0);
    cr_assert_not(nmt_addrfilter_page_maybe(f, p));
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
        cr_assert(nmt_addrfilter_page_maybe(f, (void *)ptrs[i]));
    /* Removing half keeps the other half visible. */
    for (int i = 0; i < N; i += 2)
        nmt_addrfilter_sub(f, (void *)ptrs[i]);
    for (int i = 1; i < N; i += 2)
        cr_assert(nmt_addrfilter_page_maybe(f, (void *)ptrs[i]));
    for (int i = 1; i < N; i += 2)
        nmt_addrfilter_sub(f, (void *)ptrs[i]);
    for (uint32_t pg = 0; pg < NMT_ADDRFILTER_PAGES; pg++)
        cr_assert_eq(f->page[pg], 0);
    free(ptrs);
    free(f);
}

/* A page holding no live sample answers "certainly not", however close the
 * sample's page. */
Test(addrfilter, only_marked_pages_say_maybe)
{
    struct nmt_addrfilter *f = filter_new();
    void *sampled = (void *)0x7f0000001010ull;
    nmt_addrfilter_add(f, sampled);
    cr_assert(nmt_addrfilter_page_maybe(f, sampled));
    unsigned hits = 0;
    for (uint64_t i = 1; i < 4096; i++)
        hits += nmt_addrfilter_page_maybe(f, (void *)(0x7f0000001010ull + (i << 12)));
    cr_assert_eq(hits, 0, "%u frees on other pages said maybe", hits);
    nmt_addrfilter_sub(f, sampled);
    cr_assert(!nmt_addrfilter_page_maybe(f, sampled));
    free(f);
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
    /* Each thread leaves its last 64 adds: 128 in all, on one page. */
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
    cr_assert_eq(f->page[nmt_addrfilter_page(p)], NMT_ADDRFILTER_SATURATED);
    for (int i = 0; i < 300; i++)
        nmt_addrfilter_sub(f, p);
    cr_assert(nmt_addrfilter_page_maybe(f, p));
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
    cr_assert(nmt_addrfilter_page_maybe(f, p), "a sub unpinned a pinned page");
    free(f);
}
