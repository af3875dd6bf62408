/*
 * nmr_diag_profile.c: the findings about the whole process rather than one
 * series of stacks: RSS that grows within the reasonable total (warm-up),
 * memory glibc holds beyond what is in use (allocator overhead), and the
 * JVM's own accounts set against nmtrace's figures.
 */
#include <stdio.h>
#include <stdlib.h>

#include "nmr_diag.h"
#include "nmr_internal.h"
#include "nmr_jvmacc.h"
#include "nmr_jvmcheck.h"
#include "nmr_sat.h"

#define MiB (1024 * (int64_t)1024)

void nmr__diag_accounts(const struct nmr_snapshot *s, struct nmr_jvm_accounts *a)
{
    memset(a, 0, sizeof(*a));
    const struct nmr_jaccounts *j = s->jacc;
    if (!j)
        return;
    const struct nmr_jbuffers *d = nmr_jacc_buffers(j, "direct"),
                              *m = nmr_jacc_buffers(j, "mapped");
    if ((a->has_direct = d != NULL) != 0)
        a->direct_count = (int64_t)d->count, a->direct_bytes = (int64_t)d->used;
    if ((a->has_mapped = m != NULL) != 0)
        a->mapped_count = (int64_t)m->count, a->mapped_bytes = (int64_t)m->used;
    const struct nmr_jpool *ms = nmr_jacc_pool(j, "Metaspace");
    if ((a->has_metaspace = ms != NULL) != 0)
        a->metaspace_used = (int64_t)ms->used, a->metaspace_committed = (int64_t)ms->committed;
    uint64_t cu = 0, cc = 0;
    if ((a->has_code = nmr_jacc_pool_sum(j, "CodeHeap ", &cu, &cc) > 0 ||
                       nmr_jacc_pool_sum(j, "Code Cache", &cu, &cc) > 0) != 0)
        a->code_used = (int64_t)cu, a->code_committed = (int64_t)cc;
    if ((a->has_threads = (j->have & NMR_JACC_THREADS) != 0) != 0)
        a->threads = j->threads;
    if ((a->has_classes = (j->have & NMR_JACC_CLASSES) != 0) != 0)
        a->classes_loaded = (int64_t)j->total_loaded_classes,
        a->classes_unloaded = (int64_t)j->unloaded_classes;
    const struct nmr_jnmt *t = nmr_jacc_nmt(j, "Total");
    if ((a->has_nmt = t != NULL) != 0)
        a->nmt_committed = (int64_t)t->committed;
}

static void warmup(const struct nmr_profile *p, struct nmr_findings *fs)
{
    int64_t grew = nmr_sat_sub(fs->rss_last, fs->rss_first);
    if (fs->rss_first < 0 || fs->rss_last < 0 || fs->reasonable_total <= 0 || fs->nsnaps < 2 ||
        grew < 16 * MiB || fs->rss_last > fs->reasonable_total)
        return;
    for (size_t i = 0; i < fs->n; i++) /* a leak is the story, not warm-up */
        if (strcmp(fs->f[i].verdict, "leak-suspect") == 0)
            return;
    int64_t *y = malloc(p->nsnaps * sizeof(*y));
    struct nmr_finding *f = y ? nmr__finding_new(fs) : NULL;
    if (!f) {
        free(y);
        return;
    }
    for (size_t i = 0; i < p->nsnaps; i++)
        if (!nmr_counter_get(&p->snaps[i], "proc.rss", &y[i]))
            y[i] = i ? y[i - 1] : fs->rss_first;
    struct nmr_trend t;
    nmr__trend(p, y, p->nsnaps, 2, &t);
    free(y);
    char a[32], b[32], c[32];
    f->cause = NMR_CAUSE_WARMUP;
    f->verdict = strcmp(t.verdict, "levels-off") == 0 ? "levels-off" : "business-growth";
    snprintf(f->owner, sizeof(f->owner), "the JVM (heap pages touched, code, metadata)");
    f->owner_kind = "jvm";
    snprintf(f->site, sizeof(f->site), "RSS");
    f->memory = "RSS";
    f->bytes = fs->rss_last;
    f->growth = grew;
    f->rate = t.slope;
    f->exact = 1;
    nmr__evidence(f, "RSS %s -> %s, below the reasonable total %s",
                  nmr_fmt_bytes(a, sizeof(a), fs->rss_first),
                  nmr_fmt_bytes(b, sizeof(b), fs->rss_last),
                  nmr_fmt_bytes(c, sizeof(c), fs->reasonable_total));
    nmr__evidence(f, "no tracked series leaks as much as RSS grew");
    snprintf(f->fix, sizeof(f->fix),
             "nothing to fix: committed heap and JIT code become resident as they are touched; "
             "-XX:+AlwaysPreTouch makes RSS full from the start, so later growth stands out");
    snprintf(f->confirm, sizeof(f->confirm),
             "jcmd PID VM.native_memory summary: committed stays within the flags' sizes");
    if (strcmp(f->verdict, "levels-off") != 0)
        snprintf(f->note, sizeof(f->note),
                 "RSS is still growing (%s/s): within the total now, watch it",
                 nmr_fmt_bytes(a, sizeof(a), (int64_t)t.slope));
}

