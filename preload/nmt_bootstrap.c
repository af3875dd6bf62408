/*
 * nmt_bootstrap.c: finding the real allocator, and surviving until we have.
 *
 * The real functions come from dlsym(RTLD_NEXT, ...), so nmtrace wraps
 * whatever allocator is next in the search order: glibc, or a jemalloc that is
 * also LD_PRELOADed after us. dlsym itself calls calloc (for its error
 * buffer) before we know the real calloc; such bootstrap allocations, and any
 * made while resolution is under way, are served from a static arena. Arena
 * blocks are never freed (free()'s slow path recognises and ignores them:
 * the arena's pages are pinned in the address filter, so their frees never
 * take the fast path); they are counted in rec.bootstrap_bytes.
 */
#include <dlfcn.h>
#include <errno.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "nmt_internal.h"

/* nmt__real.free until the real free is known. free()'s fast path calls it
 * for any pointer on a page the address filter does not mark, which the
 * arena's blocks never are (nmt__boot_pin): a block the program did not get
 * from us, as every allocation before resolution comes from the arena.
 * Resolve, then hand it to the real free; leak it when there is none, rather
 * than crash. */
static void free_unresolved(void *p)
{
    if (p == NULL || nmt__is_boot(p))
        return;
    if (!atomic_load_explicit(&nmt__disabled, memory_order_relaxed))
        nmt__resolve_real(); /* -EAGAIN inside a resolution: then leaked */
    if (!nmt__unresolved())
        nmt__real.free(p);
}

NMT_HIDDEN struct nmt_real nmt__real = {.free = free_unresolved};
NMT_HIDDEN _Atomic int nmt__resolved;

/* Each arena block has a 16-byte header holding its size, for realloc and
 * malloc_usable_size on bootstrap pointers. The writer's heap follows the
 * arena in the same array (nmt_wheap.c). */
NMT_HIDDEN char nmt__boot_arena[NMT_BOOT_ARENA_SIZE + NMT_WHEAP_SIZE] __attribute__((aligned(64)));
static _Atomic size_t boot_used;
static _Atomic int boot_pinned;
static int pinned_whole; /* the filter is pinned whole (nmt__every) */

NMT_HIDDEN void nmt__boot_pin(void)
{
    if (nmt__every) {
        /* Before recording starts, or while no hook is called (an attach
         * session's set-up): the relaxed byte loads of free() may race with
         * it only before anything is recorded. */
        memset((void *)nmt__filter.page, NMT_ADDRFILTER_SATURATED, sizeof(nmt__filter.page));
        pinned_whole = 1;
    } else {
        nmt_addrfilter_pin(&nmt__filter, nmt__boot_arena, NMT_BOOT_ARENA_SIZE + NMT_WHEAP_SIZE);
    }
    atomic_store_explicit(&boot_pinned, 1, memory_order_release);
}

/* Zeroes a static table without writing its whole pages: they are given
 * back (MADV_DONTNEED: private memory reads as zeros again), so that a fork
 * child that only execs copies none of them. Only the partial pages at its
 * ends, which it shares with other variables, are written. */
static void zero_static(void *p, size_t n)
{
    uintptr_t pg = (uintptr_t)sysconf(_SC_PAGESIZE);
    uintptr_t at = (uintptr_t)p, end = at + n;
    uintptr_t lo = (at + pg - 1) & ~(pg - 1), hi = end & ~(pg - 1);
    if (hi <= lo || madvise((void *)lo, hi - lo, MADV_DONTNEED) != 0) {
        memset(p, 0, n);
        return;
    }
    memset(p, 0, lo - at);
    memset((void *)hi, 0, end - hi);
}

NMT_HIDDEN void nmt__tables_reset(void)
{
    /* At rate 1 the live set stays empty and the filter is to stay pinned
     * whole: nothing to write (a fork child then copies none of it). */
    if (nmt__every && pinned_whole)
        return;
    pinned_whole = 0;
    zero_static(&nmt__filter, sizeof(nmt__filter));
    zero_static(&nmt__liveset, sizeof(nmt__liveset));
    nmt__boot_pin();
}

