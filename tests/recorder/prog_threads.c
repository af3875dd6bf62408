/*
 * prog_threads.c: waves of threads that allocate, free, leak a known amount
 * and exit, for the recorder's multithreading test (slot reuse, rings of
 * exited threads drained, nothing lost). Prints the ground truth as JSON.
 *   prog_threads [waves] [threads-per-wave]
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#define LEAK_PER_THREAD (1 << 20) /* in 64 blocks of 16 KiB */

__attribute__((noinline)) void *thread_leak_site(void)
{
    void *head = NULL;
    for (int i = 0; i < 64; i++) {
        void **p = malloc(LEAK_PER_THREAD / 64);
        *p = head;
        head = p;
    }
    return head;
}

static void *worker(void *arg)
{
    unsigned seed = (unsigned)(uintptr_t)arg;
    for (int i = 0; i < 20000; i++) {
        void *p = malloc(16 + rand_r(&seed) % 4096);
        free(p);
    }
    return thread_leak_site();
}

int main(int argc, char **argv)
{
    int waves = argc > 1 ? atoi(argv[1]) : 6;
    int per = argc > 2 ? atoi(argv[2]) : 8;
    void *leaked[4096];
    int n = 0;
    for (int w = 0; w < waves; w++) {
        pthread_t t[64];
        for (int i = 0; i < per; i++)
            pthread_create(&t[i], NULL, worker, (void *)(uintptr_t)(w * 100 + i + 1));
        for (int i = 0; i < per; i++)
            pthread_join(t[i], &leaked[n++]);
        usleep(20000); /* lets the writer recycle the exited threads' rings */
    }
    printf("{\"thread_leak_site\": %ld}\n", (long)n * LEAK_PER_THREAD);
    return 0;
}
