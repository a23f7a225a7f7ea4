/*
 * The production exception handler on the embedded cluster: a map makes the records whose value
 * is "big" too large to send (tests/common/oversize.h: larger than the producer's
 * message.max.bytes), the others pass. fail: the app goes to ERROR naming the sink node, the
 * input record and the cause; continue: the big outputs are dropped and counted, the good ones
 * come out once, the app stays RUNNING; with a dead letter queue each big record is there once,
 * as the input read (its bytes), with the headers naming its topic, partition and offset; a C
 * callback sees the output's topic and that the cause is not retriable, and a retry of that
 * cause fails.
 */
#define _GNU_SOURCE /* nftw's FTW_DEPTH | FTW_PHYS */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <rill/app.h>
#include <rill/dsl.h>

#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>

#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../common/embedded_app.h"
#include "../common/kafka_util.h"
#include "../common/oversize.h"
#include "../common/temp_dir.h"

#define TOTAL 60
#define MORE  20 /* records sent once the refusal is over */
#define BIG   20 /* every third record */
#define GOOD  (TOTAL - BIG)

static char state_dir[64];

/* The value unchanged, or OVERSIZE_VALUE_BYTES of 'x' for "big". */
static int maybe_oversize(void *ud, rill_context_t *ctx, const rill_record_t *rec, rill_buf_t *out)
{
    if (rec->value.len == 3 && memcmp(rec->value.data, "big", 3) == 0)
        return oversize_value(ud, ctx, rec, out);
    *out = rec->value;
    return 0;
}

/* An app reading "<name>-in" into "<name>-out" through maybe_oversize, with TOTAL records there
 * (every third "big"), started. */
static rill_app_t *start(rill_topology_t **topo, const char *name, const char *const *extra,
                         rill_exception_handler_fn fn, void *ud)
{
    char in[64], out[64];
    snprintf(in, sizeof in, "%s-in", name);
    snprintf(out, sizeof out, "%s-out", name);
    *topo = rill_topology_new();
    rill_stream_to(
        rill_stream_map_values(rill_stream_from_topic(*topo, in, NULL), maybe_oversize, NULL), out,
        NULL);
    rill_conf_t *conf = embedded_conf(name, state_dir, extra);
    if (fn)
        rill_conf_set_exception_handler(conf, RILL_ERROR_PRODUCTION, fn, ud);
    char err[512];
    rill_app_t *app = rill_app_new(*topo, conf, err, sizeof err);
    if (!app)
        fail_msg("rill_app_new: %s", err);
    rill_producer_t *p = rill_producer_new(rill_app_bootstrap_servers(app), err, sizeof err);
    assert_non_null(p);
    for (int i = 0; i < TOTAL; i++) {
        char key[16], value[16];
        snprintf(key, sizeof key, "k%d", i);
        snprintf(value, sizeof value, i % 3 == 1 ? "big" : "v%d", i);
        assert_int_equal(rill_producer_send(p, in, 0, rill_buf_str(key), rill_buf_str(value), i),
                         0);
    }
    assert_int_equal(rill_producer_flush(p, 10000), 0);
    rill_producer_destroy(p);
    assert_int_equal(rill_app_start(app), 0);
    return app;
}

static void stop(rill_app_t *app, rill_topology_t *topo)
{
    rill_app_close(app, 10000);
    rill_app_destroy(app);
    rill_topology_unref(topo);
}

