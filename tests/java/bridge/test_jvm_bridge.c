/*
 * test_jvm_bridge.c: the JVM bridge without a JVM. A fake JavaVM, a fake
 * AsyncGetCallTrace and a fake JVMTI function table drive the recorder side
 * (nmt_jvm_append, nmt_jvm_translate, naming, code events, counters); the
 * records it queues are decoded by the report side (nmr_java.c), so the
 * tests check the round trip through the format of docs/FORMAT.md §5.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "nmr_java.h"
#include "nmr_profile.h"
#include "nmt_enc.h"
#include "nmt_format.h"
#include "nmt_jvm_internal.h"

#include <jvmticmlr.h>

/* The recorder's glue (nmt_jvm_glue.c) replaced by the test. */
static int guard_depth, said;
void nmt__jvm_guard_enter(void)
{
    guard_depth++;
}
void nmt__jvm_guard_leave(void)
{
    guard_depth--;
}
void nmt__jvm_say(const char *msg)
{
    (void)msg;
    said++;
}
/* A clock that moves on at every reading: JCODE times strictly increase. */
static uint64_t fake_now_ns = 1000000000;
uint64_t nmt__jvm_now_ns(void)
{
    return fake_now_ns += 1000;
}
/* NMTRACE_DEPTH as the bridge reads it; 0 here means the bridge's own limit. */
static uint32_t fake_depth;
uint32_t nmt__jvm_depth(void)
{
    return fake_depth;
}

/* ---- fake JVM ---- */

#define M_FOO    ((jmethodID)(uintptr_t)0x10000)
#define M_INLINE ((jmethodID)(uintptr_t)0x10008)
#define M_GONE   ((jmethodID)(uintptr_t)0x20000)
#define M_NATIVE ((jmethodID)(uintptr_t)0x30000)

/* GetEnv: getenv_result for a JNI version, with getenv_jni as the JNIEnv when
 * set; getenv_jvmti for a JVMTI version (any thread: the bridge thread asks
 * too), counted in jvmti_asks. The JVMTI environment is never handed out. */
static jint getenv_result = JNI_OK;
static JNIEnv *getenv_jni;
static _Atomic jint getenv_jvmti = JNI_EVERSION;
static _Atomic int jvmti_asks, threads_attached, threads_detached;
static jint JNICALL fake_get_env(JavaVM *vm, void **penv, jint version)
{
    (void)vm;
    static int env_storage;
    if ((version & JVMTI_VERSION_MASK_INTERFACE_TYPE) == JVMTI_VERSION_INTERFACE_JVMTI) {
        atomic_fetch_add(&jvmti_asks, 1);
        *penv = NULL;
        return atomic_load(&getenv_jvmti);
    }
    *penv = getenv_result != JNI_OK ? NULL : getenv_jni ? (void *)getenv_jni : (void *)&env_storage;
    return getenv_result;
}
static JNIEnv fake_jni;
static jint JNICALL fake_attach_daemon(JavaVM *vm, void **penv, void *args)
{
    (void)vm, (void)args;
    atomic_fetch_add(&threads_attached, 1);
    *penv = &fake_jni;
    return JNI_OK;
}
static jint JNICALL fake_detach(JavaVM *vm)
{
    (void)vm;
    atomic_fetch_add(&threads_detached, 1);
    return JNI_OK;
}
static struct JNIInvokeInterface_ vm_fns = {.GetEnv = fake_get_env,
                                            .AttachCurrentThreadAsDaemon = fake_attach_daemon,
                                            .DetachCurrentThread = fake_detach};
static JavaVM fake_vm = &vm_fns;

static struct nmt__asgct_frame asgct_frames[8];
static jint asgct_result;
static jint asgct_depth_seen;
static void fake_asgct(struct nmt__asgct_trace *t, jint depth, void *uc)
{
    cr_assert_not_null(uc);
    cr_assert_not_null(t->env);
    asgct_depth_seen = depth;
    t->num_frames = asgct_result;
    for (jint i = 0; i < asgct_result && i < depth; i++)
        t->frames[i] = asgct_frames[i];
}

static void attach_fake(void)
{
    atomic_store(&nmt__jvm_vm, &fake_vm);
    atomic_store(&nmt__jvm_asgct, fake_asgct);
    atomic_store(&nmt__jvm_state, NMT_JVM_ATTACHED);
}

