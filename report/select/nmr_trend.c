/*
 * nmr_trend.c: the trend of one series over a profile's snapshots
 * (nmr_trend.h).
 */
#include <math.h>
#include <string.h>

#include "nmr_sat.h"
#include "nmt_format.h"
#include "nmr_trend.h"

/* The late rate over the early one (snapshots i2..n-1 against 0..i2), per
 * second or per snapshot step; NAN when the early rate is not positive. */
static double late_early(const struct nmr_profile *p, const int64_t *y, size_t n, size_t i2,
                         int by_step)
{
    double t0 = 0, t2 = (double)i2, tn = (double)(n - 1);
    if (!by_step) {
        t0 = nmr_snap_time_s(p, &p->snaps[0]);
        t2 = nmr_snap_time_s(p, &p->snaps[i2]);
        tn = nmr_snap_time_s(p, &p->snaps[n - 1]);
    }
    double early = t2 > t0 ? ((double)y[i2] - (double)y[0]) / (t2 - t0) : 0;
    double late = tn > t2 ? ((double)y[n - 1] - (double)y[i2]) / (tn - t2) : 0;
    return early > 0 ? late / early : NAN;
}

/* 1 when the series has been flat for at least half as long as it took to
 * grow: the time since its last step that grew by more than NMR_TREND_LEVEL
 * of the early steps' mean, against the time from the start of its growth
 * to that step. A series that was still empty at its first snapshots began
 * to grow after the last of them (in a JVM, after the JVM's own start-up,
 * however long a busy machine made that); one that already held something
 * at the first snapshot may have grown since the process's start, and is
 * measured from there. The flat time is measured up to the last snapshot
 * taken while the process still ran, not to the exit snapshot: a program
 * that leaks until it ends shows only the pause of its exit after its last
 * growth, and that pause, however long a busy machine makes it, is no
 * evidence of levelling. */
static int plateau_long_enough(const struct nmr_profile *p, const int64_t *y, size_t n, size_t i2)
{
    double early_step = ((double)y[i2] - (double)y[0]) / (double)i2;
    size_t last = 0;
    for (size_t j = n - 1; j > 0 && !last; j--)
        if ((double)y[j] - (double)y[j - 1] > NMR_TREND_LEVEL * early_step)
            last = j;
    size_t running = n - 1;
    if (p->snaps[running].reason == NMT_SNAP_EXIT && running > 0)
        running--;
    if (running <= last)
        return 0;
    size_t empty = 0;
    while (empty + 1 < n && y[empty] == 0 && y[empty + 1] == 0)
        empty++;
    double began = y[0] == 0 ? nmr_snap_time_s(p, &p->snaps[empty]) : 0;
    double grown_at = nmr_snap_time_s(p, &p->snaps[last]);
    double end = nmr_snap_time_s(p, &p->snaps[running]);
    return end - grown_at >= 0.5 * (grown_at - began);
}

void nmr__trend(const struct nmr_profile *p, const int64_t *y, size_t n, int by_step,
                struct nmr_trend *g)
{
    double st = 0, sy = 0, stt = 0, sty = 0;
    size_t up = 0;
    memset(g, 0, sizeof(*g));
    g->late_early = NAN;
    if (n == 0) {
        g->verdict = "stable";
        return;
    }
    g->peak = y[0];
    for (size_t i = 0; i < n; i++) {
        double t = nmr_snap_time_s(p, &p->snaps[i]);
        st += t;
        sy += (double)y[i];
        stt += t * t;
        sty += t * (double)y[i];
        if (i && y[i] >= y[i - 1])
            up++;
        if (y[i] > g->peak)
            g->peak = y[i];
    }
    double den = (double)n * stt - st * st;
    g->slope = n > 1 && den > 1e-12 ? ((double)n * sty - st * sy) / den : 0;
    g->mono = n > 1 ? (double)up / (double)(n - 1) : 0;
    g->first = y[0];
    g->last = y[n - 1];
    if (nmr_sat_sub(g->last, g->first) <= 0 || (g->slope <= 0 && !by_step)) {
        g->verdict = "stable";
        return;
    }
    if (n < 3) {
        g->verdict = "growing";
        return;
    }
    size_t i2 = (n - 1) * 2 / 3;
    double ratio_time = late_early(p, y, n, i2, 0), ratio_step = late_early(p, y, n, i2, 1);
    /* by_step 2: levelling must show per step and per second alike. */
    double ratio = by_step == 0 ? ratio_time
                   : by_step == 1
                       ? ratio_step
                       : (isnan(ratio_time) || ratio_step > ratio_time ? ratio_step : ratio_time);
    g->late_early = ratio;
    /* Levelling needs two steps after i2 to stand on: one step alone is
     * often just the exit snapshot taken right after the last growth
     * snapshot (a writer that a busy machine delayed takes those late). */
    if (!isnan(ratio) && ratio <= NMR_TREND_LEVEL && n - 1 - i2 >= 2 &&
        plateau_long_enough(p, y, n, i2))
        g->verdict = "levels-off";
    else if (g->mono >= NMR_TREND_MONOTONIC)
        g->verdict = "leak-suspect";
    else
        g->verdict = "business-growth";
}

int nmr__verdict_rank(const char *v)
{
    return strcmp(v, "leak-suspect") == 0      ? 0
           : strcmp(v, "growing") == 0         ? 1
           : strcmp(v, "business-growth") == 0 ? 2
           : strcmp(v, "levels-off") == 0      ? 3
                                               : 4;
}
