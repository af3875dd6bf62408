/*
 * nmtrace.c: the `nmtrace [options] [--] command [args...]` launcher.
 *
 * It owns nothing of the recording itself: it turns options into NMTRACE_*
 * variables, prepends libnmtrace.so (found in the library directory next to
 * the launcher's own bin directory) to LD_PRELOAD, makes the output path
 * absolute, gives the run a token (NMTRACE_RUN), then runs the command as a
 * child, waits for it, and prints where its profiles went (those carrying
 * the token, profiles.c) and how to read them. It adds nothing to a JVM's
 * options (the recorder starts its JVM bridge by itself) unless --perf-map
 * asks for the JIT symbol map. The signals a user sends to the
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

#include "profiles.h"

#ifndef NMT_VERSION
#define NMT_VERSION "unknown"
#endif

/* The recorder's default when NMTRACE_OUTPUT is unset (docs/FORMAT.md). */
#define DEFAULT_OUTPUT "nmtrace.%p.nmt"
#define EXIT_USAGE     2

static const char usage_text[] =
    "usage: nmtrace [options] [--] command [args...]\n"
    "       nmtrace attach [--duration SEC] [options] PID | nmtrace detach PID\n"
    "Runs command with libnmtrace.so preloaded and says where its profile went.\n"
    "\n"
    "  -o, --output PATH      profile path; %p is replaced by the pid   (NMTRACE_OUTPUT)\n"
    "  -r, --rate SIZE        mean bytes between samples, 1 = every allocation (NMTRACE_RATE)\n"
    "  -i, --interval TIME    a snapshot every TIME, 0 = off           (NMTRACE_INTERVAL;\n"
    "                         default auto: from 10 s, the gaps growing to 21 min)\n"
    "  -g, --growth SIZE      a snapshot when tracked bytes grew by SIZE (NMTRACE_GROWTH)\n"
    "  -d, --depth N          at most N native (and N Java) frames     (NMTRACE_DEPTH)\n"
    "  -u, --unwind METHOD    auto, libunwind, fp or check             (NMTRACE_UNWIND)\n"
    "  -s, --seed N           sampler seed, for repeatable runs        (NMTRACE_SEED)\n"
    "      --signal SIG       dump a snapshot on SIG (USR1, RTMIN+2, 10...) (NMTRACE_SIGNAL)\n"
    "      --trigger FILE     dump a snapshot when FILE appears        (NMTRACE_TRIGGER)\n"
    "      --java auto|off    the JVM bridge (Java frames) in a JVM    (NMTRACE_JAVA)\n"
    "      --perf-map         for a java command: also have the JVM write\n"
    "                         /tmp/perf-<pid>.map at exit (kept; for --java off or perf)\n"
    "  -q, --quiet            no notices from the recorder             (NMTRACE_QUIET)\n"
    "      --lib PATH         the recorder library (default: libnmtrace.so in the\n"
    "                         library directory next to this program's bin)\n"
    "  -h, --help             this text\n"
    "      --version          print the version\n"
    "\n"
    "SIZE is bytes with an optional unit k, m, g or t (powers of 1024; 64k, 1.5g,\n"
    "512MiB); TIME is seconds with an optional unit ms, s, m, h or d (30, 5m, 1h).\n"
    "The recorder's variables take the same values (README.md, Values).\n"
    "\n"
    "Nothing is added to a java command (the recorder names Java and JIT frames by\n"
    "itself) unless --perf-map: then -XX:+UnlockDiagnosticVMOptions\n"
    "-XX:+DumpPerfMapAtExit go right after 'java' on its command line. The profiles\n"
    "listed at the end are those of this run's processes only (NMTRACE_RUN), with\n"
    "absolute paths. TERM, INT, HUP, QUIT, USR1, USR2\n"
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

#ifndef NMT_BIN_TO_LIB
#define NMT_BIN_TO_LIB "../lib"
#endif

/* The recorder next to this program: where the install put it (bin's
 * relative path to the library directory, absolute if that was configured
 * absolute), else ../lib as in the build tree. The first that exists. */
