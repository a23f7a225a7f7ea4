/*
 * app.h — the engine: configuration, the application that runs a topology on Kafka with stream
 * threads, and a small producer for feeding topics.
 *
 * A rill_conf_t is filled by one thread and then handed to rill_app_new(), which takes it over on
 * success. A rill_app_t is driven from the thread that made it (start, close, destroy); its
 * state, metrics and error may be read from any thread. Listeners and handlers are called from
 * stream threads (@thread any) and must not call rill_app_close().
 *
 * With no bootstrap.servers the app starts librdkafka's mock cluster in-process (the embedded
 * default): in memory only, and it does not hide aborted transactions from read_committed readers.
 */
#ifndef RILL_APP_H
#define RILL_APP_H

#include <rill/processor.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ---- Configuration --------------------------------------------------------------------- */

typedef struct rill_conf rill_conf_t;

/* One property of Rill's configuration table. */
typedef struct {
    const char *name;
    const char *type;          /* "string", "int", "enum", "bool" */
    const char *default_value; /* "" when none */
    const char *range;         /* "1..", "at_least_once|...", "" */
    const char *doc;
} rill_conf_property_t;

/* Returns a new configuration holding every default, or NULL. */
RILL_EXTERN rill_conf_t *rill_conf_new(void);
/* Frees a configuration. NULL is fine. */
RILL_EXTERN void rill_conf_destroy(rill_conf_t *conf);
/* Returns a new deep copy of conf, or NULL. */
RILL_EXTERN rill_conf_t *rill_conf_dup(const rill_conf_t *conf);
/*
 * Sets key to value. Keys are Rill's (see docs/CONFIGURATION.md) or librdkafka's, passed to both
 * clients, or librdkafka's behind "consumer." or "producer." for one client only. Whitespace
 * around the key and the value is dropped, for every key ("num.stream.threads", " 4" sets 4).
 * Returns 0, or RILL_ECONFIG with the key and the reason in errstr (unknown key, bad number, out
 * of range, a name Kafka would refuse).
 */
RILL_EXTERN int rill_conf_set(rill_conf_t *conf, const char *key, const char *value, char *errstr,
                              size_t errstr_size);
/* Returns the value of key (a Rill property), borrowed, or NULL when unknown. */
RILL_EXTERN const char *rill_conf_get(const rill_conf_t *conf, const char *key);
/* Reads "key=value" lines (# comments, blank lines) from path; errors name the file and line (a
 * path that is a directory, or that cannot be read, is an error too). */
RILL_EXTERN int rill_conf_load_file(rill_conf_t *conf, const char *path, char *errstr,
                                    size_t errstr_size);
/* Sets a user timestamp extractor used by sources without their own. */
RILL_EXTERN void rill_conf_set_timestamp_extractor(rill_conf_t *conf, rill_timestamp_fn fn,
                                                   void *ud);
/* Sets a record error handler (deserialization, invalid timestamps), replacing the one chosen
 * by deserialization.exception.handler. */
RILL_EXTERN void rill_conf_set_record_error_handler(rill_conf_t *conf,
                                                    rill_record_error_handler_fn fn, void *ud);
/* Sets the exception handler of kind (replacing the one its property chooses; for
 * deserialization, also a record error handler; for production, production.exception.handler);
 * fn NULL goes back to the property. */
RILL_EXTERN void rill_conf_set_exception_handler(rill_conf_t *conf, rill_error_kind_t kind,
                                                 rill_exception_handler_fn fn, void *ud);
/* Returns the property table (borrowed, static) and its length in *count. */
RILL_EXTERN const rill_conf_property_t *rill_conf_properties(size_t *count);
/* Returns a new string (free with rill_free): docs/CONFIGURATION.md made from the table. */
RILL_EXTERN char *rill_conf_markdown(void);

/* ---- The application ------------------------------------------------------------------- */

#define RILL_STATE_MAP(X)                                                                          \
    X(CREATED)                                                                                     \
    X(REBALANCING)                                                                                 \
    X(RUNNING)                                                                                     \
    X(PENDING_SHUTDOWN)                                                                            \
    X(NOT_RUNNING)                                                                                 \
    X(ERROR)

typedef enum {
#define RILL_STATE_ENUM(name) RILL_STATE_##name,
    RILL_STATE_MAP(RILL_STATE_ENUM)
#undef RILL_STATE_ENUM
} rill_state_t;

/* Returns the state's name ("RUNNING"), static. */
RILL_EXTERN const char *rill_state_name(rill_state_t state);

typedef struct rill_app rill_app_t;

/* Called on every change of the app's state. @thread any */
typedef void (*rill_state_listener_fn)(void *ud, rill_state_t new_state, rill_state_t old_state);
/* Called when a stream thread fails (a processor error, a fatal Kafka error); message names the
 * task and the cause. The app then shuts down and ends in ERROR. @thread any */
