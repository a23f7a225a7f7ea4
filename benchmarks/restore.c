/*
 * bench-restore: how fast Rill restores a store from its changelog, against "the limit", a plain
 * librdkafka consumer reading the same topic from start to end (benchmarks/WORKLOADS.md,
 * "restore").
 *
 * 1. Creates the input topic "<A>-in" (P partitions, empty) and the changelog
 *    "<A>-counts-changelog" (P partitions, cleanup.policy=compact, as Rill makes it), and
 *    produces N records straight into the changelog in the layout of a count store: the key is
 *    the store key, "k" and ten digits (N distinct keys), the value the count as the int64
 *    serde's 8 big-endian bytes, partitioned by murmur2 of the key as Rill partitions.
 * 2. Starts an app with application.id A (one stream thread, a fresh state.dir, so no
 *    checkpoint) whose topology counts "<A>-in" by key into the RocksDB store "counts": its
 *    tasks restore "counts" from the whole changelog before processing. The clock runs from the
 *    restore listener's first on_start to its last on_end (every partition restored, one after
 *    the other, as the stream thread does); CPU is the whole process over that window.
 * 3. Reads the changelog with a plain consumer configured as Rill's restore consumer
 *    (enable.partition.eof, no commits; batches of 1,000 as poll.batch.size), every partition
 *    assigned at once from the beginning, until every partition reported its end: the limit.
 *
 * Prints one line per system and one human summary:
 *   RESULT system=rill workload=restore records=N seconds=T rps=R cpu_seconds=C rss_peak_kb=K
 *   RESULT system=raw workload=restore records=N seconds=T rps=R cpu_seconds=C rss_peak_kb=K
 * (rss_peak_kb of raw is the process's peak after both phases, so it includes Rill's.)
 *
 *   bench-restore --bootstrap B --app A [--records N] [--partitions P] [--timeout S] [--keep]
 *                 [--consumer-set KEY=VALUE]...
 *
 * The topics are deleted at the end unless --keep. --consumer-set passes a librdkafka property
 * to both consumers (to Rill as "consumer.KEY", which its restore consumer also takes), for
 * experiments; the run script passes none.
 */
#define _GNU_SOURCE /* nftw */
#include <rill/app.h>
#include <rill/dsl.h>

#include <librdkafka/rdkafka.h>

#include "bench_admin.h"
#include "bench_common.h"

#include <ftw.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define BATCH 1000

static const char *bootstrap, *app_id;
static long long records = 1000000;
static int partitions = 4;
static long timeout_s = 600;
static bool keep;
static const char *consumer_set[32][2]; /* librdkafka consumer properties, for experiments */
static size_t nconsumer_set;
static char in_topic[300], changelog[300];

static void die(const char *what, const char *detail)
{
    fprintf(stderr, "bench-restore: %s: %s (app '%s', bootstrap %s)\n", what, detail,
            app_id ? app_id : "?", bootstrap ? bootstrap : "?");
    exit(1);
}

static void usage(void)
{
    fprintf(stderr, "usage: bench-restore --bootstrap B --app A [--records N] [--partitions P] "
                    "[--timeout S] [--keep] [--consumer-set KEY=VALUE]...\n");
    exit(2);
}

/* ---- 1. the changelog ---- */

static int delivery_failures;
static char delivery_error[512];

static void dr_cb(rd_kafka_t *rk, const rd_kafka_message_t *msg, void *opaque)
{
    if (msg->err && delivery_failures++ == 0)
        snprintf(delivery_error, sizeof delivery_error, "%s", rd_kafka_err2str(msg->err));
}

