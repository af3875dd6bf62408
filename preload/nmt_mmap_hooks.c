/*
 * nmt_mmap_hooks.c: the interposed mmap family.
 *
 * Every call is recorded with its stack (mmap is a syscall already; the cost
 * of a stack is small beside it). Ordering matters across threads: when one
 * thread unmaps a range and another maps the same addresses a moment later,
 * the writer must apply the two in that order. So the destructive calls
 * (munmap, mprotect, MAP_FIXED mmap, whose target is known in advance) take
 * their sequence number and publish their event *before* the syscall; a
 * mapping at a kernel-chosen address is published after it. The writer
 * applies mmap events sorted by sequence (nmt_writer.c explains the
 * hold-back that makes this safe). A destructive call that then fails is
 * rare (EINVAL, ENOMEM) and is counted.
 */
#include <errno.h>
#include <stdarg.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "nmt_internal.h"

#define EXPORT __attribute__((visibility("default")))

static void *real_mmap(void *addr, size_t len, int prot, int flags, int fd, off_t off)
{
    if (NMT_UNLIKELY(nmt__real.mmap == NULL)) {
        nmt__ensure_init();
        if (nmt__real.mmap == NULL)
            return (void *)syscall(SYS_mmap, addr, len, prot, flags, fd, off);
    }
    return nmt__real.mmap(addr, len, prot, flags, fd, off);
}

EXPORT void *mmap(void *addr, size_t len, int prot, int flags, int fd, off_t off)
{
    if (!nmt__recording(&nmt__tls))
        return real_mmap(addr, len, prot, flags, fd, off);
    int fixed = (flags & MAP_FIXED) && !(flags & MAP_FIXED_NOREPLACE);
    uint64_t pf = (uint64_t)(uint32_t)prot | ((uint64_t)(uint32_t)flags << 32);
    if (fixed) {
        nmt__record_mmap(NMT_EV_MMAP, (uintptr_t)addr, len, pf, fd >= 0, (void *)mmap,
                         nmt__seq_take());
        void *r = real_mmap(addr, len, prot, flags, fd, off);
        if (r == MAP_FAILED)
            atomic_fetch_add_explicit(&nmt__ctr.mmap_failed_after_record, 1, memory_order_relaxed);
        return r;
    }
    void *r = real_mmap(addr, len, prot, flags, fd, off);
    if (r != MAP_FAILED) {
        int saved = errno;
        nmt__record_mmap(NMT_EV_MMAP, (uintptr_t)r, len, pf, fd >= 0, (void *)mmap,
                         nmt__seq_take());
        errno = saved;
    }
    return r;
}

EXPORT void *mmap64(void *addr, size_t len, int prot, int flags, int fd, off_t off)
    __attribute__((alias("mmap")));

EXPORT int munmap(void *addr, size_t len)
{
    if (NMT_UNLIKELY(nmt__real.munmap == NULL)) {
        nmt__ensure_init();
        if (nmt__real.munmap == NULL)
            return (int)syscall(SYS_munmap, addr, len);
    }
    if (!nmt__recording(&nmt__tls))
        return nmt__real.munmap(addr, len);
    int saved = errno;
    nmt__record_mmap(NMT_EV_MUNMAP, (uintptr_t)addr, len, 0, 0, (void *)munmap, nmt__seq_take());
    errno = saved;
    int r = nmt__real.munmap(addr, len);
    if (r != 0)
        atomic_fetch_add_explicit(&nmt__ctr.mmap_failed_after_record, 1, memory_order_relaxed);
    return r;
}

EXPORT int mprotect(void *addr, size_t len, int prot)
{
    if (NMT_UNLIKELY(nmt__real.mprotect == NULL)) {
        nmt__ensure_init();
        if (nmt__real.mprotect == NULL)
            return (int)syscall(SYS_mprotect, addr, len, prot);
    }
    if (!nmt__recording(&nmt__tls))
        return nmt__real.mprotect(addr, len, prot);
    int saved = errno;
    nmt__record_mmap(NMT_EV_MPROTECT, (uintptr_t)addr, len, (uint32_t)prot, 0, (void *)mprotect,
                     nmt__seq_take());
    errno = saved;
    int r = nmt__real.mprotect(addr, len, prot);
    if (r != 0)
        atomic_fetch_add_explicit(&nmt__ctr.mmap_failed_after_record, 1, memory_order_relaxed);
    return r;
}

EXPORT void *mremap(void *old, size_t old_len, size_t new_len, int flags, ...)
{
    void *want = NULL;
    if (flags & MREMAP_FIXED) {
        va_list ap;
        va_start(ap, flags);
        want = va_arg(ap, void *);
        va_end(ap);
    }
    if (NMT_UNLIKELY(nmt__real.mremap == NULL)) {
        nmt__ensure_init();
        if (nmt__real.mremap == NULL)
            return (void *)syscall(SYS_mremap, old, old_len, new_len, flags, want);
    }
    if (!nmt__recording(&nmt__tls))
        return nmt__real.mremap(old, old_len, new_len, flags, want);
    /* The sequence is taken before the call: the old range may be reused by
     * another thread as soon as the kernel has moved it. */
    uint64_t seq = nmt__seq_take();
    void *r = nmt__real.mremap(old, old_len, new_len, flags, want);
    if (r != MAP_FAILED) {
        int saved = errno;
        nmt__record_mmap(NMT_EV_MREMAP, (uintptr_t)old, old_len, (uintptr_t)r, new_len,
                         (void *)mremap, seq);
        errno = saved;
    }
    return r;
}
