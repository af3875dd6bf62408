/*
 * nmr_render_flame.c: the flame graph tree (paths merged node by node through
 * a hash of (parent, name, library, class)), its layout (children ordered by
 * name, widths proportional to value, root at the bottom), and the SVG
 * writer. The interactive part is nmr_render_flame_js.c's script; this file
 * writes the static picture, which is complete without JavaScript too.
 */
#include "nmr_render_flame.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "nmc_hash.h"

struct nmr_flame_node {
    const char *name;
    const char *lib;
    enum nmr_class cls;
    uint32_t parent;
    uint32_t first_child;  /* 0 = none (the root is never a child) */
    uint32_t next_sibling; /* 0 = none */
    uint32_t depth;
    double value;
};

/* The script that makes the SVG interactive (nmr_render_flame_js.c). */
extern const char nmr__flame_js[];

enum { FRAME_H = 16, FONT_PX = 12, PAD = 10, TOP = 72, BOTTOM = 30 };
#define CHAR_W (FONT_PX * 0.6)

/* h with the string s (NULL: none) and its terminating NUL. */
static uint64_t hash_str(uint64_t h, const char *s)
{
    return nmc_fnv1a_byte(nmc_fnv1a_str(h, s), 0);
}

static uint64_t node_hash(uint32_t parent, const char *name, const char *lib, enum nmr_class cls)
{
    uint64_t h = NMC_FNV_OFFSET ^ ((uint64_t)parent * 0x9e3779b97f4a7c15ull);
    h = hash_str(h, name);
    h = hash_str(h, lib);
    return h ^ ((uint64_t)cls << 7);
}

static int same(const char *a, const char *b)
{
    if (!a || !*a)
        return !b || !*b;
    return b && strcmp(a, b) == 0;
}

int nmr__flame_init(struct nmr_flame *f, const char *root_name)
{
    memset(f, 0, sizeof *f);
    f->cap = 256;
    f->nodes = calloc(f->cap, sizeof *f->nodes);
    if (!f->nodes)
        return -ENOMEM;
    f->nodes[0].name = root_name ? root_name : "all";
    f->nodes[0].lib = "";
    f->nodes[0].cls = NMR_CLS_UNKNOWN;
    f->nnodes = 1;
    return 0;
}

void nmr__flame_free(struct nmr_flame *f)
{
    free(f->nodes);
    nmr_hindex_free(&f->index);
    memset(f, 0, sizeof *f);
}

/* The child of parent for frame fr, created when absent; 0 on ENOMEM. */
static uint32_t child(struct nmr_flame *f, uint32_t parent, const struct nmr_flame_frame *fr)
{
    uint64_t h = node_hash(parent, fr->name, fr->lib, fr->cls);
    struct nmr_hfind it = nmr_hindex_find(&f->index, h);
    size_t i;
    while (nmr_hfind_next(&it, &i)) {
        const struct nmr_flame_node *n = &f->nodes[i];
        if (n->parent == parent && n->cls == fr->cls && same(n->name, fr->name) &&
            same(n->lib, fr->lib))
            return (uint32_t)i;
    }
    if (f->nnodes == f->cap) {
        if (f->cap > UINT32_MAX / 4)
            return 0;
        struct nmr_flame_node *nn = realloc(f->nodes, f->cap * 2 * sizeof *nn);
        if (!nn)
            return 0;
        f->nodes = nn;
        f->cap *= 2;
    }
    if (nmr_hindex_add(&f->index, h, f->nnodes))
        return 0;
    uint32_t idx = (uint32_t)f->nnodes++;
    struct nmr_flame_node *n = &f->nodes[idx];
    n->name = fr->name ? fr->name : "?";
    n->lib = fr->lib ? fr->lib : "";
    n->cls = fr->cls;
    n->parent = parent;
    n->first_child = 0;
    n->next_sibling = f->nodes[parent].first_child;
    f->nodes[parent].first_child = idx;
    n->depth = f->nodes[parent].depth + 1;
    n->value = 0;
    return idx;
}