static char *dup(const char *s)
{
    return strcpy(malloc(strlen(s) + 1), s);
}
static jvmtiError JNICALL ti_declaring(jvmtiEnv *e, jmethodID m, jclass *c)
{
    (void)e;
    if (m == M_GONE)
        return JVMTI_ERROR_INVALID_METHODID;
    *c = (jclass)(uintptr_t)(m == M_NATIVE ? 0x300 : 0x100);
    return JVMTI_ERROR_NONE;
}
static jvmtiError JNICALL ti_name(jvmtiEnv *e, jmethodID m, char **n, char **s, char **g)
{
    (void)e, (void)g;
    *n = dup(m == M_FOO ? "bar" : m == M_INLINE ? "helper" : "alloc0");
    *s = dup(m == M_NATIVE ? "(J)J" : "(I)V");
    return JVMTI_ERROR_NONE;
}
static jvmtiError JNICALL ti_class_sig(jvmtiEnv *e, jclass c, char **sig, char **gen)
{
    (void)e, (void)gen;
    *sig = dup((uintptr_t)c == 0x300 ? "Ljdk/internal/misc/Unsafe;" : "Lcom/acme/Foo;");
    return JVMTI_ERROR_NONE;
}
static jvmtiError JNICALL ti_modifiers(jvmtiEnv *e, jmethodID m, jint *mods)
{
    (void)e;
    *mods = m == M_NATIVE ? 0x100 : 0x1;
    return JVMTI_ERROR_NONE;
}
static jvmtiError JNICALL ti_source(jvmtiEnv *e, jclass c, char **src)
{
    (void)e;
    if ((uintptr_t)c == 0x300)
        return JVMTI_ERROR_ABSENT_INFORMATION;
    *src = dup("Foo.java");
    return JVMTI_ERROR_NONE;
}
static jvmtiError JNICALL ti_lines(jvmtiEnv *e, jmethodID m, jint *n, jvmtiLineNumberEntry **t)
{
    (void)e;
    if (m == M_NATIVE)
        return JVMTI_ERROR_NATIVE_METHOD;
    /* Given out of order: the reader sorts. */
    jvmtiLineNumberEntry *l = malloc(3 * sizeof(*l));
    l[0] = (jvmtiLineNumberEntry){5, 12};
    l[1] = (jvmtiLineNumberEntry){0, 10};
    l[2] = (jvmtiLineNumberEntry){9, 14};
    *n = 3;
    *t = l;
    return JVMTI_ERROR_NONE;
}
static jvmtiError JNICALL ti_dealloc(jvmtiEnv *e, unsigned char *p)
{
    (void)e;
    free(p);
    return JVMTI_ERROR_NONE;
}
static struct jvmtiInterface_1_ ti_fns = {
    .GetMethodDeclaringClass = ti_declaring,
    .GetMethodName = ti_name,
    .GetClassSignature = ti_class_sig,
    .GetMethodModifiers = ti_modifiers,
    .GetSourceFileName = ti_source,
    .GetLineNumberTable = ti_lines,
    .Deallocate = ti_dealloc,
};
static jvmtiEnv fake_ti = &ti_fns;

static int local_refs_deleted;
static void JNICALL jni_delete_local(JNIEnv *env, jobject o)
{
    (void)env, (void)o;
    local_refs_deleted++;
}
static jint JNICALL jni_push_frame(JNIEnv *env, jint n)
{
    (void)env, (void)n;
    return JNI_OK;
}
static jobject JNICALL jni_pop_frame(JNIEnv *env, jobject o)
{
    (void)env;
    return o;
}
static struct JNINativeInterface_ jni_fns = {.DeleteLocalRef = jni_delete_local,
                                             .PushLocalFrame = jni_push_frame,
                                             .PopLocalFrame = jni_pop_frame};
static JNIEnv fake_jni = &jni_fns;

/* ---- records out of nmt_jvm_flush, into the report's decoder ---- */

static int emitted_methods, emitted_code;
static int emit_into(void *ctx, uint16_t type, const void *payload, uint32_t len)
{
    emitted_methods += type == NMT_REC_JMETHOD;
    emitted_code += type == NMT_REC_JCODE;
    cr_assert_eq(nmr_java_add(ctx, type, payload, len), 0);
    return 0;
}

struct counter_seen {
    const char *name;
    int64_t value;
    int found, total;
};
static void counter_cb(void *ctx, const char *name, int64_t value)
{
    struct counter_seen *c = ctx;
    c->total++;
    if (strcmp(name, c->name) == 0) {
        c->found = 1;
        c->value = value;
    }
}
static int64_t counter(const char *name)
{
    struct counter_seen c = {name, 0, 0, 0};
    nmt_jvm_counters(counter_cb, &c);
    cr_assert(c.found, "counter %s missing", name);
    return c.value;
}

