/*
 * nmr_hindex.h: a hash index over a caller's array of entries: it maps a
 * hash to the ids (array indexes) of the entries stored under it. The
 * entries and their keys stay in the caller's array; two keys with the same
 * hash are told apart by the caller, who walks the ids of a hash:
 *
 *     struct nmr_hfind f = nmr_hindex_find(&ix, h);
 *     size_t id;
 *     while (nmr_hfind_next(&f, &id))
 *         if (same_key(&entries[id], key))
 *             return id;
 *     (absent: make room for the entry, nmr_hindex_add(&ix, h, n), store it)
 *
 * Open addressing with linear probing over (hash, id) slots, a power of two
 * of them, grown to keep them at most half full. A slot is 8 bytes: 32 bits
 * of the hash (its halves folded) and the id. Keeping the hash means growing
 * never asks for keys, and a probe compares keys only when those 32 bits
 * match. Lookups are inline and allocate nothing.
 */
#ifndef NMR_HINDEX_H
#define NMR_HINDEX_H

#include <stddef.h>
#include <stdint.h>

struct nmr_hslot {
    uint32_t hash;
    uint32_t id1; /* id + 1; 0: empty */
};

/* Zero-initialised: empty, nothing allocated. */
struct nmr_hindex {
    struct nmr_hslot *slots; /* NULL until the first add */
    size_t nslots, n;
};

/* A walk over the ids stored under one hash, in probe order. */
struct nmr_hfind {
    const struct nmr_hslot *slots; /* NULL: nothing to walk */
    size_t mask, at;
    uint32_t hash;
};

/* The 32 bits of hash a slot keeps: both halves count. */
static inline uint32_t nmr_hindex_fold(uint64_t hash)
{
    return (uint32_t)(hash ^ (hash >> 32));
}

static inline struct nmr_hfind nmr_hindex_find(const struct nmr_hindex *ix, uint64_t hash)
{
    struct nmr_hfind f = {ix->slots, ix->nslots - 1, 0, nmr_hindex_fold(hash)};
    if (f.slots)
        f.at = f.hash & f.mask;
    return f;
}

/* The next id under f's hash: 1 and *id set, or 0 when there is no more.
 * Ends at the first empty slot; the index keeps one, being half empty. */
static inline int nmr_hfind_next(struct nmr_hfind *f, size_t *id)
{
    if (!f->slots)
        return 0;
    for (;;) {
        const struct nmr_hslot *s = &f->slots[f->at];
        if (!s->id1)
            return 0;
        f->at = (f->at + 1) & f->mask;
        if (s->hash == f->hash) {
            *id = s->id1 - 1;
            return 1;
        }
    }
}

/* Puts id in place of the one nmr_hfind_next(f) gave last, under the same
 * hash: for a key whose entry the caller has replaced by a newer one. */
static inline void nmr_hindex_replace(struct nmr_hindex *ix, const struct nmr_hfind *f, size_t id)
{
    ix->slots[(f->at - 1) & f->mask].id1 = (uint32_t)id + 1;
}

/*
 * Stores id under hash, growing the slots first when they would be more than
 * half full. The caller adds each key once (after a find that missed). 0, or
 * -ENOMEM with the index unchanged: no memory, or an id of 2^32 - 1 or more
 * (past what a slot holds; nmreport's tables stay far below).
 */
int nmr_hindex_add(struct nmr_hindex *ix, uint64_t hash, size_t id);

/* Frees the slots; the index is empty again. */
void nmr_hindex_free(struct nmr_hindex *ix);

#endif
