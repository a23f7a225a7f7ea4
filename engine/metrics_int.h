/*
 * What the metrics scrape (metrics_scrape.c) reads of a stream thread, and the HTTP server
 * that serves it (metrics_server.c). Private to engine/.
 */
#ifndef RILL_ENGINE_METRICS_INT_H
#define RILL_ENGINE_METRICS_INT_H

#include "engine_int.h"
#include "kafka_stats.h"
#include "base/metric_cells.h"
#include "task_manager.h"

/* A stream thread's metrics, borrowed from it (valid while the app's query lock is held). */
typedef struct {
    const char *name;
    bool running;
    bool alive; /* its loop runs (it has not exited, failed or closed) */
    const hist_t *process, *commit, *rebalance, *e2e;
    const cell_t *txn_commits, *txn_aborts;
    const task_manager_t *tm;
    kafka_stats_t *stats;      /* the consumer's statistics; NULL: none */
    kafka_stats_t *pstats;     /* the producer's; NULL: none */
    int64_t restore_remaining; /* records the thread's restores still lack */
    /* Outputs the production handler dropped from delivery reports (not any task's), and those
     * of them sent to the dead letter queue. */
    int64_t delivery_skipped, delivery_dead;
    stream_thread_t *thread;
} thread_view_t;

/* The causes of skipped records (the label cause), by the index of tm_task_view_t.skipped_by. */
extern const char *const rill__skip_causes[RILL_SKIP_CAUSES];

/* Fills *v with thread t's metrics. @thread any */
void rill__thread_view(stream_thread_t *t, thread_view_t *v);

/* The most stream threads a scrape reads. */
#define RILL__SCRAPE_THREADS 256
/* Takes the app's query lock (read: threads and task tables keep still) and fills views with
 * the app's threads (at most RILL__SCRAPE_THREADS), *state with its state and *rocksdb_bytes
 * (unless NULL) with its RocksDB memory in use; returns how many threads. Release with
 * rill__app_views_end(). @thread any */
int rill__app_views_begin(rill_app_t *app, thread_view_t *views, rill_state_t *state,
                          size_t *rocksdb_bytes);
/* Releases what rill__app_views_begin() took. */
void rill__app_views_end(rill_app_t *app);

/* Appends the app's status as JSON (status_json.c: state, threads, tasks with their partitions,
 * lag, counters; what /status.json serves) to out: 0 or RILL_ENOMEM. @thread any */
int rill__app_status_json(rill_app_t *app, rill_bytes_t *out);

/* Appends the app's metrics in Prometheus' text format to out: 0 or RILL_ENOMEM. @thread any */
int rill__app_scrape(rill_app_t *app, rill_bytes_t *out);
/* Whether the app is ready (RUNNING: every task restored and processing). @thread any */
bool rill__app_ready(rill_app_t *app);

/* Appends the status page (status_page.c: the HTML, the topology drawn as SVG, the script that
 * fetches /status.json) to out: 0 or RILL_ENOMEM. Slow (Graphviz lays the graph out): build it
 * once and keep it. @thread any */
int rill__status_page_build(rill_app_t *app, rill_bytes_t *out);

typedef struct metrics_server metrics_server_t;
/* Starts serving app's metrics on listen ("host:port"; port 0: any free one) on a thread of its
 * own; NULL with the reason in errstr. */
metrics_server_t *rill__metrics_server_start(rill_app_t *app, const char *listen, char *errstr,
                                             size_t errstr_size);
/* Returns the server's URL ("http://127.0.0.1:9464"), borrowed. */
const char *rill__metrics_server_url(const metrics_server_t *s);
/* Stops the server (requests under way are finished) and frees it; NULL is fine. */
void rill__metrics_server_stop(metrics_server_t *s);

#endif
