/*
 * Global tables on a real Apache Kafka broker (scripts/kafka starts one; its address comes in
 * RILL_TEST_BOOTSTRAP), under exactly_once_v2: what the mock cluster cannot show, since it does
 * not hide aborted transactions from read_committed readers.
 *
 * - The global thread loads committed records only: records of an aborted transaction, before
 *   or among the committed ones, never reach the global store, neither while it loads nor
 *   while it runs (an aborted write followed by a committed one on the same partition).
 * - A restart over the kept state directory reads nothing again: its checkpoint is at the end.
 */
#define _GNU_SOURCE /* nftw */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <rill/app.h>
#include <rill/dsl.h>

#include <librdkafka/rdkafka.h>

#include <ftw.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "../common/clock.h"
#include "../common/kafka_util.h"

static const char *bootstrap;
static char run_id[32], topic[64], views[64], state_dir[128];

/* ---- a transactional producer of the global topic ---- */

static rd_kafka_t *txn_producer(void)
{
    char err[512], txn[96];
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    snprintf(txn, sizeof txn, "%s-writer", run_id);
    assert_int_equal(rd_kafka_conf_set(conf, "bootstrap.servers", bootstrap, err, sizeof err),
                     RD_KAFKA_CONF_OK);
    assert_int_equal(rd_kafka_conf_set(conf, "transactional.id", txn, err, sizeof err),
                     RD_KAFKA_CONF_OK);
    rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, err, sizeof err);
    assert_non_null(rk);
    rd_kafka_error_t *e = rd_kafka_init_transactions(rk, 30000);
    assert_null(e);
    return rk;
}

/* Writes keys prefix<from..to) = value in one transaction, committed or aborted; partition -1
 * spreads them by key. */
static void txn(rd_kafka_t *rk, const char *prefix, int from, int to, const char *value,
                int32_t partition, bool commit)
{
    assert_null(rd_kafka_begin_transaction(rk));
    for (int i = from; i < to; i++) {
        char key[32];
        snprintf(key, sizeof key, "%s%d", prefix, i);
        assert_int_equal(
            rd_kafka_producev(
                rk, RD_KAFKA_V_TOPIC(topic),
                RD_KAFKA_V_PARTITION(partition < 0 ? RD_KAFKA_PARTITION_UA : partition),
                RD_KAFKA_V_KEY(key, strlen(key)), RD_KAFKA_V_VALUE((void *)value, strlen(value)),
                RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_END),
            RD_KAFKA_RESP_ERR_NO_ERROR);
    }
    /* Sent before the end of the transaction: an abort would drop records still queued, and
     * the log would hold nothing to hide. */
    assert_int_equal(rd_kafka_flush(rk, 30000), RD_KAFKA_RESP_ERR_NO_ERROR);
    rd_kafka_error_t *e =
        commit ? rd_kafka_commit_transaction(rk, 30000) : rd_kafka_abort_transaction(rk, 30000);
    assert_null(e);
}

/* ---- the app ---- */

static atomic_int loaded; /* records the global thread loaded (restore listener) */

static void on_batch(void *ud, const char *store, const char *t, int32_t partition, int64_t next,
                     uint64_t n)
{
    atomic_fetch_add(&loaded, (int)n);
}

static const rill_restore_listener_t listener = {NULL, on_batch, NULL, NULL};

static void ignore(void *ud, const rill_record_t *rec)
{
}

static rill_app_t *start_app(rill_topology_t **topo)
{
    char err[512];
    *topo = rill_topology_new();
    rill_global_table_from(*topo, topic, NULL, &(rill_materialized_t){.name = "regions-store"});
    assert_int_equal(rill_stream_foreach(rill_stream_from_topic(*topo, views, NULL), ignore, NULL),
                     0);
    rill_conf_t *conf = rill_conf_new();
    char app_id[64];
    snprintf(app_id, sizeof app_id, "%s-app", run_id);
    const char *kv[][2] = {
        {"application.id", app_id},      {"bootstrap.servers", bootstrap},
        {"state.dir", state_dir},        {"processing.guarantee", "exactly_once_v2"},
        {"default.key.serde", "string"}, {"default.value.serde", "string"},
        {"commit.interval.ms", "200"},   {"consumer.session.timeout.ms", "6000"},
    };
    for (size_t i = 0; i < sizeof kv / sizeof kv[0]; i++)
        if (rill_conf_set(conf, kv[i][0], kv[i][1], err, sizeof err))
            fail_msg("%s=%s: %s", kv[i][0], kv[i][1], err);
    rill_app_t *app = rill_app_new(*topo, conf, err, sizeof err);
    assert_non_null(app);
    atomic_store(&loaded, 0);
    rill_app_set_restore_listener(app, &listener);
    assert_int_equal(rill_app_start(app), 0);
    assert_int_equal(rill_app_wait_state(app, RILL_STATE_RUNNING, 60000), 0);
    return app;
}

