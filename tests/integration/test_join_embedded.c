/*
 * A stream-stream join running as an app on the embedded cluster (4 partitions a topic), then
 * restarted as a second instance on an empty state directory: the second restores both window
 * stores from their changelogs, whose records are keyed (key, start, sequence number), and its
 * new records join the restored ones, duplicates (values of one key and timestamp) included,
 * each exactly once.
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

#define KEYS 20

static char state_dir[64];

/* "<left>+<right>". */
static int joiner(void *ud, rill_context_t *ctx, rill_buf_t key, rill_buf_t left, rill_buf_t right,
                  rill_buf_t *out)
{
    (void)ud, (void)key;
    *out = rill_arena_printf(rill_context_arena(ctx), "%.*s+%.*s", (int)left.len,
                             (const char *)left.data, (int)right.len, (const char *)right.data);
    return out->data ? 0 : RILL_ENOMEM;
}

/* Sends one record of each key: "<prefix><i>" under "k<i>" at ts. */
static void produce_all(rill_producer_t *p, const char *topic, const char *prefix, int64_t ts)
{
    char k[16], v[16];
    for (int i = 0; i < KEYS; i++) {
        snprintf(k, sizeof k, "k%d", i);
        snprintf(v, sizeof v, "%s%d", prefix, i);
        assert_int_equal(rill_producer_send(p, topic, -1, rill_buf_str(k), rill_buf_str(v), ts), 0);
    }
    assert_int_equal(rill_producer_flush(p, 10000), 0);
}

/* How many of the n outputs are "<left><i>+<right><i>". */
static int count(char values[][32], int n, const char *left, int i, const char *right)
{
    char want[32];
    snprintf(want, sizeof want, "%s%d+%s%d", left, i, right, i);
    int c = 0;
    for (int m = 0; m < n; m++)
        c += strcmp(values[m], want) == 0;
    return c;
}

static void test_join_restores_duplicates(void **state)
{
    (void)state;
    rill_topology_t *topo = rill_topology_new();
    rill_stream_t *l = rill_stream_from_topic(topo, "ss-left", NULL);
    rill_stream_t *r = rill_stream_from_topic(topo, "ss-right", NULL);
    assert_int_equal(
        rill_stream_to(rill_stream_join(l, r, joiner, NULL, rill_join_windows(1000, 60000), NULL),
                       "ss-out", NULL),
        0);
    char one[96], two[96], err[512];
    snprintf(one, sizeof one, "%s/one", state_dir);
    snprintf(two, sizeof two, "%s/two", state_dir);
    rill_app_t *first = embedded_app_new(topo, "ss-it", one, NULL);
    const char *bootstrap = rill_app_bootstrap_servers(first);
    rill_producer_t *p = rill_producer_new(bootstrap, err, sizeof err);
    assert_non_null(p);
    produce_all(p, "ss-left", "a", 1000);
    produce_all(p, "ss-left", "b", 1000); /* duplicates: the same keys and timestamp */
    assert_int_equal(rill_app_start(first), 0);
    assert_int_equal(rill_app_wait_state(first, RILL_STATE_RUNNING, 30000), 0);
    produce_all(p, "ss-right", "x", 1500);
    static char values[4 * KEYS + 1][32];
    assert_int_equal(kafka_read_all(bootstrap, "ss-out", 2 * KEYS, values), 2 * KEYS);
    assert_int_equal(rill_app_close(first, 10000), 0);

    /* Another instance, on an empty state directory: its stores come from the changelogs. */
    const char *same_cluster[] = {"bootstrap.servers", bootstrap, NULL};
    rill_app_t *second = embedded_app_new(topo, "ss-it", two, same_cluster);
    assert_int_equal(rill_app_start(second), 0);
    assert_int_equal(rill_app_wait_state(second, RILL_STATE_RUNNING, 30000), 0);
    produce_all(p, "ss-right", "y", 1600);
    int n = kafka_read_all(bootstrap, "ss-out", 4 * KEYS + 1, values);
    assert_int_equal(n, 4 * KEYS);
    /* Each of a and b joined x, then joins y, once (and nothing else came out). */
    for (int i = 0; i < KEYS; i++) {
        assert_int_equal(count(values, n, "a", i, "x"), 1);
        assert_int_equal(count(values, n, "b", i, "x"), 1);
        assert_int_equal(count(values, n, "a", i, "y"), 1);
        assert_int_equal(count(values, n, "b", i, "y"), 1);
    }
    /* Both stores restored: 2 * KEYS left records and KEYS right ones, all from changelogs. */
    assert_int_equal(rill_app_metric(second, "records-restored"), 3 * KEYS);
    assert_int_equal(rill_app_close(second, 10000), 0);
    rill_app_destroy(second);
    rill_producer_destroy(p);
    rill_app_destroy(first);
    rill_topology_unref(topo);
}

int main(void)
{
    if (temp_dir_make(state_dir, "ss-it"))
        return 1;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_join_restores_duplicates),
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    temp_dir_remove(state_dir);
    return rc;
}
