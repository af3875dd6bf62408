/*
 * nms_ctx.c: the symbolizer context and nms_resolve().
 *
 * Owns the options, the profile's mapping set (sorted, binary searched), the table of
 * objects (one nms__file per path + build-id, loaded on first use and kept until
 * nms_close), the perf-map entries, the per-address result cache, the warning counters
 * and messages. Returned strings and frames live in the arena (nms_arena.c).
 */
#include "nms_internal.h"

#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nmc_hash.h"

#define MAX_MSGS 1000 /* distinct messages kept; later ones are only counted */

struct map_entry {
    uint64_t start, end, offset;
    uint32_t prot;
    const char *path, *lib;
    struct nms__file *file; /* NULL for anonymous and [special] mappings */
    enum nms_class cls;
    uint64_t base_start; /* start of the object's mapping with the lowest offset */
};

struct cache_entry {
    uint64_t addr;
    uint32_t is_ret; /* 2: slot in use */
    int n;
    int warn; /* warning kind counted at each lookup, -1 none */
    const struct nms_frame *frames;
};

struct nms_ctx {
    struct nms_options opt;
    struct nms__arena arena;
    const char **roots;
    size_t nroots;
    struct map_entry *maps;
    size_t nmaps;
    const char **homes;
    size_t nhomes;
    bool exe_mapped;          /* opt.exe names a mapping of the current set */
    struct nms__file **files; /* hash of path + build-id */
    size_t nfiles, files_cap;
    struct nms__jit *jit;
    size_t njit, jit_cap;
    struct cache_entry *cache;
    size_t ncache, cache_cap;
    uint64_t counts[NMS_W__COUNT];
    const char **msgs;
    size_t nmsgs, msgs_cap;
    struct nms__symdir *symdir;
};

struct nms__arena *nms__ctx_arena(struct nms_ctx *c)
{
    return &c->arena;
}

const struct nms_options *nms__ctx_opt(struct nms_ctx *c)
{
    return &c->opt;
}

struct nms__symdir **nms__ctx_symdir(struct nms_ctx *c)
{
    return &c->symdir;
}

const char *const *nms__ctx_debug_roots(struct nms_ctx *c, size_t *n)
{
    *n = c->nroots;
    return c->roots;
}

void nms__count(struct nms_ctx *c, enum nms_warning kind, uint64_t n)
{
    if ((unsigned)kind < NMS_W__COUNT)
        c->counts[kind] += n;
}

void nms__warn(struct nms_ctx *c, enum nms_warning kind, const char *fmt, ...)
{
    char buf[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof(buf), fmt, ap);
    va_end(ap);
    for (size_t i = 0; i < c->nmsgs; i++)
        if (strcmp(c->msgs[i], buf) == 0)
            return;
    if (c->nmsgs >= MAX_MSGS)
        return;
    if (c->nmsgs == c->msgs_cap) {
        size_t cap = c->msgs_cap ? c->msgs_cap * 2 : 16;
        const char **m = realloc(c->msgs, cap * sizeof(*m));
        if (!m)
            return;
        c->msgs = m;
        c->msgs_cap = cap;
    }
    const char *s = nms__arena_strdup(&c->arena, buf);
    if (!s)
        return;
    c->msgs[c->nmsgs++] = s;
    if (c->opt.on_warning)
        c->opt.on_warning(c->opt.warning_arg, kind, s);
}

uint64_t nms_warning_count(const struct nms_ctx *c, enum nms_warning kind)
{
    return (unsigned)kind < NMS_W__COUNT ? c->counts[kind] : 0;
}

const char *nms_warning_name(enum nms_warning kind)
{
    static const char *const names[NMS_W__COUNT] = {
        [NMS_W_NO_FILE] = "missing file",       [NMS_W_BAD_ELF] = "unreadable ELF",
        [NMS_W_BUILD_ID] = "build-id mismatch", [NMS_W_BAD_DEBUG] = "bad debug file",
        [NMS_W_PERF_MAP] = "bad perf-map line", [NMS_W_NO_MAPPING] = "address not mapped",
    };
    return (unsigned)kind < NMS_W__COUNT ? names[kind] : "?";
}

size_t nms_warning_messages(const struct nms_ctx *c, const char *const **msgs)
{
    *msgs = c->msgs;
    return c->nmsgs;
}

