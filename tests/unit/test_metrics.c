/*
 * The metrics' one definition, in the test driver (the app's side is in
 * tests/integration/test_app_edges.c): records-processed counts the records a task gave to the
 * topology (not those skipped at deserialization, which records-skipped counts), unknown names
 * are -1 even before any task exists, and the records an aggregation skips for a null key are
 * logged: the first, then one in 1,000.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <rill/dsl.h>
#include <rill/test_driver.h>

#include <stdio.h>
#include <string.h>

static int null_key_lines;
static char last_line[1024];

static void capture(void *opaque, rill_log_level_t level, const char *component, const char *msg)
{
    if (strstr(msg, "its key is null")) {
        null_key_lines++;
        snprintf(last_line, sizeof last_line, "%s", msg);
    }
}

/* in (string keys, int64 values) -> count per key -> counts. */
static rill_test_driver_t *counting_driver(void)
{
    rill_topology_t *topo = rill_topology_new();
    rill_source_opts_t in = {.key_serde = rill_serde_string(), .value_serde = rill_serde_int64()};
    rill_table_t *counts =
        rill_grouped_count(rill_stream_group_by_key(rill_stream_from_topic(topo, "in", &in), NULL),
                           &(rill_materialized_t){.name = "counts", .no_caching = true});
    rill_stream_to(rill_table_to_stream(counts), "counts", NULL);
    char err[512];
    rill_conf_t *conf = rill_conf_new();
    assert_int_equal(
        rill_conf_set(conf, "deserialization.exception.handler", "continue", err, sizeof err), 0);
    assert_int_equal(rill_conf_set(conf, "default.dsl.store", "in_memory", err, sizeof err), 0);
    rill_test_driver_t *td = rill_test_driver_new(topo, conf, 0, err, sizeof err);
    if (!td)
        fail_msg("rill_test_driver_new: %s", err);
    rill_conf_destroy(conf);
    rill_topology_unref(topo);
    return td;
}

static int pipe_i64(rill_test_driver_t *td, const char *key, int64_t v, int64_t ts)
{
    rill_buf_t k = key ? rill_buf_str(key) : (rill_buf_t){NULL, 0};
    return rill_test_driver_pipe(td, "in", -1, k, (rill_buf_t){&v, sizeof v}, ts);
}

static void test_records_processed_excludes_deserialization_skips(void **state)
{
    rill_test_driver_t *td = counting_driver();
    /* No task has seen a record yet: unknown names are -1 all the same, known ones 0. */
    assert_int_equal(rill_test_driver_metric(td, "no-such-metric"), -1);
    assert_int_equal(rill_test_driver_metric(td, "records-produced"), -1); /* the app's only */
    assert_int_equal(rill_test_driver_metric(td, "records-processed"), 0);
    rill_set_log_cb(capture, NULL, RILL_LOG_DEBUG);
    for (int i = 0; i < 7; i++)
        assert_int_equal(pipe_i64(td, i % 2 ? "a" : "b", i, 1000 + i), 0);
    for (int i = 0; i < 3; i++)
        assert_int_equal(pipe_i64(td, NULL, i, 2000 + i), 0); /* null keys: skipped by count */
    /* Two values of 3 bytes, which the int64 serde cannot read: skipped by the handler. */
    for (int i = 0; i < 2; i++)
        assert_int_equal(
            rill_test_driver_pipe(td, "in", -1, rill_buf_str("a"), rill_buf_str("bad"), 3000 + i),
            0);
    rill_set_log_cb(NULL, NULL, RILL_LOG_INFO);
    /* Processed: every record the topology got, the null-key ones included (Kafka Streams'
     * process-total); not the two it never got. */
    assert_int_equal(rill_test_driver_metric(td, "records-processed"), 10);
    assert_int_equal(rill_test_driver_metric(td, "records-skipped"), 3 + 2);
    assert_int_equal(rill_test_driver_unread(td, "counts"), 7);
    rill_test_driver_destroy(td);
}

static void test_null_keys_are_logged_first_then_every_1000(void **state)
{
    rill_test_driver_t *td = counting_driver();
    null_key_lines = 0;
    rill_set_log_cb(capture, NULL, RILL_LOG_INFO);
    for (int i = 0; i < 2001; i++)
        assert_int_equal(pipe_i64(td, NULL, i, 1000 + i), 0);
    rill_set_log_cb(NULL, NULL, RILL_LOG_INFO);
    /* The 1st, the 1001st and the 2001st. */
    assert_int_equal(null_key_lines, 3);
    if (!strstr(last_line, "topic 'in' partition 0 offset 2000"))
        fail_msg("the line does not name the record: %s", last_line);
    assert_int_equal(rill_test_driver_metric(td, "records-skipped"), 2001);
    assert_int_equal(rill_test_driver_metric(td, "records-processed"), 2001);
    rill_test_driver_destroy(td);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_records_processed_excludes_deserialization_skips),
        cmocka_unit_test(test_null_keys_are_logged_first_then_every_1000),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
