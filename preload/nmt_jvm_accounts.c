/*
 * nmt_jvm_accounts.c: what the JVM itself says about its memory, read at
 * each snapshot and written as a JACCOUNTS record (docs/FORMAT.md §5).
 *
 * The figures come from java.lang.management through JNI: the memory pools
 * (heap generations, Metaspace, compressed class space, code heap segments),
 * the buffer pools (direct, mapped), thread and class counts, the direct
 * memory limit, and, when the JVM runs with -XX:NativeMemoryTracking, the
 * NMT summary ("VM.native_memory summary", asked of HotSpot's
 * DiagnosticCommandImpl directly: the platform MBean server, the public
 * way, would start JMX in the process, load some 600 classes and leave a
 * temporary direct buffer in the application's direct pool; it is only
 * the fallback for a JVM without that class).
 *
 * The writer never calls into the JVM (a JVM at a safepoint or shutting
 * down would block it). It asks instead: at each snapshot it raises a
 * request, wakes the bridge thread (a daemon attached to the JVM) and waits
 * at most WAIT_MS for the answer; a late answer goes into the next
 * snapshot, and the record says when the figures were taken. The bridge
 * reads the JVM with no lock held and publishes the encoded payload under
 * a short mutex, so a bridge thread stuck in an exiting JVM holds nothing
 * the final snapshot needs. After VMDeath or the recorder's exit nothing is
 * asked any more; the last figures stay and go into the final snapshot.
 *
 * The first reading initialises the management classes (on JDK 17 about
 * 6 ms on the bridge thread): java.accounts_first_ns says what it cost.
 * A failed call is counted (java.accounts_errors) and its part left out.
 */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "nmt_enc.h"
#include "nmt_format.h"
#include "nmt_jvm_internal.h"

#define WAIT_MS 100

/* JACCOUNTS.have bits (docs/FORMAT.md) */
#define HAVE_POOLS      (1u << 0)
#define HAVE_BUFFERS    (1u << 1)
#define HAVE_THREADS    (1u << 2)
#define HAVE_CLASSES    (1u << 3)
#define HAVE_NMT        (1u << 4)
#define HAVE_MAX_DIRECT (1u << 5)

static pthread_mutex_t a_mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t a_cv = PTHREAD_COND_INITIALIZER;
static uint64_t want_seq, done_seq; /* under a_mu */
static uint8_t *latest;             /* the last payload, under a_mu */
static size_t latest_len;
static _Atomic int wanted;  /* the bridge has a request to answer */
static _Atomic int serving; /* a bridge thread answers requests */
static _Atomic uint64_t n_taken, n_errors, n_late, ns_total, ns_first;

/* ---- JNI look-ups, cached on the bridge thread ---- */

struct jm {
    jclass obj, mf, list, pool, usage, enm, buf, thr, cls, hsd, vmopt, vm, mbs, oname, str;
    jmethodID mf_pools, mf_beans, mf_thread, mf_classes, mf_bean, mf_server;
    jmethodID l_size, l_get, p_name, p_type, p_usage, u_used, u_comm, u_max, e_ord;
    jmethodID b_name, b_count, b_cap, b_used, t_count, t_daemon, c_loaded, c_total, c_unl;
    jmethodID h_option, o_value, vm_maxdirect, s_invoke, on_init, dc_get, dc_exec;
    jclass dc;      /* HotSpot's DiagnosticCommandImpl, when it is there */
    jobject dcimpl; /* its instance (global) */
    int ready;      /* 1 looked up, -1 failed (not tried again) */
    int nmt;        /* -1 not asked yet, 0 off, 1 summary or detail */
    jobject dcmd;   /* ObjectName of the DiagnosticCommand MBean (global) */
};
static struct jm J = {.nmt = -1};

static int failed(JNIEnv *jni)
{
    if ((*jni)->ExceptionCheck(jni)) {
        (*jni)->ExceptionClear(jni);
        return 1;
    }
    return 0;
}

static jclass gclass(JNIEnv *jni, const char *name)
{
    jclass c = (*jni)->FindClass(jni, name);
    if (failed(jni) || c == NULL) /* NoClassDefFoundError cleared first */
        return NULL;
    jclass g = (*jni)->NewGlobalRef(jni, c);
    (*jni)->DeleteLocalRef(jni, c);
    return g;
}

