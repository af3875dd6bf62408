/*
 * nmt_hooks.c: the interposed allocation entry points and their hot path.
 *
 * An unsampled malloc costs a thread-local countdown compare and subtract; an
 * unsampled free costs one load from the address filter. No lock, no shared
 * write, no syscall, and no other test: the recorder's own static heaps are
 * pinned in the filter (nmt__boot_pin), and until the real free is known
 * nmt__real.free is a stand-in that resolves it first.
 * At rate 1 the countdown is always 0 and every page is pinned: every call
 * takes the slow path, whose usual case (recording, not inside the
 * recorder) is tested first and costs no other test.
 * Everything else (sampling, stacks, rings) is out of line in *_slow()
 * functions and nmt_capture.c. errno is preserved as the real function left
 * it: the recorder's own work never changes what the caller sees.
 */
#include <errno.h>
#include <malloc.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "nmt_attach.h"
#include "nmt_internal.h"
#include "nmt_sampler.h"

#define EXPORT __attribute__((visibility("default")))

/* A countdown this large is never crossed: used when recording is off. */
#define NMT_NEVER ((uint64_t)1 << 62)

static inline int countdown_take(struct nmt_tls *t, size_t size)
{
    return nmt_countdown_take(&t->countdown, size);
}

/* Called when an allocation of `size` bytes reaches the end of the
 * countdown, while recording. Returns 1 when it is to be sampled. */
static inline __attribute__((always_inline)) int sample_decision(struct nmt_tls *t, size_t size)
{
    /* A thread's first decision: on the writer's stack, before its start
     * routine, the allocation is the recorder's own. */
    if (NMT_UNLIKELY(!t->inited) && nmt__writer_born(t))
        return 0;
    /* Rate 1: every allocation, and the countdown stays at 0 (one left
     * from an earlier attach at another rate ends here). */
    if (nmt__every) {
        t->inited = 1;
        t->countdown = 0;
        return 1;
    }
    /* A countdown left from an earlier attach was drawn at that attach's
     * rate: draw afresh rather than weigh this one by the new rate. So is a
     * lost one (nmt_countdown_lost). */
    if (NMT_UNLIKELY(!t->inited || t->session != nmt__attach_session ||
                     nmt_countdown_lost(t->countdown))) {
        if (t->session != nmt__attach_session)
            t->ngaps = 0; /* drawn at that attach's rate */
        t->inited = 1;
        t->session = nmt__attach_session;
        t->countdown = (uint64_t)nmt__next_gap(t);
        if (countdown_take(t, size))
            return 0;
    }
    /* The event's lines load while the gap is drawn and the real call runs. */
    nmt__event_prefetch(t, 1);
    /* Memoryless: after a sample the next gap starts afresh. */
    t->countdown = (uint64_t)nmt__next_gap(t);
    return 1;
}

/* Not recording: before the constructor (another preloaded library's init,
 * say) keep taking the slow path until recording starts; once stopped or
 * disabled, stay on the fast path for good. */
static void not_recording(struct nmt_tls *t)
{
    int state = atomic_load_explicit(&nmt__state, memory_order_relaxed);
    if (!t->guard &&
        (state == NMT_STOPPED || atomic_load_explicit(&nmt__disabled, memory_order_relaxed)))
        t->countdown = NMT_NEVER;
}

/* Common slow path of every malloc-like entry point: the real call has not
 * been made yet. Returns 1 when the caller must record the result. */
static inline int alloc_slow_prologue(struct nmt_tls *t, size_t size)
{
    if (NMT_LIKELY(nmt__recording(t)))
        return sample_decision(t, size);
    not_recording(t);
    return 0;
}

/* Records the allocation p of size bytes, if it succeeded; errno is left
 * as the real function set it. */
static inline void *sampled(void *p, size_t size, void *entry)
{
    if (p != NULL) {
        int saved = errno;
        nmt__sampled_alloc(p, size, entry);
        errno = saved;
    }
    return p;
}

static inline void *finish(void *p, size_t size, void *entry, int s)
{
    return s ? sampled(p, size, entry) : p;
}

