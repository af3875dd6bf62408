/*
 * test_hindex.c: the hash index of report/model/nmr_hindex.h: ids found
 * through many growths, absent keys not found, keys that share a hash told
 * apart by the caller's test, an entry replaced by a newer one of the same
 * key, and a failed growth that leaves the index as it was. The keys live in the test's array, as
 * they do in nmreport's.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdlib.h>

#include "../recorder/failalloc.h"
#include "nmc_hash.h"
#include "nmr_hindex.h"

/* The id of key in keys[] under hash h, or SIZE_MAX when absent. */
static size_t find(const struct nmr_hindex *ix, const uint64_t *keys, uint64_t h, uint64_t key)
{
    struct nmr_hfind f = nmr_hindex_find(ix, h);
    size_t id;
    while (nmr_hfind_next(&f, &id))
        if (keys[id] == key)
            return id;
    return SIZE_MAX;
}

/* Adds keys[0..n) under hash(key); returns how many growths it saw. */
static unsigned add_all(struct nmr_hindex *ix, const uint64_t *keys, size_t n,
                        uint64_t (*hash)(uint64_t))
{
    unsigned growths = 0;
    for (size_t i = 0; i < n; i++) {
        size_t before = ix->nslots;
        cr_assert_eq(find(ix, keys, hash(keys[i]), keys[i]), SIZE_MAX);
        cr_assert_eq(nmr_hindex_add(ix, hash(keys[i]), i), 0);
        growths += ix->nslots != before;
        cr_assert_leq(ix->n * 2, ix->nslots, "more than half full");
    }
    return growths;
}

static uint64_t mixed(uint64_t k)
{
    return nmc_mix64(k);
}

/* Four hashes for every key: each probe meets many ids of its hash. */
static uint64_t crowded(uint64_t k)
{
    return k % 4;
}

Test(hindex, empty_finds_nothing)
{
    struct nmr_hindex ix = {0};
    uint64_t keys[1] = {7};
    cr_assert_eq(find(&ix, keys, nmc_mix64(7), 7), SIZE_MAX);
    nmr_hindex_free(&ix);
    nmr_hindex_free(&ix);
    cr_assert_null(ix.slots);
}

Test(hindex, many_adds_through_growths)
{
    enum { N = 100000 };
    uint64_t *keys = malloc(N * sizeof(*keys));
    cr_assert_not_null(keys);
    for (size_t i = 0; i < N; i++)
        keys[i] = i * 0x10; /* aligned like addresses: low bits all zero */
    struct nmr_hindex ix = {0};
    cr_assert_geq(add_all(&ix, keys, N, mixed), 5);
    cr_assert_eq(ix.n, N);
    cr_assert_eq(ix.nslots & (ix.nslots - 1), 0, "a power of two");
    for (size_t i = 0; i < N; i++)
        cr_assert_eq(find(&ix, keys, nmc_mix64(keys[i]), keys[i]), i);
    for (uint64_t k = 1; k < 2 * N; k += 0x10) /* not multiples of 0x10 */
        cr_assert_eq(find(&ix, keys, nmc_mix64(k), k), SIZE_MAX);
    nmr_hindex_free(&ix);
    cr_assert_eq(ix.n, 0);
    free(keys);
}

Test(hindex, shared_hashes_told_apart_by_the_caller)
{
    enum { N = 2000 };
    uint64_t keys[N];
    for (size_t i = 0; i < N; i++)
        keys[i] = i;
    struct nmr_hindex ix = {0};
    add_all(&ix, keys, N, crowded);
    for (size_t i = 0; i < N; i++)
        cr_assert_eq(find(&ix, keys, crowded(keys[i]), keys[i]), i);
    cr_assert_eq(find(&ix, keys, crowded(N + 1), N + 1), SIZE_MAX);
    /* A walk yields every id of its hash once, and only those. */
    size_t seen = 0, id;
    struct nmr_hfind f = nmr_hindex_find(&ix, 3);
    while (nmr_hfind_next(&f, &id)) {
        cr_assert_eq(keys[id] % 4, 3);
        seen++;
    }
    cr_assert_eq(seen, N / 4);
    nmr_hindex_free(&ix);
}

Test(hindex, a_newer_entry_replaces_its_key)
{
    enum { N = 300 };
    uint64_t keys[2 * N];
    for (size_t i = 0; i < N; i++)
        keys[i] = keys[N + i] = i; /* entry N + i: a newer one of key i */
    struct nmr_hindex ix = {0};
    add_all(&ix, keys, N, crowded);
    for (size_t i = 0; i < N; i += 2) {
        struct nmr_hfind f = nmr_hindex_find(&ix, crowded(i));
        size_t id;
        while (nmr_hfind_next(&f, &id) && keys[id] != i)
            ;
        cr_assert_eq(id, i);
        nmr_hindex_replace(&ix, &f, N + i);
    }
    cr_assert_eq(ix.n, N);
    for (size_t i = 0; i < N; i++)
        cr_assert_eq(find(&ix, keys, crowded(i), i), i % 2 ? i : N + i);
    nmr_hindex_free(&ix);
}

Test(hindex, failed_growth_is_an_error_and_changes_nothing)
{
    if (!FAILALLOC_ENABLED)
        cr_skip_test("allocation failure injection is off under AddressSanitizer");
    enum { N = 5000 };
    uint64_t keys[N];
    for (size_t i = 0; i < N; i++)
        keys[i] = i;
    struct nmr_hindex ix = {0};
    unsigned fails = 0;
    /* Every add may grow; make each one's first allocation fail. */
    for (size_t i = 0; i < N; i++) {
        size_t n = ix.n, nslots = ix.nslots;
        failalloc_after = 0;
        int rc = nmr_hindex_add(&ix, nmc_mix64(keys[i]), i);
        failalloc_after = -1;
        if (rc) {
            cr_assert_eq(rc, -ENOMEM);
            cr_assert_eq(ix.n, n);
            cr_assert_eq(ix.nslots, nslots);
            cr_assert_eq(find(&ix, keys, nmc_mix64(keys[i]), keys[i]), SIZE_MAX);
            fails++;
            rc = nmr_hindex_add(&ix, nmc_mix64(keys[i]), i);
        }
        cr_assert_eq(rc, 0);
    }
    cr_assert_geq(fails, 5, "the first allocation and every growth failed once");
    for (size_t i = 0; i < N; i++)
        cr_assert_eq(find(&ix, keys, nmc_mix64(keys[i]), keys[i]), i);
    nmr_hindex_free(&ix);
}

Test(hindex, sizes_past_its_limits_are_an_error)
{
    struct nmr_hindex ix = {0};
    uint64_t keys[1] = {5};
    /* An id a slot cannot hold. */
    cr_assert_eq(nmr_hindex_add(&ix, 5, (size_t)UINT32_MAX), -ENOMEM);
    cr_assert_eq(ix.n, 0);
    cr_assert_eq(nmr_hindex_add(&ix, 5, 0), 0);
    cr_assert_eq(find(&ix, keys, 5, 5), 0);
    nmr_hindex_free(&ix);
    /* A half-full index of 2^60 slots: doubling their bytes overflows
     * size_t, which the add finds before it touches a slot. */
    size_t nslots = (SIZE_MAX >> 4) + 1;
    struct nmr_hindex huge = {NULL, nslots, nslots / 2};
    cr_assert_eq(nmr_hindex_add(&huge, 1, 0), -ENOMEM);
    cr_assert_eq(huge.n, nslots / 2);
}
