/*
 * nmr_diag.h: --diagnose: findings about a process's native memory, each
 * naming a cause, an owner, the bytes and their trend, a verdict, the
 * confidence, the evidence and the next step (docs/nmreport.1, DIAGNOSE).
 *
 * nmr_diag.c builds the candidates from the profile's own data (one per
 * series of --key, path by default: allocation site + owner), nmr_diag_rules.c
 * names the cause of each (one rule per cause, a table), nmr_diag_profile.c
 * adds the findings about the whole process (warm-up, allocator overhead,
 * the JVM's own accounts); views/nmr_diagnose.c prints them as text or JSON.
 */
#ifndef NMR_DIAG_H
#define NMR_DIAG_H

#include "nmr_series.h"
#include "nmr_trend.h"
#include "nmr_view.h"

enum nmr_cause {
    NMR_CAUSE_JNI_LEAK,       /* a JNI library's allocations */
    NMR_CAUSE_DIRECT_BUFFERS, /* DirectByteBuffer memory held */
    NMR_CAUSE_NIO_CACHE,      /* NIO's per-thread temporary direct buffers */
    NMR_CAUSE_UNSAFE,         /* Unsafe.allocateMemory not freed */
    NMR_CAUSE_ZIP,            /* Inflater/Deflater not end()ed */
    NMR_CAUSE_METASPACE,      /* Metaspace / class-loader growth */
    NMR_CAUSE_REFLECTION,     /* reflection inflation: generated accessors */
    NMR_CAUSE_CACHE,          /* a cache or business growth that levels off */
    NMR_CAUSE_WARMUP,         /* warm-up within the reasonable total */
    NMR_CAUSE_ALLOCATOR,      /* allocator overhead vs untracked RSS */
    NMR_CAUSE_JVM_INTERNALS,  /* GC, JIT, threads, code cache, symbols */
    NMR_CAUSE_NATIVE_LEAK,    /* a native program's own code */
    NMR_CAUSE_ACCOUNTS,       /* the JVM's accounts and nmtrace's disagree */
    NMR_CAUSE_BEFORE_ATTACH,  /* mappings the process had when nmtrace attached */
    NMR_CAUSE_UNCLASSIFIED,   /* growth no rule explains */
    NMR_NCAUSES
};

/*
 * The JVM's own accounts at one snapshot, as far as the profile has them
 * (each has_* says whether the figures next to it are known). Filled from
 * the snapshot's counters by nmr__diag_accounts (nmr_diag_profile.c).
 */
struct nmr_jvm_accounts {
    int has_direct;
    int64_t direct_count, direct_bytes; /* BufferPoolMXBean "direct" */
    int has_mapped;
    int64_t mapped_count, mapped_bytes; /* BufferPoolMXBean "mapped" */
    int has_metaspace;
    int64_t metaspace_used, metaspace_committed;
    int has_code;
    int64_t code_used, code_committed;
    int has_threads;
    int64_t threads;
    int has_classes;
    int64_t classes_loaded, classes_unloaded;
    int has_nmt;
    int64_t nmt_committed; /* NMT summary total committed */
};

/* What a cause rule looks at: one candidate series and its context. */
struct nmr_diag_input {
    const struct nmr_profile *p;
    const struct nmr_series_key *key; /* key->stack: a stack of the series */
    const struct nmr_owner_rules *rules;
    struct nmr_trend trend;             /* by snapshot step */
    int64_t bytes;                      /* at the last snapshot */
    int64_t growth;                     /* last - first */
    int mmap;                           /* committed mmap bytes (else live malloc bytes) */
    const struct nmr_jvm_accounts *jvm; /* last snapshot's; never NULL */
};

#define NMR_DIAG_MAX_EVIDENCE 5

struct nmr_finding {
    enum nmr_cause cause;
    const char *verdict; /* leak-suspect, levels-off, stable, business-growth,
                            growing, unjudged */
    char owner[1024];    /* nmr_owner_label with line */
    const char *owner_kind;
    char site[512];
    int64_t bytes, growth;
    double rate;      /* bytes per second (least squares) */
    double error_pct; /* 95% sampling error of bytes; 0 when exact */
    int exact;        /* mmap figures are not sampled */
    int mmap;
    const char *memory; /* "live malloc", "committed mmap", "RSS", "allocator-held" */
    size_t nsnaps;
    char evidence[NMR_DIAG_MAX_EVIDENCE][512];
    size_t nevidence;
    char fix[1024];
    char confirm[512];
    char note[512]; /* a limit near, explicit GC disabled, too few snapshots... */
};

struct nmr_findings {
    struct nmr_finding *f;
    size_t n, cap;
    size_t nsnaps;
    double span_s;
    int is_jvm;
    int oom_seen;                /* a stack passes through java.lang.OutOfMemoryError */
    int64_t rss_first, rss_last; /* -1 when unknown */
    int64_t reasonable_total;    /* jvm.reasonable_total, -1 when unknown */
    struct nmr_jvm_accounts jvm;
};

/* One rule of nmr_diag_rules.c. */
struct nmr_cause_rule {
    enum nmr_cause cause;
    const char *name;  /* "direct-buffers": JSON and --fail-on */
    const char *title; /* "DirectByteBuffer memory held" */
    int (*match)(const struct nmr_diag_input *in);
    /* Fills evidence, fix, confirm and note (may be NULL: title only). */
    void (*advise)(const struct nmr_diag_input *in, struct nmr_finding *f);
};

/* The rule of a cause, and the rule that names a candidate's cause. */
const struct nmr_cause_rule *nmr__cause_rule(enum nmr_cause c);
const struct nmr_cause_rule *nmr__cause_of(const struct nmr_diag_input *in);

/* Adds one line of evidence (printf-style); ignored past the maximum. */
void nmr__evidence(struct nmr_finding *f, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* The first frame of s whose function starts with prefix, or -1. */
int nmr__diag_frame(const struct nmr_stack *s, const char *prefix);

/* Builds the ranked findings of profile p. 0 or -ENOMEM. */
int nmr__diagnose(const struct nmr_view *v, struct nmr_profile *p, struct nmr_findings *out);
void nmr__findings_free(struct nmr_findings *fs);

/* The whole-process findings (nmr_diag_profile.c): warm-up, allocator
 * overhead, the JVM's accounts against nmtrace's figures. 0 or -ENOMEM. */
int nmr__diag_profile(const struct nmr_view *v, struct nmr_profile *p, struct nmr_findings *fs);
void nmr__diag_accounts(const struct nmr_snapshot *s, struct nmr_jvm_accounts *a);
struct nmr_finding *nmr__finding_new(struct nmr_findings *fs);

/* The findings block of the default text view: at most max findings of
 * the application or leak suspects, one line each (nmr_diagnose.c). */
void nmr__print_findings_block(FILE *f, const struct nmr_findings *fs, size_t max);

#endif
