/*
 * nmt_jvm.c: the JVM bridge's life cycle.
 *
 * Three ways in, all ending in the same JVMTI set-up (attach_here):
 * - JNI_CreateJavaVM looked up through libnmtrace.so's dlsym
 *   (nmt_jvm_dlsym.c, plain LD_PRELOAD): set up on the creating thread
 *   before JNI_CreateJavaVM returns, before the main class loads;
 * - -agentpath (Agent_OnLoad): set up on the thread that receives VMInit;
 * - dynamic attach (Agent_OnAttach, nmt_attach_agent.c), and the fallback for a JVM created
 *   without our dlsym (a program linked with -ljvm): the writer's poll
 *   (nmt_jvm_poll) finds it, and a bridge thread attaches and sets up.
 * The set-up takes JVMTI capabilities, class and code events, and method
 * ids for every loaded class so AsyncGetCallTrace works. A bridge thread of
 * its own (attached as a daemon) then names methods as they are seen.
 * JVMTI hands out no environment before the JVM is live (GetEnv answers
 * JNI_EDETACHED in its start phase), and a dynamic attach can come then: the
 * attach listener runs once the Signal Dispatcher does, in the start phase.
 * Such a start is left to the bridge thread, which waits for the live phase
 * however long it takes (state STARTING meanwhile), so the attaching thread
 * returns at once and an early attach still gets Java frames. The
 * writer thread never calls into the JVM: a JVM that is stopped at a
 * safepoint or shutting down can block the bridge thread, never the writer.
 * VMDeath and nmt_jvm_shutdown stop every use of the JVM. At VMDeath the
 * bridge thread detaches itself and VMDeath waits (bounded) for that: the
 * JVM's last safepoint waits up to 300 ms for every attached thread that is
 * still in native code, which is where an idle bridge thread sits. It is
 * never joined (a daemon thread entering a JVM that is exiting may block
 * forever, and then it is no longer "in native" and delays nothing).
 *
 * A process without libjvm.so pays nothing: the poll looks at the link map
 * (dl_iterate_phdr, no system call) only when objects were loaded since it
 * last looked, and asks for a timed wake-up only once libjvm.so is there.
 */
#include <dirent.h>
#include <dlfcn.h>
#include <fcntl.h>
#include <link.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "nmt_jvm_internal.h"

/* How often the writer asks a loaded libjvm.so for a JVM, and how long a JVM
 * that never shows the signal of a finished initialisation is given before
 * attaching. */
#define PROBE_NS      (50ull * 1000000)
#define INIT_GRACE_NS (2000ull * 1000000)
/* How often a bridge thread that waits for the live phase asks again: every
 * 10 ms for the first second (a start-up usually ends within it), then every
 * 100 ms. */
#define LIVE_STEP_MS      10
#define LIVE_SLOW_STEP_MS 100
#define LIVE_FAST_STEPS   100

/* Agent_OnLoad ran: VMInit starts the bridge, the writer's poll does not. */
static _Atomic int agent_pending;
/* nmt_jvm_configure(1) ran: the JNI_CreateJavaVM lookup may be taken over. */
static _Atomic int configured;
/* The wrapper of JNI_CreateJavaVM was handed out: it starts the bridge, the
 * poll does not (it could see the JVM half-created). */
static _Atomic int create_pending;
/* libjvm.so is in the link map (seen by the poll or the dlsym hook). */
static _Atomic int libjvm_loaded;
void *(*nmt__jvm_dlsym)(void *handle, const char *name) = dlsym;

/* The handle JNI_CreateJavaVM was looked up in (the dlsym hook). */
static void *_Atomic create_handle;
/* The attached bridge's JVM and JVMTI environment (the naming thread's). */
static JavaVM *names_vm;
static jvmtiEnv *names_ti;
/* 1 while the bridge thread is attached to the JVM; VMDeath waits for 0. */
static _Atomic int bridge_attached;
/* How long VMDeath waits at most for the bridge thread to detach. */
#define DETACH_WAIT_MS 200

/* When an attaching thread found the JVM not live yet and left the start to
 * the bridge thread (written before that thread is created). */
static uint64_t early_since_ns;

/* Code events between attach sessions (nmt__jvm_attach_bridge): paused by a
 * detach, so that no record queues up while no profile is written. The lock
 * orders a detach or attach with a bridge thread that finishes its start at
 * the same time. Never held across a wait for the JVM other than the JVMTI
 * calls that switch the events. */
