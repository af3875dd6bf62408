/*
 * nmt_unwind.c: the fast unwinder over nmt_cfi.h's rules (nmt_unwind.h).
 *
 * The rule cache is a static direct-mapped table shared by all threads.
 * Each entry is a small sequence lock: a word holding the generation of the
 * rule tables (nmt_cfi_generation) and a sequence number that is odd while
 * a thread writes the entry, then the code address and the rule. A reader
 * takes the entry only if that word was even, of the current generation and
 * unchanged after it read the rest: a read that raced with a write, or an
 * entry from before an object was unloaded, is a miss, never a wrong rule.
 * A writer that finds the entry being written leaves it (the rule is just
 * not cached this time), so no thread ever waits for another. Each thread
 * also keeps its last walk (struct nmt_unwind_memo) for the next one to
 * replay.
 */
#include <stdatomic.h>
#include <string.h>

#include "nmt_internal.h"
#include "nmt_unwind.h"

#define CACHE_BITS 13
#define CACHE_SIZE (1u << CACHE_BITS)

struct cache_entry {
    _Atomic uint64_t tag;  /* generation << 32 | sequence (odd: being written) */
    _Atomic uint64_t key;  /* the code address the rule is for */
    _Atomic uint64_t rule; /* struct nmt_cfi_rule, as one word */
    uint64_t pad;          /* 32-byte entries: one never straddles a cache line */
};

static struct cache_entry cache[CACHE_SIZE] __attribute__((aligned(64)));

NMT_HIDDEN uint32_t nmt__rule_cache_slot(uintptr_t key)
{
    return (uint32_t)((uint64_t)key * UINT64_C(0x9e3779b97f4a7c15) >> (64 - CACHE_BITS));
}

static inline struct cache_entry *entry_of(uintptr_t key)
{
    return &cache[nmt__rule_cache_slot(key)];
}

/*
 * A rule as the walk uses it, one word: the low half is the CFA offset
 * (a multiple of 8: rsp and rbp are 8-aligned whenever a call is made, and
 * so is the CFA) with RULE_ON_RBP in bit 0, RULE_END in bit 1 and RULE_NONE
 * in bit 2; the high half is where the caller's rbp is saved, relative to
 * the CFA (0: rbp is unchanged; a saved register is never at the CFA
 * itself).
 */
#define RULE_ON_RBP 1
#define RULE_END    2
#define RULE_NONE   4 /* no rule of this shape in a known object (NOFDE, UNSUPPORTED) */

/* 0 when the rule does not fit the word (the walk then leaves the stack to
 * libunwind: no real frame has such offsets). */
static int encode(const struct nmt_cfi_rule *r, uint64_t *word)
{
    if (r->cfa_reg == NMT_UNWIND_END_MARK) {
        *word = RULE_END;
        return 1;
    }
    if ((r->cfa_reg != NMT_CFI_RSP && r->cfa_reg != NMT_CFI_RBP) || (r->cfa_off & 7) != 0)
        return 0;
    int32_t rbp_off = r->rbp_how == NMT_CFI_AT ? r->rbp_off : 0;
    if ((rbp_off & 7) != 0 || (r->rbp_how == NMT_CFI_AT && rbp_off == 0))
        return 0;
    uint32_t lo = (uint32_t)r->cfa_off | (r->cfa_reg == NMT_CFI_RBP ? RULE_ON_RBP : 0);
    *word = (uint64_t)(uint32_t)rbp_off << 32 | lo;
    return 1;
}

static void decode(uint64_t word, struct nmt_cfi_rule *r)
{
    int32_t lo = (int32_t)(uint32_t)word, rbp_off = (int32_t)(uint32_t)(word >> 32);
    *r = (struct nmt_cfi_rule){.cfa_reg = (lo & RULE_ON_RBP) ? NMT_CFI_RBP : NMT_CFI_RSP,
                               .cfa_off = lo & ~7,
                               .rbp_how = rbp_off != 0 ? NMT_CFI_AT : NMT_CFI_SAME,
                               .rbp_off = (int16_t)rbp_off};
    if (lo & RULE_END)
        *r = (struct nmt_cfi_rule){.cfa_reg = NMT_UNWIND_END_MARK};
    if (lo & RULE_NONE)
        *r = (struct nmt_cfi_rule){.cfa_reg = 0}; /* no register: no rule */
}

/* The entries are a sequence lock: relaxed words between the tag's reads
 * (writes), ordered by fences. ThreadSanitizer does not model fences (gcc
 * refuses them under it when optimizing), so a TSan build makes the words'
 * own loads acquire and stores release instead, which orders them at least
 * as strongly. */
