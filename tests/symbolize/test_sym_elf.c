/*
 * test_sym_elf.c: ELF symbols, lines and classes for objects really loaded: a shared
 * object with a non-zero link base, holes and unsized symbols, PIE and non-PIE
 * executables (run as children that print their own maps), C++ demangling, inlined
 * frames at -O2, return-address adjustment and addresses outside every mapping.
 */
#include "test_sym_util.h"

#include <criterion/criterion.h>
#include <dlfcn.h>
#include <link.h>
#include <stdlib.h>
#include <string.h>

static struct nms_ctx *open_self(struct tmaps *t)
{
    struct nms_options o = {.no_system_debug = 1, .no_default_perf_map = 1};
    struct nms_ctx *c = nms_open(&o);
    cr_assert(c);
    tmaps_self(t);
    cr_assert(nms_set_mappings(c, t->m, t->n) == 0);
    return c;
}

static void *sym(void *h, const char *name)
{
    void *p = dlsym(h, name);
    cr_assert(p, "dlsym %s: %s", name, dlerror());
    return p;
}

static const struct nms_frame *last(struct nms_ctx *c, uint64_t addr, int is_ret, int *n)
{
    const struct nms_frame *fr;
    int k = nms_resolve(c, addr, is_ret, &fr);
    cr_assert(k >= 1, "resolve %#llx: %d", (unsigned long long)addr, k);
    if (n)
        *n = k;
    return &fr[k - 1];
}

Test(sym_elf, shared_object_with_nonzero_base)
{
    void *h = dlopen(FX_PLAIN, RTLD_NOW | RTLD_LOCAL);
    cr_assert(h, "%s", dlerror());
    struct link_map *lm;
    cr_assert(dlinfo(h, RTLD_DI_LINKMAP, &lm) == 0);
    uint64_t alpha = (uint64_t)sym(h, "fx_plain_alpha");
    uint64_t stat = (uint64_t)((void *(*)(void))sym(h, "fx_plain_static_addr"))();
    int alpha_line = *(const int *)sym(h, "fx_plain_alpha_line");
    int static_line = *(const int *)sym(h, "fx_plain_static_line");
    struct tmaps t = {0};
    struct nms_ctx *c = open_self(&t);

    const struct nms_frame *f = last(c, alpha, 0, NULL);
    cr_expect_str_eq(f->function, "fx_plain_alpha");
    cr_expect_str_eq(f->lib, "libfx_plain.so");
    cr_expect_eq(f->cls, NMS_JNI);
    cr_expect(ends_with(f->file, "fx_plain.c"), "file %s", f->file ? f->file : "(null)");
    cr_expect_eq(f->line, alpha_line);
    /* The ELF address is the link-time one: the link base 0x200000 is part of it. */
    cr_expect_eq(f->elf_addr, alpha - lm->l_addr);
    cr_expect_geq(f->elf_addr, 0x200000);
    cr_expect_eq(f->addr, alpha);

    f = last(c, alpha + 4, 1, NULL);
    cr_expect_str_eq(f->function, "fx_plain_alpha");
    f = last(c, stat, 0, NULL);
    cr_expect_str_eq(f->function, "fx_plain_static");
    cr_expect_eq(f->line, static_line);
    cr_expect_eq(nms_warning_count(c, NMS_W_NO_FILE) + nms_warning_count(c, NMS_W_BAD_ELF), 0);
    nms_close(c);
    tmaps_free(&t);
    dlclose(h);
}

Test(sym_elf, hole_unsized_and_return_address)
{
    void *h = dlopen(FX_PLAIN, RTLD_NOW | RTLD_LOCAL);
    cr_assert(h, "%s", dlerror());
    uint64_t before = (uint64_t)sym(h, "fx_gap_before");
    uint64_t after = (uint64_t)sym(h, "fx_gap_after");
    uint64_t unsized = (uint64_t)sym(h, "fx_unsized");
    struct tmaps t = {0};
    struct nms_ctx *c = open_self(&t);

    const struct nms_frame *f = last(c, before, 0, NULL);
    cr_expect_str_eq(f->function, "fx_gap_before");
    f = last(c, before + 10, 0, NULL);
    cr_expect_str_eq(f->function, "??", "a hole between sized symbols is unknown");
    cr_expect_str_eq(f->lib, "libfx_plain.so");
    cr_expect_eq(f->cls, NMS_JNI);
    f = last(c, after, 0, NULL);
    cr_expect_str_eq(f->function, "fx_gap_after");
    f = last(c, unsized + 20, 0, NULL);
    cr_expect_str_eq(f->function, "fx_unsized", "an unsized symbol covers what follows it");
    /* fx_unsized starts right after the 1-byte fx_gap_after: as a return address it
     * belongs to the call instruction before it, as frame 0 to itself. */
    cr_assert_eq(unsized, after + 1);
    f = last(c, unsized, 1, NULL);
    cr_expect_str_eq(f->function, "fx_gap_after");
    cr_expect_eq(f->addr, unsized);
    f = last(c, unsized, 0, NULL);
    cr_expect_str_eq(f->function, "fx_unsized");
    nms_close(c);
    tmaps_free(&t);
    dlclose(h);
}

