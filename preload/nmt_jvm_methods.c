/*
 * nmt_jvm_methods.c: Java method serials and their names (JMETHOD records).
 *
 * A jmethodID is only meaningful inside the recorded process, so each one
 * seen in a stack or a code event gets a small serial (docs/FORMAT.md §5) and
 * the bridge thread writes its class, name, signature, source file and line
 * table into the profile. The table id -> serial is shared by the writer
 * thread (nmt_jvm_translate) and JVMTI callbacks under one short mutex that
 * is never held across a JVM call. Naming happens on the bridge thread, soon
 * after the method was first seen (at a detach, what its last rounds found
 * is named on the detaching thread: nmt_jvm_name_now, nmt_jvm.c; at VMDeath
 * on the thread that posts it): the method id is never dereferenced by us,
 * only handed to JVMTI, which answers JVMTI_ERROR_INVALID_METHODID once the
 * class was unloaded (HotSpot clears, and never frees, the ids of unloaded
 * classes). Once GetMethodDeclaringClass succeeds, the local reference to the
 * class keeps it loaded until the remaining calls are done.
 */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "nmt_enc.h"
#include "nmt_format.h"
#include "nmt_jvm_internal.h"

struct slot {
    uint64_t id; /* 0 = empty */
    uint32_t serial;
};
struct pending {
    uint64_t id;
    uint32_t serial;
};

static pthread_mutex_t m_mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t m_cv = PTHREAD_COND_INITIALIZER;
static struct slot *tab;
static size_t tab_cap, tab_used;
static uint32_t next_serial;
static struct pending *pend;
static size_t pend_len, pend_cap;
static int m_stop;
static int m_kick; /* nmt__jvm_methods_kick: wake up once */
/* Batches taken off the queue and still being named (nmt__jvm_methods_
 * resolve on any thread); m_idle_cv is signalled when one is done. */
static int m_naming;
static pthread_cond_t m_idle_cv = PTHREAD_COND_INITIALIZER;

static size_t hash_id(uint64_t id)
{
    return (size_t)((id >> 3) * 0x9e3779b97f4a7c15ull);
}

/* Under m_mu. 0 or -ENOMEM. */
static int tab_grow(void)
{
    size_t cap = tab_cap ? tab_cap * 2 : 4096;
    struct slot *t = calloc(cap, sizeof(*t));
    if (!t)
        return -ENOMEM;
    for (size_t i = 0; i < tab_cap; i++) {
        if (!tab[i].id)
            continue;
        size_t j = hash_id(tab[i].id) & (cap - 1);
        while (t[j].id)
            j = (j + 1) & (cap - 1);
        t[j] = tab[i];
    }
    free(tab);
    tab = t;
    tab_cap = cap;
    return 0;
}

/* Under m_mu: the serial of id (not 0), a new one queued for naming, or 0
 * on out-of-memory. */
static uint32_t serial_locked(uint64_t id)
{
    if ((tab_used + 1) * 2 > tab_cap && tab_grow() != 0)
        return 0;
    size_t j = hash_id(id) & (tab_cap - 1);
    while (tab[j].id && tab[j].id != id)
        j = (j + 1) & (tab_cap - 1);
    if (tab[j].id)
        return tab[j].serial;
    if (pend_len == pend_cap) {
        size_t cap = pend_cap ? pend_cap * 2 : 256;
        struct pending *p = realloc(pend, cap * sizeof(*p));
        if (!p)
            return 0;
        pend = p;
        pend_cap = cap;
    }
    uint32_t serial = ++next_serial;
    tab[j].id = id;
    tab[j].serial = serial;
    tab_used++;
    pend[pend_len++] = (struct pending){id, serial};
    nmt__jvm_count(NMT_JST_METHODS, 1);
    pthread_cond_signal(&m_cv);
    return serial;
}

void nmt__jvm_methods_lock(void)
{
    pthread_mutex_lock(&m_mu);
}

void nmt__jvm_methods_unlock(void)
{
    pthread_mutex_unlock(&m_mu);
}

