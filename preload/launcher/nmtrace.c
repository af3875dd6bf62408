/*
 * nmtrace.c: the `nmtrace [options] [--] command [args...]` launcher.
 *
 * It owns nothing of the recording itself: it turns options into NMTRACE_*
 * variables, prepends libnmtrace.so (found at ../lib/ from the launcher's own
 * path) to LD_PRELOAD, adds the perf-map flags to JAVA_TOOL_OPTIONS for a
 * `java` command, then runs the command as a child, waits for it, and prints
 * where the profile went and how to read it. The signals a user sends to the
 * launcher (TERM, INT, HUP, QUIT, USR1, USR2 and the --signal one) go on to
 * the child. Its exit status is the child's (128 + signal when the child was
 * killed). Plain `LD_PRELOAD=libnmtrace.so cmd` stays the primary interface;
 * the launcher only saves typing.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <dirent.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "nmc_env.h"
#include "nmc_parse.h"
#include "nmc_vars.h"
#include "nmt_attach_client.h"

#ifndef NMT_VERSION
#define NMT_VERSION "unknown"
#endif

/* The recorder's default when NMTRACE_OUTPUT is unset (docs/FORMAT.md). */
#define DEFAULT_OUTPUT  "nmtrace.%p.nmt"
#define JAVA_PERF_FLAGS "-XX:+UnlockDiagnosticVMOptions -XX:+DumpPerfMapAtExit"
#define EXIT_USAGE      2

static const char usage_text[] =
    "usage: nmtrace [options] [--] command [args...]\n"
    "       nmtrace attach [--duration SEC] [options] PID | nmtrace detach PID\n"
    "Runs command with libnmtrace.so preloaded and says where its profile went.\n"
    "\n"
    "  -o, --output PATH      profile path; %p is replaced by the pid   (NMTRACE_OUTPUT)\n"
    "  -r, --rate SIZE        mean bytes between samples, 1 = every allocation (NMTRACE_RATE)\n"
    "  -i, --interval TIME    a snapshot every TIME, 0 = off           (NMTRACE_INTERVAL)\n"
    "  -g, --growth SIZE      a snapshot when tracked bytes grew by SIZE (NMTRACE_GROWTH)\n"
    "  -d, --depth N          at most N native frames per stack        (NMTRACE_DEPTH)\n"
    "  -u, --unwind METHOD    libunwind or fp                          (NMTRACE_UNWIND)\n"
    "  -s, --seed N           sampler seed, for repeatable runs        (NMTRACE_SEED)\n"
    "      --signal SIG       dump a snapshot on SIG (USR1, RTMIN+2, 10...) (NMTRACE_SIGNAL)\n"
    "      --trigger FILE     dump a snapshot when FILE appears        (NMTRACE_TRIGGER)\n"
    "      --java auto|off    JVM bridge; off also leaves JAVA_TOOL_OPTIONS alone (NMTRACE_JAVA)\n"
    "  -q, --quiet            no notices from the recorder             (NMTRACE_QUIET)\n"
    "      --lib PATH         the recorder library (default: ../lib/libnmtrace.so\n"
    "                         next to this program)\n"
    "  -h, --help             this text\n"
    "      --version          print the version\n"
    "\n"
    "SIZE is bytes with an optional unit k, m, g or t (powers of 1024; 64k, 1.5g,\n"
    "512MiB); TIME is seconds with an optional unit ms, s, m, h or d (30, 5m, 1h).\n"
    "The recorder's variables take the same values (README.md, Values).\n"
    "\n"
    "For a java command, -XX:+UnlockDiagnosticVMOptions -XX:+DumpPerfMapAtExit and\n"
    "-agentpath:<libnmtrace.so> are added to JAVA_TOOL_OPTIONS so JIT frames are named\n"
    "and the JVM bridge starts with the first class. TERM, INT, HUP, QUIT, USR1, USR2\n"
    "and the --signal one, sent to nmtrace, go on to the command. The exit status is\n"
    "the command's (128 + N when it was killed by signal N). A recorder whose path\n"
    "has a space or ':' is preloaded through a link in $XDG_RUNTIME_DIR (or /tmp)\n"
    "/nmtrace-<uid>/, as LD_PRELOAD cannot hold such a path.\n";

static void die_usage(const char *fmt, const char *arg)
{
    fprintf(stderr, "nmtrace: ");
    fprintf(stderr, fmt, arg);
    fprintf(stderr, " (see nmtrace --help)\n");
    exit(EXIT_USAGE);
}

