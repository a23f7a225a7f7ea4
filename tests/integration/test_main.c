/*
 * rill_main_run() in-process on the embedded cluster: its hooks see the app before it starts
 * (records are fed there, and a helper thread watches the metrics while it runs), the state
 * listener and the deserialization exception handler are the user's, SIGTERM stops the app
 * cleanly, and after_stop reads the final metrics; a failing processor reaches the error
 * handler and the exit status is 1. The app's name is its application id.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <rill/main.h>

#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

typedef struct {
    pthread_t main_thread, watcher;
    bool watching;
    rill_app_t *app;
    atomic_int before_start, running, not_running, errors, deser_handled;
    char app_id[64];
    int64_t processed, skipped; /* read by after_stop */
    rill_state_t final_state;
    char error[512];
} hooks_t;

static int build(rill_topology_t *topo, rill_conf_t *conf, void *ud, char *errstr,
                 size_t errstr_size)
{
    rill_source_opts_t in = {.key_serde = rill_serde_string(), .value_serde = rill_serde_int64()};
    rill_stream_t *s = rill_stream_from_topic(topo, "main-in", &in);
    return rill_stream_to(s, "main-out", NULL);
}

static int explode(void *ud, rill_context_t *ctx, const rill_record_t *rec, rill_buf_t *out)
{
    return rill_context_fail(ctx, RILL_EPROCESS, "refusing every record");
}

static int build_failing(rill_topology_t *topo, rill_conf_t *conf, void *ud, char *errstr,
                         size_t errstr_size)
{
    rill_source_opts_t in = {.key_serde = rill_serde_string(), .value_serde = rill_serde_int64()};
    rill_stream_t *s =
        rill_stream_map_values(rill_stream_from_topic(topo, "main-in", &in), explode, NULL);
    return rill_stream_to(s, "main-out", &(rill_sink_opts_t){.value_serde = rill_serde_bytes()});
}

static void on_state(void *ud, rill_state_t to, rill_state_t from)
{
    hooks_t *h = ud;
    atomic_fetch_add(to == RILL_STATE_RUNNING ? &h->running : &h->not_running,
                     to == RILL_STATE_RUNNING || to == RILL_STATE_NOT_RUNNING);
}

static void on_error(void *ud, int err, const char *message)
{
    hooks_t *h = ud;
    atomic_fetch_add(&h->errors, 1);
    snprintf(h->error, sizeof h->error, "%s", message);
}

static rill_handler_result_t on_bad_record(void *ud, const rill_error_context_t *ctx)
{
    atomic_fetch_add(&((hooks_t *)ud)->deser_handled, 1);
    return RILL_HANDLER_CONTINUE;
}

/* Waits until the app processed the good records, then stops it as an operator would. */
static void *watch(void *arg)
{
    hooks_t *h = arg;
    for (int waited = 0; rill_app_metric(h->app, "records-processed") < 10 && waited < 30000;
         waited += 10) {
        struct timespec ts = {0, 10 * 1000000};
        nanosleep(&ts, NULL);
    }
    pthread_kill(h->main_thread, SIGTERM);
    return NULL;
}

static int before_start(void *ud, rill_app_t *app)
{
    hooks_t *h = ud;
    atomic_fetch_add(&h->before_start, 1);
    h->app = app;
    char err[256];
    rill_producer_t *p = rill_producer_new(rill_app_bootstrap_servers(app), err, sizeof err);
    assert_non_null(p);
    for (int i = 0; i < 12; i++) {
        int64_t v = i;
        rill_buf_t value = i >= 10 ? rill_buf_str("bad") : (rill_buf_t){&v, sizeof v};
        assert_int_equal(rill_producer_send(p, "main-in", -1, rill_buf_str("k"), value, 1000), 0);
    }
    assert_int_equal(rill_producer_flush(p, 10000), 0);
    rill_producer_destroy(p);
    return 0;
}

static int before_start_watching(void *ud, rill_app_t *app)
{
    hooks_t *h = ud;
    before_start(ud, app);
    h->watching = pthread_create(&h->watcher, NULL, watch, h) == 0;
    return h->watching ? 0 : -1;
}

static void after_stop(void *ud, rill_app_t *app)
{
    hooks_t *h = ud;
    if (h->watching)
        pthread_join(h->watcher, NULL);
    h->processed = rill_app_metric(app, "records-processed");
    h->skipped = rill_app_metric(app, "records-skipped");
    h->final_state = rill_app_state(app);
}

static void test_hooks_listeners_and_final_metrics(void **state)
{
    hooks_t h = {.main_thread = pthread_self()};
    rill_main_opts_t opts = {
        .build = build,
        .ud = &h,
        .state_listener = on_state,
        .error_handler = on_error,
        .before_start = before_start_watching,
        .after_stop = after_stop,
    };
    opts.exception_handlers[RILL_ERROR_DESERIALIZATION] = on_bad_record;
    char a0[] = "main-test", a1[] = "--config", a2[] = "default.key.serde=string",
         a3[] = "--config", a4[] = "default.value.serde=int64",
         *argv[] = {a0, a1, a2, a3, a4, NULL};
    assert_int_equal(rill_main_run(5, argv, "main-test", &opts), 0);
    assert_int_equal(atomic_load(&h.before_start), 1);
    assert_true(atomic_load(&h.running) >= 1);
    assert_int_equal(atomic_load(&h.not_running), 1);
    assert_int_equal(atomic_load(&h.errors), 0);
    assert_int_equal(atomic_load(&h.deser_handled), 2);
    assert_int_equal(h.final_state, RILL_STATE_NOT_RUNNING);
    /* Read after the close: the final values, not 0. */
    assert_int_equal(h.processed, 10);
    assert_int_equal(h.skipped, 2);
}

static void test_error_handler_and_exit_status(void **state)
{
    hooks_t h = {.main_thread = pthread_self()};
    rill_main_opts_t opts = {
        .build = build_failing,
        .ud = &h,
        .state_listener = on_state,
        .error_handler = on_error,
        .before_start = before_start,
        .after_stop = after_stop,
    };
    char a0[] = "main-fail", a1[] = "--config", a2[] = "default.key.serde=string",
         *argv[] = {a0, a1, a2, NULL};
    assert_int_equal(rill_main_run(3, argv, "main-fail", &opts), 1);
    assert_int_equal(atomic_load(&h.errors), 1);
    assert_non_null(strstr(h.error, "refusing every record"));
    assert_int_equal(h.final_state, RILL_STATE_ERROR);
    /* The app's name is its application id: the group, and the prefix in the thread's name. */
    assert_non_null(strstr(h.error, "main-fail-StreamThread-1"));
}

static void test_missing_build_is_bad_usage(void **state)
{
    char a0[] = "x", *argv[] = {a0, NULL};
    assert_int_equal(rill_main_run(1, argv, "x", &(rill_main_opts_t){0}), 2);
    assert_int_equal(rill_main_run(1, argv, "x", NULL), 2);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_hooks_listeners_and_final_metrics),
        cmocka_unit_test(test_error_handler_and_exit_status),
        cmocka_unit_test(test_missing_build_is_bad_usage),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
