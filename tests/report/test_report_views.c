/*
 * test_report_views.c: nmreport's selection and text views on synthetic
 * profiles (report_writer.h): snapshot choice, diffs with negative values,
 * merging files, every measure, --focus/--ignore, --nodecount/--threshold,
 * the tree, roll-ups, folded stacks, JSON, growth verdicts and the RSS
 * reconciliation. Frames are fake addresses in a fake "prog" mapping, so
 * they are named "prog+0x<offset>" whatever the symbolizer finds.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "nmt_format.h"
#include "nmr_internal.h"
#include "nmr_profile.h"
#include "nmr_select.h"
#include "nmr_view.h"
#include "report_run.h"
#include "report_writer.h"

#define MiB  (1024ull * 1024)
#define BASE 0x10000000ull

/*
 * Stacks (frame 0 is the entry point, then return addresses):
 *  1: A (prog+0x100) <- main (0x900)          malloc, growing: leak
 *  2: B (prog+0x200) <- main                  malloc, levels off
 *  3: C (prog+0x300) <- D (0x400) <- main     mmap
 *  4: E (prog+0x500) <- main                  malloc, shrinking
 */
static void scenario(struct rw *w, uint32_t pid, int nsnaps, uint64_t scale)
{
    rw_init(w);
    rw_magic(w);
    rw_header(w, 1, pid, 1, "/usr/bin/prog");
    rw_info(w, "jvm.reasonable_total", "50000000");
    uint64_t s1[] = {BASE + 0x10, BASE + 0x101, BASE + 0x901};
    uint64_t s2[] = {BASE + 0x10, BASE + 0x201, BASE + 0x901};
    uint64_t s3[] = {BASE + 0x20, BASE + 0x301, BASE + 0x401, BASE + 0x901};
    uint64_t s4[] = {BASE + 0x10, BASE + 0x501, BASE + 0x901};
    rw_stack(w, 1, s1, 3);
    rw_stack(w, 2, s2, 3);
    rw_stack(w, 3, s3, 4);
    rw_stack(w, 4, s4, 3);
    for (int i = 0; i < nsnaps; i++) {
        uint64_t k = (uint64_t)i + 1;
        rw_snap_begin(w, (uint32_t)i, i == nsnaps - 1 ? 1 : 2, k * 1000000000ull);
        rw_maps_one(w, BASE, BASE + 0x10000, "/usr/bin/prog");
        rw_counter(w, "proc.rss", (int64_t)(60 * MiB));
        rw_counter(w, "mallinfo.arena", (int64_t)(30 * MiB));
        rw_counter(w, "mallinfo.uordblks", (int64_t)(25 * MiB));
        rw_counter(w, "mallinfo.hblkhd", 0);
        rw_counter(w, "rec.ring_drops", 3);
        uint64_t level = k < 4 ? k : 4;
        struct rw_site s[4] = {
            {1, 1, k * MiB * scale, k * 10, k * MiB * scale, k * 10, k, k, 0, 0},
            {2, 1, level * MiB, level, level * MiB, level, 1, 1, 0, 0},
            {3, 2, 0, 0, 0, 0, 0, 0, 16 * MiB, 4 * MiB * k},
            {4, 1, (uint64_t)(nsnaps + 1 - i) * 1024, 1, 100 * 1024, 5, 1, 1, 0, 0},
        };
        rw_sites(w, s, 4);
        rw_snap_end(w, (uint32_t)i, 4);
    }
}

/* nmreport's pipeline (report_run.h); a refused option or file fails the test. */
static int run(struct rr_run *r, struct rw *files, size_t nfiles, struct rw *base,
               const char **args)
{
    int rc = rr_run(r, files, nfiles, base, args);
    cr_assert(!r->setup_failed, "%s", r->err);
    return rc;
}

#define HAS(r, s) cr_assert(strstr((r)->out, (s)), "missing \"%s\" in:\n%s", (s), (r)->out)
#define HASNT(r, s)                                                                                \
    cr_assert_null(strstr((r)->out, (s)), "unexpected \"%s\" in:\n%s", (s), (r)->out)

/* One SMAPS entry (docs/FORMAT.md). */
static void smaps_entry(struct rw *w, uint64_t start, uint64_t rss, uint32_t kind, uint32_t rstack,
                        uint32_t cstack)
{
    rw_u64(w, start);
    rw_u64(w, start + rss);
    rw_u64(w, rss);
    rw_u64(w, kind == NMT_SMAPS_FILE ? 0 : rss);
    rw_u64(w, 0);
    rw_u32(w, NMT_MAP_R | NMT_MAP_W);
    rw_u32(w, kind);
    rw_u32(w, rstack);
    rw_u32(w, cstack);
    rw_u32(w, 0);
    rw_u32(w, 0);
}

