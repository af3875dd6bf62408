/*
 * nmr_reader.c: reads a profile file (docs/FORMAT.md) into struct
 * nmr_profile, following the format's reading rules exactly: records are
 * CRC-checked; a record cut by end of file (or a torn last record) is
 * truncation and the last complete snapshot is used; any other bad record is
 * corruption, reported with its byte offset. It never trusts a length or a
 * count before checking it against the bytes that are really there, so no
 * input can make it read out of bounds or allocate without limit (it is
 * fuzzed: tests/report/fuzz/fuzz_reader.c).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include "nmt_format.h"
#include "nmr_internal.h"

/* A snapshot being read: it joins profile->snaps only at its SNAP_END. */
struct pending {
    int open;
    struct nmr_snapshot s;
    size_t cap_counters, cap_maps, cap_sites;
};

struct rd {
    const uint8_t *data;
    size_t size;
    const char *name;
    const struct nmr_read_opts *opts;
    struct nmr_profile *p;
    char *err;
    size_t errlen;

    size_t cap_info, cap_snaps, cap_java, cap_slots;
    struct pending cur;
    uint64_t rec_off; /* offset of the record being decoded */
    int progress_shown;
};

/* A cursor over one payload. A read past its end sets short_ = 1 and
 * returns zeros, so decoders check once at the end. */
struct cur {
    const uint8_t *p, *end;
    int short_;
};

static int fail(struct rd *r, int code, const char *fmt, ...)
{
    va_list ap;
    int n = snprintf(r->err, r->errlen, "%s: ", r->name);
    if (n < 0 || (size_t)n >= r->errlen)
        return code;
    va_start(ap, fmt);
    vsnprintf(r->err + n, r->errlen - (size_t)n, fmt, ap);
    va_end(ap);
    return code;
}

static int corrupt(struct rd *r, const char *what)
{
    return fail(r, -EBADMSG, "corrupt profile at byte %llu: %s", (unsigned long long)r->rec_off,
                what);
}

static int nomem(struct rd *r)
{
    return fail(r, -ENOMEM, "out of memory");
}

static uint32_t c_u32(struct cur *c)
{
    if (c->end - c->p < 4) {
        c->short_ = 1;
        c->p = c->end;
        return 0;
    }
    uint32_t v = nmr__le32(c->p);
    c->p += 4;
    return v;
}

static uint64_t c_u64(struct cur *c)
{
    if (c->end - c->p < 8) {
        c->short_ = 1;
        c->p = c->end;
        return 0;
    }
    uint64_t v = nmr__le64(c->p);
    c->p += 8;
    return v;
}

/* A str field: returns its bytes (not NUL-terminated) and length. */
static const uint8_t *c_str(struct cur *c, uint32_t *len)
{
    uint32_t n = c_u32(c);
    if (c->short_ || (size_t)(c->end - c->p) < n) {
        c->short_ = 1;
        c->p = c->end;
        *len = 0;
        return NULL;
    }
    const uint8_t *s = c->p;
    c->p += n;
    *len = n;
    return s;
}

static const char *c_dupstr(struct rd *r, struct cur *c)
{
    uint32_t n;
    const uint8_t *s = c_str(c, &n);
    if (c->short_)
        return "";
    return nmr__arena_strndup(r->p->arena, (const char *)s, n);
}

