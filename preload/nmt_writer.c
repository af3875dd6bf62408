/*
 * nmt_writer.c: the background thread that owns the aggregate.
 *
 * One thread drains every per-thread ring in rounds, keeps the stack table,
 * the table of live sampled allocations and the mmap address-space model, and
 * decides when to write a snapshot (nmt_snapshot.c encodes it). When idle it
 * sleeps on a futex (nmt_wake.h) and makes no syscall at all unless a timed
 * duty is configured (NMTRACE_INTERVAL, on by default, whose gaps grow;
 * NMTRACE_TRIGGER) or a JVM is around.
 * Producers wake it when a ring passes half full, when a ring is full (they
 * then wait for its next round, bounded), after sampling a quarter of
 * NMTRACE_GROWTH, for a snapshot signal, at a thread's exit, and at stop. Rounds may therefore be
 * far apart; nothing below depends on time, only on rounds.
 *
 * Ordering across rings. Events carry a sequence number. A round applies
 * the rings' records merged by it, so that a free almost always finds its
 * allocation already applied and needs no free mark (nmt__writer_round);
 * malloc/free pairs applied out of order are matched by the live table
 * through that number (nmt_livetab.c). mmap-family events must be applied in order (an
 * munmap and the mmap that reuses its addresses), so they are held back: an
 * event is applied only once every event that could precede it has been
 * drained. A destructive call publishes its event before its syscall, so an
 * event that depends on it is committed after it; an event seen in round r
 * was committed before round r ended, so everything it depends on has been
 * drained by the end of round r+1. Hence at the end of each round we apply,
 * in sequence order, all held events whose seq is at most the largest seq
 * seen in the previous round.
 */
#include <dlfcn.h>
#include <errno.h>
#include <link.h>
#include <math.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "nmt_attach.h"
#include "nmt_got.h"
#include "nmt_cadence.h"
#include "nmt_livetab.h"
#include "nmt_mmap_model.h"
#include "nmt_sampler.h"
#include "nmt_stacktab.h"
#include "nmt_format.h"
#include "nmt_os.h"
#include "nmt_writer.h"

NMT_HIDDEN struct nmt_writer nmt__w;

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

/* The sampling weight of a block of `size` bytes; 1 at rate 1 (exact: the
 * event loops are compiled once for it, where the weight is a constant). */
static inline double weight_of(uint64_t size, int exact)
{
    return exact ? 1.0 : nmt_sampler_weight(size, nmt__cfg.rate);
}

/* 1 at rate 1: every allocation is sampled, each weighs 1. */
static inline int exact_rate(void)
{
    return nmt__cfg.rate <= 1;
}

/* A stack with Java frames, after the bridge's rewrite (into a copy). */
static NMT_NOINLINE uint32_t intern_java(struct nmt_writer *w, const struct nmt_ev *ev)
{
    uint64_t java[NMT_MAX_FRAMES];
    uint32_t n = ev->nframes < NMT_MAX_FRAMES ? ev->nframes : NMT_MAX_FRAMES;
    memcpy(java, ev->frames, n * sizeof(uint64_t));
    n = nmt_jvm_translate(java, n);
    return nmt_stacktab_intern(&w->stacks, java, n, NULL);
}

static inline uint32_t intern(struct nmt_writer *w, const struct nmt_ev *ev)
{
    /* Only stacks with Java frames need the bridge's rewrite (and a copy). */
    uint32_t id = (ev->flags & NMT_EVF_JAVA) && nmt_jvm_translate != NULL
                      ? intern_java(w, ev)
                      : nmt_stacktab_intern(&w->stacks, ev->frames, ev->nframes, NULL);
    if (id == 0)
        nmt__ctr.internal_errors++;
    return id;
}

/* The event code is inlined into the merge's loops (run, step). */
#define ALWAYS_INLINE inline __attribute__((always_inline))

/* The stack id of a stack-carrying event of the ring whose last_stack is
 * *last: interned from its frames, or, for an event without them
 * (NMT_EVF_SAME), the id of the ring's last such event, which this writer
 * applied before it (rings are read in order; a ring and its last_stack
 * are cleared together). 0, counted, when that stack could not be
 * interned: the event's own frames would have been the same. */
static ALWAYS_INLINE uint32_t stack_of(struct nmt_writer *w, const struct nmt_ev *ev,
                                       uint32_t *last)
{
    if (ev->flags & NMT_EVF_SAME) {
        if (*last == 0)
            nmt__ctr.internal_errors++;
        return *last;
    }
    return *last = intern(w, ev);
}

