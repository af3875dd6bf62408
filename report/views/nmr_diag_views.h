/*
 * nmr_diag_views.h: what the text views share with --diagnose's views
 * (nmr_keytab.c, nmr_diagnose.c).
 */
#ifndef NMR_DIAG_VIEWS_H
#define NMR_DIAG_VIEWS_H

#include "nmr_view.h"

/* The measure rolled up by key (owner or path; nmr_keytab.c): the default
 * text view of a JVM's profile, and --by owner. 0 or -ENOMEM. */
int nmr__print_key_table(const struct nmr_view *v, enum nmr_keyby by);

/* The block at the top of the default view: for one JVM profile read
 * without a diff base, its application findings and any leak suspect
 * (nmr_diagnose.c). 0, or -ENOMEM after the error line. */
int nmr__findings_prelude(const struct nmr_view *v);

#endif
