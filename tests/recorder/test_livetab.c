/*
 * test_livetab.c: units for the live-allocation table (preload/nmt_livetab.c):
 * in-order and out-of-order pairing, address reuse under every drain order,
 * replacement, expiry of orphans and of marks that share a slot with a live
 * entry, growth to 2e6 entries, allocation failure; rings drained in random
 * order against the truth and, call by call, against a plain model of the
 * rules.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "failalloc.h"
#include "../../preload/nmt_livetab.h"

/* The caller's bookkeeping, as the writer does it: live bytes per stack. */
struct books {
    int64_t live_bytes[8];
    int64_t live_objects[8];
    int64_t dead; /* allocations that ended (address-filter subtractions) */
};

static int do_alloc(struct nmt_livetab *t, struct books *b, uint64_t p, uint64_t seq,
                    uint32_t stack, uint64_t size, uint32_t round)
{
    struct nmt_live old;
    int r = nmt_livetab_alloc(t, p, seq, stack, size, round, &old);
    cr_assert_geq(r, 0);
    if (r == 0)
        b->dead++;
    if (r >= 1) {
        b->live_bytes[stack] += (int64_t)size;
        b->live_objects[stack]++;
    }
    if (r == 2) {
        b->live_bytes[old.stack] -= (int64_t)old.size;
        b->live_objects[old.stack]--;
        b->dead++;
    }
    return r;
}

static int do_free(struct nmt_livetab *t, struct books *b, uint64_t p, uint64_t seq, uint32_t round)
{
    struct nmt_live out;
    int r = nmt_livetab_free(t, p, seq, round, &out);
    cr_assert_geq(r, 0);
    if (r == 1) {
        b->live_bytes[out.stack] -= (int64_t)out.size;
        b->live_objects[out.stack]--;
        b->dead++;
    }
    return r;
}

Test(livetab, in_order)
{
    struct nmt_livetab t;
    struct books b = {0};
    cr_assert_eq(nmt_livetab_init(&t), 0);
    cr_assert_eq(do_alloc(&t, &b, 0x1000, 1, 3, 100, 0), 1);
    cr_assert_eq(do_alloc(&t, &b, 0x2000, 2, 4, 50, 0), 1);
    cr_assert_eq(nmt_livetab_count(&t), 2);
    struct nmt_live e;
    cr_assert(nmt_livetab_lookup(&t, 0x1000, &e));
    cr_assert_eq(e.stack, 3);
    cr_assert_eq(e.size, 100);
    cr_assert_eq(e.seq, 1);
    struct nmt_live out;
    cr_assert_eq(nmt_livetab_free(&t, 0x1000, 5, 0, &out), 1);
    cr_assert_eq(out.stack, 3);
    cr_assert_eq(out.size, 100);
    cr_assert_eq(out.ptr, 0x1000);
    cr_assert_eq(nmt_livetab_count(&t), 1);
    cr_assert_eq(nmt_livetab_orphans(&t), 0);
    cr_assert_not(nmt_livetab_lookup(&t, 0x1000, NULL));
    cr_assert(nmt_livetab_lookup(&t, 0x2000, NULL));
    /* A free of an unknown pointer is an orphan. */
    cr_assert_eq(nmt_livetab_free(&t, 0x3000, 6, 0, &out), 0);
    cr_assert_eq(nmt_livetab_orphans(&t), 1);
    cr_assert_eq(nmt_livetab_alloc(&t, 0, 7, 1, 1, 0, NULL), -EINVAL);
    cr_assert_eq(nmt_livetab_free(&t, 0, 7, 0, NULL), 0);
    nmt_livetab_destroy(&t);
}

Test(livetab, free_before_alloc)
{
    struct nmt_livetab t;
    struct books b = {0};
    cr_assert_eq(nmt_livetab_init(&t), 0);
    cr_assert_eq(do_free(&t, &b, 0x1000, 9, 0), 0);
    cr_assert_eq(nmt_livetab_orphans(&t), 1);
    cr_assert_eq(do_alloc(&t, &b, 0x1000, 4, 1, 64, 0), 0, "the object is already dead");
    cr_assert_eq(nmt_livetab_orphans(&t), 0);
    cr_assert_eq(nmt_livetab_count(&t), 0);
    cr_assert_eq(b.live_bytes[1], 0);
    cr_assert_eq(b.dead, 1);
    /* An allocation newer than the orphan is live. */
    cr_assert_eq(nmt_livetab_free(&t, 0x2000, 3, 0, NULL), 0);
    cr_assert_eq(do_alloc(&t, &b, 0x2000, 8, 1, 64, 0), 1);
    cr_assert_eq(nmt_livetab_count(&t), 1);
    nmt_livetab_destroy(&t);
}

