/*
 * bench-latency: end-to-end latency of a latency run. It reads the output topic of a system fed
 * by `bench-load --rate R` (every input carries its creation time in a header "ct", which the
 * systems forward), and for each output takes its append time (the topic is LogAppendTime, so
 * the broker stamps it) minus ct. The first fifth of the records by creation time is left out:
 * it covers the group join and the catch-up after it, as the throughput runs' warm-up does.
 *
 *   bench-latency --bootstrap B --topic T --records N [--timeout S]
 *
 * Prints `LATENCY records=N counted=M p50_ms=.. p99_ms=.. max_ms=..`.
 */
#include <librdkafka/rdkafka.h>

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

typedef struct {
    int64_t ct, latency;
} sample_t;

static int by_ct(const void *a, const void *b)
{
    int64_t x = ((const sample_t *)a)->ct, y = ((const sample_t *)b)->ct;
    return (x > y) - (x < y);
}

static int by_latency(const void *a, const void *b)
{
    int64_t x = ((const sample_t *)a)->latency, y = ((const sample_t *)b)->latency;
    return (x > y) - (x < y);
}

static void usage(void)
{
    fprintf(stderr, "usage: bench-latency --bootstrap B --topic T --records N [--timeout S]\n");
    exit(2);
}

int main(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"bootstrap", required_argument, NULL, 'b'},
        {"topic", required_argument, NULL, 't'},
        {"records", required_argument, NULL, 'n'},
        {"timeout", required_argument, NULL, 'w'},
        {NULL, 0, NULL, 0},
    };
    const char *bootstrap = NULL, *topic = NULL;
    long long records = 0;
    long timeout_s = 120;
    int c;
    while ((c = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
        switch (c) {
        case 'b':
            bootstrap = optarg;
            break;
        case 't':
            topic = optarg;
            break;
        case 'n':
            records = atoll(optarg);
            break;
        case 'w':
            timeout_s = atol(optarg);
            break;
        default:
            usage();
        }
    }
    if (!bootstrap || !topic || records < 1 || timeout_s < 1)
        usage();
    sample_t *samples = calloc((size_t)records, sizeof *samples);
    if (!samples) {
        fprintf(stderr, "bench-latency: out of memory\n");
        return 1;
    }
    char err[512], group[128];
    snprintf(group, sizeof group, "bench-latency-%ld-%d", (long)time(NULL), rand());
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    const char *kv[][2] = {{"bootstrap.servers", bootstrap},
                           {"group.id", group},
                           {"auto.offset.reset", "earliest"},
                           {"enable.auto.commit", "false"}};
    for (size_t i = 0; i < sizeof kv / sizeof kv[0]; i++)
        if (rd_kafka_conf_set(conf, kv[i][0], kv[i][1], err, sizeof err)) {
            fprintf(stderr, "bench-latency: %s\n", err);
            return 1;
        }
    rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, err, sizeof err);
    if (!rk) {
        fprintf(stderr, "bench-latency: %s\n", err);
        return 1;
    }
    rd_kafka_poll_set_consumer(rk);
    rd_kafka_topic_partition_list_t *sub = rd_kafka_topic_partition_list_new(1);
    rd_kafka_topic_partition_list_add(sub, topic, RD_KAFKA_PARTITION_UA);
    rd_kafka_subscribe(rk, sub);
    rd_kafka_topic_partition_list_destroy(sub);
    long long n = 0;
    struct timespec start, now;
    clock_gettime(CLOCK_MONOTONIC, &start);
    while (n < records) {
        clock_gettime(CLOCK_MONOTONIC, &now);
        if (now.tv_sec - start.tv_sec > timeout_s) {
            fprintf(stderr, "bench-latency: read %lld of %lld records of '%s' within %ld s\n", n,
                    records, topic, timeout_s);
            return 1;
        }
        rd_kafka_message_t *m = rd_kafka_consumer_poll(rk, 200);
        if (!m)
            continue;
        if (m->err) {
            rd_kafka_message_destroy(m);
            continue;
        }
        rd_kafka_timestamp_type_t type;
        int64_t appended = rd_kafka_message_timestamp(m, &type);
        rd_kafka_headers_t *hdrs;
        const void *v;
        size_t len;
        if (type != RD_KAFKA_TIMESTAMP_LOG_APPEND_TIME || rd_kafka_message_headers(m, &hdrs) ||
            rd_kafka_header_get_last(hdrs, "ct", &v, &len) || len != 8) {
            fprintf(stderr,
                    "bench-latency: '%s' offset %lld has no append time or no ct header "
                    "(is the topic LogAppendTime, and the input from bench-load --rate?)\n",
                    topic, (long long)m->offset);
            return 1;
        }
        int64_t ct = 0;
        for (int b = 0; b < 8; b++)
            ct = (ct << 8) | ((const unsigned char *)v)[b];
        samples[n].ct = ct;
        samples[n].latency = appended - ct;
        n++;
        rd_kafka_message_destroy(m);
    }
    rd_kafka_consumer_close(rk);
    rd_kafka_destroy(rk);
    qsort(samples, (size_t)n, sizeof *samples, by_ct);
    long long skip = n / 5, counted = n - skip;
    sample_t *kept = samples + skip;
    qsort(kept, (size_t)counted, sizeof *kept, by_latency);
    printf("LATENCY records=%lld counted=%lld p50_ms=%lld p99_ms=%lld max_ms=%lld\n", n, counted,
           (long long)kept[counted / 2].latency, (long long)kept[(counted * 99) / 100].latency,
           (long long)kept[counted - 1].latency);
    free(samples);
    return 0;
}
