/*
 * nmt_cfi.c: the list of loaded objects behind nmt_cfi_find() (nmt_cfi.h).
 *
 * The list is an array of executable segments sorted by address, each with
 * its object's tables (struct nmt_cfi_obj). Two static arrays take turns:
 * a rebuild (one thread at a time, the others do not wait: they answer
 * NMT_CFI_NOMODULE meanwhile) fills the one not published last, and
 * publishes it by a compare-and-swap of `nmt__cfi_pub`, which holds the generation
 * (upper 32 bits) and the index of the published array (3: none). Each
 * array has a sequence number, odd while it is being written (a seqlock):
 * a reader that loaded `nmt__cfi_pub` long ago and finds its array rewritten under
 * it sees the number change and looks again. Readers copy the one entry
 * they need, field by field, and check the number after the copy. The
 * array's words are written with release stores and read with acquire
 * loads (plain moves on x86-64), so a reader that saw any word of a rewrite
 * also sees the odd number that began it, without fences (which
 * ThreadSanitizer does not model). No reader ever waits, locks, allocates or
 * makes a system call.
 *
 * Each answer is checked against the dynamic linker's own lock-free
 * lookup, _dl_find_object (glibc 2.35 and later): the same object, its
 * tables at the same place and inside what is mapped there now. When they
 * differ (an object loaded since the list was built, a list built in the
 * middle of a dlopen, an object unloaded unseen) the list is rebuilt at
 * once; while another thread rebuilds it the answer is NMT_CFI_NOMODULE.
 * An address in no object for both (JIT code) costs no look at the link
 * map at all. Hits still look at it at most once per NMT_CFI_VERIFY_NS
 * (below), for the rules cached by address of an object unloaded unseen.
 *
 * With an older C library: when an address is in no known segment, the
 * list is rebuilt only when the link map changed (dl_iterate_phdr's counts
 * of objects added and removed differ from the last build's), or when
 * there is no list (nmt_cfi_forget() dropped it). Code outside every
 * object misses all the time, so that check itself, one dl_iterate_phdr
 * call that stops at its first object, is made at most once per
 * NMT_CFI_CHECK_NS (a coarse clock read through the vDSO): an object
 * loaded meanwhile is found at the next check. glibc also unloads some
 * objects itself, without going through the exported dlclose (iconv's
 * modules, when no descriptor uses them any more): so hits look at the
 * link map too, at most once per NMT_CFI_VERIFY_NS, and a list that names
 * an object since removed is replaced within that time.
 *
 * Every publication and every forget moves the generation on: a cache of
 * rules (or of NMT_CFI_NOMODULE answers) keyed by address is then stale.
 * A forget between a rebuild's walk and its publication makes the
 * publication fail (the compare-and-swap sees the new generation): a list
 * that may name an object being unloaded is never published.
 */
#include <dlfcn.h>
#include <stdatomic.h>
#include <time.h>

#include "nmt_cfi.h"
#include "nmt_cfi_eval.h"
#include "nmt_internal.h"

#define NMT_CFI_MAX       1024
#define NMT_CFI_CHECK_NS  2000000ull   /* at most one link-map check per 2 ms of misses */
#define NMT_CFI_VERIFY_NS 100000000ull /* and one per 100 ms of hits */
#define TAB_NONE          3u
#define FIELDS            (sizeof(struct nmt_cfi_obj) / sizeof(uintptr_t))

struct tab {
    _Atomic uint32_t seq; /* odd while being written */
    uint32_t n;           /* read and written with __atomic builtins */
    struct nmt_cfi_obj o[NMT_CFI_MAX];
};

static struct tab tabs[2];
/* generation << 32 | published index */
NMT_HIDDEN NMT_READ_MOSTLY _Atomic uint64_t nmt__cfi_pub = TAB_NONE;
static _Atomic uint64_t next_check_ns;  /* rate limit of link-map checks after misses */
static _Atomic uint64_t next_verify_ns; /* and after hits */
static atomic_flag building = ATOMIC_FLAG_INIT;

/* The builder's own state, under `building`. */
static struct nmt_cfi_obj scratch[NMT_CFI_MAX];
static unsigned last_built = 1;
static unsigned long long built_adds, built_subs;
static int built_once;

_Static_assert(sizeof(struct nmt_cfi_obj) % sizeof(uintptr_t) == 0, "nmt_cfi_obj: words only");

/* ---- readers ---- */

/* Copies the segment holding ip from array idx into *o. Returns 1 when
 * found, 0 when no segment holds ip, -1 when the array changed meanwhile. */
