/*
 * test_bootstrap.c: units for finding the real allocator and the static
 * arena (preload/nmt_bootstrap.c), for what free()'s fast path relies on:
 * the arena's and the writer heap's pages are "maybe" in the address
 * filter's page level before any of their blocks escapes and again after a
 * filter reset, and until resolution nmt__real.free is a stand-in that
 * never hands the arena's blocks to the real free; a reset (a fork child's)
 * empties the tables without touching the parent's; at rate 1 every page
 * is pinned. Criterion runs each test in a fresh process, so each starts
 * unresolved with an empty filter.
 */
#include <criterion/criterion.h>
#include <dlfcn.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "../../preload/nmt_internal.h"

#define STATIC_SIZE (NMT_BOOT_ARENA_SIZE + NMT_WHEAP_SIZE)

/* Every page of the arena and the writer's heap, first byte to last. */
static void assert_static_pinned(void)
{
    const char *lo = nmt__boot_arena;
    for (size_t off = 0; off < STATIC_SIZE; off += 4096)
        cr_assert(nmt_addrfilter_page_maybe(&nmt__filter, lo + off), "offset %zu", off);
    cr_assert(nmt_addrfilter_page_maybe(&nmt__filter, lo + STATIC_SIZE - 1));
}

Test(bootstrap, an_arena_block_is_pinned_before_it_escapes)
{
    cr_assert_not(nmt_addrfilter_page_maybe(&nmt__filter, nmt__boot_arena));
    char *p = nmt__boot_alloc(100, 16);
    cr_assert_not_null(p);
    cr_assert(nmt__is_boot(p));
    assert_static_pinned();
}

Test(bootstrap, resolution_pins_the_writer_heap)
{
    cr_assert(nmt__unresolved());
    cr_assert_eq(nmt__resolve_real(), 0);
    cr_assert_not(nmt__unresolved());
    cr_assert_eq((void *)nmt__real.free, dlsym(RTLD_NEXT, "free"));
    cr_assert_eq((void *)nmt__real.malloc, dlsym(RTLD_NEXT, "malloc"));
    assert_static_pinned();
}

Test(bootstrap, a_cleared_filter_is_pinned_again)
{
    nmt__boot_alloc(16, 16);
    memset(&nmt__filter, 0, sizeof(nmt__filter)); /* as a fork child does */
    cr_assert_not(nmt_addrfilter_page_maybe(&nmt__filter, nmt__boot_arena));
    nmt__boot_pin();
    assert_static_pinned();
}

/* Before resolution free()'s fast path calls the stand-in: an arena block
 * is ignored (the real free would abort on it) and leaves the recorder
 * unresolved; a block from the real allocator resolves, then goes to the
 * real free. */
Test(bootstrap, free_before_resolution_is_a_safe_stand_in)
{
    cr_assert_not_null(nmt__real.free);
    void (*stand_in)(void *) = nmt__real.free;
    stand_in(NULL);
    stand_in(nmt__boot_alloc(64, 16));
    stand_in(nmt__boot_arena + NMT_BOOT_ARENA_SIZE + 64); /* the writer's heap */
    cr_assert(nmt__unresolved(), "an ignored block resolves nothing");
    stand_in(malloc(32));
    cr_assert_not(nmt__unresolved());
    cr_assert_neq((void *)nmt__real.free, (void *)stand_in);
}

/* A disabled recorder never resolves: the block is leaked, not crashed on. */
Test(bootstrap, a_disabled_recorder_leaks_instead)
{
    atomic_store(&nmt__disabled, 1);
    nmt__real.free(malloc(32));
    cr_assert(nmt__unresolved());
}

/* A fork child's reset: the filter and the live set read as empty in the
 * child (their pages given back, not written), the static heaps pinned
 * again, and the parent's marks untouched. */
Test(bootstrap, a_reset_empties_the_child_and_spares_the_parent)
{
    /* In every part of the tables; the third inside the live set itself, away
     * from its ends, which may share a page with the pinned static heaps. */
    void *live[3] = {(void *)0x7f0012345670ull, (void *)0x55550000a010ull,
                     (void *)((uintptr_t)&nmt__liveset + sizeof(nmt__liveset) / 2)};
    for (int i = 0; i < 3; i++) {
        nmt_addrfilter_add(&nmt__filter, live[i]);
        cr_assert_eq(nmt_liveset_insert(&nmt__liveset, live[i]), 0);
    }
    pid_t pid = fork();
    cr_assert_geq(pid, 0);
    if (pid == 0) {
        nmt__tables_reset();
        int bad = 0;
        for (int i = 0; i < 3; i++)
            bad |= nmt_addrfilter_page_maybe(&nmt__filter, live[i]) ||
                   nmt_liveset_remove(&nmt__liveset, live[i]);
        for (size_t off = 0; off < NMT_BOOT_ARENA_SIZE + NMT_WHEAP_SIZE; off += 4096)
            bad |= !nmt_addrfilter_page_maybe(&nmt__filter, nmt__boot_arena + off);
        const unsigned char *f = (const unsigned char *)&nmt__filter;
        size_t nonzero = 0;
        for (size_t k = 0; k < sizeof(nmt__filter); k++)
            nonzero += f[k] != 0;
        /* Only the pinned pages' bytes remain. */
        bad |= nonzero > (NMT_BOOT_ARENA_SIZE + NMT_WHEAP_SIZE) / 4096 + 1;
        _exit(bad);
    }
    int status;
    cr_assert_eq(waitpid(pid, &status, 0), pid);
    cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0, "the child's tables were not empty");
    for (int i = 0; i < 3; i++) {
        cr_assert(nmt_addrfilter_page_maybe(&nmt__filter, live[i]), "the parent lost mark %d", i);
        cr_assert(nmt_liveset_remove(&nmt__liveset, live[i]));
    }
}

/* The number of pages of the filter's page level that say "maybe". */
static size_t pages_maybe(void)
{
    size_t n = 0;
    for (size_t k = 0; k < NMT_ADDRFILTER_PAGES; k++)
        n += atomic_load_explicit(&nmt__filter.page[k], memory_order_relaxed) != 0;
    return n;
}

/* Rate 1 records every free, so every page is pinned and a reset (a fork
 * child's, an attach session's at rate 1) leaves them so without writing;
 * a session at another rate empties the filter and pins only the heaps. */
Test(bootstrap, rate_1_pins_every_page_until_another_rate)
{
    nmt__boot_alloc(16, 16);
    cr_assert_lt(pages_maybe(), NMT_ADDRFILTER_PAGES);
    nmt__rate_mode(1);
    nmt__boot_pin();
    cr_assert_eq(pages_maybe(), NMT_ADDRFILTER_PAGES);
    nmt__tables_reset();
    cr_assert_eq(pages_maybe(), NMT_ADDRFILTER_PAGES, "a reset at rate 1 unpinned pages");
    nmt__rate_mode(4096);
    nmt__tables_reset();
    assert_static_pinned();
    cr_assert_eq(pages_maybe(),
                 STATIC_SIZE / 4096 + (STATIC_SIZE % 4096 != 0) +
                     ((uintptr_t)nmt__boot_arena % 4096 != 0),
                 "only the static heaps' pages stay pinned");
    nmt__rate_mode(1);
    nmt__tables_reset();
    cr_assert_eq(pages_maybe(), NMT_ADDRFILTER_PAGES, "rate 1 again: every page");
}
