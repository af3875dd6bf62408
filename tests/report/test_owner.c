/*
 * test_owner.c: the owner of a stack (report/nmr_owner.h) on hand-built
 * symbolized stacks: application Java vs the JDK's packages and --app, a JNI
 * library with its Java caller, the system zlib under the JDK's libzip,
 * plumbing that is never an owner, the JDK method nearest the application,
 * and JVM subsystems from libjvm's function names.
 */
#include <criterion/criterion.h>
#include <string.h>

#include "nmr_owner.h"

#define HOME "/usr/lib/jvm/java-17"
#define JAVA 0x8000000000000001ull /* a bridge frame word (bit 63) */

static struct nmr_frame fr(const char *fn, const char *lib, const char *path, enum nmr_class c)
{
    struct nmr_frame f = {0};
    f.function = fn;
    f.lib = lib;
    f.lib_path = path;
    f.cls = c;
    f.addr = c == NMR_CLS_JAVA ? JAVA : 0x1000;
    return f;
}

static struct nmr_frame java(const char *fn)
{
    return fr(fn, "", "", NMR_CLS_JAVA);
}

/* Filled in place: the rules point into their own copy of app, so a copy
 * of the struct would point into the one it was copied from. */
static void rules(struct nmr_owner_rules *r, const char *app)
{
    nmr_owner_rules_init(r, NULL, app);
    strcpy(r->homes[0], HOME);
    r->nhomes = 1;
    r->has_jvm = 1;
}

static struct nmr_owner owner_of(const char *app, struct nmr_frame *f, size_t n)
{
    struct nmr_stack s = {0};
    s.frames = f;
    s.nframes = (uint32_t)n;
    struct nmr_owner_rules r;
    rules(&r, app);
    struct nmr_owner o;
    nmr_owner_of(&r, &s, &o);
    return o;
}

#define OWNER(app, ...)                                                                            \
    ({                                                                                             \
        struct nmr_frame f_[] = {__VA_ARGS__};                                                     \
        owner_of(app, f_, sizeof(f_) / sizeof(f_[0]));                                             \
    })

static const struct nmr_frame LIBC = {
    .function = "malloc", .lib = "libc.so.6", .lib_path = "/lib/libc.so.6", .cls = NMR_CLS_LIBC};

Test(owner, unsafe_from_application_java)
{
    struct nmr_owner o = OWNER(
        NULL, LIBC,
        fr("Unsafe_AllocateMemory0", "libjvm.so", HOME "/lib/server/libjvm.so", NMR_CLS_JVM),
        java("jdk.internal.misc.Unsafe.allocateMemory"), java("sun.misc.Unsafe.allocateMemory"),
        java("com.acme.Leaky.run"), java("java.lang.Thread.run"));
    cr_assert_eq(o.kind, NMR_OWNER_APP_JAVA);
    cr_assert_eq(o.frame, 4);
    cr_assert_eq(o.area, NMR_AREA_UNSAFE);
}

Test(owner, app_claims_a_jdk_looking_package)
{
    struct nmr_owner o = OWNER("com.sun.acme", java("java.nio.ByteBuffer.allocateDirect"),
                               java("com.sun.acme.Pool.get"), java("com.acme.Main.main"));
    cr_assert_eq(o.kind, NMR_OWNER_APP_JAVA);
    cr_assert_eq(o.frame, 1);
    o = OWNER(NULL, java("java.nio.ByteBuffer.allocateDirect"), java("com.sun.acme.Pool.get"),
              java("com.acmex.Main.main"));
    cr_assert_eq(o.frame, 2, "com.sun. is the JDK's without --app");
    o = OWNER("com.acme", java("com.acmex.Pool.get"));
    cr_assert_eq(o.kind, NMR_OWNER_APP_JAVA, "com.acmex is no JDK package either");
}

Test(owner, jni_library_with_its_java_caller)
{
    struct nmr_owner o = OWNER(
        NULL, LIBC, fr("je_malloc", "libjemalloc.so.2", "/lib/libjemalloc.so.2", NMR_CLS_ALLOCATOR),
        fr("session_open", "libfoo.so", "/opt/app/libfoo.so", NMR_CLS_JNI),
        fr("Java_Foo_open", "libfoo.so", "/opt/app/libfoo.so", NMR_CLS_JNI),
        fr("Interpreter", "", "", NMR_CLS_JIT),
        fr("JavaCalls::call_helper", "libjvm.so", HOME "/lib/server/libjvm.so", NMR_CLS_JVM),
        java("Foo.open"), java("com.acme.Main.main"));
    cr_assert_eq(o.kind, NMR_OWNER_JNI);
    cr_assert_eq(o.frame, 2);
    cr_assert_eq(o.java_caller, 6);
}

Test(owner, system_zlib_under_the_jdks_libzip_is_the_jdks)
{
    struct nmr_owner o = OWNER(
        NULL, LIBC,
        fr("inflateInit2_", "libz.so.1", "/lib/x86_64-linux-gnu/libz.so.1", NMR_CLS_JNI),
        fr("Java_java_util_zip_Inflater_init", "libzip.so", HOME "/lib/libzip.so", NMR_CLS_JDK),
        java("java.util.zip.Inflater.init"), java("com.acme.Unzip.run"));
    cr_assert_eq(o.kind, NMR_OWNER_APP_JAVA);
    cr_assert_eq(o.frame, 4);
    /* The same library called from the application's own JNI code is a JNI owner. */
    o = OWNER(NULL, fr("inflateInit2_", "libz.so.1", "/lib/libz.so.1", NMR_CLS_JNI),
              fr("Java_Foo_inflate", "libfoo.so", "/opt/libfoo.so", NMR_CLS_JNI),
              java("Foo.inflate"));
    cr_assert_eq(o.kind, NMR_OWNER_JNI);
    cr_assert_eq(o.frame, 0);
}

