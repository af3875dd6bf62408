/*
 * nmr_diag.c: the findings of --diagnose for one profile. Each series of
 * --key (path by default: allocation site + owner) with enough bytes is a
 * candidate; its trend is judged per snapshot step; a rule of
 * nmr_diag_rules.c names its cause; candidates with the same cause, owner,
 * verdict and kind of memory are one finding; then the whole-process
 * findings are added (nmr_diag_profile.c) and everything is ranked:
 * leak-suspects first, then the application's code before the JVM's, then
 * by verdict and bytes.
 */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "nmr_diag.h"
#include "nmr_internal.h"

#define MiB (1024 * 1024)
/* Below this a series is no finding; growth below LEAK_MIN is never a leak
 * (a one-off allocation of a few hundred KiB); the JVM's own structures
 * (GC, JIT arenas, tables) grow while it warms up, so they need more. */
#define FINDING_MIN  (1 * (int64_t)MiB)
#define LEAK_MIN     (2 * (int64_t)MiB)
#define JVM_LEAK_MIN (32 * (int64_t)MiB)
#define MAX_FINDINGS 64

struct nmr_finding *nmr__finding_new(struct nmr_findings *fs)
{
    if (nmr__grow(&fs->f, &fs->cap, fs->n + 1, sizeof(*fs->f)))
        return NULL;
    struct nmr_finding *f = &fs->f[fs->n++];
    memset(f, 0, sizeof(*f));
    f->nsnaps = fs->nsnaps;
    return f;
}

void nmr__findings_free(struct nmr_findings *fs)
{
    free(fs->f);
    memset(fs, 0, sizeof(*fs));
}

static int is_map_api(const char *api)
{
    return strncmp(api, "mmap", 4) == 0 || strncmp(api, "mremap", 6) == 0;
}

/* An allocator's own mapping (jemalloc's extents): the malloc bytes inside
 * it are counted already, under the same owner. */
static int allocator_map(const struct nmr_series_key *k)
{
    const struct nmr_stack *s = k->stack;
    if (!is_map_api(s->api))
        return 0;
    for (uint32_t i = 0; i < s->nframes && (int)i < k->owner.frame; i++)
        if (s->frames[i].cls == NMR_CLS_ALLOCATOR)
            return 1;
    return 0;
}

/* Memory the program does not hold itself: the Java heap (its own view,
 * and warm-up's), read-only file mappings such as lib/modules, and an
 * allocator's own mmaps. */
static int not_a_candidate(const struct nmr_series_key *k)
{
    if (k->owner.area == NMR_AREA_JAVA_HEAP && k->owner.kind == NMR_OWNER_JVM)
        return 1;
    if (k->site && (strcmp(k->site->lib, "libjimage.so") == 0 ||
                    strncmp(k->site->function, "osSupport::map_memory", 21) == 0))
        return 1;
    return allocator_map(k);
}

/* The verdict of --diagnose: the trend's, unless the growth is too small to
 * stand on, or the snapshots too few to judge. */
static const char *judge(const struct nmr_diag_input *in, size_t nsnaps)
{
    const char *v = in->trend.verdict;
    if (nsnaps < 3)
        return in->growth > 0 && nsnaps == 2 ? "growing" : "unjudged";
    if (strcmp(v, "leak-suspect") == 0) {
        int64_t min = in->key->owner.kind == NMR_OWNER_JVM &&
                              in->key->owner.area != NMR_AREA_CLASSES &&
                              in->key->owner.area != NMR_AREA_UNSAFE
                          ? JVM_LEAK_MIN
                          : LEAK_MIN;
        if (in->growth < min)
            return in->growth * 2 >= min ? "business-growth" : "stable";
    }
    return v;
}

/*
 * The 95% relative sampling error (percent) of a malloc byte estimate made
 * of n live samples. An allocation of size m is sampled with probability
 * q = 1 - exp(-m/rate) and weighted m/q, so n samples of mean size m
 * estimate their bytes with a relative standard deviation of
 * sqrt((1-q)/n): 1/sqrt(n) for small blocks, near 0 for blocks much larger
 * than the rate (they are always sampled).
 */
