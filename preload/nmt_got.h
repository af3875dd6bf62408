/*
 * nmt_got.h: hooks without LD_PRELOAD, by rewriting the GOT entries of every
 * loaded object (nmt_got.c). Used when libnmtrace.so is loaded into a live
 * process (nmt_attach.c) and its exported malloc family is not the one the
 * process calls.
 */
#ifndef NMT_GOT_H
#define NMT_GOT_H

#include <dlfcn.h>
#include <stddef.h>

/* Points the allocation entries (malloc family, mmap family, dlopen,
 * dlclose) of every loaded object but ours and the dynamic linker at our hooks, and
 * remembers what they held. Objects loaded later through a hooked dlopen
 * are patched as they come. Returns the number of entries patched, or
 * -errno. */
int nmt__got_install(void);

/* Writer thread, at its tick while attached: patches the objects loaded
 * since the last look (no system call when none was). */
void nmt__got_refresh(void) __attribute__((weak)); /* the writer's unit test links without it */

/* The hooks written into dlopen and dlmopen entries (nmt_got_dlopen.c):
 * after the real call loaded something, they call the function given to
 * nmt__got_dl_after, which patches the new objects on the calling thread
 * (nmt_got.c sets it: the two files do not call each other both ways). */
void *nmt__got_dlopen(const char *file, int mode);
void *nmt__got_dlmopen(Lmid_t ns, const char *file, int mode);
void nmt__got_dl_after(void (*loaded)(void));

/* The hook written into dlclose entries (nmt_dlclose.c): the process's
 * dlclose with nmt_cfi_forget() around it, so that the fast unwinder may
 * read call-frame tables while attached. _resolve finds the process's
 * dlclose first and returns the hook, or NULL when there is none to call. */
int nmt__got_dlclose(void *handle);
void *nmt__got_dlclose_resolve(void);

/* After nmt__got_install: sets nmt__attach_unloads_seen, and returns 1,
 * when every dlclose entry of the objects patched so far points at
 * nmt__got_dlclose (none failed, none was left out for want of room). An
 * entry missed later (an object patched by got_loaded or the writer's tick)
 * clears it again. */
int nmt__got_unloads_start(void);

/* Puts back every entry still pointing at our hook and forgets the list.
 * Returns the number of entries restored. */
int nmt__got_restore(void);

/* Entries patched now (for the profile's INFO). */
size_t nmt__got_count(void);

#endif
