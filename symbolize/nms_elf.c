/*
 * nms_elf.c: one object of the profile as ELF: opening and validating the file, its
 * build-id and debuglink, its PT_LOAD table (file offset -> virtual address) and its
 * sorted function symbol table (.symtab, from the binary or its debug file, then
 * .dynsym). Lookups are binary searches; names stay inside the mapped file.
 */
#include "nms_internal.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* Whether [off, off + len) lies inside a file of `size` bytes, written so
 * that offsets and lengths near 2^64 (a crafted file) cannot wrap around. */
static int inside(uint64_t off, uint64_t len, uint64_t size)
{
    return len <= size && off <= size - len;
}

/* Checks that every section's bytes lie inside the file: libelf maps lazily, so a
 * truncated debug file would otherwise fail late, section by section. */
static int elf_validate(Elf *elf, uint64_t file_size)
{
    GElf_Ehdr eh;
    size_t shnum, shstrndx;
    if (elf_kind(elf) != ELF_K_ELF || !gelf_getehdr(elf, &eh))
        return -ENOEXEC;
    if (elf_getshdrnum(elf, &shnum) != 0 || elf_getshdrstrndx(elf, &shstrndx) != 0)
        return -EIO;
    uint64_t table;
    if (__builtin_mul_overflow((uint64_t)shnum, (uint64_t)eh.e_shentsize, &table) ||
        !inside(eh.e_shoff, table, file_size))
        return -EIO;
    Elf_Scn *scn = NULL;
    while ((scn = elf_nextscn(elf, scn)) != NULL) {
        GElf_Shdr sh;
        if (!gelf_getshdr(scn, &sh))
            return -EIO;
        if (sh.sh_type != SHT_NOBITS && !inside(sh.sh_offset, sh.sh_size, file_size))
            return -EIO;
    }
    return 0;
}

static void elf_read_build_id(struct nms__elf *e)
{
    Elf_Scn *scn = NULL;
    while ((scn = elf_nextscn(e->elf, scn)) != NULL) {
        GElf_Shdr sh;
        if (!gelf_getshdr(scn, &sh) || sh.sh_type != SHT_NOTE)
            continue;
        Elf_Data *d = elf_getdata(scn, NULL);
        if (!d)
            continue;
        size_t off = 0, name_off, desc_off;
        GElf_Nhdr nh;
        while ((off = gelf_getnote(d, off, &nh, &name_off, &desc_off)) > 0) {
            if (nh.n_type == NT_GNU_BUILD_ID && nh.n_namesz == 4 &&
                memcmp((char *)d->d_buf + name_off, "GNU", 4) == 0 && nh.n_descsz > 0 &&
                nh.n_descsz <= NMS_BID_MAX) {
                memcpy(e->bid, (char *)d->d_buf + desc_off, nh.n_descsz);
                e->bid_len = nh.n_descsz;
                return;
            }
        }
    }
}

/* Opens path as ELF. 0, -errno of open(), -ENOEXEC (not ELF) or -EIO (truncated). */
int nms__elf_open(struct nms__elf *e, const char *path, struct nms__arena *a)
{
    memset(e, 0, sizeof(*e));
    e->fd = -1;
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK); /* a FIFO must not block us */
    if (fd < 0)
        return -errno;
    struct stat st;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        close(fd);
        return -ENOEXEC;
    }
    Elf *elf = elf_begin(fd, ELF_C_READ_MMAP, NULL);
    if (!elf) {
        close(fd);
        return -ENOEXEC;
    }
    int rc = elf_validate(elf, (uint64_t)st.st_size);
    if (rc != 0) {
        elf_end(elf);
        close(fd);
        return rc;
    }
    e->fd = fd;
    e->elf = elf;
    e->path = nms__arena_strdup(a, path);
    elf_read_build_id(e);
    return 0;
}

void nms__elf_close(struct nms__elf *e)
{
    if (e->elf)
        elf_end(e->elf);
    if (e->fd >= 0)
        close(e->fd);
    e->elf = NULL;
    e->fd = -1;
}

static Elf_Scn *find_section(Elf *elf, const char *name)
{
    size_t shstrndx;
    if (elf_getshdrstrndx(elf, &shstrndx) != 0)
        return NULL;
    Elf_Scn *scn = NULL;
    while ((scn = elf_nextscn(elf, scn)) != NULL) {
        GElf_Shdr sh;
        const char *n;
        if (gelf_getshdr(scn, &sh) && (n = elf_strptr(elf, shstrndx, sh.sh_name)) &&
            strcmp(n, name) == 0)
            return scn;
    }
    return NULL;
}

