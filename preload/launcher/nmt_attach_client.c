/*
 * nmt_attach_client.c: `nmtrace attach PID` and `nmtrace detach PID`.
 *
 * Loads libnmtrace.so into a running HotSpot JVM as an agent through the
 * JVM's own attach mechanism (what jcmd uses): the client creates the file
 * .attach_pid<pid> in the JVM's working directory (or /tmp), sends SIGQUIT,
 * and the JVM's attach listener opens the UNIX socket /tmp/.java_pid<pid>;
 * the client then sends protocol version "1", the command "load" and its
 * three arguments (library path, "true" for an absolute path, the agent's
 * options), each NUL-terminated, and reads the answer: a result code line,
 * then the command's output. The JVM only accepts a peer with its own uid
 * and gid. Paths are taken through /proc/<pid>/root and the pid as the JVM
 * sees it (NSpid), so a JVM in a container is reached too.
 *
 * The agent (nmt_attach.c) writes its answer, one line ("ok PATH" or
 * "error WHY"), to a status file the client created: the JVM's own output
 * stays untouched. An "ok" may be followed by lines "warning TEXT" (the JVM
 * bridge failed, or waits for a JVM still starting), said on stderr. Before
 * any signal is sent the client makes sure the JVM can take it: a JVM that
 * does not catch SIGQUIT would die of it, and one with
 * -XX:+DisableAttachMechanism would print a thread dump instead.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <pwd.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "nmc_parse.h"
#include "nmc_vars.h"
#include "nmt_attach_client.h"

#define SOCKET_WAIT_MS 10000
#define ARG_MAX_LEN    1024 /* HotSpot's limit for one argument */

struct target {
    int pid;   /* as we see it */
    int nspid; /* as the JVM sees itself */
    char root[64];
};

static int fail(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static int fail(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "nmtrace: ");
    vfprintf(stderr, fmt, ap);
    fprintf(stderr, "\n");
    va_end(ap);
    return 1;
}

static void sleep_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

/* The whole of a small /proc file, NUL-terminated; NULL when unreadable. */
static char *slurp(const char *path, size_t *len)
{
    FILE *f = fopen(path, "re");
    if (f == NULL)
        return NULL;
    size_t cap = 8192, n = 0;
    char *buf = malloc(cap + 1);
    size_t k;
    while (buf && (k = fread(buf + n, 1, cap - n, f)) > 0) {
        n += k;
        if (n == cap) {
            char *b = realloc(buf, 2 * cap + 1);
            if (b == NULL) {
                free(buf);
                buf = NULL;
                break;
            }
            buf = b;
            cap *= 2;
        }
    }
    fclose(f);
    if (buf) {
        buf[n] = '\0';
        if (len)
            *len = n;
    }
    return buf;
}

/* 1 when a NUL-separated list (cmdline, environ) holds needle. */
static int list_has(const char *path, const char *needle)
{
    size_t len;
    char *s = slurp(path, &len);
    int found = 0;
    for (size_t i = 0; s && i < len && !found; i += strlen(s + i) + 1)
        found = strstr(s + i, needle) != NULL;
    free(s);
    return found;
}

/* The last pid of NSpid (the innermost namespace), or the pid itself. */
static int ns_pid(int pid)
{
    char path[64];
    snprintf(path, sizeof(path), "/proc/%d/status", pid);
    char *s = slurp(path, NULL), *p = s ? strstr(s, "\nNSpid:") : NULL;
    int ns = pid;
    if (p) {
        p += 7;
        char *end;
        for (long v; (v = strtol(p, &end, 10)), end != p; p = end)
            ns = (int)v;
    }
    free(s);
    return ns;
}

/* 1 when the process catches signal sig (SigCgt in /proc/PID/status). */
static int catches(int pid, int sig)
{
    char path[64];
    snprintf(path, sizeof(path), "/proc/%d/status", pid);
    char *s = slurp(path, NULL), *p = s ? strstr(s, "\nSigCgt:") : NULL;
    unsigned long long mask = p ? strtoull(p + 8, NULL, 16) : 0;
    free(s);
    return (mask >> (sig - 1)) & 1;
}

/* Whether HotSpot is past the start of its attach mechanism, told by the
 * names of its threads: it starts the "Service Thread" right after
 * AttachListener::vm_start(), which removes a listener socket found then as
 * stale. A SIGQUIT before that can start a listener whose socket is removed
 * at once, or print a thread dump on the JVM's stdout. 1 past it, 0 not yet
 * (the JVM names its threads and "VM Thread" is there, the Service Thread
 * not), -1 unknown (no named threads: a JVM before JDK 9). */
