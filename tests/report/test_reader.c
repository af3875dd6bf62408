/*
 * test_reader.c: the profile reader (report/model/nmr_reader.c) against the
 * reading rules of docs/FORMAT.md: a good file in every detail, a cut at
 * every byte offset, checksum damage in the middle and at the end, empty,
 * non-profile and future-version files, bad lengths and inconsistent
 * records, unknown records and longer payloads (skipped / ignored).
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "nmt_format.h"
#include "nmr_profile.h"
#include "report_writer.h"

/* Offsets where each SNAP_END record ends, filled by build(). */
static size_t snap_ends[8];
static size_t nsnap_ends;

static void build(struct rw *w, uint32_t version)
{
    rw_init(w);
    rw_magic(w);
    rw_header(w, version, 321, 4096, "/usr/bin/prog");
    rw_info(w, "config.RATE", "4096");
    rw_info(w, "config.RATE", "8192"); /* a later value replaces */
    uint64_t f1[] = {0x1000, 0x401234, 0x405678};
    uint64_t f2[] = {0x1000, 0x409abc};
    rw_stack(w, 1, f1, 3);
    rw_stack(w, 2, f2, 2);
    nsnap_ends = 0;
    for (uint32_t seq = 0; seq < 3; seq++) {
        rw_snap_begin(w, seq, seq == 2 ? 1 : 2, (seq + 1) * 1000000000ull);
        rw_maps_one(w, 0x400000, 0x500000, "/usr/bin/prog");
        rw_counter(w, "proc.rss", 1000 + seq);
        struct rw_site s[2] = {{1, 1, 100 * (seq + 1), 1, 200, 2, 1, 2, 0, 0},
                               {2, 2, 0, 0, 0, 0, 0, 0, 8192, 4096 * seq}};
        rw_sites(w, s, 2);
        rw_snap_end(w, seq, 2);
        snap_ends[nsnap_ends++] = w->len;
    }
}

static int parse(const struct rw *w, size_t len, struct nmr_profile **p, char *err)
{
    struct nmr_read_opts o = {0};
    return nmr_profile_parse(w->b, len, "t.nmt", &o, p, err, 256);
}

Test(reader, good_file)
{
    struct rw w;
    build(&w, 1);
    struct nmr_profile *p;
    char err[256];
    cr_assert_eq(parse(&w, w.len, &p, err), 0, "%s", err);
    cr_assert_eq(p->pid, 321);
    cr_assert_eq(p->rate, 4096);
    cr_assert_str_eq(p->exe, "/usr/bin/prog");
    cr_assert_str_eq(p->cmdline, "prog --flag");
    cr_assert_str_eq(p->hostname, "testhost");
    cr_assert_str_eq(nmr_info_get(p, "config.RATE"), "8192");
    cr_assert_eq(p->ninfo, 1);
    cr_assert_eq(p->nstacks, 2);
    cr_assert_eq(nmr_stack_get(p, 1)->nraw, 3);
    cr_assert_eq(nmr_stack_get(p, 1)->raw[2], 0x405678);
    cr_assert_null(nmr_stack_get(p, 3));
    cr_assert_null(nmr_stack_get(p, 0));
    cr_assert_eq(p->nsnaps, 3);
    cr_assert_eq(p->truncated, 0);
    cr_assert_eq(p->valid_bytes, w.len);
    const struct nmr_snapshot *s = &p->snaps[2];
    cr_assert_eq(s->seq, 2);
    cr_assert_eq(s->reason, 1);
    cr_assert_float_eq(nmr_snap_time_s(p, s), 3.0, 1e-9);
    int64_t v;
    cr_assert(nmr_counter_get(s, "proc.rss", &v));
    cr_assert_eq(v, 1002);
    cr_assert_not(nmr_counter_get(s, "proc.nothing", &v));
    cr_assert_eq(s->nsites, 2);
    cr_assert_eq(s->sites[0].live_bytes, 300);
    cr_assert_eq(s->sites[1].committed, 8192);
    cr_assert_eq(s->nmaps, 1);
    cr_assert_str_eq(s->maps[0].path, "/usr/bin/prog");
    nmr_profile_free(p);
    rw_free(&w);
}

Test(reader, cut_at_every_offset)
{
    struct rw w;
    build(&w, 1);
    for (size_t cut = 0; cut < w.len; cut++) {
        struct nmr_profile *p = NULL;
        char err[256];
        int rc = parse(&w, cut, &p, err);
        size_t complete = 0;
        while (complete < nsnap_ends && snap_ends[complete] <= cut)
            complete++;
        if (complete == 0) {
            cr_assert_eq(rc, -ENODATA, "cut %zu: rc %d (%s)", cut, rc, err);
            cr_assert(strstr(err, "t.nmt"), "cut %zu: %s", cut, err);
            continue;
        }
        cr_assert_eq(rc, 0, "cut %zu: %s", cut, err);
        cr_assert_eq(p->nsnaps, complete, "cut %zu", cut);
        cr_assert_eq(p->snaps[complete - 1].seq, complete - 1);
        cr_assert_eq(p->truncated, cut != snap_ends[complete - 1], "cut %zu", cut);
        nmr_profile_free(p);
    }
    rw_free(&w);
}

