/*
 * nmt_liveset.h: the exact set of live sampled pointers, shared by all threads.
 *
 * The address filter (nmt_addrfilter.h) only says "maybe sampled". Before
 * this set existed, every maybe became a FREE event and the filter slot was
 * cleared by the writer a millisecond later; meanwhile the allocator handed
 * the same address out again and again, and each of those frees paid the slow
 * path (measured: ~45 extra slow frees per sample, docs/PERFORMANCE.md). With
 * the set, the freeing thread itself finds the pointer, removes it with one
 * CAS and clears its filter slot at once; a filter false positive costs one
 * cache-line scan and no event.
 *
 * Layout: buckets of 8 pointer slots, one cache line each. A pointer lives in
 * its page's bucket when there is room, otherwise in its hash bucket or the
 * next one. The page buckets are the table's first half: consecutive pages
 * of a 16 MiB region have consecutive buckets (each region starts at a
 * scrambled bucket, so that glibc's 64 MiB-aligned arenas do not share
 * theirs). A thread's samples then touch the few hundred lines, on a few
 * pages, over its heap instead of a random line of the whole 512 KiB table
 * (perf: the random line's miss was half the sampled path's own time at the
 * default rate). The hash buckets are the other half, for pages with more
 * than 8 live samples (at low rates a page of small blocks has more); kept
 * apart, a crowded heap's full page buckets never stand in their way. 0 is
 * an empty slot. Insertion happens before the pointer is returned to the
 * application, removal by the one thread that frees it (the CAS makes a
 * double free harmless to us), so no other synchronisation is needed. Used
 * when NMTRACE_RATE > 1; at rate 1 every allocation is sampled and the set
 * could never hold them all, so every free is recorded and the writer
 * matches them (nmt_state.h, nmt__every).
 */
#ifndef NMT_LIVESET_H
#define NMT_LIVESET_H

#include <stdatomic.h>
#include <stdint.h>

#define NMT_LIVESET_BUCKET_BITS 13 /* 8192 buckets x 8 slots = 65536 pointers, 512 KiB */
#define NMT_LIVESET_BUCKETS     (1u << NMT_LIVESET_BUCKET_BITS)
#define NMT_LIVESET_WAYS        8

struct nmt_liveset {
    struct {
        _Alignas(64) _Atomic uintptr_t slot[NMT_LIVESET_WAYS];
    } bucket[NMT_LIVESET_BUCKETS];
};

#define NMT_LIVESET_CANDIDATES 3 /* p's page bucket, its hash bucket and the next one */
#define NMT_LIVESET_HALF       (NMT_LIVESET_BUCKETS / 2)

/* p's page bucket, in the first half: its page's number within its 16 MiB
 * region, plus the region's scrambled start. */
static inline uint32_t nmt_liveset_page_bucket(uintptr_t p)
{
    uint32_t start = (uint32_t)(((uint64_t)(p >> 24) * 0x9e3779b97f4a7c15ull) >> 32);
    return ((uint32_t)(p >> 12) + start) & (NMT_LIVESET_HALF - 1);
}

/* The k-th bucket p may be in, k < NMT_LIVESET_CANDIDATES, in the order
 * insertion tries them: its page bucket, then two neighbouring buckets of
 * the second half at p's hash, for what the page bucket has no room for. */
static inline uint32_t nmt_liveset_candidate(uintptr_t p, int k)
{
    if (k == 0)
        return nmt_liveset_page_bucket(p);
    uint32_t h = (uint32_t)(((uint64_t)(p >> 4) * 0x9e3779b97f4a7c15ull) >> 32);
    return NMT_LIVESET_HALF + ((h + (uint32_t)(k - 1)) & (NMT_LIVESET_HALF - 1));
}

/* Starts loading p's page bucket for a write: the sampled path asks before
 * it unwinds, so the line arrives meanwhile if it is not in cache. */
static inline void nmt_liveset_prefetch(const struct nmt_liveset *s, const void *ptr)
{
    __builtin_prefetch(&s->bucket[nmt_liveset_page_bucket((uintptr_t)ptr)], 1);
}

/* Adds p. Returns 0, or -1 when all its candidate buckets are full (the
 * caller then does not sample this allocation and counts it). */
static inline int nmt_liveset_insert(struct nmt_liveset *s, const void *ptr)
{
    uintptr_t p = (uintptr_t)ptr;
    for (int k = 0; k < NMT_LIVESET_CANDIDATES; k++) {
        uint32_t b = nmt_liveset_candidate(p, k);
        for (int i = 0; i < NMT_LIVESET_WAYS; i++) {
            uintptr_t expected = 0;
            if (atomic_load_explicit(&s->bucket[b].slot[i], memory_order_relaxed) == 0 &&
                atomic_compare_exchange_strong_explicit(&s->bucket[b].slot[i], &expected, p,
                                                        memory_order_release, memory_order_relaxed))
                return 0;
        }
    }
    return -1;
}

/* Removes p if present. Returns 1 when this call removed it. */
static inline int nmt_liveset_remove(struct nmt_liveset *s, const void *ptr)
{
    uintptr_t p = (uintptr_t)ptr;
    for (int k = 0; k < NMT_LIVESET_CANDIDATES; k++) {
        uint32_t b = nmt_liveset_candidate(p, k);
        for (int i = 0; i < NMT_LIVESET_WAYS; i++) {
            uintptr_t expected = p;
            if (atomic_load_explicit(&s->bucket[b].slot[i], memory_order_acquire) == p &&
                atomic_compare_exchange_strong_explicit(&s->bucket[b].slot[i], &expected, 0,
                                                        memory_order_acq_rel, memory_order_relaxed))
                return 1;
        }
    }
    return 0;
}

#endif
