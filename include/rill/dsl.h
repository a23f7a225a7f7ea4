/*
 * dsl.h — the Streams DSL in C: build a topology by chaining operations on streams.
 *
 * A rill_stream_t is a handle on one node of a topology; the topology owns it, and it lives as
 * long as the topology. DSL calls never fail loudly: a mistake (a NULL function, a bad name) is
 * remembered by the topology and reported, with the node named, by rill_topology_build(). A call
 * given a NULL stream returns NULL, so a chain broken by running out of memory stays NULL.
 * Build a topology on one thread; once built it may be shared.
 *
 * User functions receive records whose key and value are views as the stream's serdes decoded
 * them (see serde.h). Values a function makes must outlive the call: put them in the arena of the
 * context (rill_context_arena) or in static storage.
 *
 * A sink (or repartition) given a serde writes with it what the stream carries; it never converts.
 * When the stream's values (or keys) come from a built-in serde and the one given to the sink
 * makes another kind of value (a count's native int64 written with the string serde, a windowed
 * key with the string serde), the build fails naming the sink: convert with map_values first.
 * bytes and string are one kind (raw bytes); a custom serde is never refused.
 */
#ifndef RILL_DSL_H
#define RILL_DSL_H

#include <rill/processor.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct rill_stream rill_stream_t;

/* Returns a stream of the records of the NULL-terminated topic list topics; opts may be NULL. */
RILL_EXTERN rill_stream_t *rill_stream_from(rill_topology_t *topo, const char *const *topics,
                                            const rill_source_opts_t *opts);
/* Returns a stream of one topic; opts may be NULL. */
RILL_EXTERN rill_stream_t *rill_stream_from_topic(rill_topology_t *topo, const char *topic,
                                                  const rill_source_opts_t *opts);
/* Returns a stream of every topic matching the POSIX extended regular expression pattern. While
 * no topic matches, the app runs with no task for it (RUNNING, as Kafka Streams); a topic that
 * appears is picked up at the consumer's next metadata refresh (librdkafka's
 * topic.metadata.refresh.interval.ms, 5 minutes by default: set consumer.topic.metadata.
 * refresh.interval.ms lower to see new topics sooner). */
RILL_EXTERN rill_stream_t *rill_stream_from_pattern(rill_topology_t *topo, const char *pattern,
                                                    const rill_source_opts_t *opts);

/* Names the node that made stream (instead of the generated KSTREAM-... name); returns stream. */
RILL_EXTERN rill_stream_t *rill_stream_as(rill_stream_t *stream, const char *name);
/* Returns the name of the node that made stream, borrowed. */
RILL_EXTERN const char *rill_stream_name(const rill_stream_t *stream);

/* Keeps the records for which pred is true. */
RILL_EXTERN rill_stream_t *rill_stream_filter(rill_stream_t *stream, rill_predicate_fn pred,
                                              void *ud);
/* Keeps the records for which pred is false. */
RILL_EXTERN rill_stream_t *rill_stream_filter_not(rill_stream_t *stream, rill_predicate_fn pred,
                                                  void *ud);
/* Replaces key and value; both serdes fall back to the defaults unless given at the sink. */
RILL_EXTERN rill_stream_t *rill_stream_map(rill_stream_t *stream, rill_map_fn fn, void *ud);
/* Replaces the value; the key serde is kept. */
RILL_EXTERN rill_stream_t *rill_stream_map_values(rill_stream_t *stream, rill_map_one_fn fn,
                                                  void *ud);
/* Replaces the key; the value serde is kept. */
RILL_EXTERN rill_stream_t *rill_stream_select_key(rill_stream_t *stream, rill_map_one_fn fn,
                                                  void *ud);
/* Replaces the key of each CloudEvent (a value of rill_serde_cloudevents()) by its partitionkey
 * extension, as the CloudEvents Kafka binding maps it; an event without one, or a tombstone,
 * keeps its key. The new key is the string's bytes: write it with the string serde. */
RILL_EXTERN rill_stream_t *rill_stream_key_by_partitionkey(rill_stream_t *stream);
/* Replaces each record with zero or more new pairs. */
RILL_EXTERN rill_stream_t *rill_stream_flat_map(rill_stream_t *stream, rill_flat_map_fn fn,
                                                void *ud);
