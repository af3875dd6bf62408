/*
 * nmt_config.c: the NMTRACE_* environment variables.
 *
 * Read once, in the constructor, with getenv (which does not allocate). A
 * bad value gets one line on stderr naming the variable and the default that
 * is used instead: the host process must start whatever the environment says.
 */
#include <ctype.h>
#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "nmt_cadence.h"
#include "nmt_internal.h"
#include "nmt_os.h"

NMT_HIDDEN struct nmt_config nmt__cfg = {
    .rate = 524288,
    .depth = 64,
    .output = "nmtrace.%p.nmt",
    .java = 1,
    .ring_kib = 1024,
    .interval = NMT_AUTO_INTERVAL_S,
    .interval_auto = 1,
};

NMT_HIDDEN void nmt__say(const char *fmt, ...)
{
    if (nmt__cfg.quiet || !nmt__os_stderr_ok())
        return;
    char line[640];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(line, sizeof(line) - 1, fmt, ap); /* no allocation for %s %d %llu */
    va_end(ap);
    if (n < 0)
        return;
    if ((size_t)n > sizeof(line) - 2)
        n = (int)sizeof(line) - 2;
    memcpy(line + n, "\n", 1);
    ssize_t w = write(2, line, (size_t)n + 1);
    (void)w;
}

/* Parses a byte count: digits with an optional k/m/g suffix (powers of 1024). */
static int parse_size(const char *s, uint64_t *out)
{
    if (s == NULL || !isdigit((unsigned char)*s))
        return -EINVAL;
    errno = 0;
    char *end;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno != 0)
        return -EINVAL;
    unsigned shift = 0;
    switch (tolower((unsigned char)*end)) {
    case 'k':
        shift = 10;
        break;
    case 'm':
        shift = 20;
        break;
    case 'g':
        shift = 30;
        break;
    case '\0':
        break;
    default:
        return -EINVAL;
    }
    if (shift != 0) {
        end++;
        if (tolower((unsigned char)*end) == 'i')
            end++;
        if (tolower((unsigned char)*end) == 'b')
            end++;
    }
    if (*end != '\0' || v > (UINT64_MAX >> shift))
        return -EINVAL;
    *out = (uint64_t)v << shift;
    return 0;
}

static void size_var(const char *name, uint64_t *dst, uint64_t min, uint64_t max)
{
    const char *s = getenv(name);
    if (s == NULL || *s == '\0')
        return;
    uint64_t v;
    if (parse_size(s, &v) != 0 || v < min || v > max) {
        nmt__say("nmtrace: %s='%s' is not a number from %llu to %llu; using %llu", name, s,
                 (unsigned long long)min, (unsigned long long)max, (unsigned long long)*dst);
        return;
    }
    *dst = v;
}

static const char *const jvm_signals[] = {"SEGV", "BUS",  "ILL",  "FPE",  "TRAP", "USR2",
                                          "QUIT", "HUP",  "INT",  "TERM", "PROF", "KILL",
                                          "STOP", "CHLD", "PIPE", "XFSZ"};

static int signal_number(const char *s)
{
    static const struct {
        const char *name;
        int num;
    } names[] = {{"USR1", SIGUSR1},     {"USR2", SIGUSR2},   {"HUP", SIGHUP},   {"INT", SIGINT},
                 {"QUIT", SIGQUIT},     {"TERM", SIGTERM},   {"SEGV", SIGSEGV}, {"BUS", SIGBUS},
                 {"ILL", SIGILL},       {"FPE", SIGFPE},     {"TRAP", SIGTRAP}, {"PROF", SIGPROF},
                 {"KILL", SIGKILL},     {"STOP", SIGSTOP},   {"CHLD", SIGCHLD}, {"PIPE", SIGPIPE},
                 {"XFSZ", SIGXFSZ},     {"WINCH", SIGWINCH}, {"URG", SIGURG},   {"ALRM", SIGALRM},
                 {"VTALRM", SIGVTALRM}, {"PWR", SIGPWR},     {"SYS", SIGSYS}};
    if (strncasecmp(s, "SIG", 3) == 0)
        s += 3;
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
        if (strcasecmp(s, names[i].name) == 0)
            return names[i].num;
    if (strncasecmp(s, "RTMIN+", 6) == 0 && isdigit((unsigned char)s[6])) {
        int k = atoi(s + 6);
        return SIGRTMIN + k <= SIGRTMAX ? SIGRTMIN + k : -1;
    }
    char *end;
    long v = strtol(s, &end, 10);
    if (*s != '\0' && *end == '\0' && v > 0 && v < NSIG)
        return (int)v;
    return -1;
}

