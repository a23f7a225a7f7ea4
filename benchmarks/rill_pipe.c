/*
 * bench-rill-pipe: Rill's filter+map pipeline, to compare with bench-raw-pipe ("the limit").
 * The topology is rill_stream_from_topic -> rill_stream_filter (value's first byte even) ->
 * rill_stream_map_values (prefix "m:") -> rill_stream_to, with bytes serdes, one stream thread,
 * at-least-once and the same commit interval as the raw pipe.
 *
 * Fairness: Rill's stream thread makes its clients with the settings raw_pipe.c copies, and the
 * filter and map functions below do the same byte work as the raw loop. The clock runs from the
 * moment the first record reaches the filter (the first record consumed) until N records were
 * processed (records-processed) and every output they made was acknowledged by the broker
 * (records-produced, counted by Rill's delivery reports: the same point the raw pipe's final
 * flush marks). CPU is getrusage(RUSAGE_SELF) over that window, all threads. The main thread
 * sleeps on a condition variable while the stream thread works; only after the N-th record does
 * it poll the two counters (every millisecond) until the outputs are acknowledged.
 *
 *   bench-rill-pipe --bootstrap B --input T --output O --group G --records N
 *                   [--commit-interval MS] [--timeout S] [--consumer-set KEY=VALUE]...
 *
 * --consumer-set KEY=VALUE sets Rill's "consumer.KEY" (see raw_pipe.c); the run script passes
 * none.
 */
#include <rill/app.h>
#include <rill/dsl.h>

#include "bench_common.h"

#include <getopt.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

static const char *bootstrap, *input, *output, *group;
static long long records = -1;
static const char *commit_interval = "1000";
static long timeout_s = 600;

/*
 * What the stream thread tells the main thread. seen and passed are touched only by the one
 * stream thread while it runs; the mutex publishes them (and t_first, cpu_first) to the main
 * thread when the N-th record has been seen or the app failed.
 */
static struct {
    pthread_mutex_t lock;
    pthread_cond_t cond;
    long long seen, passed;
    double t_first, cpu_first;
    bool done, failed;
    char error[1024];
} run = {.lock = PTHREAD_MUTEX_INITIALIZER};

static void signal_main(void)
{
    pthread_mutex_lock(&run.lock);
    run.done = true;
    pthread_cond_signal(&run.cond);
    pthread_mutex_unlock(&run.lock);
}

/* The filter: keep even first bytes (and count what goes by). */
static bool even_first_byte(void *ud, const rill_record_t *rec)
{
    if (run.seen++ == 0) {
        run.t_first = now_s();
        run.cpu_first = cpu_s();
    }
    const unsigned char *v = rec->value.data;
    bool keep = rec->value.len && v[0] % 2 == 0;
    run.passed += keep;
    if (run.seen == records)
        signal_main();
    return keep;
}

/* The map: prefix "m:", in the record's arena. */
static int prefix_m(void *ud, rill_context_t *ctx, const rill_record_t *rec, rill_buf_t *out)
{
    char *p = rill_arena_alloc(rill_context_arena(ctx), rec->value.len + 2);
    if (!p)
        return rill_context_fail(ctx, RILL_ENOMEM, "out of memory");
    p[0] = 'm';
    p[1] = ':';
    memcpy(p + 2, rec->value.data, rec->value.len);
    *out = (rill_buf_t){p, rec->value.len + 2};
    return 0;
}

static void on_error(void *ud, int err, const char *message)
{
    pthread_mutex_lock(&run.lock);
    run.failed = true;
    snprintf(run.error, sizeof run.error, "%s: %s", rill_err_name(err), message);
    pthread_cond_signal(&run.cond);
    pthread_mutex_unlock(&run.lock);
}

static void die(const char *what, const char *detail)
{
    fprintf(stderr, "bench-rill-pipe: %s: %s (input '%s', output '%s', group '%s', bootstrap %s)\n",
            what, detail, input, output, group, bootstrap);
    exit(1);
}

