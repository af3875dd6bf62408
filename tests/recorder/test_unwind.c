/*
 * test_unwind.c: units for the fast unwinder (preload/nmt_unwind.c) with a
 * rule source of the test's own in place of nmt_cfi.c: every code address
 * of this program gets the frame-pointer rule (this file and nmt_unwind.c
 * are built with frame pointers), anything else what the test sets
 * (outside). The rule cache keeps what it was given, per generation, and a
 * reader racing writers never gets another address's rule; the walk takes
 * a known chain, crosses "own" frames by frame pointers, stops at its
 * bounds, and gives up (fallback) on a frame it has no rule for or a rule
 * that leads out of the stack.
 */
#include <criterion/criterion.h>
#include <pthread.h>
#include <stdatomic.h>
#include <string.h>

#include "../../preload/nmt_unwind.h"

#define NOINLINE     __attribute__((noinline))
#define KEEP_FRAME() __asm__ volatile("" ::: "memory")

extern char __executable_start[], etext[];

_Atomic uint64_t nmt__cfi_pub = (uint64_t)1 << 32; /* generation 1 */
static enum nmt_cfi_result outside = NMT_CFI_END;  /* for code outside this program */
static int32_t fp_cfa_off = 16;                    /* the frame-pointer rule's CFA offset */
static _Atomic int lookups;

void nmt_cfi_forget(void)
{
    nmt__cfi_pub += (uint64_t)1 << 32;
}

enum nmt_cfi_result nmt_cfi_find(uintptr_t ip, struct nmt_cfi_rule *out)
{
    atomic_fetch_add(&lookups, 1);
    if (ip < (uintptr_t)__executable_start || ip >= (uintptr_t)etext)
        return outside;
    *out = (struct nmt_cfi_rule){
        .cfa_reg = NMT_CFI_RBP, .cfa_off = fp_cfa_off, .rbp_how = NMT_CFI_AT, .rbp_off = -16};
    return NMT_CFI_OK;
}

static uintptr_t stack_end(void)
{
    pthread_attr_t a;
    void *lo;
    size_t size;
    cr_assert_eq(pthread_getattr_np(pthread_self(), &a), 0);
    pthread_attr_getstack(&a, &lo, &size);
    pthread_attr_destroy(&a);
    return (uintptr_t)lo + size;
}

static struct nmt_cfi_rule rule_for(uintptr_t key)
{
    return (struct nmt_cfi_rule){.cfa_reg = NMT_CFI_RSP,
                                 .cfa_off = (int32_t)(key & 0xfff8),
                                 .rbp_how = NMT_CFI_AT,
                                 .rbp_off = (int16_t) - (8 + (key & 0x78))};
}

Test(rule_cache, keeps_a_rule_per_address_and_generation)
{
    struct nmt_cfi_rule r = rule_for(0x401234), got;
    nmt__rule_cache_put(0x401234, 7, &r);
    cr_assert(nmt__rule_cache_get(0x401234, 7, &got));
    cr_assert_eq(memcmp(&got, &r, sizeof(r)), 0);
    cr_assert_not(nmt__rule_cache_get(0x401234, 8, &got), "another generation: a miss");
    cr_assert_not(nmt__rule_cache_get(0x401235, 7, &got), "another address: a miss");
    struct nmt_cfi_rule end = {.cfa_reg = NMT_UNWIND_END_MARK};
    nmt__rule_cache_put(0x401234, 8, &end);
    cr_assert(nmt__rule_cache_get(0x401234, 8, &got));
    cr_assert_eq(got.cfa_reg, NMT_UNWIND_END_MARK);
    cr_assert_not(nmt__rule_cache_get(0x401234, 7, &got), "replaced");
    cr_assert_leq(nmt__rule_cache_bytes(), 256 << 10);
}

/* Writers store, for keys that share one entry, rules derived from the
 * key; readers check that whatever they get belongs to the key they asked
 * for. */
#define RACE_KEYS 8
static uintptr_t race_keys[RACE_KEYS];
static _Atomic int race_stop;
static _Atomic long race_wrong, race_hits;

static void *race_writer(void *arg)
{
    for (long i = (long)(uintptr_t)arg; !atomic_load(&race_stop); i++) {
        struct nmt_cfi_rule r = rule_for(race_keys[i % RACE_KEYS]);
        nmt__rule_cache_put(race_keys[i % RACE_KEYS], 1, &r);
    }
    return NULL;
}

