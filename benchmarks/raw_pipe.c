/*
 * bench-raw-pipe: "the limit" for each workload of benchmarks/WORKLOADS.md. A plain librdkafka
 * loop consumes the input topic in group G, applies the workload to each record's bytes (JSON
 * workloads parse and print with jansson, as Rill's JSON serde does), produces the outputs (same
 * key, timestamp and headers, partitioned by key) to the output topic, and commits offsets
 * at-least-once every commit interval: flush the producer, then commit the offsets after the last
 * processed record of each partition, as Rill does.
 *
 * Fairness: the clients get exactly the settings Rill's stream thread gives its own (see
 * make_client() in engine/thread.c: acks=all, enable.idempotence, linger.ms=5, murmur2_random;
 * enable.auto.commit=false, enable.auto.offset.store=false, auto.offset.reset=earliest), records
 * are taken in batches of 1000 as Rill's poll.batch.size default, and the filter and map do the
 * same byte work as rill_pipe.c's. The clock runs from the moment the first record is consumed
 * to the moment the N-th record is consumed and the producer is flushed (so group join and
 * metadata are outside, and every output is acknowledged inside); CPU is getrusage(RUSAGE_SELF)
 * over that same window, all threads (librdkafka's included).
 *
 *   bench-raw-pipe --bootstrap B --input T --output O --group G --records N
 *                  [--commit-interval MS] [--timeout S] [--consumer-set KEY=VALUE]...
 *
 * --consumer-set passes a librdkafka property to the consumer (rill_pipe.c gives it to Rill as
 * "consumer.KEY"), for experiments such as queued.min.messages; the run script passes none.
 */
#include <jansson.h>
#include <librdkafka/rdkafka.h>

#include "bench_common.h"

#include <getopt.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#define BATCH 1000

static const char *bootstrap, *input, *output, *group;
static long long records = -1;
static long commit_interval_ms = 1000;
static long timeout_s = 600;
static const char *consumer_set[32][2];
static size_t nconsumer_set;

static long long delivered, delivery_failures;
static char delivery_error[512];

/* Next offset to commit per input partition (-1: nothing processed), and the last committed. */
static int64_t *next_offset, *committed;
static int32_t npartitions;

static void die(const char *fmt, const char *detail)
{
    fprintf(stderr, "bench-raw-pipe: ");
    fprintf(stderr, fmt, detail);
    fprintf(stderr, " (input '%s', output '%s', group '%s', bootstrap %s)\n", input, output, group,
            bootstrap);
    exit(1);
}

static double first_ack_ms = -1;

static void dr_cb(rd_kafka_t *rk, const rd_kafka_message_t *msg, void *opaque)
{
    if (!msg->err) {
        if (delivered++ == 0)
            first_ack_ms = wall_ms();
    } else if (delivery_failures++ == 0)
        snprintf(delivery_error, sizeof delivery_error, "%s", rd_kafka_err2str(msg->err));
}

static rd_kafka_t *client(rd_kafka_type_t type, const char *const kv[][2], size_t n)
{
    char err[512];
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    for (size_t i = 0; i < n; i++)
        if (rd_kafka_conf_set(conf, kv[i][0], kv[i][1], err, sizeof err) != RD_KAFKA_CONF_OK)
            die("cannot set a client property: %s", err);
    for (size_t i = 0; type == RD_KAFKA_CONSUMER && i < nconsumer_set; i++)
        if (rd_kafka_conf_set(conf, consumer_set[i][0], consumer_set[i][1], err, sizeof err) !=
            RD_KAFKA_CONF_OK)
            die("bad --consumer-set: %s", err);
    if (type == RD_KAFKA_PRODUCER)
        rd_kafka_conf_set_dr_msg_cb(conf, dr_cb);
    rd_kafka_t *rk = rd_kafka_new(type, conf, err, sizeof err);
    if (!rk)
        die("cannot create a client: %s", err);
    return rk;
}

/* Flushes the producer (every output of the processed records acknowledged), then commits the
 * offsets after the last processed record of each partition: Rill's at-least-once commit. */
static void commit(rd_kafka_t *consumer, rd_kafka_t *producer, bool sync)
{
    rd_kafka_resp_err_t err = rd_kafka_flush(producer, 60000);
    if (err)
        die("the producer did not flush within 60 s: %s", rd_kafka_err2str(err));
    if (delivery_failures)
        die("a record was not delivered: %s", delivery_error);
    rd_kafka_topic_partition_list_t *list = rd_kafka_topic_partition_list_new(npartitions + 1);
    for (int32_t p = 0; p < npartitions; p++)
        if (next_offset[p] > committed[p])
            rd_kafka_topic_partition_list_add(list, input, p)->offset = next_offset[p];
    if (list->cnt) {
        err = rd_kafka_commit(consumer, list, sync ? 0 : 1);
        if (err && err != RD_KAFKA_RESP_ERR__NO_OFFSET)
            fprintf(stderr, "bench-raw-pipe: offset commit failed: %s\n", rd_kafka_err2str(err));
        else
            for (int32_t p = 0; p < npartitions; p++)
                if (next_offset[p] > committed[p])
                    committed[p] = next_offset[p];
    }
    rd_kafka_topic_partition_list_destroy(list);
}

