/*
 * bench-nexmark: writes the Nexmark input of the nexmark-* workloads (benchmarks/WORKLOADS.md).
 * It creates the topics P-person, P-auction and P-bid with the given partition count
 * (replication 1, retention.ms=-1, Admin API CreateTopics; existing topics are reused as they
 * are), waits until every partition has a leader, then produces events 0 .. N-1 of the
 * generator in nexmark_gen.h as fast as librdkafka allows (acks=all, linger, large batches),
 * flushes and prints one line:
 *
 *   NEXMARK prefix=P events=N persons=A auctions=B bids=C seconds=T bytes=V
 *
 * where T runs from the first event generated until the flush returned and V counts the value
 * bytes (keys not included). Each record's key is the decimal person id, auction id or, for a
 * bid, auction id; its value the event's JSON; its timestamp the event's dateTime. --rate only
 * spaces the event times (events per second of event time, default 10,000); it never slows the
 * writing. The same --seed and --rate give the same records, byte for byte, on every run; only
 * their partitions depend on the partitioner (murmur2_random, as Kafka's Java clients).
 *
 * Why retention.ms=-1: the event times start in November 2023, and a broker deletes a segment
 * once its newest timestamp is older than the retention (7 days by default), the active segment
 * included, within minutes of the write. Output topics that keep these timestamps need it too.
 *
 * --events 0 only creates the topics; --delete deletes the three (missing ones are fine).
 *
 *   bench-nexmark --bootstrap B --prefix P --events N [--partitions 4] [--rate R] [--seed S]
 *   bench-nexmark --bootstrap B --prefix P --delete
 */
#include "nexmark_gen.h"

#include <librdkafka/rdkafka.h>

#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define N_TOPICS 3 /* indexed by nexmark_kind_t */

static const char *bootstrap = NULL, *prefix = NULL;
static char topics[N_TOPICS][256];
static int partitions = 4;
static int delivery_failures = 0;
static char delivery_error[512];

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void dr_cb(rd_kafka_t *rk, const rd_kafka_message_t *msg, void *opaque)
{
    if (msg->err && delivery_failures++ == 0)
        snprintf(delivery_error, sizeof delivery_error, "%s: %s", rd_kafka_topic_name(msg->rkt),
                 rd_kafka_err2str(msg->err));
}

static rd_kafka_conf_t *client_conf(const char *const kv[][2], size_t n)
{
    char err[512];
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    for (size_t i = 0; i < n; i++)
        if (rd_kafka_conf_set(conf, kv[i][0], kv[i][1], err, sizeof err) != RD_KAFKA_CONF_OK) {
            fprintf(stderr, "bench-nexmark: cannot set %s=%s: %s\n", kv[i][0], kv[i][1], err);
            exit(1);
        }
    return conf;
}

/* Fills counts[t] with the partition count of topics[t] in the cluster's metadata: 0 when the
 * topic is not (yet) fully there (missing, or a partition without a leader). Returns -1 when the
 * metadata request failed, else 0. */