int nmr__flame_add(struct nmr_flame *f, const struct nmr_flame_frame *path, size_t n, double value)
{
    if (value < 0 || isnan(value))
        return -EINVAL;
    if (value == 0)
        return 0;
    /* Create the whole path first so a failure leaves the values consistent
     * (an empty new node is harmless: the layout skips zero values). */
    uint32_t *idx = malloc((n ? n : 1) * sizeof(*idx));
    uint32_t cur = 0;
    if (idx == NULL)
        return -ENOMEM;
    for (size_t i = 0; i < n; i++) {
        uint32_t c = 0;
        if (!(c = child(f, cur, &path[i]))) {
            free(idx);
            return -ENOMEM;
        }
        idx[i] = cur = c;
    }
    f->nodes[0].value += value;
    for (size_t i = 0; i < n; i++)
        f->nodes[idx[i]].value += value;
    f->total += value;
    free(idx);
    return 0;
}

/* Colours ---------------------------------------------------------------- */

struct family {
    double h0, h1, s0, s1, l0, l1;
};

static const struct family families[NMR_NCLASSES] = {
    [NMR_CLS_UNKNOWN] = {0, 0, 0, 0, 70, 80},    [NMR_CLS_NMTRACE] = {35, 45, 8, 14, 72, 80},
    [NMR_CLS_LIBC] = {205, 220, 12, 22, 62, 72}, [NMR_CLS_ALLOCATOR] = {265, 290, 40, 55, 60, 70},
    [NMR_CLS_JVM] = {0, 12, 65, 78, 52, 62},     [NMR_CLS_JDK] = {322, 342, 50, 65, 62, 72},
    [NMR_CLS_JNI] = {32, 50, 85, 95, 52, 60},    [NMR_CLS_JIT] = {165, 182, 45, 60, 42, 52},
    [NMR_CLS_JAVA] = {95, 135, 45, 62, 45, 58},  [NMR_CLS_EXE] = {198, 222, 60, 75, 55, 65},
};

static void hsl_rgb(double h, double s, double l, char *out, size_t outlen)
{
    s /= 100;
    l /= 100;
    double c = (1 - fabs(2 * l - 1)) * s;
    double hp = fmod(h, 360) / 60;
    double x = c * (1 - fabs(fmod(hp, 2) - 1));
    double r = 0, g = 0, b = 0;
    if (hp < 1)
        r = c, g = x;
    else if (hp < 2)
        r = x, g = c;
    else if (hp < 3)
        g = c, b = x;
    else if (hp < 4)
        g = x, b = c;
    else if (hp < 5)
        r = x, b = c;
    else
        r = c, b = x;
    double m = l - c / 2;
    snprintf(out, outlen, "rgb(%d,%d,%d)", (int)lround((r + m) * 255), (int)lround((g + m) * 255),
             (int)lround((b + m) * 255));
}

static void shade(enum nmr_class cls, double u, double v, char *out, size_t outlen)
{
    if ((unsigned)cls >= NMR_NCLASSES)
        cls = NMR_CLS_UNKNOWN;
    const struct family *fa = &families[cls];
    hsl_rgb(fa->h0 + (fa->h1 - fa->h0) * u, fa->s0 + (fa->s1 - fa->s0) * v,
            fa->l0 + (fa->l1 - fa->l0) * (1 - v), out, outlen);
}

void nmr__flame_color(enum nmr_class cls, const char *name, char *out, size_t outlen)
{
    uint64_t h = hash_str(NMC_FNV_OFFSET, name);
    double u = (double)(h & 0xffff) / 65535.0;
    double v = (double)((h >> 16) & 0xffff) / 65535.0;
    shade(cls, u, v, out, outlen);
}

void nmr__flame_class_color(enum nmr_class cls, char *out, size_t outlen)
{
    shade(cls, 0.5, 0.5, out, outlen);
}

/* Layout and SVG --------------------------------------------------------- */

static int cmp_nodes_by_name(const void *a, const void *b, void *ctx)
{
    const struct nmr_flame_node *nodes = ctx;
    const struct nmr_flame_node *x = &nodes[*(const uint32_t *)a];
    const struct nmr_flame_node *y = &nodes[*(const uint32_t *)b];
    int c = strcmp(x->name, y->name);
    if (!c)
        c = strcmp(x->lib, y->lib);
    if (!c)
        c = (int)x->cls - (int)y->cls;
    return c;
}

