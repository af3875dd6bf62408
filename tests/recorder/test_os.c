/*
 * test_os.c: the maps line walker (preload/nmt_os.c, nmt__os_maps_walk and
 * nmt__os_maps_parse) on crafted maps files: each field, lines without a
 * path, the kernel's names, a deleted file, a path of PATH_MAX bytes and one
 * escaped to four times that, lines split across the reads at every buffer
 * size, a line longer than the buffer, a last line without its newline, a
 * pipe whose reads end mid-line, and this process's own maps against the
 * sscanf formats the recorder used before.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "nmt_format.h"
#include "nmt_os.h"

/* What nmt_os.c uses from the rest of the recorder. */
struct nmt_config nmt__cfg;

/* A line as the walker gave it, its path copied out. */
struct got {
    uint64_t lo, hi, offset, inode, dev;
    uint32_t perms;
    char *path;
    size_t path_len;
};

struct seen {
    struct got *v;
    size_t n, cap;
    size_t stop_at; /* a nonzero return at this many lines (0: never) */
};

static int collect(void *ctx, const struct nmt_maps_line *m)
{
    struct seen *s = ctx;
    cr_assert_eq(strlen(m->path), m->path_len, "the path ends at path_len");
    if (s->n == s->cap) {
        s->cap = s->cap ? s->cap * 2 : 64;
        s->v = realloc(s->v, s->cap * sizeof(*s->v));
        cr_assert_not_null(s->v);
    }
    struct got *g = &s->v[s->n++];
    *g = (struct got){m->lo, m->hi, m->offset, m->inode, m->dev, m->perms, NULL, m->path_len};
    g->path = malloc(m->path_len + 1);
    cr_assert_not_null(g->path);
    memcpy(g->path, m->path, m->path_len + 1);
    return s->stop_at != 0 && s->n == s->stop_at ? 42 : 0;
}

static void seen_free(struct seen *s)
{
    for (size_t i = 0; i < s->n; i++)
        free(s->v[i].path);
    free(s->v);
    *s = (struct seen){0};
}

static char tmp_path[64];

static void tmp_write(const char *text, size_t len)
{
    snprintf(tmp_path, sizeof(tmp_path), "/tmp/nmt_test_os_XXXXXX");
    int fd = mkstemp(tmp_path);
    cr_assert(fd >= 0);
    cr_assert_eq(write(fd, text, len), (ssize_t)len);
    close(fd);
}

static void tmp_remove(void)
{
    if (tmp_path[0])
        unlink(tmp_path);
    tmp_path[0] = '\0';
}

/* Walks text (as a file) through a buffer of size (NULL: the writer's). */
static int walk_text(const char *text, size_t len, size_t size, struct seen *s)
{
    tmp_write(text, len);
    char *buf = size ? malloc(size) : NULL;
    int err = nmt__os_maps_walk(tmp_path, buf, size, collect, s);
    free(buf);
    tmp_remove();
    return err;
}

static const char sample[] =
    "55d0c0a00000-55d0c0a02000 r--p 00000000 fd:01 1835043                    /usr/bin/cat\n"
    "55d0c0a02000-55d0c0a07000 r-xp 00002000 fd:01 1835043                    /usr/bin/cat\n"
    "55d0c1f6e000-55d0c1f8f000 rw-p 00000000 00:00 0                          [heap]\n"
    "7f1c2a000000-7f1c2a021000 rw-p 00000000 00:00 0 \n"
    "7f1c2b000000-7f1c2b100000 rw-s 00001000 00:05 4242                       /dev/shm/x "
    "(deleted)\n"
    "7f1c2c000000-7f1c2c001000 ---p 00000000 00:00 0\n"
    "7ffd5b9e8000-7ffd5ba09000 rw-p 00000000 00:00 0                          [stack]\n"
    "7ffd5bbf6000-7ffd5bbf8000 r-xp 00000000 00:00 0                          [vdso]\n"
    "ffffffffff600000-ffffffffff601000 --xp 00000000 00:00 0                  [vsyscall]\n";

