/*
 * nmc_hash.h: the hashes the recorder, the symbolizer and nmreport key their
 * tables on. FNV-1a for names and other byte strings; MurmurHash3's 64-bit
 * finalizer for integer keys such as addresses, whose low bits alone would
 * crowd a few slots of a power-of-two table. nmreport's flame graph colours
 * come from FNV-1a of the function name, so these values are part of its
 * output: they stay fixed.
 */
#ifndef NMC_HASH_H
#define NMC_HASH_H

#include <stddef.h>
#include <stdint.h>

#define NMC_FNV_OFFSET 0xcbf29ce484222325ull
#define NMC_FNV_PRIME  0x100000001b3ull

/* h with one more byte. */
static inline uint64_t nmc_fnv1a_byte(uint64_t h, uint8_t b)
{
    return (h ^ b) * NMC_FNV_PRIME;
}

/* h with the bytes p[0..n) (start from NMC_FNV_OFFSET). */
static inline uint64_t nmc_fnv1a(uint64_t h, const void *p, size_t n)
{
    const uint8_t *b = p;
    for (size_t i = 0; i < n; i++)
        h = nmc_fnv1a_byte(h, b[i]);
    return h;
}

/* h with the bytes of the string s before its NUL; NULL adds nothing. */
static inline uint64_t nmc_fnv1a_str(uint64_t h, const char *s)
{
    for (; s && *s; s++)
        h = nmc_fnv1a_byte(h, (uint8_t)*s);
    return h;
}

/* MurmurHash3's fmix64: every bit of x moves about half the bits out. */
static inline uint64_t nmc_mix64(uint64_t x)
{
    x ^= x >> 33;
    x *= 0xff51afd7ed558ccdull;
    x ^= x >> 33;
    x *= 0xc4ceb9fe1a85ec53ull;
    x ^= x >> 33;
    return x;
}

#endif