static const char *dup_opt(struct nms_ctx *c, const char *s)
{
    return s ? nms__arena_strdup(&c->arena, s) : NULL;
}

static int add_root(struct nms_ctx *c, const char *dir, size_t len, size_t *cap)
{
    if (len == 0)
        return 0;
    if (c->nroots == *cap) {
        *cap = *cap ? *cap * 2 : 8;
        const char **r = realloc(c->roots, *cap * sizeof(*r));
        if (!r)
            return -ENOMEM;
        c->roots = r;
    }
    char *s = nms__arena_alloc(&c->arena, len + 1);
    if (!s)
        return -ENOMEM;
    memcpy(s, dir, len);
    s[len] = 0;
    while (len > 1 && s[len - 1] == '/')
        s[--len] = 0;
    c->roots[c->nroots++] = s;
    return 0;
}

static int open_roots(struct nms_ctx *c, const struct nms_options *o)
{
    size_t cap = 0;
    int rc = 0;
    for (size_t i = 0; rc == 0 && o && i < o->n_debug_dirs; i++)
        if (o->debug_dirs[i])
            rc = add_root(c, o->debug_dirs[i], strlen(o->debug_dirs[i]), &cap);
    if (o && o->no_system_debug)
        return rc;
    const char *env = getenv("NMTRACE_DEBUG_PATH");
    while (rc == 0 && env && *env) {
        const char *colon = strchr(env, ':');
        size_t len = colon ? (size_t)(colon - env) : strlen(env);
        rc = add_root(c, env, len, &cap);
        env = colon ? colon + 1 : NULL;
    }
    return rc ? rc : add_root(c, "/usr/lib/debug", strlen("/usr/lib/debug"), &cap);
}

struct nms_ctx *nms_open(const struct nms_options *opt)
{
    elf_version(EV_CURRENT);
    struct nms_ctx *c = calloc(1, sizeof(*c));
    if (!c)
        return NULL;
    if (opt)
        c->opt = *opt;
    c->opt.debug_dirs = NULL;
    c->opt.n_debug_dirs = 0;
    c->opt.symbols_from = dup_opt(c, c->opt.symbols_from);
    c->opt.perf_map = dup_opt(c, c->opt.perf_map);
    c->opt.exe = dup_opt(c, c->opt.exe);
    if (open_roots(c, opt) != 0)
        goto fail;
    if (c->opt.perf_map &&
        nms__perfmap_load(c, c->opt.perf_map, false, &c->jit, &c->njit, &c->jit_cap) == -ENOMEM)
        goto fail;
    if (c->opt.pid > 0 && !c->opt.no_default_perf_map) {
        char p[64];
        snprintf(p, sizeof(p), "/tmp/perf-%d.map", c->opt.pid);
        if (nms__perfmap_load(c, p, true, &c->jit, &c->njit, &c->jit_cap) == -ENOMEM)
            goto fail;
    }
    nms__perfmap_sort(c->jit, c->njit);
    return c;
fail:
    nms_close(c);
    errno = ENOMEM;
    return NULL;
}

void nms_close(struct nms_ctx *c)
{
    if (!c)
        return;
    for (size_t i = 0; i < c->files_cap; i++) {
        for (struct nms__file *f = c->files[i], *n; f; f = n) {
            n = f->next;
            nms__file_free(f);
            free(f);
        }
    }
    nms__symdir_free(c);
    free(c->files);
    free(c->roots);
    free(c->maps);
    free(c->homes);
    free(c->jit);
    free(c->cache);
    free(c->msgs);
    nms__arena_free(&c->arena);
    free(c);
}

static int files_grow(struct nms_ctx *c)
{
    size_t cap = c->files_cap ? c->files_cap * 2 : 64;
    struct nms__file **t = calloc(cap, sizeof(*t));
    if (!t)
        return -ENOMEM;
    for (size_t i = 0; i < c->files_cap; i++) {
        for (struct nms__file *f = c->files[i], *n; f; f = n) {
            n = f->next;
            uint64_t h = nmc_fnv1a(NMC_FNV_OFFSET, f->key_path, strlen(f->key_path));
            h = nmc_fnv1a(h, f->key_bid, f->key_bid_len) & (cap - 1);
            f->next = t[h];
            t[h] = f;
        }
    }
    free(c->files);
    c->files = t;
    c->files_cap = cap;
    return 0;
}

