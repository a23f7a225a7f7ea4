/*
 * The engine on the embedded cluster (librdkafka's mock cluster, in-process): a filter+map
 * topology end to end, committed offsets after a clean close, the state machine, the
 * uncaught-error path, an unreachable cluster, zero allocations per record on the hot path,
 * and an idle app that uses (near) zero CPU.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <rill/app.h>
#include <rill/dsl.h>

#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "../common/filter_map.h"
#include "../common/kafka_util.h"
#include "../common/oversize.h"

static rill_conf_t *conf_for(const char *app_id)
{
    rill_conf_t *conf = rill_conf_new();
    char err[256];
    assert_int_equal(rill_conf_set(conf, "application.id", app_id, err, sizeof err), 0);
    assert_int_equal(rill_conf_set(conf, "default.key.serde", "string", err, sizeof err), 0);
    assert_int_equal(rill_conf_set(conf, "default.value.serde", "string", err, sizeof err), 0);
    assert_int_equal(rill_conf_set(conf, "commit.interval.ms", "200", err, sizeof err), 0);
    if (getenv("RILL_KAFKA_DEBUG")) /* e.g. cgrp,topic: librdkafka's debug contexts */
        assert_int_equal(
            rill_conf_set(conf, "consumer.debug", getenv("RILL_KAFKA_DEBUG"), err, sizeof err), 0);
    return conf;
}

typedef struct {
    atomic_int seen;
} counter_t;

static void count(void *ud, const rill_record_t *rec)
{
    atomic_fetch_add(&((counter_t *)ud)->seen, 1);
}

static rill_topology_t *filter_map(counter_t *c)
{
    rill_topology_t *topo = rill_topology_new();
    rill_stream_t *s = rill_stream_from_topic(topo, "input", NULL);
    rill_stream_t *out = rill_stream_map_values(rill_stream_filter(s, even, NULL), tag, NULL);
    rill_stream_to(rill_stream_peek(out, count, c), "output", NULL);
    return topo;
}

static void wait_count(counter_t *c, int n, int timeout_ms)
{
    wait_counter(&c->seen, n, timeout_ms);
}

static void assert_committed_at_end(const char *bootstrap, const char *group, const char *topic,
                                    int partitions, int64_t total)
{
    assert_int_equal(kafka_assert_committed_at_end(bootstrap, group, topic, partitions), total);
}

static atomic_int transitions;
static void on_state(void *ud, rill_state_t to, rill_state_t from)
{
    atomic_fetch_add(&transitions, 1);
}

static void test_filter_map_end_to_end(void **state)
{
    char err[512];
    counter_t c = {0};
    rill_topology_t *topo = filter_map(&c);
    rill_app_t *app = rill_app_new(topo, conf_for("e2e"), err, sizeof err);
    assert_non_null(app);
    rill_app_set_state_listener(app, on_state, NULL);
    assert_int_equal(rill_app_state(app), RILL_STATE_CREATED);
    const char *bootstrap = rill_app_bootstrap_servers(app);
    assert_non_null(bootstrap);
    rill_producer_t *p = rill_producer_new(bootstrap, err, sizeof err);
    assert_non_null(p);
    produce_numbered(p, 1000);
    assert_int_equal(rill_app_start(app), 0);
    assert_int_equal(rill_app_wait_state(app, RILL_STATE_RUNNING, 30000), 0);
    wait_count(&c, 500, 30000);
    assert_int_equal(rill_app_close(app, 10000), 0);
    assert_int_equal(rill_app_state(app), RILL_STATE_NOT_RUNNING);
    assert_true(atomic_load(&transitions) >= 4); /* REBALANCING, RUNNING, PENDING, NOT_RUNNING */

    char values[500][32];
    assert_int_equal(kafka_read_all(bootstrap, "output", 500, values), 500);
    for (int i = 0; i < 500; i++)
        assert_true(strncmp(values[i], "v=", 2) == 0 && atoi(values[i] + 2) % 2 == 0);

    /* The offsets were committed at close: for every partition of the input, the group's
     * committed offset is the partition's end. (Restarting from them is tested on the real
     * broker, in tests/kafka.) */
    assert_committed_at_end(bootstrap, "e2e", "input", 4, 1000);
    rill_producer_destroy(p);
    rill_app_destroy(app);
    rill_topology_unref(topo);
}