static int default_lib(char *out, size_t n)
{
    static const char *const dirs[] = {NMT_BIN_TO_LIB, "../lib"};
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
    for (size_t i = 0; i < sizeof(dirs) / sizeof(dirs[0]); i++) {
        int w = dirs[i][0] == '/' ? snprintf(out, n, "%s/libnmtrace.so", dirs[i])
                                  : snprintf(out, n, "%s/%s/libnmtrace.so", self, dirs[i]);
        if (w < 0 || (size_t)w >= n)
            return -ENAMETOOLONG;
        if (access(out, F_OK) == 0)
            return 0;
    }
    return 0; /* the last candidate: its access error is said by main */
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

/*
 * --perf-map, for a java command: the flags that make the JVM write
 * /tmp/perf-<pid>.map at exit (JIT code named by other tools, or by nmreport
 * with the bridge off) go on the command line right after "java", where the
 * JVM reads them without a word. JAVA_TOOL_OPTIONS would make it print
 * "Picked up JAVA_TOOL_OPTIONS" (and JDK_JAVA_OPTIONS and _JAVA_OPTIONS
 * print the like) and would pass them on to every JVM the command starts.
 * Returns the new argv (the old one's strings), or NULL when out of memory.
 */
static char **with_perf_map_flags(char **argv)
{
    static char *flags[] = {"-XX:+UnlockDiagnosticVMOptions", "-XX:+DumpPerfMapAtExit"};
    size_t n = 0, nf = sizeof(flags) / sizeof(flags[0]);
    while (argv[n] != NULL)
        n++;
    char **out = calloc(n + nf + 1, sizeof(*out));
    if (out == NULL)
        return NULL;
    out[0] = argv[0];
    memcpy(out + 1, flags, sizeof(flags));
    memcpy(out + 1 + nf, argv + 1, n * sizeof(*out)); /* with the final NULL */
    return out;
}

/* The run token: this launcher's pid and start time. Every process of the
 * run inherits it (NMTRACE_RUN) and the recorder writes it into the profile,
 * which is how the run's profiles are told from any other (profiles.c). */
static void set_run_token(char *token, size_t n)
{
    struct timespec now;
    clock_gettime(CLOCK_REALTIME, &now);
    snprintf(token, n, "%ld-%lld%09ld", (long)getpid(), (long long)now.tv_sec, now.tv_nsec);
    set_env("NMTRACE_RUN", token);
}

/* NMTRACE_OUTPUT made absolute, so that every process of the run writes
 * where the launcher looks, whatever directory it has changed to, and every
 * path said can be copied as is. Returns the pattern. */
static const char *absolute_output(void)
{
    const char *pattern = getenv("NMTRACE_OUTPUT");
    char cwd[PATH_MAX], *abs;
    if (pattern == NULL || *pattern == '\0')
        pattern = DEFAULT_OUTPUT;
    if (pattern[0] == '/')
        return pattern;
    if (getcwd(cwd, sizeof(cwd)) == NULL || asprintf(&abs, "%s/%s", cwd, pattern) < 0) {
        fprintf(stderr, "nmtrace: cannot make the output path %s absolute: %s\n", pattern,
                strerror(errno));
        exit(EXIT_USAGE);
    }
    if (strlen(abs) > 511) {
        fprintf(stderr,
                "nmtrace: the output path %s is longer than 511 bytes (give a shorter -o)\n", abs);
        exit(EXIT_USAGE);
    }
    set_env("NMTRACE_OUTPUT", abs);
    free(abs);
    return getenv("NMTRACE_OUTPUT");
}

/* The nmreport to name in "read it with": plain "nmreport" when that is
 * what PATH finds for the one installed next to this launcher (or none is
 * next to it), else the absolute path of the one next to it (a build tree
 * not on PATH), so that the hint works when copied. */
static const char *reader_command(void)
{
    static char sibling[PATH_MAX];
    char self[PATH_MAX], found[PATH_MAX], want[PATH_MAX];
    const char *path = getenv("PATH");
    ssize_t len = readlink("/proc/self/exe", self, sizeof(self) - 1);
    char *slash;
    if (len <= 0)
        return "nmreport";
    self[len] = '\0';
    slash = strrchr(self, '/');
    if (slash == NULL ||
        (size_t)snprintf(sibling, sizeof(sibling), "%.*s/nmreport", (int)(slash - self), self) >=
            sizeof(sibling) ||
        realpath(sibling, want) == NULL)
        return "nmreport";
    for (const char *p = path ? path : ""; *p != '\0';) {
        size_t n = strcspn(p, ":");
        if ((size_t)snprintf(found, sizeof(found), "%.*s/nmreport", (int)n, p) < sizeof(found) &&
            access(found, X_OK) == 0) {
            char real[PATH_MAX];
            /* The first on PATH is what a copied "nmreport" runs. */
            return realpath(found, real) != NULL && strcmp(real, want) == 0 ? "nmreport" : sibling;
        }
        p += n + (p[n] == ':');
    }
    return sibling;
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

static int run(char **argv, const char *pattern, const char *token)
{
    struct sigaction dfl = {.sa_handler = SIG_DFL}, cur;
    sigset_t blocked, old_mask;
    int pipefd[2], err = 0, status;
    pid_t pid;

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
    nmtl_report_profiles(pattern, token, pid, reader_command());
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
    int perf_map;       /* --perf-map: the JVM writes /tmp/perf-<pid>.map */
};

/* The launcher's options; the short ones are in parse_options' getopt string. */
enum { OPT_SIGNAL = 256, OPT_TRIGGER, OPT_JAVA, OPT_LIB, OPT_VERSION, OPT_PERF_MAP };
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
    {"perf-map", no_argument, NULL, OPT_PERF_MAP},
    {"lib", required_argument, NULL, OPT_LIB},
    {"help", no_argument, NULL, 'h'},
    {"version", no_argument, NULL, OPT_VERSION},
    {NULL, 0, NULL, 0},
};

/* Turns the options before the command into NMTRACE_* variables (pass_on
 * checks each value and ends the launcher on a bad one). Returns the index
 * of the command in argv, or -1 after --help or --version. */
static int parse_options(int argc, char **argv, struct launch *l)
{
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
            pass_on("--java", "NMTRACE_JAVA", optarg);
            break;
        case 'q':
            set_env("NMTRACE_QUIET", "1");
            break;
        case OPT_PERF_MAP:
            l->perf_map = 1;
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
    struct launch l = {.lib = ""};
    char token[64], **cmd;
    if (argc > 1 && (strcmp(argv[1], "attach") == 0 || strcmp(argv[1], "detach") == 0)) {
        if (default_lib(l.lib, sizeof(l.lib)) != 0)
            l.lib[0] = '\0';
        return nmt_attach_client(argc - 1, argv + 1, l.lib);
    }
    warn_unknown();
    int first = parse_options(argc, argv, &l);
    if (first < 0)
        return 0;
    int rc = resolve_lib(l.lib, sizeof(l.lib));
    if (rc != 0)
        return rc;
    prepend_preload(l.lib);
    cmd = argv + first;
    if (l.perf_map && is_java(cmd[0]) && (cmd = with_perf_map_flags(cmd)) == NULL) {
        fprintf(stderr, "nmtrace: out of memory\n");
        return EXIT_USAGE;
    }
    const char *pattern = absolute_output();
    set_run_token(token, sizeof(token));
    return run(cmd, pattern, token);
}