/* ---- tests ---- */

Test(jvm_append, untouched_when_not_attached)
{
    uint64_t f[4] = {1, 2, 3, 0};
    cr_assert_eq(nmt_jvm_append(f, 3, 4), 3);
    cr_assert_eq(f[2], 3);
    struct counter_seen c = {"java.state", 0, 0, 0};
    nmt_jvm_counters(counter_cb, &c);
    /* No JVM ever found: only java.state. */
    cr_assert_eq(c.total, 1);
    cr_assert_eq(c.value, NMT_JVM_WAITING);
}

/* Once a JVM is known, a sample without Java frames is counted by why. */
Test(jvm_append, every_missed_stack_counted_by_reason)
{
    uint64_t f[4] = {1, 2, 3, 0};
    nmt_jvm_configure(1);
    nmt__jvm_creating(); /* the JNI_CreateJavaVM wrapper is creating a JVM */
    cr_assert_eq(nmt_jvm_append(f, 3, 4), 3);
    cr_assert_eq(counter("java.err.not_attached"), 1);
    atomic_store(&nmt__jvm_state, NMT_JVM_FAILED);
    cr_assert_eq(nmt_jvm_append(f, 3, 4), 3);
    cr_assert_eq(counter("java.err.bridge_failed"), 1);
    attach_fake();
    atomic_store(&nmt__jvm_asgct, NULL);
    cr_assert_eq(nmt_jvm_append(f, 3, 4), 3);
    cr_assert_eq(counter("java.err.no_asgct"), 1);
    getenv_result = JNI_EDETACHED;
    atomic_store(&nmt__jvm_asgct, fake_asgct);
    cr_assert_eq(nmt_jvm_append(f, 3, 4), 3);
    cr_assert_eq(counter("java.err.not_java_thread"), 1);
    getenv_result = JNI_OK;
    nmt_jvm_shutdown();
    cr_assert_eq(nmt_jvm_append(f, 3, 4), 3);
    cr_assert_eq(counter("java.err.stopped"), 1);
    cr_assert_eq(counter("java.stacks"), 0);
}

/* Without libjvm.so (this test program does not load it) the poll does
 * nothing and never asks the writer for a timed wake-up. */
Test(jvm_poll, no_libjvm_no_wakeups)
{
    nmt_jvm_configure(1);
    cr_assert_eq(nmt_jvm_wants_poll(), 0);
    for (int i = 0; i < 3; i++)
        nmt_jvm_poll();
    cr_assert_eq(nmt_jvm_wants_poll(), 0);
    cr_assert_eq(atomic_load(&nmt__jvm_state), NMT_JVM_WAITING);
    cr_assert_eq(counter("java.state"), NMT_JVM_WAITING);
}

/* The JNI_CreateJavaVM lookup is taken over only while the bridge waits;
 * a failed creation starts nothing and leaves the state as it was. */
Test(jvm_hook, create_hook_only_while_waiting)
{
    cr_assert_eq(nmt__jvm_want_create_hook(), 0, "taken over before configure");
    nmt_jvm_configure(1);
    cr_assert_eq(nmt__jvm_want_create_hook(), 1);
    nmt__jvm_create_hooked(NULL);
    nmt__jvm_creating();
    nmt__jvm_created(NULL, NULL);
    cr_assert_eq(atomic_load(&nmt__jvm_state), NMT_JVM_WAITING);
    cr_assert_eq(counter("java.attach_via"), NMT_JVM_VIA_NONE);
    nmt_jvm_configure(0);
    cr_assert_eq(nmt__jvm_want_create_hook(), 0, "taken over with NMTRACE_JAVA=off");
}

Test(jvm_append, off_stays_off)
{
    nmt_jvm_configure(0);
    nmt_jvm_poll();
    cr_assert_eq(atomic_load(&nmt__jvm_state), NMT_JVM_OFF);
    cr_assert_eq(Agent_OnAttach(&fake_vm, NULL, NULL), JNI_OK);
    cr_assert_eq(atomic_load(&nmt__jvm_state), NMT_JVM_OFF);
}