/* Creates the changelog as Rill would (compacted), waits until its partitions have leaders. */
static void create_changelog(rd_kafka_t *rk)
{
    char err[512];
    rd_kafka_NewTopic_t *nt = rd_kafka_NewTopic_new(changelog, partitions, 1, err, sizeof err);
    if (!nt || rd_kafka_NewTopic_set_config(nt, "cleanup.policy", "compact"))
        die("cannot describe the changelog topic", nt ? "bad configuration" : err);
    rd_kafka_queue_t *q = rd_kafka_queue_new(rk);
    rd_kafka_CreateTopics(rk, &nt, 1, NULL, q);
    rd_kafka_event_t *ev = rd_kafka_queue_poll(q, 60000);
    const rd_kafka_CreateTopics_result_t *res = ev ? rd_kafka_event_CreateTopics_result(ev) : NULL;
    if (!res)
        die("CreateTopics", ev ? rd_kafka_event_error_string(ev) : "no answer within 60 s");
    size_t cnt;
    const rd_kafka_topic_result_t **tr = rd_kafka_CreateTopics_result_topics(res, &cnt);
    if (cnt == 1 && rd_kafka_topic_result_error(tr[0]))
        die("cannot create the changelog topic", rd_kafka_topic_result_error_string(tr[0]));
    rd_kafka_event_destroy(ev);
    rd_kafka_queue_destroy(q);
    rd_kafka_NewTopic_destroy(nt);
    const char *names[] = {changelog};
    int count = 0;
    for (int waited_ms = 0; bench_topic_partitions(rk, names, 1, &count, 5000) != 0 || count == 0;
         waited_ms += 50) {
        if (waited_ms > 60000)
            die("the changelog topic has no leader for every partition", "after 60 s");
        struct timespec backoff = {0, 50 * 1000000};
        nanosleep(&backoff, NULL);
    }
}

/* Produces the N store records into the changelog; returns how many partitions hold some. */
static int load_changelog(void)
{
    const char *const kv[][2] = {
        {"bootstrap.servers", bootstrap},
        {"client.id", "rill-bench-restore-load"},
        {"allow.auto.create.topics", "false"},
        {"acks", "all"},
        {"enable.idempotence", "true"},
        {"linger.ms", "20"},
        {"batch.size", "1000000"},
        {"batch.num.messages", "100000"},
        {"queue.buffering.max.messages", "1000000"},
        {"queue.buffering.max.kbytes", "1048576"},
        {"partitioner", "murmur2_random"}, /* Rill's, so keys land in their task's partition */
        {"compression.type", "none"},
    };
    rd_kafka_conf_t *conf = bench_client_conf("bench-restore", kv, sizeof kv / sizeof kv[0]);
    rd_kafka_conf_set_dr_msg_cb(conf, dr_cb);
    char err[512];
    rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, err, sizeof err);
    if (!rk)
        die("cannot create a producer", err);
    const char *names[] = {in_topic};
    bench_create_topics(rk, "bench-restore", bootstrap, names, 1, partitions, false);
    create_changelog(rk);
    rd_kafka_topic_t *rkt = rd_kafka_topic_new(rk, changelog, NULL);
    uint8_t value[8];
    rill_encode_i64(value, 1); /* every key counted once */
    double t0 = now_s();
    for (long long i = 0; i < records; i++) {
        char key[24];
        int klen = snprintf(key, sizeof key, "k%010lld", i);
        rd_kafka_resp_err_t e;
        while ((e = rd_kafka_producev(rk, RD_KAFKA_V_RKT(rkt),
                                      RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
                                      RD_KAFKA_V_KEY(key, (size_t)klen),
                                      RD_KAFKA_V_VALUE(value, sizeof value), RD_KAFKA_V_END))) {
            if (e != RD_KAFKA_RESP_ERR__QUEUE_FULL)
                die("cannot produce to the changelog", rd_kafka_err2str(e));
            rd_kafka_poll(rk, 100);
        }
        if ((i & 1023) == 0)
            rd_kafka_poll(rk, 0);
    }
    rd_kafka_resp_err_t ferr = rd_kafka_flush(rk, 120000);
    if (ferr || delivery_failures)
        die("loading the changelog failed", ferr ? rd_kafka_err2str(ferr) : delivery_error);
    double secs = now_s() - t0;
    int nonempty = 0;
    for (int p = 0; p < partitions; p++) {
        int64_t lo, hi;
        if (rd_kafka_query_watermark_offsets(rk, changelog, p, &lo, &hi, 10000))
            die("cannot read the changelog's end offsets", changelog);
        nonempty += hi > lo;
    }
    printf("LOAD topic=%s records=%lld partitions=%d seconds=%.3f rps=%.0f\n", changelog, records,
           partitions, secs, secs > 0 ? (double)records / secs : 0.0);
    fflush(stdout);
    rd_kafka_topic_destroy(rkt);
    rd_kafka_destroy(rk);
    return nonempty;
}

