/*
 * test_enc.c: units for the profile encoder (format/nmt_enc.c): fields are
 * little-endian, a record's frame carries its length and the CRC-32 of head
 * and payload, a fixed buffer that runs out fails once and stays failed, a
 * grow function that fails leaves the bytes as they were, SITES entries are
 * NMT_SITE_DISK_SIZE bytes, and a file of every record type reads back
 * through the report's reader with the figures it was given.
 */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "nmr_profile.h"
#include "nmt_enc.h"

static struct nmt_enc heap_enc(void)
{
    struct nmt_enc e;
    nmt_enc_init(&e, realloc);
    return e;
}

Test(enc, fields_are_little_endian)
{
    struct nmt_enc e = heap_enc();
    nmt_enc_u16(&e, 0x0102);
    nmt_enc_u32(&e, 0x03040506);
    nmt_enc_u64(&e, 0x0708090a0b0c0d0eull);
    nmt_enc_cstr(&e, "ab");
    nmt_enc_cstr(&e, NULL);
    static const unsigned char want[] = {2, 1, 6, 5, 4, 3, 0xe, 0xd, 0xc, 0xb, 0xa, 9,
                                         8, 7, 2, 0, 0, 0, 'a', 'b', 0,   0,   0,   0};
    cr_assert_eq(e.len, sizeof(want));
    cr_assert_arr_eq(e.data, want, sizeof(want));
    cr_assert_not(e.failed);
    free(e.data);
}

Test(enc, record_frame_has_length_and_crc)
{
    struct nmt_enc e = heap_enc();
    nmt_enc_u32(&e, 0xdeadbeef); /* something before the record */
    size_t r = nmt_enc_rec_begin(&e, NMT_REC_SNAP_END);
    nmt_enc_u32(&e, 7);
    nmt_enc_u32(&e, 9);
    nmt_enc_rec_end(&e, r);
    cr_assert_eq(r, 4);
    cr_assert_eq(e.len, 4 + NMT_FRAME_HEAD + 8 + NMT_FRAME_TAIL);
    const unsigned char *h = e.data + r;
    cr_assert_eq(h[0] | h[1] << 8, NMT_REC_SNAP_END);
    cr_assert_eq(h[2] | h[3] << 8, 0, "flags");
    cr_assert_eq(h[4] | h[5] << 8 | h[6] << 16 | h[7] << 24, 8, "payload length");
    uint32_t crc = (uint32_t)crc32(0, h, NMT_FRAME_HEAD + 8);
    const unsigned char *t = h + NMT_FRAME_HEAD + 8;
    cr_assert_eq((uint32_t)(t[0] | t[1] << 8 | t[2] << 16 | (uint32_t)t[3] << 24), crc);

    /* The same record around a payload made elsewhere is the same bytes. */
    struct nmt_enc f = heap_enc();
    const unsigned char payload[8] = {7, 0, 0, 0, 9, 0, 0, 0};
    nmt_enc_record(&f, NMT_REC_SNAP_END, payload, sizeof(payload));
    cr_assert_eq(f.len, e.len - 4);
    cr_assert_arr_eq(f.data, e.data + 4, f.len);
    free(e.data);
    free(f.data);
}

Test(enc, fixed_buffer_that_runs_out_fails_and_stays_failed)
{
    unsigned char buf[16];
    memset(buf, 0xaa, sizeof(buf));
    struct nmt_enc e;
    nmt_enc_fixed(&e, buf, sizeof(buf));
    size_t r = nmt_enc_rec_begin(&e, NMT_REC_INFO);
    nmt_enc_u32(&e, 1);
    cr_assert_eq(e.len, 12, "%zu", e.len);
    nmt_enc_u64(&e, 1); /* 8 more do not fit in 16 */
    cr_assert(e.failed);
    cr_assert_eq(e.len, 12, "nothing of the field that did not fit");
    nmt_enc_u16(&e, 1); /* would fit, but the buffer is already incomplete */
    nmt_enc_rec_end(&e, r);
    cr_assert_eq(e.len, 12);
    cr_assert_eq(buf[4], 0, "the length was not patched");
    cr_assert_eq(buf[12], 0xaa, "nothing written past what fit");
}

static void *refuse(void *p, size_t size)
{
    (void)p, (void)size;
    return NULL;
}

Test(enc, failed_growth_keeps_the_bytes)
{
    unsigned char first[4096];
    memset(first, 1, sizeof(first));
    struct nmt_enc e = heap_enc();
    nmt_enc_put(&e, first, sizeof(first));
    cr_assert_eq(e.cap, 4096);
    e.grow = refuse;
    nmt_enc_u32(&e, 5);
    cr_assert(e.failed);
    cr_assert_eq(e.len, 4096);
    cr_assert_arr_eq(e.data, first, sizeof(first));
    free(e.data);
}

