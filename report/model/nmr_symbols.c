/*
 * nmr_symbols.c: turns a profile's raw stacks into named frames with
 * libnmsym (symbolize/nmsym.h). It is the only file of nmreport that talks to
 * the symbolizer: it hands libnmsym the mappings of one snapshot, resolves
 * each distinct address once (a cache keyed by address), names Java frames
 * from the profile's JMETHOD records, drops nmtrace's entry-point frame from
 * the visible frames while keeping its name as the stack's api, and picks
 * the allocation site (first frame that is not nmtrace, allocator or libc).
 *
 * Built without libnmsym (NMR_HAVE_NMSYM undefined: the symbolizer target is
 * missing), frames are named "<lib>+0x<offset>" from the mappings alone.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>

#include "nmc_parse.h"
#include "nmt_format.h"
#include "nmc_hash.h"
#include "nmr_hindex.h"
#include "nmr_internal.h"
#include "nmr_java.h"

#ifdef NMR_HAVE_NMSYM
#include "nmsym.h"
#endif

/* One cached resolution: frames[first .. first+count) of the pool. */
struct resolved {
    uint64_t addr;
    uint32_t first, count;
    uint8_t entry; /* an entry point's address, not a return address */
};

struct nmr_sym_state {
#ifdef NMR_HAVE_NMSYM
    struct nms_ctx *ctx;
#endif
    const struct nmr_snapshot *snap;
    struct nmr_java *java;  /* JMETHOD/JCODE tables, NULL when none */
    struct resolved *cache; /* by id of the index, keyed by (addr, entry) */
    size_t ncache, cap_cache;
    struct nmr_hindex index;
    struct nmr_frame *pool;
    size_t npool, cap_pool;
};

const struct nmr_map *nmr_map_at(const struct nmr_snapshot *s, uint64_t addr)
{
    size_t lo = 0, hi = s->nmaps;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (s->maps[mid].end <= addr)
            lo = mid + 1;
        else
            hi = mid;
    }
    if (lo < s->nmaps && s->maps[lo].start <= addr && addr < s->maps[lo].end)
        return &s->maps[lo];
    return NULL;
}

#ifdef NMR_HAVE_NMSYM
/* libnmsym reports each distinct problem once (a missing library, a
 * build-id mismatch): pass it on, since it explains unnamed frames. */
static void on_warning(void *arg, enum nms_warning kind, const char *msg)
{
    (void)kind;
    if (arg)
        fprintf(arg, "nmreport: warning: symbols: %s\n", msg);
}
#endif

int nmr__sym_open(struct nmr_profile *p, const struct nmr_sym_opts *o,
                  const struct nmr_snapshot *snap)
{
    if (p->sym)
        return 0;
    /* A snapshot without MAPS (not written by a conforming recorder, but
     * cheap to tolerate): use the latest one that has them. */
    for (size_t i = p->nsnaps; snap->nmaps == 0 && i-- > 0;)
        if (p->snaps[i].nmaps)
            snap = &p->snaps[i];
    struct nmr_sym_state *st = calloc(1, sizeof(*st));
    if (!st)
        return -ENOMEM;
    st->snap = snap;
    p->sym = st;
    if (p->njava_records) {
        int jr = nmr_java_from_profile(p, &st->java);
        if (jr)
            return jr;
    }
#ifdef NMR_HAVE_NMSYM
    /* libnmsym itself reads NMTRACE_DEBUG_PATH after these. */
    struct nms_options no = {0};
    no.debug_dirs = o->debug_dirs;
    no.n_debug_dirs = o->ndebug_dirs;
    no.symbols_from = o->symbols_from;
    no.perf_map = o->perf_map;
    no.pid = (int)p->pid;
    no.exe = p->exe[0] ? p->exe : NULL;
    no.on_warning = on_warning;
    no.warning_arg = o->warn;
    st->ctx = nms_open(&no);
    if (!st->ctx)
        return -ENOMEM;
    struct nms_mapping *m = calloc(snap->nmaps ? snap->nmaps : 1, sizeof(*m));
    if (!m)
        return -ENOMEM;
    for (size_t i = 0; i < snap->nmaps; i++) {
        m[i].start = snap->maps[i].start;
        m[i].end = snap->maps[i].end;
        m[i].offset = snap->maps[i].offset;
        m[i].prot = snap->maps[i].prot;
        m[i].path = snap->maps[i].path;
        m[i].build_id = snap->maps[i].build_id;
        m[i].build_id_len = snap->maps[i].build_id_len;
    }
    int rc = nms_set_mappings(st->ctx, m, snap->nmaps);
    free(m);
    if (rc < 0)
        return rc;
#else
    (void)o;
#endif
    return 0;
}

