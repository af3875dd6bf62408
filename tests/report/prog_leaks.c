/*
 * prog_leaks.c: a C program with known ground truth, for the recorder's
 * integration tests.
 *
 * It leaks (keeps live until exit) known bytes from five call sites, each
 * its own noinline function so a profile names it:
 *   leak_malloc_site    malloc, varied sizes
 *   leak_calloc_site    calloc, on a second thread
 *   leak_realloc_site   realloc(NULL, small) grown step by step
 *   leak_memalign_site  posix_memalign, 4096-byte alignment
 *   leak_mmap_site      one anonymous mapping with its middle unmapped
 * Each site holds at least 32 MiB at exit. Meanwhile it allocates and frees
 * a lot of other memory (malloc/calloc/realloc/free churn on two threads,
 * frees on another thread than the allocating one, short-lived mmaps) that is
 * all released before the ground truth is printed.
 *
 * Usage: prog_leaks [--hold-until-snapshot PROFILE] [--churn-ops N] [OUT.json]
 * Prints the ground truth as JSON to OUT.json, or to stdout. With
 * --hold-until-snapshot the process then stays until the recorder has
 * written a whole snapshot into PROFILE (its output file) since main began,
 * however long a busy machine makes that take (for interval snapshots:
 * nothing else may grow the file before the exit snapshot).
 * --churn-ops sets the malloc-family operations of each churning thread
 * (default 300000; the main thread does two thirds of that): at rate 1 a
 * busy, loaded machine can overflow the recorder's rings, so exact tests
 * may want less churn or a bigger NMTRACE_RING.
 * Every written byte is non-zero so that no page of a leak stays untouched
 * and the compiler cannot turn malloc + memset into calloc.
 */
#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include "../recorder/prog_snapshot.h"

#define MIB       (1024u * 1024u)
#define SITE_MIN  (32u * MIB)
#define MAX_LEAKS 8192
#if defined(__clang__)
#define NOINLINE __attribute__((noinline))
#else
#define NOINLINE __attribute__((noinline, noclone))
#endif

struct site {
    const char *name;
    const char *api;
    uint64_t bytes;     /* requested bytes live at exit */
    uint64_t objects;   /* live objects at exit */
    uint64_t reserved;  /* mmap only: bytes still mapped */
    uint64_t committed; /* mmap only: bytes still accessible */
};

/* Leaked pointers stay reachable from here, so they are live, not lost. */
static void *leaks[5][MAX_LEAKS];
static struct site sites[5];
static volatile uint64_t sink;
static uint64_t churn_bytes; /* allocated and freed again, all threads */
static pthread_mutex_t churn_lock = PTHREAD_MUTEX_INITIALIZER;
static long churn_ops = 300000;

static void die(const char *what)
{
    fprintf(stderr, "prog_leaks: %s: %s\n", what, strerror(errno));
    exit(1);
}

/* Deterministic sizes: a small LCG per site. */
static uint64_t next(uint64_t *x)
{
    *x = *x * 6364136223846793005ull + 1442695040888963407ull;
    return *x >> 33;
}

static NOINLINE void leak_malloc_site(struct site *s)
{
    uint64_t x = 1;
    while (s->bytes < SITE_MIN) {
        size_t n = 4096 + (size_t)(next(&x) % 61440); /* 4 KiB .. 64 KiB */
        char *p = malloc(n);
        if (!p)
            die("malloc");
        memset(p, 0xa5, n);
        leaks[0][s->objects++] = p;
        s->bytes += n;
    }
}

static NOINLINE void leak_calloc_site(struct site *s)
{
    uint64_t x = 2;
    while (s->bytes < SITE_MIN) {
        size_t nmemb = 16 + (size_t)(next(&x) % 1024), size = 24;
        char *p = calloc(nmemb, size);
        if (!p)
            die("calloc");
        p[0] = 1; /* calloc already touched (or zero-mapped) the rest */
        leaks[1][s->objects++] = p;
        s->bytes += nmemb * size;
    }
}