/* Two snapshots whose mmap commits (400 MiB) far exceed RSS (20 MiB),
 * with a SMAPS record each unless without_smaps; glibc's hblkhd (100 MiB)
 * exceeds the anonymous memory nobody recorded. */
static void resident_scenario(struct rw *w, int without_smaps)
{
    rw_init(w);
    rw_magic(w);
    rw_header(w, 1, 10, 1, "/usr/bin/prog");
    uint64_t st[] = {BASE + 0x10, BASE + 0x301, BASE + 0x901};
    rw_stack(w, 1, st, 3);
    for (uint32_t i = 0; i < 2; i++) {
        rw_snap_begin(w, i, i ? 1 : 2, (i + 1) * 1000000000ull);
        rw_maps_one(w, BASE, BASE + 0x10000, "/usr/bin/prog");
        if (!without_smaps) {
            rw_u32(w, 5);
            smaps_entry(w, 0x1000000, 4 * MiB, NMT_SMAPS_BRK, 0, 0);
            smaps_entry(w, 0x20000000, 2 * MiB, NMT_SMAPS_ANON, 1, 1);
            smaps_entry(w, 0x40000000, 1 * MiB, NMT_SMAPS_ANON, 0, 0); /* an arena */
            smaps_entry(w, 0x50001000, (3 + i) * MiB, NMT_SMAPS_ANON, 0, 0);
            smaps_entry(w, 0x60000000, 10 * MiB, NMT_SMAPS_FILE, 0, 0);
            rw_end(w, NMT_REC_SMAPS);
        }
        rw_counter(w, "proc.rss", (int64_t)(20 * MiB));
        rw_counter(w, "mallinfo.arena", (int64_t)(5 * MiB));
        rw_counter(w, "mallinfo.uordblks", (int64_t)(4 * MiB));
        rw_counter(w, "mallinfo.hblkhd", (int64_t)(100 * MiB));
        struct rw_site site = {1, 2, 0, 0, 0, 0, 0, 0, 512 * MiB, 400 * MiB};
        rw_sites(w, &site, 1);
        rw_snap_end(w, i, 1);
    }
}

/* The figure of the --rss line that starts with what (after its indent). */
static const char *rss_line(const struct rr_run *r, const char *what)
{
    const char *l = strstr(r->out, what);
    cr_assert(l, "no line \"%s\" in:\n%s", what, r->out);
    return l + strlen(what);
}

Test(views, rss_untracked_never_negative)
{
    struct rw w;
    resident_scenario(&w, 0);
    struct rr_run r;
    cr_assert_eq(run(&r, &w, 1, NULL, (const char *[]){"--rss", NULL}), 0);
    /* The parts add up to the SMAPS total; the unowned anonymous memory
     * (4 MiB) is all glibc's by its hblkhd, so untracked is exactly 0. */
    HAS(&r, "  resident, by what holds it (SMAPS)               21.0 MiB");
    HAS(&r, "    malloc: glibc (heap, arenas, big chunks)        9.0 MiB");
    HAS(&r, "(4.0 MiB of it glibc's own mmapped chunks, by mallinfo hblkhd)");
    HAS(&r, "    mmap by owner                                   2.0 MiB");
    HAS(&r, "    files: other mapped files                      10.0 MiB");
    const char *u = rss_line(&r, "untracked anonymous memory");
    cr_assert(strncmp(u, "                          0 B", 29) == 0, "untracked: %.40s", u);
    for (const char *m = r.out; (m = strstr(m, " -")) != NULL; m++)
        cr_assert(m[2] < '0' || m[2] > '9', "a negative figure: %.60s", m);
    rr_done(&r);
    rw_free(&w);

    /* Without SMAPS the estimate RSS - held - committed is below 0: shown
     * as 0, with the reason. */
    resident_scenario(&w, 1);
    cr_assert_eq(run(&r, &w, 1, NULL, (const char *[]){"--rss", NULL}), 0);
    HAS(&r, "  untracked: RSS - malloc held - mmap committed          0 B  (committed exceeds "
            "what is resident by 485.0 MiB");
    rr_done(&r);
    rw_free(&w);
}

/* A JACCOUNTS record: a direct pool of 64 MiB in 64 buffers under a 66 MiB
 * limit, Metaspace well under its 1 GiB limit. */
