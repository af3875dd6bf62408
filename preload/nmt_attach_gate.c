/*
 * nmt_attach_gate.c: what the hooks and the sampled path share with an
 * attach (nmt_attach.h): whether we were loaded late, the attach session,
 * and the count of threads inside the sampled path that a detach waits for.
 * Apart from nmt_attach.c so the recorder's core links without the attach.
 */
#include <stdatomic.h>
#include <time.h>

#include "nmt_attach.h"
#include "nmt_internal.h"

int nmt__attach_dormant;
int nmt__attach_mode;
uint32_t nmt__attach_session;
static _Atomic int inflight;
static _Atomic int detaching;

int nmt__attach_waiting(void)
{
    return nmt__attach_dormant;
}

/* The thread counts itself in, then looks at the state; a detach turns the
 * state off, then looks at the count (both sequentially consistent): either
 * the detach sees the thread, or the thread sees the detach. */
int nmt__attach_hold(void)
{
    atomic_fetch_add(&inflight, 1);
    if (atomic_load(&nmt__state) == NMT_ON)
        return 1;
    atomic_fetch_sub(&inflight, 1);
    return 0;
}

void nmt__attach_release(void)
{
    atomic_fetch_sub(&inflight, 1);
}

int nmt__attach_detaching(void)
{
    return atomic_load(&detaching);
}

int nmt__attach_quiet(void)
{
    return atomic_load(&inflight) == 0;
}

int nmt__attach_stop_begin(void)
{
    atomic_store(&detaching, 1);
    atomic_store(&nmt__state, NMT_OFF);
    for (int i = 0; i < 5000 && !nmt__attach_quiet(); i++) {
        struct timespec ts = {0, 1000000};
        nanosleep(&ts, NULL);
    }
    return nmt__attach_quiet();
}

void nmt__attach_stop_end(void)
{
    atomic_store(&detaching, 0);
}
