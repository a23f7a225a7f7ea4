/*
 * The global stream thread: loads the app's global stores from their topics before any stream
 * thread processes, then keeps them current. Its loop, like a stream thread's, is a libuv loop
 * woken by the consumer queue's pipe; each turn takes at most one batch (poll.batch.size) and
 * writes it into the stores in one write batch per store, so a stop request or a timer is never
 * kept waiting by a large topic.
 *
 * Loading reads every partition from the stores' checkpoint (or offset 0) to the end, which is
 * where the consumer reports end-of-partition (enable.partition.eof), as restoration does
 * (changelog_reader.c says why it is not a number asked of the leader first); on the embedded
 * cluster the end is asked first, an in-process call. A checkpoint outside its topic (the
 * consumer says so: auto.offset.reset=error) wipes that store and loads it from the start;
 * offset 0 out of range (the head was deleted) starts at the log's start. Once every partition
 * is at its end, the stores are checkpointed and the app is told (ready). From then on records
 * go in as they come, and the stores are checkpointed every commit.interval.ms once 10,000
 * records have gone in since the last checkpoint (Kafka Streams' GlobalStateUpdateTask does the
 * same), and when the thread stops.
 */
#include "global_thread.h"

#include "clients.h"

#include <uv.h>

#include <fcntl.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

/* While loading: how often the loop checks for stalls and logs progress. */
#define LOAD_STEP_MS 100
/* A partition that receives nothing for this long while loading fails the thread. */
#define LOAD_STALL_MS 60000
/* Progress lines of a long load. */
#define LOAD_LOG_MS 10000
/* The embedded cluster's end-offset query. */
#define EMBEDDED_QUERY_MS 2000
/* Records since the last checkpoint before a commit interval writes one. */
#define CHECKPOINT_RECORDS 10000

/* One partition of a global store's topic. */
typedef struct {
    size_t store; /* index in the global set */
    const char *topic;
    int32_t partition;
    const rd_kafka_topic_t *rkt; /* learned from the first message */
    int64_t from;                /* where loading started (-1: the start) */
    int64_t pos;                 /* the next offset to read (-1: the start) */
    int64_t stop_at;             /* loading ends here; INT64_MAX: at end-of-partition */
    uint64_t total, turn;        /* records loaded; in this turn */
    bool beginning;              /* offset 0 was out of range: read from the log's start */
    bool started, done;          /* loading */
    int64_t stale_at; /* an out-of-range error at this offset is from before a wipe (-1: none) */
} part_t;

struct global_thread {
    thread_ctx_t ctx;
    char name[300];
    rill_global_t *g;
    global_events_t ev;
    rd_kafka_t *rk;
    rd_kafka_queue_t *q;
    int pipefd[2];
    uv_loop_t loop;
    uv_poll_t poll;
    uv_timer_t timer; /* loading: stalls and progress; then: checkpoints */
    uv_idle_t more;
    uv_async_t stop_async;
    uv_thread_t tid;
    pthread_mutex_t stop_lock;
    bool loop_made, tid_valid, joined, loop_done, stopping, failed, reassign;
    atomic_bool stop_requested, ready;
    part_t *parts;
    size_t nparts;
    size_t batch_size;
    rd_kafka_message_t **batch;
    rill_record_t *recs;
    int64_t t0, last_progress, last_log; /* monotonic ms */
};

static void fail(global_thread_t *t, int err, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void fail(global_thread_t *t, int err, const char *fmt, ...)
{
    if (t->failed)
        return;
    t->failed = true;
    char msg[1200];
    int n = snprintf(msg, sizeof msg, "%s: ", t->name);
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg + n, sizeof msg - (size_t)n, fmt, ap);
    va_end(ap);
    t->ev.failed(t->ev.ud, err, msg);
}

static void timer_cb(uv_timer_t *h);
static void more_cb(uv_idle_t *h);

/* ---- loading ---- */

