/*
 * nmr_java.c: decodes the Java records of a profile (JMETHOD, JCODE:
 * docs/FORMAT.md §5) and names Java frames and code-cache addresses.
 *
 * Methods are kept in an array indexed by serial (the recorder assigns them
 * densely from 1). The code history is a list of code blobs with the time
 * they were loaded and, for compiled methods, unloaded; an address is named
 * by the most recent blob that covered it at the time asked. Input is
 * untrusted: every length is checked against the payload before use.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nmc_hash.h"
#include "nmr_hindex.h"
#include "nmr_internal.h"
#include "nmr_java.h"
#include "nmr_profile.h"
#include "nmt_format.h"

#define MAX_SERIAL (1u << 24)

enum { JCODE_LOAD = 1, JCODE_UNLOAD = 2, JCODE_DYNAMIC = 3 };

struct code {
    uint64_t start, size, t_load, t_unload;
    int is_method;
    uint32_t serial;
    char *name;
    uint32_t npcs;
    uint64_t *pcs;      /* sorted as the JVM gave them (increasing) */
    uint32_t *pc_first; /* npcs + 1 offsets into serials/bcis */
    uint32_t *serials, *bcis;
};

struct nmr_java {
    struct nmr_java_method **methods; /* by serial */
    size_t nmethods_cap, nmethods;
    struct code *code;
    size_t ncode, code_cap;
    size_t *order; /* code indices sorted by start; rebuilt when stale */
    size_t norder;
    uint64_t max_size;
    /* start address -> index in code of the latest compiled-method load
     * there, so an unload finds its load without a scan. */
    struct nmr_hindex latest;
};

/* The walk of start's hash stopped at the latest method load at start: 1
 * and *id set, or 0 when there is none. */
static int latest_at(const struct nmr_java *j, uint64_t start, struct nmr_hfind *f, size_t *id)
{
    *f = nmr_hindex_find(&j->latest, nmc_mix64(start));
    while (nmr_hfind_next(f, id))
        if (j->code[*id].start == start)
            return 1;
    return 0;
}

/* Remembers that code[idx] is the latest method load at its start. 0 or -ENOMEM. */
static int latest_set(struct nmr_java *j, uint64_t start, size_t idx)
{
    struct nmr_hfind f;
    size_t id;
    if (latest_at(j, start, &f, &id)) {
        nmr_hindex_replace(&j->latest, &f, idx);
        return 0;
    }
    return nmr_hindex_add(&j->latest, nmc_mix64(start), idx);
}

/* A bounds-checked cursor over a payload. */
struct rd {
    const uint8_t *p;
    size_t left;
    int bad;
};

static uint32_t rd_u32(struct rd *r)
{
    if (r->bad || r->left < 4) {
        r->bad = 1;
        return 0;
    }
    uint32_t v = (uint32_t)r->p[0] | (uint32_t)r->p[1] << 8 | (uint32_t)r->p[2] << 16 |
                 (uint32_t)r->p[3] << 24;
    r->p += 4;
    r->left -= 4;
    return v;
}

static uint64_t rd_u64(struct rd *r)
{
    uint64_t lo = rd_u32(r);
    return lo | (uint64_t)rd_u32(r) << 32;
}

/* Returns the bytes of a str field (not NUL-terminated) and its length. */
static const char *rd_str(struct rd *r, uint32_t *len)
{
    *len = rd_u32(r);
    if (r->bad || r->left < *len) {
        r->bad = 1;
        *len = 0;
        return NULL;
    }
    const char *s = (const char *)r->p;
    r->p += *len;
    r->left -= *len;
    return s;
}

struct nmr_java *nmr_java_new(void)
{
    return calloc(1, sizeof(struct nmr_java));
}

/* What one code record owns. */
static void code_free(struct code *c)
{
    free(c->name);
    free(c->pcs);
    free(c->pc_first);
    free(c->serials);
    free(c->bcis);
}

