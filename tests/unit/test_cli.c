/*
 * The command line every compiled app gets (rill_main, through rill-pipe) and the rill tool:
 * --describe, --dot, --help, bad options and bad configuration with clear errors and exit codes.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

/* Runs cmd (stderr folded into stdout); returns the exit status and the output in out. */
static int run(const char *cmd, char *out, size_t size)
{
    char full[1024];
    snprintf(full, sizeof full, "%s 2>&1", cmd);
    FILE *p = popen(full, "r");
    assert_non_null(p);
    size_t n = fread(out, 1, size - 1, p);
    out[n] = 0;
    int status = pclose(p);
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

#define PIPE RILL_BIN_DIR "/rill-pipe"

static void test_describe(void **state)
{
    char out[4096];
    assert_int_equal(run(PIPE " --describe -- orders orders-copy", out, sizeof out), 0);
    assert_string_equal(out, "Topologies:\n"
                             "   Sub-topology: 0\n"
                             "    Source: from (topics: [orders])\n"
                             "      --> KSTREAM-SINK-0000000001\n"
                             "    Sink: KSTREAM-SINK-0000000001 (topic: orders-copy)\n"
                             "      <-- from\n\n");
}

static void test_dot(void **state)
{
    char out[4096];
    assert_int_equal(run(PIPE " --dot -- a b", out, sizeof out), 0);
    assert_non_null(strstr(out, "digraph topology {"));
    assert_non_null(strstr(out, "\"from\" -> \"KSTREAM-SINK-0000000001\";"));
}

static void test_help_and_usage_errors(void **state)
{
    char out[4096];
    assert_int_equal(run(PIPE " --help", out, sizeof out), 0);
    assert_non_null(strstr(out, "--bootstrap-servers"));
    assert_non_null(strstr(out, "--config-file"));
    assert_int_equal(run(PIPE " --no-such-option -- a b", out, sizeof out), 2);
    assert_int_equal(run(PIPE, out, sizeof out), 2);
    assert_non_null(strstr(out, "usage: rill-pipe"));
}

static void test_bad_config_names_the_key(void **state)
{
    char out[4096];
    assert_int_equal(
        run(PIPE " --config commit.interval.ms=soon --describe -- a b", out, sizeof out), 2);
    assert_non_null(strstr(out, "commit.interval.ms: 'soon' is not an integer"));
    assert_int_equal(run(PIPE " --config fetch.max.bytez=1 -- a b", out, sizeof out), 2);
    assert_non_null(strstr(out, "unknown configuration key 'fetch.max.bytez'"));
    assert_int_equal(run(PIPE " --config nonsense -- a b", out, sizeof out), 2);
    assert_non_null(strstr(out, "--config expects KEY=VALUE, got 'nonsense'"));
    assert_int_equal(run(PIPE " --threads 0 -- a b", out, sizeof out), 2);
    assert_non_null(strstr(out, "num.stream.threads: 0 is out of range"));
    assert_int_equal(run(PIPE " --config-file /nonexistent/rill.conf -- a b", out, sizeof out), 2);
    assert_non_null(strstr(out, "cannot open config file '/nonexistent/rill.conf'"));
}

static void test_unreachable_cluster_exits_with_error(void **state)
{
    char out[8192];
    assert_int_equal(run(PIPE " --bootstrap-servers 127.0.0.1:1 --config "
                              "cluster.connect.timeout.ms=500 -- a b",
                         out, sizeof out),
                     1);
    assert_non_null(strstr(out, "cannot reach the Kafka cluster at bootstrap.servers=127.0.0.1:1"));
}

static void test_rill_tool(void **state)
{
    char out[16384];
    assert_int_equal(run(RILL_BIN_DIR "/rill version", out, sizeof out), 0);
    assert_non_null(strstr(out, "rill 0."));
    assert_int_equal(run(RILL_BIN_DIR "/rill config --list", out, sizeof out), 0);
    assert_non_null(strstr(out, "commit.interval.ms=-1\n"));
    assert_int_equal(run(RILL_BIN_DIR "/rill frobnicate", out, sizeof out), 2);
    assert_non_null(strstr(out, "unknown command 'frobnicate'"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_describe),
        cmocka_unit_test(test_dot),
        cmocka_unit_test(test_help_and_usage_errors),
        cmocka_unit_test(test_bad_config_names_the_key),
        cmocka_unit_test(test_unreachable_cluster_exits_with_error),
        cmocka_unit_test(test_rill_tool),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
