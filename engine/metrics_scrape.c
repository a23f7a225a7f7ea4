/*
 * The app's metrics in Prometheus' text format: what Kafka Streams' thread, task and client
 * metrics mean, named in Prometheus' conventions (docs/monitoring.md lists each one). A scrape
 * reads the stream threads' cells and their tasks' published counters (metric_cells.h) under the
 * app's query lock, which keeps threads and task tables still; nothing here runs on a stream
 * thread, and nothing a stream thread does per record waits for it.
 */
#include "metrics_int.h"
#include "prometheus.h"

#include <rill/statestore.h>

#include <stdio.h>
#include <string.h>

/* The task counters' families, in RILL_TASK_COUNTERS order. */
static const struct {
    const char *name, *help;
} task_families[RILL__TASK_COUNTERS] = {
    {"rill_records_processed_total",
     "Records a task took from its source topics and gave to the topology (Kafka Streams' "
     "process-total)."},
    {"rill_records_skipped_total",
     "Records skipped, by cause: a handler's (deserialization, processing, production: continue "
     "or a dead letter queue), or dropped by an operator (a null key or value it cannot take); "
     "Kafka Streams' dropped-records-total."},
    {"rill_late_records_dropped_total",
     "Records a windowed operation dropped because their window had closed (past its grace)."},
    {"rill_dead_letters_total", "Records sent to the dead letter queue."},
    {"rill_duplicates_dropped_total",
     "Records a dedupe dropped: their id was seen within its TTL."},
    {"rill_records_retried_total", "Records sent to a retry topic or retried in place."},
    {"rill_punctuations_total", "Punctuator calls."},
    {"rill_changelog_writes_total", "Records written to the tasks' store changelogs."},
    {"rill_record_cache_hits_total", "Store reads the record cache answered."},
    {"rill_record_cache_misses_total",
     "Store reads of a cached store that the record cache could not answer (they went to the "
     "store): the hit ratio is hits / (hits + misses), Kafka Streams' hit-ratio."},
    {"rill_record_cache_flushed_total", "Entries the record cache wrote through to its store."},
};

typedef struct {
    prom_t *p;
    const char *app_id, *thread;
    int counter;
    const char *client; /* the broker families' client label: "consumer" or "producer" */
} scrape_t;

static void task_info(void *ud, const tm_task_view_t *task)
{
    scrape_t *s = ud;
    const char *labels[] = {"application_id", s->app_id, "thread",    s->thread, "task",
                            task->id,         "state",   task->state, NULL};
    rill__prom_sample(s->p, "rill_task_info", labels, 1);
}

/* The causes of skipped records, as the cells of rill__tm_scrape's skipped_by. */
const char *const rill__skip_causes[RILL_SKIP_CAUSES] = {
    [RILL_ERROR_DESERIALIZATION] = "deserialization",
    [RILL_ERROR_PROCESSING] = "processing",
    [RILL_ERROR_PRODUCTION] = "production",
    [RILL_SKIP_DROPPED] = "dropped",
};

static void task_counter(void *ud, const tm_task_view_t *task)
{
    scrape_t *s = ud;
    const char *name = task_families[s->counter].name;
    if (s->counter != RILL__COUNTER_skipped) {
        const char *labels[] = {"application_id", s->app_id, "thread", s->thread,
                                "task",           task->id,  NULL};
        rill__prom_sample_u64(s->p, name, labels, cell_get(&task->counters[s->counter]));
        return;
    }
    for (int c = 0; c < RILL_SKIP_CAUSES; c++) { /* a series per cause: they add up */
        const char *labels[] = {
            "application_id",     s->app_id, "thread", s->thread, "task", task->id, "cause",
            rill__skip_causes[c], NULL};
        rill__prom_sample_u64(s->p, name, labels, cell_get(&task->skipped_by[c]));
    }
}

static void lag_sample(void *ud, const char *topic, int32_t partition, int64_t lag)
{
    scrape_t *s = ud;
    char part[16];
    snprintf(part, sizeof part, "%d", partition);
    const char *labels[] = {"application_id", s->app_id, "thread", s->thread, "topic", topic,
                            "partition",      part,      NULL};
    rill__prom_sample_u64(s->p, "rill_consumer_lag", labels, (uint64_t)lag);
}

/* The store-level families, one pass each (s->counter picks one): records restored, what the
 * restore lacks, the operations' latencies (DEBUG). */
