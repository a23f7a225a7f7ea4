/*
 * The JSON Schema serde (serde/json_schema_serde.c) through the test driver, on the registry
 * client's in-process registry ("mock://"): Confluent's wire format both ways, each document
 * validated against its writer's schema (fetched by id once), a document that does not validate
 * or whose id is unknown refused into the dead letter queue naming the schema id and the path,
 * and an output that does not fit the serde's schema refused by the production handler naming
 * the subject.
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

#define ORDER                                                                                      \
    "{\"type\":\"object\",\"properties\":{\"id\":{\"type\":\"integer\"},\"item\":{\"type\":"       \
    "\"string\",\"minLength\":1}},\"required\":[\"id\",\"item\"]}"
#define OUT_SCHEMA                                                                                 \
    "{\"type\":\"object\",\"properties\":{\"id\":{\"type\":\"integer\"},\"item\":{\"type\":"       \
    "\"string\"},\"cents\":{\"type\":\"integer\",\"minimum\":0}},\"required\":[\"id\",\"cents\"]}"

/* value -> value with cents = id * 100 (a negative id makes negative cents, refused at the sink).
 */
static int add_cents(void *ud, rill_context_t *ctx, const rill_record_t *rec, rill_buf_t *out)
{
    (void)ud;
    int64_t id = 0;
    rill_json_get_int(rec->value.data, "id", &id);
    *out = rill_json_set_int(rill_context_arena(ctx), rec->value.data, "cents", id * 100);
    return out->data ? 0 : RILL_ENOMEM;
}

/* The wire format of text under schema id. */
static rill_buf_t wire(char *buf, int32_t id, const char *text)
{
    buf[0] = 0;
    buf[1] = (char)(id >> 24);
    buf[2] = (char)(id >> 16);
    buf[3] = (char)(id >> 8);
    buf[4] = (char)id;
    memcpy(buf + 5, text, strlen(text));
    return (rill_buf_t){buf, 5 + strlen(text)};
}