/* Where this program lives, so that ../lib/libnmtrace.so can be found. */
static int default_lib(char *out, size_t n)
{
    char self[PATH_MAX];
    ssize_t len = readlink("/proc/self/exe", self, sizeof(self) - 1);
    char *slash;
    if (len <= 0)
        return -errno;
    self[len] = '\0';
    slash = strrchr(self, '/');
    if (slash == NULL)
        return -ENOENT;
    *slash = '\0';
    if ((size_t)snprintf(out, n, "%s/../lib/libnmtrace.so", self) >= n)
        return -ENAMETOOLONG;
    return 0;
}

static void set_env(const char *name, const char *value)
{
    if (setenv(name, value, 1) != 0) {
        fprintf(stderr, "nmtrace: cannot set %s: %s\n", name, strerror(errno));
        exit(EXIT_USAGE);
    }
}

/* Checks value against variable name's entry in nmc_vars.c, as the recorder
 * will, and passes it on as it is; returns it parsed. */
static uint64_t pass_on(const char *opt, const char *name, const char *value)
{
    char why[200];
    uint64_t v;
    if (nmc_var_parse(nmc_var_find(name), value, &v, why, sizeof(why)) != 0) {
        fprintf(stderr, "nmtrace: %s: %s (see nmtrace --help)\n", opt, why);
        exit(EXIT_USAGE);
    }
    set_env(name, value);
    return v;
}

/* One line for each NMTRACE_* variable of the environment nmtrace does not
 * know (a typo would otherwise be ignored); the recorder then stays silent
 * about them in this run (parent_warned() in preload/nmt_config.c). */
static void warn_unknown(void)
{
    extern char **environ;
    char msg[512];
    for (char **e = environ; *e != NULL; e++)
        if (nmc_env_unknown(*e, msg, sizeof(msg)))
            fprintf(stderr, "nmtrace: %s\n", msg);
}

/* LD_PRELOAD has no quoting: ld.so splits it at every space and ':'. A
 * recorder installed under such a path is preloaded through a symbolic link
 * in a private directory of this user, <runtime dir>/nmtrace-<uid>/, named
 * after the library's device and inode. The link stays after the run, so a
 * daemon the command leaves behind can still exec programs that preload it.
 * The same link goes into -agentpath, which then needs no quoting either. */
static int unsplittable(const char *path)
{
    return strpbrk(path, " :\t\n") == NULL;
}

static int private_dir(const char *base, char *out, size_t n)
{
    struct stat st;
    if ((size_t)snprintf(out, n, "%s/nmtrace-%lu", base, (unsigned long)getuid()) >= n)
        return -ENAMETOOLONG;
    if (mkdir(out, 0700) != 0 && errno != EEXIST)
        return -errno;
    /* Someone else's directory, or a link planted in a shared /tmp: refuse. */
    if (lstat(out, &st) != 0)
        return -errno;
    if (!S_ISDIR(st.st_mode) || st.st_uid != getuid() || (st.st_mode & 077) != 0)
        return -EPERM;
    return 0;
}

static int preload_link(const char *lib, char *out, size_t n)
{
    const char *rt = getenv("XDG_RUNTIME_DIR");
    char dir[PATH_MAX], tmp[PATH_MAX], seen[PATH_MAX];
    struct stat st;
    ssize_t len;
    int err;
    if (rt == NULL || rt[0] != '/' || !unsplittable(rt) || strlen(rt) > 256)
        rt = "/tmp";
    if ((err = private_dir(rt, dir, sizeof(dir))) != 0)
        return err;
    if (stat(lib, &st) != 0)
        return -errno;
    if ((size_t)snprintf(out, n, "%s/libnmtrace-%lx-%lx.so", dir, (unsigned long)st.st_dev,
                         (unsigned long)st.st_ino) >= n ||
        (size_t)snprintf(tmp, sizeof(tmp), "%s.%ld", out, (long)getpid()) >= sizeof(tmp))
        return -ENAMETOOLONG;
    len = readlink(out, seen, sizeof(seen) - 1);
    if (len > 0 && (seen[len] = '\0', strcmp(seen, lib) == 0))
        return 0;
    /* A new link under a temporary name, renamed over: a concurrent run
     * never sees a missing or half-made link. */
    unlink(tmp);
    if (symlink(lib, tmp) != 0)
        return -errno;
    if (rename(tmp, out) != 0) {
        err = -errno;
        unlink(tmp);
        return err;
    }
    return 0;
}

