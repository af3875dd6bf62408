/*
 * test_mmap_model.c: units for the mmap address-space model
 * (preload/nmt_mmap_model.c): each attribution rule, the HotSpot pattern of
 * reserve / piecewise commit / uncommit / munmap in the middle, mremap and
 * mprotect, allocation failure, and a randomized comparison with a simple
 * page-by-page reference model after every operation.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "failalloc.h"
#include "../../preload/nmt_mmap_model.h"

#define P       4096ull
#define NSTACKS 8
#define BASE    0x7f0000000000ull

struct acct {
    int64_t res[NSTACKS], com[NSTACKS];
    long calls;
};

static void on_delta(void *ctx, uint32_t stack, int64_t dr, int64_t dc)
{
    struct acct *a = ctx;
    cr_assert(stack > 0 && stack < NSTACKS, "delta for stack %u", stack);
    cr_assert(dr != 0 || dc != 0, "empty delta");
    a->res[stack] += dr;
    a->com[stack] += dc;
    a->calls++;
}

/* Sorted, non-overlapping, page-aligned, merged, owned; totals agree. */
static void check_invariants(const struct nmt_mm *m, const struct acct *a)
{
    uint64_t res = 0, com = 0;
    for (size_t i = 0; i < m->n; i++) {
        const struct nmt_mm_seg *s = &m->seg[i];
        cr_assert_lt(s->start, s->end);
        cr_assert_eq(s->start % m->page, 0);
        cr_assert_eq(s->end % m->page, 0);
        cr_assert_neq(s->rstack, 0);
        if (i > 0) {
            const struct nmt_mm_seg *p = &m->seg[i - 1];
            cr_assert_leq(p->end, s->start);
            cr_assert(!(p->end == s->start && p->rstack == s->rstack && p->cstack == s->cstack),
                      "unmerged neighbours at %lx", s->start);
        }
        res += s->end - s->start;
        com += s->cstack ? s->end - s->start : 0;
    }
    cr_assert_eq(res, nmt_mm_reserved(m));
    cr_assert_eq(com, nmt_mm_committed(m));
    if (a) {
        int64_t sr = 0, sc = 0;
        for (int i = 0; i < NSTACKS; i++) {
            cr_assert_geq(a->res[i], 0);
            cr_assert_geq(a->com[i], 0);
            sr += a->res[i];
            sc += a->com[i];
        }
        cr_assert_eq((uint64_t)sr, res);
        cr_assert_eq((uint64_t)sc, com);
    }
}

static void expect(const struct acct *a, uint32_t stack, uint64_t res_pages, uint64_t com_pages)
{
    cr_assert_eq(a->res[stack], (int64_t)(res_pages * P), "stack %u reserved %ld pages, want %lu",
                 stack, a->res[stack] / (int64_t)P, res_pages);
    cr_assert_eq(a->com[stack], (int64_t)(com_pages * P), "stack %u committed %ld pages, want %lu",
                 stack, a->com[stack] / (int64_t)P, com_pages);
}

static void owner(const struct nmt_mm *m, uint64_t page, uint32_t r, uint32_t c)
{
    uint32_t gr = 99, gc = 99;
    int known = nmt_mm_lookup(m, BASE + page * P, &gr, &gc);
    if (!r) {
        cr_assert_not(known, "page %lu should be unknown", page);
        return;
    }
    cr_assert(known, "page %lu should be known", page);
    cr_assert_eq(gr, r, "page %lu reserved by %u, want %u", page, gr, r);
    cr_assert_eq(gc, c, "page %lu committed by %u, want %u", page, gc, c);
}

#define ANON (MAP_PRIVATE | MAP_ANONYMOUS)

Test(mmap_model, plain_mapping_and_unmap)
{
    struct nmt_mm m;
    struct acct a = {0};
    cr_assert_eq(nmt_mm_init(&m, on_delta, &a), 0);
    cr_assert_eq(nmt_mm_map(&m, BASE, 10 * P, PROT_READ | PROT_WRITE, ANON, 1), 0);
    expect(&a, 1, 10, 10);
    /* Lengths round up to pages. */
    cr_assert_eq(nmt_mm_map(&m, BASE + 20 * P, 100, PROT_NONE, ANON, 2), 0);
    expect(&a, 2, 1, 0);
    cr_assert_eq(nmt_mm_unmap(&m, BASE + 2 * P, 3 * P + 1), 0);
    expect(&a, 1, 6, 6);
    owner(&m, 1, 1, 1);
    owner(&m, 2, 0, 0);
    owner(&m, 5, 0, 0);
    owner(&m, 6, 1, 1);
    cr_assert_eq(nmt_mm_count(&m), 3);
    /* Unmapping what is not known changes nothing. */
    long calls = a.calls;
    cr_assert_eq(nmt_mm_unmap(&m, BASE + 100 * P, 50 * P), 0);
    cr_assert_eq(a.calls, calls);
    cr_assert_eq(nmt_mm_unmap(&m, BASE, 0), 0);
    cr_assert_eq(nmt_mm_unmap(&m, UINT64_MAX - P, 4 * P), -EINVAL);
    check_invariants(&m, &a);
    cr_assert_eq(nmt_mm_unmap(&m, BASE, 1000 * P), 0);
    expect(&a, 1, 0, 0);
    expect(&a, 2, 0, 0);
    cr_assert_eq(nmt_mm_count(&m), 0);
    nmt_mm_destroy(&m);
}

