/*
 * nmr_series.c: groups every stack of a profile by its allocation site
 * (function + lib) and sums a measure per snapshot, giving one time series
 * per site for the views over time.
 */
#include <errno.h>
#include <stdlib.h>

#include "nmr_internal.h"
#include "nmr_series.h"

static uint64_t hkey(const char *fn, const char *lib)
{
    return nmr__hash_fn_lib(0, fn, lib);
}

static const char *kfn(const struct nmr_series_key *k)
{
    return k->site ? k->site->function : k->api;
}

static const char *klib(const struct nmr_series_key *k)
{
    return k->site ? k->site->lib : "";
}

static int64_t measure_of(const struct nmr_site *s, enum nmr_measure m)
{
    switch (m) {
    case NMR_INUSE_SPACE:
        return (int64_t)s->live_bytes;
    case NMR_INUSE_OBJECTS:
        return (int64_t)s->live_objects;
    case NMR_ALLOC_SPACE:
        return (int64_t)s->alloc_bytes;
    case NMR_ALLOC_OBJECTS:
        return (int64_t)s->alloc_objects;
    case NMR_RESERVED:
        return (int64_t)s->reserved;
    case NMR_COMMITTED:
        return (int64_t)s->committed;
    case NMR_LIVE_SAMPLES:
        return (int64_t)s->live_samples;
    default:
        return (int64_t)s->alloc_samples;
    }
}

/* The open-addressing table from site (function + lib) to key index + 1. */
struct keytab {
    size_t *slots;
    size_t nslots; /* a power of two, at least twice the keys */
};

/* Doubles the table, placing every key again; 0 or -ENOMEM. */
static int rehash(struct keytab *t, const struct nmr_series *out)
{
    size_t n2 = t->nslots * 2, *s2 = calloc(n2, sizeof(*s2));
    if (!s2)
        return -ENOMEM;
    for (size_t i = 0; i < out->nkeys; i++) {
        size_t h = hkey(kfn(&out->keys[i]), klib(&out->keys[i])) & (n2 - 1);
        while (s2[h])
            h = (h + 1) & (n2 - 1);
        s2[h] = i + 1;
    }
    free(t->slots);
    t->slots = s2;
    t->nslots = n2;
    return 0;
}

/* Appends key k with a zero series; 0 or -ENOMEM. */
static int append_key(struct nmr_series *out, const struct nmr_series_key *k)
{
    size_t capk = out->cap; /* keys and val share a capacity */
    void *keys = out->keys;
    if (nmr__grow(&keys, &capk, out->nkeys + 1, sizeof(*out->keys)))
        return -ENOMEM;
    out->keys = keys;
    if (capk > out->cap) {
        int64_t *nv = realloc(out->val, capk * out->nsnaps * sizeof(*nv));
        if (!nv)
            return -ENOMEM;
        memset(nv + out->cap * out->nsnaps, 0, (capk - out->cap) * out->nsnaps * sizeof(*nv));
        out->val = nv;
        out->cap = capk;
    }
    out->keys[out->nkeys] = *k;
    return 0;
}

/* The index + 1 of k's series, appended when new; 0 when out of memory. */
static size_t key_of(struct keytab *t, struct nmr_series *out, const struct nmr_series_key *k)
{
    if ((out->nkeys + 1) * 2 > t->nslots && rehash(t, out))
        return 0;
    size_t h = hkey(kfn(k), klib(k)) & (t->nslots - 1);
    while (t->slots[h]) {
        const struct nmr_series_key *o = &out->keys[t->slots[h] - 1];
        if (strcmp(kfn(o), kfn(k)) == 0 && strcmp(klib(o), klib(k)) == 0)
            break;
        h = (h + 1) & (t->nslots - 1);
    }
    if (!t->slots[h]) {
        if (append_key(out, k))
            return 0;
        t->slots[h] = ++out->nkeys;
    }
    return t->slots[h];
}

int nmr__series_build(const struct nmr_view *v, struct nmr_profile *p, enum nmr_measure m,
                      struct nmr_series *out)
{
    memset(out, 0, sizeof(*out));
    out->p = p;
    out->nsnaps = p->nsnaps;
    struct nmr_sym_opts so = nmr__sym_opts(v->opt);
    if (!p->sym && nmr__sym_open(p, &so, &p->snaps[p->nsnaps - 1]))
        return -ENOMEM;
    /* key index + 1 per stack id; SIZE_MAX: filtered out */
    size_t *kid = calloc(p->nstack_slots ? p->nstack_slots : 1, sizeof(*kid));
    struct keytab t = {calloc(1024, sizeof(size_t)), 1024};
    int rc = -ENOMEM;
    if (!kid || !t.slots)
        goto out;
    for (size_t si = 0; si < p->nsnaps; si++) {
        const struct nmr_snapshot *s = &p->snaps[si];
        for (size_t e = 0; e < s->nsites; e++) {
            uint32_t id = s->sites[e].stack_id;
            if (!kid[id]) {
                struct nmr_stack *st = nmr_stack_get(p, id);
                if (!st || nmr__symbolize(p, st))
                    goto out;
                if (!nmr_stack_selected(v->opt, st)) {
                    kid[id] = SIZE_MAX;
                    continue;
                }
                struct nmr_series_key k = {nmr_stack_site(st), st->api};
                if (!(kid[id] = key_of(&t, out, &k)))
                    goto out;
            }
            if (kid[id] == SIZE_MAX)
                continue;
            int64_t *cell = &out->val[(kid[id] - 1) * out->nsnaps + si];
            *cell = nmr_sat_add(*cell, measure_of(&s->sites[e], m));
        }
    }
    rc = 0;
out:
    free(kid);
    free(t.slots);
    if (rc)
        nmr__series_free(out);
    return rc;
}

void nmr__series_free(struct nmr_series *s)
{
    free(s->keys);
    free(s->val);
    memset(s, 0, sizeof(*s));
}

char *nmr__series_label(char *buf, size_t n, const struct nmr_series_key *k)
{
    if (!k->site)
        snprintf(buf, n, "%s (no frames)", k->api);
    else if (k->site->lib[0])
        snprintf(buf, n, "%s [%s] (%s)", k->site->function, k->site->lib, k->site->cls_name);
    else
        snprintf(buf, n, "%s (%s)", k->site->function, k->site->cls_name);
    return buf;
}
