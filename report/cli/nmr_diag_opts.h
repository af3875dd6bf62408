/*
 * nmr_diag_opts.h: the options of the owner and diagnosis features,
 * parsed apart from the rest of the command line (nmr_diag_opts.c).
 */
#ifndef NMR_DIAG_OPTS_H
#define NMR_DIAG_OPTS_H

#include <stddef.h>

#include "nmr_view.h"

/* name is "key", "app" or "fail-on"; 0, or -EINVAL with one line in err. */
int nmr__opts_diag(struct nmr_opts *o, const char *name, const char *arg, char *err, size_t errlen);

/* --diagnose and --json together make --diagnose's JSON: 1 when view name
 * combines so with the one already chosen (o->view is then "diagnose"). */
int nmr__diag_json_view(struct nmr_opts *o, const char *name);

#endif
