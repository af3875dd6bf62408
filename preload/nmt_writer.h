/*
 * nmt_writer.h: the writer thread's state (nmt_writer.c) and the snapshot
 * encoder that serialises it (nmt_snapshot.c). Writer thread only, except
 * `stop` and `request`, which other threads set.
 */
#ifndef NMT_WRITER_H
#define NMT_WRITER_H

#include <pthread.h>
#include <signal.h>

#include "nmt_internal.h"
#include "nmt_livetab.h"
#include "nmt_mmap_model.h"
#include "nmt_os.h"
#include "nmt_stacktab.h"

struct nmt_held { /* an mmap-family event waiting for its turn */
    uint64_t seq;
    uint64_t arg[4];
    uint32_t type, stack;
};

struct nmt_writer {
    pthread_t thread;
    int running;
    _Atomic int stop;
    _Atomic int exited;
    _Atomic int request; /* a snapshot reason asked for by a signal */
    int alone_seen;      /* the writer has seen nmt__main_exited */
    sigset_t app_mask;   /* the signal mask of the thread that started us */
    int jvm_possible;    /* a JVM is or may be in the process */
    int jvm_scanned;     /* the link map was looked at for one */
    int tables_ok;
    struct nmt_stacktab stacks;
    struct nmt_livetab live;
    struct nmt_mm mm;
    int mm_touched;
    uint32_t round;
    uint64_t round_max_seq;
    struct nmt_held *held;
    size_t held_n, held_cap;

    /* file: never held open between writes (nmt_os.c says why) */
    int file_created; /* path and file_id name the file we created */
    int fork_child;   /* a fork child's: its file waits for its first snapshot */
    int header_done;  /* HEADER and INFO are in the file */
    int file_failed;  /* not creatable, replaced or damaged: said once, no more writes */
    int write_said;   /* a lost write has been said on stderr */
    struct nmt_fileid file_id;
    char path[4200];
    uint32_t snap_seq;
    uint32_t stacks_written; /* ids 1..stacks_written have a STACK record */

    /* figures of the aggregate; the loss and error counters are nmt__ctr's
     * (nmt_state.h) */
    double live_est, last_snap_live;
    uint64_t samples, frees, mmap_events;
};

extern struct nmt_writer nmt__w;
int nmt__writer_init_tables(struct nmt_writer *w);
uint64_t nmt__writer_round(struct nmt_writer *w, int final);
/* Encodes and appends one snapshot (and any new stacks). */
void nmt__snapshot_write(struct nmt_writer *w, int reason);
/* Appends the JVM bridge's pending records outside a snapshot (creating the
 * file if needed): they are global to the file, not to a snapshot. */
void nmt__snapshot_side_records(struct nmt_writer *w);
/* Creates the profile with its HEADER and INFO and says where it is. */
void nmt__snapshot_open(struct nmt_writer *w);
/* At exit: one line saying where the profile is and how many snapshots it has. */
void nmt__snapshot_say_exit(struct nmt_writer *w);

#endif
