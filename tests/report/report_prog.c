/*
 * report_prog.c: a small deterministic C program for nmreport's golden
 * tests on a real recording (tests/report/report_golden.py records it under
 * libnmtrace.so with NMTRACE_RATE=1, so every figure is exact).
 *
 * One thread, fixed sizes, each call site its own noinline function:
 *   leak_array      10 x malloc(100000), kept          976.6 KiB live
 *   leak_inner      calloc(1000, 100) via leak_outer   97.7 KiB live
 *   grow_string     realloc grown 8 times to 64 KiB    64 KiB live
 *   churn_freed     1000 x malloc(512) + free           0 live, 500 KiB allocated
 *   map_region      mmap 8 MiB PROT_NONE, mprotect 2 MiB read/write
 * Built -O0 so no call site is inlined away.
 */
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

static void *keep[64];
static int nkeep;

__attribute__((noinline)) static void leak_array(void)
{
    for (int i = 0; i < 10; i++) {
        keep[nkeep] = malloc(100000);
        memset(keep[nkeep++], 1, 100000);
    }
}

__attribute__((noinline)) static void leak_inner(void)
{
    keep[nkeep++] = calloc(1000, 100);
}

__attribute__((noinline)) static void leak_outer(void)
{
    leak_inner();
}

__attribute__((noinline)) static void grow_string(void)
{
    char *s = NULL;
    for (size_t n = 8192; n <= 65536; n += 8192) {
        s = realloc(s, n);
        memset(s, 2, n);
    }
    keep[nkeep++] = s;
}

__attribute__((noinline)) static void churn_freed(void)
{
    for (int i = 0; i < 1000; i++) {
        char *volatile p = malloc(512);
        p[0] = 1;
        free(p);
    }
}

__attribute__((noinline)) static int map_region(void)
{
    size_t total = 8u << 20, used = 2u << 20;
    char *p = mmap(NULL, total, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED)
        return 1;
    if (mprotect(p, used, PROT_READ | PROT_WRITE) != 0)
        return 1;
    memset(p, 3, used);
    return 0;
}

int main(void)
{
    leak_array();
    leak_outer();
    grow_string();
    churn_freed();
    return map_region();
}
