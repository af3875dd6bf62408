/*
 * nmr_util.c: the helpers views and exports share (nmr_view.h): measure
 * names, human units, percentages, the threshold test, the --focus/--ignore
 * test, the "Total:" line, the out-of-memory line, the per-profile loop, the
 * hash of a frame's function and library, the symbolizer's options.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "nmc_hash.h"
#include "nmr_view.h"

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

int nmr__oom(void)
{
    fprintf(stderr, "nmreport: out of memory\n");
    return -ENOMEM;
}

int nmr__each_profile(const struct nmr_view *v,
                      int (*one)(const struct nmr_view *, struct nmr_profile *))
{
    for (size_t i = 0; i < v->nprofiles; i++) {
        if (i)
            fputc('\n', v->out);
        int rc = one(v, v->profiles[i]);
        if (rc)
            return rc;
    }
    return 0;
}

uint64_t nmr__hash_fn_lib(uint64_t seed, const char *fn, const char *lib)
{
    /* A 0xff byte (never part of UTF-8) parts the two names. */
    uint64_t h = nmc_fnv1a_byte(nmc_fnv1a_str(NMC_FNV_OFFSET ^ seed, fn), 0xff);
    return nmc_fnv1a_str(h, lib);
}

/* A snapshot with no sample at all says why, rather than show an empty
 * table: most often the rate was too coarse for what the process allocated
 * in the time recorded (an attach that was detached at once, say). */
static void print_empty_reason(FILE *f, const struct nmr_profile *p, const struct nmr_snapshot *s)
{
    int64_t samples = 0;
    if (!nmr_counter_get(s, "rec.samples", &samples) || samples != 0)
        return;
    const char *cov = nmr_info_get(p, "attach.coverage");
    fprintf(f,
            "Empty: no malloc-family allocation was sampled in the %.1fs %s at rate %llu (one "
            "sample per %llu "
            "bytes allocated, on average): the process allocated less than that natively%s\n",
            nmr_snap_time_s(p, s), cov ? "since the attach" : "recorded",
            (unsigned long long)p->rate, (unsigned long long)p->rate,
            cov ? ", or was detached at once" : "");
}

void nmr__print_total(const struct nmr_view *v)
{
    char b[32];
    FILE *f = v->out;
    fprintf(f, "Total: %s %s (", nmr_fmt_value(b, sizeof(b), v->total[v->measure], v->measure),
            nmr_measure_name(v->measure));
    for (size_t i = 0; i < v->nprofiles; i++)
        fprintf(f, "%ssnapshot %u %s at %.1fs of %s", i ? " + " : "", v->snaps[i]->seq,
                nmr_reason_name(v->snaps[i]->reason), nmr_snap_time_s(v->profiles[i], v->snaps[i]),
                v->profiles[i]->path);
    if (v->base_snap)
        fprintf(f, " minus snapshot %u %s at %.1fs of %s", v->base_snap->seq,
                nmr_reason_name(v->base_snap->reason),
                nmr_snap_time_s(v->base_profile, v->base_snap), v->base_profile->path);
    fprintf(f, ")\n");
    for (size_t i = 0; i < v->nprofiles && !v->base_snap; i++)
        print_empty_reason(f, v->profiles[i], v->snaps[i]);
    if (v->opt->has_focus || v->opt->has_ignore)
        fprintf(f, "Selected: %s of %s (%.1f%%)%s%s%s%s\n",
                nmr_fmt_value(b, sizeof(b), v->total[v->measure], v->measure),
                nmr_fmt_value((char[32]){0}, 32, v->total_all[v->measure], v->measure),
                nmr_pct(v->total[v->measure], v->total_all[v->measure]),
                v->opt->has_focus ? " --focus " : "", v->opt->has_focus ? v->opt->focus : "",
                v->opt->has_ignore ? " --ignore " : "", v->opt->has_ignore ? v->opt->ignore : "");
}

struct nmr_sym_opts nmr__sym_opts(const struct nmr_opts *o)
{
    return (struct nmr_sym_opts){.debug_dirs = o->debug_dirs,
                                 .ndebug_dirs = o->ndebug_dirs,
                                 .symbols_from = o->symbols_from,
                                 .perf_map = o->perf_map,
                                 .warn = o->warn};
}

int nmr__errf(char *err, size_t errlen, int code, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
    return code;
}
