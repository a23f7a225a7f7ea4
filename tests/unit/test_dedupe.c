/*
 * rill_stream_dedupe through the test driver, as scenarios in tables: an input (a key, an id
 * carried in a header and in the value, a timestamp) and which inputs come out. By key, by
 * header, by function; duplicates within the TTL dropped and counted, records at or past it
 * passed, a dropped duplicate not extending the TTL, null ids, out-of-order and late records,
 * the buckets' edges; on both store backends. Then the build's refusals, the repartition of a
 * changed key, per-partition dedupe of a header id, and the store's changelog.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <rill/app.h>
#include <rill/dsl.h>
#include <rill/test_driver.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_ROWS 16

/* One input record: its key (NULL: null), its id (NULL: none; sent as the header "event-id" and
 * as the value's prefix "<id>:"), its timestamp. */
typedef struct {
    const char *key;
    const char *id;
    int64_t ts;
} row_t;

typedef struct {
    const char *name;
    rill_dedupe_kind_t kind;
    int64_t ttl;
    row_t in[MAX_ROWS];
    int nin;
    const char *out; /* the inputs that come out, by index: "0 2 3" */
} scenario_t;

static const scenario_t SCENARIOS[] = {
    {"within the TTL: dropped",
     RILL_DEDUPE_KEY,
     100,
     {{"a", 0, 0}, {"a", 0, 50}, {"b", 0, 60}, {"a", 0, 99}, {"b", 0, 159}},
     5,
     "0 2"},
    {"at and past the TTL: passed, each one starting a TTL of its own",
     RILL_DEDUPE_KEY,
     100,
     {{"a", 0, 0}, {"a", 0, 100}, {"a", 0, 150}, {"a", 0, 200}, {"a", 0, 299}, {"a", 0, 300}},
     6,
     "0 1 3 5"},
    {"a dropped duplicate does not extend the TTL",
     RILL_DEDUPE_KEY,
     100,
     {{"a", 0, 0}, {"a", 0, 60}, {"a", 0, 99}, {"a", 0, 110}, {"a", 0, 150}},
     5,
     "0 3"},
    {"null keys have no id: they pass",
     RILL_DEDUPE_KEY,
     100,
     {{NULL, 0, 0}, {NULL, 0, 1}, {"a", 0, 2}, {"a", 0, 3}},
     4,
     "0 1 2"},
    {"by header: keys do not matter",
     RILL_DEDUPE_HEADER,
     100,
     {{"k1", "e1", 0}, {"k2", "e1", 10}, {"k3", "e2", 20}, {"k1", "e2", 119}, {"k4", "e1", 100}},
     5,
     "0 2 4"},
    {"by header: no header, no id",
     RILL_DEDUPE_HEADER,
     100,
     {{"k1", NULL, 0}, {"k1", NULL, 1}, {"k2", "e1", 2}, {"k1", NULL, 3}},
     4,
     "0 1 2 3"},
    {"by function: the value's prefix",
     RILL_DEDUPE_FUNCTION,
     100,
     {{"k1", "e1", 0}, {"k2", "e1", 10}, {"k3", NULL, 20}, {"k3", NULL, 30}, {"k4", "e2", 40}},
     5,
     "0 2 3 4"},
    {"out of order, within the TTL of one that passed: dropped",
     RILL_DEDUPE_KEY,
     100,
     {{"a", 0, 1000}, {"a", 0, 950}, {"a", 0, 901}, {"b", 0, 1000}, {"b", 0, 1099}},
     5,
     "0 3"},
    {"out of order and new: passes, and is remembered",
     RILL_DEDUPE_KEY,
     100,
     {{"x", 0, 1000}, {"y", 0, 950}, {"y", 0, 1040}, {"y", 0, 1060}, {"y", 0, 1100}},
     5,
     "0 1 3"},
    {"late (past the TTL of stream time): compared, never remembered",
     RILL_DEDUPE_KEY,
     100,
     {{"a", 0, 1000}, {"a", 0, 890}, {"b", 0, 1000}, {"c", 0, 800}, {"c", 0, 801}, {"a", 0, 950}},
     6,
     "0 1 2 3 4"},
    {"the buckets' edges: a neighbour before",
     RILL_DEDUPE_KEY,
     100,
     {{"a", 0, 99}, {"a", 0, 100}, {"a", 0, 198}, {"a", 0, 199}, {"a", 0, 200}, {"a", 0, 298}},
     6,
     "0 3"},
    {"the buckets' edges: a neighbour after (out of order)",
     RILL_DEDUPE_KEY,
     100,
     {{"a", 0, 205}, {"a", 0, 150}, {"a", 0, 106}, {"a", 0, 105}, {"b", 0, 300}, {"b", 0, 201}},
     6,
     "0 3 4"},
    {"a TTL of 1 ms: only equal timestamps are duplicates",
     RILL_DEDUPE_KEY,
     1,
     {{"a", 0, 5}, {"a", 0, 5}, {"a", 0, 6}, {"a", 0, 4}, {"a", 0, 6}},
     5,
     "0 2 3"},
};

