/*
 * nmt_snapshot.c: encodes the aggregate into profile records (docs/FORMAT.md).
 *
 * The file is created with HEADER and INFO when the writer starts (a fork
 * child's at its first snapshot: one that only execs leaves nothing
 * behind), and its path said. Each snapshot appends the STACK records of
 * stacks new since the last one, the JVM bridge's pending records, then
 * SNAP_BEGIN, MAPS, SMAPS (nmt_smaps.c), COUNTERS, the JVM's accounts
 * (JACCOUNTS, nmt_jvm_accounts.c), SITES and SNAP_END, encoded in
 * memory and written in one go so that a crash leaves at most one partial
 * snapshot at the end. Failures (no memory, disk full) are counted and said
 * once; recording goes on. The file is opened for each write and closed
 * again (nmt_os.c).
 */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "nmt_enc.h"
#include "nmt_format.h"
#include "nmt_os.h"
#include "nmt_attach.h"
#include "nmt_smaps.h"
#include "nmt_unwind.h"
#include "nmt_writer.h"

struct kv_ctx {
    struct nmt_enc *b;
    uint32_t count;
};

static void kv_add(void *ctx, const char *k, const char *v)
{
    struct kv_ctx *c = ctx;
    nmt_enc_info_pair(c->b, k, v);
    c->count++;
}

static void encode_header(struct nmt_enc *b)
{
    const struct nmt_header h = {
        .version = NMT_FORMAT_VERSION,
        .pid = (uint32_t)getpid(),
        .ppid = (uint32_t)getppid(),
        .flags =
            (nmt__cfg.unwind_fp ? NMT_HDR_UNWIND_FP : 0) | (nmt__cfg.java ? NMT_HDR_JAVA_AUTO : 0),
        .start_realtime_ns = nmt__start_realtime,
        .start_monotonic_ns = nmt__start_monotonic,
        .rate = nmt__cfg.rate,
        .depth = nmt__cfg.depth,
        .page_size = (uint32_t)sysconf(_SC_PAGESIZE),
        .producer = "nmtrace " NMT_VERSION,
    };
    nmt_enc_magic(b);
    size_t r = nmt_enc_header_begin(b, &h);
    nmt__os_identity(b);
    nmt_enc_rec_end(b, r);

    r = nmt_enc_rec_begin(b, NMT_REC_INFO);
    size_t count_at = b->len;
    struct kv_ctx kv = {b, 0};
    nmt_enc_u32(b, 0);
    nmt__config_describe(kv_add, &kv);
    nmt__os_jvm_info(kv_add, &kv);
    if (nmt__attach_describe != NULL)
        nmt__attach_describe(kv_add, &kv);
    nmt_enc_patch_u32(b, count_at, kv.count);
    nmt_enc_rec_end(b, r);
}

static void encode_new_stacks(struct nmt_writer *w, struct nmt_enc *b)
{
    uint32_t n = nmt_stacktab_count(&w->stacks);
    for (uint32_t id = w->stacks_written + 1; id <= n; id++) {
        uint32_t nf;
        const uint64_t *f = nmt_stacktab_frames(&w->stacks, id, &nf);
        nmt_enc_stack(b, id, f, nf);
    }
}

static int emit_record(void *ctx, uint16_t type, const void *payload, uint32_t len)
{
    struct nmt_enc *b = ctx;
    nmt_enc_record(b, type, payload, len);
    return b->failed ? -ENOMEM : 0;
}

struct counter_ctx {
    struct nmt_enc *b;
    uint32_t count;
};

static void counter_add(void *ctx, const char *name, int64_t v)
{
    struct counter_ctx *c = ctx;
    nmt_enc_counter(c->b, name, v);
    c->count++;
}

/* A counter that other threads bump: read relaxed, it is a statistic. */
static void counter_atomic(struct counter_ctx *c, const char *name, _Atomic uint64_t *v)
{
    counter_add(c, name, (int64_t)atomic_load_explicit(v, memory_order_relaxed));
}

/* The recorder's own memory, by what holds it (rec.own_*, docs/FORMAT.md):
 * each part is the sum of what was mapped or handed out for it, so the total
 * is exact by construction (pages mapped but not yet touched included). */