/* ---- 2. Rill's restoration ---- */

/* What the restore listener (on the stream thread) tells the main thread. */
static struct {
    pthread_mutex_t lock;
    pthread_cond_t cond;
    int starts, ends, expect;
    unsigned long long restored;
    double t_first, cpu_first, t_last, cpu_last;
    bool failed;
    char error[1024];
} run = {.lock = PTHREAD_MUTEX_INITIALIZER};

static void on_start(void *ud, const char *store, const char *topic, int32_t partition,
                     int64_t from_offset, int64_t end_offset)
{
    pthread_mutex_lock(&run.lock);
    if (run.starts++ == 0) {
        run.t_first = now_s();
        run.cpu_first = cpu_s();
    }
    pthread_mutex_unlock(&run.lock);
}

static void on_end(void *ud, const char *store, const char *topic, int32_t partition,
                   uint64_t total)
{
    double t = now_s(), cpu = cpu_s();
    pthread_mutex_lock(&run.lock);
    run.restored += total;
    if (++run.ends == run.expect) {
        run.t_last = t;
        run.cpu_last = cpu;
        pthread_cond_signal(&run.cond);
    }
    pthread_mutex_unlock(&run.lock);
}

static void on_error(void *ud, int err, const char *message)
{
    pthread_mutex_lock(&run.lock);
    run.failed = true;
    snprintf(run.error, sizeof run.error, "%s: %s", rill_err_name(err), message);
    pthread_cond_signal(&run.cond);
    pthread_mutex_unlock(&run.lock);
}

static int rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    return remove(path);
}

