/*
 * nmr_owner_jvm.c: the JVM subsystem a libjvm frame belongs to, from
 * HotSpot's function names (class and function prefixes). One table, one
 * row per naming pattern; the first row that matches wins, so specific
 * patterns (the Java heap's commits) come before general ones (GC).
 */
#include <string.h>

#include "nmr_owner.h"

enum how { PREFIX, INSIDE };

struct area_rule {
    enum how how;
    const char *pattern;
    enum nmr_jvm_area area;
};

static const struct area_rule rules[] = {
    /* Memory Java code asked for through Unsafe (direct buffers too). */
    {PREFIX, "Unsafe_AllocateMemory", NMR_AREA_UNSAFE},
    {PREFIX, "Unsafe_ReallocateMemory", NMR_AREA_UNSAFE},
    /* The Java heap itself: its reservation and the commits that grow it. */
    {PREFIX, "G1PageBasedVirtualSpace::", NMR_AREA_JAVA_HEAP},
    {PREFIX, "PSVirtualSpace::", NMR_AREA_JAVA_HEAP},
    {PREFIX, "ReservedHeapSpace", NMR_AREA_JAVA_HEAP},
    {PREFIX, "CardGeneration::grow", NMR_AREA_JAVA_HEAP},
    {PREFIX, "ZPhysicalMemory", NMR_AREA_JAVA_HEAP},
    {PREFIX, "FileMapInfo::map_heap", NMR_AREA_JAVA_HEAP},
    /* Class loading, Metaspace and class metadata. */
    {INSIDE, "etaspace", NMR_AREA_CLASSES},
    {PREFIX, "ClassLoader", NMR_AREA_CLASSES},
    {PREFIX, "ClassFileParser", NMR_AREA_CLASSES},
    {PREFIX, "SystemDictionary", NMR_AREA_CLASSES},
    {PREFIX, "KlassFactory", NMR_AREA_CLASSES},
    {PREFIX, "InstanceKlass", NMR_AREA_CLASSES},
    {PREFIX, "Klass::", NMR_AREA_CLASSES},
    {PREFIX, "ConstantPool", NMR_AREA_CLASSES},
    {PREFIX, "MetadataFactory", NMR_AREA_CLASSES},
    {PREFIX, "Method::allocate", NMR_AREA_CLASSES},
    {PREFIX, "ConstMethod::", NMR_AREA_CLASSES},
    {PREFIX, "Annotations::", NMR_AREA_CLASSES},
    {PREFIX, "Dictionary::", NMR_AREA_CLASSES},
    {PREFIX, "ModuleEntry", NMR_AREA_CLASSES},
    {PREFIX, "PackageEntry", NMR_AREA_CLASSES},
    {PREFIX, "LoaderConstraintTable", NMR_AREA_CLASSES},
    {PREFIX, "Verifier::", NMR_AREA_CLASSES},
    {PREFIX, "ClassVerifier", NMR_AREA_CLASSES},
    {PREFIX, "Rewriter::", NMR_AREA_CLASSES},
    {PREFIX, "FileMapInfo::", NMR_AREA_CLASSES},
    {PREFIX, "JVM_DefineClass", NMR_AREA_CLASSES},
    {PREFIX, "jvm_define_class", NMR_AREA_CLASSES},
    {PREFIX, "jvm_lookup_define_class", NMR_AREA_CLASSES},
    /* Symbol and string tables. */
    {PREFIX, "SymbolTable", NMR_AREA_SYMBOLS},
    {PREFIX, "StringTable", NMR_AREA_SYMBOLS},
    {PREFIX, "Symbol::", NMR_AREA_SYMBOLS},
    /* Code cache: the code heap, blobs and stubs. */
    {PREFIX, "CodeCache", NMR_AREA_CODE_CACHE},
    {PREFIX, "CodeHeap", NMR_AREA_CODE_CACHE},
    {PREFIX, "CodeBlob", NMR_AREA_CODE_CACHE},
    {PREFIX, "BufferBlob", NMR_AREA_CODE_CACHE},
    {PREFIX, "RuntimeStub", NMR_AREA_CODE_CACHE},
    {PREFIX, "nmethod", NMR_AREA_CODE_CACHE},
    {PREFIX, "AdapterHandlerLibrary", NMR_AREA_CODE_CACHE},
    {PREFIX, "StubRoutines", NMR_AREA_CODE_CACHE},
    {PREFIX, "VtableStubs", NMR_AREA_CODE_CACHE},
    {PREFIX, "OopMapSet", NMR_AREA_CODE_CACHE},
    /* Compilers (JIT) and their profiling data. */
    {PREFIX, "CompileBroker", NMR_AREA_COMPILER},
    {PREFIX, "CompileTask", NMR_AREA_COMPILER},
    {PREFIX, "CompilationPolicy", NMR_AREA_COMPILER},
    {PREFIX, "Compile::", NMR_AREA_COMPILER},
    {PREFIX, "C2Compiler", NMR_AREA_COMPILER},
    {PREFIX, "Compilation::", NMR_AREA_COMPILER},
    {PREFIX, "Compiler::", NMR_AREA_COMPILER},
    {PREFIX, "ciEnv", NMR_AREA_COMPILER},
    {PREFIX, "ciObjectFactory", NMR_AREA_COMPILER},
    {PREFIX, "ciMethod", NMR_AREA_COMPILER},
    {PREFIX, "ciTypeFlow", NMR_AREA_COMPILER},
    {PREFIX, "Parse::", NMR_AREA_COMPILER},
    {PREFIX, "Phase", NMR_AREA_COMPILER},
    {PREFIX, "Matcher::", NMR_AREA_COMPILER},
    {PREFIX, "GraphBuilder", NMR_AREA_COMPILER},
    {PREFIX, "LinearScan", NMR_AREA_COMPILER},
    {PREFIX, "MethodData::", NMR_AREA_COMPILER},
    {PREFIX, "MethodCounters", NMR_AREA_COMPILER},
    {PREFIX, "JVMCI", NMR_AREA_COMPILER},
    /* Threads: their creation, guard pages, handles. */
    {PREFIX, "Thread::Thread", NMR_AREA_THREADS},
    {PREFIX, "Thread::allocate", NMR_AREA_THREADS},
    {PREFIX, "JavaThread::JavaThread", NMR_AREA_THREADS},
    {PREFIX, "JavaThread::allocate", NMR_AREA_THREADS},
    {PREFIX, "os::create_thread", NMR_AREA_THREADS},
    {PREFIX, "JVM_StartThread", NMR_AREA_THREADS},
    {PREFIX, "ThreadsSMRSupport", NMR_AREA_THREADS},
    {PREFIX, "JNIHandleBlock", NMR_AREA_THREADS},
    {PREFIX, "HandleArea", NMR_AREA_THREADS},
    {PREFIX, "StackOverflow", NMR_AREA_THREADS},
    /* JNI and JVMTI environments (agents). */
    {PREFIX, "Jvmti", NMR_AREA_JNI},
    {PREFIX, "jvmti", NMR_AREA_JNI},
    {PREFIX, "JNIHandles", NMR_AREA_JNI},
    /* The JVM's native memory tracking. */
    {PREFIX, "MemTracker", NMR_AREA_NMT},
    {PREFIX, "MallocSiteTable", NMR_AREA_NMT},
    {PREFIX, "MallocTracker", NMR_AREA_NMT},
    {PREFIX, "VirtualMemoryTracker", NMR_AREA_NMT},
    {PREFIX, "NMTPreInit", NMR_AREA_NMT},
    /* Garbage collectors' side structures. */
    {INSIDE, "G1", NMR_AREA_GC},
    {PREFIX, "PS", NMR_AREA_GC},
    {PREFIX, "Parallel", NMR_AREA_GC},
    {PREFIX, "Shenandoah", NMR_AREA_GC},
    {PREFIX, "ZHeap", NMR_AREA_GC},
    {PREFIX, "ZPage", NMR_AREA_GC},
    {PREFIX, "Epsilon", NMR_AREA_GC},
    {PREFIX, "Serial", NMR_AREA_GC},
    {PREFIX, "DefNew", NMR_AREA_GC},
    {PREFIX, "Tenured", NMR_AREA_GC},
    {PREFIX, "CardTable", NMR_AREA_GC},
    {INSIDE, "CollectedHeap", NMR_AREA_GC},
    {PREFIX, "OopStorage", NMR_AREA_GC},
    {PREFIX, "ReferenceProcessor", NMR_AREA_GC},
    {PREFIX, "WorkerThreads", NMR_AREA_GC},
    {PREFIX, "WorkGang", NMR_AREA_GC},
    {PREFIX, "OtherRegionsTable", NMR_AREA_GC},
    {PREFIX, "HeapRegion", NMR_AREA_GC},
    {PREFIX, "PLAB", NMR_AREA_GC},
    {PREFIX, "StringDedup", NMR_AREA_GC},
    {PREFIX, "BarrierSet", NMR_AREA_GC},
    {PREFIX, "ObjectStartArray", NMR_AREA_GC},
};

/* The part of a demangled name before its argument list: "A::f(int)" -> "A::f";
 * a leading return type ("void A::f") is skipped. */
static size_t name_len(const char **fn)
{
    const char *s = *fn, *paren = strchr(s, '('), *sp = strchr(s, ' ');
    if (sp && (!paren || sp < paren)) {
        s = sp + 1;
        paren = strchr(s, '(');
    }
    *fn = s;
    return paren ? (size_t)(paren - s) : strlen(s);
}

enum nmr_jvm_area nmr__owner_jvm_area(const char *function)
{
    const char *name = function;
    size_t n = name_len(&name);
    for (size_t i = 0; i < sizeof(rules) / sizeof(rules[0]); i++) {
        size_t pl = strlen(rules[i].pattern);
        if (rules[i].how == PREFIX) {
            if (pl <= n && strncmp(name, rules[i].pattern, pl) == 0)
                return rules[i].area;
        } else {
            for (size_t k = 0; k + pl <= n; k++)
                if (strncmp(name + k, rules[i].pattern, pl) == 0)
                    return rules[i].area;
        }
    }
    return NMR_AREA_NONE;
}
