/*
 * test_sym_util.c: see test_sym_util.h. Test-side only: it reads mappings the way the
 * recorder does so that the tests feed libnmsym what a real profile would carry.
 */
#include "test_sym_util.h"

#include <criterion/criterion.h>
#include <elf.h>
#include <fcntl.h>
#include <gelf.h>
#include <limits.h>
#include <link.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static void push(struct tmaps *t, struct nms_mapping m)
{
    if (t->n == t->cap) {
        t->cap = t->cap ? t->cap * 2 : 64;
        t->m = realloc(t->m, t->cap * sizeof(*t->m));
        cr_assert(t->m);
    }
    t->m[t->n++] = m;
}

void tmaps_parse(struct tmaps *t, FILE *in, const char *prefix)
{
    char line[4096 + 256];
    size_t pl = prefix ? strlen(prefix) : 0;
    while (fgets(line, sizeof(line), in)) {
        if (prefix && strncmp(line, prefix, pl) != 0)
            continue;
        unsigned long long start, end, off, inode;
        char perms[8], dev[32];
        int pos = 0;
        if (sscanf(line + pl, "%llx-%llx %7s %llx %31s %llu %n", &start, &end, perms, &off, dev,
                   &inode, &pos) < 6)
            continue;
        char *path = line + pl + pos;
        path[strcspn(path, "\n")] = 0;
        uint32_t prot = (perms[0] == 'r' ? NMS_PROT_R : 0) | (perms[1] == 'w' ? NMS_PROT_W : 0) |
                        (perms[2] == 'x' ? NMS_PROT_X : 0) |
                        (perms[3] == 's' ? NMS_PROT_SHARED : 0);
        push(t, (struct nms_mapping){start, end, off, prot, strdup(path), NULL, 0});
    }
}

struct bid_walk {
    struct tmaps *t;
};

static int phdr_cb(struct dl_phdr_info *info, size_t size, void *arg)
{
    (void)size;
    struct bid_walk *w = arg;
    char path[PATH_MAX];
    const char *name = info->dlpi_name;
    if (!name || !*name) {
        ssize_t n = readlink("/proc/self/exe", path, sizeof(path) - 1);
        if (n <= 0)
            return 0;
        path[n] = 0;
    } else if (!realpath(name, path)) {
        return 0;
    }
    for (int i = 0; i < info->dlpi_phnum; i++) {
        const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
        if (ph->p_type != PT_NOTE)
            continue;
        const char *p = (const char *)(info->dlpi_addr + ph->p_vaddr), *e = p + ph->p_memsz;
        while (p + sizeof(ElfW(Nhdr)) <= e) {
            const ElfW(Nhdr) *nh = (const ElfW(Nhdr) *)p;
            const char *nm = p + sizeof(*nh);
            const uint8_t *desc = (const uint8_t *)nm + ((nh->n_namesz + 3) & ~3u);
            if (nh->n_type == NT_GNU_BUILD_ID && nh->n_namesz == 4 && !memcmp(nm, "GNU", 4)) {
                for (size_t k = 0; k < w->t->n; k++) {
                    if (strcmp(w->t->m[k].path, path) == 0) {
                        uint8_t *b = malloc(nh->n_descsz);
                        memcpy(b, desc, nh->n_descsz);
                        w->t->m[k].build_id = b;
                        w->t->m[k].build_id_len = nh->n_descsz;
                    }
                }
            }
            p = (const char *)desc + ((nh->n_descsz + 3) & ~3u);
        }
    }
    return 0;
}

void tmaps_self(struct tmaps *t)
{
    FILE *f = fopen("/proc/self/maps", "r");
    cr_assert(f);
    tmaps_parse(t, f, NULL);
    fclose(f);
    struct bid_walk w = {t};
    dl_iterate_phdr(phdr_cb, &w);
}

void tmaps_free(struct tmaps *t)
{
    for (size_t i = 0; i < t->n; i++) {
        free((void *)t->m[i].path);
        free((void *)t->m[i].build_id);
    }
    free(t->m);
    memset(t, 0, sizeof(*t));
}

int ends_with(const char *s, const char *suffix)
{
    size_t a = s ? strlen(s) : 0, b = strlen(suffix);
    return s && a >= b && strcmp(s + a - b, suffix) == 0;
}

struct nms_mapping *tmaps_find(struct tmaps *t, const char *suffix, uint64_t addr)
{
    for (size_t i = 0; i < t->n; i++)
        if (ends_with(t->m[i].path, suffix) &&
            (!addr || (addr >= t->m[i].start && addr < t->m[i].end)))
            return &t->m[i];
    return NULL;
}

char *tmpdir_make(void)
{
    const char *base = getenv("TMPDIR");
    char *p = NULL;
    cr_assert(asprintf(&p, "%s/nmsym-test-XXXXXX", base && *base ? base : "/tmp") > 0);
    cr_assert(mkdtemp(p), "mkdtemp");
    return p;
}

void tmpdir_remove(char *dir)
{
    char *cmd = NULL;
    if (dir && asprintf(&cmd, "rm -rf '%s'", dir) > 0) {
        cr_expect(system(cmd) == 0);
        free(cmd);
    }
    free(dir);
}

void mkdir_p(const char *path)
{
    char buf[PATH_MAX];
    snprintf(buf, sizeof(buf), "%s", path);
    for (char *p = buf + 1; *p; p++) {
        if (*p == '/') {
            *p = 0;
            mkdir(buf, 0700);
            *p = '/';
        }
    }
    mkdir(buf, 0700);
}

void copy_file(const char *src, const char *dst, size_t limit)
{
    FILE *in = fopen(src, "rb"), *out = fopen(dst, "wb");
    cr_assert(in && out, "copy %s -> %s", src, dst);
    char buf[65536];
    size_t n, total = 0;
    while (total < limit && (n = fread(buf, 1, sizeof(buf), in)) > 0) {
        if (n > limit - total)
            n = limit - total;
        cr_assert(fwrite(buf, 1, n, out) == n);
        total += n;
    }
    fclose(in);
    cr_assert(fclose(out) == 0);
}

size_t file_size(const char *path)
{
    struct stat st;
    cr_assert(stat(path, &st) == 0, "stat %s", path);
    return (size_t)st.st_size;
}

uint32_t elf_file_build_id(const char *path, uint8_t *out, size_t cap)
{
    elf_version(EV_CURRENT);
    int fd = open(path, O_RDONLY);
    cr_assert(fd >= 0, "open %s", path);
    Elf *elf = elf_begin(fd, ELF_C_READ, NULL);
    cr_assert(elf);
    uint32_t len = 0;
    Elf_Scn *scn = NULL;
    while (!len && (scn = elf_nextscn(elf, scn))) {
        GElf_Shdr sh;
        Elf_Data *d;
        if (!gelf_getshdr(scn, &sh) || sh.sh_type != SHT_NOTE || !(d = elf_getdata(scn, NULL)))
            continue;
        size_t off = 0, no, dofs;
        GElf_Nhdr nh;
        while ((off = gelf_getnote(d, off, &nh, &no, &dofs)) > 0) {
            if (nh.n_type == NT_GNU_BUILD_ID && nh.n_descsz <= cap) {
                memcpy(out, (char *)d->d_buf + dofs, nh.n_descsz);
                len = nh.n_descsz;
                break;
            }
        }
    }
    elf_end(elf);
    close(fd);
    return len;
}

void hexstr(char *out, const uint8_t *b, uint32_t n)
{
    for (uint32_t i = 0; i < n; i++)
        sprintf(out + 2 * i, "%02x", b[i]);
    out[2 * n] = 0;
}
