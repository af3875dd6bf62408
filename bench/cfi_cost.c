/*
 * cfi_cost.c: the cost of one nmt_cfi_find() (preload/nmt_cfi.h), to be
 * counted in instructions under cachegrind (docs/PERFORMANCE.md §0 gives
 * the command): `nmt_cfi_cost hit N` looks up N addresses in the middle of
 * libc's functions (each lookup binary-searches the object list and the
 * FDE table and runs the FDE's instructions up to the address), `nmt_cfi_cost
 * miss N` looks up N addresses in an anonymous executable mapping, as JIT
 * code is. Running it twice with two N and dividing the difference of the
 * counts by the difference of the N cancels start-up. Not a test.
 */
#include <link.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "nmt_cfi.h"

/* The recorder's fork gate (nmt_forkgate.c): no fork here. */
void nmt__gate_enter(void) {}

void nmt__gate_leave(void) {}

int nmt__dl_iterate_phdr(int (*cb)(struct dl_phdr_info *, size_t, void *), void *arg)
{
    return dl_iterate_phdr(cb, arg);
}

#define NADDR 512
static uintptr_t addr[NADDR];
static int naddr;

/* The middle of up to NADDR of libc's functions, spread over its table. */
static int pick_libc(struct dl_phdr_info *info, size_t size, void *arg)
{
    (void)size, (void)arg;
    if (info->dlpi_name == NULL || strstr(info->dlpi_name, "libc.so") == NULL)
        return 0;
    for (int i = 0; i < info->dlpi_phnum; i++) {
        if (info->dlpi_phdr[i].p_type != PT_GNU_EH_FRAME)
            continue;
        const uint8_t *h = (const uint8_t *)(info->dlpi_addr + info->dlpi_phdr[i].p_vaddr);
        uint32_t count;
        memcpy(&count, h + 8, 4);
        for (uint32_t k = 0; k + 1 < count && naddr < NADDR; k += count / NADDR + 1) {
            int32_t a, b;
            memcpy(&a, h + 12 + 8 * (size_t)k, 4);
            memcpy(&b, h + 12 + 8 * (size_t)(k + 1), 4);
            addr[naddr++] = (uintptr_t)h + (intptr_t)a + (uintptr_t)(b - a) / 2;
        }
    }
    return 1;
}

int main(int argc, char **argv)
{
    if (argc != 3 || (strcmp(argv[1], "hit") != 0 && strcmp(argv[1], "miss") != 0)) {
        fprintf(stderr, "usage: nmt_cfi_cost hit|miss N\n");
        return 2;
    }
    long n = atol(argv[2]);
    if (strcmp(argv[1], "hit") == 0) {
        dl_iterate_phdr(pick_libc, NULL);
    } else {
        char *code = mmap(NULL, 1 << 16, PROT_READ | PROT_EXEC, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        if (code == MAP_FAILED)
            return 1;
        for (naddr = 0; naddr < NADDR; naddr++)
            addr[naddr] = (uintptr_t)code + (uintptr_t)naddr * 128;
    }
    if (naddr == 0) {
        fprintf(stderr, "nmt_cfi_cost: no libc found\n");
        return 1;
    }
    long counts[5] = {0};
    struct nmt_cfi_rule r;
    for (long i = 0; i < n; i++)
        counts[nmt_cfi_find(addr[i % naddr], &r)]++;
    printf("%ld lookups: ok %ld end %ld nomodule %ld nofde %ld unsupported %ld\n", n, counts[0],
           counts[1], counts[2], counts[3], counts[4]);
    return 0;
}