NMT_HIDDEN void *nmt__boot_alloc(size_t size, size_t align)
{
    if (!atomic_load_explicit(&boot_pinned, memory_order_acquire))
        nmt__boot_pin(); /* before the first block escapes */
    if (align < 16)
        align = 16;
    if (size > NMT_BOOT_ARENA_SIZE)
        return NULL;
    size_t need = (size + 15) & ~(size_t)15;
    size_t old = atomic_load_explicit(&boot_used, memory_order_relaxed);
    size_t start;
    do {
        start = (old + 16 + align - 1) & ~(align - 1);
        if (start + need > NMT_BOOT_ARENA_SIZE)
            return NULL;
    } while (!atomic_compare_exchange_weak(&boot_used, &old, start + need));
    char *p = nmt__boot_arena + start;
    memcpy(p - sizeof(size_t), &size, sizeof(size_t));
    return p; /* static storage: already zeroed, which calloc relies on */
}

NMT_HIDDEN size_t nmt__boot_size(const void *p)
{
    size_t size;
    memcpy(&size, (const char *)p - sizeof(size_t), sizeof(size_t));
    return size;
}

size_t nmt__boot_used(void)
{
    return atomic_load_explicit(&boot_used, memory_order_relaxed);
}

static _Atomic int resolving;

#define RESOLVE(name)                                                                              \
    do {                                                                                           \
        void *sym = dlsym(RTLD_NEXT, #name);                                                       \
        if (sym == NULL)                                                                           \
            ok = 0;                                                                                \
        memcpy(&r.name, &sym, sizeof(sym));                                                        \
    } while (0)

/* Resolves every real function once. Returns 0, or -ENOSYS when the core
 * allocator functions cannot be found (nmtrace then stays off). Concurrent
 * callers during resolution are served by the arena through the
 * nmt__unresolved() test in the hooks' slow paths. */
NMT_HIDDEN int nmt__resolve_real(void)
{
    if (!nmt__unresolved())
        return 0;
    int expected = 0;
    if (!atomic_compare_exchange_strong(&resolving, &expected, 1))
        return -EAGAIN;
    struct nmt_real r;
    memset(&r, 0, sizeof(r));
    int ok = 1;
    RESOLVE(malloc);
    RESOLVE(free);
    RESOLVE(calloc);
    RESOLVE(realloc);
    RESOLVE(posix_memalign);
    RESOLVE(aligned_alloc);
    RESOLVE(memalign);
    RESOLVE(valloc);
    RESOLVE(pvalloc);
    RESOLVE(malloc_usable_size);
    RESOLVE(mmap);
    RESOLVE(munmap);
    RESOLVE(mremap);
    RESOLVE(mprotect);
    if (!ok && (r.malloc == NULL || r.free == NULL || r.calloc == NULL || r.realloc == NULL ||
                r.mmap == NULL || r.munmap == NULL)) {
        atomic_store(&resolving, 0);
        return -ENOSYS;
    }
    /* The writer's heap serves from now on (its thread starts after this):
     * its pages are pinned before any of its blocks exists. */
    nmt__boot_pin();
    /* free() reads its member without a lock: that one pointer is stored on
     * its own, not by the struct copy. free()'s fast path may call the real
     * free as soon as it is stored, as it only gets pointers that are not
     * the arena's. Publish the flag last: the hooks test it to know
     * resolution is complete. */
    void (*real_free)(void *) = r.free;
    r.free = free_unresolved;
    nmt__real = r;
    atomic_signal_fence(memory_order_seq_cst); /* not merged into the copy */
    nmt__real.free = real_free;
    atomic_store_explicit(&nmt__resolved, 1, memory_order_release);
    return 0;
}