static pthread_mutex_t events_lock = PTHREAD_MUTEX_INITIALIZER;
static int events_paused;

/* Why attaching failed, once said (fail()); told_failure: the attaching tool
 * was given it for the current attach session. */
static char failure[200];
static _Atomic int failure_set;
static int told_failure;

/* The poll's state (writer thread, or init before the writer starts). */
static void *libjvm;
static char libjvm_path[1024];
static unsigned long long seen_adds;
static jint (*get_vms)(JavaVM **, jsize, jsize *);
static uint64_t next_probe_ns, vm_seen_ns;

/* Attaching failed: said once, kept for the attaching tool, state FAILED
 * (unless stopped meanwhile). */
static void fail(const char *what, int err)
{
    int expect = NMT_JVM_STARTING;
    if (!atomic_compare_exchange_strong(&nmt__jvm_state, &expect, NMT_JVM_FAILED))
        return;
    snprintf(failure, sizeof(failure), "JVM bridge: %s failed (%d): Java frames will be missing",
             what, err);
    atomic_store(&failure_set, 1);
    nmt__jvm_say(failure);
}

static void JNICALL on_class_load(jvmtiEnv *ti, JNIEnv *jni, jthread t, jclass c)
{
    /* Only enabled because AsyncGetCallTrace refuses to walk without it. */
    (void)ti, (void)jni, (void)t, (void)c;
}

/* Creates the method ids of a class: AsyncGetCallTrace only reports methods
 * whose ids exist. 1 when the class was prepared. */
static int make_method_ids(jvmtiEnv *ti, jclass c)
{
    jint n = 0;
    jmethodID *m = NULL;
    if ((*ti)->GetClassMethods(ti, c, &n, &m) != JVMTI_ERROR_NONE)
        return 0;
    (*ti)->Deallocate(ti, (unsigned char *)m);
    return 1;
}

static void JNICALL on_class_prepare(jvmtiEnv *ti, JNIEnv *jni, jthread t, jclass c)
{
    (void)jni, (void)t;
    nmt__jvm_guard_enter();
    if (make_method_ids(ti, c))
        nmt__jvm_count(NMT_JST_CLASSES, 1);
    nmt__jvm_guard_leave();
}

/* VMDeath: the bridge thread was told to stop; give it the time to detach,
 * so the JVM's exit does not wait for it as for a thread in native code. */
static void wait_bridge_detached(void)
{
    /* 100 us steps: the detach takes well under a millisecond, and every
     * step here delays the JVM's exit. */
    struct timespec step = {0, 100000};
    for (int i = 0; i < DETACH_WAIT_MS * 10 && atomic_load(&bridge_attached); i++)
        nanosleep(&step, NULL);
}

static void JNICALL on_vm_death(jvmtiEnv *ti, JNIEnv *jni)
{
    nmt__jvm_guard_enter();
    atomic_store(&nmt__jvm_state, NMT_JVM_STOPPED);
    /* The last chance to name what was seen: JVMTI still works during this
     * callback, not after it. The writer queues the methods of a stack when
     * it translates it: let it catch up first. */
    if (nmt__jvm_wait_writer)
        nmt__jvm_wait_writer();
    nmt__jvm_methods_resolve(ti, jni);
    nmt__jvm_methods_stop();
    wait_bridge_detached();
    nmt__jvm_guard_leave();
}

static void ids_for_loaded_classes(jvmtiEnv *ti, JNIEnv *jni)
{
    jint n = 0;
    jclass *classes = NULL;
    if ((*ti)->GetLoadedClasses(ti, &n, &classes) != JVMTI_ERROR_NONE)
        return;
    uint64_t made = 0;
    for (jint i = 0; i < n; i++) {
        /* Classes not prepared yet get their ids in ClassPrepare. */
        made += (uint64_t)make_method_ids(ti, classes[i]);
        (*jni)->DeleteLocalRef(jni, classes[i]);
    }
    (*ti)->Deallocate(ti, (unsigned char *)classes);
    nmt__jvm_count(NMT_JST_CLASSES, made);
}

/* What setup() found: done, failed (said), or a JVM not live yet. */
enum { SETUP_OK = 0, SETUP_FAILED = -1, SETUP_EARLY = 1 };

/* The bridge thread, detached, between two asks whether the JVM is live: 0
 * once the bridge is no longer starting (the recorder exits, a fork child),
 * which ends the wait. */
