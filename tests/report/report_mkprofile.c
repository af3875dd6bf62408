/*
 * report_mkprofile.c: writes the synthetic profiles the report tests use
 * (report_writer.h), with stacks made of real addresses of this program's
 * own functions and of libc, so nmreport symbolizes them to known names.
 *
 *   report_mkprofile basic  OUT   3 snapshots: malloc, libc-wrapped malloc,
 *                                 mmap reserve/commit, freed, Java frames
 *   report_mkprofile growth OUT   12 snapshots: a leak, a site that levels
 *                                 off, business growth, a stable site
 *   report_mkprofile page   OUT   12 snapshots for the HTML page's layout: a
 *                                 flat 512 MiB committed mapping, a growing
 *                                 malloc leak, Java frames with very long
 *                                 names (no break opportunity)
 *   report_mkprofile big    OUT [NSTACKS NSNAPS]  many stacks (speed check)
 *   report_mkprofile nosnap OUT   header and stacks, no complete snapshot
 *   report_mkprofile tiny   OUT   small, machine-independent (fuzz seed)
 *
 * Built with -O0 -g so every function below keeps its own body.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "nmt_format.h"
#include "report_writer.h"

/* Distinct bodies so no two functions can be folded into one. */
#define SITE(name, k)                                                                              \
    __attribute__((noinline, used)) int name(int x)                                                \
    {                                                                                              \
        volatile int v = x * (k) + (k);                                                            \
        v = v * 3 + (k);                                                                           \
        v = v ^ (k);                                                                               \
        return v;                                                                                  \
    }

SITE(site_leak_big, 11)
SITE(site_leak_small, 13)
SITE(site_mmap_region, 17)
SITE(site_freed, 19)
SITE(site_level, 23)
SITE(site_business, 29)
SITE(site_stable, 31)
SITE(caller_worker, 37)
SITE(caller_main, 41)
SITE(jni_native_alloc, 43)

/* A return address inside f: the symbolizer looks up addr - 1. */
#define RET(f)   ((uint64_t)(uintptr_t)(f) + 12)
#define ENTRY(f) ((uint64_t)(uintptr_t)(f))

static const char *self_exe(void)
{
    static char buf[4096];
    ssize_t n = readlink("/proc/self/exe", buf, sizeof(buf) - 1);
    buf[n > 0 ? n : 0] = 0;
    return buf;
}

static void counters(struct rw *w, int64_t rss, int64_t arena, int64_t uord, int64_t hblkhd)
{
    static const char *const names[] = {
        "proc.rss",       "proc.hwm",          "proc.vmsize",       "proc.threads",
        "mallinfo.arena", "mallinfo.uordblks", "mallinfo.fordblks", "mallinfo.hblkhd",
        "mallinfo.hblks", "rec.samples",       "rec.frees",         "rec.ring_drops",
        "rec.free_drops", "rec.unwind_errors", "java.no_java_frame"};
    int64_t vals[] = {rss,  rss + 4096, rss * 4, 3, arena, uord, arena - uord, hblkhd, 2,
                      1000, 400,        0,       0, 1,     7};
    uint32_t n = sizeof(vals) / sizeof(vals[0]);
    rw_u32(w, n);
    for (uint32_t i = 0; i < n; i++) {
        rw_str(w, names[i]);
        rw_u64(w, (uint64_t)vals[i]);
    }
    rw_end(w, NMT_REC_COUNTERS);
}

#define MiB (1024ull * 1024)

