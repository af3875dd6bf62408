/*
 * nmr_render_chart.c: the SVG time chart used by --timeline-svg and the HTML
 * page: nice axis ticks in human units, stacked areas for parts of a whole
 * (top sites), lines for totals (RSS, tracked malloc, committed mmap), a
 * legend, and the data block the hover script (nmr_render_chart_js.c) reads.
 */
#include "nmr_render_chart.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

extern const char nmr__chart_js[];

enum { LEFT = 78, RIGHT = 24, TOP = 58, PLOT_H = 300, XAXIS = 42, LEG_ROW = 18 };

/* Categorical colours for series without one (readable on white). */
static const char *const palette[] = {
    "#4e79a7", "#f28e2b", "#59a14f", "#e15759", "#b07aa1", "#76b7b2",
    "#edc948", "#ff9da7", "#9c755f", "#bab0ac", "#86bcb6", "#d37295",
};
#define NPAL (sizeof palette / sizeof palette[0])

void nmr__fmt_duration(double s, char *out, size_t outlen)
{
    if (s < 0)
        s = 0;
    if (s < 10 && s != floor(s))
        snprintf(out, outlen, "%.1fs", s);
    else if (s < 60)
        snprintf(out, outlen, "%.0fs", s);
    else if (s < 3600) {
        long m = (long)(s / 60), r = (long)fmod(s, 60);
        if (r)
            snprintf(out, outlen, "%ldm%02lds", m, r);
        else
            snprintf(out, outlen, "%ldm", m);
    } else {
        long h = (long)(s / 3600), m = (long)fmod(s, 3600) / 60;
        if (m)
            snprintf(out, outlen, "%ldh%02ldm", h, m);
        else
            snprintf(out, outlen, "%ldh", h);
    }
}

void nmr__nice_ticks(double max, int bytes, double *step, double *div, const char **unit_name)
{
    static const char *const units[] = {"B", "KiB", "MiB", "GiB", "TiB", "PiB"};
    double d = 1;
    unsigned u = 0;
    if (bytes)
        while (max / d >= 1024 && u + 1 < sizeof units / sizeof units[0]) {
            d *= 1024;
            u++;
        }
    if (max <= 0)
        max = 1;
    double raw = max / d / 5;
    double mag = pow(10, floor(log10(raw)));
    double norm = raw / mag;
    double m = norm <= 1 ? 1 : norm <= 2 ? 2 : norm <= 5 ? 5 : 10;
    /* Whole bytes/objects: never a fractional step in the base unit. */
    if (u == 0 && m * mag < 1)
        mag = 1, m = 1;
    *step = m * mag * d;
    *div = d;
    *unit_name = bytes ? units[u] : "";
}

static double time_step(double range)
{
    static const double steps[] = {0.1,  0.2,   0.5,   1,     2,     5,      10,    15,
                                   30,   60,    120,   300,   600,   900,    1800,  3600,
                                   7200, 10800, 21600, 43200, 86400, 172800, 604800};
    for (size_t i = 0; i < sizeof steps / sizeof steps[0]; i++)
        if (range / steps[i] <= 8)
            return steps[i];
    return range / 8;
}

static void tick_label(double v, double div, const char *unit, char *out, size_t outlen)
{
    double q = v / div;
    if (q == floor(q))
        snprintf(out, outlen, "%.0f%s%s", q, *unit ? " " : "", unit);
    else
        snprintf(out, outlen, "%.3g%s%s", q, *unit ? " " : "", unit);
}

struct geom {
    double x0, x1, ymax;
    double left, right, top, bottom;
};

static double px(const struct geom *g, double x)
{
    return g->left + (x - g->x0) / (g->x1 - g->x0) * (g->right - g->left);
}

static double py(const struct geom *g, double y)
{
    return g->bottom - y / g->ymax * (g->bottom - g->top);
}

static double legend_w(const char *name)
{
    return 20 + strlen(name) * 7.2 + 18;
}

