/*
 * rb_nounwind.c: code without unwind tables that allocates. Built with
 * -fno-asynchronous-unwind-tables -fno-unwind-tables: an unwinder that walks
 * a stack sampled in here has no CFI for this frame and must fall back on
 * probing memory (libunwind's validation) or give up, counted.
 */
#include <stdlib.h>
#include <string.h>

#include "rb_nounwind.h"

__attribute__((noinline)) unsigned long rb_nounwind_churn(int n)
{
    unsigned long sum = 0;
    for (int i = 0; i < n; i++) {
        size_t size = 32 + (size_t)(i % 97) * 8;
        char *p = malloc(size);
        if (p == NULL)
            return 0;
        memset(p, i & 0x7f, size);
        sum += (unsigned long)p[size - 1] + size;
        free(p);
    }
    return sum;
}