static jmethodID method(JNIEnv *jni, jclass c, int stat, const char *name, const char *sig)
{
    if (c == NULL)
        return NULL;
    jmethodID m = stat ? (*jni)->GetStaticMethodID(jni, c, name, sig)
                       : (*jni)->GetMethodID(jni, c, name, sig);
    return failed(jni) ? NULL : m;
}

#define LM "Ljava/lang/management/"
#define LS "Ljava/lang/String;"

static void lookup_classes(JNIEnv *jni)
{
    J.mf = gclass(jni, "java/lang/management/ManagementFactory");
    J.list = gclass(jni, "java/util/List");
    J.pool = gclass(jni, "java/lang/management/MemoryPoolMXBean");
    J.usage = gclass(jni, "java/lang/management/MemoryUsage");
    J.enm = gclass(jni, "java/lang/Enum");
    J.buf = gclass(jni, "java/lang/management/BufferPoolMXBean");
    J.thr = gclass(jni, "java/lang/management/ThreadMXBean");
    J.cls = gclass(jni, "java/lang/management/ClassLoadingMXBean");
    /* Optional: HotSpot's own beans, the direct memory limit (JDK 9+ and 8). */
    J.hsd = gclass(jni, "com/sun/management/HotSpotDiagnosticMXBean");
    J.vmopt = gclass(jni, "com/sun/management/VMOption");
    J.vm = gclass(jni, "jdk/internal/misc/VM");
    if (J.vm == NULL)
        J.vm = gclass(jni, "sun/misc/VM");
    J.dc = gclass(jni, "com/sun/management/internal/DiagnosticCommandImpl");
    J.mbs = gclass(jni, "javax/management/MBeanServer");
    J.oname = gclass(jni, "javax/management/ObjectName");
    J.str = gclass(jni, "java/lang/String");
    J.obj = gclass(jni, "java/lang/Object");
}

static int lookup(JNIEnv *jni)
{
    lookup_classes(jni);
    J.mf_pools = method(jni, J.mf, 1, "getMemoryPoolMXBeans", "()Ljava/util/List;");
    J.mf_beans = method(jni, J.mf, 1, "getPlatformMXBeans", "(Ljava/lang/Class;)Ljava/util/List;");
    J.mf_thread = method(jni, J.mf, 1, "getThreadMXBean", "()" LM "ThreadMXBean;");
    J.mf_classes = method(jni, J.mf, 1, "getClassLoadingMXBean", "()" LM "ClassLoadingMXBean;");
    J.mf_bean = method(jni, J.mf, 1, "getPlatformMXBean",
                       "(Ljava/lang/Class;)" LM "PlatformManagedObject;");
    J.mf_server =
        method(jni, J.mf, 1, "getPlatformMBeanServer", "()Ljavax/management/MBeanServer;");
    J.l_size = method(jni, J.list, 0, "size", "()I");
    J.l_get = method(jni, J.list, 0, "get", "(I)Ljava/lang/Object;");
    J.p_name = method(jni, J.pool, 0, "getName", "()" LS);
    J.p_type = method(jni, J.pool, 0, "getType", "()" LM "MemoryType;");
    J.p_usage = method(jni, J.pool, 0, "getUsage", "()" LM "MemoryUsage;");
    J.u_used = method(jni, J.usage, 0, "getUsed", "()J");
    J.u_comm = method(jni, J.usage, 0, "getCommitted", "()J");
    J.u_max = method(jni, J.usage, 0, "getMax", "()J");
    J.e_ord = method(jni, J.enm, 0, "ordinal", "()I");
    J.b_name = method(jni, J.buf, 0, "getName", "()" LS);
    J.b_count = method(jni, J.buf, 0, "getCount", "()J");
    J.b_cap = method(jni, J.buf, 0, "getTotalCapacity", "()J");
    J.b_used = method(jni, J.buf, 0, "getMemoryUsed", "()J");
    J.t_count = method(jni, J.thr, 0, "getThreadCount", "()I");
    J.t_daemon = method(jni, J.thr, 0, "getDaemonThreadCount", "()I");
    J.c_loaded = method(jni, J.cls, 0, "getLoadedClassCount", "()I");
    J.c_total = method(jni, J.cls, 0, "getTotalLoadedClassCount", "()J");
    J.c_unl = method(jni, J.cls, 0, "getUnloadedClassCount", "()J");
    J.h_option = method(jni, J.hsd, 0, "getVMOption", "(" LS ")Lcom/sun/management/VMOption;");
    J.o_value = method(jni, J.vmopt, 0, "getValue", "()" LS);
    J.vm_maxdirect = method(jni, J.vm, 1, "maxDirectMemory", "()J");
    J.s_invoke =
        method(jni, J.mbs, 0, "invoke",
               "(Ljavax/management/ObjectName;" LS "[Ljava/lang/Object;[" LS ")Ljava/lang/Object;");
    J.on_init = method(jni, J.oname, 0, "<init>", "(" LS ")V");
    J.dc_get = method(jni, J.dc, 1, "getDiagnosticCommandMBean",
                      "()Lcom/sun/management/DiagnosticCommandMBean;");
    J.dc_exec = method(jni, J.dc, 0, "executeDiagnosticCommand", "(" LS ")" LS);
    /* The standard beans are required; HotSpot's and NMT are optional. */
    return J.mf_pools && J.mf_beans && J.mf_thread && J.mf_classes && J.l_size && J.l_get &&
                   J.p_name && J.p_type && J.p_usage && J.u_used && J.u_comm && J.u_max &&
                   J.e_ord && J.b_name && J.b_count && J.b_cap && J.b_used && J.t_count &&
                   J.t_daemon && J.c_loaded && J.c_total && J.c_unl
               ? 1
               : -1;
}

