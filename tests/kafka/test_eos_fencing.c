/*
 * Zombie fencing under exactly_once_v2, on a real Apache Kafka broker (scripts/kafka starts one;
 * its address comes in RILL_TEST_BOOTSTRAP).
 *
 * The issue: "when a second instance with the same application.id takes over partitions, the old
 * one's late writes never become visible to read_committed readers." Rill's two instances have
 * different transactional ids (<application.id>-<process id>-<thread>), so the broker cannot
 * fence the old producer by its id: what fences it is the consumer group generation (EOS v2,
 * KIP-447), carried by the group metadata sent with the offsets of each transaction.
 *
 * The test makes a real zombie and counts what readers see:
 *   1. Instance A (one stream thread) tags each input id with "@A" into an output topic and
 *      counts records per key into a table written to a counts topic; it processes a first
 *      batch and commits it.
 *   2. A second batch comes. A's processor forwards BLOCK_AT records of it, inside the open
 *      transaction, then blocks on a gate the test holds (not a sleep). The test waits until a
 *      read_uncommitted reader sees those records in the log.
 *   3. Instance B (same application.id, its own state directory, so another transactional id)
 *      starts. A does not poll for max.poll.interval.ms (6 s) and leaves the group; B takes all
 *      four partitions, restores the counts and processes the whole second batch; the test
 *      waits until the group's committed offsets are at the end of the input.
 *   4. The test opens the gate: A, now a zombie, writes the record it held once more (tagged
 *      "@Z", a late write), and blocks again until the test sees that late write in the log
 *      (read_uncommitted; in the second run below the broker refuses it instead). Then A goes
 *      on and tries to commit: its transaction must be aborted (A then rejoins) or A must stop
 *      in ERROR.
 *   5. Once no transaction is open on the output topics, a plain librdkafka read_committed
 *      reader sees every input id exactly once, the first batch tagged A and the second tagged
 *      B, and the right count for every key; the group's offsets are still at the end. A
 *      read_uncommitted reader sees A's zombie records (at least BLOCK_AT "@A" records of the
 *      second batch, and the "@Z" late write): the zombie really wrote, and the writes were
 *      aborted, not missing.
 *
 * It runs twice:
 * - test_zombie_fenced_by_group_generation raises producer.transaction.timeout.ms to 60 s, so
 *   that the broker does not abort A's transaction on its own while the test holds A (about
 *   10 s): what must stop the zombie is the group generation. The broker refuses A's offsets
 *   (unknown member), and A aborts, rewinds and rejoins.
 * - test_zombie_fenced_by_transaction_timeout keeps Rill's transaction.timeout.ms (10 s) and holds
 *   A until the broker has aborted A's transaction itself (bumping its producer epoch): then the
 *   partition leaders refuse A's late write (read_uncommitted sees none of it) and A's commit
 *   fails as fenced (fatal): A makes a new producer, rewinds and rejoins.
 */
#define _GNU_SOURCE /* nftw */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <rill/app.h>
#include <rill/dsl.h>

#include <librdkafka/rdkafka.h>

#include <errno.h>
#include <ftw.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "../common/clock.h"
#include "../common/kafka_util.h"

#define PARTITIONS 4
#define KEYS       20
#define FIRST      400 /* ids [0, FIRST): processed and committed by A */
#define SECOND     400 /* ids [FIRST, TOTAL): A blocks in their transaction; B processes them */
#define TOTAL      (FIRST + SECOND)
#define BLOCK_AT   50 /* A blocks after forwarding this many records of the second batch */

static const char *bootstrap;
static char run_id[32];
static double t_start;

