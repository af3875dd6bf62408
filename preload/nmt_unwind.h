/*
 * nmt_unwind.h: the recorder's fast native unwinder, for the sampled path
 * (nmt__capture in nmt_capture.c).
 *
 * It walks the calling thread's stack with the call-frame rules of
 * nmt_cfi.h, kept in a global cache keyed by code address, so that a stack
 * whose return addresses were seen before costs a few loads per frame and
 * no call into the rule tables; the part of the stack that the thread's
 * previous walk also crossed, unchanged, is taken from that walk. Any frame it cannot unwind by
 * those rules (no loaded object, no table entry, a rule of another shape, a read that would leave
 * the stack) makes it give up, and the caller takes the whole stack again with libunwind, the
 * reference.
 */
#ifndef NMT_UNWIND_H
#define NMT_UNWIND_H

#include <stddef.h>
#include <stdint.h>

#include "nmt_cfi.h"

/* nmt__fast_unwind's answer when libunwind must take the stack instead. */
#define NMT_UNWIND_FALLBACK (-1)

/* The thread's last walk, for the next one to replay (nmt_unwind.c): its
 * frames as states (the code address a frame's rule is found by, its rsp
 * and rbp, where its step read the caller's rbp). Kept in the thread's slot
 * (struct nmt_thread), not in TLS, whose static part is scarce for a
 * library loaded late; zeroed memory is an empty one. */
#define NMT_UNWIND_MEMO_MAX 32
struct nmt_unwind_state {
    uintptr_t key, sp, bp, bp_at;
};
struct nmt_unwind_memo {
    uint64_t walks; /* walks that may have changed what is kept: the kept walk is
                     * the same while this is */
    uint32_t gen;   /* the rules' generation */
    int n;          /* states kept */
    int ended;      /* the last one's rule was END */
    uintptr_t hi;   /* the stack's end the walk was bounded by */
    struct nmt_unwind_state st[NMT_UNWIND_MEMO_MAX];
};

/* What the walk may read and what it skips: the stack from the walk's own
 * frame up to stack_hi, the end of the mapped part of the calling thread's
 * stack (0: unknown, which falls back); and the recorder's own code,
 * [self_lo, self_hi), whose frames at the top of the stack are not output.
 * cut is set on return: the walk stopped at max with frames left.
 * start_fp, when not 0, is the frame address (saved rbp slot) of a live
 * frame of the recorder's own between the walk and the application, with
 * frame pointers: the walk crosses the recorder's frames from there rather
 * than from its own, skipping those below it. */
struct nmt_unwind_span {
    uintptr_t stack_hi;
    uintptr_t self_lo, self_hi;
    struct nmt_unwind_memo *memo; /* the thread's last walk; NULL: none */
    int cut;
    uintptr_t start_fp;
    /* Set on return: memo->walks when the frames are those of the kept
     * walk, replayed whole without changing it (so two walks that answer
     * the same number here output the same frames); 0 otherwise. */
    uint64_t replayed;
};

/* Fills out[] (room for max) with the return addresses of the frames of the
 * calling thread, innermost first, after those at the top that return into
 * [self_lo, self_hi), out to the outermost frame. Returns the number of
 * frames, or NMT_UNWIND_FALLBACK. No lock, no system call, no allocation
 * once the rules it needs are cached. */
NMT_HIDDEN int nmt__fast_unwind(void **out, int max, struct nmt_unwind_span *span);

/* The rule cache (exposed for tests). get: 1 and *out when a rule for key,
 * stored under generation gen, is there and was read whole. put: stores it
 * unless another thread is storing into the same entry at that moment. A
 * rule whose cfa_reg is NMT_UNWIND_END_MARK stands for NMT_CFI_END. */
#define NMT_UNWIND_END_MARK 0xff
NMT_HIDDEN int nmt__rule_cache_get(uintptr_t key, uint32_t gen, struct nmt_cfi_rule *out);
NMT_HIDDEN void nmt__rule_cache_put(uintptr_t key, uint32_t gen, const struct nmt_cfi_rule *rule);

/* The cache entry key goes to (tests make keys that share one). */
NMT_HIDDEN uint32_t nmt__rule_cache_slot(uintptr_t key);

/* The cache's static table and its bytes (counted in rec.own_fixed): for
 * the writer's prefault (nmt_prefault.c), which may add 0 to the 64-bit
 * word at the start of any entry, and nothing else. */
NMT_HIDDEN void *nmt__rule_cache_table(void);
NMT_HIDDEN size_t nmt__rule_cache_bytes(void);

#endif
