/*
 * nmt_attach.c: recording in a live process (nmt_attach.h).
 *
 * libnmtrace.so loaded by a running JVM (Agent_OnAttach, from `nmtrace
 * attach` or `jcmd JVMTI.agent_load`) finds that its malloc is not the one
 * the process calls: its constructor then only prepares and waits. An attach
 * takes the allocator the process really uses (the first malloc in the
 * global scope: glibc, or a preloaded jemalloc) as the "real" functions,
 * starts a fresh writer and profile, seeds the mmap model with what
 * /proc/self/maps shows (one "mapped before attach" stack owns it), starts
 * the JVM bridge, and only then rewrites the GOT entries (nmt_got.c). Blocks
 * allocated before are unknown: the address filter never matches them, so
 * their frees are not looked at.
 *
 * The dlclose entries are rewritten too, so that stacks are taken by the
 * fast unwinder as under LD_PRELOAD (nmt_got.c, nmt__attach_unloads_seen).
 *
 * A detach turns recording off, waits until no thread is inside the
 * sampled path (nmt__attach_hold), puts the GOT entries back, takes the
 * final snapshot, and gives back
 * the writer's tables and the rings' pages. Ring slots stay mapped and owned
 * by their threads (a thread keeps its slot pointer in TLS we cannot reach),
 * which is what makes a later attach safe. A thread still running a hook's
 * fast path after the restore only calls the real function.
 */
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include "nmc_parse.h"
#include "nmc_vars.h"
#include "nmt_attach.h"
#include "nmt_cfi.h"
#include "nmt_got.h"
#include "nmt_internal.h"
#include "nmt_os.h"
#include "nmt_writer.h"

static int attached;
static pthread_mutex_t run_lock = PTHREAD_MUTEX_INITIALIZER;
static int globals_resolved;

enum { ATT_OK = 0, ATT_BAD_OPTION = 2, ATT_PRELOADED, ATT_ALREADY, ATT_NOT_ATTACHED, ATT_FAILED };

/* The stack that owns what was mapped before the attach: one frame, this
 * function, so reports name it. */
__attribute__((visibility("default"), noinline)) void nmtrace_mapped_before_attach(void)
{
    __asm__ volatile("");
}

static int same_object(const void *a, const void *b, Dl_info *ia)
{
    Dl_info ib;
    return dladdr(a, ia) && dladdr(b, &ib) && ia->dli_fbase == ib.dli_fbase;
}

int nmt__attach_loaded_late(void)
{
    Dl_info info;
    void *g = dlsym(RTLD_DEFAULT, "malloc");
    return g != NULL && !same_object(g, (void *)nmt__attach_loaded_late, &info);
}

/* ---- options and the answer ---- */

struct att_opts {
    char output[512], status[512];
    uint64_t rate;
    uint32_t interval, depth;
    int rate_set, interval_set, interval_auto, depth_set, detach;
};

/* v, checked as the variable var would be (common/nmc_vars.c): a session's
 * rate, interval and depth take what NMTRACE_RATE, NMTRACE_INTERVAL and
 * NMTRACE_DEPTH take, as nmtrace attach checks them before it asks. */
static int var_value(const char *var, const char *v, uint64_t *out)
{
    char why[200];
    return v != NULL ? nmc_var_parse(nmc_var_find(var), v, out, why, sizeof(why)) : -1;
}

static int parse_one(struct att_opts *o, const char *k, const char *v)
{
    uint64_t n;
    if (strcmp(k, "detach") == 0 && v == NULL)
        o->detach = 1;
    else if (strcmp(k, "output") == 0 && v && strlen(v) < sizeof(o->output))
        strcpy(o->output, v);
    else if (strcmp(k, "status") == 0 && v && strlen(v) < sizeof(o->status))
        strcpy(o->status, v);
    else if (strcmp(k, "via") == 0 && v && strlen(v) < sizeof(nmt__attach_info.via))
        strcpy(nmt__attach_info.via, v);
    else if (strcmp(k, "rate") == 0 && var_value("NMTRACE_RATE", v, &n) == 0)
        o->rate = n, o->rate_set = 1;
    else if (strcmp(k, "interval") == 0 && var_value("NMTRACE_INTERVAL", v, &n) == 0)
        o->interval_auto = n == NMC_WORD(0), o->interval = o->interval_auto ? 0 : (uint32_t)n,
        o->interval_set = 1;
    else if (strcmp(k, "depth") == 0 && var_value("NMTRACE_DEPTH", v, &n) == 0)
        o->depth = (uint32_t)n, o->depth_set = 1;
    else
        return -1;
    return 0;
}

