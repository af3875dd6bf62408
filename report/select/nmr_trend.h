/*
 * nmr_trend.h: how one series of values over a profile's snapshots behaves
 * (nmr_trend.c), for --growth and --diagnose:
 *  - slope: least-squares fit of value over time, per second;
 *  - monotonicity: fraction of consecutive steps that do not decrease;
 *  - levelling: the growth rate over the last third of the snapshots
 *    compared with the rate over the first two thirds.
 * Verdicts: "leak-suspect" (grows, mostly monotonic, still growing at the
 * end), "levels-off" (the late rate fell below a quarter of the early one),
 * "business-growth" (grows overall but goes up and down), "stable" (no net
 * growth), "growing" (grows, but fewer than 3 snapshots to judge).
 */
#ifndef NMR_TREND_H
#define NMR_TREND_H

#include <stddef.h>
#include <stdint.h>

#include "nmr_profile.h"

#define NMR_TREND_MONOTONIC 0.75 /* fraction of non-decreasing steps for a leak */
#define NMR_TREND_LEVEL     0.25 /* late/early rate below this: levels off */

struct nmr_trend {
    double slope;      /* per second */
    double mono;       /* 0..1 */
    double late_early; /* NAN when the early rate is not positive */
    int64_t first, last, peak;
    const char *verdict;
};

/*
 * The trend of y[0..n) (one value per snapshot of p). by_step 0: the rates
 * of the levelling test are per second (--growth); 1: per snapshot step;
 * 2: both must show levelling (--diagnose), so that neither a stall of a
 * busy machine (per second) nor a final snapshot taken just after the
 * previous one (per step) makes a leak look levelled off.
 */
void nmr__trend(const struct nmr_profile *p, const int64_t *y, size_t n, int by_step,
                struct nmr_trend *t);

/* Rank of a verdict for sorting: leak-suspect 0, growing 1, business-growth
 * 2, levels-off 3, stable 4. */
int nmr__verdict_rank(const char *verdict);

#endif