static int dec_header(struct rd *r, struct cur *c)
{
    struct nmr_profile *p = r->p;
    p->format_version = c_u32(c);
    if (!c->short_ && p->format_version > NMT_FORMAT_VERSION)
        return fail(r, -EPROTONOSUPPORT,
                    "unsupported format version %u (this nmreport reads version %u)",
                    p->format_version, NMT_FORMAT_VERSION);
    p->pid = c_u32(c);
    p->ppid = c_u32(c);
    p->hdr_flags = c_u32(c);
    p->start_realtime_ns = c_u64(c);
    p->start_monotonic_ns = c_u64(c);
    p->rate = c_u64(c);
    p->depth = c_u32(c);
    p->page_size = c_u32(c);
    p->producer = c_dupstr(r, c);
    p->exe = c_dupstr(r, c);
    uint32_t n;
    const uint8_t *cl = c_str(c, &n);
    p->hostname = c_dupstr(r, c);
    if (c->short_)
        return corrupt(r, "HEADER record too short");
    if (p->format_version == 0)
        return corrupt(r, "HEADER format_version 0");
    /* The arguments end in NULs: show them joined by spaces. */
    while (n > 0 && cl[n - 1] == 0)
        n--;
    char *s = nmr__arena_strndup(p->arena, (const char *)cl, n);
    if (!s || !p->producer || !p->exe || !p->hostname)
        return nomem(r);
    for (uint32_t i = 0; i < n; i++)
        if (s[i] == 0)
            s[i] = ' ';
    p->cmdline = s;
    return 0;
}

static int dec_info(struct rd *r, struct cur *c)
{
    struct nmr_profile *p = r->p;
    uint32_t count = c_u32(c);
    for (uint32_t i = 0; i < count && !c->short_; i++) {
        uint32_t kl, vl;
        const uint8_t *k = c_str(c, &kl);
        const uint8_t *v = c_str(c, &vl);
        if (c->short_)
            break;
        const char *vs = nmr__arena_strndup(p->arena, (const char *)v, vl);
        if (!vs)
            return nomem(r);
        size_t j;
        for (j = 0; j < p->ninfo; j++)
            if (strlen(p->info[j].key) == kl && memcmp(p->info[j].key, k, kl) == 0)
                break;
        if (j < p->ninfo) {
            p->info[j].value = vs;
            continue;
        }
        if (nmr__grow(&p->info, &r->cap_info, p->ninfo + 1, sizeof(*p->info)))
            return nomem(r);
        p->info[p->ninfo].key = nmr__arena_strndup(p->arena, (const char *)k, kl);
        p->info[p->ninfo].value = vs;
        if (!p->info[p->ninfo].key)
            return nomem(r);
        p->ninfo++;
    }
    if (c->short_)
        return corrupt(r, "INFO record too short");
    return 0;
}

static int dec_stack(struct rd *r, struct cur *c)
{
    struct nmr_profile *p = r->p;
    uint32_t id = c_u32(c);
    uint32_t n = c_u32(c);
    if (c->short_ || (size_t)(c->end - c->p) / 8 < n)
        return corrupt(r, "STACK record too short");
    if (id == 0)
        return corrupt(r, "STACK id 0");
    /* Ids are assigned in order from 1, so a valid id cannot exceed the
     * number of STACK records the file could hold: this bounds the table. */
    if (id > r->size / (NMT_FRAME_HEAD + 8 + NMT_FRAME_TAIL) + 1)
        return corrupt(r, "STACK id out of range");
    if (id >= p->nstack_slots) {
        size_t cap = r->cap_slots;
        if (nmr__grow(&p->stacks, &cap, (size_t)id + 1, sizeof(*p->stacks)))
            return nomem(r);
        memset(p->stacks + r->cap_slots, 0, (cap - r->cap_slots) * sizeof(*p->stacks));
        r->cap_slots = cap;
        p->nstack_slots = id + 1;
    }
    struct nmr_stack *s = &p->stacks[id];
    if (s->defined)
        return corrupt(r, "STACK id defined twice");
    uint64_t *f = nmr__arena_alloc_raw(p->arena, (size_t)n * 8);
    if (!f)
        return nomem(r);
    for (uint32_t i = 0; i < n; i++)
        f[i] = nmr__le64(c->p + (size_t)i * 8);
    s->id = id;
    s->nraw = n;
    s->raw = f;
    s->defined = 1;
    s->site = -1;
    p->nstacks++;
    return 0;
}

static int dec_snap_begin(struct rd *r, struct cur *c)
{
    struct pending *pd = &r->cur;
    if (pd->open)
        return corrupt(r, "SNAP_BEGIN inside an open snapshot");
    uint32_t seq = c_u32(c);
    uint32_t reason = c_u32(c);
    uint64_t rt = c_u64(c), mt = c_u64(c);
    if (c->short_)
        return corrupt(r, "SNAP_BEGIN record too short");
    memset(pd, 0, sizeof(*pd));
    pd->open = 1;
    pd->s.seq = seq;
    pd->s.reason = reason;
    pd->s.realtime_ns = rt;
    pd->s.monotonic_ns = mt;
    return 0;
}

