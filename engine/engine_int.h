/*
 * Private declarations of the engine: the configuration's internals, shared by the app, the
 * stream threads and the test driver. Never included outside engine/.
 */
#ifndef RILL_ENGINE_INT_H
#define RILL_ENGINE_INT_H

#include <rill/app.h>
#include <rill/test_driver.h>

#include "operators/task.h"

#include <librdkafka/rdkafka.h>

#include "config_props.h"

typedef enum { SCOPE_BOTH, SCOPE_CONSUMER, SCOPE_PRODUCER } conf_scope_t;

typedef struct {
    conf_scope_t scope;
    char *key;
    char *value;
} passthrough_t;

struct rill_conf {
    char **values;                 /* one per property of the table, never NULL */
    int64_t ints[RILL_CONF_COUNT]; /* the INT properties, parsed when set */
    passthrough_t *pass;
    size_t npass;
    rill_timestamp_fn timestamp_fn;
    void *timestamp_ud;
    rill_record_error_handler_fn error_handler;
    void *error_handler_ud;
    rill_exception_handler_fn handlers[RILL_ERROR_KINDS];
    void *handler_ud[RILL_ERROR_KINDS];
};

/* Returns the value of property id (the default when unset), borrowed; use RILL_CONF_STR. */
const char *rill__conf_str_at(const rill_conf_t *conf, rill_conf_id_t id);
/* Returns INT property id; use RILL_CONF_INT. */
int64_t rill__conf_int_at(const rill_conf_t *conf, rill_conf_id_t id);
/* Returns whether processing.guarantee is exactly_once_v2. */
bool rill__conf_eos(const rill_conf_t *conf);
/* Returns commit.interval.ms, resolving -1 by the processing guarantee. */
int64_t rill__conf_commit_interval(const rill_conf_t *conf);
/* Fills the parts of a task environment the configuration decides (serdes, extractor,
 * error handler). Returns 0 or RILL_ECONFIG naming the property. */
int rill__conf_task_env(const rill_conf_t *conf, rill_task_env_t *env, char *errstr,
                        size_t errstr_size);
/* Splits "host:port" (port 0..65535, host not empty) into host (a string of at most
 * host_size - 1 bytes) and *port: 0, or -1 when value has not that form. */
int rill__host_port_split(const char *value, char *host, size_t host_size, int *port);
/* What rill__host_port_split wants, for messages. */
#define RILL__HOST_PORT_FORM "not host:port (e.g. 127.0.0.1:9464; IPv4 only)"
/* Applies the pass-through properties of scope (and both) to a librdkafka configuration. */
int rill__conf_apply(const rill_conf_t *conf, rd_kafka_conf_t *kconf, conf_scope_t scope,
                     char *errstr, size_t errstr_size);

/* ---- metrics ---- */

/*
 * The metrics of rill_app_metric() and rill_test_driver_metric(), defined once (metrics.c and
 * docs/operations.md). The first ones are counters every task keeps (rill_task_metrics_t): the
 * test driver reports exactly these, the app sums them over its threads' tasks, closed ones
 * included. "records-processed" has Kafka Streams' meaning (process-total): records a task took
 * from a source topic and gave to the topology, deserialized and with a valid timestamp,
 * whatever the topology then did with them (filtered, dropped as late or for a null key,
 * skipped by the processing handler); a record skipped at deserialization counts in
 * "records-skipped" only (Kafka Streams' dropped-records). The others are kept by the stream
 * threads and reported by the app only.
 */
#define RILL_TASK_COUNTERS(X)                                                                      \
    X("records-processed", processed)                                                              \
    X("records-skipped", skipped)                                                                  \
    X("late-records-dropped", late_dropped)                                                        \
    X("dead-letters", dead_letters)                                                                \
    X("duplicates-dropped", duplicates_dropped)                                                    \
    X("records-retried", retried)                                                                  \
    X("punctuations", punctuations)                                                                \
    X("changelog-writes", changelog_writes)                                                        \
    X("cache-hits", cache_hits)                                                                    \
    X("cache-misses", cache_misses)                                                                \
    X("cache-flushed", cache_flushed)
