/*
 * bench-load: pre-loads the input of the pipeline benchmarks. It creates topic T with P
 * partitions (replication 1, Admin API CreateTopics; an existing topic is reused) and produces N
 * records as fast as librdkafka allows (acks=all, large batches, linger), then flushes and prints
 * how long that took. It is not a measurement of Rill: it only makes sure that raw_pipe and
 * rill_pipe read the very same kind of data, already on the broker before their clocks start.
 *
 * The generator, shared knowledge with nobody but documented here: record i has key
 * "k<i % 1000>" and a value of S bytes whose first byte is 'a' + i % 26 (so half of the letters
 * are even bytes and about half of the records pass the benchmarks' filter), followed by the
 * decimal i and '.' padding. With --records 0 it only creates the topic (the run script uses
 * that for output topics, so neither system pays for topic auto-creation inside its timing).
 * With --delete it deletes the topic instead (the run script cleans up after each round, or
 * the broker's disk fills up: a 1M-record round leaves about 200 MB).
 *
 * With --rate R it produces at R records a second instead, each carrying its creation time in
 * milliseconds in a header "ct" (8 bytes, big-endian), for the latency runs: bench-latency reads
 * the outputs back and subtracts ct from the output's append time. --log-append-time creates the
 * topic with message.timestamp.type=LogAppendTime (the output topics of latency runs).
 *
 * With --event-rate E, record i carries the timestamp t0 + i * 1000 / E milliseconds (integer
 * division): E records per second of record time, whatever the speed of the load, so windows
 * over record time hold the same records in every run (the windowed-count workload). t0 lies in
 * the past, a multiple of 60,000 ms at least N / E seconds before now (records far from now
 * would meet the broker's retention or its timestamp bounds), and the LOAD line prints it.
 * --base-time T sets t0 instead (milliseconds since the epoch): the stream-stream-join workload
 * writes its two topics with one t0 and with t0 + 250 (WORKLOADS.md).
 *
 *   bench-load --bootstrap B --topic T [--partitions P] [--records N] [--value-size S]
 *              [--rate R] [--event-rate E] [--base-time T] [--log-append-time]
 *   bench-load --bootstrap B --topic T --delete
 */
#include <librdkafka/rdkafka.h>

#include "bench_admin.h"

#include <getopt.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static const char *bootstrap = NULL, *topic = NULL;
static int partitions = 4;
static long long records = 0;
static long value_size = 100;
static bool delete_topic = false;
static long rate = 0;            /* records a second; 0: as fast as possible */
static long event_rate = 0;      /* records a second of record time; 0: the producer's clock */
static long long base_time = -1; /* --event-rate: record 0's timestamp; -1: chosen here */
static bool log_append_time = false;
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
        snprintf(delivery_error, sizeof delivery_error, "%s", rd_kafka_err2str(msg->err));
}

static void usage(void)
{
    fprintf(stderr, "usage: bench-load --bootstrap B --topic T [--partitions P] [--records N] "
                    "[--value-size S] [--rate R] [--event-rate E] [--base-time T] "
                    "[--log-append-time]\n"
                    "       bench-load --bootstrap B --topic T --delete\n");
    exit(2);
}