static int past_attach_start(int pid)
{
    char path[64];
    snprintf(path, sizeof(path), "/proc/%d/task", pid);
    DIR *d = opendir(path);
    if (d == NULL)
        return -1;
    int service = 0, named = 0;
    struct dirent *de;
    while (!service && (de = readdir(d)) != NULL) {
        if (de->d_name[0] == '.')
            continue;
        char comm[PATH_MAX];
        snprintf(comm, sizeof(comm), "%s/%s/comm", path, de->d_name);
        char *s = slurp(comm, NULL);
        if (s == NULL)
            continue;
        service = strcmp(s, "Service Thread\n") == 0;
        named |= strcmp(s, "VM Thread\n") == 0;
        free(s);
    }
    closedir(d);
    return service ? 1 : named ? 0 : -1;
}

/* The JVM's perf data file (hsperfdata), NULL without one (-XX:-UsePerfData). */
static char *perfdata(const struct target *t, unsigned uid, size_t *len)
{
    struct passwd *pw = getpwuid(uid);
    char path[PATH_MAX];
    if (pw == NULL)
        return NULL;
    snprintf(path, sizeof(path), "%s/tmp/hsperfdata_%s/%d", t->root, pw->pw_name, t->nspid);
    return slurp(path, len);
}

/* The data of the perf data entry named key: entries are a 20-byte header
 * (length, name offset, vector length, type, flags, units, variability, data
 * offset) followed by the name and the data. NULL when absent. */
static const char *perf_entry(const char *d, size_t len, const char *key, size_t need)
{
    size_t klen = strlen(key) + 1;
    const char *k = d ? memmem(d, len, key, klen) : NULL;
    int32_t name_off, data_off;
    if (k == NULL || k - d < 20)
        return NULL;
    const char *e = k - 20;
    memcpy(&name_off, e + 4, 4);
    memcpy(&data_off, e + 16, 4);
    if (name_off != 20 || data_off < 20 || (size_t)(e - d) + (size_t)data_off + need > len)
        return NULL;
    return e + data_off;
}

/* What the perf data says: *attachable is the first sun.rt.jvmCapabilities
 * flag (1: the attach mechanism is on), *created whether the JVM finished
 * its creation (sun.rt.createVmEndTime set); -1 each when unknown. Before
 * that, a SIGQUIT could start an attach listener whose socket the JVM then
 * removes as stale, and the next one would print a thread dump. */
static void perf_state(const struct target *t, unsigned uid, int *attachable, int *created)
{
    size_t len = 0;
    char *d = perfdata(t, uid, &len);
    const char *caps = perf_entry(d, len, "sun.rt.jvmCapabilities", 1);
    const char *end = perf_entry(d, len, "sun.rt.createVmEndTime", 8);
    int64_t v = 0;
    *attachable = caps == NULL ? -1 : caps[0] == '1' ? 1 : caps[0] == '0' ? 0 : -1;
    if (end)
        memcpy(&v, end, 8);
    *created = end == NULL ? -1 : v != 0;
    free(d);
}

/* The checks that need no signal: exists, ours, a JVM that can attach. */
static int check_target(struct target *t)
{
    char path[64];
    struct stat st;
    snprintf(path, sizeof(path), "/proc/%d", t->pid);
    if (kill(t->pid, 0) != 0 && errno == ESRCH)
        return fail("no process with pid %d", t->pid);
    if (stat(path, &st) != 0)
        return fail("no process with pid %d", t->pid);
    if (st.st_uid != geteuid() || st.st_gid != getegid())
        return fail("process %d runs as uid %u gid %u: run nmtrace as that user (the JVM only "
                    "accepts its own uid and gid)",
                    t->pid, (unsigned)st.st_uid, (unsigned)st.st_gid);
    snprintf(path, sizeof(path), "/proc/%d/maps", t->pid);
    if (!list_has(path, "/libjvm.so"))
        return fail("process %d is not a JVM (no libjvm.so): attach supports HotSpot JVMs "
                    "only; run the program under nmtrace instead",
                    t->pid);
    snprintf(path, sizeof(path), "/proc/%d/cmdline", t->pid);
    char env[64];
    snprintf(env, sizeof(env), "/proc/%d/environ", t->pid);
    t->nspid = ns_pid(t->pid);
    snprintf(t->root, sizeof(t->root), "/proc/%d/root", t->pid);
    int attachable, created;
    perf_state(t, (unsigned)st.st_uid, &attachable, &created);
    /* Without perf data (-XX:-UsePerfData, or a JVM too early to have it)
     * its threads tell. */
    if (created < 0)
        created = past_attach_start(t->pid);
    if (created == 0)
        return fail("process %d is a JVM still starting: attach once it runs", t->pid);
    if (list_has(path, "+DisableAttachMechanism") || list_has(env, "+DisableAttachMechanism") ||
        attachable == 0)
        return fail("process %d runs with -XX:+DisableAttachMechanism: it cannot be attached to; "
                    "restart it under nmtrace instead",
                    t->pid);
    if (!catches(t->pid, SIGQUIT))
        return fail("process %d does not catch SIGQUIT (-Xrs or -XX:+ReduceSignalUsage?): "
                    "attaching would kill it",
                    t->pid);
    return 0;
}

