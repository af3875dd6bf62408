/*
 * nmt_smaps.c: what is resident, per mapping, at a snapshot (SMAPS record,
 * docs/FORMAT.md).
 *
 * MAPS says what is mapped; /proc/<tid>/smaps says how much of each
 * mapping is in RAM. At each snapshot (never on an application's path) the
 * writer reads /proc/thread-self/maps and takes the figures from the page
 * tables (nmt_pagescan.c: about a third of smaps' cost, the same figures)
 * or, when they cannot give smaps' figures, streams
 * /proc/thread-self/smaps; it keeps, for each mapping with
 * resident or swapped pages, its range, Rss, Anonymous and Swap, its
 * protection and kind (anonymous, file, [heap], [stack], other special),
 * and the stacks that the mmap model (nmt_mmap_model.c) says reserved and
 * committed it. A mapping the model knows in parts with different owners
 * (the kernel merges adjacent anonymous mappings of the same protection,
 * whoever made them) is written in pieces, one per owner, each with its
 * resident bytes read from the page tables (pagemap). The report joins
 * these with the sites to split RSS by owner; the sum of Rss over the
 * record is the process's RSS as the kernel counts it page by page.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/sysinfo.h>
#include <time.h>
#include <unistd.h>

#include "nmt_enc.h"
#include "nmt_format.h"
#include "nmt_os.h"
#include "nmt_pagescan.h"
#include "nmt_smaps.h"

struct vma {
    uint64_t start, end, rss, anon, swap;
    uint32_t prot, kind;
};

struct smaps_ctx {
    struct nmt_enc *b;
    const struct nmt_mm *mm;
    struct vma cur;
    int open; /* cur holds a mapping whose fields are being read */
    uint32_t count;
    uint64_t page;
    uint64_t best_len; /* pick_owner's choice */
    uint32_t best_r, best_c;
    int how;     /* the open mapping's scan kind, or SCAN_NOTHING, SCAN_SMAPS */
    int scan_fd; /* by_page_tables: the pagemap descriptor */
    int pm_fd1;  /* resident(): a pagemap descriptor + 1 (scan_fd's, or its own), 0: none */
    int unsure;  /* by_page_tables: a mapping only smaps can describe */
};

/* Besides enum nmt_scan_kind: a mapping with nothing to scan, one whose
 * figures only smaps gives. */
#define SCAN_NOTHING (-1)
#define SCAN_SMAPS   (-2)

/*
 * Resident bytes of [start, end): the pages whose entries in
 * /proc/thread-self/pagemap are present (what smaps counts as Rss), read in
 * slices of the static buffer; -1 when the range is no longer (fully)
 * mapped (msync says so) or pagemap cannot be read. Not mincore: a
 * hardened service's seccomp filter (systemd's @system-service) kills the
 * process on it.
 */
static int64_t resident(struct smaps_ctx *c, uint64_t start, uint64_t end)
{
    static uint64_t entry[8192];
    if (msync((void *)(uintptr_t)start, end - start, MS_ASYNC) != 0)
        return -1;
    if (c->pm_fd1 == 0) {
        int fd = open("/proc/thread-self/pagemap", O_RDONLY | O_CLOEXEC);
        if (fd < 0)
            return -1;
        c->pm_fd1 = fd + 1;
    }
    int64_t n = 0;
    for (uint64_t a = start; a < end;) {
        uint64_t pages = (end - a + c->page - 1) / c->page;
        if (pages > sizeof(entry) / sizeof(entry[0]))
            pages = sizeof(entry) / sizeof(entry[0]);
        ssize_t got = pread(c->pm_fd1 - 1, entry, pages * 8, (off_t)(a / c->page * 8));
        if (got != (ssize_t)(pages * 8))
            return -1;
        for (uint64_t i = 0; i < pages; i++)
            n += (entry[i] >> 63) ? (int64_t)c->page : 0;
        a += pages * c->page;
    }
    return n;
}

/* The pagemap descriptor resident() opened, if any. */
static void pagemap_close(struct smaps_ctx *c)
{
    if (c->pm_fd1 != 0)
        close(c->pm_fd1 - 1);
    c->pm_fd1 = 0;
}

/* 1 when [start, end) holds memory of the recorder itself: the bootstrap
 * arena and the writer's heap, or a thread's ring. */
static int is_own(uint64_t start, uint64_t end)
{
    uint64_t boot = (uint64_t)(uintptr_t)nmt__boot_arena;
    if (boot < end && boot + NMT_BOOT_ARENA_SIZE + NMT_WHEAP_SIZE > start)
        return 1;
    for (struct nmt_thread *s = atomic_load_explicit(&nmt__threads, memory_order_acquire); s;
         s = s->next) {
        uint64_t r = (uint64_t)(uintptr_t)s->ring;
        if (r != 0 && r >= start && r < end)
            return 1;
    }
    return 0;
}

