/*
 * The order in which a task processes the records of its partitions. A task fed by several
 * partitions (a join's two sides, a merge, a topic pattern) takes, among its partitions' buffered
 * records, the one with the lowest timestamp, as Kafka Streams' PartitionGroup does; and it waits
 * for a partition that has no record buffered while that partition may still have records on the
 * broker (max.task.idle.ms=0, the default), or until max.task.idle.ms has passed since it was
 * found empty at its end (> 0), or not at all (-1). A task fed by one partition processes as
 * records come: its slots never buffer. Private to engine/.
 */
#ifndef RILL_ENGINE_PARTITION_GROUP_H
#define RILL_ENGINE_PARTITION_GROUP_H

#include <librdkafka/rdkafka.h>

#include <stdbool.h>
#include <stdint.h>

/* A partition's records consumed but not processed yet, oldest first: a ring that grows to the
 * largest backlog the partition has had (no allocation once there). */
typedef struct {
    struct queued {
        rd_kafka_message_t *msg;
        int64_t timestamp;
    } * ring;
    uint32_t head, len, cap;
} record_queue_t;

/* Appends msg (taken); 0 or RILL_ENOMEM (msg not taken). */
int rill__rq_push(record_queue_t *q, rd_kafka_message_t *msg);
/* Removes and returns the oldest record (the caller destroys it), or NULL. */
rd_kafka_message_t *rill__rq_pop(record_queue_t *q);
/* Returns the timestamp of the oldest record; the queue is not empty. */
static inline int64_t rill__rq_head_ts(const record_queue_t *q)
{
    return q->ring[q->head].timestamp;
}
/* Returns the offset of the oldest record, or -1 when empty. */
int64_t rill__rq_head_offset(const record_queue_t *q);
/* Destroys the buffered records (to be fetched again) and keeps the ring. */
void rill__rq_clear(record_queue_t *q);
/* Destroys the buffered records and frees the ring. */
void rill__rq_free(record_queue_t *q);

/* One partition of a task, as the choice of the next record sees it. */
typedef struct {
    record_queue_t queue;
    bool at_end;        /* the consumer reported the partition's end, and no record came since */
    int64_t idle_since; /* monotonic ms it was first found empty at its end; -1: it was not */
    bool dry;           /* its librdkafka queue was found empty in this drain (the driver's) */
} pg_partition_t;

/* Returns the index among parts (the partitions of one task) of the partition whose oldest
 * record the task processes next, or -1 when the task must wait. idle_ms is max.task.idle.ms,
 * now the monotonic clock. When the task waits for an idle partition's deadline, *wake becomes
 * that deadline if it is earlier. */
int rill__pg_next(pg_partition_t *const *parts, size_t n, int64_t idle_ms, int64_t now,
                  int64_t *wake);

#endif
