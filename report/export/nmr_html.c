/*
 * nmr_html.c: --html, one self-contained page that a user opens first: what
 * was recorded (command line, pid, rate, snapshot, recorder counters and
 * their warnings), headline figures, memory over time, the diff or the
 * growth since the first snapshot, the top allocation sites (sortable), the
 * roll-ups by class and by library, and the interactive flame graph. Style
 * and script are inline (nmr_render_html_assets.c); the chart and the flame
 * graph are the same SVGs as --timeline-svg and --flamegraph, inlined.
 */
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "nmc_parse.h"
#include "nmr_agg.h"
#include "nmr_buf.h"
#include "nmr_render_chart.h"
#include "nmr_sat.h"
#include "nmr_render_flame.h"
#include "nmr_series.h"
#include "nmr_view.h"

extern const char nmr__html_css[];
extern const char nmr__html_js[];

#define TOP_SITES 100
#define TOP_DIFF  20

static void esc(struct nmr_buf *b, const char *s)
{
    nmr__buf_xml(b, s ? s : "");
}

static void utc(uint64_t ns, char *out, size_t n)
{
    time_t t = (time_t)(ns / 1000000000u);
    struct tm tm;
    if (!ns || !gmtime_r(&t, &tm) || !strftime(out, n, "%Y-%m-%d %H:%M:%S UTC", &tm))
        snprintf(out, n, "unknown");
}

static void fmt_val(char *out, size_t n, int64_t v, enum nmr_measure m)
{
    nmr_fmt_value(out, n, v, m);
}

/* A numeric cell sorted by its exact value. */
static void td_num(struct nmr_buf *b, int64_t v, enum nmr_measure m, int signed_colour)
{
    char s[48];
    fmt_val(s, sizeof s, v, m);
    const char *cls = !signed_colour || v == 0 ? "" : v > 0 ? " pos" : " neg";
    nmr__buf_printf(b, "<td class=\"num%s\" data-v=\"%" PRId64 "\">%s%s</td>", cls, v,
                    signed_colour && v > 0 ? "+" : "", s);
}

/* A percentage cell with a bar behind the number. */
static void td_pct(struct nmr_buf *b, double pct)
{
    double w = fabs(pct) > 100 ? 100 : fabs(pct);
    nmr__buf_printf(b,
                    "<td class=\"num pct\" data-v=\"%.6f\"><span class=\"bar\" "
                    "style=\"width:%.1f%%\"></span><span class=\"t\">%.1f%%</span></td>",
                    pct, w, pct);
}

static enum nmr_class class_of(const char *name)
{
    for (int c = 0; c < NMR_NCLASSES; c++)
        if (name && strcmp(name, nmr_class_name((enum nmr_class)c)) == 0)
            return (enum nmr_class)c;
    return NMR_CLS_UNKNOWN;
}

static void td_class(struct nmr_buf *b, const char *cls)
{
    char col[32];
    nmr__flame_class_color(class_of(cls), col, sizeof col);
    nmr__buf_printf(b, "<td class=\"cl\"><span class=\"cls\" style=\"background:%s\"></span>", col);
    esc(b, cls);
    nmr__buf_puts(b, "</td>");
}

/* Figures of the selected snapshots themselves (not the diff). */
struct figures {
    int64_t rss, hwm, threads, live, live_objects, committed, reserved;
    int have_rss, have_hwm, have_threads;
};

static void figures(const struct nmr_view *v, struct figures *f)
{
    memset(f, 0, sizeof *f);
    for (size_t i = 0; i < v->nprofiles; i++) {
        const struct nmr_snapshot *s = v->snaps[i];
        int64_t x;
        if (nmr_counter_get(s, "proc.rss", &x))
            f->rss = nmr_sat_add(f->rss, x), f->have_rss = 1;
        if (nmr_counter_get(s, "proc.hwm", &x))
            f->hwm = nmr_sat_add(f->hwm, x), f->have_hwm = 1;
        if (nmr_counter_get(s, "proc.threads", &x))
            f->threads = nmr_sat_add(f->threads, x), f->have_threads = 1;
        for (size_t e = 0; e < s->nsites; e++) {
            f->live = nmr_sat_add(f->live, nmr_sat_i64(s->sites[e].live_bytes));
            f->live_objects = nmr_sat_add(f->live_objects, nmr_sat_i64(s->sites[e].live_objects));
            f->committed = nmr_sat_add(f->committed, nmr_sat_i64(s->sites[e].committed));
            f->reserved = nmr_sat_add(f->reserved, nmr_sat_i64(s->sites[e].reserved));
        }
    }
}

