/*
 * test_stacktab.c: units for stack interning (preload/nmt_stacktab.c):
 * ids in order of first appearance, exact frame comparison, stable pointers,
 * a million distinct stacks, per-stack totals, and allocation failure; the
 * recent-stack comparison (and the totals of the stack interned last)
 * against a plain model. Also built as test_stacktab_collide with a 2-bit
 * hash (NMT_STACKTAB_TEST_HASH_BITS), where distinct stacks must share hashes
 * and still get distinct ids.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "failalloc.h"
#include "../../preload/nmt_stacktab.h"

static uint64_t lcg(uint64_t *x)
{
    *x = *x * 6364136223846793005ull + 1442695040888963407ull;
    return *x >> 11;
}

Test(stacktab, ids_in_order_of_first_appearance)
{
    struct nmt_stacktab t;
    cr_assert_eq(nmt_stacktab_init(&t), 0);
    uint64_t a[] = {0x401000, 0x402000, 0x403000};
    uint64_t b[] = {0x401000, 0x402000};
    uint64_t c[] = {0x401000, 0x402000, 0x403001};
    int is_new;
    cr_assert_eq(nmt_stacktab_intern(&t, a, 3, &is_new), 1);
    cr_assert_eq(is_new, 1);
    cr_assert_eq(nmt_stacktab_intern(&t, b, 2, &is_new), 2);
    cr_assert_eq(is_new, 1);
    cr_assert_eq(nmt_stacktab_intern(&t, a, 3, &is_new), 1);
    cr_assert_eq(is_new, 0);
    cr_assert_eq(nmt_stacktab_intern(&t, c, 3, &is_new), 3);
    cr_assert_eq(nmt_stacktab_intern(&t, b, 2, NULL), 2);
    cr_assert_eq(nmt_stacktab_intern(&t, NULL, 0, &is_new), 4);
    cr_assert_eq(is_new, 1);
    cr_assert_eq(nmt_stacktab_intern(&t, NULL, 0, &is_new), 4);
    cr_assert_eq(is_new, 0);
    cr_assert_eq(nmt_stacktab_count(&t), 4);

    uint32_t n;
    const uint64_t *f = nmt_stacktab_frames(&t, 3, &n);
    cr_assert_eq(n, 3);
    cr_assert_arr_eq(f, c, sizeof(c));
    cr_assert_neq(f, c, "frames must be copied");
    cr_assert_null(nmt_stacktab_frames(&t, 0, &n));
    cr_assert_null(nmt_stacktab_frames(&t, 5, &n));
    cr_assert_null(nmt_stacktab_totals(&t, 0));
    cr_assert_null(nmt_stacktab_totals(&t, 5));
    nmt_stacktab_destroy(&t);
}

Test(stacktab, totals)
{
    struct nmt_stacktab t;
    cr_assert_eq(nmt_stacktab_init(&t), 0);
    uint64_t f = 0x1234;
    uint32_t id = nmt_stacktab_intern(&t, &f, 1, NULL);
    struct nmt_stack_totals *tot = nmt_stacktab_totals(&t, id);
    cr_assert_not_null(tot);
    cr_assert_eq(tot->live_bytes, 0.0);
    cr_assert_eq(tot->reserved, 0);
    tot->live_bytes += 100;
    tot->committed -= 4096;
    cr_assert_eq(nmt_stacktab_totals(&t, id)->live_bytes, 100.0);
    cr_assert_eq(nmt_stacktab_totals(&t, id)->committed, -4096);
    nmt_stacktab_destroy(&t);
}

Test(stacktab, a_million_distinct_stacks, .timeout = 120)
{
#ifdef NMT_STACKTAB_TEST_HASH_BITS
    cr_skip_test("quadratic with a colliding hash");
#endif
    enum { N = 1000000 };
    struct nmt_stacktab t;
    cr_assert_eq(nmt_stacktab_init(&t), 0);
    uint64_t frames[64];
    struct nmt_stack_totals *first = NULL;
    /* Stacks share long common prefixes, as real ones do. */
    for (uint32_t i = 0; i < N; i++) {
        uint64_t y = i;
        uint32_t n = 1 + (uint32_t)(lcg(&y) % 64);
        for (uint32_t k = 0; k < n; k++)
            frames[k] = k + 1 < n ? 0x400000 + k * 16 : 0x7f0000000000ull + i;
        int is_new;
        uint32_t id = nmt_stacktab_intern(&t, frames, n, &is_new);
        cr_assert_eq(id, i + 1);
        cr_assert(is_new);
        if (i == 0) {
            first = nmt_stacktab_totals(&t, 1);
            first->alloc_samples = 77;
        }
    }
    cr_assert_eq(nmt_stacktab_count(&t), N);
    cr_assert_eq(nmt_stacktab_totals(&t, 1), first, "totals moved while the table grew");
    cr_assert_eq(first->alloc_samples, 77);
    /* Everything is found again with the same id and the same frames. */
    for (uint32_t i = 0; i < N; i++) {
        uint64_t y = i;
        uint32_t n = 1 + (uint32_t)(lcg(&y) % 64);
        for (uint32_t k = 0; k < n; k++)
            frames[k] = k + 1 < n ? 0x400000 + k * 16 : 0x7f0000000000ull + i;
        int is_new;
        cr_assert_eq(nmt_stacktab_intern(&t, frames, n, &is_new), i + 1);
        cr_assert_not(is_new);
        uint32_t got;
        const uint64_t *f = nmt_stacktab_frames(&t, i + 1, &got);
        cr_assert_eq(got, n);
        cr_assert_eq(memcmp(f, frames, n * 8), 0);
    }
    nmt_stacktab_destroy(&t);
}