static void basic(struct rw *w)
{
    rw_header(w, 1, 4242, 1, self_exe());
    rw_info(w, "config.RATE", "1");
    rw_info(w, "jvm.reasonable_total", "104857600");
    uint64_t s1[] = {ENTRY(malloc), RET(site_leak_big), RET(caller_worker), RET(caller_main)};
    uint64_t s2[] = {ENTRY(malloc), RET(strdup), RET(site_leak_small), RET(caller_main)};
    uint64_t s3[] = {ENTRY(mmap), RET(site_mmap_region), RET(caller_main)};
    uint64_t s4[] = {ENTRY(calloc), RET(site_freed), RET(caller_worker), RET(caller_main)};
    /* Java frames above a JNI function: method serials 1 and 2, bci 5 and unknown. */
    uint64_t s5[] = {ENTRY(malloc), RET(jni_native_alloc),
                     nmt_frame_java(1, 5, NMT_JFRAME_INTERPRETED),
                     nmt_frame_java(2, NMT_FRAME_BCI_NONE, NMT_JFRAME_COMPILED)};
    rw_stack(w, 1, s1, 4);
    rw_stack(w, 2, s2, 4);
    rw_stack(w, 3, s3, 3);
    rw_stack(w, 4, s4, 4);
    rw_stack(w, 5, s5, 4);
    /* JMETHOD for serial 1 (FORMAT.md §5), after the STACK that uses it, as
     * the bridge may write it; serial 2 stays unnamed. */
    rw_u32(w, 1); /* serial */
    rw_u32(w, 0); /* status: named */
    rw_u64(w, 0x7f0000001234ull);
    rw_u32(w, 0x0001); /* public */
    rw_str(w, "Ljava/nio/DirectByteBuffer;");
    rw_str(w, "<init>");
    rw_str(w, "(I)V");
    rw_str(w, "DirectByteBuffer.java");
    rw_u32(w, 2);
    rw_u32(w, 0);
    rw_u32(w, 120);
    rw_u32(w, 5);
    rw_u32(w, 125);
    rw_end(w, NMT_REC_JMETHOD);
    for (uint32_t seq = 0; seq < 3; seq++) {
        uint64_t k = seq + 1;
        rw_snap_begin(w, seq, seq == 2 ? NMT_SNAP_EXIT : NMT_SNAP_INTERVAL, k * 1000000000ull);
        rw_maps_self(w);
        counters(w, (int64_t)(40 * MiB * k), (int64_t)(12 * MiB * k), (int64_t)(10 * MiB * k),
                 (int64_t)MiB);
        struct rw_site st[5] = {
            {1, NMT_SITE_MALLOC, 8 * MiB * k, 8 * k, 8 * MiB * k, 8 * k, 8 * k, 8 * k, 0, 0},
            {2, NMT_SITE_MALLOC, MiB, 1000, MiB * k, 1000 * k, 1000, 1000 * k, 0, 0},
            {3, NMT_SITE_MMAP, 0, 0, 0, 0, 0, 0, 64 * MiB, 16 * MiB * k},
            {4, NMT_SITE_MALLOC, 0, 0, 100 * MiB * k, 100 * k, 0, 100 * k, 0, 0},
            {5, NMT_SITE_MALLOC, 2 * MiB, 2, 2 * MiB, 2, 2, 2, 0, 0},
        };
        rw_sites(w, st, 5);
        rw_snap_end(w, seq, 5);
    }
}

static void growth(struct rw *w)
{
    rw_header(w, 1, 777, 1, self_exe());
    uint64_t s1[] = {ENTRY(malloc), RET(site_leak_big), RET(caller_main)};
    uint64_t s2[] = {ENTRY(malloc), RET(site_level), RET(caller_main)};
    uint64_t s3[] = {ENTRY(malloc), RET(site_business), RET(caller_main)};
    uint64_t s4[] = {ENTRY(malloc), RET(site_stable), RET(caller_main)};
    rw_stack(w, 1, s1, 3);
    rw_stack(w, 2, s2, 3);
    rw_stack(w, 3, s3, 3);
    rw_stack(w, 4, s4, 3);
    static const int business[12] = {2, 5, 3, 6, 4, 8, 5, 9, 6, 10, 7, 12};
    for (uint32_t i = 0; i < 12; i++) {
        rw_snap_begin(w, i, NMT_SNAP_INTERVAL, (uint64_t)(i + 1) * 1000000000ull);
        rw_maps_self(w);
        counters(w, (int64_t)(30 * MiB + i * 2 * MiB), (int64_t)(20 * MiB), (int64_t)(15 * MiB), 0);
        uint64_t level = i < 6 ? (uint64_t)(i + 1) * MiB : 6 * MiB;
        struct rw_site st[4] = {
            {1, 1, (uint64_t)(i + 1) * MiB, i + 1, (uint64_t)(i + 1) * MiB, i + 1, 0, 0, 0, 0},
            {2, 1, level, 1, level, 1, 0, 0, 0, 0},
            {3, 1, (uint64_t)business[i] * MiB / 2, 1, 64 * MiB, 9, 0, 0, 0, 0},
            {4, 1, 3 * MiB, 3, 3 * MiB, 3, 0, 0, 0, 0},
        };
        rw_sites(w, st, 4);
        rw_snap_end(w, i, 4);
    }
}