static void card(struct nmr_buf *b, const char *cls, const char *k, const char *val, const char *d)
{
    nmr__buf_printf(b, "<div class=\"card%s\"><div class=\"k\">", cls);
    esc(b, k);
    nmr__buf_puts(b, "</div><div class=\"v\">");
    esc(b, val);
    nmr__buf_puts(b, "</div><div class=\"d\">");
    esc(b, d);
    nmr__buf_puts(b, "</div></div>\n");
}

static void summary(const struct nmr_view *v, struct nmr_buf *b)
{
    struct figures f;
    figures(v, &f);
    char s[64], d[160];
    enum nmr_measure m = v->measure;
    nmr__buf_puts(b, "<section id=\"summary\"><h2>Summary</h2>\n<div class=\"cards\">\n");
    fmt_val(s, sizeof s, v->total[m], m);
    if (v->base_snap)
        snprintf(d, sizeof d, "change in %s since the base", nmr_measure_name(m));
    else if (v->opt->has_focus || v->opt->has_ignore)
        snprintf(d, sizeof d, "%s of the selected stacks (%.1f%% of all)", nmr_measure_name(m),
                 nmr_pct(v->total[m], v->total_all[m]));
    else
        snprintf(d, sizeof d, "%s, every stack", nmr_measure_name(m));
    card(b, " main", "Reported total", s, d);
    if (f.have_rss) {
        nmr_fmt_bytes(s, sizeof s, f.rss);
        if (f.have_hwm)
            snprintf(d, sizeof d, "peak %s", nmr_fmt_bytes((char[32]){0}, 32, f.hwm));
        else
            snprintf(d, sizeof d, "resident set size");
        card(b, "", "RSS", s, d);
    }
    nmr_fmt_bytes(s, sizeof s, f.live);
    snprintf(d, sizeof d, "%" PRId64 " objects, estimated from samples", f.live_objects);
    card(b, "", "malloc live", s, d);
    nmr_fmt_bytes(s, sizeof s, f.committed);
    snprintf(d, sizeof d, "of %s reserved address space",
             nmr_fmt_bytes((char[32]){0}, 32, f.reserved));
    card(b, "", "mmap committed", s, d);
    if (f.have_rss) {
        nmr_fmt_bytes(s, sizeof s, nmr_sat_sub(nmr_sat_sub(f.rss, f.live), f.committed));
        card(b, "", "RSS minus tracked", s,
             "allocator overhead, code, stacks, untouched or untracked memory (see --rss)");
    }
    if (f.have_threads) {
        snprintf(s, sizeof s, "%" PRId64, f.threads);
        card(b, "", "Threads", s, "at the snapshot");
    }
    nmr__buf_puts(b, "</div>\n");
}

/* Recorder counters that mean the figures are incomplete. */
static const struct {
    const char *name, *meaning;
} warn_counters[] = {
    {"rec.ring_drops", "sampled events lost because a thread's ring was full"},
    {"rec.free_drops", "frees of sampled memory lost: live figures may be overstated"},
    {"rec.unwind_errors", "stacks that could not be unwound past the entry point"},
    {"rec.truncated_stacks", "stacks cut at the depth limit (NMTRACE_DEPTH)"},
    {"java.truncated", "Java stacks cut to their innermost NMTRACE_DEPTH Java frames"},
    {"rec.internal_errors", "internal allocation or write failures of the recorder"},
    {"rec.write_errors", "failed writes to the profile"},
};