int main(int argc, char **argv)
{
    pipe_opts_t o;
    pipe_opts_parse(&o, argc, argv, "bench-rill-pipe");
    bootstrap = o.bootstrap;
    input = o.input;
    output = o.output;
    group = o.group;
    records = o.records;
    timeout_s = o.timeout_s;
    char commit_ms[32];
    snprintf(commit_ms, sizeof commit_ms, "%ld", o.commit_interval_ms);
    commit_interval = commit_ms;

    rill_set_log_cb(NULL, NULL, getenv("RILL_DEBUG") ? RILL_LOG_DEBUG : RILL_LOG_WARN);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&run.cond, &ca);
    pthread_condattr_destroy(&ca);

    char err[1024];
    rill_conf_t *conf = rill_conf_new();
    const char *const kv[][2] = {
        {"application.id", group},
        {"bootstrap.servers", bootstrap},
        {"default.key.serde", "bytes"},
        {"default.value.serde", "bytes"},
        {"commit.interval.ms", commit_interval},
        {"num.stream.threads", "1"}, /* the counters above rely on one stream thread */
    };
    for (size_t i = 0; i < sizeof kv / sizeof kv[0]; i++)
        if (rill_conf_set(conf, kv[i][0], kv[i][1], err, sizeof err))
            die("bad configuration", err);
    char connect_ms[32];
    snprintf(connect_ms, sizeof connect_ms, "%ld", timeout_s < 30 ? timeout_s * 1000 : 30000);
    if (rill_conf_set(conf, "cluster.connect.timeout.ms", connect_ms, err, sizeof err))
        die("bad configuration", err);
    for (size_t i = 0; i < o.nconsumer_set; i++) {
        char key[256];
        snprintf(key, sizeof key, "consumer.%s", o.consumer_set[i][0]);
        if (rill_conf_set(conf, key, o.consumer_set[i][1], err, sizeof err))
            die("bad --consumer-set", err);
    }

    rill_topology_t *topo = rill_topology_new();
    rill_stream_t *s = rill_stream_from_topic(topo, input, NULL);
    s = rill_stream_map_values(rill_stream_filter(s, even_first_byte, NULL), prefix_m, NULL);
    if (rill_stream_to(s, output, NULL))
        die("cannot build the topology", "rill_stream_to failed");
    rill_app_t *app = rill_app_new(topo, conf, err, sizeof err);
    if (!app)
        die("cannot create the app", err);
    rill_app_set_error_handler(app, on_error, NULL);

    double start = now_s();
    struct timespec deadline;
    clock_gettime(CLOCK_MONOTONIC, &deadline);
    deadline.tv_sec += timeout_s;
    if (rill_app_start(app))
        die("cannot start the app", rill_app_error(app, err, sizeof err));

    /* Phase 1: sleep until the stream thread has seen N records, failed, or time is up. */
    pthread_mutex_lock(&run.lock);
    int rc = 0;
    while (!run.done && !run.failed && rc == 0)
        rc = pthread_cond_timedwait(&run.cond, &run.lock, &deadline);
    bool done = run.done, failed = run.failed;
    long long seen = run.seen, passed = run.passed;
    double t_first = run.t_first, cpu_first = run.cpu_first;
    snprintf(err, sizeof err, "%s", run.error);
    pthread_mutex_unlock(&run.lock);
    if (failed)
        die("the app failed", err);
    if (!done) {
        fprintf(stderr,
                "bench-rill-pipe: only %lld of %lld records reached the filter within %ld s, "
                "app state %s (input '%s', bootstrap %s)\n",
                (long long)rill_app_metric(app, "records-processed"), records, timeout_s,
                rill_state_name(rill_app_state(app)), input, bootstrap);
        return 1;
    }

    /* Phase 2: N records processed (the metric is added per batch, after the filter ran) and
     * every output acknowledged. A short wait: the last batch, then linger.ms and one ack. */
    double end_deadline = start + (double)timeout_s;
    int64_t processed = 0, produced = 0;
    while ((processed = rill_app_metric(app, "records-processed")) < records ||
           (produced = rill_app_metric(app, "records-produced")) < passed) {
        if (rill_app_state(app) == RILL_STATE_ERROR)
            die("the app failed", rill_app_error(app, err, sizeof err));
        if (now_s() > end_deadline) {
            fprintf(stderr,
                    "bench-rill-pipe: %lld records processed, %lld of %lld outputs acknowledged "
                    "within %ld s (output '%s', bootstrap %s)\n",
                    (long long)processed, (long long)rill_app_metric(app, "records-produced"),
                    passed, timeout_s, output, bootstrap);
            return 1;
        }
        struct timespec tick = {0, 1000000};
        nanosleep(&tick, NULL);
    }
    double seconds = now_s() - t_first;
    double cpu = cpu_s() - cpu_first;

    /* Read before closing: the counters live in the stream threads, which close frees. */
    processed = rill_app_metric(app, "records-processed");
    produced = rill_app_metric(app, "records-produced");
    if (rill_app_close(app, 30000))
        die("cannot close the app", "timed out");
    if (rill_app_state(app) == RILL_STATE_ERROR)
        die("the app failed", rill_app_error(app, err, sizeof err));
    rill_app_destroy(app);
    rill_topology_unref(topo);
    if (processed < records || seen != records || produced < passed) {
        fprintf(stderr,
                "bench-rill-pipe: expected %lld records processed and %lld produced, got %lld "
                "processed (%lld seen by the filter) and %lld produced (input '%s')\n",
                records, passed, (long long)processed, seen, (long long)produced, input);
        return 1;
    }
    printf("RESULT system=rill records=%lld seconds=%.3f rps=%.0f cpu_seconds=%.3f produced=%lld\n",
           (long long)processed, seconds, (double)processed / seconds, cpu, (long long)produced);
    return 0;
}