/* A JMETHOD record (docs/FORMAT.md §5) without a line table. */
static void jmethod(struct rw *w, uint32_t serial, const char *cls, const char *name,
                    const char *sig, const char *src)
{
    rw_u32(w, serial);
    rw_u32(w, 0); /* status: named */
    rw_u64(w, 0x7f0000001000ull + serial);
    rw_u32(w, 0x0001); /* public */
    rw_str(w, cls);
    rw_str(w, name);
    rw_str(w, sig);
    rw_str(w, src);
    rw_u32(w, 0);
    rw_end(w, NMT_REC_JMETHOD);
}

static void page(struct rw *w)
{
    rw_header(w, 1, 888, 1, self_exe());
    uint64_t s1[] = {ENTRY(malloc), RET(site_leak_big), RET(caller_main)};
    uint64_t s2[] = {ENTRY(mmap), RET(site_mmap_region), RET(caller_main)};
    uint64_t s3[] = {ENTRY(malloc), RET(jni_native_alloc), nmt_frame_java(1, 0, NMT_JFRAME_UNKNOWN),
                     nmt_frame_java(2, 0, NMT_JFRAME_UNKNOWN)};
    uint64_t s4[] = {ENTRY(malloc), RET(site_stable), RET(caller_main)};
    rw_stack(w, 1, s1, 3);
    rw_stack(w, 2, s2, 3);
    rw_stack(w, 3, s3, 4);
    rw_stack(w, 4, s4, 3);
    jmethod(w, 1,
            "Lcom/example/platform/sessions/internal/nativebridge/"
            "NativeSessionRegistryConnectionFactoryImplementation;",
            "openNativeSessionWithExtendedConfigurationAndRetries", "(JI)J",
            "NativeSessionRegistryConnectionFactoryImplementation.java");
    jmethod(w, 2, "Lcom/example/platform/sessions/SessionManager;", "open", "()V",
            "SessionManager.java");
    for (uint32_t i = 0; i < 12; i++) {
        rw_snap_begin(w, i, NMT_SNAP_INTERVAL, (uint64_t)(i + 1) * 1000000000ull);
        rw_maps_self(w);
        uint64_t leak = (uint64_t)(i + 1) * 4 * MiB;
        counters(w, (int64_t)(560 * MiB + leak), (int64_t)(leak + 8 * MiB),
                 (int64_t)(leak + 6 * MiB), 0);
        struct rw_site st[4] = {
            {1, NMT_SITE_MALLOC, leak, i + 1, leak, i + 1, i + 1, i + 1, 0, 0},
            {2, NMT_SITE_MMAP, 0, 0, 0, 0, 0, 0, 1024 * MiB, 512 * MiB},
            {3, NMT_SITE_MALLOC, 2 * MiB, 2, 2 * MiB, 2, 2, 2, 0, 0},
            {4, NMT_SITE_MALLOC, 3 * MiB, 3, 3 * MiB, 3, 3, 3, 0, 0},
        };
        rw_sites(w, st, 4);
        rw_snap_end(w, i, 4);
    }
}

