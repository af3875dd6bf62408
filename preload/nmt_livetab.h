/*
 * nmt_livetab.h: the writer thread's table of live sampled allocations.
 *
 * Maps address -> {stack id, size, seq} for every sampled allocation not yet
 * freed. Events reach the writer through per-thread rings drained in any
 * order, so for one object the FREE may be drained before the ALLOC, and an
 * address reused by a later allocation may show its events interleaved with
 * the earlier one's. Every event carries a global sequence number, taken by
 * the allocating thread before the pointer is returned and by the freeing
 * thread in free(), so events of one address are ordered by seq.
 *
 * The rule: an allocation is live when no later event of its address exists.
 * Any FREE of p with a larger seq proves the allocation dead (it was freed at
 * the latest then: even a free of an unsampled object at p, a false positive
 * of the address filter, means p had been freed and reused), and so does a
 * later ALLOC of p (its FREE was lost or is still in a ring). To apply the
 * rule whatever the drain order, the table remembers, per address, the
 * largest seq of a FREE seen recently (a "free mark", matched or not) until
 * nmt_livetab_expire drops it; an ALLOC that arrives with a smaller seq is
 * cancelled. A mark that never matched a live entry is an "orphan": a false
 * positive of the filter, or a free whose allocation record was lost.
 *
 * One open-addressing table keyed by address holds both: a slot carries the
 * address's live entry, its free mark, or both, so the common sequence
 * (alloc p, free p, alloc p again: malloc reuses addresses at once) costs
 * one probe per event and no insertion or deletion. A slot emptied by
 * expiry stays keyed to its address for a while (it is likely to be
 * allocated again) and is dropped when the table is rebuilt. Marks are found
 * again for expiry through a queue of the addresses that hold one, so expiry
 * never scans the table. Writer thread only; plain malloc; allocation failure is returned,
 * never fatal.
 */
#ifndef NMT_LIVETAB_H
#define NMT_LIVETAB_H

#include <errno.h>
#include <stddef.h>
#include <stdint.h>

struct nmt_live {
    uint64_t ptr;   /* the address */
    uint64_t seq;   /* global event sequence number */
    uint64_t size;  /* requested bytes */
    uint32_t stack; /* stack id */
    uint32_t round; /* the round passed to the call that returned it (0: lookup) */
};

/* A slot of the table; ptr 0 marks an empty slot. */
struct nmt_live_slot {
    uint64_t ptr;
    uint64_t seq, size; /* the live allocation, when flags has LIVE */
    uint64_t fseq;      /* the free mark's seq (the largest seen), when flags has MARK */
    uint32_t stack;     /* the live allocation's stack id */
    uint32_t fround;    /* round the mark was last updated in */
    uint32_t flags;     /* F_LIVE, F_MARK, F_MATCHED (nmt_livetab.c); 0: idle */
};

/* An address that holds a mark, and its mark's round when last looked at. */
struct nmt_live_queued {
    uint64_t ptr;
    uint32_t round;
};

struct nmt_livetab {
    struct nmt_live_slot *e;
    uint64_t mask;             /* slots - 1 */
    uint64_t used;             /* occupied slots, idle ones included */
    uint64_t idle;             /* slots keyed to an address but holding nothing */
    unsigned shift;            /* 64 - log2(slots): the hash keeps the top bits */
    uint64_t live;             /* slots with a live entry */
    uint64_t marks;            /* slots with a free mark */
    struct nmt_live_queued *q; /* exactly one entry per slot with a mark */
    uint64_t qlen, qcap;
    uint64_t orphans;         /* marks that matched no allocation (yet) */
    uint64_t expired_orphans; /* orphans dropped by expiry, since init */
    uint64_t mark_failures;   /* frees not remembered for lack of memory */
};

/* A slot's flags. */
#define NMT_LIVE_F_LIVE    1u /* the slot holds a live allocation */
#define NMT_LIVE_F_MARK    2u /* the slot holds a free mark */
#define NMT_LIVE_F_MATCHED 4u /* the mark's free matched an allocation (not an orphan) */
/* One more slot keeps the table at most 70% full. */
#define NMT_LIVETAB_ROOM(t) (((t)->used + 1) * 10 <= ((t)->mask + 1) * 7)

/* The usual paths of an allocation and of a settled free are inline below
 * (the writer's busiest calls); the rest is in nmt_livetab.c. */
static inline uint64_t nmt_live__home(const struct nmt_livetab *t, uint64_t ptr)
{
    return ((ptr >> 4) * 0x9E3779B97F4A7C15ull) >> t->shift;
}

