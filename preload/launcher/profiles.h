/*
 * profiles.h: the launcher's search for the profiles of its own run.
 */
#ifndef NMTL_PROFILES_H
#define NMTL_PROFILES_H

#include <stddef.h>
#include <sys/types.h>

/* The pattern with every %p replaced by pid and %% by %. Returns 0 or
 * -ENAMETOOLONG. */
int nmtl_expand(const char *pattern, pid_t pid, char *out, size_t n);

/* The value of INFO key config.RUN in the profile at path, or "" when the
 * file is not a readable profile or has none. Returns 0 when found. */
int nmtl_profile_run(const char *path, char *run, size_t n, unsigned *pid);

/* Says on stderr which profiles the run wrote: those in the pattern's
 * directory that carry the run token, the child's own first (the last
 * program of its exec chain) and then the others (its descendants), and
 * how to read the child's with `reader` (the nmreport to run). */
void nmtl_report_profiles(const char *pattern, const char *token, pid_t child, const char *reader);

#endif