static void step(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void step(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    printf("  [%6.2f s] ", now_s() - t_start);
    vprintf(fmt, ap);
    printf("\n");
    fflush(stdout);
    va_end(ap);
}

/* ---- the instances, and the gate that holds A ---- */

/* What a processor knows of its instance. A's gate: the processor sets stage (1: blocked in the
 * open transaction, 2: wrote its late record and waits again), the test sets go (1: let A write
 * its late record, 2: let A go on). */
typedef struct {
    char tag; /* written after each id: which instance processed it */
    bool blocks;
    pthread_mutex_t lock;
    pthread_cond_t cond;
    int second_seen; /* records of the second batch forwarded */
    int stage, go;
    atomic_bool released; /* go >= 1: what A writes from now on is a zombie's */
    atomic_bool thread_known;
    pthread_t thread; /* the stream thread that runs the processor */
} instance_t;

static instance_t inst_a = {.tag = 'A',
                            .blocks = true,
                            .lock = PTHREAD_MUTEX_INITIALIZER,
                            .cond = PTHREAD_COND_INITIALIZER};
static instance_t inst_b = {
    .tag = 'B', .lock = PTHREAD_MUTEX_INITIALIZER, .cond = PTHREAD_COND_INITIALIZER};

/* Called by A's processor: says it reached stage, waits until the test lets it go past it. */
static void gate_wait(instance_t *in, int stage)
{
    pthread_mutex_lock(&in->lock);
    in->stage = stage;
    pthread_cond_broadcast(&in->cond);
    while (in->go < stage)
        pthread_cond_wait(&in->cond, &in->lock);
    pthread_mutex_unlock(&in->lock);
}

/* Called by the test: waits (bounded) until A's processor reached stage. */
static void gate_wait_stage(instance_t *in, int stage, int timeout_ms, const char *what)
{
    struct timespec deadline;
    clock_gettime(CLOCK_REALTIME, &deadline);
    deadline.tv_sec += timeout_ms / 1000;
    pthread_mutex_lock(&in->lock);
    int rc = 0;
    while (in->stage < stage && rc != ETIMEDOUT)
        rc = pthread_cond_timedwait(&in->cond, &in->lock, &deadline);
    bool reached = in->stage >= stage;
    int seen = in->second_seen;
    pthread_mutex_unlock(&in->lock);
    if (!reached)
        fail_msg("A did not %s within %d ms (%d records of the second batch forwarded)", what,
                 timeout_ms, seen);
}

/* Called by the test: lets A's processor go past stage. */
static void gate_open(instance_t *in, int stage)
{
    pthread_mutex_lock(&in->lock);
    if (in->go < stage)
        in->go = stage;
    if (stage >= 1)
        atomic_store(&in->released, true);
    pthread_cond_broadcast(&in->cond);
    pthread_mutex_unlock(&in->lock);
}

static int tag_init(rill_context_t *ctx, void *arg, void **state)
{
    *state = arg;
    return 0;
}

static int forward_tagged(rill_context_t *ctx, const rill_record_t *rec, int id, char tag)
{
    rill_record_t out = *rec;
    out.value = rill_arena_printf(rill_context_arena(ctx), "%d@%c", id, tag);
    return rill_context_forward(ctx, &out);
}

/* Forwards "<id>@<tag>". In A, after BLOCK_AT records of the second batch, blocks with them in
 * the open transaction; once let go (a zombie by then), writes the held record again tagged Z
 * and blocks until the test lets it go on (once it has looked for that late write in the log). */
static int tag_process(rill_context_t *ctx, void *state, const rill_record_t *rec)
{
    instance_t *in = state;
    if (!atomic_load(&in->thread_known)) {
        in->thread = pthread_self();
        atomic_store(&in->thread_known, true);
    }
    char text[32];
    snprintf(text, sizeof text, "%.*s", (int)rec->value.len, (const char *)rec->value.data);
    int id = atoi(text);
    int rc = forward_tagged(ctx, rec, id, atomic_load(&in->released) ? 'Z' : in->tag);
    if (rc || !in->blocks || id < FIRST)
        return rc;
    pthread_mutex_lock(&in->lock);
    bool hold = ++in->second_seen == BLOCK_AT;
    pthread_mutex_unlock(&in->lock);
    if (!hold)
        return 0;
    gate_wait(in, 1);
    rc = forward_tagged(ctx, rec, id, 'Z');
    gate_wait(in, 2);
    return rc;
}

static const rill_processor_ops tag_ops = {.init = tag_init, .process = tag_process};

/* input -> tag -> output, and input -> count per key (store "counts") -> counts topic. */
static rill_topology_t *fencing_topology(const char *in, const char *out, const char *counts_topic,
                                         instance_t *inst)
{
    rill_topology_t *topo = rill_topology_new();
    assert_non_null(topo);
    rill_source_opts_t so = {.key_serde = rill_serde_string(), .value_serde = rill_serde_string()};
    rill_stream_t *src = rill_stream_from_topic(topo, in, &so);
    rill_sink_opts_t strings = {.key_serde = rill_serde_string(),
                                .value_serde = rill_serde_string()};
    assert_int_equal(rill_stream_to(rill_stream_process(src, &tag_ops, inst, NULL), out, &strings),
                     0);
    rill_materialized_t m = {.name = "counts", .backend = RILL_STORE_ROCKSDB};
    rill_table_t *counts = rill_grouped_count(rill_stream_group_by_key(src, NULL), &m);
    rill_sink_opts_t longs = {.key_serde = rill_serde_string(), .value_serde = rill_serde_int64()};
    assert_int_equal(rill_stream_to(rill_table_to_stream(counts), counts_topic, &longs), 0);
    char err[512];
    if (rill_topology_build(topo, err, sizeof err))
        fail_msg("rill_topology_build: %s", err);
    return topo;
}

/* long_txn_timeout: producer.transaction.timeout.ms 60 s instead of Rill's 10 s. */
static rill_conf_t *fencing_conf(const char *app_id, const char *state_dir, const char *client_id,
                                 bool long_txn_timeout)
{
    char err[512];
    rill_conf_t *conf = rill_conf_new();
    assert_non_null(conf);
    const char *kv[][2] = {
        {"application.id", app_id},
        {"bootstrap.servers", bootstrap},
        {"state.dir", state_dir},
        {"processing.guarantee", "exactly_once_v2"},
        /* Names the instance in librdkafka's log lines. */
        {"client.id", client_id},
        /* A member that stops polling leaves the group after 6 s (Kafka's smallest session
         * timeout; librdkafka wants max.poll.interval.ms >= session.timeout.ms). */
        {"consumer.session.timeout.ms", "6000"},
        {"consumer.heartbeat.interval.ms", "1000"},
        {"consumer.max.poll.interval.ms", "6000"},
        /* Far beyond the time A is held: the broker must not abort A's transaction itself.
         * Otherwise Rill's 10 s. */
        {"producer.transaction.timeout.ms", long_txn_timeout ? "60000" : NULL},
    };
    for (size_t i = 0; i < sizeof kv / sizeof kv[0]; i++)
        if (kv[i][1] && rill_conf_set(conf, kv[i][0], kv[i][1], err, sizeof err))
            fail_msg("%s=%s: %s", kv[i][0], kv[i][1], err);
    return conf;
}

/* ---- what A says: Rill's lines from A's stream thread, librdkafka's of A's clients ---- */

static struct {
    /* "... rewinding to the last commit" from A's stream thread: it aborted its transaction, or
     * (a fatal error) made a new producer, which aborts it too */
    atomic_int aborts;
} heard;

static void log_cb(void *opaque, rill_log_level_t level, const char *component, const char *msg)
{
    bool from_a = atomic_load(&inst_a.thread_known) && pthread_equal(pthread_self(), inst_a.thread);
    if (from_a && strstr(msg, "rewinding to the last commit"))
        atomic_fetch_add(&heard.aborts, 1);
    const char *who = from_a || strstr(msg, "fence-A#") ? "A" : strstr(msg, "fence-B#") ? "B" : "-";
    printf("  [%6.2f s] log %s %s: %s\n", now_s() - t_start, who, component, msg);
    fflush(stdout);
}

/* ---- topics and readers (plain librdkafka: Rill checked from the outside) ---- */

static void create_topic(const char *topic, int partitions)
{
    assert_int_equal(kafka_create_topic(bootstrap, topic, partitions), 0);
}

static void delete_topics(const char *const *topics, int n)
{
    kafka_delete_topics(bootstrap, topics, n);
}

/* A consumer that only assigns (its group is never joined), reading with isolation
 * ("read_committed" or "read_uncommitted") and reporting the end of each partition. */
static rd_kafka_t *reader(const char *isolation)
{
    char err[256], group[96];
    snprintf(group, sizeof group, "fence-verifier-%s", run_id);
    rd_kafka_conf_t *kc = rd_kafka_conf_new();
    const char *kv[][2] = {
        {"bootstrap.servers", bootstrap}, {"group.id", group},
        {"isolation.level", isolation},   {"enable.partition.eof", "true"},
        {"enable.auto.commit", "false"},  {"auto.offset.reset", "earliest"},
    };
    for (size_t i = 0; i < sizeof kv / sizeof kv[0]; i++)
        if (rd_kafka_conf_set(kc, kv[i][0], kv[i][1], err, sizeof err))
            fail_msg("%s: %s", kv[i][0], err);
    rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_CONSUMER, kc, err, sizeof err);
    if (!rk)
        fail_msg("reader: %s", err);
    return rk;
}

