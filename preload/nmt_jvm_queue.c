/*
 * nmt_jvm_queue.c: the JVM bridge's records on their way to the profile.
 *
 * JMETHOD and JCODE records are encoded on the bridge thread and in JVMTI
 * callbacks (JVM threads), and written by the recorder's writer thread in
 * nmt_jvm_flush. They meet in a mutex-protected list: no application thread
 * on the sampled path ever takes this lock, and no holder of it calls into the
 * JVM, so a JVM that stops the world cannot make the writer wait. The list is
 * bounded in bytes so a writer that cannot keep up (or a full disk) loses
 * records (counted) instead of growing without limit.
 */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "nmt_jvm_internal.h"

#define QUEUE_MAX_BYTES (64u << 20)

struct qrec {
    struct qrec *next;
    uint16_t type;
    uint32_t len;
    uint8_t data[];
};

static pthread_mutex_t q_mu = PTHREAD_MUTEX_INITIALIZER;
static struct qrec *q_head, **q_tail = &q_head;
/* Written under q_mu; atomic so nmt_jvm_pending_bytes reads it without the
 * lock (the writer asks at every wake-up). */
static _Atomic size_t q_bytes;

int nmt__jvm_queue_push(uint16_t type, const void *payload, uint32_t len)
{
    struct qrec *r = malloc(sizeof(*r) + len);
    if (!r) {
        nmt__jvm_count(NMT_JST_RECORDS_LOST, 1);
        return -ENOMEM;
    }
    r->next = NULL;
    r->type = type;
    r->len = len;
    memcpy(r->data, payload, len);
    pthread_mutex_lock(&q_mu);
    if (q_bytes + len > QUEUE_MAX_BYTES) {
        pthread_mutex_unlock(&q_mu);
        free(r);
        nmt__jvm_count(NMT_JST_RECORDS_LOST, 1);
        return -ENOSPC;
    }
    *q_tail = r;
    q_tail = &r->next;
    size_t before = q_bytes;
    q_bytes += len;
    pthread_mutex_unlock(&q_mu);
    /* The writer sleeps between snapshots: past the mark it writes the
     * queue out before the bound above has to drop records. */
    if (before < NMT_JVM_FLUSH_BYTES && before + len >= NMT_JVM_FLUSH_BYTES &&
        nmt__jvm_wake_writer != NULL)
        nmt__jvm_wake_writer();
    return 0;
}

size_t nmt_jvm_pending_bytes(void)
{
    return atomic_load_explicit(&q_bytes, memory_order_relaxed);
}

void nmt_jvm_flush(nmt_emit_fn emit, void *ctx)
{
    pthread_mutex_lock(&q_mu);
    struct qrec *r = q_head;
    q_head = NULL;
    q_tail = &q_head;
    q_bytes = 0;
    pthread_mutex_unlock(&q_mu);
    /* Emitted in queue order: JCODE records keep the order of the events. */
    while (r) {
        struct qrec *next = r->next;
        if (emit(ctx, r->type, r->data, r->len) != 0)
            nmt__jvm_count(NMT_JST_RECORDS_LOST, 1);
        free(r);
        r = next;
    }
}

void nmt__jvm_queue_after_fork(void)
{
    /* The parent's thread may have held the lock: a fresh one, and the
     * records (for the parent's file) are abandoned, not freed. */
    pthread_mutex_t fresh = PTHREAD_MUTEX_INITIALIZER;
    q_mu = fresh;
    q_head = NULL;
    q_tail = &q_head;
    q_bytes = 0;
}
