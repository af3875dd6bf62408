/*
 * nmr_series.c: groups every stack of a profile by its key (allocation
 * site, owner, or both) and sums a measure per snapshot, giving one time
 * series per key for the views over time. A key is identified by its label,
 * so two stacks share a series exactly when they would be shown alike.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>

#include "nmc_hash.h"
#include "nmr_hindex.h"
#include "nmr_internal.h"
#include "nmr_series.h"

int64_t nmr__site_measure(const struct nmr_site *s, int m)
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
    case NMR_ALLOC_SAMPLES:
        return (int64_t)s->alloc_samples;
    default: /* NMR_SERIES_BYTES: a stack is either malloc or mmap */
        return nmr_sat_add((int64_t)s->live_bytes, (int64_t)s->committed);
    }
}

enum nmr_keyby nmr__series_keyby(const struct nmr_view *v, const struct nmr_profile *p)
{
    if (v->opt->key != NMR_KEYBY_AUTO)
        return v->opt->key;
    if (!p->njmethods)
        return NMR_KEYBY_SITE;
    struct nmr_owner_rules r; /* Java frames of a JVM (libjvm.so mapped) */
    nmr_owner_rules_init(&r, p, NULL);
    return r.has_jvm ? NMR_KEYBY_PATH : NMR_KEYBY_SITE;
}

static char *site_text(char *buf, size_t n, const struct nmr_frame *site, const char *api)
{
    if (!site)
        snprintf(buf, n, "%s (no frames)", api);
    else if (site->lib[0])
        snprintf(buf, n, "%s [%s] (%s)", site->function, site->lib, site->cls_name);
    else
        snprintf(buf, n, "%s (%s)", site->function, site->cls_name);
    return buf;
}

/* Whether the owner is the allocation site itself (a path is then the site). */
static int owner_is_site(const struct nmr_series_key *k)
{
    return k->site && k->owner.frame >= 0 && &k->stack->frames[k->owner.frame] == k->site;
}

void nmr__series_key_text(char *buf, size_t n, enum nmr_keyby by, const struct nmr_series_key *k)
{
    char s[1024], o[2048];
    site_text(s, sizeof(s), k->site, k->api);
    nmr_owner_label(o, sizeof(o), k->stack, &k->owner, 0);
    if (by == NMR_KEYBY_SITE || (by == NMR_KEYBY_PATH && owner_is_site(k)))
        snprintf(buf, n, "%s", s);
    else if (by == NMR_KEYBY_OWNER)
        snprintf(buf, n, "%s: %s", nmr_owner_kind_name(k->owner.kind), o);
    else
        snprintf(buf, n, "%s <- %s", s, o);
}

char *nmr__series_short(char *buf, size_t n, const struct nmr_series *se,
                        const struct nmr_series_key *k)
{
    char o[2048];
    const char *fn = k->site ? k->site->function : k->api;
    if (se->key == NMR_KEYBY_SITE || (se->key == NMR_KEYBY_PATH && owner_is_site(k)))
        snprintf(buf, n, "%s", fn);
    else if (se->key == NMR_KEYBY_OWNER)
        snprintf(buf, n, "%s", nmr_owner_label(o, sizeof(o), k->stack, &k->owner, 0));
    else
        snprintf(buf, n, "%s <- %s", fn, nmr_owner_label(o, sizeof(o), k->stack, &k->owner, 0));
    return buf;
}

/* Index + 1 of the key with label text, adding it. 0 on ENOMEM. */
static size_t intern(struct nmr_series *out, struct nmr_hindex *labels,
                     const struct nmr_series_key *k, const char *text)
{
    uint64_t h = nmc_fnv1a_str(NMC_FNV_OFFSET, text);
    struct nmr_hfind f = nmr_hindex_find(labels, h);
    size_t i;
    while (nmr_hfind_next(&f, &i))
        if (strcmp(out->keys[i].label, text) == 0)
            return i + 1;
    size_t capk = out->cap; /* keys and val share a capacity */
    void *keys = out->keys;
    if (nmr__grow(&keys, &capk, out->nkeys + 1, sizeof(*out->keys)))
        return 0;
    out->keys = keys;
    if (capk > out->cap) {
        int64_t *nv = realloc(out->val, capk * out->nsnaps * sizeof(*nv));
        if (!nv)
            return 0;
        memset(nv + out->cap * out->nsnaps, 0, (capk - out->cap) * out->nsnaps * sizeof(*nv));
        out->val = nv;
        out->cap = capk;
    }
    char *label = strdup(text);
    if (!label || nmr_hindex_add(labels, h, out->nkeys)) {
        free(label);
        return 0;
    }
    out->keys[out->nkeys] = *k;
    out->keys[out->nkeys].label = label;
    return ++out->nkeys;
}