/* The OWN flag of memory with these owners: the recorder's memory is never
 * in the mmap model (it maps with the real mmap), so only memory without
 * owners can be its; a kernel mapping merged from a ring and an owned
 * mapping is split into pieces first. */
static uint32_t own(uint32_t rstack, uint32_t cstack, uint64_t start, uint64_t end)
{
    return rstack == 0 && cstack == 0 && is_own(start, end) ? NMT_SMAPS_OWN : 0;
}

static void put(struct smaps_ctx *c, uint64_t start, uint64_t end, const uint64_t fig[3],
                uint32_t rstack, uint32_t cstack, uint32_t flags)
{
    nmt_enc_u64(c->b, start);
    nmt_enc_u64(c->b, end);
    for (int i = 0; i < 3; i++)
        nmt_enc_u64(c->b, fig[i]);
    nmt_enc_u32(c->b, c->cur.prot);
    nmt_enc_u32(c->b, c->cur.kind);
    nmt_enc_u32(c->b, rstack);
    nmt_enc_u32(c->b, cstack);
    nmt_enc_u32(c->b, flags);
    nmt_enc_u32(c->b, 0);
    c->count++;
}

/* The pieces of the open mapping with one owner pair each (a gap the model
 * does not know is a piece with owners 0): fn gets each in address order.
 * Returns the number of pieces. */
static int pieces(struct smaps_ctx *c,
                  int (*fn)(struct smaps_ctx *, uint64_t, uint64_t, uint32_t, uint32_t))
{
    const struct nmt_mm *m = c->mm;
    uint64_t at = c->cur.start, end = c->cur.end, ps = at;
    uint32_t pr = 0, pc = 0;
    int n = 0, have = 0;
    size_t i = nmt_mm_first_after(m, at);
    while (at < end) {
        uint64_t to;
        uint32_t r = 0, cm = 0;
        if (i < m->n && m->seg[i].start <= at) { /* inside segment i */
            to = m->seg[i].end < end ? m->seg[i].end : end;
            r = m->seg[i].rstack;
            cm = m->seg[i].cstack;
            i++;
        } else { /* a gap up to the next segment */
            to = i < m->n && m->seg[i].start < end ? m->seg[i].start : end;
        }
        if (have && (r != pr || cm != pc)) {
            if (fn(c, ps, at, pr, pc) != 0)
                return -1;
            n++;
            ps = at;
        }
        pr = r;
        pc = cm;
        have = 1;
        at = to;
    }
    return fn(c, ps, end, pr, pc) != 0 ? -1 : n + 1;
}

/* One piece of a mapping with several owners: its resident bytes measured
 * (mincore), anonymous and swapped bytes in the mapping's proportions. */
static int put_piece(struct smaps_ctx *c, uint64_t s, uint64_t e, uint32_t r, uint32_t cm)
{
    const struct vma *v = &c->cur;
    int64_t rss = resident(c, s, e);
    if (rss < 0)
        return -1;
    double share = v->rss ? (double)rss / (double)v->rss : 0;
    uint64_t fig[3] = {(uint64_t)rss, (uint64_t)(share * (double)v->anon),
                       (uint64_t)((double)v->swap * (double)(e - s) / (double)(v->end - v->start))};
    if (rss > 0 || fig[2] > 0)
        put(c, s, e, fig, r, cm, NMT_SMAPS_PIECE | own(r, cm, s, e));
    return 0;
}

/* The largest committed piece (else the largest), for a mapping that
 * cannot be split. */
static int pick_owner(struct smaps_ctx *c, uint64_t s, uint64_t e, uint32_t r, uint32_t cm)
{
    uint64_t len = e - s + (cm != 0 ? (1ull << 62) : 0);
    if (len > c->best_len) {
        c->best_len = len;
        c->best_r = r;
        c->best_c = cm;
    }
    return 0;
}

static void flush(struct smaps_ctx *c)
{
    if (!c->open)
        return;
    c->open = 0;
    const struct vma *v = &c->cur;
    if (v->rss == 0 && v->swap == 0)
        return; /* nothing in RAM or swap: MAPS has it */
    uint64_t fig[3] = {v->rss, v->anon, v->swap};
    c->best_len = 0;
    c->best_r = c->best_c = 0;
    if (c->mm == NULL || c->mm->n == 0) {
        put(c, v->start, v->end, fig, 0, 0, own(0, 0, v->start, v->end));
        return;
    }
    if (pieces(c, pick_owner) == 1) {
        put(c, v->start, v->end, fig, c->best_r, c->best_c,
            own(c->best_r, c->best_c, v->start, v->end));
        return;
    }
    size_t mark = c->b->len;
    uint32_t count = c->count;
    if (pieces(c, put_piece) < 0) { /* changed since smaps was read */
        c->b->len = mark;
        c->count = count;
        put(c, v->start, v->end, fig, c->best_r, c->best_c, NMT_SMAPS_SEVERAL);
    }
}

