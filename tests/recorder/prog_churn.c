/*
 * prog_churn.c: four threads that churn, leak known amounts from known sites
 * and free each other's blocks, for the recorder's exact-mode ground truth.
 *
 * Every thread churns (malloc/free of sizes 16..4096 over a window of live
 * blocks, all freed in the end) and leaks from three sites of its own: plain
 * malloc, calloc, and a block grown by realloc. Threads 0 and 1 also hand
 * blocks over a queue to threads 2 and 3, which free them, except every
 * block whose size is a multiple of 8: those are kept, so the allocating
 * site's live figures come from blocks allocated on one thread and freed
 * (or not) on another. Sizes come from per-thread generators: every run
 * leaks the same. Prints, per leaking site, the bytes and objects still
 * allocated at exit, as JSON.
 *
 *   prog_churn [ops]   churn operations per thread (default 100000)
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define THREADS 4
#define WINDOW  64
#define QCAP    256

struct truth {
    uint64_t bytes, objects;
};

struct worker {
    int id;
    long ops;
    uint32_t lcg;
    struct truth own, zeroed, grown, handoff;
    void **kept; /* leaked blocks stay reachable; allocated by main() */
    size_t nkept, capkept;
};

static struct {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    void *item[QCAP];
    size_t head, n;
} q = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, {0}, 0, 0};

static pthread_barrier_t start;

static size_t rnd(struct worker *w, size_t lo, size_t hi)
{
    w->lcg = w->lcg * 1103515245u + 12345u;
    return lo + (w->lcg >> 8) % (hi - lo + 1);
}

static void keep(struct worker *w, void *p)
{
    if (w->nkept == w->capkept)
        abort(); /* sized by main() for every block a worker can keep */
    w->kept[w->nkept++] = p;
}

static void put(void *p)
{
    pthread_mutex_lock(&q.mu);
    while (q.n == QCAP)
        pthread_cond_wait(&q.cv, &q.mu);
    q.item[(q.head + q.n++) % QCAP] = p;
    pthread_cond_broadcast(&q.cv);
    pthread_mutex_unlock(&q.mu);
}

static void *take(void)
{
    pthread_mutex_lock(&q.mu);
    while (q.n == 0)
        pthread_cond_wait(&q.cv, &q.mu);
    void *p = q.item[q.head];
    q.head = (q.head + 1) % QCAP;
    q.n--;
    pthread_cond_broadcast(&q.cv);
    pthread_mutex_unlock(&q.mu);
    return p;
}

__attribute__((noinline)) void *churn_site(size_t n)
{
    char *p = malloc(n);
    p[0] = 1;
    return p;
}

__attribute__((noinline)) void own_leak_site(struct worker *w)
{
    size_t n = rnd(w, 16, 4096);
    char *p = malloc(n);
    p[0] = 1;
    keep(w, p);
    w->own.bytes += n;
    w->own.objects++;
}

__attribute__((noinline)) void calloc_leak_site(struct worker *w)
{
    size_t n = rnd(w, 1, 64);
    char *p = calloc(n, 32);
    keep(w, p);
    w->zeroed.bytes += n * 32;
    w->zeroed.objects++;
}

__attribute__((noinline)) void grow_leak_site(struct worker *w)
{
    size_t n = rnd(w, 16, 64);
    char *p = malloc(n);
    for (int i = 0; i < 4; i++) {
        n += rnd(w, 16, 1024);
        p = realloc(p, n);
    }
    keep(w, p);
    w->grown.bytes += n;
    w->grown.objects++;
}

/* The producer's side: the block's size travels in its first word. */
__attribute__((noinline)) void handoff_site(struct worker *w)
{
    size_t n = rnd(w, 16, 4096);
    size_t *p = malloc(n);
    p[0] = n;
    put(p);
}

/* The consumer's side: frees blocks another thread allocated, keeps some. */
static void consume(struct worker *w, void *p)
{
    size_t n = *(size_t *)p;
    if (n % 8 == 0) {
        keep(w, p);
        w->handoff.bytes += n;
        w->handoff.objects++;
    } else {
        free(p);
    }
}

static void churn(struct worker *w, void **win, long ops)
{
    for (long i = 0; i < ops; i++) {
        size_t k = rnd(w, 0, WINDOW - 1);
        if (win[k] != NULL) {
            free(win[k]);
            win[k] = NULL;
        } else {
            win[k] = churn_site(rnd(w, 16, 4096));
        }
    }
}

static void *run(void *arg)
{
    struct worker *w = arg;
    void *win[WINDOW] = {0};
    int producer = w->id < 2;
    pthread_barrier_wait(&start);
    for (long done = 0; done < w->ops; done += 100) {
        churn(w, win, 100);
        if (producer) {
            handoff_site(w);
        } else {
            /* Two producers, two consumers: one block each per step. */
            consume(w, take());
        }
        if (done % 2000 == 0) {
            own_leak_site(w);
            calloc_leak_site(w);
            grow_leak_site(w);
        }
    }
    for (size_t k = 0; k < WINDOW; k++)
        free(win[k]);
    return NULL;
}

static void site(const char *name, const struct truth *t, int last)
{
    printf("\"%s\": {\"bytes\": %llu, \"objects\": %llu}%s", name, (unsigned long long)t->bytes,
           (unsigned long long)t->objects, last ? "" : ", ");
}

int main(int argc, char **argv)
{
    long ops = argc > 1 ? atol(argv[1]) : 100000;
    static struct worker w[THREADS];
    pthread_t t[THREADS];
    pthread_barrier_init(&start, NULL, THREADS);
    for (int i = 0; i < THREADS; i++) {
        w[i].id = i;
        w[i].ops = ops;
        w[i].lcg = 7919u * (uint32_t)(i + 1);
        /* Allocated here, not in a leaking site's stack. */
        w[i].capkept = (size_t)(ops / 100 + 3 * (ops / 2000 + 2) + 16);
        w[i].kept = malloc(w[i].capkept * sizeof(void *));
        if (pthread_create(&t[i], NULL, run, &w[i]) != 0) {
            fprintf(stderr, "prog_churn: cannot create a thread\n");
            return 1;
        }
    }
    struct truth own = {0}, zeroed = {0}, grown = {0}, handoff = {0};
    for (int i = 0; i < THREADS; i++) {
        pthread_join(t[i], NULL);
        own.bytes += w[i].own.bytes, own.objects += w[i].own.objects;
        zeroed.bytes += w[i].zeroed.bytes, zeroed.objects += w[i].zeroed.objects;
        grown.bytes += w[i].grown.bytes, grown.objects += w[i].grown.objects;
        handoff.bytes += w[i].handoff.bytes, handoff.objects += w[i].handoff.objects;
    }
    printf("{");
    site("own_leak_site", &own, 0);
    site("calloc_leak_site", &zeroed, 0);
    site("grow_leak_site", &grown, 0);
    site("handoff_site", &handoff, 1);
    printf("}\n");
    return 0;
}