static void pending_free(struct pending *pd)
{
    free(pd->s.counters);
    free(pd->s.maps);
    free(pd->s.sites);
    memset(pd, 0, sizeof(*pd));
}

static int dec_maps(struct rd *r, struct cur *c)
{
    struct pending *pd = &r->cur;
    if (!pd->open)
        return corrupt(r, "MAPS outside a snapshot");
    uint32_t count = c_u32(c);
    /* Each entry holds at least 48 bytes: refuse counts the payload cannot hold. */
    if (c->short_ || (size_t)(c->end - c->p) / 48 < count)
        return corrupt(r, "MAPS record too short");
    if (nmr__grow(&pd->s.maps, &pd->cap_maps, pd->s.nmaps + count, sizeof(*pd->s.maps)))
        return nomem(r);
    for (uint32_t i = 0; i < count; i++) {
        struct nmr_map *m = &pd->s.maps[pd->s.nmaps];
        memset(m, 0, sizeof(*m));
        m->start = c_u64(c);
        m->end = c_u64(c);
        m->offset = c_u64(c);
        m->prot = c_u32(c);
        m->dev = c_u32(c);
        m->inode = c_u64(c);
        m->path = c_dupstr(r, c);
        uint32_t bl;
        const uint8_t *b = c_str(c, &bl);
        if (c->short_)
            return corrupt(r, "MAPS record too short");
        if (!m->path)
            return nomem(r);
        if (bl) {
            uint8_t *d = nmr__arena_alloc(r->p->arena, bl);
            if (!d)
                return nomem(r);
            memcpy(d, b, bl);
            m->build_id = d;
            m->build_id_len = bl;
        }
        pd->s.nmaps++;
    }
    return 0;
}

static int dec_counters(struct rd *r, struct cur *c)
{
    struct pending *pd = &r->cur;
    if (!pd->open)
        return corrupt(r, "COUNTERS outside a snapshot");
    uint32_t count = c_u32(c);
    if (c->short_ || (size_t)(c->end - c->p) / 12 < count)
        return corrupt(r, "COUNTERS record too short");
    if (nmr__grow(&pd->s.counters, &pd->cap_counters, pd->s.ncounters + count,
                  sizeof(*pd->s.counters)))
        return nomem(r);
    for (uint32_t i = 0; i < count; i++) {
        struct nmr_counter *k = &pd->s.counters[pd->s.ncounters];
        k->name = c_dupstr(r, c);
        k->value = (int64_t)c_u64(c);
        if (c->short_)
            return corrupt(r, "COUNTERS record too short");
        if (!k->name)
            return nomem(r);
        pd->s.ncounters++;
    }
    return 0;
}

static int dec_sites(struct rd *r, struct cur *c)
{
    struct pending *pd = &r->cur;
    struct nmr_profile *p = r->p;
    if (!pd->open)
        return corrupt(r, "SITES outside a snapshot");
    uint32_t count = c_u32(c);
    if (c->short_ || (size_t)(c->end - c->p) / NMT_SITE_DISK_SIZE < count)
        return corrupt(r, "SITES record too short");
    if (nmr__grow(&pd->s.sites, &pd->cap_sites, pd->s.nsites + count, sizeof(*pd->s.sites)))
        return nomem(r);
    const uint8_t *e = c->p;
    for (uint32_t i = 0; i < count; i++, e += NMT_SITE_DISK_SIZE) {
        struct nmr_site *s = &pd->s.sites[pd->s.nsites];
        s->stack_id = nmr__le32(e);
        s->flags = nmr__le32(e + 4);
        s->live_bytes = nmr__le64(e + 8);
        s->live_objects = nmr__le64(e + 16);
        s->alloc_bytes = nmr__le64(e + 24);
        s->alloc_objects = nmr__le64(e + 32);
        s->live_samples = nmr__le64(e + 40);
        s->alloc_samples = nmr__le64(e + 48);
        s->reserved = nmr__le64(e + 56);
        s->committed = nmr__le64(e + 64);
        if (s->stack_id >= p->nstack_slots || !p->stacks[s->stack_id].defined)
            return corrupt(r, "SITES entry names a stack that was not defined");
        pd->s.nsites++;
    }
    c->p = e;
    return 0;
}

