/*
 * nmr_select.h: building a view from loaded profiles (nmr_select.c) and
 * parsing the command line (nmr_opts.c); used by main and by the tests.
 */
#ifndef NMR_SELECT_H
#define NMR_SELECT_H

#include "nmr_view.h"

/* What nmr__view_build allocates for a view (freed by nmr__sel_free). */
struct nmr_sel {
    const struct nmr_snapshot **snaps;
    struct nmr_row *rows;
};

/*
 * Fills v for the profiles (n >= 1, each with at least one snapshot) and an
 * optional base profile (NULL: none; --base-snapshot alone diffs within
 * profiles[0]). v->out is stdout. no_rows: leave v->rows empty (views
 * flagged NMR_VIEW_NO_ROWS). Returns 0, or a negative errno value with
 * one line in err.
 */
int nmr__view_build(struct nmr_view *v, struct nmr_sel *sel, const struct nmr_opts *o,
                    struct nmr_profile **profiles, size_t n, struct nmr_profile *base, int no_rows,
                    char *err, size_t errlen);
void nmr__sel_free(struct nmr_sel *sel);

/* The snapshot with this seq (-1: the last), or NULL. */
const struct nmr_snapshot *nmr__find_snapshot(const struct nmr_profile *p, long seq);

/* The views main offers, in --help order (nmr_opts.c). */
extern const struct nmr_view_def nmr__views[];
extern const size_t nmr__nviews;
const struct nmr_view_def *nmr__view_find(const char *name);

/*
 * Parses argv into o (defaults first). Returns 0, 1 when --help/--version
 * was handled (exit 0), or -EINVAL after one error line in err. o->files
 * points into argv. nmr__opts_free releases the compiled regexes.
 */
int nmr__opts_parse(struct nmr_opts *o, int argc, char **argv, FILE *help_out, char *err,
                    size_t errlen);
void nmr__opts_free(struct nmr_opts *o);

#endif