static int lookup(unsigned idx, uintptr_t ip, struct nmt_cfi_obj *o)
{
    struct tab *t = &tabs[idx];
    uint32_t s1 = atomic_load_explicit(&t->seq, memory_order_acquire);
    if (s1 & 1)
        return -1;
    uint32_t n = __atomic_load_n(&t->n, __ATOMIC_ACQUIRE);
    if (n > NMT_CFI_MAX)
        n = NMT_CFI_MAX;
    uint32_t lo = 0, hi = n; /* the last segment starting at or below ip is below hi */
    while (lo < hi) {
        uint32_t mid = lo + (hi - lo) / 2;
        if (__atomic_load_n(&t->o[mid].lo, __ATOMIC_ACQUIRE) <= ip)
            lo = mid + 1;
        else
            hi = mid;
    }
    if (lo == 0)
        return atomic_load_explicit(&t->seq, memory_order_relaxed) == s1 ? 0 : -1;
    const uintptr_t *src = (const uintptr_t *)&t->o[lo - 1];
    uintptr_t *dst = (uintptr_t *)o;
    for (size_t i = 0; i < FIELDS; i++)
        dst[i] = __atomic_load_n(&src[i], __ATOMIC_ACQUIRE);
    if (atomic_load_explicit(&t->seq, memory_order_relaxed) != s1)
        return -1;
    return ip >= o->lo && ip < o->hi;
}

/* ---- the builder ---- */

struct walk {
    int check_only; /* stop at the first object if the link map is unchanged */
    int same;
    unsigned n;
    unsigned long long adds, subs;
};

/* One object: its executable segments, each with the object's tables. */
static int walk_one(struct dl_phdr_info *info, size_t size, void *arg)
{
    struct walk *w = arg;
    if (size < offsetof(struct dl_phdr_info, dlpi_subs) + sizeof(info->dlpi_subs))
        return 1; /* no counts: a C library older than any this runs on */
    w->adds = info->dlpi_adds;
    w->subs = info->dlpi_subs;
    if (w->check_only && w->adds == built_adds && w->subs == built_subs) {
        w->same = 1;
        return 1;
    }
    w->check_only = 0;
    struct nmt_cfi_obj d;
    int described = 0;
    for (unsigned i = 0; i < info->dlpi_phnum && w->n < NMT_CFI_MAX; i++) {
        const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
        if (ph->p_type != PT_LOAD || !(ph->p_flags & PF_X) || ph->p_memsz == 0)
            continue;
        if (!described)
            nmt__cfi_describe(&d, info);
        described = 1;
        d.lo = info->dlpi_addr + ph->p_vaddr;
        d.hi = d.lo + ph->p_memsz;
        scratch[w->n++] = d;
    }
    return 0;
}

/* Insertion sort by start: a few hundred segments, rebuilt rarely. */
static void sort_scratch(unsigned n)
{
    for (unsigned i = 1; i < n; i++) {
        struct nmt_cfi_obj v = scratch[i];
        unsigned j = i;
        for (; j > 0 && scratch[j - 1].lo > v.lo; j--)
            scratch[j] = scratch[j - 1];
        scratch[j] = v;
    }
}

/* Writes scratch[0..n) into array idx under its sequence number. */
static void store(unsigned idx, unsigned n)
{
    struct tab *t = &tabs[idx];
    uint32_t s = atomic_load_explicit(&t->seq, memory_order_relaxed);
    atomic_store_explicit(&t->seq, s + 1, memory_order_relaxed);
    for (unsigned k = 0; k < n; k++) {
        const uintptr_t *src = (const uintptr_t *)&scratch[k];
        uintptr_t *dst = (uintptr_t *)&t->o[k];
        for (size_t i = 0; i < FIELDS; i++)
            __atomic_store_n(&dst[i], src[i], __ATOMIC_RELEASE);
    }
    __atomic_store_n(&t->n, n, __ATOMIC_RELEASE);
    atomic_store_explicit(&t->seq, s + 2, memory_order_release);
}

