/*
 * nmr_intern.h: a map from byte strings to dense ids 1, 2, 3... in
 * insertion order. The pprof writer uses it for its string table and to give
 * each distinct function, location and mapping one id.
 */
#ifndef NMR_INTERN_H
#define NMR_INTERN_H

#include <stddef.h>
#include <stdint.h>

#include "nmr_hindex.h"

struct nmr_intern {
    char **keys;             /* keys[id - 1], owned copies */
    size_t *lens;            /* their lengths */
    size_t n, cap;           /* ids handed out */
    struct nmr_hindex index; /* FNV-1a of a key -> its id - 1 */
};

/*
 * The id of key[0..len), added when absent (*added says which, may be NULL).
 * Returns 0 on ENOMEM.
 */
uint32_t nmr__intern(struct nmr_intern *t, const void *key, size_t len, int *added);
/* The id of a NUL-terminated string (NULL is treated as ""). */
uint32_t nmr__intern_str(struct nmr_intern *t, const char *s, int *added);
void nmr__intern_free(struct nmr_intern *t);

#endif
