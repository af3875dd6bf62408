/*
 * nmr_flamegraph.c: --flamegraph, the view as a self-contained interactive SVG
 * flame graph (nmr_render_flame.c draws it), and the row-to-tree step the HTML
 * page shares. Every row adds its stack root first, the allocating API on
 * top, weighted by the selected measure.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "nmc_parse.h"
#include "nmr_render_flame.h"
#include "nmr_view.h"

int nmr__flame_build(const struct nmr_view *v, struct nmr_flame *f, int64_t *left_out)
{
    int rc = nmr__flame_init(f, "all");
    if (rc)
        return rc;
    *left_out = 0;
    /* One path buffer for every row, as deep as the deepest stack: a stack's
     * depth comes from the file and is not bounded by the C stack. */
    uint32_t deepest = 0;
    for (size_t i = 0; i < v->nrows; i++)
        if (v->rows[i].stack->nframes > deepest)
            deepest = v->rows[i].stack->nframes;
    struct nmr_flame_frame *path = malloc(((size_t)deepest + 1) * sizeof(*path));
    if (path == NULL) {
        nmr__flame_free(f);
        return -ENOMEM;
    }
    for (size_t i = 0; i < v->nrows; i++) {
        const struct nmr_row *r = &v->rows[i];
        const struct nmr_stack *s = r->stack;
        int64_t val = r->v[v->measure];
        if (val <= 0) {
            *left_out = nmr_sat_add(*left_out, nmr_sat_neg(val));
            continue;
        }
        size_t n = 0;
        for (uint32_t k = s->nframes; k-- > 0;) {
            const struct nmr_frame *fr = &s->frames[k];
            path[n++] = (struct nmr_flame_frame){fr->function, fr->lib, fr->cls};
        }
        path[n++] = (struct nmr_flame_frame){s->api ? s->api : "?", "", NMR_CLS_NMTRACE};
        rc = nmr__flame_add(f, path, n, (double)val);
        if (rc) {
            nmr__flame_free(f);
            break;
        }
    }
    free(path);
    return rc;
}

void nmr__flame_titles(const struct nmr_view *v, int64_t left_out, char *title, size_t tlen,
                       char *sub, size_t slen)
{
    const struct nmr_profile *p = v->profiles[0];
    const struct nmr_snapshot *s = v->snaps[0];
    const char *m = nmr_measure_name(v->measure);
    if (v->base_snap)
        snprintf(title, tlen, "Growth of %s: %s", m, nmc_base_name(p->exe));
    else
        snprintf(title, tlen, "Native memory, %s: %s", m, nmc_base_name(p->exe));
    size_t o = 0;
    o += (size_t)snprintf(sub + o, slen - o, "pid %" PRIu32 ", snapshot %" PRIu32 " (%s) at %.1fs",
                          p->pid, s->seq, nmr_reason_name(s->reason), nmr_snap_time_s(p, s));
    if (v->nprofiles > 1 && o < slen)
        o += (size_t)snprintf(sub + o, slen - o, " + %zu more profiles", v->nprofiles - 1);
    if (v->base_snap && o < slen)
        o += (size_t)snprintf(sub + o, slen - o, ", minus snapshot %" PRIu32 " at %.1fs",
                              v->base_snap->seq, nmr_snap_time_s(v->base_profile, v->base_snap));
    if (left_out && o < slen) {
        char b[32];
        o += (size_t)snprintf(sub + o, slen - o, ", shrinkage not drawn: %s",
                              nmr_fmt_value(b, sizeof b, nmr_sat_neg(left_out), v->measure));
    }
    if ((v->opt->has_focus || v->opt->has_ignore) && o < slen)
        snprintf(sub + o, slen - o, ", selected stacks only");
}

int nmr__flame_render(const struct nmr_view *v, const char *id, int standalone, struct nmr_buf *b)
{
    struct nmr_flame f;
    int64_t left_out;
    if (nmr__flame_build(v, &f, &left_out))
        return -ENOMEM;
    char title[512], sub[512];
    nmr__flame_titles(v, left_out, title, sizeof title, sub, sizeof sub);
    struct nmr_flame_opts o = {
        .id = id,
        .title = title,
        .subtitle = sub,
        .unit = nmr_measure_is_bytes(v->measure) ? "bytes" : "objects",
        .standalone = standalone,
    };
    int rc = nmr__flame_svg(&f, &o, b);
    nmr__flame_free(&f);
    return rc;
}

int nmr_view_flame(const struct nmr_view *v)
{
    struct nmr_buf b = NMR_BUF_INIT;
    int rc = nmr__flame_render(v, "nmflame", 1, &b);
    if (!rc)
        rc = nmr__buf_write(&b, v->out);
    if (rc == -ENOMEM)
        fprintf(stderr, "nmreport: --flamegraph: out of memory\n");
    else if (rc)
        fprintf(stderr, "nmreport: --flamegraph: writing %s: %s\n",
                v->opt->output ? v->opt->output : "stdout", strerror(-rc));
    nmr__buf_free(&b);
    return rc;
}