/* Waits until no transaction is open on topic: on every partition the last stable offset (the
 * end a read_committed reader sees) is the high watermark. */
static void wait_no_open_transaction(const char *topic, int timeout_ms)
{
    rd_kafka_t *committed = reader("read_committed"), *uncommitted = reader("read_uncommitted");
    double deadline = now_s() + timeout_ms / 1000.0;
    for (;;) {
        bool stable = true;
        char why[256] = "";
        for (int p = 0; p < PARTITIONS && stable; p++) {
            int64_t lo, lso, hw;
            if (rd_kafka_query_watermark_offsets(committed, topic, p, &lo, &lso, 10000) ||
                rd_kafka_query_watermark_offsets(uncommitted, topic, p, &lo, &hw, 10000)) {
                snprintf(why, sizeof why, "%s [%d]: cannot read its offsets", topic, p);
                stable = false;
            } else if (lso != hw) {
                snprintf(why, sizeof why,
                         "%s [%d]: last stable offset %lld, high watermark %lld (a transaction "
                         "is open)",
                         topic, p, (long long)lso, (long long)hw);
                stable = false;
            }
        }
        if (stable)
            break;
        if (now_s() > deadline)
            fail_msg("within %d ms: %s", timeout_ms, why);
        sleep_ms(100);
    }
    rd_kafka_destroy(committed);
    rd_kafka_destroy(uncommitted);
}

