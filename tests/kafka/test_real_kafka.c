/*
 * Integration tests on a real Apache Kafka broker (scripts/kafka starts one; its address comes in
 * RILL_TEST_BOOTSTRAP). Here is what the mock cluster cannot show: a restarted app resumes from
 * its committed offsets, repartition topics are created with the right partition count, and a
 * compiled app shuts down cleanly on SIGTERM with its offsets committed.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <rill/app.h>
#include <rill/dsl.h>

#include <librdkafka/rdkafka.h>

#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "../common/kafka_util.h"
#include "../common/oversize.h"

static const char *bootstrap;
static char run_id[32];

static void topic_name(char *buf, size_t size, const char *base)
{
    snprintf(buf, size, "%s-%s", base, run_id);
}

static int32_t partition_count(const char *topic);

/* Creates topic and waits until the broker's metadata shows it (an app started right after the
 * creation may otherwise find its source topic missing). */
static void create_topic(const char *topic, int partitions)
{
    assert_int_equal(kafka_create_topic(bootstrap, topic, partitions), 0);
    for (int waited = 0; partition_count(topic) != partitions; waited += 100) {
        if (waited > 10000)
            fail_msg("topic '%s' did not appear in the metadata within 10 s", topic);
        struct timespec ts = {0, 100 * 1000000};
        nanosleep(&ts, NULL);
    }
}

static int32_t partition_count(const char *topic)
{
    char err[256];
    rd_kafka_conf_t *kc = rd_kafka_conf_new();
    rd_kafka_conf_set(kc, "bootstrap.servers", bootstrap, err, sizeof err);
    rd_kafka_conf_set(kc, "allow.auto.create.topics", "false", err, sizeof err);
    rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_PRODUCER, kc, err, sizeof err);
    rd_kafka_topic_t *rkt = rd_kafka_topic_new(rk, topic, NULL);
    const rd_kafka_metadata_t *md;
    int32_t n = -1;
    if (rd_kafka_metadata(rk, 0, rkt, &md, 10000) == 0) {
        if (md->topic_cnt == 1 && !md->topics[0].err)
            n = md->topics[0].partition_cnt;
        rd_kafka_metadata_destroy(md);
    }
    rd_kafka_topic_destroy(rkt);
    rd_kafka_destroy(rk);
    return n;
}

static void produce(const char *topic, int from, int to)
{
    char err[256];
    rill_producer_t *p = rill_producer_new(bootstrap, err, sizeof err);
    assert_non_null(p);
    for (int i = from; i < to; i++) {
        char k[16], v[16];
        snprintf(k, sizeof k, "k%d", i % 13);
        snprintf(v, sizeof v, "%d", i);
        assert_int_equal(rill_producer_send(p, topic, -1, rill_buf_str(k), rill_buf_str(v), i), 0);
    }
    assert_int_equal(rill_producer_flush(p, 30000), 0);
    rill_producer_destroy(p);
}

static int count_records(const char *topic, int expect)
{
    return kafka_read_all(bootstrap, topic, expect, NULL);
}

static void assert_committed_at_end(const char *group, const char *topic, int partitions)
{
    kafka_assert_committed_at_end(bootstrap, group, topic, partitions);
}

static atomic_int seen;
static void count(void *ud, const rill_record_t *rec)
{
    atomic_fetch_add(&seen, 1);
}

static void wait_seen(int n, int timeout_ms)
{
    wait_counter(&seen, n, timeout_ms);
}

static rill_app_t *start_app(rill_topology_t *topo, const char *app_id)
{
    char err[512];
    rill_conf_t *conf = rill_conf_new();
    assert_int_equal(rill_conf_set(conf, "application.id", app_id, err, sizeof err), 0);
    assert_int_equal(rill_conf_set(conf, "bootstrap.servers", bootstrap, err, sizeof err), 0);
    assert_int_equal(rill_conf_set(conf, "default.key.serde", "string", err, sizeof err), 0);
    assert_int_equal(rill_conf_set(conf, "default.value.serde", "string", err, sizeof err), 0);
    assert_int_equal(rill_conf_set(conf, "commit.interval.ms", "500", err, sizeof err), 0);
    rill_app_t *app = rill_app_new(topo, conf, err, sizeof err);
    if (!app)
        fail_msg("rill_app_new: %s", err);
    assert_int_equal(rill_app_start(app), 0);
    assert_int_equal(rill_app_wait_state(app, RILL_STATE_RUNNING, 60000), 0);
    return app;
}

