/*
 * test_sym_util.h: helpers for the libnmsym tests: mapping sets read the way the
 * recorder reads them (/proc/<pid>/maps text plus build-ids from the loaded objects'
 * notes), temporary directories and file copies.
 */
#ifndef TEST_SYM_UTIL_H
#define TEST_SYM_UTIL_H

#include "nmsym.h"

#include <stdint.h>
#include <stdio.h>

struct tmaps {
    struct nms_mapping *m;
    size_t n, cap;
};

/* Appends the mappings of a /proc/<pid>/maps text; prefix, when set, is stripped from
 * each line and lines without it are skipped. */
void tmaps_parse(struct tmaps *t, FILE *in, const char *prefix);
/* This process's mappings, with build-ids of every loaded object (dl_iterate_phdr). */
void tmaps_self(struct tmaps *t);
void tmaps_free(struct tmaps *t);
/* The mapping whose path ends with suffix and contains addr (or any when addr is 0). */
struct nms_mapping *tmaps_find(struct tmaps *t, const char *suffix, uint64_t addr);

/* A fresh directory under $TMPDIR (or /tmp); rm -rf by tmpdir_remove. */
char *tmpdir_make(void);
void tmpdir_remove(char *dir);
void mkdir_p(const char *path);
/* Copies at most limit bytes (SIZE_MAX: all) of src to dst. */
void copy_file(const char *src, const char *dst, size_t limit);
size_t file_size(const char *path);

/* Build-id of an ELF file on disk (read with libelf): length, 0 when none. */
uint32_t elf_file_build_id(const char *path, uint8_t *out, size_t cap);
void hexstr(char *out, const uint8_t *b, uint32_t n);

/* 1 when s (may be NULL) ends with suffix. */
int ends_with(const char *s, const char *suffix);

#endif