static void encode_own_memory(struct counter_ctx *c)
{
    uint64_t rings = 0;
    for (struct nmt_thread *s = atomic_load_explicit(&nmt__threads, memory_order_acquire); s;
         s = s->next)
        rings += s->map_len;
    uint64_t fixed =
        sizeof(nmt__filter) + sizeof(nmt__liveset) + nmt__rule_cache_bytes() + nmt__boot_used();
    uint64_t writer = nmt__wheap_in_use();
    uint64_t bridge = nmt_jvm_pending_bytes != NULL ? nmt_jvm_pending_bytes() : 0;
    counter_add(c, "rec.own_bytes", (int64_t)(rings + fixed + writer + bridge));
    counter_add(c, "rec.own_rings", (int64_t)rings);
    counter_add(c, "rec.own_fixed", (int64_t)fixed);
    counter_add(c, "rec.own_writer_heap", (int64_t)writer);
    counter_add(c, "rec.own_bridge_queue", (int64_t)bridge);
}

static void encode_counters(struct nmt_writer *w, struct nmt_enc *b)
{
    size_t r = nmt_enc_rec_begin(b, NMT_REC_COUNTERS);
    size_t count_at = b->len;
    struct counter_ctx c = {b, 0};
    nmt_enc_u32(b, 0);
    nmt__os_counters(counter_add, &c);
    uint64_t drops = nmt__ctr.dead_drops, drop_bytes = nmt__ctr.dead_drop_bytes,
             free_drops = nmt__ctr.dead_free_drops;
    uint32_t threads = 0;
    for (struct nmt_thread *s = atomic_load_explicit(&nmt__threads, memory_order_acquire); s;
         s = s->next) {
        drops += atomic_load_explicit(&s->drops, memory_order_relaxed);
        drop_bytes += atomic_load_explicit(&s->drop_bytes, memory_order_relaxed);
        free_drops += atomic_load_explicit(&s->free_drops, memory_order_relaxed);
        threads++;
    }
    counter_add(&c, "rec.samples", (int64_t)w->samples);
    counter_add(&c, "rec.frees", (int64_t)w->frees);
    counter_add(&c, "rec.mmap_events", (int64_t)w->mmap_events);
    counter_add(&c, "rec.live_samples", (int64_t)nmt_livetab_count(&w->live));
    counter_add(&c, "rec.stacks", (int64_t)nmt_stacktab_count(&w->stacks));
    counter_add(&c, "rec.thread_slots", (int64_t)threads);
    counter_add(&c, "rec.ring_drops", (int64_t)drops);
    counter_add(&c, "rec.ring_drop_bytes", (int64_t)drop_bytes);
    counter_add(&c, "rec.free_drops", (int64_t)free_drops);
    counter_atomic(&c, "rec.ring_waits", &nmt__ctr.ring_waits);
    counter_atomic(&c, "rec.ring_wait_ns", &nmt__ctr.ring_wait_ns);
    counter_atomic(&c, "rec.ring_wait_stalls", &nmt__ctr.ring_wait_stalls);
    counter_atomic(&c, "rec.lost_no_ring", &nmt__ctr.lost_no_ring);
    counter_atomic(&c, "rec.after_final", &nmt__ctr.after_final);
    counter_atomic(&c, "rec.small_rings", &nmt__ctr.small_rings);
    counter_atomic(&c, "rec.unwind_errors", &nmt__ctr.unwind_errors);
    counter_atomic(&c, "rec.truncated_stacks", &nmt__ctr.truncated_stacks);
    counter_atomic(&c, "rec.unwind_fallbacks", &nmt__ctr.unwind_fallbacks);
    counter_atomic(&c, "rec.unwind_mismatch", &nmt__ctr.unwind_mismatch);
    counter_atomic(&c, "rec.unwind_libunwind", &nmt__ctr.unwind_libunwind);
    counter_atomic(&c, "rec.libunwind_off", &nmt__ctr.libunwind_off);
    counter_atomic(&c, "rec.mmap_failed_after_record", &nmt__ctr.mmap_failed_after_record);
    counter_add(&c, "rec.orphan_frees", (int64_t)nmt_livetab_orphans(&w->live));
    counter_add(&c, "rec.expired_orphans", (int64_t)w->live.expired_orphans);
    counter_atomic(&c, "rec.liveset_full", &nmt__ctr.liveset_full);
    counter_add(&c, "rec.bootstrap_bytes", (int64_t)nmt__boot_used());
    counter_add(&c, "rec.internal_errors",
                (int64_t)(nmt__ctr.internal_errors + w->live.mark_failures));
    counter_add(&c, "rec.write_errors", (int64_t)nmt__ctr.write_errors);
    counter_add(&c, "rec.smaps_skipped", (int64_t)nmt__smaps_skipped);
    counter_add(&c, "rec.smaps_ns", (int64_t)nmt__smaps_ns);
    counter_add(&c, "rec.smaps_pagescan", (int64_t)nmt__smaps_scanned);
    counter_add(&c, "rec.seq_clock", nmt__seq_clock);
    counter_add(&c, "rec.mmap_reserved", (int64_t)nmt_mm_reserved(&w->mm));
    counter_add(&c, "rec.mmap_committed", (int64_t)nmt_mm_committed(&w->mm));
    counter_add(&c, "rec.live_estimate", (int64_t)llround(w->live_est));
    encode_own_memory(&c);
    if (nmt_jvm_counters != NULL)
        nmt_jvm_counters(counter_add, &c);
    nmt_enc_patch_u32(b, count_at, c.count);
    nmt_enc_rec_end(b, r);
}