/* glibc's arenas: what it holds (mallinfo arena) beyond what is in use. */
static void allocator(const struct nmr_profile *p, struct nmr_findings *fs)
{
    const struct nmr_snapshot *s = &p->snaps[p->nsnaps - 1];
    int64_t arena, used;
    if (!nmr_counter_get(s, "mallinfo.arena", &arena) ||
        !nmr_counter_get(s, "mallinfo.uordblks", &used))
        return;
    int64_t idle = nmr_sat_sub(arena, used);
    if (idle < 64 * MiB || (fs->rss_last > 0 && (double)idle * 4 < (double)fs->rss_last))
        return;
    struct nmr_finding *f = nmr__finding_new(fs);
    if (!f)
        return;
    char a[32], b[32];
    f->cause = NMR_CAUSE_ALLOCATOR;
    f->verdict = "stable";
    snprintf(f->owner, sizeof(f->owner), "glibc malloc arenas");
    f->owner_kind = "allocator";
    snprintf(f->site, sizeof(f->site), "malloc");
    f->memory = "allocator-held";
    f->bytes = idle;
    f->exact = 1;
    nmr__evidence(f, "mallinfo: arenas hold %s, %s of it in use",
                  nmr_fmt_bytes(a, sizeof(a), arena), nmr_fmt_bytes(b, sizeof(b), used));
    snprintf(f->fix, sizeof(f->fix),
             "free memory kept by glibc's per-thread arenas: MALLOC_ARENA_MAX=2, or preload "
             "jemalloc/tcmalloc; this is not a leak of the program's own");
    snprintf(f->confirm, sizeof(f->confirm), "pmap -x PID: many 64 MiB anonymous regions");
}

/* The cause whose findings a JVM account speaks for. */
static enum nmr_cause cause_of_account(const char *what)
{
    return strcmp(what, "direct buffer memory") == 0 ? NMR_CAUSE_DIRECT_BUFFERS
                                                     : NMR_CAUSE_METASPACE;
}

/* One check of the JVM's accounts (nmr_jvmcheck.h): a pool near its limit
 * is a note on the findings of its cause, or a finding of its own when
 * none has one; two measurements that disagree are a finding. */
static void account_check(struct nmr_findings *fs, const struct nmr_jcheck *c)
{
    char a[32], b[32], m[32];
    nmr_fmt_bytes(a, sizeof(a), c->jvm);
    nmr_fmt_bytes(b, sizeof(b), c->other);
    int noted = 0;
    for (size_t i = 0; c->kind == NMR_JCHECK_NEAR_LIMIT && i < fs->n; i++)
        if (fs->f[i].cause == cause_of_account(c->what)) {
            /* Within 1 %: the limit was hit (in double, as nmr_jvm_near_limit:
             * the figures come from the profile and may be any value). */
            int at = (double)c->jvm * 100 >= (double)c->other * 99;
            snprintf(fs->f[i].note, sizeof(fs->f[i].note),
                     "the JVM's %s is %s of its %s limit %s: %s", c->what, a,
                     c->flag ? c->flag : "", b,
                     at ? "it reached the limit, so the run threw OutOfMemoryError (Cannot "
                          "reserve ... / Metaspace) unless a GC freed some in time"
                        : "at the limit the JVM throws OutOfMemoryError");
            noted = 1;
        }
    if (noted)
        return;
    struct nmr_finding *f = nmr__finding_new(fs);
    if (!f)
        return;
    f->cause = c->kind == NMR_JCHECK_NEAR_LIMIT ? cause_of_account(c->what) : NMR_CAUSE_ACCOUNTS;
    f->verdict = "stable";
    snprintf(f->owner, sizeof(f->owner), "the JVM's %s", c->what);
    f->owner_kind = "jvm";
    snprintf(f->site, sizeof(f->site), "JVM accounts");
    f->memory = "JVM account";
    f->bytes = c->jvm;
    f->exact = 1;
    if (c->kind == NMR_JCHECK_NEAR_LIMIT) {
        snprintf(f->note, sizeof(f->note), "%s is at %s of its limit %s (%s)", c->what, a, b,
                 c->flag ? c->flag : "");
    } else {
        nmr__evidence(f, "the JVM counts %s of %s, nmtrace %s (allowed difference %s)", a, c->what,
                      b, nmr_fmt_bytes(m, sizeof(m), c->margin));
        snprintf(f->fix, sizeof(f->fix),
                 "two measurements of the same memory disagree: memory the JVM's pool does not "
                 "see (allocated around it) or stacks nmtrace could not attribute");
        snprintf(
            f->confirm, sizeof(f->confirm),
            "jcmd PID VM.native_memory summary; the BufferPoolMXBean beside nmreport --by owner");
    }
}

int nmr__diag_profile(const struct nmr_view *v, struct nmr_profile *p, struct nmr_findings *fs)
{
    (void)v;
    warmup(p, fs);
    allocator(p, fs);
    struct nmr_jcheck c[NMR_JCHECKS_MAX];
    int n = nmr_jvm_checks(p, &p->snaps[p->nsnaps - 1], c);
    if (n < 0)
        return -1;
    for (int i = 0; i < n; i++)
        account_check(fs, &c[i]);
    return 0;
}