Test(owner, launcher_inside_the_home_is_not_an_owner)
{
    struct nmr_owner o = OWNER(
        NULL, fr("JavaMain", "java", HOME "/bin/java", NMR_CLS_EXE),
        fr("SymbolTable::create_table", "libjvm.so", HOME "/lib/server/libjvm.so", NMR_CLS_JVM));
    cr_assert_eq(o.kind, NMR_OWNER_JVM);
    cr_assert_eq(o.area, NMR_AREA_SYMBOLS);
}

Test(owner, jdk_method_nearest_the_application)
{
    struct nmr_owner o =
        OWNER(NULL, java("java.nio.ByteBuffer.allocateDirect"),
              java("sun.nio.ch.Util.getTemporaryDirectBuffer"), java("sun.nio.ch.IOUtil.read"),
              java("java.util.concurrent.FutureTask.run"), java("java.lang.Thread.run"));
    cr_assert_eq(o.kind, NMR_OWNER_JDK_JAVA);
    cr_assert_eq(o.frame, 2);
}

Test(owner, perf_map_names_and_unnamed_methods)
{
    struct nmr_frame pm =
        fr("long jdk.internal.misc.Unsafe.allocateMemory0(long)", "", "", NMR_CLS_JAVA);
    pm.addr = 0x7f0000001000ull;
    struct nmr_owner o = OWNER(NULL, pm, java("java:17@3"), java("Main.main"));
    cr_assert_eq(o.kind, NMR_OWNER_APP_JAVA);
    cr_assert_eq(o.frame, 2);
}

Test(owner, jvm_subsystems)
{
    struct {
        const char *fn;
        enum nmr_jvm_area a;
    } t[] = {
        {"metaspace::VirtualSpaceNode::commit_range(MetaWordImpl**, unsigned long)",
         NMR_AREA_CLASSES},
        {"ClassFileParser::parse_methods(int)", NMR_AREA_CLASSES},
        {"G1PageBasedVirtualSpace::commit(unsigned long, unsigned long)", NMR_AREA_JAVA_HEAP},
        {"G1CMMarkStack::resize(unsigned long)", NMR_AREA_GC},
        {"CompileBroker::invoke_compiler_on_method(CompileTask*)", NMR_AREA_COMPILER},
        {"CodeHeap::reserve(ReservedSpace, unsigned long, unsigned long)", NMR_AREA_CODE_CACHE},
        {"StringTable::create_table()", NMR_AREA_SYMBOLS},
        {"JavaThread::JavaThread(void (*)(JavaThread*, JavaThread*), unsigned long)",
         NMR_AREA_THREADS},
        {"Arena::grow(unsigned long, AllocFailStrategy::AllocFailEnum)", NMR_AREA_NONE},
    };
    for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++)
        cr_assert_eq(nmr__owner_jvm_area(t[i].fn), t[i].a, "%s", t[i].fn);
    /* A generic libjvm frame takes the subsystem of the nearest one that names it. */
    struct nmr_owner o = OWNER(
        NULL,
        fr("Arena::grow(unsigned long)", "libjvm.so", HOME "/lib/server/libjvm.so", NMR_CLS_JVM),
        fr("C2Compiler::compile_method(ciEnv*)", "libjvm.so", HOME "/lib/server/libjvm.so",
           NMR_CLS_JVM));
    cr_assert_eq(o.kind, NMR_OWNER_JVM);
    cr_assert_eq(o.area, NMR_AREA_COMPILER);
    cr_assert_eq(o.frame, 1);
}

Test(owner, native_program_without_a_jvm)
{
    struct nmr_frame f[] = {LIBC, fr("leak", "prog", "/opt/prog", NMR_CLS_EXE)};
    struct nmr_stack s = {0};
    s.frames = f;
    s.nframes = 2;
    struct nmr_owner_rules r;
    nmr_owner_rules_init(&r, NULL, NULL);
    struct nmr_owner o;
    nmr_owner_of(&r, &s, &o);
    cr_assert_eq(o.kind, NMR_OWNER_NATIVE_APP);
    cr_assert_eq(o.frame, 1);
    char buf[128];
    cr_assert_str_eq(nmr_owner_label(buf, sizeof(buf), &s, &o, 1), "leak [prog]");
}

Test(owner, jdk_package_list)
{
    struct nmr_owner_rules r;
    rules(&r, NULL);
    const char *jdk[] = {"java.lang.String",
                         "javax.crypto.Cipher",
                         "jdk.internal.misc.Unsafe",
                         "sun.nio.ch.Util",
                         "com.sun.crypto.provider.AESCrypt",
                         "org.w3c.dom.Node",
                         "org.xml.sax.Parser",
                         "org.ietf.jgss.GSSManager"};
    for (size_t i = 0; i < sizeof(jdk) / sizeof(jdk[0]); i++)
        cr_assert(nmr_owner_is_jdk_class(&r, jdk[i]), "%s", jdk[i]);
    cr_assert_not(nmr_owner_is_jdk_class(&r, "javalike.Foo"));
    cr_assert_not(nmr_owner_is_jdk_class(&r, "org.apache.Foo"));
}
