/*
 * Every join kind end to end on a real broker (RILL_TEST_BOOTSTRAP) under exactly_once_v2, with a
 * SIGKILL of the app in the middle, against the test driver given the same input.
 *
 * One topology holds the joins (topics of 4 partitions): L ⋈ R stream-stream inner, left and
 * outer (window 100 ms, a grace of 1,000 s so no record is ever late), L ⋈ T stream-table left, and
 * T ⋈ U table-table outer. The app runs in a child process (this binary, re-executed with --app). T
 * and U are produced and consumed first (the stream-table join then sees T complete, as the driver
 * does); then L and R; the child is SIGKILLed once its first transaction is visible to a
 * read_uncommitted reader of an output (in flight), restarted, and waited for until its
 * commits reach the ends of L and R; then one far-future record on every partition of L and R
 * moves every task's stream time past every window, so the left and outer joins emit their
 * unmatched records. A read_committed reader then must see exactly the driver's results: the
 * same multiset of (key, value) for the stream outputs, the same final row per key for the
 * table output.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <rill/app.h>
#include <rill/dsl.h>
#include <rill/test_driver.h>

#include <librdkafka/rdkafka.h>

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "../common/kafka_util.h"

#define PARTITIONS 4
#define KEYS       150
#define RECORDS    1500    /* per stream side */
#define GRACE      1000000 /* ms: no record is ever late, whatever the consumption order */

static const char *bootstrap;
/* Record times: an hour ago and after (the broker deletes records older than its retention,
 * and refuses those more than an hour ahead), the same for the driver. */
static int64_t base;
static char run_id[32];
static char t_l[64], t_r[64], t_t[64], t_u[64], t_inner[64], t_left[64], t_outer[64], t_st[64],
    t_tt[64];

static int concat(void *ud, rill_context_t *ctx, rill_buf_t key, rill_buf_t l, rill_buf_t r,
                  rill_buf_t *out)
{
    (void)ud;
    (void)key;
    *out = rill_arena_printf(rill_context_arena(ctx), "%.*s+%.*s", l.data ? (int)l.len : 4,
                             l.data ? (const char *)l.data : "null", r.data ? (int)r.len : 4,
                             r.data ? (const char *)r.data : "null");
    return out->data ? 0 : RILL_ENOMEM;
}

static rill_topology_t *topology(void)
{
    rill_topology_t *topo = rill_topology_new();
    rill_stream_t *l = rill_stream_from_topic(topo, t_l, NULL);
    rill_stream_t *r = rill_stream_from_topic(topo, t_r, NULL);
    rill_table_t *t = rill_table_from(topo, t_t, NULL, NULL);
    rill_table_t *u = rill_table_from(topo, t_u, NULL, NULL);
    rill_join_windows_t w = rill_join_windows(100, GRACE);
    rill_stream_to(rill_stream_join(l, r, concat, NULL, w, NULL), t_inner, NULL);
    rill_stream_to(rill_stream_left_join(l, r, concat, NULL, w, NULL), t_left, NULL);
    rill_stream_to(rill_stream_outer_join(l, r, concat, NULL, w, NULL), t_outer, NULL);
    rill_stream_to(rill_stream_table_left_join(l, t, concat, NULL, NULL), t_st, NULL);
    rill_stream_to(rill_table_to_stream(rill_table_outer_join(t, u, concat, NULL, NULL)), t_tt,
                   NULL);
    return topo;
}

static void names(const char *id)
{
    snprintf(run_id, sizeof run_id, "%s", id);
    const struct {
        char *buf;
        const char *base;
    } all[] = {{t_l, "jl"},         {t_r, "jr"},         {t_t, "jt"},
               {t_u, "ju"},         {t_inner, "jinner"}, {t_left, "jleft"},
               {t_outer, "jouter"}, {t_st, "jst"},       {t_tt, "jtt"}};
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++)
        snprintf(all[i].buf, 64, "%s-%s", all[i].base, run_id);
}

/* ---- the app, in a child process ---- */