/* ---- reading ---- */

/* Appends a Java string (modified UTF-8) to b; "" when s is NULL. */
static void put_jstr(JNIEnv *jni, struct nmt_enc *b, jstring s)
{
    const char *c = s ? (*jni)->GetStringUTFChars(jni, s, NULL) : NULL;
    nmt_enc_cstr(b, c ? c : "");
    if (c)
        (*jni)->ReleaseStringUTFChars(jni, s, c);
}

/*
 * Calls that never run with an exception pending (JNI allows almost no call
 * then): once *bad is set, or on a NULL object, they call nothing and
 * return NULL / -1; an exception sets *bad and is cleared.
 */
static jobject obj_of(JNIEnv *jni, jobject o, jmethodID m, int *bad)
{
    if (*bad || o == NULL)
        return NULL;
    jobject r = (*jni)->CallObjectMethod(jni, o, m);
    *bad |= failed(jni);
    return *bad ? NULL : r;
}

static jlong long_of(JNIEnv *jni, jobject o, jmethodID m, int *bad)
{
    if (*bad || o == NULL)
        return -1;
    jlong r = (*jni)->CallLongMethod(jni, o, m);
    *bad |= failed(jni);
    return *bad ? -1 : r;
}

static jint int_of(JNIEnv *jni, jobject o, jmethodID m, int *bad)
{
    if (*bad || o == NULL)
        return -1;
    jint r = (*jni)->CallIntMethod(jni, o, m);
    *bad |= failed(jni);
    return *bad ? -1 : r;
}

static uint64_t u64_or_none(jlong v)
{
    return v < 0 ? UINT64_MAX : (uint64_t)v;
}

/* The elements of a java.util.List; -1 on failure. */
static jint list_size(JNIEnv *jni, jobject list)
{
    if (list == NULL)
        return -1;
    jint n = (*jni)->CallIntMethod(jni, list, J.l_size);
    return failed(jni) ? -1 : n;
}

/* The List a static ManagementFactory method returns (arg: its one
 * argument, or NULL), with its size in *n (-1 on failure), which is
 * written to b as the entries' count (0 on failure). */
static jobject mf_list(JNIEnv *jni, struct nmt_enc *b, jmethodID m, jobject arg, jint *n)
{
    jobject list = arg ? (*jni)->CallStaticObjectMethod(jni, J.mf, m, arg)
                       : (*jni)->CallStaticObjectMethod(jni, J.mf, m);
    *n = failed(jni) ? -1 : list_size(jni, list);
    nmt_enc_u32(b, *n < 0 ? 0 : (uint32_t)*n);
    return list;
}

/* Memory pools: count, then name, type (0 heap, 1 non-heap), used,
 * committed, max. Returns 0, or -1 (b then holds a count of 0 from at). */
