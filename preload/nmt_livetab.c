/*
 * nmt_livetab.c: live sampled allocations and orphan frees (nmt_livetab.h).
 *
 * Owns two open-addressing tables of struct nmt_live keyed by address, each
 * address at most once in each: the live set and the free marks (the largest
 * free seq recently seen per address). Both use Fibonacci hashing of the address without
 * its 4 alignment bits, linear probing, at most 70% occupancy (doubling
 * beyond), and backward-shift deletion so deleted slots never linger as
 * tombstones.
 */
#include "nmt_livetab.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#define INIT_BITS 10u

static uint64_t home(const struct nmt_livetab_map *m, uint64_t ptr)
{
    return ((ptr >> 4) * 0x9E3779B97F4A7C15ull) >> m->shift;
}

static int map_init(struct nmt_livetab_map *m, unsigned bits)
{
    m->e = calloc((size_t)1 << bits, sizeof(*m->e));
    if (!m->e)
        return -ENOMEM;
    m->mask = ((uint64_t)1 << bits) - 1;
    m->count = 0;
    m->shift = 64 - bits;
    return 0;
}

/* Inserts without checking for room or duplicates. */
static void map_put(struct nmt_livetab_map *m, const struct nmt_live *v)
{
    uint64_t i = home(m, v->ptr);
    while (m->e[i].ptr)
        i = (i + 1) & m->mask;
    m->e[i] = *v;
    m->count++;
}

/* Makes room for one more entry; the map is unchanged on failure. */
static int map_reserve(struct nmt_livetab_map *m)
{
    uint64_t slots = m->mask + 1;
    if ((m->count + 1) * 10 <= slots * 7)
        return 0;
    struct nmt_livetab_map n;
    unsigned bits = 64 - m->shift + 1;
    if (bits > 40 || map_init(&n, bits) < 0)
        return -ENOMEM;
    for (uint64_t i = 0; i < slots; i++)
        if (m->e[i].ptr)
            map_put(&n, &m->e[i]);
    free(m->e);
    *m = n;
    return 0;
}

/* Empties slot i and shifts the rest of its cluster back: an entry moves
 * into the hole when the hole lies between its home slot and its slot. */
static void map_del(struct nmt_livetab_map *m, uint64_t i)
{
    uint64_t j = i;
    for (;;) {
        j = (j + 1) & m->mask;
        if (!m->e[j].ptr)
            break;
        uint64_t h = home(m, m->e[j].ptr);
        if (((j - h) & m->mask) >= ((j - i) & m->mask)) {
            m->e[i] = m->e[j];
            i = j;
        }
    }
    m->e[i].ptr = 0;
    m->count--;
}

/* The slot of ptr in a map of unique addresses, or -1. */
static int64_t map_find(const struct nmt_livetab_map *m, uint64_t ptr)
{
    for (uint64_t i = home(m, ptr);; i = (i + 1) & m->mask) {
        if (m->e[i].ptr == ptr)
            return (int64_t)i;
        if (!m->e[i].ptr)
            return -1;
    }
}

int nmt_livetab_init(struct nmt_livetab *t)
{
    memset(t, 0, sizeof(*t));
    if (map_init(&t->live, INIT_BITS) < 0)
        return -ENOMEM;
    if (map_init(&t->marks, INIT_BITS) < 0) {
        free(t->live.e);
        t->live.e = NULL;
        return -ENOMEM;
    }
    return 0;
}

void nmt_livetab_destroy(struct nmt_livetab *t)
{
    free(t->live.e);
    free(t->marks.e);
    memset(t, 0, sizeof(*t));
}