static NOINLINE void leak_realloc_site(struct site *s)
{
    uint64_t x = 3;
    while (s->bytes < SITE_MIN) {
        size_t n = 64;
        char *p = realloc(NULL, n);
        if (!p)
            die("realloc");
        size_t final = 65536 + (size_t)(next(&x) % 65536); /* 64 .. 128 KiB */
        while (n < final) {
            n = n * 2 < final ? n * 2 : final;
            char *q = realloc(p, n);
            if (!q)
                die("realloc");
            p = q;
        }
        memset(p, 0x5a, n);
        leaks[2][s->objects++] = p;
        s->bytes += n;
    }
}

static NOINLINE void leak_memalign_site(struct site *s)
{
    uint64_t x = 4;
    while (s->bytes < SITE_MIN) {
        size_t n = 16384 + (size_t)(next(&x) % 49152); /* 16 .. 64 KiB */
        void *p;
        int err = posix_memalign(&p, 4096, n);
        if (err) {
            errno = err;
            die("posix_memalign");
        }
        memset(p, 0x3c, n);
        leaks[3][s->objects++] = p;
        s->bytes += n;
    }
}

static NOINLINE void leak_mmap_site(struct site *s)
{
    size_t len = 48 * MIB, hole = 8 * MIB;
    char *p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED)
        die("mmap");
    memset(p, 0x11, len);
    /* Cut 8 MiB out of the middle: two pieces of 20 MiB stay mapped. */
    if (munmap(p + 20 * MIB, hole) != 0)
        die("munmap");
    leaks[4][0] = p;
    s->objects = 1;
    s->bytes = s->reserved = s->committed = len - hole;
}

/* Churn: a working set of slots, each replaced many times, all freed at the
 * end. Uses every malloc-family call, so sampled totals of these stacks
 * move a lot while their live bytes end at zero. */