static void warnings(const struct nmr_view *v, struct nmr_buf *b)
{
    int any = 0;
    for (size_t i = 0; i < v->nprofiles; i++) {
        const struct nmr_profile *p = v->profiles[i];
        const struct nmr_snapshot *s = v->snaps[i];
        if (p->truncated) {
            nmr__buf_puts(b, any++ ? "<br>" : "<div class=\"warn\">");
            nmr__buf_puts(b, "<b>Cut file:</b> ");
            esc(b, p->path);
            nmr__buf_printf(b, " ends in the middle of a record; the last complete snapshot is "
                               "used.");
        }
        for (size_t k = 0; k < sizeof warn_counters / sizeof warn_counters[0]; k++) {
            int64_t x;
            if (!nmr_counter_get(s, warn_counters[k].name, &x) || x == 0)
                continue;
            nmr__buf_puts(b, any++ ? "<br>" : "<div class=\"warn\">");
            nmr__buf_printf(b, "<b>%s = %" PRId64 "</b>: ", warn_counters[k].name, x);
            esc(b, warn_counters[k].meaning);
            if (v->nprofiles > 1) {
                nmr__buf_puts(b, " (");
                esc(b, p->path);
                nmr__buf_puts(b, ")");
            }
        }
    }
    if (any)
        nmr__buf_puts(b, "</div>\n");
    nmr__buf_puts(b, "</section>\n");
}

static void fact(struct nmr_buf *b, const char *k, const char *val, int code)
{
    nmr__buf_puts(b, "<dt>");
    esc(b, k);
    nmr__buf_puts(b, code ? "</dt><dd><code>" : "</dt><dd>");
    esc(b, val);
    nmr__buf_puts(b, code ? "</code></dd>\n" : "</dd>\n");
}

static void facts(const struct nmr_view *v, struct nmr_buf *b)
{
    const struct nmr_profile *p = v->profiles[0];
    const struct nmr_snapshot *s = v->snaps[0];
    char t[512], u[64];
    nmr__buf_puts(b, "<section id=\"facts\"><h2>Recording</h2>\n<dl class=\"facts\">\n");
    fact(b, "Command line", p->cmdline, 1);
    fact(b, "Executable", p->exe, 1);
    snprintf(t, sizeof t, "%" PRIu32 " (parent %" PRIu32 ") on %s", p->pid, p->ppid,
             p->hostname ? p->hostname : "?");
    fact(b, "Process", t, 0);
    snprintf(t, sizeof t, "%s, unwinder: %s, JVM bridge %s, stacks up to %" PRIu32 " frames",
             p->producer ? p->producer : "?", nmr_unwinder_name(p),
             (p->hdr_flags & 2u) ? "allowed" : "off", p->depth);
    fact(b, "Recorder", t, 0);
    utc(p->start_realtime_ns, u, sizeof u);
    fact(b, "Recording started", u, 0);
    if (p->rate <= 1)
        snprintf(t, sizeof t, "every allocation recorded (rate 1): exact figures");
    else
        snprintf(t, sizeof t,
                 "one sample per %s allocated on average (rate %" PRIu64
                 "): malloc figures are unbiased estimates",
                 nmr_fmt_bytes((char[32]){0}, 32, nmr_sat_i64(p->rate)), p->rate);
    fact(b, "Sampling", t, 0);
    utc(s->realtime_ns, u, sizeof u);
    snprintf(t, sizeof t, "%" PRIu32 " (%s) at %.1fs, %s; %zu complete snapshot%s in the file",
             s->seq, nmr_reason_name(s->reason), nmr_snap_time_s(p, s), u, p->nsnaps,
             p->nsnaps == 1 ? "" : "s");
    fact(b, "Snapshot", t, 0);
    if (v->base_snap) {
        snprintf(t, sizeof t, "snapshot %" PRIu32 " (%s) at %.1fs of %s: figures are differences",
                 v->base_snap->seq, nmr_reason_name(v->base_snap->reason),
                 nmr_snap_time_s(v->base_profile, v->base_snap), v->base_profile->path);
        fact(b, "Base (diff)", t, 0);
    }
    for (size_t i = 0; i < v->nprofiles; i++) {
        snprintf(t, sizeof t, "%s (%" PRIu64 " bytes)%s", v->profiles[i]->path,
                 v->profiles[i]->file_size, v->profiles[i]->truncated ? ", cut" : "");
        fact(b, i ? "Merged with" : "Profile", t, 0);
    }
    if (v->opt->has_focus || v->opt->has_ignore) {
        snprintf(t, sizeof t, "%s%s%s%s", v->opt->has_focus ? "--focus " : "",
                 v->opt->has_focus ? v->opt->focus : "", v->opt->has_ignore ? " --ignore " : "",
                 v->opt->has_ignore ? v->opt->ignore : "");
        fact(b, "Selection", t, 1);
    }
    snprintf(t, sizeof t, "%s", nmr_measure_name(v->measure));
    fact(b, "Measure", t, 0);
    nmr__buf_puts(b, "</dl>\n<details><summary>All counters of the snapshot");
    if (p->ninfo)
        nmr__buf_puts(b, " and process facts");
    nmr__buf_puts(b, "</summary>\n<div class=\"two\"><div><table class=\"sortable\">"
                     "<thead><tr><th>counter</th><th class=\"num\" data-type=\"num\">value</th>"
                     "</tr></thead><tbody>\n");
    for (size_t i = 0; i < s->ncounters; i++) {
        nmr__buf_puts(b, "<tr><td><code>");
        esc(b, s->counters[i].name);
        nmr__buf_printf(
            b, "</code></td><td class=\"num\" data-v=\"%" PRId64 "\">%" PRId64 "</td></tr>\n",
            s->counters[i].value, s->counters[i].value);
    }
    nmr__buf_puts(b, "</tbody></table></div><div><table><thead><tr><th>key</th><th>value</th>"
                     "</tr></thead><tbody>\n");
    for (size_t i = 0; i < p->ninfo; i++) {
        nmr__buf_puts(b, "<tr><td><code>");
        esc(b, p->info[i].key);
        nmr__buf_puts(b, "</code></td><td>");
        esc(b, p->info[i].value);
        nmr__buf_puts(b, "</td></tr>\n");
    }
    nmr__buf_puts(b, "</tbody></table></div></div></details>\n</section>\n");
}

