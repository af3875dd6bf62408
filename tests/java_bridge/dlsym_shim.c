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

/* Where the object defining sym lives, by its file's base name. */
static const char *where(void *sym)
{
    Dl_info di;
    if (!sym)
        return "NULL";
    if (!dladdr(sym, &di) || !di.dli_fname)
        return "?";
    const char *slash = di.dli_fname, *p;
    for (p = di.dli_fname; *p; p++)
        if (*p == '/')
            slash = p + 1;
    return slash;
}

void nmtt_shim_report(void)
{
    const char *(*next)(void) = (const char *(*)(void))dlsym(RTLD_NEXT, "nmtt_who");
    printf("shim: RTLD_NEXT nmtt_who -> %s (%s)\n", where((void *)next), next ? next() : "-");
    printf("shim: RTLD_NEXT puts -> %s\n", where(dlsym(RTLD_NEXT, "puts")));
    dlerror();
    void *nowhere = dlsym(RTLD_NEXT, "nmtt_nowhere");
    const char *nowhere_err = dlerror();
    printf("shim: RTLD_NEXT nmtt_nowhere -> %s (%s)\n", where(nowhere),
           nowhere_err ? "error set" : "no error");
}
