/*
 * nmr_select.c: builds what a view receives (struct nmr_view) from the
 * loaded profiles and the options: picks the snapshot of each file, sums the
 * files, subtracts the base, symbolizes the stacks that have data, applies
 * --focus/--ignore, computes totals and sorts the rows.
 *
 * Matching rule (documented in nmr_view.h and docs/nmreport.1): within one
 * file rows are keyed by stack id; as soon as two files are involved (several
 * profiles, or --base FILE) they are keyed by the symbolized stack (api +
 * function and lib of every frame), because addresses differ per process.
 */
#include <errno.h>
#include <stdlib.h>

#include "nmc_hash.h"
#include "nmr_hindex.h"
#include "nmr_internal.h"
#include "nmr_select.h"

struct builder {
    struct nmr_row *rows;
    size_t nrows, cap;
    int by_sig;
    /* by id: index+1 into rows per stack id of the single profile */
    size_t *by_id;
    size_t nby_id;
    /* by signature: sigs[row] (owned), found by the index of their hashes */
    char **sigs;
    size_t nsigs, cap_sigs;
    struct nmr_hindex by_hash;
};

static void site_values(const struct nmr_site *s, int64_t v[NMR_NVALUES])
{
    v[NMR_INUSE_SPACE] = nmr_sat_i64(s->live_bytes);
    v[NMR_INUSE_OBJECTS] = nmr_sat_i64(s->live_objects);
    v[NMR_ALLOC_SPACE] = nmr_sat_i64(s->alloc_bytes);
    v[NMR_ALLOC_OBJECTS] = nmr_sat_i64(s->alloc_objects);
    v[NMR_RESERVED] = nmr_sat_i64(s->reserved);
    v[NMR_COMMITTED] = nmr_sat_i64(s->committed);
    v[NMR_LIVE_SAMPLES] = nmr_sat_i64(s->live_samples);
    v[NMR_ALLOC_SAMPLES] = nmr_sat_i64(s->alloc_samples);
}

/* The signature of a symbolized stack: what identifies it across files. */
static char *signature(const struct nmr_stack *s, uint64_t *hash)
{
    size_t len = strlen(s->api) + 2;
    for (uint32_t i = 0; i < s->nframes; i++)
        len += strlen(s->frames[i].function) + strlen(s->frames[i].lib) + 2;
    char *sig = malloc(len);
    if (!sig)
        return NULL;
    char *q = sig;
    q += sprintf(q, "%s|", s->api);
    for (uint32_t i = 0; i < s->nframes; i++)
        q += sprintf(q, "%s@%s;", s->frames[i].function, s->frames[i].lib);
    *hash = nmc_fnv1a(NMC_FNV_OFFSET, sig, (size_t)(q - sig));
    return sig;
}

/* The row of a stack, created (zeroed) when new. Returns NULL on ENOMEM. */
static struct nmr_row *row_for(struct builder *b, struct nmr_profile *p, struct nmr_stack *st)
{
    size_t idx;
    if (!b->by_sig) {
        if (st->id < b->nby_id && b->by_id[st->id])
            return &b->rows[b->by_id[st->id] - 1];
        idx = b->nrows;
        if (st->id >= b->nby_id)
            return NULL; /* cannot happen: sized to the profile's slots */
        b->by_id[st->id] = idx + 1;
    } else {
        uint64_t h;
        char *sig = signature(st, &h);
        if (!sig)
            return NULL;
        struct nmr_hfind f = nmr_hindex_find(&b->by_hash, h);
        while (nmr_hfind_next(&f, &idx)) {
            if (strcmp(b->sigs[idx], sig) == 0) {
                free(sig);
                return &b->rows[idx];
            }
        }
        idx = b->nrows;
        if (nmr__grow(&b->sigs, &b->cap_sigs, idx + 1, sizeof(*b->sigs)) ||
            nmr_hindex_add(&b->by_hash, h, idx)) {
            free(sig);
            return NULL;
        }
        b->sigs[idx] = sig;
        b->nsigs = idx + 1;
    }
    if (nmr__grow(&b->rows, &b->cap, b->nrows + 1, sizeof(*b->rows)))
        return NULL;
    struct nmr_row *r = &b->rows[b->nrows++];
    memset(r, 0, sizeof(*r));
    r->profile = p;
    r->stack = st;
    return r;
}

static int add_snapshot(struct builder *b, struct nmr_profile *p, const struct nmr_snapshot *s,
                        int sign)
{
    for (size_t i = 0; i < s->nsites; i++) {
        struct nmr_stack *st = nmr_stack_get(p, s->sites[i].stack_id);
        if (!st)
            continue; /* the reader guarantees it exists */
        if (nmr__symbolize(p, st))
            return -ENOMEM;
        struct nmr_row *r = row_for(b, p, st);
        if (!r)
            return -ENOMEM;
        int64_t v[NMR_NVALUES];
        site_values(&s->sites[i], v);
        for (int k = 0; k < NMR_NVALUES; k++)
            r->v[k] = sign > 0 ? nmr_sat_add(r->v[k], v[k]) : nmr_sat_sub(r->v[k], v[k]);
    }
    return 0;
}

static enum nmr_measure sort_measure;

static int cmp_row(const void *a, const void *b)
{
    const struct nmr_row *x = a, *y = b;
    int64_t vx = x->v[sort_measure], vy = y->v[sort_measure];
    uint64_t ax = vx < 0 ? (uint64_t)0 - (uint64_t)vx : (uint64_t)vx;
    uint64_t ay = vy < 0 ? (uint64_t)0 - (uint64_t)vy : (uint64_t)vy;
    if (ax != ay)
        return ax > ay ? -1 : 1;
    if (vx != vy)
        return vx > vy ? -1 : 1;
    if (x->stack->id != y->stack->id)
        return x->stack->id < y->stack->id ? -1 : 1;
    return 0;
}

