/*
 * nmr_model.c: lookups over a loaded profile (INFO values, counters, stacks,
 * method records) and the names of enumerations, shared by every view.
 */
#include <stdio.h>
#include <string.h>

#include "nmt_format.h"
#include "nmr_internal.h"

const char *nmr_info_get(const struct nmr_profile *p, const char *key)
{
    for (size_t i = 0; i < p->ninfo; i++)
        if (strcmp(p->info[i].key, key) == 0)
            return p->info[i].value;
    return NULL;
}

/* The recorder's INFO config.UNWIND names the mode; older profiles only have
 * the header's frame-pointer bit, and a call-frame recording then was
 * libunwind's. */
const char *nmr_unwinder_name(const struct nmr_profile *p)
{
    const char *u = nmr_info_get(p, "config.UNWIND");
    if ((p->hdr_flags & 1u) || (u != NULL && strcmp(u, "fp") == 0))
        return "frame pointers";
    if (u == NULL || strcmp(u, "libunwind") == 0)
        return "libunwind";
    if (strcmp(u, "auto") == 0)
        return "call-frame tables, libunwind where they fall short";
    if (strcmp(u, "check") == 0)
        return "call-frame tables checked against libunwind";
    return u;
}

int nmr_counter_get(const struct nmr_snapshot *s, const char *name, int64_t *v)
{
    /* Backwards: a name repeated in a later COUNTERS record wins. */
    for (size_t i = s->ncounters; i-- > 0;)
        if (strcmp(s->counters[i].name, name) == 0) {
            *v = s->counters[i].value;
            return 1;
        }
    return 0;
}

struct nmr_stack *nmr_stack_get(const struct nmr_profile *p, uint32_t id)
{
    if (id == 0 || id >= p->nstack_slots || !p->stacks[id].defined)
        return NULL;
    return &p->stacks[id];
}

double nmr_snap_time_s(const struct nmr_profile *p, const struct nmr_snapshot *s)
{
    return ((double)s->monotonic_ns - (double)p->start_monotonic_ns) / 1e9;
}

const char *nmr_reason_name(uint32_t reason)
{
    static const char *const names[] = {NULL, "exit", "interval", "growth", "signal", "trigger"};
    static __thread char buf[32];
    if (reason >= 1 && reason <= 5)
        return names[reason];
    snprintf(buf, sizeof(buf), "reason-%u", reason);
    return buf;
}

const char *nmr_class_name(enum nmr_class c)
{
    static const char *const names[NMR_NCLASSES] = {
        "unknown", "nmtrace", "libc", "allocator", "jvm", "jdk", "jni", "jit", "java", "exe"};
    if ((unsigned)c >= NMR_NCLASSES)
        return "unknown";
    return names[c];
}
