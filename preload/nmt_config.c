/*
 * nmt_config.c: the NMTRACE_* environment variables.
 *
 * Read once, in the constructor, with getenv (which does not allocate). Each
 * value is checked against its entry in common/nmc_vars.c, the table the
 * launcher checks its options against, so both accept the same strings
 * (README.md, "Values"). A bad value gets one line on stderr naming the
 * variable and the default that is used instead, and so does an NMTRACE_*
 * name the table does not know: the host process must start whatever the
 * environment says.
 */
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "nmc_env.h"
#include "nmc_parse.h"
#include "nmc_vars.h"
#include "nmt_cadence.h"
#include "nmt_internal.h"
#include "nmt_os.h"

/* Rates from here up sample sparsely enough for the small default ring. */
#define SPARSE_RATE (64u << 10)

/* On a line of its own from its start: the fields a sample reads (rate,
 * unwind_mode, depth, growth) are in its first 48 bytes. */
NMT_HIDDEN _Alignas(64) struct nmt_config nmt__cfg = {
    .rate = 524288,
    .depth = 64,
    .output = "nmtrace.%p.nmt",
    .java = 1,
    .ring_kib = 1024,
    .interval = NMT_AUTO_INTERVAL_S,
    .interval_auto = 1,
};

/* 1 with the value of variable name in *out when it is set and valid (by its
 * entry in nmc_vars.c); 0 when it is unset, or set but not valid, which gets
 * one line naming it, what it should be and what is used instead (kept). */
static int var(const char *name, uint64_t *out, const char *kept)
{
    const char *s = getenv(name);
    const struct nmc_var *v = nmc_var_find(name);
    char why[200];
    if (s == NULL || *s == '\0' || v == NULL)
        return 0;
    if (nmc_var_parse(v, s, out, why, sizeof(why)) == 0)
        return 1;
    nmt__say("nmtrace: %s=%s; using %s", name, why, kept);
    return 0;
}

/* A numeric variable into *dst, whose present value is the default. */
static void num_var(const char *name, uint64_t *dst)
{
    char kept[24];
    snprintf(kept, sizeof(kept), "%llu", (unsigned long long)*dst);
    var(name, dst, kept);
}

static void u32_var(const char *name, uint32_t *dst)
{
    uint64_t v = *dst;
    num_var(name, &v);
    *dst = (uint32_t)v; /* every u32 variable's maximum fits (nmc_vars.c) */
}

/* A path: nmc_vars.c's limit is the buffer's size less the final NUL. */
static void string_var(const char *name, char *dst, size_t size)
{
    uint64_t len;
    if (var(name, &len, dst[0] != '\0' ? dst : "none") && len < size)
        memcpy(dst, getenv(name), (size_t)len + 1);
}

/* NMTRACE_INTERVAL: unset or "auto" is the default cadence whose gaps grow
 * with the run's age (nmt_cadence.h); a duration is a fixed gap, 0 none. */
static void interval_var(void)
{
    uint64_t v;
    if (var("NMTRACE_INTERVAL", &v, "auto") && v != NMC_WORD(0)) { /* word 0: auto */
        nmt__cfg.interval = (uint32_t)v; /* at most a year of seconds (nmc_vars.c) */
        nmt__cfg.interval_auto = 0;
    }
}

/* A relative NMTRACE_OUTPUT is taken from the directory the process starts
 * in: the writer creates the file a moment later, when the program may
 * have changed directory, and every message names the file absolutely. */
static void absolute_output(void)
{
    char cwd[sizeof(nmt__cfg.output)];
    size_t len, olen = strlen(nmt__cfg.output);
    if (nmt__cfg.output[0] == '/' || getcwd(cwd, sizeof(cwd)) == NULL)
        return;
    len = strlen(cwd);
    if (len + 1 + olen >= sizeof(nmt__cfg.output))
        return; /* too long to hold: made relative, named absolutely once made */
    memmove(nmt__cfg.output + len + 1, nmt__cfg.output, olen + 1);
    memcpy(nmt__cfg.output, cwd, len);
    nmt__cfg.output[len] = '/';
}

_Static_assert(NMC_DEPTH_MAX == NMT_MAX_DEPTH, "NMTRACE_DEPTH's limit is the stack buffers' size");

/* 1 when the environment a process started with (/proc/PID/environ) has an
 * LD_PRELOAD naming libnmtrace: read a block at a time, matched as it goes. */
static int started_recorded(pid_t pid)
{
    static const char key[] = "LD_PRELOAD=", lib[] = "libnmtrace";
    char buf[4096];
    snprintf(buf, sizeof(buf), "/proc/%ld/environ", (long)pid);
    int fd = open(buf, O_RDONLY | O_CLOEXEC), found = 0;
    size_t k = 0, m = 0; /* bytes of key at the entry's start, of lib after it */
    ssize_t n;
    if (fd < 0)
        return 0;
    while (!found && (n = read(fd, buf, sizeof(buf))) > 0) {
        for (ssize_t i = 0; i < n && !found; i++) {
            char c = buf[i];
            if (c == '\0')
                k = m = 0;
            else if (k == SIZE_MAX)
                continue; /* another variable */
            else if (k < sizeof(key) - 1)
                k = c == key[k] ? k + 1 : SIZE_MAX;
            else /* no letter of lib repeats: a mismatch restarts at 0 or 1 */
                found = (m = c == lib[m] ? m + 1 : c == lib[0]) == sizeof(lib) - 1;
        }
    }
    close(fd);
    return found;
}