Test(sym_elf, outside_every_mapping)
{
    struct tmaps t = {0};
    struct nms_ctx *c = open_self(&t);
    const struct nms_frame *f = last(c, 16, 0, NULL);
    cr_expect_str_eq(f->function, "??");
    cr_expect_str_eq(f->lib, "??");
    cr_expect_eq(f->cls, NMS_UNKNOWN);
    cr_expect_eq(nms_warning_count(c, NMS_W_NO_MAPPING), 1);
    last(c, 16, 0, NULL);
    last(c, 32, 1, NULL);
    cr_expect_eq(nms_warning_count(c, NMS_W_NO_MAPPING), 3, "counted per frame");
    const char *const *msgs;
    cr_expect_eq(nms_warning_messages(c, &msgs), 1, "one message per distinct problem");
    nms_close(c);
    tmaps_free(&t);
}

struct child_syms {
    uint64_t where, helper, ret;
    int ret_line;
};

static void run_exe(const char *exe, struct tmaps *t, struct child_syms *s)
{
    FILE *p = popen(exe, "r");
    cr_assert(p, "popen %s", exe);
    char line[4352];
    memset(s, 0, sizeof(*s));
    while (fgets(line, sizeof(line), p)) {
        unsigned long long a;
        int x;
        if (sscanf(line, "sym fx_exe_where %llx", &a) == 1)
            s->where = a;
        else if (sscanf(line, "sym fx_exe_helper %llx", &a) == 1)
            s->helper = a;
        else if (sscanf(line, "ret %llx %d", &a, &x) == 2) {
            s->ret = a;
            s->ret_line = x;
        } else if (strncmp(line, "map ", 4) == 0) {
            FILE *m = fmemopen(line + 4, strlen(line + 4), "r");
            tmaps_parse(t, m, NULL);
            fclose(m);
        }
    }
    cr_assert(pclose(p) == 0);
    cr_assert(s->where && s->helper && s->ret && t->n > 0);
}

static void check_exe(const char *exe, const char *base)
{
    struct tmaps t = {0};
    struct child_syms s;
    run_exe(exe, &t, &s);
    struct nms_options o = {.no_system_debug = 1, .no_default_perf_map = 1};
    struct nms_ctx *c = nms_open(&o);
    cr_assert(nms_set_mappings(c, t.m, t.n) == 0);
    const struct nms_frame *f = last(c, s.where, 0, NULL);
    cr_expect_str_eq(f->function, "fx_exe_where");
    cr_expect_str_eq(f->lib, base);
    cr_expect_eq(f->cls, NMS_EXE, "%s is the executable (class %s)", base, nms_class_name(f->cls));
    f = last(c, s.helper, 0, NULL);
    cr_expect_str_eq(f->function, "fx_exe_helper");
    f = last(c, s.ret, 1, NULL);
    cr_expect_str_eq(f->function, "main");
    cr_expect_eq(f->line, s.ret_line);
    cr_expect(ends_with(f->file, "fx_exe.c"));
    nms_close(c);
    tmaps_free(&t);
}

Test(sym_elf, pie_executable)
{
    check_exe(FX_EXE_PIE, "fx_exe_pie");
}

Test(sym_elf, non_pie_executable)
{
    check_exe(FX_EXE_NOPIE, "fx_exe_nopie");
}

Test(sym_elf, cxx_names_demangled)
{
    void *h = dlopen(FX_CXX, RTLD_NOW | RTLD_LOCAL);
    cr_assert(h, "%s", dlerror());
    uint64_t scale = (uint64_t)((void *(*)(void))sym(h, "fx_cxx_scale_int"))();
    uint64_t make = (uint64_t)((void *(*)(void))sym(h, "fx_cxx_box_make_long"))();
    struct tmaps t = {0};
    struct nms_ctx *c = open_self(&t);
    const struct nms_frame *f = last(c, scale + 1, 0, NULL);
    cr_expect_str_eq(f->function, "int fxns::detail::scale<int>(int, int)");
    cr_expect(ends_with(f->file, "fx_cxx.cc"));
    f = last(c, make + 1, 0, NULL);
    cr_expect_str_eq(f->function, "fxns::Box<long>::make(long)");
    cr_expect_str_eq(f->lib, "libfx_cxx.so");
    nms_close(c);
    tmaps_free(&t);
    dlclose(h);
}

Test(sym_elf, inlined_frames_with_lines)
{
    void *h = dlopen(FX_INLINE, RTLD_NOW | RTLD_LOCAL);
    cr_assert(h, "%s", dlerror());
    uint64_t pc = (uint64_t)((void *(*)(void))sym(h, "fx_inline_outer"))();
    int inner_line = *(int *)sym(h, "fx_inline_inner_line");
    int call_line = *(int *)sym(h, "fx_inline_call_line");
    cr_assert(inner_line > 0 && call_line > inner_line);
    struct tmaps t = {0};
    struct nms_ctx *c = open_self(&t);
    const struct nms_frame *fr;
    int n = nms_resolve(c, pc, 1, &fr);
    cr_assert_eq(n, 2, "two frames for an inlined call, got %d", n);
    cr_expect_str_eq(fr[0].function, "fx_inline_inner");
    cr_expect_eq(fr[0].inlined, 1);
    cr_expect_eq(fr[0].line, inner_line);
    cr_expect(ends_with(fr[0].file, "fx_inline.c"));
    cr_expect_str_eq(fr[1].function, "fx_inline_outer");
    cr_expect_eq(fr[1].inlined, 0);
    cr_expect_eq(fr[1].line, call_line);
    cr_expect(ends_with(fr[1].file, "fx_inline.c"));
    cr_expect_eq(fr[0].addr, pc);
    cr_expect_eq(fr[1].addr, pc);
    /* The cached answer is the same array. */
    const struct nms_frame *again;
    cr_expect_eq(nms_resolve(c, pc, 1, &again), 2);
    cr_expect_eq(again, fr);
    nms_close(c);
    tmaps_free(&t);
    dlclose(h);
}
