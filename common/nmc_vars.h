/*
 * nmc_vars.h: the NMTRACE_* variables, each with the kind and range of its
 * value. The recorder checks its environment against this table and the
 * launcher its options (which it passes on as these variables), so both
 * accept and refuse the same strings with the same limits.
 */
#ifndef NMC_VARS_H
#define NMC_VARS_H

#include <stddef.h>
#include <stdint.h>

enum nmc_kind {
    NMC_COUNT,    /* digits (nmc_parse_uint) */
    NMC_SIZE,     /* a byte size (nmc_parse_size) */
    NMC_DURATION, /* a duration (nmc_parse_duration), as a whole number of `unit` ms */
    NMC_KEYWORD,  /* one of `words`; the value is its index */
    NMC_SIGNAL,   /* a signal nmtrace may take, or off/0 (value 0) */
    NMC_TEXT,     /* any string of min..max bytes, taken as it is */
};

struct nmc_var {
    const char *name;
    enum nmc_kind kind;
    uint64_t min, max; /* for NMC_DURATION in `unit`s; for NMC_TEXT the length */
    uint64_t unit;     /* NMC_DURATION: milliseconds per unit of the value */
    /* NMC_KEYWORD: the words. NMC_COUNT, NMC_SIZE, NMC_DURATION: words also
     * taken instead of a number, with the values NMC_WORD(0), NMC_WORD(1)...
     * (NMTRACE_INTERVAL's auto); NULL: none. */
    const char *const *words;
};

/* The value of the i-th word of a numeric variable: above every range. */
#define NMC_WORD(i) (UINT64_MAX - (uint64_t)(i))

/* The recorder's deepest stack (NMTRACE_DEPTH's maximum). */
#define NMC_DEPTH_MAX 256

/* Every variable nmtrace's programs and scripts read, ended by a NULL name. */
extern const struct nmc_var nmc_vars[];

/* The entry for name, or NULL. */
const struct nmc_var *nmc_var_find(const char *name);

/* s as v's value: 0 with *out set, or -EINVAL with why set to one line that
 * quotes s and says what is accepted ("'2x' is not a byte size from 1 to 1t
 * (e.g. 512k, 64MiB)"); the caller names the variable or option. */
int nmc_var_parse(const struct nmc_var *v, const char *s, uint64_t *out, char *why, size_t size);

#endif
