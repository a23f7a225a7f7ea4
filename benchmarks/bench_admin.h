/*
 * Topic administration the benchmark tools share (bench-load, bench-nexmark): make a producer's
 * configuration, create topics and wait until every partition has a leader, delete topics. On a
 * failure they print what failed, naming prog, the topic and the bootstrap, and exit(1).
 */
#ifndef RILL_BENCH_ADMIN_H
#define RILL_BENCH_ADMIN_H

#include <librdkafka/rdkafka.h>

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* Returns a configuration holding the n key/value pairs of kv. */
static inline rd_kafka_conf_t *bench_client_conf(const char *prog, const char *const kv[][2],
                                                 size_t n)
{
    char err[512];
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    for (size_t i = 0; i < n; i++)
        if (rd_kafka_conf_set(conf, kv[i][0], kv[i][1], err, sizeof err) != RD_KAFKA_CONF_OK) {
            fprintf(stderr, "%s: cannot set %s=%s: %s\n", prog, kv[i][0], kv[i][1], err);
            exit(1);
        }
    return conf;
}

/* Fills counts[k] with the partition count of names[k] in the cluster's metadata: 0 when the
 * topic is not (yet) fully there (missing, or a partition without a leader). Returns -1 when the
 * metadata request failed, else 0. All topics are asked for: a request naming one would make a
 * broker with auto.create.topics.enable create it with its default count before CreateTopics. */
static inline int bench_topic_partitions(rd_kafka_t *rk, const char *const *names, int n,
                                         int *counts, int timeout_ms)
{
    const rd_kafka_metadata_t *md;
    if (rd_kafka_metadata(rk, 1, NULL, &md, timeout_ms))
        return -1;
    for (int k = 0; k < n; k++) {
        counts[k] = 0;
        for (int t = 0; t < md->topic_cnt; t++) {
            const rd_kafka_metadata_topic_t *mt = &md->topics[t];
            if (strcmp(mt->topic, names[k]) != 0 || mt->err)
                continue;
            counts[k] = mt->partition_cnt;
            for (int i = 0; i < mt->partition_cnt; i++)
                if (mt->partitions[i].err || mt->partitions[i].leader < 0)
                    counts[k] = 0;
        }
    }
    rd_kafka_metadata_destroy(md);
    return 0;
}

/*
 * Creates the n topics names (partitions each, replication 1) unless they exist, then waits
 * (deadline 60 s) until every partition of each has a leader, so the producer and the pipelines
 * find them whole. Every topic keeps its records whatever their timestamps (retention.ms=-1:
 * Nexmark's event times date from 2023, which a 7-day retention would delete mid-run); with
 * log_append_time the broker stamps records with their append time (latency runs' outputs).
 */