/* "key=value,key,..." into o; the first bad item is copied to bad. */
static int parse_opts(const char *s, struct att_opts *o, char *bad, size_t n)
{
    memset(o, 0, sizeof(*o));
    strcpy(nmt__attach_info.via, "jcmd");
    char buf[2048];
    if (s == NULL)
        return 0;
    snprintf(buf, sizeof(buf), "%s", s);
    for (char *save = NULL, *item = strtok_r(buf, ",", &save); item;
         item = strtok_r(NULL, ",", &save)) {
        /* "key:value" too: jcmd takes key=value as its own option syntax. */
        char *eq = item + strcspn(item, "=:"), sep = *eq;
        eq = *eq ? eq : NULL;
        if (eq)
            *eq = '\0';
        if (parse_one(o, item, eq ? eq + 1 : NULL) != 0) {
            if (eq)
                *eq = sep; /* the whole item: "depth=0" says what was wrong */
            snprintf(bad, n, "%s", item);
            return -1;
        }
    }
    return 0;
}

/* The answer for the client (its status file): one line, and after "ok"
 * maybe a warning line. Without a status file (jcmd, which prints only the
 * return code) a refusal or the warning is said on stderr, where the bridge
 * says its own warnings; the "ok" itself is not. */
static void answer(const struct att_opts *o, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static void answer(const struct att_opts *o, const char *fmt, ...)
{
    char line[1200];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof(line) - 1, fmt, ap);
    va_end(ap);
    int fd = o->status[0] ? open(o->status, O_WRONLY | O_TRUNC | O_NOFOLLOW | O_CLOEXEC) : -1;
    if (fd < 0) {
        const char *warning = strstr(line, "\nwarning ");
        if (strncmp(line, "ok ", 3) != 0)
            nmt__say("nmtrace attach: %s", line);
        else if (warning)
            nmt__say("nmtrace attach: %s", warning + strlen("\nwarning "));
        return;
    }
    size_t len = strlen(line);
    line[len++] = '\n';
    ssize_t k = write(fd, line, len);
    (void)k;
    close(fd);
}

/* Where a recorder preloaded into this process writes, as best known: its
 * file, or (before its first snapshot) its pattern with %p filled in. */
static const char *preloaded_path(char *buf, size_t n)
{
    if (nmt__w.path[0])
        return nmt__w.path;
    const char *pat = nmt__cfg.output, *p = strstr(pat, "%p");
    if (p == NULL)
        return pat;
    snprintf(buf, n, "%.*s%d%s", (int)(p - pat), pat, (int)getpid(), p + 2);
    return buf;
}

/* ---- start ---- */

#define GLOBAL(name) *(void **)&r.name = dlsym(RTLD_DEFAULT, #name)

/* The allocator the process calls, from the global scope: the functions
 * the patched entries held (dlsym(RTLD_NEXT) from a late-loaded library
 * would find glibc's even when jemalloc is preloaded). */
static int resolve_global(void)
{
    struct nmt_real r;
    memset(&r, 0, sizeof(r));
    GLOBAL(malloc), GLOBAL(free), GLOBAL(calloc), GLOBAL(realloc), GLOBAL(posix_memalign);
    GLOBAL(aligned_alloc), GLOBAL(memalign), GLOBAL(valloc), GLOBAL(pvalloc);
    GLOBAL(malloc_usable_size), GLOBAL(mmap), GLOBAL(munmap), GLOBAL(mremap), GLOBAL(mprotect);
    if (!r.malloc || !r.free || !r.calloc || !r.realloc || !r.mmap || !r.munmap || !r.mremap ||
        !r.mprotect || !r.memalign || !r.posix_memalign)
        return -ENOSYS;
    nmt__real = r;
    return 0;
}