typedef void (*rill_error_handler_fn)(void *ud, int err, const char *message);

/*
 * Returns a new app running topo (which is built if it is not, and referenced) with conf (taken
 * over on success), or NULL with the reason in errstr. With no bootstrap.servers it starts the
 * embedded cluster and creates the topology's topics there.
 */
RILL_EXTERN rill_app_t *rill_app_new(rill_topology_t *topo, rill_conf_t *conf, char *errstr,
                                     size_t errstr_size);
/* Sets the state listener (before start). */
RILL_EXTERN void rill_app_set_state_listener(rill_app_t *app, rill_state_listener_fn fn, void *ud);
/* Sets the uncaught-error handler (before start). */
RILL_EXTERN void rill_app_set_error_handler(rill_app_t *app, rill_error_handler_fn fn, void *ud);
/* Connects (within cluster.connect.timeout.ms), creates internal topics and starts the stream
 * threads. Returns 0, or a negative code with the app in ERROR and rill_app_error() saying why. */
RILL_EXTERN int rill_app_start(rill_app_t *app);
/* Waits until the app is in state (or ERROR/NOT_RUNNING), at most timeout_ms; returns 0 when it
 * reached state, RILL_ETIMEDOUT, or RILL_ESTATE when it ended elsewhere. @thread any */
RILL_EXTERN int rill_app_wait_state(rill_app_t *app, rill_state_t state, int64_t timeout_ms);
/* Stops the threads (committing what was processed, closing tasks, leaving the group), waiting
 * at most timeout_ms (monotonic); returns 0, RILL_ETIMEDOUT (the threads go on closing: close
 * again, or destroy, to wait for them), RILL_EINVAL for a negative timeout, or RILL_EUNKNOWN when
 * a thread's loop did not close cleanly (logged). */
RILL_EXTERN int rill_app_close(rill_app_t *app, int64_t timeout_ms);
/* Closes (if needed) and frees the app, and the embedded cluster. NULL is fine. */
RILL_EXTERN void rill_app_destroy(rill_app_t *app);
/* Returns the current state. @thread any */
RILL_EXTERN rill_state_t rill_app_state(rill_app_t *app);
/* Returns a copy of the error that put the app in ERROR into buf ("" when none). @thread any */
RILL_EXTERN const char *rill_app_error(rill_app_t *app, char *buf, size_t buf_size);
/* Returns the bootstrap servers the app uses (the embedded cluster's when embedded), borrowed. */
RILL_EXTERN const char *rill_app_bootstrap_servers(const rill_app_t *app);
/* ---- State: restoration and interactive queries ---------------------------------------- */

/* Hears about the restoration of a store from its changelog (a task's store restores before the
 * task processes), when there is anything to restore; and about the loading of a global store
 * from its topic, partition by partition, before the stream threads start. end_offset is the
 * partition's high watermark as the first fetch saw it (-1 when unknown): the restore reads to
 * the end of the partition. Any callback may be NULL. @thread any (the restoring stream thread,
 * or the global thread) */
typedef struct {
    void (*on_start)(void *ud, const char *store, const char *topic, int32_t partition,
                     int64_t from_offset, int64_t end_offset);
    void (*on_batch)(void *ud, const char *store, const char *topic, int32_t partition,
                     int64_t next_offset, uint64_t batch_records);
    void (*on_end)(void *ud, const char *store, const char *topic, int32_t partition,
                   uint64_t total_records);
    void *ud;
} rill_restore_listener_t;

/* Sets the restore listener (copied; before start). */
RILL_EXTERN void rill_app_set_restore_listener(rill_app_t *app,
                                               const rill_restore_listener_t *listener);

/*
 * Interactive queries read the app's named stores (rill_materialized_t.name) on this instance.
 * Keys are given serialized with the store's key serde; values come back serialized with its
 * value serde, without their timestamp. They may be called from any thread, while the app
 * runs; they read the stores as of the last commit (the record cache's newer updates are not
 * visible: set statestore.cache.max.bytes=0 for fresh reads; under exactly_once_v2 RocksDB stores
 * show committed transactions only, whatever the cache), and a task being restored is not
 * visible until it is done. Callbacks run under the app's query lock, so they must not call into
 * the app; return false from one to stop early. Results of several partitions come partition
 * after partition (each in key order). A global store (rill_global_table_from) answers on every
 * instance, for every key, once it has loaded; it reads as of the last record the global thread
 * put in. They return 0, RILL_ENOENT (no such store, or the key is not here), RILL_EINVAL (a
 * store of another kind), RILL_ESTATE (the app is not running, or a global store not loaded
 * yet) or RILL_ENOMEM/RILL_EIO.
 */