void nmr_java_free(struct nmr_java *j)
{
    if (!j)
        return;
    for (size_t i = 0; i < j->nmethods_cap; i++)
        free(j->methods[i]);
    free(j->methods);
    for (size_t i = 0; i < j->ncode; i++)
        code_free(&j->code[i]);
    free(j->code);
    free(j->order);
    nmr_hindex_free(&j->latest);
    free(j);
}

/* Copies s[0..n) into *dst (NUL-terminated) at *at, turning JVM class
 * signatures ("Ljava/lang/String;") into Java names when dotted is set. */
static char *put_str(char **at, const char *s, uint32_t n, int dotted)
{
    char *d = *at;
    if (dotted && n >= 2 && s[0] == 'L' && s[n - 1] == ';') {
        s++;
        n -= 2;
    }
    for (uint32_t i = 0; i < n; i++)
        d[i] = dotted && s[i] == '/' ? '.' : s[i];
    d[n] = 0;
    *at += n + 1;
    return d;
}

static int cmp_line(const void *a, const void *b)
{
    const struct nmr_java_line *x = a, *y = b;
    return x->bci < y->bci ? -1 : x->bci > y->bci;
}

static int add_method(struct nmr_java *j, struct rd *r)
{
    struct nmr_java_method m = {0};
    uint32_t lc, ln, ls, lf;
    m.serial = rd_u32(r);
    m.status = rd_u32(r);
    m.method_id = rd_u64(r);
    m.modifiers = rd_u32(r);
    const char *c = rd_str(r, &lc), *n = rd_str(r, &ln), *s = rd_str(r, &ls), *f = rd_str(r, &lf);
    m.nlines = rd_u32(r);
    if (r->bad || m.serial == 0 || m.serial >= MAX_SERIAL || r->left / 8 < m.nlines)
        return -EINVAL;
    size_t size =
        sizeof(m) + (size_t)m.nlines * sizeof(struct nmr_java_line) + lc + ln + ls + lf + 4;
    struct nmr_java_method *dst = malloc(size);
    if (!dst)
        return -ENOMEM;
    struct nmr_java_line *lines = (struct nmr_java_line *)(dst + 1);
    for (uint32_t i = 0; i < m.nlines; i++) {
        lines[i].bci = rd_u32(r);
        lines[i].line = rd_u32(r);
    }
    qsort(lines, m.nlines, sizeof(*lines), cmp_line);
    char *at = (char *)(lines + m.nlines);
    /* An unnamed method (status != 0) carries empty strings: keep NULLs. */
    int named = m.status == 0 && ln > 0;
    m.class_name = named ? put_str(&at, c, lc, 1) : NULL;
    m.name = named ? put_str(&at, n, ln, 0) : NULL;
    m.signature = named ? put_str(&at, s, ls, 0) : NULL;
    m.source_file = named && lf ? put_str(&at, f, lf, 0) : NULL;
    m.lines = lines;
    *dst = m;
    if (m.serial >= j->nmethods_cap) {
        size_t cap = j->nmethods_cap ? j->nmethods_cap : 1024;
        while (cap <= m.serial)
            cap *= 2;
        struct nmr_java_method **t = realloc(j->methods, cap * sizeof(*t));
        if (!t) {
            free(dst);
            return -ENOMEM;
        }
        memset(t + j->nmethods_cap, 0, (cap - j->nmethods_cap) * sizeof(*t));
        j->methods = t;
        j->nmethods_cap = cap;
    }
    if (j->methods[m.serial])
        free(j->methods[m.serial]);
    else
        j->nmethods++;
    j->methods[m.serial] = dst;
    return 0;
}

/* A code record's pc table: for each of c->npcs pcs, its frames (method
 * serial, bci). Sizes are checked in a first pass, so a short record is
 * refused before anything is allocated for its frames. */
