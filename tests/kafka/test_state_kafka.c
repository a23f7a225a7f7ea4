/*
 * State on a real Apache Kafka broker (scripts/kafka starts one; its address comes in
 * RILL_TEST_BOOTSTRAP): what the mock cluster cannot show because it does not keep topics across
 * apps the way a broker does.
 *
 * - A clean close writes a .checkpoint per task; wiping the state directory and starting again
 *   restores every store from its changelog (the restore listener hears the end of every store
 *   partition, records-restored counts the whole changelog) to exactly the same contents, and a
 *   restart over the kept directory restores (almost) nothing: the checkpoint is hit.
 * - Under at-least-once, an app killed with SIGKILL mid-stream (twice) and restarted over its
 *   state directory never counts a key below its true count; how many keys it counts above is
 *   printed.
 *
 * The killed app is this binary re-executed with "--child" (see child_main).
 */
#define _GNU_SOURCE /* nftw */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <rill/app.h>
#include <rill/dsl.h>

#include <librdkafka/rdkafka.h>

#include <fcntl.h>
#include <ftw.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "../common/clock.h"
#include "../common/child_app.h"
#include "../common/kafka_util.h"

#define PARTITIONS 4
#define KEYS       200
#define WINDOW_MS  10000

static const char *bootstrap;
static char run_id[32];

/* ---- topics ---- */

static void create_topic(const char *topic, int partitions)
{
    assert_int_equal(kafka_create_topic(bootstrap, topic, partitions), 0);
}

static void delete_topics(const char *const *topics, int n)
{
    kafka_delete_topics(bootstrap, topics, n);
}

/* The sum of the end offsets of topic's partitions: how many records it holds (none compacted
 * away yet: the broker compacts only closed segments). */
static int64_t topic_records(const char *topic, int partitions)
{
    rd_kafka_t *rk = kafka_admin(bootstrap);
    int64_t total = 0;
    for (int p = 0; p < partitions; p++) {
        int64_t lo, hi;
        assert_int_equal(rd_kafka_query_watermark_offsets(rk, topic, p, &lo, &hi, 10000), 0);
        total += hi - lo;
    }
    rd_kafka_destroy(rk);
    return total;
}

/* ---- input ---- */

static void key_of(char *buf, size_t size, int i)
{
    snprintf(buf, size, "key-%03d", i % KEYS);
}

/* Produces records [from, to): key key-<i % KEYS>, timestamps base + 10 i ms. */
static void produce(rill_producer_t *p, const char *topic, int from, int to, int64_t base)
{
    for (int i = from; i < to; i++) {
        char k[16], v[16];
        key_of(k, sizeof k, i);
        snprintf(v, sizeof v, "%d", i);
        assert_int_equal(
            rill_producer_send(p, topic, -1, rill_buf_str(k), rill_buf_str(v), base + 10 * i), 0);
    }
}

/* ---- the app: a count per key and a windowed count per key ---- */

static rill_topology_t *counting_topology(const char *input, bool windowed)
{
    rill_topology_t *topo = rill_topology_new();
    rill_source_opts_t so = {.key_serde = rill_serde_string(), .value_serde = rill_serde_string()};
    rill_grouped_t *g = rill_stream_group_by_key(rill_stream_from_topic(topo, input, &so), NULL);
    assert_non_null(g);
    rill_materialized_t counts = {.name = "counts", .backend = RILL_STORE_ROCKSDB};
    assert_non_null(rill_grouped_count(g, &counts));
    if (windowed) {
        /* Retention far beyond the input's time span: every window stays in the store, so the
         * checksum covers all of them. */
        rill_materialized_t wcounts = {
            .name = "wcounts", .backend = RILL_STORE_ROCKSDB, .retention_ms = 7 * 86400000LL};
        rill_windowed_stream_t *ws =
            rill_grouped_windowed_by(g, rill_windows_tumbling(WINDOW_MS, 3600000));
        assert_non_null(ws);
        assert_non_null(rill_windowed_count(ws, &wcounts));
    }
    assert_int_equal(rill_topology_build(topo, NULL, 0), 0);
    return topo;
}

