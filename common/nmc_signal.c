/*
 * nmc_signal.c: signal names and the signals nmtrace refuses (nmc_parse.h).
 */
#include <errno.h>
#include <signal.h>

#include "nmc_parse.h"

static const struct {
    const char *name;
    int sig;
} names[] = {
    {"HUP", SIGHUP},       {"INT", SIGINT},   {"QUIT", SIGQUIT},     {"ILL", SIGILL},
    {"TRAP", SIGTRAP},     {"ABRT", SIGABRT}, {"IOT", SIGIOT},       {"BUS", SIGBUS},
    {"FPE", SIGFPE},       {"KILL", SIGKILL}, {"USR1", SIGUSR1},     {"SEGV", SIGSEGV},
    {"USR2", SIGUSR2},     {"PIPE", SIGPIPE}, {"ALRM", SIGALRM},     {"TERM", SIGTERM},
    {"STKFLT", SIGSTKFLT}, {"CHLD", SIGCHLD}, {"CONT", SIGCONT},     {"STOP", SIGSTOP},
    {"TSTP", SIGTSTP},     {"TTIN", SIGTTIN}, {"TTOU", SIGTTOU},     {"URG", SIGURG},
    {"XCPU", SIGXCPU},     {"XFSZ", SIGXFSZ}, {"VTALRM", SIGVTALRM}, {"PROF", SIGPROF},
    {"WINCH", SIGWINCH},   {"IO", SIGIO},     {"POLL", SIGPOLL},     {"PWR", SIGPWR},
    {"SYS", SIGSYS},
};

/* "RTMIN", "RTMIN+N", "RTMAX", "RTMAX-N" (after any SIG): the signal, or -1. */
static int realtime(const char *s)
{
    int base, dir;
    if (nmc_casecmp(s, "RTMIN") == 0 || nmc_casecmp(s, "RTMAX") == 0)
        return (s[4] == 'n' || s[4] == 'N') ? SIGRTMIN : SIGRTMAX;
    char head[7];
    for (int i = 0; i < 6; i++)
        if ((head[i] = s[i]) == '\0')
            return -1;
    head[6] = '\0';
    if (nmc_casecmp(head, "RTMIN+") == 0) {
        base = SIGRTMIN;
        dir = 1;
    } else if (nmc_casecmp(head, "RTMAX-") == 0) {
        base = SIGRTMAX;
        dir = -1;
    } else {
        return -1;
    }
    uint64_t k;
    if (nmc_parse_uint(s + 6, &k) != 0 || k > (uint64_t)(SIGRTMAX - SIGRTMIN))
        return -1;
    return base + dir * (int)k;
}

int nmc_parse_signal(const char *s, int *sig)
{
    uint64_t n;
    if (nmc_parse_uint(s, &n) == 0) {
        if (n < 1 || n > (uint64_t)SIGRTMAX)
            return -EINVAL;
        *sig = (int)n;
        return 0;
    }
    if ((s[0] == 'S' || s[0] == 's') && (s[1] == 'I' || s[1] == 'i') &&
        (s[2] == 'G' || s[2] == 'g'))
        s += 3;
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
        if (nmc_casecmp(s, names[i].name) == 0) {
            *sig = names[i].sig;
            return 0;
        }
    }
    int rt = realtime(s);
    if (rt < 0)
        return -EINVAL;
    *sig = rt;
    return 0;
}

int nmc_signal_refused(int sig)
{
    static const int refused[] = {SIGSEGV, SIGBUS,  SIGILL,  SIGFPE,  SIGTRAP, SIGUSR2, SIGQUIT,
                                  SIGHUP,  SIGINT,  SIGTERM, SIGPROF, SIGKILL, SIGSTOP, SIGCHLD,
                                  SIGPIPE, SIGXFSZ, SIGABRT, SIGCONT, SIGTSTP, SIGTTIN, SIGTTOU};
    for (size_t i = 0; i < sizeof(refused) / sizeof(refused[0]); i++)
        if (refused[i] == sig)
            return 1;
    return 0;
}
