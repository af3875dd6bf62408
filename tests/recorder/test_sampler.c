/*
 * test_sampler.c: units for the byte sampler (preload/nmt_sampler.c).
 *
 * The statistical checks use fixed seeds, so they are deterministic; their
 * tolerances are several standard errors wide for the sample sizes used.
 */
#include <criterion/criterion.h>
#include <math.h>
#include <stdint.h>

#include "../../preload/nmt_sampler.h"

/* The countdown as the recorder's hooks run it: nmt_countdown_take() on the
 * fast path, a fresh gap after each sample. */
struct countdown {
    uint64_t rng[2];
    uint64_t left;
    uint64_t rate;
};

static void cd_init(struct countdown *c, uint64_t rate, uint64_t seed)
{
    nmt_sampler_seed(c->rng, seed, 1);
    c->rate = rate;
    c->left = (uint64_t)nmt_sampler_next_gap(c->rng, rate);
}

static int cd_take(struct countdown *c, uint64_t size)
{
    if (nmt_countdown_take(&c->left, size))
        return 0;
    c->left = (uint64_t)nmt_sampler_next_gap(c->rng, c->rate);
    return 1;
}

/* The convention at its edges: the end is reached when size >= countdown,
 * then nothing is taken; 0 is always the end, for a size of 0 too (a thread
 * not yet drawn, and rate 1, take every allocation to the slow path). */
Test(sampler, countdown_take_edges)
{
    uint64_t c = 100;
    cr_assert(nmt_countdown_take(&c, 99));
    cr_assert_eq(c, 1);
    cr_assert_not(nmt_countdown_take(&c, 1));
    cr_assert_eq(c, 1, "nothing taken at the end");
    c = 0;
    cr_assert_not(nmt_countdown_take(&c, 0));
    cr_assert_not(nmt_countdown_take(&c, 16));
    c = (uint64_t)NMT_SAMPLER_GAP_MAX;
    cr_assert(nmt_countdown_take(&c, 1u << 30));
    cr_assert_not(nmt_countdown_lost(c));
}

/* A signal handler's allocation between another's compare and subtraction
 * can push the countdown below zero: it is then lost, and every allocation
 * reaches the slow path (which draws afresh) instead of none ever again. */
Test(sampler, countdown_below_zero_is_lost_not_wrapped)
{
    uint64_t c = 100;
    cr_assert(50 < c);                     /* the interrupted malloc(50) compared */
    cr_assert(nmt_countdown_take(&c, 80)); /* the handler's malloc(80) */
    c -= 50;                               /* the interrupted one subtracts */
    cr_assert(nmt_countdown_lost(c));
    cr_assert_not(nmt_countdown_take(&c, 0));
    cr_assert_not(nmt_countdown_take(&c, 16));
    /* An allocation of 2^63 bytes or more (it fails) loses it as well. */
    c = 100;
    cr_assert(nmt_countdown_take(&c, 1ull << 63));
    cr_assert(nmt_countdown_lost(c));
}

static void check_mean_gap(uint64_t rate)
{
    uint64_t st[2];
    nmt_sampler_seed(st, 42, 7);
    double sum = 0;
    const int n = 1000000;
    for (int i = 0; i < n; i++) {
        int64_t g = nmt_sampler_next_gap(st, rate);
        cr_assert(g >= 1);
        sum += (double)g;
    }
    double mean = sum / n;
    cr_assert(fabs(mean - (double)rate) < 0.01 * (double)rate, "rate %lu mean %f", rate, mean);
}

/* The gap's logarithm (no libm) against log(): within 1e-13 at the ends of
 * its range, at powers of two, on both sides of each sqrt(2) step, and over
 * a million random draws. Its exponential distribution is log()'s. */
static void check_neg_log(uint64_t bits, double *worst)
{
    double want = -log((double)bits / 9007199254740992.0);
    double err = fabs(nmt_sampler_neg_log_unit(bits) - want);
    cr_assert(err < 1e-13, "bits %lu: %.17g, log() says %.17g", bits,
              nmt_sampler_neg_log_unit(bits), want);
    if (err > *worst)
        *worst = err;
}

Test(sampler, neg_log_matches_libm)
{
    double worst = 0;
    cr_assert_eq(nmt_sampler_neg_log_unit(UINT64_C(1) << 53), 0.0);
    for (int e = 0; e <= 53; e++) {
        uint64_t p = UINT64_C(1) << e;
        check_neg_log(p, &worst);
        if (p > 1)
            check_neg_log(p - 1, &worst);
        if (e < 53)
            check_neg_log(p + 1, &worst);
        uint64_t r = (uint64_t)((double)p * 1.4142135623730951);
        for (uint64_t d = 0; e >= 2 && e < 53 && d < 3; d++) {
            check_neg_log(r - d, &worst);
            check_neg_log(r + d, &worst);
        }
    }
    uint64_t st[2];
    nmt_sampler_seed(st, 17, 17);
    for (int i = 0; i < 1000000; i++)
        check_neg_log((nmt_sampler_next_u64(st) >> 11) + 1, &worst);
    cr_log_info("largest difference to log(): %.3g", worst);
}

Test(sampler, mean_gap_within_one_percent)
{
    check_mean_gap(512 * 1024);
    check_mean_gap(4096);
    check_mean_gap(100);
}

Test(sampler, small_rates)
{
    uint64_t st[2];
    nmt_sampler_seed(st, 1, 1);
    cr_assert_eq(nmt_sampler_next_gap(st, 0), 1);
    cr_assert_eq(nmt_sampler_next_gap(st, 1), 1);
    for (int i = 0; i < 1000; i++)
        cr_assert(nmt_sampler_next_gap(st, 2) >= 1);
}

