/*
 * nmex_jni.c: the native half of the Java examples (libnmexjni.so).
 *
 * It plays a third-party JNI library: one function leaks every block it hands
 * out (nmex_session_open), one allocates and frees a scratch buffer on every
 * call (nmex_scratch_fill, never live at exit), and one keeps a bounded cache
 * that evicts its oldest entry (nmex_cache_entry_new: grows, then levels off).
 * The allocating functions are noinline and global so that their names survive
 * in the symbol table: they are the allocation sites a report must name.
 */
#include <jni.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <pthread.h>

#define NMEX_NOINLINE __attribute__((noinline, used))

/* Leaked blocks are chained through their first word, so the compiler cannot
 * prove the allocation dead and drop it; nothing ever walks or frees the chain. */
struct nmex_block {
    struct nmex_block *next;
};

static pthread_mutex_t nmex_lock = PTHREAD_MUTEX_INITIALIZER;
static struct nmex_block *nmex_leaked;
static long long nmex_leaked_bytes;

NMEX_NOINLINE struct nmex_block *nmex_session_open(size_t size)
{
    struct nmex_block *b = malloc(size < sizeof(*b) ? sizeof(*b) : size);
    if (b == NULL)
        return NULL;
    memset(b, 0x5a, size < sizeof(*b) ? sizeof(*b) : size);
    return b;
}

NMEX_NOINLINE unsigned nmex_scratch_fill(size_t size)
{
    unsigned char *p = malloc(size);
    unsigned sum = 0;
    if (p == NULL)
        return 0;
    memset(p, 1, size);
    for (size_t i = 0; i < size; i += 64)
        sum += p[i];
    free(p);
    return sum;
}

/* Returns the bytes this call leaked (0 on allocation failure). */
JNIEXPORT jlong JNICALL Java_NativeLib_leak(JNIEnv *env, jclass cls, jint count, jint size)
{
    long long bytes = 0;
    (void)env;
    (void)cls;
    for (jint i = 0; i < count; i++) {
        struct nmex_block *b = nmex_session_open((size_t)size);
        if (b == NULL)
            break;
        nmex_scratch_fill((size_t)size * 2);
        pthread_mutex_lock(&nmex_lock);
        b->next = nmex_leaked;
        nmex_leaked = b;
        nmex_leaked_bytes += size;
        pthread_mutex_unlock(&nmex_lock);
        bytes += size;
    }
    return (jlong)bytes;
}

JNIEXPORT jlong JNICALL Java_NativeLib_leakedBytes(JNIEnv *env, jclass cls)
{
    long long v;
    (void)env;
    (void)cls;
    pthread_mutex_lock(&nmex_lock);
    v = nmex_leaked_bytes;
    pthread_mutex_unlock(&nmex_lock);
    return (jlong)v;
}

/* The bounded cache: a ring of `capacity` slots; a put into a full ring frees
 * the oldest entry first, so live bytes stop at capacity * entry size. */
static void **nmex_cache;
static size_t nmex_cache_cap, nmex_cache_next, nmex_cache_used;
static long long nmex_cache_bytes;
static size_t *nmex_cache_size;

NMEX_NOINLINE void *nmex_cache_entry_new(size_t size)
{
    void *p = malloc(size);
    if (p != NULL)
        memset(p, 0x33, size);
    return p;
}

JNIEXPORT jboolean JNICALL Java_NativeLib_cacheInit(JNIEnv *env, jclass cls, jint capacity)
{
    (void)env;
    (void)cls;
    pthread_mutex_lock(&nmex_lock);
    if (nmex_cache == NULL && capacity > 0) {
        nmex_cache = calloc((size_t)capacity, sizeof(void *));
        nmex_cache_size = calloc((size_t)capacity, sizeof(size_t));
        if (nmex_cache != NULL && nmex_cache_size != NULL)
            nmex_cache_cap = (size_t)capacity;
    }
    pthread_mutex_unlock(&nmex_lock);
    return nmex_cache_cap > 0;
}

/* Returns the cache's live bytes after the put. */
JNIEXPORT jlong JNICALL Java_NativeLib_cachePut(JNIEnv *env, jclass cls, jint size)
{
    void *p = nmex_cache_entry_new((size_t)size);
    long long live;
    (void)env;
    (void)cls;
    pthread_mutex_lock(&nmex_lock);
    if (p != NULL && nmex_cache_cap > 0) {
        size_t slot = nmex_cache_next;
        if (nmex_cache[slot] != NULL) {
            free(nmex_cache[slot]);
            nmex_cache_bytes -= (long long)nmex_cache_size[slot];
            nmex_cache_used--;
        }
        nmex_cache[slot] = p;
        nmex_cache_size[slot] = (size_t)size;
        nmex_cache_bytes += size;
        nmex_cache_used++;
        nmex_cache_next = (slot + 1) % nmex_cache_cap;
        p = NULL;
    }
    live = nmex_cache_bytes;
    pthread_mutex_unlock(&nmex_lock);
    free(p); /* only when the cache was never initialised */
    return (jlong)live;
}
