/*
 * nmr_text.c: the default view, jeprof/pprof-style "top": one line per
 * function (function + lib) with flat, flat%, sum%, cum, cum% and the
 * symbol's lib and class. flat is what the function allocated as the
 * allocation site (first frame that is not nmtrace, allocator or libc), cum
 * what was allocated with the function anywhere on the stack.
 * With --key owner or path (path is the default for a profile with Java
 * frames) the lines are keys instead (nmr_keytab.c), after a block of
 * findings for a JVM (nmr_diag_view.c). Also the "Total:" line shared by
 * every text view.
 */
#include <errno.h>
#include <stdlib.h>

#include "nmr_agg.h"
#include "nmr_diag.h"
#include "nmr_internal.h"

int nmr__oom(void)
{
    fprintf(stderr, "nmreport: out of memory\n");
    return -ENOMEM;
}

int nmr__each_profile(const struct nmr_view *v,
                      int (*one)(const struct nmr_view *, struct nmr_profile *))
{
    for (size_t i = 0; i < v->nprofiles; i++) {
        if (i)
            fputc('\n', v->out);
        int rc = one(v, v->profiles[i]);
        if (rc)
            return rc;
    }
    return 0;
}

uint64_t nmr__hash_fn_lib(uint64_t seed, const char *fn, const char *lib)
{
    uint64_t h = 1469598103934665603ull ^ seed;
    for (; *fn; fn++)
        h = (h ^ (uint8_t)*fn) * 1099511628211ull;
    h = (h ^ 0xff) * 1099511628211ull;
    for (; *lib; lib++)
        h = (h ^ (uint8_t)*lib) * 1099511628211ull;
    return h;
}

void nmr__print_total(const struct nmr_view *v)
{
    char b[32];
    FILE *f = v->out;
    fprintf(f, "Total: %s %s (", nmr_fmt_value(b, sizeof(b), v->total[v->measure], v->measure),
            nmr_measure_name(v->measure));
    for (size_t i = 0; i < v->nprofiles; i++)
        fprintf(f, "%ssnapshot %u %s at %.1fs of %s", i ? " + " : "", v->snaps[i]->seq,
                nmr_reason_name(v->snaps[i]->reason), nmr_snap_time_s(v->profiles[i], v->snaps[i]),
                v->profiles[i]->path);
    if (v->base_snap)
        fprintf(f, " minus snapshot %u %s at %.1fs of %s", v->base_snap->seq,
                nmr_reason_name(v->base_snap->reason),
                nmr_snap_time_s(v->base_profile, v->base_snap), v->base_profile->path);
    fprintf(f, ")\n");
    if (v->opt->has_focus || v->opt->has_ignore)
        fprintf(f, "Selected: %s of %s (%.1f%%)%s%s%s%s\n",
                nmr_fmt_value(b, sizeof(b), v->total[v->measure], v->measure),
                nmr_fmt_value((char[32]){0}, 32, v->total_all[v->measure], v->measure),
                nmr_pct(v->total[v->measure], v->total_all[v->measure]),
                v->opt->has_focus ? " --focus " : "", v->opt->has_focus ? v->opt->focus : "",
                v->opt->has_ignore ? " --ignore " : "", v->opt->has_ignore ? v->opt->ignore : "");
}

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
