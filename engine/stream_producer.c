/*
 * The stream thread's producer. Under exactly-once, a fatal transactional error (the coordinator
 * aborted the transaction on its timeout and bumped the epoch, or refused an abort while it moved
 * to another broker) leaves the producer unusable: a new one with the same transactional.id
 * (its init_transactions fences the old one and aborts what it left open) replaces it, and the
 * thread rewinds to the last commit, as Kafka Streams does with a task-migrated error. More than
 * three renewals in a minute fail: something is wrong beyond one outage.
 */
#include "stream_producer.h"

#include <stdio.h>
#include <string.h>

#define RENEWALS_PER_MINUTE     3
#define SEND_OFFSETS_TIMEOUT_MS 30000
#define COMMIT_TIMEOUT_MS       60000
#define ABORT_TIMEOUT_MS        60000
#define COMMIT_RETRIES          5
#define CLOSE_FLUSH_MS          10000

struct stream_producer {
    const thread_ctx_t *ctx;
    const char *name;
    client_callbacks_t cb;
    producer_events_t ev;
    int wake_fd;
    rd_kafka_t *rk;
    rd_kafka_queue_t *q;
    bool in_txn;
    int64_t renewed_at[RENEWALS_PER_MINUTE]; /* monotonic ms of the last renewals, newest first */
};

/* Makes the client (and its transactions); 0 or a code with errstr. */
static int make(stream_producer_t *p, char *errstr, size_t errstr_size)
{
    p->rk = rill__client_new(p->ctx, CLIENT_PRODUCER, &p->cb, errstr, errstr_size);
    if (!p->rk)
        return RILL_ECONFIG;
    if (p->ctx->eos) {
        rd_kafka_error_t *error = rd_kafka_init_transactions(
            p->rk, (int)RILL_CONF_INT(p->ctx->conf, CLUSTER_CONNECT_TIMEOUT_MS));
        if (error) {
            snprintf(errstr, errstr_size, "cannot start its transactional producer: %s",
                     rd_kafka_error_string(error));
            rd_kafka_error_destroy(error);
            return RILL_EKAFKA;
        }
    }
    p->q = rd_kafka_queue_get_main(p->rk);
    rd_kafka_queue_io_event_enable(p->q, p->wake_fd, "p", 1);
    p->in_txn = false;
    return 0;
}

static void drop(stream_producer_t *p, bool purge)
{
    if (p->q)
        rd_kafka_queue_destroy(p->q);
    p->q = NULL;
    if (!p->rk)
        return;
    if (purge) {
        rd_kafka_purge(p->rk, RD_KAFKA_PURGE_F_QUEUE | RD_KAFKA_PURGE_F_INFLIGHT);
        rd_kafka_poll(p->rk, 0); /* the purged records' reports */
    } else {
        rd_kafka_flush(p->rk, CLOSE_FLUSH_MS);
    }
    rd_kafka_destroy(p->rk);
    p->rk = NULL;
}

stream_producer_t *rill__producer_new(const thread_ctx_t *ctx, const char *name,
                                      const client_callbacks_t *cb, const producer_events_t *ev,
                                      int wake_fd, char *errstr, size_t errstr_size)
{
    stream_producer_t *p = rill_calloc(1, sizeof *p);
    if (!p) {
        snprintf(errstr, errstr_size, "out of memory");
        return NULL;
    }
    *p = (stream_producer_t){ctx, name, *cb, *ev, wake_fd, NULL, NULL, false, {0}};
    if (make(p, errstr, errstr_size)) {
        drop(p, true);
        rill_free(p);
        return NULL;
    }
    return p;
}

void rill__producer_destroy(stream_producer_t *p)
{
    if (!p)
        return;
    drop(p, false);
    rill_free(p);
}

rd_kafka_t *rill__producer_handle(stream_producer_t *p)
{
    return p->rk;
}

void rill__producer_poll(stream_producer_t *p)
{
    rd_kafka_poll(p->rk, 0);
}

int rill__producer_flush(stream_producer_t *p, int timeout_ms)
{
    return rd_kafka_flush(p->rk, timeout_ms) ? RILL_ETIMEDOUT : 0;
}

bool rill__producer_in_txn(const stream_producer_t *p)
{
    return p->in_txn;
}

int rill__producer_begin(stream_producer_t *p, char *why, size_t why_size)
{
    if (!p->ctx->eos || p->in_txn)
        return 0;
    rd_kafka_error_t *error = rd_kafka_begin_transaction(p->rk);
    if (error) {
        snprintf(why, why_size, "cannot begin a transaction: %s", rd_kafka_error_string(error));
        rd_kafka_error_destroy(error);
        return RILL_EKAFKA;
    }
    p->in_txn = true;
    return 0;
}