static volatile sig_atomic_t stop;
static void on_term(int sig)
{
    (void)sig;
    stop = 1;
}

static int run_app(const char *state_dir)
{
    signal(SIGTERM, on_term);
    char err[512], app_id[96];
    snprintf(app_id, sizeof app_id, "join-eos-%s", run_id);
    rill_conf_t *conf = rill_conf_new();
    const char *kv[][2] = {{"application.id", app_id},
                           {"bootstrap.servers", bootstrap},
                           {"default.key.serde", "string"},
                           {"default.value.serde", "string"},
                           {"processing.guarantee", "exactly_once_v2"},
                           {"commit.interval.ms", "100"},
                           {"statestore.cache.max.bytes", "0"},
                           {"outer.join.emit.interval.ms", "0"},
                           {"consumer.session.timeout.ms", "6000"},
                           {"consumer.heartbeat.interval.ms", "1000"},
                           {"state.dir", state_dir}};
    for (size_t i = 0; i < sizeof kv / sizeof kv[0]; i++)
        if (rill_conf_set(conf, kv[i][0], kv[i][1], err, sizeof err)) {
            fprintf(stderr, "app: %s\n", err);
            return 2;
        }
    rill_topology_t *topo = topology();
    rill_app_t *app = rill_app_new(topo, conf, err, sizeof err);
    if (!app || rill_app_start(app)) {
        fprintf(stderr, "app: cannot start: %s\n", app ? "see the log" : err);
        return 2;
    }
    while (!stop && rill_app_state(app) != RILL_STATE_ERROR) {
        struct timespec ts = {0, 50 * 1000000};
        nanosleep(&ts, NULL);
    }
    int failed = rill_app_state(app) == RILL_STATE_ERROR;
    rill_app_close(app, 30000);
    rill_app_destroy(app);
    rill_topology_unref(topo);
    return failed ? 3 : 0;
}

static pid_t spawn(const char *self, const char *state_dir, const char *log)
{
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        prctl(PR_SET_PDEATHSIG, SIGKILL); /* a failed test leaves no app behind */
        FILE *f = freopen(log, "a", stderr);
        (void)f;
        execl(self, self, "--app", run_id, state_dir, (char *)NULL);
        _exit(127);
    }
    return pid;
}

/* ---- input ---- */

typedef struct {
    const char *topic;
    char key[16], value[24];
    int64_t ts;
    int32_t partition; /* -1: by key */
} in_t;

static in_t *input;
static size_t ninput;

static void add(const char *topic, const char *key, const char *value, int64_t ts, int32_t p)
{
    in_t *x = &input[ninput++];
    x->topic = topic;
    snprintf(x->key, sizeof x->key, "%s", key);
    snprintf(x->value, sizeof x->value, "%s", value ? value : "");
    x->ts = base + ts;
    x->partition = p;
    if (!value)
        x->value[0] = 1; /* marks a tombstone */
}

/* The tables (with updates and deletes), the two streams, then the far-future records. Each
 * stream's record times never decrease: then the joins' results do not depend on how the
 * consumer interleaves the partitions of the two topics (Kafka Streams emits a left record
 * unmatched at once when stream time is already past its window, which an R record can only
 * have pushed there if no later R record can match it), so the driver's order gives them. */
