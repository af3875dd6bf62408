/*
 * test_capture.c: units for the sampled path (preload/nmt_capture.c) and the
 * slot registry it publishes through (preload/nmt_thread.c): each unwinder
 * takes a known chain of this program's functions, the recorder's own frames
 * are dropped and a cut stack is counted, a sampled allocation, a free and
 * mmap-family calls reach the calling thread's ring as the events the writer
 * reads, a full ring's losses are counted exactly, and a thread gets a slot
 * of its own that its exit marks dead; an event whose stack repeats the last
 * one committed to its ring carries none (NMT_EVF_SAME), and only then. The
 * modules are the recorder's own, linked with rec_doubles.c in place of the
 * OS file and the configuration.
 */
#include <criterion/criterion.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "../../preload/nmt_sampler.h"
#include "rec_doubles.h"

#define NOINLINE __attribute__((noinline))
/* Keeps a call from becoming a tail call, so its caller's frame stays. */
#define KEEP_FRAME() __asm__ volatile("" ::: "memory")

/* nmt_writer.c is not linked in: no fork child here starts a writer. */
void nmt__child_start(void) {}

/* The JVM bridge, as far as the sampled path sees it (its entry points are
 * weak): "a JVM was seen" only where a test says so, and then its append
 * does what the test asks: nothing, a Java frame more, or a native frame
 * less (the frames in the code cache replaced by none). */
_Atomic int nmt__jvm_found;
enum { BRIDGE_NONE, BRIDGE_JAVA, BRIDGE_TRIM };
static int bridge_does;
uint32_t nmt_jvm_append(uint64_t *frames, uint32_t n, uint32_t max)
{
    if (bridge_does == BRIDGE_JAVA && n < max)
        frames[n++] = 1ull << 63 | 42;
    if (bridge_does == BRIDGE_TRIM && n > 1)
        n--;
    return n;
}

/* What the bottom of the chain does, and what it got. */
static uint32_t (*bottom)(void);
static uint64_t got[NMT_MAX_FRAMES];
static uint32_t got_max = 65;
static void *sample_ptr;

/* Stands for an interposed entry point: frame 0 of every stack. */
NOINLINE void fake_malloc(void)
{
    KEEP_FRAME();
}

NOINLINE uint32_t capture_now(void)
{
    uint32_t n = nmt__capture(got, got_max, (void *)fake_malloc);
    KEEP_FRAME();
    return n;
}

/* Another entry point (as calloc is to malloc). */
NOINLINE void fake_calloc(void)
{
    KEEP_FRAME();
}

static void *sample_entry = (void *)fake_malloc;

NOINLINE uint32_t sample_now(void)
{
    nmt__sampled_alloc(sample_ptr, 100, sample_entry);
    KEEP_FRAME();
    return 0;
}

NOINLINE uint32_t chain_c(void)
{
    uint32_t n = bottom();
    KEEP_FRAME();
    return n;
}

NOINLINE uint32_t chain_b(void)
{
    uint32_t n = chain_c();
    KEEP_FRAME();
    return n;
}

NOINLINE uint32_t chain_a(void)
{
    uint32_t n = chain_b();
    KEEP_FRAME();
    return n;
}

static const char *const capture_chain[] = {"capture_now", "chain_c", "chain_b", "chain_a"};
static const char *const sample_chain[] = {"sample_now", "chain_c", "chain_b", "chain_a"};

static uint32_t capture_from_chain(void)
{
    bottom = capture_now;
    return chain_a();
}

static uint64_t counter(_Atomic uint64_t *c)
{
    return atomic_load(c);
}

Test(capture, fp_unwinder_takes_the_call_chain)
{
    rec_setup(1, NMT_UNWIND_FP);
    uint32_t n = capture_from_chain();
    cr_assert_gt(n, 4);
    cr_assert_eq(got[0], (uint64_t)(uintptr_t)fake_malloc, "frame 0 is the entry point");
    cr_assert_geq(rec_find_chain(got, n, capture_chain, 4), 1);
    cr_assert_eq(counter(&nmt__ctr.unwind_errors), 0);
    cr_assert_eq(counter(&nmt__ctr.truncated_stacks), 0);
}

