/*
 * nmr_profile.h: the in-memory model of one nmtrace profile file, as read by
 * nmr_reader.c (docs/FORMAT.md) and symbolized by nmr_symbols.c.
 *
 * Every view of nmreport works on this model; nothing in it refers to the
 * file once it is loaded. All memory (strings, arrays) belongs to the
 * profile and is released by nmr_profile_free(). Pointers into the model stay
 * valid until then; a view never frees or modifies anything in it.
 *
 * Conventions:
 *  - Integers are in host order; figures are exactly what the file said.
 *  - Stacks are indexed by their file id: profile->stacks[id] for
 *    1 <= id < profile->nstack_slots; a slot whose id was never defined has
 *    nraw == 0 and defined == 0.
 *  - Only complete snapshots (SNAP_END read and checked) are in snaps[],
 *    in file order (seq 0, 1, ...).
 *  - Raw frames are leaf first; raw[0] is nmtrace's entry point (it names the
 *    allocation API), raw[1..] are return addresses; a frame with bit 63 set
 *    is a Java frame (nmt_format.h: NMT_FRAME_JAVA...).
 *  - Symbolized frames (struct nmr_frame) exist only after
 *    nmr_symbolize_stack() was called for that stack (views get rows whose
 *    stacks are already symbolized, see nmr_view.h).
 */
#ifndef NMR_PROFILE_H
#define NMR_PROFILE_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "nmr_jvmacc.h"

/* One key/value pair of INFO records (later values replace earlier ones). */
struct nmr_kv {
    const char *key;
    const char *value;
};

/* One MAPS entry. path is "" for anonymous memory; build_id may be NULL. */
struct nmr_map {
    uint64_t start, end, offset;
    uint32_t prot; /* NMT_MAP_R/W/X/SHARED */
    uint32_t dev;
    uint64_t inode;
    const char *path;
    const uint8_t *build_id;
    uint32_t build_id_len;
};

/* One COUNTERS entry. Look them up with nmr_counter_get(). */
struct nmr_counter {
    const char *name;
    int64_t value;
};

/* One SITES entry, host order, same fields as struct nmt_site_disk. */
struct nmr_site {
    uint32_t stack_id;
    uint32_t flags; /* NMT_SITE_MALLOC | NMT_SITE_MMAP */
    uint64_t live_bytes, live_objects;
    uint64_t alloc_bytes, alloc_objects;
    uint64_t live_samples, alloc_samples;
    uint64_t reserved, committed;
};

/* One complete snapshot. */
struct nmr_snapshot {
    uint32_t seq;
    uint32_t reason; /* NMT_SNAP_EXIT ... NMT_SNAP_TRIGGER */
    uint64_t realtime_ns;
    uint64_t monotonic_ns;
    struct nmr_counter *counters;
    size_t ncounters; /* in file order; a repeated name: the later one wins */
    struct nmr_map *maps;
    size_t nmaps; /* sorted by start */
    struct nmr_site *sites;
    size_t nsites;           /* in file order; at most one entry per stack id */
    struct nmr_smaps *smaps; /* SMAPS, in address order; NULL when absent */
    size_t nsmaps;
    int has_smaps;
    struct nmr_jaccounts *jacc; /* JACCOUNTS, NULL when absent (nmr_jvmacc.h) */
};

/*
 * Frame classes, as libnmsym names them (symbolize/nmsym.h). NMR_CLS_* values are
 * the same numbers as libnmsym's enum nms_class.
 */
enum nmr_class {
    NMR_CLS_UNKNOWN = 0,
    NMR_CLS_NMTRACE,
    NMR_CLS_LIBC,
    NMR_CLS_ALLOCATOR,
    NMR_CLS_JVM,
    NMR_CLS_JDK,
    NMR_CLS_JNI,
    NMR_CLS_JIT,
    NMR_CLS_JAVA,
    NMR_CLS_EXE,
    NMR_NCLASSES
};

/*
 * One symbolized frame. An address that inlines calls expands to several
 * frames (innermost first) with the same addr and raw index; all but the last
 * of those have inlined = 1. function is never NULL (an unknown function is
 * named "0x<addr>" or "<lib>+0x<offset>"); file may be NULL, line 0 then; lib
 * is the basename of the mapping ("" when none), lib_path the full path.
 */
struct nmr_frame {
    uint64_t addr; /* the raw frame value as recorded */
    const char *function;
    const char *file;
    int line;
    const char *lib;
    const char *lib_path;
    enum nmr_class cls;
    const char *cls_name; /* "jvm", "libc", ... (nmr_class_name(cls)) */
    uint32_t raw_index;   /* index into stack->raw of the address it came from */
    int inlined;
};

/*
 * One stack. raw/nraw come from the STACK record. The symbolized part is
 * filled by nmr_symbolize_stack(): frames[0..nframes) are the frames views
 * show, leaf first, WITHOUT nmtrace's entry point (raw[0]), whose name is api
 * ("malloc", "mmap", ...; "?" when unknown). site is the index in frames of
 * the allocation site (first frame whose class is not nmtrace, allocator or
 * libc), or -1 when every frame is one of those (then views use frame 0 or
 * the api).
 */