/* One chart being drawn: the inputs, the layout, the colours. */
struct chart {
    const double *x;
    const char *const *xlabels;
    size_t n;
    const struct nmr_chart_series *s;
    size_t ns;
    const struct nmr_chart_opts *o;
    const char *id;
    const char **colors; /* per series */
    int width, height, bytes;
    double plot_w;
    double ystep, ydiv;
    const char *yunit;
    struct geom g;
    struct nmr_buf *out;
};

/* Legend rows decide the height. */
static int legend_rows(const struct chart *c)
{
    double lx = 0;
    int rows = c->ns ? 1 : 0;
    for (size_t k = 0; k < c->ns; k++) {
        if (lx > 0 && lx + legend_w(c->s[k].name) > c->plot_w) {
            rows++;
            lx = 0;
        }
        lx += legend_w(c->s[k].name);
    }
    return rows;
}

/* The largest value drawn: the top of the stacked areas or of a line. */
static double y_max(const struct chart *c)
{
    double ymax = 0;
    for (size_t i = 0; i < c->n; i++) {
        double stack = 0;
        for (size_t k = 0; k < c->ns; k++) {
            double v = c->s[k].y[i];
            if (isnan(v))
                continue;
            if (c->s[k].stacked)
                stack += v > 0 ? v : 0;
            else if (v > ymax)
                ymax = v;
        }
        if (stack > ymax)
            ymax = stack;
    }
    return ymax;
}

/* Size, plot area, ranges and y ticks. */
static void layout(struct chart *c)
{
    const struct nmr_chart_opts *o = c->o;
    c->plot_w = c->width - LEFT - RIGHT;
    int rows = legend_rows(c);
    c->height = o->height > 0 ? o->height : TOP + PLOT_H + XAXIS + rows * LEG_ROW + 12;
    struct geom *g = &c->g;
    *g = (struct geom){.left = LEFT, .right = c->width - RIGHT, .top = TOP};
    g->bottom = c->height - XAXIS - rows * LEG_ROW - 12;
    if (g->bottom < g->top + 40)
        g->bottom = g->top + 40;

    g->x0 = c->x[0];
    g->x1 = c->x[c->n - 1];
    if (g->x1 <= g->x0) {
        g->x0 -= 1;
        g->x1 += 1;
    }
    double ymax = y_max(c);
    nmr__nice_ticks(ymax, c->bytes, &c->ystep, &c->ydiv, &c->yunit);
    g->ymax = ymax > 0 ? ceil(ymax / c->ystep) * c->ystep : c->ystep * 5;
}

/* The SVG element, its style, the background and the titles. */
static void head(const struct chart *c)
{
    struct nmr_buf *out = c->out;
    const struct nmr_chart_opts *o = c->o;
    const char *id = c->id;
    int width = c->width, height = c->height;
    if (o->standalone)
        nmr__buf_puts(out, "<?xml version=\"1.0\" encoding=\"UTF-8\" standalone=\"no\"?>\n");
    nmr__buf_printf(out,
                    "<svg xmlns=\"http://www.w3.org/2000/svg\" version=\"1.1\" id=\"%s\" "
                    "class=\"nmchart\" width=\"%d\" height=\"%d\" viewBox=\"0 0 %d %d\">\n",
                    id, width, height, width, height);
    nmr__buf_printf(out,
                    "<style>\n"
                    "#%1$s { font-family: Verdana, 'DejaVu Sans', Arial, sans-serif; }\n"
                    "#%1$s text { font-size: 12px; fill: #333; }\n"
                    "#%1$s .title { font-size: 16px; font-weight: bold; text-anchor: middle; }\n"
                    "#%1$s .sub { fill: #666; text-anchor: middle; }\n"
                    "#%1$s .grid { stroke: #e3e3e3; }\n"
                    "#%1$s .axis { stroke: #888; }\n"
                    "#%1$s .yl { text-anchor: end; font-size: 11px; }\n"
                    "#%1$s .xl { text-anchor: middle; font-size: 11px; }\n"
                    "#%1$s .area { fill-opacity: 0.55; stroke-width: 0.8; }\n"
                    "#%1$s .line { fill: none; stroke-width: 2.2; }\n"
                    "#%1$s .off { display: none; }\n"
                    "#%1$s .tip rect.bg { fill: #fffff6; stroke: #999; }\n"
                    "#%1$s .tip text { font-size: 11.5px; }\n"
                    "</style>\n",
                    id);
    nmr__buf_printf(out, "<rect x=\"0\" y=\"0\" width=\"%d\" height=\"%d\" fill=\"#fff\"/>\n",
                    width, height);
    if (o->title) {
        nmr__buf_printf(out, "<text class=\"title\" x=\"%d\" y=\"22\">", width / 2);
        nmr__buf_xml(out, o->title);
        nmr__buf_puts(out, "</text>\n");
    }
    if (o->subtitle) {
        nmr__buf_printf(out, "<text class=\"sub\" x=\"%d\" y=\"40\">", width / 2);
        nmr__buf_xml(out, o->subtitle);
        nmr__buf_puts(out, "</text>\n");
    }
}

