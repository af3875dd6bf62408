/*
 * embed_no_asgct.c: the JVM bridge in a program that embeds a real JVM
 * (JNI_CreateJavaVM), with AsyncGetCallTrace hidden from it. Checks that the
 * writer-side poll finds and attaches to the JVM, that a JVM without
 * AsyncGetCallTrace gives native stacks (nmt_jvm_append leaves them alone,
 * counted) and exactly one line of explanation, and that methods are still
 * named from the live JVM (JMETHOD, decoded by the report side) and code
 * events still recorded. usage: embed_no_asgct CLASSES_DIR
 */
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "nmr_java.h"
#include "nmt_jvm_internal.h"

static int said;
static char last_said[256];
void nmt__jvm_guard_enter(void) {}
void nmt__jvm_guard_leave(void) {}
void nmt__jvm_say(const char *msg)
{
    said++;
    snprintf(last_said, sizeof(last_said), "%s", msg);
    fprintf(stderr, "said: %s\n", msg);
}
uint64_t nmt__jvm_now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static void *hide_asgct(void *handle, const char *name)
{
    return strcmp(name, "AsyncGetCallTrace") == 0 ? NULL : dlsym(handle, name);
}

static int emit(void *ctx, uint16_t type, const void *payload, uint32_t len)
{
    return nmr_java_add(ctx, type, payload, len);
}

struct want {
    const char *name;
    int64_t value;
};
static void find_counter(void *ctx, const char *name, int64_t value)
{
    struct want *w = ctx;
    if (strcmp(name, w->name) == 0)
        w->value = value;
}
static int64_t counter(const char *name)
{
    struct want w = {name, -1};
    nmt_jvm_counters(find_counter, &w);
    return w.value;
}

#define CHECK(cond, ...)                                                                           \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            fprintf(stderr, "FAIL: " __VA_ARGS__);                                                 \
            fputc('\n', stderr);                                                                   \
            exit(1);                                                                               \
        }                                                                                          \
    } while (0)

int main(int argc, char **argv)
{
    CHECK(argc == 2, "usage: embed_no_asgct CLASSES_DIR");
    nmt__jvm_dlsym = hide_asgct;
    nmt_jvm_configure(1);
    /* Linked with -ljvm: libjvm.so is in the link map from the start, so the
     * writer is asked for timed wake-ups to poll. */
    CHECK(nmt_jvm_wants_poll() == 1, "nmt_jvm_wants_poll() is 0 with libjvm.so linked");

    char cp[4096];
    snprintf(cp, sizeof(cp), "-Djava.class.path=%s", argv[1]);
    JavaVMOption opts[1] = {{cp, NULL}};
    JavaVMInitArgs args = {JNI_VERSION_1_8, 1, opts, JNI_FALSE};
    JavaVM *vm;
    JNIEnv *env;
    CHECK(JNI_CreateJavaVM(&vm, (void **)&env, &args) == JNI_OK, "JNI_CreateJavaVM");

    /* This thread plays the recorder's writer. */
    int st = NMT_JVM_WAITING;
    for (int i = 0; i < 3000; i++) {
        nmt_jvm_poll();
        st = atomic_load(&nmt__jvm_state);
        if (st == NMT_JVM_ATTACHED || st == NMT_JVM_FAILED)
            break;
        usleep(10000);
    }
    CHECK(st == NMT_JVM_ATTACHED, "bridge state %d, not attached", st);
    CHECK(said == 1 && strstr(last_said, "AsyncGetCallTrace"),
          "expected one line about AsyncGetCallTrace, got %d (%s)", said, last_said);

    uint64_t frames[8] = {0x1000, 0x2000, 0x3000};
    CHECK(nmt_jvm_append(frames, 3, 8) == 3, "append changed a stack without AsyncGetCallTrace");
    CHECK(frames[2] == 0x3000, "native frames changed");
    CHECK(counter("java.attach_via") == NMT_JVM_VIA_POLL, "java.attach_via = %lld",
          (long long)counter("java.attach_via"));
    CHECK(counter("java.asgct") == 0, "java.asgct = %lld", (long long)counter("java.asgct"));
    CHECK(counter("java.err.no_asgct") == 1, "java.err.no_asgct = %lld",
          (long long)counter("java.err.no_asgct"));
    CHECK(nmt_jvm_wants_poll() == 0, "nmt_jvm_wants_poll() is 1 with the bridge attached");
    CHECK(counter("java.classes") > 100, "java.classes = %lld", (long long)counter("java.classes"));

    /* Names still travel. */
    jclass c = (*env)->FindClass(env, "DirectLeak");
    CHECK(c, "DirectLeak not found in %s", argv[1]);
    jmethodID m = (*env)->GetStaticMethodID(env, c, "leakOne", "(I)Ljava/nio/ByteBuffer;");
    CHECK(m, "DirectLeak.leakOne not found");
    uint32_t serial = nmt__jvm_method_serial(m);
    CHECK(serial != 0, "no serial");
    struct nmr_java *j = nmr_java_new();
    for (int i = 0; i < 1000 && !nmr_java_method(j, serial); i++) {
        nmt_jvm_flush(emit, j);
        usleep(10000);
    }
    char name[256];
    nmr_java_method_name(j, serial, 1, name, sizeof(name));
    CHECK(strcmp(name, "DirectLeak.leakOne(DirectLeak.java:14)") == 0, "named %s", name);
    size_t nm, un, code;
    nmr_java_counts(j, &nm, &un, &code);
    CHECK(code > 0 && counter("java.code.dynamic") > 0, "no code events (%zu records)", code);
    nmr_java_free(j);

    nmt_jvm_shutdown();
    CHECK(atomic_load(&nmt__jvm_state) == NMT_JVM_STOPPED, "not stopped");
    CHECK(nmt_jvm_append(frames, 3, 8) == 3, "append after shutdown");
    CHECK(counter("java.err.stopped") == 1, "java.err.stopped = %lld",
          (long long)counter("java.err.stopped"));
    puts("ok");
    /* Not DestroyJavaVM: the process ends here like a recorded one does. */
    fflush(stdout);
    _exit(0);
}
