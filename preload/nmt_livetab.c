/*
 * nmt_livetab.c: live sampled allocations and free marks (nmt_livetab.h).
 *
 * Owns one open-addressing table of slots keyed by address (Fibonacci
 * hashing of the address without its 4 alignment bits, linear probing, at
 * most 70% occupancy) and the queue of addresses whose slot holds a free
 * mark; expiry walks the queue, not the table. A slot that no longer holds
 * anything stays keyed to its address ("idle"): malloc hands addresses out
 * again soon, and the next event of the address then finds its slot instead
 * of inserting one. A new address takes the first idle slot on its probe
 * path, if any, and the rest are dropped whenever the table is rebuilt:
 * when it reaches 70%, at the size (never smaller) that leaves it at most
 * 35% full, and when it is mostly empty after an expiry, smaller.
 * nmt_livetab_alloc and nmt_livetab_free_settled, and the slot helpers they
 * share with this file, are inline in nmt_livetab.h: the writer calls them
 * for nearly every event.
 */
#include "nmt_livetab.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#define INIT_BITS  10u
#define INIT_QUEUE 1024u /* queue entries at first */
/* Off the path of an address seen before: keeps that path short. */
#define COLD __attribute__((noinline, cold))

static struct nmt_live_slot *alloc_slots(unsigned bits)
{
    return calloc((size_t)1 << bits, sizeof(struct nmt_live_slot));
}

/* Inserts into a table known to have room and not to hold ptr. */
static struct nmt_live_slot *put(struct nmt_livetab *t, const struct nmt_live_slot *v)
{
    uint64_t i = nmt_live__home(t, v->ptr);
    while (t->e[i].ptr)
        i = (i + 1) & t->mask;
    t->e[i] = *v;
    t->used++;
    return &t->e[i];
}

/* Moves every slot but the idle ones into a new table of 2^bits slots;
 * unchanged on failure. */
static int rehash(struct nmt_livetab *t, unsigned bits)
{
    struct nmt_live_slot *n = alloc_slots(bits);
    if (!n)
        return -ENOMEM;
    struct nmt_live_slot *old = t->e;
    uint64_t slots = t->mask + 1;
    t->e = n;
    t->mask = ((uint64_t)1 << bits) - 1;
    t->shift = 64 - bits;
    t->used = 0;
    t->idle = 0;
    for (uint64_t i = 0; i < slots; i++)
        if (old[i].ptr && old[i].flags)
            put(t, &old[i]);
    free(old);
    return 0;
}

/* Makes room for one more slot; the table is unchanged on failure. */
static COLD int reserve_slot(struct nmt_livetab *t)
{
    if (NMT_LIVETAB_ROOM(t))
        return 0;
    /* Rebuilt without its idle slots, at the size (never smaller) that
     * leaves it at most 35% full: at least a third of it to fill before
     * the next rebuild. */
    unsigned bits = 64 - t->shift;
    uint64_t held = t->used - t->idle;
    while ((held + 1) * 20 > ((uint64_t)1 << bits) * 7)
        bits++;
    return bits > 40 ? -ENOMEM : rehash(t, bits);
}

/* Makes room for one more queue entry; unchanged on failure. */
static int reserve_queued_slow(struct nmt_livetab *t);
static inline int reserve_queued(struct nmt_livetab *t)
{
    return t->qlen < t->qcap ? 0 : reserve_queued_slow(t);
}

static COLD int reserve_queued_slow(struct nmt_livetab *t)
{
    uint64_t cap = t->qcap ? t->qcap * 2 : INIT_QUEUE;
    struct nmt_live_queued *q = realloc(t->q, cap * sizeof(*q));
    if (!q)
        return -ENOMEM;
    t->q = q;
    t->qcap = cap;
    return 0;
}

int nmt_livetab_init(struct nmt_livetab *t)
{
    memset(t, 0, sizeof(*t));
    t->e = alloc_slots(INIT_BITS);
    if (!t->e)
        return -ENOMEM;
    t->mask = ((uint64_t)1 << INIT_BITS) - 1;
    t->shift = 64 - INIT_BITS;
    return 0;
}