static int live_wait_step(unsigned *steps)
{
    if (atomic_load(&nmt__jvm_state) != NMT_JVM_STARTING)
        return 0;
    unsigned ms = *steps < LIVE_FAST_STEPS ? LIVE_STEP_MS : LIVE_SLOW_STEP_MS;
    (*steps)++;
    usleep(ms * 1000);
    return atomic_load(&nmt__jvm_state) == NMT_JVM_STARTING;
}

/* A thread attached to the JVM: its JVMTI environment, in the live phase.
 * Before it, JVMTI hands out none (GetEnv: JNI_EDETACHED, although this
 * thread is attached), and a JVM found by polling may also be in an earlier
 * phase (before JDK 21, JNI_GetCreatedJavaVMs returns a JVM that is being
 * created): SETUP_EARLY. since: when the start first found the JVM not live
 * (0: it did not), for java.live_wait_ns. SETUP_FAILED is said. */
static int live_env(JavaVM *vm, uint64_t since, jvmtiEnv **out)
{
    jvmtiEnv *ti = NULL;
    jint r = (*vm)->GetEnv(vm, (void **)&ti, JVMTI_VERSION_1_2);
    if (r == JNI_EDETACHED)
        return SETUP_EARLY;
    if (r != JNI_OK || !ti) {
        fail("GetEnv(JVMTI)", r);
        return SETUP_FAILED;
    }
    jvmtiPhase phase = JVMTI_PHASE_DEAD;
    if ((*ti)->GetPhase(ti, &phase) == JVMTI_ERROR_NONE && phase != JVMTI_PHASE_LIVE &&
        phase != JVMTI_PHASE_DEAD) {
        (*ti)->DisposeEnvironment(ti);
        return SETUP_EARLY;
    }
    if (phase != JVMTI_PHASE_LIVE) {
        fail("waiting for the JVM's live phase", (int)phase);
        return SETUP_FAILED;
    }
    if (since)
        nmt__jvm_count(NMT_JST_LIVE_WAIT_NS, nmt__jvm_now_ns() - since);
    *out = ti;
    return SETUP_OK;
}

/* A thread attached to the JVM: JVMTI set-up. SETUP_OK, SETUP_EARLY (the
 * JVM is not live yet), or SETUP_FAILED (said). since: as live_env's. */
static int setup(JavaVM *vm, JNIEnv *jni, uint64_t since, jvmtiEnv **out)
{
    jvmtiEnv *ti = NULL;
    int r = live_env(vm, since, &ti);
    if (r != SETUP_OK)
        return r;
    jvmtiCapabilities pot, caps;
    memset(&pot, 0, sizeof(pot));
    memset(&caps, 0, sizeof(caps));
    (*ti)->GetPotentialCapabilities(ti, &pot);
    caps.can_get_line_numbers = pot.can_get_line_numbers;
    caps.can_get_source_file_name = pot.can_get_source_file_name;
    caps.can_generate_compiled_method_load_events = pot.can_generate_compiled_method_load_events;
    jvmtiError e = (*ti)->AddCapabilities(ti, &caps);
    if (e != JVMTI_ERROR_NONE) {
        fail("AddCapabilities", (int)e);
        return SETUP_FAILED;
    }
    jvmtiEventCallbacks cb;
    memset(&cb, 0, sizeof(cb));
    cb.ClassLoad = on_class_load;
    cb.ClassPrepare = on_class_prepare;
    cb.VMDeath = on_vm_death;
    cb.CompiledMethodLoad = nmt__jvm_on_code_load;
    cb.CompiledMethodUnload = nmt__jvm_on_code_unload;
    cb.DynamicCodeGenerated = nmt__jvm_on_dynamic_code;
    e = (*ti)->SetEventCallbacks(ti, &cb, (jint)sizeof(cb));
    if (e != JVMTI_ERROR_NONE) {
        fail("SetEventCallbacks", (int)e);
        return SETUP_FAILED;
    }
    static const jvmtiEvent needed[] = {JVMTI_EVENT_CLASS_LOAD, JVMTI_EVENT_CLASS_PREPARE,
                                        JVMTI_EVENT_VM_DEATH};
    for (size_t i = 0; i < sizeof(needed) / sizeof(needed[0]); i++) {
        e = (*ti)->SetEventNotificationMode(ti, JVMTI_ENABLE, needed[i], NULL);
        if (e != JVMTI_ERROR_NONE) {
            fail("enabling class events", (int)e);
            return SETUP_FAILED;
        }
    }
    /* Code events are a bonus: without them stacks still have Java frames. */
    (*ti)->SetEventNotificationMode(ti, JVMTI_ENABLE, JVMTI_EVENT_DYNAMIC_CODE_GENERATED, NULL);
    if (caps.can_generate_compiled_method_load_events) {
        (*ti)->SetEventNotificationMode(ti, JVMTI_ENABLE, JVMTI_EVENT_COMPILED_METHOD_LOAD, NULL);
        (*ti)->SetEventNotificationMode(ti, JVMTI_ENABLE, JVMTI_EVENT_COMPILED_METHOD_UNLOAD, NULL);
    }
    /* After ClassPrepare is on, so that no class falls between the two. */
    ids_for_loaded_classes(ti, jni);
    *out = ti;
    return SETUP_OK;
}

