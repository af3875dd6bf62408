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
 * is appended). */
int nmt__smaps_encode(struct nmt_enc *b, const struct nmt_mm *mm);

#endif