/* The id of a value "<id>:<n>" (a null view when the value has no ':'). */
static int id_of_value(void *ud, rill_context_t *ctx, const rill_record_t *rec, rill_buf_t *out)
{
    (void)ud, (void)ctx;
    const char *v = rec->value.data, *colon = v ? memchr(v, ':', rec->value.len) : NULL;
    *out = colon ? (rill_buf_t){v, (size_t)(colon - v)} : (rill_buf_t){NULL, 0};
    return 0;
}

static rill_dedupe_id_t id_for(rill_dedupe_kind_t kind)
{
    return kind == RILL_DEDUPE_KEY      ? rill_dedupe_by_key()
           : kind == RILL_DEDUPE_HEADER ? rill_dedupe_by_header("event-id")
                                        : rill_dedupe_by_function(id_of_value, NULL);
}

/* in -> dedupe -> out, strings. */
static rill_topology_t *topology(rill_dedupe_id_t id, int64_t ttl, const rill_materialized_t *m)
{
    rill_topology_t *topo = rill_topology_new();
    rill_stream_t *s = rill_stream_from_topic(topo, "in", NULL);
    assert_int_equal(rill_stream_to(rill_stream_dedupe(s, id, ttl, m), "out", NULL), 0);
    return topo;
}

static rill_test_driver_t *driver(rill_topology_t *topo)
{
    rill_conf_t *conf = rill_conf_new();
    char err[512];
    assert_int_equal(rill_conf_set(conf, "default.key.serde", "string", err, sizeof err), 0);
    assert_int_equal(rill_conf_set(conf, "default.value.serde", "string", err, sizeof err), 0);
    rill_test_driver_t *td = rill_test_driver_new(topo, conf, 0, err, sizeof err);
    if (!td)
        fail_msg("rill_test_driver_new: %s", err);
    rill_conf_destroy(conf);
    return td;
}

/* Pipes row i: value "<id>:<i>" (or "<i>"), the header event-id=<id> when it has an id. */
static void pipe_row(rill_test_driver_t *td, const row_t *r, int i, int32_t partition)
{
    char v[32];
    if (r->id)
        snprintf(v, sizeof v, "%s:%d", r->id, i);
    else
        snprintf(v, sizeof v, "%d", i);
    rill_header_t h = {"event-id", r->id ? rill_buf_str(r->id) : (rill_buf_t){NULL, 0}};
    rill_buf_t key = r->key ? rill_buf_str(r->key) : (rill_buf_t){NULL, 0};
    if (rill_test_driver_pipe_headers(td, "in", partition, key, rill_buf_str(v), r->ts, &h,
                                      r->id ? 1 : 0))
        fail_msg("pipe: %s", rill_test_driver_error(td));
}

