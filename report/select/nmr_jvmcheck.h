/*
 * nmr_jvmcheck.h: what the JVM's own accounts of a snapshot say against
 * nmtrace's figures and against the JVM's limits (nmr_jvmcheck.c), for
 * --rss and for the findings of --diagnose: a pool near its limit, and two
 * independent measurements of the same memory that disagree.
 */
#ifndef NMR_JVMCHECK_H
#define NMR_JVMCHECK_H

#include <stddef.h>
#include <stdint.h>

#include "nmr_profile.h"

enum nmr_jcheck_kind {
    NMR_JCHECK_NEAR_LIMIT, /* a pool at NMR_JCHECK_NEAR_PCT % or more of its limit */
    NMR_JCHECK_DISAGREE,   /* the JVM and nmtrace differ beyond the sampling error */
};

#define NMR_JCHECK_NEAR_PCT 90

struct nmr_jcheck {
    enum nmr_jcheck_kind kind;
    const char *what; /* "direct buffer memory", "Metaspace", "compressed class space" */
    const char *flag; /* the JVM flag that sets the limit, or NULL */
    int64_t jvm;      /* the JVM's figure (bytes) */
    int64_t other;    /* NEAR_LIMIT: the limit; DISAGREE: nmtrace's figure */
    int64_t margin;   /* DISAGREE: the difference allowed (sampling error) */
};

#define NMR_JCHECKS_MAX 4

/* Whether used is near limit (NMR_JCHECK_NEAR_PCT % or more of it; never
 * for a limit of 0 or less): the one test of --rss and --diagnose, for the
 * JVM's pools and for the limits of the command line alike. */
int nmr_jvm_near_limit(int64_t used, int64_t limit);

/* The checks of snapshot s that fire, at most NMR_JCHECKS_MAX, into out.
 * Returns how many (0 without a JACCOUNTS record), or negative on
 * out-of-memory. */
int nmr_jvm_checks(struct nmr_profile *p, const struct nmr_snapshot *s, struct nmr_jcheck *out);

/* Live malloc bytes of the stacks with a frame whose function contains
 * word ("DirectByteBuffer.<init>"). Negative on out-of-memory. */
int64_t nmr_live_under(struct nmr_profile *p, const struct nmr_snapshot *s, const char *word);

#endif
