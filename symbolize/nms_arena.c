/*
 * nms_arena.c: the bump allocator behind every string and frame array a context hands
 * out. Nothing is freed before nms_close(), so returned pointers never dangle while
 * the context lives; big blocks get a chunk of their own.
 */
#include "nms_internal.h"

#include <stddef.h>
#include <stdlib.h>
#include <string.h>

struct nms__chunk {
    struct nms__chunk *next;
    size_t used, cap;
    max_align_t data[];
};

#define CHUNK_SIZE (64 * 1024)

void *nms__arena_alloc(struct nms__arena *a, size_t n)
{
    n = (n + 15) & ~(size_t)15;
    struct nms__chunk *ch = a->head;
    if (!ch || ch->cap - ch->used < n) {
        size_t cap = n > CHUNK_SIZE / 2 ? n : CHUNK_SIZE;
        ch = malloc(sizeof(*ch) + cap);
        if (!ch)
            return NULL;
        ch->cap = cap;
        ch->used = 0;
        /* A big block gets its own chunk behind the head, so the head keeps its room. */
        if (cap != CHUNK_SIZE && a->head) {
            ch->next = a->head->next;
            a->head->next = ch;
        } else {
            ch->next = a->head;
            a->head = ch;
        }
    }
    void *p = (char *)ch->data + ch->used;
    ch->used += n;
    return p;
}

char *nms__arena_strdup(struct nms__arena *a, const char *s)
{
    size_t n = strlen(s) + 1;
    char *p = nms__arena_alloc(a, n);
    if (p)
        memcpy(p, s, n);
    return p;
}

void nms__arena_free(struct nms__arena *a)
{
    while (a->head) {
        struct nms__chunk *n = a->head->next;
        free(a->head);
        a->head = n;
    }
}
