/*
 * test_writer.c: units for the writer's rounds (preload/nmt_writer.c), the
 * recycling of slots (preload/nmt_thread.c) and the snapshot encoder
 * (preload/nmt_snapshot.c), fed by the recorder's own sampled path
 * (preload/nmt_capture.c) from known call sites of this program. A round
 * drains the rings into the stack table with exact figures, mmap events wait
 * one round, an exited thread's slot is drained and reused and its losses
 * kept, the rings are applied merged by seq (a free drained with its
 * allocation matches it and keeps no mark), a fork child starts afresh but
 * for the process-wide losses, an event without frames takes its own ring's
 * last stack (NMT_EVF_SAME); a
 * snapshot, written to memory by the fake OS (rec_doubles.c), reads back
 * through the report's reader with the same stacks, figures and mappings,
 * writes each stack once, and a lost write is counted and its stacks go out
 * again with the next snapshot.
 */
#include <criterion/criterion.h>
#include <pthread.h>
#include <string.h>
#include <unistd.h>

#include "../../preload/nmt_writer.h"
#include "nmr_profile.h"
#include "rec_doubles.h"

#define NOINLINE     __attribute__((noinline))
#define KEEP_FRAME() __asm__ volatile("" ::: "memory")

/* Stands for an interposed entry point: frame 0 of every stack. */
NOINLINE void fake_malloc(void)
{
    KEEP_FRAME();
}

/* Three allocation sites: each call from the same place has one stack. */
NOINLINE void site_a(uintptr_t p, size_t size)
{
    nmt__sampled_alloc((void *)p, size, (void *)fake_malloc);
    KEEP_FRAME();
}

NOINLINE void site_b(uintptr_t p, size_t size)
{
    nmt__sampled_alloc((void *)p, size, (void *)fake_malloc);
    KEEP_FRAME();
}

NOINLINE void site_c(uintptr_t p, size_t size)
{
    nmt__sampled_alloc((void *)p, size, (void *)fake_malloc);
    KEEP_FRAME();
}

/* As the free hook does: the sequence number is taken before the free. */
static void free_sample(uintptr_t p)
{
    nmt__record_free((void *)p, nmt__seq_take());
}

static void start(void)
{
    rec_setup(1, NMT_UNWIND_FP);
    cr_assert_eq(nmt__writer_init_tables(&nmt__w), 0);
}

/* n allocations from one call site, so they share one stack (a loop the
 * compiler unrolls would call from n places: noipa keeps -O3 from cloning
 * this function for each constant n and unrolling the clone). */
__attribute__((noipa)) void alloc_n(void (*site)(uintptr_t, size_t), uintptr_t base, unsigned n,
                                    size_t size)
{
    for (unsigned i = 0; i < n; i++)
        site(base + 64 * i, size);
    KEEP_FRAME();
}

/* A: 3 x 100 bytes, one freed; B: 2 x 50 bytes. */
static void alloc_ab(void)
{
    alloc_n(site_a, 0x100000, 3, 100);
    alloc_n(site_b, 0x200000, 2, 50);
    free_sample(0x100000);
}

/* The id of the stack whose first caller frame is func, or 0. */
static uint32_t stack_of(const char *func)
{
    uint32_t found = 0;
    for (uint32_t id = 1; id <= nmt_stacktab_count(&nmt__w.stacks); id++) {
        uint32_t n;
        const uint64_t *f = nmt_stacktab_frames(&nmt__w.stacks, id, &n);
        if (rec_find_chain(f, n, &func, 1) > 0) {
            cr_assert_eq(found, 0, "one stack per site");
            found = id;
        }
    }
    return found;
}

