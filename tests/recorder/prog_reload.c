/*
 * prog_reload.c: stacks through libraries loaded and unloaded, one usually
 * where the other just was (reload_dso.c: the same code, other frames).
 * CYCLES times: libreload_a.so is loaded, allocates through its
 * reload_alloc and is unloaded, then the same for libreload_b.so.
 *
 * With LIBNMTRACE "-" the recorder is preloaded. Otherwise the program
 * loads it late, as a JVMTI agent is (it then waits for an attach), and
 * attaches it through Agent_OnAttach with no JVM (the test sets
 * NMTRACE_JAVA=off, so the vm pointer is never looked at) at rate 1 into
 * PROFILE before the cycles, and detaches after them.
 *
 * Prints one JSON line: how many times b was loaded where a had just been
 * (only then can an unload the unwinder missed give it wrong rules) and the
 * blocks allocated.
 *
 * usage: prog_reload LIBNMTRACE|- LIBRELOAD_A LIBRELOAD_B PROFILE CYCLES
 */
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent_call.h"

#define PER_LOAD 40

/* Loads path, allocates PER_LOAD blocks through it, frees them, unloads
 * it. Returns the library's load address, or NULL. */
static void *one_load(const char *path, long *blocks)
{
    void *h = dlopen(path, RTLD_NOW | RTLD_LOCAL);
    if (h == NULL) {
        fprintf(stderr, "dlopen %s: %s\n", path, dlerror());
        return NULL;
    }
    void *(*alloc)(size_t) = (void *(*)(size_t))dlsym(h, "reload_alloc");
    Dl_info info;
    if (alloc == NULL || !dladdr((void *)alloc, &info)) {
        fprintf(stderr, "%s: no reload_alloc\n", path);
        return NULL;
    }
    void *v[PER_LOAD];
    for (int i = 0; i < PER_LOAD; i++)
        v[i] = alloc(64 + (size_t)i);
    for (int i = 0; i < PER_LOAD; i++)
        free(v[i]);
    *blocks += PER_LOAD;
    void *base = info.dli_fbase;
    if (dlclose(h) != 0) {
        fprintf(stderr, "dlclose %s: %s\n", path, dlerror());
        return NULL;
    }
    return base;
}

int main(int argc, char **argv)
{
    if (argc != 6) {
        fprintf(stderr, "usage: %s LIBNMTRACE|- LIBRELOAD_A LIBRELOAD_B PROFILE CYCLES\n", argv[0]);
        return 2;
    }
    agent_fn agent = NULL;
    if (strcmp(argv[1], "-") != 0) {
        void *rec = dlopen(argv[1], RTLD_NOW | RTLD_LOCAL);
        agent = rec != NULL ? (agent_fn)dlsym(rec, "Agent_OnAttach") : NULL;
        if (agent == NULL) {
            fprintf(stderr, "%s: no Agent_OnAttach (%s)\n", argv[1], dlerror());
            return 1;
        }
        char opts[900];
        snprintf(opts, sizeof(opts), "output=%s,rate=1", argv[4]);
        if (agent_call(agent, opts) != 0) {
            fprintf(stderr, "attach failed\n");
            return 1;
        }
    }
    long blocks = 0, reused = 0;
    int cycles = atoi(argv[5]);
    for (int c = 0; c < cycles; c++) {
        void *a = one_load(argv[2], &blocks);
        void *b = one_load(argv[3], &blocks);
        if (a == NULL || b == NULL)
            return 1;
        reused += a == b;
    }
    if (agent != NULL && agent_call(agent, "detach") != 0) {
        fprintf(stderr, "detach failed\n");
        return 1;
    }
    printf("{\"reused\": %ld, \"blocks\": %ld}\n", reused, blocks);
    return 0;
}
