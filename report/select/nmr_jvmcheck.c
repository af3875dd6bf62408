/*
 * nmr_jvmcheck.c: the JVM's accounts against its limits and against
 * nmtrace.
 *
 * Near a limit: the direct buffer pool's memory against the direct memory
 * limit (MaxDirectMemorySize, or the JDK's default, the heap's maximum),
 * Metaspace committed against MaxMetaspaceSize, the compressed class space
 * against its size. Disagreement: the direct pool's memory, as the JVM
 * counts it, against the live malloc bytes nmtrace sampled under
 * DirectByteBuffer.<init> (the same allocations, measured independently).
 * Sampling by bytes at mean rate R estimates B bytes with a standard error
 * of about sqrt(B * R); they disagree when they differ by more than three
 * of those, 10 % and 1 MiB.
 */
#include <math.h>
#include <string.h>

#include "nmr_internal.h"
#include "nmr_jvmcheck.h"
#include "nmr_sat.h"

int64_t nmr_live_under(struct nmr_profile *p, const struct nmr_snapshot *s, const char *word)
{
    int64_t sum = 0;
    for (size_t i = 0; i < s->nsites; i++) {
        if (!s->sites[i].live_bytes)
            continue;
        struct nmr_stack *st = nmr_stack_get(p, s->sites[i].stack_id);
        if (st == NULL)
            continue;
        if (nmr__symbolize(p, st) != 0)
            return -1;
        for (uint32_t k = 0; k < st->nframes; k++)
            if (strstr(st->frames[k].function, word)) {
                sum = nmr_sat_add(sum, (int64_t)s->sites[i].live_bytes);
                break;
            }
    }
    return sum;
}

int nmr_jvm_near_limit(int64_t used, int64_t limit)
{
    return limit > 0 && (double)used * 100 >= (double)limit * NMR_JCHECK_NEAR_PCT;
}

static int near(struct nmr_jcheck *out, int n, const char *what, const char *flag, uint64_t used,
                uint64_t limit)
{
    if (n >= NMR_JCHECKS_MAX || !nmr_jvm_near_limit(nmr_sat_i64(used), nmr_sat_i64(limit)))
        return n;
    out[n] =
        (struct nmr_jcheck){NMR_JCHECK_NEAR_LIMIT, what, flag, (int64_t)used, (int64_t)limit, 0};
    return n + 1;
}

int nmr_jvm_checks(struct nmr_profile *p, const struct nmr_snapshot *s, struct nmr_jcheck *out)
{
    const struct nmr_jaccounts *a = s->jacc;
    if (a == NULL)
        return 0;
    int n = 0;
    const struct nmr_jbuffers *d = nmr_jacc_buffers(a, "direct");
    if (d && (a->have & NMR_JACC_MAX_DIRECT))
        n = near(out, n, "direct buffer memory", "-XX:MaxDirectMemorySize", d->used, a->max_direct);
    const struct nmr_jpool *ms = nmr_jacc_pool(a, "Metaspace");
    if (ms && ms->max > 0)
        n = near(out, n, "Metaspace", "-XX:MaxMetaspaceSize", ms->committed, (uint64_t)ms->max);
    const struct nmr_jpool *cs = nmr_jacc_pool(a, "Compressed Class Space");
    if (cs && cs->max > 0)
        n = near(out, n, "compressed class space", "-XX:CompressedClassSpaceSize", cs->used,
                 (uint64_t)cs->max);
    if (d && n < NMR_JCHECKS_MAX) {
        int64_t ours = nmr_live_under(p, s, "DirectByteBuffer.<init>");
        if (ours < 0)
            return -1;
        double jvm = (double)d->used, rate = p->rate > 1 ? (double)p->rate : 0;
        double margin = fmax(fmax(3 * sqrt(jvm * rate), 0.1 * jvm), 1048576.0);
        if (fabs(jvm - (double)ours) > margin)
            out[n++] = (struct nmr_jcheck){
                NMR_JCHECK_DISAGREE, "direct buffer memory", NULL, (int64_t)d->used, ours,
                (int64_t)margin};
    }
    return n;
}