static void restore_with_rill(int nonempty, double *seconds, double *cpu, long *rss_kb)
{
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&run.cond, &ca);
    pthread_condattr_destroy(&ca);
    run.expect = nonempty;

    char state_dir[] = "/tmp/rill-bench-restore-XXXXXX";
    if (!mkdtemp(state_dir))
        die("cannot make a state directory", "mkdtemp");
    rill_topology_t *topo = rill_topology_new();
    rill_source_opts_t so = {.key_serde = rill_serde_string(), .value_serde = rill_serde_string()};
    rill_materialized_t m = {.name = "counts", .backend = RILL_STORE_ROCKSDB};
    if (!rill_grouped_count(
            rill_stream_group_by_key(rill_stream_from_topic(topo, in_topic, &so), NULL), &m))
        die("cannot build the topology", "rill_grouped_count failed");
    char err[1024], connect_ms[32];
    snprintf(connect_ms, sizeof connect_ms, "%ld", timeout_s < 30 ? timeout_s * 1000 : 30000);
    rill_conf_t *conf = rill_conf_new();
    const char *const kv[][2] = {
        {"application.id", app_id},
        {"bootstrap.servers", bootstrap},
        {"state.dir", state_dir},
        {"num.stream.threads", "1"},
        {"cluster.connect.timeout.ms", connect_ms},
    };
    for (size_t i = 0; i < sizeof kv / sizeof kv[0]; i++)
        if (rill_conf_set(conf, kv[i][0], kv[i][1], err, sizeof err))
            die("bad configuration", err);
    for (size_t i = 0; i < nconsumer_set; i++) {
        char key[256];
        snprintf(key, sizeof key, "consumer.%s", consumer_set[i][0]);
        if (rill_conf_set(conf, key, consumer_set[i][1], err, sizeof err))
            die("bad --consumer-set", err);
    }
    rill_app_t *app = rill_app_new(topo, conf, err, sizeof err);
    if (!app)
        die("cannot create the app", err);
    rill_restore_listener_t l = {.on_start = on_start, .on_end = on_end};
    rill_app_set_restore_listener(app, &l);
    rill_app_set_error_handler(app, on_error, NULL);
    if (rill_app_start(app))
        die("cannot start the app", rill_app_error(app, err, sizeof err));

    struct timespec deadline;
    clock_gettime(CLOCK_MONOTONIC, &deadline);
    deadline.tv_sec += timeout_s;
    pthread_mutex_lock(&run.lock);
    int rc = 0;
    while (run.ends < run.expect && !run.failed && rc == 0)
        rc = pthread_cond_timedwait(&run.cond, &run.lock, &deadline);
    bool done = run.ends >= run.expect, failed = run.failed;
    snprintf(err, sizeof err, "%s", run.error);
    pthread_mutex_unlock(&run.lock);
    if (failed)
        die("the app failed", err);
    if (!done) {
        snprintf(err, sizeof err, "%d of %d partitions restored within %ld s", run.ends, run.expect,
                 timeout_s);
        die("restoration timed out", err);
    }
    *seconds = run.t_last - run.t_first;
    *cpu = run.cpu_last - run.cpu_first;
    *rss_kb = proc_status_kb("VmHWM");
    if (run.restored != (unsigned long long)records) {
        snprintf(err, sizeof err, "restored %llu records of %lld", run.restored, records);
        die("wrong restoration", err);
    }
    /* The stream thread adds a partition's records to the metric just after its on_end. */
    int64_t metric;
    for (int waited_ms = 0;
         (metric = rill_app_metric(app, "records-restored")) < records && waited_ms < 5000;
         waited_ms++) {
        struct timespec tick = {0, 1000000};
        nanosleep(&tick, NULL);
    }
    if (metric != records) {
        snprintf(err, sizeof err, "metric records-restored is %lld, expected %lld",
                 (long long)metric, records);
        die("wrong restoration", err);
    }
    rill_app_close(app, 30000);
    rill_app_destroy(app);
    rill_topology_unref(topo);
    nftw(state_dir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

/* ---- 3. the limit: a plain consumer ---- */

static void read_raw(double *seconds, double *cpu)
{
    char group[400];
    snprintf(group, sizeof group, "%s-raw-reader", app_id); /* never joined */
    const char *const kv[][2] = {
        {"bootstrap.servers", bootstrap},
        {"client.id", "rill-bench-restore-raw"},
        {"group.id", group},
        {"enable.auto.commit", "false"},
        {"enable.partition.eof", "true"},
        {"auto.offset.reset", "earliest"},
    };
    rd_kafka_conf_t *conf = bench_client_conf("bench-restore", kv, sizeof kv / sizeof kv[0]);
    char err[512];
    for (size_t i = 0; i < nconsumer_set; i++)
        if (rd_kafka_conf_set(conf, consumer_set[i][0], consumer_set[i][1], err, sizeof err))
            die("bad --consumer-set", err);
    rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, err, sizeof err);
    if (!rk)
        die("cannot create the raw consumer", err);
    rd_kafka_poll_set_consumer(rk);
    rd_kafka_queue_t *q = rd_kafka_queue_get_consumer(rk);
    static rd_kafka_message_t *batch[BATCH];
    double t0 = now_s(), cpu0 = cpu_s(), deadline = t0 + (double)timeout_s;
    rd_kafka_topic_partition_list_t *list = rd_kafka_topic_partition_list_new(partitions);
    for (int p = 0; p < partitions; p++)
        rd_kafka_topic_partition_list_add(list, changelog, p)->offset = RD_KAFKA_OFFSET_BEGINNING;
    rd_kafka_resp_err_t e = rd_kafka_assign(rk, list);
    rd_kafka_topic_partition_list_destroy(list);
    if (e)
        die("cannot assign the changelog", rd_kafka_err2str(e));
    long long n = 0;
    uint64_t bytes = 0;
    int eofs = 0;
    while (eofs < partitions) {
        if (now_s() > deadline) {
            snprintf(err, sizeof err, "%lld of %lld records within %ld s", n, records, timeout_s);
            die("the raw read timed out", err);
        }
        /* The call returns when the batch is full or the timeout expires: a short timeout,
         * so that the last, partial batch is not waited for. */
        ssize_t got = rd_kafka_consume_batch_queue(q, 10, batch, BATCH);
        for (ssize_t i = 0; i < got; i++) {
            rd_kafka_message_t *m = batch[i];
            if (m->err == RD_KAFKA_RESP_ERR__PARTITION_EOF)
                eofs++;
            else if (m->err)
                die("the raw read failed", rd_kafka_message_errstr(m));
            else {
                n++;
                bytes += m->key_len + m->len; /* touch the record, as a restore would */
            }
            rd_kafka_message_destroy(m);
        }
    }
    *seconds = now_s() - t0;
    *cpu = cpu_s() - cpu0;
    if (n != records) {
        snprintf(err, sizeof err, "read %lld records of %lld (%llu bytes)", n, records,
                 (unsigned long long)bytes);
        die("wrong raw read", err);
    }
    rd_kafka_queue_destroy(q);
    rd_kafka_assign(rk, NULL);
    rd_kafka_consumer_close(rk);
    rd_kafka_destroy(rk);
}

