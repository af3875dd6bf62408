/*
 * nmr_internal.h: cross-file internals of the model (names nmr__...): the
 * arena that owns a profile's memory, growable arrays, little-endian loads,
 * the symbolizer and the Java record decoder.
 */
#ifndef NMR_INTERNAL_H
#define NMR_INTERNAL_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <stdio.h>

#include "nmr_profile.h"

/* A bump allocator in chunks: a profile frees everything at once. */
struct nmr_arena;
struct nmr_arena *nmr__arena_new(void);
void nmr__arena_free(struct nmr_arena *a);
/* Zeroed, 8-byte aligned memory, or NULL. */
void *nmr__arena_alloc(struct nmr_arena *a, size_t size);
/* The same without zeroing, for arrays the caller fills completely. */
void *nmr__arena_alloc_raw(struct nmr_arena *a, size_t size);
/* A NUL-terminated copy of s[0..len), or NULL. */
char *nmr__arena_strndup(struct nmr_arena *a, const char *s, size_t len);

/*
 * Grows the array *p of *cap elements of size esz so that it holds at least
 * need elements (doubling). Returns 0 or -ENOMEM (*p unchanged then).
 */
int nmr__grow(void *p, size_t *cap, size_t need, size_t esz);

static inline uint16_t nmr__le16(const uint8_t *p)
{
    return (uint16_t)(p[0] | (p[1] << 8));
}
static inline uint32_t nmr__le32(const uint8_t *p)
{
    return (uint32_t)p[0] | ((uint32_t)p[1] << 8) | ((uint32_t)p[2] << 16) | ((uint32_t)p[3] << 24);
}
static inline uint64_t nmr__le64(const uint8_t *p)
{
    return (uint64_t)nmr__le32(p) | ((uint64_t)nmr__le32(p + 4) << 32);
}

/* Where the symbolizer looks for files, and where it warns (the options
 * --debug-dir, --symbols-from, --perf-map). */
struct nmr_sym_opts {
    const char *const *debug_dirs;
    size_t ndebug_dirs;
    const char *symbols_from; /* NULL: the paths the profile names */
    const char *perf_map;     /* NULL: /tmp/perf-<pid>.map when present */
    FILE *warn;               /* missing files...; NULL: silent */
};

/*
 * Symbolizer (nmr_symbols.c). nmr__sym_open prepares a profile for
 * symbolization with the options and the mappings of snapshot snap; it is
 * called once per profile. nmr__symbolize fills stack->frames/api/site
 * (once; later calls return 0). Both return 0 or a negative errno value.
 */
int nmr__sym_open(struct nmr_profile *p, const struct nmr_sym_opts *o,
                  const struct nmr_snapshot *snap);
int nmr__symbolize(struct nmr_profile *p, struct nmr_stack *s);
void nmr__sym_close(struct nmr_profile *p);

/* nmr_jtidy.c: a perf map's spelling of a Java method (`long a.B.m(int)`,
 * `La/B;::m`, `a.B::m`) as the report names methods (`a.B.m`). Returns 1 and
 * fills out, or 0 when name is none of these (out untouched). */
int nmr__java_canonical(const char *name, char *out, size_t len);
/* Drops native frames that repeat the Java frame above them and folds runs of
 * unnamed interpreter frames into one labelled frame; raw is the stack's raw
 * frames, s the snapshot whose counters say why no Java stack was taken.
 * Returns the new number of frames. */
size_t nmr__java_tidy(struct nmr_frame *fr, size_t n, const uint64_t *raw,
                      const struct nmr_snapshot *s);

/* Java method records (nmr_java.c): decodes p->java_records into
 * p->jmethods when their layout is known; 0 or -errno. */
int nmr__java_decode(struct nmr_profile *p);

#endif