static void jaccounts(struct rw *w, uint64_t taken)
{
    rw_u64(w, taken);
    rw_u32(w, 0x2f); /* pools, buffers, threads, classes, max_direct */
    rw_u32(w, 7);
    rw_u32(w, 6);
    rw_u32(w, 800);
    rw_u64(w, 800);
    rw_u64(w, 0);
    rw_u64(w, 66 * MiB);
    rw_u32(w, 1);
    rw_str(w, "Metaspace");
    rw_u32(w, 1);
    rw_u64(w, 3 * MiB);
    rw_u64(w, 4 * MiB);
    rw_u64(w, 1024 * MiB);
    rw_u32(w, 1);
    rw_str(w, "direct");
    rw_u64(w, 64);
    rw_u64(w, 64 * MiB);
    rw_u64(w, 64 * MiB);
    rw_u32(w, 0);
    rw_end(w, NMT_REC_JACCOUNTS);
}

Test(views, rss_jvm_accounts_limits_and_disagreement)
{
    struct rw w;
    rw_init(&w);
    rw_magic(&w);
    rw_header(&w, 1, 10, 1, "/usr/bin/java");
    rw_snap_begin(&w, 0, 1, 1000000000ull);
    rw_maps_one(&w, BASE, BASE + 0x10000, "/usr/bin/java");
    rw_counter(&w, "proc.rss", (int64_t)(80 * MiB));
    jaccounts(&w, RW_START_MONO + 1000000000ull + 2000000);
    rw_snap_end(&w, 0, 0);
    struct rr_run r;
    cr_assert_eq(run(&r, &w, 1, NULL, (const char *[]){"--rss", NULL}), 0);
    HAS(&r, "the JVM's own accounts (read 2 ms after the snapshot began)");
    HAS(&r, "  Metaspace: used 3.0 MiB, committed 4.0 MiB  (limit 1.0 GiB, 0%)");
    HAS(&r, "  buffer pool direct: 64 buffers, 64.0 MiB; nmtrace: 0 B live under "
            "DirectByteBuffer.<init>  (limit 66.0 MiB, 96%)");
    HAS(&r, "  NEAR A LIMIT: direct buffer memory 64.0 MiB of 66.0 MiB (96%): raise "
            "-XX:MaxDirectMemorySize");
    HASNT(&r, "NEAR A LIMIT: Metaspace");
    /* Every allocation recorded (rate 1), none under DirectByteBuffer. */
    HAS(&r, "  DISAGREE: direct buffer memory: the JVM counts 64.0 MiB, nmtrace 0 B");
    rr_done(&r);
    rw_free(&w);
}

Test(views, rss_within_total_but_still_growing)
{
    struct rw w;
    rw_init(&w);
    rw_magic(&w);
    rw_header(&w, 1, 10, 1, "/usr/bin/prog");
    for (uint32_t i = 0; i < 6; i++) {
        rw_snap_begin(&w, i, i == 5 ? 1 : 2, (i + 1) * 1000000000ull);
        rw_maps_one(&w, BASE, BASE + 0x10000, "/usr/bin/prog");
        rw_counter(&w, "proc.rss", (int64_t)((40 + 8 * i) * MiB));
        rw_snap_end(&w, i, 0);
    }
    struct rr_run r;
    /* A ceiling of 12 GiB, as the JDK's defaults give, must not hide it. */
    cr_assert_eq(run(&r, &w, 1, NULL, (const char *[]){"--rss", "--expect", "12G", NULL}), 0);
    HAS(&r, "verdict: RSS is within the reasonable total 12.0 GiB from --expect");
    HAS(&r, "; but RSS is STILL GROWING: 64.0 MiB -> 80.0 MiB over the last 3 snapshots (8.0 "
            "MiB/s); being within the total does not rule out a leak");
    rr_done(&r);
    rw_free(&w);
}

Test(views, text_default_is_last_snapshot_inuse_space)
{
    struct rw w;
    scenario(&w, 10, 6, 1);
    struct rr_run r;
    cr_assert_eq(run(&r, &w, 1, NULL, (const char *[]){NULL}), 0);
    /* seq 5: A 6 MiB, B 4 MiB, E 2 KiB */
    HAS(&r, "Total: 10.0 MiB inuse_space (snapshot 5 exit at 6.0s of f0.nmt)");
    HAS(&r, "flat  flat%   sum%");
    const char *a = strstr(r.out, "6.0 MiB  60.0%  60.0%"), *b = strstr(r.out, "4.0 MiB  40.0%");
    cr_assert(a && b && a < b, "%s", r.out);
    HAS(&r, "prog+0x100 [prog] (");
    HAS(&r, "prog+0x900 [prog]");
    cr_assert_eq(r.v.total[NMR_INUSE_SPACE], (int64_t)(10 * MiB + 2048));
    rr_done(&r);
    rw_free(&w);
}

