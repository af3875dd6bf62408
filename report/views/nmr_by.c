/*
 * nmr_by.c: --by lib and --by class: the flat/cum table rolled up by the
 * library (mapping basename) or the class (jvm, jdk, jni, libc, ...) of the
 * frames (--by owner: by the owner of each stack, nmr_keytab.c). flat goes to the allocation
 * site's lib/class, cum to every lib/class on the stack.
 */
#include "nmr_agg.h"
#include "nmr_diag_views.h"
#include "nmr_internal.h"

int nmr_view_by(const struct nmr_view *v)
{
    if (v->opt->by == NMR_BY_OWNER)
        return nmr__print_key_table(v, NMR_KEYBY_OWNER);
    return nmr__print_agg_table(v, v->opt->by == NMR_BY_CLASS ? NMR_KEY_CLASS : NMR_KEY_LIB);
}