void nmr__sym_close(struct nmr_profile *p)
{
    struct nmr_sym_state *st = p->sym;
    if (!st)
        return;
#ifdef NMR_HAVE_NMSYM
    if (st->ctx)
        nms_close(st->ctx);
#endif
    nmr_java_free(st->java);
    free(st->cache);
    nmr_hindex_free(&st->index);
    free(st->pool);
    free(st);
    p->sym = NULL;
}

static int push_frame(struct nmr_sym_state *st, const struct nmr_frame *f)
{
    if (nmr__grow(&st->pool, &st->cap_pool, st->npool + 1, sizeof(*st->pool)))
        return -ENOMEM;
    st->pool[st->npool++] = *f;
    return 0;
}

/* Names an address from the mappings alone (no symbol found). A return
 * address is named by addr - 1, inside the call, as a symbolizer would. */
static int fallback_frame(struct nmr_profile *p, struct nmr_sym_state *st, uint64_t addr, int entry,
                          struct nmr_frame *f)
{
    char buf[512];
    uint64_t at = entry || addr == 0 ? addr : addr - 1;
    const struct nmr_map *m = nmr_map_at(st->snap, at);
    memset(f, 0, sizeof(*f));
    f->addr = addr;
    f->lib = "";
    f->lib_path = "";
    f->cls = NMR_CLS_UNKNOWN;
    if (m && m->path[0]) {
        f->lib = nmc_base_name(m->path);
        f->lib_path = m->path;
        snprintf(buf, sizeof(buf), "%s+0x%" PRIx64, f->lib, at - m->start + m->offset);
        if (p->exe[0] && strcmp(m->path, p->exe) == 0)
            f->cls = NMR_CLS_EXE;
    } else {
        snprintf(buf, sizeof(buf), "0x%" PRIx64, at);
    }
    f->function = nmr__arena_strndup(p->arena, buf, strlen(buf));
    return f->function ? 0 : -ENOMEM;
}

/* A frame of a code-cache address. */
static int push_code_frame(struct nmr_profile *p, struct nmr_sym_state *st, uint64_t addr,
                           const char *name, enum nmr_class cls, const char *file, int line,
                           int inlined)
{
    const struct nmr_map *m = nmr_map_at(st->snap, addr);
    struct nmr_frame f = {0};
    f.addr = addr;
    f.lib = m && m->path[0] ? nmc_base_name(m->path) : "";
    f.lib_path = m ? m->path : "";
    f.cls = cls;
    f.line = line;
    f.inlined = inlined;
    f.function = nmr__arena_strndup(p->arena, name, strlen(name));
    if (file && !(f.file = nmr__arena_strndup(p->arena, file, strlen(file))))
        return -ENOMEM;
    if (!f.function || push_frame(st, &f))
        return -ENOMEM;
    return 0;
}

/* One method of compiled code as resolve_java names a Java frame: the
 * method `pkg.Class.method`, its file and line apart. */
static int push_method(struct nmr_profile *p, struct nmr_sym_state *st, uint64_t addr,
                       uint32_t serial, uint32_t bci, int inlined)
{
    char buf[1024];
    const struct nmr_java_method *jm = nmr_java_method(st->java, serial);
    if (!jm || !jm->name || !jm->class_name) {
        snprintf(buf, sizeof(buf), "java:%u", serial);
        return push_code_frame(p, st, addr, buf, NMR_CLS_JAVA, NULL, 0, inlined);
    }
    snprintf(buf, sizeof(buf), "%s.%s", jm->class_name, jm->name);
    int line = bci != NMT_FRAME_BCI_NONE ? (int)nmr_java_line_of(jm, bci) : 0;
    return push_code_frame(p, st, addr, buf, NMR_CLS_JAVA, jm->source_file, line, inlined);
}

/* A native address in the code cache is named from the JCODE history at
 * the snapshot's time: compiled code as its methods (inlined ones first),
 * JVM code by its name. 1 when named (frames pushed), 0 when not. */