typedef bool (*rill_query_fn)(void *ud, rill_buf_t key, rill_buf_t value, int64_t timestamp);
/* A window store row: the key, the window's start, its value and timestamp. */
typedef bool (*rill_window_query_fn)(void *ud, rill_buf_t key, int64_t start, rill_buf_t value,
                                     int64_t timestamp);
/* A session store row. */
typedef bool (*rill_session_query_fn)(void *ud, rill_buf_t key, int64_t start, int64_t end,
                                      rill_buf_t value, int64_t timestamp);

/* Tells which partition of the store holds key (murmur2, as the Java clients partition) and
 * whether this instance has that partition's task now, running; for a global store, partition -1
 * and local (every instance holds all of it). */
RILL_EXTERN int rill_app_query_partition(rill_app_t *app, const char *store, rill_buf_t key,
                                         int32_t *partition, bool *local);
/* Gets key's value from a key-value store into value (replacing its contents). */
RILL_EXTERN int rill_app_query_get(rill_app_t *app, const char *store, rill_buf_t key,
                                   rill_bytes_t *value, int64_t *timestamp);
/* Calls fn for every key in [from, to] (NULL: unbounded) of a key-value store. */
RILL_EXTERN int rill_app_query_range(rill_app_t *app, const char *store, const rill_buf_t *from,
                                     const rill_buf_t *to, rill_query_fn fn, void *ud);
/* Calls fn for every key of a key-value store that starts with prefix. */
RILL_EXTERN int rill_app_query_prefix(rill_app_t *app, const char *store, rill_buf_t prefix,
                                      rill_query_fn fn, void *ud);
/* Calls fn for every key of a key-value store. */
RILL_EXTERN int rill_app_query_all(rill_app_t *app, const char *store, rill_query_fn fn, void *ud);
/* Calls fn for the windows of key (every key when key.data is NULL) whose start is in
 * [from, to], in a window store. */
RILL_EXTERN int rill_app_query_windows(rill_app_t *app, const char *store, rill_buf_t key,
                                       int64_t from, int64_t to, rill_window_query_fn fn, void *ud);
/* Calls fn for every session of key in a session store. */
RILL_EXTERN int rill_app_query_sessions(rill_app_t *app, const char *store, rill_buf_t key,
                                        rill_session_query_fn fn, void *ud);

/* Returns a counter summed over the stream threads: the tasks' ("records-processed",
 * "records-skipped" (input records the handlers skipped, and outputs the production handler
 * dropped), "late-records-dropped", "dead-letters", "duplicates-dropped", "records-retried",
 * "punctuations", "changelog-writes", "cache-hits", "cache-misses", "cache-flushed", as
 * rill_test_driver_metric()
 * counts them) and the threads' ("records-produced", "commits", "rebalances", "tasks" (a gauge),
 * "records-restored"); see docs/operations.md, Monitoring. Counters keep their values after
 * rill_app_close(). Returns -1 for an unknown name (or NULL), in every state. @thread any */
RILL_EXTERN int64_t rill_app_metric(rill_app_t *app, const char *name);
/* Returns every metric of the app in Prometheus' text exposition format (what metrics.listen
 * serves at /metrics; docs/monitoring.md), a new string (rill_free), or NULL. @thread any */
RILL_EXTERN char *rill_app_metrics_text(rill_app_t *app);
/* Returns the URL the app serves its metrics at ("http://127.0.0.1:9464"; the port the system
 * chose for port 0), borrowed, or NULL when metrics.listen is not set or the app not started. */
RILL_EXTERN const char *rill_app_metrics_url(const rill_app_t *app);
/* Returns where the app serves interactive queries over HTTP (query.listen, docs/queries.md),
 * "http://ip:port", once started; NULL when query.listen is empty. */
RILL_EXTERN const char *rill_app_query_url(const rill_app_t *app);

/* ---- A small producer, for feeding topics from C without librdkafka's API ------------------ */

typedef struct rill_producer rill_producer_t;

/* Returns a new producer to bootstrap_servers with acks=all and idempotence, or NULL. */
RILL_EXTERN rill_producer_t *rill_producer_new(const char *bootstrap_servers, char *errstr,
                                               size_t errstr_size);
/* Queues one record (partition -1: by key, murmur2); key and value are copied. */
RILL_EXTERN int rill_producer_send(rill_producer_t *producer, const char *topic, int32_t partition,
                                   rill_buf_t key, rill_buf_t value, int64_t timestamp);
/* Waits until every queued record is acknowledged, at most timeout_ms; 0, RILL_ETIMEDOUT or
 * RILL_EKAFKA when a record failed. */
RILL_EXTERN int rill_producer_flush(rill_producer_t *producer, int64_t timeout_ms);
/* Flushes briefly and frees the producer. NULL is fine. */
RILL_EXTERN void rill_producer_destroy(rill_producer_t *producer);

#ifdef __cplusplus
}
#endif
#endif
