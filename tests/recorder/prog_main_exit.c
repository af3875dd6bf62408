/*
 * prog_main_exit.c: main() ends with pthread_exit, for the recorder's
 * process life-cycle tests. Unprofiled, glibc ends the process with exit(0)
 * when the last thread leaves: atexit handlers run and buffered stdout is
 * flushed. Under the recorder the outcome must be the same.
 *
 *   prog_main_exit alone     no other thread
 *   prog_main_exit worker    a worker allocates, prints and returns after main left
 *   prog_main_exit quiet     a worker that never allocates (so the recorder
 *                            never saw it) outlives main, then prints with write()
 *   prog_main_exit block     a worker prints "ready" and waits for a signal
 *                            forever (for SIGTERM)
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cv = PTHREAD_COND_INITIALIZER;
static int main_left;
void *volatile main_exit_sink; /* keeps the compiler from eliding malloc/free pairs */

static void at_exit(void)
{
    printf("atexit ran\n"); /* buffered: lost unless exit() flushes stdio */
}

/* Waits until main has called pthread_exit (it signals just before). */
static void wait_main(void)
{
    pthread_mutex_lock(&mu);
    while (!main_left)
        pthread_cond_wait(&cv, &mu);
    pthread_mutex_unlock(&mu);
    /* main's pthread_exit is under way; let it finish. */
    struct timespec ts = {0, 50000000};
    nanosleep(&ts, NULL);
}

static void *worker(void *arg)
{
    (void)arg;
    wait_main();
    size_t total = 0;
    for (int i = 0; i < 1000; i++) {
        char *p = malloc(100 + (size_t)i);
        main_exit_sink = p;
        total += 100 + (size_t)i;
        free(p);
    }
    printf("worker allocated %zu bytes\n", total);
    return NULL;
}

static void *quiet(void *arg)
{
    (void)arg;
    wait_main();
    struct timespec ts = {0, 300000000};
    nanosleep(&ts, NULL);
    static const char msg[] = "quiet worker done\n";
    if (write(1, msg, sizeof(msg) - 1) < 0)
        _exit(3);
    return NULL;
}

static void *block(void *arg)
{
    (void)arg;
    static const char msg[] = "ready\n";
    if (write(1, msg, sizeof(msg) - 1) < 0)
        _exit(3);
    for (;;)
        pause();
    return NULL;
}

int main(int argc, char **argv)
{
    const char *mode = argc > 1 ? argv[1] : "alone";
    atexit(at_exit);
    printf("main %s\n", mode);
    fflush(stdout); /* before any other thread may print */
    void *(*fn)(void *) = NULL;
    if (strcmp(mode, "worker") == 0)
        fn = worker;
    else if (strcmp(mode, "quiet") == 0)
        fn = quiet;
    else if (strcmp(mode, "block") == 0)
        fn = block;
    else if (strcmp(mode, "alone") != 0) {
        fprintf(stderr, "usage: prog_main_exit alone|worker|quiet|block\n");
        return 2;
    }
    if (fn != NULL) {
        pthread_t t;
        if (pthread_create(&t, NULL, fn, NULL) != 0) {
            fprintf(stderr, "prog_main_exit: cannot create a thread\n");
            return 1;
        }
    }
    pthread_mutex_lock(&mu);
    main_left = 1;
    pthread_cond_broadcast(&cv);
    pthread_mutex_unlock(&mu);
    pthread_exit(NULL);
}