/* What a look at the link map is for. */
struct jvm_scan {
    int check_adds; /* stop when nothing was loaded since the last look */
    char *path;     /* out: libjvm.so's path, "" if not loaded */
    size_t cap;
};

static int find_libjvm_cb(struct dl_phdr_info *info, size_t size, void *arg)
{
    struct jvm_scan *sc = arg;
    if (sc->check_adds) {
        sc->check_adds = 0;
        if (size >= offsetof(struct dl_phdr_info, dlpi_adds) + sizeof(info->dlpi_adds)) {
            if (info->dlpi_adds == seen_adds)
                return 1;
            seen_adds = info->dlpi_adds;
        }
    }
    const char *name = info->dlpi_name ? info->dlpi_name : "";
    size_t len = strlen(name);
    static const char want[] = "/libjvm.so";
    if (len < sizeof(want) - 1 || len >= sc->cap ||
        strcmp(name + len - (sizeof(want) - 1), want) != 0)
        return 0;
    memcpy(sc->path, name, len + 1);
    return 1;
}

/* The link map, walked through the recorder's fork gate when there is one. */
static int iterate_objects(int (*cb)(struct dl_phdr_info *, size_t, void *), void *arg)
{
    return nmt__jvm_iterate_objects != NULL ? nmt__jvm_iterate_objects(cb, arg)
                                            : dl_iterate_phdr(cb, arg);
}

/* Writer thread: 1 when libjvm.so is in the link map. No system call, and
 * only a glance when nothing was loaded since the last call. */
static int find_libjvm(void)
{
    if (!libjvm_path[0]) {
        struct jvm_scan sc = {1, libjvm_path, sizeof(libjvm_path)};
        iterate_objects(find_libjvm_cb, &sc);
        if (!libjvm_path[0])
            return 0;
        atomic_store(&libjvm_loaded, 1);
    }
    return 1;
}

/* Init (the recorder's constructor), before the writer starts. */
void nmt_jvm_configure(int enabled)
{
    int expect = enabled ? NMT_JVM_OFF : NMT_JVM_WAITING;
    atomic_compare_exchange_strong(&nmt__jvm_state, &expect,
                                   enabled ? NMT_JVM_WAITING : NMT_JVM_OFF);
    atomic_store(&configured, enabled);
    /* A program linked with -ljvm: the poll is needed from the start. */
    if (enabled)
        find_libjvm();
}

/* Any thread: a handle of the loaded libjvm.so, the one JNI_CreateJavaVM
 * was looked up in or the one at its path in the link map (dlopen of a
 * loaded object's full path with RTLD_NOLOAD matches it by name: no file is
 * opened). NULL if none. */
static void *libjvm_handle(void)
{
    void *h = atomic_load(&create_handle);
    if (h && h != RTLD_DEFAULT)
        return h;
    char path[sizeof(libjvm_path)] = "";
    struct jvm_scan sc = {0, path, sizeof(path)};
    iterate_objects(find_libjvm_cb, &sc);
    return path[0] ? dlopen(path, RTLD_NOLOAD | RTLD_LAZY) : NULL;
}

/* The code events a profile needs, on or off (between attaches). */
static void code_events(jvmtiEnv *ti, jvmtiEventMode mode)
{
    static const jvmtiEvent code[] = {JVMTI_EVENT_DYNAMIC_CODE_GENERATED,
                                      JVMTI_EVENT_COMPILED_METHOD_LOAD,
                                      JVMTI_EVENT_COMPILED_METHOD_UNLOAD};
    for (size_t i = 0; i < sizeof(code) / sizeof(code[0]); i++)
        (*ti)->SetEventNotificationMode(ti, mode, code[i], NULL);
}