/* The slot of ptr, or NULL. */
static inline struct nmt_live_slot *nmt_live__find(const struct nmt_livetab *t, uint64_t ptr)
{
    for (uint64_t i = nmt_live__home(t, ptr);; i = (i + 1) & t->mask) {
        struct nmt_live_slot *s = &t->e[i];
        if (s->ptr == ptr)
            return s;
        if (!s->ptr)
            return NULL;
    }
}

/* The slot of ptr; else the first idle slot on ptr's path, or the empty
 * slot that ends it: where ptr goes in. */
static inline struct nmt_live_slot *nmt_live__find_or_free(const struct nmt_livetab *t,
                                                           uint64_t ptr)
{
    struct nmt_live_slot *idle = NULL;
    for (uint64_t i = nmt_live__home(t, ptr);; i = (i + 1) & t->mask) {
        struct nmt_live_slot *s = &t->e[i];
        if (s->ptr == ptr)
            return s;
        if (!s->ptr)
            return idle ? idle : s;
        if (!idle && !s->flags)
            idle = s;
    }
}

static inline void nmt_live__to_live(struct nmt_live *out, const struct nmt_live_slot *s,
                                     uint32_t round)
{
    *out = (struct nmt_live){
        .ptr = s->ptr, .seq = s->seq, .size = s->size, .stack = s->stack, .round = round};
}

static inline void nmt_live__set_live(struct nmt_livetab *t, struct nmt_live_slot *s, uint64_t seq,
                                      uint32_t stack, uint64_t size)
{
    t->idle -= s->flags == 0;
    t->live += !(s->flags & NMT_LIVE_F_LIVE);
    s->flags |= NMT_LIVE_F_LIVE;
    s->seq = seq;
    s->size = size;
    s->stack = stack;
}

/* s holds nothing any more. It stays keyed to its address (idle: malloc
 * hands addresses out again soon, and the next allocation there then finds
 * it) while idle slots are fewer than live ones; beyond that it is emptied
 * when it ends its run (no address's path goes past it, so none moves).
 * Idle slots are taken by new addresses whose path crosses them, so the
 * table does not fill up with them. */
static inline void nmt_live__release_slot(struct nmt_livetab *t, struct nmt_live_slot *s)
{
    if (t->idle >= t->live && !t->e[(uint64_t)(s - t->e + 1) & t->mask].ptr) {
        s->ptr = 0; /* the rest of an empty slot is never read */
        t->used--;
    } else {
        t->idle++;
    }
}

/* Asks the cache for the slot where a lookup of ptr starts. The writer
 * does it for a record a record or two ahead of the one it applies: a
 * table of a few thousand live entries does not stay in the first-level
 * cache while the rings stream through, and waiting for the slot was the
 * writer's largest stall. */
static inline void nmt_livetab_prefetch(const struct nmt_livetab *t, uint64_t ptr)
{
    __builtin_prefetch(&t->e[nmt_live__home(t, ptr)]);
}

/* An allocation at an address the table does not hold and has no room
 * for (nmt_livetab.c). */
int nmt_livetab__alloc_unknown(struct nmt_livetab *t, uint64_t ptr, uint64_t seq, uint32_t stack,
                               uint64_t size);

/* 0 or -ENOMEM. */
int nmt_livetab_init(struct nmt_livetab *t);
void nmt_livetab_destroy(struct nmt_livetab *t);

/* A sampled allocation of `size` bytes at ptr from `stack`. Returns
 *   1  inserted live;
 *   0  cancelled: the object is already dead (a FREE of ptr with a larger
 *      seq has been seen: an orphan is thereby matched; or a newer
 *      allocation holds ptr);
 *   2  inserted live, replacing an older live entry of ptr whose FREE was
 *      lost (or is still in a ring): *replaced (if not NULL) receives the
 *      old entry so the caller can take it out of its live totals;
 *   -ENOMEM (nothing changed), -EINVAL for ptr 0.
 * The caller counts the allocation in its cumulative totals whatever the
 * result, and in its live totals for 1 and 2. Every sampled allocation ends
 * exactly once as "dead" through a 0 here, a replacement (2) or a matching
 * free (1 from nmt_livetab_free): the places to undo its address-filter
 * mark. Always inlined: the writer calls it at every allocation, and as a
 * call it cost a frame and *replaced in memory (~20 instructions each). */
