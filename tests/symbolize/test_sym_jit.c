/*
 * test_sym_jit.c: perf maps (both address forms, garbage lines, the /tmp/perf-<pid>.map
 * default), frame classes from mapping paths, and the allocation-site helper.
 */
#include "test_sym_util.h"

#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const char perf_map_text[] =
    "7f0000001000 100 Interpreter\n"
    "0x7f0000002000 0x40 void java.nio.Bits.reserveMemory(long, long)\n"
    "7f0000003000 20 Ljava/nio/Bits;::unreserveMemory\n"
    "0x7f0000004000 0x20 java.nio.DirectByteBuffer::<init>\n"
    "0x7f0000005000 0x80 StubRoutines (1)\n"
    "0x7f0000005100 0x80 I2C/C2I adapters\n"
    "garbage line here\n"
    "0xzz 10 bad\n"
    "7f0000006000\n"
    "7f0000007000 zz name\n"
    "\n"
    "7f0000008000 10   \n"
    "0x7f000000a000 0x10 long jdk.internal.misc.Unsafe.allocateMemory0(long)\n";

static char *write_map(const char *path)
{
    FILE *f = fopen(path, "w");
    cr_assert(f, "write %s", path);
    fputs(perf_map_text, f);
    fclose(f);
    return strdup(path);
}

static const struct nms_frame *one(struct nms_ctx *c, uint64_t a, int is_ret)
{
    const struct nms_frame *fr;
    cr_assert(nms_resolve(c, a, is_ret, &fr) == 1);
    return fr;
}

static void check_map(struct nms_ctx *c)
{
    /* The code cache: anonymous, executable. 0x7f000000a000 lies outside it. */
    struct nms_mapping m = {
        0x7f0000000000, 0x7f0000009000, 0, NMS_PROT_R | NMS_PROT_W | NMS_PROT_X, "", NULL, 0};
    cr_assert(nms_set_mappings(c, &m, 1) == 0);
    const struct nms_frame *f = one(c, 0x7f0000001010, 0);
    cr_expect_str_eq(f->function, "Interpreter");
    cr_expect_eq(f->cls, NMS_JIT);
    f = one(c, 0x7f0000002008, 1);
    cr_expect_str_eq(f->function, "void java.nio.Bits.reserveMemory(long, long)");
    cr_expect_eq(f->cls, NMS_JAVA);
    cr_expect_eq(one(c, 0x7f0000003000, 0)->cls, NMS_JAVA);
    cr_expect_eq(one(c, 0x7f0000004010, 0)->cls, NMS_JAVA);
    f = one(c, 0x7f0000005000, 0);
    cr_expect_str_eq(f->function, "StubRoutines (1)");
    cr_expect_eq(f->cls, NMS_JIT);
    cr_expect_eq(one(c, 0x7f0000005100, 0)->cls, NMS_JIT);
    /* A return address at an entry's start belongs to the code before it. */
    f = one(c, 0x7f0000002000, 1);
    cr_expect_str_eq(f->function, "??");
    cr_expect_eq(f->cls, NMS_JIT, "anonymous executable memory is JIT code");
    f = one(c, 0x7f000000a004, 0);
    cr_expect_eq(f->cls, NMS_JAVA, "perf-map entries also name unmapped addresses");
    cr_expect_eq(nms_warning_count(c, NMS_W_PERF_MAP), 5, "5 malformed lines");
    const char *const *msgs;
    cr_expect_eq(nms_warning_messages(c, &msgs), 1);
    cr_expect(strstr(msgs[0], "5 malformed lines"), "%s", msgs[0]);
}

Test(sym_jit, explicit_perf_map)
{
    char *dir = tmpdir_make(), path[4200];
    snprintf(path, sizeof(path), "%s/jit.map", dir);
    free(write_map(path));
    struct nms_options o = {.perf_map = path, .no_system_debug = 1, .no_default_perf_map = 1};
    struct nms_ctx *c = nms_open(&o);
    cr_assert(c);
    check_map(c);
    nms_close(c);
    tmpdir_remove(dir);
}

Test(sym_jit, default_perf_map_from_pid)
{
    char path[64];
    int pid = (int)getpid();
    snprintf(path, sizeof(path), "/tmp/perf-%d.map", pid);
    free(write_map(path));
    struct nms_options o = {.pid = pid, .no_system_debug = 1};
    struct nms_ctx *c = nms_open(&o);
    unlink(path);
    cr_assert(c);
    check_map(c);
    nms_close(c);

    o.no_default_perf_map = 1;
    c = nms_open(&o);
    struct nms_mapping m = {
        0x7f0000000000, 0x7f0000009000, 0, NMS_PROT_R | NMS_PROT_X, "", NULL, 0};
    cr_assert(nms_set_mappings(c, &m, 1) == 0);
    cr_expect_str_eq(one(c, 0x7f0000001010, 0)->function, "??");
    nms_close(c);
}