/* Replaces each value with zero or more values, keeping the key: fn emits pairs whose key is
 * ignored. */
RILL_EXTERN rill_stream_t *rill_stream_flat_map_values(rill_stream_t *stream, rill_flat_map_fn fn,
                                                       void *ud);
/* Calls fn on each record and passes it on unchanged. */
RILL_EXTERN rill_stream_t *rill_stream_peek(rill_stream_t *stream, rill_action_fn fn, void *ud);
/* Calls fn on each record; a terminal operation. Returns 0 or RILL_EINVAL. */
RILL_EXTERN int rill_stream_foreach(rill_stream_t *stream, rill_action_fn fn, void *ud);
/* Returns a stream of the records of a and b both. */
RILL_EXTERN rill_stream_t *rill_stream_merge(rill_stream_t *a, rill_stream_t *b);

/* Splits a stream: each record goes to the first branch whose predicate holds, or to the
 * default branch, or is dropped. Branches are named "<split name><branch name>". */
typedef struct rill_split rill_split_t;
/* Starts a split of stream; name (may be NULL) prefixes the branch names. */
RILL_EXTERN rill_split_t *rill_stream_split(rill_stream_t *stream, const char *name);
/* Adds a branch taking the records pred accepts; returns the branch's stream. */
RILL_EXTERN rill_stream_t *rill_split_branch(rill_split_t *split, const char *name,
                                             rill_predicate_fn pred, void *ud);
/* Adds the default branch (records no predicate took); returns its stream. */
RILL_EXTERN rill_stream_t *rill_split_default(rill_split_t *split, const char *name);

/* Writes the stream to topic; opts (serdes, partitioner) may be NULL. Returns 0, or RILL_EINVAL,
 * or RILL_ETOPOLOGY when a given serde cannot encode the stream's keys or values (see above). */
RILL_EXTERN int rill_stream_to(rill_stream_t *stream, const char *topic,
                               const rill_sink_opts_t *opts);
/* Writes each record to the topic extractor names for it. */
RILL_EXTERN int rill_stream_to_dynamic(rill_stream_t *stream, rill_topic_extractor_fn extractor,
                                       void *ud, const rill_sink_opts_t *opts);
/* Repartitions by the current key through the internal topic
 * "<application.id>-<name>-repartition" (name NULL: generated); partitions 0 means as many as
 * the source. The returned stream starts a new sub-topology. */
RILL_EXTERN rill_stream_t *rill_stream_repartition(rill_stream_t *stream, const char *name,
                                                   int32_t partitions,
                                                   const rill_sink_opts_t *opts);
/* Adds a user processor (Processor API) under stream; ops is borrowed, arg owned on success and
 * released with arg_free. Returns the stream of what the processor forwards. */
RILL_EXTERN rill_stream_t *rill_stream_process(rill_stream_t *stream, const rill_processor_ops *ops,
                                               void *arg, void (*arg_free)(void *));

/* ---- State: grouping, aggregations, windows, tables ------------------------------------ */

typedef struct rill_grouped rill_grouped_t;                 /* a grouped stream */
typedef struct rill_windowed_stream rill_windowed_stream_t; /* a grouped stream in windows */
typedef struct rill_table rill_table_t;                     /* a changelog stream: a table */
typedef struct rill_grouped_table rill_grouped_table_t;     /* a regrouped table */

/* Where an operation keeps its state; every field may be 0/NULL. */
typedef struct {
    const char *name; /* the store's name, which makes it queryable; NULL: generated, internal */
    rill_store_backend_t backend; /* RILL_STORE_DEFAULT: the app's default.dsl.store */
    bool no_caching;         /* forward every update at once instead of folding them until commit */
    bool no_logging;         /* no changelog topic: the state does not survive losing the disk */
    rill_serde_t *key_serde; /* of the stored keys; NULL: the stream's, else the default */
    rill_serde_t *value_serde; /* of the stored values; NULL: as the operation implies */
    int64_t retention_ms;      /* windowed stores; 0: the window's size plus grace */
    /* rill_table_from only: a versioned store (Kafka Streams' Materialized.as(
     * Stores.persistentVersionedKeyValueStore)) keeping each key's versions for
     * history_retention_ms (> 0) of stream time. A stream-table join then joins each record with
     * the version valid at its timestamp. An update older than its key's latest version goes into
     * the history and is not forwarded downstream; one older than the history is dropped. */
    bool versioned;
    int64_t history_retention_ms;
} rill_materialized_t;

