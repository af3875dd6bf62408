/*
 * prog_attach_unwind.c: stacks after an attach, with libraries loaded and
 * unloaded meanwhile. libnmtrace.so is loaded late, as a JVMTI agent is (it
 * then waits for an attach), and attached through Agent_OnAttach with no
 * JVM (the test sets NMTRACE_JAVA=off, so the vm pointer is never looked
 * at). Then, CYCLES times: libatd_a.so is loaded, allocates through its
 * atd_alloc and is unloaded, and the same for libatd_b.so (attach_dso.c).
 * Then a detach, which writes the profile.
 *
 * Prints one JSON line: how many times b was loaded where a had just been
 * (only then can an unload the unwinder missed give it wrong rules) and the
 * blocks allocated.
 *
 * usage: prog_attach_unwind LIBNMTRACE LIBATD_A LIBATD_B PROFILE CYCLES
 */
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>

#define PER_LOAD 40

typedef int (*agent_fn)(void *vm, char *options, void *reserved);

static int attach(agent_fn agent, const char *options)
{
    static char buf[1024];
    snprintf(buf, sizeof(buf), "%s", options);
    static int not_a_vm;
    return agent(&not_a_vm, buf, NULL);
}

/* Loads path, allocates PER_LOAD blocks through it, frees them, unloads
 * it. Returns the library's load address, or NULL. */
static void *one_load(const char *path, long *blocks)
{
    void *h = dlopen(path, RTLD_NOW | RTLD_LOCAL);
    if (h == NULL) {
        fprintf(stderr, "dlopen %s: %s\n", path, dlerror());
        return NULL;
    }
    void *(*alloc)(size_t) = (void *(*)(size_t))dlsym(h, "atd_alloc");
    Dl_info info;
    if (alloc == NULL || !dladdr((void *)alloc, &info)) {
        fprintf(stderr, "%s: no atd_alloc\n", path);
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
        fprintf(stderr, "usage: %s LIBNMTRACE LIBATD_A LIBATD_B PROFILE CYCLES\n", argv[0]);
        return 2;
    }
    void *rec = dlopen(argv[1], RTLD_NOW | RTLD_LOCAL);
    agent_fn agent = rec != NULL ? (agent_fn)dlsym(rec, "Agent_OnAttach") : NULL;
    if (agent == NULL) {
        fprintf(stderr, "%s: no Agent_OnAttach (%s)\n", argv[1], dlerror());
        return 1;
    }
    char opts[900];
    snprintf(opts, sizeof(opts), "output=%s,rate=1", argv[4]);
    if (attach(agent, opts) != 0) {
        fprintf(stderr, "attach failed\n");
        return 1;
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
    if (attach(agent, "detach") != 0) {
        fprintf(stderr, "detach failed\n");
        return 1;
    }
    printf("{\"reused\": %ld, \"blocks\": %ld}\n", reused, blocks);
    return 0;
}
