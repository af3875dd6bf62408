/*
 * nmr_json_resident.c: the two --json keys of a FILE that come from the
 * per-snapshot records: "resident" (the SMAPS split, nmr_resident.h) and
 * "jvm_accounts" (JACCOUNTS), docs/JSON.md. Strings go through the
 * document's own writer (str), so escaping is done in one place.
 */
#include <inttypes.h>

#include "nmr_internal.h"
#include "nmr_jvmcheck.h"
#include "nmr_resident.h"
#include "nmr_view.h"

static void named_list(FILE *f, const struct nmr_res_owner *o, size_t n,
                       void (*str)(FILE *, const char *))
{
    fputc('[', f);
    for (size_t i = 0; i < n; i++) {
        fputs(i ? ", {\"name\": " : "{\"name\": ", f);
        str(f, o[i].name);
        fprintf(f, ", \"bytes\": %" PRId64 "}", o[i].bytes);
    }
    fputc(']', f);
}

static int resident(FILE *f, struct nmr_profile *p, const struct nmr_snapshot *s,
                    void (*str)(FILE *, const char *))
{
    struct nmr_resident r;
    int rc = nmr_resident_of(p, s, NMR_KEYBY_OWNER, NULL, &r);
    if (rc <= 0) {
        fputs("null", f);
        return rc;
    }
    fprintf(f, "{\"total\": %" PRId64 ", \"swap\": %" PRId64 ", \"parts\": {", r.total, r.swap);
    for (int c = 0; c < NMR_RES_NCATS; c++)
        fprintf(f, "%s\"%s\": %" PRId64, c ? ", " : "", nmr_res_cat_key((enum nmr_res_cat)c),
                r.cat[c]);
    fprintf(f, "},\n      \"malloc_glibc_by_hblkhd\": %" PRId64 ", \"malloc_other_allocator\": ",
            r.malloc_estimated);
    str(f, r.other_allocator);
    fputs(",\n      \"mmap_owners\": ", f);
    named_list(f, r.owners, r.nowners, str);
    fputs(", \"files\": ", f);
    named_list(f, r.files, r.nfiles, str);
    fputc('}', f);
    return 0;
}

static void pools(FILE *f, const struct nmr_jaccounts *a, void (*str)(FILE *, const char *))
{
    fputs("[", f);
    for (size_t i = 0; i < a->npools; i++) {
        const struct nmr_jpool *q = &a->pools[i];
        fputs(i ? ", {\"name\": " : "{\"name\": ", f);
        str(f, q->name);
        fprintf(f, ", \"heap\": %s, \"used\": %" PRIu64 ", \"committed\": %" PRIu64 ", \"max\": ",
                q->heap ? "true" : "false", q->used, q->committed);
        if (q->max < 0)
            fputs("null}", f);
        else
            fprintf(f, "%" PRId64 "}", q->max);
    }
    fputs("]", f);
}

static void accounts(FILE *f, const struct nmr_jaccounts *a, void (*str)(FILE *, const char *))
{
    if (a == NULL) {
        fputs("null", f);
        return;
    }
    fprintf(f,
            "{\"taken_ns\": %" PRIu64 ", \"threads\": %u, \"daemon_threads\": %u, "
            "\"loaded_classes\": %u, \"total_loaded_classes\": %" PRIu64
            ", \"unloaded_classes\": %" PRIu64 ", \"max_direct\": ",
            a->taken_ns, a->threads, a->daemon_threads, a->loaded_classes, a->total_loaded_classes,
            a->unloaded_classes);
    if (a->have & NMR_JACC_MAX_DIRECT)
        fprintf(f, "%" PRIu64, a->max_direct);
    else
        fputs("null", f);
    fputs(",\n      \"pools\": ", f);
    pools(f, a, str);
    fputs(",\n      \"buffers\": [", f);
    for (size_t i = 0; i < a->nbuffers; i++) {
        fputs(i ? ", {\"name\": " : "{\"name\": ", f);
        str(f, a->buffers[i].name);
        fprintf(f, ", \"count\": %" PRIu64 ", \"capacity\": %" PRIu64 ", \"used\": %" PRIu64 "}",
                a->buffers[i].count, a->buffers[i].capacity, a->buffers[i].used);
    }
    fputs("],\n      \"nmt\": [", f);
    for (size_t i = 0; i < a->nnmt; i++) {
        fputs(i ? ", {\"name\": " : "{\"name\": ", f);
        str(f, a->nmt[i].name);
        fprintf(f, ", \"reserved\": %" PRIu64 ", \"committed\": %" PRIu64 "}", a->nmt[i].reserved,
                a->nmt[i].committed);
    }
    fputs("]", f);
}

/* "checks": what nmr_jvm_checks finds (near a limit, disagreement). */
static int checks(FILE *f, struct nmr_profile *p, const struct nmr_snapshot *s,
                  void (*str)(FILE *, const char *))
{
    struct nmr_jcheck c[NMR_JCHECKS_MAX];
    int n = nmr_jvm_checks(p, s, c);
    fputs(",\n      \"checks\": [", f);
    for (int i = 0; i < n; i++) {
        fprintf(f, "%s{\"kind\": \"%s\", \"what\": ", i ? ", " : "",
                c[i].kind == NMR_JCHECK_NEAR_LIMIT ? "near_limit" : "disagree");
        str(f, c[i].what);
        fputs(", \"flag\": ", f);
        str(f, c[i].flag);
        fprintf(f, ", \"jvm\": %" PRId64 ", \"%s\": %" PRId64 ", \"margin\": %" PRId64 "}",
                c[i].jvm, c[i].kind == NMR_JCHECK_NEAR_LIMIT ? "limit" : "nmtrace", c[i].other,
                c[i].margin);
    }
    fputs("]}", f);
    return n < 0 ? -1 : 0;
}

int nmr__json_resident(FILE *f, struct nmr_profile *p, const struct nmr_snapshot *s,
                       void (*str)(FILE *, const char *))
{
    fputs(",\n     \"resident\": ", f);
    if (resident(f, p, s, str) < 0)
        return -1;
    fputs(",\n     \"jvm_accounts\": ", f);
    accounts(f, s->jacc, str);
    return s->jacc ? checks(f, p, s, str) : 0;
}
