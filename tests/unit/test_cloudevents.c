/*
 * The CloudEvents serde (serde/cloudevents.c) through the topology test driver: events read in
 * binary mode written structured and back, the spec's Kafka protocol binding (ce_ headers,
 * content-type as datacontenttype, application/cloudevents+json, data_base64 for data that is
 * not JSON), extensions (partitionkey) kept, and the events that are not valid ones refused by
 * the deserialization handler, naming what is wrong, into the dead letter queue.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "../common/test_records.h"

#include <rill/app.h>
#include <rill/dsl.h>
#include <rill/test_driver.h>

#include <stdio.h>
#include <string.h>

typedef struct {
    bool bytes; /* the data serde is bytes, not json */
    int seen;
    char id[64], source[64], type[64], ctype[64], partitionkey[64];
    int64_t amount;
} seen_t;

static void look(void *ud, const rill_record_t *rec)
{
    seen_t *s = ud;
    const rill_cloudevent_t *ev = rec->value.data;
    s->seen++;
    snprintf(s->id, sizeof s->id, "%s", ev->id);
    snprintf(s->source, sizeof s->source, "%s", ev->source);
    snprintf(s->type, sizeof s->type, "%s", ev->type);
    snprintf(s->ctype, sizeof s->ctype, "%s", ev->datacontenttype ? ev->datacontenttype : "");
    const char *pk = rill_cloudevent_extension(ev, "partitionkey");
    snprintf(s->partitionkey, sizeof s->partitionkey, "%s", pk ? pk : "");
    s->amount = -1;
    if (ev->data.data && !s->bytes && rill_json_type(ev->data.data) == RILL_JSON_OBJECT)
        rill_json_get_int(ev->data.data, "amount", &s->amount);
}

/* in (any mode, JSON data) -> look -> out-structured and out-binary. */
static rill_test_driver_t *driver(rill_topology_t **topo, seen_t *seen, rill_serde_t *data,
                                  bool dlq)
{
    rill_serde_t *in = rill_serde_cloudevents(data, RILL_CLOUDEVENTS_BINARY);
    rill_serde_t *structured = rill_serde_cloudevents(data, RILL_CLOUDEVENTS_STRUCTURED);
    rill_serde_t *binary = rill_serde_cloudevents(data, RILL_CLOUDEVENTS_BINARY);
    *topo = rill_topology_new();
    rill_source_opts_t so = {.key_serde = rill_serde_string(), .value_serde = in};
    rill_stream_t *s = rill_stream_peek(rill_stream_from_topic(*topo, "in", &so), look, seen);
    rill_sink_opts_t to_structured = {.key_serde = rill_serde_string(), .value_serde = structured};
    rill_sink_opts_t to_binary = {.key_serde = rill_serde_string(), .value_serde = binary};
    assert_int_equal(rill_stream_to(s, "out-structured", &to_structured), 0);
    assert_int_equal(rill_stream_to(s, "out-binary", &to_binary), 0);
    rill_serde_unref(in);
    rill_serde_unref(structured);
    rill_serde_unref(binary);
    rill_conf_t *conf = rill_conf_new();
    char err[512];
    if (dlq) {
        rill_conf_set(conf, "deserialization.exception.handler", "continue", err, sizeof err);
        rill_conf_set(conf, "errors.dead.letter.queue.topic.name", "dlq", err, sizeof err);
    }
    rill_test_driver_t *td = rill_test_driver_new(*topo, conf, 0, err, sizeof err);
    if (!td)
        fail_msg("rill_test_driver_new: %s", err);
    rill_conf_destroy(conf);
    return td;
}