static void num(struct nmr_buf *b, double v)
{
    if (v == floor(v) && fabs(v) < 9e15)
        nmr__buf_printf(b, "%.0f", v);
    else
        nmr__buf_printf(b, "%.9g", v);
}

static void human(const char *unit, double v, char *out, size_t outlen)
{
    if (strcmp(unit, "bytes") == 0)
        nmr__fmt_human(v, out, outlen);
    else
        snprintf(out, outlen, "%.0f %s", v, unit);
}

/* The label that fits w pixels: the name, cut with ".." when too long. */
static void label(struct nmr_buf *b, const char *name, double w)
{
    long fit = (long)floor((w - 6) / CHAR_W);
    size_t len = strlen(name);
    if (fit < 3)
        return;
    if ((size_t)fit >= len) {
        nmr__buf_xml(b, name);
        return;
    }
    /* Cut on a UTF-8 character boundary. */
    size_t cut = (size_t)fit - 2;
    while (cut > 0 && ((unsigned char)name[cut] & 0xc0) == 0x80)
        cut--;
    char *tmp = malloc(cut + 3);
    if (tmp == NULL) {
        b->err = -ENOMEM;
        return;
    }
    memcpy(tmp, name, cut);
    memcpy(tmp + cut, "..", 3);
    nmr__buf_xml(b, tmp);
    free(tmp);
}

static const char *cls_attr(enum nmr_class c)
{
    return nmr_class_name(c);
}

struct emit {
    const struct nmr_flame *f;
    const struct nmr_flame_opts *o;
    struct nmr_buf *b;
    double plot_w, min_value;
    int width, height;
    const char *id, *unit;
    uint32_t count; /* frames written, the data-i of the next one */
};

static void emit_frame(struct emit *e, uint32_t idx, double start)
{
    const struct nmr_flame_node *n = &e->f->nodes[idx];
    struct nmr_buf *b = e->b;
    double total = e->f->total;
    double x = PAD + start / total * e->plot_w;
    double w = n->value / total * e->plot_w;
    int y = e->height - BOTTOM - (int)(n->depth + 1) * FRAME_H;
    char fill[32], hv[48];
    if (idx == 0)
        snprintf(fill, sizeof fill, "rgb(206,206,214)");
    else
        nmr__flame_color(n->cls, n->name, fill, sizeof fill);
    human(e->o->unit, n->value, hv, sizeof hv);

    nmr__buf_printf(b, "<g class=\"f\" data-i=\"%u\" data-s=\"", e->count++);
    num(b, start);
    nmr__buf_puts(b, "\" data-v=\"");
    num(b, n->value);
    nmr__buf_printf(b, "\" data-d=\"%u\" data-c=\"%s\" data-n=\"", n->depth,
                    idx == 0 ? "root" : cls_attr(n->cls));
    nmr__buf_xml(b, n->name);
    nmr__buf_puts(b, "\" data-l=\"");
    nmr__buf_xml(b, n->lib);
    nmr__buf_puts(b, "\"><title>");
    nmr__buf_xml(b, n->name);
    if (*n->lib) {
        nmr__buf_puts(b, " (");
        nmr__buf_xml(b, n->lib);
        nmr__buf_puts(b, ")");
    }
    nmr__buf_printf(b, " %s, %.2f%%</title>", hv, 100.0 * n->value / total);
    nmr__buf_printf(b, "<rect x=\"%.2f\" y=\"%d\" width=\"%.2f\" height=\"%d\" fill=\"%s\"/>", x, y,
                    w, FRAME_H - 1, fill);
    nmr__buf_printf(b, "<text x=\"%.2f\" y=\"%d\">", x + 3, y + FRAME_H - 4);
    label(b, n->name, w);
    nmr__buf_puts(b, "</text></g>\n");
}

