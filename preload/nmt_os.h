/*
 * nmt_os.h: the recorder's contact with the OS outside the hooks (nmt_os.c,
 * nmt_jvmflags.c). Writer thread only, or the thread taking the final snapshot;
 * a maps walk with the caller's own buffer runs on any thread.
 */
#ifndef NMT_OS_H
#define NMT_OS_H

#include <stddef.h>
#include <stdint.h>

#include "nmt_enc.h"
#include "nmt_internal.h"

int nmt__os_read_file(const char *path, char **out, size_t *len);
int nmt__os_maps(struct nmt_enc *b);
int nmt__os_read_lines(const char *path, void (*fn)(void *ctx, char *line), void *ctx);

/* One line of a maps file (/proc/<pid>/maps, or a smaps file's first line
 * of a mapping): "lo-hi perms offset major:minor inode   path". */
struct nmt_maps_line {
    uint64_t lo, hi, offset, inode;
    uint64_t dev;     /* major << 20 | minor, as MAPS entries have it */
    uint32_t perms;   /* NMT_MAP_R, _W, _X, and _SHARED for 's' (not 'p') */
    const char *path; /* the rest of the line, NUL-terminated: a file's path
                       * (with " (deleted)" when it is), "[heap]", "[stack]"...,
                       * or "" */
    size_t path_len;
};
/* Called for each line of a walk; a nonzero return ends the walk, which
 * returns it. m and its path live only until the call returns. */
typedef int (*nmt_maps_fn)(void *ctx, const struct nmt_maps_line *m);
/* A walk's buffer size that holds the longest line the kernel writes: a
 * path of PATH_MAX bytes, each of which may be escaped to four ("\012"). */
#define NMT_MAPS_BUF 65536
/* Parses the len bytes at line (no newline); 0, or -EINVAL when they are
 * not a maps line. m->path points into line, which must hold a NUL at
 * line[len]. */
int nmt__os_maps_parse(const char *line, size_t len, struct nmt_maps_line *m);
/* Reads the maps file at path in chunks of buf's size, calling fn for each
 * line that parses (a last line without its newline included). A line
 * longer than the buffer is skipped whole. buf NULL: the writer's own
 * buffer (NMT_MAPS_BUF, shared with nmt__os_read_lines: writer thread or
 * final snapshot only). Nothing is allocated. 0, fn's nonzero return, or
 * -errno (a read error ends the walk after the lines before it). */
int nmt__os_maps_walk(const char *path, char *buf, size_t size, nmt_maps_fn fn, void *ctx);
void nmt__os_counters(nmt_counter_fn add, void *ctx);
void nmt__os_identity(struct nmt_enc *b);
/* The profile file's identity: what the path must still name to be written. */
struct nmt_fileid {
    uint64_t dev, ino;
};
/* 1 while descriptor 2 is still the stderr the program started with. */
int nmt__os_stderr_ok(void);
int nmt__os_create_output(char *path, size_t size, struct nmt_fileid *id, const void *data,
                          size_t n, int *write_err);
int nmt__os_append(const char *path, const struct nmt_fileid *id, const void *p, size_t n,
                   int *damaged);
/* 1 when the main thread has exited and the caller is the only task left. */
int nmt__os_only_caller_left(void);
/* For a java process: the JVM sizing facts as INFO pairs (jvm.*). */
void nmt__os_jvm_info(void (*add)(void *, const char *, const char *), void *ctx);

#endif
