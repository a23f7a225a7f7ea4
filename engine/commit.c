/*
 * The commit sequence, written once for both guarantees:
 *   1. every running task's record caches write through (stores, changelogs, downstream);
 *   2. at-least-once: the producer flushes (every output of the processed records is
 *      acknowledged), then the offsets after the last processed records are committed, then
 *      checkpoints are written where due;
 *      exactly-once: the offsets join the transaction, which commits; then the stores take
 *      their pending writes with the changelog offsets they reach;
 *   3. repartition topics are purged up to what was committed (repartition.purge.interval.ms).
 */
#include "stream_thread_int.h"

#include <stdio.h>
#include <string.h>

/* A checkpoint is written when this many changelog records were written since the last one
 * (as Kafka Streams does), and always when a task closes. */
#define CHECKPOINT_DELTA 10000
/* How long an at-least-once commit waits for the producer's acknowledgements. */
#define COMMIT_FLUSH_MS 60000
/* How long a checkpoint waits for them. */
#define CHECKPOINT_FLUSH_MS 10000

/* Returns the offset after the last record of task's changelog i that the stores hold: what this
 * thread wrote (acknowledged), or where the store restored to. */
static int64_t changelog_end(stream_thread_t *t, rill_task_t *task, int32_t partition, size_t i)
{
    int64_t end = rill__task_changelog_offset(task, i);
    int64_t acked =
        rill__collector_acked_end(t->collector, rill__task_changelog_topic(task, i), partition);
    if (acked < 0)
        acked = 0;
    return acked > end ? acked : end;
}

int64_t *rill__thread_changelog_ends(stream_thread_t *t, rill_task_t *task, int32_t partition)
{
    size_t n = rill__task_changelog_count(task);
    int64_t *ends = rill_calloc(n ? n : 1, sizeof *ends);
    for (size_t i = 0; ends && i < n; i++)
        ends[i] = changelog_end(t, task, partition, i);
    return ends;
}

void rill__thread_checkpoint(stream_thread_t *t, rill_task_t *task, int32_t partition, bool force)
{
    size_t n = rill__task_changelog_count(task);
    if (n == 0 || !t->producer || t->failed || t->ctx.eos)
        return;
    uint64_t writes = rill__task_changelog_writes(task);
    if (writes == 0 || (!force && writes < CHECKPOINT_DELTA))
        return;
    /* The end offsets come from delivery reports: every write must be acknowledged. */
    if (rill__producer_flush(t->producer, CHECKPOINT_FLUSH_MS)) {
        rill_log(RILL_LOG_WARN, "state", "task %s: no checkpoint: the producer did not flush",
                 rill__task_id(task));
        return;
    }
    int64_t *ends = rill__thread_changelog_ends(t, task, partition);
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
    for (size_t k = 0; k < rill__tm_running_count(t->tm); k++) {
        int32_t partition;
        rill_task_t *task = rill__tm_running(t->tm, k, &partition);
        int64_t *ends = rill__thread_changelog_ends(t, task, partition);
        int rc = ends ? rill__task_commit_stores(task, ends) : RILL_ENOMEM;
        rill_free(ends);
        if (rc) {
            rill__thread_fail(
                t, rc, "%s", ends ? rill__task_error(task) : "out of memory committing the stores");
            return rc;
        }
    }
    return 0;
}

/* Deletes what the thread committed from the repartition topics it reads, at most every
 * repartition.purge.interval.ms: they keep records forever otherwise. The result is not awaited; a
 * failure only leaves records for the next purge. */
static void purge_repartitions(stream_thread_t *t)
{
    int64_t now = rill_monotonic_ms();
    if (t->ctx.embedded ||
        now - t->last_purge < RILL_CONF_INT(t->ctx.conf, REPARTITION_PURGE_INTERVAL_MS))
        return;
    t->last_purge = now;
    rd_kafka_topic_partition_list_t *list = rill__tm_purgeable(t->tm);
    if (!list)
        return;
    rd_kafka_t *rk = rill__producer_handle(t->producer);
    rd_kafka_DeleteRecords_t *del = rd_kafka_DeleteRecords_new(list);
    rd_kafka_queue_t *q = rd_kafka_queue_new(rk);
    rd_kafka_DeleteRecords(rk, &del, 1, NULL, q);
    rd_kafka_queue_destroy(q); /* the result, when it comes, is dropped */
    rd_kafka_DeleteRecords_destroy(del);
    rd_kafka_topic_partition_list_destroy(list);
}

int rill__thread_rewind(stream_thread_t *t)
{
    t->dirty = false;
    t->rewound = true;
    rill__collector_clear_error(t->collector);
    char why[1024];
    int rc = rill__tm_rewind(t->tm, why, sizeof why);
    if (rc)
        rill__thread_fail(t, rc, "%s", why);
    return rc;
}