static int explode(void *ud, rill_context_t *ctx, const rill_record_t *rec, rill_buf_t *out)
{
    return rill_context_fail(ctx, RILL_EPROCESS, "cannot handle value '%.*s'", (int)rec->value.len,
                             (const char *)rec->value.data);
}

static atomic_int handler_calls;
static char handler_msg[1024];
static void on_error(void *ud, int err, const char *msg)
{
    atomic_fetch_add(&handler_calls, 1);
    snprintf(handler_msg, sizeof handler_msg, "%s", msg);
}

static void test_processing_error_goes_to_error_state(void **state)
{
    char err[512];
    rill_topology_t *topo = rill_topology_new();
    rill_stream_to(
        rill_stream_map_values(rill_stream_from_topic(topo, "bad-in", NULL), explode, NULL),
        "bad-out", NULL);
    rill_app_t *app = rill_app_new(topo, conf_for("errors"), err, sizeof err);
    assert_non_null(app);
    rill_app_set_error_handler(app, on_error, NULL);
    rill_producer_t *p = rill_producer_new(rill_app_bootstrap_servers(app), err, sizeof err);
    rill_producer_send(p, "bad-in", 0, rill_buf_str("k"), rill_buf_str("poison"), 1);
    assert_int_equal(rill_producer_flush(p, 10000), 0);
    assert_int_equal(rill_app_start(app), 0);
    assert_int_equal(rill_app_wait_state(app, RILL_STATE_ERROR, 30000), 0);
    char msg[1024];
    rill_app_error(app, msg, sizeof msg);
    assert_non_null(strstr(msg, "cannot handle value 'poison'"));
    assert_non_null(strstr(msg, "task 0_0"));
    assert_int_equal(atomic_load(&handler_calls), 1);
    assert_non_null(strstr(handler_msg, "poison"));
    rill_app_close(app, 10000);
    assert_int_equal(rill_app_state(app), RILL_STATE_ERROR);
    rill_producer_destroy(p);
    rill_app_destroy(app);
    rill_topology_unref(topo);
}

/* Asserts that an app of topo and conf (taken) fails to start with code, in ERROR, its error
 * holding needle. */
static void expect_start_error(rill_topology_t *topo, rill_conf_t *conf, int code,
                               const char *needle)
{
    char err[512], msg[1024];
    rill_app_t *app = rill_app_new(topo, conf, err, sizeof err);
    assert_non_null(app);
    assert_int_equal(rill_app_start(app), code);
    assert_int_equal(rill_app_state(app), RILL_STATE_ERROR);
    rill_app_error(app, msg, sizeof msg);
    if (!strstr(msg, needle))
        fail_msg("expected '%s' in '%s'", needle, msg);
    rill_app_destroy(app);
}

static void test_unreachable_cluster_errors_in_time(void **state)
{
    char err[512];
    counter_t c = {0};
    rill_topology_t *topo = filter_map(&c);
    rill_conf_t *conf = conf_for("unreachable");
    /* Port 1 on loopback: nothing listens, connections are refused. */
    assert_int_equal(rill_conf_set(conf, "bootstrap.servers", "127.0.0.1:1", err, sizeof err), 0);
    assert_int_equal(rill_conf_set(conf, "cluster.connect.timeout.ms", "1500", err, sizeof err), 0);
    expect_start_error(topo, conf, RILL_ETIMEDOUT, "bootstrap.servers=127.0.0.1:1 within 1500 ms");
    rill_topology_unref(topo);
}

/* ---- the allocator hook counts every allocation Rill makes ---- */

static atomic_long allocations;
static void *counting_malloc(size_t n)
{
    atomic_fetch_add_explicit(&allocations, 1, memory_order_relaxed);
    return malloc(n);
}
static void *counting_realloc(void *p, size_t n)
{
    atomic_fetch_add_explicit(&allocations, 1, memory_order_relaxed);
    return realloc(p, n);
}

static void produce_numbers(rill_producer_t *p, const char *topic, int from, int to)
{
    for (int i = from; i < to; i++) {
        char k[16], v[16];
        snprintf(k, sizeof k, "k%d", i % 101);
        snprintf(v, sizeof v, "%d", i);
        assert_int_equal(rill_producer_send(p, topic, -1, rill_buf_str(k), rill_buf_str(v), i), 0);
    }
    assert_int_equal(rill_producer_flush(p, 30000), 0);
}