/* The coarse monotonic clock (a vDSO read, no system call), 0 if none. */
static uint64_t coarse_ns(void)
{
    struct timespec ts;
    if (clock_gettime(CLOCK_MONOTONIC_COARSE, &ts) != 0)
        return 0;
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* Rebuilds the list seen as p, unless the link map is unchanged and p has
 * a list. Returns 1 when a new list was published. Under `building`. */
static int rebuild(uint64_t p)
{
    struct walk w = {.check_only = built_once && (p & 3) != TAB_NONE};
    nmt__dl_iterate_phdr(walk_one, &w);
    if (w.same)
        return 0;
    sort_scratch(w.n);
    unsigned idx = last_built ^ 1;
    store(idx, w.n);
    last_built = idx;
    built_adds = w.adds;
    built_subs = w.subs;
    built_once = 1;
    uint64_t np = (((p >> 32) + 1) << 32) | idx;
    if (!atomic_compare_exchange_strong_explicit(&nmt__cfi_pub, &p, np, memory_order_acq_rel,
                                                 memory_order_relaxed))
        return 0;
    /* A list just built needs no look from the hits for a while. */
    atomic_store_explicit(&next_verify_ns, coarse_ns() + NMT_CFI_VERIFY_NS, memory_order_relaxed);
    return 1;
}

/* 1 when the time in *next has come, which then moves period on (one
 * caller wins). */
static int due(_Atomic uint64_t *next, uint64_t period)
{
    uint64_t now = coarse_ns();
    if (now == 0)
        return 0;
    uint64_t at = atomic_load_explicit(next, memory_order_relaxed);
    return now >= at && atomic_compare_exchange_strong_explicit(
                            next, &at, now + period, memory_order_relaxed, memory_order_relaxed);
}

/* A look at the link map for the list seen as p, when one is due (always
 * when there is no list, or next is NULL): 1 when a new list is published. */
static int refresh(uint64_t p, _Atomic uint64_t *next, uint64_t period)
{
    if ((p & 3) != TAB_NONE && next != NULL && !due(next, period))
        return 0;
    /* Inside the fork gate from start to end: a fork child never inherits
     * `building` set by a thread it does not have. */
    nmt__gate_enter();
    int r = 0;
    if (!atomic_flag_test_and_set_explicit(&building, memory_order_acquire)) {
        r = rebuild(p);
        atomic_flag_clear_explicit(&building, memory_order_release);
    } /* else another thread is at it: no waiting */
    nmt__gate_leave();
    return r;
}

/* ---- the dynamic linker's own answer ---- */

#if defined(DLFO_STRUCT_HAS_EH_DBASE) && defined(__GLIBC__)
/* glibc 2.35 and later: lock-free, no system call, safe in a signal
 * handler. Weak: NULL with an older C library at run time. */
extern int _dl_find_object(void *address, struct dl_find_object *result) __attribute__((weak));
#endif

/* Whether the list's answer for ip (r: 1, segment o holds it; 0, no
 * segment does) is the link map's now, by _dl_find_object: 1 yes, 0 no
 * (the list is behind: an object loaded since, or one unloaded unseen), -1
 * when the C library cannot say. */
static int linker_agrees(uintptr_t ip, int r, const struct nmt_cfi_obj *o)
{
#if defined(DLFO_STRUCT_HAS_EH_DBASE) && defined(__GLIBC__)
    if (_dl_find_object == NULL)
        return -1;
    struct dl_find_object f;
    if (_dl_find_object((void *)ip, &f) != 0)
        return r == 0; /* in no object: JIT code, anonymous memory */
    uintptr_t lo = (uintptr_t)f.dlfo_map_start, hi = (uintptr_t)f.dlfo_map_end;
    /* The same tables at the same place, and everything the evaluation
     * may read inside the object mapped there now. */
    return r > 0 && (uintptr_t)f.dlfo_eh_frame == o->hdr && o->lo >= lo && o->hi <= hi &&
           (o->status != NMT_CFI_OK || (o->eh_lo >= lo && o->eh_hi <= hi && o->table >= lo &&
                                        o->count <= (hi - o->table) / 8));
#else
    (void)ip, (void)r, (void)o;
    return -1;
#endif
}

/* ---- the interface ---- */

NMT_HIDDEN enum nmt_cfi_result nmt_cfi_find(uintptr_t ip, struct nmt_cfi_rule *out)
{
    for (int tries = 0; tries < 3; tries++) {
        uint64_t p = atomic_load_explicit(&nmt__cfi_pub, memory_order_acquire);
        struct nmt_cfi_obj o;
        int r = (p & 3) == TAB_NONE ? 0 : lookup((unsigned)(p & 3), ip, &o);
        if (r < 0)
            continue; /* rewritten under us: look again */
        int agrees = linker_agrees(ip, r, &o);
        if (agrees > 0 && r == 0)
            return NMT_CFI_NOMODULE;
        if (agrees == 0) {
            /* Not o's tables (it may be gone): the list again now, or no
             * answer while another thread builds it. */
            if (!refresh(p, NULL, 0))
                return NMT_CFI_NOMODULE;
            continue;
        }
        /* A hit (the linker agrees, or cannot say) still looks at the link
         * map once per NMT_CFI_VERIFY_NS: an object glibc unloaded by itself
         * then leaves the list, and the rules cached for its addresses go
         * with the generation. */
        if (r > 0 && !refresh(p, &next_verify_ns, NMT_CFI_VERIFY_NS))
            return nmt__cfi_eval(&o, ip, out);
        if (r == 0 && !refresh(p, &next_check_ns, NMT_CFI_CHECK_NS))
            return NMT_CFI_NOMODULE;
    }
    return NMT_CFI_NOMODULE;
}

NMT_HIDDEN void nmt_cfi_forget(void)
{
    uint64_t p = atomic_load_explicit(&nmt__cfi_pub, memory_order_relaxed);
    while (!atomic_compare_exchange_weak_explicit(&nmt__cfi_pub, &p,
                                                  (((p >> 32) + 1) << 32) | TAB_NONE,
                                                  memory_order_acq_rel, memory_order_relaxed))
        ;
}