static void make_input(size_t *tables_end, size_t *streams_end)
{
    input = calloc(4 * RECORDS + 2 * PARTITIONS, sizeof *input);
    assert_non_null(input);
    char k[16], v[24];
    srand(7);
    for (int i = 0; i < KEYS; i += 2) { /* T has every other key, U every third */
        snprintf(k, sizeof k, "k%d", i);
        snprintf(v, sizeof v, "T%d", i);
        add(t_t, k, v, i, -1);
    }
    for (int i = 0; i < KEYS; i += 3) {
        snprintf(k, sizeof k, "k%d", i);
        snprintf(v, sizeof v, "U%d", i);
        add(t_u, k, v, 200 + i, -1);
        if (i % 9 == 0)
            add(t_u, k, NULL, 400 + i, -1); /* deleted again */
        else if (i % 4 == 0)
            add(t_t, k, NULL, 400 + i, -1);
    }
    *tables_end = ninput;
    for (int i = 0; i < RECORDS; i++) {
        int key = rand() % KEYS;
        snprintf(k, sizeof k, "k%d", key);
        snprintf(v, sizeof v, "L%d", i);
        add(t_l, k, v, 1000 + i * 7 + rand() % 7, -1);
        key = rand() % KEYS;
        snprintf(k, sizeof k, "k%d", key);
        snprintf(v, sizeof v, "R%d", i);
        add(t_r, k, v, 1000 + i * 7 + rand() % 7, -1);
    }
    *streams_end = ninput;
    for (int p = 0; p < PARTITIONS; p++) {
        add(t_l, "far", "Lfar", 12000 + 7 * RECORDS + GRACE, p);
        add(t_r, "far", "Rfar", 12000 + 7 * RECORDS + GRACE, p);
    }
}

static rill_buf_t value_of(const in_t *x)
{
    return x->value[0] == 1 ? (rill_buf_t){NULL, 0} : rill_buf_str(x->value);
}

static void produce(size_t from, size_t to)
{
    char err[256];
    rill_producer_t *p = rill_producer_new(bootstrap, err, sizeof err);
    assert_non_null(p);
    for (size_t i = from; i < to; i++)
        assert_int_equal(rill_producer_send(p, input[i].topic, input[i].partition,
                                            rill_buf_str(input[i].key), value_of(&input[i]),
                                            input[i].ts),
                         0);
    assert_int_equal(rill_producer_flush(p, 30000), 0);
    rill_producer_destroy(p);
}

/* ---- output ---- */

typedef struct {
    char *kv[8 * RECORDS + 64]; /* "key=value", value "null" for a tombstone */
    size_t n;
} seen_t;

static void see(seen_t *s, rill_buf_t key, rill_buf_t value)
{
    assert_true(s->n < sizeof s->kv / sizeof s->kv[0]);
    char buf[128];
    snprintf(buf, sizeof buf, "%.*s=%.*s", (int)key.len, key.data ? (const char *)key.data : "",
             value.data ? (int)value.len : 4, value.data ? (const char *)value.data : "null");
    s->kv[s->n++] = strdup(buf);
}

static int cmp(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Reads a topic (read_committed or not) until it has been idle for idle_ms. */
static void read_topic(const char *topic, bool committed, int idle_ms, seen_t *s)
{
    char err[256], group[128];
    snprintf(group, sizeof group, "join-verifier-%s-%d", topic, rand());
    rd_kafka_conf_t *kc = rd_kafka_conf_new();
    rd_kafka_conf_set(kc, "bootstrap.servers", bootstrap, err, sizeof err);
    rd_kafka_conf_set(kc, "group.id", group, err, sizeof err);
    rd_kafka_conf_set(kc, "auto.offset.reset", "earliest", err, sizeof err);
    rd_kafka_conf_set(kc, "enable.auto.commit", "false", err, sizeof err);
    rd_kafka_conf_set(kc, "isolation.level", committed ? "read_committed" : "read_uncommitted", err,
                      sizeof err);
    rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_CONSUMER, kc, err, sizeof err);
    assert_non_null(rk);
    rd_kafka_poll_set_consumer(rk);
    rd_kafka_topic_partition_list_t *parts = rd_kafka_topic_partition_list_new(PARTITIONS);
    for (int p = 0; p < PARTITIONS; p++)
        rd_kafka_topic_partition_list_add(parts, topic, p)->offset = RD_KAFKA_OFFSET_BEGINNING;
    rd_kafka_assign(rk, parts);
    rd_kafka_topic_partition_list_destroy(parts);
    for (int idle = 0; idle < idle_ms; idle += 100) {
        rd_kafka_message_t *m = rd_kafka_consumer_poll(rk, 100);
        if (!m)
            continue;
        if (!m->err) {
            see(s, (rill_buf_t){m->key, m->key_len}, (rill_buf_t){m->payload, m->len});
            idle = 0;
        }
        rd_kafka_message_destroy(m);
    }
    rd_kafka_consumer_close(rk);
    rd_kafka_destroy(rk);
}

