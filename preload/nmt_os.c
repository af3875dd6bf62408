/*
 * nmt_os.c: every contact the recorder has with the OS, outside the hooks.
 *
 * /proc/self/maps with ELF build-ids, /proc/self/status figures, mallinfo2,
 * the command line, and the creation of and appends to the profile file. All of it runs on
 * the writer thread (or the exiting thread for the last snapshot) with the
 * re-entrancy guard held; none of it is ever on an application's hot path.
 * The one exception is the maps line walker, the recorder's only reader of
 * maps lines: the attach (nmt_attach.c) and the GOT patching (nmt_got.c)
 * walk with buffers of their own, on their own threads.
 *
 * The process is read through /proc/thread-self, the calling thread's own
 * entry: /proc/self is the main thread's, empty (no maps, no exe) once the
 * main thread has ended with pthread_exit while others run on.
 */
#include <elf.h>
#include <errno.h>
#if defined(__x86_64__)
#include <cpuid.h>
#endif
#include <fcntl.h>
#include <malloc.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <time.h>
#include <unistd.h>

#include "nmt_enc.h"
#include "nmt_format.h"
#include "nmt_internal.h"
#include "nmt_os.h"

/* Every descriptor the recorder opens is closed through here. It shares the
 * program's descriptor table: a program that closes every descriptor while
 * we hold one (a daemon's close-all loop) closes ours, and may at once get
 * the same number for its own file. Closing that would close the program's
 * file, so the descriptor is closed only while it still is the file we
 * opened (what the window between fstat and close leaves is nanoseconds, not
 * the length of a read or a write). */
static int open_own(const char *path, int flags, struct stat *id)
{
    int fd = open(path, flags, 0600); /* the mode counts only when creating */
    if (fd >= 0 && fstat(fd, id) != 0) {
        int err = errno;
        close(fd);
        errno = err;
        return -1;
    }
    return fd;
}

static void close_own(int fd, const struct stat *id)
{
    struct stat st;
    if (fstat(fd, &st) == 0 && st.st_dev == id->st_dev && st.st_ino == id->st_ino)
        close(fd);
}

/* Reads a whole (proc) file into a malloc'ed, NUL-terminated buffer. */
NMT_HIDDEN int nmt__os_read_file(const char *path, char **out, size_t *len)
{
    struct stat id;
    int fd = open_own(path, O_RDONLY | O_CLOEXEC, &id);
    if (fd < 0)
        return -errno;
    size_t cap = 16384, n = 0;
    char *buf = malloc(cap);
    while (buf != NULL) {
        if (n + 1 >= cap) {
            char *p = realloc(buf, cap * 2);
            if (p == NULL) {
                free(buf);
                buf = NULL;
                break;
            }
            buf = p;
            cap *= 2;
        }
        ssize_t r = read(fd, buf + n, cap - n - 1);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            break;
        n += (size_t)r;
    }
    close_own(fd, &id);
    if (buf == NULL)
        return -ENOMEM;
    buf[n] = '\0';
    *out = buf;
    *len = n;
    return 0;
}

/* The writer's buffer for reading /proc a chunk at a time (writer thread or
 * the final snapshot, one read at a time; large buffers stay off the stack). */
static char writer_buf[NMT_MAPS_BUF];

/* A line of stream_lines: NUL-terminated at len, without its newline; cut
 * when it did not fit in the buffer. A nonzero return ends the stream. */
typedef int (*line_fn)(void *ctx, char *line, size_t len, int cut);

/* Reads the (proc) file at path in chunks of buf[0..size) without holding it
 * whole: each read appends to what is left of a line begun in the previous
 * one; whole lines are handed on and the rest moves to the front. A line
 * that fills the buffer is handed on cut, and the rest of it dropped. A last
 * line without its newline counts. 0, fn's nonzero return, or -errno (a
 * read error ends the stream after the lines before it). */
