/*
 * nmt_prefault.c: the static tables made resident by the writer thread.
 *
 * The live set and the unwind-rule cache are zero pages in .bss until
 * written. A sample writes a line of the first (and, for a new code
 * address, of the second): without this,
 * each of their pages costs the application thread that first touches it a
 * page fault, two when it was read first (the zero page mapped on the read,
 * a private page on the write), 0.6 to 2.4 us each in a VM. The writer thread
 * populates them once at its start instead (MADV_POPULATE_WRITE, Linux
 * 5.14; a word touched per page before that), so these faults are off the
 * application's threads. The cost is their resident memory from the start
 * (768 KiB at the default rate; at rate 1, which keeps no live set, only
 * the rule cache's 256 KiB; the rule cache only when the fast unwinder is
 * used), all of it already counted in rec.own_fixed. The address filter
 * (1 MiB) is left as it is: free() reads it for every pointer, so only the
 * few pages that cover the heap ever hold a sample's mark.
 *
 * Populating writes no byte. The fallback adds 0 to one word per page with
 * an atomic read-modify-write, which other threads' atomic updates of the
 * same word cannot lose. A fork child gives the pages back
 * (nmt__tables_reset) and its writer, started at its first event, populates
 * them again.
 */
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/mman.h>

#include "nmt_internal.h"
#include "nmt_unwind.h"

#ifndef MADV_POPULATE_WRITE
#define MADV_POPULATE_WRITE 23
#endif

#define PAGE 4096u

/* One relaxed atomic add of 0 to the element at e, of the table's type. */
typedef void (*touch_fn)(void *e);

static void touch_u64(void *e)
{
    atomic_fetch_add_explicit((_Atomic uint64_t *)e, 0, memory_order_relaxed);
}

/* Makes [p, p + n) resident and writable. The table's elements are elem
 * bytes (a power of two up to a page, the table aligned to it), touch
 * updates one; the fallback touches one element every page from the
 * table's start, and the last one. The pages at the ends that the table
 * shares with other variables are populated too: populating changes no
 * byte. */
static void populate(void *p, size_t n, size_t elem, touch_fn touch, int by_touch)
{
    uintptr_t lo = (uintptr_t)p & ~(uintptr_t)(PAGE - 1);
    if (n == 0 ||
        (!by_touch && madvise((void *)lo, (uintptr_t)p + n - lo, MADV_POPULATE_WRITE) == 0))
        return;
    for (size_t off = 0; off < n; off += PAGE)
        touch((char *)p + (off & ~(elem - 1)));
    touch((char *)p + ((n - 1) & ~(elem - 1)));
}

static void prefault(int by_touch)
{
    if (nmt__exact) /* at rate 1 it is not kept (nmt__every) */
        populate(&nmt__liveset, sizeof(nmt__liveset), sizeof(uintptr_t), touch_u64, by_touch);
    if (nmt__cfg.unwind_mode == NMT_UNWIND_AUTO || nmt__cfg.unwind_mode == NMT_UNWIND_CHECK)
        populate(nmt__rule_cache_table(), nmt__rule_cache_bytes(), sizeof(uint64_t), touch_u64,
                 by_touch);
}

NMT_HIDDEN void nmt__tables_prefault(void)
{
    prefault(0);
}

NMT_HIDDEN void nmt__tables_prefault_by_touch(void)
{
    prefault(1);
}
