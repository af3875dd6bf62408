/*
 * rb_common.c: the shared leak site, churn and file helpers of the
 * robustness-suite programs (rb_common.h).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "rb_common.h"

static _Atomic(void *) leaked_head;
static _Atomic uint64_t leaked_total;

__attribute__((noinline)) void rb_leak_site(size_t size)
{
    void **p = malloc(size < sizeof(void *) ? sizeof(void *) : size);
    rb_require(p != NULL, "malloc in rb_leak_site");
    void *old = atomic_load(&leaked_head);
    do
        *p = old;
    while (!atomic_compare_exchange_weak(&leaked_head, &old, (void *)p));
    atomic_fetch_add(&leaked_total, size);
}

uint64_t rb_leaked_bytes(void)
{
    return atomic_load(&leaked_total);
}

__attribute__((noinline)) uint64_t rb_churn(int n, unsigned seed)
{
    uint64_t sum = 0;
    for (int i = 0; i < n; i++) {
        size_t size = 16 + (size_t)((seed * 2654435761u + (unsigned)i * 40503u) % 4000u);
        unsigned char *p = malloc(size);
        rb_require(p != NULL, "malloc in rb_churn");
        memset(p, (int)((seed + (unsigned)i) & 0xff), size);
        sum += p[size / 2] + size;
        free(p);
    }
    return sum;
}

int rb_write_file(const char *path, size_t size, unsigned seed)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0)
        return -errno;
    char buf[4096];
    size_t done = 0;
    while (done < size) {
        size_t n = size - done < sizeof(buf) ? size - done : sizeof(buf);
        for (size_t i = 0; i < n; i++)
            buf[i] = (char)('a' + (seed + done + i) % 26);
        ssize_t w = write(fd, buf, n);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0) {
            int err = w < 0 ? errno : ENOSPC;
            close(fd);
            return -err;
        }
        done += (size_t)w;
    }
    return close(fd) == 0 ? 0 : -errno;
}

int rb_wait_line(void)
{
    for (;;) {
        char c;
        ssize_t r = read(0, &c, 1);
        if (r < 0)
            return -1;
        if (r == 0)
            return 0;
        if (c == '\n')
            return 1;
    }
}

void rb_require(int cond, const char *what)
{
    if (!cond) {
        fprintf(stderr, "test program failed: %s (%s)\n", what, strerror(errno));
        exit(99);
    }
}
