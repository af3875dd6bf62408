/*
 * walk_jni.c: the native half of NativeWalk (libnmtt_walk_jni.so), for
 * WalkMix's jni and upcall phases (test_walk.py). NativeWalk.alloc mallocs
 * in a JNI method, the thread in native state; NativeWalk.upcall(n, size)
 * n times mallocs too, then calls back into Java (NativeWalk.fromNative),
 * which calls alloc again: a Java stack with an entry frame (JavaCalls)
 * between two Java parts. Its call i allocates size bytes when i is a
 * multiple of 16, else 32, as WalkMix does.
 */
#include <jni.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* The block's address leaves through it, so the compiler cannot drop the
 * malloc and free as a pair. */
static void *volatile nmtt_walk_last;

__attribute__((noinline, used)) jlong nmtt_walk_alloc(jint size)
{
    unsigned char *p = malloc(size > 0 ? (size_t)size : 1);
    jlong sum = 0;
    if (p == NULL)
        return 0;
    memset(p, 7, size > 0 ? (size_t)size : 1);
    for (jint i = 0; i < size; i += 512)
        sum += p[i];
    nmtt_walk_last = p;
    free(p);
    return sum;
}

JNIEXPORT jlong JNICALL Java_NativeWalk_alloc(JNIEnv *env, jclass cls, jint size)
{
    (void)env, (void)cls;
    return nmtt_walk_alloc(size);
}

JNIEXPORT jlong JNICALL Java_NativeWalk_upcall(JNIEnv *env, jclass cls, jint n, jint size)
{
    jmethodID back = (*env)->GetStaticMethodID(env, cls, "fromNative", "(II)J");
    jlong x = 0;
    if (back == NULL)
        return 0; /* NoSuchMethodError is pending: the caller sees it */
    for (jint i = 0; i < n; i++) {
        jint s = (i & 15) == 0 ? size : 32;
        x += nmtt_walk_alloc(s);
        x += (*env)->CallStaticLongMethod(env, cls, back, i, s);
        if ((*env)->ExceptionCheck(env))
            return 0;
    }
    return x;
}
