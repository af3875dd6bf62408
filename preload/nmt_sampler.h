/*
 * nmt_sampler.h: byte-based Poisson sampling of allocations.
 *
 * Each thread counts down an exponentially distributed number of bytes whose
 * mean is the sampling rate; the allocation that crosses zero is sampled and
 * stands for 1 / (1 - exp(-size/rate)) allocations of its size. This is the
 * scheme of jemalloc's and tcmalloc's heap profilers: the probability that an
 * allocation of s bytes is sampled is exactly 1 - exp(-s/rate), so weighting
 * each sample by the inverse of that probability gives unbiased estimates of
 * both bytes and object counts.
 *
 * The random generator is xorshift128+, one 16-byte state per thread. The
 * caller keeps the state (in thread-local storage) and the countdown itself.
 */
#ifndef NMT_SAMPLER_H
#define NMT_SAMPLER_H

#include <stdatomic.h>
#include <stdint.h>

/* Largest gap ever returned: far above any real rate, far below overflow of
 * an int64_t countdown that subtracts a size_t. */
#define NMT_SAMPLER_GAP_MAX (INT64_C(1) << 62)

/* Fills state from (seed, thread_serial): equal inputs give equal streams,
 * different serials give unrelated streams. A seed of 0 is fine; the state is
 * never all-zero (xorshift's only fixed point). */
void nmt_sampler_seed(uint64_t state[2], uint64_t seed, uint64_t thread_serial);

/* xorshift128+ (Vigna): 64 random bits. Fast, not cryptographic. */
static inline uint64_t nmt_sampler_next_u64(uint64_t state[2])
{
    uint64_t s1 = state[0];
    const uint64_t s0 = state[1];
    state[0] = s0;
    s1 ^= s1 << 23;
    state[1] = s1 ^ s0 ^ (s1 >> 17) ^ (s0 >> 26);
    return state[1] + s0;
}

/* The next countdown: ceil(-ln(U) * rate) with U uniform in (0, 1], so at
 * least 1, and at most NMT_SAMPLER_GAP_MAX. rate <= 1 returns 1 (the caller
 * treats rate 1 as "sample every allocation with weight 1").
 *
 * The countdown convention that makes the weights exact is
 *     if ((countdown -= size) <= 0) { sample; countdown = next_gap(); }
 * (equivalently: sample when size >= countdown). With the gap rounded up,
 * P(sampled) = P(X <= size) = 1 - exp(-size/rate) for an exponential X, for
 * the first allocation after a sample as for every later one. Sampling only
 * below zero would make it 1 - exp(-(size-1)/rate) for every allocation:
 * a 16-byte allocation would be sampled 6% less often than its weight says,
 * and a 1-byte one never. */
int64_t nmt_sampler_next_gap(uint64_t state[2], uint64_t rate);

/* -ln(bits / 2^53) for bits in [1, 2^53]: the gap's exponential variate
 * for the uniform (0, 1] draw bits / 2^53, without libm (within 1e-13 of
 * log()'s answer, so the gaps keep their distribution). */
double nmt_sampler_neg_log_unit(uint64_t bits);

/* The convention as the hooks run it: takes size bytes off *countdown and
 * returns 1, unless they reach its end (size >= countdown): then 0, with the
 * countdown untouched, and the allocation is the caller's to sample before
 * it draws the next gap. Compared as signed, so that a lost countdown (below)
 * always answers 0. The signal fence makes the subtraction read the
 * countdown again: gcc then subtracts in memory, one instruction that a
 * signal handler cannot split (`cmp %rdi,%fs:(%rax)`, `jle`,
 * `sub %rdi,%fs:(%rax)`: malloc's whole test, docs/PERFORMANCE.md). */
static inline int nmt_countdown_take(uint64_t *countdown, uint64_t size)
{
    if (__builtin_expect((int64_t)size >= (int64_t)*countdown, 0))
        return 0;
    atomic_signal_fence(memory_order_seq_cst);
    *countdown -= size;
    return 1;
}

/* 1 for a countdown that no draw gave: below zero. A signal handler's
 * allocation between another's compare and subtraction puts it there, and so
 * does an allocation of 2^63 bytes or more (which fails). The caller draws
 * afresh, which the exponential's lack of memory makes exact; an unsigned
 * countdown would instead have wrapped to a value no allocation reaches. */
static inline int nmt_countdown_lost(uint64_t countdown)
{
    return (int64_t)countdown < 0;
}

/* The weight of a sampled allocation of `size` bytes: 1 / (1 - exp(-size/rate)).
 * Exactly 1.0 when rate <= 1; a size of 0 counts as 1 byte. */
double nmt_sampler_weight(uint64_t size, uint64_t rate);

#endif