/* Any thread attached to the JVM, state STARTING: JVMTI set-up, then Java
 * stacks are taken (state ATTACHED). SETUP_OK; SETUP_EARLY when the JVM is
 * not live yet (nothing done); or SETUP_FAILED, the failing step said.
 * since: as live_env's. */
static int attach_here(JavaVM *vm, JNIEnv *jni, uint64_t since, jvmtiEnv **out)
{
    jvmtiEnv *ti = NULL;
    int r = setup(vm, jni, since, &ti);
    if (r != SETUP_OK)
        return r;
    nmt__asgct_fn asgct = NULL;
    void *jvm = libjvm_handle();
    if (jvm)
        *(void **)&asgct = nmt__jvm_dlsym(jvm, "AsyncGetCallTrace");
    if (!asgct)
        *(void **)&asgct = nmt__jvm_dlsym(RTLD_DEFAULT, "AsyncGetCallTrace");
    if (!asgct)
        nmt__jvm_say("JVM bridge: this JVM has no AsyncGetCallTrace: native stacks only");
    nmt__jvm_walk_init(nmt__jvm_dlsym, jvm, jni,
                       nmt__jvm_walk_config != NULL ? nmt__jvm_walk_config() : NMT_WALK_AUTO);
    /* The interpreter and stubs first: their extent lets nmt_jvm_append
     * drop the native frames that Java frames replace. */
    (*ti)->GenerateEvents(ti, JVMTI_EVENT_DYNAMIC_CODE_GENERATED);
    atomic_store_explicit(&nmt__jvm_asgct, asgct, memory_order_release);
    atomic_store_explicit(&nmt__jvm_vm, vm, memory_order_release);
    /* names_*: the environment a later attach session resumes (set before
     * the state says ATTACHED, which is what nmt__jvm_attach_bridge reads). */
    names_vm = vm;
    names_ti = ti;
    pthread_mutex_lock(&events_lock);
    int expect = NMT_JVM_STARTING;
    int ok = atomic_compare_exchange_strong(&nmt__jvm_state, &expect, NMT_JVM_ATTACHED);
    /* A detach came while this start waited for the JVM: no profile takes
     * the code events until the next attach turns them on. */
    if (ok && events_paused)
        code_events(ti, JVMTI_DISABLE);
    pthread_mutex_unlock(&events_lock);
    if (!ok)
        return SETUP_FAILED; /* stopped meanwhile */
    *out = ti;
    return SETUP_OK;
}

/* Bridge thread, attached: replays the compiled code, then names the
 * methods the sampled stacks meet, and reads the JVM's accounts when a
 * snapshot asks for them (nmt_jvm_accounts.c), until the bridge stops. */
static void name_methods(jvmtiEnv *ti, JNIEnv *jni)
{
    (*ti)->GenerateEvents(ti, JVMTI_EVENT_COMPILED_METHOD_LOAD);
    nmt__jvm_accounts_due(); /* from now on requests are answered */
    while (!nmt__jvm_methods_wait(100)) {
        if (atomic_load(&nmt__jvm_state) != NMT_JVM_ATTACHED)
            break;
        if (nmt__jvm_accounts_due())
            nmt__jvm_accounts_refresh(jni);
        nmt__jvm_methods_resolve(ti, jni);
    }
}

/* The bridge thread's end: out of the JVM's thread list before it exits. */
static void bridge_detach(JavaVM *vm)
{
    (*vm)->DetachCurrentThread(vm);
    atomic_store(&bridge_attached, 0);
}

/* The bridge thread of a JVM found by the poll or dynamic attach, or of an
 * attach that came before the JVM was live. Until the JVM is live it asks
 * again and again, for as long as the bridge is starting, and waits
 * detached: a JVM that exits before it is live waits at its last safepoint
 * (up to 300 ms) for attached threads in native code, never for this one. */
static void *bridge_main(void *arg)
{
    JavaVM *vm = arg;
    nmt__jvm_guard_enter(); /* for the thread's whole life */
    JavaVMAttachArgs args = {JNI_VERSION_1_6, "nmtrace-jvm", NULL};
    uint64_t since = early_since_ns;
    unsigned steps = 0;
    int r;
    do {
        JNIEnv *jni = NULL;
        /* Set before attaching: a VMDeath that comes meanwhile waits for
         * the detach that follows. */
        atomic_store(&bridge_attached, 1);
        jint e = (*vm)->AttachCurrentThreadAsDaemon(vm, (void **)&jni, &args);
        if (e != JNI_OK) {
            atomic_store(&bridge_attached, 0);
            fail("AttachCurrentThreadAsDaemon", e);
            return NULL;
        }
        jvmtiEnv *ti = NULL;
        r = attach_here(vm, jni, since, &ti);
        if (r == SETUP_OK)
            name_methods(ti, jni);
        bridge_detach(vm);
        if (r == SETUP_EARLY && !since)
            since = nmt__jvm_now_ns();
    } while (r == SETUP_EARLY && live_wait_step(&steps));
    return NULL;
}