static void check_totals(uint32_t id, uint64_t live_samples, uint64_t alloc_samples,
                         double live_bytes, double alloc_bytes)
{
    const struct nmt_stack_totals *st = nmt_stacktab_totals(&nmt__w.stacks, id);
    cr_assert_not_null(st);
    cr_assert_eq(st->live_samples, live_samples);
    cr_assert_eq(st->alloc_samples, alloc_samples);
    /* Rate 1: every weight is exactly 1. */
    cr_assert_eq(st->live_bytes, live_bytes);
    cr_assert_eq(st->live_objects, (double)live_samples);
    cr_assert_eq(st->alloc_bytes, alloc_bytes);
}

Test(writer, round_drains_the_rings_into_the_stack_table)
{
    start();
    alloc_ab();
    cr_assert_eq(nmt__writer_round(&nmt__w, 0), 6, "5 allocations and a free drained");
    cr_assert_eq(nmt_stacktab_count(&nmt__w.stacks), 2);
    uint32_t a = stack_of("site_a"), b = stack_of("site_b");
    cr_assert(a != 0 && b != 0);
    check_totals(a, 2, 3, 200, 300);
    check_totals(b, 2, 2, 100, 100);
    cr_assert_eq(nmt__w.samples, 5);
    cr_assert_eq(nmt__w.frees, 1);
    cr_assert_eq(nmt__w.live_est, 300);
    cr_assert_eq(nmt_livetab_count(&nmt__w.live), 4);
    cr_assert_eq(nmt__ctr.internal_errors, 0);
    /* A round with nothing new changes nothing. */
    cr_assert_eq(nmt__writer_round(&nmt__w, 0), 0);
    check_totals(a, 2, 3, 200, 300);
}

/* An mmap-family event is applied only once every event that could come
 * before it has been drained: at the end of the round after the one that
 * drained it (nmt_writer.c). */
Test(writer, mmap_events_are_applied_one_round_later)
{
    start();
    nmt__record_mmap(NMT_EV_MMAP, 0x40000000, 1 << 20, 3 | (uint64_t)0x22 << 32, 0,
                     (void *)fake_malloc, nmt__seq_take());
    nmt__writer_round(&nmt__w, 0);
    cr_assert_eq(nmt_mm_reserved(&nmt__w.mm), 0, "held back for a round");
    nmt__writer_round(&nmt__w, 0);
    cr_assert_eq(nmt_mm_reserved(&nmt__w.mm), 1 << 20);
    nmt__record_mmap(NMT_EV_MUNMAP, 0x40000000, 1 << 20, 0, 0, (void *)fake_malloc,
                     nmt__seq_take());
    nmt__writer_round(&nmt__w, 0);
    cr_assert_eq(nmt_mm_reserved(&nmt__w.mm), 1 << 20);
    nmt__writer_round(&nmt__w, 1);
    cr_assert_eq(nmt_mm_reserved(&nmt__w.mm), 0);
    cr_assert_eq(nmt__w.mmap_events, 2);
}

static struct nmt_thread *slot_seen;
static unsigned thread_allocs;

static void *thread_main(void *arg)
{
    uintptr_t base = (uintptr_t)arg;
    alloc_n(site_c, base, thread_allocs, 10);
    slot_seen = nmt__tls.thr;
    return NULL;
}

static struct nmt_thread *run_thread(uintptr_t base, unsigned allocs)
{
    pthread_t t;
    thread_allocs = allocs;
    cr_assert_eq(pthread_create(&t, NULL, thread_main, (void *)base), 0);
    pthread_join(t, NULL);
    return slot_seen;
}

Test(writer, exited_threads_slot_is_drained_and_reused)
{
    start();
    nmt__thread_init_key();
    struct nmt_thread *first = run_thread(0x300000, 2);
    cr_assert_eq(atomic_load(&first->state), NMT_SLOT_DEAD);
    cr_assert_eq(nmt__writer_round(&nmt__w, 0), 2);
    cr_assert_eq(atomic_load(&first->state), NMT_SLOT_FREE, "drained, then freed");
    struct nmt_thread *second = run_thread(0x400000, 3);
    cr_assert_eq(second, first, "the next thread takes the free slot");
    cr_assert_eq(rec_slots(), 1);
    cr_assert_eq(nmt__writer_round(&nmt__w, 0), 3);
    cr_assert_eq(nmt__w.samples, 5);
    check_totals(stack_of("site_c"), 5, 5, 50, 50);
}

