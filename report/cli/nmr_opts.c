/*
 * nmr_opts.c: the command line of nmreport: the table of views, every
 * option with its --help line, and their parsing into struct nmr_opts. A bad
 * option or value is one line in err; nothing here touches a file.
 */
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <stdlib.h>
#include <strings.h>

#include "nmt_format.h"
#include "nmc_parse.h"
#include "nmr_internal.h"
#include "nmr_diag_opts.h"
#include "nmr_select.h"

const struct nmr_view_def nmr__views[] = {
    {"--text", "text", "top functions, jeprof-style: flat, flat%, sum%, cum, cum% (default)",
     nmr_view_text, 0},
    {"--tree", "tree", "allocation-site tree: each site with its callers below it", nmr_view_tree,
     0},
    {"--by", "by", "flat/cum roll-up by library or by frame class", nmr_view_by, 0},
    {"--stacks", "stacks", "every stack with its totals and every frame (address, name, lib)",
     nmr_view_stacks, 0},
    {"--collapsed", "collapsed", "folded stacks for flamegraph.pl (root first, value last)",
     nmr_view_collapsed, 0},
    {"--stats", "stats", "the snapshot's counters (recorder, process, mallinfo, java) and INFO",
     nmr_view_stats, NMR_VIEW_NO_ROWS},
    {"--json", "json", "everything as JSON (docs/JSON.md)", nmr_view_json, 0},
    {"--timeline", "timeline", "every snapshot: time, reason, RSS, tracked bytes, top deltas",
     nmr_view_timeline, 0},
    {"--growth", "growth", "stacks ranked by growth across snapshots (leak suspects)",
     nmr_view_growth, 0},
    {"--diagnose", "diagnose",
     "findings: cause, owner, bytes, trend, verdict, evidence and next step (--json too)",
     nmr_view_diagnose, 0},
    {"--rss", "rss", "RSS reconciled with tracked malloc, allocator overhead, mmap, untracked",
     nmr_view_rss, NMR_VIEW_NO_ROWS},
    {"--pprof", "pprof", "gzipped pprof profile.proto (go tool pprof, speedscope, Pyroscope)",
     nmr_view_pprof, NMR_VIEW_BINARY},
    {"--heap-v2", "heap-v2", "jemalloc heap_v2 text profile, read by jeprof (alias --jeprof)",
     nmr_view_jeprof, NMR_VIEW_PAGE},
    {"--flamegraph", "flamegraph", "interactive SVG flame graph", nmr_view_flame, NMR_VIEW_PAGE},
    {"--html", "html", "self-contained HTML report", nmr_view_html, NMR_VIEW_PAGE},
    {"--timeline-svg", "timeline-svg", "SVG chart of every snapshot", nmr_view_chart,
     NMR_VIEW_PAGE},
};
const size_t nmr__nviews = sizeof(nmr__views) / sizeof(nmr__views[0]);

const struct nmr_view_def *nmr__view_find(const char *name)
{
    for (size_t i = 0; i < nmr__nviews; i++)
        if (strcmp(nmr__views[i].name, name) == 0)
            return &nmr__views[i];
    return NULL;
}

enum {
    OPT_VIEW = 1000, /* + index in nmr__views */
    OPT_SNAPSHOT = 2000,
    OPT_BASE,
    OPT_BASE_SNAPSHOT,
    OPT_MEASURE, /* + measure */
    OPT_FOCUS = 2100,
    OPT_IGNORE,
    OPT_NODECOUNT,
    OPT_THRESHOLD,
    OPT_CALLERS,
    OPT_SVG,
    OPT_EXPECT,
    OPT_SYMBOLS_FROM,
    OPT_DEBUG_DIR,
    OPT_PERF_MAP,
    OPT_VERSION,
    OPT_KEY,
    OPT_APP,
    OPT_FAIL_ON,
};