/* The app's configuration; cache is statestore.cache.max.bytes (NULL: the default). */
/* cache is statestore.cache.max.bytes, "eos:" in front for exactly_once_v2. */
static rill_conf_t *counting_conf(const char *app_id, const char *state_dir, const char *cache)
{
    char err[512];
    rill_conf_t *conf = rill_conf_new();
    if (cache && strncmp(cache, "eos:", 4) == 0) {
        cache += 4;
        if (rill_conf_set(conf, "processing.guarantee", "exactly_once_v2", err, sizeof err))
            fail_msg("processing.guarantee: %s", err);
    }
    const char *kv[][2] = {
        {"application.id", app_id},
        {"bootstrap.servers", bootstrap},
        {"state.dir", state_dir},
        {"commit.interval.ms", "200"},
        {"statestore.cache.max.bytes", cache ? cache : "10485760"},
        /* A killed member leaves the group when its session times out: keep that short. */
        {"consumer.session.timeout.ms", "6000"},
        {"consumer.heartbeat.interval.ms", "1000"},
    };
    for (size_t i = 0; i < sizeof kv / sizeof kv[0]; i++)
        if (rill_conf_set(conf, kv[i][0], kv[i][1], err, sizeof err))
            fail_msg("%s=%s: %s", kv[i][0], kv[i][1], err);
    return conf;
}

/* What the restore listener heard. */
static struct {
    atomic_int starts, ends;
    atomic_llong records;
} heard;

static void on_restore_start(void *ud, const char *store, const char *topic, int32_t partition,
                             int64_t from_offset, int64_t end_offset)
{
    atomic_fetch_add(&heard.starts, 1);
}

static void on_restore_end(void *ud, const char *store, const char *topic, int32_t partition,
                           uint64_t total)
{
    atomic_fetch_add(&heard.ends, 1);
    atomic_fetch_add(&heard.records, (long long)total);
}

static rill_app_t *start_counting(rill_topology_t *topo, const char *app_id, const char *state_dir,
                                  const char *cache)
{
    char err[512];
    rill_app_t *app = rill_app_new(topo, counting_conf(app_id, state_dir, cache), err, sizeof err);
    if (!app)
        fail_msg("rill_app_new: %s", err);
    atomic_store(&heard.starts, 0);
    atomic_store(&heard.ends, 0);
    atomic_store(&heard.records, 0);
    rill_restore_listener_t l = {.on_start = on_restore_start, .on_end = on_restore_end};
    rill_app_set_restore_listener(app, &l);
    if (rill_app_start(app))
        fail_msg("rill_app_start: %s", rill_app_error(app, err, sizeof err));
    assert_int_equal(rill_app_wait_state(app, RILL_STATE_RUNNING, 60000), 0);
    return app;
}

/* Waits until the app has its tasks (queries see a task once it is restored). */
static void wait_tasks(rill_app_t *app, int tasks)
{
    for (int waited = 0; rill_app_metric(app, "tasks") < tasks; waited += 50) {
        if (waited > 60000)
            fail_msg("only %lld of %d tasks within 60 s", (long long)rill_app_metric(app, "tasks"),
                     tasks);
        sleep_ms(50);
    }
}

/* ---- reading every store ---- */

static uint64_t fnv(const void *data, size_t len, uint64_t h)
{
    const unsigned char *p = data;
    for (size_t i = 0; i < len; i++)
        h = (h ^ p[i]) * 1099511628211ULL;
    return h;
}

static uint64_t mix(uint64_t x)
{
    x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
    x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
    return x ^ (x >> 31);
}

/* An order-independent checksum of store entries (key, window start, value, timestamp), and the
 * sum of the counts they hold. */
typedef struct {
    uint64_t sum, xor;
    long entries;
    long long total;
    long long per_key[KEYS];
    bool bad_key;
} checksum_t;

