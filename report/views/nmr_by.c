/*
 * nmr_by.c: --by lib and --by class: the flat/cum table rolled up by the
 * library (mapping basename) or the class (jvm, jdk, jni, libc, ...) of the
 * frames. flat goes to the allocation site's lib/class, cum to every
 * lib/class on the stack.
 */
#include "nmr_agg.h"
#include "nmr_internal.h"

int nmr_view_by(const struct nmr_view *v)
{
    return nmr__print_agg_table(v, v->opt->by == NMR_BY_CLASS ? NMR_KEY_CLASS : NMR_KEY_LIB);
}