/* One chart of the timeline section, or a note when there is nothing to draw. */
static void timeline_part(const struct nmr_view *v, const char *id, enum nmr_chart_part part,
                          struct nmr_buf *b)
{
    size_t mark = b->len;
    int rc = nmr__chart_timeline(v, 8, id, part, 0, b);
    if (rc == -ENOMEM && !b->err)
        b->err = -ENOMEM;
    if (rc && !b->err) {
        b->len = mark;
        b->data[mark] = 0;
        nmr__buf_puts(b, "<p class=\"note\">no timeline: nothing to draw.</p>");
    }
}

/* Two charts, each with its own y axis: the allocation sites (where a leak
 * shows) and the whole process (RSS, committed mmap). On one axis a large,
 * flat line such as a JVM's committed heap squeezes the sites' growth into
 * the bottom of the plot. */
static void timeline(const struct nmr_view *v, struct nmr_buf *b)
{
    nmr__buf_puts(b, "<section id=\"timeline\"><h2>Memory over time</h2>\n<p class=\"note\">"
                     "One point per snapshot of the first profile; hover for the values. The "
                     "first chart splits the measure by allocation site, the second shows the "
                     "whole process; each has its own scale.</p>\n<div class=\"figure\">\n");
    timeline_part(v, "timeline-sites", NMR_CHART_SITES, b);
    nmr__buf_puts(b, "</div>\n<div class=\"figure\">\n");
    timeline_part(v, "timeline-process", NMR_CHART_PROCESS, b);
    nmr__buf_puts(b, "</div></section>\n");
}

static void site_cells(struct nmr_buf *b, const struct nmr_node *nd)
{
    nmr__buf_puts(b, "<td class=\"fn\">");
    esc(b, nd->function ? nd->function : "?");
    nmr__buf_puts(b, "</td><td class=\"lib\">");
    esc(b, nd->lib);
    nmr__buf_puts(b, "</td>");
    td_class(b, nd->cls);
}

static int cmp_flat_desc(const void *a, const void *b, void *m)
{
    enum nmr_measure k = *(enum nmr_measure *)m;
    int64_t x = ((const struct nmr_node *)a)->flat[k], y = ((const struct nmr_node *)b)->flat[k];
    return x < y ? 1 : x > y ? -1 : 0;
}

