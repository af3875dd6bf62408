/*
 * nmr_owner.c: the owner of a stack (nmr_owner.h): the walk from the
 * allocation to the thread's root, the JDK's packages, the JVM homes.
 */
#include <stdio.h>
#include <string.h>

#include "nmr_owner.h"

/* Packages of the JDK's modules (java.se and jdk.*): their classes are not
 * the application's. */
static const char *const jdk_packages[] = {
    "java.",
    "javax.",
    "jdk.",
    "sun.",
    "com.sun.",
    "org.w3c.dom.",
    "org.xml.sax.",
    "org.ietf.jgss.",
    "org.omg.",
    "org.jcp.xml.dsig.internal.",
    "netscape.javascript.",
    "org.graalvm.compiler.",
    "jdk.internal.",
    "apple.",
};

/* JDK frames that run other code (a thread's, an executor's, reflection's
 * and lambda plumbing): never "the JDK method nearest the application". */
static const char *const jdk_runners[] = {
    "java.lang.Thread.",       "java.util.concurrent.",        "java.lang.invoke.",
    "jdk.internal.reflect.",   "java.lang.reflect.Method.",    "java.security.AccessController.",
    "java.lang.VirtualThread", "jdk.internal.vm.Continuation",
};

static int starts(const char *s, const char *prefix)
{
    return strncmp(s, prefix, strlen(prefix)) == 0;
}

/* prefix names a package or class of name: "com.acme" matches "com.acme.X"
 * and "com.acme", not "com.acmex.Y". */
static int in_package(const char *name, const char *prefix)
{
    size_t n = strlen(prefix);
    if (n == 0 || strncmp(name, prefix, n) != 0)
        return 0;
    return prefix[n - 1] == '.' || name[n] == 0 || name[n] == '.' || name[n] == '$';
}

int nmr_owner_is_jdk_class(const struct nmr_owner_rules *r, const char *class_name)
{
    for (size_t i = 0; r && i < r->napp; i++)
        if (in_package(class_name, r->app[i]))
            return 0;
    for (size_t i = 0; i < sizeof(jdk_packages) / sizeof(jdk_packages[0]); i++)
        if (starts(class_name, jdk_packages[i]))
            return 1;
    return 0;
}

/* <home>/lib/server/libjvm.so (JDK 9+), <home>/jre/lib/<arch>/server/libjvm.so (8):
 * the home is what comes before "/lib/" (and before "/jre" in the second). */
static void add_home(struct nmr_owner_rules *r, const char *path)
{
    const char *b = strrchr(path, '/');
    if (!b || strcmp(b + 1, "libjvm.so") != 0)
        return;
    r->has_jvm = 1;
    const char *lib = NULL;
    for (const char *s = path; (s = strstr(s, "/lib/")) != NULL; s++)
        lib = s;
    if (!lib || lib == path)
        return;
    size_t n = (size_t)(lib - path);
    if (n >= 4 && strncmp(lib - 4, "/jre", 4) == 0)
        n -= 4;
    if (n >= sizeof(r->homes[0]) || r->nhomes == NMR_OWNER_MAX_HOMES)
        return;
    for (size_t i = 0; i < r->nhomes; i++)
        if (strlen(r->homes[i]) == n && strncmp(r->homes[i], path, n) == 0)
            return;
    memcpy(r->homes[r->nhomes], path, n);
    r->homes[r->nhomes++][n] = 0;
}

void nmr_owner_rules_init(struct nmr_owner_rules *r, const struct nmr_profile *p, const char *app)
{
    memset(r, 0, sizeof(*r));
    /* The first and last snapshots: a JVM loaded late (JNI_CreateJavaVM in
     * a native program) shows in the last one. */
    for (size_t k = 0; p && k < p->nsnaps && k < 2; k++) {
        const struct nmr_snapshot *s = &p->snaps[k ? p->nsnaps - 1 : 0];
        for (size_t i = 0; i < s->nmaps; i++)
            add_home(r, s->maps[i].path);
    }
    /* Each prefix is copied, so the rules stay valid wherever they are
     * copied to; a prefix longer than a package name can be is cut. */
    for (const char *t = app; t && *t && r->napp < NMR_OWNER_MAX_APP;) {
        size_t n = strcspn(t, ",");
        if (n) {
            size_t k = n < sizeof(r->app[0]) ? n : sizeof(r->app[0]) - 1;
            memcpy(r->app[r->napp], t, k);
            r->app[r->napp++][k] = 0;
        }
        t += n + (t[n] == ',');
    }
}

