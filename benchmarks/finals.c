/*
 * bench-finals: reads a whole topic back, as a reader that trusts only committed records does
 * (isolation.level=read_committed), and writes what the windowed-count workload is checked
 * against (benchmarks/WORKLOADS.md, "Windowed count").
 *
 *   bench-finals --bootstrap B --topic T --out FILE [--window-ms W] [--timeout S]
 *
 * Without --window-ms, T is a windowed-count output: the last value of each key, the final
 * result of each (key, window), one line "<key> <value>" per key, sorted by key (strcmp: the
 * order bench-rill-pipe and the Kafka Streams peer sort their --finals files in). With
 * --window-ms W, T is the input, and the file is the truth instead: per record key and tumbling
 * window of W ms of record time, "<key>@<window start> <count>" (the same format, so the files
 * compare byte for byte). Either way it prints one line:
 *
 *   FINALS topic=T records=R keys=K sum=S
 *
 * R: the records read (committed ones only), K: the lines written, S: the sum of the values
 * read as decimal integers (for a count, every input record counted once makes S the number of
 * input records).
 *
 * It assigns every partition from its beginning (no group, no commit) and reads until each
 * partition's position reaches the end offset it had at the start. Under read_committed a
 * partition ends at its last stable offset, before any transaction still open: such a
 * partition never reaches its end, and the run fails at the timeout naming the partition and
 * both offsets (the systems have closed by then, so an open transaction is a bug).
 */
#include <librdkafka/rdkafka.h>
#include <rill/statestore.h>

#include "bench_admin.h"

#include <getopt.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static const char *bootstrap, *topic, *out_path;
static int64_t window_ms = 0; /* > 0: count the input per key and window (the truth) */
static long timeout_s = 120;

static void usage(void)
{
    fprintf(stderr, "usage: bench-finals --bootstrap B --topic T --out FILE [--window-ms W] "
                    "[--timeout S]\n");
    exit(2);
}

