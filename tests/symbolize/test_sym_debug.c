/*
 * test_sym_debug.c: separate debug files (by build-id under a debug root given as an
 * option or NMTRACE_DEBUG_PATH, by .gnu_debuglink in .debug/), a truncated debug file,
 * a build-id mismatch, --symbols-from (by build-id, by basename, wrong version), and
 * missing or non-ELF objects. Every failure must give "??" and a counted warning.
 */
#include "test_sym_util.h"

#include <criterion/criterion.h>
#include <dlfcn.h>
#include <stdlib.h>
#include <string.h>

struct loaded {
    void *h;
    uint64_t alpha, stat;
    int static_line;
    struct tmaps t;
};

static void load(struct loaded *l, const char *lib)
{
    memset(l, 0, sizeof(*l));
    l->h = dlopen(lib, RTLD_NOW | RTLD_LOCAL);
    cr_assert(l->h, "%s", dlerror());
    l->alpha = (uint64_t)dlsym(l->h, "fx_plain_alpha");
    void *(*sa)(void) = (void *(*)(void))dlsym(l->h, "fx_plain_static_addr");
    const int *sl = dlsym(l->h, "fx_plain_static_line");
    cr_assert(l->alpha && sa && sl);
    l->stat = (uint64_t)sa();
    l->static_line = *sl;
    tmaps_self(&l->t);
}

static void unload(struct loaded *l)
{
    tmaps_free(&l->t);
    dlclose(l->h);
}

static struct nms_ctx *ctx_with(const struct loaded *l, const char *debug_dir,
                                const char *symbols_from)
{
    const char *dirs[1] = {debug_dir};
    struct nms_options o = {.debug_dirs = dirs,
                            .n_debug_dirs = debug_dir ? 1 : 0,
                            .symbols_from = symbols_from,
                            .no_system_debug = 1,
                            .no_default_perf_map = 1};
    struct nms_ctx *c = nms_open(&o);
    cr_assert(c);
    cr_assert(nms_set_mappings(c, l->t.m, l->t.n) == 0);
    return c;
}

static const struct nms_frame *last(struct nms_ctx *c, uint64_t addr)
{
    const struct nms_frame *fr;
    int n = nms_resolve(c, addr, 0, &fr);
    cr_assert(n >= 1);
    return &fr[n - 1];
}

static int has_message(struct nms_ctx *c, const char *needle)
{
    const char *const *m;
    size_t n = nms_warning_messages(c, &m);
    for (size_t i = 0; i < n; i++)
        if (strstr(m[i], needle))
            return 1;
    return 0;
}

/* <root>/.build-id/xx/rest.debug holding the first limit bytes of FX_BID_DEBUG. */
static char *build_id_tree(size_t limit)
{
    uint8_t bid[64];
    char hex[129], path[4096];
    uint32_t n = elf_file_build_id(FX_BID, bid, sizeof(bid));
    cr_assert(n > 2, "the fixture has a build-id");
    hexstr(hex, bid, n);
    char *root = tmpdir_make();
    snprintf(path, sizeof(path), "%s/.build-id/%.2s", root, hex);
    mkdir_p(path);
    snprintf(path, sizeof(path), "%s/.build-id/%.2s/%s.debug", root, hex, hex + 2);
    copy_file(FX_BID_DEBUG, path, limit);
    return root;
}

Test(sym_debug, stripped_without_debug_file)
{
    struct loaded l;
    load(&l, FX_BID);
    struct nms_ctx *c = ctx_with(&l, NULL, NULL);
    cr_expect_str_eq(last(c, l.alpha)->function, "fx_plain_alpha", "from .dynsym");
    cr_expect_str_eq(last(c, l.stat)->function, "??", "static: only in the debug file");
    nms_close(c);
    unload(&l);
}

Test(sym_debug, by_build_id_in_option_dir)
{
    struct loaded l;
    load(&l, FX_BID);
    char *root = build_id_tree(SIZE_MAX);
    struct nms_ctx *c = ctx_with(&l, root, NULL);
    const struct nms_frame *f = last(c, l.stat);
    cr_expect_str_eq(f->function, "fx_plain_static");
    cr_expect_eq(f->line, l.static_line);
    cr_expect(ends_with(f->file, "fx_plain.c"));
    const char *const *m;
    cr_expect_eq(nms_warning_messages(c, &m), 0);
    nms_close(c);
    tmpdir_remove(root);
    unload(&l);
}