/* Drops empty rows and rows --focus/--ignore reject; sums; sorts. */
static void finish_rows(const struct nmr_opts *o, enum nmr_measure m, struct nmr_row *rows,
                        size_t *nrows, int64_t total[NMR_NVALUES], int64_t total_all[NMR_NVALUES])
{
    size_t k = 0;
    for (size_t i = 0; i < *nrows; i++) {
        int any = 0;
        for (int j = 0; j < NMR_NVALUES; j++)
            any |= rows[i].v[j] != 0;
        if (!any)
            continue;
        if (total_all)
            for (int j = 0; j < NMR_NVALUES; j++)
                total_all[j] = nmr_sat_add(total_all[j], rows[i].v[j]);
        if (!nmr_stack_selected(o, rows[i].stack))
            continue;
        for (int j = 0; j < NMR_NVALUES; j++)
            total[j] = nmr_sat_add(total[j], rows[i].v[j]);
        rows[k++] = rows[i];
    }
    *nrows = k;
    sort_measure = m;
    if (k > 1)
        qsort(rows, k, sizeof(*rows), cmp_row);
}

static void builder_free(struct builder *b)
{
    for (size_t i = 0; i < b->nsigs; i++)
        free(b->sigs[i]);
    free(b->sigs);
    nmr_hindex_free(&b->by_hash);
    free(b->by_id);
}

const struct nmr_snapshot *nmr__find_snapshot(const struct nmr_profile *p, long seq)
{
    if (seq < 0)
        return &p->snaps[p->nsnaps - 1];
    for (size_t i = 0; i < p->nsnaps; i++)
        if ((long)p->snaps[i].seq == seq)
            return &p->snaps[i];
    return NULL;
}

static int pick(const struct nmr_profile *p, long seq, const struct nmr_snapshot **out, char *err,
                size_t errlen)
{
    *out = nmr__find_snapshot(p, seq);
    if (!*out)
        return nmr__errf(err, errlen, -ENOENT, "%s: no snapshot %ld (the file has seq %u to %u)",
                         p->path, seq, p->snaps[0].seq, p->snaps[p->nsnaps - 1].seq);
    return 0;
}

int nmr__view_build(struct nmr_view *v, struct nmr_sel *sel, const struct nmr_opts *o,
                    struct nmr_profile **profiles, size_t n, struct nmr_profile *base, int no_rows,
                    char *err, size_t errlen)
{
    memset(v, 0, sizeof(*v));
    memset(sel, 0, sizeof(*sel));
    int rc;
    struct nmr_sym_opts so = nmr__sym_opts(o);
    sel->snaps = calloc(n, sizeof(*sel->snaps));
    if (!sel->snaps)
        return nmr__errf(err, errlen, -ENOMEM, "out of memory");
    for (size_t i = 0; i < n; i++) {
        if ((rc = pick(profiles[i], o->snapshot, &sel->snaps[i], err, errlen)))
            return rc;
        if ((rc = nmr__sym_open(profiles[i], &so, sel->snaps[i])))
            return nmr__errf(err, errlen, rc, "%s: cannot start the symbolizer: %s",
                             profiles[i]->path, strerror(-rc));
    }
    const struct nmr_profile *bp = NULL;
    const struct nmr_snapshot *bs = NULL;
    if (base) {
        bp = base;
        if ((rc = pick(base, o->base_snapshot >= 0 ? o->base_snapshot : -1, &bs, err, errlen)))
            return rc;
        if ((rc = nmr__sym_open(base, &so, bs)))
            return nmr__errf(err, errlen, rc, "%s: cannot start the symbolizer: %s", base->path,
                             strerror(-rc));
    } else if (o->base_snapshot >= 0) {
        if (n != 1)
            return nmr__errf(err, errlen, -EINVAL,
                             "--base-snapshot without --base needs exactly one profile");
        bp = profiles[0];
        if ((rc = pick(bp, o->base_snapshot, &bs, err, errlen)))
            return rc;
    }

    struct builder b = {0};
    b.by_sig = n > 1 || (bp && bp != profiles[0]);
    if (!b.by_sig) {
        b.nby_id = profiles[0]->nstack_slots;
        b.by_id = calloc(b.nby_id ? b.nby_id : 1, sizeof(*b.by_id));
        if (!b.by_id)
            return nmr__errf(err, errlen, -ENOMEM, "out of memory");
    }
    rc = 0;
    for (size_t i = 0; i < n && !rc && !no_rows; i++)
        rc = add_snapshot(&b, profiles[i], sel->snaps[i], 1);
    if (!rc && bp && !no_rows)
        rc = add_snapshot(&b, (struct nmr_profile *)bp, bs, -1);
    builder_free(&b);
    if (rc) {
        free(b.rows);
        return nmr__errf(err, errlen, rc, "out of memory");
    }
    finish_rows(o, o->measure, b.rows, &b.nrows, v->total, v->total_all);
    sel->rows = b.rows;
    v->out = stdout;
    v->opt = o;
    v->profiles = profiles;
    v->nprofiles = n;
    v->snaps = sel->snaps;
    v->base_profile = bp;
    v->base_snap = bs;
    v->measure = o->measure;
    v->rows = b.rows;
    v->nrows = b.nrows;
    return 0;
}

void nmr__sel_free(struct nmr_sel *sel)
{
    free(sel->snaps);
    free(sel->rows);
    memset(sel, 0, sizeof(*sel));
}
