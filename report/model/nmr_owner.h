/*
 * nmr_owner.h: whose code owns the memory of a stack (docs/nmreport.1,
 * OWNERS).
 *
 * Walking a symbolized stack from the allocation towards the thread's root,
 * the owner is the first frame that is application code:
 *  - a Java method outside the JDK's packages (NMR_OWNER_APP_JAVA), or
 *  - a function of a native library that is neither plumbing (nmtrace, libc,
 *    ld.so, libpthread, libm, an allocator), nor libjvm, nor one of the JDK's
 *    own native libraries (a library inside the JVM's home, and whatever such
 *    a library calls, e.g. the system zlib under libzip): a JNI library
 *    (NMR_OWNER_JNI, with the nearest Java frame towards the root as its
 *    Java caller), or the program's own code in a process without a JVM
 *    (NMR_OWNER_NATIVE_APP);
 * else the JDK method nearest the application (NMR_OWNER_JDK_JAVA: the
 * outermost JDK frame that is not a thread's or an executor's run loop),
 * else the JVM subsystem named by libjvm's function names (NMR_OWNER_JVM),
 * else NMR_OWNER_UNKNOWN.
 */
#ifndef NMR_OWNER_H
#define NMR_OWNER_H

#include <stddef.h>

#include "nmr_profile.h"

enum nmr_owner_kind {
    NMR_OWNER_UNKNOWN = 0,
    NMR_OWNER_APP_JAVA,
    NMR_OWNER_JNI,
    NMR_OWNER_NATIVE_APP,
    NMR_OWNER_JDK_JAVA,
    NMR_OWNER_JVM,
    NMR_OWNER_NKINDS
};

/* The JVM subsystem of a stack's libjvm frames (innermost named one). */
enum nmr_jvm_area {
    NMR_AREA_NONE = 0,   /* no libjvm frame names a subsystem */
    NMR_AREA_JAVA_HEAP,  /* the Java heap's own reservation and commits */
    NMR_AREA_GC,         /* collectors' side structures */
    NMR_AREA_COMPILER,   /* C1/C2, ci*, compile broker */
    NMR_AREA_CLASSES,    /* class loading, Metaspace, class metadata */
    NMR_AREA_THREADS,    /* thread creation, stacks, thread-locals */
    NMR_AREA_CODE_CACHE, /* code heap, blobs, stubs */
    NMR_AREA_SYMBOLS,    /* symbol and string tables */
    NMR_AREA_UNSAFE,     /* Unsafe.allocateMemory: Java code asked for it */
    NMR_AREA_JNI,        /* JNI / JVMTI environment (agents) */
    NMR_AREA_NMT,        /* the JVM's own native memory tracking */
    NMR_AREA_RUNTIME,    /* libjvm code that names no subsystem above */
    NMR_NAREAS
};

struct nmr_owner {
    enum nmr_owner_kind kind;
    enum nmr_jvm_area area; /* of the stack's libjvm frames, for any kind */
    int frame;              /* index in stack->frames of the owner; -1: none */
    int java_caller;        /* nearest Java frame rootward of frame; -1: none */
    int jvm_frame;          /* the libjvm frame that named area; -1: none */
};

/*
 * What the owner depends on besides the stack: the application packages of
 * --app (class-name prefixes: "com.acme." or "com.acme"), and the JVM homes
 * (nmr_owner_rules_init reads them from a profile's mappings).
 */
#define NMR_OWNER_MAX_APP   32
#define NMR_OWNER_MAX_HOMES 4
struct nmr_owner_rules {
    char app[NMR_OWNER_MAX_APP][128]; /* copies: the rules may be copied */
    size_t napp;
    char homes[NMR_OWNER_MAX_HOMES][512];
    size_t nhomes;
    int has_jvm; /* libjvm.so is mapped: a JVM process */
};

/* Fills r with the JVM homes of p (directories holding lib/.../libjvm.so in
 * the first and last snapshots' mappings) and the prefixes of app
 * (comma-separated, may be NULL; copied). */
void nmr_owner_rules_init(struct nmr_owner_rules *r, const struct nmr_profile *p, const char *app);

/* The owner of a symbolized stack (see above). Never fails. */
void nmr_owner_of(const struct nmr_owner_rules *r, const struct nmr_stack *s,
                  struct nmr_owner *out);

/* Whether a Java class name is the JDK's (java., javax., jdk., sun.,
 * com.sun. and the JDK's other module packages), unless --app claims it. */
int nmr_owner_is_jdk_class(const struct nmr_owner_rules *r, const char *class_name);

/* Whether f is a named Java frame of a JDK class (r may be NULL: no --app). */
int nmr_owner_frame_is_jdk(const struct nmr_owner_rules *r, const struct nmr_frame *f);

/* "app-java", "jni", "native-app", "jdk-java", "jvm", "unknown". */
const char *nmr_owner_kind_name(enum nmr_owner_kind k);

/* "java-heap", "gc", "compiler", "class-metadata", "threads", "code-cache",
 * "symbols", "unsafe", "jni-jvmti", "nmt", "runtime", "" (none). */
const char *nmr_owner_area_name(enum nmr_jvm_area a);

/*
 * The owner on one line, for keys and findings:
 *   app-java / jdk-java: "pkg.Class.method (File.java:12)"
 *   jni:                 "function [lib] <- pkg.Class.method (File.java:3)"
 *   native-app:          "function [lib]"
 *   jvm:                 "JVM gc", "JVM class-metadata"...
 * with_line 0 leaves out the line number (a key that groups a method).
 * Returns buf (truncated to n).
 */
char *nmr_owner_label(char *buf, size_t n, const struct nmr_stack *s, const struct nmr_owner *o,
                      int with_line);

/* The subsystem one libjvm function name belongs to (nmr_owner_jvm.c), or
 * NMR_AREA_NONE when its name says none. */
enum nmr_jvm_area nmr__owner_jvm_area(const char *function);

#endif
