/*
 * A stream thread: one libuv loop, one consumer (group = application.id), one producer, and the
 * tasks of the partitions the group gives it. librdkafka's queues (consumer, producer, restore
 * consumer) wake the loop through a pipe (rd_kafka_queue_io_event_enable) watched by uv_poll,
 * so an idle thread sleeps in epoll and nothing here polls on a timer. Everything (processing,
 * rebalance callbacks, delivery reports, restoration, commits, punctuation) runs on the loop's
 * thread.
 *
 * One turn of the loop (serve) reads as its phases: delivery reports, a step of restoration,
 * up to 8 batches of records, then punctuation is re-armed; commits run on their timer. Long
 * work is stepped: a restore takes one batch a turn, a task whose stores another thread still
 * holds is retried on a timer, so no callback waits.
 *
 * The jobs live in their own files: the record collector (collector.c), the producer and its
 * transactions (stream_producer.c), restoration (changelog_reader.c), the partition -> task
 * table (task_manager.c), the commit sequence (commit.c), the clients' settings (clients.c), the
 * record phases of a turn (processing.c).
 */
#include "metrics_int.h"
#include "stream_thread_int.h"

#include "clients.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/* While a task waits for its stores or a restore runs: how often the loop looks again (for
 * stalls, lock retries and progress), whatever else wakes it. */
#define STEP_INTERVAL_MS 100

void rill__thread_fail(stream_thread_t *t, int err, const char *fmt, ...)
{
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    if (t->failed)
        return;
    t->failed = true;
    char full[1100];
    snprintf(full, sizeof full, "%s: %s", t->name, msg);
    t->ctx.events.failed(t->ctx.events.ud, err, full);
}

/* The thread runs when it has its assignment and every task of it is restored. */
static void update_running(stream_thread_t *t)
{
    bool running = t->assigned && !t->stopping && !t->failed && rill__tm_all_running(t->tm);
    if (atomic_exchange(&t->running, running) != running)
        t->ctx.events.running_changed(t->ctx.events.ud);
}

/* ---- callbacks of the modules ---- */

static int begin_txn(void *ud)
{
    stream_thread_t *t = ud;
    char why[512];
    int rc = rill__producer_begin(t->producer, why, sizeof why);
    if (rc)
        rill__thread_fail(t, rc, "%s", why);
    return rc;
}

static void producer_replacing(void *ud)
{
    stream_thread_t *t = ud;
    rill__collector_bind(t->collector, NULL);
}

static void producer_replaced(void *ud, rd_kafka_t *producer)
{
    stream_thread_t *t = ud;
    rill__collector_bind(t->collector, producer);
}

static void dr_msg_cb(rd_kafka_t *rk, const rd_kafka_message_t *msg, void *opaque)
{
    stream_thread_t *t = opaque;
    rill__collector_delivered(t->collector, rk, msg);
}

static void task_closing(void *ud, rill_task_t *task, int32_t partition)
{
    rill__thread_checkpoint(ud, task, partition, true);
}

static int64_t *task_ends(void *ud, rill_task_t *task, int32_t partition)
{
    return rill__thread_changelog_ends(ud, task, partition);
}

/* The result of an asynchronous commit (served on the loop thread). A partition whose commit
 * failed is marked uncommitted again, so the next commit (or the one at close) retries it. */
static void offset_commit_cb(rd_kafka_t *rk, rd_kafka_resp_err_t err,
                             rd_kafka_topic_partition_list_t *offsets, void *opaque)
{
    (void)rk;
    stream_thread_t *t = opaque;
    if (!err || err == RD_KAFKA_RESP_ERR__NO_OFFSET) {
        /* librdkafka posts a synchronous commit's result here too (rdkafka_cgrp.c,
         * rd_kafka_cgrp_propagate_commit_result, in 2.0.2 as now): commit_offsets counted it. */
        if (t->sync_results > 0)
            t->sync_results--;
        else
            atomic_fetch_add(&t->m_commits, 1);
        return;
    }
    rill_log(RILL_LOG_WARN, "thread",
             "%s: asynchronous offset commit failed (retried at the next commit): %s", t->name,
             rd_kafka_err2str(err));
    rill__tm_commit_failed(t->tm, offsets);
    t->dirty = true;
}