Test(views, snapshot_selection_and_measures)
{
    struct rw w;
    scenario(&w, 10, 6, 1);
    struct rr_run r;
    cr_assert_eq(run(&r, &w, 1, NULL, (const char *[]){"--snapshot", "1", NULL}), 0);
    HAS(&r, "snapshot 1 interval at 2.0s");
    cr_assert_eq(r.v.total[NMR_INUSE_SPACE], (int64_t)(4 * MiB + 6 * 1024));
    rr_done(&r);
    cr_assert_eq(run(&r, &w, 1, NULL, (const char *[]){"--committed", NULL}), 0);
    HAS(&r, "Total: 24.0 MiB committed");
    HAS(&r, "prog+0x300");
    HASNT(&r, "prog+0x100");
    rr_done(&r);
    cr_assert_eq(run(&r, &w, 1, NULL, (const char *[]){"--reserved", NULL}), 0);
    HAS(&r, "Total: 16.0 MiB reserved");
    rr_done(&r);
    cr_assert_eq(run(&r, &w, 1, NULL, (const char *[]){"--alloc-objects", NULL}), 0);
    HAS(&r, "Total: 69 alloc_objects");
    rr_done(&r);
    cr_assert_eq(run(&r, &w, 1, NULL, (const char *[]){"--inuse-objects", NULL}), 0);
    HAS(&r, "Total: 65 inuse_objects");
    rr_done(&r);
    cr_assert_eq(run(&r, &w, 1, NULL, (const char *[]){"--alloc-space", NULL}), 0);
    cr_assert_eq(r.v.total[NMR_ALLOC_SPACE], (int64_t)(10 * MiB + 100 * 1024));
    rr_done(&r);
    cr_assert_eq(run(&r, &w, 1, NULL, (const char *[]){"--snapshot", "9", NULL}), -ENOENT);
    rr_done(&r);
    rw_free(&w);
}

Test(views, diff_keeps_negative_values)
{
    struct rw w;
    scenario(&w, 10, 6, 1);
    struct rr_run r;
    /* Later snapshot as the base: everything that grew is negative. */
    cr_assert_eq(
        run(&r, &w, 1, NULL, (const char *[]){"--snapshot", "1", "--base-snapshot", "5", NULL}), 0);
    HAS(&r, "minus snapshot 5 exit at 6.0s of f0.nmt");
    HAS(&r, "-4.0 MiB"); /* A: 2 - 6 */
    HAS(&r, "-2.0 MiB"); /* B: 2 - 4 */
    HAS(&r, "4.0 KiB");  /* E: 6 KiB - 2 KiB, the shrinking site */
    cr_assert_eq(r.v.total[NMR_INUSE_SPACE], (int64_t)(-6 * MiB + 4 * 1024));
    rr_done(&r);
    cr_assert_eq(run(&r, &w, 1, NULL, (const char *[]){"--base-snapshot", "0", "--tree", NULL}), 0);
    HAS(&r, "5.0 MiB");
    rr_done(&r);
    rw_free(&w);
}

Test(views, base_from_another_file_and_merging)
{
    struct rw a, b;
    scenario(&a, 10, 3, 1);
    scenario(&b, 11, 3, 2); /* A allocates twice as much in the second process */
    struct rr_run r;
    /* Different processes: rows are matched by symbolized frames. */
    cr_assert_eq(run(&r, &b, 1, &a, (const char *[]){"--base", "x", NULL}), 0);
    HAS(&r, "minus snapshot 2 exit at 3.0s of base.nmt");
    cr_assert_eq(r.v.total[NMR_INUSE_SPACE], (int64_t)(3 * MiB));
    cr_assert_eq(r.v.nrows, 1, "only stack A differs");
    rr_done(&r);
    struct rw both[2] = {a, b};
    cr_assert_eq(run(&r, both, 2, NULL, (const char *[]){NULL}), 0);
    HAS(&r, "snapshot 2 exit at 3.0s of f0.nmt + snapshot 2 exit at 3.0s of f1.nmt");
    /* A: 3 + 6 MiB, B: 3 + 3 MiB, E: 2 + 2 KiB */
    cr_assert_eq(r.v.total[NMR_INUSE_SPACE], (int64_t)(15 * MiB + 4 * 1024));
    cr_assert_eq(r.v.nrows, 4, "same stacks merged");
    HAS(&r, "9.0 MiB  60.0%");
    rr_done(&r);
    rw_free(&a);
    rw_free(&b);
}

