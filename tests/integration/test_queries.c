/*
 * Interactive queries and the Processor API's stores on the embedded cluster, written to catch
 * concurrency and lifetime bugs rather than to show the happy path:
 *
 * - query threads hammer every query function (get, range, prefix, all, windows, sessions,
 *   partition) of an app with two stream threads while it counts 50,000 records into a RocksDB
 *   store, an in-memory store, a window store, a session store and a window store whose segments
 *   expire under the queries; each thread checks invariants as it reads (counts never decrease,
 *   values decode, windows are aligned, sessions agree with the input), the totals read at the end
 *   are exact, and the queries go on while the app closes;
 * - the same while a second instance joins the group and leaves it: tasks move away and back,
 *   queries answer RILL_ENOENT or good data, never garbage, and the first instance takes every
 *   task back with nothing lost;
 * - the error codes: not running, unknown store, store of another kind, internal store;
 * - a user processor with stores (rill_topology_add_store): an idempotent consumer that emits a
 *   key the first time it is seen, a wall-clock punctuator scanning its store, the changelog
 *   holding the keys, and a restart that restores the store so old keys stay deduplicated.
 *
 * Query threads never call cmocka's asserts (they would jump into the main thread's frame): they
 * record the first failure, which the main thread reports. Every wait polls a condition with a
 * deadline. Each test has its own state.dir under one mkdtemp directory, removed at the end.
 */
#define _GNU_SOURCE /* mkdtemp, nftw, pthread_timedjoin_np */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <rill/app.h>
#include <rill/dsl.h>

#include <errno.h>
#include <ftw.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "../common/kafka_util.h"

/* ---- time, waits, directories ---- */

static double now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1000.0 + (double)ts.tv_nsec / 1e6;
}

static void pause_ms(int ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

/* Polls cond(ud) every 10 ms until it holds or timeout_ms passed; returns whether it held. */
static bool wait_for(bool (*cond)(void *ud), void *ud, int timeout_ms)
{
    double deadline = now_ms() + timeout_ms;
    while (!cond(ud)) {
        if (now_ms() > deadline)
            return cond(ud);
        pause_ms(10);
    }
    return true;
}

static char state_root[64]; /* the mkdtemp directory of this run */

static int remove_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    return remove(path);
}

static int make_state_root(void **state)
{
    snprintf(state_root, sizeof state_root, "/tmp/rill-test-queries-XXXXXX");
    return mkdtemp(state_root) ? 0 : -1;
}

