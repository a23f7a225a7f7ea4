/*
 * Retry topics through the test driver (its wall clock advanced by hand, never slept): with
 * errors.retry.topics.delays.ms=1000,10000 a record whose map fails twice goes to rt-retry-1000,
 * then rt-retry-10000, and comes out once when it succeeds, after both delays and not before;
 * good records piped meanwhile come out at once; a record that always fails ends in the dead
 * letter queue with its failures counted and naming where it was first read; a handler chooses
 * which errors are retried; and without a dead letter queue the last failure fails. In-place
 * retries (errors.retry.in.place.attempts): the task backs off and gets the same record again
 * while its other partitions' tasks go on and its own later records wait in order; a record that
 * sent an output before failing is not retried in place (it would be sent twice); used up, the
 * retry topics take over.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include "../common/test_records.h"

#include <rill/app.h>
#include <rill/dsl.h>
#include <rill/test_driver.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* How many times the map has seen each kind of value. */
typedef struct {
    int flaky; /* "flaky" fails on its first two tries */
    int calls;
} tries_t;

/* "flaky" fails twice then passes, "never" always fails, anything else passes. */
static int sometimes_fails(void *ud, rill_context_t *ctx, const rill_record_t *rec, rill_buf_t *out)
{
    tries_t *t = ud;
    t->calls++;
    if (rec->value.len == 5 && memcmp(rec->value.data, "never", 5) == 0)
        return rill_context_fail(ctx, RILL_EPROCESS, "never works");
    if (rec->value.len == 5 && memcmp(rec->value.data, "flaky", 5) == 0 && t->flaky++ < 2)
        return rill_context_fail(ctx, RILL_EPROCESS, "not yet (try %d)", t->flaky);
    *out = rec->value;
    return 0;
}

static rill_test_driver_t *driver_side(tries_t *tries, const char *const *kv,
                                       rill_exception_handler_fn fn, void *ud, bool side)
{
    rill_topology_t *topo = rill_topology_new();
    rill_stream_t *in = rill_stream_from_topic(topo, "in", NULL);
    if (side) /* a sink that gets each record before the map can fail it */
        assert_int_equal(rill_stream_to(in, "side", NULL), 0);
    rill_stream_t *m = rill_stream_map_values(in, sometimes_fails, tries);
    assert_int_equal(rill_stream_to(rill_stream_as(m, "maybe"), "out", NULL), 0);
    rill_conf_t *conf = rill_conf_new();
    char err[512];
    const char *const base[] = {"application.id",
                                "rt",
                                "default.key.serde",
                                "string",
                                "default.value.serde",
                                "string",
                                "errors.retry.topics.delays.ms",
                                "1000,10000",
                                NULL};
    for (size_t i = 0; base[i]; i += 2)
        assert_int_equal(rill_conf_set(conf, base[i], base[i + 1], err, sizeof err), 0);
    for (size_t i = 0; kv && kv[i]; i += 2)
        if (rill_conf_set(conf, kv[i], kv[i + 1], err, sizeof err))
            fail_msg("%s: %s", kv[i], err);
    if (fn)
        rill_conf_set_exception_handler(conf, RILL_ERROR_PROCESSING, fn, ud);
    rill_test_driver_t *td = rill_test_driver_new(topo, conf, 1000000, err, sizeof err);
    if (!td)
        fail_msg("rill_test_driver_new: %s", err);
    rill_conf_destroy(conf);
    rill_topology_unref(topo);
    return td;
}

static rill_test_driver_t *driver(tries_t *tries, const char *const *kv,
                                  rill_exception_handler_fn fn, void *ud)
{
    return driver_side(tries, kv, fn, ud, false);
}

static const char *const all[] = {"errors.retry.topics.processing", "all",
                                  "errors.dead.letter.queue.topic.name", "rt-dlq", NULL};

