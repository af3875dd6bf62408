/*
 * test_report_exports.c: nmreport's export views and their encoders: the
 * protobuf writer and gzip, string interning, escaping, the flame graph tree
 * and SVG layout, the chart's ticks and SVG, and the views themselves on a
 * synthetic profile (report_writer.h): the jemalloc heap_v2 text against
 * exact expected lines, and the pprof profile decoded field by field here
 * (the interop tests run go tool pprof and jeprof on real recordings).
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "nmt_format.h"
#include "nmr_buf.h"
#include "nmr_render_chart.h"
#include "nmr_render_flame.h"
#include "nmr_intern.h"
#include "nmr_pb.h"
#include "nmr_profile.h"
#include "nmr_select.h"
#include "nmr_view.h"
#include "report_run.h"
#include "report_writer.h"

#define MiB  (1024ull * 1024)
#define BASE 0x10000000ull

/* Protobuf encoder ------------------------------------------------------ */

static void expect_bytes(const struct nmr_buf *b, const uint8_t *want, size_t n)
{
    cr_assert_eq(b->len, n, "length %zu, expected %zu", b->len, n);
    for (size_t i = 0; i < n; i++)
        cr_assert_eq((uint8_t)b->data[i], want[i], "byte %zu: %02x, expected %02x", i,
                     (uint8_t)b->data[i], want[i]);
}

Test(pb, varints_and_fields)
{
    struct nmr_buf b = NMR_BUF_INIT;
    nmr__pb_varint(&b, 0);
    nmr__pb_varint(&b, 1);
    nmr__pb_varint(&b, 127);
    nmr__pb_varint(&b, 128);
    nmr__pb_varint(&b, 300);
    expect_bytes(&b, (const uint8_t[]){0x00, 0x01, 0x7f, 0x80, 0x01, 0xac, 0x02}, 7);
    b.len = 0;
    nmr__pb_uint(&b, 1, 150); /* the protobuf documentation's example */
    nmr__pb_string(&b, 2, "testing");
    expect_bytes(
        &b, (const uint8_t[]){0x08, 0x96, 0x01, 0x12, 0x07, 't', 'e', 's', 't', 'i', 'n', 'g'}, 12);
    b.len = 0;
    nmr__pb_int(&b, 1, -1); /* int64: two's complement, ten bytes */
    expect_bytes(
        &b, (const uint8_t[]){0x08, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01},
        11);
    cr_assert_eq(nmr__pb_varint_size(UINT64_MAX), 10);
    cr_assert_eq(nmr__pb_varint_size(16383), 2);
    cr_assert_eq(nmr__pb_varint_size(16384), 3);
    nmr__buf_free(&b);
}

Test(pb, packed_and_nested)
{
    struct nmr_buf b = NMR_BUF_INIT;
    nmr__pb_packed_u64(&b, 4, (const uint64_t[]){3, 270, 86942}, 3);
    expect_bytes(&b, (const uint8_t[]){0x22, 0x06, 0x03, 0x8e, 0x02, 0x9e, 0xa7, 0x05}, 8);
    b.len = 0;
    nmr__pb_packed_u64(&b, 4, NULL, 0); /* empty: nothing at all */
    cr_assert_eq(b.len, 0);
    /* A nested body longer than 127 bytes needs a two-byte length. */
    size_t outer = nmr__pb_begin(&b, 3);
    size_t inner = nmr__pb_begin(&b, 1);
    for (int i = 0; i < 100; i++)
        nmr__pb_uint(&b, 2, 1);
    nmr__pb_end(&b, inner);
    nmr__pb_end(&b, outer);
    /* outer: tag 0x1a, length 203 (2 bytes); inner: tag 0x0a, length 200. */
    cr_assert_eq(b.len, 1 + 2 + 1 + 2 + 200);
    const uint8_t *d = (const uint8_t *)b.data;
    cr_assert_eq(d[0], 0x1a);
    cr_assert_eq((d[1] & 0x7f) | (d[2] << 7), 203);
    cr_assert_eq(d[3], 0x0a);
    cr_assert_eq((d[4] & 0x7f) | (d[5] << 7), 200);
    cr_assert_eq(d[6], 0x10);
    cr_assert_eq(d[7], 0x01);
    nmr__buf_free(&b);
}

static size_t gunzip(const struct nmr_buf *gz, uint8_t **out)
{
    z_stream zs;
    memset(&zs, 0, sizeof zs);
    cr_assert_eq(inflateInit2(&zs, 15 + 16), Z_OK);
    size_t cap = 1 << 20;
    *out = malloc(cap);
    zs.next_in = (Bytef *)gz->data;
    zs.avail_in = (uInt)gz->len;
    zs.next_out = *out;
    zs.avail_out = (uInt)cap;
    cr_assert_eq(inflate(&zs, Z_FINISH), Z_STREAM_END);
    size_t n = zs.total_out;
    inflateEnd(&zs);
    return n;
}