/* How records are grouped; every field may be 0/NULL. */
typedef struct {
    const char *name;          /* names the repartition topic when one is needed */
    rill_serde_t *key_serde;   /* NULL: the stream's */
    rill_serde_t *value_serde; /* NULL: the stream's */
} rill_grouped_opts_t;

/* Groups a stream by its key. When an earlier operation changed the key (map, select_key,
 * flat_map), the records go through a repartition topic first, so each key's records meet in one
 * task. opts may be NULL. */
RILL_EXTERN rill_grouped_t *rill_stream_group_by_key(rill_stream_t *stream,
                                                     const rill_grouped_opts_t *opts);
/* Groups a stream by the key fn makes (always through a repartition topic). */
RILL_EXTERN rill_grouped_t *rill_stream_group_by(rill_stream_t *stream, rill_map_one_fn fn,
                                                 void *ud, const rill_grouped_opts_t *opts);
/* Counts the records of each key (an int64 table). Records with a null key or value are skipped,
 * as in Kafka Streams. m may be NULL. */
RILL_EXTERN rill_table_t *rill_grouped_count(rill_grouped_t *grouped, const rill_materialized_t *m);
/* Reduces the values of each key with fn (the first value is the first aggregate). */
RILL_EXTERN rill_table_t *rill_grouped_reduce(rill_grouped_t *grouped, rill_reducer_fn fn, void *ud,
                                              const rill_materialized_t *m);
/* Aggregates each key's values: init makes the first aggregate, adder folds values in. The
 * aggregate's serde is m->value_serde (NULL: the default value serde). */
RILL_EXTERN rill_table_t *rill_grouped_aggregate(rill_grouped_t *grouped, rill_initializer_fn init,
                                                 rill_aggregator_fn adder, void *ud,
                                                 const rill_materialized_t *m);

/* Tumbling windows of size_ms: [k size, (k + 1) size). Records later than the window's end plus
 * grace_ms (in stream time) are dropped as late. */
RILL_EXTERN rill_windows_t rill_windows_tumbling(int64_t size_ms, int64_t grace_ms);
/* Hopping windows of size_ms starting every advance_ms. */
RILL_EXTERN rill_windows_t rill_windows_hopping(int64_t size_ms, int64_t advance_ms,
                                                int64_t grace_ms);
/* Sliding windows: every window [t - time_difference_ms, t] (ends inclusive) that records make
 * distinct, as Kafka Streams' SlidingWindows. */
RILL_EXTERN rill_windows_t rill_windows_sliding(int64_t time_difference_ms, int64_t grace_ms);
/* Session windows: a key's records closer than gap_ms to each other form one session. */
RILL_EXTERN rill_windows_t rill_windows_session(int64_t gap_ms, int64_t grace_ms);
/* Windows a grouped stream; its aggregations make tables keyed by rill_windowed_t keys (the
 * grouped key serde must be known, so the windowed key serde can wrap it). */
RILL_EXTERN rill_windowed_stream_t *rill_grouped_windowed_by(rill_grouped_t *grouped,
                                                             rill_windows_t windows);
/* Counts each key's records per window. */
RILL_EXTERN rill_table_t *rill_windowed_count(rill_windowed_stream_t *ws,
                                              const rill_materialized_t *m);
/* Reduces each key's values per window. */
RILL_EXTERN rill_table_t *rill_windowed_reduce(rill_windowed_stream_t *ws, rill_reducer_fn fn,
                                               void *ud, const rill_materialized_t *m);
/* Aggregates each key's values per window; session windows also need merger, which combines the
 * aggregates of sessions a record joins (NULL otherwise). */