static int connect_socket(const char *path)
{
    struct sockaddr_un sa;
    memset(&sa, 0, sizeof(sa));
    sa.sun_family = AF_UNIX;
    if (strlen(path) >= sizeof(sa.sun_path))
        return -ENAMETOOLONG;
    strcpy(sa.sun_path, path);
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -errno;
    if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0) {
        int e = errno;
        close(fd);
        return -e;
    }
    return fd;
}

/* Creates the attach file where the JVM looks for it: its working
 * directory, else its /tmp. The directory is held open (returned), so the
 * file is removed even when the process is gone by then (its /proc entry
 * with it). -1 when neither could take the file. */
static int make_attach_file(const struct target *t, char *name, size_t n)
{
    char dir[PATH_MAX];
    snprintf(name, n, ".attach_pid%d", t->nspid);
    for (int i = 0; i < 2; i++) {
        if (i == 0)
            snprintf(dir, sizeof(dir), "/proc/%d/cwd", t->pid);
        else
            snprintf(dir, sizeof(dir), "%s/tmp", t->root);
        int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        int fd =
            dfd < 0 ? -1 : openat(dfd, name, O_CREAT | O_WRONLY | O_CLOEXEC | O_NOFOLLOW, 0600);
        if (fd >= 0) {
            close(fd);
            return dfd;
        }
        if (dfd >= 0)
            close(dfd);
    }
    return -1;
}

/* The attach listener's socket: there already, or started by SIGQUIT. */
static int open_listener(const struct target *t)
{
    char sock[PATH_MAX], file[64];
    snprintf(sock, sizeof(sock), "%s/tmp/.java_pid%d", t->root, t->nspid);
    int fd = connect_socket(sock);
    if (fd >= 0)
        return fd;
    int dfd = make_attach_file(t, file, sizeof(file));
    if (dfd < 0)
        return fail("cannot create the attach file for process %d: %s", t->pid, strerror(errno)),
               -1;
    if (kill(t->pid, SIGQUIT) != 0) {
        int e = errno;
        unlinkat(dfd, file, 0);
        close(dfd);
        return fail("cannot signal process %d: %s", t->pid, strerror(e)), -1;
    }
    for (int ms = 0; ms < SOCKET_WAIT_MS && fd < 0; ms += 20) {
        sleep_ms(20);
        fd = connect_socket(sock);
        if (kill(t->pid, 0) != 0)
            break;
    }
    unlinkat(dfd, file, 0);
    close(dfd);
    if (fd < 0)
        fail("process %d opened no attach socket in %d s (-XX:+DisableAttachMechanism, or a "
             "JVM still starting or stuck)",
             t->pid, SOCKET_WAIT_MS / 1000);
    return fd;
}

static int write_all(int fd, const char *p, size_t n)
{
    while (n > 0) {
        ssize_t k = write(fd, p, n);
        if (k < 0 && errno == EINTR)
            continue;
        if (k <= 0)
            return -1;
        p += k;
        n -= (size_t)k;
    }
    return 0;
}

/* One "load" command; the JVM's answer goes to reply. 0 when the JVM ran
 * it (the agent's own verdict is in the status file). */