/* What a reader saw in the output and counts topics. */
typedef struct {
    int copies[TOTAL];   /* records of each id */
    char tag[TOTAL];     /* the tag of the last one */
    int second_a;        /* second-batch records tagged A: written in A's held transaction */
    int late_z;          /* records tagged Z: written by A after B took over */
    int records, bad;    /* all records; unparsable ones */
    int64_t count[KEYS]; /* the last count of each key */
    int counted_keys;
} seen_t;

static void see_output(seen_t *s, const rd_kafka_message_t *m)
{
    char text[32], tag = 0;
    int id = -1;
    snprintf(text, sizeof text, "%.*s", (int)m->len, (const char *)m->payload);
    s->records++;
    if (sscanf(text, "%d@%c", &id, &tag) != 2 || id < 0 || id >= TOTAL) {
        s->bad++;
        return;
    }
    s->copies[id]++;
    s->tag[id] = tag;
    if (tag == 'A' && id >= FIRST)
        s->second_a++;
    if (tag == 'Z')
        s->late_z++;
}

static void see_count(seen_t *s, const rd_kafka_message_t *m)
{
    char key[32];
    int k = -1;
    snprintf(key, sizeof key, "%.*s", (int)m->key_len, (const char *)m->key);
    s->records++;
    if (sscanf(key, "key-%d", &k) != 1 || k < 0 || k >= KEYS || m->len != 8) {
        s->bad++;
        return;
    }
    const unsigned char *b = m->payload;
    uint64_t v = 0;
    for (int i = 0; i < 8; i++)
        v = v << 8 | b[i];
    if (s->count[k] == 0)
        s->counted_keys++;
    s->count[k] = (int64_t)v; /* one key lives in one partition: the last read is the last */
}

/* Reads every partition of topic from the start to its end (for read_committed: its last
 * stable offset), handing each record to fn. */
