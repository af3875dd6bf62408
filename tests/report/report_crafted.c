/*
 * report_crafted.c: writes checksum-valid profiles whose figures are the
 * extremes a damaged or hostile file can hold, for nmreport's robustness
 * test (tests/report/report_crafted.py) and the fuzz corpus (tests/report/fuzz/corpus/).
 *
 *   report_crafted DIR [FRAMES]
 *
 * writes into DIR:
 *   deep.nmt     one stack of FRAMES distinct frames (default 400000), far
 *                deeper than any C stack could recurse
 *   u64max.nmt   every site figure UINT64_MAX, counters INT64_MAX
 *   i64max.nmt   every site figure INT64_MAX on several stacks (sums overflow)
 *   i64min.nmt   every site figure 2^63 (INT64_MIN as a signed value),
 *                counters INT64_MIN
 *   mixed.nmt    huge bytes over zero objects and samples, and the reverse;
 *                figures that go 0 -> max -> 0 across snapshots
 *   header.nmt   rate, depth, page size and start times at their extremes,
 *                snapshot times before the start and at UINT64_MAX, and a
 *                mapping that covers the whole address space
 *   rate0.nmt    rate 0 and page size 0
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nmt_format.h"
#include "report_writer.h"

#define NSTACKS 4
#define I64MIN  ((uint64_t)1 << 63)

static const char *const counter_names[] = {
    "proc.rss",
    "proc.hwm",
    "proc.vmsize",
    "proc.threads",
    "mallinfo.arena",
    "mallinfo.hblkhd",
    "mallinfo.uordblks",
    "mallinfo.hblks",
    "rec.ring_drops",
    "rec.ring_drop_bytes",
    "rec.free_drops",
    "rec.bootstrap_bytes",
    "rec.unwind_errors",
    "rec.truncated_stacks",
    "jvm.reasonable_total",
};
#define NCOUNTERS (sizeof(counter_names) / sizeof(counter_names[0]))

static int save(struct rw *w, const char *dir, const char *name)
{
    char path[4096];
    snprintf(path, sizeof(path), "%s/%s", dir, name);
    int rc = rw_save(w, path);
    if (rc != 0)
        fprintf(stderr, "report_crafted: cannot write %s\n", path);
    rw_free(w);
    return rc;
}

/* Header and NSTACKS short stacks. */
static void start(struct rw *w, const struct rw_hdr *h)
{
    rw_init(w);
    rw_magic(w);
    rw_header_full(w, h);
    rw_info(w, "crafted", "yes");
    for (uint32_t id = 1; id <= NSTACKS; id++) {
        uint64_t frames[3] = {0x401000 + id * 0x10, 0x402000 + id * 0x10, 0x403000};
        rw_stack(w, id, frames, 3);
    }
}

static const struct rw_hdr plain_hdr = {NMT_FORMAT_VERSION, 4242, 1,  0,    1700000000000000000ull,
                                        RW_START_MONO,      1,    64, 4096, "/nonexistent/crafted"};

/* One snapshot: every site figure v, every counter c. */
static void snap_all(struct rw *w, uint32_t seq, uint64_t t, uint64_t v, int64_t c)
{
    struct rw_site s[NSTACKS];
    rw_snap_begin(w, seq, NMT_SNAP_INTERVAL, t);
    rw_maps_one(w, 0x400000, 0x800000, "/nonexistent/crafted");
    for (size_t i = 0; i < NCOUNTERS; i++)
        rw_counter(w, counter_names[i], c);
    for (uint32_t i = 0; i < NSTACKS; i++)
        s[i] = (struct rw_site){i + 1, i % 2 ? NMT_SITE_MMAP : NMT_SITE_MALLOC, v, v, v, v, v, v, v,
                                v};
    rw_sites(w, s, NSTACKS);
    rw_snap_end(w, seq, NSTACKS);
}

static int uniform(const char *dir, const char *name, uint64_t v, int64_t c)
{
    struct rw w;
    start(&w, &plain_hdr);
    snap_all(&w, 0, 1000000000ull, 0, 0);
    snap_all(&w, 1, 2000000000ull, v, c);
    snap_all(&w, 2, 3000000000ull, v, c);
    return save(&w, dir, name);
}

