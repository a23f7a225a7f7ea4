/*
 * test_driver.h — runs a topology in-process, without Kafka, deterministically: pipe records into
 * input topics, read what the sinks wrote, move the wall clock by hand.
 *
 * Unlike Kafka Streams' driver, topics may have several partitions: each (sub-topology,
 * partition) gets its own task, and records written to repartition topics are fed to the tasks
 * downstream in the order they were written, before rill_test_driver_pipe() returns. Single
 * thread: everything runs on the caller's thread.
 */
#ifndef RILL_TEST_DRIVER_H
#define RILL_TEST_DRIVER_H

#include <rill/app.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct rill_test_driver rill_test_driver_t;

/* A record read from an output topic; views are borrowed until the driver is destroyed. */
typedef struct {
    rill_buf_t key;
    rill_buf_t value;
    int64_t timestamp;
    int32_t partition;
    const rill_header_t *headers;
    size_t header_count;
} rill_test_record_t;

/* Returns a new driver for topo (built if needed, referenced) with conf (borrowed; NULL for
 * defaults), its wall clock at start_ms, or NULL with the reason in errstr. */
RILL_EXTERN rill_test_driver_t *rill_test_driver_new(rill_topology_t *topo, const rill_conf_t *conf,
                                                     int64_t start_ms, char *errstr,
                                                     size_t errstr_size);
/* Closes every task and frees the driver. NULL is fine. */
RILL_EXTERN void rill_test_driver_destroy(rill_test_driver_t *driver);
/* Sets the partition count of topic (default 1); before the first record reaches it. */
RILL_EXTERN int rill_test_driver_set_partitions(rill_test_driver_t *driver, const char *topic,
                                                int32_t n);
/* Pipes one serialized record into topic, partitioned by key (murmur2) or into partition when it
 * is not -1. Returns 0, or the error of the processing (rill_test_driver_error() says more). */
RILL_EXTERN int rill_test_driver_pipe(rill_test_driver_t *driver, const char *topic,
                                      int32_t partition, rill_buf_t key, rill_buf_t value,
                                      int64_t timestamp);
/* Same, with header_count headers (copied). */
RILL_EXTERN int rill_test_driver_pipe_headers(rill_test_driver_t *driver, const char *topic,
                                              int32_t partition, rill_buf_t key, rill_buf_t value,
                                              int64_t timestamp, const rill_header_t *headers,
                                              size_t header_count);
/* Pipes a record whose key and value are strings (NULL for null). */
RILL_EXTERN int rill_test_driver_pipe_str(rill_test_driver_t *driver, const char *topic,
                                          const char *key, const char *value, int64_t timestamp);
/* Moves the wall clock forward by ms, running the wall-clock punctuators that come due. */
RILL_EXTERN int rill_test_driver_advance_wall_clock(rill_test_driver_t *driver, int64_t ms);
/* Reads the next record written to topic (in write order); 0 or RILL_ENOENT when none is left. */
RILL_EXTERN int rill_test_driver_read(rill_test_driver_t *driver, const char *topic,
                                      rill_test_record_t *out);
/* Returns how many records of topic are still unread. */
RILL_EXTERN size_t rill_test_driver_unread(const rill_test_driver_t *driver, const char *topic);
/* Returns the last processing error, borrowed ("" when none). */
RILL_EXTERN const char *rill_test_driver_error(const rill_test_driver_t *driver);
/* Returns a counter summed over tasks: "records-processed", "records-skipped",
 * "late-records-dropped", "dead-letters", "duplicates-dropped", "records-retried" (sent to a
 * retry topic), "punctuations", "changelog-writes", "cache-hits", "cache-misses",
 * "cache-flushed", defined as
 * rill_app_metric() defines them; -1 for others. Records of retry topics
 * (errors.retry.topics.delays.ms) go back to their task when the driver's wall clock reaches
 * their due time. */
RILL_EXTERN int64_t rill_test_driver_metric(const rill_test_driver_t *driver, const char *name);

/*
 * The stores of the task that holds partition of a store's sub-topology (NULL when that task has
 * not been made yet, or the store is not of that kind). They are the state layer's stores as the
 * task writes them: stored values are the 8-byte timestamp then the value (rill_stored_split),
 * keys and values serialized with the store's serdes. Like Kafka Streams' driver, the driver
 * writes every record cache through after each record, so they are up to date between calls.
 * A global store is one for every partition, and a record piped into its topic, or written to it
 * by a sink, goes into it at once (before pipe returns), so a join against a global table sees
 * it from the next record on.
 */
RILL_EXTERN rill_store_t *rill_test_driver_kv_store(rill_test_driver_t *driver, const char *store,
                                                    int32_t partition);
/* The window store called store of partition's task; see rill_test_driver_kv_store(). */
RILL_EXTERN rill_window_store_t *
rill_test_driver_window_store(rill_test_driver_t *driver, const char *store, int32_t partition);
/* The session store called store of partition's task; see rill_test_driver_kv_store(). */
RILL_EXTERN rill_session_store_t *
rill_test_driver_session_store(rill_test_driver_t *driver, const char *store, int32_t partition);

#ifdef __cplusplus
}
#endif
#endif
