/*
 * A task fed by several partitions across an exactly-once rewind, on a real Apache Kafka broker
 * (RILL_TEST_BOOTSTRAP). A stream-table join's task reads its table and stream partitions from
 * their own librdkafka queues, in timestamp order (engine/partition_group.c); when its
 * transaction is aborted, what those queues hold was fetched past the last commit and must be
 * dropped, and each partition read again from the committed offset.
 *
 * The app joins 3,000 stream records with 40 table rows. After a first batch is committed, a
 * processor after the join holds the stream thread in its open transaction (on a gate, not a
 * sleep) until librdkafka says the member left the group (max.poll.interval.ms, 6 s). Let go,
 * the app's commit is refused, or its partitions are lost first: it aborts, rejoins, and
 * processes everything again from the last commit. read_committed, every stream record is joined
 * exactly once with its row; read_uncommitted also shows the aborted transaction's results: the
 * rewind did happen with records in flight.
 */
#define _GNU_SOURCE
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <rill/app.h>
#include <rill/dsl.h>

#include <librdkafka/rdkafka.h>

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "../common/clock.h"
#include "../common/kafka_util.h"
#include "../common/temp_dir.h"

#define PARTITIONS 4
#define ROWS       40
#define FIRST      1000 /* stream records committed before the hold */
#define TOTAL      3000
#define HOLD_AT    1500 /* the stream record whose result the gate holds */

static const char *bootstrap;
static char run_id[32];
static double t0;

/* The gate: the processor sets held and waits for go. */
static struct {
    pthread_mutex_t lock;
    pthread_cond_t cond;
    bool held, go, done;
} gate = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, false, false, false};

/* What the app's log said. */
static atomic_int left_group, rewinds;

static void log_cb(void *opaque, rill_log_level_t level, const char *component, const char *msg)
{
    (void)opaque, (void)level;
    if (strstr(msg, "max.poll.interval.ms") || strstr(msg, "maximum poll interval"))
        atomic_fetch_add(&left_group, 1);
    /* Either way the held transaction ends: its commit is refused (unknown member) and the
     * thread rewinds, or the rebalance that follows the member's leaving comes first, and the
     * thread aborts as its partitions were lost; it rejoins and reads from the last commit. */
    if (strstr(msg, "rewinding to the last commit") || strstr(msg, "aborting the transaction"))
        atomic_fetch_add(&rewinds, 1);
    if (level <= RILL_LOG_WARN)
        printf("  [%6.2f s] %s: %s\n", now_s() - t0, component, msg);
}

static int stream_id(const rill_record_t *rec)
{
    char text[32];
    snprintf(text, sizeof text, "%.*s", (int)rec->value.len, (const char *)rec->value.data);
    return atoi(text + 1); /* "s<id>|T<row>" */
}

/* Forwards every result; the first time the result of HOLD_AT comes, holds the thread (its
 * transaction open) until the test lets it go. */
static int hold_process(rill_context_t *ctx, void *state, const rill_record_t *rec)
{
    (void)state;
    int rc = rill_context_forward(ctx, rec);
    if (rc || stream_id(rec) != HOLD_AT)
        return rc;
    pthread_mutex_lock(&gate.lock);
    if (!gate.done) {
        gate.held = true;
        pthread_cond_broadcast(&gate.cond);
        while (!gate.go)
            pthread_cond_wait(&gate.cond, &gate.lock);
        gate.done = true;
    }
    pthread_mutex_unlock(&gate.lock);
    return 0;
}

static const rill_processor_ops hold_ops = {.process = hold_process};

static int joiner(void *ud, rill_context_t *ctx, rill_buf_t key, rill_buf_t left, rill_buf_t right,
                  rill_buf_t *out)
{
    (void)ud, (void)key;
    *out = rill_arena_printf(rill_context_arena(ctx), "%.*s|%.*s", (int)left.len,
                             (const char *)left.data, (int)right.len, (const char *)right.data);
    return out->data ? 0 : RILL_ENOMEM;
}

