/*
 * nmr_series.h: time series over every snapshot of one profile
 * (nmr_series.c), one per key of --key: the allocation site, the owner
 * (nmr_owner.h) or both (the path), for --timeline, --growth and
 * --diagnose.
 */
#ifndef NMR_SERIES_H
#define NMR_SERIES_H

#include "nmr_owner.h"
#include "nmr_view.h"

struct nmr_series_key {
    const struct nmr_frame *site; /* NULL: a stack without frames, named by api */
    const char *api;
    const struct nmr_stack *stack; /* the first stack seen with this key */
    struct nmr_owner owner;        /* of that stack */
    char *label;                   /* the key as shown (malloc'ed) */
    int64_t live_samples;          /* sampled allocations live at the last snapshot */
    int mmap;                      /* its stacks committed mmap bytes */
};

struct nmr_series {
    const struct nmr_profile *p;
    size_t nkeys, nsnaps;
    struct nmr_series_key *keys;
    int64_t *val; /* val[key * nsnaps + snap]: the measure at that snapshot */
    size_t cap;
    enum nmr_keyby key; /* resolved: never NMR_KEYBY_AUTO */
    /* Optional, set before building (nmr__series_build_tagged): a word
     * added to each key, so stacks of one key that differ in it (the
     * mechanism --diagnose sees in their frames) are separate series. */
    void (*tag)(const struct nmr_series *se, const struct nmr_series_key *k, char *buf, size_t n);
    struct nmr_owner_rules rules; /* --app and the profile's JVM homes */
};

/* The --key a profile is grouped by: v's, or for auto, path when p has Java
 * frames (JMETHOD records) of a JVM (libjvm.so mapped) and site otherwise. */
enum nmr_keyby nmr__series_keyby(const struct nmr_view *v, const struct nmr_profile *p);

/* Builds the series of measure m for every key of p (focus/ignore applied),
 * grouped by nmr__series_keyby. 0 or -ENOMEM. */
int nmr__series_build(const struct nmr_view *v, struct nmr_profile *p, enum nmr_measure m,
                      struct nmr_series *out);

/* The same with tag (see struct nmr_series) set. */
int nmr__series_build_tagged(const struct nmr_view *v, struct nmr_profile *p, int m,
                             void (*tag)(const struct nmr_series *, const struct nmr_series_key *,
                                         char *, size_t),
                             struct nmr_series *out);

/* The same, measure "bytes": live malloc bytes plus committed mmap bytes. */
#define NMR_SERIES_BYTES NMR_NVALUES
void nmr__series_free(struct nmr_series *s);

/* The key as shown: "function [lib] (class)" for site, the owner's label
 * for owner, "site <- owner" for path. */
char *nmr__series_label(char *buf, size_t n, const struct nmr_series_key *k);

/* The label of key k (site, api, stack and owner set) grouped by by. */
void nmr__series_key_text(char *buf, size_t n, enum nmr_keyby by, const struct nmr_series_key *k);

/* The key in few words (--timeline's deltas): the site's function, the
 * owner, or "function <- owner". Returns buf. */
char *nmr__series_short(char *buf, size_t n, const struct nmr_series *se,
                        const struct nmr_series_key *k);

/* The value of measure m (or NMR_SERIES_BYTES) of one SITES entry. */
int64_t nmr__site_measure(const struct nmr_site *s, int m);

#endif
