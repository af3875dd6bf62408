/*
 * nmt_attach.h: recording in a process we were loaded into late
 * (nmt_attach.c): `nmtrace attach PID`, `jcmd PID JVMTI.agent_load`.
 */
#ifndef NMT_ATTACH_H
#define NMT_ATTACH_H

#include <stdatomic.h>
#include <stdint.h>

/* Constructor: 1 when our malloc is not the one the process calls (we were
 * dlopen'ed, not preloaded): the recorder then waits for an attach. */
int nmt__attach_loaded_late(void);

/* Set by the constructor when it found nmt__attach_loaded_late(). */
extern int nmt__attach_dormant;

/* Nonzero once an attach has happened in this process (never reset): the
 * sampled path then brackets itself for detach (nmt__attach_hold). */
extern int nmt__attach_mode;

/* Neither attached nor waiting for an attach: under LD_PRELOAD, where the
 * dlclose hook sees every unload (nmt_cfi_usable()). */
static inline int nmt__attach_none(void)
{
    return !nmt__attach_dormant && !nmt__attach_mode;
}

/* Attached, and every dlclose entry of the process's objects that the
 * attach knows of calls nmt__got_dlclose (nmt_got.c): unloads are seen as
 * under LD_PRELOAD (nmt_cfi_usable()). Set after the GOT is rewritten,
 * cleared when an entry could not be, and before the detach puts them back. */
extern _Atomic int nmt__attach_unloads_seen;

/* Counts attaches (0 under LD_PRELOAD): a thread whose countdown was drawn
 * for an earlier one draws it again (nmt_hooks.c). */
extern uint32_t nmt__attach_session;

/* Sampled path, attach mode only: 1 and counted as inside the recorder
 * while recording, 0 (not counted) once a detach has begun. */
int nmt__attach_hold(void);
void nmt__attach_release(void);

/* 1 while a detach is stopping the writer: the JVM bridge stays up. */
int nmt__attach_detaching(void);

/* Detach: recording off, then a bounded wait (5 s) until no thread is in
 * the sampled path; returns 1 when none is (its memory may be reset). */
int nmt__attach_stop_begin(void);
void nmt__attach_stop_end(void);
/* 1 when no thread is inside the sampled path. */
int nmt__attach_quiet(void);

/*
 * Agent_OnAttach's work. options: comma-separated output=PATH, rate=BYTES,
 * interval=SECONDS, status=PATH (the client's file for the answer), or
 * detach. bridge(ctx, 1) starts or resumes the JVM bridge before any hook
 * is installed; bridge(ctx, 0) pauses it after a detach. Each returns NULL
 * or one line for the user (the bridge failed, or waits for the JVM), which
 * follows the answer as "warning LINE". Returns 0, or a positive code; the
 * reason is written to the status file (or said on stderr without one).
 */
typedef const char *(*nmt_attach_bridge_fn)(void *ctx, int on);
int nmt__attach_run(const char *options, nmt_attach_bridge_fn bridge, void *ctx)
    __attribute__((weak)); /* weak: the bridge is also built alone, for its tests */

/* 1 when the recorder waits for an attach (nmt__attach_dormant). */
int nmt__attach_waiting(void) __attribute__((weak));

/* What an attached profile says about its start, set by each attach
 * (nmt_attach.c) and read by the snapshot through nmt__attach_describe:
 * the client (via), the attach time (CLOCK_REALTIME), and the mappings
 * found then (the mmap model's baseline). */
struct nmt_attach_info {
    char via[16];
    uint64_t at_ns, base_reserved, base_committed;
};
extern struct nmt_attach_info nmt__attach_info;

/* INFO pairs of an attached profile (docs/FORMAT.md), from nmt__attach_info. */
void nmt__attach_describe(void (*add)(void *, const char *, const char *), void *ctx)
    __attribute__((weak)); /* weak: the writer's unit test links without it */

#endif
