/*
 * nmt_liveset.h: the exact set of live sampled pointers, shared by all threads.
 *
 * The address filter (nmt_addrfilter.h) only says "a live sample may start
 * on this page". Before this set existed, every maybe became a FREE event
 * and the filter was cleared by the writer a millisecond later; meanwhile the
 * allocator handed the same address out again and again, and each of those
 * frees paid the slow path (measured: ~45 extra slow frees per sample,
 * docs/PERFORMANCE.md). With the set, a free on a marked page looks for its
 * pointer here (nmt_liveset_locate: one line, nothing written), and the
 * freeing thread itself removes a sample from the slot found (one CAS,
 * nmt_liveset_take) and clears its page's mark at once.
 *
 * Layout: buckets of 8 slots, one cache line each. A pointer lives in its
 * page's bucket when there is room, otherwise in its hash bucket or the next
 * one. The page buckets are the table's first half: consecutive pages of a
 * 16 MiB region have consecutive buckets (each region starts at a scrambled
 * bucket, so that glibc's 64 MiB-aligned arenas do not share theirs). A
 * thread's samples then touch the few hundred lines, on a few pages, over
 * its heap instead of a random line of the whole 512 KiB table (perf: the
 * random line's miss was half the sampled path's own time at the default
 * rate). A page bucket holds 7 pointers; its last slot counts the pointers
 * of its pages that went to the hash buckets, the other half, for pages
 * with more than 7 live samples (at low rates a page of small blocks has
 * more). A search that misses the page bucket reads the hash buckets only
 * when that count is not 0, so the frees of a sample's neighbours read the
 * one line the sample wrote; and kept apart, a crowded heap's full page
 * buckets never stand in the hash buckets' way. 0 is an empty slot.
 * Insertion happens before the pointer is returned to the application,
 * removal by the one thread that frees it (the CAS makes a double free
 * harmless to us), so no other synchronisation is needed. Used when
 * NMTRACE_RATE > 1; at rate 1 every allocation is sampled and the set could
 * never hold them all, so every free is recorded and the writer matches them
 * (nmt_state.h, nmt__every).
 */
#ifndef NMT_LIVESET_H
#define NMT_LIVESET_H

#include <stdatomic.h>
#include <stdint.h>

/* 8192 buckets of 8 slots, 512 KiB: 4096 x 7 + 4096 x 8 = 61440 pointers */
#define NMT_LIVESET_BUCKET_BITS 13
#define NMT_LIVESET_BUCKETS     (1u << NMT_LIVESET_BUCKET_BITS)
#define NMT_LIVESET_WAYS        8
/* A page bucket's pointer slots; the slot after them is its spill count. */
#define NMT_LIVESET_PAGE_WAYS (NMT_LIVESET_WAYS - 1)
#define NMT_LIVESET_SPILL     NMT_LIVESET_PAGE_WAYS

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

/* The pointer slots of candidate k's bucket: a page bucket's last slot is
 * its spill count. */
static inline int nmt_liveset_ways(int k)
{
    return k == 0 ? NMT_LIVESET_PAGE_WAYS : NMT_LIVESET_WAYS;
}

/* The spill count of p's page bucket: how many live pointers whose page
 * bucket it is are in the hash buckets. */
static inline _Atomic uintptr_t *nmt_liveset_spill(struct nmt_liveset *s, uintptr_t p)
{
    return &s->bucket[nmt_liveset_page_bucket(p)].slot[NMT_LIVESET_SPILL];
}

/* Puts p into a free slot of candidate k's bucket: 1 when it did. */
static inline int nmt_liveset_put(struct nmt_liveset *s, uintptr_t p, int k)
{
    uint32_t b = nmt_liveset_candidate(p, k);
    for (int i = 0; i < nmt_liveset_ways(k); i++) {
        uintptr_t expected = 0;
        if (atomic_load_explicit(&s->bucket[b].slot[i], memory_order_relaxed) == 0 &&
            atomic_compare_exchange_strong_explicit(&s->bucket[b].slot[i], &expected, p,
                                                    memory_order_release, memory_order_relaxed))
            return 1;
    }
    return 0;
}