static double sampling_error(uint64_t rate, int64_t bytes, int64_t n)
{
    if (n <= 0 || bytes <= 0 || rate == 0)
        return 0;
    double m = (double)bytes / (double)n, q = 1 - exp(-m / (double)rate);
    return 196.0 * sqrt((1 - q) / (double)n);
}

static void fill(struct nmr_finding *f, const struct nmr_diag_input *in,
                 const struct nmr_cause_rule *r, const char *verdict)
{
    const struct nmr_series_key *k = in->key;
    f->cause = r->cause;
    f->verdict = verdict;
    nmr_owner_label(f->owner, sizeof(f->owner), k->stack, &k->owner, 1);
    f->owner_kind = nmr_owner_kind_name(k->owner.kind);
    if (k->site)
        snprintf(f->site, sizeof(f->site), "%s%s%s%s", k->site->function,
                 k->site->lib[0] ? " [" : "", k->site->lib, k->site->lib[0] ? "]" : "");
    else
        snprintf(f->site, sizeof(f->site), "%s", k->api);
    f->bytes = in->bytes;
    f->growth = in->growth;
    f->rate = in->trend.slope;
    f->mmap = in->mmap;
    f->memory = !in->mmap                              ? "live malloc"
                : k->owner.area == NMR_AREA_CLASSES    ? "committed mmap: Metaspace"
                : k->owner.area == NMR_AREA_CODE_CACHE ? "committed mmap: code heap"
                                                       : "committed mmap";
    f->exact = in->mmap || in->p->rate <= 1;
    f->error_pct = f->exact ? 0 : sampling_error(in->p->rate, in->bytes, k->live_samples);
    if (r->advise)
        r->advise(in, f);
}

/* Adds a candidate to an equal finding (same cause, owner, verdict, kind of
 * memory) or as a new one. 0 or -ENOMEM. */
static int add(struct nmr_findings *fs, const struct nmr_diag_input *in)
{
    const struct nmr_cause_rule *r = nmr__cause_of(in);
    const char *verdict = judge(in, fs->nsnaps);
    struct nmr_finding tmp;
    memset(&tmp, 0, sizeof(tmp));
    fill(&tmp, in, r, verdict);
    for (size_t i = 0; i < fs->n; i++) {
        struct nmr_finding *f = &fs->f[i];
        if (f->cause == tmp.cause && f->mmap == tmp.mmap && strcmp(f->verdict, verdict) == 0 &&
            strcmp(f->owner, tmp.owner) == 0) {
            f->bytes = nmr_sat_add(f->bytes, tmp.bytes);
            f->growth = nmr_sat_add(f->growth, tmp.growth);
            f->rate += tmp.rate;
            return 0;
        }
    }
    struct nmr_finding *f = nmr__finding_new(fs);
    if (!f)
        return -ENOMEM;
    tmp.nsnaps = fs->nsnaps;
    *f = tmp;
    return 0;
}

/* The application's findings, then the whole process's (warm-up,
 * allocator, the JVM's accounts), then the JVM's own structures. */
static int group_of(const struct nmr_finding *f)
{
    if (f->cause == NMR_CAUSE_WARMUP || f->cause == NMR_CAUSE_ALLOCATOR ||
        f->cause == NMR_CAUSE_ACCOUNTS)
        return 1;
    return strcmp(f->owner_kind, "jvm") == 0 || strcmp(f->owner_kind, "unknown") == 0 ? 2 : 0;
}

/* Leak suspects first (largest growth first), then the application's
 * findings, the whole process's, the JVM's own, each by verdict and bytes. */
