/*
 * profiles.c: which profiles the launcher's run wrote.
 *
 * The launcher gives its command a run token (NMTRACE_RUN: its own pid and
 * start time in ns); every process of the run inherits it and the recorder
 * writes it into the profile's INFO record (config.RUN). A profile belongs
 * to the run exactly when it carries the token: an earlier run's profile,
 * or another launcher's started in the same second, does not, whatever its
 * time stamps say. The search covers the output pattern's directory, files
 * whose name starts as the pattern's does; a pattern with % in its
 * directory part is not searched (only the child's own file is named).
 */
#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "profiles.h"

#define REC_HEADER 1
#define REC_INFO   2
#define INFO_MAX   (1u << 20) /* INFO holds a few dozen short pairs */
#define SHOWN_MAX  5

/* The pattern with every %p replaced by pid and %% by %. Returns 0 or
 * -ENAMETOOLONG. */
static int expand(const char *pattern, pid_t pid, char *out, size_t n)
{
    size_t o = 0;
    for (const char *p = pattern; *p != '\0'; p++) {
        char num[24];
        const char *add = num;
        if (p[0] == '%' && p[1] == 'p') {
            snprintf(num, sizeof(num), "%ld", (long)pid);
            p++;
        } else if (p[0] == '%' && p[1] == '%') {
            add = "%";
            p++;
        } else {
            num[0] = *p;
            num[1] = '\0';
        }
        size_t len = strlen(add);
        if (o + len >= n)
            return -ENAMETOOLONG;
        memcpy(out + o, add, len);
        o += len;
    }
    out[o] = '\0';
    return 0;
}