Test(capture, libunwind_takes_the_call_chain)
{
    rec_setup(1, NMT_UNWIND_LIBUNWIND);
    nmt__unwind_init();
    uint32_t n = capture_from_chain();
    cr_assert_eq(got[0], (uint64_t)(uintptr_t)fake_malloc);
    cr_assert_geq(rec_find_chain(got, n, capture_chain, 4), 1);
    cr_assert_eq(counter(&nmt__ctr.unwind_errors), 0);
}

/* Makes the recorder's own text (nmt__self_lo..hi) the span of the
 * addresses that captures by libunwind and by the fast unwinder find before
 * the test's chain. Leaves the configuration at libunwind. */
static void set_self_range(void)
{
    static const int modes[] = {NMT_UNWIND_LIBUNWIND, NMT_UNWIND_AUTO};
    uint64_t lo = UINT64_MAX, hi = 0;
    for (int m = 1; m >= 0; m--) {
        rec_setup(1, modes[m]);
        uint32_t n = capture_from_chain();
        int at = rec_find_chain(got, n, capture_chain, 4);
        cr_assert_geq(at, 2, "the walk starts inside nmt__capture");
        for (int i = 1; i < at; i++) {
            lo = got[i] < lo ? got[i] : lo;
            hi = got[i] > hi ? got[i] : hi;
        }
    }
    nmt__self_lo = (uintptr_t)lo;
    nmt__self_hi = (uintptr_t)hi + 1;
}

/* The default unwinder (nmt_unwind.c over the call-frame tables) takes the
 * chain without libunwind; check mode takes it both ways and finds them
 * the same. */
Test(capture, fast_unwinder_takes_the_call_chain)
{
    rec_setup(1, NMT_UNWIND_LIBUNWIND);
    nmt__unwind_init();
    set_self_range();
    rec_setup(1, NMT_UNWIND_AUTO);
    uint32_t n = capture_from_chain();
    cr_assert_eq(rec_find_chain(got, n, capture_chain, 4), 1, "own frames dropped");
    cr_assert_eq(got[0], (uint64_t)(uintptr_t)fake_malloc);
    cr_assert_geq(rec_find_chain(got, n, capture_chain, 4), 1);
    cr_assert_eq(counter(&nmt__ctr.unwind_fallbacks), 0);
    cr_assert_eq(counter(&nmt__ctr.unwind_errors), 0);
    rec_setup(1, NMT_UNWIND_CHECK);
    uint32_t m = capture_from_chain();
    cr_assert_eq(m, n);
    cr_assert_geq(rec_find_chain(got, m, capture_chain, 4), 1);
    cr_assert_eq(counter(&nmt__ctr.unwind_mismatch), 0);
    cr_assert_eq(counter(&nmt__ctr.unwind_fallbacks), 0);
}

/* The recorder's own frames (nmt__self_lo..hi, its text) come off the leaf
 * end, whatever they are: the stack then starts at the caller's frame. */
Test(capture, own_frames_are_dropped)
{
    rec_setup(1, NMT_UNWIND_LIBUNWIND);
    nmt__unwind_init();
    set_self_range();
    uint32_t n = capture_from_chain();
    cr_assert_eq(rec_find_chain(got, n, capture_chain, 4), 1);
}

Test(capture, cut_stack_is_counted)
{
    rec_setup(1, NMT_UNWIND_FP);
    got_max = 3;
    uint32_t n = capture_from_chain();
    cr_assert_eq(n, 3);
    cr_assert_eq(counter(&nmt__ctr.truncated_stacks), 1);
}

static const struct nmt_ev *next_event(struct nmt_ring *r, uint32_t *len)
{
    const struct nmt_ev *ev = nmt_ring_peek(r, len);
    cr_assert_not_null(ev, "an event in the ring");
    return ev;
}