static void *free_main(void *arg)
{
    uintptr_t base = (uintptr_t)arg;
    for (unsigned i = 0; i < 3; i++)
        free_sample(base + 64 * i);
    return NULL;
}

/* Blocks allocated on one thread and freed, three each, by `freers`
 * threads that come after it, so that their rings come first in the list:
 * the round merges the rings by seq, so each free finds its allocation
 * already applied, matches it and, settled, leaves no free mark behind
 * (nmt__writer_round). Drained in any other order, some frees would come
 * first, as orphan marks that cancel the allocations. */
static void check_merged(unsigned freers, uint64_t live_before)
{
    struct nmt_thread *allocator = run_thread(0x600000, 3 * freers);
    for (unsigned i = 0; i < freers; i++) {
        pthread_t t;
        uintptr_t base = 0x600000 + 3 * 64 * i;
        cr_assert_eq(pthread_create(&t, NULL, free_main, (void *)base), 0);
        pthread_join(t, NULL);
    }
    cr_assert_neq(atomic_load(&nmt__threads), allocator, "a freeing ring is listed first");
    cr_assert_eq(nmt__writer_round(&nmt__w, 0), 6 * freers);
    cr_assert_eq(nmt__w.frees, 3 * freers, "every free matched its allocation");
    cr_assert_eq(nmt_livetab_count(&nmt__w.live), live_before);
    cr_assert_eq(nmt__w.live.marks, 0, "settled frees keep no mark");
    cr_assert_eq(nmt__w.live.used - nmt__w.live.idle, live_before,
                 "nor a slot that holds anything");
    cr_assert_eq(nmt_livetab_orphans(&nmt__w.live), 0);
    cr_assert_eq(nmt__w.live.expired_orphans, 0);
    check_totals(stack_of("site_c"), 0, 3 * freers, 0, 30.0 * freers);
}

Test(writer, a_round_applies_two_rings_merged_by_seq)
{
    start();
    nmt__thread_init_key();
    check_merged(1, 0);
    cr_assert_eq(rec_slots(), 2);
}

Test(writer, a_round_applies_five_rings_merged_by_seq)
{
    start();
    nmt__thread_init_key();
    check_merged(4, 0);
    cr_assert_eq(rec_slots(), 5);
}

/* Threads that keep their slot but record nothing more. */
static pthread_barrier_t idle_recorded, idle_release;

static void *idle_main(void *arg)
{
    site_b((uintptr_t)arg, 10);
    pthread_barrier_wait(&idle_recorded);
    pthread_barrier_wait(&idle_release);
    return NULL;
}

/* More live threads than the merge takes rings, all idle: an idle ring gets
 * no cursor, so the merge of the two busy ones stays whole and their frees
 * settled. */
Test(writer, idle_rings_do_not_count_against_the_merge)
{
    enum { IDLE = 80 }; /* more than MERGE_MAX (nmt_writer.c) */
    start();
    nmt__cfg.ring_kib = 64;
    nmt__thread_init_key();
    pthread_t t[IDLE];
    pthread_barrier_init(&idle_recorded, NULL, IDLE + 1);
    pthread_barrier_init(&idle_release, NULL, IDLE + 1);
    for (uintptr_t i = 0; i < IDLE; i++)
        cr_assert_eq(pthread_create(&t[i], NULL, idle_main, (void *)(0x900000 + 64 * i)), 0);
    pthread_barrier_wait(&idle_recorded);
    cr_assert_eq(nmt__writer_round(&nmt__w, 0), IDLE);
    check_merged(1, IDLE);
    pthread_barrier_wait(&idle_release);
    for (int i = 0; i < IDLE; i++)
        pthread_join(t[i], NULL);
    cr_assert_eq(rec_slots(), IDLE + 2);
    pthread_barrier_destroy(&idle_recorded);
    pthread_barrier_destroy(&idle_release);
}