static bool count_one(void *ud, rill_buf_t key, rill_buf_t value, int64_t ts)
{
    (*(int *)ud)++;
    return true;
}

/* key's value in the global store ("" when absent). */
static const char *get(rill_app_t *app, const char *key, char *buf, size_t size)
{
    rill_bytes_t out = {0};
    int rc = rill_app_query_get(app, "regions-store", rill_buf_str(key), &out, NULL);
    snprintf(buf, size, "%.*s", rc ? 0 : (int)out.len, rc ? "" : (const char *)out.data);
    rill_bytes_free(&out);
    return buf;
}

static void test_committed_only(void **state)
{
    rd_kafka_t *rk = txn_producer();
    /* Committed, aborted (new keys and overwrites), committed. */
    txn(rk, "c", 0, 100, "committed", -1, true);
    txn(rk, "a", 0, 100, "aborted", -1, false);
    txn(rk, "c", 0, 10, "aborted", -1, false);
    txn(rk, "k", 0, 50, "late", -1, true);
    rill_topology_t *topo;
    rill_app_t *app = start_app(&topo);
    char buf[64];
    int n = 0;
    assert_int_equal(rill_app_query_all(app, "regions-store", count_one, &n), 0);
    assert_int_equal(n, 150);
    assert_int_equal(atomic_load(&loaded), 150);
    assert_string_equal(get(app, "c0", buf, sizeof buf), "committed");
    assert_string_equal(get(app, "c9", buf, sizeof buf), "committed");
    assert_string_equal(get(app, "a0", buf, sizeof buf), "");
    assert_string_equal(get(app, "k49", buf, sizeof buf), "late");
    /* While running: an aborted write, then a committed one after it on the same partition. */
    txn(rk, "x", 0, 1, "aborted", 0, false);
    txn(rk, "y", 0, 1, "new", 0, true);
    for (int i = 0; i < 300 && strcmp(get(app, "y0", buf, sizeof buf), "new") != 0; i++)
        sleep_ms(100);
    assert_string_equal(get(app, "y0", buf, sizeof buf), "new");
    assert_string_equal(get(app, "x0", buf, sizeof buf), "");
    assert_int_equal(rill_app_close(app, 30000), 0);
    rill_app_destroy(app);
    rill_topology_unref(topo);
    /* A restart over the state directory: the checkpoint is at the end, nothing is read. */
    app = start_app(&topo);
    assert_int_equal(atomic_load(&loaded), 0);
    n = 0;
    assert_int_equal(rill_app_query_all(app, "regions-store", count_one, &n), 0);
    assert_int_equal(n, 151);
    assert_int_equal(rill_app_close(app, 30000), 0);
    rill_app_destroy(app);
    rill_topology_unref(topo);
    rd_kafka_destroy(rk);
}

static int rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    return remove(path);
}

int main(void)
{
    if (!(bootstrap = kafka_test_bootstrap("test_global_kafka")))
        return 0;
    snprintf(run_id, sizeof run_id, "g%ld-%d", (long)time(NULL), (int)getpid());
    snprintf(topic, sizeof topic, "%s-regions", run_id);
    snprintf(views, sizeof views, "%s-views", run_id);
    snprintf(state_dir, sizeof state_dir, "/tmp/rill-global-kafka-%s", run_id);
    rill_set_log_cb(NULL, NULL, getenv("RILL_DEBUG") ? RILL_LOG_DEBUG : RILL_LOG_WARN);
    if (kafka_create_topic(bootstrap, topic, 4) || kafka_create_topic(bootstrap, views, 4)) {
        fprintf(stderr, "test_global_kafka: cannot create the topics\n");
        return 1;
    }
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_committed_only),
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    const char *topics[] = {topic, views};
    kafka_delete_topics(bootstrap, topics, 2);
    nftw(state_dir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
    return rc;
}