static void test_fails_twice_then_comes_out_once_after_the_delays(void **state)
{
    tries_t tries = {0};
    rill_test_driver_t *td = driver(&tries, all, NULL, NULL);
    rill_test_record_t r;
    char buf[64];
    assert_int_equal(rill_test_driver_pipe_str(td, "in", "k", "flaky", 500), 0);
    assert_int_equal(rill_test_driver_unread(td, "out"), 0);
    assert_int_equal(rill_test_driver_unread(td, "rt-retry-1000"), 1);
    assert_int_equal(rill_test_driver_read(td, "rt-retry-1000", &r), 0);
    assert_string_equal(header(&r, "__rill.retry.attempt", buf, sizeof buf), "1");
    assert_string_equal(header(&r, "__rill.retry.due.ms", buf, sizeof buf), "1001000");
    assert_string_equal(header(&r, "__streams.errors.topic", buf, sizeof buf), "in");
    assert_string_equal(header(&r, "__streams.errors.offset", buf, sizeof buf), "0");
    assert_non_null(strstr(header(&r, "__streams.errors.message", buf, sizeof buf), "not yet"));
    assert_int_equal(r.timestamp, 500); /* its own time, for windows and joins */

    /* Not due: it waits, while a good record goes through at once. */
    assert_int_equal(rill_test_driver_advance_wall_clock(td, 999), 0);
    assert_int_equal(tries.flaky, 1);
    assert_int_equal(rill_test_driver_pipe_str(td, "in", "g", "good", 600), 0);
    assert_int_equal(rill_test_driver_read(td, "out", &r), 0);
    assert_int_equal(r.value.len, 4);

    /* Due: processed again, fails again, on to the second delay. */
    assert_int_equal(rill_test_driver_advance_wall_clock(td, 1), 0);
    assert_int_equal(tries.flaky, 2);
    assert_int_equal(rill_test_driver_unread(td, "out"), 0);
    assert_int_equal(rill_test_driver_read(td, "rt-retry-10000", &r), 0);
    assert_string_equal(header(&r, "__rill.retry.attempt", buf, sizeof buf), "2");
    assert_string_equal(header(&r, "__streams.errors.topic", buf, sizeof buf), "in");
    assert_string_equal(header(&r, "__streams.errors.offset", buf, sizeof buf), "0");
    assert_int_equal(rill_test_driver_advance_wall_clock(td, 9999), 0);
    assert_int_equal(rill_test_driver_unread(td, "out"), 0);
    assert_int_equal(rill_test_driver_advance_wall_clock(td, 1), 0);
    assert_int_equal(tries.flaky, 3);
    assert_int_equal(rill_test_driver_read(td, "out", &r), 0);
    assert_int_equal(r.value.len, 5);
    assert_memory_equal(r.value.data, "flaky", 5);
    assert_int_equal(r.timestamp, 500);
    assert_int_equal(r.header_count, 0); /* the retry headers are gone */
    /* Once: nothing more anywhere, however long. */
    assert_int_equal(rill_test_driver_advance_wall_clock(td, 100000), 0);
    assert_int_equal(rill_test_driver_unread(td, "out"), 0);
    assert_int_equal(rill_test_driver_unread(td, "rt-dlq"), 0);
    assert_int_equal(tries.flaky, 3);
    assert_int_equal(rill_test_driver_metric(td, "records-retried"), 2);
    assert_int_equal(rill_test_driver_metric(td, "dead-letters"), 0);
    rill_test_driver_destroy(td);
}

