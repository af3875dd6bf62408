/*
 * nmt_stacktab.c: stack interning and per-stack totals (nmt_stacktab.h).
 *
 * Owns three structures: an open-addressing hash index (linear probing, at
 * most 3/4 full, doubled when it would pass that) whose slots hold the upper
 * half of the stack's hash next to its id, so most mismatches are rejected
 * without touching the entry; the entries themselves, in segments of 4096
 * that never move; and the frames, copied into 512 KiB chunks. Stacks are
 * never removed: a profile's stack ids are permanent. In front of the index,
 * the few stacks interned last are compared directly (nmt_stacktab.h).
 */
#include "nmt_stacktab.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "nmc_hash.h"

#define SEG_BITS     NMT_STACKTAB_SEG_BITS
#define SEG_SIZE     (1u << SEG_BITS)
#define SEG_MASK     (SEG_SIZE - 1)
#define CHUNK_FRAMES (64u * 1024)
#define INIT_SLOTS   1024u

struct nmt_stack_chunk {
    struct nmt_stack_chunk *next;
    uint64_t frames[];
};

#ifdef NMT_STACKTAB_TEST_HASH_BITS
/* Test seam: a hash of a few bits, so that distinct stacks collide. */
#define HASH_KEEP(h) ((h) & ((1ull << NMT_STACKTAB_TEST_HASH_BITS) - 1))
#else
#define HASH_KEEP(h) (h)
#endif

/* One multiply per frame (a polynomial in the frames), then a full mix of
 * the sum so that every input bit reaches the index and the tag bits. */
static uint64_t hash_frames(const uint64_t *f, uint32_t n)
{
    uint64_t h = 0x243F6A8885A308D3ull ^ n;
    for (uint32_t i = 0; i < n; i++)
        h = (h + f[i]) * 0x9E3779B97F4A7C15ull;
    return HASH_KEEP(nmc_mix64(h));
}

static int same_frames(const struct nmt_stack_ent *e, const uint64_t *frames, uint32_t n)
{
    return e->n == n && (n == 0 || (e->frames[0] == frames[0] &&
                                    memcmp(e->frames, frames, n * sizeof(*frames)) == 0));
}

static struct nmt_stack_ent *ent(const struct nmt_stacktab *t, uint32_t id)
{
    if (id == 0 || id > t->count)
        return NULL;
    return &t->segs[(id - 1) >> SEG_BITS][(id - 1) & SEG_MASK];
}

int nmt_stacktab_init(struct nmt_stacktab *t)
{
    memset(t, 0, sizeof(*t));
    t->slots = calloc(INIT_SLOTS, sizeof(*t->slots));
    if (!t->slots)
        return -ENOMEM;
    t->slot_mask = INIT_SLOTS - 1;
    return 0;
}

void nmt_stacktab_destroy(struct nmt_stacktab *t)
{
    free(t->slots);
    for (uint32_t i = 0; i < t->nsegs; i++)
        free(t->segs[i]);
    free(t->segs);
    struct nmt_stack_chunk *c = t->chunks;
    while (c) {
        struct nmt_stack_chunk *next = c->next;
        free(c);
        c = next;
    }
    memset(t, 0, sizeof(*t));
}

/* The slot where hash h is, or the empty slot where it would go. */
static uint32_t probe(const struct nmt_stacktab *t, uint64_t h, const uint64_t *frames, uint32_t n,
                      int *found)
{
    uint32_t i = (uint32_t)h & t->slot_mask;
    uint64_t tag = h >> 32 << 32;
    for (;; i = (i + 1) & t->slot_mask) {
        uint64_t s = t->slots[i];
        if (s == 0) {
            *found = 0;
            return i;
        }
        if ((s >> 32 << 32) != tag)
            continue;
        const struct nmt_stack_ent *e = ent(t, (uint32_t)s);
        if (e->hash == h && same_frames(e, frames, n)) {
            *found = 1;
            return i;
        }
    }
}

static int grow_slots(struct nmt_stacktab *t)
{
    uint64_t nslots = ((uint64_t)t->slot_mask + 1) * 2;
    if (nslots > (1ull << 32))
        return -ENOMEM;
    uint64_t *s = calloc(nslots, sizeof(*s));
    if (!s)
        return -ENOMEM;
    uint32_t mask = (uint32_t)(nslots - 1);
    for (uint32_t id = 1; id <= t->count; id++) {
        uint64_t h = ent(t, id)->hash;
        uint32_t i = (uint32_t)h & mask;
        while (s[i])
            i = (i + 1) & mask;
        s[i] = (h >> 32 << 32) | id;
    }
    free(t->slots);
    t->slots = s;
    t->slot_mask = mask;
    return 0;
}

