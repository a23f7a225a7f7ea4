/*
 * bench-rill-pipe: Rill running one workload of benchmarks/WORKLOADS.md, to compare with
 * bench-raw-pipe ("the limit") and the Kafka Streams peer.
 *
 * Every topology starts with a gate that counts the records it sees (the clock starts at the
 * first) and ends with a peek that counts the outputs handed to the sink. Bytes workloads use the
 * bytes serdes; Nexmark workloads a string key and JSON values, as a user would write them.
 *
 * Fairness: Rill's stream thread makes its clients with the settings raw_pipe.c copies, one
 * stream thread, at-least-once, the same commit interval. The window runs from the first record
 * seen to the moment N records were processed and every output was acknowledged (Rill's delivery
 * reports, the same point the raw pipe's flush marks). CPU is the whole process over that window.
 * The main thread polls only before the first output (to time it) and after the N-th record.
 *
 *   bench-rill-pipe --bootstrap B --input T --output O --group G --records N [--workload W]
 *                   [--commit-interval MS] [--timeout S] [--consumer-set KEY=VALUE]...
 */
#include <rill/app.h>
#include <rill/dsl.h>

#include "bench_common.h"

#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static pipe_opts_t o;

/*
 * What the stream thread tells the main thread. seen and outputs are touched only by the one
 * stream thread while it runs; the mutex publishes them (and t_first, cpu_first) to the main
 * thread when the N-th record has been seen or the app failed.
 */
static struct {
    pthread_mutex_t lock;
    pthread_cond_t cond;
    long long seen, outputs;
    double t_first, cpu_first;
    long rss_steady_kb;
    bool done, failed;
    char error[1024];
} run = {.lock = PTHREAD_MUTEX_INITIALIZER};

static void die(const char *what, const char *detail)
{
    fprintf(stderr,
            "bench-rill-pipe: %s: %s (workload %s, input '%s', output '%s', group '%s', "
            "bootstrap %s)\n",
            what, detail, workload_names[o.workload], o.input, o.output, o.group, o.bootstrap);
    exit(1);
}

/* The gate: counts every record, starts the clock, samples RSS half way. */
static bool gate(void *ud, const rill_record_t *rec)
{
    /* The clock starts after the warm-up records (none by default). */
    if (run.seen++ == o.warmup) {
        run.t_first = now_s();
        run.cpu_first = cpu_s();
    }
    if (run.seen == o.records / 2)
        run.rss_steady_kb = proc_status_kb("VmRSS");
    if (run.seen == o.records) {
        pthread_mutex_lock(&run.lock);
        run.done = true;
        pthread_cond_signal(&run.cond);
        pthread_mutex_unlock(&run.lock);
    }
    return true;
}

static void count_output(void *ud, const rill_record_t *rec)
{
    run.outputs++;
}

/* filter-map: keep even first bytes; prefix "m:". */
static bool even_first_byte(void *ud, const rill_record_t *rec)
{
    const unsigned char *v = rec->value.data;
    return rec->value.len && v[0] % 2 == 0;
}

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

/* Nexmark q1: the same bid with price * 89 / 100. */
static int to_euros(void *ud, rill_context_t *ctx, const rill_record_t *rec, rill_buf_t *out)
{
    const void *bid = rec->value.data;
    int64_t auction, bidder, price, when;
    const char *channel = rill_json_get_string(bid, "channel");
    const char *url = rill_json_get_string(bid, "url");
    const char *extra = rill_json_get_string(bid, "extra");
    if (rill_json_get_int(bid, "auction", &auction) || rill_json_get_int(bid, "bidder", &bidder) ||
        rill_json_get_int(bid, "price", &price) || rill_json_get_int(bid, "dateTime", &when) ||
        !channel || !url || !extra)
        return rill_context_fail(ctx, RILL_EPROCESS, "not a bid at offset %lld",
                                 (long long)rec->offset);
    *out = rill_json_pack(rill_context_arena(ctx), "{s:I, s:I, s:I, s:s, s:s, s:I, s:s}", "auction",
                          (long long)auction, "bidder", (long long)bidder, "price",
                          (long long)(price * 89 / 100), "channel", channel, "url", url, "dateTime",
                          (long long)when, "extra", extra);
    return out->data ? 0 : rill_context_fail(ctx, RILL_ENOMEM, "cannot build the bid");
}

