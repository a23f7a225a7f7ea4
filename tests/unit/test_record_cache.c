/*
 * The record cache (operators/cache.c, operators/stores.c) through a task, driven as the engine
 * drives it (records, then a commit's rill__task_flush), with RocksDB stores: updates fold until
 * the flush, the flush writes them in the order of their last update, and a windowed aggregation
 * allocates nothing per record once it is warm (counted through the allocator hook).
 *
 * Not through the topology test driver: it flushes after every record and copies every record it
 * is handed and every output (allocations of its own).
 */
#include <rill/dsl.h>
#include <rill/processor.h>
#include "operators/task.h" /* the task runtime: not API, linked from librill.a */
#include <rill/serde.h>
#include <rill/statestore.h>

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "../../benchmarks/decide_topo.h"
#include "../../benchmarks/stateful_topo.h"

static long allocations;

static void *counting_malloc(size_t n)
{
    allocations++;
    return malloc(n);
}

static void *counting_realloc(void *p, size_t n)
{
    allocations++;
    return realloc(p, n);
}

/* What the sinks wrote, as "key=count" lines (grouped counts) in order; changelog records are
 * only counted. */
static struct {
    char out[4096];
    size_t len;
    long outputs, changelog;
    bool keep;
} sent;

static int collect(void *opaque, const char *topic, int32_t partition, const rill_buf_t *key,
                   const rill_buf_t *value, int64_t timestamp, const rill_headers_t *headers)
{
    (void)opaque, (void)partition, (void)timestamp, (void)headers;
    if (strcmp(topic, "out") != 0) {
        sent.changelog++;
        return 0;
    }
    sent.outputs++;
    if (sent.keep && value && value->len == 8 && sent.len < sizeof sent.out - 64)
        sent.len += (size_t)snprintf(sent.out + sent.len, sizeof sent.out - sent.len, "%.*s=%lld ",
                                     (int)key->len, (const char *)key->data,
                                     (long long)rill_decode_i64(value->data));
    return 0;
}

static int32_t one_partition(void *opaque, const char *topic)
{
    (void)opaque, (void)topic;
    return 1;
}

/* statestore.cache.max.bytes of the next task start() makes. */
static size_t cache_max_bytes = 10u << 20;

typedef struct {
    char dir[64];
    rill_topology_t *topo;
    rill_store_env_t *store_env;
    rill_task_env_t env;
    rill_task_t *task;
    int source;
    int64_t offset;
} fixture_t;

static void start(fixture_t *f, rill_topology_t *topo)
{
    char err[512];
    memset(&sent, 0, sizeof sent);
    snprintf(f->dir, sizeof f->dir, "/tmp/rill-test-record-cache-XXXXXX");
    assert_non_null(mkdtemp(f->dir));
    f->topo = topo;
    f->offset = 0;
    assert_int_equal(rill_topology_build(topo, err, sizeof err), 0);
    f->store_env = rill_store_env_new(16u << 20, err, sizeof err);
    assert_non_null(f->store_env);
    f->env = (rill_task_env_t){
        .application_id = "record-cache",
        .collector = {collect, one_partition, NULL},
        .state_dir = f->dir,
        .store_env = f->store_env,
        .default_store_backend = RILL_STORE_ROCKSDB,
        .cache_max_bytes = cache_max_bytes,
    };
    int st;
    assert_int_equal(rill__topology_find_source(topo, "record-cache", "in", &st, &f->source), 0);
    f->task = rill__task_new(topo, st, 0, &f->env, err, sizeof err);
    assert_non_null(f->task);
}

static void stop(fixture_t *f)
{
    rill__task_destroy(f->task);
    rill_topology_unref(f->topo);
    rill_store_env_destroy(f->store_env);
    assert_int_equal(rill_store_wipe(f->dir), 0);
}

static void pipe_i64(fixture_t *f, const char *key, int64_t value, int64_t ts)
{
    uint8_t be[8];
    for (int b = 0; b < 8; b++)
        be[b] = (uint8_t)((uint64_t)value >> (56 - 8 * b));
    rill_record_t raw = {{key, strlen(key)}, {be, 8}, ts, NULL, "in", 0, f->offset++};
    assert_int_equal(rill__task_process(f->task, f->source, &raw), 0);
}

