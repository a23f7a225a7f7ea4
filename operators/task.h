/*
 * operators/task.h — the interface between the operators layer and the drivers that run a
 * topology: the engine's stream threads, its test driver and interactive queries. It holds the
 * task runtime (a sub-topology instantiated for one partition: records in, collector out, its
 * stores, restoration and checkpoints) and the facts about a built topology that a driver needs
 * to subscribe, create topics and route records.
 *
 * Not API: it is not installed, its functions are named rill__ and librill.so does not export
 * them (SQLite's btree.h beside sqlite3.h). The engine and tests include it; applications use
 * <rill/processor.h>, <rill/app.h> and <rill/test_driver.h>.
 *
 * Ownership and threads: a task belongs to the thread that made it; every call on it runs there,
 * except the store getters, which interactive queries call under the app's query lock.
 */
#ifndef RILL_OPERATORS_TASK_H
#define RILL_OPERATORS_TASK_H

#include <rill/processor.h>

#include "base/metric_cells.h"

typedef struct rill_task rill_task_t;
typedef struct rill_global rill_global_t;

/* ---- Facts about a built topology, for drivers ------------------------------------------- */

/* Checks that every source and sink has a serde for key and value, given the defaults (which
 * may be NULL). Returns 0 or RILL_ETOPOLOGY naming the node. */
int rill__topology_check_serdes(const rill_topology_t *topo, const rill_serde_t *default_key,
                                const rill_serde_t *default_value, char *errstr,
                                size_t errstr_size);
/* Kafka's longest topic name, and Kafka Streams' longest store name. */
#define RILL__MAX_NAME_LEN 249
/* Checks name (a topic's, a store's) against Kafka's rules: 1 to 249 characters of
 * [a-zA-Z0-9._-], not "." or "..". Returns 0, or RILL_EINVAL with the culprit (the character or
 * byte and its position, or the length) in why. */
int rill__check_name(const char *name, char *why, size_t size);
/* Checks that app_id keeps every internal topic of topo (repartition, foreign-key join and
 * changelog topics: "<app_id>-...") within 249 characters. Returns 0 or RILL_ETOPOLOGY naming
 * the topic. */
int rill__topology_check_names(const rill_topology_t *topo, const char *app_id, char *errstr,
                               size_t errstr_size);
/* Strings are borrowed from the topology. */
/* Returns the number of sub-topologies. */
int rill__topology_subtopology_count(const rill_topology_t *topo);
/* Calls cb for every topic name (not pattern) read by sub-topology st; internal topics are
 * given as their full name for application id app_id. */
void rill__topology_source_topics(const rill_topology_t *topo, int st, const char *app_id,
                                  void (*cb)(void *ud, const char *topic, bool internal,
                                             int32_t partitions),
                                  void *ud);
/* Returns whether sub-topology st holds a join (a built-in join or foreign-key join processor). */
bool rill__topology_has_join(const rill_topology_t *topo, int st);
/* Calls cb for every source pattern of sub-topology st. */
void rill__topology_source_patterns(const rill_topology_t *topo, int st,
                                    void (*cb)(void *ud, const char *pattern), void *ud);
/* Calls cb for every fixed sink topic (internal ones with their full name), with the
 * sub-topology that writes it and its declared partition count (0: as the upstream sources). */
void rill__topology_sink_topics(const rill_topology_t *topo, const char *app_id,
                                void (*cb)(void *ud, const char *topic, bool internal, int st,
                                           int32_t partitions),
                                void *ud);
/* Finds the source node reading topic (by name, internal name for app_id, or pattern); sets
 * *st and *source and returns 0, or RILL_ENOENT. */
int rill__topology_find_source(const rill_topology_t *topo, const char *app_id, const char *topic,
                               int *st, int *source);

/* Calls cb for the topic of every global store (which rill__topology_source_topics and
 * rill__topology_find_source leave out: no task reads it). */
void rill__topology_global_topics(const rill_topology_t *topo,
                                  void (*cb)(void *ud, const char *topic, bool internal,
                                             int32_t partitions),
                                  void *ud);
/* Returns whether store k (rill_topology_store's index) is a global store. */
bool rill__topology_store_global(const rill_topology_t *topo, int k);

/* ---- The task runtime -------------------------------------------------------------------- */