/* Grid, y labels, x ticks and the axes. */
static void axes(const struct chart *c)
{
    struct nmr_buf *out = c->out;
    const struct geom *g = &c->g;
    char lab[64];
    for (double v = 0; v <= g->ymax * (1 + 1e-9); v += c->ystep) {
        double yy = py(g, v);
        nmr__buf_printf(out,
                        "<line class=\"grid\" x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\"/>",
                        g->left, yy, g->right, yy);
        tick_label(v, c->ydiv, c->yunit, lab, sizeof lab);
        nmr__buf_printf(out, "<text class=\"yl\" x=\"%.1f\" y=\"%.1f\">%s</text>\n", g->left - 6,
                        yy + 4, lab);
    }
    double xstep = time_step(g->x1 - g->x0);
    for (double t = ceil(g->x0 / xstep - 1e-9) * xstep; t <= g->x1 + 1e-9; t += xstep) {
        double xx = px(g, t);
        nmr__fmt_duration(t, lab, sizeof lab);
        nmr__buf_printf(out,
                        "<line class=\"axis\" x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\"/>"
                        "<text class=\"xl\" x=\"%.1f\" y=\"%.1f\">%s</text>\n",
                        xx, g->bottom, xx, g->bottom + 5, xx, g->bottom + 18, lab);
    }
    nmr__buf_printf(out,
                    "<line class=\"axis\" x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\"/>"
                    "<line class=\"axis\" x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\"/>\n",
                    g->left, g->top, g->left, g->bottom, g->left, g->bottom, g->right, g->bottom);
    nmr__buf_printf(out,
                    "<text class=\"xl\" x=\"%.1f\" y=\"%.1f\">time since start (one point per "
                    "snapshot)</text>\n",
                    (g->left + g->right) / 2, g->bottom + 34);
}

/* The stacked series, bottom up; base and top are n-point scratch arrays. */
static void areas(const struct chart *c, double *base, double *top)
{
    struct nmr_buf *out = c->out;
    const struct geom *g = &c->g;
    size_t n = c->n;
    for (size_t i = 0; i < n; i++)
        base[i] = 0;
    for (size_t k = 0; k < c->ns; k++) {
        const struct nmr_chart_series *s = &c->s[k];
        if (!s->stacked)
            continue;
        for (size_t i = 0; i < n; i++) {
            double v = isnan(s->y[i]) || s->y[i] < 0 ? 0 : s->y[i];
            top[i] = base[i] + v;
        }
        nmr__buf_printf(out, "<g><title>");
        nmr__buf_xml(out, s->name);
        nmr__buf_printf(out, "</title>");
        if (n == 1) {
            double xx = px(g, c->x[0]);
            nmr__buf_printf(out,
                            "<rect class=\"area\" x=\"%.1f\" y=\"%.1f\" width=\"24\" "
                            "height=\"%.1f\" fill=\"%s\" stroke=\"%s\"/>",
                            xx - 12, py(g, top[0]), py(g, base[0]) - py(g, top[0]), c->colors[k],
                            c->colors[k]);
        } else {
            nmr__buf_printf(out, "<polygon class=\"area\" fill=\"%s\" stroke=\"%s\" points=\"",
                            c->colors[k], c->colors[k]);
            for (size_t i = 0; i < n; i++)
                nmr__buf_printf(out, "%.1f,%.1f ", px(g, c->x[i]), py(g, top[i]));
            for (size_t i = n; i-- > 0;)
                nmr__buf_printf(out, "%.1f,%.1f ", px(g, c->x[i]), py(g, base[i]));
            nmr__buf_puts(out, "\"/>");
        }
        nmr__buf_puts(out, "</g>\n");
        memcpy(base, top, n * sizeof(*base));
    }
}