/* On the embedded cluster: asks where partition p ends; a store already there has nothing to
 * load. */
static void embedded_end(global_thread_t *t, part_t *p)
{
    int64_t lo = 0, hi = 0;
    if (rd_kafka_query_watermark_offsets(t->rk, p->topic, p->partition, &lo, &hi,
                                         EMBEDDED_QUERY_MS))
        return; /* the end-of-partition event decides */
    p->stop_at = hi;
    p->done = (p->from < 0 && hi == lo) || p->from == hi;
}

/* How long the start waits for the offsets of a global store's partitions. */
#define CHECKPOINT_QUERY_MS 5000

/* Before the first assignment, a store's checkpoint is checked against its partitions' offsets
 * (two ListOffsets requests for all of them): a checkpoint outside a partition wipes the store,
 * which then loads from the start; a partition whose log no longer starts at 0 is read from its
 * start. Assigning once with offsets known to be good spares the reassignment an out-of-range
 * error needs (reset(), still there when the log moves between this check and the fetch),
 * which librdkafka 2.0.2 can assert on (its issue #5573). Runs in the global thread before its
 * loop starts, as embedded_end() does; without an answer the out-of-range path decides. */
static int check_offsets(global_thread_t *t, size_t store, part_t *parts, size_t n)
{
    rd_kafka_topic_partition_list_t *lo = rd_kafka_topic_partition_list_new((int)n);
    rd_kafka_topic_partition_list_t *hi = rd_kafka_topic_partition_list_new((int)n);
    for (size_t k = 0; k < n; k++) {
        rd_kafka_topic_partition_list_add(lo, parts[k].topic, parts[k].partition)->offset =
            RD_KAFKA_OFFSET_BEGINNING;
        rd_kafka_topic_partition_list_add(hi, parts[k].topic, parts[k].partition)->offset =
            RD_KAFKA_OFFSET_END;
    }
    bool answered = rd_kafka_offsets_for_times(t->rk, lo, CHECKPOINT_QUERY_MS) == 0 &&
                    rd_kafka_offsets_for_times(t->rk, hi, CHECKPOINT_QUERY_MS) == 0;
    part_t *outside = NULL;
    int64_t out_lo = 0, out_hi = 0;
    for (size_t k = 0; answered && k < n; k++) {
        const rd_kafka_topic_partition_t *l = &lo->elems[k], *h = &hi->elems[k];
        if (l->err || h->err || l->offset < 0 || h->offset < 0)
            continue;
        part_t *p = &parts[k];
        p->beginning = l->offset > 0;
        if (p->from >= 0 && (p->from < l->offset || p->from > h->offset) && !outside) {
            outside = p;
            out_lo = l->offset, out_hi = h->offset;
        }
    }
    int rc = 0;
    if (outside) {
        rill_log(RILL_LOG_WARN, "state",
                 "%s: the checkpoint of global store '%s' (offset %lld) is outside %s [%d] "
                 "(offsets %lld..%lld): wiping the store and loading it from the start of its "
                 "topic",
                 t->name, rill__global_name(t->g, store), (long long)outside->from, outside->topic,
                 outside->partition, (long long)out_lo, (long long)out_hi);
        if (rill__global_reset(t->g, store)) {
            fail(t, RILL_EIO, "%s", rill__global_error(t->g));
            rc = RILL_EIO;
        }
        for (size_t k = 0; k < n; k++)
            parts[k].from = parts[k].pos = -1;
    }
    rd_kafka_topic_partition_list_destroy(lo);
    rd_kafka_topic_partition_list_destroy(hi);
    return rc;
}