/* Nexmark q2: bids of every 123rd auction, as {auction, price}. */
static bool auction_mod_123(void *ud, const rill_record_t *rec)
{
    int64_t auction;
    return rill_json_get_int(rec->value.data, "auction", &auction) == 0 && auction % 123 == 0;
}

static int auction_price(void *ud, rill_context_t *ctx, const rill_record_t *rec, rill_buf_t *out)
{
    int64_t auction = 0, price = 0;
    rill_json_get_int(rec->value.data, "auction", &auction);
    rill_json_get_int(rec->value.data, "price", &price);
    *out = rill_json_pack(rill_context_arena(ctx), "{s:I, s:I}", "auction", (long long)auction,
                          "price", (long long)price);
    return out->data ? 0 : rill_context_fail(ctx, RILL_ENOMEM, "cannot build the output");
}

static rill_topology_t *build(void)
{
    rill_topology_t *topo = rill_topology_new();
    bool json = o.workload >= W_NEXMARK_Q0;
    rill_source_opts_t in = {
        .key_serde = json ? rill_serde_string() : rill_serde_bytes(),
        .value_serde = json ? rill_serde_json() : rill_serde_bytes(),
    };
    rill_stream_t *s = rill_stream_filter(rill_stream_from_topic(topo, o.input, &in), gate, NULL);
    switch (o.workload) {
    case W_PASSTHROUGH:
    case W_NEXMARK_Q0:
        break;
    case W_FILTER_MAP:
        s = rill_stream_map_values(rill_stream_filter(s, even_first_byte, NULL), prefix_m, NULL);
        break;
    case W_NEXMARK_Q1:
        s = rill_stream_map_values(s, to_euros, NULL);
        break;
    case W_NEXMARK_Q2:
        s = rill_stream_map_values(rill_stream_filter(s, auction_mod_123, NULL), auction_price,
                                   NULL);
        break;
    }
    rill_sink_opts_t out = {.key_serde = in.key_serde, .value_serde = in.value_serde};
    if (rill_stream_to(rill_stream_peek(s, count_output, NULL), o.output, &out))
        die("cannot build the topology", "rill_stream_to failed");
    return topo;
}

static void on_error(void *ud, int err, const char *message)
{
    pthread_mutex_lock(&run.lock);
    run.failed = true;
    snprintf(run.error, sizeof run.error, "%s: %s", rill_err_name(err), message);
    pthread_cond_signal(&run.cond);
    pthread_mutex_unlock(&run.lock);
}

