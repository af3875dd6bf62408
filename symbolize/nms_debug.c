/*
 * nms_debug.c: finding files for an object. Separate debug files by build-id
 * (<root>/.build-id/xx/rest.debug) and by .gnu_debuglink (the object's directory, its
 * .debug/ subdirectory, <root>/<object dir>/ and <root>/), over the debug roots the
 * context lists; and the --symbols-from directory, indexed once by build-id and basename.
 * A candidate whose build-id differs from the object's, or that cannot be read, is
 * reported and skipped, never used.
 */
#include "nms_internal.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

struct symdir_entry {
    const char *path; /* arena */
    uint8_t bid[NMS_BID_MAX];
    uint32_t bid_len;
    bool debug_only; /* .text is NOBITS: an --only-keep-debug file */
};

struct nms__symdir {
    struct symdir_entry *v;
    size_t n, cap;
};

#define SYMDIR_MAX_FILES 200000
#define SYMDIR_MAX_DEPTH 16

static bool looks_like_elf(const char *path)
{
    unsigned char m[4];
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
    if (fd < 0)
        return false;
    bool ok = read(fd, m, 4) == 4 && memcmp(m, ELFMAG, 4) == 0;
    close(fd);
    return ok;
}

static int symdir_scan(struct nms_ctx *c, struct nms__symdir *sd, const char *dir, int depth)
{
    DIR *d = opendir(dir);
    if (!d)
        return -errno;
    struct dirent *de;
    int rc = 0;
    while (rc == 0 && sd->n < SYMDIR_MAX_FILES && (de = readdir(d)) != NULL) {
        if (de->d_name[0] == '.' && (!de->d_name[1] || (de->d_name[1] == '.' && !de->d_name[2])))
            continue;
        char path[4096];
        if ((size_t)snprintf(path, sizeof(path), "%s/%s", dir, de->d_name) >= sizeof(path))
            continue;
        struct stat st;
        if (lstat(path, &st) != 0)
            continue;
        if (S_ISDIR(st.st_mode)) {
            if (depth < SYMDIR_MAX_DEPTH)
                rc = symdir_scan(c, sd, path, depth + 1) == -ENOMEM ? -ENOMEM : 0;
            continue;
        }
        if (!S_ISREG(st.st_mode) || !looks_like_elf(path))
            continue;
        struct nms__elf e;
        if (nms__elf_open(&e, path, nms__ctx_arena(c)) != 0)
            continue;
        if (sd->n == sd->cap) {
            size_t cap = sd->cap ? sd->cap * 2 : 64;
            struct symdir_entry *v = realloc(sd->v, cap * sizeof(*v));
            if (!v) {
                nms__elf_close(&e);
                rc = -ENOMEM;
                break;
            }
            sd->v = v;
            sd->cap = cap;
        }
        struct symdir_entry *en = &sd->v[sd->n++];
        en->path = e.path;
        memcpy(en->bid, e.bid, e.bid_len);
        en->bid_len = e.bid_len;
        en->debug_only = !nms__elf_has_section(e.elf, ".text", true);
        nms__elf_close(&e);
    }
    closedir(d);
    return rc;
}

const char *nms__symbols_from(struct nms_ctx *c, const char *path, const uint8_t *bid,
                              uint32_t bid_len, bool want_debug)
{
    const char *dir = nms__ctx_opt(c)->symbols_from;
    if (!dir)
        return NULL;
    struct nms__symdir **slot = nms__ctx_symdir(c);
    if (!*slot) {
        *slot = calloc(1, sizeof(**slot));
        if (!*slot)
            return NULL;
        if (symdir_scan(c, *slot, dir, 0) == -ENOENT)
            nms__warn(c, NMS_W_NO_FILE, "%s: no such symbols directory", dir);
    }
    const struct nms__symdir *sd = *slot;
    for (size_t i = 0; bid_len && i < sd->n; i++)
        if (sd->v[i].debug_only == want_debug && sd->v[i].bid_len == bid_len &&
            memcmp(sd->v[i].bid, bid, bid_len) == 0)
            return sd->v[i].path;
    if (want_debug)
        return NULL;
    const char *base = strrchr(path, '/');
    base = base ? base + 1 : path;
    for (size_t i = 0; i < sd->n; i++) {
        const char *b = strrchr(sd->v[i].path, '/');
        if (!sd->v[i].debug_only && strcmp(b ? b + 1 : sd->v[i].path, base) == 0)
            return sd->v[i].path;
    }
    return NULL;
}

void nms__symdir_free(struct nms_ctx *c)
{
    struct nms__symdir **slot = nms__ctx_symdir(c);
    if (*slot)
        free((*slot)->v);
    free(*slot);
    *slot = NULL;
}