static int read_pcs(struct code *c, struct rd *r)
{
    c->pcs = malloc(c->npcs * sizeof(*c->pcs));
    c->pc_first = malloc((c->npcs + 1) * sizeof(*c->pc_first));
    size_t total = 0;
    struct rd scan = *r; /* first pass: sizes */
    for (uint32_t i = 0; i < c->npcs && !scan.bad; i++) {
        rd_u64(&scan);
        uint32_t nf = rd_u32(&scan);
        if (scan.left / 8 < nf)
            scan.bad = 1;
        else {
            scan.p += (size_t)nf * 8;
            scan.left -= (size_t)nf * 8;
            total += nf;
        }
    }
    if (scan.bad)
        return -EINVAL;
    c->serials = malloc((total + 1) * sizeof(uint32_t));
    c->bcis = malloc((total + 1) * sizeof(uint32_t));
    if (!c->pcs || !c->pc_first || !c->serials || !c->bcis)
        return -ENOMEM;
    uint32_t k = 0;
    for (uint32_t i = 0; i < c->npcs; i++) {
        c->pcs[i] = rd_u64(r);
        uint32_t nf = rd_u32(r);
        c->pc_first[i] = k;
        for (uint32_t f = 0; f < nf; f++) {
            c->serials[k] = rd_u32(r);
            c->bcis[k++] = rd_u32(r);
        }
    }
    c->pc_first[c->npcs] = k;
    return 0;
}

/* Appends c to j->code (and, for a method, makes it the latest at its
 * address); 0 or -ENOMEM, c not taken then. */
static int append_code(struct nmr_java *j, const struct code *c)
{
    if (j->ncode == j->code_cap) {
        size_t cap = j->code_cap ? j->code_cap * 2 : 1024;
        struct code *t = realloc(j->code, cap * sizeof(*t));
        if (!t)
            return -ENOMEM;
        j->code = t;
        j->code_cap = cap;
    }
    if (c->is_method && latest_set(j, c->start, j->ncode) != 0)
        return -ENOMEM;
    j->code[j->ncode++] = *c;
    if (c->size > j->max_size)
        j->max_size = c->size;
    return 0;
}

static int add_code(struct nmr_java *j, struct rd *r)
{
    struct code c = {0};
    uint32_t kind = rd_u32(r);
    c.t_load = rd_u64(r);
    c.start = rd_u64(r);
    c.size = rd_u64(r);
    c.serial = rd_u32(r);
    uint32_t lname;
    const char *name = rd_str(r, &lname);
    c.npcs = rd_u32(r);
    if (r->bad || kind < JCODE_LOAD || kind > JCODE_DYNAMIC || r->left / 12 < c.npcs)
        return -EINVAL;
    c.t_unload = UINT64_MAX;
    if (kind == JCODE_UNLOAD) {
        /* Ends the latest load of a compiled method at that address. */
        struct nmr_hfind f;
        size_t id;
        if (latest_at(j, c.start, &f, &id) && j->code[id].t_unload == UINT64_MAX)
            j->code[id].t_unload = c.t_load;
        return 0;
    }
    c.is_method = kind == JCODE_LOAD;
    if (!c.is_method) {
        c.name = malloc((size_t)lname + 1);
        if (!c.name)
            return -ENOMEM;
        char *at = c.name;
        put_str(&at, name, lname, 0);
    }
    int rc = c.npcs ? read_pcs(&c, r) : 0;
    if (!rc)
        rc = append_code(j, &c);
    if (rc)
        code_free(&c);
    return rc;
}

int nmr_java_add(struct nmr_java *j, uint16_t type, const uint8_t *payload, uint32_t len)
{
    struct rd r = {payload, len, 0};
    if (type == NMT_REC_JMETHOD)
        return add_method(j, &r);
    if (type == NMT_REC_JCODE)
        return add_code(j, &r);
    return 0;
}

