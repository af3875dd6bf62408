/*
 * nmt_buf.h: a growable byte buffer for encoding records (writer thread only).
 *
 * Little-endian puts, as docs/FORMAT.md requires. An allocation failure sets
 * `failed` and turns later puts into no-ops, so encoders check once at the
 * end instead of after every field.
 */
#ifndef NMT_BUF_H
#define NMT_BUF_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

struct nmt_buf {
    unsigned char *data;
    size_t len, cap;
    int failed;
};

int nmt__buf_reserve(struct nmt_buf *b, size_t more);
void nmt__buf_free(struct nmt_buf *b);

static inline void nmt__buf_put(struct nmt_buf *b, const void *p, size_t n)
{
    /* Nothing to copy: p and b->data may both be NULL then. */
    if (n == 0)
        return;
    if (b->len + n > b->cap && nmt__buf_reserve(b, n) != 0)
        return;
    memcpy(b->data + b->len, p, n);
    b->len += n;
}

static inline void nmt__buf_u16(struct nmt_buf *b, uint16_t v)
{
    unsigned char x[2] = {(unsigned char)v, (unsigned char)(v >> 8)};
    nmt__buf_put(b, x, 2);
}

static inline void nmt__buf_u32(struct nmt_buf *b, uint32_t v)
{
    unsigned char x[4];
    for (int i = 0; i < 4; i++)
        x[i] = (unsigned char)(v >> (8 * i));
    nmt__buf_put(b, x, 4);
}

static inline void nmt__buf_u64(struct nmt_buf *b, uint64_t v)
{
    unsigned char x[8];
    for (int i = 0; i < 8; i++)
        x[i] = (unsigned char)(v >> (8 * i));
    nmt__buf_put(b, x, 8);
}

static inline void nmt__buf_str(struct nmt_buf *b, const void *s, size_t n)
{
    nmt__buf_u32(b, (uint32_t)n);
    nmt__buf_put(b, s, n);
}

static inline void nmt__buf_cstr(struct nmt_buf *b, const char *s)
{
    nmt__buf_str(b, s, s ? strlen(s) : 0);
}

/* Record framing: begin() writes the frame head and returns its offset;
 * end() patches the length and appends the CRC (docs/FORMAT.md §2). */
size_t nmt__rec_begin(struct nmt_buf *b, uint16_t type);
void nmt__rec_end(struct nmt_buf *b, size_t start);

#endif
