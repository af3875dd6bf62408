/*
 * nmr_diag_rules.c: the causes of --diagnose, one rule per cause, in the
 * order they are tried: the first rule whose match() holds names the cause
 * of a candidate. Specific mechanisms (a JDK frame that says which) come
 * before the owner's kind, and "levels off" comes before the mechanisms
 * that a bounded cache shares with a leak (Unsafe, a JNI library). Each
 * rule's advise() fills the evidence and the next step from the profile's
 * own frames, flags and counters.
 */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nmr_diag.h"
#include "nmr_jvmcheck.h"

void nmr__evidence(struct nmr_finding *f, const char *fmt, ...)
{
    if (f->nevidence >= NMR_DIAG_MAX_EVIDENCE)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(f->evidence[f->nevidence++], sizeof(f->evidence[0]), fmt, ap);
    va_end(ap);
}

int nmr__diag_frame(const struct nmr_stack *s, const char *prefix)
{
    size_t n = strlen(prefix);
    for (uint32_t i = 0; i < s->nframes; i++)
        if (strncmp(s->frames[i].function, prefix, n) == 0)
            return (int)i;
    return -1;
}

/* Evidence "frame: <function (File.java:12)>" for frame i of the input's stack. */
static void frame_evidence(struct nmr_finding *f, const struct nmr_diag_input *in, int i,
                           const char *what)
{
    if (i < 0)
        return;
    const struct nmr_frame *fr = &in->key->stack->frames[i];
    if (fr->file && fr->line > 0)
        nmr__evidence(f, "%s %s (%s:%d)", what, fr->function, fr->file, fr->line);
    else if (fr->lib && fr->lib[0])
        nmr__evidence(f, "%s %s [%s]", what, fr->function, fr->lib);
    else
        nmr__evidence(f, "%s %s", what, fr->function);
}

static int has(const struct nmr_diag_input *in, const char *prefix)
{
    return nmr__diag_frame(in->key->stack, prefix) >= 0;
}

/* Whether the recorded command line holds the JVM flag (exact word). */
static int jvm_flag(const struct nmr_profile *p, const char *flag)
{
    const char *c = p->cmdline ? p->cmdline : "";
    size_t n = strlen(flag);
    for (const char *s = strstr(c, flag); s; s = strstr(s + 1, flag))
        if ((s == c || s[-1] == ' ') && (s[n] == 0 || s[n] == ' '))
            return 1;
    return 0;
}

/* "<used> of the <limit> limit <name> (<source>)" when bytes are near an
 * INFO limit (nmr_jvm_near_limit, the test --rss makes of the JVM's pools):
 * memory near a JVM limit is said so. */
static void limit_note(const struct nmr_diag_input *in, struct nmr_finding *f, const char *key,
                       const char *flag, int64_t used)
{
    const char *v = nmr_info_get(in->p, key);
    char k2[64];
    snprintf(k2, sizeof(k2), "%s.source", key);
    const char *src = nmr_info_get(in->p, k2);
    long long lim = v ? atoll(v) : 0;
    if (lim <= 0)
        return;
    char a[32], b[32];
    nmr_fmt_bytes(a, sizeof(a), used);
    nmr_fmt_bytes(b, sizeof(b), lim);
    if (nmr_jvm_near_limit(used, (int64_t)lim))
        snprintf(f->note, sizeof(f->note),
                 "%s is %.0f%% of the %s limit %s (%s): near it, the JVM throws OutOfMemoryError",
                 a, 100.0 * (double)used / (double)lim, flag, b, src ? src : "flag");
    else
        nmr__evidence(f, "limit %s %s (%s)", flag, b, src ? src : "flag");
}

/* ---- NIO temporary direct-buffer cache ---------------------------------- */
static int m_nio(const struct nmr_diag_input *in)
{
    return has(in, "sun.nio.ch.Util.getTemporaryDirectBuffer");
}
static void a_nio(const struct nmr_diag_input *in, struct nmr_finding *f)
{
    frame_evidence(f, in,
                   nmr__diag_frame(in->key->stack, "sun.nio.ch.Util.getTemporaryDirectBuffer"),
                   "frame");
    frame_evidence(f, in, nmr__diag_frame(in->key->stack, "sun.nio.ch.IOUtil."), "via");
    snprintf(f->fix, sizeof(f->fix),
             "each thread caches a temporary direct buffer as large as its largest heap-buffer "
             "I/O: read/write in bounded chunks (e.g. 64 KiB), or use a direct buffer you own; "
             "or cap the cache with -Djdk.nio.maxCachedBufferSize=262144");
    snprintf(f->confirm, sizeof(f->confirm),
             "the 'direct' BufferPoolMXBean grows by one buffer per I/O thread; "
             "jcmd PID VM.native_memory summary shows it under Other");
}