Test(capture, sampled_alloc_and_free_reach_the_threads_ring)
{
    rec_setup(1, NMT_UNWIND_FP);
    sample_ptr = (void *)0x5550000;
    bottom = sample_now;
    chain_a();
    cr_assert_eq(nmt__tls.guard, 0);
    struct nmt_thread *thr = nmt__tls.thr;
    cr_assert_not_null(thr, "the thread claimed a slot");
    /* Rate 1 keeps no filter: every free is recorded (the library pins the
     * filter's page level whole, so every free reaches the slow path). */
    cr_assert_not(nmt_addrfilter_page_maybe(&nmt__filter, sample_ptr), "rate 1 marked the filter");

    nmt__record_free(sample_ptr, 77);
    uint32_t len;
    const struct nmt_ev *ev = next_event(thr->ring, &len);
    cr_assert_eq(ev->type, NMT_EV_ALLOC);
    cr_assert_eq(ev->seq, 1, "the first event of the process");
    cr_assert_eq(ev->arg[0], (uint64_t)(uintptr_t)sample_ptr);
    cr_assert_eq(ev->arg[1], 100);
    cr_assert_eq(ev->flags, 0);
    cr_assert_eq(len, sizeof(*ev) + ev->nframes * sizeof(uint64_t));
    cr_assert_eq(ev->frames[0], (uint64_t)(uintptr_t)fake_malloc);
    cr_assert_geq(rec_find_chain(ev->frames, ev->nframes, sample_chain, 4), 1);
    nmt_ring_release(thr->ring);

    ev = next_event(thr->ring, &len);
    cr_assert_eq(ev->type, NMT_EV_FREE);
    cr_assert_eq(len, NMT_EV_FREE_SIZE);
    cr_assert_eq(ev->seq, 77);
    cr_assert_eq(ev->arg[0], (uint64_t)(uintptr_t)sample_ptr);
    nmt_ring_release(thr->ring);
    cr_assert_null(nmt_ring_peek(thr->ring, &len), "nothing else");
}

Test(capture, exact_mode_keeps_the_sample_in_the_live_set)
{
    rec_setup(4096, NMT_UNWIND_FP);
    sample_ptr = (void *)0x6660000;
    bottom = sample_now;
    chain_a();
    cr_assert(nmt_addrfilter_page_maybe(&nmt__filter, sample_ptr), "a free may now look for it");
    cr_assert_eq(nmt_liveset_remove(&nmt__liveset, sample_ptr), 1);
}

/* The countdowns come a batch at a time, in the order the sampler draws
 * them; a batch emptied for a new rate (an attach) gives that rate's draws
 * from the next one on. */
Test(capture, gaps_come_in_the_order_the_sampler_draws_them)
{
    rec_setup(4096, NMT_UNWIND_FP);
    nmt__cfg.seed = 7;
    struct nmt_tls *t = &nmt__tls;
    enum { N = 3 * NMT_GAP_BATCH + 2 };
    int64_t got[N];
    for (int i = 0; i < N; i++)
        got[i] = nmt__next_gap(t);
    uint64_t st[2];
    nmt_sampler_seed(st, 7, t->rng_serial);
    for (int i = 0; i < N; i++)
        cr_assert_eq(got[i], nmt_sampler_next_gap(st, 4096), "gap %d", i);

    cr_assert_gt(t->ngaps, 0, "the test leaves draws in the batch");
    for (uint32_t i = 0; i < t->ngaps; i++)
        (void)nmt_sampler_next_gap(st, 4096); /* drawn, and given up below */
    t->ngaps = 0;
    nmt__cfg.rate = 1u << 20;
    for (int i = 0; i < N; i++)
        cr_assert_eq(nmt__next_gap(t), nmt_sampler_next_gap(st, 1u << 20), "gap %d at 1m", i);
}

