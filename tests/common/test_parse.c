/*
 * test_parse.c: the grammar of sizes, durations, counts, keywords and
 * signals (common/nmc_parse.h), the variable table's checks
 * (common/nmc_vars.h) and the unknown-variable message (common/nmc_env.h).
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>

#include "nmc_env.h"
#include "nmc_parse.h"
#include "nmc_vars.h"

#define KIB (UINT64_C(1) << 10)
#define MIB (UINT64_C(1) << 20)
#define GIB (UINT64_C(1) << 30)
#define TIB (UINT64_C(1) << 40)

typedef int (*parse_fn)(const char *, uint64_t *);

static void parsed_is(parse_fn parse, const char *s, uint64_t want)
{
    uint64_t v = 12345;
    cr_assert_eq(parse(s, &v), 0, "'%s' refused", s);
    cr_assert_eq(v, want, "'%s' = %llu, not %llu", s, (unsigned long long)v,
                 (unsigned long long)want);
}

/* A refused string leaves the output alone. */
static void refused(parse_fn parse, const char *s, int rc)
{
    uint64_t v = 12345;
    cr_assert_eq(parse(s, &v), rc, "'%s' not refused with %d", s, rc);
    cr_assert_eq(v, 12345, "'%s' changed the output although refused", s);
}

static void size_is(const char *s, uint64_t want)
{
    parsed_is(nmc_parse_size, s, want);
}

static void size_bad(const char *s, int rc)
{
    refused(nmc_parse_size, s, rc);
}

Test(size, every_unit_and_spelling)
{
    size_is("0", 0);
    size_is("512", 512);
    size_is("7b", 7);
    size_is("7B", 7);
    const struct {
        const char *letter;
        uint64_t mul;
    } u[] = {{"k", KIB}, {"m", MIB}, {"g", GIB}, {"t", TIB}};
    const char *tails[] = {"", "b", "ib", "B", "iB", "IB"};
    for (size_t i = 0; i < 4; i++) {
        for (size_t j = 0; j < sizeof(tails) / sizeof(tails[0]); j++) {
            for (int upper = 0; upper < 2; upper++) {
                char s[16];
                snprintf(s, sizeof(s), "3%c%s", upper ? u[i].letter[0] - 32 : u[i].letter[0],
                         tails[j]);
                size_is(s, 3 * u[i].mul);
            }
        }
    }
}

Test(size, fractions_round_down)
{
    size_is("1.5k", 1536);
    size_is("1.5g", GIB + GIB / 2);
    size_is("0.1k", 102); /* 102.4 */
    size_is("0.999999t", TIB * 999999 / 1000000);
    size_is("2.0m", 2 * MIB);
    size_bad("1.5", -EINVAL); /* a fraction of a byte */
    size_bad("1.5b", -EINVAL);
    size_bad("1.1234567k", -EINVAL); /* more than 6 places */
    size_bad("1.k", -EINVAL);
    size_bad(".5k", -EINVAL);
}

