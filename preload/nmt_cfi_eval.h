/*
 * nmt_cfi_eval.h: one loaded object's call-frame table, read in place
 * (nmt_cfi_eval.c), for the object list of nmt_cfi.c.
 *
 * An object is described once, while it is certainly mapped (inside a
 * dl_iterate_phdr callback): where its .eh_frame_hdr search table is and
 * which loaded segment holds its .eh_frame. Every later read of its tables
 * stays inside those bounds, so a malformed table gives
 * NMT_CFI_UNSUPPORTED, never a read outside the object.
 */
#ifndef NMT_CFI_EVAL_H
#define NMT_CFI_EVAL_H

#include <link.h>
#include <stdint.h>

#include "nmt_cfi.h"

/* One executable segment of a loaded object and its object's tables. Plain
 * words, so that nmt_cfi.c can copy it field by field under its seqlock. */
struct nmt_cfi_obj {
    uintptr_t lo, hi;       /* the executable segment [lo, hi) */
    uintptr_t hdr;          /* .eh_frame_hdr (base of its data-relative values) */
    uintptr_t table;        /* its sorted search table: count (pc, fde) pairs */
    uintptr_t eh_lo, eh_hi; /* .eh_frame's start, and the end of its segment */
    uintptr_t count;        /* entries in table */
    uintptr_t status;       /* NMT_CFI_OK: table usable; otherwise every ip's answer */
};

/* Fills o->hdr .. o->status (not lo/hi) from the object's program headers:
 * its PT_GNU_EH_FRAME segment, checked to lie in a loaded segment, with a
 * version-1 header whose search table has the encoding linkers write
 * (data-relative signed 4-byte pairs). An object without one gets
 * NMT_CFI_NOFDE, one with a header this reader does not handle
 * NMT_CFI_UNSUPPORTED. Call only while the object is mapped. */
NMT_HIDDEN void nmt__cfi_describe(struct nmt_cfi_obj *o, const struct dl_phdr_info *info);

/* The rule in force at ip, which lies in [o->lo, o->hi). Reads only the
 * object's .eh_frame_hdr table and .eh_frame within the bounds in o. No
 * lock, no allocation, no system call. */
NMT_HIDDEN enum nmt_cfi_result nmt__cfi_eval(const struct nmt_cfi_obj *o, uintptr_t ip,
                                             struct nmt_cfi_rule *out);

#endif