static void update_metrics(stream_thread_t *t)
{
    rill_task_metrics_t sum;
    size_t tasks;
    rill__tm_metrics(t->tm, &sum, &tasks);
    for (int i = 0; i < RILL__TASK_COUNTERS; i++)
        atomic_store_explicit(&t->m_task[i], (int_fast64_t)rill__task_counter(&sum, i),
                              memory_order_relaxed);
    atomic_store_explicit(&t->m_tasks, (int_fast64_t)tasks, memory_order_relaxed);
    rill__tm_publish(t->tm);
}

/* ---- rebalance ---- */

static void assigned(stream_thread_t *t, rd_kafka_t *rk, rd_kafka_topic_partition_list_t *parts,
                     bool cooperative)
{
    rill_log(RILL_LOG_INFO, "thread", "%s: assigned %d partition(s)", t->name, parts->cnt);
    char why[1024];
    int rc = rill__tm_assign(t->tm, parts, why, sizeof why);
    if (rc)
        rill__thread_fail(t, rc, "cannot take the assigned partitions: %s", why);
    rd_kafka_error_t *error = cooperative ? rd_kafka_incremental_assign(rk, parts) : NULL;
    if (!cooperative && rd_kafka_assign(rk, parts))
        rill__thread_fail(t, RILL_EKAFKA, "cannot assign %d partition(s)", parts->cnt);
    if (error) {
        rill__thread_fail(t, RILL_EKAFKA, "cannot assign: %s", rd_kafka_error_string(error));
        rd_kafka_error_destroy(error);
    }
    /* librdkafka keeps a partition's pause across an unassign and a new assign (librdkafka
     * #1849): one paused before the rebalance (a backoff, a retry not due) would stay paused.
     * Every assigned partition is resumed (a no-op for the others); the processing pauses again
     * what must wait, and partitions whose tasks restore (or wait) are paused until their tasks
     * run. */
    rd_kafka_resume_partitions(rk, parts);
    rill__tm_pause_inactive(t->tm);
    t->assigned = true;
}

static void revoked(stream_thread_t *t, rd_kafka_t *rk, rd_kafka_topic_partition_list_t *parts,
                    bool cooperative)
{
    bool lost = rd_kafka_assignment_lost(rk);
    rill_log(RILL_LOG_INFO, "thread", "%s: %d partition(s) %s", t->name, parts->cnt,
             lost ? "lost (the group moved on without this member)" : "revoked");
    t->assigned = false;
    update_running(t);
    if (!lost) {
        /* Commit what was processed while the partitions are still ours. */
        rill__thread_commit(t, true);
    } else if (t->ctx.eos && rill__producer_in_txn(t->producer)) {
        /* They are someone else's already: a commit would be refused. What this thread did
         * since its last commit is dropped (the transaction, the stores' pending writes with
         * the tasks) and done again by the new owner. */
        char why[1024];
        if (rill__producer_abort(t->producer, "the partitions were lost", why, sizeof why) ==
            TXN_FAILED)
            rill__thread_fail(t, RILL_EKAFKA, "cannot abort the transaction of lost partitions: %s",
                              why);
        t->dirty = false;
        rill__collector_clear_error(t->collector);
    }
    /* An eager rebalance gives most partitions back at once: their tasks wait, suspended. */
    rill__tm_revoke(t->tm, cooperative ? parts : NULL, !lost && !cooperative && !t->stopping);
    rd_kafka_error_t *error = cooperative ? rd_kafka_incremental_unassign(rk, parts) : NULL;
    if (!cooperative)
        rd_kafka_assign(rk, NULL);
    if (error) {
        rill_log(RILL_LOG_WARN, "thread", "%s: cannot unassign: %s", t->name,
                 rd_kafka_error_string(error));
        rd_kafka_error_destroy(error);
    }
}

/* The consumer's and the producer's statistics, every statistics.interval.ms (metrics.listen
 * set); each client's own callback is served on this thread. */
static int stats_cb(rd_kafka_t *rk, char *json, size_t len, void *opaque)
{
    (void)rk;
    stream_thread_t *t = opaque;
    rill__kstats_take(t->stats, json, len);
    return 0; /* librdkafka frees json */
}

