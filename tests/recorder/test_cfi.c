/*
 * test_cfi.c: nmt_cfi_find() (preload/nmt_cfi.h) against libdw, the
 * reference reader of call-frame tables, on the objects loaded in this
 * process (test_cfi_life.c has the object list's life, test_cfi_synth.c
 * the interpreter's cases on hand-made tables; this file also holds the
 * doubles all three link with).
 *
 * For every FDE of every loaded object that has a file (the test itself,
 * with cfi_helper.c built with and without frame pointers, libc, libdw,
 * libelf, libz, libstdc++ loaded by the test, Criterion and what they
 * load), addresses spread over the FDE's range are looked up both ways: a
 * rule nmt_cfi_find() gives must be libdw's, an END must be libdw's
 * undefined return address, and NOFDE must be libdw finding nothing.
 * UNSUPPORTED is allowed, but must stay rare.
 */
#include <criterion/criterion.h>
#include <dlfcn.h>
#include <dwarf.h>
#include <elfutils/libdw.h>
#include <fcntl.h>
#include <libelf.h>
#include <link.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include "cfi_helper.h"
#include "cfi_table.h"
#include "nmt_cfi.h"

/* ---- doubles for what nmt_cfi.c and nmt_dlclose.c call ---- */
int nmt__attach_dormant, nmt__attach_mode;
_Atomic int nmt__attach_unloads_seen;
_Atomic int cfi_iterate_calls; /* test_cfi_life.c reads it */

void nmt__gate_enter(void) {}

void nmt__gate_leave(void) {}

/* test_cfi_life.c: nonzero puts 0 to 7 empty executable segments (a
 * different number each walk) below every object, so that each rebuilt
 * list has the real objects at other places than the one before. */
_Atomic int cfi_fake_shift;

int nmt__dl_iterate_phdr(int (*cb)(struct dl_phdr_info *, size_t, void *), void *arg)
{
    static const ElfW(Phdr) ph[8] = {
#define SEG(i) {.p_type = PT_LOAD, .p_flags = PF_X, .p_vaddr = 0x10000 * (i + 1), .p_memsz = 0x100}
        SEG(0), SEG(1), SEG(2), SEG(3), SEG(4), SEG(5), SEG(6), SEG(7)};
    int n = atomic_fetch_add(&cfi_iterate_calls, 1);
    if (atomic_load(&cfi_fake_shift)) {
        struct dl_phdr_info fake = {.dlpi_name = "fake", .dlpi_phdr = ph, .dlpi_phnum = n % 8};
        cb(&fake, sizeof(fake), arg);
    }
    return dl_iterate_phdr(cb, arg);
}

#if defined(DLFO_STRUCT_HAS_EH_DBASE) && defined(__GLIBC__)
/* The dynamic linker's own lookup as nmt_cfi.c asks it (it checks its list
 * against this answer): with cfi_fake_shift, the fake object's segments
 * are an object without tables, as the walk above shows them. */
int _dl_find_object(void *address, struct dl_find_object *result)
{
    uintptr_t a = (uintptr_t)address;
    if (atomic_load(&cfi_fake_shift) && a >= 0x10000 && a < 0x90000) {
        memset(result, 0, sizeof(*result));
        result->dlfo_map_start = (void *)(a & ~(uintptr_t)0xffff);
        result->dlfo_map_end = (char *)result->dlfo_map_start + 0x100;
        return 0;
    }
    static int (*real)(void *, struct dl_find_object *);
    if (real == NULL)
        *(void **)&real = dlsym(RTLD_NEXT, "_dl_find_object");
    return real != NULL ? real(address, result) : -1;
}
#endif

/* ---- the loaded objects, as the test sees them ---- */
#define MAX_OBJS 64
struct obj {
    char path[512];
    uintptr_t base, hdr;
};
static struct obj objs[MAX_OBJS];
static int nobjs;

