/*
 * nmt_os.h: the recorder's contact with the OS outside the hooks (nmt_os.c,
 * nmt_jvmflags.c). Writer thread only, or the thread taking the final snapshot.
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