Test(sampler, gap_is_capped)
{
    uint64_t st[2];
    nmt_sampler_seed(st, 3, 3);
    for (int i = 0; i < 10000; i++) {
        int64_t g = nmt_sampler_next_gap(st, UINT64_MAX);
        cr_assert(g >= 1 && g <= NMT_SAMPLER_GAP_MAX);
    }
}

Test(sampler, seed_is_deterministic)
{
    uint64_t a[2], b[2], c[2], z[2];
    nmt_sampler_seed(a, 12345, 9);
    nmt_sampler_seed(b, 12345, 9);
    nmt_sampler_seed(c, 12345, 10);
    int differ = 0;
    for (int i = 0; i < 1000; i++) {
        uint64_t x = nmt_sampler_next_u64(a);
        cr_assert_eq(x, nmt_sampler_next_u64(b));
        differ += x != nmt_sampler_next_u64(c);
    }
    cr_assert_gt(differ, 990, "serials 9 and 10 give the same stream");

    nmt_sampler_seed(z, 0, 0);
    cr_assert(z[0] != 0 || z[1] != 0);
    uint64_t first = nmt_sampler_next_u64(z), second = nmt_sampler_next_u64(z);
    cr_assert(first != second);
}

Test(sampler, seeds_differ_across_serials)
{
    /* Many threads of one process: no two serials may start alike. */
    uint64_t seen[256];
    for (uint64_t s = 0; s < 256; s++) {
        uint64_t st[2];
        nmt_sampler_seed(st, 0, s);
        seen[s] = nmt_sampler_next_u64(st);
        for (uint64_t t = 0; t < s; t++)
            cr_assert_neq(seen[t], seen[s]);
    }
}

Test(sampler, weight_values)
{
    cr_assert_eq(nmt_sampler_weight(100, 1), 1.0);
    cr_assert_eq(nmt_sampler_weight(100, 0), 1.0);
    cr_assert_eq(nmt_sampler_weight(0, 1000), nmt_sampler_weight(1, 1000));
    double w = nmt_sampler_weight(1024, 4096);
    cr_assert(fabs(w - 1.0 / (1.0 - exp(-0.25))) < 1e-12);
    /* Tiny sizes: the weight approaches rate/size and stays precise. */
    double tiny = nmt_sampler_weight(1, 1ull << 40);
    cr_assert(fabs(tiny - (double)(1ull << 40)) / (double)(1ull << 40) < 1e-9);
    /* Huge sizes are always sampled: weight 1. */
    cr_assert_eq(nmt_sampler_weight(1ull << 40, 4096), 1.0);
    cr_assert(nmt_sampler_weight(4096, 4096) > 1.0);
}

/* Runs the countdown over `n` sizes drawn by `next_size` and compares the
 * weighted estimates of bytes and objects with the truth. */
static void check_unbiased(uint64_t rate, int n, uint64_t lo, uint64_t hi, double tol)
{
    struct countdown cd;
    uint64_t sizes[2];
    cd_init(&cd, rate, 99);
    nmt_sampler_seed(sizes, 5, 5);
    double true_bytes = 0, est_bytes = 0, est_objs = 0;
    for (int i = 0; i < n; i++) {
        uint64_t s = lo + nmt_sampler_next_u64(sizes) % (hi - lo + 1);
        true_bytes += (double)s;
        if (cd_take(&cd, s)) {
            double w = nmt_sampler_weight(s, rate);
            est_bytes += w * (double)s;
            est_objs += w;
        }
    }
    double eb = fabs(est_bytes - true_bytes) / true_bytes;
    double eo = fabs(est_objs - n) / n;
    cr_assert(eb < tol, "rate %lu sizes %lu..%lu: bytes off by %.3f%%", rate, lo, hi, eb * 100);
    cr_assert(eo < tol, "rate %lu sizes %lu..%lu: objects off by %.3f%%", rate, lo, hi, eo * 100);
}

Test(sampler, unbiased_small_sizes)
{
    /* ~4e9 bytes at rate 64 KiB: ~62k samples, standard error ~0.4%. */
    check_unbiased(64 * 1024, 2000000, 16, 4096, 0.02);
    /* Sizes comparable to the rate: ~0.3% standard error. */
    check_unbiased(4096, 1000000, 16, 4096, 0.01);
}

Test(sampler, unbiased_huge_sizes)
{
    check_unbiased(512 * 1024, 200000, 1u << 20, 64u << 20, 0.01);
    /* Sizes around the rate, where the weights matter most. */
    check_unbiased(512 * 1024, 1000000, 64 * 1024, 2u << 20, 0.01);
}

Test(sampler, probability_per_size)
{
    const uint64_t rate = 4096;
    const uint64_t sz[] = {1, 16, 1024, 4096, 16384};
    enum { NS = sizeof(sz) / sizeof(sz[0]) };
    double seen[NS] = {0}, taken[NS] = {0};
    struct countdown cd;
    uint64_t pick[2];
    cd_init(&cd, rate, 2024);
    nmt_sampler_seed(pick, 8, 8);
    for (int i = 0; i < 2000000; i++) {
        unsigned k = (unsigned)(nmt_sampler_next_u64(pick) % NS);
        seen[k] += 1;
        taken[k] += cd_take(&cd, sz[k]);
    }
    for (unsigned k = 0; k < NS; k++) {
        double p = 1.0 - exp(-(double)sz[k] / (double)rate);
        double obs = taken[k] / seen[k];
        double se = sqrt(p * (1 - p) / seen[k]);
        cr_assert(fabs(obs - p) < 5 * se + 1e-9, "size %lu: p %.6f observed %.6f (se %.6f)", sz[k],
                  p, obs, se);
    }
}