/* ---- Reflection inflation ---------------------------------------------- */
static int m_reflection(const struct nmr_diag_input *in)
{
    return has(in, "jdk.internal.reflect.MethodAccessorGenerator") ||
           has(in, "sun.reflect.MethodAccessorGenerator") ||
           has(in, "jdk.internal.reflect.GeneratedMethodAccessor") ||
           has(in, "sun.reflect.GeneratedMethodAccessor");
}
static void a_reflection(const struct nmr_diag_input *in, struct nmr_finding *f)
{
    int i = nmr__diag_frame(in->key->stack, "jdk.internal.reflect.MethodAccessorGenerator");
    if (i < 0)
        i = nmr__diag_frame(in->key->stack, "sun.reflect.MethodAccessorGenerator");
    frame_evidence(f, in, i, "frame");
    snprintf(f->fix, sizeof(f->fix),
             "Method.invoke generates an accessor class per method after "
             "sun.reflect.inflationThreshold calls: cache Method objects and call them through "
             "MethodHandles, or raise -Dsun.reflect.inflationThreshold (JDK 18+ no longer "
             "generates them)");
    snprintf(f->confirm, sizeof(f->confirm),
             "jcmd PID GC.class_histogram | grep GeneratedMethodAccessor; "
             "jcmd PID VM.metaspace");
}

/* ---- Metaspace / class loaders ----------------------------------------- */
static int m_metaspace(const struct nmr_diag_input *in)
{
    return in->key->owner.area == NMR_AREA_CLASSES && !has(in, "FileMapInfo::");
}
static void a_metaspace(const struct nmr_diag_input *in, struct nmr_finding *f)
{
    const struct nmr_owner *o = &in->key->owner;
    frame_evidence(f, in, o->jvm_frame, "frame");
    frame_evidence(f, in, nmr__diag_frame(in->key->stack, "java.lang.ClassLoader.defineClass"),
                   "via");
    if (in->mmap)
        nmr__evidence(f, "mmap-committed Metaspace (class metadata), not malloc");
    if (in->jvm->has_classes)
        nmr__evidence(f, "classes loaded %lld, unloaded %lld", (long long)in->jvm->classes_loaded,
                      (long long)in->jvm->classes_unloaded);
    snprintf(f->fix, sizeof(f->fix),
             "class loaders are kept alive: drop references to loaders you are done with "
             "(caches, thread locals, listeners), cache generated classes by source; set "
             "-XX:MaxMetaspaceSize so a leak fails fast");
    snprintf(f->confirm, sizeof(f->confirm),
             "jcmd PID VM.metaspace; jcmd PID VM.classloader_stats; "
             "jcmd PID VM.native_memory summary (Class)");
    if (in->jvm->has_metaspace)
        limit_note(in, f, "jvm.max_metaspace", "MaxMetaspaceSize", in->jvm->metaspace_committed);
    else
        limit_note(in, f, "jvm.max_metaspace", "MaxMetaspaceSize", in->bytes);
}

/* ---- A cache or business growth that levels off ------------------------ */
static int m_cache(const struct nmr_diag_input *in)
{
    return strcmp(in->trend.verdict, "levels-off") == 0 && in->key->owner.kind != NMR_OWNER_JVM;
}
static void a_cache(const struct nmr_diag_input *in, struct nmr_finding *f)
{
    frame_evidence(f, in, in->key->owner.frame, "owner frame");
    if (in->key->site)
        nmr__evidence(f, "through %s", in->key->site->function);
    if (!isnan(in->trend.late_early))
        nmr__evidence(f, "late growth rate %.0f%% of the early one", 100 * in->trend.late_early);
    snprintf(f->fix, sizeof(f->fix),
             "grew and then stopped: a bounded cache or pool filling up, not a leak; size the "
             "process for it and check its bound is the one meant");
    snprintf(f->confirm, sizeof(f->confirm),
             "record longer (NMTRACE_INTERVAL) and check that it stays flat under load");
}