Test(livetab, late_free_of_an_older_object_does_not_free_the_newer)
{
    struct nmt_livetab t;
    cr_assert_eq(nmt_livetab_init(&t), 0);
    cr_assert_eq(nmt_livetab_alloc(&t, 0x1000, 10, 1, 8, 0, NULL), 1);
    cr_assert_eq(nmt_livetab_free(&t, 0x1000, 5, 0, NULL), 0);
    cr_assert_eq(nmt_livetab_count(&t), 1);
    nmt_livetab_destroy(&t);
}

Test(livetab, replace_reports_the_old_entry)
{
    struct nmt_livetab t;
    cr_assert_eq(nmt_livetab_init(&t), 0);
    cr_assert_eq(nmt_livetab_alloc(&t, 0x1000, 1, 2, 111, 0, NULL), 1);
    struct nmt_live old;
    memset(&old, 0, sizeof(old));
    cr_assert_eq(nmt_livetab_alloc(&t, 0x1000, 5, 3, 222, 0, &old), 2);
    cr_assert_eq(old.stack, 2);
    cr_assert_eq(old.size, 111);
    cr_assert_eq(old.seq, 1);
    cr_assert_eq(nmt_livetab_count(&t), 1);
    struct nmt_live e;
    cr_assert(nmt_livetab_lookup(&t, 0x1000, &e));
    cr_assert_eq(e.size, 222);
    /* An allocation older than the live one is dead: nothing changes. */
    cr_assert_eq(nmt_livetab_alloc(&t, 0x1000, 3, 4, 333, 0, &old), 0);
    cr_assert(nmt_livetab_lookup(&t, 0x1000, &e));
    cr_assert_eq(e.seq, 5);
    nmt_livetab_destroy(&t);
}

/* One address, events {ALLOC or FREE, seq} in true order; every drain order
 * must end with the truth: the last ALLOC live iff no FREE follows it. */
struct ev {
    int is_alloc;
    uint64_t seq;
    uint32_t stack;
    uint64_t size;
};

static void run_order(const struct ev *evs, const int *order, int n)
{
    struct nmt_livetab t;
    struct books b = {0};
    cr_assert_eq(nmt_livetab_init(&t), 0);
    int nalloc = 0;
    for (int i = 0; i < n; i++) {
        const struct ev *e = &evs[order[i]];
        if (e->is_alloc) {
            do_alloc(&t, &b, 0xabc0, e->seq, e->stack, e->size, 0);
            nalloc++;
        } else {
            do_free(&t, &b, 0xabc0, e->seq, 0);
        }
    }
    const struct ev *last = &evs[n - 1];
    int64_t want[8] = {0};
    if (last->is_alloc)
        want[last->stack] = (int64_t)last->size;
    for (int s = 0; s < 8; s++)
        cr_assert_eq(b.live_bytes[s], want[s], "order %d%d%d%d%d: stack %d has %ld, want %ld",
                     order[0], n > 1 ? order[1] : 9, n > 2 ? order[2] : 9, n > 3 ? order[3] : 9,
                     n > 4 ? order[4] : 9, s, b.live_bytes[s], want[s]);
    cr_assert_eq(nmt_livetab_count(&t), last->is_alloc ? 1u : 0u);
    cr_assert_eq(b.dead, nalloc - (last->is_alloc ? 1 : 0), "each dead allocation ends once");
    /* Two rounds later every mark is gone. */
    nmt_livetab_expire(&t, 2);
    cr_assert_eq(nmt_livetab_orphans(&t), 0);
    cr_assert_eq(t.marks, 0);
    nmt_livetab_destroy(&t);
}

static void all_orders(const struct ev *evs, int n)
{
    int order[8], used[8] = {0}, depth = 0;
    /* Iterative permutation walk (Heap's algorithm would do as well). */
    int idx[8];
    for (int i = 0; i < n; i++)
        idx[i] = -1;
    while (depth >= 0) {
        if (depth == n) {
            run_order(evs, order, n);
            depth--;
            continue;
        }
        if (idx[depth] >= 0)
            used[idx[depth]] = 0;
        int k = idx[depth] + 1;
        while (k < n && used[k])
            k++;
        if (k == n) {
            idx[depth] = -1;
            depth--;
            continue;
        }
        idx[depth] = k;
        used[k] = 1;
        order[depth] = k;
        depth++;
    }
}

