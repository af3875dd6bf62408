/*
 * nmr_main.c: nmreport's main: parse the options, read every profile (and
 * the base), build the view's data, open the output and run the one view
 * asked for. Every failure is one line on stderr and exit status 1; input
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
    if (o.output) {
        for (size_t i = 0; i < o.nfiles; i++)
            if (same_file(o.output, o.files[i]) || (o.base && same_file(o.output, o.base))) {
                fprintf(stderr, "nmreport: -o %s would overwrite an input profile\n", o.output);
                return 2;
            }
    } else if (def->flags & NMR_VIEW_BINARY && isatty(1)) {
        fprintf(stderr, "nmreport: %s writes binary data: use -o FILE or a redirection\n",
                def->option);
        return 2;
    }

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
    if (def->run(&v) < 0)
        goto fail; /* the view printed its line */
    if (fflush(out) != 0 || ferror(out)) {
        snprintf(err, sizeof(err), "cannot write %s: %s", o.output ? o.output : "the output",
                 strerror(errno));
        goto fail_msg;
    }
    status = 0;
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
    nmr_profile_free(base);
    nmr__opts_free(&o);
    return status;
}
