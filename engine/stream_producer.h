/*
 * A stream thread's producer, and under exactly_once_v2 its transactions: begin (at the first
 * send after a commit), commit with the consumed offsets, abort, and renewal after a fatal error
 * (a new producer with the same transactional.id fences the old one). What a failed commit
 * means for the tasks (rewind to the last commit) is the thread's business: the results below
 * say what happened. Runs on the thread's loop only. Private to engine/.
 */
#ifndef RILL_ENGINE_STREAM_PRODUCER_H
#define RILL_ENGINE_STREAM_PRODUCER_H

#include "clients.h"

typedef struct stream_producer stream_producer_t;

typedef enum {
    TXN_OK,     /* committed (or aborted, for an abort) */
    TXN_REWIND, /* aborted, or the producer was renewed: rewind to the last commit */
    TXN_FAILED, /* the thread must stop; why says it */
} txn_result_t;

/* What the producer tells its thread: before its handle goes (the collector drops its topic
 * handles) and once a new one is there. */
typedef struct {
    void *ud;
    void (*replacing)(void *ud);
    void (*replaced)(void *ud, rd_kafka_t *producer);
} producer_events_t;

/* Returns a new producer (transactions initialised under exactly-once) whose main queue wakes
 * wake_fd, or NULL with errstr. cb gives its delivery callback. */
stream_producer_t *rill__producer_new(const thread_ctx_t *ctx, const char *name,
                                      const client_callbacks_t *cb, const producer_events_t *ev,
                                      int wake_fd, char *errstr, size_t errstr_size);
/* Flushes (bounded) and frees the producer; accepts NULL. */
void rill__producer_destroy(stream_producer_t *p);
/* Returns the librdkafka handle (borrowed; it changes when the producer is renewed). */
rd_kafka_t *rill__producer_handle(stream_producer_t *p);
/* Serves delivery reports without waiting. */
void rill__producer_poll(stream_producer_t *p);
/* Waits until every record sent is acknowledged, at most timeout_ms; 0 or RILL_ETIMEDOUT. */
int rill__producer_flush(stream_producer_t *p, int timeout_ms);
/* Begins a transaction unless one is open (exactly-once; otherwise does nothing). */
int rill__producer_begin(stream_producer_t *p, char *why, size_t why_size);
/* Returns whether a transaction is open. */
bool rill__producer_in_txn(const stream_producer_t *p);
/* Commits the open transaction (beginning one if none is), with offsets of consumer's group
 * (NULL or empty: none). Abortable errors abort; fatal ones renew the producer. */
txn_result_t rill__producer_commit(stream_producer_t *p, rd_kafka_t *consumer,
                                   const rd_kafka_topic_partition_list_t *offsets, char *why,
                                   size_t why_size);
/* Aborts the open transaction, if any; a fatal error renews the producer. */
txn_result_t rill__producer_abort(stream_producer_t *p, const char *reason, char *why,
                                  size_t why_size);

#endif
