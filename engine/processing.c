/*
 * A stream thread's processing (the loop's record phases, see stream_thread.c): the consumer's
 * batches, each record to its task, at once when the task has one partition; and the drain of
 * the tasks fed by several partitions, which take their records from the partitions' own queues
 * in timestamp order (partition_group.h). Everything here is the per-record path.
 */
#include "stream_thread_int.h"

#include <stdio.h>
#include <time.h>

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

/* Marks the record at offset of slot processed. */
static inline void processed(stream_thread_t *t, slot_t *slot, int64_t offset)
{
    if (slot->first_offset < 0)
        slot->first_offset = offset;
    slot->next_offset = offset + 1;
    t->dirty = true;
}

/* How long a record of a retry topic waits for its task, when the task is not running here yet
 * (restoring, or made on the next step). */
#define RETRY_TASK_WAIT_MS 100

/* Processes raw, a record of a retry topic, through the task it names (its sub-topology's, of
 * its partition: the retry topics have the sources' partition count, so the range assignor gives
 * this thread that task), once it is due; pauses the retry partition at it until then, while
 * everything else goes on. */
__attribute__((noinline)) static void
process_retry(stream_thread_t *t, slot_t *slot, rd_kafka_message_t *msg, const rill_record_t *raw)
{
    int source, st = rill__retry_subtopology(t->ctx.topo, t->env.application_id, raw, &source);
    if (st < 0) {
        rill__thread_fail(t, RILL_EINVAL,
                          "the record at topic '%s' partition %d offset %lld names no topic of "
                          "the topology in its __streams.errors.topic header",
                          slot->topic, slot->partition, (long long)msg->offset);
        return;
    }
    int64_t now = rill_wall_clock_ms(), due = 0;
    rill_task_t *task = rill__tm_task(t->tm, st, msg->partition);
    if (task && rill__task_backoff_until(task) > 0) {
        /* The task backs off on a record of its own: the retry waits for the end of that, and
         * leaves the task's in-place tries as they are. */
        rill__tm_pause_retry(t->tm, slot, msg->offset, rill__task_backoff_until(task));
        return;
    }
    int rc = task ? rill__task_process_retry(task, raw, now, &due) : RILL_RETRY_NOT_DUE;
    if (!task) {
        due = now + RETRY_TASK_WAIT_MS;
    } else if (rc == RILL_TASK_BACKOFF) {
        /* Retried in place: the retry partition waits for the end of the backoff; the task's
         * own partitions need not. */
        due = rill__task_backoff_until(task);
        rill__task_backoff_end(task);
        rc = RILL_RETRY_NOT_DUE;
    }
    if (rc == RILL_RETRY_NOT_DUE) {
        rill__tm_pause_retry(t->tm, slot, msg->offset, due);
        return;
    }
    if (rc) {
        rill__thread_fail(t, rc, "%s", rill__task_error(task));
        return;
    }
    processed(t, slot, msg->offset);
}

/* Processes the record of a slot whose task runs; counts it when a task took it. */
static void process_record(stream_thread_t *t, slot_t *slot, rd_kafka_message_t *msg)
{
    if (!slot->active || t->rewound) {
        /* Delivered before its partition's pause took effect, or fetched before a rewind in
         * the middle of this batch: fetched again at the resume. */
        if (slot->dropped_from < 0 || msg->offset < slot->dropped_from)
            slot->dropped_from = msg->offset;
        return;
    }
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
    if (slot->retry) {
        process_retry(t, slot, msg, &raw);
        return;
    }
    int rc = rill__task_process(slot->task, slot->source, &raw);
    if (rc == RILL_TASK_BACKOFF) {
        /* An in-place retry: not processed; the task waits, the thread goes on. */
        rill__tm_backoff(t->tm, slot, msg->offset);
        return;
    }
    if (rc) {
        rill__thread_fail(t, rc, "%s", rill__task_error(slot->task));
        return;
    }
    processed(t, slot, msg->offset);
}

/* A consumer's error event: fatal ones fail the thread, the others are logged. */
static void consumer_error(stream_thread_t *t, const rd_kafka_message_t *msg)
{
    /* A subscription of patterns only, none of which matches a topic yet: librdkafka does not
     * join the group (so no rebalance callback comes) and says so once. Kafka Streams runs
     * with no task then, and so does the thread: a topic that appears is picked up at the
     * consumer's next metadata refresh, which joins the group. */
    const char *topic = msg->rkt ? rd_kafka_topic_name(msg->rkt) : "";
    if (msg->err == RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART && topic[0] == '^' &&
        t->subscribed_topics == 0 && !t->assigned) {
        rill_log(RILL_LOG_INFO, "thread",
                 "%s: no topic matches the source pattern %s yet: running with no task; a "
                 "matching topic is picked up when the consumer next refreshes its metadata "
                 "(topic.metadata.refresh.interval.ms)",
                 t->name, topic);
        t->assigned = true;
        return;
    }
    if (rd_kafka_fatal_error(t->consumer, NULL, 0))
        rill__thread_fail(t, RILL_EKAFKA, "fatal consumer error: %s", rd_kafka_message_errstr(msg));
    else
        rill_log(RILL_LOG_WARN, "thread", "%s: consumer: %s", t->name,
                 rd_kafka_message_errstr(msg));
}

/* Takes one consumed message: an event (a partition's end, an error), a record processed at once
 * (its task has no other partition), or a record queued for its turn. Returns whether the
 * message was queued (the queue owns it); else the caller destroys it. */