Test(livetab, address_reuse_any_drain_order)
{
    /* alloc p, free p, alloc p */
    const struct ev a[] = {{1, 1, 1, 100}, {0, 2, 0, 0}, {1, 3, 2, 200}};
    all_orders(a, 3);
    /* alloc, free, alloc, free */
    const struct ev b[] = {{1, 1, 1, 100}, {0, 2, 0, 0}, {1, 3, 2, 200}, {0, 4, 0, 0}};
    all_orders(b, 4);
    /* a false-positive free of an unsampled object at p between the two */
    const struct ev c[] = {{1, 1, 1, 100}, {0, 2, 0, 0}, {0, 4, 0, 0}, {1, 5, 3, 300}};
    all_orders(c, 4);
    /* three incarnations, the last one live */
    const struct ev d[] = {{1, 1, 1, 10}, {0, 2, 0, 0}, {1, 3, 2, 20}, {0, 4, 0, 0}, {1, 5, 3, 30}};
    all_orders(d, 5);
    /* a lost free: alloc, alloc */
    const struct ev e[] = {{1, 1, 1, 10}, {1, 3, 2, 20}};
    all_orders(e, 2);
}

Test(livetab, expiry)
{
    struct nmt_livetab t;
    cr_assert_eq(nmt_livetab_init(&t), 0);
    cr_assert_eq(nmt_livetab_free(&t, 0x1000, 10, 5, NULL), 0);
    cr_assert_eq(nmt_livetab_free(&t, 0x2000, 11, 6, NULL), 0);
    cr_assert_eq(nmt_livetab_orphans(&t), 2);
    nmt_livetab_expire(&t, 6); /* keeps rounds 5 and 6 */
    cr_assert_eq(nmt_livetab_orphans(&t), 2);
    nmt_livetab_expire(&t, 7); /* drops round 5 */
    cr_assert_eq(nmt_livetab_orphans(&t), 1);
    cr_assert_eq(t.expired_orphans, 1);
    /* The expired orphan no longer cancels an allocation of its address. */
    cr_assert_eq(nmt_livetab_alloc(&t, 0x1000, 9, 1, 1, 7, NULL), 1);
    cr_assert_eq(nmt_livetab_alloc(&t, 0x2000, 9, 1, 1, 7, NULL), 0);
    nmt_livetab_expire(&t, 8);
    cr_assert_eq(nmt_livetab_orphans(&t), 0);
    cr_assert_eq(t.expired_orphans, 1, "a matched mark is not an orphan");
    cr_assert_eq(t.marks, 0);
    /* Round numbers wrap. */
    cr_assert_eq(nmt_livetab_free(&t, 0x3000, 20, UINT32_MAX, NULL), 0);
    nmt_livetab_expire(&t, 0);
    cr_assert_eq(nmt_livetab_orphans(&t), 1);
    nmt_livetab_expire(&t, 1);
    cr_assert_eq(nmt_livetab_orphans(&t), 0);
    nmt_livetab_destroy(&t);
}

Test(livetab, many_orphans_expire_and_the_table_and_queue_shrink)
{
    struct nmt_livetab t;
    cr_assert_eq(nmt_livetab_init(&t), 0);
    for (uint64_t i = 1; i <= 200000; i++)
        cr_assert_eq(nmt_livetab_free(&t, i * 16, i, i % 10 == 0 ? 0 : 1, NULL), 0);
    cr_assert_eq(nmt_livetab_orphans(&t), 200000);
    uint64_t big = t.mask + 1;
    nmt_livetab_expire(&t, 2); /* drops round 0: one in ten */
    cr_assert_eq(nmt_livetab_orphans(&t), 200000 - 200000 / 10);
    /* What survived is still found. */
    for (uint64_t i = 1; i <= 200000; i++)
        cr_assert_eq(nmt_livetab_alloc(&t, i * 16, 0, 1, 1, 2, NULL), i % 10 == 0 ? 1 : 0);
    uint64_t qbig = t.qcap;
    nmt_livetab_expire(&t, 20);
    cr_assert_eq(nmt_livetab_orphans(&t), 0);
    cr_assert_eq(t.marks, 0);
    cr_assert_lt(t.mask + 1, big);
    cr_assert_lt(t.qcap, qbig / 64, "the expiry queue gave its memory back");
    cr_assert_eq(nmt_livetab_count(&t), 200000 / 10);
    nmt_livetab_destroy(&t);
}