void nmt_livetab_destroy(struct nmt_livetab *t)
{
    free(t->e);
    free(t->q);
    memset(t, 0, sizeof(*t));
}

/* An idle slot for ptr, which the table does not hold: the first idle slot
 * on ptr's probe path, whose address is dropped (it held nothing, as at a
 * rebuild; the slot stays occupied, so no other address's path is cut),
 * or else a new one. Reusing idle slots keeps the table from filling up
 * with them, and from being rebuilt, while addresses come and go. NULL
 * without memory. */
static struct nmt_live_slot *claim_slot(struct nmt_livetab *t, uint64_t ptr)
{
    for (uint64_t i = nmt_live__home(t, ptr); t->e[i].ptr; i = (i + 1) & t->mask) {
        if (t->e[i].flags == 0) {
            t->e[i].ptr = ptr;
            return &t->e[i];
        }
    }
    if (reserve_slot(t) < 0)
        return NULL;
    struct nmt_live_slot v = {.ptr = ptr};
    t->idle++;
    return put(t, &v);
}

/* An allocation at an address the table does not hold. */
COLD int nmt_livetab__alloc_unknown(struct nmt_livetab *t, uint64_t ptr, uint64_t seq,
                                    uint32_t stack, uint64_t size)
{
    struct nmt_live_slot *s = claim_slot(t, ptr);
    if (s == NULL)
        return -ENOMEM;
    nmt_live__set_live(t, s, seq, stack, size);
    return 1;
}

/* Records a free of ptr at seq in s, which holds no mark yet; 0 or -ENOMEM
 * (nothing changed) when the mark cannot be queued for expiry. */
static int new_mark(struct nmt_livetab *t, struct nmt_live_slot *s, uint64_t seq, uint32_t round,
                    int matched)
{
    if (reserve_queued(t) < 0)
        return -ENOMEM;
    t->q[t->qlen++] = (struct nmt_live_queued){.ptr = s->ptr, .round = round};
    t->idle -= !matched && s->flags == 0; /* matched: it held a live entry */
    s->flags |= NMT_LIVE_F_MARK | (matched ? NMT_LIVE_F_MATCHED : 0);
    s->fseq = seq;
    s->fround = round;
    t->marks++;
    t->orphans += !matched;
    return 0;
}

/* Updates the mark of s with a free at seq: the largest seq wins. */
static void update_mark(struct nmt_livetab *t, struct nmt_live_slot *s, uint64_t seq,
                        uint32_t round, int matched)
{
    if (s->fseq < seq) {
        t->orphans -= !(s->flags & NMT_LIVE_F_MATCHED);
        s->fseq = seq;
        s->flags = (s->flags & ~NMT_LIVE_F_MATCHED) | (matched ? NMT_LIVE_F_MATCHED : 0);
        t->orphans += !matched;
    }
    if ((int32_t)(round - s->fround) > 0)
        s->fround = round;
}

/* A free of an address the table does not hold: an orphan mark. */
static COLD int free_unknown(struct nmt_livetab *t, uint64_t ptr, uint64_t seq, uint32_t round)
{
    struct nmt_live_slot *s;
    if (reserve_queued(t) < 0 || (s = claim_slot(t, ptr)) == NULL)
        return -ENOMEM;
    new_mark(t, s, seq, round, 0);
    return 0;
}

/* The first mark of a known address; returns what nmt_livetab_free does.
 * Without memory for it, a matched free still applies. */
static COLD int first_mark(struct nmt_livetab *t, struct nmt_live_slot *s, uint64_t seq,
                           uint32_t round, int matched)
{
    if (new_mark(t, s, seq, round, matched) == 0)
        return matched;
    if (!matched)
        return -ENOMEM;
    t->mark_failures++;
    t->idle += s->flags == 0;
    return 1;
}