static int under_home(const struct nmr_owner_rules *r, const char *path)
{
    for (size_t i = 0; path && i < r->nhomes; i++) {
        size_t n = strlen(r->homes[i]);
        if (strncmp(path, r->homes[i], n) == 0 && path[n] == '/')
            return 1;
    }
    return 0;
}

/* What a frame is for the walk. */
enum role { R_SKIP, R_JAVA, R_NATIVE_LIB, R_JDK_NATIVE, R_JVM };

static enum role role_of(const struct nmr_owner_rules *r, const struct nmr_frame *f)
{
    switch (f->cls) {
    case NMR_CLS_JAVA:
        return R_JAVA;
    case NMR_CLS_JVM:
        return R_JVM;
    case NMR_CLS_JDK:
        return R_JDK_NATIVE;
    case NMR_CLS_JNI:
    case NMR_CLS_EXE:
        /* The java launcher and any library inside a JVM home are the JDK's,
         * whatever the symbolizer guessed from the path. */
        return under_home(r, f->lib_path) ? R_JDK_NATIVE : R_NATIVE_LIB;
    default:
        return R_SKIP; /* nmtrace, libc, allocators, JIT stubs, unknown */
    }
}

/* A run of native library frames starting at i belongs to the JDK when the
 * first frame past it that is neither a native library nor plumbing is one
 * of the JDK's native libraries (libzip calling the system zlib). */
static int called_by_jdk(const struct nmr_owner_rules *r, const struct nmr_stack *s, uint32_t i)
{
    for (uint32_t k = i + 1; k < s->nframes; k++) {
        enum role ro = role_of(r, &s->frames[k]);
        if (ro == R_JDK_NATIVE)
            return 1;
        if (ro == R_NATIVE_LIB || (ro == R_SKIP && s->frames[k].cls != NMR_CLS_JIT))
            continue;
        return 0;
    }
    return 0;
}

/* The class part of a Java frame's name into buf: "pkg.Class.method" (the
 * bridge's frames) or "long pkg.Class.method(int)" (a perf map's). */
static const char *class_of(char *buf, size_t n, const char *function)
{
    const char *end = strchr(function, '(');
    if (!end)
        end = function + strlen(function);
    for (const char *sp = function; sp < end; sp++)
        if (*sp == ' ')
            function = sp + 1;
    const char *dot = NULL;
    for (const char *d = function; d < end; d++)
        if (*d == '.')
            dot = d;
    size_t len = dot ? (size_t)(dot - function) : 0;
    if (len >= n)
        len = n - 1;
    memcpy(buf, function, len);
    buf[len] = 0;
    return buf;
}

static int is_runner(const char *function)
{
    for (size_t i = 0; i < sizeof(jdk_runners) / sizeof(jdk_runners[0]); i++)
        if (starts(function, jdk_runners[i]))
            return 1;
    return 0;
}

/* The nearest Java frame from i rootward: one the JVM bridge recorded (it
 * has file and line) when there is one, else a JIT frame a perf map named. */
static int first_java_from(const struct nmr_stack *s, uint32_t i)
{
    int any = -1;
    for (uint32_t k = i; k < s->nframes; k++) {
        if (s->frames[k].cls != NMR_CLS_JAVA)
            continue;
        if (s->frames[k].addr >> 63)
            return (int)k;
        if (any < 0)
            any = (int)k;
    }
    return any;
}

/* The JVM subsystem: the innermost libjvm frame whose name says one. */
static void jvm_area(const struct nmr_stack *s, struct nmr_owner *o)
{
    for (uint32_t i = 0; i < s->nframes; i++) {
        if (s->frames[i].cls != NMR_CLS_JVM)
            continue;
        if (o->jvm_frame < 0)
            o->jvm_frame = (int)i;
        enum nmr_jvm_area a = nmr__owner_jvm_area(s->frames[i].function);
        if (a != NMR_AREA_NONE) {
            o->area = a;
            o->jvm_frame = (int)i;
            return;
        }
    }
    if (o->jvm_frame >= 0)
        o->area = NMR_AREA_RUNTIME;
}

