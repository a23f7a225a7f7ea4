/*
 * A stream thread: one libuv loop, one consumer (group = application.id), one producer, and the
 * tasks of the partitions the group gives it. librdkafka's queues wake the loop through a pipe
 * (rd_kafka_queue_io_event_enable) watched by uv_poll, so an idle thread sleeps in epoll and
 * nothing here polls on a timer. Everything (processing, rebalance callbacks, delivery reports,
 * commits, punctuation) runs on the loop's thread.
 *
 * At-least-once: a commit first flushes the producer (every output of the processed records is
 * acknowledged), then commits the offsets after the last processed record of each partition.
 */
#include "engine_int.h"

#include <uv.h>

#include <errno.h>
#include <stdarg.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/* A partition this thread consumes, and where it stands. */
typedef struct {
    char *topic;
    int32_t partition;
    const rd_kafka_topic_t *rkt; /* learned from the first message */
    int st, source;
    rill_task_t *task;
    int64_t next_offset; /* after the last processed record; -1: none yet */
    int64_t committed;
} slot_t;

typedef struct {
    int st;
    int32_t partition;
    rill_task_t *task;
} task_ref_t;

/* A producer topic handle, cached by name: producev by name would look the topic up per record. */
/* acked[p] is the highest offset acknowledged in partition p, -1 when none: for changelogs, how
 * far the stores' contents reach (no broker round trip, so no stall while a broker is down). */
typedef struct {
    char *name;
    rd_kafka_topic_t *rkt;
    int32_t partitions;
    int64_t *acked;
    int32_t nacked;
} out_topic_t;

struct stream_thread {
    rill_app_t *app;
    int index;
    char name[64];
    uv_thread_t tid;
    bool tid_valid;
    uv_loop_t loop;
    uv_poll_t poll;
    uv_timer_t commit_timer, punct_timer, keepalive_timer;
    uv_idle_t more; /* keeps serving while librdkafka's queue is not empty */
    uv_async_t stop_async;
    int pipefd[2];
    rd_kafka_t *consumer, *producer;
    rd_kafka_t *restorer; /* reads changelogs into new tasks' stores (made when first needed) */
    rd_kafka_queue_t *cq, *pq;
    rill_task_env_t env;
    slot_t *slots;
    size_t nslots;
    size_t last_slot;
    task_ref_t *tasks;
    size_t ntasks;
    out_topic_t *outs;
    size_t nouts;
    rd_kafka_message_t **batch;
    size_t batch_size;
    rill_record_t *restore_recs; /* one restore batch (batch_size records) */
    rill_header_t *hdrs;         /* scratch for the headers of the record being processed */
    size_t hdrs_cap;
    /* The headers of the message being processed, parsed only if something reads them. */
    struct lazy_headers {
        rill_headers_t headers; /* first: a rill_headers_t * is a struct lazy_headers * */
        stream_thread_t *thread;
        rd_kafka_message_t *msg;
    } lazy;
    bool dirty;   /* processed records since the last commit */
    bool eos;     /* exactly_once_v2: outputs, changelogs and offsets in one transaction */
    bool in_txn;  /* a transaction is open (begun at the first send after a commit) */
    bool rewound; /* the current batch is stale: an aborted transaction rewound the tasks */
    int64_t renewed_at[3]; /* when the last producers were made after fatal errors (ms) */
    int64_t last_purge;    /* when repartition topics were last purged (now_ms) */
    bool stopping, failed;
    atomic_bool running;
    atomic_bool stop_requested;
    pthread_mutex_t stop_lock; /* orders stop requests against closing stop_async */
    bool loop_done;
    bool joined;
    bool last_processed; /* the message just handled went through a task */
    char delivery_error[512];
    uint64_t closed_skipped; /* skipped records of tasks already closed */
    uint64_t closed_late;    /* late records of tasks already closed */
    atomic_int_fast64_t m_processed, m_produced, m_skipped, m_commits, m_rebalances, m_tasks,
        m_restored, m_late;
};

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void thread_fail(stream_thread_t *t, int err, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void thread_fail(stream_thread_t *t, int err, const char *fmt, ...)
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
    rill__app_thread_failed(t->app, err, full);
}

static void set_running(stream_thread_t *t, bool running)
{
    if (atomic_exchange(&t->running, running) != running)
        rill__app_thread_changed(t->app);
}

/* ---- collector: sinks write through the thread's producer ---- */

static out_topic_t *out_topic(stream_thread_t *t, const char *topic)
{
    for (size_t i = 0; i < t->nouts; i++)
        if (strcmp(t->outs[i].name, topic) == 0)
            return &t->outs[i];
    out_topic_t *outs = rill_realloc(t->outs, (t->nouts + 1) * sizeof *outs);
    if (!outs)
        return NULL;
    t->outs = outs;
    out_topic_t *o = &outs[t->nouts];
    o->acked = NULL;
    o->nacked = 0;
    o->name = rill_strdup(topic);
    o->rkt = o->name ? rd_kafka_topic_new(t->producer, topic, NULL) : NULL;
    o->partitions = rill__app_partitions(t->app, topic);
    /* Sized now, so delivery reports do not allocate on the hot path. */
    if (o->rkt && o->partitions > 0 &&
        (o->acked = rill_malloc((size_t)o->partitions * sizeof *o->acked))) {
        for (int32_t p = 0; p < o->partitions; p++)
            o->acked[p] = -1;
        o->nacked = o->partitions;
    }
    if (!o->rkt) {
        rill_free(o->name);
        return NULL;
    }
    t->nouts++;
    return o;
}

/* Forgets every producer topic handle (before its producer goes). */
static void drop_out_topics(stream_thread_t *t)
{
    for (size_t i = 0; i < t->nouts; i++) {
        rd_kafka_topic_destroy(t->outs[i].rkt);
        rill_free(t->outs[i].name);
        rill_free(t->outs[i].acked);
    }
    t->nouts = 0;
}

/* Begins the transaction that the next commit ends. */
static int begin_txn(stream_thread_t *t)
{
    rd_kafka_error_t *error = rd_kafka_begin_transaction(t->producer);
    if (error) {
        thread_fail(t, RILL_EKAFKA, "cannot begin a transaction: %s", rd_kafka_error_string(error));
        rd_kafka_error_destroy(error);
        return RILL_EKAFKA;
    }
    t->in_txn = true;
    return 0;
}