static NOINLINE uint64_t churn(uint64_t seed, long ops)
{
    enum { SLOTS = 1024 };
    void *slot[SLOTS] = {0};
    size_t size[SLOTS] = {0};
    uint64_t x = seed, total = 0;
    for (long i = 0; i < ops; i++) {
        unsigned k = (unsigned)(next(&x) % SLOTS);
        size_t n = 16 + (size_t)(next(&x) % 8192);
        switch (next(&x) % 4) {
        case 0:
            free(slot[k]);
            slot[k] = malloc(n);
            break;
        case 1:
            free(slot[k]);
            slot[k] = calloc(1, n);
            break;
        case 2: {
            void *q = realloc(slot[k], n);
            if (!q)
                die("realloc");
            slot[k] = q;
            break;
        }
        default:
            free(slot[k]);
            slot[k] = NULL;
            n = 0;
            break;
        }
        if (n && !slot[k])
            die("churn allocation");
        if (n)
            ((volatile char *)slot[k])[n - 1] = 1;
        size[k] = n;
        total += n;
    }
    for (unsigned k = 0; k < SLOTS; k++)
        free(slot[k]);
    /* Short-lived mappings, fully unmapped again. */
    for (int i = 0; i < 200; i++) {
        size_t n = (size_t)(1 + i % 16) * 65536;
        char *p = mmap(NULL, n, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        if (p == MAP_FAILED)
            die("mmap");
        p[0] = 1;
        munmap(p, n);
    }
    (void)size;
    return total;
}

/* Frees on another thread than the one that allocated. */
struct handoff {
    void *ptrs[4096];
    int n;
};

static void *free_all(void *arg)
{
    struct handoff *h = arg;
    for (int i = 0; i < h->n; i++)
        free(h->ptrs[i]);
    return NULL;
}

static NOINLINE void cross_thread_frees(void)
{
    static struct handoff h;
    for (int round = 0; round < 20; round++) {
        h.n = 0;
        for (int i = 0; i < 4096; i++) {
            h.ptrs[h.n] = malloc(256 + (size_t)i * 8);
            if (!h.ptrs[h.n])
                die("malloc");
            h.n++;
        }
        pthread_t t;
        if (pthread_create(&t, NULL, free_all, &h) != 0)
            die("pthread_create");
        pthread_join(t, NULL);
    }
}

static void add_churn(uint64_t n)
{
    pthread_mutex_lock(&churn_lock);
    churn_bytes += n;
    pthread_mutex_unlock(&churn_lock);
}

static void *worker(void *arg)
{
    long id = (long)(intptr_t)arg;
    add_churn(churn(100 + (uint64_t)id, churn_ops));
    if (id == 0)
        leak_calloc_site(&sites[1]);
    return NULL;
}

static void print_truth(FILE *f)
{
    fprintf(f, "{\n  \"program\": \"prog_leaks\",\n  \"pid\": %ld,\n", (long)getpid());
    fprintf(f, "  \"churn_bytes\": %llu,\n  \"sites\": [\n", (unsigned long long)churn_bytes);
    for (int i = 0; i < 5; i++) {
        const struct site *s = &sites[i];
        fprintf(f,
                "    {\"name\": \"%s\", \"api\": \"%s\", \"bytes\": %llu, \"objects\": %llu, "
                "\"reserved\": %llu, \"committed\": %llu}%s\n",
                s->name, s->api, (unsigned long long)s->bytes, (unsigned long long)s->objects,
                (unsigned long long)s->reserved, (unsigned long long)s->committed,
                i < 4 ? "," : "");
    }
    fprintf(f, "  ]\n}\n");
}

int main(int argc, char **argv)
{
    const char *out = NULL, *hold_profile = NULL;
    off_t hold_from = -1;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--hold-until-snapshot") == 0 && i + 1 < argc) {
            hold_profile = argv[++i];
            /* Its size now, header and all (the recorder wrote them before
             * main): a snapshot written during the work below counts. */
            hold_from = prog_size_of(hold_profile);
        } else if (strcmp(argv[i], "--churn-ops") == 0 && i + 1 < argc) {
            churn_ops = strtol(argv[++i], NULL, 10);
        } else if (argv[i][0] == '-') {
            fprintf(
                stderr,
                "usage: prog_leaks [--hold-until-snapshot PROFILE] [--churn-ops N] [OUT.json]\n");
            return 2;
        } else {
            out = argv[i];
        }
    }
    sites[0] = (struct site){.name = "leak_malloc_site", .api = "malloc"};
    sites[1] = (struct site){.name = "leak_calloc_site", .api = "calloc"};
    sites[2] = (struct site){.name = "leak_realloc_site", .api = "realloc"};
    sites[3] = (struct site){.name = "leak_memalign_site", .api = "posix_memalign"};
    sites[4] = (struct site){.name = "leak_mmap_site", .api = "mmap"};

    pthread_t t[2];
    for (long i = 0; i < 2; i++)
        if (pthread_create(&t[i], NULL, worker, (void *)(intptr_t)i) != 0)
            die("pthread_create");
    leak_malloc_site(&sites[0]);
    add_churn(churn(7, churn_ops * 2 / 3));
    leak_realloc_site(&sites[2]);
    cross_thread_frees();
    leak_memalign_site(&sites[3]);
    leak_mmap_site(&sites[4]);
    for (int i = 0; i < 2; i++)
        pthread_join(t[i], NULL);
    for (int i = 0; i < 5; i++)
        sink += (uint64_t)(uintptr_t)leaks[i][0];

    FILE *f = stdout;
    if (out && !(f = fopen(out, "w")))
        die(out);
    print_truth(f);
    if (fflush(f) != 0 || (f != stdout && fclose(f) != 0))
        die("writing the ground truth");
    if (hold_profile != NULL && prog_wait_snapshot("prog_leaks", hold_profile, hold_from) != 0)
        return 1;
    return 0;
}