Test(sym_debug, by_build_id_in_env_path)
{
    struct loaded l;
    load(&l, FX_BID);
    char *root = build_id_tree(SIZE_MAX);
    char env[4200];
    snprintf(env, sizeof(env), "/nonexistent/debug:%s", root);
    setenv("NMTRACE_DEBUG_PATH", env, 1);
    struct nms_options o = {.no_default_perf_map = 1};
    struct nms_ctx *c = nms_open(&o);
    cr_assert(nms_set_mappings(c, l.t.m, l.t.n) == 0);
    cr_expect_str_eq(last(c, l.stat)->function, "fx_plain_static");
    nms_close(c);
    tmpdir_remove(root);
    unload(&l);
}

Test(sym_debug, by_debuglink)
{
    struct loaded l;
    load(&l, FX_LINK);
    struct nms_ctx *c = ctx_with(&l, NULL, NULL);
    const struct nms_frame *f = last(c, l.stat);
    cr_expect_str_eq(f->function, "fx_plain_static");
    cr_expect_eq(f->line, l.static_line);
    cr_expect_str_eq(f->lib, "libfx_link.so");
    nms_close(c);
    unload(&l);
}

Test(sym_debug, truncated_debug_file)
{
    struct loaded l;
    load(&l, FX_BID);
    char *root = build_id_tree(file_size(FX_BID_DEBUG) / 2);
    struct nms_ctx *c = ctx_with(&l, root, NULL);
    cr_expect_str_eq(last(c, l.stat)->function, "??");
    cr_expect_eq(nms_warning_count(c, NMS_W_BAD_DEBUG), 1);
    cr_expect(has_message(c, "truncated"));
    cr_expect_str_eq(last(c, l.alpha)->function, "fx_plain_alpha", "the object still works");
    nms_close(c);
    tmpdir_remove(root);
    unload(&l);
}

static void flip_build_id(struct tmaps *t, const char *suffix)
{
    int n = 0;
    for (size_t i = 0; i < t->n; i++) {
        if (!ends_with(t->m[i].path, suffix))
            continue;
        cr_assert(t->m[i].build_id_len > 0);
        ((uint8_t *)t->m[i].build_id)[0] ^= 0xff;
        n++;
    }
    cr_assert(n > 0);
}

Test(sym_debug, build_id_mismatch)
{
    struct loaded l;
    load(&l, FX_PLAIN);
    flip_build_id(&l.t, "/libfx_plain.so");
    struct nms_ctx *c = ctx_with(&l, NULL, NULL);
    const struct nms_frame *f = last(c, l.alpha);
    cr_expect_str_eq(f->function, "??", "a mismatched file is not used");
    cr_expect_str_eq(f->lib, "libfx_plain.so");
    last(c, l.stat);
    cr_expect_eq(nms_warning_count(c, NMS_W_BUILD_ID), 2);
    cr_expect(has_message(c, "build-id mismatch"));
    nms_close(c);
    unload(&l);
}

static void move_paths(struct tmaps *t, const char *suffix, const char *to, int keep_bid)
{
    for (size_t i = 0; i < t->n; i++) {
        if (!ends_with(t->m[i].path, suffix))
            continue;
        free((void *)t->m[i].path);
        t->m[i].path = strdup(to);
        if (!keep_bid) {
            free((void *)t->m[i].build_id);
            t->m[i].build_id = NULL;
            t->m[i].build_id_len = 0;
        }
    }
}

Test(sym_debug, symbols_from_by_build_id)
{
    struct loaded l;
    load(&l, FX_PLAIN);
    move_paths(&l.t, "/libfx_plain.so", "/nonexistent/dir/libfx_plain.so", 1);
    char *dir = tmpdir_make(), sub[4200], dst[4300];
    snprintf(sub, sizeof(sub), "%s/a/b", dir);
    mkdir_p(sub);
    snprintf(dst, sizeof(dst), "%s/renamed.so", sub);
    copy_file(FX_PLAIN, dst, SIZE_MAX);

    struct nms_ctx *c = ctx_with(&l, NULL, NULL);
    cr_expect_str_eq(last(c, l.alpha)->function, "??");
    cr_expect_eq(nms_warning_count(c, NMS_W_NO_FILE), 1);
    nms_close(c);

    c = ctx_with(&l, NULL, dir);
    const struct nms_frame *f = last(c, l.alpha);
    cr_expect_str_eq(f->function, "fx_plain_alpha");
    cr_expect_str_eq(f->lib, "libfx_plain.so");
    cr_expect_str_eq(f->lib_path, "/nonexistent/dir/libfx_plain.so");
    cr_expect_str_eq(last(c, l.stat)->function, "fx_plain_static");
    cr_expect_eq(nms_warning_count(c, NMS_W_NO_FILE), 0);
    nms_close(c);
    tmpdir_remove(dir);
    unload(&l);
}