/* Only the calls that create or commit pages carry a stack. */
Test(capture, mmap_events_carry_a_stack_when_they_map)
{
    rec_setup(1, NMT_UNWIND_FP);
    nmt__record_mmap(NMT_EV_MMAP, 0x10000, 8192, 3, 0, (void *)fake_malloc, 5);
    nmt__record_mmap(NMT_EV_MUNMAP, 0x10000, 4096, 0, 0, (void *)fake_malloc, 6);
    struct nmt_ring *r = nmt__tls.thr->ring;
    uint32_t len;
    const struct nmt_ev *ev = next_event(r, &len);
    cr_assert_eq(ev->type, NMT_EV_MMAP);
    cr_assert_eq(ev->seq, 5);
    cr_assert_eq(ev->arg[1], 8192);
    cr_assert_gt(ev->nframes, 1);
    cr_assert_eq(ev->frames[0], (uint64_t)(uintptr_t)fake_malloc);
    nmt_ring_release(r);
    ev = next_event(r, &len);
    cr_assert_eq(ev->type, NMT_EV_MUNMAP);
    cr_assert_eq(ev->nframes, 0);
    cr_assert_eq(ev->arg[0], 0x10000);
    nmt_ring_release(r);
}

/* Samples tries pointers from base, step apart, at rate into a 4 KiB ring
 * that drops what does not fit (NMTRACE_ON_FULL=drop, no writer to wait
 * for); returns how many records the ring kept, and empties it. */
static unsigned fill_small_ring(uint64_t rate, uintptr_t base, uintptr_t step, unsigned tries)
{
    rec_setup(rate, NMT_UNWIND_FP);
    nmt__cfg.ring_kib = 4;
    nmt__cfg.on_full_drop = 1;
    bottom = sample_now;
    for (unsigned i = 0; i < tries; i++) {
        sample_ptr = (void *)(base + step * i);
        chain_a();
    }
    struct nmt_thread *thr = nmt__tls.thr;
    unsigned kept = 0;
    uint32_t len;
    while (nmt_ring_peek(thr->ring, &len) != NULL) {
        kept++;
        nmt_ring_release(thr->ring);
    }
    cr_assert_gt(kept, 0);
    cr_assert_lt(kept, tries, "a 4 KiB ring cannot hold them all");
    return kept;
}

/* What does not fit is dropped and counted in the thread's slot: exactly
 * the difference. */
Test(capture, full_ring_drops_are_counted_exactly)
{
    const unsigned tries = 500;
    unsigned kept = fill_small_ring(1, 0x7770000, 64, tries);
    struct nmt_thread *thr = nmt__tls.thr;
    cr_assert_eq(atomic_load(&thr->drops), tries - kept);
    cr_assert_eq(atomic_load(&thr->drop_bytes), 100ull * (tries - kept));
}

/* In exact mode a sample marks the live set and the filter before its
 * event is published; each event the full ring drops takes both marks back,
 * so exactly the kept samples are marked: a free of a dropped one finds
 * nothing to record. */
Test(capture, a_dropped_sample_leaves_no_mark)
{
    const unsigned tries = 300;
    unsigned kept = fill_small_ring(4096, 0x7780000, 4096, tries); /* a page each */
    unsigned marked = 0;
    for (unsigned i = 0; i < tries; i++) {
        void *p = (void *)(uintptr_t)(0x7780000 + 4096 * i);
        int live = nmt_liveset_has(&nmt__liveset, p);
        cr_assert_eq(live, nmt_addrfilter_page_maybe(&nmt__filter, p), "sample %u", i);
        marked += (unsigned)live;
    }
    cr_assert_eq(atomic_load(&nmt__tls.thr->drops), tries - kept);
    cr_assert_eq(marked, kept);
}

/* ---- stacks sent once (NMT_EVF_SAME) ---- */

/* The recorder's own text as set_self_range finds it, widened to take in
 * the fast unwinder itself, as in libnmtrace.so: it then crosses all of the
 * recorder's frames by their frame pointers and replays a stack that
 * repeats whole from the thread's last walk (nmt_unwind.c). Leaves the
 * configuration at auto. */