/* Puts lib first in LD_PRELOAD, keeping whatever was there after it. */
static void prepend_preload(const char *lib)
{
    const char *old = getenv("LD_PRELOAD");
    char *v;
    if (old == NULL || *old == '\0') {
        set_env("LD_PRELOAD", lib);
        return;
    }
    if (asprintf(&v, "%s %s", lib, old) < 0) {
        fprintf(stderr, "nmtrace: out of memory\n");
        exit(EXIT_USAGE);
    }
    set_env("LD_PRELOAD", v);
    free(v);
}

static int is_java(const char *cmd)
{
    return strcmp(nmc_base_name(cmd), "java") == 0;
}

/* For a java command: the perf-map flags (JIT frames named even with the
 * bridge off) and -agentpath for the recorder itself, so the JVM bridge is
 * there from the first class instead of attaching once the VM is up. What
 * the user had in JAVA_TOOL_OPTIONS is kept, first. */
static void add_java_flags(const char *lib)
{
    const char *old = getenv("JAVA_TOOL_OPTIONS");
    if (old == NULL)
        old = "";
    int perf = strstr(old, "DumpPerfMapAtExit") == NULL;
    int agent = strstr(old, lib) == NULL;
    char *v;
    if (asprintf(&v, "%s%s%s%s%s", old, *old && perf ? " " : "", perf ? JAVA_PERF_FLAGS : "",
                 (*old || perf) && agent ? " -agentpath:" : (agent ? "-agentpath:" : ""),
                 agent ? lib : "") < 0) {
        fprintf(stderr, "nmtrace: out of memory\n");
        exit(EXIT_USAGE);
    }
    set_env("JAVA_TOOL_OPTIONS", v);
    free(v);
}

/* The pattern with every %p replaced by pid and %% by %. */
static int expand(const char *pattern, pid_t pid, char *out, size_t n)
{
    size_t o = 0;
    for (const char *p = pattern; *p != '\0'; p++) {
        char num[24];
        const char *add = num;
        if (p[0] == '%' && p[1] == 'p') {
            snprintf(num, sizeof(num), "%ld", (long)pid);
            p++;
        } else if (p[0] == '%' && p[1] == '%') {
            add = "%";
            p++;
        } else {
            num[0] = *p;
            num[1] = '\0';
        }
        size_t len = strlen(add);
        if (o + len >= n)
            return -ENAMETOOLONG;
        memcpy(out + o, add, len);
        o += len;
    }
    out[o] = '\0';
    return 0;
}

static int newer_than(const struct stat *st, const struct timespec *t)
{
    return st->st_mtim.tv_sec > t->tv_sec ||
           (st->st_mtim.tv_sec == t->tv_sec && st->st_mtim.tv_nsec >= t->tv_nsec);
}

/*
 * Profiles of other processes of the run (fork children, exec'ed helpers,
 * a shell script's java): files in the pattern's directory whose name is the
 * pattern with any pid, written since the start. Only patterns with one %p in
 * the file name are searched.
 */
static void list_others(const char *pattern, pid_t child, const struct timespec *start)
{
    char dir[PATH_MAX] = ".", mine[PATH_MAX];
    const char *base = strrchr(pattern, '/'), *mark;
    size_t pre, suf;
    DIR *d;
    struct dirent *e;
    int shown = 0;

    if (base != NULL) {
        size_t len = (size_t)(base - pattern);
        if (len >= sizeof(dir) || memchr(pattern, '%', len) != NULL)
            return;
        memcpy(dir, pattern, len);
        dir[len == 0 ? 1 : len] = '\0';
        if (len == 0)
            dir[0] = '/';
        base++;
    } else {
        base = pattern;
    }
    mark = strstr(base, "%p");
    if (mark == NULL || strstr(mark + 2, "%") != NULL || memchr(base, '%', (size_t)(mark - base)))
        return;
    pre = (size_t)(mark - base);
    suf = strlen(mark + 2);
    if (expand(base, child, mine, sizeof(mine)) != 0 || (d = opendir(dir)) == NULL)
        return;
    while ((e = readdir(d)) != NULL) {
        size_t len = strlen(e->d_name), i;
        char path[PATH_MAX];
        struct stat st;
        if (len <= pre + suf || strncmp(e->d_name, base, pre) != 0 ||
            strcmp(e->d_name + len - suf, mark + 2) != 0 || strcmp(e->d_name, mine) == 0)
            continue;
        for (i = pre; i < len - suf; i++)
            if (e->d_name[i] < '0' || e->d_name[i] > '9')
                break;
        if (i != len - suf)
            continue;
        if ((size_t)snprintf(path, sizeof(path), "%s/%s", dir, e->d_name) >= sizeof(path) ||
            stat(path, &st) != 0 || !S_ISREG(st.st_mode) || !newer_than(&st, start))
            continue;
        if (shown++ < 5)
            fprintf(stderr, "nmtrace: also written by another process of the run: %s\n", path);
    }
    closedir(d);
    if (shown > 5)
        fprintf(stderr, "nmtrace: ... and %d more such profiles\n", shown - 5);
}

