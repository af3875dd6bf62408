/*
 * dlsym_prog.c: prints where dlsym finds symbols from the main program and,
 * through the preloaded shim (dlsym_shim.c), from a preloaded library:
 * RTLD_NEXT, RTLD_DEFAULT, a handle, a missing symbol. Run with and without
 * libnmtrace.so preloaded (before and after the shim), the output must be
 * the same: libnmtrace.so's dlsym must not change whom RTLD_NEXT is
 * relative to. A lookup of JNI_CreateJavaVM (which the recorder takes over)
 * in a library without one must fail the same way as without it.
 */
#include <dlfcn.h>
#include <stdio.h>

const char *nmtt_who(void);

const char *nmtt_where(void *sym);

int main(void)
{
    printf("main: nmtt_who() = %s\n", nmtt_who());
    printf("main: RTLD_NEXT nmtt_who -> %s\n", nmtt_where(dlsym(RTLD_NEXT, "nmtt_who")));
    printf("main: RTLD_DEFAULT nmtt_who -> %s\n", nmtt_where(dlsym(RTLD_DEFAULT, "nmtt_who")));
    printf("main: RTLD_NEXT puts -> %s\n", nmtt_where(dlsym(RTLD_NEXT, "puts")));
    void *lib = dlopen("libnmtt_dlsym_lib.so", RTLD_NOW | RTLD_NOLOAD);
    printf("main: handle nmtt_who -> %s\n", lib ? nmtt_where(dlsym(lib, "nmtt_who")) : "no handle");
    dlerror();
    void *none = lib ? dlsym(lib, "JNI_CreateJavaVM") : NULL;
    const char *err = dlerror();
    printf("main: handle JNI_CreateJavaVM -> %s (%s)\n", nmtt_where(none),
           err ? "error set" : "no error");
    dlerror();
    void *nowhere = dlsym(RTLD_NEXT, "nmtt_nowhere");
    const char *nowhere_err = dlerror();
    printf("main: RTLD_NEXT nmtt_nowhere -> %s (%s)\n", nmtt_where(nowhere),
           nowhere_err ? "error set" : "no error");
    void (*report)(void) = (void (*)(void))dlsym(RTLD_DEFAULT, "nmtt_shim_report");
    if (!report) {
        puts("main: the shim is not preloaded");
        return 1;
    }
    report();
    return 0;
}