static void test_binary_in_structured_and_binary_out(void **state)
{
    (void)state;
    seen_t seen = {0};
    rill_topology_t *topo;
    rill_test_driver_t *td = driver(&topo, &seen, rill_serde_json(), false);
    const rill_header_t h[] = {
        {"ce_specversion", rill_buf_str("1.0")},
        {"ce_id", rill_buf_str("order-1")},
        {"ce_source", rill_buf_str("/shop/eu")},
        {"ce_type", rill_buf_str("shop.order.v1")},
        {"ce_partitionkey", rill_buf_str("cust-7")},
        {"content-type", rill_buf_str("application/json")},
        {"trace", rill_buf_str("abc")},
    };
    assert_int_equal(rill_test_driver_pipe_headers(td, "in", -1, rill_buf_str("cust-7"),
                                                   rill_buf_str("{\"amount\":5}"), 10, h,
                                                   sizeof h / sizeof h[0]),
                     0);
    assert_int_equal(seen.seen, 1);
    assert_string_equal(seen.id, "order-1");
    assert_string_equal(seen.source, "/shop/eu");
    assert_string_equal(seen.type, "shop.order.v1");
    assert_string_equal(seen.ctype, "application/json");
    assert_string_equal(seen.partitionkey, "cust-7");
    assert_int_equal(seen.amount, 5);

    rill_test_record_t r;
    char buf[256];
    assert_int_equal(rill_test_driver_read(td, "out-structured", &r), 0);
    assert_string_equal(header(&r, "content-type", buf, sizeof buf),
                        "application/cloudevents+json; charset=UTF-8");
    assert_null(header(&r, "ce_id", buf, sizeof buf));
    assert_string_equal(header(&r, "trace", buf, sizeof buf), "abc"); /* other headers stay */
    char text[512];
    snprintf(text, sizeof text, "%.*s", (int)r.value.len, (const char *)r.value.data);
    assert_string_equal(text, "{\"specversion\":\"1.0\",\"id\":\"order-1\",\"source\":\"/shop/eu\","
                              "\"type\":\"shop.order.v1\",\"datacontenttype\":\"application/json\","
                              "\"partitionkey\":\"cust-7\",\"data\":{\"amount\":5}}");

    assert_int_equal(rill_test_driver_read(td, "out-binary", &r), 0);
    assert_string_equal(header(&r, "ce_specversion", buf, sizeof buf), "1.0");
    assert_string_equal(header(&r, "ce_id", buf, sizeof buf), "order-1");
    assert_string_equal(header(&r, "ce_partitionkey", buf, sizeof buf), "cust-7");
    assert_string_equal(header(&r, "content-type", buf, sizeof buf), "application/json");
    snprintf(text, sizeof text, "%.*s", (int)r.value.len, (const char *)r.value.data);
    assert_string_equal(text, "{\"amount\":5}");
    rill_test_driver_destroy(td);
    rill_topology_unref(topo);
}

/* Structured in: read back to the same event; data that is not JSON goes as data_base64. */
static void test_structured_in_and_base64(void **state)
{
    (void)state;
    seen_t seen = {0};
    rill_topology_t *topo;
    rill_test_driver_t *td = driver(&topo, &seen, rill_serde_json(), false);
    const rill_header_t h[] = {{"content-type", rill_buf_str("application/cloudevents+json")}};
    const char *event = "{\"specversion\":\"1.0\",\"id\":\"e2\",\"source\":\"s\",\"type\":\"t\","
                        "\"time\":\"2026-12-02T10:00:00Z\",\"traceparent\":\"00-ab\","
                        "\"data\":{\"amount\":7}}";
    assert_int_equal(rill_test_driver_pipe_headers(td, "in", -1, rill_buf_str("k"),
                                                   rill_buf_str(event), 10, h, 1),
                     0);
    assert_int_equal(seen.amount, 7);
    rill_test_record_t r;
    char buf[256];
    assert_int_equal(rill_test_driver_read(td, "out-binary", &r), 0);
    assert_string_equal(header(&r, "ce_time", buf, sizeof buf), "2026-12-02T10:00:00Z");
    assert_null(header(&r, "content-type", buf, sizeof buf)); /* it had no datacontenttype */
    assert_string_equal(header(&r, "ce_traceparent", buf, sizeof buf), "00-ab"); /* extension */
    rill_test_driver_destroy(td);
    rill_topology_unref(topo);

    /* Bytes as data: base64 in structured mode, and read back to the same bytes. */
    seen_t s2 = {.bytes = true};
    td = driver(&topo, &s2, rill_serde_bytes(), false);
    const rill_header_t b[] = {{"ce_specversion", rill_buf_str("1.0")},
                               {"ce_id", rill_buf_str("b1")},
                               {"ce_source", rill_buf_str("s")},
                               {"ce_type", rill_buf_str("t")}};
    const unsigned char raw[] = {0, 1, 2, 0xff, 'h', 'i'};
    assert_int_equal(rill_test_driver_pipe_headers(td, "in", -1, rill_buf_str("k"),
                                                   (rill_buf_t){raw, sizeof raw}, 10, b, 4),
                     0);
    assert_int_equal(rill_test_driver_read(td, "out-structured", &r), 0);
    char text[512];
    snprintf(text, sizeof text, "%.*s", (int)r.value.len, (const char *)r.value.data);
    assert_non_null(strstr(text, "\"data_base64\":\"AAEC/2hp\""));
    rill_test_driver_destroy(td);
    rill_topology_unref(topo);
}

