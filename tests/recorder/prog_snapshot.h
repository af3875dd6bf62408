/*
 * prog_snapshot.h: for the test programs that must know a snapshot of their
 * own recording is in its file (prog_hostio.c, prog_threads.c,
 * tests/report/prog_leaks.c): the profile's size, and a wait until it has
 * grown and the recorder has closed it again. Waiting on the file, not on
 * time, is what keeps those tests' verdicts the same on a busy machine.
 */
#ifndef NMT_PROG_SNAPSHOT_H
#define NMT_PROG_SNAPSHOT_H

#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

/* How long a wait gives up after: only a recorder that never writes is
 * that slow; a writer a busy machine holds back is waited for. */
#define PROG_SNAPSHOT_GIVE_UP_S 120

/* The size of path, -1 when it does not exist (yet). */
static inline off_t prog_size_of(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 ? st.st_size : -1;
}

/* 1 while a descriptor of this process is open on path (absolute, as
 * /proc/self/fd names it): the recorder opens its file for each snapshot
 * and closes it once the snapshot is written. */
static inline int prog_held_open(const char *path)
{
    char fd_path[64], link[4096];
    for (int fd = 0; fd < 1024; fd++) {
        snprintf(fd_path, sizeof(fd_path), "/proc/self/fd/%d", fd);
        ssize_t n = readlink(fd_path, link, sizeof(link) - 1);
        if (n > 0) {
            link[n] = '\0';
            if (strcmp(link, path) == 0)
                return 1;
        }
    }
    return 0;
}

static inline double prog_now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Waits until profile is larger than `before` bytes (its size before the
 * snapshot was asked for or due; -1 when it did not exist) and the recorder
 * has closed it again: a snapshot written since is whole in the file.
 * 0, or -1 (said on stderr by who) after PROG_SNAPSHOT_GIVE_UP_S. */
static inline int prog_wait_snapshot(const char *who, const char *profile, off_t before)
{
    double give_up = prog_now_s() + PROG_SNAPSHOT_GIVE_UP_S;
    char real[PATH_MAX];
    while (prog_size_of(profile) <= (before > 0 ? before : 0) ||
           prog_held_open(realpath(profile, real) ? real : profile)) {
        if (prog_now_s() > give_up) {
            fprintf(stderr, "%s: no snapshot in %s within %d s\n", who, profile,
                    PROG_SNAPSHOT_GIVE_UP_S);
            return -1;
        }
        struct timespec ts = {0, 2000000};
        nanosleep(&ts, NULL);
    }
    return 0;
}

/* Asks the recorder for a snapshot (NMTRACE_SIGNAL=USR1) and waits until it
 * is whole in profile; nothing else may grow the file meanwhile. */
static inline int prog_snapshot_now(const char *who, const char *profile)
{
    off_t before = prog_size_of(profile);
    raise(SIGUSR1);
    return prog_wait_snapshot(who, profile, before);
}

#endif
