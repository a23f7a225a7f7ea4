/*
 * Restoration. A changelog restores from its store's checkpoint (or the start) to the end of the
 * partition. The end is where the restore consumer reports end-of-partition, not a number asked
 * of the partition's leader first: a leader that has just died, before the controller fences it,
 * would hold that request until it is back (librdkafka 2.0.2 ignores the timeout then, #2588),
 * while fetches follow the new leader. A checkpoint outside the changelog (the topic was made
 * again, this is another cluster, or retention deleted past it) is reported by the consumer
 * (auto.offset.reset=error): the store is wiped and restored from the start.
 *
 * On the embedded cluster, which answers a fetch at the end of a partition only after a second
 * or so and has no dead leaders, the end is asked first (an in-process call answered at once),
 * and a changelog already at its end is done without a fetch.
 */
#include "changelog_reader.h"

#include "clients.h"

#include <stdatomic.h>
#include <stdio.h>
#include <string.h>

/* A restore that receives nothing for this long while not at its end fails (a partition with
 * no leader, say): better an error naming it than a thread that waits for ever. */
#define RESTORE_STALL_MS 60000
/* Progress lines of a long restore, per store. */
#define RESTORE_LOG_MS 10000
/* The embedded cluster's end-offset query. */
#define EMBEDDED_QUERY_MS 2000

/* One changelog partition being restored. */
typedef struct {
    rill_task_t *task;
    size_t i;                  /* changelog index in the task */
    const char *topic, *store; /* borrowed from the task */
    int32_t partition;
    const rd_kafka_topic_t *rkt;         /* learned from the first message */
    int64_t from;                        /* where the restore started (-1: the beginning) */
    int64_t pos;                         /* the next offset to restore (-1: the beginning) */
    int64_t stop_at;                     /* INT64_MAX: the end-of-partition event decides */
    int64_t t0, last_progress, last_log; /* monotonic ms */
    uint64_t total;
    int64_t end; /* the partition's end as last learned (-1: not known yet) */
    bool started, done;
    bool beginning; /* offset 0 was out of range: start at the log's start, whatever it is */
} entry_t;

struct changelog_reader {
    const thread_ctx_t *ctx;
    const char *name;
    size_t batch_size;
    int wake_fd;
    reader_events_t ev;
    rd_kafka_t *rk;
    rd_kafka_queue_t *q;
    entry_t *entries;
    size_t nentries, cap;
    bool reassign; /* the set of changelogs changed: assign the consumer again */
    rd_kafka_message_t **batch;
    rill_record_t *recs;
    atomic_int_fast64_t restored;
    atomic_int_fast64_t remaining; /* records to restore, as far as the ends known tell */
};

/* Sums what the changelogs being restored still lack (their end at the start minus their
 * position), for the metrics; once a batch, not once a record. */
static void count_remaining(changelog_reader_t *r)
{
    int64_t left = 0;
    for (size_t k = 0; k < r->nentries; k++) {
        const entry_t *e = &r->entries[k];
        int64_t at = e->pos > 0 ? e->pos : 0; /* -1: from the beginning */
        if (e->done)
            continue; /* finished() set its gauge to 0; its task may be gone before the sweep */
        int64_t lacks = e->end > at ? e->end - at : 0;
        left += lacks;
        rill__task_restore_left(e->task, e->i, (uint64_t)lacks); /* the store's own gauge */
    }
    atomic_store_explicit(&r->remaining, (int_fast64_t)left, memory_order_relaxed);
}

changelog_reader_t *rill__reader_new(const thread_ctx_t *ctx, const char *name, size_t batch_size,
                                     int wake_fd, const reader_events_t *ev)
{
    changelog_reader_t *r = rill_calloc(1, sizeof *r);
    if (!r)
        return NULL;
    r->ctx = ctx;
    r->name = name;
    r->batch_size = batch_size;
    r->wake_fd = wake_fd;
    r->ev = *ev;
    r->batch = rill_calloc(batch_size, sizeof *r->batch);
    r->recs = rill_calloc(batch_size, sizeof *r->recs);
    if (!r->batch || !r->recs) {
        rill__reader_destroy(r);
        return NULL;
    }
    return r;
}

void rill__reader_destroy(changelog_reader_t *r)
{
    if (!r)
        return;
    if (r->q)
        rd_kafka_queue_destroy(r->q);
    if (r->rk) {
        rd_kafka_consumer_close(r->rk);
        rd_kafka_destroy(r->rk);
    }
    rill_free(r->entries);
    rill_free(r->batch);
    rill_free(r->recs);
    rill_free(r);
}

