/*
 * tsan_writer.c: the writer thread (preload/nmt_writer.c) and the registry of
 * per-thread rings (preload/nmt_thread.c) under ThreadSanitizer (NMT_TSAN).
 * A plain program like tsan_ring.c: exit 0 when every check holds, 1
 * otherwise; TSan makes a data race fatal.
 *
 * The two modules are compiled in as they are, with their tables (stack and
 * live tables, the mmap model, the sampler's weights); what they call outside
 * is provided below: configuration (rate 1, 4 KiB rings: they fill, and
 * threads wait), the real mmap, the clock, and the snapshot encoder, which
 * only counts its calls. The writer thread is the recorder's own
 * (nmt__writer_start, nmt__writer_stop).
 *
 * Application threads come in waves. Each claims a slot, pushes ALLOC and
 * FREE events of real malloc blocks as the recorder's sampled path does
 * (nmt_capture.c: sequence numbers, ring waits, the address filter), frees
 * some of its own blocks, hands some to other threads to free, keeps some,
 * and exits (slot DEAD). In each of the first waves the threads all own
 * their slots at once (a barrier), so each takes THREADS slots; after each
 * the main thread waits until the writer, woken by the exits, has drained
 * and freed every slot, so each wave reuses the first wave's slots. The
 * last waves overlap: their threads start together and each waits, with
 * relaxed loads, for a slot the writer has freed, so it takes over a ring
 * from a thread it has no ordering with except through the recorder's own
 * (a missing release there is a race TSan reports). Then the writer is
 * stopped (final rounds), and its figures must be exact: every allocation
 * once, the live table holding exactly the blocks never freed, each stack's
 * live bytes and objects exactly those of its blocks, no unmatched free.
 */
#include <pthread.h>
#include <sched.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "nmt_format.h"
#include "../../preload/nmt_writer.h"

#define WAVES    6
#define THREADS  4
#define OPS      3000u /* allocations per thread */
#define KINDS    3     /* 0 freed by its thread, 1 freed by another, 2 kept */
#define NSTACKS  (THREADS * KINDS)
#define STALL_NS 1000000000ull /* the recorder's bound (nmt_capture.c) */

/* ---- what nmt_writer.c and nmt_thread.c use from the rest of the recorder ---- */
struct nmt_config nmt__cfg = {.rate = 1, .depth = 16, .ring_kib = 4};
struct nmt_real nmt__real = {.mmap = mmap, .munmap = munmap, .mprotect = mprotect};
static _Atomic uint64_t seq_next = 1; /* nmt__seq */
static _Atomic int snapshots, exit_snapshots;