static void test_fail_names_node_record_and_cause(void **state)
{
    rill_topology_t *topo;
    rill_app_t *app = start(&topo, "pe-fail", NULL, NULL, NULL);
    char msg[1024];
    /* Bounded, and generous: under AddressSanitizer beside a busy test the start takes long. */
    if (rill_app_wait_state(app, RILL_STATE_ERROR, 90000))
        fail_msg("no ERROR within 90 s: state %s, %lld records processed, %lld produced, "
                 "error '%s'",
                 rill_state_name(rill_app_state(app)),
                 (long long)rill_app_metric(app, "records-processed"),
                 (long long)rill_app_metric(app, "records-produced"),
                 rill_app_error(app, msg, sizeof msg));
    rill_app_error(app, msg, sizeof msg);
    if (!strstr(msg, "node 'KSTREAM-SINK-") ||
        !strstr(msg, "the record at topic 'pe-fail-in' partition 0 offset 1 to topic "
                     "'pe-fail-out'") ||
        !strstr(msg, "Message size too large"))
        fail_msg("unexpected error: %s", msg);
    stop(app, topo);
}

/* Returns how many records topic holds (4 partitions). */
static int64_t records_in(const char *bootstrap, const char *topic)
{
    return kafka_topic_records(bootstrap, topic, 4);
}

/* Reads the good outputs (each once); the app stays RUNNING and counts the big ones skipped. */
static void assert_good_out_and_skipped(rill_app_t *app, const char *out)
{
    static char values[GOOD][32];
    assert_int_equal(kafka_read_all(rill_app_bootstrap_servers(app), out, GOOD, values), GOOD);
    assert_int_equal(records_in(rill_app_bootstrap_servers(app), out), GOOD);
    for (int i = 0; i < GOOD; i++)
        assert_string_not_equal(values[i], "big");
    assert_int_equal(rill_app_state(app), RILL_STATE_RUNNING);
    assert_int_equal(rill_app_metric(app, "records-skipped"), BIG);
    assert_int_equal(rill_app_metric(app, "records-processed"), TOTAL);
}

static void test_continue_drops_and_counts(void **state)
{
    const char *const extra[] = {"production.exception.handler", "continue", NULL};
    rill_topology_t *topo;
    rill_app_t *app = start(&topo, "pe-cont", extra, NULL, NULL);
    assert_int_equal(rill_app_wait_state(app, RILL_STATE_RUNNING, 30000), 0);
    assert_good_out_and_skipped(app, "pe-cont-out");
    assert_int_equal(rill_app_metric(app, "dead-letters"), 0);
    stop(app, topo);
}

/* Where each dead letter says its record came from, its exception, and its value. */
typedef struct {
    char where[BIG][64];
    char exception[BIG][64];
    char value[BIG][8];
} dead_letters_t;

static void note_dead_letter(void *ud, const rd_kafka_message_t *m, int n)
{
    dead_letters_t *d = ud;
    rd_kafka_headers_t *h = NULL;
    const void *t = NULL, *p = NULL, *o = NULL, *e = NULL;
    size_t tl = 0, pl = 0, ol = 0, el = 0;
    if (n >= BIG)
        return;
    if (rd_kafka_message_headers((rd_kafka_message_t *)m, &h) == 0) {
        rd_kafka_header_get_last(h, "__streams.errors.topic", &t, &tl);
        rd_kafka_header_get_last(h, "__streams.errors.partition", &p, &pl);
        rd_kafka_header_get_last(h, "__streams.errors.offset", &o, &ol);
        rd_kafka_header_get_last(h, "__streams.errors.exception", &e, &el);
    }
    snprintf(d->where[n], 64, "%.*s/%.*s/%.*s", (int)tl, (const char *)t, (int)pl, (const char *)p,
             (int)ol, (const char *)o);
    snprintf(d->exception[n], 64, "%.*s", (int)el, (const char *)e);
    snprintf(d->value[n], 8, "%.*s", (int)m->len, (const char *)m->payload);
}

