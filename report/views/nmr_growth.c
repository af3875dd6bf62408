/*
 * nmr_growth.c: --growth ranks the series of --key (allocation sites, owners
 * or both) by how their selected measure grows across all snapshots of a
 * profile, to point at leaks: slope, monotonicity, late/early and the
 * verdict of each (nmr_trend.h).
 */
#include <math.h>
#include <stdlib.h>

#include "nmr_internal.h"
#include "nmr_series.h"
#include "nmr_trend.h"

struct grow {
    size_t key;
    struct nmr_trend t;
};

static int cmp_grow(const void *a, const void *b)
{
    const struct grow *x = a, *y = b;
    int rx = nmr__verdict_rank(x->t.verdict), ry = nmr__verdict_rank(y->t.verdict);
    if (rx != ry)
        return rx - ry;
    if (x->t.slope != y->t.slope)
        return x->t.slope > y->t.slope ? -1 : 1;
    return x->key < y->key ? -1 : x->key > y->key;
}

static int one(const struct nmr_view *v, struct nmr_profile *p)
{
    FILE *f = v->out;
    struct nmr_series se;
    if (p->nsnaps < 2) {
        /* One point has no slope: any verdict would be made up. */
        fprintf(stderr,
                "nmreport: --growth: %s has 1 snapshot and growth needs 2 or more; record past "
                "the first periodic one (10 s after the start with the default "
                "NMTRACE_INTERVAL=auto), ask for one during the run (NMTRACE_SIGNAL, "
                "NMTRACE_TRIGGER), or compare two profiles without --growth: nmreport --base "
                "OLD.nmt NEW.nmt\n",
                p->path);
        return -1;
    }
    if (nmr__series_build(v, p, v->measure, &se))
        return nmr__oom();
    struct grow *g = calloc(se.nkeys ? se.nkeys : 1, sizeof(*g));
    if (!g) {
        nmr__series_free(&se);
        return nmr__oom();
    }
    int64_t total_growth = 0;
    for (size_t k = 0; k < se.nkeys; k++) {
        g[k].key = k;
        nmr__trend(p, &se.val[k * se.nsnaps], se.nsnaps, 0, &g[k].t);
        int64_t d = nmr_sat_sub(g[k].t.last, g[k].t.first);
        total_growth = nmr_sat_add(total_growth, d > 0 ? d : 0);
    }
    qsort(g, se.nkeys, sizeof(*g), cmp_grow);
    const struct nmr_snapshot *s0 = &p->snaps[0], *sn = &p->snaps[p->nsnaps - 1];
    fprintf(f, "Growth of %s across %zu snapshots (%.1fs .. %.1fs) of %s\n",
            nmr_measure_name(v->measure), p->nsnaps, nmr_snap_time_s(p, s0), nmr_snap_time_s(p, sn),
            p->path);
    if (p->nsnaps < 3)
        fprintf(f, "note: fewer than 3 snapshots: levelling cannot be judged "
                   "(record longer, or set NMTRACE_INTERVAL)\n");
    const char *unit = nmr_measure_is_bytes(v->measure) ? "B/s" : "/s";
    fprintf(f, "%14s %12s %12s %12s %5s %10s  %-15s %s\n", "slope", "growth", "first", "last",
            "mono", "late/early", "verdict",
            se.key == NMR_KEYBY_SITE    ? "allocation site"
            : se.key == NMR_KEYBY_OWNER ? "owner"
                                        : "allocation site <- owner");
    size_t shown = 0, hidden = 0;
    for (size_t i = 0; i < se.nkeys; i++) {
        const struct nmr_trend *x = &g[i].t;
        int64_t d = nmr_sat_sub(x->last, x->first);
        if (x->first == 0 && x->last == 0 && x->slope == 0)
            continue;
        if ((v->opt->nodecount && shown >= v->opt->nodecount) ||
            !nmr_view_above_threshold(v, d, total_growth)) {
            hidden++;
            continue;
        }
        shown++;
        char sl[40], gr[32], fi[32], la[32], le[16], lab[1024];
        if (nmr_measure_is_bytes(v->measure)) {
            nmr_fmt_bytes(sl, sizeof(sl) - 4, nmr_sat_from_double(round(x->slope)));
            strcat(sl, "/s");
        } else {
            snprintf(sl, sizeof(sl), "%.2f%s", x->slope, unit);
        }
        if (isnan(x->late_early))
            snprintf(le, sizeof(le), "-");
        else
            snprintf(le, sizeof(le), "%.2f", x->late_early);
        fprintf(f, "%14s %12s %12s %12s %4.0f%% %10s  %-15s %s\n", sl,
                nmr_fmt_value(gr, sizeof(gr), d, v->measure),
                nmr_fmt_value(fi, sizeof(fi), x->first, v->measure),
                nmr_fmt_value(la, sizeof(la), x->last, v->measure), x->mono * 100, le, x->verdict,
                nmr__series_label(lab, sizeof(lab), &se.keys[g[i].key]));
    }
    if (hidden)
        fprintf(f, "(%zu more below --nodecount/--threshold)\n", hidden);
    free(g);
    nmr__series_free(&se);
    return 0;
}

int nmr_view_growth(const struct nmr_view *v)
{
    return nmr__each_profile(v, one);
}
