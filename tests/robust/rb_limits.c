/*
 * rb_limits.c: programs that live close to a resource limit (ulimit -f,
 * -v, -n) set by the driver; the recorder must not push them over it.
 *   rb_limits fsize BYTES    prints a 60 KiB listing through stdio (flushed only at
 *                            exit, like ls), writes BYTES to out.dat, leaks 16 MiB
 *   rb_limits vm THREADS     THREADS threads at once, each allocating and touching
 *                            1 MiB; prints what each pthread_create returned
 *   rb_limits nofile         counts the files it can open, allocates, counts again
 *   rb_limits heap           prints the state of its malloc heap as main starts, then
 *                            where a few blocks landed relative to the first: a
 *                            program whose output follows its heap's layout (an
 *                            order by address) prints the same only if the
 *                            recorder left that heap as it found it
 */
#include <errno.h>
#include <fcntl.h>
#include <malloc.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "rb_common.h"

static int fsize(size_t bytes)
{
    for (int i = 0; i < 2000; i++)
        printf("listing line %d of the program's buffered output\n", i);
    if (bytes > 0) {
        int err = rb_write_file("out.dat", bytes, 1);
        printf("out.dat: %s\n", err == 0 ? "written" : strerror(-err));
    }
    for (int i = 0; i < 64; i++)
        rb_leak_site(256 << 10);
    printf("churn %llu\n", (unsigned long long)rb_churn(20000, 2));
    printf("leaked %llu\n", (unsigned long long)rb_leaked_bytes());
    return 0;
}

static pthread_barrier_t all_up;

static void *vm_thread(void *arg)
{
    int id = (int)(intptr_t)arg;
    pthread_barrier_wait(&all_up); /* every thread exists at the same time */
    unsigned long sum = 0;
    for (int i = 0; i < 4; i++) {
        char *p = malloc(256 << 10);
        if (p == NULL)
            return (void *)1;
        memset(p, id + i, 256 << 10);
        sum += (unsigned char)p[i];
        free(p);
    }
    sum += rb_churn(2000, (unsigned)id);
    return sum ? NULL : (void *)1;
}

static int vm(int n)
{
    pthread_t t[64];
    int ok[64];
    if (n > 64)
        n = 64;
    int created = 0;
    pthread_barrier_init(&all_up, NULL, (unsigned)n + 1);
    for (int i = 0; i < n; i++) {
        int err = pthread_create(&t[i], NULL, vm_thread, (void *)(intptr_t)i);
        ok[i] = err == 0;
        printf("thread %d: %s\n", i, err == 0 ? "created" : strerror(err));
        created += ok[i];
    }
    if (created < n) {
        /* Some failed: the barrier would never open; say so and stop. */
        printf("only %d of %d threads\n", created, n);
        fflush(stdout);
        _exit(1);
    }
    pthread_barrier_wait(&all_up);
    int bad = 0;
    for (int i = 0; i < n; i++) {
        void *r;
        pthread_join(t[i], &r);
        bad += r != NULL;
    }
    printf("%d threads done, %d failed to allocate\n", n, bad);
    for (int i = 0; i < 16; i++)
        rb_leak_site(64 << 10);
    printf("leaked %llu\n", (unsigned long long)rb_leaked_bytes());
    return bad ? 1 : 0;
}

static int count_files(void)
{
    static int fds[1 << 16];
    int n = 0;
    while (n < (int)(sizeof(fds) / sizeof(fds[0]))) {
        int fd = open("/dev/null", O_RDONLY);
        if (fd < 0)
            break;
        fds[n++] = fd;
    }
    int err = errno;
    for (int i = 0; i < n; i++)
        close(fds[i]);
    printf("opened %d files, then: %s\n", n, strerror(err));
    return n;
}

static int nofile(void)
{
    int first = count_files();
    for (int i = 0; i < 64; i++)
        rb_leak_site(128 << 10);
    printf("churn %llu\n", (unsigned long long)rb_churn(20000, 3));
    int second = count_files();
    printf("%s\n", first == second ? "same both times" : "counts differ");
    printf("leaked %llu\n", (unsigned long long)rb_leaked_bytes());
    return 0;
}

static int heap(void)
{
    struct mallinfo2 m = mallinfo2();
    printf("heap before main: arena %zu, in use %zu\n", m.arena, m.uordblks);
    char *first = malloc(24);
    char *p[6];
    for (int i = 0; i < 6; i++)
        p[i] = malloc((size_t)40 << i);
    free(p[2]);
    free(p[4]);
    char *again = malloc(100);
    for (int i = 0; i < 6; i++)
        printf("block %d at first%+td\n", i, p[i] - first);
    printf("reused at first%+td\n", again - first);
    printf("leaked %llu\n", 0ull);
    return 0;
}

int main(int argc, char **argv)
{
    const char *mode = argc > 1 ? argv[1] : "";
    if (strcmp(mode, "fsize") == 0 && argc > 2)
        return fsize((size_t)atol(argv[2]));
    if (strcmp(mode, "vm") == 0 && argc > 2)
        return vm(atoi(argv[2]));
    if (strcmp(mode, "nofile") == 0)
        return nofile();
    if (strcmp(mode, "heap") == 0)
        return heap();
    fprintf(stderr, "usage: rb_limits fsize BYTES | vm THREADS | nofile | heap\n");
    return 2;
}