static int producer_stats_cb(rd_kafka_t *rk, char *json, size_t len, void *opaque)
{
    (void)rk;
    stream_thread_t *t = opaque;
    rill__kstats_take(t->pstats, json, len);
    return 0;
}

static void rebalance_cb(rd_kafka_t *rk, rd_kafka_resp_err_t err,
                         rd_kafka_topic_partition_list_t *parts, void *opaque)
{
    stream_thread_t *t = opaque;
    bool cooperative = strcmp(rd_kafka_rebalance_protocol(rk), "COOPERATIVE") == 0;
    atomic_fetch_add(&t->m_rebalances, 1);
    if (!t->rebalance_from_ns)
        t->rebalance_from_ns = hist_now_ns();
    if (err == RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS) {
        assigned(t, rk, parts, cooperative);
        hist_observe(&t->m_rebalance, (uint64_t)(hist_now_ns() - t->rebalance_from_ns));
        t->rebalance_from_ns = 0;
    } else {
        revoked(t, rk, parts, cooperative);
    }
    update_metrics(t); /* the task count is seen as the state changes, not a batch later */
    update_running(t);
}

/* ---- the loop ---- */

/* Phase: a step of restoration, and of tasks waiting for their stores. Returns whether more
 * restore records may wait. */
static bool restore_step(stream_thread_t *t)
{
    char why[1024];
    int rc = 0;
    if (rill__tm_waiting(t->tm))
        rc = rill__tm_step(t->tm, why, sizeof why);
    int n = rc ? rc : rill__reader_step(t->reader, why, sizeof why);
    if (n < 0) {
        rill__thread_fail(t, n, "%s", why);
        return false;
    }
    return n > 0;
}

static void rearm_punctuation(stream_thread_t *t);
static void idle_timer_cb(uv_timer_t *h);
static void more_cb(uv_idle_t *h);
static void step_cb(uv_timer_t *h);

/* One turn: delivery reports, a restore step, records; then timers are re-armed. When a queue
 * may still hold records, the idle handle brings us back on the next loop turn (timers and the
 * stop request get their turn in between). */
static void serve(stream_thread_t *t)
{
    if (t->stopping)
        return;
    rill__producer_poll(t->producer);
    bool more = restore_step(t);
    more = rill__thread_process_batches(t) || more;
    int64_t idle_wait = -1;
    if (!t->stopping && !t->failed)
        more = rill__thread_drain(t, &idle_wait) || more;
    if (idle_wait >= 0)
        uv_timer_start(&t->idle_timer, idle_timer_cb, (uint64_t)idle_wait, 0);
    update_metrics(t);
    update_running(t);
    if (more && !t->stopping)
        uv_idle_start(&t->more, more_cb);
    else
        uv_idle_stop(&t->more);
    bool stepping =
        !t->stopping && !t->failed && (rill__tm_waiting(t->tm) || rill__reader_active(t->reader));
    if (stepping && !uv_is_active((uv_handle_t *)&t->step_timer))
        uv_timer_start(&t->step_timer, step_cb, STEP_INTERVAL_MS, STEP_INTERVAL_MS);
    else if (!stepping)
        uv_timer_stop(&t->step_timer);
    rearm_punctuation(t);
}

static void more_cb(uv_idle_t *h)
{
    serve(h->data);
}

static void step_cb(uv_timer_t *h)
{
    serve(h->data);
}

static void idle_timer_cb(uv_timer_t *h)
{
    serve(h->data);
}

static void poll_cb(uv_poll_t *h, int status, int events)
{
    (void)status;
    (void)events;
    stream_thread_t *t = h->data;
    char buf[256];
    while (read(t->pipefd[0], buf, sizeof buf) > 0)
        ;
    serve(t);
}

/* librdkafka's max.poll.interval.ms clock restarts only when the application consumes, and an
 * idle thread sleeps in epoll without consuming: it would be thrown out of the group. So consume
 * (an empty queue costs nothing) every third of the interval. */
static void keepalive_cb(uv_timer_t *h)
{
    serve(h->data);
}

static void commit_timer_cb(uv_timer_t *h)
{
    stream_thread_t *t = h->data;
    if (!t->stopping && !t->failed)
        rill__thread_commit(t, false);
}

