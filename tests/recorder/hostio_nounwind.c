/*
 * hostio_nounwind.c: code without unwind tables (built with
 * -fno-asynchronous-unwind-tables -fno-unwind-tables), so that an unwinder
 * that reaches it has no CFI and must fall back to following the frame
 * chain. prog_hostio calls it to allocate.
 */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Writes len bytes of text to fd through a malloc'ed copy. */
__attribute__((noinline)) int hostio_nounwind_write(int fd, const char *text, size_t len)
{
    char *copy = malloc(len + 64);
    if (copy == NULL)
        return -1;
    memcpy(copy, text, len);
    ssize_t n = write(fd, copy, len);
    free(copy);
    return n == (ssize_t)len ? 0 : -1;
}