static void test_restart_resumes_from_committed_offsets(void **state)
{
    char in[64], out[64], app_id[64];
    topic_name(in, sizeof in, "restart-in");
    topic_name(out, sizeof out, "restart-out");
    topic_name(app_id, sizeof app_id, "restart-app");
    create_topic(in, 3);
    create_topic(out, 3);
    produce(in, 0, 3000);
    rill_topology_t *topo = rill_topology_new();
    rill_stream_to(rill_stream_peek(rill_stream_from_topic(topo, in, NULL), count, NULL), out,
                   NULL);
    atomic_store(&seen, 0);
    rill_app_t *app = start_app(topo, app_id);
    wait_seen(3000, 60000);
    assert_int_equal(rill_app_close(app, 30000), 0);
    rill_app_destroy(app);
    assert_committed_at_end(app_id, in, 3);
    /* Same application id: only what came after the close is processed. */
    atomic_store(&seen, 0);
    produce(in, 3000, 3500);
    app = start_app(topo, app_id);
    wait_seen(500, 60000);
    assert_int_equal(rill_app_close(app, 30000), 0);
    assert_int_equal(rill_app_metric(app, "records-processed") >= 0, 1);
    rill_app_destroy(app);
    assert_int_equal(atomic_load(&seen), 500);
    assert_int_equal(count_records(out, 3500), 3500);
    rill_topology_unref(topo);
}

static int first_char_key(void *ud, rill_context_t *ctx, const rill_record_t *rec, rill_buf_t *out)
{
    *out = rill_arena_copy(rill_context_arena(ctx), rec->value.data, 1);
    return 0;
}

static void test_repartition_topic_is_created_and_used(void **state)
{
    char in[64], out[64], app_id[64], internal[160];
    topic_name(in, sizeof in, "repart-in");
    topic_name(out, sizeof out, "repart-out");
    topic_name(app_id, sizeof app_id, "repart-app");
    create_topic(in, 5);
    create_topic(out, 2);
    produce(in, 0, 1000);
    rill_topology_t *topo = rill_topology_new();
    rill_stream_t *s =
        rill_stream_select_key(rill_stream_from_topic(topo, in, NULL), first_char_key, NULL);
    rill_stream_t *r = rill_stream_repartition(s, "by-digit", 0, NULL);
    rill_stream_to(rill_stream_peek(r, count, NULL), out, NULL);
    atomic_store(&seen, 0);
    rill_app_t *app = start_app(topo, app_id);
    wait_seen(1000, 60000);
    /* Named <application.id>-<name>-repartition, as wide as its upstream source. */
    snprintf(internal, sizeof internal, "%s-by-digit-repartition", app_id);
    assert_int_equal(partition_count(internal), 5);
    assert_int_equal(rill_app_metric(app, "tasks"), 10); /* 2 sub-topologies x 5 partitions */
    rill_app_close(app, 30000);
    rill_app_destroy(app);
    assert_int_equal(count_records(out, 1000), 1000);
    rill_topology_unref(topo);
}

static void test_missing_source_topic_is_an_error(void **state)
{
    char err[512];
    rill_topology_t *topo = rill_topology_new();
    rill_stream_to(rill_stream_from_topic(topo, "no-such-topic-here", NULL), "x", NULL);
    rill_conf_t *conf = rill_conf_new();
    rill_conf_set(conf, "application.id", "missing", err, sizeof err);
    rill_conf_set(conf, "bootstrap.servers", bootstrap, err, sizeof err);
    rill_conf_set(conf, "default.key.serde", "bytes", err, sizeof err);
    rill_conf_set(conf, "default.value.serde", "bytes", err, sizeof err);
    rill_app_t *app = rill_app_new(topo, conf, err, sizeof err);
    assert_int_equal(rill_app_start(app), RILL_ENOENT);
    char msg[512];
    rill_app_error(app, msg, sizeof msg);
    assert_non_null(strstr(msg, "source topic 'no-such-topic-here' does not exist"));
    rill_app_destroy(app);
    rill_topology_unref(topo);
}