/*
 * The name the recorder gives the n-th file of one pid: when the name is
 * taken (a program that exec'ed keeps its pid), it puts ".1", ".2"... before
 * a final ".nmt" (preload/nmt_os.c). n = 0 is the plain name.
 */
static int nth_name(const char *base, int n, char *out, size_t size)
{
    size_t len = strlen(base);
    int w;
    if (n == 0)
        w = snprintf(out, size, "%s", base);
    else if (len > 4 && strcmp(base + len - 4, ".nmt") == 0)
        w = snprintf(out, size, "%.*s.%d.nmt", (int)(len - 4), base, n);
    else
        w = snprintf(out, size, "%s.%d", base, n);
    return w < 0 || (size_t)w >= size ? -ENAMETOOLONG : 0;
}

/* Names the child's profile. After an exec chain (a shell script that execs
 * java) the pid has several files; the last one is the final program's. */
static void report_profile(const char *pattern, pid_t child, const struct timespec *start)
{
    char base[PATH_MAX], path[PATH_MAX], last[PATH_MAX] = "";
    struct stat st;
    int found = 0;
    if (expand(pattern, child, base, sizeof(base)) != 0) {
        fprintf(stderr, "nmtrace: output path too long: %s\n", pattern);
        return;
    }
    for (int n = 0; n < 1000 && nth_name(base, n, path, sizeof(path)) == 0; n++) {
        if (stat(path, &st) != 0) {
            if (n > 0)
                break; /* the recorder takes the first free name */
            continue;
        }
        if (!newer_than(&st, start))
            continue; /* an old file of a recycled pid */
        if (found++)
            fprintf(stderr, "nmtrace: also written, by an earlier program of the run: %s\n", last);
        snprintf(last, sizeof(last), "%s", path);
    }
    if (found) {
        fprintf(stderr, "nmtrace: profile written to %s\n", last);
        fprintf(stderr, "nmtrace: read it with: nmreport %s\n", last);
    } else {
        fprintf(stderr, "nmtrace: no profile at %s (a static or setuid program is not recorded)\n",
                base);
    }
    list_others(pattern, child, start);
}

static volatile sig_atomic_t child_pid;

/* What the launcher passes on: the signals a user or a service manager sends
 * to stop, reload or poke a program, and the --signal one (set in main). */
static int forwarded[] = {SIGTERM, SIGINT, SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2, 0};
#define N_FORWARDED ((int)(sizeof(forwarded) / sizeof(forwarded[0])))

/* A signal sent to the launcher goes on to the child. One the terminal
 * generated (Ctrl-C, Ctrl-\) already reached the child, which is in the same
 * foreground process group: passing it on would deliver it twice. */
static void forward(int sig, siginfo_t *info, void *uc)
{
    (void)uc;
    if (info != NULL && info->si_code == SI_KERNEL)
        return;
    if (child_pid > 0)
        kill((pid_t)child_pid, sig);
}

/* Catches every forwarded signal that is not ignored (one ignored when the
 * launcher started, as under nohup, stays ignored for the child too). The
 * signals are blocked until the child's pid is known: one that arrives
 * during the fork is delivered, and forwarded, once it is. */
static void catch_forwarded(sigset_t *blocked, sigset_t *old_mask)
{
    struct sigaction fwd = {.sa_sigaction = forward, .sa_flags = SA_SIGINFO | SA_RESTART}, cur;
    sigemptyset(blocked);
    for (int i = 0; i < N_FORWARDED; i++)
        if (forwarded[i] > 0)
            sigaddset(blocked, forwarded[i]);
    fwd.sa_mask = *blocked;
    sigprocmask(SIG_BLOCK, blocked, old_mask);
    for (int i = 0; i < N_FORWARDED; i++) {
        if (forwarded[i] <= 0 || sigaction(forwarded[i], NULL, &cur) != 0 ||
            cur.sa_handler == SIG_IGN)
            continue;
        sigaction(forwarded[i], &fwd, NULL);
    }
}

