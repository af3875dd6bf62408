/*
 * nmt_wheap.c: the writer thread's own heap.
 *
 * Left to glibc, the writer thread's first malloc gives it a malloc arena:
 * 64 MiB of address space reserved for one thread that needs a few MiB.
 * Under ulimit -v that reservation comes out of what the program may have,
 * and when it does not fit glibc tries it again at every allocation, so
 * that for an instant the program's next thread stack finds no room. So the
 * writer thread allocates from this heap instead: a static block right
 * after the bootstrap arena, which free(), realloc() and
 * malloc_usable_size() already recognise by address (nmt__is_boot), so the
 * application's free path gains nothing. Untouched, it is address space
 * only; large freed blocks give their pages back.
 *
 * Blocks are powers of two from 32 bytes, taken from a bump pointer and
 * recycled through one free list per size, under a spinlock (the writer is
 * the only allocator; another thread may free, such as the one taking the
 * final snapshot). Each block starts with a 16-byte header: its size class,
 * then the requested size where nmt__boot_size() reads it. A request that
 * does not fit (too big, heap used up, alignment above 16) returns NULL and
 * the caller uses the real allocator.
 */
#include <stdatomic.h>
#include <string.h>
#include <sys/mman.h>

#include "nmt_internal.h"

#define MIN_SHIFT 5
#define MAX_SHIFT 22 /* one block at most half the heap */
#define HDR       16u

static char *const heap = nmt__boot_arena + NMT_BOOT_ARENA_SIZE;
static size_t bump;
static void *free_list[MAX_SHIFT + 1];
static atomic_flag lock = ATOMIC_FLAG_INIT;
static int disabled; /* a fork child: the writer that owned the lists is gone */
/* Bytes of the blocks handed out and not freed, headers and rounding
 * included (rec.own_writer_heap); changed under the lock. */
static _Atomic size_t in_use;

static void take(void)
{
    while (atomic_flag_test_and_set_explicit(&lock, memory_order_acquire))
        __builtin_ia32_pause();
}

static void give(void)
{
    atomic_flag_clear_explicit(&lock, memory_order_release);
}

NMT_HIDDEN int nmt__wheap_owns(const void *p)
{
    return (uintptr_t)p - (uintptr_t)heap < NMT_WHEAP_SIZE;
}

static unsigned class_of(size_t size)
{
    unsigned k = MIN_SHIFT;
    while (k <= MAX_SHIFT && ((size_t)1 << k) - HDR < size)
        k++;
    return k;
}

NMT_HIDDEN void *nmt__wheap_alloc(size_t size)
{
    unsigned k = class_of(size);
    if (k > MAX_SHIFT || disabled)
        return NULL;
    take();
    char *b = free_list[k];
    if (b != NULL) {
        memcpy(&free_list[k], b + HDR, sizeof(void *));
    } else if (NMT_WHEAP_SIZE - bump >= ((size_t)1 << k)) {
        b = heap + bump;
        bump += (size_t)1 << k;
    }
    if (b != NULL)
        atomic_fetch_add_explicit(&in_use, (size_t)1 << k, memory_order_relaxed);
    give();
    if (b == NULL)
        return NULL;
    uint64_t hdr[2] = {k, size};
    memcpy(b, hdr, sizeof(hdr));
    return b + HDR;
}

NMT_HIDDEN void *nmt__wheap_calloc(size_t size)
{
    void *p = nmt__wheap_alloc(size);
    if (p != NULL)
        memset(p, 0, size); /* a recycled block holds old data */
    return p;
}

NMT_HIDDEN void nmt__wheap_free(void *p)
{
    if (disabled)
        return;
    char *b = (char *)p - HDR;
    uint64_t k;
    memcpy(&k, b, sizeof(k));
    if (k < MIN_SHIFT || k > MAX_SHIFT)
        return; /* not a block of ours: leak rather than corrupt */
    size_t len = (size_t)1 << k;
    if (len >= (64u << 10)) {
        /* Give the pages back; a later user gets zero pages. */
        uintptr_t lo = ((uintptr_t)p + sizeof(void *) + 4095) & ~(uintptr_t)4095;
        uintptr_t hi = ((uintptr_t)b + len) & ~(uintptr_t)4095;
        if (hi > lo)
            madvise((void *)lo, hi - lo, MADV_DONTNEED);
    }
    take();
    memcpy(p, &free_list[k], sizeof(void *));
    free_list[k] = b;
    atomic_fetch_sub_explicit(&in_use, len, memory_order_relaxed);
    give();
}

/* realloc of a heap block: in place while it fits its block, else moved by
 * the caller's allocator (this heap on the writer thread, the real one
 * elsewhere). */
NMT_HIDDEN void *nmt__wheap_realloc(void *p, size_t size, void *(*alloc)(size_t))
{
    char *b = (char *)p - HDR;
    uint64_t hdr[2];
    memcpy(hdr, b, sizeof(hdr));
    if (size == 0) {
        nmt__wheap_free(p);
        return NULL;
    }
    if (size <= ((size_t)1 << hdr[0]) - HDR && !disabled) {
        hdr[1] = size;
        memcpy(b, hdr, sizeof(hdr));
        return p;
    }
    void *q = alloc(size);
    if (q != NULL) {
        memcpy(q, p, hdr[1] < size ? hdr[1] : size);
        nmt__wheap_free(p);
    }
    return q;
}

NMT_HIDDEN size_t nmt__wheap_in_use(void)
{
    return atomic_load_explicit(&in_use, memory_order_relaxed);
}

NMT_HIDDEN void nmt__wheap_after_fork(void)
{
    atomic_flag_clear(&lock);
    disabled = 1; /* the lists may be half-updated: leak them, use glibc */
}
