/*
 * rec_doubles.c: test doubles for what the recorder's core modules call
 * outside themselves (rec_doubles.h says which and why).
 */
#include <dlfcn.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>

#include "../../preload/nmt_os.h"
#include "../../preload/nmt_smaps.h"
#include "nmt_enc.h"
#include "rec_doubles.h"

/* ---- nmt_config.c ---- */
struct nmt_config nmt__cfg;

void nmt__config_describe(void (*add)(void *, const char *, const char *), void *ctx)
{
    add(ctx, "config.RATE", nmt__cfg.rate == 1 ? "1" : "sampled");
}

void rec_setup(uint64_t rate, int unwind_mode)
{
    nmt__cfg.rate = rate;
    nmt__cfg.seed = 1;
    nmt__cfg.seed_set = 1;
    nmt__cfg.unwind_mode = unwind_mode;
    nmt__cfg.unwind_fp = unwind_mode == NMT_UNWIND_FP;
    nmt__cfg.depth = 64;
    nmt__cfg.ring_kib = 64;
    nmt__cfg.java = 0;
    nmt__cfg.quiet = 1;
    snprintf(nmt__cfg.output, sizeof(nmt__cfg.output), "rec.nmt");
    nmt__rate_mode(rate);
    nmt__start_realtime = nmt__clock_ns(CLOCK_REALTIME);
    nmt__start_monotonic = nmt__clock_ns(CLOCK_MONOTONIC);
    atomic_store(&nmt__state, NMT_ON);
}

/* ---- nmt_bootstrap.c and nmt_wheap.c ---- */
struct nmt_real nmt__real = {.mmap = mmap, .munmap = munmap, .mprotect = mprotect};

size_t nmt__boot_used(void)
{
    return 0;
}

void nmt__wheap_after_fork(void) {}

/* No static heaps here to pin. */
void nmt__tables_reset(void)
{
    memset(&nmt__filter, 0, sizeof(nmt__filter));
    memset(&nmt__liveset, 0, sizeof(nmt__liveset));
}

size_t nmt__wheap_in_use(void)
{
    return 0;
}

/* ---- nmt_os.c ---- */
struct rec_file rec_file;

void nmt__say(const char *fmt, ...)
{
    (void)fmt;
}

uint64_t nmt__clock_ns(clockid_t clk)
{
    struct timespec ts;
    clock_gettime(clk, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

int nmt__os_maps(struct nmt_enc *b)
{
    static const unsigned char bid[4] = {0xde, 0xad, 0xbe, 0xef};
    const struct nmt_map_entry m[2] = {
        {REC_MAP0_START, REC_MAP0_START + 0x1000, 0, 7, NMT_MAP_R | NMT_MAP_X, 0x801, REC_EXE, bid,
         sizeof(bid)},
        {REC_MAP1_START, REC_MAP1_START + 0x21000, 0, 0, NMT_MAP_R | NMT_MAP_W, 0, NULL, NULL, 0},
    };
    nmt_enc_u32(b, 2);
    nmt_enc_map(b, &m[0]);
    nmt_enc_map(b, &m[1]);
    return 0;
}

/* Residency needs /proc/<tid>/smaps: the tests' snapshots have no SMAPS
 * record, which readers take as absent. */
uint64_t nmt__smaps_skipped, nmt__smaps_ns, nmt__smaps_scanned;
int nmt__smaps_encode(struct nmt_enc *b, const struct nmt_mm *mm, int final)
{
    (void)b, (void)mm, (void) final;
    return 0;
}

void nmt__os_counters(nmt_counter_fn add, void *ctx)
{
    add(ctx, "proc.rss", 1 << 20);
}

void nmt__os_identity(struct nmt_enc *b)
{
    static const char cmd[] = "prog\0arg\0";
    nmt_enc_cstr(b, REC_EXE);
    nmt_enc_str(b, cmd, sizeof(cmd) - 1);
    nmt_enc_cstr(b, "rechost");
}

void nmt__os_jvm_info(void (*add)(void *, const char *, const char *), void *ctx)
{
    (void)add, (void)ctx;
}

int nmt__os_only_caller_left(void)
{
    return 0;
}

/* The units run unconfined: libunwind is used. */
int nmt__os_seccomp_filtered(void)
{
    return 0;
}

static void file_add(const void *p, size_t n)
{
    unsigned char *d = realloc(rec_file.data, rec_file.len + n);
    if (d == NULL)
        abort();
    memcpy(d + rec_file.len, p, n);
    rec_file.data = d;
    rec_file.len += n;
}

int nmt__os_create_output(char *path, size_t size, struct nmt_fileid *id, const void *data,
                          size_t n, int *write_err)
{
    snprintf(path, size, "%s", nmt__cfg.output);
    id->dev = 1;
    id->ino = 2;
    *write_err = 0;
    rec_file.creates++;
    file_add(data, n);
    return 0;
}

int nmt__os_append(const char *path, const struct nmt_fileid *id, const void *p, size_t n,
                   int *damaged)
{
    (void)path, (void)id;
    *damaged = 0;
    if (rec_file.fail_appends > 0) {
        rec_file.fail_appends--;
        return -ENOSPC;
    }
    rec_file.appends++;
    file_add(p, n);
    return 0;
}

/* ---- slots and frames ---- */
unsigned rec_slots(void)
{
    unsigned n = 0;
    for (struct nmt_thread *s = atomic_load(&nmt__threads); s; s = s->next)
        n++;
    return n;
}

int rec_frame_is(uint64_t frame, int index, const char *func)
{
    Dl_info info;
    /* Frames after the first are return addresses: the call is before them. */
    void *at = (void *)(uintptr_t)(index == 0 ? frame : frame - 1);
    return dladdr(at, &info) != 0 && info.dli_sname != NULL && strcmp(info.dli_sname, func) == 0;
}

int rec_find_chain(const uint64_t *frames, uint32_t n, const char *const *names, int k)
{
    for (uint32_t i = 0; i + (uint32_t)k <= n; i++) {
        int j = 0;
        while (j < k && rec_frame_is(frames[i + j], (int)(i + j), names[j]))
            j++;
        if (j == k)
            return (int)i;
    }
    return -1;
}
