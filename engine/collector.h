/*
 * The record collector of a stream thread: where its tasks' sinks and changelogs send records.
 * It holds the producer's topic handles, sends with back-pressure, and reads the delivery
 * reports: the first failed delivery (reported at the next commit) and, per output partition,
 * the highest acknowledged offset (how far a changelog reaches, without asking a broker).
 * Runs on the thread's loop only. Private to engine/.
 */
#ifndef RILL_ENGINE_COLLECTOR_H
#define RILL_ENGINE_COLLECTOR_H

#include "base/metric_cells.h"
#include "thread_ctx.h"

typedef struct collector collector_t;

/* Returns a new collector for the thread named name (borrowed), or NULL. */
collector_t *rill__collector_new(const thread_ctx_t *ctx, const char *name);
/* Frees the collector and its topic handles; accepts NULL. */
void rill__collector_destroy(collector_t *c);
/* Binds the collector to producer (after any earlier one's handles are dropped); NULL unbinds,
 * which must happen before a producer is destroyed. */
void rill__collector_bind(collector_t *c, rd_kafka_t *producer);
/* Sets a function called before each send (a transaction begins there); nonzero refuses it. */
void rill__collector_set_before_send(collector_t *c, int (*fn)(void *ud), void *ud);
/* Returns the rill_collector_t that tasks send through. */
rill_collector_t rill__collector_iface(collector_t *c);
/* Takes a delivery report of producer rk (from its delivery callback). */
void rill__collector_delivered(collector_t *c, const rd_kafka_t *rk, const rd_kafka_message_t *msg);
/* Returns the offset after the last acknowledged record sent to (topic, partition), or -1. */
int64_t rill__collector_acked_end(collector_t *c, const char *topic, int32_t partition);
/* Returns the first delivery failure since the last clear ("" when none), borrowed. */
const char *rill__collector_error(const collector_t *c);
/* Forgets the delivery failure (after a rewind made it moot). */
void rill__collector_clear_error(collector_t *c);
/* Returns whether records were sent since the last call, and clears the flag. */
bool rill__collector_take_sent(collector_t *c);
/* Returns how many outputs the production handler dropped from delivery reports (continue),
 * and in *dead_letters how many of them went to the dead letter queue. @thread any */
int64_t rill__collector_skipped(const collector_t *c, int64_t *dead_letters);
/* Ends a transaction's round of delivery reports (exactly-once): committed or rewound. Returns
 * how long to back off before processing again when a retriable delivery failure asked for the
 * rewind (production.exception.handler=retry), else 0. */
int64_t rill__collector_txn_ended(collector_t *c, bool committed);
/* Waits ms (monotonic), serving the producer's delivery reports. */
void rill__collector_wait(collector_t *c, int64_t ms);
/* Returns how many records were acknowledged in total. @thread any */
int64_t rill__collector_produced(const collector_t *c);

/* Sets the wall clock (ms) that outputs' end-to-end latency is measured against until the next
 * call (the thread sets it once per batch). */
void rill__collector_set_now(collector_t *c, int64_t now_ms);
/* Returns the end-to-end latency of the outputs sent to sinks (not changelogs). @thread any */
const hist_t *rill__collector_e2e(const collector_t *c);
#endif