/* Where a task's sinks send records: serialized bytes, partition -1 for "by key". */
typedef struct {
    int (*send)(void *opaque, const char *topic, int32_t partition, const rill_buf_t *key,
                const rill_buf_t *value, int64_t timestamp, const rill_headers_t *headers);
    /* Returns the partition count of topic, or a negative code when unknown. */
    int32_t (*partition_count)(void *opaque, const char *topic);
    void *opaque;
    /* Optional (both or neither): resolve returns a handle (>= 0) for topic, valid as long as
     * the collector, or a negative code; send_to sends by handle, with no name lookup. A sink of
     * a fixed topic resolves it once. */
    int32_t (*resolve)(void *opaque, const char *topic);
    int (*send_to)(void *opaque, int32_t handle, int32_t partition, const rill_buf_t *key,
                   const rill_buf_t *value, int64_t timestamp, const rill_headers_t *headers);
    /* Optional: the cause of the last failed send in words ("Broker: Message size too large"),
     * borrowed, "" when unknown; NULL: the code's rill_strerror() says it. */
    const char *(*send_error)(void *opaque);
    /* Optional: what the last failed send's cause is, RILL_SEND_RETRIABLE or RILL_SEND_FATAL
     * (0: neither); and a wait of ms that serves the producer meanwhile (production retries). */
    int (*send_class)(void *opaque);
    void (*backoff)(void *opaque, int64_t ms);
} rill_collector_t;

enum { RILL_SEND_RETRIABLE = 1, RILL_SEND_FATAL = 2 };

/* Returns why send or send_to failed with rc: the collector's words, else rill_strerror(rc). */
const char *rill__collector_why(const rill_collector_t *col, int rc);

/* The most delays errors.retry.topics.delays.ms may list. */
#define RILL_RETRY_TOPICS_MAX 8

/* What a driver gives a task. Borrowed; must outlive the task. */
typedef struct {
    const char *application_id;
    rill_collector_t collector;
    const rill_serde_t *default_key_serde;
    const rill_serde_t *default_value_serde;
    rill_timestamp_fn timestamp_fn; /* NULL: the record's own timestamp */
    void *timestamp_ud;
    /* Failed records (operators/errors.c): the handler of each kind (NULL: continue_on says
     * whether the record is skipped or the task fails), the record error handler of
     * rill_conf_set_record_error_handler (deserialization, when no handler is set), and the
     * dead letter queue (NULL: none). */
    rill_exception_handler_fn handler[RILL_ERROR_KINDS];
    void *handler_ud[RILL_ERROR_KINDS];
    bool continue_on[RILL_ERROR_KINDS];
    rill_record_error_handler_fn error_handler;
    void *error_handler_ud;
    const char *dlq_topic;
    bool dlq_late_records;    /* late records dropped by windows go there too */
    bool dlq_dropped_records; /* and the records DSL operators drop (null keys, values) */
    /* Retry topics: the delays of errors.retry.topics.delays.ms (none: no retry topics), and
     * whether every processing error goes there (errors.retry.topics.processing=all) rather
     * than those a handler answers retry. */
    int64_t retry_delays[RILL_RETRY_TOPICS_MAX];
    int nretry_delays;
    bool retry_all;
    /* In-place retries of processing errors (errors.retry.in.place.attempts, 0: none) and the
     * first backoff, doubled at each further try. */
    int inplace_attempts;
    int64_t inplace_backoff_ms;
    /* production.exception.handler=retry, and its bound and first backoff. */
    bool retry_production;
    int production_retries;
    int64_t production_backoff_ms;
    int64_t (*wall_clock)(void *ud); /* NULL: the real clock */
    void *wall_clock_ud;
    /* State: where stores live ("<state.dir>/<application.id>"; each task has a folder in it),
     * the RocksDB memory they share, the default backend, and the task's record cache size in
     * bytes (0: no caching). */
    const char *state_dir;
    rill_store_env_t *store_env;
    rill_store_backend_t default_store_backend; /* RILL_STORE_DEFAULT means RocksDB */
    size_t cache_max_bytes;
    /* Stream-stream left and outer joins: the wall-clock interval between scans for unmatched
     * records whose window closed (0: at every record that advances stream time). */
    int64_t outer_join_emit_interval_ms;
    /* Exactly-once: the stores are transactional; their writes wait until the driver calls
     * rill__task_commit_stores() after its transaction committed, and they record their
     * changelog offsets themselves (no checkpoint file). */
    bool exactly_once;
    /* Sees every record dropped as late (a dead letter queue plugs in here); NULL: none. */
    void (*late_record)(void *ud, const rill_record_t *rec, const char *reason);
    void *late_record_ud;
    /* The app's global stores, which every task reads (NULL: the topology has none). */
    const rill_global_t *global;
    /* metrics.recording.level DEBUG or TRACE: the tasks also keep store-level metrics (each
     * operation's latency) and processor-node-level ones (records each node processed), as
     * Kafka Streams records them at DEBUG only. */
    bool debug_metrics;
} rill_task_env_t;