RILL_EXTERN rill_table_t *rill_windowed_aggregate(rill_windowed_stream_t *ws,
                                                  rill_initializer_fn init,
                                                  rill_aggregator_fn adder, rill_merger_fn merger,
                                                  void *ud, const rill_materialized_t *m);

/* Returns a table of topic: the latest value per key (a null value deletes the key). opts and m
 * may be NULL; m->versioned keeps the versions too. */
RILL_EXTERN rill_table_t *rill_table_from(rill_topology_t *topo, const char *topic,
                                          const rill_source_opts_t *opts,
                                          const rill_materialized_t *m);
/* Keeps the rows pred accepts (others become deletes). m (may be NULL) materializes the result. */
RILL_EXTERN rill_table_t *rill_table_filter(rill_table_t *table, rill_predicate_fn pred, void *ud,
                                            const rill_materialized_t *m);
/* Keeps the rows pred rejects. */
RILL_EXTERN rill_table_t *rill_table_filter_not(rill_table_t *table, rill_predicate_fn pred,
                                                void *ud, const rill_materialized_t *m);
/* Maps every row's value with fn. */
RILL_EXTERN rill_table_t *rill_table_map_values(rill_table_t *table, rill_map_one_fn fn, void *ud,
                                                const rill_materialized_t *m);
/* Returns the stream of the table's updates (new values; deletes as null values). */
RILL_EXTERN rill_stream_t *rill_table_to_stream(rill_table_t *table);
/* Returns the name of the store that holds the table, or NULL when it is not materialized.
 * Borrowed from the topology. */
RILL_EXTERN const char *rill_table_store_name(const rill_table_t *table);
/* Regroups a table: fn gives each row a new key and value; aggregations of the result subtract
 * a row's old value and add its new one. Goes through a repartition topic. */
RILL_EXTERN rill_grouped_table_t *rill_table_group_by(rill_table_t *table, rill_map_fn fn, void *ud,
                                                      const rill_grouped_opts_t *opts);
/* Counts the rows of each new key. */
RILL_EXTERN rill_table_t *rill_grouped_table_count(rill_grouped_table_t *gt,
                                                   const rill_materialized_t *m);
/* Reduces the rows of each new key with adder and subtractor. */
RILL_EXTERN rill_table_t *rill_grouped_table_reduce(rill_grouped_table_t *gt, rill_reducer_fn adder,
                                                    rill_reducer_fn subtractor, void *ud,
                                                    const rill_materialized_t *m);
/* Aggregates the rows of each new key: init, adder for new values, subtractor for old ones. */
RILL_EXTERN rill_table_t *rill_grouped_table_aggregate(rill_grouped_table_t *gt,
                                                       rill_initializer_fn init,
                                                       rill_aggregator_fn adder,
                                                       rill_aggregator_fn subtractor, void *ud,
                                                       const rill_materialized_t *m);

/* How suppress holds updates back. */
typedef struct {
    bool until_window_closes; /* emit each window's final result once it closes (end + grace) */
    int64_t time_limit_ms;    /* else: emit a key's latest update this long after its first */
    uint64_t max_records;     /* buffer bound; 0: unbounded */
    uint64_t max_bytes;       /* buffer bound; 0: unbounded */
    bool shut_down_when_full; /* a full buffer stops the app; else it emits the oldest early */
    const char *name;         /* names the node and its buffer store; NULL: generated */
} rill_suppressed_t;

/* Holds the table's updates back as suppressed says; the buffer is a logged store, so held
 * updates survive a restart. */
RILL_EXTERN rill_table_t *rill_table_suppress(rill_table_t *table,
                                              const rill_suppressed_t *suppressed);

