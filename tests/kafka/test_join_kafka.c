/*
 * Every join kind end to end on a real broker (RILL_TEST_BOOTSTRAP) under exactly_once_v2, with a
 * SIGKILL of the app in the middle, against the test driver given the same input.
 *
 * One topology holds the joins (topics of 4 partitions): L ⋈ R stream-stream inner, left and
 * outer (window 100 ms, a grace of 1,000 s so no record is ever late); L ⋈ T stream-table inner
 * and left; L ⋈ V stream-table left against a versioned table (a record joins the version valid
 * at its timestamp) through a grace buffer; T ⋈ U table-table inner, left and outer; F ⋈ U
 * foreign-key table-table inner and left (F's value names U's key after a '|'). The app runs in
 * a child process (this binary, re-executed with --app). T, U, V and F are produced and consumed
 * first (the stream-table joins then see T and V complete, as the driver does); then L and R,
 * with updates of F among them (foreign keys changed, rows deleted); the child is SIGKILLed once
 * its first transaction is visible to a read_uncommitted reader of an output (in flight),
 * restarted, and waited for until its commits reach the ends of L and R; then one far-future
 * record on every partition of L and R moves every task's stream time past every window and past
 * every held record's timestamp plus grace, so the left and outer joins emit their unmatched
 * records and the grace buffer releases all it holds but the far records. Once the commits reach
 * the ends of the inputs, the app must consume the foreign-key joins' subscription topics to
 * their ends, then their response topics: every answer to the last left updates is then out. A
 * read_committed reader then must see exactly the driver's results: the same multiset of
 * (key, value) for the stream outputs, the same final row per key for the table outputs (for the
 * inner, left and foreign-key joins, the rows that exist at the end: whether a key that never
 * joined gets a tombstone depends on how the consumer interleaved the two sides).
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
#define V_GRACE    500     /* ms: the versioned stream-table join's grace buffer */
#define FKEYS      120     /* keys of F */

static const char *bootstrap;
/* Record times: an hour ago and after (the broker deletes records older than its retention,
 * and refuses those more than an hour ahead), the same for the driver. */
static int64_t base;
static char run_id[32];

/* The topics, inputs first; each output is compared as its kind says. */
enum { L, R, T, U, V, F, INNER, LEFT, OUTER, ST, STI, VST, TT, TTI, TTL, FKI, FKL, NTOPICS };
enum { INPUT, STREAM, TABLE, TABLE_ROWS }; /* multiset; final row per key; ... without tombstones */
static const struct {
    const char *base, *what;
    int kind;
} topic_of[NTOPICS] = {
    [L] = {"jl", "L", INPUT},
    [R] = {"jr", "R", INPUT},
    [T] = {"jt", "T", INPUT},
    [U] = {"ju", "U", INPUT},
    [V] = {"jv", "V", INPUT},
    [F] = {"jf", "F", INPUT},
    [INNER] = {"jinner", "stream-stream inner", STREAM},
    [LEFT] = {"jleft", "stream-stream left", STREAM},
    [OUTER] = {"jouter", "stream-stream outer", STREAM},
    [ST] = {"jst", "stream-table left", STREAM},
    [STI] = {"jsti", "stream-table inner", STREAM},
    [VST] = {"jvst", "stream-table left, versioned, with grace", STREAM},
    [TT] = {"jtt", "table-table outer (final rows)", TABLE},
    [TTI] = {"jtti", "table-table inner (final rows)", TABLE_ROWS},
    [TTL] = {"jttl", "table-table left (final rows)", TABLE_ROWS},
    [FKI] = {"jfki", "foreign-key inner (final rows)", TABLE_ROWS},
    [FKL] = {"jfkl", "foreign-key left (final rows)", TABLE_ROWS},
};
static char topic[NTOPICS][64];
static const char *topics[NTOPICS];

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

