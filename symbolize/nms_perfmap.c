/*
 * nms_perfmap.c: JIT code maps in the perf format: one "START SIZE name" line per code
 * blob, START and SIZE in hex with or without "0x" (the JDK writes 0x-prefixed, older
 * agents plain). Malformed lines are skipped and counted; a file is read once.
 */
#include "nms_internal.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static bool parse_hex(const char **p, uint64_t *out)
{
    const char *s = *p;
    while (*s == ' ' || *s == '\t')
        s++;
    if (s[0] == '0' && (s[1] == 'x' || s[1] == 'X'))
        s += 2;
    uint64_t v = 0;
    int digits = 0;
    for (; isxdigit((unsigned char)*s); s++, digits++) {
        if (digits >= 16)
            return false;
        v = v << 4 | (uint64_t)(isdigit((unsigned char)*s) ? *s - '0' : (tolower(*s) - 'a' + 10));
    }
    if (digits == 0 || (*s != ' ' && *s != '\t'))
        return false;
    *out = v;
    *p = s;
    return true;
}

static int push(struct nms__jit **v, size_t *n, size_t *cap, struct nms__jit e)
{
    if (*n == *cap) {
        size_t nc = *cap ? *cap * 2 : 256;
        struct nms__jit *nv = realloc(*v, nc * sizeof(*nv));
        if (!nv)
            return -ENOMEM;
        *v = nv;
        *cap = nc;
    }
    (*v)[(*n)++] = e;
    return 0;
}

int nms__perfmap_load(struct nms_ctx *c, const char *path, bool quiet, struct nms__jit **v,
                      size_t *n, size_t *cap)
{
    FILE *fp = fopen(path, "re");
    if (!fp) {
        int err = errno;
        if (!quiet || err != ENOENT)
            nms__warn(c, NMS_W_NO_FILE, "perf map %s: %s", path, strerror(err));
        return -err;
    }
    char *line = NULL;
    size_t lcap = 0, lineno = 0, bad = 0, first_bad = 0;
    ssize_t len;
    int rc = 0;
    while (rc == 0 && (len = getline(&line, &lcap, fp)) >= 0) {
        lineno++;
        while (len > 0 && (line[len - 1] == '\n' || line[len - 1] == '\r'))
            line[--len] = 0;
        const char *p = line;
        while (*p == ' ' || *p == '\t')
            p++;
        if (!*p)
            continue;
        uint64_t start, size;
        if (!parse_hex(&p, &start) || !parse_hex(&p, &size) || size == 0 || start + size < start) {
            if (!bad++)
                first_bad = lineno;
            continue;
        }
        while (*p == ' ' || *p == '\t')
            p++;
        if (!*p || memchr(line, 0, (size_t)len) != NULL) {
            if (!bad++)
                first_bad = lineno;
            continue;
        }
        const char *name = nms__arena_strdup(nms__ctx_arena(c), p);
        if (!name)
            rc = -ENOMEM;
        else
            rc = push(v, n, cap, (struct nms__jit){start, start + size, name, (uint32_t)*n});
    }
    free(line);
    fclose(fp);
    if (bad) {
        nms__warn(c, NMS_W_PERF_MAP, "perf map %s: %zu malformed line%s ignored (first: line %zu)",
                  path, bad, bad == 1 ? "" : "s", first_bad);
        nms__count(c, NMS_W_PERF_MAP, bad);
    }
    return rc;
}

static int cmp_jit(const void *a, const void *b)
{
    const struct nms__jit *x = a, *y = b;
    if (x->start != y->start)
        return x->start < y->start ? -1 : 1;
    return (x->seq > y->seq) - (x->seq < y->seq);
}

void nms__perfmap_sort(struct nms__jit *v, size_t n)
{
    if (n)
        qsort(v, n, sizeof(*v), cmp_jit);
}

/* Code blobs do not overlap in one JVM dump; maps written as code is generated can
 * reuse a range, so among the few candidates the latest line wins. */
const struct nms__jit *nms__perfmap_find(const struct nms__jit *v, size_t n, uint64_t addr)
{
    size_t lo = 0, hi = n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (v[mid].start <= addr)
            lo = mid + 1;
        else
            hi = mid;
    }
    const struct nms__jit *best = NULL;
    for (size_t k = lo; k > 0 && lo - k < 16; k--) {
        const struct nms__jit *e = &v[k - 1];
        if (addr < e->end && (!best || e->seq > best->seq))
            best = e;
    }
    return best;
}