static const struct {
    const char *name;
    int has_arg, val;
    const char *arg, *help;
} fixed[] = {
    {"snapshot", 1, OPT_SNAPSHOT, "N|last", "the snapshot to report (its seq; default last)"},
    {"base", 1, OPT_BASE, "FILE",
     "diff: subtract this profile's snapshot (last, or --base-snapshot)"},
    {"base-snapshot", 1, OPT_BASE_SNAPSHOT, "N|last",
     "diff: subtract snapshot N (of --base, else of the one profile)"},
    {"inuse-space", 0, OPT_MEASURE + NMR_INUSE_SPACE, NULL, "measure: live malloc bytes (default)"},
    {"inuse-objects", 0, OPT_MEASURE + NMR_INUSE_OBJECTS, NULL, "measure: live malloc objects"},
    {"alloc-space", 0, OPT_MEASURE + NMR_ALLOC_SPACE, NULL, "measure: malloc bytes since start"},
    {"alloc-objects", 0, OPT_MEASURE + NMR_ALLOC_OBJECTS, NULL,
     "measure: malloc objects since start"},
    {"reserved", 0, OPT_MEASURE + NMR_RESERVED, NULL, "measure: mmap bytes reserved (mapped)"},
    {"committed", 0, OPT_MEASURE + NMR_COMMITTED, NULL, "measure: mmap bytes committed"},
    {"focus", 1, OPT_FOCUS, "RE", "keep stacks with a frame (or the api) matching RE (POSIX ERE)"},
    {"ignore", 1, OPT_IGNORE, "RE", "drop stacks with a frame matching RE"},
    {"nodecount", 1, OPT_NODECOUNT, "N", "show at most N entries"},
    {"threshold", 1, OPT_THRESHOLD, "PCT", "hide entries below PCT percent of the total"},
    {"callers", 0, OPT_CALLERS, NULL, "with --tree: callers at the top, allocation sites below"},
    {"svg", 0, OPT_SVG, NULL, "with --timeline: the SVG chart (--timeline --svg FILE)"},
    {"expect", 1, OPT_EXPECT, "BYTES", "with --rss: the RSS the process should stay under"},
    {"key", 1, OPT_KEY, "site|owner|path",
     "group --growth, --timeline, the text view and diffs by this (default: path with Java)"},
    {"app", 1, OPT_APP, "PREFIX[,PREFIX]", "Java packages that are the application's"},
    {"fail-on", 1, OPT_FAIL_ON, "leak-suspect[:BYTES]",
     "with --diagnose: exit 3 when such a finding (of at least BYTES) exists"},
    {"symbols-from", 1, OPT_SYMBOLS_FROM, "DIR", "look for the profile's binaries under DIR"},
    {"debug-dir", 1, OPT_DEBUG_DIR, "DIR", "extra directory of debug files (repeatable)"},
    {"perf-map", 1, OPT_PERF_MAP, "FILE", "JIT symbols from this perf map"},
    {"output", 1, 'o', "FILE", "write the view to FILE (also -o FILE)"},
    {"help", 0, 'h', NULL, "this help"},
    {"version", 0, OPT_VERSION, NULL, "print the version"},
};
#define NFIXED (sizeof(fixed) / sizeof(fixed[0]))

/* Every refused option is -EINVAL with its line in err. */
#define errf(err, errlen, ...) nmr__errf(err, errlen, -EINVAL, __VA_ARGS__)

static void usage(FILE *f)
{
    fprintf(f, "usage: nmreport [VIEW] [OPTIONS] PROFILE.nmt [PROFILE.nmt...]\n\n"
               "Reports where a process recorded by libnmtrace.so holds native memory.\n"
               "Several profiles are merged: their selected snapshots are summed.\n\nViews:\n");
    for (size_t i = 0; i < nmr__nviews; i++) {
        char o[40];
        snprintf(o, sizeof(o), "%s%s", nmr__views[i].option,
                 strcmp(nmr__views[i].name, "by") == 0 ? " lib|class|owner" : "");
        fprintf(f, "  %-22s %s\n", o, nmr__views[i].help);
    }
    fprintf(f, "  The file views write to -o FILE, or take it directly: --pprof FILE,\n"
               "  --pprof=FILE, --jeprof FILE, --flamegraph FILE, --html FILE,\n"
               "  --timeline --svg FILE (a word that is an existing profile stays an input).\n");
    fprintf(f, "\nOptions:\n");
    for (size_t i = 0; i < NFIXED; i++) {
        char o[48];
        snprintf(o, sizeof(o), "--%s%s%s", fixed[i].name, fixed[i].arg ? " " : "",
                 fixed[i].arg ? fixed[i].arg : "");
        fprintf(f, "  %-22s %s\n", o, fixed[i].help);
    }
    fprintf(f, "\nEnvironment: NMTRACE_DEBUG_PATH (colon-separated debug directories).\n"
               "See nmreport(1) and docs/JSON.md.\n");
}

