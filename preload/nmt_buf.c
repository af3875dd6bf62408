/*
 * nmt_buf.c: growth of encoding buffers and record framing.
 *
 * Runs on the writer thread (or the exiting thread for the final snapshot),
 * always with the re-entrancy guard held, so malloc here is the real one.
 */
#include <stdlib.h>
#include <zlib.h>

#include "nmt_buf.h"
#include "nmt_format.h"

int nmt__buf_reserve(struct nmt_buf *b, size_t more)
{
    if (b->failed)
        return -1;
    size_t cap = b->cap ? b->cap : 4096;
    while (cap < b->len + more)
        cap *= 2;
    unsigned char *p = realloc(b->data, cap);
    if (p == NULL) {
        b->failed = 1;
        return -1;
    }
    b->data = p;
    b->cap = cap;
    return 0;
}

void nmt__buf_free(struct nmt_buf *b)
{
    free(b->data);
    b->data = NULL;
    b->len = b->cap = 0;
    b->failed = 0;
}

size_t nmt__rec_begin(struct nmt_buf *b, uint16_t type)
{
    size_t start = b->len;
    nmt__buf_u16(b, type);
    nmt__buf_u16(b, 0);
    nmt__buf_u32(b, 0); /* length, patched by nmt__rec_end */
    return start;
}

void nmt__rec_end(struct nmt_buf *b, size_t start)
{
    if (b->failed)
        return;
    size_t len = b->len - start - NMT_FRAME_HEAD;
    for (int i = 0; i < 4; i++)
        b->data[start + 4 + i] = (unsigned char)(len >> (8 * i));
    uLong crc = crc32(0L, Z_NULL, 0);
    crc = crc32(crc, b->data + start, (uInt)(b->len - start));
    nmt__buf_u32(b, (uint32_t)crc);
}