/* Waits (bounded) until cond holds; the bridge thread makes it so. */
#define WAIT_FOR(cond)                                                                             \
    do {                                                                                           \
        for (int ms_ = 0; !(cond) && ms_ < 20000; ms_++)                                           \
            nanosleep(&(struct timespec){0, 1000000}, NULL);                                       \
        cr_assert(cond, "not within 20 s: %s", #cond);                                             \
    } while (0)

/* A dynamic attach whose bridge cannot start says why to the attaching tool,
 * once per attach session: at its start, not again at its detach, and again
 * to the next session. */
Test(jvm_attach, failure_told_to_the_attaching_tool)
{
    getenv_jni = &fake_jni;
    atomic_store(&getenv_jvmti, JNI_EVERSION);
    const char *note = nmt__jvm_attach_bridge(&fake_vm, 1);
    cr_assert(note && strstr(note, "GetEnv(JVMTI) failed (-3)"), "%s", note ? note : "NULL");
    cr_assert_eq(atomic_load(&nmt__jvm_state), NMT_JVM_FAILED);
    cr_assert_eq(said, 1);
    cr_assert_null(nmt__jvm_attach_bridge(&fake_vm, 0));
    cr_assert_not_null(nmt__jvm_attach_bridge(&fake_vm, 1));
    cr_assert_null(nmt__jvm_attach_bridge(&fake_vm, 0));
    cr_assert_eq(said, 1);
}

/* An attach while the JVM is still starting (JVMTI answers JNI_EDETACHED to
 * an attached thread): the attaching thread returns at once, saying Java
 * frames wait; the bridge thread asks again until JVMTI answers, attached
 * only while it asks. Here it then fails, after the attach had answered: the
 * detach tells it. */
Test(jvm_attach, early_start_waits_on_the_bridge_thread)
{
    getenv_jni = &fake_jni;
    atomic_store(&getenv_jvmti, JNI_EDETACHED);
    const char *note = nmt__jvm_attach_bridge(&fake_vm, 1);
    cr_assert(note && strstr(note, "still starting"), "%s", note ? note : "NULL");
    cr_assert_eq(atomic_load(&nmt__jvm_state), NMT_JVM_STARTING);
    WAIT_FOR(atomic_load(&jvmti_asks) >= 4); /* the attaching thread's, then 3 more */
    cr_assert_eq(atomic_load(&nmt__jvm_state), NMT_JVM_STARTING, "gave up waiting");
    cr_assert_geq(atomic_load(&threads_attached), 3);
    cr_assert_eq(said, 0);
    atomic_store(&getenv_jvmti, JNI_EVERSION);
    WAIT_FOR(atomic_load(&nmt__jvm_state) == NMT_JVM_FAILED &&
             atomic_load(&threads_detached) == atomic_load(&threads_attached));
    note = nmt__jvm_attach_bridge(&fake_vm, 0);
    cr_assert(note && strstr(note, "GetEnv(JVMTI) failed (-3)"), "%s", note ? note : "NULL");
}

Test(jvm_append, each_asgct_failure_counted_apart)
{
    attach_fake();
    static const char *const names[] = {"java.err.no_java_frame",
                                        "java.err.no_class_load",
                                        "java.err.gc_active",
                                        "java.err.unknown_not_java",
                                        "java.err.not_walkable_not_java",
                                        "java.err.unknown_java",
                                        "java.err.not_walkable_java",
                                        "java.err.unknown_state",
                                        "java.err.thread_exit",
                                        "java.err.deopt",
                                        "java.err.safepoint"};
    uint64_t f[16] = {1, 2};
    for (int code = 0; code <= 10; code++) {
        asgct_result = -code;
        for (int k = 0; k <= code; k++)
            cr_assert_eq(nmt_jvm_append(f, 2, 16), 2);
    }
    for (int code = 0; code <= 10; code++)
        cr_assert_eq(counter(names[code]), code + 1, "%s", names[code]);
    asgct_result = -42;
    nmt_jvm_append(f, 2, 16);
    cr_assert_eq(counter("java.err.other"), 1);
    cr_assert_eq(counter("java.stacks"), 0);
}

Test(jvm_append, not_java_thread_and_no_room)
{
    attach_fake();
    uint64_t f[4] = {1, 2, 3, 4};
    getenv_result = JNI_EDETACHED;
    cr_assert_eq(nmt_jvm_append(f, 2, 4), 2);
    cr_assert_eq(counter("java.err.not_java_thread"), 1);
    getenv_result = JNI_OK;
    cr_assert_eq(nmt_jvm_append(f, 4, 4), 4);
    cr_assert_eq(counter("java.err.no_room"), 1);
}

Test(jvm_append, trims_code_cache_frames_and_translates)
{
    attach_fake();
    nmt__jvm_code_range_add(0x7000, 0x1000);
    asgct_frames[0] = (struct nmt__asgct_frame){-3, M_NATIVE};
    asgct_frames[1] = (struct nmt__asgct_frame){7, M_FOO};
    asgct_frames[2] = (struct nmt__asgct_frame){-1, M_FOO};
    asgct_result = 3;
    /* entry point, a libjvm frame, then interpreter/wrapper frames and the
     * JVM's thread start below them. */
    uint64_t f[16] = {0x1111, 0x5000, 0x7100, 0x7200, 0x9000};
    uint32_t n = nmt_jvm_append(f, 5, 16);
    cr_assert_eq(n, 5);
    /* The room from the first code-cache frame on, and one frame more to
     * tell whether the stack was cut. */
    cr_assert_eq(asgct_depth_seen, 15);
    cr_assert_eq(f[0], 0x1111);
    cr_assert_eq(f[1], 0x5000);
    for (int i = 2; i < 5; i++)
        cr_assert(f[i] >> 63, "frame %d is raw Java", i);
    cr_assert_eq(counter("java.trimmed_native"), 1);
    cr_assert_eq(counter("java.stacks"), 1);

    n = nmt_jvm_translate(f, n);
    cr_assert_eq(n, 5);
    cr_assert_eq(f[1], 0x5000);
    uint32_t s_native = (uint32_t)(f[2] & NMT_FRAME_METHOD_MASK);
    uint32_t s_foo = (uint32_t)(f[3] & NMT_FRAME_METHOD_MASK);
    cr_assert_neq(s_native, 0);
    cr_assert_neq(s_foo, 0);
    cr_assert_neq(s_native, s_foo);
    cr_assert_eq(f[2], nmt_frame_java(s_native, NMT_FRAME_BCI_NONE, NMT_JFRAME_NATIVE));
    cr_assert_eq(f[3], nmt_frame_java(s_foo, 7, NMT_JFRAME_UNKNOWN));
    cr_assert_eq(f[4], nmt_frame_java(s_foo, NMT_FRAME_BCI_NONE, NMT_JFRAME_UNKNOWN));
    /* The same method keeps its serial. */
    cr_assert_eq(nmt__jvm_method_serial(M_FOO), s_foo);
    cr_assert_eq(counter("java.methods"), 2);
}

Test(jvm_append, code_range_never_spans_more_than_a_code_cache)
{
    attach_fake();
    nmt__jvm_code_range_add(0x7000, 0x1000);
    /* "Code" 3 GiB away (no HotSpot code cache is that large) is ignored, so
     * a library frame between the two is kept. */
    nmt__jvm_code_range_add(0xc0000000ull + 0x7000, 0x100);
    asgct_frames[0] = (struct nmt__asgct_frame){4, M_FOO};
    asgct_result = 1;
    uint64_t f[8] = {0x1111, 0x60000000, 0xc0000000ull + 0x7010};
    cr_assert_eq(nmt_jvm_append(f, 3, 8), 4);
    cr_assert_eq(f[1], 0x60000000);
    cr_assert_eq(f[2], 0xc0000000ull + 0x7010);
    cr_assert(f[3] >> 63);
    cr_assert_eq(counter("java.trimmed_native"), 0);
}

Test(jvm_append, truncated_to_room)
{
    attach_fake();
    for (int i = 0; i < 8; i++)
        asgct_frames[i] = (struct nmt__asgct_frame){i, M_FOO};
    asgct_result = 8;
    uint64_t f[5] = {1, 2};
    uint32_t n = nmt_jvm_append(f, 2, 5);
    cr_assert_eq(n, 5);
    cr_assert_eq(asgct_depth_seen, 4);
    cr_assert_eq(counter("java.truncated"), 1);
}

Test(jvm_append, java_frames_bounded_by_the_depth)
{
    attach_fake();
    fake_depth = 4;
    for (int i = 0; i < 8; i++)
        asgct_frames[i] = (struct nmt__asgct_frame){i, M_FOO};
    uint64_t f[64] = {1, 2};
    /* A stack as deep as the depth is whole: not counted as cut. */
    asgct_result = 4;
    cr_assert_eq(nmt_jvm_append(f, 2, 64), 6);
    cr_assert_eq(asgct_depth_seen, 5); /* the walk stops one frame past the depth */
    cr_assert_eq(counter("java.truncated"), 0);
    /* One frame deeper is cut to the depth, and counted. */
    asgct_result = 5;
    cr_assert_eq(nmt_jvm_append(f, 2, 64), 6);
    cr_assert_eq(counter("java.truncated"), 1);
    cr_assert_eq(counter("java.stacks"), 2);
    /* Nothing was in the code cache: no native frame was replaced. */
    cr_assert_eq(counter("java.trimmed_native"), 0);
}

Test(jvm_names, round_trip_through_jmethod)
{
    attach_fake();
    uint32_t s_foo = nmt__jvm_method_serial(M_FOO);
    uint32_t s_gone = nmt__jvm_method_serial(M_GONE);
    uint32_t s_native = nmt__jvm_method_serial(M_NATIVE);
    nmt__jvm_methods_resolve(&fake_ti, &fake_jni);
    cr_assert_eq(guard_depth, 0);
    /* Every class reference obtained was released. */
    cr_assert_eq(local_refs_deleted, 2);
    struct nmr_java *j = nmr_java_new();
    nmt_jvm_flush(emit_into, j);
    cr_assert_eq(emitted_methods, 3);
    cr_assert_eq(counter("java.methods_named"), 2);
    cr_assert_eq(counter("java.methods_unnamed"), 1);

    char buf[256];
    nmr_java_method_name(j, s_foo, 0, buf, sizeof(buf));
    cr_assert_str_eq(buf, "com.acme.Foo.bar(Foo.java:10)");
    nmr_java_method_name(j, s_foo, 7, buf, sizeof(buf));
    cr_assert_str_eq(buf, "com.acme.Foo.bar(Foo.java:12)");
    nmr_java_frame_name(j, nmt_frame_java(s_foo, 200, NMT_JFRAME_UNKNOWN), buf, sizeof(buf));
    cr_assert_str_eq(buf, "com.acme.Foo.bar(Foo.java:14)");
    nmr_java_frame_name(j, nmt_frame_java(s_foo, NMT_FRAME_BCI_NONE, 4), buf, sizeof(buf));
    cr_assert_str_eq(buf, "com.acme.Foo.bar(Foo.java)");
    nmr_java_frame_name(j, nmt_frame_java(s_native, NMT_FRAME_BCI_NONE, 3), buf, sizeof(buf));
    cr_assert_str_eq(buf, "jdk.internal.misc.Unsafe.alloc0(Native Method)");
    /* A method whose class was unloaded before naming is never guessed. */
    nmr_java_frame_name(j, nmt_frame_java(s_gone, 3, 4), buf, sizeof(buf));
    char want[64];
    snprintf(want, sizeof(want), "java:%u@3", s_gone);
    cr_assert_str_eq(buf, want);
    const struct nmr_java_method *m = nmr_java_method(j, s_gone);
    cr_assert_not_null(m);
    cr_assert_eq(m->status, JVMTI_ERROR_INVALID_METHODID);
    cr_assert_null(m->name);
    m = nmr_java_method(j, s_foo);
    cr_assert_str_eq(m->signature, "(I)V");
    cr_assert_eq(m->method_id, (uint64_t)(uintptr_t)M_FOO);
    cr_assert_eq(nmr_java_frame_name(j, 0x1234, buf, sizeof(buf)), -1);
    nmr_java_free(j);
}

Test(jvm_code, history_names_addresses_by_time)
{
    attach_fake();
    nmt__jvm_on_dynamic_code(&fake_ti, "Interpreter", (const void *)0x7000, 0x800);
    jmethodID methods[2] = {M_INLINE, M_FOO};
    jint bcis[2] = {4, 7};
    /* The middle PcDesc repeats the last one's frames: the writer drops it,
     * which must not change any answer. */
    PCStackInfo pcs[3] = {{(void *)0x7810, 2, methods, bcis},
                          {(void *)0x7880, 1, methods + 1, bcis + 1},
                          {(void *)0x7900, 1, methods + 1, bcis + 1}};
    jvmtiCompiledMethodLoadInlineRecord rec = {
        {JVMTI_CMLR_INLINE_INFO, JVMTI_CMLR_MAJOR_VERSION, JVMTI_CMLR_MINOR_VERSION, NULL}, 3, pcs};
    nmt__jvm_on_code_load(&fake_ti, M_FOO, 0x400, (const void *)0x7800, 0, NULL, &rec);
    uint64_t t_loaded = nmt__jvm_now_ns();
    while (nmt__jvm_now_ns() == t_loaded)
        ;
    nmt__jvm_on_code_unload(&fake_ti, M_FOO, (const void *)0x7800);
    uint64_t t_unloaded = nmt__jvm_now_ns();
    cr_assert_eq(guard_depth, 0);
    cr_assert_eq(counter("java.code.loads"), 1);
    cr_assert_eq(counter("java.code.unloads"), 1);
    cr_assert_eq(counter("java.code.dynamic"), 1);

    nmt__jvm_methods_resolve(&fake_ti, &fake_jni);
    cr_assert_gt(nmt_jvm_pending_bytes(), 0);
    struct nmr_java *j = nmr_java_new();
    nmt_jvm_flush(emit_into, j);
    cr_assert_eq(nmt_jvm_pending_bytes(), 0);
    cr_assert_eq(emitted_code, 3);
    cr_assert_eq(emitted_methods, 2);

    char buf[256];
    cr_assert_eq(nmr_java_code_name(j, 0x7100, t_unloaded, buf, sizeof(buf)), NMR_CLS_JIT);
    cr_assert_str_eq(buf, "Interpreter");
    /* Inside the compiled method while it was loaded: the innermost inlined
     * method at the return address's PcDesc. */
    cr_assert_eq(nmr_java_code_name(j, 0x7810, t_loaded, buf, sizeof(buf)), NMR_CLS_JAVA);
    cr_assert_str_eq(buf, "com.acme.Foo.helper(Foo.java:10)");
    cr_assert_eq(nmr_java_code_name(j, 0x7850, t_loaded, buf, sizeof(buf)), NMR_CLS_JAVA);
    cr_assert_str_eq(buf, "com.acme.Foo.bar(Foo.java:12)");
    struct nmr_java_code c;
    cr_assert_eq(nmr_java_code_at(j, 0x7805, t_loaded, &c), 1);
    cr_assert_eq(c.nframes, 2);
    cr_assert_eq(c.bcis[1], 7);
    cr_assert_eq(nmr_java_code_at(j, 0x7870, t_loaded, &c), 1);
    cr_assert_eq(c.nframes, 1);
    cr_assert_eq(c.bcis[0], 7);
    cr_assert_eq(c.start, 0x7800);
    cr_assert_eq(c.size, 0x400);
    /* Unloaded: nothing there any more; before the events: nothing yet. */
    cr_assert_eq(nmr_java_code_name(j, 0x7810, t_unloaded, buf, sizeof(buf)), -1);
    cr_assert_eq(nmr_java_code_name(j, 0x7100, 0, buf, sizeof(buf)), -1);
    cr_assert_eq(nmr_java_code_name(j, 0x8000, t_unloaded, buf, sizeof(buf)), -1);
    nmr_java_free(j);
}

/* A fork child abandons the parent's queues on purpose (nothing is freed
 * after a fork): under LeakSanitizer what is allocated for them is not a
 * leak to report. */
#if defined(__SANITIZE_ADDRESS__)
#include <sanitizer/lsan_interface.h>
#define ABANDONED_BEGIN() __lsan_disable()
#define ABANDONED_END()   __lsan_enable()
#else
#define ABANDONED_BEGIN() ((void)0)
#define ABANDONED_END()   ((void)0)
#endif

Test(jvm_fork, child_stops_and_drops_the_parents_records)
{
    attach_fake();
    ABANDONED_BEGIN();
    nmt__jvm_method_serial(M_FOO);
    nmt__jvm_on_dynamic_code(&fake_ti, "Interpreter", (const void *)0x7000, 0x800);
    ABANDONED_END();
    nmt_jvm_after_fork_child();
    cr_assert_eq(atomic_load(&nmt__jvm_state), NMT_JVM_STOPPED);
    asgct_result = 1;
    uint64_t f[4] = {1, 2};
    cr_assert_eq(nmt_jvm_append(f, 2, 4), 2);
    /* Nothing left to name or write, and nothing blocks. */
    cr_assert_eq(nmt__jvm_methods_wait(1000), 1);
    nmt__jvm_methods_resolve(&fake_ti, &fake_jni);
    struct nmr_java *j = nmr_java_new();
    nmt_jvm_flush(emit_into, j);
    cr_assert_eq(emitted_methods + emitted_code, 0);
    /* Serials already given keep their meaning in the child's stacks. */
    cr_assert_eq(nmt__jvm_method_serial(M_FOO), 1);
    nmr_java_free(j);
}

/* A JCODE payload as docs/FORMAT.md §5 lays it out, without PcDescs. */
static void add_jcode(struct nmr_java *j, uint32_t kind, uint64_t t, uint64_t start, uint64_t size,
                      uint32_t serial)
{
    struct nmt_enc b;
    nmt_enc_init(&b, realloc);
    nmt_enc_u32(&b, kind);
    nmt_enc_u64(&b, t);
    nmt_enc_u64(&b, start);
    nmt_enc_u64(&b, size);
    nmt_enc_u32(&b, serial);
    nmt_enc_cstr(&b, kind == 3 ? "StubRoutines (1)" : NULL);
    nmt_enc_u32(&b, 0);
    cr_assert_eq(nmr_java_add(j, NMT_REC_JCODE, b.data, (uint32_t)b.len), 0);
    free(b.data);
}

Test(jvm_report, code_address_reused_over_time)
{
    struct nmr_java *j = nmr_java_new();
    add_jcode(j, 3, 5, 0x1000, 0x100, 0); /* a stub, never unloaded */
    add_jcode(j, 1, 10, 0x9000, 0x200, 7);
    add_jcode(j, 1, 12, 0xa000, 0x80, 9);
    add_jcode(j, 2, 20, 0x9000, 0, 7);
    add_jcode(j, 1, 30, 0x9000, 0x100, 8);
    struct nmr_java_code c;
    cr_assert_eq(nmr_java_code_at(j, 0x9010, 9, &c), 0);
    cr_assert_eq(nmr_java_code_at(j, 0x9010, 15, &c), 1);
    cr_assert_eq(c.serial, 7);
    cr_assert_eq(nmr_java_code_at(j, 0x91f0, 25, &c), 0);
    cr_assert_eq(nmr_java_code_at(j, 0x9010, 40, &c), 1);
    cr_assert_eq(c.serial, 8);
    /* The new method is smaller: the old one's tail is free now. */
    cr_assert_eq(nmr_java_code_at(j, 0x91f0, 40, &c), 0);
    cr_assert_eq(nmr_java_code_at(j, 0xa010, 40, &c), 1);
    cr_assert_eq(c.serial, 9);
    cr_assert_eq(nmr_java_code_at(j, 0x1010, 40, &c), 1);
    cr_assert_str_eq(c.name, "StubRoutines (1)");
    cr_assert_eq(c.is_method, 0);
    char buf[64];
    /* No JMETHOD for serial 8: the frame-word fallback. */
    cr_assert_eq(nmr_java_code_name(j, 0x9010, 40, buf, sizeof(buf)), NMR_CLS_JAVA);
    cr_assert_str_eq(buf, "java:8");
    nmr_java_free(j);
}

Test(jvm_report, malformed_payloads_rejected)
{
    struct nmr_java *j = nmr_java_new();
    uint8_t p[64] = {0};
    /* Too short for the fixed fields. */
    cr_assert_eq(nmr_java_add(j, NMT_REC_JMETHOD, p, 10), -EINVAL);
    /* serial 1, four empty strings, then a line count past the payload. */
    p[0] = 1;
    p[20] = 0;
    uint32_t nlines_at = 4 + 4 + 8 + 4 + 16;
    p[nlines_at] = 200;
    cr_assert_eq(nmr_java_add(j, NMT_REC_JMETHOD, p, nlines_at + 4), -EINVAL);
    /* A string length past the end. */
    p[20] = 0xff;
    cr_assert_eq(nmr_java_add(j, NMT_REC_JMETHOD, p, 40), -EINVAL);
    /* JCODE with a bad kind, and one claiming more PcDescs than it holds. */
    memset(p, 0, sizeof(p));
    p[0] = 9;
    cr_assert_eq(nmr_java_add(j, NMT_REC_JCODE, p, 44), -EINVAL);
    p[0] = 1;
    p[36] = 50; /* npcs, after kind, time, start, size, serial and an empty name */
    cr_assert_eq(nmr_java_add(j, NMT_REC_JCODE, p, 44), -EINVAL);
    /* Types the decoder does not know are skipped. */
    cr_assert_eq(nmr_java_add(j, 12, p, 3), 0);
    size_t m, u, c;
    nmr_java_counts(j, &m, &u, &c);
    cr_assert_eq(m + u + c, 0);
    nmr_java_free(j);
}