static void check_sample(const struct seen *s)
{
    cr_assert_eq(s->n, 9);
    const struct got *g = s->v;
    cr_assert_eq(g[0].lo, 0x55d0c0a00000ull);
    cr_assert_eq(g[0].hi, 0x55d0c0a02000ull);
    cr_assert_eq(g[0].perms, NMT_MAP_R);
    cr_assert_eq(g[0].offset, 0);
    cr_assert_eq(g[0].dev, (0xfdull << 20) | 1);
    cr_assert_eq(g[0].inode, 1835043);
    cr_assert_str_eq(g[0].path, "/usr/bin/cat");
    cr_assert_eq(g[0].path_len, 12);
    cr_assert_eq(g[1].perms, NMT_MAP_R | NMT_MAP_X);
    cr_assert_eq(g[1].offset, 0x2000);
    cr_assert_eq(g[2].perms, NMT_MAP_R | NMT_MAP_W);
    cr_assert_str_eq(g[2].path, "[heap]");
    cr_assert_eq(g[2].dev, 0);
    cr_assert_eq(g[2].inode, 0);
    cr_assert_str_eq(g[3].path, ""); /* no path, a trailing blank */
    cr_assert_eq(g[3].path_len, 0);
    cr_assert_eq(g[3].hi, 0x7f1c2a021000ull);
    cr_assert_eq(g[4].perms, NMT_MAP_R | NMT_MAP_W | NMT_MAP_SHARED);
    cr_assert_eq(g[4].offset, 0x1000);
    cr_assert_eq(g[4].dev, 5);
    cr_assert_eq(g[4].inode, 4242);
    cr_assert_str_eq(g[4].path, "/dev/shm/x (deleted)");
    cr_assert_eq(g[5].perms, 0);
    cr_assert_str_eq(g[5].path, ""); /* no path, the line ends at the inode */
    cr_assert_str_eq(g[6].path, "[stack]");
    cr_assert_str_eq(g[7].path, "[vdso]");
    cr_assert_eq(g[8].lo, 0xffffffffff600000ull);
    cr_assert_eq(g[8].perms, NMT_MAP_X);
    cr_assert_str_eq(g[8].path, "[vsyscall]");
}

Test(os_maps, fields_of_each_kind_of_line)
{
    struct seen s = {0};
    cr_assert_eq(walk_text(sample, strlen(sample), NMT_MAPS_BUF, &s), 0);
    check_sample(&s);
    seen_free(&s);
    /* The writer's own buffer gives the same. */
    cr_assert_eq(walk_text(sample, strlen(sample), 0, &s), 0);
    check_sample(&s);
    seen_free(&s);
}

/* Every buffer size from the longest line up: the reads end at every place
 * in a line, and each line is still whole. */
Test(os_maps, lines_split_across_reads)
{
    size_t longest = 0;
    for (const char *p = sample; *p;) {
        const char *nl = strchr(p, '\n');
        longest = (size_t)(nl - p) > longest ? (size_t)(nl - p) : longest;
        p = nl + 1;
    }
    for (size_t size = longest + 2; size < longest + 2 + 200; size++) {
        struct seen s = {0};
        cr_assert_eq(walk_text(sample, strlen(sample), size, &s), 0, "size %zu", size);
        check_sample(&s);
        seen_free(&s);
    }
}

/* A line as the kernel writes it, for a mapping of path at i pages. */
static size_t put_line(char *out, size_t i, const char *path)
{
    return (size_t)sprintf(out, "%08llx-%08llx rw-p %08llx 08:02 %zu %*s%s\n",
                           0x10000000ull + i * 0x1000, 0x10001000ull + i * 0x1000,
                           (unsigned long long)i, i + 1, 20, "", path);
}

/* A file several times the buffer, with paths of PATH_MAX - 1 bytes and of
 * four times that (a name of newlines, each written "\012"). */
Test(os_maps, long_paths_in_a_file_larger_than_the_buffer)
{
    static char longp[PATH_MAX], escaped[4 * PATH_MAX];
    longp[0] = '/';
    memset(longp + 1, 'a', PATH_MAX - 2);
    longp[PATH_MAX - 1] = '\0';
    escaped[0] = '/';
    for (size_t i = 0; i < PATH_MAX - 2; i++)
        memcpy(escaped + 1 + 4 * i, "\\012", 4);
    escaped[1 + 4 * (PATH_MAX - 2)] = '\0';

    size_t cap = 4 << 20, len = 0, n = 0;
    char *text = malloc(cap);
    cr_assert_not_null(text);
    for (; len < 5 * NMT_MAPS_BUF; n++) {
        const char *path = n % 7 == 3 ? longp : n % 11 == 5 ? escaped : "/lib/libz.so.1";
        len += put_line(text + len, n, path);
    }
    struct seen s = {0};
    cr_assert_eq(walk_text(text, len, NMT_MAPS_BUF, &s), 0);
    cr_assert_eq(s.n, n);
    for (size_t i = 0; i < n; i++) {
        const char *path = i % 7 == 3 ? longp : i % 11 == 5 ? escaped : "/lib/libz.so.1";
        cr_assert_eq(s.v[i].lo, 0x10000000ull + i * 0x1000, "line %zu", i);
        cr_assert_eq(s.v[i].offset, i);
        cr_assert_eq(s.v[i].inode, i + 1);
        cr_assert_eq(s.v[i].dev, (8ull << 20) | 2);
        cr_assert_str_eq(s.v[i].path, path, "line %zu", i);
    }
    seen_free(&s);
    free(text);
}