static int run(char **argv, const char *pattern)
{
    struct timespec start;
    struct sigaction dfl = {.sa_handler = SIG_DFL}, cur;
    sigset_t blocked, old_mask;
    int pipefd[2], err = 0, status;
    pid_t pid;

    clock_gettime(CLOCK_REALTIME, &start);
    start.tv_nsec = 0; /* file times may be coarser than the clock */
    if (pipe2(pipefd, O_CLOEXEC) != 0) {
        fprintf(stderr, "nmtrace: pipe: %s\n", strerror(errno));
        return EXIT_USAGE;
    }
    catch_forwarded(&blocked, &old_mask);
    pid = fork();
    if (pid < 0) {
        fprintf(stderr, "nmtrace: fork: %s\n", strerror(errno));
        return EXIT_USAGE;
    }
    if (pid == 0) {
        /* The command starts with the dispositions and mask the launcher had. */
        for (int i = 0; i < N_FORWARDED; i++)
            if (forwarded[i] > 0 && sigaction(forwarded[i], NULL, &cur) == 0 &&
                cur.sa_handler != SIG_IGN)
                sigaction(forwarded[i], &dfl, NULL);
        sigprocmask(SIG_SETMASK, &old_mask, NULL);
        close(pipefd[0]);
        execvp(argv[0], argv);
        err = errno;
        if (write(pipefd[1], &err, sizeof(err)) < 0)
            _exit(127);
        _exit(err == ENOENT ? 127 : 126);
    }
    child_pid = pid;
    sigprocmask(SIG_SETMASK, &old_mask, NULL);
    close(pipefd[1]);
    /* The pipe closes on a successful exec; an errno in it means exec failed. */
    while (read(pipefd[0], &err, sizeof(err)) < 0 && errno == EINTR)
        ;
    close(pipefd[0]);
    while (waitpid(pid, &status, 0) < 0) {
        if (errno != EINTR) {
            fprintf(stderr, "nmtrace: waitpid: %s\n", strerror(errno));
            return EXIT_USAGE;
        }
    }
    /* Reaped: its pid may be reused, so a late signal goes nowhere. */
    child_pid = 0;
    if (err != 0) {
        fprintf(stderr, "nmtrace: cannot run %s: %s\n", argv[0], strerror(err));
        return err == ENOENT ? 127 : 126;
    }
    report_profile(pattern, pid, &start);
    if (WIFSIGNALED(status)) {
        fprintf(stderr, "nmtrace: %s was killed by signal %d (%s)\n", argv[0], WTERMSIG(status),
                strsignal(WTERMSIG(status)));
        return 128 + WTERMSIG(status);
    }
    return WEXITSTATUS(status);
}

/* What the options leave to main besides the NMTRACE_* variables they set. */
struct launch {
    char lib[PATH_MAX]; /* --lib, "" for the recorder beside this program */
    int java;           /* --java auto (1) or off (0) */
};

/* Turns the options before the command into NMTRACE_* variables (pass_on
 * checks each value and ends the launcher on a bad one). Returns the index
 * of the command in argv, or -1 after --help or --version. */