static int read_pools(JNIEnv *jni, struct nmt_enc *b)
{
    jint n;
    jobject list = mf_list(jni, b, J.mf_pools, NULL, &n);
    if (n < 0)
        return -1;
    for (jint i = 0; i < n; i++) {
        jobject p = (*jni)->CallObjectMethod(jni, list, J.l_get, i);
        int bad = failed(jni);
        jobject name = obj_of(jni, p, J.p_name, &bad);
        jobject type = obj_of(jni, p, J.p_type, &bad);
        jobject u = obj_of(jni, p, J.p_usage, &bad); /* NULL for a pool no longer valid */
        jint ord = type ? int_of(jni, type, J.e_ord, &bad) : 1;
        jlong used = long_of(jni, u, J.u_used, &bad);
        jlong comm = long_of(jni, u, J.u_comm, &bad);
        jlong max = long_of(jni, u, J.u_max, &bad);
        if (bad)
            return -1; /* the payload is dropped: a count cannot be taken back */
        put_jstr(jni, b, name);
        nmt_enc_u32(b, (uint32_t)ord);
        nmt_enc_u64(b, u64_or_none(used));
        nmt_enc_u64(b, u64_or_none(comm));
        nmt_enc_u64(b, u64_or_none(max));
        (*jni)->DeleteLocalRef(jni, p);
        (*jni)->DeleteLocalRef(jni, name);
        (*jni)->DeleteLocalRef(jni, type);
        (*jni)->DeleteLocalRef(jni, u);
    }
    return 0;
}

/* Buffer pools: count, then name, buffers, total capacity, memory used. */
static int read_buffers(JNIEnv *jni, struct nmt_enc *b)
{
    jint n;
    jobject list = mf_list(jni, b, J.mf_beans, J.buf, &n);
    if (n < 0)
        return -1;
    for (jint i = 0; i < n; i++) {
        jobject p = (*jni)->CallObjectMethod(jni, list, J.l_get, i);
        int bad = failed(jni);
        jobject name = obj_of(jni, p, J.b_name, &bad);
        jlong count = long_of(jni, p, J.b_count, &bad);
        jlong cap = long_of(jni, p, J.b_cap, &bad);
        jlong used = long_of(jni, p, J.b_used, &bad);
        if (bad)
            return -1;
        put_jstr(jni, b, name);
        nmt_enc_u64(b, u64_or_none(count));
        nmt_enc_u64(b, u64_or_none(cap));
        nmt_enc_u64(b, u64_or_none(used));
        (*jni)->DeleteLocalRef(jni, p);
        (*jni)->DeleteLocalRef(jni, name);
    }
    return 0;
}

/* The fixed part: threads, daemon threads, loaded classes, total loaded,
 * unloaded, the direct memory limit. Sets the matching have bits. */
static void read_counts(JNIEnv *jni, struct nmt_enc *b, uint32_t *have)
{
    jint threads = 0, daemons = 0, loaded = 0;
    jlong total = 0, unloaded = 0, maxdirect = 0;
    jobject t = (*jni)->CallStaticObjectMethod(jni, J.mf, J.mf_thread);
    int bad = failed(jni) || t == NULL;
    threads = int_of(jni, t, J.t_count, &bad);
    daemons = int_of(jni, t, J.t_daemon, &bad);
    *have |= bad ? 0 : HAVE_THREADS;
    jobject c = (*jni)->CallStaticObjectMethod(jni, J.mf, J.mf_classes);
    bad = failed(jni) || c == NULL;
    loaded = int_of(jni, c, J.c_loaded, &bad);
    total = long_of(jni, c, J.c_total, &bad);
    unloaded = long_of(jni, c, J.c_unl, &bad);
    *have |= bad ? 0 : HAVE_CLASSES;
    if (J.vm_maxdirect) {
        maxdirect = (*jni)->CallStaticLongMethod(jni, J.vm, J.vm_maxdirect);
        *have |= failed(jni) || maxdirect <= 0 ? 0 : HAVE_MAX_DIRECT;
    }
    nmt_enc_u32(b, (uint32_t)(*have & HAVE_THREADS ? threads : 0));
    nmt_enc_u32(b, (uint32_t)(*have & HAVE_THREADS ? daemons : 0));
    nmt_enc_u32(b, (uint32_t)(*have & HAVE_CLASSES ? loaded : 0));
    nmt_enc_u64(b, *have & HAVE_CLASSES ? (uint64_t)total : 0);
    nmt_enc_u64(b, *have & HAVE_CLASSES ? (uint64_t)unloaded : 0);
    nmt_enc_u64(b, *have & HAVE_MAX_DIRECT ? (uint64_t)maxdirect : 0);
}

