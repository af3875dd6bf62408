/*
 * nmr_rss_jvm.c: the JVM's own accounts (JACCOUNTS) in --rss, each beside
 * the independent figure nmtrace has for the same memory: the Java heap,
 * Metaspace and code cache committed by the JVM against what is resident
 * of them; the direct buffer pool against the live malloc bytes under
 * DirectByteBuffer.<init>; pools near their limit (MaxDirectMemorySize,
 * MaxMetaspaceSize) are said so; the NMT summary's total and largest
 * categories when the JVM runs with -XX:NativeMemoryTracking.
 */
#include <inttypes.h>
#include <string.h>

#include "nmr_internal.h"
#include "nmr_jvmcheck.h"
#include "nmr_resident.h"
#include "nmr_view.h"
#include "nmr_sat.h"

static const char *fmt(char *b, size_t n, uint64_t v)
{
    return nmr_fmt_bytes(b, n, v > INT64_MAX ? INT64_MAX : (int64_t)v);
}

/* "(limit 66.0 MiB, 96%)": the NEAR A LIMIT line (checks) says the rest. */
static void limit_note(FILE *f, uint64_t used, uint64_t limit)
{
    char b[32];
    if (limit > 0)
        fprintf(f, "  (limit %s, %" PRIu64 "%%)", fmt(b, sizeof(b), limit), used * 100 / limit);
}

static void pools(FILE *f, const struct nmr_jaccounts *a, const struct nmr_resident *r)
{
    char b[4][32];
    uint64_t hu = 0, hc = 0;
    for (size_t i = 0; i < a->npools; i++)
        if (a->pools[i].heap) {
            hu += a->pools[i].used;
            hc += a->pools[i].committed;
        }
    fprintf(f, "  Java heap: used %s, committed %s", fmt(b[0], 32, hu), fmt(b[1], 32, hc));
    if (r)
        fprintf(f, "; resident %s", fmt(b[2], 32, (uint64_t)r->cat[NMR_RES_JAVA_HEAP]));
    fputc('\n', f);
    const struct nmr_jpool *ms = nmr_jacc_pool(a, "Metaspace");
    const struct nmr_jpool *cs = nmr_jacc_pool(a, "Compressed Class Space");
    if (ms) {
        fprintf(f, "  Metaspace: used %s, committed %s", fmt(b[0], 32, ms->used),
                fmt(b[1], 32, ms->committed));
        if (cs)
            fprintf(f, " (class space: used %s, committed %s)", fmt(b[2], 32, cs->used),
                    fmt(b[3], 32, cs->committed));
        if (r)
            fprintf(f, "; resident %s", fmt(b[2], 32, (uint64_t)r->cat[NMR_RES_METASPACE]));
        if (ms->max >= 0)
            limit_note(f, ms->committed, (uint64_t)ms->max);
        fputc('\n', f);
    }
    uint64_t cu, cc;
    if (nmr_jacc_pool_sum(a, "CodeHeap", &cu, &cc) ||
        nmr_jacc_pool_sum(a, "Code Cache", &cu, &cc)) {
        fprintf(f, "  code cache: used %s, committed %s", fmt(b[0], 32, cu), fmt(b[1], 32, cc));
        if (r)
            fprintf(f, "; resident %s", fmt(b[2], 32, (uint64_t)r->cat[NMR_RES_CODE_CACHE]));
        fputc('\n', f);
    }
}

static int buffers(FILE *f, struct nmr_profile *p, const struct nmr_snapshot *s,
                   const struct nmr_jaccounts *a)
{
    int64_t ours = nmr_live_under(p, s, "DirectByteBuffer.<init>");
    if (ours < 0)
        return -1;
    char b[3][32];
    for (size_t i = 0; i < a->nbuffers; i++) {
        const struct nmr_jbuffers *q = &a->buffers[i];
        if (q->count == 0 && strcmp(q->name, "direct") != 0)
            continue;
        fprintf(f, "  buffer pool %s: %" PRIu64 " buffers, %s", q->name, q->count,
                fmt(b[0], 32, q->capacity));
        if (strcmp(q->name, "direct") == 0) {
            fprintf(f, "; nmtrace: %s live under DirectByteBuffer.<init>",
                    fmt(b[1], 32, (uint64_t)ours));
            if (a->have & NMR_JACC_MAX_DIRECT)
                limit_note(f, q->used, a->max_direct);
        }
        fputc('\n', f);
    }
    return 0;
}