static ALWAYS_INLINE void apply_alloc(struct nmt_writer *w, const struct nmt_ev *ev, uint32_t *last,
                                      int exact)
{
    uint32_t id = stack_of(w, ev, last);
    uint64_t size = ev->arg[1];
    double weight = weight_of(size, exact);
    w->samples++;
    if (id == 0)
        return;
    /* The stack interned last, or (an event without frames) its ring's. */
    struct nmt_stack_totals *st = nmt_stacktab_recent_totals(&w->stacks, id);
    st->alloc_bytes += weight * (double)size;
    st->alloc_objects += weight;
    st->alloc_samples++;
    struct nmt_live replaced = {0}; /* read only when r == 2, which fills it */
    int r = nmt_livetab_alloc(&w->live, ev->arg[0], ev->seq, id, size, w->round, &replaced);
    if (r == 0 || r < 0) {
        /* Freed before we saw it (r == 0), or no memory to track it. */
        if (r < 0)
            nmt__ctr.internal_errors++;
        return;
    }
    if (r == 2) {
        /* Its earlier occupant's free was lost: take it off its stack. */
        struct nmt_stack_totals *old = nmt_stacktab_totals(&w->stacks, replaced.stack);
        double ow = weight_of(replaced.size, exact);
        if (old != NULL) {
            old->live_bytes -= ow * (double)replaced.size;
            old->live_objects -= ow;
            old->live_samples--;
        }
        w->live_est -= ow * (double)replaced.size;
    }
    st->live_bytes += weight * (double)size;
    st->live_objects += weight;
    st->live_samples++;
    w->live_est += weight * (double)size;
}

/* settled: every earlier event of the address has been applied (the
 * round's merge says so), so the free needs no mark. */
static ALWAYS_INLINE void apply_free(struct nmt_writer *w, const struct nmt_ev *ev, int settled,
                                     int exact)
{
    struct nmt_live out;
    int r = settled ? nmt_livetab_free_settled(&w->live, ev->arg[0], ev->seq, &out)
                    : nmt_livetab_free(&w->live, ev->arg[0], ev->seq, w->round, &out);
    if (r != 1)
        return; /* an orphan, matched later or expired as a filter false positive */
    w->frees++;
    double weight = weight_of(out.size, exact);
    struct nmt_stack_totals *st = nmt_stacktab_totals(&w->stacks, out.stack);
    if (st != NULL) {
        st->live_bytes -= weight * (double)out.size;
        st->live_objects -= weight;
        st->live_samples--;
    }
    w->live_est -= weight * (double)out.size;
}

/* Copies an mmap-family event into the hold-back list. Its stack is taken
 * now, in ring order (stack_of). */
