/*
 * The record queues of a task's partitions and the choice of the next record (see
 * partition_group.h). The rules are Kafka Streams' (PartitionGroup.readyToProcess and
 * nextRecord in apache/kafka streams/.../processor/internals): a partition with records is
 * ready; an empty one whose lag is unknown or not zero holds the task back; an empty one at its
 * end holds it back until max.task.idle.ms has passed since it was found so. Rill knows "at its
 * end" from librdkafka's end-of-partition event (enable.partition.eof), which comes in the
 * partition's own order after its last record, and again after every seek or pause.
 */
#include "partition_group.h"

#include <rill/rill.h>

#include <string.h>

int rill__rq_push(record_queue_t *q, rd_kafka_message_t *msg)
{
    if (q->len == q->cap) {
        uint32_t cap = q->cap ? q->cap * 2 : 64;
        struct queued *ring = rill_malloc(cap * sizeof *ring);
        if (!ring)
            return RILL_ENOMEM;
        for (uint32_t i = 0; i < q->len; i++)
            ring[i] = q->ring[(q->head + i) % q->cap];
        rill_free(q->ring);
        q->ring = ring;
        q->head = 0;
        q->cap = cap;
    }
    q->ring[(q->head + q->len) % q->cap] =
        (struct queued){msg, rd_kafka_message_timestamp(msg, NULL)};
    q->len++;
    return 0;
}

rd_kafka_message_t *rill__rq_pop(record_queue_t *q)
{
    if (!q->len)
        return NULL;
    rd_kafka_message_t *msg = q->ring[q->head].msg;
    q->head = q->head + 1 == q->cap ? 0 : q->head + 1;
    q->len--;
    return msg;
}

int64_t rill__rq_head_offset(const record_queue_t *q)
{
    return q->len ? q->ring[q->head].msg->offset : -1;
}

void rill__rq_clear(record_queue_t *q)
{
    rd_kafka_message_t *msg;
    while ((msg = rill__rq_pop(q)))
        rd_kafka_message_destroy(msg);
    q->head = 0;
}

void rill__rq_free(record_queue_t *q)
{
    rill__rq_clear(q);
    rill_free(q->ring);
    memset(q, 0, sizeof *q);
}

int rill__pg_next(pg_partition_t *const *parts, size_t n, int64_t idle_ms, int64_t now,
                  int64_t *wake)
{
    int best = -1;
    for (size_t i = 0; i < n; i++) {
        pg_partition_t *p = parts[i];
        if (p->queue.len) {
            p->idle_since = -1;
            if (best < 0 || rill__rq_head_ts(&p->queue) < rill__rq_head_ts(&parts[best]->queue))
                best = (int)i;
            continue;
        }
        if (idle_ms < 0)
            continue; /* max.task.idle.ms=-1: never wait */
        if (!p->at_end) {
            /* Records may wait on the broker (or the first fetch has not answered). */
            p->idle_since = -1;
            return -1;
        }
        if (p->idle_since < 0)
            p->idle_since = now;
        int64_t deadline = p->idle_since + idle_ms;
        if (now < deadline) {
            if (deadline < *wake)
                *wake = deadline;
            return -1;
        }
    }
    return best;
}
