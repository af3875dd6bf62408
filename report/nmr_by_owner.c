/*
 * nmr_by_owner.c: --by owner: the selected measure rolled up by the owner of
 * each stack (nmr_owner.h), with the owner's kind, largest first. Every
 * stack has exactly one owner, so the lines sum to the total.
 */
#include <stdlib.h>

#include "nmr_internal.h"
#include "nmr_owner.h"

struct group {
    char *label;
    enum nmr_owner_kind kind;
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

/* Adds val to the group labelled text (a linear search: owners are few). */
static int add(struct group **g, size_t *n, size_t *cap, const char *text, enum nmr_owner_kind kind,
               int64_t val)
{
    for (size_t i = 0; i < *n; i++)
        if (strcmp((*g)[i].label, text) == 0) {
            (*g)[i].val = nmr_sat_add((*g)[i].val, val);
            return 0;
        }
    if (nmr__grow(g, cap, *n + 1, sizeof(**g)))
        return -1;
    char *l = strdup(text);
    if (!l)
        return -1;
    (*g)[(*n)++] = (struct group){l, kind, val};
    return 0;
}

int nmr__print_owner_table(const struct nmr_view *v)
{
    struct group *g = NULL;
    size_t n = 0, cap = 0;
    int rc = 0;
    const struct nmr_profile *last = NULL;
    struct nmr_owner_rules rules;
    for (size_t i = 0; i < v->nrows && !rc; i++) {
        const struct nmr_row *r = &v->rows[i];
        if (r->profile != last)
            nmr_owner_rules_init(&rules, r->profile, v->opt->app);
        last = r->profile;
        struct nmr_owner o;
        char text[2048];
        nmr_owner_of(&rules, r->stack, &o);
        nmr_owner_label(text, sizeof(text), r->stack, &o, 0);
        rc = add(&g, &n, &cap, text, o.kind, r->v[v->measure]);
    }
    if (rc) {
        for (size_t i = 0; i < n; i++)
            free(g[i].label);
        free(g);
        return nmr__oom();
    }
    qsort(g, n, sizeof(*g), cmp_group);
    nmr__print_total(v);
    fprintf(v->out, "%12s %6s  %-10s %s\n", "value", "%", "kind", "owner");
    size_t shown = 0, hidden = 0;
    for (size_t i = 0; i < n; i++) {
        if ((v->opt->nodecount && shown >= v->opt->nodecount) ||
            !nmr_view_above_threshold(v, g[i].val, v->total[v->measure]))
            hidden++;
        else {
            char b[32];
            shown++;
            fprintf(v->out, "%12s %5.1f%%  %-10s %s\n",
                    nmr_fmt_value(b, sizeof(b), g[i].val, v->measure),
                    nmr_pct(g[i].val, v->total[v->measure]), nmr_owner_kind_name(g[i].kind),
                    g[i].label);
        }
        free(g[i].label);
    }
    if (hidden)
        fprintf(v->out, "(%zu more below --nodecount/--threshold)\n", hidden);
    free(g);
    return 0;
}
