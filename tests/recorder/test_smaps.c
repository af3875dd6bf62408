/*
 * test_smaps.c: the SMAPS record made from the page tables (nmt_pagescan.c)
 * is the record /proc/<tid>/smaps gives, mapping by mapping, on this
 * process's own mappings of each kind: anonymous memory partly written and
 * partly only read (the shared zero page, which smaps does not count), a
 * private file mapping partly copied on write, a shared file mapping, the
 * libraries and the vdso; guard pages count nowhere. A huge page makes the page tables unsure, and
 * the record is then read from smaps.
 */
#include <criterion/criterion.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/sysinfo.h>
#include <unistd.h>

#include "nmt_format.h"
#include "nmt_pagescan.h"
#include "nmt_smaps.h"

/* What nmt_smaps.c uses from the rest of the recorder. */
char nmt__boot_arena[64];
struct nmt_config nmt__cfg;
struct nmt_thread *_Atomic nmt__threads;

#define PAGE 4096u

struct entry {
    uint64_t start, end, rss, anon, swap;
    uint32_t prot, kind, rstack, cstack, flags, zero;
};

/* Fixed encode buffers: encoding allocates nothing, so the two records
 * describe the same memory. */
static unsigned char buf_a[4 << 20], buf_b[4 << 20];
static struct entry ent_a[16384], ent_b[16384];

/* One SMAPS record into buf; its entries (copied out: the record does not
 * align them) and their count. */
static const struct entry *encode(unsigned char *buf, size_t cap, struct entry *out, size_t max,
                                  int by_smaps, uint32_t *n)
{
    struct nmt_enc e = {.data = buf, .cap = cap};
    nmt__smaps_scan_off = by_smaps;
    cr_assert_eq(nmt__smaps_encode(&e, NULL, 1), 0);
    cr_assert(!e.failed && e.len >= NMT_FRAME_HEAD + 4);
    cr_assert_eq(buf[0] | buf[1] << 8, NMT_REC_SMAPS);
    memcpy(n, buf + NMT_FRAME_HEAD, 4);
    cr_assert_leq(*n, max);
    memcpy(out, buf + NMT_FRAME_HEAD + 4, *n * sizeof(*out));
    return out;
}

/* Rss, Anonymous and Swap summed over the entries inside [lo, hi). */
static void sum_in(const struct entry *e, uint32_t n, uint64_t lo, uint64_t hi, uint64_t out[3])
{
    out[0] = out[1] = out[2] = 0;
    for (uint32_t i = 0; i < n; i++)
        if (e[i].start >= lo && e[i].end <= hi) {
            out[0] += e[i].rss;
            out[1] += e[i].anon;
            out[2] += e[i].swap;
        }
}

/* A file of n pages, each filled with its number, mapped with flags. */
static unsigned char *map_file(size_t n, int flags)
{
    char path[] = "/tmp/nmt_test_smaps_XXXXXX";
    int fd = mkstemp(path);
    cr_assert(fd >= 0);
    unlink(path);
    static unsigned char page[PAGE];
    for (size_t i = 0; i < n; i++) {
        memset(page, (int)i + 1, sizeof(page));
        cr_assert_eq(write(fd, page, sizeof(page)), (ssize_t)sizeof(page));
    }
    void *p = mmap(NULL, n * PAGE, PROT_READ | PROT_WRITE, flags, fd, 0);
    cr_assert(p != MAP_FAILED);
    close(fd);
    return p;
}

/* Every entry of x for a file or a kernel-named mapping is in y, the same. */
static void same_entries(const struct entry *x, uint32_t nx, const struct entry *y, uint32_t ny,
                         const char *xname, const char *yname)
{
    for (uint32_t i = 0, j = 0; i < nx; i++) {
        if (x[i].kind != NMT_SMAPS_FILE && x[i].kind != NMT_SMAPS_SPECIAL)
            continue;
        while (j < ny && y[j].start < x[i].start)
            j++;
        cr_expect(j < ny && y[j].start == x[i].start && y[j].end == x[i].end &&
                      y[j].rss == x[i].rss && y[j].anon == x[i].anon && y[j].swap == x[i].swap &&
                      y[j].kind == x[i].kind && y[j].prot == x[i].prot,
                  "%s entry %llx-%llx (rss %llu, anon %llu) not in %s record", xname,
                  (unsigned long long)x[i].start, (unsigned long long)x[i].end,
                  (unsigned long long)x[i].rss, (unsigned long long)x[i].anon, yname);
    }
}