static int stream_lines(const char *path, char *buf, size_t size, line_fn fn, void *ctx)
{
    struct stat id;
    int fd = open_own(path, O_RDONLY | O_CLOEXEC, &id);
    if (fd < 0)
        return -errno;
    size_t n = 0;
    int err = 0, dropping = 0;
    while (err == 0) {
        ssize_t r = read(fd, buf + n, size - 1 - n);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0)
            err = -errno;
        if (r <= 0)
            break;
        char *line = buf, *end = buf + n + (size_t)r, *nl;
        while (err == 0 && (nl = memchr(line, '\n', (size_t)(end - line))) != NULL) {
            *nl = '\0';
            if (!dropping)
                err = fn(ctx, line, (size_t)(nl - line), 0);
            dropping = 0;
            line = nl + 1;
        }
        n = (size_t)(end - line);
        if (n == size - 1) { /* line == buf: one line fills the buffer */
            buf[n] = '\0';
            if (!dropping && err == 0)
                err = fn(ctx, buf, n, 1);
            dropping = 1;
            n = 0;
        }
        memmove(buf, line, n);
    }
    if (err == 0 && n > 0 && !dropping) {
        buf[n] = '\0';
        err = fn(ctx, buf, n, 0);
    }
    close_own(fd, &id);
    return err;
}

struct lines {
    void (*fn)(void *ctx, char *line);
    void *ctx;
};

static int each_line(void *ctx, char *line, size_t len, int cut)
{
    const struct lines *l = ctx;
    (void)len;
    (void)cut;
    l->fn(l->ctx, line);
    return 0;
}

/* Reads a (proc) file line by line without holding it whole: fn gets each
 * line, NUL-terminated, without its newline; a line longer than the buffer
 * is cut to it. Writer thread or the final snapshot (writer_buf). */
NMT_HIDDEN int nmt__os_read_lines(const char *path, void (*fn)(void *ctx, char *line), void *ctx)
{
    struct lines l = {.fn = fn, .ctx = ctx};
    return stream_lines(path, writer_buf, sizeof(writer_buf), each_line, &l);
}

/* ---- maps lines ---- */

