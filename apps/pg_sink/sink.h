/*
 * rill-pg-sink's loop: a Kafka consumer (librdkafka, a group) whose records go to PostgreSQL in
 * batches, one transaction each, with the partitions' next offsets in the same transaction.
 * Positions come from the offsets table on every assignment, never from Kafka's committed
 * offsets (which the sink commits too after each transaction, for lag monitoring only).
 * One sink runs on the calling thread; pg_sink_stop() may be called from a signal handler.
 */
#ifndef RILL_APPS_PG_SINK_SINK_H
#define RILL_APPS_PG_SINK_SINK_H

#include "pg.h"

/* Where a record's event id comes from. */
typedef enum {
    PG_ID_KEY,    /* the record's key */
    PG_ID_HEADER, /* the last header named id_name */
    PG_ID_JSON,   /* the top-level member id_name of the value (a JSON object) */
} pg_id_from_t;

typedef struct {
    const char *bootstrap; /* bootstrap.servers */
    const char *group;     /* group.id, and the offsets table's group_id */
    const char *const *topics;
    int ntopics;
    const char *const *kafka_conf; /* librdkafka KEY=VALUE settings, ntopics-style count below */
    int nkafka_conf;
    pg_id_from_t id_from;
    const char *id_name;
    int batch_size;    /* records a transaction at most */
    int batch_ms;      /* how long a batch may wait to fill before it is written */
    bool start_at_end; /* a partition without a stored offset starts at its end (else start) */
    int progress_ms;   /* how often a progress line is logged (0: never) */
    pg_store_opts_t pg;
} pg_sink_opts_t;

/* Runs until pg_sink_stop() (then writes the batch in hand and leaves the group) or an error.
 * Returns 0 after a clean stop, or 1 after logging the error (naming the topic, partition and
 * offset of the record concerned, and PostgreSQL's message). */
int pg_sink_run(const pg_sink_opts_t *opts);
/* Asks the running sink to stop after its current transaction. @thread any, async-signal-safe. */
void pg_sink_stop(void);

#endif