/* A thread that lost events to a full ring exits: the round that recycles
 * its slot keeps its losses (rec.ring_drops), exactly what it did not keep. */
Test(writer, exited_threads_losses_are_kept)
{
    start();
    nmt__cfg.ring_kib = 4;
    nmt__cfg.on_full_drop = 1;
    nmt__thread_init_key();
    const unsigned tries = 400;
    run_thread(0x500000, tries);
    nmt__writer_round(&nmt__w, 0);
    cr_assert_gt(nmt__w.samples, 0);
    cr_assert_lt(nmt__w.samples, tries);
    cr_assert_eq(nmt__ctr.dead_drops, tries - nmt__w.samples);
    cr_assert_eq(nmt__ctr.dead_drop_bytes, 10 * (tries - nmt__w.samples));
}

/* A fork child starts from nothing of the parent's aggregate, file or
 * per-child counters, but keeps the process-wide losses (nmt_state.h). */
Test(writer, fork_child_starts_afresh)
{
    start();
    alloc_ab();
    nmt__writer_round(&nmt__w, 0);
    nmt__snapshot_write(&nmt__w, NMT_SNAP_INTERVAL);
    atomic_store(&nmt__main_exited, 1);
    atomic_store(&nmt__ctr.ring_waits, 3);
    atomic_store(&nmt__ctr.lost_no_ring, 2);
    nmt__ctr.internal_errors = 1;
    nmt__ctr.dead_drops = 4;
    /* A mark of the parent's (rate 1 keeps none: as in exact mode). */
    nmt_addrfilter_add(&nmt__filter, (void *)0x100040);
    /* The child leaks the parent's tables on purpose; the test frees them. */
    static struct nmt_writer parent;
    parent = nmt__w;

    nmt__writer_after_fork();
    nmt__counters_after_fork();
    cr_assert_eq(nmt__w.samples, 0);
    cr_assert_eq(nmt__w.snap_seq, 0);
    cr_assert_not(nmt__w.file_created, "the child writes a file of its own");
    cr_assert_not(nmt__w.tables_ok);
    cr_assert_not(nmt_addrfilter_page_maybe(&nmt__filter, (void *)0x100040));
    cr_assert_eq(atomic_load(&nmt__main_exited), 0);
    cr_assert_eq(atomic_load(&nmt__ctr.ring_waits), 0);
    cr_assert_eq(nmt__ctr.internal_errors, 0);
    cr_assert_eq(nmt__ctr.dead_drops, 0);
    cr_assert_eq(atomic_load(&nmt__ctr.lost_no_ring), 2);
    nmt_stacktab_destroy(&parent.stacks);
    nmt_livetab_destroy(&parent.live);
    nmt_mm_destroy(&parent.mm);
    free(parent.held);
}

/* ---- events without frames (NMT_EVF_SAME) ---- */

/* Commits to r an allocation of size bytes at p with the next seq: with
 * the n frames given, or, for n == 0, none and NMT_EVF_SAME (the stack of
 * r's last event that carried one), in its short record, as the producer
 * writes them. */
static void put_alloc(struct nmt_ring *r, uintptr_t p, size_t size, const uint64_t *frames,
                      uint32_t n)
{
    uint32_t len = n ? (uint32_t)(sizeof(struct nmt_ev) + n * sizeof(uint64_t))
                     : (uint32_t)NMT_EV_SAME_ALLOC_SIZE;
    struct nmt_ev *ev = nmt_ring_reserve(r, len);
    cr_assert_not_null(ev);
    memset(ev, 0, len);
    ev->type = NMT_EV_ALLOC;
    ev->nframes = (uint16_t)n;
    ev->flags = n ? 0 : NMT_EVF_SAME;
    ev->seq = nmt__seq_take();
    ev->arg[0] = p;
    ev->arg[1] = size;
    if (n > 0)
        memcpy(ev->frames, frames, n * sizeof(uint64_t));
    nmt_ring_commit(r);
}