static uint64_t est(double v)
{
    return v <= 0.5 ? 0 : (uint64_t)llround(v);
}

/* SITES in records of at most ~1 MiB. Returns the number of entries. */
static uint32_t encode_sites(struct nmt_writer *w, struct nmt_enc *b)
{
    uint32_t total = 0, n = nmt_stacktab_count(&w->stacks);
    size_t r = 0, count_at = 0;
    uint32_t in_rec = 0;
    for (uint32_t id = 1; id <= n; id++) {
        const struct nmt_stack_totals *st = nmt_stacktab_totals(&w->stacks, id);
        if (st == NULL)
            continue;
        uint64_t lb = est(st->live_bytes), lo = est(st->live_objects);
        uint64_t ab = est(st->alloc_bytes), ao = est(st->alloc_objects);
        uint64_t res = st->reserved > 0 ? (uint64_t)st->reserved : 0;
        uint64_t com = st->committed > 0 ? (uint64_t)st->committed : 0;
        if (lb == 0 && ab == 0 && res == 0 && com == 0 && st->alloc_samples == 0)
            continue;
        if (in_rec == 0) {
            r = nmt_enc_rec_begin(b, NMT_REC_SITES);
            count_at = b->len;
            nmt_enc_u32(b, 0);
        }
        const struct nmt_site_disk site = {
            .stack_id = id,
            .flags = (st->alloc_samples ? NMT_SITE_MALLOC : 0) | (res || com ? NMT_SITE_MMAP : 0),
            .live_bytes = lb,
            .live_objects = lo,
            .alloc_bytes = ab,
            .alloc_objects = ao,
            .live_samples = st->live_samples,
            .alloc_samples = st->alloc_samples,
            .reserved = res,
            .committed = com,
        };
        nmt_enc_site(b, &site);
        in_rec++;
        total++;
        if (in_rec == 16384) {
            nmt_enc_patch_u32(b, count_at, in_rec);
            nmt_enc_rec_end(b, r);
            in_rec = 0;
        }
    }
    if (in_rec > 0) {
        nmt_enc_patch_u32(b, count_at, in_rec);
        nmt_enc_rec_end(b, r);
    }
    return total;
}

/* b gets HEADER and INFO in front of what follows for as long as no write
 * has put them in the file. */
static int prepare_file(struct nmt_writer *w, struct nmt_enc *b)
{
    if (w->file_failed)
        return -1;
    if (!w->header_done)
        encode_header(b);
    return 0;
}

/* The profile's name for messages: its absolute path once created, else the
 * pattern, with the working directory in front when it is relative. */
static const char *shown_path(struct nmt_writer *w, char *buf, size_t n)
{
    char cwd[1024];
    if (w->file_created || nmt__cfg.output[0] == '/' || getcwd(cwd, sizeof(cwd)) == NULL)
        return w->file_created ? w->path : nmt__cfg.output;
    snprintf(buf, n, "%s/%s", cwd, nmt__cfg.output);
    return buf;
}

static void say_lost(struct nmt_writer *w, int err)
{
    char buf[1600];
    nmt__ctr.write_errors++;
    if (!w->write_said) {
        nmt__say("nmtrace: writing the profile '%s' failed: %s; snapshots are lost (and "
                 "counted) until writing works again",
                 shown_path(w, buf, sizeof(buf)), strerror(-err));
        w->write_said = 1;
    }
}

/* Writes b: the first time by creating the file with it (nmt_os.c), then by
 * appending. A lost write is counted (rec.write_errors, in the next
 * snapshot that gets through) and said once; the next snapshot tries
 * again, so a full disk or RLIMIT_FSIZE costs snapshots, not the file. A
 * file that cannot be created, is no longer ours, or could not be cut back
 * to its last whole record, is not written again. */