static int hex_digit(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* A number in base 16 or 10 at *p, of at least one digit; *p moves past it. */
static int number(const char **p, const char *end, int base, uint64_t *out)
{
    const char *s = *p;
    uint64_t v = 0;
    int d;
    for (; s < end && (d = hex_digit(*s)) >= 0 && d < base; s++)
        v = v * (uint64_t)base + (uint64_t)d;
    if (s == *p)
        return -1;
    *p = s;
    *out = v;
    return 0;
}

static int is_blank(char c)
{
    return c == ' ' || c == '\t' || c == '\v' || c == '\f' || c == '\r';
}

/* Moves *p past blanks; -1 when there were none (fields need one between). */
static int blanks(const char **p, const char *end)
{
    const char *s = *p;
    while (s < end && is_blank(*s))
        s++;
    if (s == *p)
        return -1;
    *p = s;
    return 0;
}

/* The kernel writes "%08lx-%08lx %c%c%c%c %08llx %02x:%02x %lu", then, when
 * the mapping has a name, spaces up to a column and the name. */
NMT_HIDDEN int nmt__os_maps_parse(const char *line, size_t len, struct nmt_maps_line *m)
{
    const char *p = line, *end = line + len;
    uint64_t major, minor;
    if (number(&p, end, 16, &m->lo) != 0 || p == end || *p++ != '-' ||
        number(&p, end, 16, &m->hi) != 0 || blanks(&p, end) != 0)
        return -EINVAL;
    const char *perms = p;
    while (p < end && !is_blank(*p))
        p++;
    size_t plen = (size_t)(p - perms);
    m->perms = (plen > 0 && perms[0] == 'r' ? NMT_MAP_R : 0) |
               (plen > 1 && perms[1] == 'w' ? NMT_MAP_W : 0) |
               (plen > 2 && perms[2] == 'x' ? NMT_MAP_X : 0) |
               (plen > 3 && perms[3] == 's' ? NMT_MAP_SHARED : 0);
    if (blanks(&p, end) != 0 || number(&p, end, 16, &m->offset) != 0 || blanks(&p, end) != 0 ||
        number(&p, end, 16, &major) != 0 || p == end || *p++ != ':' ||
        number(&p, end, 16, &minor) != 0 || blanks(&p, end) != 0 ||
        number(&p, end, 10, &m->inode) != 0)
        return -EINVAL;
    (void)blanks(&p, end); /* none when the line ends at the inode */
    m->dev = (major << 20) | minor;
    m->path = p;
    m->path_len = (size_t)(end - p);
    return 0;
}

struct walk {
    nmt_maps_fn fn;
    void *ctx;
};

/* Parses and hands on one line; a cut one is skipped, since its path is not
 * the mapping's. */
static int walk_line(void *ctx, char *line, size_t len, int cut)
{
    const struct walk *w = ctx;
    struct nmt_maps_line m;
    if (cut || nmt__os_maps_parse(line, len, &m) != 0)
        return 0;
    return w->fn(w->ctx, &m);
}

NMT_HIDDEN int nmt__os_maps_walk(const char *path, char *buf, size_t size, nmt_maps_fn fn,
                                 void *ctx)
{
    if (buf == NULL) {
        buf = writer_buf;
        size = sizeof(writer_buf);
    }
    if (size < 2)
        return -EINVAL;
    struct walk w = {.fn = fn, .ctx = ctx};
    return stream_lines(path, buf, size, walk_line, &w);
}

/* ---- build-ids, cached by (dev, inode) ---- */

struct bid_entry {
    uint64_t dev, inode;
    uint8_t len;
    uint8_t id[40];
};
static struct bid_entry *bid_cache;
static size_t bid_count, bid_cap;

static int pread_all(int fd, void *buf, size_t n, off_t off)
{
    size_t done = 0;
    while (done < n) {
        ssize_t r = pread(fd, (char *)buf + done, n - done, off + (off_t)done);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            return -1;
        done += (size_t)r;
    }
    return 0;
}

/* Finds NT_GNU_BUILD_ID in the PT_NOTE segments of a 64-bit ELF file. */
static int read_build_id(const char *path, uint8_t *id, size_t max)
{
    struct stat own;
    int fd = open_own(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK, &own);
    if (fd < 0)
        return 0;
    int found = 0;
    Elf64_Ehdr eh;
    if (pread_all(fd, &eh, sizeof(eh), 0) != 0 || memcmp(eh.e_ident, ELFMAG, SELFMAG) != 0 ||
        eh.e_ident[EI_CLASS] != ELFCLASS64 || eh.e_phentsize != sizeof(Elf64_Phdr) ||
        eh.e_phnum == 0 || eh.e_phnum > 256)
        goto out;
    static Elf64_Phdr ph[256]; /* writer-only: keep big buffers off the stack */
    if (pread_all(fd, ph, sizeof(Elf64_Phdr) * eh.e_phnum, (off_t)eh.e_phoff) != 0)
        goto out;
    for (int i = 0; i < eh.e_phnum && !found; i++) {
        if (ph[i].p_type != PT_NOTE || ph[i].p_filesz > 65536 || ph[i].p_filesz < 12)
            continue;
        static unsigned char notes[65536];
        if (pread_all(fd, notes, ph[i].p_filesz, (off_t)ph[i].p_offset) != 0)
            continue;
        size_t off = 0, end = ph[i].p_filesz;
        size_t align = ph[i].p_align == 8 ? 8 : 4;
        while (off + 12 <= end) {
            uint32_t namesz, descsz, type;
            memcpy(&namesz, notes + off, 4);
            memcpy(&descsz, notes + off + 4, 4);
            memcpy(&type, notes + off + 8, 4);
            size_t name_off = off + 12;
            size_t desc_off = name_off + ((namesz + align - 1) & ~(align - 1));
            if (desc_off > end || descsz > end - desc_off)
                break;
            if (type == NT_GNU_BUILD_ID && namesz == 4 && memcmp(notes + name_off, "GNU", 4) == 0) {
                size_t n = descsz < max ? descsz : max;
                memcpy(id, notes + desc_off, n);
                found = (int)n;
                break;
            }
            off = desc_off + ((descsz + align - 1) & ~(align - 1));
        }
    }
out:
    close_own(fd, &own);
    return found;
}

static const struct bid_entry *build_id_for(const char *path, uint64_t dev, uint64_t inode)
{
    for (size_t i = 0; i < bid_count; i++)
        if (bid_cache[i].dev == dev && bid_cache[i].inode == inode)
            return &bid_cache[i];
    if (bid_count == bid_cap) {
        size_t cap = bid_cap ? bid_cap * 2 : 64;
        struct bid_entry *p = realloc(bid_cache, cap * sizeof(*p));
        if (p == NULL)
            return NULL;
        bid_cache = p;
        bid_cap = cap;
    }
    struct bid_entry *e = &bid_cache[bid_count++];
    e->dev = dev;
    e->inode = inode;
    e->len = (uint8_t)read_build_id(path, e->id, sizeof(e->id));
    return e;
}

/* The MAPS payload being written: its entries so far. */
struct maps_out {
    struct nmt_enc *b;
    uint32_t count;
};

/* One MAPS entry, with the build-id of a file that is still there. */
static int put_map(void *ctx, const struct nmt_maps_line *m)
{
    struct maps_out *o = ctx;
    const struct bid_entry *bid = NULL;
    if (m->path[0] == '/' && m->inode != 0 && strstr(m->path, " (deleted)") == NULL)
        bid = build_id_for(m->path, m->dev, m->inode);
    const struct nmt_map_entry e = {
        .start = m->lo,
        .end = m->hi,
        .offset = m->offset,
        .inode = m->inode,
        .prot = m->perms,
        .dev = (uint32_t)m->dev,
        .path = m->path,
        .build_id = bid ? bid->id : NULL,
        .build_id_len = bid ? bid->len : 0,
    };
    nmt_enc_map(o->b, &e);
    o->count++;
    return 0;
}

/* Appends the MAPS payload (count, entries) for the process's mappings;
 * nothing when the maps file cannot be opened. */
NMT_HIDDEN int nmt__os_maps(struct nmt_enc *b)
{
    struct maps_out o = {.b = b, .count = 0};
    size_t count_at = b->len;
    nmt_enc_u32(b, 0);
    int err = nmt__os_maps_walk("/proc/thread-self/maps", NULL, 0, put_map, &o);
    if (err != 0 && o.count == 0) {
        b->len = count_at;
        return err;
    }
    nmt_enc_patch_u32(b, count_at, o.count);
    return b->failed ? -ENOMEM : 0;
}

static long long status_kb(const char *text, const char *key)
{
    const char *p = strstr(text, key);
    if (p == NULL)
        return -1;
    return atoll(p + strlen(key));
}

NMT_HIDDEN void nmt__os_counters(nmt_counter_fn add, void *ctx)
{
    char *text;
    size_t len;
    if (nmt__os_read_file("/proc/thread-self/status", &text, &len) == 0) {
        long long v;
        if ((v = status_kb(text, "\nVmRSS:")) >= 0)
            add(ctx, "proc.rss", v * 1024);
        if ((v = status_kb(text, "\nVmHWM:")) >= 0)
            add(ctx, "proc.hwm", v * 1024);
        if ((v = status_kb(text, "\nVmSize:")) >= 0)
            add(ctx, "proc.vmsize", v * 1024);
        if ((v = status_kb(text, "\nThreads:")) >= 0)
            add(ctx, "proc.threads", v);
        free(text);
    }
    struct mallinfo2 mi = mallinfo2();
    add(ctx, "mallinfo.arena", (int64_t)mi.arena);
    add(ctx, "mallinfo.ordblks", (int64_t)mi.ordblks);
    add(ctx, "mallinfo.smblks", (int64_t)mi.smblks);
    add(ctx, "mallinfo.hblks", (int64_t)mi.hblks);
    add(ctx, "mallinfo.hblkhd", (int64_t)mi.hblkhd);
    add(ctx, "mallinfo.usmblks", (int64_t)mi.usmblks);
    add(ctx, "mallinfo.fsmblks", (int64_t)mi.fsmblks);
    add(ctx, "mallinfo.uordblks", (int64_t)mi.uordblks);
    add(ctx, "mallinfo.fordblks", (int64_t)mi.fordblks);
    add(ctx, "mallinfo.keepcost", (int64_t)mi.keepcost);
}

/* Appends exe, cmdline and hostname as HEADER strings. */
NMT_HIDDEN void nmt__os_identity(struct nmt_enc *b)
{
    char exe[4096];
    ssize_t n = readlink("/proc/thread-self/exe", exe, sizeof(exe) - 1);
    nmt_enc_str(b, exe, n > 0 ? (size_t)n : 0);
    char *cmd;
    size_t len;
    if (nmt__os_read_file("/proc/thread-self/cmdline", &cmd, &len) == 0) {
        nmt_enc_str(b, cmd, len);
        free(cmd);
    } else {
        nmt_enc_str(b, NULL, 0);
    }
    struct utsname u;
    nmt_enc_cstr(b, uname(&u) == 0 ? u.nodename : "");
}

/* What descriptor 2 was when the program started. The recorder's one-line
 * notices go there only while it still is that file: a program that closed
 * stderr and reused the number for its own data must not find our notice in
 * it (ls, for one, closes 1 and 2 before exit, where the final snapshot
 * runs). */
static struct {
    int known, open;
    dev_t dev;
    ino_t ino;
} stderr_id;

static void stderr_remember(void)
{
    struct stat st;
    stderr_id.open = fstat(2, &st) == 0;
    if (stderr_id.open) {
        stderr_id.dev = st.st_dev;
        stderr_id.ino = st.st_ino;
    }
    stderr_id.known = 1;
}

__attribute__((constructor(101))) static void stderr_at_start(void)
{
    stderr_remember();
}

NMT_HIDDEN int nmt__os_stderr_ok(void)
{
    if (!stderr_id.known)
        stderr_remember();
    struct stat st;
    return stderr_id.open && fstat(2, &st) == 0 && st.st_dev == stderr_id.dev &&
           st.st_ino == stderr_id.ino;
}

/* One line on stderr, while it still is the program's stderr (above). */
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

/* The start of a small file (one read: /proc and /sys files give their
 * whole text to it) into buf, NUL-terminated: its length, or -1. errno is
 * left as it was. */
static ssize_t read_small(const char *path, char *buf, size_t size)
{
    int saved = errno;
    struct stat id;
    ssize_t n = -1;
    int fd = open_own(path, O_RDONLY | O_CLOEXEC, &id);
    if (fd >= 0) {
        do
            n = read(fd, buf, size - 1);
        while (n < 0 && errno == EINTR);
        close_own(fd, &id);
    }
    errno = saved;
    if (n < 0)
        return -1;
    buf[n] = '\0';
    return n;
}

/* 1 when the kernel keeps time by the CPUs' time-stamp counters, as the
 * clock-source file at path says ("tsc"): it has then found them in step,
 * no CPU's behind another's, which its own monotonic clock relies on across
 * CPUs. 0 for any other source, and when the file cannot be read. errno is
 * left as it was. */
NMT_HIDDEN int nmt__os_clocksource_is_tsc(const char *path)
{
    char buf[32];
    if (read_small(path, buf, sizeof(buf)) <= 0)
        return 0;
    return strcmp(buf, "tsc\n") == 0 || strcmp(buf, "tsc") == 0;
}

/* 1 when a seccomp filter confines this process (/proc/self/status says
 * "Seccomp: 2"): which system calls it allows, and whether it kills the
 * process for another, cannot be asked. */
NMT_HIDDEN int nmt__os_seccomp_filtered(void)
{
    char buf[4096];
    if (read_small("/proc/self/status", buf, sizeof(buf)) <= 0)
        return 0;
    const char *at = strstr(buf, "\nSeccomp:");
    if (at == NULL)
        return 0;
    at += strlen("\nSeccomp:");
    while (*at == ' ' || *at == '\t')
        at++;
    return *at == '2';
}

/* Whether the event sequence may come from the clock (nmt__seq_take): the
 * CPU has RDTSCP, this process may read the time-stamp counter (a process
 * can forbid it itself, prctl PR_SET_TSC, and would then get SIGSEGV), and
 * the kernel keeps time by it. */
NMT_HIDDEN int nmt__os_seq_clock_usable(void)
{
#if defined(__x86_64__)
    unsigned a, b, c, d;
    /* CPUID 0x80000001, EDX bit 27: RDTSCP (cpuid.h names no bit for it) */
    if (!__get_cpuid(0x80000001u, &a, &b, &c, &d) || !(d & (1u << 27)))
        return 0;
    int saved = errno, tsc = 0;
    int got = prctl(PR_GET_TSC, &tsc);
    errno = saved;
    if (got != 0 || tsc != PR_TSC_ENABLE)
        return 0;
    return nmt__os_clocksource_is_tsc("/sys/devices/system/clocksource/clocksource0/"
                                      "current_clocksource");
#else
    return 0;
#endif
}

/* clock_gettime(clk) in nanoseconds: the vDSO's, no syscall. */
NMT_HIDDEN uint64_t nmt__clock_ns(clockid_t clk)
{
    struct timespec ts;
    clock_gettime(clk, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* The profile file is never held open. It is created once (exclusively, mode
 * 0600, never through a symlink) and its identity remembered; each write then
 * opens it again by its absolute path, checks with fstat that it is still the
 * file we created, appends and closes. Holding no descriptor between writes
 * means that a program that closes every descriptor and reuses the numbers
 * can never have our bytes written into, or its file closed by, the
 * recorder, and that a program that uses every descriptor it may have is not
 * one short because of us. A descriptor kept out of the way (high number)
 * would still be closed by close-all loops and could be reused under us; the
 * cost of opening per write is three syscalls per snapshot. */

/* Makes path absolute (the program may chdir between writes). */
static int make_absolute(char *path, size_t size)
{
    if (path[0] == '/')
        return 0;
    char cwd[4096];
    if (getcwd(cwd, sizeof(cwd)) == NULL)
        return -errno;
    char rel[1100];
    size_t n = strlen(path);
    if (n >= sizeof(rel))
        return -ENAMETOOLONG;
    memcpy(rel, path, n + 1);
    const char *r = rel[0] == '.' && rel[1] == '/' ? rel + 2 : rel;
    int k = snprintf(path, size, "%s/%s", strcmp(cwd, "/") == 0 ? "" : cwd, r);
    return k < 0 || (size_t)k >= size ? -ENAMETOOLONG : 0;
}

static int write_guarded(int fd, const struct stat *st, const void *p, size_t n, int *damaged);

/* The directory part of path ("." when there is none). */
static void dir_of(const char *path, char *dir, size_t size)
{
    const char *slash = strrchr(path, '/');
    if (slash == NULL)
        snprintf(dir, size, ".");
    else if (slash == path)
        snprintf(dir, size, "/");
    else
        snprintf(dir, size, "%.*s", (int)(slash - path), path);
}

/* Gives the unnamed file fd the first free name of the pattern; never
 * through a symlink (linkat does not replace or follow an existing name). */
static int link_first_free(int fd, const struct stat *st, const char *base, const char *ext,
                           char *path, size_t size)
{
    char self[64];
    snprintf(self, sizeof(self), "/proc/self/fd/%d", fd);
    for (int i = 0; i < 1000; i++) {
        if (i == 0)
            snprintf(path, size, "%s%s", base, ext);
        else
            snprintf(path, size, "%s.%d%s", base, i, ext);
        struct stat now;
        if (fstat(fd, &now) != 0 || now.st_ino != st->st_ino || now.st_dev != st->st_dev)
            return -ESTALE;
        if (linkat(AT_FDCWD, self, AT_FDCWD, path, AT_SYMLINK_FOLLOW) == 0)
            return 0;
        if (errno != EEXIST)
            return -errno;
    }
    return -EEXIST;
}

/* Expands %p (pid) and %% in the output pattern and creates the file with
 * its first n bytes, mode 0600, never through a symlink. If the name is
 * taken (a pid that exec'ed keeps its pid, or an old file), ".1", ".2"...
 * go before ".nmt". The file is written unnamed (O_TMPFILE) and then given
 * its name, so that nobody ever sees it empty or half-written; where the
 * filesystem cannot do that, it is created with O_EXCL and written.
 * Returns 0 when the file exists (path then holds its absolute path and id
 * its identity; no descriptor is left open), or -errno. *write_err is the
 * write's error, or 0: a file created by name whose first write failed is
 * left empty, to be written later; an unnamed one is gone. */
NMT_HIDDEN int nmt__os_create_output(char *path, size_t size, struct nmt_fileid *id,
                                     const void *data, size_t n, int *write_err)
{
    char base[1024];
    size_t o = 0;
    for (const char *p = nmt__cfg.output; *p && o + 24 < sizeof(base); p++) {
        if (p[0] == '%' && p[1] == 'p') {
            o += (size_t)snprintf(base + o, sizeof(base) - o, "%d", (int)getpid());
            p++;
        } else if (p[0] == '%' && p[1] == '%') {
            base[o++] = '%';
            p++;
        } else {
            base[o++] = *p;
        }
    }
    base[o] = '\0';
    size_t blen = strlen(base);
    const char *ext = "";
    if (blen > 4 && strcmp(base + blen - 4, ".nmt") == 0) {
        base[blen - 4] = '\0';
        ext = ".nmt";
    }
    int damaged = 0, err;
    char dir[1024];
    dir_of(base, dir, sizeof(dir));
    struct stat st;
    int fd = open_own(dir, O_TMPFILE | O_WRONLY | O_CLOEXEC, &st);
    if (fd >= 0) {
        int linked = -1;
        *write_err = write_guarded(fd, &st, data, n, &damaged);
        if (*write_err == 0)
            linked = link_first_free(fd, &st, base, ext, path, size);
        close_own(fd, &st);
        if (*write_err != 0)
            return *write_err;
        if (linked == 0)
            goto named;
        if (linked == -EEXIST || linked == -ESTALE)
            return linked;
        /* linkat refused (no /proc, say): create by name instead */
    }
    err = -EEXIST;
    for (int i = 0; i < 1000 && err == -EEXIST; i++) {
        if (i == 0)
            snprintf(path, size, "%s%s", base, ext);
        else
            snprintf(path, size, "%s.%d%s", base, i, ext);
        fd = open_own(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY, &st);
        err = fd < 0 ? -errno : 0;
    }
    if (err != 0)
        return err;
    *write_err = write_guarded(fd, &st, data, n, &damaged);
    close_own(fd, &st);
    if (damaged) {
        unlink(path); /* ours, and it holds a partial snapshot */
        return *write_err;
    }
named:
    if (make_absolute(path, size) != 0) {
        unlink(path);
        return -ENAMETOOLONG;
    }
    id->dev = (uint64_t)st.st_dev;
    id->ino = (uint64_t)st.st_ino;
    return 0;
}

/* 1 when the thread-group leader (the main thread) has exited and no other
 * task but the caller remains: the leader stays a zombie, counted in
 * "Threads:", until the whole group ends. Any thread counts, whether the
 * recorder ever saw it or not (created before us, raw clone, never
 * allocating). Two small /proc reads: for the rare state after the main
 * thread's pthread_exit only. */
NMT_HIDDEN int nmt__os_only_caller_left(void)
{
    char path[64], *text;
    size_t len;
    snprintf(path, sizeof(path), "/proc/self/task/%d/stat", (int)getpid());
    if (nmt__os_read_file(path, &text, &len) != 0)
        return 0;
    /* The state follows the command name, which may itself hold ')'. */
    const char *rp = strrchr(text, ')');
    int leader_gone = rp != NULL && (rp[1] == ' ' && (rp[2] == 'Z' || rp[2] == 'X'));
    free(text);
    if (!leader_gone || nmt__os_read_file("/proc/self/status", &text, &len) != 0)
        return 0;
    long long threads = status_kb(text, "\nThreads:");
    free(text);
    return threads == 2;
}

/* Writes while fd is still the file opened as id (see close_own). */
static int write_all(int fd, const struct stat *id, const unsigned char *p, size_t n)
{
    while (n > 0) {
        struct stat st;
        if (fstat(fd, &st) != 0 || st.st_dev != id->st_dev || st.st_ino != id->st_ino)
            return -ESTALE;
        ssize_t k = write(fd, p, n);
        if (k < 0 && errno == EINTR)
            continue;
        if (k <= 0)
            return k < 0 ? -errno : -ENOSPC;
        p += k;
        n -= (size_t)k;
    }
    return 0;
}

/* Opens the profile again and appends n bytes, all or nothing: a failed
 * write (disk full, RLIMIT_FSIZE) is cut back off so that the file still
 * ends at a record boundary and later snapshots can follow (*damaged is set
 * when it could not be cut back). Returns 0, -ESTALE when the path no longer names our file, or
 * -errno.
 *
 * Signals our write raises must not reach the program: SIGXFSZ (past
 * RLIMIT_FSIZE) would kill it, SIGPIPE cannot come from a regular file but
 * is blocked as well. This may run on an application thread (the final
 * snapshot), so both are blocked around the write, and an instance that
 * became pending during it is ours and taken off again; one that was
 * already pending before belongs to the program and is left alone. */
/* Signals our write raises must not reach the program: SIGXFSZ (past
 * RLIMIT_FSIZE) would kill it, SIGPIPE cannot come from a regular file but
 * is blocked as well. This may run on an application thread (the final
 * snapshot), so both are blocked around the write, and an instance that
 * became pending during it is ours and taken off again; one that was
 * already pending before belongs to the program and is left alone. A write
 * that fails is cut back off (*damaged set when it cannot be). */
static int write_guarded(int fd, const struct stat *st, const void *p, size_t n, int *damaged)
{
    sigset_t ours, old, before, after;
    sigemptyset(&ours);
    sigaddset(&ours, SIGXFSZ);
    sigaddset(&ours, SIGPIPE);
    pthread_sigmask(SIG_BLOCK, &ours, &old);
    sigpending(&before);
    int err = write_all(fd, st, p, n);
    if (err != 0 && err != -ESTALE && ftruncate(fd, st->st_size) != 0)
        *damaged = 1; /* a partial snapshot stays at the end: write no more */
    sigpending(&after);
    static const int sigs[] = {SIGXFSZ, SIGPIPE};
    for (size_t i = 0; i < sizeof(sigs) / sizeof(sigs[0]); i++) {
        if (sigismember(&after, sigs[i]) && !sigismember(&before, sigs[i])) {
            sigset_t one;
            sigemptyset(&one);
            sigaddset(&one, sigs[i]);
            struct timespec zero = {0, 0};
            while (sigtimedwait(&one, NULL, &zero) < 0 && errno == EINTR)
                ;
        }
    }
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    return err;
}

/* Opens the profile again and appends n bytes, all or nothing, so that the
 * file still ends at a record boundary and later snapshots can follow.
 * Returns 0, -ESTALE when the path no longer names our file, or -errno. */
NMT_HIDDEN int nmt__os_append(const char *path, const struct nmt_fileid *id, const void *p,
                              size_t n, int *damaged)
{
    /* O_NONBLOCK: should a FIFO have been put at the path, open neither
     * blocks nor succeeds without a reader; fstat then rejects it anyway. */
    struct stat st;
    int fd =
        open_own(path, O_WRONLY | O_APPEND | O_CLOEXEC | O_NOFOLLOW | O_NOCTTY | O_NONBLOCK, &st);
    int err = fd < 0 ? -errno : 0;
    if (err == 0 &&
        (!S_ISREG(st.st_mode) || (uint64_t)st.st_dev != id->dev || (uint64_t)st.st_ino != id->ino))
        err = -ESTALE;
    if (err == 0)
        err = write_guarded(fd, &st, p, n, damaged);
    if (fd >= 0)
        close_own(fd, &st);
    return err;
}
