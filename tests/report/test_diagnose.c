/*
 * test_diagnose.c: nmreport --diagnose on synthetic profiles of a native
 * program (report_writer.h): a leak is the first finding and a leak suspect;
 * a series that levels off is not; a one-off allocation at the end of the run
 * and a trickle, both below 2 MiB of growth, are never leak suspects; one snapshot is judged by
 * nobody;
 * --fail-on's exit status and threshold; the JSON form.
 *
 * Stacks (frame 0 is the entry point, then return addresses in "prog"):
 *  1: leak  (prog+0x100)  4 MiB more at every snapshot
 *  2: cache (prog+0x200)  fills 3 MiB over the first third, then flat
 *  3: once  (prog+0x300)  1.5 MiB allocated once, just before the last snapshot
 *  4: drip  (prog+0x400)  128 KiB more at every snapshot
 */
#include <criterion/criterion.h>
#include <string.h>

#include "report_run.h"
#include "report_writer.h"
#include "nmr_jvmcheck.h"

#define MiB  (1024ull * 1024)
#define KiB  1024ull
#define BASE 0x10000000ull

static void scenario(struct rw *w, int nsnaps)
{
    rw_init(w);
    rw_magic(w);
    rw_header(w, 1, 77, 1, "/usr/bin/prog");
    for (uint32_t id = 1; id <= 4; id++) {
        uint64_t f[] = {BASE + 0x10, BASE + id * 0x100 + 1, BASE + 0x901};
        rw_stack(w, id, f, 3);
    }
    for (int i = 0; i < nsnaps; i++) {
        uint64_t k = (uint64_t)i + 1, filled = k < 3 ? k : 3, last = i == nsnaps - 1 && i > 0;
        rw_snap_begin(w, (uint32_t)i, i == nsnaps - 1 ? 1 : 2, k * 1000000000ull);
        rw_maps_one(w, BASE, BASE + 0x10000, "/usr/bin/prog");
        rw_counter(w, "proc.rss", (int64_t)(64 * MiB));
        struct rw_site s[4] = {
            {1, 1, 4 * MiB * k, 4 * k, 4 * MiB * k, 4 * k, 4 * k, 4 * k, 0, 0},
            {2, 1, MiB * filled, filled, MiB * filled, filled, filled, filled, 0, 0},
            {3, 1, last ? 1536 * KiB : 0, last, last ? 1536 * KiB : 0, last, last, last, 0, 0},
            {4, 1, 128 * KiB * k, k, 128 * KiB * k, k, k, k, 0, 0},
        };
        rw_sites(w, s, 4);
        rw_snap_end(w, (uint32_t)i, 4);
    }
}

static int diagnose(struct rr_run *r, struct rw *w, const char **args)
{
    int rc = rr_run(r, w, 1, NULL, args);
    cr_assert(!r->setup_failed, "%s", r->err);
    return rc;
}

/* The text of finding n ("n. " up to the next finding or the end). */
static char *finding(const char *out, int n, char *buf, size_t len)
{
    char head[16], next[16]; /* room for any int */
    snprintf(head, sizeof(head), "\n%d. ", n);
    snprintf(next, sizeof(next), "\n%d. ", n + 1);
    const char *a = strstr(out, head), *b = a ? strstr(a + 1, next) : NULL;
    size_t n0 = a ? (b ? (size_t)(b - a) : strlen(a)) : 0;
    if (n0 >= len)
        n0 = len - 1;
    memcpy(buf, a ? a : "", n0);
    buf[n0] = 0;
    return buf;
}

Test(diagnose, leak_first_cache_levels_off_small_never_leaks)
{
    struct rw w;
    scenario(&w, 9);
    struct rr_run r;
    cr_assert_eq(diagnose(&r, &w, (const char *[]){"--diagnose", NULL}), 0);
    char f[4096];
    finding(r.out, 1, f, sizeof(f));
    cr_assert(strstr(f, "native code leak: leak-suspect"), "%s", r.out);
    cr_assert(strstr(f, "prog+0x100"), "%s", f);
    cr_assert(strstr(f, "36.0 MiB now, +32.0 MiB"), "%s", f);
    cr_assert(strstr(f, "exact"), "NMTRACE_RATE=1 is no estimate: %s", f);
    /* Exactly one leak suspect: not the cache, the one-off or the trickle. */
    cr_assert_null(strstr(strstr(r.out, "leak-suspect") + 1, "leak-suspect"), "%s", r.out);
    cr_assert(strstr(r.out, "levels-off\n   owner       prog+0x200"), "%s", r.out);
    cr_assert(strstr(r.out, "business-growth\n   owner       prog+0x300"), "%s", r.out);
    cr_assert(strstr(r.out, "business-growth\n   owner       prog+0x400"), "%s", r.out);
    rr_done(&r);
    rw_free(&w);
}