static uint32_t kind_of(const char *path)
{
    if (path[0] == '\0')
        return NMT_SMAPS_ANON;
    if (strcmp(path, "[heap]") == 0)
        return NMT_SMAPS_BRK;
    if (strcmp(path, "[stack]") == 0)
        return NMT_SMAPS_STACK;
    return path[0] == '[' ? NMT_SMAPS_SPECIAL : NMT_SMAPS_FILE;
}

/* How the page tables can stand in for smaps on a mapping (nmt_pagescan.c):
 * anonymous private memory, files, and the kernel's vdso and uprobes pages; not device
 * files (their special pages), hugetlb memory, or names not known here. */
static int scan_kind(uint32_t prot, const char *path)
{
    int shared = (prot & NMT_MAP_SHARED) != 0;
    if (path[0] == '\0' || strcmp(path, "[heap]") == 0 || strcmp(path, "[stack]") == 0 ||
        strncmp(path, "[anon:", 6) == 0)
        return shared ? SCAN_SMAPS : NMT_SCAN_ANON;
    if (strcmp(path, "[vsyscall]") == 0) /* outside the process's page tables */
        return SCAN_NOTHING;
    /* The kernel's own pages: never anonymous, nor special where counted. */
    if (strcmp(path, "[vdso]") == 0 || strncmp(path, "[vvar", 5) == 0 ||
        strcmp(path, "[uprobes]") == 0)
        return NMT_SCAN_SHARED;
    if (path[0] != '/' || strncmp(path, "/anon_hugepage", 14) == 0 ||
        (strncmp(path, "/dev/", 5) == 0 && strncmp(path, "/dev/shm/", 9) != 0 &&
         strncmp(path, "/dev/zero", 9) != 0))
        return SCAN_SMAPS;
    return shared ? NMT_SCAN_SHARED : NMT_SCAN_PRIVATE;
}

/* A mapping's first line, parsed (nmt__os_maps_parse): opens it. */
static void header_line(struct smaps_ctx *c, const struct nmt_maps_line *m)
{
    c->cur = (struct vma){0};
    c->cur.start = m->lo;
    c->cur.end = m->hi;
    c->cur.prot = m->perms;
    c->cur.kind = kind_of(m->path);
    c->how = scan_kind(c->cur.prot, m->path);
    c->open = 1;
}

static uint64_t kb_field(const char *line, size_t key_len)
{
    unsigned long long v = 0;
    sscanf(line + key_len, "%llu", &v);
    return (uint64_t)v << 10;
}

static void on_line(void *ctx, char *line)
{
    struct smaps_ctx *c = ctx;
    if (line[0] >= 'A' && line[0] <= 'Z') { /* a field of the open mapping */
        if (!c->open)
            return;
        if (strncmp(line, "Rss:", 4) == 0)
            c->cur.rss = kb_field(line, 4);
        else if (strncmp(line, "Anonymous:", 10) == 0)
            c->cur.anon = kb_field(line, 10);
        else if (strncmp(line, "Swap:", 5) == 0)
            c->cur.swap = kb_field(line, 5);
        return;
    }
    flush(c);
    struct nmt_maps_line m;
    if (nmt__os_maps_parse(line, strlen(line), &m) == 0)
        header_line(c, &m);
}

/* The mappings read from maps whose page tables are not scanned yet: one
 * kind, in address order (the writer's, one thread at a time). */
static struct nmt_scan_batch batch;
static struct vma batch_vma[NMT_SCAN_BATCH];

/* Scans the batch and writes its mappings' entries. */
static void run_batch(struct smaps_ctx *c)
{
    if (batch.n == 0)
        return;
    if (nmt__pagescan_batch(c->scan_fd, &batch) != 0)
        c->unsure = 1;
    for (uint32_t i = 0; i < batch.n && !c->unsure; i++) {
        c->cur = batch_vma[i];
        c->cur.rss = batch.fig[i].rss;
        c->cur.anon = batch.fig[i].anon;
        c->cur.swap = batch.fig[i].swap;
        c->open = 1;
        flush(c);
    }
    batch.n = 0;
}

