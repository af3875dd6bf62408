/*
 * dlsym_shim.c: a preloaded library that interposes nmtt_who and looks
 * symbols up with RTLD_NEXT itself, as interposing libraries do. Its answers
 * must not depend on whether libnmtrace.so (which exports dlsym) is
 * preloaded before or after it.
 */
#include <dlfcn.h>
#include <stdio.h>

const char *nmtt_who(void)
{
    return "shim";
}

const char *nmtt_where(void *sym);

void nmtt_shim_report(void)
{
    const char *(*next)(void) = (const char *(*)(void))dlsym(RTLD_NEXT, "nmtt_who");
    printf("shim: RTLD_NEXT nmtt_who -> %s (%s)\n", nmtt_where((void *)next), next ? next() : "-");
    printf("shim: RTLD_NEXT puts -> %s\n", nmtt_where(dlsym(RTLD_NEXT, "puts")));
    dlerror();
    void *nowhere = dlsym(RTLD_NEXT, "nmtt_nowhere");
    const char *nowhere_err = dlerror();
    printf("shim: RTLD_NEXT nmtt_nowhere -> %s (%s)\n", nmtt_where(nowhere),
           nowhere_err ? "error set" : "no error");
}