Test(views, focus_ignore_nodecount_threshold)
{
    struct rw w;
    scenario(&w, 10, 6, 1);
    struct rr_run r;
    cr_assert_eq(run(&r, &w, 1, NULL, (const char *[]){"--focus", "0x2[0-9]+$", NULL}), 0);
    HAS(&r, "Selected: 4.0 MiB of 10.0 MiB (40.0%) --focus");
    HAS(&r, "prog+0x200");
    HASNT(&r, "prog+0x100");
    rr_done(&r);
    cr_assert_eq(run(&r, &w, 1, NULL, (const char *[]){"--ignore", "prog\\+0x100", NULL}), 0);
    HASNT(&r, "prog+0x100");
    HAS(&r, "prog+0x200");
    rr_done(&r);
    cr_assert_eq(run(&r, &w, 1, NULL, (const char *[]){"--nodecount", "1", NULL}), 0);
    HAS(&r, "prog+0x100");
    HASNT(&r, "prog+0x200 ");
    HAS(&r, "more below --nodecount/--threshold");
    rr_done(&r);
    cr_assert_eq(run(&r, &w, 1, NULL, (const char *[]){"--threshold", "50", NULL}), 0);
    HAS(&r, "prog+0x100");
    HASNT(&r, "prog+0x200 ");
    rr_done(&r);
    rw_free(&w);
}

Test(views, tree_and_callers)
{
    struct rw w;
    scenario(&w, 10, 6, 1);
    struct rr_run r;
    cr_assert_eq(run(&r, &w, 1, NULL, (const char *[]){"--tree", "--committed", NULL}), 0);
    /* site C at the top, its caller D indented, then main */
    const char *c = strstr(r.out, "\n  24.0 MiB 100.0%  prog+0x300");
    const char *d = strstr(r.out, "\n    24.0 MiB 100.0%  prog+0x400");
    const char *m = strstr(r.out, "\n      24.0 MiB 100.0%  prog+0x900");
    cr_assert(c && d && m && c < d && d < m, "%s", r.out);
    rr_done(&r);
    cr_assert_eq(run(&r, &w, 1, NULL, (const char *[]){"--tree", "--callers", "--committed", NULL}),
                 0);
    m = strstr(r.out, "\n  24.0 MiB 100.0%  prog+0x900");
    c = strstr(r.out, "\n      24.0 MiB 100.0%  prog+0x300");
    cr_assert(c && m && m < c, "%s", r.out);
    rr_done(&r);
    rw_free(&w);
}

Test(views, by_lib_by_class_stacks_collapsed)
{
    struct rw w;
    scenario(&w, 10, 6, 1);
    struct rr_run r;
    cr_assert_eq(run(&r, &w, 1, NULL, (const char *[]){"--by", "lib", NULL}), 0);
    HAS(&r, "100.0% 100.0%");
    HAS(&r, "  prog\n");
    rr_done(&r);
    cr_assert_eq(run(&r, &w, 1, NULL, (const char *[]){"--by", "class", NULL}), 0);
    HAS(&r, "class\n");
    rr_done(&r);
    cr_assert_eq(run(&r, &w, 1, NULL, (const char *[]){"--stacks", NULL}), 0);
    HAS(&r, "stack 1 (");
    HAS(&r, "#1  0x0000000010000101 prog+0x100 [prog]");
    HAS(&r, "<- allocation site");
    HAS(&r, "#0  0x0000000010000010");
    rr_done(&r);
    cr_assert_eq(run(&r, &w, 1, NULL, (const char *[]){"--collapsed", NULL}), 0);
    HAS(&r, "prog+0x900 [prog];prog+0x100 [prog];");
    HAS(&r, " 6291456\n");
    HAS(&r, "prog+0x900 [prog];prog+0x200 [prog];");
    rr_done(&r);
    rw_free(&w);
}

Test(views, json_has_top_sites_and_stacks)
{
    struct rw w;
    scenario(&w, 10, 6, 1);
    struct rr_run r;
    cr_assert_eq(run(&r, &w, 1, NULL, (const char *[]){"--json", NULL}), 0);
    HAS(&r, "\"nmreport_json\": 1");
    HAS(&r, "\"measure\": \"inuse_space\"");
    HAS(&r, "\"top_sites\": [\n    {\"function\": \"prog+0x100\"");
    HAS(&r, "\"inuse_space\": 6291456");
    HAS(&r, "\"addr\": \"0x10000101\"");
    HAS(&r, "\"proc.rss\": 62914560");
    HAS(&r, "\"jvm.reasonable_total\": \"50000000\"");
    HAS(&r, "\"base\": null");
    rr_done(&r);
    rw_free(&w);
}

Test(views, growth_verdicts)
{
    struct rw w;
    scenario(&w, 10, 9, 1);
    struct rr_run r;
    cr_assert_eq(run(&r, &w, 1, NULL, (const char *[]){"--growth", NULL}), 0);
    const char *leak = strstr(r.out, "leak-suspect    prog+0x100");
    const char *lev = strstr(r.out, "levels-off      prog+0x200");
    const char *st = strstr(r.out, "stable          prog+0x500");
    cr_assert(leak && lev && st && leak < lev && lev < st, "%s", r.out);
    HAS(&r, "1.0 MiB/s");
    rr_done(&r);
    rw_free(&w);
    scenario(&w, 10, 2, 1);
    cr_assert_eq(run(&r, &w, 1, NULL, (const char *[]){"--growth", NULL}), 0);
    HAS(&r, "fewer than 3 snapshots");
    HAS(&r, "growing         prog+0x100");
    rr_done(&r);
    rw_free(&w);
}

