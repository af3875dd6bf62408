/*
 * nmc_parse.h: the one grammar of the values people type, shared by the
 * recorder (NMTRACE_* variables), the nmtrace launcher (its options) and
 * nmreport (its options), so all three accept and refuse the same strings.
 * README.md ("Values") documents the grammar for users.
 *
 * Nothing here allocates, reads the locale or does I/O, and the parsers leave
 * errno alone: the recorder calls them from its constructor, before the
 * process is set up.
 * Every parser returns 0, or -EINVAL for a string outside the grammar and
 * -ERANGE for one inside it whose value does not fit in 64 bits.
 */
#ifndef NMC_PARSE_H
#define NMC_PARSE_H

#include <stddef.h>
#include <stdint.h>

/* Letters are compared without regard to case, in ASCII. */
int nmc_casecmp(const char *a, const char *b);

/* A count: decimal digits only ("64", "0"). */
int nmc_parse_uint(const char *s, uint64_t *out);

/* A byte size: digits, an optional fraction of at most 6 digits, and an
 * optional unit b, k, m, g or t (powers of 1024), which may be followed by b
 * or ib: "512", "64k", "64KiB", "1.5g", "2TB". A fraction needs a unit larger
 * than a byte; the value is rounded down to whole bytes. */
int nmc_parse_size(const char *s, uint64_t *out);

/* A duration in milliseconds: digits, an optional fraction of at most 6
 * digits, and an optional unit ms, s, m, h or d; no unit means seconds:
 * "30", "1s", "500ms", "1.5h", "2d". A fraction needs a unit larger than a
 * millisecond; the value is rounded down to whole milliseconds. */
int nmc_parse_duration(const char *s, uint64_t *out_ms);

/* The index of s in the NULL-terminated list words ("auto", "off"...). */
int nmc_parse_keyword(const char *s, const char *const *words, int *index);

/* A signal: a name with or without SIG ("USR1", "SIGUSR1"), RTMIN, RTMIN+N,
 * RTMAX, RTMAX-N, or its number ("10"). */
int nmc_parse_signal(const char *s, int *sig);

/* 1 for a signal the recorder may not take for its snapshot requests: the
 * JVM's (crash handling, safepoints, thread dumps, the attach listener on
 * QUIT), profilers' (PROF), the ones that stop or end a process, and those a
 * process relies on (CHLD, PIPE, XFSZ). */
int nmc_signal_refused(int sig);

/* v written as the shortest exact form of the grammar ("1t", "512k", "7"),
 * or as a duration ("365d", "1500ms"): for messages that quote limits. */
void nmc_fmt_size(uint64_t v, char *out, size_t size);
void nmc_fmt_duration(uint64_t ms, char *out, size_t size);

/* The part of a path after its last '/'; "?" for NULL (a path not known). */
const char *nmc_base_name(const char *path);

#endif
