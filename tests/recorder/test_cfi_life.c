/*
 * test_cfi_life.c: the object list behind nmt_cfi_find() over a process's
 * life: addresses in no object, the rate of link-map checks they cause, a
 * forget and the rebuild after it, a library loaded after the list was
 * built and unloaded through the dlclose hook (nmt_dlclose.c is linked
 * into this test, so the test's own dlclose calls are hooked).
 */
#include <criterion/criterion.h>
#include <dlfcn.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <time.h>

#include "cfi_helper.h"
#include "nmt_attach.h"
#include "nmt_cfi.h"

extern _Atomic int cfi_iterate_calls; /* test_cfi.c's double counts them */

static uint64_t coarse_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static uintptr_t in_test(void)
{
    return (uintptr_t)cfi_nofp_many + 1;
}

Test(cfi_life, nomodule_for_heap_and_anonymous_code)
{
    struct nmt_cfi_rule r;
    cr_assert_eq(nmt_cfi_find(in_test(), &r), NMT_CFI_OK);
    void *heap = malloc(64);
    cr_expect_eq(nmt_cfi_find((uintptr_t)heap, &r), NMT_CFI_NOMODULE);
    free(heap);
    char *code = mmap(NULL, 4096, PROT_READ | PROT_EXEC, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    cr_assert(code != MAP_FAILED);
    cr_expect_eq(nmt_cfi_find((uintptr_t)code + 16, &r), NMT_CFI_NOMODULE);
    munmap(code, 4096);
    cr_expect_eq(nmt_cfi_find(0, &r), NMT_CFI_NOMODULE);
    cr_expect_eq(nmt_cfi_find(UINTPTR_MAX, &r), NMT_CFI_NOMODULE);
}

/* Misses look at the link map at most once per 2 ms of the coarse clock:
 * over the loop, at most one look per 2 ms elapsed, plus one. */
Test(cfi_life, misses_check_the_link_map_rarely)
{
    struct nmt_cfi_rule r;
    cr_assert_eq(nmt_cfi_find(in_test(), &r), NMT_CFI_OK);
    char *code = mmap(NULL, 4096, PROT_READ | PROT_EXEC, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    cr_assert(code != MAP_FAILED);
    int calls0 = atomic_load(&cfi_iterate_calls);
    uint64_t t0 = coarse_ns();
    for (int i = 0; i < 200000; i++)
        cr_assert_eq(nmt_cfi_find((uintptr_t)code + (unsigned)i % 4096, &r), NMT_CFI_NOMODULE);
    uint64_t t1 = coarse_ns();
    int calls = atomic_load(&cfi_iterate_calls) - calls0;
    cr_expect_leq((uint64_t)calls, 1 + (t1 - t0) / 2000000, "%d link-map walks in %llu ns", calls,
                  (unsigned long long)(t1 - t0));
    munmap(code, 4096);
}

/* Hits look at the link map too (an object glibc unloads by itself), at
 * most once per 100 ms, and not in the first 100 ms of a new list. */
Test(cfi_life, hits_check_the_link_map_rarely)
{
    struct nmt_cfi_rule r;
    cr_assert_eq(nmt_cfi_find(in_test(), &r), NMT_CFI_OK);
    uint32_t g0 = nmt_cfi_generation();
    int calls0 = atomic_load(&cfi_iterate_calls);
    uint64_t t0 = coarse_ns();
    for (int i = 0; i < 200000; i++)
        cr_assert_eq(nmt_cfi_find(in_test() + (unsigned)i % 64, &r), NMT_CFI_OK);
    uint64_t t1 = coarse_ns();
    int calls = atomic_load(&cfi_iterate_calls) - calls0;
    cr_expect_leq((uint64_t)calls, (t1 - t0) / 100000000 + 1, "%d link-map walks in %llu ns", calls,
                  (unsigned long long)(t1 - t0));
    cr_expect_eq(nmt_cfi_generation(), g0, "an unchanged link map moves nothing");
}

Test(cfi_life, forget_then_rebuild)
{
    struct nmt_cfi_rule r, again;
    cr_assert_eq(nmt_cfi_find(in_test(), &r), NMT_CFI_OK);
    uint32_t g0 = nmt_cfi_generation();
    int calls0 = atomic_load(&cfi_iterate_calls);
    nmt_cfi_forget();
    uint32_t g1 = nmt_cfi_generation();
    cr_expect_neq(g1, g0);
    cr_assert_eq(nmt_cfi_find(in_test(), &again), NMT_CFI_OK);
    cr_expect_eq(atomic_load(&cfi_iterate_calls), calls0 + 1, "one walk rebuilds the list");
    cr_expect_neq(nmt_cfi_generation(), g1, "a rebuild moves the generation");
    cr_expect(again.cfa_reg == r.cfa_reg && again.cfa_off == r.cfa_off &&
              again.rbp_how == r.rbp_how && again.rbp_off == r.rbp_off);
}

/* A library loaded after the list was built is found once the link-map
 * check comes (at most 2 ms later); unloading it moves the generation. */
Test(cfi_life, dlopen_and_dlclose, .timeout = 60)
{
    struct nmt_cfi_rule r;
    cr_assert_eq(nmt_cfi_find(in_test(), &r), NMT_CFI_OK);
    uint32_t g0 = nmt_cfi_generation();
    void *h = dlopen(CFI_DSO_PATH, RTLD_NOW | RTLD_LOCAL);
    cr_assert(h != NULL, "%s", dlerror());
    void *fn = dlsym(h, "cfi_dso_sum");
    cr_assert(fn != NULL);
    enum nmt_cfi_result res;
    struct timespec ms = {0, 1000000};
    for (int i = 0; (res = nmt_cfi_find((uintptr_t)fn, &r)) == NMT_CFI_NOMODULE && i < 20000; i++)
        nanosleep(&ms, NULL);
    cr_expect_eq(res, NMT_CFI_OK, "the loaded library's entry: %d", res);
    cr_expect(r.cfa_reg == NMT_CFI_RSP && r.cfa_off == 8, "entry rule: CFA = rsp + 8");
    uint32_t g1 = nmt_cfi_generation();
    cr_expect_neq(g1, g0, "the list that found the library is a new one");
    cr_assert_eq(dlclose(h), 0);
    cr_expect_neq(nmt_cfi_generation(), g1, "dlclose (hooked) moves the generation");
    cr_expect_eq(nmt_cfi_find(in_test(), &r), NMT_CFI_OK);
}

Test(cfi_life, usable_only_when_the_dlclose_hook_is_in_place)
{
    cr_expect_eq(nmt_cfi_usable(), 1);
    nmt__attach_mode = 1;
    cr_expect_eq(nmt_cfi_usable(), 0);
    nmt__attach_mode = 0;
    nmt__attach_dormant = 1;
    cr_expect_eq(nmt_cfi_usable(), 0);
    nmt__attach_dormant = 0;
}