/* Tries one candidate. 0 when it became f->dbg; -ENOENT when absent (quiet); other
 * negative values after a warning. */
static int try_debug(struct nms_ctx *c, struct nms__file *f, const char *cand, const uint8_t *bid,
                     uint32_t bid_len)
{
    if (f->bin.path && strcmp(cand, f->bin.path) == 0)
        return -ENOENT; /* the debuglink names the object itself */
    struct nms__elf e;
    int rc = nms__elf_open(&e, cand, nms__ctx_arena(c));
    if (rc == -ENOENT || rc == -ENOTDIR)
        return -ENOENT;
    if (rc != 0) {
        nms__warn(c, NMS_W_BAD_DEBUG, "%s: unreadable debug file (%s)", cand,
                  rc == -EIO       ? "truncated"
                  : rc == -ENOEXEC ? "not ELF"
                                   : strerror(-rc));
        f->dbg_bad = true;
        return rc;
    }
    if (bid_len && e.bid_len && (bid_len != e.bid_len || memcmp(bid, e.bid, bid_len) != 0)) {
        nms__warn(c, NMS_W_BAD_DEBUG, "%s: debug file has another build-id than %s", cand,
                  f->key_path);
        f->dbg_bad = true;
        nms__elf_close(&e);
        return -ESTALE;
    }
    if (!nms__elf_has_section(e.elf, ".symtab", true) &&
        !nms__elf_has_section(e.elf, ".debug_info", true)) {
        nms__elf_close(&e);
        return -ENOENT;
    }
    f->dbg = e;
    f->dbg_bad = false; /* an earlier bad candidate no longer matters */
    return 0;
}

static int join(char *out, size_t n, const char *a, const char *b, const char *c2)
{
    return (size_t)snprintf(out, n, "%s%s%s", a, b, c2) < n ? 0 : -ENAMETOOLONG;
}

int nms__debug_find(struct nms_ctx *c, struct nms__file *f, const char *bin_path)
{
    const uint8_t *bid = f->bin.elf && f->bin.bid_len ? f->bin.bid : f->key_bid;
    uint32_t bid_len = f->bin.elf && f->bin.bid_len ? f->bin.bid_len : f->key_bid_len;
    size_t nroots;
    const char *const *roots = nms__ctx_debug_roots(c, &nroots);
    char p[4096];

    if (bid_len) {
        const char *sf = nms__symbols_from(c, f->key_path, bid, bid_len, true);
        if (sf && try_debug(c, f, sf, bid, bid_len) == 0)
            return 0;
        char hexid[2 * NMS_BID_MAX + 1];
        for (uint32_t i = 0; i < bid_len; i++)
            snprintf(hexid + 2 * i, 3, "%02x", bid[i]);
        for (size_t r = 0; r < nroots; r++) {
            if ((size_t)snprintf(p, sizeof(p), "%s/.build-id/%.2s/%s.debug", roots[r], hexid,
                                 hexid + 2) >= sizeof(p))
                continue;
            if (try_debug(c, f, p, bid, bid_len) == 0)
                return 0;
        }
    }
    uint32_t crc;
    const char *link = f->bin.elf ? nms__elf_debuglink(f->bin.elf, &crc) : NULL;
    if (!link || strchr(link, '/'))
        return -ENOENT;
    /* The directories of the file opened and of the path the profile names. */
    const char *dirs_of[2] = {bin_path, f->key_path};
    for (int k = 0; k < 2; k++) {
        char dir[4096];
        const char *slash = strrchr(dirs_of[k], '/');
        size_t dl = slash ? (size_t)(slash - dirs_of[k]) : 0;
        if (dl >= sizeof(dir))
            continue;
        memcpy(dir, dirs_of[k], dl);
        dir[dl] = 0;
        if (k == 0 || strcmp(dirs_of[0], dirs_of[1]) != 0) {
            if (join(p, sizeof(p), dir, "/", link) == 0 && try_debug(c, f, p, bid, bid_len) == 0)
                return 0;
            if (join(p, sizeof(p), dir, "/.debug/", link) == 0 &&
                try_debug(c, f, p, bid, bid_len) == 0)
                return 0;
        }
        if (k == 0)
            continue;
        for (size_t r = 0; r < nroots; r++) {
            char sub[4096];
            if (join(sub, sizeof(sub), roots[r], dir, "/") == 0 &&
                join(p, sizeof(p), sub, link, "") == 0 && try_debug(c, f, p, bid, bid_len) == 0)
                return 0;
            if (join(p, sizeof(p), roots[r], "/", link) == 0 &&
                try_debug(c, f, p, bid, bid_len) == 0)
                return 0;
        }
    }
    return -ENOENT;
}