static rd_kafka_t *consumer(changelog_reader_t *r, char *why, size_t why_size)
{
    if (r->rk)
        return r->rk;
    char err[512];
    r->rk = rill__client_new(r->ctx, CLIENT_RESTORE, NULL, err, sizeof err);
    if (!r->rk) {
        snprintf(why, why_size, "%s: cannot make the restore consumer: %s", r->name, err);
        return NULL;
    }
    rd_kafka_poll_set_consumer(r->rk);
    r->q = rd_kafka_queue_get_consumer(r->rk);
    rd_kafka_queue_io_event_enable(r->q, r->wake_fd, "r", 1);
    return r->rk;
}

int rill__reader_prepare(changelog_reader_t *r, char *why, size_t why_size)
{
    return consumer(r, why, why_size) ? 0 : RILL_EKAFKA;
}

/* On the embedded cluster: asks where the changelog ends, and returns 1 when the store is there
 * already (nothing to restore), 0 to fetch (with e->stop_at set when known). */
static int embedded_end(changelog_reader_t *r, entry_t *e)
{
    int64_t lo = 0, hi = 0;
    rd_kafka_resp_err_t err = rd_kafka_query_watermark_offsets(r->rk, e->topic, e->partition, &lo,
                                                               &hi, EMBEDDED_QUERY_MS);
    if (err)
        return 0; /* the end-of-partition event decides */
    if (hi == lo && (e->from < 0 || e->from == hi))
        return 1; /* an empty changelog, or the store is at its end */
    if (e->from <= hi)
        e->stop_at = hi;
    return e->from >= 0 && e->from == hi;
}

int rill__reader_add(changelog_reader_t *r, rill_task_t *task, int32_t partition,
                     const int64_t *from, char *why, size_t why_size)
{
    size_t n = rill__task_changelog_count(task), added = 0;
    if (n == 0)
        return 1;
    if (!consumer(r, why, why_size))
        return RILL_EKAFKA;
    if (r->nentries + n > r->cap) {
        size_t cap = r->cap ? r->cap * 2 : 8;
        while (cap < r->nentries + n)
            cap *= 2;
        entry_t *entries = rill_realloc(r->entries, cap * sizeof *entries);
        if (!entries) {
            snprintf(why, why_size, "out of memory restoring task %s", rill__task_id(task));
            return RILL_ENOMEM;
        }
        r->entries = entries;
        r->cap = cap;
    }
    int64_t now = rill_monotonic_ms();
    for (size_t i = 0; i < n; i++) {
        entry_t e = {
            .task = task,
            .i = i,
            .topic = rill__task_changelog_topic(task, i),
            .store = rill__task_changelog_store(task, i),
            .partition = partition,
            .from = from ? from[i] : rill__task_changelog_offset(task, i),
            .stop_at = INT64_MAX,
            .t0 = now,
            .last_progress = now,
            .last_log = now,
        };
        e.pos = e.from;
        int64_t lo = -1, hi = -1; /* librdkafka's cached end (-1 until it has learned it) */
        rd_kafka_get_watermark_offsets(r->rk, e.topic, e.partition, &lo, &hi);
        e.end = hi;
        if (r->ctx->embedded && embedded_end(r, &e))
            continue;
        r->entries[r->nentries++] = e;
        added++;
    }
    if (!added)
        return 1;
    r->reassign = true;
    count_remaining(r);
    return 0;
}

/* Drops the entries that are done or whose task goes, and tells the task manager of each task
 * whose entries are now all done (once per task). */
static void sweep(changelog_reader_t *r, rill_task_t *gone)
{
    for (size_t k = 0; k < r->nentries; k++) {
        entry_t *e = &r->entries[k];
        if (!e->done || e->task == gone)
            continue;
        bool last = true, first = true;
        for (size_t j = 0; j < r->nentries && last; j++) {
            last = r->entries[j].task != e->task || r->entries[j].done;
            first = first && !(j < k && r->entries[j].task == e->task);
        }
        if (last && first && r->ev.restored)
            r->ev.restored(r->ev.ud, e->task);
    }
    size_t keep = 0;
    for (size_t k = 0; k < r->nentries; k++) {
        if (!r->entries[k].done && r->entries[k].task != gone)
            r->entries[keep++] = r->entries[k];
        else
            r->reassign = true;
    }
    r->nentries = keep;
}

void rill__reader_remove(changelog_reader_t *r, rill_task_t *task)
{
    sweep(r, task);
    count_remaining(r);
}

int64_t rill__reader_remaining(const changelog_reader_t *r)
{
    return atomic_load_explicit(&((changelog_reader_t *)r)->remaining, memory_order_relaxed);
}