static struct nms__file *file_get(struct nms_ctx *c, const char *path, const uint8_t *bid,
                                  uint32_t bid_len)
{
    if (bid_len > NMS_BID_MAX)
        bid_len = 0; /* not a GNU build-id we could compare */
    if (c->nfiles >= c->files_cap / 2 && files_grow(c) != 0)
        return NULL;
    uint64_t h = nmc_fnv1a(NMC_FNV_OFFSET, path, strlen(path));
    h = nmc_fnv1a(h, bid, bid_len) & (c->files_cap - 1);
    for (struct nms__file *f = c->files[h]; f; f = f->next)
        if (f->key_bid_len == bid_len && memcmp(f->key_bid, bid, bid_len) == 0 &&
            strcmp(f->key_path, path) == 0)
            return f;
    struct nms__file *f = calloc(1, sizeof(*f));
    if (!f || !(f->key_path = nms__arena_strdup(&c->arena, path))) {
        free(f);
        return NULL;
    }
    memcpy(f->key_bid, bid, bid_len);
    f->key_bid_len = bid_len;
    f->bin.fd = f->dbg.fd = -1;
    f->next = c->files[h];
    c->files[h] = f;
    c->nfiles++;
    return f;
}

static int cmp_map(const void *a, const void *b)
{
    const struct map_entry *x = a, *y = b;
    return (x->start > y->start) - (x->start < y->start);
}

static bool is_file_path(const char *p)
{
    return p && p[0] && p[0] != '[';
}

static int cmp_by_path(const void *a, const void *b, void *base)
{
    const struct nms_mapping *x = (const struct nms_mapping *)base + *(const size_t *)a;
    const struct nms_mapping *y = (const struct nms_mapping *)base + *(const size_t *)b;
    return strcmp(x->path ? x->path : "", y->path ? y->path : "");
}

/* bid_of[i]: the mapping whose build-id stands for mapping i. A recorder may know the
 * build-id only for some segments of an object; all its segments must share one file.
 * base_of[i]: the object's mapping with the lowest file offset (its first segment). */
static int group_by_path(const struct nms_mapping *m, size_t n, size_t *bid_of, size_t *base_of)
{
    size_t *idx = malloc((n ? n : 1) * sizeof(*idx));
    if (!idx)
        return -ENOMEM;
    for (size_t i = 0; i < n; i++)
        idx[i] = bid_of[i] = i;
    qsort_r(idx, n, sizeof(*idx), cmp_by_path, (void *)m);
    for (size_t i = 0, j; i < n; i = j) {
        size_t with = SIZE_MAX, base = idx[i];
        for (j = i; j < n && cmp_by_path(&idx[i], &idx[j], (void *)m) == 0; j++) {
            const struct nms_mapping *x = &m[idx[j]], *b = &m[base];
            if (with == SIZE_MAX && x->build_id && x->build_id_len)
                with = idx[j];
            if (x->offset < b->offset || (x->offset == b->offset && x->start < b->start))
                base = idx[j];
        }
        for (size_t k = i; k < j; k++) {
            base_of[idx[k]] = base;
            if (with != SIZE_MAX && (!m[idx[k]].build_id || !m[idx[k]].build_id_len))
                bid_of[idx[k]] = with;
        }
    }
    free(idx);
    return 0;
}