/* Parses errors.retry.topics.delays.ms ("1000,10000") into at most max delays; returns how
 * many, or RILL_ECONFIG with errstr. */
int rill__retry_delays_parse(const char *text, int64_t *delays, int max, char *errstr,
                             size_t errstr_size);
/* Writes the retry topic of delay: "<app_id>-retry-<delay>". */
void rill__retry_topic_name(char *buf, size_t size, const char *app_id, int64_t delay);
/* Returns whether topic is one of env's retry topics. */
bool rill__retry_topic_is(const rill_task_env_t *env, const char *topic);

/* Counters a task keeps. */
typedef struct {
    uint64_t processed;    /* records that went through a source */
    uint64_t skipped;      /* records the error handler skipped */
    uint64_t dead_letters; /* records written to the dead letter queue */
    uint64_t retried;      /* records sent to a retry topic */
    uint64_t punctuations;
    uint64_t late_dropped;       /* records that came after their window closed */
    uint64_t restored;           /* changelog records restored */
    uint64_t changelog_writes;   /* changelog records written */
    uint64_t cache_hits;         /* store reads the record cache answered */
    uint64_t cache_misses;       /* store reads of a cached store that went to the store */
    uint64_t cache_flushed;      /* entries written through from the record cache */
    uint64_t duplicates_dropped; /* records a dedupe dropped: their id was seen within its TTL */
    /* skipped by cause: [RILL_ERROR_*] a handler's, [RILL_SKIP_DROPPED] an operator dropped the
     * record (a null key or value it cannot take); they add up to skipped */
    uint64_t skipped_by[RILL_ERROR_KINDS + 1];
} rill_task_metrics_t;
#define RILL_SKIP_DROPPED RILL_ERROR_KINDS
#define RILL_SKIP_CAUSES  (RILL_ERROR_KINDS + 1)

/* Creates directory path and its parents (mkdir -p; state_files.c): 0, RILL_EINVAL (NULL or too
 * long) or RILL_EIO. */
int rill__make_dirs(const char *path);

/* Returns a new task running sub-topology st of a built topology for partition, with every
 * processor initialised, or NULL with the reason in errstr. */
rill_task_t *rill__task_new(const rill_topology_t *topo, int st, int32_t partition,
                            const rill_task_env_t *env, char *errstr, size_t errstr_size);
/* rill__task_new, with why it failed in *rc: RILL_EBUSY when the task's state directory is held
 * (another stream thread of the instance has the task open: retry once it has closed it). */
rill_task_t *rill__task_open(const rill_topology_t *topo, int st, int32_t partition,
                             const rill_task_env_t *env, int *rc, char *errstr, size_t errstr_size);
/* Closes every processor and frees the task. NULL is fine. */
void rill__task_destroy(rill_task_t *task);
/*
 * Processes one record read by source node source (from rill__topology_find_source): raw holds
 * the serialized key and value. Deserialization and timestamp errors go to the error handler;
 * returns 0 (processed or skipped) or a negative code with rill__task_error() saying why.
 */
int rill__task_process(rill_task_t *task, int source, const rill_record_t *raw);
/* Returns the sub-topology that first read raw, a record of a retry topic (its source node in
 * *source), or RILL_ENOENT. */
int rill__retry_subtopology(const rill_topology_t *topo, const char *app_id,
                            const rill_record_t *raw, int *source);
/* rill__task_process's answer for a record that failed with an error retried in place: it was
 * not processed (nothing it did stays), and the task backs off until
 * rill__task_backoff_until(); its driver pauses the task's partitions (not the thread's), and
 * gives it the same record again after that, then the records behind it. */
#define RILL_TASK_BACKOFF 3
/* Returns the wall-clock ms until which the task backs off, 0 when it does not. */
int64_t rill__task_backoff_until(const rill_task_t *task);
/* Ends the task's backoff (its driver gives it the record again now). */
void rill__task_backoff_end(rill_task_t *task);
/* rill__task_process_retry's answer for a record whose due time (*due) has not come. */
#define RILL_RETRY_NOT_DUE 2
/* Processes raw, a record read from a retry topic, through the source that first read it, as
 * that record (its original topic, partition and offset), when its due time has passed at now
 * (wall-clock ms); returns RILL_RETRY_NOT_DUE with *due when it has not, else as
 * rill__task_process. */
int rill__task_process_retry(rill_task_t *task, const rill_record_t *raw, int64_t now,
                             int64_t *due);