static void signal_var(void)
{
    const char *s = getenv("NMTRACE_SIGNAL");
    if (s == NULL || *s == '\0' || strcmp(s, "0") == 0 || strcasecmp(s, "off") == 0)
        return;
    int sig = signal_number(s);
    if (sig < 0) {
        nmt__say("nmtrace: NMTRACE_SIGNAL='%s' is not a signal; dump signal off", s);
        return;
    }
    for (size_t i = 0; i < sizeof(jvm_signals) / sizeof(jvm_signals[0]); i++) {
        if (signal_number(jvm_signals[i]) == sig) {
            nmt__say("nmtrace: NMTRACE_SIGNAL='%s' is used by the JVM or the process; dump "
                     "signal off (use USR1 or RTMIN+N)",
                     s);
            return;
        }
    }
    nmt__cfg.dump_signal = sig;
}

/* NMTRACE_INTERVAL: unset or "auto" is the default cadence whose gaps grow
 * with the run's age; a number is a fixed gap in seconds, 0 none. */
static void interval_var(void)
{
    const char *s = getenv("NMTRACE_INTERVAL");
    if (s == NULL || *s == '\0' || strcmp(s, "auto") == 0)
        return;
    uint64_t v = nmt__cfg.interval;
    if (parse_size(s, &v) != 0 || v > 86400 * 365) {
        nmt__say("nmtrace: NMTRACE_INTERVAL='%s' is not auto or a number of seconds from 0 to "
                 "31536000; using auto",
                 s);
        return;
    }
    nmt__cfg.interval = (uint32_t)v;
    nmt__cfg.interval_auto = 0;
}

static void string_var(const char *name, char *dst, size_t size)
{
    const char *s = getenv(name);
    if (s == NULL || *s == '\0')
        return;
    if (strlen(s) >= size) {
        nmt__say("nmtrace: %s is longer than %zu bytes; using '%s'", name, size - 1, dst);
        return;
    }
    strcpy(dst, s);
}

/* A relative NMTRACE_OUTPUT is taken from the directory the process starts
 * in: the writer creates the file a moment later, when the program may
 * have changed directory, and every message names the file absolutely. */
static void absolute_output(void)
{
    char cwd[sizeof(nmt__cfg.output)];
    size_t len;
    if (nmt__cfg.output[0] == '/' || getcwd(cwd, sizeof(cwd)) == NULL)
        return;
    len = strlen(cwd);
    if (len + 1 + strlen(nmt__cfg.output) >= sizeof(nmt__cfg.output))
        return; /* too long to hold: the file is made relative, named absolutely once made */
    memmove(nmt__cfg.output + len + 1, nmt__cfg.output, strlen(nmt__cfg.output) + 1);
    memcpy(nmt__cfg.output, cwd, len);
    nmt__cfg.output[len] = '/';
}

