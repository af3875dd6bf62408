/*
 * nmt_thread.c: the registry of per-thread rings.
 *
 * A thread gets a slot (a ring plus loss counters) at its first event. Slots
 * form a singly linked list that only grows, pushed with a CAS, so the writer
 * can walk it without a lock. When a thread exits, a pthread key destructor
 * marks its slot DEAD; the writer drains the ring and marks it FREE, and the
 * next new thread reuses it (the destructor wakes the writer for that). A
 * process that creates and ends thousands of threads therefore holds only as
 * many slots as it ever had threads alive at once. Slot memory comes from
 * the real mmap and is never returned.
 *
 * The same key tells the writer when the main thread ends with pthread_exit:
 * it is armed for the main thread from the start, slot or not.
 */
#include <pthread.h>
#include <sched.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>
#include <sys/resource.h>

#include "nmt_internal.h"

NMT_HIDDEN struct nmt_thread *_Atomic nmt__threads;
static pthread_key_t exit_key;
static int exit_key_ok;
static _Atomic uint32_t slot_serial;
static char main_mark; /* the key's value for a main thread without a slot */

static void on_thread_exit(void *arg)
{
    struct nmt_tls *t = &nmt__tls;
    t->exited++;
    if (arg != &main_mark) {
        struct nmt_thread *thr = arg;
        if (t->thr == thr)
            t->thr = NULL;
        atomic_store_explicit(&thr->state, NMT_SLOT_DEAD, memory_order_release);
        nmt__writer_wake(); /* drain the ring, free the slot for the next thread */
    }
    if (t->main_thread) {
        atomic_store_explicit(&nmt__main_exited, 1, memory_order_release);
        nmt__writer_wake();
    }
}

NMT_HIDDEN void nmt__thread_init_key(void)
{
    exit_key_ok = pthread_key_create(&exit_key, on_thread_exit) == 0;
}

/* Called on the thread that may be the main one (the constructor's, a fork
 * child's): if it is the thread-group leader, its pthread_exit is reported
 * to the writer. */
NMT_HIDDEN void nmt__thread_arm_main(void)
{
    if (gettid() != getpid())
        return;
    nmt__tls.main_thread = 1;
    if (exit_key_ok && pthread_getspecific(exit_key) == NULL)
        pthread_setspecific(exit_key, &main_mark);
}

/* Under a limit on the address space (ulimit -v) every ring comes out of
 * what the program was allowed, and a thread's first event is the wrong
 * time to find that the next pthread_create has no room for its stack: there
 * rings are kept at most this big (and counted in rec.small_rings). */
#define LIMITED_RING_CAP (256u << 10)

static uint32_t ring_capacity(void)
{
    uint32_t kib = nmt__cfg.ring_kib;
    uint32_t cap = 4096;
    while (cap < kib * 1024u && cap < (1u << 30))
        cap <<= 1;
    return cap;
}