Test(sym_jit, missing_explicit_perf_map)
{
    struct nms_options o = {.perf_map = "/nonexistent/perf.map", .no_system_debug = 1};
    struct nms_ctx *c = nms_open(&o);
    cr_assert(c);
    const char *const *msgs;
    cr_expect_eq(nms_warning_messages(c, &msgs), 1);
    nms_close(c);
}

#define JDK "/usr/lib/jvm/java-17-openjdk-amd64"
static const struct {
    const char *path;
    enum nms_class cls;
} class_cases[] = {
    {"/opt/nmtrace/lib/libnmtrace.so", NMS_NMTRACE},
    {"/usr/lib/x86_64-linux-gnu/libc.so.6", NMS_LIBC},
    {"/usr/lib/x86_64-linux-gnu/ld-linux-x86-64.so.2", NMS_LIBC},
    {"/usr/lib/x86_64-linux-gnu/libstdc++.so.6.0.30", NMS_LIBC},
    {"/usr/lib/x86_64-linux-gnu/libgcc_s.so.1", NMS_LIBC},
    {"/usr/lib/x86_64-linux-gnu/libm.so.6", NMS_LIBC},
    {"/lib/x86_64-linux-gnu/libpthread-2.31.so", NMS_LIBC},
    {"/usr/lib/x86_64-linux-gnu/libjemalloc.so.2", NMS_ALLOCATOR},
    {"/usr/lib/libtcmalloc_minimal.so.4", NMS_ALLOCATOR},
    {"/usr/local/lib/libmimalloc.so.2", NMS_ALLOCATOR},
    {JDK "/lib/server/libjvm.so", NMS_JVM},
    {JDK "/lib/libnio.so", NMS_JDK},
    {JDK "/lib/libjava.so", NMS_JDK},
    {"/srv/java/lib/libzip.so", NMS_JDK}, /* home of the libjvm below */
    {"/srv/java/lib/server/libjvm.so", NMS_JVM},
    {"/opt/jdk-21.0.2/lib/libnet.so", NMS_JNI},    /* not the home of the libjvm mapped */
    {"/work/jvm/build/lib/libnative.so", NMS_JNI}, /* a checkout under a "jvm" directory */
    {"/opt/app/native/libcrypto.so.3", NMS_JNI},
    {"/tmp/libnetty_transport_native_epoll_x86_6412345.so", NMS_JNI},
    {"/opt/app/bin/server", NMS_EXE},
    {"[vdso]", NMS_UNKNOWN},
};
#define NCASES (sizeof(class_cases) / sizeof(class_cases[0]))

static struct nms_ctx *class_ctx(void)
{
    struct nms_options o = {
        .exe = "/opt/app/bin/server", .no_system_debug = 1, .no_default_perf_map = 1};
    struct nms_ctx *c = nms_open(&o);
    cr_assert(c);
    struct nms_mapping m[NCASES + 1];
    for (size_t i = 0; i < NCASES; i++)
        m[i] = (struct nms_mapping){0x100000 * (i + 1),
                                    0x100000 * (i + 1) + 0x10000,
                                    0,
                                    NMS_PROT_R | NMS_PROT_X,
                                    class_cases[i].path,
                                    NULL,
                                    0};
    m[NCASES] = (struct nms_mapping){
        0x7e0000000000, 0x7e0000100000, 0, NMS_PROT_R | NMS_PROT_W | NMS_PROT_X, "", NULL, 0};
    cr_assert(nms_set_mappings(c, m, NCASES + 1) == 0);
    return c;
}

Test(sym_class, classes_from_paths)
{
    struct nms_ctx *c = class_ctx();
    for (size_t i = 0; i < NCASES; i++) {
        const struct nms_frame *f = one(c, 0x100000 * (i + 1) + 0x100, 1);
        cr_expect_eq(f->cls, class_cases[i].cls, "%s: %s, want %s", class_cases[i].path,
                     nms_class_name(f->cls), nms_class_name(class_cases[i].cls));
        cr_expect_str_eq(f->function, "??");
    }
    cr_expect_eq(one(c, 0x7e0000000100, 1)->cls, NMS_JIT);
    /* Each path missing here is one counted warning per frame. */
    uint64_t missing = 0;
    for (size_t i = 0; i < NCASES; i++)
        missing += class_cases[i].path[0] == '/' && access(class_cases[i].path, F_OK) != 0;
    cr_expect_eq(nms_warning_count(c, NMS_W_NO_FILE), missing);
    nms_close(c);
}

/* Without a libjvm.so in the maps there is no JDK home to go by: a library
 * in a directory named like a JDK install is taken for the JDK's. */
Test(sym_class, jdk_directory_without_libjvm)
{
    struct nms_options o = {.no_system_debug = 1, .no_default_perf_map = 1};
    struct nms_ctx *c = nms_open(&o);
    cr_assert(c);
    struct nms_mapping m[] = {
        {0x100000, 0x110000, 0, NMS_PROT_R | NMS_PROT_X, "/opt/jdk-21.0.2/lib/libnet.so", NULL, 0},
        {0x200000, 0x210000, 0, NMS_PROT_R | NMS_PROT_X, "/opt/app/native/libfoo.so", NULL, 0},
    };
    cr_assert(nms_set_mappings(c, m, 2) == 0);
    cr_expect_eq(one(c, 0x100100, 1)->cls, NMS_JDK);
    cr_expect_eq(one(c, 0x200100, 1)->cls, NMS_JNI);
    nms_close(c);
}

