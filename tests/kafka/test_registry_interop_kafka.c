/*
 * Interop with a real peer, as the issue asks: confluent-kafka's Python client (from PyPI, made
 * by scripts/python-peer) registers an Avro schema in rill-registry and produces Avro records
 * with its AvroSerializer; a Rill topology reads them with Rill's Avro serde (the writer schema
 * fetched from rill-registry by the id in each record), turns each order into a charge, and
 * writes it with its own schema, which it registers; the Python client reads those back with
 * its AvroDeserializer and checks every record. The registry runs here, on the real broker.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "../common/kafka_util.h"
#include "../common/run_command.h"

#include <rill/app.h>
#include <rill/dsl.h>
#include <rill/registry.h>

#include <unistd.h>

#define ORDERS 2000

static const char *bootstrap;

#define CHARGED                                                                                    \
    "{\"type\":\"record\",\"name\":\"Charged\",\"namespace\":\"rill.interop\",\"fields\":["        \
    "{\"name\":\"id\",\"type\":\"long\"},{\"name\":\"item\",\"type\":\"string\"},"                 \
    "{\"name\":\"cents\",\"type\":\"long\"}]}"

/* An order (as Python wrote it) to a charge, in the Charged schema. */
static int charge(void *ud, rill_context_t *ctx, const rill_record_t *rec, rill_buf_t *out)
{
    const rill_avro_codec_t *charged = ud;
    int64_t id;
    double amount;
    rill_buf_t item;
    if (rill_avro_get_int(rec->value.data, "id", &id) ||
        rill_avro_get_double(rec->value.data, "amount", &amount) ||
        rill_avro_get_str(rec->value.data, "item", &item))
        return rill_context_fail(ctx, RILL_EPROCESS, "an order without id, amount or item");
    *out = rill_avro_record_new(rill_context_arena(ctx), charged);
    void *r = (void *)out->data;
    if (!r || rill_avro_set_int(r, "id", id) || rill_avro_set_str(r, "item", item.data, item.len) ||
        rill_avro_set_int(r, "cents", (int64_t)(amount * 100 + 0.5)))
        return rill_context_fail(ctx, RILL_EPROCESS, "cannot build the charge: %s",
                                 r ? rill_avro_error(r) : "out of memory");
    return 0;
}

static void python(const char *py, const char *mode, const char *url, const char *topic)
{
    char cmd[2048], out[4096];
    snprintf(cmd, sizeof cmd, "%s %s/tests/registry/interop.py %s %s %s %s %d", py, RILL_SOURCE_DIR,
             mode, bootstrap, url, topic, ORDERS);
    int rc = run(cmd, out, sizeof out);
    print_message("python %s: %s", mode, out);
    if (rc != 0)
        fail_msg("interop.py %s failed (exit %d)", mode, rc);
}

#define CHARGED_JSON                                                                               \
    "{\"type\":\"object\",\"title\":\"Charged\",\"properties\":{\"id\":{\"type\":"                 \
    "\"integer\"},\"item\":{\"type\":\"string\"},\"cents\":{\"type\":\"integer\"}},"               \
    "\"required\":[\"id\",\"item\",\"cents\"],\"additionalProperties\":false}"

/* A JSON order to a JSON charge: {id, item, cents}. */
static int charge_json(void *ud, rill_context_t *ctx, const rill_record_t *rec, rill_buf_t *out)
{
    (void)ud;
    int64_t id;
    double amount;
    rill_buf_t item;
    if (rill_json_get_int(rec->value.data, "id", &id) ||
        rill_json_get_double(rec->value.data, "amount", &amount) ||
        rill_json_get_str(rec->value.data, "item", &item))
        return rill_context_fail(ctx, RILL_EPROCESS, "an order without id, amount or item");
    rill_json_writer_t w;
    rill_json_writer_init(&w, rill_context_arena(ctx));
    rill_json_write_object(&w);
    rill_json_write_key(&w, "id");
    rill_json_write_int(&w, id);
    rill_json_write_key(&w, "item");
    rill_json_write_str(&w, item.data, item.len);
    rill_json_write_key(&w, "cents");
    rill_json_write_int(&w, (int64_t)(amount * 100 + 0.5));
    rill_json_write_end(&w);
    *out = rill_json_writer_finish(&w);
    return out->data ? 0 : RILL_ENOMEM;
}