static void test_no_allocation_per_record(void **state)
{
    char err[512];
    counter_t c = {0};
    rill_topology_t *topo = filter_map(&c);
    rill_app_t *app = rill_app_new(topo, conf_for("alloc"), err, sizeof err);
    rill_producer_t *p = rill_producer_new(rill_app_bootstrap_servers(app), err, sizeof err);
    assert_int_equal(rill_app_start(app), 0);
    assert_int_equal(rill_app_wait_state(app, RILL_STATE_RUNNING, 30000), 0);
    /* Warm-up: tasks exist, arenas and buffers have grown, topic handles are cached. */
    produce_numbers(p, "input", 0, 2000);
    wait_count(&c, 1000, 30000);
    long before = atomic_load(&allocations);
    produce_numbers(p, "input", 2000, 52000);
    wait_count(&c, 26000, 60000);
    long during = atomic_load(&allocations) - before;
    int64_t processed = rill_app_metric(app, "records-processed");
    printf("hot path: %ld allocations by Rill while processing %lld records (filter+map+sink)\n",
           during, (long long)(processed - 2000));
    assert_true(processed >= 52000);
    assert_int_equal(during, 0);
    rill_producer_destroy(p);
    rill_app_destroy(app);
    rill_topology_unref(topo);
}

/* utime + stime of the whole process (every thread, the mock cluster's included), in ms. */
static double process_cpu_ms(void)
{
    FILE *f = fopen("/proc/self/stat", "r");
    assert_non_null(f);
    char buf[2048];
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = 0;
    /* Fields after the command name, which is in parentheses and may hold spaces. */
    char *rest = strrchr(buf, ')') + 2;
    unsigned long utime = 0, stime = 0;
    int field = 3;
    for (char *tok = strtok(rest, " "); tok; tok = strtok(NULL, " "), field++) {
        if (field == 14)
            utime = strtoul(tok, NULL, 10);
        if (field == 15) {
            stime = strtoul(tok, NULL, 10);
            break;
        }
    }
    return (double)(utime + stime) * 1000.0 / (double)sysconf(_SC_CLK_TCK);
}

static void test_idle_app_uses_no_cpu(void **state)
{
    char err[512];
    counter_t c = {0};
    rill_topology_t *topo = filter_map(&c);
    rill_app_t *app = rill_app_new(topo, conf_for("idle"), err, sizeof err);
    assert_int_equal(rill_app_start(app), 0);
    assert_int_equal(rill_app_wait_state(app, RILL_STATE_RUNNING, 30000), 0);
    /* A measurement window, not a wait for something to happen. */
    double cpu0 = process_cpu_ms();
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    struct timespec window = {3, 0};
    nanosleep(&window, NULL);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    double cpu = process_cpu_ms() - cpu0;
    double wall = (double)(t1.tv_sec - t0.tv_sec) * 1000.0 + (t1.tv_nsec - t0.tv_nsec) / 1e6;
    printf("idle: %.0f ms CPU in %.0f ms wall (%.2f%% of one core), app and embedded cluster\n",
           cpu, wall, 100.0 * cpu / wall);
    assert_true(cpu / wall < 0.05);
    rill_app_destroy(app);
    rill_topology_unref(topo);
}

static void test_two_threads_share_partitions(void **state)
{
    char err[512];
    counter_t c = {0};
    rill_topology_t *topo = filter_map(&c);
    rill_conf_t *conf = conf_for("threads");
    assert_int_equal(rill_conf_set(conf, "num.stream.threads", "2", err, sizeof err), 0);
    rill_app_t *app = rill_app_new(topo, conf, err, sizeof err);
    rill_producer_t *p = rill_producer_new(rill_app_bootstrap_servers(app), err, sizeof err);
    produce_numbers(p, "input", 0, 4000);
    assert_int_equal(rill_app_start(app), 0);
    assert_int_equal(rill_app_wait_state(app, RILL_STATE_RUNNING, 30000), 0);
    wait_count(&c, 2000, 60000);
    /* Four partitions over two threads, one task each partition. */
    assert_int_equal(rill_app_metric(app, "tasks"), 4);
    assert_true(rill_app_metric(app, "records-processed") >= 4000);
    /* If the second thread joined late, the first one's commit at revocation may have been
     * rejected (the mock refuses commits during a rebalance) and the records are processed
     * again: wait for the commits to catch up, then close. */
    kafka_wait_committed_at_end(rill_app_bootstrap_servers(app), "threads", "input", 4, 60000);
    assert_int_equal(rill_app_close(app, 10000), 0);
    assert_committed_at_end(rill_app_bootstrap_servers(app), "threads", "input", 4, 4000);
    rill_producer_destroy(p);
    rill_app_destroy(app);
    rill_topology_unref(topo);
}