Test(views, timeline_stats_rss)
{
    struct rw w;
    scenario(&w, 10, 3, 1);
    struct rr_run r;
    cr_assert_eq(run(&r, &w, 1, NULL, (const char *[]){"--timeline", NULL}), 0);
    HAS(&r, "3 snapshots");
    HAS(&r, "    1       2.0s interval");
    HAS(&r, "prog+0x100 +1.0 MiB");
    rr_done(&r);
    cr_assert_eq(run(&r, &w, 1, NULL, (const char *[]){"--stats", NULL}), 0);
    HAS(&r, "rec.ring_drops");
    HAS(&r, "the recorder lost events");
    HAS(&r, "jvm.reasonable_total           50000000");
    rr_done(&r);
    cr_assert_eq(run(&r, &w, 1, NULL, (const char *[]){"--rss", NULL}), 0);
    HAS(&r, "  RSS (VmRSS)                                      60.0 MiB\n");
    HAS(&r, "  malloc: held by glibc (arena + hblkhd)           30.0 MiB\n");
    HAS(&r, "  malloc:   allocator overhead and free space       5.0 MiB\n");
    HAS(&r, "  mmap: committed (tracked)                        12.0 MiB\n");
    HAS(&r, "  untracked: RSS - malloc held - mmap committed     18.0 MiB");
    HAS(&r, "RSS is ABOVE the reasonable total 47.7 MiB");
    rr_done(&r);
    cr_assert_eq(run(&r, &w, 1, NULL, (const char *[]){"--rss", "--expect", "1G", NULL}), 0);
    HAS(&r, "within the reasonable total 1.0 GiB from --expect");
    rr_done(&r);
    rw_free(&w);
}

Test(views, units_and_option_errors)
{
    char b[32];
    cr_assert_str_eq(nmr_fmt_bytes(b, sizeof(b), 0), "0 B");
    cr_assert_str_eq(nmr_fmt_bytes(b, sizeof(b), 1023), "1023 B");
    cr_assert_str_eq(nmr_fmt_bytes(b, sizeof(b), 1024), "1.0 KiB");
    cr_assert_str_eq(nmr_fmt_bytes(b, sizeof(b), -1536), "-1.5 KiB");
    cr_assert_str_eq(nmr_fmt_bytes(b, sizeof(b), 12898534), "12.3 MiB");
    cr_assert_str_eq(nmr_fmt_bytes(b, sizeof(b), 1048575), "1.0 MiB");
    struct nmr_opts o;
    char err[256];
    char *a1[] = {"nmreport", "--tree", "--json", "f", NULL};
    cr_assert_eq(nmr__opts_parse(&o, 4, a1, stderr, err, sizeof(err)), -EINVAL);
    cr_assert(strstr(err, "choose one view"), "%s", err);
    char *a2[] = {"nmreport", "--focus", "(", "f", NULL};
    cr_assert_eq(nmr__opts_parse(&o, 4, a2, stderr, err, sizeof(err)), -EINVAL);
    cr_assert(strstr(err, "--focus"), "%s", err);
    char *a3[] = {"nmreport", "--threshold", "x", "f", NULL};
    cr_assert_eq(nmr__opts_parse(&o, 4, a3, stderr, err, sizeof(err)), -EINVAL);
    char *a4[] = {"nmreport", "--by", "func", "f", NULL};
    cr_assert_eq(nmr__opts_parse(&o, 4, a4, stderr, err, sizeof(err)), -EINVAL);
    char *a5[] = {"nmreport", NULL};
    cr_assert_eq(nmr__opts_parse(&o, 1, a5, stderr, err, sizeof(err)), -EINVAL);
    cr_assert(strstr(err, "no profile"), "%s", err);
    char *a6[] = {"nmreport", "--bogus", "f", NULL};
    cr_assert_eq(nmr__opts_parse(&o, 3, a6, stderr, err, sizeof(err)), -EINVAL);
    char *a7[] = {"nmreport", "f", "--tree", "--callers", "-o", "out", NULL};
    cr_assert_eq(nmr__opts_parse(&o, 6, a7, stderr, err, sizeof(err)), 0, "%s", err);
    cr_assert_str_eq(o.view, "tree");
    cr_assert(o.callers);
    cr_assert_str_eq(o.output, "out");
    cr_assert_eq(o.nfiles, 1);
    nmr__opts_free(&o);
}

/* JIT code: a native frame in the code cache is named from JCODE records
 * (the interpreter, a compiled method), a Java frame from JMETHOD. */