/* Replaces the producer after a fatal error (see the top of the file). */
static txn_result_t renew(stream_producer_t *p, const char *reason, char *why, size_t why_size)
{
    int64_t now = rill_monotonic_ms();
    int64_t oldest = p->renewed_at[RENEWALS_PER_MINUTE - 1];
    if (oldest && now - oldest < 60000) {
        snprintf(why, why_size,
                 "the transactional producer failed a fourth time within a minute: %s", reason);
        return TXN_FAILED;
    }
    memmove(&p->renewed_at[1], &p->renewed_at[0],
            (RENEWALS_PER_MINUTE - 1) * sizeof p->renewed_at[0]);
    p->renewed_at[0] = now;
    rill_log(RILL_LOG_WARN, "thread",
             "%s: the transactional producer failed (%s): making a new one and rewinding to the "
             "last commit",
             p->name, reason);
    if (p->ev.replacing)
        p->ev.replacing(p->ev.ud);
    drop(p, true);
    char err[512];
    if (make(p, err, sizeof err)) {
        snprintf(why, why_size, "cannot make a new transactional producer: %s", err);
        return TXN_FAILED;
    }
    if (p->ev.replaced)
        p->ev.replaced(p->ev.ud, p->rk);
    return TXN_REWIND;
}

static txn_result_t abort_txn(stream_producer_t *p, const char *reason, bool rewinding, char *why,
                              size_t why_size)
{
    if (!p->in_txn)
        return TXN_OK;
    rill_log(RILL_LOG_WARN, "thread", "%s: aborting the transaction (%s)%s", p->name, reason,
             rewinding ? "; rewinding to the last commit" : "");
    rd_kafka_error_t *error = rd_kafka_abort_transaction(p->rk, ABORT_TIMEOUT_MS);
    if (!error) {
        p->in_txn = false;
        return TXN_OK;
    }
    char msg[512];
    snprintf(msg, sizeof msg, "cannot abort the transaction: %s", rd_kafka_error_string(error));
    bool fatal = rd_kafka_error_is_fatal(error);
    rd_kafka_error_destroy(error);
    if (fatal)
        return renew(p, msg, why, why_size);
    snprintf(why, why_size, "%s", msg);
    return TXN_FAILED;
}

txn_result_t rill__producer_abort(stream_producer_t *p, const char *reason, char *why,
                                  size_t why_size)
{
    return abort_txn(p, reason, false, why, why_size);
}

txn_result_t rill__producer_commit(stream_producer_t *p, rd_kafka_t *consumer,
                                   const rd_kafka_topic_partition_list_t *offsets, char *why,
                                   size_t why_size)
{
    if (rill__producer_begin(p, why, why_size))
        return TXN_FAILED;
    /* The offsets go into the transaction first, retried while the error is retriable (the
     * coordinator moving): committing after a failed send would commit the outputs without the
     * input offsets, and the records would be processed again after the next assignment. */
    rd_kafka_error_t *error = NULL;
    for (int attempt = 0; offsets && offsets->cnt; attempt++) {
        rd_kafka_consumer_group_metadata_t *cgmd = rd_kafka_consumer_group_metadata(consumer);
        error = rd_kafka_send_offsets_to_transaction(p->rk, offsets, cgmd, SEND_OFFSETS_TIMEOUT_MS);
        rd_kafka_consumer_group_metadata_destroy(cgmd);
        if (!error || !rd_kafka_error_is_retriable(error) || attempt >= COMMIT_RETRIES)
            break;
        rill_log(RILL_LOG_WARN, "thread",
                 "%s: adding the offsets to the transaction: %s (retrying)", p->name,
                 rd_kafka_error_string(error));
        rd_kafka_error_destroy(error);
        error = NULL;
    }
    if (error && !rd_kafka_error_is_fatal(error)) {
        /* The offsets are not in the transaction: it must not commit. */
        char msg[600];
        snprintf(msg, sizeof msg, "cannot add the offsets to the transaction: %s",
                 rd_kafka_error_string(error));
        rd_kafka_error_destroy(error);
        txn_result_t res = abort_txn(p, msg, true, why, why_size);
        return res == TXN_OK ? TXN_REWIND : res;
    }
    for (int attempt = 0; !error; attempt++) {
        error = rd_kafka_commit_transaction(p->rk, COMMIT_TIMEOUT_MS);
        if (!error || !rd_kafka_error_is_retriable(error) || attempt >= COMMIT_RETRIES)
            break;
        rill_log(RILL_LOG_WARN, "thread", "%s: committing the transaction: %s (retrying)", p->name,
                 rd_kafka_error_string(error));
        rd_kafka_error_destroy(error);
        error = NULL;
    }
    if (!error) {
        p->in_txn = false;
        return TXN_OK;
    }
    char msg[600];
    txn_result_t res;
    if (rd_kafka_error_txn_requires_abort(error)) {
        snprintf(msg, sizeof msg, "%s", rd_kafka_error_string(error));
        res = abort_txn(p, msg, true, why, why_size);
        if (res == TXN_OK)
            res = TXN_REWIND;
    } else if (rd_kafka_error_is_fatal(error)) {
        snprintf(msg, sizeof msg,
                 "cannot commit the transaction (fatal: the transaction timed out and its "
                 "coordinator aborted it, or another instance with the same state directory "
                 "fenced this one): %s",
                 rd_kafka_error_string(error));
        res = renew(p, msg, why, why_size);
    } else {
        snprintf(why, why_size, "cannot commit the transaction: %s", rd_kafka_error_string(error));
        res = TXN_FAILED;
    }
    rd_kafka_error_destroy(error);
    return res;
}