/* 1 when this process's pages may be swapped or huge without its asking:
 * swap is in use, or transparent huge pages are always on. */
static int may_be_unsure(void)
{
    struct sysinfo si;
    if (sysinfo(&si) != 0 || si.freeswap != si.totalswap)
        return 1;
    char mode[128] = "";
    FILE *f = fopen("/sys/kernel/mm/transparent_hugepage/enabled", "r");
    if (f != NULL) {
        if (fgets(mode, sizeof(mode), f) == NULL)
            mode[0] = '\0';
        fclose(f);
    }
    return strstr(mode, "[always]") != NULL;
}

static volatile unsigned char sink;

Test(smaps, page_tables_give_the_smaps_record)
{
    int fd = nmt__pagescan_open();
    if (fd < 0)
        cr_skip_test("PAGEMAP_SCAN not available (Linux < 6.7): smaps is always read");
    close(fd);
    /* Anonymous: every third page written, every third only read; between
     * inaccessible pages, so that the kernel merges no other memory into
     * its mapping. */
    size_t n = 96;
    unsigned char *res = mmap(NULL, (n + 2) * PAGE, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    cr_assert(res != MAP_FAILED);
    unsigned char *anon = res + PAGE;
    cr_assert_eq(mprotect(anon, n * PAGE, PROT_READ | PROT_WRITE), 0);
    for (size_t i = 0; i < n; i++) {
        if (i % 3 == 0)
            anon[i * PAGE] = 1;
        else if (i % 3 == 1)
            sink = anon[i * PAGE];
    }
    /* Private file mapping: read, a few pages copied on write. */
    unsigned char *priv = map_file(48, MAP_PRIVATE);
    for (size_t i = 0; i < 32; i++)
        sink = priv[i * PAGE];
    for (size_t i = 8; i < 12; i++)
        priv[i * PAGE] = 0xee;
    unsigned char *shared = map_file(16, MAP_SHARED);
    for (size_t i = 0; i < 16; i += 2)
        sink = shared[i * PAGE];

    uint32_t na, nb;
    const struct entry *a = NULL, *b = NULL;
    for (int round = 0; round < 2; round++) { /* the second: nothing touched for the first time */
        uint64_t before = nmt__smaps_scanned;
        a = encode(buf_a, sizeof(buf_a), ent_a, 16384, 0, &na);
        if (nmt__smaps_scanned == before) {
            cr_assert(may_be_unsure(), "smaps was read, with no swap in use and no huge pages");
            cr_skip_test("the page tables were unsure here (swap in use, or huge pages)");
        }
        b = encode(buf_b, sizeof(buf_b), ent_b, 16384, 1, &nb);
        cr_assert_eq(nmt__smaps_scanned, before + 1);
    }
    /* The kernel's own count, and a truth: the read-only pages are the
     * zero page, not resident. */
    uint64_t fa[3], fb[3];
    sum_in(b, nb, (uintptr_t)anon, (uintptr_t)anon + n * PAGE, fb);
    cr_assert_eq(fb[0], n / 3 * PAGE, "smaps: %llu resident", (unsigned long long)fb[0]);
    const unsigned char *mine[3][2] = {
        {anon, anon + n * PAGE}, {priv, priv + 48 * PAGE}, {shared, shared + 16 * PAGE}};
    for (int m = 0; m < 3; m++) {
        sum_in(a, na, (uintptr_t)mine[m][0], (uintptr_t)mine[m][1], fa);
        sum_in(b, nb, (uintptr_t)mine[m][0], (uintptr_t)mine[m][1], fb);
        for (int k = 0; k < 3; k++)
            cr_expect_eq(fa[k], fb[k], "mapping %d, figure %d: page tables %llu, smaps %llu", m, k,
                         (unsigned long long)fa[k], (unsigned long long)fb[k]);
    }
    sum_in(b, nb, (uintptr_t)priv, (uintptr_t)priv + 48 * PAGE, fb);
    cr_assert_eq(fb[1], 4 * PAGE, "copied on write: %llu anonymous", (unsigned long long)fb[1]);
    /* Every file mapping and the vdso: the same entries, both ways. */
    same_entries(b, nb, a, na, "smaps", "the page tables'");
    same_entries(a, na, b, nb, "the page tables'", "smaps");
}

/* A field of the smaps entry of the mapping at addr, in KiB (-1: none). */
static long smaps_kib(uintptr_t addr, const char *field)
{
    FILE *f = fopen("/proc/self/smaps", "r");
    cr_assert(f != NULL);
    char line[512];
    int in = 0;
    long kib = -1;
    while (fgets(line, sizeof(line), f) != NULL) {
        unsigned long lo, hi;
        if (sscanf(line, "%lx-%lx ", &lo, &hi) == 2)
            in = lo <= addr && addr < hi;
        if (in && strncmp(line, field, strlen(field)) == 0 &&
            sscanf(line + strlen(field), "%ld", &kib) == 1)
            break;
    }
    fclose(f);
    return kib;
}

/* One range's figures by the recorder's batch scan (nmt__pagescan_batch),
 * as a private anonymous mapping. */
static int scan_range(int fd, uintptr_t start, uintptr_t end, struct nmt_resident *out)
{
    static struct nmt_scan_batch one;
    one.kind = NMT_SCAN_ANON;
    one.n = 1;
    one.start[0] = start;
    one.end[0] = end;
    int err = nmt__pagescan_batch(fd, &one);
    *out = one.fig[0];
    return err;
}

Test(smaps, huge_pages_are_read_from_smaps)
{
    int fd = nmt__pagescan_open();
    if (fd < 0)
        cr_skip_test("PAGEMAP_SCAN not available (Linux < 6.7)");
    size_t len = 8u << 20;
    unsigned char *p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    cr_assert(p != MAP_FAILED);
    unsigned char *huge =
        (unsigned char *)(((uintptr_t)p + (2u << 20) - 1) & ~(uintptr_t)((2u << 20) - 1));
    madvise(huge, 4u << 20, MADV_HUGEPAGE);
    memset(huge, 1, 4u << 20);
    if (smaps_kib((uintptr_t)huge, "AnonHugePages:") <= 0) {
        close(fd);
        cr_skip_test("no transparent huge page here (THP disabled)");
    }
    struct nmt_resident r;
    cr_assert_eq(scan_range(fd, (uintptr_t)huge, (uintptr_t)huge + (4u << 20), &r),
                 NMT_PAGESCAN_UNSURE);
    close(fd);
    uint32_t n;
    uint64_t before = nmt__smaps_scanned, f[3];
    const struct entry *e = encode(buf_a, sizeof(buf_a), ent_a, 16384, 0, &n);
    cr_assert_eq(nmt__smaps_scanned, before, "a record from the page tables despite a huge page");
    cr_assert_eq(nmt__smaps_scan_off, 1, "the page tables are tried again after a huge page");
    sum_in(e, n, (uintptr_t)p, (uintptr_t)p + len, f);
    cr_assert_geq(f[0], 4u << 20, "smaps: %llu resident", (unsigned long long)f[0]);
}

#ifndef MADV_GUARD_INSTALL
#define MADV_GUARD_INSTALL 102
#endif

/* Guard pages (which a C library may put at the end of thread stacks) are
 * resident nowhere, and leave the page tables sure where the kernel flags
 * them. */
Test(smaps, guard_pages_count_nowhere)
{
    int fd = nmt__pagescan_open();
    if (fd < 0)
        cr_skip_test("PAGEMAP_SCAN not available (Linux < 6.7)");
    size_t n = 32; /* between inaccessible pages: a mapping of its own */
    unsigned char *res = mmap(NULL, (n + 2) * PAGE, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    cr_assert(res != MAP_FAILED);
    unsigned char *p = res + PAGE;
    cr_assert_eq(mprotect(p, n * PAGE, PROT_READ | PROT_WRITE), 0);
    memset(p, 1, n * PAGE);
    if (madvise(p, 4 * PAGE, MADV_GUARD_INSTALL) != 0) {
        close(fd);
        cr_skip_test("no guard pages here (Linux < 6.13)");
    }
    struct nmt_resident r;
    int got = scan_range(fd, (uintptr_t)p, (uintptr_t)p + n * PAGE, &r);
    close(fd);
    if (!nmt__pagescan_guards()) {
        cr_assert_eq(got, NMT_PAGESCAN_UNSURE, "guard pages not flagged, yet the scan was sure");
        cr_skip_test("the kernel does not flag guard pages (Linux < 6.15): smaps is read");
    }
    cr_assert_eq(got, 0);
    long kib = smaps_kib((uintptr_t)p, "Rss:");
    cr_assert_eq(kib * 1024, (long)((n - 4) * PAGE), "smaps: %ld KiB resident", kib);
    cr_assert_eq(r.rss, (n - 4) * PAGE, "%llu resident", (unsigned long long)r.rss);
    cr_assert_eq(r.anon, (n - 4) * PAGE);
    cr_assert_eq(r.swap, 0);
}
