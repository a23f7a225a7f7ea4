/*
 * Rill's properties: ONE table, as an X-macro, from which the property list, validation, defaults,
 * docs/CONFIGURATION.md and typed, compile-time checked reads all come. Private to engine/.
 *
 * X(ID, "name", TYPE, "default", "range", "doc"): TYPE is STRING, INT or ENUM. Read a property
 * with RILL_CONF_INT(conf, ID) or RILL_CONF_STR(conf, ID): a misspelt ID, or the wrong type for
 * it, does not compile.
 */
#ifndef RILL_ENGINE_CONFIG_PROPS_H
#define RILL_ENGINE_CONFIG_PROPS_H

#define RILL_CONF_PROPS(X)                                                                         \
    X(APPLICATION_ID, "application.id", STRING, "", "non-empty; [A-Za-z0-9._-]",                   \
      "Names the application: the consumer group, the prefix of internal topics and the state "    \
      "directory. Required (rill_main() sets the app's name by default). It must leave every "     \
      "internal topic name (<application.id>-<store>-changelog, <application.id>-<name>-"          \
      "repartition, a foreign-key join's subscription topics) within Kafka's 249 characters: "     \
      "rill_app_new() names the topic that is too long.")                                          \
    X(BOOTSTRAP_SERVERS, "bootstrap.servers", STRING, "", "host:port[,host:port...]",              \
      "The Kafka cluster; set it here (Rill gives its value to every client it makes). Empty: "    \
      "start librdkafka's mock cluster in-process (the embedded default: in memory, no "           \
      "isolation of aborted transactions).")                                                       \
    X(NUM_STREAM_THREADS, "num.stream.threads", INT, "1", "1..256",                                \
      "Stream threads, each with its own event loop, consumer and producer.")                      \
    X(COMMIT_INTERVAL_MS, "commit.interval.ms", INT, "-1", "-1..",                                 \
      "How often processed offsets are committed (after the outputs are acknowledged; under "      \
      "exactly_once_v2, each commit ends a Kafka transaction). -1: 30000 under at_least_once, "    \
      "100 under exactly_once_v2, as in Kafka Streams.")                                           \
    X(PROCESSING_GUARANTEE, "processing.guarantee", ENUM, "at_least_once",                         \
      "at_least_once|exactly_once_v2",                                                             \
      "Delivery guarantee. at_least_once: outputs are flushed before offsets are committed, so a " \
      "crash may repeat records but never lose them. exactly_once_v2: one transactional producer " \
      "per stream thread puts each commit interval's outputs, changelog writes and consumed "      \
      "offsets in one Kafka transaction, and every consumer reads read_committed: every input "    \
      "affects the committed results exactly once. Needs a real cluster of at least 3 brokers "    \
      "for Kafka's default transaction log settings; the embedded cluster does not isolate "       \
      "aborted transactions.")                                                                     \
    X(STATE_DIR, "state.dir", STRING, "/tmp/rill", "a writable directory, not empty",              \
      "Where stateful tasks keep their local stores: "                                             \
      "<state.dir>/<application.id>/<task>/<store>. Under at_least_once a task records its "       \
      "changelogs' offsets in a .checkpoint file beside its stores (written every 10,000 "         \
      "changelog records and at close); under exactly_once_v2 there is no .checkpoint: each "      \
      "RocksDB store records its changelog offset itself, in the write that commits its "          \
      "transaction's data (in-memory stores restore in full).")                                    \
    X(DEFAULT_DSL_STORE, "default.dsl.store", ENUM, "rocksdb", "rocksdb|in_memory",                \
      "Backend of the stores the DSL makes when the materialized options choose none. rocksdb "    \
      "stores survive restarts on disk; in_memory ones are rebuilt from their changelog.")         \
    X(ROCKSDB_MEMORY_MAX_BYTES, "rocksdb.memory.max.bytes", INT, "67108864", "1048576..",          \
      "The bound on RocksDB memory for the whole app: one block cache of this size, shared by "    \
      "every RocksDB store, to which the memtables of every store are charged (through one "       \
      "write-buffer manager). Unlike Kafka Streams' per-store defaults, more stores do not mean "  \
      "more memory.")                                                                              \
    X(STATESTORE_CACHE_MAX_BYTES, "statestore.cache.max.bytes", INT, "10485760", "0..",            \
      "The record cache of each task: repeated updates of a key between commits are folded "       \
      "there, so the changelog and downstream nodes see only the latest. 0 turns caching off "     \
      "(every update is forwarded). Per task, unlike Kafka Streams' per-app budget.")              \
    X(OUTER_JOIN_EMIT_INTERVAL_MS, "outer.join.emit.interval.ms", INT, "1000", "0..",              \
      "How often (wall clock) a stream-stream left or outer join looks for unmatched records "     \
      "whose window closed, to emit them: a scan of the join's outer store, throttled. Kafka "     \
      "Streams' internal __emit.interval.ms.kstreams.outer.join.spurious.results.fix__; its "      \
      "tests, and Rill's, set 0 (every record that advances stream time looks).")                  \
    X(DEFAULT_KEY_SERDE, "default.key.serde", ENUM, "", "|bytes|string|int32|int64|double|json",   \
      "Key serde of sources that set none, and of sinks that set none and have none from their "   \
      "stream (a DSL sink takes its stream's: the serde of the source, grouping, store or "        \
      "repartition upstream, unless an operation since changed that part of the record: "          \
      "map_values keeps the key's, map keeps neither). Empty: such a source or sink is an error "  \
      "of rill_app_new() naming it.")                                                              \
    X(DEFAULT_VALUE_SERDE, "default.value.serde", ENUM, "",                                        \
      "|bytes|string|int32|int64|double|json",                                                     \
      "Value serde of sources that set none, and of sinks that set none and have none from their " \
      "stream, as default.key.serde.")                                                             \
    X(DEFAULT_TIMESTAMP_EXTRACTOR, "default.timestamp.extractor", ENUM, "record",                  \
      "record|wallclock",                                                                          \
      "record: the Kafka record's timestamp; wallclock: the time of processing. A function can "   \
      "be set with rill_conf_set_timestamp_extractor().")                                          \
    X(DEFAULT_DESERIALIZATION_EXCEPTION_HANDLER, "default.deserialization.exception.handler",      \
      ENUM, "fail", "fail|continue",                                                               \
      "What happens to a record that cannot be deserialized or has a negative timestamp. fail: "   \
      "the app stops in ERROR naming topic, partition and offset; continue: one log line, the "    \
      "records-skipped metric counts it, processing goes on.")                                     \
    X(DESERIALIZATION_EXCEPTION_HANDLER, "deserialization.exception.handler", ENUM, "",            \
      "|fail|continue",                                                                            \
      "Kafka Streams 4's name of default.deserialization.exception.handler, which it overrides "   \
      "when set.")                                                                                 \
    X(PROCESSING_EXCEPTION_HANDLER, "processing.exception.handler", ENUM, "fail", "fail|continue", \
      "What happens to a record a processor fails (a user function of map, filter, aggregate, "    \
      "join, process... returns an error; KIP-1033). fail: the app stops in ERROR naming the "     \
      "node, topic, partition and offset; continue: the record is skipped (one log line per "      \
      "1,000, records-skipped counts them). What the failing node forwarded before it failed "     \
      "stays.")                                                                                    \
    X(ERRORS_DEAD_LETTER_QUEUE_TOPIC_NAME, "errors.dead.letter.queue.topic.name", STRING, "",      \
      "a topic name: [A-Za-z0-9._-], at most 249",                                                 \
      "A record that fails deserialization or processing is also written here (KIP-1034), "        \
      "whatever the handler decides: its key and value bytes unchanged, its headers, and the "     \
      "headers __streams.errors.exception, .message, .topic, .partition, .offset (Kafka "          \
      "Streams') and .timestamp, .processor.node.id, .task.id, .application.id. Under "            \
      "exactly_once_v2 it is in the transaction of the record's offset. The app creates the "      \
      "topic when it is missing. Empty: no dead letter queue.")                                    \
    X(ERRORS_DEAD_LETTER_QUEUE_LATE_RECORDS, "errors.dead.letter.queue.late.records", ENUM,        \
      "false", "false|true",                                                                       \
      "true: a record a window drops as late (its window closed: late-records-dropped) also goes " \
      "to the dead letter queue, as the input record the task read, with the exception "           \
      "rill.LateRecord (as KIP-1328 proposes for records the DSL drops).")                         \
    X(ERRORS_DEAD_LETTER_QUEUE_DROPPED_RECORDS, "errors.dead.letter.queue.dropped.records", ENUM,  \
      "false", "false|true",                                                                       \
      "true: every record a DSL operator drops goes to the dead letter queue too, as the input "   \
      "record the task read (KIP-1328): null keys or values an aggregation, a table, a join or "   \
      "suppress cannot use (records-skipped), with the exception rill.DroppedRecord and the "      \
      "reason as the message, and late records as with errors.dead.letter.queue.late.records.")    \
    X(ERRORS_RETRY_TOPICS_DELAYS_MS, "errors.retry.topics.delays.ms", STRING, "",                  \
      "comma-separated delays in ms, at most 8",                                                   \
      "Non-blocking retries (as Spring Kafka's retryable topics): a record whose processing "      \
      "failed with an error the processing handler answers retry goes, as read, to "               \
      "<application.id>-retry-<delay> for the first delay, then the next, then to the dead "       \
      "letter queue, and is processed again once its delay has passed, without holding up other "  \
      "records. Only a record whose failed try wrote no store and sent nothing is retried. The "   \
      "app creates the topics, as wide as the sources, which must all have one partition count "   \
      "(docs/retries.md). Empty: none.")                                                           \
    X(ERRORS_RETRY_TOPICS_PROCESSING, "errors.retry.topics.processing", ENUM, "callback",          \
      "callback|all",                                                                              \
      "Which processing errors go to the retry topics: those an exception handler "                \
      "(rill_conf_set_exception_handler) answers RILL_HANDLER_RETRY, or all of them (when no "     \
      "handler is set).")                                                                          \
    X(ERRORS_RETRY_IN_PLACE_ATTEMPTS, "errors.retry.in.place.attempts", INT, "0", "0..100",        \
      "In-place retries of a processing error the handler answers retry (or every one, with "      \
      "errors.retry.topics.processing=all): the task backs off and processes the same record "     \
      "again, this many times, before the retry topics or the dead letter queue get it. The "      \
      "task's partitions pause, the thread's others go on. Only a record that wrote no store "     \
      "and sent nothing before it failed is retried in place (nothing is applied twice). 0: "      \
      "none.")                                                                                     \
    X(ERRORS_RETRY_IN_PLACE_BACKOFF_MS, "errors.retry.in.place.backoff.ms", INT, "100",            \
      "1..3600000",                                                                                \
      "The backoff before the first in-place retry, doubled at each further one (wall clock: "     \
      "the driver's in the test driver).")                                                         \
    X(PRODUCTION_EXCEPTION_HANDLER, "production.exception.handler", ENUM, "fail",                  \
      "fail|continue|retry",                                                                       \
      "What happens to an output a sink cannot serialize or send (too large for the topic, a "     \
      "topic that does not exist, a timeout). fail: the app stops in ERROR naming the sink, the "  \
      "input record (topic, partition, offset) and the cause; continue: the output is dropped "    \
      "(one log line per 1,000, records-skipped counts them), the rest of the record's effects "   \
      "stay; retry: a retriable cause is retried (production.exception.handler.retries), the "     \
      "others fail. Fencing, authorization and changelog writes always fail. See docs/retries.md " \
      "for exactly_once_v2.")                                                                      \
    X(PRODUCTION_EXCEPTION_HANDLER_RETRIES, "production.exception.handler.retries", INT, "3",      \
      "0..100",                                                                                    \
      "How many times a retriable production error is retried (the handler answers retry) "        \
      "before the output fails.")                                                                  \
    X(PRODUCTION_EXCEPTION_HANDLER_RETRY_BACKOFF_MS,                                               \
      "production.exception.handler.retry.backoff.ms", INT, "100", "0..60000",                     \
      "The wait before the first retry of a production error, doubled at each further one. A "     \
      "send refused at once is retried inside the sink (the thread serves delivery reports "       \
      "meanwhile); the retries of one output wait at most "                                        \
      "backoff * (2^retries - 1) in all.")                                                         \
    X(CLUSTER_CONNECT_TIMEOUT_MS, "cluster.connect.timeout.ms", INT, "30000", "100..",             \
      "How long rill_app_start() waits for the cluster to answer before the app goes to ERROR.")   \
    X(REPLICATION_FACTOR, "replication.factor", INT, "-1", "-1|1..32767",                          \
      "Replication factor of the internal topics (repartition topics, changelogs) the app "        \
      "creates. -1: 3 when the cluster has at least 3 brokers, else the broker's default.")        \
    X(POLL_BATCH_SIZE, "poll.batch.size", INT, "1000", "1..100000",                                \
      "Records taken from librdkafka's queue in one batch.")                                       \
    X(MAX_TASK_IDLE_MS, "max.task.idle.ms", INT, "0", "-1..",                                      \
      "How long a task fed by several partitions (a join, a merge) waits for one that has no "     \
      "record buffered, so it can process their records in timestamp order, as Kafka Streams. "    \
      "0: it waits while the partition may hold records on the broker (the consumer has not "      \
      "reached its end), not for records yet to be produced. > 0: also this long once at the "     \
      "end. -1: never (records in the order they are fetched, lowest timestamp first among the "   \
      "buffered ones).")                                                                           \
    X(BUFFERED_RECORDS_PER_PARTITION, "buffered.records.per.partition", INT, "1000", "1..",        \
      "Records a task fed by several partitions takes from one partition's queue at a time, "      \
      "to order them by timestamp with the other partitions'; the rest wait in librdkafka's "      \
      "prefetch, bounded by its queued.max.messages.kbytes (no partition is paused).")             \
    X(EMBEDDED_BROKERS, "embedded.brokers", INT, "3", "1..16",                                     \
      "Brokers of the embedded mock cluster.")                                                     \
    X(EMBEDDED_PARTITIONS, "embedded.partitions", INT, "4", "1..1024",                             \
      "Partitions of the topics created on the embedded cluster.")                                 \
    X(REPARTITION_PURGE_INTERVAL_MS, "repartition.purge.interval.ms", INT, "30000", "1000..",      \
      "How often a stream thread deletes, from the repartition topics it reads, the records it "   \
      "has committed (DeleteRecords), as Kafka Streams' repartition.purge.interval.ms: "           \
      "repartition topics keep their records whatever their timestamps otherwise.")                \
    X(WINDOWSTORE_CHANGELOG_ADDITIONAL_RETENTION_MS,                                               \
      "windowstore.changelog.additional.retention.ms", INT, "86400000", "0..",                     \
      "Added to a window or session store's retention to make its changelog's retention.ms "       \
      "(compact,delete), as Kafka Streams' setting of that name: a changelog must keep what the "  \
      "store may still hold.")                                                                     \
    X(METRICS_LISTEN, "metrics.listen", STRING, "", "empty, or host:port (port 0: any free one)",  \
      "Where the app serves its metrics over HTTP: /metrics (Prometheus' text format), /healthz "  \
      "and /readyz. Empty: not served. Give a loopback address (127.0.0.1:9464) unless the "       \
      "metrics must be reached from other hosts; rill_app_metrics_url() says where it listens. "   \
      "Setting it also turns on the consumers' and producers' statistics "                         \
      "(statistics.interval.ms=5000) for the lag, producer queue and broker metrics. See "         \
      "docs/monitoring.md.")                                                                       \
    X(QUERY_LISTEN, "query.listen", STRING, "", "empty, or host:port (port 0: any free one)",      \
      "Where the app answers interactive queries over HTTP: GET /stores/<store>/keys/<key>, "      \
      "/range, /prefix, /windows, /sessions, as JSON decoded with the stores' serdes. Empty: "     \
      "not served. Give a loopback address unless other hosts must query; "                        \
      "rill_app_query_url() says where it listens. See docs/queries.md.")                          \
    X(METRICS_RECORDING_LEVEL, "metrics.recording.level", ENUM, "INFO", "INFO|DEBUG|TRACE",        \
      "Which metrics the tasks record, as Kafka Streams' setting: INFO, the thread, task and "     \
      "record cache ones; DEBUG (or TRACE) adds the state stores' (each get, put, delete, range "  \
      "and flush timed: two clock reads an operation) and the processor nodes' (records each "     \
      "node processed). See docs/monitoring.md.")                                                  \
    X(SEND_QUEUE_FULL_TIMEOUT_MS, "send.queue.full.timeout.ms", INT, "60000", "100..",             \
      "How long a sink waits for room in the producer's queue (serving delivery reports "          \
      "meanwhile) before the record fails with a timeout, as the Java producer's max.block.ms. A " \
      "task cannot stop in the middle of a record, so the wait is inside the send.")

