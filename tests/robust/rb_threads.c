/*
 * rb_threads.c: many threads, and threads that free each other's blocks.
 *   rb_threads prodcons P C N   P producers make N blocks each and hand them through a
 *                               bounded queue to C consumers, which check and free them;
 *                               every 64th block is leaked by its producer instead
 *   rb_threads storm T W        T short threads, W at a time, each churning and leaking
 *                               one block of a size fixed by its index
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rb_common.h"

#define QCAP 256

static struct {
    pthread_mutex_t lock;
    pthread_cond_t not_empty, not_full;
    unsigned char *items[QCAP];
    int head, count, producers_left;
} q = {.lock = PTHREAD_MUTEX_INITIALIZER,
       .not_empty = PTHREAD_COND_INITIALIZER,
       .not_full = PTHREAD_COND_INITIALIZER};

static int per_producer;
static unsigned long long consumed_total, bad_total;

static size_t block_size(int producer, int i)
{
    return 24 + (size_t)((producer * 7919 + i * 104729) % 3000);
}

static void *producer(void *arg)
{
    int id = (int)(intptr_t)arg;
    for (int i = 0; i < per_producer; i++) {
        if (i % 64 == 63) {
            rb_leak_site(block_size(id, i));
            continue;
        }
        size_t size = block_size(id, i);
        unsigned char *p = malloc(size);
        rb_require(p != NULL, "malloc in a producer");
        memcpy(p, &size, sizeof(size));
        memset(p + sizeof(size), (int)(size & 0xff), size - sizeof(size));
        pthread_mutex_lock(&q.lock);
        while (q.count == QCAP)
            pthread_cond_wait(&q.not_full, &q.lock);
        q.items[(q.head + q.count++) % QCAP] = p;
        pthread_cond_signal(&q.not_empty);
        pthread_mutex_unlock(&q.lock);
    }
    pthread_mutex_lock(&q.lock);
    q.producers_left--;
    pthread_cond_broadcast(&q.not_empty);
    pthread_mutex_unlock(&q.lock);
    return NULL;
}

static void *consumer(void *arg)
{
    (void)arg;
    unsigned long long consumed = 0, bad = 0;
    for (;;) {
        pthread_mutex_lock(&q.lock);
        while (q.count == 0 && q.producers_left > 0)
            pthread_cond_wait(&q.not_empty, &q.lock);
        if (q.count == 0) {
            pthread_mutex_unlock(&q.lock);
            break;
        }
        unsigned char *p = q.items[q.head];
        q.head = (q.head + 1) % QCAP;
        q.count--;
        pthread_cond_signal(&q.not_full);
        pthread_mutex_unlock(&q.lock);
        size_t size;
        memcpy(&size, p, sizeof(size));
        bad += p[size - 1] != (unsigned char)(size & 0xff);
        free(p); /* a block another thread allocated */
        consumed++;
    }
    pthread_mutex_lock(&q.lock);
    consumed_total += consumed;
    bad_total += bad;
    pthread_mutex_unlock(&q.lock);
    return NULL;
}

static int prodcons(int np, int nc, int n)
{
    pthread_t t[64];
    if (np + nc > 64)
        return 2;
    per_producer = n;
    q.producers_left = np;
    for (int i = 0; i < nc; i++)
        rb_require(pthread_create(&t[i], NULL, consumer, NULL) == 0, "create a consumer");
    for (int i = 0; i < np; i++)
        rb_require(pthread_create(&t[nc + i], NULL, producer, (void *)(intptr_t)i) == 0,
                   "create a producer");
    for (int i = 0; i < np + nc; i++)
        pthread_join(t[i], NULL);
    printf("%d producers, %d consumers: %llu blocks passed, %llu damaged\n", np, nc, consumed_total,
           bad_total);
    printf("leaked %llu\n", (unsigned long long)rb_leaked_bytes());
    return bad_total ? 1 : 0;
}

static void *short_thread(void *arg)
{
    int id = (int)(intptr_t)arg;
    rb_churn(50, (unsigned)id);
    rb_leak_site(100 + (size_t)(id % 13) * 8);
    return NULL;
}

static int storm(int total, int wave)
{
    pthread_t t[256];
    if (wave > 256)
        wave = 256;
    for (int done = 0; done < total; done += wave) {
        int n = total - done < wave ? total - done : wave;
        for (int i = 0; i < n; i++)
            rb_require(pthread_create(&t[i], NULL, short_thread, (void *)(intptr_t)(done + i)) == 0,
                       "create a short thread");
        for (int i = 0; i < n; i++)
            pthread_join(t[i], NULL);
    }
    printf("%d threads, %d at a time\n", total, wave);
    printf("leaked %llu\n", (unsigned long long)rb_leaked_bytes());
    return 0;
}

int main(int argc, char **argv)
{
    const char *mode = argc > 1 ? argv[1] : "";
    if (strcmp(mode, "prodcons") == 0 && argc > 4)
        return prodcons(atoi(argv[2]), atoi(argv[3]), atoi(argv[4]));
    if (strcmp(mode, "storm") == 0 && argc > 3)
        return storm(atoi(argv[2]), atoi(argv[3]));
    fprintf(stderr, "usage: rb_threads prodcons P C N | storm T W\n");
    return 2;
}