/* The line series, on top of the areas, broken where a value is missing. */
static void lines(const struct chart *c)
{
    struct nmr_buf *out = c->out;
    const struct geom *g = &c->g;
    size_t n = c->n;
    for (size_t k = 0; k < c->ns; k++) {
        const struct nmr_chart_series *s = &c->s[k];
        if (s->stacked)
            continue;
        nmr__buf_printf(out, "<g><title>");
        nmr__buf_xml(out, s->name);
        nmr__buf_puts(out, "</title>");
        int open = 0;
        for (size_t i = 0; i <= n; i++) {
            int have = i < n && !isnan(s->y[i]);
            if (have && !open) {
                nmr__buf_printf(out, "<polyline class=\"line\" stroke=\"%s\"%s points=\"",
                                c->colors[k], s->dashed ? " stroke-dasharray=\"6 4\"" : "");
                open = 1;
            }
            if (have)
                nmr__buf_printf(out, "%.1f,%.1f ", px(g, c->x[i]), py(g, s->y[i]));
            if (!have && open) {
                nmr__buf_puts(out, "\"/>");
                open = 0;
            }
        }
        for (size_t i = 0; i < n; i++)
            if (!isnan(s->y[i]))
                nmr__buf_printf(out, "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"2.6\" fill=\"%s\"/>",
                                px(g, c->x[i]), py(g, s->y[i]), c->colors[k]);
        nmr__buf_puts(out, "</g>\n");
    }
}

/* The legend: lines first (the totals people look for), then the areas. */
static void legend(const struct chart *c)
{
    struct nmr_buf *out = c->out;
    double ly = c->g.bottom + XAXIS + 6, lx = 0;
    for (int pass = 0; pass < 2; pass++)
        for (size_t k = 0; k < c->ns; k++) {
            const struct nmr_chart_series *s = &c->s[k];
            if (s->stacked != pass)
                continue;
            if (lx > 0 && lx + legend_w(s->name) > c->plot_w) {
                ly += LEG_ROW;
                lx = 0;
            }
            double xx = c->g.left + lx;
            if (s->stacked)
                nmr__buf_printf(out,
                                "<rect x=\"%.1f\" y=\"%.1f\" width=\"14\" height=\"10\" "
                                "fill=\"%s\" fill-opacity=\"0.7\"/>",
                                xx, ly - 9, c->colors[k]);
            else
                nmr__buf_printf(out,
                                "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" "
                                "stroke=\"%s\" stroke-width=\"2.5\"%s/>",
                                xx, ly - 4, xx + 14, ly - 4, c->colors[k],
                                s->dashed ? " stroke-dasharray=\"4 2\"" : "");
            nmr__buf_printf(out, "<text x=\"%.1f\" y=\"%.1f\">", xx + 20, ly);
            nmr__buf_xml(out, s->name);
            nmr__buf_puts(out, "</text>\n");
            lx += legend_w(s->name);
        }
}

/* Hover: a transparent plot-sized target, the crosshair and the box. */
static void hover(const struct chart *c)
{
    const struct geom *g = &c->g;
    nmr__buf_printf(
        c->out,
        "<line id=\"%s-cross\" class=\"off\" x1=\"0\" y1=\"%.1f\" x2=\"0\" "
        "y2=\"%.1f\" stroke=\"#555\" stroke-dasharray=\"3 3\" pointer-events=\"none\"/>\n",
        c->id, g->top, g->bottom);
    nmr__buf_printf(c->out,
                    "<rect id=\"%s-plot\" x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" "
                    "fill=\"transparent\"/>\n",
                    c->id, g->left, g->top, g->right - g->left, g->bottom - g->top);
    nmr__buf_printf(c->out,
                    "<g id=\"%s-tip\" class=\"tip off\" pointer-events=\"none\"><rect class=\"bg\" "
                    "rx=\"3\"/></g>\n",
                    c->id);
}