/* Offsets are committed on the interval, not only at close. */
static void test_commits_every_interval(void **state)
{
    char err[512];
    counter_t c = {0};
    rill_topology_t *topo = filter_map(&c);
    rill_app_t *app = rill_app_new(topo, conf_for("interval"), err, sizeof err);
    rill_producer_t *p = rill_producer_new(rill_app_bootstrap_servers(app), err, sizeof err);
    produce_numbers(p, "input", 0, 400);
    assert_int_equal(rill_app_start(app), 0);
    wait_count(&c, 200, 30000);
    /* commit.interval.ms is 200: the commits metric moves while the app runs. */
    for (int waited = 0; rill_app_metric(app, "commits") < 2 && waited < 5000; waited += 10) {
        struct timespec ts = {0, 10 * 1000000};
        nanosleep(&ts, NULL);
    }
    assert_true(rill_app_metric(app, "commits") >= 1);
    assert_committed_at_end(rill_app_bootstrap_servers(app), "interval", "input", 4, 400);
    rill_producer_destroy(p);
    rill_app_destroy(app);
    rill_topology_unref(topo);
}

/* Two instances of one app: the second joins mid-stream, the partitions are split between them,
 * tasks move, and every record is processed (at least once). */
typedef struct {
    atomic_int distinct;
    atomic_uchar seen[4000];
} union_t;

static void mark(void *ud, const rill_record_t *rec)
{
    union_t *u = ud;
    char v[16];
    snprintf(v, sizeof v, "%.*s", (int)rec->value.len, (const char *)rec->value.data);
    int i = atoi(v);
    if (i >= 0 && i < 4000 && atomic_exchange(&u->seen[i], 1) == 0)
        atomic_fetch_add(&u->distinct, 1);
}

static rill_topology_t *marking(union_t *u)
{
    rill_topology_t *topo = rill_topology_new();
    rill_stream_to(rill_stream_peek(rill_stream_from_topic(topo, "input", NULL), mark, u), "output",
                   NULL);
    return topo;
}

static void test_second_instance_takes_half(void **state)
{
    char err[512];
    static union_t u;
    memset(&u, 0, sizeof u);
    rill_topology_t *topo = marking(&u);
    rill_app_t *a = rill_app_new(topo, conf_for("scale"), err, sizeof err);
    const char *bootstrap = rill_app_bootstrap_servers(a);
    rill_producer_t *p = rill_producer_new(bootstrap, err, sizeof err);
    produce_numbers(p, "input", 0, 2000);
    assert_int_equal(rill_app_start(a), 0);
    wait_counter(&u.distinct, 2000, 30000);
    assert_int_equal(rill_app_metric(a, "tasks"), 4);
    rill_conf_t *conf = conf_for("scale");
    assert_int_equal(rill_conf_set(conf, "bootstrap.servers", bootstrap, err, sizeof err), 0);
    /* b reaches the embedded cluster by address, so it does not get the embedded default. */
    assert_int_equal(rill_conf_set(conf, "consumer.session.timeout.ms", "6000", err, sizeof err),
                     0);
    rill_app_t *b = rill_app_new(topo, conf, err, sizeof err);
    assert_non_null(b);
    assert_int_equal(rill_app_start(b), 0);
    assert_int_equal(rill_app_wait_state(b, RILL_STATE_RUNNING, 30000), 0);
    /* After the rebalance each instance holds two of the four tasks. */
    for (int waited = 0; rill_app_metric(a, "tasks") != 2 && waited < 30000; waited += 10) {
        struct timespec ts = {0, 10 * 1000000};
        nanosleep(&ts, NULL);
    }
    assert_int_equal(rill_app_metric(a, "tasks"), 2);
    assert_int_equal(rill_app_metric(b, "tasks"), 2);
    assert_true(rill_app_metric(a, "rebalances") >= 3); /* assign, revoke, assign */
    produce_numbers(p, "input", 2000, 4000);
    wait_counter(&u.distinct, 4000, 30000);
    assert_true(rill_app_metric(b, "records-processed") > 0);
    rill_app_destroy(b);
    rill_producer_destroy(p);
    rill_app_destroy(a);
    rill_topology_unref(topo);
}