Test(pb, gzip_round_trip_and_deterministic)
{
    struct nmr_buf a = NMR_BUF_INIT, b = NMR_BUF_INIT;
    char text[5000];
    for (size_t i = 0; i < sizeof text; i++)
        text[i] = (char)('a' + i % 7);
    cr_assert_eq(nmr__gzip(text, sizeof text, &a), 0);
    cr_assert_eq(nmr__gzip(text, sizeof text, &b), 0);
    cr_assert_eq((uint8_t)a.data[0], 0x1f);
    cr_assert_eq((uint8_t)a.data[1], 0x8b);
    cr_assert_eq(a.len, b.len);
    cr_assert_eq(memcmp(a.data, b.data, a.len), 0, "gzip output must be reproducible");
    uint8_t *back;
    size_t n = gunzip(&a, &back);
    cr_assert_eq(n, sizeof text);
    cr_assert_eq(memcmp(back, text, n), 0);
    free(back);
    nmr__buf_free(&a);
    nmr__buf_free(&b);
}

Test(intern, dense_ids_in_order)
{
    struct nmr_intern t = {0};
    cr_assert_eq(nmr__intern_str(&t, "", NULL), 1);
    int added;
    char key[32];
    for (int i = 0; i < 2000; i++) {
        snprintf(key, sizeof key, "k%d", i);
        cr_assert_eq(nmr__intern_str(&t, key, &added), (uint32_t)i + 2);
        cr_assert_eq(added, 1);
    }
    cr_assert_eq(nmr__intern_str(&t, "k1234", &added), 1236);
    cr_assert_eq(added, 0);
    cr_assert_eq(nmr__intern(&t, "ab\0c", 4, NULL), 2002);
    cr_assert_eq(nmr__intern(&t, "ab\0d", 4, NULL), 2003);
    cr_assert_eq(nmr__intern_str(&t, NULL, NULL), 1);
    nmr__intern_free(&t);
}

Test(buf, escaping)
{
    struct nmr_buf b = NMR_BUF_INIT;
    nmr__buf_xml(&b, "a<b>&\"c'\x01");
    cr_assert_str_eq(b.data, "a&lt;b&gt;&amp;&quot;c&#39;?");
    b.len = 0;
    nmr__buf_jstr(&b, "x\"\\</script>]]>\n");
    cr_assert_str_eq(b.data, "\"x\\\"\\\\\\u003c/script\\u003e]]\\u003e\\u000a\"");
    b.len = 0;
    char h[32];
    cr_assert_str_eq(nmr__fmt_human(512, h, sizeof h), "512 B");
    cr_assert_str_eq(nmr__fmt_human(1536, h, sizeof h), "1.50 KiB");
    cr_assert_str_eq(nmr__fmt_human(-3.0 * 1048576, h, sizeof h), "-3.00 MiB");
    cr_assert_str_eq(nmr__fmt_human(200.0 * 1073741824.0, h, sizeof h), "200 GiB");
    nmr__buf_free(&b);
}

/* Flame graph ----------------------------------------------------------- */

#define FR(n, l, c) ((struct nmr_flame_frame){(n), (l), (c)})

