/*
 * nmr_pb.c: protobuf wire encoding (varints, length-delimited fields,
 * packed repeated scalars, nested messages) and gzip through zlib, for the
 * pprof export. No schema knowledge lives here: nmr_pprof.c owns the field
 * numbers of profile.proto.
 */
#include "nmr_pb.h"

#include <errno.h>
#include <limits.h>
#include <string.h>
#include <zlib.h>

enum { WT_VARINT = 0, WT_LEN = 2 };

size_t nmr__pb_varint_size(uint64_t v)
{
    size_t n = 1;
    while (v >= 0x80) {
        v >>= 7;
        n++;
    }
    return n;
}

void nmr__pb_varint(struct nmr_buf *b, uint64_t v)
{
    uint8_t tmp[10];
    size_t n = 0;
    while (v >= 0x80) {
        tmp[n++] = (uint8_t)(v | 0x80);
        v >>= 7;
    }
    tmp[n++] = (uint8_t)v;
    nmr__buf_add(b, tmp, n);
}

static void tag(struct nmr_buf *b, unsigned field, unsigned wt)
{
    nmr__pb_varint(b, ((uint64_t)field << 3) | wt);
}

void nmr__pb_uint(struct nmr_buf *b, unsigned field, uint64_t v)
{
    tag(b, field, WT_VARINT);
    nmr__pb_varint(b, v);
}

void nmr__pb_int(struct nmr_buf *b, unsigned field, int64_t v)
{
    nmr__pb_uint(b, field, (uint64_t)v);
}

void nmr__pb_bytes(struct nmr_buf *b, unsigned field, const void *p, size_t n)
{
    tag(b, field, WT_LEN);
    nmr__pb_varint(b, n);
    nmr__buf_add(b, p, n);
}

void nmr__pb_string(struct nmr_buf *b, unsigned field, const char *s)
{
    nmr__pb_bytes(b, field, s, strlen(s));
}

void nmr__pb_packed_u64(struct nmr_buf *b, unsigned field, const uint64_t *v, size_t n)
{
    if (n == 0)
        return; /* an empty packed field is the same as an absent one */
    size_t len = 0;
    for (size_t i = 0; i < n; i++)
        len += nmr__pb_varint_size(v[i]);
    tag(b, field, WT_LEN);
    nmr__pb_varint(b, len);
    for (size_t i = 0; i < n; i++)
        nmr__pb_varint(b, v[i]);
}

void nmr__pb_packed_i64(struct nmr_buf *b, unsigned field, const int64_t *v, size_t n)
{
    if (n == 0)
        return;
    size_t len = 0;
    for (size_t i = 0; i < n; i++)
        len += nmr__pb_varint_size((uint64_t)v[i]);
    tag(b, field, WT_LEN);
    nmr__pb_varint(b, len);
    for (size_t i = 0; i < n; i++)
        nmr__pb_varint(b, (uint64_t)v[i]);
}

size_t nmr__pb_begin(struct nmr_buf *b, unsigned field)
{
    tag(b, field, WT_LEN);
    return b->len;
}

void nmr__pb_end(struct nmr_buf *b, size_t mark)
{
    if (b->err)
        return;
    size_t body = b->len - mark;
    size_t n = nmr__pb_varint_size(body);
    if (nmr__buf_reserve(b, n))
        return;
    /* Bodies are small (one Sample, Location or Function), so moving them
     * once is cheaper than encoding every message twice to size it. */
    memmove(b->data + mark + n, b->data + mark, body);
    uint64_t v = body;
    for (size_t i = 0; i < n; i++, v >>= 7)
        b->data[mark + i] = (char)((v & 0x7f) | (i + 1 < n ? 0x80 : 0));
    b->len += n;
    b->data[b->len] = 0;
}

int nmr__gzip(const void *in, size_t n, struct nmr_buf *out)
{
    /* zlib counts in 32 bits; a profile.proto never gets near that. */
    if (n > UINT_MAX / 2)
        return -EFBIG;
    z_stream zs;
    memset(&zs, 0, sizeof zs);
    /* windowBits 15 + 16 selects the gzip wrapper; zlib writes mtime 0 and
     * no file name unless deflateSetHeader() is called, which keeps the
     * output byte-for-byte reproducible. */
    if (deflateInit2(&zs, Z_DEFAULT_COMPRESSION, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) !=
        Z_OK)
        return -ENOMEM;
    uLong bound = deflateBound(&zs, (uLong)n);
    if (nmr__buf_reserve(out, bound)) {
        deflateEnd(&zs);
        return -ENOMEM;
    }
    zs.next_in = (Bytef *)(uintptr_t)in;
    zs.avail_in = (uInt)n;
    zs.next_out = (Bytef *)out->data + out->len;
    zs.avail_out = (uInt)bound;
    int rc = deflate(&zs, Z_FINISH);
    if (rc != Z_STREAM_END) {
        deflateEnd(&zs);
        return -EIO;
    }
    out->len += zs.total_out;
    out->data[out->len] = 0;
    deflateEnd(&zs);
    return 0;
}