static void test_always_failing_ends_in_the_dead_letter_queue(void **state)
{
    tries_t tries = {0};
    rill_test_driver_t *td = driver(&tries, all, NULL, NULL);
    rill_test_record_t r;
    char buf[64];
    assert_int_equal(rill_test_driver_pipe_str(td, "in", "a", "good", 1), 0);
    assert_int_equal(rill_test_driver_pipe_str(td, "in", "k", "never", 2), 0);
    assert_int_equal(rill_test_driver_advance_wall_clock(td, 1000), 0);
    assert_int_equal(rill_test_driver_unread(td, "rt-dlq"), 0);
    assert_int_equal(rill_test_driver_advance_wall_clock(td, 10000), 0);
    assert_int_equal(rill_test_driver_read(td, "rt-dlq", &r), 0);
    assert_memory_equal(r.value.data, "never", 5);
    assert_string_equal(header(&r, "__rill.retry.attempt", buf, sizeof buf), "3");
    assert_string_equal(header(&r, "__streams.errors.topic", buf, sizeof buf), "in");
    assert_string_equal(header(&r, "__streams.errors.offset", buf, sizeof buf), "1");
    assert_string_equal(header(&r, "__streams.errors.exception", buf, sizeof buf),
                        "rill.ProcessingError(RILL_EPROCESS)");
    assert_int_equal(rill_test_driver_unread(td, "rt-dlq"), 0);
    assert_int_equal(rill_test_driver_unread(td, "out"), 1); /* only the good one */
    assert_int_equal(rill_test_driver_metric(td, "dead-letters"), 1);
    assert_int_equal(rill_test_driver_metric(td, "records-skipped"), 1);
    assert_int_equal(tries.calls, 4); /* good once, never three times */
    rill_test_driver_destroy(td);
}

/* Retries "flaky" only; "never" fails the driver at once. */
static rill_handler_result_t retry_flaky(void *ud, const rill_error_context_t *c)
{
    return strstr(c->message, "not yet") ? RILL_HANDLER_RETRY : RILL_HANDLER_FAIL;
}

static void test_the_handler_chooses(void **state)
{
    tries_t tries = {0};
    rill_test_driver_t *td = driver(&tries, NULL, retry_flaky, NULL);
    assert_int_equal(rill_test_driver_pipe_str(td, "in", "k", "flaky", 1), 0);
    assert_int_equal(rill_test_driver_unread(td, "rt-retry-1000"), 1);
    assert_int_equal(rill_test_driver_advance_wall_clock(td, 1000), 0);
    assert_int_equal(rill_test_driver_advance_wall_clock(td, 10000), 0);
    assert_int_equal(rill_test_driver_unread(td, "out"), 1);
    assert_int_equal(rill_test_driver_pipe_str(td, "in", "k", "never", 2), RILL_EPROCESS);
    assert_non_null(strstr(rill_test_driver_error(td), "never works"));
    assert_int_equal(rill_test_driver_unread(td, "rt-retry-1000"), 1); /* "flaky"'s, read */
    rill_test_driver_destroy(td);
}

/* Without a dead letter queue, the last failure fails: a record is never lost silently. */
static void test_without_dead_letter_queue_the_last_failure_fails(void **state)
{
    tries_t tries = {0};
    const char *const kv[] = {"errors.retry.topics.processing", "all", NULL};
    rill_test_driver_t *td = driver(&tries, kv, NULL, NULL);
    assert_int_equal(rill_test_driver_pipe_str(td, "in", "k", "never", 2), 0);
    assert_int_equal(rill_test_driver_advance_wall_clock(td, 1000), 0);
    assert_int_equal(rill_test_driver_advance_wall_clock(td, 10000), RILL_EPROCESS);
    assert_non_null(strstr(rill_test_driver_error(td), "never works"));
    assert_non_null(strstr(rill_test_driver_error(td), "topic 'in' partition 0 offset 0"));
    rill_test_driver_destroy(td);
}

