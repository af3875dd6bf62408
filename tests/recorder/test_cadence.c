/*
 * test_cadence.c: the gaps between periodic snapshots (nmt_cadence.h). The
 * default cadence must give a fine series at the start, never a gap above
 * its bound, and a day-long run few enough snapshots to keep its profile
 * small; a fixed NMTRACE_INTERVAL keeps its gap.
 */
#include <criterion/criterion.h>

#include "nmt_cadence.h"

#define S 1000000000ull

Test(cadence, first_snapshots_at_the_base_gap)
{
    for (uint64_t k = 0; k < NMT_AUTO_PER_GAP; k++)
        cr_expect_eq(nmt_cadence_gap(NMT_AUTO_INTERVAL_S * S, k, 1), NMT_AUTO_INTERVAL_S * S);
    cr_expect_eq(nmt_cadence_gap(NMT_AUTO_INTERVAL_S * S, NMT_AUTO_PER_GAP, 1),
                 2 * NMT_AUTO_INTERVAL_S * S);
}

Test(cadence, gaps_grow_and_stay_bounded)
{
    uint64_t prev = 0;
    for (uint64_t k = 0; k < 100000; k++) {
        uint64_t g = nmt_cadence_gap(NMT_AUTO_INTERVAL_S * S, k, 1);
        cr_assert_geq(g, prev, "gap %llu shrank", (unsigned long long)k);
        cr_assert_leq(g, NMT_AUTO_MAX_GAP_S * S);
        prev = g;
    }
    cr_expect_eq(prev, NMT_AUTO_MAX_GAP_S * S, "the bound is reached");
}

/* Snapshots written in `seconds` of running at the default cadence. */
static unsigned count_in(uint64_t seconds)
{
    uint64_t t = 0, k = 0;
    for (;;) {
        t += nmt_cadence_gap(NMT_AUTO_INTERVAL_S * S, k, 1);
        if (t > seconds * S)
            return (unsigned)k;
        k++;
    }
}

Test(cadence, a_day_stays_small)
{
    cr_expect_geq(count_in(60), 5, "a minute-long run has a series: %u", count_in(60));
    unsigned day = count_in(86400);
    cr_expect_leq(day, 120, "a day at the default cadence writes %u snapshots", day);
    cr_expect_leq(count_in(7 * 86400) - day, 6 * 86400 / NMT_AUTO_MAX_GAP_S + 1,
                  "after the ramp at most one snapshot per bound");
}

Test(cadence, fixed_interval_keeps_its_gap)
{
    for (uint64_t k = 0; k < 1000; k += 7)
        cr_expect_eq(nmt_cadence_gap(3 * S, k, 0), 3 * S);
}