static int send_load(const struct target *t, const char *lib, const char *opts, char *reply,
                     size_t n)
{
    int fd = open_listener(t);
    if (fd < 0)
        return -1;
    const char *args[] = {"1", "load", lib, "true", opts};
    int err = 0;
    for (size_t i = 0; i < 5 && !err; i++)
        err = write_all(fd, args[i], strlen(args[i]) + 1);
    size_t len = 0;
    ssize_t k;
    while (!err && len + 1 < n && (k = read(fd, reply + len, n - 1 - len)) != 0) {
        if (k < 0 && errno == EINTR)
            continue;
        if (k < 0)
            break;
        len += (size_t)k;
    }
    reply[len] = '\0';
    close(fd);
    if (err)
        return fail("process %d closed the attach connection", t->pid), -1;
    if (atoi(reply) != 0)
        return fail("process %d refused to load %s: %s", t->pid, lib, reply), -1;
    return 0;
}

/* A status file the JVM can write (same uid) and we can read. */
/* A status file the JVM can write (same uid) and we can read, in its
 * /tmp: name gets its name, *dfd that directory held open (so the file is
 * removed even if the process, and its /proc entry, are gone). */
static int make_status(const struct target *t, int *dfd, char *name, size_t n)
{
    char dir[PATH_MAX];
    snprintf(dir, sizeof(dir), "%s/tmp", t->root);
    *dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (*dfd < 0)
        return -errno;
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    for (unsigned i = 0; i < 100; i++) {
        snprintf(name, n, "nmtrace-attach-%d-%d-%lx", t->nspid, (int)getpid(),
                 (unsigned long)ts.tv_nsec + i);
        int fd = openat(*dfd, name, O_CREAT | O_EXCL | O_WRONLY | O_CLOEXEC | O_NOFOLLOW, 0600);
        if (fd >= 0)
            return close(fd), 0;
        if (errno != EEXIST)
            break;
    }
    int e = errno;
    close(*dfd);
    return -e;
}

/* The agent's answer, from the status file: its first line into line, the
 * lines after it into more ("" when none). */
