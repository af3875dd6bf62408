/*
 * prog_fork.c: fork and exec under the recorder. The parent leaks in
 * parent_leak_site, a fork child in child_leak_site, and an exec'ed copy of
 * this program in exec_leak_site; each process must write its own profile.
 *   prog_fork            the parent (forks, then fork+execs "prog_fork exec")
 *   prog_fork exec       the exec'ed child
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

void *fork_keep[1024]; /* global: the compiler must not drop the mallocs */
static int nkeep;

__attribute__((noinline)) void leak_blocks(int n)
{
    for (int i = 0; i < n; i++)
        fork_keep[nkeep++] = malloc(256 << 10);
}

__attribute__((noinline)) void parent_leak_site(void)
{
    leak_blocks(40);
}
__attribute__((noinline)) void child_leak_site(void)
{
    leak_blocks(24);
}
__attribute__((noinline)) void exec_leak_site(void)
{
    leak_blocks(12);
}

int main(int argc, char **argv)
{
    if (argc > 1 && strcmp(argv[1], "exec") == 0) {
        exec_leak_site();
        return 0;
    }
    parent_leak_site();
    pid_t c = fork();
    if (c == 0) {
        child_leak_site();
        exit(0);
    }
    int st;
    waitpid(c, &st, 0);
    pid_t e = fork();
    if (e == 0) {
        execl("/proc/self/exe", argv[0], "exec", (char *)NULL);
        _exit(127);
    }
    int st2;
    waitpid(e, &st2, 0);
    printf("{\"parent\": %d, \"child\": %d, \"exec\": %d, \"child_status\": %d, \"exec_status\": "
           "%d}\n",
           (int)getpid(), (int)c, (int)e, WEXITSTATUS(st), WEXITSTATUS(st2));
    return 0;
}
