/*
 * nmc_parse.c: counts, byte sizes, durations and keywords (nmc_parse.h).
 *
 * Hand-written instead of strtoull/strtod: those accept signs, spaces, hex
 * and locale-dependent forms, and report overflow through errno; here every
 * accepted form is one the grammar names, and overflow is a return value.
 */
#include <errno.h>
#include <stdio.h>

#include "nmc_parse.h"

static int lower(int c)
{
    return c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c;
}

int nmc_casecmp(const char *a, const char *b)
{
    while (*a != '\0' && lower(*a) == lower(*b)) {
        a++;
        b++;
    }
    return lower(*a) - lower(*b);
}

/* Digits from *s on, advancing it: -EINVAL when there is none. */
static int digits(const char **s, uint64_t *out)
{
    const char *p = *s;
    uint64_t v = 0;
    int range = 0;
    for (; *p >= '0' && *p <= '9'; p++) {
        unsigned d = (unsigned)(*p - '0');
        if (v > (UINT64_MAX - d) / 10)
            range = 1;
        v = v * 10 + d;
    }
    if (p == *s)
        return -EINVAL;
    *s = p;
    *out = v;
    return range ? -ERANGE : 0;
}

int nmc_parse_uint(const char *s, uint64_t *out)
{
    uint64_t v;
    int rc = digits(&s, &v);
    if (rc == -EINVAL || *s != '\0')
        return -EINVAL;
    if (rc == 0)
        *out = v;
    return rc;
}

/* A number with an optional fraction: whole part, and the fraction as
 * numerator over 10^places (at most 6 places, so numerator * unit fits). */
struct num {
    uint64_t whole, frac, scale;
};

static int number(const char **s, struct num *n)
{
    int rc = digits(s, &n->whole);
    n->frac = 0;
    n->scale = 1;
    if (rc == -EINVAL || **s != '.')
        return rc;
    (*s)++;
    const char *start = *s;
    for (; **s >= '0' && **s <= '9'; (*s)++) {
        if (*s - start == 6)
            return -EINVAL;
        n->frac = n->frac * 10 + (uint64_t)(**s - '0');
        n->scale *= 10;
    }
    return *s == start ? -EINVAL : rc;
}

/* n times unit, rounded down; unit is at most 2^40 (1 TiB, or 1 day in ms). */
static int scale(const struct num *n, uint64_t unit, uint64_t *out)
{
    if (n->whole > UINT64_MAX / unit)
        return -ERANGE;
    uint64_t v = n->whole * unit, part = n->frac * unit / n->scale;
    if (v > UINT64_MAX - part)
        return -ERANGE;
    *out = v + part;
    return 0;
}

struct unit {
    const char *name;
    uint64_t mul;
};

/* The unit spelled s (NULL-terminated table), or NULL. */
static const struct unit *find_unit(const struct unit *units, const char *s)
{
    for (; units->name != NULL; units++)
        if (nmc_casecmp(units->name, s) == 0)
            return units;
    return NULL;
}

/* A number and a unit of the table (or bare, when there is none). A fraction
 * of the smallest unit (1: a byte, a millisecond) is refused, not rounded. */
static int with_unit(const char *s, const struct unit *units, uint64_t bare, uint64_t *out)
{
    struct num n;
    int rc = number(&s, &n);
    if (rc == -EINVAL)
        return rc;
    uint64_t mul = bare;
    if (*s != '\0') {
        const struct unit *u = find_unit(units, s);
        if (u == NULL)
            return -EINVAL;
        mul = u->mul;
    }
    if (n.scale > 1 && mul == 1)
        return -EINVAL;
    if (rc != 0)
        return rc;
    return scale(&n, mul, out);
}

#define KIB (UINT64_C(1) << 10)
#define MIB (UINT64_C(1) << 20)
#define GIB (UINT64_C(1) << 30)
#define TIB (UINT64_C(1) << 40)

static const struct unit size_units[] = {
    {"b", 1},   {"k", KIB},  {"kb", KIB},  {"kib", KIB}, {"m", MIB},  {"mb", MIB},  {"mib", MIB},
    {"g", GIB}, {"gb", GIB}, {"gib", GIB}, {"t", TIB},   {"tb", TIB}, {"tib", TIB}, {NULL, 0},
};

int nmc_parse_size(const char *s, uint64_t *out)
{
    return with_unit(s, size_units, 1, out);
}

static const struct unit time_units[] = {
    {"ms", 1}, {"s", 1000}, {"m", 60000}, {"h", 3600000}, {"d", 86400000}, {NULL, 0},
};

int nmc_parse_duration(const char *s, uint64_t *out_ms)
{
    return with_unit(s, time_units, 1000, out_ms);
}

int nmc_parse_keyword(const char *s, const char *const *words, int *index)
{
    for (int i = 0; words[i] != NULL; i++) {
        if (nmc_casecmp(s, words[i]) == 0) {
            *index = i;
            return 0;
        }
    }
    return -EINVAL;
}

/* v in the largest of the n units (ascending, units[0] being 1) that divides it. */
static void fmt_exact(uint64_t v, const struct unit *units, size_t n, char *out, size_t size)
{
    size_t i = n;
    while (i-- > 1)
        if (v != 0 && v % units[i].mul == 0)
            break;
    snprintf(out, size, "%llu%s", (unsigned long long)(v / units[i].mul), units[i].name);
}

void nmc_fmt_size(uint64_t v, char *out, size_t size)
{
    static const struct unit u[] = {{"", 1}, {"k", KIB}, {"m", MIB}, {"g", GIB}, {"t", TIB}};
    fmt_exact(v, u, sizeof(u) / sizeof(u[0]), out, size);
}

void nmc_fmt_duration(uint64_t ms, char *out, size_t size)
{
    if (ms == 0) {
        snprintf(out, size, "0");
        return;
    }
    fmt_exact(ms, time_units, sizeof(time_units) / sizeof(time_units[0]) - 1, out, size);
}

const char *nmc_base_name(const char *path)
{
    if (path == NULL)
        return "?";
    const char *b = path;
    for (const char *p = path; *p != '\0'; p++)
        if (*p == '/')
            b = p + 1;
    return b;
}
