/*
 * nmt_smaps.h: residency per mapping at a snapshot (nmt_smaps.c, the SMAPS
 * record). Writer thread, or the thread taking the final snapshot.
 */
#ifndef NMT_SMAPS_H
#define NMT_SMAPS_H

#include "nmt_enc.h"
#include "nmt_internal.h"
#include "nmt_mmap_model.h"

/* Appends one SMAPS record to b: every mapping with resident or swapped
 * pages, with its owners in mm (may be NULL). 0, or -errno (then nothing
 * is appended). Unless final, nothing is read (and 0 returned) while the
 * last read is too recent for its cost (nmt_smaps.c). */
int nmt__smaps_encode(struct nmt_enc *b, const struct nmt_mm *mm, int final);
/* Snapshots that skipped the read, and nanoseconds spent reading. */
extern uint64_t nmt__smaps_skipped, nmt__smaps_ns;
/* SMAPS records made from the page tables instead of smaps; nonzero when
 * smaps is read without trying the page tables first. */
extern uint64_t nmt__smaps_scanned;
extern int nmt__smaps_scan_off;

#endif