Test(sym_class, allocation_site)
{
    struct nms_ctx *c = class_ctx();
    /* entry point (nmtrace), libc, jemalloc, then libjvm. */
    uint64_t stack[] = {0x100000 + 0x10, 0x200000 + 0x20, 0x800000 + 0x30, 0xb00000 + 0x40,
                        0xc00000 + 0x50};
    const struct nms_frame *site;
    cr_expect_eq(nms_allocation_site(c, stack, 5, &site), 3);
    cr_assert(site);
    cr_expect_eq(site->cls, NMS_JVM);
    cr_expect_eq(site->addr, stack[3]);
    cr_expect_eq(nms_allocation_site(c, stack, 3, &site), -1, "all plumbing");
    cr_expect_null(site);
    uint64_t with_java[] = {stack[0], stack[1], (1ull << 63) | 7};
    cr_expect_eq(nms_allocation_site(c, with_java, 3, &site), 2);
    cr_expect_null(site, "Java frames are the caller's");
    nms_close(c);
}

Test(sym_class, names)
{
    cr_expect_str_eq(nms_class_name(NMS_JVM), "jvm");
    cr_expect_str_eq(nms_class_name(NMS_ALLOCATOR), "allocator");
    cr_expect_str_eq(nms_class_name((enum nms_class)99), "unknown");
    cr_expect(nms_class_is_plumbing(NMS_LIBC));
    cr_expect(!nms_class_is_plumbing(NMS_JNI));
    cr_expect_str_eq(nms_warning_name(NMS_W_BUILD_ID), "build-id mismatch");
}

/* Names as JDK 17's -XX:+DumpPerfMapAtExit writes them (seen on this JDK), and the
 * forms of perf-map-agent and async-profiler. */
static const struct {
    const char *name;
    enum nms_class cls;
} jit_names[] = {
    {"int java.lang.String.hashCode()", NMS_JAVA},
    {"void java.lang.Object.<init>()", NMS_JAVA},
    {"java.nio.ByteBuffer java.nio.ByteBuffer.allocateDirect(int)", NMS_JAVA},
    {"void java.nio.DirectByteBuffer$Deallocator.<init>(long, long, int)", NMS_JAVA},
    {"java.lang.Object java.lang.invoke.LambdaForm$MH/0x0000000800c0c400.invoke(java.lang.Object)",
     NMS_JAVA},
    {"Ljava/nio/Bits;::reserveMemory", NMS_JAVA},
    {"Ljava/nio/Bits;::reserveMemory(JJ)V", NMS_JAVA},
    {"java.nio.Bits::reserveMemory", NMS_JAVA},
    {"I2C/C2I adapters", NMS_JIT},
    {"StubRoutines (2)", NMS_JIT},
    {"SafepointBlob", NMS_JIT},
    {"Interpreter", NMS_JIT},
    {"jni_fast_GetIntField", NMS_JIT},
    {"throw_div0_exception Runtime1 stub", NMS_JIT},
    {"native signature handlers", NMS_JIT},
    {"resolve_virtual_call", NMS_JIT},
    {"MethodHandles adapters", NMS_JIT},
    {"vtable chunks", NMS_JIT},
};

Test(sym_jit, java_or_stub_names)
{
    char *dir = tmpdir_make(), path[4200];
    snprintf(path, sizeof(path), "%s/names.map", dir);
    FILE *f = fopen(path, "w");
    cr_assert(f);
    size_t n = sizeof(jit_names) / sizeof(jit_names[0]);
    for (size_t i = 0; i < n; i++)
        fprintf(f, "0x%llx 0x100 %s\n", 0x7f0000000000ull + 0x1000 * i, jit_names[i].name);
    fclose(f);
    struct nms_options o = {.perf_map = path, .no_system_debug = 1};
    struct nms_ctx *c = nms_open(&o);
    struct nms_mapping m = {
        0x7f0000000000, 0x7f0000100000, 0, NMS_PROT_R | NMS_PROT_X, "", NULL, 0};
    cr_assert(nms_set_mappings(c, &m, 1) == 0);
    for (size_t i = 0; i < n; i++) {
        const struct nms_frame *fr = one(c, 0x7f0000000010 + 0x1000 * i, 1);
        cr_expect_str_eq(fr->function, jit_names[i].name);
        cr_expect_eq(fr->cls, jit_names[i].cls, "%s: %s", jit_names[i].name,
                     nms_class_name(fr->cls));
    }
    cr_expect_eq(nms_warning_count(c, NMS_W_PERF_MAP), 0);
    nms_close(c);
    tmpdir_remove(dir);
}