#if defined(__SANITIZE_THREAD__) /* gcc */
#define SEQ_TSAN 1
#elif defined(__has_feature) /* clang */
#if __has_feature(thread_sanitizer)
#define SEQ_TSAN 1
#endif
#endif
#if defined(SEQ_TSAN)
#define SEQ_FENCE(order) ((void)0)
#define SEQ_DATA_LOAD    memory_order_acquire
#define SEQ_DATA_STORE   memory_order_release
#else
#define SEQ_FENCE(order) atomic_thread_fence(order)
#define SEQ_DATA_LOAD    memory_order_relaxed
#define SEQ_DATA_STORE   memory_order_relaxed
#endif

/* The tag of a whole entry of generation gen: the sequence number's low bit
 * (set while written) must be 0, the high half gen. */
#define TAG_CHECK UINT64_C(0xffffffff00000001)

/* 1 and *word when the entry holds key's rule of this generation (want:
 * gen << 32) and was read whole. */
static inline int cache_get(uintptr_t key, uint64_t want, uint64_t *word)
{
    const struct cache_entry *e = entry_of(key);
    uint64_t tag = atomic_load_explicit(&e->tag, memory_order_acquire);
    uint64_t k = atomic_load_explicit(&e->key, SEQ_DATA_LOAD);
    *word = atomic_load_explicit(&e->rule, SEQ_DATA_LOAD);
    SEQ_FENCE(memory_order_acquire);
    return ((tag ^ want) & TAG_CHECK) == 0 && k == key &&
           atomic_load_explicit(&e->tag, memory_order_relaxed) == tag;
}

static void cache_put(uintptr_t key, uint32_t gen, uint64_t word)
{
    struct cache_entry *e = entry_of(key);
    uint64_t tag = atomic_load_explicit(&e->tag, memory_order_relaxed);
    if ((tag & 1) != 0 || !atomic_compare_exchange_strong_explicit(
                              &e->tag, &tag, tag + 1, memory_order_acquire, memory_order_relaxed))
        return;
    SEQ_FENCE(memory_order_release);
    atomic_store_explicit(&e->key, key, SEQ_DATA_STORE);
    atomic_store_explicit(&e->rule, word, SEQ_DATA_STORE);
    uint32_t seq = (uint32_t)tag + 2;
    atomic_store_explicit(&e->tag, (uint64_t)gen << 32 | seq, memory_order_release);
}

NMT_HIDDEN int nmt__rule_cache_get(uintptr_t key, uint32_t gen, struct nmt_cfi_rule *out)
{
    uint64_t word;
    if (!cache_get(key, (uint64_t)gen << 32, &word))
        return 0;
    decode(word, out);
    return 1;
}

NMT_HIDDEN void nmt__rule_cache_put(uintptr_t key, uint32_t gen, const struct nmt_cfi_rule *rule)
{
    uint64_t word;
    if (encode(rule, &word))
        cache_put(key, gen, word);
}

NMT_HIDDEN void *nmt__rule_cache_table(void)
{
    return cache; /* entries start with their tag: an add of 0 to it changes nothing */
}

NMT_HIDDEN size_t nmt__rule_cache_bytes(void)
{
    return sizeof(cache);
}

/*
 * The thread's last walk, kept so that the next one can reuse the part of
 * the stack that has not changed. A state is a frame as the walk met it
 * (the code address its rule is found by, its rsp and rbp) and where its
 * step read the caller's rbp (0: it did not). The step from state j to
 * j + 1 read exactly two words: the return address at sp[j + 1] - 8 (which
 * was key[j + 1] + 1) and the saved rbp at bp_at[j] (which was bp[j + 1]).
 * The rules are those of one generation. So when a new walk reaches a
 * state equal to a kept one, and those words still hold what they held,
 * the walk from there gives the same frames without a rule: replay()
 * checks the words and copies the frames. Every word it reads was inside
 * this thread's stack, above the state the new walk reached. The kept walk
 * (struct nmt_unwind_memo) lives in the thread's slot.
 *
 * A walk in progress: the frame to unwind next (its state, index i), the
 * end of the readable stack, what was found so far, and the kept walk
 * (memo) with the first of its states not below this one (mi) and how many
 * of them may still be matched (mn).
 */
struct walk {
    uintptr_t key, sp, bp;
    uintptr_t hi;      /* words below hi may be read (and above sp) */
    uint64_t want_tag; /* a cache entry's tag for this generation (cache_get) */
    uint64_t rule;     /* with given: the rule for key (encode), not from the cache */
    int given;
    int n, max;
    int cut;   /* stopped at max with frames left */
    int ended; /* stopped at an END rule */
    void **out;
    int i, mi, mn;
    struct nmt_unwind_memo *memo;
};

