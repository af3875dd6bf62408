/*
 * nmr_view.h: what every nmreport view receives, and the helpers views share.
 *
 * main (nmr_main.c) parses the options (struct nmr_opts), reads the profiles
 * (nmr_profile.h), selects one snapshot per file, subtracts the base when
 * there is one, applies --focus/--ignore, symbolizes the stacks that remain,
 * and hands the result to exactly one view as a struct nmr_view. A view
 * writes to view->out and returns 0, or a negative errno-style value after
 * printing one line to stderr ("nmreport: ...").
 *
 * The data model of a view is a list of rows: one per stack with at least
 * one non-zero value after the diff. Every row's stack is already symbolized
 * (row->stack->frames, ->api, ->site valid). Values are signed: in a diff
 * (--base or --base-snapshot) they are "selected minus base" and may be
 * negative; views show negative values as such.
 *
 * Merging several files: the selected snapshot of every file is summed.
 * Stacks of different files (or a base from another file) are matched by
 * their symbolized frames (api + each frame's function and lib), since the
 * addresses differ between processes; within one file they are matched by
 * stack id. row->profile/row->stack is the first stack seen with that key.
 *
 * Views never modify the profiles or rows (the pointers are const).
 */
#ifndef NMR_VIEW_H
#define NMR_VIEW_H

#include <regex.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "nmr_internal.h"
#include "nmr_profile.h"
#include "nmr_sat.h"

/*
 * Values carried by every row. The first NMR_NMEASURES are the selectable
 * measures (--inuse-space ...); the samples are raw counts (for pprof /
 * heap_v2 writers that want them).
 */
enum nmr_measure {
    NMR_INUSE_SPACE = 0, /* live malloc bytes (default) */
    NMR_INUSE_OBJECTS,   /* live malloc objects */
    NMR_ALLOC_SPACE,     /* malloc bytes allocated since start */
    NMR_ALLOC_OBJECTS,   /* malloc objects allocated since start */
    NMR_RESERVED,        /* mmap bytes reserved and still mapped */
    NMR_COMMITTED,       /* mmap bytes committed and still accessible */
    NMR_NMEASURES,
    NMR_LIVE_SAMPLES = NMR_NMEASURES, /* raw sampled allocations still live */
    NMR_ALLOC_SAMPLES,                /* raw sampled allocations since start */
    NMR_NVALUES
};

struct nmr_row {
    const struct nmr_profile *profile; /* the file the stack comes from */
    const struct nmr_stack *stack;     /* symbolized */
    int64_t v[NMR_NVALUES];
};

/* --by */
enum nmr_by { NMR_BY_NONE = 0, NMR_BY_LIB, NMR_BY_CLASS, NMR_BY_OWNER };

/* --key: what the views over time and the default view group stacks by. */
enum nmr_keyby {
    NMR_KEYBY_AUTO = 0, /* path when the profile has Java frames, else site */
    NMR_KEYBY_SITE,     /* the allocation site (function + lib) */
    NMR_KEYBY_OWNER,    /* the owner (nmr_owner.h) */
    NMR_KEYBY_PATH,     /* allocation site + owner */
};

#define NMR_MAX_DEBUG_DIRS 16

/* Every option of the command line (docs/nmreport.1 is their prose). */
struct nmr_opts {
    const char *const *files; /* profiles to read (merged) */
    size_t nfiles;
    const char *output; /* -o FILE, NULL: stdout */
    const char *view;   /* view name as in the table: "text", "tree", ... */

    long snapshot;      /* --snapshot N; -1: last */
    const char *base;   /* --base FILE, or NULL */
    long base_snapshot; /* --base-snapshot N; -1: last of the base, -2: none */

    enum nmr_measure measure;
    const char *focus, *ignore; /* POSIX extended regexes, or NULL */
    regex_t focus_re, ignore_re;
    int has_focus, has_ignore;
    size_t nodecount; /* 0: no limit */
    double threshold; /* percent of |total|; 0: none */

