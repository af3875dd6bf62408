/*
 * nmr_pprof.c: --pprof, the view as a gzipped pprof profile.proto (read by
 * `go tool pprof`, Pyroscope, Parca, speedscope).
 *
 * Sample types come in Go's heap order so tools that know Go heap profiles
 * treat ours the same way: alloc_objects/count, alloc_space/bytes,
 * inuse_objects/count, inuse_space/bytes, then nmtrace's own
 * mmap_reserved/bytes and mmap_committed/bytes. default_sample_type is the
 * measure nmreport was asked for (inuse_space unless told otherwise), so
 * `go tool pprof -top` shows what `nmreport --text` shows.
 *
 * Each sample's stack starts at the allocation site, like nmreport's flat
 * column: the allocator and libc frames under it are left out and the API
 * that allocated ("malloc", "mmap", ...) is kept as the sample label "api".
 * Inlined frames share one Location with several Lines (innermost first).
 * Native locations carry their mapping (path, file offset, build-id) and the
 * address inside the call instruction (return address - 1), so a tool can
 * re-symbolize; Java frames have no address.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "nmr_buf.h"
#include "nmr_intern.h"
#include "nmr_pb.h"
#include "nmr_view.h"
#include "nmt_format.h"

/* profile.proto field numbers (perftools.profiles). */
enum {
    P_SAMPLE_TYPE = 1,
    P_SAMPLE = 2,
    P_MAPPING = 3,
    P_LOCATION = 4,
    P_FUNCTION = 5,
    P_STRING_TABLE = 6,
    P_TIME_NANOS = 9,
    P_DURATION_NANOS = 10,
    P_PERIOD_TYPE = 11,
    P_PERIOD = 12,
    P_COMMENT = 13,
    P_DEFAULT_SAMPLE_TYPE = 14,
    VT_TYPE = 1,
    VT_UNIT = 2,
    S_LOCATION_ID = 1,
    S_VALUE = 2,
    S_LABEL = 3,
    LB_KEY = 1,
    LB_STR = 2,
    M_ID = 1,
    M_START = 2,
    M_LIMIT = 3,
    M_OFFSET = 4,
    M_FILENAME = 5,
    M_BUILD_ID = 6,
    M_HAS_FUNCTIONS = 7,
    M_HAS_FILENAMES = 8,
    M_HAS_LINE_NUMBERS = 9,
    M_HAS_INLINE_FRAMES = 10,
    L_ID = 1,
    L_MAPPING_ID = 2,
    L_ADDRESS = 3,
    L_LINE = 4,
    LN_FUNCTION_ID = 1,
    LN_LINE = 2,
    F_ID = 1,
    F_NAME = 2,
    F_SYSTEM_NAME = 3,
    F_FILENAME = 4,
};

/* The sample types, in the order written, and the row value each carries. */
static const struct {
    const char *type, *unit;
    enum nmr_measure m;
} types[] = {
    {"alloc_objects", "count", NMR_ALLOC_OBJECTS}, {"alloc_space", "bytes", NMR_ALLOC_SPACE},
    {"inuse_objects", "count", NMR_INUSE_OBJECTS}, {"inuse_space", "bytes", NMR_INUSE_SPACE},
    {"mmap_reserved", "bytes", NMR_RESERVED},      {"mmap_committed", "bytes", NMR_COMMITTED},
};
#define NTYPES (sizeof types / sizeof types[0])

struct pp {
    const struct nmr_view *v;
    struct nmr_intern strs, funcs, locs, maps;
    struct nmr_buf samples, mappings, locations, functions;
    int oom;
};

/* String table index of s ("" is index 0: it is interned first). */
static int64_t str(struct pp *p, const char *s)
{
    uint32_t id = nmr__intern_str(&p->strs, s, NULL);
    if (!id)
        p->oom = 1;
    return id ? (int64_t)id - 1 : 0;
}

/* The snapshot whose maps describe a profile's addresses in this view. */
static const struct nmr_snapshot *snap_of(const struct nmr_view *v, const struct nmr_profile *pr)
{
    for (size_t i = 0; i < v->nprofiles; i++)
        if (v->profiles[i] == pr)
            return v->snaps[i];
    if (pr == v->base_profile && v->base_snap)
        return v->base_snap;
    return pr->nsnaps ? &pr->snaps[pr->nsnaps - 1] : NULL;
}

/* The mapping that holds addr in the snapshot the view reads of pr, or NULL. */
static const struct nmr_map *find_map(const struct nmr_snapshot *s, uint64_t addr)
{
    return s ? nmr_map_at(s, addr) : NULL;
}