static void hold_mmap(struct nmt_writer *w, const struct nmt_ev *ev, uint32_t *last)
{
    uint32_t id = 0;
    if (ev->nframes > 0 || (ev->flags & NMT_EVF_SAME))
        id = stack_of(w, ev, last);
    if (w->held_n == w->held_cap) {
        size_t cap = w->held_cap ? w->held_cap * 2 : 256;
        struct nmt_held *p = realloc(w->held, cap * sizeof(*p));
        if (p == NULL) {
            nmt__ctr.internal_errors++;
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
            nmt__ctr.internal_errors++;
    }
    memmove(w->held, w->held + i, (w->held_n - i) * sizeof(*w->held));
    w->held_n -= i;
}

/* last: the last_stack of the ring ev is read from (stack_of). */
static ALWAYS_INLINE void process(struct nmt_writer *w, const struct nmt_ev *ev, uint32_t *last,
                                  int settled, int exact)
{
    switch (ev->type) {
    case NMT_EV_ALLOC:
        apply_alloc(w, ev, last, exact);
        break;
    case NMT_EV_FREE:
        apply_free(w, ev, settled, exact);
        break;
    default:
        hold_mmap(w, ev, last);
        break;
    }
}

/* Space goes back to a producer every RELEASE_EVERY records rather than
 * after each: one store per batch, with a sign of life for producers
 * waiting for room (nmt_wake.h). */
#define RELEASE_EVERY 64

/* Gives the space before pos back to r's producer. Producers waiting for
 * room are woken (nmt_wake_passed) whenever a quarter of the ring has come
 * free since the last such wake-up (*woke), not only at the round's end:
 * behind a full 16 MiB ring that end is milliseconds away, and a waiting
 * producer slept until it (~12 ms per wait at rate 1). Not at every batch,
 * so that a producer faster than the writer does not trade a wake-up with
 * it every RELEASE_EVERY records. */
static void give_back(struct nmt_ring *r, uint64_t pos, uint64_t *woke)
{
    nmt_ring_release_to(r, pos);
    if (pos - *woke >= r->cap / 4) {
        *woke = pos;
        nmt_wake_passed(&nmt__bell);
    } else {
        nmt_wake_beat(&nmt__bell);
    }
}

static NMT_NOINLINE void process_unsettled(struct nmt_writer *w, const struct nmt_ev *ev,
                                           uint32_t *last)
{
    process(w, ev, last, 0, exact_rate());
}

/* Drains what r holds now, in ring order; every free leaves a mark. For
 * rings beyond what the merge takes. */
static uint64_t drain(struct nmt_writer *w, struct nmt_ring *r)
{
    uint64_t n = 0, pos = nmt_ring_position(r), end = nmt_ring_committed(r), released = pos;
    uint64_t woke = pos;
    const void *rec;
    uint32_t len;
    while ((rec = nmt_ring_next(r, &pos, end, &len)) != NULL) {
        if (len >= NMT_EV_FREE_SIZE)
            process_unsettled(w, rec, &r->last_stack);
        if ((++n & (RELEASE_EVERY - 1)) == 0)
            give_back(r, released = pos, &woke);
    }
    if (pos != released)
        give_back(r, pos, &woke);
    return n;
}

/*
 * A round applies the records of all rings merged by seq, the smallest
 * first, each ring up to what it held when the round began.
 *
 * The events of one address are ordered in time: each is committed to its
 * ring before the next one's seq is taken (an allocation before its pointer
 * is returned, a free before the block is given back). Seq is taken before
 * the record is committed, and a seq taken before another one is taken
 * (in the happens-before sense) is the smaller: the property of seq this
 * relies on; it need not be dense. So when two events of an address are in
 * one round, the merge applies them in their order: every record ahead of
 * the earlier one in its ring was committed before it, hence has a smaller
 * seq than the later event, and the merge reaches the earlier one first.
 *
 * The rings' ends are read twice, A and then B, and the round drains up to
 * B. A record below A was committed before A was read, so every earlier
 * event of its address was committed before B was read: it is in this round
 * (applied before it) or in an earlier one. Such a free is "settled": no
 * allocation it could cancel can arrive any more, so it leaves no free mark
 * (nmt_livetab_free_settled) and the live table keeps only what is live,
 * however long the backlog. The records between A and B, those of rings
 * that had none when A was read, and all records of a round with more busy
 * rings than the merge takes follow the general rules of nmt_livetab.h,
 * which hold in any order.
 */
#define MERGE_MAX 64

struct cursor {
    struct nmt_ring *ring;
    struct nmt_thread *slot;
    const struct nmt_ev *ev;   /* the next record to apply; NULL when done */
    uint64_t pos;              /* just past ev */
    struct nmt_ring_reader rd; /* reads up to the round's end (B) */
    uint64_t settled;          /* records below it (A, or 0) are settled */
    uint64_t released;         /* given back to the producer up to here */
    uint64_t woke;             /* waiting producers last woken at this position */
    uint32_t n;                /* records applied by run (its release cadence) */
    int dead;                  /* the slot's thread had exited when the round began */
};

/* The next event record from *pos on (shorter records are skipped), or
 * NULL at rd's end. */
static inline const struct nmt_ev *next_event(const struct nmt_ring_reader *rd, uint64_t *pos)
{
    const void *rec;
    uint32_t len;
    while ((rec = nmt_ring_read(rd, pos, &len)) != NULL)
        if (len >= NMT_EV_FREE_SIZE)
            return rec;
    return NULL;
}

static void cursor_release(struct cursor *c)
{
    give_back(c->ring, c->released = c->pos, &c->woke);
}

/* Applies c's records from its next one on while their seq is at most
 * limit (the smallest seq another ring has next): the rings' records
 * interleave in runs, each taken without the heap. Leaves c at its first
 * record past limit, or done. Returns how many were applied. */
static ALWAYS_INLINE uint64_t run_as(struct nmt_writer *w, struct cursor *c, uint64_t limit,
                                     int exact)
{
    struct nmt_ring *r = c->ring;
    const struct nmt_ev *ev = c->ev;
    const struct nmt_ring_reader rd = c->rd;
    uint64_t pos = c->pos, settled = c->settled, applied = 0;
    uint32_t n = c->n;
    do {
        process(w, ev, &r->last_stack, pos <= settled, exact);
        applied++;
        if ((++n & (RELEASE_EVERY - 1)) == 0)
            give_back(r, c->released = pos, &c->woke);
        ev = next_event(&rd, &pos);
    } while (ev != NULL && ev->seq <= limit);
    c->ev = ev;
    c->pos = pos;
    c->n = n;
    return applied;
}

static uint64_t run(struct nmt_writer *w, struct cursor *c, uint64_t limit)
{
    return exact_rate() ? run_as(w, c, limit, 1) : run_as(w, c, limit, 0);
}

/* A binary min-heap of cursors by the seq of their next record. */
static inline void sift_down(struct cursor **h, int n, int i)
{
    for (;;) {
        int l = 2 * i + 1, m = i;
        if (l < n && h[l]->ev->seq < h[m]->ev->seq)
            m = l;
        if (l + 1 < n && h[l + 1]->ev->seq < h[m]->ev->seq)
            m = l + 1;
        if (m == i)
            return;
        struct cursor *t = h[i];
        h[i] = h[m];
        h[m] = t;
        i = m;
    }
}

/* Two rings, the usual busy case, whose records interleave finely: the
 * one with the smaller seq next is picked without a branch (which ring
 * comes next follows no pattern a branch predictor could learn), and what
 * the loop needs of the two rings (positions, readers, settled bounds) is
 * kept in locals rather than read back through a cursor after every
 * record. Space goes back every RELEASE_EVERY records of the two rings
 * together, to the ring of the record just applied (a ring's space past
 * its next record is not free yet). Both must have a record. Returns how
 * many were applied. */
static ALWAYS_INLINE uint64_t merge2_as(struct nmt_writer *w, struct cursor *a, struct cursor *b,
                                        int exact)
{
    struct cursor *c[2] = {a, b};
    const struct nmt_ring_reader rd[2] = {a->rd, b->rd};
    const uint64_t settled[2] = {a->settled, b->settled};
    const struct nmt_ev *ev[2] = {a->ev, b->ev};
    uint64_t pos[2] = {a->pos, b->pos}, applied = 0;
    int i;
    do {
        i = ev[1]->seq < ev[0]->seq;
        process(w, ev[i], &c[i]->ring->last_stack, pos[i] <= settled[i], exact);
        if ((++applied & (RELEASE_EVERY - 1)) == 0)
            give_back(c[i]->ring, c[i]->released = pos[i], &c[i]->woke);
        ev[i] = next_event(&rd[i], &pos[i]);
        if (ev[i] != NULL) /* applied a record or two from now */
            nmt_livetab_prefetch(&w->live, ev[i]->arg[0]);
    } while (ev[i] != NULL); /* only the ring just read can have ended */
    for (int j = 0; j < 2; j++) {
        c[j]->ev = ev[j];
        c[j]->pos = pos[j];
    }
    return applied + run_as(w, c[!i], UINT64_MAX, exact);
}

static uint64_t merge2(struct nmt_writer *w, struct cursor *a, struct cursor *b)
{
    return exact_rate() ? merge2_as(w, a, b, 1) : merge2_as(w, a, b, 0);
}

/* Applies the records of the n cursors in seq order; returns how many. */
static uint64_t merge(struct nmt_writer *w, struct cursor *c, int n)
{
    struct cursor *h[MERGE_MAX];
    int k = 0;
    for (int i = 0; i < n; i++) {
        c[i].ev = next_event(&c[i].rd, &c[i].pos);
        if (c[i].ev != NULL)
            h[k++] = &c[i];
    }
    uint64_t applied = 0;
    if (k == 2) {
        applied = merge2(w, h[0], h[1]);
        k = 0;
    }
    for (int i = k / 2 - 1; i >= 0; i--)
        sift_down(h, k, i);
    while (k > 0) {
        struct cursor *top = h[0];
        uint64_t limit = k > 1 ? h[1]->ev->seq : UINT64_MAX;
        if (k > 2 && h[2]->ev->seq < limit)
            limit = h[2]->ev->seq;
        applied += run(w, top, limit);
        if (top->ev == NULL)
            h[0] = h[--k];
        if (k > 1)
            sift_down(h, k, 0);
    }
    for (int i = 0; i < n; i++)
        if (c[i].pos != c[i].released)
            cursor_release(&c[i]);
    return applied;
}

/* After its ring was drained: an exited thread's slot is recycled, its
 * loss counters folded into ours first. */
static void finish_slot(struct nmt_thread *s, int dead)
{
    if (!dead)
        return;
    nmt__ctr.dead_drops += atomic_exchange(&s->drops, 0);
    nmt__ctr.dead_drop_bytes += atomic_exchange(&s->drop_bytes, 0);
    nmt__ctr.dead_free_drops += atomic_exchange(&s->free_drops, 0);
    int expected = NMT_SLOT_DEAD;
    atomic_compare_exchange_strong(&s->state, &expected, NMT_SLOT_FREE);
}

/* 1 when r holds records not yet drained. */
static int has_records(struct nmt_ring *r)
{
    return nmt_ring_committed(r) != nmt_ring_position(r);
}

/* Lists the rings with records into c (the merge's, at most MERGE_MAX; any
 * more are drained at once, in ring order) and reads their ends. Returns
 * how many are in c; *drained counts the records of the others. Idle rings
 * get no cursor (a process may have hundreds of threads), but the list is
 * walked again after the first reads: a ring that got records meanwhile, a
 * thread that arrived, is drained too (none of its records settled), so
 * that every record committed before any first read is drained. */
static int open_round(struct nmt_writer *w, struct cursor *c, uint64_t *drained)
{
    int n = 0, whole = 1;
    for (struct nmt_thread *s = atomic_load_explicit(&nmt__threads, memory_order_acquire); s;
         s = s->next) {
        int state = atomic_load_explicit(&s->state, memory_order_acquire);
        if (state == NMT_SLOT_FREE)
            continue;
        uint64_t a = nmt_ring_committed(s->ring); /* A */
        if (a == nmt_ring_position(s->ring)) {
            finish_slot(s, state == NMT_SLOT_DEAD); /* nothing to drain */
            continue;
        }
        if (n == MERGE_MAX) {
            whole = 0;
            *drained += drain(w, s->ring);
            finish_slot(s, state == NMT_SLOT_DEAD);
            continue;
        }
        c[n++] = (struct cursor){
            .ring = s->ring, .slot = s, .dead = state == NMT_SLOT_DEAD, .settled = a};
    }
    int listed = n, j = 0;
    for (struct nmt_thread *s = atomic_load_explicit(&nmt__threads, memory_order_acquire); s;
         s = s->next) {
        if (j < listed && s == c[j].slot)
            j++;
        else if (atomic_load_explicit(&s->state, memory_order_acquire) != NMT_SLOT_FREE &&
                 has_records(s->ring)) {
            if (n == MERGE_MAX)
                whole = 0; /* left for the next round */
            else
                c[n++] = (struct cursor){.ring = s->ring, .slot = s, .settled = 0};
        }
    }
    for (int i = 0; i < n; i++) {
        struct nmt_ring *r = c[i].ring;
        c[i].pos = c[i].released = c[i].woke = nmt_ring_position(r);
        c[i].rd = nmt_ring_reader_at(r, nmt_ring_committed(r)); /* B */
        if (!whole)
            c[i].settled = 0;
    }
    return n;
}

/* One round: drain every ring (each up to what it held when the round
 * began), recycle the slots of exited threads, apply the mmap events that
 * are safe to apply, then let producers waiting for room retry. Returns
 * events drained. */
NMT_HIDDEN uint64_t nmt__writer_round(struct nmt_writer *w, int final)
{
    uint64_t drained = 0;
    w->round++;
    uint64_t prev_max = w->round_max_seq;
    struct cursor c[MERGE_MAX];
    int n = open_round(w, c, &drained);
    drained += merge(w, c, n);
    for (int i = 0; i < n; i++)
        finish_slot(c[i].slot, c[i].dead);
    apply_held(w, final ? UINT64_MAX : prev_max);
    nmt_livetab_expire(&w->live, w->round);
    nmt_wake_passed(&nmt__bell);
    return drained;
}

/* ---- the thread ---- */

/* What the writer waits for when idle. Anything else wakes it explicitly. */
#define TRIGGER_CHECK_NS 100000000ull /* NMTRACE_TRIGGER: look for the file */
#define JVM_TICK_NS      20000000ull  /* a JVM: the bridge's poll until it has started */
#define ALONE_CHECK_NS   50000000ull  /* after main's pthread_exit: are we alone? */
#define BURST_EVENTS     256          /* a round this busy is followed at once */

/* Work the writer would find if it looked now. Asked after the writer has
 * announced its sleep, so that work published meanwhile is not slept
 * through (nmt_wake.h). */
static int has_work(void *arg)
{
    struct nmt_writer *w = arg;
    if (atomic_load(&w->stop) || atomic_load(&w->request) || atomic_load(&nmt__bell.waiters))
        return 1;
    /* The main thread's pthread_exit, not yet seen: its wake-up may have
     * come while we were awake, and a sleep without a timeout would then
     * never check whether only we are left. */
    if (atomic_load(&nmt__main_exited) && !w->alone_seen)
        return 1;
    for (struct nmt_thread *s = atomic_load_explicit(&nmt__threads, memory_order_acquire); s;
         s = s->next) {
        int state = atomic_load_explicit(&s->state, memory_order_acquire);
        if (state == NMT_SLOT_DEAD ||
            (state == NMT_SLOT_OWNED && nmt_ring_used(s->ring) >= s->ring->cap / 2))
            return 1;
    }
    return 0;
}

static int is_jvm_object(struct dl_phdr_info *info, size_t size, void *arg)
{
    (void)size, (void)arg;
    const char *base = strrchr(info->dlpi_name, '/');
    base = base ? base + 1 : info->dlpi_name;
    return strcmp(base, "libjvm.so") == 0 || strcmp(base, "libjli.so") == 0;
}

/* The JVM bridge needs the writer at a steady pace only where a JVM is or
 * may soon be: libjvm.so, or the java launcher's libjli.so, was loaded when
 * the writer started, or the bridge has asked for its poll since (a JVM
 * loaded later); from then on the bridge's code history is also written out
 * between snapshots before its queue fills. The link map is read once: the
 * writer must not take the loader's locks at every wake-up. */
static int jvm_possible(struct nmt_writer *w)
{
    if (nmt_jvm_poll == NULL || !nmt__cfg.java)
        return 0;
    if (!w->jvm_scanned) {
        w->jvm_scanned = 1;
        w->jvm_possible = nmt__dl_iterate_phdr(is_jvm_object, NULL) != 0;
    }
    if (!w->jvm_possible && nmt_jvm_wants_poll != NULL && nmt_jvm_wants_poll())
        w->jvm_possible = 1;
    return w->jvm_possible;
}

/* Only the writer is left after the main thread's pthread_exit: glibc would
 * have ended the process with exit(0) when its last thread left, and the
 * writer, counted as a thread, kept that from happening. End it the same
 * way, with the starting thread's signal mask back (a signal pending on the
 * process is delivered as it would have been). The final snapshot is taken
 * by the destructor, on this thread (nmt__writer_stop). */
static void end_process(struct nmt_writer *w)
{
    pthread_sigmask(SIG_SETMASK, &w->app_mask, NULL);
    exit(0);
}

/* The next moments at which the writer has a timed duty (0: none), and how
 * many periodic snapshots were taken (their gaps grow: nmt_cadence.h). */
struct deadlines {
    uint64_t interval, trigger, alone;
    uint64_t periodic;
};

static uint64_t gap_after(uint64_t taken)
{
    return nmt_cadence_gap((uint64_t)nmt__cfg.interval * 1000000000ull, taken,
                           nmt__cfg.interval_auto);
}

static uint64_t until(uint64_t t, uint64_t deadline, uint64_t now)
{
    uint64_t left = deadline > now ? deadline - now : 0;
    return left < t ? left : t;
}

/* How long the writer may sleep: until the next timed duty, or for good
 * (-1) when it has none. jvm: the bridge still needs the writer's poll (once
 * it has started it wakes the writer itself, nmt_jvm.h). */
static int64_t idle_timeout(const struct deadlines *d, uint64_t now, int jvm)
{
    uint64_t t = UINT64_MAX;
    if (nmt__cfg.interval)
        t = until(t, d->interval, now);
    if (nmt__cfg.trigger[0])
        t = until(t, d->trigger, now);
    if (atomic_load(&nmt__main_exited))
        t = until(t, d->alone, now);
    if (jvm)
        t = until(t, now + JVM_TICK_NS, now);
    return t == UINT64_MAX ? -1 : (int64_t)t;
}

/* The snapshot reason due now, if any; moves the deadlines it consumes. */
static int snapshot_due(struct nmt_writer *w, struct deadlines *d, uint64_t now)
{
    int reason = atomic_exchange_explicit(&w->request, 0, memory_order_acq_rel);
    if (reason == 0 && nmt__cfg.interval && now >= d->interval) {
        reason = NMT_SNAP_INTERVAL;
        d->interval = now + gap_after(++d->periodic);
    }
    if (reason == 0 && nmt__cfg.growth &&
        w->live_est - w->last_snap_live >= (double)nmt__cfg.growth)
        reason = NMT_SNAP_GROWTH;
    if (reason == 0 && nmt__cfg.trigger[0] && now >= d->trigger) {
        d->trigger = now + TRIGGER_CHECK_NS;
        struct stat st;
        if (stat(nmt__cfg.trigger, &st) == 0 && unlink(nmt__cfg.trigger) == 0)
            reason = NMT_SNAP_TRIGGER;
    }
    return reason;
}

static void *writer_main(void *arg)
{
    (void)arg;
    nmt__tls.guard = 1;  /* everything this thread allocates is nmtrace's own */
    nmt__tls.writer = 1; /* ... and comes from its own heap (nmt_wheap.c) */
    pthread_setname_np(pthread_self(), "nmtrace-writer");
    nmt__tables_prefault(); /* their first-touch faults: here, not in a sample */
    struct nmt_writer *w = &nmt__w;
    struct deadlines d = {0, 0, 0, 0};
    if (nmt__cfg.interval)
        d.interval = nmt__clock_ns(CLOCK_MONOTONIC) + gap_after(0);
    /* The file exists, with its header, from the start (nmt__writer_start
     * made it; again here only if that failed): a reader run during the
     * recording finds it. */
    if (!w->fork_child)
        nmt__snapshot_open(w);
    for (;;) {
        if (nmt_jvm_poll != NULL)
            nmt_jvm_poll(); /* no syscall without libjvm.so */
        if (nmt__attach_mode && nmt__got_refresh != NULL)
            nmt__got_refresh(); /* objects loaded since: hook them too */
        int jvm = jvm_possible(w);
        uint64_t drained = nmt__writer_round(w, 0);
        if (atomic_load_explicit(&w->stop, memory_order_acquire))
            break;
        uint64_t now = nmt__clock_ns(CLOCK_MONOTONIC);
        int reason = snapshot_due(w, &d, now);
        if (reason != 0) {
            /* One more round: every mmap event drained by the round above
             * is settled by it, however long ago it was published. */
            nmt__writer_round(w, 0);
            nmt__snapshot_write(w, reason);
        } else if (jvm && nmt_jvm_pending_bytes != NULL &&
                   nmt_jvm_pending_bytes() >= NMT_JVM_FLUSH_BYTES) {
            /* Between snapshots the JVM bridge's code history piles up: write
             * it out before its bounded queue has to drop any. */
            nmt__snapshot_side_records(w);
        }
        if (atomic_load(&nmt__main_exited) && now >= d.alone) {
            w->alone_seen = 1; /* from now on every sleep is timed (idle_timeout) */
            d.alone = now + ALONE_CHECK_NS;
            if (nmt__os_only_caller_left())
                end_process(w);
        }
        /* Keep up with a burst (rings are finite); otherwise sleep until a
         * producer, a signal, a thread's exit or a timed duty needs us. */
        if (drained >= BURST_EVENTS) {
            sched_yield();
            continue;
        }
        now = nmt__clock_ns(CLOCK_MONOTONIC);
        /* Attached (nmt_attach.h), the tick also hooks libraries the JVM
         * loads later (nmt__got_refresh above): it stays. */
        int tick = nmt__attach_mode || (jvm && (nmt_jvm_settled == NULL || !nmt_jvm_settled()));
        nmt_wake_sleep(&nmt__bell, idle_timeout(&d, now, tick), has_work, w);
    }
    /* No producer may wait for us from now on. */
    nmt_wake_open(&nmt__bell, 0);
    atomic_store_explicit(&w->exited, 1, memory_order_release);
    return NULL;
}

/* The writer thread's stack: mapped once, by the real mmap, and used by
 * each writer in turn (a new one starts only once the last was joined, or
 * in a fork child, where the last never ran). Code that runs on a new
 * thread before its start routine (a sanitizer's, or another library's
 * that wraps thread creation) may allocate there: those allocations are the
 * recorder's own, and nmt__writer_born() tells them apart by this range. */
#define WRITER_STACK (1u << 20)
static _Atomic uintptr_t writer_stack; /* its lowest usable byte; 0: none */

NMT_HIDDEN int nmt__writer_born(struct nmt_tls *t)
{
    uintptr_t lo = atomic_load_explicit(&writer_stack, memory_order_relaxed);
    if ((uintptr_t)__builtin_frame_address(0) - lo >= WRITER_STACK)
        return 0;
    t->guard = 1; /* as writer_main makes it */
    t->writer = 1;
    return 1;
}

/* Sets attr's stack to the writer's own (mapped on the first call, with a
 * guard page below it), or to a stack of that size from pthread_create
 * when there is no memory for one. */
static void writer_stack_attr(pthread_attr_t *attr)
{
    uintptr_t lo = atomic_load_explicit(&writer_stack, memory_order_relaxed);
    if (lo == 0) {
        size_t page = (size_t)sysconf(_SC_PAGESIZE);
        void *m = nmt__real.mmap(NULL, WRITER_STACK + page, PROT_READ | PROT_WRITE,
                                 MAP_PRIVATE | MAP_ANONYMOUS | MAP_STACK, -1, 0);
        if (m != MAP_FAILED && nmt__real.mprotect(m, page, PROT_NONE) == 0)
            lo = (uintptr_t)m + page;
        else if (m != MAP_FAILED)
            nmt__real.munmap(m, WRITER_STACK + page);
        atomic_store_explicit(&writer_stack, lo, memory_order_relaxed);
    }
    if (lo == 0 || pthread_attr_setstack(attr, (void *)lo, WRITER_STACK) != 0)
        pthread_attr_setstacksize(attr, WRITER_STACK);
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
    sigset_t all;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &w->app_mask);
    /* The file, with its header, is made here, before the program's main
     * runs (from the constructor): made by the writer thread it would hold a
     * descriptor for a moment while main may be opening its own, and a
     * program that opens files up to EMFILE would get one fewer. */
    if (!w->fork_child) {
        int guard = nmt__tls.guard;
        nmt__tls.guard = 1;
        nmt__tls.writer++;
        nmt__snapshot_open(w);
        nmt__tls.writer--;
        nmt__tls.guard = guard;
    }
    pthread_attr_t attr;
    pthread_attr_init(&attr);
    writer_stack_attr(&attr);
    nmt_wake_open(&nmt__bell, 1); /* before the first producer could need it */
    /* pthread_create allocates the new thread's TLS block (its DTV) on this
     * thread, usually the program's main thread before main: from the
     * writer's heap too, so the program's heap is untouched when main starts
     * (no arena set up, no block placed before the program's own). */
    nmt__tls.writer++;
    int err = pthread_create(&w->thread, &attr, writer_main, NULL);
    nmt__tls.writer--;
    pthread_attr_destroy(&attr);
    pthread_sigmask(SIG_SETMASK, &w->app_mask, NULL);
    if (err != 0) {
        nmt_wake_open(&nmt__bell, 0);
        return -err;
    }
    w->running = 1;
    return 0;
}

