/*
 * nmr_timeline_svg.c: --timeline-svg, memory over time as an SVG chart (one point
 * per snapshot of the first profile), drawn by nmr_render_chart.c. The lines
 * are whole-process figures (RSS, every stack's live malloc bytes, every
 * stack's committed mmap bytes); the stacked areas split the view's measure
 * by allocation site (--focus/--ignore apply to them): the top sites at the
 * selected snapshot, then everything else as "other sites".
 */
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "nmc_parse.h"
#include "nmr_render_chart.h"
#include "nmr_series.h"
#include "nmr_view.h"

struct rank {
    size_t key;
    int64_t val;
};

static int by_val_desc(const void *a, const void *b)
{
    const struct rank *x = a, *y = b;
    int64_t ax = x->val < 0 ? nmr_sat_neg(x->val) : x->val;
    int64_t ay = y->val < 0 ? nmr_sat_neg(y->val) : y->val;
    if (ax != ay)
        return ax > ay ? -1 : 1;
    return x->key < y->key ? -1 : x->key > y->key;
}

/* Sites whose measure is not zero at some snapshot: the others (an
 * mmap-only site under inuse_space) would be empty legend entries. */
static size_t live_keys(const struct nmr_series *ser, size_t n)
{
    size_t nlive = 0;
    for (size_t k = 0; k < ser->nkeys; k++)
        for (size_t i = 0; i < n; i++)
            if (ser->val[k * n + i]) {
                nlive++;
                break;
            }
    return nlive;
}

/* Per snapshot: its time x[i], its label xl[i] and the whole-process lines
 * (RSS, live malloc, committed mmap) in y's first three rows. */
static int totals(const struct nmr_profile *p, size_t sel, double *x, double *y, char **xl)
{
    size_t n = p->nsnaps;
    for (size_t i = 0; i < n; i++) {
        const struct nmr_snapshot *sn = &p->snaps[i];
        int64_t rss;
        double live = 0, comm = 0;
        for (size_t e = 0; e < sn->nsites; e++) {
            live += (double)sn->sites[e].live_bytes;
            comm += (double)sn->sites[e].committed;
        }
        x[i] = nmr_snap_time_s(p, sn);
        y[0 * n + i] = nmr_counter_get(sn, "proc.rss", &rss) ? (double)rss : NAN;
        y[1 * n + i] = live;
        y[2 * n + i] = comm;
        char lab[96];
        snprintf(lab, sizeof lab, "snapshot %" PRIu32 " (%s) at %.1fs%s", sn->seq,
                 nmr_reason_name(sn->reason), x[i], i == sel ? ", selected" : "");
        if (!(xl[i] = strdup(lab)))
            return -ENOMEM;
    }
    return 0;
}

/* The areas: the ntop sites largest at the selected snapshot (series 3...,
 * named in names[3...]), then "other sites". rk has room for every key. */
static int top_sites(const struct nmr_series *ser, size_t n, size_t sel, size_t ntop,
                     struct rank *rk, double *y, char **names, struct nmr_chart_series *s)
{
    size_t nr = 0;
    for (size_t k = 0; k < ser->nkeys; k++) {
        int any = 0;
        for (size_t i = 0; i < n && !any; i++)
            any = ser->val[k * n + i] != 0;
        if (any)
            rk[nr++] = (struct rank){k, ser->val[k * n + sel]};
    }
    qsort(rk, nr, sizeof *rk, by_val_desc);
    for (size_t t = 0; t < ntop; t++) {
        char lab[512];
        const struct nmr_series_key *k = &ser->keys[rk[t].key];
        if (k->site && k->site->lib && *k->site->lib)
            snprintf(lab, sizeof lab, "%s [%s]", k->site->function, k->site->lib);
        else
            snprintf(lab, sizeof lab, "%s", k->site ? k->site->function : k->api);
        if (!(names[3 + t] = strdup(lab)))
            return -ENOMEM;
        double *yy = y + (3 + t) * n;
        for (size_t i = 0; i < n; i++)
            yy[i] = (double)ser->val[rk[t].key * n + i];
        s[3 + t] = (struct nmr_chart_series){names[3 + t], yy, 1, NULL, 0};
    }
    if (nr > ntop) {
        double *yy = y + (3 + ntop) * n;
        for (size_t t = ntop; t < nr; t++)
            for (size_t i = 0; i < n; i++)
                yy[i] += (double)ser->val[rk[t].key * n + i];
        s[3 + ntop] = (struct nmr_chart_series){"other sites", yy, 1, "#b8b8b8", 0};
    }
    return 0;
}

/* Keeps the series of one part (nmr_render_chart.h) in s[0..ns): the three
 * lines (RSS, malloc live, mmap committed) come first, then the areas. Writes
 * the chart's title and subtitle. Returns the new number of series. */