enum { WALK_DONE, WALK_MISS, WALK_BAD, WALK_MEMO };

/*
 * The walk over cached rules: per frame, the rule for w->key (w->given's
 * for the first, when set), CFA = rsp or rbp + offset, the return address
 * at CFA - 8, the caller's rsp = CFA, its rbp unchanged or read from its
 * save slot. The CFA must lie above rsp, below hi and 8-aligned, and the
 * save slot inside the frame (from rsp to CFA - 8): every word read is in
 * the stack; a frame whose address has no rule (RULE_NONE) is WALK_BAD.
 * Each state is kept in the memo (over the old walk's states,
 * which can no longer match once one is overwritten). WALK_MISS: no cached
 * rule for w->key, whose frame is then w's (the caller finds the rule and
 * goes on); WALK_MEMO: w's frame is the kept state w->mi. It calls
 * nothing, so that the walk keeps its state in registers.
 */
static NMT_NO_ASAN NMT_NOINLINE int walk_cached(struct walk *w)
{
    uintptr_t key = w->key, sp = w->sp, bp = w->bp, hi = w->hi;
    const uint64_t want = w->want_tag;
    uint64_t word = w->rule;
    void **o = w->out + w->n, **end = w->out + w->max;
    struct nmt_unwind_state *st = w->memo->st;
    int i = w->i, mi = w->mi, mn = w->mn, ret;
    if (w->given) {
        w->given = 0;
        goto have_rule;
    }
    for (;;) {
        while (mi < mn && st[mi].sp < sp)
            mi++;
        if (mi < mn && st[mi].sp == sp) {
            if (st[mi].key == key && st[mi].bp == bp) {
                ret = WALK_MEMO;
                break;
            }
            mi++;
        }
        if (i >= mi)
            mi = mn = 0;
        if (i < NMT_UNWIND_MEMO_MAX)
            st[i] = (struct nmt_unwind_state){key, sp, bp, 0};
        if (!cache_get(key, want, &word)) {
            ret = WALK_MISS;
            break;
        }
    have_rule:
        ret = WALK_DONE;
        int32_t lo = (int32_t)(uint32_t)word;
        if (lo & (RULE_END | RULE_NONE)) {
            if (lo & RULE_NONE)
                ret = WALK_BAD;
            else
                w->ended = 1;
            break;
        }
        uintptr_t cfa = ((lo & RULE_ON_RBP) ? bp : sp) + (uintptr_t)(intptr_t)(lo & ~7);
        ret = WALK_BAD;
        if (cfa - sp - 1 >= hi - sp || (cfa & 7) != 0)
            break;
        int32_t rbp_off = (int32_t)(uint32_t)(word >> 32);
        if (rbp_off != 0) {
            uintptr_t at = cfa + (uintptr_t)(intptr_t)rbp_off;
            if (at - sp > cfa - 8 - sp)
                break;
            bp = *(const uintptr_t *)at;
            if (i < NMT_UNWIND_MEMO_MAX)
                st[i].bp_at = at;
        }
        uintptr_t ip = *(const uintptr_t *)(cfa - 8);
        sp = cfa;
        ret = WALK_DONE;
        if (ip < 4096)
            break;
        if (o == end) {
            w->cut = 1;
            break;
        }
        *o++ = (void *)ip;
        key = ip - 1;
        i++;
    }
    w->key = key, w->sp = sp, w->bp = bp, w->n = (int)(o - w->out);
    w->i = i, w->mi = mi, w->mn = mn;
    return ret;
}

/* The walk's state w->i equals the kept state w->mi (and w->i <= w->mi:
 * walk_cached only writes below mi, so the kept states from mi on are
 * intact). The kept
 * states from there move to w->i, and each step after it is taken again
 * from the memo while the two words it read are unchanged. The walk then
 * goes on from the last state checked, matching nothing more. 1 when it is
 * over: the output is full, or the last kept state, reached, was the
 * outermost frame (END). */