/* ---- Idempotent consumers: dedupe ---------------------------------------------------------
 *
 * rill_stream_dedupe drops a record when an earlier record of the same id passed less than ttl_ms
 * before or after it, in stream time (record timestamps, as windows: the same input gives the
 * same output on every replay without a restart; stream time starts over when a task is made
 * again). The TTL runs from the record that passed: a dropped duplicate
 * does not extend it. A record without an id passes. An out-of-order record is compared with
 * what is still remembered (passed records less than ttl_ms older than stream time). Dropped
 * records count in the metric "duplicates-dropped". The memory is a window store (of 2 * ttl_ms
 * retention) with a changelog, so it survives a restart or a task moving to another instance
 * (while record times are within the changelog's retention.ms of the wall clock), and under
 * exactly_once_v2 its writes commit with the outputs and the offsets; under at-least-once an
 * entry holds its record's source, so a record read again after a crash that kept its entry but
 * lost its output passes. Dedupe works
 * per task (per partition): by key, a stream whose key may have changed goes through a
 * repartition topic first ("<application.id>-<store>-repartition"); an id from a header or a
 * function finds only the duplicates in the same partition, which holds when the duplicates are
 * resends of one record (same key, so same partition). See docs/dedupe.md.
 */

/* The record's key (serialized with m->key_serde, else the stream's, else the default) as id. */
RILL_EXTERN rill_dedupe_id_t rill_dedupe_by_key(void);
/* The value of the record's last header called name (borrowed until the DSL call) as id. */
RILL_EXTERN rill_dedupe_id_t rill_dedupe_by_header(const char *name);
/* The bytes fn (with ud) makes of the record as id (a null view: the record has none). */
RILL_EXTERN rill_dedupe_id_t rill_dedupe_by_function(rill_map_one_fn fn, void *ud);
/* Drops the records whose id passed within ttl_ms (> 0) of stream time (see above). m (may be
 * NULL) names the store (else "KSTREAM-DEDUPE-STATE-STORE-<n>", internal) and sets its backend,
 * logging and caching; its retention_ms is ignored. */
RILL_EXTERN rill_stream_t *rill_stream_dedupe(rill_stream_t *stream, rill_dedupe_id_t id,
                                              int64_t ttl_ms, const rill_materialized_t *m);

/* ---- Event-sourced aggregates: decide ------------------------------------------------------
 *
 * rill_stream_decide runs the decider pattern on a stream of commands keyed by aggregate id: for
 * each command, decide(command, state) emits zero or more events or rejects it with a reason;
 * the events go to the event topic (keyed by the aggregate id, with the command's timestamp) and
 * evolve(state, event) folds each of them into the aggregate's state, kept with its version (the
 * count of events applied so far) in a logged key-value store. Each command gets a reply on the
 * reply topic: {"status":"accepted","version":V,"events":N} or
 * {"status":"rejected","version":V,"reason":"..."} (JSON text, V the version after the command),
 * keyed by the aggregate id. Events and reply carry the command's correlation header. A command
 * with an expected-version header (decimal) is rejected, naming both versions, unless it equals
 * the aggregate's version. A command with a null key is skipped (records-skipped); a decide or
 * evolve that fails writes nothing for the command and the processing error handler decides.
 * Under exactly_once_v2 a command's events, state, reply and offset commit together. A command
 * whose key may have changed goes through a repartition topic first
 * ("<application.id>-<store>-repartition"). See docs/event-sourcing.md.
 */

/* How rill_stream_decide names and writes what it makes; event_topic is required. */
typedef struct {
    const char *event_topic;        /* where the events go */
    const char *reply_topic;        /* where the replies go; NULL: no replies */
    const char *store;              /* the states' store (queryable); NULL: generated, internal */
    const char *name;               /* names the node; NULL: "KSTREAM-DECIDE-<n>" */
    rill_serde_t *event_serde;      /* writes the events; NULL: the default value serde */
    rill_store_backend_t backend;   /* of the store; RILL_STORE_DEFAULT: the app's */
    bool no_caching;                /* write the store through on every command */
    const char *correlation_header; /* NULL: "correlation-id" */
    const char *expected_version_header; /* NULL: "expected-version" */
} rill_decide_opts_t;

/* Decides each command of commands (see above); ud goes to decide and evolve. Returns the stream
 * of the events (keyed by aggregate id, values as decide emitted them), which also goes to
 * opts->event_topic. */
RILL_EXTERN rill_stream_t *rill_stream_decide(rill_stream_t *commands, rill_decide_fn decide,
                                              rill_evolve_fn evolve, void *ud,
                                              const rill_decide_opts_t *opts);