int nms_set_mappings(struct nms_ctx *c, const struct nms_mapping *m, size_t n)
{
    struct map_entry *maps = calloc(n ? n : 1, sizeof(*maps));
    const char **homes = calloc(n ? n : 1, sizeof(*homes));
    size_t *bid_of = calloc(2 * (n ? n : 1), sizeof(*bid_of)), *base_of = bid_of + (n ? n : 1);
    if (!maps || !homes || !bid_of || group_by_path(m, n, bid_of, base_of) != 0)
        goto nomem;
    size_t nhomes = 0;
    for (size_t i = 0; i < n; i++) {
        struct map_entry *e = &maps[i];
        const char *path = m[i].path ? m[i].path : "";
        const struct nms_mapping *bm = &m[bid_of[i]];
        e->start = m[i].start;
        e->end = m[i].end;
        e->offset = m[i].offset;
        e->prot = m[i].prot;
        e->base_start = m[base_of[i]].start;
        if (is_file_path(path)) {
            e->file = file_get(c, path, bm->build_id ? bm->build_id : (const uint8_t *)"",
                               bm->build_id ? bm->build_id_len : 0);
            if (!e->file)
                goto nomem;
            e->path = e->file->key_path;
            const char *home = nms__jdk_home(&c->arena, path);
            if (home)
                homes[nhomes++] = home;
        } else if (!(e->path = nms__arena_strdup(&c->arena, path))) {
            goto nomem;
        }
        const char *b = strrchr(e->path, '/');
        e->lib = b ? b + 1 : e->path;
    }
    bool exe_mapped = false;
    for (size_t i = 0; i < n; i++) {
        struct map_entry *e = &maps[i];
        e->cls = nms__class_of_path(e->path, homes, nhomes);
        if (c->opt.exe && e->file && strcmp(e->path, c->opt.exe) == 0 &&
            !nms_class_is_plumbing(e->cls) && e->cls != NMS_JVM) {
            e->cls = NMS_EXE;
            exe_mapped = true;
        }
    }
    c->exe_mapped = exe_mapped;
    qsort(maps, n, sizeof(*maps), cmp_map);
    free(bid_of);
    free(c->maps);
    free(c->homes);
    c->maps = maps;
    c->nmaps = n;
    c->homes = homes;
    c->nhomes = nhomes;
    if (c->cache)
        memset(c->cache, 0, c->cache_cap * sizeof(*c->cache));
    c->ncache = 0;
    return 0;
nomem:
    free(maps);
    free(homes);
    free(bid_of);
    return -ENOMEM;
}

static const struct map_entry *find_map(const struct nms_ctx *c, uint64_t a)
{
    size_t lo = 0, hi = c->nmaps;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (c->maps[mid].start <= a)
            lo = mid + 1;
        else
            hi = mid;
    }
    if (lo == 0 || a >= c->maps[lo - 1].end)
        return NULL;
    return &c->maps[lo - 1];
}

static size_t cache_slot(const struct nms_ctx *c, uint64_t addr, int is_ret)
{
    uint64_t h = (addr ^ (uint64_t)is_ret << 63) * 0x9e3779b97f4a7c15ull;
    return (size_t)(h >> 17) & (c->cache_cap - 1);
}

static int cache_grow(struct nms_ctx *c)
{
    size_t old = c->cache_cap, cap = old ? old * 2 : 4096;
    struct cache_entry *o = c->cache, *t = calloc(cap, sizeof(*t));
    if (!t)
        return -ENOMEM;
    c->cache = t;
    c->cache_cap = cap;
    for (size_t i = 0; i < old; i++) {
        if (!o[i].is_ret)
            continue;
        size_t s = cache_slot(c, o[i].addr, (int)(o[i].is_ret & 1));
        while (t[s].is_ret)
            s = (s + 1) & (cap - 1);
        t[s] = o[i];
    }
    free(o);
    return 0;
}

/* Fills fr[] for an address with no ELF behind it: a perf-map entry or an unknown. */
static int resolve_jit(struct nms_ctx *c, uint64_t a, const struct map_entry *m,
                       struct nms_frame *fr, int *warn)
{
    const struct nms__jit *j = nms__perfmap_find(c->jit, c->njit, a);
    fr->lib = m ? m->lib : "??";
    fr->lib_path = m ? m->path : "";
    if (j) {
        fr->function = j->name;
        fr->cls = nms__perfmap_is_java(j->name) ? NMS_JAVA : NMS_JIT;
    } else if (!m) {
        fr->cls = NMS_UNKNOWN;
        *warn = NMS_W_NO_MAPPING;
        nms__warn(c, NMS_W_NO_MAPPING, "addresses outside every mapping of the profile");
    } else {
        /* Anonymous executable memory is generated code: a JIT, an interpreter. */
        fr->cls = (!m->path[0] && (m->prot & NMS_PROT_X)) ? NMS_JIT : NMS_UNKNOWN;
    }
    return 1;
}