Test(diagnose, one_snapshot_is_unjudged)
{
    struct rw w;
    scenario(&w, 1);
    struct rr_run r;
    cr_assert_eq(diagnose(&r, &w, (const char *[]){"--diagnose", NULL}), 0);
    cr_assert(strstr(r.out, "too few snapshots"), "%s", r.out);
    cr_assert_null(strstr(r.out, "leak-suspect"), "%s", r.out);
    cr_assert(strstr(r.out, "1. native code leak: unjudged"), "%s", r.out);
    rr_done(&r);
    rw_free(&w);
}

Test(diagnose, fail_on_gates_by_size)
{
    struct rw w;
    scenario(&w, 9);
    struct rr_run r;
    cr_assert_eq(
        diagnose(&r, &w, (const char *[]){"--diagnose", "--fail-on", "leak-suspect", NULL}), 3);
    rr_done(&r);
    cr_assert_eq(
        diagnose(&r, &w, (const char *[]){"--diagnose", "--fail-on", "leak-suspect:32m", NULL}), 3);
    rr_done(&r);
    cr_assert_eq(
        diagnose(&r, &w, (const char *[]){"--diagnose", "--fail-on", "leak-suspect:1g", NULL}), 0);
    rr_done(&r);
    rw_free(&w);
    scenario(&w, 1);
    cr_assert_eq(
        diagnose(&r, &w, (const char *[]){"--diagnose", "--fail-on", "leak-suspect", NULL}), 0,
        "one snapshot judges no leak");
    rr_done(&r);
    rw_free(&w);
}

Test(diagnose, json)
{
    struct rw w;
    scenario(&w, 9);
    struct rr_run r;
    cr_assert_eq(
        diagnose(&r, &w, (const char *[]){"--diagnose", "--json", "--nodecount", "1", NULL}), 0);
    cr_assert(strncmp(r.out, "{\"profiles\":[{\"file\":", 21) == 0, "%s", r.out);
    cr_assert(strstr(r.out, "\"findings\":[{\"cause\":\"native-code\",\"title\":\"native code "
                            "leak\",\"verdict\":\"leak-suspect\""),
              "%s", r.out);
    cr_assert(strstr(r.out, "\"bytes\":37748736,\"growth\":33554432"), "%s", r.out);
    cr_assert_null(strstr(r.out, "prog+0x200"), "--nodecount 1 keeps one finding: %s", r.out);
    rr_done(&r);
    rw_free(&w);
}

Test(diagnose, bad_options)
{
    struct rw w;
    scenario(&w, 3);
    struct rr_run r;
    const char *bad[][4] = {{"--diagnose", "--fail-on", "leak", NULL},
                            {"--diagnose", "--fail-on", "leak-suspect:lots", NULL},
                            {"--growth", "--fail-on", "leak-suspect", NULL},
                            {"--key", "function", NULL, NULL}};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        rr_run(&r, &w, 1, NULL, bad[i]);
        cr_assert(r.setup_failed, "%s %s accepted", bad[i][0], bad[i][1]);
        cr_assert(strstr(r.err, "--fail-on") || strstr(r.err, "--key"), "%s", r.err);
        rr_done(&r);
    }
    rw_free(&w);
}

/* The one near-limit test of --rss and --diagnose: 90 % of the limit and
 * more, never for a missing (0) or negative limit. */
Test(diagnose, near_limit_one_threshold)
{
    cr_assert(!nmr_jvm_near_limit(89, 100));
    cr_assert(nmr_jvm_near_limit(90, 100));
    cr_assert(nmr_jvm_near_limit(120, 100));
    cr_assert(!nmr_jvm_near_limit(80 << 20, 100 << 20)); /* 80 %: not near */
    cr_assert(!nmr_jvm_near_limit(5, 0));
    cr_assert(!nmr_jvm_near_limit(5, -1));
    cr_assert(nmr_jvm_near_limit(INT64_MAX, INT64_MAX));
}