static int make_parts(global_thread_t *t)
{
    size_t n = 0;
    for (size_t i = 0; i < rill__global_count(t->g); i++) {
        int32_t count = t->ctx.events.partitions(t->ctx.events.ud, rill__global_topic(t->g, i));
        if (count <= 0) {
            fail(t, RILL_ENOENT, "global store '%s': its topic '%s' has no known partition count",
                 rill__global_name(t->g, i), rill__global_topic(t->g, i));
            return RILL_ENOENT;
        }
        part_t *parts = rill_realloc(t->parts, (n + (size_t)count) * sizeof *parts);
        if (!parts) {
            fail(t, RILL_ENOMEM, "out of memory");
            return RILL_ENOMEM;
        }
        t->parts = parts;
        for (int32_t k = 0; k < count; k++) {
            int64_t from = rill__global_offset(t->g, i, k);
            part_t *p = &parts[n++];
            *p = (part_t){.store = i,
                          .topic = rill__global_topic(t->g, i),
                          .partition = k,
                          .from = from,
                          .pos = from,
                          .stop_at = INT64_MAX,
                          .stale_at = -1};
        }
        if (check_offsets(t, i, &parts[n - (size_t)count], (size_t)count))
            return RILL_EIO;
        for (int32_t k = 0; t->ctx.embedded && k < count; k++)
            embedded_end(t, &parts[n - (size_t)count + (size_t)k]);
    }
    t->nparts = n;
    t->reassign = true;
    return 0;
}

static int assign(global_thread_t *t)
{
    t->reassign = false;
    rd_kafka_topic_partition_list_t *list = rd_kafka_topic_partition_list_new((int)t->nparts);
    /* Offset 0 rather than the logical BEGINNING for the start: see changelog_reader.c. */
    for (size_t k = 0; k < t->nparts; k++) {
        part_t *p = &t->parts[k];
        rd_kafka_topic_partition_list_add(list, p->topic, p->partition)->offset =
            p->pos >= 0    ? p->pos
            : p->beginning ? RD_KAFKA_OFFSET_BEGINNING
                           : 0;
    }
    rd_kafka_resp_err_t err = rd_kafka_assign(t->rk, list);
    rd_kafka_topic_partition_list_destroy(list);
    if (err)
        fail(t, RILL_EKAFKA, "cannot read the global topics: %s", rd_kafka_err2str(err));
    return err ? RILL_EKAFKA : 0;
}

static part_t *part_for(global_thread_t *t, const rd_kafka_message_t *m)
{
    const char *topic = NULL;
    for (size_t k = 0; k < t->nparts; k++) {
        part_t *p = &t->parts[k];
        if (p->partition != m->partition)
            continue;
        if (p->rkt != m->rkt) {
            if (!topic)
                topic = m->rkt ? rd_kafka_topic_name(m->rkt) : "";
            if (strcmp(topic, p->topic) != 0)
                continue;
            p->rkt = m->rkt;
        }
        return p;
    }
    return NULL;
}

static void part_done(global_thread_t *t, part_t *p)
{
    if (p->done)
        return;
    p->done = true;
    const rill_restore_listener_t *l = &t->ctx.restore_listener;
    if (p->started && l->on_end)
        l->on_end(l->ud, rill__global_name(t->g, p->store), p->topic, p->partition, p->total);
}

/* Every partition is at its end: checkpoint, and let the stream threads run. */
static void loaded(global_thread_t *t)
{
    uint64_t total = 0;
    for (size_t k = 0; k < t->nparts; k++)
        total += t->parts[k].total;
    double secs = (double)(rill_monotonic_ms() - t->t0) / 1000.0;
    rill_log(RILL_LOG_INFO, "state",
             "%s: loaded %zu global store(s): %llu records in %.2f s (%.0f records/s); the stream "
             "threads start",
             t->name, rill__global_count(t->g), (unsigned long long)total, secs,
             secs > 0 ? (double)total / secs : 0.0);
    if (rill__global_checkpoint(t->g))
        rill_log(RILL_LOG_WARN, "state", "%s: %s", t->name, rill__global_error(t->g));
    atomic_store(&t->ready, true);
    uint64_t interval = (uint64_t)rill__conf_commit_interval(t->ctx.conf);
    uv_timer_stop(&t->timer);
    uv_timer_start(&t->timer, timer_cb, interval, interval);
    t->ev.ready(t->ev.ud);
}

