/*
 * floor.c: libnmt_floor.so, the interposition floor for bench/run_churn.py
 * and bench/run_instr.py.
 *
 * An LD_PRELOAD library whose malloc, free, calloc and realloc do nothing
 * but forward to glibc through a function pointer, the shape of
 * libnmtrace.so's hooks without their countdown and address filter: what any
 * interposer pays (the extra call and indirect jump) and nmtrace cannot go
 * below. glibc's __libc_* entry points are the real functions, so no dlsym
 * bootstrap is needed; the rest of the malloc family is left to glibc, which
 * allocates from the same heap.
 */
#include <stddef.h>

extern void *__libc_malloc(size_t size);
extern void __libc_free(void *p);
extern void *__libc_calloc(size_t n, size_t size);
extern void *__libc_realloc(void *p, size_t size);

#define EXPORT __attribute__((visibility("default")))

/* Writable and not static, as the recorder's table of real functions is, so
 * that the compiler cannot fold it into direct calls: each hook is one
 * indirect jump through the table (`jmp *real(%rip)`), the recorder's own
 * tail call. A static table would become a jump to glibc's PLT entry, one
 * instruction more per call than the recorder pays. */
__attribute__((visibility("hidden"))) struct {
    void *(*malloc)(size_t);
    void (*free)(void *);
    void *(*calloc)(size_t, size_t);
    void *(*realloc)(void *, size_t);
} real = {__libc_malloc, __libc_free, __libc_calloc, __libc_realloc};

EXPORT void *malloc(size_t size)
{
    return real.malloc(size);
}

EXPORT void free(void *p)
{
    real.free(p);
}

EXPORT void *calloc(size_t n, size_t size)
{
    return real.calloc(n, size);
}

EXPORT void *realloc(void *p, size_t size)
{
    return real.realloc(p, size);
}
