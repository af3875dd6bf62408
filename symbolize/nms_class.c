/*
 * nms_class.c: what kind of code a frame is (enum nms_class) from the mapping's path
 * and, for JIT code, from the perf-map name; and C++ demangling.
 *
 * Demangling uses __cxa_demangle from libstdc++ (the library links it). The function is
 * declared extern "C" by <cxxabi.h>, so plain C can call it with no C++ file; libdw has
 * no public demangler of its own, and libstdc++ is on every machine that runs a JVM.
 */
#include "nms_internal.h"

#include <stdlib.h>
#include <string.h>

char *__cxa_demangle(const char *mangled, char *out, size_t *len, int *status);

static const char *const class_names[NMS_CLASS__COUNT] = {
    [NMS_UNKNOWN] = "unknown", [NMS_NMTRACE] = "nmtrace",
    [NMS_LIBC] = "libc",       [NMS_ALLOCATOR] = "allocator",
    [NMS_JVM] = "jvm",         [NMS_JDK] = "jdk",
    [NMS_JNI] = "jni",         [NMS_JIT] = "jit",
    [NMS_JAVA] = "java",       [NMS_EXE] = "exe",
};

const char *nms_class_name(enum nms_class cls)
{
    return (unsigned)cls < NMS_CLASS__COUNT ? class_names[cls] : "unknown";
}

int nms_class_is_plumbing(enum nms_class cls)
{
    return cls == NMS_NMTRACE || cls == NMS_ALLOCATOR || cls == NMS_LIBC;
}

static bool starts(const char *s, const char *prefix)
{
    return strncmp(s, prefix, strlen(prefix)) == 0;
}

/* HotSpot's own allocation wrappers: every JVM malloc goes through
 * os::malloc and every mapping through os::commit_memory and friends, so
 * taking them as the allocation site would file all of the JVM's memory
 * under two functions. Like libc's malloc, they are plumbing; the site is
 * their caller (Unsafe_AllocateMemory0, a Metaspace node, the compiler...). */
int nms_function_is_wrapper(const char *function, enum nms_class cls)
{
    static const char *const jvm_wrappers[] = {"os::malloc(",
                                               "os::realloc(",
                                               "os::strdup",
                                               "AllocateHeap(",
                                               "ReallocateHeap(",
                                               "os::commit_memory",
                                               "os::pd_commit_memory",
                                               "os::Linux::commit_memory",
                                               "os::reserve_memory",
                                               "os::pd_reserve_memory",
                                               "os::attempt_reserve_memory",
                                               "os::pd_attempt_reserve_memory",
                                               "os::map_memory",
                                               "os::pd_map_memory",
                                               "os::pd_attempt_map_memory",
                                               "os::uncommit_memory",
                                               "os::pd_uncommit_memory",
                                               "os::release_memory",
                                               "os::pd_release_memory",
                                               "Chunk::operator new",
                                               "os::protect_memory"};
    if (cls != NMS_JVM || function == NULL)
        return 0;
    for (size_t i = 0; i < sizeof(jvm_wrappers) / sizeof(jvm_wrappers[0]); i++)
        if (starts(function, jvm_wrappers[i]))
            return 1;
    return starts(function, "CHeapObj<") && strstr(function, "::operator new") != NULL;
}

/* "libm.so.6", "libm-2.31.so": a library name followed by its version or ".so". */
static bool lib_named(const char *base, const char *name)
{
    size_t n = strlen(name);
    return strncmp(base, name, n) == 0 && (base[n] == '.' || base[n] == '-');
}

static bool is_libc(const char *b)
{
    static const char *const exact[] = {"libc",      "libm",      "libpthread", "libdl",
                                        "librt",     "libmvec",   "libgcc_s",   "libc++",
                                        "libc++abi", "libresolv", "libutil",    "libanl"};
    for (size_t i = 0; i < sizeof(exact) / sizeof(exact[0]); i++)
        if (lib_named(b, exact[i]))
            return true;
    return starts(b, "ld-linux") || starts(b, "ld64.so") || starts(b, "ld-musl") ||
           starts(b, "ld-2.") || starts(b, "libstdc++") || starts(b, "libc.musl");
}

/* A path component that names a JDK or JRE install: .../jvm/..., .../jdk-17.0.2/...,
 * .../jre/..., .../openjdk-21/... */