/* Adds p. Returns 0, or -1 when all its candidate buckets are full (the
 * caller then does not sample this allocation and counts it). The spill
 * count goes up before p goes to a hash bucket, and both before p is handed
 * to the application, so the thread that frees p sees both. */
static inline int nmt_liveset_insert(struct nmt_liveset *s, const void *ptr)
{
    uintptr_t p = (uintptr_t)ptr;
    if (nmt_liveset_put(s, p, 0))
        return 0;
    _Atomic uintptr_t *spill = nmt_liveset_spill(s, p);
    atomic_fetch_add_explicit(spill, 1, memory_order_relaxed);
    for (int k = 1; k < NMT_LIVESET_CANDIDATES; k++)
        if (nmt_liveset_put(s, p, k))
            return 0;
    atomic_fetch_sub_explicit(spill, 1, memory_order_relaxed);
    return -1;
}

/* The slot of candidate k's bucket that holds p, or NULL. */
static inline _Atomic uintptr_t *nmt_liveset_find(struct nmt_liveset *s, uintptr_t p, int k)
{
    uint32_t b = nmt_liveset_candidate(p, k);
    for (int i = 0; i < nmt_liveset_ways(k); i++)
        if (atomic_load_explicit(&s->bucket[b].slot[i], memory_order_acquire) == p)
            return &s->bucket[b].slot[i];
    return NULL;
}

/* Whether k > 0 may hold p: only when p's page bucket's spill count is not
 * 0. For the free of p, which happens after p's insertion, that count is
 * never too low: p's own increment happened before, and every decrement
 * comes after its own pointer's increment in the count's order. */
static inline int nmt_liveset_spilled(struct nmt_liveset *s, uintptr_t p)
{
    return atomic_load_explicit(nmt_liveset_spill(s, p), memory_order_relaxed) != 0;
}

/* Where p is: the slot that holds it, and in *k which candidate bucket
 * that is; NULL when p is not in the set, exact for a free of p. Reads p's
 * page bucket, and the hash buckets only when nmt_liveset_spilled; writes
 * nothing. */
static inline _Atomic uintptr_t *nmt_liveset_locate(struct nmt_liveset *s, const void *ptr, int *k)
{
    uintptr_t p = (uintptr_t)ptr;
    _Atomic uintptr_t *slot = nmt_liveset_find(s, p, 0);
    *k = 0;
    if (slot != NULL || !nmt_liveset_spilled(s, p))
        return slot;
    for (*k = 1; *k < NMT_LIVESET_CANDIDATES; ++*k)
        if ((slot = nmt_liveset_find(s, p, *k)) != NULL)
            return slot;
    return NULL;
}

/* 1 when p is in the set (nmt_liveset_locate). */
static inline int nmt_liveset_has(struct nmt_liveset *s, const void *ptr)
{
    int k;
    return nmt_liveset_locate(s, ptr, &k) != NULL;
}

/* Removes p from slot, which nmt_liveset_locate found holding it in
 * candidate k. Returns 1 when this call removed it: of two racing frees of
 * p, one does. A pointer is in one slot at a time but for a stale entry
 * (its free bypassed the hooks) and a new sample of the same address: each
 * removal takes the first one found, as nmt_liveset_remove does. */
static inline int nmt_liveset_take(struct nmt_liveset *s, const void *ptr, _Atomic uintptr_t *slot,
                                   int k)
{
    uintptr_t p = (uintptr_t)ptr, expected = p;
    if (!atomic_compare_exchange_strong_explicit(slot, &expected, 0, memory_order_acq_rel,
                                                 memory_order_relaxed))
        return 0;
    if (k > 0)
        atomic_fetch_sub_explicit(nmt_liveset_spill(s, p), 1, memory_order_relaxed);
    return 1;
}

/* Removes p if present. Returns 1 when this call removed it (of two racing
 * frees of p, one does). */
static inline int nmt_liveset_remove(struct nmt_liveset *s, const void *ptr)
{
    int k;
    _Atomic uintptr_t *slot = nmt_liveset_locate(s, ptr, &k);
    return slot != NULL && nmt_liveset_take(s, ptr, slot, k);
}

#endif
