/*
 * nmsym.h: libnmsym, the symbolizer behind nmreport.
 *
 * It turns the raw addresses a profile records into function names, source lines and
 * frame classes, using only what the profile carries (the MAPS entries of docs/FORMAT.md:
 * start, end, file offset, prot, path, build-id) plus files found on this machine: the
 * ELF objects themselves, separate debug files (by build-id and .gnu_debuglink), a
 * directory of copied binaries (--symbols-from) and JIT perf maps. It never looks at
 * the reporting process's own mappings.
 *
 * Usage: nms_open(), nms_set_mappings() with one snapshot's MAPS, then nms_resolve() for
 * each frame address. A context is single-threaded. Every string and frame array it hands
 * out is owned by the context and stays valid until nms_close(), also across later
 * nms_set_mappings() calls.
 *
 * Bad input never crashes and never aborts: a missing file, an unreadable ELF, a
 * truncated debug file, a build-id mismatch or a garbled perf map give unknown frames
 * (function "??"), a per-kind counter (nms_warning_count) and one message per distinct
 * problem (nms_warning_messages, or the on_warning callback as it happens).
 */
#ifndef NMSYM_H
#define NMSYM_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Mapping prot bits: the same values as the MAPS entries of docs/FORMAT.md. */
#define NMS_PROT_R      (1u << 0)
#define NMS_PROT_W      (1u << 1)
#define NMS_PROT_X      (1u << 2)
#define NMS_PROT_SHARED (1u << 3)

/* One MAPS entry of the profile. path is "" for anonymous memory; "[vdso]"-style names
 * are kept. build_id may be NULL/0 when the profile did not know it. */
struct nms_mapping {
    uint64_t start, end, offset;
    uint32_t prot;
    const char *path;
    const uint8_t *build_id;
    uint32_t build_id_len;
};

enum nms_warning {
    NMS_W_NO_FILE,    /* an object (or explicit perf map) could not be opened */
    NMS_W_BAD_ELF,    /* an object is not a readable ELF file */
    NMS_W_BUILD_ID,   /* the file on disk has another build-id than the profile says */
    NMS_W_BAD_DEBUG,  /* a debug file was found but is unreadable, truncated or mismatched */
    NMS_W_PERF_MAP,   /* malformed perf-map lines (counted per line) */
    NMS_W_NO_MAPPING, /* an address lies outside every mapping of the profile */
    NMS_W__COUNT
};

struct nms_options {
    /* Extra roots searched for debug files before NMTRACE_DEBUG_PATH (colon separated)
     * and /usr/lib/debug: <dir>/.build-id/xx/rest.debug, <dir>/<object dir>/<debuglink>
     * and <dir>/<debuglink>. */
    const char *const *debug_dirs;
    size_t n_debug_dirs;
    /* A directory (searched recursively) of binaries and debug files copied from the
     * recording machine: an object is matched by build-id first, then by basename. */
    const char *symbols_from;
    /* An explicit perf map (lines "START SIZE name", hex, "0x" optional). */
    const char *perf_map;
    /* The recorded pid (HEADER.pid): /tmp/perf-<pid>.map is read when it exists. */
    int pid;
    int no_default_perf_map; /* do not read /tmp/perf-<pid>.map */
    int no_system_debug;     /* ignore /usr/lib/debug and NMTRACE_DEBUG_PATH (tests) */
    /* HEADER.exe: the main executable's path, for class NMS_EXE. When NULL, an object
     * is the executable if its ELF says so (ET_EXEC, or DF_1_PIE). */
    const char *exe;
    /* Called once per distinct warning message, as it is first seen. */
    void (*on_warning)(void *arg, enum nms_warning kind, const char *msg);
    void *warning_arg;
};

enum nms_class {
    NMS_UNKNOWN,
    NMS_NMTRACE,   /* libnmtrace.so itself */
    NMS_LIBC,      /* libc, ld.so, libstdc++, libgcc_s, libm, libpthread, libdl, librt */
    NMS_ALLOCATOR, /* jemalloc, tcmalloc, mimalloc */
    NMS_JVM,       /* libjvm.so */
    NMS_JDK,       /* other libraries of a JDK/JRE */
    NMS_JNI,       /* any other shared object */
    NMS_JIT,       /* code-cache code that is not a Java method: stubs, interpreter */
    NMS_JAVA,      /* a Java method named by a perf map */
    NMS_EXE,       /* the main executable */
    NMS_CLASS__COUNT
};

struct nms_frame {
    uint64_t addr;        /* the address as recorded */
    uint64_t elf_addr;    /* the ELF virtual address looked up (0 when not in an ELF) */
    const char *function; /* demangled; "??" when unknown */
    const char *file;     /* source file, NULL when unknown */
    int line;             /* 0 when unknown */
    const char *lib;      /* basename of the mapping's path; "" for anonymous, "??" unmapped */
    const char *lib_path; /* the mapping's path as recorded */
    enum nms_class cls;
    int inlined; /* 1 when this frame is inlined into the next one of the same address */
};

struct nms_ctx;

/* NULL on failure (errno set). opt may be NULL; its strings are copied. */
struct nms_ctx *nms_open(const struct nms_options *opt);
void nms_close(struct nms_ctx *c);

/* Replaces the mapping set (copied; entries may come in any order). 0 or -errno.
 * Resolved ELF files and perf maps stay cached; per-address results are reset. */
int nms_set_mappings(struct nms_ctx *c, const struct nms_mapping *m, size_t n);

/* Resolves one native frame address. is_return_addr: 1 for frames 1.. of a STACK
 * record (addr - 1 is looked up), 0 for frame 0 (the interposed entry point). Sets *out
 * to the frames of that address, innermost inlined function first and the containing
 * function last, and returns their count (>= 1), or -errno (only -ENOMEM). */
int nms_resolve(struct nms_ctx *c, uint64_t addr, int is_return_addr, const struct nms_frame **out);

/* The allocation site of a native stack (leaf first, frame 0 = entry point, as in a
 * STACK record): the first frame, inlined frames included, whose class is not nmtrace,
 * allocator or libc. Returns the index in addrs of the address holding it and sets *site,
 * or returns -1 when every native frame is such plumbing. A Java frame (bit 63 set) stops
 * the search: its index is returned with *site = NULL (Java frames are the caller's). */
long nms_allocation_site(struct nms_ctx *c, const uint64_t *addrs, size_t n,
                         const struct nms_frame **site);

/* 1 for the classes that are never an allocation site: nmtrace, allocator, libc. */
int nms_class_is_plumbing(enum nms_class cls);

/* 1 when `function` (a demangled name of class `cls`) is one of HotSpot's
 * allocation wrappers (os::malloc, AllocateHeap, os::commit_memory, ...):
 * plumbing like malloc itself, skipped when choosing the allocation site. */
int nms_function_is_wrapper(const char *function, enum nms_class cls);

/* "unknown", "nmtrace", "libc", "allocator", "jvm", "jdk", "jni", "jit", "java", "exe". */
const char *nms_class_name(enum nms_class cls);

/* Events of one kind: frames that came out unknown because of it (NMS_W_PERF_MAP: lines). */
uint64_t nms_warning_count(const struct nms_ctx *c, enum nms_warning kind);
const char *nms_warning_name(enum nms_warning kind);
/* The distinct warning messages so far, oldest first; returns their count. */
size_t nms_warning_messages(const struct nms_ctx *c, const char *const **msgs);

#ifdef __cplusplus
}
#endif

#endif
