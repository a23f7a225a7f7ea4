/*
 * A client's statistics (librdkafka's statistics JSON, every statistics.interval.ms): for a
 * consumer the lag of each assigned partition, for a producer its queue, and for both each
 * broker's round-trip times and errors, for the metrics scrape. The stream thread hands each
 * document over from its stats callback (a copy, every few seconds, never per record); a scrape
 * on another thread parses the newest one with jansson and reads it. Private to engine/.
 */
#ifndef RILL_ENGINE_KAFKA_STATS_H
#define RILL_ENGINE_KAFKA_STATS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct kafka_stats kafka_stats_t;

/* A broker as the statistics see it: round-trip times in microseconds (the last window's), and
 * totals since the client started. */
typedef struct {
    const char *name; /* "host:port/id" */
    int32_t id;
    int64_t rtt_avg_us, rtt_p99_us;
    int64_t requests, request_errors, request_timeouts, response_errors;
} kafka_broker_stats_t;

/* Returns new, empty statistics of a consumer (read_committed: it reads committed records only),
 * or NULL. */
kafka_stats_t *rill__kstats_new(bool read_committed);
/* Frees s; NULL is fine. */
void rill__kstats_destroy(kafka_stats_t *s);
/* Takes a statistics document (len bytes of JSON, copied: the next scrape parses it; one that
 * does not parse is ignored). */
void rill__kstats_take(kafka_stats_t *s, const char *json, size_t len);
/* A producer's queue: the messages (and their bytes) waiting to be sent or acknowledged
 * (msg_cnt, msg_size). false when no document came yet. @thread any */
bool rill__kstats_queue(kafka_stats_t *s, int64_t *messages, int64_t *bytes);
/* Calls lag() for each partition the consumer has assigned with a known lag (records between
 * what the app has consumed and the end, as Kafka Streams' records-lag), and broker() for each
 * broker the client talks to; both may be NULL. @thread any */
void rill__kstats_each(kafka_stats_t *s,
                       void (*lag)(void *ud, const char *topic, int32_t partition, int64_t lag),
                       void (*broker)(void *ud, const kafka_broker_stats_t *b), void *ud);

#endif
