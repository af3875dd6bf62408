/*
 * nmt_cadence.h: the gaps between periodic snapshots.
 *
 * The profile is append-only, so older snapshots cannot be thinned out
 * afterwards. Under NMTRACE_INTERVAL=auto (the default) the gap grows
 * instead: NMT_AUTO_PER_GAP snapshots at the base gap, as many at twice
 * that, and so on up to NMT_AUTO_MAX_GAP_S. A run keeps a fine series of its
 * first minutes, and the number of snapshots grows with the log of its age,
 * then linearly at a low rate (~100 for a day at the 10 s base). A fixed
 * NMTRACE_INTERVAL keeps its gap.
 */
#ifndef NMT_CADENCE_H
#define NMT_CADENCE_H

#include <stdint.h>

#define NMT_AUTO_INTERVAL_S 10
#define NMT_AUTO_PER_GAP    6
#define NMT_AUTO_MAX_GAP_S  1280

/* The gap in ns before the next periodic snapshot, when `taken` periodic
 * snapshots were written so far. */
static inline uint64_t nmt_cadence_gap(uint64_t base_ns, uint64_t taken, int grows)
{
    uint64_t gap = base_ns;
    if (!grows)
        return gap;
    for (uint64_t k = taken / NMT_AUTO_PER_GAP;
         k > 0 && gap * 2 <= NMT_AUTO_MAX_GAP_S * 1000000000ull; k--)
        gap *= 2;
    return gap;
}

#endif