static int collect(struct dl_phdr_info *info, size_t size, void *arg)
{
    (void)size, (void)arg;
    const char *name = info->dlpi_name ? info->dlpi_name : "";
    if (nobjs >= MAX_OBJS || (name[0] != '/' && name[0] != '\0'))
        return 0; /* the vdso has no file to give libdw */
    if (name[0] == '\0' && nobjs > 0)
        return 0;
    struct obj *o = &objs[nobjs];
    snprintf(o->path, sizeof(o->path), "%s", name[0] ? name : "/proc/self/exe");
    o->base = info->dlpi_addr;
    o->hdr = 0;
    for (int i = 0; i < info->dlpi_phnum; i++)
        if (info->dlpi_phdr[i].p_type == PT_GNU_EH_FRAME)
            o->hdr = info->dlpi_addr + info->dlpi_phdr[i].p_vaddr;
    if (o->hdr != 0)
        nobjs++;
    return 0;
}

/* ---- libdw's answer, in the shape of struct nmt_cfi_rule ---- */
enum want { DW_RULE, DW_END, DW_OTHER, DW_NOFDE };
enum how { H_SAME, H_UNDEF, H_OFF, H_OTHER };

static enum how reg_rule(Dwarf_Frame *f, int reg, int64_t *off)
{
    Dwarf_Op mem[3], *ops = NULL;
    size_t n = 0;
    *off = 0;
    if (dwarf_frame_register(f, reg, mem, &ops, &n) != 0)
        return H_OTHER;
    if (n == 0)
        return ops == NULL ? H_SAME : H_UNDEF;
    if (ops[0].atom != DW_OP_call_frame_cfa)
        return H_OTHER;
    if (n == 1)
        return H_OFF;
    if (n == 2 && ops[1].atom == DW_OP_plus_uconst) {
        *off = (int64_t)ops[1].number;
        return H_OFF;
    }
    return H_OTHER;
}

static enum want libdw_rule(Dwarf_CFI *cfi, Dwarf_Addr a, struct nmt_cfi_rule *w)
{
    Dwarf_Frame *f = NULL;
    if (dwarf_cfi_addrframe(cfi, a, &f) != 0)
        return DW_NOFDE;
    enum want res = DW_OTHER;
    int64_t ra_off, rbp_off;
    Dwarf_Op *ops;
    size_t n;
    enum how ra = reg_rule(f, 16, &ra_off), rbp = reg_rule(f, 6, &rbp_off);
    if (ra == H_UNDEF) {
        res = DW_END;
    } else if (ra == H_OFF && ra_off == -8 && (rbp == H_SAME || rbp == H_OFF) &&
               dwarf_frame_cfa(f, &ops, &n) == 0 && n == 1) {
        int reg = ops[0].atom == DW_OP_bregx ? (int)ops[0].number : ops[0].atom - DW_OP_breg0;
        int64_t off = (int64_t)(ops[0].atom == DW_OP_bregx ? ops[0].number2 : ops[0].number);
        int breg = ops[0].atom == DW_OP_bregx ||
                   (ops[0].atom >= DW_OP_breg0 && ops[0].atom <= DW_OP_breg31);
        if (breg && (reg == NMT_CFI_RSP || reg == NMT_CFI_RBP)) {
            w->cfa_reg = (uint8_t)reg;
            w->cfa_off = (int32_t)off;
            w->rbp_how = rbp == H_SAME ? NMT_CFI_SAME : NMT_CFI_AT;
            w->rbp_off = rbp == H_SAME ? 0 : (int16_t)rbp_off;
            res = DW_RULE;
        }
    }
    free(f);
    return res;
}

/* ---- the comparison ---- */
struct tally {
    long n[5];   /* by nmt_cfi_find's answer */
    long wrong;  /* answers libdw contradicts */
    long missed; /* UNSUPPORTED where libdw has a rule of the shape */
    long rbp_based, rsp_pushed;
};

