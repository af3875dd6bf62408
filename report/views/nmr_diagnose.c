/*
 * nmr_diagnose.c: --diagnose (text, and JSON with --json: docs/JSON.md),
 * the findings block at the top of the default view of a JVM's profile, and
 * --fail-on's gate.
 */
#include <math.h>
#include <stdlib.h>

#include "nmr_diag.h"
#include "nmr_diag_views.h"
#include "nmr_internal.h"

#define BLOCK_MAX 3

static const char *rate_text(char *buf, size_t n, double rate)
{
    nmr_fmt_bytes(buf, n - 4, nmr_sat_from_double(round(rate)));
    strcat(buf, "/s");
    return buf;
}

static const char *conf_text(char *buf, size_t n, const struct nmr_finding *f)
{
    if (f->exact)
        snprintf(buf, n, "exact (%s)", f->mmap ? "mmap is not sampled" : "measured, not sampled");
    else if (f->error_pct > 0)
        snprintf(buf, n, "+-%.0f%% (95%%, sampling)", f->error_pct);
    else
        snprintf(buf, n, "unknown sampling error");
    return buf;
}

static void print_one(FILE *o, size_t i, const struct nmr_finding *f)
{
    char b[3][48];
    fprintf(o, "%zu. %s: %s\n", i + 1, nmr__cause_rule(f->cause)->title, f->verdict);
    fprintf(o, "   owner       %s (%s)\n", f->owner, f->owner_kind);
    fprintf(o, "   bytes       %s now, %s%s over the run, %s; %s\n",
            nmr_fmt_bytes(b[0], sizeof(b[0]), f->bytes), f->growth > 0 ? "+" : "",
            nmr_fmt_bytes(b[1], sizeof(b[1]), f->growth), rate_text(b[2], sizeof(b[2]), f->rate),
            f->memory);
    char c[64];
    fprintf(o, "   confidence  %s; %zu snapshot%s\n", conf_text(c, sizeof(c), f), f->nsnaps,
            f->nsnaps == 1 ? "" : "s");
    fprintf(o, "   site        %s\n", f->site);
    for (size_t e = 0; e < f->nevidence; e++)
        fprintf(o, "   %-11s %s\n", e ? "" : "evidence", f->evidence[e]);
    if (f->note[0])
        fprintf(o, "   note        %s\n", f->note);
    if (f->fix[0])
        fprintf(o, "   next        %s\n", f->fix);
    if (f->confirm[0])
        fprintf(o, "   confirm     %s\n", f->confirm);
}

static void header(FILE *o, const struct nmr_profile *p, const struct nmr_findings *fs)
{
    fprintf(o, "Diagnosis of %s (pid %u%s): %zu snapshot%s over %.1fs\n", p->path, p->pid,
            fs->is_jvm ? ", JVM" : "", fs->nsnaps, fs->nsnaps == 1 ? "" : "s", fs->span_s);
    if (fs->nsnaps < 3)
        fprintf(o, "note: too few snapshots to judge trends: record with NMTRACE_INTERVAL=1 (or "
                   "NMTRACE_GROWTH) for at least 3\n");
    if (fs->oom_seen)
        fprintf(o, "note: a stack passes through java.lang.OutOfMemoryError: the run hit a JVM "
                   "limit (see the notes below)\n");
}

static void text(const struct nmr_view *v, const struct nmr_profile *p,
                 const struct nmr_findings *fs)
{
    FILE *o = v->out;
    header(o, p, fs);
    size_t max = v->opt->nodecount ? v->opt->nodecount : 10;
    if (!fs->n)
        fprintf(o, "no findings: no series holds or grew by 1 MiB or more\n");
    for (size_t i = 0; i < fs->n && i < max; i++) {
        fputc('\n', o);
        print_one(o, i, &fs->f[i]);
    }
    if (fs->n > max)
        fprintf(o, "\n(%zu more findings below --nodecount)\n", fs->n - max);
}

/* ,"key":"value" (the first field of an object without the comma). */
static void jfield(FILE *o, const char *key, const char *value, int first)
{
    fprintf(o, "%s\"%s\":", first ? "" : ",", key);
    nmr__json_str(o, value);
}

