/*
 * nmr_keytab.c: the selected measure rolled up by --key (owner or path,
 * nmr_series.h), largest first: the default text view of a profile with
 * Java frames, and --by owner. Every stack has one key, so the lines sum to
 * the total; in a diff (--base) the values are the differences.
 */
#include <stdlib.h>

#include "nmr_diag.h"
#include "nmr_diag_views.h"
#include "nmc_hash.h"
#include "nmr_hindex.h"
#include "nmr_internal.h"

struct group {
    char *label;
    const char *kind; /* the owner's kind */
    int64_t val;
};

static int cmp_group(const void *a, const void *b)
{
    const struct group *x = a, *y = b;
    int64_t ax = x->val < 0 ? -x->val : x->val, ay = y->val < 0 ? -y->val : y->val;
    if (ax != ay)
        return ax > ay ? -1 : 1;
    return strcmp(x->label, y->label);
}

/* Adds val to the group labelled text (a linear search over few keys would
 * not do for thousands of paths: a hash index of the labels). */
struct table {
    struct group *g;
    size_t n, cap;
    struct nmr_hindex index;
};

static int add(struct table *t, const char *text, const char *kind, int64_t val)
{
    uint64_t h = nmc_fnv1a_str(NMC_FNV_OFFSET, text);
    struct nmr_hfind f = nmr_hindex_find(&t->index, h);
    size_t i;
    while (nmr_hfind_next(&f, &i)) {
        struct group *g = &t->g[i];
        if (strcmp(g->label, text) == 0) {
            g->val = nmr_sat_add(g->val, val);
            return 0;
        }
    }
    char *l = strdup(text);
    if (!l || nmr__grow(&t->g, &t->cap, t->n + 1, sizeof(*t->g)) ||
        nmr_hindex_add(&t->index, h, t->n)) {
        free(l);
        return -1;
    }
    t->g[t->n++] = (struct group){l, kind, val};
    return 0;
}

static void table_free(struct table *t)
{
    for (size_t i = 0; i < t->n; i++)
        free(t->g[i].label);
    free(t->g);
    nmr_hindex_free(&t->index);
}

static int fill(const struct nmr_view *v, enum nmr_keyby by, struct table *t)
{
    const struct nmr_profile *last = NULL;
    struct nmr_owner_rules rules;
    for (size_t i = 0; i < v->nrows; i++) {
        const struct nmr_row *r = &v->rows[i];
        if (r->profile != last)
            nmr_owner_rules_init(&rules, r->profile, v->opt->app);
        last = r->profile;
        struct nmr_series_key k = {
            nmr_stack_site(r->stack), r->stack->api, r->stack, {0}, NULL, 0, 0};
        char text[4096];
        nmr_owner_of(&rules, r->stack, &k.owner);
        if (by == NMR_KEYBY_OWNER)
            nmr_owner_label(text, sizeof(text), r->stack, &k.owner, 0);
        else
            nmr__series_key_text(text, sizeof(text), by, &k);
        if (add(t, text, nmr_owner_kind_name(k.owner.kind), r->v[v->measure]))
            return -1;
    }
    return 0;
}

int nmr__print_key_table(const struct nmr_view *v, enum nmr_keyby by)
{
    struct table t = {0};
    if (fill(v, by, &t)) {
        table_free(&t);
        return nmr__oom();
    }
    if (t.n > 1)
        qsort(t.g, t.n, sizeof(*t.g), cmp_group);
    nmr__print_total(v);
    int64_t total = v->total[v->measure], sum = 0;
    fprintf(v->out, "%12s %6s %6s  %-10s %s\n", "value", "%", "sum%", "owner kind",
            by == NMR_KEYBY_OWNER ? "owner" : "allocation site <- owner");
    size_t shown = 0, hidden = 0;
    for (size_t i = 0; i < t.n; i++) {
        if (t.g[i].val == 0)
            continue; /* stacks with other measures only */
        if ((v->opt->nodecount && shown >= v->opt->nodecount) ||
            !nmr_view_above_threshold(v, t.g[i].val, total)) {
            hidden++;
            continue;
        }
        char b[32];
        shown++;
        sum = nmr_sat_add(sum, t.g[i].val);
        fprintf(v->out, "%12s %5.1f%% %5.1f%%  %-10s %s\n",
                nmr_fmt_value(b, sizeof(b), t.g[i].val, v->measure), nmr_pct(t.g[i].val, total),
                nmr_pct(sum, total), t.g[i].kind, t.g[i].label);
    }
    if (hidden)
        fprintf(v->out, "(%zu more below --nodecount/--threshold)\n", hidden);
    table_free(&t);
    return 0;
}