/* A line that does not fit in the buffer is skipped whole, also when it
 * spans several reads or is the last one; the lines around it are not. */
Test(os_maps, a_line_longer_than_the_buffer_is_skipped)
{
    char text[4096], path[1024];
    memset(path, 'b', sizeof(path) - 1);
    path[0] = '/';
    path[sizeof(path) - 1] = '\0';
    size_t len = put_line(text, 0, "/a");
    len += put_line(text + len, 1, path);
    len += put_line(text + len, 2, "/c");
    len += put_line(text + len, 3, path + 700);
    len += put_line(text + len, 4, "/d");
    struct seen s = {0};
    cr_assert_eq(walk_text(text, len, 200, &s), 0);
    cr_assert_eq(s.n, 3);
    cr_assert_str_eq(s.v[0].path, "/a");
    cr_assert_str_eq(s.v[1].path, "/c");
    cr_assert_str_eq(s.v[2].path, "/d");
    seen_free(&s);
    len = put_line(text, 0, "/a");
    len += put_line(text + len, 1, path) - 1; /* without its newline */
    cr_assert_eq(walk_text(text, len, 200, &s), 0);
    cr_assert_eq(s.n, 1);
    cr_assert_str_eq(s.v[0].path, "/a");
    seen_free(&s);
}

/* A last line without its newline counts when its fields are all there
 * (the path as far as it goes); one cut inside them does not. */
Test(os_maps, a_truncated_last_line)
{
    static const char first[] = "1000-2000 r--p 00000000 00:00 0  [heap]\n";
    static const char last[] = "3000-4000 rw-p 00000010 08:01 77   /lib/libc.so";
    static const struct {
        const char *cut;  /* last up to here */
        const char *path; /* NULL: no line */
    } cases[] = {
        {"3000-4000 rw-p 00000010 08:01 77   /lib/libc.so", "/lib/libc.so"},
        {"3000-4000 rw-p 00000010 08:01 77   /lib/li", "/lib/li"},
        {"3000-4000 rw-p 00000010 08:01 77 ", ""},
        {"3000-4000 rw-p 00000010 08:", NULL},
        {"3000-4000 rw", NULL},
        {"30", NULL},
    };
    char text[256];
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        size_t n = strlen(cases[i].cut);
        cr_assert_eq(memcmp(cases[i].cut, last, n), 0);
        size_t len = (size_t)snprintf(text, sizeof(text), "%s%s", first, cases[i].cut);
        for (size_t size = sizeof(last) + 1; size < 120; size += 7) {
            struct seen s = {0};
            cr_assert_eq(walk_text(text, len, size, &s), 0);
            cr_assert_eq(s.n, cases[i].path ? 2u : 1u, "case %zu size %zu", i, size);
            cr_assert_str_eq(s.v[0].path, "[heap]");
            if (cases[i].path) {
                cr_assert_str_eq(s.v[1].path, cases[i].path);
                cr_assert_eq(s.v[1].inode, 77);
                cr_assert_eq(s.v[1].offset, 0x10);
            }
            seen_free(&s);
        }
    }
}

/* What the kernel never writes is no line. */
Test(os_maps, parse_refuses_what_is_not_a_maps_line)
{
    static const char *const bad[] = {
        "",
        "hello",
        "1000-",
        "1000-2000",
        "1000-2000 rw-p",
        "1000-2000 rw-p 0 08:01",
        "1000-2000 rw-p 0 0801 5 /x",
        "1000 2000 rw-p 0 08:01 5 /x",
        "Rss:                 100 kB",
        "VmFlags: rd wr mr mw me ac sd",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        struct nmt_maps_line m;
        cr_assert_eq(nmt__os_maps_parse(bad[i], strlen(bad[i]), &m), -EINVAL, "%s", bad[i]);
    }
}

Test(os_maps, a_nonzero_return_ends_the_walk)
{
    struct seen s = {.stop_at = 3};
    cr_assert_eq(walk_text(sample, strlen(sample), 64 * 2, &s), 42);
    cr_assert_eq(s.n, 3);
    seen_free(&s);
    cr_assert_eq(nmt__os_maps_walk("/nonexistent/maps", NULL, 0, collect, &s), -ENOENT);
    cr_assert_eq(s.n, 0);
}