/* The bridge thread after a start on the JVM's own thread: it only names. */
static void *names_main(void *arg)
{
    (void)arg;
    nmt__jvm_guard_enter();
    JNIEnv *jni = NULL;
    JavaVMAttachArgs args = {JNI_VERSION_1_6, "nmtrace-jvm", NULL};
    atomic_store(&bridge_attached, 1); /* before attaching, as above */
    jint r = (*names_vm)->AttachCurrentThreadAsDaemon(names_vm, (void **)&jni, &args);
    if (r != JNI_OK) {
        atomic_store(&bridge_attached, 0);
        /* Stacks still get Java frames; methods are named at VMDeath. */
        nmt__jvm_say("JVM bridge: the naming thread cannot attach: methods named at exit only");
        nmt__jvm_count(NMT_JST_INTERNAL, 1);
        return NULL;
    }
    name_methods(names_ti, jni);
    bridge_detach(names_vm);
    return NULL;
}

static int spawn(void *(*fn)(void *), void *arg)
{
    pthread_t t;
    pthread_attr_t a;
    pthread_attr_init(&a);
    pthread_attr_setdetachstate(&a, PTHREAD_CREATE_DETACHED);
    int e = pthread_create(&t, &a, fn, arg);
    pthread_attr_destroy(&a);
    return e;
}

/* Any thread: claims the start (WAITING -> STARTING). 1 when claimed. */
static int claim_start(enum nmt__jvm_via via)
{
    int expect = NMT_JVM_WAITING;
    if (!atomic_compare_exchange_strong(&nmt__jvm_state, &expect, NMT_JVM_STARTING))
        return 0;
    atomic_store(&nmt__jvm_found, 1);
    atomic_store(&nmt__jvm_via, via);
    return 1;
}

/* Any thread: starts the bridge once, on a thread of its own. */
static void bridge_start(JavaVM *vm, enum nmt__jvm_via via)
{
    if (!claim_start(via))
        return;
    int e = spawn(bridge_main, vm);
    if (e != 0)
        fail("creating the bridge thread", e);
}

/* A thread of the JVM (JNI_CreateJavaVM has just returned, VMInit, or the
 * thread of a dynamic attach): starts the bridge here, so stacks have Java
 * frames from the next Java method on; a thread of its own then names
 * methods. A JVM that is not live yet (an attach during its start-up) is
 * left to the bridge thread, which waits for it: this thread returns. */
static void start_here(JavaVM *vm, JNIEnv *jni, enum nmt__jvm_via via)
{
    if (!vm || !jni || !claim_start(via))
        return;
    nmt__jvm_guard_enter();
    jvmtiEnv *ti = NULL;
    if ((*jni)->PushLocalFrame(jni, 16) != JNI_OK) {
        fail("PushLocalFrame", -1);
    } else {
        int r = attach_here(vm, jni, 0, &ti);
        (*jni)->PopLocalFrame(jni, NULL);
        if (r == SETUP_EARLY) {
            early_since_ns = nmt__jvm_now_ns();
            int e = spawn(bridge_main, vm);
            if (e != 0)
                fail("creating the bridge thread", e);
        } else if (r == SETUP_OK) {
            int e = spawn(names_main, NULL);
            if (e != 0) {
                nmt__jvm_say("JVM bridge: no naming thread: methods named at exit only");
                nmt__jvm_count(NMT_JST_INTERNAL, 1);
            }
        }
    }
    nmt__jvm_guard_leave();
}

int nmt__jvm_want_create_hook(void)
{
    return atomic_load_explicit(&configured, memory_order_relaxed) &&
           atomic_load_explicit(&nmt__jvm_state, memory_order_relaxed) == NMT_JVM_WAITING;
}

void nmt__jvm_create_hooked(void *handle)
{
    atomic_store(&create_handle, handle);
    atomic_store(&create_pending, 1);
    atomic_store(&libjvm_loaded, 1);
}