Test(mmap_model, hotspot_reserve_commit_uncommit_unmap)
{
    struct nmt_mm m;
    struct acct a = {0};
    cr_assert_eq(nmt_mm_init(&m, on_delta, &a), 0);
    /* Reserve 64 pages PROT_NONE (stack 1). */
    nmt_mm_map(&m, BASE, 64 * P, PROT_NONE, ANON | MAP_NORESERVE, 1);
    expect(&a, 1, 64, 0);
    /* Commit piecewise with MAP_FIXED: pages 0-15 (stack 2), 16-31 (stack 3),
     * 32-39 (stack 2 again). */
    nmt_mm_map(&m, BASE, 16 * P, PROT_READ | PROT_WRITE, ANON | MAP_FIXED, 2);
    nmt_mm_map(&m, BASE + 16 * P, 16 * P, PROT_READ | PROT_WRITE, ANON | MAP_FIXED, 3);
    nmt_mm_map(&m, BASE + 32 * P, 8 * P, PROT_READ | PROT_WRITE, ANON | MAP_FIXED, 2);
    expect(&a, 1, 64, 0);
    expect(&a, 2, 0, 24);
    expect(&a, 3, 0, 16);
    check_invariants(&m, &a);
    /* Committing again what is committed does not double count. */
    nmt_mm_map(&m, BASE, 8 * P, PROT_READ | PROT_WRITE, ANON | MAP_FIXED, 2);
    expect(&a, 2, 0, 24);
    /* Uncommit pages 8-23 by mapping PROT_NONE over them (stack 4). */
    nmt_mm_map(&m, BASE + 8 * P, 16 * P, PROT_NONE, ANON | MAP_FIXED | MAP_NORESERVE, 4);
    expect(&a, 1, 64, 0);
    expect(&a, 2, 0, 8 + 8);
    expect(&a, 3, 0, 8);
    expect(&a, 4, 0, 0);
    owner(&m, 8, 1, 0);
    owner(&m, 24, 1, 3);
    /* munmap pages 20-35 out of the middle. */
    nmt_mm_unmap(&m, BASE + 20 * P, 16 * P);
    expect(&a, 1, 48, 0);
    expect(&a, 2, 0, 8 + 4); /* 0-7 and 36-39 */
    expect(&a, 3, 0, 0);
    owner(&m, 19, 1, 0);
    owner(&m, 20, 0, 0);
    owner(&m, 36, 1, 2);
    owner(&m, 40, 1, 0);
    check_invariants(&m, &a);
    /* Unmapping the rest leaves nothing behind. */
    nmt_mm_unmap(&m, BASE, 64 * P);
    for (int s = 0; s < NSTACKS; s++)
        expect(&a, (uint32_t)s, 0, 0);
    nmt_mm_destroy(&m);
}

Test(mmap_model, fixed_over_unknown_is_a_new_reservation)
{
    struct nmt_mm m;
    struct acct a = {0};
    nmt_mm_init(&m, on_delta, &a);
    nmt_mm_map(&m, BASE + 4 * P, 4 * P, PROT_NONE, ANON, 1);
    /* MAP_FIXED over pages 0-11: 4-7 are known (keep reserver 1), the rest
     * is new, reserved by 2; all of it committed by 2. */
    nmt_mm_map(&m, BASE, 12 * P, PROT_READ, ANON | MAP_FIXED, 2);
    expect(&a, 1, 4, 0);
    expect(&a, 2, 8, 12);
    owner(&m, 0, 2, 2);
    owner(&m, 5, 1, 2);
    owner(&m, 11, 2, 2);
    check_invariants(&m, &a);
    nmt_mm_destroy(&m);
}