static void add_entry(checksum_t *c, rill_buf_t key, int64_t start, rill_buf_t value, int64_t ts)
{
    uint64_t h = fnv(key.data, key.len, 14695981039346656037ULL);
    h = fnv(&start, sizeof start, h);
    h = fnv(value.data, value.len, h);
    h = mix(fnv(&ts, sizeof ts, h));
    c->sum += h;
    c->xor ^= h;
    c->entries++;
    long long count = value.len == 8 ? (long long)rill_decode_i64(value.data) : -1;
    c->total += count;
    int k;
    if (start == INT64_MIN && key.len == 7 && sscanf((const char *)key.data, "key-%3d", &k) == 1 &&
        k >= 0 && k < KEYS)
        c->per_key[k] = count;
    else if (start == INT64_MIN)
        c->bad_key = true;
}

static bool kv_row(void *ud, rill_buf_t key, rill_buf_t value, int64_t ts)
{
    add_entry(ud, key, INT64_MIN, value, ts);
    return true;
}

static bool window_row(void *ud, rill_buf_t key, int64_t start, rill_buf_t value, int64_t ts)
{
    add_entry(ud, key, start, value, ts);
    return true;
}

typedef struct {
    checksum_t counts, windows;
} state_sum_t;

static state_sum_t read_state(rill_app_t *app, bool windowed)
{
    state_sum_t s;
    memset(&s, 0, sizeof s);
    assert_int_equal(rill_app_query_all(app, "counts", kv_row, &s.counts), 0);
    if (windowed)
        assert_int_equal(rill_app_query_windows(app, "wcounts", (rill_buf_t){NULL, 0}, 0, INT64_MAX,
                                                window_row, &s.windows),
                         0);
    assert_false(s.counts.bad_key);
    return s;
}

static void print_state(const char *when, const state_sum_t *s)
{
    printf("  %-28s counts: %ld keys, sum %lld, checksum %016llx/%016llx; wcounts: %ld windows, "
           "sum %lld, checksum %016llx/%016llx\n",
           when, s->counts.entries, s->counts.total, (unsigned long long)s->counts.sum,
           (unsigned long long)s->counts.xor, s->windows.entries, s->windows.total,
           (unsigned long long)s->windows.sum, (unsigned long long)s->windows.xor);
    fflush(stdout);
}

static void assert_same_state(const state_sum_t *a, const state_sum_t *b)
{
    assert_int_equal(a->counts.entries, b->counts.entries);
    assert_int_equal(a->counts.total, b->counts.total);
    assert_true(a->counts.sum == b->counts.sum && a->counts.xor == b->counts.xor);
    assert_int_equal(a->windows.entries, b->windows.entries);
    assert_int_equal(a->windows.total, b->windows.total);
    assert_true(a->windows.sum == b->windows.sum && a->windows.xor == b->windows.xor);
}

/* ---- state directories ---- */

static int rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    return remove(path);
}