static uint32_t le32(const unsigned char *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

/* Finds key's value in an INFO payload: count, then (str key, str value). */
static int info_value(const unsigned char *p, uint32_t len, const char *key, char *out, size_t n)
{
    uint32_t off = 4, count = len >= 4 ? le32(p) : 0;
    size_t klen = strlen(key);
    for (uint32_t i = 0; i < count; i++) {
        uint32_t kl, vl;
        if (len - off < 4 || (kl = le32(p + off), len - off - 4 < kl))
            return -1;
        const unsigned char *k = p + off + 4;
        off += 4 + kl;
        if (len - off < 4 || (vl = le32(p + off), len - off - 4 < vl))
            return -1;
        if (kl == klen && memcmp(k, key, klen) == 0 && vl < n) {
            memcpy(out, p + off + 4, vl);
            out[vl] = '\0';
            return 0;
        }
        off += 4 + vl;
    }
    return -1;
}

/* Reads records up to the first INFO (HEADER comes first: its pid is kept). */
static int scan_records(FILE *f, char *run, size_t n, unsigned *pid)
{
    unsigned char head[8], *buf;
    for (int i = 0; i < 8 && fread(head, 1, 8, f) == 8; i++) {
        uint16_t type = (uint16_t)(head[0] | head[1] << 8);
        uint32_t len = le32(head + 4);
        if (type != REC_HEADER && type != REC_INFO) {
            if (fseek(f, (long)len + 4, SEEK_CUR) != 0)
                return -1;
            continue;
        }
        if (len > INFO_MAX || len < 8 || (buf = malloc(len)) == NULL)
            return -1;
        if (fread(buf, 1, len, f) != len || fseek(f, 4, SEEK_CUR) != 0) {
            free(buf);
            return -1;
        }
        int found = -1;
        if (type == REC_HEADER)
            *pid = le32(buf + 4);
        else
            found = info_value(buf, len, "config.RUN", run, n);
        free(buf);
        if (type == REC_INFO)
            return found;
    }
    return -1;
}

/* The value of INFO key config.RUN in the profile at path (and its HEADER
 * pid), or "" when the file is not a readable profile or has none. Returns
 * 0 when found. */
static int profile_run(const char *path, char *run, size_t n, unsigned *pid)
{
    static const unsigned char magic[8] = {0x89, 'N', 'M', 'T', '\r', '\n', 0x1a, '\n'};
    unsigned char m[8];
    FILE *f = fopen(path, "rb");
    int rc = -1;
    run[0] = '\0';
    if (f == NULL)
        return -1;
    if (fread(m, 1, 8, f) == 8 && memcmp(m, magic, 8) == 0)
        rc = scan_records(f, run, n, pid);
    fclose(f);
    return rc;
}

/* The directory part of pattern (absolute: the launcher made it so) and the
 * start of the file name every profile of it has (up to the first %). */
static int split_pattern(const char *pattern, char *dir, size_t dn, char *prefix, size_t pn)
{
    const char *slash = strrchr(pattern, '/');
    if (slash == NULL || memchr(pattern, '%', (size_t)(slash - pattern)) != NULL)
        return -1;
    snprintf(dir, dn, "%.*s", slash == pattern ? 1 : (int)(slash - pattern), pattern);
    const char *pct = strchr(slash + 1, '%');
    size_t len = pct ? (size_t)(pct - slash - 1) : strlen(slash + 1);
    if (pct == NULL && len > 4 && strcmp(slash + 1 + len - 4, ".nmt") == 0)
        len -= 4; /* the recorder's ".1", ".2"... go before ".nmt" */
    snprintf(prefix, pn, "%.*s", (int)len, slash + 1);
    return 0;
}

struct found {
    char path[PATH_MAX];
    unsigned pid;
    long long mtime_ns;
};

static void say_found(struct found *own, size_t nown, struct found *other, size_t nother,
                      const char *pattern, pid_t child, const char *reader)
{
    size_t last = 0;
    for (size_t i = 1; i < nown; i++)
        if (own[i].mtime_ns > own[last].mtime_ns)
            last = i; /* an exec chain's final program wrote last */
    for (size_t i = 0; i < nown; i++)
        if (i != last)
            fprintf(stderr, "nmtrace: also written, by an earlier program of the run: %s\n",
                    own[i].path);
    if (nown > 0) {
        fprintf(stderr, "nmtrace: profile written to %s\n", own[last].path);
        fprintf(stderr, "nmtrace: read it with: %s %s\n", reader, own[last].path);
    } else {
        char base[PATH_MAX];
        if (expand(pattern, child, base, sizeof(base)) != 0)
            snprintf(base, sizeof(base), "%s", pattern);
        fprintf(stderr, "nmtrace: no profile at %s (a static or setuid program is not recorded)\n",
                base);
    }
    for (size_t i = 0; i < nother && i < SHOWN_MAX; i++)
        fprintf(stderr, "nmtrace: also written by another process of the run (pid %u): %s\n",
                other[i].pid, other[i].path);
    if (nother > SHOWN_MAX)
        fprintf(stderr, "nmtrace: ... and %zu more such profiles\n", nother - SHOWN_MAX);
}

/* Keeps f in list (growing it), or drops it quietly when memory is short. */
static void keep(struct found **list, size_t *n, const struct found *f)
{
    struct found *grown = realloc(*list, (*n + 1) * sizeof(**list));
    if (grown == NULL)
        return;
    grown[(*n)++] = *f;
    *list = grown;
}

void nmtl_report_profiles(const char *pattern, const char *token, pid_t child, const char *reader)
{
    char dir[PATH_MAX], prefix[PATH_MAX], run[128];
    struct found *own = NULL, *other = NULL, f;
    size_t nown = 0, nother = 0, plen;
    struct dirent *e;
    DIR *d = NULL;
    if (split_pattern(pattern, dir, sizeof(dir), prefix, sizeof(prefix)) == 0)
        d = opendir(dir);
    plen = strlen(prefix);
    while (d != NULL && (e = readdir(d)) != NULL) {
        struct stat st;
        if (strncmp(e->d_name, prefix, plen) != 0 ||
            (size_t)snprintf(f.path, sizeof(f.path), "%s/%s", strcmp(dir, "/") ? dir : "",
                             e->d_name) >= sizeof(f.path) ||
            stat(f.path, &st) != 0 || !S_ISREG(st.st_mode) ||
            profile_run(f.path, run, sizeof(run), &f.pid) != 0 || strcmp(run, token) != 0)
            continue;
        f.mtime_ns = (long long)st.st_mtim.tv_sec * 1000000000ll + st.st_mtim.tv_nsec;
        keep(f.pid == (unsigned)child ? &own : &other, f.pid == (unsigned)child ? &nown : &nother,
             &f);
    }
    if (d != NULL)
        closedir(d);
    say_found(own, nown, other, nother, pattern, child, reader);
    free(own);
    free(other);
}