static uint64_t lcg(uint64_t *x)
{
    *x = *x * 6364136223846793005ull + 1442695040888963407ull;
    return *x >> 33;
}

Test(livetab, two_million_live, .timeout = 120)
{
    enum { N = 2000000 };
    struct nmt_livetab t;
    cr_assert_eq(nmt_livetab_init(&t), 0);
    uint64_t x = 7;
    uint64_t *ptrs = malloc(N * sizeof(*ptrs));
    for (uint32_t i = 0; i < N; i++) {
        /* Distinct 16-aligned addresses, scattered like a heap's. */
        ptrs[i] = ((uint64_t)i << 24 | (lcg(&x) >> 7)) << 4 | 0x10;
        cr_assert_eq(nmt_livetab_alloc(&t, ptrs[i], i + 1, i % 7 + 1, i, 0, NULL), 1);
    }
    cr_assert_eq(nmt_livetab_count(&t), N);
    /* Free every other one, churn, and check what is left. */
    for (uint32_t i = 0; i < N; i += 2) {
        struct nmt_live out;
        cr_assert_eq(nmt_livetab_free(&t, ptrs[i], N + i + 1, 0, &out), 1);
        cr_assert_eq(out.size, i);
    }
    cr_assert_eq(nmt_livetab_count(&t), N / 2);
    for (uint32_t i = 0; i < N; i++) {
        struct nmt_live e;
        int live = nmt_livetab_lookup(&t, ptrs[i], &e);
        cr_assert_eq(live, i % 2);
        if (live)
            cr_assert_eq(e.stack, i % 7 + 1);
    }
    nmt_livetab_expire(&t, 5);
    cr_assert_eq(t.marks, 0);
    free(ptrs);
    nmt_livetab_destroy(&t);
}

Test(livetab, allocation_failure)
{
    if (!FAILALLOC_ENABLED)
        cr_skip_test("allocation failure injection is off under AddressSanitizer");
    struct nmt_livetab t;
    cr_assert_eq(nmt_livetab_init(&t), 0);
    uint64_t i = 1, fails = 0;
    /* Fill to the first growth, making growth fail once. */
    for (; i <= 5000; i++) {
        failalloc_after = 0;
        int r = nmt_livetab_alloc(&t, i * 16, i, 1, 1, 0, NULL);
        failalloc_after = -1;
        if (r == -ENOMEM) {
            fails++;
            cr_assert_not(nmt_livetab_lookup(&t, i * 16, NULL));
            r = nmt_livetab_alloc(&t, i * 16, i, 1, 1, 0, NULL);
        }
        cr_assert_eq(r, 1);
    }
    cr_assert_geq(fails, 1);
    cr_assert_eq(nmt_livetab_count(&t), 5000);
    /* A free that matches still applies when its mark cannot be stored. */
    uint64_t mf = 0;
    for (i = 1; i <= 5000; i++) {
        failalloc_after = 0;
        int r = nmt_livetab_free(&t, i * 16, 10000 + i, 0, NULL);
        failalloc_after = -1;
        cr_assert_eq(r, 1);
        mf = t.mark_failures;
    }
    cr_assert_geq(mf, 1);
    cr_assert_eq(nmt_livetab_count(&t), 0);
    /* An orphan that cannot be stored is an error. */
    uint64_t err = 0;
    for (i = 1; i <= 5000; i++) {
        failalloc_after = 0;
        int r = nmt_livetab_free(&t, (i + 100000) * 16, 20000 + i, 0, NULL);
        failalloc_after = -1;
        err += r == -ENOMEM;
    }
    cr_assert_geq(err, 1);
    nmt_livetab_destroy(&t);
}

Test(livetab, a_mark_updated_after_it_was_queued_lives_on)
{
    struct nmt_livetab t;
    cr_assert_eq(nmt_livetab_init(&t), 0);
    cr_assert_eq(nmt_livetab_free(&t, 0x1000, 10, 1, NULL), 0);
    cr_assert_eq(nmt_livetab_free(&t, 0x1000, 12, 3, NULL), 0);
    cr_assert_eq(t.marks, 1);
    nmt_livetab_expire(&t, 3); /* queued in round 1, but updated in round 3 */
    cr_assert_eq(t.marks, 1);
    cr_assert_eq(nmt_livetab_orphans(&t), 1);
    cr_assert_eq(nmt_livetab_alloc(&t, 0x1000, 11, 1, 8, 3, NULL), 0, "the mark still cancels");
    nmt_livetab_expire(&t, 5);
    cr_assert_eq(t.marks, 0);
    cr_assert_eq(t.used - t.idle, 0, "nothing is held for the address");
    cr_assert_eq(nmt_livetab_alloc(&t, 0x1000, 11, 1, 8, 5, NULL), 1);
    nmt_livetab_destroy(&t);
}