enum { STORE_RESTORED, STORE_REMAINING, STORE_OPS };
static const char *const store_ops[RILL_STORE_OP_COUNT] = {
#define RILL__STORE_OP_NAME(id, name) name,
    RILL_STORE_OPS(RILL__STORE_OP_NAME)
#undef RILL__STORE_OP_NAME
};

static void store_sample(void *ud, const tm_task_view_t *task)
{
    scrape_t *s = ud;
    for (size_t i = 0; i < rill__task_store_count(task->task); i++) {
        rill__store_metrics_t m;
        rill__task_store_metrics(task->task, i, &m);
        const char *labels[] = {"application_id", s->app_id, "thread", s->thread, "task", task->id,
                                "store",          m.name,    NULL,     NULL,      NULL};
        if (m.global && s->counter != STORE_OPS)
            continue; /* the global thread restores global stores, not the task */
        if (s->counter == STORE_RESTORED) {
            rill__prom_sample_u64(s->p, "rill_store_records_restored_total", labels,
                                  cell_get(m.restored));
            continue;
        }
        if (s->counter == STORE_REMAINING) {
            rill__prom_sample_u64(s->p, "rill_store_restore_remaining_records", labels,
                                  cell_get(m.restore_remaining));
            continue;
        }
        labels[8] = "op";
        for (int op = 0; op < RILL_STORE_OP_COUNT; op++)
            if (hist_count(&m.ops[op])) { /* a store that never ranges shows no range series */
                labels[9] = store_ops[op];
                rill__prom_histogram(s->p, "rill_store_latency_seconds", labels, &m.ops[op]);
            }
    }
}

static void node_sample(void *ud, const tm_task_view_t *task)
{
    scrape_t *s = ud;
    for (size_t i = 0; i < rill__task_node_count(task->task); i++) {
        const cell_t *processed;
        const char *node = rill__task_node_metrics(task->task, i, &processed);
        const char *labels[] = {"application_id", s->app_id, "thread", s->thread, "task",
                                task->id,         "node",    node,     NULL};
        rill__prom_sample_u64(s->p, "rill_node_records_processed_total", labels,
                              cell_get(processed));
    }
}

/* The broker families, one pass each (s->counter picks the field). */
static void broker_sample(void *ud, const kafka_broker_stats_t *b)
{
    scrape_t *s = ud;
    const char *labels[] = {"application_id", s->app_id, "thread", s->thread, "client",
                            s->client,        "broker",  b->name,  NULL};
    switch (s->counter) {
    case 0:
        rill__prom_sample(s->p, "rill_broker_rtt_seconds", labels, (double)b->rtt_avg_us / 1e6);
        break;
    case 1:
        rill__prom_sample(s->p, "rill_broker_rtt_p99_seconds", labels, (double)b->rtt_p99_us / 1e6);
        break;
    case 2:
        rill__prom_sample_u64(s->p, "rill_broker_requests_total", labels, (uint64_t)b->requests);
        break;
    case 3:
        rill__prom_sample_u64(s->p, "rill_broker_request_errors_total", labels,
                              (uint64_t)(b->request_errors + b->response_errors));
        break;
    default:
        rill__prom_sample_u64(s->p, "rill_broker_request_timeouts_total", labels,
                              (uint64_t)b->request_timeouts);
    }
}

static const struct {
    const char *name, *type, *help;
} broker_families[] = {
    {"rill_broker_rtt_seconds", "gauge",
     "The average round-trip time of a client's requests to a broker over the last statistics "
     "interval (librdkafka's rtt.avg); client is the thread's consumer or producer."},
    {"rill_broker_rtt_p99_seconds", "gauge", "Its 99th percentile (rtt.p99)."},
    {"rill_broker_requests_total", "counter", "Requests the client sent the broker."},
    {"rill_broker_request_errors_total", "counter",
     "The client's requests that failed to be sent, and responses that failed to be read."},
    {"rill_broker_request_timeouts_total", "counter", "The client's requests that timed out."},
};

/* A histogram family of each thread; which picks the view's field. */
static void thread_histograms(prom_t *p, const char *app_id, thread_view_t *v, int n,
                              const char *name, const char *help, size_t offset)
{
    rill__prom_family(p, name, "histogram", help);
    for (int i = 0; i < n; i++) {
        const hist_t *h = *(const hist_t *const *)((const char *)&v[i] + offset);
        const char *labels[] = {"application_id", app_id, "thread", v[i].name, NULL};
        if (h)
            rill__prom_histogram(p, name, labels, h);
    }
}