/* Headers through the engine: parsed lazily from the consumed message when a processor reads
 * one, and forwarded to the output untouched. */
static atomic_int traced;
static void read_trace(void *ud, const rill_record_t *rec)
{
    const rill_header_t *h = rill_record_header(rec, "trace");
    if (h && h->value.len == 3 && memcmp(h->value.data, "t-7", 3) == 0)
        atomic_fetch_add(&traced, 1);
}

static void test_headers_through_the_engine(void **state)
{
    char err[512];
    counter_t c = {0};
    rill_topology_t *topo = rill_topology_new();
    rill_stream_t *s =
        rill_stream_peek(rill_stream_from_topic(topo, "hin", NULL), read_trace, NULL);
    rill_stream_to(rill_stream_peek(s, count, &c), "hout", NULL);
    rill_app_t *app = rill_app_new(topo, conf_for("headers"), err, sizeof err);
    const char *bootstrap = rill_app_bootstrap_servers(app);
    rd_kafka_conf_t *kc = rd_kafka_conf_new();
    rd_kafka_conf_set(kc, "bootstrap.servers", bootstrap, err, sizeof err);
    rd_kafka_t *p = rd_kafka_new(RD_KAFKA_PRODUCER, kc, err, sizeof err);
    for (int i = 0; i < 10; i++) {
        rd_kafka_headers_t *h = rd_kafka_headers_new(2);
        rd_kafka_header_add(h, "trace", -1, i % 2 ? "t-7" : "t-0", 3);
        rd_kafka_header_add(h, "empty", -1, NULL, 0);
        assert_int_equal(rd_kafka_producev(p, RD_KAFKA_V_TOPIC("hin"), RD_KAFKA_V_KEY("k", 1),
                                           RD_KAFKA_V_VALUE("v", 1), RD_KAFKA_V_HEADERS(h),
                                           RD_KAFKA_V_END),
                         0);
    }
    assert_int_equal(rd_kafka_flush(p, 10000), 0);
    rd_kafka_destroy(p);
    assert_int_equal(rill_app_start(app), 0);
    wait_count(&c, 10, 30000);
    assert_true(atomic_load(&traced) >= 5);
    /* The outputs carry both headers, as they came. */
    kc = rd_kafka_conf_new();
    rd_kafka_conf_set(kc, "bootstrap.servers", bootstrap, err, sizeof err);
    rd_kafka_conf_set(kc, "group.id", "header-check", err, sizeof err);
    rd_kafka_conf_set(kc, "auto.offset.reset", "earliest", err, sizeof err);
    rd_kafka_t *consumer = rd_kafka_new(RD_KAFKA_CONSUMER, kc, err, sizeof err);
    rd_kafka_poll_set_consumer(consumer);
    rd_kafka_topic_partition_list_t *sub = rd_kafka_topic_partition_list_new(1);
    rd_kafka_topic_partition_list_add(sub, "hout", RD_KAFKA_PARTITION_UA);
    rd_kafka_subscribe(consumer, sub);
    rd_kafka_topic_partition_list_destroy(sub);
    int n = 0, with_both = 0;
    for (int idle = 0; n < 10 && idle < 200; idle++) {
        rd_kafka_message_t *m = rd_kafka_consumer_poll(consumer, 100);
        if (!m)
            continue;
        rd_kafka_headers_t *h;
        const void *v;
        size_t len;
        if (!m->err && rd_kafka_message_headers(m, &h) == 0 && rd_kafka_header_cnt(h) == 2 &&
            rd_kafka_header_get_last(h, "trace", &v, &len) == 0 && len == 3 &&
            rd_kafka_header_get_last(h, "empty", &v, &len) == 0 && v == NULL)
            with_both++;
        n += !m->err;
        rd_kafka_message_destroy(m);
    }
    rd_kafka_consumer_close(consumer);
    rd_kafka_destroy(consumer);
    assert_int_equal(n, 10);
    assert_int_equal(with_both, 10);
    rill_app_destroy(app);
    rill_topology_unref(topo);
}

