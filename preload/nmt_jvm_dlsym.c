/*
 * nmt_jvm_dlsym.c: catching the creation of a JVM.
 *
 * The java launcher, like most programs that start a JVM, dlopens
 * libjvm.so, looks up JNI_CreateJavaVM with dlsym and calls it.
 * libnmtrace.so exports dlsym (nmt_jvm_dlsym_stub.S, which asks
 * nmt__jvm_dlsym_route where to jump): that one lookup returns a wrapper
 * that calls the real JNI_CreateJavaVM and, when it succeeds, starts the
 * JVM bridge on the creating thread before returning (nmt__jvm_created).
 * The launcher loads the main class only after that, so Java stacks are
 * taken from the application's first Java method on, with no JVM flag.
 *
 * Every other lookup jumps to the real dlsym with the caller's return
 * address, so RTLD_NEXT keeps meaning "next after the caller". The lookup of
 * JNI_CreateJavaVM with RTLD_NEXT is left alone too; with a handle or
 * RTLD_DEFAULT the result does not depend on the calling object (the
 * preloaded library and its callers share the base namespace), so
 * lookup_create may call the real dlsym itself.
 *
 * dlvsym is not interposed (libjvm's JNI_CreateJavaVM is versioned, but no
 * known launcher asks for the version): a JVM created without this hook,
 * like one linked with -ljvm, is found by the writer's poll (nmt_jvm.c).
 */
#include <dlfcn.h>
#include <string.h>

#include "nmt_jvm_internal.h"

typedef void *(*dlsym_fn)(void *handle, const char *name);
typedef jint(JNICALL *create_fn)(JavaVM **vm, void **env, void *args);

static _Atomic(dlsym_fn) real_dlsym;
static _Atomic(create_fn) real_create;

/* The definition of dlsym after this library. Found with dlvsym, which is
 * not interposed, so this never reaches the stub again: glibc 2.34 and
 * later define dlsym@GLIBC_2.34 in libc; older ones define it in libdl with
 * the architecture's first version (x86_64 2.2.5, aarch64 2.17). */
static dlsym_fn find_real_dlsym(void)
{
    dlsym_fn f = atomic_load_explicit(&real_dlsym, memory_order_acquire);
    if (f)
        return f;
    static const char *const versions[] = {"GLIBC_2.34", "GLIBC_2.2.5", "GLIBC_2.17"};
    for (size_t i = 0; !f && i < sizeof(versions) / sizeof(versions[0]); i++)
        *(void **)&f = dlvsym(RTLD_NEXT, "dlsym", versions[i]);
    if (f)
        atomic_store_explicit(&real_dlsym, f, memory_order_release);
    return f;
}

/* Only reached when no dlsym follows this library (not a glibc system). */
static void *no_dlsym(void *handle, const char *name)
{
    (void)handle, (void)name;
    return NULL;
}

static jint JNICALL create_wrapper(JavaVM **vm, void **env, void *args)
{
    create_fn real = atomic_load_explicit(&real_create, memory_order_acquire);
    nmt__jvm_creating();
    jint r = real(vm, env, args);
    nmt__jvm_created(r == JNI_OK && vm ? *vm : NULL, r == JNI_OK && env ? *env : NULL);
    return r;
}

/* Entered from the stub in place of dlsym, for JNI_CreateJavaVM. */
static void *lookup_create(void *handle, const char *name)
{
    void *f = find_real_dlsym()(handle, name);
    if (!f)
        return NULL; /* dlerror() tells the caller why, as without us */
    create_fn expect = NULL, mine;
    *(void **)&mine = f;
    /* One JVM per process: another library's JNI_CreateJavaVM is left alone. */
    if (!atomic_compare_exchange_strong(&real_create, &expect, mine) && expect != mine)
        return f;
    nmt__jvm_create_hooked(handle);
    void *w;
    *(create_fn *)&w = create_wrapper;
    return w;
}

/* Called by the stub with dlsym's arguments: where to jump. Never fails:
 * a lookup that cannot be served here goes to the real dlsym. */
void *nmt__jvm_dlsym_route(void *handle, const char *name)
{
    void *to;
    if (handle != RTLD_NEXT && name && name[0] == 'J' && strcmp(name, "JNI_CreateJavaVM") == 0 &&
        nmt__jvm_want_create_hook() && find_real_dlsym()) {
        *(dlsym_fn *)&to = lookup_create;
        return to;
    }
    dlsym_fn real = find_real_dlsym();
    *(dlsym_fn *)&to = real ? real : no_dlsym;
    return to;
}