Test(flame, merges_paths_and_lays_out_by_name)
{
    struct nmr_flame f;
    cr_assert_eq(nmr__flame_init(&f, "all"), 0);
    struct nmr_flame_frame p1[] = {FR("main", "prog", NMR_CLS_EXE), FR("zeta", "prog", NMR_CLS_EXE),
                                   FR("malloc", "", NMR_CLS_NMTRACE)};
    struct nmr_flame_frame p2[] = {FR("main", "prog", NMR_CLS_EXE),
                                   FR("alpha <T&>", "libx.so", NMR_CLS_JNI)};
    cr_assert_eq(nmr__flame_add(&f, p1, 3, 300), 0);
    cr_assert_eq(nmr__flame_add(&f, p2, 2, 100), 0);
    cr_assert_eq(nmr__flame_add(&f, p1, 3, 200), 0);
    cr_assert_eq(nmr__flame_add(&f, p1, 3, 0), 0);
    cr_assert_eq(nmr__flame_add(&f, p1, 3, -1), -EINVAL);
    cr_assert_eq(f.total, 600);
    cr_assert_eq(f.nnodes, 5, "root, main, zeta, malloc, alpha: %zu", f.nnodes);
    struct nmr_buf b = NMR_BUF_INIT;
    struct nmr_flame_opts o = {.id = "fg1", .title = "T", .unit = "bytes", .standalone = 1};
    cr_assert_eq(nmr__flame_svg(&f, &o, &b), 0);
    /* Pre-order, children by name: all, main, alpha (start 0), zeta (start
     * 100), malloc (start 100). */
    const char *all = strstr(b.data, "data-i=\"0\" data-s=\"0\" data-v=\"600\" data-d=\"0\"");
    const char *mn = strstr(b.data, "data-i=\"1\" data-s=\"0\" data-v=\"600\" data-d=\"1\" "
                                    "data-c=\"exe\" data-n=\"main\" data-l=\"prog\"");
    const char *al = strstr(b.data, "data-i=\"2\" data-s=\"0\" data-v=\"100\" data-d=\"2\" "
                                    "data-c=\"jni\" data-n=\"alpha &lt;T&amp;&gt;\"");
    const char *ze = strstr(b.data, "data-i=\"3\" data-s=\"100\" data-v=\"500\" data-d=\"2\"");
    const char *ma = strstr(b.data, "data-i=\"4\" data-s=\"100\" data-v=\"500\" data-d=\"3\" "
                                    "data-c=\"nmtrace\" data-n=\"malloc\"");
    cr_assert(all && mn && al && ze && ma, "%s", b.data);
    cr_assert(all < mn && mn < al && al < ze && ze < ma);
    /* 1180 px of plot: alpha is 1/6 wide, zeta starts after it. */
    cr_assert(strstr(al, "width=\"196.67\""), "%.300s", al);
    cr_assert(strstr(ze, "<rect x=\"206.67\""), "%.300s", ze);
    /* Standalone: XML prolog, the script in CDATA, the API bound to the id. */
    cr_assert(strncmp(b.data, "<?xml", 5) == 0);
    cr_assert(strstr(b.data, "<![CDATA[") && strstr(b.data, "})(\"fg1\");\n]]></script>"));
    cr_assert(strstr(b.data, "window.nmrFlame[ID]"));
    cr_assert(strstr(b.data, "total 600 B"));
    /* Inline (HTML) flavour: no prolog. */
    b.len = 0;
    o.standalone = 0;
    cr_assert_eq(nmr__flame_svg(&f, &o, &b), 0);
    cr_assert(strncmp(b.data, "<svg ", 5) == 0);
    cr_assert(strstr(b.data, "data-standalone=\"0\""));
    nmr__buf_free(&b);
    nmr__flame_free(&f);
}

Test(flame, narrow_frames_left_out_and_labels_cut)
{
    struct nmr_flame f;
    cr_assert_eq(nmr__flame_init(&f, "all"), 0);
    char name[64];
    struct nmr_flame_frame wide[] = {
        FR("a_function_with_a_rather_long_name_that_cannot_fit", "", NMR_CLS_EXE)};
    cr_assert_eq(nmr__flame_add(&f, wide, 1, 1000000), 0);
    char *tiny[3]; /* the tree keeps the names: freed after it */
    for (int i = 0; i < 3; i++) {
        snprintf(name, sizeof name, "tiny%d", i);
        tiny[i] = strdup(name);
        cr_assert_not_null(tiny[i]);
        struct nmr_flame_frame t[] = {FR(tiny[i], "", NMR_CLS_LIBC)};
        cr_assert_eq(nmr__flame_add(&f, t, 1, 1), 0);
    }
    struct nmr_buf b = NMR_BUF_INIT;
    struct nmr_flame_opts o = {.id = "x", .unit = "objects", .width = 300, .standalone = 1};
    cr_assert_eq(nmr__flame_svg(&f, &o, &b), 0);
    cr_assert_null(strstr(b.data, "tiny0"), "a 0.0003 px frame must be left out");
    /* 280 px of plot: (280 - 6) / 7.2 = 38 characters, 36 kept and "..". */
    cr_assert(strstr(b.data, ">a_function_with_a_rather_long_name_t..</text>"), "%s", b.data);
    cr_assert(strstr(b.data, "total 1000003 objects"));
    /* min_px 0.0001 keeps them. */
    b.len = 0;
    o.min_px = 0.0001;
    cr_assert_eq(nmr__flame_svg(&f, &o, &b), 0);
    cr_assert(strstr(b.data, "data-n=\"tiny2\""));
    cr_assert(strstr(b.data, "-details\" x=\"10\" y=\"124\"> </text>"), "all drawn: no note");
    /* A frame budget keeps the widest: the root and the long one. */
    b.len = 0;
    o.max_frames = 2;
    cr_assert_eq(nmr__flame_svg(&f, &o, &b), 0);
    cr_assert_null(strstr(b.data, "tiny"));
    cr_assert(strstr(b.data, "data-i=\"1\""));
    cr_assert_null(strstr(b.data, "data-i=\"2\""));
    cr_assert(strstr(b.data, ">2 of 5 frames drawn: frames of 1 objects or less are left out<"),
              "%s", b.data);
    nmr__buf_free(&b);
    nmr__flame_free(&f);
    for (int i = 0; i < 3; i++)
        free(tiny[i]);
}

