/*
 * nmt_stacktab.h: the writer thread's table of distinct stacks.
 *
 * Interns stacks (arrays of 64-bit frames) into ids 1, 2, 3... in order of
 * first appearance, the ids the profile's STACK records carry, and keeps the
 * per-stack totals that SITES records report. Ids are handed out in order,
 * so the snapshot encoder knows which stacks are new by their id alone.
 * Writer thread only: no locking. Allocates with plain malloc (on the writer
 * thread that is the writer's own heap, nmt_wheap.c) and reports allocation
 * failure as a return value.
 *
 * Pointers returned by nmt_stacktab_frames and nmt_stacktab_totals stay
 * valid until nmt_stacktab_destroy: entries live in fixed-size segments and
 * frames in large chunks, neither of which ever moves.
 *
 * Consecutive events mostly come from the same few call sites: the ids of
 * the last NMT_STACKTAB_RECENT stacks interned are compared frame by frame
 * before anything is hashed, and a stack found there costs one comparison.
 */
#ifndef NMT_STACKTAB_H
#define NMT_STACKTAB_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

struct nmt_stack_totals {
    double live_bytes, live_objects;   /* estimated, sampling weights applied */
    double alloc_bytes, alloc_objects; /* cumulative, estimated */
    uint64_t live_samples, alloc_samples;
    int64_t reserved, committed; /* mmap bytes, exact */
};

#define NMT_STACKTAB_SEG_BITS 12 /* entries per segment: 1 << SEG_BITS */
#define NMT_STACKTAB_RECENT   4  /* stacks compared before hashing */

struct nmt_stack_ent {
    const uint64_t *frames;
    uint64_t hash;
    uint32_t n;
    struct nmt_stack_totals totals;
};

struct nmt_stack_chunk;

struct nmt_stacktab {
    uint64_t *slots;             /* open addressing: (hash >> 32) << 32 | id; 0 = empty */
    uint32_t slot_mask;          /* slot count - 1 (a power of two) */
    uint32_t count;              /* ids handed out; the last id is count */
    struct nmt_stack_ent **segs; /* entry of id i: segs[(i-1) >> SEG_BITS][(i-1) & SEG_MASK] */
    uint32_t nsegs, segs_cap;
    struct nmt_stack_chunk *chunks;       /* frame storage, newest first */
    uint32_t chunk_used, chunk_cap;       /* frames used / available in the newest chunk */
    uint32_t recent[NMT_STACKTAB_RECENT]; /* last ids interned, newest first; 0 = none */
    struct nmt_stack_ent *last;           /* the entry of recent[0], or NULL */
};

/* 0 or -ENOMEM. */
int nmt_stacktab_init(struct nmt_stacktab *t);

/* Frees everything; t may be re-initialised afterwards. */
void nmt_stacktab_destroy(struct nmt_stacktab *t);

/* The id of the stack frames[0..n), adding it if unseen (*is_new = 1, else 0;
 * is_new may be NULL). Returns 0 when memory runs out (the table is unchanged). */
uint32_t nmt_stacktab__intern(struct nmt_stacktab *t, const uint64_t *frames, uint32_t n,
                              int *is_new); /* all but the newest recent stack */
static inline uint32_t nmt_stacktab_intern(struct nmt_stacktab *t, const uint64_t *frames,
                                           uint32_t n, int *is_new)
{
    /* The stack interned last, compared inline: the common case at rate 1. */
    const struct nmt_stack_ent *e = t->last;
    if (e != NULL && e->n == n &&
        (n == 0 ||
         (e->frames[0] == frames[0] && memcmp(e->frames, frames, n * sizeof(*frames)) == 0))) {
        if (is_new)
            *is_new = 0;
        return t->recent[0];
    }
    return nmt_stacktab__intern(t, frames, n, is_new);
}

/* The frames of id and their count, or NULL for an unknown id. */
const uint64_t *nmt_stacktab_frames(const struct nmt_stacktab *t, uint32_t id, uint32_t *n);

/* The totals of id (zero-initialised when interned), or NULL for an unknown
 * id. Inline: the writer asks for them at every event. */
static inline struct nmt_stack_totals *nmt_stacktab_totals(struct nmt_stacktab *t, uint32_t id)
{
    if (id == 0 || id > t->count)
        return NULL;
    uint32_t i = id - 1;
    return &t->segs[i >> NMT_STACKTAB_SEG_BITS][i & ((1u << NMT_STACKTAB_SEG_BITS) - 1)].totals;
}

/* The totals of id, an id this table handed out: without a lookup when it
 * is the stack the last successful nmt_stacktab_intern returned (the caller
 * that just interned it; mostly too the writer's event without frames,
 * which refers to its ring's last stack). */
static inline struct nmt_stack_totals *nmt_stacktab_recent_totals(struct nmt_stacktab *t,
                                                                  uint32_t id)
{
    return id == t->recent[0] ? &t->last->totals : nmt_stacktab_totals(t, id);
}

/* Number of distinct stacks: valid ids are 1..count. */
uint32_t nmt_stacktab_count(const struct nmt_stacktab *t);

#endif
