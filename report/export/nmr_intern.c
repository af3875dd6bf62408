/*
 * nmr_intern.c: byte-string interning for the export views (dense ids in
 * insertion order, found by a hash index on FNV-1a). Keys are copied, so
 * callers may intern stack-built keys.
 */
#include "nmr_intern.h"

#include <stdlib.h>
#include <string.h>

#include "nmc_hash.h"

uint32_t nmr__intern(struct nmr_intern *t, const void *key, size_t len, int *added)
{
    if (added)
        *added = 0;
    uint64_t h = nmc_fnv1a(NMC_FNV_OFFSET, key, len);
    struct nmr_hfind f = nmr_hindex_find(&t->index, h);
    size_t i;
    while (nmr_hfind_next(&f, &i))
        if (t->lens[i] == len && memcmp(t->keys[i], key, len) == 0)
            return (uint32_t)i + 1;
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
    if (!copy || nmr_hindex_add(&t->index, h, t->n)) {
        free(copy);
        return 0;
    }
    memcpy(copy, key, len);
    copy[len] = 0;
    t->keys[t->n] = copy;
    t->lens[t->n] = len;
    t->n++;
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
    nmr_hindex_free(&t->index);
    memset(t, 0, sizeof *t);
}
