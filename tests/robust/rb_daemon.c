/*
 * rb_daemon.c: a daemon-style program that closes every descriptor above 2
 * and reuses the numbers for four data files while the recorder takes
 * snapshots. The recorder's descriptors (the profile, an unwinder's pipe)
 * are open before the close-all when the driver waits for a snapshot after
 * round 0; nothing of the recorder may end up in, or close, the data files.
 *   rb_daemon ROUNDS [nounwind]
 * Each round waits for one line on stdin (the driver paces the rounds and
 * waits for a snapshot after each), leaks 8 MiB in 256 KiB blocks (growth
 * for NMTRACE_GROWTH), writes one record to each data file and prints one
 * line; a last line ends it. With "nounwind" every round also allocates from a frame without
 * unwind tables (rb_nounwind.c). It prints the descriptor each data file got
 * (3 to 6 unprofiled).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "rb_common.h"
#include "rb_nounwind.h"

#define NFILES 4 /* descriptors 3 to 6: every number the recorder may have had */

/* Calls rb_nounwind_churn below `pages` more pages of stack: each round
 * unwinds through stack addresses no earlier round used (an unwinder that
 * remembers which addresses it validated must look at these afresh). */
__attribute__((noinline)) static unsigned long nounwind_deeper(int pages)
{
    volatile char pad[4096];
    pad[0] = (char)pages;
    if (pages > 0)
        return nounwind_deeper(pages - 1) + (unsigned long)pad[0];
    return rb_nounwind_churn(5000) + (unsigned long)pad[0];
}

static unsigned long round_work(int round, int nounwind)
{
    for (int i = 0; i < 32; i++)
        rb_leak_site(256 << 10);
    unsigned long sum = rb_churn(2000, (unsigned)round);
    if (nounwind)
        sum += nounwind_deeper(round * 4);
    return sum;
}

static void write_record(int fd, const char *name, int round)
{
    char line[256];
    int n = snprintf(line, sizeof(line), "%s round %d: the daemon's own data, %d bytes of it\n",
                     name, round, round * 1000);
    rb_require(write(fd, line, (size_t)n) == n, "write a data record");
}

static void print_file(const char *name)
{
    char buf[8192];
    int fd = open(name, O_RDONLY);
    rb_require(fd >= 0, "reopen a data file");
    ssize_t n = read(fd, buf, sizeof(buf));
    close(fd);
    rb_require(n >= 0, "read a data file");
    printf("%s holds %zd bytes\n", name, n);
}

int main(int argc, char **argv)
{
    static const char *const names[NFILES] = {"data-a.txt", "data-b.txt", "data-c.txt",
                                              "data-d.txt"};
    int fds[NFILES];
    int rounds = argc > 1 ? atoi(argv[1]) : 4;
    int nounwind = argc > 2 && strcmp(argv[2], "nounwind") == 0;
    rb_require(rb_wait_line() == 1, "line for round 0");
    printf("round 0: %lu\n", round_work(0, nounwind));
    fflush(stdout);

    rb_require(rb_wait_line() == 1, "line for the close-all");
    for (int fd = 3; fd < 1024; fd++)
        close(fd);
    for (int i = 0; i < NFILES; i++) {
        fds[i] = open(names[i], O_WRONLY | O_CREAT | O_TRUNC, 0644);
        rb_require(fds[i] >= 0, "open a data file");
        printf("%s on descriptor %d\n", names[i], fds[i]);
    }
    fflush(stdout);

    for (int r = 1; r <= rounds; r++) {
        rb_require(rb_wait_line() == 1, "line for a round");
        write_record(fds[0], names[0], r);
        write_record(fds[1], names[1], r);
        unsigned long sum = round_work(r, nounwind);
        write_record(fds[2], names[2], r);
        write_record(fds[3], names[3], r);
        printf("round %d: %lu\n", r, sum);
        fflush(stdout);
    }
    rb_require(rb_wait_line() == 1, "line for the end");
    for (int i = 0; i < NFILES; i++) {
        rb_require(close(fds[i]) == 0, "close a data file");
        print_file(names[i]);
    }
    printf("leaked %llu\n", (unsigned long long)rb_leaked_bytes());
    return 0;
}