void nmr_owner_of(const struct nmr_owner_rules *r, const struct nmr_stack *s, struct nmr_owner *out)
{
    struct nmr_owner o = {NMR_OWNER_UNKNOWN, NMR_AREA_NONE, -1, -1, -1};
    int jdk = -1; /* outermost JDK Java frame that is not a runner */
    char cls[512];
    jvm_area(s, &o);
    for (uint32_t i = 0; i < s->nframes && o.frame < 0; i++) {
        const struct nmr_frame *f = &s->frames[i];
        switch (role_of(r, f)) {
        case R_JAVA:
            if (strncmp(f->function, "java:", 5) == 0)
                break; /* unnamed: its class was unloaded before the dump */
            if (!nmr_owner_is_jdk_class(r, class_of(cls, sizeof(cls), f->function))) {
                o.kind = NMR_OWNER_APP_JAVA;
                o.frame = (int)i;
            } else if (!is_runner(f->function) || jdk < 0) {
                jdk = (int)i;
            }
            break;
        case R_NATIVE_LIB:
            if (called_by_jdk(r, s, i))
                break;
            o.kind = r->has_jvm ? NMR_OWNER_JNI : NMR_OWNER_NATIVE_APP;
            o.frame = (int)i;
            o.java_caller = first_java_from(s, i + 1);
            break;
        default:
            break;
        }
    }
    if (o.frame < 0 && jdk >= 0) {
        o.kind = NMR_OWNER_JDK_JAVA;
        o.frame = jdk;
    } else if (o.frame < 0 && o.jvm_frame >= 0) {
        o.kind = NMR_OWNER_JVM;
        o.frame = o.jvm_frame;
    }
    *out = o;
}

const char *nmr_owner_kind_name(enum nmr_owner_kind k)
{
    static const char *const names[NMR_OWNER_NKINDS] = {"unknown",    "app-java", "jni",
                                                        "native-app", "jdk-java", "jvm"};
    return (unsigned)k < NMR_OWNER_NKINDS ? names[k] : "unknown";
}

const char *nmr_owner_area_name(enum nmr_jvm_area a)
{
    static const char *const names[NMR_NAREAS] = {
        "",        "java-heap", "gc",        "compiler", "class-metadata", "threads", "code-cache",
        "symbols", "unsafe",    "jni-jvmti", "nmt",      "runtime"};
    return (unsigned)a < NMR_NAREAS ? names[a] : "";
}

/* "fn (File.java:12)", "fn (File.java)", "fn [lib]" or "fn". */
static char *frame_text(char *buf, size_t n, const struct nmr_frame *f, int with_line)
{
    if (f->cls == NMR_CLS_JAVA && f->file && with_line && f->line > 0)
        snprintf(buf, n, "%s (%s:%d)", f->function, f->file, f->line);
    else if (f->cls == NMR_CLS_JAVA && f->file)
        snprintf(buf, n, "%s (%s)", f->function, f->file);
    else if (f->lib && f->lib[0])
        snprintf(buf, n, "%s [%s]", f->function, f->lib);
    else
        snprintf(buf, n, "%s", f->function);
    return buf;
}

char *nmr_owner_label(char *buf, size_t n, const struct nmr_stack *s, const struct nmr_owner *o,
                      int with_line)
{
    char a[1024], b[1024];
    if (o->kind == NMR_OWNER_JVM) {
        snprintf(buf, n, "JVM %s", nmr_owner_area_name(o->area));
    } else if (o->frame < 0 || (uint32_t)o->frame >= s->nframes) {
        snprintf(buf, n, "unknown");
    } else if (o->kind == NMR_OWNER_JNI && o->java_caller >= 0) {
        snprintf(buf, n, "%s <- %s", frame_text(a, sizeof(a), &s->frames[o->frame], with_line),
                 frame_text(b, sizeof(b), &s->frames[o->java_caller], with_line));
    } else {
        frame_text(buf, n, &s->frames[o->frame], with_line);
    }
    return buf;
}

int nmr_owner_frame_is_jdk(const struct nmr_owner_rules *r, const struct nmr_frame *f)
{
    char cls[512];
    if (f->cls != NMR_CLS_JAVA || strncmp(f->function, "java:", 5) == 0)
        return 0;
    return nmr_owner_is_jdk_class(r, class_of(cls, sizeof(cls), f->function));
}