static rill_topology_t *count_by_key(void)
{
    rill_topology_t *topo = rill_topology_new();
    rill_source_opts_t in = {.key_serde = rill_serde_string(), .value_serde = rill_serde_int64()};
    rill_grouped_t *g = rill_stream_group_by_key(rill_stream_from_topic(topo, "in", &in), NULL);
    rill_stream_to(rill_table_to_stream(rill_grouped_count(g, NULL)), "out", NULL);
    return topo;
}

/* Updates fold in the cache; the flush forwards each key once, oldest last update first. */
static void test_flush_in_order_of_last_update(void **state)
{
    (void)state;
    fixture_t f;
    start(&f, count_by_key());
    sent.keep = true;
    pipe_i64(&f, "a", 1, 1);
    pipe_i64(&f, "b", 1, 2);
    pipe_i64(&f, "c", 1, 3);
    pipe_i64(&f, "a", 1, 4); /* a moves behind c */
    pipe_i64(&f, "b", 1, 5); /* and b behind a */
    assert_int_equal(sent.outputs, 0);
    assert_int_equal(rill__task_flush(f.task), 0);
    assert_string_equal(sent.out, "c=1 a=2 b=2 ");
    assert_int_equal(sent.changelog, 3);
    /* The emptied cache takes new writes; what it missed is read from the store. */
    sent.len = 0;
    sent.out[0] = 0;
    pipe_i64(&f, "c", 1, 6);
    pipe_i64(&f, "d", 1, 7);
    assert_int_equal(rill__task_flush(f.task), 0);
    assert_string_equal(sent.out, "c=2 d=1 ");
    assert_int_equal((long)rill__task_metrics(f.task)->cache_flushed, 5);
    stop(&f);
}

/* Pipes 32,000 records of random keys among nkeys, "key-" and digits wide (2,000 a second of
 * record time, a commit every 1,000), then 6,000 more; returns the allocations made during the
 * 6,000. */
static long allocations_when_warm(fixture_t *f, int nkeys, int digits)
{
    uint64_t rng = 7;
    char key[16];
    long before = 0, n = 0;
    for (int phase = 0; phase < 2; phase++) {
        if (phase == 1)
            before = allocations;
        for (int i = 0; i < (phase ? 6000 : 32000); i++, n++) {
            rng = rng * 6364136223846793005ULL + 1442695040888963407ULL;
            snprintf(key, sizeof key, "key-%0*d", digits, (int)((rng >> 33) % (uint64_t)nkeys));
            pipe_i64(f, key, (int64_t)(rng >> 54), 1700000000000 + n / 2);
            if ((n + 1) % 1000 == 0)
                assert_int_equal(rill__task_flush(f->task), 0);
        }
    }
    return allocations - before;
}

/* bench-stateful's hopping windows (10 s every 1 s) summing int64 readings, of 2,000 keys,
 * RocksDB, cache on, a commit every 1,000 records, 2,000 records per second of record time.
 * After a warm-up of 16 s of record time (stores opened, segments of 5 s opened and dropped,
 * windows closed, cache memory and buffers grown), 6,000 more records (3 s in which every window
 * they update starts in a segment already open: opening a segment allocates, once per 5 s of
 * record time), through cache flushes at commits and on a full budget, allocate nothing. */
static void test_no_allocation_per_record(void **state)
{
    (void)state;
    rill_topology_t *topo = stateful_topology("in", false);
    fixture_t f;
    /* A budget this small is spent within every second of record time: flushes run inside
     * the processing of a record, as well as at commits. */
    cache_max_bytes = 512u << 10;
    start(&f, topo);
    cache_max_bytes = 10u << 20;
    long during = allocations_when_warm(&f, 2000, 4);
    const rill_task_metrics_t *mt = rill__task_metrics(f.task);
    printf("record cache: %ld allocations by Rill over 6000 records of a cached hopping-window "
           "aggregate (%llu cache hits, %llu entries written through)\n",
           during, (unsigned long long)mt->cache_hits, (unsigned long long)mt->cache_flushed);
    assert_true(mt->cache_hits > 0);
    assert_true(sent.outputs > 0);
    assert_int_equal(during, 0);
    stop(&f);
}

/* A cached dedupe by key on RocksDB (TTL 5 s, so 5 s segments), 20,000 keys: after the warm-up
 * (16 s of record time), the 6,000 records of the next 3 s (in one segment), passed ones (most)
 * and duplicates, through the cache's flushes, allocate nothing. */