#define RILL_THREAD_METRICS(X)                                                                     \
    X("records-produced", PRODUCED)                                                                \
    X("commits", COMMITS)                                                                          \
    X("rebalances", REBALANCES)                                                                    \
    X("tasks", TASKS)                                                                              \
    X("records-restored", RESTORED)

#define RILL__COUNT_ONE(name, field) +1
enum {
    RILL__TASK_COUNTERS = 0 RILL_TASK_COUNTERS(RILL__COUNT_ONE),
    RILL__METRICS = RILL__TASK_COUNTERS RILL_THREAD_METRICS(RILL__COUNT_ONE),
};
/* The task counters' indexes. */
enum {
#define RILL__COUNTER_ID(name, field) RILL__COUNTER_##field,
    RILL_TASK_COUNTERS(RILL__COUNTER_ID)
#undef RILL__COUNTER_ID
};
/* The thread metrics' indexes, after the task counters'. */
enum {
    RILL__METRIC_BEFORE_THREAD = RILL__TASK_COUNTERS - 1,
#define RILL__THREAD_METRIC_ID(name, id) RILL__METRIC_##id,
    RILL_THREAD_METRICS(RILL__THREAD_METRIC_ID)
#undef RILL__THREAD_METRIC_ID
};

/* Returns the index of metric name (task counters first, then thread metrics), or -1. */
int rill__metric_index(const char *name);
/* Returns the name of metric index (static). */
const char *rill__metric_name(int index);
/* Returns task counter index (< RILL__TASK_COUNTERS) of m. */
uint64_t rill__task_counter(const rill_task_metrics_t *m, int index);
/* Adds every counter of m to sum. */
void rill__task_metrics_add(rill_task_metrics_t *sum, const rill_task_metrics_t *m);

/* ---- app and stream threads ---- */

#include <pthread.h>
#include <stdatomic.h>

typedef struct stream_thread stream_thread_t;

/* A topic's partition count as the app learned it (metadata, or its own creation). */
typedef struct {
    char *name;
    int32_t partitions;
    int64_t max_bytes; /* a sink topic's max.message.bytes as the cluster said (0: unknown) */
} topic_info_t;

struct rill_app {
    rill_topology_t *topo;
    rill_conf_t *conf;
    rill_task_env_t env; /* the configuration's part; each thread adds its collector */
    char *bootstrap;
    bool embedded;
    rd_kafka_t *admin;      /* metadata and topic creation */
    rd_kafka_t *mock_owner; /* the bare handle the embedded cluster lives in */
    void *mock;             /* rd_kafka_mock_cluster_t * when embedded */
    topic_info_t *topics;
    size_t ntopics;
    topic_info_t *limits; /* the sink topics' max.message.bytes (app_topics.c) */
    size_t nlimits;
    int nthreads;
    stream_thread_t **threads;
    pthread_mutex_t lock;
    pthread_cond_t cond;
    rill_state_t state;
    bool started, closed;
    bool close_pending;    /* a close timed out: its threads are still stopping */
    int committed_threads; /* threads that made their final commit (the close barrier) */
    int started_threads;   /* threads whose OS thread runs: the barrier waits for these */
    char error[1024];
    rill_state_listener_fn listener;
    void *listener_ud;
    rill_error_handler_fn error_handler;
    void *error_handler_ud;
    rill_restore_listener_t restore_listener;
    rill_store_env_t *store_env; /* RocksDB memory of every store of the app */
    char *state_dir;             /* "<state.dir>/<application.id>" */
    char process_id[40];         /* this instance's id, kept in the state directory */
    int lock_fd;                 /* flock'ed <state dir>/.lock under exactly-once; 0: none */
    /* Held for writing while a thread adds or closes tasks, for reading by interactive
     * queries, so a query never sees a task being made or destroyed. */
    pthread_rwlock_t query_lock;
    const char **topic_names; /* the names of topics, for the threads' contexts */
    int exited_threads;       /* threads whose loop ended (rill_app_close waits for them) */
    /* The global stores and the thread that keeps them (NULL: the topology has none); the
     * stream threads start once it has loaded them. */
    rill_global_t *global;
    struct global_thread *global_thread;
    /* The counters of the threads closed already, so metrics keep their values after a close
     * (under the lock). */
    int64_t closed_metrics[RILL__METRICS];
    struct metrics_server *metrics; /* metrics.listen's server, or NULL */
    struct query_server *queries;   /* query.listen's server, or NULL */
};