/* The series as JSON ("series":[...]) for the hover script. */
static void data_series(const struct chart *c)
{
    struct nmr_buf *out = c->out;
    nmr__buf_puts(out, "],\"series\":[");
    for (size_t k = 0; k < c->ns; k++) {
        const struct nmr_chart_series *s = &c->s[k];
        nmr__buf_puts(out, k ? ",{\"name\":" : "{\"name\":");
        nmr__buf_jstr(out, s->name);
        nmr__buf_puts(out, ",\"color\":");
        nmr__buf_jstr(out, c->colors[k]);
        nmr__buf_printf(out, ",\"stacked\":%d", s->stacked ? 1 : 0);
        nmr__buf_puts(out, ",\"y\":[");
        for (size_t i = 0; i < c->n; i++) {
            if (i)
                nmr__buf_putc(out, ',');
            if (isnan(s->y[i]))
                nmr__buf_puts(out, "null");
            else
                nmr__buf_printf(out, "%.0f", s->y[i]);
        }
        nmr__buf_puts(out, "]}");
    }
}

/* The data the hover script reads, then the script. */
static void data(const struct chart *c)
{
    struct nmr_buf *out = c->out;
    const struct geom *g = &c->g;
    nmr__buf_printf(out, "<script type=\"application/json\">{\"unit\":");
    nmr__buf_jstr(out, c->bytes ? "bytes" : c->o->unit);
    nmr__buf_printf(out, ",\"top\":%.1f,\"bottom\":%.1f,\"right\":%.1f,\"px\":[", g->top, g->bottom,
                    g->right);
    for (size_t i = 0; i < c->n; i++)
        nmr__buf_printf(out, "%s%.1f", i ? "," : "", px(g, c->x[i]));
    nmr__buf_puts(out, "],\"labels\":[");
    for (size_t i = 0; i < c->n; i++) {
        char def[64];
        const char *l = c->xlabels && c->xlabels[i] ? c->xlabels[i] : NULL;
        if (!l) {
            nmr__fmt_duration(c->x[i], def, sizeof def);
            l = def;
        }
        if (i)
            nmr__buf_putc(out, ',');
        nmr__buf_jstr(out, l);
    }
    data_series(c);
    nmr__buf_puts(out, "]}</script>\n");
    nmr__buf_puts(out, "<script type=\"text/ecmascript\"><![CDATA[\n(function(ID){\n");
    nmr__buf_puts(out, nmr__chart_js);
    nmr__buf_puts(out, "})(");
    nmr__buf_jstr(out, c->id);
    nmr__buf_puts(out, ");\n]]></script>\n</svg>\n");
}

int nmr__chart_svg(const double *x, const char *const *xlabels, size_t n,
                   const struct nmr_chart_series *s, size_t ns, const struct nmr_chart_opts *o,
                   struct nmr_buf *out)
{
    if (n == 0)
        return -EINVAL;
    struct chart c = {.x = x, .xlabels = xlabels, .n = n, .s = s, .ns = ns, .o = o, .out = out};
    c.width = o->width > 0 ? o->width : 1000;
    c.bytes = !o->unit || strcmp(o->unit, "bytes") == 0;
    c.id = o->id ? o->id : "nmchart";
    /* Per-series colours and per-point stacking bases: as many as the file
     * has snapshots and series, so on the heap. */
    const char **colors = malloc((ns ? ns : 1) * sizeof(*colors));
    double *base = malloc(n * sizeof(*base)), *top = malloc(n * sizeof(*top));
    if (colors == NULL || base == NULL || top == NULL) {
        free(colors);
        free(base);
        free(top);
        return -ENOMEM;
    }
    for (size_t k = 0, pal = 0; k < ns; k++)
        colors[k] = s[k].color ? s[k].color : palette[pal++ % NPAL];
    c.colors = colors;
    layout(&c);
    head(&c);
    axes(&c);
    areas(&c, base, top);
    lines(&c);
    legend(&c);
    hover(&c);
    data(&c);
    free(colors);
    free(base);
    free(top);
    return nmr__buf_error(out);
}