static int cmp_map(const void *a, const void *b)
{
    const struct nmr_map *x = a, *y = b;
    return x->start < y->start ? -1 : x->start > y->start;
}

static int dec_snap_end(struct rd *r, struct cur *c)
{
    struct pending *pd = &r->cur;
    struct nmr_profile *p = r->p;
    uint32_t seq = c_u32(c);
    uint32_t nsites = c_u32(c);
    if (c->short_)
        return corrupt(r, "SNAP_END record too short");
    if (!pd->open)
        return corrupt(r, "SNAP_END without SNAP_BEGIN");
    if (seq != pd->s.seq)
        return corrupt(r, "SNAP_END seq does not match its SNAP_BEGIN");
    if (nsites != pd->s.nsites)
        return corrupt(r, "SNAP_END nsites disagrees with the SITES entries read");
    /* The snapshot takes over the pending arrays (freed by nmr_profile_free). */
    struct nmr_snapshot s = pd->s;
    if (s.nmaps > 1)
        qsort(s.maps, s.nmaps, sizeof(*s.maps), cmp_map);
    if (nmr__grow(&p->snaps, &r->cap_snaps, p->nsnaps + 1, sizeof(*p->snaps)))
        return nomem(r);
    memset(pd, 0, sizeof(*pd));
    p->snaps[p->nsnaps++] = s;
    return 0;
}

/* SMAPS and JACCOUNTS: the open snapshot's (nmr_jvmacc.c decodes them). */
static int dec_snap_extra(struct rd *r, uint16_t type, const uint8_t *payload, uint32_t len)
{
    struct pending *pd = &r->cur;
    if (!pd->open)
        return corrupt(r, type == NMT_REC_SMAPS ? "SMAPS outside a snapshot"
                                                : "JACCOUNTS outside a snapshot");
    int rc = type == NMT_REC_SMAPS
                 ? nmr__smaps_decode(r->p->arena, payload, len, &pd->s.smaps, &pd->s.nsmaps)
                 : nmr__jaccounts_decode(r->p->arena, payload, len, &pd->s.jacc);
    pd->s.has_smaps |= type == NMT_REC_SMAPS;
    if (rc == -ENOMEM)
        return nomem(r);
    return rc ? corrupt(r, type == NMT_REC_SMAPS ? "bad SMAPS record" : "bad JACCOUNTS record") : 0;
}

static int keep_raw(struct rd *r, uint16_t type, const uint8_t *payload, uint32_t len)
{
    struct nmr_profile *p = r->p;
    if (nmr__grow(&p->java_records, &r->cap_java, p->njava_records + 1, sizeof(*p->java_records)))
        return nomem(r);
    uint8_t *d = nmr__arena_alloc(p->arena, len);
    if (!d)
        return nomem(r);
    if (len)
        memcpy(d, payload, len);
    struct nmr_raw_record *j = &p->java_records[p->njava_records++];
    j->type = type;
    j->length = len;
    j->payload = d;
    j->offset = r->rec_off;
    return 0;
}

static int dispatch(struct rd *r, uint16_t type, const uint8_t *payload, uint32_t len)
{
    struct cur c = {payload, payload + len, 0};
    switch (type) {
    case NMT_REC_HEADER:
        return corrupt(r, "second HEADER record");
    case NMT_REC_INFO:
        return dec_info(r, &c);
    case NMT_REC_STACK:
        return dec_stack(r, &c);
    case NMT_REC_MAPS:
        return dec_maps(r, &c);
    case NMT_REC_SNAP_BEGIN:
        return dec_snap_begin(r, &c);
    case NMT_REC_COUNTERS:
        return dec_counters(r, &c);
    case NMT_REC_SITES:
        return dec_sites(r, &c);
    case NMT_REC_SNAP_END:
        return dec_snap_end(r, &c);
    case NMT_REC_SMAPS:
    case NMT_REC_JACCOUNTS:
        return dec_snap_extra(r, type, payload, len);
    default:
        if (type >= 10 && type <= 19)
            return keep_raw(r, type, payload, len);
        return 0; /* unknown: skipped, as the format asks */
    }
}