/* Stack k of a test: three frames of its own. */
static const uint64_t *frames_of(uint32_t k)
{
    static uint64_t f[100][3];
    for (int i = 0; i < 3; i++)
        f[k][i] = 0x1000 + 0x100 * k + (uint64_t)i;
    return f[k];
}

/* The stack table's id for stack k (0: not in it). */
static uint32_t id_of(uint32_t k)
{
    for (uint32_t id = 1; id <= nmt_stacktab_count(&nmt__w.stacks); id++) {
        uint32_t n;
        const uint64_t *f = nmt_stacktab_frames(&nmt__w.stacks, id, &n);
        if (n == 3 && memcmp(f, frames_of(k), 3 * sizeof(uint64_t)) == 0)
            return id;
    }
    return 0;
}

/* A slot for the test to write into (no thread of its own). */
static struct nmt_thread *new_slot(void)
{
    nmt__tls.guard++;
    struct nmt_thread *s = nmt__thread_claim();
    nmt__tls.guard--;
    cr_assert_not_null(s);
    return s;
}

static struct nmt_ring *new_ring(void)
{
    return new_slot()->ring;
}

Test(writer, an_event_without_frames_takes_its_rings_last_stack)
{
    start();
    struct nmt_ring *r = new_ring();
    put_alloc(r, 0x100000, 10, frames_of(0), 3);
    put_alloc(r, 0x100040, 20, NULL, 0);
    put_alloc(r, 0x100080, 30, NULL, 0);
    cr_assert_eq(nmt__writer_round(&nmt__w, 0), 3);
    /* Another stack, then the first again, then events without frames
     * again: each takes the stack just before it, across rounds. */
    put_alloc(r, 0x1000c0, 1, frames_of(1), 3);
    put_alloc(r, 0x100100, 2, NULL, 0);
    cr_assert_eq(nmt__writer_round(&nmt__w, 0), 2);
    put_alloc(r, 0x100140, 40, NULL, 0);
    put_alloc(r, 0x100180, 50, frames_of(0), 3);
    put_alloc(r, 0x1001c0, 60, NULL, 0);
    cr_assert_eq(nmt__writer_round(&nmt__w, 0), 3);
    cr_assert_eq(nmt_stacktab_count(&nmt__w.stacks), 2);
    check_totals(id_of(0), 5, 5, 170, 170);
    check_totals(id_of(1), 3, 3, 43, 43);
    cr_assert_eq(nmt__ctr.internal_errors, 0);
}

/* Two rings whose events interleave by seq, so that the merge takes them
 * in turn (and the stack interned last is the other ring's): each event
 * without frames takes its own ring's last stack. The mmap-family events
 * too, an event without frames after them as well. */
Test(writer, interleaved_rings_keep_their_own_last_stack)
{
    start();
    struct nmt_ring *a = new_ring(), *b = new_ring();
    put_alloc(a, 0x100000, 10, frames_of(0), 3);
    put_alloc(b, 0x200000, 1, frames_of(1), 3);
    for (unsigned i = 1; i <= 4; i++) {
        put_alloc(a, 0x100000 + 64 * i, 10, NULL, 0);
        put_alloc(b, 0x200000 + 64 * i, 1, NULL, 0);
    }
    struct nmt_ev *ev = nmt_ring_reserve(b, sizeof(struct nmt_ev));
    *ev = (struct nmt_ev){.type = NMT_EV_MMAP,
                          .flags = NMT_EVF_SAME,
                          .seq = nmt__seq_take(),
                          .arg = {0x40000000, 1 << 20, 3 | (uint64_t)0x22 << 32, 0}};
    nmt_ring_commit(b);
    put_alloc(a, 0x100400, 10, NULL, 0);
    put_alloc(b, 0x200400, 1, NULL, 0);
    cr_assert_eq(nmt__writer_round(&nmt__w, 0), 13);
    nmt__writer_round(&nmt__w, 0); /* the mmap event's turn */
    cr_assert_eq(nmt_stacktab_count(&nmt__w.stacks), 2);
    check_totals(id_of(0), 6, 6, 60, 60);
    check_totals(id_of(1), 6, 6, 6, 6);
    cr_assert_eq(nmt_stacktab_totals(&nmt__w.stacks, id_of(1))->reserved, 1 << 20);
    cr_assert_eq(nmt_stacktab_totals(&nmt__w.stacks, id_of(0))->reserved, 0);
    cr_assert_eq(nmt__ctr.internal_errors, 0);
}