/* A pipe whose writer stops in the middle of lines: each read gives what
 * is there. */
static int pipe_w;
static void *slow_writer(void *arg)
{
    (void)arg;
    const char *p = sample, *end = sample + strlen(sample);
    while (p < end) {
        size_t k = (size_t)(end - p) < 37 ? (size_t)(end - p) : 37;
        if (write(pipe_w, p, k) != (ssize_t)k)
            break;
        p += k;
        usleep(2000);
    }
    close(pipe_w);
    return NULL;
}

Test(os_maps, reads_that_end_mid_line)
{
    int fds[2];
    cr_assert_eq(pipe(fds), 0);
    pipe_w = fds[1];
    char path[64];
    snprintf(path, sizeof(path), "/proc/self/fd/%d", fds[0]);
    pthread_t t;
    cr_assert_eq(pthread_create(&t, NULL, slow_writer, NULL), 0);
    struct seen s = {0};
    cr_assert_eq(nmt__os_maps_walk(path, NULL, 0, collect, &s), 0);
    pthread_join(t, NULL);
    close(fds[0]);
    check_sample(&s);
    seen_free(&s);
}

/* This process's maps, as the parsers before the walker read them with
 * sscanf: the same fields, line by line. */
Test(os_maps, own_maps_as_sscanf_reads_them)
{
    char *text;
    size_t len;
    cr_assert_eq(nmt__os_read_file("/proc/self/maps", &text, &len), 0);
    struct seen s = {0};
    cr_assert_eq(walk_text(text, len, 0, &s), 0);
    size_t i = 0;
    for (char *line = text; *line; i++) {
        char *nl = strchr(line, '\n');
        *nl = '\0';
        unsigned long long start, end, off, inode;
        unsigned maj, min;
        char perms[8];
        int path_at = 0;
        cr_assert_geq(sscanf(line, "%llx-%llx %7s %llx %x:%x %llu %n", &start, &end, perms, &off,
                             &maj, &min, &inode, &path_at),
                      7);
        cr_assert_lt(i, s.n);
        const struct got *g = &s.v[i];
        cr_assert_eq(g->lo, start);
        cr_assert_eq(g->hi, end);
        cr_assert_eq(g->offset, off);
        cr_assert_eq(g->inode, inode);
        cr_assert_eq(g->dev, ((uint64_t)maj << 20) | min);
        uint32_t prot = (perms[0] == 'r' ? NMT_MAP_R : 0) | (perms[1] == 'w' ? NMT_MAP_W : 0) |
                        (perms[2] == 'x' ? NMT_MAP_X : 0) | (perms[3] == 's' ? NMT_MAP_SHARED : 0);
        cr_assert_eq(g->perms, prot);
        cr_assert_str_eq(g->path, path_at > 0 ? line + path_at : "");
        line = nl + 1;
    }
    cr_assert_eq(i, s.n);
    seen_free(&s);
    free(text);
}

/* ---- the clock source (nmt__os_clocksource_is_tsc) ---- */

/* The answer for a clock-source file holding text (NULL: no file). */
static int clocksource_says(const char *text)
{
    char path[] = "/tmp/nmt_clocksource_XXXXXX";
    int fd = mkstemp(path);
    cr_assert_geq(fd, 0);
    if (text != NULL)
        cr_assert_eq(write(fd, text, strlen(text)), (ssize_t)strlen(text));
    close(fd);
    if (text == NULL)
        unlink(path);
    errno = 1234;
    int r = nmt__os_clocksource_is_tsc(path);
    cr_assert_eq(errno, 1234, "errno is left alone");
    if (text != NULL)
        unlink(path);
    return r;
}

Test(os_clock, only_the_tsc_clock_source_counts)
{
    cr_assert_eq(clocksource_says("tsc\n"), 1);
    cr_assert_eq(clocksource_says("tsc"), 1, "without its newline");
    cr_assert_eq(clocksource_says("kvm-clock\n"), 0);
    cr_assert_eq(clocksource_says("hpet\n"), 0);
    cr_assert_eq(clocksource_says("tsc-early\n"), 0, "the boot-time source, not yet checked");
    cr_assert_eq(clocksource_says("tsc\nkvm-clock\n"), 0, "not one name");
    cr_assert_eq(clocksource_says(""), 0, "empty");
    cr_assert_eq(clocksource_says(NULL), 0, "no such file");
}
