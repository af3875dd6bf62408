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

/* One entry of an .eh_frame_hdr search table: a function's start and its
 * FDE, both relative to the header (the encoding linkers write). */
struct hdr_entry {
    int32_t pc, fde;
};

/* The middle of up to NADDR of the functions in the table at h. */
static void pick_table(const uint8_t *h)
{
    uint32_t count;
    memcpy(&count, h + 8, sizeof(count));
    const struct hdr_entry *e = (const struct hdr_entry *)(h + 12);
    uint32_t stride = count / NADDR + 1;
    for (uint32_t k = 0; k + 1 < count && naddr < NADDR; k += stride) {
        uintptr_t start = (uintptr_t)h + (intptr_t)e[k].pc;
        addr[naddr++] = start + (uintptr_t)(e[k + 1].pc - e[k].pc) / 2;
    }
}

static int pick_libc(struct dl_phdr_info *info, size_t size, void *arg)
{
    (void)size, (void)arg;
    if (info->dlpi_name == NULL || strstr(info->dlpi_name, "libc.so") == NULL)
        return 0;
    for (int i = 0; i < info->dlpi_phnum; i++)
        if (info->dlpi_phdr[i].p_type == PT_GNU_EH_FRAME)
            pick_table((const uint8_t *)(info->dlpi_addr + info->dlpi_phdr[i].p_vaddr));
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