Test(livetab, a_mark_expires_under_a_live_entry)
{
    struct nmt_livetab t;
    cr_assert_eq(nmt_livetab_init(&t), 0);
    cr_assert_eq(nmt_livetab_alloc(&t, 0x1000, 1, 1, 8, 0, NULL), 1);
    cr_assert_eq(nmt_livetab_free(&t, 0x1000, 2, 0, NULL), 1);
    cr_assert_eq(nmt_livetab_alloc(&t, 0x1000, 3, 2, 16, 0, NULL), 1);
    cr_assert_eq(t.used, 1, "the live entry and the mark share the slot");
    nmt_livetab_expire(&t, 2);
    cr_assert_eq(t.marks, 0);
    cr_assert_eq(t.qlen, 0);
    struct nmt_live e;
    cr_assert(nmt_livetab_lookup(&t, 0x1000, &e));
    cr_assert_eq(e.stack, 2);
    cr_assert_eq(e.size, 16);
    cr_assert_eq(nmt_livetab_free(&t, 0x1000, 4, 2, &e), 1);
    cr_assert_eq(e.seq, 3);
    cr_assert_eq(nmt_livetab_count(&t), 0);
    nmt_livetab_destroy(&t);
}

/* One step of a model test: address p (pool index i) is freed if the
 * model has it live (settled or not), else allocated with stack i; the
 * table must agree with the model's live_seq and live count *nlive. */
static void model_toggle(struct nmt_livetab *t, uint64_t *live_seq, uint32_t i, uint64_t p,
                         uint64_t seq, uint32_t round, int settled, uint64_t *nlive)
{
    if (live_seq[i]) {
        struct nmt_live out;
        cr_assert_eq(settled ? nmt_livetab_free_settled(t, p, seq, &out)
                             : nmt_livetab_free(t, p, seq, round, &out),
                     1);
        cr_assert_eq(out.seq, live_seq[i]);
        cr_assert_eq(out.ptr, p);
        live_seq[i] = 0;
        (*nlive)--;
    } else {
        cr_assert_eq(nmt_livetab_alloc(t, p, seq, i, 8, round, NULL), 1);
        live_seq[i] = seq;
        (*nlive)++;
    }
}

/* Many addresses freed and reused over many rounds: the table matches a
 * plain model after every expiry, and its queue holds one entry per mark. */
Test(livetab, churn_matches_a_model)
{
    enum { P = 3000, ROUNDS = 40 };
    struct nmt_livetab t;
    cr_assert_eq(nmt_livetab_init(&t), 0);
    static uint64_t live_seq[P]; /* 0: not live */
    uint64_t seq = 1, x = 99, nlive = 0;
    for (uint32_t r = 1; r <= ROUNDS; r++) {
        for (int k = 0; k < 2000; k++) {
            uint32_t i = (uint32_t)(lcg(&x) % P);
            model_toggle(&t, live_seq, i, (uint64_t)(i + 1) << 4, seq++, r, 0, &nlive);
        }
        nmt_livetab_expire(&t, r);
        cr_assert_eq(nmt_livetab_count(&t), nlive);
        cr_assert_eq(t.marks, t.qlen, "one queue entry per mark");
    }
    nmt_livetab_expire(&t, ROUNDS + 2);
    cr_assert_eq(t.marks, 0);
    cr_assert_eq(t.used - t.idle, nlive);
    cr_assert_eq(nmt_livetab_orphans(&t), 0);
    nmt_livetab_destroy(&t);
}

/* Addresses that are never seen again leave idle slots behind: the table
 * drops them when it fills up instead of growing without end. */
Test(livetab, idle_slots_do_not_make_the_table_grow)
{
    struct nmt_livetab t;
    cr_assert_eq(nmt_livetab_init(&t), 0);
    uint64_t seq = 1, most = 0;
    for (uint32_t r = 1; r <= 1000; r++) {
        for (uint64_t k = 0; k < 200; k++) {
            uint64_t p = ((uint64_t)r * 200 + k + 1) << 4; /* a new address each time */
            cr_assert_eq(nmt_livetab_alloc(&t, p, seq++, 1, 8, r, NULL), 1);
            cr_assert_eq(nmt_livetab_free(&t, p, seq++, r, NULL), 1);
        }
        nmt_livetab_expire(&t, r);
        cr_assert_leq(t.marks, 600, "marks of three rounds at most");
        most = t.mask + 1 > most ? t.mask + 1 : most;
    }
    /* 200 000 addresses went through; at most ~600 marks are held at a time. */
    cr_assert_leq(most, 4096, "the table grew to %lu slots", (unsigned long)most);
    cr_assert_eq(nmt_livetab_count(&t), 0);
    nmt_livetab_destroy(&t);
}