/* More busy rings than the merge takes: those past it are drained in ring
 * order, each still with its own last stack, from one round to the next. */
Test(writer, rings_past_the_merge_keep_their_own_last_stack)
{
    enum { RINGS = 70 }; /* more than MERGE_MAX (nmt_writer.c) */
    start();
    nmt__cfg.ring_kib = 4;
    struct nmt_ring *r[RINGS];
    for (uint32_t k = 0; k < RINGS; k++) {
        r[k] = new_ring();
        put_alloc(r[k], 0x100000 + 0x10000 * k, 8, frames_of(k), 3);
    }
    cr_assert_eq(nmt__writer_round(&nmt__w, 0), RINGS);
    for (uint32_t k = 0; k < RINGS; k++)
        put_alloc(r[k], 0x100040 + 0x10000 * k, 8, NULL, 0);
    cr_assert_eq(nmt__writer_round(&nmt__w, 0), RINGS);
    cr_assert_eq(nmt_stacktab_count(&nmt__w.stacks), RINGS);
    for (uint32_t k = 0; k < RINGS; k++)
        check_totals(id_of(k), 2, 2, 16, 16);
    cr_assert_eq(nmt__ctr.internal_errors, 0);
}

/* A slot recycled after its thread's exit keeps its ring, not cleared, and
 * with it the ring's last stack: the next owner's first event may refer to
 * it (its producer does only when its own walk is that stack's, frame for
 * frame), and the writer, which read every record before, still has it. */
Test(writer, a_recycled_slot_keeps_its_rings_last_stack)
{
    start();
    struct nmt_thread *s = new_slot();
    put_alloc(s->ring, 0x100000, 10, frames_of(0), 3);
    atomic_store(&s->state, NMT_SLOT_DEAD);
    cr_assert_eq(nmt__writer_round(&nmt__w, 0), 1);
    cr_assert_eq(atomic_load(&s->state), NMT_SLOT_FREE);
    struct nmt_thread *again = new_slot();
    cr_assert_eq(again, s, "the free slot is taken again");
    put_alloc(again->ring, 0x100040, 20, NULL, 0);
    cr_assert_eq(nmt__writer_round(&nmt__w, 0), 1);
    check_totals(id_of(0), 2, 2, 30, 30);
    cr_assert_eq(nmt__ctr.internal_errors, 0);
}

/* A ring cleared (a fork child's, an attach session's) forgets its last
 * stack with its records: an event without frames after that, which no
 * producer sends, is counted as an error and given no stack, never one of
 * another ring or of the ring's cleared past. */
Test(writer, a_cleared_ring_has_no_last_stack)
{
    start();
    struct nmt_ring *a = new_ring(), *b = new_ring();
    put_alloc(a, 0x100000, 10, frames_of(0), 3);
    put_alloc(b, 0x200000, 10, frames_of(1), 3);
    cr_assert_eq(nmt__writer_round(&nmt__w, 0), 2);
    nmt_ring_init(a, a->cap);
    put_alloc(a, 0x100040, 10, NULL, 0);
    cr_assert_eq(nmt__writer_round(&nmt__w, 0), 1);
    cr_assert_eq(nmt__ctr.internal_errors, 1);
    cr_assert_eq(nmt__w.samples, 3);
    check_totals(id_of(0), 1, 1, 10, 10);
    check_totals(id_of(1), 1, 1, 10, 10);
}