bool rill__reader_active(const changelog_reader_t *r)
{
    return r->nentries > 0 || r->reassign;
}

int64_t rill__reader_restored(const changelog_reader_t *r)
{
    return atomic_load(&((changelog_reader_t *)r)->restored);
}

static int assign(changelog_reader_t *r, char *why, size_t why_size)
{
    r->reassign = false;
    rd_kafka_topic_partition_list_t *list =
        rd_kafka_topic_partition_list_new((int)(r->nentries ? r->nentries : 1));
    for (size_t k = 0; k < r->nentries; k++) {
        entry_t *e = &r->entries[k];
        /* From the start: offset 0 rather than the logical BEGINNING, which costs an offset
         * query that librdkafka 2.0.2 often sends before it knows the partition's leader, and
         * then retries 500 ms later (measured: EOF of an empty changelog in 12-34 ms at offset
         * 0, half the time 500-540 ms at BEGINNING). A log that no longer starts at 0 answers
         * out of range, and the next assignment asks for BEGINNING. */
        rd_kafka_topic_partition_list_add(list, e->topic, e->partition)->offset =
            e->pos >= 0    ? e->pos
            : e->beginning ? RD_KAFKA_OFFSET_BEGINNING
                           : 0;
    }
    rd_kafka_resp_err_t err = rd_kafka_assign(r->rk, list->cnt ? list : NULL);
    rd_kafka_topic_partition_list_destroy(list);
    if (err) {
        snprintf(why, why_size, "%s: cannot read the changelogs to restore: %s", r->name,
                 rd_kafka_err2str(err));
        return RILL_EKAFKA;
    }
    return 0;
}

static entry_t *entry_for(changelog_reader_t *r, const rd_kafka_message_t *m)
{
    const char *topic = NULL;
    for (size_t k = 0; k < r->nentries; k++) {
        entry_t *e = &r->entries[k];
        if (e->partition != m->partition || e->done)
            continue;
        if (e->rkt != m->rkt) {
            if (!topic)
                topic = m->rkt ? rd_kafka_topic_name(m->rkt) : "";
            if (strcmp(topic, e->topic) != 0)
                continue;
            e->rkt = m->rkt;
        }
        return e;
    }
    return NULL;
}

static void finished(changelog_reader_t *r, entry_t *e)
{
    e->done = true;
    rill__task_restore_left(e->task, e->i, 0);
    count_remaining(r);
    if (!e->started)
        return; /* nothing past the checkpoint but transaction markers, if anything */
    double secs = (double)(rill_monotonic_ms() - e->t0) / 1000.0;
    rill_log(RILL_LOG_INFO, "state",
             "task %s: restored store '%s': %llu records in %.2f s (%.0f records/s)",
             rill__task_id(e->task), e->store, (unsigned long long)e->total, secs,
             secs > 0 ? (double)e->total / secs : 0.0);
    const rill_restore_listener_t *l = &r->ctx->restore_listener;
    if (l->on_end)
        l->on_end(l->ud, e->store, e->topic, e->partition, e->total);
}

/* Writes one run of records (all of entry e) to its store: one RocksDB write batch for the lot,
 * far faster than record by record. */
