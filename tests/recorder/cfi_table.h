/*
 * cfi_table.h: the call-frame tests' own reader of an object's in-memory
 * .eh_frame_hdr search table, kept apart from preload/nmt_cfi*.c so that a
 * bug there cannot hide itself. It reads the layout linkers write (version
 * 1, a 4-byte count, entries of two data-relative signed 4-byte words);
 * test_cfi checks an object's table has it before relying on it. cfi_pick()
 * picks addresses with rules for the tests that look them up again and again.
 */
#ifndef CFI_TABLE_H
#define CFI_TABLE_H

#include <link.h>
#include <stdint.h>
#include <string.h>

#include "../../preload/nmt_cfi.h"

/* The .eh_frame_hdr of the object info describes, or NULL without one. */
static inline const uint8_t *cfi_table_hdr(const struct dl_phdr_info *info)
{
    for (int i = 0; i < info->dlpi_phnum; i++)
        if (info->dlpi_phdr[i].p_type == PT_GNU_EH_FRAME)
            return (const uint8_t *)(info->dlpi_addr + info->dlpi_phdr[i].p_vaddr);
    return NULL;
}

/* The number of entries in the table at h. */
static inline uint32_t cfi_table_count(const uint8_t *h)
{
    uint32_t count;
    memcpy(&count, h + 8, 4);
    return count;
}

/* The code address where the FDE of entry i starts. */
static inline uintptr_t cfi_table_start(const uint8_t *h, uint32_t i)
{
    int32_t loc;
    memcpy(&loc, h + 12 + 8 * (size_t)i, 4);
    return (uintptr_t)h + (intptr_t)loc;
}

/* Where cfi_pick() puts the addresses it picks and their rules. */
struct cfi_picks {
    uintptr_t *addr;
    struct nmt_cfi_rule *ref;
    int n, max;
    uint32_t per_object;
};

/* A dl_iterate_phdr callback (arg: struct cfi_picks): up to per_object FDE
 * starts spread over each object's table, each a few bytes in, kept with
 * the rule nmt_cfi_find() gives when it gives one. */
static inline int cfi_pick(struct dl_phdr_info *info, size_t size, void *arg)
{
    (void)size;
    struct cfi_picks *p = arg;
    const uint8_t *h = cfi_table_hdr(info);
    if (h == NULL)
        return 0;
    uint32_t count = cfi_table_count(h);
    for (uint32_t k = 0; k < count && k < p->per_object && p->n < p->max; k++) {
        uintptr_t a = cfi_table_start(h, k * (count / p->per_object + 1) % count) + k % 5;
        if (nmt_cfi_find(a, &p->ref[p->n]) == NMT_CFI_OK)
            p->addr[p->n++] = a;
    }
    return 0;
}

#endif