/* The indexes of what came out of topic, as "0 2 3". */
static void read_out(rill_test_driver_t *td, const char *topic, char *buf, size_t size)
{
    rill_test_record_t r;
    size_t len = 0;
    buf[0] = 0;
    while (rill_test_driver_read(td, topic, &r) == 0) {
        const char *v = r.value.data, *colon = memchr(v, ':', r.value.len);
        const char *n = colon ? colon + 1 : v;
        len += (size_t)snprintf(buf + len, size - len, "%s%.*s", len ? " " : "",
                                (int)(r.value.len - (size_t)(n - v)), n);
    }
}

static int count_words(const char *s)
{
    int n = 0;
    for (bool in = false; *s; s++) {
        n += !in && *s != ' ';
        in = *s != ' ';
    }
    return n;
}

static void run_scenarios(rill_store_backend_t backend)
{
    for (size_t k = 0; k < sizeof SCENARIOS / sizeof SCENARIOS[0]; k++) {
        const scenario_t *sc = &SCENARIOS[k];
        rill_materialized_t m = {.backend = backend};
        rill_topology_t *topo = topology(id_for(sc->kind), sc->ttl, &m);
        rill_test_driver_t *td = driver(topo);
        for (int i = 0; i < sc->nin; i++)
            pipe_row(td, &sc->in[i], i, -1);
        char got[256];
        read_out(td, "out", got, sizeof got);
        if (strcmp(got, sc->out) != 0)
            fail_msg("%s (%s): out \"%s\", not \"%s\"", sc->name,
                     backend == RILL_STORE_IN_MEMORY ? "in memory" : "RocksDB", got, sc->out);
        assert_int_equal(rill_test_driver_metric(td, "duplicates-dropped"),
                         sc->nin - count_words(sc->out));
        assert_int_equal(rill_test_driver_metric(td, "records-processed"), sc->nin);
        rill_test_driver_destroy(td);
        rill_topology_unref(topo);
    }
}

static void test_scenarios_in_memory(void **state)
{
    (void)state;
    run_scenarios(RILL_STORE_IN_MEMORY);
}

static void test_scenarios_rocksdb(void **state)
{
    (void)state;
    run_scenarios(RILL_STORE_ROCKSDB);
}

/* Of several headers called event-id, the last one is the id (Kafka's Headers.lastHeader); a
 * header whose value is null gives no id. */
static void test_last_header_is_the_id(void **state)
{
    (void)state;
    rill_topology_t *topo = topology(rill_dedupe_by_header("event-id"), 100, NULL);
    rill_test_driver_t *td = driver(topo);
    const rill_buf_t old = rill_buf_str("old"), e1 = rill_buf_str("e1"), e2 = rill_buf_str("e2");
    const rill_header_t headers[][2] = {
        {{"event-id", old}, {"event-id", e1}}, /* e1: passes */
        {{"trace", old}, {"event-id", e1}},    /* e1 again: dropped */
        {{"event-id", e2}, {"event-id", old}}, /* old: passes */
        {{"event-id", e2}, {"trace", e1}},     /* e2, new (not the first header of 2): passes */
        {{"event-id", old}, {"trace", e2}},    /* old again: dropped */
        {{"event-id", {NULL, 0}}, {"x", e1}},  /* no id: passes */
        {{"event-id", {NULL, 0}}, {"x", e1}},  /* no id: passes */
    };
    char v[8];
    for (int i = 0; i < 7; i++) {
        snprintf(v, sizeof v, "%d", i);
        assert_int_equal(rill_test_driver_pipe_headers(td, "in", -1, rill_buf_str("k"),
                                                       rill_buf_str(v), i, headers[i], 2),
                         0);
    }
    char got[64];
    read_out(td, "out", got, sizeof got);
    assert_string_equal(got, "0 2 3 5 6");
    assert_int_equal(rill_test_driver_metric(td, "duplicates-dropped"), 2);
    rill_test_driver_destroy(td);
    rill_topology_unref(topo);
}

