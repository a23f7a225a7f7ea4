/*
 * A foreign-key join running as an app on the embedded cluster (4 partitions a topic): the app
 * creates the subscription and response topics, sizes them as the tables they serve, and the
 * results of left rows whose right rows live on other partitions come out complete, on the left
 * row's partition, and follow updates and deletes of the right rows.
 */
#define _GNU_SOURCE /* nftw's FTW_DEPTH | FTW_PHYS */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <rill/app.h>
#include <rill/dsl.h>

#include <librdkafka/rdkafka.h>

#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "../common/embedded_app.h"
#include "../common/kafka_util.h"
#include "../common/temp_dir.h"

#define LEFT_ROWS  200
#define RIGHT_ROWS 50

static char state_dir[64];

/* The right key a left value "v<i>|r<j>" names: "r<j>". */
static int foreign_key(void *ud, rill_context_t *ctx, const rill_record_t *rec, rill_buf_t *out)
{
    (void)ud, (void)ctx;
    const char *v = rec->value.data, *bar = v ? memchr(v, '|', rec->value.len) : NULL;
    *out =
        bar ? (rill_buf_t){bar + 1, rec->value.len - (size_t)(bar + 1 - v)} : (rill_buf_t){NULL, 0};
    return 0;
}

/* "<left key>:<right value>", so the verifier knows each result's row from its value alone. */
static int joiner(void *ud, rill_context_t *ctx, rill_buf_t key, rill_buf_t left, rill_buf_t right,
                  rill_buf_t *out)
{
    (void)ud, (void)left;
    *out = rill_arena_printf(rill_context_arena(ctx), "%.*s:%.*s", (int)key.len,
                             (const char *)key.data, right.data ? (int)right.len : 4,
                             right.data ? (const char *)right.data : "null");
    return out->data ? 0 : RILL_ENOMEM;
}

static void produce(rill_producer_t *p, const char *topic, const char *key, const char *value,
                    int64_t ts)
{
    assert_int_equal(rill_producer_send(p, topic, -1, rill_buf_str(key),
                                        value ? rill_buf_str(value) : (rill_buf_t){0}, ts),
                     0);
}

static void test_fk_join_on_four_partitions(void **state)
{
    (void)state;
    rill_topology_t *topo = rill_topology_new();
    rill_table_t *left = rill_table_from(topo, "fk-left", NULL, NULL);
    rill_table_t *right = rill_table_from(topo, "fk-right", NULL, NULL);
    assert_int_equal(rill_stream_to(rill_table_to_stream(rill_table_fk_join(
                                        left, right, foreign_key, NULL, joiner, NULL, NULL)),
                                    "fk-out", NULL),
                     0);
    /* A cached right row reaches the join's subscribers at the cache's flush: a subscription
     * that came in between would get a second (equal) answer, as in Kafka Streams. */
    const char *const extra[] = {"statestore.cache.max.bytes", "0", NULL};
    rill_app_t *app = embedded_app_new(topo, "fk-it", state_dir, extra);
    char err[512];
    const char *bootstrap = rill_app_bootstrap_servers(app);
    rill_producer_t *p = rill_producer_new(bootstrap, err, sizeof err);
    assert_non_null(p);
    char k[16], v[32];
    for (int j = 0; j < RIGHT_ROWS; j++) {
        snprintf(k, sizeof k, "r%d", j);
        snprintf(v, sizeof v, "right%d", j);
        produce(p, "fk-right", k, v, 1 + j); /* 0 would be "now" to the producer */
    }
    for (int i = 0; i < LEFT_ROWS; i++) {
        snprintf(k, sizeof k, "l%d", i);
        snprintf(v, sizeof v, "v%d|r%d", i, i * 7 % RIGHT_ROWS);
        produce(p, "fk-left", k, v, 100 + i);
    }
    assert_int_equal(rill_producer_flush(p, 10000), 0);
    assert_int_equal(rill_app_start(app), 0);
    assert_int_equal(rill_app_wait_state(app, RILL_STATE_RUNNING, 30000), 0);

    /* Every left row joins its right row once, whichever side reached the join first. */
    static char values[LEFT_ROWS + 1][32];
    assert_int_equal(kafka_read_all(bootstrap, "fk-out", LEFT_ROWS + 1, values), LEFT_ROWS);
    static bool seen[LEFT_ROWS];
    for (int n = 0; n < LEFT_ROWS; n++) {
        int i, j;
        assert_int_equal(sscanf(values[n], "l%d:right%d", &i, &j), 2);
        assert_true(i >= 0 && i < LEFT_ROWS && !seen[i]);
        assert_int_equal(j, i * 7 % RIGHT_ROWS);
        seen[i] = true;
    }

    /* A right row's update reaches the 4 left rows that name it, wherever they live. */
    produce(p, "fk-right", "r3", "updated", 1000);
    assert_int_equal(rill_producer_flush(p, 10000), 0);
    int expect = 0;
    for (int i = 0; i < LEFT_ROWS; i++)
        expect += i * 7 % RIGHT_ROWS == 3;
    assert_int_equal(expect, 4);
    static char all[LEFT_ROWS + 8][32];
    assert_int_equal(kafka_read_all(bootstrap, "fk-out", LEFT_ROWS + expect + 1, all),
                     LEFT_ROWS + expect);
    int updated = 0;
    for (int n = 0; n < LEFT_ROWS + expect; n++)
        updated += strstr(all[n], ":updated") != NULL;
    assert_int_equal(updated, expect);

    /* The internal topics exist, each with its table's 4 partitions. */
    rd_kafka_t *admin = kafka_admin(bootstrap);
    const rd_kafka_metadata_t *md = NULL;
    assert_int_equal(rd_kafka_metadata(admin, 1, NULL, &md, 10000), RD_KAFKA_RESP_ERR_NO_ERROR);
    int internal = 0;
    for (int t = 0; t < md->topic_cnt; t++) {
        const char *name = md->topics[t].topic;
        size_t len = strlen(name);
        if (strncmp(name, "fk-it-KTABLE-FK-JOIN-SUBSCRIPTION-", 34) == 0 && len > 6 &&
            strcmp(name + len - 6, "-topic") == 0) {
            assert_int_equal(md->topics[t].partition_cnt, 4);
            internal++;
        }
    }
    assert_int_equal(internal, 2);
    rd_kafka_metadata_destroy(md);
    rd_kafka_destroy(admin);

    assert_int_equal(rill_app_close(app, 10000), 0);
    rill_producer_destroy(p);
    rill_app_destroy(app);
    rill_topology_unref(topo);
}

int main(void)
{
    if (temp_dir_make(state_dir, "fk-it"))
        return 1;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fk_join_on_four_partitions),
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    temp_dir_remove(state_dir);
    return rc;
}