/* Makes room for entry number count + 1; the table is unchanged on failure. */
static int reserve_entry(struct nmt_stacktab *t)
{
    uint32_t seg = t->count >> SEG_BITS;
    if (seg < t->nsegs)
        return 0;
    if (t->nsegs == t->segs_cap) {
        uint32_t cap = t->segs_cap ? t->segs_cap * 2 : 16;
        struct nmt_stack_ent **s = realloc(t->segs, cap * sizeof(*s));
        if (!s)
            return -ENOMEM;
        t->segs = s;
        t->segs_cap = cap;
    }
    struct nmt_stack_ent *e = malloc(SEG_SIZE * sizeof(*e));
    if (!e)
        return -ENOMEM;
    t->segs[t->nsegs++] = e;
    return 0;
}

/* Room for n frames; NULL when memory runs out. A stack longer than a chunk
 * gets a chunk of its own. */
static uint64_t *reserve_frames(struct nmt_stacktab *t, uint32_t n)
{
    if (t->chunks && t->chunk_cap - t->chunk_used >= n)
        return t->chunks->frames + t->chunk_used;
    uint32_t cap = n > CHUNK_FRAMES ? n : CHUNK_FRAMES;
    struct nmt_stack_chunk *c = malloc(sizeof(*c) + (size_t)cap * sizeof(uint64_t));
    if (!c)
        return NULL;
    c->next = t->chunks;
    t->chunks = c;
    t->chunk_used = 0;
    t->chunk_cap = cap;
    return c->frames;
}

/* Makes id the newest of the recent ids. */
static void remember(struct nmt_stacktab *t, uint32_t id)
{
    uint32_t k = 0;
    while (k < NMT_STACKTAB_RECENT - 1 && t->recent[k] != id)
        k++;
    for (; k > 0; k--)
        t->recent[k] = t->recent[k - 1];
    t->recent[0] = id;
    t->last = ent(t, id);
}

/* The id of frames[0..n) among the recent ids but the newest (which
 * nmt_stacktab_intern compared already), or 0. */
static uint32_t recent_id(struct nmt_stacktab *t, const uint64_t *frames, uint32_t n)
{
    for (uint32_t k = 1; k < NMT_STACKTAB_RECENT && t->recent[k]; k++) {
        uint32_t id = t->recent[k];
        if (same_frames(ent(t, id), frames, n)) {
            remember(t, id);
            return id;
        }
    }
    return 0;
}

/* Adds a stack not in the table, at slot i of the index; 0 when memory
 * runs out (the table is unchanged). */
static uint32_t add(struct nmt_stacktab *t, uint64_t h, uint32_t i, const uint64_t *frames,
                    uint32_t n)
{
    if (t->count == UINT32_MAX)
        return 0;
    if ((uint64_t)(t->count + 1) * 4 > ((uint64_t)t->slot_mask + 1) * 3) {
        if (grow_slots(t) < 0)
            return 0;
        int found;
        i = probe(t, h, frames, n, &found);
    }
    if (reserve_entry(t) < 0)
        return 0;
    uint64_t *copy = reserve_frames(t, n);
    if (!copy)
        return 0;
    if (n)
        memcpy(copy, frames, n * sizeof(*frames));
    t->chunk_used += n;
    uint32_t id = ++t->count;
    /* Indexed directly: ent() may return NULL, which GCC then warns about. */
    struct nmt_stack_ent *e = &t->segs[(id - 1) >> SEG_BITS][(id - 1) & SEG_MASK];
    memset(e, 0, sizeof(*e));
    e->frames = copy;
    e->hash = h;
    e->n = n;
    t->slots[i] = (h >> 32 << 32) | id;
    return id;
}

uint32_t nmt_stacktab__intern(struct nmt_stacktab *t, const uint64_t *frames, uint32_t n,
                              int *is_new)
{
    if (is_new)
        *is_new = 0;
    uint32_t id = recent_id(t, frames, n);
    if (id != 0)
        return id;
    uint64_t h = hash_frames(frames, n);
    int found;
    uint32_t i = probe(t, h, frames, n, &found);
    if (found) {
        id = (uint32_t)t->slots[i];
    } else {
        id = add(t, h, i, frames, n);
        if (id == 0)
            return 0;
        if (is_new)
            *is_new = 1;
    }
    remember(t, id);
    return id;
}

const uint64_t *nmt_stacktab_frames(const struct nmt_stacktab *t, uint32_t id, uint32_t *n)
{
    const struct nmt_stack_ent *e = ent(t, id);
    if (!e)
        return NULL;
    *n = e->n;
    return e->frames;
}

uint32_t nmt_stacktab_count(const struct nmt_stacktab *t)
{
    return t->count;
}