static int remove_state_root(void **state)
{
    return nftw(state_root, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
}

static rill_conf_t *conf_for(const char *app_id, const char *dir, int threads)
{
    rill_conf_t *conf = rill_conf_new();
    char err[256], path[256], n[16];
    snprintf(path, sizeof path, "%s/%s", state_root, dir);
    snprintf(n, sizeof n, "%d", threads);
    assert_int_equal(rill_conf_set(conf, "application.id", app_id, err, sizeof err), 0);
    assert_int_equal(rill_conf_set(conf, "default.key.serde", "string", err, sizeof err), 0);
    assert_int_equal(rill_conf_set(conf, "default.value.serde", "string", err, sizeof err), 0);
    assert_int_equal(rill_conf_set(conf, "commit.interval.ms", "200", err, sizeof err), 0);
    assert_int_equal(rill_conf_set(conf, "state.dir", path, err, sizeof err), 0);
    assert_int_equal(rill_conf_set(conf, "num.stream.threads", n, err, sizeof err), 0);
    return conf;
}

/* A second instance reaches the first one's embedded cluster by address, so it does not get the
 * embedded default session timeout (rebalances would wait 44 s). */
static rill_conf_t *conf_joining(const char *app_id, const char *dir, int threads,
                                 const char *bootstrap)
{
    rill_conf_t *conf = conf_for(app_id, dir, threads);
    char err[256];
    assert_int_equal(rill_conf_set(conf, "bootstrap.servers", bootstrap, err, sizeof err), 0);
    assert_int_equal(rill_conf_set(conf, "consumer.session.timeout.ms", "6000", err, sizeof err),
                     0);
    /* A failure to start should not take the default 30 s. */
    assert_int_equal(rill_conf_set(conf, "cluster.connect.timeout.ms", "10000", err, sizeof err),
                     0);
    return conf;
}

static void start_app(rill_app_t *app, const char *which)
{
    int rc = rill_app_start(app);
    if (rc) {
        char msg[1024];
        fail_msg("rill_app_start (%s): %s: %s", which, rill_err_name(rc),
                 rill_app_error(app, msg, sizeof msg));
    }
}

typedef struct {
    rill_app_t *app;
    const char *metric;
    int64_t value;
} metric_wait_t;

static bool metric_is(void *ud)
{
    metric_wait_t *w = ud;
    return rill_app_metric(w->app, w->metric) == w->value;
}

static bool metric_at_least(void *ud)
{
    metric_wait_t *w = ud;
    return rill_app_metric(w->app, w->metric) >= w->value;
}

static void wait_metric(rill_app_t *app, const char *metric, int64_t value, bool exact,
                        int timeout_ms)
{
    metric_wait_t w = {app, metric, value};
    if (!wait_for(exact ? metric_is : metric_at_least, &w, timeout_ms))
        fail_msg("metric %s is %lld, not %s%lld within %d ms", metric,
                 (long long)rill_app_metric(app, metric), exact ? "" : ">= ", (long long)value,
                 timeout_ms);
}

/* The apps a test made and has not destroyed: after a failure the teardown destroys them, the
 * latest first (an instance that joined another's embedded cluster goes before its owner). */
static rill_app_t *tracked[4];

static rill_app_t *track(rill_app_t *app)
{
    for (int i = 0; app && i < 4; i++)
        if (!tracked[i]) {
            tracked[i] = app;
            break;
        }
    return app;
}

static void destroy_app(rill_app_t *app)
{
    for (int i = 0; i < 4; i++)
        if (tracked[i] == app)
            tracked[i] = NULL;
    rill_app_destroy(app);
}

/* The test's producer and topology, likewise (the producer would go on calling a destroyed
 * cluster). */
static rill_producer_t *tracked_producer;
static rill_topology_t *tracked_topo;

static rill_topology_t *track_topology(rill_topology_t *topo)
{
    return tracked_topo = topo;
}

static void unref_topology(rill_topology_t *topo)
{
    if (tracked_topo == topo)
        tracked_topo = NULL;
    rill_topology_unref(topo);
}

static rill_producer_t *new_producer(rill_app_t *app)
{
    char err[512];
    rill_producer_t *p = rill_producer_new(rill_app_bootstrap_servers(app), err, sizeof err);
    if (!p)
        fail_msg("rill_producer_new: %s", err);
    return tracked_producer = p;
}

static void destroy_producer(rill_producer_t *p)
{
    if (tracked_producer == p)
        tracked_producer = NULL;
    rill_producer_destroy(p);
}

/* ---- the input and what it must add up to ----
 *
 * Record i has key "key-<i % N_KEYS>" and timestamp T0 + i * STEP_MS, plus a jump of JUMP_MS
 * every BLOCK records. A key's records are N_KEYS * STEP_MS = 400 ms apart, so a tumbling window
 * of WIN_MS holds 2 or 3 of them, and with a session gap of SESSION_GAP_MS each key has one
 * session per block, whose count is determined by its bounds. */

#define N_KEYS             200
#define N_PARTITIONS       4
#define T0                 INT64_C(1700000000000) /* a multiple of WIN_MS */
#define STEP_MS            2
#define BLOCK              10000
#define JUMP_MS            60000
#define WIN_MS             1000
#define SESSION_GAP_MS     5000
#define SHORT_RETENTION_MS 20000 /* win-short: its 60 s segments expire while queries read */
#define KEY_STEP_MS        ((int64_t)N_KEYS * STEP_MS)
#define MAX_RECORDS        50000 /* the most any test produces */
#define MAX_BLOCKS         ((MAX_RECORDS + BLOCK - 1) / BLOCK)

static int64_t record_ts(int i)
{
    return T0 + (int64_t)i * STEP_MS + (int64_t)(i / BLOCK) * JUMP_MS;
}

static void key_name(int k, char *buf)
{
    snprintf(buf, 16, "key-%03d", k);
}

/* Returns the index of a key "key-ddd", or -1 for anything else. */
static int key_index(rill_buf_t key)
{
    const char *s = key.data;
    if (key.len != 7 || memcmp(s, "key-", 4) != 0)
        return -1;
    int k = 0;
    for (int i = 4; i < 7; i++) {
        if (s[i] < '0' || s[i] > '9')
            return -1;
        k = k * 10 + (s[i] - '0');
    }
    return k < N_KEYS ? k : -1;
}

typedef struct {
    int records; /* how many records the model covers */
    int nwin;    /* windows from T0 */
    int64_t per_key[N_KEYS];
    int32_t *win; /* [key * nwin + window]: the final count of each window */
    int64_t first[N_KEYS][MAX_BLOCKS], last[N_KEYS][MAX_BLOCKS]; /* session bounds; 0: none */
    int32_t count[N_KEYS][MAX_BLOCKS];
    int64_t max_ts;
} model_t;

static model_t model;

static void model_build(int records)
{
    free(model.win);
    memset(&model, 0, sizeof model);
    model.records = records;
    model.max_ts = record_ts(records - 1);
    model.nwin = (int)((model.max_ts - T0) / WIN_MS) + 1;
    model.win = calloc((size_t)N_KEYS * (size_t)model.nwin, sizeof *model.win);
    assert_non_null(model.win);
    for (int i = 0; i < records; i++) {
        int k = i % N_KEYS, b = i / BLOCK;
        int64_t ts = record_ts(i);
        model.per_key[k]++;
        model.win[k * model.nwin + (int)((ts - T0) / WIN_MS)]++;
        if (!model.first[k][b])
            model.first[k][b] = ts;
        model.last[k][b] = ts;
        model.count[k][b]++;
    }
}

static void model_free(void)
{
    free(model.win);
    model.win = NULL;
}

static void produce(rill_producer_t *p, const char *topic, int from, int to)
{
    for (int i = from; i < to; i++) {
        char k[16];
        key_name(i % N_KEYS, k);
        assert_int_equal(
            rill_producer_send(p, topic, -1, rill_buf_str(k), rill_buf_str("v"), record_ts(i)), 0);
    }
}

/* The app of the first three tests: one grouped stream of "events" and its aggregations; full
 * adds win-short and sessions (changelogs that are slow to restore, so the rebalance test goes
 * without them) and an unnamed, internal count. */
static bool full_topology;

static rill_topology_t *counting_topology(bool full, const char **internal_store)
{
    full_topology = full;
    rill_topology_t *topo = rill_topology_new();
    rill_grouped_t *g = rill_stream_group_by_key(
        rill_stream_from_topic(topo, "events",
                               &(rill_source_opts_t){.key_serde = rill_serde_string(),
                                                     .value_serde = rill_serde_string()}),
        NULL);
    rill_grouped_count(g, &(rill_materialized_t){.name = "counts", .backend = RILL_STORE_ROCKSDB});
    rill_grouped_count(
        g, &(rill_materialized_t){.name = "counts-mem", .backend = RILL_STORE_IN_MEMORY});
    rill_windowed_count(rill_grouped_windowed_by(g, rill_windows_tumbling(WIN_MS, 0)),
                        &(rill_materialized_t){.name = "win", .retention_ms = 86400000});
    if (full) {
        rill_windowed_count(rill_grouped_windowed_by(g, rill_windows_tumbling(WIN_MS, 0)),
                            &(rill_materialized_t){.name = "win-short",
                                                   .backend = RILL_STORE_ROCKSDB,
                                                   .retention_ms = SHORT_RETENTION_MS});
        rill_windowed_count(rill_grouped_windowed_by(g, rill_windows_session(SESSION_GAP_MS, 0)),
                            &(rill_materialized_t){.name = "sessions", .retention_ms = 86400000});
        rill_table_t *hidden = rill_grouped_count(g, NULL);
        if (internal_store)
            *internal_store = rill_table_store_name(hidden);
    }
    char err[512];
    if (rill_topology_build(topo, err, sizeof err))
        fail_msg("%s", err);
    return topo;
}

/* ---- query threads ---- */

typedef struct {
    rill_app_t *app;
    int id;
    pthread_t tid;
    unsigned seed;
    /* Tasks may move (another instance, or the app's own threads rebalancing): a key may be
     * absent or remote. */
    atomic_bool moving;
    /* Tasks have moved: at-least-once may have counted a record twice, so counts are only
     * bounded below. */
    atomic_bool twice;
    int64_t last_count[N_KEYS], last_mem[N_KEYS];
    int32_t *last_win; /* [key * nwin + window] */
    int32_t partition[N_KEYS];
    signed char local[N_KEYS]; /* -1: not asked yet */
    /* what it saw */
    atomic_long queries;
    _Atomic double busy_since; /* when the query under way started (now_ms), or 0 */
    int busy_with;             /* which query (querier_main's switch) */
    long rows, estate_after_close, vanished, remote, flips;
    double max_ms;
    int errors;
    char error[600];
} querier_t;

static atomic_bool q_stop, q_closing;
static int queriers_running; /* started and not yet joined (the teardown joins them) */

static void qfail(querier_t *q, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void qfail(querier_t *q, const char *fmt, ...)
{
    if (q->errors++)
        return;
    int n = snprintf(q->error, sizeof q->error, "query thread %d: ", q->id);
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(q->error + n, sizeof q->error - (size_t)n, fmt, ap);
    va_end(ap);
}

static bool strict(querier_t *q)
{
    return !atomic_load(&q->moving) && !atomic_load(&q_closing);
}

/* Judges a query's result code; returns whether there are rows to check. After the close
 * started, RILL_ESTATE is the answer; before it, any error is a failure. */
static bool q_rc(querier_t *q, const char *what, int rc)
{
    if (rc == 0)
        return true;
    if (rc == RILL_ESTATE && atomic_load(&q_closing))
        q->estate_after_close++;
    else
        qfail(q, "%s: %s", what, rill_err_name(rc));
    return false;
}

/* Checks one count read from store for key k (an int64 >= 1, never less than this thread read
 * before, never more than the input holds unless records may be counted twice). */
static void check_count(querier_t *q, const char *store, int k, rill_buf_t v, int64_t *last)
{
    if (v.len != 8) {
        qfail(q, "%s: key-%03d: a value of %zu bytes, not an int64", store, k, v.len);
        return;
    }
    int64_t n = rill_decode_i64(v.data);
    if (n < 1)
        qfail(q, "%s: key-%03d: count %lld", store, k, (long long)n);
    else if (n < last[k])
        qfail(q, "%s: key-%03d: count went down from %lld to %lld", store, k, (long long)last[k],
              (long long)n);
    else if (!atomic_load(&q->twice) && n > model.per_key[k])
        qfail(q, "%s: key-%03d: count %lld, but only %lld records have this key", store, k,
              (long long)n, (long long)model.per_key[k]);
    if (n > last[k])
        last[k] = n;
}

static void q_get(querier_t *q, const char *store, int k, int64_t *last)
{
    char key[16];
    key_name(k, key);
    rill_bytes_t v = {0};
    int64_t ts = 0;
    int rc = rill_app_query_get(q->app, store, rill_buf_str(key), &v, &ts);
    if (rc == RILL_ENOENT) {
        /* A key, once counted, stays unless its task left this instance. */
        if (last[k] > 0 && strict(q))
            qfail(q, "get %s %s: RILL_ENOENT after a count of %lld", store, key,
                  (long long)last[k]);
        q->vanished += last[k] > 0;
    } else if (q_rc(q, "get", rc)) {
        check_count(q, store, k, (rill_buf_t){v.data, v.len}, last);
        if (ts < T0 || ts > model.max_ts)
            qfail(q, "get %s %s: timestamp %lld is no record's", store, key, (long long)ts);
        q->rows++;
    }
    rill_bytes_free(&v);
}

typedef struct {
    querier_t *q;
    const char *store;
    int64_t *last;
    int lo, hi;         /* key indexes expected, inclusive */
    const char *prefix; /* or NULL */
    unsigned char seen[N_KEYS];
    int rows, stop_after, calls_after_stop;
} range_check_t;

static bool range_row(void *ud, rill_buf_t key, rill_buf_t value, int64_t ts)
{
    range_check_t *r = ud;
    if (r->stop_after && r->rows >= r->stop_after) {
        r->calls_after_stop++;
        return false;
    }
    r->rows++;
    r->q->rows++;
    int k = key_index(key);
    if (k < 0) {
        qfail(r->q, "%s: a row with key '%.*s' (%zu bytes)", r->store, (int)key.len,
              (const char *)key.data, key.len);
        return true;
    }
    if (k < r->lo || k > r->hi)
        qfail(r->q, "%s: key-%03d outside the range key-%03d..key-%03d", r->store, k, r->lo, r->hi);
    if (r->prefix && strncmp(key.data, r->prefix, strlen(r->prefix)) != 0)
        qfail(r->q, "%s: key-%03d does not start with '%s'", r->store, k, r->prefix);
    if (r->seen[k]++)
        qfail(r->q, "%s: key-%03d came twice in one scan", r->store, k);
    check_count(r->q, r->store, k, value, r->last);
    if (ts < T0 || ts > model.max_ts)
        qfail(r->q, "%s: key-%03d: timestamp %lld is no record's", r->store, k, (long long)ts);
    return !(r->stop_after && r->rows >= r->stop_after);
}

static void q_range(querier_t *q, const char *store, int64_t *last, int kind)
{
    range_check_t r = {.q = q, .store = store, .last = last, .lo = 0, .hi = N_KEYS - 1};
    char from[16], to[16], prefix[16];
    int rc;
    if (kind == 0) { /* range; now and then upside down, which holds nothing */
        r.lo = (int)(rand_r(&q->seed) % N_KEYS);
        r.hi = r.lo + (int)(rand_r(&q->seed) % (unsigned)(N_KEYS - r.lo));
        bool upside_down = r.hi > r.lo && rand_r(&q->seed) % 8 == 0;
        key_name(upside_down ? r.hi : r.lo, from);
        key_name(upside_down ? r.lo : r.hi, to);
        if (upside_down)
            r.hi = -1; /* every row is out of range */
        rill_buf_t f = rill_buf_str(from), t = rill_buf_str(to);
        rc = rill_app_query_range(q->app, store, &f, &t, range_row, &r);
    } else if (kind == 1) { /* prefix "key-1d": ten keys */
        int d = (int)(rand_r(&q->seed) % 10);
        snprintf(prefix, sizeof prefix, "key-1%d", d);
        r.prefix = prefix;
        r.lo = 100 + 10 * d;
        r.hi = r.lo + 9;
        rc = rill_app_query_prefix(q->app, store, rill_buf_str(prefix), range_row, &r);
    } else if (kind == 2) { /* all */
        rc = rill_app_query_all(q->app, store, range_row, &r);
    } else { /* all, stopping early: the callback is not called again after it said stop */
        r.stop_after = 1 + (int)(rand_r(&q->seed) % 5);
        rc = rill_app_query_all(q->app, store, range_row, &r);
        if (r.calls_after_stop)
            qfail(q, "all %s: the callback was called %d times after it returned false", store,
                  r.calls_after_stop);
    }
    q_rc(q, kind == 0 ? "range" : kind == 1 ? "prefix" : "all", rc);
}

typedef struct {
    querier_t *q;
    const char *store;
    int key; /* -1: any */
    int64_t from, to, prev_start;
    bool track; /* windows never expire: counts never go down */
    int rows, stop_after, calls_after_stop;
} window_check_t;

static bool window_row(void *ud, rill_buf_t key, int64_t start, rill_buf_t value, int64_t ts)
{
    window_check_t *w = ud;
    querier_t *q = w->q;
    if (w->stop_after && w->rows >= w->stop_after) {
        w->calls_after_stop++;
        return false;
    }
    w->rows++;
    q->rows++;
    int k = key_index(key);
    if (k < 0 || (w->key >= 0 && k != w->key)) {
        qfail(q, "windows %s: a row with key '%.*s'", w->store, (int)key.len,
              (const char *)key.data);
        return false;
    }
    if (start % WIN_MS != 0 || start < w->from || start > w->to || start < T0 ||
        start > model.max_ts) {
        qfail(q, "windows %s: key-%03d: window start %lld (asked %lld..%lld, size %d)", w->store, k,
              (long long)start, (long long)w->from, (long long)w->to, WIN_MS);
        return false;
    }
    if (w->key >= 0 && start <= w->prev_start)
        qfail(q, "windows %s: key-%03d: start %lld after %lld: not by start", w->store, k,
              (long long)start, (long long)w->prev_start);
    w->prev_start = start;
    if (value.len != 8) {
        qfail(q, "windows %s: key-%03d@%lld: %zu bytes", w->store, k, (long long)start, value.len);
        return false;
    }
    int64_t n = rill_decode_i64(value.data);
    int idx = k * model.nwin + (int)((start - T0) / WIN_MS);
    int32_t expect = model.win[idx];
    if (n < 1 || (!atomic_load(&q->twice) && n > expect))
        qfail(q, "windows %s: key-%03d@%lld: count %lld, the window holds %d records", w->store, k,
              (long long)start, (long long)n, expect);
    if (ts < start || ts >= start + WIN_MS)
        qfail(q, "windows %s: key-%03d@%lld: timestamp %lld outside the window", w->store, k,
              (long long)start, (long long)ts);
    if (w->track) {
        if (n < q->last_win[idx])
            qfail(q, "windows %s: key-%03d@%lld: count went down from %d to %lld", w->store, k,
                  (long long)start, q->last_win[idx], (long long)n);
        else
            q->last_win[idx] = (int32_t)n;
    }
    return !(w->stop_after && w->rows >= w->stop_after);
}

static void q_windows(querier_t *q, const char *store, bool one_key, bool track)
{
    int64_t span = model.max_ts - T0;
    int64_t from = T0 + (int64_t)(rand_r(&q->seed) % (unsigned)(span / WIN_MS)) * WIN_MS;
    int64_t to = one_key ? INT64_MAX : from + 5 * WIN_MS;
    if (one_key && rand_r(&q->seed) % 2)
        from = 0;
    window_check_t w = {q, store, -1, from, to, INT64_MIN, track, 0, 0, 0};
    char key[16] = "";
    if (one_key) {
        w.key = (int)(rand_r(&q->seed) % N_KEYS);
        key_name(w.key, key);
    } else if (rand_r(&q->seed) % 4 == 0) {
        w.stop_after = 1 + (int)(rand_r(&q->seed) % 50); /* across tasks, it stops for good */
    }
    rill_buf_t k = one_key ? rill_buf_str(key) : (rill_buf_t){NULL, 0};
    int rc = rill_app_query_windows(q->app, store, k, from, to, window_row, &w);
    if (one_key && rc == RILL_ENOENT)
        return; /* its task is not here (not made yet, or moved); q_get checks vanishing */
    q_rc(q, "windows", rc);
    if (w.calls_after_stop)
        qfail(q, "windows %s: the callback was called %d times after it returned false", store,
              w.calls_after_stop);
}

typedef struct {
    querier_t *q;
    int key, rows;
} session_check_t;

/* A session of key k started at the first record of a block; the records of k in it are
 * KEY_STEP_MS apart, so its end and count follow from its start. */
static bool session_row(void *ud, rill_buf_t key, int64_t start, int64_t end, rill_buf_t value,
                        int64_t ts)
{
    session_check_t *s = ud;
    querier_t *q = s->q;
    s->rows++;
    q->rows++;
    int k = key_index(key);
    if (k != s->key) {
        qfail(q, "sessions: asked key-%03d, got '%.*s'", s->key, (int)key.len,
              (const char *)key.data);
        return false;
    }
    int b = 0;
    while (b < MAX_BLOCKS && model.first[k][b] != start)
        b++;
    if (value.len != 8) {
        qfail(q, "sessions: key-%03d [%lld, %lld]: %zu bytes", k, (long long)start, (long long)end,
              value.len);
        return false;
    }
    int64_t n = rill_decode_i64(value.data);
    if (b == MAX_BLOCKS || end < start || end > model.last[k][b] ||
        (end - start) % KEY_STEP_MS != 0) {
        qfail(q, "sessions: key-%03d [%lld, %lld] = %lld: bounds no input makes", k,
              (long long)start, (long long)end, (long long)n);
        return false;
    }
    if (n < 1 || (!atomic_load(&q->twice) && n != (end - start) / KEY_STEP_MS + 1))
        qfail(q, "sessions: key-%03d [%lld, %lld]: count %lld, the session holds %lld records", k,
              (long long)start, (long long)end, (long long)n,
              (long long)((end - start) / KEY_STEP_MS + 1));
    if (ts != end)
        qfail(q, "sessions: key-%03d [%lld, %lld]: timestamp %lld, not the session's end", k,
              (long long)start, (long long)end, (long long)ts);
    return true;
}

static void q_sessions(querier_t *q, int k)
{
    char key[16];
    key_name(k, key);
    session_check_t s = {q, k, 0};
    int rc = rill_app_query_sessions(q->app, "sessions", rill_buf_str(key), session_row, &s);
    if (rc == RILL_ENOENT)
        return; /* its task is not here (not made yet, or moved); q_get checks vanishing */
    q_rc(q, "sessions", rc);
}

static void q_partition(querier_t *q, int k)
{
    static const char *stores[] = {"counts", "counts-mem", "win", "sessions"};
    int n = full_topology ? 4 : 3;
    char key[16];
    key_name(k, key);
    const char *store = stores[rand_r(&q->seed) % (unsigned)n];
    int32_t p = -1;
    bool local = false;
    bool was_strict = strict(q);
    int rc = rill_app_query_partition(q->app, store, rill_buf_str(key), &p, &local);
    if (!q_rc(q, "partition", rc))
        return;
    if (p < 0 || p >= N_PARTITIONS)
        qfail(q, "partition %s %s: %d of %d", store, key, p, N_PARTITIONS);
    else if (q->partition[k] < 0)
        q->partition[k] = p;
    else if (q->partition[k] != p)
        qfail(q, "partition %s %s: %d, was %d", store, key, p, q->partition[k]);
    if (!local && was_strict && strict(q))
        qfail(q, "partition %s %s: not local, though no task moves", store, key);
    q->remote += !local;
    if (q->local[k] >= 0 && q->local[k] != local)
        q->flips++;
    q->local[k] = local;
}

static void *querier_main(void *arg)
{
    querier_t *q = arg;
    while (!atomic_load(&q_stop)) {
        int k = (int)(rand_r(&q->seed) % N_KEYS);
        int what = (int)(rand_r(&q->seed) % 12);
        double t0 = now_ms();
        q->busy_with = what;
        atomic_store(&q->busy_since, t0);
        switch (what) {
        case 0:
            q_partition(q, k);
            break;
        case 1:
            q_get(q, "counts", k, q->last_count);
            break;
        case 2:
            q_get(q, "counts-mem", k, q->last_mem);
            break;
        case 3:
        case 4:
            q_range(q, what == 3 ? "counts" : "counts-mem", what == 3 ? q->last_count : q->last_mem,
                    0);
            break;
        case 5:
        case 6: {
            /* Each store under its own last[]: the two flush at different moments, so counts
             * read from one may be ahead of the other's. */
            bool mem = rand_r(&q->seed) % 2;
            int kind = what == 5 ? 1 : 2 + (int)(rand_r(&q->seed) % 2);
            q_range(q, mem ? "counts-mem" : "counts", mem ? q->last_mem : q->last_count, kind);
            break;
        }
        case 7:
        case 8:
            q_windows(q, "win", true, true);
            break;
        case 9:
            q_windows(q, rand_r(&q->seed) % 2 && full_topology ? "win-short" : "win", false, false);
            break;
        case 10:
            q_windows(q, full_topology ? "win-short" : "win", true, !full_topology);
            break;
        default:
            if (full_topology)
                q_sessions(q, k);
            else
                q_get(q, "counts", k, q->last_count);
            break;
        }
        atomic_store(&q->busy_since, 0.0);
        double ms = now_ms() - t0;
        if (ms > q->max_ms)
            q->max_ms = ms;
        atomic_fetch_add(&q->queries, 1);
    }
    return NULL;
}

static void queriers_start(querier_t *qs, int n, rill_app_t *app, bool moving, bool twice)
{
    atomic_store(&q_stop, false);
    atomic_store(&q_closing, false);
    for (int i = 0; i < n; i++) {
        querier_t *q = &qs[i];
        memset(q, 0, sizeof *q);
        q->app = app;
        q->id = i;
        q->seed = 12345u + 7919u * (unsigned)i;
        atomic_store(&q->moving, moving);
        atomic_store(&q->twice, twice);
        q->last_win = calloc((size_t)N_KEYS * (size_t)model.nwin, sizeof *q->last_win);
        assert_non_null(q->last_win);
        for (int k = 0; k < N_KEYS; k++) {
            q->partition[k] = -1;
            q->local[k] = -1;
        }
        assert_int_equal(pthread_create(&q->tid, NULL, querier_main, q), 0);
        queriers_running = i + 1;
    }
}

/* Stops the query threads (each within 10 s, or a query is stuck: a deadlock) and fails with the
 * first error one of them saw. */
static void queriers_stop(querier_t *qs, int n, const char *test)
{
    atomic_store(&q_stop, true);
    for (int i = 0; i < n; i++) {
        struct timespec deadline;
        clock_gettime(CLOCK_REALTIME, &deadline);
        deadline.tv_sec += 10;
        int rc = pthread_timedjoin_np(qs[i].tid, NULL, &deadline);
        if (rc)
            fail_msg("query thread %d did not stop within 10 s (%s): a query is stuck", i,
                     strerror(rc));
    }
    queriers_running = 0;
    for (int i = 0; i < n; i++) {
        querier_t *q = &qs[i];
        printf("%s: query thread %d: %ld queries, %ld rows, longest %.1f ms; after close %ld "
               "RILL_ESTATE; %ld keys vanished, %ld remote answers, %ld local flips\n",
               test, i, atomic_load(&q->queries), q->rows, q->max_ms, q->estate_after_close,
               q->vanished, q->remote, q->flips);
        free(q->last_win);
        q->last_win = NULL;
    }
    for (int i = 0; i < n; i++)
        if (qs[i].errors)
            fail_msg("%s (%d errors in that thread)", qs[i].error, qs[i].errors);
}

/* ---- totals read back through queries ---- */

typedef struct {
    int64_t sum;
    int rows, bad;
    int64_t per_key[N_KEYS];
} total_t;

static bool total_row(void *ud, rill_buf_t key, rill_buf_t value, int64_t ts)
{
    total_t *t = ud;
    int k = key_index(key);
    if (k < 0 || value.len != 8) {
        t->bad++;
        return true;
    }
    int64_t n = rill_decode_i64(value.data);
    t->sum += n;
    t->per_key[k] += n;
    t->rows++;
    return true;
}

static bool total_window_row(void *ud, rill_buf_t key, int64_t start, rill_buf_t value, int64_t ts)
{
    return total_row(ud, key, value, ts);
}

static bool total_session_row(void *ud, rill_buf_t key, int64_t start, int64_t end,
                              rill_buf_t value, int64_t ts)
{
    return total_row(ud, key, value, ts);
}

typedef struct {
    rill_app_t *app;
    int64_t records;
    bool exact; /* else at least (at-least-once) */
} totals_wait_t;

/* Sums every store's counts through queries. */
static void read_totals(rill_app_t *app, total_t *kv, total_t *mem, total_t *win, total_t *sess)
{
    memset(kv, 0, sizeof *kv);
    memset(mem, 0, sizeof *mem);
    memset(win, 0, sizeof *win);
    memset(sess, 0, sizeof *sess);
    rill_app_query_all(app, "counts", total_row, kv);
    rill_app_query_all(app, "counts-mem", total_row, mem);
    rill_app_query_windows(app, "win", (rill_buf_t){NULL, 0}, INT64_MIN, INT64_MAX,
                           total_window_row, win);
    for (int k = 0; k < N_KEYS && full_topology; k++) {
        char key[16];
        key_name(k, key);
        rill_app_query_sessions(app, "sessions", rill_buf_str(key), total_session_row, sess);
    }
}

static bool totals_reached(void *ud)
{
    totals_wait_t *w = ud;
    total_t kv, mem, win, sess;
    read_totals(w->app, &kv, &mem, &win, &sess);
    if (w->exact)
        return kv.sum == w->records && mem.sum == w->records && win.sum == w->records &&
               sess.sum == w->records;
    return kv.sum >= w->records && mem.sum >= w->records && win.sum >= w->records &&
           kv.rows == N_KEYS && mem.rows == N_KEYS;
}

static void wait_totals(rill_app_t *app, int64_t records, bool exact, int timeout_ms)
{
    totals_wait_t w = {app, records, exact};
    if (!wait_for(totals_reached, &w, timeout_ms)) {
        total_t kv, mem, win, sess;
        read_totals(app, &kv, &mem, &win, &sess);
        fail_msg("within %d ms, the stores do not add up to %s%lld records: counts %lld (%d "
                 "keys), counts-mem %lld (%d keys), win %lld, sessions %lld; processed %lld",
                 timeout_ms, exact ? "" : ">= ", (long long)records, (long long)kv.sum, kv.rows,
                 (long long)mem.sum, mem.rows, (long long)win.sum, (long long)sess.sum,
                 (long long)rill_app_metric(app, "records-processed"));
    }
}

/* Once everything is processed and flushed, every store holds exactly the model. */
typedef struct {
    int rows, wrong;
    char first[256];
} exact_t;

static bool exact_window_row(void *ud, rill_buf_t key, int64_t start, rill_buf_t value, int64_t ts)
{
    exact_t *e = ud;
    int k = key_index(key);
    e->rows++;
    int64_t n = value.len == 8 ? rill_decode_i64(value.data) : -1;
    if (k < 0 || start < T0 || start > model.max_ts || start % WIN_MS ||
        n != model.win[k * model.nwin + (int)((start - T0) / WIN_MS)]) {
        if (!e->wrong++)
            snprintf(e->first, sizeof e->first, "'%.*s'@%lld = %lld", (int)key.len,
                     (const char *)key.data, (long long)start, (long long)n);
    }
    return true;
}

typedef struct {
    int key, rows, wrong;
    char first[256];
} exact_session_t;

static bool exact_session_row(void *ud, rill_buf_t key, int64_t start, int64_t end,
                              rill_buf_t value, int64_t ts)
{
    exact_session_t *e = ud;
    int b = e->rows++;
    int64_t n = value.len == 8 ? rill_decode_i64(value.data) : -1;
    int k = e->key;
    if (b >= MAX_BLOCKS || key_index(key) != k || start != model.first[k][b] ||
        end != model.last[k][b] || n != model.count[k][b]) {
        if (!e->wrong++)
            snprintf(e->first, sizeof e->first,
                     "key-%03d: session %d is [%lld, %lld] = %lld, expected [%lld, %lld] = %d", k,
                     b, (long long)start, (long long)end, (long long)n,
                     (long long)(b < MAX_BLOCKS ? model.first[k][b] : 0),
                     (long long)(b < MAX_BLOCKS ? model.last[k][b] : 0),
                     b < MAX_BLOCKS ? model.count[k][b] : 0);
    }
    return true;
}

static void assert_exact_state(rill_app_t *app)
{
    for (int k = 0; k < N_KEYS; k++) {
        char key[16];
        key_name(k, key);
        static const char *kv_stores[] = {"counts", "counts-mem"};
        for (int s = 0; s < 2; s++) {
            /* The value replaces what the buffer held. */
            rill_bytes_t v = {0};
            int64_t ts;
            assert_int_equal(rill_bytes_append(&v, "garbage-garbage", 15), 0);
            assert_int_equal(rill_app_query_get(app, kv_stores[s], rill_buf_str(key), &v, &ts), 0);
            assert_int_equal(v.len, 8);
            if (rill_decode_i64(v.data) != model.per_key[k])
                fail_msg("%s: %s = %lld, expected %lld", kv_stores[s], key,
                         (long long)rill_decode_i64(v.data), (long long)model.per_key[k]);
            rill_bytes_free(&v);
        }
        exact_session_t es = {.key = k};
        assert_int_equal(
            rill_app_query_sessions(app, "sessions", rill_buf_str(key), exact_session_row, &es), 0);
        int blocks = (model.records + BLOCK - 1) / BLOCK;
        if (es.wrong || es.rows != blocks)
            fail_msg("sessions: %d sessions of %s, expected %d; %s", es.rows, key, blocks,
                     es.first);
    }
    /* Every window, through the all-keys form: one row per window that has records. */
    int windows = 0;
    for (int i = 0; i < N_KEYS * model.nwin; i++)
        windows += model.win[i] > 0;
    exact_t e = {0};
    assert_int_equal(rill_app_query_windows(app, "win", (rill_buf_t){NULL, 0}, INT64_MIN, INT64_MAX,
                                            exact_window_row, &e),
                     0);
    if (e.wrong || e.rows != windows)
        fail_msg("win: %d windows, expected %d; %d wrong, first %s", e.rows, windows, e.wrong,
                 e.first);
    /* win-short keeps only the windows of the last SHORT_RETENTION_MS (or a little more: expiry
     * drops whole segments); those it keeps are exact. */
    exact_t es = {0};
    assert_int_equal(rill_app_query_windows(app, "win-short", (rill_buf_t){NULL, 0}, INT64_MIN,
                                            INT64_MAX, exact_window_row, &es),
                     0);
    if (es.wrong || es.rows == 0 || es.rows >= windows)
        fail_msg("win-short: %d windows of %d (%d wrong, first %s)", es.rows, windows, es.wrong,
                 es.first);
    printf("exact: %d windows in win, %d kept by win-short\n", e.rows, es.rows);
}

/* ---- 1. queries from several threads while the app processes ---- */

#define N_QUERIERS 3
#define N_RECORDS  50000

static querier_t queriers[N_QUERIERS];

static bool queriers_did(void *ud)
{
    const long *mark = ud;
    for (int i = 0; i < N_QUERIERS; i++)
        if (atomic_load(&queriers[i].queries) < mark[i])
            return false;
    return true;
}

/* Lets every query thread run a few hundred more queries under the current rules. */
static void queriers_settle(void)
{
    long mark[N_QUERIERS];
    for (int i = 0; i < N_QUERIERS; i++)
        mark[i] = atomic_load(&queriers[i].queries) + 300;
    if (!wait_for(queriers_did, mark, 30000)) {
        char why[600] = "";
        for (int i = 0; i < N_QUERIERS; i++) {
            double since = atomic_load(&queriers[i].busy_since);
            snprintf(why + strlen(why), sizeof why - strlen(why),
                     "; thread %d: %ld left, %s query %d for %.0f ms", i,
                     mark[i] - atomic_load(&queriers[i].queries), since ? "in" : "between",
                     queriers[i].busy_with, since ? now_ms() - since : 0.0);
        }
        fail_msg("the query threads do not get through 300 queries in 30 s%s", why);
    }
}

static bool all_saw_estate(void *ud)
{
    for (int i = 0; i < N_QUERIERS; i++)
        if (queriers[i].estate_after_close == 0)
            return false;
    return true;
}

static void test_queries_while_processing(void **state)
{
    double t_start = now_ms();
    char err[512];
    model_build(N_RECORDS);
    rill_topology_t *topo = track_topology(counting_topology(true, NULL));
    rill_app_t *app = track(rill_app_new(topo, conf_for("iq-load", "load", 2), err, sizeof err));
    assert_non_null(app);
    rill_producer_t *p = new_producer(app);
    start_app(app, "the app");
    /* The queries start while the threads join the group and make their tasks: keys are not
     * there yet, and no task is local; nothing may crash or answer garbage. */
    queriers_start(queriers, N_QUERIERS, app, true, false);
    assert_int_equal(rill_app_wait_state(app, RILL_STATE_RUNNING, 30000), 0);
    wait_metric(app, "tasks", N_PARTITIONS, true, 30000);
    int64_t rebalances = rill_app_metric(app, "rebalances");
    /* From here no task moves: every key is local, and a key once read stays. */
    for (int i = 0; i < N_QUERIERS; i++)
        atomic_store(&queriers[i].moving, false);
    double t_feed = now_ms();
    produce(p, "events", 0, N_RECORDS);
    assert_int_equal(rill_producer_flush(p, 30000), 0);
    wait_metric(app, "records-processed", N_RECORDS, false, 60000);
    wait_totals(app, N_RECORDS, true, 30000);
    double t_done = now_ms();
    /* No rebalance happened, so nothing was processed twice: the exact checks are fair. */
    assert_int_equal(rill_app_metric(app, "rebalances"), rebalances);
    assert_int_equal(rill_app_metric(app, "records-processed"), N_RECORDS);
    assert_exact_state(app);
    queriers_settle(); /* and the query threads read the final state for a while */

    /* Close while the queries go on: they answer RILL_ESTATE from then on, and must not touch a
     * task (or a thread) being freed. */
    atomic_store(&q_closing, true);
    double t_close = now_ms();
    assert_int_equal(rill_app_close(app, 30000), 0);
    t_close = now_ms() - t_close;
    assert_int_equal(rill_app_state(app), RILL_STATE_NOT_RUNNING);
    if (!wait_for(all_saw_estate, NULL, 10000))
        fail_msg("a query thread never saw RILL_ESTATE after the close");
    rill_bytes_t v = {0};
    assert_int_equal(rill_app_query_get(app, "counts", rill_buf_str("key-001"), &v, NULL),
                     RILL_ESTATE);
    queriers_stop(queriers, N_QUERIERS, "load");
    printf("load: %d records processed in %.0f ms with %d query threads, closed in %.0f ms (whole "
           "test %.0f ms)\n",
           N_RECORDS, t_done - t_feed, N_QUERIERS, t_close, now_ms() - t_start);
    destroy_producer(p);
    destroy_app(app);
    unref_topology(topo);
    model_free();
}

/* ---- 2. queries while tasks move to a second instance and back ---- */

typedef struct {
    rill_producer_t *producer;
    atomic_int produced;
    atomic_bool stop;
    int limit;
    int failed;
    pthread_t tid;
    bool running; /* started, not joined: the teardown joins it after a failure */
} feeder_t;

static feeder_t feeder;

/* Feeds "events" 100 records every 20 ms or so while the group rebalances, so that tasks are closed
 * and restored while they process. */
static void *feeder_main(void *arg)
{
    feeder_t *f = arg;
    int i = atomic_load(&f->produced);
    while (!atomic_load(&f->stop) && i < f->limit) {
        for (int end = i + 100; i < end && i < f->limit; i++) {
            char k[16];
            key_name(i % N_KEYS, k);
            if (rill_producer_send(f->producer, "events", -1, rill_buf_str(k), rill_buf_str("v"),
                                   record_ts(i)))
                f->failed++;
        }
        if (rill_producer_flush(f->producer, 30000))
            f->failed++;
        atomic_store(&f->produced, i);
        pause_ms(20);
    }
    return NULL;
}

typedef struct {
    rill_app_t *app;
    int remote; /* keys not local */
    int local;
} locality_t;

static void count_local(locality_t *l)
{
    l->remote = l->local = 0;
    for (int k = 0; k < N_KEYS; k++) {
        char key[16];
        key_name(k, key);
        int32_t p;
        bool local;
        if (rill_app_query_partition(l->app, "counts", rill_buf_str(key), &p, &local) == 0) {
            l->local += local;
            l->remote += !local;
        }
    }
}

static bool some_remote(void *ud)
{
    locality_t *l = ud;
    count_local(l);
    return l->remote > 0 && l->local > 0;
}

static bool all_local(void *ud)
{
    locality_t *l = ud;
    count_local(l);
    return l->local == N_KEYS;
}

static void test_queries_during_rebalance(void **state)
{
    double t_start = now_ms();
    char err[512];
    model_build(MAX_RECORDS);
    rill_topology_t *topo = track_topology(counting_topology(false, NULL));
    rill_app_t *a = track(rill_app_new(topo, conf_for("iq-move", "move-a", 1), err, sizeof err));
    assert_non_null(a);
    const char *bootstrap = rill_app_bootstrap_servers(a);
    feeder_t *f = &feeder;
    memset(f, 0, sizeof *f);
    f->limit = 40000;
    f->producer = new_producer(a);
    produce(f->producer, "events", 0, 10000);
    assert_int_equal(rill_producer_flush(f->producer, 30000), 0);
    atomic_store(&f->produced, 10000);
    start_app(a, "a");
    assert_int_equal(rill_app_wait_state(a, RILL_STATE_RUNNING, 30000), 0);
    wait_metric(a, "tasks", N_PARTITIONS, true, 30000);
    wait_totals(a, 10000, false, 30000);

    /* Tasks will move: keys may vanish or be remote, and records may be counted twice; counts
     * still never go down, values still decode, windows are still aligned. */
    queriers_start(queriers, N_QUERIERS, a, true, true);
    assert_int_equal(pthread_create(&f->tid, NULL, feeder_main, f), 0);
    f->running = true;

    rill_app_t *b =
        track(rill_app_new(topo, conf_joining("iq-move", "move-b", 1, bootstrap), err, sizeof err));
    assert_non_null(b);
    double t_join = now_ms();
    start_app(b, "b, a second instance joining a's cluster by bootstrap.servers");
    assert_int_equal(rill_app_wait_state(b, RILL_STATE_RUNNING, 30000), 0);
    wait_metric(b, "tasks", 1, false, 30000);
    locality_t l = {.app = a};
    if (!wait_for(some_remote, &l, 30000))
        fail_msg("after b joined, a still answers for %d keys locally and %d remotely", l.local,
                 l.remote);
    double t_moved = now_ms();
    printf("rebalance: b took %lld of %d tasks in %.0f ms; a has %d keys, b %d\n",
           (long long)rill_app_metric(b, "tasks"), N_PARTITIONS, t_moved - t_join, l.local,
           l.remote);
    /* A key whose task moved to b is not here: RILL_ENOENT, never a stale or foreign value. */
    int checked = 0;
    for (int k = 0; k < N_KEYS && checked < 10; k++) {
        char key[16];
        key_name(k, key);
        int32_t p;
        bool local;
        assert_int_equal(rill_app_query_partition(a, "counts", rill_buf_str(key), &p, &local), 0);
        if (local)
            continue;
        rill_bytes_t v = {0};
        int rc = rill_app_query_get(a, "counts", rill_buf_str(key), &v, NULL);
        rill_bytes_free(&v);
        if (rc != RILL_ENOENT) {
            /* The task may have come back between the two calls. */
            assert_int_equal(rill_app_query_partition(a, "counts", rill_buf_str(key), &p, &local),
                             0);
            if (!local)
                fail_msg("get counts %s on a, which does not have partition %d: %s", key, p,
                         rill_err_name(rc));
        }
        checked++;
    }

    /* b leaves: a takes every task back, restoring what b counted from the changelogs. */
    atomic_store(&f->stop, true);
    assert_int_equal(pthread_join(f->tid, NULL), 0);
    f->running = false;
    assert_int_equal(f->failed, 0);
    int produced = atomic_load(&f->produced);
    double t_leave = now_ms();
    assert_int_equal(rill_app_close(b, 30000), 0);
    destroy_app(b);
    wait_metric(a, "tasks", N_PARTITIONS, true, 30000);
    if (!wait_for(all_local, &l, 30000))
        fail_msg("after b left, a answers for %d keys locally, %d remotely", l.local, l.remote);
    double t_back = now_ms();
    /* At least once: once a has processed everything (its commits reached the end of the
     * input; the stores are flushed before each commit), every record is counted, some maybe
     * twice. */
    kafka_wait_committed_at_end(bootstrap, "iq-move", "events", N_PARTITIONS, 30000);
    wait_totals(a, produced, false, 30000);
    total_t kv, mem, win, sess;
    read_totals(a, &kv, &mem, &win, &sess);
    for (int k = 0; k < N_KEYS; k++) {
        int64_t expect = produced / N_KEYS + (k < produced % N_KEYS);
        if (kv.per_key[k] < expect || mem.per_key[k] < expect)
            fail_msg("key-%03d: counts %lld, counts-mem %lld, but %lld records were produced", k,
                     (long long)kv.per_key[k], (long long)mem.per_key[k], (long long)expect);
    }
    assert_int_equal(kv.bad + mem.bad + win.bad, 0);
    /* Settled: a holds every task again, so every key is local and, once read, stays. */
    for (int i = 0; i < N_QUERIERS; i++)
        atomic_store(&queriers[i].moving, false);
    queriers_settle();
    queriers_stop(queriers, N_QUERIERS, "rebalance");
    long flips = 0, remote = 0;
    for (int i = 0; i < N_QUERIERS; i++) {
        flips += queriers[i].flips;
        remote += queriers[i].remote;
    }
    assert_true(remote > 0); /* the query threads saw tasks leave */
    assert_true(flips > 0);
    printf("rebalance: %d records produced; counts %lld, counts-mem %lld, win %lld (at least "
           "once); b left and a took all back in %.0f ms; whole test %.0f ms\n",
           produced, (long long)kv.sum, (long long)mem.sum, (long long)win.sum, t_back - t_leave,
           now_ms() - t_start);
    destroy_producer(f->producer);
    destroy_app(a);
    unref_topology(topo);
    model_free();
}

/* ---- 3. error codes ---- */

static bool no_row(void *ud, rill_buf_t key, rill_buf_t value, int64_t ts)
{
    return true;
}
static bool no_window(void *ud, rill_buf_t key, int64_t start, rill_buf_t value, int64_t ts)
{
    return true;
}
static bool no_session(void *ud, rill_buf_t key, int64_t start, int64_t end, rill_buf_t value,
                       int64_t ts)
{
    return true;
}

/* Every query function on store answers code. */
static void assert_all_queries(rill_app_t *app, const char *store, int kv, int window, int session,
                               int partition)
{
    rill_buf_t k = rill_buf_str("key-000");
    rill_bytes_t v = {0};
    int32_t p;
    bool local;
    int rc = rill_app_query_get(app, store, k, &v, NULL);
    if (kv == 0 && rc == RILL_ENOENT)
        rc = 0; /* the right kind; its task is not made yet */
    assert_int_equal(rc, kv);
    assert_int_equal(rill_app_query_range(app, store, &k, &k, no_row, NULL), kv);
    assert_int_equal(rill_app_query_prefix(app, store, k, no_row, NULL), kv);
    assert_int_equal(rill_app_query_all(app, store, no_row, NULL), kv);
    /* A keyed window or session query whose task is not made yet: RILL_ENOENT, not here. */
    rc = rill_app_query_windows(app, store, k, 0, INT64_MAX, no_window, NULL);
    assert_int_equal(rc == RILL_ENOENT && window == 0 ? 0 : rc, window);
    rc = rill_app_query_sessions(app, store, k, no_session, NULL);
    assert_int_equal(rc == RILL_ENOENT && session == 0 ? 0 : rc, session);
    assert_int_equal(rill_app_query_partition(app, store, k, &p, &local), partition);
    rill_bytes_free(&v);
}

static void test_query_errors(void **state)
{
    char err[512];
    model_build(1);
    const char *hidden = NULL;
    rill_topology_t *topo = track_topology(counting_topology(true, &hidden));
    assert_non_null(hidden);
    rill_app_t *app =
        track(rill_app_new(topo, conf_for("iq-errors", "errors", 1), err, sizeof err));
    assert_non_null(app);

    /* Not started: whatever the store. */
    assert_all_queries(app, "counts", RILL_ESTATE, RILL_ESTATE, RILL_ESTATE, RILL_ESTATE);
    assert_all_queries(app, "no-such-store", RILL_ESTATE, RILL_ESTATE, RILL_ESTATE, RILL_ESTATE);

    /* Started: the app is REBALANCING (its thread joins the group), and queryable. The kind of a
     * store, its name and the arguments decide; no task is needed. */
    start_app(app, "the app");
    assert_int_equal(rill_app_state(app), RILL_STATE_REBALANCING);
    /* Each kind answers only its own queries; partition answers for every kind. */
    assert_all_queries(app, "counts", 0, RILL_EINVAL, RILL_EINVAL, 0);
    assert_all_queries(app, "counts-mem", 0, RILL_EINVAL, RILL_EINVAL, 0);
    assert_all_queries(app, "win", RILL_EINVAL, 0, RILL_EINVAL, 0);
    assert_all_queries(app, "win-short", RILL_EINVAL, 0, RILL_EINVAL, 0);
    assert_all_queries(app, "sessions", RILL_EINVAL, RILL_EINVAL, 0, 0);
    /* Unknown, and internal (generated names are not an interface). */
    assert_all_queries(app, "no-such-store", RILL_ENOENT, RILL_ENOENT, RILL_ENOENT, RILL_ENOENT);
    assert_all_queries(app, "", RILL_ENOENT, RILL_ENOENT, RILL_ENOENT, RILL_ENOENT);
    assert_all_queries(app, hidden, RILL_ENOENT, RILL_ENOENT, RILL_ENOENT, RILL_ENOENT);
    /* A key that is not here: RILL_ENOENT, and the output buffer is left alone. */
    rill_bytes_t v = {0};
    assert_int_equal(rill_app_query_get(app, "counts", rill_buf_str("key-199"), &v, NULL),
                     RILL_ENOENT);
    assert_int_equal(v.len, 0);
    /* Arguments. */
    rill_buf_t k = rill_buf_str("key-000");
    int32_t part;
    bool local;
    assert_int_equal(rill_app_query_get(NULL, "counts", k, &v, NULL), RILL_EINVAL);
    assert_int_equal(rill_app_query_get(app, NULL, k, &v, NULL), RILL_EINVAL);
    assert_int_equal(rill_app_query_get(app, "counts", k, NULL, NULL), RILL_EINVAL);
    assert_int_equal(rill_app_query_all(app, "counts", NULL, NULL), RILL_EINVAL);
    assert_int_equal(rill_app_query_partition(NULL, "counts", k, &part, &local), RILL_EINVAL);
    assert_int_equal(
        rill_app_query_windows(app, "win", (rill_buf_t){NULL, 0}, 0, INT64_MAX, NULL, NULL),
        RILL_EINVAL);
    assert_int_equal(
        rill_app_query_sessions(app, "sessions", (rill_buf_t){NULL, 0}, no_session, NULL),
        RILL_EINVAL);

    /* Closed: RILL_ESTATE again, and it stays so after the threads are gone. */
    assert_int_equal(rill_app_close(app, 30000), 0);
    assert_all_queries(app, "counts", RILL_ESTATE, RILL_ESTATE, RILL_ESTATE, RILL_ESTATE);
    assert_all_queries(app, "win", RILL_ESTATE, RILL_ESTATE, RILL_ESTATE, RILL_ESTATE);
    assert_all_queries(app, "no-such-store", RILL_ESTATE, RILL_ESTATE, RILL_ESTATE, RILL_ESTATE);
    destroy_app(app);
    unref_topology(topo);
    model_free();
}

/* ---- 4. the Processor API with stores: an idempotent consumer ---- */

#define N_ORDERS     300
#define N_NEW_ORDERS 20
#define N_ALL_ORDERS (N_ORDERS + N_NEW_ORDERS)

typedef struct {
    atomic_int outputs;
    atomic_int emitted[N_ALL_ORDERS];
    atomic_int punctuations;
    atomic_int scanned[N_PARTITIONS]; /* what each partition's last scan counted; -1: none */
    atomic_int errors;
    char error[512];
} dedup_t;

static dedup_t dd;

static void dd_fail(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void dd_fail(const char *fmt, ...)
{
    if (atomic_fetch_add(&dd.errors, 1))
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(dd.error, sizeof dd.error, fmt, ap);
    va_end(ap);
}

static int order_index(rill_buf_t key)
{
    const char *s = key.data;
    if (key.len != 9 || memcmp(s, "order-", 6) != 0)
        return -1;
    int i = 0;
    for (int d = 6; d < 9; d++) {
        if (s[d] < '0' || s[d] > '9')
            return -1;
        i = i * 10 + (s[d] - '0');
    }
    return i < N_ALL_ORDERS ? i : -1;
}

typedef struct {
    rill_kv_store_t *seen;
    int32_t partition;
} dedup_state_t;

/* A wall-clock punctuator: scans the whole store (which writes the task's cached entries
 * through first) and checks what the processor put there. */
static int dedup_scan(rill_context_t *ctx, void *state, int64_t now)
{
    dedup_state_t *s = state;
    rill_store_iter_t *it = rill_kv_range(s->seen, NULL, NULL, false);
    if (!it)
        return rill_context_fail(ctx, RILL_ENOMEM, "cannot scan 'seen'");
    rill_buf_t key, stored, value;
    int64_t ts;
    int n = 0;
    while (rill_store_iter_next(it, &key, &stored)) {
        n++;
        if (rill_stored_split(stored, &value, &ts) != 0 || value.len != key.len ||
            memcmp(value.data, key.data, key.len) != 0 || order_index(key) < 0 || ts < T0)
            dd_fail("task %s: scan of 'seen': entry '%.*s' holds '%.*s' (ts %lld)",
                    rill_context_task_id(ctx), (int)key.len, (const char *)key.data, (int)value.len,
                    (const char *)value.data, (long long)ts);
    }
    rill_store_iter_close(it);
    atomic_store(&dd.scanned[s->partition], n);
    atomic_fetch_add(&dd.punctuations, 1);
    return 0;
}

static int dedup_init(rill_context_t *ctx, void *arg, void **state)
{
    dedup_state_t *s = calloc(1, sizeof *s);
    if (!s)
        return rill_context_fail(ctx, RILL_ENOMEM, "out of memory");
    s->seen = rill_context_kv_store(ctx, "seen");
    s->partition = rill_context_partition(ctx);
    *state = s;
    if (!s->seen)
        return rill_context_fail(ctx, RILL_ENOENT, "store 'seen' is not connected to %s",
                                 rill_context_node_name(ctx));
    if (s->partition < 0 || s->partition >= N_PARTITIONS)
        return rill_context_fail(ctx, RILL_EINVAL, "partition %d", s->partition);
    return rill_context_schedule(ctx, 50, RILL_PUNCTUATE_WALL_CLOCK, dedup_scan);
}

/* Emits a key the first time it is seen; remembers it (the value is the key itself, so that the
 * changelog can be checked with a reader of values). */
static int dedup_process(rill_context_t *ctx, void *state, const rill_record_t *rec)
{
    dedup_state_t *s = state;
    rill_buf_t old;
    int rc = rill_kv_get(s->seen, rec->key, &old, NULL);
    if (rc == 0)
        return 0; /* a duplicate */
    if (rc != RILL_ENOENT)
        return rill_context_fail(ctx, rc, "get from 'seen': %s", rill_err_name(rc));
    if ((rc = rill_kv_put(s->seen, rec->key, rec->key, rec->timestamp)) != 0)
        return rill_context_fail(ctx, rc, "put into 'seen': %s", rill_err_name(rc));
    return rill_context_forward(ctx, rec);
}

static void dedup_close(rill_context_t *ctx, void *state)
{
    free(state);
}

static const rill_processor_ops dedup_ops = {dedup_init, dedup_process, dedup_close};

/* Counts each key's outputs in the store "emitted" (an int64), from a stack buffer: the store
 * must copy it. */
static int tally_init(rill_context_t *ctx, void *arg, void **state)
{
    *state = rill_context_kv_store(ctx, "emitted");
    return *state ? 0
                  : rill_context_fail(ctx, RILL_ENOENT, "store 'emitted' is not connected to %s",
                                      rill_context_node_name(ctx));
}

static int tally_process(rill_context_t *ctx, void *state, const rill_record_t *rec)
{
    rill_buf_t old;
    int64_t n = 0;
    int rc = rill_kv_get(state, rec->key, &old, NULL);
    if (rc == 0 && old.len == 8)
        n = rill_decode_i64(old.data);
    else if (rc != RILL_ENOENT)
        return rill_context_fail(ctx, RILL_EIO, "get from 'emitted': %s (%zu bytes)",
                                 rill_err_name(rc), old.len);
    uint8_t buf[8];
    rill_encode_i64(buf, n + 1);
    if ((rc = rill_kv_put(state, rec->key, (rill_buf_t){buf, sizeof buf}, rec->timestamp)))
        return rill_context_fail(ctx, rc, "put into 'emitted': %s", rill_err_name(rc));
    return rill_context_forward(ctx, rec);
}

static const rill_processor_ops tally_ops = {tally_init, tally_process, NULL};

static void count_output(void *ud, const rill_record_t *rec)
{
    int i = order_index(rec->key);
    if (i < 0) {
        dd_fail("output with key '%.*s'", (int)rec->key.len, (const char *)rec->key.data);
        return;
    }
    atomic_fetch_add(&dd.emitted[i], 1);
    atomic_fetch_add(&dd.outputs, 1);
}

static rill_topology_t *dedup_topology(void)
{
    rill_topology_t *topo = rill_topology_new();
    rill_stream_t *orders = rill_stream_from_topic(topo, "orders", NULL);
    rill_stream_t *unique =
        rill_stream_as(rill_stream_process(orders, &dedup_ops, NULL, NULL), "dedup");
    assert_string_equal(rill_stream_name(unique), "dedup");
    rill_stream_t *tallied = rill_stream_process(unique, &tally_ops, NULL, NULL);
    /* The tally processor keeps the name the DSL made for it. */
    char tally_name[64];
    snprintf(tally_name, sizeof tally_name, "%s", rill_stream_name(tallied));
    assert_non_null(strstr(tally_name, "KSTREAM-PROCESSOR-"));
    rill_store_spec_t seen = {.name = "seen", .type = RILL_STORE_KV, .backend = RILL_STORE_ROCKSDB};
    assert_true(rill_topology_add_store(topo, &seen, (const char *const[]){"dedup", NULL}) >= 0);
    rill_store_spec_t emitted = {.name = "emitted",
                                 .type = RILL_STORE_KV,
                                 .backend = RILL_STORE_IN_MEMORY,
                                 .key_serde = rill_serde_string(),
                                 .value_serde = rill_serde_int64()};
    assert_true(rill_topology_add_store(topo, &emitted, (const char *const[]){tally_name, NULL}) >=
                0);
    assert_int_equal(
        rill_stream_to(rill_stream_peek(tallied, count_output, NULL), "orders-unique", NULL), 0);
    char err[512];
    if (rill_topology_build(topo, err, sizeof err))
        fail_msg("%s", err);
    return topo;
}

/* Returns how many records topic holds (the sum of its partitions' end offsets; nothing is
 * deleted on the embedded cluster), read from the outside with librdkafka. */
static int64_t topic_size(const char *bootstrap, const char *topic)
{
    char err[256];
    rd_kafka_conf_t *kc = rd_kafka_conf_new();
    rd_kafka_conf_set(kc, "bootstrap.servers", bootstrap, err, sizeof err);
    rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_CONSUMER, kc, err, sizeof err);
    assert_non_null(rk);
    int64_t total = 0;
    for (int i = 0; i < N_PARTITIONS; i++) {
        int64_t lo, hi;
        if (rd_kafka_query_watermark_offsets(rk, topic, i, &lo, &hi, 10000))
            fail_msg("cannot read the end of %s [%d]", topic, i);
        total += hi;
    }
    rd_kafka_destroy(rk);
    return total;
}

static void produce_orders(rill_producer_t *p, int from, int to, int copies)
{
    for (int c = 0; c < copies; c++)
        for (int i = from; i < to; i++) {
            char k[24], v[32];
            snprintf(k, sizeof k, "order-%03d", i);
            snprintf(v, sizeof v, "copy %d", c);
            assert_int_equal(rill_producer_send(p, "orders", -1, rill_buf_str(k), rill_buf_str(v),
                                                T0 + c * 1000 + i),
                             0);
        }
    assert_int_equal(rill_producer_flush(p, 30000), 0);
}

static bool scans_see(void *ud)
{
    int want = *(int *)ud, sum = 0;
    for (int i = 0; i < N_PARTITIONS; i++) {
        int n = atomic_load(&dd.scanned[i]);
        if (n < 0)
            return false;
        sum += n;
    }
    return sum == want;
}

typedef struct {
    int rows, wrong;
    unsigned char seen[N_ALL_ORDERS];
} emitted_check_t;

static bool emitted_row(void *ud, rill_buf_t key, rill_buf_t value, int64_t ts)
{
    emitted_check_t *e = ud;
    int i = order_index(key);
    e->rows++;
    if (i < 0 || e->seen[i]++ || value.len != 8 || rill_decode_i64(value.data) != 1)
        e->wrong++;
    return true;
}

/* Checks, through queries, that "emitted" counts each of the first n orders once. */
static void assert_emitted_once(rill_app_t *app, int n)
{
    emitted_check_t e = {0};
    assert_int_equal(rill_app_query_all(app, "emitted", emitted_row, &e), 0);
    assert_int_equal(e.wrong, 0);
    assert_int_equal(e.rows, n);
    for (int i = 0; i < n; i++) {
        char k[24];
        snprintf(k, sizeof k, "order-%03d", i);
        rill_bytes_t v = {0};
        assert_int_equal(rill_app_query_get(app, "seen", rill_buf_str(k), &v, NULL), 0);
        assert_int_equal(v.len, strlen(k));
        assert_memory_equal(v.data, k, v.len);
        rill_bytes_free(&v);
    }
}

static void assert_outputs_once(int n)
{
    assert_int_equal(atomic_load(&dd.errors), 0);
    assert_int_equal(atomic_load(&dd.outputs), n);
    for (int i = 0; i < N_ALL_ORDERS; i++)
        if (atomic_load(&dd.emitted[i]) != (i < n))
            fail_msg("order-%03d was emitted %d times", i, atomic_load(&dd.emitted[i]));
}

static void reset_scans(void)
{
    for (int i = 0; i < N_PARTITIONS; i++)
        atomic_store(&dd.scanned[i], -1);
}

static void test_processor_api_dedup(void **state)
{
    double t_start = now_ms();
    char err[512];
    memset(&dd, 0, sizeof dd);
    reset_scans();
    rill_topology_t *topo = track_topology(dedup_topology());
    rill_app_t *a = track(rill_app_new(topo, conf_for("iq-dedup", "dedup", 1), err, sizeof err));
    assert_non_null(a);
    const char *bootstrap = rill_app_bootstrap_servers(a);
    rill_producer_t *p = new_producer(a);
    /* Every order three times: all once, then all again, then again. */
    produce_orders(p, 0, N_ORDERS, 3);
    start_app(a, "a");
    wait_metric(a, "records-processed", 3 * N_ORDERS, false, 30000);
    int want = N_ORDERS;
    if (!wait_for(scans_see, &want, 10000))
        fail_msg("the punctuators' scans never saw %d keys in 'seen' (%d, %d, %d, %d)", want,
                 atomic_load(&dd.scanned[0]), atomic_load(&dd.scanned[1]),
                 atomic_load(&dd.scanned[2]), atomic_load(&dd.scanned[3]));
    assert_int_equal(rill_app_metric(a, "rebalances"), 1); /* one assignment: nothing twice */
    assert_outputs_once(N_ORDERS);
    /* Queries read the stores as of the last commit (the record cache's newer writes are not
     * visible), and outputs are acknowledged before offsets are committed: once the offsets are
     * committed at the end, everything is there. */
    kafka_wait_committed_at_end(bootstrap, "iq-dedup", "orders", N_PARTITIONS, 30000);
    assert_emitted_once(a, N_ORDERS);
    /* The outputs reached their topic, once per order. */
    static char values[N_ALL_ORDERS][32];
    assert_int_equal(topic_size(bootstrap, "orders-unique"), N_ORDERS);
    /* The store's changelog holds every key (the value is the key), each once: the cache folds
     * nothing here, as each key is written once. */
    int n = kafka_read_all(bootstrap, "iq-dedup-seen-changelog", N_ORDERS, values);
    assert_int_equal(n, N_ORDERS);
    unsigned char seen[N_ALL_ORDERS] = {0};
    for (int i = 0; i < n; i++) {
        int o = order_index(rill_buf_str(values[i]));
        if (o < 0 || seen[o]++)
            fail_msg("changelog of 'seen': '%s' is no key, or came twice", values[i]);
    }
    assert_int_equal(topic_size(bootstrap, "iq-dedup-seen-changelog"), N_ORDERS);
    assert_int_equal(rill_app_close(a, 30000), 0);
    int punctuations = atomic_load(&dd.punctuations);
    assert_true(punctuations >= N_PARTITIONS);

    /* A restart on the same state.dir (a's cluster lives until a is destroyed): the old orders
     * again and some new ones; the restored stores keep the old ones from coming out again. */
    memset(dd.emitted, 0, sizeof dd.emitted);
    atomic_store(&dd.outputs, 0);
    reset_scans();
    rill_app_t *again =
        track(rill_app_new(topo, conf_joining("iq-dedup", "dedup", 1, bootstrap), err, sizeof err));
    assert_non_null(again);
    produce_orders(p, 0, N_ALL_ORDERS, 1);
    start_app(again, "the restart, on a's cluster by bootstrap.servers");
    wait_metric(again, "records-processed", N_ALL_ORDERS, false, 30000);
    want = N_ALL_ORDERS;
    if (!wait_for(scans_see, &want, 10000))
        fail_msg("after the restart, the scans never saw %d keys in 'seen'", want);
    assert_int_equal(atomic_load(&dd.errors), 0);
    assert_int_equal(atomic_load(&dd.outputs), N_NEW_ORDERS);
    for (int i = 0; i < N_ALL_ORDERS; i++)
        if (atomic_load(&dd.emitted[i]) != (i >= N_ORDERS))
            fail_msg("after the restart, order-%03d was emitted %d times", i,
                     atomic_load(&dd.emitted[i]));
    kafka_wait_committed_at_end(bootstrap, "iq-dedup", "orders", N_PARTITIONS, 30000);
    assert_emitted_once(again, N_ALL_ORDERS);
    assert_true(rill_app_metric(again, "records-restored") > 0);
    /* Only the new orders came out, and only they were added to the changelog. */
    assert_int_equal(topic_size(bootstrap, "orders-unique"), N_ALL_ORDERS);
    assert_int_equal(topic_size(bootstrap, "iq-dedup-seen-changelog"), N_ALL_ORDERS);
    printf("dedup: %d punctuations before the restart; %lld changelog records restored after "
           "it; whole test %.0f ms\n",
           punctuations, (long long)rill_app_metric(again, "records-restored"), now_ms() - t_start);
    assert_int_equal(rill_app_close(again, 30000), 0);
    destroy_app(again);
    destroy_producer(p);
    destroy_app(a);
    unref_topology(topo);
}

/* After a failed test: its query threads and feeder stop before its apps are destroyed, so that
 * nothing goes on into the next test, and what it made is freed (no leak report hides the
 * failure). */
static int clean_up_after_test(void **state)
{
    atomic_store(&q_stop, true);
    for (int i = 0; i < queriers_running; i++)
        pthread_join(queriers[i].tid, NULL);
    queriers_running = 0;
    if (feeder.running) {
        atomic_store(&feeder.stop, true);
        pthread_join(feeder.tid, NULL);
        feeder.running = false;
    }
    if (tracked_producer)
        destroy_producer(tracked_producer);
    for (int i = 3; i >= 0; i--)
        if (tracked[i])
            destroy_app(tracked[i]);
    if (tracked_topo)
        unref_topology(tracked_topo);
    for (int i = 0; i < N_QUERIERS; i++) {
        free(queriers[i].last_win);
        queriers[i].last_win = NULL;
    }
    model_free();
    return 0;
}

/* Log lines name their thread by order of first appearance (t1 is the test's), so that the
 * stream threads of two instances of one application.id can be told apart. */
static void log_line(void *opaque, rill_log_level_t level, const char *component, const char *msg)
{
    static atomic_int threads;
    static _Thread_local int self;
    if (!self)
        self = atomic_fetch_add(&threads, 1) + 1;
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    struct tm tm;
    localtime_r(&ts.tv_sec, &tm);
    fprintf(stderr, "%02d:%02d:%02d.%03ld %s [%s] (t%d) %s\n", tm.tm_hour, tm.tm_min, tm.tm_sec,
            ts.tv_nsec / 1000000,
            level <= RILL_LOG_ERROR  ? "ERROR"
            : level <= RILL_LOG_WARN ? "WARN "
            : level <= RILL_LOG_INFO ? "INFO "
                                     : "DEBUG",
            component, self, msg);
}

int main(void)
{
    rill_set_log_cb(log_line, NULL, getenv("RILL_DEBUG") ? RILL_LOG_DEBUG : RILL_LOG_WARN);
    if (getenv("RILL_TEST_FILTER")) /* e.g. test_query_errors, or test_queries_* */
        cmocka_set_test_filter(getenv("RILL_TEST_FILTER"));
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(test_queries_while_processing, clean_up_after_test),
        cmocka_unit_test_teardown(test_queries_during_rebalance, clean_up_after_test),
        cmocka_unit_test_teardown(test_query_errors, clean_up_after_test),
        cmocka_unit_test_teardown(test_processor_api_dedup, clean_up_after_test),
    };
    return cmocka_run_group_tests(tests, make_state_root, remove_state_root);
}
