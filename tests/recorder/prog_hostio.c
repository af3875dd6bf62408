/*
 * prog_hostio.c: programs that lean on the process's descriptors and
 * resource limits, to check that the recorder never changes what they do.
 *   prog_hostio daemon A B [PROFILE]  close fds 3..1023, open files A and B
 *                                     (they get 3 and 4) and write known
 *                                     lines into both through code without
 *                                     unwind tables that mallocs. With
 *                                     PROFILE, before closing and after each
 *                                     batch it raises SIGUSR1 and waits for
 *                                     PROFILE to grow, so snapshots happen
 *                                     before and while A and B are open
 *   prog_hostio print                 print lines through buffered stdout,
 *                                     then exit
 *   prog_hostio threads N             create N threads that allocate and
 *                                     wait until all exist, join them
 *   prog_hostio fds                   open /dev/null until it fails, print
 *                                     how many opened and why it stopped
 *   prog_hostio errno                 set errno before each of 4000 frees
 *                                     of a fresh block and 4000 growing
 *                                     reallocs, print how many left it as
 *                                     it was
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "prog_snapshot.h"

int hostio_nounwind_write(int fd, const char *text, size_t len);

/* Asks the recorder for a snapshot and waits until it is in the file and
 * the recorder has closed the file again: the program then closes and
 * reuses descriptors at a moment where the recorder holds none, so that the
 * numbers it gets are known. (The recorder's own guard, checking that a
 * descriptor is still its file before writing or closing it, is for the
 * moments in between.) */
static void snapshot_now(const char *profile)
{
    if (prog_snapshot_now("prog_hostio", profile) != 0)
        exit(2);
}

static int daemon_mode(const char *a, const char *b, const char *profile)
{
    if (profile != NULL)
        snapshot_now(profile); /* the profile exists before we close everything */
    for (int fd = 3; fd < 1024; fd++)
        close(fd);
    int fa = open(a, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    int fb = open(b, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (fa != 3 || fb != 4) {
        fprintf(stderr, "prog_hostio: expected fds 3 and 4, got %d and %d\n", fa, fb);
        return 2;
    }
    char line[128];
    for (int batch = 0; batch < 4; batch++) {
        for (int i = 0; i < 200; i++) {
            int n = snprintf(line, sizeof(line), "batch %d line %d of known content\n", batch, i);
            if (hostio_nounwind_write(fa, line, (size_t)n) != 0 ||
                hostio_nounwind_write(fb, line, (size_t)n) != 0) {
                fprintf(stderr, "prog_hostio: write failed in batch %d: %s\n", batch,
                        strerror(errno));
                return 3;
            }
        }
        if (profile != NULL)
            snapshot_now(profile); /* a snapshot while our files hold 3 and 4 */
    }
    printf("daemon wrote 4 batches\n");
    return close(fa) == 0 && close(fb) == 0 ? 0 : 4;
}

static _Atomic int release_threads;

/* Waits until every thread has been created, then allocates: all N stacks
 * exist at once and none of the threads' malloc arenas (which glibc gives up
 * on gracefully when the address space is short) competes with a stack, so
 * what the program needs does not depend on timing. */
static void *thread_main(void *arg)
{
    while (!release_threads) {
        struct timespec ts = {0, 1000000};
        nanosleep(&ts, NULL);
    }
    void *volatile p = malloc((size_t)(uintptr_t)arg);
    free(p);
    return NULL;
}

static int threads_mode(int n)
{
    pthread_t t[256];
    int made = 0, err = 0;
    for (; made < n && made < 256; made++) {
        err = pthread_create(&t[made], NULL, thread_main, (void *)(uintptr_t)(100 + made));
        if (err != 0)
            break;
    }
    release_threads = 1;
    for (int i = 0; i < made; i++)
        pthread_join(t[i], NULL);
    printf("created %d of %d threads%s%s\n", made, n, err ? ": " : "", err ? strerror(err) : "");
    return made == n ? 0 : 1;
}

static int fds_mode(void)
{
    int n = 0;
    while (open("/dev/null", O_RDONLY) >= 0)
        n++;
    printf("opened %d descriptors, then: %s\n", n, strerror(errno));
    return 0;
}

static int errno_mode(void)
{
    enum { N = 4000 };
    int freed_kept = 0, moved_kept = 0;
    for (int i = 0; i < N; i++) {
        char *p = malloc(16 + (size_t)(i % 512));
        if (p == NULL)
            return 1;
        /* Kept: otherwise the compiler may drop the malloc and free pair. */
        __asm__ volatile("" : : "r"(p) : "memory");
        errno = 1000 + i;
        free(p);
        /* Read errno again: compilers take free to leave it alone. */
        __asm__ volatile("" : : : "memory");
        freed_kept += errno == 1000 + i;
        p = malloc(16 + (size_t)(i % 512));
        if (p == NULL)
            return 1;
        p[0] = 1;
        errno = 2000 + i;
        char *q = realloc(p, 4096 + (size_t)(i % 4096));
        moved_kept += errno == 2000 + i;
        free(q);
    }
    printf("errno kept by %d of %d frees and %d of %d reallocs\n", freed_kept, N, moved_kept, N);
    return 0;
}

int main(int argc, char **argv)
{
    if (argc >= 4 && strcmp(argv[1], "daemon") == 0)
        return daemon_mode(argv[2], argv[3], argc > 4 ? argv[4] : NULL);
    if (argc == 2 && strcmp(argv[1], "print") == 0) {
        for (int i = 0; i < 2000; i++)
            printf("buffered line %d\n", i);
        return 0;
    }
    if (argc == 3 && strcmp(argv[1], "threads") == 0)
        return threads_mode(atoi(argv[2]));
    if (argc == 2 && strcmp(argv[1], "fds") == 0)
        return fds_mode();
    if (argc == 2 && strcmp(argv[1], "errno") == 0)
        return errno_mode();
    fprintf(stderr, "usage: prog_hostio daemon A B [PROFILE] | print | threads N | fds | errno\n");
    return 2;
}