static void json_one(FILE *o, const struct nmr_finding *f)
{
    const struct nmr_cause_rule *r = nmr__cause_rule(f->cause);
    const char *const text[][2] = {
        {"cause", r->name},   {"title", r->title},           {"verdict", f->verdict},
        {"owner", f->owner},  {"owner_kind", f->owner_kind}, {"site", f->site},
        {"memory", f->memory}};
    fputc('{', o);
    for (size_t i = 0; i < sizeof(text) / sizeof(text[0]); i++)
        jfield(o, text[i][0], text[i][1], i == 0);
    fprintf(o,
            ",\"bytes\":%lld,\"growth\":%lld,\"rate\":%.1f,\"exact\":%s,"
            "\"error_pct\":%.1f,\"snapshots\":%zu,\"evidence\":[",
            (long long)f->bytes, (long long)f->growth, f->rate, f->exact ? "true" : "false",
            f->error_pct, f->nsnaps);
    for (size_t e = 0; e < f->nevidence; e++) {
        if (e)
            fputc(',', o);
        nmr__json_str(o, f->evidence[e]);
    }
    fputc(']', o);
    jfield(o, "note", f->note[0] ? f->note : NULL, 0);
    jfield(o, "next", f->fix, 0);
    jfield(o, "confirm", f->confirm, 0);
    fputc('}', o);
}

static void json(const struct nmr_view *v, const struct nmr_profile *p,
                 const struct nmr_findings *fs, int first)
{
    FILE *o = v->out;
    fputs(first ? "" : ",", o);
    fputs("{\"file\":", o);
    nmr__json_str(o, p->path);
    fprintf(o, ",\"pid\":%u,\"jvm\":%s,\"snapshots\":%zu,\"span_s\":%.3f,\"oom_seen\":%s,", p->pid,
            fs->is_jvm ? "true" : "false", fs->nsnaps, fs->span_s, fs->oom_seen ? "true" : "false");
    fputs("\"findings\":[", o);
    size_t max = v->opt->nodecount ? v->opt->nodecount : fs->n;
    for (size_t i = 0; i < fs->n && i < max; i++) {
        if (i)
            fputc(',', o);
        json_one(o, &fs->f[i]);
    }
    fputs("]}", o);
}

/* --fail-on leak-suspect[:BYTES]: a leak-suspect finding of at least BYTES. */
static int gate(const struct nmr_opts *opt, const struct nmr_findings *fs)
{
    for (size_t i = 0; opt->fail_on && i < fs->n; i++)
        if (strcmp(fs->f[i].verdict, "leak-suspect") == 0 && fs->f[i].bytes >= opt->fail_bytes)
            return 1;
    return 0;
}

int nmr_view_diagnose(const struct nmr_view *v)
{
    int tripped = 0;
    if (v->opt->diag_json)
        fputs("{\"profiles\":[", v->out);
    for (size_t i = 0; i < v->nprofiles; i++) {
        struct nmr_findings fs;
        if (nmr__diagnose(v, v->profiles[i], &fs))
            return nmr__oom();
        if (v->opt->diag_json) {
            json(v, v->profiles[i], &fs, i == 0);
        } else {
            if (i)
                fputc('\n', v->out);
            text(v, v->profiles[i], &fs);
        }
        tripped |= gate(v->opt, &fs);
        nmr__findings_free(&fs);
    }
    if (v->opt->diag_json)
        fputs("]}\n", v->out);
    return tripped ? NMR_VIEW_GATE : 0;
}

static int is_app(const struct nmr_finding *f)
{
    return strcmp(f->owner_kind, "jvm") != 0 && strcmp(f->owner_kind, "unknown") != 0 &&
           strcmp(f->owner_kind, "allocator") != 0;
}

void nmr__print_findings_block(FILE *o, const struct nmr_findings *fs, size_t max)
{
    char b[2][32];
    size_t shown = 0;
    for (size_t i = 0; i < fs->n && shown < max; i++) {
        const struct nmr_finding *f = &fs->f[i];
        /* What the user came for: the application's memory, and any leak. */
        if (!is_app(f) && strcmp(f->verdict, "leak-suspect") != 0)
            continue;
        if (!shown++)
            fprintf(o, "Findings (nmreport --diagnose for evidence and fixes):\n");
        b[1][0] = 0;
        if (f->growth > 0) {
            b[1][0] = '+';
            nmr_fmt_bytes(b[1] + 1, sizeof(b[1]) - 1, f->growth);
        }
        fprintf(o, "  %zu. %s, %s: %s%s%s (%s) %s\n", shown, nmr__cause_rule(f->cause)->title,
                f->verdict, nmr_fmt_bytes(b[0], sizeof(b[0]), f->bytes), b[1][0] ? " " : "", b[1],
                f->memory, f->owner);
    }
    if (shown)
        fputc('\n', o);
}

int nmr__findings_prelude(const struct nmr_view *v)
{
    struct nmr_profile *p = v->profiles[0];
    if (v->nprofiles != 1 || v->base_snap || !p->njmethods)
        return 0;
    struct nmr_findings fs;
    if (nmr__diagnose(v, p, &fs))
        return nmr__oom();
    if (fs.is_jvm)
        nmr__print_findings_block(v->out, &fs, BLOCK_MAX);
    nmr__findings_free(&fs);
    return 0;
}
