/*
 * nmt_state.c: the definitions of the recorder's shared state (nmt_state.h).
 *
 * Only data, and the two operations on it that every layer needs: waking the
 * writer and resetting the counters a fork child starts afresh. Nothing here
 * calls into another module of the recorder.
 */
#include <errno.h>

#include "nmt_state.h"

NMT_HIDDEN NMT_READ_MOSTLY _Atomic int nmt__state;
NMT_HIDDEN NMT_READ_MOSTLY _Atomic int nmt__disabled;
NMT_HIDDEN struct nmt_seq nmt__seq = {1};
NMT_HIDDEN struct nmt_addrfilter nmt__filter;
NMT_HIDDEN struct nmt_liveset nmt__liveset;
NMT_HIDDEN NMT_READ_MOSTLY int nmt__exact;
NMT_HIDDEN NMT_READ_MOSTLY int nmt__every;
NMT_HIDDEN NMT_READ_MOSTLY int nmt__seq_clock;
NMT_HIDDEN NMT_READ_MOSTLY uintptr_t nmt__self_lo, nmt__self_hi;
/* Aligned to a line, so that the native path's read-mostly words share one:
 * the section starts with this file's words (linked before the other files
 * that define some), and gcc emits a file's words in reverse order, this one
 * (defined last) first. Were another first, the alignment would only add
 * padding. */
NMT_HIDDEN NMT_READ_MOSTLY _Alignas(64) _Atomic int nmt__child_pending;
NMT_HIDDEN uint64_t nmt__start_realtime, nmt__start_monotonic;

NMT_HIDDEN struct nmt_wake nmt__bell;
NMT_HIDDEN _Atomic int nmt__main_exited;

__thread struct nmt_tls nmt__tls __attribute__((tls_model("initial-exec")));

NMT_HIDDEN struct nmt_counters nmt__ctr;

NMT_HIDDEN void nmt__writer_wake(void)
{
    int saved = errno;
    nmt_wake_nudge(&nmt__bell); /* rare: always worth a pass */
    errno = saved;
}

NMT_HIDDEN void nmt__rate_mode(uint64_t rate)
{
    nmt__exact = rate > 1;
    nmt__every = rate <= 1;
}

NMT_HIDDEN void nmt__counters_after_fork(void)
{
    atomic_store_explicit(&nmt__ctr.ring_waits, 0, memory_order_relaxed);
    atomic_store_explicit(&nmt__ctr.ring_wait_ns, 0, memory_order_relaxed);
    atomic_store_explicit(&nmt__ctr.ring_wait_stalls, 0, memory_order_relaxed);
    nmt__ctr.internal_errors = nmt__ctr.write_errors = 0;
    nmt__ctr.dead_drops = nmt__ctr.dead_drop_bytes = nmt__ctr.dead_free_drops = 0;
}
