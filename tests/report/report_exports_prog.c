/*
 * report_exports_prog.c: the program the export interop tests record under
 * LD_PRELOAD=libnmtrace.so NMTRACE_RATE=1. Each allocation site has its own
 * function and a distinct total, so every report ranks them the same way
 * with no ties:
 *
 *   exp_site_large     48 x 64 KiB live        3 MiB
 *   exp_site_medium    3000 x 512 B live       1.5 MiB
 *   exp_site_inlined   700 x 1 KiB live        700 KiB, through an inlined helper
 *   exp_site_calloc    100 x 4000 B live       ~390 KiB
 *   exp_site_strdup    2000 strdup(40 chars)   ~80 KiB, malloc called by libc
 *   exp_site_freed     500 x 8 KiB, all freed  (alloc_space only)
 *   exp_site_mmap      one 4 MiB anonymous mapping, 2 MiB of it touched
 *
 * Phases are separated by a growth threshold (NMTRACE_GROWTH) so the file
 * has several snapshots for the timeline chart.
 */
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

static void *keep[8192];
static int nkeep;

__attribute__((noinline)) static void hold(void *p)
{
    if (p && nkeep < (int)(sizeof keep / sizeof keep[0]))
        keep[nkeep++] = p;
}

__attribute__((noinline)) void exp_site_large(void)
{
    void *p = malloc(64 << 10);
    memset(p, 1, 64 << 10);
    hold(p);
}

__attribute__((noinline)) void exp_site_medium(void)
{
    hold(malloc(512));
}

static inline __attribute__((always_inline)) void *exp_inline_helper(size_t n)
{
    void *p = malloc(n);
    if (p)
        memset(p, 2, n);
    return p;
}

__attribute__((noinline)) void exp_site_inlined(void)
{
    hold(exp_inline_helper(1024));
}

__attribute__((noinline)) void exp_site_calloc(void)
{
    hold(calloc(1, 4000));
}

__attribute__((noinline)) void exp_site_strdup(void)
{
    hold(strdup("a string of exactly forty characters...."));
}

/* Without an escape, the compiler removes a malloc/memset/free sequence. */
static void *volatile sink;

__attribute__((noinline)) void exp_site_freed(void)
{
    void *p = malloc(8 << 10);
    memset(p, 3, 8 << 10);
    sink = p;
    free(sink);
}

__attribute__((noinline)) void exp_site_mmap(void)
{
    void *p = mmap(NULL, 4 << 20, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p != MAP_FAILED)
        memset(p, 4, 2 << 20);
}

int main(void)
{
    for (int i = 0; i < 500; i++)
        exp_site_freed();
    for (int i = 0; i < 100; i++)
        exp_site_calloc();
    for (int i = 0; i < 2000; i++)
        exp_site_strdup();
    for (int i = 0; i < 3000; i++)
        exp_site_medium();
    for (int i = 0; i < 700; i++)
        exp_site_inlined();
    exp_site_mmap();
    for (int i = 0; i < 48; i++)
        exp_site_large();
    return 0;
}