Test(mmap_model, non_fixed_replaces_stale_segments)
{
    struct nmt_mm m;
    struct acct a = {0};
    nmt_mm_init(&m, on_delta, &a);
    nmt_mm_map(&m, BASE, 8 * P, PROT_READ | PROT_WRITE, ANON, 1);
    /* The kernel returned overlapping memory without MAP_FIXED: the old
     * mapping must have gone (an munmap we did not see). */
    nmt_mm_map(&m, BASE + 4 * P, 8 * P, PROT_NONE, ANON, 2);
    expect(&a, 1, 4, 4);
    expect(&a, 2, 8, 0);
    owner(&m, 4, 2, 0);
    check_invariants(&m, &a);
    nmt_mm_destroy(&m);
}

Test(mmap_model, mprotect_toggles)
{
    struct nmt_mm m;
    struct acct a = {0};
    nmt_mm_init(&m, on_delta, &a);
    nmt_mm_map(&m, BASE, 16 * P, PROT_NONE, ANON, 1);
    nmt_mm_protect(&m, BASE, 8 * P, PROT_READ | PROT_WRITE, 2);
    expect(&a, 2, 0, 8);
    /* Making accessible pages accessible again keeps the first committer. */
    nmt_mm_protect(&m, BASE + 4 * P, 8 * P, PROT_READ, 3);
    expect(&a, 2, 0, 8);
    expect(&a, 3, 0, 4);
    nmt_mm_protect(&m, BASE + 2 * P, 4 * P, PROT_NONE, 4);
    expect(&a, 2, 0, 4);
    expect(&a, 3, 0, 4);
    expect(&a, 4, 0, 0);
    owner(&m, 2, 1, 0);
    nmt_mm_protect(&m, BASE + 2 * P, 4 * P, PROT_EXEC, 5);
    expect(&a, 5, 0, 4);
    expect(&a, 1, 16, 0);
    /* mprotect of memory the model does not know is ignored. */
    long calls = a.calls;
    nmt_mm_protect(&m, BASE + 100 * P, 4 * P, PROT_READ, 6);
    cr_assert_eq(a.calls, calls);
    /* Partly known: only the known pages change. */
    nmt_mm_protect(&m, BASE + 14 * P, 10 * P, PROT_READ, 6);
    expect(&a, 6, 0, 2);
    check_invariants(&m, &a);
    nmt_mm_destroy(&m);
}

Test(mmap_model, mremap_move_grow_shrink)
{
    struct nmt_mm m;
    struct acct a = {0};
    nmt_mm_init(&m, on_delta, &a);
    /* 8 pages: 0-3 committed by 2, 4-7 reserved only (stack 1). */
    nmt_mm_map(&m, BASE, 8 * P, PROT_NONE, ANON, 1);
    nmt_mm_protect(&m, BASE, 4 * P, PROT_READ | PROT_WRITE, 2);
    /* Move to BASE+100 pages: attribution moves with it. */
    nmt_mm_remap(&m, BASE, 8 * P, BASE + 100 * P, 8 * P, 5);
    expect(&a, 1, 8, 0);
    expect(&a, 2, 0, 4);
    expect(&a, 5, 0, 0);
    owner(&m, 0, 0, 0);
    owner(&m, 100, 1, 2);
    owner(&m, 104, 1, 0);
    /* Grow in place by 4 pages: the last segment (1, uncommitted) owns it. */
    nmt_mm_remap(&m, BASE + 100 * P, 8 * P, BASE + 100 * P, 12 * P, 5);
    expect(&a, 1, 12, 0);
    owner(&m, 111, 1, 0);
    /* Commit the tail by 3, then grow while moving: growth goes to (1, 3). */
    nmt_mm_protect(&m, BASE + 108 * P, 4 * P, PROT_READ, 3);
    nmt_mm_remap(&m, BASE + 100 * P, 12 * P, BASE + 200 * P, 20 * P, 5);
    expect(&a, 1, 20, 0);
    expect(&a, 2, 0, 4);
    expect(&a, 3, 0, 4 + 8);
    expect(&a, 5, 0, 0);
    owner(&m, 219, 1, 3);
    owner(&m, 100, 0, 0);
    /* Shrink in place: the tail goes. */
    nmt_mm_remap(&m, BASE + 200 * P, 20 * P, BASE + 200 * P, 2 * P, 5);
    expect(&a, 1, 2, 0);
    expect(&a, 2, 0, 2);
    expect(&a, 3, 0, 0);
    check_invariants(&m, &a);
    /* Shrink while moving. */
    nmt_mm_remap(&m, BASE + 200 * P, 2 * P, BASE + 300 * P, 1 * P, 5);
    expect(&a, 1, 1, 0);
    expect(&a, 2, 0, 1);
    owner(&m, 300, 1, 2);
    owner(&m, 301, 0, 0);
    owner(&m, 200, 0, 0);
    /* An unknown old region: its growth belongs to the caller. */
    nmt_mm_remap(&m, BASE + 400 * P, 2 * P, BASE + 500 * P, 6 * P, 6);
    expect(&a, 6, 4, 4);
    owner(&m, 501, 0, 0);
    owner(&m, 502, 6, 6);
    /* Moving onto a mapping (MREMAP_FIXED) replaces what it covers. */
    nmt_mm_map(&m, BASE + 600 * P, 4 * P, PROT_READ, ANON, 7);
    nmt_mm_remap(&m, BASE + 300 * P, P, BASE + 600 * P, P, 5);
    expect(&a, 7, 3, 3);
    expect(&a, 1, 1, 0);
    owner(&m, 600, 1, 2);
    /* new_len 0 never succeeds; old_len 0 is a new mapping. */
    cr_assert_eq(nmt_mm_remap(&m, BASE + 600 * P, P, BASE + 700 * P, 0, 5), -EINVAL);
    nmt_mm_remap(&m, BASE + 600 * P, 0, BASE + 700 * P, 2 * P, 5);
    expect(&a, 5, 2, 2);
    check_invariants(&m, &a);
    nmt_mm_destroy(&m);
}

