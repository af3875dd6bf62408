/*
 * prog_threads.c: waves of threads that allocate, free, leak a known amount
 * and exit, for the recorder's multithreading test (slot reuse, rings of
 * exited threads drained, nothing lost). Prints the ground truth as JSON.
 *   prog_threads [waves] [threads-per-wave] [PROFILE]
 * With PROFILE (the recorder's output; NMTRACE_SIGNAL=USR1 and
 * NMTRACE_INTERVAL=0), after each wave it raises SIGUSR1 and waits until
 * the snapshot is in PROFILE (prog_snapshot.h): by then the writer has
 * recycled the slots of the wave's threads, so the next wave finds them
 * free however far behind the writer was.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "prog_snapshot.h"

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
    const char *profile = argc > 3 ? argv[3] : NULL;
    void *leaked[4096];
    int n = 0;
    for (int w = 0; w < waves; w++) {
        pthread_t t[64];
        for (int i = 0; i < per; i++)
            pthread_create(&t[i], NULL, worker, (void *)(uintptr_t)(w * 100 + i + 1));
        for (int i = 0; i < per; i++)
            pthread_join(t[i], &leaked[n++]);
        /* A snapshot asked for is taken only after a writer round that
         * began once the writer had seen the request (nmt_writer.c:
         * snapshot_due, then a round, then the write), and a round recycles
         * the slot of every thread that had exited when it began: here,
         * every thread joined above. Once the snapshot is in the file the
         * next wave's threads find this wave's slots free, however far
         * behind a busy machine left the writer. The file must grow for no
         * other reason (NMTRACE_INTERVAL=0). */
        if (profile != NULL && prog_snapshot_now("prog_threads", profile) != 0)
            return 2;
    }
    printf("{\"thread_leak_site\": %ld}\n", (long)n * LEAK_PER_THREAD);
    return 0;
}