/* The consumer says p's offset is outside its topic. While loading: from offset 0, the log's
 * head is gone (start at its start); from a checkpoint, the store is wiped and every partition
 * of it loads from the start. While running (retention passed the thread by) it fails, as Kafka
 * Streams' global thread does. */
static int reset(global_thread_t *t, part_t *p, const rd_kafka_message_t *m)
{
    const char *store = rill__global_name(t->g, p->store);
    /* When the first partition of a store wipes it, the others' errors about their checkpoints
     * may still be queued (librdkafka does not version them): each names the offset its
     * partition was at before the wipe, and is ignored once. Acting on one would assign again
     * while the last assignment's fetch stops are pending, which librdkafka 2.0.2 asserts on
     * (its issue #5573). */
    if (p->stale_at >= 0 && m->offset == p->stale_at) {
        p->stale_at = -1;
        rill_log(RILL_LOG_DEBUG, "state",
                 "%s: %s [%d]: ignoring an out-of-range error from before the wipe (offset %lld)",
                 t->name, p->topic, p->partition, (long long)m->offset);
        return 0;
    }
    if (atomic_load(&t->ready) || (p->from < 0 && p->beginning) || p->total) {
        fail(t, RILL_EKAFKA, "global store '%s': cannot read %s [%d] at offset %lld: %s", store,
             p->topic, p->partition, (long long)m->offset, rd_kafka_message_errstr(m));
        return RILL_EKAFKA;
    }
    t->reassign = true;
    if (p->from < 0) {
        p->beginning = true;
        return 0;
    }
    rill_log(RILL_LOG_WARN, "state",
             "%s: the checkpoint of global store '%s' (offset %lld) is outside %s [%d]: wiping the "
             "store and loading it from the start of its topic",
             t->name, store, (long long)p->from, p->topic, p->partition);
    if (rill__global_reset(t->g, p->store)) {
        fail(t, RILL_EIO, "%s", rill__global_error(t->g));
        return RILL_EIO;
    }
    /* Every partition of the store from the log's start (BEGINNING, not offset 0: a second
     * out-of-range error would mean a second assign soon after this one). */
    for (size_t k = 0; k < t->nparts; k++) {
        part_t *q = &t->parts[k];
        if (q->store == p->store)
            *q = (part_t){.store = q->store,
                          .topic = q->topic,
                          .partition = q->partition,
                          .rkt = q->rkt,
                          .from = -1,
                          .pos = -1,
                          .stop_at = INT64_MAX,
                          .beginning = true,
                          .stale_at = q == p ? -1 : q->pos};
    }
    return 0;
}

/* ---- the loop ---- */

/* Writes a run of records (of one store) and moves their partitions on. */
static int apply(global_thread_t *t, size_t store, size_t n)
{
    if (n == 0)
        return 0;
    if (rill__global_apply(t->g, store, t->recs, n)) {
        fail(t, RILL_EIO, "%s", rill__global_error(t->g));
        return RILL_EIO;
    }
    return 0;
}

/* Notes record m of p: its position, and what loading has read. */
static void advance(global_thread_t *t, part_t *p, const rd_kafka_message_t *m)
{
    const rill_restore_listener_t *l = &t->ctx.restore_listener;
    if (!atomic_load(&t->ready) && !p->started) {
        p->started = true;
        int64_t lo = -1, hi = -1;
        rd_kafka_get_watermark_offsets(t->rk, p->topic, p->partition, &lo, &hi);
        rill_log(RILL_LOG_INFO, "state",
                 "%s: loading global store '%s' from %s [%d], offsets %lld..%lld", t->name,
                 rill__global_name(t->g, p->store), p->topic, p->partition, (long long)m->offset,
                 (long long)hi);
        if (l->on_start)
            l->on_start(l->ud, rill__global_name(t->g, p->store), p->topic, p->partition, m->offset,
                        hi);
    }
    p->pos = m->offset + 1;
    p->total++;
    p->turn++;
}

