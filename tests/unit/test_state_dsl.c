/*
 * The stateful DSL through the test driver: grouping and repartitioning, count / reduce /
 * aggregate, tumbling, hopping, sliding and session windows (boundaries, grace, late records),
 * suppress, tables (source, filter, map_values, to_stream, group_by and its aggregations),
 * windowed keys on output topics, store backends and caching.
 *
 * Every operator test is a table: input records {key, value, timestamp} and the exact outputs
 * {after which input, key (windowed keys as "[key@start/end]"), value, timestamp}, in order.
 * The reference is Kafka Streams (3.x): the expected rows are what its processors forward
 * (KStreamAggregate, KStreamWindowAggregate, KStreamSlidingWindowAggregate,
 * KStreamSessionWindowAggregate, KTableSource, KTableFilter, KTableRepartitionMap,
 * KTableAggregate, KTableSuppressProcessor). Sequences that depend on the order a processor
 * forwards several windows in are run without caching, as Kafka's own processor tests do.
 */
#define _GNU_SOURCE /* nftw's FTW_DEPTH | FTW_PHYS */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <rill/dsl.h>
#include <rill/test_driver.h>

#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define APP  "stateful-test"
#define N(a) (sizeof(a) / sizeof((a)[0]))

static char state_dir[64]; /* a mkdtemp directory under /tmp, removed by the group teardown */

/* ---- what a failed test must still free ----------------------------------------------------
 * A failing assertion leaves the test at once, so drivers, topologies and strings are tracked
 * and released by each test's teardown (last made, first released) unless released before. */

typedef struct {
    void *p;
    void (*free_fn)(void *);
} tracked_t;

static tracked_t tracked[64];
static size_t ntracked;

static void *track(void *p, void (*free_fn)(void *))
{
    assert_non_null(p);
    assert_true(ntracked < sizeof tracked / sizeof tracked[0]);
    tracked[ntracked++] = (tracked_t){p, free_fn};
    return p;
}

static void release(void *p)
{
    for (size_t i = ntracked; i-- > 0;)
        if (tracked[i].p == p) {
            tracked_t t = tracked[i];
            memmove(&tracked[i], &tracked[i + 1], (ntracked - i - 1) * sizeof tracked[0]);
            ntracked--;
            t.free_fn(t.p);
            return;
        }
    fail_msg("release: %p is not tracked", p);
}

static int release_all(void **state)
{
    while (ntracked > 0)
        release(tracked[ntracked - 1].p);
    return 0;
}

static void topo_unref(void *p)
{
    rill_topology_unref(p);
}

static void driver_destroy(void *p)
{
    rill_test_driver_destroy(p);
}

static void conf_destroy(void *p)
{
    rill_conf_destroy(p);
}

static rill_topology_t *topo_new(void)
{
    return track(rill_topology_new(), topo_unref);
}

/* ---- tables of records and how outputs are printed ---------------------------------------- */

typedef struct {
    const char *key, *value; /* NULL: null */
    int64_t ts;
} in_t;

/* An expected output: it appears after input number `after` (0-based) was piped. The key is
 * printed as a string, or as "[key@start/end]" for windowed keys; the value as a string, or in
 * decimal for int64 values; NULL is a null (a tombstone). */
typedef struct {
    int after;
    const char *key, *value;
    int64_t ts;
} out_t;

typedef enum { KEY_STRING, KEY_TIME_WINDOWED, KEY_SESSION_WINDOWED } key_kind_t;
typedef enum { VALUE_STRING, VALUE_INT64 } value_kind_t;

typedef struct {
    key_kind_t key;
    int64_t window_size; /* KEY_TIME_WINDOWED */
    value_kind_t value;
    bool any_tombstone_ts; /* print tombstones' timestamps as "*" (see SESSION_I64_ANY_TS) */
} fmt_t;

static const fmt_t STR_I64 = {KEY_STRING, 0, VALUE_INT64, false};
static const fmt_t STR_STR = {KEY_STRING, 0, VALUE_STRING, false};
static const fmt_t SESSION_I64 = {KEY_SESSION_WINDOWED, 0, VALUE_INT64, false};
/* Session outputs whose tombstone timestamps are checked by test_session_tombstone_timestamps
 * only, so the other session tests check the rest even while that one fails. */
static const fmt_t SESSION_I64_ANY_TS = {KEY_SESSION_WINDOWED, 0, VALUE_INT64, true};
static const fmt_t SESSION_STR_ANY_TS = {KEY_SESSION_WINDOWED, 0, VALUE_STRING, true};

static fmt_t time_i64(int64_t size)
{
    return (fmt_t){KEY_TIME_WINDOWED, size, VALUE_INT64, false};
}

