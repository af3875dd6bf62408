/*
 * nmr_timeline.c: --timeline, one line per snapshot of each profile: time
 * since start, reason, RSS, tracked malloc live bytes, committed mmap bytes,
 * and the allocation sites whose selected measure changed most since the
 * previous snapshot (top 3 by |delta|).
 */
#include <inttypes.h>
#include <stdlib.h>

#include "nmr_internal.h"
#include "nmr_series.h"

#define TOP 3

static int64_t sum_sites(const struct nmr_snapshot *s, int committed)
{
    int64_t t = 0;
    for (size_t i = 0; i < s->nsites; i++)
        t = nmr_sat_add(t, (int64_t)(committed ? s->sites[i].committed : s->sites[i].live_bytes));
    return t;
}

static int one(const struct nmr_view *v, struct nmr_profile *p)
{
    FILE *f = v->out;
    struct nmr_series se;
    if (nmr__series_build(v, p, v->measure, &se))
        return nmr__oom();
    static const char *const by[] = {"", "allocation site", "owner", "path (site <- owner)"};
    fprintf(f, "Timeline of %s (pid %u): %zu snapshots; deltas of %s per %s\n", p->path, p->pid,
            p->nsnaps, nmr_measure_name(v->measure), by[se.key]);
    fprintf(f, "%5s %10s %-9s %11s %13s %14s  %s\n", "seq", "time", "reason", "rss", "malloc live",
            "mmap committed", "top changes since the previous snapshot");
    for (size_t i = 0; i < p->nsnaps; i++) {
        const struct nmr_snapshot *s = &p->snaps[i];
        char b[3][32];
        int64_t rss;
        if (!nmr_counter_get(s, "proc.rss", &rss))
            snprintf(b[0], sizeof(b[0]), "?");
        else
            nmr_fmt_bytes(b[0], sizeof(b[0]), rss);
        fprintf(f, "%5u %9.1fs %-9s %11s %13s %14s ", s->seq, nmr_snap_time_s(p, s),
                nmr_reason_name(s->reason), b[0], nmr_fmt_bytes(b[1], 32, sum_sites(s, 0)),
                nmr_fmt_bytes(b[2], 32, sum_sites(s, 1)));
        /* The TOP largest |delta| against the previous snapshot. */
        size_t top[TOP];
        int64_t topd[TOP];
        size_t ntop = 0;
        for (size_t k = 0; k < se.nkeys; k++) {
            int64_t cur = se.val[k * se.nsnaps + i];
            int64_t prev = i ? se.val[k * se.nsnaps + i - 1] : 0;
            int64_t d = nmr_sat_sub(cur, prev);
            if (d == 0)
                continue;
            uint64_t ad = d < 0 ? (uint64_t)0 - (uint64_t)d : (uint64_t)d;
            size_t pos = ntop;
            while (pos > 0) {
                int64_t o = topd[pos - 1];
                uint64_t ao = o < 0 ? (uint64_t)0 - (uint64_t)o : (uint64_t)o;
                if (ao >= ad)
                    break;
                pos--;
            }
            if (pos >= TOP)
                continue;
            size_t end = ntop < TOP ? ntop : TOP - 1;
            memmove(top + pos + 1, top + pos, (end - pos) * sizeof(*top));
            memmove(topd + pos + 1, topd + pos, (end - pos) * sizeof(*topd));
            top[pos] = k;
            topd[pos] = d;
            if (ntop < TOP)
                ntop++;
        }
        if (!ntop)
            fputs(" -", f);
        for (size_t t = 0; t < ntop; t++) {
            const struct nmr_series_key *k = &se.keys[top[t]];
            char d[32];
            nmr_fmt_value(d, sizeof(d), topd[t], v->measure);
            char name[2048];
            fprintf(f, "%s %s %s%s", t ? "," : "", nmr__series_short(name, sizeof(name), &se, k),
                    topd[t] > 0 ? "+" : "", d);
        }
        fputc('\n', f);
    }
    nmr__series_free(&se);
    return 0;
}

int nmr_view_timeline(const struct nmr_view *v)
{
    return nmr__each_profile(v, one);
}