Test(size, refused_forms)
{
    const char *bad[] = {"",    "k",   "-1",    "+1",  " 1", "1 ",    "1 k",  "0x10",  "1e3",
                         "12x", "1kk", "1kibb", "1ki", "1p", "1.5.k", "lots", "1,024", "１"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        size_bad(bad[i], -EINVAL);
}

Test(size, overflow_is_erange)
{
    size_is("18446744073709551615", UINT64_MAX);
    size_bad("18446744073709551616", -ERANGE);
    size_bad("99999999999999999999999", -ERANGE);
    size_is("16777215t", 16777215 * TIB);
    size_bad("16777216t", -ERANGE);                   /* 2^64 */
    size_is("16777215.5t", 16777215 * TIB + TIB / 2); /* the largest whole t, and a half */
    size_bad("99999999999999999999999x", -EINVAL);    /* not the grammar: EINVAL first */
}

static void dur_is(const char *s, uint64_t want_ms)
{
    parsed_is(nmc_parse_duration, s, want_ms);
}

static void dur_bad(const char *s, int rc)
{
    refused(nmc_parse_duration, s, rc);
}

Test(duration, units)
{
    dur_is("0", 0);
    dur_is("30", 30000);
    dur_is("1s", 1000);
    dur_is("1S", 1000);
    dur_is("500ms", 500);
    dur_is("500MS", 500);
    dur_is("2m", 120000);
    dur_is("1h", 3600000);
    dur_is("2d", 2 * 86400000ull);
    dur_is("1.5", 1500);
    dur_is("1.5h", 5400000);
    dur_is("0.0001s", 0); /* rounded down */
    dur_bad("1.5ms", -EINVAL);
    const char *bad[] = {"", "s", "-1", "1 s", "1sec", "1min", "1w", "1y", "soon", "1hm", "1e3"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        dur_bad(bad[i], -EINVAL);
    dur_bad("18446744073709551616ms", -ERANGE);
    dur_bad("213503982335d", -ERANGE);
}

Test(count, digits_only)
{
    uint64_t v = 7;
    cr_assert_eq(nmc_parse_uint("0", &v), 0);
    cr_assert_eq(v, 0);
    cr_assert_eq(nmc_parse_uint("18446744073709551615", &v), 0);
    cr_assert_eq(v, UINT64_MAX);
    cr_assert_eq(nmc_parse_uint("18446744073709551616", &v), -ERANGE);
    const char *bad[] = {"", "1k", "-3", "+3", "x1", " 1", "1.0"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        cr_assert_eq(nmc_parse_uint(bad[i], &v), -EINVAL, "'%s'", bad[i]);
}

Test(keyword, any_case_exact_word)
{
    static const char *const w[] = {"wait", "drop", NULL};
    int i = -1;
    cr_assert_eq(nmc_parse_keyword("drop", w, &i), 0);
    cr_assert_eq(i, 1);
    cr_assert_eq(nmc_parse_keyword("WAIT", w, &i), 0);
    cr_assert_eq(i, 0);
    cr_assert_eq(nmc_parse_keyword("wai", w, &i), -EINVAL);
    cr_assert_eq(nmc_parse_keyword("waits", w, &i), -EINVAL);
    cr_assert_eq(nmc_parse_keyword("", w, &i), -EINVAL);
}

static void sig_is(const char *s, int want)
{
    int v = -7;
    cr_assert_eq(nmc_parse_signal(s, &v), 0, "'%s' refused", s);
    cr_assert_eq(v, want, "'%s' = %d, not %d", s, v, want);
}

Test(signal, names_numbers_realtime)
{
    sig_is("USR1", SIGUSR1);
    sig_is("usr1", SIGUSR1);
    sig_is("SIGUSR1", SIGUSR1);
    sig_is("sigUsr1", SIGUSR1);
    sig_is("10", 10);
    sig_is("WINCH", SIGWINCH);
    sig_is("RTMIN", SIGRTMIN);
    sig_is("rtmin+2", SIGRTMIN + 2);
    sig_is("SIGRTMAX-1", SIGRTMAX - 1);
    sig_is("RTMAX", SIGRTMAX);
    char top[32];
    snprintf(top, sizeof(top), "%d", SIGRTMAX);
    sig_is(top, SIGRTMAX);
    snprintf(top, sizeof(top), "RTMIN+%d", SIGRTMAX - SIGRTMIN);
    sig_is(top, SIGRTMAX);
    snprintf(top, sizeof(top), "RTMIN+%d", SIGRTMAX - SIGRTMIN + 1);
    int v;
    const char *bad[] = {"",      "0",      "-1",       "NOPE",      "SIG",     "USR",
                         "USR1x", "RTMIN+", "RTMIN+-1", "RTMIN+999", "RTMAX+1", "0x10",
                         "65",    "1000",   " USR1",    top};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        cr_assert_eq(nmc_parse_signal(bad[i], &v), -EINVAL, "'%s' accepted", bad[i]);
}

Test(signal, refused_list)
{
    const int refused[] = {SIGSEGV, SIGBUS,  SIGILL,  SIGFPE,  SIGTRAP, SIGUSR2,
                           SIGQUIT, SIGHUP,  SIGINT,  SIGTERM, SIGPROF, SIGKILL,
                           SIGSTOP, SIGCHLD, SIGPIPE, SIGXFSZ, SIGABRT};
    for (size_t i = 0; i < sizeof(refused) / sizeof(refused[0]); i++)
        cr_assert(nmc_signal_refused(refused[i]), "%d not refused", refused[i]);
    cr_assert_not(nmc_signal_refused(SIGUSR1));
    cr_assert_not(nmc_signal_refused(SIGWINCH));
    cr_assert_not(nmc_signal_refused(SIGRTMIN + 3));
}

Test(format, shortest_exact_form)
{
    char b[32];
    nmc_fmt_size(TIB, b, sizeof(b));
    cr_assert_str_eq(b, "1t");
    nmc_fmt_size(1536, b, sizeof(b));
    cr_assert_str_eq(b, "1536");
    nmc_fmt_size(3 * MIB, b, sizeof(b));
    cr_assert_str_eq(b, "3m");
    nmc_fmt_size(0, b, sizeof(b));
    cr_assert_str_eq(b, "0");
    nmc_fmt_duration(365 * 86400000ull, b, sizeof(b));
    cr_assert_str_eq(b, "365d");
    nmc_fmt_duration(1500, b, sizeof(b));
    cr_assert_str_eq(b, "1500ms");
    nmc_fmt_duration(90000, b, sizeof(b));
    cr_assert_str_eq(b, "90s");
    /* What is printed parses back to the same value. */
    uint64_t v;
    nmc_fmt_size(5 * GIB, b, sizeof(b));
    cr_assert_eq(nmc_parse_size(b, &v), 0);
    cr_assert_eq(v, 5 * GIB);
}

Test(path, base_name)
{
    cr_assert_str_eq(nmc_base_name("/usr/bin/java"), "java");
    cr_assert_str_eq(nmc_base_name("java"), "java");
    cr_assert_str_eq(nmc_base_name("dir/"), "");
    cr_assert_str_eq(nmc_base_name(NULL), "?");
}

static int var_ok(const char *name, const char *s, uint64_t *out)
{
    char why[200] = "";
    const struct nmc_var *v = nmc_var_find(name);
    cr_assert_not_null(v, "%s not in the table", name);
    int rc = nmc_var_parse(v, s, out, why, sizeof(why));
    if (rc != 0) {
        /* The line quotes the value and says what is accepted. */
        char quoted[64];
        snprintf(quoted, sizeof(quoted), "'%s'", s);
        cr_assert(strstr(why, quoted) != NULL || strstr(why, "bytes") != NULL, "why: %s", why);
    }
    return rc == 0;
}

Test(vars, limits_and_kinds)
{
    uint64_t v;
    cr_assert(var_ok("NMTRACE_GROWTH", "2t", &v));
    cr_assert_eq(v, 2 * TIB);
    cr_assert(var_ok("NMTRACE_RATE", "1t", &v));
    cr_assert_not(var_ok("NMTRACE_RATE", "1.000001t", &v));
    cr_assert_not(var_ok("NMTRACE_RATE", "0", &v));
    cr_assert(var_ok("NMTRACE_INTERVAL", "1s", &v));
    cr_assert_eq(v, 1);
    cr_assert(var_ok("NMTRACE_INTERVAL", "5m", &v));
    cr_assert_eq(v, 300);
    cr_assert(var_ok("NMTRACE_INTERVAL", "1500ms", &v) == 0); /* whole seconds */
    cr_assert(var_ok("NMTRACE_INTERVAL", "365d", &v));
    cr_assert_not(var_ok("NMTRACE_INTERVAL", "366d", &v));
    /* A numeric variable's words: NMTRACE_INTERVAL's auto, in any case, as
     * the value above every range; a refusal names them. */
    cr_assert(var_ok("NMTRACE_INTERVAL", "auto", &v));
    cr_assert_eq(v, NMC_WORD(0));
    cr_assert(var_ok("NMTRACE_INTERVAL", "AUTO", &v));
    cr_assert_eq(v, NMC_WORD(0));
    cr_assert_not(var_ok("NMTRACE_INTERVAL", "autox", &v));
    char why[200];
    cr_assert_neq(nmc_var_parse(nmc_var_find("NMTRACE_INTERVAL"), "soon", &v, why, sizeof(why)), 0);
    cr_assert(strstr(why, "or auto") != NULL, "%s", why);
    cr_assert_not(var_ok("NMTRACE_RATE", "auto", &v)); /* only where the table lists it */
    cr_assert(var_ok("NMTRACE_DEPTH", "256", &v));
    cr_assert_not(var_ok("NMTRACE_DEPTH", "257", &v));
    cr_assert_not(var_ok("NMTRACE_DEPTH", "1k", &v));
    cr_assert(var_ok("NMTRACE_UNWIND", "FP", &v));
    cr_assert_eq(v, 1);
    cr_assert(var_ok("NMTRACE_SIGNAL", "off", &v));
    cr_assert_eq(v, 0);
    cr_assert(var_ok("NMTRACE_SIGNAL", "SIGUSR1", &v));
    cr_assert_eq(v, (uint64_t)SIGUSR1);
    cr_assert_not(var_ok("NMTRACE_SIGNAL", "TERM", &v));
    cr_assert_not(var_ok("NMTRACE_OUTPUT", "", &v));
    char longp[600];
    memset(longp, 'x', sizeof(longp) - 1);
    longp[sizeof(longp) - 1] = '\0';
    cr_assert_not(var_ok("NMTRACE_OUTPUT", longp, &v));
    longp[511] = '\0';
    cr_assert(var_ok("NMTRACE_OUTPUT", longp, &v));
}

Test(env, unknown_names_and_suggestion)
{
    char msg[512];
    for (const struct nmc_var *v = nmc_vars; v->name != NULL; v++) {
        char entry[64];
        snprintf(entry, sizeof(entry), "%s=1", v->name);
        cr_assert_eq(nmc_env_unknown(entry, msg, sizeof(msg)), 0, "%s", v->name);
    }
    cr_assert_eq(nmc_env_unknown("PATH=/bin", msg, sizeof(msg)), 0);
    cr_assert_eq(nmc_env_unknown("NMTRACE=1", msg, sizeof(msg)), 0);
    cr_assert_eq(nmc_env_unknown("NMTRACE_RATEE=5", msg, sizeof(msg)), 1);
    cr_assert(strstr(msg, "NMTRACE_RATEE") != NULL, "%s", msg);
    cr_assert(strstr(msg, "did you mean NMTRACE_RATE?") != NULL, "%s", msg);
    cr_assert(strstr(msg, "ON_FULL") != NULL, "the known names are listed: %s", msg);
    cr_assert_eq(nmc_env_unknown("NMTRACE_INTERVALS", msg, sizeof(msg)), 1);
    cr_assert(strstr(msg, "did you mean NMTRACE_INTERVAL?") != NULL, "%s", msg);
    cr_assert_eq(nmc_env_unknown("NMTRACE_COMPLETELY_DIFFERENT=1", msg, sizeof(msg)), 1);
    cr_assert(strstr(msg, "did you mean") == NULL, "%s", msg);
    /* A small buffer is cut, never overrun. */
    char small[16];
    cr_assert_eq(nmc_env_unknown("NMTRACE_X=1", small, sizeof(small)), 1);
    cr_assert_eq(strlen(small), sizeof(small) - 1);
    char name[300];
    memset(name, 'A', sizeof(name) - 1);
    memcpy(name, "NMTRACE_", 8);
    name[sizeof(name) - 1] = '\0';
    cr_assert_eq(nmc_env_unknown(name, msg, sizeof(msg)), 1);
}