static void test_continue_with_dead_letter_queue(void **state)
{
    const char *const extra[] = {"production.exception.handler", "continue",
                                 "errors.dead.letter.queue.topic.name", "pe-dlq", NULL};
    rill_topology_t *topo;
    rill_app_t *app = start(&topo, "pe-dlq", extra, NULL, NULL);
    assert_int_equal(rill_app_wait_state(app, RILL_STATE_RUNNING, 30000), 0);
    assert_good_out_and_skipped(app, "pe-dlq-out");
    static dead_letters_t dl;
    assert_int_equal(
        kafka_read_each(rill_app_bootstrap_servers(app), "pe-dlq", BIG, note_dead_letter, &dl),
        BIG);
    assert_int_equal(records_in(rill_app_bootstrap_servers(app), "pe-dlq"), BIG);
    for (int i = 0; i < BIG; i++) {
        /* The dead letter queue is as wide as the source: keyed, in no overall order. */
        char want[64];
        snprintf(want, sizeof want, "pe-dlq-in/0/%d", 3 * i + 1);
        int found = 0;
        for (int j = 0; j < BIG; j++)
            found += strcmp(dl.where[j], want) == 0;
        assert_int_equal(found, 1);
        assert_string_equal(dl.value[i], "big"); /* the input as read, not the output */
        assert_string_equal(dl.exception[i], "rill.ProductionError(RILL_EKAFKA)");
    }
    assert_int_equal(rill_app_metric(app, "dead-letters"), BIG);
    stop(app, topo);
}

typedef struct {
    atomic_int calls;
    atomic_int wrong;
    rill_handler_result_t answer;
} seen_t;

static rill_handler_result_t production_handler(void *ud, const rill_error_context_t *c)
{
    seen_t *seen = ud;
    atomic_fetch_add(&seen->calls, 1);
    if (c->kind != RILL_ERROR_PRODUCTION || c->retriable || !c->output_topic ||
        strcmp(c->output_topic, "pe-cb-out") != 0 || c->output_value.len != OVERSIZE_VALUE_BYTES ||
        c->value.len != 3 || strcmp(c->topic, "pe-cb-in") != 0 || c->offset % 3 != 1 ||
        !strstr(c->node, "KSTREAM-SINK-") || !strstr(c->message, "Message size too large"))
        atomic_fetch_add(&seen->wrong, 1);
    return seen->answer;
}

static void test_callback_sees_the_output(void **state)
{
    static seen_t seen = {.answer = RILL_HANDLER_CONTINUE};
    rill_topology_t *topo;
    rill_app_t *app = start(&topo, "pe-cb", NULL, production_handler, &seen);
    assert_int_equal(rill_app_wait_state(app, RILL_STATE_RUNNING, 30000), 0);
    assert_good_out_and_skipped(app, "pe-cb-out");
    assert_int_equal(atomic_load(&seen.calls), BIG);
    assert_int_equal(atomic_load(&seen.wrong), 0);
    stop(app, topo);
}

/* Retry of a cause that is not retriable fails at once: one call, then ERROR. */
static void test_retry_of_a_lasting_cause_fails(void **state)
{
    static seen_t seen = {.answer = RILL_HANDLER_RETRY};
    rill_topology_t *topo;
    rill_app_t *app = start(&topo, "pe-retry", NULL, production_handler, &seen);
    assert_int_equal(rill_app_wait_state(app, RILL_STATE_ERROR, 30000), 0);
    assert_int_equal(atomic_load(&seen.calls), 1);
    char msg[1024];
    rill_app_error(app, msg, sizeof msg);
    if (!strstr(msg, "Message size too large"))
        fail_msg("unexpected error: %s", msg);
    stop(app, topo);
}

/* Where a dead letter of a refused output says it was going, and its value's length. */
typedef struct {
    char where[TOTAL][64];
    size_t len[TOTAL];
} refused_t;

static void note_refused(void *ud, const rd_kafka_message_t *m, int n)
{
    refused_t *d = ud;
    rd_kafka_headers_t *h = NULL;
    const void *t = NULL, *o = NULL;
    size_t tl = 0, ol = 0;
    if (n >= TOTAL)
        return;
    if (rd_kafka_message_headers((rd_kafka_message_t *)m, &h) == 0) {
        rd_kafka_header_get_last(h, "__streams.errors.topic", &t, &tl);
        rd_kafka_header_get_last(h, "__streams.errors.offset", &o, &ol);
    }
    snprintf(d->where[n], 64, "%.*s@%.*s", (int)tl, (const char *)t, (int)ol, (const char *)o);
    d->len[n] = m->len;
}