int main(int argc, char **argv)
{
    double started_ms = process_start_ms();
    pipe_opts_parse(&o, argc, argv, "bench-rill-pipe");
    rill_set_log_cb(NULL, NULL, getenv("RILL_DEBUG") ? RILL_LOG_DEBUG : RILL_LOG_WARN);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&run.cond, &ca);
    pthread_condattr_destroy(&ca);

    char err[1024], commit_ms[32], connect_ms[32];
    snprintf(commit_ms, sizeof commit_ms, "%ld", o.commit_interval_ms);
    snprintf(connect_ms, sizeof connect_ms, "%ld", o.timeout_s < 30 ? o.timeout_s * 1000 : 30000);
    rill_conf_t *conf = rill_conf_new();
    const char *const kv[][2] = {
        {"application.id", o.group},       {"bootstrap.servers", o.bootstrap},
        {"commit.interval.ms", commit_ms}, {"cluster.connect.timeout.ms", connect_ms},
        {"num.stream.threads", "1"}, /* the counters above rely on one stream thread */
    };
    for (size_t i = 0; i < sizeof kv / sizeof kv[0]; i++)
        if (rill_conf_set(conf, kv[i][0], kv[i][1], err, sizeof err))
            die("bad configuration", err);
    for (size_t i = 0; i < o.nconsumer_set; i++) {
        char key[256];
        snprintf(key, sizeof key, "consumer.%s", o.consumer_set[i][0]);
        if (rill_conf_set(conf, key, o.consumer_set[i][1], err, sizeof err))
            die("bad --consumer-set", err);
    }
    rill_topology_t *topo = build();
    rill_app_t *app = rill_app_new(topo, conf, err, sizeof err);
    if (!app)
        die("cannot create the app", err);
    rill_app_set_error_handler(app, on_error, NULL);

    double start = now_s(), end_deadline = start + (double)o.timeout_s;
    if (rill_app_start(app))
        die("cannot start the app", rill_app_error(app, err, sizeof err));

    /* Phase 0: time the first acknowledged output (polling: before the measured window). */
    double first_output_ms = -1;
    while (rill_app_metric(app, "records-produced") < 1 && now_s() < end_deadline &&
           rill_app_state(app) != RILL_STATE_ERROR) {
        struct timespec tick = {0, 1000000};
        nanosleep(&tick, NULL);
    }
    if (rill_app_metric(app, "records-produced") >= 1)
        first_output_ms = wall_ms() - started_ms;

    /* Phase 1: sleep until the stream thread has seen N records, failed, or time is up. */
    struct timespec deadline;
    clock_gettime(CLOCK_MONOTONIC, &deadline);
    deadline.tv_sec += (time_t)(end_deadline - now_s()) + 1;
    pthread_mutex_lock(&run.lock);
    int rc = 0;
    while (!run.done && !run.failed && rc == 0)
        rc = pthread_cond_timedwait(&run.cond, &run.lock, &deadline);
    bool done = run.done, failed = run.failed;
    snprintf(err, sizeof err, "%s", run.error);
    pthread_mutex_unlock(&run.lock);
    if (failed)
        die("the app failed", err);
    if (!done) {
        fprintf(stderr,
                "bench-rill-pipe: only %lld of %lld records seen within %ld s, app %s "
                "(input '%s', bootstrap %s)\n",
                (long long)rill_app_metric(app, "records-processed"), o.records, o.timeout_s,
                rill_state_name(rill_app_state(app)), o.input, o.bootstrap);
        return 1;
    }

    /* Phase 2: every record counted in the metric (added per batch) and every output acked.
     * After the N-th record the stream thread only finishes its batch: run.outputs is final
     * once records-processed reaches N. */
    int64_t processed = 0, produced = 0;
    while ((processed = rill_app_metric(app, "records-processed")) < o.records ||
           (produced = rill_app_metric(app, "records-produced")) < run.outputs) {
        if (rill_app_state(app) == RILL_STATE_ERROR)
            die("the app failed", rill_app_error(app, err, sizeof err));
        if (now_s() > end_deadline) {
            fprintf(stderr,
                    "bench-rill-pipe: %lld records processed, %lld of %lld outputs "
                    "acknowledged within %ld s (output '%s', bootstrap %s)\n",
                    (long long)processed, (long long)rill_app_metric(app, "records-produced"),
                    run.outputs, o.timeout_s, o.output, o.bootstrap);
            return 1;
        }
        struct timespec tick = {0, 1000000};
        nanosleep(&tick, NULL);
    }
    double seconds = now_s() - run.t_first;
    double cpu = cpu_s() - run.cpu_first;
    long rss_peak_kb = proc_status_kb("VmHWM");

    /* Read before closing: the counters live in the stream threads, which close frees. */
    processed = rill_app_metric(app, "records-processed");
    produced = rill_app_metric(app, "records-produced");
    if (rill_app_close(app, 30000))
        die("cannot close the app", "timed out");
    if (rill_app_state(app) == RILL_STATE_ERROR)
        die("the app failed", rill_app_error(app, err, sizeof err));
    rill_app_destroy(app);
    rill_topology_unref(topo);
    if (processed < o.records || run.seen != o.records || produced < run.outputs) {
        fprintf(stderr,
                "bench-rill-pipe: expected %lld records processed and %lld produced, "
                "got %lld processed (%lld seen) and %lld produced (input '%s')\n",
                o.records, run.outputs, (long long)processed, run.seen, (long long)produced,
                o.input);
        return 1;
    }
    long long measured = (long long)processed - o.warmup;
    printf("RESULT system=rill workload=%s records=%lld measured=%lld seconds=%.3f rps=%.0f "
           "cpu_seconds=%.3f produced=%lld rss_peak_kb=%ld rss_steady_kb=%ld "
           "first_output_ms=%.0f\n",
           workload_names[o.workload], (long long)processed, measured, seconds,
           (double)measured / seconds, cpu, (long long)produced, rss_peak_kb, run.rss_steady_kb,
           first_output_ms);
    return 0;
}