Test(sym_debug, symbols_from_by_basename)
{
    struct loaded l;
    load(&l, FX_PLAIN);
    move_paths(&l.t, "/libfx_plain.so", "/nonexistent/dir/libfx_plain.so", 0);
    char *dir = tmpdir_make(), dst[4200];
    snprintf(dst, sizeof(dst), "%s/libfx_plain.so", dir);
    copy_file(FX_PLAIN, dst, SIZE_MAX);
    struct nms_ctx *c = ctx_with(&l, NULL, dir);
    cr_expect_str_eq(last(c, l.alpha)->function, "fx_plain_alpha");
    nms_close(c);
    tmpdir_remove(dir);
    unload(&l);
}

Test(sym_debug, symbols_from_wrong_version)
{
    struct loaded l;
    load(&l, FX_PLAIN);
    move_paths(&l.t, "/libfx_plain.so", "/nonexistent/dir/libfx_plain.so", 1);
    char *dir = tmpdir_make(), dst[4200];
    snprintf(dst, sizeof(dst), "%s/libfx_plain.so", dir);
    copy_file(FX_LINK, dst, SIZE_MAX); /* same name, another build */
    struct nms_ctx *c = ctx_with(&l, NULL, dir);
    cr_expect_str_eq(last(c, l.alpha)->function, "??");
    cr_expect_eq(nms_warning_count(c, NMS_W_BUILD_ID), 1);
    nms_close(c);
    tmpdir_remove(dir);
    unload(&l);
}

Test(sym_debug, missing_and_non_elf_objects)
{
    char *dir = tmpdir_make(), junk[4200];
    snprintf(junk, sizeof(junk), "%s/libjunk.so", dir);
    FILE *f = fopen(junk, "w");
    cr_assert(f);
    fputs("this is not an ELF file\n", f);
    fclose(f);
    struct nms_mapping m[2] = {
        {0x10000, 0x20000, 0x1000, NMS_PROT_R | NMS_PROT_X, "/nonexistent/libnope.so", NULL, 0},
        {0x30000, 0x40000, 0, NMS_PROT_R | NMS_PROT_X, junk, NULL, 0},
    };
    struct nms_options o = {.no_system_debug = 1, .no_default_perf_map = 1};
    struct nms_ctx *c = nms_open(&o);
    cr_assert(nms_set_mappings(c, m, 2) == 0);
    const struct nms_frame *fr = last(c, 0x10100);
    cr_expect_str_eq(fr->function, "??");
    cr_expect_str_eq(fr->lib, "libnope.so");
    cr_expect_eq(fr->cls, NMS_JNI);
    fr = last(c, 0x30100);
    cr_expect_str_eq(fr->function, "??");
    last(c, 0x30200);
    cr_expect_eq(nms_warning_count(c, NMS_W_NO_FILE), 1);
    cr_expect_eq(nms_warning_count(c, NMS_W_BAD_ELF), 2);
    const char *const *msgs;
    cr_expect_eq(nms_warning_messages(c, &msgs), 2);
    nms_close(c);
    tmpdir_remove(dir);
}

Test(sym_debug, build_id_of_one_segment_covers_all)
{
    struct loaded l;
    load(&l, FX_PLAIN);
    /* Only the first segment carries the (wrong) build-id, as a recorder that reads
     * the note from the first mapping would write it. */
    int first = 1;
    for (size_t i = 0; i < l.t.n; i++) {
        if (!ends_with(l.t.m[i].path, "/libfx_plain.so"))
            continue;
        if (first)
            ((uint8_t *)l.t.m[i].build_id)[0] ^= 0xff;
        else {
            free((void *)l.t.m[i].build_id);
            l.t.m[i].build_id = NULL;
            l.t.m[i].build_id_len = 0;
        }
        first = 0;
    }
    struct nms_ctx *c = ctx_with(&l, NULL, NULL);
    cr_expect_str_eq(last(c, l.alpha)->function, "??");
    cr_expect_eq(nms_warning_count(c, NMS_W_BUILD_ID), 1);
    nms_close(c);
    unload(&l);
}

Test(sym_debug, debuglink_under_debug_root)
{
    struct loaded l;
    load(&l, FX_LINK);
    /* The object as if installed in <dir> with its debug file in <root>/<dir>/. */
    char *dir = tmpdir_make(), *root = tmpdir_make(), obj[4200], sub[8400], dbg[8500];
    snprintf(obj, sizeof(obj), "%s/libfx_link.so", dir);
    copy_file(FX_LINK, obj, SIZE_MAX);
    snprintf(sub, sizeof(sub), "%s%s", root, dir);
    mkdir_p(sub);
    snprintf(dbg, sizeof(dbg), "%s/libfx_link.so.debug", sub);
    copy_file(FX_DIR "/.debug/libfx_link.so.debug", dbg, SIZE_MAX);
    move_paths(&l.t, "/libfx_link.so", obj, 1);

    struct nms_ctx *c = ctx_with(&l, NULL, NULL);
    cr_expect_str_eq(last(c, l.stat)->function, "??", "no debug root: not found");
    nms_close(c);
    c = ctx_with(&l, root, NULL);
    cr_expect_str_eq(last(c, l.stat)->function, "fx_plain_static");
    nms_close(c);
    tmpdir_remove(dir);
    tmpdir_remove(root);
    unload(&l);
}