static void test_bad_delays_are_refused(void **state)
{
    const char *const bad[] = {"x", "1000,", "0", "-5", "1,2,3,4,5,6,7,8,9", "10 20"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        rill_conf_t *conf = rill_conf_new();
        char err[512];
        assert_int_equal(rill_conf_set(conf, "application.id", "rt", err, sizeof err), 0);
        assert_int_equal(
            rill_conf_set(conf, "errors.retry.topics.delays.ms", bad[i], err, sizeof err), 0);
        rill_topology_t *topo = rill_topology_new();
        rill_stream_to(rill_stream_from_topic(topo, "in", NULL), "out", NULL);
        rill_test_driver_t *td = rill_test_driver_new(topo, conf, 0, err, sizeof err);
        if (td)
            fail_msg("'%s' was accepted", bad[i]);
        if (!strstr(err, "errors.retry.topics.delays.ms"))
            fail_msg("%s: %s", bad[i], err);
        rill_topology_unref(topo);
        rill_conf_destroy(conf);
    }
}

/* The in-place retries alone: the retry topics' delays emptied. */
static const char *const in_place[] = {"errors.retry.topics.delays.ms",
                                       "",
                                       "errors.retry.topics.processing",
                                       "all",
                                       "errors.retry.in.place.attempts",
                                       "3",
                                       "errors.retry.in.place.backoff.ms",
                                       "100",
                                       "errors.dead.letter.queue.topic.name",
                                       "rt-dlq",
                                       NULL};

static void test_in_place_backs_off_the_task_only(void **state)
{
    tries_t tries = {0};
    rill_test_driver_t *td = driver(&tries, in_place, NULL, NULL);
    assert_int_equal(rill_test_driver_set_partitions(td, "in", 2), 0);
    rill_test_record_t r;
    assert_int_equal(
        rill_test_driver_pipe(td, "in", 0, rill_buf_str("a"), rill_buf_str("flaky"), 1), 0);
    assert_int_equal(tries.flaky, 1);
    /* Partition 1's task goes on; partition 0's next record waits behind the retried one. */
    assert_int_equal(
        rill_test_driver_pipe(td, "in", 1, rill_buf_str("b"), rill_buf_str("other"), 2), 0);
    assert_int_equal(rill_test_driver_pipe(td, "in", 0, rill_buf_str("c"), rill_buf_str("next"), 3),
                     0);
    assert_int_equal(rill_test_driver_read(td, "out", &r), 0);
    assert_memory_equal(r.value.data, "other", 5);
    assert_int_equal(rill_test_driver_unread(td, "out"), 0);
    /* 100 ms, then 200 ms: the third try passes, then the record behind it. */
    assert_int_equal(rill_test_driver_advance_wall_clock(td, 99), 0);
    assert_int_equal(tries.flaky, 1);
    assert_int_equal(rill_test_driver_advance_wall_clock(td, 1), 0);
    assert_int_equal(tries.flaky, 2);
    assert_int_equal(rill_test_driver_advance_wall_clock(td, 199), 0);
    assert_int_equal(rill_test_driver_unread(td, "out"), 0);
    assert_int_equal(rill_test_driver_advance_wall_clock(td, 1), 0);
    assert_int_equal(tries.flaky, 3);
    assert_int_equal(rill_test_driver_read(td, "out", &r), 0);
    assert_memory_equal(r.value.data, "flaky", 5);
    assert_int_equal(rill_test_driver_read(td, "out", &r), 0);
    assert_memory_equal(r.value.data, "next", 4);
    assert_int_equal(rill_test_driver_unread(td, "out"), 0);
    assert_int_equal(rill_test_driver_metric(td, "records-processed"), 3);
    assert_int_equal(rill_test_driver_metric(td, "dead-letters"), 0);
    rill_test_driver_destroy(td);
}

