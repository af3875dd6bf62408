/*
 * nmr_text.c: the default view, jeprof/pprof-style "top": one line per
 * function (function + lib) with flat, flat%, sum%, cum, cum% and the
 * symbol's lib and class. flat is what the function allocated as the
 * allocation site (first frame that is not nmtrace, allocator or libc), cum
 * what was allocated with the function anywhere on the stack. Its table is
 * also --by's (nmr__print_agg_table). With --key owner or path (path is the
 * default for a JVM's profile) the lines are keys instead (nmr_keytab.c),
 * after a block of findings (nmr_diagnose.c).
 */
#include <errno.h>
#include <stdlib.h>

#include "nmr_agg.h"
#include "nmr_diag_views.h"
#include "nmr_internal.h"
#include "nmr_series.h"

/* Prints the flat/cum table of an aggregate; shared with --by. */
int nmr__print_agg_table(const struct nmr_view *v, enum nmr_agg_key key)
{
    struct nmr_agg a = {.key = key};
    if (nmr__agg_add(&a, v->rows, v->nrows)) {
        nmr__agg_free(&a);
        return nmr__oom();
    }
    nmr__agg_sort_flat(&a, v->measure);
    enum nmr_measure m = v->measure;
    int64_t total = v->total[m];
    FILE *f = v->out;
    nmr__print_total(v);
    fprintf(f, "%12s %6s %6s %12s %6s  %s\n", "flat", "flat%", "sum%", "cum", "cum%",
            key == NMR_KEY_LIB     ? "lib"
            : key == NMR_KEY_CLASS ? "class"
                                   : "function [lib] (class)");
    int64_t sum = 0;
    size_t shown = 0, hidden = 0;
    for (size_t i = 0; i < a.n; i++) {
        const struct nmr_node *nd = &a.nodes[i];
        if (nd->flat[m] == 0 && nd->cum[m] == 0)
            continue;
        sum = nmr_sat_add(sum, nd->flat[m]);
        if ((v->opt->nodecount && shown >= v->opt->nodecount) ||
            !nmr_view_above_threshold(v, nd->cum[m], total)) {
            hidden++;
            continue;
        }
        char fl[32], cu[32], lab[1024];
        fprintf(f, "%12s %5.1f%% %5.1f%% %12s %5.1f%%  %s\n",
                nmr_fmt_value(fl, sizeof(fl), nd->flat[m], m), nmr_pct(nd->flat[m], total),
                nmr_pct(sum, total), nmr_fmt_value(cu, sizeof(cu), nd->cum[m], m),
                nmr_pct(nd->cum[m], total), nmr__node_label(lab, sizeof(lab), nd, key));
        shown++;
    }
    if (hidden)
        fprintf(f, "(%zu more below --nodecount/--threshold)\n", hidden);
    nmr__agg_free(&a);
    return 0;
}

int nmr_view_text(const struct nmr_view *v)
{
    /* A JVM's profile: the findings first, then the table by --key (path by
     * default: one native site with two owners is two lines). */
    if (nmr__findings_prelude(v) < 0)
        return -ENOMEM;
    enum nmr_keyby by = nmr__series_keyby(v, v->profiles[0]);
    if (by != NMR_KEYBY_SITE)
        return nmr__print_key_table(v, by);
    return nmr__print_agg_table(v, NMR_KEY_FUNCTION);
}
