/*
 * prog_steady.c: a process that runs for a while with one site that leaks
 * steadily and one that grows and then levels off (a bounded cache). Used to
 * test periodic, growth, signal and trigger-file snapshots and kill -9.
 *   prog_steady [seconds] [MiB-per-second] [stop-file]
 * With a stop file it runs until that file exists (tests that act on the
 * running process wait for what they check instead of guessing how long the
 * process needs); seconds is then only a limit against hanging forever.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static void *cache[256];
void *steady_head; /* global: the compiler must not drop the leaked blocks */

__attribute__((noinline)) void steady_leak_site(size_t bytes)
{
    for (size_t done = 0; done < bytes; done += 64 << 10) {
        void **p = malloc(64 << 10);
        *p = steady_head;
        steady_head = p;
    }
}

/* Fills a 256-slot cache of 64 KiB entries, then only replaces entries. */
__attribute__((noinline)) void levelling_cache_site(int tick)
{
    for (int i = 0; i < 8; i++) {
        int slot = (tick * 8 + i) % 256;
        free(cache[slot]);
        cache[slot] = malloc(64 << 10);
    }
}

int main(int argc, char **argv)
{
    double seconds = argc > 1 ? atof(argv[1]) : 3;
    double mib = argc > 2 ? atof(argv[2]) : 8;
    const char *stop = argc > 3 ? argv[3] : NULL;
    int ticks = (int)(seconds * 20);
    struct stat st;
    for (int t = 0; t < ticks && !(stop && stat(stop, &st) == 0); t++) {
        steady_leak_site((size_t)(mib * (1 << 20) / 20));
        levelling_cache_site(t);
        struct timespec ts = {0, 50000000};
        nanosleep(&ts, NULL);
    }
    return 0;
}