NMT_HIDDEN void nmt__config_load(void)
{
    const char *q = getenv("NMTRACE_QUIET");
    nmt__cfg.quiet = q != NULL && strcmp(q, "1") == 0;
    if (q != NULL && *q != '\0' && !nmt__cfg.quiet && strcmp(q, "0") != 0)
        nmt__say("nmtrace: NMTRACE_QUIET='%s' is not 0 or 1; using 0", q);

    size_var("NMTRACE_RATE", &nmt__cfg.rate, 1, (uint64_t)1 << 40);
    uint64_t v = nmt__cfg.depth;
    size_var("NMTRACE_DEPTH", &v, 1, NMT_MAX_DEPTH);
    nmt__cfg.depth = (uint32_t)v;
    interval_var();
    size_var("NMTRACE_GROWTH", &nmt__cfg.growth, 0, UINT64_MAX >> 1);
    /* Rate 1 records every allocation: a 1 MiB ring overflows in a burst
     * (docs/PERFORMANCE.md measured half the events lost), so its default is
     * 16 MiB. Ring pages are touched only as they are used. */
    if (nmt__cfg.rate == 1)
        nmt__cfg.ring_kib = 16384;
    v = nmt__cfg.ring_kib;
    size_var("NMTRACE_RING", &v, 4, 1u << 20);
    nmt__cfg.ring_kib = (uint32_t)v;

    const char *seed = getenv("NMTRACE_SEED");
    if (seed != NULL && *seed != '\0') {
        uint64_t s;
        if (parse_size(seed, &s) == 0) {
            nmt__cfg.seed = s;
            nmt__cfg.seed_set = 1;
        } else {
            nmt__say("nmtrace: NMTRACE_SEED='%s' is not a number; using a random seed", seed);
        }
    }

    const char *uw = getenv("NMTRACE_UNWIND");
    if (uw != NULL && *uw != '\0') {
        if (strcmp(uw, "fp") == 0)
            nmt__cfg.unwind_fp = 1;
        else if (strcmp(uw, "libunwind") != 0)
            nmt__say("nmtrace: NMTRACE_UNWIND='%s' is not libunwind or fp; using libunwind", uw);
    }

    const char *java = getenv("NMTRACE_JAVA");
    if (java != NULL && *java != '\0') {
        if (strcmp(java, "off") == 0 || strcmp(java, "0") == 0)
            nmt__cfg.java = 0;
        else if (strcmp(java, "auto") != 0 && strcmp(java, "1") != 0)
            nmt__say("nmtrace: NMTRACE_JAVA='%s' is not auto or off; using auto", java);
    }

    const char *full = getenv("NMTRACE_ON_FULL");
    if (full != NULL && *full != '\0') {
        if (strcmp(full, "drop") == 0)
            nmt__cfg.on_full_drop = 1;
        else if (strcmp(full, "wait") != 0)
            nmt__say("nmtrace: NMTRACE_ON_FULL='%s' is not wait or drop; using wait", full);
    }

    signal_var();
    string_var("NMTRACE_OUTPUT", nmt__cfg.output, sizeof(nmt__cfg.output));
    string_var("NMTRACE_TRIGGER", nmt__cfg.trigger, sizeof(nmt__cfg.trigger));
    string_var("NMTRACE_RUN", nmt__cfg.run, sizeof(nmt__cfg.run));
    absolute_output();
}

NMT_HIDDEN void nmt__config_describe(void (*add)(void *, const char *, const char *), void *ctx)
{
    char buf[64];
    snprintf(buf, sizeof(buf), "%llu", (unsigned long long)nmt__cfg.rate);
    add(ctx, "config.RATE", buf);
    snprintf(buf, sizeof(buf), "%llu", (unsigned long long)nmt__cfg.seed);
    add(ctx, "config.SEED", nmt__cfg.seed_set ? buf : "random");
    add(ctx, "config.UNWIND", nmt__cfg.unwind_fp ? "fp" : "libunwind");
    snprintf(buf, sizeof(buf), "%u", nmt__cfg.depth);
    add(ctx, "config.DEPTH", buf);
    snprintf(buf, sizeof(buf), "%u", nmt__cfg.interval);
    add(ctx, "config.INTERVAL", nmt__cfg.interval_auto ? "auto" : buf);
    snprintf(buf, sizeof(buf), "%llu", (unsigned long long)nmt__cfg.growth);
    add(ctx, "config.GROWTH", buf);
    snprintf(buf, sizeof(buf), "%d", nmt__cfg.dump_signal);
    add(ctx, "config.SIGNAL", nmt__cfg.dump_signal ? buf : "off");
    add(ctx, "config.TRIGGER", nmt__cfg.trigger[0] ? nmt__cfg.trigger : "off");
    add(ctx, "config.OUTPUT", nmt__cfg.output);
    add(ctx, "config.JAVA", nmt__cfg.java ? "auto" : "off");
    snprintf(buf, sizeof(buf), "%u", nmt__cfg.ring_kib);
    add(ctx, "config.RING", buf);
    add(ctx, "config.ON_FULL", nmt__cfg.on_full_drop ? "drop" : "wait");
    if (nmt__cfg.run[0])
        add(ctx, "config.RUN", nmt__cfg.run);
}