/* 1 when the parent process has said what is wrong with this environment:
 * it is the nmtrace launcher, or it was recorded itself (and a child usually
 * inherits its environment). A forked child never asks: it does not run the
 * constructor again. */
static int parent_warned(void)
{
    pid_t parent = getppid();
    char path[64], exe[4096];
    snprintf(path, sizeof(path), "/proc/%ld/exe", (long)parent);
    ssize_t n = readlink(path, exe, sizeof(exe) - 1);
    if (n > 0) {
        exe[n] = '\0';
        if (strcmp(nmc_base_name(exe), "nmtrace") == 0)
            return 1;
    }
    return started_recorded(parent);
}

/* One line for each NMTRACE_* name nmtrace does not know: a misspelt
 * variable would otherwise be ignored in silence. Once per process tree. */
static void warn_unknown(void)
{
    extern char **environ;
    char msg[512];
    int asked = 0; /* the parent is asked about only when there is a name to say */
    if (nmt__cfg.quiet)
        return;
    for (char **e = environ; e != NULL && *e != NULL; e++) {
        if (!nmc_env_unknown(*e, msg, sizeof(msg)))
            continue;
        if (!asked++ && parent_warned())
            return;
        nmt__say("nmtrace: %s", msg);
    }
}

NMT_HIDDEN void nmt__config_load(void)
{
    /* First: while it is unread, a bad value of it is said. */
    uint64_t quiet;
    if (var("NMTRACE_QUIET", &quiet, "0"))
        nmt__cfg.quiet = quiet == 1;
    num_var("NMTRACE_RATE", &nmt__cfg.rate);
    u32_var("NMTRACE_DEPTH", &nmt__cfg.depth);
    interval_var();
    num_var("NMTRACE_GROWTH", &nmt__cfg.growth);
    /* Rate 1 records every allocation: a 1 MiB ring overflows in a burst
     * (docs/PERFORMANCE.md measured half the events lost), so its default is
     * 16 MiB. Ring pages are touched only as they are used. */
    if (nmt__cfg.rate == 1)
        nmt__cfg.ring_kib = 16384;
    /* At the default rate and sparser, samples are few (thousands a second
     * per busy thread): 256 KiB holds seconds of them and keeps the
     * recorder's memory per thread at a quarter of a MiB (rec.own_rings;
     * docs/PERFORMANCE.md measured no waits for room under load). */
    else if (nmt__cfg.rate >= SPARSE_RATE)
        nmt__cfg.ring_kib = 256;
    u32_var("NMTRACE_RING", &nmt__cfg.ring_kib);
    uint64_t v;
    if (var("NMTRACE_SEED", &v, "a random seed")) {
        nmt__cfg.seed = v;
        nmt__cfg.seed_set = 1;
    }
    /* Keywords: the index in nmc_vars.c's word list. */
    nmt__cfg.unwind_mode = NMT_UNWIND_AUTO;
    if (var("NMTRACE_UNWIND", &v, "auto"))
        nmt__cfg.unwind_mode = (int)v;
    nmt__cfg.unwind_fp = nmt__cfg.unwind_mode == NMT_UNWIND_FP;
    if (var("NMTRACE_JAVA", &v, "auto"))
        nmt__cfg.java = v == 0 || v == 2; /* auto, 1 */
    if (var("NMTRACE_JAVA_WALK", &v, "auto"))
        nmt__cfg.java_walk = (int)v;
    if (var("NMTRACE_ON_FULL", &v, "wait"))
        nmt__cfg.on_full_drop = v == 1;
    if (var("NMTRACE_SIGNAL", &v, "no dump signal"))
        nmt__cfg.dump_signal = (int)v;
    string_var("NMTRACE_OUTPUT", nmt__cfg.output, sizeof(nmt__cfg.output));
    string_var("NMTRACE_TRIGGER", nmt__cfg.trigger, sizeof(nmt__cfg.trigger));
    string_var("NMTRACE_RUN", nmt__cfg.run, sizeof(nmt__cfg.run));
    absolute_output();
    warn_unknown();
}

NMT_HIDDEN void nmt__config_describe(void (*add)(void *, const char *, const char *), void *ctx)
{
    char buf[64];
    snprintf(buf, sizeof(buf), "%llu", (unsigned long long)nmt__cfg.rate);
    add(ctx, "config.RATE", buf);
    snprintf(buf, sizeof(buf), "%llu", (unsigned long long)nmt__cfg.seed);
    add(ctx, "config.SEED", nmt__cfg.seed_set ? buf : "random");
    static const char *const unwind_names[] = {"libunwind", "fp", "auto", "check"};
    add(ctx, "config.UNWIND", unwind_names[nmt__cfg.unwind_mode & 3]);
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
    static const char *const walk_names[] = {"auto", "asgct", "check"};
    add(ctx, "config.JAVA_WALK", walk_names[nmt__cfg.java_walk % 3]);
    snprintf(buf, sizeof(buf), "%u", nmt__cfg.ring_kib);
    add(ctx, "config.RING", buf);
    add(ctx, "config.ON_FULL", nmt__cfg.on_full_drop ? "drop" : "wait");
    if (nmt__cfg.run[0])
        add(ctx, "config.RUN", nmt__cfg.run);
}