/* A percentage on stderr for big files when it is a terminal (main sets
 * opts->progress), redrawn every 16 MiB. */
static void progress(struct rd *r, size_t off)
{
    if (!r->opts || !r->opts->progress || r->size < (64u << 20))
        return;
    int step = (int)(off >> 24);
    if (step <= r->progress_shown && off != 0)
        return;
    r->progress_shown = step;
    fprintf(stderr, "\rnmreport: reading %s: %3d%%", r->name,
            (int)((double)off * 100 / (double)r->size));
}

static void warn(struct rd *r, const char *fmt, ...)
{
    if (!r->opts || !r->opts->warn)
        return;
    va_list ap;
    fprintf(r->opts->warn, "nmreport: warning: %s: ", r->name);
    va_start(ap, fmt);
    vfprintf(r->opts->warn, fmt, ap);
    va_end(ap);
    fputc('\n', r->opts->warn);
}

/* After the last record: a file without a header or a snapshot is refused;
 * one cut short (cut) or ending inside a snapshot is read up to its last
 * complete snapshot, with one warning. */
static int finish(struct rd *r, int have_header, int cut)
{
    struct nmr_profile *p = r->p;
    if (r->opts && r->opts->progress && r->size >= (64u << 20))
        fprintf(stderr, "\r%*s\r", 60, "");
    if (have_header && p->nsnaps == 0)
        return fail(r, -ENODATA,
                    "no snapshot yet: pid %u is still recording (the first periodic snapshot comes "
                    "10 s after its start with the default NMTRACE_INTERVAL=auto; NMTRACE_SIGNAL "
                    "or NMTRACE_TRIGGER ask for one) or ended without one",
                    (unsigned)p->pid);
    if (!have_header)
        return fail(r, -ENODATA, "no complete snapshot (the file holds no header yet)");
    if (cut || r->cur.open) {
        p->truncated = 1;
        if (cut)
            warn(r,
                 "cut short: incomplete record at byte %llu of %zu; using the last complete "
                 "snapshot (seq %u)",
                 (unsigned long long)r->rec_off, r->size, p->snaps[p->nsnaps - 1].seq);
        else
            warn(r,
                 "the last snapshot (seq %u) has no end; using the last complete snapshot "
                 "(seq %u)",
                 r->cur.s.seq, p->snaps[p->nsnaps - 1].seq);
    }
    return 0;
}

static int parse(struct rd *r)
{
    struct nmr_profile *p = r->p;
    if (r->size == 0)
        return fail(r, -ENODATA, "empty file (no nmtrace profile data)");
    size_t m = r->size < NMT_MAGIC_LEN ? r->size : NMT_MAGIC_LEN;
    if (memcmp(r->data, NMT_MAGIC, m) != 0)
        return fail(r, -EINVAL, "not an nmtrace profile (bad magic)");
    if (r->size < NMT_MAGIC_LEN)
        return fail(r, -ENODATA, "no complete snapshot (file cut after %zu bytes)", r->size);

    size_t off = NMT_MAGIC_LEN;
    int cut = 0, have_header = 0;
    while (off < r->size) {
        r->rec_off = off;
        progress(r, off);
        size_t left = r->size - off;
        if (left < NMT_FRAME_HEAD) {
            cut = 1;
            break;
        }
        const uint8_t *h = r->data + off;
        uint16_t type = nmr__le16(h);
        uint32_t len = nmr__le32(h + 4);
        if (len > NMT_RECORD_MAX)
            return corrupt(r, "record length above the 64 MiB maximum");
        if (left - NMT_FRAME_HEAD < (size_t)len + NMT_FRAME_TAIL) {
            cut = 1;
            break;
        }
        size_t total = NMT_FRAME_HEAD + (size_t)len + NMT_FRAME_TAIL;
        uint32_t want = nmr__le32(h + NMT_FRAME_HEAD + len);
        uint32_t got = (uint32_t)crc32(0L, h, (uInt)(NMT_FRAME_HEAD + len));
        if (want != got) {
            if (off + total == r->size) {
                cut = 1; /* a torn final write */
                break;
            }
            return corrupt(r, "checksum mismatch");
        }
        const uint8_t *payload = h + NMT_FRAME_HEAD;
        int rc;
        if (!have_header) {
            if (type != NMT_REC_HEADER)
                return corrupt(r, "first record is not HEADER");
            struct cur c = {payload, payload + len, 0};
            rc = dec_header(r, &c);
            have_header = 1;
        } else {
            rc = dispatch(r, type, payload, len);
        }
        if (rc)
            return rc;
        off += total;
        if (type == NMT_REC_SNAP_END)
            p->valid_bytes = off;
    }
    return finish(r, have_header, cut);
}