static void read_topic(const char *topic, const char *isolation,
                       void (*fn)(seen_t *, const rd_kafka_message_t *), seen_t *s)
{
    memset(s, 0, sizeof *s);
    rd_kafka_t *rk = reader(isolation);
    rd_kafka_topic_partition_list_t *list = rd_kafka_topic_partition_list_new(PARTITIONS);
    for (int p = 0; p < PARTITIONS; p++)
        rd_kafka_topic_partition_list_add(list, topic, p)->offset = RD_KAFKA_OFFSET_BEGINNING;
    assert_int_equal(rd_kafka_assign(rk, list), 0);
    rd_kafka_topic_partition_list_destroy(list);
    bool eof[PARTITIONS] = {false};
    int eofs = 0;
    double deadline = now_s() + 30;
    while (eofs < PARTITIONS) {
        if (now_s() > deadline)
            fail_msg("%s (%s): only %d of %d partitions read to their end within 30 s", topic,
                     isolation, eofs, PARTITIONS);
        rd_kafka_message_t *m = rd_kafka_consumer_poll(rk, 100);
        if (!m)
            continue;
        if (m->err == RD_KAFKA_RESP_ERR__PARTITION_EOF) {
            if (m->partition >= 0 && m->partition < PARTITIONS && !eof[m->partition]) {
                eof[m->partition] = true;
                eofs++;
            }
        } else if (m->err) {
            fail_msg("%s (%s): %s", topic, isolation, rd_kafka_message_errstr(m));
        } else {
            fn(s, m);
        }
        rd_kafka_message_destroy(m);
    }
    rd_kafka_assign(rk, NULL);
    rd_kafka_destroy(rk);
}

/* Waits until a read_uncommitted reader of topic sees what pred wants. */
static void wait_uncommitted(const char *topic, bool (*pred)(const seen_t *), const char *what,
                             int timeout_ms)
{
    seen_t s;
    double deadline = now_s() + timeout_ms / 1000.0;
    for (read_topic(topic, "read_uncommitted", see_output, &s); !pred(&s);
         read_topic(topic, "read_uncommitted", see_output, &s)) {
        if (now_s() > deadline)
            fail_msg("%s: no %s in the log within %d ms (%d records of the held transaction, "
                     "%d late)",
                     topic, what, timeout_ms, s.second_a, s.late_z);
        sleep_ms(100);
    }
}

static bool held_records_logged(const seen_t *s)
{
    return s->second_a >= BLOCK_AT;
}

static bool late_write_logged(const seen_t *s)
{
    return s->late_z >= 1;
}

/* ---- the test ---- */

static int rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    return remove(path);
}

