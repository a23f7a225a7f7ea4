/*
 * The app at its edges, on the embedded cluster: a pattern source that matches no topic yet
 * (the app runs with no task and picks the topic up when it appears, as Kafka Streams does), and
 * the metrics' one definition (records-processed as the test driver counts it; values kept
 * after close; -1 for an unknown name before start, while running and after close).
 */
#define _GNU_SOURCE
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <rill/app.h>
#include <rill/dsl.h>

#include <stdatomic.h>
#include <stdio.h>
#include <string.h>

#include "../common/embedded_app.h"
#include "../common/kafka_util.h"
#include "../common/temp_dir.h"

static void count(void *ud, const rill_record_t *rec)
{
    atomic_fetch_add((atomic_int *)ud, 1);
}

static void produce(const char *bootstrap, const char *topic, int n, const char *value)
{
    char err[256];
    rill_producer_t *p = rill_producer_new(bootstrap, err, sizeof err);
    if (!p)
        fail_msg("rill_producer_new: %s", err);
    for (int i = 0; i < n; i++) {
        char k[16];
        snprintf(k, sizeof k, "k%d", i);
        assert_int_equal(
            rill_producer_send(p, topic, -1, rill_buf_str(k), rill_buf_str(value), 1000 + i), 0);
    }
    assert_int_equal(rill_producer_flush(p, 10000), 0);
    rill_producer_destroy(p);
}

/* "events-.*" matches nothing at start: the app goes RUNNING with no task (it stayed in
 * REBALANCING forever), then a matching topic appears, and its records come out. */
static void test_pattern_matching_no_topic_yet(void **state)
{
    char dir[64];
    assert_int_equal(temp_dir_make(dir, "pattern"), 0);
    atomic_int seen = 0;
    rill_topology_t *topo = rill_topology_new();
    rill_stream_t *s = rill_stream_from_pattern(topo, "events-.*", NULL);
    rill_stream_to(rill_stream_peek(s, count, &seen), "pattern-out", NULL);
    /* A new topic is seen at the consumer's next metadata refresh (librdkafka's
     * topic.metadata.refresh.interval.ms, 5 minutes by default, as Kafka's metadata.max.age.ms).
     * Not a divisor of the mock coordinator's join delays (3 s, then 5 s): librdkafka 2.0.2's
     * group leader rejoins when a periodic refresh lands while it waits for the assignor's
     * metadata (rd_kafka_cgrp_metadata_update_check in WAIT_METADATA), and a join started by a
     * refresh every 500 ms ends exactly on the next one, again and again. */
    const char *extra[] = {"consumer.topic.metadata.refresh.interval.ms", "1300", NULL};
    rill_app_t *app = embedded_app_new(topo, "pattern-app", dir, extra);
    assert_int_equal(rill_app_start(app), 0);
    assert_int_equal(rill_app_wait_state(app, RILL_STATE_RUNNING, 30000), 0);
    assert_int_equal(rill_app_metric(app, "tasks"), 0);

    produce(rill_app_bootstrap_servers(app), "events-eu", 50, "hello");
    wait_counter(&seen, 50, 30000);
    assert_int_equal(rill_app_wait_state(app, RILL_STATE_RUNNING, 30000), 0);
    assert_true(rill_app_metric(app, "tasks") > 0);
    char values[50][32];
    assert_int_equal(kafka_read_all(rill_app_bootstrap_servers(app), "pattern-out", 50, values),
                     50);
    assert_string_equal(values[0], "hello");
    assert_int_equal(rill_app_close(app, 10000), 0);
    rill_app_destroy(app);
    rill_topology_unref(topo);
    assert_int_equal(temp_dir_remove(dir), 0);
}

/* The app counts records-processed as the test driver does (tests/unit/test_metrics.c): the
 * records the topology got, not the ones skipped at deserialization; the values stay after close;
 * an unknown name is -1 whatever the state. */
static void test_metrics_one_definition_and_after_close(void **state)
{
    char dir[64];
    assert_int_equal(temp_dir_make(dir, "metrics"), 0);
    atomic_int seen = 0;
    rill_topology_t *topo = rill_topology_new();
    rill_source_opts_t in = {.key_serde = rill_serde_string(), .value_serde = rill_serde_int64()};
    rill_stream_t *s = rill_stream_from_topic(topo, "metrics-in", &in);
    rill_stream_foreach(s, count, &seen);
    const char *extra[] = {"deserialization.exception.handler", "continue", NULL};
    rill_app_t *app = embedded_app_new(topo, "metrics-app", dir, extra);
    assert_int_equal(rill_app_metric(app, "no-such-metric"), -1);
    assert_int_equal(rill_app_metric(app, NULL), -1);
    assert_int_equal(rill_app_metric(app, "records-processed"), 0);

    char err[256];
    rill_producer_t *p = rill_producer_new(rill_app_bootstrap_servers(app), err, sizeof err);
    assert_non_null(p);
    for (int i = 0; i < 40; i++) {
        int64_t v = i;
        /* One in four is 3 bytes, which the int64 serde cannot read. */
        rill_buf_t value = i % 4 == 3 ? rill_buf_str("bad") : (rill_buf_t){&v, sizeof v};
        assert_int_equal(rill_producer_send(p, "metrics-in", -1, rill_buf_str("k"), value, 1000),
                         0);
    }
    assert_int_equal(rill_producer_flush(p, 10000), 0);
    rill_producer_destroy(p);

    assert_int_equal(rill_app_start(app), 0);
    wait_counter(&seen, 30, 30000);
    for (int waited = 0; rill_app_metric(app, "records-skipped") < 10 && waited < 10000;
         waited += 10) {
        struct timespec ts = {0, 10 * 1000000};
        nanosleep(&ts, NULL);
    }
    assert_int_equal(rill_app_metric(app, "no-such-metric"), -1);
    assert_int_equal(rill_app_metric(app, "records-processed"), 30);
    assert_int_equal(rill_app_metric(app, "records-skipped"), 10);
    assert_int_equal(rill_app_close(app, 10000), 0);
    /* After close: the counters keep their values; the gauge of tasks is 0. */
    assert_int_equal(rill_app_metric(app, "records-processed"), 30);
    assert_int_equal(rill_app_metric(app, "records-skipped"), 10);
    assert_true(rill_app_metric(app, "commits") > 0);
    assert_true(rill_app_metric(app, "rebalances") > 0);
    assert_int_equal(rill_app_metric(app, "tasks"), 0);
    assert_int_equal(rill_app_metric(app, "no-such-metric"), -1);
    rill_app_destroy(app);
    rill_topology_unref(topo);
    assert_int_equal(temp_dir_remove(dir), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_pattern_matching_no_topic_yet),
        cmocka_unit_test(test_metrics_one_definition_and_after_close),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
