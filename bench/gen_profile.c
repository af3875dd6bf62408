/*
 * gen_profile.c: writes a large synthetic nmtrace profile (nmt_gen_profile),
 * for timing the report tool on realistic volumes (bench/run_report.sh).
 *
 * The file follows docs/FORMAT.md exactly: HEADER, INFO, every STACK, then
 * N snapshots, each with this process's real /proc/self/maps (with the GNU
 * build-ids of the loaded objects), COUNTERS and SITES listing every stack.
 * Frames are drawn from a pool of a few hundred addresses inside the
 * executable mappings of libc.so.6, libz and this program itself, so a
 * symbolizer run on the same machine resolves them to real functions; frame
 * 0 is libc's malloc (or mmap for the stacks given mmap figures), as the
 * recorder writes its entry point. Stacks share their root-side frames, as
 * real call trees do, and three frames encode the stack's index so all
 * stacks are distinct. Figures grow over the snapshots for one stack in
 * eight (a leak), stay level for the rest.
 *
 * Deterministic for a given --seed, apart from the addresses (ASLR) and the
 * header's times and pid.
 */
#include <dlfcn.h>
#include <elf.h>
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <link.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/utsname.h>
#include <time.h>
#include <unistd.h>

#include "nmt_enc.h"
#include "nmt_format.h"

#define POOL_MAX         512
#define ROOT_POOL        24 /* root-side frames come from this few */
#define SITES_PER_RECORD 50000u

struct mapping {
    uint64_t start, end, offset, inode;
    uint32_t prot, dev;
    char path[512];
    unsigned char bid[64];
    uint32_t bid_len;
};

struct gen {
    FILE *out;
    struct nmt_enc b;
    uint64_t rng;
    uint64_t pool[POOL_MAX];
    unsigned npool;
    struct mapping *maps;
    unsigned nmaps;
    int err;
};

/* Records are encoded into g->b (format/nmt_enc.h) and written out one by
 * one: the buffer holds one record at a time. */
static void flush(struct gen *g)
{
    if (g->b.failed) {
        fprintf(stderr, "nmt_gen_profile: out of memory\n");
        exit(1);
    }
    if (fwrite(g->b.data, 1, g->b.len, g->out) != g->b.len)
        g->err = errno ? errno : EIO;
    g->b.len = 0;
}

/* Frames the record begun at at and writes it out. */
static void rec_end(struct gen *g, size_t at)
{
    nmt_enc_rec_end(&g->b, at);
    flush(g);
}

static uint64_t rng_next(uint64_t *s)
{
    uint64_t x = *s;
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    *s = x;
    return x * 0x2545F4914F6CDD1Dull;
}