/* ---- DirectByteBuffers -------------------------------------------------- */
static int m_direct(const struct nmr_diag_input *in)
{
    return has(in, "java.nio.DirectByteBuffer.<init>") ||
           has(in, "java.nio.ByteBuffer.allocateDirect");
}
static void a_direct(const struct nmr_diag_input *in, struct nmr_finding *f)
{
    frame_evidence(f, in, nmr__diag_frame(in->key->stack, "java.nio.DirectByteBuffer.<init>"),
                   "frame");
    int dgc = jvm_flag(in->p, "-XX:+DisableExplicitGC");
    if (dgc)
        nmr__evidence(f, "-XX:+DisableExplicitGC on the command line: the System.gc() of "
                         "Bits.reserveMemory is a no-op");
    if (in->jvm->has_direct)
        nmr__evidence(f, "direct pool %lld buffers, %lld bytes", (long long)in->jvm->direct_count,
                      (long long)in->jvm->direct_bytes);
    snprintf(f->fix, sizeof(f->fix),
             "buffers are freed only when a GC finds them unreachable: reuse or pool direct "
             "buffers instead of one per request; cap the total with -XX:MaxDirectMemorySize%s",
             dgc ? "; replace -XX:+DisableExplicitGC by -XX:+ExplicitGCInvokesConcurrent" : "");
    snprintf(f->confirm, sizeof(f->confirm),
             "the 'direct' BufferPoolMXBean (count, memoryUsed); "
             "jcmd PID VM.native_memory summary shows it under Other");
    limit_note(in, f, "jvm.max_direct", "MaxDirectMemorySize",
               in->jvm->has_direct ? in->jvm->direct_bytes : in->bytes);
}

/* ---- Inflater / Deflater ------------------------------------------------ */
static int m_zip(const struct nmr_diag_input *in)
{
    return has(in, "java.util.zip.Inflater") || has(in, "java.util.zip.Deflater");
}
static void a_zip(const struct nmr_diag_input *in, struct nmr_finding *f)
{
    int i = nmr__diag_frame(in->key->stack, "java.util.zip.Inflater");
    frame_evidence(f, in, i >= 0 ? i : nmr__diag_frame(in->key->stack, "java.util.zip.Deflater"),
                   "frame");
    snprintf(f->fix, sizeof(f->fix),
             "zlib memory of an Inflater/Deflater lives until end(): call end() (or close the "
             "stream that owns it) in a finally block");
    snprintf(f->confirm, sizeof(f->confirm),
             "jcmd PID GC.class_histogram | grep -E 'Inflater|Deflater' (objects alive)");
}

/* ---- Unsafe.allocateMemory ---------------------------------------------- */
static int m_unsafe(const struct nmr_diag_input *in)
{
    return in->key->owner.area == NMR_AREA_UNSAFE;
}
static void a_unsafe(const struct nmr_diag_input *in, struct nmr_finding *f)
{
    int i = nmr__diag_frame(in->key->stack, "sun.misc.Unsafe.allocateMemory");
    frame_evidence(f, in, i >= 0 ? i : in->key->owner.jvm_frame, "frame");
    frame_evidence(f, in, in->key->owner.frame, "caller");
    snprintf(f->fix, sizeof(f->fix),
             "pair every allocateMemory with freeMemory (try/finally, or a Cleaner registered "
             "when allocating); prefer ByteBuffer.allocateDirect or the foreign-memory API's "
             "arenas, which free for you");
    snprintf(f->confirm, sizeof(f->confirm),
             "jcmd PID VM.native_memory summary shows it under Other "
             "(-XX:NativeMemoryTracking=summary)");
}

/* ---- JNI library -------------------------------------------------------- */
static int m_jni(const struct nmr_diag_input *in)
{
    return in->key->owner.kind == NMR_OWNER_JNI;
}
static void a_jni(const struct nmr_diag_input *in, struct nmr_finding *f)
{
    const struct nmr_owner *o = &in->key->owner;
    const struct nmr_frame *fr = &in->key->stack->frames[o->frame];
    frame_evidence(f, in, o->frame, "JNI function");
    frame_evidence(f, in, o->java_caller, "Java caller");
    snprintf(f->fix, sizeof(f->fix),
             "%s in %s allocates what nobody frees: find the free/close call its callers miss "
             "(the Java caller shows which), or report it to the library's owners with this "
             "stack",
             fr->function, fr->lib && fr->lib[0] ? fr->lib : "the library");
    snprintf(f->confirm, sizeof(f->confirm),
             "NMT does not see a library's own malloc: RSS grows while "
             "jcmd PID VM.native_memory summary stays flat");
}

