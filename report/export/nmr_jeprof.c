/*
 * nmr_jeprof.c: --heap-v2, the view as a jemalloc heap_v2 text profile, the
 * input of `jeprof` (jeprof --text|--svg|--pdf <program> <file>).
 *
 *   heap_v2/1
 *     t*: <inuse objects>: <inuse bytes> [<alloc objects>: <alloc bytes>]
 *   @ 0x<leaf> 0x<caller> ...
 *     t*: <objects>: <bytes> [<objects>: <bytes>]
 *   ...
 *   MAPPED_LIBRARIES:
 *   <the snapshot's /proc/<pid>/maps, rebuilt from the profile's MAPS>
 *
 * Sampling: jeprof un-samples every stack itself, multiplying its counts by
 * 1 / (1 - exp(-avg/rate)) with avg = bytes/objects of that stack and rate
 * from the header. Our figures are already estimates (each sample weighted
 * by its own size when it was taken), and the per-stack average jeprof
 * would use cannot reproduce per-sample weights. So the header says rate 1
 * (what jemalloc writes with lg_prof_sample:0, "every allocation counted")
 * and the counts are our estimates: jeprof's factor is then
 * 1 / (1 - exp(-avg)), which differs from 1 by less than 1e-7 for any stack
 * whose objects average 16 bytes or more; only stacks of tinier objects are
 * inflated a little (8-byte objects by 0.03%).
 *
 * Stacks start at the allocation site (as nmreport's flat column): jeprof
 * subtracts 1 from every address but the first to land inside the call
 * instruction, so the first (the site's return address) is written already
 * minus 1. Java frames have no native address and are left out. heap_v2
 * holds malloc figures; with --reserved/--committed the mmap bytes are
 * written instead (objects = 1 per stack). Counts cannot be negative, so a
 * diff (--base) is refused: jeprof --base does that from two files. One
 * process only: the map section describes one address space.
 */
#include <errno.h>
#include <inttypes.h>
#include <string.h>

#include "nmr_buf.h"
#include "nmr_view.h"
#include "nmt_format.h"

static void counts(const struct nmr_row *r, enum nmr_measure m, int64_t out[4])
{
    if (m == NMR_RESERVED || m == NMR_COMMITTED) {
        int64_t b = r->v[m] > 0 ? r->v[m] : 0;
        out[0] = out[2] = b ? 1 : 0;
        out[1] = out[3] = b;
        return;
    }
    out[0] = r->v[NMR_INUSE_OBJECTS];
    out[1] = r->v[NMR_INUSE_SPACE];
    out[2] = r->v[NMR_ALLOC_OBJECTS];
    out[3] = r->v[NMR_ALLOC_SPACE];
    for (int i = 0; i < 4; i++)
        if (out[i] < 0)
            out[i] = 0;
    /* jeprof divides bytes by objects: keep at least one object. */
    if (out[1] > 0 && out[0] == 0)
        out[0] = 1;
    if (out[3] > 0 && out[2] == 0)
        out[2] = 1;
}

/* Writes the stack's native addresses from the site outwards; 0 when none. */
static size_t stack_line(struct nmr_buf *b, const struct nmr_stack *s)
{
    size_t n = 0;
    uint32_t prev_raw = UINT32_MAX;
    for (uint32_t i = s->site > 0 ? (uint32_t)s->site : 0; i < s->nframes; i++) {
        const struct nmr_frame *f = &s->frames[i];
        if (f->addr & NMT_FRAME_JAVA)
            continue;
        if (f->raw_index == prev_raw) /* inlined frames share the address */
            continue;
        prev_raw = f->raw_index;
        uint64_t a = n == 0 ? f->addr - 1 : f->addr;
        nmr__buf_printf(b, "%s0x%016" PRIx64, n ? " " : "@ ", a);
        n++;
    }
    return n;
}

static void maps(struct nmr_buf *b, const struct nmr_snapshot *s)
{
    nmr__buf_puts(b, "MAPPED_LIBRARIES:\n");
    for (size_t i = 0; i < s->nmaps; i++) {
        const struct nmr_map *m = &s->maps[i];
        size_t before = b->len;
        nmr__buf_printf(b, "%" PRIx64 "-%" PRIx64 " %c%c%c%c %08" PRIx64 " %02x:%02x %" PRIu64,
                        m->start, m->end, m->prot & NMT_MAP_R ? 'r' : '-',
                        m->prot & NMT_MAP_W ? 'w' : '-', m->prot & NMT_MAP_X ? 'x' : '-',
                        m->prot & NMT_MAP_SHARED ? 's' : 'p', m->offset, m->dev >> 20,
                        m->dev & 0xfffff, m->inode);
        if (m->path && *m->path) {
            /* /proc/<pid>/maps pads the path to column 74. */
            size_t col = b->len - before;
            nmr__buf_printf(b, "%*s", col < 73 ? (int)(73 - col) : 1, "");
            nmr__buf_puts(b, m->path);
        }
        nmr__buf_putc(b, '\n');
    }
}

int nmr_view_jeprof(const struct nmr_view *v)
{
    if (v->base_snap) {
        fprintf(stderr, "nmreport: --heap-v2 cannot hold a diff (its counts are never "
                        "negative): write both snapshots and use jeprof --base\n");
        return -EINVAL;
    }
    if (v->nprofiles != 1) {
        fprintf(stderr, "nmreport: --heap-v2 describes one process: give one profile\n");
        return -EINVAL;
    }
    struct nmr_buf b = NMR_BUF_INIT;
    int64_t tot[4] = {0, 0, 0, 0};
    for (size_t i = 0; i < v->nrows; i++) {
        int64_t c[4];
        counts(&v->rows[i], v->measure, c);
        for (int k = 0; k < 4; k++)
            tot[k] = nmr_sat_add(tot[k], c[k]);
    }
    nmr__buf_puts(&b, "heap_v2/1\n");
    nmr__buf_printf(&b, "  t*: %" PRId64 ": %" PRId64 " [%" PRId64 ": %" PRId64 "]\n", tot[0],
                    tot[1], tot[2], tot[3]);
    for (size_t i = 0; i < v->nrows; i++) {
        const struct nmr_row *r = &v->rows[i];
        int64_t c[4];
        counts(r, v->measure, c);
        if (!c[0] && !c[1] && !c[2] && !c[3])
            continue;
        size_t mark = b.len;
        if (stack_line(&b, r->stack) == 0) {
            /* No native frame to name (a Java-only or empty stack): jeprof
             * cannot show it, but the totals above still count it. */
            b.len = mark;
            if (b.data)
                b.data[mark] = 0;
            continue;
        }
        nmr__buf_printf(&b, "\n  t*: %" PRId64 ": %" PRId64 " [%" PRId64 ": %" PRId64 "]\n", c[0],
                        c[1], c[2], c[3]);
    }
    nmr__buf_putc(&b, '\n');
    maps(&b, v->snaps[0]);
    int rc = nmr__buf_write(&b, v->out);
    if (rc == -ENOMEM)
        fprintf(stderr, "nmreport: --heap-v2: out of memory\n");
    else if (rc)
        fprintf(stderr, "nmreport: --heap-v2: writing %s: %s\n",
                v->opt->output ? v->opt->output : "stdout", strerror(-rc));
    nmr__buf_free(&b);
    return rc;
}
