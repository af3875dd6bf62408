/*
 * nmr_resident.c: what holds the resident set of a snapshot.
 *
 * Each SMAPS entry (a mapping, or the piece of one with a single owner) is
 * put in one category, so the categories add up to the SMAPS total exactly
 * and none can be negative:
 *  - the recorder's own memory, [heap] (glibc's main arena), [stack];
 *  - file mappings: ELF objects (they have a build-id) and kernel pages
 *    are code and data of libraries, the rest other files (the JDK's
 *    lib/modules, data files);
 *  - anonymous memory the mmap model attributes to a stack: a preloaded
 *    allocator's own mmaps are that allocator's malloc heap (never mmap
 *    "by jni code" as well); the JVM's by what its reserving stack, else
 *    its committing stack, was doing (heap, GC structures, Metaspace, code
 *    cache, thread stacks, other); anything else is mmap by owner, the
 *    allocation site of the stack;
 *  - anonymous memory no recorded call made: glibc arenas (their heaps
 *    start at a 64 MiB boundary), thread stacks (right above a small
 *    PROT_NONE guard), and, up to what glibc says its mmapped chunks hold
 *    (mallinfo hblkhd), glibc's large malloc chunks; the rest is untracked.
 */
#include <stdlib.h>
#include <string.h>

#include "nmt_format.h"
#include "nmr_internal.h"
#include "nmr_owner.h"
#include "nmr_resident.h"
#include "nmr_view.h"
#include "nmr_sat.h"
#include "nmr_series.h"

#define ARENA_ALIGN (64ull << 20) /* glibc's HEAP_MAX_SIZE on 64-bit hosts */
#define GUARD_MAX   (1ull << 20)  /* larger PROT_NONE neighbours are reservations */

static const struct {
    const char *key, *name;
} cats[NMR_RES_NCATS] = {
    {"malloc_glibc", "malloc: glibc (heap, arenas, big chunks)"},
    {"malloc_other", "malloc: preloaded allocator"},
    {"java_heap", "JVM: Java heap"},
    {"gc", "JVM: GC structures (bitmaps, card tables)"},
    {"metaspace", "JVM: Metaspace and class space"},
    {"code_cache", "JVM: code cache"},
    {"thread_stacks", "thread stacks"},
    {"jvm_other", "JVM: other mmaps (CDS, perf data...)"},
    {"mmap_by_owner", "mmap by owner"},
    {"file_libraries", "files: code and data of libraries"},
    {"file_other", "files: other mapped files"},
    {"nmtrace", "nmtrace itself"},
    {"untracked", "untracked anonymous memory"},
};

const char *nmr_res_cat_name(enum nmr_res_cat c)
{
    return c < NMR_RES_NCATS ? cats[c].name : "?";
}

const char *nmr_res_cat_key(enum nmr_res_cat c)
{
    return c < NMR_RES_NCATS ? cats[c].key : "?";
}

/* What the JVM was doing, by the functions of one stack: the frame nearest
 * the allocation that names a subsystem decides. */
static const struct {
    const char *word;
    enum nmr_res_cat cat;
} jvm_words[] = {
    {"G1CMMarkStack", NMR_RES_GC},
    {"CardTable", NMR_RES_GC},
    {"FromCardCache", NMR_RES_GC},
    {"create_aux_memory_mapper", NMR_RES_GC},
    {"MarkBitMap", NMR_RES_GC},
    {"BlockOffset", NMR_RES_GC},
    {"ParMarkBitMap", NMR_RES_GC},
    {"G1ConcurrentMark", NMR_RES_GC},
    {"reserve_heap", NMR_RES_JAVA_HEAP},
    {"ReservedHeapSpace", NMR_RES_JAVA_HEAP},
    {"HeapRegionManager", NMR_RES_JAVA_HEAP},
    {"PSVirtualSpace", NMR_RES_JAVA_HEAP},
    {"Generation", NMR_RES_JAVA_HEAP},
    {"metaspace::", NMR_RES_METASPACE},
    {"Metaspace", NMR_RES_METASPACE},
    {"ClassLoaderData", NMR_RES_METASPACE},
    {"CodeHeap", NMR_RES_CODE_CACHE},
    {"CodeCache", NMR_RES_CODE_CACHE},
    {"create_stack_guard", NMR_RES_THREAD_STACKS},
    {"StackOverflow", NMR_RES_THREAD_STACKS},
};

static int jvm_category(const struct nmr_stack *st, enum nmr_res_cat *cat)
{
    for (uint32_t i = 0; i < st->nframes; i++)
        for (size_t k = 0; k < sizeof(jvm_words) / sizeof(jvm_words[0]); k++)
            if (strstr(st->frames[i].function, jvm_words[k].word)) {
                *cat = jvm_words[k].cat;
                return 1;
            }
    return 0;
}

