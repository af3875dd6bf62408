/*
 * profiles.h: the launcher's search for the profiles of its own run.
 */
#ifndef NMTL_PROFILES_H
#define NMTL_PROFILES_H

#include <stddef.h>
#include <sys/types.h>

/* Says on stderr which profiles the run wrote: those in the pattern's
 * directory that carry the run token, the child's own first (the last
 * program of its exec chain) and then the others (its descendants), and
 * how to read the child's with `reader` (the nmreport to run). */
void nmtl_report_profiles(const char *pattern, const char *token, pid_t child, const char *reader);

#endif