static int deep(const char *dir, uint32_t n)
{
    struct rw w;
    uint64_t *frames = malloc((size_t)n * sizeof(*frames));
    if (frames == NULL)
        return 1;
    /* Distinct addresses: no two levels of the tree merge. */
    for (uint32_t i = 0; i < n; i++)
        frames[i] = 0x401000 + (uint64_t)i * 4;
    rw_init(&w);
    rw_magic(&w);
    rw_header_full(&w, &(struct rw_hdr){NMT_FORMAT_VERSION, 4242, 1, 0, 1700000000000000000ull,
                                        RW_START_MONO, 1, n, 4096, "/nonexistent/crafted"});
    rw_stack(&w, 1, frames, n);
    rw_stack(&w, 2, frames + n / 2, n - n / 2);
    free(frames);
    for (uint32_t seq = 0; seq < 2; seq++) {
        struct rw_site s[2] = {{1, NMT_SITE_MALLOC, 4096, 1, 4096, 1, 1, 1, 0, 0},
                               {2, NMT_SITE_MALLOC, 8192 * (seq + 1), 2, 8192, 2, 2, 2, 0, 0}};
        rw_snap_begin(&w, seq, NMT_SNAP_INTERVAL, 1000000000ull * (seq + 1));
        rw_maps_one(&w, 0x400000, 0x401000 + (uint64_t)n * 4 + 0x1000, "/nonexistent/crafted");
        rw_counter(&w, "proc.rss", 1 << 20);
        rw_sites(&w, s, 2);
        rw_snap_end(&w, seq, 2);
    }
    return save(&w, dir, "deep.nmt");
}

static int mixed(const char *dir)
{
    struct rw w;
    start(&w, &plain_hdr);
    const uint64_t vals[3][2] = {{0, 0}, {UINT64_MAX, INT64_MAX}, {0, 1}};
    for (uint32_t seq = 0; seq < 3; seq++) {
        uint64_t a = vals[seq][0], b = vals[seq][1];
        struct rw_site s[NSTACKS] = {
            /* bytes without objects or samples, and the reverse */
            {1, NMT_SITE_MALLOC, a, 0, a, 0, 0, 0, 0, 0},
            {2, NMT_SITE_MALLOC, 0, a, 0, a, a, a, 0, 0},
            {3, NMT_SITE_MMAP, b, b, b, b, 0, 0, a, b},
            {4, NMT_SITE_MALLOC | NMT_SITE_MMAP, b, 1, b, 1, 1, 1, b, a},
        };
        rw_snap_begin(&w, seq, NMT_SNAP_GROWTH, 1000000000ull * (seq + 1));
        rw_maps_one(&w, 0x400000, 0x800000, "/nonexistent/crafted");
        rw_counter(&w, "proc.rss", (int64_t)b);
        rw_counter(&w, "mallinfo.arena", INT64_MIN);
        rw_counter(&w, "mallinfo.hblkhd", INT64_MAX);
        rw_counter(&w, "mallinfo.uordblks", (int64_t)b);
        rw_sites(&w, s, NSTACKS);
        rw_snap_end(&w, seq, NSTACKS);
    }
    return save(&w, dir, "mixed.nmt");
}

static int header(const char *dir, uint64_t rate, uint32_t page, const char *name)
{
    struct rw w;
    struct rw_hdr h = {
        NMT_FORMAT_VERSION, UINT32_MAX, UINT32_MAX, UINT32_MAX, UINT64_MAX,
        UINT64_MAX / 2,     rate,       UINT32_MAX, page,       "/nonexistent/crafted"};
    const struct rw_map whole = {0, UINT64_MAX, UINT64_MAX, 7, "/nonexistent/whole"};
    const uint64_t mono[3] = {0, UINT64_MAX / 2 - 1, UINT64_MAX};
    start(&w, &h);
    for (uint32_t seq = 0; seq < 3; seq++) {
        struct rw_site s = {1, NMT_SITE_MALLOC, INT64_MAX, 1, INT64_MAX, 1, 1, 1, 0, 0};
        rw_snap_begin_at(&w, seq == 2 ? UINT32_MAX : seq, (uint32_t)-1, mono[2 - seq], mono[seq]);
        rw_maps(&w, &whole, 1);
        rw_counter(&w, "proc.rss", INT64_MAX);
        rw_sites(&w, &s, 1);
        rw_snap_end(&w, seq == 2 ? UINT32_MAX : seq, 1);
    }
    return save(&w, dir, name);
}

int main(int argc, char **argv)
{
    unsigned long frames = 400000;
    char *end;
    if (argc < 2 || argc > 3) {
        fprintf(stderr, "usage: report_crafted DIR [FRAMES]\n");
        return 2;
    }
    if (argc == 3) {
        frames = strtoul(argv[2], &end, 10);
        if (*end != '\0' || frames < 2 || frames > UINT32_MAX) {
            fprintf(stderr, "report_crafted: FRAMES must be a number from 2 to %u\n", UINT32_MAX);
            return 2;
        }
    }
    int rc = 0;
    rc |= deep(argv[1], (uint32_t)frames);
    rc |= uniform(argv[1], "u64max.nmt", UINT64_MAX, INT64_MAX);
    rc |= uniform(argv[1], "i64max.nmt", INT64_MAX, INT64_MAX);
    rc |= uniform(argv[1], "i64min.nmt", I64MIN, INT64_MIN);
    rc |= mixed(argv[1]);
    rc |= header(argv[1], UINT64_MAX, UINT32_MAX, "header.nmt");
    rc |= header(argv[1], 0, 0, "rate0.nmt");
    return rc != 0;
}