/* Three rings, a few addresses reused over and over, events committed in seq
 * order and drained ring by ring in random order, rounds and expiry as the
 * writer runs them: whatever the interleaving, every allocation ends exactly
 * once and the live set and its sizes are the truth. A free left unmatched
 * (an orphan that expires) can only be that of an allocation that ended
 * early, replaced by or older than a newer one of its address. */
Test(livetab, rings_drained_in_random_order_against_the_truth)
{
    enum { K = 3, P = 40, E = 30000 };
    static struct {
        int is_alloc;
        uint64_t p, size;
        uint32_t stack;
    } ev[E + 1];
    static uint64_t ring_ev[K][E], truth_seq[P];
    uint64_t ring_n[K] = {0}, ring_pos[K] = {0}, x = 12345, nalloc = 0;
    for (uint64_t seq = 1; seq <= E; seq++) {
        uint32_t i = (uint32_t)(lcg(&x) % P), k = (uint32_t)(lcg(&x) % K);
        ev[seq].p = (i + 1) * 16;
        ev[seq].is_alloc = truth_seq[i] == 0;
        ev[seq].size = 1 + lcg(&x) % 1000;
        ev[seq].stack = 1 + (uint32_t)(lcg(&x) % 7);
        truth_seq[i] = ev[seq].is_alloc ? seq : 0;
        nalloc += ev[seq].is_alloc;
        ring_ev[k][ring_n[k]++] = seq;
    }
    struct nmt_livetab t;
    struct books b = {0};
    cr_assert_eq(nmt_livetab_init(&t), 0);
    uint64_t committed = 0, early = 0;
    uint32_t round = 0;
    /* Until everything is committed and four rounds more have drained the
     * rest and expired the last marks. */
    for (int quiet = 0; quiet < 4;) {
        round++;
        uint32_t first = (uint32_t)(lcg(&x) % K);
        for (uint32_t j = 0; j < K; j++) {
            uint32_t k = (first + j) % K;
            committed += lcg(&x) % 120; /* more events committed meanwhile */
            committed = committed > E ? E : committed;
            while (ring_pos[k] < ring_n[k] && ring_ev[k][ring_pos[k]] <= committed) {
                uint64_t seq = ring_ev[k][ring_pos[k]++];
                if (ev[seq].is_alloc)
                    early +=
                        do_alloc(&t, &b, ev[seq].p, seq, ev[seq].stack, ev[seq].size, round) != 1;
                else
                    do_free(&t, &b, ev[seq].p, seq, round);
            }
        }
        nmt_livetab_expire(&t, round);
        cr_assert_leq(t.expired_orphans, early, "round %u", round);
        quiet += committed == E;
    }
    int64_t want_bytes[8] = {0}, nlive = 0;
    for (uint32_t i = 0; i < P; i++) {
        struct nmt_live e;
        int live = nmt_livetab_lookup(&t, (i + 1) * 16, &e);
        cr_assert_eq(live, truth_seq[i] != 0, "address %u", i);
        if (live) {
            cr_assert_eq(e.seq, truth_seq[i]);
            cr_assert_eq(e.size, ev[truth_seq[i]].size);
            want_bytes[ev[truth_seq[i]].stack] += (int64_t)ev[truth_seq[i]].size;
            nlive++;
        }
    }
    for (int s = 0; s < 8; s++)
        cr_assert_eq(b.live_bytes[s], want_bytes[s], "stack %d", s);
    cr_assert_eq(b.dead, (int64_t)nalloc - nlive, "each allocation ends once");
    cr_assert_eq(nmt_livetab_orphans(&t), 0);
    cr_assert_eq(t.marks, 0);
    nmt_livetab_destroy(&t);
}

/* The rules of nmt_livetab.h written out plainly, for a few addresses
 * numbered 0..MODEL_P-1: an array instead of a hash table, a scan instead of
 * a queue. */
#define MODEL_P 24
struct model {
    struct {
        int live, mark, matched;
        uint64_t seq, size, fseq;
        uint32_t stack, fround;
    } a[MODEL_P];
    uint64_t live, orphans, expired;
};

