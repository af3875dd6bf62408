/*
 * nmt_writer.c: the background thread that owns the aggregate.
 *
 * One thread drains every per-thread ring in rounds, keeps the stack table,
 * the table of live sampled allocations and the mmap address-space model, and
 * decides when to write a snapshot (nmt_snapshot.c encodes it). Application
 * threads never wait for it: it polls, sleeping a little when idle.
 *
 * Ordering across rings. Events carry a global sequence number. malloc/free
 * pairs drained out of order are matched by the live table through that
 * number (nmt_livetab.c). mmap-family events must be applied in order (an
 * munmap and the mmap that reuses its addresses), so they are held back: an
 * event is applied only once every event that could precede it has been
 * drained. A destructive call publishes its event before its syscall, so an
 * event that depends on it is committed after it; an event seen in round r
 * was committed before round r ended, so everything it depends on has been
 * drained by the end of round r+1. Hence at the end of each round we apply,
 * in sequence order, all held events whose seq is at most the largest seq
 * seen in the previous round.
 */
#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "nmt_livetab.h"
#include "nmt_mmap_model.h"
#include "nmt_sampler.h"
#include "nmt_stacktab.h"
#include "nmt_format.h"
#include "nmt_writer.h"

NMT_HIDDEN struct nmt_writer nmt__w;

static void filter_sub(const struct nmt_ev *ev);

static void mm_delta(void *ctx, uint32_t stack, int64_t d_reserved, int64_t d_committed)
{
    struct nmt_writer *w = ctx;
    struct nmt_stack_totals *st = nmt_stacktab_totals(&w->stacks, stack);
    if (st == NULL)
        return;
    st->reserved += d_reserved;
    st->committed += d_committed;
    w->mm_touched = 1;
}

NMT_HIDDEN int nmt__writer_init_tables(struct nmt_writer *w)
{
    if (nmt_stacktab_init(&w->stacks) != 0)
        return -ENOMEM;
    if (nmt_livetab_init(&w->live) != 0)
        return -ENOMEM;
    if (nmt_mm_init_page(&w->mm, mm_delta, w, (uint64_t)sysconf(_SC_PAGESIZE)) != 0)
        return -ENOMEM;
    w->tables_ok = 1;
    return 0;
}

static uint32_t intern(struct nmt_writer *w, const struct nmt_ev *ev)
{
    const uint64_t *frames = ev->frames;
    uint32_t n = ev->nframes;
    uint64_t java[NMT_MAX_FRAMES];
    /* Only stacks with Java frames need the bridge's rewrite (and a copy). */
    if ((ev->flags & NMT_EVF_JAVA) && nmt_jvm_translate != NULL) {
        n = n < NMT_MAX_FRAMES ? n : NMT_MAX_FRAMES;
        memcpy(java, ev->frames, n * sizeof(uint64_t));
        n = nmt_jvm_translate(java, n);
        frames = java;
    }
    int is_new;
    uint32_t id = nmt_stacktab_intern(&w->stacks, frames, n, &is_new);
    if (id == 0)
        w->internal_errors++;
    return id;
}

static void apply_alloc(struct nmt_writer *w, const struct nmt_ev *ev)
{
    uint32_t id = intern(w, ev);
    uint64_t size = ev->arg[1];
    double weight = nmt_sampler_weight(size, nmt__cfg.rate);
    w->samples++;
    if (id == 0) {
        filter_sub(ev);
        return;
    }
    struct nmt_stack_totals *st = nmt_stacktab_totals(&w->stacks, id);
    st->alloc_bytes += weight * (double)size;
    st->alloc_objects += weight;
    st->alloc_samples++;
    struct nmt_live replaced;
    int r = nmt_livetab_alloc(&w->live, ev->arg[0], ev->seq, id, size, w->round, &replaced);
    if (r == 0 || r < 0) {
        /* Freed before we saw it (r == 0), or no memory to track it. */
        if (r < 0)
            w->internal_errors++;
        filter_sub(ev);
        return;
    }
    if (r == 2) {
        /* Its earlier occupant's free was lost: take it off its stack. */
        struct nmt_stack_totals *old = nmt_stacktab_totals(&w->stacks, replaced.stack);
        double ow = nmt_sampler_weight(replaced.size, nmt__cfg.rate);
        if (old != NULL) {
            old->live_bytes -= ow * (double)replaced.size;
            old->live_objects -= ow;
            old->live_samples--;
        }
        w->live_est -= ow * (double)replaced.size;
        filter_sub(ev);
    }
    st->live_bytes += weight * (double)size;
    st->live_objects += weight;
    st->live_samples++;
    w->live_est += weight * (double)size;
}

