/*
 * nmr_arena.c: the chunked bump allocator that owns everything a profile
 * holds (strings, stacks' frames, snapshots' arrays), so freeing a profile
 * is one walk over the chunks, and growable-array support.
 */
#include <errno.h>
#include <stdlib.h>

#include "nmr_internal.h"

#define CHUNK_MIN (256u << 10)

struct chunk {
    struct chunk *next;
    size_t used, size;
    /* data follows, 16-byte aligned by the header's size */
    max_align_t data[];
};

struct nmr_arena {
    struct chunk *head;
};

struct nmr_arena *nmr__arena_new(void)
{
    return calloc(1, sizeof(struct nmr_arena));
}

void nmr__arena_free(struct nmr_arena *a)
{
    if (!a)
        return;
    for (struct chunk *c = a->head, *n; c; c = n) {
        n = c->next;
        free(c);
    }
    free(a);
}

void *nmr__arena_alloc(struct nmr_arena *a, size_t size)
{
    if (size > ((size_t)1 << 40))
        return NULL; /* no profile needs this much in one piece */
    void *p = nmr__arena_alloc_raw(a, size);
    if (p)
        memset(p, 0, size);
    return p;
}

void *nmr__arena_alloc_raw(struct nmr_arena *a, size_t size)
{
    if (size > ((size_t)1 << 40))
        return NULL;
    size = (size + 15) & ~(size_t)15;
    if (size == 0)
        size = 16;
    struct chunk *c = a->head;
    if (!c || c->size - c->used < size) {
        /* Big requests get their own chunk behind the current one, so the
         * current chunk's free space is not wasted. */
        size_t want = size > CHUNK_MIN / 4 ? size : CHUNK_MIN;
        struct chunk *n = malloc(sizeof(*n) + want);
        if (!n)
            return NULL;
        n->used = 0;
        n->size = want;
        if (c && want != CHUNK_MIN) {
            n->next = c->next;
            c->next = n;
        } else {
            n->next = c;
            a->head = n;
        }
        c = n;
    }
    void *p = (char *)c->data + c->used;
    c->used += size;
    return p;
}

char *nmr__arena_strndup(struct nmr_arena *a, const char *s, size_t len)
{
    char *d = nmr__arena_alloc(a, len + 1);
    if (!d)
        return NULL;
    if (len)
        memcpy(d, s, len);
    d[len] = 0;
    return d;
}

int nmr__grow(void *pp, size_t *cap, size_t need, size_t esz)
{
    void **p = pp;
    if (need <= *cap)
        return 0;
    size_t n = *cap ? *cap : 16;
    while (n < need) {
        if (n > SIZE_MAX / 2 / esz)
            return -ENOMEM;
        n *= 2;
    }
    void *q = realloc(*p, n * esz);
    if (!q)
        return -ENOMEM;
    *p = q;
    *cap = n;
    return 0;
}
