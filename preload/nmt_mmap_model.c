/*
 * nmt_mmap_model.c: the address-space model for mmap accounting
 * (nmt_mmap_model.h).
 *
 * Owns the sorted segment array. Every operation is one or more calls of
 * apply(), which rewrites a page range [a, b): it walks the segments and the
 * gaps of the range as "pieces", maps each piece's owners through the
 * operation's rule, reports the difference through the delta callback, and
 * splices the resulting segments (plus the parts of the boundary segments
 * that stick out of the range) in place of the old ones. All memory an
 * operation can need is reserved before the first delta is reported, so a
 * failed operation has changed nothing.
 */
#include "nmt_mmap_model.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

enum op {
    OP_SET,     /* every page of the range -> (r, c), gaps included; r 0 removes */
    OP_FIXED,   /* MAP_FIXED: known pages keep r, c = new; gaps -> (stack, new c) */
    OP_PROTECT, /* known pages: c = 0 or (c ? c : stack); gaps stay gaps */
};

struct rule {
    enum op op;
    uint32_t r, c;  /* OP_SET */
    uint32_t stack; /* OP_FIXED, OP_PROTECT */
    int access;     /* OP_FIXED, OP_PROTECT: the new protection is not PROT_NONE */
};

/* Up to four (stack, d_reserved, d_committed) changes of one piece, merged by
 * stack, so that a piece whose owners do not change reports nothing. */
struct deltas {
    struct {
        uint32_t stack;
        int64_t dr, dc;
    } d[4];
    int n;
};

static void delta_add(struct deltas *ds, uint32_t stack, int64_t dr, int64_t dc)
{
    if (!stack)
        return;
    for (int i = 0; i < ds->n; i++) {
        if (ds->d[i].stack == stack) {
            ds->d[i].dr += dr;
            ds->d[i].dc += dc;
            return;
        }
    }
    ds->d[ds->n].stack = stack;
    ds->d[ds->n].dr = dr;
    ds->d[ds->n].dc = dc;
    ds->n++;
}

static void piece_delta(struct nmt_mm *m, uint32_t r0, uint32_t c0, uint32_t r1, uint32_t c1,
                        uint64_t len)
{
    struct deltas ds = {.n = 0};
    int64_t l = (int64_t)len;
    if (r0 != r1) {
        delta_add(&ds, r0, -l, 0);
        delta_add(&ds, r1, l, 0);
        m->reserved += (r1 ? len : 0) - (r0 ? len : 0);
    }
    if (c0 != c1) {
        delta_add(&ds, c0, 0, -l);
        delta_add(&ds, c1, 0, l);
        m->committed += (c1 ? len : 0) - (c0 ? len : 0);
    }
    if (!m->fn)
        return;
    for (int i = 0; i < ds.n; i++)
        if (ds.d[i].dr || ds.d[i].dc)
            m->fn(m->ctx, ds.d[i].stack, ds.d[i].dr, ds.d[i].dc);
}

