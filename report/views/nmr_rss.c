/*
 * nmr_rss.c: --rss reconciles the process's RSS at the selected snapshot
 * with what nmtrace saw: malloc bytes the recorder tracked (an estimate
 * when sampling), what glibc's allocator holds from the system versus what
 * is in use inside it (mallinfo2: arena + hblkhd vs uordblks + hblkhd: the
 * difference is allocator overhead and free space), mmap bytes committed
 * through the hooks (by class of the allocation site), and the rest, which
 * nmtrace did not see (code and data of libraries, thread stacks, memory
 * mapped before nmtrace started, glibc's own arenas' mmaps when not counted
 * above). It then compares RSS with the reasonable total: --expect, else the
 * JVM's sizing flags summed by the recorder (INFO jvm.reasonable_total).
 */
#include <inttypes.h>
#include <stdlib.h>

#include "nmc_parse.h"
#include "nmr_internal.h"
#include "nmr_select.h"

static int64_t ctr(const struct nmr_snapshot *s, const char *name, int *have)
{
    int64_t v = 0;
    if (!nmr_counter_get(s, name, &v) && have)
        *have = 0;
    return v;
}

static void line(FILE *f, const char *what, int64_t v, const char *note)
{
    char b[32];
    fprintf(f, "  %-44s %12s%s%s\n", what, nmr_fmt_bytes(b, sizeof(b), v), note ? "  " : "",
            note ? note : "");
}

/* What the snapshot's sites hold: live malloc bytes, committed and reserved
 * mmap bytes, and the committed bytes by the class of their allocation
 * site. */
struct tally {
    int64_t live, committed, reserved;
    int64_t by_class[NMR_NCLASSES];
};

static int tally(const struct nmr_profile *p, const struct nmr_snapshot *s, struct tally *t)
{
    memset(t, 0, sizeof(*t));
    for (size_t i = 0; i < s->nsites; i++) {
        t->live = nmr_sat_add(t->live, (int64_t)s->sites[i].live_bytes);
        t->committed = nmr_sat_add(t->committed, (int64_t)s->sites[i].committed);
        t->reserved = nmr_sat_add(t->reserved, (int64_t)s->sites[i].reserved);
        if (s->sites[i].committed) {
            struct nmr_stack *st = nmr_stack_get(p, s->sites[i].stack_id);
            if (st && nmr__symbolize((struct nmr_profile *)p, st))
                return nmr__oom();
            const struct nmr_frame *site = st ? nmr_stack_site(st) : NULL;
            int64_t *c = &t->by_class[site ? site->cls : NMR_CLS_UNKNOWN];
            *c = nmr_sat_add(*c, (int64_t)s->sites[i].committed);
        }
    }
    return 0;
}

/* The verdict: RSS against --expect, or else the JVM's reasonable total. */
static void verdict(const struct nmr_view *v, const struct nmr_profile *p, int64_t rss)
{
    FILE *f = v->out;
    char b[3][32];
    int64_t expect = v->opt->expect;
    const char *src = "--expect";
    if (expect < 0) {
        const char *rt = nmr_info_get(p, "jvm.reasonable_total");
        uint64_t total;
        if (rt && nmc_parse_size(rt, &total) == 0 && total <= INT64_MAX) {
            expect = (int64_t)total;
            src = "jvm.reasonable_total (-Xmx + MaxMetaspaceSize + MaxDirectMemorySize + "
                  "ReservedCodeCacheSize)";
        }
    }
    if (expect >= 0) {
        nmr_fmt_bytes(b[0], sizeof(b[0]), expect);
        nmr_fmt_bytes(b[1], sizeof(b[1]), nmr_sat_sub(rss, expect));
        if (rss > expect)
            fprintf(f, "verdict: RSS is ABOVE the reasonable total %s from %s, by %s\n", b[0], src,
                    b[1]);
        else
            fprintf(f, "verdict: RSS is within the reasonable total %s from %s (%s below)\n", b[0],
                    src, nmr_fmt_bytes(b[2], sizeof(b[2]), nmr_sat_sub(expect, rss)));
    } else {
        fprintf(f, "verdict: no reasonable total known (give --expect BYTES)\n");
    }
}

static int one(const struct nmr_view *v, const struct nmr_profile *p, const struct nmr_snapshot *s)
{
    FILE *f = v->out;
    char b[4][32];
    int have_rss = 1, have_mi = 1, have_hwm = 1;
    int64_t rss = ctr(s, "proc.rss", &have_rss), hwm = ctr(s, "proc.hwm", &have_hwm);
    int64_t arena = ctr(s, "mallinfo.arena", &have_mi),
            hblkhd = ctr(s, "mallinfo.hblkhd", &have_mi);
    int64_t uord = ctr(s, "mallinfo.uordblks", &have_mi);
    struct tally t;
    int rc = tally(p, s, &t);
    if (rc)
        return rc;
    fprintf(f, "RSS reconciliation of %s, snapshot %u (%s at %.1fs)\n", p->path, s->seq,
            nmr_reason_name(s->reason), nmr_snap_time_s(p, s));
    if (!have_rss) {
        fprintf(f, "  the snapshot has no proc.rss counter: nothing to reconcile\n");
        return 0;
    }
    snprintf(b[3], sizeof(b[3]), "(peak %s)", nmr_fmt_bytes(b[0], sizeof(b[0]), hwm));
    line(f, "RSS (VmRSS)", rss, have_hwm ? b[3] : NULL);
    line(f, "malloc: live bytes tracked by nmtrace", t.live,
         p->rate > 1 ? "(estimate from sampling)" : "(every allocation)");
    int64_t held = t.live;
    if (have_mi) {
        int64_t mheld = nmr_sat_add(arena, hblkhd), inuse = nmr_sat_add(uord, hblkhd);
        line(f, "malloc: held by glibc (arena + hblkhd)", mheld, NULL);
        line(f, "malloc:   in use (uordblks + hblkhd)", inuse, NULL);
        line(f, "malloc:   allocator overhead and free space", nmr_sat_sub(mheld, inuse), NULL);
        /* When another allocator is preloaded glibc holds little: its memory
         * then shows as mmap committed by class allocator. */
        if (mheld > held)
            held = mheld;
    } else {
        fprintf(f, "  (no mallinfo counters in this snapshot)\n");
    }
    line(f, "mmap: committed (tracked)", t.committed, NULL);
    for (int c = 0; c < NMR_NCLASSES; c++)
        if (t.by_class[c]) {
            char what[64];
            snprintf(what, sizeof(what), "mmap:   committed by %s code",
                     nmr_class_name((enum nmr_class)c));
            line(f, what, t.by_class[c], NULL);
        }
    line(f, "mmap: reserved (tracked, not all resident)", t.reserved, NULL);
    int64_t untracked = nmr_sat_sub(nmr_sat_sub(rss, held), t.committed);
    line(f, "untracked: RSS - malloc held - mmap committed", untracked,
         untracked < 0 ? "(negative: committed pages not all touched yet)"
                       : "(code, stacks, data of libraries, memory nmtrace did not see)");
    verdict(v, p, rss);
    return 0;
}

int nmr_view_rss(const struct nmr_view *v)
{
    for (size_t i = 0; i < v->nprofiles; i++) {
        if (i)
            fputc('\n', v->out);
        int rc = one(v, v->profiles[i], v->snaps[i]);
        if (rc)
            return rc;
    }
    return 0;
}