    int callers;        /* --tree --callers */
    enum nmr_by by;     /* --by lib|class|owner */
    enum nmr_keyby key; /* --key site|owner|path */
    const char *app;    /* --app PREFIX[,PREFIX]: application packages, or NULL */
    int diag_json;      /* --diagnose --json */
    int fail_on;        /* --fail-on leak-suspect[:BYTES] given */
    int64_t fail_bytes; /* its BYTES (0: any size) */
    int64_t expect;     /* --expect BYTES; -1: not given */

    const char *symbols_from;
    const char *debug_dirs[NMR_MAX_DEBUG_DIRS];
    size_t ndebug_dirs;
    const char *perf_map;
    int progress;      /* stderr is a terminal */
    FILE *warn;        /* symbolizer warnings (missing files...); NULL: silent */
    char **argv_owned; /* the rewritten argument vector (export FILE forms) */
};

/* What a view receives. */
struct nmr_view {
    FILE *out;
    const struct nmr_opts *opt;

    struct nmr_profile *const *profiles; /* nprofiles >= 1 */
    size_t nprofiles;
    const struct nmr_snapshot *const *snaps; /* the selected snapshot of each profile */

    /* Diff base: NULL when there is none. */
    const struct nmr_profile *base_profile;
    const struct nmr_snapshot *base_snap;

    enum nmr_measure measure; /* == opt->measure */

    /* Rows after diff and --focus/--ignore, sorted by |v[measure]|
     * descending, then by stack id. --nodecount/--threshold are NOT applied
     * here: each view applies them to what it shows (nmr_view_above_threshold()
     * and its own count of entries). */
    const struct nmr_row *rows;
    size_t nrows;
    int64_t total[NMR_NVALUES];     /* sum of rows */
    int64_t total_all[NMR_NVALUES]; /* sum before --focus/--ignore */
};

/* A view: returns 0 or a negative errno-style value (after one error line). */
typedef int (*nmr_view_fn)(const struct nmr_view *v);

/*
 * The table of views main offers. flags: NMR_VIEW_BINARY output is binary
 * (refused on a terminal unless -o is given).
 */
#define NMR_VIEW_BINARY 1u
/* NMR_VIEW_PAGE: a file meant for another program (an HTML page, an SVG,
 * a jeprof profile), pages long: refused on a terminal unless -o is given. */
#define NMR_VIEW_PAGE 4u
/* NMR_VIEW_NO_ROWS: the view reads snapshots itself; main leaves rows empty
 * (nrows 0, totals 0) and skips symbolizing every stack. */
#define NMR_VIEW_NO_ROWS 2u
struct nmr_view_def {
    const char *option; /* "--pprof" */
    const char *name;   /* "pprof" (nmr_opts.view) */
    const char *help;   /* one line for --help */
    nmr_view_fn run;
    unsigned flags;
};

/* Text views (report/views/). */
int nmr_view_text(const struct nmr_view *v);      /* --text (default), nmr_text.c */
int nmr_view_tree(const struct nmr_view *v);      /* --tree [--callers], nmr_tree.c */
int nmr_view_by(const struct nmr_view *v);        /* --by lib|class, nmr_by.c */
int nmr_view_stacks(const struct nmr_view *v);    /* --stacks, nmr_stacks.c */
int nmr_view_collapsed(const struct nmr_view *v); /* --collapsed, nmr_stacks.c */
int nmr_view_stats(const struct nmr_view *v);     /* --stats, nmr_stats.c */
int nmr_view_json(const struct nmr_view *v);      /* --json, nmr_json.c */
int nmr_view_timeline(const struct nmr_view *v);  /* --timeline, nmr_timeline.c */
int nmr_view_growth(const struct nmr_view *v);    /* --growth, nmr_growth.c */
int nmr_view_rss(const struct nmr_view *v);       /* --rss, nmr_rss.c */
int nmr_view_diagnose(const struct nmr_view *v);  /* --diagnose, nmr_diagnose.c */