int nmr_profile_parse(const uint8_t *data, size_t size, const char *name,
                      const struct nmr_read_opts *opts, struct nmr_profile **out, char *err,
                      size_t errlen)
{
    static char dummy[1];
    struct rd r = {.data = data, .size = size, .name = name, .opts = opts};
    r.err = err && errlen ? err : dummy;
    r.errlen = err && errlen ? errlen : sizeof(dummy);
    r.err[0] = 0;
    *out = NULL;
    struct nmr_profile *p = calloc(1, sizeof(*p));
    if (!p || !(p->arena = nmr__arena_new())) {
        free(p);
        return fail(&r, -ENOMEM, "out of memory");
    }
    r.p = p;
    p->path = nmr__arena_strndup(p->arena, name, strlen(name));
    p->file_size = size;
    p->producer = p->exe = p->hostname = p->cmdline = "";
    int rc = parse(&r);
    pending_free(&r.cur);
    if (rc == 0)
        rc = nmr__java_decode(p);
    if (rc) {
        if (rc == -ENOMEM && !r.err[0])
            fail(&r, rc, "out of memory");
        nmr_profile_free(p);
        return rc;
    }
    *out = p;
    return 0;
}

int nmr_profile_read(const char *path, const struct nmr_read_opts *opts, struct nmr_profile **out,
                     char *err, size_t errlen)
{
    *out = NULL;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        int e = errno;
        snprintf(err, errlen, "%s: cannot open: %s", path, strerror(e));
        return -e;
    }
    struct stat st;
    if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
        int e = errno ? errno : EINVAL;
        snprintf(err, errlen, "%s: not a regular file", path);
        close(fd);
        return -e;
    }
    size_t size = (size_t)st.st_size;
    const uint8_t *data = NULL;
    if (size > 0) {
        /* PROT_READ + MAP_PRIVATE: the input file is never modified. */
        data = mmap(NULL, size, PROT_READ, MAP_PRIVATE, fd, 0);
        if (data == MAP_FAILED) {
            int e = errno;
            snprintf(err, errlen, "%s: cannot map: %s", path, strerror(e));
            close(fd);
            return -e;
        }
        madvise((void *)data, size, MADV_SEQUENTIAL);
    }
    close(fd);
    int rc =
        nmr_profile_parse(data ? data : (const uint8_t *)"", size, path, opts, out, err, errlen);
    if (data)
        munmap((void *)data, size);
    return rc;
}

void nmr_profile_free(struct nmr_profile *p)
{
    if (!p)
        return;
    nmr__sym_close(p);
    free(p->info);
    free(p->stacks);
    for (size_t i = 0; i < p->nsnaps; i++) {
        free(p->snaps[i].counters);
        free(p->snaps[i].maps);
        free(p->snaps[i].sites);
    }
    free(p->snaps);
    free(p->java_records);
    free(p->jmethods);
    nmr__arena_free(p->arena);
    free(p);
}