static void punct_timer_cb(uv_timer_t *h)
{
    stream_thread_t *t = h->data;
    int64_t now = rill_wall_clock_ms();         /* wall-clock punctuation runs on wall-clock time */
    rill__collector_set_now(t->collector, now); /* what punctuators send */
    rill__tm_resume_backoffs(t->tm, now);       /* in-place retries whose backoff ended */
    for (size_t i = 0; i < rill__tm_running_count(t->tm) && !t->failed; i++) {
        rill_task_t *task = rill__tm_running(t->tm, i, NULL);
        if (rill__task_punctuate(task, now))
            rill__thread_fail(t, RILL_EPROCESS, "%s", rill__task_error(task));
    }
    rearm_punctuation(t);
}

static void rearm_punctuation(stream_thread_t *t)
{
    /* Retry partitions whose record came due resume here; the next due one arms the timer. */
    int64_t next = t->tm ? rill__tm_resume_backoffs(t->tm, rill_wall_clock_ms()) : INT64_MAX;
    for (size_t i = 0; i < rill__tm_running_count(t->tm); i++) {
        int64_t n = rill__task_next_punctuation(rill__tm_running(t->tm, i, NULL));
        if (n < next)
            next = n;
    }
    if (next == INT64_MAX || t->stopping) {
        uv_timer_stop(&t->punct_timer);
        return;
    }
    int64_t delay = next - rill_wall_clock_ms();
    uv_timer_start(&t->punct_timer, punct_timer_cb, delay > 0 ? (uint64_t)delay : 0, 0);
}

/* ---- lifecycle ---- */

static void close_handle(uv_handle_t *h)
{
    if (!uv_is_closing(h))
        uv_close(h, NULL);
}

static void close_handles(stream_thread_t *t)
{
    close_handle((uv_handle_t *)&t->poll);
    close_handle((uv_handle_t *)&t->commit_timer);
    close_handle((uv_handle_t *)&t->punct_timer);
    close_handle((uv_handle_t *)&t->keepalive_timer);
    close_handle((uv_handle_t *)&t->step_timer);
    close_handle((uv_handle_t *)&t->idle_timer);
    close_handle((uv_handle_t *)&t->more);
}

static void shutdown_thread(stream_thread_t *t)
{
    if (t->stopping)
        return;
    t->stopping = true;
    uv_poll_stop(&t->poll);
    uv_idle_stop(&t->more);
    uv_timer_stop(&t->commit_timer);
    uv_timer_stop(&t->punct_timer);
    uv_timer_stop(&t->keepalive_timer);
    uv_timer_stop(&t->step_timer);
    uv_timer_stop(&t->idle_timer);
    update_running(t);
    rill__thread_commit(t, true);
    t->ctx.events.committed(t->ctx.events.ud, t->close_deadline);
    /* Queued records hold librdkafka's buffers: they go before the consumer does. */
    rill__tm_drop_queued(t->tm);
    /* Leaving the group revokes the partitions through rebalance_cb, which closes the tasks. */
    rd_kafka_consumer_close(t->consumer);
    rill__tm_revoke(t->tm, NULL, false);
    update_metrics(t);
    close_handles(t);
}

static void stop_cb(uv_async_t *h)
{
    shutdown_thread(h->data);
}

/* librdkafka takes a pattern when the topic name starts with '^'; anchor it at both ends, as
 * the source matches whole names. */
static void add_pattern(void *ud, const char *pattern)
{
    char buf[600];
    snprintf(buf, sizeof buf, "^(%s)$", pattern);
    rd_kafka_topic_partition_list_add(ud, buf, RD_KAFKA_PARTITION_UA);
}