/* What the recorder writes at start (HEADER, INFO), and that with stacks or
 * a snapshot being appended: every such file says "no snapshot yet" and
 * names the recording pid. */
Test(reader, header_only_and_in_progress_say_no_snapshot_yet)
{
    struct rw w, start;
    build(&w, 1);
    rw_init(&start);
    rw_magic(&start);
    rw_header(&start, 1, 321, 4096, "/usr/bin/prog");
    size_t header_end = start.len;
    rw_free(&start);
    for (size_t cut = header_end; cut < snap_ends[0]; cut++) {
        struct nmr_profile *p = NULL;
        char err[256];
        cr_assert_eq(parse(&w, cut, &p, err), -ENODATA, "cut %zu", cut);
        cr_assert(strstr(err, "t.nmt: no snapshot yet: pid 321 is still recording"), "cut %zu: %s",
                  cut, err);
    }
    rw_free(&w);
}

Test(reader, crc_damage_in_the_middle_is_corruption)
{
    struct rw w;
    build(&w, 1);
    /* The last byte of the first snapshot's SNAP_END CRC. */
    size_t at = snap_ends[0] - 1;
    w.b[at] ^= 0x5a;
    struct nmr_profile *p;
    char err[256], want[64];
    cr_assert_eq(parse(&w, w.len, &p, err), -EBADMSG);
    /* The record starts 20 bytes before its end (8 head + 8 payload + 4 crc). */
    snprintf(want, sizeof(want), "at byte %zu", snap_ends[0] - 20);
    cr_assert(strstr(err, want), "%s", err);
    cr_assert(strstr(err, "checksum"), "%s", err);
    rw_free(&w);
}

Test(reader, crc_damage_on_the_last_record_is_truncation)
{
    struct rw w;
    build(&w, 1);
    w.b[w.len - 1] ^= 1;
    struct nmr_profile *p;
    char err[256];
    cr_assert_eq(parse(&w, w.len, &p, err), 0, "%s", err);
    cr_assert_eq(p->nsnaps, 2);
    cr_assert(p->truncated);
    nmr_profile_free(p);
    rw_free(&w);
}

Test(reader, empty_bad_magic_wrong_version)
{
    struct rw w;
    struct nmr_profile *p;
    char err[256];
    rw_init(&w);
    cr_assert_eq(nmr_profile_parse((const uint8_t *)"", 0, "e.nmt", NULL, &p, err, sizeof(err)),
                 -ENODATA);
    cr_assert(strstr(err, "e.nmt: empty file"), "%s", err);
    const char *text = "hello, this is not a profile\n";
    cr_assert_eq(
        nmr_profile_parse((const uint8_t *)text, strlen(text), "x.txt", NULL, &p, err, sizeof(err)),
        -EINVAL);
    cr_assert(strstr(err, "x.txt: not an nmtrace profile"), "%s", err);
    build(&w, 2);
    cr_assert_eq(parse(&w, w.len, &p, err), -EPROTONOSUPPORT);
    cr_assert(strstr(err, "unsupported format version 2"), "%s", err);
    rw_free(&w);
}

Test(reader, length_above_maximum)
{
    struct rw w;
    build(&w, 1);
    /* The length field of the INFO record right after HEADER. */
    size_t hdr_end = 8;
    hdr_end += 8 + (w.b[12] | w.b[13] << 8 | w.b[14] << 16) + 4;
    w.b[hdr_end + 7] = 0x7f;
    struct nmr_profile *p;
    char err[256], want[64];
    cr_assert_eq(parse(&w, w.len, &p, err), -EBADMSG);
    snprintf(want, sizeof(want), "at byte %zu", hdr_end);
    cr_assert(strstr(err, want), "%s", err);
    cr_assert(strstr(err, "64 MiB"), "%s", err);
    rw_free(&w);
}

Test(reader, first_record_not_header)
{
    struct rw w;
    rw_init(&w);
    rw_magic(&w);
    rw_info(&w, "a", "b");
    struct nmr_profile *p;
    char err[256];
    cr_assert_eq(parse(&w, w.len, &p, err), -EBADMSG);
    cr_assert(strstr(err, "at byte 8: first record is not HEADER"), "%s", err);
    rw_free(&w);
}

/* A file whose snapshot is made inconsistent by one bad record. */
static void bad_snapshot(void (*bad)(struct rw *), const char *msg)
{
    struct rw w;
    rw_init(&w);
    rw_magic(&w);
    rw_header(&w, 1, 1, 1, "/p");
    uint64_t f[] = {1, 2};
    rw_stack(&w, 1, f, 2);
    rw_snap_begin(&w, 0, 1, 5);
    bad(&w);
    rw_counter(&w, "x", 1); /* so the bad record is not the last one */
    struct nmr_profile *p;
    char err[256];
    cr_assert_eq(parse(&w, w.len, &p, err), -EBADMSG, "%s", err);
    cr_assert(strstr(err, msg), "%s", err);
    rw_free(&w);
}

