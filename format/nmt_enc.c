/*
 * nmt_enc.c: buffer growth, record framing and the record layouts of
 * docs/FORMAT.md §2 and §3 (nmt_enc.h).
 */
#include <zlib.h>

#include "nmt_enc.h"

int nmt_enc_reserve(struct nmt_enc *e, size_t more)
{
    if (e->failed)
        return -1;
    if (e->len + more <= e->cap)
        return 0;
    if (e->grow == NULL || e->len + more < e->len) {
        e->failed = 1;
        return -1;
    }
    size_t cap = e->cap ? e->cap : 4096;
    while (cap < e->len + more)
        cap *= 2;
    unsigned char *p = e->grow(e->data, cap);
    if (p == NULL) {
        e->failed = 1;
        return -1;
    }
    e->data = p;
    e->cap = cap;
    return 0;
}

void nmt_enc_patch_u32(struct nmt_enc *e, size_t at, uint32_t v)
{
    if (e->failed || at + 4 > e->len)
        return;
    for (int i = 0; i < 4; i++)
        e->data[at + i] = (unsigned char)(v >> (8 * i));
}

void nmt_enc_magic(struct nmt_enc *e)
{
    nmt_enc_put(e, NMT_MAGIC, NMT_MAGIC_LEN);
}

size_t nmt_enc_rec_begin(struct nmt_enc *e, uint16_t type)
{
    size_t start = e->len;
    nmt_enc_u16(e, type);
    nmt_enc_u16(e, 0); /* flags */
    nmt_enc_u32(e, 0); /* length, patched by nmt_enc_rec_end */
    return start;
}

void nmt_enc_rec_end(struct nmt_enc *e, size_t start)
{
    if (e->failed)
        return;
    nmt_enc_patch_u32(e, start + 4, (uint32_t)(e->len - start - NMT_FRAME_HEAD));
    uLong crc = crc32(0L, Z_NULL, 0);
    crc = crc32(crc, e->data + start, (uInt)(e->len - start));
    nmt_enc_u32(e, (uint32_t)crc);
}

void nmt_enc_record(struct nmt_enc *e, uint16_t type, const void *payload, uint32_t len)
{
    size_t r = nmt_enc_rec_begin(e, type);
    nmt_enc_put(e, payload, len);
    nmt_enc_rec_end(e, r);
}

size_t nmt_enc_header_begin(struct nmt_enc *e, const struct nmt_header *h)
{
    size_t r = nmt_enc_rec_begin(e, NMT_REC_HEADER);
    nmt_enc_u32(e, h->version);
    nmt_enc_u32(e, h->pid);
    nmt_enc_u32(e, h->ppid);
    nmt_enc_u32(e, h->flags);
    nmt_enc_u64(e, h->start_realtime_ns);
    nmt_enc_u64(e, h->start_monotonic_ns);
    nmt_enc_u64(e, h->rate);
    nmt_enc_u32(e, h->depth);
    nmt_enc_u32(e, h->page_size);
    nmt_enc_cstr(e, h->producer);
    return r;
}

void nmt_enc_info_pair(struct nmt_enc *e, const char *key, const char *value)
{
    nmt_enc_cstr(e, key);
    nmt_enc_cstr(e, value);
}

void nmt_enc_counter(struct nmt_enc *e, const char *name, int64_t value)
{
    nmt_enc_cstr(e, name);
    nmt_enc_u64(e, (uint64_t)value);
}

void nmt_enc_stack(struct nmt_enc *e, uint32_t id, const uint64_t *frames, uint32_t n)
{
    size_t r = nmt_enc_rec_begin(e, NMT_REC_STACK);
    nmt_enc_u32(e, id);
    nmt_enc_u32(e, frames ? n : 0);
    for (uint32_t i = 0; frames && i < n; i++)
        nmt_enc_u64(e, frames[i]);
    nmt_enc_rec_end(e, r);
}

void nmt_enc_map(struct nmt_enc *e, const struct nmt_map_entry *m)
{
    nmt_enc_u64(e, m->start);
    nmt_enc_u64(e, m->end);
    nmt_enc_u64(e, m->offset);
    nmt_enc_u32(e, m->prot);
    nmt_enc_u32(e, m->dev);
    nmt_enc_u64(e, m->inode);
    nmt_enc_cstr(e, m->path);
    nmt_enc_str(e, m->build_id, m->build_id ? m->build_id_len : 0);
}

void nmt_enc_site(struct nmt_enc *e, const struct nmt_site_disk *s)
{
    nmt_enc_u32(e, s->stack_id);
    nmt_enc_u32(e, s->flags);
    nmt_enc_u64(e, s->live_bytes);
    nmt_enc_u64(e, s->live_objects);
    nmt_enc_u64(e, s->alloc_bytes);
    nmt_enc_u64(e, s->alloc_objects);
    nmt_enc_u64(e, s->live_samples);
    nmt_enc_u64(e, s->alloc_samples);
    nmt_enc_u64(e, s->reserved);
    nmt_enc_u64(e, s->committed);
}

void nmt_enc_snap_begin(struct nmt_enc *e, uint32_t seq, uint32_t reason, uint64_t realtime_ns,
                        uint64_t monotonic_ns)
{
    size_t r = nmt_enc_rec_begin(e, NMT_REC_SNAP_BEGIN);
    nmt_enc_u32(e, seq);
    nmt_enc_u32(e, reason);
    nmt_enc_u64(e, realtime_ns);
    nmt_enc_u64(e, monotonic_ns);
    nmt_enc_rec_end(e, r);
}

void nmt_enc_snap_end(struct nmt_enc *e, uint32_t seq, uint32_t nsites)
{
    size_t r = nmt_enc_rec_begin(e, NMT_REC_SNAP_END);
    nmt_enc_u32(e, seq);
    nmt_enc_u32(e, nsites);
    nmt_enc_rec_end(e, r);
}