static void jcode(struct rw *w, uint32_t kind, uint64_t start, uint64_t size, uint32_t serial,
                  const char *name)
{
    rw_u32(w, kind);
    rw_u64(w, RW_START_MONO + 1000);
    rw_u64(w, start);
    rw_u64(w, size);
    rw_u32(w, serial);
    rw_str(w, name);
    rw_u32(w, 0); /* no PC descriptors */
    rw_end(w, NMT_REC_JCODE);
}

Test(views, java_and_jit_frames)
{
    struct rw w;
    const uint64_t cc = 0x7f0000000000ull;
    rw_init(&w);
    rw_magic(&w);
    rw_header(&w, 1, 12, 1, "/usr/bin/java");
    /* Two interpreter frames, compiled Foo.bar, then the Java frame of the
     * same Foo.bar activation. */
    uint64_t s1[] = {BASE + 0x10,
                     BASE + 0x101,
                     cc + 0x101,
                     cc + 0x181,
                     cc + 0x2011,
                     nmt_frame_java(7, 0, NMT_JFRAME_UNKNOWN),
                     nmt_frame_java(8, 3, 4)};
    /* Compiled Foo.bar alone, called from an unnamed method. */
    uint64_t s2[] = {BASE + 0x10, BASE + 0x101, cc + 0x2011, nmt_frame_java(8, 3, 4)};
    rw_stack(&w, 1, s1, 7);
    rw_stack(&w, 2, s2, 4);
    jcode(&w, 3, cc, 0x1000, 0, "Interpreter");
    jcode(&w, 1, cc + 0x2000, 0x100, 7, "");
    rw_u32(&w, 7);
    rw_u32(&w, 0);
    rw_u64(&w, 0x1234);
    rw_u32(&w, 1);
    rw_str(&w, "Lcom/acme/Foo;");
    rw_str(&w, "bar");
    rw_str(&w, "()V");
    rw_str(&w, "Foo.java");
    rw_u32(&w, 1);
    rw_u32(&w, 0);
    rw_u32(&w, 42);
    rw_end(&w, NMT_REC_JMETHOD);
    rw_snap_begin(&w, 0, 1, 1000000000ull);
    struct rw_map m[2] = {{BASE, BASE + 0x10000, 0, 5, "/usr/bin/prog"},
                          {cc, cc + 0x100000, 0, 7, ""}};
    rw_maps(&w, m, 2);
    /* Samples without a Java stack only because the bridge was not attached. */
    rw_counter(&w, "java.stacks", 5);
    rw_counter(&w, "java.err.not_attached", 3);
    rw_counter(&w, "java.err.not_java_thread", 9);
    struct rw_site st[2] = {{1, 1, MiB, 1, MiB, 1, 1, 1, 0, 0}, {2, 1, MiB, 1, MiB, 1, 1, 1, 0, 0}};
    rw_sites(&w, st, 2);
    rw_snap_end(&w, 0, 2);
    struct rr_run r;
    cr_assert_eq(run(&r, &w, 1, NULL, (const char *[]){"--stacks", NULL}), 0);
    /* The two interpreter frames are one frame that says why they are unnamed. */
    HASNT(&r, " Interpreter (jit)");
    const char *label =
        strstr(r.out, " [interpreted Java frames, not named: before the JVM bridge attached]");
    cr_assert(label, "no interpreter label in:\n%s", r.out);
    cr_assert_null(strstr(label + 1, " [interpreted Java frames"), "folded twice:\n%s", r.out);
    /* Stack 1: compiled Foo.bar and its Java frame are one frame. */
    const char *t1 = strstr(r.out, "stack 1 "), *t2 = strstr(r.out, "stack 2 ");
    cr_assert(t1 && t2 && t1 < t2, "%s", r.out);
    const char *first = strstr(t1, "com.acme.Foo.bar");
    cr_assert(first && first < t2 &&
                  strncmp(first, "com.acme.Foo.bar(Foo.java:42) (java)", 36) == 0,
              "%s", r.out);
    const char *again = strstr(first + 1, "com.acme.Foo.bar");
    cr_assert(again == NULL || again > t2, "Foo.bar twice in stack 1:\n%s", r.out);
    /* Stack 2: compiled Foo.bar named from JCODE as a Java frame is. */
    HAS(&r, "com.acme.Foo.bar(Foo.java) (java)");
    HAS(&r, " java:8@3 (java)"); /* a serial without JMETHOD */
    rr_done(&r);
    cr_assert_eq(run(&r, &w, 1, NULL, (const char *[]){"--by", "class", NULL}), 0);
    HAS(&r, "  java\n");
    HAS(&r, "  jit\n");
    rr_done(&r);
    rw_free(&w);
}