int rill__app_scrape(rill_app_t *app, rill_bytes_t *out)
{
    prom_t p;
    rill__prom_init(&p, out);
    const char *app_id = app->env.application_id;
    rill_state_t state;
    size_t rocksdb_bytes;
    thread_view_t views[RILL__SCRAPE_THREADS];
    int n = rill__app_views_begin(app, views, &state, &rocksdb_bytes);

    const char *info[] = {"application_id", app_id, "version", rill_version(), NULL};
    rill__prom_family(&p, "rill_app_info", "gauge",
                      "The app: its application.id and Rill's version.");
    rill__prom_sample(&p, "rill_app_info", info, 1);
    rill__prom_family(
        &p, "rill_app_state", "gauge",
        "1 for the app's state (Kafka Streams' states: CREATED, REBALANCING, RUNNING, "
        "PENDING_SHUTDOWN, NOT_RUNNING, ERROR), 0 for the others.");
    for (rill_state_t st = RILL_STATE_CREATED; st <= RILL_STATE_ERROR; st++) {
        const char *labels[] = {"application_id", app_id, "state", rill_state_name(st), NULL};
        rill__prom_sample(&p, "rill_app_state", labels, st == state);
    }
    rill__prom_family(&p, "rill_stream_threads", "gauge",
                      "Stream threads alive: started, and not exited (failed or closed); Kafka "
                      "Streams' alive-stream-threads.");
    const char *app_labels[] = {"application_id", app_id, NULL};
    int alive = 0;
    for (int i = 0; i < n; i++)
        alive += views[i].alive;
    rill__prom_sample(&p, "rill_stream_threads", app_labels, alive);
    rill__prom_family(&p, "rill_thread_running", "gauge",
                      "1 when the thread has its assignment, every task restored, and processes.");
    for (int i = 0; i < n; i++) {
        const char *labels[] = {"application_id", app_id, "thread", views[i].name, NULL};
        rill__prom_sample(&p, "rill_thread_running", labels, views[i].running);
    }

    /* Thread counters, from the thread's own cells. */
    static const struct {
        const char *name, *help;
        int metric;
    } thread_counters[] = {
        {"rill_records_produced_total", "Output records the brokers acknowledged.",
         RILL__METRIC_PRODUCED},
        {"rill_commits_total", "Commits (offsets, or transactions under exactly_once_v2).",
         RILL__METRIC_COMMITS},
        {"rill_rebalances_total", "Rebalance events (assignments and revocations).",
         RILL__METRIC_REBALANCES},
        {"rill_records_restored_total", "Changelog records restored into stores.",
         RILL__METRIC_RESTORED},
    };
    for (size_t f = 0; f < sizeof thread_counters / sizeof thread_counters[0]; f++) {
        rill__prom_family(&p, thread_counters[f].name, "counter", thread_counters[f].help);
        for (int i = 0; i < n; i++) {
            const char *labels[] = {"application_id", app_id, "thread", views[i].name, NULL};
            rill__prom_sample_u64(
                &p, thread_counters[f].name, labels,
                (uint64_t)rill__thread_metric(views[i].thread, thread_counters[f].metric));
        }
    }
    rill__prom_family(
        &p, "rill_restore_remaining_records", "gauge",
        "Changelog records the thread's restores still lack (each changelog's end when its "
        "restore began, minus its position).");
    for (int i = 0; i < n; i++) {
        const char *labels[] = {"application_id", app_id, "thread", views[i].name, NULL};
        rill__prom_sample_u64(&p, "rill_restore_remaining_records", labels,
                              (uint64_t)views[i].restore_remaining);
    }
    rill__prom_family(&p, "rill_tasks", "gauge", "Tasks the thread has up (restored).");
    for (int i = 0; i < n; i++) {
        const char *labels[] = {"application_id", app_id, "thread", views[i].name, NULL};
        rill__prom_sample_u64(&p, "rill_tasks", labels,
                              (uint64_t)rill__thread_metric(views[i].thread, RILL__METRIC_TASKS));
    }
    static const struct {
        const char *name, *help;
        size_t offset; /* of the cell pointer in thread_view_t */
    } thread_cells[] = {
        {"rill_transactions_committed_total", "Transactions committed (exactly_once_v2).",
         offsetof(thread_view_t, txn_commits)},
        {"rill_transactions_aborted_total",
         "Transactions aborted and rewound (exactly_once_v2): a delivery that failed, a fenced "
         "producer, a commit that did not go through.",
         offsetof(thread_view_t, txn_aborts)},
    };
    for (size_t f = 0; f < sizeof thread_cells / sizeof thread_cells[0]; f++) {
        rill__prom_family(&p, thread_cells[f].name, "counter", thread_cells[f].help);
        for (int i = 0; i < n; i++) {
            const cell_t *c =
                *(const cell_t *const *)((const char *)&views[i] + thread_cells[f].offset);
            const char *labels[] = {"application_id", app_id, "thread", views[i].name, NULL};
            rill__prom_sample_u64(&p, thread_cells[f].name, labels, cell_get(c));
        }
    }
    thread_histograms(&p, app_id, views, n, "rill_process_latency_seconds",
                      "Time to process a record, from its source to the last node it reached (each "
                      "batch's time over its records).",
                      offsetof(thread_view_t, process));
    thread_histograms(&p, app_id, views, n, "rill_record_e2e_latency_seconds",
                      "End-to-end latency of output records (KIP-613): the wall clock when the "
                      "record reached a sink minus its timestamp.",
                      offsetof(thread_view_t, e2e));
    thread_histograms(&p, app_id, views, n, "rill_commit_latency_seconds",
                      "Time a commit took (flush, offsets or the transaction's commit).",
                      offsetof(thread_view_t, commit));
    thread_histograms(&p, app_id, views, n, "rill_rebalance_latency_seconds",
                      "Time from a revocation (or joining the group) to the end of the next "
                      "assignment.",
                      offsetof(thread_view_t, rebalance));

    /* Tasks. */
    rill__prom_family(&p, "rill_task_info", "gauge",
                      "1 for each task a thread has, with its state.");
    scrape_t s = {&p, app_id, NULL, 0, NULL};
    for (int i = 0; i < n; i++) {
        s.thread = views[i].name;
        if (views[i].tm)
            rill__tm_scrape(views[i].tm, task_info, &s);
    }
    for (int c = 0; c < RILL__TASK_COUNTERS; c++) {
        rill__prom_family(&p, task_families[c].name, "counter", task_families[c].help);
        s.counter = c;
        for (int i = 0; i < n; i++) {
            s.thread = views[i].name;
            if (views[i].tm)
                rill__tm_scrape(views[i].tm, task_counter, &s);
            /* The thread's own share: outputs dropped from delivery reports (no task's). */
            const char *labels[] = {"application_id", app_id,       "thread", views[i].name,
                                    "cause",          "production", NULL};
            if (c == RILL__COUNTER_skipped)
                rill__prom_sample_u64(&p, task_families[c].name, labels,
                                      (uint64_t)views[i].delivery_skipped);
            if (c == RILL__COUNTER_dead_letters) {
                labels[4] = NULL;
                rill__prom_sample_u64(&p, task_families[c].name, labels,
                                      (uint64_t)views[i].delivery_dead);
            }
        }
    }

    /* State stores and processor nodes. */
    static const struct {
        const char *name, *type, *help;
    } store_families[] = {
        [STORE_RESTORED] = {"rill_store_records_restored_total", "counter",
                            "Changelog records restored into the store (this task's)."},
        [STORE_REMAINING] = {"rill_store_restore_remaining_records", "gauge",
                             "Changelog records the store's restore still lacks (0: restored; "
                             "Kafka Streams' restore-remaining-records-total)."},
        [STORE_OPS] = {"rill_store_latency_seconds", "histogram",
                       "Time of the store's operations by op: get, put, delete, range (making "
                       "the iterator) and flush (the record cache written through); the "
                       "count is their number. metrics.recording.level DEBUG only."},
    };
    bool debug = strcmp(RILL_CONF_STR(app->conf, METRICS_RECORDING_LEVEL), "INFO") != 0;
    for (int f = STORE_RESTORED; f <= (debug ? STORE_OPS : STORE_REMAINING); f++) {
        rill__prom_family(&p, store_families[f].name, store_families[f].type,
                          store_families[f].help);
        s.counter = f;
        for (int i = 0; i < n; i++) {
            s.thread = views[i].name;
            if (views[i].tm)
                rill__tm_scrape(views[i].tm, store_sample, &s);
        }
    }
    if (debug) {
        rill__prom_family(&p, "rill_node_records_processed_total", "counter",
                          "Records the processor node processed (Kafka Streams' node-level "
                          "process-total). metrics.recording.level DEBUG only.");
        for (int i = 0; i < n; i++) {
            s.thread = views[i].name;
            if (views[i].tm)
                rill__tm_scrape(views[i].tm, node_sample, &s);
        }
    }

    /* The consumers' statistics. */
    rill__prom_family(&p, "rill_consumer_lag", "gauge",
                      "Records between the consumer's position and the end of the partition (from "
                      "librdkafka's statistics, every statistics.interval.ms).");
    for (int i = 0; i < n; i++) {
        s.thread = views[i].name;
        rill__kstats_each(views[i].stats, lag_sample, NULL, &s);
    }
    for (size_t f = 0; f < sizeof broker_families / sizeof broker_families[0]; f++) {
        rill__prom_family(&p, broker_families[f].name, broker_families[f].type,
                          broker_families[f].help);
        s.counter = (int)f;
        for (int i = 0; i < n; i++) {
            s.thread = views[i].name;
            s.client = "consumer";
            rill__kstats_each(views[i].stats, NULL, broker_sample, &s);
            s.client = "producer";
            rill__kstats_each(views[i].pstats, NULL, broker_sample, &s);
        }
    }
    static const char *const queue_families[][2] = {
        {"rill_producer_queue_messages",
         "Output records in the thread's producer waiting to be sent or acknowledged "
         "(librdkafka's msg_cnt, every statistics.interval.ms)."},
        {"rill_producer_queue_bytes", "Their bytes (msg_size)."},
    };
    int64_t queue[RILL__SCRAPE_THREADS][2]; /* one document's pair per thread */
    bool known[RILL__SCRAPE_THREADS];
    for (int i = 0; i < n; i++)
        known[i] = rill__kstats_queue(views[i].pstats, &queue[i][0], &queue[i][1]);
    for (int f = 0; f < 2; f++) {
        rill__prom_family(&p, queue_families[f][0], "gauge", queue_families[f][1]);
        for (int i = 0; i < n; i++) {
            const char *labels[] = {"application_id", app_id, "thread", views[i].name, NULL};
            if (known[i])
                rill__prom_sample_u64(&p, queue_families[f][0], labels, (uint64_t)queue[i][f]);
        }
    }

    /* State stores' memory. */
    rill__prom_family(&p, "rill_rocksdb_memory_bytes", "gauge",
                      "Bytes the app's RocksDB block cache and memtables hold.");
    rill__prom_sample_u64(&p, "rill_rocksdb_memory_bytes", app_labels, rocksdb_bytes);
    rill__prom_family(&p, "rill_rocksdb_memory_bound_bytes", "gauge",
                      "The bound on it (rocksdb.memory.max.bytes).");
    rill__prom_sample_u64(&p, "rill_rocksdb_memory_bound_bytes", app_labels,
                          (uint64_t)RILL_CONF_INT(app->conf, ROCKSDB_MEMORY_MAX_BYTES));
    rill__app_views_end(app);
    return rill__prom_finish(&p);
}

