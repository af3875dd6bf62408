/*
 * test_cfi_synth.c: the table reader and the instruction interpreter
 * (preload/nmt_cfi_eval.c, nmt_cfi_insn.c) on hand-made tables: one
 * .eh_frame_hdr with a single FDE and its CIE, in a mapping fenced by
 * inaccessible pages on both sides so that any read outside it crashes the
 * test. Each case is a few instructions and the rule expected at an
 * address; then the same table with random bytes changed and cut short
 * must give an answer, never a crash or a hang.
 */
#include <criterion/criterion.h>
#include <link.h>
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "nmt_cfi_eval.h"

#define CODE_OFF 0x10000 /* where the (unread) code is, from the table's start */
#define CODE_LEN 0x100

struct image {
    uint8_t b[512];
    size_t n;
};

static void put(struct image *im, const void *p, size_t n)
{
    cr_assert_leq(im->n + n, sizeof(im->b));
    memcpy(im->b + im->n, p, n);
    im->n += n;
}

static void put32(struct image *im, uint32_t v)
{
    put(im, &v, 4);
}

static void put32_at(struct image *im, size_t at, uint32_t v)
{
    memcpy(im->b + at, &v, 4);
}

/* Pads the record that started at `start` with nops and sets its length. */
static void close_record(struct image *im, size_t start)
{
    while ((im->n - start) % 4)
        put(im, "\0", 1);
    put32_at(im, start, (uint32_t)(im->n - start - 4));
}

/* The header, one CIE (augmentation aug, then cie_insn), one FDE covering
 * [CODE_OFF, CODE_OFF + CODE_LEN) with fde_insn, and the terminator. */
static void build(struct image *im, const char *aug, const uint8_t *ci, size_t cn,
                  const uint8_t *fi, size_t fn)
{
    im->n = 0;
    put(im, "\x01\x1b\x03\x3b", 4);
    put32(im, 20 - 4); /* eh_frame_ptr, pc-relative: .eh_frame at 20 */
    put32(im, 1);
    put32(im, CODE_OFF);
    put32(im, 0); /* the FDE's offset, below */
    size_t cie = im->n;
    put32(im, 0);
    put32(im, 0);
    put(im, "\x01", 1);
    put(im, aug, strlen(aug) + 1);
    put(im, "\x01\x78\x10\x01\x1b", 5); /* code 1, data -8, RA 16, "R": pcrel sdata4 */
    put(im, ci, cn);
    close_record(im, cie);
    size_t fde = im->n;
    put32_at(im, 16, (uint32_t)fde);
    put32(im, 0);
    put32(im, (uint32_t)(im->n - cie));
    put32(im, (uint32_t)(CODE_OFF - im->n));
    put32(im, CODE_LEN);
    put(im, "\x00", 1);
    put(im, fi, fn);
    close_record(im, fde);
    put32(im, 0);
}

static uint8_t *fenced; /* three pages: none, read-write, none */
static size_t page;