/* Produces stream records [from, to): key r<i % ROWS>, value s<i>, after the rows in time. */
static void produce_stream(rill_producer_t *p, const char *topic, int from, int to, int64_t base)
{
    for (int i = from; i < to; i++) {
        char k[16], v[16];
        snprintf(k, sizeof k, "r%d", i % ROWS);
        snprintf(v, sizeof v, "s%d", i);
        assert_int_equal(
            rill_producer_send(p, topic, -1, rill_buf_str(k), rill_buf_str(v), base + 1000 + i), 0);
    }
    assert_int_equal(rill_producer_flush(p, 30000), 0);
}

typedef struct {
    int copies[TOTAL];
    int records, wrong;
} seen_t;

static void see(void *ud, const rd_kafka_message_t *m)
{
    seen_t *s = ud;
    char v[64], want[64];
    snprintf(v, sizeof v, "%.*s", (int)m->len, (const char *)m->payload);
    int id = atoi(v + 1);
    s->records++;
    snprintf(want, sizeof want, "s%d|T%d", id, id % ROWS);
    if (v[0] != 's' || id < 0 || id >= TOTAL || strcmp(v, want) != 0) {
        s->wrong++;
        return;
    }
    s->copies[id]++;
}

static void test_grouped_task_across_a_rewind(void **state)
{
    (void)state;
    t0 = now_s();
    char table[96], stream[96], out[96], app_id[96], dir[64];
    snprintf(table, sizeof table, "rw-table-%s", run_id);
    snprintf(stream, sizeof stream, "rw-stream-%s", run_id);
    snprintf(out, sizeof out, "rw-out-%s", run_id);
    snprintf(app_id, sizeof app_id, "rw-app-%s", run_id);
    assert_int_equal(temp_dir_make(dir, "join-rewind"), 0);
    const char *topics[] = {table, stream, out};
    for (int i = 0; i < 3; i++)
        assert_int_equal(kafka_create_topic(bootstrap, topics[i], PARTITIONS), 0);
    char err[512];
    rill_producer_t *p = rill_producer_new(bootstrap, err, sizeof err);
    assert_non_null(p);
    int64_t base = wall_ms() - 3600000;
    for (int r = 0; r < ROWS; r++) {
        char k[16], v[16];
        snprintf(k, sizeof k, "r%d", r);
        snprintf(v, sizeof v, "T%d", r);
        assert_int_equal(
            rill_producer_send(p, table, -1, rill_buf_str(k), rill_buf_str(v), base + r), 0);
    }
    produce_stream(p, stream, 0, FIRST, base);

    rill_topology_t *topo = rill_topology_new();
    rill_source_opts_t so = {.key_serde = rill_serde_string(), .value_serde = rill_serde_string()};
    rill_table_t *rows = rill_table_from(topo, table, &so, NULL);
    rill_stream_t *joined =
        rill_stream_table_join(rill_stream_from_topic(topo, stream, &so), rows, joiner, NULL, NULL);
    assert_int_equal(rill_stream_to(rill_stream_process(joined, &hold_ops, NULL, NULL), out, NULL),
                     0);
    rill_conf_t *conf = rill_conf_new();
    const char *kv[][2] = {
        {"application.id", app_id},
        {"bootstrap.servers", bootstrap},
        {"state.dir", dir},
        {"processing.guarantee", "exactly_once_v2"},
        {"default.key.serde", "string"},
        {"default.value.serde", "string"},
        {"commit.interval.ms", "100"},
        /* A member that stops polling leaves the group after 6 s. */
        {"consumer.session.timeout.ms", "6000"},
        {"consumer.heartbeat.interval.ms", "1000"},
        {"consumer.max.poll.interval.ms", "6000"},
        /* The broker must not abort the held transaction itself: the group does. */
        {"producer.transaction.timeout.ms", "60000"},
    };
    for (size_t i = 0; i < sizeof kv / sizeof kv[0]; i++)
        if (rill_conf_set(conf, kv[i][0], kv[i][1], err, sizeof err))
            fail_msg("%s=%s: %s", kv[i][0], kv[i][1], err);
    rill_app_t *app = rill_app_new(topo, conf, err, sizeof err);
    if (!app)
        fail_msg("rill_app_new: %s", err);
    assert_int_equal(rill_app_start(app), 0);
    kafka_wait_committed_at_end(bootstrap, app_id, stream, PARTITIONS, 60000);
    printf("  [%6.2f s] the first %d stream records are committed\n", now_s() - t0, FIRST);

    /* The rest, and the hold in the middle of it. */
    produce_stream(p, stream, FIRST, TOTAL, base);
    pthread_mutex_lock(&gate.lock);
    struct timespec deadline;
    clock_gettime(CLOCK_REALTIME, &deadline);
    deadline.tv_sec += 60;
    int rc = 0;
    while (!gate.held && rc != ETIMEDOUT)
        rc = pthread_cond_timedwait(&gate.cond, &gate.lock, &deadline);
    bool held = gate.held;
    pthread_mutex_unlock(&gate.lock);
    if (!held)
        fail_msg("the result of stream record %d did not come within 60 s", HOLD_AT);
    printf("  [%6.2f s] the stream thread is held in its transaction\n", now_s() - t0);
    for (double until = now_s() + 60; atomic_load(&left_group) == 0; sleep_ms(20))
        if (now_s() > until)
            fail_msg("librdkafka did not say within 60 s that the member left the group");
    printf("  [%6.2f s] the member left the group; letting the thread go\n", now_s() - t0);
    pthread_mutex_lock(&gate.lock);
    gate.go = true;
    pthread_cond_broadcast(&gate.cond);
    pthread_mutex_unlock(&gate.lock);

    for (double until = now_s() + 60; atomic_load(&rewinds) == 0; sleep_ms(20))
        if (now_s() > until)
            fail_msg("the app did not rewind within 60 s (state %s)",
                     rill_state_name(rill_app_state(app)));
    kafka_wait_committed_at_end(bootstrap, app_id, stream, PARTITIONS, 90000);
    assert_int_equal(rill_app_state(app), RILL_STATE_RUNNING);
    printf("  [%6.2f s] rewound %d time(s), committed to the end\n", now_s() - t0,
           atomic_load(&rewinds));
    assert_int_equal(rill_app_close(app, 30000), 0);

    static seen_t committed, uncommitted;
    memset(&committed, 0, sizeof committed);
    memset(&uncommitted, 0, sizeof uncommitted);
    int n = kafka_read_to_end(bootstrap, "read_committed", PARTITIONS, out, see, &committed);
    assert_int_equal(n, committed.records);
    n = kafka_read_to_end(bootstrap, "read_uncommitted", PARTITIONS, out, see, &uncommitted);
    assert_int_equal(n, uncommitted.records);
    int missing = 0, twice = 0;
    for (int i = 0; i < TOTAL; i++) {
        missing += committed.copies[i] == 0;
        twice += committed.copies[i] > 1;
    }
    printf("  read_committed: %d results, %d missing, %d twice, %d wrong; read_uncommitted: %d "
           "results (%d of aborted transactions)\n",
           committed.records, missing, twice, committed.wrong, uncommitted.records,
           uncommitted.records - committed.records);
    assert_int_equal(committed.wrong, 0);
    assert_int_equal(missing, 0);
    assert_int_equal(twice, 0);
    assert_int_equal(committed.records, TOTAL);
    assert_true(uncommitted.records > TOTAL);

    rill_app_destroy(app);
    rill_topology_unref(topo);
    rill_producer_destroy(p);
    const char *all[] = {table, stream, out};
    kafka_delete_topics(bootstrap, all, 3);
    temp_dir_remove(dir);
    printf("  (%.1f s)\n", now_s() - t0);
}

int main(void)
{
    if (!(bootstrap = kafka_test_bootstrap("test_join_rewind_kafka")))
        return 0;
    snprintf(run_id, sizeof run_id, "%ld-%d", (long)time(NULL), (int)getpid());
    rill_set_log_cb(log_cb, NULL, RILL_LOG_INFO);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_grouped_task_across_a_rewind),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