/* What is not a valid CloudEvent goes to the dead letter queue, the reason naming it. */
static void test_invalid_events_refused(void **state)
{
    (void)state;
    const struct {
        rill_header_t h[5];
        size_t n;
        const char *value, *why;
    } cases[] = {
        {{{"ce_specversion", {"1.0", 3}}, {"ce_source", {"s", 1}}, {"ce_type", {"t", 1}}},
         3,
         "{}",
         "'id' is missing"},
        {{{"ce_specversion", {"0.3", 3}},
          {"ce_id", {"x", 1}},
          {"ce_source", {"s", 1}},
          {"ce_type", {"t", 1}}},
         4,
         "{}",
         "specversion '0.3'"},
        {{{"ce_specversion", {"1.0", 3}},
          {"ce_id", {"", 0}},
          {"ce_source", {"s", 1}},
          {"ce_type", {"t", 1}}},
         4,
         "{}",
         "'id' is empty"},
        {{{"content-type", {"application/json", 16}}}, 1, "{}", "not a CloudEvent"},
        {{{"content-type", {"application/cloudevents+json", 28}}},
         1,
         "{\"specversion\":\"1.0\",\"id\":\"x\",\"source\":\"s\"}",
         "'type' is missing"},
        {{{"content-type", {"application/cloudevents+json", 28}}}, 1, "[1,2]", "not a JSON object"},
        {{{"ce_specversion", {"1.0", 3}},
          {"ce_id", {"x", 1}},
          {"ce_source", {"s", 1}},
          {"ce_type", {"t", 1}}},
         4,
         "{not json",
         "its data"},
    };
    seen_t seen = {0};
    rill_topology_t *topo;
    rill_test_driver_t *td = driver(&topo, &seen, rill_serde_json(), true);
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        assert_int_equal(rill_test_driver_pipe_headers(td, "in", -1, rill_buf_str("k"),
                                                       rill_buf_str(cases[i].value), 10, cases[i].h,
                                                       cases[i].n),
                         0);
    assert_int_equal(seen.seen, 0);
    assert_int_equal(rill_test_driver_metric(td, "records-skipped"),
                     sizeof cases / sizeof cases[0]);
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        rill_test_record_t r;
        char buf[512];
        assert_int_equal(rill_test_driver_read(td, "dlq", &r), 0);
        const char *msg = header(&r, "__streams.errors.message", buf, sizeof buf);
        assert_non_null(msg);
        if (!strstr(msg, cases[i].why))
            fail_msg("case %zu: '%s' does not say '%s'", i, msg, cases[i].why);
    }
    rill_test_driver_destroy(td);
    rill_topology_unref(topo);
}

/* Written without a record (no sink), binary mode says why; a value that is not an event too. */
static void test_serialize_errors(void **state)
{
    (void)state;
    rill_serde_t *binary = rill_serde_cloudevents(rill_serde_json(), RILL_CLOUDEVENTS_BINARY);
    rill_cloudevent_t ev = {.specversion = "1.0", .id = "1", .source = "s", .type = "t"};
    rill_bytes_t out = {0};
    bool null = false;
    char err[256];
    assert_int_equal(
        rill_serde_serialize(binary, (rill_buf_t){&ev, sizeof ev}, &out, &null, err, sizeof err),
        RILL_ESERDE);
    assert_non_null(strstr(err, "sink"));
    assert_int_equal(
        rill_serde_serialize(binary, rill_buf_str("nope"), &out, &null, err, sizeof err),
        RILL_ESERDE);
    assert_non_null(strstr(err, "rill_cloudevent_t"));
    ev.type = NULL;
    rill_serde_t *structured =
        rill_serde_cloudevents(rill_serde_json(), RILL_CLOUDEVENTS_STRUCTURED);
    assert_int_equal(rill_serde_serialize(structured, (rill_buf_t){&ev, sizeof ev}, &out, &null,
                                          err, sizeof err),
                     RILL_ESERDE);
    assert_non_null(strstr(err, "'type' is missing"));
    assert_null(rill_serde_cloudevents(NULL, RILL_CLOUDEVENTS_BINARY));
    rill_bytes_free(&out);
    rill_serde_unref(binary);
    rill_serde_unref(structured);
}

