/*
 * cfi_helper.c: code for test_cfi.c to look up, compiled twice into the
 * test (recorder.cmake): with frame pointers (CFI_NAME(f) = cfi_fp_f) and
 * without (cfi_nofp_f), so that both the rbp-based and the rsp-based rules
 * a compiler writes are in the test binary. The functions push registers,
 * adjust the stack by a variable amount and call out, which is what makes
 * a compiler write more than the entry rule.
 */
#include <stddef.h>
#include <string.h>

#include "cfi_helper.h"

__attribute__((noinline)) static long CFI_NAME(leaf)(const char *s, size_t n)
{
    long h = 5381;
    for (size_t i = 0; i < n; i++)
        h = h * 33 + s[i];
    return h;
}

__attribute__((noinline)) long CFI_NAME(vla)(size_t n)
{
    if (n == 0 || n > 4096)
        return 0;
    char buf[n];
    memset(buf, (int)(n & 0x7f), n);
    return CFI_NAME(leaf)(buf, n) + CFI_NAME(leaf)(buf, n / 2);
}

__attribute__((noinline)) long CFI_NAME(many)(long a, long b, long c, long d, long e, long f)
{
    long x[8];
    for (int i = 0; i < 8; i++)
        x[i] = a * i + b - c * d + e / (f | 1);
    long r = CFI_NAME(vla)((size_t)(x[3] & 255) + 1);
    for (int i = 0; i < 8; i++)
        r ^= x[i] * CFI_NAME(leaf)((const char *)&x[i], sizeof(x[i]));
    return r;
}
