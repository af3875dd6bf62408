/*
 * nmt_smaps.c: what is resident, per mapping, at a snapshot (SMAPS record,
 * docs/FORMAT.md).
 *
 * MAPS says what is mapped; only /proc/<tid>/smaps says how much of each
 * mapping is in RAM. At each snapshot (never on an application's path) the
 * writer streams /proc/thread-self/smaps and keeps, for each mapping with
 * resident or swapped pages, its range, Rss, Anonymous and Swap, its
 * protection and kind (anonymous, file, [heap], [stack], other special),
 * and the stacks that the mmap model (nmt_mmap_model.c) says reserved and
 * committed most of it. The report joins these with the sites to split RSS
 * by owner; the sum of Rss over the record is the process's RSS as the
 * kernel counts it page by page.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "nmt_buf.h"
#include "nmt_format.h"
#include "nmt_os.h"
#include "nmt_smaps.h"

struct vma {
    uint64_t start, end, rss, anon, swap;
    uint32_t prot, kind;
};

struct smaps_ctx {
    struct nmt_buf *b;
    const struct nmt_mm *mm;
    struct vma cur;
    int open; /* cur holds a mapping whose fields are being read */
    uint32_t count;
};

/* The model's owners of most of [start, end): the committing stack of the
 * most committed bytes, else the reserving stack of the most reserved
 * ones. *several is set when more than one committing stack has a part. */
static void owners(const struct nmt_mm *m, uint64_t start, uint64_t end, uint32_t *rstack,
                   uint32_t *cstack, int *several)
{
    size_t lo = 0, hi = m->n;
    while (lo < hi) { /* first segment ending after start */
        size_t mid = lo + (hi - lo) / 2;
        if (m->seg[mid].end <= start)
            lo = mid + 1;
        else
            hi = mid;
    }
    uint64_t best_c = 0, best_r = 0;
    *rstack = *cstack = 0;
    *several = 0;
    for (size_t i = lo; i < m->n && m->seg[i].start < end; i++) {
        const struct nmt_mm_seg *s = &m->seg[i];
        uint64_t a = s->start > start ? s->start : start, e = s->end < end ? s->end : end;
        uint64_t len = e - a;
        if (s->cstack != 0 && *cstack != 0 && s->cstack != *cstack)
            *several = 1;
        if (s->cstack != 0 && len > best_c) {
            best_c = len;
            *cstack = s->cstack;
            *rstack = s->rstack;
        }
        if (best_c == 0 && len > best_r) {
            best_r = len;
            *rstack = s->rstack;
        }
    }
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

static void flush(struct smaps_ctx *c)
{
    if (!c->open)
        return;
    c->open = 0;
    const struct vma *v = &c->cur;
    if (v->rss == 0 && v->swap == 0)
        return; /* nothing in RAM or swap: MAPS has it */
    uint32_t rstack = 0, cstack = 0;
    int several = 0;
    if (c->mm != NULL)
        owners(c->mm, v->start, v->end, &rstack, &cstack, &several);
    uint32_t flags =
        (several ? NMT_SMAPS_SEVERAL : 0) | (is_own(v->start, v->end) ? NMT_SMAPS_OWN : 0);
    nmt__buf_u64(c->b, v->start);
    nmt__buf_u64(c->b, v->end);
    nmt__buf_u64(c->b, v->rss);
    nmt__buf_u64(c->b, v->anon);
    nmt__buf_u64(c->b, v->swap);
    nmt__buf_u32(c->b, v->prot);
    nmt__buf_u32(c->b, v->kind);
    nmt__buf_u32(c->b, rstack);
    nmt__buf_u32(c->b, cstack);
    nmt__buf_u32(c->b, flags);
    nmt__buf_u32(c->b, 0);
    c->count++;
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

/* A mapping's first line: "start-end perms offset dev inode path". */
static void header_line(struct smaps_ctx *c, const char *line)
{
    unsigned long long start, end;
    char perms[8];
    int path_at = 0;
    if (sscanf(line, "%llx-%llx %7s %*x %*x:%*x %*u %n", &start, &end, perms, &path_at) < 3)
        return;
    c->cur = (struct vma){0};
    c->cur.start = start;
    c->cur.end = end;
    c->cur.prot = (perms[0] == 'r' ? NMT_MAP_R : 0) | (perms[1] == 'w' ? NMT_MAP_W : 0) |
                  (perms[2] == 'x' ? NMT_MAP_X : 0) | (perms[3] == 's' ? NMT_MAP_SHARED : 0);
    c->cur.kind = kind_of(path_at > 0 ? line + path_at : "");
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
    header_line(c, line);
}

NMT_HIDDEN int nmt__smaps_encode(struct nmt_buf *b, const struct nmt_mm *mm)
{
    size_t r = nmt__rec_begin(b, NMT_REC_SMAPS);
    size_t count_at = b->len;
    nmt__buf_u32(b, 0);
    struct smaps_ctx c = {.b = b, .mm = mm};
    int err = nmt__os_read_lines("/proc/thread-self/smaps", on_line, &c);
    flush(&c);
    if (err != 0) {
        b->len = r; /* no record rather than a partial one */
        return err;
    }
    if (!b->failed)
        for (int i = 0; i < 4; i++)
            b->data[count_at + i] = (unsigned char)(c.count >> (8 * i));
    nmt__rec_end(b, r);
    return b->failed ? -ENOMEM : 0;
}