/* The binding's key mapping on request: the partitionkey extension becomes the record key. */
static void test_key_by_partitionkey(void **state)
{
    (void)state;
    rill_serde_t *in = rill_serde_cloudevents(rill_serde_json(), RILL_CLOUDEVENTS_BINARY);
    rill_serde_t *out = rill_serde_cloudevents(rill_serde_json(), RILL_CLOUDEVENTS_STRUCTURED);
    rill_topology_t *topo = rill_topology_new();
    rill_source_opts_t so = {.key_serde = rill_serde_string(), .value_serde = in};
    rill_sink_opts_t to = {.key_serde = rill_serde_string(), .value_serde = out};
    rill_stream_t *s = rill_stream_from_topic(topo, "in", &so);
    assert_int_equal(rill_stream_to(rill_stream_key_by_partitionkey(s), "out", &to), 0);
    /* A stream whose values are not events fails the record, naming why. */
    rill_source_opts_t plain = {.key_serde = rill_serde_string(),
                                .value_serde = rill_serde_string()};
    s = rill_stream_from_topic(topo, "plain", &plain);
    assert_int_equal(rill_stream_to(rill_stream_key_by_partitionkey(s), "out", &to), 0);
    char err[512];
    rill_test_driver_t *td = rill_test_driver_new(topo, NULL, 0, err, sizeof err);
    if (!td)
        fail_msg("rill_test_driver_new: %s", err);
    const rill_header_t keyed[] = {{"ce_specversion", rill_buf_str("1.0")},
                                   {"ce_id", rill_buf_str("1")},
                                   {"ce_source", rill_buf_str("/shop")},
                                   {"ce_type", rill_buf_str("order")},
                                   {"ce_partitionkey", rill_buf_str("cust-7")}};
    assert_int_equal(rill_test_driver_pipe_headers(td, "in", -1, rill_buf_str("x"),
                                                   rill_buf_str("{}"), 1, keyed, 5),
                     0);
    assert_int_equal(rill_test_driver_pipe_headers(td, "in", -1, rill_buf_str("k2"),
                                                   rill_buf_str("{}"), 2, keyed, 4),
                     0);
    const rill_header_t structured[] = {
        {"content-type", rill_buf_str("application/cloudevents+json")}};
    const char *ev = "{\"specversion\":\"1.0\",\"id\":\"3\",\"source\":\"/shop\",\"type\":"
                     "\"order\",\"partitionkey\":\"cust-9\",\"data\":{}}";
    assert_int_equal(rill_test_driver_pipe_headers(td, "in", -1, (rill_buf_t){0}, rill_buf_str(ev),
                                                   3, structured, 1),
                     0);
    const char *want[] = {"cust-7", "k2", "cust-9"};
    for (int i = 0; i < 3; i++) {
        rill_test_record_t r;
        assert_int_equal(rill_test_driver_read(td, "out", &r), 0);
        assert_int_equal(r.key.len, strlen(want[i]));
        assert_memory_equal(r.key.data, want[i], r.key.len);
    }
    assert_int_not_equal(rill_test_driver_pipe_str(td, "plain", "k", "not an event", 4), 0);
    if (!strstr(rill_test_driver_error(td), "is not a CloudEvent"))
        fail_msg("error: %s", rill_test_driver_error(td));
    assert_int_equal(rill_test_driver_unread(td, "out"), 0);
    rill_test_driver_destroy(td);
    rill_topology_unref(topo);
    rill_serde_unref(in);
    rill_serde_unref(out);
}

int main(void)
{
    rill_set_log_cb(NULL, NULL, RILL_LOG_ERROR);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_binary_in_structured_and_binary_out),
        cmocka_unit_test(test_structured_in_and_base64),
        cmocka_unit_test(test_invalid_events_refused),
        cmocka_unit_test(test_serialize_errors),
        cmocka_unit_test(test_key_by_partitionkey),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