static void test_dedupe_allocates_nothing_per_record(void **state)
{
    (void)state;
    rill_topology_t *topo = rill_topology_new();
    rill_source_opts_t in = {.key_serde = rill_serde_string(), .value_serde = rill_serde_int64()};
    rill_materialized_t m = {.backend = RILL_STORE_ROCKSDB};
    rill_stream_to(
        rill_stream_dedupe(rill_stream_from_topic(topo, "in", &in), rill_dedupe_by_key(), 5000, &m),
        "out", NULL);
    fixture_t f;
    start(&f, topo);
    long during = allocations_when_warm(&f, 20000, 5);
    const rill_task_metrics_t *mt = rill__task_metrics(f.task);
    printf("dedupe: %ld allocations by Rill over 6000 records (%llu duplicates dropped of 38000, "
           "%ld out)\n",
           during, (unsigned long long)mt->duplicates_dropped, sent.outputs);
    assert_true(mt->duplicates_dropped > 1000);
    assert_true(sent.outputs > 20000);
    assert_int_equal(during, 0);
    stop(&f);
}

/* rill_stream_decide, cached, on RocksDB, 200 accounts: once warm, 6,000 commands (accepted
 * and rejected, events and replies, cache flushes at commits) allocate nothing. (With 200
 * accounts every flush of the warm-up writes nearly all of them: a flush of more entries than
 * any before grows the flush's arrays, once.) */
static void test_decide_allocates_nothing_per_record(void **state)
{
    (void)state;
    rill_topology_t *topo = decide_topology(RILL_STORE_ROCKSDB, false);
    assert_non_null(topo);
    fixture_t f;
    start(&f, topo);
    long during = allocations_when_warm(&f, 200, 3);
    printf("decide: %ld allocations by Rill over 6000 commands (%ld events of 38000 commands; "
           "replies and changelog records %ld)\n",
           during, sent.outputs, sent.changelog);
    assert_true(sent.outputs > 20000 && sent.outputs < 38000); /* some were rejected */
    assert_int_equal(during, 0);
    stop(&f);
}

/* Reads the segment-width marker of the task's window store; -1 when absent. */
static long long marker_of(fixture_t *f, char *path, size_t size)
{
    snprintf(path, size, "%s/%s/%s/segment-ms", f->dir, rill__task_id(f->task),
             rill__task_changelog_store(f->task, 0));
    long long width = -1;
    FILE *m = fopen(path, "r");
    if (m) {
        if (fscanf(m, "%lld", &width) != 1)
            width = -1;
        fclose(m);
    }
    return width;
}

/* A window store records the width of its segments (5 s: half the retention of 10 s); reopened
 * with that width it keeps its checkpoint, and with segments of another width (or none recorded,
 * as stores written before the marker) it is wiped and restored from the start of its
 * changelog, since its segment ids would mean other times. */
static void test_segment_width_is_recorded(void **state)
{
    (void)state;
    fixture_t f;
    start(&f, stateful_topology("in", false));
    for (int i = 0; i < 100; i++)
        pipe_i64(&f, i % 2 ? "a" : "b", i, 1700000000000 + 100 * i);
    assert_int_equal(rill__task_flush(f.task), 0);
    int64_t end = sent.changelog;
    assert_true(end > 0);
    assert_int_equal(rill__task_checkpoint(f.task, &end), 0);
    char path[512], err[512];
    assert_int_equal(marker_of(&f, path, sizeof path), 5000);
    int st;
    assert_int_equal(rill__topology_find_source(f.topo, "record-cache", "in", &st, &f.source), 0);
    /* The same width: the checkpoint stands. */
    rill__task_destroy(f.task);
    f.task = rill__task_new(f.topo, st, 0, &f.env, err, sizeof err);
    assert_non_null(f.task);
    assert_int_equal(rill__task_changelog_offset(f.task, 0), end);
    /* Another width: restored from the start, the marker rewritten. */
    rill__task_destroy(f.task);
    FILE *m = fopen(path, "w");
    assert_non_null(m);
    fprintf(m, "60000\n");
    fclose(m);
    f.task = rill__task_new(f.topo, st, 0, &f.env, err, sizeof err);
    assert_non_null(f.task);
    assert_int_equal(rill__task_changelog_offset(f.task, 0), -1);
    assert_int_equal(marker_of(&f, path, sizeof path), 5000);
    stop(&f);
}

/* A node whose flush listener writes to its own store and then reads a range of it: a flush of
 * the store from inside its own flush. */
