/*
 * test_cfi_life.c: the object list behind nmt_cfi_find() over a process's
 * life: addresses in no object, the rate of link-map checks they cause, a
 * forget and the rebuild after it, a library loaded after the list was
 * built and unloaded through the dlclose hook (nmt_dlclose.c is linked
 * into this test, so the test's own dlclose calls are hooked).
 */
#include <criterion/criterion.h>
#include <dlfcn.h>
#include <link.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>

#include "cfi_helper.h"
#include "cfi_table.h"
#include "nmt_attach.h"
#include "nmt_cfi.h"

extern _Atomic int cfi_iterate_calls; /* test_cfi.c's double counts them */
extern _Atomic int cfi_fake_shift;    /* and moves the objects in the list */

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

/* A library loaded after the list was built is found at its first lookup
 * (the dynamic linker's _dl_find_object says the list is behind; with a C
 * library older than 2.35 once the link-map check comes, at most 2 ms
 * later); unloading it moves the generation. */
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
    int waits = 0;
    for (; (res = nmt_cfi_find((uintptr_t)fn, &r)) == NMT_CFI_NOMODULE && waits < 20000; waits++)
        nanosleep(&ms, NULL);
    cr_expect_eq(res, NMT_CFI_OK, "the loaded library's entry: %d", res);
#if defined(DLFO_STRUCT_HAS_EH_DBASE) && defined(__GLIBC__)
    cr_expect_eq(waits, 0, "found only after %d ms", waits);
#endif
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
    atomic_store(&nmt__attach_unloads_seen, 1); /* attached, every dlclose entry ours */
    cr_expect_eq(nmt_cfi_usable(), 1);
    atomic_store(&nmt__attach_unloads_seen, 0);
    cr_expect_eq(nmt_cfi_usable(), 0);
    nmt__attach_mode = 0;
    nmt__attach_dormant = 1;
    cr_expect_eq(nmt_cfi_usable(), 0);
    nmt__attach_dormant = 0;
}

/* ---- readers on many threads while another forgets all the time ---- */
#define NADDR 256
static uintptr_t addr[NADDR];
static struct nmt_cfi_rule ref[NADDR];
static int naddr;
static _Atomic int readers_started, readers_done, readers_stop;

/* Up to 16 FDE starts (and a few bytes in) of each object with a table. */
static void pick(void)
{
    struct cfi_picks p = {addr, ref, naddr, NADDR, 16};
    dl_iterate_phdr(cfi_pick, &p);
    naddr = p.n;
}

/* Reads ROUNDS rounds and counts itself done, then reads on until told to
 * stop. A stopped reader goes on until it has had one answer right: the
 * thread that changes the list has stopped by then, and however the
 * machine ran the threads (readers first, or a forgetting thread never
 * preempted on a machine with cores to spare, so that no rebuild
 * survived), the answers it agrees with are tested. A reader that cannot
 * get one right gives up after many rounds, and the test fails. */
#define ROUNDS 20000
static void *reader(void *arg)
{
    long *bad = arg;
    atomic_fetch_add(&readers_started, 1);
    for (int round = 0; round < 10 * ROUNDS; round++) {
        if (round == ROUNDS)
            atomic_fetch_add(&readers_done, 1);
        if (atomic_load(&readers_stop) && bad[1] > 0)
            break;
        for (int i = 0; i < naddr; i++) {
            struct nmt_cfi_rule r;
            enum nmt_cfi_result res = nmt_cfi_find(addr[i], &r);
            if (res == NMT_CFI_NOMODULE) {
                bad[2]++; /* the list was being rebuilt by another thread */
                continue;
            }
            if (res != NMT_CFI_OK || r.cfa_reg != ref[i].cfa_reg || r.cfa_off != ref[i].cfa_off ||
                r.rbp_how != ref[i].rbp_how || r.rbp_off != ref[i].rbp_off)
                bad[0]++;
            else
                bad[1]++;
        }
    }
    return NULL;
}

/* Starts n readers, reader i counting into res[i], and returns once all
 * of them run, so that the changes that follow meet running readers. */
static void readers_start(pthread_t *t, long (*res)[3], int n)
{
    atomic_store(&readers_started, 0);
    atomic_store(&readers_done, 0);
    atomic_store(&readers_stop, 0);
    for (int i = 0; i < n; i++)
        cr_assert_eq(pthread_create(&t[i], NULL, reader, res[i]), 0);
    while (atomic_load(&readers_started) < n)
        sched_yield();
}

