/*
 * unwind_lib.c: call chains for the unwinder test (prog_unwind.c), built
 * several times with different code generation: with -O2
 * -fomit-frame-pointer (CFA on rsp, moving with every push), with -O0
 * -fno-omit-frame-pointer (CFA on rbp), and as two libraries the program
 * dlopens one after the other. UWT_TAG names each build's functions
 * (uwt_<tag>_entry and so on), so that the test can tell them apart.
 *
 * uwt_<tag>_entry(size, depth): entry -> vla (a variable-length array:
 * the CFA is on rbp whatever the flags) -> depth x recurse -> leaf, which
 * allocates size bytes and keeps the block (uwt_<tag>_kept) or frees it.
 */
#include <stdlib.h>
#include <string.h>

#define CAT3(a, b, c)  a##b##c
#define NAME3(a, b, c) CAT3(a, b, c)
#define NAME(x)        NAME3(uwt_, UWT_TAG, _##x)

#if defined(__clang__)
#define NOIPA __attribute__((noinline, used))
#else
#define NOIPA __attribute__((noipa, used))
#endif
/* Keeps a call from becoming a tail call, so its caller's frame stays. */
#define KEEP_FRAME() __asm__ volatile("" ::: "memory")

void *NAME(kept)[16];
static int nkept;

NOIPA void NAME(leaf)(size_t size, int keep)
{
    char *p = malloc(size);
    if (p == NULL)
        return;
    p[0] = 1;
    if (keep && nkept < 16)
        NAME(kept)[nkept++] = p;
    else
        free(p);
    KEEP_FRAME();
}

NOIPA void NAME(recurse)(size_t size, int keep, int depth)
{
    if (depth > 0)
        NAME(recurse)(size, keep, depth - 1);
    else
        NAME(leaf)(size, keep);
    KEEP_FRAME();
}

NOIPA void NAME(vla)(size_t size, int keep, int depth, int width)
{
    volatile char buf[width];
    memset((char *)buf, 0, (size_t)width);
    NAME(recurse)(size, keep, depth);
    buf[0] = buf[width - 1];
    KEEP_FRAME();
}

NOIPA void NAME(entry)(size_t size, int keep, int depth)
{
    NAME(vla)(size, keep, depth, 24 + (int)(size % 200));
    KEEP_FRAME();
}