struct nmr_stack {
    uint32_t id;
    uint32_t nraw;
    const uint64_t *raw;
    uint8_t defined;    /* a STACK record defined this id */
    uint8_t symbolized; /* frames/api/site are valid */
    uint32_t nframes;
    struct nmr_frame *frames;
    const char *api;
    int site;
};

/*
 * A Java record (types 10..19: JMETHOD=10, JCODE=11, FORMAT.md §5) kept as
 * it was in the file (little-endian payload), in file order: nmr_java.h
 * decodes them (JMETHODs may come after the stacks that use them).
 */
struct nmr_raw_record {
    uint16_t type;
    uint32_t length;
    const uint8_t *payload;
    uint64_t offset; /* byte offset of the record's frame head in the file */
};

/* A named JMETHOD (FORMAT.md §5), decoded by nmr_java.c after reading;
 * unnamed methods (class unloaded first) are left out. */
struct nmr_jmethod {
    uint32_t serial;
    const char *class_name; /* "java.nio.Bits" style */
    const char *name;
    const char *signature;
    const char *source_file;
};

/* The whole file. */
struct nmr_profile {
    const char *path; /* as given on the command line */
    uint64_t file_size;
    uint64_t valid_bytes; /* end of the last complete snapshot's SNAP_END */
    int truncated;        /* 1: the file was cut (reading rules): data after
                             valid_bytes was dropped */

    /* HEADER */
    uint32_t format_version, pid, ppid, hdr_flags;
    uint64_t start_realtime_ns, start_monotonic_ns;
    uint64_t rate;
    uint32_t depth, page_size;
    const char *producer, *exe, *hostname;
    const char *cmdline; /* arguments joined with single spaces */

    struct nmr_kv *info;
    size_t ninfo;

    struct nmr_stack *stacks; /* indexed by stack id, see above */
    uint32_t nstack_slots;    /* highest id + 1 */
    uint32_t nstacks;         /* how many ids were defined */

    struct nmr_snapshot *snaps;
    size_t nsnaps;

    struct nmr_raw_record *java_records; /* types 10..19, in file order */
    size_t njava_records;
    struct nmr_jmethod *jmethods; /* sorted by serial (nmr_java.c) */
    size_t njmethods;

    struct nmr_sym_state *sym; /* symbolizer state, owned (nmr_symbols.c) */
    struct nmr_arena *arena;   /* owns the strings, frames and maps' build-ids; the
                                  arrays (info, stacks, snaps and each snapshot's
                                  counters/maps/sites) are malloc'ed; all freed by
                                  nmr_profile_free */
};

/* Reader (nmr_reader.c) -------------------------------------------------- */

/*
 * Options of the reader. progress: print progress lines to stderr (main sets
 * it when stderr is a terminal). warn: where warnings go (truncation), NULL
 * for none.
 */
struct nmr_read_opts {
    int progress;
    FILE *warn;
};

/*
 * Reads the profile at path. On success returns 0 and *out (free it with
 * nmr_profile_free). On failure returns a negative errno-style value and
 * writes one line (no trailing newline) naming the file and, for corruption,
 * the byte offset into err[errlen]. The file is opened read-only and never
 * modified.
 */
int nmr_profile_read(const char *path, const struct nmr_read_opts *opts, struct nmr_profile **out,
                     char *err, size_t errlen);

/* Same on a memory buffer (the fuzzer and unit tests); name is used in messages. */
int nmr_profile_parse(const uint8_t *data, size_t size, const char *name,
                      const struct nmr_read_opts *opts, struct nmr_profile **out, char *err,
                      size_t errlen);

void nmr_profile_free(struct nmr_profile *p);

/* Lookups ----------------------------------------------------------------- */

/* The INFO value of key, or NULL. */
const char *nmr_info_get(const struct nmr_profile *p, const char *key);

/* How the recording's native stacks were taken, in words. */
const char *nmr_unwinder_name(const struct nmr_profile *p);

/* Counter value by name: returns 1 and sets *v when present, else 0. */
int nmr_counter_get(const struct nmr_snapshot *s, const char *name, int64_t *v);

/* The MAPS entry of snapshot s that holds addr, or NULL (nmr_symbols.c). */
const struct nmr_map *nmr_map_at(const struct nmr_snapshot *s, uint64_t addr);

/* The stack with this id, or NULL when it was never defined. */
struct nmr_stack *nmr_stack_get(const struct nmr_profile *p, uint32_t id);

/* Seconds since the start of recording of a snapshot. */
double nmr_snap_time_s(const struct nmr_profile *p, const struct nmr_snapshot *s);

/* "exit", "interval", "growth", "signal", "trigger", or "reason-<n>". */
const char *nmr_reason_name(uint32_t reason);

/* "unknown", "nmtrace", "libc", "allocator", "jvm", "jdk", "jni", "jit", "java", "exe". */
const char *nmr_class_name(enum nmr_class c);

#endif