/* malloc_slow when this thread did not record: resolution (which may start
 * recording), the writer's own heap, the bootstrap arena. */
static NMT_NOINLINE void *malloc_off(struct nmt_tls *t, size_t size)
{
    if (NMT_UNLIKELY(nmt__unresolved())) {
        nmt__ensure_init();
        if (nmt__unresolved())
            return nmt__boot_alloc(size, 16);
    }
    if (NMT_UNLIKELY(t->writer)) {
        void *w = nmt__wheap_alloc(size);
        if (w != NULL)
            return w;
    }
    int s = alloc_slow_prologue(t, size);
    return finish(nmt__real.malloc(size), size, (void *)malloc, s);
}

static NMT_NOINLINE void *malloc_slow(size_t size)
{
    struct nmt_tls *t = &nmt__tls;
    if (NMT_UNLIKELY(!nmt__recording(t)))
        return malloc_off(t, size);
    if (!sample_decision(t, size))
        return nmt__real.malloc(size);
    return sampled(nmt__real.malloc(size), size, (void *)malloc);
}

EXPORT void *malloc(size_t size)
{
    if (NMT_LIKELY(countdown_take(&nmt__tls, size)))
        return nmt__real.malloc(size);
    return malloc_slow(size);
}

static NMT_NOINLINE void *calloc_slow(size_t n, size_t size)
{
    size_t total;
    if (__builtin_mul_overflow(n, size, &total))
        total = SIZE_MAX;
    if (NMT_UNLIKELY(nmt__unresolved())) {
        /* dlsym calls calloc while the real one is being looked up. */
        nmt__ensure_init();
        if (nmt__unresolved()) {
            if (total == SIZE_MAX) {
                errno = ENOMEM;
                return NULL;
            }
            return nmt__boot_alloc(total, 16);
        }
    }
    struct nmt_tls *t = &nmt__tls;
    if (NMT_UNLIKELY(t->writer) && total != SIZE_MAX) {
        void *w = nmt__wheap_calloc(total);
        if (w != NULL)
            return w;
    }
    int s = total != SIZE_MAX && alloc_slow_prologue(t, total);
    return finish(nmt__real.calloc(n, size), total, (void *)calloc, s);
}

EXPORT void *calloc(size_t n, size_t size)
{
    size_t total;
    if (NMT_LIKELY(!__builtin_mul_overflow(n, size, &total) && countdown_take(&nmt__tls, total)))
        return nmt__real.calloc(n, size);
    return calloc_slow(n, size);
}

/* Whether a free of p is to be recorded: at rate 1 every free is (the
 * writer sorts them out); otherwise p must be a live sample, which the
 * filter says it may be and the live set decides. If so its marks are
 * cleared now, by this thread. Inline in both its callers: a sampled free
 * makes no call for it. */
static inline __attribute__((always_inline)) int claim_sampled(void *p)
{
    if (nmt__every)
        return 1;
    if (!nmt_addrfilter_page_maybe(&nmt__filter, p) || !nmt_liveset_remove(&nmt__liveset, p))
        return 0; /* not a live sample: no event */
    nmt_addrfilter_sub(&nmt__filter, p);
    return 1;
}

/* A realloc that failed left the block alive: put its marks back. */
static void unclaim_sampled(void *p)
{
    if (nmt__exact) {
        if (nmt_liveset_insert(&nmt__liveset, p) == 0)
            nmt_addrfilter_add(&nmt__filter, p);
        else
            atomic_fetch_add_explicit(&nmt__ctr.liveset_full, 1, memory_order_relaxed);
    }
}

/* A free while not recording: before the real free is known, it may have
 * to be resolved first. */
static NMT_NOINLINE void free_off(void *p)
{
    if (NMT_UNLIKELY(nmt__unresolved())) {
        nmt__ensure_init();
        if (nmt__unresolved())
            return; /* cannot be ours to free: leak it rather than crash */
    }
    nmt__real.free(p);
}