static int parse_seq(const char *s, long *out)
{
    if (strcmp(s, "last") == 0) {
        *out = -1;
        return 0;
    }
    uint64_t v;
    if (nmc_parse_uint(s, &v) != 0 || v > 0xffffffffu)
        return -EINVAL;
    *out = (long)v;
    return 0;
}

static int set_view(struct nmr_opts *o, const char *name, char *err, size_t errlen)
{
    if (nmr__diag_json_view(o, name))
        return 0;
    if (o->view && strcmp(o->view, name) != 0)
        return errf(err, errlen, "choose one view: --%s and --%s were both given", o->view, name);
    o->view = name;
    return 0;
}

static int compile(regex_t *re, const char *pat, const char *opt, char *err, size_t errlen)
{
    int rc = regcomp(re, pat, REG_EXTENDED | REG_NOSUB);
    if (rc) {
        char msg[128];
        regerror(rc, re, msg, sizeof(msg));
        return errf(err, errlen, "--%s '%s': %s", opt, pat, msg);
    }
    return 0;
}

/* 1 when path names an existing nmtrace profile (by its magic). */
static int is_profile(const char *path)
{
    char magic[NMT_MAGIC_LEN];
    FILE *f = fopen(path, "rb");
    if (f == NULL)
        return 0;
    size_t n = fread(magic, 1, sizeof(magic), f);
    fclose(f);
    return n == sizeof(magic) && memcmp(magic, NMT_MAGIC, sizeof(magic)) == 0;
}

/* A word after a file view that is its output: not an option, not the last
 * word (a profile must follow), not named *.nmt and not an existing profile. */
static int looks_like_output(const char *w)
{
    size_t n = strlen(w);
    if (w[0] == '-' || w[0] == '\0' || (n > 4 && strcmp(w + n - 4, ".nmt") == 0))
        return 0;
    return !is_profile(w);
}

/* The export views also take their file the way jeprof and pprof users
 * write it: `--pprof FILE`, `--pprof=FILE`, `--jeprof FILE` (an alias of
 * --heap-v2), `--timeline --svg FILE`. The word after the option is taken as
 * the output only when looks_like_output() says so, so `--pprof -o x p.nmt`
 * and `--pprof p.nmt` keep their meaning and a profile is never overwritten.
 * Rewrites argv into canonical options. */
static char **rewrite_exports(int argc, char **argv, int *nargc)
{
    static const char *const takes_file[] = {
        "--pprof", "--heap-v2", "--jeprof", "--flamegraph", "--html", "--timeline-svg", "--svg"};
    char **out = calloc((size_t)argc * 2 + 1, sizeof(char *));
    if (out == NULL)
        return NULL;
    int k = 0;
    for (int i = 0; i < argc; i++) {
        const char *a = argv[i];
        const char *opt = NULL, *file = NULL;
        for (size_t j = 0; i > 0 && j < sizeof(takes_file) / sizeof(takes_file[0]); j++) {
            size_t n = strlen(takes_file[j]);
            if (strncmp(a, takes_file[j], n) == 0 && (a[n] == '\0' || a[n] == '=')) {
                opt = takes_file[j];
                file = a[n] == '=' ? a + n + 1 : NULL;
            }
        }
        if (opt == NULL) {
            out[k++] = argv[i];
            if (strcmp(a, "--") == 0) {
                while (++i < argc)
                    out[k++] = argv[i];
            }
            continue;
        }
        if (file == NULL && i + 2 < argc && looks_like_output(argv[i + 1]))
            file = argv[++i];
        out[k++] = (char *)(strcmp(opt, "--jeprof") == 0 ? "--heap-v2" : opt);
        if (file != NULL) {
            out[k++] = (char *)"-o";
            out[k++] = (char *)file;
        }
    }
    *nargc = k;
    return out;
}