static NMT_NO_ASAN int replay(struct walk *w)
{
    struct nmt_unwind_memo *m = w->memo;
    int to = w->i, count = m->n - w->mi;
    if (to != w->mi)
        memmove(&m->st[to], &m->st[w->mi], sizeof(m->st[0]) * (size_t)count);
    int last = to + count - 1, j = to;
    void **o = w->out + w->n, **end = w->out + w->max;
    for (; j < last; j++) {
        const struct nmt_unwind_state *a = &m->st[j], *b = a + 1;
        if (*(const uintptr_t *)(b->sp - 8) != b->key + 1 ||
            (a->bp_at != 0 && *(const uintptr_t *)a->bp_at != b->bp))
            break;
        if (o == end) {
            w->n = (int)(o - w->out), w->cut = 1, w->i = last;
            return 1;
        }
        *o++ = (void *)(b->key + 1);
    }
    w->n = (int)(o - w->out);
    if (j == last && m->ended) {
        w->i = last, w->ended = 1;
        return 1;
    }
    w->key = m->st[j].key, w->sp = m->st[j].sp, w->bp = m->st[j].bp;
    w->i = j, w->mi = w->mn = 0;
    return 0;
}

/*
 * The usual case at rate 1, without the walk's bookkeeping: the frame the
 * walk starts from (key, sp, bp) is the kept walk's first state, the kept
 * walk reached the outermost frame, out[] has room for all of it, and every
 * step it took still reads the same two words (as in replay). The frames go
 * to out[n..]; the kept walk stays as it is, being the same walk. Returns
 * the number of frames in out[], or -1: the general walk takes it.
 */
static inline NMT_NO_ASAN int replay_whole(void **out, int n, int max, uintptr_t key, uintptr_t sp,
                                           uintptr_t bp, const struct nmt_unwind_memo *m)
{
    const struct nmt_unwind_state *a = m->st;
    if (!m->ended || m->n <= 0 || a->sp != sp || a->key != key || a->bp != bp || max - n < m->n - 1)
        return -1;
    const struct nmt_unwind_state *stop = a + m->n - 1;
    void **o = out + n;
    for (; a < stop; a++) {
        uintptr_t ret = a[1].key + 1;
        if (*(const uintptr_t *)(a[1].sp - 8) != ret ||
            (a->bp_at != 0 && *(const uintptr_t *)a->bp_at != a[1].bp))
            return -1;
        *o++ = (void *)ret;
    }
    return (int)(o - out);
}

/* The rule for w->key from the tables, cached, and given to the walk for
 * its next step (the cache may not have kept it). 0: no rule of this shape:
 * the stack is libunwind's. */
static int find_rule(struct walk *w, uint32_t gen)
{
    struct nmt_cfi_rule r;
    enum nmt_cfi_result res = nmt_cfi_find(w->key, &r);
    /* JIT code or the interpreter: the JVM bridge's Java frames replace the
     * stack from here on, and libunwind would only wander through it. */
    if (res == NMT_CFI_NOMODULE && nmt_jvm_in_code != NULL && nmt_jvm_in_code(w->key))
        res = NMT_CFI_END;
    if (res == NMT_CFI_END)
        r = (struct nmt_cfi_rule){.cfa_reg = NMT_UNWIND_END_MARK};
    if (res == NMT_CFI_NOMODULE)
        return 0; /* not kept: the object may be one nmt_cfi.c has not seen yet */
    if (res != NMT_CFI_OK && res != NMT_CFI_END) {
        cache_put(w->key, gen, RULE_NONE); /* holds for this generation */
        return 0;
    }
    if (!encode(&r, &w->rule)) {
        cache_put(w->key, gen, RULE_NONE);
        return 0;
    }
    cache_put(w->key, gen, w->rule);
    w->given = 1;
    return 1;
}

/* What the walk that just ended leaves for the next one. */
static void memo_keep(struct nmt_unwind_memo *m, const struct walk *w, uint32_t gen)
{
    m->n = w->i < NMT_UNWIND_MEMO_MAX ? w->i + 1 : NMT_UNWIND_MEMO_MAX;
    m->ended = w->ended && w->i < NMT_UNWIND_MEMO_MAX;
    m->gen = gen;
    m->hi = w->hi;
}

/* Without this function in [self_lo, self_lo + self_len) (a test that
 * names only part of the recorder as its own), the walk output the frames
 * that return into it: they go now. */
static int drop_own(void **out, int n, uintptr_t self_lo, uintptr_t self_len)
{
    int i = 0;
    while (i < n && (uintptr_t)out[i] - self_lo < self_len)
        i++;
    memmove(out, out + i, sizeof(void *) * (size_t)(n - i));
    return n - i;
}

/*
 * The walk after the recorder's own frames: from the frame (key, sp, bp)
 * with out[0..n) found so far (crossed: the recorder's frames were crossed
 * by frame pointers; otherwise only nmt__fast_unwind's own was, and the
 * frames that return into the recorder are dropped from the output at the
 * end).
 */