static void die(const char *what, const char *detail)
{
    fprintf(stderr, "bench-finals: %s: %s (topic '%s', bootstrap %s)\n", what, detail, topic,
            bootstrap);
    exit(1);
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Key → last value (an output) or key@window → count as 8 bytes (the truth), in Rill's
 * in-memory store: an ordered map, so the file comes out sorted by key (bytewise, which is
 * strcmp's order for keys without NUL). */
static rill_store_t *table;

static void put(const char *key, size_t len, const void *value, size_t vlen)
{
    if (rill_store_put(table, (rill_buf_t){key, len}, (rill_buf_t){value, vlen}))
        die("out of memory", "the table of keys");
}

/* Adds one record to the table; a key or value holding a NUL or a space would make the file
 * ambiguous, so it fails the run. */
static void take(const rd_kafka_message_t *m)
{
    const char *k = m->key ? m->key : "";
    if (memchr(k, 0, m->key_len) || memchr(k, ' ', m->key_len) ||
        (m->payload && (memchr(m->payload, 0, m->len) || memchr(m->payload, '\n', m->len)))) {
        char where[128];
        snprintf(where, sizeof where, "partition %d offset %lld", (int)m->partition,
                 (long long)m->offset);
        die("a key or value holds a NUL, space or newline", where);
    }
    if (window_ms > 0) {
        int64_t ts = rd_kafka_message_timestamp(m, NULL);
        if (ts < 0)
            die("a record has no timestamp", "cannot place it in a window");
        char key[1024];
        int n = snprintf(key, sizeof key, "%.*s@%" PRId64, (int)m->key_len, k, ts - ts % window_ms);
        if (n < 0 || (size_t)n >= sizeof key)
            die("a key is too long", "over 1000 bytes");
        int64_t count = 0;
        rill_buf_t v;
        if (rill_store_get(table, (rill_buf_t){key, (size_t)n}, &v) == 0 && v.len == sizeof count)
            memcpy(&count, v.data, sizeof count);
        count++;
        put(key, (size_t)n, &count, sizeof count);
        return;
    }
    if (m->payload)
        put(k, m->key_len, m->payload, m->len);
    else
        put(k, m->key_len, "(null)", 6);
}

int main(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"bootstrap", required_argument, NULL, 'b'}, {"topic", required_argument, NULL, 't'},
        {"out", required_argument, NULL, 'o'},       {"window-ms", required_argument, NULL, 'w'},
        {"timeout", required_argument, NULL, 'T'},   {NULL, 0, NULL, 0},
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
        case 'o':
            out_path = optarg;
            break;
        case 'w':
            window_ms = atoll(optarg);
            break;
        case 'T':
            timeout_s = atol(optarg);
            break;
        default:
            usage();
        }
    }
    if (!bootstrap || !topic || !out_path || window_ms < 0 || timeout_s < 1)
        usage();
    char serr[256];
    if (!(table = rill_store_open(RILL_STORE_IN_MEMORY, NULL, NULL, serr, sizeof serr)))
        die("cannot make the table of keys", serr);

    char group[128];
    snprintf(group, sizeof group, "rill-bench-finals-%ld-%d", (long)time(NULL), (int)getpid());
    const char *const kv[][2] = {
        {"bootstrap.servers", bootstrap},
        {"client.id", "rill-bench-finals"},
        {"group.id", group}, /* never joined: partitions are assigned, nothing is committed */
        {"enable.auto.commit", "false"},
        {"enable.partition.eof", "true"},
        {"isolation.level", "read_committed"},
        {"allow.auto.create.topics", "false"},
    };
    rd_kafka_conf_t *conf = bench_client_conf("bench-finals", kv, sizeof kv / sizeof kv[0]);
    char err[512];
    rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, err, sizeof err);
    if (!rk)
        die("cannot create a consumer", err);
    rd_kafka_poll_set_consumer(rk);

    const char *names[] = {topic};
    int parts = 0;
    if (bench_topic_partitions(rk, names, 1, &parts, 15000) < 0)
        die("cannot read the cluster's metadata", "no answer within 15 s");
    if (parts <= 0)
        die("no such topic", "or a partition without a leader");
    int64_t *end = calloc((size_t)parts, sizeof *end), *at = calloc((size_t)parts, sizeof *at);
    if (!end || !at)
        die("out of memory", "the partitions");
    rd_kafka_topic_partition_list_t *list = rd_kafka_topic_partition_list_new(parts);
    for (int p = 0; p < parts; p++) {
        int64_t lo;
        rd_kafka_resp_err_t e = rd_kafka_query_watermark_offsets(rk, topic, p, &lo, &end[p], 10000);
        if (e)
            die("cannot read the end offsets", rd_kafka_err2str(e));
        at[p] = -1;
        rd_kafka_topic_partition_list_add(list, topic, p)->offset = RD_KAFKA_OFFSET_BEGINNING;
    }
    rd_kafka_resp_err_t e = rd_kafka_assign(rk, list);
    rd_kafka_topic_partition_list_destroy(list);
    if (e)
        die("cannot assign the partitions", rd_kafka_err2str(e));

    long long records = 0;
    double deadline = now_s() + (double)timeout_s;
    for (int done = 0; done < parts;) {
        if (now_s() > deadline) {
            char why[512];
            int n = 0;
            for (int p = 0; p < parts && n < (int)sizeof why - 80; p++)
                if (at[p] < end[p])
                    n += snprintf(why + n, sizeof why - (size_t)n,
                                  "%spartition %d read to %lld of %lld", n ? ", " : "", p,
                                  (long long)at[p], (long long)end[p]);
            fprintf(stderr,
                    "bench-finals: %s within %ld s (%s): a transaction still open holds "
                    "read_committed readers back (topic '%s', bootstrap %s)\n",
                    "the end was not reached", timeout_s, why, topic, bootstrap);
            return 1;
        }
        rd_kafka_message_t *m = rd_kafka_consumer_poll(rk, 200);
        if (!m)
            continue;
        int p = m->partition;
        if (m->err == RD_KAFKA_RESP_ERR__PARTITION_EOF) {
            /* The end of what is stable: it counts once it reached the end seen at start. */
            if (p >= 0 && p < parts && at[p] < end[p] && m->offset >= end[p])
                done++;
            if (p >= 0 && p < parts)
                at[p] = m->offset > at[p] ? m->offset : at[p];
        } else if (m->err) {
            die("cannot read", rd_kafka_message_errstr(m));
        } else if (p >= 0 && p < parts) {
            take(m);
            records++;
        }
        rd_kafka_message_destroy(m);
    }
    rd_kafka_assign(rk, NULL);
    rd_kafka_consumer_close(rk);
    rd_kafka_destroy(rk);

    /* Written in key order; the sum of the values read as integers. */
    FILE *f = fopen(out_path, "w");
    if (!f)
        die("cannot write", out_path);
    long long sum = 0;
    size_t n = 0;
    rill_store_iter_t *it = rill_store_range(table, NULL, NULL, false);
    if (!it)
        die("out of memory", "reading the table of keys");
    rill_buf_t key, value;
    while (rill_store_iter_next(it, &key, &value)) {
        n++;
        if (window_ms > 0) {
            int64_t count;
            memcpy(&count, value.data, sizeof count);
            fprintf(f, "%.*s %lld\n", (int)key.len, (const char *)key.data, (long long)count);
            sum += count;
        } else {
            char num[32];
            snprintf(num, sizeof num, "%.*s", (int)(value.len < 31 ? value.len : 31),
                     (const char *)value.data);
            fprintf(f, "%.*s %.*s\n", (int)key.len, (const char *)key.data, (int)value.len,
                    (const char *)value.data);
            sum += strtoll(num, NULL, 10);
        }
    }
    rill_store_iter_close(it);
    rill_store_close(table);
    if (fclose(f))
        die("cannot write", out_path);
    printf("FINALS topic=%s records=%lld keys=%zu sum=%lld\n", topic, records, n, sum);
    free(end);
    free(at);
    return 0;
}