bool nms__elf_has_section(Elf *elf, const char *name, bool need_bits)
{
    Elf_Scn *scn = find_section(elf, name);
    GElf_Shdr sh;
    if (!scn || !gelf_getshdr(scn, &sh))
        return false;
    return !need_bits || (sh.sh_type != SHT_NOBITS && sh.sh_size > 0);
}

const char *nms__elf_debuglink(Elf *elf, uint32_t *crc)
{
    Elf_Scn *scn = find_section(elf, ".gnu_debuglink");
    Elf_Data *d = scn ? elf_getdata(scn, NULL) : NULL;
    if (!d || d->d_size < 8)
        return NULL;
    const char *name = d->d_buf;
    size_t len = strnlen(name, d->d_size);
    size_t crc_off = (len + 4) & ~(size_t)3; /* the name, its NUL, padding to 4 */
    if (len == 0 || crc_off + 4 > d->d_size)
        return NULL;
    memcpy(crc, (const char *)d->d_buf + crc_off, 4);
    return name;
}

static int load_phdrs(struct nms__file *f, Elf *elf)
{
    size_t n;
    if (elf_getphdrnum(elf, &n) != 0)
        return -EIO;
    f->loads = calloc(n ? n : 1, sizeof(*f->loads));
    if (!f->loads)
        return -ENOMEM;
    for (size_t i = 0; i < n; i++) {
        GElf_Phdr ph;
        if (!gelf_getphdr(elf, (int)i, &ph) || ph.p_type != PT_LOAD)
            continue;
        f->loads[f->nloads++] = (struct nms__load){
            .offset = ph.p_offset,
            .vaddr = ph.p_vaddr,
            .filesz = ph.p_filesz,
            .memsz = ph.p_memsz,
            .align = ph.p_align > 1 ? ph.p_align : 1,
            .exec = (ph.p_flags & PF_X) != 0,
        };
    }
    return 0;
}

static bool elf_is_exe(Elf *elf)
{
    GElf_Ehdr eh;
    if (!gelf_getehdr(elf, &eh))
        return false;
    if (eh.e_type == ET_EXEC)
        return true;
    if (eh.e_type != ET_DYN)
        return false;
    Elf_Scn *scn = NULL;
    while ((scn = elf_nextscn(elf, scn)) != NULL) {
        GElf_Shdr sh;
        if (!gelf_getshdr(scn, &sh) || sh.sh_type != SHT_DYNAMIC)
            continue;
        Elf_Data *d = elf_getdata(scn, NULL);
        size_t cnt = (d && sh.sh_entsize) ? sh.sh_size / sh.sh_entsize : 0;
        for (size_t i = 0; i < cnt; i++) {
            GElf_Dyn dyn;
            if (gelf_getdyn(d, (int)i, &dyn) && dyn.d_tag == DT_FLAGS_1)
                return (dyn.d_un.d_val & DF_1_PIE) != 0;
        }
    }
    return false;
}

struct symvec {
    struct nms__sym *v;
    size_t n, cap;
};

/* Lower prio wins among symbols at one address: sized, global, from .symtab. */
struct prio_sym {
    struct nms__sym s;
    unsigned prio;
};