/* An app runs once: start after close is refused (it would start threads nobody joins). */
static void test_start_after_close_is_refused(void **state)
{
    char err[512];
    counter_t c = {0};
    rill_topology_t *topo = filter_map(&c);
    rill_app_t *app = rill_app_new(topo, conf_for("once"), err, sizeof err);
    assert_int_equal(rill_app_close(app, 1000), 0);
    assert_int_equal(rill_app_start(app), RILL_ESTATE);
    rill_app_destroy(app);
    rill_topology_unref(topo);
}

/* An idle app keeps its partitions past max.poll.interval.ms: librdkafka restarts that clock
 * only when the application consumes, and an idle thread would otherwise be thrown out of the
 * group and rebalance everyone. */
static void test_idle_app_stays_in_the_group(void **state)
{
    char err[512];
    counter_t c = {0};
    rill_topology_t *topo = filter_map(&c);
    rill_conf_t *conf = conf_for("stay");
    assert_int_equal(rill_conf_set(conf, "consumer.max.poll.interval.ms", "7000", err, sizeof err),
                     0);
    rill_app_t *app = rill_app_new(topo, conf, err, sizeof err);
    assert_int_equal(rill_app_start(app), 0);
    assert_int_equal(rill_app_wait_state(app, RILL_STATE_RUNNING, 30000), 0);
    int64_t rebalances = rill_app_metric(app, "rebalances");
    /* A measurement window longer than max.poll.interval.ms. */
    struct timespec window = {10, 0};
    nanosleep(&window, NULL);
    assert_int_equal(rill_app_metric(app, "rebalances"), rebalances);
    assert_int_equal(rill_app_state(app), RILL_STATE_RUNNING);
    rill_app_destroy(app);
    rill_topology_unref(topo);
}

/* A processor that holds the record it is given until the test lets it go. */
typedef struct {
    pthread_mutex_t lock;
    pthread_cond_t cond;
    bool entered, released;
} gate_t;

static void hold(void *ud, const rill_record_t *rec)
{
    gate_t *g = ud;
    pthread_mutex_lock(&g->lock);
    g->entered = true;
    pthread_cond_broadcast(&g->cond);
    while (!g->released)
        pthread_cond_wait(&g->cond, &g->lock);
    pthread_mutex_unlock(&g->lock);
}

static double monotonic_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

/* rill_app_close(timeout) returns RILL_ETIMEDOUT when a thread cannot stop in time (it is stuck
 * in a processor), leaves the app closing, and a second close, once the thread can go, ends it. */
static void test_close_honours_its_timeout(void **state)
{
    char err[512];
    static gate_t g = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, false, false};
    rill_topology_t *topo = rill_topology_new();
    rill_stream_to(rill_stream_peek(rill_stream_from_topic(topo, "input", NULL), hold, &g),
                   "output", NULL);
    rill_app_t *app = rill_app_new(topo, conf_for("close-timeout"), err, sizeof err);
    assert_non_null(app);
    rill_producer_t *p = rill_producer_new(rill_app_bootstrap_servers(app), err, sizeof err);
    assert_int_equal(rill_app_start(app), 0);
    assert_int_equal(rill_app_wait_state(app, RILL_STATE_RUNNING, 30000), 0);
    assert_int_equal(rill_producer_send(p, "input", 0, rill_buf_str("k"), rill_buf_str("v"), 1), 0);
    assert_int_equal(rill_producer_flush(p, 10000), 0);
    pthread_mutex_lock(&g.lock);
    while (!g.entered)
        pthread_cond_wait(&g.cond, &g.lock);
    pthread_mutex_unlock(&g.lock);
    double t0 = monotonic_s();
    assert_int_equal(rill_app_close(app, 300), RILL_ETIMEDOUT);
    double took = monotonic_s() - t0;
    printf("close(300 ms) with a stuck thread returned RILL_ETIMEDOUT after %.0f ms\n",
           took * 1000);
    assert_true(took >= 0.25 && took < 10);
    assert_int_equal(rill_app_state(app), RILL_STATE_PENDING_SHUTDOWN);
    pthread_mutex_lock(&g.lock);
    g.released = true;
    pthread_cond_broadcast(&g.cond);
    pthread_mutex_unlock(&g.lock);
    /* Its loop closes cleanly (rill_app_close reports a loop left with open handles). */
    assert_int_equal(rill_app_close(app, 30000), 0);
    assert_int_equal(rill_app_state(app), RILL_STATE_NOT_RUNNING);
    rill_app_destroy(app);
    rill_producer_destroy(p);
    rill_topology_unref(topo);
}