NMT_HIDDEN void nmt__writer_request(int reason)
{
    atomic_store_explicit(&nmt__w.request, reason, memory_order_release);
    nmt__writer_wake();
}

/* A fork child's writer starts at its first recorded event, not in the
 * atfork handler: a child that only execs should not leave a file. */
NMT_HIDDEN void nmt__child_start(void)
{
    int expected = 1;
    if (atomic_compare_exchange_strong(&nmt__child_pending, &expected, 0)) {
        nmt__tls.guard++;
        if (nmt__writer_start() != 0)
            nmt__say("nmtrace: cannot start the writer thread in the fork child");
        nmt__tls.guard--;
    }
}

/* The final snapshot. Other threads may still be allocating: what they do
 * after the last drain is not in the profile, by design; none of them waits
 * for room any more. When the writer itself ends the process (end_process),
 * it is the caller and takes the snapshot inline. */
NMT_HIDDEN void nmt__writer_stop(void)
{
    struct nmt_writer *w = &nmt__w;
    if (w->running && pthread_equal(pthread_self(), w->thread)) {
        atomic_store_explicit(&w->stop, 1, memory_order_release);
        nmt_wake_open(&nmt__bell, 0);
        w->running = 0;
    } else if (w->running) {
        atomic_store_explicit(&w->stop, 1, memory_order_release);
        nmt__writer_wake();
        /* Bounded wait: exit must never hang on us. */
        for (int i = 0; i < 5000 && !atomic_load_explicit(&w->exited, memory_order_acquire); i++) {
            struct timespec ts = {0, 1000000};
            nanosleep(&ts, NULL);
        }
        if (!atomic_load_explicit(&w->exited, memory_order_acquire)) {
            nmt_wake_open(&nmt__bell, 0);
            nmt__say("nmtrace: the writer thread did not stop in 5 s; no final snapshot");
            return;
        }
        pthread_join(w->thread, NULL);
        w->running = 0;
    } else if (!w->tables_ok && nmt__writer_init_tables(w) != 0) {
        return;
    }
    if (nmt_jvm_shutdown != NULL && !nmt__attach_detaching())
        nmt_jvm_shutdown(); /* a detach leaves the bridge to the next attach */
    nmt__writer_round(w, 0);
    nmt__writer_round(w, 1);
    /* A detach leaves the JVM running: the methods those rounds found are
     * named now, or this session's profile would never name them. */
    if (nmt_jvm_name_now != NULL && nmt__attach_detaching())
        nmt_jvm_name_now();
    /* Growth past NMTRACE_GROWTH that the writer had no time to snapshot
     * before the process ended still gets its own snapshot. */
    if (nmt__cfg.growth && w->live_est - w->last_snap_live >= (double)nmt__cfg.growth)
        nmt__snapshot_write(w, NMT_SNAP_GROWTH);
    nmt__snapshot_write(w, NMT_SNAP_EXIT);
    nmt__snapshot_say_exit(w);
}

/* Fork child: no writer thread exists here; the parent's aggregate describes
 * the parent. Start from nothing (the old tables are leaked on purpose: freeing
 * them could take time the child does not have before it execs). */
NMT_HIDDEN void nmt__writer_after_fork(void)
{
    struct nmt_writer *w = &nmt__w;
    /* Forgetting the parent's file is all it takes: no descriptor is held,
     * and the child creates its own file at its first snapshot (one that
     * only execs, as a shell's children do, leaves no file behind). */
    memset(w, 0, sizeof(*w));
    w->fork_child = 1;
    memset(&nmt__bell, 0, sizeof(nmt__bell)); /* no writer, no waiter here yet */
    atomic_store(&nmt__main_exited, 0);       /* the forking thread leads the child */
    nmt__wheap_after_fork();
    nmt__tables_reset(); /* no writes: a child that only execs copies none */
}