static int emit_tree(struct emit *e)
{
    const struct nmr_flame *f = e->f;
    /* Iterative pre-order walk: recursion depth would follow stack depth. */
    struct item {
        uint32_t idx;
        double start;
    };
    size_t cap = 64, top = 0;
    struct item *st = malloc(cap * sizeof *st);
    uint32_t *kids = malloc(f->nnodes * sizeof *kids);
    if (!st || !kids) {
        free(st);
        free(kids);
        return -ENOMEM;
    }
    st[top++] = (struct item){0, 0};
    while (top) {
        struct item it = st[--top];
        const struct nmr_flame_node *n = &f->nodes[it.idx];
        emit_frame(e, it.idx, it.start);
        size_t nk = 0;
        for (uint32_t c = n->first_child; c; c = f->nodes[c].next_sibling)
            if (f->nodes[c].value >= e->min_value && f->nodes[c].value > 0)
                kids[nk++] = c;
        qsort_r(kids, nk, sizeof *kids, cmp_nodes_by_name, f->nodes);
        if (top + nk > cap) {
            while (top + nk > cap)
                cap *= 2;
            struct item *ns = realloc(st, cap * sizeof *st);
            if (!ns) {
                free(st);
                free(kids);
                return -ENOMEM;
            }
            st = ns;
        }
        /* Starts go left to right; pushed right to left so the leftmost
         * child comes out first and frame indices follow reading order. */
        double s = it.start;
        for (size_t i = 0; i < nk; i++) {
            st[top + nk - 1 - i] = (struct item){kids[i], s};
            s += f->nodes[kids[i]].value;
        }
        top += nk;
    }
    free(st);
    free(kids);
    return 0;
}

static int cmp_double_desc(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? 1 : x > y ? -1 : 0;
}

/*
 * Raises *min_value so that at most max frames are drawn: a node is drawn
 * when its value reaches *min_value, and a parent is never narrower than its
 * children, so any threshold keeps a connected tree. *kept is the count of
 * drawn frames, *widest_out the value of the widest frame left out.
 */
static int limit_frames(const struct nmr_flame *f, size_t max, double *min_value, size_t *kept,
                        double *widest_out)
{
    size_t n = 0;
    for (size_t i = 0; i < f->nnodes; i++)
        if (f->nodes[i].value > 0 && f->nodes[i].value >= *min_value)
            n++;
    if (n > max) {
        double *v = malloc(n * sizeof *v);
        if (!v)
            return -ENOMEM;
        size_t k = 0;
        for (size_t i = 0; i < f->nnodes; i++)
            if (f->nodes[i].value > 0 && f->nodes[i].value >= *min_value)
                v[k++] = f->nodes[i].value;
        qsort(v, n, sizeof *v, cmp_double_desc);
        /* v[max] is the widest frame that must go; all as wide go too. */
        *min_value = nextafter(v[max], INFINITY);
        free(v);
    }
    *kept = 0;
    *widest_out = 0;
    for (size_t i = 0; i < f->nnodes; i++) {
        double x = f->nodes[i].value;
        if (x > 0 && x >= *min_value)
            (*kept)++;
        else if (x > *widest_out)
            *widest_out = x;
    }
    return 0;
}

static uint32_t max_depth(const struct nmr_flame *f, double min_value)
{
    uint32_t d = 0;
    for (size_t i = 0; i < f->nnodes; i++) {
        /* A node is drawn only if it and all its ancestors are wide enough;
         * ancestors are at least as wide, so its own value decides. */
        if (f->nodes[i].value >= min_value && f->nodes[i].depth > d)
            d = f->nodes[i].depth;
    }
    return d;
}

