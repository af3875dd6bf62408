/*
 * rb_seccomp.c: a program under a seccomp filter that kills the process on
 * the system calls a hardened service does not expect (systemd's
 * SystemCallFilter=@system-service leaves out @debug: process_vm_readv,
 * process_vm_writev, ptrace, perf_event_open; its default action kills).
 * The recorder must never make one of them.
 *   rb_seccomp churn N       N malloc/free pairs made from a frame with no
 *                            unwind tables whose frame pointer leads out of
 *                            the stack (rb_wild_fp.S), then one line
 *   rb_seccomp exec CMD ...  the same filter, then exec CMD (a JVM, say),
 *                            with LD_PRELOAD set to $RB_PRELOAD if that is
 *                            set (so that only CMD is recorded)
 * Exits 77 where the filter cannot be installed (not x86-64, no seccomp).
 */
#include <errno.h>
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#if defined(__x86_64__)
void *rb_wild_fp_call(void *(*fn)(size_t), size_t arg, void *fp);

#define KILL_IF(nr)                                                                                \
    BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, (nr), 0, 1),                                               \
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_KILL_PROCESS)

static int install_filter(void)
{
    struct sock_filter f[] = {
        BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, arch)),
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, AUDIT_ARCH_X86_64, 1, 0),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
        BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
        KILL_IF(__NR_process_vm_readv),
        KILL_IF(__NR_process_vm_writev),
        KILL_IF(__NR_ptrace),
        KILL_IF(__NR_perf_event_open),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
    };
    struct sock_fprog prog = {(unsigned short)(sizeof(f) / sizeof(f[0])), f};
    if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0 ||
        prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog) != 0) {
        fprintf(stderr, "rb_seccomp: cannot install the filter: %s\n", strerror(errno));
        return -1;
    }
    return 0;
}

/* Called from the frame without unwind tables: allocation i. */
__attribute__((noinline)) static void *alloc_one(size_t size)
{
    char *p = malloc(size);
    if (p != NULL)
        p[0] = (char)size;
    return p;
}

/* A fake frame outside every stack, where the frame pointer will lead. */
static void *wild_frame[64];

int main(int argc, char **argv)
{
    if (argc >= 3 && strcmp(argv[1], "exec") == 0) {
        if (install_filter() != 0)
            return 77;
        const char *preload = getenv("RB_PRELOAD");
        if (preload != NULL && setenv("LD_PRELOAD", preload, 1) != 0)
            return 127;
        execvp(argv[2], argv + 2);
        fprintf(stderr, "rb_seccomp: %s: %s\n", argv[2], strerror(errno));
        return 127;
    }
    if (argc != 3 || strcmp(argv[1], "churn") != 0) {
        fprintf(stderr, "usage: rb_seccomp churn N | rb_seccomp exec CMD [ARG...]\n");
        return 2;
    }
    int n = atoi(argv[2]);
    if (install_filter() != 0)
        return 77;
    unsigned long sum = 0;
    for (int i = 0; i < n; i++) {
        char *p = rb_wild_fp_call(alloc_one, 24 + (size_t)(i % 61) * 16, &wild_frame[16]);
        if (p == NULL)
            return 1;
        sum += (unsigned char)p[0];
        free(p);
    }
    printf("churn %d %lu\n", n, sum);
    return 0;
}
#else
int main(void)
{
    fprintf(stderr, "rb_seccomp: x86-64 only\n");
    return 77;
}
#endif