static void test_in_place_used_up_goes_to_the_dead_letter_queue(void **state)
{
    tries_t tries = {0};
    rill_test_driver_t *td = driver(&tries, in_place, NULL, NULL);
    rill_test_record_t r;
    char buf[64];
    assert_int_equal(rill_test_driver_pipe_str(td, "in", "k", "never", 1), 0);
    for (int i = 0; i < 3; i++)
        assert_int_equal(rill_test_driver_advance_wall_clock(td, 100 << i), 0);
    assert_int_equal(tries.calls, 4); /* the first try and three retries */
    assert_int_equal(rill_test_driver_read(td, "rt-dlq", &r), 0);
    assert_string_equal(header(&r, "__streams.errors.offset", buf, sizeof buf), "0");
    assert_int_equal(rill_test_driver_unread(td, "rt-dlq"), 0);
    assert_int_equal(rill_test_driver_advance_wall_clock(td, 100000), 0);
    assert_int_equal(tries.calls, 4);
    rill_test_driver_destroy(td);
}

/* In place first, then the retry topics: each delivery from a retry topic gets its tries. */
static void test_in_place_then_retry_topics(void **state)
{
    tries_t tries = {0};
    const char *const kv[] = {"errors.retry.topics.delays.ms",
                              "1000",
                              "errors.retry.topics.processing",
                              "all",
                              "errors.retry.in.place.attempts",
                              "1",
                              "errors.dead.letter.queue.topic.name",
                              "rt-dlq",
                              NULL};
    rill_test_driver_t *td = driver(&tries, kv, NULL, NULL);
    rill_test_record_t r;
    char buf[64];
    assert_int_equal(rill_test_driver_pipe_str(td, "in", "k", "never", 1), 0);
    assert_int_equal(rill_test_driver_advance_wall_clock(td, 100), 0); /* in place */
    assert_int_equal(tries.calls, 2);
    assert_int_equal(rill_test_driver_unread(td, "rt-retry-1000"), 1);
    assert_int_equal(rill_test_driver_advance_wall_clock(td, 1000), 0); /* from the topic */
    assert_int_equal(rill_test_driver_advance_wall_clock(td, 100), 0);  /* in place */
    assert_int_equal(tries.calls, 4);
    assert_int_equal(rill_test_driver_read(td, "rt-dlq", &r), 0);
    assert_string_equal(header(&r, "__rill.retry.attempt", buf, sizeof buf), "2");
    rill_test_driver_destroy(td);
}

/* A record that sent an output before failing is run again neither in place nor from a retry
 * topic (the output would be sent twice): "side" gets it once, the dead letter queue has it. */
static void test_a_record_with_effects_is_not_retried(void **state)
{
    const char *const *const configs[] = {in_place, all};
    for (size_t i = 0; i < 2; i++) {
        tries_t tries = {0};
        rill_test_driver_t *td = driver_side(&tries, configs[i], NULL, NULL, true);
        assert_int_equal(rill_test_driver_pipe_str(td, "in", "k", "flaky", 1), 0);
        assert_int_equal(rill_test_driver_advance_wall_clock(td, 100000), 0);
        assert_int_equal(tries.flaky, 1);
        assert_int_equal(rill_test_driver_unread(td, "side"), 1);
        assert_int_equal(rill_test_driver_unread(td, "rt-retry-1000"), 0);
        assert_int_equal(rill_test_driver_unread(td, "rt-dlq"), 1);
        assert_int_equal(rill_test_driver_unread(td, "out"), 0);
        rill_test_driver_destroy(td);
    }
}

int main(void)
{
    rill_set_log_cb(NULL, NULL, getenv("RILL_DEBUG") ? RILL_LOG_DEBUG : RILL_LOG_ERROR);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fails_twice_then_comes_out_once_after_the_delays),
        cmocka_unit_test(test_always_failing_ends_in_the_dead_letter_queue),
        cmocka_unit_test(test_the_handler_chooses),
        cmocka_unit_test(test_without_dead_letter_queue_the_last_failure_fails),
        cmocka_unit_test(test_bad_delays_are_refused),
        cmocka_unit_test(test_in_place_backs_off_the_task_only),
        cmocka_unit_test(test_in_place_used_up_goes_to_the_dead_letter_queue),
        cmocka_unit_test(test_in_place_then_retry_topics),
        cmocka_unit_test(test_a_record_with_effects_is_not_retried),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