uint64_t nmt__clock_ns(clockid_t clk)
{
    struct timespec ts;
    clock_gettime(clk, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* The writer asks this once it has seen the main thread's pthread_exit. */
static _Atomic int alone_checks;
int nmt__os_only_caller_left(void)
{
    atomic_fetch_add(&alone_checks, 1);
    return 0;
}

void nmt__say(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
}

void nmt__snapshot_write(struct nmt_writer *w, int reason)
{
    (void)w;
    atomic_fetch_add(&snapshots, 1);
    if (reason == NMT_SNAP_EXIT)
        atomic_fetch_add(&exit_snapshots, 1);
}

void nmt__snapshot_side_records(struct nmt_writer *w)
{
    (void)w;
}

void nmt__snapshot_open(struct nmt_writer *w)
{
    (void)w;
}

void nmt__snapshot_say_exit(struct nmt_writer *w)
{
    (void)w;
}

void nmt__wheap_after_fork(void) {}
void nmt__boot_pin(void) {} /* no fork in this test */

void nmt__tables_reset(void) {}
void nmt__tables_prefault(void) {} /* the tables' residency: not what this test races */

/* ---- the test ---- */

static void fail(const char *what, long a, long b)
{
    fprintf(stderr, "tsan_writer: %s (%ld, %ld)\n", what, a, b);
    fflush(stderr);
    _Exit(1);
}

/* What the writer must end up with, kept by the application threads
 * (relaxed: the test adds no ordering between threads beyond the pool's
 * lock, so that TSan sees the recorder's own). */
static _Atomic int64_t want_live_bytes[NSTACKS], want_live_objects[NSTACKS];
static _Atomic uint64_t want_allocs, want_frees;

/* Blocks handed from one thread to another, which frees them. */
struct block {
    void *p;
    uint32_t size, stack;
};
static pthread_mutex_t pool_lock = PTHREAD_MUTEX_INITIALIZER;
static struct block pool[WAVES * THREADS * OPS];
static size_t pool_n;
static void *kept[WAVES * THREADS * OPS];
static _Atomic size_t kept_n;
static _Atomic uint64_t waits;

/* Room in the ring, as the recorder's reserve(); a stalled writer (a busy
 * machine) is waited for again rather than the event dropped, to keep the
 * totals exact. */
static void *reserve(struct nmt_thread *thr, uint32_t len)
{
    void *p = nmt_ring_reserve(thr->ring, len);
    while (p == NULL) {
        uint64_t ns;
        int end;
        p = nmt_ring_reserve_wait(thr->ring, len, &nmt__bell, STALL_NS, &ns, &end);
        atomic_fetch_add_explicit(&waits, 1, memory_order_relaxed);
        if (end == NMT_WAIT_CLOSED || end == NMT_WAIT_TOO_BIG)
            fail("no room: the writer closed, or the record is too big", end, len);
        if (p == NULL)
            sched_yield();
    }
    return p;
}

static void commit(struct nmt_thread *thr)
{
    nmt_ring_commit(thr->ring);
    if (nmt_ring_past_half(thr->ring))
        nmt_wake_consumer(&nmt__bell);
}

static struct nmt_thread *slot(void)
{
    if (nmt__tls.thr == NULL)
        nmt__tls.thr = nmt__thread_claim();
    if (nmt__tls.thr == NULL)
        fail("no slot", 0, 0);
    return nmt__tls.thr;
}

static void *app_malloc(uint32_t size, uint32_t stack)
{
    void *p = malloc(size);
    if (p == NULL)
        fail("malloc", size, 0);
    struct nmt_thread *thr = slot();
    uint32_t len = (uint32_t)(sizeof(struct nmt_ev) + 2 * sizeof(uint64_t));
    struct nmt_ev *ev = reserve(thr, len);
    memset(ev, 0, sizeof(*ev));
    ev->type = NMT_EV_ALLOC;
    ev->nframes = 2;
    ev->seq = atomic_fetch_add_explicit(&seq_next, 1, memory_order_relaxed);
    ev->arg[0] = (uintptr_t)p;
    ev->arg[1] = size;
    ev->frames[0] = 0x400000 + stack * 16; /* one stack per thread and kind */
    ev->frames[1] = 0x500000;
    commit(thr);
    nmt_addrfilter_add(&nmt__filter, p);
    atomic_fetch_add_explicit(&want_allocs, 1, memory_order_relaxed);
    atomic_fetch_add_explicit(&want_live_bytes[stack], size, memory_order_relaxed);
    atomic_fetch_add_explicit(&want_live_objects[stack], 1, memory_order_relaxed);
    return p;
}

static void app_free(const struct block *b)
{
    if (!nmt_addrfilter_page_maybe(&nmt__filter, b->p))
        fail("the address filter lost a live block", (long)b->size, (long)b->stack);
    /* The sequence number before the block can be reused (nmt_hooks.c). */
    uint64_t seq = atomic_fetch_add_explicit(&seq_next, 1, memory_order_relaxed);
    struct nmt_thread *thr = slot();
    struct nmt_ev *ev = reserve(thr, (uint32_t)NMT_EV_FREE_SIZE);
    ev->type = NMT_EV_FREE;
    ev->nframes = 0;
    ev->flags = 0;
    ev->seq = seq;
    ev->arg[0] = (uintptr_t)b->p;
    commit(thr);
    atomic_fetch_add_explicit(&want_frees, 1, memory_order_relaxed);
    atomic_fetch_sub_explicit(&want_live_bytes[b->stack], b->size, memory_order_relaxed);
    atomic_fetch_sub_explicit(&want_live_objects[b->stack], 1, memory_order_relaxed);
    free(b->p);
}

static int overlap_from = WAVES; /* waves from here on start before the previous ends */
/* The waves before overlap_from: each thread waits here once it owns its
 * slot, so that a wave's threads all own theirs at once and a wave takes
 * THREADS slots however the threads are scheduled. Without it a thread
 * that finished before the next one was created (a busy machine) handed its
 * slot on within the wave: the first wave took fewer slots than a later
 * one that did overlap, and "slots were not reused" failed. */
static pthread_barrier_t claimed[WAVES];

/* A slot is free now (its state read relaxed: no ordering with its last
 * owner). */
static int any_free(void)
{
    for (struct nmt_thread *s = atomic_load_explicit(&nmt__threads, memory_order_acquire); s;
         s = s->next)
        if (atomic_load_explicit(&s->state, memory_order_relaxed) == NMT_SLOT_FREE)
            return 1;
    return 0;
}

static void *app_thread(void *arg)
{
    uint32_t wave = (uint32_t)(uintptr_t)arg / THREADS, t = (uint32_t)(uintptr_t)arg % THREADS;
    /* Started while the previous wave runs: wait until the writer has
     * recycled a slot of a thread this one has no ordering with but the
     * recorder's own, and take it over (or another: claims may race). */
    if ((int)wave > overlap_from)
        while (!any_free())
            sched_yield();
    slot();
    if ((int)wave < overlap_from)
        pthread_barrier_wait(&claimed[wave]);
    /* One thread of the last wave plays the main thread: its exit ends with
     * nmt__writer_main_exited, after its slot's wake-up, as pthread_exit in
     * main does (nmt_thread.c). */
    if (wave == WAVES - 1 && t == 0)
        nmt__tls.main_thread = 1;
    for (uint32_t i = 0; i < OPS; i++) {
        uint32_t kind = i % 5 < 3 ? 0 : i % 5 == 3 ? 1 : 2;
        uint32_t size = 16 + (i * 7 + t * 13) % 241;
        struct block b = {.size = size, .stack = t * KINDS + kind};
        b.p = app_malloc(size, b.stack);
        if (kind == 0) {
            app_free(&b);
        } else if (kind == 1) {
            pthread_mutex_lock(&pool_lock);
            pool[pool_n++] = b;
            pthread_mutex_unlock(&pool_lock);
        } else {
            kept[atomic_fetch_add_explicit(&kept_n, 1, memory_order_relaxed)] = b.p;
        }
        /* Free a block another thread (or this one) handed over. */
        struct block other = {0};
        pthread_mutex_lock(&pool_lock);
        if (pool_n > 0 && (i & 1))
            other = pool[--pool_n];
        pthread_mutex_unlock(&pool_lock);
        if (other.p != NULL)
            app_free(&other);
    }
    return NULL; /* the slot's exit destructor marks it DEAD and wakes the writer */
}

static uint32_t slots(int *all_free)
{
    uint32_t n = 0;
    *all_free = 1;
    for (struct nmt_thread *s = atomic_load_explicit(&nmt__threads, memory_order_acquire); s;
         s = s->next) {
        n++;
        if (atomic_load_explicit(&s->state, memory_order_acquire) != NMT_SLOT_FREE)
            *all_free = 0;
    }
    return n;
}

int main(void)
{
    nmt__thread_init_key();
    if (nmt__writer_start() != 0)
        fail("nmt__writer_start", 0, 0);
    /* First waves one after the other: each must reuse the first's slots.
     * Then waves that overlap: a thread takes over a slot whose last owner it
     * has no ordering with, except through the writer's recycling. */
    overlap_from = WAVES / 2;
    for (int wave = 0; wave < overlap_from; wave++)
        if (pthread_barrier_init(&claimed[wave], NULL, THREADS) != 0)
            fail("pthread_barrier_init", wave, 0);
    uint32_t n;
    int all_free;
    pthread_t th[WAVES][THREADS];
    for (int wave = 0; wave < WAVES; wave++) {
        for (uint32_t t = 0; t < THREADS; t++)
            if (pthread_create(&th[wave][t], NULL, app_thread,
                               (void *)(uintptr_t)(wave * THREADS + t)) != 0)
                fail("pthread_create", wave, t);
        if (wave < overlap_from || wave == WAVES - 1) {
            for (int v = wave < overlap_from ? wave : overlap_from; v <= wave; v++)
                for (uint32_t t = 0; t < THREADS; t++)
                    pthread_join(th[v][t], NULL);
            /* Every slot drained and freed by the writer, woken by the exits
             * alone: a lost wake-up leaves it asleep and the test never ends. */
            while ((n = slots(&all_free)), !all_free)
                sched_yield();
            /* The first wave's threads, alive at once, made THREADS slots;
             * each next one's reused them. */
            if (wave == 0 && n != THREADS)
                fail("the first wave's threads, all alive at once, took slots", THREADS, n);
            else if (wave < overlap_from && n != THREADS)
                fail("slots were not reused: slots after the first wave, now", THREADS, n);
        }
    }
    /* The writer noticed the "main" thread's exit, woken by it alone. */
    while (atomic_load(&alone_checks) == 0)
        sched_yield();
    nmt__writer_stop();

    struct nmt_writer *w = &nmt__w;
    uint64_t want_objects = 0;
    int64_t want_bytes = 0;
    for (uint32_t s = 0; s < NSTACKS; s++) {
        want_objects += (uint64_t)want_live_objects[s];
        want_bytes += want_live_bytes[s];
    }
    if (w->samples != want_allocs)
        fail("allocations drained, pushed", (long)w->samples, (long)want_allocs);
    /* rec.frees counts the frees matched as they were drained; one drained
     * before its allocation cancels that allocation instead (the live
     * table's count below shows it). */
    if (w->frees > want_frees)
        fail("frees matched, pushed", (long)w->frees, (long)want_frees);
    if (nmt_livetab_count(&w->live) != want_objects)
        fail("live table entries, blocks never freed", (long)nmt_livetab_count(&w->live),
             (long)want_objects);
    if (nmt_livetab_orphans(&w->live) != 0)
        fail("unmatched frees left", (long)nmt_livetab_orphans(&w->live), 0);
    if (w->live_est != (double)want_bytes)
        fail("live bytes, bytes never freed", (long)w->live_est, (long)want_bytes);
    if (nmt_stacktab_count(&w->stacks) != NSTACKS)
        fail("stacks", (long)nmt_stacktab_count(&w->stacks), NSTACKS);
    for (uint32_t id = 1; id <= NSTACKS; id++) {
        uint32_t nf;
        const uint64_t *f = nmt_stacktab_frames(&w->stacks, id, &nf);
        const struct nmt_stack_totals *st = nmt_stacktab_totals(&w->stacks, id);
        if (f == NULL || st == NULL || nf != 2)
            fail("stack missing", id, 0);
        uint32_t s = (uint32_t)((f[0] - 0x400000) / 16);
        if (s >= NSTACKS || st->live_bytes != (double)want_live_bytes[s] ||
            st->live_objects != (double)want_live_objects[s])
            fail("a stack's live bytes differ from its blocks'", (long)st->live_bytes,
                 (long)want_live_bytes[s]);
    }
    if (nmt__ctr.internal_errors || nmt__ctr.dead_drops || nmt__ctr.dead_free_drops)
        fail("internal errors or drops", (long)nmt__ctr.internal_errors,
             (long)(nmt__ctr.dead_drops + nmt__ctr.dead_free_drops));
    if (exit_snapshots != 1)
        fail("exit snapshots", exit_snapshots, 1);
    printf("tsan_writer: %d waves of %d threads on %u slots, %lu allocations, %lu frees, "
           "%lu waits for room, %lu blocks live: totals exact\n",
           WAVES, THREADS, n, (unsigned long)want_allocs, (unsigned long)want_frees,
           (unsigned long)waits, (unsigned long)want_objects);
    for (size_t i = 0; i < kept_n; i++)
        free(kept[i]);
    for (size_t i = 0; i < pool_n; i++)
        free(pool[i].p);
    return 0;
}
