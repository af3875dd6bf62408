/*
 * rb_seccomp.c: a program under the seccomp filter of a hardened systemd
 * service: SystemCallFilter=@system-service allows the system calls listed
 * in $RB_ALLOW (numbers, comma-separated: seccomp_allow.py makes the list
 * from system_service.txt) and, without SystemCallErrorNumber=, kills the
 * process on any other. The recorder must make none of those.
 *   rb_seccomp churn N       N malloc/free pairs made from a frame with no
 *                            unwind tables whose frame pointer leads out of
 *                            the stack (rb_wild_fp.S), then one line
 *   rb_seccomp exec CMD ...  the same filter, then exec CMD (a JVM, say),
 *                            with LD_PRELOAD set to $RB_PRELOAD if that is
 *                            set (so that only CMD is recorded)
 * Exits 77 where the filter cannot be installed (not x86-64, no seccomp, no
 * $RB_ALLOW).
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
#include <unistd.h>

#if defined(__x86_64__)
void *rb_wild_fp_call(void *(*fn)(size_t), size_t arg, void *fp);

#define MAX_ALLOW 1024

static int install_filter(void)
{
    static struct sock_filter f[4 + 2 * MAX_ALLOW + 1];
    const char *list = getenv("RB_ALLOW");
    if (list == NULL || *list == '\0') {
        fprintf(stderr, "rb_seccomp: RB_ALLOW is not set\n");
        return -1;
    }
    size_t n = 0;
    f[n++] =
        (struct sock_filter)BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, arch));
    f[n++] = (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, AUDIT_ARCH_X86_64, 1, 0);
    f[n++] = (struct sock_filter)BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_KILL_PROCESS);
    f[n++] =
        (struct sock_filter)BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr));
    for (const char *p = list; *p != '\0' && n < sizeof(f) / sizeof(f[0]) - 1;) {
        char *end;
        unsigned long nr = strtoul(p, &end, 10);
        if (end == p)
            break;
        f[n++] = (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, (unsigned)nr, 0, 1);
        f[n++] = (struct sock_filter)BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW);
        p = *end == ',' ? end + 1 : end;
    }
    f[n++] = (struct sock_filter)BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_KILL_PROCESS);
    struct sock_fprog prog = {(unsigned short)n, f};
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
