/*
 * nmt_jvm.h: the JVM bridge as the recorder sees it (docs/ARCHITECTURE.md).
 *
 * The bridge finds a HotSpot JVM in the process, attaches to it with a
 * thread of its own, splices Java frames (its own walker of HotSpot's frames,
 * AsyncGetCallTrace where that declines) above the native
 * frames of sampled allocations, and writes the names of the Java methods
 * and the history of the code cache into the profile (docs/FORMAT.md §5).
 * Everything here is safe to call in a process without a JVM, and cheap:
 * no system call, no timed wake-up (nmt_jvm_wants_poll stays 0).
 *
 * This is the bridge's one declaration. Every entry point is weak (NMT_JVM_API):
 * a recorder built without the bridge (NMT_JAVA_BRIDGE=OFF) finds them NULL
 * and records native stacks only; in a build with it, the bridge's own
 * definitions are the only ones.
 */
#ifndef NMT_JVM_H
#define NMT_JVM_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#define NMT_JVM_API __attribute__((weak))

/* Writer thread (or init), before the first nmt_jvm_poll: 1 = NMTRACE_JAVA=auto, 0 = off. */
NMT_JVM_API void nmt_jvm_configure(int enabled);

/* Writer thread, at every wake-up: finds a JVM that was created without the
 * dlsym hook (nmt_jvm_dlsym.c) and starts the bridge's own thread. Without
 * libjvm.so it only glances at the link map when objects were loaded. */
NMT_JVM_API void nmt_jvm_poll(void);

/* Any thread: 1 while nmt_jvm_poll needs to be called about every 50 ms
 * (libjvm.so is loaded and the bridge not started by other means); 0 means
 * the writer may sleep until it has other work. */
NMT_JVM_API int nmt_jvm_wants_poll(void);

/* Any thread: 1 once the bridge has started (or failed, or stopped) and no
 * longer needs the writer's poll; from then on the writer need not wake on a
 * timer for the bridge: the bridge wakes it when its queue of records passes
 * NMT_JVM_FLUSH_BYTES. */
NMT_JVM_API int nmt_jvm_settled(void);
#define NMT_JVM_FLUSH_BYTES (4u << 20)

/*
 * Application thread, sampled path only, with the re-entrancy guard set.
 * frames[0..n) are native frames, leaf first. Appends the Java frames of the
 * calling thread in a raw form (bit 63 set) that only nmt_jvm_translate
 * understands, possibly dropping trailing native frames that are JIT or
 * interpreter code, and returns the new count (<= max). Takes no lock and
 * never calls into the JVM except GetEnv and AsyncGetCallTrace (only for a
 * stack the bridge's own walker declines); returns n unchanged
 * (counting why) when no Java stack can be taken.
 */
NMT_JVM_API uint32_t nmt_jvm_append(uint64_t *frames, uint32_t n, uint32_t max);

/* Application thread: nonzero once a JVM was seen in this process. Before
 * that nmt_jvm_append returns n at once and counts nothing, so the sampled
 * path skips the call on this one load. Its address is NULL in a recorder
 * built without the bridge. */
NMT_JVM_API extern _Atomic int nmt__jvm_found;

/* Any thread, lock-free: 1 when pc lies in the JVM's code cache as its code
 * events have shown it so far (the interpreter, stubs, compiled methods),
 * where a native unwinder may stop: nmt_jvm_append replaces the frames from
 * the first such one on with Java frames. 0 without a bridge attached. */
NMT_JVM_API int nmt_jvm_in_code(uint64_t pc);

/*
 * Writer thread: turns the raw Java frames of frames[0..n) into file frames
 * (docs/FORMAT.md STACK, bit 63) with method serials, queueing the methods
 * not seen before to be named. Call it before the stack is interned.
 * Returns the new count (<= n).
 */
NMT_JVM_API uint32_t nmt_jvm_translate(uint64_t *frames, uint32_t n);

/* Writer thread: writes the pending JMETHOD/JCODE records through emit
 * (0 or -errno; on error the record is counted as lost, not retried). */
typedef int (*nmt_emit_fn)(void *ctx, uint16_t type, const void *payload, uint32_t len);
NMT_JVM_API void nmt_jvm_flush(nmt_emit_fn emit, void *ctx);

/* Writer thread (or the thread taking the final snapshot), at a snapshot:
 * ask asks the bridge thread for the JVM's own accounts (nothing is asked
 * once the JVM is stopping); emit waits for them at most 100 ms after the
 * ask and writes the newest ones (a JACCOUNTS record) through emit.
 * Nothing is written before the first reading. */
NMT_JVM_API void nmt_jvm_accounts_ask(void);
NMT_JVM_API void nmt_jvm_accounts_emit(nmt_emit_fn emit, void *ctx);

/* Bytes of JMETHOD/JCODE records waiting for nmt_jvm_flush (at most 64 MiB
 * are kept; beyond that records are lost and counted): lets the writer flush
 * between snapshots when much is pending. Any thread. */
NMT_JVM_API size_t nmt_jvm_pending_bytes(void);

/* Writer thread, at each snapshot: adds the java.* counters (FORMAT.md §5). */
typedef void (*nmt_counter_fn)(void *ctx, const char *name, int64_t value);
NMT_JVM_API void nmt_jvm_counters(nmt_counter_fn add, void *ctx);

/* A detach, on the thread taking its final snapshot (a JVM thread: the
 * attach listener), after the last rounds: names on this thread the methods
 * those rounds found in stacks and queued, and waits (at most 200 ms) for
 * the naming the bridge thread has in hand, so that the session's profile
 * names every method its stacks show. Nothing when the bridge is not
 * attached or this thread is not the JVM's. */
NMT_JVM_API void nmt_jvm_name_now(void);

/* Exit path: stop taking Java stacks and stop calling into the JVM, which
 * may be shutting down. Never blocks on the JVM. */
NMT_JVM_API void nmt_jvm_shutdown(void);

/* Fork child (from the recorder's atfork child handler): the bridge thread
 * and the JVM's threads are gone, so the bridge stops in the child; its locks
 * are reset and records queued for the parent's profile are dropped. */
NMT_JVM_API void nmt_jvm_after_fork_child(void);

#endif
