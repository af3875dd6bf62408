/*
 * cfi_table.h: the call-frame tests' own reader of an object's in-memory
 * .eh_frame_hdr search table, kept apart from preload/nmt_cfi*.c so that a
 * bug there cannot hide itself. It reads the layout linkers write (version
 * 1, a 4-byte count, entries of two data-relative signed 4-byte words);
 * test_cfi checks an object's table has it before relying on it.
 */
#ifndef CFI_TABLE_H
#define CFI_TABLE_H

#include <link.h>
#include <stdint.h>
#include <string.h>

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

#endif
