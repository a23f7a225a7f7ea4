/*
 * A test's child process: a program (often the test's own binary, "/proc/self/exe", with an
 * argument that makes it the app) run beside the test, so the test can SIGKILL it. Include after
 * cmocka.h.
 */
#ifndef RILL_TESTS_CHILD_H
#define RILL_TESTS_CHILD_H

#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <sys/prctl.h>
#include <unistd.h>

/* Forks and runs path with argv (NULL-terminated, argv[0] the name), its stderr appended to
 * log, killed when the test dies; close_fd (-1: none) is closed in the child. Between fork and
 * exec only async-signal-safe calls: the parent has other threads (librdkafka's). Returns the
 * child's pid; the test fails when it cannot fork. */
static inline pid_t child_spawn(const char *log, int close_fd, const char *path, char *const *argv)
{
    fflush(stdout);
    pid_t pid = fork();
    if (pid == 0) {
        prctl(PR_SET_PDEATHSIG, SIGKILL); /* never outlive the test */
        int fd = open(log, O_WRONLY | O_CREAT | O_APPEND, 0644);
        if (fd >= 0)
            dup2(fd, 2);
        if (close_fd >= 0)
            close(close_fd);
        execv(path, argv);
        _exit(127);
    }
    assert_true(pid > 0);
    return pid;
}

#endif
