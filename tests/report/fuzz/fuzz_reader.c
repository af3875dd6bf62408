/*
 * fuzz_reader.c: libFuzzer target for nmreport's reader and views. Any byte
 * string is parsed as a profile twice: as it is, and with every record's
 * CRC recomputed (a fuzzer rarely guesses a CRC-32, so without the second
 * pass the record decoders behind the checksum would go unexplored). A
 * profile that parses is then reported the way nmreport does it: the
 * selection (symbolizing every stack from the file's own mappings) and
 * every view, the file views too, written to /dev/null. The invariant is simply: no crash, no
 * sanitizer report.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "nmt_format.h"
#include "nmr_internal.h"
#include "nmr_select.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* The view argv names, over x (and y when argv names two inputs), or over
 * x against the base y with --base. */
static void run_view(char *const *argv, struct nmr_profile *x, struct nmr_profile *y, FILE *null)
{
    int argc = 0;
    while (argv[argc])
        argc++;
    struct nmr_opts o;
    char err[256];
    if (nmr__opts_parse(&o, argc, (char **)argv, null, err, sizeof(err)) != 0)
        return;
    const struct nmr_view_def *d = nmr__view_find(o.view);
    struct nmr_profile *in[2] = {x, y};
    struct nmr_view v;
    struct nmr_sel sel;
    if (nmr__view_build(&v, &sel, &o, in, o.base ? 1 : o.nfiles, o.base ? y : NULL,
                        (d->flags & NMR_VIEW_NO_ROWS) != 0, err, sizeof(err)) == 0) {
        v.out = null;
        (void)d->run(&v);
    }
    nmr__sel_free(&sel);
    nmr__opts_free(&o);
}

static void report(struct nmr_profile *p, struct nmr_profile *q)
{
    static char *const argv_sets[][8] = {
        {"nmreport", "--text", "x", NULL},
        {"nmreport", "--tree", "--callers", "--committed", "x", NULL},
        {"nmreport", "--json", "--base-snapshot", "0", "x", NULL},
        {"nmreport", "--growth", "x", NULL},
        {"nmreport", "--timeline", "x", NULL},
        {"nmreport", "--rss", "x", NULL},
        {"nmreport", "--stacks", "x", NULL},
        {"nmreport", "--collapsed", "--alloc-space", "x", NULL},
        {"nmreport", "--by", "class", "x", NULL},
        {"nmreport", "--stats", "x", NULL},
        {"nmreport", "--diagnose", "x", NULL},
        {"nmreport", "--diagnose", "--json", "--app", "com.example", "x", NULL},
        {"nmreport", "--by", "owner", "--committed", "x", NULL},
        {"nmreport", "--growth", "--key", "owner", "x", NULL},
        {"nmreport", "--text", "--key", "site", "--inuse-objects", "x", NULL},
        {"nmreport", "--rss", "--expect", "1g", "x", NULL},
        {"nmreport", "--pprof", "-o", "/dev/null", "x", NULL},
        {"nmreport", "--heap-v2", "-o", "/dev/null", "x", NULL},
        {"nmreport", "--flamegraph", "-o", "/dev/null", "x", NULL},
        {"nmreport", "--html", "-o", "/dev/null", "x", NULL},
        {"nmreport", "--timeline-svg", "-o", "/dev/null", "x", NULL},
        /* Two profiles (the same bytes parsed twice, as two files with the
         * same content would be): merged, and one as the other's base. */
        {"nmreport", "--text", "x", "y", NULL},
        {"nmreport", "--json", "x", "y", NULL},
        {"nmreport", "--html", "-o", "/dev/null", "x", "y", NULL},
        {"nmreport", "--text", "--base", "y", "x", NULL},
        {"nmreport", "--growth", "--base", "y", "x", NULL},
        {"nmreport", "--collapsed", "--base", "y", "x", NULL},
    };
    FILE *null = fopen("/dev/null", "w");
    if (!null)
        return;
    for (size_t i = 0; i < sizeof(argv_sets) / sizeof(argv_sets[0]); i++)
        run_view(argv_sets[i], p, q, null);
    fclose(null);
}

static void one(const uint8_t *data, size_t size)
{
    struct nmr_profile *p;
    char err[256];
    if (nmr_profile_parse(data, size, "fuzz.nmt", NULL, &p, err, sizeof(err)) != 0)
        return;
    /* The same bytes again, as a second input (they parse as the first did). */
    struct nmr_profile *q;
    if (nmr_profile_parse(data, size, "fuzz2.nmt", NULL, &q, err, sizeof(err)) == 0) {
        report(p, q);
        nmr_profile_free(q);
    }
    nmr_profile_free(p);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    one(data, size);
    if (size < NMT_MAGIC_LEN)
        return 0;
    uint8_t *fixed = malloc(size);
    if (!fixed)
        return 0;
    memcpy(fixed, data, size);
    for (size_t off = NMT_MAGIC_LEN; size - off >= NMT_FRAME_HEAD;) {
        uint32_t len = nmr__le32(fixed + off + 4);
        if (len > NMT_RECORD_MAX || size - off - NMT_FRAME_HEAD < (size_t)len + NMT_FRAME_TAIL)
            break;
        uint32_t crc = (uint32_t)crc32(0L, fixed + off, NMT_FRAME_HEAD + len);
        uint8_t *c = fixed + off + NMT_FRAME_HEAD + len;
        c[0] = (uint8_t)crc;
        c[1] = (uint8_t)(crc >> 8);
        c[2] = (uint8_t)(crc >> 16);
        c[3] = (uint8_t)(crc >> 24);
        off += NMT_FRAME_HEAD + (size_t)len + NMT_FRAME_TAIL;
    }
    if (memcmp(fixed, data, size) != 0)
        one(fixed, size);
    free(fixed);
    return 0;
}
