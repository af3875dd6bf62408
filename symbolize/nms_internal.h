/*
 * nms_internal.h: what the files of libnmsym share. Not installed, not for report/.
 *
 * nms_ctx.c owns the context (options, mappings, caches, warnings); nms_arena.c the
 * memory every returned string and frame lives in;
 * nms_elf.c an object's symbols and program headers; nms_debug.c finding files
 * (debug files, --symbols-from); nms_dwarf.c lines and inlined frames; nms_perfmap.c
 * JIT maps; nms_class.c frame classes and demangling.
 */
#ifndef NMS_INTERNAL_H
#define NMS_INTERNAL_H

#include "nmsym.h"

#include <elfutils/libdw.h>
#include <gelf.h>
#include <libelf.h>
#include <stdbool.h>

#define NMS_BID_MAX 64

/* Bump allocator: everything the context hands out lives here until nms_close(). */
struct nms__arena {
    struct nms__chunk *head;
};
void *nms__arena_alloc(struct nms__arena *a, size_t n);
char *nms__arena_strdup(struct nms__arena *a, const char *s);
void nms__arena_free(struct nms__arena *a);

/* An open ELF file; the Elf handle keeps the file mapped, so symbol names point into it. */
struct nms__elf {
    int fd;
    Elf *elf;
    const char *path; /* arena */
    uint8_t bid[NMS_BID_MAX];
    uint32_t bid_len;
};

/* A function symbol. size 0 means unsized: it covers up to the next symbol. */
struct nms__sym {
    uint64_t addr, size;
    const char *name;      /* points into the Elf data */
    const char *demangled; /* arena; NULL until first needed */
};

struct nms__load {
    uint64_t offset, vaddr, filesz, memsz, align;
    bool exec;
};

struct nms__dwarf;

/* One object of the profile (path + build-id), opened at most once per context. */
struct nms__file {
    const char *key_path; /* as in the profile (arena) */
    uint8_t key_bid[NMS_BID_MAX];
    uint32_t key_bid_len;
    struct nms__file *next; /* hash chain */

    bool loaded;              /* load attempted */
    bool usable;              /* symbols can be looked up */
    enum nms_warning why;     /* when !usable: the reason frames are unknown */
    bool is_exe;              /* ET_EXEC or a PIE */
    bool dbg_bad;             /* a debug file was found but could not be used */
    struct nms__elf bin, dbg; /* fd -1 when absent */
    struct nms__load *loads;
    size_t nloads;
    struct nms__sym *syms;
    size_t nsyms;
    struct nms__dwarf *dw; /* NULL: none, or not yet opened (dw_tried) */
    bool dw_tried;
};

/* An entry of a perf map. */
struct nms__jit {
    uint64_t start, end;
    const char *name; /* arena */
    uint32_t seq;     /* line order: a later line replaces an overlapping earlier one */
};

struct nms_ctx;

/* nms_ctx.c */
void nms__warn(struct nms_ctx *c, enum nms_warning kind, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
void nms__count(struct nms_ctx *c, enum nms_warning kind, uint64_t n);
struct nms__arena *nms__ctx_arena(struct nms_ctx *c);
const struct nms_options *nms__ctx_opt(struct nms_ctx *c);
/* The debug roots in search order: option dirs, NMTRACE_DEBUG_PATH, /usr/lib/debug. */
const char *const *nms__ctx_debug_roots(struct nms_ctx *c, size_t *n);

/* nms_elf.c */
int nms__elf_open(struct nms__elf *e, const char *path, struct nms__arena *a);
void nms__elf_close(struct nms__elf *e);
bool nms__elf_has_section(Elf *elf, const char *name, bool need_bits);
/* The .gnu_debuglink name (points into the Elf) and CRC, or NULL. */
const char *nms__elf_debuglink(Elf *elf, uint32_t *crc);
int nms__file_load(struct nms_ctx *c, struct nms__file *f);
/* The ELF virtual address of a file offset, via PT_LOAD; false when outside them. */
bool nms__file_vaddr(const struct nms__file *f, uint64_t file_off, uint64_t *vaddr);
const struct nms__sym *nms__file_sym(struct nms__file *f, uint64_t vaddr);
void nms__file_free(struct nms__file *f);

/* nms_debug.c */
/* Finds and opens a separate debug file for f (f->bin may be closed). 0 when found. */
int nms__debug_find(struct nms_ctx *c, struct nms__file *f, const char *bin_path);
/* The file in --symbols-from for an object: by build-id, then by basename. Arena
 * string or NULL. want_debug picks a debug-only file (by build-id) instead. */
const char *nms__symbols_from(struct nms_ctx *c, const char *path, const uint8_t *bid,
                              uint32_t bid_len, bool want_debug);
void nms__symdir_free(struct nms_ctx *c);
struct nms__symdir;
struct nms__symdir **nms__ctx_symdir(struct nms_ctx *c);

/* nms_dwarf.c */
struct nms__dwframe {
    const char *name; /* raw (maybe mangled) DWARF name, NULL when none */
    const char *file;
    int line;
};
#define NMS_MAX_INLINE 32
/* Fills out[] innermost first, the containing subprogram last. Returns the count, 0
 * when the address has no DWARF. */
int nms__dwarf_lookup(struct nms__file *f, uint64_t vaddr, struct nms__dwframe *out, int max);
void nms__dwarf_free(struct nms__dwarf *d);

/* nms_perfmap.c */
/* Reads a perf map and adds its entries; missing files are not an error when quiet. */
int nms__perfmap_load(struct nms_ctx *c, const char *path, bool quiet, struct nms__jit **v,
                      size_t *n, size_t *cap);
void nms__perfmap_sort(struct nms__jit *v, size_t n);
const struct nms__jit *nms__perfmap_find(const struct nms__jit *v, size_t n, uint64_t addr);

/* nms_class.c */
enum nms_class nms__class_of_path(const char *path, const char *const *jdk_homes, size_t nhomes);
/* The JDK home of a libjvm.so path (arena), or NULL when path is not a libjvm. */
const char *nms__jdk_home(struct nms__arena *a, const char *path);
bool nms__perfmap_is_java(const char *name);
/* The demangled name (arena) or name itself when it is not a C++ mangled name. */
const char *nms__demangle(struct nms__arena *a, const char *name);

#endif