/* After a turn's records are in the stores: listeners, and the partitions at their end. */
static void progress(global_thread_t *t)
{
    const rill_restore_listener_t *l = &t->ctx.restore_listener;
    bool loading = !atomic_load(&t->ready), all = true;
    for (size_t k = 0; k < t->nparts; k++) {
        part_t *p = &t->parts[k];
        if (p->turn && loading) {
            t->last_progress = rill_monotonic_ms();
            if (l->on_batch)
                l->on_batch(l->ud, rill__global_name(t->g, p->store), p->topic, p->partition,
                            p->pos, p->turn);
            if (p->pos >= p->stop_at)
                part_done(t, p);
        }
        p->turn = 0;
        all = all && p->done;
    }
    if (loading && all && !t->failed)
        loaded(t);
}

static void serve(global_thread_t *t)
{
    if (t->stopping || t->failed)
        return;
    if (t->reassign && assign(t))
        return;
    ssize_t n = rd_kafka_consume_batch_queue(t->q, 0, t->batch, t->batch_size);
    size_t run = 0, store = 0, wiped = SIZE_MAX;
    int rc = 0;
    for (ssize_t k = 0; k < n && !rc; k++) {
        rd_kafka_message_t *m = t->batch[k];
        part_t *p = part_for(t, m);
        if (!p || p->store == wiped)
            continue; /* the rest of a wiped store's batch: it loads again from the start */
        if (run && (p->store != store || m->err)) {
            rc = apply(t, store, run);
            run = 0;
        }
        if (rc) {
        } else if (m->err == RD_KAFKA_RESP_ERR__PARTITION_EOF) {
            if (!atomic_load(&t->ready) && (m->offset >= p->pos || p->pos < 0))
                part_done(t, p);
        } else if (m->err == RD_KAFKA_RESP_ERR__AUTO_OFFSET_RESET) {
            size_t s = p->store;
            bool was = p->from >= 0;
            if (!(rc = reset(t, p, m)) && was)
                wiped = s;
        } else if (m->err) {
            fail(t, RILL_EKAFKA, "global store '%s': cannot read %s [%d]: %s",
                 rill__global_name(t->g, p->store), p->topic, p->partition,
                 rd_kafka_message_errstr(m));
            rc = RILL_EKAFKA;
        } else if (p->pos < 0 || m->offset >= p->pos) {
            /* (Anything before the position was fetched before a reassignment.) */
            store = p->store;
            t->recs[run++] = (rill_record_t){
                .key = {m->key, m->key_len},
                .value = {m->payload, m->len},
                .timestamp = rd_kafka_message_timestamp(m, NULL),
                .topic = p->topic,
                .partition = p->partition,
                .offset = m->offset,
            };
            advance(t, p, m);
        }
    }
    if (!rc)
        rc = apply(t, store, run);
    for (ssize_t k = 0; k < n; k++)
        rd_kafka_message_destroy(t->batch[k]);
    if (rc)
        return;
    progress(t);
    if (n == (ssize_t)t->batch_size && !t->stopping && !t->failed)
        uv_idle_start(&t->more, more_cb);
    else
        uv_idle_stop(&t->more);
}

static void more_cb(uv_idle_t *h)
{
    serve(h->data);
}

static void poll_cb(uv_poll_t *h, int status, int events)
{
    (void)status;
    (void)events;
    global_thread_t *t = h->data;
    char buf[256];
    while (read(t->pipefd[0], buf, sizeof buf) > 0)
        ;
    serve(t);
}

