/*
 * bench-stateful: the stateful hot path without a broker. One task runs a windowed aggregation
 * over generated readings, with RocksDB stores and the record cache on (statestore.cache.max.bytes
 * at its default, 10 MB), and commits every --commit-every records as the engine does: the record
 * cache is written through (rill__task_flush), and once 10,000 changelog records have accumulated
 * the stores are flushed and checkpointed (rill__task_checkpoint). Outputs and changelog records go
 * to a collector that counts them and keeps nothing.
 *
 * Workloads (--workload):
 *   hopping   windows of 10 s advancing every 1 s (each record updates 10 windows), the sum of
 *             int64 readings per key and window (int64 serde, as Kafka's LongSerde);
 *   tumbling  windows of 1 s, a count per key and window (windowed-count of WORKLOADS.md).
 * Keys are "sensor-NNNNN" (--keys, 20,000 by default) in a pseudo-random order; record times
 * advance by 1,000 / --rate ms a record (10,000 records per second of record time by default).
 *
 * The readings are int64, not JSON: JSON decoding is another part's work (serde/), and this
 * measures what the stateful path itself costs.
 *
 * It does not use the topology test driver (include/rill/test_driver.h): that driver writes every
 * cache through after each record (as Kafka Streams' does), keeps every output record, and finds
 * a piped record's offset by scanning the topic, so it would measure neither caching nor flat
 * memory. It drives the task as the engine does, through the task runtime of processor.h.
 *
 * Prints records/s, CPU µs per record, cache and changelog counters and peak RSS (getrusage).
 * For callgrind, the measured records run inside measured_run() after --warmup records:
 *   valgrind --tool=callgrind --toggle-collect=measured_run bench-stateful --records 20000
 * and Ir / records is the cost per record in steady state.
 */
#include "bench_common.h"
#include "stateful_topo.h"

#include <rill/statestore.h>

#include <inttypes.h>

enum { KEY_LEN = 12 };

static struct {
    const char *workload;
    long records, warmup, keys, rate, commit_every;
    const char *state_dir;
    bool debug_metrics; /* --debug-metrics on: each store operation timed (metrics.recording.level)
                         */
} o = {"hopping", 1000000, 20000, 20000, 10000, 10000, NULL, false};

/* The collector: counts what sinks and changelogs send, keeps nothing. */
static struct {
    uint64_t outputs, changelog;
} sent;

static int count_send(void *opaque, const char *topic, int32_t partition, const rill_buf_t *key,
                      const rill_buf_t *value, int64_t timestamp, const rill_headers_t *headers)
{
    (void)opaque, (void)partition, (void)key, (void)value, (void)timestamp, (void)headers;
    if (strcmp(topic, "out") == 0)
        sent.outputs++;
    else
        sent.changelog++;
    return 0;
}

static int32_t one_partition(void *opaque, const char *topic)
{
    (void)opaque, (void)topic;
    return 1;
}

typedef struct {
    rill_task_t *task;
    int source;
    uint64_t rng;
    long next;     /* records made so far */
    char *keys;    /* o.keys keys of KEY_LEN bytes, made up front */
    int64_t *ends; /* changelog end offsets for checkpoints */
} gen_t;

static int commit(gen_t *g)
{
    int rc = rill__task_flush(g->task);
    if (rc)
        return rc;
    if (rill__task_changelog_writes(g->task) < 10000)
        return 0;
    for (size_t i = 0; i < rill__task_changelog_count(g->task); i++)
        g->ends[i] = (int64_t)sent.changelog; /* one changelog: its length is its end */
    return rill__task_checkpoint(g->task, g->ends);
}

/* Processes n records, committing every commit_every. Not static, not inlined: callgrind's
 * --toggle-collect names it. */
__attribute__((noinline)) int measured_run(gen_t *g, long n);
__attribute__((noinline)) int measured_run(gen_t *g, long n)
{
    for (long i = 0; i < n; i++, g->next++) {
        g->rng = g->rng * 6364136223846793005ULL + 1442695040888963407ULL;
        uint64_t k = (g->rng >> 33) % (uint64_t)o.keys, reading = g->rng >> 50;
        uint8_t be[8];
        for (int b = 0; b < 8; b++)
            be[b] = (uint8_t)(reading >> (56 - 8 * b));
        rill_record_t raw = {
            .key = {g->keys + k * KEY_LEN, KEY_LEN},
            .value = {be, 8},
            .timestamp = 1700000000000 + g->next * 1000 / o.rate,
            .topic = "readings",
            .partition = 0,
            .offset = g->next,
        };
        int rc = rill__task_process(g->task, g->source, &raw);
        if (!rc && (g->next + 1) % o.commit_every == 0)
            rc = commit(g);
        if (rc)
            return rc;
    }
    return 0;
}