/* Empties every ring (no producer is inside one) and drops its pages. */
static void reset_rings(void)
{
    uintptr_t pg = (uintptr_t)sysconf(_SC_PAGESIZE);
    for (struct nmt_thread *s = atomic_load(&nmt__threads); s; s = s->next) {
        nmt_ring_init(s->ring, s->ring->cap);
        atomic_store(&s->drops, 0);
        atomic_store(&s->drop_bytes, 0);
        atomic_store(&s->free_drops, 0);
        uintptr_t lo = ((uintptr_t)s->ring->data + pg - 1) & ~(pg - 1);
        uintptr_t hi = ((uintptr_t)s->ring->data + s->ring->cap) & ~(pg - 1);
        if (hi > lo)
            madvise((void *)lo, hi - lo, MADV_DONTNEED);
    }
}

/* A new profile counts its losses from 0; the rings' sizes stay. */
static void reset_counters(void)
{
    uint64_t small = atomic_load(&nmt__ctr.small_rings);
    memset(&nmt__ctr, 0, sizeof(nmt__ctr));
    atomic_store(&nmt__ctr.small_rings, small);
}

/* What seeds the mmap model: its owner stack. */
struct seed {
    struct nmt_writer *w;
    uint32_t id;
};

static int seed_one(void *ctx, const struct nmt_maps_line *m)
{
    const struct seed *s = ctx;
    int prot = (m->perms & NMT_MAP_R ? PROT_READ : 0) | (m->perms & NMT_MAP_W ? PROT_WRITE : 0) |
               (m->perms & NMT_MAP_X ? PROT_EXEC : 0);
    int flags = m->perms & NMT_MAP_SHARED ? MAP_SHARED : MAP_PRIVATE;
    if (m->inode == 0)
        flags |= MAP_ANONYMOUS;
    if (nmt_mm_map(&s->w->mm, m->lo, m->hi - m->lo, prot, flags, s->id) != 0)
        nmt__ctr.internal_errors++;
    return 0;
}

/* The mmap model's baseline: every mapping the process has now, owned by
 * the "mapped before attach" stack. The attaching thread is here, not the
 * writer: the line buffer is its own. */
static void seed_mmap_model(struct nmt_writer *w)
{
    uint64_t frame = (uint64_t)(uintptr_t)nmtrace_mapped_before_attach;
    int is_new;
    struct seed s = {.w = w, .id = nmt_stacktab_intern(&w->stacks, &frame, 1, &is_new)};
    char *buf = s.id != 0 ? malloc(NMT_MAPS_BUF) : NULL;
    if (buf == NULL)
        return;
    int err = nmt__os_maps_walk("/proc/self/maps", buf, NMT_MAPS_BUF, seed_one, &s);
    free(buf);
    if (err != 0)
        return;
    nmt__attach_info.base_reserved = nmt_mm_reserved(&w->mm);
    nmt__attach_info.base_committed = nmt_mm_committed(&w->mm);
}

/* The process's own configuration (its NMTRACE_* environment, or the
 * defaults), as it was before the first attach changed it. */
static struct nmt_config loaded_cfg;
static int loaded_kept;

/* Back to the process's own configuration, where an attach's options are
 * applied: what one attach set does not carry over into the next, which
 * gets the default output, rate, interval and depth unless it says
 * otherwise. */
static void restore_loaded(void)
{
    if (!loaded_kept) {
        loaded_cfg = nmt__cfg;
        loaded_kept = 1;
    }
    memcpy(nmt__cfg.output, loaded_cfg.output, sizeof(nmt__cfg.output));
    nmt__cfg.rate = loaded_cfg.rate;
    nmt__cfg.interval = loaded_cfg.interval;
    nmt__cfg.interval_auto = loaded_cfg.interval_auto;
    nmt__cfg.depth = loaded_cfg.depth;
    nmt__cfg.quiet = loaded_cfg.quiet;
}

