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

static void test_python_to_rill_to_python(void **state)
{
    (void)state;
    if (!bootstrap)
        skip();
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
    snprintf(topic, sizeof topic, "_schemas-interop-%d", pid);
    snprintf(in, sizeof in, "interop-orders-%d", pid);
    snprintf(charges, sizeof charges, "interop-charges-%d", pid);
    snprintf(app_id, sizeof app_id, "interop-app-%d", pid);
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
    python(py, "produce", url, in);

    /* The topology: Avro in (any writer schema, by id), Avro out (Charged, registered). */
    const char *in_conf[] = {"schema.registry.url", url, NULL};
    const char *out_conf[] = {
        "schema.registry.url", url, "schema", CHARGED, "topic", charges, NULL};
    rill_serde_t *avro_in = rill_serde_avro_new(in_conf, NULL, err, sizeof err);
    rill_serde_t *avro_out = rill_serde_avro_new(out_conf, NULL, err, sizeof err);
    if (!avro_in || !avro_out)
        fail_msg("avro serde: %s", err);
    rill_topology_t *topo = rill_topology_new();
    rill_source_opts_t so = {.key_serde = rill_serde_string(), .value_serde = avro_in};
    rill_stream_t *s = rill_stream_from_topic(topo, in, &so);
    s = rill_stream_map_values(s, charge, (void *)rill_serde_avro_codec(avro_out));
    rill_sink_opts_t to = {.key_serde = rill_serde_string(), .value_serde = avro_out};
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
    python(py, "consume", url, charges);
    assert_int_equal(rill_app_metric(app, "records-skipped"), 0);
    assert_int_equal(rill_app_close(app, 30000), 0);
    rill_app_destroy(app);
    rill_topology_unref(topo);
    rill_serde_unref(avro_in);
    rill_serde_unref(avro_out);
    rill_registry_destroy(reg);
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    assert_int_equal(system(cmd), 0);
}

int main(void)
{
    bootstrap = kafka_test_bootstrap("test_registry_interop_kafka");
    rill_set_log_cb(NULL, NULL, RILL_LOG_WARN);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_python_to_rill_to_python),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