static int diff(const struct nmr_view *v, struct nmr_buf *b)
{
    enum nmr_measure m = v->measure;
    struct nmr_agg a = {.key = NMR_KEY_SITE};
    if (nmr__agg_add(&a, v->rows, v->nrows)) {
        nmr__agg_free(&a);
        return -ENOMEM;
    }
    if (a.n)
        qsort_r(a.nodes, a.n, sizeof *a.nodes, cmp_flat_desc, &m);
    int64_t up = 0, down = 0;
    for (size_t i = 0; i < a.n; i++) {
        if (a.nodes[i].flat[m] > 0)
            up += a.nodes[i].flat[m];
        else
            down += a.nodes[i].flat[m];
    }
    char s1[48], s2[48];
    nmr__buf_printf(b,
                    "<section id=\"diff\"><h2>Change since the base</h2>\n<p class=\"note\">"
                    "Allocation sites ranked by the change of %s: growth %s, shrinkage %s."
                    "</p>\n<div class=\"two\">\n",
                    nmr_measure_name(m), nmr_fmt_value(s1, sizeof s1, up, m),
                    nmr_fmt_value(s2, sizeof s2, down, m));
    for (int pass = 0; pass < 2; pass++) {
        nmr__buf_printf(b,
                        "<div><h3>%s</h3><div class=\"scroll\"><table class=\"sortable\">"
                        "<thead><tr><th>site</th><th>library</th><th>class</th>"
                        "<th class=\"num\" data-type=\"num\">change</th>"
                        "<th class=\"num\" data-type=\"num\">objects</th></tr></thead><tbody>\n",
                        pass ? "Top shrinkers" : "Top growers");
        size_t shown = 0;
        for (size_t k = 0; k < a.n && shown < TOP_DIFF; k++) {
            const struct nmr_node *nd = &a.nodes[pass ? a.n - 1 - k : k];
            if (pass ? nd->flat[m] >= 0 : nd->flat[m] <= 0)
                break;
            nmr__buf_puts(b, "<tr>");
            site_cells(b, nd);
            td_num(b, nd->flat[m], m, 1);
            enum nmr_measure om = m == NMR_ALLOC_SPACE || m == NMR_ALLOC_OBJECTS
                                      ? NMR_ALLOC_OBJECTS
                                      : NMR_INUSE_OBJECTS;
            td_num(b, nd->flat[om], om, 1);
            nmr__buf_puts(b, "</tr>\n");
            shown++;
        }
        if (!shown)
            nmr__buf_puts(b, "<tr><td colspan=\"5\">none</td></tr>\n");
        nmr__buf_puts(b, "</tbody></table></div></div>\n");
    }
    nmr__buf_puts(b, "</div></section>\n");
    nmr__agg_free(&a);
    return 0;
}

struct growth {
    size_t key;
    int64_t first, last;
};

static int cmp_growth(const void *a, const void *b)
{
    const struct growth *x = a, *y = b;
    int64_t dx = nmr_sat_sub(x->last, x->first), dy = nmr_sat_sub(y->last, y->first);
    if (dx != dy)
        return dx > dy ? -1 : 1;
    return x->key < y->key ? -1 : x->key > y->key;
}

/* Without a base: which sites grew between the first and the selected snapshot. */
static int growth(const struct nmr_view *v, struct nmr_buf *b)
{
    struct nmr_profile *p = v->profiles[0];
    size_t n = p->nsnaps, sel = n - 1;
    for (size_t i = 0; i < n; i++)
        if (&p->snaps[i] == v->snaps[0])
            sel = i;
    if (sel == 0)
        return 0;
    enum nmr_measure m = v->measure;
    struct nmr_series ser;
    int rc = nmr__series_build(v, p, m, &ser);
    if (rc)
        return rc;
    struct growth *g = calloc(ser.nkeys ? ser.nkeys : 1, sizeof *g);
    if (!g) {
        nmr__series_free(&ser);
        return -ENOMEM;
    }
    size_t ng = 0;
    for (size_t k = 0; k < ser.nkeys; k++) {
        int64_t f = ser.val[k * n], l = ser.val[k * n + sel];
        if (l != f)
            g[ng++] = (struct growth){k, f, l};
    }
    qsort(g, ng, sizeof *g, cmp_growth);
    nmr__buf_printf(b,
                    "<section id=\"growth\"><h2>Growth since the first snapshot</h2>\n"
                    "<p class=\"note\">Change of %s per allocation site between snapshot %" PRIu32
                    " (%.1fs) and snapshot %" PRIu32 " (%.1fs). A site that keeps growing "
                    "across snapshots is a leak suspect (nmreport --growth ranks them).</p>\n"
                    "<div class=\"scroll\"><table class=\"sortable\"><thead><tr><th>site</th>"
                    "<th>library</th><th>class</th><th class=\"num\" data-type=\"num\">first</th>"
                    "<th class=\"num\" data-type=\"num\">selected</th>"
                    "<th class=\"num\" data-type=\"num\">change</th></tr></thead><tbody>\n",
                    nmr_measure_name(m), p->snaps[0].seq, nmr_snap_time_s(p, &p->snaps[0]),
                    p->snaps[sel].seq, nmr_snap_time_s(p, &p->snaps[sel]));
    size_t shown = 0;
    for (size_t i = 0; i < ng && shown < TOP_DIFF; i++, shown++) {
        const struct nmr_series_key *k = &ser.keys[g[i].key];
        nmr__buf_puts(b, "<tr><td class=\"fn\">");
        esc(b, k->site ? k->site->function : k->api);
        nmr__buf_puts(b, "</td><td>");
        esc(b, k->site ? k->site->lib : "");
        nmr__buf_puts(b, "</td>");
        td_class(b, k->site ? k->site->cls_name : "unknown");
        td_num(b, g[i].first, m, 0);
        td_num(b, g[i].last, m, 0);
        td_num(b, nmr_sat_sub(g[i].last, g[i].first), m, 1);
        nmr__buf_puts(b, "</tr>\n");
    }
    if (!shown)
        nmr__buf_puts(b, "<tr><td colspan=\"6\">no site changed</td></tr>\n");
    nmr__buf_puts(b, "</tbody></table></div></section>\n");
    free(g);
    nmr__series_free(&ser);
    return 0;
}

