/*
 * nmr_util.c: the small helpers every view shares (nmr_view.h): measure
 * names, human units, percentages, frame labels, the threshold test and the
 * --focus/--ignore test.
 */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "nmr_internal.h"

const char *nmr_measure_name(enum nmr_measure m)
{
    static const char *const names[NMR_NVALUES] = {"inuse_space",   "inuse_objects", "alloc_space",
                                                   "alloc_objects", "reserved",      "committed",
                                                   "live_samples",  "alloc_samples"};
    if ((unsigned)m >= NMR_NVALUES)
        return "?";
    return names[m];
}

int nmr_measure_is_bytes(enum nmr_measure m)
{
    return m == NMR_INUSE_SPACE || m == NMR_ALLOC_SPACE || m == NMR_RESERVED || m == NMR_COMMITTED;
}

char *nmr_fmt_bytes(char *buf, size_t n, int64_t v)
{
    static const char *const unit[] = {"B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB"};
    const char *sign = v < 0 ? "-" : "";
    uint64_t a = v < 0 ? (uint64_t)0 - (uint64_t)v : (uint64_t)v;
    if (a < 1024) {
        snprintf(buf, n, "%s%" PRIu64 " B", sign, a);
        return buf;
    }
    double d = (double)a;
    int u = 0;
    while (d >= 1024 && u < 6) {
        d /= 1024;
        u++;
    }
    /* 1023.96 KiB would print as "1024.0 KiB": move to the next unit. */
    if (d >= 1023.95 && u < 6) {
        d /= 1024;
        u++;
    }
    snprintf(buf, n, "%s%.1f %s", sign, d, unit[u]);
    return buf;
}

char *nmr_fmt_value(char *buf, size_t n, int64_t v, enum nmr_measure m)
{
    if (nmr_measure_is_bytes(m))
        return nmr_fmt_bytes(buf, n, v);
    snprintf(buf, n, "%" PRId64, v);
    return buf;
}

double nmr_pct(int64_t part, int64_t total)
{
    if (total == 0)
        return 0;
    double t = (double)total;
    return (double)part * 100.0 / (t < 0 ? -t : t);
}

const struct nmr_frame *nmr_stack_site(const struct nmr_stack *s)
{
    if (!s->symbolized || s->nframes == 0)
        return NULL;
    return &s->frames[s->site >= 0 ? s->site : 0];
}

char *nmr_frame_label(char *buf, size_t n, const struct nmr_frame *f)
{
    if (f->lib && f->lib[0])
        snprintf(buf, n, "%s [%s]", f->function, f->lib);
    else
        snprintf(buf, n, "%s", f->function);
    return buf;
}

int nmr_view_above_threshold(const struct nmr_view *v, int64_t val, int64_t total)
{
    if (v->opt->threshold <= 0)
        return 1;
    double a = val < 0 ? -(double)val : (double)val;
    double t = total < 0 ? -(double)total : (double)total;
    return a * 100.0 >= v->opt->threshold * t;
}

int nmr_stack_selected(const struct nmr_opts *o, const struct nmr_stack *s)
{
    if (o->has_focus) {
        int hit = s->api && regexec(&o->focus_re, s->api, 0, NULL, 0) == 0;
        for (uint32_t i = 0; i < s->nframes && !hit; i++)
            hit = regexec(&o->focus_re, s->frames[i].function, 0, NULL, 0) == 0;
        if (!hit)
            return 0;
    }
    if (o->has_ignore) {
        for (uint32_t i = 0; i < s->nframes; i++)
            if (regexec(&o->ignore_re, s->frames[i].function, 0, NULL, 0) == 0)
                return 0;
    }
    return 1;
}