/* ---- snapshots ---- */

static struct nmr_profile *read_back(void)
{
    struct nmr_read_opts o = {0};
    struct nmr_profile *p = NULL;
    char err[256] = "";
    int rc = nmr_profile_parse(rec_file.data, rec_file.len, "rec.nmt", &o, &p, err, sizeof(err));
    cr_assert_eq(rc, 0, "the reader accepts the file: %s", err);
    return p;
}

/* How many records of type are in the file from byte offset at on. */
static unsigned records_from(size_t at, uint16_t type)
{
    unsigned n = 0;
    while (at + NMT_FRAME_HEAD <= rec_file.len) {
        const unsigned char *h = rec_file.data + at;
        uint32_t len = h[4] | h[5] << 8 | h[6] << 16 | (uint32_t)h[7] << 24;
        n += (h[0] | h[1] << 8) == type;
        at += NMT_FRAME_HEAD + len + NMT_FRAME_TAIL;
    }
    return n;
}

static int64_t counter_of(const struct nmr_snapshot *s, const char *name)
{
    int64_t v = -1;
    cr_assert(nmr_counter_get(s, name, &v), "counter %s is there", name);
    return v;
}

static void check_stacks_match(const struct nmr_profile *p)
{
    uint32_t count = nmt_stacktab_count(&nmt__w.stacks);
    cr_assert_eq(p->nstacks, count);
    for (uint32_t id = 1; id <= count; id++) {
        uint32_t n;
        const uint64_t *f = nmt_stacktab_frames(&nmt__w.stacks, id, &n);
        const struct nmr_stack *s = nmr_stack_get(p, id);
        cr_assert_not_null(s);
        cr_assert_eq(s->nraw, n);
        cr_assert_arr_eq(s->raw, f, n * sizeof(uint64_t));
    }
}

static const struct nmr_site *site_of(const struct nmr_snapshot *s, uint32_t id)
{
    for (size_t i = 0; i < s->nsites; i++)
        if (s->sites[i].stack_id == id)
            return &s->sites[i];
    cr_assert_fail("no site for stack %u", id);
    return NULL;
}

Test(snapshot, reads_back_with_the_same_stacks_figures_and_maps)
{
    start();
    alloc_ab();
    nmt__writer_round(&nmt__w, 0);
    nmt__snapshot_write(&nmt__w, NMT_SNAP_EXIT);
    cr_assert_eq(rec_file.creates, 1);
    struct nmr_profile *p = read_back();

    cr_assert_eq(p->pid, (uint32_t)getpid());
    cr_assert_eq(p->rate, 1);
    cr_assert_eq(p->depth, 64);
    cr_assert_eq(p->start_monotonic_ns, nmt__start_monotonic);
    cr_assert_str_eq(p->producer, "nmtrace " NMT_VERSION);
    cr_assert_str_eq(p->exe, REC_EXE);
    cr_assert_str_eq(p->hostname, "rechost");
    cr_assert_str_eq(nmr_info_get(p, "config.RATE"), "1");
    check_stacks_match(p);

    cr_assert_eq(p->nsnaps, 1);
    const struct nmr_snapshot *s = &p->snaps[0];
    cr_assert_eq(s->seq, 0);
    cr_assert_eq(s->reason, NMT_SNAP_EXIT);
    cr_assert_eq(s->nsites, 2);
    const struct nmr_site *a = site_of(s, stack_of("site_a"));
    cr_assert_eq(a->flags, NMT_SITE_MALLOC);
    cr_assert_eq(a->live_bytes, 200);
    cr_assert_eq(a->live_objects, 2);
    cr_assert_eq(a->alloc_bytes, 300);
    cr_assert_eq(a->alloc_samples, 3);
    const struct nmr_site *b = site_of(s, stack_of("site_b"));
    cr_assert_eq(b->live_bytes, 100);
    cr_assert_eq(b->live_samples, 2);

    cr_assert_eq(counter_of(s, "rec.samples"), 5);
    cr_assert_eq(counter_of(s, "rec.frees"), 1);
    cr_assert_eq(counter_of(s, "rec.stacks"), 2);
    cr_assert_eq(counter_of(s, "rec.live_samples"), 4);
    cr_assert_eq(counter_of(s, "rec.live_estimate"), 300);
    cr_assert_eq(counter_of(s, "rec.write_errors"), 0);
    cr_assert_eq(counter_of(s, "proc.rss"), 1 << 20);

    cr_assert_eq(s->nmaps, 2);
    cr_assert_eq(s->maps[0].start, REC_MAP0_START);
    cr_assert_str_eq(s->maps[0].path, REC_EXE);
    cr_assert_eq(s->maps[0].build_id_len, 4);
    cr_assert_eq(s->maps[0].build_id[0], 0xde);
    cr_assert_eq(s->maps[1].start, REC_MAP1_START);
    cr_assert_str_eq(s->maps[1].path, "");
    nmr_profile_free(p);
}