/* A view's positive return: it ran, and --fail-on's condition holds (main
 * exits with 3). */
#define NMR_VIEW_GATE 3

/* Export views (report/export/). */
int nmr_view_pprof(const struct nmr_view *v);  /* --pprof, nmr_pprof.c */
int nmr_view_jeprof(const struct nmr_view *v); /* --heap-v2, --jeprof, nmr_jeprof.c */
int nmr_view_flame(const struct nmr_view *v);  /* --flamegraph, nmr_flamegraph.c */
int nmr_view_html(const struct nmr_view *v);   /* --html, nmr_html.c */
int nmr_view_chart(const struct nmr_view *v);  /* --timeline-svg, nmr_timeline_svg.c */

/* Helpers shared by views and exports (nmr_util.c) ------------------------- */

/*
 * Writes the "Total: ..." line every text view starts with: the total of the
 * selected measure and what was selected (snapshot, files, diff base,
 * filters), e.g. "Total: 12.3 MiB inuse_space (snapshot 3 exit at 12.0s of
 * a.nmt)".
 */
void nmr__print_total(const struct nmr_view *v);

/* Prints "nmreport: <msg>" on stderr and returns -ENOMEM (views' OOM path). */
int nmr__oom(void);

/* Runs one(v, profile) for each profile of the view, a blank line between
 * them; stops at the first error. For the views that report per file. */
int nmr__each_profile(const struct nmr_view *v,
                      int (*one)(const struct nmr_view *, struct nmr_profile *));

/* FNV-1a of a frame's function and library, seeded (a parent node, or 0):
 * the key of the aggregation tables. */
uint64_t nmr__hash_fn_lib(uint64_t seed, const char *fn, const char *lib);

/* Writes s as a JSON string (null for NULL), valid UTF-8 kept. nmr_json.c. */
void nmr__json_str(FILE *f, const char *s);

/* Formats one error line into err (errlen bytes) and returns code. */
int nmr__errf(char *err, size_t errlen, int code, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* The symbolizer's part of the options (nmr__sym_open). */
struct nmr_sym_opts nmr__sym_opts(const struct nmr_opts *o);

/* "inuse_space", "inuse_objects", "alloc_space", "alloc_objects", "reserved",
 * "committed", "live_samples", "alloc_samples". */
const char *nmr_measure_name(enum nmr_measure m);

/* 1 when the value is in bytes (space, reserved, committed), 0 for counts. */
int nmr_measure_is_bytes(enum nmr_measure m);

/* Human units: "12.3 MiB", "-512 B", "3.0 KiB" (binary prefixes; one decimal
 * from KiB up). Writes at most n bytes (n >= 16 is always enough); returns buf. */
char *nmr_fmt_bytes(char *buf, size_t n, int64_t v);

/* A value of measure m: bytes via nmr_fmt_bytes, counts as plain integers. */
char *nmr_fmt_value(char *buf, size_t n, int64_t v, enum nmr_measure m);

/* Percentage of part in total (0 when total is 0); uses |total|. */
double nmr_pct(int64_t part, int64_t total);

/* The allocation-site frame of a row's stack, or NULL when the stack has
 * no visible frame (then name it by stack->api). */
const struct nmr_frame *nmr_stack_site(const struct nmr_stack *s);

/*
 * Whether a node with value val is shown under --threshold (percent of
 * |total|): 1 when |val| * 100 >= threshold * |total|, or no threshold.
 */
int nmr_view_above_threshold(const struct nmr_view *v, int64_t val, int64_t total);

/* Whether a symbolized stack passes --focus/--ignore (any frame's function
 * or the api matches focus; no frame matches ignore). */
int nmr_stack_selected(const struct nmr_opts *o, const struct nmr_stack *s);

#endif
