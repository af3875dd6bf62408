/*
 * prog_truth.c: a program with a known leak, for the recorder's ground-truth
 * tests. Four malloc-family sites and one mmap site keep known bytes live at
 * exit; everything else is freed. It prints the ground truth as JSON.
 *
 *   prog_truth [scale]   scale 1 (default): each malloc-family site leaks
 *                        32 MiB or more; a smaller scale runs faster.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

void *truth_keep[1 << 16]; /* global: the compiler must not drop the mallocs */
static size_t nkeep;

static void hold(void *p)
{
    if (nkeep < sizeof(truth_keep) / sizeof(truth_keep[0]))
        truth_keep[nkeep++] = p;
}

/* Deterministic sizes from a tiny LCG, so every run leaks the same bytes. */
static uint32_t lcg = 12345;
static size_t rnd(size_t lo, size_t hi)
{
    lcg = lcg * 1103515245u + 12345u;
    return lo + (lcg >> 8) % (hi - lo + 1);
}

__attribute__((noinline)) size_t leak_malloc_site(size_t target)
{
    size_t total = 0;
    while (total < target) {
        size_t n = rnd(1000, 60000);
        char *p = malloc(n);
        p[0] = 1;
        hold(p);
        total += n;
    }
    return total;
}

__attribute__((noinline)) size_t leak_calloc_site(size_t target)
{
    size_t total = 0;
    while (total < target) {
        size_t n = rnd(10, 200);
        char *p = calloc(n, 256);
        hold(p);
        total += n * 256;
    }
    return total;
}

/* Grows buffers by realloc: what stays live is the last size of each. */
__attribute__((noinline)) size_t leak_realloc_site(size_t target)
{
    size_t total = 0;
    while (total < target) {
        size_t n = 4096;
        char *p = NULL;
        size_t want = rnd(100000, 2000000);
        while (n < want) {
            n = n * 2 < want ? n * 2 : want;
            p = realloc(p, n);
            p[n - 1] = 1;
        }
        hold(p);
        total += n;
    }
    return total;
}

__attribute__((noinline)) size_t leak_memalign_site(size_t target)
{
    size_t total = 0;
    while (total < target) {
        size_t n = rnd(4096, 131072);
        void *p = NULL;
        if (posix_memalign(&p, 64, n) != 0)
            abort();
        hold(p);
        total += n;
    }
    return total;
}

/* Maps 64 MiB, keeps 40 MiB of it committed: 16 MiB are cut out of the
 * middle by a partial munmap and 8 MiB at the end are made PROT_NONE. */
__attribute__((noinline)) size_t leak_mmap_site(size_t *reserved)
{
    size_t mib = 1 << 20;
    char *p = mmap(NULL, 64 * mib, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED)
        abort();
    munmap(p + 16 * mib, 16 * mib);
    mprotect(p + 56 * mib, 8 * mib, PROT_NONE);
    *reserved = 48 * mib;
    return 40 * mib;
}

/* Churn that must not show up as live: everything is freed. */
__attribute__((noinline)) void churn(int rounds)
{
    for (int r = 0; r < rounds; r++) {
        void *tmp[256];
        for (int i = 0; i < 256; i++)
            tmp[i] = malloc(rnd(16, 8192));
        for (int i = 0; i < 256; i++)
            tmp[i] = realloc(tmp[i], rnd(16, 16384));
        for (int i = 0; i < 256; i++)
            free(tmp[i]);
        void *m = mmap(NULL, 1 << 20, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        munmap(m, 1 << 20);
    }
}

int main(int argc, char **argv)
{
    double scale = argc > 1 ? atof(argv[1]) : 1.0;
    size_t target = (size_t)(32.0 * (1 << 20) * scale) + (1 << 20);
    churn(200);
    size_t m = leak_malloc_site(target);
    churn(200);
    size_t c = leak_calloc_site(target);
    size_t r = leak_realloc_site(target);
    churn(200);
    size_t a = leak_memalign_site(target);
    size_t reserved;
    size_t mm = leak_mmap_site(&reserved);
    printf("{\"leak_malloc_site\": %zu, \"leak_calloc_site\": %zu, \"leak_realloc_site\": %zu, "
           "\"leak_memalign_site\": %zu, \"leak_mmap_site\": {\"committed\": %zu, \"reserved\": "
           "%zu}}\n",
           m, c, r, a, mm, reserved);
    return 0;
}