void nmt__jvm_creating(void)
{
    /* From here on a sample without Java frames is counted (not_attached). */
    if (atomic_load(&nmt__jvm_state) == NMT_JVM_WAITING)
        atomic_store(&nmt__jvm_found, 1);
}

void nmt__jvm_created(JavaVM *vm, JNIEnv *jni)
{
    start_here(vm, jni, NMT_JVM_VIA_CREATE);
    atomic_store(&create_pending, 0);
}

/* 1 when a thread named "Signal Dispatcher" exists: HotSpot starts it at the
 * end of JVM creation, right before VMInit. */
static int jvm_initialised(void)
{
    DIR *d = opendir("/proc/self/task");
    if (!d)
        return 0;
    int found = 0;
    struct dirent *de;
    while (!found && (de = readdir(d)) != NULL) {
        if (de->d_name[0] == '.')
            continue;
        char path[300], comm[32];
        snprintf(path, sizeof(path), "/proc/self/task/%s/comm", de->d_name);
        int fd = open(path, O_RDONLY | O_CLOEXEC);
        if (fd < 0)
            continue;
        ssize_t k = read(fd, comm, sizeof(comm) - 1);
        close(fd);
        found = k > 0 && strncmp(comm, "Signal Dispatch", 15) == 0;
    }
    closedir(d);
    return found;
}

/* 1 while the poll has to look for a created JVM: libjvm.so is loaded, no
 * bridge yet, and neither VMInit nor the JNI_CreateJavaVM wrapper will start
 * it. Any thread. */
static int poll_needed(void)
{
    return atomic_load_explicit(&nmt__jvm_state, memory_order_relaxed) == NMT_JVM_WAITING &&
           !atomic_load_explicit(&agent_pending, memory_order_relaxed) &&
           !atomic_load_explicit(&create_pending, memory_order_relaxed);
}

int nmt_jvm_settled(void)
{
    return atomic_load_explicit(&nmt__jvm_state, memory_order_relaxed) >= NMT_JVM_STARTING;
}

int nmt_jvm_wants_poll(void)
{
    return poll_needed() && atomic_load_explicit(&libjvm_loaded, memory_order_relaxed);
}

void nmt_jvm_poll(void)
{
    if (!poll_needed() || !find_libjvm())
        return;
    uint64_t now = nmt__jvm_now_ns();
    if (now < next_probe_ns)
        return;
    next_probe_ns = now + PROBE_NS;
    if (!libjvm) {
        libjvm = dlopen(libjvm_path, RTLD_NOLOAD | RTLD_LAZY);
        if (!libjvm)
            return;
    }
    if (!get_vms)
        *(void **)&get_vms = nmt__jvm_dlsym(libjvm, "JNI_GetCreatedJavaVMs");
    JavaVM *vm = NULL;
    jsize nvm = 0;
    if (!get_vms || get_vms(&vm, 1, &nvm) != JNI_OK || nvm < 1 || !vm)
        return;
    if (!vm_seen_ns) {
        vm_seen_ns = now;
        atomic_store(&nmt__jvm_found, 1); /* java.* counters are written from now on */
    }
    if (!jvm_initialised() && now - vm_seen_ns < INIT_GRACE_NS)
        return;
    bridge_start(vm, NMT_JVM_VIA_POLL);
}

void nmt_jvm_shutdown(void)
{
    int st = atomic_load(&nmt__jvm_state);
    while (st != NMT_JVM_OFF && st != NMT_JVM_STOPPED &&
           !atomic_compare_exchange_weak(&nmt__jvm_state, &st, NMT_JVM_STOPPED))
        ;
    nmt__jvm_methods_stop();
}

/* How long a detach waits at most for the bridge thread's naming. */
#define NAME_NOW_WAIT_MS 200

void nmt_jvm_name_now(void)
{
    JavaVM *vm = atomic_load(&nmt__jvm_vm);
    JNIEnv *jni = NULL;
    if (atomic_load(&nmt__jvm_state) != NMT_JVM_ATTACHED || !names_ti || !vm ||
        (*vm)->GetEnv(vm, (void **)&jni, JNI_VERSION_1_6) != JNI_OK || !jni)
        return;
    nmt__jvm_guard_enter();
    nmt__jvm_methods_resolve(names_ti, jni);
    nmt__jvm_methods_settle(NAME_NOW_WAIT_MS);
    nmt__jvm_guard_leave();
}

