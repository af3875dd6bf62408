/*
 * nmt_jvmflags.c: the JVM's sizing flags, for the "reasonable total".
 *
 * The seed's first question is whether RSS is above what the JVM was allowed
 * to use: -Xmx + MaxMetaspaceSize + MaxDirectMemorySize +
 * ReservedCodeCacheSize. For a java process we read those flags from the
 * command line and from JAVA_TOOL_OPTIONS, JDK_JAVA_OPTIONS and _JAVA_OPTIONS
 * (later ones win, as in the JVM), fill JDK 17's defaults where a flag is
 * absent, and store them as INFO pairs so nmreport --rss can answer without
 * the user. Writer thread only (called when the file is created).
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "nmc_parse.h"
#include "nmt_os.h"

enum { J_HEAP, J_META, J_DIRECT, J_CODE, J_RAMPCT, J_MAXRAM, J_NFLAGS };

struct jflags {
    unsigned long long v[J_NFLAGS];
    int set[J_NFLAGS];
    int tiered_off;
};

/* Java's size syntax: digits and an optional k/m/g/t suffix. */
static int java_size(const char *s, unsigned long long *out)
{
    if (!isdigit((unsigned char)*s))
        return -1;
    char *end;
    unsigned long long v = strtoull(s, &end, 10);
    switch (tolower((unsigned char)*end)) {
    case 't':
        v <<= 40;
        end++;
        break;
    case 'g':
        v <<= 30;
        end++;
        break;
    case 'm':
        v <<= 20;
        end++;
        break;
    case 'k':
        v <<= 10;
        end++;
        break;
    default:
        break;
    }
    if (*end != '\0')
        return -1;
    *out = v;
    return 0;
}

static void one_arg(struct jflags *f, const char *a)
{
    static const struct {
        const char *prefix;
        int which;
    } map[] = {{"-Xmx", J_HEAP},
               {"-XX:MaxHeapSize=", J_HEAP},
               {"-XX:MaxMetaspaceSize=", J_META},
               {"-XX:MaxDirectMemorySize=", J_DIRECT},
               {"-XX:ReservedCodeCacheSize=", J_CODE},
               {"-XX:MaxRAM=", J_MAXRAM}};
    for (size_t i = 0; i < sizeof(map) / sizeof(map[0]); i++) {
        size_t n = strlen(map[i].prefix);
        unsigned long long v;
        if (strncmp(a, map[i].prefix, n) == 0 && java_size(a + n, &v) == 0) {
            f->v[map[i].which] = v;
            f->set[map[i].which] = 1;
        }
    }
    if (strncmp(a, "-XX:MaxRAMPercentage=", 21) == 0) {
        f->v[J_RAMPCT] = (unsigned long long)(atof(a + 21) * 1000);
        f->set[J_RAMPCT] = 1;
    }
    if (strcmp(a, "-XX:-TieredCompilation") == 0)
        f->tiered_off = 1;
}

static void env_args(struct jflags *f, const char *name)
{
    const char *s = getenv(name);
    if (s == NULL)
        return;
    char word[512];
    while (*s) {
        while (isspace((unsigned char)*s))
            s++;
        size_t n = 0;
        while (*s && !isspace((unsigned char)*s)) {
            if (n + 1 < sizeof(word))
                word[n++] = *s;
            s++;
        }
        word[n] = '\0';
        if (n > 0)
            one_arg(f, word);
    }
}

/* Physical memory the JVM would size itself against: the cgroup v2 limit
 * when there is one, else MemTotal. */
static unsigned long long physical_memory(void)
{
    unsigned long long total = 0;
    char *text;
    size_t len;
    if (nmt__os_read_file("/proc/meminfo", &text, &len) == 0) {
        const char *p = strstr(text, "MemTotal:");
        if (p != NULL)
            total = strtoull(p + 9, NULL, 10) * 1024;
        free(text);
    }
    if (nmt__os_read_file("/sys/fs/cgroup/memory.max", &text, &len) == 0) {
        if (isdigit((unsigned char)text[0])) {
            unsigned long long lim = strtoull(text, NULL, 10);
            if (lim > 0 && lim < total)
                total = lim;
        }
        free(text);
    }
    return total;
}