static inline void bench_create_topics(rd_kafka_t *rk, const char *prog, const char *bootstrap,
                                       const char *const *names, int n, int partitions,
                                       bool log_append_time)
{
    char err[512];
    rd_kafka_NewTopic_t *nt[8];
    if (n < 1 || n > 8) {
        fprintf(stderr, "%s: cannot create %d topics at once\n", prog, n);
        exit(1);
    }
    for (int k = 0; k < n; k++) {
        nt[k] = rd_kafka_NewTopic_new(names[k], partitions, 1, err, sizeof err);
        if (!nt[k]) {
            fprintf(stderr, "%s: bad topic '%s': %s\n", prog, names[k], err);
            exit(1);
        }
        if (rd_kafka_NewTopic_set_config(nt[k], "retention.ms", "-1") ||
            (log_append_time &&
             rd_kafka_NewTopic_set_config(nt[k], "message.timestamp.type", "LogAppendTime"))) {
            fprintf(stderr, "%s: cannot set the configuration of '%s'\n", prog, names[k]);
            exit(1);
        }
    }
    rd_kafka_AdminOptions_t *opts = rd_kafka_AdminOptions_new(rk, RD_KAFKA_ADMIN_OP_CREATETOPICS);
    rd_kafka_AdminOptions_set_operation_timeout(opts, 30000, err, sizeof err);
    rd_kafka_AdminOptions_set_request_timeout(opts, 30000, err, sizeof err);
    rd_kafka_queue_t *q = rd_kafka_queue_new(rk);
    rd_kafka_CreateTopics(rk, nt, (size_t)n, opts, q);
    rd_kafka_event_t *ev = rd_kafka_queue_poll(q, 60000);
    const rd_kafka_CreateTopics_result_t *res = ev ? rd_kafka_event_CreateTopics_result(ev) : NULL;
    if (!res) {
        fprintf(stderr, "%s: CreateTopics '%s'... on %s: %s\n", prog, names[0], bootstrap,
                ev ? rd_kafka_event_error_string(ev) : "no answer within 60 s");
        exit(1);
    }
    size_t cnt;
    const rd_kafka_topic_result_t **tr = rd_kafka_CreateTopics_result_topics(res, &cnt);
    for (size_t i = 0; i < cnt; i++) {
        rd_kafka_resp_err_t e = rd_kafka_topic_result_error(tr[i]);
        if (e == RD_KAFKA_RESP_ERR_TOPIC_ALREADY_EXISTS) {
            fprintf(stderr, "%s: topic '%s' already exists on %s; reusing it as it is\n", prog,
                    rd_kafka_topic_result_name(tr[i]), bootstrap);
        } else if (e) {
            fprintf(stderr, "%s: cannot create topic '%s' (%d partitions) on %s: %s\n", prog,
                    rd_kafka_topic_result_name(tr[i]), partitions, bootstrap,
                    rd_kafka_topic_result_error_string(tr[i]));
            exit(1);
        }
    }
    rd_kafka_event_destroy(ev);
    rd_kafka_queue_destroy(q);
    rd_kafka_AdminOptions_destroy(opts);
    rd_kafka_NewTopic_destroy_array(nt, (size_t)n);

    int counts[8];
    for (int waited_ms = 0;; waited_ms += 50) {
        bool whole = bench_topic_partitions(rk, names, n, counts, 5000) == 0;
        for (int k = 0; k < n; k++)
            whole = whole && counts[k] > 0;
        if (whole)
            break;
        if (waited_ms > 60000) {
            fprintf(stderr, "%s: topic '%s'... on %s has no leader for all partitions after 60 s\n",
                    prog, names[0], bootstrap);
            exit(1);
        }
        struct timespec backoff = {0, 50 * 1000000}; /* between two metadata round trips */
        nanosleep(&backoff, NULL);
    }
    for (int k = 0; k < n; k++)
        if (counts[k] != partitions)
            fprintf(stderr, "%s: note: topic '%s' has %d partitions, not %d\n", prog, names[k],
                    counts[k], partitions);
}

/* Deletes the n topics names (DeleteTopics); a topic that does not exist is fine. */
static inline void bench_delete_topics(rd_kafka_t *rk, const char *prog, const char *bootstrap,
                                       const char *const *names, int n)
{
    char err[512];
    rd_kafka_DeleteTopic_t *dt[8];
    if (n < 1 || n > 8) {
        fprintf(stderr, "%s: cannot delete %d topics at once\n", prog, n);
        exit(1);
    }
    for (int k = 0; k < n; k++)
        dt[k] = rd_kafka_DeleteTopic_new(names[k]);
    rd_kafka_AdminOptions_t *opts = rd_kafka_AdminOptions_new(rk, RD_KAFKA_ADMIN_OP_DELETETOPICS);
    rd_kafka_AdminOptions_set_operation_timeout(opts, 30000, err, sizeof err);
    rd_kafka_AdminOptions_set_request_timeout(opts, 30000, err, sizeof err);
    rd_kafka_queue_t *q = rd_kafka_queue_new(rk);
    rd_kafka_DeleteTopics(rk, dt, (size_t)n, opts, q);
    rd_kafka_event_t *ev = rd_kafka_queue_poll(q, 60000);
    const rd_kafka_DeleteTopics_result_t *res = ev ? rd_kafka_event_DeleteTopics_result(ev) : NULL;
    if (!res) {
        fprintf(stderr, "%s: DeleteTopics '%s'... on %s: %s\n", prog, names[0], bootstrap,
                ev ? rd_kafka_event_error_string(ev) : "no answer within 60 s");
        exit(1);
    }
    size_t cnt;
    const rd_kafka_topic_result_t **tr = rd_kafka_DeleteTopics_result_topics(res, &cnt);
    for (size_t i = 0; i < cnt; i++) {
        rd_kafka_resp_err_t e = rd_kafka_topic_result_error(tr[i]);
        if (e && e != RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART) {
            fprintf(stderr, "%s: cannot delete topic '%s' on %s: %s\n", prog,
                    rd_kafka_topic_result_name(tr[i]), bootstrap,
                    rd_kafka_topic_result_error_string(tr[i]));
            exit(1);
        }
    }
    rd_kafka_event_destroy(ev);
    rd_kafka_queue_destroy(q);
    rd_kafka_AdminOptions_destroy(opts);
    rd_kafka_DeleteTopic_destroy_array(dt, (size_t)n);
}

#endif
