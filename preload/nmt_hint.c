/*
 * nmt_hint.c: the command the recorder's exit line names to read a profile.
 *
 * "nmreport" when that is what PATH finds for the nmreport installed next
 * to this library (bin/nmreport beside its lib/ directory, as cmake
 * --install and the build tree lay them out) or when there is none next to it; else that one
 * by its absolute path, so that a hint copied from a build tree works. Runs
 * once, at exit, with stat and access only (no allocation).
 */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "nmt_internal.h"

NMT_HIDDEN char nmt__self_path[512];

NMT_HIDDEN void nmt__hint_self(const char *loaded_as)
{
    char cwd[256];
    if (loaded_as == NULL || loaded_as[0] == '\0')
        return;
    if (loaded_as[0] == '/' || getcwd(cwd, sizeof(cwd)) == NULL)
        snprintf(nmt__self_path, sizeof(nmt__self_path), "%s", loaded_as);
    else
        snprintf(nmt__self_path, sizeof(nmt__self_path), "%s/%s", cwd, loaded_as);
}

/* 1 when PATH's first nmreport is the file st describes. */
static int path_finds(const struct stat *want)
{
    const char *path = getenv("PATH");
    char cand[PATH_MAX];
    struct stat st;
    for (const char *p = path ? path : ""; *p != '\0';) {
        size_t n = strcspn(p, ":");
        if (n > 0 &&
            (size_t)snprintf(cand, sizeof(cand), "%.*s/nmreport", (int)n, p) < sizeof(cand) &&
            access(cand, X_OK) == 0)
            return stat(cand, &st) == 0 && st.st_dev == want->st_dev && st.st_ino == want->st_ino;
        p += n + (p[n] == ':');
    }
    return 0;
}

NMT_HIDDEN const char *nmt__hint_reader(char *buf, size_t size)
{
    const char *slash = strrchr(nmt__self_path, '/'), *up = slash;
    struct stat st;
    while (up != NULL && up > nmt__self_path && *--up != '/')
        ; /* the library directory's own slash: its parent holds bin/ */
    if (up == NULL || *up != '/' ||
        (size_t)snprintf(buf, size, "%.*s/bin/nmreport", (int)(up - nmt__self_path),
                         nmt__self_path) >= size ||
        access(buf, X_OK) != 0 || stat(buf, &st) != 0 || path_finds(&st))
        return "nmreport";
    return buf;
}