int nmr_java_from_profile(const struct nmr_profile *p, struct nmr_java **out)
{
    *out = NULL;
    struct nmr_java *j = nmr_java_new();
    if (!j)
        return -ENOMEM;
    for (size_t i = 0; i < p->njava_records; i++) {
        const struct nmr_raw_record *rec = &p->java_records[i];
        int e = nmr_java_add(j, rec->type, rec->payload, rec->length);
        if (e == -ENOMEM) {
            nmr_java_free(j);
            return e;
        }
        /* A malformed Java record loses its names, not the report. */
    }
    *out = j;
    return 0;
}

const struct nmr_java_method *nmr_java_method(const struct nmr_java *j, uint32_t serial)
{
    return j && serial < j->nmethods_cap ? j->methods[serial] : NULL;
}

uint32_t nmr_java_line_of(const struct nmr_java_method *m, uint32_t bci)
{
    if (!m || bci == NMT_FRAME_BCI_NONE)
        return 0;
    uint32_t line = 0;
    size_t lo = 0, hi = m->nlines;
    while (lo < hi) { /* last entry with bci <= the one asked */
        size_t mid = (lo + hi) / 2;
        if (m->lines[mid].bci <= bci) {
            line = m->lines[mid].line;
            lo = mid + 1;
        } else {
            hi = mid;
        }
    }
    return line;
}

int nmr_java_method_name(const struct nmr_java *j, uint32_t serial, uint32_t bci, char *buf,
                         size_t len)
{
    const struct nmr_java_method *m = nmr_java_method(j, serial);
    if (!m || !m->name) {
        if (bci == NMT_FRAME_BCI_NONE)
            return snprintf(buf, len, "java:%u", serial);
        return snprintf(buf, len, "java:%u@%u", serial, bci);
    }
    uint32_t line = nmr_java_line_of(m, bci);
    if (m->modifiers & 0x100)
        return snprintf(buf, len, "%s.%s(Native Method)", m->class_name, m->name);
    if (!m->source_file)
        return snprintf(buf, len, "%s.%s(Unknown Source)", m->class_name, m->name);
    if (!line)
        return snprintf(buf, len, "%s.%s(%s)", m->class_name, m->name, m->source_file);
    return snprintf(buf, len, "%s.%s(%s:%u)", m->class_name, m->name, m->source_file, line);
}

int nmr_java_frame_name(const struct nmr_java *j, uint64_t frame, char *buf, size_t len)
{
    if (!(frame & NMT_FRAME_JAVA))
        return -1;
    uint32_t serial = (uint32_t)(frame & NMT_FRAME_METHOD_MASK);
    uint32_t bci = (uint32_t)((frame >> NMT_FRAME_BCI_SHIFT) & NMT_FRAME_BCI_MASK);
    return nmr_java_method_name(j, serial, bci, buf, len);
}

static const struct nmr_java *sort_ctx;
static int cmp_start(const void *a, const void *b)
{
    const struct code *x = &sort_ctx->code[*(const size_t *)a];
    const struct code *y = &sort_ctx->code[*(const size_t *)b];
    if (x->start != y->start)
        return x->start < y->start ? -1 : 1;
    return *(const size_t *)a < *(const size_t *)b ? -1 : 1;
}

/* Rebuilds the by-start index after records were added. 0 or -ENOMEM. */
static int index_code(struct nmr_java *j)
{
    if (j->norder == j->ncode)
        return 0;
    size_t *o = realloc(j->order, (j->ncode + 1) * sizeof(*o));
    if (!o)
        return -ENOMEM;
    for (size_t i = 0; i < j->ncode; i++)
        o[i] = i;
    sort_ctx = j;
    qsort(o, j->ncode, sizeof(*o), cmp_start);
    j->order = o;
    j->norder = j->ncode;
    return 0;
}

