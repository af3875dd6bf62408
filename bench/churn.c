/*
 * churn.c: the malloc/free churn benchmark (nmt_churn).
 *
 * T threads each keep a sliding window of W live blocks: every iteration
 * frees the oldest block and allocates a new one of a random size in
 * [MIN, MAX], so the allocator sees a steady mix of frees and mallocs with a
 * constant live set, the pattern a service's request handling produces. One
 * op is one free+malloc pair. The window is filled and WARMUP untimed
 * iterations run before the clock starts; it is emptied after it stops, so
 * only the steady state is timed.
 *
 * It is deliberately allocator-bound: the random numbers come from a
 * xorshift generator and each new block gets one byte written (so the compiler
 * cannot drop the pair and the first cache line is touched, as real code
 * would). The numbers are meant to be compared as ratios against an
 * unprofiled run in the same invocation (bench/run_churn.sh), never as
 * absolute figures.
 *
 * Output: one line per thread and a total, then a line starting with
 * "RESULT" holding key=value pairs for scripts.
 */
#include <errno.h>
#include <getopt.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

struct churn_opts {
    unsigned threads;
    uint64_t iters;
    uint64_t warmup;
    unsigned window;
    size_t min, max;
    uint64_t seed;
};

struct churn_thread {
    pthread_t tid;
    unsigned index;
    const struct churn_opts *o;
    pthread_barrier_t *start;
    uint64_t ns;       /* timed loop, this thread's wall clock */
    uint64_t cpu_ns;   /* timed loop, this thread's CPU time */
    uint64_t minflt;   /* timed loop, this thread's minor page faults */
    uint64_t checksum; /* keeps the touched bytes observable */
    int err;
};

static uint64_t now_ns(clockid_t clk)
{
    struct timespec ts;
    clock_gettime(clk, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* xorshift64*: a few cycles per number, so the generator does not hide the
 * allocator's cost. */
static inline uint64_t rng_next(uint64_t *s)
{
    uint64_t x = *s;
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    *s = x;
    return x * 0x2545F4914F6CDD1Dull;
}

/* A size in [min, max] by multiply-shift (no division on the loop). */
static inline size_t rand_size(uint64_t *s, size_t min, uint64_t span)
{
    return min + (size_t)(((rng_next(s) >> 32) * span) >> 32);
}

/* One thread's window and generator, carried from warm-up into the timed run. */
struct churn_state {
    unsigned char **win;
    unsigned slot;
    uint64_t rng, span, sum;
};

/* n iterations: free the oldest block, allocate a new one in its place.
 * Returns 0, or ENOMEM (the slot is left empty). */
static int churn_steps(struct churn_state *st, const struct churn_opts *o, uint64_t n)
{
    for (uint64_t i = 0; i < n; i++) {
        st->sum += st->win[st->slot][0];
        free(st->win[st->slot]);
        unsigned char *p = malloc(rand_size(&st->rng, o->min, st->span));
        if (p == NULL) {
            st->win[st->slot] = NULL;
            return ENOMEM;
        }
        p[0] = (unsigned char)i;
        st->win[st->slot] = p;
        if (++st->slot == o->window)
            st->slot = 0;
    }
    return 0;
}

/* This thread's minor page faults so far (RUSAGE_THREAD: Linux). */
static uint64_t thread_minflt(void)
{
    struct rusage ru;
    if (getrusage(RUSAGE_THREAD, &ru) != 0)
        return 0;
    return (uint64_t)ru.ru_minflt;
}

static void *churn_main(void *arg)
{
    struct churn_thread *ct = arg;
    const struct churn_opts *o = ct->o;
    struct churn_state st = {.span = (uint64_t)(o->max - o->min + 1),
                             .rng = o->seed * 0x9E3779B97F4A7C15ull + ct->index + 1};
    st.win = calloc(o->window, sizeof(*st.win));
    if (st.win == NULL) {
        ct->err = ENOMEM;
        pthread_barrier_wait(ct->start);
        return NULL;
    }
    for (unsigned i = 0; i < o->window && ct->err == 0; i++) {
        st.win[i] = malloc(rand_size(&st.rng, o->min, st.span));
        if (st.win[i] == NULL)
            ct->err = ENOMEM;
        else
            st.win[i][0] = (unsigned char)i;
    }
    /* Warm-up: one-time costs (a profiler's per-thread set-up, first page
     * faults of the heap) are paid here, outside the timed run. */
    if (ct->err == 0)
        ct->err = churn_steps(&st, o, o->warmup);
    pthread_barrier_wait(ct->start);
    if (ct->err != 0)
        goto out;

    uint64_t f0 = thread_minflt();
    uint64_t t0 = now_ns(CLOCK_MONOTONIC), c0 = now_ns(CLOCK_THREAD_CPUTIME_ID);
    ct->err = churn_steps(&st, o, o->iters);
    ct->cpu_ns = now_ns(CLOCK_THREAD_CPUTIME_ID) - c0;
    ct->minflt = thread_minflt() - f0;
    ct->ns = now_ns(CLOCK_MONOTONIC) - t0;
    ct->checksum = st.sum;
out:
    for (unsigned i = 0; i < o->window; i++)
        free(st.win[i]);
    free(st.win);
    return NULL;
}

static uint64_t process_cpu_ns(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return (uint64_t)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1000000000ull +
           (uint64_t)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) * 1000ull;
}

static void usage(FILE *f)
{
    fprintf(f,
            "usage: nmt_churn [-t THREADS] [-n ITERS] [-w WINDOW] [--min BYTES] [--max BYTES]\n"
            "                 [--small] [--seed N] [--warmup ITERS]\n"
            "  -t, --threads  threads (default 2)\n"
            "  -n, --iters    free+malloc pairs per thread (default 2000000)\n"
            "  -w, --window   live blocks per thread (default 1000)\n"
            "      --min/--max  block size range in bytes (default 16..4096)\n"
            "      --small    the small mix: 16..256 bytes\n"
            "      --seed     random seed (default 1)\n"
            "      --warmup   untimed iterations per thread before the timed ones (default 0)\n");
}

static int parse_u64(const char *s, uint64_t lo, uint64_t hi, uint64_t *out)
{
    char *end;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno != 0 || end == s || *end != '\0' || s[0] == '-' || v < lo || v > hi)
        return -EINVAL;
    *out = v;
    return 0;
}

