/*
 * rb_common.h: what every robustness-suite program shares: one function that
 * leaks (the ground truth the driver checks at rate 1), one that churns, and
 * small helpers that write files and read the driver's pacing lines.
 */
#ifndef RB_COMMON_H
#define RB_COMMON_H

#include <stddef.h>
#include <stdint.h>

/* Leaks one block of size bytes from this call site; thread-safe. */
void rb_leak_site(size_t size);
/* Bytes leaked so far by rb_leak_site. */
uint64_t rb_leaked_bytes(void);
/* n malloc/free pairs of deterministic sizes; returns a checksum of their contents. */
uint64_t rb_churn(int n, unsigned seed);
/* Writes size bytes of a pattern derived from seed to path; 0 or -errno. */
int rb_write_file(const char *path, size_t size, unsigned seed);
/* Reads one line from descriptor 0 with read(2) (no stdio buffering):
 * 1 when a line came, 0 at end of input, -1 on an error. */
int rb_wait_line(void);
/* Dies with a message on stderr when cond is false (a broken test program). */
void rb_require(int cond, const char *what);

#endif