static void compare_at(Dwarf_CFI *cfi, const struct obj *o, Dwarf_Addr a, struct tally *t)
{
    struct nmt_cfi_rule got = {0}, want = {0};
    enum nmt_cfi_result r = nmt_cfi_find(o->base + a, &got);
    enum want w = libdw_rule(cfi, a, &want);
    t->n[r]++;
    int bad = 0;
    if (r == NMT_CFI_OK)
        bad = w != DW_RULE || got.cfa_reg != want.cfa_reg || got.cfa_off != want.cfa_off ||
              got.rbp_how != want.rbp_how || got.rbp_off != want.rbp_off;
    else if (r == NMT_CFI_END)
        bad = w != DW_END;
    else if (r == NMT_CFI_NOFDE || r == NMT_CFI_NOMODULE)
        bad = w != DW_NOFDE;
    else if (w == DW_RULE)
        t->missed++;
    if (r == NMT_CFI_OK && got.cfa_reg == NMT_CFI_RBP)
        t->rbp_based++;
    if (r == NMT_CFI_OK && got.cfa_reg == NMT_CFI_RSP && got.cfa_off > 8)
        t->rsp_pushed++;
    if (bad && t->wrong++ < 10)
        fprintf(stderr,
                "%s+%#lx: nmt_cfi %d (cfa %d%+d rbp %d%+d), libdw %d (cfa %d%+d rbp %d%+d)\n",
                o->path, (unsigned long)a, r, got.cfa_reg, got.cfa_off, got.rbp_how, got.rbp_off, w,
                want.cfa_reg, want.cfa_off, want.rbp_how, want.rbp_off);
}

/* Every address of [start, end) a step of 1 to 7 bytes apart (seed 0:
 * every byte), and the last. */
static void compare_range(Dwarf_CFI *cfi, const struct obj *o, Dwarf_Addr start, Dwarf_Addr end,
                          struct tally *t, unsigned *seed)
{
    for (Dwarf_Addr a = start; a < end;) {
        compare_at(cfi, o, a, t);
        if (*seed != 0)
            *seed = *seed * 1103515245u + 12345u;
        a += *seed ? 1 + (*seed >> 16) % 7 : 1; /* seed 0: every byte */
    }
    if (end > start)
        compare_at(cfi, o, end - 1, t);
}

/* The code address of entry i of the object's .eh_frame_hdr table. */
static Dwarf_Addr table_pc(const struct obj *o, uint32_t i)
{
    return cfi_table_start((const uint8_t *)o->hdr, i) - o->base;
}

static uint32_t table_count(const struct obj *o)
{
    const uint8_t *h = (const uint8_t *)o->hdr;
    cr_assert_eq(h[0], 1, "%s: .eh_frame_hdr version", o->path);
    cr_assert(h[2] == 0x03 && h[3] == 0x3b, "%s: unusual .eh_frame_hdr encodings", o->path);
    return cfi_table_count(h);
}

/* The FDE of table entry i, row by row as libdw gives them (each row is
 * the range where one set of rules holds), up to the next entry's code. */
static void compare_fde(Dwarf_CFI *cfi, const struct obj *o, uint32_t i, struct tally *t,
                        unsigned *seed)
{
    Dwarf_Addr a = table_pc(o, i), start, end;
    Dwarf_Addr next = i + 1 < table_count(o) ? table_pc(o, i + 1) : (Dwarf_Addr)-1;
    while (a < next) {
        Dwarf_Frame *f = NULL;
        if (dwarf_cfi_addrframe(cfi, a, &f) != 0)
            return; /* past the FDE's end */
        bool sig;
        dwarf_frame_info(f, &start, &end, &sig);
        free(f);
        if (end <= a || end > next)
            end = next;
        compare_range(cfi, o, a, end, t, seed);
        a = end;
    }
}

struct dw {
    int fd;
    Elf *elf;
    Dwarf_CFI *cfi;
};

static void dw_open(struct dw *d, const struct obj *o)
{
    d->fd = open(o->path, O_RDONLY);
    cr_assert(d->fd >= 0, "%s: cannot open", o->path);
    d->elf = elf_begin(d->fd, ELF_C_READ_MMAP, NULL);
    d->cfi = d->elf ? dwarf_getcfi_elf(d->elf) : NULL;
    cr_assert(d->cfi != NULL, "%s: libdw reads no CFI", o->path);
}

static void dw_close(struct dw *d)
{
    dwarf_cfi_end(d->cfi);
    elf_end(d->elf);
    close(d->fd);
}

static void compare_object(const struct obj *o, struct tally *t)
{
    struct dw d;
    dw_open(&d, o);
    unsigned seed = 1;
    for (uint32_t i = 0, n = table_count(o); i < n; i++)
        compare_fde(d.cfi, o, i, t, &seed);
    dw_close(&d);
}

/* libstdc++ when installed: C++ code, whose CIEs carry a personality
 * routine and LSDA pointers ("zPLR"). */