/* 1 when -XX:NativeMemoryTracking is summary or detail (asked once). */
static int nmt_on(JNIEnv *jni)
{
    if (J.nmt >= 0)
        return J.nmt;
    J.nmt = 0;
    if (!J.hsd || !J.mf_bean || !J.h_option || !J.o_value || !J.mf_server || !J.s_invoke ||
        !J.on_init || !J.str || !J.obj)
        return 0;
    jobject bean = (*jni)->CallStaticObjectMethod(jni, J.mf, J.mf_bean, J.hsd);
    int bad = failed(jni) || bean == NULL;
    jstring key = bad ? NULL : (*jni)->NewStringUTF(jni, "NativeMemoryTracking");
    bad |= failed(jni) || key == NULL;
    jobject opt = bad ? NULL : (*jni)->CallObjectMethod(jni, bean, J.h_option, key);
    bad |= failed(jni);
    jstring val = obj_of(jni, opt, J.o_value, &bad);
    const char *v = val ? (*jni)->GetStringUTFChars(jni, val, NULL) : NULL;
    failed(jni);
    if (v) {
        J.nmt = strcmp(v, "summary") == 0 || strcmp(v, "detail") == 0;
        (*jni)->ReleaseStringUTFChars(jni, val, v);
    }
    if (J.nmt && J.dc_get && J.dc_exec) {
        jobject impl = (*jni)->CallStaticObjectMethod(jni, J.dc, J.dc_get);
        if (!failed(jni) && impl && (*jni)->IsInstanceOf(jni, impl, J.dc)) {
            J.dcimpl = (*jni)->NewGlobalRef(jni, impl);
            return J.nmt;
        }
    }
    jstring on =
        J.nmt ? (*jni)->NewStringUTF(jni, "com.sun.management:type=DiagnosticCommand") : NULL;
    jobject name = on && !failed(jni) ? (*jni)->NewObject(jni, J.oname, J.on_init, on) : NULL;
    if (failed(jni) || (J.nmt && !name))
        J.nmt = 0;
    if (name)
        J.dcmd = (*jni)->NewGlobalRef(jni, name);
    return J.nmt;
}

/* "123KB" (NMT's default scale), "4MB", "5GB" or plain bytes. */
static uint64_t nmt_value(const char *p)
{
    uint64_t v = strtoull(p, NULL, 10);
    while (*p >= '0' && *p <= '9')
        p++;
    if (p[0] == 'K' && p[1] == 'B')
        return v << 10;
    if (p[0] == 'M' && p[1] == 'B')
        return v << 20;
    if (p[0] == 'G' && p[1] == 'B')
        return v << 30;
    return v;
}

/* Appends one NMT line's category: "Total: reserved=…, committed=…" or
 * "-   Java Heap (reserved=…, committed=…)". Returns 1 when it was one. */
static int nmt_line(struct nmt_enc *b, const char *line, const char *end)
{
    char buf[512];
    size_t n = (size_t)(end - line) < sizeof(buf) - 1 ? (size_t)(end - line) : sizeof(buf) - 1;
    memcpy(buf, line, n);
    buf[n] = '\0';
    const char *r = strstr(buf, "reserved="), *c = strstr(buf, "committed=");
    if (r == NULL || c == NULL)
        return 0;
    const char *s = buf;
    while (*s == ' ' || *s == '\t')
        s++;
    const char *e;
    if (strncmp(s, "Total:", 6) == 0) {
        e = s + 5;
    } else if (*s == '-') {
        s++;
        while (*s == ' ')
            s++;
        e = strchr(s, '(');
        if (e == NULL)
            return 0;
        while (e > s && e[-1] == ' ')
            e--;
    } else {
        return 0; /* a sub-line: "(malloc=…)", "(mmap: reserved=…)" */
    }
    char name[128];
    snprintf(name, sizeof(name), "%.*s", (int)(e - s), s);
    nmt_enc_cstr(b, name);
    nmt_enc_u64(b, nmt_value(r + 9));
    nmt_enc_u64(b, nmt_value(c + 10));
    return 1;
}

/* Parses the vmNativeMemory summary into count × (category, reserved,
 * committed), "Total" first. Returns the number of categories. */