/* Runs the wall-clock punctuators due at now; returns 0 or a negative code. */
int rill__task_punctuate(rill_task_t *task, int64_t now);
/* Returns the wall-clock time of the next punctuator due, or of the end of an in-place retry's
 * backoff if sooner, or INT64_MAX when none. */
int64_t rill__task_next_punctuation(const rill_task_t *task);
/*
 * State, for drivers. A new task opens its stores and reads its checkpoint; before it processes,
 * the driver restores every changelog i < rill__task_changelog_count() from
 * rill__task_changelog_offset() (or the beginning, when it is negative) to the end, feeding records
 * to rill__task_restore(). At commit: rill__task_flush() (cache → stores, changelogs, downstream),
 * then the driver makes the collector's sends durable, then rill__task_checkpoint() with the
 * changelogs' end offsets (under exactly-once: commits its transaction, then
 * rill__task_commit_stores()).
 */
/* Returns the number of changelog topics the task's stores write. */
size_t rill__task_changelog_count(const rill_task_t *task);
/* Returns the full name of changelog i (its partition is the task's), borrowed. */
const char *rill__task_changelog_topic(const rill_task_t *task, size_t i);
/* Returns the name of the store changelog i belongs to, borrowed. */
const char *rill__task_changelog_store(const rill_task_t *task, size_t i);
/* Returns the offset to restore changelog i from (the checkpointed one), or -1: from the start. */
int64_t rill__task_changelog_offset(const rill_task_t *task, size_t i);
/* Empties the store of changelog i (wiping its files) so that it restores from the start:
 * for a checkpoint the changelog does not reach. 0 or a code with the reason in errstr. */
int rill__task_reset_store(rill_task_t *task, size_t i, char *errstr, size_t errstr_size);
/* Applies one changelog record (raw bytes, as written: key, value or null, timestamp) to the
 * store of changelog i. 0 or a negative code. */
int rill__task_restore(rill_task_t *task, size_t i, const rill_record_t *raw);
/* Applies n changelog records of changelog i at once (one atomic write batch for key-value
 * stores). 0 or a negative code. */
int rill__task_restore_batch(rill_task_t *task, size_t i, const rill_record_t *raw, size_t n);
/* Writes the record cache through: stores, changelogs and downstream nodes. 0 or a code. */
int rill__task_flush(rill_task_t *task);
/* Returns how many changelog records the task wrote since its last checkpoint. */
uint64_t rill__task_changelog_writes(const rill_task_t *task);
/* Makes the stores durable and writes the checkpoint file: end_offsets[i] is the offset after
 * the last record of changelog i (all acknowledged). 0 or RILL_EIO. */
int rill__task_checkpoint(rill_task_t *task, const int64_t *end_offsets);
/* Under exactly-once, after the driver's transaction committed: writes every store's pending
 * writes with end_offsets[i], the offset after the last record of changelog i in that
 * transaction (-1: none), in one atomic write per store. 0 or a code (rill__task_error). */
int rill__task_commit_stores(rill_task_t *task, const int64_t *end_offsets);
/* Returns the task's key-value store called name (for interactive queries), or NULL. */
rill_store_t *rill__task_kv_store(rill_task_t *task, const char *name);
/* Returns the task's window store called name, or NULL. */
rill_window_store_t *rill__task_window_store(rill_task_t *task, const char *name);
/* Returns the task's session store called name, or NULL. */
rill_session_store_t *rill__task_session_store(rill_task_t *task, const char *name);
/* Returns the stream time of the task (INT64_MIN before any record). */
int64_t rill__task_stream_time(const rill_task_t *task);

/* Returns the last error message of the task, borrowed ("" when none). */
const char *rill__task_error(const rill_task_t *task);
/* Returns the task's counters, borrowed. */
const rill_task_metrics_t *rill__task_metrics(const rill_task_t *task);
/* Returns the task id ("<sub-topology>_<partition>"), borrowed. */
const char *rill__task_id(const rill_task_t *task);

/*
 * Store- and node-level metrics, read by the engine's scrape on another thread (the cells are
 * written by the task's thread only; the task must stay open for the call, as the app's query
 * lock keeps it). The operations of a store, each a latency histogram (its count the number of
 * calls), kept at metrics.recording.level DEBUG; records restored, kept at every level.
 */