static int is_java(const char *cmd, size_t len)
{
    if (len == 0)
        return 0;
    if (strcmp(nmc_base_name(cmd), "java") == 0)
        return 1;
    char exe[4096];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
    if (n <= 0)
        return 0;
    exe[n] = '\0';
    return strcmp(nmc_base_name(exe), "java") == 0;
}

NMT_HIDDEN void nmt__os_jvm_info(void (*add)(void *, const char *, const char *), void *ctx)
{
    char *cmd;
    size_t len;
    if (nmt__os_read_file("/proc/self/cmdline", &cmd, &len) != 0)
        return;
    if (!is_java(cmd, len)) {
        free(cmd);
        return;
    }
    struct jflags f;
    memset(&f, 0, sizeof(f));
    /* The JVM reads JAVA_TOOL_OPTIONS first, then the command line, then
     * _JAVA_OPTIONS; JDK_JAVA_OPTIONS is the launcher's, before the line. */
    env_args(&f, "JAVA_TOOL_OPTIONS");
    env_args(&f, "JDK_JAVA_OPTIONS");
    /* Launcher options whose value is the next argument: skip the value, or
     * it would be taken for the main class and end the scan. */
    static const char *const with_value[] = {"-cp",
                                             "-classpath",
                                             "--class-path",
                                             "-p",
                                             "--module-path",
                                             "--upgrade-module-path",
                                             "--add-modules",
                                             "--limit-modules",
                                             "--add-reads",
                                             "--add-exports",
                                             "--add-opens",
                                             "--patch-module",
                                             "--enable-native-access"};
    for (size_t off = strlen(cmd) + 1; off < len; off += strlen(cmd + off) + 1) {
        const char *a = cmd + off;
        if (a[0] != '-' || strcmp(a, "-jar") == 0 || strcmp(a, "-m") == 0 ||
            strcmp(a, "--module") == 0)
            break; /* the main class, jar or module: the rest are the program's */
        one_arg(&f, a);
        for (size_t i = 0; i < sizeof(with_value) / sizeof(with_value[0]); i++) {
            if (strcmp(a, with_value[i]) == 0) {
                off += strlen(cmd + off) + 1;
                break;
            }
        }
    }
    env_args(&f, "_JAVA_OPTIONS");
    free(cmd);

    unsigned long long phys = f.set[J_MAXRAM] ? f.v[J_MAXRAM] : physical_memory();
    double pct = f.set[J_RAMPCT] ? (double)f.v[J_RAMPCT] / 1000.0 : 25.0;
    unsigned long long heap = f.set[J_HEAP] ? f.v[J_HEAP] : (unsigned long long)(phys * pct / 100);
    /* Metaspace is unbounded by default; 256 MiB is the planning figure we
     * assume, and say so through the ".source" key. */
    unsigned long long meta = f.set[J_META] ? f.v[J_META] : 256ull << 20;
    unsigned long long direct = f.set[J_DIRECT] ? f.v[J_DIRECT] : heap;
    unsigned long long code = f.set[J_CODE] ? f.v[J_CODE] : (f.tiered_off ? 48ull : 240ull) << 20;

    const char *keys[] = {"jvm.max_heap", "jvm.max_metaspace", "jvm.max_direct",
                          "jvm.reserved_code_cache"};
    unsigned long long vals[] = {heap, meta, direct, code};
    int set[] = {f.set[J_HEAP], f.set[J_META], f.set[J_DIRECT], f.set[J_CODE]};
    char buf[64], key[64];
    for (int i = 0; i < 4; i++) {
        snprintf(buf, sizeof(buf), "%llu", vals[i]);
        add(ctx, keys[i], buf);
        snprintf(key, sizeof(key), "%s.source", keys[i]);
        add(ctx, key, set[i] ? "flag" : (i == 1 ? "assumed (unlimited by default)" : "default"));
    }
    snprintf(buf, sizeof(buf), "%llu", heap + meta + direct + code);
    add(ctx, "jvm.reasonable_total", buf);
}