static int parse_options(int argc, char **argv, struct launch *l)
{
    enum { OPT_SIGNAL = 256, OPT_TRIGGER, OPT_JAVA, OPT_LIB, OPT_VERSION };
    static const struct option longopts[] = {
        {"output", required_argument, NULL, 'o'},
        {"rate", required_argument, NULL, 'r'},
        {"interval", required_argument, NULL, 'i'},
        {"growth", required_argument, NULL, 'g'},
        {"depth", required_argument, NULL, 'd'},
        {"unwind", required_argument, NULL, 'u'},
        {"seed", required_argument, NULL, 's'},
        {"signal", required_argument, NULL, OPT_SIGNAL},
        {"trigger", required_argument, NULL, OPT_TRIGGER},
        {"java", required_argument, NULL, OPT_JAVA},
        {"quiet", no_argument, NULL, 'q'},
        {"lib", required_argument, NULL, OPT_LIB},
        {"help", no_argument, NULL, 'h'},
        {"version", no_argument, NULL, OPT_VERSION},
        {NULL, 0, NULL, 0},
    };
    int c;
    opterr = 0;
    /* '+': stop at the command, so its own options are left alone. */
    while ((c = getopt_long(argc, argv, "+:o:r:i:g:d:u:s:qh", longopts, NULL)) != -1) {
        switch (c) {
        case 'o':
            pass_on("--output", "NMTRACE_OUTPUT", optarg);
            break;
        case 'r':
            pass_on("--rate", "NMTRACE_RATE", optarg);
            break;
        case 'i':
            pass_on("--interval", "NMTRACE_INTERVAL", optarg);
            break;
        case 'g':
            pass_on("--growth", "NMTRACE_GROWTH", optarg);
            break;
        case 'd':
            pass_on("--depth", "NMTRACE_DEPTH", optarg);
            break;
        case 'u':
            pass_on("--unwind", "NMTRACE_UNWIND", optarg);
            break;
        case 's':
            pass_on("--seed", "NMTRACE_SEED", optarg);
            break;
        case OPT_SIGNAL:
            forwarded[N_FORWARDED - 1] = (int)pass_on("--signal", "NMTRACE_SIGNAL", optarg);
            break;
        case OPT_TRIGGER:
            pass_on("--trigger", "NMTRACE_TRIGGER", optarg);
            break;
        case OPT_JAVA:
            /* auto, off, 1, 0: the even ones turn it on. */
            l->java = pass_on("--java", "NMTRACE_JAVA", optarg) % 2 == 0;
            break;
        case 'q':
            set_env("NMTRACE_QUIET", "1");
            break;
        case OPT_LIB:
            snprintf(l->lib, sizeof(l->lib), "%s", optarg);
            break;
        case 'h':
            fputs(usage_text, stdout);
            return -1;
        case OPT_VERSION:
            printf("nmtrace %s\n", NMT_VERSION);
            return -1;
        case ':':
            die_usage("%s needs a value", argv[optind - 1]);
            break;
        default:
            die_usage("unknown option %s", argv[optind - 1]);
        }
    }
    if (optind >= argc)
        die_usage("%s", "no command given");
    return optind;
}

/* The recorder's path as LD_PRELOAD can hold it: readable, absolute (so
 * children that chdir still find it), and without a space or ':' (through
 * a link when it has them). 0, or the launcher's exit status. */
static int resolve_lib(char *lib, size_t size)
{
    char abs[PATH_MAX];
    int err;
    if (lib[0] == '\0' && default_lib(lib, size) != 0)
        die_usage("%s", "cannot find this program's own path; give --lib");
    if (access(lib, R_OK) != 0) {
        fprintf(stderr, "nmtrace: cannot read the recorder %s: %s\n", lib, strerror(errno));
        return EXIT_USAGE;
    }
    if (realpath(lib, abs) != NULL)
        snprintf(lib, size, "%s", abs);
    else
        snprintf(abs, sizeof(abs), "%s", lib);
    if (!unsplittable(lib) && (err = preload_link(abs, lib, size)) != 0) {
        fprintf(stderr,
                "nmtrace: the recorder's path %s has a space or ':', which LD_PRELOAD "
                "cannot hold, and no link to it could be made: %s (install nmtrace "
                "under a path without them)\n",
                abs, strerror(-err));
        return EXIT_USAGE;
    }
    return 0;
}

int main(int argc, char **argv)
{
    struct launch l = {.lib = "", .java = 1};
    if (argc > 1 && (strcmp(argv[1], "attach") == 0 || strcmp(argv[1], "detach") == 0)) {
        if (default_lib(l.lib, sizeof(l.lib)) != 0)
            l.lib[0] = '\0';
        return nmt_attach_client(argc - 1, argv + 1, l.lib);
    }
    warn_unknown();
    int cmd = parse_options(argc, argv, &l);
    if (cmd < 0)
        return 0;
    int rc = resolve_lib(l.lib, sizeof(l.lib));
    if (rc != 0)
        return rc;
    prepend_preload(l.lib);
    if (l.java && is_java(argv[cmd]))
        add_java_flags(l.lib);

    const char *pattern = getenv("NMTRACE_OUTPUT");
    if (pattern == NULL || *pattern == '\0')
        pattern = DEFAULT_OUTPUT;
    return run(argv + cmd, pattern);
}