/* The other measures shown next to the selected one in the sites table. */
static size_t extras(enum nmr_measure m, enum nmr_measure out[4])
{
    static const enum nmr_measure all[] = {NMR_INUSE_SPACE, NMR_INUSE_OBJECTS, NMR_ALLOC_SPACE,
                                           NMR_COMMITTED};
    size_t n = 0;
    for (size_t i = 0; i < 4; i++)
        if (all[i] != m && n < 3)
            out[n++] = all[i];
    return n;
}

/* Short column titles for the extra measures (the header's tooltip says
 * they are flat values). */
static const char *measure_title(enum nmr_measure m)
{
    switch (m) {
    case NMR_INUSE_SPACE:
        return "live";
    case NMR_INUSE_OBJECTS:
        return "objects";
    case NMR_ALLOC_SPACE:
        return "allocated";
    case NMR_ALLOC_OBJECTS:
        return "alloc objects";
    case NMR_RESERVED:
        return "reserved";
    case NMR_COMMITTED:
        return "committed";
    default:
        return nmr_measure_name(m);
    }
}

static int sites(const struct nmr_view *v, struct nmr_buf *b)
{
    enum nmr_measure m = v->measure, ex[4];
    size_t nex = extras(m, ex);
    struct nmr_agg a = {.key = NMR_KEY_FUNCTION};
    if (nmr__agg_add(&a, v->rows, v->nrows)) {
        nmr__agg_free(&a);
        return -ENOMEM;
    }
    if (a.n) /* qsort of an empty, NULL array is undefined */
        nmr__agg_sort_flat(&a, m);
    size_t limit = v->opt->nodecount ? v->opt->nodecount : TOP_SITES;
    int64_t total = v->total[m];
    nmr__buf_printf(b,
                    "<section id=\"sites\"><h2>Top functions</h2>\n<p class=\"note\">As "
                    "<code>nmreport --text</code>: <b>flat</b> is what a function allocated as "
                    "the allocation site (the first frame that is not the allocator or libc), "
                    "<b>cum</b> what was allocated with it anywhere on the stack. Measure: %s. "
                    "Click a header to sort.</p>\n<div class=\"scroll\"><table "
                    "class=\"sortable\"><thead><tr><th class=\"num\" data-type=\"num\">#</th>"
                    "<th>function</th><th>library</th><th>class</th>"
                    "<th class=\"num\" data-type=\"num\" aria-sort=\"descending\">flat</th>"
                    "<th class=\"num\" data-type=\"num\">flat%%</th>"
                    "<th class=\"num\" data-type=\"num\">cum</th>"
                    "<th class=\"num\" data-type=\"num\">cum%%</th>",
                    nmr_measure_name(m));
    for (size_t e = 0; e < nex; e++)
        nmr__buf_printf(b, "<th class=\"num\" data-type=\"num\" title=\"flat %s\">%s</th>",
                        nmr_measure_name(ex[e]), measure_title(ex[e]));
    nmr__buf_puts(b, "</tr></thead><tbody>\n");
    size_t shown = 0, hidden = 0;
    for (size_t i = 0; i < a.n; i++) {
        const struct nmr_node *nd = &a.nodes[i];
        if (nd->flat[m] == 0 && nd->cum[m] == 0)
            continue;
        if (shown >= limit || !nmr_view_above_threshold(v, nd->cum[m], total)) {
            hidden++;
            continue;
        }
        shown++;
        nmr__buf_printf(b, "<tr><td class=\"num\" data-v=\"%zu\">%zu</td>", shown, shown);
        site_cells(b, nd);
        td_num(b, nd->flat[m], m, v->base_snap != NULL);
        td_pct(b, nmr_pct(nd->flat[m], total));
        td_num(b, nd->cum[m], m, v->base_snap != NULL);
        td_pct(b, nmr_pct(nd->cum[m], total));
        for (size_t e = 0; e < nex; e++)
            td_num(b, nd->flat[ex[e]], ex[e], v->base_snap != NULL);
        nmr__buf_puts(b, "</tr>\n");
    }
    nmr__buf_puts(b, "</tbody></table></div>\n");
    if (hidden)
        nmr__buf_printf(b,
                        "<p class=\"note\">%zu more functions not shown (limit %zu, "
                        "--nodecount/--threshold).</p>\n",
                        hidden, limit);
    nmr__buf_puts(b, "</section>\n");
    nmr__agg_free(&a);
    return 0;
}

