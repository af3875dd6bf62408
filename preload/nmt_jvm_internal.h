/*
 * nmt_jvm_internal.h: what the JVM bridge's files share (names nmt__jvm_...).
 *
 * nmt_jvm.c: life cycle (finding the JVM, attaching, Agent_OnLoad, the
 * bridge thread, shutdown); Agent_OnAttach is nmt_attach_agent.c, built
 * with the bridge. nmt_jvm_dlsym.c (with nmt_jvm_dlsym_stub.S):
 * the exported dlsym that catches JNI_CreateJavaVM. nmt_jvm_stack.c: the
 * sampled path and the java.* counters of a snapshot. nmt_jvm_walk.c: the
 * Java stack walker (HotSpot's frames read through its VMStructs), with
 * AsyncGetCallTrace where it declines.
 * nmt_jvm_methods.c: method serials, naming methods (JMETHOD).
 * nmt_jvm_code.c: JVMTI code events (JCODE). nmt_jvm_queue.c: records
 * waiting for the writer. nmt_jvm_state.c: the state below that the others
 * share, and the striped counters. nmt_jvm_glue.c: the bridge's only contact
 * with the recorder. Nothing here is exported from libnmtrace.so.
 */
#ifndef NMT_JVM_INTERNAL_H
#define NMT_JVM_INTERNAL_H

#include <jni.h>
#include <jvmti.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "nmt_jvm.h"

#define NMT_JVM_HIDDEN __attribute__((visibility("hidden")))

/* Bridge states, also written as the counter java.state. */
enum nmt__jvm_state {
    NMT_JVM_OFF = 0,      /* NMTRACE_JAVA=off */
    NMT_JVM_WAITING = 1,  /* no JVM (yet) */
    NMT_JVM_STARTING = 2, /* JVM found, the bridge is attaching or waits for the live phase */
    NMT_JVM_ATTACHED = 3, /* Java stacks are being taken */
    NMT_JVM_FAILED = 4,   /* attaching failed; said once on stderr, told to an attaching tool */
    NMT_JVM_STOPPED = 5,  /* shutdown or VMDeath: the JVM is no longer called */
};
NMT_JVM_HIDDEN extern _Atomic int nmt__jvm_state;

/* AsyncGetCallTrace's interface (not in any JDK header). */
struct nmt__asgct_frame {
    jint lineno; /* bytecode index; -3 for a native method */
    jmethodID method;
};
struct nmt__asgct_trace {
    JNIEnv *env;
    jint num_frames; /* frames, or a negative reason (NMT_JST_ERR_*) */
    struct nmt__asgct_frame *frames;
};
typedef void (*nmt__asgct_fn)(struct nmt__asgct_trace *trace, jint depth, void *ucontext);

/* Set once the bridge is attached (AsyncGetCallTrace may stay NULL: then no
 * Java stacks, only names for code events). Read by application threads. */
NMT_JVM_HIDDEN extern _Atomic(nmt__asgct_fn) nmt__jvm_asgct;
NMT_JVM_HIDDEN extern JavaVM *_Atomic nmt__jvm_vm;
/* 1 once a created JVM was seen (before the bridge attaches). */
NMT_JVM_HIDDEN extern _Atomic int nmt__jvm_found;
/* How the bridge was started, the counter java.attach_via. */
enum nmt__jvm_via {
    NMT_JVM_VIA_NONE = 0,
    NMT_JVM_VIA_POLL = 1,     /* the writer found a JVM created without our dlsym */
    NMT_JVM_VIA_ONLOAD = 2,   /* -agentpath, at VMInit */
    NMT_JVM_VIA_ONATTACH = 3, /* dynamic attach */
    NMT_JVM_VIA_CREATE = 4,   /* LD_PRELOAD: JNI_CreateJavaVM returned (nmt_jvm_dlsym.c) */
};
NMT_JVM_HIDDEN extern _Atomic int nmt__jvm_via;

/*
 * Counters (nmt_jvm_state.c: relaxed, striped by thread so application
 * threads on the sampled path rarely share a cache line). Their names are in
 * nmt_jvm_stack.c.
 */