static void expect_build_error(rill_dedupe_id_t id, int64_t ttl, const char *part)
{
    rill_topology_t *topo = rill_topology_new();
    rill_stream_t *s = rill_stream_as(rill_stream_from_topic(topo, "in", NULL), "events");
    assert_null(rill_stream_dedupe(s, id, ttl, NULL));
    char err[512];
    assert_int_equal(rill_topology_build(topo, err, sizeof err), RILL_ETOPOLOGY);
    if (!strstr(err, part) || !strstr(err, "'events'"))
        fail_msg("unexpected error: %s", err);
    rill_topology_unref(topo);
}

static void test_build_refuses(void **state)
{
    (void)state;
    expect_build_error(rill_dedupe_by_key(), 0, "the TTL (0 ms) must be positive");
    expect_build_error(rill_dedupe_by_key(), -5, "the TTL (-5 ms) must be positive");
    expect_build_error(rill_dedupe_by_key(), INT64_MAX / 2, "must be positive and below");
    expect_build_error(rill_dedupe_by_header(NULL), 10, "header name is NULL or empty");
    expect_build_error(rill_dedupe_by_header(""), 10, "header name is NULL or empty");
    expect_build_error(rill_dedupe_by_function(NULL, NULL), 10, "id function is NULL");
    assert_null(rill_stream_dedupe(NULL, rill_dedupe_by_key(), 10, NULL));
}

/* The node, its store and the sub-topology, as describe() prints them; a named store. */
static void test_describe_and_names(void **state)
{
    (void)state;
    rill_topology_t *topo = topology(rill_dedupe_by_key(), 1000, NULL);
    char err[256];
    assert_int_equal(rill_topology_build(topo, err, sizeof err), 0);
    char *d = rill_topology_describe(topo);
    if (!strstr(d, "Processor: KSTREAM-DEDUPE-0000000002 (stores: "
                   "[KSTREAM-DEDUPE-STATE-STORE-0000000001])"))
        fail_msg("describe:\n%s", d);
    rill_free(d);
    rill_topology_unref(topo);
    rill_materialized_t m = {.name = "seen-events"};
    topo = topology(rill_dedupe_by_header("event-id"), 1000, &m);
    assert_int_equal(rill_topology_build(topo, err, sizeof err), 0);
    int i = rill_topology_find_store(topo, "seen-events");
    assert_true(i >= 0);
    const rill_store_spec_t *spec = rill_topology_store(topo, i, NULL);
    assert_int_equal(spec->type, RILL_STORE_WINDOW);
    assert_int_equal(spec->retention_ms, 2000);
    assert_false(spec->internal);
    rill_topology_unref(topo);
}

/* Pipes the four rows into "in" (2 partitions), alternately into 0 and 1, expects out (two of
 * them dropped as duplicates), and frees the driver and the topology. */
static void expect_alternating(rill_topology_t *topo, rill_test_driver_t *td, const row_t *rows,
                               const char *out)
{
    assert_int_equal(rill_test_driver_set_partitions(td, "in", 2), 0);
    for (int i = 0; i < 4; i++)
        pipe_row(td, &rows[i], i, i % 2);
    char got[64];
    read_out(td, "out", got, sizeof got);
    assert_string_equal(got, out);
    assert_int_equal(rill_test_driver_metric(td, "duplicates-dropped"), 2);
    rill_test_driver_destroy(td);
    rill_topology_unref(topo);
}

/* new key = the value's prefix, so "e1:..." records of any key and partition meet. */
static int key_of_value(void *ud, rill_context_t *ctx, const rill_record_t *rec, rill_buf_t *out)
{
    return id_of_value(ud, ctx, rec, out);
}

/* A key changed by select_key goes through "<app>-<store>-repartition" before the dedupe: the
 * duplicates of one new key, read from two partitions, meet in one task. */
