/*
 * nmt_ring.h: a single-producer/single-consumer ring of variable-length
 * records, one per application thread.
 *
 * The producer is the application thread (on the sampled path, inside malloc
 * or free); the consumer is the writer thread. The ring lives in one block of
 * memory the caller provides (nmt_ring_footprint() bytes, 64-byte aligned; the
 * recorder maps it), so creating a ring never calls malloc. Everything is
 * static inline: the producer side is on the hot path.
 *
 * Layout: positions are 64-bit byte counters that only grow (they never wrap
 * in practice), reduced modulo the power-of-two capacity to index the data.
 * Each record is an 8-byte header {len, kind} followed by len bytes rounded up
 * to 8, so every record starts 8-byte aligned. A record never wraps around the
 * end of the data: when it does not fit in the space left before the end, the
 * producer writes a pad record there and starts the record at offset 0.
 *
 * Ordering: the producer writes a record, then publishes `tail` with a
 * release store; the consumer loads `tail` with acquire before reading the
 * record. Symmetrically the consumer publishes `head` (release) after it is
 * done with a record, and the producer loads it (acquire) before reusing the
 * space. Each side caches the other's index to avoid touching the other's
 * cache line on every call.
 */
#ifndef NMT_RING_H
#define NMT_RING_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#define NMT_RING_CACHELINE 64
#define NMT_RING_MIN_CAP   4096u
#define NMT_RING_HDR       8u
#define NMT_RING_KIND_REC  0u
#define NMT_RING_KIND_PAD  1u

struct nmt_ring_hdr {
    uint32_t len;  /* payload bytes, before rounding */
    uint32_t kind; /* NMT_RING_KIND_REC or NMT_RING_KIND_PAD */
};

struct nmt_ring {
    /* Read-only after nmt_ring_init. */
    _Alignas(NMT_RING_CACHELINE) uint32_t cap; /* data bytes, a power of two */
    uint32_t mask;                             /* cap - 1 */

    /* Producer line: written by the producer only. */
    _Alignas(NMT_RING_CACHELINE) _Atomic uint64_t tail; /* end of committed records */
    uint64_t pend;       /* tail after the reserved record, published by commit */
    uint64_t head_cache; /* the consumer's head, as last seen */
    uint64_t half_next;  /* nmt_ring_past_half looks at head again from this tail on */
    /* Producer-owned extras the recorder needs (drop counters, the owning
     * thread's serial, ...) belong here, on the producer's line. */
    /* What the producer knows of the last record it committed that carried
     * a stack (nmt_capture.c: the walk that took it, its entry point; 0:
     * nothing to refer to). Cleared with the ring, as the consumer's
     * last_stack is: neither outlives the records. */
    uint64_t last_walk, last_entry;

    /* Consumer line: written by the consumer only. */
    _Alignas(NMT_RING_CACHELINE) _Atomic uint64_t head; /* start of unreleased records */
    uint64_t next;       /* head after the peeked record, published by release */
    uint64_t tail_cache; /* the producer's tail, as last seen */
    uint32_t last_stack; /* the consumer's id for that record's stack (nmt_writer.c) */

    _Alignas(NMT_RING_CACHELINE) unsigned char data[];
};

static inline uint32_t nmt_ring__round8(uint32_t n)
{
    return (n + 7u) & ~7u;
}

/* Bytes the caller must provide for a ring of `capacity` data bytes
 * (a power of two, at least NMT_RING_MIN_CAP). */
static inline size_t nmt_ring_footprint(uint32_t capacity)
{
    return sizeof(struct nmt_ring) + (size_t)capacity;
}

/* Prepares the block at r (nmt_ring_footprint(capacity) bytes, 64-byte
 * aligned) as an empty ring. Not thread-safe: call before publishing r. */
static inline void nmt_ring_init(struct nmt_ring *r, uint32_t capacity)
{
    r->cap = capacity;
    r->mask = capacity - 1;
    atomic_init(&r->tail, 0);
    r->pend = 0;
    r->head_cache = 0;
    r->half_next = capacity / 2;
    r->last_walk = r->last_entry = 0;
    atomic_init(&r->head, 0);
    r->next = 0;
    r->tail_cache = 0;
    r->last_stack = 0;
}

/* The largest payload nmt_ring_reserve accepts. Keeping records to half the
 * ring guarantees that a record that does not fit now fits once the consumer
 * has emptied the ring, wherever the producer's position is. */
