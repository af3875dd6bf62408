/*
 * nmt_enc.h: the one encoder of nmtrace profile records (docs/FORMAT.md).
 *
 * The recorder's snapshots (preload/nmt_snapshot.c), the JVM bridge's Java
 * records (preload/nmt_jvm_*.c) and the bench generator (bench/gen_profile.c)
 * all encode through it, so the byte layout of each field and record is
 * written once. tests/recorder/nmtprof.py stays the independent reader.
 *
 * Little-endian puts into a caller's buffer. The encoder itself never
 * allocates: a buffer grows only through the caller's `grow` function
 * (realloc-like), so the recorder decides which heap its records come from,
 * and an encoder over a fixed buffer (nmt_enc_fixed) calls nothing but
 * memcpy and zlib's crc32 and is async-signal-safe. A put that does not fit
 * sets `failed` and turns later puts into no-ops, so encoders check once at
 * the end instead of after every field.
 */
#ifndef NMT_ENC_H
#define NMT_ENC_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "nmt_format.h"

/* realloc's contract: NULL on failure, leaving the old block as it was. */
typedef void *(*nmt_enc_grow_fn)(void *data, size_t size);

struct nmt_enc {
    unsigned char *data;
    size_t len, cap;
    int failed;           /* something did not fit: data[0..len) is incomplete */
    nmt_enc_grow_fn grow; /* NULL: data is a fixed buffer */
};

/* An empty buffer that grows with grow; the caller frees data with the free
 * that matches grow. */
static inline void nmt_enc_init(struct nmt_enc *e, nmt_enc_grow_fn grow)
{
    e->data = NULL;
    e->len = e->cap = 0;
    e->failed = 0;
    e->grow = grow;
}

/* An encoder over buf[0..size), which never grows. */
static inline void nmt_enc_fixed(struct nmt_enc *e, void *buf, size_t size)
{
    e->data = buf;
    e->len = 0;
    e->cap = size;
    e->failed = 0;
    e->grow = NULL;
}

/* Room for `more` bytes after len: 0, or -1 (and failed set). */
int nmt_enc_reserve(struct nmt_enc *e, size_t more);

/* ---- fields ---- */

static inline void nmt_enc_put(struct nmt_enc *e, const void *p, size_t n)
{
    /* Nothing to copy (p and e->data may both be NULL then), or the buffer
     * is already incomplete: a later field must not follow a missing one. */
    if (n == 0 || e->failed)
        return;
    if (e->len + n > e->cap && nmt_enc_reserve(e, n) != 0)
        return;
    memcpy(e->data + e->len, p, n);
    e->len += n;
}

static inline void nmt_enc_u16(struct nmt_enc *e, uint16_t v)
{
    unsigned char x[2] = {(unsigned char)v, (unsigned char)(v >> 8)};
    nmt_enc_put(e, x, 2);
}

static inline void nmt_enc_u32(struct nmt_enc *e, uint32_t v)
{
    unsigned char x[4];
    for (int i = 0; i < 4; i++)
        x[i] = (unsigned char)(v >> (8 * i));
    nmt_enc_put(e, x, 4);
}

static inline void nmt_enc_u64(struct nmt_enc *e, uint64_t v)
{
    unsigned char x[8];
    for (int i = 0; i < 8; i++)
        x[i] = (unsigned char)(v >> (8 * i));
    nmt_enc_put(e, x, 8);
}

/* A str field: u32 byte count, then the bytes. */
static inline void nmt_enc_str(struct nmt_enc *e, const void *s, size_t n)
{
    nmt_enc_u32(e, (uint32_t)n);
    nmt_enc_put(e, s, n);
}

/* A str field from a C string; NULL is the empty string. */
static inline void nmt_enc_cstr(struct nmt_enc *e, const char *s)
{
    nmt_enc_str(e, s, s ? strlen(s) : 0);
}

/* Overwrites the u32 at offset at (a count written as 0 before its entries). */
void nmt_enc_patch_u32(struct nmt_enc *e, size_t at, uint32_t v);

/* ---- records ---- */

/* The file's first 8 bytes. */
void nmt_enc_magic(struct nmt_enc *e);
/* Record framing: begin writes the frame head and returns its offset; end
 * patches the payload length and appends the CRC (docs/FORMAT.md §2). */
size_t nmt_enc_rec_begin(struct nmt_enc *e, uint16_t type);
void nmt_enc_rec_end(struct nmt_enc *e, size_t start);
/* A whole record around a payload encoded elsewhere. */
void nmt_enc_record(struct nmt_enc *e, uint16_t type, const void *payload, uint32_t len);

/* HEADER's fields up to and including `producer`; the caller appends exe,
 * cmdline and hostname (the recorder reads them from /proc), then ends the
 * record. */
struct nmt_header {
    uint32_t version, pid, ppid, flags;
    uint64_t start_realtime_ns, start_monotonic_ns, rate;
    uint32_t depth, page_size;
    const char *producer;
};
size_t nmt_enc_header_begin(struct nmt_enc *e, const struct nmt_header *h);

/* An INFO or COUNTERS entry (a count field precedes them: nmt_enc_patch_u32). */
void nmt_enc_info_pair(struct nmt_enc *e, const char *key, const char *value);
void nmt_enc_counter(struct nmt_enc *e, const char *name, int64_t value);

/* A STACK record. */
void nmt_enc_stack(struct nmt_enc *e, uint32_t id, const uint64_t *frames, uint32_t n);

/* A MAPS entry. */
struct nmt_map_entry {
    uint64_t start, end, offset, inode;
    uint32_t prot, dev; /* NMT_MAP_*; major << 20 | minor */
    const char *path;   /* NULL: anonymous */
    const void *build_id;
    uint32_t build_id_len;
};
void nmt_enc_map(struct nmt_enc *e, const struct nmt_map_entry *m);

/* The SITES entry of one stack (NMT_SITE_DISK_SIZE bytes). */
void nmt_enc_site(struct nmt_enc *e, const struct nmt_site_disk *s);

/* SNAP_BEGIN and SNAP_END records. */
void nmt_enc_snap_begin(struct nmt_enc *e, uint32_t seq, uint32_t reason, uint64_t realtime_ns,
                        uint64_t monotonic_ns);
void nmt_enc_snap_end(struct nmt_enc *e, uint32_t seq, uint32_t nsites);

#endif