static void test_changed_key_is_repartitioned(void **state)
{
    (void)state;
    rill_topology_t *topo = rill_topology_new();
    rill_stream_t *s =
        rill_stream_select_key(rill_stream_from_topic(topo, "in", NULL), key_of_value, NULL);
    rill_materialized_t m = {.name = "ids"};
    assert_int_equal(
        rill_stream_to(rill_stream_dedupe(s, rill_dedupe_by_key(), 100, &m), "out", NULL), 0);
    rill_test_driver_t *td = driver(topo);
    char *d = rill_topology_describe(topo);
    if (!strstr(d, "Sink: ids-sink (topic: ids-repartition)"))
        fail_msg("describe:\n%s", d);
    rill_free(d);
    const row_t rows[] = {{"k1", "e1", 10}, {"k2", "e1", 20}, {"k3", "e2", 30}, {"k4", "e1", 40}};
    expect_alternating(topo, td, rows, "0 2");
}

/* An id from a header dedupes within a partition only (no repartition): the same id on two
 * partitions passes on each, once. */
static void test_header_id_is_per_partition(void **state)
{
    (void)state;
    rill_topology_t *topo = topology(rill_dedupe_by_header("event-id"), 100, NULL);
    const row_t rows[] = {{"k1", "e1", 10}, {"k2", "e1", 20}, {"k3", "e1", 30}, {"k4", "e1", 40}};
    expect_alternating(topo, driver(topo), rows, "0 1");
}

/* An entry's value, the source of the record that passed: offset (8 bytes), partition (4), both
 * big-endian, the run that wrote it (8 bytes: here zeros, no run's), then the topic; returns its
 * length. */
static size_t source(uint8_t *out, int64_t offset, int32_t partition, const char *topic)
{
    for (int i = 0; i < 8; i++)
        out[i] = (uint8_t)((uint64_t)offset >> (56 - 8 * i));
    for (int i = 0; i < 4; i++)
        out[8 + i] = (uint8_t)((uint32_t)partition >> (24 - 8 * i));
    memset(out + 12, 0, 8);
    memcpy(out + 20, topic, strlen(topic));
    return 20 + strlen(topic);
}

/* Checks that the entry (id, bucket) of ws holds ts and the source offset, partition 0, topic
 * "in", written by a run (not zeros); the run's 8 bytes into run. */
static void expect_entry(rill_window_store_t *ws, const char *id, int64_t bucket, int64_t ts,
                         int64_t offset, uint8_t run[8])
{
    rill_buf_t v, value;
    int64_t got_ts;
    assert_int_equal(rill_window_store_get(ws, rill_buf_str(id), bucket, &v), 0);
    assert_int_equal(rill_stored_split(v, &value, &got_ts), 0);
    assert_int_equal(got_ts, ts);
    uint8_t src[32];
    size_t n = source(src, offset, 0, "in");
    assert_int_equal(value.len, n);
    assert_memory_equal(value.data, src, 12);
    assert_memory_equal((const uint8_t *)value.data + 20, src + 20, n - 20);
    assert_memory_not_equal((const uint8_t *)value.data + 12, src + 12, 8);
    memcpy(run, (const uint8_t *)value.data + 12, 8);
}

/* What the store holds and logs: one entry per passed record, under (id, bucket start), its
 * timestamp the record's, its value the record's source; duplicates write nothing. */
static void test_store_and_changelog(void **state)
{
    (void)state;
    rill_materialized_t m = {.name = "seen"};
    rill_topology_t *topo = topology(rill_dedupe_by_key(), 100, &m);
    rill_test_driver_t *td = driver(topo);
    const row_t rows[] = {{"a", 0, 150}, {"a", 0, 160}, {"b", 0, 170}, {"a", 0, 250}};
    for (int i = 0; i < 4; i++)
        pipe_row(td, &rows[i], i, -1);
    assert_int_equal(rill_test_driver_metric(td, "changelog-writes"), 3);
    rill_window_store_t *ws = rill_test_driver_window_store(td, "seen", 0);
    assert_non_null(ws);
    uint8_t run[8], run2[8], run3[8];
    expect_entry(ws, "a", 100, 150, 0, run); /* the source: offset 0 of in-0 */
    expect_entry(ws, "a", 200, 250, 3, run2);
    expect_entry(ws, "b", 100, 170, 2, run3);
    assert_memory_equal(run, run2, 8); /* one run */
    assert_memory_equal(run, run3, 8);
    rill_test_driver_destroy(td);
    rill_topology_unref(topo);
}