int main(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"bootstrap", required_argument, NULL, 'b'},
        {"app", required_argument, NULL, 'a'},
        {"records", required_argument, NULL, 'n'},
        {"partitions", required_argument, NULL, 'p'},
        {"timeout", required_argument, NULL, 't'},
        {"keep", no_argument, NULL, 'k'},
        {"consumer-set", required_argument, NULL, 's'},
        {NULL, 0, NULL, 0},
    };
    int c;
    while ((c = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
        switch (c) {
        case 'b':
            bootstrap = optarg;
            break;
        case 'a':
            app_id = optarg;
            break;
        case 'n':
            records = atoll(optarg);
            break;
        case 'p':
            partitions = atoi(optarg);
            break;
        case 't':
            timeout_s = atol(optarg);
            break;
        case 'k':
            keep = true;
            break;
        case 's': {
            char *eq = strchr(optarg, '=');
            if (!eq || nconsumer_set == sizeof consumer_set / sizeof consumer_set[0])
                usage();
            *eq = 0;
            consumer_set[nconsumer_set][0] = optarg;
            consumer_set[nconsumer_set++][1] = eq + 1;
            break;
        }
        default:
            usage();
        }
    }
    if (!bootstrap || !app_id || records < 1 || partitions < 1 || timeout_s < 1)
        usage();
    rill_set_log_cb(NULL, NULL, getenv("RILL_DEBUG") ? RILL_LOG_DEBUG : RILL_LOG_WARN);
    snprintf(in_topic, sizeof in_topic, "%s-in", app_id);
    snprintf(changelog, sizeof changelog, "%s-counts-changelog", app_id);

    int nonempty = load_changelog();
    double rill_s, rill_cpu, raw_s, raw_cpu;
    long rill_rss;
    restore_with_rill(nonempty, &rill_s, &rill_cpu, &rill_rss);
    read_raw(&raw_s, &raw_cpu);
    long raw_rss = proc_status_kb("VmHWM");
    double rill_rps = (double)records / rill_s, raw_rps = (double)records / raw_s;
    printf("RESULT system=rill workload=restore records=%lld seconds=%.3f rps=%.0f "
           "cpu_seconds=%.3f rss_peak_kb=%ld\n",
           records, rill_s, rill_rps, rill_cpu, rill_rss);
    printf("RESULT system=raw workload=restore records=%lld seconds=%.3f rps=%.0f "
           "cpu_seconds=%.3f rss_peak_kb=%ld\n",
           records, raw_s, raw_rps, raw_cpu, raw_rss);
    printf("restore of %lld records over %d partitions: rill %.0f records/s (%.3f s), raw "
           "consumer %.0f records/s (%.3f s), rill/raw %.3f\n",
           records, partitions, rill_rps, rill_s, raw_rps, raw_s, rill_rps / raw_rps);
    fflush(stdout);

    if (!keep) {
        char err[512];
        const char *const kv[][2] = {{"bootstrap.servers", bootstrap}};
        rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_PRODUCER, bench_client_conf("bench-restore", kv, 1),
                                      err, sizeof err);
        if (rk) {
            const char *names[] = {in_topic, changelog};
            bench_delete_topics(rk, "bench-restore", bootstrap, names, 2);
            rd_kafka_destroy(rk);
        }
    }
    return 0;
}