static void setup(void)
{
    page = (size_t)sysconf(_SC_PAGESIZE);
    fenced = mmap(NULL, 3 * page, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    cr_assert(fenced != MAP_FAILED);
    cr_assert_eq(mprotect(fenced + page, page, PROT_READ | PROT_WRITE), 0);
}

/* Places the first n bytes of im against the end of the accessible page,
 * describes it as an object's tables, and looks up CODE_OFF + at. */
static enum nmt_cfi_result eval_at(const struct image *im, size_t n, uintptr_t at,
                                   struct nmt_cfi_rule *out)
{
    uint8_t *base = fenced + 2 * page - n;
    memcpy(base, im->b, n);
    ElfW(Phdr) ph[2] = {{.p_type = PT_LOAD, .p_vaddr = (uintptr_t)base, .p_memsz = n},
                        {.p_type = PT_GNU_EH_FRAME, .p_vaddr = (uintptr_t)base, .p_memsz = 20}};
    struct dl_phdr_info info = {.dlpi_addr = 0, .dlpi_phdr = ph, .dlpi_phnum = 2};
    struct nmt_cfi_obj o;
    nmt__cfi_describe(&o, &info);
    o.lo = (uintptr_t)base + CODE_OFF;
    o.hi = o.lo + CODE_LEN;
    return nmt__cfi_eval(&o, (uintptr_t)base + CODE_OFF + at, out);
}

static const uint8_t entry_cie[] = {0x0c, 0x07, 0x08, 0x90, 0x01}; /* CFA rsp+8, RA at CFA-8 */

/* Expects the rule CFA = reg + off, rbp as given, at CODE_OFF + at. */
static void expect_rule(const uint8_t *fi, size_t fn, uintptr_t at, int reg, int off, int how,
                        int rbp_off)
{
    struct image im;
    build(&im, "zR", entry_cie, sizeof(entry_cie), fi, fn);
    struct nmt_cfi_rule r = {0};
    enum nmt_cfi_result res = eval_at(&im, im.n, at, &r);
    cr_assert_eq(res, NMT_CFI_OK, "at %#lx: result %d", (unsigned long)at, res);
    cr_expect(r.cfa_reg == reg && r.cfa_off == off && r.rbp_how == how && r.rbp_off == rbp_off,
              "at %#lx: cfa %d%+d rbp %d%+d, expected cfa %d%+d rbp %d%+d", (unsigned long)at,
              r.cfa_reg, r.cfa_off, r.rbp_how, r.rbp_off, reg, off, how, rbp_off);
}

static void expect_result(const char *aug, const uint8_t *fi, size_t fn, uintptr_t at,
                          enum nmt_cfi_result want)
{
    struct image im;
    build(&im, aug, entry_cie, sizeof(entry_cie), fi, fn);
    struct nmt_cfi_rule r;
    enum nmt_cfi_result res = eval_at(&im, im.n, at, &r);
    cr_expect_eq(res, want, "at %#lx: result %d, expected %d", (unsigned long)at, res, want);
}

#define RULE(at, reg, off, how, rbp_off, ...)                                                      \
    do {                                                                                           \
        const uint8_t fi_[] = {__VA_ARGS__};                                                       \
        expect_rule(fi_, sizeof(fi_), at, reg, off, how, rbp_off);                                 \
    } while (0)
#define RESULT(aug, at, want, ...)                                                                 \
    do {                                                                                           \
        const uint8_t fi_[] = {__VA_ARGS__};                                                       \
        expect_result(aug, fi_, sizeof(fi_), at, want);                                            \
    } while (0)

enum { RSP = NMT_CFI_RSP, RBP = NMT_CFI_RBP, SAME = NMT_CFI_SAME, AT = NMT_CFI_AT };

Test(cfi_synth, frame_set_up_step_by_step, .init = setup)
{
    /* push rbp (1 byte); mov rsp,rbp (3 bytes) */
#define PROLOGUE 0x41, 0x0e, 0x10, 0x86, 0x02, 0x43, 0x0d, 0x06
    RULE(0, RSP, 8, SAME, 0, PROLOGUE);
    RULE(1, RSP, 16, AT, -16, PROLOGUE);
    RULE(3, RSP, 16, AT, -16, PROLOGUE);
    RULE(4, RBP, 16, AT, -16, PROLOGUE);
    RULE(0xff, RBP, 16, AT, -16, PROLOGUE);
    RULE(0, RSP, 8, AT, -16, 0x86, 0x02, 0x41, 0xc6); /* restore rbp, at 1 */
    RULE(1, RSP, 8, SAME, 0, 0x86, 0x02, 0x41, 0xc6);
    RULE(1, RSP, 8, SAME, 0, 0x86, 0x02, 0x41, 0x06, 0x06); /* restore_extended */
    RULE(0, RSP, 8, AT, 16, 0x11, 0x06, 0x7e);              /* offset_extended_sf -2 */
    RULE(0, RSP, 8, AT, 16, 0x2f, 0x06, 0x02);              /* GNU_negative_offset_extended */
    RULE(0, RSP, 8, AT, -24, 0x05, 0x06, 0x03);             /* offset_extended */
    RULE(0, RBP, 16, SAME, 0, 0x12, 0x06, 0x7e);            /* def_cfa_sf rbp, -2 */
    RULE(0, RSP, 24, SAME, 0, 0x13, 0x7d);                  /* def_cfa_offset_sf -3 */
    RULE(0, RSP, 8, SAME, 0, 0x86, 0x02, 0x08, 0x06);       /* same_value */
    RULE(0, RSP, 8, SAME, 0, 0x2e, 0x10, 0x00, 0x00, 0x00); /* args_size, nops */
}

Test(cfi_synth, locations, .init = setup)
{
    /* advance_loc1 16, advance_loc2 16, advance_loc4 16 */
#define ADVANCES                                                                                   \
    0x02, 0x10, 0x0e, 0x10, 0x03, 0x10, 0x00, 0x0e, 0x20, 0x04, 0x10, 0, 0, 0, 0x0e, 0x30
    RULE(0x0f, RSP, 8, SAME, 0, ADVANCES);
    RULE(0x10, RSP, 16, SAME, 0, ADVANCES);
    RULE(0x1f, RSP, 16, SAME, 0, ADVANCES);
    RULE(0x20, RSP, 32, SAME, 0, ADVANCES);
    RULE(0x30, RSP, 48, SAME, 0, ADVANCES);
    /* remember, change, restore */
    RULE(0, RSP, 32, AT, -16, 0x0a, 0x0e, 0x20, 0x86, 0x02, 0x42, 0x0b);
    RULE(2, RSP, 8, SAME, 0, 0x0a, 0x0e, 0x20, 0x86, 0x02, 0x42, 0x0b);
    RULE(0, RSP, 8, SAME, 0, 0x0a, 0x0a, 0x0a, 0x0a, 0x0a, 0x0a, 0x0a, 0x0a);
    RESULT("zR", 0, NMT_CFI_UNSUPPORTED, 0x0a, 0x0a, 0x0a, 0x0a, 0x0a, 0x0a, 0x0a, 0x0a, 0x0a);
    RESULT("zR", 0, NMT_CFI_UNSUPPORTED, 0x0b); /* restore_state with nothing remembered */
    RESULT("zR", CODE_LEN, NMT_CFI_NOFDE);
    RESULT("zR", (uintptr_t)-1, NMT_CFI_NOFDE);
}

Test(cfi_synth, expressions_matter_only_where_in_force, .init = setup)
{
    RULE(0, RSP, 16, SAME, 0, 0x10, 0x03, 0x02, 0x30, 0x31, 0x0e, 0x10); /* rbx: skipped */
    RULE(0, RSP, 8, SAME, 0, 0x16, 0x0c, 0x01, 0x30);                    /* r12 */
    RESULT("zR", 0, NMT_CFI_UNSUPPORTED, 0x0f, 0x02, 0x77, 0x08);
    RESULT("zR", 0, NMT_CFI_UNSUPPORTED, 0x0f, 0x02, 0x77, 0x08, 0x41, 0x0c, 0x07, 0x10);
    RULE(1, RSP, 16, SAME, 0, 0x0f, 0x02, 0x77, 0x08, 0x41, 0x0c, 0x07, 0x10);
    RESULT("zR", 0, NMT_CFI_UNSUPPORTED, 0x10, 0x06, 0x01, 0x30); /* rbp by expression */
    RESULT("zR", 0, NMT_CFI_UNSUPPORTED, 0x16, 0x10, 0x01, 0x30); /* RA by val_expression */
}

Test(cfi_synth, shapes_outside_the_rule, .init = setup)
{
    RESULT("zR", 0, NMT_CFI_END, 0x07, 0x10);               /* RA undefined */
    RESULT("zR", 0, NMT_CFI_UNSUPPORTED, 0x90, 0x02);       /* RA at CFA-16 */
    RESULT("zR", 0, NMT_CFI_UNSUPPORTED, 0x09, 0x06, 0x03); /* rbp in rbx */
    RESULT("zR", 0, NMT_CFI_UNSUPPORTED, 0x07, 0x06);       /* rbp undefined */
    RESULT("zR", 0, NMT_CFI_UNSUPPORTED, 0x0c, 0x03, 0x08); /* CFA on rbx */
    RESULT("zR", 0, NMT_CFI_UNSUPPORTED, 0x0e, 0x80, 0x80); /* LEB128 cut by the FDE's end */
    RESULT("zR", 0, NMT_CFI_UNSUPPORTED, 0x0e, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80,
           0x80, 0x01);                         /* 11-byte LEB128 */
    RESULT("zR", 0, NMT_CFI_UNSUPPORTED, 0x3f); /* an unknown vendor opcode */
    RESULT("zRS", 0, NMT_CFI_UNSUPPORTED);      /* a signal frame */
    RESULT("zRX", 0, NMT_CFI_UNSUPPORTED);      /* an unknown augmentation */
    RULE(0, RSP, 8, SAME, 0, 0x00);             /* (the same table, plain) */
}

/* Random bytes changed anywhere in a valid table, and tables cut short:
 * every lookup returns one of the answers, and reads stay inside (the
 * fence pages would crash the test). */
Test(cfi_synth, damaged_tables_are_survived, .init = setup, .timeout = 120)
{
    const uint8_t fi[] = {PROLOGUE, 0x0a, 0x10, 0x03, 0x02, 0x30, 0x31, 0x41, 0x0b};
    struct image good, im;
    build(&good, "zR", entry_cie, sizeof(entry_cie), fi, sizeof(fi));
    uint32_t seed = 12345;
    long answers[5] = {0};
    for (int i = 0; i < 30000; i++) {
        im = good;
        size_t n = good.n;
        seed = seed * 1103515245u + 12345u;
        int flips = 1 + (int)(seed >> 28) % 4;
        for (int k = 0; k < flips; k++) {
            seed = seed * 1103515245u + 12345u;
            im.b[(seed >> 8) % good.n] = (uint8_t)(seed >> 20);
        }
        if (i % 3 == 0)
            n = 20 + (seed >> 4) % (good.n - 20);
        struct nmt_cfi_rule r;
        enum nmt_cfi_result res = eval_at(&im, n, (seed >> 12) % (CODE_LEN + 8), &r);
        cr_assert(res >= NMT_CFI_OK && res <= NMT_CFI_UNSUPPORTED, "result %d", res);
        answers[res]++;
    }
    cr_expect_gt(answers[NMT_CFI_OK], 0);
    cr_expect_gt(answers[NMT_CFI_UNSUPPORTED], 0);
}