Test(mmap_model, piecewise_commit_stays_few_segments)
{
    struct nmt_mm m;
    struct acct a = {0};
    nmt_mm_init(&m, on_delta, &a);
    nmt_mm_map(&m, BASE, 4096 * P, PROT_NONE, ANON, 1);
    for (int i = 0; i < 4096; i++)
        nmt_mm_map(&m, BASE + (uint64_t)i * P, P, PROT_READ | PROT_WRITE, ANON | MAP_FIXED, 2);
    cr_assert_eq(nmt_mm_count(&m), 1);
    expect(&a, 2, 0, 4096);
    check_invariants(&m, &a);
    nmt_mm_destroy(&m);
}

Test(mmap_model, page_size_at_init)
{
    struct nmt_mm m;
    struct acct a = {0};
    cr_assert_eq(nmt_mm_init_page(&m, on_delta, &a, 3000), -EINVAL);
    cr_assert_eq(nmt_mm_init_page(&m, on_delta, &a, 65536), 0);
    nmt_mm_map(&m, BASE, 1, PROT_READ, ANON, 1);
    cr_assert_eq(a.res[1], 65536);
    cr_assert_eq(nmt_mm_reserved(&m), 65536);
    nmt_mm_destroy(&m);
}

/* The reference: one (reserver, committer) pair per page of a small space. */
#define REF_PAGES 512

struct ref {
    uint32_t r[REF_PAGES], c[REF_PAGES];
};

static void ref_map(struct ref *f, int pg, int n, int access, int fixed, uint32_t s)
{
    for (int i = pg; i < pg + n; i++) {
        if (!fixed || !f->r[i])
            f->r[i] = s;
        f->c[i] = access ? s : 0;
    }
}

static void ref_unmap(struct ref *f, int pg, int n)
{
    for (int i = pg; i < pg + n; i++)
        f->r[i] = f->c[i] = 0;
}

static void ref_protect(struct ref *f, int pg, int n, int access, uint32_t s)
{
    for (int i = pg; i < pg + n; i++)
        if (f->r[i])
            f->c[i] = !access ? 0 : (f->c[i] ? f->c[i] : s);
}

static void ref_remap(struct ref *f, int op, int on, int np, int nn, uint32_t s)
{
    uint32_t r[REF_PAGES], c[REF_PAGES];
    int keep = on < nn ? on : nn;
    uint32_t gr = s, gc = s;
    for (int i = op + on - 1; i >= op; i--) {
        if (f->r[i]) {
            gr = f->r[i];
            gc = f->c[i];
            break;
        }
    }
    for (int i = 0; i < keep; i++) {
        r[i] = f->r[op + i];
        c[i] = f->c[op + i];
    }
    ref_unmap(f, op, on);
    ref_unmap(f, np, nn);
    for (int i = 0; i < keep; i++) {
        f->r[np + i] = r[i];
        f->c[np + i] = c[i];
    }
    for (int i = keep; i < nn; i++) {
        f->r[np + i] = gr;
        f->c[np + i] = gc;
    }
}