static void test_round_trip_and_refusals(void **state)
{
    (void)state;
    char err[512];
    rill_registry_client_t *reg = rill_registry_client_new("mock://", NULL, err, sizeof err);
    assert_non_null(reg);
    int32_t in_id = 0;
    assert_int_equal(
        rill_registry_client_register_type(reg, "in-value", "JSON", ORDER, &in_id, err, sizeof err),
        0);
    const char *in_conf[] = {"schema.registry.url", "mock://", NULL};
    const char *out_conf[] = {"schema.registry.url", "mock://", "schema", OUT_SCHEMA, NULL};
    rill_serde_t *in = rill_serde_json_schema_new(in_conf, reg, err, sizeof err);
    rill_serde_t *out = rill_serde_json_schema_new(out_conf, reg, err, sizeof err);
    assert_non_null(in);
    assert_non_null(out);
    rill_topology_t *topo = rill_topology_new();
    rill_source_opts_t so = {.key_serde = rill_serde_string(), .value_serde = in};
    rill_stream_t *s =
        rill_stream_map_values(rill_stream_from_topic(topo, "in", &so), add_cents, NULL);
    rill_sink_opts_t to = {.key_serde = rill_serde_string(), .value_serde = out};
    assert_int_equal(rill_stream_to(s, "out", &to), 0);
    rill_conf_t *conf = rill_conf_new();
    rill_conf_set(conf, "deserialization.exception.handler", "continue", err, sizeof err);
    rill_conf_set(conf, "production.exception.handler", "continue", err, sizeof err);
    rill_conf_set(conf, "errors.dead.letter.queue.topic.name", "dlq", err, sizeof err);
    rill_test_driver_t *td = rill_test_driver_new(topo, conf, 0, err, sizeof err);
    if (!td)
        fail_msg("%s", err);
    rill_conf_destroy(conf);

    char buf[256];
    /* A valid order: out in the wire format of out-value's id, with its cents. */
    assert_int_equal(rill_test_driver_pipe(td, "in", -1, rill_buf_str("k1"),
                                           wire(buf, in_id, "{\"id\":7,\"item\":\"tea\"}"), 1),
                     0);
    rill_test_record_t r;
    assert_int_equal(rill_test_driver_read(td, "out", &r), 0);
    const uint8_t *b = r.value.data;
    assert_true(r.value.len > 5);
    assert_int_equal(b[0], 0);
    int32_t out_id =
        (int32_t)((uint32_t)b[1] << 24 | (uint32_t)b[2] << 16 | (uint32_t)b[3] << 8 | b[4]);
    int32_t want = 0;
    assert_int_equal(rill_registry_client_register_type(reg, "out-value", "JSON", OUT_SCHEMA, &want,
                                                        err, sizeof err),
                     0);
    assert_int_equal(out_id, want);
    char text[256];
    snprintf(text, sizeof text, "%.*s", (int)r.value.len - 5, (const char *)b + 5);
    assert_string_equal(text, "{\"id\":7,\"item\":\"tea\",\"cents\":700}");

    /* Refused on the way in: not valid (each naming its keyword), unknown id, not the format. */
    const struct {
        int32_t id;
        const char *doc, *why;
    } bad[] = {
        {in_id, "{\"id\":8}", "required"},
        {in_id, "{\"id\":\"eight\",\"item\":\"x\"}", "/id"},
        {in_id, "{\"id\":9,\"item\":\"\"}", "minLength"},
        {999, "{\"id\":1,\"item\":\"x\"}", "schema id 999"},
        {in_id, "{\"id\":1,", "schema id"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        assert_int_equal(rill_test_driver_pipe(td, "in", -1, rill_buf_str("k"),
                                               wire(buf, bad[i].id, bad[i].doc), 2),
                         0);
    assert_int_equal(rill_test_driver_pipe(td, "in", -1, rill_buf_str("k"), rill_buf_str("{}"), 3),
                     0);
    for (size_t i = 0; i < sizeof bad / sizeof bad[0] + 1; i++) {
        assert_int_equal(rill_test_driver_read(td, "dlq", &r), 0);
        const char *msg = header(&r, "__streams.errors.message", buf, sizeof buf);
        const char *why = i < sizeof bad / sizeof bad[0] ? bad[i].why : "wire format";
        if (!msg || !strstr(msg, why))
            fail_msg("case %zu: '%s' does not say '%s'", i, msg ? msg : "(none)", why);
    }
    /* Refused on the way out: negative cents break out-value's minimum. */
    assert_int_equal(rill_test_driver_pipe(td, "in", -1, rill_buf_str("k"),
                                           wire(buf, in_id, "{\"id\":-2,\"item\":\"x\"}"), 4),
                     0);
    assert_int_equal(rill_test_driver_read(td, "dlq", &r), 0);
    const char *msg = header(&r, "__streams.errors.message", buf, sizeof buf);
    assert_non_null(msg);
    assert_non_null(strstr(msg, "subject out-value"));
    assert_non_null(strstr(msg, "minimum"));
    assert_int_equal(rill_test_driver_unread(td, "out"), 0);
    /* Every schema was fetched once: 10 records, no request per record. */
    assert_true(rill_registry_client_requests(reg) <= 2);
    rill_test_driver_destroy(td);
    rill_topology_unref(topo);
    rill_serde_unref(in);
    rill_serde_unref(out);
    rill_registry_client_unref(reg);
}

/* One serde for several topics (a topic extractor's, in one buffer): each topic's subject and
 * id, found once (found by review: the id was the first topic's for all). */
static void test_one_serde_many_topics(void **state)
{
    (void)state;
    char err[512];
    rill_registry_client_t *reg = rill_registry_client_new("mock://", NULL, err, sizeof err);
    const char *conf[] = {"schema.registry.url", "mock://", "schema", ORDER, NULL};
    rill_serde_t *serde = rill_serde_json_schema_new(conf, reg, err, sizeof err);
    assert_non_null(serde);
    /* Different subjects of one schema get one id in Confluent's registries: make u's schema
     * differ by registering another one there first. */
    int32_t other = 0;
    assert_int_equal(
        rill_registry_client_register_type(reg, "u-value", "JSON", "{}", &other, err, sizeof err),
        0);
    rill_arena_t *arena = rill_arena_new(1024);
    rill_buf_t doc;
    assert_int_equal(rill_json_parse(arena, "{\"id\":1,\"item\":\"x\"}", 19, &doc, err, sizeof err),
                     0);
    char topic[8];
    int32_t ids[3];
    uint64_t before = rill_registry_client_requests(reg);
    for (int round = 0; round < 50; round++)
        for (int i = 0; i < 3; i++) {
            snprintf(topic, sizeof topic, "%s", i == 1 ? "u" : "t");
            rill_serde_ctx_t ctx = {topic, i == 2, NULL, arena};
            rill_bytes_t out = {0};
            bool null = false;
            assert_int_equal(
                rill_serde_serialize_ctx(serde, &ctx, doc, &out, &null, err, sizeof err), 0);
            const uint8_t *b = out.data;
            ids[i] =
                (int32_t)((uint32_t)b[1] << 24 | (uint32_t)b[2] << 16 | (uint32_t)b[3] << 8 | b[4]);
            rill_bytes_free(&out);
        }
    int32_t want;
    assert_int_equal(rill_registry_client_lookup_type(reg, "u-value", "JSON", ORDER, &want, NULL,
                                                      err, sizeof err),
                     0);
    assert_int_equal(ids[1], want);
    assert_int_equal(rill_registry_client_lookup_type(reg, "t-value", "JSON", ORDER, &want, NULL,
                                                      err, sizeof err),
                     0);
    assert_int_equal(ids[0], want);
    assert_int_equal(
        rill_registry_client_lookup_type(reg, "t-key", "JSON", ORDER, &want, NULL, err, sizeof err),
        0);
    assert_int_equal(ids[2], want);
    assert_true(rill_registry_client_requests(reg) - before <= 3); /* the mock makes none */
    rill_arena_destroy(arena);
    rill_serde_unref(serde);
    rill_registry_client_unref(reg);
}

static void test_bad_configuration(void **state)
{
    (void)state;
    char err[512];
    const char *no_url[] = {NULL};
    assert_null(rill_serde_json_schema_new(no_url, NULL, err, sizeof err));
    assert_non_null(strstr(err, "schema.registry.url"));
    const char *bad_schema[] = {"schema.registry.url", "mock://", "schema", "{\"type\":7}", NULL};
    assert_null(rill_serde_json_schema_new(bad_schema, NULL, err, sizeof err));
    assert_non_null(strstr(err, "schema"));
    const char *unknown[] = {"schema.registry.url", "mock://", "colour", "red", NULL};
    assert_null(rill_serde_json_schema_new(unknown, NULL, err, sizeof err));
    assert_non_null(strstr(err, "colour"));
}

int main(void)
{
    rill_set_log_cb(NULL, NULL, RILL_LOG_ERROR);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_round_trip_and_refusals),
        cmocka_unit_test(test_one_serde_many_topics),
        cmocka_unit_test(test_bad_configuration),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
