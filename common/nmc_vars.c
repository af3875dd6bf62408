/*
 * nmc_vars.c: the table of NMTRACE_* variables and the check of a value
 * against its entry (nmc_vars.h). README.md's variable table says the same
 * for users; tests/common/check_variables.py keeps the two and the programs
 * in step.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "nmc_parse.h"
#include "nmc_vars.h"

/* In the recorder's order (NMT_UNWIND_* in preload/nmt_internal.h). */
static const char *const unwind_words[] = {"libunwind", "fp", "auto", "check", NULL};
static const char *const java_words[] = {"auto", "off", "1", "0", NULL};
/* In the bridge's order (NMT_WALK_* in preload/nmt_jvm_internal.h). */
static const char *const java_walk_words[] = {"auto", "asgct", "check", NULL};
static const char *const on_full_words[] = {"wait", "drop", NULL};
static const char *const quiet_words[] = {"0", "1", NULL};
static const char *const interval_words[] = {"auto", NULL};

#define DAY_S (UINT64_C(86400))

const struct nmc_var nmc_vars[] = {
    {"NMTRACE_OUTPUT", NMC_TEXT, 1, 511, 0, NULL},
    {"NMTRACE_RATE", NMC_SIZE, 1, UINT64_C(1) << 40, 0, NULL},
    {"NMTRACE_SEED", NMC_COUNT, 0, UINT64_MAX, 0, NULL},
    {"NMTRACE_UNWIND", NMC_KEYWORD, 0, 0, 0, unwind_words},
    {"NMTRACE_DEPTH", NMC_COUNT, 1, NMC_DEPTH_MAX, 0, NULL},
    {"NMTRACE_INTERVAL", NMC_DURATION, 0, 365 * DAY_S, 1000, interval_words},
    {"NMTRACE_GROWTH", NMC_SIZE, 0, UINT64_MAX >> 1, 0, NULL},
    {"NMTRACE_SIGNAL", NMC_SIGNAL, 0, 0, 0, NULL},
    {"NMTRACE_TRIGGER", NMC_TEXT, 1, 511, 0, NULL},
    {"NMTRACE_JAVA", NMC_KEYWORD, 0, 0, 0, java_words},
    {"NMTRACE_JAVA_WALK", NMC_KEYWORD, 0, 0, 0, java_walk_words},
    {"NMTRACE_RING", NMC_COUNT, 4, UINT64_C(1) << 20, 0, NULL},
    {"NMTRACE_ON_FULL", NMC_KEYWORD, 0, 0, 0, on_full_words},
    {"NMTRACE_QUIET", NMC_KEYWORD, 0, 0, 0, quiet_words},
    /* Set by the launcher: its run token (nmt_config.c's buffer is 64 bytes). */
    {"NMTRACE_RUN", NMC_TEXT, 1, 63, 0, NULL},
    /* nmreport's debug directories, and the examples' build directory. */
    {"NMTRACE_DEBUG_PATH", NMC_TEXT, 0, UINT64_MAX, 0, NULL},
    {"NMTRACE_BUILD", NMC_TEXT, 0, UINT64_MAX, 0, NULL},
    {NULL, NMC_TEXT, 0, 0, 0, NULL},
};

const struct nmc_var *nmc_var_find(const char *name)
{
    for (const struct nmc_var *v = nmc_vars; v->name != NULL; v++)
        if (strcmp(v->name, name) == 0)
            return v;
    return NULL;
}

/* "from MIN to MAX" in the kind's own notation. */
static void range(const struct nmc_var *v, char *out, size_t size)
{
    char lo[32], hi[32];
    if (v->kind == NMC_SIZE) {
        nmc_fmt_size(v->min, lo, sizeof(lo));
        nmc_fmt_size(v->max, hi, sizeof(hi));
    } else if (v->kind == NMC_DURATION) {
        nmc_fmt_duration(v->min * v->unit, lo, sizeof(lo));
        nmc_fmt_duration(v->max * v->unit, hi, sizeof(hi));
    } else {
        snprintf(lo, sizeof(lo), "%llu", (unsigned long long)v->min);
        snprintf(hi, sizeof(hi), "%llu", (unsigned long long)v->max);
    }
    snprintf(out, size, "from %s to %s", lo, hi);
}

static int number(const struct nmc_var *v, const char *s, uint64_t *out, char *why, size_t size)
{
    uint64_t x = 0;
    int rc, i;
    const char *what = "number", *eg = "";
    if (v->words != NULL && nmc_parse_keyword(s, v->words, &i) == 0) {
        *out = NMC_WORD(i);
        return 0;
    }
    if (v->kind == NMC_SIZE) {
        rc = nmc_parse_size(s, &x);
        what = "byte size";
        eg = " (e.g. 4096, 512k, 64MiB, 1.5g)";
    } else if (v->kind == NMC_DURATION) {
        rc = nmc_parse_duration(s, &x);
        what = "duration";
        eg = v->unit == 1000 ? " in whole seconds (e.g. 30, 30s, 5m, 1h)" : " (e.g. 1s, 5m, 1h)";
        if (rc == 0 && x % v->unit != 0)
            rc = -EINVAL;
        x /= v->unit;
    } else {
        rc = nmc_parse_uint(s, &x);
    }
    if (rc != 0 || x < v->min || x > v->max) {
        char r[80];
        range(v, r, sizeof(r));
        size_t at = (size_t)snprintf(why, size, "'%s' is not a %s %s%s", s, what, r, eg);
        for (i = 0; v->words != NULL && v->words[i] != NULL && at < size; i++)
            at += (size_t)snprintf(why + at, size - at, " or %s", v->words[i]);
        return -EINVAL;
    }
    *out = x;
    return 0;
}

static int keyword(const struct nmc_var *v, const char *s, uint64_t *out, char *why, size_t size)
{
    int i;
    if (nmc_parse_keyword(s, v->words, &i) == 0) {
        *out = (uint64_t)i;
        return 0;
    }
    size_t at = (size_t)snprintf(why, size, "'%s' is not", s);
    for (i = 0; v->words[i] != NULL && at < size; i++)
        at += (size_t)snprintf(why + at, size - at, "%s %s", i == 0 ? "" : " or", v->words[i]);
    return -EINVAL;
}

static int signal_value(const char *s, uint64_t *out, char *why, size_t size)
{
    int sig;
    if (strcmp(s, "0") == 0 || nmc_casecmp(s, "off") == 0) {
        *out = 0;
        return 0;
    }
    if (nmc_parse_signal(s, &sig) != 0) {
        snprintf(why, size, "'%s' is not a signal (e.g. USR1, SIGUSR1, RTMIN+2, 10, off)", s);
        return -EINVAL;
    }
    if (nmc_signal_refused(sig)) {
        snprintf(why, size, "'%s' is used by the JVM or the process (use USR1 or RTMIN+N)", s);
        return -EINVAL;
    }
    *out = (uint64_t)sig;
    return 0;
}

int nmc_var_parse(const struct nmc_var *v, const char *s, uint64_t *out, char *why, size_t size)
{
    switch (v->kind) {
    case NMC_KEYWORD:
        return keyword(v, s, out, why, size);
    case NMC_SIGNAL:
        return signal_value(s, out, why, size);
    case NMC_TEXT: {
        size_t len = strlen(s);
        if (len < v->min || len > v->max) {
            snprintf(why, size, "needs %llu to %llu bytes, not %zu", (unsigned long long)v->min,
                     (unsigned long long)v->max, len);
            return -EINVAL;
        }
        *out = len;
        return 0;
    }
    default:
        return number(v, s, out, why, size);
    }
}
