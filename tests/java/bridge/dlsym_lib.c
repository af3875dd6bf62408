/* dlsym_lib.c: a library the dlsym test program (and its shim) link
 * against; its nmtt_who is what RTLD_NEXT finds after the preloaded shim. */
#include <dlfcn.h>

const char *nmtt_who(void)
{
    return "lib";
}

/* Where the object defining sym lives, by its file's base name. */
const char *nmtt_where(void *sym)
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
