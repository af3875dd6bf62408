/*
 * nmr_stacks.c: the raw views. --stacks prints every stack with all its
 * measures and every frame (raw address, function, source line, lib, class,
 * and which frame is the allocation site): the view to check what the
 * recorder captured. --collapsed prints folded stacks for flamegraph.pl:
 * root first, frames "function [lib]" joined by ';', then the api, then the
 * value of the selected measure.
 */
#include <inttypes.h>

#include "nmt_format.h"
#include "nmr_view.h"

static void print_frame(FILE *f, const struct nmr_stack *s, uint32_t i)
{
    const struct nmr_frame *fr = &s->frames[i];
    fprintf(f, "    #%-2u 0x%016" PRIx64 " %s", fr->raw_index, fr->addr, fr->function);
    if (fr->file && fr->cls == NMR_CLS_JAVA && fr->line > 0)
        fprintf(f, "(%s:%d)", fr->file, fr->line); /* as Java prints stack traces */
    else if (fr->file && fr->cls == NMR_CLS_JAVA)
        fprintf(f, "(%s)", fr->file);
    else if (fr->file)
        fprintf(f, " %s:%d", fr->file, fr->line);
    if (fr->lib[0])
        fprintf(f, " [%s]", fr->lib);
    fprintf(f, " (%s)%s%s\n", fr->cls_name, fr->inlined ? " inlined" : "",
            (int)i == s->site ? "  <- allocation site" : "");
}

int nmr_view_stacks(const struct nmr_view *v)
{
    FILE *f = v->out;
    nmr__print_total(v);
    size_t shown = 0, hidden = 0;
    for (size_t r = 0; r < v->nrows; r++) {
        const struct nmr_row *row = &v->rows[r];
        const struct nmr_stack *s = row->stack;
        if ((v->opt->nodecount && shown >= v->opt->nodecount) ||
            !nmr_view_above_threshold(v, row->v[v->measure], v->total[v->measure])) {
            hidden++;
            continue;
        }
        shown++;
        char b[6][32];
        fprintf(f,
                "\nstack %u (%s): inuse %s in %" PRId64 " objects, alloc %s in %" PRId64
                " objects, reserved %s, committed %s, samples %" PRId64 " live / %" PRId64 "\n",
                s->id, s->api, nmr_fmt_bytes(b[0], 32, row->v[NMR_INUSE_SPACE]),
                row->v[NMR_INUSE_OBJECTS], nmr_fmt_bytes(b[1], 32, row->v[NMR_ALLOC_SPACE]),
                row->v[NMR_ALLOC_OBJECTS], nmr_fmt_bytes(b[2], 32, row->v[NMR_RESERVED]),
                nmr_fmt_bytes(b[3], 32, row->v[NMR_COMMITTED]), row->v[NMR_LIVE_SAMPLES],
                row->v[NMR_ALLOC_SAMPLES]);
        if (v->nprofiles > 1 || (v->base_profile && v->base_profile != v->profiles[0]))
            fprintf(f, "  from %s\n", row->profile->path);
        if (s->nraw)
            fprintf(f, "    #0  0x%016" PRIx64 " %s (entry point)\n", s->raw[0], s->api);
        for (uint32_t i = 0; i < s->nframes; i++)
            print_frame(f, s, i);
    }
    if (hidden)
        fprintf(f, "\n(%zu more stacks below --nodecount/--threshold)\n", hidden);
    return 0;
}

/* flamegraph.pl splits on ';' and takes the last space-separated field as
 * the value: keep ';' out of names. */
static void put_name(FILE *f, const char *s)
{
    for (; *s; s++)
        fputc(*s == ';' ? ':' : *s == '\n' ? ' ' : *s, f);
}

int nmr_view_collapsed(const struct nmr_view *v)
{
    FILE *f = v->out;
    for (size_t r = 0; r < v->nrows; r++) {
        const struct nmr_row *row = &v->rows[r];
        const struct nmr_stack *s = row->stack;
        int64_t val = row->v[v->measure];
        if (val == 0)
            continue;
        for (uint32_t i = s->nframes; i-- > 0;) {
            const struct nmr_frame *fr = &s->frames[i];
            put_name(f, fr->function);
            if (fr->lib[0]) {
                fputs(" [", f);
                put_name(f, fr->lib);
                fputc(']', f);
            }
            fputc(';', f);
        }
        put_name(f, s->api);
        fprintf(f, " %" PRId64 "\n", val);
    }
    return 0;
}