int main(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"bootstrap", required_argument, NULL, 'b'},
        {"topic", required_argument, NULL, 't'},
        {"partitions", required_argument, NULL, 'p'},
        {"records", required_argument, NULL, 'n'},
        {"value-size", required_argument, NULL, 's'},
        {"delete", no_argument, NULL, 'd'},
        {"rate", required_argument, NULL, 'r'},
        {"log-append-time", no_argument, NULL, 'l'},
        {"event-rate", required_argument, NULL, 'e'},
        {"base-time", required_argument, NULL, 'T'},
        {NULL, 0, NULL, 0},
    };
    int c;
    while ((c = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
        switch (c) {
        case 'b':
            bootstrap = optarg;
            break;
        case 't':
            topic = optarg;
            break;
        case 'p':
            partitions = atoi(optarg);
            break;
        case 'n':
            records = atoll(optarg);
            break;
        case 's':
            value_size = atol(optarg);
            break;
        case 'd':
            delete_topic = true;
            break;
        case 'r':
            rate = atol(optarg);
            break;
        case 'l':
            log_append_time = true;
            break;
        case 'e':
            event_rate = atol(optarg);
            break;
        case 'T':
            base_time = atoll(optarg);
            break;
        default:
            usage();
        }
    }
    if (!bootstrap || !topic || partitions < 1 || records < 0 || value_size < 1 ||
        value_size > 1000000 || rate < 0 || event_rate < 0 || (base_time >= 0 && !event_rate))
        usage();

    const char *const kv[][2] = {
        {"bootstrap.servers", bootstrap},
        {"client.id", "rill-bench-load"},
        {"allow.auto.create.topics", "false"},
        {"acks", "all"},
        /* Idempotence keeps a retried batch from landing after later ones (seen on fresh
         * topics), so each partition holds the records in the order they were made. */
        {"enable.idempotence", "true"},
        /* Paced runs send each record at once: waiting would count as latency. */
        {"linger.ms", rate > 0 ? "0" : "20"},
        {"batch.size", "1000000"},
        {"batch.num.messages", "100000"},
        {"queue.buffering.max.messages", "1000000"},
        {"queue.buffering.max.kbytes", "1048576"},
        {"partitioner", "murmur2_random"},
        {"compression.type", "none"},
    };
    rd_kafka_conf_t *conf = bench_client_conf("bench-load", kv, sizeof kv / sizeof kv[0]);
    rd_kafka_conf_set_dr_msg_cb(conf, dr_cb);
    char err[512];
    rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, err, sizeof err);
    if (!rk) {
        fprintf(stderr, "bench-load: cannot create a producer for %s: %s\n", bootstrap, err);
        return 1;
    }
    const char *names[] = {topic};
    int count;
    if (bench_topic_partitions(rk, names, 1, &count, 15000) < 0) {
        fprintf(stderr, "bench-load: cannot reach the Kafka cluster at %s within 15 s\n",
                bootstrap);
        return 1;
    }
    if (delete_topic) {
        bench_delete_topics(rk, "bench-load", bootstrap, names, 1);
        printf("DELETED topic=%s\n", topic);
        rd_kafka_destroy(rk);
        return 0;
    }
    bench_create_topics(rk, "bench-load", bootstrap, names, 1, partitions, log_append_time);

    rd_kafka_topic_t *rkt = rd_kafka_topic_new(rk, topic, NULL);
    char *value = malloc((size_t)value_size);
    if (!value) {
        fprintf(stderr, "bench-load: out of memory\n");
        return 1;
    }
    memset(value, '.', (size_t)value_size);
    int64_t ts0 = 0; /* --event-rate: the timestamp of record 0 */
    if (event_rate > 0) {
        struct timespec wall;
        clock_gettime(CLOCK_REALTIME, &wall);
        int64_t span = records * 1000 / event_rate + 1;
        ts0 = (int64_t)wall.tv_sec * 1000 + wall.tv_nsec / 1000000 - span - 60000;
        ts0 -= ts0 % 60000;
        if (base_time >= 0)
            ts0 = base_time;
    }
    double t0 = now_s();
    for (long long i = 0; i < records; i++) {
        char key[16], digits[24];
        int klen = snprintf(key, sizeof key, "k%lld", i % 1000);
        int dlen = snprintf(digits, sizeof digits, "%lld", i);
        value[0] = (char)('a' + i % 26);
        if (value_size > 1)
            memcpy(value + 1, digits,
                   (size_t)dlen < (size_t)value_size - 1 ? (size_t)dlen : (size_t)value_size - 1);
        rd_kafka_headers_t *hdrs = NULL;
        if (rate > 0) {
            /* Pacing: record i leaves at t0 + i / rate, carrying its creation time. */
            double due = t0 + (double)i / (double)rate, now = now_s();
            if (due > now) {
                struct timespec gap = {(time_t)(due - now),
                                       (long)((due - now - (double)(time_t)(due - now)) * 1e9)};
                nanosleep(&gap, NULL);
            }
            struct timespec wall;
            clock_gettime(CLOCK_REALTIME, &wall);
            uint64_t ct = (uint64_t)wall.tv_sec * 1000 + (uint64_t)wall.tv_nsec / 1000000;
            unsigned char be[8];
            for (int b = 0; b < 8; b++)
                be[b] = (unsigned char)(ct >> (56 - 8 * b));
            hdrs = rd_kafka_headers_new(1);
            rd_kafka_header_add(hdrs, "ct", 2, be, 8);
        }
        rd_kafka_resp_err_t e;
        while ((e = rd_kafka_producev(
                    rk, RD_KAFKA_V_RKT(rkt), RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
                    RD_KAFKA_V_VALUE(value, (size_t)value_size), RD_KAFKA_V_KEY(key, (size_t)klen),
                    RD_KAFKA_V_HEADERS(hdrs),
                    RD_KAFKA_V_TIMESTAMP(event_rate > 0 ? ts0 + i * 1000 / event_rate : 0),
                    RD_KAFKA_V_END)) != 0) {
            if (e != RD_KAFKA_RESP_ERR__QUEUE_FULL) {
                fprintf(stderr, "bench-load: cannot produce to '%s' on %s: %s\n", topic, bootstrap,
                        rd_kafka_err2str(e));
                return 1;
            }
            rd_kafka_poll(rk, 100); /* back-pressure: serve delivery reports */
        }
        if ((i & 1023) == 0)
            rd_kafka_poll(rk, 0);
    }
    rd_kafka_resp_err_t ferr = rd_kafka_flush(rk, 120000);
    double secs = now_s() - t0;
    if (ferr || delivery_failures) {
        fprintf(stderr,
                "bench-load: loading '%s' on %s failed: %s (%d records not delivered%s%s)\n", topic,
                bootstrap, ferr ? rd_kafka_err2str(ferr) : "delivery errors", delivery_failures,
                delivery_failures ? ", first: " : "", delivery_error);
        return 1;
    }
    printf("LOAD topic=%s records=%lld value_size=%ld partitions=%d seconds=%.3f rps=%.0f", topic,
           records, value_size, partitions, secs, secs > 0 ? (double)records / secs : 0.0);
    if (event_rate > 0)
        printf(" event_rate=%ld t0=%" PRId64, event_rate, ts0);
    printf("\n");
    free(value);
    rd_kafka_topic_destroy(rkt);
    rd_kafka_destroy(rk);
    return 0;
}
