/*
 * The task manager of a stream thread: the partition -> task table, what an assignment, a
 * revocation or a loss does to tasks, and the tasks' life: created (or waiting for stores
 * another thread of the instance still holds), restoring (its source partitions paused),
 * running, suspended (revoked, kept open in case the same rebalance gives it back, as Kafka
 * Streams does), closed. Changes to the table are made under the app's query lock, so
 * interactive queries never see a task being made, restored or destroyed. Runs on the thread's
 * loop only. Private to engine/.
 */
#ifndef RILL_ENGINE_TASK_MANAGER_H
#define RILL_ENGINE_TASK_MANAGER_H

#include "changelog_reader.h"
#include "base/metric_cells.h"
#include "partition_group.h"

typedef struct task_manager task_manager_t;

/* A partition the thread consumes, and where it stands. Read by the thread's hot path. */
typedef struct {
    char *topic;
    int32_t partition;
    const rd_kafka_topic_t *rkt; /* learned from the first message */
    int st, source;
    rill_task_t *task;    /* NULL while the task waits to be made */
    bool active;          /* the task runs: records are processed */
    bool repartition;     /* an internal repartition topic: purged after commits */
    bool retry;           /* a retry topic: st and source -1, task NULL; each record names its
                           * task (errors.retry.topics.delays.ms) */
    int64_t due;          /* a retry slot paused until then (wall-clock ms); 0: not paused */
    int64_t first_offset; /* the first record processed since the assignment; -1: none yet */
    int64_t next_offset;  /* after the last processed record; -1: none yet */
    int64_t committed;    /* what this thread committed (or rewound to); -1: none */
    int64_t dropped_from; /* the first record dropped while inactive (sought back to) */
    /* When the task has other partitions (grouped), its records wait for their turn: in the
     * partition's own librdkafka queue (pq, not forwarded to the consumer's: librdkafka's
     * prefetch bounds it, with no pause), then a batch at a time in pg.queue. */
    pg_partition_t pg;
    bool grouped;
    rd_kafka_queue_t *pq; /* grouped slots only */
} slot_t;

/* Returns a new task manager; env (borrowed, with the thread's collector) is given to every
 * task. The reader restores new tasks; the task manager takes its restored() events. */
task_manager_t *rill__tm_new(const thread_ctx_t *ctx, const char *name, const rill_task_env_t *env);
/* Sets the restore reader (it calls rill__tm_restored), the consumer whose partitions are
 * paused while their tasks restore, closing, called before a restored task closes (its
 * checkpoint is written there), and ends, which returns a new array of where the stores of a
 * task reach in each changelog (a suspended task catches up from there when resumed). */
void rill__tm_bind(task_manager_t *tm, changelog_reader_t *reader, rd_kafka_t *consumer,
                   void (*closing)(void *ud, rill_task_t *task, int32_t partition),
                   int64_t *(*ends)(void *ud, rill_task_t *task, int32_t partition), void *ud);
/* Sets the consumer's queue and the fd that wakes the thread's loop: a grouped slot's partition
 * queue writes to wake_fd when it goes from empty to not, and goes back to forwarding to cq when
 * the partition is revoked. */
void rill__tm_set_queues(task_manager_t *tm, rd_kafka_queue_t *cq, int wake_fd);
/* Closes every task and frees the table; accepts NULL. */
void rill__tm_destroy(task_manager_t *tm);
/* The reader's restored() event. */
void rill__tm_restored(void *tm, rill_task_t *task);

/* Takes newly assigned partitions: tasks are resumed (suspended ones), made and restored, or
 * left to wait for their stores; suspended tasks not given back are closed. Call
 * rill__tm_pause_inactive() once the consumer has the assignment. 0 or a code with why. */
int rill__tm_assign(task_manager_t *tm, const rd_kafka_topic_partition_list_t *parts, char *why,
                    size_t why_size);
/* Pauses the partitions whose tasks do not run yet (after the consumer's assignment). */
void rill__tm_pause_inactive(task_manager_t *tm);
/* Gives up partitions (NULL: all). Their tasks are suspended when suspend (committed, revoked by
 * an eager rebalance), else closed (lost, or the thread closes). */
void rill__tm_revoke(task_manager_t *tm, const rd_kafka_topic_partition_list_t *parts,
                     bool suspend);
/* Retries tasks that wait for their stores; 0 or a code with why (waited too long). */
int rill__tm_step(task_manager_t *tm, char *why, size_t why_size);
/* Returns whether every assigned task runs (none restores or waits). */
bool rill__tm_all_running(const task_manager_t *tm);
/* Returns whether some task waits to be made (the thread retries it on a timer). */
bool rill__tm_waiting(const task_manager_t *tm);