static void seen_free(seen_t *s)
{
    for (size_t i = 0; i < s->n; i++)
        free(s->kv[i]);
    s->n = 0;
}

/* The last row per key (the table's final state), sorted; a key's final tombstone is kept. */
static void finals(seen_t *s)
{
    seen_t last = {0};
    for (size_t i = s->n; i-- > 0;) {
        size_t klen = strchr(s->kv[i], '=') - s->kv[i];
        bool dup = false;
        for (size_t j = 0; j < last.n && !dup; j++)
            dup = strncmp(last.kv[j], s->kv[i], klen + 1) == 0;
        if (!dup)
            last.kv[last.n++] = strdup(s->kv[i]);
    }
    seen_free(s);
    *s = last;
}

static void assert_same(const char *what, seen_t *want, seen_t *got)
{
    qsort(want->kv, want->n, sizeof want->kv[0], cmp);
    qsort(got->kv, got->n, sizeof got->kv[0], cmp);
    const char *dump = getenv("RILL_TEST_DUMP"); /* a folder: what each side saw, to diff */
    for (int side = 0; dump && side < 2; side++) {
        char path[512];
        snprintf(path, sizeof path, "%s/%s.%s", dump, what, side ? "broker" : "driver");
        FILE *f = fopen(path, "w");
        for (size_t k = 0; f && k < (side ? got : want)->n; k++)
            fprintf(f, "%s\n", (side ? got : want)->kv[k]);
        if (f)
            fclose(f);
    }
    size_t i = 0, j = 0, shown = 0;
    while ((i < want->n || j < got->n) && shown < 10) {
        int c = i == want->n ? 1 : j == got->n ? -1 : strcmp(want->kv[i], got->kv[j]);
        if (c == 0) {
            i++, j++;
            continue;
        }
        print_error("%s: %s %s\n", what, c < 0 ? "missing" : "unexpected",
                    c < 0 ? want->kv[i++] : got->kv[j++]);
        shown++;
    }
    if (shown)
        fail_msg("%s: the broker's read_committed output (%zu records) differs from the test "
                 "driver's (%zu)",
                 what, got->n, want->n);
    print_message("%s: %zu records, as the test driver\n", what, got->n);
}

/* ---- the test ---- */

static char self[512];

static void expected(seen_t out[5])
{
    char err[512], dir[64];
    snprintf(dir, sizeof dir, "/tmp/rill-join-driver-%s", run_id);
    rill_conf_t *conf = rill_conf_new();
    rill_conf_set(conf, "application.id", "join-driver", err, sizeof err);
    rill_conf_set(conf, "default.key.serde", "string", err, sizeof err);
    rill_conf_set(conf, "default.value.serde", "string", err, sizeof err);
    rill_conf_set(conf, "outer.join.emit.interval.ms", "0", err, sizeof err);
    rill_conf_set(conf, "state.dir", dir, err, sizeof err);
    rill_topology_t *topo = topology();
    rill_test_driver_t *d = rill_test_driver_new(topo, conf, 0, err, sizeof err);
    if (!d)
        fail_msg("test driver: %s", err);
    const char *topics[] = {t_l, t_r, t_t, t_u, t_inner, t_left, t_outer, t_st, t_tt};
    for (size_t i = 0; i < sizeof topics / sizeof topics[0]; i++)
        rill_test_driver_set_partitions(d, topics[i], PARTITIONS);
    for (size_t i = 0; i < ninput; i++)
        if (rill_test_driver_pipe(d, input[i].topic, input[i].partition, rill_buf_str(input[i].key),
                                  value_of(&input[i]), input[i].ts))
            fail_msg("test driver: %s", rill_test_driver_error(d));
    const char *outs[] = {t_inner, t_left, t_outer, t_st, t_tt};
    for (int k = 0; k < 5; k++) {
        rill_test_record_t rec;
        while (rill_test_driver_read(d, outs[k], &rec) == 0)
            see(&out[k], rec.key, rec.value);
    }
    rill_test_driver_destroy(d);
    rill_topology_unref(topo);
    rill_conf_destroy(conf);
}

