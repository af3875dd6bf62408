/*
 * nmr_jvmacc.h: the per-snapshot records that say what is resident (SMAPS)
 * and what the JVM itself reports (JACCOUNTS), docs/FORMAT.md, as the
 * reader decodes them (nmr_jvmacc.c). Everything lives in the profile's
 * arena.
 */
#ifndef NMR_JVMACC_H
#define NMR_JVMACC_H

#include <stddef.h>
#include <stdint.h>

struct nmr_arena;

/* One SMAPS entry (a mapping, or a piece of one), host order. */
struct nmr_smaps {
    uint64_t start, end;
    uint64_t rss, anon, swap; /* bytes */
    uint32_t prot;            /* NMT_MAP_* */
    uint32_t kind;            /* NMT_SMAPS_ANON ... */
    uint32_t rstack, cstack;  /* owners in the mmap model, 0 = none */
    uint32_t flags;           /* NMT_SMAPS_SEVERAL | _OWN | _PIECE */
};

struct nmr_jpool { /* a memory pool */
    const char *name;
    int heap;                 /* 1 heap, 0 non-heap */
    uint64_t used, committed; /* bytes */
    int64_t max;              /* bytes, -1 undefined */
};

struct nmr_jbuffers { /* a buffer pool: "direct", "mapped"... */
    const char *name;
    uint64_t count, capacity, used;
};

struct nmr_jnmt { /* an NMT summary category */
    const char *name;
    uint64_t reserved, committed;
};

/* JACCOUNTS.have bits */
#define NMR_JACC_POOLS      (1u << 0)
#define NMR_JACC_BUFFERS    (1u << 1)
#define NMR_JACC_THREADS    (1u << 2)
#define NMR_JACC_CLASSES    (1u << 3)
#define NMR_JACC_NMT        (1u << 4)
#define NMR_JACC_MAX_DIRECT (1u << 5)

struct nmr_jaccounts {
    uint64_t taken_ns; /* CLOCK_MONOTONIC */
    uint32_t have;
    uint32_t threads, daemon_threads, loaded_classes;
    uint64_t total_loaded_classes, unloaded_classes, max_direct;
    struct nmr_jpool *pools;
    size_t npools;
    struct nmr_jbuffers *buffers;
    size_t nbuffers;
    struct nmr_jnmt *nmt;
    size_t nnmt;
};

/* Decode one payload into the arena. 0, -EBADMSG (too short, bytes left
 * over, a count larger than the payload) or -ENOMEM. */
int nmr__smaps_decode(struct nmr_arena *a, const uint8_t *p, size_t len, struct nmr_smaps **out,
                      size_t *n);
int nmr__jaccounts_decode(struct nmr_arena *a, const uint8_t *p, size_t len,
                          struct nmr_jaccounts **out);

/* Lookups: the pool / buffer pool / NMT category by exact name, or NULL. */
const struct nmr_jpool *nmr_jacc_pool(const struct nmr_jaccounts *a, const char *name);
const struct nmr_jbuffers *nmr_jacc_buffers(const struct nmr_jaccounts *a, const char *name);
const struct nmr_jnmt *nmr_jacc_nmt(const struct nmr_jaccounts *a, const char *name);
/* Sum of the non-heap pools whose names start with prefix ("CodeHeap ",
 * "Code Cache"): used and committed. Returns how many matched. */
int nmr_jacc_pool_sum(const struct nmr_jaccounts *a, const char *prefix, uint64_t *used,
                      uint64_t *committed);

#endif
