/*
 * prog_unwind.c: allocations from many kinds of stacks, for the check of
 * the recorder's fast unwinder against libunwind (test_recorder.py, case
 * unwind_check). Each stack below keeps one block of a size no other kept
 * block has, and the program prints, per kept size, the names of its own
 * functions on that stack, innermost first (JSON). The stacks: deep
 * recursion, a variable-length array, code built with -O2
 * -fomit-frame-pointer and with -O0 -fno-omit-frame-pointer (unwind_lib.c),
 * qsort and bsearch comparators, a second thread, libstdc++ containers that
 * grow (unwind_cxx.cc), and a library dlopened after another one was
 * dlclosed (whose addresses the new one may reuse).
 *
 *   prog_unwind   (UWT_LIBDIR: where the dlopened libraries are)
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <dlfcn.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define NOINLINE     __attribute__((noinline))
#define KEEP_FRAME() __asm__ volatile("" ::: "memory")

typedef void entry_fn(size_t size, int keep, int depth);
entry_fn uwt_o2_entry, uwt_o0_entry;
size_t uwt_cxx_vector(size_t n);
size_t uwt_cxx_string(size_t n);

static int nsites;

/* One kept block's truth: its size, then lib's chain for depth (leaf,
 * recurse x depth + 1, vla, entry) unless lib is NULL, then the callers. */
static void truth(size_t size, const char *lib, int depth, const char *const *callers)
{
    printf("%s{\"size\": %zu, \"chain\": [", nsites++ ? ",\n " : "", size);
    const char *sep = "";
    if (lib != NULL) {
        printf("\"uwt_%s_leaf\"", lib);
        for (int i = 0; i <= depth; i++)
            printf(", \"uwt_%s_recurse\"", lib);
        printf(", \"uwt_%s_vla\", \"uwt_%s_entry\"", lib, lib);
        sep = ", ";
    }
    for (; *callers != NULL; callers++, sep = ", ")
        printf("%s\"%s\"", sep, *callers);
    printf("]}");
}

NOINLINE static void scenario_libs(void)
{
    static const char *const callers[] = {"scenario_libs", "main", NULL};
    /* Many distinct stacks first (freed), then one kept per library. */
    for (int i = 0; i < 180; i++) {
        uwt_o2_entry(100 + (size_t)i, 0, i % 60);
        uwt_o0_entry(100 + (size_t)i, 0, i % 60);
    }
    uwt_o2_entry(300008, 1, 45);
    truth(300008, "o2", 45, callers);
    uwt_o0_entry(300016, 1, 3);
    truth(300016, "o0", 3, callers);
    KEEP_FRAME();
}

static int cmp_calls; /* the first call of a comparator keeps its block */

NOINLINE static int cmp_sort(const void *a, const void *b)
{
    uwt_o0_entry(300024, cmp_calls++ == 0, 1);
    int x = *(const int *)a, y = *(const int *)b;
    return (x > y) - (x < y);
}

NOINLINE static int cmp_search(const void *a, const void *b)
{
    uwt_o2_entry(300032, cmp_calls++ == 0, 0);
    int x = *(const int *)a, y = *(const int *)b;
    return (x > y) - (x < y);
}

/* libc calls the comparators: its frames lie between them and us. */
NOINLINE static void scenario_sort(void)
{
    static const char *const sort[] = {"cmp_sort", "scenario_sort", "main", NULL};
    static const char *const search[] = {"cmp_search", "scenario_sort", "main", NULL};
    int v[64];
    for (int i = 0; i < 64; i++)
        v[i] = (i * 37) % 64;
    cmp_calls = 0;
    qsort(v, 64, sizeof(int), cmp_sort);
    truth(300024, "o0", 1, sort);
    cmp_calls = 0;
    int key = 17;
    if (bsearch(&key, v, 64, sizeof(int), cmp_search) == NULL)
        fprintf(stderr, "prog_unwind: bsearch found nothing\n");
    truth(300032, "o2", 0, search);
    KEEP_FRAME();
}

NOINLINE static void *thread_main(void *arg)
{
    (void)arg;
    static const char *const callers[] = {"thread_main", NULL};
    uwt_o2_entry(300040, 1, 41);
    truth(300040, "o2", 41, callers);
    KEEP_FRAME();
    return NULL;
}

NOINLINE static void scenario_thread(void)
{
    pthread_t t;
    if (pthread_create(&t, NULL, thread_main, NULL) == 0)
        pthread_join(t, NULL);
    KEEP_FRAME();
}

NOINLINE static void scenario_cxx(void)
{
    static const char *const vec[] = {"uwt_cxx_vector", "scenario_cxx", "main", NULL};
    static const char *const str[] = {"uwt_cxx_string", "scenario_cxx", "main", NULL};
    truth(uwt_cxx_vector(3000), NULL, 0, vec);
    truth(uwt_cxx_string(5000), NULL, 0, str);
    KEEP_FRAME();
}

/* A library whose code sits where a dlclosed one's was: rules cached for
 * the first must not be used for the second. */
NOINLINE static int scenario_dlopen(void)
{
    static const char *const callers[] = {"scenario_dlopen", "main", NULL};
    void *a = dlopen(UWT_LIBDIR "/libuwt_dla.so", RTLD_NOW | RTLD_LOCAL);
    if (a == NULL)
        return fprintf(stderr, "prog_unwind: %s\n", dlerror()), -1;
    entry_fn *fa = (entry_fn *)dlsym(a, "uwt_dla_entry");
    for (int depth = 0; fa != NULL && depth < 20; depth++)
        fa(200, 0, depth);
    dlclose(a);
    void *b = dlopen(UWT_LIBDIR "/libuwt_dlb.so", RTLD_NOW | RTLD_LOCAL);
    if (b == NULL)
        return fprintf(stderr, "prog_unwind: %s\n", dlerror()), -1;
    entry_fn *fb = (entry_fn *)dlsym(b, "uwt_dlb_entry");
    if (fb == NULL)
        return -1;
    for (int depth = 0; depth < 20; depth++)
        fb(200, 0, depth);
    fb(300048, 1, 2);
    truth(300048, "dlb", 2, callers);
    KEEP_FRAME();
    return 0; /* b stays loaded: the profile's maps name it */
}

int main(void)
{
    printf("[");
    scenario_libs();
    scenario_sort();
    scenario_thread();
    scenario_cxx();
    int rc = scenario_dlopen();
    printf("]\n");
    return rc == 0 ? 0 : 1;
}