static bool take_message(stream_thread_t *t, rd_kafka_message_t *msg)
{
    if (msg->err == RD_KAFKA_RESP_ERR__PARTITION_EOF) {
        slot_t *slot = rill__tm_slot_for(t->tm, msg);
        if (slot)
            slot->pg.at_end = true;
        return false;
    }
    if (msg->err) {
        consumer_error(t, msg);
        return false;
    }
    slot_t *slot = rill__tm_slot_for(t->tm, msg);
    if (!slot)
        return false; /* from a partition revoked a moment ago */
    if (!slot->grouped || !slot->active || t->rewound) {
        process_record(t, slot, msg);
        return false;
    }
    if (rill__rq_push(&slot->pg.queue, msg)) {
        rill__thread_fail(t, RILL_ENOMEM, "out of memory queuing a record of '%s' [%d]",
                          slot->topic, slot->partition);
        return false;
    }
    slot->pg.at_end = false;
    return true;
}

/* Takes up to buffered.records.per.partition messages of a grouped slot's partition queue into
 * its ring (an empty one: the order stays the partition's). Returns how many were messages of
 * the partition's; events (its end, errors) are handled here. */
static size_t refill(stream_thread_t *t, slot_t *s)
{
    if (!s->pq)
        return 0;
    size_t want = t->max_buffered < t->batch_size ? t->max_buffered : t->batch_size;
    ssize_t n = rd_kafka_consume_batch_queue(s->pq, 0, t->batch, want);
    size_t taken = 0;
    for (ssize_t i = 0; i < n; i++) {
        rd_kafka_message_t *msg = t->batch[i];
        if (msg->err == RD_KAFKA_RESP_ERR__PARTITION_EOF) {
            s->pg.at_end = true;
        } else if (msg->err) {
            consumer_error(t, msg);
        } else if (!s->active) {
            process_record(t, s, msg); /* dropped, fetched again at the resume */
        } else if (rill__rq_push(&s->pg.queue, msg) == 0) {
            s->pg.at_end = false;
            taken++;
            continue; /* the ring owns it */
        } else {
            rill__thread_fail(t, RILL_ENOMEM, "out of memory queuing a record of '%s' [%d]",
                              s->topic, s->partition);
        }
        rd_kafka_message_destroy(msg);
    }
    return taken;
}

bool rill__thread_drain(stream_thread_t *t, int64_t *idle_wait_ms)
{
    size_t n = rill__tm_group_count(t->tm);
    int64_t now = rill_monotonic_ms(), wake = INT64_MAX;
    size_t budget = BATCHES_PER_TURN * t->batch_size, full = budget;
    bool more = false;
    int64_t from = hist_now_ns();
    rill__collector_set_now(t->collector, rill_wall_clock_ms());
    /* The partition queues hold nothing fetched before a rewind (its seek is librdkafka's
     * version barrier), and the rings were emptied: what comes now is current. */
    t->rewound = false;
    /* Tasks take turns at the budget: each turn starts where the last one stopped. */
    size_t start = t->drain_from < n ? t->drain_from : 0;
    for (size_t c = 0; c < n && !t->failed && !more; c++) {
        size_t g = (start + c) % n;
        pg_partition_t **parts;
        slot_t **members;
        size_t k = rill__tm_group(t->tm, g, &parts, &members);
        if (!members[0]->active)
            continue; /* restoring: every slot of a task is active or none */
        for (size_t m = 0; m < k; m++)
            parts[m]->dry = false;
        for (;;) {
            /* A partition queue found empty is asked again on the next turn (its next record
             * wakes the loop), not before every record of the others. */
            for (size_t m = 0; m < k; m++)
                if (!parts[m]->queue.len && !parts[m]->dry)
                    parts[m]->dry = refill(t, members[m]) == 0;
            int j = rill__pg_next(parts, k, t->max_task_idle_ms, now, &wake);
            if (j < 0 || t->failed)
                break;
            slot_t *from = members[j];
            rd_kafka_message_t *msg = rill__rq_pop(&from->pg.queue);
            process_record(t, from, msg);
            rd_kafka_message_destroy(msg);
            if (--budget == 0) {
                more = true;
                t->drain_from = g + 1;
                break;
            }
        }
    }
    *idle_wait_ms = wake == INT64_MAX ? -1 : wake - now;
    if (full > budget)
        hist_observe_n(&t->m_process, (uint64_t)(hist_now_ns() - from) / (full - budget),
                       full - budget);
    return more;
}

bool rill__thread_process_batches(stream_thread_t *t)
{
    bool more = false;
    for (int b = 0; b < BATCHES_PER_TURN && !t->stopping && !t->failed; b++) {
        ssize_t n = rd_kafka_consume_batch_queue(t->cq, 0, t->batch, t->batch_size);
        if (n <= 0)
            break;
        /* Two clock reads a batch, none a record: the batch's time over its records. */
        int64_t from = hist_now_ns();
        rill__collector_set_now(t->collector, rill_wall_clock_ms());
        t->rewound = false;
        for (ssize_t i = 0; i < n; i++)
            if (t->failed || !take_message(t, t->batch[i]))
                rd_kafka_message_destroy(t->batch[i]);
        hist_observe_n(&t->m_process, (uint64_t)(hist_now_ns() - from) / (uint64_t)n, (uint64_t)n);
        more = (size_t)n == t->batch_size;
    }
    return more;
}