/* A free at rate 1, where every free is recorded (the writer sorts them
 * out); at other rates a live sample's free is free_sample's. Not a block of
 * our own static heaps. Recording implies resolution (nmt__state is set
 * NMT_ON after it, and read here with acquire). */
static NMT_NOINLINE void free_slow(void *p)
{
    if (p == NULL)
        return; /* never a live sample: 0 is the live set's empty slot */
    if (NMT_UNLIKELY(!nmt__recording(&nmt__tls))) {
        free_off(p);
        return;
    }
    if (claim_sampled(p)) {
        /* Before the real free: the address may be reused at once. It
         * leaves errno alone. */
        nmt__record_free(p, nmt__seq_take());
    }
    nmt__real.free(p);
}

/* The free of a live sample, which free_marked found in slot of the live
 * set's candidate bucket k: its marks are cleared here, once, and its event
 * recorded, without asking the filter and the live set again. Recording
 * implies resolution, and a sample was taken only after it: the real free
 * is known. */
static NMT_NOINLINE void free_sample(void *p, _Atomic uintptr_t *slot, int k)
{
    if (NMT_LIKELY(nmt__recording(&nmt__tls))) {
        /* Its event's lines load while it is taken out of the live set. */
        nmt__event_prefetch(&nmt__tls, 0);
        if (nmt_liveset_take(&nmt__liveset, p, slot, k)) {
            nmt_addrfilter_sub(&nmt__filter, p);
            /* Before the real free: the address may be reused at once. It
             * leaves errno alone. */
            nmt__record_free(p, nmt__seq_take());
        }
    }
    nmt__real.free(p);
}

/* A free on a page the filter marks: a block of our own static heaps (its
 * page is pinned; bootstrap blocks live as long as the process), or one on
 * a page with a live sample, or at rate 1 any block. Most at other rates
 * are the samples' neighbours, which the live set rules out by the one line
 * of their page's bucket, without writing; a live sample's own free goes on
 * from the slot found there. nmt__real.free is callable before resolution
 * too. */
static NMT_NOINLINE void free_marked(void *p)
{
    if (NMT_UNLIKELY(nmt__is_boot(p))) {
        if (nmt__wheap_owns(p))
            nmt__wheap_free(p);
        return;
    }
    if (nmt__every) {
        free_slow(p);
        return;
    }
    int k;
    _Atomic uintptr_t *slot = nmt_liveset_locate(&nmt__liveset, p, &k);
    if (slot != NULL) {
        free_sample(p, slot, k);
        return;
    }
    nmt__real.free(p);
}

EXPORT void free(void *p)
{
    if (NMT_LIKELY(!nmt_addrfilter_page_maybe(&nmt__filter, p))) {
        nmt__real.free(p);
        return;
    }
    free_marked(p);
}

static void *boot_realloc(void *p, size_t size)
{
    if (nmt__wheap_owns(p))
        return nmt__wheap_realloc(p, size, malloc);
    void *q = malloc(size);
    if (q != NULL) {
        size_t old = nmt__boot_size(p);
        memcpy(q, p, old < size ? old : size);
    }
    return q;
}

static NMT_NOINLINE void *realloc_slow(void *p, size_t size)
{
    if (nmt__is_boot(p))
        return boot_realloc(p, size);
    if (NMT_UNLIKELY(nmt__unresolved())) {
        nmt__ensure_init();
        if (nmt__unresolved())
            return NULL;
    }
    struct nmt_tls *t = &nmt__tls;
    int tracked = nmt__recording(t) && claim_sampled(p);
    /* We may be here for the old block's sake alone: the new size is
     * sampled only if it really crosses the countdown. */
    int s = size != 0 && !countdown_take(t, size) && alloc_slow_prologue(t, size);
    /* The free half is recorded before the real call (the old address may be
     * reused by another thread the moment realloc returns), and only if the
     * block really went away: a failed realloc leaves it alive. */
    void *q;
    if (tracked) {
        uint64_t seq = nmt__seq_take();
        q = nmt__real.realloc(p, size);
        if (q != NULL || size == 0)
            nmt__record_free(p, seq); /* leaves errno as realloc set it */
        else
            unclaim_sampled(p);
    } else {
        q = nmt__real.realloc(p, size);
    }
    return finish(q, size, (void *)realloc, s && q != NULL);
}