static size_t pick_part(const struct nmr_view *v, enum nmr_chart_part part,
                        struct nmr_chart_series *s, size_t ns, size_t ntop, char *title,
                        size_t tlen, char *sub, size_t slen)
{
    const struct nmr_profile *p = v->profiles[0];
    const char *sel = v->opt->has_focus || v->opt->has_ignore ? ", selected stacks" : "";
    const char *meas = nmr_measure_name(v->measure);
    size_t k = 0;
    if (part == NMR_CHART_PROCESS) {
        snprintf(title, tlen, "Whole process: %s (pid %" PRIu32 ")", nmc_base_name(p->exe), p->pid);
        snprintf(sub, slen, "RSS, and the malloc and committed mmap bytes of every stack");
        return 3;
    }
    snprintf(title, tlen, "%s: %s (pid %" PRIu32 ")",
             part == NMR_CHART_SITES ? "By allocation site" : "Memory over time",
             nmc_base_name(p->exe), p->pid);
    if (part == NMR_CHART_ALL && nmr_measure_is_bytes(v->measure)) {
        snprintf(sub, slen, "areas: %s by allocation site (top %zu)%s; lines: whole process", meas,
                 ntop, sel);
        return ns;
    }
    /* Sites only (objects and bytes do not share an axis), with the one
     * line that is their measure's tracked total. */
    if (part == NMR_CHART_SITES && v->measure == NMR_INUSE_SPACE)
        s[k++] = s[1];
    else if (part == NMR_CHART_SITES && v->measure == NMR_COMMITTED)
        s[k++] = s[2];
    snprintf(sub, slen, "areas: %s by allocation site (top %zu)%s%s", meas, ntop, sel,
             k ? "; line: the total of every stack" : "");
    memmove(s + k, s + 3, (ns - 3) * sizeof *s);
    return k + ns - 3;
}

/* Draws one part of the series s[0..ns) (the three lines first). */
static int draw(const struct nmr_view *v, const double *x, char **xl, size_t n,
                struct nmr_chart_series *s, size_t ns, size_t ntop, const char *id,
                enum nmr_chart_part part, int standalone, struct nmr_buf *out)
{
    char title[256], sub[512];
    ns = pick_part(v, part, s, ns, ntop, title, sizeof title, sub, sizeof sub);
    struct nmr_chart_opts o = {
        .id = id,
        .title = title,
        .subtitle = sub,
        .unit = part == NMR_CHART_PROCESS || nmr_measure_is_bytes(v->measure) ? "bytes" : "objects",
        .standalone = standalone,
    };
    return ns ? nmr__chart_svg(x, (const char *const *)xl, n, s, ns, &o, out) : -EINVAL;
}

int nmr__chart_timeline(const struct nmr_view *v, size_t top, const char *id,
                        enum nmr_chart_part part, int standalone, struct nmr_buf *out)
{
    struct nmr_profile *p = v->profiles[0];
    size_t n = p->nsnaps, sel = n - 1;
    for (size_t i = 0; i < n; i++)
        if (&p->snaps[i] == v->snaps[0])
            sel = i;
    struct nmr_series ser;
    int rc = nmr__series_build(v, p, v->measure, &ser);
    if (rc)
        return rc;
    size_t nlive = live_keys(&ser, n);
    size_t ntop = nlive < top ? nlive : top;
    size_t ns = 3 + ntop + (nlive > ntop ? 1 : 0), nnames = ns;
    double *x = calloc(n, sizeof *x);
    double *y = calloc(n * ns, sizeof *y);
    char **names = calloc(ns, sizeof *names);
    char **xl = calloc(n, sizeof *xl);
    struct rank *rk = calloc(ser.nkeys ? ser.nkeys : 1, sizeof *rk);
    struct nmr_chart_series *s = calloc(ns, sizeof *s);
    rc = -ENOMEM;
    if (!x || !y || !names || !xl || !rk || !s)
        goto out;
    if ((rc = totals(p, sel, x, y, xl)))
        goto out;
    s[0] = (struct nmr_chart_series){"RSS", y, 0, "#222222", 0};
    s[1] = (struct nmr_chart_series){"malloc live (all stacks)", y + n, 0, "#1f5fbf", 0};
    s[2] = (struct nmr_chart_series){"mmap committed (all stacks)", y + 2 * n, 0, "#c23b22", 1};
    if ((rc = top_sites(&ser, n, sel, ntop, rk, y, names, s)))
        goto out;
    rc = draw(v, x, xl, n, s, ns, ntop, id, part, standalone, out);
out:
    for (size_t i = 0; xl && i < n; i++)
        free(xl[i]);
    for (size_t k = 0; names && k < nnames; k++)
        free(names[k]);
    free(xl);
    free(names);
    free(x);
    free(y);
    free(rk);
    free(s);
    nmr__series_free(&ser);
    return rc;
}

int nmr_view_chart(const struct nmr_view *v)
{
    struct nmr_buf b = NMR_BUF_INIT;
    int rc = nmr__chart_timeline(v, 8, "nmchart", NMR_CHART_ALL, 1, &b);
    if (!rc)
        rc = nmr__buf_write(&b, v->out);
    if (rc == -ENOMEM)
        fprintf(stderr, "nmreport: --timeline-svg: out of memory\n");
    else if (rc == -EINVAL)
        fprintf(stderr, "nmreport: --timeline-svg: nothing to draw\n");
    else if (rc)
        fprintf(stderr, "nmreport: --timeline-svg: writing %s: %s\n",
                v->opt->output ? v->opt->output : "stdout", strerror(-rc));
    nmr__buf_free(&b);
    return rc;
}