static uint64_t now_ns(clockid_t clk)
{
    struct timespec ts;
    clock_gettime(clk, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* ---- the process's mappings and build-ids ---- */

/* Copies the GNU build-id of each loaded object to the mappings of its file. */
static int bid_cb(struct dl_phdr_info *info, size_t size, void *arg)
{
    (void)size;
    struct gen *g = arg;
    char self[512];
    const char *name = info->dlpi_name;
    if (name == NULL || name[0] == '\0') {
        ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);
        if (n <= 0)
            return 0;
        self[n] = '\0';
        name = self;
    }
    for (int i = 0; i < info->dlpi_phnum; i++) {
        const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
        if (ph->p_type != PT_NOTE)
            continue;
        const unsigned char *p = (const unsigned char *)(info->dlpi_addr + ph->p_vaddr);
        const unsigned char *end = p + ph->p_memsz;
        while (p + sizeof(ElfW(Nhdr)) <= end) {
            const ElfW(Nhdr) *nh = (const ElfW(Nhdr) *)(const void *)p;
            const unsigned char *desc = p + sizeof(*nh) + ((nh->n_namesz + 3) & ~3u);
            if (nh->n_type == NT_GNU_BUILD_ID && nh->n_namesz == 4 &&
                memcmp(p + sizeof(*nh), "GNU", 4) == 0 && nh->n_descsz <= 64) {
                for (unsigned m = 0; m < g->nmaps; m++) {
                    char real[4096];
                    if (g->maps[m].path[0] != '/')
                        continue;
                    if (strcmp(g->maps[m].path, name) != 0 &&
                        (realpath(name, real) == NULL || strcmp(g->maps[m].path, real) != 0))
                        continue;
                    memcpy(g->maps[m].bid, desc, nh->n_descsz);
                    g->maps[m].bid_len = nh->n_descsz;
                }
                return 0;
            }
            p = desc + ((nh->n_descsz + 3) & ~3u);
        }
    }
    return 0;
}

static int read_maps(struct gen *g)
{
    FILE *f = fopen("/proc/self/maps", "r");
    if (f == NULL)
        return -errno;
    char line[1024];
    unsigned cap = 0;
    while (fgets(line, sizeof(line), f) != NULL) {
        if (g->nmaps == cap) {
            cap = cap ? cap * 2 : 64;
            struct mapping *m = realloc(g->maps, cap * sizeof(*m));
            if (m == NULL) {
                fclose(f);
                return -ENOMEM;
            }
            g->maps = m;
        }
        struct mapping *m = &g->maps[g->nmaps];
        memset(m, 0, sizeof(*m));
        char perms[8];
        unsigned maj, min;
        int pathpos = 0;
        if (sscanf(line, "%" SCNx64 "-%" SCNx64 " %7s %" SCNx64 " %x:%x %" SCNu64 " %n", &m->start,
                   &m->end, perms, &m->offset, &maj, &min, &m->inode, &pathpos) < 7)
            continue;
        m->prot = (perms[0] == 'r' ? NMT_MAP_R : 0) | (perms[1] == 'w' ? NMT_MAP_W : 0) |
                  (perms[2] == 'x' ? NMT_MAP_X : 0) | (perms[3] == 's' ? NMT_MAP_SHARED : 0);
        m->dev = (maj << 20) | min;
        if (pathpos > 0) {
            snprintf(m->path, sizeof(m->path), "%s", line + pathpos);
            m->path[strcspn(m->path, "\n")] = '\0';
        }
        g->nmaps++;
    }
    fclose(f);
    dl_iterate_phdr(bid_cb, g);
    return 0;
}

static void put_maps(struct gen *g)
{
    size_t at = nmt_enc_rec_begin(&g->b, NMT_REC_MAPS);
    nmt_enc_u32(&g->b, g->nmaps);
    for (unsigned i = 0; i < g->nmaps; i++) {
        const struct mapping *m = &g->maps[i];
        const struct nmt_map_entry e = {.start = m->start,
                                        .end = m->end,
                                        .offset = m->offset,
                                        .inode = m->inode,
                                        .prot = m->prot,
                                        .dev = m->dev,
                                        .path = m->path,
                                        .build_id = m->bid,
                                        .build_id_len = m->bid_len};
        nmt_enc_map(&g->b, &e);
    }
    rec_end(g, at);
}

/* The address pool: addresses inside the executable mappings of the chosen
 * objects, weighted by how many each gets. */
static void fill_pool(struct gen *g)
{
    static const struct {
        const char *needle;
        unsigned count;
    } want[] = {{"libc.so", 300}, {"libz.so", 60}, {"nmt_gen_profile", 100}};
    for (size_t w = 0; w < sizeof(want) / sizeof(want[0]); w++) {
        for (unsigned i = 0; i < g->nmaps; i++) {
            const struct mapping *m = &g->maps[i];
            if (!(m->prot & NMT_MAP_X) || strstr(m->path, want[w].needle) == NULL)
                continue;
            for (unsigned k = 0; k < want[w].count && g->npool < POOL_MAX; k++)
                g->pool[g->npool++] = m->start + rng_next(&g->rng) % (m->end - m->start);
            break;
        }
    }
}

/* ---- records ---- */

static void put_header(struct gen *g, uint64_t rate, uint32_t depth, int argc, char **argv)
{
    const struct nmt_header h = {.version = NMT_FORMAT_VERSION,
                                 .pid = (uint32_t)getpid(),
                                 .ppid = (uint32_t)getppid(),
                                 .start_realtime_ns = now_ns(CLOCK_REALTIME),
                                 .start_monotonic_ns = now_ns(CLOCK_MONOTONIC),
                                 .rate = rate,
                                 .depth = depth,
                                 .page_size = (uint32_t)sysconf(_SC_PAGESIZE),
                                 .producer = "nmt_gen_profile " NMT_VERSION};
    size_t at = nmt_enc_header_begin(&g->b, &h);
    char exe[512];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
    nmt_enc_str(&g->b, exe, n > 0 ? (size_t)n : 0);
    size_t total = 0;
    for (int i = 0; i < argc; i++)
        total += strlen(argv[i]) + 1;
    nmt_enc_u32(&g->b, (uint32_t)total);
    for (int i = 0; i < argc; i++)
        nmt_enc_put(&g->b, argv[i], strlen(argv[i]) + 1);
    struct utsname u;
    nmt_enc_cstr(&g->b, uname(&u) == 0 ? u.nodename : "");
    rec_end(g, at);

    at = nmt_enc_rec_begin(&g->b, NMT_REC_INFO);
    nmt_enc_u32(&g->b, 1);
    char r[32];
    snprintf(r, sizeof(r), "%" PRIu64, rate);
    nmt_enc_info_pair(&g->b, "config.RATE", r);
    rec_end(g, at);
}

/* Stack i: frame 0 the entry point; then leaf-side frames at random, three
 * frames spelling i in base npool (distinctness), and root-side frames from
 * a small shared set chosen by i's low bits (shared prefixes). */
static uint32_t make_stack(struct gen *g, uint32_t i, uint64_t entry, uint64_t *f, uint32_t max)
{
    uint32_t depth = 8 + (uint32_t)(rng_next(&g->rng) % 24);
    if (depth > max)
        depth = max;
    uint32_t n = 0, root = 4;
    f[n++] = entry;
    uint32_t leaf = depth - 1 - 3 - root;
    for (uint32_t k = 0; k < leaf; k++)
        f[n++] = g->pool[rng_next(&g->rng) % g->npool];
    uint32_t x = i;
    for (int k = 0; k < 3; k++) {
        f[n++] = g->pool[x % g->npool];
        x /= g->npool;
    }
    for (uint32_t k = 0; k < root; k++)
        f[n++] = g->pool[(i >> (3 * k)) % ROOT_POOL];
    return n;
}

struct site_gen {
    uint64_t base_bytes; /* live bytes at the first snapshot */
    uint32_t leak;       /* grows by base_bytes / 4 per snapshot */
    uint32_t mmap;       /* has mmap figures instead */
};

static void put_site(struct gen *g, uint32_t id, const struct site_gen *s, uint32_t snap)
{
    uint64_t live = s->base_bytes + (s->leak ? snap * (s->base_bytes / 4) : 0);
    uint64_t objs = live / 256 + 1;
    struct nmt_site_disk d = {.stack_id = id};
    if (s->mmap) {
        d.flags = NMT_SITE_MMAP;
        d.reserved = live * 4;
        d.committed = live;
    } else {
        d.flags = NMT_SITE_MALLOC;
        d.live_bytes = live;
        d.live_objects = objs;
        d.alloc_bytes = live * (snap + 2);
        d.alloc_objects = objs * (snap + 2);
        d.live_samples = objs / 8 + 1;
        d.alloc_samples = (objs / 8 + 1) * (snap + 2);
    }
    nmt_enc_site(&g->b, &d);
}

static void put_snapshot(struct gen *g, uint32_t seq, const struct site_gen *sites,
                         uint32_t nstacks)
{
    nmt_enc_snap_begin(&g->b, seq, NMT_SNAP_INTERVAL, now_ns(CLOCK_REALTIME),
                       now_ns(CLOCK_MONOTONIC));
    flush(g);
    put_maps(g);

    uint64_t live = 0;
    for (uint32_t i = 0; i < nstacks; i++)
        live += sites[i].base_bytes + (sites[i].leak ? seq * (sites[i].base_bytes / 4) : 0);
    const struct {
        const char *name;
        int64_t v;
    } ctr[] = {{"proc.rss", (int64_t)(live + (64u << 20))},
               {"proc.hwm", (int64_t)(live + (64u << 20))},
               {"proc.threads", 8},
               {"rec.samples", (int64_t)nstacks * (seq + 2)},
               {"rec.stacks", nstacks},
               {"rec.ring_drops", 0}};
    size_t at = nmt_enc_rec_begin(&g->b, NMT_REC_COUNTERS);
    nmt_enc_u32(&g->b, (uint32_t)(sizeof(ctr) / sizeof(ctr[0])));
    for (size_t k = 0; k < sizeof(ctr) / sizeof(ctr[0]); k++)
        nmt_enc_counter(&g->b, ctr[k].name, ctr[k].v);
    rec_end(g, at);

    for (uint32_t first = 0; first < nstacks; first += SITES_PER_RECORD) {
        uint32_t n = nstacks - first < SITES_PER_RECORD ? nstacks - first : SITES_PER_RECORD;
        at = nmt_enc_rec_begin(&g->b, NMT_REC_SITES);
        nmt_enc_u32(&g->b, n);
        for (uint32_t i = first; i < first + n; i++)
            put_site(g, i + 1, &sites[i], seq);
        rec_end(g, at);
    }
    nmt_enc_snap_end(&g->b, seq, nstacks);
    flush(g);
}

static void usage(FILE *f)
{
    fprintf(f, "usage: nmt_gen_profile -o FILE [--stacks N] [--snapshots N] [--seed N]\n"
               "  writes a synthetic nmtrace profile (docs/FORMAT.md): N distinct stacks\n"
               "  (default 100000) in every one of N snapshots (default 20)\n");
}

struct gen_args {
    const char *path;
    unsigned long nstacks, nsnaps, seed;
};

/* The command line into a: -1 to go on, else the exit status (usage said). */
static int parse_args(int argc, char **argv, struct gen_args *a)
{
    static const struct option longs[] = {{"output", required_argument, NULL, 'o'},
                                          {"stacks", required_argument, NULL, 's'},
                                          {"snapshots", required_argument, NULL, 'n'},
                                          {"seed", required_argument, NULL, 'r'},
                                          {"help", no_argument, NULL, 'h'},
                                          {NULL, 0, NULL, 0}};
    *a = (struct gen_args){NULL, 100000, 20, 1};
    int c;
    while ((c = getopt_long(argc, argv, "o:h", longs, NULL)) != -1) {
        char *end = NULL;
        switch (c) {
        case 'o':
            a->path = optarg;
            break;
        case 's':
            a->nstacks = strtoul(optarg, &end, 10);
            break;
        case 'n':
            a->nsnaps = strtoul(optarg, &end, 10);
            break;
        case 'r':
            a->seed = strtoul(optarg, &end, 10);
            break;
        case 'h':
            usage(stdout);
            return 0;
        default:
            usage(stderr);
            return 2;
        }
        if (end != NULL && (*end != '\0' || end == optarg)) {
            fprintf(stderr, "nmt_gen_profile: bad number: %s\n", optarg);
            return 2;
        }
    }
    if (a->path == NULL || optind != argc || a->nstacks == 0 || a->nstacks > 10000000 ||
        a->nsnaps == 0 || a->nsnaps > 100000) {
        usage(stderr);
        return 2;
    }
    return -1;
}

/* The STACK records, one per site, with each site's kind and size drawn. */
static void put_stacks(struct gen *g, struct site_gen *sites, uint32_t nstacks)
{
    uint64_t entry_malloc = (uint64_t)(uintptr_t)dlsym(RTLD_DEFAULT, "malloc");
    uint64_t entry_mmap = (uint64_t)(uintptr_t)dlsym(RTLD_DEFAULT, "mmap");
    uint64_t frames[64];
    for (uint32_t i = 0; i < nstacks; i++) {
        struct site_gen *s = &sites[i];
        s->mmap = rng_next(&g->rng) % 100 == 0;
        s->leak = rng_next(&g->rng) % 8 == 0;
        /* Heavy-tailed sizes: most sites small, a few large. */
        s->base_bytes = (uint64_t)64 << (rng_next(&g->rng) % 12);
        uint32_t n = make_stack(g, i, s->mmap ? entry_mmap : entry_malloc, frames, 64);
        nmt_enc_stack(&g->b, i + 1, frames, n);
        flush(g);
    }
}

int main(int argc, char **argv)
{
    struct gen_args a;
    int rc = parse_args(argc, argv, &a);
    if (rc >= 0)
        return rc;
    const char *path = a.path;
    unsigned long nstacks = a.nstacks, nsnaps = a.nsnaps;
    struct gen g = {.rng = a.seed * 0x9E3779B97F4A7C15ull + 1};
    nmt_enc_init(&g.b, realloc);
    int err = read_maps(&g);
    if (err != 0) {
        fprintf(stderr, "nmt_gen_profile: /proc/self/maps: %s\n", strerror(-err));
        return 1;
    }
    fill_pool(&g);
    if (g.npool < 2 * ROOT_POOL) {
        fprintf(stderr, "nmt_gen_profile: found too few code addresses (%u)\n", g.npool);
        return 1;
    }
    g.out = fopen(path, "wbx");
    if (g.out == NULL) {
        fprintf(stderr, "nmt_gen_profile: %s: %s\n", path, strerror(errno));
        return 1;
    }
    nmt_enc_magic(&g.b);
    flush(&g);
    put_header(&g, 524288, 64, argc, argv);

    struct site_gen *sites = calloc(nstacks, sizeof(*sites));
    if (sites == NULL) {
        fprintf(stderr, "nmt_gen_profile: out of memory\n");
        return 1;
    }
    put_stacks(&g, sites, (uint32_t)nstacks);
    for (uint32_t s = 0; s < nsnaps && g.err == 0; s++)
        put_snapshot(&g, s, sites, (uint32_t)nstacks);
    if (fclose(g.out) != 0 && g.err == 0)
        g.err = errno;
    if (g.err != 0) {
        fprintf(stderr, "nmt_gen_profile: writing %s: %s\n", path, strerror(g.err));
        return 1;
    }
    printf("wrote %s: %lu stacks, %lu snapshots, %u code addresses in the pool\n", path, nstacks,
           nsnaps, g.npool);
    free(sites);
    free(g.maps);
    free(g.b.data);
    return 0;
}
