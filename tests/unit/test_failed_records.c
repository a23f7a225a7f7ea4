/*
 * Failed records through the test driver: the deserialization and processing exception handlers
 * (fail, continue, a user handler) and the dead letter queue (KIP-1034): the dead letter holds
 * the input's key and value bytes unchanged, its timestamp and headers, and the __streams.errors.*
 * headers naming what failed where; every good record is processed once around the bad ones.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include "../common/test_records.h"

#include <rill/app.h>
#include <rill/dsl.h>
#include <rill/test_driver.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../common/unlucky.h"

/* int32 in -> describe -> string out: a value of the wrong size fails at the source, 13 at the
 * map. */
static rill_topology_t *topology(void)
{
    rill_topology_t *topo = rill_topology_new();
    rill_source_opts_t in = {.value_serde = rill_serde_int32()};
    rill_stream_t *s = rill_stream_from_topic(topo, "in", &in);
    rill_stream_t *m =
        rill_stream_as(rill_stream_map_values(s, unlucky_describe, NULL), "describe");
    assert_int_equal(rill_stream_to(m, "out", NULL), 0);
    return topo;
}

/* Pipes the int32 v (big-endian, as Kafka's IntegerSerializer writes it). */
static int pipe_int(rill_test_driver_t *td, const char *key, int32_t v, int64_t ts)
{
    uint8_t b[4];
    unlucky_be32(b, v);
    return rill_test_driver_pipe(td, "in", -1, rill_buf_str(key), (rill_buf_t){b, 4}, ts);
}

static rill_conf_t *conf_with(const char *const *kv)
{
    rill_conf_t *conf = rill_conf_new();
    char err[256];
    assert_int_equal(rill_conf_set(conf, "default.key.serde", "string", err, sizeof err), 0);
    assert_int_equal(rill_conf_set(conf, "default.value.serde", "string", err, sizeof err), 0);
    for (size_t i = 0; kv && kv[i]; i += 2)
        if (rill_conf_set(conf, kv[i], kv[i + 1], err, sizeof err))
            fail_msg("%s: %s", kv[i], err);
    return conf;
}

static rill_test_driver_t *driver(rill_topology_t *topo, const char *const *kv)
{
    rill_conf_t *conf = conf_with(kv);
    char err[512];
    rill_test_driver_t *td = rill_test_driver_new(topo, conf, 0, err, sizeof err);
    if (!td)
        fail_msg("rill_test_driver_new: %s", err);
    rill_conf_destroy(conf);
    return td;
}

static void assert_header(const rill_test_record_t *r, const char *name, const char *want)
{
    char buf[512];
    const char *got = header(r, name, buf, sizeof buf);
    if (!got || strcmp(got, want) != 0)
        fail_msg("header %s is '%s', not '%s'", name, got ? got : "(none)", want);
}

static void assert_header_has(const rill_test_record_t *r, const char *name, const char *part)
{
    char buf[512];
    const char *got = header(r, name, buf, sizeof buf);
    if (!got || !strstr(got, part))
        fail_msg("header %s is '%s', without '%s'", name, got ? got : "(none)", part);
}

static const char *const KV_CONTINUE_DLQ[] = {"deserialization.exception.handler",
                                              "continue",
                                              "processing.exception.handler",
                                              "continue",
                                              "errors.dead.letter.queue.topic.name",
                                              "dlq",
                                              NULL};

/* Good records around a wrong-size int and a 13: the good ones come out once, in order; each
 * bad one is in the dead letter queue once, bytes and headers as the issue asks. */
