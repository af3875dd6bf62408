/*
 * nmt_addrfilter.h: "might this pointer be a live sampled allocation?", the
 * check every free() makes.
 *
 * A fixed array of 2^18 counters indexed by a multiplicative hash of the
 * pointer. The allocating thread increments the counter of each pointer it
 * samples; the writer thread decrements it once it has matched that
 * allocation's free. free() does one relaxed load: a zero counter proves the
 * pointer was not sampled (no false negatives), a non-zero one only says
 * "maybe" and the free is sent to the writer, which matches it against the
 * live table.
 *
 * In front of the counters, a 16 KiB level of per-page counters answers most
 * frees from L1 (see struct nmt_addrfilter). In exact mode (rate > 1,
 * nmt_liveset.h) the freeing thread, not the writer, decrements.
 *
 * False positives: a pointer that shares a slot with a live sampled one. With
 * L live sampled allocations spread over the 2^18 slots, an unrelated free
 * hits a non-zero slot with probability about 1 - exp(-L / 2^18): ~0.4% for
 * 1000 live samples, ~32% for 100k (at rate 1 almost every free is "maybe",
 * as it must be). A counter also stays up while the writer has not yet
 * processed a matched free, and forever if a sampled allocation's record was
 * lost; both only cost extra "maybe" answers, never a missed free. The array
 * is 1 MiB of zero pages until touched.
 *
 * Counters are 32 bits: overflow would need 2^32 live sampled allocations in
 * one slot, which no process reaches.
 */
#ifndef NMT_ADDRFILTER_H
#define NMT_ADDRFILTER_H

#include <stdatomic.h>
#include <stdint.h>

#define NMT_ADDRFILTER_BITS  18
#define NMT_ADDRFILTER_SLOTS (1u << NMT_ADDRFILTER_BITS)

/* First level: 16 KiB of per-page counters, small enough to stay in L1 on
 * the free fast path; most frees touch a page with no live sample and stop
 * there. Second level: per-pointer-hash counters, consulted only when the
 * page says maybe. (docs/PERFORMANCE.md: the single 1 MiB level cost ~1.4
 * L1 misses per free.) Page counters saturate at 255 and then stay: a page
 * that busy is simply always "maybe". */
#define NMT_ADDRFILTER_PAGE_BITS 14
#define NMT_ADDRFILTER_PAGES     (1u << NMT_ADDRFILTER_PAGE_BITS)

struct nmt_addrfilter {
    _Atomic uint8_t page[NMT_ADDRFILTER_PAGES];
    _Atomic uint32_t count[NMT_ADDRFILTER_SLOTS];
};

static inline uint32_t nmt_addrfilter_page(const void *p)
{
    uint64_t x = (uint64_t)(uintptr_t)p;
    return (uint32_t)(((x >> 12) ^ (x >> 26)) & (NMT_ADDRFILTER_PAGES - 1));
}

/* The slot of p. malloc pointers are 16-byte aligned, so the low 4 bits carry
 * no information; Fibonacci hashing then spreads neighbouring chunks over the
 * whole table and the top bits of the product are the index. */
static inline uint32_t nmt_addrfilter_slot(const void *p)
{
    uint64_t x = (uint64_t)(uintptr_t)p >> 4;
    return (uint32_t)((x * 0x9E3779B97F4A7C15ull) >> (64 - NMT_ADDRFILTER_BITS));
}

/* 1 when p may be a live sampled allocation, 0 when it certainly is not.
 * One relaxed load, no write: safe from any thread, any time. */
static inline int nmt_addrfilter_maybe(const struct nmt_addrfilter *f, const void *p)
{
    if (__builtin_expect(
            atomic_load_explicit(&f->page[nmt_addrfilter_page(p)], memory_order_relaxed) == 0, 1))
        return 0;
    return atomic_load_explicit(&f->count[nmt_addrfilter_slot(p)], memory_order_relaxed) != 0;
}

/* Marks p as sampled. Called by the allocating thread before p is returned,
 * so a free of p on any thread that happens after sees it. */
static inline void nmt_addrfilter_add(struct nmt_addrfilter *f, const void *p)
{
    /* The page first, so that no free can see the slot set but the page clear
     * (both relaxed, but the same thread publishes p only afterwards). */
    _Atomic uint8_t *pg = &f->page[nmt_addrfilter_page(p)];
    uint8_t v = atomic_load_explicit(pg, memory_order_relaxed);
    while (v != 255 && !atomic_compare_exchange_weak_explicit(
                           pg, &v, (uint8_t)(v + 1), memory_order_relaxed, memory_order_relaxed))
        ;
    atomic_fetch_add_explicit(&f->count[nmt_addrfilter_slot(p)], 1, memory_order_relaxed);
}

/* Unmarks p once its free has been matched (writer thread). Saturates at
 * zero: an unmatched call cannot wrap the counter into a huge value. Each
 * call must pair with one nmt_addrfilter_add of the same pointer, or another
 * pointer of the slot could be reported "certainly not" while still live. */
static inline void nmt_addrfilter_sub(struct nmt_addrfilter *f, const void *p)
{
    _Atomic uint32_t *c = &f->count[nmt_addrfilter_slot(p)];
    uint32_t v = atomic_load_explicit(c, memory_order_relaxed);
    while (v != 0 && !atomic_compare_exchange_weak_explicit(c, &v, v - 1, memory_order_relaxed,
                                                            memory_order_relaxed))
        ;
    _Atomic uint8_t *pg = &f->page[nmt_addrfilter_page(p)];
    uint8_t w = atomic_load_explicit(pg, memory_order_relaxed);
    while (w != 0 && w != 255 &&
           !atomic_compare_exchange_weak_explicit(pg, &w, (uint8_t)(w - 1), memory_order_relaxed,
                                                  memory_order_relaxed))
        ;
}

#endif
