/*
 * report_writer.c: the test-only profile writer (report_writer.h). It
 * follows docs/FORMAT.md byte for byte: little-endian fields, records framed
 * as type, flags, length, payload, CRC-32 of head + payload (zlib crc32).
 * Allocation failure aborts: this is test code.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zlib.h>

#include "nmt_format.h"
#include "report_writer.h"

static void put(uint8_t **b, size_t *len, size_t *cap, const void *p, size_t n)
{
    if (*len + n > *cap) {
        size_t c = *cap ? *cap : 4096;
        while (c < *len + n)
            c *= 2;
        *b = realloc(*b, c);
        if (!*b)
            abort();
        *cap = c;
    }
    memcpy(*b + *len, p, n);
    *len += n;
}

void rw_init(struct rw *w)
{
    memset(w, 0, sizeof(*w));
}

void rw_free(struct rw *w)
{
    free(w->b);
    free(w->pl);
    memset(w, 0, sizeof(*w));
}

void rw_magic(struct rw *w)
{
    put(&w->b, &w->len, &w->cap, NMT_MAGIC, NMT_MAGIC_LEN);
}

int rw_save(const struct rw *w, const char *path)
{
    FILE *f = fopen(path, "wb");
    if (!f)
        return -1;
    size_t n = fwrite(w->b, 1, w->len, f);
    return fclose(f) == 0 && n == w->len ? 0 : -1;
}

void rw_bytes(struct rw *w, const void *p, size_t n)
{
    put(&w->pl, &w->pllen, &w->plcap, p, n);
}

void rw_u32(struct rw *w, uint32_t v)
{
    uint8_t b[4] = {(uint8_t)v, (uint8_t)(v >> 8), (uint8_t)(v >> 16), (uint8_t)(v >> 24)};
    rw_bytes(w, b, 4);
}

void rw_u64(struct rw *w, uint64_t v)
{
    rw_u32(w, (uint32_t)v);
    rw_u32(w, (uint32_t)(v >> 32));
}

void rw_str(struct rw *w, const char *s)
{
    rw_u32(w, (uint32_t)strlen(s));
    rw_bytes(w, s, strlen(s));
}

void rw_record(struct rw *w, uint16_t type, const void *payload, uint32_t len)
{
    uint8_t h[8] = {
        (uint8_t)type,        (uint8_t)(type >> 8), 0, 0, (uint8_t)len, (uint8_t)(len >> 8),
        (uint8_t)(len >> 16), (uint8_t)(len >> 24)};
    uLong crc = crc32(0L, h, 8);
    if (len)
        crc = crc32(crc, payload, len);
    uint8_t c[4] = {(uint8_t)crc, (uint8_t)(crc >> 8), (uint8_t)(crc >> 16), (uint8_t)(crc >> 24)};
    put(&w->b, &w->len, &w->cap, h, 8);
    put(&w->b, &w->len, &w->cap, payload, len);
    put(&w->b, &w->len, &w->cap, c, 4);
}

void rw_end(struct rw *w, uint16_t type)
{
    rw_record(w, type, w->pl, (uint32_t)w->pllen);
    w->pllen = 0;
}

void rw_header(struct rw *w, uint32_t version, uint32_t pid, uint64_t rate, const char *exe)
{
    /* ppid 1, flags 0 (libunwind), depth 64, page size 4096. */
    struct rw_hdr h = {version,       pid,  1,  0,    1700000000000000000ull,
                       RW_START_MONO, rate, 64, 4096, exe};
    rw_header_full(w, &h);
}

void rw_header_full(struct rw *w, const struct rw_hdr *h)
{
    rw_u32(w, h->version);
    rw_u32(w, h->pid);
    rw_u32(w, h->ppid);
    rw_u32(w, h->flags);
    rw_u64(w, h->start_realtime);
    rw_u64(w, h->start_mono);
    rw_u64(w, h->rate);
    rw_u32(w, h->depth);
    rw_u32(w, h->page_size);
    rw_str(w, "nmtrace-test 0.1.0");
    rw_str(w, h->exe);
    static const char cmd[] = "prog\0--flag\0";
    rw_u32(w, sizeof(cmd) - 1);
    rw_bytes(w, cmd, sizeof(cmd) - 1);
    rw_str(w, "testhost");
    rw_end(w, NMT_REC_HEADER);
}

void rw_info(struct rw *w, const char *key, const char *value)
{
    rw_u32(w, 1);
    rw_str(w, key);
    rw_str(w, value);
    rw_end(w, NMT_REC_INFO);
}