/* Writes the entry of id at ts into ws as the store would hold it: the 8-byte timestamp, then
 * the source (offset, partition 0, topic). */
static void remember(rill_window_store_t *ws, const char *id, int64_t bucket, int64_t ts,
                     int64_t offset, const char *topic)
{
    uint8_t stored[40];
    for (int i = 0; i < 8; i++)
        stored[i] = (uint8_t)((uint64_t)ts >> (56 - 8 * i));
    size_t n = source(stored + 8, offset, 0, topic);
    assert_int_equal(
        rill_window_store_put(ws, rill_buf_str(id), bucket, (rill_buf_t){stored, 8 + n}), 0);
}

/* Under at-least-once the store's changelog record can be acknowledged before the output and
 * the offset, so a restored store may remember a record that is then read again: a match whose
 * source is the record's own (topic, partition, offset) passes, uncounted, writing nothing; one
 * of another offset, or of another topic at the same offset, is a duplicate. On both backends. */
static void run_replay(rill_store_backend_t backend)
{
    rill_materialized_t m = {.name = "seen", .backend = backend};
    rill_topology_t *topo = topology(rill_dedupe_by_key(), 100, &m);
    rill_test_driver_t *td = driver(topo);
    const row_t rows[] = {{"a", 0, 150}, {"b", 0, 170}, {"c", 0, 180},
                          {"d", 0, 190}, {"b", 0, 175}, {"e", 0, 195}};
    pipe_row(td, &rows[0], 0, -1); /* offset 0: passes */
    rill_window_store_t *ws = rill_test_driver_window_store(td, "seen", 0);
    assert_non_null(ws);
    remember(ws, "b", 100, 170, 1, "in");    /* offset 1's own entry, its output lost */
    remember(ws, "c", 100, 160, 0, "in");    /* c passed at offset 0: offset 2 repeats it */
    remember(ws, "d", 100, 185, 3, "other"); /* offset 3 of another topic: offset 3 repeats it */
    int64_t writes = rill_test_driver_metric(td, "changelog-writes");
    for (int i = 1; i < 6; i++)
        pipe_row(td, &rows[i], i, -1);
    char got[64];
    read_out(td, "out", got, sizeof got);
    assert_string_equal(got, "0 1 5"); /* b's replay passes; its later copy (offset 4) does not */
    assert_int_equal(rill_test_driver_metric(td, "duplicates-dropped"), 3);
    /* b's replay claimed its entry for this run; e is new */
    assert_int_equal(rill_test_driver_metric(td, "changelog-writes"), writes + 2);
    uint8_t run_b[8], run_e[8];
    expect_entry(ws, "b", 100, 170, 1, run_b);
    expect_entry(ws, "e", 100, 195, 5, run_e);
    assert_memory_equal(run_b, run_e, 8);
    rill_test_driver_destroy(td);
    rill_topology_unref(topo);
}

/* flat_map_values: one value "x y x" becomes "x:<n>" "y:<n+1>" "x:<n+2>", n counting in *ud. */
static int split_words(void *ud, rill_context_t *ctx, const rill_record_t *rec, rill_emitter_t *out)
{
    (void)ctx;
    int *n = ud;
    const char *v = rec->value.data, *end = v + rec->value.len;
    while (v < end) {
        const char *w = v;
        while (v < end && *v != ' ')
            v++;
        char buf[32];
        int len = snprintf(buf, sizeof buf, "%.*s:%d", (int)(v - w), w, (*n)++);
        int rc = rill_emit(out, rec->key, (rill_buf_t){buf, (size_t)len});
        if (rc)
            return rc;
        v += v < end;
    }
    return 0;
}

