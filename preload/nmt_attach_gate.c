/*
 * nmt_attach_gate.c: what the hooks and the sampled path share with an
 * attach (nmt_attach.h): whether we were loaded late, the attach session,
 * the count of threads inside the sampled path that a detach waits for, and
 * what the snapshot says about the attach (nmt__attach_describe).
 * Apart from nmt_attach.c so the recorder's core links without the attach.
 */
#include <stdatomic.h>
#include <stdio.h>
#include <time.h>

#include "nmt_attach.h"
#include "nmt_internal.h"

int nmt__attach_dormant;
int nmt__attach_mode;
NMT_READ_MOSTLY uint32_t nmt__attach_session;
_Atomic int nmt__attach_unloads_seen;
struct nmt_attach_info nmt__attach_info;
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

void nmt__attach_describe(void (*add)(void *, const char *, const char *), void *ctx)
{
    if (!nmt__attach_dormant)
        return; /* preloaded: the profile covers the whole process */
    const struct nmt_attach_info *a = &nmt__attach_info;
    char v[32];
    add(ctx, "attach.coverage", "since-attach");
    add(ctx, "attach.via", a->via);
    snprintf(v, sizeof(v), "%llu", (unsigned long long)a->at_ns);
    add(ctx, "attach.at_ns", v);
    snprintf(v, sizeof(v), "%llu", (unsigned long long)a->base_reserved);
    add(ctx, "attach.mmap_baseline_reserved", v);
    snprintf(v, sizeof(v), "%llu", (unsigned long long)a->base_committed);
    add(ctx, "attach.mmap_baseline_committed", v);
}
