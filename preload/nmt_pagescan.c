/*
 * nmt_pagescan.c: residency of an address range from its page-table
 * entries, by the PAGEMAP_SCAN ioctl of /proc/<tid>/pagemap (Linux 6.7).
 *
 * Reading /proc/<tid>/smaps costs over 100 ns per resident page in a JVM
 * (the kernel's smaps_account looks at every page's struct page for the
 * proportional and shared/private counts the SMAPS record does not keep);
 * PAGEMAP_SCAN looks at the entries only and returns runs of pages with the
 * same bits: about a third of the time (docs/PERFORMANCE.md, "The 1 s
 * run's fixed costs"). It gives smaps' Rss, Anonymous and Swap
 * only where the bits decide them, so a range with anything else is
 * answered NMT_PAGESCAN_UNSURE and the caller reads smaps:
 * - a present entry counts in Rss unless it maps the shared zero page
 *   (smaps counts only pages with a struct page: vm_normal_page);
 * - in a private anonymous mapping every such page is anonymous, so the
 *   pages' FILE bit is not asked for (it costs the struct page look-up);
 *   in a private file mapping a page without it is a copy-on-write copy,
 *   anonymous; a shared mapping has no anonymous pages, so a present entry
 *   without it is a special page that smaps would not count: unsure;
 * - a guard marker (MADV_GUARD_INSTALL, which the C library may put on
 *   thread stacks) counts nowhere in smaps, and nowhere here where the
 *   kernel flags it (Linux 6.15);
 * - any other non-present entry (swap, migration, markers) and a PMD-mapped huge
 *   page (smaps leaves out the huge zero page, which not every kernel
 *   flags) are unsure.
 * The bit values are the kernel's ABI (include/uapi/linux/fs.h); they are
 * spelled out here because the C library's headers may predate them.
 */
#include <errno.h>
#include <fcntl.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "nmt_pagescan.h"

#define IS_FILE    (1u << 2)
#define IS_PRESENT (1u << 3)
#define IS_SWAPPED (1u << 4)
#define IS_PFNZERO (1u << 5)
#define IS_HUGE    (1u << 6)
#define IS_GUARD   (1u << 8)

struct scan_region {
    uint64_t start, end, categories;
};

struct scan_arg {
    uint64_t size, flags, start, end, walk_end, vec, vec_len, max_pages;
    uint64_t category_inverted, category_mask, category_anyof_mask, return_mask;
};

#define SCAN_IOCTL _IOWR('f', 16, struct scan_arg)

static int scan(int fd, struct scan_arg *a)
{
    int n;
    do
        n = ioctl(fd, SCAN_IOCTL, a);
    while (n < 0 && errno == EINTR);
    return n < 0 ? -errno : n;
}

/* IS_GUARD when the kernel takes it (older ones refuse unknown bits). */
static uint64_t guard_bit;

int nmt__pagescan_open(void)
{
    int fd = open("/proc/thread-self/pagemap", O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -errno;
    /* Empty ranges: is the ioctl there, does it know guard markers? */
    struct scan_arg a = {.size = sizeof(a), .return_mask = IS_GUARD};
    guard_bit = scan(fd, &a) == 0 ? IS_GUARD : 0;
    a.return_mask = 0;
    int err = scan(fd, &a);
    if (err < 0) {
        close(fd);
        return err;
    }
    return fd;
}

int nmt__pagescan_guards(void)
{
    return guard_bit != 0;
}

/* Adds one run of pages with the same bits to out: 0 or NMT_PAGESCAN_UNSURE. */
static int add_run(const struct scan_region *r, enum nmt_scan_kind kind, struct nmt_resident *out)
{
    uint64_t len = r->end - r->start, c = r->categories;
    if (c & IS_GUARD)
        return 0;
    if ((c & (IS_HUGE | IS_SWAPPED)) || !(c & IS_PRESENT))
        return NMT_PAGESCAN_UNSURE;
    if (c & IS_PFNZERO)
        return 0;
    if (kind == NMT_SCAN_SHARED && !(c & IS_FILE))
        return NMT_PAGESCAN_UNSURE;
    out->rss += len;
    if (kind == NMT_SCAN_ANON || !(c & IS_FILE))
        out->anon += len;
    return 0;
}

/* Adds the part of run r inside each of b's ranges to that range's figures;
 * *next is the first range r may still reach (runs come in address order). */
static int add_batch_run(const struct scan_region *r, struct nmt_scan_batch *b, uint32_t *next)
{
    while (*next < b->n && b->end[*next] <= r->start)
        (*next)++;
    for (uint32_t j = *next; j < b->n && b->start[j] < r->end; j++) {
        struct scan_region part = *r;
        part.start = r->start > b->start[j] ? r->start : b->start[j];
        part.end = r->end < b->end[j] ? r->end : b->end[j];
        if (add_run(&part, b->kind, &b->fig[j]) != 0)
            return NMT_PAGESCAN_UNSURE;
    }
    return 0;
}

int nmt__pagescan_batch(int fd, struct nmt_scan_batch *b)
{
    static struct scan_region vec[512]; /* the writer's (one thread at a time) */
    for (uint32_t j = 0; j < b->n; j++)
        b->fig[j] = (struct nmt_resident){0, 0, 0};
    if (b->n == 0)
        return 0;
    uint64_t ret = IS_PRESENT | IS_SWAPPED | IS_PFNZERO | IS_HUGE | guard_bit;
    if (b->kind != NMT_SCAN_ANON)
        ret |= IS_FILE;
    uint32_t next = 0;
    uint64_t end = b->end[b->n - 1];
    for (uint64_t at = b->start[0]; at < end;) {
        struct scan_arg a = {
            .size = sizeof(a),
            .start = at,
            .end = end,
            .vec = (uint64_t)(uintptr_t)vec,
            .vec_len = sizeof(vec) / sizeof(vec[0]),
            .category_anyof_mask = IS_PRESENT | IS_SWAPPED,
            .return_mask = ret,
        };
        int n = scan(fd, &a);
        if (n < 0)
            return n;
        for (int i = 0; i < n; i++)
            if (add_batch_run(&vec[i], b, &next) != 0)
                return NMT_PAGESCAN_UNSURE;
        if ((uint64_t)n < a.vec_len)
            break;
        if (a.walk_end <= at)
            return -EIO;
        at = a.walk_end;
    }
    return 0;
}