static void sites_unknown_stack(struct rw *w)
{
    struct rw_site s = {7, 1, 1, 1, 1, 1, 1, 1, 0, 0};
    rw_sites(w, &s, 1);
}
static void nsites_mismatch(struct rw *w)
{
    struct rw_site s = {1, 1, 1, 1, 1, 1, 1, 1, 0, 0};
    rw_sites(w, &s, 1);
    rw_snap_end(w, 0, 2);
}
static void seq_mismatch(struct rw *w)
{
    rw_snap_end(w, 3, 0);
}
static void short_sites(struct rw *w)
{
    rw_u32(w, 2); /* two entries announced, one written */
    uint8_t e[NMT_SITE_DISK_SIZE] = {1};
    rw_bytes(w, e, sizeof(e));
    rw_end(w, NMT_REC_SITES);
}
static void nested_begin(struct rw *w)
{
    rw_snap_begin(w, 1, 1, 6);
}
static void duplicate_stack(struct rw *w)
{
    uint64_t f[] = {3};
    rw_stack(w, 1, f, 1);
}
static void stack_frames_short(struct rw *w)
{
    rw_u32(w, 2);
    rw_u32(w, 1000); /* 1000 frames announced, none there */
    rw_end(w, NMT_REC_STACK);
}

Test(reader, inconsistent_records)
{
    bad_snapshot(sites_unknown_stack, "not defined");
    bad_snapshot(nsites_mismatch, "nsites");
    bad_snapshot(seq_mismatch, "seq");
    bad_snapshot(short_sites, "SITES record too short");
    bad_snapshot(nested_begin, "SNAP_BEGIN inside");
    bad_snapshot(duplicate_stack, "defined twice");
    bad_snapshot(stack_frames_short, "STACK record too short");
}

Test(reader, unknown_records_and_longer_payloads)
{
    struct rw w;
    rw_init(&w);
    rw_magic(&w);
    /* HEADER with a field a newer writer might append. */
    rw_u32(&w, 1);
    for (int i = 0; i < 3; i++)
        rw_u32(&w, 9);
    rw_u64(&w, 1);
    rw_u64(&w, 0);
    rw_u64(&w, 1);
    rw_u32(&w, 8);
    rw_u32(&w, 4096);
    rw_str(&w, "p");
    rw_str(&w, "/e");
    rw_str(&w, "");
    rw_str(&w, "h");
    rw_u64(&w, 0xdeadbeef); /* surplus */
    rw_end(&w, NMT_REC_HEADER);
    rw_record(&w, 42, "whatever", 8); /* unknown type: skipped */
    uint64_t f[] = {1, 2};
    rw_stack(&w, 1, f, 2);
    rw_snap_begin(&w, 0, 1, 5);
    struct rw_site s = {1, 1, 10, 1, 10, 1, 1, 1, 0, 0};
    rw_sites(&w, &s, 1);
    rw_u32(&w, 0);
    rw_u32(&w, 1);
    rw_u32(&w, 77); /* surplus field in SNAP_END */
    rw_end(&w, NMT_REC_SNAP_END);
    struct nmr_profile *p;
    char err[256];
    cr_assert_eq(parse(&w, w.len, &p, err), 0, "%s", err);
    cr_assert_eq(p->nsnaps, 1);
    cr_assert_eq(p->snaps[0].sites[0].live_bytes, 10);
    cr_assert_str_eq(p->hostname, "h");
    nmr_profile_free(p);
    rw_free(&w);
}

Test(reader, file_on_disk_is_not_modified)
{
    struct rw w;
    build(&w, 1);
    char path[] = "/tmp/nmr_test_reader_XXXXXX";
    int fd = mkstemp(path);
    cr_assert(fd >= 0);
    close(fd);
    cr_assert_eq(rw_save(&w, path), 0);
    struct stat before, after;
    stat(path, &before);
    struct nmr_profile *p;
    char err[256];
    cr_assert_eq(nmr_profile_read(path, NULL, &p, err, sizeof(err)), 0, "%s", err);
    cr_assert_eq(p->nsnaps, 3);
    nmr_profile_free(p);
    stat(path, &after);
    cr_assert_eq(before.st_size, after.st_size);
    cr_assert_eq(before.st_mtim.tv_sec, after.st_mtim.tv_sec);
    cr_assert_eq(before.st_mtim.tv_nsec, after.st_mtim.tv_nsec);
    unlink(path);
    cr_assert_lt(nmr_profile_read("/nonexistent/x.nmt", NULL, &p, err, sizeof(err)), 0);
    cr_assert(strstr(err, "/nonexistent/x.nmt: cannot open"), "%s", err);
    rw_free(&w);
}