static void apply_opts(const struct att_opts *o)
{
    restore_loaded();
    if (o->output[0])
        snprintf(nmt__cfg.output, sizeof(nmt__cfg.output), "%s", o->output);
    if (o->rate_set)
        nmt__cfg.rate = o->rate;
    if (o->interval_set) {
        nmt__cfg.interval = o->interval;
        nmt__cfg.interval_auto = o->interval_auto;
    }
    /* Read by each sample (native frames, and the bridge's Java frames) and
     * written into this session's header and INFO: nothing samples until
     * the state is NMT_ON, and the frame buffers hold NMC_DEPTH_MAX. */
    if (o->depth_set)
        nmt__cfg.depth = o->depth;
    if (o->status[0])
        nmt__cfg.quiet = 1; /* the client says what there is to say */
    nmt__cfg.java = 1;
    nmt__rate_mode(nmt__cfg.rate);
}

/* A fresh writer, tables and profile file. 0 or -errno. */
static int new_session(void)
{
    memset(&nmt__w, 0, sizeof(nmt__w));
    memset(&nmt__bell, 0, sizeof(nmt__bell));
    nmt__tables_reset();
    reset_rings();
    reset_counters();
    nmt__start_realtime = nmt__attach_info.at_ns = nmt__clock_ns(CLOCK_REALTIME);
    nmt__start_monotonic = nmt__clock_ns(CLOCK_MONOTONIC);
    if (nmt__writer_init_tables(&nmt__w) != 0)
        return -ENOMEM;
    seed_mmap_model(&nmt__w);
    return 0;
}

static void release_session(void)
{
    struct nmt_writer *w = &nmt__w;
    if (w->tables_ok) {
        nmt_stacktab_destroy(&w->stacks);
        nmt_livetab_destroy(&w->live);
        nmt_mm_destroy(&w->mm);
        w->tables_ok = 0;
    }
    free(w->held);
    w->held = NULL;
    w->held_n = w->held_cap = 0;
    reset_rings();
    nmt__tables_reset();
}

static int discard(void *ctx, uint16_t type, const void *payload, uint32_t len)
{
    (void)ctx, (void)type, (void)payload, (void)len;
    return 0;
}

/* Stops what start_recording started, in reverse, once no hook is in: the
 * GOT entries are put back only then, so that no thread is still reading
 * call-frame tables (nmt_cfi_usable()) when dlclose stops being ours.
 * Returns the bridge's line for the user, or NULL. */
static const char *stop_recording(nmt_attach_bridge_fn bridge, void *ctx)
{
    int quiet = nmt__attach_stop_begin();
    const char *note = NULL;
    atomic_store(&nmt__attach_unloads_seen, 0);
    nmt__got_restore();
    nmt__writer_stop();
    if (bridge)
        note = bridge(ctx, 0);
    if (nmt_jvm_flush != NULL)
        nmt_jvm_flush(discard, NULL);
    if (quiet)
        release_session();
    nmt__attach_stop_end();
    return note;
}

/* "ok PATH", and the bridge's line for the user as "warning LINE". */
static void answer_ok(const struct att_opts *o, const char *note)
{
    answer(o, "ok %s%s%s", nmt__w.path, note ? "\nwarning " : "", note ? note : "");
}

static int first_attach(void)
{
    if (globals_resolved)
        return 0;
    if (resolve_global() != 0)
        return -ENOSYS;
    globals_resolved = 1;
    return 0;
}

/* The profile file, created now so its path can be answered at once. */
static int create_profile(void)
{
    nmt__snapshot_side_records(&nmt__w);
    return nmt__w.file_failed || !nmt__w.path[0] ? -EIO : 0;
}