static void thread_main(void *arg)
{
    stream_thread_t *t = arg;
    atomic_store(&t->alive, true);
    /* Subscribe to every source topic and pattern ("^" marks a regex for librdkafka). */
    rd_kafka_topic_partition_list_t *sub = rd_kafka_topic_partition_list_new(8);
    for (size_t i = 0; i < t->ctx.ntopics; i++) {
        int st, source;
        if (rill__topology_find_source(t->ctx.topo, t->env.application_id, t->ctx.topics[i], &st,
                                       &source) == 0 ||
            rill__retry_topic_is(&t->env, t->ctx.topics[i]))
            rd_kafka_topic_partition_list_add(sub, t->ctx.topics[i], RD_KAFKA_PARTITION_UA);
    }
    t->subscribed_topics = (size_t)sub->cnt;
    for (int st = 0; st < rill__topology_subtopology_count(t->ctx.topo); st++)
        rill__topology_source_patterns(t->ctx.topo, st, add_pattern, sub);
    t->rebalance_from_ns = hist_now_ns(); /* the first rebalance: joining */
    rd_kafka_resp_err_t err = rd_kafka_subscribe(t->consumer, sub);
    rd_kafka_topic_partition_list_destroy(sub);
    if (err) {
        rill__thread_fail(t, RILL_EKAFKA, "cannot subscribe: %s", rd_kafka_err2str(err));
        shutdown_thread(t);
    } else {
        uint64_t interval = (uint64_t)rill__conf_commit_interval(t->ctx.conf);
        uv_timer_start(&t->commit_timer, commit_timer_cb, interval, interval);
        char buf[32];
        size_t size = sizeof buf;
        uint64_t max_poll = 300000;
        if (rd_kafka_conf_get(rd_kafka_conf(t->consumer), "max.poll.interval.ms", buf, &size) ==
            RD_KAFKA_CONF_OK)
            max_poll = strtoull(buf, NULL, 10);
        uv_timer_start(&t->keepalive_timer, keepalive_cb, max_poll / 3, max_poll / 3);
        uv_poll_start(&t->poll, UV_READABLE, poll_cb);
        if (atomic_load(&t->stop_requested))
            shutdown_thread(t);
        else
            serve(t); /* events may have arrived before the poll handle started */
    }
    uv_run(&t->loop, UV_RUN_DEFAULT);
    /* Only the unreferenced stop handle is left: close it where no stop request can race. */
    pthread_mutex_lock(&t->stop_lock);
    t->loop_done = true;
    uv_close((uv_handle_t *)&t->stop_async, NULL);
    pthread_mutex_unlock(&t->stop_lock);
    uv_run(&t->loop, UV_RUN_DEFAULT);
    atomic_store(&t->alive, false);
    if (t->ctx.events.exited)
        t->ctx.events.exited(t->ctx.events.ud);
}

