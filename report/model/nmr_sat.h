/*
 * nmr_sat.h: saturating arithmetic for figures read from a profile. A file
 * (damaged, or crafted with a valid checksum) may hold any 64-bit value; the
 * report's sums, differences, negations and conversions of such figures stop
 * at the ends of the type instead of overflowing (undefined for signed
 * integers and for out-of-range double conversions) or wrapping to the
 * wrong sign. A report of a hostile file then shows extreme figures; it
 * never crashes.
 */
#ifndef NMR_SAT_H
#define NMR_SAT_H

#include <math.h>
#include <stdint.h>

static inline int64_t nmr_sat_add(int64_t a, int64_t b)
{
    int64_t r;
    if (__builtin_add_overflow(a, b, &r))
        return b > 0 ? INT64_MAX : INT64_MIN;
    return r;
}

static inline int64_t nmr_sat_sub(int64_t a, int64_t b)
{
    int64_t r;
    if (__builtin_sub_overflow(a, b, &r))
        return b < 0 ? INT64_MAX : INT64_MIN;
    return r;
}

static inline int64_t nmr_sat_neg(int64_t a)
{
    return a == INT64_MIN ? INT64_MAX : -a;
}

/* An unsigned figure of the file as a signed one: at most INT64_MAX. */
static inline int64_t nmr_sat_i64(uint64_t v)
{
    return v > (uint64_t)INT64_MAX ? INT64_MAX : (int64_t)v;
}

/* A double (a scaled or averaged figure) as int64_t: NaN is 0, and values
 * beyond the range stop at its ends (the plain cast is undefined there). */
static inline int64_t nmr_sat_from_double(double d)
{
    if (isnan(d))
        return 0;
    if (d >= 9223372036854775807.0)
        return INT64_MAX;
    if (d <= -9223372036854775808.0)
        return INT64_MIN;
    return (int64_t)d;
}

#endif
