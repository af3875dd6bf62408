/*
 * nmr_agg.h: roll-ups of a view's rows by a key (function, lib, class or
 * allocation site), shared by the text, --by, --json, --timeline and
 * --growth views (nmr_agg.c).
 */
#ifndef NMR_AGG_H
#define NMR_AGG_H

#include "nmr_hindex.h"
#include "nmr_view.h"

enum nmr_agg_key {
    NMR_KEY_FUNCTION, /* function + lib: jeprof's "symbol" */
    NMR_KEY_LIB,
    NMR_KEY_CLASS,
    NMR_KEY_SITE, /* the allocation site: function + lib of stack->site */
};

/*
 * One aggregate. flat: values of the stacks whose allocation site falls in
 * this key (each stack counts in exactly one node, so flats sum to the
 * total); cum: values of the stacks with any frame in this key (counted once
 * per stack). A stack with no frame is keyed by its api.
 */
struct nmr_node {
    const char *function;          /* NULL for lib/class keys */
    const char *lib;               /* "" when none; NULL for class keys */
    const char *cls;               /* the class name of the first frame seen */
    const struct nmr_frame *frame; /* a representative frame (NULL: api) */
    int64_t flat[NMR_NVALUES];
    int64_t cum[NMR_NVALUES];
    uint64_t gen; /* internal: last stack counted in cum */
};

struct nmr_agg {
    struct nmr_node *nodes;
    size_t n, cap;
    struct nmr_hindex index; /* key's hash -> index of its node */
    enum nmr_agg_key key;
};

/* Adds rows[0..n) to a (zero-initialised with key set). 0 or -ENOMEM. */
int nmr__agg_add(struct nmr_agg *a, const struct nmr_row *rows, size_t n);

/* Sorts nodes by |flat[m]| desc (then |cum[m]|, then name); no add after. */
void nmr__agg_sort_flat(struct nmr_agg *a, enum nmr_measure m);

void nmr__agg_free(struct nmr_agg *a);

/* The node's display name: "function [lib] (class)", "lib", or "class". */
char *nmr__node_label(char *buf, size_t n, const struct nmr_node *nd, enum nmr_agg_key key);

/* Prints the jeprof-style flat/cum table of v's rows grouped by key (text
 * view and --by). 0 or -ENOMEM. nmr_text.c. */
int nmr__print_agg_table(const struct nmr_view *v, enum nmr_agg_key key);

#endif
