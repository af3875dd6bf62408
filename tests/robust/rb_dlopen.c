/*
 * rb_dlopen.c: dlopen/dlclose of a small object (rb_plugin.c) in a loop,
 * calling into it each time: sampled stacks pass through code that is then
 * unmapped, and mapped again elsewhere.
 *   rb_dlopen PLUGIN N
 */
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>

#include "rb_common.h"

int main(int argc, char **argv)
{
    if (argc < 3) {
        fprintf(stderr, "usage: rb_dlopen PLUGIN N\n");
        return 2;
    }
    int n = atoi(argv[2]);
    unsigned long sum = 0;
    for (int i = 0; i < n; i++) {
        void *h = dlopen(argv[1], RTLD_NOW | RTLD_LOCAL);
        rb_require(h != NULL, "dlopen");
        unsigned long (*work)(int) = (unsigned long (*)(int))dlsym(h, "rb_plugin_work");
        rb_require(work != NULL, "dlsym rb_plugin_work");
        sum += work(i);
        rb_require(dlclose(h) == 0, "dlclose");
        if (i % 8 == 0)
            rb_leak_site(3000);
    }
    printf("%d loads, sum %lu\n", n, sum);
    printf("leaked %llu\n", (unsigned long long)rb_leaked_bytes());
    return 0;
}