static int commit_txn(stream_thread_t *t, rd_kafka_topic_partition_list_t *offsets)
{
    char why[1024];
    txn_result_t res = rill__producer_commit(t->producer, t->consumer, offsets, why, sizeof why);
    cell_add(res == TXN_OK ? &t->m_txn_commits : &t->m_txn_aborts, 1);
    int64_t backoff = rill__collector_txn_ended(t->collector, res == TXN_OK);
    if (res == TXN_REWIND && rill__collector_error(t->collector)[0]) {
        /* A delivery failed (the transaction had to abort for it) and the production handler
         * did not ask for a retry: rewinding would fail the same way again. */
        rill__thread_fail(t, RILL_EKAFKA, "%s", rill__collector_error(t->collector));
        return RILL_EKAFKA;
    }
    if (res == TXN_REWIND && backoff > 0)
        rill__collector_wait(t->collector, backoff);
    switch (res) {
    case TXN_OK:
        t->dirty = false;
        rill__tm_committed(t->tm);
        atomic_fetch_add(&t->m_commits, 1);
        if (commit_stores(t))
            return RILL_EIO;
        purge_repartitions(t);
        return 0;
    case TXN_REWIND:
        return rill__thread_rewind(t);
    case TXN_FAILED:
    default:
        rill__thread_fail(t, RILL_EKAFKA, "%s", why);
        return RILL_EKAFKA;
    }
}

static int commit_offsets(stream_thread_t *t, rd_kafka_topic_partition_list_t *offsets, bool sync)
{
    /* Everything processed must be acknowledged before its offsets are committed. */
    if (rill__producer_flush(t->producer, COMMIT_FLUSH_MS)) {
        rill__thread_fail(t, RILL_ETIMEDOUT,
                          "cannot commit: the producer did not flush within %d s",
                          COMMIT_FLUSH_MS / 1000);
        return RILL_ETIMEDOUT;
    }
    if (rill__collector_error(t->collector)[0]) {
        rill__thread_fail(t, RILL_EKAFKA, "%s", rill__collector_error(t->collector));
        return RILL_EKAFKA;
    }
    int rc = 0;
    if (offsets->cnt) {
        rd_kafka_resp_err_t err = rd_kafka_commit(t->consumer, offsets, sync ? 0 : 1);
        if (err && err != RD_KAFKA_RESP_ERR__NO_OFFSET) {
            rill_log(RILL_LOG_WARN, "thread", "%s: offset commit failed: %s", t->name,
                     rd_kafka_err2str(err));
            rc = RILL_EKAFKA;
        } else {
            rill__tm_committed(t->tm);
            if (sync) { /* counted now: the callback may not be served again before the close */
                atomic_fetch_add(&t->m_commits, 1);
                t->sync_results++;
            }
        }
    }
    if (!rc)
        t->dirty = false;
    for (size_t k = 0; k < rill__tm_running_count(t->tm); k++) {
        int32_t partition;
        rill_task_t *task = rill__tm_running(t->tm, k, &partition);
        rill__thread_checkpoint(t, task, partition, false);
    }
    if (!rc)
        purge_repartitions(t);
    return rc;
}

int rill__thread_commit(stream_thread_t *t, bool sync)
{
    if (t->failed && t->ctx.eos) {
        /* A record may have failed halfway (some outputs sent, some state cached): committing
         * would make its partial effects durable while its offset is not. Abort instead; the
         * next owner processes it again from the last commit. */
        char why[512];
        if (rill__producer_in_txn(t->producer) &&
            rill__producer_abort(t->producer, "the thread failed", why, sizeof why) == TXN_FAILED)
            rill_log(RILL_LOG_WARN, "thread", "%s: %s", t->name, why);
        return RILL_ESTATE;
    }
    if (rill__collector_take_sent(t->collector))
        t->dirty = true; /* outputs to flush, even without new offsets */
    if (!t->dirty)
        return 0;
    /* Commit latency as Kafka Streams' commit-latency: from the caches' flush on; what the flush
     * sends is measured against now. */
    int64_t from = hist_now_ns();
    rill__collector_set_now(t->collector, rill_wall_clock_ms());
    for (size_t k = 0; k < rill__tm_running_count(t->tm); k++) {
        rill_task_t *task = rill__tm_running(t->tm, k, NULL);
        int rc = rill__task_flush(task);
        if (rc) {
            rill__thread_fail(t, rc, "%s", rill__task_error(task));
            return rc;
        }
    }
    rd_kafka_topic_partition_list_t *offsets = rill__tm_offsets(t->tm);
    int rc = t->ctx.eos ? commit_txn(t, offsets) : commit_offsets(t, offsets, sync);
    hist_observe(&t->m_commit, (uint64_t)(hist_now_ns() - from));
    rd_kafka_topic_partition_list_destroy(offsets);
    if (!rc)
        rill__collector_take_sent(t->collector); /* what the flush sent is committed too */
    return rc;
}