static void apply_free(struct nmt_writer *w, const struct nmt_ev *ev)
{
    struct nmt_live out;
    if (nmt_livetab_free(&w->live, ev->arg[0], ev->seq, w->round, &out) != 1)
        return; /* an orphan, matched later or expired as a filter false positive */
    w->frees++;
    double weight = nmt_sampler_weight(out.size, nmt__cfg.rate);
    struct nmt_stack_totals *st = nmt_stacktab_totals(&w->stacks, out.stack);
    if (st != NULL) {
        st->live_bytes -= weight * (double)out.size;
        st->live_objects -= weight;
        st->live_samples--;
    }
    w->live_est -= weight * (double)out.size;
    filter_sub(ev);
}

/* Copies an mmap-family event into the hold-back list. */
static void hold_mmap(struct nmt_writer *w, const struct nmt_ev *ev)
{
    uint32_t id = 0;
    if (ev->nframes > 0)
        id = intern(w, ev);
    if (w->held_n == w->held_cap) {
        size_t cap = w->held_cap ? w->held_cap * 2 : 256;
        struct nmt_held *p = realloc(w->held, cap * sizeof(*p));
        if (p == NULL) {
            w->internal_errors++;
            return;
        }
        w->held = p;
        w->held_cap = cap;
    }
    struct nmt_held *h = &w->held[w->held_n++];
    h->seq = ev->seq;
    h->type = ev->type;
    h->stack = id;
    memcpy(h->arg, ev->arg, sizeof(h->arg));
    if (ev->seq > w->round_max_seq)
        w->round_max_seq = ev->seq;
    w->mmap_events++;
}

static int cmp_held(const void *a, const void *b)
{
    const struct nmt_held *x = a, *y = b;
    return x->seq < y->seq ? -1 : x->seq > y->seq;
}

static void apply_held(struct nmt_writer *w, uint64_t limit)
{
    if (w->held_n == 0)
        return;
    qsort(w->held, w->held_n, sizeof(*w->held), cmp_held);
    size_t i = 0;
    for (; i < w->held_n && w->held[i].seq <= limit; i++) {
        const struct nmt_held *h = &w->held[i];
        int r = 0;
        switch (h->type) {
        case NMT_EV_MMAP:
            r = nmt_mm_map(&w->mm, h->arg[0], h->arg[1], (int)(uint32_t)h->arg[2],
                           (int)(h->arg[2] >> 32), h->stack);
            break;
        case NMT_EV_MUNMAP:
            r = nmt_mm_unmap(&w->mm, h->arg[0], h->arg[1]);
            break;
        case NMT_EV_MREMAP:
            r = nmt_mm_remap(&w->mm, h->arg[0], h->arg[1], h->arg[2], h->arg[3], h->stack);
            break;
        case NMT_EV_MPROTECT:
            r = nmt_mm_protect(&w->mm, h->arg[0], h->arg[1], (int)h->arg[2], h->stack);
            break;
        }
        if (r < 0)
            w->internal_errors++;
    }
    memmove(w->held, w->held + i, (w->held_n - i) * sizeof(*w->held));
    w->held_n -= i;
}