uint32_t nmt__jvm_method_serial_locked(jmethodID method)
{
    uint64_t id = (uint64_t)(uintptr_t)method;
    if (!id)
        return 0;
    uint32_t serial = serial_locked(id);
    if (!serial)
        nmt__jvm_count(NMT_JST_INTERNAL, 1);
    return serial;
}

uint32_t nmt__jvm_method_serial(jmethodID method)
{
    pthread_mutex_lock(&m_mu);
    uint32_t serial = nmt__jvm_method_serial_locked(method);
    pthread_mutex_unlock(&m_mu);
    return serial;
}

/* One lock for the whole stack: a deep Java stack has a hundred frames. */
uint32_t nmt_jvm_translate(uint64_t *frames, uint32_t n)
{
    uint32_t out = 0;
    int locked = 0;
    for (uint32_t i = 0; i < n; i++) {
        uint64_t w = frames[i];
        if (!(w >> 63)) {
            frames[out++] = w;
            continue;
        }
        uint64_t id = (w & NMT_JRAW_ID_MASK) << 3;
        uint32_t bci = (uint32_t)((w >> NMT_JRAW_BCI_SHIFT) & 0xffff);
        unsigned type = (unsigned)((w >> NMT_FRAME_JTYPE_SHIFT) & NMT_FRAME_JTYPE_MASK);
        if (!locked)
            pthread_mutex_lock(&m_mu);
        locked = 1;
        uint32_t serial = nmt__jvm_method_serial_locked((jmethodID)(uintptr_t)id);
        if (!serial)
            continue; /* out of memory: counted, the frame is dropped */
        frames[out++] = nmt_frame_java(
            serial, bci == NMT_JRAW_BCI_NONE ? (uint32_t)NMT_FRAME_BCI_NONE : bci, type);
    }
    if (locked)
        pthread_mutex_unlock(&m_mu);
    return out;
}

/* The CLOCK_REALTIME instant ms from now (the conditions' clock). */
static struct timespec deadline_in(int ms)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    ts.tv_nsec += (long)ms * 1000000L;
    ts.tv_sec += ts.tv_nsec / 1000000000L;
    ts.tv_nsec %= 1000000000L;
    return ts;
}

int nmt__jvm_methods_wait(int ms)
{
    struct timespec ts = deadline_in(ms);
    pthread_mutex_lock(&m_mu);
    if (!m_stop && !pend_len && !m_kick)
        pthread_cond_timedwait(&m_cv, &m_mu, &ts);
    m_kick = 0;
    int stop = m_stop;
    pthread_mutex_unlock(&m_mu);
    return stop;
}

void nmt__jvm_methods_kick(void)
{
    pthread_mutex_lock(&m_mu);
    m_kick = 1;
    pthread_cond_signal(&m_cv);
    pthread_mutex_unlock(&m_mu);
}

void nmt__jvm_methods_stop(void)
{
    pthread_mutex_lock(&m_mu);
    m_stop = 1;
    pthread_cond_signal(&m_cv);
    pthread_mutex_unlock(&m_mu);
}

void nmt__jvm_methods_forget(void)
{
    /* Serials keep counting up: a name the bridge thread is writing for an
     * old serial cannot be mistaken for a new one. */
    pthread_mutex_lock(&m_mu);
    if (tab)
        memset(tab, 0, tab_cap * sizeof(*tab));
    tab_used = 0;
    pend_len = 0;
    pthread_mutex_unlock(&m_mu);
}

void nmt__jvm_methods_after_fork(void)
{
    /* Serials stay (they are the parent's), the naming queue goes: no thread
     * will name anything in the child. */
    pthread_mutex_t fresh = PTHREAD_MUTEX_INITIALIZER;
    pthread_cond_t fresh_cv = PTHREAD_COND_INITIALIZER;
    m_mu = fresh;
    m_cv = fresh_cv;
    m_idle_cv = fresh_cv;
    m_naming = 0;
    pend = NULL;
    pend_len = pend_cap = 0;
    m_stop = 1;
}