static void track_partition(int32_t p)
{
    if (p < npartitions)
        return;
    int32_t n = p + 1;
    next_offset = realloc(next_offset, (size_t)n * sizeof *next_offset);
    committed = realloc(committed, (size_t)n * sizeof *committed);
    if (!next_offset || !committed)
        die("%s", "out of memory");
    for (int32_t i = npartitions; i < n; i++)
        next_offset[i] = committed[i] = -1;
    npartitions = n;
}

static char mapped[1 << 20];

static size_t dump(json_t *doc)
{
    size_t n = json_dumpb(doc, mapped, sizeof mapped, JSON_COMPACT);
    if (n == 0 || n > sizeof mapped)
        die("%s", "cannot print a JSON value into 1 MiB");
    return n;
}

/* The workload on one record: returns whether it makes an output, left in out/outlen. */
static bool transform(workload_t w, const rd_kafka_message_t *m, const void **out, size_t *outlen)
{
    const unsigned char *v = m->payload;
    json_t *doc;
    json_int_t auction, price;
    switch (w) {
    case W_PASSTHROUGH:
        *out = m->payload;
        *outlen = m->len;
        return true;
    case W_FILTER_MAP:
        if (!m->len || v[0] % 2 != 0)
            return false;
        if (m->len + 2 > sizeof mapped)
            die("%s", "a value is larger than 1 MiB");
        mapped[0] = 'm';
        mapped[1] = ':';
        memcpy(mapped + 2, v, m->len);
        *out = mapped;
        *outlen = m->len + 2;
        return true;
    default:
        break;
    }
    doc = json_loadb(m->payload, m->len, 0, NULL);
    if (!doc)
        die("%s", "an input value is not JSON");
    bool keep = true;
    if (w == W_NEXMARK_Q1) {
        price = json_integer_value(json_object_get(doc, "price"));
        json_object_set_new(doc, "price", json_integer(price * 89 / 100));
        *outlen = dump(doc);
    } else if (w == W_NEXMARK_Q2) {
        auction = json_integer_value(json_object_get(doc, "auction"));
        price = json_integer_value(json_object_get(doc, "price"));
        keep = auction % 123 == 0;
        if (keep)
            *outlen = (size_t)snprintf(mapped, sizeof mapped, "{\"auction\":%lld,\"price\":%lld}",
                                       (long long)auction, (long long)price);
    } else {
        *outlen = dump(doc);
    }
    json_decref(doc);
    *out = mapped;
    return keep;
}

