/*
 * What a stream thread is given by the app that starts it: an immutable context (read-only for
 * the thread's whole life, so it needs no lock) and a table of callbacks for what the thread
 * tells the app. No module of the thread reads the app's struct. Private to engine/.
 */
#ifndef RILL_ENGINE_THREAD_CTX_H
#define RILL_ENGINE_THREAD_CTX_H

#include "engine_int.h"

/* What a stream thread tells its app. Each may be called from the thread's own OS thread. */
typedef struct {
    void *ud;
    /* The thread's running flag changed (it has, or lost, its assignment). */
    void (*running_changed)(void *ud);
    /* The thread failed; message names the thread and says why. */
    void (*failed)(void *ud, int err, const char *message);
    /* A closing thread made its final commit: waits until every thread has (the close
     * barrier, see ARCHITECTURE.md "Shutdown"), bounded by the deadline (monotonic ms). */
    void (*committed)(void *ud, int64_t deadline_ms);
    /* Returns the partition count the app knows for topic, or -1. */
    int32_t (*partitions)(void *ud, const char *topic);
    /* The thread's loop has ended (it may be joined without waiting). */
    void (*exited)(void *ud);
    /* Returns the max.message.bytes of sink topic as the cluster said, or 0 when unknown. */
    int64_t (*max_bytes)(void *ud, const char *topic);
} thread_events_t;

/* The immutable context of one stream thread. Everything it points to outlives the thread. */
typedef struct {
    int index;             /* 0-based; the thread is "<application.id>-StreamThread-<index+1>" */
    rill_topology_t *topo; /* built; read-only here */
    const rill_conf_t *conf;
    const char *bootstrap;
    bool embedded; /* the in-process mock cluster: see ARCHITECTURE.md "The embedded cluster" */
    bool eos;      /* processing.guarantee=exactly_once_v2 */
    const char *process_id;       /* names the transactional producers */
    rill_task_env_t env;          /* the configuration's part; the thread adds its collector */
    pthread_rwlock_t *query_lock; /* held for writing while a task is added or closed */
    rill_restore_listener_t restore_listener;
    const char *const
        *topics; /* the topics the app knows by name: sources among them are subscribed */
    size_t ntopics;
    thread_events_t events;
} thread_ctx_t;

/* Returns a new stream thread (not started) for ctx (copied), or NULL with errstr. */
stream_thread_t *rill__thread_new(const thread_ctx_t *ctx, char *errstr, size_t errstr_size);

/* Latencies are measured with hist_now_ns() (base/metric_cells.h). Every timeout and interval of
 * the engine runs on rill_monotonic_ms(); wall-clock time (rill_wall_clock_ms()) is only for
 * records and wall-clock punctuation. */

#endif