static int rollup(const struct nmr_view *v, struct nmr_buf *b, enum nmr_agg_key key)
{
    enum nmr_measure m = v->measure;
    struct nmr_agg a = {.key = key};
    if (nmr__agg_add(&a, v->rows, v->nrows)) {
        nmr__agg_free(&a);
        return -ENOMEM;
    }
    if (a.n) /* qsort of an empty, NULL array is undefined */
        nmr__agg_sort_flat(&a, m);
    int64_t total = v->total[m];
    nmr__buf_printf(b,
                    "<div><h3>By %s</h3><div class=\"scroll\"><table class=\"sortable\"><thead>"
                    "<tr><th>%s</th><th class=\"num\" data-type=\"num\" "
                    "aria-sort=\"descending\">flat</th>"
                    "<th class=\"num\" data-type=\"num\">flat%%</th>"
                    "<th class=\"num\" data-type=\"num\">cum</th></tr></thead><tbody>\n",
                    key == NMR_KEY_CLASS ? "class" : "library",
                    key == NMR_KEY_CLASS ? "class" : "library");
    for (size_t i = 0; i < a.n; i++) {
        const struct nmr_node *nd = &a.nodes[i];
        if (nd->flat[m] == 0 && nd->cum[m] == 0)
            continue;
        nmr__buf_puts(b, "<tr>");
        if (key == NMR_KEY_CLASS)
            td_class(b, nd->cls);
        else {
            nmr__buf_puts(b, "<td class=\"fn\">");
            esc(b, nd->lib && nd->lib[0] ? nd->lib : "(no library)");
            nmr__buf_puts(b, "</td>");
        }
        td_num(b, nd->flat[m], m, v->base_snap != NULL);
        td_pct(b, nmr_pct(nd->flat[m], total));
        td_num(b, nd->cum[m], m, v->base_snap != NULL);
        nmr__buf_puts(b, "</tr>\n");
    }
    nmr__buf_puts(b, "</tbody></table></div></div>\n");
    nmr__agg_free(&a);
    return 0;
}

static int flame(const struct nmr_view *v, struct nmr_buf *b)
{
    nmr__buf_puts(b, "<section id=\"flamegraph\"><h2>Flame graph</h2>\n<p class=\"note\">Each "
                     "bar is a frame, as wide as the memory allocated under it; callers below, "
                     "the allocating call on top. Click a bar to zoom, hover for figures; "
                     "colours are frame classes.</p>\n<div class=\"toolbar\"><input "
                     "id=\"flame-search\" type=\"search\" placeholder=\"search functions or "
                     "libraries (regular expression)\" aria-label=\"search the flame graph\">"
                     "<button id=\"flame-reset\" type=\"button\">Reset zoom and search</button>"
                     "<span class=\"hint\">matches turn magenta; the matched share is shown "
                     "under the graph</span></div>\n<div class=\"figure\">\n");
    int rc = nmr__flame_render(v, "flame", 0, b);
    nmr__buf_puts(b, "</div></section>\n");
    return rc;
}