static void set_self_range_whole(void)
{
    rec_setup(1, NMT_UNWIND_LIBUNWIND);
    nmt__unwind_init();
    set_self_range();
    uintptr_t f = (uintptr_t)nmt__fast_unwind;
    if (f < nmt__self_lo)
        nmt__self_lo = f;
    if (f >= nmt__self_hi)
        nmt__self_hi = f + 1;
    static void *const ours[] = {(void *)sample_now, (void *)chain_c, (void *)chain_b,
                                 (void *)chain_a};
    for (unsigned i = 0; i < sizeof(ours) / sizeof(ours[0]); i++)
        cr_assert((uintptr_t)ours[i] < nmt__self_lo || (uintptr_t)ours[i] >= nmt__self_hi,
                  "the test's chain lies outside the recorder's range");
    rec_setup(1, NMT_UNWIND_AUTO);
}

/* Two call sites of the chain, alike, so that the frames below chain_a are
 * the same from either (the walk replays up to there). */
NOINLINE uint32_t site_x(void)
{
    uint32_t n = chain_a();
    KEEP_FRAME();
    return n;
}

NOINLINE uint32_t site_y(void)
{
    uint32_t n = chain_a();
    KEEP_FRAME();
    return n;
}

static const char *const x_chain[] = {"chain_a", "site_x"};
static const char *const y_chain[] = {"chain_a", "site_y"};

/* What the consumer has seen of the allocations in a ring so far. */
struct seen {
    int last_site;   /* the site of the last event that carried frames; -1: none */
    unsigned framed; /* events with frames */
    unsigned same;   /* events without (NMT_EVF_SAME) */
};

/* The site (0: x, 1: y) whose chain frames[0..n) hold; -1 for neither. */
static int site_in(const uint64_t *frames, uint32_t n)
{
    if (rec_find_chain(frames, n, x_chain, 2) >= 0)
        return 0;
    return rec_find_chain(frames, n, y_chain, 2) >= 0 ? 1 : -1;
}

/* Reads every allocation in r, in ring order, whose sites were
 * sites[0..n): an event that carries frames has its site's; one that does
 * not (NMT_EVF_SAME, the short record) comes from the same site as the
 * last event before it that carried frames, and there is one. */
static void consume(struct nmt_ring *r, struct seen *s, const int *sites, unsigned n)
{
    uint32_t len;
    unsigned i = 0;
    for (const struct nmt_ev *ev; (ev = nmt_ring_peek(r, &len)) != NULL; i++) {
        if (ev->type != NMT_EV_ALLOC) { /* the test's filler */
            nmt_ring_release(r);
            i--;
            continue;
        }
        cr_assert_lt(i, n, "no more allocations than were made");
        if (ev->flags & NMT_EVF_SAME) {
            cr_assert_eq(ev->flags, NMT_EVF_SAME);
            cr_assert_eq(ev->nframes, 0);
            cr_assert_eq(len, NMT_EV_SAME_ALLOC_SIZE);
            cr_assert_eq(s->last_site, sites[i], "event %u refers to its own site's stack", i);
            s->same++;
        } else {
            cr_assert_eq(len, sizeof(*ev) + ev->nframes * sizeof(uint64_t));
            cr_assert_eq(ev->frames[0], (uint64_t)(uintptr_t)fake_malloc);
            cr_assert_eq(site_in(ev->frames, ev->nframes), sites[i], "event %u", i);
            s->last_site = sites[i];
            s->framed++;
        }
        nmt_ring_release(r);
    }
    cr_assert_eq(i, n, "every allocation reached the ring");
}

/* Run after the first sample of sample_sites, when set. */
static void (*after_first)(void);

/* Samples from the sites in order, from one call site of this function. */
static void sample_sites(const int *sites, unsigned n)
{
    static uint32_t (*const site_fn[2])(void) = {site_x, site_y};
    bottom = sample_now;
    for (volatile unsigned i = 0; i < n; i++) {
        sample_ptr = (void *)(uintptr_t)(0x5550000 + 64 * i);
        site_fn[sites[i]]();
        if (i == 0 && after_first != NULL)
            after_first();
    }
}