/* Writes inputs from..from+n-1 ("k<i>" = "v<i>", timestamp i) to "dr-in". */
static void send_inputs(const char *bootstrap, int from, int n)
{
    char err[512];
    rill_producer_t *p = rill_producer_new(bootstrap, err, sizeof err);
    assert_non_null(p);
    for (int i = from; i < from + n; i++) {
        char key[16], value[16];
        snprintf(key, sizeof key, "k%d", i);
        snprintf(value, sizeof value, "v%d", i);
        assert_int_equal(
            rill_producer_send(p, "dr-in", 0, rill_buf_str(key), rill_buf_str(value), i), 0);
    }
    assert_int_equal(rill_producer_flush(p, 10000), 0);
    rill_producer_destroy(p);
}

/* Waits (up to 60 s) until the app has delivered n records (outputs and dead letters); returns
 * how many it has. */
static int64_t wait_produced(rill_app_t *app, int64_t n)
{
    int64_t produced = 0;
    for (int i = 0; i < 1200 && (produced = rill_app_metric(app, "records-produced")) < n; i++)
        usleep(50 * 1000);
    return produced;
}

/* A cluster that refuses a produce request (its delivery reports fail, after the record was
 * processed): a mock cluster of one broker in a bare handle, which the app treats as a real one.
 * Returns the app, started, with TOTAL small records in "dr-in"; guarantee is the
 * processing.guarantee. */
static rill_app_t *start_refusing(rd_kafka_mock_cluster_t *mock, rill_topology_t **topo,
                                  const char *name, const char *const *extra)
{
    char err[512];
    const char *bootstrap = rd_kafka_mock_cluster_bootstraps(mock);
    assert_int_equal(rd_kafka_mock_topic_create(mock, "dr-in", 1, 1), 0);
    assert_int_equal(rd_kafka_mock_topic_create(mock, "dr-out", 1, 1), 0);
    assert_int_equal(rd_kafka_mock_topic_create(mock, "dr-dlq", 1, 1), 0);
    send_inputs(bootstrap, 0, TOTAL);
    /* The app's first produce request is refused for good (not retriable). */
    rd_kafka_mock_push_request_errors(mock, 0 /* Produce */, 1, RD_KAFKA_RESP_ERR_INVALID_RECORD);
    *topo = rill_topology_new();
    rill_stream_to(rill_stream_from_topic(*topo, "dr-in", NULL), "dr-out", NULL);
    rill_conf_t *conf = embedded_conf(name, state_dir, extra);
    embedded_set(conf, "bootstrap.servers", bootstrap);
    embedded_set(conf, "replication.factor", "1");
    rill_app_t *app = rill_app_new(*topo, conf, err, sizeof err);
    if (!app)
        fail_msg("rill_app_new: %s", err);
    assert_int_equal(rill_app_start(app), 0);
    return app;
}

/* at-least-once, continue: the refused outputs (those of the first request, at least one, and
 * any the idempotent producer refused behind it) are dropped and counted, each is in the dead
 * letter queue once as the output itself, the others come out, and the app stays RUNNING. */