/* Encodes and queues the JMETHOD record of one method (docs/FORMAT.md §5). */
static void name_method(jvmtiEnv *ti, JNIEnv *jni, uint64_t id, uint32_t serial)
{
    jmethodID m = (jmethodID)(uintptr_t)id;
    jclass cls = NULL;
    char *cname = NULL, *name = NULL, *sig = NULL, *src = NULL;
    jint mods = 0, nlines = 0;
    jvmtiLineNumberEntry *lines = NULL;

    jvmtiError e = (*ti)->GetMethodDeclaringClass(ti, m, &cls);
    if (e == JVMTI_ERROR_NONE)
        e = (*ti)->GetMethodName(ti, m, &name, &sig, NULL);
    if (e == JVMTI_ERROR_NONE)
        e = (*ti)->GetClassSignature(ti, cls, &cname, NULL);
    if (e == JVMTI_ERROR_NONE) {
        /* Optional facts: absent for native, abstract or synthetic code. */
        if ((*ti)->GetMethodModifiers(ti, m, &mods) != JVMTI_ERROR_NONE)
            mods = 0;
        if ((*ti)->GetSourceFileName(ti, cls, &src) != JVMTI_ERROR_NONE)
            src = NULL;
        if ((*ti)->GetLineNumberTable(ti, m, &nlines, &lines) != JVMTI_ERROR_NONE) {
            lines = NULL;
            nlines = 0;
        }
    }
    struct nmt_enc b;
    nmt_enc_init(&b, realloc);
    nmt_enc_u32(&b, serial);
    nmt_enc_u32(&b, (uint32_t)e);
    nmt_enc_u64(&b, id);
    nmt_enc_u32(&b, (uint32_t)mods);
    nmt_enc_cstr(&b, e == JVMTI_ERROR_NONE ? cname : NULL);
    nmt_enc_cstr(&b, e == JVMTI_ERROR_NONE ? name : NULL);
    nmt_enc_cstr(&b, e == JVMTI_ERROR_NONE ? sig : NULL);
    nmt_enc_cstr(&b, e == JVMTI_ERROR_NONE ? src : NULL);
    nmt_enc_u32(&b, (uint32_t)nlines);
    for (jint i = 0; i < nlines; i++) {
        nmt_enc_u32(&b, (uint32_t)lines[i].start_location);
        nmt_enc_u32(&b, (uint32_t)lines[i].line_number);
    }
    if (b.failed)
        nmt__jvm_count(NMT_JST_RECORDS_LOST, 1);
    else if (nmt__jvm_queue_push(NMT_REC_JMETHOD, b.data, (uint32_t)b.len) == 0)
        nmt__jvm_count(e == JVMTI_ERROR_NONE ? NMT_JST_NAMED : NMT_JST_UNNAMED, 1);
    free(b.data);
    (*ti)->Deallocate(ti, (unsigned char *)cname);
    (*ti)->Deallocate(ti, (unsigned char *)name);
    (*ti)->Deallocate(ti, (unsigned char *)sig);
    (*ti)->Deallocate(ti, (unsigned char *)src);
    (*ti)->Deallocate(ti, (unsigned char *)lines);
    if (cls)
        (*jni)->DeleteLocalRef(jni, cls);
}

void nmt__jvm_methods_resolve(jvmtiEnv *ti, JNIEnv *jni)
{
    pthread_mutex_lock(&m_mu);
    struct pending *work = pend;
    size_t n = pend_len;
    pend = NULL;
    pend_len = pend_cap = 0;
    m_naming++;
    pthread_mutex_unlock(&m_mu);
    for (size_t i = 0; i < n; i++)
        name_method(ti, jni, work[i].id, work[i].serial);
    free(work);
    pthread_mutex_lock(&m_mu);
    m_naming--;
    pthread_cond_broadcast(&m_idle_cv);
    pthread_mutex_unlock(&m_mu);
}

int nmt__jvm_methods_settle(int ms)
{
    struct timespec ts = deadline_in(ms);
    pthread_mutex_lock(&m_mu);
    while (m_naming > 0 && pthread_cond_timedwait(&m_idle_cv, &m_mu, &ts) == 0)
        ;
    int settled = m_naming == 0;
    pthread_mutex_unlock(&m_mu);
    return settled;
}