/* In the marks map, `stack` is 1 when the mark's free matched an allocation. */
int nmt_livetab_alloc(struct nmt_livetab *t, uint64_t ptr, uint64_t seq, uint32_t stack,
                      uint64_t size, uint32_t round, struct nmt_live *replaced)
{
    if (ptr == 0)
        return -EINVAL;
    int64_t mi = map_find(&t->marks, ptr);
    if (mi >= 0 && t->marks.e[mi].seq > seq) {
        /* Freed after it was allocated: already dead. The mark stays, for
         * other allocations of ptr older than it that may still arrive. */
        if (!t->marks.e[mi].stack) {
            t->marks.e[mi].stack = 1;
            t->orphans--;
        }
        return 0;
    }
    int64_t li = map_find(&t->live, ptr);
    if (li >= 0 && t->live.e[li].seq >= seq)
        return 0; /* a newer allocation holds ptr: this one died before */
    struct nmt_live v = {.ptr = ptr, .seq = seq, .size = size, .stack = stack, .round = round};
    if (li >= 0) {
        /* An older allocation still holds ptr: its FREE was lost, or is
         * still in a ring and will find this newer entry and only leave a
         * mark. Either way the old object is dead. */
        if (replaced)
            *replaced = t->live.e[li];
        t->live.e[li] = v;
        return 2;
    }
    if (map_reserve(&t->live) < 0)
        return -ENOMEM;
    map_put(&t->live, &v);
    return 1;
}

/* Records a free of ptr at seq; `matched` says whether it removed an entry. */
static int mark(struct nmt_livetab *t, uint64_t ptr, uint64_t seq, uint32_t round, int matched)
{
    int64_t mi = map_find(&t->marks, ptr);
    if (mi >= 0) {
        struct nmt_live *m = &t->marks.e[mi];
        if (m->seq < seq) {
            t->orphans -= !m->stack;
            m->seq = seq;
            m->stack = (uint32_t)matched;
            t->orphans += !matched;
        }
        if ((int32_t)(round - m->round) > 0)
            m->round = round;
        return 0;
    }
    if (map_reserve(&t->marks) < 0)
        return -ENOMEM;
    struct nmt_live m = {.ptr = ptr, .seq = seq, .stack = (uint32_t)matched, .round = round};
    map_put(&t->marks, &m);
    t->orphans += !matched;
    return 0;
}

int nmt_livetab_free(struct nmt_livetab *t, uint64_t ptr, uint64_t seq, uint32_t round,
                     struct nmt_live *out)
{
    if (ptr == 0)
        return 0;
    int matched = 0;
    int64_t li = map_find(&t->live, ptr);
    if (li >= 0 && t->live.e[li].seq < seq) {
        if (out)
            *out = t->live.e[li];
        map_del(&t->live, (uint64_t)li);
        matched = 1;
    }
    if (mark(t, ptr, seq, round, matched) < 0) {
        if (!matched)
            return -ENOMEM;
        t->mark_failures++;
    }
    return matched;
}

/* Rebuilds the marks map at the smallest size that keeps it under 70%. */
static void shrink_marks(struct nmt_livetab *t)
{
    struct nmt_livetab_map *m = &t->marks;
    unsigned bits = 64 - m->shift;
    if (bits <= INIT_BITS || m->count * 8 > m->mask + 1)
        return;
    unsigned nb = INIT_BITS;
    while ((m->count + 1) * 10 > ((uint64_t)1 << nb) * 7 / 2)
        nb++;
    struct nmt_livetab_map n;
    if (nb >= bits || map_init(&n, nb) < 0)
        return; /* keeping the big table is harmless */
    for (uint64_t i = 0; i <= m->mask; i++)
        if (m->e[i].ptr)
            map_put(&n, &m->e[i]);
    free(m->e);
    *m = n;
}

void nmt_livetab_expire(struct nmt_livetab *t, uint32_t round)
{
    struct nmt_livetab_map *m = &t->marks;
    /* Deleting at i may shift a later entry of the cluster into i, so i is
     * checked again before moving on; entries only ever move backwards. */
    for (uint64_t i = 0; m->count && i <= m->mask; i++) {
        while (m->e[i].ptr && (uint32_t)(round - m->e[i].round) > 1) {
            if (!m->e[i].stack) {
                t->orphans--;
                t->expired_orphans++;
            }
            map_del(m, i);
        }
    }
    shrink_marks(t);
}

uint64_t nmt_livetab_count(const struct nmt_livetab *t)
{
    return t->live.count;
}

uint64_t nmt_livetab_orphans(const struct nmt_livetab *t)
{
    return t->orphans;
}

int nmt_livetab_lookup(const struct nmt_livetab *t, uint64_t ptr, struct nmt_live *out)
{
    if (ptr == 0)
        return 0;
    int64_t i = map_find(&t->live, ptr);
    if (i < 0)
        return 0;
    if (out)
        *out = t->live.e[i];
    return 1;
}