static void process(struct nmt_writer *w, const struct nmt_ev *ev)
{
    switch (ev->type) {
    case NMT_EV_ALLOC:
        apply_alloc(w, ev);
        break;
    case NMT_EV_FREE:
        apply_free(w, ev);
        break;
    default:
        hold_mmap(w, ev);
        break;
    }
}

/* One round: drain every ring, recycle the slots of exited threads, then
 * apply the mmap events that are safe to apply. Returns events drained. */
NMT_HIDDEN uint64_t nmt__writer_round(struct nmt_writer *w, int final)
{
    uint64_t drained = 0;
    w->round++;
    uint64_t prev_max = w->round_max_seq;
    for (struct nmt_thread *s = atomic_load_explicit(&nmt__threads, memory_order_acquire); s;
         s = s->next) {
        int state = atomic_load_explicit(&s->state, memory_order_acquire);
        if (state == NMT_SLOT_FREE)
            continue;
        const void *rec;
        uint32_t len;
        while ((rec = nmt_ring_peek(s->ring, &len)) != NULL) {
            if (len >= NMT_EV_FREE_SIZE)
                process(w, rec);
            nmt_ring_release(s->ring);
            drained++;
        }
        if (state == NMT_SLOT_DEAD) {
            /* Fold its loss counters into ours before the slot is reused. */
            w->dead_drops += atomic_exchange(&s->drops, 0);
            w->dead_drop_bytes += atomic_exchange(&s->drop_bytes, 0);
            w->dead_free_drops += atomic_exchange(&s->free_drops, 0);
            int expected = NMT_SLOT_DEAD;
            atomic_compare_exchange_strong(&s->state, &expected, NMT_SLOT_FREE);
        }
    }
    apply_held(w, final ? UINT64_MAX : prev_max);
    nmt_livetab_expire(&w->live, w->round);
    return drained;
}

/* ---- the thread ---- */

static void *writer_main(void *arg)
{
    (void)arg;
    nmt__tls.guard = 1;  /* everything this thread allocates is nmtrace's own */
    nmt__tls.writer = 1; /* ... and comes from its own heap (nmt_wheap.c) */
    /* Its own descriptor table (nmt_os.c); where that is refused (seccomp) it
     * shares the program's, as before. */
    (void)nmt__os_private_files();
    pthread_setname_np(pthread_self(), "nmtrace-writer");
    struct nmt_writer *w = &nmt__w;
    uint64_t next_interval = 0, next_trigger_check = 0;
    if (nmt__cfg.interval)
        next_interval =
            nmt__clock_ns(CLOCK_MONOTONIC) + (uint64_t)nmt__cfg.interval * 1000000000ull;
    for (;;) {
        if (nmt_jvm_poll != NULL)
            nmt_jvm_poll();
        uint64_t drained = nmt__writer_round(w, 0);
        if (atomic_load_explicit(&w->stop, memory_order_acquire))
            break;
        uint64_t now = nmt__clock_ns(CLOCK_MONOTONIC);
        int reason = atomic_exchange_explicit(&w->request, 0, memory_order_acq_rel);
        if (reason == 0 && nmt__cfg.interval && now >= next_interval) {
            reason = NMT_SNAP_INTERVAL;
            next_interval = now + (uint64_t)nmt__cfg.interval * 1000000000ull;
        }
        if (reason == 0 && nmt__cfg.growth &&
            w->live_est - w->last_snap_live >= (double)nmt__cfg.growth)
            reason = NMT_SNAP_GROWTH;
        if (reason == 0 && nmt__cfg.trigger[0] && now >= next_trigger_check) {
            next_trigger_check = now + 100000000ull;
            struct stat st;
            if (stat(nmt__cfg.trigger, &st) == 0 && unlink(nmt__cfg.trigger) == 0)
                reason = NMT_SNAP_TRIGGER;
        }
        if (reason != 0) {
            /* One more round so that held mmap events are settled. */
            nmt__writer_round(w, 0);
            nmt__snapshot_write(w, reason);
        } else if (nmt_jvm_pending_bytes != NULL && nmt_jvm_pending_bytes() > (4u << 20)) {
            /* Between snapshots the JVM bridge's code history piles up: write
             * it out before its bounded queue has to drop any. */
            nmt__snapshot_side_records(w);
        }
        /* Keep up with a burst (rings are finite), idle cheaply otherwise. */
        if (drained >= 256) {
            sched_yield();
        } else {
            struct timespec ts = {0, drained ? 1000000 : 5000000};
            nanosleep(&ts, NULL);
        }
    }
    atomic_store_explicit(&w->exited, 1, memory_order_release);
    return NULL;
}