static inline uint32_t nmt_ring_max_record(const struct nmt_ring *r)
{
    return r->cap / 2 - NMT_RING_HDR;
}

/* Producer: returns `len` writable bytes (8-byte aligned) for one record, or
 * NULL when the ring has no room now (or len > nmt_ring_max_record). Never
 * blocks. Nothing is visible to the consumer until nmt_ring_commit; reserving
 * again without committing abandons the previous reservation. */
static inline void *nmt_ring_reserve(struct nmt_ring *r, uint32_t len)
{
    /* Every ring holds a record this small: no load for the test. */
    if (len > NMT_RING_MIN_CAP / 2 - NMT_RING_HDR &&
        __builtin_expect(len > nmt_ring_max_record(r), 0))
        return NULL;
    uint64_t tail = atomic_load_explicit(&r->tail, memory_order_relaxed);
    uint32_t need = NMT_RING_HDR + nmt_ring__round8(len);
    uint32_t off = (uint32_t)tail & r->mask;
    uint32_t to_end = r->cap - off;
    uint64_t total = need <= to_end ? need : (uint64_t)to_end + need;
    if (tail + total - r->head_cache > r->cap) {
        r->head_cache = atomic_load_explicit(&r->head, memory_order_acquire);
        if (tail + total - r->head_cache > r->cap)
            return NULL;
    }
    if (need > to_end) {
        /* Pad to the end: the consumer skips it and continues at offset 0. */
        struct nmt_ring_hdr *pad = (struct nmt_ring_hdr *)(void *)(r->data + off);
        pad->len = to_end - NMT_RING_HDR;
        pad->kind = NMT_RING_KIND_PAD;
        off = 0;
    }
    struct nmt_ring_hdr *h = (struct nmt_ring_hdr *)(void *)(r->data + off);
    h->len = len;
    h->kind = NMT_RING_KIND_REC;
    r->pend = tail + total;
    return r->data + off + NMT_RING_HDR;
}

/* Producer: shortens rec, the record returned by the last nmt_ring_reserve,
 * to len bytes (no more than were reserved), before nmt_ring_commit: a
 * record reserved at its largest and filled in place. */
static inline void nmt_ring_shrink(struct nmt_ring *r, void *rec, uint32_t len)
{
    struct nmt_ring_hdr *h = (struct nmt_ring_hdr *)(void *)((char *)rec - NMT_RING_HDR);
    r->pend -= nmt_ring__round8(h->len) - nmt_ring__round8(len);
    h->len = len;
}

/* Producer: publishes the record returned by the last nmt_ring_reserve.
 * Returns the new tail (for nmt_ring_past_half_at). */
static inline uint64_t nmt_ring_commit(struct nmt_ring *r)
{
    uint64_t tail = r->pend;
    atomic_store_explicit(&r->tail, tail, memory_order_release);
    return tail;
}

/* Consumer: the oldest committed record and its length, or NULL when there
 * is none. Peeking again without releasing returns the same record. */
static inline const void *nmt_ring_peek(struct nmt_ring *r, uint32_t *len)
{
    uint64_t head = atomic_load_explicit(&r->head, memory_order_relaxed);
    for (;;) {
        if (head == r->tail_cache) {
            r->tail_cache = atomic_load_explicit(&r->tail, memory_order_acquire);
            if (head == r->tail_cache)
                return NULL;
        }
        uint32_t off = (uint32_t)head & r->mask;
        const struct nmt_ring_hdr *h = (const struct nmt_ring_hdr *)(const void *)(r->data + off);
        if (h->kind == NMT_RING_KIND_PAD) {
            /* Hand the padding back to the producer at once. */
            head += r->cap - off;
            atomic_store_explicit(&r->head, head, memory_order_release);
            continue;
        }
        *len = h->len;
        r->next = head + NMT_RING_HDR + nmt_ring__round8(h->len);
        return r->data + off + NMT_RING_HDR;
    }
}

/* Consumer: frees the record returned by the last nmt_ring_peek. */
static inline void nmt_ring_release(struct nmt_ring *r)
{
    atomic_store_explicit(&r->head, r->next, memory_order_release);
}

/* Consumer, batched: what reading a batch needs of a ring, copied into
 * the consumer's locals, so that its stores elsewhere (which the compiler
 * must assume may alias the ring's fields) cost no reload per record. */
struct nmt_ring_reader {
    const unsigned char *data;
    uint64_t end; /* read up to here (nmt_ring_committed) */
    uint32_t cap, mask;
};