static int parse_args(int argc, char **argv, struct churn_opts *o)
{
    static const struct option longs[] = {
        {"threads", required_argument, NULL, 't'}, {"iters", required_argument, NULL, 'n'},
        {"window", required_argument, NULL, 'w'},  {"min", required_argument, NULL, 'a'},
        {"max", required_argument, NULL, 'b'},     {"small", no_argument, NULL, 's'},
        {"seed", required_argument, NULL, 'r'},    {"warmup", required_argument, NULL, 'u'},
        {"help", no_argument, NULL, 'h'},          {NULL, 0, NULL, 0}};
    *o = (struct churn_opts){
        .threads = 2, .iters = 2000000, .window = 1000, .min = 16, .max = 4096, .seed = 1};
    int c;
    uint64_t v;
    while ((c = getopt_long(argc, argv, "t:n:w:h", longs, NULL)) != -1) {
        const char *name = NULL;
        switch (c) {
        case 't':
            if (parse_u64(optarg, 1, 1024, &v) != 0)
                name = "--threads";
            o->threads = (unsigned)v;
            break;
        case 'n':
            if (parse_u64(optarg, 1, UINT64_MAX / 2, &v) != 0)
                name = "--iters";
            o->iters = v;
            break;
        case 'w':
            if (parse_u64(optarg, 1, 1u << 24, &v) != 0)
                name = "--window";
            o->window = (unsigned)v;
            break;
        case 'a':
            if (parse_u64(optarg, 1, (uint64_t)1 << 40, &v) != 0)
                name = "--min";
            o->min = (size_t)v;
            break;
        case 'b':
            if (parse_u64(optarg, 1, (uint64_t)1 << 40, &v) != 0)
                name = "--max";
            o->max = (size_t)v;
            break;
        case 's':
            o->min = 16;
            o->max = 256;
            break;
        case 'u':
            if (parse_u64(optarg, 0, UINT64_MAX / 2, &v) != 0)
                name = "--warmup";
            o->warmup = v;
            break;
        case 'r':
            if (parse_u64(optarg, 0, UINT64_MAX, &v) != 0)
                name = "--seed";
            o->seed = v;
            break;
        case 'h':
            usage(stdout);
            exit(0);
        default:
            usage(stderr);
            return -EINVAL;
        }
        if (name != NULL) {
            fprintf(stderr, "nmt_churn: bad value for %s: %s\n", name, optarg);
            return -EINVAL;
        }
    }
    if (optind != argc) {
        fprintf(stderr, "nmt_churn: unexpected argument: %s\n", argv[optind]);
        return -EINVAL;
    }
    if (o->min > o->max) {
        fprintf(stderr, "nmt_churn: --min %zu is above --max %zu\n", o->min, o->max);
        return -EINVAL;
    }
    return 0;
}