void rw_stack(struct rw *w, uint32_t id, const uint64_t *frames, uint32_t n)
{
    rw_u32(w, id);
    rw_u32(w, n);
    for (uint32_t i = 0; i < n; i++)
        rw_u64(w, frames[i]);
    rw_end(w, NMT_REC_STACK);
}

void rw_snap_begin(struct rw *w, uint32_t seq, uint32_t reason, uint64_t mono_ns)
{
    rw_snap_begin_at(w, seq, reason, 1700000000000000000ull + mono_ns, RW_START_MONO + mono_ns);
}

void rw_snap_begin_at(struct rw *w, uint32_t seq, uint32_t reason, uint64_t realtime_ns,
                      uint64_t mono_ns)
{
    rw_u32(w, seq);
    rw_u32(w, reason);
    rw_u64(w, realtime_ns);
    rw_u64(w, mono_ns);
    rw_end(w, NMT_REC_SNAP_BEGIN);
}

static void map_entry(struct rw *w, uint64_t start, uint64_t end, uint64_t off, uint32_t prot,
                      const char *path)
{
    rw_u64(w, start);
    rw_u64(w, end);
    rw_u64(w, off);
    rw_u32(w, prot);
    rw_u32(w, 0);
    rw_u64(w, 0);
    rw_str(w, path);
    rw_u32(w, 0); /* no build-id: the symbolizer reads the file */
}

void rw_maps_self(struct rw *w)
{
    rw_maps_self_as(w, NULL);
}

void rw_maps_self_as(struct rw *w, const char *exe_as)
{
    char exe[4096];
    ssize_t el = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
    exe[el > 0 ? el : 0] = 0;
    FILE *f = fopen("/proc/self/maps", "r");
    char line[4096];
    uint32_t n = 0;
    struct rw tmp;
    rw_init(&tmp);
    while (f && fgets(line, sizeof(line), f)) {
        unsigned long long s, e, off;
        char perms[8], path[4000] = "";
        if (sscanf(line, "%llx-%llx %7s %llx %*s %*s %3999[^\n]", &s, &e, perms, &off, path) < 4)
            continue;
        char *p = path;
        while (*p == ' ')
            p++;
        uint32_t prot = (perms[0] == 'r') | (perms[1] == 'w') << 1 | (perms[2] == 'x') << 2 |
                        (perms[3] == 's') << 3;
        map_entry(&tmp, s, e, off, prot, exe_as && strcmp(p, exe) == 0 ? exe_as : p);
        n++;
    }
    if (f)
        fclose(f);
    rw_u32(w, n);
    rw_bytes(w, tmp.pl, tmp.pllen);
    rw_free(&tmp);
    rw_end(w, NMT_REC_MAPS);
}

void rw_maps(struct rw *w, const struct rw_map *m, uint32_t n)
{
    rw_u32(w, n);
    for (uint32_t i = 0; i < n; i++)
        map_entry(w, m[i].start, m[i].end, m[i].offset, m[i].prot, m[i].path);
    rw_end(w, NMT_REC_MAPS);
}

void rw_maps_one(struct rw *w, uint64_t start, uint64_t end, const char *path)
{
    rw_u32(w, 1);
    map_entry(w, start, end, 0, 5, path);
    rw_end(w, NMT_REC_MAPS);
}

void rw_counter(struct rw *w, const char *name, int64_t value)
{
    rw_u32(w, 1);
    rw_str(w, name);
    rw_u64(w, (uint64_t)value);
    rw_end(w, NMT_REC_COUNTERS);
}

void rw_sites(struct rw *w, const struct rw_site *s, uint32_t n)
{
    rw_u32(w, n);
    for (uint32_t i = 0; i < n; i++) {
        rw_u32(w, s[i].stack_id);
        rw_u32(w, s[i].flags);
        rw_u64(w, s[i].live_bytes);
        rw_u64(w, s[i].live_objects);
        rw_u64(w, s[i].alloc_bytes);
        rw_u64(w, s[i].alloc_objects);
        rw_u64(w, s[i].live_samples);
        rw_u64(w, s[i].alloc_samples);
        rw_u64(w, s[i].reserved);
        rw_u64(w, s[i].committed);
    }
    rw_end(w, NMT_REC_SITES);
}

void rw_snap_end(struct rw *w, uint32_t seq, uint32_t nsites)
{
    rw_u32(w, seq);
    rw_u32(w, nsites);
    rw_end(w, NMT_REC_SNAP_END);
}
