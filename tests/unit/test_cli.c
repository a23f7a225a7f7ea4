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

#include "../common/run_command.h"

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

/* The operator's commands: their help, and bad command lines refused with status 2 before
 * anything reaches a cluster. */
static void test_rill_admin_usage(void **state)
{
    static const struct {
        const char *args;
        int status;
        const char *says;
    } cases[] = {
        {"--help", 0, "dlq list|show|replay"},
        {"reset --help", 0, "--by-duration PT1H"},
        {"reset --application-id a", 2, "reset needs --application-id and --input-topics"},
        {"reset --application-id a --input-topics t --to-earliest --to-offset 5", 2,
         "reset takes one of --to-earliest"},
        {"reset --application-id a --input-topics t --to-datetime tomorrow", 2,
         "--to-datetime: 'tomorrow' is not a date and time"},
        {"reset --application-id a --input-topics t --by-duration 1h", 2,
         "--by-duration: '1h' is not an ISO-8601 duration"},
        {"dlq list", 2, "dlq list needs --topic"},
        {"dlq", 2, "rill dlq show --topic DLQ --partition P --offset N"},
        {"dlq purge --topic d", 2, "unknown dlq command 'purge'"},
        {"dlq show --topic d", 2, "dlq show needs --partition and --offset"},
        {"dlq replay --topic d --max-replays 0", 2,
         "--max-replays: '0' is not a count of at least 1"},
        {"replay --application-id a --from PT1H", 2,
         "replay needs --application-id, --new-application-id"},
        {"replay --frobnicate", 2, "unknown or incomplete option '--frobnicate'"},
    };
    char out[16384];
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        assert_int_equal(run_rill(out, sizeof out, "%s", cases[i].args), cases[i].status);
        if (!strstr(out, cases[i].says))
            fail_msg("rill %s: expected \"%s\" in:\n%s", cases[i].args, cases[i].says, out);
    }
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
        cmocka_unit_test(test_rill_admin_usage),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