/* ---- Global tables ------------------------------------------------------------------------
 *
 * A global table (Kafka Streams' GlobalKTable) is a table every instance of the app holds in
 * full: all partitions of its topic, in one key-value store per instance (not per task), loaded
 * from the topic before any task processes a record and kept current while the app runs. Its
 * topic is its changelog; records go into the store as they are (the latest value per key, a
 * null value deletes, a null key is skipped). Processors of any sub-topology read the store by
 * name (rill_context_kv_store); nothing writes it but its topic. Its topic need not be
 * co-partitioned with anything.
 */
typedef struct rill_global_table rill_global_table_t;

/* Returns a global table of topic. Its store is m->name or, when m or m->name is NULL,
 * "<topic>-STATE-STORE-<n>" as Kafka Streams names it; queryable either way. m's serdes (NULL:
 * opts', else the defaults) describe the stored keys and values; m's no_logging and no_caching
 * are implied. opts and m may be NULL. The table lives as long as the topology. */
RILL_EXTERN rill_global_table_t *rill_global_table_from(rill_topology_t *topo, const char *topic,
                                                        const rill_source_opts_t *opts,
                                                        const rill_materialized_t *m);
/* Returns the name of the global table's store, borrowed from the topology. */
RILL_EXTERN const char *rill_global_table_store_name(const rill_global_table_t *gt);

/* ---- Joins ------------------------------------------------------------------------------
 *
 * Kafka Streams' joins, with its semantics record for record. Both sides must be co-partitioned
 * (their topics have the same partition count, checked when the app starts); a side whose key
 * may have changed goes through a repartition topic first, as grouping does. A joiner sees the
 * key and both values; in left and outer joins a missing side is a null view (data NULL).
 */

/* Join windows of time_difference_ms both ways, with grace_ms (JoinWindows.
 * ofTimeDifferenceAndGrace; grace 0 is ofTimeDifferenceWithNoGrace). */
RILL_EXTERN rill_join_windows_t rill_join_windows(int64_t time_difference_ms, int64_t grace_ms);

/* How a join is named and what its state uses (StreamJoined, Joined); every field may be 0/NULL. */
typedef struct {
    const char *name;        /* names the join's nodes ("<name>-this-join", "<name>-merge", ...) */
    const char *store_name;  /* stream-stream: names the stores ("<store_name>-this-join-store") */
    rill_serde_t *key_serde; /* NULL: the left side's */
    rill_serde_t *left_value_serde;  /* NULL: the left side's */
    rill_serde_t *right_value_serde; /* NULL: the right side's */
    rill_serde_t *value_serde;       /* of the results; NULL: the default, at the sink */
    rill_store_backend_t backend;    /* of the join's stores; RILL_STORE_DEFAULT: the app's */
    bool no_logging;                 /* no changelog for the join's stores */
    /* Stream-table joins with a versioned table only (Joined.withGracePeriod, KIP-923): stream
     * records wait in a buffer (the key-value store "<join node>-Buffer", logged) until stream
     * time reaches their timestamp plus grace_ms, then join in timestamp order, so table updates
     * up to grace_ms late still meet them (a held record keeps its headers). 0: none. */
    int64_t grace_ms;
} rill_join_opts_t;

/* Stream-stream inner join: each pair of left and right records of a key within the windows. */
RILL_EXTERN rill_stream_t *rill_stream_join(rill_stream_t *left, rill_stream_t *right,
                                            rill_joiner_fn joiner, void *ud,
                                            rill_join_windows_t windows,
                                            const rill_join_opts_t *opts);
/* Stream-stream left join: the inner join's results, and each left record that found no right
 * record (with a null right value) once its window closed. */
RILL_EXTERN rill_stream_t *rill_stream_left_join(rill_stream_t *left, rill_stream_t *right,
                                                 rill_joiner_fn joiner, void *ud,
                                                 rill_join_windows_t windows,
                                                 const rill_join_opts_t *opts);
/* Stream-stream outer join: the left join's results, and the unmatched right records too. */
RILL_EXTERN rill_stream_t *rill_stream_outer_join(rill_stream_t *left, rill_stream_t *right,
                                                  rill_joiner_fn joiner, void *ud,
                                                  rill_join_windows_t windows,
                                                  const rill_join_opts_t *opts);