static struct nmr_stack *symbolized(struct nmr_profile *p, uint32_t id, int *oom)
{
    struct nmr_stack *st = id ? nmr_stack_get(p, id) : NULL;
    if (st && nmr__symbolize(p, st) != 0) {
        *oom = 1;
        return NULL;
    }
    return st;
}

/* The category of memory the model attributes to (rstack, cstack); *owner
 * names the site for NMR_RES_MMAP_OWNER, *alloc the allocator's library. */
static enum nmr_res_cat owned(struct nmr_profile *p, uint32_t rstack, uint32_t cstack,
                              const struct nmr_stack **owner, const char **alloc, int *oom)
{
    struct nmr_stack *rs = symbolized(p, rstack, oom), *cs = symbolized(p, cstack, oom);
    const struct nmr_stack *by[2] = {rs, cs};
    for (int k = 0; k < 2; k++)
        for (uint32_t i = 0; by[k] && i < by[k]->nframes; i++)
            if (by[k]->frames[i].cls == NMR_CLS_ALLOCATOR) {
                *alloc = by[k]->frames[i].lib;
                return NMR_RES_MALLOC_OTHER;
            }
    enum nmr_res_cat cat;
    if ((rs && jvm_category(rs, &cat)) || (cs && jvm_category(cs, &cat)))
        return cat;
    *owner = cs ? cs : rs;
    const struct nmr_frame *site = *owner ? nmr_stack_site(*owner) : NULL;
    if (site && site->cls == NMR_CLS_JVM)
        return NMR_RES_JVM_OTHER;
    return NMR_RES_MMAP_OWNER;
}

/* Anonymous memory no recorded call made: a glibc arena, a thread stack,
 * or untracked (glibc's mmapped chunks are settled afterwards). */
static enum nmr_res_cat unowned(const struct nmr_snapshot *s, const struct nmr_smaps *e)
{
    if (e->start % ARENA_ALIGN == 0)
        return NMR_RES_MALLOC_GLIBC;
    const struct nmr_map *below = e->start ? nmr_map_at(s, e->start - 1) : NULL;
    if (below && below->end == e->start && below->prot == 0 && below->path[0] == '\0' &&
        below->end - below->start <= GUARD_MAX && (e->prot & NMT_MAP_W))
        return NMR_RES_THREAD_STACKS;
    return NMR_RES_UNTRACKED;
}

/* Adds bytes to the named entry of a top list (names are compared by
 * pointer first: owners come from the same stacks and files from the same
 * maps again and again). */
struct tally {
    struct nmr_res_owner *e;
    size_t n, cap;
};

static int tally_add(struct tally *t, const char *name, int64_t bytes)
{
    for (size_t i = 0; i < t->n; i++)
        if (t->e[i].name == name || strcmp(t->e[i].name, name) == 0) {
            t->e[i].bytes = nmr_sat_add(t->e[i].bytes, bytes);
            return 0;
        }
    if (nmr__grow(&t->e, &t->cap, t->n + 1, sizeof(*t->e)))
        return -1;
    t->e[t->n].name = name;
    t->e[t->n++].bytes = bytes;
    return 0;
}

static int by_bytes(const void *a, const void *b)
{
    const struct nmr_res_owner *x = a, *y = b;
    return x->bytes > y->bytes ? -1 : x->bytes < y->bytes;
}

/* The largest entries of t into out[NMR_RES_OWNERS]; frees t. */
static size_t tally_top(struct tally *t, struct nmr_res_owner *out)
{
    if (t->n > 1)
        qsort(t->e, t->n, sizeof(*t->e), by_bytes);
    size_t n = t->n < NMR_RES_OWNERS ? t->n : NMR_RES_OWNERS;
    if (n)
        memcpy(out, t->e, n * sizeof(*out));
    free(t->e);
    return n;
}

/* The name of a stack's mmaps, in the profile's arena: for the owner key
 * "function [lib]" of the frame that owns its memory (nmr_owner.h: the
 * application's Java method or JNI function before the allocation site),
 * for site and path the label --growth gives the same stack. */
static const char *site_name(struct nmr_profile *p, const struct nmr_owner_rules *rules,
                             enum nmr_keyby key, const struct nmr_stack *st)
{
    struct nmr_series_key k = {
        st ? nmr_stack_site(st) : NULL, st ? st->api : "", st, {0}, NULL, 0, 0};
    if (st)
        nmr_owner_of(rules, st, &k.owner);
    char buf[4096];
    int n;
    if (st && key != NMR_KEYBY_OWNER && key != NMR_KEYBY_AUTO) {
        nmr__series_key_text(buf, sizeof(buf), key, &k);
        n = (int)strlen(buf);
    } else {
        const struct nmr_frame *f = st == NULL           ? NULL
                                    : k.owner.frame >= 0 ? &st->frames[k.owner.frame]
                                                         : k.site;
        if (f == NULL)
            return "(unknown site)";
        n = snprintf(buf, sizeof(buf), "%s [%s]", f->function, f->lib && f->lib[0] ? f->lib : "?");
    }
    const char *s = nmr__arena_strndup(p->arena, buf, n < 0 ? 0 : (size_t)n);
    return s ? s : "(unknown site)";
}