static int model_alloc(struct model *m, int i, uint64_t seq, uint32_t stack, uint64_t size,
                       uint64_t *old_seq)
{
    if (m->a[i].mark && m->a[i].fseq > seq) {
        m->orphans -= !m->a[i].matched;
        m->a[i].matched = 1;
        return 0;
    }
    if (m->a[i].live && m->a[i].seq >= seq)
        return 0;
    int r = m->a[i].live ? 2 : 1;
    *old_seq = m->a[i].seq;
    m->live += r == 1;
    m->a[i].live = 1;
    m->a[i].seq = seq;
    m->a[i].size = size;
    m->a[i].stack = stack;
    return r;
}

static int model_free(struct model *m, int i, uint64_t seq, uint32_t round, uint64_t *old_seq)
{
    int matched = m->a[i].live && m->a[i].seq < seq;
    if (matched) {
        *old_seq = m->a[i].seq;
        m->a[i].live = 0;
        m->live--;
    }
    if (!m->a[i].mark) {
        m->a[i].mark = 1;
        m->a[i].fseq = seq;
        m->a[i].fround = round;
        m->a[i].matched = matched;
        m->orphans += !matched;
        return matched;
    }
    if (m->a[i].fseq < seq) {
        m->orphans += !matched - !m->a[i].matched;
        m->a[i].fseq = seq;
        m->a[i].matched = matched;
    }
    if ((int32_t)(round - m->a[i].fround) > 0)
        m->a[i].fround = round;
    return matched;
}

static void model_expire(struct model *m, uint32_t round)
{
    for (int i = 0; i < MODEL_P; i++)
        if (m->a[i].mark && (uint32_t)(round - m->a[i].fround) > 1) {
            m->orphans -= !m->a[i].matched;
            m->expired += !m->a[i].matched;
            m->a[i].mark = 0;
        }
}

/* Four rings drained in random order with rounds and expiry, some events
 * lost (as a full ring in drop mode loses them): every call returns what the
 * plain model returns, and the counters agree after every round. */
Test(livetab, agrees_with_a_plain_model_call_by_call)
{
    enum { K = 4, E = 20000 };
    static uint64_t ring_ev[K][E];
    static int ev_i[E + 1], ev_alloc[E + 1];
    for (uint64_t seed = 1; seed <= 20; seed++) {
        uint64_t x = seed * 977, ring_n[K] = {0}, ring_pos[K] = {0}, committed = 0;
        int live[MODEL_P] = {0};
        for (uint64_t seq = 1; seq <= E; seq++) {
            int i = (int)(lcg(&x) % MODEL_P);
            ev_i[seq] = i;
            ev_alloc[seq] = !live[i];
            live[i] = !live[i];
            uint32_t k = (uint32_t)(lcg(&x) % K);
            if (seed % 2 == 0 && lcg(&x) % 40 == 0)
                continue; /* even seeds lose one event in 40 */
            ring_ev[k][ring_n[k]++] = seq;
        }
        struct nmt_livetab t;
        static struct model m;
        memset(&m, 0, sizeof(m));
        cr_assert_eq(nmt_livetab_init(&t), 0);
        uint32_t round = 0;
        for (int quiet = 0; quiet < 4;) {
            round++;
            uint32_t first = (uint32_t)(lcg(&x) % K);
            for (uint32_t j = 0; j < K; j++) {
                uint32_t k = (first + j) % K;
                committed += lcg(&x) % (seed * 40); /* short and long rounds */
                committed = committed > E ? E : committed;
                while (ring_pos[k] < ring_n[k] && ring_ev[k][ring_pos[k]] <= committed) {
                    uint64_t seq = ring_ev[k][ring_pos[k]++], want_seq = 0;
                    int i = ev_i[seq], r, want;
                    uint64_t p = (uint64_t)(i + 1) << 4;
                    struct nmt_live got = {0};
                    if (ev_alloc[seq]) {
                        want = model_alloc(&m, i, seq, 1 + (uint32_t)i, seq % 999, &want_seq);
                        r = nmt_livetab_alloc(&t, p, seq, 1 + (uint32_t)i, seq % 999, round, &got);
                    } else {
                        want = model_free(&m, i, seq, round, &want_seq);
                        r = nmt_livetab_free(&t, p, seq, round, &got);
                    }
                    cr_assert_eq(r, want, "seed %lu seq %lu: %d, the model says %d",
                                 (unsigned long)seed, (unsigned long)seq, r, want);
                    if (r == 2 || (r == 1 && !ev_alloc[seq]))
                        cr_assert_eq(got.seq, want_seq);
                }
            }
            nmt_livetab_expire(&t, round);
            model_expire(&m, round);
            cr_assert_eq(nmt_livetab_count(&t), m.live, "seed %lu round %u", (unsigned long)seed,
                         round);
            cr_assert_eq(nmt_livetab_orphans(&t), m.orphans);
            cr_assert_eq(t.expired_orphans, m.expired);
            quiet += committed == E;
        }
        for (int i = 0; i < MODEL_P; i++) {
            struct nmt_live e;
            cr_assert_eq(nmt_livetab_lookup(&t, (uint64_t)(i + 1) << 4, &e), m.a[i].live);
            if (m.a[i].live)
                cr_assert(e.seq == m.a[i].seq && e.size == m.a[i].size && e.stack == m.a[i].stack);
        }
        nmt_livetab_destroy(&t);
    }
}

