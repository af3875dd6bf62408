/*
 * report_writer.h: a small, test-only writer of nmtrace profiles
 * (docs/FORMAT.md), independent of the recorder, so the report's tests can
 * build exact files: any records, in any order, cut or damaged at will.
 * Everything is appended to an in-memory buffer (rw_save writes it out).
 */
#ifndef REPORT_WRITER_H
#define REPORT_WRITER_H

#include <stddef.h>
#include <stdint.h>

struct rw {
    uint8_t *b;
    size_t len, cap;
    uint8_t *pl; /* the payload being built */
    size_t pllen, plcap;
};

void rw_init(struct rw *w); /* empty buffer, no magic */
void rw_free(struct rw *w);
void rw_magic(struct rw *w);
int rw_save(const struct rw *w, const char *path);

/* Payload building, then rw_end(type) frames it with length and CRC. */
void rw_u32(struct rw *w, uint32_t v);
void rw_u64(struct rw *w, uint64_t v);
void rw_bytes(struct rw *w, const void *p, size_t n); /* raw, no length */
void rw_str(struct rw *w, const char *s);             /* u32 length + bytes */
void rw_end(struct rw *w, uint16_t type);
/* A whole record from a raw payload. */
void rw_record(struct rw *w, uint16_t type, const void *payload, uint32_t len);

/* Convenience records. */
void rw_header(struct rw *w, uint32_t version, uint32_t pid, uint64_t rate, const char *exe);
/* A HEADER with every figure chosen (crafted files). */
struct rw_hdr {
    uint32_t version, pid, ppid, flags;
    uint64_t start_realtime, start_mono, rate;
    uint32_t depth, page_size;
    const char *exe;
};
void rw_header_full(struct rw *w, const struct rw_hdr *h);
void rw_info(struct rw *w, const char *key, const char *value);
void rw_stack(struct rw *w, uint32_t id, const uint64_t *frames, uint32_t n);
void rw_snap_begin(struct rw *w, uint32_t seq, uint32_t reason, uint64_t mono_ns);
/* SNAP_BEGIN with absolute times (crafted files). */
void rw_snap_begin_at(struct rw *w, uint32_t seq, uint32_t reason, uint64_t realtime_ns,
                      uint64_t mono_ns);
/* MAPS of the calling process (/proc/self/maps), so real addresses of the
 * test program symbolize. */
void rw_maps_self(struct rw *w);
/* The same, with the executable's own mappings renamed to exe_as (as if the
 * profile came from another machine where it lived elsewhere). */
void rw_maps_self_as(struct rw *w, const char *exe_as);
struct rw_map {
    uint64_t start, end, offset;
    uint32_t prot;
    const char *path;
};
void rw_maps(struct rw *w, const struct rw_map *m, uint32_t n);
/* MAPS with one entry. */
void rw_maps_one(struct rw *w, uint64_t start, uint64_t end, const char *path);
void rw_counter(struct rw *w, const char *name, int64_t value); /* one-entry COUNTERS */

struct rw_site {
    uint32_t stack_id, flags;
    uint64_t live_bytes, live_objects, alloc_bytes, alloc_objects, live_samples, alloc_samples,
        reserved, committed;
};
void rw_sites(struct rw *w, const struct rw_site *s, uint32_t n);
void rw_snap_end(struct rw *w, uint32_t seq, uint32_t nsites);

/* HEADER start times used by rw_header: snapshot times are relative to it. */
#define RW_START_MONO 1000000000ull

#endif
