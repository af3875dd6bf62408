/*
 * report_run.c: the report tests' pipeline (report_run.h).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "report_run.h"

static const char *const names[] = {"f0.nmt", "f1.nmt", "f2.nmt", "f3.nmt"};

static int setup_failed(struct rr_run *r, int rc)
{
    r->setup_failed = 1;
    return rc < 0 ? rc : -EINVAL;
}

int rr_run(struct rr_run *r, const struct rw *files, size_t nfiles, const struct rw *base,
           const char **args)
{
    memset(r, 0, sizeof(*r));
    char *argv[40];
    int argc = 0;
    argv[argc++] = "nmreport";
    for (const char **a = args; *a && argc < 32; a++)
        argv[argc++] = (char *)*a;
    for (size_t i = 0; i < nfiles && i < 4; i++)
        argv[argc++] = (char *)names[i];
    argv[argc] = NULL;
    int rc = nmr__opts_parse(&r->o, argc, argv, stderr, r->err, sizeof(r->err));
    if (rc)
        return setup_failed(r, rc);
    for (; r->np < nfiles && r->np < 4; r->np++) {
        rc = nmr_profile_parse(files[r->np].b, files[r->np].len, names[r->np], NULL, &r->p[r->np],
                               r->err, sizeof(r->err));
        if (rc)
            return setup_failed(r, rc);
    }
    if (base) {
        rc = nmr_profile_parse(base->b, base->len, "base.nmt", NULL, &r->base, r->err,
                               sizeof(r->err));
        if (rc)
            return setup_failed(r, rc);
    }
    const struct nmr_view_def *d = nmr__view_find(r->o.view);
    if (!d)
        return setup_failed(r, -EINVAL);
    rc = nmr__view_build(&r->v, &r->sel, &r->o, r->p, r->np, r->base,
                         (d->flags & NMR_VIEW_NO_ROWS) != 0, r->err, sizeof(r->err));
    if (rc)
        return rc;
    FILE *f = open_memstream(&r->out, &r->outlen);
    if (!f)
        return setup_failed(r, -ENOMEM);
    r->v.out = f;
    rc = d->run(&r->v);
    fclose(f);
    return rc;
}

void rr_done(struct rr_run *r)
{
    nmr__sel_free(&r->sel);
    for (size_t i = 0; i < r->np; i++)
        nmr_profile_free(r->p[i]);
    nmr_profile_free(r->base);
    nmr__opts_free(&r->o);
    free(r->out);
    memset(r, 0, sizeof(*r));
}