enum { ECHOES = 40 };
static struct {
    char seen[4096];
    size_t len;
    long range_rows, echoes;
} echo;

static int echo_flushed(rill_context_t *ctx, void *state, rill_buf_t key, rill_buf_t value,
                        rill_buf_t old, int64_t ts)
{
    (void)old;
    rill_kv_store_t *kv = state;
    if (key.len < 5 || memcmp(key.data, "echo-", 5) != 0)
        echo.len += (size_t)snprintf(echo.seen + echo.len, sizeof echo.seen - echo.len, "%.*s ",
                                     (int)key.len, (const char *)key.data);
    else
        echo.echoes++;
    if (key.len >= 5 && memcmp(key.data, "echo-", 5) == 0)
        return 0;
    /* More entries than the outer flush has: the inner one needs larger buffers. */
    for (int j = 0; j < ECHOES; j++) {
        char k[64];
        int n = snprintf(k, sizeof k, "echo-%.*s-%02d", (int)key.len, (const char *)key.data, j);
        int rc = rill_kv_put(kv, (rill_buf_t){k, (size_t)n}, value, ts);
        if (rc)
            return rc;
    }
    rill_store_iter_t *it = rill_kv_range(kv, NULL, NULL, false);
    if (!it)
        return rill_context_fail(ctx, RILL_EIO, "no range");
    rill_buf_t rk, rv;
    while (rill_store_iter_next(it, &rk, &rv))
        echo.range_rows++;
    rill_store_iter_close(it);
    return 0;
}

static int echo_init(rill_context_t *ctx, void *arg, void **state)
{
    (void)arg;
    *state = rill_context_kv_store(ctx, "s");
    assert_non_null(*state);
    assert_true(rill_context_on_store_flush(ctx, "s", echo_flushed));
    return 0;
}

static int echo_process(rill_context_t *ctx, void *state, const rill_record_t *rec)
{
    (void)ctx;
    return rill_kv_put(state, rec->key, rec->value, rec->timestamp);
}

static const rill_processor_ops echo_ops = {echo_init, echo_process, NULL};

static void test_flush_inside_its_own_flush(void **state)
{
    (void)state;
    memset(&echo, 0, sizeof echo);
    rill_topology_t *topo = rill_topology_new();
    rill_source_opts_t in = {.key_serde = rill_serde_string(), .value_serde = rill_serde_int64()};
    rill_topology_add_source(topo, "src", (const char *const[]){"in", NULL}, NULL, &in);
    rill_topology_add_processor(topo, "echo", &echo_ops, NULL, NULL,
                                (const char *const[]){"src", NULL});
    rill_store_spec_t spec = {.name = "s", .type = RILL_STORE_KV, .backend = RILL_STORE_ROCKSDB};
    rill_topology_add_store(topo, &spec, (const char *const[]){"echo", NULL});
    fixture_t f;
    start(&f, topo);
    pipe_i64(&f, "a", 1, 1);
    pipe_i64(&f, "b", 2, 2);
    pipe_i64(&f, "a", 3, 3);
    assert_int_equal(rill__task_flush(f.task), 0);
    /* b, then a (last written); each one's echoes are written through by the range read
     * inside the listener, which sees the store with them. */
    assert_string_equal(echo.seen, "b a ");
    assert_int_equal(echo.echoes, 2 * ECHOES);
    assert_int_equal(echo.range_rows, (2 + ECHOES) + (2 + 2 * ECHOES));
    rill_store_t *s = rill__task_kv_store(f.task, "s");
    assert_int_equal(rill_store_approx_count(s), 2 + 2 * ECHOES);
    rill_buf_t v;
    assert_int_equal(rill_store_get(s, (rill_buf_t){"echo-a-07", 9}, &v), 0);
    rill_buf_t value;
    assert_int_equal(rill_stored_split(v, &value, NULL), 0);
    assert_int_equal(rill_value_i64(value), 3); /* the processor stored the native view */
    stop(&f);
}

int main(void)
{
    rill_set_allocator(counting_malloc, counting_realloc, free);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_flush_in_order_of_last_update),
        cmocka_unit_test(test_no_allocation_per_record),
        cmocka_unit_test(test_dedupe_allocates_nothing_per_record),
        cmocka_unit_test(test_decide_allocates_nothing_per_record),
        cmocka_unit_test(test_segment_width_is_recorded),
        cmocka_unit_test(test_flush_inside_its_own_flush),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
