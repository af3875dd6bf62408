/*
 * nmt_bench_jni.c: the native half of bench/java/NativeChurn.java, playing a
 * JNI library that allocates: blocks handed to Java and freed later
 * (nalloc/nfree), and short-lived temporaries inside one native call
 * (nwork), as a compression or crypto library does. Also the process's CPU
 * clock to the nanosecond (the JDK's own getProcessCpuTime counts 10 ms ticks).
 */
#include <jni.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

JNIEXPORT jlong JNICALL Java_NativeChurn_nalloc(JNIEnv *env, jclass cls, jint size)
{
    (void)env;
    (void)cls;
    unsigned char *p = malloc(size > 0 ? (size_t)size : 1);
    if (p != NULL)
        memset(p, 0, size < 64 ? (size_t)(size > 0 ? size : 1) : 64);
    return (jlong)(uintptr_t)p;
}

JNIEXPORT void JNICALL Java_NativeChurn_nfree(JNIEnv *env, jclass cls, jlong p)
{
    (void)env;
    (void)cls;
    free((void *)(uintptr_t)p);
}

/* n temporaries of 16..527 bytes, each written and freed before the next;
 * returns a checksum so the work cannot be dropped. */
JNIEXPORT jlong JNICALL Java_NativeChurn_nwork(JNIEnv *env, jclass cls, jint n, jint seed)
{
    (void)env;
    (void)cls;
    uint32_t x = (uint32_t)seed | 1u;
    jlong sum = 0;
    for (jint i = 0; i < n; i++) {
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        size_t size = 16 + (x & 511);
        unsigned char *p = malloc(size);
        if (p == NULL)
            return -1;
        p[0] = (unsigned char)x;
        p[size - 1] = (unsigned char)i;
        sum += p[0] + p[size - 1];
        free(p);
    }
    return sum;
}

/* CPU time of the whole process (every thread), in nanoseconds. */
JNIEXPORT jlong JNICALL Java_NativeChurn_cpuNanos(JNIEnv *env, jclass cls)
{
    (void)env;
    (void)cls;
    struct timespec ts;
    if (clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts) != 0)
        return -1;
    return (jlong)ts.tv_sec * 1000000000 + ts.tv_nsec;
}