EXPORT void *realloc(void *p, size_t size)
{
    if (p == NULL)
        return malloc(size);
    if (NMT_LIKELY(!nmt_addrfilter_page_maybe(&nmt__filter, p) && countdown_take(&nmt__tls, size)))
        return nmt__real.realloc(p, size);
    return realloc_slow(p, size);
}

EXPORT void *reallocarray(void *p, size_t n, size_t size)
{
    size_t total;
    if (__builtin_mul_overflow(n, size, &total)) {
        errno = ENOMEM;
        return NULL;
    }
    return realloc(p, total);
}

/* The aligned family: all rare enough to share one slow helper. */
enum { AL_POSIX, AL_ALIGNED, AL_MEMALIGN, AL_VALLOC, AL_PVALLOC };

static void *aligned_real(int kind, size_t align, size_t size, int *err)
{
    void *p = NULL;
    switch (kind) {
    case AL_POSIX:
        *err = nmt__real.posix_memalign(&p, align, size);
        return *err ? NULL : p;
    case AL_ALIGNED:
        if (nmt__real.aligned_alloc)
            return nmt__real.aligned_alloc(align, size);
        return nmt__real.memalign(align, size);
    case AL_MEMALIGN:
        return nmt__real.memalign(align, size);
    case AL_VALLOC:
        if (nmt__real.valloc)
            return nmt__real.valloc(size);
        return nmt__real.memalign((size_t)sysconf(_SC_PAGESIZE), size);
    default:
        if (nmt__real.pvalloc)
            return nmt__real.pvalloc(size);
        size_t pg = (size_t)sysconf(_SC_PAGESIZE);
        return nmt__real.memalign(pg, (size + pg - 1) & ~(pg - 1));
    }
}

static NMT_NOINLINE void *aligned_slow(int kind, size_t align, size_t size, int *err, void *entry)
{
    *err = 0;
    if (NMT_UNLIKELY(nmt__unresolved())) {
        nmt__ensure_init();
        if (nmt__unresolved()) {
            void *p = nmt__boot_alloc(size, align < 4096 ? align : 4096);
            if (p == NULL)
                *err = ENOMEM;
            return p;
        }
    }
    struct nmt_tls *t = &nmt__tls;
    if (countdown_take(t, size))
        return aligned_real(kind, align, size, err);
    int s = alloc_slow_prologue(t, size);
    return finish(aligned_real(kind, align, size, err), size, entry, s);
}

EXPORT int posix_memalign(void **out, size_t align, size_t size)
{
    int err;
    void *p = aligned_slow(AL_POSIX, align, size, &err, (void *)posix_memalign);
    if (err == 0)
        *out = p;
    return err;
}

EXPORT void *aligned_alloc(size_t align, size_t size)
{
    int err;
    return aligned_slow(AL_ALIGNED, align, size, &err, (void *)aligned_alloc);
}

EXPORT void *memalign(size_t align, size_t size)
{
    int err;
    return aligned_slow(AL_MEMALIGN, align, size, &err, (void *)memalign);
}

EXPORT void *valloc(size_t size)
{
    int err;
    return aligned_slow(AL_VALLOC, 0, size, &err, (void *)valloc);
}

EXPORT void *pvalloc(size_t size)
{
    int err;
    return aligned_slow(AL_PVALLOC, 0, size, &err, (void *)pvalloc);
}

EXPORT size_t malloc_usable_size(void *p)
{
    if (p == NULL)
        return 0;
    if (nmt__is_boot(p))
        return nmt__boot_size(p);
    if (NMT_UNLIKELY(nmt__real.malloc_usable_size == NULL)) {
        nmt__ensure_init();
        if (nmt__real.malloc_usable_size == NULL)
            return 0;
    }
    return nmt__real.malloc_usable_size(p);
}