int nmr_java_code_at(const struct nmr_java *cj, uint64_t addr, uint64_t t_ns,
                     struct nmr_java_code *out)
{
    struct nmr_java *j = (struct nmr_java *)cj; /* the index is a cache */
    if (!j || index_code(j) != 0 || !j->norder)
        return 0;
    size_t lo = 0, hi = j->norder; /* first entry with start > addr */
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        if (j->code[j->order[mid]].start <= addr)
            lo = mid + 1;
        else
            hi = mid;
    }
    const struct code *best = NULL;
    for (size_t i = lo; i-- > 0;) {
        const struct code *c = &j->code[j->order[i]];
        if (addr - c->start >= j->max_size)
            break; /* no blob starting this low reaches addr */
        if (addr - c->start >= c->size || c->t_load > t_ns || t_ns >= c->t_unload)
            continue;
        if (!best || c->t_load > best->t_load)
            best = c;
    }
    if (!best)
        return 0;
    memset(out, 0, sizeof(*out));
    out->is_method = best->is_method;
    out->serial = best->serial;
    out->name = best->name;
    out->start = best->start;
    out->size = best->size;
    out->load_ns = best->t_load;
    /* The PcDesc of a return address is the first one at or after it. */
    size_t plo = 0, phi = best->npcs;
    while (plo < phi) {
        size_t mid = (plo + phi) / 2;
        if (best->pcs[mid] < addr)
            plo = mid + 1;
        else
            phi = mid;
    }
    if (plo < best->npcs) {
        out->nframes = best->pc_first[plo + 1] - best->pc_first[plo];
        out->serials = best->serials + best->pc_first[plo];
        out->bcis = best->bcis + best->pc_first[plo];
    }
    return 1;
}

int nmr_java_code_name(const struct nmr_java *j, uint64_t addr, uint64_t t_ns, char *buf,
                       size_t len)
{
    struct nmr_java_code c;
    if (!nmr_java_code_at(j, addr, t_ns, &c))
        return -1;
    if (!c.is_method) {
        snprintf(buf, len, "%s", c.name && *c.name ? c.name : "[jvm code]");
        return NMR_CLS_JIT;
    }
    if (c.nframes)
        nmr_java_method_name(j, c.serials[0], c.bcis[0], buf, len);
    else
        nmr_java_method_name(j, c.serial, (uint32_t)NMT_FRAME_BCI_NONE, buf, len);
    return NMR_CLS_JAVA;
}

void nmr_java_counts(const struct nmr_java *j, size_t *methods, size_t *unnamed, size_t *code)
{
    size_t un = 0;
    for (size_t i = 0; i < j->nmethods_cap; i++)
        if (j->methods[i] && !j->methods[i]->name)
            un++;
    *methods = j->nmethods;
    *unnamed = un;
    *code = j->ncode;
}

/* nmr_internal.h's hook for the reader: fills p->jmethods (sorted by serial,
 * malloc'd: nmr_profile_free frees the array; strings in the profile's
 * arena) with the named methods. Unnamed ones are left out so views fall
 * back to `java:<serial>@<bci>`. Malformed Java records are skipped. */
int nmr__java_decode(struct nmr_profile *p)
{
    struct nmr_java *j;
    int e = nmr_java_from_profile(p, &j);
    if (e)
        return e;
    p->jmethods = NULL;
    p->njmethods = 0;
    if (j->nmethods) {
        p->jmethods = calloc(j->nmethods, sizeof(*p->jmethods));
        if (!p->jmethods) {
            nmr_java_free(j);
            return -ENOMEM;
        }
    }
    for (size_t s = 0; s < j->nmethods_cap; s++) {
        const struct nmr_java_method *m = j->methods[s];
        if (!m || !m->name)
            continue;
        struct nmr_jmethod *d = &p->jmethods[p->njmethods++];
        d->serial = m->serial;
#define DUP(f) (m->f ? nmr__arena_strndup(p->arena, m->f, strlen(m->f)) : NULL)
        d->class_name = DUP(class_name);
        d->name = DUP(name);
        d->signature = DUP(signature);
        d->source_file = DUP(source_file);
#undef DUP
        if (!d->class_name || !d->name || !d->signature || (m->source_file && !d->source_file)) {
            nmr_java_free(j);
            return -ENOMEM;
        }
    }
    nmr_java_free(j);
    return 0;
}
