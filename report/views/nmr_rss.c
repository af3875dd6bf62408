/*
 * nmr_rss.c: --rss reconciles the process's RSS at the selected snapshot
 * with what holds it.
 *
 * With a SMAPS record (nmr_resident.c) the resident set is split, page by
 * page, into malloc (by allocator), the JVM's parts (Java heap, GC
 * structures, Metaspace, code cache), thread stacks, mmap by owner, mapped
 * files, nmtrace itself and what is left untracked: parts that add up to
 * the total and are never negative, each with its change since the first
 * snapshot that has the record. nmtrace's own figures (malloc live bytes,
 * glibc's counters, mmap committed) follow, then the JVM's own accounts
 * (JACCOUNTS) beside the matching resident part, and the verdict: RSS
 * against the reasonable total (--expect, else the JVM's sizing flags),
 * and whether RSS is still growing, whatever the total says.
 *
 * A profile without SMAPS (an older recorder) gets the old reconciliation:
 * RSS minus malloc held minus mmap committed, which is an estimate (a
 * committed page need not be resident), shown as 0 and said when negative.
 */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "nmc_parse.h"
#include "nmr_internal.h"
#include "nmr_resident.h"
#include "nmr_sat.h"
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
    int has = note && note[0];
    fprintf(f, "  %-44s %12s%s%s\n", what, nmr_fmt_bytes(b, sizeof(b), v), has ? "  " : "",
            has ? note : "");
}

/* A change "(+1.5 MiB since snapshot 0)", or "" when there is no earlier one. */
static const char *since(char *buf, size_t n, int64_t now, int64_t then, int have_then,
                         uint32_t seq)
{
    char b[32];
    if (!have_then) {
        buf[0] = '\0';
        return buf;
    }
    snprintf(buf, n, "(%s%s since snapshot %u)", now >= then ? "+" : "",
             nmr_fmt_bytes(b, sizeof(b), now - then), seq);
    return buf;
}

/* The first snapshot with a SMAPS record before s, or NULL. */
static const struct nmr_snapshot *first_smaps(const struct nmr_profile *p,
                                              const struct nmr_snapshot *s)
{
    for (const struct nmr_snapshot *q = p->snaps; q < s; q++)
        if (q->has_smaps)
            return q;
    return NULL;
}

static void print_owner_list(FILE *f, const struct nmr_res_owner *o, size_t n)
{
    char b[32];
    for (size_t i = 0; i < n; i++)
        fprintf(f, "      %-60s %12s\n", o[i].name, nmr_fmt_bytes(b, sizeof(b), o[i].bytes));
}

static void print_split(FILE *f, const struct nmr_resident *r, const struct nmr_resident *r0,
                        uint32_t seq0)
{
    char note[96], b[32];
    line(f, "resident, by what holds it (SMAPS)", r->total,
         since(note, sizeof(note), r->total, r0 ? r0->total : 0, r0 != NULL, seq0));
    for (int c = 0; c < NMR_RES_NCATS; c++) {
        int64_t then = r0 ? r0->cat[c] : 0;
        if (r->cat[c] == 0 && then == 0 && c != NMR_RES_UNTRACKED)
            continue;
        char what[80];
        if (c == NMR_RES_MALLOC_OTHER && r->other_allocator)
            snprintf(what, sizeof(what), "  malloc: %s", r->other_allocator);
        else
            snprintf(what, sizeof(what), "  %s", nmr_res_cat_name((enum nmr_res_cat)c));
        line(f, what, r->cat[c], since(note, sizeof(note), r->cat[c], then, r0 != NULL, seq0));
        if (c == NMR_RES_MALLOC_GLIBC && r->malloc_estimated)
            fprintf(f, "      (%s of it glibc's own mmapped chunks, by mallinfo hblkhd)\n",
                    nmr_fmt_bytes(b, sizeof(b), r->malloc_estimated));
        if (c == NMR_RES_MMAP_OWNER)
            print_owner_list(f, r->owners, r->nowners);
        if (c == NMR_RES_FILE_OTHER)
            print_owner_list(f, r->files, r->nfiles);
    }
    if (r->swap)
        line(f, "swapped out (not in RSS)", r->swap, NULL);
}

