/*
 * nmt_dlclose.c: the dlclose the process calls, so that nmt_cfi.c never
 * reads the call-frame tables of an unloaded object (nmt_cfi.h). Under
 * LD_PRELOAD it is the exported dlclose; in a process we were loaded into
 * late, nmt__got_dlclose, which an attach writes into the dlclose entries
 * of the process's GOTs (nmt_got.c). Either is what nmt_cfi_usable()
 * counts on.
 *
 * The object list is forgotten before the real dlclose (no lookup starts
 * reading the object's tables from then on) and again after it (a list
 * rebuilt meanwhile, while the object was still in the link map, is
 * dropped). Neither waits for anything: nmt_cfi_forget() is one atomic
 * compare-and-swap. The real dlclose is looked up on first use; dlsym's
 * own allocations go through the hooks like any other.
 */
#include <dlfcn.h>
#include <stdatomic.h>
#include <string.h>

#include "nmt_cfi.h"
#include "nmt_got.h"

#define EXPORT __attribute__((visibility("default")))

static _Atomic(void *) real_dlclose;

/* The real dlclose (sym, never NULL) of handle, with the object list
 * forgotten around it. */
static int forget_around(void *sym, void *handle)
{
    int (*real)(void *);
    memcpy(&real, &sym, sizeof(real));
    nmt_cfi_forget();
    int r = real(handle);
    nmt_cfi_forget();
    return r;
}

EXPORT int dlclose(void *handle)
{
    void *sym = atomic_load_explicit(&real_dlclose, memory_order_acquire);
    if (sym == NULL) {
        sym = dlsym(RTLD_NEXT, "dlclose");
        if (sym == NULL)
            return -1; /* no C library below us: nothing can be unloaded */
        atomic_store_explicit(&real_dlclose, sym, memory_order_release);
    }
    return forget_around(sym, handle);
}

/* Attach mode: our object came after the C library in the search order, so
 * the first dlclose in the global scope is the process's own. Looked up by
 * the attach before any entry points at nmt__got_dlclose; NULL when the
 * first one found is ours after all (then no entry is rewritten). */
static void *got_real_dlclose;

void *nmt__got_dlclose_resolve(void)
{
    void *sym = dlsym(RTLD_DEFAULT, "dlclose");
    Dl_info found, self;
    if (sym == NULL || !dladdr(sym, &found) || !dladdr((void *)forget_around, &self) ||
        found.dli_fbase == self.dli_fbase)
        return NULL;
    __atomic_store_n(&got_real_dlclose, sym, __ATOMIC_RELEASE);
    return (void *)nmt__got_dlclose;
}

int nmt__got_dlclose(void *handle)
{
    return forget_around(__atomic_load_n(&got_real_dlclose, __ATOMIC_ACQUIRE), handle);
}