static void rm_rf(const char *path)
{
    nftw(path, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

static bool file_exists(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 && S_ISREG(st.st_mode);
}

/* Asserts that every task of sub-topology 0 has a .checkpoint file. */
/* Moves every offset of the tasks' checkpoints past the end of the changelogs (as after the
 * topics were deleted and made again). */
static void push_checkpoints_past_the_end(const char *state_dir, const char *app_id)
{
    char path[512], line[512], out[4096];
    for (int part = 0; part < PARTITIONS; part++) {
        snprintf(path, sizeof path, "%s/%s/0_%d/.checkpoint", state_dir, app_id, part);
        FILE *f = fopen(path, "r");
        assert_non_null(f);
        size_t len = 0;
        for (int n = 0; fgets(line, sizeof line, f); n++) {
            char topic[300];
            int p;
            long long offset;
            if (n >= 2 && sscanf(line, "%299s %d %lld", topic, &p, &offset) == 3)
                len += (size_t)snprintf(out + len, sizeof out - len, "%s %d %lld\n", topic, p,
                                        offset + 1000000);
            else
                len += (size_t)snprintf(out + len, sizeof out - len, "%s", line);
        }
        fclose(f);
        f = fopen(path, "w");
        assert_non_null(f);
        fputs(out, f);
        fclose(f);
    }
}

static void assert_checkpoints(const char *state_dir, const char *app_id, const char *after)
{
    char path[512];
    for (int part = 0; part < PARTITIONS; part++) {
        snprintf(path, sizeof path, "%s/%s/0_%d/.checkpoint", state_dir, app_id, part);
        if (!file_exists(path))
            fail_msg("no checkpoint file %s after %s and a clean close", path, after);
    }
}

/* Deletes the first record of every partition of topic (DeleteRecords), so its log no longer
 * starts at offset 0, as retention leaves a changelog of a windowed store. */
static void delete_heads(const char *topic, int partitions)
{
    rd_kafka_t *rk = kafka_admin(bootstrap);
    rd_kafka_topic_partition_list_t *list = rd_kafka_topic_partition_list_new(partitions);
    for (int p = 0; p < partitions; p++)
        rd_kafka_topic_partition_list_add(list, topic, p)->offset = 1;
    rd_kafka_DeleteRecords_t *del = rd_kafka_DeleteRecords_new(list);
    rd_kafka_queue_t *q = rd_kafka_queue_new(rk);
    rd_kafka_DeleteRecords(rk, &del, 1, NULL, q);
    rd_kafka_event_t *ev = rd_kafka_queue_poll(q, 30000);
    assert_non_null(ev);
    assert_int_equal(rd_kafka_event_error(ev), 0);
    const rd_kafka_topic_partition_list_t *res =
        rd_kafka_DeleteRecords_result_offsets(rd_kafka_event_DeleteRecords_result(ev));
    for (int i = 0; res && i < res->cnt; i++)
        assert_int_equal(res->elems[i].err, 0);
    rd_kafka_event_destroy(ev);
    rd_kafka_queue_destroy(q);
    rd_kafka_DeleteRecords_destroy(del);
    rd_kafka_topic_partition_list_destroy(list);
    rd_kafka_destroy(rk);
}

static void make_state_dir(char *buf, size_t size, const char *what)
{
    snprintf(buf, size, "/tmp/rill-test-state-%s-%s", what, run_id);
    rm_rf(buf);
}

/* ---- a. clean close, wipe, restore; restart over the kept directory ---- */

static void test_wipe_restores_the_same_state(void **state)
{
    const int n = 20000;
    char in[96], app_id[96], state_dir[256], cl_counts[160], cl_windows[160];
    snprintf(in, sizeof in, "state-in-%s", run_id);
    snprintf(app_id, sizeof app_id, "state-app-%s", run_id);
    snprintf(cl_counts, sizeof cl_counts, "%s-counts-changelog", app_id);
    snprintf(cl_windows, sizeof cl_windows, "%s-wcounts-changelog", app_id);
    make_state_dir(state_dir, sizeof state_dir, "wipe");
    double t0 = now_s();
    create_topic(in, PARTITIONS);
    char err[256];
    rill_producer_t *p = rill_producer_new(bootstrap, err, sizeof err);
    assert_non_null(p);
    /* Timestamps end about now, so the broker's time retention leaves the input alone. */
    produce(p, in, 0, n, wall_ms() - 10LL * n);
    assert_int_equal(rill_producer_flush(p, 30000), 0);
    rill_producer_destroy(p);
    rill_topology_t *topo = counting_topology(in, true);

    /* 1. Process everything; read every store. */
    rill_app_t *app = start_counting(topo, app_id, state_dir, NULL);
    kafka_wait_committed_at_end(bootstrap, app_id, in, PARTITIONS, 60000);
    state_sum_t first;
    for (int waited = 0;; waited += 100) {
        first = read_state(app, true);
        if (first.counts.total >= n && first.windows.total >= n)
            break;
        if (waited > 30000)
            fail_msg("the stores hold %lld counts and %lld windowed counts of %d records",
                     first.counts.total, first.windows.total, n);
        sleep_ms(100);
    }
    print_state("processed:", &first);
    assert_int_equal(first.counts.entries, KEYS);
    for (int k = 0; k < KEYS; k++)
        assert_true(first.counts.per_key[k] >= n / KEYS);
    if (first.counts.total != n)
        printf("  (at-least-once: %lld counted for %d records)\n", first.counts.total, n);
    assert_int_equal(rill_app_close(app, 30000), 0);
    rill_app_destroy(app);

    /* 2. The clean close checkpointed every task. */
    assert_checkpoints(state_dir, app_id, "processing");
    int64_t changelog =
        topic_records(cl_counts, PARTITIONS) + topic_records(cl_windows, PARTITIONS);
    printf("  changelogs hold %lld records (%lld counts, %lld windowed counts)\n",
           (long long)changelog, (long long)topic_records(cl_counts, PARTITIONS),
           (long long)topic_records(cl_windows, PARTITIONS));

    /* 3. Wipe the state directory: every store is restored from its changelog. */
    rm_rf(state_dir);
    double r0 = now_s();
    app = start_counting(topo, app_id, state_dir, NULL);
    wait_tasks(app, PARTITIONS);
    for (int waited = 0; atomic_load(&heard.ends) < 2 * PARTITIONS; waited += 50) {
        if (waited > 60000)
            fail_msg("the restore listener heard the end of %d of %d store partitions",
                     atomic_load(&heard.ends), 2 * PARTITIONS);
        sleep_ms(50);
    }
    double restore_s = now_s() - r0;
    int64_t restored = rill_app_metric(app, "records-restored");
    printf("  after wiping: restored %lld records (listener: %d starts, %d ends, %lld records) "
           "in %.2f s from start to running\n",
           (long long)restored, atomic_load(&heard.starts), atomic_load(&heard.ends),
           (long long)atomic_load(&heard.records), restore_s);
    assert_true(restored > 0);
    assert_int_equal(restored, changelog);
    assert_int_equal(atomic_load(&heard.records), restored);
    state_sum_t second = read_state(app, true);
    print_state("restored after wiping:", &second);
    assert_same_state(&first, &second);
    assert_int_equal(rill_app_close(app, 30000), 0);
    rill_app_destroy(app);
    /* The restored stores are checkpointed too, or the next start would restore them again. */
    assert_checkpoints(state_dir, app_id, "a restore");

    /* 4. Restart over the kept directory: the checkpoint is hit, (almost) nothing to restore. */
    app = start_counting(topo, app_id, state_dir, NULL);
    wait_tasks(app, PARTITIONS);
    int64_t restored_again = rill_app_metric(app, "records-restored");
    printf("  restart without wiping: restored %lld records (a full restore: %lld)\n",
           (long long)restored_again, (long long)changelog);
    assert_true(restored_again >= 0 && restored_again < changelog);
    state_sum_t third = read_state(app, true);
    print_state("restarted over the checkpoint:", &third);
    assert_same_state(&first, &third);
    assert_int_equal(rill_app_close(app, 30000), 0);
    rill_app_destroy(app);

    /* 5. Checkpoints past the changelogs' ends (the topics were made again): each store is wiped
     * and restored in full, to the same state. */
    push_checkpoints_past_the_end(state_dir, app_id);
    app = start_counting(topo, app_id, state_dir, NULL);
    wait_tasks(app, PARTITIONS);
    int64_t restored_past = rill_app_metric(app, "records-restored");
    printf("  checkpoints past the end: restored %lld records (a full restore: %lld)\n",
           (long long)restored_past, (long long)changelog);
    assert_int_equal(restored_past, changelog);
    state_sum_t fourth = read_state(app, true);
    assert_same_state(&first, &fourth);
    assert_int_equal(rill_app_close(app, 30000), 0);
    rill_app_destroy(app);

    /* 6. A windowed store's changelog (compact,delete) whose head retention has deleted, and no
     * local state: each store restores what its changelog still holds, from where the log
     * starts now, and runs. (The brokers refuse DeleteRecords on the compacted-only one.) */
    delete_heads(cl_windows, PARTITIONS);
    int64_t left = topic_records(cl_counts, PARTITIONS) + topic_records(cl_windows, PARTITIONS);
    assert_int_equal(left, changelog - PARTITIONS);
    rm_rf(state_dir);
    app = start_counting(topo, app_id, state_dir, NULL);
    wait_tasks(app, PARTITIONS);
    int64_t restored_headless = rill_app_metric(app, "records-restored");
    printf("  changelogs without their first records, state wiped: restored %lld records (the "
           "changelogs hold %lld)\n",
           (long long)restored_headless, (long long)left);
    assert_int_equal(restored_headless, left);
    assert_int_equal(rill_app_close(app, 30000), 0);
    rill_app_destroy(app);

    rill_topology_unref(topo);
    const char *topics[] = {in, cl_counts, cl_windows};
    delete_topics(topics, 3);
    rm_rf(state_dir);
    printf("  (%.1f s)\n", now_s() - t0);
}

/* ---- b. SIGKILL under at-least-once ---- */

/* The child: runs the counting app until SIGTERM, then closes cleanly. argv: --child LABEL FD
 * BOOTSTRAP APP_ID INPUT STATE_DIR CACHE; it says on FD when it runs (tests/common/child_app.h). */
static int child_main(char **argv)
{
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &set, NULL); /* the stream threads inherit the mask */
    const char *label = argv[2];
    int ready_fd = atoi(argv[3]);
    bootstrap = argv[4];
    const char *app_id = argv[5], *input = argv[6], *state_dir = argv[7], *cache = argv[8];
    rill_set_log_cb(NULL, NULL, getenv("RILL_DEBUG") ? RILL_LOG_DEBUG : RILL_LOG_WARN);
    rill_topology_t *topo = counting_topology(input, false);
    char err[512];
    rill_app_t *app = rill_app_new(topo, counting_conf(app_id, state_dir, cache), err, sizeof err);
    if (!app || rill_app_start(app)) {
        fprintf(stderr, "child %s: %s\n", label, app ? rill_app_error(app, err, sizeof err) : err);
        return 1;
    }
    if (rill_app_wait_state(app, RILL_STATE_RUNNING, 60000) == 0) {
        printf("  child %s (pid %d): running, records-restored %lld\n", label, (int)getpid(),
               (long long)rill_app_metric(app, "records-restored"));
        fflush(stdout);
        if (child_app_ready(ready_fd, (long long)rill_app_metric(app, "records-restored")))
            return 1;
    } else {
        close(ready_fd);
    }
    int sig;
    sigwait(&set, &sig);
    long long processed = (long long)rill_app_metric(app, "records-processed");
    int rc = rill_app_close(app, 30000);
    printf("  child %s: closed (%s) after processing %lld records\n", label,
           rc ? "timed out" : "clean", processed);
    fflush(stdout);
    bool failed = rill_app_state(app) == RILL_STATE_ERROR;
    rill_app_destroy(app);
    rill_topology_unref(topo);
    return rc || failed ? 1 : 0;
}

/* Starts this binary as a child app: "--child LABEL FD BOOTSTRAP APP_ID INPUT STATE_DIR CACHE". */
static child_app_t spawn_child(const char *app_id, const char *input, const char *state_dir,
                               const char *cache, const char *label)
{
    char log[512];
    snprintf(log, sizeof log, "%s/state-child-%s-%s.log",
             getenv("RILL_TEST_LOG_DIR") ? getenv("RILL_TEST_LOG_DIR") : "/tmp", run_id, label);
    const char *args[] = {bootstrap, app_id, input, state_dir, cache, NULL};
    return child_app_spawn(label, log, args);
}

/* The background producer: chunks of records, paced, until told to stop, so that input flows
 * while the app is killed and restarted. Record i has key key-<i % KEYS>; chunks are multiples
 * of KEYS, so every key has produced / KEYS records. */
typedef struct {
    const char *topic;
    int chunk, pause_ms;
    int64_t base;
    atomic_bool stop;
    atomic_int produced;
    int rc;
} feeder_t;

static void *feed(void *arg)
{
    feeder_t *f = arg;
    char err[256];
    rill_producer_t *p = rill_producer_new(bootstrap, err, sizeof err);
    if (!p) {
        f->rc = -1;
        return NULL;
    }
    for (int i = 0; !atomic_load(&f->stop) && f->rc == 0; i += f->chunk) {
        for (int j = i; j < i + f->chunk && f->rc == 0; j++) {
            char k[16], v[16];
            key_of(k, sizeof k, j);
            snprintf(v, sizeof v, "%d", j);
            f->rc = rill_producer_send(p, f->topic, -1, rill_buf_str(k), rill_buf_str(v),
                                       f->base + 10 * j);
        }
        if (f->rc == 0)
            f->rc = rill_producer_flush(p, 30000);
        if (f->rc == 0)
            atomic_store(&f->produced, i + f->chunk);
        sleep_ms(f->pause_ms);
    }
    rill_producer_destroy(p);
    return NULL;
}

/* Waits until group's commits on topic reach at_least; returns them. Polls often, so that the
 * kill that follows lands soon after a commit. */
static int64_t wait_committed(rd_kafka_t *reader, const char *topic, int64_t at_least,
                              int timeout_ms)
{
    int64_t c = 0;
    for (int waited = 0; (c = kafka_committed_sum(reader, &topic, 1, PARTITIONS)) < at_least;
         waited += 20) {
        if (waited > timeout_ms)
            fail_msg("only %lld offsets committed of the %lld awaited within %d ms", (long long)c,
                     (long long)at_least, timeout_ms);
        sleep_ms(20);
    }
    return c;
}

/* SIGKILLs the child at a random moment between two commits. */
static void kill_child(child_app_t *c, const char *label, int64_t committed, int produced)
{
    sleep_ms(20 + rand() % 180);
    child_app_kill(c);
    printf("  SIGKILL child %s: %lld offsets committed shortly before, %d records produced so "
           "far\n",
           label, (long long)committed, produced);
}

/* Kills the counting app twice mid-stream (statestore.cache.max.bytes = cache; "eos:" in front:
 * exactly_once_v2), lets it finish, and checks no key is counted below its number of records
 * (exactly-once: every key counted exactly, and a restart restores only the tail of the
 * changelog that the stores had not committed). */
static void sigkill_twice(const char *cache)
{
    const bool eos = strncmp(cache, "eos:", 4) == 0;
    char in[96], app_id[96], state_dir[256], cl_counts[160], what[32];
    snprintf(in, sizeof in, "kill%s-in-%s", eos ? "eos" : cache, run_id);
    snprintf(app_id, sizeof app_id, "kill%s-app-%s", eos ? "eos" : cache, run_id);
    snprintf(cl_counts, sizeof cl_counts, "%s-counts-changelog", app_id);
    snprintf(what, sizeof what, "kill%s", eos ? "eos" : cache);
    make_state_dir(state_dir, sizeof state_dir, what);
    double t0 = now_s();
    create_topic(in, PARTITIONS);
    rd_kafka_t *reader = kafka_offsets_reader(bootstrap, app_id);

    /* Input flows, about 4,000 records/s, until the second kill, so that each kill lands
     * mid-stream, with records processed since the last commit. */
    feeder_t f = {.topic = in, .chunk = KEYS, .pause_ms = 40, .base = wall_ms() - 3600000};
    atomic_store(&f.stop, false);
    atomic_store(&f.produced, 0);
    pthread_t feeder;
    assert_int_equal(pthread_create(&feeder, NULL, feed, &f), 0);

    /* Kill the app twice, each time once it has committed some records of its own. A restarted
     * member waits for the killed one's session (6 s) to time out. */
    child_app_t child = spawn_child(app_id, in, state_dir, cache, "1");
    child_app_wait_running(&child);
    int64_t c = wait_committed(reader, in, 3000, 60000);
    kill_child(&child, "1", c, atomic_load(&f.produced));
    long long length = (long long)topic_records(cl_counts, PARTITIONS);
    child = spawn_child(app_id, in, state_dir, cache, "2");
    long long restored = child_app_wait_running(&child);
    printf("  after the kill: restored %lld records of a changelog of %lld (%d keys)\n", restored,
           length, KEYS);
    /* Exactly-once: the stores hold what they had committed, which is at most one transaction
     * (each key once) behind the changelog. At-least-once: no checkpoint since the first run's
     * start, so the changelog in full. */
    if (eos)
        assert_true(restored <= KEYS);
    c = wait_committed(reader, in, c + 3000, 60000);
    kill_child(&child, "2", c, atomic_load(&f.produced));
    atomic_store(&f.stop, true);
    pthread_join(feeder, NULL);
    assert_int_equal(f.rc, 0);
    const int n = atomic_load(&f.produced);

    /* The last run finishes the input and closes cleanly. */
    length = (long long)topic_records(cl_counts, PARTITIONS);
    child = spawn_child(app_id, in, state_dir, cache, "3");
    restored = child_app_wait_running(&child);
    printf("  after the second kill: restored %lld records of a changelog of %lld\n", restored,
           length);
    if (eos)
        assert_true(restored <= KEYS);
    kafka_wait_committed_at_end(bootstrap, app_id, in, PARTITIONS, 60000);
    child_app_stop(&child);
    rd_kafka_destroy(reader);

    /* A last instance over the same state directory answers the queries. */
    rill_topology_t *topo = counting_topology(in, false);
    rill_app_t *app = start_counting(topo, app_id, state_dir, cache);
    wait_tasks(app, PARTITIONS);
    state_sum_t s = read_state(app, false);
    int above = 0;
    long long excess = 0;
    for (int k = 0; k < KEYS; k++) {
        long long truth = n / KEYS;
        if (s.counts.per_key[k] < truth)
            fail_msg("key-%03d counted %lld, below its %lld records: a lost update", k,
                     s.counts.per_key[k], truth);
        if (eos && s.counts.per_key[k] != truth)
            fail_msg("key-%03d counted %lld under exactly-once, for %lld records", k,
                     s.counts.per_key[k], truth);
        if (s.counts.per_key[k] > truth) {
            above++;
            excess += s.counts.per_key[k] - truth;
        }
    }
    printf("  cache %s bytes, after 2 kills: %ld keys, %lld counted for %d records; %d of %d keys "
           "above their "
           "true count (%lld extra counts), none below; last instance restored %lld records\n",
           cache, s.counts.entries, s.counts.total, n, above, KEYS, excess,
           (long long)rill_app_metric(app, "records-restored"));
    assert_int_equal(s.counts.entries, KEYS);
    assert_int_equal(rill_app_close(app, 30000), 0);
    rill_app_destroy(app);
    rill_topology_unref(topo);
    const char *topics[] = {in, cl_counts};
    delete_topics(topics, 2);
    rm_rf(state_dir);
    printf("  (%.1f s)\n", now_s() - t0);
}

/* With the record cache, updates reach the changelog only at commit: a kill loses the cached
 * updates and the offsets together, so recounting is rare. */
static void test_sigkill_cached_never_counts_below_the_truth(void **state)
{
    sigkill_twice("10485760");
}

/* Without it, every update reaches the changelog at once, ahead of the offsets: a kill makes
 * the restarted app count again what the changelog already holds. */
static void test_sigkill_uncached_never_counts_below_the_truth(void **state)
{
    sigkill_twice("0");
}

/* Under exactly-once every key is counted exactly, and a restart after a kill restores only
 * what the stores had not committed, not the whole changelog. */
static void test_sigkill_exactly_once_counts_exactly(void **state)
{
    sigkill_twice("eos:10485760");
}

int main(int argc, char **argv)
{
    if (argc == 9 && strcmp(argv[1], "--child") == 0)
        return child_main(argv);
    if (!(bootstrap = kafka_test_bootstrap("test_state_kafka")))
        return 0;
    snprintf(run_id, sizeof run_id, "%ld-%d", (long)time(NULL), (int)getpid());
    srand((unsigned)getpid());
    rill_set_log_cb(NULL, NULL, getenv("RILL_DEBUG") ? RILL_LOG_DEBUG : RILL_LOG_WARN);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_wipe_restores_the_same_state),
        cmocka_unit_test_teardown(test_sigkill_cached_never_counts_below_the_truth,
                                  child_app_teardown),
        cmocka_unit_test_teardown(test_sigkill_uncached_never_counts_below_the_truth,
                                  child_app_teardown),
        cmocka_unit_test_teardown(test_sigkill_exactly_once_counts_exactly, child_app_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
