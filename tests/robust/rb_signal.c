/*
 * rb_signal.c: processes the driver acts on from outside while they run.
 *   rb_signal burst   prints "ready", lets two threads do a fixed amount of allocation
 *                     and blocks in read(2) on stdin until end of input (the driver
 *                     sends it snapshot signals meanwhile); then prints its checksums
 *   rb_signal grow    prints "ready" and leaks from many distinct stacks until end of
 *                     input, so that snapshots follow each other (the driver kills it
 *                     with SIGKILL while one is being written)
 */
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rb_common.h"

static unsigned long long sums[2];

static void *fixed_work(void *arg)
{
    int id = (int)(intptr_t)arg;
    for (int i = 0; i < 200; i++) {
        sums[id] += rb_churn(200, (unsigned)(id * 1000 + i));
        rb_leak_site(512);
    }
    return NULL;
}

static int burst(void)
{
    printf("ready\n");
    fflush(stdout);
    pthread_t t[2];
    for (int i = 0; i < 2; i++)
        rb_require(pthread_create(&t[i], NULL, fixed_work, (void *)(intptr_t)i) == 0,
                   "pthread_create");
    int r;
    while ((r = rb_wait_line()) == 1)
        continue;
    if (r < 0)
        printf("read from stdin failed\n");
    for (int i = 0; i < 2; i++)
        pthread_join(t[i], NULL);
    printf("sums %llu %llu\n", sums[0], sums[1]);
    printf("leaked %llu\n", (unsigned long long)rb_leaked_bytes());
    return r < 0;
}

/* Recursion depth gives each leak its own stack: big STACK and SITES records. */
__attribute__((noinline)) static void leak_at_depth(int depth)
{
    if (depth > 0) {
        leak_at_depth(depth - 1);
        __asm__ volatile("" ::: "memory"); /* not a tail call: keep the frame */
        return;
    }
    rb_leak_site(1024);
}

static int grow(void)
{
    printf("ready\n");
    fflush(stdout);
    struct pollfd in = {.fd = 0, .events = POLLIN};
    for (unsigned i = 0;; i++) {
        leak_at_depth((int)(i % 300));
        if (i % 8 == 0) {
            int r = poll(&in, 1, 1);
            if (r > 0 && rb_wait_line() == 0)
                break;
        }
    }
    return 0;
}

int main(int argc, char **argv)
{
    const char *mode = argc > 1 ? argv[1] : "";
    if (strcmp(mode, "burst") == 0)
        return burst();
    if (strcmp(mode, "grow") == 0)
        return grow();
    fprintf(stderr, "usage: rb_signal burst|grow\n");
    return 2;
}
