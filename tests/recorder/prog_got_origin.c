/*
 * prog_got_origin.c: attach mode's dlopen wrapper (preload/nmt_got_dlopen.c,
 * built here into a library of its own in another directory) called with
 * $ORIGIN names. glibc expands $ORIGIN to the directory of the object that
 * calls dlopen, which is the wrapper's: the wrapper must expand it to its
 * caller's, this program's, where got_origin_lib.so lies. Exits 0 when
 * every name loaded (or, for names that are not $ORIGIN, failed) as it would
 * have without the wrapper.
 */
#include <dlfcn.h>
#include <stdio.h>

void *nmt__got_dlopen(const char *file, int mode);

int main(void)
{
    static const struct {
        const char *name;
        int loads;
    } cases[] = {
        {"$ORIGIN/got_origin_lib.so", 1},
        {"${ORIGIN}/got_origin_lib.so", 1},
        {"$ORIGIN/../bin/got_origin_lib.so", 1},
        {"$ORIGINS/got_origin_lib.so", 0}, /* not the token: a literal name */
    };
    int bad = 0;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        void *h = nmt__got_dlopen(cases[i].name, RTLD_NOW);
        int (*value)(void) = h != NULL ? (int (*)(void))dlsym(h, "got_origin_value") : NULL;
        int ok = cases[i].loads ? value != NULL && value() == 42 : h == NULL;
        printf("%s: %s %s\n", ok ? "ok" : "FAIL", cases[i].name, h != NULL ? "loaded" : dlerror());
        bad += !ok;
    }
    return bad != 0;
}