static void usage(void)
{
    fprintf(stderr, "usage: bench-stateful [--workload hopping|tumbling] [--records N] "
                    "[--warmup N] [--keys N] [--rate records-per-s] [--commit-every N] "
                    "[--state-dir DIR] [--debug-metrics on|off]\n");
    exit(2);
}

int main(int argc, char **argv)
{
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (i + 1 >= argc)
            usage();
        const char *v = argv[++i];
        if (strcmp(a, "--workload") == 0)
            o.workload = v;
        else if (strcmp(a, "--records") == 0)
            o.records = atol(v);
        else if (strcmp(a, "--warmup") == 0)
            o.warmup = atol(v);
        else if (strcmp(a, "--keys") == 0)
            o.keys = atol(v);
        else if (strcmp(a, "--rate") == 0)
            o.rate = atol(v);
        else if (strcmp(a, "--commit-every") == 0)
            o.commit_every = atol(v);
        else if (strcmp(a, "--state-dir") == 0)
            o.state_dir = v;
        else if (strcmp(a, "--debug-metrics") == 0)
            o.debug_metrics = strcmp(v, "on") == 0;
        else
            usage();
    }
    if (strcmp(o.workload, "hopping") && strcmp(o.workload, "tumbling"))
        usage();
    if (o.keys <= 0 || o.rate <= 0 || o.commit_every <= 0 || o.records < 0 || o.warmup < 0)
        usage();
    char dir[256];
    snprintf(dir, sizeof dir, "%s/bench-stateful-XXXXXX", o.state_dir ? o.state_dir : "/tmp");
    if (!mkdtemp(dir)) {
        perror("mkdtemp");
        return 1;
    }
    char err[512];
    rill_topology_t *topo = stateful_topology("readings", strcmp(o.workload, "tumbling") == 0);
    if (rill_topology_build(topo, err, sizeof err)) {
        fprintf(stderr, "bench-stateful: %s\n", err);
        return 1;
    }
    rill_store_env_t *env_store = rill_store_env_new(64u << 20, err, sizeof err);
    if (!env_store) {
        fprintf(stderr, "bench-stateful: %s\n", err);
        return 1;
    }
    rill_task_env_t env = {
        .application_id = "bench-stateful",
        .collector = {count_send, one_partition, NULL},
        .state_dir = dir,
        .store_env = env_store,
        .default_store_backend = RILL_STORE_ROCKSDB,
        .cache_max_bytes = 10u << 20,
        .debug_metrics = o.debug_metrics, /* metrics.recording.level DEBUG: the stores timed */
    };
    gen_t g = {.rng = 42};
    int st = 0;
    if (rill__topology_find_source(topo, env.application_id, "readings", &st, &g.source)) {
        fprintf(stderr, "bench-stateful: no source\n");
        return 1;
    }
    g.task = rill__task_new(topo, st, 0, &env, err, sizeof err);
    if (!g.task) {
        fprintf(stderr, "bench-stateful: %s\n", err);
        return 1;
    }
    g.ends = calloc(rill__task_changelog_count(g.task) + 1, sizeof *g.ends);
    g.keys = malloc((size_t)o.keys * KEY_LEN + 1);
    if (!g.ends || !g.keys || o.keys > 99999)
        usage();
    for (long k = 0; k < o.keys; k++)
        snprintf(g.keys + k * KEY_LEN, KEY_LEN + 1, "sensor-%05d", (int)(k % 100000));
    int rc = measured_run(&g, o.warmup);
    double t0 = now_s(), c0 = cpu_s();
    if (!rc)
        rc = measured_run(&g, o.records);
    if (!rc)
        rc = rill__task_flush(g.task);
    double t1 = now_s(), c1 = cpu_s();
    if (rc) {
        fprintf(stderr, "bench-stateful: %s\n", rill__task_error(g.task));
        return 1;
    }
    const rill_task_metrics_t *m = rill__task_metrics(g.task);
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    double n = o.records ? (double)o.records : 1;
    printf("workload=%s records=%ld warmup=%ld keys=%ld rate=%ld commit_every=%ld\n", o.workload,
           o.records, o.warmup, o.keys, o.rate, o.commit_every);
    printf("records/s=%.0f cpu_us/record=%.2f outputs=%" PRIu64 " changelog=%" PRIu64
           " cache_hits=%" PRIu64 " cache_flushed=%" PRIu64 " peak_rss_mb=%.1f\n",
           n / (t1 - t0), (c1 - c0) * 1e6 / n, sent.outputs, sent.changelog, m->cache_hits,
           m->cache_flushed, (double)ru.ru_maxrss / 1024.0);
    rill__task_destroy(g.task);
    rill_topology_unref(topo);
    rill_store_env_destroy(env_store);
    rill_store_wipe(dir);
    free(g.ends);
    free(g.keys);
    return 0;
}