/* Joins the n readers and sums their counts: answers that differed from
 * the single-threaded ones, that agreed, and NOMODULE while rebuilding. */
static void readers_join(pthread_t *t, long (*res)[3], int n, long *wrong, long *right,
                         long *nomodule)
{
    *wrong = *right = *nomodule = 0;
    for (int i = 0; i < n; i++) {
        pthread_join(t[i], NULL);
        *wrong += res[i][0];
        *right += res[i][1];
        *nomodule += res[i][2];
    }
}

/* Each rebuild puts the objects at other places in the list (the double in
 * test_cfi.c), so a reader that mixed two lists would give another rule. */
Test(cfi_life, readers_while_the_list_is_forgotten_and_rebuilt, .timeout = 120)
{
    pick();
    cr_assert_gt(naddr, 32);
    pthread_t t[4];
    long res[4][3] = {{0}};
    readers_start(t, res, 4);
    uint32_t g0 = nmt_cfi_generation();
    atomic_store(&cfi_fake_shift, 1);
    int calls0 = atomic_load(&cfi_iterate_calls);
    for (unsigned i = 0; atomic_load(&readers_done) < 4; i++) {
        nmt_cfi_forget();
        for (volatile int spin = 0; spin < 2000; spin++)
            ;
    }
    atomic_store(&readers_stop, 1);
    long wrong, right, nomodule;
    readers_join(t, res, 4, &wrong, &right, &nomodule);
    int walks = atomic_load(&cfi_iterate_calls) - calls0;
    fprintf(stderr, "concurrent lookups: %ld right, %ld wrong, %ld while rebuilding; %d walks\n",
            right, wrong, nomodule, walks);
    cr_expect_gt(walks, 100, "the list was rebuilt under the readers");
    cr_expect_eq(wrong, 0, "%ld answers differ from the single-threaded ones", wrong);
    cr_expect_gt(right, 0);
    cr_expect_neq(nmt_cfi_generation(), g0);
    struct nmt_cfi_rule r;
    cr_expect_eq(nmt_cfi_find(addr[0], &r), NMT_CFI_OK);
}

/* An object without PT_GNU_EH_FRAME (the double's empty segments at
 * 0x10000, 0x20000, ...) is known: NOFDE, not NOMODULE. */
Test(cfi_life, object_without_tables_is_nofde)
{
    atomic_store(&cfi_fake_shift, 1);
    int nofde = 0;
    for (int i = 0; i < 16; i++) {
        nmt_cfi_forget();
        struct nmt_cfi_rule r;
        enum nmt_cfi_result res = nmt_cfi_find(0x10000 + 8, &r);
        cr_assert(res == NMT_CFI_NOFDE || res == NMT_CFI_NOMODULE, "result %d", res);
        nofde += res == NMT_CFI_NOFDE;
    }
    cr_expect_gt(nofde, 0);
    atomic_store(&cfi_fake_shift, 0);
}

/* Libraries loaded and unloaded (through the dlclose hook) while others
 * look up: every rebuild that follows keeps the answers of the objects that
 * stay. */
Test(cfi_life, readers_while_libraries_come_and_go, .timeout = 120)
{
    pick();
    cr_assert_gt(naddr, 32);
    pthread_t t[2];
    long res[2][3] = {{0}};
    readers_start(t, res, 2);
    uint32_t g0 = nmt_cfi_generation();
    for (int i = 0; i < 200; i++) {
        void *h = dlopen(CFI_DSO_PATH, RTLD_NOW | RTLD_LOCAL);
        cr_assert(h != NULL, "%s", dlerror());
        cr_assert_eq(dlclose(h), 0);
    }
    atomic_store(&readers_stop, 1);
    long wrong, right, nomodule;
    readers_join(t, res, 2, &wrong, &right, &nomodule);
    fprintf(stderr,
            "lookups while libraries come and go: %ld right, %ld wrong, %ld while rebuilding\n",
            right, wrong, nomodule);
    cr_expect_eq(wrong, 0, "%ld answers differ from the single-threaded ones", wrong);
    cr_expect_gt(right, 0);
    cr_expect_geq(nmt_cfi_generation() - g0, 400u, "two forgets per dlclose");
}