/* From one call site the stack is sent once: the first event of the ring
 * carries it, later ones from the same place carry none. */
Test(capture, a_repeated_stack_is_sent_once)
{
    set_self_range_whole();
    static const int sites[8] = {0, 0, 0, 0, 0, 0, 0, 0};
    sample_sites(sites, 8);
    struct seen s = {-1, 0, 0};
    consume(nmt__tls.thr->ring, &s, sites, 8);
    cr_assert_geq(s.framed, 1);
    cr_assert_geq(s.same, 5, "%u of 8 without frames", s.same);
    cr_assert_eq(counter(&nmt__ctr.unwind_fallbacks), 0);
}

/* The entry point is frame 0 of the stack: from the same call site, an
 * event entered through another one carries its frames, and so does the
 * next one through the first. */
Test(capture, another_entry_point_is_another_stack)
{
    set_self_range_whole();
    static const int x[1] = {0};
    static const int calloc_at[6] = {0, 0, 0, 1, 1, 0};
    struct nmt_ring *r = NULL;
    uint32_t len;
    for (volatile int k = 0; k < 6; k++) {
        sample_entry = calloc_at[k] ? (void *)fake_calloc : (void *)fake_malloc;
        sample_sites(x, 1);
        r = nmt__tls.thr->ring;
        const struct nmt_ev *ev = next_event(r, &len);
        if (k == 2)
            cr_assert_eq(ev->flags, NMT_EVF_SAME, "the third from one place repeats");
        if (k == 3 || k == 5) {
            cr_assert_gt(ev->nframes, 0, "event %d, after another entry point", k);
            cr_assert_eq(ev->frames[0], (uint64_t)(uintptr_t)sample_entry);
        }
        nmt_ring_release(r);
    }
    sample_entry = (void *)fake_malloc;
}

/* In a process with a JVM: a native stack still repeats, one the bridge
 * added Java frames to or trimmed never refers and is never referred to. */
Test(capture, a_stack_the_bridge_changed_is_always_sent)
{
    set_self_range_whole();
    atomic_store(&nmt__jvm_found, 1);
    static const int x[1] = {0};
    static const int does[12] = {BRIDGE_NONE, BRIDGE_NONE, BRIDGE_NONE, BRIDGE_JAVA,
                                 BRIDGE_JAVA, BRIDGE_JAVA, BRIDGE_NONE, BRIDGE_NONE,
                                 BRIDGE_NONE, BRIDGE_TRIM, BRIDGE_TRIM, BRIDGE_NONE};
    unsigned same = 0;
    uint32_t len, native = 0;
    for (volatile int k = 0; k < 12; k++) {
        bridge_does = does[k];
        sample_sites(x, 1);
        struct nmt_ring *r = nmt__tls.thr->ring;
        const struct nmt_ev *ev = next_event(r, &len);
        if (ev->flags & NMT_EVF_SAME) {
            cr_assert_eq(does[k], BRIDGE_NONE, "event %d: the bridge changed its stack", k);
            cr_assert_eq(does[k - 1], BRIDGE_NONE, "event %d: refers to a changed stack", k);
            same++;
        } else if (does[k] == BRIDGE_NONE) {
            native = ev->nframes;
        }
        if (does[k] == BRIDGE_JAVA)
            cr_assert_eq(ev->flags, NMT_EVF_JAVA, "event %d", k);
        if (does[k] == BRIDGE_TRIM)
            cr_assert_eq(ev->nframes, native - 1, "event %d", k);
        nmt_ring_release(r);
    }
    cr_assert_geq(same, 2, "native stacks repeat in a JVM too");
    atomic_store(&nmt__jvm_found, 0);
    bridge_does = BRIDGE_NONE;
}

/* Whatever comes between two events (another site, a dropped event, a
 * ring cleared as a fork child's or an attach session's are), an event
 * without frames refers to the stack of its own site: the last one
 * committed to the ring, which the writer reads before it; the first event
 * of a cleared ring carries its frames. Every phase samples from one call
 * site, so that the stacks differ only where the sites do. */