/* The key index + 1 of stack id (SIZE_MAX: filtered out), 0 on error. */
static size_t key_of(const struct nmr_view *v, struct nmr_profile *p, struct nmr_series *out,
                     uint32_t id, struct nmr_hindex *labels)
{
    struct nmr_stack *st = nmr_stack_get(p, id);
    if (!st || nmr__symbolize(p, st))
        return 0;
    if (!nmr_stack_selected(v->opt, st))
        return SIZE_MAX;
    struct nmr_series_key k = {nmr_stack_site(st), st->api, st, {0}, NULL, 0, 0};
    nmr_owner_of(&out->rules, st, &k.owner);
    char text[4096];
    nmr__series_key_text(text, sizeof(text), out->key, &k);
    char tag[64] = "";
    if (out->tag)
        out->tag(out, &k, tag, sizeof(tag));
    if (tag[0]) {
        size_t n = strlen(text);
        snprintf(text + n, sizeof(text) - n, " [%s]", tag);
    }
    return intern(out, labels, &k, text);
}

int nmr__series_build(const struct nmr_view *v, struct nmr_profile *p, enum nmr_measure m,
                      struct nmr_series *out)
{
    return nmr__series_build_tagged(v, p, (int)m, NULL, out);
}

int nmr__series_build_tagged(const struct nmr_view *v, struct nmr_profile *p, int m,
                             void (*tag)(const struct nmr_series *, const struct nmr_series_key *,
                                         char *, size_t),
                             struct nmr_series *out)
{
    memset(out, 0, sizeof(*out));
    out->tag = tag;
    out->p = p;
    out->nsnaps = p->nsnaps;
    out->key = nmr__series_keyby(v, p);
    nmr_owner_rules_init(&out->rules, p, v->opt->app);
    struct nmr_sym_opts so = nmr__sym_opts(v->opt);
    if (!p->sym && nmr__sym_open(p, &so, &p->snaps[p->nsnaps - 1]))
        return -ENOMEM;
    /* key index + 1 per stack id; SIZE_MAX: filtered out */
    size_t *kid = calloc(p->nstack_slots ? p->nstack_slots : 1, sizeof(*kid));
    struct nmr_hindex labels = {0}; /* of out->keys */
    int rc = -ENOMEM;
    if (!kid)
        goto out;
    for (size_t si = 0; si < p->nsnaps; si++) {
        const struct nmr_snapshot *s = &p->snaps[si];
        for (size_t e = 0; e < s->nsites; e++) {
            uint32_t id = s->sites[e].stack_id;
            if (!kid[id] && !(kid[id] = key_of(v, p, out, id, &labels)))
                goto out;
            if (kid[id] == SIZE_MAX)
                continue;
            int64_t *cell = &out->val[(kid[id] - 1) * out->nsnaps + si];
            *cell = nmr_sat_add(*cell, nmr__site_measure(&s->sites[e], m));
            if (si == p->nsnaps - 1) {
                struct nmr_series_key *k = &out->keys[kid[id] - 1];
                k->live_samples = nmr_sat_add(k->live_samples, (int64_t)s->sites[e].live_samples);
            }
            if (s->sites[e].committed)
                out->keys[kid[id] - 1].mmap = 1;
        }
    }
    rc = 0;
out:
    free(kid);
    nmr_hindex_free(&labels);
    if (rc)
        nmr__series_free(out);
    return rc;
}

void nmr__series_free(struct nmr_series *s)
{
    for (size_t i = 0; i < s->nkeys; i++)
        free(s->keys[i].label);
    free(s->keys);
    free(s->val);
    memset(s, 0, sizeof(*s));
}

char *nmr__series_label(char *buf, size_t n, const struct nmr_series_key *k)
{
    snprintf(buf, n, "%s", k->label);
    return buf;
}