/* Appends printf output to a growing string (freed by the caller). */
static void append(char **s, size_t *len, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    assert_true(n >= 0);
    char *p = realloc(*s, *len + (size_t)n + 1);
    assert_non_null(p);
    va_start(ap, fmt);
    vsnprintf(p + *len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    *s = p;
    *len += (size_t)n;
}

/* Prints a serialized output key the way fmt says. */
static void print_key(const fmt_t *fmt, rill_buf_t key, char *buf, size_t size)
{
    if (!key.data) {
        snprintf(buf, size, "null");
        return;
    }
    if (fmt->key == KEY_STRING) {
        snprintf(buf, size, "%.*s", (int)key.len, (const char *)key.data);
        return;
    }
    rill_serde_t *serde = fmt->key == KEY_TIME_WINDOWED
                              ? rill_serde_time_windowed(rill_serde_string(), fmt->window_size)
                              : rill_serde_session_windowed(rill_serde_string());
    assert_non_null(serde);
    rill_arena_t *arena = rill_arena_new(256);
    rill_buf_t view;
    char err[256];
    int rc = rill_serde_deserialize(serde, key, arena, &view, err, sizeof err);
    if (rc == 0 && view.len == sizeof(rill_windowed_t))
        rill_windowed_format(view.data, rill_serde_string(), buf, size);
    else
        snprintf(buf, size, "<a windowed key of %zu bytes that does not read back: %.100s>",
                 key.len, rc ? err : "wrong size");
    rill_arena_destroy(arena);
    rill_serde_unref(serde);
}

static void print_value(const fmt_t *fmt, rill_buf_t value, char *buf, size_t size)
{
    if (!value.data)
        snprintf(buf, size, "null");
    else if (fmt->value == VALUE_STRING)
        snprintf(buf, size, "%.*s", (int)value.len, (const char *)value.data);
    else if (value.len != 8)
        snprintf(buf, size, "<%zu bytes, not an int64>", value.len);
    else
        snprintf(buf, size, "%lld", (long long)rill_decode_i64(value.data));
}

/* Reads every unread record of topic and prints them as "#after key = value @ts" lines. */
static void read_outputs(rill_test_driver_t *td, const char *topic, const fmt_t *fmt, int after,
                         char **s, size_t *len)
{
    rill_test_record_t rec;
    while (rill_test_driver_read(td, topic, &rec) == 0) {
        char k[256], v[256];
        print_key(fmt, rec.key, k, sizeof k);
        print_value(fmt, rec.value, v, sizeof v);
        if (fmt->any_tombstone_ts && !rec.value.data)
            append(s, len, "#%d %s = %s @*\n", after, k, v);
        else
            append(s, len, "#%d %s = %s @%lld\n", after, k, v, (long long)rec.timestamp);
    }
}

/*
 * Pipes in[] into in_topic one by one and checks that out_topic receives exactly exp[] (each
 * output after the input it names, in order). Both sequences are printed on a mismatch.
 */
static void pipe_and_check(rill_test_driver_t *td, const char *in_topic, const in_t *in, size_t nin,
                           const char *out_topic, const fmt_t *fmt, const out_t *exp, size_t nexp)
{
    char *want = NULL, *got = NULL;
    size_t wlen = 0, glen = 0;
    append(&want, &wlen, "\n");
    append(&got, &glen, "\n");
    for (size_t i = 0; i < nexp; i++) {
        if (fmt->any_tombstone_ts && !exp[i].value)
            append(&want, &wlen, "#%d %s = null @*\n", exp[i].after, exp[i].key);
        else
            append(&want, &wlen, "#%d %s = %s @%lld\n", exp[i].after, exp[i].key,
                   exp[i].value ? exp[i].value : "null", (long long)exp[i].ts);
    }
    track(want, free);
    read_outputs(td, out_topic, fmt, -1, &got, &glen); /* anything left from before */
    for (size_t i = 0; i < nin; i++) {
        int rc = rill_test_driver_pipe_str(td, in_topic, in[i].key, in[i].value, in[i].ts);
        if (rc) {
            free(got);
            fail_msg("piping input #%zu (%s, %s, %lld) failed: %s: %s", i,
                     in[i].key ? in[i].key : "null", in[i].value ? in[i].value : "null",
                     (long long)in[i].ts, rill_strerror(rc), rill_test_driver_error(td));
        }
        read_outputs(td, out_topic, fmt, (int)i, &got, &glen);
    }
    track(got, free);
    assert_string_equal(got, want);
    release(got);
    release(want);
}

/* The driver configuration: string serdes by default, the test's state directory, and the
 * default store backend (NULL: RocksDB, Rill's default). */
static rill_conf_t *conf_new(const char *default_store)
{
    rill_conf_t *conf = rill_conf_new();
    char err[256];
    assert_non_null(conf);
    assert_int_equal(rill_conf_set(conf, "application.id", APP, err, sizeof err), 0);
    assert_int_equal(rill_conf_set(conf, "state.dir", state_dir, err, sizeof err), 0);
    assert_int_equal(rill_conf_set(conf, "default.key.serde", "string", err, sizeof err), 0);
    assert_int_equal(rill_conf_set(conf, "default.value.serde", "string", err, sizeof err), 0);
    if (default_store)
        assert_int_equal(rill_conf_set(conf, "default.dsl.store", default_store, err, sizeof err),
                         0);
    return conf;
}

static rill_test_driver_t *driver_new(rill_topology_t *topo)
{
    char err[512];
    rill_conf_t *conf = conf_new(NULL);
    rill_test_driver_t *td = rill_test_driver_new(topo, conf, 0, err, sizeof err);
    rill_conf_destroy(conf);
    if (!td)
        fail_msg("rill_test_driver_new: %s", err);
    return track(td, driver_destroy);
}

/* Builds, runs one table and tears the driver down. */
static void run_table(rill_topology_t *topo, const in_t *in, size_t nin, const fmt_t *fmt,
                      const out_t *exp, size_t nexp)
{
    rill_test_driver_t *td = driver_new(topo);
    pipe_and_check(td, "in", in, nin, "out", fmt, exp, nexp);
    release(td);
}

/* ---- store contents ---------------------------------------------------------------------- */

static void print_stored(const fmt_t *fmt, rill_buf_t stored, char *buf, size_t size)
{
    rill_buf_t value;
    int64_t ts;
    assert_int_equal(rill_stored_split(stored, &value, &ts), 0);
    char v[256];
    print_value(fmt, value, v, sizeof v);
    snprintf(buf, size, "%s@%lld", v, (long long)ts);
}

/* Returns "key=value@ts;..." for every entry of a key-value store (new string: free it). */
static char *dump_kv(rill_test_driver_t *td, const char *store, const fmt_t *fmt)
{
    rill_store_t *kv = rill_test_driver_kv_store(td, store, 0);
    assert_non_null(kv);
    rill_store_iter_t *it = rill_store_range(kv, NULL, NULL, false);
    assert_non_null(it);
    char *s = NULL;
    size_t len = 0;
    append(&s, &len, "");
    rill_buf_t k, v;
    while (rill_store_iter_next(it, &k, &v)) {
        char val[300];
        print_stored(fmt, v, val, sizeof val);
        append(&s, &len, "%.*s=%s;", (int)k.len, (const char *)k.data, val);
    }
    rill_store_iter_close(it);
    return s;
}

/* Returns "[key@start]=value@ts;..." for every live window of a window store. */
static char *dump_windows(rill_test_driver_t *td, const char *store, const fmt_t *fmt)
{
    rill_window_store_t *ws = rill_test_driver_window_store(td, store, 0);
    assert_non_null(ws);
    rill_window_iter_t *it = rill_window_store_all(ws);
    assert_non_null(it);
    char *s = NULL;
    size_t len = 0;
    append(&s, &len, "");
    rill_buf_t k, v;
    int64_t start;
    while (rill_window_iter_next(it, &k, &start, &v)) {
        char val[300];
        print_stored(fmt, v, val, sizeof val);
        append(&s, &len, "[%.*s@%lld]=%s;", (int)k.len, (const char *)k.data, (long long)start,
               val);
    }
    rill_window_iter_close(it);
    return s;
}

/* Returns "[key@start/end]=value@ts;..." for every live session of a session store. */
static char *dump_sessions(rill_test_driver_t *td, const char *store, const fmt_t *fmt)
{
    rill_session_store_t *ss = rill_test_driver_session_store(td, store, 0);
    assert_non_null(ss);
    rill_session_iter_t *it = rill_session_store_all(ss);
    assert_non_null(it);
    char *s = NULL;
    size_t len = 0;
    append(&s, &len, "");
    rill_buf_t k, v;
    int64_t start, end;
    while (rill_session_iter_next(it, &k, &start, &end, &v)) {
        char val[300];
        print_stored(fmt, v, val, sizeof val);
        append(&s, &len, "[%.*s@%lld/%lld]=%s;", (int)k.len, (const char *)k.data, (long long)start,
               (long long)end, val);
    }
    rill_session_iter_close(it);
    return s;
}

static void assert_dump(char *dump, const char *expected)
{
    track(dump, free);
    assert_string_equal(dump, expected);
    release(dump);
}

/* ---- user functions ---------------------------------------------------------------------- */

static rill_buf_t str_of(rill_context_t *ctx, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static rill_buf_t str_of(rill_context_t *ctx, const char *fmt, ...)
{
    char buf[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    return rill_arena_copy(rill_context_arena(ctx), buf, strlen(buf));
}

#define S(v) (int)(v).len, (const char *)(v).data

/* Reduce adder and subtractor as Kafka's MockReducer: "agg+value", "agg-value". */
static int concat_add(void *ud, rill_context_t *ctx, rill_buf_t agg, rill_buf_t value,
                      rill_buf_t *out)
{
    *out = str_of(ctx, "%.*s+%.*s", S(agg), S(value));
    return out->data ? 0 : RILL_ENOMEM;
}

static int concat_sub(void *ud, rill_context_t *ctx, rill_buf_t agg, rill_buf_t value,
                      rill_buf_t *out)
{
    *out = str_of(ctx, "%.*s-%.*s", S(agg), S(value));
    return out->data ? 0 : RILL_ENOMEM;
}

/* Aggregate initializer, adder, subtractor and session merger as Kafka's MockAggregator /
 * MockInitializer: "0", "agg+value", "agg-value", "agg1|agg2". */
static int init_zero(void *ud, rill_context_t *ctx, rill_buf_t *out)
{
    *out = str_of(ctx, "0");
    return 0;
}

static int agg_add(void *ud, rill_context_t *ctx, rill_buf_t key, rill_buf_t value, rill_buf_t agg,
                   rill_buf_t *out)
{
    *out = str_of(ctx, "%.*s+%.*s", S(agg), S(value));
    return 0;
}

static int agg_sub(void *ud, rill_context_t *ctx, rill_buf_t key, rill_buf_t value, rill_buf_t agg,
                   rill_buf_t *out)
{
    *out = str_of(ctx, "%.*s-%.*s", S(agg), S(value));
    return 0;
}

static int agg_merge(void *ud, rill_context_t *ctx, rill_buf_t key, rill_buf_t agg1,
                     rill_buf_t agg2, rill_buf_t *out)
{
    *out = str_of(ctx, "%.*s|%.*s", S(agg1), S(agg2));
    return 0;
}

/* Sums int64 values (table reduce over amounts). */
static int sum_add(void *ud, rill_context_t *ctx, rill_buf_t agg, rill_buf_t value, rill_buf_t *out)
{
    *out = rill_arena_i64(rill_context_arena(ctx), rill_value_i64(agg) + rill_value_i64(value));
    return 0;
}

static int sum_sub(void *ud, rill_context_t *ctx, rill_buf_t agg, rill_buf_t value, rill_buf_t *out)
{
    *out = rill_arena_i64(rill_context_arena(ctx), rill_value_i64(agg) - rill_value_i64(value));
    return 0;
}

/* The first letter of the value, as the new key. */
static int first_letter(void *ud, rill_context_t *ctx, const rill_record_t *rec, rill_buf_t *out)
{
    *out = rec->value.len ? rill_arena_copy(rill_context_arena(ctx), rec->value.data, 1)
                          : (rill_buf_t){NULL, 0};
    return 0;
}

/* (key, value) -> (value, key). */
static int swap(void *ud, rill_context_t *ctx, const rill_record_t *rec, rill_buf_t *k,
                rill_buf_t *v)
{
    *k = rec->value;
    *v = rec->key;
    return 0;
}

/* A table row "region:amount" -> (region, amount as int64). */
static int region_amount(void *ud, rill_context_t *ctx, const rill_record_t *rec, rill_buf_t *k,
                         rill_buf_t *v)
{
    const char *s = rec->value.data, *colon = memchr(s, ':', rec->value.len);
    assert_non_null(colon);
    *k = rill_arena_copy(rill_context_arena(ctx), s, (size_t)(colon - s));
    char num[32];
    snprintf(num, sizeof num, "%.*s", (int)(rec->value.len - (size_t)(colon - s) - 1), colon + 1);
    *v = rill_arena_i64(rill_context_arena(ctx), atoll(num));
    return 0;
}

static bool starts_with_a(void *ud, const rill_record_t *rec)
{
    return rec->value.len > 0 && ((const char *)rec->value.data)[0] == 'a';
}

static int upper(void *ud, rill_context_t *ctx, const rill_record_t *rec, rill_buf_t *out)
{
    rill_buf_t copy = rill_arena_copy(rill_context_arena(ctx), rec->value.data, rec->value.len);
    for (size_t i = 0; i < copy.len; i++)
        ((char *)copy.data)[i] = (char)(((char *)copy.data)[i] & ~0x20);
    *out = copy;
    return 0;
}

/* ---- topologies -------------------------------------------------------------------------- */

static rill_stream_t *source(rill_topology_t *topo)
{
    rill_source_opts_t so = {.key_serde = rill_serde_string(), .value_serde = rill_serde_string()};
    return rill_stream_from_topic(topo, "in", &so);
}

/* Writes a table's updates to "out". */
static void to_out(rill_table_t *table)
{
    assert_non_null(table);
    assert_int_equal(rill_stream_to(rill_table_to_stream(table), "out", NULL), 0);
}

/* in -> group_by_key -> windowed_by(w) -> count (store "counts", caching as given) -> out */
static rill_topology_t *windowed_count(rill_windows_t w, bool no_caching,
                                       rill_store_backend_t backend)
{
    rill_topology_t *topo = topo_new();
    rill_materialized_t m = {.name = "counts", .no_caching = no_caching, .backend = backend};
    rill_grouped_t *g = rill_stream_group_by_key(source(topo), NULL);
    to_out(rill_windowed_count(rill_grouped_windowed_by(g, w), &m));
    return topo;
}

/* ==== grouped streams: count, reduce, aggregate ============================================ */

static void test_count_group_by_key(void **state)
{
    /* No repartition (the key is the source's); null keys and values are skipped; the
     * aggregate's timestamp is the largest of its records' (out of order: stays 10). */
    const in_t in[] = {{"a", "x", 1},   {"b", "y", 2}, {"a", "z", 10}, {NULL, "n", 11},
                       {"a", NULL, 12}, {"a", "w", 5}, {"b", "v", 13}};
    const out_t exp[] = {
        {0, "a", "1", 1}, {1, "b", "1", 2}, {2, "a", "2", 10}, {5, "a", "3", 10}, {6, "b", "2", 13},
    };
    rill_topology_t *topo = topo_new();
    rill_materialized_t m = {.name = "counts"};
    to_out(rill_grouped_count(rill_stream_group_by_key(source(topo), NULL), &m));
    rill_test_driver_t *td = driver_new(topo);
    pipe_and_check(td, "in", in, N(in), "out", &STR_I64, exp, N(exp));
    assert_int_equal(rill_test_driver_metric(td, "records-skipped"), 2);
    assert_int_equal(rill_test_driver_metric(td, "records-processed"), 7);
    assert_dump(dump_kv(td, "counts", &STR_I64), "a=3@10;b=2@13;");
    /* group_by_key on the source's key: no repartition topic. */
    rill_test_record_t rec;
    assert_int_equal(rill_test_driver_read(td, APP "-counts-repartition", &rec), RILL_ENOENT);
    release(td);
    release(topo);
}

static void test_reduce_group_by_key(void **state)
{
    const in_t in[] = {{"a", "1", 1}, {"b", "2", 2}, {"a", "3", 3}, {"a", NULL, 4}, {"b", "4", 5}};
    const out_t exp[] = {
        {0, "a", "1", 1}, {1, "b", "2", 2}, {2, "a", "1+3", 3}, {4, "b", "2+4", 5}};
    rill_topology_t *topo = topo_new();
    rill_materialized_t m = {.name = "reduced"};
    to_out(rill_grouped_reduce(rill_stream_group_by_key(source(topo), NULL), concat_add, NULL, &m));
    rill_test_driver_t *td = driver_new(topo);
    pipe_and_check(td, "in", in, N(in), "out", &STR_STR, exp, N(exp));
    assert_int_equal(rill_test_driver_metric(td, "records-skipped"), 1);
    assert_dump(dump_kv(td, "reduced", &STR_STR), "a=1+3@3;b=2+4@5;");
    release(td);
    release(topo);
}

static void test_aggregate_group_by_key(void **state)
{
    const in_t in[] = {{"a", "1", 1}, {"b", "2", 2}, {"a", "3", 3}, {NULL, "9", 4}, {"a", "4", 2}};
    const out_t exp[] = {
        {0, "a", "0+1", 1}, {1, "b", "0+2", 2}, {2, "a", "0+1+3", 3}, {4, "a", "0+1+3+4", 3}};
    rill_topology_t *topo = topo_new();
    rill_materialized_t m = {.name = "aggregated", .value_serde = rill_serde_string()};
    to_out(rill_grouped_aggregate(rill_stream_group_by_key(source(topo), NULL), init_zero, agg_add,
                                  NULL, &m));
    rill_test_driver_t *td = driver_new(topo);
    pipe_and_check(td, "in", in, N(in), "out", &STR_STR, exp, N(exp));
    assert_int_equal(rill_test_driver_metric(td, "records-skipped"), 1);
    assert_dump(dump_kv(td, "aggregated", &STR_STR), "a=0+1+3+4@3;b=0+2@2;");
    release(td);
    release(topo);
}

/* Reads every record of an internal topic as "key=value;" (values as strings). */
static char *dump_topic(rill_test_driver_t *td, const char *topic)
{
    char *s = NULL;
    size_t len = 0;
    append(&s, &len, "");
    rill_test_record_t rec;
    while (rill_test_driver_read(td, topic, &rec) == 0)
        append(&s, &len, "%.*s=%.*s@%lld;", S(rec.key), S(rec.value), (long long)rec.timestamp);
    return s;
}

static void test_count_group_by_repartitions(void **state)
{
    /* group_by always repartitions, through "<application.id>-<store>-repartition". */
    const in_t in[] = {
        {"u1", "apple", 1}, {"u2", "avocado", 2}, {"u1", "banana", 3}, {"u3", "", 4}};
    const out_t exp[] = {{0, "a", "1", 1}, {1, "a", "2", 2}, {2, "b", "1", 3}};
    rill_topology_t *topo = topo_new();
    rill_materialized_t m = {.name = "by-letter"};
    rill_grouped_opts_t go = {.key_serde = rill_serde_string()};
    to_out(rill_grouped_count(rill_stream_group_by(source(topo), first_letter, NULL, &go), &m));
    rill_test_driver_t *td = driver_new(topo);
    pipe_and_check(td, "in", in, N(in), "out", &STR_I64, exp, N(exp));
    /* The repartition topic carries the new keys and the original values; the record whose
     * new key is null never reaches the count. */
    char *topic = track(dump_topic(td, APP "-by-letter-repartition"), free);
    assert_non_null(strstr(topic, "a=apple@1;a=avocado@2;b=banana@3;"));
    release(topic);
    assert_dump(dump_kv(td, "by-letter", &STR_I64), "a=2@2;b=1@3;");
    release(td);
    release(topo);
}

static void test_reduce_after_map_repartitions(void **state)
{
    /* map changes the key, so group_by_key repartitions, through the grouping's name. */
    const in_t in[] = {{"k1", "x", 1}, {"k2", "y", 2}, {"k3", "x", 3}};
    const out_t exp[] = {{0, "x", "k1", 1}, {1, "y", "k2", 2}, {2, "x", "k1+k3", 3}};
    rill_topology_t *topo = topo_new();
    rill_grouped_opts_t go = {
        .name = "rekeyed", .key_serde = rill_serde_string(), .value_serde = rill_serde_string()};
    rill_grouped_t *g = rill_stream_group_by_key(rill_stream_map(source(topo), swap, NULL), &go);
    to_out(rill_grouped_reduce(g, concat_add, NULL, NULL));
    rill_test_driver_t *td = driver_new(topo);
    pipe_and_check(td, "in", in, N(in), "out", &STR_STR, exp, N(exp));
    assert_int_equal(rill_test_driver_unread(td, APP "-rekeyed-repartition"), 3);
    assert_dump(dump_topic(td, APP "-rekeyed-repartition"), "x=k1@1;y=k2@2;x=k3@3;");
    release(td);
    release(topo);
}

static void test_aggregate_after_group_by_repartitions(void **state)
{
    const in_t in[] = {{"u1", "apple", 1}, {"u2", "banana", 2}, {"u3", "avocado", 3}};
    const out_t exp[] = {
        {0, "a", "0+apple", 1}, {1, "b", "0+banana", 2}, {2, "a", "0+apple+avocado", 3}};
    rill_topology_t *topo = topo_new();
    rill_materialized_t m = {.name = "letters", .value_serde = rill_serde_string()};
    rill_grouped_opts_t go = {.key_serde = rill_serde_string()};
    to_out(rill_grouped_aggregate(rill_stream_group_by(source(topo), first_letter, NULL, &go),
                                  init_zero, agg_add, NULL, &m));
    rill_test_driver_t *td = driver_new(topo);
    pipe_and_check(td, "in", in, N(in), "out", &STR_STR, exp, N(exp));
    assert_int_equal(rill_test_driver_unread(td, APP "-letters-repartition"), 3);
    release(td);
    release(topo);
}

/*
 * A grouping named by the user can feed several aggregations; they share its repartition topic
 * "<application.id>-<name>-repartition" (Kafka's GroupedStreamAggregateBuilder and
 * KGroupedTableImpl create the repartition node once when the user named it, a new one per
 * aggregation otherwise). The same holds for a named rill_table_group_by().
 */
static void test_named_grouping_feeds_two_aggregations(void **state)
{
    const in_t in[] = {{"u1", "apple", 1}, {"u2", "avocado", 2}};
    rill_topology_t *topo = topo_new();
    rill_grouped_opts_t go = {.name = "letters", .key_serde = rill_serde_string()};
    rill_grouped_t *g = rill_stream_group_by(source(topo), first_letter, NULL, &go);
    rill_materialized_t counts = {.name = "counts"}, reduced = {.name = "reduced"};
    /* The build reports what failed: no asserts on the DSL calls. */
    rill_stream_to(rill_table_to_stream(rill_grouped_count(g, &counts)), "out", NULL);
    rill_stream_to(rill_table_to_stream(rill_grouped_reduce(g, concat_add, NULL, &reduced)), "out2",
                   NULL);
    char err[512];
    if (rill_topology_build(topo, err, sizeof err))
        fail_msg("build: %s", err);
    rill_test_driver_t *td = driver_new(topo);
    const out_t counted[] = {{0, "a", "1", 1}, {1, "a", "2", 2}};
    pipe_and_check(td, "in", in, N(in), "out", &STR_I64, counted, N(counted));
    char *got = NULL;
    size_t len = 0;
    append(&got, &len, "");
    read_outputs(td, "out2", &STR_STR, 0, &got, &len);
    assert_dump(got, "#0 a = apple @1\n#0 a = apple+avocado @2\n");
    assert_int_equal(rill_test_driver_unread(td, APP "-letters-repartition"), 2);
    release(td);
    release(topo);
}

static void test_describe_shows_stores(void **state)
{
    char err[512];
    rill_topology_t *topo = topo_new();
    rill_materialized_t m = {.name = "counts"};
    to_out(rill_grouped_count(rill_stream_group_by_key(source(topo), NULL), &m));
    assert_int_equal(rill_topology_build(topo, err, sizeof err), 0);
    char *d = track(rill_topology_describe(topo), rill_free);
    const char *node = strstr(d, "Processor: KSTREAM-AGGREGATE-");
    if (!node)
        fail_msg("no aggregate node in:\n%s", d);
    const char *eol = strchr(node, '\n');
    if (!strstr(node, "(stores: [counts])") || strstr(node, "(stores: [counts])") > eol)
        fail_msg("the aggregate node does not show its store:\n%s", d);
    release(d);
    release(topo);
}

/* ==== tumbling and hopping windows ========================================================= */

static const in_t TUMBLING_IN[] = {
    {"a", "v", 0},  /* [0,10) */
    {"a", "v", 9},  /* [0,10): its last millisecond */
    {"a", "v", 10}, /* [10,20): a window's end belongs to the next window */
    {"a", "v", 14}, /* stream time 14: [0,10) closes at 10 + 5 */
    {"a", "v", 3},  /* out of order, within grace: end 10 > 14 - 5 */
    {"a", "v", 15}, /* stream time 15 = 10 + 5: [0,10) is closed */
    {"a", "v", 5},  /* late: end 10 == close time 10 */
    {"b", "v", 2},  /* late too: stream time is the task's, not the key's */
    {"b", "v", 10}, /* [10,20) of b */
    {"a", "v", 25}, /* stream time 25: [10,20) closes */
    {"a", "v", 19}, /* late */
    {"a", "v", 20}, /* [20,30) */
};

static const out_t TUMBLING_OUT[] = {
    {0, "[a@0/10]", "1", 0},   {1, "[a@0/10]", "2", 9},   {2, "[a@10/20]", "1", 10},
    {3, "[a@10/20]", "2", 14}, {4, "[a@0/10]", "3", 9},   {5, "[a@10/20]", "3", 15},
    {8, "[b@10/20]", "1", 10}, {9, "[a@20/30]", "1", 25}, {11, "[a@20/30]", "2", 25},
};

/* The store keeps a window for its retention (size + grace = 15) after the latest window start
 * it saw (20): [a@0] has expired, as in Kafka's segmented stores (which hide windows that start
 * before observed time - retention + 1). */
static const char TUMBLING_STORE[] = "[a@10]=3@15;[a@20]=2@25;[b@10]=1@10;";

static void test_tumbling_windows(void **state)
{
    rill_topology_t *topo = windowed_count(rill_windows_tumbling(10, 5), false, RILL_STORE_DEFAULT);
    rill_test_driver_t *td = driver_new(topo);
    fmt_t fmt = time_i64(10);
    pipe_and_check(td, "in", TUMBLING_IN, N(TUMBLING_IN), "out", &fmt, TUMBLING_OUT,
                   N(TUMBLING_OUT));
    assert_int_equal(rill_test_driver_metric(td, "late-records-dropped"), 3);
    assert_dump(dump_windows(td, "counts", &STR_I64), TUMBLING_STORE);
    release(td);
    release(topo);
}

static void test_tumbling_grace_zero(void **state)
{
    /* With no grace a window closes as soon as stream time reaches its end. */
    const in_t in[] = {{"a", "v", 9}, {"a", "v", 10}, {"a", "v", 9}, {"a", "v", 19}};
    const out_t exp[] = {
        {0, "[a@0/10]", "1", 9}, {1, "[a@10/20]", "1", 10}, {3, "[a@10/20]", "2", 19}};
    rill_topology_t *topo = windowed_count(rill_windows_tumbling(10, 0), false, RILL_STORE_DEFAULT);
    rill_test_driver_t *td = driver_new(topo);
    fmt_t fmt = time_i64(10);
    pipe_and_check(td, "in", in, N(in), "out", &fmt, exp, N(exp));
    assert_int_equal(rill_test_driver_metric(td, "late-records-dropped"), 1);
    release(td);
    release(topo);
}

static void test_hopping_windows(void **state)
{
    /* size 10, advance 5, grace 2: a record is in size / advance = 2 windows, starts aligned to
     * the advance, none starting before 0; late records are counted once per closed window. */
    const in_t in[] = {
        {"a", "v", 3},  /* only [0,10): [-5,5) is not made */
        {"a", "v", 7},  /* [0,10) [5,15) */
        {"a", "v", 12}, /* [5,15) [10,20); stream time 12: [0,10) closes (10 + 2) */
        {"a", "v", 9},  /* [0,10) late, [5,15) */
        {"a", "v", 16}, /* [10,20) [15,25) */
        {"a", "v", 8},  /* [0,10) late, [5,15) still open (15 + 2 > 16) */
        {"b", "v", 4},  /* [0,10) late: nothing */
        {"a", "v", 17}, /* [10,20) [15,25); [5,15) closes */
        {"a", "v", 13}, /* [5,15) late, [10,20) */
    };
    const out_t exp[] = {
        {0, "[a@0/10]", "1", 3},   {1, "[a@0/10]", "2", 7},   {1, "[a@5/15]", "1", 7},
        {2, "[a@5/15]", "2", 12},  {2, "[a@10/20]", "1", 12}, {3, "[a@5/15]", "3", 12},
        {4, "[a@10/20]", "2", 16}, {4, "[a@15/25]", "1", 16}, {5, "[a@5/15]", "4", 12},
        {7, "[a@10/20]", "3", 17}, {7, "[a@15/25]", "2", 17}, {8, "[a@10/20]", "4", 17},
    };
    for (int cached = 0; cached < 2; cached++) {
        rill_topology_t *topo =
            windowed_count(rill_windows_hopping(10, 5, 2), !cached, RILL_STORE_DEFAULT);
        rill_test_driver_t *td = driver_new(topo);
        fmt_t fmt = time_i64(10);
        pipe_and_check(td, "in", in, N(in), "out", &fmt, exp, N(exp));
        assert_int_equal(rill_test_driver_metric(td, "late-records-dropped"), 4);
        release(td);
        release(topo);
    }
}

static void test_hopping_windows_uneven_advance(void **state)
{
    /* An advance that does not divide the size: starts are still multiples of the advance. */
    const in_t in[] = {{"a", "v", 7}, {"a", "v", 12}};
    const out_t exp[] = {
        {0, "[a@0/10]", "1", 7},   {0, "[a@3/13]", "1", 7},  {0, "[a@6/16]", "1", 7},
        {1, "[a@3/13]", "2", 12},  {1, "[a@6/16]", "2", 12}, {1, "[a@9/19]", "1", 12},
        {1, "[a@12/22]", "1", 12},
    };
    rill_topology_t *topo =
        windowed_count(rill_windows_hopping(10, 3, 100), true, RILL_STORE_DEFAULT);
    fmt_t fmt = time_i64(10);
    run_table(topo, in, N(in), &fmt, exp, N(exp));
    release(topo);
}

static void test_windowed_reduce_and_aggregate(void **state)
{
    const in_t in[] = {{"a", "1", 1}, {"a", "2", 12}, {"a", "3", 5}, {"b", "4", 6}};
    const out_t reduced[] = {{0, "[a@0/10]", "1", 1},
                             {1, "[a@10/20]", "2", 12},
                             {2, "[a@0/10]", "1+3", 5},
                             {3, "[b@0/10]", "4", 6}};
    const out_t aggregated[] = {{0, "[a@0/10]", "0+1", 1},
                                {1, "[a@10/20]", "0+2", 12},
                                {2, "[a@0/10]", "0+1+3", 5},
                                {3, "[b@0/10]", "0+4", 6}};
    fmt_t fmt = {KEY_TIME_WINDOWED, 10, VALUE_STRING, false};
    rill_topology_t *topo = topo_new();
    rill_windowed_stream_t *ws = rill_grouped_windowed_by(
        rill_stream_group_by_key(source(topo), NULL), rill_windows_tumbling(10, 100));
    to_out(rill_windowed_reduce(ws, concat_add, NULL, NULL));
    run_table(topo, in, N(in), &fmt, reduced, N(reduced));
    release(topo);

    topo = topo_new();
    ws = rill_grouped_windowed_by(rill_stream_group_by_key(source(topo), NULL),
                                  rill_windows_tumbling(10, 100));
    rill_materialized_t m = {.value_serde = rill_serde_string()};
    to_out(rill_windowed_aggregate(ws, init_zero, agg_add, NULL, NULL, &m));
    run_table(topo, in, N(in), &fmt, aggregated, N(aggregated));
    release(topo);
}

static void test_windowed_keys_on_the_wire(void **state)
{
    /* The output key is Kafka's TimeWindowedSerde layout: the key's bytes, then the window start
     * as 8 bytes big-endian; the value is an int64 (8 bytes big-endian). */
    rill_topology_t *topo =
        windowed_count(rill_windows_tumbling(1000, 0), false, RILL_STORE_DEFAULT);
    rill_test_driver_t *td = driver_new(topo);
    assert_int_equal(rill_test_driver_pipe_str(td, "in", "key", "v", 2500), 0);
    rill_test_record_t rec;
    assert_int_equal(rill_test_driver_read(td, "out", &rec), 0);
    const uint8_t want[] = {'k', 'e', 'y', 0, 0, 0, 0, 0, 0, 0x07, 0xd0};
    assert_int_equal(rec.key.len, sizeof want);
    assert_memory_equal(rec.key.data, want, sizeof want);
    assert_int_equal(rec.value.len, 8);
    assert_int_equal(rill_decode_i64(rec.value.data), 1);
    /* Read back with the windowed serde, and printed as Windowed.toString does. */
    rill_serde_t *serde = track(rill_serde_time_windowed(rill_serde_string(), 1000),
                                (void (*)(void *))rill_serde_unref);
    rill_arena_t *arena = track(rill_arena_new(256), (void (*)(void *))rill_arena_destroy);
    rill_buf_t view;
    char err[200], buf[100];
    assert_int_equal(rill_serde_deserialize(serde, rec.key, arena, &view, err, sizeof err), 0);
    const rill_windowed_t *w = view.data;
    assert_int_equal(w->start, 2000);
    assert_int_equal(w->end, 3000);
    assert_int_equal(rill_windowed_format(w, rill_serde_string(), buf, sizeof buf), 15);
    assert_string_equal(buf, "[key@2000/3000]");
    release(arena);
    release(serde);
    release(td);
    release(topo);
}

static void test_session_keys_on_the_wire(void **state)
{
    /* SessionWindowedSerde: the key's bytes, then end, then start (8 bytes big-endian each). */
    rill_topology_t *topo = windowed_count(rill_windows_session(100, 0), true, RILL_STORE_DEFAULT);
    rill_test_driver_t *td = driver_new(topo);
    assert_int_equal(rill_test_driver_pipe_str(td, "in", "k", "v", 1), 0);
    assert_int_equal(rill_test_driver_pipe_str(td, "in", "k", "v", 2), 0);
    rill_test_record_t rec;
    assert_int_equal(rill_test_driver_read(td, "out", &rec), 0); /* [k@1/1] = 1 */
    assert_int_equal(rill_test_driver_read(td, "out", &rec), 0); /* [k@1/1] = null */
    assert_null(rec.value.data);
    assert_int_equal(rill_test_driver_read(td, "out", &rec), 0); /* [k@1/2] = 2 */
    const uint8_t want[] = {'k', 0, 0, 0, 0, 0, 0, 0, 2, 0, 0, 0, 0, 0, 0, 0, 1};
    assert_int_equal(rec.key.len, sizeof want);
    assert_memory_equal(rec.key.data, want, sizeof want);
    char k[100];
    print_key(&SESSION_I64, rec.key, k, sizeof k);
    assert_string_equal(k, "[k@1/2]");
    release(td);
    release(topo);
}

/* ==== sliding windows ====================================================================== */

/*
 * Sliding windows of time difference 10 (windows [start, start + 10], both ends inclusive),
 * counted, without caching so every update is seen in the order KStreamSlidingWindowAggregate
 * forwards it: windows the record falls in (newest first, as Kafka iterates them backwards),
 * then the previous record's right window, then the record's left window [t - 10, t], then its
 * right window [t + 1, t + 11] when a later record falls in it. The right window takes the
 * aggregate (and timestamp) of the window it was found in.
 */
static void test_sliding_windows(void **state)
{
    const in_t in[] = {
        {"a", "v", 20}, /* left window [10,20] */
        {"a", "v", 25}, /* 20's right window [21,31] appears; left [15,25] holds 20 and 25 */
        {"a", "v", 40}, /* far from 25: only its left window */
        {"a", "v", 35}, /* out of order: updates [30,40], makes 25's right window, its left
                         * window, and its right window [36,46] holding 40 */
        {"b", "v", 50}, /* another key */
    };
    const out_t exp[] = {
        {0, "[a@10/20]", "1", 20}, {1, "[a@21/31]", "1", 25}, {1, "[a@15/25]", "2", 25},
        {2, "[a@30/40]", "1", 40}, {3, "[a@30/40]", "2", 40}, {3, "[a@26/36]", "1", 35},
        {3, "[a@25/35]", "2", 35}, {3, "[a@36/46]", "1", 40}, {4, "[b@40/50]", "1", 50},
    };
    rill_topology_t *topo = windowed_count(rill_windows_sliding(10, 100), true, RILL_STORE_DEFAULT);
    rill_test_driver_t *td = driver_new(topo);
    fmt_t fmt = time_i64(10);
    pipe_and_check(td, "in", in, N(in), "out", &fmt, exp, N(exp));
    /* Every window holds the number of records in [start, start + 10]. */
    assert_dump(dump_windows(td, "counts", &STR_I64),
                "[a@10]=1@20;[a@15]=2@25;[a@21]=1@25;[a@25]=2@35;[a@26]=1@35;[a@30]=2@40;"
                "[a@36]=1@40;[b@40]=1@50;");
    assert_int_equal(rill_test_driver_metric(td, "late-records-dropped"), 0);
    release(td);
    release(topo);
}

static void test_sliding_windows_early_records(void **state)
{
    /* Records earlier than the time difference share the window [0, 10]. */
    const in_t in[] = {
        {"a", "v", 5},  /* [0,10] */
        {"a", "v", 8},  /* 5's right window [6,16], then [0,10] */
        {"a", "v", 12}, /* updates [6,16]; 8's right window [9,19]; left [2,12] */
    };
    const out_t exp[] = {
        {0, "[a@0/10]", "1", 5},  {1, "[a@6/16]", "1", 8},  {1, "[a@0/10]", "2", 8},
        {2, "[a@6/16]", "2", 12}, {2, "[a@9/19]", "1", 12}, {2, "[a@2/12]", "3", 12},
    };
    rill_topology_t *topo = windowed_count(rill_windows_sliding(10, 100), true, RILL_STORE_DEFAULT);
    rill_test_driver_t *td = driver_new(topo);
    fmt_t fmt = time_i64(10);
    pipe_and_check(td, "in", in, N(in), "out", &fmt, exp, N(exp));
    assert_dump(dump_windows(td, "counts", &STR_I64),
                "[a@0]=2@8;[a@2]=3@12;[a@6]=2@12;[a@9]=1@12;");
    release(td);
    release(topo);
}

/*
 * An early record that arrives out of order. As Kafka's processEarly, the record's right window
 * (holding what the combined window [0,10] holds after it) comes before the update of the
 * combined window.
 */
static void test_sliding_windows_early_out_of_order(void **state)
{
    const in_t in[] = {{"a", "v", 5}, {"a", "v", 8}, {"a", "v", 3}};
    const out_t exp[] = {
        {0, "[a@0/10]", "1", 5}, {1, "[a@6/16]", "1", 8}, {1, "[a@0/10]", "2", 8},
        {2, "[a@4/14]", "2", 8}, {2, "[a@0/10]", "3", 8},
    };
    rill_topology_t *topo = windowed_count(rill_windows_sliding(10, 100), true, RILL_STORE_DEFAULT);
    rill_test_driver_t *td = driver_new(topo);
    fmt_t fmt = time_i64(10);
    pipe_and_check(td, "in", in, N(in), "out", &fmt, exp, N(exp));
    release(td);
    release(topo);
}

/*
 * A record that falls in several existing windows. Kafka iterates the windows backwards
 * (processReverse, which both its store kinds support) and so forwards the newest window first:
 * [10,20] before [6,16].
 */
static void test_sliding_windows_update_newest_first(void **state)
{
    const in_t in[] = {{"a", "v", 20}, {"a", "v", 5}, {"a", "v", 8}, {"a", "v", 12}};
    const out_t exp[] = {
        {0, "[a@10/20]", "1", 20}, {1, "[a@0/10]", "1", 5},   {2, "[a@6/16]", "1", 8},
        {2, "[a@0/10]", "2", 8},   {3, "[a@10/20]", "2", 20}, {3, "[a@6/16]", "2", 12},
        {3, "[a@9/19]", "1", 12},  {3, "[a@2/12]", "3", 12},  {3, "[a@13/23]", "1", 20},
    };
    rill_topology_t *topo = windowed_count(rill_windows_sliding(10, 100), true, RILL_STORE_DEFAULT);
    rill_test_driver_t *td = driver_new(topo);
    fmt_t fmt = time_i64(10);
    pipe_and_check(td, "in", in, N(in), "out", &fmt, exp, N(exp));
    release(td);
    release(topo);
}

static void test_sliding_windows_late(void **state)
{
    /* Time difference 10, grace 5. A window is open while its end >= stream time - grace; a
     * record is dropped whole when even its right window has closed (t + 11 <= close). */
    const in_t in[] = {
        {"a", "v", 100}, /* [90,100] */
        {"a", "v", 90},  /* updates [90,100]; left [80,90] is late; right [91,101] */
        {"a", "v", 84},  /* late whole: 84 + 11 <= 95 */
        {"a", "v", 85},  /* no window holds it; left [75,85] late */
        {"a", "v", 101}, /* stream time 101: updates its left window [91,101]; 100's right
                          * window [101,111] */
        {"b", "v", 96},  /* left [86,96]: end 96 == close 96, still open */
        {"b", "v", 95},  /* left [85,95] late */
    };
    const out_t exp[] = {
        {0, "[a@90/100]", "1", 100}, {1, "[a@90/100]", "2", 100},  {1, "[a@91/101]", "1", 100},
        {4, "[a@91/101]", "2", 101}, {4, "[a@101/111]", "1", 101}, {5, "[b@86/96]", "1", 96},
        {6, "[b@86/96]", "2", 96},   {6, "[b@96/106]", "1", 96},
    };
    rill_topology_t *topo = windowed_count(rill_windows_sliding(10, 5), true, RILL_STORE_DEFAULT);
    rill_test_driver_t *td = driver_new(topo);
    fmt_t fmt = time_i64(10);
    pipe_and_check(td, "in", in, N(in), "out", &fmt, exp, N(exp));
    /* Late: 90's left window, 84 whole, 85's left window, b@95's left window (b@95 still
     * updates [86,96], which is open, and makes its right window [96,106] holding 96). */
    assert_int_equal(rill_test_driver_metric(td, "late-records-dropped"), 4);
    release(td);
    release(topo);
}

/* ==== session windows ====================================================================== */

/*
 * Sessions with an inactivity gap of 10, counted, without caching: Kafka's
 * KStreamSessionWindowAggregate finds the sessions with end >= t - gap and start <= t + gap
 * (both inclusive: records exactly gap apart merge), forwards a tombstone for each session it
 * merges, then the merged session. Every update is stamped with its session's end
 * (test_session_tombstone_timestamps checks the tombstones' stamps).
 */
static const in_t SESSION_IN[] = {
    {"a", "v", 0},  /* [0,0] */
    {"a", "v", 10}, /* exactly gap apart: merges into [0,10] */
    {"a", "v", 21}, /* 11 apart: a new session */
    {"a", "v", 40}, /* another */
    {"a", "v", 30}, /* bridges [21,21] and [40,40] into [21,40] */
    {"b", "v", 5},  /* another key */
    {"b", "v", 5},  /* the same time again: the session [5,5] itself, no tombstone */
};

static const out_t SESSION_OUT[] = {
    {0, "[a@0/0]", "1", 0},     {1, "[a@0/0]", NULL, 0},   {1, "[a@0/10]", "2", 10},
    {2, "[a@21/21]", "1", 21},  {3, "[a@40/40]", "1", 40}, {4, "[a@21/21]", NULL, 21},
    {4, "[a@40/40]", NULL, 40}, {4, "[a@21/40]", "3", 40}, {5, "[b@5/5]", "1", 5},
    {6, "[b@5/5]", "2", 5},
};

static void test_session_windows(void **state)
{
    rill_topology_t *topo = windowed_count(rill_windows_session(10, 100), true, RILL_STORE_DEFAULT);
    rill_test_driver_t *td = driver_new(topo);
    pipe_and_check(td, "in", SESSION_IN, N(SESSION_IN), "out", &SESSION_I64_ANY_TS, SESSION_OUT,
                   N(SESSION_OUT));
    assert_int_equal(rill_test_driver_metric(td, "late-records-dropped"), 0);
    release(td);
    release(topo);
}

/*
 * The tombstone of a merged session is stamped with that session's end, as every session update
 * is (KStreamSessionWindowAggregate.maybeForwardUpdate uses windowedKey.window().end();
 * KStreamSessionWindowAggregateProcessorTest.shouldImmediatelyForwardRemovedSessionsWhenMerging
 * expects [a@0/0] = null at 0 after a record at 5).
 */
static void test_session_tombstone_timestamps(void **state)
{
    for (int cached = 0; cached < 2; cached++) {
        rill_topology_t *topo =
            windowed_count(rill_windows_session(10, 100), !cached, RILL_STORE_DEFAULT);
        rill_test_driver_t *td = driver_new(topo);
        if (!cached) {
            pipe_and_check(td, "in", SESSION_IN, N(SESSION_IN), "out", &SESSION_I64, SESSION_OUT,
                           N(SESSION_OUT));
        } else {
            /* Cached, one update per window and input; the driver writes the cache through in
             * the store's key order (key, end, start), so order is checked by the uncached
             * run only: here, only the stamps. */
            for (size_t i = 0; i < N(SESSION_IN); i++)
                assert_int_equal(rill_test_driver_pipe_str(td, "in", SESSION_IN[i].key,
                                                           SESSION_IN[i].value, SESSION_IN[i].ts),
                                 0);
            rill_test_record_t rec;
            while (rill_test_driver_read(td, "out", &rec) == 0) {
                char k[100];
                print_key(&SESSION_I64, rec.key, k, sizeof k);
                const char *end = strrchr(k, '/');
                if (rec.timestamp != atoll(end + 1))
                    fail_msg("%s = %s is stamped %lld, not with its end", k,
                             rec.value.data ? "(value)" : "null", (long long)rec.timestamp);
            }
        }
        release(td);
        release(topo);
    }
}

static void test_session_windows_store(void **state)
{
    /* The same inputs, cached: the store ends up with the merged sessions only; a record inside
     * an existing session updates it in place (one update, no tombstone, once cached). */
    const in_t more[] = {{"a", "v", 5}};
    const out_t exp[] = {{0, "[a@0/10]", "3", 10}};
    rill_topology_t *topo =
        windowed_count(rill_windows_session(10, 100), false, RILL_STORE_DEFAULT);
    rill_test_driver_t *td = driver_new(topo);
    for (size_t i = 0; i < N(SESSION_IN); i++)
        assert_int_equal(rill_test_driver_pipe_str(td, "in", SESSION_IN[i].key, SESSION_IN[i].value,
                                                   SESSION_IN[i].ts),
                         0);
    assert_dump(dump_sessions(td, "counts", &STR_I64), "[a@0/10]=2@10;[a@21/40]=3@40;[b@5/5]=2@5;");
    while (rill_test_driver_unread(td, "out")) {
        rill_test_record_t rec;
        assert_int_equal(rill_test_driver_read(td, "out", &rec), 0);
    }
    pipe_and_check(td, "in", more, N(more), "out", &SESSION_I64, exp, N(exp));
    assert_dump(dump_sessions(td, "counts", &STR_I64), "[a@0/10]=3@10;[a@21/40]=3@40;[b@5/5]=2@5;");
    release(td);
    release(topo);
}

static void test_session_aggregate_merges(void **state)
{
    /* The aggregate of merged sessions: initializer, then the merger over the sessions found
     * (oldest end first), then the adder with the record. Same tombstone stamps as above. */
    const in_t in[] = {{"a", "x", 0}, {"a", "y", 20}, {"a", "z", 10}};
    const out_t exp[] = {
        {0, "[a@0/0]", "0+x", 0},   {1, "[a@20/20]", "0+y", 20},        {2, "[a@0/0]", NULL, 0},
        {2, "[a@20/20]", NULL, 20}, {2, "[a@0/20]", "0|0+x|0+y+z", 20},
    };
    rill_topology_t *topo = topo_new();
    rill_materialized_t m = {.no_caching = true, .value_serde = rill_serde_string()};
    rill_windowed_stream_t *ws = rill_grouped_windowed_by(
        rill_stream_group_by_key(source(topo), NULL), rill_windows_session(10, 100));
    to_out(rill_windowed_aggregate(ws, init_zero, agg_add, agg_merge, NULL, &m));
    run_table(topo, in, N(in), &SESSION_STR_ANY_TS, exp, N(exp));
    release(topo);
}

static void test_session_reduce_merges(void **state)
{
    /* Kafka's session reduce: the first value, then the reducer over the merged sessions'
     * values (oldest end first) and the record's. */
    const in_t in[] = {{"a", "x", 0}, {"a", "y", 20}, {"a", "z", 10}, {"b", "w", 3}};
    const out_t exp[] = {
        {0, "[a@0/0]", "x", 0},     {1, "[a@20/20]", "y", 20},    {2, "[a@0/0]", NULL, 0},
        {2, "[a@20/20]", NULL, 20}, {2, "[a@0/20]", "x+y+z", 20}, {3, "[b@3/3]", "w", 3},
    };
    rill_topology_t *topo = topo_new();
    rill_materialized_t m = {.name = "sessions", .no_caching = true};
    rill_windowed_stream_t *ws = rill_grouped_windowed_by(
        rill_stream_group_by_key(source(topo), NULL), rill_windows_session(10, 100));
    to_out(rill_windowed_reduce(ws, concat_add, NULL, &m));
    rill_test_driver_t *td = driver_new(topo);
    pipe_and_check(td, "in", in, N(in), "out", &SESSION_STR_ANY_TS, exp, N(exp));
    assert_dump(dump_sessions(td, "sessions", &STR_STR), "[a@0/20]=x+y+z@20;[b@3/3]=w@3;");
    release(td);
    release(topo);
}

static void test_session_windows_late(void **state)
{
    /* gap 10, grace 5, at stream time 100. A record that joins a session still open is taken
     * even when its own timestamp is old. */
    const in_t in[] = {
        {"a", "v", 100}, /* [100,100] */
        {"b", "v", 70},  /* late: a session [70,70] closed long ago */
        {"a", "v", 90},  /* joins [100,100]: [90,100] */
        {"b", "v", 96},  /* [96,96] */
    };
    const out_t exp[] = {
        {0, "[a@100/100]", "1", 100},
        {2, "[a@100/100]", NULL, 100},
        {2, "[a@90/100]", "2", 100},
        {3, "[b@96/96]", "1", 96},
    };
    rill_topology_t *topo = windowed_count(rill_windows_session(10, 5), true, RILL_STORE_DEFAULT);
    rill_test_driver_t *td = driver_new(topo);
    pipe_and_check(td, "in", in, N(in), "out", &SESSION_I64_ANY_TS, exp, N(exp));
    assert_int_equal(rill_test_driver_metric(td, "late-records-dropped"), 1);
    release(td);
    release(topo);
}

/*
 * A session closes at stream time end + gap + grace, not end + grace. Kafka (3.3+) computes
 * closeTime = observedStreamTime - grace - inactivityGap in KStreamSessionWindowAggregate (a
 * session can still be extended by an on-time record up to gap after its end), and
 * KStreamSessionWindowAggregateProcessorTest.shouldLogAndMeterWhenSkippingLateRecordWithNonzeroGrace
 * takes a record at 0 at stream time 11 (gap 10, grace 1) and drops it at stream time 12.
 */
static void test_session_windows_close_after_gap_and_grace(void **state)
{
    const in_t in[] = {
        {"a", "v", 100}, /* stream time 100: sessions ending before 100 - 5 - 10 = 85 closed */
        {"b", "v", 84},  /* late */
        {"b", "v", 85},  /* on time: end 85 == close time */
        {"c", "v", 94},  /* on time */
    };
    const out_t exp[] = {
        {0, "[a@100/100]", "1", 100}, {2, "[b@85/85]", "1", 85}, {3, "[c@94/94]", "1", 94}};
    rill_topology_t *topo = windowed_count(rill_windows_session(10, 5), true, RILL_STORE_DEFAULT);
    rill_test_driver_t *td = driver_new(topo);
    pipe_and_check(td, "in", in, N(in), "out", &SESSION_I64, exp, N(exp));
    assert_int_equal(rill_test_driver_metric(td, "late-records-dropped"), 1);
    release(td);
    release(topo);
}

/* ==== suppress ============================================================================= */

static rill_topology_t *suppressed_count(rill_windows_t w, const rill_suppressed_t *sup)
{
    rill_topology_t *topo = topo_new();
    rill_grouped_t *g = rill_stream_group_by_key(source(topo), NULL);
    rill_table_t *t = w.kind == RILL_WINDOWS_NONE
                          ? rill_grouped_count(g, NULL)
                          : rill_windowed_count(rill_grouped_windowed_by(g, w), NULL);
    to_out(rill_table_suppress(t, sup));
    return topo;
}

static void test_suppress_until_window_closes(void **state)
{
    /* Tumbling 10, grace 5: each window's final count once stream time reaches end + grace,
     * stamped with its last update's timestamp; nothing before; late records change nothing. */
    const in_t in[] = {
        {"a", "v", 1},  {"a", "v", 5},  {"b", "v", 12},
        {"a", "v", 14}, {"a", "v", 15}, /* 15 = 10 + 5: [0,10) is final */
        {"a", "v", 7},                  /* late */
        {"b", "v", 24},                 /* 24 < 25 */
        {"c", "v", 30},                 /* [10,20) of a and b, in key order */
    };
    const out_t exp[] = {
        {4, "[a@0/10]", "2", 5}, {7, "[a@10/20]", "2", 15}, {7, "[b@10/20]", "1", 12}};
    rill_suppressed_t sup = {.until_window_closes = true};
    rill_topology_t *topo = suppressed_count(rill_windows_tumbling(10, 5), &sup);
    rill_test_driver_t *td = driver_new(topo);
    fmt_t fmt = time_i64(10);
    pipe_and_check(td, "in", in, N(in), "out", &fmt, exp, N(exp));
    assert_int_equal(rill_test_driver_metric(td, "late-records-dropped"), 1);
    release(td);
    release(topo);
}

static void test_suppress_until_window_closes_hopping(void **state)
{
    const in_t in[] = {{"a", "v", 7}, {"a", "v", 12}, {"a", "v", 15}, {"a", "v", 20}};
    const out_t exp[] = {{2, "[a@0/10]", "1", 7}, {3, "[a@5/15]", "2", 12}};
    rill_suppressed_t sup = {.until_window_closes = true};
    rill_topology_t *topo = suppressed_count(rill_windows_hopping(10, 5, 5), &sup);
    rill_test_driver_t *td = driver_new(topo);
    fmt_t fmt = time_i64(10);
    pipe_and_check(td, "in", in, N(in), "out", &fmt, exp, N(exp));
    release(td);
    release(topo);
}

/*
 * Suppress until a *session* closes. Kafka's final-results suppression waits grace + inactivity
 * gap after the session's end (GraphGraceSearchUtil.findAndVerifyWindowGrace returns
 * gracePeriodMs() + inactivityGap() for session windows), and drops the tombstones of merged
 * sessions (safeToDropTombstones is true for final results).
 */
static void test_suppress_until_session_closes(void **state)
{
    const in_t in[] = {
        {"a", "v", 0},  {"a", "v", 5}, /* [0,0] merges into [0,5] */
        {"b", "v", 12},                /* 12 < 5 + 10 + 0 */
        {"b", "v", 16},                /* 16 >= 15: [a@0/5] is final */
        {"c", "v", 30},                /* 30 >= 16 + 10: [b@12/16] is final */
    };
    const out_t exp[] = {{3, "[a@0/5]", "2", 5}, {4, "[b@12/16]", "2", 16}};
    rill_suppressed_t sup = {.until_window_closes = true};
    rill_topology_t *topo = suppressed_count(rill_windows_session(10, 0), &sup);
    rill_test_driver_t *td = driver_new(topo);
    pipe_and_check(td, "in", in, N(in), "out", &SESSION_I64, exp, N(exp));
    release(td);
    release(topo);
}

static void test_suppress_time_limit(void **state)
{
    /* A key's latest value time_limit (10) after its first buffered update (the buffer time is
     * not reset by later updates); emitted oldest buffer time first, stamped with the latest
     * update's timestamp. */
    const in_t in[] = {
        {"a", "v", 0},  /* a buffered at 0 */
        {"a", "v", 5},  /* a = 2, still buffered at 0 */
        {"b", "v", 7},  /* b at 7 */
        {"c", "v", 10}, /* 10 - 10 >= 0: a = 2 */
        {"a", "v", 12}, /* a buffered again, at 12 */
        {"b", "v", 17}, /* 17 - 10 >= 7: b = 2 */
        {"x", "v", 30}, /* c (10), then a (12) */
    };
    const out_t exp[] = {{3, "a", "2", 5}, {5, "b", "2", 17}, {6, "c", "1", 10}, {6, "a", "3", 12}};
    rill_suppressed_t sup = {.time_limit_ms = 10};
    rill_topology_t *topo = suppressed_count((rill_windows_t){0}, &sup);
    run_table(topo, in, N(in), &STR_I64, exp, N(exp));
    release(topo);
}

static void test_suppress_time_limit_keeps_tombstones(void **state)
{
    /* Suppressing a table's updates by time keeps deletes (only final results drop them). */
    const in_t in[] = {{"k1", "v1", 0}, {"k1", NULL, 3}, {"k2", "v2", 4}, {"k3", "v3", 10}};
    const out_t exp[] = {{3, "k1", NULL, 3}};
    rill_topology_t *topo = topo_new();
    rill_suppressed_t sup = {.time_limit_ms = 10};
    to_out(rill_table_suppress(rill_table_from(topo, "in", NULL, NULL), &sup));
    run_table(topo, in, N(in), &STR_STR, exp, N(exp));
    release(topo);
}

/*
 * A bounded buffer that emits early emits only its oldest entries, until it is back within its
 * bound (Kafka: buffer.evictWhile(this::overCapacity, this::emit)): after c@3, a alone.
 */
static void test_suppress_bounded_emit_early(void **state)
{
    const in_t in[] = {
        {"a", "v", 1},   {"b", "v", 2},
        {"c", "v", 3},   /* 3 records > 2: the oldest (a) goes early */
        {"d", "v", 4},   /* b */
        {"a", "v", 5},   /* c */
        {"z", "v", 200}, /* time limit: d (4), a (5) */
    };
    const out_t exp[] = {
        {2, "a", "1", 1}, {3, "b", "1", 2}, {4, "c", "1", 3}, {5, "d", "1", 4}, {5, "a", "2", 5}};
    rill_suppressed_t sup = {.time_limit_ms = 100, .max_records = 2};
    rill_topology_t *topo = suppressed_count((rill_windows_t){0}, &sup);
    run_table(topo, in, N(in), &STR_I64, exp, N(exp));
    release(topo);
}

static void test_suppress_bounded_shut_down(void **state)
{
    rill_suppressed_t sup = {
        .time_limit_ms = 100, .max_records = 2, .shut_down_when_full = true, .name = "holdback"};
    rill_topology_t *topo = suppressed_count((rill_windows_t){0}, &sup);
    rill_test_driver_t *td = driver_new(topo);
    assert_int_equal(rill_test_driver_pipe_str(td, "in", "a", "v", 1), 0);
    assert_int_equal(rill_test_driver_pipe_str(td, "in", "b", "v", 2), 0);
    assert_int_equal(rill_test_driver_pipe_str(td, "in", "a", "v", 3), 0); /* still 2 keys */
    int rc = rill_test_driver_pipe_str(td, "in", "c", "v", 4);
    assert_true(rc < 0);
    const char *err = rill_test_driver_error(td);
    if (!strstr(err, "holdback") || !strstr(err, "full"))
        fail_msg("the error does not name the full buffer: %s", err);
    assert_int_equal(rill_test_driver_unread(td, "out"), 0);
    release(td);
    release(topo);
}

/* ==== tables =============================================================================== */

static void test_table_source(void **state)
{
    /* Latest value per key; a tombstone deletes; a null key is skipped. */
    const in_t in[] = {{"k1", "v1", 1}, {"k2", "v2", 2}, {"k1", "v3", 3}, {"k2", NULL, 4},
                       {NULL, "x", 5},  {"k3", "v4", 6}, {"k3", "v5", 2}};
    /* An out-of-order update still replaces the row, with its own timestamp. */
    const out_t exp[] = {{0, "k1", "v1", 1}, {1, "k2", "v2", 2}, {2, "k1", "v3", 3},
                         {3, "k2", NULL, 4}, {5, "k3", "v4", 6}, {6, "k3", "v5", 2}};
    rill_topology_t *topo = topo_new();
    rill_source_opts_t so = {.key_serde = rill_serde_string(), .value_serde = rill_serde_string()};
    rill_materialized_t m = {.name = "latest"};
    rill_table_t *t = rill_table_from(topo, "in", &so, &m);
    assert_string_equal(rill_table_store_name(t), "latest");
    to_out(t);
    rill_test_driver_t *td = driver_new(topo);
    pipe_and_check(td, "in", in, N(in), "out", &STR_STR, exp, N(exp));
    assert_dump(dump_kv(td, "latest", &STR_STR), "k1=v3@3;k3=v5@2;");
    assert_int_equal(rill_test_driver_metric(td, "records-skipped"), 1);
    release(td);
    release(topo);
}

/*
 * A versioned table (KIP-914; KTableSource with a versioned store, KTableSourceTest): an update
 * older than its key's latest version goes into the history and is not forwarded (k3 = v5 @2),
 * nor is one behind a newer tombstone (k2 = v6 @3, older than k2's delete @4); one older than
 * observed time minus the history retention (6 - 5) is not even put (k1 = v0 @0). In-order
 * updates are forwarded as from any table, with their old values.
 */
static void test_table_source_versioned(void **state)
{
    const in_t in[] = {{"k1", "v1", 1}, {"k2", "v2", 2}, {"k1", "v3", 3}, {"k2", NULL, 4},
                       {NULL, "x", 5},  {"k3", "v4", 6}, {"k3", "v5", 2}, {"k1", "v0", 0},
                       {"k2", "v6", 3}, {"k2", "v7", 7}, {"k3", "v8", 8}};
    const out_t exp[] = {{0, "k1", "v1", 1}, {1, "k2", "v2", 2}, {2, "k1", "v3", 3},
                         {3, "k2", NULL, 4}, {5, "k3", "v4", 6}, {9, "k2", "v7", 7},
                         {10, "k3", "v8", 8}};
    rill_topology_t *topo = topo_new();
    rill_source_opts_t so = {.key_serde = rill_serde_string(), .value_serde = rill_serde_string()};
    rill_materialized_t m = {.name = "versions", .versioned = true, .history_retention_ms = 5};
    rill_table_t *t = rill_table_from(topo, "in", &so, &m);
    to_out(t);
    rill_test_driver_t *td = driver_new(topo);
    pipe_and_check(td, "in", in, N(in), "out", &STR_STR, exp, N(exp));
    assert_int_equal(rill_test_driver_metric(td, "records-skipped"), 1);
    release(td);
    release(topo);
}

static bool keep_all(void *ud, const rill_record_t *rec)
{
    (void)ud;
    (void)rec;
    return true;
}

/* A versioned table needs a positive history retention, and only a table source is one. */
static void test_table_versioned_errors(void **state)
{
    char err[512] = "";
    rill_topology_t *topo = topo_new();
    rill_materialized_t m = {.versioned = true};
    assert_null(rill_table_from(topo, "in", NULL, &m));
    assert_int_equal(rill_topology_build(topo, err, sizeof err), RILL_ETOPOLOGY);
    assert_non_null(strstr(err, "positive history_retention_ms"));
    release(topo);
    topo = topo_new();
    m.history_retention_ms = 1000;
    rill_table_t *t = rill_table_from(topo, "in", NULL, NULL);
    assert_null(rill_table_filter(t, keep_all, NULL, &m));
    assert_int_equal(rill_topology_build(topo, err, sizeof err), RILL_ETOPOLOGY);
    assert_non_null(strstr(err, "only rill_table_from materializes a versioned table"));
    release(topo);
}

/*
 * Deleting a key the table does not hold changes nothing, so nothing is forwarded (Kafka's
 * CachingKeyValueStore skips a flush whose new and old values are both null; caching is on by
 * default).
 */
static void test_table_source_delete_of_absent_key(void **state)
{
    const in_t in[] = {{"k1", "v1", 1}, {"k9", NULL, 2}, {"k1", NULL, 3}, {"k1", NULL, 4}};
    const out_t exp[] = {{0, "k1", "v1", 1}, {2, "k1", NULL, 3}};
    rill_topology_t *topo = topo_new();
    rill_materialized_t m = {.name = "latest"};
    to_out(rill_table_from(topo, "in", NULL, &m));
    run_table(topo, in, N(in), &STR_STR, exp, N(exp));
    release(topo);
}

static const in_t FILTER_IN[] = {
    {"A", "apple", 10},   {"B", "banana", 5}, {"C", "avocado", 8}, {"A", "cherry", 14},
    {"A", "apricot", 18}, {"C", NULL, 15},    {"B", NULL, 20},
};

/*
 * A deliberate difference from Kafka Streams: KTable#filter without old values forwards a tombstone
 * for every update its predicate rejects, whether or not the key was in the filtered table (the
 * KTable javadoc; KTableFilterTest.shouldPassThroughWithoutMaterialization). Rill always knows the
 * old value, and forwards what Kafka Streams forwards when old values are sent: nothing when
 * neither the new nor the old value passes (B = banana, B = null below).
 */
static void test_table_filter(void **state)
{
    const out_t kept[] = {
        {0, "A", "apple", 10},   {2, "C", "avocado", 8}, {3, "A", NULL, 14},
        {4, "A", "apricot", 18}, {5, "C", NULL, 15},
    };
    rill_topology_t *topo = topo_new();
    to_out(rill_table_filter(rill_table_from(topo, "in", NULL, NULL), starts_with_a, NULL, NULL));
    run_table(topo, FILTER_IN, N(FILTER_IN), &STR_STR, kept, N(kept));
    release(topo);
}

/* The same for filter_not: A = apple, C = avocado and C = null forward nothing. */
static void test_table_filter_not(void **state)
{
    const out_t rejected[] = {
        {1, "B", "banana", 5},
        {3, "A", "cherry", 14},
        {4, "A", NULL, 18},
        {6, "B", NULL, 20},
    };
    rill_topology_t *topo = topo_new();
    to_out(
        rill_table_filter_not(rill_table_from(topo, "in", NULL, NULL), starts_with_a, NULL, NULL));
    run_table(topo, FILTER_IN, N(FILTER_IN), &STR_STR, rejected, N(rejected));
    release(topo);
}

/*
 * A materialized filter (a named store, cached as by default) holds the rows that pass; as in
 * Kafka (CachingKeyValueStore), a row that was not there and does not pass forwards nothing.
 *
 * It forwards once, from the store's flush listener.
 */
static void test_table_filter_materialized(void **state)
{
    const out_t exp[] = {
        {0, "A", "apple", 10},   {2, "C", "avocado", 8}, {3, "A", NULL, 14},
        {4, "A", "apricot", 18}, {5, "C", NULL, 15},
    };
    rill_topology_t *topo = topo_new();
    rill_materialized_t m = {.name = "kept"};
    rill_table_t *t =
        rill_table_filter(rill_table_from(topo, "in", NULL, NULL), starts_with_a, NULL, &m);
    assert_string_equal(rill_table_store_name(t), "kept");
    to_out(t);
    rill_test_driver_t *td = driver_new(topo);
    pipe_and_check(td, "in", FILTER_IN, N(FILTER_IN), "out", &STR_STR, exp, N(exp));
    assert_dump(dump_kv(td, "kept", &STR_STR), "A=apricot@18;");
    release(td);
    release(topo);
}

static void test_table_map_values(void **state)
{
    const in_t in[] = {{"k1", "abc", 1}, {"k2", "xy", 2}, {"k1", "de", 3}, {"k2", NULL, 4}};
    const out_t exp[] = {
        {0, "k1", "ABC", 1}, {1, "k2", "XY", 2}, {2, "k1", "DE", 3}, {3, "k2", NULL, 4}};
    rill_topology_t *topo = topo_new();
    to_out(rill_table_map_values(rill_table_from(topo, "in", NULL, NULL), upper, NULL, NULL));
    run_table(topo, in, N(in), &STR_STR, exp, N(exp));
    release(topo);

    /* Materialized under a name, without caching: the store holds the mapped values. */
    topo = topo_new();
    rill_materialized_t m = {.name = "upper", .no_caching = true};
    rill_table_t *t =
        rill_table_map_values(rill_table_from(topo, "in", NULL, NULL), upper, NULL, &m);
    assert_string_equal(rill_table_store_name(t), "upper");
    to_out(t);
    rill_test_driver_t *td = driver_new(topo);
    pipe_and_check(td, "in", in, N(in), "out", &STR_STR, exp, N(exp));
    assert_dump(dump_kv(td, "upper", &STR_STR), "k1=DE@3;");
    release(td);
    release(topo);
}

/* A cached materialized map_values forwards each update once (from its store's flush). */
static void test_table_map_values_materialized_cached(void **state)
{
    const in_t in[] = {{"k1", "abc", 1}, {"k1", "de", 3}};
    const out_t exp[] = {{0, "k1", "ABC", 1}, {1, "k1", "DE", 3}};
    rill_topology_t *topo = topo_new();
    rill_materialized_t m = {.name = "upper"};
    to_out(rill_table_map_values(rill_table_from(topo, "in", NULL, NULL), upper, NULL, &m));
    rill_test_driver_t *td = driver_new(topo);
    pipe_and_check(td, "in", in, N(in), "out", &STR_STR, exp, N(exp));
    assert_dump(dump_kv(td, "upper", &STR_STR), "k1=DE@3;");
    release(td);
    release(topo);
}

/*
 * A table's group_by: users -> region. A row that moves from one region to another is
 * subtracted from the old group, then added to the new one (KTableRepartitionMap forwards the
 * old pair first); a deleted row is subtracted. Aggregates without caching, so both updates
 * show; timestamps are the largest of the record's and the old aggregate's.
 */
static const in_t USERS_IN[] = {
    {"alice", "x", 1}, {"bob", "x", 2}, {"alice", "y", 3}, {"bob", NULL, 4}, {"carol", "y", 5},
};

static rill_grouped_table_t *users_by_region(rill_topology_t *topo)
{
    rill_grouped_opts_t go = {.key_serde = rill_serde_string(), .value_serde = rill_serde_string()};
    return rill_table_group_by(rill_table_from(topo, "in", NULL, NULL), swap, NULL, &go);
}

static void test_table_group_by_count(void **state)
{
    const out_t exp[] = {{0, "x", "1", 1}, {1, "x", "2", 2}, {2, "x", "1", 3},
                         {2, "y", "1", 3}, {3, "x", "0", 4}, {4, "y", "2", 5}};
    rill_topology_t *topo = topo_new();
    rill_materialized_t m = {.name = "regions", .no_caching = true};
    to_out(rill_grouped_table_count(users_by_region(topo), &m));
    rill_test_driver_t *td = driver_new(topo);
    pipe_and_check(td, "in", USERS_IN, N(USERS_IN), "out", &STR_I64, exp, N(exp));
    /* Through "<application.id>-<store>-repartition": 1 + 1 + 2 + 1 + 1 changes. */
    rill_test_record_t rec;
    size_t n = 0;
    while (rill_test_driver_read(td, APP "-regions-repartition", &rec) == 0)
        n++;
    assert_int_equal(n, 6);
    assert_dump(dump_kv(td, "regions", &STR_I64), "x=0@4;y=2@5;");
    release(td);
    release(topo);
}

static void test_table_group_by_reduce(void **state)
{
    const out_t exp[] = {
        {0, "x", "alice", 1}, {1, "x", "alice+bob", 2},           {2, "x", "alice+bob-alice", 3},
        {2, "y", "alice", 3}, {3, "x", "alice+bob-alice-bob", 4}, {4, "y", "alice+carol", 5}};
    rill_topology_t *topo = topo_new();
    rill_materialized_t m = {.no_caching = true};
    to_out(rill_grouped_table_reduce(users_by_region(topo), concat_add, concat_sub, NULL, &m));
    run_table(topo, USERS_IN, N(USERS_IN), &STR_STR, exp, N(exp));
    release(topo);
}

static void test_table_group_by_aggregate(void **state)
{
    const out_t exp[] = {{0, "x", "0+alice", 1},
                         {1, "x", "0+alice+bob", 2},
                         {2, "x", "0+alice+bob-alice", 3},
                         {2, "y", "0+alice", 3},
                         {3, "x", "0+alice+bob-alice-bob", 4},
                         {4, "y", "0+alice+carol", 5}};
    rill_topology_t *topo = topo_new();
    rill_materialized_t m = {.name = "agg", .no_caching = true, .value_serde = rill_serde_string()};
    rill_grouped_opts_t go = {
        .name = "by-region", .key_serde = rill_serde_string(), .value_serde = rill_serde_string()};
    rill_grouped_table_t *gt =
        rill_table_group_by(rill_table_from(topo, "in", NULL, NULL), swap, NULL, &go);
    to_out(rill_grouped_table_aggregate(gt, init_zero, agg_add, agg_sub, NULL, &m));
    rill_test_driver_t *td = driver_new(topo);
    pipe_and_check(td, "in", USERS_IN, N(USERS_IN), "out", &STR_STR, exp, N(exp));
    assert_int_equal(rill_test_driver_unread(td, APP "-by-region-repartition"), 6);
    release(td);
    release(topo);
}

static void test_table_group_by_sum_cached(void **state)
{
    /* Amounts per region (int64 values through the repartition), with caching: each input's
     * updates are folded and written through after it, in key order. */
    const in_t in[] = {{"o1", "x:10", 1}, {"o2", "y:5", 2}, {"o1", "y:7", 3}, {"o2", NULL, 4}};
    const out_t exp[] = {
        {0, "x", "10", 1}, {1, "y", "5", 2}, {2, "x", "0", 3}, {2, "y", "12", 3}, {3, "y", "7", 4}};
    rill_topology_t *topo = topo_new();
    rill_grouped_opts_t go = {.key_serde = rill_serde_string(), .value_serde = rill_serde_int64()};
    rill_materialized_t m = {.name = "sums"};
    rill_grouped_table_t *gt =
        rill_table_group_by(rill_table_from(topo, "in", NULL, NULL), region_amount, NULL, &go);
    to_out(rill_grouped_table_reduce(gt, sum_add, sum_sub, NULL, &m));
    rill_test_driver_t *td = driver_new(topo);
    pipe_and_check(td, "in", in, N(in), "out", &STR_I64, exp, N(exp));
    assert_dump(dump_kv(td, "sums", &STR_I64), "x=0@3;y=7@4;");
    release(td);
    release(topo);
}

/* ==== backends and caching ================================================================= */

/* Runs the tumbling table on both backends, cached and not: same outputs, same stores. */
static void test_backends_and_caching_agree(void **state)
{
    const rill_store_backend_t backends[] = {RILL_STORE_ROCKSDB, RILL_STORE_IN_MEMORY};
    fmt_t fmt = time_i64(10);
    for (size_t b = 0; b < N(backends); b++) {
        for (int no_caching = 0; no_caching < 2; no_caching++) {
            rill_topology_t *topo =
                windowed_count(rill_windows_tumbling(10, 5), no_caching, backends[b]);
            rill_test_driver_t *td = driver_new(topo);
            pipe_and_check(td, "in", TUMBLING_IN, N(TUMBLING_IN), "out", &fmt, TUMBLING_OUT,
                           N(TUMBLING_OUT));
            assert_dump(dump_windows(td, "counts", &STR_I64), TUMBLING_STORE);
            assert_int_equal(rill_test_driver_metric(td, "late-records-dropped"), 3);
            /* Every accepted update reached the changelog; the cache wrote through only when on. */
            assert_int_equal(rill_test_driver_metric(td, "changelog-writes"), N(TUMBLING_OUT));
            if (no_caching)
                assert_int_equal(rill_test_driver_metric(td, "cache-flushed"), 0);
            else
                assert_int_equal(rill_test_driver_metric(td, "cache-flushed"), N(TUMBLING_OUT));
            release(td);
            release(topo);
        }
    }
}

/* Sliding and session windows on both backends, cached and not: the same final stores. */
static void test_sliding_and_session_stores_agree(void **state)
{
    const in_t sliding_in[] = {{"a", "v", 20}, {"a", "v", 25}, {"a", "v", 40}, {"a", "v", 35},
                               {"a", "v", 5},  {"a", "v", 8},  {"a", "v", 12}, {"b", "v", 50}};
    const char sliding_store[] =
        "[a@0]=2@8;[a@2]=3@12;[a@6]=2@12;[a@9]=1@12;[a@10]=2@20;[a@13]=1@20;[a@15]=2@25;"
        "[a@21]=1@25;[a@25]=2@35;[a@26]=1@35;[a@30]=2@40;[a@36]=1@40;[b@40]=1@50;";
    const char session_store[] = "[a@0/10]=2@10;[a@21/40]=3@40;[b@5/5]=2@5;";
    const rill_store_backend_t backends[] = {RILL_STORE_ROCKSDB, RILL_STORE_IN_MEMORY};
    for (size_t b = 0; b < N(backends); b++) {
        for (int no_caching = 0; no_caching < 2; no_caching++) {
            rill_topology_t *topo =
                windowed_count(rill_windows_sliding(10, 100), no_caching, backends[b]);
            rill_test_driver_t *td = driver_new(topo);
            for (size_t i = 0; i < N(sliding_in); i++)
                assert_int_equal(rill_test_driver_pipe_str(td, "in", sliding_in[i].key,
                                                           sliding_in[i].value, sliding_in[i].ts),
                                 0);
            assert_dump(dump_windows(td, "counts", &STR_I64), sliding_store);
            release(td);
            release(topo);

            topo = windowed_count(rill_windows_session(10, 100), no_caching, backends[b]);
            td = driver_new(topo);
            for (size_t i = 0; i < N(SESSION_IN); i++)
                assert_int_equal(rill_test_driver_pipe_str(td, "in", SESSION_IN[i].key,
                                                           SESSION_IN[i].value, SESSION_IN[i].ts),
                                 0);
            assert_dump(dump_sessions(td, "counts", &STR_I64), session_store);
            release(td);
            release(topo);
        }
    }
}

static void test_default_backend_in_memory(void **state)
{
    /* default.dsl.store=in_memory, key-value store: same result as RocksDB. */
    const in_t in[] = {{"a", "x", 1}, {"b", "y", 2}, {"a", "z", 3}};
    const out_t exp[] = {{0, "a", "1", 1}, {1, "b", "1", 2}, {2, "a", "2", 3}};
    const char *stores[] = {"rocksdb", "in_memory"};
    for (size_t i = 0; i < N(stores); i++) {
        for (int no_caching = 0; no_caching < 2; no_caching++) {
            rill_topology_t *topo = topo_new();
            rill_materialized_t m = {.name = "counts", .no_caching = no_caching};
            to_out(rill_grouped_count(rill_stream_group_by_key(source(topo), NULL), &m));
            char err[512];
            rill_conf_t *conf = track(conf_new(stores[i]), conf_destroy);
            rill_test_driver_t *td = rill_test_driver_new(topo, conf, 0, err, sizeof err);
            if (!td)
                fail_msg("%s", err);
            track(td, driver_destroy);
            pipe_and_check(td, "in", in, N(in), "out", &STR_I64, exp, N(exp));
            assert_dump(dump_kv(td, "counts", &STR_I64), "a=2@3;b=1@2;");
            release(td);
            release(conf);
            release(topo);
        }
    }
}

static void test_changelog_and_no_logging(void **state)
{
    /* A logged store writes "<application.id>-<store>-changelog"; no_logging writes nothing. */
    const in_t in[] = {{"a", "x", 1}, {"a", "y", 2}};
    const out_t exp[] = {{0, "a", "1", 1}, {1, "a", "2", 2}};
    for (int no_logging = 0; no_logging < 2; no_logging++) {
        rill_topology_t *topo = topo_new();
        rill_materialized_t m = {.name = "counts", .no_logging = no_logging};
        to_out(rill_grouped_count(rill_stream_group_by_key(source(topo), NULL), &m));
        rill_test_driver_t *td = driver_new(topo);
        pipe_and_check(td, "in", in, N(in), "out", &STR_I64, exp, N(exp));
        if (no_logging) {
            assert_int_equal(rill_test_driver_metric(td, "changelog-writes"), 0);
            assert_int_equal(rill_test_driver_unread(td, APP "-counts-changelog"), 0);
        } else {
            assert_int_equal(rill_test_driver_metric(td, "changelog-writes"), 2);
            rill_test_record_t rec;
            assert_int_equal(rill_test_driver_read(td, APP "-counts-changelog", &rec), 0);
            assert_int_equal(rill_test_driver_read(td, APP "-counts-changelog", &rec), 0);
            assert_memory_equal(rec.key.data, "a", 1);
            assert_int_equal(rill_decode_i64(rec.value.data), 2);
            assert_int_equal(rec.timestamp, 2);
        }
        release(td);
        release(topo);
    }
}

/* ---- the temporary state directory ------------------------------------------------------- */

static int rm_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb;
    (void)flag;
    (void)ftw;
    return remove(path);
}

static int group_setup(void **state)
{
    snprintf(state_dir, sizeof state_dir, "/tmp/rill-test-state-dsl-XXXXXX");
    return mkdtemp(state_dir) ? 0 : -1;
}

static int group_teardown(void **state)
{
    return nftw(state_dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

/* ---- sink serdes must encode what the stream carries ---- */

static int opaque_serialize(void *st, rill_buf_t value, rill_bytes_t *out, bool *is_null,
                            char *errstr, size_t errstr_size)
{
    (void)st, (void)errstr, (void)errstr_size;
    *is_null = !value.data;
    return value.data ? rill_bytes_append(out, value.data, value.len) : 0;
}

static int opaque_deserialize(void *st, rill_buf_t bytes, rill_arena_t *arena, rill_buf_t *value,
                              char *errstr, size_t errstr_size)
{
    (void)st, (void)arena, (void)errstr, (void)errstr_size;
    *value = bytes;
    return 0;
}

static const rill_serde_ops opaque_ops = {
    .name = "opaque", .serialize = opaque_serialize, .deserialize = opaque_deserialize};

/* Asserts that topo fails to build with an error holding each of the NULL-terminated needles. */
static void expect_refused(rill_topology_t *topo, const char *const *needles)
{
    char err[512] = "";
    assert_int_equal(rill_topology_build(topo, err, sizeof err), RILL_ETOPOLOGY);
    for (; *needles; needles++)
        if (!strstr(err, *needles))
            fail_msg("expected '%s' in '%s'", *needles, err);
}

static rill_stream_t *counts_of(rill_topology_t *topo)
{
    return rill_table_to_stream(
        rill_grouped_count(rill_stream_group_by_key(source(topo), NULL), NULL));
}

static void test_sink_serde_must_encode_values(void **state)
{
    (void)state;
    char err[512];
    /* A count's values are native int64s: the string serde would write their 8 little-endian
     * bytes as if they were text, so the build refuses and names the sink and its topic. */
    rill_topology_t *topo = topo_new();
    rill_sink_opts_t as_text = {.value_serde = rill_serde_string()};
    assert_int_equal(rill_stream_to(counts_of(topo), "counted", &as_text), RILL_ETOPOLOGY);
    expect_refused(topo, (const char *[]){"sink 'KSTREAM-SINK-", "(topic 'counted')",
                                          "value serde 'string'", "int64", NULL});
    release(topo);

    /* So does a windowed serde given native numbers. */
    topo = topo_new();
    rill_serde_t *windowed = rill_serde_time_windowed(rill_serde_string(), 10);
    rill_sink_opts_t as_windowed = {.value_serde = windowed};
    assert_int_equal(rill_stream_to(counts_of(topo), "odd", &as_windowed), RILL_ETOPOLOGY);
    rill_serde_unref(windowed);
    expect_refused(topo, (const char *[]){"(topic 'odd')", "'time-windowed(string)'", NULL});
    release(topo);

    /* A windowed count's keys are windowed: the string serde cannot write them, and a
     * repartition is named as the sink it is. */
    topo = topo_new();
    rill_stream_t *wcounts = rill_table_to_stream(
        rill_windowed_count(rill_grouped_windowed_by(rill_stream_group_by_key(source(topo), NULL),
                                                     rill_windows_tumbling(10, 0)),
                            NULL));
    rill_sink_opts_t key_as_text = {.key_serde = rill_serde_string()};
    assert_null(rill_stream_repartition(wcounts, "rekey", 0, &key_as_text));
    expect_refused(topo, (const char *[]){"sink 'rekey'", "key serde 'string'", "windowed", NULL});
    release(topo);

    /* The int64 serde, bytes for strings, and a custom serde (whose values only it knows) build. */
    topo = topo_new();
    rill_serde_t *opaque = rill_serde_new(&opaque_ops, NULL);
    assert_non_null(opaque);
    rill_sink_opts_t as_long = {.value_serde = rill_serde_int64()};
    rill_sink_opts_t as_bytes = {.key_serde = rill_serde_bytes(),
                                 .value_serde = rill_serde_bytes()};
    rill_sink_opts_t as_opaque = {.value_serde = opaque};
    rill_stream_t *counts = counts_of(topo);
    assert_int_equal(rill_stream_to(counts, "counted", &as_long), 0);
    assert_int_equal(rill_stream_to(counts, "opaque", &as_opaque), 0);
    rill_source_opts_t so = {.key_serde = rill_serde_string(), .value_serde = rill_serde_string()};
    rill_stream_t *text = rill_stream_from_topic(topo, "text", &so);
    assert_int_equal(rill_stream_to(text, "copied", &as_bytes), 0);
    rill_serde_unref(opaque);
    assert_int_equal(rill_topology_build(topo, err, sizeof err), 0);
    release(topo);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(test_count_group_by_key, release_all),
        cmocka_unit_test_teardown(test_reduce_group_by_key, release_all),
        cmocka_unit_test_teardown(test_aggregate_group_by_key, release_all),
        cmocka_unit_test_teardown(test_count_group_by_repartitions, release_all),
        cmocka_unit_test_teardown(test_reduce_after_map_repartitions, release_all),
        cmocka_unit_test_teardown(test_aggregate_after_group_by_repartitions, release_all),
        cmocka_unit_test_teardown(test_named_grouping_feeds_two_aggregations, release_all),
        cmocka_unit_test_teardown(test_describe_shows_stores, release_all),
        cmocka_unit_test_teardown(test_tumbling_windows, release_all),
        cmocka_unit_test_teardown(test_tumbling_grace_zero, release_all),
        cmocka_unit_test_teardown(test_hopping_windows, release_all),
        cmocka_unit_test_teardown(test_hopping_windows_uneven_advance, release_all),
        cmocka_unit_test_teardown(test_windowed_reduce_and_aggregate, release_all),
        cmocka_unit_test_teardown(test_windowed_keys_on_the_wire, release_all),
        cmocka_unit_test_teardown(test_session_keys_on_the_wire, release_all),
        cmocka_unit_test_teardown(test_sliding_windows, release_all),
        cmocka_unit_test_teardown(test_sliding_windows_early_records, release_all),
        cmocka_unit_test_teardown(test_sliding_windows_early_out_of_order, release_all),
        cmocka_unit_test_teardown(test_sliding_windows_update_newest_first, release_all),
        cmocka_unit_test_teardown(test_sliding_windows_late, release_all),
        cmocka_unit_test_teardown(test_session_windows, release_all),
        cmocka_unit_test_teardown(test_session_tombstone_timestamps, release_all),
        cmocka_unit_test_teardown(test_session_windows_store, release_all),
        cmocka_unit_test_teardown(test_session_aggregate_merges, release_all),
        cmocka_unit_test_teardown(test_session_reduce_merges, release_all),
        cmocka_unit_test_teardown(test_session_windows_late, release_all),
        cmocka_unit_test_teardown(test_session_windows_close_after_gap_and_grace, release_all),
        cmocka_unit_test_teardown(test_suppress_until_window_closes, release_all),
        cmocka_unit_test_teardown(test_suppress_until_window_closes_hopping, release_all),
        cmocka_unit_test_teardown(test_suppress_until_session_closes, release_all),
        cmocka_unit_test_teardown(test_suppress_time_limit, release_all),
        cmocka_unit_test_teardown(test_suppress_time_limit_keeps_tombstones, release_all),
        cmocka_unit_test_teardown(test_suppress_bounded_emit_early, release_all),
        cmocka_unit_test_teardown(test_suppress_bounded_shut_down, release_all),
        cmocka_unit_test_teardown(test_table_source, release_all),
        cmocka_unit_test_teardown(test_table_source_delete_of_absent_key, release_all),
        cmocka_unit_test_teardown(test_table_source_versioned, release_all),
        cmocka_unit_test_teardown(test_table_versioned_errors, release_all),
        cmocka_unit_test_teardown(test_table_filter, release_all),
        cmocka_unit_test_teardown(test_table_filter_not, release_all),
        cmocka_unit_test_teardown(test_table_filter_materialized, release_all),
        cmocka_unit_test_teardown(test_table_map_values, release_all),
        cmocka_unit_test_teardown(test_table_map_values_materialized_cached, release_all),
        cmocka_unit_test_teardown(test_table_group_by_count, release_all),
        cmocka_unit_test_teardown(test_table_group_by_reduce, release_all),
        cmocka_unit_test_teardown(test_table_group_by_aggregate, release_all),
        cmocka_unit_test_teardown(test_table_group_by_sum_cached, release_all),
        cmocka_unit_test_teardown(test_backends_and_caching_agree, release_all),
        cmocka_unit_test_teardown(test_sliding_and_session_stores_agree, release_all),
        cmocka_unit_test_teardown(test_default_backend_in_memory, release_all),
        cmocka_unit_test_teardown(test_changelog_and_no_logging, release_all),
        cmocka_unit_test_teardown(test_sink_serde_must_encode_values, release_all),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
