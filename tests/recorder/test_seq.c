/*
 * test_seq.c: the event sequence (preload/nmt_state.h, nmt__seq_take) from
 * either source, the counter and the CPU's clock: its numbers grow on one
 * thread, and a number taken after another thread's (happens-before: the
 * two threads hand a token back and forth with release and acquire) is the
 * larger, which is all the writer's merge relies on (nmt_writer.c); and a
 * process that may not read the time-stamp counter gets the counter.
 */
#include <criterion/criterion.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdint.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include "nmt_internal.h"

/* What nmt_os.c uses from the rest of the recorder. */
struct nmt_config nmt__cfg;

/* Few enough that the hand-overs finish soon on a busy machine, where both
 * threads may share one CPU and each wait yields it to the other. */
#define HANDS 20000

struct relay {
    _Atomic int turn;       /* 0 or 1: which thread takes the next number */
    uint64_t last;          /* the number taken last, by either thread */
    unsigned long disorder; /* numbers not larger than the one before them */
};

static void *hand(struct relay *r, int me)
{
    for (int i = 0; i < HANDS; i++) {
        while (atomic_load_explicit(&r->turn, memory_order_acquire) != me)
            sched_yield();
        uint64_t s = nmt__seq_take();
        if (s <= r->last)
            r->disorder++;
        r->last = s;
        atomic_store_explicit(&r->turn, !me, memory_order_release);
    }
    return NULL;
}

static void *hand_1(void *arg)
{
    return hand(arg, 1);
}

/* 2 * HANDS numbers, each taken by the thread the previous one's taker
 * handed the token to. */
static unsigned long relay_disorder(void)
{
    struct relay r = {.turn = 0, .last = 0, .disorder = 0};
    r.last = nmt__seq_take();
    pthread_t t;
    cr_assert_eq(pthread_create(&t, NULL, hand_1, &r), 0);
    hand(&r, 0);
    pthread_join(t, NULL);
    return r.disorder;
}

static void one_thread_grows(void)
{
    uint64_t prev = nmt__seq_take();
    for (int i = 0; i < 1000000; i++) {
        uint64_t s = nmt__seq_take();
        cr_assert_gt(s, prev, "number %d", i);
        prev = s;
    }
}

Test(seq, the_counter_orders_across_threads)
{
    nmt__seq_clock = 0;
    uint64_t a = nmt__seq_take(), b = nmt__seq_take();
    cr_assert_eq(b, a + 1, "the counter's numbers are dense");
    one_thread_grows();
    cr_assert_eq(relay_disorder(), 0);
}

Test(seq, the_clock_orders_across_threads)
{
    if (!nmt__os_seq_clock_usable())
        cr_skip_test("this machine's kernel does not keep time by the TSC, or no RDTSCP");
    nmt__seq_clock = 1;
    uint64_t a = nmt__seq_take();
    cr_assert_gt(a, 1u << 20, "a clock reading, not the counter's");
    one_thread_grows();
    cr_assert_eq(relay_disorder(), 0);
}

/* A process that forbids itself the time-stamp counter (prctl PR_SET_TSC:
 * any read then raises SIGSEGV) gets the counter: asked in a child, which
 * after the prctl calls nothing that reads the clock (Criterion's timing
 * would). */
Test(seq, a_process_without_the_tsc_gets_the_counter)
{
    if (!nmt__os_seq_clock_usable())
        cr_skip_test("the clock is not usable here in the first place");
    pid_t pid = fork();
    cr_assert_geq(pid, 0);
    if (pid == 0) {
        if (prctl(PR_SET_TSC, PR_TSC_SIGSEGV) != 0)
            _exit(2);
        _exit(nmt__os_seq_clock_usable() ? 1 : 0);
    }
    int status = 0;
    cr_assert_eq(waitpid(pid, &status, 0), pid);
    cr_assert(WIFEXITED(status), "the child died (status %d)", status);
    cr_assert_eq(WEXITSTATUS(status), 0, "the clock was taken as usable without the TSC");
}