/* ---- sink topics and produce errors ---- */

/* A cluster that is not the app's embedded one, so the app treats it as a real cluster: a mock
 * cluster of one broker in a bare handle, with topic "in" and "missing-out" unknown to it (the
 * mock creates topics on demand; the error makes it answer as a cluster that does not). */
static void test_missing_sink_topic_fails_at_start(void **state)
{
    char err[512];
    rd_kafka_conf_t *kconf = rd_kafka_conf_new();
    rd_kafka_t *owner = rd_kafka_new(RD_KAFKA_PRODUCER, kconf, err, sizeof err);
    assert_non_null(owner);
    rd_kafka_mock_cluster_t *mock = rd_kafka_mock_cluster_new(owner, 1);
    assert_non_null(mock);
    assert_int_equal(rd_kafka_mock_topic_create(mock, "in", 1, 1), 0);
    rd_kafka_mock_topic_set_error(mock, "missing-out", RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART);

    rill_topology_t *topo = rill_topology_new();
    rill_stream_to(rill_stream_from_topic(topo, "in", NULL), "missing-out", NULL);
    rill_conf_t *conf = conf_for("missing-sink");
    assert_int_equal(rill_conf_set(conf, "bootstrap.servers",
                                   rd_kafka_mock_cluster_bootstraps(mock), err, sizeof err),
                     0);
    expect_start_error(topo, conf, RILL_ENOENT, "sink topic 'missing-out' does not exist");
    rill_topology_unref(topo);
    rd_kafka_mock_cluster_destroy(mock);
    rd_kafka_destroy(owner);
}

static void test_produce_error_names_cause_and_record(void **state)
{
    char err[512];
    rill_topology_t *topo = rill_topology_new();
    rill_stream_to(
        rill_stream_map_values(rill_stream_from_topic(topo, "big-in", NULL), oversize_value, NULL),
        "big-out", &(rill_sink_opts_t){.value_serde = rill_serde_bytes()});
    rill_app_t *app = rill_app_new(topo, conf_for("too-large"), err, sizeof err);
    assert_non_null(app);
    rill_producer_t *p = rill_producer_new(rill_app_bootstrap_servers(app), err, sizeof err);
    assert_int_equal(rill_producer_send(p, "big-in", 0, rill_buf_str("k"), rill_buf_str("v"), 1),
                     0);
    assert_int_equal(rill_producer_flush(p, 10000), 0);
    assert_int_equal(rill_app_start(app), 0);
    assert_int_equal(rill_app_wait_state(app, RILL_STATE_ERROR, 30000), 0);
    char msg[1024];
    rill_app_error(app, msg, sizeof msg);
    if (!strstr(msg, "Message size too large") ||
        !strstr(msg, "record at topic 'big-in' partition 0 offset 0") ||
        !strstr(msg, "to topic 'big-out'"))
        fail_msg("unexpected error: %s", msg);
    rill_app_close(app, 10000);
    rill_producer_destroy(p);
    rill_app_destroy(app);
    rill_topology_unref(topo);
}

int main(void)
{
    rill_set_allocator(counting_malloc, counting_realloc, free);
    rill_set_log_cb(NULL, NULL, getenv("RILL_DEBUG") ? RILL_LOG_DEBUG : RILL_LOG_WARN);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_filter_map_end_to_end),
        cmocka_unit_test(test_processing_error_goes_to_error_state),
        cmocka_unit_test(test_unreachable_cluster_errors_in_time),
        cmocka_unit_test(test_no_allocation_per_record),
        cmocka_unit_test(test_idle_app_uses_no_cpu),
        cmocka_unit_test(test_two_threads_share_partitions),
        cmocka_unit_test(test_commits_every_interval),
        cmocka_unit_test(test_second_instance_takes_half),
        cmocka_unit_test(test_headers_through_the_engine),
        cmocka_unit_test(test_start_after_close_is_refused),
        cmocka_unit_test(test_idle_app_stays_in_the_group),
        cmocka_unit_test(test_close_honours_its_timeout),
        cmocka_unit_test(test_missing_sink_topic_fails_at_start),
        cmocka_unit_test(test_produce_error_names_cause_and_record),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
