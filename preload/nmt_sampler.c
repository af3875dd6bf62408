/*
 * nmt_sampler.c: seeding, exponential gaps and weights for the byte sampler
 * (nmt_sampler.h). Runs on the sampled path only, so it may use libm; it
 * never allocates and never makes a system call.
 */
#include "nmt_sampler.h"

#include <math.h>

/* splitmix64: turns any 64-bit input, including 0, into a well-mixed value.
 * Used only to derive xorshift states from (seed, serial). */
static uint64_t splitmix64(uint64_t *x)
{
    uint64_t z = (*x += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

void nmt_sampler_seed(uint64_t state[2], uint64_t seed, uint64_t thread_serial)
{
    uint64_t x = seed ^ (thread_serial * 0xD1342543DE82EF95ull);
    /* Mixing the serial through its own splitmix step keeps (seed, serial)
     * and (seed', serial') from colliding by simple xor cancellation. */
    uint64_t y = thread_serial;
    x ^= splitmix64(&y);
    state[0] = splitmix64(&x);
    state[1] = splitmix64(&x);
    if (state[0] == 0 && state[1] == 0)
        state[1] = 0x9E3779B97F4A7C15ull;
}

int64_t nmt_sampler_next_gap(uint64_t state[2], uint64_t rate)
{
    if (rate <= 1)
        return 1;
    /* The top 53 bits plus one, scaled by 2^-53, are uniform on (0, 1]:
     * never 0, so the logarithm is finite (at most 53 ln 2 ~ 36.7). */
    uint64_t bits = (nmt_sampler_next_u64(state) >> 11) + 1;
    double u = (double)bits * (1.0 / 9007199254740992.0);
    double gap = -log(u) * (double)rate;
    if (!(gap < (double)NMT_SAMPLER_GAP_MAX))
        return NMT_SAMPLER_GAP_MAX;
    /* Rounding up, never down: see the countdown convention in the header. */
    double up = ceil(gap);
    return up < 1.0 ? 1 : (int64_t)up;
}

double nmt_sampler_weight(uint64_t size, uint64_t rate)
{
    if (rate <= 1)
        return 1.0;
    if (size == 0)
        size = 1;
    /* 1 - exp(-x) = -expm1(-x) keeps full precision when size << rate,
     * where the weight is large and 1 - exp(-x) would cancel badly. */
    double p = -expm1(-(double)size / (double)rate);
    if (p <= 0.0)
        return (double)rate / (double)size;
    return 1.0 / p;
}
