/*
 * nmr_main.c: nmreport's main: parse the options, read every profile (and
 * the base), build the view's data, open the output and run the one view
 * asked for. Every failure is one line on stderr and exit status 1 (2 for
 * a usage error, 3 when --diagnose --fail-on finds what it gates on); input
 * files are only ever opened read-only, and -o refuses to name an input.
 */
#include <errno.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "nmr_internal.h"
#include "nmr_select.h"

static int same_file(const char *a, const char *b)
{
    struct stat sa, sb;
    return stat(a, &sa) == 0 && stat(b, &sb) == 0 && sa.st_dev == sb.st_dev &&
           sa.st_ino == sb.st_ino;
}

/* The file name the refusal below suggests for a view's output. */
static const char *example_output(const char *view)
{
    static const char *const names[][2] = {
        {"pprof", "profile.pb.gz"}, {"heap-v2", "heap.prof"},         {"flamegraph", "flame.svg"},
        {"html", "report.html"},    {"timeline-svg", "timeline.svg"},
    };
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
        if (strcmp(names[i][0], view) == 0)
            return names[i][1];
    return "FILE";
}

/* Binary data or a page meant for another program is not written to a
 * terminal: it would scroll hundreds of KiB past and can upset the terminal.
 * Returns 1 (after one line naming the fix) when the view is refused. */
static int refuse_terminal(const struct nmr_view_def *def, const struct nmr_opts *o)
{
    if (o->output || !(def->flags & (NMR_VIEW_BINARY | NMR_VIEW_PAGE)) || !isatty(1))
        return 0;
    fprintf(stderr, "nmreport: %s writes %s, not for a terminal: add -o %s (or redirect: > %s)\n",
            def->option,
            def->flags & NMR_VIEW_BINARY ? "binary data" : "a file for another program",
            example_output(def->name), example_output(def->name));
    return 1;
}

/* Where the view would write: never over an input profile, never binary
 * data or a page to a terminal. Returns 1 (after one line) when refused. */
static int refuse_output(const struct nmr_view_def *def, const struct nmr_opts *o)
{
    if (!o->output)
        return refuse_terminal(def, o);
    for (size_t i = 0; i < o->nfiles; i++)
        if (same_file(o->output, o->files[i]) || (o->base && same_file(o->output, o->base))) {
            fprintf(stderr, "nmreport: -o %s would overwrite an input profile\n", o->output);
            return 1;
        }
    return 0;
}

/* A profile named twice (the same path, or another path to the same file:
 * a symlink, a hard link, ./x and x) would be merged with itself and every
 * figure doubled. It is read once, with one warning line. files receives
 * the kept names; returns how many. */
static size_t dedup_inputs(const struct nmr_opts *o, const char **files)
{
    size_t n = 0;
    for (size_t i = 0; i < o->nfiles; i++) {
        size_t j = 0;
        while (j < n && !same_file(o->files[i], files[j]))
            j++;
        if (j < n) {
            fprintf(stderr, "nmreport: warning: %s is the same file as %s: read once\n",
                    o->files[i], files[j]);
            continue;
        }
        files[n++] = o->files[i];
    }
    return n;
}

int main(int argc, char **argv)
{
    struct nmr_opts o;
    char err[512];
    int rc = nmr__opts_parse(&o, argc, argv, stdout, err, sizeof(err));
    if (rc == 1)
        return 0;
    if (rc < 0) {
        fprintf(stderr, "nmreport: %s\n", err);
        return 2;
    }
    const struct nmr_view_def *def = nmr__view_find(o.view);
    o.progress = isatty(2);
    o.warn = stderr;
    if (refuse_output(def, &o))
        return 2;
    const char **files = calloc(o.nfiles, sizeof(*files));
    if (!files) {
        fprintf(stderr, "nmreport: out of memory\n");
        return 1;
    }
    o.nfiles = dedup_inputs(&o, files);
    o.files = files;

    struct nmr_read_opts ro = {.progress = o.progress, .warn = stderr};
    struct nmr_profile **profiles = calloc(o.nfiles, sizeof(*profiles));
    struct nmr_profile *base = NULL;
    struct nmr_view v;
    struct nmr_sel sel = {0};
    FILE *out = NULL;
    int status = 1;
    if (!profiles) {
        fprintf(stderr, "nmreport: out of memory\n");
        return 1;
    }
    for (size_t i = 0; i < o.nfiles; i++)
        if (nmr_profile_read(o.files[i], &ro, &profiles[i], err, sizeof(err)) < 0)
            goto fail_msg;
    if (o.base && nmr_profile_read(o.base, &ro, &base, err, sizeof(err)) < 0)
        goto fail_msg;
    if (nmr__view_build(&v, &sel, &o, profiles, o.nfiles, base,
                        (def->flags & NMR_VIEW_NO_ROWS) != 0, err, sizeof(err)) < 0)
        goto fail_msg;

    out = o.output ? fopen(o.output, "w") : stdout;
    if (!out) {
        snprintf(err, sizeof(err), "cannot write %s: %s", o.output, strerror(errno));
        goto fail_msg;
    }
    v.out = out;
    int ran = def->run(&v);
    if (ran < 0)
        goto fail; /* the view printed its line */
    if (fflush(out) != 0 || ferror(out)) {
        snprintf(err, sizeof(err), "cannot write %s: %s", o.output ? o.output : "the output",
                 strerror(errno));
        goto fail_msg;
    }
    status = ran == NMR_VIEW_GATE ? 3 : 0; /* --fail-on's condition holds */
    goto done;
fail_msg:
    fprintf(stderr, "nmreport: %s\n", err);
fail:
    status = 1;
done:
    if (out && out != stdout && fclose(out) != 0 && status == 0) {
        fprintf(stderr, "nmreport: cannot write %s: %s\n", o.output, strerror(errno));
        status = 1;
    }
    nmr__sel_free(&sel);
    for (size_t i = 0; i < o.nfiles; i++)
        nmr_profile_free(profiles[i]);
    free(profiles);
    free(files);
    nmr_profile_free(base);
    nmr__opts_free(&o);
    return status;
}