static uint32_t nmt_parse(struct nmt_enc *b, const char *text)
{
    uint32_t n = 0;
    for (const char *line = text; *line;) {
        const char *end = strchr(line, '\n');
        if (end == NULL)
            end = line + strlen(line);
        n += (uint32_t)nmt_line(b, line, end);
        line = *end ? end + 1 : end;
    }
    return n;
}

/* The NMT summary as text: straight from HotSpot's DiagnosticCommandImpl
 * (JNI is not bound by module access), else through the platform MBean
 * server, which starts JMX in the process. NULL on failure. */
static jobject nmt_text(JNIEnv *jni)
{
    if (J.dcimpl) {
        jstring cmd = (*jni)->NewStringUTF(jni, "VM.native_memory summary");
        jobject r = cmd ? (*jni)->CallObjectMethod(jni, J.dcimpl, J.dc_exec, cmd) : NULL;
        return failed(jni) ? NULL : r;
    }
    jobject server = (*jni)->CallStaticObjectMethod(jni, J.mf, J.mf_server);
    if (failed(jni) || server == NULL)
        return NULL;
    jstring op = (*jni)->NewStringUTF(jni, "vmNativeMemory");
    jstring arg = op ? (*jni)->NewStringUTF(jni, "summary") : NULL;
    jstring sig = arg ? (*jni)->NewStringUTF(jni, "[Ljava.lang.String;") : NULL;
    jobjectArray args = sig ? (*jni)->NewObjectArray(jni, 1, J.str, arg) : NULL;
    jobjectArray params = args ? (*jni)->NewObjectArray(jni, 1, J.obj, NULL) : NULL;
    jobjectArray sigs = params ? (*jni)->NewObjectArray(jni, 1, J.str, sig) : NULL;
    if (failed(jni) || sigs == NULL) /* out of memory: each step ran only after the last */
        return NULL;
    (*jni)->SetObjectArrayElement(jni, params, 0, args);
    jobject r = (*jni)->CallObjectMethod(jni, server, J.s_invoke, J.dcmd, op, params, sigs);
    return failed(jni) ? NULL : r;
}

/* The NMT summary's categories. 0, or -1. */
static int read_nmt(JNIEnv *jni, struct nmt_enc *b)
{
    jobject r = nmt_text(jni);
    if (r == NULL || !(*jni)->IsInstanceOf(jni, r, J.str))
        return -1;
    const char *text = (*jni)->GetStringUTFChars(jni, r, NULL);
    if (text == NULL) {
        failed(jni);
        return -1;
    }
    size_t count_at = b->len;
    nmt_enc_u32(b, 0);
    uint32_t n = nmt_parse(b, text);
    (*jni)->ReleaseStringUTFChars(jni, r, text);
    nmt_enc_patch_u32(b, count_at, n);
    return n > 0 ? 0 : -1;
}

/* Bridge thread, attached, no lock held: reads every account into a new
 * payload. NULL when nothing could be read. */
static uint8_t *read_accounts(JNIEnv *jni, size_t *len)
{
    struct nmt_enc b;
    nmt_enc_init(&b, realloc);
    uint32_t have = 0;
    nmt_enc_u64(&b, 0); /* taken_ns, set below */
    nmt_enc_u32(&b, 0); /* have, set below */
    read_counts(jni, &b, &have);
    int ok = read_pools(jni, &b) == 0;
    have |= ok ? HAVE_POOLS : 0;
    if (ok && read_buffers(jni, &b) == 0)
        have |= HAVE_BUFFERS;
    else
        ok = 0;
    if (ok && nmt_on(jni)) {
        size_t at = b.len;
        if (read_nmt(jni, &b) == 0) {
            have |= HAVE_NMT;
        } else {
            b.len = at; /* whatever the failed read left */
            nmt_enc_u32(&b, 0);
        }
    } else {
        nmt_enc_u32(&b, 0);
    }
    if (!ok || b.failed || !(have & (HAVE_POOLS | HAVE_THREADS | HAVE_CLASSES))) {
        free(b.data);
        return NULL;
    }
    uint64_t now = nmt__jvm_now_ns();
    for (int i = 0; i < 8; i++)
        b.data[i] = (uint8_t)(now >> (8 * i));
    nmt_enc_patch_u32(&b, 8, have);
    *len = b.len;
    return b.data;
}