#define RILL_STORE_OPS(X)                                                                          \
    X(GET, "get")       /* a read of one key (rill_kv_get, a window's, as of a time) */            \
    X(PUT, "put")       /* a write of one key, through the record cache or to the store */         \
    X(DELETE, "delete") /* a write of a null value */                                              \
    X(RANGE, "range")   /* an iterator: a key range, a window fetch, a session find */             \
    X(FLUSH, "flush")   /* the record cache written through, at commit */
enum {
#define RILL__STORE_OP_ID(id, name) RILL_STORE_OP_##id,
    RILL_STORE_OPS(RILL__STORE_OP_ID)
#undef RILL__STORE_OP_ID
        RILL_STORE_OP_COUNT
};
/* One store's metrics, borrowed from the task. */
typedef struct {
    const char *name;                /* the store's name */
    const hist_t *ops;               /* RILL_STORE_OP_COUNT histograms (DEBUG only) */
    const cell_t *restored;          /* changelog records restored into it */
    const cell_t *restore_remaining; /* what its restore still lacks (rill__task_restore_left) */
    bool global; /* a global store's handle: the global thread restores it, not the task */
} rill__store_metrics_t;
/* Returns how many stores the task has (its handles on the app's global stores included).
 * @thread any */
size_t rill__task_store_count(const rill_task_t *task);
/* Fills *m with store i's metrics. @thread any */
void rill__task_store_metrics(const rill_task_t *task, size_t i, rill__store_metrics_t *m);
/* Records that the restore of changelog i still lacks n records (0: restored), for the metrics. */
void rill__task_restore_left(rill_task_t *task, size_t i, uint64_t n);
/* Returns how many processor nodes the task runs. @thread any */
size_t rill__task_node_count(const rill_task_t *task);
/* Returns node i's name, and its cell of records processed (DEBUG only) in *processed.
 * @thread any */
const char *rill__task_node_metrics(const rill_task_t *task, size_t i, const cell_t **processed);

/* ---- Global stores ----------------------------------------------------------------------
 *
 * The global stores of a topology (rill_topology_add_global_store), one set per app instance:
 * each holds every partition of its topic, the store's changelog, whose records go in as they
 * are. A driver opens them (reading their checkpoint), reads every partition of each topic from
 * rill__global_offset() (or the start) to its end through rill__global_apply() before any task
 * processes, and then keeps applying what arrives; rill__global_checkpoint() records how far the
 * stores on disk are. One thread writes; tasks on any thread read (statestore.h's concurrent
 * readers: rill_store_get_copy and iterators).
 */
/* Opens every global store of topo: RocksDB ones in "<env->state_dir>/global" (locked against a
 * second owner, with its .checkpoint). Returns NULL with the reason in errstr (RILL_EBUSY style
 * words when the directory is in use); a topology without global stores gives an empty set. */
rill_global_t *rill__global_open(const rill_topology_t *topo, const rill_task_env_t *env,
                                 char *errstr, size_t errstr_size);
/* Closes the stores (without a checkpoint) and frees the set. NULL is fine. */
void rill__global_close(rill_global_t *g);
/* Returns the number of global stores. */
size_t rill__global_count(const rill_global_t *g);
/* Returns global store i's topic, borrowed from the topology. */
const char *rill__global_topic(const rill_global_t *g, size_t i);
/* Returns global store i's name, borrowed from the topology. */
const char *rill__global_name(const rill_global_t *g, size_t i);
/* Returns the index of the global store whose topic is topic, or -1. */
int rill__global_find_topic(const rill_global_t *g, const char *topic);
/* Returns the offset to read partition of global store i's topic from (the one after the last
 * record the store holds), or -1: from the start. */
int64_t rill__global_offset(const rill_global_t *g, size_t i, int32_t partition);
/* Puts n records of global store i's topic (raw bytes; any partitions) into the store in one
 * write batch, and remembers each partition's next offset. 0 or a code (rill__global_error). */
int rill__global_apply(rill_global_t *g, size_t i, const rill_record_t *raw, size_t n);
/* Empties global store i (wiping its files) and forgets its offsets, so it loads from the
 * start: for a checkpoint outside the topic. 0 or a code (rill__global_error). */
int rill__global_reset(rill_global_t *g, size_t i);
/* Returns the records applied since the last checkpoint. */
uint64_t rill__global_writes(const rill_global_t *g);
/* Makes the stores durable and writes the checkpoint with every partition's offset. 0 or
 * RILL_EIO (rill__global_error). */
int rill__global_checkpoint(rill_global_t *g);
/* Returns the global store called name, or NULL. @thread any */
rill_store_t *rill__global_store(const rill_global_t *g, const char *name);
/* Returns the last error, borrowed ("" when none). */
const char *rill__global_error(const rill_global_t *g);

#endif