/* The mapping id of m (0 when m is NULL), writing the Mapping when new. */
static uint64_t mapping_id(struct pp *p, const struct nmr_profile *pr, const struct nmr_map *m)
{
    if (!m)
        return 0;
    struct {
        const void *pr, *m;
    } key = {pr, m};
    int added;
    uint32_t id = nmr__intern(&p->maps, &key, sizeof key, &added);
    if (!id) {
        p->oom = 1;
        return 0;
    }
    if (!added)
        return id;
    char hex[2 * 64 + 1];
    size_t n = m->build_id_len < 64 ? m->build_id_len : 64;
    for (size_t i = 0; i < n; i++)
        snprintf(hex + 2 * i, 3, "%02x", m->build_id[i]);
    hex[2 * n] = 0;
    struct nmr_buf *b = &p->mappings;
    size_t mark = nmr__pb_begin(b, P_MAPPING);
    nmr__pb_uint(b, M_ID, id);
    nmr__pb_uint(b, M_START, m->start);
    nmr__pb_uint(b, M_LIMIT, m->end);
    nmr__pb_uint(b, M_OFFSET, m->offset);
    nmr__pb_int(b, M_FILENAME, str(p, m->path));
    if (n)
        nmr__pb_int(b, M_BUILD_ID, str(p, hex));
    /* Names, files, lines and inlining come from our symbolizer: a tool
     * must not try to re-symbolize these locations from local binaries. */
    nmr__pb_uint(b, M_HAS_FUNCTIONS, 1);
    nmr__pb_uint(b, M_HAS_FILENAMES, 1);
    nmr__pb_uint(b, M_HAS_LINE_NUMBERS, 1);
    nmr__pb_uint(b, M_HAS_INLINE_FRAMES, 1);
    nmr__pb_end(b, mark);
    return id;
}

/* pprof takes the first mapping for the main binary ("File:" in its
 * reports): register the executable's text mapping before any other. */
static void main_mapping(struct pp *p)
{
    const struct nmr_profile *pr = p->v->profiles[0];
    const struct nmr_snapshot *s = p->v->snaps[0];
    const struct nmr_map *best = NULL;
    for (size_t i = 0; pr->exe && i < s->nmaps; i++) {
        const struct nmr_map *m = &s->maps[i];
        if (m->path && strcmp(m->path, pr->exe) == 0 && (!best || (m->prot & NMT_MAP_X)))
            best = m;
        if (best && (best->prot & NMT_MAP_X))
            break;
    }
    mapping_id(p, pr, best);
}

static uint64_t function_id(struct pp *p, const char *name, const char *file)
{
    size_t ln = strlen(name), lf = file ? strlen(file) : 0;
    char *key = malloc(ln + lf + 2);
    if (key == NULL) {
        p->oom = 1;
        return 0;
    }
    memcpy(key, name, ln + 1);
    if (lf)
        memcpy(key + ln + 1, file, lf);
    key[ln + 1 + lf] = 0;
    int added;
    uint32_t id = nmr__intern(&p->funcs, key, ln + lf + 2, &added);
    free(key);
    if (!id) {
        p->oom = 1;
        return 0;
    }
    if (added) {
        struct nmr_buf *b = &p->functions;
        size_t mark = nmr__pb_begin(b, P_FUNCTION);
        nmr__pb_uint(b, F_ID, id);
        nmr__pb_int(b, F_NAME, str(p, name));
        nmr__pb_int(b, F_SYSTEM_NAME, str(p, name));
        if (lf)
            nmr__pb_int(b, F_FILENAME, str(p, file));
        nmr__pb_end(b, mark);
    }
    return id;
}

/*
 * The location of frames[first..last] (one address: last is the outermost
 * of its inlined group) of stack s in profile pr.
 */
