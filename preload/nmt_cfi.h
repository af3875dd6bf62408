/*
 * nmt_cfi.h: the unwind rule of one code address, read from the loaded
 * objects' own call-frame tables (PT_GNU_EH_FRAME: .eh_frame_hdr and
 * .eh_frame, already mapped in memory), for the recorder's fast unwinder
 * (nmt_unwind.c). x86-64 only.
 *
 * A rule says how to get from a frame to its caller's frame:
 *   CFA            = (cfa_reg == NMT_CFI_RSP ? rsp : rbp) + cfa_off
 *   return address = the word at CFA - 8
 *   caller's rsp   = CFA
 *   caller's rbp   = rbp_how == NMT_CFI_SAME ? this frame's rbp
 *                                            : the word at CFA + rbp_off
 * Everything a table can say that does not fit this shape (a DWARF
 * expression, a signal frame, a return address saved elsewhere, a CFA based
 * on another register) is NMT_CFI_UNSUPPORTED: the caller then unwinds that
 * stack with libunwind, the reference.
 *
 * nmt_cfi_find() takes no lock, makes no system call when ip is in an object
 * it already knows, and allocates nothing; it only reads the tables of
 * objects that are mapped (before any object is unloaded the list of known
 * objects is dropped: nmt_cfi_forget()).
 */
#ifndef NMT_CFI_H
#define NMT_CFI_H

#include <stdatomic.h>
#include <stdint.h>

#include "nmt_attach.h"
#include "nmt_state.h"

enum { NMT_CFI_RBP = 6, NMT_CFI_RSP = 7 }; /* DWARF register numbers */
enum { NMT_CFI_SAME = 0, NMT_CFI_AT = 1 }; /* where the caller's rbp is */

struct nmt_cfi_rule {
    uint8_t cfa_reg; /* NMT_CFI_RSP or NMT_CFI_RBP */
    uint8_t rbp_how; /* NMT_CFI_SAME or NMT_CFI_AT */
    int16_t rbp_off; /* with NMT_CFI_AT: the caller's rbp is at CFA + rbp_off */
    int32_t cfa_off; /* CFA = cfa_reg + cfa_off */
};

enum nmt_cfi_result {
    NMT_CFI_OK = 0,          /* *out holds the rule */
    NMT_CFI_END = 1,         /* the outermost frame (return address undefined): stop */
    NMT_CFI_NOMODULE = 2,    /* ip is in no loaded object (JIT code, say) */
    NMT_CFI_NOFDE = 3,       /* the object has no entry covering ip */
    NMT_CFI_UNSUPPORTED = 4, /* a rule this shape cannot express */
};

/* The rule in force at code address ip. For a frame found through a
 * return address ra, pass ra - 1 (the call instruction, which may be the
 * last one of its function).
 * The list of known objects is (re)built by the lookup that needs it, with
 * one dl_iterate_phdr walk (the loader's lock, briefly): the first lookup,
 * the first after a forget, at most one miss per 2 ms (to see whether the
 * link map changed), and at most one hit per 100 ms (to notice objects glibc
 * unloaded by itself; nmt_cfi.c). Every other lookup takes no lock and
 * makes no system call, and is async-signal-safe (a walk is not: a
 * signal handler's lookup that needs one while its thread is inside a
 * rebuild answers NMT_CFI_NOMODULE instead of waiting). */
NMT_HIDDEN enum nmt_cfi_result nmt_cfi_find(uintptr_t ip, struct nmt_cfi_rule *out);

/* The published list of known objects and the generation (nmt_cfi.c):
 * generation << 32 | the list's index. Only nmt_cfi.c writes it. */
NMT_HIDDEN extern _Atomic uint64_t nmt__cfi_pub;

/* A generation number that changes whenever an object's rules may have gone
 * (an object unloaded): caches of rules keyed by address compare it. It
 * also moves whenever the list of known objects was rebuilt (an object
 * loaded, say), so a cached NMT_CFI_NOMODULE is stale then too. Read it
 * before the lookup whose answer is cached under it. Inline: the sampled
 * path reads it on every sample, where a call would cost the caller's
 * spills too. */
static inline uint32_t nmt_cfi_generation(void)
{
    return (uint32_t)(atomic_load_explicit(&nmt__cfi_pub, memory_order_acquire) >> 32);
}

/* An object may be about to be unloaded (called by the dlclose hook before
 * the real dlclose): forget every known object and move the generation on;
 * the list is rebuilt on the next lookup that misses. */
NMT_HIDDEN void nmt_cfi_forget(void);

/* 1 when nmt_cfi_forget() runs around every unload the program asks for:
 * under LD_PRELOAD, where the exported dlclose (nmt_dlclose.c) is the one
 * the process calls, and while attached (`nmtrace attach`, a JVMTI agent)
 * once every dlclose entry in the GOTs the attach rewrote calls our hook
 * (nmt__attach_unloads_seen). 0 otherwise: waiting for an attach, or
 * attached without that hook everywhere, where an object may be unloaded
 * unseen and the unwinder must not use nmt_cfi_find() but libunwind.
 * Inline: the sampled path asks every time (under LD_PRELOAD, one load). */
static inline int nmt_cfi_usable(void)
{
    return nmt__attach_none() ||
           atomic_load_explicit(&nmt__attach_unloads_seen, memory_order_relaxed);
}

#endif
