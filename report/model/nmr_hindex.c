/*
 * nmr_hindex.c: adding to a hash index and growing it (nmr_hindex.h; the
 * lookups are inline there).
 */
#include "nmr_hindex.h"

#include <errno.h>
#include <stdlib.h>

/* The first size: small tables (a few names) stay at 2 KiB. */
#define NMR_HINDEX_MIN_SLOTS 256

/* The empty slot where hash's probe ends. */
static struct nmr_hslot *free_slot(struct nmr_hslot *slots, size_t nslots, uint32_t hash)
{
    size_t at = hash & (nslots - 1);
    while (slots[at].id1)
        at = (at + 1) & (nslots - 1);
    return &slots[at];
}

/* Moves every slot into twice as many (NMR_HINDEX_MIN_SLOTS at first). */
static int grow(struct nmr_hindex *ix)
{
    if (ix->nslots > SIZE_MAX / 2 / sizeof(*ix->slots))
        return -ENOMEM;
    size_t n = ix->nslots ? ix->nslots * 2 : NMR_HINDEX_MIN_SLOTS;
    struct nmr_hslot *s = calloc(n, sizeof(*s));
    if (!s)
        return -ENOMEM;
    for (size_t i = 0; i < ix->nslots; i++)
        if (ix->slots[i].id1)
            *free_slot(s, n, ix->slots[i].hash) = ix->slots[i];
    free(ix->slots);
    ix->slots = s;
    ix->nslots = n;
    return 0;
}

int nmr_hindex_add(struct nmr_hindex *ix, uint64_t hash, size_t id)
{
    if (id >= UINT32_MAX)
        return -ENOMEM;
    if ((ix->n + 1) * 2 > ix->nslots && grow(ix))
        return -ENOMEM;
    struct nmr_hslot *s = free_slot(ix->slots, ix->nslots, nmr_hindex_fold(hash));
    s->hash = nmr_hindex_fold(hash);
    s->id1 = (uint32_t)id + 1;
    ix->n++;
    return 0;
}

void nmr_hindex_free(struct nmr_hindex *ix)
{
    free(ix->slots);
    ix->slots = NULL;
    ix->nslots = ix->n = 0;
}