static void compare(const struct nmt_mm *m, const struct acct *a, const struct ref *f, int step)
{
    int64_t res[NSTACKS] = {0}, com[NSTACKS] = {0};
    for (int i = 0; i < REF_PAGES; i++) {
        if (f->r[i])
            res[f->r[i]] += P;
        if (f->c[i])
            com[f->c[i]] += P;
        uint32_t r = 0, c = 0;
        int known = nmt_mm_lookup(m, BASE + (uint64_t)i * P, &r, &c);
        cr_assert_eq(known, f->r[i] != 0, "step %d page %d", step, i);
        if (known) {
            cr_assert_eq(r, f->r[i], "step %d page %d reserver", step, i);
            cr_assert_eq(c, f->c[i], "step %d page %d committer", step, i);
        }
    }
    for (int s = 0; s < NSTACKS; s++) {
        cr_assert_eq(a->res[s], res[s], "step %d stack %d reserved", step, s);
        cr_assert_eq(a->com[s], com[s], "step %d stack %d committed", step, s);
    }
    check_invariants(m, a);
}

Test(mmap_model, randomized_against_page_reference, .timeout = 120)
{
    struct nmt_mm m;
    struct acct a = {0};
    static struct ref f;
    memset(&f, 0, sizeof(f));
    nmt_mm_init(&m, on_delta, &a);
    uint64_t x = 0x2545F4914F6CDD1Dull;
#define RND(n) ((int)((x = x * 6364136223846793005ull + 1442695040888963407ull) >> 33) % (n))
    for (int step = 0; step < 20000; step++) {
        int len = 1 + RND(48);
        int pg = RND(REF_PAGES - len);
        uint32_t s = 1 + (uint32_t)RND(NSTACKS - 1);
        int access = RND(3) != 0;
        int prot = access ? PROT_READ | PROT_WRITE : PROT_NONE;
        uint64_t addr = BASE + (uint64_t)pg * P, bytes = (uint64_t)len * P - (uint64_t)RND(4000);
        switch (RND(5)) {
        case 0: {
            int fixed = RND(2);
            cr_assert_eq(nmt_mm_map(&m, addr, bytes, prot, ANON | (fixed ? MAP_FIXED : 0), s), 0);
            ref_map(&f, pg, len, access, fixed, s);
            break;
        }
        case 1:
            cr_assert_eq(nmt_mm_unmap(&m, addr, bytes), 0);
            ref_unmap(&f, pg, len);
            break;
        case 2:
            cr_assert_eq(nmt_mm_protect(&m, addr, bytes, prot, s), 0);
            ref_protect(&f, pg, len, access, s);
            break;
        default: {
            int nlen = 1 + RND(48);
            int npg = RND(3) == 0 ? pg : RND(REF_PAGES - nlen);
            if (npg == pg && pg + nlen > REF_PAGES)
                nlen = REF_PAGES - pg;
            cr_assert_eq(nmt_mm_remap(&m, addr, (uint64_t)len * P, BASE + (uint64_t)npg * P,
                                      (uint64_t)nlen * P, s),
                         0);
            ref_remap(&f, pg, len, npg, nlen, s);
            break;
        }
        }
        compare(&m, &a, &f, step);
    }
#undef RND
    nmt_mm_destroy(&m);
}

Test(mmap_model, allocation_failure_changes_nothing)
{
    if (!FAILALLOC_ENABLED)
        cr_skip_test("allocation failure injection is off under AddressSanitizer");
    struct nmt_mm m;
    struct acct a = {0};
    nmt_mm_init(&m, on_delta, &a);
    int fails = 0;
    for (int i = 0; i < 3000; i++) {
        uint64_t addr = BASE + (uint64_t)(i * 7 % 997) * 3 * P;
        struct acct before = a;
        size_t n = m.n;
        uint64_t res = nmt_mm_reserved(&m);
        failalloc_after = 0;
        int rc;
        switch (i % 3) {
        case 0:
            rc = nmt_mm_map(&m, addr, P, PROT_READ, ANON, (uint32_t)(1 + i % 7));
            break;
        case 1:
            rc = nmt_mm_protect(&m, addr, 2 * P, PROT_NONE, 2);
            break;
        default:
            rc = nmt_mm_remap(&m, addr, P, addr + 5000 * P, 3 * P, 3);
            break;
        }
        failalloc_after = -1;
        if (rc == -ENOMEM) {
            fails++;
            cr_assert_eq(m.n, n);
            cr_assert_eq(nmt_mm_reserved(&m), res);
            cr_assert_eq(memcmp(&before, &a, sizeof(a)), 0);
        } else {
            cr_assert_eq(rc, 0);
        }
    }
    cr_assert_geq(fails, 2);
    check_invariants(&m, &a);
    nmt_mm_destroy(&m);
}
