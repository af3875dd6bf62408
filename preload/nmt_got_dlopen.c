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
 * so their search is unchanged. $ORIGIN in the name itself would expand to
 * this library's directory: it is expanded here, to the calling object's.
 */
#include <dlfcn.h>
#include <errno.h>
#include <limits.h>
#include <link.h>
#include <stdlib.h>
#include <string.h>

#include "nmt_got.h"

static void (*_Atomic after_load)(void);

void nmt__got_dl_after(void (*loaded)(void))
{
    after_load = loaded;
}

/* The object the return address ra lies in, or NULL. */
static struct link_map *caller_map(const void *ra)
{
    Dl_info info;
    struct link_map *lm = NULL;
    return dladdr1(ra, &info, (void **)&lm, RTLD_DL_LINKMAP) != 0 ? lm : NULL;
}

/* The namespace of the calling object lm. */
static Lmid_t caller_namespace(struct link_map *lm)
{
    Lmid_t id = LM_ID_BASE;
    return lm != NULL && dlinfo(lm, RTLD_DI_LMID, &id) == 0 ? id : LM_ID_BASE;
}

/* The directory of the calling object lm, as glibc takes it for $ORIGIN
 * (the object's real path without its last part), in dir (PATH_MAX bytes).
 * 0 on success. */
static int caller_origin(const struct link_map *lm, char *dir)
{
    if (lm == NULL)
        return -1;
    const char *name = lm->l_name[0] != '\0' ? lm->l_name : "/proc/self/exe";
    if (realpath(name, dir) == NULL)
        return -1;
    char *slash = strrchr(dir, '/');
    if (slash == NULL)
        return -1;
    slash[slash == dir] = '\0'; /* "/lib.so" has the origin "/" */
    return 0;
}

/* file with each $ORIGIN or ${ORIGIN} replaced by the calling object's
 * directory, in buf; file itself when it has none, or when the directory
 * is unknown or the result does not fit (then glibc expands it, to ours). */
static const char *with_origin(const char *file, const struct link_map *lm, char *buf, size_t size)
{
    if (strstr(file, "ORIGIN") == NULL)
        return file;
    char dir[PATH_MAX];
    if (caller_origin(lm, dir) != 0)
        return file;
    size_t n = 0, dlen = strlen(dir);
    for (const char *p = file; *p != '\0';) {
        size_t skip = 0;
        if (strncmp(p, "${ORIGIN}", 9) == 0)
            skip = 9;
        else if (strncmp(p, "$ORIGIN", 7) == 0 &&
                 !(p[7] == '_' || (p[7] >= 'A' && p[7] <= 'Z') || (p[7] >= 'a' && p[7] <= 'z') ||
                   (p[7] >= '0' && p[7] <= '9')))
            skip = 7;
        if (skip != 0) {
            if (n + dlen >= size)
                return file;
            memcpy(buf + n, dir, dlen);
            n += dlen;
            p += skip;
        } else {
            if (n + 1 >= size)
                return file;
            buf[n++] = *p++;
        }
    }
    buf[n] = '\0';
    return buf;
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
    struct link_map *lm = caller_map(__builtin_return_address(0));
    char buf[PATH_MAX];
    file = with_origin(file, lm, buf, sizeof(buf));
    Lmid_t ns = caller_namespace(lm);
    void *h = ns == LM_ID_BASE ? dlopen(file, mode) : dlmopen(ns, file, mode);
    return patched(h, mode);
}

void *nmt__got_dlmopen(Lmid_t ns, const char *file, int mode)
{
    char buf[PATH_MAX];
    if (file != NULL)
        file = with_origin(file, caller_map(__builtin_return_address(0)), buf, sizeof(buf));
    return patched(dlmopen(ns, file, mode), mode);
}
