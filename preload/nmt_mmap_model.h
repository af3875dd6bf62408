/*
 * nmt_mmap_model.h: the address-space model behind mmap accounting.
 *
 * Counting mmap calls is not enough: HotSpot reserves with PROT_NONE, commits
 * with mmap(MAP_FIXED) over its reservation, uncommits by mapping PROT_NONE
 * again; munmap cuts regions in the middle; mremap moves and grows; mprotect
 * flips pages between PROT_NONE and accessible. So the writer keeps a model:
 * a sorted set of non-overlapping page-aligned segments [start, end), each
 * owned by a reserving stack and, while accessible, by a committing stack
 * (0 = not committed). A byte counts once as reserved, at most once as
 * committed (docs/FORMAT.md, "mmap attribution"):
 *
 *   - the stack that first maps a range reserves it; the stack whose call
 *     makes pages accessible commits them;
 *   - mmap(MAP_FIXED) over known pages keeps their reserver and replaces
 *     their commit: accessible -> committed by the caller, PROT_NONE ->
 *     uncommitted; over unknown pages it is a new reservation;
 *   - a mapping without MAP_FIXED can only land on unmapped memory, so known
 *     segments under it are stale (an unmap we did not see) and are replaced;
 *   - munmap removes; mprotect(PROT_NONE) uncommits; mprotect to accessible
 *     commits, by the caller, the pages not committed already; pages the
 *     model does not know are left alone;
 *   - mremap keeps the attribution of the pages it moves, gives growth to the
 *     owners of the old region's last known segment (to the caller when the
 *     old region is unknown) and drops a shrunk tail.
 *
 * Every change of a stack's figures goes through the delta callback, so the
 * caller's per-stack totals follow the model exactly. Writer thread only;
 * plain malloc; every function returns 0 or -errno and changes nothing (and
 * reports no delta) when it fails for lack of memory.
 *
 * Segments live in a sorted array searched by binary search: O(log n)
 * lookups; inserting shifts the tail, which for the thousands of mappings a
 * JVM makes is a short memmove. Adjacent segments with equal owners are
 * merged, so a reservation committed piecewise stays a handful of segments.
 */
#ifndef NMT_MMAP_MODEL_H
#define NMT_MMAP_MODEL_H

#include <stddef.h>
#include <stdint.h>

typedef void (*nmt_mm_delta_fn)(void *ctx, uint32_t stack, int64_t d_reserved, int64_t d_committed);

struct nmt_mm_seg {
    uint64_t start, end; /* page-aligned, start < end */
    uint32_t rstack;     /* reserving stack, never 0 */
    uint32_t cstack;     /* committing stack, 0 = PROT_NONE */
};

struct nmt_mm {
    struct nmt_mm_seg *seg; /* sorted by start, non-overlapping */
    size_t n, cap;
    struct nmt_mm_seg *tmp; /* scratch for the segments that replace a range */
    size_t tmp_cap;
    nmt_mm_delta_fn fn;
    void *ctx;
    uint64_t page; /* a power of two */
    uint64_t reserved, committed;
};

/* A model with 4096-byte pages. fn may be NULL. Returns 0. */
int nmt_mm_init(struct nmt_mm *m, nmt_mm_delta_fn fn, void *ctx);
/* The same with the process's page size (a power of two); -EINVAL otherwise. */
int nmt_mm_init_page(struct nmt_mm *m, nmt_mm_delta_fn fn, void *ctx, uint64_t page_size);
void nmt_mm_destroy(struct nmt_mm *m);

/* A successful mmap: addr is the address it returned; prot and flags are the
 * caller's (PROT_*, MAP_*). */
int nmt_mm_map(struct nmt_mm *m, uint64_t addr, uint64_t len, int prot, int flags, uint32_t stack);
/* A successful munmap. */
int nmt_mm_unmap(struct nmt_mm *m, uint64_t addr, uint64_t len);
/* A successful mremap: new_addr is the address it returned. */
int nmt_mm_remap(struct nmt_mm *m, uint64_t old_addr, uint64_t old_len, uint64_t new_addr,
                 uint64_t new_len, uint32_t stack);
/* A successful mprotect. */
int nmt_mm_protect(struct nmt_mm *m, uint64_t addr, uint64_t len, int prot, uint32_t stack);

/* Bytes reserved / committed in the whole model. */
uint64_t nmt_mm_reserved(const struct nmt_mm *m);
uint64_t nmt_mm_committed(const struct nmt_mm *m);

/* Index in seg[] of the first segment ending after addr (n if none). */
size_t nmt_mm_first_after(const struct nmt_mm *m, uint64_t addr);

/* Segments in the model (after merging). */
size_t nmt_mm_count(const struct nmt_mm *m);
/* The owners of the page holding addr: 1 and *rstack, *cstack, or 0 when the
 * model does not know addr. */
int nmt_mm_lookup(const struct nmt_mm *m, uint64_t addr, uint32_t *rstack, uint32_t *cstack);

#endif