/* nmtrace's own figures: malloc tracked, glibc's counters, mmap committed. */
static int print_tracked(FILE *f, const struct nmr_profile *p, const struct nmr_snapshot *s)
{
    int have_mi = 1;
    int64_t arena = ctr(s, "mallinfo.arena", &have_mi),
            hblkhd = ctr(s, "mallinfo.hblkhd", &have_mi);
    int64_t uord = ctr(s, "mallinfo.uordblks", &have_mi);
    int64_t live = 0, committed = 0, reserved = 0;
    for (size_t i = 0; i < s->nsites; i++) {
        live = nmr_sat_add(live, (int64_t)s->sites[i].live_bytes);
        committed = nmr_sat_add(committed, (int64_t)s->sites[i].committed);
        reserved = nmr_sat_add(reserved, (int64_t)s->sites[i].reserved);
    }
    fprintf(f, "nmtrace's figures:\n");
    line(f, "malloc: live bytes tracked by nmtrace", live,
         p->rate > 1 ? "(estimate from sampling)" : "(every allocation)");
    if (have_mi) {
        int64_t mheld = nmr_sat_add(arena, hblkhd), inuse = nmr_sat_add(uord, hblkhd);
        line(f, "malloc: held by glibc (arena + hblkhd)", mheld, NULL);
        line(f, "malloc:   in use (uordblks + hblkhd)", inuse, NULL);
        line(f, "malloc:   allocator overhead and free space", nmr_sat_sub(mheld, inuse), NULL);
    }
    line(f, "mmap: committed (tracked)", committed, NULL);
    line(f, "mmap: reserved (tracked, not all resident)", reserved, NULL);
    return 0;
}

/* mmap committed by the class of the allocation site (without SMAPS, the
 * only split of mmap there is). */
static int by_class(FILE *f, struct nmr_profile *p, const struct nmr_snapshot *s)
{
    int64_t cls[NMR_NCLASSES] = {0};
    for (size_t i = 0; i < s->nsites; i++) {
        if (!s->sites[i].committed)
            continue;
        struct nmr_stack *st = nmr_stack_get(p, s->sites[i].stack_id);
        if (st && nmr__symbolize(p, st))
            return -1;
        const struct nmr_frame *site = st ? nmr_stack_site(st) : NULL;
        int64_t *c = &cls[site ? site->cls : NMR_CLS_UNKNOWN];
        *c = nmr_sat_add(*c, (int64_t)s->sites[i].committed);
    }
    for (int c = 0; c < NMR_NCLASSES; c++)
        if (cls[c]) {
            char what[64];
            snprintf(what, sizeof(what), "mmap:   committed by %s code",
                     nmr_class_name((enum nmr_class)c));
            line(f, what, cls[c], NULL);
        }
    return 0;
}

/* The old estimate, for a snapshot without SMAPS. */
static int print_estimate(FILE *f, struct nmr_profile *p, const struct nmr_snapshot *s, int64_t rss)
{
    int have_mi = 1;
    int64_t held =
        nmr_sat_add(ctr(s, "mallinfo.arena", &have_mi), ctr(s, "mallinfo.hblkhd", &have_mi));
    int64_t live = 0, committed = 0;
    for (size_t i = 0; i < s->nsites; i++) {
        live = nmr_sat_add(live, (int64_t)s->sites[i].live_bytes);
        committed = nmr_sat_add(committed, (int64_t)s->sites[i].committed);
    }
    if (!have_mi || live > held)
        held = live;
    if (by_class(f, p, s) != 0)
        return -1;
    int64_t untracked = nmr_sat_sub(nmr_sat_sub(rss, held), committed);
    char b[32], note[200];
    if (untracked < 0)
        snprintf(note, sizeof(note),
                 "(committed exceeds what is resident by %s: not every committed page was "
                 "touched)",
                 nmr_fmt_bytes(b, sizeof(b), nmr_sat_sub(0, untracked)));
    else
        snprintf(note, sizeof(note), "(an estimate: code, stacks, memory nmtrace did not see)");
    line(f, "untracked: RSS - malloc held - mmap committed", untracked < 0 ? 0 : untracked, note);
    return 0;
}

static int64_t snap_rss(struct nmr_profile *p, const struct nmr_snapshot *s, void *ctx)
{
    (void)p, (void)ctx;
    int64_t v;
    return nmr_counter_get(s, "proc.rss", &v) ? v : -1;
}

