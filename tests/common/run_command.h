/*
 * Running a program as a test's subject: its exit status and what it wrote (stderr folded into
 * stdout). Include after cmocka.h.
 */
#ifndef RILL_TESTS_RUN_COMMAND_H
#define RILL_TESTS_RUN_COMMAND_H

#include <stdarg.h>
#include <stdio.h>
#include <sys/wait.h>

/* Runs cmd through the shell; returns its exit status (-1 when it did not exit) and its output
 * in out (NUL-terminated, cut at size - 1 bytes). */
static inline int run(const char *cmd, char *out, size_t size)
{
    char full[4200];
    snprintf(full, sizeof full, "%s 2>&1", cmd);
    FILE *p = popen(full, "r");
    assert_non_null(p);
    size_t n = fread(out, 1, size - 1, p);
    out[n] = 0;
    int status = pclose(p);
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

/* Runs bin/rill with the arguments fmt makes; as run(). */
static inline int run_rill(char *out, size_t size, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static inline int run_rill(char *out, size_t size, const char *fmt, ...)
{
    char cmd[4096];
    int n = snprintf(cmd, sizeof cmd, "%s/rill ", RILL_BIN_DIR);
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(cmd + n, sizeof cmd - (size_t)n, fmt, ap);
    va_end(ap);
    return run(cmd, out, size);
}

#endif