static int collector_send(void *opaque, const char *topic, int32_t partition, const rill_buf_t *key,
                          const rill_buf_t *value, int64_t timestamp, const rill_headers_t *headers)
{
    stream_thread_t *t = opaque;
    out_topic_t *o = out_topic(t, topic);
    if (!o)
        return RILL_ENOMEM;
    if (t->eos && !t->in_txn && begin_txn(t))
        return RILL_EKAFKA;
    rd_kafka_headers_t *hdrs = NULL;
    size_t header_count = rill_headers_count(headers);
    if (header_count) {
        hdrs = rd_kafka_headers_new(header_count);
        for (size_t i = 0; i < header_count; i++)
            rd_kafka_header_add(hdrs, headers->items[i].name, -1, headers->items[i].value.data,
                                (ssize_t)headers->items[i].value.len);
    }
    int64_t full_since = -1; /* monotonic ms when the queue was first found full */
    for (;;) {
        rd_kafka_resp_err_t err = rd_kafka_producev(
            t->producer, RD_KAFKA_V_RKT(o->rkt),
            RD_KAFKA_V_PARTITION(partition < 0 ? RD_KAFKA_PARTITION_UA : partition),
            RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
            RD_KAFKA_V_KEY(key ? key->data : NULL, key ? key->len : 0),
            RD_KAFKA_V_VALUE(value ? (void *)value->data : NULL, value ? value->len : 0),
            RD_KAFKA_V_TIMESTAMP(timestamp), RD_KAFKA_V_HEADERS(hdrs),
            RD_KAFKA_V_OPAQUE((void *)(uintptr_t)(o - t->outs + 1)), RD_KAFKA_V_END);
        if (!err) {
            t->dirty = true; /* the next commit flushes it, even without new offsets */
            return 0;
        }
        if (err != RD_KAFKA_RESP_ERR__QUEUE_FULL) {
            if (hdrs)
                rd_kafka_headers_destroy(hdrs);
            rill_log(RILL_LOG_ERROR, "thread", "%s: cannot produce to '%s': %s", t->name, topic,
                     rd_kafka_err2str(err));
            return RILL_EKAFKA;
        }
        /* Back-pressure: the producer's queue is full; serve delivery reports until it drains,
         * for at most 60 s (the Java producer's max.block.ms), then fail rather than hang. */
        /* Real elapsed time: rd_kafka_poll() returns early when it serves a delivery report. */
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        int64_t now = (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
        if (full_since < 0)
            full_since = now;
        if (now - full_since >= 60000) {
            if (hdrs)
                rd_kafka_headers_destroy(hdrs);
            rill_log(RILL_LOG_ERROR, "thread",
                     "%s: the producer's queue stayed full for 60 s sending to '%s' (is the "
                     "cluster reachable?)",
                     t->name, topic);
            return RILL_ETIMEDOUT;
        }
        rd_kafka_poll(t->producer, 100);
    }
}

static int32_t collector_partitions(void *opaque, const char *topic)
{
    stream_thread_t *t = opaque;
    out_topic_t *o = out_topic(t, topic);
    if (!o)
        return RILL_ENOMEM;
    if (o->partitions <= 0) {
        const rd_kafka_metadata_t *md;
        if (rd_kafka_metadata(t->producer, 0, o->rkt, &md, 10000) == 0) {
            if (md->topic_cnt == 1 && !md->topics[0].err)
                o->partitions = md->topics[0].partition_cnt;
            rd_kafka_metadata_destroy(md);
        }
    }
    return o->partitions > 0 ? o->partitions : RILL_ENOENT;
}

static void dr_msg_cb(rd_kafka_t *rk, const rd_kafka_message_t *msg, void *opaque)
{
    stream_thread_t *t = opaque;
    if (!msg->err) {
        atomic_fetch_add_explicit(&t->m_produced, 1, memory_order_relaxed);
        /* Served on the loop thread (poll, flush, commit_transaction), as outs changes. */
        size_t idx = (size_t)(uintptr_t)msg->_private;
        if (idx >= 1 && idx <= t->nouts && msg->partition >= 0) {
            out_topic_t *o = &t->outs[idx - 1];
            if (msg->partition >= o->nacked) {
                int32_t n = msg->partition + 1;
                int64_t *acked = rill_realloc(o->acked, (size_t)n * sizeof *acked);
                if (!acked)
                    return; /* a checkpoint then claims less than the store holds: harmless */
                for (int32_t p = o->nacked; p < n; p++)
                    acked[p] = -1;
                o->acked = acked;
                o->nacked = n;
            }
            if (msg->offset > o->acked[msg->partition])
                o->acked[msg->partition] = msg->offset;
        }
    } else if (!t->delivery_error[0]) {
        snprintf(t->delivery_error, sizeof t->delivery_error,
                 "a record to topic '%s' partition %d was not delivered: %s",
                 rd_kafka_topic_name(msg->rkt), msg->partition, rd_kafka_err2str(msg->err));
    }
}

/* ---- state: restoration and checkpoints ---- */

/* A checkpoint is written when this many changelog records were written since the last one
 * (as Kafka Streams does), and always when a task closes. */
#define CHECKPOINT_DELTA 10000

static rd_kafka_t *restorer(stream_thread_t *t)
{
    if (t->restorer)
        return t->restorer;
    rd_kafka_conf_t *kconf = rd_kafka_conf_new();
    char client_id[300], group[300], kerr[512];
    snprintf(client_id, sizeof client_id, "%s-restore-consumer", t->name);
    snprintf(group, sizeof group, "%s-restore", t->env.application_id); /* never joined */
    const char *kv[][2] = {
        {"bootstrap.servers", t->app->bootstrap},
        {"client.id", client_id},
        {"group.id", group},
        {"enable.auto.commit", "false"},
        {"enable.partition.eof", "true"},
        {"auto.offset.reset", "error"}, /* a checkpoint outside the changelog: restore_changelog */
    };
    for (size_t i = 0; i < sizeof kv / sizeof kv[0]; i++)
        rd_kafka_conf_set(kconf, kv[i][0], kv[i][1], kerr, sizeof kerr);
    /* As the stream consumer: librdkafka 2.0.2 stops fetching for a second at 100,000. */
    rd_kafka_conf_set(kconf, "queued.min.messages", "1000000", kerr, sizeof kerr);
    /* The end of a changelog is often a transaction marker, which is never delivered: the
     * end-of-partition event then waits for a fetch that finds nothing, so let it return soon. */
    rd_kafka_conf_set(kconf, "fetch.wait.max.ms", "10", kerr, sizeof kerr);
    if (t->eos) /* the writes of aborted transactions must not be restored */
        rd_kafka_conf_set(kconf, "isolation.level", "read_committed", kerr, sizeof kerr);
    if (rill__conf_apply(t->app->conf, kconf, SCOPE_CONSUMER, kerr, sizeof kerr)) {
        rd_kafka_conf_destroy(kconf);
        thread_fail(t, RILL_ECONFIG, "cannot make the restore consumer: %s", kerr);
        return NULL;
    }
    rd_kafka_conf_set_log_cb(kconf, rill__kafka_log_cb);
    t->restorer = rd_kafka_new(RD_KAFKA_CONSUMER, kconf, kerr, sizeof kerr);
    if (!t->restorer) {
        rd_kafka_conf_destroy(kconf);
        thread_fail(t, RILL_EKAFKA, "cannot make the restore consumer: %s", kerr);
        return NULL;
    }
    rd_kafka_poll_set_consumer(t->restorer);
    return t->restorer;
}

/* Points the restore consumer at changelog partition (topic, partition) from offset (or its
 * start, when negative). */
static int restore_assign(stream_thread_t *t, rd_kafka_t *rk, rill_task_t *task, const char *topic,
                          int32_t partition, int64_t offset)
{
    rd_kafka_topic_partition_list_t *list = rd_kafka_topic_partition_list_new(1);
    rd_kafka_topic_partition_list_add(list, topic, partition)->offset =
        offset >= 0 ? offset : RD_KAFKA_OFFSET_BEGINNING;
    rd_kafka_resp_err_t err = rd_kafka_assign(rk, list);
    rd_kafka_topic_partition_list_destroy(list);
    if (err) {
        thread_fail(t, RILL_EKAFKA, "task %s: cannot read changelog '%s' [%d]: %s",
                    rill__task_id(task), topic, partition, rd_kafka_err2str(err));
        return RILL_EKAFKA;
    }
    return 0;
}

/*
 * Reads changelog i of task from its checkpoint (or start) to the end of the partition into the
 * store. The end is where the consumer reports end-of-partition, not a number asked of the
 * partition's leader first: a leader that has just died, before the controller fences it, would
 * hold that request until it is back (librdkafka 2.0.2 ignores the timeout then, #2588), while
 * fetches follow the new leader. A checkpoint outside the changelog (the topic was made again,
 * this is another cluster, or retention deleted past it) is reported by the consumer
 * (auto.offset.reset=error): the store is wiped and restored from the start.
 */
static int restore_changelog(stream_thread_t *t, rill_task_t *task, int32_t partition, size_t i)
{
    const char *topic = rill__task_changelog_topic(task, i);
    const char *store = rill__task_changelog_store(task, i);
    const rill_restore_listener_t *l = &t->app->restore_listener;
    rd_kafka_t *rk = restorer(t);
    if (!rk)
        return RILL_EKAFKA;
    int64_t from = rill__task_changelog_offset(task, i), stop_at = INT64_MAX;
    if (t->app->embedded) {
        /* The mock cluster answers a fetch at the end of a partition only after a second or so
         * (it has no fetch.wait.max.ms), and has no dead leaders: ask it whether there is
         * anything to restore first. */
        int64_t lo = 0, hi = 0;
        rd_kafka_resp_err_t err = RD_KAFKA_RESP_ERR_NO_ERROR;
        for (int tries = 0; tries < 100; tries++) {
            err = rd_kafka_query_watermark_offsets(rk, topic, partition, &lo, &hi, 5000);
            if (err != RD_KAFKA_RESP_ERR_LEADER_NOT_AVAILABLE &&
                err != RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART)
                break;
            struct timespec pause = {0, 100 * 1000000};
            nanosleep(&pause, NULL);
        }
        if (err == RD_KAFKA_RESP_ERR_NO_ERROR && hi == lo && (from < 0 || from == hi))
            return 0; /* an empty changelog, or the store is at its end */
        if (err == RD_KAFKA_RESP_ERR_NO_ERROR && from <= hi)
            stop_at = hi; /* no need to wait for the end-of-partition event either */
    }
    if (restore_assign(t, rk, task, topic, partition, from))
        return RILL_EKAFKA;
    rd_kafka_queue_t *q = rd_kafka_queue_get_consumer(rk);
    int64_t pos = from, t0 = now_ms(), last_progress = t0, last_log = t0;
    uint64_t total = 0;
    bool started = false, at_end = false;
    int rc = 0;
    while (rc == 0 && !at_end) {
        ssize_t n = rd_kafka_consume_batch_queue(q, 500, t->batch, t->batch_size);
        uint64_t batch = 0;
        bool reset = false;
        for (ssize_t k = 0; k < n; k++) {
            rd_kafka_message_t *m = t->batch[k];
            if (rc || reset || at_end) {
                /* dropped with the batch */
            } else if (m->err == RD_KAFKA_RESP_ERR__PARTITION_EOF) {
                at_end = true;
            } else if (m->err == RD_KAFKA_RESP_ERR__AUTO_OFFSET_RESET && total == 0) {
                reset = true;
            } else if (m->err) {
                thread_fail(t, RILL_EKAFKA, "task %s: cannot read changelog '%s' [%d]: %s",
                            rill__task_id(task), topic, partition, rd_kafka_message_errstr(m));
                rc = RILL_EKAFKA;
            } else {
                t->restore_recs[batch++] = (rill_record_t){
                    .key = {m->key, m->key_len},
                    .value = {m->payload, m->len},
                    .timestamp = rd_kafka_message_timestamp(m, NULL),
                    .topic = topic,
                    .partition = partition,
                    .offset = m->offset,
                };
                pos = m->offset + 1;
                at_end = pos >= stop_at;
            }
        }
        if (rc == 0 && batch && !started) {
            started = true;
            int64_t lo = -1, hi = -1;
            rd_kafka_get_watermark_offsets(rk, topic, partition, &lo, &hi);
            if (l->on_start)
                l->on_start(l->ud, store, topic, partition, t->restore_recs[0].offset, hi);
            rill_log(RILL_LOG_INFO, "state",
                     "task %s: restoring store '%s' from %s [%d], offsets %lld..%lld",
                     rill__task_id(task), store, topic, partition,
                     (long long)t->restore_recs[0].offset, (long long)hi);
        }
        /* One write batch for the lot: RocksDB takes it far faster than record by record. */
        if (rc == 0 && batch && (rc = rill__task_restore_batch(task, i, t->restore_recs, batch)))
            thread_fail(t, rc, "%s", rill__task_error(task));
        for (ssize_t k = 0; k < n; k++)
            rd_kafka_message_destroy(t->batch[k]);
        if (reset && rc == 0) {
            /* The store holds what the changelog cannot vouch for: start again, empty. */
            char why[512];
            rill_log(RILL_LOG_WARN, "state",
                     "task %s: the checkpoint of store '%s' (offset %lld) is outside %s [%d]: "
                     "wiping the store and restoring it from the start of the changelog",
                     rill__task_id(task), store, (long long)from, topic, partition);
            if (rill__task_reset_store(task, i, why, sizeof why)) {
                thread_fail(t, RILL_EIO, "%s", why);
                rc = RILL_EIO;
            } else {
                from = -1;
                rc = restore_assign(t, rk, task, topic, partition, -1);
            }
            continue;
        }
        total += batch;
        int64_t now = now_ms();
        if (batch) {
            last_progress = now;
            if (l->on_batch)
                l->on_batch(l->ud, store, topic, partition, pos, batch);
        } else if (now - last_progress > 60000 && rc == 0 && !at_end) {
            thread_fail(t, RILL_ETIMEDOUT,
                        "task %s: restoring store '%s' from %s [%d] made no progress for 60 s at "
                        "offset %lld",
                        rill__task_id(task), store, topic, partition, (long long)pos);
            rc = RILL_ETIMEDOUT;
        }
        if (now - last_log >= 10000 && rc == 0 && !at_end) {
            rill_log(RILL_LOG_INFO, "state", "task %s: restoring store '%s': at offset %lld",
                     rill__task_id(task), store, (long long)pos);
            last_log = now;
        }
    }
    rd_kafka_queue_destroy(q);
    rd_kafka_assign(rk, NULL);
    if (rc)
        return rc;
    if (!started)
        return 0; /* nothing past the checkpoint but transaction markers, if anything */
    double secs = (double)(now_ms() - t0) / 1000.0;
    rill_log(RILL_LOG_INFO, "state",
             "task %s: restored store '%s': %llu records in %.2f s (%.0f records/s)",
             rill__task_id(task), store, (unsigned long long)total, secs,
             secs > 0 ? (double)total / secs : 0.0);
    atomic_fetch_add(&t->m_restored, (int_fast64_t)total);
    if (l->on_end)
        l->on_end(l->ud, store, topic, partition, total);
    return 0;
}

/* Restores every store of a new task before it processes anything. */
static int restore_task(stream_thread_t *t, rill_task_t *task, int32_t partition)
{
    for (size_t i = 0; i < rill__task_changelog_count(task); i++) {
        int rc = restore_changelog(t, task, partition, i);
        if (rc)
            return rc;
    }
    return 0;
}

/* Returns the offset after the last acknowledged record of task's changelog i, as far as this
 * thread knows: what it wrote, or where the store restored to; -1 when neither. */
static int64_t changelog_end(stream_thread_t *t, rill_task_t *task, int32_t partition, size_t i)
{
    int64_t end = rill__task_changelog_offset(task, i);
    out_topic_t *o = out_topic(t, rill__task_changelog_topic(task, i));
    if (o && partition < o->nacked && o->acked[partition] + 1 > end)
        end = o->acked[partition] + 1;
    return end;
}

/* Returns changelog_end() of each of task's changelogs, in a new array (at least one slot);
 * NULL when out of memory. */
static int64_t *changelog_ends(stream_thread_t *t, rill_task_t *task, int32_t partition)
{
    size_t n = rill__task_changelog_count(task);
    int64_t *ends = rill_calloc(n ? n : 1, sizeof *ends);
    for (size_t i = 0; ends && i < n; i++)
        ends[i] = changelog_end(t, task, partition, i);
    return ends;
}

/* Writes task's checkpoint (at-least-once) when enough changelog records were written since the
 * last (or when force). Under exactly-once the stores record their offsets at each commit. */
static void checkpoint_task(stream_thread_t *t, rill_task_t *task, int32_t partition, bool force)
{
    size_t n = rill__task_changelog_count(task);
    if (n == 0 || !t->producer || t->failed || t->eos)
        return;
    uint64_t writes = rill__task_changelog_writes(task);
    if (writes == 0 || (!force && writes < CHECKPOINT_DELTA))
        return;
    /* The end offsets come from delivery reports: every write must be acknowledged. */
    if (rd_kafka_flush(t->producer, 10000)) {
        rill_log(RILL_LOG_WARN, "state", "task %s: no checkpoint: the producer did not flush",
                 rill__task_id(task));
        return;
    }
    int64_t *ends = changelog_ends(t, task, partition);
    if (!ends)
        return;
    if (rill__task_checkpoint(task, ends))
        rill_log(RILL_LOG_WARN, "state", "%s", rill__task_error(task));
    rill_free(ends);
}

/* Under exactly-once, after a transaction committed: every task's stores take their pending
 * writes with the changelog offsets they reach. */
static int commit_stores(stream_thread_t *t)
{
    for (size_t k = 0; k < t->ntasks; k++) {
        rill_task_t *task = t->tasks[k].task;
        int64_t *ends = changelog_ends(t, task, t->tasks[k].partition);
        int rc = ends ? rill__task_commit_stores(task, ends) : RILL_ENOMEM;
        rill_free(ends);
        if (rc) {
            thread_fail(t, rc, "%s",
                        ends ? rill__task_error(task) : "out of memory committing the stores");
            return rc;
        }
    }
    return 0;
}

/* ---- tasks and slots ---- */

static rill_task_t *task_get(stream_thread_t *t, int st, int32_t partition)
{
    for (size_t i = 0; i < t->ntasks; i++)
        if (t->tasks[i].st == st && t->tasks[i].partition == partition)
            return t->tasks[i].task;
    pthread_rwlock_wrlock(&t->app->query_lock);
    task_ref_t *tasks = rill_realloc(t->tasks, (t->ntasks + 1) * sizeof *tasks);
    if (tasks)
        t->tasks = tasks;
    pthread_rwlock_unlock(&t->app->query_lock);
    if (!tasks)
        return NULL;
    char err[1024];
    rill_task_t *task = rill__task_new(t->app->topo, st, partition, &t->env, err, sizeof err);
    /* Another stream thread of this instance may still hold the task's stores (RocksDB's LOCK
     * file): it closes them when it handles its own revocation. Wait for it, as Kafka Streams
     * retries a task whose state directory is locked, but not for ever. */
    for (int64_t t0 = now_ms(), tries = 0; !task && strstr(err, "/LOCK") && now_ms() - t0 < 30000;
         tries++) {
        if (tries == 0)
            rill_log(RILL_LOG_INFO, "thread",
                     "%s: the stores of task %d_%d are still open in another thread: waiting",
                     t->name, st, partition);
        struct timespec pause = {0, 100 * 1000000};
        nanosleep(&pause, NULL);
        task = rill__task_new(t->app->topo, st, partition, &t->env, err, sizeof err);
    }
    if (!task) {
        thread_fail(t, RILL_EPROCESS, "cannot create task %d_%d: %s", st, partition, err);
        return NULL;
    }
    if (restore_task(t, task, partition)) {
        rill__task_destroy(task);
        return NULL;
    }
    /* Interactive queries see the task from here on, restored. */
    pthread_rwlock_wrlock(&t->app->query_lock);
    tasks[t->ntasks++] = (task_ref_t){st, partition, task};
    pthread_rwlock_unlock(&t->app->query_lock);
    atomic_store(&t->m_tasks, (int_fast64_t)t->ntasks);
    rill_log(RILL_LOG_INFO, "thread", "%s: created task %s", t->name, rill__task_id(task));
    return task;
}

static bool task_used(const stream_thread_t *t, const rill_task_t *task)
{
    for (size_t s = 0; s < t->nslots; s++)
        if (t->slots[s].task == task)
            return true;
    return false;
}

/* Closes the tasks no slot uses any more, checkpointing their stores first (outside the query
 * lock: a checkpoint reads the changelogs' ends from the brokers). */
static void tasks_gc(stream_thread_t *t)
{
    for (size_t i = 0; i < t->ntasks; i++)
        if (!task_used(t, t->tasks[i].task))
            checkpoint_task(t, t->tasks[i].task, t->tasks[i].partition, true);
    size_t keep = 0;
    pthread_rwlock_wrlock(&t->app->query_lock);
    for (size_t i = 0; i < t->ntasks; i++) {
        if (task_used(t, t->tasks[i].task)) {
            t->tasks[keep++] = t->tasks[i];
            continue;
        }
        rill_log(RILL_LOG_INFO, "thread", "%s: closed task %s", t->name,
                 rill__task_id(t->tasks[i].task));
        t->closed_skipped += rill__task_metrics(t->tasks[i].task)->skipped;
        t->closed_late += rill__task_metrics(t->tasks[i].task)->late_dropped;
        rill__task_destroy(t->tasks[i].task);
    }
    t->ntasks = keep;
    pthread_rwlock_unlock(&t->app->query_lock);
    atomic_store(&t->m_tasks, (int_fast64_t)t->ntasks);
}

static int slots_add(stream_thread_t *t, const rd_kafka_topic_partition_list_t *parts)
{
    for (int i = 0; i < parts->cnt; i++) {
        const rd_kafka_topic_partition_t *p = &parts->elems[i];
        int st, source;
        if (rill__topology_find_source(t->app->topo, t->env.application_id, p->topic, &st,
                                       &source)) {
            rill_log(RILL_LOG_WARN, "thread", "%s: assigned '%s' [%d], which no source reads",
                     t->name, p->topic, p->partition);
            continue;
        }
        rill_task_t *task = task_get(t, st, p->partition);
        if (!task)
            return RILL_EPROCESS;
        slot_t *slots = rill_realloc(t->slots, (t->nslots + 1) * sizeof *slots);
        if (!slots)
            return RILL_ENOMEM;
        t->slots = slots;
        slots[t->nslots] =
            (slot_t){rill_strdup(p->topic), p->partition, NULL, st, source, task, -1, -1};
        if (!slots[t->nslots].topic)
            return RILL_ENOMEM;
        t->nslots++;
    }
    return 0;
}

static void slots_remove(stream_thread_t *t, const rd_kafka_topic_partition_list_t *parts)
{
    size_t keep = 0;
    for (size_t s = 0; s < t->nslots; s++) {
        bool revoked = parts == NULL;
        for (int i = 0; parts && i < parts->cnt && !revoked; i++)
            revoked = parts->elems[i].partition == t->slots[s].partition &&
                      strcmp(parts->elems[i].topic, t->slots[s].topic) == 0;
        if (revoked)
            rill_free(t->slots[s].topic);
        else
            t->slots[keep++] = t->slots[s];
    }
    t->nslots = keep;
    t->last_slot = 0;
    tasks_gc(t);
}

static slot_t *slot_for(stream_thread_t *t, const rd_kafka_message_t *msg)
{
    /* Messages come in runs from one partition: try the last slot first. */
    if (t->last_slot < t->nslots) {
        slot_t *s = &t->slots[t->last_slot];
        if (s->rkt == msg->rkt && s->partition == msg->partition)
            return s;
    }
    const char *topic = NULL;
    for (size_t i = 0; i < t->nslots; i++) {
        slot_t *s = &t->slots[i];
        if (s->partition != msg->partition)
            continue;
        if (s->rkt != msg->rkt) {
            if (s->rkt)
                continue;
            if (!topic)
                topic = rd_kafka_topic_name(msg->rkt);
            if (strcmp(topic, s->topic) != 0)
                continue;
            s->rkt = msg->rkt;
        }
        t->last_slot = i;
        return s;
    }
    return NULL;
}

/* ---- commit ---- */

static int commit_txn(stream_thread_t *t);
static void purge_repartitions(stream_thread_t *t);

static int commit(stream_thread_t *t, bool sync)
{
    if (!t->dirty)
        return 0;
    /* Record caches write through: stores, changelogs and the records they forward. */
    for (size_t i = 0; i < t->ntasks; i++) {
        int rc = rill__task_flush(t->tasks[i].task);
        if (rc) {
            thread_fail(t, rc, "%s", rill__task_error(t->tasks[i].task));
            return rc;
        }
    }
    if (t->eos)
        return commit_txn(t);
    /* Everything processed must be acknowledged before its offsets are committed. */
    rd_kafka_resp_err_t err = rd_kafka_flush(t->producer, 60000);
    if (err) {
        thread_fail(t, RILL_ETIMEDOUT, "cannot commit: the producer did not flush within 60 s: %s",
                    rd_kafka_err2str(err));
        return RILL_ETIMEDOUT;
    }
    if (t->delivery_error[0]) {
        thread_fail(t, RILL_EKAFKA, "%s", t->delivery_error);
        return RILL_EKAFKA;
    }
    rd_kafka_topic_partition_list_t *list =
        rd_kafka_topic_partition_list_new((int)(t->nslots ? t->nslots : 1));
    for (size_t i = 0; i < t->nslots; i++) {
        slot_t *s = &t->slots[i];
        if (s->next_offset > s->committed)
            rd_kafka_topic_partition_list_add(list, s->topic, s->partition)->offset =
                s->next_offset;
    }
    int rc = 0;
    if (list->cnt) {
        err = rd_kafka_commit(t->consumer, list, sync ? 0 : 1);
        if (err && err != RD_KAFKA_RESP_ERR__NO_OFFSET) {
            rill_log(RILL_LOG_WARN, "thread", "%s: offset commit failed: %s", t->name,
                     rd_kafka_err2str(err));
            rc = RILL_EKAFKA;
        } else {
            for (size_t i = 0; i < t->nslots; i++)
                if (t->slots[i].next_offset > t->slots[i].committed)
                    t->slots[i].committed = t->slots[i].next_offset;
            if (sync)
                atomic_fetch_add(&t->m_commits, 1);
        }
    }
    rd_kafka_topic_partition_list_destroy(list);
    if (!rc)
        t->dirty = false;
    for (size_t i = 0; i < t->ntasks; i++)
        checkpoint_task(t, t->tasks[i].task, t->tasks[i].partition, false);
    if (!rc)
        purge_repartitions(t);
    return rc;
}

/* ---- exactly-once ---- */

/* Closes every task and makes it again from its stores' committed state: under exactly-once a
 * task's stores may hold writes of the aborted transaction, so the new task has no checkpoint,
 * wipes them and restores its changelogs, read_committed (the aborted writes are not there). */
static int reset_tasks(stream_thread_t *t)
{
    for (size_t i = 0; i < t->ntasks; i++) {
        rill_task_t *old = t->tasks[i].task;
        /* The old task goes first: its RocksDB stores hold locks the new one needs. */
        pthread_rwlock_wrlock(&t->app->query_lock);
        t->closed_skipped += rill__task_metrics(old)->skipped;
        t->closed_late += rill__task_metrics(old)->late_dropped;
        rill__task_destroy(old);
        char err[1024];
        rill_task_t *task = rill__task_new(t->app->topo, t->tasks[i].st, t->tasks[i].partition,
                                           &t->env, err, sizeof err);
        if (!task) {
            /* No task may stay half there: drop it and the slots that fed it. */
            int st = t->tasks[i].st;
            int32_t partition = t->tasks[i].partition;
            t->tasks[i] = t->tasks[--t->ntasks];
            size_t keep = 0;
            for (size_t s = 0; s < t->nslots; s++) {
                if (t->slots[s].task == old)
                    rill_free(t->slots[s].topic);
                else
                    t->slots[keep++] = t->slots[s];
            }
            t->nslots = keep;
            t->last_slot = 0;
            pthread_rwlock_unlock(&t->app->query_lock);
            thread_fail(t, RILL_EPROCESS, "cannot make task %d_%d again: %s", st, partition, err);
            return RILL_EPROCESS;
        }
        t->tasks[i].task = task;
        pthread_rwlock_unlock(&t->app->query_lock);
        for (size_t s = 0; s < t->nslots; s++)
            if (t->slots[s].task == old)
                t->slots[s].task = task;
    }
    for (size_t i = 0; i < t->ntasks; i++)
        if (restore_task(t, t->tasks[i].task, t->tasks[i].partition))
            return RILL_EKAFKA;
    return 0;
}

static rd_kafka_t *make_client(stream_thread_t *t, rd_kafka_type_t type, char *errstr,
                               size_t errstr_size);

/* Rewinds after an aborted transaction: every assigned partition goes back to its committed
 * offset and every task to its committed state, so the records of the aborted transaction are
 * processed again, once. */
static int rewind_to_commit(stream_thread_t *t)
{
    t->in_txn = false;
    t->delivery_error[0] = 0;
    t->rewound = true;
    /* Where to go back to: what this thread committed, else what the group has committed. */
    rd_kafka_topic_partition_list_t *list =
        rd_kafka_topic_partition_list_new((int)(t->nslots ? t->nslots : 1));
    for (size_t i = 0; i < t->nslots; i++)
        rd_kafka_topic_partition_list_add(list, t->slots[i].topic, t->slots[i].partition);
    rd_kafka_resp_err_t err = rd_kafka_committed(t->consumer, list, 30000);
    for (int i = 0; !err && i < list->cnt; i++) {
        rd_kafka_topic_partition_t *p = &list->elems[i];
        if (p->offset < 0)
            p->offset = RD_KAFKA_OFFSET_BEGINNING; /* nothing committed yet: auto.offset.reset */
    }
    if (!err) {
        rd_kafka_error_t *error = rd_kafka_seek_partitions(t->consumer, list, 30000);
        if (error) {
            err = rd_kafka_error_code(error);
            rd_kafka_error_destroy(error);
        }
    }
    for (int i = 0; !err && i < list->cnt; i++)
        for (size_t s = 0; s < t->nslots; s++)
            if (t->slots[s].partition == list->elems[i].partition &&
                strcmp(t->slots[s].topic, list->elems[i].topic) == 0) {
                int64_t o = list->elems[i].offset;
                t->slots[s].next_offset = o >= 0 ? o : -1;
                t->slots[s].committed = o >= 0 ? o : -1;
            }
    rd_kafka_topic_partition_list_destroy(list);
    if (err) {
        thread_fail(t, RILL_EKAFKA, "cannot rewind to the committed offsets: %s",
                    rd_kafka_err2str(err));
        return RILL_EKAFKA;
    }
    t->dirty = false;
    return reset_tasks(t);
}

/*
 * After a fatal transactional error (the coordinator aborted the transaction on its timeout and
 * bumped the producer's epoch, or refused an abort while it moved to another broker): the
 * producer is unusable. A new one with the same transactional.id (its init_transactions fences
 * the old one and aborts what it left open), then a rewind to the last commit, as Kafka Streams
 * does with a task-migrated error. More than three in a minute stops the thread: something is
 * wrong beyond one outage.
 */
static int renew_producer(stream_thread_t *t, const char *why, bool rewind)
{
    int64_t now = now_ms();
    if (t->renewed_at[2] && now - t->renewed_at[2] < 60000) {
        thread_fail(t, RILL_EKAFKA,
                    "the transactional producer failed a fourth time within a minute: %s", why);
        return RILL_EKAFKA;
    }
    memmove(&t->renewed_at[1], &t->renewed_at[0], 2 * sizeof t->renewed_at[0]);
    t->renewed_at[0] = now;
    rill_log(RILL_LOG_WARN, "thread",
             "%s: the transactional producer failed (%s): making a new one and rewinding to the "
             "last commit",
             t->name, why);
    drop_out_topics(t);
    rd_kafka_queue_destroy(t->pq);
    t->pq = NULL;
    rd_kafka_purge(t->producer, RD_KAFKA_PURGE_F_QUEUE | RD_KAFKA_PURGE_F_INFLIGHT);
    rd_kafka_poll(t->producer, 0); /* the purged records' reports */
    rd_kafka_destroy(t->producer);
    char err[512];
    t->producer = make_client(t, RD_KAFKA_PRODUCER, err, sizeof err);
    if (!t->producer) {
        thread_fail(t, RILL_EKAFKA, "cannot make a new transactional producer: %s", err);
        return RILL_EKAFKA;
    }
    rd_kafka_error_t *error = rd_kafka_init_transactions(
        t->producer, (int)rill__conf_int(t->app->conf, "cluster.connect.timeout.ms"));
    if (error) {
        thread_fail(t, RILL_EKAFKA, "cannot start a new transactional producer: %s",
                    rd_kafka_error_string(error));
        rd_kafka_error_destroy(error);
        return RILL_EKAFKA;
    }
    t->pq = rd_kafka_queue_get_main(t->producer);
    rd_kafka_queue_io_event_enable(t->pq, t->pipefd[1], "p", 1);
    t->in_txn = false;
    t->dirty = false;
    t->delivery_error[0] = 0;
    return rewind ? rewind_to_commit(t) : 0;
}

/* Aborts the open transaction and rewinds to the last commit. */
static int abort_and_rewind(stream_thread_t *t, const char *why)
{
    rill_log(RILL_LOG_WARN, "thread",
             "%s: aborting the transaction (%s); rewinding to the last commit", t->name, why);
    rd_kafka_error_t *error = rd_kafka_abort_transaction(t->producer, 60000);
    if (error) {
        char msg[512];
        snprintf(msg, sizeof msg, "cannot abort the transaction: %s", rd_kafka_error_string(error));
        bool fatal = rd_kafka_error_is_fatal(error);
        rd_kafka_error_destroy(error);
        if (fatal)
            return renew_producer(t, msg, true);
        thread_fail(t, RILL_EKAFKA, "%s", msg);
        return RILL_EKAFKA;
    }
    return rewind_to_commit(t);
}

/* Ends the transaction: the consumed offsets join it, then it commits. Abortable errors abort
 * and rewind; fatal ones (this producer was fenced: another instance took over) stop the
 * thread with a message. */
static int commit_txn(stream_thread_t *t)
{
    if (!t->in_txn && begin_txn(t))
        return RILL_EKAFKA;
    rd_kafka_topic_partition_list_t *list =
        rd_kafka_topic_partition_list_new((int)(t->nslots ? t->nslots : 1));
    for (size_t i = 0; i < t->nslots; i++) {
        slot_t *s = &t->slots[i];
        if (s->next_offset > s->committed)
            rd_kafka_topic_partition_list_add(list, s->topic, s->partition)->offset =
                s->next_offset;
    }
    rd_kafka_error_t *error = NULL;
    if (list->cnt) {
        rd_kafka_consumer_group_metadata_t *cgmd = rd_kafka_consumer_group_metadata(t->consumer);
        error = rd_kafka_send_offsets_to_transaction(t->producer, list, cgmd, 30000);
        rd_kafka_consumer_group_metadata_destroy(cgmd);
    }
    for (int attempt = 0; !error || rd_kafka_error_is_retriable(error); attempt++) {
        if (error) {
            if (attempt >= 5)
                break;
            rill_log(RILL_LOG_WARN, "thread", "%s: committing the transaction: %s (retrying)",
                     t->name, rd_kafka_error_string(error));
            rd_kafka_error_destroy(error);
        }
        error = rd_kafka_commit_transaction(t->producer, 60000);
        if (!error)
            break;
    }
    int rc = 0;
    if (!error) {
        t->in_txn = false;
        t->dirty = false;
        for (size_t i = 0; i < t->nslots; i++)
            if (t->slots[i].next_offset > t->slots[i].committed)
                t->slots[i].committed = t->slots[i].next_offset;
        atomic_fetch_add(&t->m_commits, 1);
        rc = commit_stores(t);
        purge_repartitions(t);
    } else if (rd_kafka_error_txn_requires_abort(error)) {
        char why[512];
        snprintf(why, sizeof why, "%s", rd_kafka_error_string(error));
        rc = abort_and_rewind(t, why);
    } else if (rd_kafka_error_is_fatal(error)) {
        char why[600];
        snprintf(why, sizeof why,
                 "cannot commit the transaction (fatal: the transaction timed out and its "
                 "coordinator aborted it, or another instance with the same state directory "
                 "fenced this one): %s",
                 rd_kafka_error_string(error));
        rc = renew_producer(t, why, true);
    } else {
        thread_fail(t, RILL_EKAFKA, "cannot commit the transaction: %s",
                    rd_kafka_error_string(error));
        rc = RILL_EKAFKA;
    }
    if (error)
        rd_kafka_error_destroy(error);
    rd_kafka_topic_partition_list_destroy(list);
    return rc;
}

/* Deletes what the thread committed from the repartition topics it reads, at most every 30 s
 * (Kafka Streams' repartition.purge.interval.ms): they keep records forever otherwise. The
 * result is not awaited; a failure only leaves records for the next purge. */
static void purge_repartitions(stream_thread_t *t)
{
    int64_t now = now_ms();
    if (t->app->embedded || now - t->last_purge < 30000)
        return;
    t->last_purge = now;
    const char *app_id = t->env.application_id;
    size_t app_len = strlen(app_id);
    rd_kafka_topic_partition_list_t *list = rd_kafka_topic_partition_list_new(4);
    for (size_t i = 0; i < t->nslots; i++) {
        const slot_t *s = &t->slots[i];
        size_t n = strlen(s->topic);
        if (s->committed > 0 && strncmp(s->topic, app_id, app_len) == 0 && n > 12 &&
            strcmp(s->topic + n - 12, "-repartition") == 0)
            rd_kafka_topic_partition_list_add(list, s->topic, s->partition)->offset = s->committed;
    }
    if (list->cnt) {
        rd_kafka_DeleteRecords_t *del = rd_kafka_DeleteRecords_new(list);
        rd_kafka_queue_t *q = rd_kafka_queue_new(t->producer);
        rd_kafka_DeleteRecords(t->producer, &del, 1, NULL, q);
        rd_kafka_queue_destroy(q); /* the result, when it comes, is dropped */
        rd_kafka_DeleteRecords_destroy(del);
    }
    rd_kafka_topic_partition_list_destroy(list);
}

/* The result of an asynchronous commit (served on the loop thread). A partition whose commit
 * failed is marked uncommitted again, so the next commit (or the one at close) retries it. */
static void offset_commit_cb(rd_kafka_t *rk, rd_kafka_resp_err_t err,
                             rd_kafka_topic_partition_list_t *offsets, void *opaque)
{
    stream_thread_t *t = opaque;
    if (!err || err == RD_KAFKA_RESP_ERR__NO_OFFSET) {
        atomic_fetch_add(&t->m_commits, 1);
        return;
    }
    rill_log(RILL_LOG_WARN, "thread",
             "%s: asynchronous offset commit failed (retried at the next commit): %s", t->name,
             rd_kafka_err2str(err));
    for (int i = 0; offsets && i < offsets->cnt; i++)
        for (size_t s = 0; s < t->nslots; s++)
            if (t->slots[s].partition == offsets->elems[i].partition &&
                strcmp(t->slots[s].topic, offsets->elems[i].topic) == 0)
                t->slots[s].committed = -1;
    t->dirty = true;
}

/* ---- rebalance ---- */

static void rebalance_cb(rd_kafka_t *rk, rd_kafka_resp_err_t err,
                         rd_kafka_topic_partition_list_t *parts, void *opaque)
{
    stream_thread_t *t = opaque;
    bool cooperative = strcmp(rd_kafka_rebalance_protocol(rk), "COOPERATIVE") == 0;
    atomic_fetch_add(&t->m_rebalances, 1);
    if (err == RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS) {
        rill_log(RILL_LOG_INFO, "thread", "%s: assigned %d partition(s)", t->name, parts->cnt);
        int rc = slots_add(t, parts);
        if (rc && !t->failed)
            thread_fail(t, rc, "cannot take the assigned partitions: %s", rill_strerror(rc));
        rd_kafka_error_t *error = cooperative ? rd_kafka_incremental_assign(rk, parts) : NULL;
        if (!cooperative && rd_kafka_assign(rk, parts))
            thread_fail(t, RILL_EKAFKA, "cannot assign %d partition(s)", parts->cnt);
        if (error) {
            thread_fail(t, RILL_EKAFKA, "cannot assign: %s", rd_kafka_error_string(error));
            rd_kafka_error_destroy(error);
        }
        if (!t->stopping)
            set_running(t, true);
    } else {
        bool lost = rd_kafka_assignment_lost(rk);
        rill_log(RILL_LOG_INFO, "thread", "%s: %d partition(s) %s", t->name, parts->cnt,
                 lost ? "lost (the group moved on without this member)" : "revoked");
        set_running(t, false);
        if (!lost) {
            /* Commit what was processed while the partitions are still ours. */
            commit(t, true);
        } else if (t->eos && t->in_txn) {
            /* They are someone else's already: a commit would be refused. What this thread did
             * since its last commit is dropped (the transaction, the stores' pending writes with
             * the tasks) and done again by the new owner. */
            rd_kafka_error_t *error = rd_kafka_abort_transaction(t->producer, 30000);
            if (error) {
                char msg[512];
                snprintf(msg, sizeof msg, "cannot abort the transaction of lost partitions: %s",
                         rd_kafka_error_string(error));
                if (rd_kafka_error_is_fatal(error))
                    renew_producer(t, msg, false); /* the tasks close below */
                else
                    thread_fail(t, RILL_EKAFKA, "%s", msg);
                rd_kafka_error_destroy(error);
            } else {
                t->in_txn = false;
                t->dirty = false;
                t->delivery_error[0] = 0;
            }
        }
        slots_remove(t, cooperative ? parts : NULL);
        rd_kafka_error_t *error = cooperative ? rd_kafka_incremental_unassign(rk, parts) : NULL;
        if (!cooperative)
            rd_kafka_assign(rk, NULL);
        if (error) {
            rill_log(RILL_LOG_WARN, "thread", "%s: cannot unassign: %s", t->name,
                     rd_kafka_error_string(error));
            rd_kafka_error_destroy(error);
        }
    }
}

/* ---- processing ---- */

static int load_headers(rill_headers_t *self)
{
    struct lazy_headers *lazy = (struct lazy_headers *)self;
    stream_thread_t *t = lazy->thread;
    rd_kafka_headers_t *hdrs;
    if (rd_kafka_message_headers(lazy->msg, &hdrs) != 0)
        return 0; /* none */
    size_t n = rd_kafka_header_cnt(hdrs);
    if (n > t->hdrs_cap) {
        rill_header_t *h = rill_realloc(t->hdrs, n * sizeof *h);
        if (!h)
            return RILL_ENOMEM;
        t->hdrs = h;
        t->hdrs_cap = n;
    }
    for (size_t i = 0; i < n; i++) {
        const void *v;
        size_t len;
        rd_kafka_header_get_all(hdrs, i, &t->hdrs[i].name, &v, &len);
        t->hdrs[i].value = (rill_buf_t){v, len};
    }
    self->items = t->hdrs;
    self->count = n;
    return 0;
}

static int process_message(stream_thread_t *t, rd_kafka_message_t *msg)
{
    if (msg->err) {
        if (msg->err == RD_KAFKA_RESP_ERR__PARTITION_EOF)
            return 0;
        if (rd_kafka_fatal_error(t->consumer, NULL, 0)) {
            thread_fail(t, RILL_EKAFKA, "fatal consumer error: %s", rd_kafka_message_errstr(msg));
            return RILL_EKAFKA;
        }
        rill_log(RILL_LOG_WARN, "thread", "%s: consumer: %s", t->name,
                 rd_kafka_message_errstr(msg));
        return 0;
    }
    slot_t *slot = slot_for(t, msg);
    t->last_processed = slot != NULL && !t->rewound;
    if (!slot || t->rewound)
        return 0; /* from a partition revoked a moment ago, or fetched before a rewind */
    rill_record_t raw = {
        .key = {msg->key, msg->key_len},
        .value = {msg->payload, msg->len},
        .timestamp = rd_kafka_message_timestamp(msg, NULL),
        .topic = slot->topic,
        .partition = msg->partition,
        .offset = msg->offset,
    };
    /* librdkafka allocates to parse a record's headers, even none: leave it to the first
     * reader, so records the topology drops never pay for it. */
    t->lazy.headers = (rill_headers_t){NULL, 0, load_headers};
    t->lazy.msg = msg;
    raw.headers = &t->lazy.headers;
    int rc = rill__task_process(slot->task, slot->source, &raw);
    if (rc) {
        thread_fail(t, rc, "%s", rill__task_error(slot->task));
        return rc;
    }
    slot->next_offset = msg->offset + 1;
    t->dirty = true;
    return 0;
}

static void update_metrics(stream_thread_t *t)
{
    uint64_t processed = 0, skipped = t->closed_skipped, late = t->closed_late;
    for (size_t i = 0; i < t->ntasks; i++) {
        const rill_task_metrics_t *m = rill__task_metrics(t->tasks[i].task);
        processed += m->processed;
        skipped += m->skipped;
        late += m->late_dropped;
    }
    atomic_store_explicit(&t->m_skipped, (int_fast64_t)skipped, memory_order_relaxed);
    atomic_store_explicit(&t->m_late, (int_fast64_t)late, memory_order_relaxed);
    (void)processed;
}

static void rearm_punctuation(stream_thread_t *t);
static void more_cb(uv_idle_t *h);

/* Serves librdkafka's queues: delivery reports, then up to 8 batches of records. When the
 * consumer queue may still hold records, the idle handle brings us back on the next loop turn
 * (timers and the stop request get their turn in between). */
static void serve(stream_thread_t *t)
{
    if (t->stopping)
        return;
    rd_kafka_poll(t->producer, 0);
    bool more = false;
    for (int b = 0; b < 8 && !t->stopping && !t->failed; b++) {
        ssize_t n = rd_kafka_consume_batch_queue(t->cq, 0, t->batch, t->batch_size);
        if (n <= 0)
            break;
        t->rewound = false;
        int_fast64_t ok = 0;
        for (ssize_t i = 0; i < n; i++) {
            if (!t->failed && process_message(t, t->batch[i]) == 0 && !t->batch[i]->err &&
                t->last_processed)
                ok++;
            rd_kafka_message_destroy(t->batch[i]);
        }
        atomic_fetch_add_explicit(&t->m_processed, ok, memory_order_relaxed);
        more = (size_t)n == t->batch_size;
    }
    update_metrics(t);
    if (more && !t->stopping)
        uv_idle_start(&t->more, more_cb);
    else
        uv_idle_stop(&t->more);
    rearm_punctuation(t);
}

static void more_cb(uv_idle_t *h)
{
    serve(h->data);
}

static void poll_cb(uv_poll_t *h, int status, int events)
{
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
        commit(t, false);
}

static void punct_timer_cb(uv_timer_t *h)
{
    stream_thread_t *t = h->data;
    int64_t now = now_ms();
    for (size_t i = 0; i < t->ntasks && !t->failed; i++)
        if (rill__task_punctuate(t->tasks[i].task, now))
            thread_fail(t, RILL_EPROCESS, "%s", rill__task_error(t->tasks[i].task));
    rearm_punctuation(t);
}

static void rearm_punctuation(stream_thread_t *t)
{
    int64_t next = INT64_MAX;
    for (size_t i = 0; i < t->ntasks; i++) {
        int64_t n = rill__task_next_punctuation(t->tasks[i].task);
        if (n < next)
            next = n;
    }
    if (next == INT64_MAX || t->stopping) {
        uv_timer_stop(&t->punct_timer);
        return;
    }
    int64_t delay = next - now_ms();
    uv_timer_start(&t->punct_timer, punct_timer_cb, delay > 0 ? (uint64_t)delay : 0, 0);
}

/* ---- lifecycle ---- */

static void close_handle(uv_handle_t *h)
{
    if (!uv_is_closing(h))
        uv_close(h, NULL);
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
    set_running(t, false);
    commit(t, true);
    rill__app_thread_committed(t->app);
    /* Leaving the group revokes the partitions through rebalance_cb, which closes the tasks. */
    rd_kafka_consumer_close(t->consumer);
    slots_remove(t, NULL);
    update_metrics(t);
    close_handle((uv_handle_t *)&t->poll);
    close_handle((uv_handle_t *)&t->commit_timer);
    close_handle((uv_handle_t *)&t->punct_timer);
    close_handle((uv_handle_t *)&t->keepalive_timer);
    close_handle((uv_handle_t *)&t->more);
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
    /* Subscribe to every source topic and pattern ("^" marks a regex for librdkafka). */
    rd_kafka_topic_partition_list_t *sub = rd_kafka_topic_partition_list_new(8);
    for (size_t i = 0; i < t->app->ntopics; i++) {
        int st, source;
        if (rill__topology_find_source(t->app->topo, t->env.application_id, t->app->topics[i].name,
                                       &st, &source) == 0)
            rd_kafka_topic_partition_list_add(sub, t->app->topics[i].name, RD_KAFKA_PARTITION_UA);
    }
    for (int st = 0; st < rill__topology_subtopology_count(t->app->topo); st++)
        rill__topology_source_patterns(t->app->topo, st, add_pattern, sub);
    rd_kafka_resp_err_t err = rd_kafka_subscribe(t->consumer, sub);
    rd_kafka_topic_partition_list_destroy(sub);
    if (err) {
        thread_fail(t, RILL_EKAFKA, "cannot subscribe: %s", rd_kafka_err2str(err));
        shutdown_thread(t);
    } else {
        uint64_t interval = (uint64_t)rill__conf_commit_interval(t->app->conf);
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
}

static rd_kafka_t *make_client(stream_thread_t *t, rd_kafka_type_t type, char *errstr,
                               size_t errstr_size)
{
    rd_kafka_conf_t *kconf = rd_kafka_conf_new();
    char client_id[300], kerr[512];
    snprintf(client_id, sizeof client_id, "%s-StreamThread-%d-%s", t->env.application_id,
             t->index + 1, type == RD_KAFKA_CONSUMER ? "consumer" : "producer");
    struct {
        const char *k, *v;
    } base[] = {
        {"bootstrap.servers", t->app->bootstrap},
        {"client.id", client_id},
        {type == RD_KAFKA_CONSUMER ? "group.id" : "acks",
         type == RD_KAFKA_CONSUMER ? t->env.application_id : "all"},
        {type == RD_KAFKA_CONSUMER ? "enable.auto.commit" : "enable.idempotence",
         type == RD_KAFKA_CONSUMER ? "false" : "true"},
        {type == RD_KAFKA_CONSUMER ? "enable.auto.offset.store" : "partitioner",
         type == RD_KAFKA_CONSUMER ? "false" : "murmur2_random"},
        {type == RD_KAFKA_CONSUMER ? "auto.offset.reset" : "linger.ms",
         type == RD_KAFKA_CONSUMER ? "earliest" : "5"},
    };
    for (size_t i = 0; i < sizeof base / sizeof base[0]; i++)
        if (rd_kafka_conf_set(kconf, base[i].k, base[i].v, kerr, sizeof kerr)) {
            snprintf(errstr, errstr_size, "%s: %s", base[i].k, kerr);
            rd_kafka_conf_destroy(kconf);
            return NULL;
        }
    /* Before 2.2, librdkafka stops fetching for a fixed second once queued.min.messages
     * records wait in the consumer's queue (100,000 by default, across the partitions), and a
     * stream thread that drains a little slower than the fetches arrive stalls a second at a
     * time. Queue more records; memory stays bounded by queued.max.messages.kbytes (64 MiB). */
    if (type == RD_KAFKA_CONSUMER)
        rd_kafka_conf_set(kconf, "queued.min.messages", "1000000", kerr, sizeof kerr);
    /* librdkafka's mock coordinator waits session.timeout.ms - 1 s for members before it
     * rebalances a group that is up (44 s at the default 45 s): on the embedded cluster, use
     * Kafka's smallest session timeout so rebalances take about 5 s. Users may override it. */
    if (t->app->embedded && type == RD_KAFKA_CONSUMER)
        rd_kafka_conf_set(kconf, "session.timeout.ms", "6000", kerr, sizeof kerr);
    /* Exactly-once: Kafka Streams' producer transaction timeout (users may change it). */
    if (t->eos && type == RD_KAFKA_PRODUCER)
        rd_kafka_conf_set(kconf, "transaction.timeout.ms", "10000", kerr, sizeof kerr);
    if (rill__conf_apply(t->app->conf, kconf,
                         type == RD_KAFKA_CONSUMER ? SCOPE_CONSUMER : SCOPE_PRODUCER, kerr,
                         sizeof kerr)) {
        snprintf(errstr, errstr_size, "%s", kerr);
        rd_kafka_conf_destroy(kconf);
        return NULL;
    }
    if (t->eos) {
        /* Set last, so no pass-through setting undoes them. The transactional id is stable
         * across restarts of this instance (its process id lives in the state directory): a
         * restarted thread fences its predecessor and aborts the transaction it left open at
         * once, instead of readers waiting transaction.timeout.ms for it. */
        char txn_id[400];
        snprintf(txn_id, sizeof txn_id, "%s-%s-%d", t->env.application_id, t->app->process_id,
                 t->index + 1);
        if ((type == RD_KAFKA_PRODUCER &&
             rd_kafka_conf_set(kconf, "transactional.id", txn_id, kerr, sizeof kerr)) ||
            (type == RD_KAFKA_CONSUMER &&
             rd_kafka_conf_set(kconf, "isolation.level", "read_committed", kerr, sizeof kerr))) {
            snprintf(errstr, errstr_size, "%s", kerr);
            rd_kafka_conf_destroy(kconf);
            return NULL;
        }
    }
    rd_kafka_conf_set_opaque(kconf, t);
    rd_kafka_conf_set_log_cb(kconf, rill__kafka_log_cb);
    if (type == RD_KAFKA_CONSUMER) {
        rd_kafka_conf_set_rebalance_cb(kconf, rebalance_cb);
        rd_kafka_conf_set_offset_commit_cb(kconf, offset_commit_cb);
    } else {
        rd_kafka_conf_set_dr_msg_cb(kconf, dr_msg_cb);
    }
    rd_kafka_t *rk = rd_kafka_new(type, kconf, kerr, sizeof kerr);
    if (!rk) {
        snprintf(errstr, errstr_size, "%s", kerr);
        rd_kafka_conf_destroy(kconf);
    }
    return rk;
}

stream_thread_t *rill__thread_new(rill_app_t *app, int index, char *errstr, size_t errstr_size)
{
    stream_thread_t *t = rill_calloc(1, sizeof *t);
    if (!t) {
        snprintf(errstr, errstr_size, "out of memory");
        return NULL;
    }
    t->app = app;
    t->index = index;
    t->lazy.thread = t;
    t->pipefd[0] = t->pipefd[1] = -1;
    pthread_mutex_init(&t->stop_lock, NULL);
    snprintf(t->name, sizeof t->name, "%s-StreamThread-%d", app->env.application_id, index + 1);
    t->env = app->env;
    t->env.collector = (rill_collector_t){collector_send, collector_partitions, t};
    t->batch_size = (size_t)rill__conf_int(app->conf, "poll.batch.size");
    t->eos = rill__conf_eos(app->conf);
    t->batch = rill_calloc(t->batch_size, sizeof *t->batch);
    t->restore_recs = rill_calloc(t->batch_size, sizeof *t->restore_recs);
    if (!t->batch || !t->restore_recs || pipe(t->pipefd) != 0) {
        snprintf(errstr, errstr_size, "cannot set up %s: %s", t->name, strerror(errno));
        rill__thread_join_destroy(t);
        return NULL;
    }
    fcntl(t->pipefd[0], F_SETFL, O_NONBLOCK);
    fcntl(t->pipefd[1], F_SETFL, O_NONBLOCK);
    if (!(t->consumer = make_client(t, RD_KAFKA_CONSUMER, errstr, errstr_size)) ||
        !(t->producer = make_client(t, RD_KAFKA_PRODUCER, errstr, errstr_size))) {
        rill__thread_join_destroy(t);
        return NULL;
    }
    if (t->eos) {
        rd_kafka_error_t *error = rd_kafka_init_transactions(
            t->producer, (int)rill__conf_int(app->conf, "cluster.connect.timeout.ms"));
        if (error) {
            snprintf(errstr, errstr_size, "%s: cannot start its transactional producer: %s",
                     t->name, rd_kafka_error_string(error));
            rd_kafka_error_destroy(error);
            rill__thread_join_destroy(t);
            return NULL;
        }
    }
    /* Every event of the consumer (records, rebalances, errors) arrives on its queue; both
     * queues write a byte to the pipe when they go from empty to non-empty. */
    rd_kafka_poll_set_consumer(t->consumer);
    t->cq = rd_kafka_queue_get_consumer(t->consumer);
    t->pq = rd_kafka_queue_get_main(t->producer);
    rd_kafka_queue_io_event_enable(t->cq, t->pipefd[1], "c", 1);
    rd_kafka_queue_io_event_enable(t->pq, t->pipefd[1], "p", 1);
    uv_loop_init(&t->loop);
    uv_poll_init(&t->loop, &t->poll, t->pipefd[0]);
    uv_timer_init(&t->loop, &t->commit_timer);
    uv_timer_init(&t->loop, &t->punct_timer);
    uv_timer_init(&t->loop, &t->keepalive_timer);
    uv_idle_init(&t->loop, &t->more);
    uv_async_init(&t->loop, &t->stop_async, stop_cb);
    uv_unref((uv_handle_t *)&t->stop_async); /* the loop ends when the other handles close */
    t->poll.data = t->commit_timer.data = t->punct_timer.data = t->more.data =
        t->keepalive_timer.data = t->stop_async.data = t;
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

void rill__thread_stop(stream_thread_t *t)
{
    atomic_store(&t->stop_requested, true);
    pthread_mutex_lock(&t->stop_lock);
    if (t->tid_valid && !t->loop_done)
        uv_async_send(&t->stop_async);
    pthread_mutex_unlock(&t->stop_lock);
}

void rill__thread_join(stream_thread_t *t)
{
    if (!t || !t->tid_valid || t->joined)
        return;
    uv_thread_join(&t->tid);
    t->joined = true;
    int rc = uv_loop_close(&t->loop);
    if (rc)
        rill_log(RILL_LOG_WARN, "thread", "%s: loop did not close: %s", t->name, uv_strerror(rc));
}

void rill__thread_join_destroy(stream_thread_t *t)
{
    rill__thread_join(t);
    rill__thread_destroy(t);
}

void rill__thread_destroy(stream_thread_t *t)
{
    if (!t)
        return;
    if (!t->tid_valid && t->cq) {
        /* Never started: close the handles on a loop turn of our own. */
        uv_close((uv_handle_t *)&t->poll, NULL);
        uv_close((uv_handle_t *)&t->commit_timer, NULL);
        uv_close((uv_handle_t *)&t->punct_timer, NULL);
        uv_close((uv_handle_t *)&t->keepalive_timer, NULL);
        uv_close((uv_handle_t *)&t->more, NULL);
        uv_close((uv_handle_t *)&t->stop_async, NULL);
        uv_run(&t->loop, UV_RUN_DEFAULT);
        uv_loop_close(&t->loop);
        rd_kafka_consumer_close(t->consumer);
    }
    drop_out_topics(t);
    rill_free(t->outs);
    if (t->cq)
        rd_kafka_queue_destroy(t->cq);
    if (t->pq)
        rd_kafka_queue_destroy(t->pq);
    if (t->consumer)
        rd_kafka_destroy(t->consumer);
    if (t->producer) {
        rd_kafka_flush(t->producer, 10000);
        rd_kafka_destroy(t->producer);
        t->producer = NULL; /* tasks closed from here on keep their last checkpoint */
    }
    if (t->restorer)
        rd_kafka_destroy(t->restorer);
    slots_remove(t, NULL);
    rill_free(t->slots);
    rill_free(t->tasks);
    rill_free(t->batch);
    rill_free(t->restore_recs);
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

int64_t rill__thread_metric(stream_thread_t *t, const char *name)
{
    if (strcmp(name, "records-processed") == 0)
        return atomic_load_explicit(&t->m_processed, memory_order_relaxed);
    if (strcmp(name, "records-produced") == 0)
        return atomic_load_explicit(&t->m_produced, memory_order_relaxed);
    if (strcmp(name, "records-skipped") == 0)
        return atomic_load_explicit(&t->m_skipped, memory_order_relaxed);
    if (strcmp(name, "commits") == 0)
        return atomic_load(&t->m_commits);
    if (strcmp(name, "rebalances") == 0)
        return atomic_load(&t->m_rebalances);
    if (strcmp(name, "tasks") == 0)
        return atomic_load(&t->m_tasks);
    if (strcmp(name, "records-restored") == 0)
        return atomic_load(&t->m_restored);
    if (strcmp(name, "late-records-dropped") == 0)
        return atomic_load_explicit(&t->m_late, memory_order_relaxed);
    return -1;
}

int rill__thread_tasks(stream_thread_t *t, int st, int32_t partition,
                       bool (*fn)(void *ud, rill_task_t *task, int32_t partition), void *ud)
{
    int seen = 0;
    for (size_t i = 0; i < t->ntasks; i++) {
        if (t->tasks[i].st != st || (partition >= 0 && t->tasks[i].partition != partition))
            continue;
        seen++;
        if (!fn(ud, t->tasks[i].task, t->tasks[i].partition))
            break;
    }
    return seen;
}