/* F's foreign key: what follows the '|' of its value (none without one). */
static int after_bar(void *ud, rill_context_t *ctx, const rill_record_t *rec, rill_buf_t *out)
{
    (void)ud, (void)ctx;
    const char *v = rec->value.data, *bar = v ? memchr(v, '|', rec->value.len) : NULL;
    *out =
        bar ? (rill_buf_t){bar + 1, rec->value.len - (size_t)(bar + 1 - v)} : (rill_buf_t){NULL, 0};
    return 0;
}

static void to_topic(rill_table_t *table, int out)
{
    rill_stream_to(rill_table_to_stream(table), topic[out], NULL);
}

static rill_topology_t *topology(void)
{
    rill_topology_t *topo = rill_topology_new();
    rill_stream_t *l = rill_stream_from_topic(topo, topic[L], NULL);
    rill_stream_t *r = rill_stream_from_topic(topo, topic[R], NULL);
    rill_table_t *t = rill_table_from(topo, topic[T], NULL, NULL);
    rill_table_t *u = rill_table_from(topo, topic[U], NULL, NULL);
    rill_materialized_t versioned = {.versioned = true, .history_retention_ms = 60000};
    rill_table_t *v = rill_table_from(topo, topic[V], NULL, &versioned);
    rill_table_t *f = rill_table_from(topo, topic[F], NULL, NULL);
    rill_join_windows_t w = rill_join_windows(100, GRACE);
    rill_stream_to(rill_stream_join(l, r, concat, NULL, w, NULL), topic[INNER], NULL);
    rill_stream_to(rill_stream_left_join(l, r, concat, NULL, w, NULL), topic[LEFT], NULL);
    rill_stream_to(rill_stream_outer_join(l, r, concat, NULL, w, NULL), topic[OUTER], NULL);
    rill_stream_to(rill_stream_table_left_join(l, t, concat, NULL, NULL), topic[ST], NULL);
    rill_stream_to(rill_stream_table_join(l, t, concat, NULL, NULL), topic[STI], NULL);
    rill_join_opts_t grace = {.grace_ms = V_GRACE};
    rill_stream_to(rill_stream_table_left_join(l, v, concat, NULL, &grace), topic[VST], NULL);
    to_topic(rill_table_outer_join(t, u, concat, NULL, NULL), TT);
    to_topic(rill_table_join(t, u, concat, NULL, NULL), TTI);
    to_topic(rill_table_left_join(t, u, concat, NULL, NULL), TTL);
    to_topic(rill_table_fk_join(f, u, after_bar, NULL, concat, NULL, NULL), FKI);
    to_topic(rill_table_fk_left_join(f, u, after_bar, NULL, concat, NULL, NULL), FKL);
    return topo;
}

