/*
 * nmt_jvm_state.c: the JVM bridge's shared state (nmt_jvm_internal.h says
 * what each variable means) and its counters. The bridge's life cycle
 * (nmt_jvm.c) writes the state; the sampled path (nmt_jvm_stack.c) reads it;
 * every bridge file counts. Defined apart so that the files depend on this
 * one and not on each other through it.
 */
#include <pthread.h>

#include "nmt_jvm_internal.h"
#include "nmt_state.h"

#define NSTRIPES 16

NMT_READ_MOSTLY _Atomic int nmt__jvm_state = NMT_JVM_WAITING;
NMT_READ_MOSTLY _Atomic(nmt__asgct_fn) nmt__jvm_asgct;
JavaVM *_Atomic nmt__jvm_vm;
NMT_READ_MOSTLY _Atomic int nmt__jvm_found;
_Atomic int nmt__jvm_via;

/* The counters are striped by thread, so that the sampled path rarely
 * writes a cache line another thread uses. */
struct stripe {
    _Atomic uint64_t v[NMT_JST_COUNT];
} __attribute__((aligned(64)));
static struct stripe stripes[NSTRIPES];

static inline struct stripe *my_stripe(void)
{
    uint64_t h = (uint64_t)pthread_self() * 0x9e3779b97f4a7c15ull;
    return &stripes[h >> 60];
}

void nmt__jvm_count(enum nmt__jvm_stat s, uint64_t v)
{
    atomic_fetch_add_explicit(&my_stripe()->v[s], v, memory_order_relaxed);
}

uint64_t nmt__jvm_stat_get(enum nmt__jvm_stat s)
{
    uint64_t sum = 0;
    for (int i = 0; i < NSTRIPES; i++)
        sum += atomic_load_explicit(&stripes[i].v[s], memory_order_relaxed);
    return sum;
}
