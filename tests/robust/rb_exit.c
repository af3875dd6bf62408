/*
 * rb_exit.c: the ways a process ends, under the recorder.
 *   rb_exit pthread_exit         main prints, leaks and calls pthread_exit(): exit status 0
 *   rb_exit pthread_exit_worker  main starts a worker and calls pthread_exit(); the worker
 *                                joins main, then allocates and prints (after main is gone)
 *   rb_exit exit_threads         exit(3) while four threads malloc and free without pause
 *   rb_exit abort                prints, writes a file, leaks, then abort()
 *   rb_exit segv                 the same, then a write through a null pointer
 * Every line it prints is fixed: the driver compares them with an unprofiled run.
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rb_common.h"

static pthread_t main_thread;
static _Atomic int started[4];

static void *worker_after_main(void *arg)
{
    (void)arg;
    /* Joining the main thread waits until it has called pthread_exit(). */
    rb_require(pthread_join(main_thread, NULL) == 0, "join the main thread");
    for (int i = 0; i < 64; i++)
        rb_leak_site(4096);
    printf("worker: churn %llu, after main\n", (unsigned long long)rb_churn(20000, 7));
    printf("leaked %llu\n", (unsigned long long)rb_leaked_bytes());
    return NULL;
}

static void *churn_forever(void *arg)
{
    int id = (int)(intptr_t)arg;
    for (unsigned i = 0;; i++) {
        rb_churn(16, i);
        if (i == 1000)
            atomic_store(&started[id], 1);
    }
    return NULL;
}

static void leave_traces(void)
{
    for (int i = 0; i < 256; i++)
        rb_leak_site(1024 + (size_t)i);
    rb_require(rb_write_file("before-death.dat", 5000, 3) == 0, "write before-death.dat");
    printf("flushed: churn %llu\n", (unsigned long long)rb_churn(5000, 11));
    fflush(stdout);
    printf("buffered line that dies with the process\n");
    fprintf(stderr, "about to die\n");
}

int main(int argc, char **argv)
{
    const char *mode = argc > 1 ? argv[1] : "";
    main_thread = pthread_self();
    if (strcmp(mode, "pthread_exit") == 0) {
        for (int i = 0; i < 128; i++)
            rb_leak_site(2048);
        printf("main: churn %llu\n", (unsigned long long)rb_churn(20000, 5));
        printf("leaked %llu\n", (unsigned long long)rb_leaked_bytes());
        pthread_exit(NULL);
    }
    if (strcmp(mode, "pthread_exit_worker") == 0) {
        pthread_t t;
        rb_require(pthread_create(&t, NULL, worker_after_main, NULL) == 0, "pthread_create");
        printf("main: leaving first\n");
        pthread_exit(NULL);
    }
    if (strcmp(mode, "exit_threads") == 0) {
        pthread_t t[4];
        for (int i = 0; i < 4; i++)
            rb_require(pthread_create(&t[i], NULL, churn_forever, (void *)(intptr_t)i) == 0,
                       "pthread_create");
        /* Exit only once every thread is busy allocating. */
        for (int i = 0; i < 4; i++)
            while (!atomic_load(&started[i]))
                rb_churn(1, 0);
        printf("exiting with threads running\n");
        exit(3);
    }
    if (strcmp(mode, "abort") == 0) {
        leave_traces();
        abort();
    }
    if (strcmp(mode, "segv") == 0) {
        leave_traces();
        volatile int *volatile null = NULL; /* volatile: the store stays a real one */
        *null = 1;
        return 0;
    }
    fprintf(stderr, "usage: rb_exit pthread_exit|pthread_exit_worker|exit_threads|abort|segv\n");
    return 2;
}