static int resolve_elf(struct nms_ctx *c, uint64_t a, const struct map_entry *m,
                       struct nms_frame *fr, int *warn)
{
    struct nms__file *f = m->file;
    if (!f->loaded && nms__file_load(c, f) == -ENOMEM)
        return -ENOMEM;
    enum nms_class cls = m->cls;
    /* Without the profile's exe path, the ELF itself says whether it is the program. */
    if (!c->exe_mapped && f->is_exe && (cls == NMS_JNI || cls == NMS_JDK))
        cls = NMS_EXE;
    for (int i = 0; i < NMS_MAX_INLINE; i++) {
        fr[i].lib = m->lib;
        fr[i].lib_path = m->path;
        fr[i].cls = cls;
        fr[i].function = "??";
    }
    uint64_t v;
    if (!f->usable) {
        *warn = (int)f->why;
        return 1;
    }
    if (f->bin.elf) {
        if (!nms__file_vaddr(f, a - m->start + m->offset, &v))
            return 1;
    } else {
        /* Only a debug file: objcopy rewrote its segment offsets, but not their
         * addresses. The object's first mapping holds its first PT_LOAD, and one load
         * bias applies to all segments. */
        v = a - m->base_start + (f->loads[0].vaddr & ~(f->loads[0].align - 1));
    }
    struct nms__dwframe dw[NMS_MAX_INLINE];
    int n = nms__dwarf_lookup(f, v, dw, NMS_MAX_INLINE);
    const struct nms__sym *s = nms__file_sym(f, v);
    const char *symname = NULL;
    if (s) {
        struct nms__sym *ms = (struct nms__sym *)s;
        if (!ms->demangled)
            ms->demangled = nms__demangle(&c->arena, ms->name);
        symname = ms->demangled;
    }
    if (n == 0) {
        fr[0].elf_addr = v;
        fr[0].function = symname ? symname : "??";
        if (!symname && f->dbg_bad)
            *warn = NMS_W_BAD_DEBUG;
        return 1;
    }
    for (int i = 0; i < n; i++) {
        fr[i].elf_addr = v;
        fr[i].file = dw[i].file;
        fr[i].line = dw[i].line;
        fr[i].inlined = i < n - 1;
        const char *name = dw[i].name ? nms__demangle(&c->arena, dw[i].name) : NULL;
        if (i == n - 1 && !name)
            name = symname; /* DWARF without a name for the function: the ELF's */
        fr[i].function = name ? name : "??";
    }
    return n;
}

int nms_resolve(struct nms_ctx *c, uint64_t addr, int is_return_addr, const struct nms_frame **out)
{
    int is_ret = is_return_addr ? 1 : 0;
    if (c->ncache >= c->cache_cap / 2 && cache_grow(c) != 0)
        return -ENOMEM;
    size_t s = cache_slot(c, addr, is_ret);
    while (c->cache[s].is_ret) {
        struct cache_entry *e = &c->cache[s];
        if (e->addr == addr && (int)(e->is_ret & 1) == is_ret) {
            if (e->warn >= 0)
                c->counts[e->warn]++;
            *out = e->frames;
            return e->n;
        }
        s = (s + 1) & (c->cache_cap - 1);
    }
    uint64_t a = is_ret && addr ? addr - 1 : addr;
    struct nms_frame tmp[NMS_MAX_INLINE];
    memset(tmp, 0, sizeof(tmp));
    for (int i = 0; i < NMS_MAX_INLINE; i++)
        tmp[i].function = "??";
    int warn = -1;
    const struct map_entry *m = find_map(c, a);
    int n = (m && m->file) ? resolve_elf(c, a, m, tmp, &warn) : resolve_jit(c, a, m, tmp, &warn);
    if (n < 0)
        return n;
    struct nms_frame *fr = nms__arena_alloc(&c->arena, (size_t)n * sizeof(*fr));
    if (!fr)
        return -ENOMEM;
    for (int i = 0; i < n; i++) {
        fr[i] = tmp[i];
        fr[i].addr = addr;
    }
    c->cache[s] = (struct cache_entry){addr, 2u | (uint32_t)is_ret, n, warn, fr};
    c->ncache++;
    if (warn >= 0)
        c->counts[warn]++;
    *out = fr;
    return n;
}

long nms_allocation_site(struct nms_ctx *c, const uint64_t *addrs, size_t n,
                         const struct nms_frame **site)
{
    *site = NULL;
    for (size_t i = 0; i < n; i++) {
        if (addrs[i] >> 63)
            return (long)i;
        const struct nms_frame *fr;
        int k = nms_resolve(c, addrs[i], i > 0, &fr);
        if (k < 0)
            return k;
        for (int j = 0; j < k; j++) {
            if (!nms_class_is_plumbing(fr[j].cls) &&
                !nms_function_is_wrapper(fr[j].function, fr[j].cls)) {
                *site = &fr[j];
                return (long)i;
            }
        }
    }
    return -1;
}