stream_thread_t *rill__thread_new(const thread_ctx_t *ctx, char *errstr, size_t errstr_size)
{
    stream_thread_t *t = rill_calloc(1, sizeof *t);
    if (!t) {
        snprintf(errstr, errstr_size, "out of memory");
        return NULL;
    }
    t->ctx = *ctx;
    t->lazy.thread = t;
    t->pipefd[0] = t->pipefd[1] = -1;
    pthread_mutex_init(&t->stop_lock, NULL);
    snprintf(t->name, sizeof t->name, "%s-StreamThread-%d", ctx->env.application_id,
             ctx->index + 1);
    t->batch_size = (size_t)RILL_CONF_INT(ctx->conf, POLL_BATCH_SIZE);
    t->max_task_idle_ms = RILL_CONF_INT(ctx->conf, MAX_TASK_IDLE_MS);
    t->max_buffered = (uint32_t)RILL_CONF_INT(ctx->conf, BUFFERED_RECORDS_PER_PARTITION);
    t->batch = rill_calloc(t->batch_size, sizeof *t->batch);
    if (!t->batch || pipe(t->pipefd) != 0) {
        snprintf(errstr, errstr_size, "cannot set up %s: %s", t->name, strerror(errno));
        rill__thread_destroy(t);
        return NULL;
    }
    fcntl(t->pipefd[0], F_SETFL, O_NONBLOCK);
    fcntl(t->pipefd[1], F_SETFL, O_NONBLOCK);
    uv_loop_init(&t->loop);
    uv_poll_init(&t->loop, &t->poll, t->pipefd[0]);
    uv_timer_init(&t->loop, &t->commit_timer);
    uv_timer_init(&t->loop, &t->punct_timer);
    uv_timer_init(&t->loop, &t->keepalive_timer);
    uv_timer_init(&t->loop, &t->step_timer);
    uv_timer_init(&t->loop, &t->idle_timer);
    uv_idle_init(&t->loop, &t->more);
    uv_async_init(&t->loop, &t->stop_async, stop_cb);
    uv_unref((uv_handle_t *)&t->stop_async); /* the loop ends when the other handles close */
    t->poll.data = t->commit_timer.data = t->punct_timer.data = t->more.data =
        t->keepalive_timer.data = t->step_timer.data = t->idle_timer.data = t->stop_async.data = t;
    t->env = t->ctx.env;
    reader_events_t rev = {NULL, rill__tm_restored};
    client_callbacks_t ccb = {t, rebalance_cb, offset_commit_cb, NULL, NULL};
    client_callbacks_t pcb = {t, NULL, NULL, dr_msg_cb, NULL};
    if (RILL_CONF_STR(t->ctx.conf, METRICS_LISTEN)[0]) {
        if (!(t->stats = rill__kstats_new(t->ctx.eos)) || !(t->pstats = rill__kstats_new(false))) {
            snprintf(errstr, errstr_size, "out of memory");
            rill__thread_destroy(t);
            return NULL;
        }
        ccb.stats = stats_cb;
        pcb.stats = producer_stats_cb;
    }
    producer_events_t pev = {t, producer_replacing, producer_replaced};
    if (!(t->collector = rill__collector_new(&t->ctx, t->name)) ||
        !(t->tm = rill__tm_new(&t->ctx, t->name, &t->env))) {
        snprintf(errstr, errstr_size, "out of memory");
        rill__thread_destroy(t);
        return NULL;
    }
    rev.ud = t->tm;
    char err[512];
    if (!(t->reader = rill__reader_new(&t->ctx, t->name, t->batch_size, t->pipefd[1], &rev))) {
        snprintf(errstr, errstr_size, "out of memory");
        rill__thread_destroy(t);
        return NULL;
    }
    if (!(t->consumer = rill__client_new(&t->ctx, CLIENT_CONSUMER, &ccb, err, sizeof err)) ||
        !(t->producer =
              rill__producer_new(&t->ctx, t->name, &pcb, &pev, t->pipefd[1], err, sizeof err))) {
        snprintf(errstr, errstr_size, "%s: %s", t->name, err);
        rill__thread_destroy(t);
        return NULL;
    }
    if (rill_topology_store_count(t->ctx.topo) > 0 &&
        rill__reader_prepare(t->reader, errstr, errstr_size)) {
        rill__thread_destroy(t);
        return NULL;
    }
    rill__collector_bind(t->collector, rill__producer_handle(t->producer));
    if (t->ctx.eos) /* the first send after a commit begins the transaction */
        rill__collector_set_before_send(t->collector, begin_txn, t);
    t->env.collector = rill__collector_iface(t->collector);
    rill__tm_bind(t->tm, t->reader, t->consumer, task_closing, task_ends, t);
    /* Every event of the consumer (records, rebalances, errors) arrives on its queue; the
     * queues write a byte to the pipe when they go from empty to non-empty. */
    rd_kafka_poll_set_consumer(t->consumer);
    t->cq = rd_kafka_queue_get_consumer(t->consumer);
    rd_kafka_queue_io_event_enable(t->cq, t->pipefd[1], "c", 1);
    rill__tm_set_queues(t->tm, t->cq, t->pipefd[1]);
    return t;
}

int rill__thread_start(stream_thread_t *t)
{
    /* Under the stop lock: a stop request from another thread reads tid_valid. */
    pthread_mutex_lock(&t->stop_lock);
    int rc = uv_thread_create(&t->tid, thread_main, t);
    t->tid_valid = rc == 0;
    pthread_mutex_unlock(&t->stop_lock);
    return rc ? RILL_EUNKNOWN : 0;
}

void rill__thread_stop(stream_thread_t *t, int64_t deadline_ms)
{
    pthread_mutex_lock(&t->stop_lock);
    if (!atomic_load(&t->stop_requested))
        t->close_deadline = deadline_ms;
    atomic_store(&t->stop_requested, true);
    if (t->tid_valid && !t->loop_done)
        uv_async_send(&t->stop_async);
    pthread_mutex_unlock(&t->stop_lock);
}