int main(int argc, char **argv)
{
    struct churn_opts o;
    if (parse_args(argc, argv, &o) != 0)
        return 2;
    struct churn_thread *ct = calloc(o.threads, sizeof(*ct));
    pthread_barrier_t start;
    if (ct == NULL || pthread_barrier_init(&start, NULL, o.threads + 1) != 0) {
        fprintf(stderr, "nmt_churn: out of memory\n");
        return 1;
    }
    for (unsigned i = 0; i < o.threads; i++) {
        ct[i] = (struct churn_thread){.index = i, .o = &o, .start = &start};
        int err = pthread_create(&ct[i].tid, NULL, churn_main, &ct[i]);
        if (err != 0) {
            fprintf(stderr, "nmt_churn: pthread_create: %s\n", strerror(err));
            return 1;
        }
    }
    pthread_barrier_wait(&start);
    uint64_t w0 = now_ns(CLOCK_MONOTONIC), p0 = process_cpu_ns();
    for (unsigned i = 0; i < o.threads; i++)
        pthread_join(ct[i].tid, NULL);
    uint64_t wall = now_ns(CLOCK_MONOTONIC) - w0, pcpu = process_cpu_ns() - p0;
    pthread_barrier_destroy(&start);

    printf("churn: threads=%u iters=%llu warmup=%llu window=%u size=%zu..%zu seed=%llu\n",
           o.threads, (unsigned long long)o.iters, (unsigned long long)o.warmup, o.window, o.min,
           o.max, (unsigned long long)o.seed);
    double sum_thread = 0, sum_cpu = 0, ops = (double)o.iters;
    uint64_t faults = 0;
    uint64_t check = 0;
    int failed = 0;
    for (unsigned i = 0; i < o.threads; i++) {
        if (ct[i].err != 0) {
            fprintf(stderr, "nmt_churn: thread %u: %s\n", i, strerror(ct[i].err));
            failed = 1;
            continue;
        }
        double ns = (double)ct[i].ns / ops;
        sum_thread += ns;
        sum_cpu += (double)ct[i].cpu_ns / ops;
        check += ct[i].checksum;
        faults += ct[i].minflt;
        printf("thread %u: %.2f ns/op (cpu %.2f ns/op, %llu minor faults)\n", i, ns,
               (double)ct[i].cpu_ns / ops, (unsigned long long)ct[i].minflt);
    }
    if (failed) {
        free(ct);
        return 1;
    }
    /* Per-thread figure: the wall time an average thread's op took, waiting
     * for the slowest thread included. The process CPU figure also counts any
     * background thread a profiler runs (nmtrace's writer). */
    double wall_op = (double)wall / ops;
    double cpu_op = (double)pcpu / (ops * o.threads);
    printf("total: %.0f ops in %.3f s: %.2f ns/op per thread (wall / iters), "
           "%.2f Mops/s, process cpu %.2f ns/op\n",
           ops * o.threads, (double)wall / 1e9, wall_op, ops * o.threads / ((double)wall / 1e3),
           cpu_op);
    printf("RESULT ns_per_op=%.3f mean_thread_ns_per_op=%.3f thread_cpu_ns_per_op=%.3f "
           "cpu_ns_per_op=%.3f wall_s=%.4f thread_minflt=%llu checksum=%llu\n",
           wall_op, sum_thread / o.threads, sum_cpu / o.threads, cpu_op, (double)wall / 1e9,
           (unsigned long long)faults, (unsigned long long)check);
    free(ct);
    return 0;
}