/* Python's orders (kind "avro" or "json") through a Rill topology back to Python. */
static void python_to_rill_to_python(const char *kind)
{
    bool json = strcmp(kind, "json") == 0;
    char out[4096], err[512];
    char cmd[512];
    snprintf(cmd, sizeof cmd, "%s/scripts/python-peer --python", RILL_SOURCE_DIR);
    if (run(cmd, out, sizeof out) != 0)
        fail_msg("scripts/python-peer: %s", out);
    /* The interpreter's path is the last line (a first run says what it made before it). */
    size_t len = strlen(out);
    while (len && out[len - 1] == '\n')
        out[--len] = 0;
    const char *py = strrchr(out, '\n') ? strrchr(out, '\n') + 1 : out;

    char topic[64], in[64], charges[64], app_id[64];
    int pid = (int)getpid();
    snprintf(topic, sizeof topic, "_schemas-interop-%s-%d", kind, pid);
    snprintf(in, sizeof in, "interop-orders-%s-%d", kind, pid);
    snprintf(charges, sizeof charges, "interop-charges-%s-%d", kind, pid);
    snprintf(app_id, sizeof app_id, "interop-app-%s-%d", kind, pid);
    rill_registry_conf_t *rc = rill_registry_conf_new();
    const char *kv[][2] = {{"listeners", "http://127.0.0.1:0"},
                           {"kafkastore.bootstrap.servers", bootstrap},
                           {"kafkastore.topic", topic},
                           {"kafkastore.topic.replication.factor", "1"},
                           {"schema.registry.group.id", topic}};
    for (size_t i = 0; i < sizeof kv / sizeof kv[0]; i++)
        assert_int_equal(rill_registry_conf_set(rc, kv[i][0], kv[i][1], err, sizeof err), 0);
    rill_registry_t *reg = rill_registry_new(rc, err, sizeof err);
    assert_non_null(reg);
    if (rill_registry_start(reg, err, sizeof err))
        fail_msg("registry: %s", err);
    const char *url = rill_registry_url(reg);

    assert_int_equal(kafka_create_topic(bootstrap, in, 3), 0);
    assert_int_equal(kafka_create_topic(bootstrap, charges, 3), 0);
    python(py, json ? "produce-json" : "produce", url, in);

    /* The topology: Avro (or JSON Schema) in, any writer schema, by id; out in Charged, which
     * the sink's serde registers. */
    const char *in_conf[] = {"schema.registry.url", url, NULL};
    const char *out_conf[] = {"schema.registry.url",
                              url,
                              "schema",
                              json ? CHARGED_JSON : CHARGED,
                              "topic",
                              charges,
                              NULL};
    rill_serde_t *in_serde = json ? rill_serde_json_schema_new(in_conf, NULL, err, sizeof err)
                                  : rill_serde_avro_new(in_conf, NULL, err, sizeof err);
    rill_serde_t *out_serde = json ? rill_serde_json_schema_new(out_conf, NULL, err, sizeof err)
                                   : rill_serde_avro_new(out_conf, NULL, err, sizeof err);
    if (!in_serde || !out_serde)
        fail_msg("avro serde: %s", err);
    rill_topology_t *topo = rill_topology_new();
    rill_source_opts_t so = {.key_serde = rill_serde_string(), .value_serde = in_serde};
    rill_stream_t *s = rill_stream_from_topic(topo, in, &so);
    s = json ? rill_stream_map_values(s, charge_json, NULL)
             : rill_stream_map_values(s, charge, (void *)rill_serde_avro_codec(out_serde));
    rill_sink_opts_t to = {.key_serde = rill_serde_string(), .value_serde = out_serde};
    assert_int_equal(rill_stream_to(s, charges, &to), 0);
    rill_conf_t *conf = rill_conf_new();
    const char *app_kv[][2] = {{"application.id", app_id},
                               {"bootstrap.servers", bootstrap},
                               {"replication.factor", "1"},
                               {"commit.interval.ms", "200"}};
    for (size_t i = 0; i < sizeof app_kv / sizeof app_kv[0]; i++)
        assert_int_equal(rill_conf_set(conf, app_kv[i][0], app_kv[i][1], err, sizeof err), 0);
    char dir[] = "/tmp/rill-interop-XXXXXX";
    assert_non_null(mkdtemp(dir));
    assert_int_equal(rill_conf_set(conf, "state.dir", dir, err, sizeof err), 0);
    rill_app_t *app = rill_app_new(topo, conf, err, sizeof err);
    if (!app)
        fail_msg("rill_app_new: %s", err);
    assert_int_equal(rill_app_start(app), 0);
    python(py, json ? "consume-json" : "consume", url, charges);
    assert_int_equal(rill_app_metric(app, "records-skipped"), 0);
    assert_int_equal(rill_app_close(app, 30000), 0);
    rill_app_destroy(app);
    rill_topology_unref(topo);
    rill_serde_unref(in_serde);
    rill_serde_unref(out_serde);
    rill_registry_destroy(reg);
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    assert_int_equal(system(cmd), 0);
}

static void test_python_avro_to_rill_to_python(void **state)
{
    (void)state;
    if (!bootstrap)
        skip();
    python_to_rill_to_python("avro");
}

/* The same with JSON Schema: confluent-kafka's JSONSerializer and JSONDeserializer, Rill's JSON
 * Schema serde validating every document both ways. */
static void test_python_json_schema_to_rill_to_python(void **state)
{
    (void)state;
    if (!bootstrap)
        skip();
    python_to_rill_to_python("json");
}

int main(void)
{
    bootstrap = kafka_test_bootstrap("test_registry_interop_kafka");
    rill_set_log_cb(NULL, NULL, RILL_LOG_WARN);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_python_avro_to_rill_to_python),
        cmocka_unit_test(test_python_json_schema_to_rill_to_python),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
