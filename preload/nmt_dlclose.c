/*
 * nmt_dlclose.c: the exported dlclose, so that nmt_cfi.c never reads the
 * call-frame tables of an unloaded object (nmt_cfi.h). It is the dlclose
 * the process calls only under LD_PRELOAD (nmt_cfi_usable()).
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

#define EXPORT __attribute__((visibility("default")))

static _Atomic(void *) real_dlclose;

EXPORT int dlclose(void *handle)
{
    void *sym = atomic_load_explicit(&real_dlclose, memory_order_acquire);
    if (sym == NULL) {
        sym = dlsym(RTLD_NEXT, "dlclose");
        if (sym == NULL)
            return -1; /* no C library below us: nothing can be unloaded */
        atomic_store_explicit(&real_dlclose, sym, memory_order_release);
    }
    int (*real)(void *);
    memcpy(&real, &sym, sizeof(real));
    nmt_cfi_forget();
    int r = real(handle);
    nmt_cfi_forget();
    return r;
}