Test(sym_debug, debug_file_stands_in_for_missing_object)
{
    struct loaded l;
    load(&l, FX_BID);
    char *root = build_id_tree(SIZE_MAX);
    move_paths(&l.t, "/libfx_bid.so", "/nonexistent/dir/libfx_bid.so", 1);
    struct nms_ctx *c = ctx_with(&l, root, NULL);
    const struct nms_frame *f = last(c, l.stat);
    cr_expect_str_eq(f->function, "fx_plain_static", "the debug file keeps the program headers");
    cr_expect_eq(f->line, l.static_line);
    cr_expect_str_eq(last(c, l.alpha)->function, "fx_plain_alpha");
    cr_expect(has_message(c, "/nonexistent/dir/libfx_bid.so"), "the missing object is said");
    nms_close(c);
    tmpdir_remove(root);
    unload(&l);
}

Test(sym_debug, truncated_object)
{
    char *dir = tmpdir_make(), obj[4200];
    snprintf(obj, sizeof(obj), "%s/libtrunc.so", dir);
    copy_file(FX_PLAIN, obj, 3000);
    struct nms_mapping m = {0x10000, 0x20000, 0, NMS_PROT_R | NMS_PROT_X, obj, NULL, 0};
    struct nms_options o = {.no_system_debug = 1, .no_default_perf_map = 1};
    struct nms_ctx *c = nms_open(&o);
    cr_assert(nms_set_mappings(c, &m, 1) == 0);
    cr_expect_str_eq(last(c, 0x11000)->function, "??");
    cr_expect_eq(nms_warning_count(c, NMS_W_BAD_ELF), 1);
    cr_expect(has_message(c, "truncated"));
    nms_close(c);
    tmpdir_remove(dir);
}

Test(sym_debug, symbols_from_holds_debug_file)
{
    struct loaded l;
    load(&l, FX_BID);
    char *dir = tmpdir_make(), dst[4200];
    snprintf(dst, sizeof(dst), "%s/whatever.debug", dir);
    copy_file(FX_BID_DEBUG, dst, SIZE_MAX);
    struct nms_ctx *c = ctx_with(&l, NULL, dir);
    const struct nms_frame *f = last(c, l.stat);
    cr_expect_str_eq(f->function, "fx_plain_static", "debug file matched by build-id");
    cr_expect_eq(f->line, l.static_line);
    nms_close(c);
    tmpdir_remove(dir);
    unload(&l);
}

/* Objects with random bytes overwritten (fixed seeds): every lookup still answers. */
Test(sym_debug, corrupted_objects_never_crash)
{
    FILE *f = fopen(FX_PLAIN, "rb");
    cr_assert(f);
    size_t n = file_size(FX_PLAIN);
    unsigned char *orig = malloc(n), *b = malloc(n);
    cr_assert(orig && b && fread(orig, 1, n, f) == n);
    fclose(f);
    char *dir = tmpdir_make(), path[4200];
    snprintf(path, sizeof(path), "%s/libcorrupt.so", dir);
    uint32_t seed = 12345;
    for (int it = 0; it < 40; it++) {
        memcpy(b, orig, n);
        for (int k = 0; k < 1 + it; k++) {
            seed = seed * 1103515245u + 12345u;
            b[(seed >> 8) % n] = (unsigned char)(seed >> 3);
        }
        FILE *o = fopen(path, "wb");
        cr_assert(o && fwrite(b, 1, n, o) == n);
        fclose(o);
        struct nms_mapping m[2] = {
            {0x200000, 0x201000, 0, NMS_PROT_R, path, NULL, 0},
            {0x201000, 0x203000, 0x1000, NMS_PROT_R | NMS_PROT_X, path, NULL, 0},
        };
        struct nms_options opt = {.no_system_debug = 1, .no_default_perf_map = 1};
        struct nms_ctx *c = nms_open(&opt);
        cr_assert(c && nms_set_mappings(c, m, 2) == 0);
        for (uint64_t a = 0x200000; a < 0x203000; a += 5) {
            const struct nms_frame *fr;
            int k = nms_resolve(c, a, 1, &fr);
            cr_assert(k >= 1 && fr[k - 1].function);
        }
        nms_close(c);
    }
    free(orig);
    free(b);
    tmpdir_remove(dir);
}