int nmt__jvm_accounts_due(void)
{
    atomic_store_explicit(&serving, 1, memory_order_relaxed);
    return atomic_load_explicit(&wanted, memory_order_acquire);
}

/* Bridge thread: answers the pending request. */
void nmt__jvm_accounts_refresh(JNIEnv *jni)
{
    pthread_mutex_lock(&a_mu);
    uint64_t seq = want_seq;
    atomic_store(&wanted, 0);
    pthread_mutex_unlock(&a_mu);
    uint64_t t0 = nmt__jvm_now_ns();
    if (J.ready == 0)
        J.ready = lookup(jni);
    uint8_t *p = NULL;
    size_t len = 0;
    if (J.ready > 0 && (*jni)->PushLocalFrame(jni, 64) == JNI_OK) {
        p = read_accounts(jni, &len);
        (*jni)->PopLocalFrame(jni, NULL);
    }
    failed(jni);
    uint64_t dt = nmt__jvm_now_ns() - t0;
    uint64_t zero = 0;
    atomic_compare_exchange_strong(&ns_first, &zero, dt ? dt : 1);
    atomic_fetch_add(&ns_total, dt);
    atomic_fetch_add(p ? &n_taken : &n_errors, 1);
    pthread_mutex_lock(&a_mu);
    if (p) {
        free(latest);
        latest = p;
        latest_len = len;
    }
    done_seq = seq;
    pthread_cond_broadcast(&a_cv);
    pthread_mutex_unlock(&a_mu);
}

/* Writer side: the request in flight and when its wait ends. */
static uint64_t asked_seq;
static struct timespec asked_deadline;

void nmt_jvm_accounts_ask(void)
{
    if (atomic_load(&nmt__jvm_state) != NMT_JVM_ATTACHED || !atomic_load(&serving))
        return;
    clock_gettime(CLOCK_REALTIME, &asked_deadline);
    asked_deadline.tv_nsec += WAIT_MS * 1000000L;
    asked_deadline.tv_sec += asked_deadline.tv_nsec / 1000000000L;
    asked_deadline.tv_nsec %= 1000000000L;
    pthread_mutex_lock(&a_mu);
    asked_seq = ++want_seq;
    atomic_store_explicit(&wanted, 1, memory_order_release);
    pthread_mutex_unlock(&a_mu);
    nmt__jvm_methods_kick();
}

void nmt_jvm_accounts_emit(nmt_emit_fn emit, void *ctx)
{
    pthread_mutex_lock(&a_mu);
    int r = 0;
    while (done_seq < asked_seq && r == 0 && atomic_load(&nmt__jvm_state) == NMT_JVM_ATTACHED)
        r = pthread_cond_timedwait(&a_cv, &a_mu, &asked_deadline);
    if (done_seq < asked_seq)
        atomic_fetch_add(&n_late, 1);
    asked_seq = 0;
    uint8_t *copy = latest_len ? malloc(latest_len) : NULL;
    size_t len = copy ? latest_len : 0;
    if (copy)
        memcpy(copy, latest, len);
    pthread_mutex_unlock(&a_mu);
    if (copy && emit(ctx, NMT_REC_JACCOUNTS, copy, (uint32_t)len) != 0)
        atomic_fetch_add(&n_errors, 1);
    free(copy);
}

void nmt__jvm_accounts_counters(nmt_counter_fn add, void *ctx)
{
    add(ctx, "java.accounts_taken", (int64_t)atomic_load(&n_taken));
    add(ctx, "java.accounts_errors", (int64_t)atomic_load(&n_errors));
    add(ctx, "java.accounts_late", (int64_t)atomic_load(&n_late));
    add(ctx, "java.accounts_ns", (int64_t)atomic_load(&ns_total));
    add(ctx, "java.accounts_first_ns", (int64_t)atomic_load(&ns_first));
}

void nmt__jvm_accounts_after_fork(void)
{
    pthread_mutex_t fresh = PTHREAD_MUTEX_INITIALIZER;
    pthread_cond_t fresh_cv = PTHREAD_COND_INITIALIZER;
    a_mu = fresh;
    a_cv = fresh_cv;
    latest = NULL; /* the parent's JVM: its figures do not describe the child */
    latest_len = 0;
    want_seq = done_seq = asked_seq = 0;
    atomic_store(&wanted, 0);
    atomic_store(&serving, 0);
}
