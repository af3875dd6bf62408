/*
 * nmr_growth.c: --growth ranks allocation sites by how their selected
 * measure grows across all snapshots of a profile, to point at leaks:
 *  - slope: least-squares fit of value over time, bytes (or objects) per s;
 *  - monotonicity: fraction of consecutive snapshot steps that do not
 *    decrease;
 *  - levelling: the growth rate over the last third of the snapshots
 *    compared with the rate over the first two thirds.
 * Verdicts: "leak-suspect" (grows, mostly monotonic, still growing at the
 * end), "levels-off" (the late rate fell below a quarter of the early one),
 * "business-growth" (grows overall but goes up and down), "stable" (no net
 * growth), "growing" (grows, but fewer than 3 snapshots to judge).
 */
#include <math.h>
#include <stdlib.h>

#include "nmr_internal.h"
#include "nmr_series.h"

#define MONOTONIC_MIN 0.75 /* fraction of non-decreasing steps for a leak */
#define LEVEL_RATIO   0.25 /* late/early rate below this: levels off */

struct grow {
    size_t key;
    double slope, mono, late_early;
    int64_t first, last;
    const char *verdict;
};

static void analyse(const struct nmr_series *se, size_t k, struct grow *g)
{
    const struct nmr_profile *p = se->p;
    size_t n = se->nsnaps;
    const int64_t *y = &se->val[k * n];
    double st = 0, sy = 0, stt = 0, sty = 0;
    size_t up = 0;
    for (size_t i = 0; i < n; i++) {
        double t = nmr_snap_time_s(p, &p->snaps[i]);
        st += t;
        sy += (double)y[i];
        stt += t * t;
        sty += t * (double)y[i];
        if (i && y[i] >= y[i - 1])
            up++;
    }
    double den = (double)n * stt - st * st;
    g->key = k;
    g->slope = n > 1 && den > 1e-12 ? ((double)n * sty - st * sy) / den : 0;
    g->mono = n > 1 ? (double)up / (double)(n - 1) : 0;
    g->first = y[0];
    g->last = y[n - 1];
    g->late_early = NAN;
    if (nmr_sat_sub(g->last, g->first) <= 0 || g->slope <= 0) {
        g->verdict = "stable";
        return;
    }
    if (n < 3) {
        g->verdict = "growing";
        return;
    }
    size_t i2 = (n - 1) * 2 / 3;
    double t0 = nmr_snap_time_s(p, &p->snaps[0]), t2 = nmr_snap_time_s(p, &p->snaps[i2]),
           tn = nmr_snap_time_s(p, &p->snaps[n - 1]);
    double early = t2 > t0 ? ((double)y[i2] - (double)y[0]) / (t2 - t0) : 0;
    double late = tn > t2 ? ((double)y[n - 1] - (double)y[i2]) / (tn - t2) : 0;
    if (early > 0)
        g->late_early = late / early;
    if (early > 0 && late <= LEVEL_RATIO * early)
        g->verdict = "levels-off";
    else if (g->mono >= MONOTONIC_MIN)
        g->verdict = "leak-suspect";
    else
        g->verdict = "business-growth";
}

static int rank(const char *v)
{
    return strcmp(v, "leak-suspect") == 0      ? 0
           : strcmp(v, "growing") == 0         ? 1
           : strcmp(v, "business-growth") == 0 ? 2
           : strcmp(v, "levels-off") == 0      ? 3
                                               : 4;
}

static int cmp_grow(const void *a, const void *b)
{
    const struct grow *x = a, *y = b;
    if (rank(x->verdict) != rank(y->verdict))
        return rank(x->verdict) - rank(y->verdict);
    if (x->slope != y->slope)
        return x->slope > y->slope ? -1 : 1;
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
                "NMTRACE_TRIGGER), or compare two profiles with --base OLD.nmt NEW.nmt\n",
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
        analyse(&se, k, &g[k]);
        int64_t d = nmr_sat_sub(g[k].last, g[k].first);
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
            "mono", "late/early", "verdict", "allocation site");
    size_t shown = 0, hidden = 0;
    for (size_t i = 0; i < se.nkeys; i++) {
        const struct grow *x = &g[i];
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
                nmr__series_label(lab, sizeof(lab), &se.keys[x->key]));
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
