/*
 * nmt_got_dlopen.c: the dlopen and dlmopen that attach mode writes into the
 * GOT entries of the process's objects (nmt_got.c), so that a library the
 * program loads after the attach has its allocation calls hooked before
 * dlopen returns to the program: from then on nothing it allocates is
 * missed. Not exported: under LD_PRELOAD every object calls our hooks
 * already, and the process's dlopen stays the C library's.
 *
 * The library's constructors run inside the real dlopen, before the new
 * object is patched: what they allocate is not recorded. An object loaded
 * by other means (a dlopen from an object whose entry was not rewritten)
 * is still found by the writer's tick (nmt__got_refresh).
 *
 * glibc resolves parts of a dlopen relative to the calling object, which
 * becomes this one. The namespace is kept: a caller outside the base one
 * gets dlmopen into its own (but dlopen(NULL) gives the base namespace's
 * program, not its namespace's first object). A bare name is searched in the caller's
 * DT_RPATH/DT_RUNPATH: objects that have one keep their entry (nmt_got.c),
 * so their search is unchanged. Left different: $ORIGIN in the name
 * itself expands to this library's directory (no JVM does that).
 */
#include <dlfcn.h>
#include <errno.h>
#include <link.h>

#include "nmt_got.h"

static void (*_Atomic after_load)(void);

void nmt__got_dl_after(void (*loaded)(void))
{
    after_load = loaded;
}

/* The namespace of the object the return address ra lies in. */
static Lmid_t caller_namespace(const void *ra)
{
    Dl_info info;
    struct link_map *lm = NULL;
    Lmid_t id = LM_ID_BASE;
    if (dladdr1(ra, &info, (void **)&lm, RTLD_DL_LINKMAP) == 0 || lm == NULL)
        return LM_ID_BASE;
    return dlinfo(lm, RTLD_DI_LMID, &id) == 0 ? id : LM_ID_BASE;
}

/* A new object is in the link map and relocated: patch it now, on the
 * caller's thread. errno is the real dlopen's, as the caller saw it. */
static void *patched(void *handle, int mode)
{
    void (*loaded)(void) = after_load;
    if (handle != NULL && !(mode & RTLD_NOLOAD) && loaded != NULL) {
        int e = errno;
        loaded();
        errno = e;
    }
    return handle;
}

void *nmt__got_dlopen(const char *file, int mode)
{
    if (file == NULL) /* the program itself (dlmopen refuses NULL outside the base) */
        return dlopen(file, mode);
    Lmid_t ns = caller_namespace(__builtin_return_address(0));
    void *h = ns == LM_ID_BASE ? dlopen(file, mode) : dlmopen(ns, file, mode);
    return patched(h, mode);
}

void *nmt__got_dlmopen(Lmid_t ns, const char *file, int mode)
{
    return patched(dlmopen(ns, file, mode), mode);
}
