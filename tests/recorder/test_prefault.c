/*
 * test_prefault.c: the writer's prefault of the static tables
 * (preload/nmt_prefault.c) makes them resident and private, and changes no
 * entry already in them.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "../../preload/nmt_unwind.h"
#include "rec_doubles.h"

#define PG 4096u

/* nmt_writer.c is not linked in: no fork child here starts a writer. */
void nmt__child_start(void) {}

/* Pages of [p, p + n) not resident now. */
static size_t absent_pages(const void *p, size_t n)
{
    uintptr_t lo = (uintptr_t)p & ~(uintptr_t)(PG - 1),
              hi = ((uintptr_t)p + n + PG - 1) & ~(uintptr_t)(PG - 1);
    static unsigned char vec[(1u << 20) / PG + 2];
    cr_assert_leq((hi - lo) / PG, sizeof(vec));
    cr_assert_eq(mincore((void *)lo, hi - lo, vec), 0);
    size_t absent = 0;
    for (size_t i = 0; i < (hi - lo) / PG; i++)
        absent += (vec[i] & 1) == 0;
    return absent;
}

/* Resident private pages of the process (statm's resident field, which
 * does not count a mapping of the shared zero page). */
static long resident_pages(void)
{
    FILE *f = fopen("/proc/self/statm", "r");
    cr_assert_not_null(f);
    long size = 0, resident = 0;
    cr_assert_eq(fscanf(f, "%ld %ld", &size, &resident), 2);
    fclose(f);
    return resident;
}

/* Puts a live sample and a rule into the tables, runs prefault, and checks
 * that every page of them is resident and private, and that no byte of them
 * changed. */
static void check_prefault(void (*prefault)(void))
{
    rec_setup(512 * 1024, NMT_UNWIND_AUTO);
    void *sample = (void *)(uintptr_t)0x7f0000123450ull;
    cr_assert_eq(nmt_liveset_insert(&nmt__liveset, sample), 0);
    nmt_addrfilter_add(&nmt__filter, sample);
    struct nmt_cfi_rule rule = {.cfa_reg = NMT_CFI_RSP, .cfa_off = 16, .rbp_how = NMT_CFI_SAME};
    nmt__rule_cache_put(0x401234, 7, &rule);
    size_t absent = absent_pages(&nmt__liveset, sizeof(nmt__liveset)) +
                    absent_pages(nmt__rule_cache_table(), nmt__rule_cache_bytes());
    cr_assert_gt(absent, 64, "the tables were touched before the test: %zu pages absent", absent);
    /* Copies to compare with: reading the tables maps the shared zero page,
     * which the resident count below leaves out. */
    size_t nset = sizeof(nmt__liveset), nrules = nmt__rule_cache_bytes();
    unsigned char *set = malloc(nset), *rules = malloc(nrules);
    cr_assert(set && rules);
    memcpy(set, &nmt__liveset, nset);
    memcpy(rules, nmt__rule_cache_table(), nrules);
    long before = resident_pages();
    prefault();
    long grown = resident_pages() - before;

    cr_assert_eq(absent_pages(&nmt__liveset, sizeof(nmt__liveset)), 0);
    cr_assert_eq(absent_pages(nmt__rule_cache_table(), nmt__rule_cache_bytes()), 0);
    /* Private pages, not the zero page a read would have mapped (that
     * grows nothing). Half: the kernel's count may lag by 32 pages per CPU. */
    cr_assert_geq(grown, (long)absent / 2, "%ld pages grown for %zu absent", grown, absent);

    cr_assert_eq(memcmp(set, &nmt__liveset, nset), 0, "the live set changed");
    cr_assert_eq(memcmp(rules, nmt__rule_cache_table(), nrules), 0, "the rule cache changed");
    free(set);
    free(rules);
    cr_assert(nmt_liveset_has(&nmt__liveset, sample));
    struct nmt_cfi_rule got;
    cr_assert(nmt__rule_cache_get(0x401234, 7, &got));
    cr_assert_eq(got.cfa_off, 16);
    cr_assert_eq(nmt_liveset_remove(&nmt__liveset, sample), 1);
}

Test(prefault, tables_resident_entries_kept)
{
    check_prefault(nmt__tables_prefault);
}

/* The fallback for kernels without MADV_POPULATE_WRITE: an atomic add of 0
 * to one word per page. */
Test(prefault, fallback_touch_keeps_entries)
{
    check_prefault(nmt__tables_prefault_by_touch);
}

/* At rate 1 the live set is not kept: it stays unpopulated; the rule cache
 * is the fast unwinder's at any rate. */
Test(prefault, rate1_only_the_rule_cache)
{
    rec_setup(1, NMT_UNWIND_AUTO);
    size_t set = absent_pages(&nmt__liveset, sizeof(nmt__liveset));
    cr_assert_gt(set, 64);
    nmt__tables_prefault();
    cr_assert_eq(absent_pages(&nmt__liveset, sizeof(nmt__liveset)), set);
    cr_assert_eq(absent_pages(nmt__rule_cache_table(), nmt__rule_cache_bytes()), 0);
}