static void test_dead_letters_continue(void **state)
{
    (void)state;
    rill_topology_t *topo = topology();
    rill_test_driver_t *td = driver(topo, KV_CONTINUE_DLQ);
    const rill_header_t trace = {"trace-id", rill_buf_str("t-42")};
    assert_int_equal(pipe_int(td, "k1", 1, 10), 0);
    assert_int_equal(rill_test_driver_pipe_headers(td, "in", -1, rill_buf_str("k2"),
                                                   (rill_buf_t){"\x01\x02\x03", 3}, 20, &trace, 1),
                     0);
    assert_int_equal(pipe_int(td, "k3", 13, 30), 0);
    assert_int_equal(pipe_int(td, "k4", 2, 40), 0);

    rill_test_record_t r;
    const char *want[] = {"n=1", "n=2"};
    for (int i = 0; i < 2; i++) {
        assert_int_equal(rill_test_driver_read(td, "out", &r), 0);
        assert_int_equal(r.value.len, strlen(want[i]));
        assert_memory_equal(r.value.data, want[i], r.value.len);
    }
    assert_int_equal(rill_test_driver_unread(td, "out"), 0);
    assert_int_equal(rill_test_driver_metric(td, "records-skipped"), 2);
    assert_int_equal(rill_test_driver_metric(td, "dead-letters"), 2);

    /* The 3-byte int: its bytes, timestamp and header unchanged, and what failed where. */
    assert_int_equal(rill_test_driver_read(td, "dlq", &r), 0);
    assert_int_equal(r.key.len, 2);
    assert_memory_equal(r.key.data, "k2", 2);
    assert_int_equal(r.value.len, 3);
    assert_memory_equal(r.value.data, "\x01\x02\x03", 3);
    assert_int_equal(r.timestamp, 20);
    assert_header(&r, "trace-id", "t-42");
    assert_header(&r, "__streams.errors.exception", "rill.DeserializationError(RILL_ESERDE)");
    assert_header_has(&r, "__streams.errors.message", "cannot deserialize the value");
    assert_header(&r, "__streams.errors.topic", "in");
    assert_header(&r, "__streams.errors.partition", "0");
    assert_header(&r, "__streams.errors.offset", "1");
    assert_header(&r, "__streams.errors.timestamp", "20");
    assert_header(&r, "__streams.errors.processor.node.id", "KSTREAM-SOURCE-0000000000");
    assert_header(&r, "__streams.errors.task.id", "0_0");
    assert_header(&r, "__streams.errors.application.id", "test-driver");

    /* The 13: failed by the map node, its input bytes unchanged. */
    assert_int_equal(rill_test_driver_read(td, "dlq", &r), 0);
    assert_int_equal(r.value.len, 4);
    assert_memory_equal(r.value.data, "\0\0\0\x0d", 4);
    assert_header(&r, "__streams.errors.exception", "rill.ProcessingError(RILL_EPROCESS)");
    assert_header_has(&r, "__streams.errors.message", "13 is unlucky");
    assert_header(&r, "__streams.errors.offset", "2");
    assert_header(&r, "__streams.errors.processor.node.id", "describe");
    assert_int_equal(rill_test_driver_unread(td, "dlq"), 0);
    rill_test_driver_destroy(td);
    rill_topology_unref(topo);
}

/* fail (the default): the error names the node, topic, partition and offset; with a dead letter
 * queue the record is there too. */
static void test_fail_names_the_record(void **state)
{
    (void)state;
    rill_topology_t *topo = topology();
    rill_test_driver_t *td = driver(topo, NULL);
    assert_int_equal(pipe_int(td, "k1", 1, 10), 0);
    assert_int_equal(pipe_int(td, "k2", 13, 20), RILL_EPROCESS);
    const char *e = rill_test_driver_error(td);
    if (!strstr(e, "node 'describe': 13 is unlucky") ||
        !strstr(e, "topic 'in' partition 0 offset 1"))
        fail_msg("the error is '%s'", e);
    assert_int_equal(rill_test_driver_metric(td, "dead-letters"), 0);
    rill_test_driver_destroy(td);

    const char *const kv[] = {"errors.dead.letter.queue.topic.name", "dlq", NULL};
    td = driver(topo, kv);
    assert_int_equal(pipe_int(td, "k2", 13, 20), RILL_EPROCESS);
    assert_int_equal(rill_test_driver_unread(td, "dlq"), 1);
    rill_test_driver_destroy(td);
    rill_topology_unref(topo);
}

typedef struct {
    int calls;
    rill_error_kind_t kind;
    char node[64], topic[32], message[512];
    size_t value_len;
    int32_t partition;
    int64_t offset, timestamp;
} seen_t;

static rill_handler_result_t remember(void *ud, const rill_error_context_t *c)
{
    seen_t *s = ud;
    s->calls++;
    s->kind = c->kind;
    snprintf(s->node, sizeof s->node, "%s", c->node ? c->node : "");
    snprintf(s->topic, sizeof s->topic, "%s", c->topic);
    s->value_len = c->value.len;
    snprintf(s->message, sizeof s->message, "%s", c->message);
    s->partition = c->partition;
    s->offset = c->offset;
    s->timestamp = c->timestamp;
    return RILL_HANDLER_CONTINUE;
}

