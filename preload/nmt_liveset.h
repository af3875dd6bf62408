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
 * Layout: buckets of 8 pointer slots, one cache line each; a pointer lives in
 * its hash bucket or the next one. 0 is an empty slot. Insertion happens
 * before the pointer is returned to the application, removal by the one
 * thread that frees it (the CAS makes a double free harmless to us), so no
 * other synchronisation is needed. Used when NMTRACE_RATE > 1; at rate 1
 * every allocation is sampled and the set could never hold them all, so
 * every free is recorded and the writer matches them (nmt_state.h,
 * nmt__every).
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

static inline uint32_t nmt_liveset_bucket(uintptr_t p)
{
    uint64_t h = (uint64_t)(p >> 4) * 0x9e3779b97f4a7c15ull;
    return (uint32_t)(h >> (64 - NMT_LIVESET_BUCKET_BITS));
}

/* Starts loading p's bucket for a write: the sampled path asks before it
 * unwinds, so the random line of the table arrives meanwhile. */
static inline void nmt_liveset_prefetch(const struct nmt_liveset *s, const void *ptr)
{
    __builtin_prefetch(&s->bucket[nmt_liveset_bucket((uintptr_t)ptr)], 1);
}

/* Adds p. Returns 0, or -1 when both candidate buckets are full (the caller
 * then does not sample this allocation and counts it). */
static inline int nmt_liveset_insert(struct nmt_liveset *s, const void *ptr)
{
    uintptr_t p = (uintptr_t)ptr;
    uint32_t b = nmt_liveset_bucket(p);
    for (int k = 0; k < 2; k++, b = (b + 1) & (NMT_LIVESET_BUCKETS - 1)) {
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
    uint32_t b = nmt_liveset_bucket(p);
    for (int k = 0; k < 2; k++, b = (b + 1) & (NMT_LIVESET_BUCKETS - 1)) {
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