enum { PLAIN, DROP_FIRST, CLEAR_FIRST };
struct phase {
    int before; /* PLAIN, or what happens to the ring before the phase samples */
    unsigned n;
    int sites[12];
};

/* Empties the thread's ring of the frees that filled it. */
static void release_filler(void)
{
    struct nmt_ring *r = nmt__tls.thr->ring;
    uint32_t len;
    for (const struct nmt_ev *ev; (ev = nmt_ring_peek(r, &len)) != NULL; nmt_ring_release(r))
        cr_assert_eq(ev->type, NMT_EV_FREE);
}

Test(capture, an_event_without_frames_refers_to_the_last_stack_committed)
{
    static const struct phase phases[] = {
        {PLAIN, 12, {0, 0, 0, 1, 1, 1, 0, 1, 0, 0, 0, 0}},
        {PLAIN, 3, {0, 0, 0}},
        {DROP_FIRST, 4, {1, 1, 1, 1}}, /* the walk changed with the dropped one */
        {PLAIN, 3, {0, 0, 0}},
        {DROP_FIRST, 3, {0, 0, 0}}, /* the same walk as the one committed */
        {CLEAR_FIRST, 3, {0, 0, 0}},
    };
    set_self_range_whole();
    nmt__cfg.on_full_drop = 1;
    struct seen s = {-1, 0, 0};
    for (volatile unsigned p = 0; p < sizeof(phases) / sizeof(phases[0]); p++) {
        const struct phase *ph = &phases[p];
        struct nmt_thread *thr = nmt__tls.thr;
        uint64_t drops = thr ? atomic_load(&thr->drops) : 0;
        if (ph->before == DROP_FIRST)
            while (atomic_load(&thr->free_drops) == 0)
                nmt__record_free((void *)0x1234000, 1); /* fills the ring */
        if (ph->before == CLEAR_FIRST) {
            nmt_ring_init(thr->ring, thr->ring->cap);
            s = (struct seen){-1, 0, 0};
        }
        after_first = ph->before == DROP_FIRST ? release_filler : NULL;
        sample_sites(ph->sites, ph->n);
        thr = nmt__tls.thr;
        int dropped = ph->before == DROP_FIRST;
        cr_assert_eq(atomic_load(&thr->drops), drops + (uint64_t)dropped, "phase %u", p);
        atomic_store(&thr->free_drops, 0);
        unsigned framed = s.framed;
        consume(thr->ring, &s, ph->sites + dropped, ph->n - (unsigned)dropped);
        if (ph->before == CLEAR_FIRST)
            cr_assert_gt(s.framed, framed, "the first event of a cleared ring");
    }
    cr_assert_gt(s.same, 0);
}

static struct nmt_thread *thread_slot;

static void *sample_on_thread(void *arg)
{
    sample_ptr = arg;
    bottom = sample_now;
    chain_a();
    thread_slot = nmt__tls.thr;
    return NULL;
}

Test(capture, each_thread_gets_its_own_slot_and_its_exit_marks_it_dead)
{
    rec_setup(1, NMT_UNWIND_FP);
    nmt__thread_init_key();
    sample_ptr = (void *)0x8880000;
    bottom = sample_now;
    chain_a();
    struct nmt_thread *mine = nmt__tls.thr;
    pthread_t t;
    cr_assert_eq(pthread_create(&t, NULL, sample_on_thread, (void *)0x9990000), 0);
    pthread_join(t, NULL);
    cr_assert_not_null(thread_slot);
    cr_assert_neq(thread_slot, mine);
    cr_assert_eq(rec_slots(), 2);
    cr_assert_eq(atomic_load(&thread_slot->state), NMT_SLOT_DEAD);
    cr_assert_eq(atomic_load(&mine->state), NMT_SLOT_OWNED);
    uint32_t len;
    const struct nmt_ev *ev = next_event(thread_slot->ring, &len);
    cr_assert_eq(ev->arg[0], 0x9990000, "the thread's event is in its own ring");
}
