/*
 * What the metrics scrape (metrics_scrape.c) reads of a stream thread, and the HTTP server
 * that serves it (metrics_server.c). Private to engine/.
 */
#ifndef RILL_ENGINE_METRICS_INT_H
#define RILL_ENGINE_METRICS_INT_H

#include "engine_int.h"
#include "kafka_stats.h"
#include "metric_cells.h"
#include "task_manager.h"

/* A stream thread's metrics, borrowed from it (valid while the app's query lock is held). */
typedef struct {
    const char *name;
    bool running;
    const hist_t *process, *commit, *rebalance, *e2e;
    const cell_t *txn_commits, *txn_aborts;
    const task_manager_t *tm;
    kafka_stats_t *stats;      /* NULL: no statistics */
    int64_t restore_remaining; /* records the thread's restores still lack */
    /* Outputs the production handler dropped from delivery reports (not any task's), and those
     * of them sent to the dead letter queue. */
    int64_t delivery_skipped, delivery_dead;
} thread_view_t;

/* Fills *v with thread t's metrics. @thread any */
void rill__thread_view(stream_thread_t *t, thread_view_t *v);

/* Appends the app's metrics in Prometheus' text format to out: 0 or RILL_ENOMEM. @thread any */
int rill__app_scrape(rill_app_t *app, rill_bytes_t *out);
/* Whether the app is ready (RUNNING: every task restored and processing). @thread any */
bool rill__app_ready(rill_app_t *app);

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