static int topic_partitions(rd_kafka_t *rk, int timeout_ms, int counts[N_TOPICS])
{
    /* All topics: a request naming one would make a broker with auto.create.topics.enable
     * create it with its default partition count before CreateTopics could. */
    const rd_kafka_metadata_t *md;
    if (rd_kafka_metadata(rk, 1, NULL, &md, timeout_ms))
        return -1;
    for (int k = 0; k < N_TOPICS; k++) {
        counts[k] = 0;
        for (int t = 0; t < md->topic_cnt; t++) {
            const rd_kafka_metadata_topic_t *mt = &md->topics[t];
            if (strcmp(mt->topic, topics[k]) != 0 || mt->err)
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

/* Creates the three topics unless they exist, then waits (deadline 60 s) until every partition
 * of each has a leader in the metadata, so that the producer and the pipelines find them whole. */
static void ensure_topics(rd_kafka_t *rk)
{
    char err[512];
    rd_kafka_NewTopic_t *nt[N_TOPICS];
    for (int k = 0; k < N_TOPICS; k++) {
        nt[k] = rd_kafka_NewTopic_new(topics[k], partitions, 1, err, sizeof err);
        if (!nt[k]) {
            fprintf(stderr, "bench-nexmark: bad topic '%s': %s\n", topics[k], err);
            exit(1);
        }
        if (rd_kafka_NewTopic_set_config(nt[k], "retention.ms", "-1")) {
            fprintf(stderr, "bench-nexmark: cannot set retention.ms on '%s'\n", topics[k]);
            exit(1);
        }
    }
    rd_kafka_AdminOptions_t *opts = rd_kafka_AdminOptions_new(rk, RD_KAFKA_ADMIN_OP_CREATETOPICS);
    rd_kafka_AdminOptions_set_operation_timeout(opts, 30000, err, sizeof err);
    rd_kafka_AdminOptions_set_request_timeout(opts, 30000, err, sizeof err);
    rd_kafka_queue_t *q = rd_kafka_queue_new(rk);
    rd_kafka_CreateTopics(rk, nt, N_TOPICS, opts, q);
    rd_kafka_event_t *ev = rd_kafka_queue_poll(q, 60000);
    const rd_kafka_CreateTopics_result_t *res = ev ? rd_kafka_event_CreateTopics_result(ev) : NULL;
    if (!res) {
        fprintf(stderr, "bench-nexmark: CreateTopics %s-* on %s: %s\n", prefix, bootstrap,
                ev ? rd_kafka_event_error_string(ev) : "no answer within 60 s");
        exit(1);
    }
    size_t cnt;
    const rd_kafka_topic_result_t **tr = rd_kafka_CreateTopics_result_topics(res, &cnt);
    for (size_t i = 0; i < cnt; i++) {
        rd_kafka_resp_err_t e = rd_kafka_topic_result_error(tr[i]);
        if (e == RD_KAFKA_RESP_ERR_TOPIC_ALREADY_EXISTS) {
            fprintf(stderr,
                    "bench-nexmark: topic '%s' already exists on %s; reusing it (its retention "
                    "is left as it is)\n",
                    rd_kafka_topic_result_name(tr[i]), bootstrap);
        } else if (e) {
            fprintf(stderr, "bench-nexmark: cannot create topic '%s' (%d partitions) on %s: %s\n",
                    rd_kafka_topic_result_name(tr[i]), partitions, bootstrap,
                    rd_kafka_topic_result_error_string(tr[i]));
            exit(1);
        }
    }
    rd_kafka_event_destroy(ev);
    rd_kafka_queue_destroy(q);
    rd_kafka_AdminOptions_destroy(opts);
    rd_kafka_NewTopic_destroy_array(nt, N_TOPICS);

    double deadline = now_s() + 60;
    int counts[N_TOPICS];
    for (;;) {
        bool whole = topic_partitions(rk, 5000, counts) == 0;
        for (int k = 0; k < N_TOPICS; k++)
            whole = whole && counts[k] > 0;
        if (whole)
            break;
        if (now_s() > deadline) {
            fprintf(stderr,
                    "bench-nexmark: topics %s-* on %s have no leader for all partitions after "
                    "60 s\n",
                    prefix, bootstrap);
            exit(1);
        }
        struct timespec backoff = {0, 50 * 1000000}; /* between two metadata round trips */
        nanosleep(&backoff, NULL);
    }
    for (int k = 0; k < N_TOPICS; k++)
        if (counts[k] != partitions)
            fprintf(stderr, "bench-nexmark: note: topic '%s' has %d partitions, not %d\n",
                    topics[k], counts[k], partitions);
}

/* Deletes the three topics (DeleteTopics); a topic that does not exist is fine. */
static void remove_topics(rd_kafka_t *rk)
{
    char err[512];
    rd_kafka_DeleteTopic_t *dt[N_TOPICS];
    for (int k = 0; k < N_TOPICS; k++)
        dt[k] = rd_kafka_DeleteTopic_new(topics[k]);
    rd_kafka_AdminOptions_t *opts = rd_kafka_AdminOptions_new(rk, RD_KAFKA_ADMIN_OP_DELETETOPICS);
    rd_kafka_AdminOptions_set_operation_timeout(opts, 30000, err, sizeof err);
    rd_kafka_AdminOptions_set_request_timeout(opts, 30000, err, sizeof err);
    rd_kafka_queue_t *q = rd_kafka_queue_new(rk);
    rd_kafka_DeleteTopics(rk, dt, N_TOPICS, opts, q);
    rd_kafka_event_t *ev = rd_kafka_queue_poll(q, 60000);
    const rd_kafka_DeleteTopics_result_t *res = ev ? rd_kafka_event_DeleteTopics_result(ev) : NULL;
    if (!res) {
        fprintf(stderr, "bench-nexmark: DeleteTopics %s-* on %s: %s\n", prefix, bootstrap,
                ev ? rd_kafka_event_error_string(ev) : "no answer within 60 s");
        exit(1);
    }
    size_t cnt;
    const rd_kafka_topic_result_t **tr = rd_kafka_DeleteTopics_result_topics(res, &cnt);
    for (size_t i = 0; i < cnt; i++) {
        rd_kafka_resp_err_t e = rd_kafka_topic_result_error(tr[i]);
        if (e && e != RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART) {
            fprintf(stderr, "bench-nexmark: cannot delete topic '%s' on %s: %s\n",
                    rd_kafka_topic_result_name(tr[i]), bootstrap,
                    rd_kafka_topic_result_error_string(tr[i]));
            exit(1);
        }
    }
    rd_kafka_event_destroy(ev);
    rd_kafka_queue_destroy(q);
    rd_kafka_AdminOptions_destroy(opts);
    rd_kafka_DeleteTopic_destroy_array(dt, N_TOPICS);
}

static void usage(void)
{
    fprintf(stderr, "usage: bench-nexmark --bootstrap B --prefix P --events N [--partitions P] "
                    "[--rate EVENTS_PER_SECOND] [--seed S]\n"
                    "       bench-nexmark --bootstrap B --prefix P --delete\n");
    exit(2);
}

/* A whole decimal number in [min, max], or the usage. */
static long long parse_num(const char *s, long long min, long long max)
{
    char *end;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    if (errno || end == s || *end || v < min || v > max)
        usage();
    return v;
}

int main(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"bootstrap", required_argument, NULL, 'b'}, {"prefix", required_argument, NULL, 'x'},
        {"events", required_argument, NULL, 'n'},    {"partitions", required_argument, NULL, 'p'},
        {"rate", required_argument, NULL, 'r'},      {"seed", required_argument, NULL, 's'},
        {"delete", no_argument, NULL, 'd'},          {NULL, 0, NULL, 0},
    };
    nexmark_config_t cfg;
    nexmark_config_init(&cfg);
    long long events = -1;
    bool delete_topics = false;
    int c;
    while ((c = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
        switch (c) {
        case 'b':
            bootstrap = optarg;
            break;
        case 'x':
            prefix = optarg;
            break;
        case 'n':
            events = parse_num(optarg, 0, 1LL << 50);
            break;
        case 'p':
            partitions = (int)parse_num(optarg, 1, 100000);
            break;
        case 'r':
            cfg.rate = parse_num(optarg, 1, 1000000000);
            break;
        case 's':
            cfg.seed = (uint64_t)parse_num(optarg, 0, INT64_MAX);
            break;
        case 'd':
            delete_topics = true;
            break;
        default:
            usage();
        }
    }
    if (optind != argc || !bootstrap || !prefix || !*prefix || (events < 0 && !delete_topics))
        usage();
    static const char *const suffix[N_TOPICS] = {
        [NEXMARK_PERSON] = "person", [NEXMARK_AUCTION] = "auction", [NEXMARK_BID] = "bid"};
    for (int k = 0; k < N_TOPICS; k++)
        if ((size_t)snprintf(topics[k], sizeof topics[k], "%s-%s", prefix, suffix[k]) >=
            sizeof topics[k])
            usage();

    const char *const kv[][2] = {
        {"bootstrap.servers", bootstrap},
        {"client.id", "rill-bench-nexmark"},
        {"allow.auto.create.topics", "false"},
        {"acks", "all"},
        {"enable.idempotence", "true"}, /* retries keep each partition in event order */
        {"linger.ms", "20"},
        {"batch.size", "1000000"},
        {"batch.num.messages", "100000"},
        {"queue.buffering.max.messages", "1000000"},
        {"queue.buffering.max.kbytes", "1048576"},
        {"partitioner", "murmur2_random"},
        {"compression.type", "none"},
    };
    rd_kafka_conf_t *conf = client_conf(kv, sizeof kv / sizeof kv[0]);
    rd_kafka_conf_set_dr_msg_cb(conf, dr_cb);
    char err[512];
    rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, err, sizeof err);
    if (!rk) {
        fprintf(stderr, "bench-nexmark: cannot create a producer for %s: %s\n", bootstrap, err);
        return 1;
    }
    int counts[N_TOPICS];
    if (topic_partitions(rk, 15000, counts) < 0) {
        fprintf(stderr, "bench-nexmark: cannot reach the Kafka cluster at %s within 15 s\n",
                bootstrap);
        return 1;
    }
    if (delete_topics) {
        remove_topics(rk);
        printf("DELETED prefix=%s topics=%s,%s,%s\n", prefix, topics[0], topics[1], topics[2]);
        rd_kafka_destroy(rk);
        return 0;
    }
    ensure_topics(rk);

    rd_kafka_topic_t *rkt[N_TOPICS];
    for (int k = 0; k < N_TOPICS; k++)
        rkt[k] = rd_kafka_topic_new(rk, topics[k], NULL);
    long long per_kind[N_TOPICS] = {0};
    long long bytes = 0;
    nexmark_event_t ev;
    char value[NEXMARK_JSON_MAX];
    double t0 = now_s();
    for (long long i = 0; i < events; i++) {
        nexmark_event(&cfg, (uint64_t)i, &ev);
        size_t vlen = nexmark_json(&ev, value, sizeof value);
        char key[24];
        int klen = snprintf(key, sizeof key, "%" PRId64, nexmark_key(&ev));
        rd_kafka_resp_err_t e;
        while ((e = rd_kafka_producev(rk, RD_KAFKA_V_RKT(rkt[ev.kind]),
                                      RD_KAFKA_V_PARTITION(RD_KAFKA_PARTITION_UA),
                                      RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
                                      RD_KAFKA_V_VALUE(value, vlen), RD_KAFKA_V_KEY(key, klen),
                                      RD_KAFKA_V_TIMESTAMP(ev.date_time), RD_KAFKA_V_END))) {
            if (e != RD_KAFKA_RESP_ERR__QUEUE_FULL) {
                fprintf(stderr, "bench-nexmark: cannot produce to '%s' on %s: %s\n",
                        topics[ev.kind], bootstrap, rd_kafka_err2str(e));
                return 1;
            }
            rd_kafka_poll(rk, 100); /* back-pressure: serve delivery reports */
        }
        per_kind[ev.kind]++;
        bytes += (long long)vlen;
        if ((i & 1023) == 0)
            rd_kafka_poll(rk, 0);
    }
    rd_kafka_resp_err_t ferr = rd_kafka_flush(rk, 120000);
    double secs = now_s() - t0;
    if (ferr || delivery_failures) {
        fprintf(stderr,
                "bench-nexmark: writing %s-* on %s failed: %s (%d records not delivered%s%s)\n",
                prefix, bootstrap, ferr ? rd_kafka_err2str(ferr) : "delivery errors",
                delivery_failures, delivery_failures ? ", first: " : "", delivery_error);
        return 1;
    }
    printf("NEXMARK prefix=%s events=%lld persons=%lld auctions=%lld bids=%lld seconds=%.3f "
           "bytes=%lld\n",
           prefix, events, per_kind[NEXMARK_PERSON], per_kind[NEXMARK_AUCTION],
           per_kind[NEXMARK_BID], secs, bytes);
    for (int k = 0; k < N_TOPICS; k++)
        rd_kafka_topic_destroy(rkt[k]);
    rd_kafka_destroy(rk);
    return 0;
}
