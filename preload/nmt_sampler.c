/*
 * nmt_sampler.c: seeding, exponential gaps and weights for the byte sampler
 * (nmt_sampler.h). Runs on the sampled path only; it never allocates and
 * never makes a system call. The gap's logarithm is computed here rather
 * than by libm's log(): a sample is rare, so libm's code, its table and the
 * PLT entry that reaches it were each a cold cache line (and TLB entry) per
 * sample; the weights, computed by the writer, still use libm.
 */
#include "nmt_sampler.h"

#include <math.h>
#include <string.h>

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

#define LN2   0.6931471805599453094
#define SQRT2 1.4142135623730950488

/* Inline in the gap draw; nmt_sampler_neg_log_unit for the tests. */
static inline double neg_log_unit(uint64_t bits)
{
    /* bits = 2^e * x with x in [1, 2), exactly: bits (at most 2^53) is a
     * double without rounding, whose exponent field is e; the mantissa with
     * a zero exponent is x. */
    double d = (double)bits;
    uint64_t w;
    memcpy(&w, &d, sizeof(w));
    int e = (int)(w >> 52) - 1023;
    w = (w & ((UINT64_C(1) << 52) - 1)) | (UINT64_C(1023) << 52);
    double x;
    memcpy(&x, &w, sizeof(x));
    if (x > SQRT2) { /* x in [1/sqrt2, sqrt2): |s| below 0.172 */
        x *= 0.5;
        e++;
    }
    /* ln x = 2 atanh(s) = 2 (s + s^3/3 + s^5/5 + ...), s = (x-1)/(x+1); the
     * first term left out, 2 s^17/17, is below 2e-14. */
    double s = (x - 1.0) / (x + 1.0), z = s * s;
    double p = 1.0 / 15;
    p = 1.0 / 13 + z * p;
    p = 1.0 / 11 + z * p;
    p = 1.0 / 9 + z * p;
    p = 1.0 / 7 + z * p;
    p = 1.0 / 5 + z * p;
    p = 1.0 / 3 + z * p;
    double ln_x = 2.0 * s * (1.0 + z * p);
    /* -ln(bits / 2^53) = 53 ln 2 - (e ln 2 + ln x) */
    return (double)(53 - e) * LN2 - ln_x;
}

double nmt_sampler_neg_log_unit(uint64_t bits)
{
    return neg_log_unit(bits);
}

int64_t nmt_sampler_next_gap(uint64_t state[2], uint64_t rate)
{
    if (rate <= 1)
        return 1;
    /* The top 53 bits plus one, scaled by 2^-53, are uniform on (0, 1]:
     * never 0, so the logarithm is finite (at most 53 ln 2 ~ 36.7). */
    uint64_t bits = (nmt_sampler_next_u64(state) >> 11) + 1;
    double gap = neg_log_unit(bits) * (double)rate;
    if (!(gap < (double)NMT_SAMPLER_GAP_MAX))
        return NMT_SAMPLER_GAP_MAX;
    /* Rounding up, never down: see the countdown convention in the header.
     * gap is at least 0 and below 2^62: truncation is its floor. */
    int64_t up = (int64_t)gap;
    up += (double)up < gap;
    return up < 1 ? 1 : up;
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