/* A user handler sees the whole error context and its decision wins over the property's. */
static void test_user_handler(void **state)
{
    (void)state;
    rill_topology_t *topo = topology();
    rill_conf_t *conf = conf_with(NULL);
    seen_t seen = {0};
    rill_conf_set_exception_handler(conf, RILL_ERROR_PROCESSING, remember, &seen);
    char err[512];
    rill_test_driver_t *td = rill_test_driver_new(topo, conf, 0, err, sizeof err);
    assert_non_null(td);
    rill_conf_destroy(conf);
    assert_int_equal(pipe_int(td, "k1", 13, 77), 0);
    assert_int_equal(pipe_int(td, "k1", 5, 78), 0);
    assert_int_equal(seen.calls, 1);
    assert_int_equal(seen.kind, RILL_ERROR_PROCESSING);
    assert_string_equal(seen.node, "describe");
    assert_string_equal(seen.topic, "in");
    assert_int_equal(seen.value_len, 4);
    assert_int_equal(seen.partition, 0);
    assert_int_equal(seen.offset, 0);
    assert_int_equal(seen.timestamp, 77);
    assert_non_null(strstr(seen.message, "13 is unlucky"));
    assert_int_equal(rill_test_driver_unread(td, "out"), 1);
    /* Deserialization errors still go by their property: fail. */
    assert_int_equal(rill_test_driver_pipe_str(td, "in", "k1", "nope!", 79), RILL_ESERDE);
    assert_int_equal(seen.calls, 1);
    rill_test_driver_destroy(td);
    rill_topology_unref(topo);
}

/* Kafka Streams 4's name overrides the default. spelling, which stays. */
static void test_handler_property_names(void **state)
{
    (void)state;
    rill_topology_t *topo = topology();
    const char *const old_name[] = {"default.deserialization.exception.handler", "continue", NULL};
    rill_test_driver_t *td = driver(topo, old_name);
    assert_int_equal(rill_test_driver_pipe_str(td, "in", "k", "nope!", 1), 0);
    rill_test_driver_destroy(td);
    const char *const both[] = {"default.deserialization.exception.handler", "continue",
                                "deserialization.exception.handler", "fail", NULL};
    td = driver(topo, both);
    assert_int_equal(rill_test_driver_pipe_str(td, "in", "k", "nope!", 1), RILL_ESERDE);
    rill_test_driver_destroy(td);
    rill_topology_unref(topo);
}

/* errors.dead.letter.queue.late.records: a record a window drops as late goes to the dead letter
 * queue as it was read; without it, only the metric counts it. */
static void test_late_records(void **state)
{
    (void)state;
    rill_topology_t *topo = rill_topology_new();
    rill_source_opts_t in = {.key_serde = rill_serde_string(), .value_serde = rill_serde_string()};
    rill_grouped_t *g = rill_stream_group_by_key(rill_stream_from_topic(topo, "in", &in), NULL);
    rill_table_t *counts =
        rill_windowed_count(rill_grouped_windowed_by(g, rill_windows_tumbling(10000, 0)), NULL);
    assert_int_equal(rill_stream_to(rill_table_to_stream(counts), "out", NULL), 0);
    for (int late = 0; late < 2; late++) {
        const char *const kv[] = {"errors.dead.letter.queue.topic.name", "dlq",
                                  "errors.dead.letter.queue.late.records", late ? "true" : "false",
                                  NULL};
        rill_test_driver_t *td = driver(topo, kv);
        assert_int_equal(rill_test_driver_pipe_str(td, "in", "k", "now", 25000), 0);
        assert_int_equal(rill_test_driver_pipe_str(td, "in", "k", "too late", 1000), 0);
        assert_int_equal(rill_test_driver_metric(td, "late-records-dropped"), 1);
        assert_int_equal(rill_test_driver_unread(td, "dlq"), (size_t)late);
        if (late) {
            rill_test_record_t r;
            assert_int_equal(rill_test_driver_read(td, "dlq", &r), 0);
            assert_int_equal(r.value.len, 8);
            assert_memory_equal(r.value.data, "too late", 8);
            assert_int_equal(r.timestamp, 1000);
            assert_header(&r, "__streams.errors.exception", "rill.LateRecord(RILL_EINVAL)");
            assert_header_has(&r, "__streams.errors.message", "dropped a late record");
            assert_header(&r, "__streams.errors.offset", "1");
            assert_int_equal(rill_test_driver_metric(td, "dead-letters"), 1);
        }
        rill_test_driver_destroy(td);
    }
    rill_topology_unref(topo);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_dead_letters_continue), cmocka_unit_test(test_fail_names_the_record),
        cmocka_unit_test(test_user_handler),          cmocka_unit_test(test_handler_property_names),
        cmocka_unit_test(test_late_records),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
