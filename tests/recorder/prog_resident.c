/*
 * prog_resident.c: known resident memory, for the SMAPS record.
 *   prog_resident MiB
 * Maps MiB of anonymous memory from resident_map_site and touches every
 * page of it, maps as much again without touching it (reserved-like: never
 * resident), mallocs and touches 4 MiB, prints the two mappings' addresses
 * as JSON and exits, so the final snapshot sees them all.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

void *resident_keep; /* global: the compiler must not drop the malloc'ed block */

__attribute__((noinline)) void *resident_map_site(size_t len)
{
    return mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
}

__attribute__((noinline)) void *untouched_map_site(size_t len)
{
    return mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
}

int main(int argc, char **argv)
{
    size_t len = (size_t)(argc > 1 ? atoi(argv[1]) : 32) << 20;
    unsigned char *touched = resident_map_site(len);
    unsigned char *untouched = untouched_map_site(len);
    if (touched == MAP_FAILED || untouched == MAP_FAILED)
        return 1;
    /* Transparent huge pages would not change the count of resident bytes,
     * but keep the mapping plain 4 KiB pages all the same. */
    madvise(touched, len, MADV_NOHUGEPAGE);
    for (size_t i = 0; i < len; i += 4096)
        touched[i] = 1;
    resident_keep = malloc(4 << 20);
    if (resident_keep)
        memset(resident_keep, 1, 4 << 20);
    printf("{\"touched\": %llu, \"untouched\": %llu, \"len\": %llu}\n",
           (unsigned long long)(uintptr_t)touched, (unsigned long long)(uintptr_t)untouched,
           (unsigned long long)len);
    return 0;
}
