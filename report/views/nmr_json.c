/*
 * nmr_json.c: --json, the whole selection as one JSON document for scripts
 * and tests (schema: docs/JSON.md): the files with header, INFO, selected
 * snapshot and its counters; totals; the allocation sites, libs and classes
 * ranked by the selected measure; and every stack with all measures and all
 * frames. Addresses are hex strings (JSON numbers are doubles).
 */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>

#include "nmr_agg.h"
#include "nmr_internal.h"
#include "nmr_resident.h"

/* A JSON string (null for NULL); shared with --diagnose --json. */
void nmr__json_str(FILE *f, const char *s)
{
    if (!s) {
        fputs("null", f);
        return;
    }
    fputc('"', f);
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if (*p == '"' || *p == '\\')
            fprintf(f, "\\%c", *p);
        else if (*p == '\n')
            fputs("\\n", f);
        else if (*p == '\t')
            fputs("\\t", f);
        else if (*p < 0x20 || *p == 0x7f)
            fprintf(f, "\\u%04x", *p);
        else if (*p >= 0x80) {
            /* Pass valid UTF-8 through; escape stray bytes as U+00xx. */
            int n = (*p & 0xe0) == 0xc0   ? 1
                    : (*p & 0xf0) == 0xe0 ? 2
                    : (*p & 0xf8) == 0xf0 ? 3
                                          : -1;
            int ok = n > 0;
            for (int i = 1; ok && i <= n; i++)
                ok = (p[i] & 0xc0) == 0x80;
            if (ok) {
                fwrite(p, 1, (size_t)n + 1, f);
                p += n;
            } else {
                fprintf(f, "\\u%04x", *p);
            }
        } else
            fputc(*p, f);
    }
    fputc('"', f);
}

static void values(FILE *f, const int64_t *v)
{
    fputc('{', f);
    for (int k = 0; k < NMR_NVALUES; k++)
        fprintf(f, "%s\"%s\": %" PRId64, k ? ", " : "", nmr_measure_name((enum nmr_measure)k),
                v[k]);
    fputc('}', f);
}

static void snapinfo(FILE *f, const struct nmr_profile *p, const struct nmr_snapshot *s)
{
    fprintf(f, "{\"seq\": %u, \"reason\": ", s->seq);
    nmr__json_str(f, nmr_reason_name(s->reason));
    fprintf(f, ", \"time_s\": %.6f, \"realtime_ns\": %" PRIu64 ", \"nsites\": %zu, \"nmaps\": %zu}",
            nmr_snap_time_s(p, s), s->realtime_ns, s->nsites, s->nmaps);
}

static int file_obj(FILE *f, struct nmr_profile *p, const struct nmr_snapshot *s)
{
    fputs("    {\"path\": ", f);
    nmr__json_str(f, p->path);
    fprintf(f,
            ", \"format_version\": %u, \"pid\": %u, \"ppid\": %u, \"flags\": %u, \"rate\": %" PRIu64
            ", \"depth\": %u, \"page_size\": %u,\n     \"producer\": ",
            p->format_version, p->pid, p->ppid, p->hdr_flags, p->rate, p->depth, p->page_size);
    nmr__json_str(f, p->producer);
    fputs(", \"exe\": ", f);
    nmr__json_str(f, p->exe);
    fputs(", \"cmdline\": ", f);
    nmr__json_str(f, p->cmdline);
    fputs(", \"hostname\": ", f);
    nmr__json_str(f, p->hostname);
    fprintf(f,
            ", \"start_realtime_ns\": %" PRIu64 ", \"truncated\": %s, \"nsnapshots\": %zu, "
            "\"nstacks\": %u, \"njava_records\": %zu,\n     \"info\": {",
            p->start_realtime_ns, p->truncated ? "true" : "false", p->nsnaps, p->nstacks,
            p->njava_records);
    for (size_t i = 0; i < p->ninfo; i++) {
        fputs(i ? ", " : "", f);
        nmr__json_str(f, p->info[i].key);
        fputs(": ", f);
        nmr__json_str(f, p->info[i].value);
    }
    fputs("},\n     \"snapshot\": ", f);
    snapinfo(f, p, s);
    fputs(",\n     \"counters\": {", f);
    int first = 1;
    for (size_t i = 0; i < s->ncounters; i++) {
        int dup = 0;
        for (size_t j = i + 1; j < s->ncounters && !dup; j++)
            dup = strcmp(s->counters[j].name, s->counters[i].name) == 0;
        if (dup)
            continue;
        fputs(first ? "" : ", ", f);
        first = 0;
        nmr__json_str(f, s->counters[i].name);
        fprintf(f, ": %" PRId64, s->counters[i].value);
    }
    fputs("}", f);
    if (nmr__json_resident(f, p, s, nmr__json_str) != 0)
        return nmr__oom();
    fputs("}", f);
    return 0;
}

static void frame_obj(FILE *f, const struct nmr_frame *fr)
{
    fprintf(f, "{\"addr\": \"0x%" PRIx64 "\", \"function\": ", fr->addr);
    nmr__json_str(f, fr->function);
    fputs(", \"file\": ", f);
    nmr__json_str(f, fr->file);
    fprintf(f, ", \"line\": %d, \"lib\": ", fr->line);
    nmr__json_str(f, fr->lib);
    fputs(", \"class\": ", f);
    nmr__json_str(f, fr->cls_name);
    fprintf(f, ", \"inlined\": %s}", fr->inlined ? "true" : "false");
}

