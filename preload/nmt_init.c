/*
 * nmt_init.c: the recorder's life cycle: start, fork, dump signal, exit.
 *
 * The constructor reads the configuration, finds the real functions, learns
 * where our own code lies (so stacks can drop our frames), and starts the
 * writer thread. Allocations made before it runs pass straight through.
 * Under AT_SECURE (setuid and similar) nmtrace records nothing: it only finds
 * the real functions and forwards every call to them. At exit
 * the destructor takes the final snapshot and turns recording off; threads
 * still running then are passed through, and none of them waits for a full
 * ring any more. When the main thread ends with pthread_exit, the writer
 * ends the process with exit(0) once only it is left, as glibc would have
 * done on the last thread's exit (the destructor then runs on the writer
 * thread). A fork child clears the rings and tables it inherited and starts
 * its own writer at its first event (nmt__child_start in nmt_writer.c), and
 * its file at its first snapshot; an exec'ed program loads us afresh and
 * writes its own file.
 */
#include <dlfcn.h>
#include <link.h>
#include <pthread.h>
#include <signal.h>
#include <string.h>
#include <sys/auxv.h>
#include <time.h>
#include <unistd.h>

#include "nmt_attach.h"
#include "nmt_internal.h"
#include "nmt_format.h"
#include "nmt_writer.h"

NMT_HIDDEN NMT_NO_ASAN void nmt__ensure_init(void)
{
    if (atomic_load_explicit(&nmt__disabled, memory_order_relaxed))
        return;
    nmt__resolve_real();
}

/* Our own executable segment, from the program headers of the object that
 * contains this function. */
static int find_self(struct dl_phdr_info *info, size_t size, void *arg)
{
    (void)size;
    uintptr_t me = (uintptr_t)arg;
    for (int i = 0; i < info->dlpi_phnum; i++) {
        const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
        if (ph->p_type != PT_LOAD)
            continue;
        uintptr_t lo = info->dlpi_addr + ph->p_vaddr, hi = lo + ph->p_memsz;
        if (me >= lo && me < hi) {
            nmt__hint_self(info->dlpi_name);
            for (int j = 0; j < info->dlpi_phnum; j++) {
                const ElfW(Phdr) *x = &info->dlpi_phdr[j];
                if (x->p_type == PT_LOAD && (x->p_flags & PF_X)) {
                    nmt__self_lo = info->dlpi_addr + x->p_vaddr;
                    nmt__self_hi = nmt__self_lo + x->p_memsz;
                }
            }
            return 1;
        }
    }
    return 0;
}

static void on_dump_signal(int sig)
{
    (void)sig;
    nmt__writer_request(NMT_SNAP_SIGNAL); /* one atomic store: async-signal-safe */
}

static void atfork_child(void)
{
    nmt__gate_fork_child();
    if (atomic_load_explicit(&nmt__state, memory_order_relaxed) != NMT_ON)
        return;
    nmt__threads_after_fork(nmt__tls.thr);
    nmt__writer_after_fork();
    nmt__counters_after_fork();
    nmt__tls.main_thread = 0;
    nmt__thread_arm_main(); /* the forking thread leads the child's group */
    if (nmt_jvm_after_fork_child != NULL)
        nmt_jvm_after_fork_child(); /* its thread is not in the child; reset its locks */
    nmt__start_realtime = nmt__clock_ns(CLOCK_REALTIME);
    nmt__start_monotonic = nmt__clock_ns(CLOCK_MONOTONIC);
    atomic_store_explicit(&nmt__child_pending, 1, memory_order_release);
}

__attribute__((constructor(101))) static void nmt_init(void)
{
    if (getauxval(AT_SECURE)) {
        /* Resolved before disabling: once disabled nothing resolves them,
         * and every allocation would come from the bootstrap arena until it
         * ran out. */
        nmt__tls.guard++;
        nmt__resolve_real();
        nmt__tls.guard--;
        atomic_store(&nmt__disabled, 1);
        return;
    }
    nmt__tls.guard++;
    nmt__config_load();
    nmt__rate_mode(nmt__cfg.rate);
    if (nmt__every)
        nmt__boot_pin(); /* every page: at rate 1 every free is recorded */
    nmt__start_realtime = nmt__clock_ns(CLOCK_REALTIME);
    nmt__start_monotonic = nmt__clock_ns(CLOCK_MONOTONIC);
    if (!nmt__cfg.seed_set)
        nmt__cfg.seed = nmt__start_realtime ^ ((uint64_t)getpid() << 32);
    if (nmt__resolve_real() != 0) {
        nmt__say("nmtrace: cannot find the real allocator functions; not recording");
        atomic_store(&nmt__disabled, 1);
        nmt__tls.guard--;
        return;
    }
    dl_iterate_phdr(find_self, (void *)(uintptr_t)&find_self);
    /* Before any event, also of an attach later: the sequence's numbers of
     * one process all come from one source. */
    nmt__seq_clock = nmt__os_seq_clock_usable();
    nmt__unwind_init();
    nmt__thread_init_key();
    nmt__thread_arm_main();
    pthread_atfork(nmt__gate_fork_prepare, nmt__gate_fork_parent, atfork_child);
    if (nmt_jvm_configure != NULL)
        nmt_jvm_configure(nmt__cfg.java);
    if (nmt__attach_loaded_late()) {
        /* dlopen'ed into a live process: nothing calls our hooks until an
         * attach rewrites the GOT entries (nmt_attach.c). */
        nmt__attach_dormant = 1;
        nmt__tls.guard--;
        return;
    }
    if (nmt__cfg.dump_signal) {
        struct sigaction sa;
        memset(&sa, 0, sizeof(sa));
        sa.sa_handler = on_dump_signal;
        sa.sa_flags = SA_RESTART;
        sigemptyset(&sa.sa_mask);
        sigaction(nmt__cfg.dump_signal, &sa, NULL);
    }
    if (nmt__writer_start() != 0) {
        nmt__say("nmtrace: cannot start the writer thread; not recording");
        nmt__tls.guard--;
        return;
    }
    atomic_store_explicit(&nmt__state, NMT_ON, memory_order_release);
    nmt__tls.guard--;
}

__attribute__((destructor(101))) static void nmt_fini(void)
{
    if (atomic_load_explicit(&nmt__state, memory_order_acquire) != NMT_ON)
        return;
    nmt__tls.guard++;
    /* A fork child whose writer never started takes its final snapshot
     * inline (nmt__writer_stop); no writer may start from here on. */
    atomic_store(&nmt__child_pending, 0);
    atomic_store_explicit(&nmt__state, NMT_STOPPED, memory_order_release);
    nmt__writer_stop();
    nmt__tls.guard--;
}