static void test_refused_in_delivery_report_continue(void **state)
{
    char err[512];
    rd_kafka_t *owner = rd_kafka_new(RD_KAFKA_PRODUCER, rd_kafka_conf_new(), err, sizeof err);
    rd_kafka_mock_cluster_t *mock = rd_kafka_mock_cluster_new(owner, 1);
    assert_non_null(mock);
    const char *const extra[] = {"production.exception.handler", "continue",
                                 "errors.dead.letter.queue.topic.name", "dr-dlq", NULL};
    rill_topology_t *topo;
    rill_app_t *app = start_refusing(mock, &topo, "dr-cont", extra);
    const char *bootstrap = rd_kafka_mock_cluster_bootstraps(mock);
    /* Settled when every output was delivered, to dr-out or (refused) to dr-dlq: the idempotent
     * producer may fail the requests in flight behind the refused one as well. */
    assert_int_equal(wait_produced(app, TOTAL), TOTAL);
    int64_t skipped = rill_app_metric(app, "records-skipped");
    assert_true(skipped >= 1);
    static refused_t dl;
    assert_int_equal(kafka_read_each(bootstrap, "dr-dlq", (int)skipped, note_refused, &dl),
                     skipped);
    for (int i = 0; i < skipped; i++) {
        assert_string_equal(dl.where[i], "dr-out@-1");
        assert_true(dl.len[i] >= 2 && dl.len[i] <= 3); /* "v<i>": the output's bytes */
    }
    assert_int_equal(rill_app_metric(app, "dead-letters"), skipped);
    /* The app goes on: later records all come out, after the ones not refused. */
    send_inputs(bootstrap, TOTAL, MORE);
    assert_int_equal(wait_produced(app, TOTAL + MORE), TOTAL + MORE);
    assert_int_equal(rill_app_metric(app, "records-skipped"), skipped);
    int out = kafka_read_all(bootstrap, "dr-out", TOTAL - (int)skipped + MORE, NULL);
    assert_int_equal(out, TOTAL - skipped + MORE);
    assert_int_equal(rill_app_state(app), RILL_STATE_RUNNING);
    stop(app, topo);
    rd_kafka_mock_cluster_destroy(mock);
    rd_kafka_destroy(owner);
}

/* exactly_once_v2, continue: the refused record doomed its transaction, which aborts; dropping
 * it cannot be honoured, so the app fails saying so (rather than rewinding forever). */
static void test_refused_in_delivery_report_under_eos_fails(void **state)
{
    char err[512];
    rd_kafka_t *owner = rd_kafka_new(RD_KAFKA_PRODUCER, rd_kafka_conf_new(), err, sizeof err);
    rd_kafka_mock_cluster_t *mock = rd_kafka_mock_cluster_new(owner, 1);
    assert_non_null(mock);
    const char *const extra[] = {"production.exception.handler", "continue", "processing.guarantee",
                                 "exactly_once_v2", NULL};
    rill_topology_t *topo;
    rill_app_t *app = start_refusing(mock, &topo, "dr-eos", extra);
    assert_int_equal(rill_app_wait_state(app, RILL_STATE_ERROR, 60000), 0);
    char msg[1024];
    rill_app_error(app, msg, sizeof msg);
    if (!strstr(msg, "a record to topic 'dr-out' partition 0 was not delivered") ||
        !strstr(msg, "cannot drop an output of an exactly-once transaction"))
        fail_msg("unexpected error: %s", msg);
    stop(app, topo);
    rd_kafka_mock_cluster_destroy(mock);
    rd_kafka_destroy(owner);
}

int main(void)
{
    if (temp_dir_make(state_dir, "pe-it"))
        return 1;
    rill_set_log_cb(NULL, NULL, getenv("RILL_DEBUG") ? RILL_LOG_DEBUG : RILL_LOG_ERROR);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fail_names_node_record_and_cause),
        cmocka_unit_test(test_continue_drops_and_counts),
        cmocka_unit_test(test_continue_with_dead_letter_queue),
        cmocka_unit_test(test_callback_sees_the_output),
        cmocka_unit_test(test_retry_of_a_lasting_cause_fails),
        cmocka_unit_test(test_refused_in_delivery_report_continue),
        cmocka_unit_test(test_refused_in_delivery_report_under_eos_fails),
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    temp_dir_remove(state_dir);
    return rc;
}