static int start_recording(const struct att_opts *o, nmt_attach_bridge_fn bridge, void *ctx)
{
    if (!nmt__attach_quiet()) {
        /* The last detach gave up waiting for it: its ring is not ours to reset. */
        answer(o, "error a thread is still inside the recorder since the last detach; try again");
        return ATT_FAILED;
    }
    if (first_attach() != 0) {
        answer(o, "error cannot find the process's allocator functions");
        return ATT_FAILED;
    }
    apply_opts(o);
    int err = new_session();
    const char *note = NULL;
    /* The JVM bridge's records queued since the last detach belong to no
     * profile: a start that waited for the JVM and completed between
     * sessions replayed the JVM's code then, and the bridge replays it
     * again now for this profile. */
    if (nmt_jvm_flush != NULL)
        nmt_jvm_flush(discard, NULL);
    if (err == 0 && bridge)
        note = bridge(ctx, 1);
    if (err != 0 || create_profile() != 0) {
        answer(o, "error cannot create the profile %s", nmt__cfg.output);
        release_session();
        return ATT_FAILED;
    }
    /* Set before the writer thread exists (pthread_create orders it): the
     * writer decides at each sleep whether to keep its tick, which hooks
     * libraries loaded from now on (nmt__got_refresh). Seen unset there, a
     * writer whose JVM bridge has settled sleeps with no timeout, wakes
     * only when a ring passes half full, and may first look at the link
     * map at the detach, after the restore. Nothing samples before the
     * state is NMT_ON below. */
    nmt__attach_mode = 1;
    if ((err = nmt__writer_start()) != 0) {
        answer(o, "error cannot start the writer thread: %s", strerror(-err));
        release_session();
        return ATT_FAILED;
    }
    nmt__attach_session++;
    atomic_store(&nmt__state, NMT_ON);
    if ((err = nmt__got_install()) <= 0) {
        stop_recording(bridge, ctx);
        answer(o, "error no allocation call to redirect (%s)", err ? strerror(-err) : "none found");
        return ATT_FAILED;
    }
    /* Unloads since an earlier session went unseen: the object list starts
     * afresh, and call-frame tables are read from here on only if every
     * dlclose entry is now ours. */
    nmt_cfi_forget();
    nmt__got_unloads_start();
    attached = 1;
    answer_ok(o, note);
    return ATT_OK;
}

static int refuse_start(const struct att_opts *o)
{
    Dl_info info;
    char buf[600];
    void *g = dlsym(RTLD_DEFAULT, "malloc");
    if (!nmt__attach_dormant) {
        answer(o, "error already recording to %s (started with LD_PRELOAD)",
               preloaded_path(buf, sizeof(buf)));
        return ATT_PRELOADED;
    }
    if (g && dladdr(g, &info) && info.dli_fname && strstr(info.dli_fname, "libnmtrace")) {
        const char *env = getenv("NMTRACE_OUTPUT");
        answer(o, "error already recording to %s (%s is preloaded)",
               env && *env ? env : "nmtrace.<pid>.nmt", info.dli_fname);
        return ATT_PRELOADED;
    }
    if (attached) {
        answer(o, "error already attached, recording to %s", nmt__w.path);
        return ATT_ALREADY;
    }
    return ATT_OK;
}

int nmt__attach_run(const char *options, nmt_attach_bridge_fn bridge, void *ctx)
{
    struct att_opts o;
    char bad[256];
    if (parse_opts(options, &o, bad, sizeof(bad)) != 0) {
        answer(&o,
               "error bad attach option '%s' "
               "(output=PATH,rate=SIZE,interval=TIME|auto,depth=1..%d,detach; "
               "':' for '=' under jcmd)",
               bad, NMC_DEPTH_MAX);
        return ATT_BAD_OPTION;
    }
    pthread_mutex_lock(&run_lock);
    nmt__tls.guard++;
    int r;
    if (o.detach && !attached) {
        answer(&o, "error not attached: nothing to detach");
        r = nmt__attach_dormant ? ATT_NOT_ATTACHED : ATT_PRELOADED;
    } else if (o.detach) {
        const char *note = stop_recording(bridge, ctx);
        attached = 0;
        answer_ok(&o, note);
        /* Between sessions the agent is as loaded: a jcmd refused after an
         * nmtrace attach (which sets quiet) is said on stderr. */
        restore_loaded();
        r = ATT_OK;
    } else if ((r = refuse_start(&o)) == ATT_OK) {
        r = start_recording(&o, bridge, ctx);
        if (r != ATT_OK)
            restore_loaded(); /* no session: none of its options stay */
    }
    nmt__tls.guard--;
    pthread_mutex_unlock(&run_lock);
    return r;
}