struct split {
    struct nmr_profile *p;
    const struct nmr_snapshot *s;
    struct nmr_resident *r;
    struct tally owners, files;
    struct nmr_owner_rules rules;
    enum nmr_keyby key;
    int oom;
};

static enum nmr_res_cat classify(struct split *c, const struct nmr_smaps *e)
{
    if (e->flags & NMT_SMAPS_OWN)
        return NMR_RES_NMTRACE;
    if (e->kind == NMT_SMAPS_BRK)
        return NMR_RES_MALLOC_GLIBC;
    if (e->kind == NMT_SMAPS_STACK)
        return NMR_RES_THREAD_STACKS;
    if (e->kind == NMT_SMAPS_SPECIAL)
        return NMR_RES_FILE_LIBS;
    if (e->kind == NMT_SMAPS_FILE) {
        const struct nmr_map *m = nmr_map_at(c->s, e->start);
        if (m && m->build_id_len > 0)
            return NMR_RES_FILE_LIBS;
        if (tally_add(&c->files, m && m->path[0] ? m->path : "(unknown file)", (int64_t)e->rss))
            c->oom = 1;
        return NMR_RES_FILE_OTHER;
    }
    if (e->rstack == 0 && e->cstack == 0)
        return unowned(c->s, e);
    const struct nmr_stack *owner = NULL;
    const char *alloc = NULL;
    enum nmr_res_cat cat = owned(c->p, e->rstack, e->cstack, &owner, &alloc, &c->oom);
    if (alloc)
        c->r->other_allocator = alloc;
    if (cat == NMR_RES_MMAP_OWNER &&
        tally_add(&c->owners, site_name(c->p, &c->rules, c->key, owner), (int64_t)e->rss))
        c->oom = 1;
    return cat;
}

int nmr_resident_of(struct nmr_profile *p, const struct nmr_snapshot *s, enum nmr_keyby key,
                    const char *app, struct nmr_resident *r)
{
    memset(r, 0, sizeof(*r));
    if (!s->has_smaps)
        return 0;
    struct split c = {.p = p, .s = s, .r = r, .key = key};
    nmr_owner_rules_init(&c.rules, p, app);
    for (size_t i = 0; i < s->nsmaps; i++) {
        const struct nmr_smaps *e = &s->smaps[i];
        enum nmr_res_cat cat = classify(&c, e);
        r->cat[cat] = nmr_sat_add(r->cat[cat], (int64_t)e->rss);
        r->total = nmr_sat_add(r->total, (int64_t)e->rss);
        r->swap = nmr_sat_add(r->swap, (int64_t)e->swap);
    }
    /* glibc's large chunks are its own anonymous mmaps: as much of the
     * untracked memory as glibc says those chunks hold is malloc. */
    int64_t hblkhd = 0;
    if (nmr_counter_get(s, "mallinfo.hblkhd", &hblkhd) && hblkhd > 0) {
        int64_t moved = hblkhd < r->cat[NMR_RES_UNTRACKED] ? hblkhd : r->cat[NMR_RES_UNTRACKED];
        r->cat[NMR_RES_UNTRACKED] -= moved;
        r->cat[NMR_RES_MALLOC_GLIBC] += moved;
        r->malloc_estimated = moved;
    }
    r->nowners = tally_top(&c.owners, r->owners);
    r->nfiles = tally_top(&c.files, r->files);
    return c.oom ? nmr__oom() : 1;
}

struct nmr_rise
nmr_rise_of(struct nmr_profile *p, size_t upto,
            int64_t (*fig)(struct nmr_profile *, const struct nmr_snapshot *, void *), void *ctx)
{
    struct nmr_rise g = {0};
    size_t n = upto + 1, want = n / 2 > 3 ? n / 2 : 3;
    size_t first = n > want ? n - want : 0, ups = 0, steps = 0;
    int64_t prev = -1;
    double t0 = 0, t1 = 0;
    for (size_t i = first; i < n && i < p->nsnaps; i++) {
        int64_t v = fig(p, &p->snaps[i], ctx);
        if (v < 0)
            continue;
        if (prev < 0) {
            g.from = v;
            t0 = nmr_snap_time_s(p, &p->snaps[i]);
        } else {
            steps++;
            ups += v > prev;
        }
        prev = v;
        g.to = v;
        t1 = nmr_snap_time_s(p, &p->snaps[i]);
        g.nsnaps++;
    }
    g.seconds = t1 - t0;
    int64_t rise = g.to - g.from;
    /* More than 1 % of the last figure: rise * 100 > to, without the product
     * (to >= 0, so the same for every rise; a profile can hold any value). */
    g.growing = g.nsnaps >= 3 && 3 * ups >= 2 * steps && rise > (1 << 20) && rise > g.to / 100;
    return g;
}
