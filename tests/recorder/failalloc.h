/*
 * failalloc.h: allocation-failure injection for unit tests of writer-side
 * tables. Including it in a test binary replaces malloc, calloc and realloc
 * with versions that fail once `failalloc_after` more calls have succeeded
 * (-1: never fail). Memory still comes from glibc (__libc_*), so free()
 * works unchanged. Not available under AddressSanitizer, which owns malloc:
 * FAILALLOC_ENABLED is 0 there and the tests that need it skip themselves.
 */
#ifndef NMT_TEST_FAILALLOC_H
#define NMT_TEST_FAILALLOC_H

#include <stddef.h>

#if defined(__SANITIZE_ADDRESS__)
#define FAILALLOC_ENABLED 0
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define FAILALLOC_ENABLED 0
#endif
#endif
#ifndef FAILALLOC_ENABLED
#define FAILALLOC_ENABLED 1
#endif

static long failalloc_after = -1;

#if FAILALLOC_ENABLED
extern void *__libc_malloc(size_t);
extern void *__libc_calloc(size_t, size_t);
extern void *__libc_realloc(void *, size_t);

static int failalloc_now(void)
{
    if (failalloc_after < 0)
        return 0;
    if (failalloc_after == 0)
        return 1;
    failalloc_after--;
    return 0;
}

void *malloc(size_t n)
{
    return failalloc_now() ? NULL : __libc_malloc(n);
}

void *calloc(size_t a, size_t b)
{
    return failalloc_now() ? NULL : __libc_calloc(a, b);
}

void *realloc(void *p, size_t n)
{
    return failalloc_now() ? NULL : __libc_realloc(p, n);
}
#endif

#endif