static int add_symbols(struct symvec *out, unsigned **prio, Elf *elf, Elf_Scn *scn,
                       unsigned src_prio)
{
    GElf_Shdr sh;
    Elf_Data *d;
    size_t shnum;
    if (!gelf_getshdr(scn, &sh) || sh.sh_type == SHT_NOBITS || sh.sh_entsize == 0 ||
        !(d = elf_getdata(scn, NULL)) || elf_getshdrnum(elf, &shnum) != 0)
        return 0;
    /* Which sections hold code: data symbols never name a frame. */
    bool *exec = calloc(shnum ? shnum : 1, sizeof(*exec));
    if (!exec)
        return -ENOMEM;
    for (size_t i = 0; i < shnum; i++) {
        GElf_Shdr s2;
        Elf_Scn *x = elf_getscn(elf, i);
        exec[i] = x && gelf_getshdr(x, &s2) && (s2.sh_flags & SHF_EXECINSTR);
    }
    size_t cnt = sh.sh_size / sh.sh_entsize;
    int rc = 0;
    for (size_t i = 1; i < cnt; i++) {
        GElf_Sym sym;
        if (!gelf_getsym(d, (int)i, &sym))
            break;
        int type = GELF_ST_TYPE(sym.st_info);
        if (type != STT_FUNC && type != STT_GNU_IFUNC && type != STT_NOTYPE)
            continue;
        if (sym.st_shndx == SHN_UNDEF || sym.st_shndx >= shnum || !exec[sym.st_shndx])
            continue;
        const char *name = elf_strptr(elf, sh.sh_link, sym.st_name);
        if (!name || !*name || name[0] == '$')
            continue;
        if (out->n == out->cap) {
            size_t cap = out->cap ? out->cap * 2 : 1024;
            struct nms__sym *v = realloc(out->v, cap * sizeof(*v));
            unsigned *p = realloc(*prio, cap * sizeof(*p));
            if (p)
                *prio = p;
            if (v)
                out->v = v;
            if (!v || !p) {
                rc = -ENOMEM;
                break;
            }
            out->cap = cap;
        }
        int bind = GELF_ST_BIND(sym.st_info);
        unsigned pr = (sym.st_size ? 0 : 8) +
                      (bind == STB_GLOBAL ? 0
                       : bind == STB_WEAK ? 2
                                          : 4) +
                      (type == STT_NOTYPE ? 16 : 0) + src_prio;
        (*prio)[out->n] = pr;
        out->v[out->n++] =
            (struct nms__sym){.addr = sym.st_value, .size = sym.st_size, .name = name};
    }
    free(exec);
    return rc;
}

static int cmp_prio_sym(const void *a, const void *b)
{
    const struct prio_sym *x = a, *y = b;
    if (x->s.addr != y->s.addr)
        return x->s.addr < y->s.addr ? -1 : 1;
    return (x->prio > y->prio) - (x->prio < y->prio);
}

static int build_symbols(struct nms__file *f)
{
    struct symvec sv = {0};
    unsigned *prio = NULL;
    int rc = 0;
    /* .symtab: the debug file's when it has one (a stripped binary has none). */
    Elf *symtab_elf = NULL;
    if (f->dbg.elf && nms__elf_has_section(f->dbg.elf, ".symtab", true))
        symtab_elf = f->dbg.elf;
    else if (f->bin.elf && nms__elf_has_section(f->bin.elf, ".symtab", true))
        symtab_elf = f->bin.elf;
    if (symtab_elf)
        rc = add_symbols(&sv, &prio, symtab_elf, find_section(symtab_elf, ".symtab"), 0);
    Elf *dyn_elf = f->bin.elf ? f->bin.elf : f->dbg.elf;
    Elf_Scn *dynsym = dyn_elf ? find_section(dyn_elf, ".dynsym") : NULL;
    if (rc == 0 && dynsym)
        rc = add_symbols(&sv, &prio, dyn_elf, dynsym, 1);
    if (rc != 0 || sv.n == 0) {
        free(sv.v);
        free(prio);
        return rc;
    }
    struct prio_sym *tmp = malloc(sv.n * sizeof(*tmp));
    if (!tmp) {
        free(sv.v);
        free(prio);
        return -ENOMEM;
    }
    for (size_t i = 0; i < sv.n; i++)
        tmp[i] = (struct prio_sym){sv.v[i], prio[i]};
    qsort(tmp, sv.n, sizeof(*tmp), cmp_prio_sym);
    size_t k = 0;
    for (size_t i = 0; i < sv.n; i++)
        if (k == 0 || sv.v[k - 1].addr != tmp[i].s.addr)
            sv.v[k++] = tmp[i].s;
    free(tmp);
    free(prio);
    f->syms = sv.v;
    f->nsyms = k;
    return 0;
}

static void hex(char *out, size_t outsz, const uint8_t *b, uint32_t n)
{
    size_t o = 0;
    out[0] = 0;
    for (uint32_t i = 0; i < n && o + 3 <= outsz; i++, o += 2)
        snprintf(out + o, 3, "%02x", b[i]);
}

/* Strips the " (deleted)" the kernel appends to replaced files. */
static const char *live_path(struct nms__arena *a, const char *path)
{
    static const char del[] = " (deleted)";
    size_t n = strlen(path), d = sizeof(del) - 1;
    if (n <= d || strcmp(path + n - d, del) != 0)
        return path;
    char *p = nms__arena_alloc(a, n - d + 1);
    if (!p)
        return path;
    memcpy(p, path, n - d);
    p[n - d] = 0;
    return p;
}

