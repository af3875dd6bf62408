/*
 * nmr_render_chart.h: an SVG chart of values over time (memory per snapshot):
 * stacked areas (top allocation sites) under lines (RSS, tracked totals),
 * axes with human units, a legend, and a hover read-out (inline JavaScript,
 * no external resource). Standalone (.svg file) or inline in the HTML page.
 */
#ifndef NMR_RENDER_CHART_H
#define NMR_RENDER_CHART_H

#include "nmr_buf.h"

#include <stddef.h>

struct nmr_chart_series {
    const char *name;
    const double *y;   /* one value per point; NAN = no value there */
    int stacked;       /* 1: an area stacked on the previous stacked series */
    const char *color; /* CSS colour, NULL: from the palette */
    int dashed;        /* lines only */
};

struct nmr_chart_opts {
    const char *id;       /* DOM id, unique in a page: [A-Za-z0-9_-] */
    const char *title;    /* may be NULL */
    const char *subtitle; /* may be NULL */
    const char *unit;     /* "bytes" (binary units) or a count noun */
    int width, height;    /* of the whole SVG; 0 = 1000 x 440 */
    int standalone;       /* 1: XML prolog, for a .svg file */
};

/*
 * Appends the chart to out. x[0..n) are seconds since the start, ascending;
 * n may be 1 (one snapshot: points instead of areas). Returns 0, -ENOMEM, or
 * -EINVAL when n is 0.
 */
int nmr__chart_svg(const double *x, const char *const *xlabels, size_t n,
                   const struct nmr_chart_series *s, size_t ns, const struct nmr_chart_opts *o,
                   struct nmr_buf *out);

/* "0s", "45s", "2m30s", "1h05m": a duration for axis labels. */
void nmr__fmt_duration(double seconds, char *out, size_t outlen);

/*
 * The axis ticks for [0, max]: a step of 1, 2 or 5 times a power of ten in
 * the unit that fits max (for bytes: B, KiB, MiB...). Sets *step (in the
 * input's units), *div (the unit's size) and *unit_name. Exposed for tests.
 */
void nmr__nice_ticks(double max, int bytes, double *step, double *div, const char **unit_name);

/*
 * The memory-over-time chart of a view (nmr_timeline_svg.c, shared with the HTML
 * page): every snapshot of the first profile on the x axis. part says what
 * it draws:
 *  - NMR_CHART_SITES: the view's measure split by allocation site, the top
 *    `top` sites at the selected snapshot and "other sites" as stacked areas,
 *    with the tracked total of that measure as a line when there is one
 *    (malloc live bytes for inuse_space, committed bytes for committed);
 *  - NMR_CHART_PROCESS: the whole process as lines: RSS, malloc live bytes
 *    and committed mmap bytes of every stack;
 *  - NMR_CHART_ALL: both on one axis (--timeline-svg).
 * Each part has its own y axis from zero, so the sites' growth is not
 * flattened by a large, flat whole-process line (a JVM's committed heap).
 * Returns 0 or a negative errno; on failure nothing useful is in out.
 */
struct nmr_view;
enum nmr_chart_part { NMR_CHART_ALL, NMR_CHART_SITES, NMR_CHART_PROCESS };
int nmr__chart_timeline(const struct nmr_view *v, size_t top, const char *id,
                        enum nmr_chart_part part, int standalone, struct nmr_buf *out);

#endif
