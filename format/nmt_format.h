/*
 * nmt_format.h: the constants of the nmtrace profile file (docs/FORMAT.md).
 *
 * This header is the recorder's public contract with every reader: the writer
 * in preload/ and the reader in report/ both include it from format/, which
 * holds nothing of the recorder's internals, and docs/FORMAT.md is its prose.
 * It holds numbers only; each side has its own encoder/decoder.
 */
#ifndef NMT_FORMAT_H
#define NMT_FORMAT_H

#include <stdint.h>

/* The file starts with these 8 bytes. Like PNG's, they catch text-mode and
 * 7-bit transfers and make `file`-style sniffing trivial. */
#define NMT_MAGIC     "\x89NMT\r\n\x1a\n"
#define NMT_MAGIC_LEN 8

/* HEADER.format_version. A reader refuses a larger major version. */
#define NMT_FORMAT_VERSION 1

/* Record frame: u16 type, u16 flags (0), u32 payload length, payload,
 * u32 CRC-32 (IEEE, as zlib's crc32) of the 8 frame bytes plus payload. */
#define NMT_FRAME_HEAD 8
#define NMT_FRAME_TAIL 4
#define NMT_RECORD_MAX (64u << 20) /* a larger length means corruption */

enum nmt_record_type {
    NMT_REC_HEADER = 1,     /* first record of every file */
    NMT_REC_INFO = 2,       /* key/value strings */
    NMT_REC_STACK = 3,      /* stack id -> frames, defined once, before first use */
    NMT_REC_MAPS = 4,       /* the process's mappings at one snapshot */
    NMT_REC_SNAP_BEGIN = 5, /* opens a snapshot */
    NMT_REC_COUNTERS = 6,   /* named 64-bit figures (process, recorder, java) */
    NMT_REC_SITES = 7,      /* per-stack totals of the open snapshot */
    NMT_REC_SNAP_END = 8,   /* closes a snapshot: only now is it complete */
    NMT_REC_SMAPS = 9,      /* resident bytes per mapping at one snapshot */
    /* 10..19 are the JVM bridge's (docs/FORMAT.md, "Java records"). */
    NMT_REC_JMETHOD = 10,
    NMT_REC_JCODE = 11,
    NMT_REC_JACCOUNTS = 12, /* the JVM's own accounts at one snapshot */
};

/* HEADER.flags */
#define NMT_HDR_UNWIND_FP (1u << 0) /* frame-pointer unwinder, else libunwind */
#define NMT_HDR_JAVA_AUTO (1u << 1) /* the JVM bridge was allowed to start */

/* SNAP_BEGIN.reason */
enum nmt_snap_reason {
    NMT_SNAP_EXIT = 1,
    NMT_SNAP_INTERVAL = 2,
    NMT_SNAP_GROWTH = 3,
    NMT_SNAP_SIGNAL = 4,
    NMT_SNAP_TRIGGER = 5,
};

/* MAPS entry prot bits */
#define NMT_MAP_R      (1u << 0)
#define NMT_MAP_W      (1u << 1)
#define NMT_MAP_X      (1u << 2)
#define NMT_MAP_SHARED (1u << 3)

/* SMAPS entry kind */
enum nmt_smaps_kind {
    NMT_SMAPS_ANON = 0,    /* anonymous memory */
    NMT_SMAPS_FILE = 1,    /* a file (or memfd, SysV shm): the path in MAPS */
    NMT_SMAPS_BRK = 2,     /* [heap]: the brk heap (glibc malloc's main arena) */
    NMT_SMAPS_STACK = 3,   /* [stack]: the main thread's stack */
    NMT_SMAPS_SPECIAL = 4, /* [vdso], [vvar], [vsyscall] and other kernel names */
};
/* SMAPS entry flags */
#define NMT_SMAPS_SEVERAL    (1u << 0) /* several owners, not split: all goes to cstack */
#define NMT_SMAPS_OWN        (1u << 1) /* the recorder's own memory (heap, rings) */
#define NMT_SMAPS_PIECE      (1u << 2) /* a piece of a mapping: rss measured by mincore */
#define NMT_SMAPS_ENTRY_SIZE 64

/* SITES entry flags */
#define NMT_SITE_MALLOC (1u << 0) /* has malloc-family figures */
#define NMT_SITE_MMAP   (1u << 1) /* has mmap-family figures */

/* One SITES entry, exactly as stored (little-endian, 72 bytes, no padding). */
struct nmt_site_disk {
    uint32_t stack_id;
    uint32_t flags;
    uint64_t live_bytes;    /* estimated live malloc bytes */
    uint64_t live_objects;  /* estimated live malloc objects */
    uint64_t alloc_bytes;   /* estimated bytes allocated since start */
    uint64_t alloc_objects; /* estimated objects allocated since start */
    uint64_t live_samples;  /* raw sampled allocations still live */
    uint64_t alloc_samples; /* raw sampled allocations since start */
    uint64_t reserved;      /* mmap bytes reserved by this stack, live */
    uint64_t committed;     /* mmap bytes committed by this stack, live */
};
#define NMT_SITE_DISK_SIZE 72

/*
 * Frames. Native frames are addresses: frame 0 is the interposed entry point
 * itself (a PC, not adjusted by a symbolizer); frames 1.. are return
 * addresses (a symbolizer looks up addr - 1). Java frames have bit 63 set.
 */
#define NMT_FRAME_JAVA        (1ull << 63)
#define NMT_FRAME_JTYPE_SHIFT 60
#define NMT_FRAME_JTYPE_MASK  0x7ull
#define NMT_FRAME_BCI_SHIFT   32
#define NMT_FRAME_BCI_MASK    0x0fffffffull
#define NMT_FRAME_BCI_NONE    0x0fffffffull
#define NMT_FRAME_METHOD_MASK 0xffffffffull

enum nmt_java_frame_type {
    NMT_JFRAME_INTERPRETED = 0,
    NMT_JFRAME_COMPILED = 1, /* C1 or C2 */
    NMT_JFRAME_INLINED = 2,
    NMT_JFRAME_NATIVE = 3, /* a Java native method (its JNI stub) */
    NMT_JFRAME_UNKNOWN = 4,
};

static inline uint64_t nmt_frame_java(uint32_t method, uint32_t bci, unsigned type)
{
    return NMT_FRAME_JAVA | ((uint64_t)(type & NMT_FRAME_JTYPE_MASK) << NMT_FRAME_JTYPE_SHIFT) |
           ((uint64_t)(bci & NMT_FRAME_BCI_MASK) << NMT_FRAME_BCI_SHIFT) | method;
}

#endif