static int resolve_jit(struct nmr_profile *p, struct nmr_sym_state *st, uint64_t addr)
{
    struct nmr_java_code c;
    if (!st->java || !nmr_java_code_at(st->java, addr, st->snap->monotonic_ns, &c))
        return 0;
    int rc = 0;
    if (!c.is_method)
        rc = push_code_frame(p, st, addr, c.name && *c.name ? c.name : "[jvm code]", NMR_CLS_JIT,
                             NULL, 0, 0);
    else if (c.nframes == 0)
        rc = push_method(p, st, addr, c.serial, NMT_FRAME_BCI_NONE, 0);
    for (uint32_t i = 0; c.is_method && i < c.nframes && rc == 0; i++)
        rc = push_method(p, st, addr, c.serials[i], c.bcis[i], i + 1 < c.nframes);
    return rc < 0 ? rc : 1;
}

/* A perf map's Java method in the report's spelling (nmr_jtidy.c). */
static const char *canonical_java(struct nmr_profile *p, const char *name)
{
    char buf[1024];
    if (!nmr__java_canonical(name, buf, sizeof(buf)))
        return name;
    const char *c = nmr__arena_strndup(p->arena, buf, strlen(buf));
    return c ? c : name;
}

static int resolve_native(struct nmr_profile *p, struct nmr_sym_state *st, uint64_t addr, int entry)
{
    /* The bridge's own history of the code cache first: it names compiled
     * methods as Java frames are named, where a perf map spells them its
     * own way, and it knows what an address held at the snapshot's time. */
    int jr = resolve_jit(p, st, addr);
    if (jr)
        return jr < 0 ? jr : 0;
#ifdef NMR_HAVE_NMSYM
    const struct nms_frame *nf = NULL;
    int n = nms_resolve(st->ctx, addr, !entry, &nf);
    if (n > 0 && nf) {
        for (int i = 0; i < n; i++) {
            struct nmr_frame f = {0};
            f.addr = addr;
            f.file = nf[i].file;
            f.line = nf[i].line;
            f.lib = nf[i].lib && strcmp(nf[i].lib, "??") != 0 ? nf[i].lib : "";
            f.lib_path = nf[i].lib_path ? nf[i].lib_path : "";
            f.cls = (enum nmr_class)nf[i].cls;
            if ((unsigned)f.cls >= NMR_NCLASSES)
                f.cls = NMR_CLS_UNKNOWN;
            f.inlined = nf[i].inlined;
            if (nf[i].function && strcmp(nf[i].function, "??") != 0) {
                f.function =
                    f.cls == NMR_CLS_JAVA ? canonical_java(p, nf[i].function) : nf[i].function;
            } else {
                struct nmr_frame fb;
                if (fallback_frame(p, st, addr, entry, &fb))
                    return -ENOMEM;
                f.function = fb.function;
            }
            if (push_frame(st, &f))
                return -ENOMEM;
        }
        return 0;
    }
#else
    (void)entry;
#endif
    struct nmr_frame f;
    if (fallback_frame(p, st, addr, entry, &f))
        return -ENOMEM;
    return push_frame(st, &f);
}

static int resolve_java(struct nmr_profile *p, struct nmr_sym_state *st, uint64_t addr)
{
    char buf[1024];
    uint32_t serial = (uint32_t)(addr & NMT_FRAME_METHOD_MASK);
    uint32_t bci = (uint32_t)((addr >> NMT_FRAME_BCI_SHIFT) & NMT_FRAME_BCI_MASK);
    unsigned type = (unsigned)((addr >> NMT_FRAME_JTYPE_SHIFT) & NMT_FRAME_JTYPE_MASK);
    const struct nmr_java_method *jm = st->java ? nmr_java_method(st->java, serial) : NULL;
    struct nmr_frame f = {0};
    f.addr = addr;
    f.lib = "";
    f.lib_path = "";
    f.cls = NMR_CLS_JAVA;
    f.inlined = type == NMT_JFRAME_INLINED;
    if (jm && jm->name && jm->class_name) {
        /* Grouped by method: the line goes to file/line, not the name. */
        snprintf(buf, sizeof(buf), "%s.%s", jm->class_name, jm->name);
        f.file = jm->source_file;
        f.line = bci != NMT_FRAME_BCI_NONE ? (int)nmr_java_line_of(jm, bci) : 0;
    } else if (bci == NMT_FRAME_BCI_NONE) {
        snprintf(buf, sizeof(buf), "java:%u", serial);
    } else {
        snprintf(buf, sizeof(buf), "java:%u@%u", serial, bci);
    }
    f.function = nmr__arena_strndup(p->arena, buf, strlen(buf));
    if (!f.function || (f.file && !(f.file = nmr__arena_strndup(p->arena, f.file, strlen(f.file)))))
        return -ENOMEM;
    return push_frame(st, &f);
}

