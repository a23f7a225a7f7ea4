/*
 * In-place retries on the embedded cluster (errors.retry.in.place.attempts): a record whose map
 * fails twice backs its task off twice (its partitions pause and are sought back to it) and then
 * passes; every record comes out once, the app stays RUNNING, and records-processed counts
 * records, not tries. Retry topics (errors.retry.topics.delays.ms) on a running app: created at
 * start as wide as the source, read back, each record processed again once due.
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

#include "../common/embedded_app.h"
#include "../common/kafka_util.h"
#include "../common/temp_dir.h"

#define TOTAL 40

static char state_dir[64];
static atomic_int flaky_tries;

/* "flaky" fails on its first two tries. */
static int flaky_twice(void *ud, rill_context_t *ctx, const rill_record_t *rec, rill_buf_t *out)
{
    if (rec->value.len == 5 && memcmp(rec->value.data, "flaky", 5) == 0 &&
        atomic_fetch_add(&flaky_tries, 1) < 2)
        return rill_context_fail(ctx, RILL_EPROCESS, "not yet");
    *out = rec->value;
    return 0;
}

/* Writes TOTAL records "v<i>" keyed "k<i>" to topic, "flaky" at index flaky and "never" at
 * index never (-1: none). */
static void produce(const char *bootstrap, const char *topic, int flaky, int never)
{
    char err[512];
    rill_producer_t *p = rill_producer_new(bootstrap, err, sizeof err);
    assert_non_null(p);
    for (int i = 0; i < TOTAL; i++) {
        char key[16], value[16];
        snprintf(key, sizeof key, "k%d", i);
        snprintf(value, sizeof value, i == flaky ? "flaky" : i == never ? "never" : "v%d", i);
        assert_int_equal(
            rill_producer_send(p, topic, -1, rill_buf_str(key), rill_buf_str(value), 1000 + i), 0);
    }
    assert_int_equal(rill_producer_flush(p, 10000), 0);
    rill_producer_destroy(p);
}

static void test_a_record_retried_in_place_comes_out_once(void **state)
{
    rill_topology_t *topo = rill_topology_new();
    rill_stream_to(
        rill_stream_map_values(rill_stream_from_topic(topo, "ip-in", NULL), flaky_twice, NULL),
        "ip-out", NULL);
    const char *const extra[] = {"errors.retry.topics.processing",
                                 "all",
                                 "errors.retry.in.place.attempts",
                                 "3",
                                 "errors.retry.in.place.backoff.ms",
                                 "200",
                                 NULL};
    rill_app_t *app = embedded_app_new(topo, "ip-it", state_dir, extra);
    const char *bootstrap = rill_app_bootstrap_servers(app);
    produce(bootstrap, "ip-in", 7, -1);
    assert_int_equal(rill_app_start(app), 0);
    static char values[TOTAL][32];
    assert_int_equal(kafka_read_all(bootstrap, "ip-out", TOTAL, values), TOTAL);
    int flaky = 0;
    for (int i = 0; i < TOTAL; i++)
        flaky += strcmp(values[i], "flaky") == 0;
    assert_int_equal(flaky, 1);
    assert_int_equal(atomic_load(&flaky_tries), 3);
    assert_int_equal(rill_app_state(app), RILL_STATE_RUNNING);
    assert_int_equal(rill_app_metric(app, "records-processed"), TOTAL);
    assert_int_equal(rill_app_close(app, 10000), 0);
    /* Once: the output topic holds TOTAL records, no more. */
    assert_int_equal(kafka_topic_records(bootstrap, "ip-out", 4), TOTAL);
    rill_app_destroy(app);
    rill_topology_unref(topo);
}

/* "flaky" fails on its first two tries, "never" always. */
static atomic_int topic_tries, never_tries;
static int fails_until_third(void *ud, rill_context_t *ctx, const rill_record_t *rec,
                             rill_buf_t *out)
{
    if (rec->value.len == 5 && memcmp(rec->value.data, "never", 5) == 0) {
        atomic_fetch_add(&never_tries, 1);
        return rill_context_fail(ctx, RILL_EPROCESS, "never");
    }
    if (rec->value.len == 5 && memcmp(rec->value.data, "flaky", 5) == 0 &&
        atomic_fetch_add(&topic_tries, 1) < 2)
        return rill_context_fail(ctx, RILL_EPROCESS, "not yet");
    *out = rec->value;
    return 0;
}

static void note_attempt(void *ud, const rd_kafka_message_t *m, int n)
{
    rd_kafka_headers_t *h = NULL;
    const void *v = NULL;
    size_t len = 0;
    if (rd_kafka_message_headers((rd_kafka_message_t *)m, &h) == 0)
        rd_kafka_header_get_last(h, "__rill.retry.attempt", &v, &len);
    snprintf(ud, 16, "%.*s", (int)len, (const char *)v);
}

/* A running app reads its retry topics: "flaky" comes out once after both delays (not before the
 * first), "never" ends in the dead letter queue after three tries, the rest at once. */
static void test_retry_topics_on_a_running_app(void **state)
{
    rill_topology_t *topo = rill_topology_new();
    rill_stream_to(rill_stream_map_values(rill_stream_from_topic(topo, "rt-in", NULL),
                                          fails_until_third, NULL),
                   "rt-out", NULL);
    const char *const extra[] = {"errors.retry.topics.delays.ms",
                                 "300,600",
                                 "errors.retry.topics.processing",
                                 "all",
                                 "errors.dead.letter.queue.topic.name",
                                 "rt-dlq",
                                 NULL};
    rill_app_t *app = embedded_app_new(topo, "rt-it", state_dir, extra);
    const char *bootstrap = rill_app_bootstrap_servers(app);
    produce(bootstrap, "rt-in", 3, 5);
    assert_int_equal(rill_app_start(app), 0);
    static char values[TOTAL][32];
    assert_int_equal(kafka_read_all(bootstrap, "rt-out", TOTAL - 1, values), TOTAL - 1);
    int flaky = 0;
    for (int i = 0; i < TOTAL - 1; i++)
        flaky += strcmp(values[i], "flaky") == 0;
    assert_int_equal(flaky, 1);
    assert_int_equal(atomic_load(&topic_tries), 3);
    char attempt[16] = "";
    assert_int_equal(kafka_read_each(bootstrap, "rt-dlq", 1, note_attempt, attempt), 1);
    assert_string_equal(attempt, "3");
    assert_int_equal(atomic_load(&never_tries), 3);
    assert_int_equal(rill_app_state(app), RILL_STATE_RUNNING);
    assert_int_equal(kafka_partition_count(bootstrap, "rt-it-retry-300"), 4);
    assert_int_equal(rill_app_close(app, 10000), 0);
    assert_int_equal(kafka_topic_records(bootstrap, "rt-out", 4), TOTAL - 1);
    assert_int_equal(kafka_topic_records(bootstrap, "rt-dlq", 4), 1);
    assert_int_equal(kafka_topic_records(bootstrap, "rt-it-retry-300", 4), 2);
    assert_int_equal(kafka_topic_records(bootstrap, "rt-it-retry-600", 4), 2);
    rill_app_destroy(app);
    rill_topology_unref(topo);
}

int main(void)
{
    if (temp_dir_make(state_dir, "ip-it"))
        return 1;
    rill_set_log_cb(NULL, NULL, getenv("RILL_DEBUG") ? RILL_LOG_DEBUG : RILL_LOG_ERROR);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_a_record_retried_in_place_comes_out_once),
        cmocka_unit_test(test_retry_topics_on_a_running_app),
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    temp_dir_remove(state_dir);
    return rc;
}