static int ranking(const struct nmr_view *v, const char *name, enum nmr_agg_key key)
{
    FILE *f = v->out;
    struct nmr_agg a = {.key = key};
    if (nmr__agg_add(&a, v->rows, v->nrows)) {
        nmr__agg_free(&a);
        return -1;
    }
    nmr__agg_sort_flat(&a, v->measure);
    fprintf(f, ",\n  \"%s\": [", name);
    size_t shown = 0;
    for (size_t i = 0; i < a.n; i++) {
        const struct nmr_node *nd = &a.nodes[i];
        if (v->opt->nodecount && shown >= v->opt->nodecount)
            break;
        if (nd->flat[v->measure] == 0 && nd->cum[v->measure] == 0)
            continue;
        if (!nmr_view_above_threshold(v, nd->flat[v->measure], v->total[v->measure]))
            continue;
        fputs(shown ? ",\n    " : "\n    ", f);
        shown++;
        fputc('{', f);
        if (key == NMR_KEY_SITE) {
            const struct nmr_frame *fr = nd->frame;
            fputs("\"function\": ", f);
            nmr__json_str(f, nd->function);
            fputs(", \"file\": ", f);
            nmr__json_str(f, fr ? fr->file : NULL);
            fprintf(f, ", \"line\": %d, \"lib\": ", fr ? fr->line : 0);
            nmr__json_str(f, nd->lib);
            fputs(", \"class\": ", f);
            nmr__json_str(f, nd->cls);
        } else if (key == NMR_KEY_LIB) {
            fputs("\"lib\": ", f);
            nmr__json_str(f, nd->lib);
        } else {
            fputs("\"class\": ", f);
            nmr__json_str(f, nd->cls);
        }
        fputs(", \"values\": ", f);
        values(f, nd->flat);
        if (key != NMR_KEY_SITE) {
            fputs(", \"cum\": ", f);
            values(f, nd->cum);
        }
        fputc('}', f);
    }
    fputs("]", f);
    nmr__agg_free(&a);
    return 0;
}

int nmr_view_json(const struct nmr_view *v)
{
    FILE *f = v->out;
    fprintf(f,
            "{\n  \"nmreport_json\": 1,\n  \"measure\": \"%s\",\n  \"diff\": %s,\n  \"files\": [\n",
            nmr_measure_name(v->measure), v->base_snap ? "true" : "false");
    for (size_t i = 0; i < v->nprofiles; i++) {
        if (file_obj(f, v->profiles[i], v->snaps[i]) != 0)
            return -ENOMEM;
        fputs(i + 1 < v->nprofiles ? ",\n" : "\n", f);
    }
    fputs("  ],\n  \"base\": ", f);
    if (v->base_snap) {
        fputs("{\"path\": ", f);
        nmr__json_str(f, v->base_profile->path);
        fputs(", \"snapshot\": ", f);
        snapinfo(f, v->base_profile, v->base_snap);
        fputc('}', f);
    } else {
        fputs("null", f);
    }
    fputs(",\n  \"filters\": {\"focus\": ", f);
    nmr__json_str(f, v->opt->focus);
    fputs(", \"ignore\": ", f);
    nmr__json_str(f, v->opt->ignore);
    fputs("},\n  \"totals\": ", f);
    values(f, v->total);
    fputs(",\n  \"totals_unfiltered\": ", f);
    values(f, v->total_all);
    if (ranking(v, "top_sites", NMR_KEY_SITE) || ranking(v, "by_lib", NMR_KEY_LIB) ||
        ranking(v, "by_class", NMR_KEY_CLASS))
        return nmr__oom();
    fputs(",\n  \"stacks\": [", f);
    size_t shown = 0;
    for (size_t r = 0; r < v->nrows; r++) {
        const struct nmr_row *row = &v->rows[r];
        const struct nmr_stack *s = row->stack;
        if (v->opt->nodecount && shown >= v->opt->nodecount)
            break;
        if (!nmr_view_above_threshold(v, row->v[v->measure], v->total[v->measure]))
            continue;
        fputs(shown ? ",\n    " : "\n    ", f);
        shown++;
        fprintf(f, "{\"id\": %u, \"file\": ", s->id);
        nmr__json_str(f, row->profile->path);
        fputs(", \"api\": ", f);
        nmr__json_str(f, s->api);
        fputs(", \"values\": ", f);
        values(f, row->v);
        fputs(", \"site\": ", f);
        const struct nmr_frame *site = s->site >= 0 ? &s->frames[s->site] : NULL;
        if (site)
            frame_obj(f, site);
        else
            fputs("null", f);
        fprintf(f, ", \"site_index\": %d,\n     \"frames\": [", s->site);
        for (uint32_t i = 0; i < s->nframes; i++) {
            fputs(i ? ",\n       " : "\n       ", f);
            frame_obj(f, &s->frames[i]);
        }
        fputs("]}", f);
    }
    fputs("\n  ]\n}\n", f);
    return 0;
}
