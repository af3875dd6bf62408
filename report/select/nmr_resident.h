/*
 * nmr_resident.h: the resident set of one snapshot split by what holds it
 * (nmr_resident.c), from its SMAPS record joined with the mmap sites, the
 * maps and glibc's counters, with the JVM's own accounts beside it. --rss
 * prints it, --json writes it; both read only this.
 */
#ifndef NMR_RESIDENT_H
#define NMR_RESIDENT_H

#include <stddef.h>
#include <stdint.h>

#include "nmr_profile.h"
#include "nmr_view.h"

enum nmr_res_cat {
    NMR_RES_MALLOC_GLIBC,  /* glibc: [heap], its arenas, its own mmapped chunks */
    NMR_RES_MALLOC_OTHER,  /* a preloaded allocator's mmaps (jemalloc, tcmalloc...) */
    NMR_RES_JAVA_HEAP,     /* the Java heap */
    NMR_RES_GC,            /* GC structures: mark bitmaps, card tables, mark stacks */
    NMR_RES_METASPACE,     /* Metaspace and the compressed class space */
    NMR_RES_CODE_CACHE,    /* the code cache (code heap segments) */
    NMR_RES_THREAD_STACKS, /* thread stacks */
    NMR_RES_JVM_OTHER,     /* other mmaps of the JVM (CDS archive, perf data, ...) */
    NMR_RES_MMAP_OWNER,    /* mmaps of everything else, by owner (see owners) */
    NMR_RES_FILE_LIBS,     /* code and data of the executable and libraries, [vdso] */
    NMR_RES_FILE_OTHER,    /* other files: the JDK's lib/modules, mapped data files */
    NMR_RES_NMTRACE,       /* the recorder's own memory */
    NMR_RES_UNTRACKED,     /* anonymous memory that nothing recorded or explains */
    NMR_RES_NCATS
};

#define NMR_RES_OWNERS 8

struct nmr_res_owner {
    const char *name; /* the mmap's key (nmr_resident_of), or a file's name */
    int64_t bytes;
};

struct nmr_resident {
    int64_t total;               /* sum of SMAPS rss: >= every part, parts add up to it */
    int64_t cat[NMR_RES_NCATS];  /* resident bytes */
    int64_t swap;                /* bytes swapped out, all categories */
    int64_t malloc_estimated;    /* of cat[MALLOC_GLIBC]: anonymous memory put there by
                                    glibc's count of its mmapped chunks (hblkhd) */
    const char *other_allocator; /* the library of MALLOC_OTHER, or NULL */
    struct nmr_res_owner owners[NMR_RES_OWNERS]; /* NMR_RES_MMAP_OWNER, largest first */
    size_t nowners;
    struct nmr_res_owner files[NMR_RES_OWNERS]; /* NMR_RES_FILE_OTHER, largest first */
    size_t nfiles;
};

/* The split of snapshot s. 1 when it has a SMAPS record, 0 when not (r is
 * zeroed), negative on out-of-memory. The mmaps of NMR_RES_MMAP_OWNER are
 * named by key (--key): the owner's frame "function [lib]" for
 * NMR_KEYBY_OWNER and NMR_KEYBY_AUTO, else the series' label of the site
 * or the path (nmr_series.h); app is --app (NULL: none). */
int nmr_resident_of(struct nmr_profile *p, const struct nmr_snapshot *s, enum nmr_keyby key,
                    const char *app, struct nmr_resident *r);

/* "malloc: glibc (heap, arenas, mmapped chunks)", ... */
const char *nmr_res_cat_name(enum nmr_res_cat c);
/* "malloc_glibc", ... (the JSON keys) */
const char *nmr_res_cat_key(enum nmr_res_cat c);

/*
 * Growth of a per-snapshot figure up to snapshot `upto` (an index in
 * p->snaps): over the later half of the snapshots (at least 3), whether it
 * still rises (most steps up, and by more than 1 MiB and 1 % of its last
 * value). fig returns the figure of a snapshot, or -1 when it has none.
 */
struct nmr_rise {
    int growing;
    int64_t from, to; /* the figure at the first and last snapshot looked at */
    double seconds;   /* between them */
    size_t nsnaps;    /* looked at */
};
struct nmr_rise
nmr_rise_of(struct nmr_profile *p, size_t upto,
            int64_t (*fig)(struct nmr_profile *, const struct nmr_snapshot *, void *), void *ctx);

/* --rss's second half (nmr_rss_jvm.c): the JVM's own accounts of snapshot
 * s beside what is resident (r may be NULL) and what nmtrace tracked.
 * Prints nothing without a JACCOUNTS record. 0, or negative on
 * out-of-memory. */
int nmr_rss_jvm(FILE *f, struct nmr_profile *p, const struct nmr_snapshot *s,
                const struct nmr_resident *r);

/* --json's "resident" and "jvm_accounts" keys of a FILE, each preceded by
 * ",\n" (nmr_json_resident.c); str writes a JSON string. 0, or -1 on
 * out-of-memory. */
int nmr__json_resident(FILE *f, struct nmr_profile *p, const struct nmr_snapshot *s,
                       void (*str)(FILE *, const char *));

#endif