Test(enc, site_entry_is_the_disk_size)
{
    struct nmt_enc e = heap_enc();
    const struct nmt_site_disk s = {.stack_id = 1};
    nmt_enc_site(&e, &s);
    cr_assert_eq(e.len, NMT_SITE_DISK_SIZE);
    free(e.data);
}

/* A whole file through the layouts, read back by the report's reader. */
Test(enc, every_record_reads_back)
{
    struct nmt_enc e = heap_enc();
    nmt_enc_magic(&e);
    const struct nmt_header h = {
        NMT_FORMAT_VERSION, 42, 1, NMT_HDR_UNWIND_FP, 5000, 3000, 4096, 32, 4096, "enc-test"};
    size_t r = nmt_enc_header_begin(&e, &h);
    nmt_enc_cstr(&e, "/bin/enc");
    nmt_enc_str(&e, "enc\0-x\0", 7);
    nmt_enc_cstr(&e, "host");
    nmt_enc_rec_end(&e, r);
    r = nmt_enc_rec_begin(&e, NMT_REC_INFO);
    nmt_enc_u32(&e, 1);
    nmt_enc_info_pair(&e, "config.RATE", "4096");
    nmt_enc_rec_end(&e, r);
    const uint64_t frames[3] = {0x1000, 0x2345, 0x3456};
    nmt_enc_stack(&e, 1, frames, 3);
    nmt_enc_snap_begin(&e, 0, NMT_SNAP_SIGNAL, 6000, 4000);
    r = nmt_enc_rec_begin(&e, NMT_REC_MAPS);
    nmt_enc_u32(&e, 1);
    const struct nmt_map_entry m = {0x1000, 0x5000,     0x200,      9, NMT_MAP_R | NMT_MAP_X,
                                    0x803,  "/bin/enc", "\x01\x02", 2};
    nmt_enc_map(&e, &m);
    nmt_enc_rec_end(&e, r);
    r = nmt_enc_rec_begin(&e, NMT_REC_COUNTERS);
    nmt_enc_u32(&e, 0);
    nmt_enc_counter(&e, "rec.samples", 12);
    nmt_enc_counter(&e, "proc.rss", -1);
    nmt_enc_patch_u32(&e, r + NMT_FRAME_HEAD, 2);
    nmt_enc_rec_end(&e, r);
    r = nmt_enc_rec_begin(&e, NMT_REC_SITES);
    nmt_enc_u32(&e, 1);
    const struct nmt_site_disk s = {1, NMT_SITE_MALLOC, 800, 8, 1600, 16, 2, 4, 0, 0};
    nmt_enc_site(&e, &s);
    nmt_enc_rec_end(&e, r);
    nmt_enc_snap_end(&e, 0, 1);
    cr_assert_not(e.failed);

    struct nmr_read_opts o = {0};
    struct nmr_profile *p;
    char err[256] = "";
    cr_assert_eq(nmr_profile_parse(e.data, e.len, "enc.nmt", &o, &p, err, sizeof(err)), 0, "%s",
                 err);
    cr_assert_eq(p->valid_bytes, e.len);
    cr_assert_eq(p->pid, 42);
    cr_assert_eq(p->hdr_flags, NMT_HDR_UNWIND_FP);
    cr_assert_eq(p->start_monotonic_ns, 3000);
    cr_assert_eq(p->rate, 4096);
    cr_assert_eq(p->depth, 32);
    cr_assert_str_eq(p->producer, "enc-test");
    cr_assert_str_eq(p->exe, "/bin/enc");
    cr_assert_str_eq(p->cmdline, "enc -x");
    cr_assert_str_eq(p->hostname, "host");
    cr_assert_str_eq(nmr_info_get(p, "config.RATE"), "4096");
    const struct nmr_stack *st = nmr_stack_get(p, 1);
    cr_assert_not_null(st);
    cr_assert_eq(st->nraw, 3);
    cr_assert_arr_eq(st->raw, frames, sizeof(frames));
    cr_assert_eq(p->nsnaps, 1);
    const struct nmr_snapshot *sn = &p->snaps[0];
    cr_assert_eq(sn->reason, NMT_SNAP_SIGNAL);
    cr_assert_eq(sn->monotonic_ns, 4000);
    cr_assert_eq(sn->nmaps, 1);
    cr_assert_eq(sn->maps[0].offset, 0x200);
    cr_assert_eq(sn->maps[0].dev, 0x803);
    cr_assert_eq(sn->maps[0].inode, 9);
    cr_assert_eq(sn->maps[0].build_id_len, 2);
    int64_t v;
    cr_assert(nmr_counter_get(sn, "rec.samples", &v) && v == 12);
    cr_assert(nmr_counter_get(sn, "proc.rss", &v) && v == -1);
    cr_assert_eq(sn->nsites, 1);
    cr_assert_eq(sn->sites[0].live_bytes, 800);
    cr_assert_eq(sn->sites[0].alloc_objects, 16);
    cr_assert_eq(sn->sites[0].alloc_samples, 4);
    nmr_profile_free(p);
    free(e.data);
}