Test(flame, colours_follow_class_families)
{
    char a[32], b[32], c[32];
    nmr__flame_color(NMR_CLS_JAVA, "java.nio.Bits.reserveMemory", a, sizeof a);
    nmr__flame_color(NMR_CLS_JAVA, "java.nio.Bits.reserveMemory", b, sizeof b);
    cr_assert_str_eq(a, b, "deterministic");
    int r, g, bl;
    cr_assert_eq(sscanf(a, "rgb(%d,%d,%d)", &r, &g, &bl), 3);
    cr_assert(g > r && g > bl, "java is green: %s", a);
    nmr__flame_color(NMR_CLS_JVM, "os::malloc", c, sizeof c);
    cr_assert_eq(sscanf(c, "rgb(%d,%d,%d)", &r, &g, &bl), 3);
    cr_assert(r > g && r > bl, "jvm is red: %s", c);
    nmr__flame_color(NMR_CLS_JNI, "Java_foo", c, sizeof c);
    cr_assert_eq(sscanf(c, "rgb(%d,%d,%d)", &r, &g, &bl), 3);
    cr_assert(r > bl && g > bl && r >= g, "jni is yellow/orange: %s", c);
}

/* Chart -------------------------------------------------------------------- */

Test(chart, ticks_and_durations)
{
    double step, div;
    const char *u;
    nmr__nice_ticks(3.4 * 1073741824.0, 1, &step, &div, &u);
    cr_assert_str_eq(u, "GiB");
    cr_assert_float_eq(step, 1073741824.0, 1, "step %f", step);
    nmr__nice_ticks(700 * 1024.0, 1, &step, &div, &u);
    cr_assert_str_eq(u, "KiB");
    cr_assert_float_eq(step, 200 * 1024.0, 1, "step %f", step);
    nmr__nice_ticks(3, 0, &step, &div, &u);
    cr_assert_float_eq(step, 1, 1e-9, "counts step by whole units: %f", step);
    char d[32];
    nmr__fmt_duration(45, d, sizeof d);
    cr_assert_str_eq(d, "45s");
    nmr__fmt_duration(150, d, sizeof d);
    cr_assert_str_eq(d, "2m30s");
    nmr__fmt_duration(3900, d, sizeof d);
    cr_assert_str_eq(d, "1h05m");
    nmr__fmt_duration(2.5, d, sizeof d);
    cr_assert_str_eq(d, "2.5s");
}

Test(chart, svg_series_points_and_gaps)
{
    double x[] = {0, 10, 20};
    double rss[] = {100, NAN, 300}, site[] = {50, 60, 70};
    struct nmr_chart_series s[] = {{"RSS", rss, 0, "#222", 0}, {"site <a>", site, 1, NULL, 0}};
    struct nmr_chart_opts o = {.id = "c1", .title = "T", .unit = "bytes", .standalone = 1};
    struct nmr_buf b = NMR_BUF_INIT;
    cr_assert_eq(nmr__chart_svg(x, NULL, 3, s, 2, &o, &b), 0);
    /* The NaN breaks the RSS line in two polylines of one point each. */
    size_t lines = 0;
    for (const char *p = b.data; (p = strstr(p, "<polyline")); p++)
        lines++;
    cr_assert_eq(lines, 2, "%s", b.data);
    cr_assert(strstr(b.data, "<polygon class=\"area\""));
    cr_assert(strstr(b.data, "site &lt;a&gt;"));
    cr_assert(strstr(b.data, "\"y\":[100,null,300]"), "%s", b.data);
    cr_assert(strstr(b.data, "\"labels\":[\"0s\",\"10s\",\"20s\"]"));
    b.len = 0;
    cr_assert_eq(nmr__chart_svg(x, NULL, 1, s, 2, &o, &b), 0, "one snapshot draws points");
    cr_assert(strstr(b.data, "<rect class=\"area\""));
    cr_assert_eq(nmr__chart_svg(x, NULL, 0, s, 2, &o, &b), -EINVAL);
    nmr__buf_free(&b);
}