static void names(const char *id)
{
    snprintf(run_id, sizeof run_id, "%s", id);
    for (int i = 0; i < NTOPICS; i++) {
        snprintf(topic[i], sizeof topic[i], "%s-%s", topic_of[i].base, run_id);
        topics[i] = topic[i];
    }
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

/* Row i of F: version n of its value, naming U's key fk (none: -1; a tombstone: -2). */
static void add_f(int i, int n, int fk, int64_t ts)
{
    char k[16], v[24];
    snprintf(k, sizeof k, "f%d", i);
    if (fk >= 0)
        snprintf(v, sizeof v, "F%d.%d|k%d", i, n, fk);
    else
        snprintf(v, sizeof v, "F%d.%d", i, n);
    add(topic[F], k, fk == -2 ? NULL : v, ts, -1);
}

/* The tables (with updates and deletes), the two streams with F's second round of updates among
 * them, then the far-future records. Each stream's record times never decrease: then the joins'
 * results do not depend on how the consumer interleaves the partitions of the two topics (Kafka
 * Streams emits a left record unmatched at once when stream time is already past its window,
 * which an R record can only have pushed there if no later R record can match it), so the
 * driver's order gives them. V's versions of a key come out of timestamp order (the later ones
 * first), span the streams' times, and one is a delete; the versioned join's results then
 * depend on each L record's timestamp, and on no order: V is complete before L comes. */
static void make_input(size_t *tables_end, size_t *streams_end)
{
    input = calloc(4 * RECORDS + 4 * KEYS + 4 * FKEYS + 2 * PARTITIONS, sizeof *input);
    assert_non_null(input);
    char k[16], v[24];
    srand(7);
    for (int i = 0; i < KEYS; i += 2) { /* T has every other key, U every third */
        snprintf(k, sizeof k, "k%d", i);
        snprintf(v, sizeof v, "T%d", i);
        add(topic[T], k, v, i, -1);
    }
    for (int i = 0; i < KEYS; i += 3) {
        snprintf(k, sizeof k, "k%d", i);
        snprintf(v, sizeof v, "U%d", i);
        add(topic[U], k, v, 200 + i, -1);
        if (i % 9 == 0)
            add(topic[U], k, NULL, 400 + i, -1); /* deleted again */
        else if (i % 4 == 0)
            add(topic[T], k, NULL, 400 + i, -1);
    }
    static const int version_order[] = {2, 0, 3, 1};
    for (int i = 0; i < KEYS; i++) { /* V lacks every fifth key */
        for (int j = 0; j < 4 && i % 5 != 4; j++) {
            int n = version_order[j];
            snprintf(k, sizeof k, "k%d", i);
            snprintf(v, sizeof v, "V%d.%d", i, n);
            add(topic[V], k, i % 7 == 0 && n == 2 ? NULL : v, 500 + n * 3000 + i * 37 % 1000, -1);
        }
    }
    for (int i = 0; i < FKEYS; i++) { /* then some change their foreign key, some are deleted */
        add_f(i, 0, i % 10 == 3 ? -1 : i * 5 % KEYS, 600 + i);
        if (i % 3 == 0)
            add_f(i, 1, i * 7 % KEYS, 800 + i);
        if (i % 7 == 0)
            add_f(i, 2, -2, 900 + i);
    }
    *tables_end = ninput;
    for (int i = 0; i < RECORDS; i++) {
        int key = rand() % KEYS;
        snprintf(k, sizeof k, "k%d", key);
        snprintf(v, sizeof v, "L%d", i);
        add(topic[L], k, v, 1000 + i * 7 + rand() % 7, -1);
        key = rand() % KEYS;
        snprintf(k, sizeof k, "k%d", key);
        snprintf(v, sizeof v, "R%d", i);
        add(topic[R], k, v, 1000 + i * 7 + rand() % 7, -1);
        int fi = i / 10; /* F's second round: added back, foreign keys changed, deleted */
        if (i % 10 == 0 && fi < FKEYS && (fi % 4 == 1 || fi % 7 == 0))
            add_f(fi, 3, fi * 11 % KEYS, 1000 + i * 7);
        else if (i % 10 == 5 && fi < FKEYS && fi % 8 == 2)
            add_f(fi, 4, -2, 1000 + i * 7);
    }
    *streams_end = ninput;
    for (int p = 0; p < PARTITIONS; p++) {
        add(topic[L], "far", "Lfar", 12000 + 7 * RECORDS + GRACE, p);
        add(topic[R], "far", "Rfar", 12000 + 7 * RECORDS + GRACE, p);
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

/* Reads the topics first to last (read_committed or not), topic k's records into s[k], until
 * all have been idle for idle_ms: one consumer for all, so the idle wait is paid once. */
static void read_topics(int first, int last, bool committed, int idle_ms, seen_t *s)
{
    char err[256], group[128];
    snprintf(group, sizeof group, "join-verifier-%s-%d", topic[first], rand());
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
    rd_kafka_topic_partition_list_t *parts =
        rd_kafka_topic_partition_list_new(PARTITIONS * (last - first + 1));
    for (int k = first; k <= last; k++)
        for (int p = 0; p < PARTITIONS; p++)
            rd_kafka_topic_partition_list_add(parts, topic[k], p)->offset =
                RD_KAFKA_OFFSET_BEGINNING;
    rd_kafka_assign(rk, parts);
    rd_kafka_topic_partition_list_destroy(parts);
    for (int idle = 0; idle < idle_ms; idle += 100) {
        rd_kafka_message_t *m = rd_kafka_consumer_poll(rk, 100);
        if (!m)
            continue;
        int k = first;
        while (k < last && strcmp(rd_kafka_topic_name(m->rkt), topic[k]) != 0)
            k++;
        if (!m->err) {
            see(&s[k], (rill_buf_t){m->key, m->key_len}, (rill_buf_t){m->payload, m->len});
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

/* The last row per key (the table's final state); a key's final tombstone is kept, or with
 * rows_only dropped (the key has no row). */
static void finals(seen_t *s, bool rows_only)
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
    *s = (seen_t){0};
    for (size_t i = 0; i < last.n; i++)
        if (rows_only && strcmp(strchr(last.kv[i], '=') + 1, "null") == 0)
            free(last.kv[i]);
        else
            s->kv[s->n++] = last.kv[i];
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

/* Whether group has consumed every partition of topic, which only transactions write, to its
 * end: no committed record follows its committed offsets. (The end offset is no test: the
 * transaction markers after the last record take offsets too.) */
static bool consumed_to_end(const char *group, const char *name)
{
    char err[256];
    rd_kafka_conf_t *kc = rd_kafka_conf_new();
    const char *kv[][2] = {{"bootstrap.servers", bootstrap},
                           {"group.id", group},
                           {"enable.auto.commit", "false"},
                           {"isolation.level", "read_committed"},
                           {"enable.partition.eof", "true"}};
    for (size_t i = 0; i < sizeof kv / sizeof kv[0]; i++)
        rd_kafka_conf_set(kc, kv[i][0], kv[i][1], err, sizeof err);
    rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_CONSUMER, kc, err, sizeof err);
    assert_non_null(rk);
    rd_kafka_poll_set_consumer(rk);
    rd_kafka_topic_partition_list_t *parts = rd_kafka_topic_partition_list_new(PARTITIONS);
    for (int p = 0; p < PARTITIONS; p++)
        rd_kafka_topic_partition_list_add(parts, name, p);
    /* Assigned, not subscribed: the group is only read, and nothing is committed to it. */
    bool at_end = rd_kafka_committed(rk, parts, 10000) == 0;
    for (int p = 0; p < PARTITIONS; p++)
        if (parts->elems[p].offset < 0)
            parts->elems[p].offset = RD_KAFKA_OFFSET_BEGINNING;
    rd_kafka_assign(rk, parts);
    rd_kafka_topic_partition_list_destroy(parts);
    for (int eofs = 0, waited = 0; at_end && eofs < PARTITIONS; waited += 100) {
        rd_kafka_message_t *m = rd_kafka_consumer_poll(rk, 100);
        if (m && m->err == RD_KAFKA_RESP_ERR__PARTITION_EOF)
            eofs++;
        else if (m || waited > 10000)
            at_end = false; /* a record (or an error): not consumed yet */
        if (m)
            rd_kafka_message_destroy(m);
    }
    rd_kafka_assign(rk, NULL);
    rd_kafka_destroy(rk);
    return at_end;
}

/* Waits until the app has consumed to their ends its internal topics named "<app_id><infix>..."
 * (both foreign-key joins have one of each). */
static void wait_internal_at_end(const char *app_id, const char *infix)
{
    rd_kafka_t *rk = kafka_admin(bootstrap);
    assert_non_null(rk);
    const struct rd_kafka_metadata *md;
    assert_int_equal(rd_kafka_metadata(rk, 1, NULL, &md, 10000), 0);
    int found = 0;
    for (int i = 0; i < md->topic_cnt; i++) {
        const char *name = md->topics[i].topic;
        size_t n = strlen(app_id);
        if (strncmp(name, app_id, n) != 0 || strncmp(name + n, infix, strlen(infix)) != 0)
            continue;
        assert_int_equal(md->topics[i].partition_cnt, PARTITIONS);
        for (int waited = 0; !consumed_to_end(app_id, name); waited += 100) {
            if (waited > 60000)
                fail_msg("within 60000 ms: group %s has not consumed %s to its end", app_id, name);
            struct timespec ts = {0, 100 * 1000000};
            nanosleep(&ts, NULL);
        }
        found++;
    }
    rd_kafka_metadata_destroy(md);
    rd_kafka_destroy(rk);
    assert_int_equal(found, 2);
}

static void expected(seen_t out[NTOPICS])
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
    for (int i = 0; i < NTOPICS; i++)
        rill_test_driver_set_partitions(d, topic[i], PARTITIONS);
    for (size_t i = 0; i < ninput; i++)
        if (rill_test_driver_pipe(d, input[i].topic, input[i].partition, rill_buf_str(input[i].key),
                                  value_of(&input[i]), input[i].ts))
            fail_msg("test driver: %s", rill_test_driver_error(d));
    for (int k = 0; k < NTOPICS; k++) {
        rill_test_record_t rec;
        while (topic_of[k].kind != INPUT && rill_test_driver_read(d, topic[k], &rec) == 0)
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
    for (int i = 0; i < NTOPICS; i++)
        assert_int_equal(kafka_create_topic(bootstrap, topic[i], PARTITIONS), 0);
    size_t tables_end, streams_end;
    make_input(&tables_end, &streams_end);
    snprintf(state_dir, sizeof state_dir, "/tmp/rill-join-eos-%s", run_id);
    const char *dir = getenv("RILL_TEST_LOG_DIR");
    snprintf(log, sizeof log, "%s/test_join_kafka-app.log", dir ? dir : "/tmp");

    produce(0, tables_end);
    pid_t app = spawn(self, state_dir, log);
    for (int i = T; i <= F; i++)
        kafka_wait_committed_at_end(bootstrap, app_id, topic[i], PARTITIONS,
                                    i == T ? 120000 : 60000);
    produce(tables_end, streams_end);
    /* In flight: an output record visible before its transaction commits. */
    seen_t *want = calloc(NTOPICS, sizeof *want), *got = calloc(NTOPICS, sizeof *got);
    assert_true(want && got);
    for (int waited = 0; got[INNER].n == 0 && waited < 60000; waited += 1000)
        read_topics(INNER, INNER, false, 1000, got);
    assert_true(got[INNER].n > 0);
    seen_free(&got[INNER]);
    if (!getenv("RILL_TEST_NO_KILL")) {
        assert_int_equal(kill(app, SIGKILL), 0);
        waitpid(app, NULL, 0);
        print_message("killed the app in flight; restarting it\n");
        app = spawn(self, state_dir, log);
    }
    kafka_wait_committed_at_end(bootstrap, app_id, topic[L], PARTITIONS, 120000);
    kafka_wait_committed_at_end(bootstrap, app_id, topic[R], PARTITIONS, 60000);
    produce(streams_end, ninput);
    for (int i = L; i <= F; i++)
        kafka_wait_committed_at_end(bootstrap, app_id, topic[i], PARTITIONS, 60000);
    /* The foreign-key joins' last subscriptions are in their topics now, and once those are
     * consumed, their last responses. */
    wait_internal_at_end(app_id, "-KTABLE-FK-JOIN-SUBSCRIPTION-REGISTRATION-");
    wait_internal_at_end(app_id, "-KTABLE-FK-JOIN-SUBSCRIPTION-RESPONSE-");
    kill(app, SIGTERM);
    int status;
    waitpid(app, &status, 0);
    assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);

    expected(want);
    read_topics(INNER, NTOPICS - 1, true, 3000, got);
    for (int k = INNER; k < NTOPICS; k++) {
        if (topic_of[k].kind != STREAM) {
            finals(&got[k], topic_of[k].kind == TABLE_ROWS);
            finals(&want[k], topic_of[k].kind == TABLE_ROWS);
        }
        assert_same(topic_of[k].what, &want[k], &got[k]);
        seen_free(&got[k]);
        seen_free(&want[k]);
    }
    for (int i = 0; i < NTOPICS; i += 8)
        kafka_delete_topics(bootstrap, topics + i, NTOPICS - i < 8 ? NTOPICS - i : 8);
    free(want);
    free(got);
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
