/*
 * test_sym_jvm.c: the JDK's own libjvm.so (Debian keeps a full .symtab): the LOCAL
 * symbol Unsafe_AllocateMemory0, a demangled C++ name, and 100 000 distinct addresses
 * checked against an independent reading of the symbol table. The mappings are laid
 * out from the program headers the way the kernel maps a shared object.
 * Skipped when the JDK is not installed.
 */
#include "test_sym_util.h"

#include <criterion/criterion.h>
#include <criterion/logging.h>
#include <fcntl.h>
#include <gelf.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define LIBJVM "/usr/lib/jvm/java-17-openjdk-amd64/lib/server/libjvm.so"
#define BASE   0x7f3200000000ull
#define PAGE   0x1000ull

struct osym {
    uint64_t addr, size;
    char *name;
};

struct oracle {
    struct nms_mapping m[16];
    size_t nm;
    struct osym *s;
    size_t ns;
};

static int cmp_osym(const void *a, const void *b)
{
    const struct osym *x = a, *y = b;
    return (x->addr > y->addr) - (x->addr < y->addr);
}

/* Reads libjvm's PT_LOADs and .symtab functions without libnmsym. */
static int oracle_load(struct oracle *o)
{
    memset(o, 0, sizeof(*o));
    int fd = open(LIBJVM, O_RDONLY);
    if (fd < 0)
        return -1;
    elf_version(EV_CURRENT);
    Elf *elf = elf_begin(fd, ELF_C_READ, NULL);
    cr_assert(elf);
    size_t np;
    cr_assert(elf_getphdrnum(elf, &np) == 0);
    for (size_t i = 0; i < np && o->nm < 16; i++) {
        GElf_Phdr ph;
        cr_assert(gelf_getphdr(elf, (int)i, &ph));
        if (ph.p_type != PT_LOAD)
            continue;
        uint32_t prot = ((ph.p_flags & PF_R) ? NMS_PROT_R : 0) |
                        ((ph.p_flags & PF_W) ? NMS_PROT_W : 0) |
                        ((ph.p_flags & PF_X) ? NMS_PROT_X : 0);
        uint64_t start = BASE + (ph.p_vaddr & ~(PAGE - 1));
        uint64_t end = (BASE + ph.p_vaddr + ph.p_memsz + PAGE - 1) & ~(PAGE - 1);
        o->m[o->nm++] =
            (struct nms_mapping){start, end, ph.p_offset & ~(PAGE - 1), prot, LIBJVM, NULL, 0};
    }
    Elf_Scn *scn = NULL;
    size_t cap = 0;
    while ((scn = elf_nextscn(elf, scn))) {
        GElf_Shdr sh;
        cr_assert(gelf_getshdr(scn, &sh));
        if (sh.sh_type != SHT_SYMTAB)
            continue;
        Elf_Data *d = elf_getdata(scn, NULL);
        for (size_t i = 0; i < sh.sh_size / sh.sh_entsize; i++) {
            GElf_Sym s;
            cr_assert(gelf_getsym(d, (int)i, &s));
            if (GELF_ST_TYPE(s.st_info) != STT_FUNC || s.st_shndx == SHN_UNDEF || !s.st_size)
                continue;
            if (o->ns == cap) {
                cap = cap ? cap * 2 : 4096;
                o->s = realloc(o->s, cap * sizeof(*o->s));
            }
            o->s[o->ns++] = (struct osym){s.st_value, s.st_size,
                                          strdup(elf_strptr(elf, sh.sh_link, s.st_name))};
        }
    }
    elf_end(elf);
    close(fd);
    qsort(o->s, o->ns, sizeof(*o->s), cmp_osym);
    return 0;
}

static void oracle_free(struct oracle *o)
{
    for (size_t i = 0; i < o->ns; i++)
        free(o->s[i].name);
    free(o->s);
}

static struct nms_ctx *jvm_ctx(struct oracle *o)
{
    if (oracle_load(o) != 0)
        cr_skip_test("%s not installed: JDK 17 absent", LIBJVM);
    struct nms_options opt = {.no_system_debug = 1, .no_default_perf_map = 1};
    struct nms_ctx *c = nms_open(&opt);
    cr_assert(c);
    cr_assert(nms_set_mappings(c, o->m, o->nm) == 0);
    return c;
}

static const struct osym *find(const struct oracle *o, const char *name)
{
    for (size_t i = 0; i < o->ns; i++)
        if (strcmp(o->s[i].name, name) == 0)
            return &o->s[i];
    return NULL;
}

Test(sym_jvm, unsafe_allocate_memory0)
{
    struct oracle o;
    struct nms_ctx *c = jvm_ctx(&o);
    const struct osym *s = find(&o, "Unsafe_AllocateMemory0");
    cr_assert(s, "libjvm's .symtab has Unsafe_AllocateMemory0");
    const struct nms_frame *fr;
    int n = nms_resolve(c, BASE + s->addr + s->size / 2, 1, &fr);
    cr_assert(n >= 1);
    cr_expect_str_eq(fr[n - 1].function, "Unsafe_AllocateMemory0");
    cr_expect_eq(fr[n - 1].cls, NMS_JVM);
    cr_expect_str_eq(fr[n - 1].lib, "libjvm.so");
    cr_expect_eq(fr[n - 1].elf_addr, s->addr + s->size / 2 - 1);

    s = find(&o, "_ZN2os6mallocEm8MEMFLAGS");
    if (!s)
        s = find(&o, "_ZN2os6mallocEm7MEMFLAGS");
    cr_assert(s, "os::malloc(size_t, MEMFLAGS) is in the symtab");
    n = nms_resolve(c, BASE + s->addr, 0, &fr);
    cr_expect_str_eq(fr[n - 1].function, "os::malloc(unsigned long, MEMFLAGS)");
    nms_close(c);
    oracle_free(&o);
}

Test(sym_jvm, hundred_thousand_addresses)
{
    struct oracle o;
    struct nms_ctx *c = jvm_ctx(&o);
    cr_assert(o.ns > 10000);
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    size_t checked = 0, distinct = 0;
    const size_t N = 100000;
    for (size_t i = 0; i < N; i++) {
        const struct osym *s = &o.s[(i * 7919) % o.ns];
        uint64_t off = (i / o.ns * 13 + i) % s->size;
        const struct nms_frame *fr;
        int n = nms_resolve(c, BASE + s->addr + off, 0, &fr);
        cr_assert(n >= 1);
        const char *got = fr[n - 1].function;
        cr_assert_str_neq(got, "??", "%s+%#llx", s->name, (unsigned long long)off);
        distinct++;
        /* Plain C names must match exactly unless another symbol shares the address. */
        size_t k = (size_t)(s - o.s);
        bool alias =
            (k > 0 && o.s[k - 1].addr == s->addr) || (k + 1 < o.ns && o.s[k + 1].addr == s->addr);
        if (!alias && strncmp(s->name, "_Z", 2) != 0 && !strchr(s->name, '.')) {
            cr_assert_str_eq(got, s->name);
            checked++;
        }
    }
    clock_gettime(CLOCK_MONOTONIC, &t1);
    double sec = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
    cr_log_info("resolved %zu libjvm addresses in %.2f s (%zu names compared)", distinct, sec,
                checked);
    fprintf(stderr, "test_sym: %zu libjvm addresses in %.2f s\n", distinct, sec);
    cr_expect_gt(checked, 1000);
    nms_close(c);
    oracle_free(&o);
}