static inline struct nmt_ring_reader nmt_ring_reader_at(const struct nmt_ring *r, uint64_t end)
{
    return (struct nmt_ring_reader){.data = r->data, .end = end, .cap = r->cap, .mask = r->mask};
}

/* The record at *pos, skipping padding, and its length; *pos moves past
 * it. NULL once *pos reaches rd->end. */
static inline const void *nmt_ring_read(const struct nmt_ring_reader *rd, uint64_t *pos,
                                        uint32_t *len)
{
    while (*pos < rd->end) {
        uint32_t off = (uint32_t)*pos & rd->mask;
        const struct nmt_ring_hdr *h = (const struct nmt_ring_hdr *)(const void *)(rd->data + off);
        if (h->kind == NMT_RING_KIND_PAD) {
            *pos += rd->cap - off;
            continue;
        }
        *len = h->len;
        *pos += NMT_RING_HDR + nmt_ring__round8(h->len);
        return rd->data + off + NMT_RING_HDR;
    }
    return NULL;
}

/* Consumer, batched: the record at *pos, skipping padding, and its length;
 * *pos moves past it. NULL once *pos reaches end. Start with *pos =
 * nmt_ring_position(r) and end = nmt_ring_committed(r): that one acquire load
 * makes every record below end readable, so a batch costs no atomic access
 * per record. Nothing goes back to the producer until nmt_ring_release_to. */
static inline const void *nmt_ring_next(struct nmt_ring *r, uint64_t *pos, uint64_t end,
                                        uint32_t *len)
{
    struct nmt_ring_reader rd = nmt_ring_reader_at(r, end);
    return nmt_ring_read(&rd, pos, len);
}

/* Consumer, batched: frees every record before pos (a position
 * nmt_ring_next reached). nmt_ring_peek may be used afterwards. */
static inline void nmt_ring_release_to(struct nmt_ring *r, uint64_t pos)
{
    if (r->tail_cache < pos)
        r->tail_cache = pos; /* peek compares head with it: never behind head */
    atomic_store_explicit(&r->head, pos, memory_order_release);
}

/* Producer, after a commit that left the ring's tail at `tail`: 1 when the
 * ring holds half its capacity or more. One compare in the usual case:
 * before half_next the ring cannot be half full (it is the head last seen
 * plus half the capacity). From there on the consumer's head is re-read
 * before answering, so an answer of 1 is not an artefact of a stale cache;
 * after an answer of 1 the next look is after another 1/32 of the ring has
 * been written: a consumer that lags by more than half the ring is asked
 * once per 1/32 of it, not at every record (each look reads the consumer's
 * line, and an answer of 1 makes the caller write a line the consumer
 * reads). The consumer is told by the time the ring holds half and 1/32 of
 * its capacity. */
static inline int nmt_ring_past_half_at(struct nmt_ring *r, uint64_t tail)
{
    if (tail < r->half_next)
        return 0;
    r->head_cache = atomic_load_explicit(&r->head, memory_order_acquire);
    if (tail - r->head_cache < r->cap / 2) {
        r->half_next = r->head_cache + r->cap / 2;
        return 0;
    }
    r->half_next = tail + r->cap / 32;
    return 1;
}

/* The same, after a commit, for a caller that did not keep its result. */
static inline int nmt_ring_past_half(struct nmt_ring *r)
{
    return nmt_ring_past_half_at(r, atomic_load_explicit(&r->tail, memory_order_relaxed));
}

/* Consumer: the producer's committed position now. Draining only while
 * nmt_ring_position is below it bounds a drain to what was there, so a
 * producer faster than the consumer cannot keep it on one ring forever. */
static inline uint64_t nmt_ring_committed(struct nmt_ring *r)
{
    return atomic_load_explicit(&r->tail, memory_order_acquire);
}

/* Consumer: its own position, the start of the oldest unreleased record. */
static inline uint64_t nmt_ring_position(struct nmt_ring *r)
{
    return atomic_load_explicit(&r->head, memory_order_relaxed);
}

/* Bytes currently held (committed and not released, padding included).
 * Exact from either side when the other is idle; a snapshot otherwise. */
static inline uint32_t nmt_ring_used(const struct nmt_ring *r)
{
    uint64_t head = atomic_load_explicit(&((struct nmt_ring *)r)->head, memory_order_acquire);
    uint64_t tail = atomic_load_explicit(&((struct nmt_ring *)r)->tail, memory_order_acquire);
    return (uint32_t)(tail - head);
}

#endif
