/*
 * Records of a task's partitions are processed in timestamp order (Kafka Streams' PartitionGroup,
 * max.task.idle.ms=0), on the embedded cluster with one partition a topic:
 * - a stream ⋈ table join whose input is all on the broker before the app starts: every stream
 *   record meets the table row written just before it in record time, though the consumer
 *   fetches each topic in runs (in fetch order most would meet the last row, or none);
 * - a partition that is empty holds its task back only until the consumer reaches its end: a
 *   stream left-joined to an empty table gives every record, joined to null;
 * - a tiny buffered.records.per.partition (16 records taken from a partition's queue at a
 *   time) and no record is lost or repeated.
 */
#define _GNU_SOURCE /* nftw's FTW_DEPTH | FTW_PHYS */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <rill/app.h>
#include <rill/dsl.h>

#include <librdkafka/rdkafka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../common/embedded_app.h"
#include "../common/kafka_util.h"
#include "../common/temp_dir.h"

#define ROWS 2000

static char state_dir[64];

/* "<stream value>:<table value>" ("null" for none). */
static int joiner(void *ud, rill_context_t *ctx, rill_buf_t key, rill_buf_t left, rill_buf_t right,
                  rill_buf_t *out)
{
    (void)ud, (void)key;
    *out = rill_arena_printf(rill_context_arena(ctx), "%.*s:%.*s", (int)left.len,
                             (const char *)left.data, right.data ? (int)right.len : 4,
                             right.data ? (const char *)right.data : "null");
    return out->data ? 0 : RILL_ENOMEM;
}

static void produce(rill_producer_t *p, const char *topic, const char *value, int64_t ts)
{
    assert_int_equal(rill_producer_send(p, topic, 0, rill_buf_str("k"), rill_buf_str(value), ts),
                     0);
}

static void test_join_in_timestamp_order(void **state)
{
    (void)state;
    rill_topology_t *topo = rill_topology_new();
    rill_stream_t *s = rill_stream_from_topic(topo, "ord-stream", NULL);
    rill_table_t *t = rill_table_from(topo, "ord-table", NULL, NULL);
    assert_int_equal(
        rill_stream_to(rill_stream_table_join(s, t, joiner, NULL, NULL), "ord-out", NULL), 0);
    rill_stream_t *s2 = rill_stream_from_topic(topo, "ord-stream2", NULL);
    rill_table_t *empty = rill_table_from(topo, "ord-empty", NULL, NULL);
    assert_int_equal(rill_stream_to(rill_stream_table_left_join(s2, empty, joiner, NULL, NULL),
                                    "ord-out2", NULL),
                     0);
    const char *const extra[] = {"embedded.partitions", "1", "buffered.records.per.partition", "16",
                                 NULL};
    rill_app_t *app = embedded_app_new(topo, "ord-it", state_dir, extra);
    char err[512];
    const char *bootstrap = rill_app_bootstrap_servers(app);
    rill_producer_t *p = rill_producer_new(bootstrap, err, sizeof err);
    assert_non_null(p);
    /* The table's row i is written at 1000 (i + 1), the stream's record i 500 ms later: each
     * stream record's row is the one written just before it. The stream goes first on the
     * broker, so fetch order would have it meet no row at all. */
    char v[32];
    for (int i = 0; i < ROWS; i++) {
        snprintf(v, sizeof v, "s%d", i);
        produce(p, "ord-stream", v, 1000LL * (i + 1) + 500);
        produce(p, "ord-stream2", v, 1000LL * (i + 1) + 500);
    }
    assert_int_equal(rill_producer_flush(p, 10000), 0);
    for (int i = 0; i < ROWS; i++) {
        snprintf(v, sizeof v, "v%d", i);
        produce(p, "ord-table", v, 1000LL * (i + 1)); /* 0 would be "now" to the producer */
    }
    assert_int_equal(rill_producer_flush(p, 10000), 0);
    assert_int_equal(rill_app_start(app), 0);
    assert_int_equal(rill_app_wait_state(app, RILL_STATE_RUNNING, 30000), 0);

    static char out[ROWS + 1][32];
    assert_int_equal(kafka_read_all(bootstrap, "ord-out", ROWS, out), ROWS);
    for (int n = 0; n < ROWS; n++) {
        int i, j;
        if (sscanf(out[n], "s%d:v%d", &i, &j) != 2 || i != n || j != n)
            fail_msg("result %d is '%s', not 's%d:v%d'", n, out[n], n, n);
    }
    assert_int_equal(kafka_read_all(bootstrap, "ord-out2", ROWS, out), ROWS);
    for (int n = 0; n < ROWS; n++) {
        int i;
        char rest[8];
        if (sscanf(out[n], "s%d:%7s", &i, rest) != 2 || i != n || strcmp(rest, "null") != 0)
            fail_msg("result %d is '%s', not 's%d:null'", n, out[n], n);
    }

    assert_int_equal(rill_app_close(app, 10000), 0);
    /* Nothing more than those (a record processed twice would be there). */
    rd_kafka_t *admin = kafka_admin(bootstrap);
    int64_t lo, hi;
    assert_int_equal(rd_kafka_query_watermark_offsets(admin, "ord-out", 0, &lo, &hi, 10000), 0);
    assert_int_equal(hi, ROWS);
    assert_int_equal(rd_kafka_query_watermark_offsets(admin, "ord-out2", 0, &lo, &hi, 10000), 0);
    assert_int_equal(hi, ROWS);
    rd_kafka_destroy(admin);
    rill_producer_destroy(p);
    rill_app_destroy(app);
    rill_topology_unref(topo);
}

int main(void)
{
    if (temp_dir_make(state_dir, "ord-it"))
        return 1;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_join_in_timestamp_order),
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    temp_dir_remove(state_dir);
    return rc;
}
