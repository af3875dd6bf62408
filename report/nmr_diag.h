/*
 * nmr_diag.h: --diagnose: findings about a JVM's (or any process's) native
 * memory, each naming a cause, an owner, the bytes, their trend, a verdict,
 * the confidence, the evidence and the next step (docs/nmreport.1,
 * DIAGNOSE). nmr_diag.c builds them from the profile's own data,
 * nmr_diag_rules.c holds one rule per cause, nmr_diag_view.c prints them.
 */
#ifndef NMR_DIAG_H
#define NMR_DIAG_H

#include "nmr_series.h"
#include "nmr_view.h"

/* The options of this feature (nmr_diag_opts.c): name is "key", "app" or
 * "fail-on"; 0, or -EINVAL with one line in err. */
int nmr__opts_diag(struct nmr_opts *o, const char *name, const char *arg, char *err, size_t errlen);

/* --by owner (nmr_by_owner.c). */
int nmr__print_owner_table(const struct nmr_view *v);

#endif