static void *race_reader(void *arg)
{
    for (long i = (long)(uintptr_t)arg; i < 3000000; i++) {
        uintptr_t key = race_keys[i % RACE_KEYS];
        struct nmt_cfi_rule got, want = rule_for(key);
        if (nmt__rule_cache_get(key, 1, &got)) {
            atomic_fetch_add_explicit(&race_hits, 1, memory_order_relaxed);
            if (memcmp(&got, &want, sizeof(got)) != 0)
                atomic_fetch_add(&race_wrong, 1);
        }
    }
    return NULL;
}

Test(rule_cache, a_read_racing_writes_gets_its_own_rule_or_nothing)
{
    uintptr_t key = 0x400000;
    uint32_t slot = nmt__rule_cache_slot(key);
    for (int n = 0; n < RACE_KEYS; key += 8)
        if (nmt__rule_cache_slot(key) == slot)
            race_keys[n++] = key;
    pthread_t w[2], r[2];
    for (uintptr_t i = 0; i < 2; i++) {
        pthread_create(&w[i], NULL, race_writer, (void *)(i * 3));
        pthread_create(&r[i], NULL, race_reader, (void *)(i * 5));
    }
    for (int i = 0; i < 2; i++)
        pthread_join(r[i], NULL);
    atomic_store(&race_stop, 1);
    for (int i = 0; i < 2; i++)
        pthread_join(w[i], NULL);
    cr_assert_eq(race_wrong, 0, "%ld rules of another address (of %ld hits)", race_wrong,
                 race_hits);
}

/* ---- the walk ---- */
static void *frames[64];
static int nframes, max_frames = 64;
static uintptr_t hi, self_lo, self_hi;

/* The return addresses of walk_now, chain_c, chain_b and chain_a, each
 * noted by the function itself: frames 1 to 4 of the walk. */
static void *ret_of[4];
#define NOTE_RET(k) ret_of[k] = __builtin_return_address(0)

NOINLINE void walk_now(void)
{
    static struct nmt_unwind_memo memo; /* one thread walks */
    struct nmt_unwind_span span = {hi, self_lo, self_hi, &memo, 0, 0, 0};
    NOTE_RET(0);
    nframes = nmt__fast_unwind(frames, max_frames, &span);
    KEEP_FRAME();
}

NOINLINE void chain_c(void)
{
    NOTE_RET(1);
    walk_now();
    KEEP_FRAME();
}

NOINLINE void chain_b(void)
{
    NOTE_RET(2);
    chain_c();
    KEEP_FRAME();
}

NOINLINE void chain_a(void)
{
    NOTE_RET(3);
    chain_b();
    KEEP_FRAME();
}

/* Two functions alike, so that chain_a's frame and those above it lie at
 * the same addresses from either. */
NOINLINE void site_x(void)
{
    chain_a();
    KEEP_FRAME();
}

NOINLINE void site_y(void)
{
    chain_a();
    KEEP_FRAME();
}

/* Whether the walk's frames 0..k are those of the chain: frame 0 a return
 * address into walk_now (within 4 KiB of its start), then the ones the
 * functions noted. */
static int chain_found(int k)
{
    uintptr_t a = (uintptr_t)frames[0], s = (uintptr_t)walk_now;
    if (nframes <= k || a <= s || a - s >= 4096)
        return 0;
    for (int i = 1; i <= k; i++)
        if (frames[i] != ret_of[i - 1])
            return 0;
    return 1;
}

Test(walk, takes_the_chain_out_to_the_first_frame_without_rule)
{
    hi = stack_end();
    chain_a();
    cr_assert_geq(nframes, 4, "%d frames", nframes);
    cr_assert(chain_found(4), "walk_now, chain_c, chain_b, chain_a and its caller");
    /* The walk stopped after the first return address outside this program
     * (its rule: END). */
    for (int i = 0; i < nframes; i++) {
        uintptr_t a = (uintptr_t)frames[i];
        int inside = a >= (uintptr_t)__executable_start && a < (uintptr_t)etext;
        cr_assert_eq(inside, i < nframes - 1, "frame %d of %d", i, nframes);
    }
    /* From one call site, so that every return address is the same. */
    int looked[3];
    for (int i = 0; i < 3; i++) {
        int before = atomic_load(&lookups);
        if (i == 2)
            nmt_cfi_forget();
        chain_a();
        looked[i] = atomic_load(&lookups) - before;
    }
    cr_assert_gt(looked[0], 0);
    cr_assert_eq(looked[1], 0, "the second walk found every rule cached");
    /* each return address (the walk's own frame is crossed by its frame
     * pointer) */
    cr_assert_eq(looked[2], nframes, "a new generation looks every rule up again");
}