/* Calls fn for every local task whose sub-topology holds store (and, when partition >= 0, whose
 * partition it is), under the query lock; fn returns false to stop. Returns how many it saw. */
int rill__thread_tasks(stream_thread_t *t, int st, int32_t partition,
                       bool (*fn)(void *ud, rill_task_t *task, int32_t partition), void *ud);

/* The stream thread's interface to the app (rill__thread_new is in thread_ctx.h). */
/* Starts the thread's OS thread; 0 or a negative code. */
int rill__thread_start(stream_thread_t *t);
/* Asks the thread to stop (commit, close tasks, leave the group) by deadline_ms (monotonic).
 * @thread any */
void rill__thread_stop(stream_thread_t *t, int64_t deadline_ms);
/* Waits for the thread's end; the thread may still be read. Returns 0, or RILL_EUNKNOWN when its
 * loop did not close (a handle left open: a bug, logged). */
int rill__thread_join(stream_thread_t *t);
/* Frees a joined (or never started) thread. */
void rill__thread_destroy(stream_thread_t *t);
/* Returns metric index (rill__metric_index) of the thread. @thread any */
int64_t rill__thread_metric(stream_thread_t *t, int index);
/* Returns whether the thread has its assignment, every task restored, and processes.
 * @thread any */
bool rill__thread_running(stream_thread_t *t);

/* Makes the app's client of the cluster (app_topics.c): the embedded cluster when
 * bootstrap.servers is empty, then the admin client; 0 or a code with errstr set. */
int rill__app_connect(rill_app_t *app, char *errstr, size_t errstr_size);
/* Learns the partition counts of the source and global topics and checks the sink topics
 * (app_topics.c): 0, RILL_ETIMEDOUT when the cluster does not answer, or a code; errstr says
 * why. */
int rill__app_learn_topics(rill_app_t *app, char *errstr, size_t errstr_size);
/* Frees what rill__app_connect() and the topic table hold (app_topics.c). */
void rill__app_disconnect(rill_app_t *app);
/* Returns the max.message.bytes the cluster gave for sink topic, or 0 when unknown.
 * @thread any (read-only after start) */
int64_t rill__app_max_bytes(const rill_app_t *app, const char *topic);
/* Returns the known partition count of topic, or -1. @thread any (read-only after start) */
int32_t rill__app_partitions(const rill_app_t *app, const char *topic);
/* Sets the partition count of topic among the app's known topics (adding it when new); 0 or
 * RILL_ENOMEM. */
int rill__app_remember_topic(rill_app_t *app, const char *name, int32_t partitions);
/* Sizes the app's internal topics, creates those missing and waits for them in the metadata
 * (internal_topics_create.c); 0 or a code with errstr set. */
int rill__app_create_internal_topics(rill_app_t *app, char *errstr, size_t errstr_size);
/* Routes librdkafka's log lines into Rill's log. */
void rill__kafka_log_cb(const rd_kafka_t *rk, int level, const char *fac, const char *buf);

/* Whether this instance holds partition's task of store's sub-topology in any state (waiting
 * for its stores, restoring, running, suspended): a key there is not elsewhere (query.c). */
bool rill__app_query_held(rill_app_t *app, const char *store, int32_t partition);

/* ---- interactive queries over HTTP (query_server.c) ---- */
typedef struct query_server query_server_t;
/* Starts serving app's stores on listen (query.listen); NULL with why in errstr. */
query_server_t *rill__query_server_start(rill_app_t *app, const char *listen, char *errstr,
                                         size_t errstr_size);
/* Returns the URL served ("http://ip:port"), or NULL for NULL. */
const char *rill__query_server_url(const query_server_t *s);
/* Stops serving and frees s; NULL is fine. */
void rill__query_server_stop(query_server_t *s);

#endif