/* getopt_long's table: every view's option, then the fixed options. */
static void long_options(struct option *lo)
{
    size_t n = 0;
    for (size_t i = 0; i < nmr__nviews; i++) {
        int by = strcmp(nmr__views[i].name, "by") == 0;
        lo[n++] = (struct option){nmr__views[i].option + 2, by ? required_argument : no_argument,
                                  NULL, OPT_VIEW + (int)i};
    }
    for (size_t i = 0; i < NFIXED; i++)
        lo[n++] = (struct option){fixed[i].name, fixed[i].has_arg ? required_argument : no_argument,
                                  NULL, fixed[i].val};
    lo[n] = (struct option){0};
}

/* A view option (c is OPT_VIEW + its index), with --by's argument. */
static int view_option(struct nmr_opts *o, int c, const char *arg, char *err, size_t errlen)
{
    const struct nmr_view_def *d = &nmr__views[c - OPT_VIEW];
    int rc = set_view(o, d->name, err, errlen);
    if (rc || strcmp(d->name, "by") != 0)
        return rc;
    if (strcmp(arg, "lib") == 0)
        o->by = NMR_BY_LIB;
    else if (strcmp(arg, "class") == 0)
        o->by = NMR_BY_CLASS;
    else if (strcmp(arg, "owner") == 0)
        o->by = NMR_BY_OWNER;
    else
        return errf(err, errlen, "--by takes lib, class or owner, not '%s'", arg);
    return 0;
}

/* --focus or --ignore: the pattern compiled into *re (a previous one freed). */
static int set_regex(regex_t *re, int *has, const char **pat, const char *arg, const char *opt,
                     char *err, size_t errlen)
{
    if (*has)
        regfree(re);
    *has = 0;
    int rc = compile(re, arg, opt, err, errlen);
    if (rc)
        return rc;
    *pat = arg;
    *has = 1;
    return 0;
}

static int set_nodecount(struct nmr_opts *o, const char *arg, char *err, size_t errlen)
{
    uint64_t v;
    if (nmc_parse_uint(arg, &v) != 0 || v > SIZE_MAX)
        return errf(err, errlen, "--nodecount takes a number >= 0, not '%s'", arg);
    o->nodecount = (size_t)v;
    return 0;
}

static int set_threshold(struct nmr_opts *o, const char *arg, char *err, size_t errlen)
{
    char *end;
    errno = 0;
    double v = strtod(arg, &end);
    if (end != arg && *end == '%')
        end++;
    if (end == arg || *end || errno || !(v >= 0 && v <= 100))
        return errf(err, errlen, "--threshold takes a percentage 0..100, not '%s'", arg);
    o->threshold = v;
    return 0;
}

/*
 * One option other than a view or a measure: c as getopt_long returned it,
 * arg its value. Returns 0, 1 after --help/--version, or -EINVAL after one
 * line in err. *svg is set by --svg.
 */
static int one_option(struct nmr_opts *o, int c, const char *arg, char **argv, int *svg,
                      FILE *help_out, char *err, size_t errlen)
{
    switch (c) {
    case OPT_SNAPSHOT:
        if (parse_seq(arg, &o->snapshot))
            return errf(err, errlen, "--snapshot takes a number or 'last', not '%s'", arg);
        return 0;
    case OPT_BASE:
        o->base = arg;
        return 0;
    case OPT_BASE_SNAPSHOT:
        if (parse_seq(arg, &o->base_snapshot))
            return errf(err, errlen, "--base-snapshot takes a number or 'last', not '%s'", arg);
        return 0;
    case OPT_FOCUS:
        return set_regex(&o->focus_re, &o->has_focus, &o->focus, arg, "focus", err, errlen);
    case OPT_IGNORE:
        return set_regex(&o->ignore_re, &o->has_ignore, &o->ignore, arg, "ignore", err, errlen);
    case OPT_NODECOUNT:
        return set_nodecount(o, arg, err, errlen);
    case OPT_THRESHOLD:
        return set_threshold(o, arg, err, errlen);
    case OPT_CALLERS:
        o->callers = 1;
        return 0;
    case OPT_SVG:
        *svg = 1;
        return 0;
    case OPT_EXPECT: {
        uint64_t v;
        if (nmc_parse_size(arg, &v) != 0 || v > INT64_MAX)
            return errf(err, errlen, "--expect takes a byte size like 2g, 1.5GiB or 512m, not '%s'",
                        arg);
        o->expect = (int64_t)v;
        return 0;
    }
    case OPT_KEY:
        return nmr__opts_diag(o, "key", arg, err, errlen);
    case OPT_APP:
        return nmr__opts_diag(o, "app", arg, err, errlen);
    case OPT_FAIL_ON:
        return nmr__opts_diag(o, "fail-on", arg, err, errlen);
    case OPT_SYMBOLS_FROM:
        o->symbols_from = arg;
        return 0;
    case OPT_DEBUG_DIR:
        if (o->ndebug_dirs >= NMR_MAX_DEBUG_DIRS)
            return errf(err, errlen, "at most %d --debug-dir options", NMR_MAX_DEBUG_DIRS);
        o->debug_dirs[o->ndebug_dirs++] = arg;
        return 0;
    case OPT_PERF_MAP:
        o->perf_map = arg;
        return 0;
    case 'o':
        o->output = arg;
        return 0;
    case 'h':
        usage(help_out);
        return 1;
    case OPT_VERSION:
        fprintf(help_out, "nmreport %s\n", NMT_VERSION);
        return 1;
    case ':':
        return errf(err, errlen, "option %s needs a value", argv[optind - 1]);
    default:
        if (optopt && optopt < 256)
            return errf(err, errlen, "unknown option -%c (see --help)", optopt);
        return errf(err, errlen, "unknown or incomplete option '%s' (see --help)",
                    argv[optind - 1]);
    }
}