/* The verdict: the reasonable total, and growth that a large total hides. */
static void verdict(const struct nmr_view *v, struct nmr_profile *p, const struct nmr_snapshot *s,
                    int64_t rss, const struct nmr_resident *r, const struct nmr_resident *r0)
{
    FILE *f = v->out;
    char b[4][32];
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
    struct nmr_rise g = nmr_rise_of(p, (size_t)(s - p->snaps), snap_rss, NULL);
    if (expect < 0)
        fprintf(f, "verdict: no reasonable total known (give --expect BYTES)");
    else if (rss > expect)
        fprintf(f, "verdict: RSS is ABOVE the reasonable total %s from %s, by %s",
                nmr_fmt_bytes(b[0], sizeof(b[0]), expect), src,
                nmr_fmt_bytes(b[1], sizeof(b[1]), nmr_sat_sub(rss, expect)));
    else
        fprintf(f, "verdict: RSS is within the reasonable total %s from %s (%s below)",
                nmr_fmt_bytes(b[0], sizeof(b[0]), expect), src,
                nmr_fmt_bytes(b[1], sizeof(b[1]), nmr_sat_sub(expect, rss)));
    if (!g.growing) {
        fprintf(f,
                g.nsnaps >= 3 ? "; RSS is not growing over the last %zu snapshots\n"
                              : "; too few snapshots (%zu) to tell whether it still grows\n",
                g.nsnaps);
        return;
    }
    double rate = g.seconds > 0 ? (double)(g.to - g.from) / g.seconds : 0;
    int within = expect >= 0 && rss <= expect;
    fprintf(f, "; %s RSS is STILL GROWING: %s -> %s over the last %zu snapshots (%s/s)",
            within ? "but" : "and", nmr_fmt_bytes(b[0], sizeof(b[0]), g.from),
            nmr_fmt_bytes(b[1], sizeof(b[1]), g.to), g.nsnaps,
            nmr_fmt_bytes(b[2], sizeof(b[2]), (int64_t)rate));
    int best = -1;
    for (int c = 0; r && r0 && c < NMR_RES_NCATS; c++)
        if (r->cat[c] - r0->cat[c] > 0 &&
            (best < 0 || r->cat[c] - r0->cat[c] > r->cat[best] - r0->cat[best]))
            best = c;
    if (best >= 0)
        fprintf(f, ", most of it %s (+%s)", nmr_res_cat_name((enum nmr_res_cat)best),
                nmr_fmt_bytes(b[3], sizeof(b[3]), r->cat[best] - r0->cat[best]));
    fprintf(f, within ? "; being within the total does not rule out a leak\n" : "\n");
}

static int one(const struct nmr_view *v, struct nmr_profile *p, const struct nmr_snapshot *s)
{
    FILE *f = v->out;
    char b[2][32];
    int have_rss = 1, have_hwm = 1;
    int64_t rss = ctr(s, "proc.rss", &have_rss), hwm = ctr(s, "proc.hwm", &have_hwm);
    fprintf(f, "RSS reconciliation of %s, snapshot %u (%s at %.1fs)\n", p->path, s->seq,
            nmr_reason_name(s->reason), nmr_snap_time_s(p, s));
    if (!have_rss) {
        fprintf(f, "  the snapshot has no proc.rss counter: nothing to reconcile\n");
        return 0;
    }
    snprintf(b[1], sizeof(b[1]), "(peak %s)", nmr_fmt_bytes(b[0], sizeof(b[0]), hwm));
    line(f, "RSS (VmRSS)", rss, have_hwm ? b[1] : NULL);
    struct nmr_resident r, r0;
    const struct nmr_snapshot *s0 = first_smaps(p, s);
    const char *app = v->opt->app;
    int rc = nmr_resident_of(p, s, v->opt->key, app, &r);
    if (rc < 0 || (s0 && nmr_resident_of(p, s0, v->opt->key, app, &r0) < 0))
        return nmr__oom();
    if (rc == 1)
        print_split(f, &r, s0 ? &r0 : NULL, s0 ? s0->seq : 0);
    print_tracked(f, p, s);
    if (rc != 1 && print_estimate(f, p, s, rss) != 0)
        return nmr__oom();
    const struct nmr_snapshot *last = NULL;
    for (const struct nmr_snapshot *q = p->snaps; rc != 1 && q < p->snaps + p->nsnaps; q++)
        last = q->has_smaps ? q : last;
    if (rc != 1 && !last)
        fprintf(f, "  (the profile has no SMAPS record, which says what is resident: an older "
                   "recorder)\n");
    if (last)
        fprintf(f,
                "  (this snapshot has no SMAPS record: the recorder spaces its reads by their "
                "cost; snapshot %u has one: --snapshot %u)\n",
                last->seq, last->seq);
    if (nmr_rss_jvm(f, p, s, rc == 1 ? &r : NULL) < 0)
        return nmr__oom();
    verdict(v, p, s, rss, rc == 1 ? &r : NULL, rc == 1 && s0 ? &r0 : NULL);
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
