/*
 * nmr_jvmacc.c: decodes SMAPS and JACCOUNTS payloads (docs/FORMAT.md) for
 * the reader. Like the reader it trusts no count before checking it
 * against the bytes that are there.
 */
#include <errno.h>
#include <string.h>

#include "nmt_format.h"
#include "nmr_internal.h"
#include "nmr_jvmacc.h"

/* A bounded view of a payload; reading past its end sets bad. */
struct view {
    const uint8_t *p;
    size_t left;
    int bad;
};

static uint64_t take(struct view *v, size_t n)
{
    if (v->bad || v->left < n) {
        v->bad = 1;
        return 0;
    }
    uint64_t x = n == 8 ? nmr__le64(v->p) : nmr__le32(v->p);
    v->p += n;
    v->left -= n;
    return x;
}

static const char *take_str(struct view *v, struct nmr_arena *a, int *nomem)
{
    uint64_t n = take(v, 4);
    if (v->bad || v->left < n) {
        v->bad = 1;
        return "";
    }
    const char *s = nmr__arena_strndup(a, (const char *)v->p, (size_t)n);
    *nomem |= s == NULL;
    v->p += n;
    v->left -= n;
    return s ? s : "";
}

/* An array of n elements of size esz, each at least min_bytes on disk. */
static void *take_array(struct view *v, struct nmr_arena *a, size_t *n, size_t esz,
                        size_t min_bytes, int *nomem)
{
    *n = (size_t)take(v, 4);
    if (v->bad || *n > v->left / min_bytes) {
        v->bad = 1;
        *n = 0;
        return NULL;
    }
    if (*n == 0)
        return NULL;
    void *arr = nmr__arena_alloc(a, *n * esz);
    *nomem |= arr == NULL;
    if (arr == NULL)
        *n = 0;
    return arr;
}

int nmr__smaps_decode(struct nmr_arena *a, const uint8_t *p, size_t len, struct nmr_smaps **out,
                      size_t *n)
{
    struct view v = {p, len, 0};
    int nomem = 0;
    struct nmr_smaps *e = take_array(&v, a, n, sizeof(*e), NMT_SMAPS_ENTRY_SIZE, &nomem);
    for (size_t i = 0; e && i < *n; i++) {
        e[i].start = take(&v, 8);
        e[i].end = take(&v, 8);
        e[i].rss = take(&v, 8);
        e[i].anon = take(&v, 8);
        e[i].swap = take(&v, 8);
        e[i].prot = (uint32_t)take(&v, 4);
        e[i].kind = (uint32_t)take(&v, 4);
        e[i].rstack = (uint32_t)take(&v, 4);
        e[i].cstack = (uint32_t)take(&v, 4);
        e[i].flags = (uint32_t)take(&v, 4);
        take(&v, 4);
    }
    *out = e;
    if (nomem)
        return -ENOMEM;
    return v.bad || v.left ? -EBADMSG : 0;
}

static void pools(struct view *v, struct nmr_arena *a, struct nmr_jaccounts *acc, int *nomem)
{
    acc->pools = take_array(v, a, &acc->npools, sizeof(*acc->pools), 32, nomem);
    for (size_t i = 0; acc->pools && i < acc->npools; i++) {
        struct nmr_jpool *q = &acc->pools[i];
        q->name = take_str(v, a, nomem);
        q->heap = take(v, 4) == 0;
        q->used = take(v, 8);
        q->committed = take(v, 8);
        uint64_t mx = take(v, 8);
        q->max = mx == UINT64_MAX ? -1 : (int64_t)mx;
    }
}

int nmr__jaccounts_decode(struct nmr_arena *a, const uint8_t *p, size_t len,
                          struct nmr_jaccounts **out)
{
    struct view v = {p, len, 0};
    int nomem = 0;
    struct nmr_jaccounts *acc = nmr__arena_alloc(a, sizeof(*acc));
    if (acc == NULL)
        return -ENOMEM;
    memset(acc, 0, sizeof(*acc));
    acc->taken_ns = take(&v, 8);
    acc->have = (uint32_t)take(&v, 4);
    acc->threads = (uint32_t)take(&v, 4);
    acc->daemon_threads = (uint32_t)take(&v, 4);
    acc->loaded_classes = (uint32_t)take(&v, 4);
    acc->total_loaded_classes = take(&v, 8);
    acc->unloaded_classes = take(&v, 8);
    acc->max_direct = take(&v, 8);
    pools(&v, a, acc, &nomem);
    acc->buffers = take_array(&v, a, &acc->nbuffers, sizeof(*acc->buffers), 28, &nomem);
    for (size_t i = 0; acc->buffers && i < acc->nbuffers; i++) {
        acc->buffers[i].name = take_str(&v, a, &nomem);
        acc->buffers[i].count = take(&v, 8);
        acc->buffers[i].capacity = take(&v, 8);
        acc->buffers[i].used = take(&v, 8);
    }
    acc->nmt = take_array(&v, a, &acc->nnmt, sizeof(*acc->nmt), 20, &nomem);
    for (size_t i = 0; acc->nmt && i < acc->nnmt; i++) {
        acc->nmt[i].name = take_str(&v, a, &nomem);
        acc->nmt[i].reserved = take(&v, 8);
        acc->nmt[i].committed = take(&v, 8);
    }
    *out = acc;
    if (nomem)
        return -ENOMEM;
    return v.bad || v.left ? -EBADMSG : 0;
}

const struct nmr_jpool *nmr_jacc_pool(const struct nmr_jaccounts *a, const char *name)
{
    for (size_t i = 0; a && i < a->npools; i++)
        if (strcmp(a->pools[i].name, name) == 0)
            return &a->pools[i];
    return NULL;
}

const struct nmr_jbuffers *nmr_jacc_buffers(const struct nmr_jaccounts *a, const char *name)
{
    for (size_t i = 0; a && i < a->nbuffers; i++)
        if (strcmp(a->buffers[i].name, name) == 0)
            return &a->buffers[i];
    return NULL;
}

const struct nmr_jnmt *nmr_jacc_nmt(const struct nmr_jaccounts *a, const char *name)
{
    for (size_t i = 0; a && i < a->nnmt; i++)
        if (strcmp(a->nmt[i].name, name) == 0)
            return &a->nmt[i];
    return NULL;
}

int nmr_jacc_pool_sum(const struct nmr_jaccounts *a, const char *prefix, uint64_t *used,
                      uint64_t *committed)
{
    int n = 0;
    *used = *committed = 0;
    for (size_t i = 0; a && i < a->npools; i++) {
        const struct nmr_jpool *q = &a->pools[i];
        if (!q->heap && strncmp(q->name, prefix, strlen(prefix)) == 0) {
            *used += q->used;
            *committed += q->committed;
            n++;
        }
    }
    return n;
}