/* Stream-table inner join: a stream record joins the table's value for its key at that moment
 * (a versioned table's: the version valid at the record's timestamp); records whose key the
 * table lacks are dropped. Table updates emit nothing. */
RILL_EXTERN rill_stream_t *rill_stream_table_join(rill_stream_t *stream, rill_table_t *table,
                                                  rill_joiner_fn joiner, void *ud,
                                                  const rill_join_opts_t *opts);
/* Stream-table left join: as the inner join, and a record whose key the table lacks joins a
 * null right value. */
RILL_EXTERN rill_stream_t *rill_stream_table_left_join(rill_stream_t *stream, rill_table_t *table,
                                                       rill_joiner_fn joiner, void *ud,
                                                       const rill_join_opts_t *opts);
/* Stream-global table inner join: key_mapper (with mapper_ud) gives each stream record the key of
 * the global table's row it joins (a null view: none); records without a row are dropped. The
 * result keeps the stream record's key. No co-partitioning: every instance holds the whole
 * global table. */
RILL_EXTERN rill_stream_t *rill_stream_global_join(rill_stream_t *stream, rill_global_table_t *gt,
                                                   rill_map_one_fn key_mapper, void *mapper_ud,
                                                   rill_joiner_fn joiner, void *ud,
                                                   const rill_join_opts_t *opts);
/* Stream-global table left join: as the inner join, and a record without a row (or with a null
 * key) joins a null right value. */
RILL_EXTERN rill_stream_t *rill_stream_global_left_join(rill_stream_t *stream,
                                                        rill_global_table_t *gt,
                                                        rill_map_one_fn key_mapper, void *mapper_ud,
                                                        rill_joiner_fn joiner, void *ud,
                                                        const rill_join_opts_t *opts);
/* Table-table inner join: a table of the joined rows, updated (and deleted) as either side
 * changes. m (may be NULL) materializes the result. */
RILL_EXTERN rill_table_t *rill_table_join(rill_table_t *left, rill_table_t *right,
                                          rill_joiner_fn joiner, void *ud,
                                          const rill_materialized_t *m);
/* Table-table left join: every left row, joined with the right row of its key or null. */
RILL_EXTERN rill_table_t *rill_table_left_join(rill_table_t *left, rill_table_t *right,
                                               rill_joiner_fn joiner, void *ud,
                                               const rill_materialized_t *m);
/* Table-table outer join: every key of either side, the missing side null. */
RILL_EXTERN rill_table_t *rill_table_outer_join(rill_table_t *left, rill_table_t *right,
                                                rill_joiner_fn joiner, void *ud,
                                                const rill_materialized_t *m);

/* Foreign-key table-table inner join (Kafka Streams' KIP-213): foreign_key (with fk_ud) gives a
 * left row's value the key of the right row it joins (a null view: none, and the row is
 * skipped); the result, keyed by the left key, is updated (and deleted) as the left row or the
 * right row it names changes. The two sides need not be co-partitioned: subscriptions and
 * responses travel through the internal topics "<application.id>-KTABLE-FK-JOIN-SUBSCRIPTION-
 * REGISTRATION-<n>-topic" and "...-SUBSCRIPTION-RESPONSE-<n>-topic", and an answer to a left
 * value the row no longer has is dropped (by its murmur3 hash). m (may be NULL) materializes it. */
RILL_EXTERN rill_table_t *rill_table_fk_join(rill_table_t *left, rill_table_t *right,
                                             rill_map_one_fn foreign_key, void *fk_ud,
                                             rill_joiner_fn joiner, void *ud,
                                             const rill_materialized_t *m);
/* Foreign-key table-table left join: as the inner join, and every left row has a result, joined
 * with null while its foreign key is null or names no right row. */
RILL_EXTERN rill_table_t *rill_table_fk_left_join(rill_table_t *left, rill_table_t *right,
                                                  rill_map_one_fn foreign_key, void *fk_ud,
                                                  rill_joiner_fn joiner, void *ud,
                                                  const rill_materialized_t *m);
#ifdef __cplusplus
}
#endif
#endif