int main(int argc, char **argv)
{
    double started_ms = process_start_ms();
    pipe_opts_t o;
    pipe_opts_parse(&o, argc, argv, "bench-raw-pipe");
    bootstrap = o.bootstrap;
    input = o.input;
    output = o.output;
    group = o.group;
    records = o.records;
    commit_interval_ms = o.commit_interval_ms;
    timeout_s = o.timeout_s;
    nconsumer_set = o.nconsumer_set;
    memcpy(consumer_set, o.consumer_set, sizeof consumer_set);

    const char *const ckv[][2] = {
        {"bootstrap.servers", bootstrap},
        {"client.id", "rill-bench-raw-consumer"},
        {"group.id", group},
        {"enable.auto.commit", "false"},
        {"enable.auto.offset.store", "false"},
        {"auto.offset.reset", "earliest"},
        /* Rill's consumer default (engine/thread.c): librdkafka 2.0.2 stops fetching for a
         * fixed second once this many records wait in its queue. */
        {"queued.min.messages", "1000000"},
    };
    const char *const pkv[][2] = {
        {"bootstrap.servers", bootstrap},
        {"client.id", "rill-bench-raw-producer"},
        {"acks", "all"},
        {"enable.idempotence", "true"},
        {"partitioner", "murmur2_random"},
        {"linger.ms", "5"},
    };
    rd_kafka_t *consumer = client(RD_KAFKA_CONSUMER, ckv, sizeof ckv / sizeof ckv[0]);
    rd_kafka_t *producer = client(RD_KAFKA_PRODUCER, pkv, sizeof pkv / sizeof pkv[0]);
    rd_kafka_poll_set_consumer(consumer);
    rd_kafka_topic_t *out = rd_kafka_topic_new(producer, output, NULL);
    rd_kafka_topic_partition_list_t *sub = rd_kafka_topic_partition_list_new(1);
    rd_kafka_topic_partition_list_add(sub, input, RD_KAFKA_PARTITION_UA);
    rd_kafka_resp_err_t err = rd_kafka_subscribe(consumer, sub);
    rd_kafka_topic_partition_list_destroy(sub);
    if (err)
        die("cannot subscribe: %s", rd_kafka_err2str(err));
    rd_kafka_queue_t *cq = rd_kafka_queue_get_consumer(consumer);

    static rd_kafka_message_t *batch[BATCH];
    long rss_steady_kb = -1;
    double deadline = now_s() + (double)timeout_s;
    double t_first = 0, cpu_first = 0, last_commit = 0;
    long long consumed = 0, passed = 0;
    while (consumed < records) {
        double now = now_s();
        if (now > deadline) {
            fprintf(stderr,
                    "bench-raw-pipe: only %lld of %lld records consumed within %ld s (input "
                    "'%s', bootstrap %s)\n",
                    consumed, records, timeout_s, input, bootstrap);
            return 1;
        }
        ssize_t n = rd_kafka_consume_batch_queue(cq, 100, batch, BATCH);
        if (n < 0)
            die("consume failed: %s", rd_kafka_err2str(rd_kafka_last_error()));
        for (ssize_t i = 0; i < n; i++) {
            rd_kafka_message_t *m = batch[i];
            if (m->err) {
                if (m->err != RD_KAFKA_RESP_ERR__PARTITION_EOF) {
                    if (rd_kafka_fatal_error(consumer, NULL, 0))
                        die("fatal consumer error: %s", rd_kafka_message_errstr(m));
                    fprintf(stderr, "bench-raw-pipe: consumer: %s\n", rd_kafka_message_errstr(m));
                }
            } else if (consumed < records) {
                if (consumed == 0)
                    last_commit = now_s();
                /* The clock starts after the warm-up records (none by default). */
                if (consumed++ == o.warmup) {
                    t_first = now_s();
                    cpu_first = cpu_s();
                }
                if (consumed == records / 2)
                    rss_steady_kb = proc_status_kb("VmRSS");
                track_partition(m->partition);
                next_offset[m->partition] = m->offset + 1;
                const void *value;
                size_t value_len;
                if (transform(o.workload, m, &value, &value_len)) {
                    passed++;
                    /* The same job as the topology: the output keeps the input's timestamp and
                     * headers (Kafka Streams forwards both). */
                    rd_kafka_headers_t *hdrs = NULL;
                    if (rd_kafka_message_detach_headers(m, &hdrs))
                        hdrs = NULL;
                    for (;;) {
                        err = rd_kafka_producev(
                            producer, RD_KAFKA_V_RKT(out),
                            RD_KAFKA_V_PARTITION(RD_KAFKA_PARTITION_UA),
                            RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
                            RD_KAFKA_V_KEY(m->key, m->key_len),
                            RD_KAFKA_V_VALUE((void *)value, value_len),
                            RD_KAFKA_V_TIMESTAMP(rd_kafka_message_timestamp(m, NULL)),
                            RD_KAFKA_V_HEADERS(hdrs), RD_KAFKA_V_END);
                        if (!err)
                            break;
                        if (err != RD_KAFKA_RESP_ERR__QUEUE_FULL)
                            die("cannot produce: %s", rd_kafka_err2str(err));
                        rd_kafka_poll(producer, 100); /* back-pressure, as Rill's collector */
                    }
                }
            }
            rd_kafka_message_destroy(m);
        }
        rd_kafka_poll(producer, 0);
        if (consumed && now_s() - last_commit >= (double)commit_interval_ms / 1000.0) {
            commit(consumer, producer, false);
            last_commit = now_s();
        }
    }
    err = rd_kafka_flush(producer, 60000);
    if (err)
        die("the producer did not flush within 60 s: %s", rd_kafka_err2str(err));
    double seconds = now_s() - t_first;
    double cpu = cpu_s() - cpu_first;
    long rss_peak_kb = proc_status_kb("VmHWM");
    if (delivery_failures)
        die("a record was not delivered: %s", delivery_error);
    commit(consumer, producer, true);
    rd_kafka_queue_destroy(cq);
    rd_kafka_consumer_close(consumer);
    rd_kafka_destroy(consumer);
    rd_kafka_topic_destroy(out);
    rd_kafka_destroy(producer);
    free(next_offset);
    free(committed);
    if (delivered != passed) {
        fprintf(stderr, "bench-raw-pipe: %lld records passed the filter but %lld were delivered\n",
                passed, delivered);
        return 1;
    }
    long long measured = consumed - o.warmup;
    printf("RESULT system=raw workload=%s records=%lld measured=%lld seconds=%.3f rps=%.0f "
           "cpu_seconds=%.3f produced=%lld rss_peak_kb=%ld rss_steady_kb=%ld "
           "first_output_ms=%.0f\n",
           workload_names[o.workload], consumed, measured, seconds, (double)measured / seconds, cpu,
           delivered, rss_peak_kb, rss_steady_kb,
           first_ack_ms < 0 ? -1.0 : first_ack_ms - started_ms);
    return 0;
}