NMT_HIDDEN int nmt__writer_start(void)
{
    struct nmt_writer *w = &nmt__w;
    /* The tables are the writer's: from its heap, so that it never frees a
     * glibc block (glibc's first free on a thread gives it a malloc arena). */
    nmt__tls.writer++;
    int tables = w->tables_ok || nmt__writer_init_tables(w) == 0;
    nmt__tls.writer--;
    if (!tables)
        return -ENOMEM;
    /* Block every signal in our thread: process-directed signals (SIGQUIT for
     * a JVM thread dump, SIGTERM) must reach the application's threads. */
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    pthread_attr_t attr;
    pthread_attr_init(&attr);
    pthread_attr_setstacksize(&attr, 1u << 20);
    int err = pthread_create(&w->thread, &attr, writer_main, NULL);
    pthread_attr_destroy(&attr);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (err != 0)
        return -err;
    w->running = 1;
    return 0;
}

NMT_HIDDEN void nmt__writer_request(int reason)
{
    atomic_store_explicit(&nmt__w.request, reason, memory_order_release);
}

/* The final snapshot. Other threads may still be allocating: what they do
 * after the last drain is not in the profile, by design. */
NMT_HIDDEN void nmt__writer_stop(void)
{
    struct nmt_writer *w = &nmt__w;
    if (w->running) {
        atomic_store_explicit(&w->stop, 1, memory_order_release);
        /* Bounded wait: exit must never hang on us. */
        for (int i = 0; i < 5000 && !atomic_load_explicit(&w->exited, memory_order_acquire); i++) {
            struct timespec ts = {0, 1000000};
            nanosleep(&ts, NULL);
        }
        if (!atomic_load_explicit(&w->exited, memory_order_acquire)) {
            nmt__say("nmtrace: the writer thread did not stop in 5 s; no final snapshot");
            return;
        }
        pthread_join(w->thread, NULL);
        w->running = 0;
    } else if (!w->tables_ok && nmt__writer_init_tables(w) != 0) {
        return;
    }
    if (nmt_jvm_shutdown != NULL)
        nmt_jvm_shutdown();
    nmt__writer_round(w, 0);
    nmt__writer_round(w, 1);
    nmt__snapshot_write(w, NMT_SNAP_EXIT);
}

/* Fork child: no writer thread exists here; the parent's aggregate describes
 * the parent. Start from nothing (the old tables are leaked on purpose: freeing
 * them could take time the child does not have before it execs). */
NMT_HIDDEN void nmt__writer_after_fork(void)
{
    struct nmt_writer *w = &nmt__w;
    /* Forgetting the parent's file is all it takes: no descriptor is held,
     * and the child creates its own file at its first snapshot. */
    memset(w, 0, sizeof(*w));
    nmt__wheap_after_fork();
    memset(&nmt__filter, 0, sizeof(nmt__filter));
    memset(&nmt__liveset, 0, sizeof(nmt__liveset));
}

/* In exact mode the freeing thread already cleared the filter slot. */
static void filter_sub(const struct nmt_ev *ev)
{
    if (!nmt__exact)
        nmt_addrfilter_sub(&nmt__filter, (void *)(uintptr_t)ev->arg[0]);
}
