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
 * --no-bids generates the same events but writes only the persons and auctions (the join
 * workloads nexmark-q3 and nexmark-q8 read nothing else): bids=0 in the line above.
 *
 *   bench-nexmark --bootstrap B --prefix P --events N [--partitions 4] [--rate R] [--seed S]
 *                 [--no-bids]
 *   bench-nexmark --bootstrap B --prefix P --delete
 */
#include "nexmark_gen.h"

#include <librdkafka/rdkafka.h>

#include "bench_admin.h"

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

static void usage(void)
{
    fprintf(stderr, "usage: bench-nexmark --bootstrap B --prefix P --events N [--partitions P] "
                    "[--rate EVENTS_PER_SECOND] [--seed S] [--no-bids]\n"
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
        {"bootstrap", required_argument, NULL, 'b'},
        {"prefix", required_argument, NULL, 'x'},
        {"events", required_argument, NULL, 'n'},
        {"partitions", required_argument, NULL, 'p'},
        {"rate", required_argument, NULL, 'r'},
        {"seed", required_argument, NULL, 's'},
        {"delete", no_argument, NULL, 'd'},
        {"no-bids", no_argument, NULL, 'B'},
        {NULL, 0, NULL, 0},
    };
    nexmark_config_t cfg;
    nexmark_config_init(&cfg);
    long long events = -1;
    bool delete_topics = false, no_bids = false;
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
        case 'B':
            no_bids = true;
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
    rd_kafka_conf_t *conf = bench_client_conf("bench-nexmark", kv, sizeof kv / sizeof kv[0]);
    rd_kafka_conf_set_dr_msg_cb(conf, dr_cb);
    char err[512];
    rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, err, sizeof err);
    if (!rk) {
        fprintf(stderr, "bench-nexmark: cannot create a producer for %s: %s\n", bootstrap, err);
        return 1;
    }
    const char *names[N_TOPICS] = {topics[0], topics[1], topics[2]};
    int counts[N_TOPICS];
    if (bench_topic_partitions(rk, names, N_TOPICS, counts, 15000) < 0) {
        fprintf(stderr, "bench-nexmark: cannot reach the Kafka cluster at %s within 15 s\n",
                bootstrap);
        return 1;
    }
    if (delete_topics) {
        bench_delete_topics(rk, "bench-nexmark", bootstrap, names, N_TOPICS);
        printf("DELETED prefix=%s topics=%s,%s,%s\n", prefix, topics[0], topics[1], topics[2]);
        rd_kafka_destroy(rk);
        return 0;
    }
    bench_create_topics(rk, "bench-nexmark", bootstrap, names, N_TOPICS, partitions, false);

    rd_kafka_topic_t *rkt[N_TOPICS];
    for (int k = 0; k < N_TOPICS; k++)
        rkt[k] = rd_kafka_topic_new(rk, topics[k], NULL);
    long long per_kind[N_TOPICS] = {0};
    long long bytes = 0;
    nexmark_event_t ev;
    char value[NEXMARK_JSON_MAX];
    double t0 = now_s();
    for (long long i = 0; i < events; i++) {
        if (no_bids &&
            i % NEXMARK_PROPORTION_DENOM >= NEXMARK_PERSON_PROPORTION + NEXMARK_AUCTION_PROPORTION)
            continue; /* a bid: the event of number i alone, so skipping changes no other */
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