static void *cxx;

static void setup(void)
{
    elf_version(EV_CURRENT);
    cxx = dlopen("libstdc++.so.6", RTLD_NOW | RTLD_LOCAL);
    nobjs = 0;
    dl_iterate_phdr(collect, NULL);
    cr_assert_gt(nobjs, 3, "objects with tables: %d", nobjs);
}

static const char *base_name(const char *p)
{
    const char *s = strrchr(p, '/');
    return s ? s + 1 : p;
}

Test(cfi, agrees_with_libdw, .init = setup, .timeout = 240)
{
    long wrong = 0, libc_seen = 0, cxx_seen = 0;
    for (int i = 0; i < nobjs; i++) {
        struct tally t = {0};
        compare_object(&objs[i], &t);
        long all = t.n[0] + t.n[1] + t.n[2] + t.n[3] + t.n[4];
        fprintf(stderr,
                "%-28s %8ld addresses: ok %ld end %ld unsupported %ld (of which libdw "
                "has the shape: %ld) nofde %ld nomodule %ld wrong %ld\n",
                base_name(objs[i].path), all, t.n[NMT_CFI_OK], t.n[NMT_CFI_END],
                t.n[NMT_CFI_UNSUPPORTED], t.missed, t.n[NMT_CFI_NOFDE], t.n[NMT_CFI_NOMODULE],
                t.wrong);
        wrong += t.wrong;
        cr_expect_gt(all, 0, "%s: no address compared", objs[i].path);
        if (strncmp(base_name(objs[i].path), "libc.so", 7) == 0) {
            libc_seen = 1;
            cr_expect_gt(t.n[NMT_CFI_OK] * 100, all * 95, "libc: ok %ld of %ld", t.n[0], all);
            cr_expect_gt(t.n[NMT_CFI_END], 0, "libc's _start/clone end the stack");
        }
        if (strncmp(base_name(objs[i].path), "libstdc++", 9) == 0) {
            cxx_seen = 1;
            cr_expect_gt(t.n[NMT_CFI_OK] * 100, all * 95, "libstdc++: ok %ld of %ld", t.n[0], all);
        }
    }
    cr_expect_eq(wrong, 0, "answers libdw contradicts: %ld", wrong);
    cr_expect(libc_seen, "libc.so.6 was not compared");
    cr_expect(cxx == NULL || cxx_seen, "libstdc++ is loaded but was not compared");
}

/* The FDE of fn, in the test binary, compared at every byte. */
static void compare_function(void *fn, struct tally *t)
{
    struct obj *o = &objs[0];
    struct dw d;
    dw_open(&d, o);
    uint32_t i = 0, n = table_count(o);
    while (i < n && table_pc(o, i) != (uintptr_t)fn - o->base)
        i++;
    cr_assert_lt(i, n, "no FDE starts at %p", fn);
    unsigned every_byte = 0; /* the step stays 1: see compare_range */
    compare_fde(d.cfi, o, i, t, &every_byte);
    dw_close(&d);
}

Test(cfi, helper_with_and_without_frame_pointers, .init = setup)
{
    cr_assert_str_eq(objs[0].path, "/proc/self/exe");
    struct tally fp = {0}, nofp = {0};
    compare_function((void *)cfi_fp_many, &fp);
    compare_function((void *)cfi_fp_vla, &fp);
    compare_function((void *)cfi_nofp_many, &nofp);
    cr_expect_eq(fp.wrong + nofp.wrong, 0);
    cr_expect_eq(fp.n[NMT_CFI_OK], fp.n[0] + fp.n[1] + fp.n[2] + fp.n[3] + fp.n[4]);
    cr_expect_eq(nofp.n[NMT_CFI_OK], nofp.n[0] + nofp.n[1] + nofp.n[2] + nofp.n[3] + nofp.n[4]);
    cr_expect_gt(fp.rbp_based, 0, "frame pointers: a CFA based on rbp");
    cr_expect_gt(nofp.rsp_pushed, 0, "no frame pointers: a CFA on rsp after pushes");
    cr_expect_eq(cfi_fp_many(1, 2, 3, 4, 5, 6), cfi_nofp_many(1, 2, 3, 4, 5, 6));
}