static int concat(void *ud, rill_context_t *ctx, rill_buf_t key, rill_buf_t left, rill_buf_t right,
                  rill_buf_t *out)
{
    *out = rill_arena_printf(rill_context_arena(ctx), "%.*s+%.*s", (int)left.len,
                             left.data ? (const char *)left.data : "", (int)right.len,
                             right.data ? (const char *)right.data : "");
    return 0;
}

/* A join's two topics with different partition counts: the start fails, naming both. */
static void test_join_of_topics_not_copartitioned_fails(void **state)
{
    char left[64], right[64], out[64], app_id[64], err[512];
    topic_name(left, sizeof left, "cp-left");
    topic_name(right, sizeof right, "cp-right");
    topic_name(out, sizeof out, "cp-out");
    topic_name(app_id, sizeof app_id, "cp-app");
    create_topic(left, 4);
    create_topic(right, 2);
    rill_topology_t *topo = rill_topology_new();
    rill_stream_t *j = rill_stream_join(rill_stream_from_topic(topo, left, NULL),
                                        rill_stream_from_topic(topo, right, NULL), concat, NULL,
                                        rill_join_windows(1000, 0), NULL);
    rill_stream_to(j, out, NULL);
    rill_conf_t *conf = rill_conf_new();
    rill_conf_set(conf, "application.id", app_id, err, sizeof err);
    rill_conf_set(conf, "bootstrap.servers", bootstrap, err, sizeof err);
    rill_conf_set(conf, "default.key.serde", "string", err, sizeof err);
    rill_conf_set(conf, "default.value.serde", "string", err, sizeof err);
    rill_app_t *app = rill_app_new(topo, conf, err, sizeof err);
    assert_non_null(app);
    assert_int_equal(rill_app_start(app), RILL_ETOPOLOGY);
    char msg[1024], l4[96], r2[96];
    rill_app_error(app, msg, sizeof msg);
    snprintf(l4, sizeof l4, "'%s' has 4", left);
    snprintf(r2, sizeof r2, "'%s' has 2", right);
    if (!strstr(msg, l4) || !strstr(msg, r2))
        fail_msg("the error does not name both topics and their counts: %s", msg);
    rill_app_destroy(app);
    rill_topology_unref(topo);
}

/* A side whose key changed is repartitioned to the other side's count (as Kafka Streams'
 * co-partitioning enforcer does), not to its own upstream's, and the join then finds its
 * matches. */
static void test_join_repartition_takes_the_other_sides_count(void **state)
{
    char left[64], right[64], out[64], app_id[64], internal[200];
    topic_name(left, sizeof left, "cpr-left");
    topic_name(right, sizeof right, "cpr-right");
    topic_name(out, sizeof out, "cpr-out");
    topic_name(app_id, sizeof app_id, "cpr-app");
    create_topic(left, 2);
    create_topic(right, 6);
    create_topic(out, 1);
    produce(left, 0, 500); /* values "<i>" keyed "<i>": re-keyed below by first digit */
    rill_topology_t *topo = rill_topology_new();
    rill_stream_t *l =
        rill_stream_select_key(rill_stream_from_topic(topo, left, NULL), first_char_key, NULL);
    rill_join_opts_t jo = {.name = "rekeyed"};
    rill_stream_t *j = rill_stream_join(l, rill_stream_from_topic(topo, right, NULL), concat, NULL,
                                        rill_join_windows(INT64_C(1) << 40, 0), &jo);
    rill_stream_to(rill_stream_peek(j, count, NULL), out, NULL);
    atomic_store(&seen, 0);
    rill_app_t *app = start_app(topo, app_id);
    snprintf(internal, sizeof internal, "%s-rekeyed-left-repartition", app_id);
    assert_int_equal(partition_count(internal), 6);
    /* Keys "0".."9": each joins every left record whose value starts with its digit. */
    char err[256];
    rill_producer_t *p = rill_producer_new(bootstrap, err, sizeof err);
    assert_non_null(p);
    for (int d = 0; d < 10; d++) {
        char k[4] = {(char)('0' + d), 0};
        assert_int_equal(rill_producer_send(p, right, -1, rill_buf_str(k), rill_buf_str("r"), d),
                         0);
    }
    assert_int_equal(rill_producer_flush(p, 30000), 0);
    rill_producer_destroy(p);
    wait_seen(500, 60000);
    rill_app_close(app, 30000);
    rill_app_destroy(app);
    rill_topology_unref(topo);
}