static uint64_t location_id(struct pp *p, const struct nmr_profile *pr, const struct nmr_stack *s,
                            uint32_t first, uint32_t last)
{
    const struct nmr_frame *f = &s->frames[first];
    int java = (f->addr & NMT_FRAME_JAVA) != 0;
    struct {
        const void *pr;
        uint64_t addr;
        uint32_t nlines;
        uint32_t java;
    } key = {pr, f->addr, last - first + 1, (uint32_t)java};
    /* Java frames with the same method and bci can come from different
     * frame types; their names then agree, so the address is enough. */
    int added;
    uint32_t id = nmr__intern(&p->locs, &key, sizeof key, &added);
    if (!id) {
        p->oom = 1;
        return 0;
    }
    if (!added)
        return id;
    uint64_t mid = java ? 0 : mapping_id(p, pr, find_map(snap_of(p->v, pr), f->addr));
    struct nmr_buf *b = &p->locations;
    size_t mark = nmr__pb_begin(b, P_LOCATION);
    nmr__pb_uint(b, L_ID, id);
    if (mid)
        nmr__pb_uint(b, L_MAPPING_ID, mid);
    /* frames[] holds return addresses only (raw[0], the entry point, is not
     * a frame): -1 lands inside the call instruction, as pprof expects for
     * non-leaf addresses and as our symbolizer looked them up. */
    if (!java && f->addr)
        nmr__pb_uint(b, L_ADDRESS, f->addr - 1);
    for (uint32_t i = first; i <= last; i++) {
        const struct nmr_frame *fi = &s->frames[i];
        size_t lm = nmr__pb_begin(b, L_LINE);
        nmr__pb_uint(b, LN_FUNCTION_ID, function_id(p, fi->function, fi->file));
        if (fi->line > 0)
            nmr__pb_int(b, LN_LINE, fi->line);
        nmr__pb_end(b, lm);
    }
    nmr__pb_end(b, mark);
    return id;
}

/* A location for a stack without frames, named by its API. */
static uint64_t api_location(struct pp *p, const char *api)
{
    size_t la = strlen(api);
    char *key = malloc(la + 5);
    if (key == NULL) {
        p->oom = 1;
        return 0;
    }
    memcpy(key, "api:", 4);
    memcpy(key + 4, api, la + 1);
    int added;
    uint32_t id = nmr__intern(&p->locs, key, la + 5, &added);
    free(key);
    if (!id) {
        p->oom = 1;
        return 0;
    }
    if (added) {
        struct nmr_buf *b = &p->locations;
        size_t mark = nmr__pb_begin(b, P_LOCATION);
        nmr__pb_uint(b, L_ID, id);
        size_t lm = nmr__pb_begin(b, L_LINE);
        nmr__pb_uint(b, LN_FUNCTION_ID, function_id(p, api, NULL));
        nmr__pb_end(b, lm);
        nmr__pb_end(b, mark);
    }
    return id;
}

static void add_sample(struct pp *p, const struct nmr_row *r)
{
    const struct nmr_stack *s = r->stack;
    const char *api = s->api ? s->api : "?";
    uint64_t *locs = malloc(((size_t)s->nframes + 1) * sizeof(*locs));
    size_t n = 0;
    if (locs == NULL) {
        p->oom = 1;
        return;
    }
    uint32_t i = s->site > 0 ? (uint32_t)s->site : 0;
    while (i < s->nframes) {
        uint32_t last = i;
        while (last + 1 < s->nframes && s->frames[last].inlined &&
               s->frames[last + 1].raw_index == s->frames[i].raw_index)
            last++;
        locs[n++] = location_id(p, r->profile, s, i, last);
        i = last + 1;
    }
    if (n == 0)
        locs[n++] = api_location(p, api);
    int64_t vals[NTYPES];
    for (size_t k = 0; k < NTYPES; k++)
        vals[k] = r->v[types[k].m];
    struct nmr_buf *b = &p->samples;
    size_t mark = nmr__pb_begin(b, P_SAMPLE);
    nmr__pb_packed_u64(b, S_LOCATION_ID, locs, n);
    nmr__pb_packed_i64(b, S_VALUE, vals, NTYPES);
    size_t lm = nmr__pb_begin(b, S_LABEL);
    nmr__pb_int(b, LB_KEY, str(p, "api"));
    nmr__pb_int(b, LB_STR, str(p, api));
    nmr__pb_end(b, lm);
    nmr__pb_end(b, mark);
    free(locs);
}

static void value_type(struct pp *p, struct nmr_buf *b, unsigned field, const char *type,
                       const char *unit)
{
    size_t mark = nmr__pb_begin(b, field);
    nmr__pb_int(b, VT_TYPE, str(p, type));
    nmr__pb_int(b, VT_UNIT, str(p, unit));
    nmr__pb_end(b, mark);
}