/* Views on a synthetic profile -------------------------------------------- */

/*
 * Stacks (raw frame 0 is the entry point, then return addresses):
 *  1: A (prog+0x100) <- main (0x900)       malloc: live 3 MiB/3, alloc 4 MiB/5
 *  2: B (prog+0x200) <- main               malloc: live 1 MiB/1024
 *  3: C (prog+0x300) <- D (0x400) <- main  mmap: reserved 16 MiB, committed 4 MiB
 *  4: E (prog+0x500) <- Java frame         malloc: live 512 KiB/2
 */
static void scenario(struct rw *w)
{
    rw_init(w);
    rw_magic(w);
    rw_header(w, 1, 4321, 1, "/nonexistent/exports/prog");
    uint64_t s1[] = {BASE + 0x10, BASE + 0x101, BASE + 0x901};
    uint64_t s2[] = {BASE + 0x10, BASE + 0x201, BASE + 0x901};
    uint64_t s3[] = {BASE + 0x20, BASE + 0x301, BASE + 0x401, BASE + 0x901};
    uint64_t s4[] = {BASE + 0x10, BASE + 0x501, nmt_frame_java(7, 12, NMT_JFRAME_INTERPRETED)};
    rw_stack(w, 1, s1, 3);
    rw_stack(w, 2, s2, 3);
    rw_stack(w, 3, s3, 4);
    rw_stack(w, 4, s4, 3);
    for (uint32_t i = 0; i < 2; i++) {
        uint64_t k = i + 1;
        rw_snap_begin(w, i, i ? NMT_SNAP_EXIT : NMT_SNAP_INTERVAL, k * 1000000000ull);
        rw_maps_one(w, BASE, BASE + 0x10000, "/nonexistent/exports/prog");
        rw_counter(w, "proc.rss", (int64_t)(20 * MiB * k));
        struct rw_site s[4] = {
            {1, 1, 3 * MiB * k, 3 * k, 4 * MiB * k, 5 * k, 3 * k, 5 * k, 0, 0},
            {2, 1, 1 * MiB, 1024, 1 * MiB, 1024, 1024, 1024, 0, 0},
            {3, 2, 0, 0, 0, 0, 0, 0, 16 * MiB, 4 * MiB},
            {4, 1, 512 * 1024, 2, 512 * 1024, 2, 2, 2, 0, 0},
        };
        rw_sites(w, s, 4);
        rw_snap_end(w, i, 4);
    }
}

/* nmreport's pipeline on the scenario (report_run.h); args as on the command
 * line. A refused option fails the test. */
static int run(struct rr_run *r, const char **args)
{
    struct rw w;
    scenario(&w);
    int rc = rr_run(r, &w, 1, NULL, args);
    rw_free(&w);
    cr_assert(!r->setup_failed, "%s", r->err);
    return rc;
}

Test(jeprof, heap_v2_exact_text)
{
    struct rr_run r;
    cr_assert_eq(run(&r, (const char *[]){"--heap-v2", NULL}), 0);
    const char *want = "heap_v2/1\n"
                       "  t*: 1032: 7864320 [1036: 9961472]\n"
                       "@ 0x0000000010000100 0x0000000010000901\n"
                       "  t*: 6: 6291456 [10: 8388608]\n"
                       "@ 0x0000000010000200 0x0000000010000901\n"
                       "  t*: 1024: 1048576 [1024: 1048576]\n"
                       "@ 0x0000000010000500\n"
                       "  t*: 2: 524288 [2: 524288]\n"
                       "\n"
                       "MAPPED_LIBRARIES:\n"
                       "10000000-10010000 r-xp 00000000 00:00 0                                  "
                       "/nonexistent/exports/prog\n";
    cr_assert_str_eq(r.out, want);
    rr_done(&r);
}

Test(jeprof, mmap_measure_and_refusals)
{
    struct rr_run r;
    cr_assert_eq(run(&r, (const char *[]){"--heap-v2", "--committed", NULL}), 0);
    cr_assert(strstr(r.out, "  t*: 1: 4194304 [1: 4194304]\n@ 0x0000000010000300 "
                            "0x0000000010000401 0x0000000010000901\n  t*: 1: 4194304 [1: 4194304]"),
              "%s", r.out);
    rr_done(&r);
    cr_assert_eq(run(&r, (const char *[]){"--heap-v2", "--base-snapshot", "0", NULL}), -EINVAL);
    rr_done(&r);
}

/* A minimal protobuf reader for the checks below. */
struct pbr {
    const uint8_t *p, *end;
};