/* ---- A native program's own code ---------------------------------------- */
static int m_native(const struct nmr_diag_input *in)
{
    return in->key->owner.kind == NMR_OWNER_NATIVE_APP;
}
static void a_native(const struct nmr_diag_input *in, struct nmr_finding *f)
{
    frame_evidence(f, in, in->key->owner.frame, "function");
    snprintf(f->fix, sizeof(f->fix), "free what this function allocates on every path");
    snprintf(f->confirm, sizeof(f->confirm), "nmreport --tree --focus '%s' shows the callers",
             in->key->stack->frames[in->key->owner.frame].function);
}

/* ---- JVM internals ------------------------------------------------------ */
static int m_jvm(const struct nmr_diag_input *in)
{
    return in->key->owner.kind == NMR_OWNER_JVM;
}
static void a_jvm(const struct nmr_diag_input *in, struct nmr_finding *f)
{
    const struct nmr_owner *o = &in->key->owner;
    frame_evidence(f, in, o->jvm_frame, "frame");
    static const struct {
        enum nmr_jvm_area a;
        const char *fix, *confirm;
    } t[] = {
        {NMR_AREA_COMPILER,
         "JIT compiler arenas: transient peaks are normal; a steady rise: "
         "fewer compiler threads (-XX:CICompilerCount)",
         "jcmd PID VM.native_memory summary (Compiler, Arena Chunk)"},
        {NMR_AREA_CODE_CACHE, "mmap-committed code heap: bounded by -XX:ReservedCodeCacheSize",
         "jcmd PID Compiler.codecache"},
        {NMR_AREA_THREADS,
         "memory per thread: count threads (a pool that never shrinks?), "
         "lower -Xss",
         "jcmd PID Thread.print | grep -c '^\"'"},
        {NMR_AREA_SYMBOLS, "symbol/string tables grow with interned strings and loaded classes",
         "jcmd PID VM.stringtable; jcmd PID VM.symboltable"},
        {NMR_AREA_GC, "GC side structures scale with the heap and region count: size -Xmx",
         "jcmd PID VM.native_memory summary (GC)"},
    };
    snprintf(f->fix, sizeof(f->fix), "the JVM's own memory: usually sized by its flags");
    snprintf(f->confirm, sizeof(f->confirm), "jcmd PID VM.native_memory summary");
    for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++)
        if (t[i].a == o->area) {
            snprintf(f->fix, sizeof(f->fix), "%s", t[i].fix);
            snprintf(f->confirm, sizeof(f->confirm), "%s", t[i].confirm);
        }
    if (o->area == NMR_AREA_CODE_CACHE && in->jvm->has_code)
        limit_note(in, f, "jvm.reserved_code_cache", "ReservedCodeCacheSize",
                   in->jvm->code_committed);
}

/* ---- Mapped before the attach ------------------------------------------- */
/* An attach's mmap model starts from the mappings the process had then, all
 * owned by one stack whose only frame is nmtrace_mapped_before_attach in
 * libnmtrace.so (docs/FORMAT.md, attach.*): no caller, and named so when
 * the recorder's library could be read, else by that library's name. */