static void big(struct rw *w, uint32_t nstacks, uint32_t nsnaps)
{
    rw_header(w, 1, 99, 524288, "/usr/bin/bigprog");
    uint64_t base = 0x400000;
    for (uint32_t id = 1; id <= nstacks; id++) {
        uint64_t f[20];
        f[0] = base + 16;
        for (int j = 1; j < 20; j++)
            /* Like a real program: stacks share frames from a pool of
             * functions (5000 call sites), in varied combinations. */
            f[j] = base + 0x1000 + ((id * 2654435761u + (uint32_t)j * 40503u) % 5000) * 64;
        rw_stack(w, id, f, 20);
    }
    struct rw_site *st = calloc(nstacks, sizeof(*st));
    if (!st)
        abort();
    for (uint32_t s = 0; s < nsnaps; s++) {
        rw_snap_begin(w, s, NMT_SNAP_INTERVAL, (uint64_t)(s + 1) * 1000000000ull);
        rw_maps_one(w, base, base + 0x200000, "/usr/bin/bigprog");
        counters(w, 1 << 30, 1 << 29, 1 << 28, 0);
        for (uint32_t i = 0; i < nstacks; i++)
            st[i] = (struct rw_site){i + 1,
                                     1,
                                     (uint64_t)(i % 977 + 1) * 64 * (s + 1),
                                     s + 1,
                                     (uint64_t)(i % 977 + 1) * 64 * (s + 1),
                                     s + 1,
                                     1,
                                     1,
                                     0,
                                     0};
        rw_sites(w, st, nstacks);
        rw_snap_end(w, s, nstacks);
    }
    free(st);
}

int main(int argc, char **argv)
{
    if (argc < 3) {
        fprintf(stderr,
                "usage: report_mkprofile basic|growth|page|big|nosnap OUT [NSTACKS NSNAPS]\n");
        return 2;
    }
    struct rw w;
    rw_init(&w);
    rw_magic(&w);
    if (strcmp(argv[1], "basic") == 0) {
        basic(&w);
    } else if (strcmp(argv[1], "growth") == 0) {
        growth(&w);
    } else if (strcmp(argv[1], "page") == 0) {
        page(&w);
    } else if (strcmp(argv[1], "big") == 0) {
        big(&w, argc > 3 ? (uint32_t)atoi(argv[3]) : 100000,
            argc > 4 ? (uint32_t)atoi(argv[4]) : 20);
    } else if (strcmp(argv[1], "tiny") == 0) {
        rw_header(&w, 1, 6, 1, "/usr/bin/tiny");
        rw_info(&w, "jvm.reasonable_total", "1000000");
        uint64_t f1[] = {0x401000, 0x401101, nmt_frame_java(1, 3, NMT_JFRAME_UNKNOWN)};
        uint64_t f2[] = {0x401000, 0x7f0000000101};
        rw_stack(&w, 1, f1, 3);
        rw_stack(&w, 2, f2, 2);
        rw_u32(&w, 1);
        rw_u32(&w, 0);
        rw_u64(&w, 1);
        rw_u32(&w, 0);
        rw_str(&w, "LA;");
        rw_str(&w, "m");
        rw_str(&w, "()V");
        rw_str(&w, "A.java");
        rw_u32(&w, 1);
        rw_u32(&w, 0);
        rw_u32(&w, 7);
        rw_end(&w, NMT_REC_JMETHOD);
        for (uint32_t i = 0; i < 2; i++) {
            rw_snap_begin(&w, i, 2, (i + 1) * 1000000000ull);
            rw_maps_one(&w, 0x400000, 0x500000, "/usr/bin/tiny");
            rw_counter(&w, "proc.rss", 1 << 20);
            struct rw_site st[2] = {{1, 1, 64 * (i + 1), 1, 64, 1, 1, 1, 0, 0},
                                    {2, 2, 0, 0, 0, 0, 0, 0, 8192, 4096}};
            rw_sites(&w, st, 2);
            rw_snap_end(&w, i, 2);
        }
    } else if (strcmp(argv[1], "nosnap") == 0) {
        rw_header(&w, 1, 5, 1, "/bin/true");
        uint64_t f[] = {0x1000, 0x2000};
        rw_stack(&w, 1, f, 2);
        rw_snap_begin(&w, 0, 1, 1000);
    } else {
        fprintf(stderr, "report_mkprofile: unknown scenario %s\n", argv[1]);
        return 2;
    }
    if (rw_save(&w, argv[2])) {
        perror(argv[2]);
        return 1;
    }
    rw_free(&w);
    return 0;
}
