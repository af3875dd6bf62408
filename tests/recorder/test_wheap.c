/*
 * test_wheap.c: units for the writer thread's heap (preload/nmt_wheap.c):
 * blocks inside the heap and aligned, the requested size where
 * nmt__boot_size() reads it, recycling, realloc in place and moved, calloc
 * of a recycled block, exhaustion, pages given back, and a fork child that
 * leaves the heap alone. Criterion runs each test in a fresh process.
 */
#include <criterion/criterion.h>
#include <stdint.h>
#include <string.h>

#include "../../preload/nmt_internal.h"

char nmt__boot_arena[NMT_BOOT_ARENA_SIZE + NMT_WHEAP_SIZE] __attribute__((aligned(64)));

static size_t size_at(const void *p)
{
    size_t n;
    memcpy(&n, (const char *)p - sizeof(size_t), sizeof(n));
    return n;
}

Test(wheap, blocks_are_ours_aligned_and_sized)
{
    void *a = nmt__wheap_alloc(1), *b = nmt__wheap_alloc(100), *c = nmt__wheap_alloc(5000);
    cr_assert(a && b && c);
    cr_assert(a != b && b != c && a != c);
    void *blocks[] = {a, b, c};
    size_t sizes[] = {1, 100, 5000};
    for (int i = 0; i < 3; i++) {
        cr_assert(nmt__wheap_owns(blocks[i]));
        cr_assert(nmt__is_boot(blocks[i]), "free() must route it to the slow path");
        cr_assert_eq((uintptr_t)blocks[i] % 16, 0);
        cr_assert_eq(size_at(blocks[i]), sizes[i]);
        memset(blocks[i], 0xab, sizes[i]);
    }
    cr_assert_not(nmt__wheap_owns(nmt__boot_arena));
    cr_assert_not(nmt__wheap_owns(&a));
}

/* rec.own_writer_heap: the sum of the blocks handed out, each a power of two
 * that holds the request and the 16-byte header, and nothing once they are
 * all freed. */
Test(wheap, in_use_is_the_sum_of_live_blocks)
{
    cr_assert_eq(nmt__wheap_in_use(), 0);
    size_t sizes[] = {1, 16, 17, 100, 5000, 65536, 300000};
    void *blocks[7];
    size_t sum = 0;
    for (int i = 0; i < 7; i++) {
        blocks[i] = nmt__wheap_alloc(sizes[i]);
        cr_assert_not_null(blocks[i]);
        size_t block = 32;
        while (block - 16 < sizes[i])
            block <<= 1;
        sum += block;
        cr_assert_eq(nmt__wheap_in_use(), sum, "after block %d", i);
    }
    cr_assert_null(nmt__wheap_alloc(NMT_WHEAP_SIZE), "a refused request");
    cr_assert_eq(nmt__wheap_in_use(), sum, "a refused request takes nothing");
    void *moved = nmt__wheap_realloc(blocks[0], 1000, nmt__wheap_alloc);
    cr_assert_eq(nmt__wheap_in_use(), sum - 32 + 1024, "realloc moved it to a 1 KiB block");
    nmt__wheap_free(moved);
    for (int i = 1; i < 7; i++)
        nmt__wheap_free(blocks[i]);
    cr_assert_eq(nmt__wheap_in_use(), 0);
}

Test(wheap, freed_blocks_are_reused_by_their_size)
{
    void *a = nmt__wheap_alloc(200);
    nmt__wheap_free(a);
    cr_assert_eq(nmt__wheap_alloc(150), a, "same size class: same block");
    void *b = nmt__wheap_alloc(200);
    cr_assert_neq(b, a);
}

Test(wheap, realloc_in_place_then_moved)
{
    char *a = nmt__wheap_alloc(40);
    memcpy(a, "0123456789", 10);
    cr_assert_eq(nmt__wheap_realloc(a, 48, nmt__wheap_alloc), a, "fits its 64-byte block");
    cr_assert_eq(size_at(a), 48);
    char *b = nmt__wheap_realloc(a, 1000, nmt__wheap_alloc);
    cr_assert(b != NULL && b != a);
    cr_assert_eq(memcmp(b, "0123456789", 10), 0);
    cr_assert_eq(nmt__wheap_alloc(40), a, "the old block was freed");
    cr_assert_null(nmt__wheap_realloc(b, 0, nmt__wheap_alloc));
}

Test(wheap, calloc_zeroes_a_recycled_block)
{
    unsigned char *a = nmt__wheap_alloc(300);
    memset(a, 0xff, 300);
    nmt__wheap_free(a);
    unsigned char *b = nmt__wheap_calloc(300);
    cr_assert_eq(b, a);
    for (int i = 0; i < 300; i++)
        cr_assert_eq(b[i], 0);
}

Test(wheap, runs_out_and_refuses_what_does_not_fit)
{
    size_t biggest = NMT_WHEAP_SIZE / 2 - 16;
    cr_assert_null(nmt__wheap_alloc(biggest + 1), "more than half the heap");
    cr_assert_not_null(nmt__wheap_alloc(biggest));
    cr_assert_not_null(nmt__wheap_alloc(biggest));
    cr_assert_null(nmt__wheap_alloc(biggest), "the heap is used up");
    cr_assert_null(nmt__wheap_alloc(16), "even for a small block");
}

Test(wheap, large_freed_blocks_give_their_pages_back)
{
    unsigned char *a = nmt__wheap_alloc(1 << 20);
    memset(a, 0x5a, 1 << 20);
    nmt__wheap_free(a);
    unsigned char *b = nmt__wheap_alloc(1 << 20);
    cr_assert_eq(b, a);
    size_t nonzero = 0;
    for (size_t i = 4096; i < (1u << 20) - 4096; i++)
        nonzero += b[i] != 0;
    cr_assert_eq(nonzero, 0, "the interior pages were not given back");
}

Test(wheap, a_fork_child_leaves_it_alone)
{
    void *a = nmt__wheap_alloc(64);
    nmt__wheap_after_fork();
    cr_assert_null(nmt__wheap_alloc(64));
    nmt__wheap_free(a); /* ignored: the lists may be half-updated */
    cr_assert_null(nmt__wheap_alloc(64));
}
