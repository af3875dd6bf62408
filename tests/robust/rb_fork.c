/*
 * rb_fork.c: new processes under the recorder.
 *   rb_fork storm N    N forks one after the other; every 10th child forks a child of
 *                      its own; each child allocates, prints one line and exits
 *   rb_fork threads N  N forks while three threads malloc and free without pause
 *   rb_fork exec N     prints, leaks and execs itself with N-1, down to 0
 *   rb_fork spawn N    N posix_spawn()s of "rb_fork child I" while two threads allocate
 *   rb_fork vfork N    the same with vfork() and execv()
 *   rb_fork child I    a spawned child: allocates, prints one line
 * Parents wait for each child before going on, so the output's order is fixed.
 */
#include <spawn.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <pthread.h>
#include <sys/wait.h>
#include <unistd.h>

#include "rb_common.h"

extern char **environ;

static void child_work(int i)
{
    rb_leak_site(1000 + (size_t)i);
    printf("child %d: churn %llu\n", i, (unsigned long long)rb_churn(200, (unsigned)i));
}

static void wait_child(pid_t pid, int i)
{
    int st;
    rb_require(pid > 0, "fork");
    rb_require(waitpid(pid, &st, 0) == pid, "waitpid");
    if (!WIFEXITED(st) || WEXITSTATUS(st) != 0)
        printf("child %d ended badly: status %#x\n", i, st);
}

static int storm(int n)
{
    for (int i = 0; i < n; i++) {
        fflush(stdout);
        pid_t pid = fork();
        if (pid == 0) {
            child_work(i);
            if (i % 10 == 0) {
                fflush(stdout);
                pid_t g = fork();
                if (g == 0) {
                    child_work(1000 + i);
                    exit(0);
                }
                wait_child(g, 1000 + i);
            }
            exit(0);
        }
        wait_child(pid, i);
    }
    rb_leak_site(4096);
    printf("storm of %d done\n", n);
    printf("leaked %llu\n", (unsigned long long)rb_leaked_bytes());
    return 0;
}

static _Atomic int stop;

static void *allocate_until_stopped(void *arg)
{
    unsigned seed = (unsigned)(intptr_t)arg;
    while (!atomic_load(&stop))
        rb_churn(8, seed++);
    return NULL;
}

static void start_threads(pthread_t *t, int n)
{
    for (int i = 0; i < n; i++)
        rb_require(pthread_create(&t[i], NULL, allocate_until_stopped, (void *)(intptr_t)i) == 0,
                   "pthread_create");
}

static void stop_threads(pthread_t *t, int n)
{
    atomic_store(&stop, 1);
    for (int i = 0; i < n; i++)
        pthread_join(t[i], NULL);
}

static int threads(int n)
{
    pthread_t t[3];
    start_threads(t, 3);
    for (int i = 0; i < n; i++) {
        fflush(stdout);
        pid_t pid = fork();
        if (pid == 0) {
            child_work(i);
            exit(0);
        }
        wait_child(pid, i);
    }
    stop_threads(t, 3);
    rb_leak_site(4096);
    printf("%d forks beside allocating threads done\n", n);
    printf("leaked %llu\n", (unsigned long long)rb_leaked_bytes());
    return 0;
}

static int exec_chain(int level)
{
    rb_leak_site(2000 + (size_t)level);
    printf("exec level %d: churn %llu\n", level,
           (unsigned long long)rb_churn(500, (unsigned)level));
    if (level == 0) {
        printf("leaked %llu\n", (unsigned long long)rb_leaked_bytes());
        return 0;
    }
    fflush(stdout);
    char arg[16];
    snprintf(arg, sizeof(arg), "%d", level - 1);
    char *argv[] = {"rb_fork", "exec", arg, NULL};
    execv("/proc/self/exe", argv);
    rb_require(0, "execv");
    return 1;
}

static int spawn(int n, int use_vfork)
{
    pthread_t t[2];
    start_threads(t, 2);
    for (int i = 0; i < n; i++) {
        char arg[16];
        snprintf(arg, sizeof(arg), "%d", i);
        char *argv[] = {"rb_fork", "child", arg, NULL};
        fflush(stdout);
        pid_t pid;
        if (use_vfork) {
            pid = vfork();
            if (pid == 0) {
                execve("/proc/self/exe", argv, environ);
                _exit(127);
            }
        } else {
            rb_require(posix_spawn(&pid, "/proc/self/exe", NULL, NULL, argv, environ) == 0,
                       "posix_spawn");
        }
        wait_child(pid, i);
    }
    stop_threads(t, 2);
    rb_leak_site(4096);
    printf("%d %s children done\n", n, use_vfork ? "vfork" : "posix_spawn");
    printf("leaked %llu\n", (unsigned long long)rb_leaked_bytes());
    return 0;
}

int main(int argc, char **argv)
{
    const char *mode = argc > 1 ? argv[1] : "";
    int n = argc > 2 ? atoi(argv[2]) : -1;
    if (n < 0)
        mode = "";
    if (strcmp(mode, "storm") == 0)
        return storm(n);
    if (strcmp(mode, "threads") == 0)
        return threads(n);
    if (strcmp(mode, "exec") == 0)
        return exec_chain(n);
    if (strcmp(mode, "spawn") == 0)
        return spawn(n, 0);
    if (strcmp(mode, "vfork") == 0)
        return spawn(n, 1);
    if (strcmp(mode, "child") == 0) {
        child_work(n);
        return 0;
    }
    fprintf(stderr, "usage: rb_fork storm|threads|exec|spawn|vfork|child N\n");
    return 2;
}