static void legend(struct emit *e)
{
    int present[NMR_NCLASSES] = {0};
    for (size_t i = 1; i < e->f->nnodes; i++)
        if (e->f->nodes[i].value >= e->min_value && (unsigned)e->f->nodes[i].cls < NMR_NCLASSES)
            present[e->f->nodes[i].cls] = 1;
    double wsum = 0;
    for (int c = 0; c < NMR_NCLASSES; c++)
        if (present[c])
            wsum += 18 + strlen(nmr_class_name((enum nmr_class)c)) * 6.6 + 12;
    double x = PAD + e->plot_w / 2 - wsum / 2;
    nmr__buf_puts(e->b, "<g class=\"legend\">");
    for (int c = 0; c < NMR_NCLASSES; c++) {
        if (!present[c])
            continue;
        char col[32];
        const char *name = nmr_class_name((enum nmr_class)c);
        nmr__flame_class_color((enum nmr_class)c, col, sizeof col);
        nmr__buf_printf(e->b,
                        "<rect x=\"%.1f\" y=\"53\" width=\"12\" height=\"12\" fill=\"%s\"/>"
                        "<text x=\"%.1f\" y=\"63\">%s</text>",
                        x, col, x + 16, name);
        x += 18 + strlen(name) * 6.6 + 12;
    }
    nmr__buf_puts(e->b, "</g>\n");
}

/* The SVG element, its style, the background, the titles and the buttons. */
static void head(const struct emit *e, const char *tot)
{
    const struct nmr_flame *f = e->f;
    const struct nmr_flame_opts *o = e->o;
    struct nmr_buf *out = e->b;
    int width = e->width;
    const char *id = e->id, *unit = e->unit;
    if (o->standalone)
        nmr__buf_puts(out, "<?xml version=\"1.0\" encoding=\"UTF-8\" standalone=\"no\"?>\n");
    nmr__buf_printf(out,
                    "<svg xmlns=\"http://www.w3.org/2000/svg\" version=\"1.1\" id=\"%s\" "
                    "class=\"nmflame\" width=\"%d\" height=\"%d\" viewBox=\"0 0 %d %d\" "
                    "data-w=\"%.0f\" data-x0=\"%d\" data-total=\"",
                    id, width, e->height, width, e->height, e->plot_w, PAD);
    num(out, f->total);
    nmr__buf_printf(out, "\" data-unit=\"");
    nmr__buf_xml(out, unit);
    nmr__buf_printf(out, "\" data-standalone=\"%d\">\n", o->standalone ? 1 : 0);
    /* Selectors are scoped by id so two graphs in one page do not clash. */
    nmr__buf_printf(out,
                    "<style>\n"
                    "#%1$s { font-family: Verdana, 'DejaVu Sans', Arial, sans-serif; }\n"
                    "#%1$s text { font-size: %2$dpx; fill: #222; }\n"
                    "#%1$s .f text { pointer-events: none; }\n"
                    "#%1$s .f { cursor: pointer; }\n"
                    "#%1$s .f:hover rect { stroke: #222; stroke-width: 0.7; }\n"
                    "#%1$s .f.anc rect { opacity: 0.55; }\n"
                    "#%1$s .f.hid { display: none; }\n"
                    "#%1$s .title { font-size: 17px; font-weight: bold; text-anchor: middle; }\n"
                    "#%1$s .sub { fill: #555; text-anchor: middle; }\n"
                    "#%1$s .btn { cursor: pointer; fill: #1a56a8; text-decoration: underline; }\n"
                    "#%1$s .off { display: none; }\n"
                    "#%1$s .legend text { font-size: 11px; fill: #444; }\n"
                    "#%1$s .tip rect { fill: #fffff4; stroke: #888; }\n"
                    "#%1$s .tip text { font-size: 12px; }\n"
                    "</style>\n",
                    id, FONT_PX);
    nmr__buf_printf(out,
                    "<rect class=\"bg\" x=\"0\" y=\"0\" width=\"%d\" height=\"%d\" "
                    "fill=\"#f8f8f4\"/>\n",
                    width, e->height);
    nmr__buf_printf(out, "<text class=\"title\" x=\"%d\" y=\"22\">", width / 2);
    nmr__buf_xml(out, o->title ? o->title : "Flame graph");
    nmr__buf_puts(out, "</text>\n");
    nmr__buf_printf(out, "<text class=\"sub\" x=\"%d\" y=\"40\">", width / 2);
    if (o->subtitle && *o->subtitle) {
        nmr__buf_xml(out, o->subtitle);
        nmr__buf_puts(out, " \xe2\x80\x94 ");
    }
    nmr__buf_printf(out, "total %s</text>\n", tot);
    nmr__buf_printf(out,
                    "<text class=\"btn off\" id=\"%s-reset\" x=\"%d\" y=\"63\">Reset zoom</text>\n",
                    id, PAD);
    /* Inside the HTML page the page's search box drives the graph: one box. */
    if (!o->standalone)
        return;
    nmr__buf_printf(out,
                    "<text class=\"btn\" id=\"%s-search\" x=\"%d\" y=\"63\" "
                    "style=\"text-anchor:end\">Search</text>\n",
                    id, width - PAD - 50);
    nmr__buf_printf(out,
                    "<text class=\"btn off\" id=\"%s-clear\" x=\"%d\" y=\"63\" "
                    "style=\"text-anchor:end\">Clear</text>\n",
                    id, width - PAD);
}