static void test_sigterm_shuts_down_cleanly(void **state)
{
    char in[64], out[64], app_id[64], log[512];
    topic_name(in, sizeof in, "sigterm-in");
    topic_name(out, sizeof out, "sigterm-out");
    topic_name(app_id, sizeof app_id, "sigterm-app");
    create_topic(in, 2);
    create_topic(out, 2);
    produce(in, 0, 2000);
    snprintf(log, sizeof log, "%s/rill-pipe-%s.log",
             getenv("RILL_TEST_LOG_DIR") ? getenv("RILL_TEST_LOG_DIR") : "/tmp", run_id);
    pid_t pid = fork();
    if (pid == 0) {
        FILE *f = freopen(log, "w", stderr);
        (void)f;
        char appid_opt[128];
        snprintf(appid_opt, sizeof appid_opt, "%s", app_id);
        execl(RILL_BIN_DIR "/rill-pipe", "rill-pipe", "--bootstrap-servers", bootstrap,
              "--application-id", appid_opt, "--config", "commit.interval.ms=60000", "--", in, out,
              (char *)NULL);
        _exit(127);
    }
    assert_true(pid > 0);
    /* Every record reaches the output: the app runs; offsets are not committed yet (60 s). */
    assert_int_equal(count_records(out, 2000), 2000);
    kill(pid, SIGTERM);
    int status = 0;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), 0);
    /* The clean shutdown committed everything it processed. */
    assert_committed_at_end(app_id, in, 2);
    FILE *f = fopen(log, "r");
    char line[1024];
    bool said = false;
    while (f && fgets(line, sizeof line, f))
        said = said || strstr(line, "shutting down cleanly") != NULL;
    if (f)
        fclose(f);
    assert_true(said);
}

/* A sink topic is looked for at start, not at the first record: this broker creates topics on
 * demand (auto.create.topics.enable=true), so the missing one exists once start returns, before
 * any record; a record too large to send fails the app naming the cause and the input record. */
static void test_sink_topic_at_start_and_send_errors(void **state)
{
    char in[64], out[64], app_id[64];
    topic_name(in, sizeof in, "big-in");
    topic_name(out, sizeof out, "big-out");
    topic_name(app_id, sizeof app_id, "too-large");
    create_topic(in, 1);
    assert_int_equal(partition_count(out), -1);
    rill_topology_t *topo = rill_topology_new();
    rill_stream_to(
        rill_stream_map_values(rill_stream_from_topic(topo, in, NULL), oversize_value, NULL), out,
        &(rill_sink_opts_t){.value_serde = rill_serde_bytes()});
    rill_app_t *app = start_app(topo, app_id);
    assert_true(partition_count(out) > 0);
    produce(in, 0, 1);
    assert_int_equal(rill_app_wait_state(app, RILL_STATE_ERROR, 30000), 0);
    char msg[1024], want[256];
    rill_app_error(app, msg, sizeof msg);
    snprintf(want, sizeof want, "the record at topic '%s' partition 0 offset 0 to topic '%s'", in,
             out);
    if (!strstr(msg, "Message size too large") || !strstr(msg, want))
        fail_msg("unexpected error: %s", msg);
    rill_app_close(app, 10000);
    rill_app_destroy(app);
    rill_topology_unref(topo);
}

int main(void)
{
    bootstrap = getenv("RILL_TEST_BOOTSTRAP");
    if (!bootstrap || !*bootstrap) {
        fprintf(stderr, "test_real_kafka: set RILL_TEST_BOOTSTRAP to a real broker's address "
                        "(scripts/kafka up prints it); `make check` does this for you\n");
        return 1;
    }
    snprintf(run_id, sizeof run_id, "%ld-%d", (long)time(NULL), (int)getpid());
    srand((unsigned)getpid());
    rill_set_log_cb(NULL, NULL, getenv("RILL_DEBUG") ? RILL_LOG_DEBUG : RILL_LOG_WARN);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_restart_resumes_from_committed_offsets),
        cmocka_unit_test(test_repartition_topic_is_created_and_used),
        cmocka_unit_test(test_missing_source_topic_is_an_error),
        cmocka_unit_test(test_sink_topic_at_start_and_send_errors),
        cmocka_unit_test(test_sigterm_shuts_down_cleanly),
        cmocka_unit_test(test_join_of_topics_not_copartitioned_fails),
        cmocka_unit_test(test_join_repartition_takes_the_other_sides_count),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