static NMT_NO_ASAN NMT_NOINLINE int walk_from(void **out, int max, struct nmt_unwind_span *span,
                                              uintptr_t key, uintptr_t sp, uintptr_t bp, int n,
                                              int crossed)
{
    struct nmt_unwind_memo scratch; /* without a slot: kept for no one */
    struct walk w;
    w.hi = span->stack_hi, w.out = out, w.max = max, w.memo = span->memo;
    if (w.memo == NULL) {
        scratch.n = 0;
        scratch.walks = 0;
        w.memo = &scratch;
    }
    struct nmt_unwind_memo *const memo = w.memo;
    memo->walks++; /* its states are written over from here on */
    w.n = n, w.cut = w.ended = w.given = w.i = w.mi = 0;
    w.key = key, w.sp = sp, w.bp = bp;
    const uintptr_t self_lo = span->self_lo, self_len = span->self_hi - span->self_lo;
    uint32_t gen = nmt_cfi_generation();
    w.want_tag = (uint64_t)gen << 32;
    w.mn = memo->gen == gen && memo->hi == w.hi ? memo->n : 0;
    /* The same frame as last time: no walk to find it. */
    int r = w.mn > 0 && memo->st[0].sp == w.sp && memo->st[0].key == w.key && memo->st[0].bp == w.bp
                ? WALK_MEMO
                : -1;
    for (;; r = -1) {
        if (r < 0)
            r = walk_cached(&w);
        if (r == WALK_MEMO && !replay(&w))
            continue;
        if (r == WALK_DONE || r == WALK_MEMO) {
            span->cut = w.cut;
            memo_keep(memo, &w, gen);
            return crossed ? w.n : drop_own(out, w.n, self_lo, self_len);
        }
        if (r == WALK_BAD || !find_rule(&w, gen)) {
            memo->n = 0;
            return NMT_UNWIND_FALLBACK;
        }
    }
}

/*
 * From this function's own frame, by its frame pointer, so that it needs
 * nothing of how the caller was compiled. The recorder's own frames at the
 * top of the stack (code in [self_lo, self_hi), built with frame pointers,
 * each in the middle of a call) are crossed by their frame pointers, from
 * span->start_fp when given, and not output; the first frame outside it
 * and all after it by the rules (walk_from), or, the usual case at rate 1,
 * all at once from the thread's last walk (replay_whole). It reads other
 * functions' frames, redzones included in an ASan build: no ASan checks
 * (NMT_NO_ASAN).
 */
NMT_HIDDEN NMT_NO_ASAN NMT_NOINLINE int nmt__fast_unwind(void **out, int max,
                                                         struct nmt_unwind_span *span)
{
#if defined(__x86_64__)
    /* This function's own frame, set up by then (a register read could be
     * scheduled before the prologue). */
    const uintptr_t own = (uintptr_t)__builtin_frame_address(0), hi = span->stack_hi;
    span->cut = 0;
    span->replayed = 0;
    if (own >= hi || hi - own < 16 || (own & 7) != 0)
        return NMT_UNWIND_FALLBACK;
    const uintptr_t self_lo = span->self_lo, self_len = span->self_hi - span->self_lo;
    /* Each saved rbp must lie above the last frame: the walk ends. Without
     * this function among the recorder's own (a test names part of it),
     * only its own frame (or start_fp's) is crossed here and the walk drops
     * the recorder's frames at the end. */
    int crossed = (uintptr_t)&nmt__fast_unwind - self_lo < self_len;
    uintptr_t fp = span->start_fp != 0 ? span->start_fp : own, sp = own, top = hi - 16;
    uintptr_t ip;
    do {
        if (fp < sp || fp > top)
            return NMT_UNWIND_FALLBACK;
        ip = ((const uintptr_t *)fp)[1];
        sp = fp + 16;
        fp = ((const uintptr_t *)fp)[0];
    } while (crossed && ip - self_lo < self_len);
    if (ip < 4096)
        return 0;
    if (max == 0) {
        span->cut = 1;
        return 0;
    }
    out[0] = (void *)ip;
    const struct nmt_unwind_memo *m = span->memo;
    if (crossed && m != NULL && m->gen == nmt_cfi_generation() && m->hi == hi) {
        int whole = replay_whole(out, 1, max, ip - 1, sp, fp, m);
        if (whole >= 0) {
            span->replayed = m->walks;
            return whole;
        }
    }
    return walk_from(out, max, span, ip - 1, sp, fp, 1, crossed);
#else
    (void)out;
    (void)max;
    (void)span;
    return NMT_UNWIND_FALLBACK;
#endif
}