/* A series that grew up to the last growth snapshot and is flat only in
 * the one step to the exit snapshot (1, 2, 3, 3 MiB) has not shown that it
 * levels off: that needs two flat steps (the same cache over 9 snapshots
 * levels off, above). */
Test(diagnose, one_late_step_is_no_levelling)
{
    struct rw w;
    scenario(&w, 4);
    struct rr_run r;
    cr_assert_eq(diagnose(&r, &w, (const char *[]){"--diagnose", NULL}), 0);
    cr_assert_null(strstr(r.out, "levels-off\n   owner       prog+0x200"), "%s", r.out);
    cr_assert(strstr(r.out, "\n   owner       prog+0x200"), "%s", r.out);
    rr_done(&r);
    rw_free(&w);
}

/* A profile whose one native site holds mib[i] MiB at snapshot i, taken
 * ms[i] ms after the start: growth snapshots, the last one the exit's. */
static void one_series(struct rw *w, const uint64_t *mib, const uint64_t *ms, int n)
{
    rw_init(w);
    rw_magic(w);
    rw_header(w, 1, 77, 1, "/usr/bin/prog");
    uint64_t f[] = {BASE + 0x10, BASE + 0x100 + 1, BASE + 0x901};
    rw_stack(w, 1, f, 3);
    for (int i = 0; i < n; i++) {
        rw_snap_begin(w, (uint32_t)i, i == n - 1 ? 1 : 3, ms[i] * 1000000ull);
        rw_maps_one(w, BASE, BASE + 0x10000, "/usr/bin/prog");
        rw_counter(w, "proc.rss", (int64_t)(200 * MiB));
        struct rw_site s = {1, 1, mib[i] * MiB, mib[i], mib[i] * MiB, mib[i], mib[i], mib[i], 0, 0};
        rw_sites(w, &s, 1);
        rw_snap_end(w, (uint32_t)i, 1);
    }
}

/* A leak whose first growth snapshots a busy writer took late (three
 * large steps, then one per 2 MiB up to the end) and whose exit snapshot
 * came long after its last growth (the process's exit took that long):
 * both halves of the run look like levelling, but the series never stayed
 * flat while the process ran. It is a leak suspect, not a levels-off. */
Test(diagnose, exit_pause_is_no_plateau)
{
    static const uint64_t mib[] = {2, 45, 100, 103, 105, 108, 110, 112, 115, 116};
    static const uint64_t ms[] = {100, 200, 300, 400, 402, 404, 406, 408, 410, 700};
    const int n = (int)(sizeof(mib) / sizeof(mib[0]));
    struct rw w;
    one_series(&w, mib, ms, n);
    struct rr_run r;
    cr_assert_eq(diagnose(&r, &w, (const char *[]){"--diagnose", NULL}), 0);
    cr_assert(strstr(r.out, "1. native code leak: leak-suspect"), "%s", r.out);
    rr_done(&r);
    rw_free(&w);
}

/* A cache that began to fill only after a long start-up (empty in the
 * snapshots of the first 3 s, full 0.4 s later, then flat for 0.3 s) has
 * levelled off: its growth is timed from its last empty snapshot, not from
 * the process's start, which would ask for 1.7 s of flat. */
Test(diagnose, growth_is_timed_from_the_last_empty_snapshot)
{
    static const uint64_t mib[] = {0, 0, 0, 0, 1, 2, 3, 4, 4, 4, 4, 4};
    static const uint64_t ms[] = {500,  1000, 2000, 3000, 3100, 3200,
                                  3300, 3400, 3500, 3600, 3700, 3710};
    const int n = (int)(sizeof(mib) / sizeof(mib[0]));
    struct rw w;
    one_series(&w, mib, ms, n);
    struct rr_run r;
    cr_assert_eq(diagnose(&r, &w, (const char *[]){"--diagnose", NULL}), 0);
    cr_assert(strstr(r.out, "levels-off"), "%s", r.out);
    cr_assert_null(strstr(r.out, "leak-suspect"), "%s", r.out);
    rr_done(&r);
    rw_free(&w);
}