static void read_status(int dfd, const char *name, char *line, size_t n, char *more, size_t m)
{
    char all[8192];
    int fd = openat(dfd, name, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    ssize_t k = fd >= 0 ? read(fd, all, sizeof(all) - 1) : -1;
    all[k > 0 ? k : 0] = '\0';
    if (fd >= 0)
        close(fd);
    size_t first = strcspn(all, "\n");
    snprintf(line, n, "%.*s", (int)first, all);
    snprintf(more, m, "%s", all[first] ? all + first + 1 : "");
}

/* The agent's "warning TEXT" lines, on stderr. */
static void say_warnings(const struct target *t, char *more)
{
    for (char *save = NULL, *l = strtok_r(more, "\n", &save); l; l = strtok_r(NULL, "\n", &save))
        if (strncmp(l, "warning ", 8) == 0)
            fprintf(stderr, "nmtrace: process %d: %s\n", t->pid, l + 8);
}

/* Runs one agent command; line gets the agent's answer ("ok PATH"). */
static int agent_command(const struct target *t, const char *lib, const char *opts, char *line,
                         size_t n)
{
    char name[128], all[2 * ARG_MAX_LEN], reply[4096], more[4096] = "";
    int dfd;
    if (make_status(t, &dfd, name, sizeof(name)) != 0)
        return fail("cannot create a status file in %s/tmp: %s", t->root, strerror(errno));
    int len = snprintf(all, sizeof(all), "%s%sstatus=/tmp/%s", opts, opts[0] ? "," : "", name);
    int r = -1;
    if (len < 0 || len >= ARG_MAX_LEN)
        fail("the agent options are longer than %d bytes: use a shorter --output", ARG_MAX_LEN - 1);
    else
        r = send_load(t, lib, all, reply, sizeof(reply));
    line[0] = '\0';
    if (r == 0)
        read_status(dfd, name, line, n, more, sizeof(more));
    unlinkat(dfd, name, 0);
    close(dfd);
    if (r != 0)
        return 1;
    if (strncmp(line, "ok ", 3) == 0)
        return say_warnings(t, more), 0;
    if (strncmp(line, "error ", 6) == 0)
        return fail("process %d: %s", t->pid, line + 6);
    return fail("process %d loaded %s but gave no answer (%s)", t->pid, lib,
                reply[0] ? reply : "empty reply");
}

struct attach_args {
    long long duration_ms; /* -1 = until detach */
    long interval;         /* seconds, -1 = the default */
    int interval_auto;     /* --interval auto: the recorder's own cadence */
    uint64_t rate;
    uint32_t depth; /* 0 = the process's own (NMTRACE_DEPTH, or 64) */
    char output[PATH_MAX];
    char lib[PATH_MAX];
    struct target t;
};

static const char attach_usage[] =
    "usage: nmtrace attach [--duration TIME] [--output PATH] [--rate BYTES] [--interval SEC|auto]\n"
    "                      [--depth N] [--lib PATH] PID\n"
    "       nmtrace detach [--lib PATH] PID\n"
    "Starts (or stops) recording in a running HotSpot JVM without a restart.\n"
    "With --duration, records that long, detaches and prints the profile's path.\n";

static int usage_error(const char *what, const char *arg)
{
    fprintf(stderr, "nmtrace: %s '%s' (see nmtrace attach --help)\n", what, arg);
    return 2;
}

static int parse_pid(const char *s, int *pid)
{
    uint64_t v;
    if (nmc_parse_uint(s, &v) != 0 || v == 0 || v > INT_MAX)
        return -1;
    *pid = (int)v;
    return 0;
}

/* --rate, --interval and --depth take what the variable they set for the
 * session takes (common/nmc_vars.c), checked as the agent checks them: a
 * usage error here, and no signal sent. v: the value in the variable's unit. */
static int session_value(const char *opt, const char *var, const char *arg, uint64_t *v)
{
    char why[200];
    if (nmc_var_parse(nmc_var_find(var), arg, v, why, sizeof(why)) == 0)
        return 0;
    fprintf(stderr, "nmtrace: %s wants what %s takes: %s (see nmtrace attach --help)\n", opt, var,
            why);
    return 2;
}

/* One valued option of attach into a; 0, or the exit status of a usage error. */
static int attach_value(int c, const char *arg, struct attach_args *a)
{
    uint64_t v;
    int r = 0;
    if (c == 'o') {
        if (*arg == '\0' || strchr(arg, ',') || strlen(arg) > 511)
            return usage_error("--output wants a path of 1 to 511 bytes without ',', not", arg);
        snprintf(a->output, sizeof(a->output), "%s", arg);
    } else if (c == 'r') {
        if ((r = session_value("--rate", "NMTRACE_RATE", arg, &v)) == 0)
            a->rate = v;
    } else if (c == 'D') {
        if ((r = session_value("--depth", "NMTRACE_DEPTH", arg, &v)) == 0)
            a->depth = (uint32_t)v;
    } else if (c == 'i') {
        if ((r = session_value("--interval", "NMTRACE_INTERVAL", arg, &v)) == 0) {
            a->interval_auto = v == NMC_WORD(0);
            a->interval = a->interval_auto ? -1 : (long)v;
        }
    } else if (nmc_parse_duration(arg, &v) != 0 || v > 86400000ull * 365) {
        return usage_error("--duration wants a duration up to 365d (10, 30s, 2m), not", arg);
    } else {
        a->duration_ms = (long long)v;
    }
    return r;
}

/* Options into a; 0, or the exit status of a usage error (help: -1). */
static int parse_attach(int argc, char **argv, struct attach_args *a)
{
    static const struct option longopts[] = {
        {"duration", required_argument, NULL, 'd'},
        {"output", required_argument, NULL, 'o'},
        {"rate", required_argument, NULL, 'r'},
        {"interval", required_argument, NULL, 'i'},
        {"depth", required_argument, NULL, 'D'}, /* long only: -d is --duration */
        {"lib", required_argument, NULL, 'l'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    int c, r, detach = strcmp(argv[0], "detach") == 0;
    optind = 1;
    opterr = 0;
    while ((c = getopt_long(argc, argv, ":d:o:r:i:l:h", longopts, NULL)) != -1) {
        if (c == 'h')
            return fputs(attach_usage, stdout), -1;
        if (c == ':' || c == '?')
            return usage_error("missing value or unknown option", argv[optind - 1]);
        if (c == 'l') {
            snprintf(a->lib, sizeof(a->lib), "%s", optarg);
        } else if (detach) {
            return usage_error("detach takes no option but --lib, not", argv[optind - 1]);
        } else if ((r = attach_value(c, optarg, a)) != 0) {
            return r;
        }
    }
    if (optind != argc - 1)
        return usage_error("attach and detach want exactly one PID, got",
                           optind < argc ? argv[optind + 1 < argc ? optind + 1 : optind] : "none");
    if (parse_pid(argv[optind], &a->t.pid) != 0)
        return usage_error("a PID is a positive number, not", argv[optind]);
    return 0;
}

/* The profile path for the agent: absolute, as the client's cwd meant it. */
static int absolute_output(struct attach_args *a, char *out, size_t n)
{
    char cwd[PATH_MAX];
    if (a->output[0] == '\0')
        snprintf(a->output, sizeof(a->output), "nmtrace.%d.nmt", a->t.pid);
    if (a->output[0] == '/')
        return snprintf(out, n, "%s", a->output) < (int)n ? 0 : -1;
    if (getcwd(cwd, sizeof(cwd)) == NULL)
        return -1;
    return snprintf(out, n, "%s/%s", cwd, a->output) < (int)n ? 0 : -1;
}

static long long now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static volatile sig_atomic_t stop_early;

static void on_stop(int sig)
{
    (void)sig;
    stop_early = 1;
}

/* Until the duration is over, the user interrupts (INT, TERM, HUP: the
 * recording is then detached early, not left running), or the process is
 * gone: 1 when it is gone. */
static int wait_duration(int pid, long long ms)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_stop;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGHUP, &sa, NULL);
    long long end = now_ms() + ms;
    while (!stop_early) {
        if (kill(pid, 0) != 0 && errno == ESRCH)
            return 1;
        long long left = end - now_ms();
        if (left <= 0)
            return 0;
        sleep_ms(left < 100 ? (long)left : 100);
    }
    return 0;
}

static int run_attach(struct attach_args *a)
{
    char out[PATH_MAX], opts[2 * ARG_MAX_LEN], line[PATH_MAX + 64];
    if (absolute_output(a, out, sizeof(out)) != 0)
        return fail("the profile path is too long");
    /* A duration without an interval gets about ten snapshots, for --growth;
     * without either, or with --interval auto, the recorder's own cadence. */
    long interval = a->interval >= 0 ? a->interval
                    : a->duration_ms > 0 && !a->interval_auto
                        ? (long)((a->duration_ms + 9999) / 10000)
                        : -1;
    int n = snprintf(opts, sizeof(opts), "via=nmtrace,output=%s", out);
    if (interval >= 0)
        n += snprintf(opts + n, sizeof(opts) - (size_t)n, ",interval=%ld", interval);
    else if (a->interval_auto)
        n += snprintf(opts + n, sizeof(opts) - (size_t)n, ",interval=auto");
    if (a->rate)
        n +=
            snprintf(opts + n, sizeof(opts) - (size_t)n, ",rate=%llu", (unsigned long long)a->rate);
    if (a->depth)
        snprintf(opts + n, sizeof(opts) - (size_t)n, ",depth=%u", a->depth);
    if (agent_command(&a->t, a->lib, opts, line, sizeof(line)) != 0)
        return 1;
    const char *path = line + 3;
    if (a->duration_ms < 0) {
        fprintf(stderr, "nmtrace: recording process %d to %s; stop with: nmtrace detach %d\n",
                a->t.pid, path, a->t.pid);
        printf("%s\n", path);
        return 0;
    }
    char saved[sizeof(line)];
    memcpy(saved, path, strlen(path) + 1);
    if (wait_duration(a->t.pid, a->duration_ms)) {
        fprintf(stderr,
                "nmtrace: process %d ended before the duration; its profile ends at its exit\n",
                a->t.pid);
        printf("%s\n", saved);
        return 0;
    }
    if (agent_command(&a->t, a->lib, "detach", line, sizeof(line)) != 0)
        return 1;
    printf("%s\n", line + 3);
    return 0;
}

int nmt_attach_client(int argc, char **argv, const char *default_lib)
{
    struct attach_args a;
    memset(&a, 0, sizeof(a));
    a.duration_ms = a.interval = -1;
    int r = parse_attach(argc, argv, &a);
    if (r != 0)
        return r < 0 ? 0 : r;
    if (a.lib[0] == '\0')
        snprintf(a.lib, sizeof(a.lib), "%s", default_lib);
    char real[PATH_MAX];
    if (realpath(a.lib, real) == NULL)
        return fail("no recorder library at %s (use --lib PATH)", a.lib);
    snprintf(a.lib, sizeof(a.lib), "%s", real);
    if (check_target(&a.t) != 0)
        return 1;
    if (strcmp(argv[0], "attach") == 0)
        return run_attach(&a);
    char line[PATH_MAX + 64];
    if (agent_command(&a.t, a.lib, "detach", line, sizeof(line)) != 0)
        return 1;
    printf("%s\n", line + 3);
    return 0;
}
