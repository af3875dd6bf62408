/*
 * nmr_stats.c: --stats, everything the file says about the recording rather
 * than about stacks: the header, INFO, and every COUNTERS figure of the
 * selected snapshot (process, mallinfo2, the recorder's own losses such as
 * ring drops, and the JVM bridge's java.* reasons), so a user can tell how
 * much to trust the stacks.
 */
#include <inttypes.h>
#include <stdlib.h>

#include "nmr_view.h"

static int is_bytes_counter(const char *n)
{
    static const char *const b[] = {"proc.rss", "proc.hwm", "proc.vmsize", "rec.ring_drop_bytes",
                                    "rec.bootstrap_bytes"};
    for (size_t i = 0; i < sizeof(b) / sizeof(b[0]); i++)
        if (strcmp(n, b[i]) == 0)
            return 1;
    if (strncmp(n, "rec.own_", 8) == 0)
        return 1;
    return strncmp(n, "mallinfo.", 9) == 0 && strcmp(n, "mallinfo.ordblks") != 0 &&
           strcmp(n, "mallinfo.smblks") != 0 && strcmp(n, "mallinfo.hblks") != 0;
}

/* Durations in nanoseconds (rec.ring_wait_ns). */
static int is_ns_counter(const char *n)
{
    size_t len = strlen(n);
    return len > 3 && strcmp(n + len - 3, "_ns") == 0;
}

static void one(const struct nmr_view *v, const struct nmr_profile *p, const struct nmr_snapshot *s)
{
    FILE *f = v->out;
    fprintf(f, "Profile %s\n", p->path);
    fprintf(f, "  producer      %s (format %u)\n", p->producer, p->format_version);
    fprintf(f, "  pid           %u (parent %u) on %s\n", p->pid, p->ppid, p->hostname);
    fprintf(f, "  exe           %s\n", p->exe);
    fprintf(f, "  cmdline       %s\n", p->cmdline);
    fprintf(f, "  rate          %" PRIu64 " bytes%s\n", p->rate,
            p->rate == 1 ? " (every allocation)" : "");
    fprintf(f, "  depth         %u frames, unwinder %s%s\n", p->depth, nmr_unwinder_name(p),
            p->hdr_flags & 2 ? ", JVM bridge allowed" : "");
    fprintf(f, "  page size     %u\n", p->page_size);
    fprintf(f, "  snapshots     %zu complete%s\n", p->nsnaps,
            p->truncated ? " (file cut: data after the last one dropped)" : "");
    fprintf(f, "  stacks        %u\n", p->nstacks);
    if (p->njava_records)
        fprintf(f, "  java records  %zu (%zu methods named)\n", p->njava_records, p->njmethods);
    fprintf(f, "\nSnapshot %u: %s at %.3fs\n", s->seq, nmr_reason_name(s->reason),
            nmr_snap_time_s(p, s));
    fprintf(f, "  sites         %zu\n  mappings      %zu\n", s->nsites, s->nmaps);
    fprintf(f, "\nCounters:\n");
    for (size_t i = 0; i < s->ncounters; i++) {
        const struct nmr_counter *c = &s->counters[i];
        /* A repeated name: show only the value that counts (the last). */
        int dup = 0;
        for (size_t j = i + 1; j < s->ncounters && !dup; j++)
            dup = strcmp(s->counters[j].name, c->name) == 0;
        if (dup)
            continue;
        char b[32];
        if (is_bytes_counter(c->name))
            fprintf(f, "  %-30s %20" PRId64 "  %s\n", c->name, c->value,
                    nmr_fmt_bytes(b, sizeof(b), c->value));
        else if (is_ns_counter(c->name))
            fprintf(f, "  %-30s %20" PRId64 "  %.3f s\n", c->name, c->value,
                    (double)c->value / 1e9);
        else
            fprintf(f, "  %-30s %20" PRId64 "\n", c->name, c->value);
    }
    int64_t d;
    if ((nmr_counter_get(s, "rec.ring_drops", &d) && d > 0) ||
        (nmr_counter_get(s, "rec.free_drops", &d) && d > 0))
        fprintf(f, "  warning: the recorder lost events (rec.ring_drops / rec.free_drops): "
                   "figures are estimates\n");
    int64_t waits, ns;
    if (nmr_counter_get(s, "rec.ring_waits", &waits) && waits > 0 &&
        nmr_counter_get(s, "rec.ring_wait_ns", &ns))
        fprintf(f,
                "  note: threads waited %" PRId64 " times for the recorder to drain a full ring, "
                "%.3f s in all (a larger NMTRACE_RING waits less)\n",
                waits, (double)ns / 1e9);
    fprintf(f, "\nInfo:\n");
    for (size_t i = 0; i < p->ninfo; i++)
        fprintf(f, "  %-30s %s\n", p->info[i].key, p->info[i].value);
}

int nmr_view_stats(const struct nmr_view *v)
{
    for (size_t i = 0; i < v->nprofiles; i++) {
        if (i)
            fputc('\n', v->out);
        one(v, v->profiles[i], v->snaps[i]);
    }
    return 0;
}