Test(stacktab, long_stack_gets_its_own_chunk)
{
    struct nmt_stacktab t;
    cr_assert_eq(nmt_stacktab_init(&t), 0);
    uint32_t n = 200000;
    uint64_t *big = malloc(n * sizeof(*big));
    for (uint32_t i = 0; i < n; i++)
        big[i] = i * 3;
    uint64_t small = 5;
    cr_assert_eq(nmt_stacktab_intern(&t, &small, 1, NULL), 1);
    cr_assert_eq(nmt_stacktab_intern(&t, big, n, NULL), 2);
    cr_assert_eq(nmt_stacktab_intern(&t, &small, 1, NULL), 1);
    small = 6;
    cr_assert_eq(nmt_stacktab_intern(&t, &small, 1, NULL), 3);
    uint32_t got;
    cr_assert_eq(memcmp(nmt_stacktab_frames(&t, 2, &got), big, n * 8), 0);
    cr_assert_eq(got, n);
    free(big);
    nmt_stacktab_destroy(&t);
}

Test(stacktab, allocation_failure_leaves_table_usable)
{
    if (!FAILALLOC_ENABLED)
        cr_skip_test("allocation failure injection is off under AddressSanitizer");
#ifdef NMT_STACKTAB_TEST_HASH_BITS
    cr_skip_test("quadratic with a colliding hash");
#endif
    struct nmt_stacktab t;
    cr_assert_eq(nmt_stacktab_init(&t), 0);
    uint64_t f[4] = {1, 2, 3, 0};
    uint32_t next = 1, fails = 0;
    /* Fail every kind of allocation in turn: index growth, a new entry
     * segment, a new frame chunk. A failed intern returns 0 and changes
     * nothing; the same stack interns fine afterwards. */
    for (uint32_t i = 0; i < 20000; i++) {
        f[3] = i;
        failalloc_after = 0;
        uint32_t id = nmt_stacktab_intern(&t, f, 4, NULL);
        failalloc_after = -1;
        if (id == 0) {
            fails++;
            cr_assert_eq(nmt_stacktab_count(&t), next - 1);
            id = nmt_stacktab_intern(&t, f, 4, NULL);
        }
        cr_assert_eq(id, next);
        next++;
    }
    cr_assert_geq(fails, 5);
    for (uint32_t i = 0; i < 20000; i++) {
        f[3] = i;
        cr_assert_eq(nmt_stacktab_intern(&t, f, 4, NULL), i + 1);
    }
    nmt_stacktab_destroy(&t);

    failalloc_after = 0;
    cr_assert_eq(nmt_stacktab_init(&t), -ENOMEM);
    failalloc_after = -1;
}

/* Stacks that share everything but their last frame, or are prefixes of one
 * another, interned in a random order that revisits them (so that most are
 * found among the recent ids and some are not): every id is the one a plain
 * list in order of first appearance gives. */
Test(stacktab, near_identical_stacks_against_a_model)
{
    enum { K = 12, STEPS = 20000 };
    uint64_t stacks[K][8];
    uint32_t lens[K];
    for (uint32_t k = 0; k < K; k++) {
        lens[k] = k < 8 ? 6 : k - 8 + 2; /* lengths 6 (x8), 2, 3, 4, 5 */
        for (uint32_t i = 0; i < 8; i++)
            stacks[k][i] = 0x401000 + i * 0x40;
        if (k < 8)
            stacks[k][5] = 0x409000 + k; /* the last frame tells them apart */
    }
    struct nmt_stacktab t;
    cr_assert_eq(nmt_stacktab_init(&t), 0);
    uint32_t model[K] = {0}, next = 1;
    uint64_t x = 5;
    for (uint32_t step = 0; step < STEPS; step++) {
        uint64_t r = lcg(&x);
        /* Runs of one stack, as from a loop, between random switches. */
        static uint32_t k;
        if (r % 4 == 0)
            k = (uint32_t)(r >> 8) % K;
        int is_new;
        uint32_t id = nmt_stacktab_intern(&t, stacks[k], lens[k], &is_new);
        cr_assert_eq(is_new, model[k] == 0);
        if (model[k] == 0)
            model[k] = next++;
        cr_assert_eq(id, model[k], "step %u: stack %u got id %u, want %u", step, k, id, model[k]);
        cr_assert_eq(&t.last->totals, nmt_stacktab_totals(&t, id));
        /* Any id's, by the last one or not. */
        uint32_t other = 1 + (uint32_t)(r >> 16) % (next - 1);
        cr_assert_eq(nmt_stacktab_recent_totals(&t, other), nmt_stacktab_totals(&t, other));
        cr_assert_eq(nmt_stacktab_recent_totals(&t, id), nmt_stacktab_totals(&t, id));
    }
    cr_assert_eq(nmt_stacktab_count(&t), next - 1);
    /* Under the test seam the hash has 2 bits: some distinct stacks share one. */
    int shared = 0;
    for (uint32_t a = 1; a < next; a++)
        for (uint32_t b = a + 1; b < next; b++)
            shared |= t.segs[0][a - 1].hash == t.segs[0][b - 1].hash;
#ifdef NMT_STACKTAB_TEST_HASH_BITS
    cr_assert(shared, "the seam did not make hashes collide");
#else
    cr_assert_not(shared);
#endif
    nmt_stacktab_destroy(&t);
}