/* Settled frees (every earlier event of the address applied) in order with
 * allocations and some ordinary frees, over a pool of addresses that fill
 * the table to its limit: every result and every address's entry matches a
 * plain model, so emptying a slot never cuts another address's probe path;
 * settled frees keep no mark and no slot that holds anything. */
Test(livetab, settled_frees_match_a_model)
{
    enum { P = 6000, OPS = 300000 };
    struct nmt_livetab t;
    cr_assert_eq(nmt_livetab_init(&t), 0);
    static uint64_t live_seq[P]; /* 0: not live */
    uint64_t seq = 1, x = 7, nlive = 0;
    uint32_t round = 1;
    for (int k = 1; k <= OPS; k++) {
        uint32_t i = (uint32_t)(lcg(&x) % P);
        int settled = live_seq[i] != 0 && lcg(&x) % 16 != 0;
        model_toggle(&t, live_seq, i, 0x10000 + ((uint64_t)i << 4), seq++, round, settled, &nlive);
        if (k % 5000 == 0) {
            nmt_livetab_expire(&t, ++round);
            for (uint32_t j = 0; j < P; j++) {
                struct nmt_live e;
                int found = nmt_livetab_lookup(&t, 0x10000 + ((uint64_t)j << 4), &e);
                cr_assert_eq(found, live_seq[j] != 0, "address %u", j);
                cr_assert(!found || (e.seq == live_seq[j] && e.stack == j));
            }
            cr_assert_eq(nmt_livetab_count(&t), nlive);
            uint64_t held = t.used - t.idle; /* a mark may share its slot with a live entry */
            cr_assert(held >= nlive && held <= nlive + t.marks, "%lu slots held",
                      (unsigned long)held);
        }
    }
    nmt_livetab_expire(&t, round + 2);
    nmt_livetab_expire(&t, round + 4);
    cr_assert_eq(t.marks, 0);
    cr_assert_eq(t.used - t.idle, nlive, "only the live entries hold slots");
    cr_assert_eq(nmt_livetab_orphans(&t), 0);
    cr_assert_eq(t.expired_orphans, 0);
    nmt_livetab_destroy(&t);
}

/* A settled free that matches nothing is an orphan with nothing left to
 * match: counted as expired at once, keeping nothing, unless a mark with a
 * larger seq already holds the address. */
Test(livetab, a_settled_orphan_is_expired_at_once)
{
    struct nmt_livetab t;
    cr_assert_eq(nmt_livetab_init(&t), 0);
    struct nmt_live out;
    cr_assert_eq(nmt_livetab_free_settled(&t, 0x1000, 5, &out), 0);
    cr_assert_eq(t.expired_orphans, 1);
    cr_assert_eq(t.used, 0);
    cr_assert_eq(nmt_livetab_alloc(&t, 0x2000, 9, 1, 8, 0, NULL), 1);
    cr_assert_eq(nmt_livetab_free_settled(&t, 0x2000, 7, &out), 0, "a newer allocation holds it");
    cr_assert_eq(t.expired_orphans, 2);
    cr_assert_eq(nmt_livetab_count(&t), 1);
    cr_assert_eq(nmt_livetab_free(&t, 0x3000, 20, 0, NULL), 0);
    cr_assert_eq(nmt_livetab_free_settled(&t, 0x3000, 15, &out), 0);
    cr_assert_eq(t.expired_orphans, 2, "the mark at 20 stands for it");
    cr_assert_eq(nmt_livetab_orphans(&t), 1);
    cr_assert_eq(nmt_livetab_free_settled(&t, 0, 15, &out), 0);
    nmt_livetab_destroy(&t);
}
