/*
 * nmr_pb.h: the smallest protobuf encoder pprof needs, plus gzip.
 *
 * Only the wire types profile.proto uses: varint (0) and length-delimited
 * (2). Nested messages are written in place: nmr__pb_begin() writes the tag
 * and remembers where the body starts, nmr__pb_end() measures the body and
 * inserts its length in front of it, so no message is built twice.
 */
#ifndef NMR_PB_H
#define NMR_PB_H

#include "nmr_buf.h"

#include <stdint.h>

/* Bytes the varint encoding of v takes (1..10). */
size_t nmr__pb_varint_size(uint64_t v);
void nmr__pb_varint(struct nmr_buf *b, uint64_t v);
/* field as a varint (int64 values are written as their two's complement,
 * as protobuf does for int64: negatives take 10 bytes). Zero is written too;
 * callers omit proto3 defaults themselves where that matters. */
void nmr__pb_uint(struct nmr_buf *b, unsigned field, uint64_t v);
void nmr__pb_int(struct nmr_buf *b, unsigned field, int64_t v);
/* Length-delimited: bytes or a string. */
void nmr__pb_bytes(struct nmr_buf *b, unsigned field, const void *p, size_t n);
void nmr__pb_string(struct nmr_buf *b, unsigned field, const char *s);
/* Packed repeated varints (proto3's default for repeated scalars). */
void nmr__pb_packed_u64(struct nmr_buf *b, unsigned field, const uint64_t *v, size_t n);
void nmr__pb_packed_i64(struct nmr_buf *b, unsigned field, const int64_t *v, size_t n);

/* Nested message: returns a mark to pass to nmr__pb_end(). */
size_t nmr__pb_begin(struct nmr_buf *b, unsigned field);
void nmr__pb_end(struct nmr_buf *b, size_t mark);

/*
 * gzip (RFC 1952) of in[0..n) into out, deterministic (mtime 0, no name), as
 * pprof expects its profile files. Returns 0 or a negative errno.
 */
int nmr__gzip(const void *in, size_t n, struct nmr_buf *out);

#endif