int rill__app_views_begin(rill_app_t *app, thread_view_t *views, rill_state_t *state,
                          size_t *rocksdb_bytes)
{
    pthread_rwlock_rdlock(&app->query_lock);
    pthread_mutex_lock(&app->lock);
    *state = app->state;
    /* The store env is published under the app's lock. */
    if (rocksdb_bytes)
        *rocksdb_bytes = app->store_env ? rill_store_env_usage(app->store_env) : 0;
    int n = 0;
    for (int i = 0; i < app->nthreads && n < RILL__SCRAPE_THREADS; i++)
        if (app->threads && app->threads[i]) {
            rill__thread_view(app->threads[i], &views[n]);
            views[n++].thread = app->threads[i];
        }
    pthread_mutex_unlock(&app->lock);
    return n;
}

void rill__app_views_end(rill_app_t *app)
{
    pthread_rwlock_unlock(&app->query_lock);
}

bool rill__app_ready(rill_app_t *app)
{
    return rill_app_state(app) == RILL_STATE_RUNNING;
}

char *rill_app_metrics_text(rill_app_t *app)
{
    if (!app)
        return NULL;
    rill_bytes_t out = {0};
    if (rill__app_scrape(app, &out) || rill_bytes_append(&out, "", 1)) {
        rill_bytes_free(&out);
        return NULL;
    }
    return (char *)out.data;
}
