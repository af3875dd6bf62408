/*
 * c_leak.c: the C demo behind the README's first command.
 *
 * Three named functions allocate; two of them leak a known number of bytes
 * and the third frees everything it takes, so a report of live memory must
 * show exactly leak_config_strings and leak_request_buffers, with the sizes
 * this program prints. Usage: c_leak [requests=2000] [buffer_bytes=4096].
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Leaked blocks are chained so the compiler cannot drop them as dead. */
struct block {
    struct block *next;
};

static struct block *leaked;

__attribute__((noinline)) void leak_request_buffers(size_t size)
{
    struct block *b = malloc(size);
    if (b == NULL)
        return;
    memset(b, 0xab, size);
    b->next = leaked;
    leaked = b;
}

__attribute__((noinline)) void leak_config_strings(int i)
{
    struct block *b = calloc(1, 256);
    if (b == NULL)
        return;
    snprintf((char *)(b + 1), 256 - sizeof(*b), "option-%d", i);
    b->next = leaked;
    leaked = b;
}

__attribute__((noinline)) size_t parse_and_free(size_t size)
{
    char *tmp = malloc(size);
    size_t n;
    if (tmp == NULL)
        return 0;
    memset(tmp, 'x', size - 1);
    tmp[size - 1] = '\0';
    n = strlen(tmp);
    free(tmp);
    return n;
}

int main(int argc, char **argv)
{
    int requests = argc > 1 ? atoi(argv[1]) : 2000;
    size_t size = argc > 2 ? (size_t)atol(argv[2]) : 4096;
    size_t parsed = 0;

    if (requests < 0 || size < sizeof(struct block)) {
        fprintf(stderr, "usage: c_leak [requests>=0] [buffer_bytes>=%zu]\n", sizeof(struct block));
        return 2;
    }
    for (int i = 0; i < requests; i++) {
        leak_request_buffers(size);
        if (i % 4 == 0)
            leak_config_strings(i);
        parsed += parse_and_free(size * 2);
    }
    printf("leak_request_buffers leaked %zu bytes\n", (size_t)requests * size);
    printf("leak_config_strings leaked %zu bytes\n", (size_t)((requests + 3) / 4) * 256);
    printf("parse_and_free allocated and freed %zu bytes\n", parsed + (size_t)requests);
    return 0;
}
