/*
 * nmt_bootstrap.c: finding the real allocator, and surviving until we have.
 *
 * The real functions come from dlsym(RTLD_NEXT, ...), so nmtrace wraps
 * whatever allocator is next in the search order: glibc, or a jemalloc that is
 * also LD_PRELOADed after us. dlsym itself calls calloc (for its error
 * buffer) before we know the real calloc; such bootstrap allocations, and any
 * made while resolution is under way, are served from a static arena. Arena
 * blocks are never freed (free() recognises and ignores them); they are
 * counted in rec.bootstrap_bytes.
 */
#include <dlfcn.h>
#include <errno.h>
#include <string.h>

#include "nmt_internal.h"

NMT_HIDDEN struct nmt_real nmt__real;

/* Each arena block has a 16-byte header holding its size, for realloc and
 * malloc_usable_size on bootstrap pointers. The writer's heap follows the
 * arena in the same array (nmt_wheap.c). */
NMT_HIDDEN char nmt__boot_arena[NMT_BOOT_ARENA_SIZE + NMT_WHEAP_SIZE] __attribute__((aligned(64)));
static _Atomic size_t boot_used;

NMT_HIDDEN void *nmt__boot_alloc(size_t size, size_t align)
{
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
 * callers during resolution are served by the arena through the NULL check in
 * the hooks. */
NMT_HIDDEN int nmt__resolve_real(void)
{
    if (nmt__real.free != NULL)
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
    /* Publish free last: the hooks test it to know resolution is complete. */
    void (*real_free)(void *) = r.free;
    r.free = NULL;
    nmt__real = r;
    atomic_thread_fence(memory_order_release);
    nmt__real.free = real_free;
    return 0;
}