/* Returns how many tasks are fed by several slots (their records are ordered, see
 * partition_group.h); valid until the next assignment or revocation. */
size_t rill__tm_group_count(const task_manager_t *tm);
/* Points *parts and *slots at the partitions and slots of the g-th such task; returns how many. */
size_t rill__tm_group(task_manager_t *tm, size_t g, pg_partition_t ***parts, slot_t ***slots);
/* Drops every slot's queued records and gives its partition queue back (before the consumer
 * goes; the records are fetched again). */
void rill__tm_drop_queued(task_manager_t *tm);

/* Returns the slot of a consumed message, or NULL (a partition revoked a moment ago). */
slot_t *rill__tm_slot_for(task_manager_t *tm, const rd_kafka_message_t *msg);
/* The task of slot backs off (an in-place retry of the record at offset): its partitions pause,
 * to be sought back to that record (and to the first queued one of its other partitions) when
 * rill__tm_resume_backoffs() resumes it. The thread's other tasks go on. */
void rill__tm_backoff(task_manager_t *tm, slot_t *slot, int64_t offset);
/* Pauses a retry slot at the record at offset until due (wall-clock ms): its record is not due,
 * or its task is not ready for it. */
void rill__tm_pause_retry(task_manager_t *tm, slot_t *slot, int64_t offset, int64_t due);
/* Returns the running task (st, partition) of this thread, or NULL. */
rill_task_t *rill__tm_task(const task_manager_t *tm, int st, int32_t partition);
/* Resumes the tasks whose backoff ended by now (wall-clock ms), and the retry slots due;
 * returns the earliest end of those still waiting (INT64_MAX: none). */
int64_t rill__tm_resume_backoffs(task_manager_t *tm, int64_t now);
/* Returns the number of running tasks and the i-th one (its partition in *partition). */
size_t rill__tm_running_count(const task_manager_t *tm);
rill_task_t *rill__tm_running(const task_manager_t *tm, size_t i, int32_t *partition);

/* Returns a new list of the offsets to commit (after the last processed record of each
 * partition that moved since its last commit). */
rd_kafka_topic_partition_list_t *rill__tm_offsets(const task_manager_t *tm);
/* Marks the offsets of rill__tm_offsets() committed. */
void rill__tm_committed(task_manager_t *tm);
/* Marks the partitions of offsets uncommitted (an asynchronous commit failed). */
void rill__tm_commit_failed(task_manager_t *tm, const rd_kafka_topic_partition_list_t *offsets);
/* Returns a new list of the committed offsets of repartition topics (to delete before), or NULL
 * when there is none. */
rd_kafka_topic_partition_list_t *rill__tm_purgeable(const task_manager_t *tm);
/* After an aborted transaction: every partition goes back to its committed offset (asked of the
 * group) and every task is made again from its stores' committed state. 0 or a code with why. */
int rill__tm_rewind(task_manager_t *tm, char *why, size_t why_size);

/* Calls fn for each running task of sub-topology st (and partition, when >= 0) until it returns
 * false; returns how many it saw. fn NULL: counts the tasks the manager holds, in any state
 * (waiting for their stores, restoring, running, suspended). The caller holds the query lock. */
int rill__tm_query(task_manager_t *tm, int st, int32_t partition,
                   bool (*fn)(void *ud, rill_task_t *task, int32_t partition), void *ud);
/* Sums the counters of the tasks (closed ones included) into *sum, and counts the tasks that are
 * up (restored: running or suspended; not those restoring or waiting for their stores). */
void rill__tm_metrics(const task_manager_t *tm, rill_task_metrics_t *sum, size_t *tasks);

/* Publishes each task's counters for the metrics scrape (the thread calls it once a turn). */
void rill__tm_publish(task_manager_t *tm);
/* A task as rill__tm_scrape() shows it; borrowed for the call. */
typedef struct {
    const char *id, *state; /* "0_1"; WAITING, RESTORING, RUNNING or SUSPENDED */
    int st;                 /* its sub-topology */
    int32_t partition;
    const cell_t *counters;   /* RILL__TASK_COUNTERS cells, as last published */
    const cell_t *skipped_by; /* RILL_SKIP_CAUSES cells: skipped records by cause */
    const rill_task_t *task;  /* for its store and node metrics (rill__task_store_metrics) */
} tm_task_view_t;
/* Calls fn for each task that exists (restoring, running or suspended). The caller holds the
 * query lock (read), which keeps the table still. @thread any */
void rill__tm_scrape(const task_manager_t *tm, void (*fn)(void *ud, const tm_task_view_t *task),
                     void *ud);
#endif