static bool jdk_component(const char *path)
{
    const char *p = path;
    while ((p = strchr(p, '/')) != NULL) {
        const char *comp = ++p;
        const char *end = strchr(comp, '/');
        if (!end)
            break; /* the basename is not a directory */
        size_t n = (size_t)(end - comp);
        if ((n == 3 && (!strncmp(comp, "jvm", 3) || !strncmp(comp, "jre", 3))) ||
            (n >= 3 && (!strncmp(comp, "jdk", 3) || !strncmp(comp, "jre", 3))) ||
            memmem(comp, n, "openjdk", 7) || memmem(comp, n, "-jdk", 4) ||
            memmem(comp, n, "-jre", 4))
            return true;
    }
    return false;
}

enum nms_class nms__class_of_path(const char *path, const char *const *homes, size_t nhomes)
{
    if (!path || !*path)
        return NMS_UNKNOWN;
    if (path[0] == '[')
        return NMS_UNKNOWN; /* [vdso], [heap], [stack]... */
    const char *b = strrchr(path, '/');
    b = b ? b + 1 : path;
    if (starts(b, "libnmtrace"))
        return NMS_NMTRACE;
    if (starts(b, "libjemalloc") || starts(b, "libtcmalloc") || starts(b, "libmimalloc"))
        return NMS_ALLOCATOR;
    if (is_libc(b))
        return NMS_LIBC;
    if (strcmp(b, "libjvm.so") == 0)
        return NMS_JVM;
    for (size_t i = 0; i < nhomes; i++) {
        size_t n = strlen(homes[i]);
        if (strncmp(path, homes[i], n) == 0 && path[n] == '/')
            return NMS_JDK;
    }
    /* The directory-name guess only stands in for a JDK home the profile does
     * not show (no libjvm.so mapped): with one known, an application library
     * under, say, /srv/jvm-tools/ or a checkout in /home/me/jdk-work/ is not
     * taken for the JDK's. */
    if (nhomes == 0 && jdk_component(path))
        return NMS_JDK;
    return NMS_JNI;
}

const char *nms__jdk_home(struct nms__arena *a, const char *path)
{
    const char *b = strrchr(path, '/');
    if (!b || strcmp(b + 1, "libjvm.so") != 0)
        return NULL;
    /* <home>/lib/server/libjvm.so (9+), <home>/jre/lib/<arch>/server/libjvm.so (8). */
    const char *cut = NULL;
    for (const char *p = path; (p = strstr(p, "/lib/")) != NULL; p++)
        cut = p;
    if (!cut || cut == path)
        return NULL;
    size_t n = (size_t)(cut - path);
    if (n > 4 && strncmp(cut - 4, "/jre", 4) == 0)
        n -= 4;
    char *home = nms__arena_alloc(a, n + 1);
    if (!home)
        return NULL;
    memcpy(home, path, n);
    home[n] = 0;
    return home;
}

static bool java_ident(char ch)
{
    return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
           ch == '_' || ch == '$' || ch == '.' || ch == '/' || ch == '<' || ch == '>' || ch == '-';
}

/*
 * Java methods in the perf-map formats in use:
 *   JDK 17+ (DumpPerfMapAtExit, jcmd Compiler.perfmap): "void java.nio.Bits.reserveMemory(long,
 * long)" perf-map-agent:  "Ljava/nio/Bits;::reserveMemory", optionally with a signature
 *   async-profiler and others: "java.nio.Bits::reserveMemory"
 * Everything else in a code cache (stubs, adapters, the interpreter) is JIT glue.
 */
bool nms__perfmap_is_java(const char *name)
{
    const char *cc = strstr(name, "::");
    if (cc) {
        if (name[0] == 'L' && cc > name + 1 && cc[-1] == ';')
            return true;
        bool dotted = false;
        for (const char *p = name; p < cc; p++) {
            if (!java_ident(*p))
                return false;
            dotted |= (*p == '.' || *p == '/');
        }
        return dotted && java_ident(cc[2]);
    }
    const char *paren = strchr(name, '(');
    size_t len = strlen(name);
    if (!paren || paren == name || name[len - 1] != ')')
        return false;
    const char *start = paren;
    while (start > name && java_ident(start[-1]))
        start--;
    if (start == name || start[-1] != ' ')
        return false; /* the return type comes first */
    const char *dot = memchr(start, '.', (size_t)(paren - start));
    return dot && dot > start && paren[-1] != '.';
}

const char *nms__demangle(struct nms__arena *a, const char *name)
{
    if (!name || name[0] != '_' || name[1] != 'Z')
        return name;
    int status = 0;
    char *d = __cxa_demangle(name, NULL, NULL, &status);
    if (!d || status != 0) {
        free(d);
        return name;
    }
    const char *r = nms__arena_strdup(a, d);
    free(d);
    return r ? r : name;
}