static int m_before_attach(const struct nmr_diag_input *in)
{
    const struct nmr_stack *s = in->key->stack;
    return s->nframes == 0 && nmr_info_get(in->p, "attach.coverage") != NULL &&
           (strcmp(s->api, "nmtrace_mapped_before_attach") == 0 ||
            strstr(s->api, "libnmtrace") != NULL);
}
static void a_before_attach(const struct nmr_diag_input *in, struct nmr_finding *f)
{
    const char *committed = nmr_info_get(in->p, "attach.mmap_baseline_committed");
    char b[32];
    /* The one frame is the recorder's stand-in, which owns nothing: say
     * what is known instead of "unknown". */
    snprintf(f->owner, sizeof(f->owner), "not recorded: mapped before the attach");
    if (committed)
        nmr__evidence(f,
                      "%s committed in the process's mappings at the attach "
                      "(attach.mmap_baseline_committed)",
                      nmr_fmt_bytes(b, sizeof(b), strtoll(committed, NULL, 10)));
    snprintf(f->fix, sizeof(f->fix),
             "mapped before nmtrace attached, so who mapped it is unknown; it changes only as "
             "those mappings go. What the process maps or allocates after the attach is in "
             "the other findings. To name these owners, record the process from its start "
             "(nmtrace -- COMMAND)");
    snprintf(f->confirm, sizeof(f->confirm),
             "pmap -x PID; for the JVM's own: jcmd PID VM.native_memory summary "
             "(-XX:NativeMemoryTracking=summary)");
}

/* ---- Anything else ------------------------------------------------------ */
static int m_any(const struct nmr_diag_input *in)
{
    (void)in;
    return 1;
}
static void a_any(const struct nmr_diag_input *in, struct nmr_finding *f)
{
    frame_evidence(f, in, in->key->owner.frame, "owner frame");
    if (in->key->site)
        nmr__evidence(f, "allocation site %s", in->key->site->function);
    snprintf(f->fix, sizeof(f->fix),
             "no known cause matches: read the stack (nmreport --tree --focus on the site)");
    snprintf(f->confirm, sizeof(f->confirm), "record longer and watch it with --growth");
}

/* Tried in this order; the whole-process causes (warm-up, allocator,
 * accounts) have no match(): nmr_diag_profile.c raises them. */
static const struct nmr_cause_rule rules[] = {
    {NMR_CAUSE_BEFORE_ATTACH, "before-attach", "mapped before the attach", m_before_attach,
     a_before_attach},
    {NMR_CAUSE_NIO_CACHE, "nio-temp-cache", "NIO temporary direct-buffer cache", m_nio, a_nio},
    {NMR_CAUSE_REFLECTION, "reflection-inflation", "reflection inflation (generated accessors)",
     m_reflection, a_reflection},
    {NMR_CAUSE_METASPACE, "metaspace", "Metaspace / class-loader growth", m_metaspace, a_metaspace},
    {NMR_CAUSE_CACHE, "levels-off", "a cache or business growth that levels off", m_cache, a_cache},
    {NMR_CAUSE_DIRECT_BUFFERS, "direct-buffers", "DirectByteBuffer memory held", m_direct,
     a_direct},
    {NMR_CAUSE_ZIP, "zip-not-ended", "Inflater/Deflater memory not end()ed", m_zip, a_zip},
    {NMR_CAUSE_UNSAFE, "unsafe", "Unsafe memory not freed", m_unsafe, a_unsafe},
    {NMR_CAUSE_JNI_LEAK, "jni-library", "JNI library leak", m_jni, a_jni},
    {NMR_CAUSE_NATIVE_LEAK, "native-code", "native code leak", m_native, a_native},
    {NMR_CAUSE_JVM_INTERNALS, "jvm-internals", "JVM internals", m_jvm, a_jvm},
    {NMR_CAUSE_UNCLASSIFIED, "unclassified", "unclassified growth", m_any, a_any},
    {NMR_CAUSE_WARMUP, "warm-up", "warm-up within the reasonable total", NULL, NULL},
    {NMR_CAUSE_ALLOCATOR, "allocator-overhead", "allocator overhead vs untracked RSS", NULL, NULL},
    {NMR_CAUSE_ACCOUNTS, "accounts-disagree", "the JVM's accounts and nmtrace's disagree", NULL,
     NULL},
};

const struct nmr_cause_rule *nmr__cause_rule(enum nmr_cause c)
{
    for (size_t i = 0; i < sizeof(rules) / sizeof(rules[0]); i++)
        if (rules[i].cause == c)
            return &rules[i];
    return &rules[sizeof(rules) / sizeof(rules[0]) - 1];
}

const struct nmr_cause_rule *nmr__cause_of(const struct nmr_diag_input *in)
{
    for (size_t i = 0; i < sizeof(rules) / sizeof(rules[0]); i++)
        if (rules[i].match && rules[i].match(in))
            return &rules[i];
    return nmr__cause_rule(NMR_CAUSE_UNCLASSIFIED);
}