enum nmt__jvm_stat {
    NMT_JST_OK = 0,        /* samples with Java frames appended */
    NMT_JST_ERR_FIRST = 1, /* AsyncGetCallTrace result 0 .. -10: index 1 + (-code) */
    NMT_JST_ERR_LAST = 11,
    NMT_JST_ERR_OTHER = 12, /* a result outside 0 .. -10 */
    NMT_JST_NOT_ATTACHED,   /* a JVM is being created or was found, the bridge not attached */
    NMT_JST_FAILED,         /* the bridge failed to attach (said once on stderr) */
    NMT_JST_STOPPED,        /* after VMDeath or the recorder's exit */
    NMT_JST_NO_ASGCT,       /* attached to a JVM without AsyncGetCallTrace */
    NMT_JST_NOT_JAVA,       /* the thread is not attached to the JVM */
    NMT_JST_NO_ROOM,        /* the native frames filled the buffer */
    NMT_JST_TRUNCATED,      /* the Java stack was cut to fit */
    NMT_JST_BAD_FRAME,      /* a frame whose method id does not fit the raw form */
    NMT_JST_TRIMMED,        /* native frames in the code cache replaced by Java frames */
    NMT_JST_METHODS,        /* method serials assigned */
    NMT_JST_NAMED,          /* JMETHOD records with names */
    NMT_JST_UNNAMED,        /* JMETHOD records whose method was gone (class unloaded) */
    NMT_JST_CLASSES,        /* classes whose method ids were created */
    NMT_JST_CODE_LOAD,      /* CompiledMethodLoad events */
    NMT_JST_CODE_UNLOAD,    /* CompiledMethodUnload events */
    NMT_JST_CODE_DYNAMIC,   /* DynamicCodeGenerated events */
    NMT_JST_RECORDS_LOST,   /* JMETHOD/JCODE records lost (memory, queue full, write error) */
    NMT_JST_INTERNAL,       /* other internal failures (out of memory) */
    NMT_JST_LIVE_WAIT_NS,   /* ns the bridge's start waited for the JVM's live phase */
    NMT_JST_UNTRIMMED,      /* stacks with no native frame in the code cache: not written,
                               java.trimmed_native is java.stacks less these */
    NMT_JST_WALK_OWN,       /* stacks taken by the bridge's own walker (nmt_jvm_walk.c) */
    NMT_JST_WALK_DECLINED,  /* stacks it handed to AsyncGetCallTrace */
    NMT_JST_WALK_CHECKED,   /* NMTRACE_JAVA_WALK=check: stacks both took and compared */
    NMT_JST_WALK_MISMATCH,  /* ... of which differed */
    NMT_JST_WALK_REFUSED,   /* ... the walker took, AsyncGetCallTrace refused */
    NMT_JST_COUNT
};
NMT_JVM_HIDDEN void nmt__jvm_count(enum nmt__jvm_stat s, uint64_t v);
NMT_JVM_HIDDEN uint64_t nmt__jvm_stat_get(enum nmt__jvm_stat s);

/*
 * The bridge's own Java stack walker (nmt_jvm_walk.c). Modes, in
 * NMTRACE_JAVA_WALK's order (common/nmc_vars.c): the walker with
 * AsyncGetCallTrace where it declines, AsyncGetCallTrace only, or both on
 * every stack, compared (the profile gets AsyncGetCallTrace's).
 */
enum nmt__jvm_walk_mode { NMT_WALK_AUTO = 0, NMT_WALK_ASGCT = 1, NMT_WALK_CHECK = 2 };
/* A thread in native code with a JNIEnv, at each attach: reads HotSpot's
 * layout once (sym: a dlsym for jvm, libjvm's handle) and sets the mode. */
NMT_JVM_HIDDEN void nmt__jvm_walk_init(void *(*sym)(void *, const char *), void *jvm, JNIEnv *jni,
                                       int mode);
/* The mode in effect: NMT_WALK_ASGCT while no layout was read. */
NMT_JVM_HIDDEN int nmt__jvm_walk_mode(void);
/* 1 once the layout was read and the walker can take stacks. */
NMT_JVM_HIDDEN int nmt__jvm_walk_ready(void);
/* Application thread, sampled path: the calling thread's Java frames, as
 * AsyncGetCallTrace would give them (at most depth), or -1: declined. */
NMT_JVM_HIDDEN int nmt__jvm_walk(JNIEnv *env, struct nmt__asgct_frame *out, uint32_t depth);
/* Check mode, on the calling thread: lets AsyncGetCallTrace walk an anchor
 * whose instruction pointer HotSpot has not filled in yet (1: filled, to be
 * undone with nmt__jvm_walk_unfill after the call). */