/* The frames of one raw address, from the cache or resolved now. */
static int lookup(struct nmr_profile *p, struct nmr_sym_state *st, uint64_t addr, int entry,
                  uint32_t *first, uint32_t *count)
{
    uint64_t h = nmc_mix64(addr * 2 + (uint64_t)entry);
    struct nmr_hfind f = nmr_hindex_find(&st->index, h);
    size_t id;
    while (nmr_hfind_next(&f, &id)) {
        const struct resolved *r = &st->cache[id];
        if (r->addr == addr && r->entry == entry) {
            *first = r->first;
            *count = r->count;
            return 0;
        }
    }
    size_t before = st->npool;
    int rc =
        (addr & NMT_FRAME_JAVA) ? resolve_java(p, st, addr) : resolve_native(p, st, addr, entry);
    if (rc)
        return rc;
    if (nmr__grow(&st->cache, &st->cap_cache, st->ncache + 1, sizeof(*st->cache)) ||
        nmr_hindex_add(&st->index, h, st->ncache))
        return -ENOMEM;
    struct resolved *r = &st->cache[st->ncache++];
    r->addr = addr;
    r->entry = (uint8_t)entry;
    r->first = (uint32_t)before;
    r->count = (uint32_t)(st->npool - before);
    *first = r->first;
    *count = r->count;
    return 0;
}

/* HotSpot's os::malloc & co. are plumbing too (libnmsym knows them). */
static int is_jvm_wrapper(const struct nmr_frame *f)
{
#ifdef NMR_HAVE_NMSYM
    return f->cls == NMR_CLS_JVM && nms_function_is_wrapper(f->function, NMS_JVM);
#else
    (void)f;
    return 0;
#endif
}

static int is_site_class(enum nmr_class c)
{
    return c != NMR_CLS_NMTRACE && c != NMR_CLS_ALLOCATOR && c != NMR_CLS_LIBC;
}

int nmr__symbolize(struct nmr_profile *p, struct nmr_stack *s)
{
    struct nmr_sym_state *st = p->sym;
    if (s->symbolized)
        return 0;
    if (!st)
        return -EINVAL;
    s->api = "?";
    s->site = -1;
    if (s->nraw == 0) {
        s->symbolized = 1;
        return 0;
    }
    uint32_t first, count;
    /* Frame 0: nmtrace's entry point; its innermost name is the API. */
    if (!(s->raw[0] & NMT_FRAME_JAVA)) {
        if (lookup(p, st, s->raw[0], 1, &first, &count))
            return -ENOMEM;
        if (count)
            s->api = st->pool[first + count - 1].function;
    }
    size_t n = 0;
    for (uint32_t i = 1; i < s->nraw; i++) {
        if (lookup(p, st, s->raw[i], 0, &first, &count))
            return -ENOMEM;
        n += count;
    }
    struct nmr_frame *fr = nmr__arena_alloc_raw(p->arena, (n ? n : 1) * sizeof(*fr));
    if (!fr)
        return -ENOMEM;
    size_t k = 0;
    for (uint32_t i = 1; i < s->nraw; i++) {
        /* The cache is unchanged since the loop above: every lookup hits. */
        lookup(p, st, s->raw[i], 0, &first, &count);
        for (uint32_t j = 0; j < count; j++) {
            fr[k] = st->pool[first + j];
            fr[k].raw_index = i;
            fr[k].cls_name = nmr_class_name(fr[k].cls);
            k++;
        }
    }
    k = nmr__java_tidy(fr, k, s->raw, st->snap);
    for (size_t j = 0; j < k && s->site < 0; j++)
        if (is_site_class(fr[j].cls) && !is_jvm_wrapper(&fr[j]))
            s->site = (int)j;
    s->frames = fr;
    s->nframes = (uint32_t)k;
    s->symbolized = 1;
    return 0;
}