int nmt_livetab_free(struct nmt_livetab *t, uint64_t ptr, uint64_t seq, uint32_t round,
                     struct nmt_live *out)
{
    if (ptr == 0)
        return 0;
    struct nmt_live_slot *s = nmt_live__find(t, ptr);
    if (s == NULL)
        return free_unknown(t, ptr, seq, round);
    int matched = (s->flags & NMT_LIVE_F_LIVE) && s->seq < seq;
    if (matched) {
        if (out)
            nmt_live__to_live(out, s, round);
        s->flags &= ~NMT_LIVE_F_LIVE;
        t->live--;
    }
    if (s->flags & NMT_LIVE_F_MARK) {
        update_mark(t, s, seq, round, matched);
        return matched;
    }
    return first_mark(t, s, seq, round, matched);
}

/* Shrinks the table to the smallest size that keeps it under 35% full,
 * once what it holds (idle slots aside) fills less than an eighth of it:
 * far below the 35% a rebuild for room leaves, so that expiry round after
 * round does not rebuild a table that holds about as much as before. */
static void shrink(struct nmt_livetab *t)
{
    unsigned bits = 64 - t->shift;
    uint64_t held = t->used - t->idle;
    if (bits <= INIT_BITS || held * 8 > t->mask + 1)
        return;
    unsigned nb = INIT_BITS;
    while ((held + 1) * 10 > ((uint64_t)1 << nb) * 7 / 2)
        nb++;
    if (nb < bits)
        rehash(t, nb); /* on failure keeping the big table is harmless */
}

/* Gives back most of the queue's memory once it is mostly unused: a burst of
 * frees must not leave the writer holding its peak for good. */
static void shrink_queue(struct nmt_livetab *t)
{
    if (t->qcap <= INIT_QUEUE || t->qlen * 8 > t->qcap)
        return;
    uint64_t cap = t->qcap;
    while (cap > INIT_QUEUE && t->qlen * 4 <= cap / 2)
        cap /= 2;
    struct nmt_live_queued *q = realloc(t->q, cap * sizeof(*q));
    if (q) { /* on failure keeping the big queue is harmless */
        t->q = q;
        t->qcap = cap;
    }
}

/* Drops the mark of ptr if it was last updated before round - 1; returns 1
 * when the queue entry q is done with (mark dropped or gone), 0 to keep it. */
static int expire_one(struct nmt_livetab *t, struct nmt_live_queued *q, uint32_t round)
{
    struct nmt_live_slot *s = nmt_live__find(t, q->ptr);
    if (s == NULL || !(s->flags & NMT_LIVE_F_MARK))
        return 1;
    if ((uint32_t)(round - s->fround) <= 1) {
        q->round = s->fround; /* updated since queued: look again later */
        return 0;
    }
    if (!(s->flags & NMT_LIVE_F_MATCHED)) {
        t->orphans--;
        t->expired_orphans++;
    }
    s->flags &= ~(NMT_LIVE_F_MARK | NMT_LIVE_F_MATCHED);
    t->marks--;
    t->idle += s->flags == 0;
    return 1;
}

void nmt_livetab_expire(struct nmt_livetab *t, uint32_t round)
{
    uint64_t kept = 0;
    for (uint64_t i = 0; i < t->qlen; i++) {
        struct nmt_live_queued q = t->q[i];
        /* A mark's round only grows: one queued recently is not due yet. */
        if ((uint32_t)(round - q.round) <= 1 || !expire_one(t, &q, round))
            t->q[kept++] = q;
    }
    t->qlen = kept;
    shrink(t);
    shrink_queue(t);
}

uint64_t nmt_livetab_count(const struct nmt_livetab *t)
{
    return t->live;
}

uint64_t nmt_livetab_orphans(const struct nmt_livetab *t)
{
    return t->orphans;
}

int nmt_livetab_lookup(const struct nmt_livetab *t, uint64_t ptr, struct nmt_live *out)
{
    if (ptr == 0)
        return 0;
    const struct nmt_live_slot *s = nmt_live__find(t, ptr);
    if (s == NULL || !(s->flags & NMT_LIVE_F_LIVE))
        return 0;
    if (out)
        nmt_live__to_live(out, s, 0);
    return 1;
}