void nmt_jvm_after_fork_child(void)
{
    int st = atomic_load(&nmt__jvm_state);
    if (st != NMT_JVM_OFF)
        atomic_store(&nmt__jvm_state, NMT_JVM_STOPPED);
    /* A thread of the parent may have held it at the fork. */
    pthread_mutex_init(&events_lock, NULL);
    nmt__jvm_methods_after_fork();
    nmt__jvm_queue_after_fork();
    nmt__jvm_accounts_after_fork();
}

static void JNICALL on_vm_init(jvmtiEnv *ti, JNIEnv *jni, jthread t)
{
    (void)ti, (void)t;
    JavaVM *vm = NULL;
    if ((*jni)->GetJavaVM(jni, &vm) == JNI_OK)
        start_here(vm, jni, NMT_JVM_VIA_ONLOAD);
    atomic_store(&agent_pending, 0);
}

/* -agentpath:.../libnmtrace.so: start at VMInit, on the thread that
 * receives it (the JVM is live, the main class not loaded yet). */
JNIEXPORT jint JNICALL Agent_OnLoad(JavaVM *vm, char *options, void *reserved)
{
    (void)options, (void)reserved;
    if (atomic_load(&nmt__jvm_state) != NMT_JVM_WAITING)
        return JNI_OK;
    jvmtiEnv *ti = NULL;
    if ((*vm)->GetEnv(vm, (void **)&ti, JVMTI_VERSION_1_2) != JNI_OK || !ti)
        return JNI_OK; /* the recorder still records native stacks */
    jvmtiEventCallbacks cb;
    memset(&cb, 0, sizeof(cb));
    cb.VMInit = on_vm_init;
    if ((*ti)->SetEventCallbacks(ti, &cb, (jint)sizeof(cb)) == JVMTI_ERROR_NONE &&
        (*ti)->SetEventNotificationMode(ti, JVMTI_ENABLE, JVMTI_EVENT_VM_INIT, NULL) ==
            JVMTI_ERROR_NONE)
        atomic_store(&agent_pending, 1);
    return JNI_OK;
}

/* What the attaching tool is told about the bridge (nmt__jvm_attach_bridge):
 * a failure once per attach session, at its start or else at its detach
 * (a start left to the bridge thread fails after the attach has answered);
 * at a start, also that Java frames wait for the JVM to finish starting. */
static const char *attach_note(int on)
{
    int failed = atomic_load(&failure_set);
    if (on) {
        told_failure = failed;
        if (failed)
            return failure;
        if (atomic_load(&nmt__jvm_state) == NMT_JVM_STARTING)
            return "JVM bridge: the JVM is still starting: Java frames are recorded once it has "
                   "started";
        return NULL;
    }
    if (!failed || told_failure)
        return NULL;
    told_failure = 1;
    return failure;
}

/* nmt__attach_run's bridge (nmt_attach_agent.c), on the attaching thread: the
 * start, on this thread when the JVM is live (the first sampled stack then has
 * Java frames), else on the bridge thread once it is; after a detach it only
 * stops code events, and a new attach replays them and names methods afresh
 * for the new profile. */
const char *nmt__jvm_attach_bridge(void *arg, int on)
{
    JavaVM *vm = arg;
    pthread_mutex_lock(&events_lock);
    events_paused = !on;
    int st = atomic_load(&nmt__jvm_state);
    if (st == NMT_JVM_ATTACHED && names_ti) {
        if (on) {
            nmt__jvm_methods_forget();
            code_events(names_ti, JVMTI_ENABLE);
            (*names_ti)->GenerateEvents(names_ti, JVMTI_EVENT_DYNAMIC_CODE_GENERATED);
            (*names_ti)->GenerateEvents(names_ti, JVMTI_EVENT_COMPILED_METHOD_LOAD);
        } else {
            code_events(names_ti, JVMTI_DISABLE);
        }
    }
    pthread_mutex_unlock(&events_lock);
    if (on && st == NMT_JVM_WAITING) {
        /* Outside the lock: a start that finishes here takes it. */
        JNIEnv *jni = NULL;
        if ((*vm)->GetEnv(vm, (void **)&jni, JNI_VERSION_1_6) == JNI_OK && jni)
            start_here(vm, jni, NMT_JVM_VIA_ONATTACH);
        else
            bridge_start(vm, NMT_JVM_VIA_ONATTACH);
    }
    return attach_note(on);
}

/* Agent_OnAttach with no attach to run (preloaded, or the bridge built
 * alone): the bridge thread is started if it was not. */
void nmt__jvm_attach_start(JavaVM *vm)
{
    bridge_start(vm, NMT_JVM_VIA_ONATTACH);
}