static inline __attribute__((always_inline)) int
nmt_livetab_alloc(struct nmt_livetab *t, uint64_t ptr, uint64_t seq, uint32_t stack, uint64_t size,
                  uint32_t round, struct nmt_live *replaced)
{
    if (ptr == 0)
        return -EINVAL;
    struct nmt_live_slot *s = nmt_live__find_or_free(t, ptr);
    if (s->ptr != ptr && s->ptr) {
        /* A new address takes an idle slot on its path: the slot's address
         * is dropped (it held nothing, as at a rebuild), and the slot stays
         * occupied, so no other address's path is cut. */
        s->ptr = ptr;
        nmt_live__set_live(t, s, seq, stack, size);
        return 1;
    }
    if (s->ptr != ptr) {
        /* A new address: into the empty slot that ended its path, when the
         * table has room for it. */
        if (NMT_LIVETAB_ROOM(t)) {
            *s = (struct nmt_live_slot){
                .ptr = ptr, .seq = seq, .size = size, .stack = stack, .flags = NMT_LIVE_F_LIVE};
            t->used++;
            t->live++;
            return 1;
        }
        return nmt_livetab__alloc_unknown(t, ptr, seq, stack, size);
    }
    if ((s->flags & NMT_LIVE_F_MARK) && s->fseq > seq) {
        /* Freed after it was allocated: already dead. The mark stays, for
         * other allocations of ptr older than it that may still arrive. */
        if (!(s->flags & NMT_LIVE_F_MATCHED)) {
            s->flags |= NMT_LIVE_F_MATCHED;
            t->orphans--;
        }
        return 0;
    }
    if (!(s->flags & NMT_LIVE_F_LIVE)) {
        nmt_live__set_live(t, s, seq, stack, size);
        return 1;
    }
    if (s->seq >= seq)
        return 0; /* a newer allocation holds ptr: this one died before */
    /* An older allocation still holds ptr: its FREE was lost, or is still in
     * a ring and will find this newer entry and only leave a mark. Either
     * way the old object is dead. */
    if (replaced)
        nmt_live__to_live(replaced, s, round);
    nmt_live__set_live(t, s, seq, stack, size);
    return 2;
}

/* A free of ptr in writer round `round`. Returns 1 and fills *out (if not
 * NULL) with the live entry it removes (one with a smaller seq), 0 when there
 * is none (an orphan, for now). Either way the free is remembered as ptr's
 * free mark until expiry. When a mark cannot be stored for lack of memory,
 * a matching live entry is still removed (1) and mark_failures counts it;
 * with no match the result is -ENOMEM. ptr 0: returns 0. */
int nmt_livetab_free(struct nmt_livetab *t, uint64_t ptr, uint64_t seq, uint32_t round,
                     struct nmt_live *out);

/* A free of ptr that comes after every earlier event of ptr (the writer
 * knows it from the order in which it drains the rings: nmt_writer.c). No
 * allocation of ptr with a smaller seq can arrive any more, so no mark is
 * needed and none is kept: the table keeps only what is live, and stays
 * small and in the cache while the writer works through a backlog. Returns
 * 1 and fills *out (if not NULL) with the live entry it removes (one with a
 * smaller seq), or 0: then the free is an orphan with nothing left to
 * match, counted in expired_orphans at once (unless a mark with a larger
 * seq already holds ptr, which a free it follows would have updated).
 * ptr 0: returns 0. */
static inline int nmt_livetab_free_settled(struct nmt_livetab *t, uint64_t ptr, uint64_t seq,
                                           struct nmt_live *out)
{
    if (ptr == 0)
        return 0;
    struct nmt_live_slot *s = nmt_live__find(t, ptr);
    if (s == NULL || !(s->flags & NMT_LIVE_F_LIVE) || s->seq >= seq) {
        /* A mark that is already there is left as it is: no allocation it
         * could still cancel has a seq between its own and this one. */
        if (s == NULL || !(s->flags & NMT_LIVE_F_MARK) || s->fseq < seq)
            t->expired_orphans++;
        return 0;
    }
    if (out)
        nmt_live__to_live(out, s, 0);
    s->flags &= ~NMT_LIVE_F_LIVE;
    t->live--;
    if (s->flags == 0)
        nmt_live__release_slot(t, s); /* nothing to keep */
    return 1;
}

/* Drops free marks last updated before round - 1. The writer drains every
 * ring once per round and an ALLOC is in its ring before its pointer is
 * returned, so every allocation older than a free drained in round r has
 * been drained by the end of round r + 1. Unmatched marks dropped here are
 * counted in expired_orphans. Shrinks the table when it is mostly
 * empty, so a burst of frees does not leave a huge table behind
 * huge table. */
void nmt_livetab_expire(struct nmt_livetab *t, uint32_t round);

/* Live entries / free marks that have matched nothing so far. */
uint64_t nmt_livetab_count(const struct nmt_livetab *t);
uint64_t nmt_livetab_orphans(const struct nmt_livetab *t);

/* Copies the live entry of ptr to *out and returns 1, or returns 0. */
int nmt_livetab_lookup(const struct nmt_livetab *t, uint64_t ptr, struct nmt_live *out);

#endif