static void timer_cb(uv_timer_t *h)
{
    global_thread_t *t = h->data;
    if (t->stopping || t->failed)
        return;
    if (atomic_load(&t->ready)) {
        if (rill__global_writes(t->g) >= CHECKPOINT_RECORDS && rill__global_checkpoint(t->g))
            fail(t, RILL_EIO, "%s", rill__global_error(t->g));
        return;
    }
    serve(t);
    int64_t now = rill_monotonic_ms();
    if (!t->failed && now - t->last_progress > LOAD_STALL_MS) {
        for (size_t k = 0; k < t->nparts; k++)
            if (!t->parts[k].done) {
                fail(t, RILL_ETIMEDOUT,
                     "loading global store '%s' from %s [%d] made no progress for %d s at offset "
                     "%lld",
                     rill__global_name(t->g, t->parts[k].store), t->parts[k].topic,
                     t->parts[k].partition, LOAD_STALL_MS / 1000, (long long)t->parts[k].pos);
                return;
            }
    }
    if (now - t->last_log >= LOAD_LOG_MS) {
        t->last_log = now;
        for (size_t k = 0; k < t->nparts; k++)
            if (!t->parts[k].done && t->parts[k].started)
                rill_log(RILL_LOG_INFO, "state",
                         "%s: loading global store '%s': %s [%d] at offset %lld", t->name,
                         rill__global_name(t->g, t->parts[k].store), t->parts[k].topic,
                         t->parts[k].partition, (long long)t->parts[k].pos);
    }
}

/* ---- lifecycle ---- */

static void close_handle(uv_handle_t *h)
{
    if (!uv_is_closing(h))
        uv_close(h, NULL);
}

static void close_handles(global_thread_t *t)
{
    close_handle((uv_handle_t *)&t->poll);
    close_handle((uv_handle_t *)&t->timer);
    close_handle((uv_handle_t *)&t->more);
}

/* Checkpoints what the stores hold (a partial load too: the offsets say exactly that). */
static void shutdown_thread(global_thread_t *t)
{
    if (t->stopping)
        return;
    t->stopping = true;
    uv_poll_stop(&t->poll);
    uv_idle_stop(&t->more);
    uv_timer_stop(&t->timer);
    if (rill__global_checkpoint(t->g))
        rill_log(RILL_LOG_WARN, "state", "%s: %s", t->name, rill__global_error(t->g));
    rd_kafka_consumer_close(t->rk);
    close_handles(t);
}

static void stop_cb(uv_async_t *h)
{
    shutdown_thread(h->data);
}

static void thread_main(void *arg)
{
    global_thread_t *t = arg;
    t->t0 = t->last_progress = t->last_log = rill_monotonic_ms();
    if (make_parts(t) == 0) {
        uv_timer_start(&t->timer, timer_cb, LOAD_STEP_MS, LOAD_STEP_MS);
        uv_poll_start(&t->poll, UV_READABLE, poll_cb);
        if (!atomic_load(&t->stop_requested))
            serve(t); /* loads with nothing to read are done at once */
    }
    if (atomic_load(&t->stop_requested) || t->failed)
        shutdown_thread(t);
    uv_run(&t->loop, UV_RUN_DEFAULT);
    pthread_mutex_lock(&t->stop_lock);
    t->loop_done = true;
    uv_close((uv_handle_t *)&t->stop_async, NULL);
    pthread_mutex_unlock(&t->stop_lock);
    uv_run(&t->loop, UV_RUN_DEFAULT);
}