static int page(const struct nmr_view *v, struct nmr_buf *b)
{
    const struct nmr_profile *p = v->profiles[0];
    const struct nmr_snapshot *s = v->snaps[0];
    int rc;
    nmr__buf_puts(b, "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
                     "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n"
                     "<title>nmtrace: ");
    esc(b, nmc_base_name(p->exe));
    nmr__buf_printf(b, " (pid %" PRIu32 ")</title>\n<style>\n", p->pid);
    nmr__buf_puts(b, nmr__html_css);
    nmr__buf_puts(b,
                  "</style>\n</head>\n<body>\n<header class=\"top\"><h1>Native memory of <code>");
    esc(b, nmc_base_name(p->exe));
    nmr__buf_printf(b, "</code> (pid %" PRIu32 ")</h1><p>", p->pid);
    nmr__buf_printf(b, "snapshot %" PRIu32 " (%s) at %.1fs", s->seq, nmr_reason_name(s->reason),
                    nmr_snap_time_s(p, s));
    if (v->base_snap)
        nmr__buf_printf(b, " minus snapshot %" PRIu32 " at %.1fs", v->base_snap->seq,
                        nmr_snap_time_s(v->base_profile, v->base_snap));
    if (v->nprofiles > 1)
        nmr__buf_printf(b, ", %zu profiles merged", v->nprofiles);
    nmr__buf_puts(b, " &middot; measure ");
    esc(b, nmr_measure_name(v->measure));
    nmr__buf_puts(b, "</p></header>\n<nav><a href=\"#summary\">Summary</a><a href=\"#facts\">"
                     "Recording</a><a href=\"#timeline\">Over time</a>");
    if (v->base_snap)
        nmr__buf_puts(b, "<a href=\"#diff\">Change</a>");
    else if (p->nsnaps > 1 && s != &p->snaps[0])
        nmr__buf_puts(b, "<a href=\"#growth\">Growth</a>");
    nmr__buf_puts(b, "<a href=\"#sites\">Top functions</a><a href=\"#rollup\">By class and "
                     "library</a><a href=\"#flamegraph\">Flame graph</a></nav>\n<main>\n");
    summary(v, b);
    warnings(v, b);
    facts(v, b);
    timeline(v, b);
    if (v->base_snap)
        rc = diff(v, b);
    else
        rc = growth(v, b);
    if (!rc)
        rc = sites(v, b);
    if (!rc) {
        nmr__buf_printf(b, "<section id=\"rollup\"><h2>By class and library</h2>\n"
                           "<p class=\"note\">flat: by the allocation site's class or library; "
                           "cum: stacks with any frame in it.</p>\n<div class=\"two\">\n");
        rc = rollup(v, b, NMR_KEY_CLASS);
        if (!rc)
            rc = rollup(v, b, NMR_KEY_LIB);
        nmr__buf_puts(b, "</div></section>\n");
    }
    if (!rc)
        rc = flame(v, b);
    nmr__buf_printf(b,
                    "</main>\n<footer>nmreport %s &middot; self-contained page: no network "
                    "access, no external script</footer>\n<script>\n",
                    NMT_VERSION);
    nmr__buf_puts(b, nmr__html_js);
    nmr__buf_puts(b, "</script>\n</body>\n</html>\n");
    return rc ? rc : nmr__buf_error(b);
}

int nmr_view_html(const struct nmr_view *v)
{
    struct nmr_buf b = NMR_BUF_INIT;
    int rc = page(v, &b);
    if (!rc)
        rc = nmr__buf_write(&b, v->out);
    if (rc == -ENOMEM)
        fprintf(stderr, "nmreport: --html: out of memory\n");
    else if (rc)
        fprintf(stderr, "nmreport: --html: writing %s: %s\n",
                v->opt->output ? v->opt->output : "stdout", strerror(-rc));
    nmr__buf_free(&b);
    return rc;
}