static void comment(struct pp *p, struct nmr_buf *b, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void comment(struct pp *p, struct nmr_buf *b, const char *fmt, ...)
{
    char line[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    nmr__pb_int(b, P_COMMENT, str(p, line));
}

/* The whole Profile message: everything but the sample-derived tables is
 * written here, then the tables, then the string table last (every string
 * has been interned by then). */
static void assemble(struct pp *p, struct nmr_buf *b)
{
    const struct nmr_view *v = p->v;
    const struct nmr_profile *pr = v->profiles[0];
    const struct nmr_snapshot *sn = v->snaps[0];
    for (size_t k = 0; k < NTYPES; k++)
        value_type(p, b, P_SAMPLE_TYPE, types[k].type, types[k].unit);
    nmr__buf_add(b, p->samples.data, p->samples.len);
    nmr__buf_add(b, p->mappings.data, p->mappings.len);
    nmr__buf_add(b, p->locations.data, p->locations.len);
    nmr__buf_add(b, p->functions.data, p->functions.len);
    nmr__pb_int(b, P_TIME_NANOS, (int64_t)sn->realtime_ns);
    if (sn->monotonic_ns > pr->start_monotonic_ns)
        nmr__pb_int(b, P_DURATION_NANOS, (int64_t)(sn->monotonic_ns - pr->start_monotonic_ns));
    value_type(p, b, P_PERIOD_TYPE, "space", "bytes");
    nmr__pb_int(b, P_PERIOD, (int64_t)pr->rate);
    for (size_t i = 0; i < v->nprofiles; i++) {
        const struct nmr_profile *q = v->profiles[i];
        comment(p, b, "nmtrace profile %s: pid %" PRIu32 ", %s, rate %" PRIu64, q->path, q->pid,
                q->producer ? q->producer : "?", q->rate);
        comment(p, b, "command line: %s", q->cmdline ? q->cmdline : "");
        comment(p, b, "snapshot %" PRIu32 " (%s) at %.3fs", v->snaps[i]->seq,
                nmr_reason_name(v->snaps[i]->reason), nmr_snap_time_s(q, v->snaps[i]));
    }
    if (v->base_snap)
        comment(p, b, "minus snapshot %" PRIu32 " (%s) of %s: values are differences",
                v->base_snap->seq, nmr_reason_name(v->base_snap->reason), v->base_profile->path);
    if (v->opt->has_focus || v->opt->has_ignore)
        comment(p, b, "stacks selected by%s%s%s%s", v->opt->has_focus ? " --focus " : "",
                v->opt->has_focus ? v->opt->focus : "", v->opt->has_ignore ? " --ignore " : "",
                v->opt->has_ignore ? v->opt->ignore : "");
    comment(p, b, "stacks start at the allocation site; label api names the allocating call");
    const char *def = "inuse_space";
    for (size_t k = 0; k < NTYPES; k++)
        if (types[k].m == v->measure)
            def = types[k].type;
    nmr__pb_int(b, P_DEFAULT_SAMPLE_TYPE, str(p, def));
    for (size_t i = 0; i < p->strs.n; i++)
        nmr__pb_bytes(b, P_STRING_TABLE, p->strs.keys[i], p->strs.lens[i]);
}

int nmr_view_pprof(const struct nmr_view *v)
{
    struct pp p = {.v = v};
    struct nmr_buf raw = NMR_BUF_INIT, gz = NMR_BUF_INIT;
    int rc = 0;
    str(&p, ""); /* string index 0 must be the empty string */
    main_mapping(&p);
    for (size_t i = 0; i < v->nrows && !p.oom; i++)
        add_sample(&p, &v->rows[i]);
    if (!p.oom)
        assemble(&p, &raw);
    if (p.oom || nmr__buf_error(&raw) || nmr__buf_error(&p.samples) ||
        nmr__buf_error(&p.mappings) || nmr__buf_error(&p.locations) ||
        nmr__buf_error(&p.functions)) {
        fprintf(stderr, "nmreport: --pprof: out of memory\n");
        rc = -ENOMEM;
    } else if ((rc = nmr__gzip(raw.data, raw.len, &gz)) != 0) {
        fprintf(stderr, "nmreport: --pprof: compression failed\n");
    } else if ((rc = nmr__buf_write(&gz, v->out)) != 0) {
        fprintf(stderr, "nmreport: --pprof: writing %s: %s\n",
                v->opt->output ? v->opt->output : "stdout", strerror(-rc));
    }
    nmr__buf_free(&raw);
    nmr__buf_free(&gz);
    nmr__buf_free(&p.samples);
    nmr__buf_free(&p.mappings);
    nmr__buf_free(&p.locations);
    nmr__buf_free(&p.functions);
    nmr__intern_free(&p.strs);
    nmr__intern_free(&p.funcs);
    nmr__intern_free(&p.locs);
    nmr__intern_free(&p.maps);
    return rc;
}