/* Records a flat_map makes of one input share its source: of two with one id the second is a
 * duplicate (its match, of its own source, was written in this run), also when the first was a
 * replay (which claims the entry for the run). */
static void test_records_of_one_input_are_not_replays(void **state)
{
    (void)state;
    int n = 0;
    rill_materialized_t m = {.name = "seen"};
    rill_topology_t *topo = rill_topology_new();
    rill_stream_t *s =
        rill_stream_flat_map_values(rill_stream_from_topic(topo, "in", NULL), split_words, &n);
    s = rill_stream_dedupe(s, rill_dedupe_by_function(id_of_value, NULL), 100, &m);
    assert_int_equal(rill_stream_to(s, "out", NULL), 0);
    rill_test_driver_t *td = driver(topo);
    assert_int_equal(rill_test_driver_pipe_str(td, "in", "k", "x y x", 10), 0); /* offset 0 */
    rill_window_store_t *ws = rill_test_driver_window_store(td, "seen", 0);
    assert_non_null(ws);
    remember(ws, "z", 0, 20, 1, "in"); /* offset 1's own entry, by another run */
    assert_int_equal(rill_test_driver_pipe_str(td, "in", "k", "z z", 20), 0);
    char got[64];
    read_out(td, "out", got, sizeof got);
    assert_string_equal(got, "0 1 3");
    assert_int_equal(rill_test_driver_metric(td, "duplicates-dropped"), 2);
    rill_test_driver_destroy(td);
    rill_topology_unref(topo);
}

static void test_replay_of_own_record_passes_in_memory(void **state)
{
    (void)state;
    run_replay(RILL_STORE_IN_MEMORY);
}

static void test_replay_of_own_record_passes_rocksdb(void **state)
{
    (void)state;
    run_replay(RILL_STORE_ROCKSDB);
}

/* The processor's own checks, for a topology that adds it without the DSL: a NULL spec makes no
 * arg, and a TTL past the limit is refused naming the limit. */
static void test_processor_refuses(void **state)
{
    (void)state;
    assert_null(rill_dedupe_arg_new(NULL));
    rill_topology_t *topo = rill_topology_new();
    const char *topics[] = {"in", NULL}, *parents[] = {"src", NULL};
    assert_true(rill_topology_add_source(topo, "src", topics, NULL, NULL) >= 0);
    rill_dedupe_spec_t spec = {.id = rill_dedupe_by_key(), .store = "s", .ttl_ms = INT64_MAX / 2};
    void *arg = rill_dedupe_arg_new(&spec);
    assert_non_null(arg);
    assert_true(rill_topology_add_processor(topo, "dedupe", rill_dedupe_ops(), arg,
                                            rill_dedupe_arg_free, parents) >= 0);
    rill_test_driver_t *td = driver(topo); /* tasks are made at the first record */
    assert_int_not_equal(rill_test_driver_pipe_str(td, "in", "k", "v", 0), 0);
    const char *why = rill_test_driver_error(td);
    if (!strstr(why, "must be positive and at most INT64_MAX / 4 (2305843009213693951 ms)"))
        fail_msg("unexpected error: %s", why);
    rill_test_driver_destroy(td);
    rill_topology_unref(topo);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_scenarios_in_memory),
        cmocka_unit_test(test_scenarios_rocksdb),
        cmocka_unit_test(test_last_header_is_the_id),
        cmocka_unit_test(test_build_refuses),
        cmocka_unit_test(test_describe_and_names),
        cmocka_unit_test(test_changed_key_is_repartitioned),
        cmocka_unit_test(test_header_id_is_per_partition),
        cmocka_unit_test(test_store_and_changelog),
        cmocka_unit_test(test_replay_of_own_record_passes_in_memory),
        cmocka_unit_test(test_replay_of_own_record_passes_rocksdb),
        cmocka_unit_test(test_records_of_one_input_are_not_replays),
        cmocka_unit_test(test_processor_refuses),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
