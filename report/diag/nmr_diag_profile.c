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

#define MiB (1024 * (int64_t)1024)

void nmr__diag_accounts(const struct nmr_snapshot *s, struct nmr_jvm_accounts *a)
{
    memset(a, 0, sizeof(*a));
    (void)s; /* the profile has no JVM accounts of its own yet */
}

static void warmup(const struct nmr_profile *p, struct nmr_findings *fs)
{
    int64_t grew = fs->rss_last - fs->rss_first;
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
    nmr__trend(p, y, p->nsnaps, 1, &t);
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
    int64_t idle = arena - used;
    if (idle < 64 * MiB || (fs->rss_last > 0 && idle * 4 < fs->rss_last))
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

int nmr__diag_profile(const struct nmr_view *v, struct nmr_profile *p, struct nmr_findings *fs)
{
    (void)v;
    warmup(p, fs);
    allocator(p, fs);
    return 0;
}