/* The walk after one from site_x, from site_y, meets the kept walk's frames
 * (same rsp, same code addresses) up to chain_a's, whose return address now
 * leads into site_y: what the kept walk found from there on must not be
 * taken. The result is that of a walk that keeps nothing (a new
 * generation). */
Test(walk, a_kept_walk_is_not_taken_past_a_changed_return_address)
{
    hi = stack_end();
    /* One call site for all three walks (a loop the compiler may not
     * unroll): only chain_a's caller changes. */
    static void (*const sites[3])(void) = {site_x, site_y, site_y};
    static void *got_frames[3][64];
    int got_n[3];
    void *into_site[3];
    for (volatile int k = 0; k < 3; k++) {
        if (k == 2)
            nmt_cfi_forget();
        sites[k]();
        got_n[k] = nframes;
        memcpy(got_frames[k], frames, sizeof(frames));
        cr_assert(chain_found(4), "walk %d: the chain, then the return into site_x/y", k);
        into_site[k] = ret_of[3];
    }
    cr_assert_neq(into_site[0], into_site[1], "two different sites");
    cr_assert_eq(got_n[1], got_n[2]);
    cr_assert_eq(memcmp(got_frames[1], got_frames[2], sizeof(void *) * (size_t)got_n[2]), 0);
}

/* Frames that return into the "own" range are crossed by their frame
 * pointers, without rules, and not output. */
Test(walk, crosses_its_own_frames_by_frame_pointers)
{
    hi = stack_end();
    self_lo = (uintptr_t)__executable_start;
    self_hi = (uintptr_t)etext;
    int before = atomic_load(&lookups);
    chain_a();
    cr_assert_eq(nframes, 1, "only the first frame outside: %d", nframes);
    uintptr_t a = (uintptr_t)frames[0];
    cr_assert(a < self_lo || a >= self_hi);
    cr_assert_eq(atomic_load(&lookups) - before, 1, "one rule (END) looked up");
}

Test(walk, stops_at_max)
{
    hi = stack_end();
    max_frames = 2;
    chain_a();
    cr_assert_eq(nframes, 2);
    cr_assert(chain_found(1));
}

Test(walk, falls_back_without_a_rule)
{
    hi = stack_end();
    /* From one call site: "unsupported" is kept for the generation, "no
     * object" (one not seen yet, perhaps) is asked again. */
    static const enum nmt_cfi_result answers[2] = {NMT_CFI_UNSUPPORTED, NMT_CFI_NOMODULE};
    for (int a = 0; a < 2; a++) {
        nmt_cfi_forget();
        outside = answers[a];
        int looked[2];
        for (volatile int k = 0; k < 2; k++) {
            int before = atomic_load(&lookups);
            chain_a();
            looked[k] = atomic_load(&lookups) - before;
            cr_assert_eq(nframes, NMT_UNWIND_FALLBACK);
        }
        cr_assert_gt(looked[0], 0);
        if (a == 0)
            cr_assert_eq(looked[1], 0, "the answer was kept");
        else
            cr_assert_eq(looked[1], 1, "asked again, once");
    }
}

Test(walk, falls_back_when_a_rule_leaves_the_stack)
{
    hi = 0; /* the stack's end unknown */
    chain_a();
    cr_assert_eq(nframes, NMT_UNWIND_FALLBACK);
    hi = stack_end();
    fp_cfa_off = -4096; /* a CFA below the frame: the stack would not grow up */
    chain_a();
    cr_assert_eq(nframes, NMT_UNWIND_FALLBACK);
    fp_cfa_off = 16;
    nmt_cfi_forget();                           /* the bad rules are cached: drop them */
    hi = (uintptr_t)__builtin_frame_address(0); /* a stack that ends here */
    chain_a();
    cr_assert_eq(nframes, NMT_UNWIND_FALLBACK);
}