int nms__file_load(struct nms_ctx *c, struct nms__file *f)
{
    struct nms__arena *a = nms__ctx_arena(c);
    f->loaded = true;
    f->why = NMS_W_BAD_ELF;
    const char *path = live_path(a, f->key_path);
    const char *bin_path = path;
    if (nms__ctx_opt(c)->symbols_from) {
        const char *p = nms__symbols_from(c, path, f->key_bid, f->key_bid_len, false);
        if (p)
            bin_path = p;
    }
    int rc = nms__elf_open(&f->bin, bin_path, a);
    if (rc == -ENOEXEC || rc == -EIO) {
        nms__warn(c, NMS_W_BAD_ELF, "%s: not a readable ELF file%s", bin_path,
                  rc == -EIO ? " (truncated)" : "");
        f->why = NMS_W_BAD_ELF;
    } else if (rc < 0) {
        nms__warn(c, NMS_W_NO_FILE, "%s: %s", bin_path, strerror(-rc));
        f->why = NMS_W_NO_FILE;
    } else if (f->key_bid_len && f->bin.bid_len &&
               (f->key_bid_len != f->bin.bid_len ||
                memcmp(f->key_bid, f->bin.bid, f->bin.bid_len) != 0)) {
        char want[2 * NMS_BID_MAX + 1], have[2 * NMS_BID_MAX + 1];
        hex(want, sizeof(want), f->key_bid, f->key_bid_len);
        hex(have, sizeof(have), f->bin.bid, f->bin.bid_len);
        nms__warn(c, NMS_W_BUILD_ID,
                  "%s: build-id mismatch (profile %s, file %s): not used for symbols", bin_path,
                  want, have);
        nms__elf_close(&f->bin);
        f->why = NMS_W_BUILD_ID;
    }
    /* A debug file can stand in for a missing or mismatched binary: it is matched by
     * the profile's build-id and keeps the program headers. */
    nms__debug_find(c, f, f->bin.elf ? bin_path : path);
    Elf *hdr = f->bin.elf ? f->bin.elf : f->dbg.elf;
    if (!hdr)
        return 0;
    rc = load_phdrs(f, hdr);
    if (rc == 0)
        rc = build_symbols(f);
    if (rc == -ENOMEM)
        return rc;
    f->is_exe = elf_is_exe(hdr);
    f->usable = f->nloads > 0;
    return 0;
}

bool nms__file_vaddr(const struct nms__file *f, uint64_t off, uint64_t *vaddr)
{
    for (size_t i = 0; i < f->nloads; i++) {
        const struct nms__load *l = &f->loads[i];
        if (off >= l->offset && off - l->offset < l->filesz) {
            *vaddr = off - l->offset + l->vaddr;
            return true;
        }
    }
    /* The kernel maps whole pages: the start of a mapping may precede p_offset. */
    for (size_t i = 0; i < f->nloads; i++) {
        const struct nms__load *l = &f->loads[i];
        uint64_t first = l->offset & ~(l->align - 1);
        if (off >= first && off < l->offset + l->filesz) {
            *vaddr = off + l->vaddr - l->offset;
            return true;
        }
    }
    return false;
}

static bool same_exec_load(const struct nms__file *f, uint64_t a, uint64_t b)
{
    for (size_t i = 0; i < f->nloads; i++) {
        const struct nms__load *l = &f->loads[i];
        if (l->exec && a >= l->vaddr && a - l->vaddr < l->memsz && b >= l->vaddr &&
            b - l->vaddr < l->memsz)
            return true;
    }
    return false;
}

const struct nms__sym *nms__file_sym(struct nms__file *f, uint64_t v)
{
    size_t lo = 0, hi = f->nsyms;
    while (lo < hi) { /* first symbol with addr > v */
        size_t mid = lo + (hi - lo) / 2;
        if (f->syms[mid].addr <= v)
            lo = mid + 1;
        else
            hi = mid;
    }
    if (lo == 0)
        return NULL;
    const struct nms__sym *s = &f->syms[lo - 1];
    if (s->size == 0)
        return same_exec_load(f, s->addr, v) ? s : NULL;
    /* A symbol nested in a larger one (rare: aliases of a part) must not hide it. */
    for (size_t k = lo; k > 0 && lo - k < 4; k--) {
        const struct nms__sym *t = &f->syms[k - 1];
        if (t->size && v - t->addr < t->size)
            return t;
    }
    return NULL;
}

void nms__file_free(struct nms__file *f)
{
    nms__dwarf_free(f->dw);
    nms__elf_close(&f->bin);
    nms__elf_close(&f->dbg);
    free(f->loads);
    free(f->syms);
}
