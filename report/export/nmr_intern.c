/*
 * nmr_intern.c: byte-string interning for the export views (dense ids in
 * insertion order, open addressing with linear probing on an FNV-1a hash).
 * Keys are copied, so callers may intern stack-built keys.
 */
#include "nmr_intern.h"

#include <stdlib.h>
#include <string.h>

static uint64_t fnv(const void *key, size_t len)
{
    const unsigned char *p = key;
    uint64_t h = 0xcbf29ce484222325ull;
    for (size_t i = 0; i < len; i++)
        h = (h ^ p[i]) * 0x100000001b3ull;
    return h;
}

static int rehash(struct nmr_intern *t)
{
    size_t ns = t->nslot ? t->nslot * 2 : 256;
    uint32_t *s = calloc(ns, sizeof *s);
    if (!s)
        return -1;
    for (size_t id = 1; id <= t->n; id++) {
        size_t j = fnv(t->keys[id - 1], t->lens[id - 1]) & (ns - 1);
        while (s[j])
            j = (j + 1) & (ns - 1);
        s[j] = (uint32_t)id;
    }
    free(t->slot);
    t->slot = s;
    t->nslot = ns;
    return 0;
}

uint32_t nmr__intern(struct nmr_intern *t, const void *key, size_t len, int *added)
{
    if (added)
        *added = 0;
    if ((t->n + 1) * 2 > t->nslot && rehash(t))
        return 0;
    size_t j = fnv(key, len) & (t->nslot - 1);
    for (; t->slot[j]; j = (j + 1) & (t->nslot - 1)) {
        uint32_t id = t->slot[j];
        if (t->lens[id - 1] == len && memcmp(t->keys[id - 1], key, len) == 0)
            return id;
    }
    if (t->n == t->cap) {
        size_t nc = t->cap ? t->cap * 2 : 256;
        char **k = realloc(t->keys, nc * sizeof *k);
        if (!k)
            return 0;
        t->keys = k;
        size_t *l = realloc(t->lens, nc * sizeof *l);
        if (!l)
            return 0;
        t->lens = l;
        t->cap = nc;
    }
    char *copy = malloc(len + 1);
    if (!copy)
        return 0;
    memcpy(copy, key, len);
    copy[len] = 0;
    t->keys[t->n] = copy;
    t->lens[t->n] = len;
    t->n++;
    t->slot[j] = (uint32_t)t->n;
    if (added)
        *added = 1;
    return (uint32_t)t->n;
}

uint32_t nmr__intern_str(struct nmr_intern *t, const char *s, int *added)
{
    if (!s)
        s = "";
    return nmr__intern(t, s, strlen(s), added);
}

void nmr__intern_free(struct nmr_intern *t)
{
    for (size_t i = 0; i < t->n; i++)
        free(t->keys[i]);
    free(t->keys);
    free(t->lens);
    free(t->slot);
    memset(t, 0, sizeof *t);
}