/* A perf map's spellings of Java methods are the report's. */
Test(views, java_canonical_names)
{
    char b[128];
    cr_assert(nmr__java_canonical("long NativeLib.leak(int, int)", b, sizeof(b)));
    cr_assert_str_eq(b, "NativeLib.leak");
    cr_assert(nmr__java_canonical("void java.nio.Bits.reserveMemory(long, long)", b, sizeof(b)));
    cr_assert_str_eq(b, "java.nio.Bits.reserveMemory");
    cr_assert(nmr__java_canonical("Ljava/nio/Bits;::reserveMemory", b, sizeof(b)));
    cr_assert_str_eq(b, "java.nio.Bits.reserveMemory");
    cr_assert(nmr__java_canonical("java.nio.Bits::reserveMemory(JJ)V", b, sizeof(b)));
    cr_assert_str_eq(b, "java.nio.Bits.reserveMemory");
    cr_assert(nmr__java_canonical("java.lang.Object.<init>()", b, sizeof(b)));
    cr_assert_str_eq(b, "java.lang.Object.<init>");
    cr_assert_not(nmr__java_canonical("StubRoutines (1)", b, sizeof(b)));
    cr_assert_not(nmr__java_canonical("Interpreter", b, sizeof(b)));
    cr_assert_not(nmr__java_canonical("long NativeLib.leak(int, int)", b, 8)); /* too small */
}

#ifdef NMR_HAVE_NMSYM
/* Real functions of this test program, for the symbol options. */
__attribute__((noinline, used)) int nmr_test_site_fn(int x)
{
    volatile int v = x * 7 + 3;
    v = v * 5 + 1;
    return v;
}

static char self_dir[4096];

static const char *self_base(void)
{
    ssize_t n = readlink("/proc/self/exe", self_dir, sizeof(self_dir) - 1);
    self_dir[n > 0 ? n : 0] = 0;
    char *slash = strrchr(self_dir, '/');
    *slash = 0;
    return slash + 1;
}

Test(views, symbols_from_and_perf_map)
{
    const uint64_t jit = 0x7e0000000000ull;
    char exe_as[512], map_path[] = "/tmp/nmr_test_perfmap_XXXXXX";
    snprintf(exe_as, sizeof(exe_as), "/gone/elsewhere/%s", self_base());
    struct rw w;
    rw_init(&w);
    rw_magic(&w);
    rw_header(&w, 1, 999999, 1, exe_as);
    uint64_t s1[] = {BASE + 0x10, (uint64_t)(uintptr_t)nmr_test_site_fn + 12, jit + 0x101};
    rw_stack(&w, 1, s1, 3);
    rw_snap_begin(&w, 0, 1, 1000000000ull);
    rw_maps_self_as(&w, exe_as);
    struct rw_site st = {1, 1, MiB, 1, MiB, 1, 1, 1, 0, 0};
    rw_sites(&w, &st, 1);
    rw_snap_end(&w, 0, 1);
    int fd = mkstemp(map_path);
    cr_assert(fd >= 0);
    dprintf(fd, "%llx 200 LambdaForm$MH.invokeExact_MT\n", (unsigned long long)jit);
    close(fd);

    struct rr_run r;
    /* The binary is not where the profile says: names from the mappings only. */
    cr_assert_eq(run(&r, &w, 1, NULL, (const char *[]){"--stacks", NULL}), 0);
    HASNT(&r, "nmr_test_site_fn");
    HASNT(&r, "LambdaForm");
    rr_done(&r);
    cr_assert_eq(
        run(&r, &w, 1, NULL,
            (const char *[]){"--stacks", "--symbols-from", self_dir, "--perf-map", map_path, NULL}),
        0);
    HAS(&r, " nmr_test_site_fn ");
    HAS(&r, " LambdaForm$MH.invokeExact_MT");
    rr_done(&r);
    unlink(map_path);
    rw_free(&w);
}
#endif

/* --rss names the mmaps it cannot put in a category by --key: the owner's
 * frame "function [lib]" by default and for owner, the allocation site with
 * its class for site, and for path the site alone when the owner is the
 * site itself (as in this native program). */
Test(views, rss_mmap_by_key)
{
    const char *keys[] = {NULL, "owner", "site", "path"};
    const char *want[] = {"      prog+0x300 [prog]      ", "      prog+0x300 [prog]      ",
                          "      prog+0x300 [prog] (exe)  ", "      prog+0x300 [prog] (exe)  "};
    for (int k = 0; k < 4; k++) {
        struct rw w;
        resident_scenario(&w, 0);
        struct rr_run r;
        const char *args[] = {"--rss", keys[k] ? "--key" : NULL, keys[k], NULL};
        cr_assert_eq(run(&r, &w, 1, NULL, args), 0);
        HAS(&r, want[k]);
        rr_done(&r);
        rw_free(&w);
    }
}