static int apply(changelog_reader_t *r, entry_t *e, size_t n, char *why, size_t why_size)
{
    if (!e || !n)
        return 0;
    const rill_restore_listener_t *l = &r->ctx->restore_listener;
    if (!e->started) {
        e->started = true;
        int64_t lo = -1, hi = -1;
        rd_kafka_get_watermark_offsets(r->rk, e->topic, e->partition, &lo, &hi);
        e->end = hi;
        if (l->on_start)
            l->on_start(l->ud, e->store, e->topic, e->partition, r->recs[0].offset, hi);
        rill_log(RILL_LOG_INFO, "state",
                 "task %s: restoring store '%s' from %s [%d], offsets %lld..%lld",
                 rill__task_id(e->task), e->store, e->topic, e->partition,
                 (long long)r->recs[0].offset, (long long)hi);
    }
    int rc = rill__task_restore_batch(e->task, e->i, r->recs, n);
    if (rc) {
        snprintf(why, why_size, "%s", rill__task_error(e->task));
        return rc;
    }
    e->pos = r->recs[n - 1].offset + 1;
    e->total += n;
    atomic_fetch_add(&r->restored, (int_fast64_t)n);
    count_remaining(r);
    e->last_progress = rill_monotonic_ms();
    if (l->on_batch)
        l->on_batch(l->ud, e->store, e->topic, e->partition, e->pos, n);
    if (e->pos >= e->stop_at)
        finished(r, e);
    return 0;
}
/* The consumer says the entry's checkpoint is outside its changelog. */
static int reset(changelog_reader_t *r, entry_t *e, const rd_kafka_message_t *m, char *why,
                 size_t why_size)
{
    if (e->total) {
        snprintf(why, why_size, "task %s: cannot read changelog '%s' [%d]: %s",
                 rill__task_id(e->task), e->topic, e->partition, rd_kafka_message_errstr(m));
        return RILL_EKAFKA;
    }
    if (e->from < 0) {
        /* Read from offset 0 (no checkpoint: the store is new or wiped): the log's head is gone
         * (retention or compaction deleted it), so start where the log starts now. */
        if (e->beginning) {
            snprintf(why, why_size, "task %s: cannot read changelog '%s' [%d] from its start: %s",
                     rill__task_id(e->task), e->topic, e->partition, rd_kafka_message_errstr(m));
            return RILL_EKAFKA;
        }
        e->beginning = true;
        r->reassign = true;
        return 0;
    }
    rill_log(RILL_LOG_WARN, "state",
             "task %s: the checkpoint of store '%s' (offset %lld) is outside %s [%d]: wiping "
             "the store and restoring it from the start of the changelog",
             rill__task_id(e->task), e->store, (long long)e->from, e->topic, e->partition);
    if (rill__task_reset_store(e->task, e->i, why, why_size))
        return RILL_EIO;
    e->from = e->pos = -1;
    r->reassign = true;
    return 0;
}

int rill__reader_step(changelog_reader_t *r, char *why, size_t why_size)
{
    if (!r->rk)
        return 0;
    if (r->reassign && assign(r, why, why_size))
        return RILL_EKAFKA;
    /* With nothing left to restore, this takes what was fetched before the assignment ended. */
    ssize_t n = rd_kafka_consume_batch_queue(r->q, 0, r->batch, r->batch_size);
    int rc = 0;
    size_t run = 0, restored = 0;
    entry_t *cur = NULL;
    for (ssize_t k = 0; k < n && rc == 0; k++) {
        rd_kafka_message_t *m = r->batch[k];
        entry_t *e = entry_for(r, m);
        if (!e)
            continue; /* of a changelog no longer restored, or fetched before a reassignment */
        if (e != cur || m->err) {
            rc = apply(r, cur, run, why, why_size);
            restored += run;
            run = 0;
            cur = e;
        }
        if (rc) {
        } else if (m->err == RD_KAFKA_RESP_ERR__PARTITION_EOF) {
            if (m->offset >= e->pos || e->pos < 0)
                finished(r, e);
        } else if (m->err == RD_KAFKA_RESP_ERR__AUTO_OFFSET_RESET) {
            rc = reset(r, e, m, why, why_size);
        } else if (m->err) {
            snprintf(why, why_size, "task %s: cannot read changelog '%s' [%d]: %s",
                     rill__task_id(e->task), e->topic, e->partition, rd_kafka_message_errstr(m));
            rc = RILL_EKAFKA;
        } else {
            r->recs[run++] = (rill_record_t){
                .key = {m->key, m->key_len},
                .value = {m->payload, m->len},
                .timestamp = rd_kafka_message_timestamp(m, NULL),
                .topic = e->topic,
                .partition = e->partition,
                .offset = m->offset,
            };
        }
    }
    if (rc == 0) {
        rc = apply(r, cur, run, why, why_size);
        restored += run;
    }
    for (ssize_t k = 0; k < n; k++)
        rd_kafka_message_destroy(r->batch[k]);
    if (rc)
        return rc;
    /* Progress, and stalls. */
    int64_t now = rill_monotonic_ms();
    for (size_t k = 0; k < r->nentries; k++) {
        entry_t *e = &r->entries[k];
        if (e->done)
            continue;
        if (now - e->last_progress > RESTORE_STALL_MS) {
            snprintf(why, why_size,
                     "task %s: restoring store '%s' from %s [%d] made no progress for %d s at "
                     "offset %lld",
                     rill__task_id(e->task), e->store, e->topic, e->partition,
                     RESTORE_STALL_MS / 1000, (long long)e->pos);
            return RILL_ETIMEDOUT;
        }
        if (now - e->last_log >= RESTORE_LOG_MS && e->started) {
            rill_log(RILL_LOG_INFO, "state", "task %s: restoring store '%s': at offset %lld",
                     rill__task_id(e->task), e->store, (long long)e->pos);
            e->last_log = now;
        }
    }
    sweep(r, NULL);
    return (int)restored;
}
