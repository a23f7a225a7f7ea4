/*
 * The stream thread's own struct, shared by the two files that are the thread: stream_thread.c
 * (the loop and its phases, processing, rebalances, lifecycle) and commit.c (the commit
 * sequence). The modules it drives (collector, producer, changelog reader, task manager) each
 * keep their own struct behind their header. Private to engine/.
 */
#ifndef RILL_ENGINE_STREAM_THREAD_INT_H
#define RILL_ENGINE_STREAM_THREAD_INT_H

#include "changelog_reader.h"
#include "collector.h"
#include "kafka_stats.h"
#include "base/metric_cells.h"
#include "stream_producer.h"
#include "task_manager.h"

#include <uv.h>

struct stream_thread {
    thread_ctx_t ctx;
    char name[64];
    uv_thread_t tid;
    bool tid_valid;
    uv_loop_t loop;
    uv_poll_t poll;
    uv_timer_t commit_timer, punct_timer, keepalive_timer, step_timer;
    uv_timer_t idle_timer; /* a task waits out max.task.idle.ms for an empty partition */
    uv_idle_t more;        /* keeps serving while librdkafka's queues are not empty */
    uv_async_t stop_async;
    int pipefd[2];
    rd_kafka_t *consumer;
    rd_kafka_queue_t *cq;
    stream_producer_t *producer;
    collector_t *collector;
    changelog_reader_t *reader;
    task_manager_t *tm;
    rill_task_env_t env; /* the context's, with the collector */
    rd_kafka_message_t **batch;
    size_t batch_size;
    rill_header_t *hdrs; /* scratch for the headers of the record being processed */
    size_t hdrs_cap;
    /* The headers of the message being processed, parsed only if something reads them. */
    struct lazy_headers {
        rill_headers_t headers; /* first: a rill_headers_t * is a struct lazy_headers * */
        struct stream_thread *thread;
        rd_kafka_message_t *msg;
    } lazy;
    /* Timestamp order across a task's partitions (partition_group.h). */
    int64_t max_task_idle_ms;
    uint32_t max_buffered;    /* buffered.records.per.partition */
    size_t drain_from;        /* the slot the next drain starts at (tasks take turns) */
    bool assigned;            /* the group gave this thread its partitions (maybe none) */
    size_t subscribed_topics; /* topics subscribed by name (not by pattern) */
    bool dirty;               /* processed records since the last commit */
    bool rewound;       /* the current batch is stale: an aborted transaction rewound the tasks */
    int64_t last_purge; /* when repartition topics were last purged (monotonic ms) */
    bool stopping, failed;
    int sync_results;  /* synchronous commits counted whose callback is still to come */
    atomic_bool alive; /* the thread runs (its loop started, and it has not exited) */
    atomic_bool running;
    atomic_bool stop_requested;
    pthread_mutex_t stop_lock; /* orders stop requests against closing stop_async */
    int64_t close_deadline;    /* monotonic ms the close must end by */
    bool loop_done;
    bool joined;
    /* The tasks' counters as the loop last summed them (each turn), for other threads. */
    atomic_int_fast64_t m_task[RILL__TASK_COUNTERS];
    atomic_int_fast64_t m_commits, m_rebalances, m_tasks;
    /* What the metrics scrape reads besides (metrics_scrape.c), written by this thread only:
     * the processing latency of a record (each batch's time over its records), the commits'
     * latency, the rebalances' (from the revocation, or the subscription, to the assignment's
     * end), and the transactions' outcomes. */
    hist_t m_process, m_commit, m_rebalance;
    cell_t m_txn_commits, m_txn_aborts;
    int64_t rebalance_from_ns; /* 0: no rebalance under way */
    kafka_stats_t *stats;      /* the consumer's statistics (lag, brokers), or NULL */
    kafka_stats_t *pstats;     /* the producer's (its queue, brokers), or NULL */
};

/* Batches of records served per loop turn before timers and the stop request get their turn. */
#define BATCHES_PER_TURN 8

/* The record phases of a turn (processing.c). Up to BATCHES_PER_TURN batches of the consumer's
 * queue; returns whether more may wait. */
bool rill__thread_process_batches(stream_thread_t *t);
/* The tasks fed by several partitions, each in timestamp order across them, until each must wait
 * (see partition_group.h) or the turn's budget is spent. Returns whether records may be left;
 * *idle_wait_ms is how long until a task's max.task.idle.ms wait ends (-1: none). */
bool rill__thread_drain(stream_thread_t *t, int64_t *idle_wait_ms);
/* Fails the thread (once): the app hears why, and the thread stops processing. */
void rill__thread_fail(stream_thread_t *t, int err, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* The commit sequence (commit.c): flushes the tasks' caches, then makes every output durable
 * and commits the processed offsets: at-least-once, or one transaction under exactly-once.
 * sync waits for the offset commit. 0 or a code (the thread has failed, or rewound). */
int rill__thread_commit(stream_thread_t *t, bool sync);
/* Writes task's checkpoint (at-least-once) when enough changelog records were written since
 * the last, or when force. */
void rill__thread_checkpoint(stream_thread_t *t, rill_task_t *task, int32_t partition, bool force);
/* Returns, in a new array (at least one slot; NULL when out of memory), the offset after the last
 * record of each of task's changelogs that its stores hold: what this thread wrote
 * (acknowledged), or where the stores restored or checkpointed to. */
int64_t *rill__thread_changelog_ends(stream_thread_t *t, rill_task_t *task, int32_t partition);
/* After an aborted transaction or a renewed producer: back to the last commit. */
int rill__thread_rewind(stream_thread_t *t);

#endif