static void test_joins_exactly_once_through_a_kill(void **state)
{
    (void)state;
    char id[32], state_dir[96], log[256], app_id[96];
    snprintf(id, sizeof id, "%ld-%d", (long)time(NULL), (int)getpid());
    base = ((int64_t)time(NULL) - 3600) * 1000;
    names(id);
    snprintf(app_id, sizeof app_id, "join-eos-%s", run_id);
    const char *topics[] = {t_l, t_r, t_t, t_u, t_inner, t_left, t_outer, t_st, t_tt};
    for (size_t i = 0; i < sizeof topics / sizeof topics[0]; i++)
        assert_int_equal(kafka_create_topic(bootstrap, topics[i], PARTITIONS), 0);
    size_t tables_end, streams_end;
    make_input(&tables_end, &streams_end);
    snprintf(state_dir, sizeof state_dir, "/tmp/rill-join-eos-%s", run_id);
    const char *dir = getenv("RILL_TEST_LOG_DIR");
    snprintf(log, sizeof log, "%s/test_join_kafka-app.log", dir ? dir : "/tmp");

    produce(0, tables_end);
    pid_t app = spawn(self, state_dir, log);
    kafka_wait_committed_at_end(bootstrap, app_id, t_t, PARTITIONS, 120000);
    kafka_wait_committed_at_end(bootstrap, app_id, t_u, PARTITIONS, 60000);
    produce(tables_end, streams_end);
    /* In flight: an output record visible before its transaction commits. */
    seen_t probe = {0};
    for (int waited = 0; probe.n == 0 && waited < 60000; waited += 1000)
        read_topic(t_inner, false, 1000, &probe);
    assert_true(probe.n > 0);
    seen_free(&probe);
    if (!getenv("RILL_TEST_NO_KILL")) {
        assert_int_equal(kill(app, SIGKILL), 0);
        waitpid(app, NULL, 0);
        print_message("killed the app in flight; restarting it\n");
        app = spawn(self, state_dir, log);
    }
    kafka_wait_committed_at_end(bootstrap, app_id, t_l, PARTITIONS, 120000);
    kafka_wait_committed_at_end(bootstrap, app_id, t_r, PARTITIONS, 60000);
    produce(streams_end, ninput);
    kafka_wait_committed_at_end(bootstrap, app_id, t_l, PARTITIONS, 60000);
    kafka_wait_committed_at_end(bootstrap, app_id, t_r, PARTITIONS, 60000);
    kill(app, SIGTERM);
    int status;
    waitpid(app, &status, 0);
    assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);

    seen_t want[5] = {0}, got = {0};
    expected(want);
    const char *outs[] = {t_inner, t_left, t_outer, t_st, t_tt};
    const char *what[] = {"stream-stream inner", "stream-stream left", "stream-stream outer",
                          "stream-table left", "table-table outer (final rows)"};
    for (int k = 0; k < 5; k++) {
        read_topic(outs[k], true, 3000, &got);
        if (k == 4) {
            finals(&got);
            finals(&want[k]);
        }
        assert_same(what[k], &want[k], &got);
        seen_free(&got);
        seen_free(&want[k]);
    }
    kafka_delete_topics(bootstrap, topics, 8);
    const char *last[] = {t_tt};
    kafka_delete_topics(bootstrap, last, 1);
    free(input);
}

int main(int argc, char **argv)
{
    bootstrap = getenv("RILL_TEST_BOOTSTRAP");
    if (argc == 4 && strcmp(argv[1], "--app") == 0) {
        if (!bootstrap)
            return 2;
        names(argv[2]);
        return run_app(argv[3]);
    }
    if (!bootstrap || !*bootstrap) {
        printf("test_join_kafka: RILL_TEST_BOOTSTRAP is not set; skipped\n");
        return 0;
    }
    ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
    assert_true(n > 0);
    self[n] = 0;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_joins_exactly_once_through_a_kill),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