static int cmp_finding(const void *a, const void *b)
{
    const struct nmr_finding *x = a, *y = b;
    int lx = strcmp(x->verdict, "leak-suspect") == 0, ly = strcmp(y->verdict, "leak-suspect") == 0;
    if (lx != ly)
        return ly - lx;
    if (lx && x->growth != y->growth)
        return x->growth > y->growth ? -1 : 1;
    if (group_of(x) != group_of(y))
        return group_of(x) - group_of(y);
    int rx = nmr__verdict_rank(x->verdict), ry = nmr__verdict_rank(y->verdict);
    if (rx != ry)
        return rx - ry;
    if (x->bytes != y->bytes)
        return x->bytes > y->bytes ? -1 : 1;
    return strcmp(x->owner, y->owner);
}

static void context(struct nmr_profile *p, struct nmr_findings *out)
{
    out->nsnaps = p->nsnaps;
    out->span_s = nmr_snap_time_s(p, &p->snaps[p->nsnaps - 1]) - nmr_snap_time_s(p, &p->snaps[0]);
    out->rss_first = out->rss_last = out->reasonable_total = -1;
    nmr_counter_get(&p->snaps[0], "proc.rss", &out->rss_first);
    nmr_counter_get(&p->snaps[p->nsnaps - 1], "proc.rss", &out->rss_last);
    const char *rt = nmr_info_get(p, "jvm.reasonable_total");
    if (rt)
        out->reasonable_total = atoll(rt);
    nmr__diag_accounts(&p->snaps[p->nsnaps - 1], &out->jvm);
}

/* The mechanism a stack's frames show (the cause a stable series of it
 * would get), and whether it maps: stacks of one path that differ in it are
 * separate series, so a class loaded by the application and an accessor
 * generated for its reflective calls are judged apart, and so are a
 * library's mallocs and the allocator's mappings that hold them. */
static void mechanism(const struct nmr_series *se, const struct nmr_series_key *k, char *buf,
                      size_t n)
{
    if (allocator_map(k)) {
        snprintf(buf, n, "allocator-map");
        return;
    }
    static const struct nmr_jvm_accounts none;
    struct nmr_diag_input in;
    memset(&in, 0, sizeof(in));
    in.p = se->p;
    in.key = k;
    in.rules = &se->rules;
    in.trend.verdict = "stable";
    in.jvm = &none;
    snprintf(buf, n, "%s%s", nmr__cause_of(&in)->name, is_map_api(k->stack->api) ? "/map" : "");
}

int nmr__diagnose(const struct nmr_view *v, struct nmr_profile *p, struct nmr_findings *out)
{
    memset(out, 0, sizeof(*out));
    context(p, out);
    struct nmr_series se;
    if (nmr__series_build_tagged(v, p, NMR_SERIES_BYTES, mechanism, &se))
        return -ENOMEM;
    out->is_jvm = se.rules.has_jvm;
    int rc = 0;
    for (size_t k = 0; k < se.nkeys && !rc; k++) {
        const struct nmr_series_key *key = &se.keys[k];
        if (!out->oom_seen && nmr__diag_frame(key->stack, "java.lang.OutOfMemoryError") >= 0)
            out->oom_seen = 1;
        struct nmr_diag_input in;
        memset(&in, 0, sizeof(in));
        in.p = p;
        in.key = key;
        in.rules = &se.rules;
        in.mmap = key->mmap;
        in.jvm = &out->jvm;
        const int64_t *y = &se.val[k * se.nsnaps];
        nmr__trend(p, y, se.nsnaps, 2, &in.trend);
        in.bytes = y[se.nsnaps - 1];
        in.growth = nmr_sat_sub(in.bytes, y[0]);
        if (not_a_candidate(key) || (in.bytes < FINDING_MIN && in.growth < FINDING_MIN))
            continue;
        rc = add(out, &in);
    }
    nmr__series_free(&se);
    if (!rc)
        rc = nmr__diag_profile(v, p, out);
    if (rc) {
        nmr__findings_free(out);
        return rc;
    }
    if (out->n > 1) /* out->f is NULL when there is no finding */
        qsort(out->f, out->n, sizeof(*out->f), cmp_finding);
    if (out->n > MAX_FINDINGS)
        out->n = MAX_FINDINGS;
    return 0;
}
