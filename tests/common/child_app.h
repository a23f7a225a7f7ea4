/*
 * A test's app in a child process, to SIGKILL: the test binary runs itself again with other
 * arguments (see child_app_spawn), and the child says on a pipe when its app runs. Include after
 * cmocka.h. Header-only: each test binary includes it once.
 */
#ifndef RILL_TESTS_CHILD_APP_H
#define RILL_TESTS_CHILD_APP_H

#include <rill/app.h>

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

typedef struct {
    pid_t pid;
    int ready_fd; /* readable once the child's app runs */
    char label[32];
} child_app_t;

/* The child that runs now, for a teardown to kill when a test fails half way. */
static pid_t child_app_live;

/* Starts this binary again as argv[0] "--child" LABEL FD args... (args ends in NULL), its stderr
 * appended to log. Between fork and exec only async-signal-safe calls: the parent has other
 * threads (librdkafka's). */
static inline child_app_t child_app_spawn(const char *label, const char *log,
                                          const char *const *args)
{
    child_app_t c = {.ready_fd = -1};
    snprintf(c.label, sizeof c.label, "%s", label);
    char fd_arg[16];
    int fds[2];
    assert_int_equal(pipe(fds), 0);
    snprintf(fd_arg, sizeof fd_arg, "%d", fds[1]);
    const char *argv[24] = {"child", "--child", label, fd_arg};
    size_t n = 4;
    for (size_t i = 0; args[i] && n < 23; i++)
        argv[n++] = args[i];
    argv[n] = NULL;
    fflush(stdout);
    pid_t pid = fork();
    if (pid == 0) {
        prctl(PR_SET_PDEATHSIG, SIGKILL); /* never outlive the test */
        int fd = open(log, O_WRONLY | O_CREAT | O_APPEND, 0644);
        if (fd >= 0)
            dup2(fd, 2);
        close(fds[0]);
        execv("/proc/self/exe", (char *const *)argv);
        _exit(127);
    }
    assert_true(pid > 0);
    close(fds[1]);
    c.pid = child_app_live = pid;
    c.ready_fd = fds[0];
    return c;
}

/* In the child: says on fd (argv[3] of the child) that the app runs, having restored restored
 * records. */
static inline int child_app_ready(int fd, long long restored)
{
    char msg[32];
    int len = snprintf(msg, sizeof msg, "R%lld\n", restored);
    int rc = write(fd, msg, (size_t)len) == len ? 0 : -1;
    close(fd);
    return rc;
}

/* In the child: runs app until SIGTERM (blocked before the app's threads start, so only this
 * thread takes it), then closes it; returns 0 after a clean close of a healthy app. */
static inline int child_app_run(rill_app_t *app, int ready_fd)
{
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &set, NULL);
    if (rill_app_start(app) || rill_app_wait_state(app, RILL_STATE_RUNNING, 60000) ||
        child_app_ready(ready_fd, (long long)rill_app_metric(app, "records-restored")))
        return 1;
    int sig;
    sigwait(&set, &sig);
    int rc = rill_app_close(app, 30000);
    return rc || rill_app_state(app) == RILL_STATE_ERROR ? 1 : 0;
}

/* Waits until the child says its app runs; returns how many records it restored. Fails the
 * test when the child ends first or 60 s pass. */
static inline long long child_app_wait_running(child_app_t *c)
{
    struct pollfd pfd = {.fd = c->ready_fd, .events = POLLIN};
    char b[32] = "";
    ssize_t n = 0;
    while (!strchr(b, '\n') && n < (ssize_t)sizeof b - 1) {
        if (poll(&pfd, 1, 60000) != 1)
            break;
        ssize_t r = read(c->ready_fd, b + n, sizeof b - 1 - (size_t)n);
        if (r <= 0)
            break;
        n += r;
        b[n] = 0;
    }
    if (b[0] != 'R' || !strchr(b, '\n'))
        fail_msg("child %s ended or did not run within 60 s (see its log)", c->label);
    close(c->ready_fd);
    c->ready_fd = -1;
    return atoll(b + 1);
}

/* SIGKILLs the child and reaps it. */
static inline void child_app_kill(child_app_t *c)
{
    assert_int_equal(kill(c->pid, SIGKILL), 0);
    int status = 0;
    assert_int_equal(waitpid(c->pid, &status, 0), c->pid);
    assert_true(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
    child_app_live = 0;
    if (c->ready_fd >= 0)
        close(c->ready_fd);
    c->ready_fd = -1;
}

/* SIGTERMs the child and checks that it closed its app cleanly. */
static inline void child_app_stop(child_app_t *c)
{
    assert_int_equal(kill(c->pid, SIGTERM), 0);
    int status = 0;
    assert_int_equal(waitpid(c->pid, &status, 0), c->pid);
    child_app_live = 0;
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
        fail_msg("child %s did not close cleanly (status %d; see its log)", c->label, status);
}

/* A cmocka teardown: kills the child a failed test left running. */
static inline int child_app_teardown(void **state)
{
    (void)state;
    if (child_app_live > 0) {
        kill(child_app_live, SIGKILL);
        waitpid(child_app_live, NULL, 0);
        child_app_live = 0;
    }
    return 0;
}

#endif