NMT_JVM_HIDDEN int nmt__jvm_walk_fill(JNIEnv *env);
NMT_JVM_HIDDEN void nmt__jvm_walk_unfill(JNIEnv *env);
/* NMTRACE_JAVA_WALK (nmt_jvm_glue.c). Weak: a test harness without it gets
 * NMT_WALK_AUTO. */
NMT_JVM_HIDDEN int nmt__jvm_walk_config(void) __attribute__((weak));

/* The code cache's extent as seen in code events: [lo, hi), lo == 0 until known. */
NMT_JVM_HIDDEN void nmt__jvm_code_range_add(uint64_t start, uint64_t size);

/*
 * Raw Java frames between nmt_jvm_append and nmt_jvm_translate: bit 63 set,
 * bits 60-62 the file's frame type, 44-59 the bytecode index (0xffff when
 * unknown), 0-43 the jmethodID shifted right by 3 (jmethodIDs are 8-aligned
 * C-heap pointers below 2^47).
 */
#define NMT_JRAW_BCI_SHIFT 44
#define NMT_JRAW_BCI_NONE  0xffffull
#define NMT_JRAW_ID_MASK   ((1ull << 44) - 1)

/* Method serials (nmt_jvm_methods.c). Serial 0 means "no method". Thread-safe:
 * a short mutex, never held across a JVM call. Returns 0 on out-of-memory. */
NMT_JVM_HIDDEN uint32_t nmt__jvm_method_serial(jmethodID id);
/* The same for many ids under one hold of the table's mutex: lock, then any
 * number of serial_locked (no JVM call in between), then unlock. */
NMT_JVM_HIDDEN void nmt__jvm_methods_lock(void);
NMT_JVM_HIDDEN uint32_t nmt__jvm_method_serial_locked(jmethodID id);
NMT_JVM_HIDDEN void nmt__jvm_methods_unlock(void);
/* Names the methods queued since the last call (JMETHOD records): the
 * bridge thread, or a JVM thread that must see them named now. */
NMT_JVM_HIDDEN void nmt__jvm_methods_resolve(jvmtiEnv *ti, JNIEnv *jni);
/* Waits up to ms until no nmt__jvm_methods_resolve is naming a batch it
 * took off the queue; 1 when none is. */
NMT_JVM_HIDDEN int nmt__jvm_methods_settle(int ms);
/* Bridge thread: waits up to ms for methods to name or a stop; 1 = stop. */
NMT_JVM_HIDDEN int nmt__jvm_methods_wait(int ms);
NMT_JVM_HIDDEN void nmt__jvm_methods_stop(void);
/* Any thread: wakes the bridge thread out of nmt__jvm_methods_wait. */
NMT_JVM_HIDDEN void nmt__jvm_methods_kick(void);

/* The JVM's own accounts (nmt_jvm_accounts.c). Bridge thread: 1 when a
 * snapshot waits for them (the first call also says a bridge answers), and
 * reading them. Fork child: forget the parent's. The counters
 * (java.accounts_*) are weak: test harnesses may leave the file out. */
NMT_JVM_HIDDEN int nmt__jvm_accounts_due(void);
NMT_JVM_HIDDEN void nmt__jvm_accounts_refresh(JNIEnv *jni);
NMT_JVM_HIDDEN void nmt__jvm_accounts_after_fork(void);
NMT_JVM_HIDDEN void nmt__jvm_accounts_counters(nmt_counter_fn add, void *ctx) __attribute__((weak));
NMT_JVM_HIDDEN void nmt__jvm_methods_after_fork(void);
/* A new attach (a new profile): every method gets a new serial and is named
 * again. */
NMT_JVM_HIDDEN void nmt__jvm_methods_forget(void);

/* JVMTI callbacks of code events (nmt_jvm_code.c). */
NMT_JVM_HIDDEN void JNICALL nmt__jvm_on_code_load(jvmtiEnv *ti, jmethodID method, jint size,
                                                  const void *addr, jint map_len,
                                                  const jvmtiAddrLocationMap *map,
                                                  const void *info);
NMT_JVM_HIDDEN void JNICALL nmt__jvm_on_code_unload(jvmtiEnv *ti, jmethodID method,
                                                    const void *addr);
