/*
 * nmt_pagescan.h: resident, anonymous and swapped bytes of an address range
 * from the page tables alone (the PAGEMAP_SCAN ioctl, Linux 6.7), for the
 * SMAPS record (nmt_smaps.c) when that gives smaps' own figures.
 */
#ifndef NMT_PAGESCAN_H
#define NMT_PAGESCAN_H

#include <stdint.h>

struct nmt_resident {
    uint64_t rss, anon, swap;
};

/* What nmt__pagescan_batch may return besides 0 and -errno: a range has
 * pages whose smaps figures the page-table bits do not tell (PMD-mapped
 * huge pages, swap or other non-present entries, special pages). */
#define NMT_PAGESCAN_UNSURE 1

/* The kinds of mapping a range is scanned as. */
enum nmt_scan_kind {
    NMT_SCAN_ANON,    /* private anonymous: every normal page is anonymous */
    NMT_SCAN_PRIVATE, /* private file mapping: file pages and their copies */
    NMT_SCAN_SHARED,  /* shared mapping, or the kernel's pages: file (shmem, kernel)
                       * pages only, never anonymous */
};

/* A descriptor of /proc/thread-self/pagemap (the calling thread's: /proc/self
 * has no memory once the main thread has ended) that takes PAGEMAP_SCAN, or -errno
 * (-ENOTTY before Linux 6.7). */
int nmt__pagescan_open(void);
/* 1 when the kernel flags guard markers (Linux 6.15; known once a
 * descriptor was opened): a range with guard pages is then not unsure. */
int nmt__pagescan_guards(void);
/* Mappings of one kind in address order, scanned in one walk: their
 * ranges in, their figures out (each mapping costs a system call
 * otherwise, ~2.5 us in a JVM at exit). */
#define NMT_SCAN_BATCH 64
struct nmt_scan_batch {
    enum nmt_scan_kind kind;
    uint32_t n;
    uint64_t start[NMT_SCAN_BATCH], end[NMT_SCAN_BATCH];
    struct nmt_resident fig[NMT_SCAN_BATCH];
};
/* Fills b->fig with each of its n ranges' figures as smaps would give them
 * for a mapping of b->kind: 0, NMT_PAGESCAN_UNSURE, or -errno. */
int nmt__pagescan_batch(int fd, struct nmt_scan_batch *b);

#endif