int rill__thread_join(stream_thread_t *t)
{
    if (!t || !t->tid_valid || t->joined)
        return 0;
    uv_thread_join(&t->tid);
    t->joined = true;
    int rc = uv_loop_close(&t->loop);
    if (rc) {
        rill_log(RILL_LOG_ERROR, "thread",
                 "%s: its loop did not close (a handle is still open): %s", t->name,
                 uv_strerror(rc));
        return RILL_EUNKNOWN;
    }
    return 0;
}

void rill__thread_destroy(stream_thread_t *t)
{
    if (!t)
        return;
    if (!t->tid_valid && t->pipefd[0] >= 0) {
        /* Never started: close the handles on a loop turn of our own. */
        close_handles(t);
        uv_close((uv_handle_t *)&t->stop_async, NULL);
        uv_run(&t->loop, UV_RUN_DEFAULT);
        uv_loop_close(&t->loop);
        if (t->consumer)
            rd_kafka_consumer_close(t->consumer);
    }
    if (t->tm)
        rill__tm_drop_queued(t->tm); /* they hold the consumer's buffers */
    if (t->cq)
        rd_kafka_queue_destroy(t->cq);
    if (t->consumer)
        rd_kafka_destroy(t->consumer);
    rill__tm_destroy(t->tm); /* tasks closed from here on keep their last checkpoint */
    t->tm = NULL;
    if (t->collector)
        rill__collector_bind(t->collector, NULL);
    rill__producer_destroy(t->producer);
    t->producer = NULL;
    rill__reader_destroy(t->reader);
    rill__collector_destroy(t->collector);
    rill__kstats_destroy(t->stats);
    rill__kstats_destroy(t->pstats);
    rill_free(t->batch);
    rill_free(t->hdrs);
    if (t->pipefd[0] >= 0)
        close(t->pipefd[0]);
    if (t->pipefd[1] >= 0)
        close(t->pipefd[1]);
    pthread_mutex_destroy(&t->stop_lock);
    rill_free(t);
}

bool rill__thread_running(stream_thread_t *t)
{
    return t && atomic_load(&t->running);
}

int64_t rill__thread_metric(stream_thread_t *t, int index)
{
    if (index >= 0 && index < RILL__TASK_COUNTERS) {
        int64_t v = atomic_load_explicit(&t->m_task[index], memory_order_relaxed);
        /* Outputs the production handler dropped from delivery reports: the collector's. */
        if (t->collector &&
            (index == RILL__COUNTER_skipped || index == RILL__COUNTER_dead_letters)) {
            int64_t dead = 0, dropped = rill__collector_skipped(t->collector, &dead);
            v += index == RILL__COUNTER_skipped ? dropped : dead;
        }
        return v;
    }
    switch (index) {
    case RILL__METRIC_PRODUCED:
        return t->collector ? rill__collector_produced(t->collector) : 0;
    case RILL__METRIC_COMMITS:
        return atomic_load(&t->m_commits);
    case RILL__METRIC_REBALANCES:
        return atomic_load(&t->m_rebalances);
    case RILL__METRIC_TASKS:
        return atomic_load(&t->m_tasks);
    case RILL__METRIC_RESTORED:
        return t->reader ? rill__reader_restored(t->reader) : 0;
    default:
        return -1;
    }
}

int rill__thread_tasks(stream_thread_t *t, int st, int32_t partition,
                       bool (*fn)(void *ud, rill_task_t *task, int32_t partition), void *ud)
{
    return t->tm ? rill__tm_query(t->tm, st, partition, fn, ud) : 0;
}

void rill__thread_view(stream_thread_t *t, thread_view_t *v)
{
    *v = (thread_view_t){
        .name = t->name,
        .running = atomic_load(&t->running),
        .alive = atomic_load(&t->alive),
        .process = &t->m_process,
        .commit = &t->m_commit,
        .rebalance = &t->m_rebalance,
        .e2e = t->collector ? rill__collector_e2e(t->collector) : NULL,
        .txn_commits = &t->m_txn_commits,
        .txn_aborts = &t->m_txn_aborts,
        .tm = t->tm,
        .stats = t->stats,
        .pstats = t->pstats,
        .restore_remaining = t->reader ? rill__reader_remaining(t->reader) : 0,
    };
    if (t->collector)
        v->delivery_skipped = rill__collector_skipped(t->collector, &v->delivery_dead);
}