/* After the options: the files, --svg's view, the default view, and the
 * options that only go with one view. */
static int finish(struct nmr_opts *o, int argc, char **argv, int svg, char *err, size_t errlen)
{
    if (optind >= argc)
        return errf(err, errlen, "no profile given (usage: nmreport [VIEW] [OPTIONS] FILE.nmt...)");
    o->files = (const char *const *)argv + optind;
    o->nfiles = (size_t)(argc - optind);
    if (svg) {
        /* `--timeline --svg FILE`: the chart of the timeline. */
        if (o->view && strcmp(o->view, "timeline") != 0 && strcmp(o->view, "timeline-svg") != 0)
            return errf(err, errlen, "--svg goes with --timeline");
        o->view = "timeline-svg";
    }
    if (!o->view)
        o->view = "text";
    if (o->callers && strcmp(o->view, "tree") != 0)
        return errf(err, errlen, "--callers goes with --tree");
    if (o->fail_on && strcmp(o->view, "diagnose") != 0)
        return errf(err, errlen, "--fail-on goes with --diagnose");
    return 0;
}

int nmr__opts_parse(struct nmr_opts *o, int argc, char **argv, FILE *help_out, char *err,
                    size_t errlen)
{
    memset(o, 0, sizeof(*o));
    /* Kept reachable from here too: main() returns early on some errors
     * without nmr__opts_free, and o->files point into this vector. */
    static char **last_argv;
    free(last_argv);
    last_argv = o->argv_owned = rewrite_exports(argc, argv, &argc);
    if (o->argv_owned == NULL)
        return errf(err, errlen, "out of memory");
    argv = o->argv_owned;
    o->snapshot = -1;
    o->base_snapshot = -2;
    o->measure = NMR_INUSE_SPACE;
    o->expect = -1;

    struct option lo[64];
    long_options(lo);
    optind = 1;
    opterr = 0;
    int c, rc, svg = 0;
    while ((c = getopt_long(argc, argv, ":o:h", lo, NULL)) != -1) {
        if (c >= OPT_VIEW && c < OPT_VIEW + (int)nmr__nviews)
            rc = view_option(o, c, optarg, err, errlen);
        else if (c >= OPT_MEASURE && c < OPT_MEASURE + NMR_NMEASURES) {
            o->measure = (enum nmr_measure)(c - OPT_MEASURE);
            rc = 0;
        } else
            rc = one_option(o, c, optarg, argv, &svg, help_out, err, errlen);
        if (rc)
            return rc;
    }
    return finish(o, argc, argv, svg, err, errlen);
}

void nmr__opts_free(struct nmr_opts *o)
{
    (void)o->argv_owned; /* freed by the next parse; reachable until then */
    if (o->has_focus)
        regfree(&o->focus_re);
    if (o->has_ignore)
        regfree(&o->ignore_re);
    o->has_focus = o->has_ignore = 0;
}
