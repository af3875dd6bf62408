/*
 * report_run.h: nmreport's pipeline on profiles built in memory
 * (report_writer.h), for the report's unit tests: options as on the command
 * line, each file parsed, the view built and run into a memory buffer.
 */
#ifndef REPORT_RUN_H
#define REPORT_RUN_H

#include <stddef.h>

#include "nmr_select.h"
#include "report_writer.h"

struct rr_run {
    struct nmr_profile *p[4];
    size_t np;
    struct nmr_profile *base;
    struct nmr_opts o;
    struct nmr_view v;
    struct nmr_sel sel;
    char *out; /* what the view wrote, NUL-terminated */
    size_t outlen;
    int setup_failed; /* the options or a file were refused: err says why */
    char err[512];
};

/*
 * Runs "nmreport ARGS f0.nmt [f1.nmt ...]" on files (nfiles <= 4) and an
 * optional base (NULL: none; ARGS name it as they like). Returns what
 * building the view returns (0, or a negative errno value with r->err),
 * else what the view returns. r->setup_failed is set, and the result
 * negative, when the options or a file do not parse. rr_done frees r.
 */
int rr_run(struct rr_run *r, const struct rw *files, size_t nfiles, const struct rw *base,
           const char **args);
void rr_done(struct rr_run *r);

#endif