static void rm_rf(const char *path)
{
    nftw(path, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

/* Everything a failed run must release: A is let go first (closing it while its processor is
 * held would wait forever). */
static struct {
    rill_app_t *a, *b;
    rill_topology_t *topo_a, *topo_b;
    char in[96], out[96], counts[96], changelog[192];
    char dir_a[256], dir_b[256];
    bool topics_made;
} fx;

static int teardown(void **state)
{
    gate_open(&inst_a, 2);
    if (fx.a) {
        rill_app_close(fx.a, 30000);
        rill_app_destroy(fx.a);
    }
    if (fx.b) {
        rill_app_close(fx.b, 30000);
        rill_app_destroy(fx.b);
    }
    rill_topology_unref(fx.topo_a);
    rill_topology_unref(fx.topo_b);
    if (fx.topics_made) {
        const char *topics[] = {fx.in, fx.out, fx.counts, fx.changelog};
        delete_topics(topics, 4);
    }
    rm_rf(fx.dir_a);
    rm_rf(fx.dir_b);
    memset(&fx, 0, sizeof fx);
    return 0;
}

static rill_app_t *start_instance(rill_topology_t *topo, const char *app_id, const char *dir,
                                  const char *client_id, bool long_txn_timeout)
{
    char err[512];
    rill_conf_t *conf = fencing_conf(app_id, dir, client_id, long_txn_timeout);
    rill_app_t *app = rill_app_new(topo, conf, err, sizeof err);
    if (!app) {
        rill_conf_destroy(conf);
        fail_msg("rill_app_new: %s", err);
    }
    if (rill_app_start(app)) {
        rill_app_error(app, err, sizeof err);
        rill_app_destroy(app);
        fail_msg("rill_app_start: %s", err);
    }
    return app;
}

/* Waits until app runs with tasks tasks. */
static void wait_tasks(rill_app_t *app, int64_t tasks, const char *name, int timeout_ms)
{
    double deadline = now_s() + timeout_ms / 1000.0;
    while (rill_app_state(app) != RILL_STATE_RUNNING || rill_app_metric(app, "tasks") != tasks) {
        if (rill_app_state(app) == RILL_STATE_ERROR) {
            char err[512];
            fail_msg("%s is in ERROR: %s", name, rill_app_error(app, err, sizeof err));
        }
        if (now_s() > deadline)
            fail_msg("%s: %s with %lld tasks after %d ms, not RUNNING with %lld", name,
                     rill_state_name(rill_app_state(app)), (long long)rill_app_metric(app, "tasks"),
                     timeout_ms, (long long)tasks);
        sleep_ms(20);
    }
}

static void produce(const char *topic, int from, int to)
{
    char err[256];
    rill_producer_t *p = rill_producer_new(bootstrap, err, sizeof err);
    if (!p)
        fail_msg("rill_producer_new: %s", err);
    int64_t ts = wall_ms();
    for (int i = from; i < to; i++) {
        char k[16], v[16];
        snprintf(k, sizeof k, "key-%02d", i % KEYS);
        snprintf(v, sizeof v, "%d", i);
        assert_int_equal(rill_producer_send(p, topic, -1, rill_buf_str(k), rill_buf_str(v), ts), 0);
    }
    assert_int_equal(rill_producer_flush(p, 30000), 0);
    rill_producer_destroy(p);
}

static void reset_instance(instance_t *in)
{
    pthread_mutex_lock(&in->lock);
    in->second_seen = in->stage = in->go = 0;
    atomic_store(&in->released, false);
    atomic_store(&in->thread_known, false);
    pthread_mutex_unlock(&in->lock);
}

/* Runs the scenario. timeout_first: keep Rill's transaction.timeout.ms (10 s) and hold A until
 * the broker has aborted A's transaction itself (bumping its producer epoch): then the late
 * write must be refused outright. Otherwise the transaction outlives the hold, and the group
 * generation alone must fence A. */
static void zombie_scenario(bool timeout_first)
{
    if (!bootstrap || !*bootstrap)
        skip();
    t_start = now_s();
    reset_instance(&inst_a);
    reset_instance(&inst_b);
    atomic_store(&heard.aborts, 0);
    const char *v = timeout_first ? "t" : "g";
    char app_id[96];
    snprintf(app_id, sizeof app_id, "fence%s-app-%s", v, run_id);
    snprintf(fx.in, sizeof fx.in, "fence%s-in-%s", v, run_id);
    snprintf(fx.out, sizeof fx.out, "fence%s-out-%s", v, run_id);
    snprintf(fx.counts, sizeof fx.counts, "fence%s-counts-%s", v, run_id);
    snprintf(fx.changelog, sizeof fx.changelog, "%s-counts-changelog", app_id);
    snprintf(fx.dir_a, sizeof fx.dir_a, "/tmp/rill-test-fence%s-A-%s", v, run_id);
    snprintf(fx.dir_b, sizeof fx.dir_b, "/tmp/rill-test-fence%s-B-%s", v, run_id);
    rm_rf(fx.dir_a);
    rm_rf(fx.dir_b);
    create_topic(fx.in, PARTITIONS);
    create_topic(fx.out, PARTITIONS);
    create_topic(fx.counts, PARTITIONS);
    fx.topics_made = true;
    fx.topo_a = fencing_topology(fx.in, fx.out, fx.counts, &inst_a);
    fx.topo_b = fencing_topology(fx.in, fx.out, fx.counts, &inst_b);

    /* 1. A processes and commits the first batch. */
    fx.a = start_instance(fx.topo_a, app_id, fx.dir_a, "fence-A", !timeout_first);
    wait_tasks(fx.a, PARTITIONS, "A", 60000);
    step("A runs with %d tasks", PARTITIONS);
    produce(fx.in, 0, FIRST);
    kafka_wait_committed_at_end(bootstrap, app_id, fx.in, PARTITIONS, 60000);
    step("A committed the first batch (%d records; %lld commits)", FIRST,
         (long long)rill_app_metric(fx.a, "commits"));

    /* 2. A blocks in the transaction of the second batch, with BLOCK_AT outputs in it. */
    produce(fx.in, FIRST, TOTAL);
    gate_wait_stage(&inst_a, 1, 30000, "block in the second batch");
    wait_uncommitted(fx.out, held_records_logged, "records of A's held transaction", 30000);
    step("A holds its transaction open; its %d records of the second batch are in the log",
         BLOCK_AT);

    /* 3. B takes every partition over (A leaves the group after max.poll.interval.ms) and
     * processes everything. */
    fx.b = start_instance(fx.topo_b, app_id, fx.dir_b, "fence-B", !timeout_first);
    wait_tasks(fx.b, PARTITIONS, "B", 60000);
    step("B runs with all %d tasks", PARTITIONS);
    kafka_wait_committed_at_end(bootstrap, app_id, fx.in, PARTITIONS, 60000);
    step("B committed the input to its end (B processed %lld records, %lld commits)",
         (long long)rill_app_metric(fx.b, "records-processed"),
         (long long)rill_app_metric(fx.b, "commits"));
    if (timeout_first) {
        /* The coordinator aborts a transaction older than its timeout (10 s) at its next
         * check (every 10 s by default). */
        wait_no_open_transaction(fx.out, 40000);
        step("the broker aborted A's held transaction (transaction.timeout.ms)");
    }

    /* 4. A, a zombie now, writes late, then tries to go on. */
    int64_t a_commits = rill_app_metric(fx.a, "commits");
    gate_open(&inst_a, 1);
    gate_wait_stage(&inst_a, 2, 30000, "write its late record");
    if (!timeout_first) {
        wait_uncommitted(fx.out, late_write_logged, "late write of A", 30000);
        step("A's late write is in the log; letting A go on");
    } else {
        step("A made its late write; letting A go on");
    }
    gate_open(&inst_a, 2);
    double deadline = now_s() + 60;
    while (rill_app_state(fx.a) != RILL_STATE_ERROR && atomic_load(&heard.aborts) == 0 &&
           rill_app_metric(fx.a, "commits") == a_commits) {
        if (now_s() > deadline)
            fail_msg("A neither aborted its transaction, committed, nor failed within 60 s "
                     "(state %s)",
                     rill_state_name(rill_app_state(fx.a)));
        sleep_ms(20);
    }
    char err[512];
    if (rill_app_state(fx.a) == RILL_STATE_ERROR) {
        step("A stopped in ERROR: %s", rill_app_error(fx.a, err, sizeof err));
    } else if (atomic_load(&heard.aborts) > 0) {
        step("A aborted its transaction; waiting for it to rejoin (or fail)");
        deadline = now_s() + 60;
        while (rill_app_state(fx.a) != RILL_STATE_ERROR &&
               !(rill_app_state(fx.a) == RILL_STATE_RUNNING &&
                 rill_app_state(fx.b) == RILL_STATE_RUNNING &&
                 rill_app_metric(fx.a, "tasks") >= 1 && rill_app_metric(fx.b, "tasks") >= 1 &&
                 rill_app_metric(fx.a, "tasks") + rill_app_metric(fx.b, "tasks") == PARTITIONS)) {
            if (now_s() > deadline)
                fail_msg("after aborting, A did not rejoin within 60 s: A %s with %lld tasks, "
                         "B %s with %lld tasks",
                         rill_state_name(rill_app_state(fx.a)),
                         (long long)rill_app_metric(fx.a, "tasks"),
                         rill_state_name(rill_app_state(fx.b)),
                         (long long)rill_app_metric(fx.b, "tasks"));
            sleep_ms(20);
        }
        if (rill_app_state(fx.a) == RILL_STATE_ERROR)
            step("A then stopped in ERROR: %s", rill_app_error(fx.a, err, sizeof err));
        else
            step("A rejoined: A has %lld tasks, B %lld", (long long)rill_app_metric(fx.a, "tasks"),
                 (long long)rill_app_metric(fx.b, "tasks"));
    } else {
        step("A COMMITTED a transaction after B took over (%lld commits before, %lld now): the "
             "zombie was not fenced",
             (long long)a_commits, (long long)rill_app_metric(fx.a, "commits"));
    }

    /* 5. What readers see, once no transaction is open. */
    wait_no_open_transaction(fx.out, 60000);
    wait_no_open_transaction(fx.counts, 60000);
    step("no transaction is open on the output topics");
    int64_t in_records = kafka_assert_committed_at_end(bootstrap, app_id, fx.in, PARTITIONS);
    assert_int_equal(in_records, TOTAL);

    seen_t committed, uncommitted, counts;
    read_topic(fx.out, "read_committed", see_output, &committed);
    read_topic(fx.out, "read_uncommitted", see_output, &uncommitted);
    read_topic(fx.counts, "read_committed", see_count, &counts);
    int missing = 0, repeated = 0, first_not_a = 0, second_not_b = 0;
    for (int id = 0; id < TOTAL; id++) {
        missing += committed.copies[id] == 0;
        repeated += committed.copies[id] > 1;
        if (committed.copies[id] && id < FIRST && committed.tag[id] != 'A')
            first_not_a++;
        if (committed.copies[id] && id >= FIRST && committed.tag[id] != 'B')
            second_not_b++;
    }
    step("read_committed: %d records, %d ids missing, %d repeated, %d of the second batch from "
         "A's held transaction, %d late writes of A",
         committed.records, missing, repeated, committed.second_a, committed.late_z);
    step("read_uncommitted: %d records, %d of the second batch from A's held transaction, %d "
         "late writes of A (aborted: %d zombie records)",
         uncommitted.records, uncommitted.second_a, uncommitted.late_z,
         uncommitted.records - committed.records);
    int wrong_counts = 0;
    for (int k = 0; k < KEYS; k++)
        wrong_counts += counts.count[k] != TOTAL / KEYS;
    step("counts (read_committed): %d keys, %d with a count other than %d", counts.counted_keys,
         wrong_counts, TOTAL / KEYS);

    /* Exactly once, as read_committed readers see it. */
    assert_int_equal(committed.bad, 0);
    assert_int_equal(missing, 0);
    assert_int_equal(repeated, 0);
    assert_int_equal(committed.records, TOTAL);
    assert_int_equal(committed.second_a, 0);
    assert_int_equal(committed.late_z, 0);
    assert_int_equal(first_not_a, 0);
    assert_int_equal(second_not_b, 0);
    assert_int_equal(counts.bad, 0);
    assert_int_equal(counts.counted_keys, KEYS);
    assert_int_equal(wrong_counts, 0);
    /* The zombie did write: its records are in the log, aborted. After the broker's own abort
     * its producer epoch is stale, and the partition leaders refuse its late writes. */
    assert_true(uncommitted.second_a >= BLOCK_AT);
    if (timeout_first)
        assert_int_equal(uncommitted.late_z, 0);
    else
        assert_true(uncommitted.late_z >= 1);

    /* Both instances close cleanly (A may already have stopped in ERROR). */
    assert_int_equal(rill_app_close(fx.a, 30000), 0);
    assert_int_equal(rill_app_close(fx.b, 30000), 0);
    step("both instances closed (A %s, B %s)", rill_state_name(rill_app_state(fx.a)),
         rill_state_name(rill_app_state(fx.b)));
}

/* The group generation fences the zombie: its transaction is still open when it tries to
 * commit, and the broker refuses the offsets of a member that left. */
static void test_zombie_fenced_by_group_generation(void **state)
{
    zombie_scenario(false);
}

/* With Rill's default transaction.timeout.ms, a zombie held longer than that finds its
 * transaction aborted by the broker and its late writes refused. */
static void test_zombie_fenced_by_transaction_timeout(void **state)
{
    zombie_scenario(true);
}

int main(void)
{
    bootstrap = getenv("RILL_TEST_BOOTSTRAP");
    if (!bootstrap || !*bootstrap)
        fprintf(stderr, "test_eos_fencing: skipped: set RILL_TEST_BOOTSTRAP to a real broker's "
                        "address (scripts/kafka up prints it); `make check` does this for you\n");
    snprintf(run_id, sizeof run_id, "%ld-%d", (long)time(NULL), (int)getpid());
    rill_set_log_cb(log_cb, NULL, getenv("RILL_DEBUG") ? RILL_LOG_DEBUG : RILL_LOG_WARN);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(test_zombie_fenced_by_group_generation, teardown),
        cmocka_unit_test_teardown(test_zombie_fenced_by_transaction_timeout, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