NMT_JVM_HIDDEN void JNICALL nmt__jvm_on_dynamic_code(jvmtiEnv *ti, const char *name,
                                                     const void *addr, jint length);

/* Pending records (nmt_jvm_queue.c): copies payload; -ENOMEM/-ENOSPC when dropped. */
NMT_JVM_HIDDEN int nmt__jvm_queue_push(uint16_t type, const void *payload, uint32_t len);
NMT_JVM_HIDDEN void nmt__jvm_queue_after_fork(void);

/* The recorder's CLOCK_MONOTONIC in nanoseconds (nmt_jvm_glue.c), the
 * clock of JCODE times. */
NMT_JVM_HIDDEN uint64_t nmt__jvm_now_ns(void);

/*
 * The recorder's re-entrancy guard, for threads the bridge runs code on
 * (its own thread, JVMTI callbacks on JVM threads): their allocations go to
 * the real allocator unrecorded. Nests.
 */
NMT_JVM_HIDDEN void nmt__jvm_guard_enter(void);
NMT_JVM_HIDDEN void nmt__jvm_guard_leave(void);

/*
 * The JNI_CreateJavaVM hook (nmt_jvm_dlsym.c calls these, any thread).
 * want: 1 when the lookup should be taken over (bridge enabled, not
 * started). hooked: the wrapper was handed out for a lookup in handle; the
 * poll leaves that JVM to it. creating: the wrapper is about to create a
 * JVM. created: it returned (vm NULL when creation failed): the bridge
 * starts on this thread.
 */
NMT_JVM_HIDDEN int nmt__jvm_want_create_hook(void);
NMT_JVM_HIDDEN void nmt__jvm_create_hooked(void *handle);
NMT_JVM_HIDDEN void nmt__jvm_creating(void);
NMT_JVM_HIDDEN void nmt__jvm_created(JavaVM *vm, JNIEnv *jni);
/* Agent_OnAttach (nmt_attach_agent.c). attach_start: the bridge thread is
 * started (VIA_ONATTACH) when no attach is to run. attach_bridge: the
 * bridge callback of nmt__attach_run (nmt_attach.h): on = 1 starts or
 * resumes the bridge (on the attaching thread; on the bridge thread once
 * the JVM is live, if it is not yet), on = 0 stops its code events after a
 * detach. Returns NULL, or one line for the attaching tool's user: the
 * bridge failed (once per attach session), or its start waits for the JVM. */
NMT_JVM_HIDDEN void nmt__jvm_attach_start(JavaVM *vm);
NMT_JVM_HIDDEN const char *nmt__jvm_attach_bridge(void *vm, int on);
/* The stub's predicate: where dlsym(handle, name) jumps to. */
NMT_JVM_HIDDEN void *nmt__jvm_dlsym_route(void *handle, const char *name);

/* dlsym, replaceable by tests (a JVM without AsyncGetCallTrace). */
NMT_JVM_HIDDEN extern void *(*nmt__jvm_dlsym)(void *handle, const char *name);

/* VMDeath, before the last naming: waits, briefly and bounded, until the
 * writer has translated the stacks sampled so far, so their methods are
 * queued while JVMTI can still name them. Weak: test harnesses may omit it. */
NMT_JVM_HIDDEN void nmt__jvm_wait_writer(void) __attribute__((weak));

/* dl_iterate_phdr through the recorder's fork gate (nmt_forkgate.c), so the
 * link map's lock is never held across a fork. Weak: test harnesses omit it,
 * and iterate_objects() (nmt_jvm.c) then calls dl_iterate_phdr itself. */
struct dl_phdr_info;
NMT_JVM_HIDDEN int nmt__jvm_iterate_objects(int (*cb)(struct dl_phdr_info *, size_t, void *),
                                            void *arg) __attribute__((weak));

/* Wakes the recorder's writer (its queue of records wants writing out).
 * Weak: test harnesses omit it. */
NMT_JVM_HIDDEN void nmt__jvm_wake_writer(void) __attribute__((weak));

/* NMTRACE_DEPTH: Java frames kept per stack at most, as native frames are.
 * Weak: without it (a test harness) the bridge's own limit, 512. */
NMT_JVM_HIDDEN uint32_t nmt__jvm_depth(void) __attribute__((weak));

/* One line on stderr (honours NMTRACE_QUIET through the recorder). */
NMT_JVM_HIDDEN void nmt__jvm_say(const char *msg);

#endif
