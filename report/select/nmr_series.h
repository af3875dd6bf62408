/*
 * nmr_series.h: per-allocation-site time series over every snapshot of one
 * profile (nmr_series.c), for --timeline and --growth.
 */
#ifndef NMR_SERIES_H
#define NMR_SERIES_H

#include "nmr_view.h"

struct nmr_series_key {
    const struct nmr_frame *site; /* NULL: a stack without frames, named by api */
    const char *api;
};

struct nmr_series {
    const struct nmr_profile *p;
    size_t nkeys, nsnaps;
    struct nmr_series_key *keys;
    int64_t *val; /* val[key * nsnaps + snap]: the measure at that snapshot */
    size_t cap;
};

/* Builds the series of measure m for every site of p (focus/ignore applied).
 * 0 or -ENOMEM. */
int nmr__series_build(const struct nmr_view *v, struct nmr_profile *p, enum nmr_measure m,
                      struct nmr_series *out);
void nmr__series_free(struct nmr_series *s);

/* "function [lib] (class)" of a key. */
char *nmr__series_label(char *buf, size_t n, const struct nmr_series_key *k);

#endif