static int append(struct nmt_writer *w, const struct nmt_enc *b)
{
    int err, damaged = 0;
    if (!w->file_created) {
        int write_err = 0;
        err = nmt__os_create_output(w->path, sizeof(w->path), &w->file_id, b->data, b->len,
                                    &write_err);
        if (err == 0) {
            w->file_created = 1;
            nmt__say("nmtrace: recording pid %d to %s", (int)getpid(), w->path);
        }
        if (err == 0 && write_err == 0) {
            w->header_done = 1;
            return 0;
        }
        if (write_err != 0) {
            say_lost(w, write_err);
            return write_err;
        }
        char buf[1600];
        nmt__say("nmtrace: cannot create the profile '%s': %s; recording without output",
                 shown_path(w, buf, sizeof(buf)), strerror(-err));
        w->file_failed = 1;
        return err;
    }
    err = nmt__os_append(w->path, &w->file_id, b->data, b->len, &damaged);
    if (err == 0) {
        w->header_done = 1;
        return 0;
    }
    if (err == -ESTALE || damaged) {
        nmt__ctr.write_errors++;
        nmt__say("nmtrace: the profile '%s' %s; no more snapshots", w->path,
                 err == -ESTALE ? "is no longer the file nmtrace created"
                                : "could not be cut back after a failed write");
        w->file_failed = 1;
    } else {
        say_lost(w, err);
    }
    return err;
}

NMT_HIDDEN void nmt__snapshot_open(struct nmt_writer *w)
{
    struct nmt_enc b;
    if (w->header_done)
        return;
    nmt_enc_init(&b, realloc);
    if (prepare_file(w, &b) != 0)
        return;
    if (b.failed)
        nmt__ctr.internal_errors++;
    else
        append(w, &b);
    free(b.data);
}

/* Under the launcher (NMTRACE_RUN set) the launcher says it, for every
 * process of the run at once. */
NMT_HIDDEN void nmt__snapshot_say_exit(struct nmt_writer *w)
{
    char reader[600];
    if (!w->file_created || w->file_failed || nmt__cfg.run[0] || nmt__cfg.quiet)
        return;
    nmt__say("nmtrace: pid %d: %u snapshot%s in %s; read it with: %s %s", (int)getpid(),
             w->snap_seq, w->snap_seq == 1 ? "" : "s", w->path,
             nmt__hint_reader(reader, sizeof(reader)), w->path);
}

NMT_HIDDEN void nmt__snapshot_side_records(struct nmt_writer *w)
{
    if (w->file_failed || nmt_jvm_flush == NULL)
        return;
    struct nmt_enc b;
    nmt_enc_init(&b, realloc);
    if (prepare_file(w, &b) != 0)
        return;
    nmt_jvm_flush(emit_record, &b);
    if (b.failed)
        nmt__ctr.internal_errors++;
    else if (b.len > 0)
        append(w, &b);
    free(b.data);
}

NMT_HIDDEN void nmt__snapshot_write(struct nmt_writer *w, int reason)
{
    /* Whatever comes of this attempt, growth is measured from here: a
     * snapshot that cannot be written must not be retried at every round. */
    w->last_snap_live = w->live_est;
    struct nmt_enc b;
    nmt_enc_init(&b, realloc);
    if (prepare_file(w, &b) != 0)
        return;
    if (nmt_jvm_accounts_ask != NULL)
        nmt_jvm_accounts_ask(); /* the bridge reads them while we read /proc */
    encode_new_stacks(w, &b);
    if (nmt_jvm_flush != NULL)
        nmt_jvm_flush(emit_record, &b);

    nmt_enc_snap_begin(&b, w->snap_seq, (uint32_t)reason, nmt__clock_ns(CLOCK_REALTIME),
                       nmt__clock_ns(CLOCK_MONOTONIC));

    size_t r = nmt_enc_rec_begin(&b, NMT_REC_MAPS);
    if (nmt__os_maps(&b) != 0)
        nmt__ctr.internal_errors++;
    nmt_enc_rec_end(&b, r);
    if (nmt__smaps_encode(&b, w->tables_ok ? &w->mm : NULL, reason == NMT_SNAP_EXIT) != 0)
        nmt__ctr.internal_errors++;

    encode_counters(w, &b);
    if (nmt_jvm_accounts_emit != NULL)
        nmt_jvm_accounts_emit(emit_record, &b);
    uint32_t nsites = encode_sites(w, &b);

    nmt_enc_snap_end(&b, w->snap_seq, nsites);

    if (b.failed) {
        nmt__ctr.internal_errors++;
        free(b.data);
        return;
    }
    int err = append(w, &b);
    free(b.data);
    if (err != 0)
        return; /* its new stacks go out again with the next snapshot */
    w->stacks_written = nmt_stacktab_count(&w->stacks);
    w->snap_seq++;
}
