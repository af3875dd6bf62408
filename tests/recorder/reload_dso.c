/*
 * reload_dso.c: a library prog_reload loads and unloads, built twice
 * (libreload_a.so, libreload_b.so) with a different RELOAD_FRAME: the same code at the same
 * offsets, whose frame is that many bytes larger. Loaded where the other was just unloaded, one has
 * the other's return address with another call-frame rule: an unwinder that kept the first
 * library's rules (an unload it did not see) walks the second's stacks wrong.
 */
#include <stdlib.h>

#if defined(__clang__)
#define NOIPA __attribute__((noinline, used))
#else
#define NOIPA __attribute__((noipa, used))
#endif

/* malloc from a frame of RELOAD_FRAME bytes more, kept across the call. */
NOIPA void *reload_alloc(size_t n)
{
    volatile char pad[RELOAD_FRAME];
    pad[0] = (char)n;
    void *p = malloc(n);
    pad[RELOAD_FRAME - 1] = pad[0];
    return p;
}