static uint64_t rd_varint(struct pbr *r)
{
    uint64_t v = 0;
    for (int s = 0; r->p < r->end; s += 7) {
        uint8_t b = *r->p++;
        v |= (uint64_t)(b & 0x7f) << s;
        if (!(b & 0x80))
            return v;
    }
    cr_assert_fail("truncated varint");
    return 0;
}

/* Next field: returns its number, sets *v (varint) or *sub (bytes). */
static unsigned rd_field(struct pbr *r, uint64_t *v, struct pbr *sub)
{
    uint64_t key = rd_varint(r);
    if ((key & 7) == 0) {
        *v = rd_varint(r);
    } else {
        cr_assert_eq(key & 7, 2, "wire type %u", (unsigned)(key & 7));
        uint64_t n = rd_varint(r);
        cr_assert(n <= (uint64_t)(r->end - r->p));
        sub->p = r->p;
        sub->end = r->p + n;
        r->p += n;
    }
    return (unsigned)(key >> 3);
}

struct decoded {
    char *strs[256];
    size_t nstr;
    int64_t types[8][2];
    size_t ntypes;
    struct {
        uint64_t locs[16];
        size_t nlocs;
        int64_t vals[8];
        size_t nvals;
        int64_t label_key, label_str;
    } samples[16];
    size_t nsamples;
    struct {
        uint64_t id, mapping, address, fn[4];
        int64_t line[4];
        size_t nlines;
    } locs[32];
    size_t nlocs;
    struct {
        uint64_t id;
        int64_t name, file;
    } fns[32];
    size_t nfns;
    struct {
        uint64_t id, start, limit, offset;
        int64_t file;
    } maps[8];
    size_t nmaps;
    int64_t period, default_type, time_nanos, period_type[2];
};

static void decode(const uint8_t *d, size_t n, struct decoded *o)
{
    memset(o, 0, sizeof *o);
    struct pbr r = {d, d + n}, s, t;
    uint64_t v;
    while (r.p < r.end) {
        unsigned f = rd_field(&r, &v, &s);
        switch (f) {
        case 1:
            while (s.p < s.end) {
                unsigned g = rd_field(&s, &v, &t);
                o->types[o->ntypes][g - 1] = (int64_t)v;
            }
            o->ntypes++;
            break;
        case 2: {
            __typeof__(o->samples[0]) *sm = &o->samples[o->nsamples++];
            while (s.p < s.end) {
                unsigned g = rd_field(&s, &v, &t);
                if (g == 1)
                    while (t.p < t.end)
                        sm->locs[sm->nlocs++] = rd_varint(&t);
                else if (g == 2)
                    while (t.p < t.end)
                        sm->vals[sm->nvals++] = (int64_t)rd_varint(&t);
                else if (g == 3) {
                    struct pbr u;
                    while (t.p < t.end) {
                        unsigned h = rd_field(&t, &v, &u);
                        if (h == 1)
                            sm->label_key = (int64_t)v;
                        if (h == 2)
                            sm->label_str = (int64_t)v;
                    }
                }
            }
            break;
        }
        case 3: {
            __typeof__(o->maps[0]) *m = &o->maps[o->nmaps++];
            while (s.p < s.end) {
                unsigned g = rd_field(&s, &v, &t);
                if (g == 1)
                    m->id = v;
                else if (g == 2)
                    m->start = v;
                else if (g == 3)
                    m->limit = v;
                else if (g == 4)
                    m->offset = v;
                else if (g == 5)
                    m->file = (int64_t)v;
            }
            break;
        }
        case 4: {
            __typeof__(o->locs[0]) *l = &o->locs[o->nlocs++];
            while (s.p < s.end) {
                unsigned g = rd_field(&s, &v, &t);
                if (g == 1)
                    l->id = v;
                else if (g == 2)
                    l->mapping = v;
                else if (g == 3)
                    l->address = v;
                else if (g == 4) {
                    struct pbr u;
                    while (t.p < t.end) {
                        unsigned h = rd_field(&t, &v, &u);
                        if (h == 1)
                            l->fn[l->nlines] = v;
                        if (h == 2)
                            l->line[l->nlines] = (int64_t)v;
                    }
                    l->nlines++;
                }
            }
            break;
        }
        case 5: {
            __typeof__(o->fns[0]) *fn = &o->fns[o->nfns++];
            while (s.p < s.end) {
                unsigned g = rd_field(&s, &v, &t);
                if (g == 1)
                    fn->id = v;
                else if (g == 2)
                    fn->name = (int64_t)v;
                else if (g == 4)
                    fn->file = (int64_t)v;
            }
            break;
        }
        case 6:
            o->strs[o->nstr++] = strndup((const char *)s.p, (size_t)(s.end - s.p));
            break;
        case 9:
            o->time_nanos = (int64_t)v;
            break;
        case 11:
            while (s.p < s.end) {
                unsigned g = rd_field(&s, &v, &t);
                o->period_type[g - 1] = (int64_t)v;
            }
            break;
        case 12:
            o->period = (int64_t)v;
            break;
        case 14:
            o->default_type = (int64_t)v;
            break;
        default:
            break;
        }
    }
}