size_t nmt_mm_first_after(const struct nmt_mm *m, uint64_t addr)
{
    size_t lo = 0, hi = m->n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (m->seg[mid].end <= addr)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

/* Index of the first segment starting at or after addr (n if none). */
static size_t first_starting(const struct nmt_mm *m, uint64_t addr)
{
    size_t lo = 0, hi = m->n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (m->seg[mid].start < addr)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

static int grow_array(struct nmt_mm_seg **a, size_t *cap, size_t need)
{
    if (need <= *cap)
        return 0;
    size_t ncap = *cap ? *cap : 64;
    while (ncap < need)
        ncap *= 2;
    struct nmt_mm_seg *p = realloc(*a, ncap * sizeof(*p));
    if (!p)
        return -ENOMEM;
    *a = p;
    *cap = ncap;
    return 0;
}

/* Room for an apply() over a range overlapping k segments: the range becomes
 * at most 2k + 1 pieces plus the two parts sticking out of it. */
static int reserve(struct nmt_mm *m, size_t segs, size_t tmp)
{
    if (grow_array(&m->seg, &m->cap, segs) < 0 || grow_array(&m->tmp, &m->tmp_cap, tmp) < 0)
        return -ENOMEM;
    return 0;
}

static void owners(const struct rule *ru, int known, uint32_t r0, uint32_t c0, uint32_t *r1,
                   uint32_t *c1)
{
    switch (ru->op) {
    case OP_SET:
        *r1 = ru->r;
        *c1 = ru->r ? ru->c : 0;
        return;
    case OP_FIXED:
        *r1 = known ? r0 : ru->stack;
        *c1 = ru->access ? ru->stack : 0;
        return;
    case OP_PROTECT:
        *r1 = r0;
        *c1 = !known || !ru->access ? 0 : (c0 ? c0 : ru->stack);
        return;
    }
}

static void push(struct nmt_mm *m, size_t *t, uint64_t s, uint64_t e, uint32_t r, uint32_t c)
{
    if (s >= e || !r)
        return;
    struct nmt_mm_seg *last = *t ? &m->tmp[*t - 1] : NULL;
    if (last && last->end == s && last->rstack == r && last->cstack == c) {
        last->end = e;
        return;
    }
    m->tmp[(*t)++] = (struct nmt_mm_seg){.start = s, .end = e, .rstack = r, .cstack = c};
}

/* Merges segment i with i + 1 when they touch and have the same owners. */
static int merge_next(struct nmt_mm *m, size_t i)
{
    if (i + 1 >= m->n)
        return 0;
    struct nmt_mm_seg *a = &m->seg[i], *b = &m->seg[i + 1];
    if (a->end != b->start || a->rstack != b->rstack || a->cstack != b->cstack)
        return 0;
    a->end = b->end;
    memmove(b, b + 1, (m->n - i - 2) * sizeof(*b));
    m->n--;
    return 1;
}

/* Rewrites [a, b) by rule ru. */
static int apply(struct nmt_mm *m, uint64_t a, uint64_t b, const struct rule *ru)
{
    size_t lo = nmt_mm_first_after(m, a), hi = first_starting(m, b);
    size_t k = hi > lo ? hi - lo : 0;
    if (reserve(m, m->n + k + 3, 2 * k + 3) < 0)
        return -ENOMEM;
    size_t t = 0;
    uint64_t cur = a;
    uint32_t r1 = 0, c1 = 0;
    if (k && m->seg[lo].start < a)
        push(m, &t, m->seg[lo].start, a, m->seg[lo].rstack, m->seg[lo].cstack);
    for (size_t i = lo; i < hi; i++) {
        const struct nmt_mm_seg s = m->seg[i];
        uint64_t ps = s.start > a ? s.start : a, pe = s.end < b ? s.end : b;
        if (cur < ps) {
            owners(ru, 0, 0, 0, &r1, &c1);
            piece_delta(m, 0, 0, r1, c1, ps - cur);
            push(m, &t, cur, ps, r1, c1);
        }
        owners(ru, 1, s.rstack, s.cstack, &r1, &c1);
        piece_delta(m, s.rstack, s.cstack, r1, c1, pe - ps);
        push(m, &t, ps, pe, r1, c1);
        cur = pe;
    }
    if (cur < b) {
        owners(ru, 0, 0, 0, &r1, &c1);
        piece_delta(m, 0, 0, r1, c1, b - cur);
        push(m, &t, cur, b, r1, c1);
    }
    if (k && m->seg[hi - 1].end > b)
        push(m, &t, b, m->seg[hi - 1].end, m->seg[hi - 1].rstack, m->seg[hi - 1].cstack);

    /* Splice tmp[0, t) in place of seg[lo, hi). */
    memmove(m->seg + lo + t, m->seg + hi, (m->n - hi) * sizeof(*m->seg));
    memcpy(m->seg + lo, m->tmp, t * sizeof(*m->seg));
    m->n = m->n - k + t;
    /* Only the seams at either end can need merging: tmp is merged within. */
    size_t end = lo + t;
    if (end > 0)
        merge_next(m, end - 1);
    if (lo > 0)
        merge_next(m, lo - 1);
    return 0;
}

/* Page-aligns [addr, addr + len): -EINVAL when it wraps, 1 when empty. */
static int range(const struct nmt_mm *m, uint64_t addr, uint64_t len, uint64_t *a, uint64_t *b)
{
    if (len == 0)
        return 1;
    uint64_t mask = m->page - 1;
    if (addr + len < addr || addr + len + mask < addr + len)
        return -EINVAL;
    *a = addr & ~mask;
    *b = (addr + len + mask) & ~mask;
    return 0;
}

int nmt_mm_init_page(struct nmt_mm *m, nmt_mm_delta_fn fn, void *ctx, uint64_t page_size)
{
    memset(m, 0, sizeof(*m));
    if (page_size == 0 || (page_size & (page_size - 1)))
        return -EINVAL;
    m->fn = fn;
    m->ctx = ctx;
    m->page = page_size;
    return 0;
}

int nmt_mm_init(struct nmt_mm *m, nmt_mm_delta_fn fn, void *ctx)
{
    return nmt_mm_init_page(m, fn, ctx, 4096);
}

void nmt_mm_destroy(struct nmt_mm *m)
{
    free(m->seg);
    free(m->tmp);
    memset(m, 0, sizeof(*m));
}

int nmt_mm_map(struct nmt_mm *m, uint64_t addr, uint64_t len, int prot, int flags, uint32_t stack)
{
    uint64_t a, b;
    int rc = range(m, addr, len, &a, &b);
    if (rc)
        return rc < 0 ? rc : 0;
    int access = prot != PROT_NONE;
    struct rule ru;
    if (flags & MAP_FIXED)
        ru = (struct rule){.op = OP_FIXED, .stack = stack, .access = access};
    else
        ru = (struct rule){.op = OP_SET, .r = stack, .c = access ? stack : 0};
    return apply(m, a, b, &ru);
}

int nmt_mm_unmap(struct nmt_mm *m, uint64_t addr, uint64_t len)
{
    uint64_t a, b;
    int rc = range(m, addr, len, &a, &b);
    if (rc)
        return rc < 0 ? rc : 0;
    const struct rule ru = {.op = OP_SET, .r = 0, .c = 0};
    return apply(m, a, b, &ru);
}

int nmt_mm_protect(struct nmt_mm *m, uint64_t addr, uint64_t len, int prot, uint32_t stack)
{
    uint64_t a, b;
    int rc = range(m, addr, len, &a, &b);
    if (rc)
        return rc < 0 ? rc : 0;
    const struct rule ru = {.op = OP_PROTECT, .stack = stack, .access = prot != PROT_NONE};
    return apply(m, a, b, &ru);
}

int nmt_mm_remap(struct nmt_mm *m, uint64_t old_addr, uint64_t old_len, uint64_t new_addr,
                 uint64_t new_len, uint32_t stack)
{
    uint64_t oa, ob, na, nb;
    int rc = range(m, new_addr, new_len, &na, &nb);
    if (rc)
        return rc < 0 ? rc : -EINVAL; /* mremap never succeeds with new_len 0 */
    rc = range(m, old_addr, old_len, &oa, &ob);
    if (rc < 0)
        return rc;
    if (rc == 1) {
        /* old_len 0 duplicates a shared mapping: a new mapping for us. */
        const struct rule ru = {.op = OP_SET, .r = stack, .c = stack};
        return apply(m, na, nb, &ru);
    }
    uint64_t keep = ob - oa < nb - na ? ob - oa : nb - na;

    /* Growth takes the owners of the old region's last known segment. */
    uint32_t gr = stack, gc = stack;
    size_t last = first_starting(m, ob);
    if (last > 0 && m->seg[last - 1].end > oa) {
        gr = m->seg[last - 1].rstack;
        gc = m->seg[last - 1].cstack;
    }

    /* Copy the moving segments before anything changes, and reserve every
     * byte the three steps below can need, so none of them can fail. */
    size_t lo = nmt_mm_first_after(m, oa), hi = first_starting(m, oa + keep);
    size_t km = hi > lo ? hi - lo : 0;
    struct nmt_mm_seg *mv = NULL;
    if (km) {
        mv = malloc(km * sizeof(*mv));
        if (!mv)
            return -ENOMEM;
        for (size_t i = 0; i < km; i++) {
            struct nmt_mm_seg s = m->seg[lo + i];
            s.start = s.start > oa ? s.start : oa;
            s.end = s.end < oa + keep ? s.end : oa + keep;
            s.start = s.start - oa + na;
            s.end = s.end - oa + na;
            mv[i] = s;
        }
    }
    if (reserve(m, m->n + 3 * km + 16, 2 * m->n + 2 * km + 16) < 0) {
        free(mv);
        return -ENOMEM;
    }
    const struct rule gone = {.op = OP_SET, .r = 0, .c = 0};
    apply(m, oa, ob, &gone);
    apply(m, na, nb, &gone);
    for (size_t i = 0; i < km; i++) {
        const struct rule put = {.op = OP_SET, .r = mv[i].rstack, .c = mv[i].cstack};
        apply(m, mv[i].start, mv[i].end, &put);
    }
    if (nb - na > keep) {
        const struct rule grow = {.op = OP_SET, .r = gr, .c = gc};
        apply(m, na + keep, nb, &grow);
    }
    free(mv);
    return 0;
}

uint64_t nmt_mm_reserved(const struct nmt_mm *m)
{
    return m->reserved;
}

uint64_t nmt_mm_committed(const struct nmt_mm *m)
{
    return m->committed;
}

size_t nmt_mm_count(const struct nmt_mm *m)
{
    return m->n;
}

int nmt_mm_lookup(const struct nmt_mm *m, uint64_t addr, uint32_t *rstack, uint32_t *cstack)
{
    size_t i = nmt_mm_first_after(m, addr);
    if (i == m->n || m->seg[i].start > addr)
        return 0;
    *rstack = m->seg[i].rstack;
    *cstack = m->seg[i].cstack;
    return 1;
}