typedef enum {
#define RILL_CONF_ID(id, name, type, def, range, doc) RILL_CONF_##id,
    RILL_CONF_PROPS(RILL_CONF_ID)
#undef RILL_CONF_ID
        RILL_CONF_COUNT
} rill_conf_id_t;

enum { RILL_CONF_T_STRING = 1, RILL_CONF_T_INT, RILL_CONF_T_ENUM };
enum {
#define RILL_CONF_TYPE(id, name, type, def, range, doc) RILL_CONF_TYPE_##id = RILL_CONF_T_##type,
    RILL_CONF_PROPS(RILL_CONF_TYPE)
#undef RILL_CONF_TYPE
};

/* The id, checked at compile time to be a property of type T (a negative array size otherwise). */
#define RILL_CONF_CHECKED(id, ok) (RILL_CONF_##id + 0 * (int)sizeof(char[(ok) ? 1 : -1]))
/* Reads an INT property (parsed when set). */
#define RILL_CONF_INT(conf, id)                                                                    \
    rill__conf_int_at((conf),                                                                      \
                      RILL_CONF_CHECKED(id, (int)RILL_CONF_TYPE_##id == (int)RILL_CONF_T_INT))
/* Reads a STRING or ENUM property (borrowed). */
#define RILL_CONF_STR(conf, id)                                                                    \
    rill__conf_str_at((conf),                                                                      \
                      RILL_CONF_CHECKED(id, (int)RILL_CONF_TYPE_##id != (int)RILL_CONF_T_INT))

#endif