global_thread_t *rill__global_thread_new(const thread_ctx_t *ctx, rill_global_t *g,
                                         const global_events_t *ev, char *errstr,
                                         size_t errstr_size)
{
    global_thread_t *t = rill_calloc(1, sizeof *t);
    if (!t) {
        snprintf(errstr, errstr_size, "out of memory");
        return NULL;
    }
    t->ctx = *ctx;
    t->g = g;
    t->ev = *ev;
    t->pipefd[0] = t->pipefd[1] = -1;
    pthread_mutex_init(&t->stop_lock, NULL);
    snprintf(t->name, sizeof t->name, "%s-GlobalStreamThread", ctx->env.application_id);
    t->batch_size = (size_t)RILL_CONF_INT(ctx->conf, POLL_BATCH_SIZE);
    t->batch = rill_calloc(t->batch_size, sizeof *t->batch);
    t->recs = rill_calloc(t->batch_size, sizeof *t->recs);
    char err[512];
    if (!t->batch || !t->recs || pipe(t->pipefd) != 0) {
        snprintf(errstr, errstr_size, "%s: out of memory or descriptors", t->name);
        rill__global_thread_destroy(t);
        return NULL;
    }
    fcntl(t->pipefd[0], F_SETFL, O_NONBLOCK);
    fcntl(t->pipefd[1], F_SETFL, O_NONBLOCK);
    uv_loop_init(&t->loop);
    t->loop_made = true;
    uv_poll_init(&t->loop, &t->poll, t->pipefd[0]);
    uv_timer_init(&t->loop, &t->timer);
    uv_idle_init(&t->loop, &t->more);
    uv_async_init(&t->loop, &t->stop_async, stop_cb);
    uv_unref((uv_handle_t *)&t->stop_async);
    t->poll.data = t->timer.data = t->more.data = t->stop_async.data = t;
    /* The restore consumer's settings: no group, end-of-partition events, offsets out of range
     * reported, read_committed under exactly-once. */
    t->ctx.index = -1; /* names it "<application.id>-GlobalStreamThread-global-consumer" */
    if (!(t->rk = rill__client_new(&t->ctx, CLIENT_RESTORE, NULL, err, sizeof err))) {
        snprintf(errstr, errstr_size, "%s: cannot make the global consumer: %s", t->name, err);
        rill__global_thread_destroy(t);
        return NULL;
    }
    rd_kafka_poll_set_consumer(t->rk);
    t->q = rd_kafka_queue_get_consumer(t->rk);
    rd_kafka_queue_io_event_enable(t->q, t->pipefd[1], "g", 1);
    return t;
}

int rill__global_thread_start(global_thread_t *t)
{
    pthread_mutex_lock(&t->stop_lock);
    int rc = uv_thread_create(&t->tid, thread_main, t);
    t->tid_valid = rc == 0;
    pthread_mutex_unlock(&t->stop_lock);
    return rc ? RILL_EUNKNOWN : 0;
}

void rill__global_thread_stop(global_thread_t *t)
{
    pthread_mutex_lock(&t->stop_lock);
    atomic_store(&t->stop_requested, true);
    if (t->tid_valid && !t->loop_done)
        uv_async_send(&t->stop_async);
    pthread_mutex_unlock(&t->stop_lock);
}

int rill__global_thread_join(global_thread_t *t)
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

void rill__global_thread_destroy(global_thread_t *t)
{
    if (!t)
        return;
    if (!t->tid_valid && t->loop_made) {
        /* Never started: close the handles on a loop turn of our own. */
        close_handles(t);
        uv_close((uv_handle_t *)&t->stop_async, NULL);
        uv_run(&t->loop, UV_RUN_DEFAULT);
        uv_loop_close(&t->loop);
    }
    if (t->q)
        rd_kafka_queue_destroy(t->q);
    if (t->rk) {
        if (!t->tid_valid)
            rd_kafka_consumer_close(t->rk);
        rd_kafka_destroy(t->rk);
    }
    for (int i = 0; i < 2; i++)
        if (t->pipefd[i] >= 0)
            close(t->pipefd[i]);
    rill_free(t->parts);
    rill_free(t->batch);
    rill_free(t->recs);
    pthread_mutex_destroy(&t->stop_lock);
    rill_free(t);
}

bool rill__global_thread_ready(const global_thread_t *t)
{
    return t && atomic_load(&((global_thread_t *)t)->ready);
}
