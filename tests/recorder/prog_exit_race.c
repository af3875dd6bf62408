/*
 * prog_exit_race.c: exit() while other threads are still allocating and
 * freeing. The process must exit 0, promptly, with a readable profile.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <unistd.h>

static void *spin(void *arg)
{
    unsigned seed = (unsigned)(uintptr_t)arg;
    for (;;) {
        void *p[16];
        for (int i = 0; i < 16; i++)
            p[i] = malloc(16 + rand_r(&seed) % 65536);
        for (int i = 0; i < 16; i++)
            free(p[i]);
    }
    return NULL;
}

int main(void)
{
    pthread_t t;
    for (int i = 0; i < 6; i++)
        pthread_create(&t, NULL, spin, (void *)(uintptr_t)(i + 1));
    usleep(300000);
    exit(0);
}