/* The details line (what was left out), the search result, the tooltip
 * and the script. */
static void foot(const struct emit *e, size_t kept, double widest_out)
{
    const struct nmr_flame *f = e->f;
    struct nmr_buf *out = e->b;
    int width = e->width;
    const char *id = e->id, *unit = e->unit;
    nmr__buf_printf(out, "<text id=\"%s-details\" x=\"%d\" y=\"%d\">", id, PAD, e->height - 10);
    size_t all = 0;
    for (size_t i = 0; i < f->nnodes; i++)
        all += f->nodes[i].value > 0;
    if (kept < all) {
        char w[48];
        human(unit, widest_out, w, sizeof w);
        nmr__buf_printf(out, "%zu of %zu frames drawn: frames of %s or less are left out", kept,
                        all, w);
    } else {
        nmr__buf_puts(out, " ");
    }
    nmr__buf_puts(out, "</text>\n");
    nmr__buf_printf(
        out, "<text id=\"%s-matched\" x=\"%d\" y=\"%d\" style=\"text-anchor:end\"> </text>\n", id,
        width - PAD, e->height - 10);
    nmr__buf_printf(out,
                    "<g class=\"tip off\" id=\"%s-tip\" pointer-events=\"none\"><rect rx=\"3\"/>"
                    "<text/><text/><text/></g>\n",
                    id);
    nmr__buf_puts(out, "<script type=\"text/ecmascript\"><![CDATA[\n(function(ID){\n");
    nmr__buf_puts(out, nmr__flame_js);
    nmr__buf_puts(out, "})(");
    nmr__buf_jstr(out, id);
    nmr__buf_puts(out, ");\n]]></script>\n</svg>\n");
}

int nmr__flame_svg(const struct nmr_flame *f, const struct nmr_flame_opts *o, struct nmr_buf *out)
{
    struct emit e = {.f = f, .o = o, .b = out};
    int width = o->width > 0 ? o->width : 1200;
    const char *unit = o->unit ? o->unit : "bytes";
    e.width = width;
    e.unit = unit;
    e.plot_w = width - 2 * PAD;
    double min_px = o->min_px > 0 ? o->min_px : 0.1;
    e.min_value = f->total > 0 ? f->total * min_px / e.plot_w : 1;
    size_t kept = 0;
    double widest_out = 0;
    if (limit_frames(f, o->max_frames ? o->max_frames : 8000, &e.min_value, &kept, &widest_out))
        return -ENOMEM;
    uint32_t depth = f->total > 0 ? max_depth(f, e.min_value) : 0;
    e.height = TOP + (int)(depth + 1) * FRAME_H + BOTTOM;
    const char *id = o->id ? o->id : "nmflame";
    e.id = id;
    char tot[48];
    human(unit, f->total, tot, sizeof tot);

    head(&e, tot);
    legend(&e);
    nmr__buf_printf(out, "<g id=\"%s-frames\">\n", id);
    if (f->total > 0) {
        if (emit_tree(&e))
            return -ENOMEM;
    } else {
        nmr__buf_printf(out, "<text x=\"%d\" y=\"%d\" style=\"text-anchor:middle\">", width / 2,
                        e.height - BOTTOM - 4);
        nmr__buf_puts(out, "nothing to show: every figure is zero</text>\n");
    }
    nmr__buf_puts(out, "</g>\n");
    foot(&e, kept, widest_out);
    return nmr__buf_error(out);
}