static void nmt_summary(FILE *f, const struct nmr_jaccounts *a)
{
    char b[2][32];
    const struct nmr_jnmt *t = nmr_jacc_nmt(a, "Total");
    if (!t)
        return;
    fprintf(f, "  NMT: committed %s, reserved %s; largest committed:", fmt(b[0], 32, t->committed),
            fmt(b[1], 32, t->reserved));
    /* The summary is in the JVM's order; show the three largest. */
    const struct nmr_jnmt *top[3] = {0};
    for (size_t i = 0; i < a->nnmt; i++) {
        const struct nmr_jnmt *c = &a->nmt[i];
        if (c == t)
            continue;
        for (int k = 0; k < 3; k++)
            if (!top[k] || c->committed > top[k]->committed) {
                memmove(&top[k + 1], &top[k], sizeof(top[0]) * (size_t)(2 - k));
                top[k] = c;
                break;
            }
    }
    for (int k = 0; k < 3 && top[k]; k++)
        fprintf(f, "%s %s %s", k ? "," : "", top[k]->name, fmt(b[0], 32, top[k]->committed));
    fputc('\n', f);
}

/* The accounts against the limits and against nmtrace (nmr_jvmcheck.h). */
static int checks(FILE *f, struct nmr_profile *p, const struct nmr_snapshot *s)
{
    struct nmr_jcheck c[NMR_JCHECKS_MAX];
    int n = nmr_jvm_checks(p, s, c);
    char b[3][32];
    for (int i = 0; i < n; i++) {
        if (c[i].kind == NMR_JCHECK_NEAR_LIMIT)
            fprintf(
                f, "  NEAR A LIMIT: %s %s of %s (%" PRId64 "%%): raise %s, or find what holds it\n",
                c[i].what, nmr_fmt_bytes(b[0], 32, c[i].jvm), nmr_fmt_bytes(b[1], 32, c[i].other),
                c[i].jvm * 100 / c[i].other, c[i].flag);
        else
            fprintf(f,
                    "  DISAGREE: %s: the JVM counts %s, nmtrace %s (more than the %s sampling "
                    "allows): buffers allocated before nmtrace attached, or not through "
                    "DirectByteBuffer\n",
                    c[i].what, nmr_fmt_bytes(b[0], 32, c[i].jvm),
                    nmr_fmt_bytes(b[1], 32, c[i].other), nmr_fmt_bytes(b[2], 32, c[i].margin));
    }
    return n < 0 ? -1 : 0;
}

int nmr_rss_jvm(FILE *f, struct nmr_profile *p, const struct nmr_snapshot *s,
                const struct nmr_resident *r)
{
    const struct nmr_jaccounts *a = s->jacc;
    if (a == NULL)
        return 0;
    double age = ((double)a->taken_ns - (double)s->monotonic_ns) / 1e6;
    fprintf(f, "the JVM's own accounts (read %.0f ms %s the snapshot began):\n",
            age < 0 ? -age : age, age < 0 ? "before" : "after");
    if (a->have & NMR_JACC_POOLS)
        pools(f, a, r);
    if ((a->have & NMR_JACC_BUFFERS) && buffers(f, p, s, a) != 0)
        return -1;
    int64_t threads = 0;
    if (a->have & NMR_JACC_THREADS) {
        fprintf(f, "  threads: %u Java threads", a->threads);
        if (nmr_counter_get(s, "proc.threads", &threads))
            fprintf(f, " of %" PRId64 " in the process", threads);
        fputc('\n', f);
    }
    if (a->have & NMR_JACC_CLASSES)
        fprintf(f, "  classes: %u loaded, %" PRIu64 " unloaded since start\n", a->loaded_classes,
                a->unloaded_classes);
    if (a->have & NMR_JACC_NMT)
        nmt_summary(f, a);
    return checks(f, p, s);
}