/* One line of /proc/<tid>/maps: the mapping joins the batch of its kind
 * (the batch of another kind is scanned first). */
static int on_maps_line(void *ctx, const struct nmt_maps_line *m)
{
    struct smaps_ctx *c = ctx;
    if (c->unsure)
        return 0;
    header_line(c, m);
    if (c->how == SCAN_NOTHING)
        return 0;
    if (c->how == SCAN_SMAPS) {
        c->unsure = 1;
        return 0;
    }
    struct vma v = c->cur; /* run_batch writes its own mappings from c->cur */
    int how = c->how;
    if (batch.n > 0 && ((int)batch.kind != how || batch.n == NMT_SCAN_BATCH))
        run_batch(c);
    batch.kind = (enum nmt_scan_kind)how;
    batch_vma[batch.n] = v;
    batch.start[batch.n] = v.start;
    batch.end[batch.n] = v.end;
    batch.n++;
    return 0;
}

/* The record from /proc/<tid>/maps and the page tables, when they give what
 * smaps would: with no swap in use (a shared memory object's swapped pages
 * are in smaps but in no page table) and every mapping of a kind the page
 * tables describe. 0, else nonzero and c's entries are to be dropped. A
 * process where they once did not is read with smaps from then on
 * (nmt__smaps_scan_off; tests set it to compare the two). */
NMT_HIDDEN int nmt__smaps_scan_off;
NMT_HIDDEN uint64_t nmt__smaps_scanned;

static int by_page_tables(struct smaps_ctx *c)
{
    struct sysinfo si;
    if (nmt__smaps_scan_off || sysinfo(&si) != 0 || si.freeswap != si.totalswap)
        return -1;
    c->scan_fd = nmt__pagescan_open();
    if (c->scan_fd < 0) {
        nmt__smaps_scan_off = 1;
        return -1;
    }
    c->pm_fd1 = c->scan_fd + 1; /* resident() reads the same pagemap */
    batch.n = 0;
    int err = nmt__os_maps_walk("/proc/thread-self/maps", NULL, 0, on_maps_line, c);
    if (err == 0 && !c->unsure)
        run_batch(c);
    batch.n = 0;
    close(c->scan_fd);
    c->pm_fd1 = 0;
    if (err == 0 && !c->unsure) {
        nmt__smaps_scanned++;
        return 0;
    }
    nmt__smaps_scan_off = c->unsure;
    return -1;
}

static int smaps_record(struct nmt_enc *b, const struct nmt_mm *mm)
{
    size_t r = nmt_enc_rec_begin(b, NMT_REC_SMAPS);
    size_t count_at = b->len;
    nmt_enc_u32(b, 0);
    long page = sysconf(_SC_PAGESIZE);
    struct smaps_ctx c = {.b = b, .mm = mm, .page = page > 0 ? (uint64_t)page : 4096};
    int err = 0;
    if (by_page_tables(&c) != 0) {
        b->len = count_at + 4;
        pagemap_close(&c);
        c = (struct smaps_ctx){.b = b, .mm = mm, .page = c.page};
        err = nmt__os_read_lines("/proc/thread-self/smaps", on_line, &c);
        flush(&c);
    }
    pagemap_close(&c);
    if (err != 0) {
        b->len = r; /* no record rather than a partial one */
        return err;
    }
    nmt_enc_patch_u32(b, count_at, c.count);
    nmt_enc_rec_end(b, r);
    return b->failed ? -ENOMEM : 0;
}

/* Reading smaps walks the page tables of every mapping: about 100 ms for
 * a JVM with 1 GiB resident on a busy host, with the process's mmap lock
 * held for reading (its mmap, munmap and mprotect calls wait). So the
 * reads are kept to about 1 % of the time: after a read that took d, the
 * next one is at least SPACING * d later; snapshots in between have no
 * SMAPS record. The final snapshot always reads. */
#define SPACING 100
static uint64_t last_end_ns, last_cost_ns;
NMT_HIDDEN uint64_t nmt__smaps_skipped, nmt__smaps_ns;

NMT_HIDDEN int nmt__smaps_encode(struct nmt_enc *b, const struct nmt_mm *mm, int final)
{
    uint64_t t0 = nmt__clock_ns(CLOCK_MONOTONIC);
    if (!final && last_end_ns && t0 - last_end_ns < SPACING * last_cost_ns) {
        nmt__smaps_skipped++;
        return 0;
    }
    int err = smaps_record(b, mm);
    last_end_ns = nmt__clock_ns(CLOCK_MONOTONIC);
    last_cost_ns = last_end_ns - t0;
    nmt__smaps_ns += last_cost_ns;
    return err;
}