static int address_space_limited(void)
{
    struct rlimit rl;
    return getrlimit(RLIMIT_AS, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY;
}

/* A ring that could not have its configured size (the address space is
 * limited (ulimit -v) or exhausted) is made smaller rather than not at all,
 * and the shortfall is counted (rec.small_rings): at rate 1 a small ring
 * fills sooner, and what that costs is counted as ring drops. */
static struct nmt_thread *slot_new(void)
{
    uint32_t want = ring_capacity(), cap = want;
    if (cap > LIMITED_RING_CAP && address_space_limited())
        cap = LIMITED_RING_CAP;
    size_t ring_off = (sizeof(struct nmt_thread) + 63) & ~(size_t)63;
    void *mem = MAP_FAILED;
    for (;;) {
        /* The real mmap: our own memory must not appear in the profile.
         * MAP_NORESERVE: a ring's pages are committed as it fills. */
        mem = nmt__real.mmap(NULL, ring_off + nmt_ring_footprint(cap), PROT_READ | PROT_WRITE,
                             MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
        if (mem != MAP_FAILED || cap <= 64u << 10)
            break;
        cap >>= 2;
    }
    if (mem == MAP_FAILED)
        return NULL;
    if (cap < want)
        atomic_fetch_add_explicit(&nmt__ctr.small_rings, 1, memory_order_relaxed);
    struct nmt_thread *thr = mem;
    memset(thr, 0, sizeof(*thr));
    thr->map_len = ring_off + nmt_ring_footprint(cap);
    thr->ring = (struct nmt_ring *)((char *)mem + ring_off);
    nmt_ring_init(thr->ring, cap);
    thr->serial = atomic_fetch_add_explicit(&slot_serial, 1, memory_order_relaxed);
    atomic_init(&thr->state, NMT_SLOT_OWNED);
    struct nmt_thread *head = atomic_load_explicit(&nmt__threads, memory_order_relaxed);
    do {
        thr->next = head;
    } while (!atomic_compare_exchange_weak_explicit(&nmt__threads, &head, thr, memory_order_release,
                                                    memory_order_relaxed));
    return thr;
}

/* Threads whose exit destructor has run can still allocate and free (other
 * keys' destructors, libc's teardown). They share one "late" slot, its
 * producers serialised by a spinlock: rare, and never on a live thread's
 * path. Taking a fresh slot instead would leave it owned by a dead thread. */
static struct nmt_thread *late_slot;
static atomic_flag late_lock = ATOMIC_FLAG_INIT;

NMT_HIDDEN struct nmt_thread *nmt__thread_late_lock(void)
{
    /* The holder may wait for room in the ring (a second at most): yield
     * the core rather than spin for that long. */
    for (unsigned spins = 0; atomic_flag_test_and_set_explicit(&late_lock, memory_order_acquire);
         spins++) {
        if (spins < 100)
            __builtin_ia32_pause();
        else
            sched_yield();
    }
    if (late_slot == NULL)
        late_slot = slot_new();
    if (late_slot == NULL)
        atomic_flag_clear_explicit(&late_lock, memory_order_release);
    return late_slot;
}

NMT_HIDDEN void nmt__thread_late_unlock(void)
{
    atomic_flag_clear_explicit(&late_lock, memory_order_release);
}

/* Called with the guard held, by the thread itself. NULL when no memory. */
NMT_HIDDEN struct nmt_thread *nmt__thread_claim(void)
{
    struct nmt_thread *thr = NULL;
    for (struct nmt_thread *s = atomic_load_explicit(&nmt__threads, memory_order_acquire); s;
         s = s->next) {
        int expected = NMT_SLOT_FREE;
        if (atomic_load_explicit(&s->state, memory_order_relaxed) == NMT_SLOT_FREE &&
            atomic_compare_exchange_strong_explicit(&s->state, &expected, NMT_SLOT_OWNED,
                                                    memory_order_acquire, memory_order_relaxed)) {
            thr = s;
            break;
        }
    }
    if (thr == NULL)
        thr = slot_new();
    if (thr != NULL && exit_key_ok)
        pthread_setspecific(exit_key, thr); /* arms on_thread_exit */
    return thr;
}

/* In a fork child only the forking thread exists: every other slot is
 * free, and all rings restart empty (their owners' half-written records
 * belong to threads that are not here). */
NMT_HIDDEN void nmt__threads_after_fork(struct nmt_thread *mine)
{
    atomic_flag_clear(&late_lock);
    for (struct nmt_thread *s = atomic_load_explicit(&nmt__threads, memory_order_acquire); s;
         s = s->next) {
        nmt_ring_init(s->ring, s->ring->cap);
        atomic_store_explicit(&s->drops, 0, memory_order_relaxed);
        atomic_store_explicit(&s->drop_bytes, 0, memory_order_relaxed);
        atomic_store_explicit(&s->free_drops, 0, memory_order_relaxed);
        atomic_store_explicit(&s->state,
                              s == mine || s == late_slot ? NMT_SLOT_OWNED : NMT_SLOT_FREE,
                              memory_order_relaxed);
    }
}
