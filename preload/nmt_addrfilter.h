/*
 * nmt_addrfilter.h: "might this pointer be a live sampled allocation?", the
 * check every free() makes.
 *
 * One byte counter per 4 KiB page, indexed by the low 32 bits of the address
 * shifted by 12 (two instructions: pages 4 GiB apart share a counter, which
 * only costs "maybe" answers). free()'s fast path reads only this: a zero
 * proves no live sampled block starts on the page (no false negatives).
 * Consecutive pages are neighbouring bytes, so a thread's frees touch a few
 * cache lines of it; the 1 MiB array is zero pages until a sample marks one.
 * A free on a marked page then asks the live set (nmt_liveset_locate, one
 * cache line: the page's bucket, which the sample wrote), which is exact.
 *
 * The allocating thread increments the counter of each pointer it samples;
 * the freeing thread that matches the free in the live set (nmt_liveset.h)
 * decrements it. At rate 1, where every free is recorded, the counters are
 * not kept: the array is pinned whole. Counters saturate at 255 and then
 * stay: a page that busy is simply always "maybe". nmt_addrfilter_pin()
 * saturates a range on purpose: the recorder's own static heaps are pinned
 * so that their blocks always take free()'s slow path, which recognises
 * them, and the fast path needs no range check.
 *
 * False positives: every free of a block on a page where a live sample
 * starts (its neighbours), and of the pages 4 GiB apart from one. A counter
 * also stays up forever if a sampled allocation's record was lost or it
 * saturated; all of these only cost the live set's lookup, never a missed
 * free.
 */
#ifndef NMT_ADDRFILTER_H
#define NMT_ADDRFILTER_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

/* A byte per page of a 4 GiB window (docs/PERFORMANCE.md: a single hashed
 * 1 MiB level of 32-bit counters cost ~1.4 L1 misses per free; neighbouring
 * pages in neighbouring bytes do not). */
#define NMT_ADDRFILTER_PAGE_SHIFT 12
#define NMT_ADDRFILTER_PAGES      (1u << (32 - NMT_ADDRFILTER_PAGE_SHIFT))
#define NMT_ADDRFILTER_SATURATED  255

struct nmt_addrfilter {
    _Atomic uint8_t page[NMT_ADDRFILTER_PAGES];
};

static inline uint32_t nmt_addrfilter_page(const void *p)
{
    return (uint32_t)(uintptr_t)p >> NMT_ADDRFILTER_PAGE_SHIFT;
}

/* 0 when no live sampled block starts on p's page: free()'s whole fast
 * path. One relaxed load, no write: safe from any thread, any time. */
static inline int nmt_addrfilter_page_maybe(const struct nmt_addrfilter *f, const void *p)
{
    return atomic_load_explicit(&f->page[nmt_addrfilter_page(p)], memory_order_relaxed) != 0;
}

/* One up, unless saturated. */
static inline void nmt_addrfilter_inc(_Atomic uint8_t *c)
{
    uint8_t v = atomic_load_explicit(c, memory_order_relaxed);
    while (v != NMT_ADDRFILTER_SATURATED &&
           !atomic_compare_exchange_weak_explicit(c, &v, (uint8_t)(v + 1), memory_order_relaxed,
                                                  memory_order_relaxed))
        ;
}

/* One down, unless zero (an unmatched call cannot wrap it) or saturated
 * (the count is lost: it must stay "maybe"). */
static inline void nmt_addrfilter_dec(_Atomic uint8_t *c)
{
    uint8_t v = atomic_load_explicit(c, memory_order_relaxed);
    while (v != 0 && v != NMT_ADDRFILTER_SATURATED &&
           !atomic_compare_exchange_weak_explicit(c, &v, (uint8_t)(v - 1), memory_order_relaxed,
                                                  memory_order_relaxed))
        ;
}

/* Marks p as sampled. Called by the allocating thread before p is returned,
 * so a free of p on any thread that happens after sees it. */
static inline void nmt_addrfilter_add(struct nmt_addrfilter *f, const void *p)
{
    nmt_addrfilter_inc(&f->page[nmt_addrfilter_page(p)]);
}

/* Unmarks p once its free has been matched. Each call must pair with one
 * nmt_addrfilter_add of the same pointer, or another pointer of the page
 * could be reported "certainly not" while still live. */
static inline void nmt_addrfilter_sub(struct nmt_addrfilter *f, const void *p)
{
    nmt_addrfilter_dec(&f->page[nmt_addrfilter_page(p)]);
}

/* Makes every page of [lo, lo + len) "maybe" for good (saturated: no sub
 * lowers it), so that each free of an address there takes the slow path. */
static inline void nmt_addrfilter_pin(struct nmt_addrfilter *f, const void *lo, size_t len)
{
    uintptr_t a = (uintptr_t)lo & ~(((uintptr_t)1 << NMT_ADDRFILTER_PAGE_SHIFT) - 1);
    for (; a < (uintptr_t)lo + len; a += (uintptr_t)1 << NMT_ADDRFILTER_PAGE_SHIFT)
        atomic_store_explicit(&f->page[nmt_addrfilter_page((const void *)a)],
                              NMT_ADDRFILTER_SATURATED, memory_order_relaxed);
}

#endif
