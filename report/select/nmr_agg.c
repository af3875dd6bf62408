/*
 * nmr_agg.c: groups rows by function, lib, class or allocation site (each
 * node found by a hash index of its key), computing flat (by allocation
 * site) and cum (any frame) values; see nmr_agg.h.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "nmr_agg.h"
#include "nmc_hash.h"
#include "nmr_owner.h"
#include "nmr_internal.h"

/* h with the string s (NULL: none) and a 0xff byte after it (never part of
 * UTF-8): ("ab", "c") and ("a", "bc") hash apart. */
static uint64_t hstr(uint64_t h, const char *s)
{
    return nmc_fnv1a_byte(nmc_fnv1a_str(h, s), 0xff);
}

static int streq(const char *a, const char *b)
{
    return a == b || (a && b && strcmp(a, b) == 0);
}

/* Key parts of a frame (or of the api when f is NULL). */
static void parts(enum nmr_agg_key key, const struct nmr_stack *s, const struct nmr_frame *f,
                  const char **fn, const char **lib, const char **cls)
{
    *fn = f ? f->function : s->api;
    *lib = f ? f->lib : "";
    *cls = f ? f->cls_name : "unknown";
    if (key == NMR_KEY_LIB)
        *fn = NULL;
    if (key == NMR_KEY_CLASS) {
        *fn = *lib = NULL;
        /* --by class tells the JDK's Java methods from the application's. */
        if (f && nmr_owner_frame_is_jdk(NULL, f))
            *cls = "jdk-java";
    }
}

static struct nmr_node *node_for(struct nmr_agg *a, const struct nmr_stack *s,
                                 const struct nmr_frame *f)
{
    const char *fn, *lib, *cls;
    parts(a->key, s, f, &fn, &lib, &cls);
    const char *kcls = a->key == NMR_KEY_CLASS ? cls : NULL;
    uint64_t h = hstr(hstr(hstr(NMC_FNV_OFFSET, fn), lib), kcls);
    struct nmr_hfind it = nmr_hindex_find(&a->index, h);
    size_t i;
    while (nmr_hfind_next(&it, &i)) {
        struct nmr_node *nd = &a->nodes[i];
        if (streq(nd->function, fn) && streq(nd->lib, lib) &&
            (a->key != NMR_KEY_CLASS || streq(nd->cls, cls)))
            return nd;
    }
    if (nmr__grow(&a->nodes, &a->cap, a->n + 1, sizeof(*a->nodes)) ||
        nmr_hindex_add(&a->index, h, a->n))
        return NULL;
    struct nmr_node *nd = &a->nodes[a->n];
    memset(nd, 0, sizeof(*nd));
    nd->function = fn;
    nd->lib = lib;
    nd->cls = cls;
    nd->frame = f;
    a->n++;
    return nd;
}

int nmr__agg_add(struct nmr_agg *a, const struct nmr_row *rows, size_t n)
{
    static uint64_t gen;
    for (size_t i = 0; i < n; i++) {
        const struct nmr_stack *s = rows[i].stack;
        const struct nmr_frame *site = nmr_stack_site(s);
        struct nmr_node *nd = node_for(a, s, site);
        if (!nd)
            return -ENOMEM;
        for (int k = 0; k < NMR_NVALUES; k++)
            nd->flat[k] = nmr_sat_add(nd->flat[k], rows[i].v[k]);
        gen++;
        uint32_t nf = s->nframes ? s->nframes : 1;
        for (uint32_t j = 0; j < nf; j++) {
            /* In the site view only the site itself gets cum. */
            const struct nmr_frame *f = s->nframes ? &s->frames[j] : NULL;
            if (a->key == NMR_KEY_SITE && f != site)
                continue;
            nd = node_for(a, s, f);
            if (!nd)
                return -ENOMEM;
            if (nd->gen == gen)
                continue;
            nd->gen = gen;
            for (int k = 0; k < NMR_NVALUES; k++)
                nd->cum[k] = nmr_sat_add(nd->cum[k], rows[i].v[k]);
        }
    }
    return 0;
}

static enum nmr_measure sort_m;

static uint64_t mag(int64_t v)
{
    return v < 0 ? (uint64_t)0 - (uint64_t)v : (uint64_t)v;
}

static int cmp_flat(const void *x, const void *y)
{
    const struct nmr_node *a = x, *b = y;
    if (mag(a->flat[sort_m]) != mag(b->flat[sort_m]))
        return mag(a->flat[sort_m]) > mag(b->flat[sort_m]) ? -1 : 1;
    if (mag(a->cum[sort_m]) != mag(b->cum[sort_m]))
        return mag(a->cum[sort_m]) > mag(b->cum[sort_m]) ? -1 : 1;
    int c = strcmp(a->function ? a->function : "", b->function ? b->function : "");
    if (c)
        return c;
    c = strcmp(a->lib ? a->lib : "", b->lib ? b->lib : "");
    return c ? c : strcmp(a->cls ? a->cls : "", b->cls ? b->cls : "");
}

void nmr__agg_sort_flat(struct nmr_agg *a, enum nmr_measure m)
{
    sort_m = m;
    if (a->n > 1)
        qsort(a->nodes, a->n, sizeof(*a->nodes), cmp_flat);
    /* The index now points at the wrong nodes: drop it (no more adds). */
    nmr_hindex_free(&a->index);
}

void nmr__agg_free(struct nmr_agg *a)
{
    free(a->nodes);
    nmr_hindex_free(&a->index);
    memset(a, 0, sizeof(*a));
}

char *nmr__node_label(char *buf, size_t n, const struct nmr_node *nd, enum nmr_agg_key key)
{
    if (key == NMR_KEY_CLASS)
        snprintf(buf, n, "%s", nd->cls);
    else if (key == NMR_KEY_LIB)
        snprintf(buf, n, "%s", nd->lib[0] ? nd->lib : "(no library)");
    else if (nd->lib[0])
        snprintf(buf, n, "%s [%s] (%s)", nd->function, nd->lib, nd->cls);
    else
        snprintf(buf, n, "%s (%s)", nd->function, nd->cls);
    return buf;
}