static const char *S(const struct decoded *d, int64_t i)
{
    cr_assert(i >= 0 && (size_t)i < d->nstr, "string index %lld of %zu", (long long)i, d->nstr);
    return d->strs[i];
}

static const char *fn_name(const struct decoded *d, uint64_t id)
{
    for (size_t i = 0; i < d->nfns; i++)
        if (d->fns[i].id == id)
            return S(d, d->fns[i].name);
    cr_assert_fail("no function %llu", (unsigned long long)id);
    return NULL;
}

static size_t loc_index(const struct decoded *d, uint64_t id)
{
    for (size_t i = 0; i < d->nlocs; i++)
        if (d->locs[i].id == id)
            return i;
    cr_assert_fail("no location %llu", (unsigned long long)id);
    return 0;
}

Test(pprof, profile_proto_fields)
{
    struct rr_run r;
    cr_assert_eq(run(&r, (const char *[]){"--pprof", NULL}), 0);
    struct nmr_buf gz = {r.out, r.outlen, r.outlen, 0};
    uint8_t *raw;
    size_t n = gunzip(&gz, &raw);
    struct decoded *d = calloc(1, sizeof *d);
    decode(raw, n, d);
    cr_assert_str_eq(S(d, 0), "", "string_table[0] must be empty");
    static const char *const types[][2] = {{"alloc_objects", "count"}, {"alloc_space", "bytes"},
                                           {"inuse_objects", "count"}, {"inuse_space", "bytes"},
                                           {"mmap_reserved", "bytes"}, {"mmap_committed", "bytes"}};
    cr_assert_eq(d->ntypes, 6);
    for (size_t i = 0; i < 6; i++) {
        cr_assert_str_eq(S(d, d->types[i][0]), types[i][0]);
        cr_assert_str_eq(S(d, d->types[i][1]), types[i][1]);
    }
    cr_assert_str_eq(S(d, d->default_type), "inuse_space");
    cr_assert_str_eq(S(d, d->period_type[0]), "space");
    cr_assert_str_eq(S(d, d->period_type[1]), "bytes");
    cr_assert_eq(d->period, 1);
    cr_assert_eq(d->time_nanos, 1700000000000000000ll + 2000000000ll);
    cr_assert_eq(d->nmaps, 1);
    cr_assert_str_eq(S(d, d->maps[0].file), "/nonexistent/exports/prog");
    cr_assert_eq(d->maps[0].start, BASE);
    cr_assert_eq(d->maps[0].limit, BASE + 0x10000);
    /* Rows by inuse_space: stack 1 (6 MiB at the last snapshot), 2, 4, 3. */
    cr_assert_eq(d->nsamples, 4);
    int64_t want0[] = {10, 8 * MiB, 6, 6 * MiB, 0, 0};
    cr_assert_eq(d->samples[0].nvals, 6);
    for (size_t i = 0; i < 6; i++)
        cr_assert_eq(d->samples[0].vals[i], want0[i], "value %zu", i);
    cr_assert_str_eq(S(d, d->samples[0].label_key), "api");
    /* Stack 1: the site's location first, address inside the call. */
    cr_assert_eq(d->samples[0].nlocs, 2);
    size_t l0 = loc_index(d, d->samples[0].locs[0]), l1 = loc_index(d, d->samples[0].locs[1]);
    cr_assert_eq(d->locs[l0].address, BASE + 0x100);
    cr_assert_eq(d->locs[l1].address, BASE + 0x900);
    cr_assert_eq(d->locs[l0].mapping, d->maps[0].id);
    cr_assert_eq(d->locs[l0].nlines, 1);
    cr_assert_str_eq(fn_name(d, d->locs[l0].fn[0]), "prog+0x100");
    /* main's location is shared by stacks 1 and 2. */
    cr_assert_eq(d->samples[1].locs[1], d->samples[0].locs[1]);
    /* Stack 4 ends in a Java frame: a location without address or mapping. */
    cr_assert_eq(d->samples[2].nlocs, 2);
    size_t lj = loc_index(d, d->samples[2].locs[1]);
    cr_assert_eq(d->locs[lj].address, 0);
    cr_assert_eq(d->locs[lj].mapping, 0);
    cr_assert(strncmp(fn_name(d, d->locs[lj].fn[0]), "java:7", 6) == 0, "%s",
              fn_name(d, d->locs[lj].fn[0]));
    /* Stack 3 (mmap only): its values, and an api label of its own (the
     * entry point's name: here "prog+0x20", no such file to read). */
    int64_t want3[] = {0, 0, 0, 0, 16 * MiB, 4 * MiB};
    for (size_t i = 0; i < 6; i++)
        cr_assert_eq(d->samples[3].vals[i], want3[i], "value %zu", i);
    cr_assert_eq(d->samples[3].nlocs, 3);
    cr_assert_str_eq(S(d, d->samples[3].label_key), "api");
    cr_assert_str_eq(S(d, d->samples[3].label_str), "prog+0x20");
    cr_assert_str_eq(S(d, d->samples[0].label_str), "prog+0x10");
    for (size_t i = 0; i < d->nstr; i++)
        free(d->strs[i]);
    free(d);
    free(raw);
    rr_done(&r);
}

