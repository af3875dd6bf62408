/* cfi_dso.c: a library test_cfi.c loads with dlopen after the object list
 * was built, and unloads. */
#include <stddef.h>

__attribute__((noinline)) long cfi_dso_sum(const long *v, size_t n)
{
    long s = 0;
    for (size_t i = 0; i < n; i++)
        s += v[i] * (long)i;
    return s;
}