Test(snapshot, each_stack_is_written_once)
{
    start();
    alloc_ab();
    nmt__writer_round(&nmt__w, 0);
    nmt__snapshot_write(&nmt__w, NMT_SNAP_INTERVAL);
    cr_assert_eq(records_from(NMT_MAGIC_LEN, NMT_REC_STACK), 2);
    size_t first_end = rec_file.len;
    site_c(0x600000, 1000);
    nmt__writer_round(&nmt__w, 0);
    nmt__snapshot_write(&nmt__w, NMT_SNAP_EXIT);
    cr_assert_eq(rec_file.appends, 1);
    cr_assert_eq(records_from(first_end, NMT_REC_STACK), 1, "only the new stack");
    cr_assert_eq(records_from(first_end, NMT_REC_HEADER), 0);

    struct nmr_profile *p = read_back();
    check_stacks_match(p);
    cr_assert_eq(p->nsnaps, 2);
    cr_assert_eq(p->snaps[1].seq, 1);
    cr_assert_eq(p->snaps[1].nsites, 3);
    cr_assert_eq(site_of(&p->snaps[1], stack_of("site_c"))->live_bytes, 1000);
    nmr_profile_free(p);
}

/* A write that fails (a full disk) costs that snapshot, counted: the next
 * one carries its stacks and the count, with the sequence unbroken. */
Test(snapshot, lost_write_is_counted_and_its_stacks_go_out_again)
{
    start();
    alloc_ab();
    nmt__writer_round(&nmt__w, 0);
    nmt__snapshot_write(&nmt__w, NMT_SNAP_INTERVAL);
    size_t first_end = rec_file.len;
    site_c(0x600000, 1000);
    nmt__writer_round(&nmt__w, 0);
    rec_file.fail_appends = 1;
    nmt__snapshot_write(&nmt__w, NMT_SNAP_INTERVAL);
    cr_assert_eq(rec_file.len, first_end, "nothing of the lost snapshot in the file");
    cr_assert_eq(nmt__ctr.write_errors, 1);
    nmt__snapshot_write(&nmt__w, NMT_SNAP_EXIT);
    cr_assert_eq(records_from(first_end, NMT_REC_STACK), 1);

    struct nmr_profile *p = read_back();
    check_stacks_match(p);
    cr_assert_eq(p->nsnaps, 2);
    cr_assert_eq(p->snaps[1].seq, 1);
    cr_assert_eq(p->snaps[1].reason, NMT_SNAP_EXIT);
    cr_assert_eq(counter_of(&p->snaps[1], "rec.write_errors"), 1);
    nmr_profile_free(p);
}
