/*
 * tsan_cfi.c: the object list behind nmt_cfi_find() (preload/nmt_cfi.c)
 * read by several threads while another forgets it over and over, built
 * with ThreadSanitizer (NMT_TSAN). A plain program like tsan_ring.c: exit 0
 * when every check holds, 1 otherwise; TSan makes a data race fatal.
 *
 * The dl_iterate_phdr of this program puts a different number of empty
 * executable segments below every object at each walk, so that each list
 * rebuilt has the objects at other places: a reader that mixed two lists
 * would get another rule than the one it got alone.
 */
#include <link.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>

#include "../../preload/nmt_cfi.h"
#include "cfi_table.h"

#define NREADERS 3
#define NADDR    64
#define ROUNDS   300

static _Atomic int walks;

void nmt__gate_enter(void) {}

void nmt__gate_leave(void) {}

int nmt__dl_iterate_phdr(int (*cb)(struct dl_phdr_info *, size_t, void *), void *arg)
{
    static const ElfW(Phdr) ph[8] = {
#define SEG(i) {.p_type = PT_LOAD, .p_flags = PF_X, .p_vaddr = 0x10000 * (i + 1), .p_memsz = 0x100}
        SEG(0), SEG(1), SEG(2), SEG(3), SEG(4), SEG(5), SEG(6), SEG(7)};
    int n = atomic_fetch_add(&walks, 1);
    struct dl_phdr_info fake = {.dlpi_name = "fake", .dlpi_phdr = ph, .dlpi_phnum = n % 8};
    cb(&fake, sizeof(fake), arg);
    return dl_iterate_phdr(cb, arg);
}

static uintptr_t addr[NADDR];
static struct nmt_cfi_rule ref[NADDR];
static int naddr;
static _Atomic long wrong, right;
static _Atomic int done, stop;

/* ROUNDS rounds while the list is forgotten, then on until the forgetting
 * has stopped and this reader has had one answer right: on a machine with
 * cores to spare the forgetting thread is never preempted and no rebuild
 * may survive it, so the right answers are only sure to come after it. A
 * reader that cannot get one gives up after many rounds, and the program
 * fails. */
static void *reader(void *arg)
{
    (void)arg;
    long mine = 0;
    for (int round = 0; round < 100 * ROUNDS; round++) {
        if (round == ROUNDS)
            atomic_fetch_add(&done, 1);
        if (atomic_load(&stop) && mine > 0)
            break;
        for (int i = 0; i < naddr; i++) {
            struct nmt_cfi_rule r;
            enum nmt_cfi_result res = nmt_cfi_find(addr[i], &r);
            if (res == NMT_CFI_NOMODULE)
                continue;
            if (res == NMT_CFI_OK && memcmp(&r, &ref[i], sizeof(r)) == 0)
                mine++;
            else
                atomic_fetch_add(&wrong, 1);
        }
    }
    atomic_fetch_add(&right, mine);
    return NULL;
}

int main(void)
{
    /* Up to 8 FDE starts (and a few bytes in) of each object with a table. */
    struct cfi_picks picks = {addr, ref, 0, NADDR, 8};
    dl_iterate_phdr(cfi_pick, &picks);
    naddr = picks.n;
    if (naddr < 8) {
        fprintf(stderr, "tsan_cfi: only %d addresses with a rule\n", naddr);
        return 1;
    }
    pthread_t t[NREADERS];
    for (int i = 0; i < NREADERS; i++)
        pthread_create(&t[i], NULL, reader, NULL);
    while (atomic_load(&done) < NREADERS)
        nmt_cfi_forget();
    atomic_store(&stop, 1);
    for (int i = 0; i < NREADERS; i++)
        pthread_join(t[i], NULL);
    printf("tsan_cfi: %ld right, %ld wrong, %d walks\n", atomic_load(&right), atomic_load(&wrong),
           atomic_load(&walks));
    return atomic_load(&wrong) == 0 && atomic_load(&right) > 0 ? 0 : 1;
}