Test(pprof, diff_values_are_signed_and_default_follows_measure)
{
    struct rr_run r;
    cr_assert_eq(run(&r, (const char *[]){"--pprof", "--committed", "--base-snapshot", "0", NULL}),
                 0);
    struct nmr_buf gz = {r.out, r.outlen, r.outlen, 0};
    uint8_t *raw;
    size_t n = gunzip(&gz, &raw);
    struct decoded *d = calloc(1, sizeof *d);
    decode(raw, n, d);
    cr_assert_str_eq(S(d, d->default_type), "mmap_committed");
    /* Only stack 1 changed between the snapshots: +3 MiB live, +4 MiB alloc. */
    cr_assert_eq(d->nsamples, 1);
    cr_assert_eq(d->samples[0].vals[3], (int64_t)(3 * MiB));
    cr_assert_eq(d->samples[0].vals[1], (int64_t)(4 * MiB));
    for (size_t i = 0; i < d->nstr; i++)
        free(d->strs[i]);
    free(d);
    free(raw);
    rr_done(&r);
}

Test(views, flamegraph_html_and_chart)
{
    struct rr_run r;
    cr_assert_eq(run(&r, (const char *[]){"--flamegraph", NULL}), 0);
    cr_assert(strstr(r.out, "<?xml") == r.out);
    cr_assert(strstr(r.out, "data-n=\"prog+0x100\""), "%.2000s", r.out);
    cr_assert(strstr(r.out, "data-n=\"java:7"));
    /* The api on top of every tower (named from the entry point). */
    cr_assert(strstr(r.out, "data-c=\"nmtrace\" data-n=\"prog+0x10\""));
    rr_done(&r);

    cr_assert_eq(run(&r, (const char *[]){"--html", NULL}), 0);
    cr_assert(strstr(r.out, "<!DOCTYPE html>") == r.out);
    cr_assert_null(strstr(r.out, "src=\""), "no external resource");
    cr_assert_null(strstr(r.out, "href=\"http"), "no external resource");
    cr_assert(strstr(r.out, "<svg xmlns=\"http://www.w3.org/2000/svg\" version=\"1.1\" "
                            "id=\"timeline-sites\" class=\"nmchart\""));
    cr_assert(strstr(r.out, "id=\"timeline-process\" class=\"nmchart\""));
    /* One search box: the page's, not also the embedded flame graph's own. */
    cr_assert(strstr(r.out, "id=\"flame-search\""));
    cr_assert_null(strstr(r.out, "id=\"flame-clear\""));
    cr_assert_null(strstr(r.out, ">Search</text>"));
    cr_assert(strstr(r.out, "id=\"flame\" class=\"nmflame\""));
    cr_assert(strstr(r.out, "<table class=\"sortable\">"));
    cr_assert(strstr(r.out, "Growth since the first snapshot"));
    cr_assert(strstr(r.out, "/nonexistent/exports/prog"));
    rr_done(&r);

    cr_assert_eq(run(&r, (const char *[]){"--html", "--base-snapshot", "0", NULL}), 0);
    cr_assert(strstr(r.out, "Top growers"));
    cr_assert(strstr(r.out, "+3.0 MiB"), "growth of stack 1");
    rr_done(&r);

    cr_assert_eq(run(&r, (const char *[]){"--timeline-svg", NULL}), 0);
    cr_assert(strstr(r.out, "class=\"nmchart\""));
    cr_assert(
        strstr(r.out,
               "\"name\":\"RSS\",\"color\":\"#222222\",\"stacked\":0,\"y\":[20971520,41943040]"),
        "%s", r.out);
    rr_done(&r);
}
