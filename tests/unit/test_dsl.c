/*
 * Stateless DSL operators through the test driver: tables of input and expected output, topology
 * validation errors, descriptions, the Processor API with punctuators, and the record error
 * handler.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <rill/dsl.h>
#include <rill/test_driver.h>
#include "operators/task.h" /* rill__topology_subtopology_count(): not API */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

typedef struct {
    const char *key, *value;
    int64_t ts;
} kv_t;

static rill_conf_t *string_conf(void)
{
    rill_conf_t *conf = rill_conf_new();
    char err[256];
    assert_int_equal(rill_conf_set(conf, "application.id", "dsl-test", err, sizeof err), 0);
    assert_int_equal(rill_conf_set(conf, "default.key.serde", "string", err, sizeof err), 0);
    assert_int_equal(rill_conf_set(conf, "default.value.serde", "string", err, sizeof err), 0);
    return conf;
}

/* Pipes inputs into "in" and checks that "out" holds exactly expected, in order. */
static void run_table(rill_topology_t *topo, const kv_t *in, size_t nin, const char *out_topic,
                      const kv_t *expected, size_t nexp)
{
    char err[512];
    rill_conf_t *conf = string_conf();
    rill_test_driver_t *td = rill_test_driver_new(topo, conf, 0, err, sizeof err);
    assert_non_null(td);
    for (size_t i = 0; i < nin; i++)
        assert_int_equal(rill_test_driver_pipe_str(td, "in", in[i].key, in[i].value, in[i].ts), 0);
    for (size_t i = 0; i < nexp; i++) {
        rill_test_record_t rec;
        assert_int_equal(rill_test_driver_read(td, out_topic, &rec), 0);
        if (expected[i].key)
            assert_string_equal(rec.key.data, expected[i].key);
        else
            assert_null(rec.key.data);
        assert_string_equal(rec.value.data, expected[i].value);
        assert_int_equal(rec.timestamp, expected[i].ts);
    }
    assert_int_equal(rill_test_driver_unread(td, out_topic), 0);
    rill_test_driver_destroy(td);
    rill_conf_destroy(conf);
}

static bool starts_with_a(void *ud, const rill_record_t *rec)
{
    return rec->value.len > 0 && ((const char *)rec->value.data)[0] == 'a';
}

static int upper_value(void *ud, rill_context_t *ctx, const rill_record_t *rec, rill_buf_t *out)
{
    rill_buf_t copy = rill_arena_copy(rill_context_arena(ctx), rec->value.data, rec->value.len);
    for (size_t i = 0; i < copy.len; i++)
        ((char *)copy.data)[i] = (char)(((char *)copy.data)[i] & ~0x20);
    *out = copy;
    return 0;
}

static int swap(void *ud, rill_context_t *ctx, const rill_record_t *rec, rill_buf_t *k,
                rill_buf_t *v)
{
    *k = rec->value;
    *v = rec->key;
    return 0;
}

static int value_as_key(void *ud, rill_context_t *ctx, const rill_record_t *rec, rill_buf_t *out)
{
    *out = rec->value;
    return 0;
}

/* Splits the value on spaces, one output per word. */
static int words(void *ud, rill_context_t *ctx, const rill_record_t *rec, rill_emitter_t *out)
{
    const char *s = rec->value.data;
    size_t n = rec->value.len, start = 0;
    for (size_t i = 0; i <= n; i++)
        if (i == n || s[i] == ' ') {
            if (i > start) {
                rill_buf_t w = rill_arena_copy(rill_context_arena(ctx), s + start, i - start);
                int rc = rill_emit(out, w, w);
                if (rc)
                    return rc;
            }
            start = i + 1;
        }
    return 0;
}

static void test_filter_and_filter_not(void **state)
{
    const kv_t in[] = {{"k1", "apple", 1}, {"k2", "banana", 2}, {"k3", "avocado", 3}};
    const kv_t kept[] = {{"k1", "apple", 1}, {"k3", "avocado", 3}};
    const kv_t dropped[] = {{"k2", "banana", 2}};
    rill_topology_t *topo = rill_topology_new();
    rill_stream_t *s = rill_stream_from_topic(topo, "in", NULL);
    rill_stream_to(rill_stream_filter(s, starts_with_a, NULL), "kept", NULL);
    rill_stream_to(rill_stream_filter_not(s, starts_with_a, NULL), "dropped", NULL);
    run_table(topo, in, 3, "kept", kept, 2);
    run_table(topo, in, 3, "dropped", dropped, 1);
    rill_topology_unref(topo);
}

static void test_map_map_values_select_key(void **state)
{
    const kv_t in[] = {{"k1", "abc", 10}, {NULL, "xy", 11}};
    const kv_t mapped[] = {{"abc", "k1", 10}, {"xy", NULL, 11}};
    const kv_t upper[] = {{"k1", "ABC", 10}, {NULL, "XY", 11}};
    const kv_t rekeyed[] = {{"abc", "abc", 10}, {"xy", "xy", 11}};
    rill_topology_t *topo = rill_topology_new();
    rill_stream_t *s = rill_stream_from_topic(topo, "in", NULL);
    rill_stream_to(rill_stream_map_values(s, upper_value, NULL), "upper", NULL);
    rill_stream_to(rill_stream_select_key(s, value_as_key, NULL), "rekeyed", NULL);
    rill_stream_to(rill_stream_filter(rill_stream_map(s, swap, NULL), starts_with_a, NULL), "never",
                   NULL);
    run_table(topo, in, 2, "upper", upper, 2);
    run_table(topo, in, 2, "rekeyed", rekeyed, 2);
    rill_topology_unref(topo);
    (void)mapped;
}

static void test_map_swaps_null_value(void **state)
{
    /* A null key becomes a null value: the sink writes a tombstone. */
    char err[256];
    rill_topology_t *topo = rill_topology_new();
    rill_stream_to(rill_stream_map(rill_stream_from_topic(topo, "in", NULL), swap, NULL), "out",
                   NULL);
    rill_conf_t *conf = string_conf();
    rill_test_driver_t *td = rill_test_driver_new(topo, conf, 0, err, sizeof err);
    assert_int_equal(rill_test_driver_pipe_str(td, "in", NULL, "v", 5), 0);
    rill_test_record_t rec;
    assert_int_equal(rill_test_driver_read(td, "out", &rec), 0);
    assert_string_equal(rec.key.data, "v");
    assert_null(rec.value.data);
    rill_test_driver_destroy(td);
    rill_conf_destroy(conf);
    rill_topology_unref(topo);
}

static void test_flat_map_and_values(void **state)
{
    const kv_t in[] = {{"k", "the quick fox", 7}, {"e", "", 8}};
    const kv_t fm[] = {{"the", "the", 7}, {"quick", "quick", 7}, {"fox", "fox", 7}};
    const kv_t fmv[] = {{"k", "the", 7}, {"k", "quick", 7}, {"k", "fox", 7}};
    rill_topology_t *topo = rill_topology_new();
    rill_stream_t *s = rill_stream_from_topic(topo, "in", NULL);
    rill_stream_to(rill_stream_flat_map(s, words, NULL), "fm", NULL);
    rill_stream_to(rill_stream_flat_map_values(s, words, NULL), "fmv", NULL);
    run_table(topo, in, 2, "fm", fm, 3);
    run_table(topo, in, 2, "fmv", fmv, 3);
    rill_topology_unref(topo);
}

static int peeked;
static void count_peek(void *ud, const rill_record_t *rec)
{
    (*(int *)ud)++;
}

static void test_peek_foreach_merge(void **state)
{
    const kv_t in[] = {{"a", "apple", 1}, {"b", "berry", 2}};
    const kv_t merged[] = {{"a", "apple", 1}, {"a", "APPLE", 1}, {"b", "BERRY", 2}};
    int seen = 0;
    peeked = 0;
    rill_topology_t *topo = rill_topology_new();
    rill_stream_t *s =
        rill_stream_peek(rill_stream_from_topic(topo, "in", NULL), count_peek, &peeked);
    rill_stream_foreach(s, count_peek, &seen);
    /* Separate statements: C leaves the order of argument evaluation open. */
    rill_stream_t *kept = rill_stream_filter(s, starts_with_a, NULL);
    rill_stream_t *upper = rill_stream_map_values(s, upper_value, NULL);
    rill_stream_t *m = rill_stream_merge(kept, upper);
    rill_stream_to(m, "out", NULL);
    run_table(topo, in, 2, "out", merged, 3);
    assert_int_equal(peeked, 2);
    assert_int_equal(seen, 2);
    rill_topology_unref(topo);
}

static bool is_b(void *ud, const rill_record_t *rec)
{
    return rec->value.len && ((const char *)rec->value.data)[0] == 'b';
}

static void test_split_first_match_wins(void **state)
{
    const kv_t in[] = {{"1", "apple", 1}, {"2", "banana", 2}, {"3", "cherry", 3}};
    const kv_t a[] = {{"1", "apple", 1}};
    const kv_t b[] = {{"2", "banana", 2}};
    const kv_t rest[] = {{"3", "cherry", 3}};
    rill_topology_t *topo = rill_topology_new();
    rill_split_t *sp = rill_stream_split(rill_stream_from_topic(topo, "in", NULL), "fruit-");
    rill_stream_t *ba = rill_split_branch(sp, "a", starts_with_a, NULL);
    rill_stream_t *bb = rill_split_branch(sp, "b", is_b, NULL);
    rill_stream_t *bd = rill_split_default(sp, "other");
    assert_string_equal(rill_stream_name(ba), "fruit-a");
    assert_string_equal(rill_stream_name(bd), "fruit-other");
    rill_stream_to(ba, "a", NULL);
    rill_stream_to(bb, "b", NULL);
    rill_stream_to(bd, "rest", NULL);
    run_table(topo, in, 3, "a", a, 1);
    run_table(topo, in, 3, "b", b, 1);
    run_table(topo, in, 3, "rest", rest, 1);
    rill_topology_unref(topo);
}

static const char *topic_by_first_letter(void *ud, const rill_record_t *rec)
{
    return ((const char *)rec->value.data)[0] == 'a' ? "a-topic" : "other-topic";
}

static int32_t last_partition(void *ud, const char *topic, const rill_record_t *rec, int32_t n)
{
    return n - 1;
}

static void test_dynamic_topic_and_partitioner(void **state)
{
    char err[256];
    rill_topology_t *topo = rill_topology_new();
    rill_sink_opts_t opts = {.partitioner = last_partition};
    rill_stream_to_dynamic(rill_stream_from_topic(topo, "in", NULL), topic_by_first_letter, NULL,
                           &opts);
    rill_conf_t *conf = string_conf();
    rill_test_driver_t *td = rill_test_driver_new(topo, conf, 0, err, sizeof err);
    assert_int_equal(rill_test_driver_set_partitions(td, "a-topic", 3), 0);
    assert_int_equal(rill_test_driver_pipe_str(td, "in", "k", "avocado", 1), 0);
    assert_int_equal(rill_test_driver_pipe_str(td, "in", "k", "kiwi", 2), 0);
    rill_test_record_t rec;
    assert_int_equal(rill_test_driver_read(td, "a-topic", &rec), 0);
    assert_int_equal(rec.partition, 2);
    assert_int_equal(rill_test_driver_read(td, "other-topic", &rec), 0);
    assert_int_equal(rec.partition, 0);
    rill_test_driver_destroy(td);
    rill_conf_destroy(conf);
    rill_topology_unref(topo);
}

/* Records keyed by the value's first letter, repartitioned over 4 partitions: each record
 * reaches the task of the partition murmur2 picks for its new key, and only that one. */
typedef struct {
    int32_t partition_of[256];
    int count;
} seen_t;

static void note_partition(void *ud, const rill_record_t *rec)
{
    seen_t *seen = ud;
    unsigned char k = ((const unsigned char *)rec->key.data)[0];
    seen->partition_of[k] = rec->partition;
    seen->count++;
}

static int first_letter(void *ud, rill_context_t *ctx, const rill_record_t *rec, rill_buf_t *out)
{
    *out = rill_arena_copy(rill_context_arena(ctx), rec->value.data, 1);
    return 0;
}

static void test_repartition_across_partitions(void **state)
{
    char err[256];
    seen_t seen;
    memset(&seen, 0xff, sizeof seen.partition_of);
    seen.count = 0;
    rill_topology_t *topo = rill_topology_new();
    rill_stream_t *s = rill_stream_from_topic(topo, "in", NULL);
    rill_stream_t *r = rill_stream_repartition(rill_stream_select_key(s, first_letter, NULL),
                                               "by-letter", 4, NULL);
    rill_stream_foreach(r, note_partition, &seen);
    rill_stream_to(r, "out", NULL);
    assert_int_equal(rill_topology_build(topo, err, sizeof err), 0);
    assert_int_equal(rill__topology_subtopology_count(topo), 2);
    rill_conf_t *conf = string_conf();
    rill_test_driver_t *td = rill_test_driver_new(topo, conf, 0, err, sizeof err);
    assert_int_equal(rill_test_driver_set_partitions(td, "in", 2), 0);
    assert_int_equal(rill_test_driver_set_partitions(td, "dsl-test-by-letter-repartition", 4), 0);
    const char *values[] = {"apple", "avocado", "banana", "blueberry", "cherry", "date"};
    for (int i = 0; i < 6; i++) {
        char key[8];
        snprintf(key, sizeof key, "k%d", i);
        assert_int_equal(rill_test_driver_pipe_str(td, "in", key, values[i], i), 0);
    }
    assert_int_equal(seen.count, 6);
    assert_int_equal(rill_test_driver_unread(td, "out"), 6);
    /* Same key, same partition; and the repartition topic spread keys over more than one. */
    rill_test_record_t rec;
    int32_t seen_parts = 0;
    while (rill_test_driver_read(td, "dsl-test-by-letter-repartition", &rec) == 0) {
        unsigned char k = ((const unsigned char *)rec.key.data)[0];
        assert_int_equal(rec.partition, seen.partition_of[k]);
        seen_parts |= 1 << rec.partition;
    }
    assert_true(__builtin_popcount((unsigned)seen_parts) > 1);
    assert_int_equal(rill_test_driver_metric(td, "records-processed"), 12);
    rill_test_driver_destroy(td);
    rill_conf_destroy(conf);
    rill_topology_unref(topo);
}

static void test_pattern_source(void **state)
{
    char err[256];
    rill_topology_t *topo = rill_topology_new();
    rill_stream_to(rill_stream_from_pattern(topo, "events-[a-z]+", NULL), "out", NULL);
    rill_conf_t *conf = string_conf();
    rill_test_driver_t *td = rill_test_driver_new(topo, conf, 0, err, sizeof err);
    assert_int_equal(rill_test_driver_pipe_str(td, "events-eu", "k", "1", 1), 0);
    assert_int_equal(rill_test_driver_pipe_str(td, "events-us", "k", "2", 2), 0);
    /* The pattern must match the whole name. */
    assert_int_equal(rill_test_driver_pipe_str(td, "events-eu-old", "k", "3", 3), 0);
    assert_int_equal(rill_test_driver_pipe_str(td, "xevents-eu", "k", "4", 4), 0);
    assert_int_equal(rill_test_driver_unread(td, "out"), 2);
    rill_test_driver_destroy(td);
    rill_conf_destroy(conf);
    rill_topology_unref(topo);
}

/* ---- validation ---- */

static void expect_build_error(rill_topology_t *topo, const char *needle)
{
    char err[512] = "";
    assert_int_equal(rill_topology_build(topo, err, sizeof err), RILL_ETOPOLOGY);
    if (!strstr(err, needle))
        fail_msg("expected '%s' in '%s'", needle, err);
    rill_topology_unref(topo);
}

static const rill_processor_ops noop_ops = {NULL, NULL, NULL};

static void test_validation_errors(void **state)
{
    rill_topology_t *topo = rill_topology_new();
    expect_build_error(topo, "no source");

    topo = rill_topology_new();
    rill_stream_as(rill_stream_from_topic(topo, "in", NULL), "dup");
    rill_stream_as(rill_stream_from_topic(topo, "in2", NULL), "dup");
    expect_build_error(topo, "duplicate node name 'dup'");

    topo = rill_topology_new();
    const char *src[] = {"in", NULL};
    rill_topology_add_source(topo, "src", src, NULL, NULL);
    const char *ghost[] = {"ghost", NULL};
    rill_topology_add_processor(topo, "p", &noop_ops, NULL, NULL, ghost);
    expect_build_error(topo, "node 'p' is dangling: its parent 'ghost' does not exist");

    topo = rill_topology_new();
    rill_topology_add_source(topo, "src", src, NULL, NULL);
    const char *pa[] = {"src", "b", NULL}, *pb[] = {"a", NULL};
    rill_topology_add_processor(topo, "a", &noop_ops, NULL, NULL, pa);
    rill_topology_add_processor(topo, "b", &noop_ops, NULL, NULL, pb);
    expect_build_error(topo, "cycle through node");

    topo = rill_topology_new();
    rill_topology_add_processor(topo, "orphan", &noop_ops, NULL, NULL, NULL);
    expect_build_error(topo, "'orphan' is dangling");

    topo = rill_topology_new();
    rill_stream_from_topic(topo, "in", NULL);
    rill_stream_from_topic(topo, "in", NULL);
    expect_build_error(topo, "topic 'in' is already read by source");

    topo = rill_topology_new();
    rill_stream_filter(rill_stream_from_topic(topo, "in", NULL), NULL, NULL);
    expect_build_error(topo, "has no function");

    topo = rill_topology_new();
    rill_stream_from_pattern(topo, "bad[", NULL);
    expect_build_error(topo, "bad topic pattern 'bad['");

    /* A DSL call after the build is a mistake the next build reports. */
    char err[512];
    topo = rill_topology_new();
    rill_stream_t *late = rill_stream_from_topic(topo, "in", NULL);
    assert_int_equal(rill_topology_build(topo, err, sizeof err), 0);
    rill_stream_filter(late, starts_with_a, NULL);
    expect_build_error(topo, "the topology is already built");
}

static void test_missing_serde_names_node(void **state)
{
    char err[512];
    rill_topology_t *topo = rill_topology_new();
    rill_source_opts_t opts = {.key_serde = rill_serde_string(), .value_serde = rill_serde_json()};
    rill_stream_to(rill_stream_as(rill_stream_from_topic(topo, "in", &opts), "src"), "out", NULL);
    rill_conf_t *conf = rill_conf_new();
    assert_int_equal(rill_conf_set(conf, "application.id", "x", err, sizeof err), 0);
    /* The sink inherits the source's serdes, so this builds without defaults... */
    rill_test_driver_t *td = rill_test_driver_new(topo, conf, 0, err, sizeof err);
    assert_non_null(td);
    rill_test_driver_destroy(td);
    rill_topology_unref(topo);
    /* ...but after a map_values the value serde is unknown and there is no default. */
    topo = rill_topology_new();
    rill_stream_t *s = rill_stream_from_topic(topo, "in", &opts);
    rill_stream_to(rill_stream_map_values(s, upper_value, NULL), "out", NULL);
    assert_null(rill_test_driver_new(topo, conf, 0, err, sizeof err));
    assert_non_null(strstr(err, "sink 'KSTREAM-SINK-0000000002' has no value serde"));
    rill_conf_destroy(conf);
    rill_topology_unref(topo);
}

/* A node's name is one DOT id whatever it holds: its '"' and '\\' escaped. */
static void test_dot_escapes_names(void **state)
{
    (void)state;
    char err[256];
    rill_topology_t *topo = rill_topology_new();
    rill_stream_t *s = rill_stream_as(rill_stream_from_topic(topo, "in", NULL), "a\"b\\c<d>");
    rill_stream_to(s, "out", NULL);
    assert_int_equal(rill_topology_build(topo, err, sizeof err), 0);
    char *dot = rill_topology_to_dot(topo);
    assert_non_null(dot);
    assert_non_null(strstr(dot, "    \"a\\\"b\\\\c<d>\" [shape=invhouse];\n"));
    assert_non_null(strstr(dot, "  \"topic:in\" -> \"a\\\"b\\\\c<d>\";\n"));
    rill_free(dot);
    rill_topology_unref(topo);
}

static void test_describe_matches_kafka_streams_shape(void **state)
{
    char err[256];
    rill_topology_t *topo = rill_topology_new();
    rill_stream_t *s = rill_stream_from_topic(topo, "input", NULL);
    rill_stream_t *f = rill_stream_filter(s, starts_with_a, NULL);
    rill_stream_to(rill_stream_map_values(f, upper_value, NULL), "output", NULL);
    assert_int_equal(rill_topology_build(topo, err, sizeof err), 0);
    char *text = rill_topology_describe(topo);
    const char *expected = "Topologies:\n"
                           "   Sub-topology: 0\n"
                           "    Source: KSTREAM-SOURCE-0000000000 (topics: [input])\n"
                           "      --> KSTREAM-FILTER-0000000001\n"
                           "    Processor: KSTREAM-FILTER-0000000001 (stores: [])\n"
                           "      --> KSTREAM-MAPVALUES-0000000002\n"
                           "      <-- KSTREAM-SOURCE-0000000000\n"
                           "    Processor: KSTREAM-MAPVALUES-0000000002 (stores: [])\n"
                           "      --> KSTREAM-SINK-0000000003\n"
                           "      <-- KSTREAM-FILTER-0000000001\n"
                           "    Sink: KSTREAM-SINK-0000000003 (topic: output)\n"
                           "      <-- KSTREAM-MAPVALUES-0000000002\n\n";
    assert_string_equal(text, expected);
    rill_free(text);
    char *dot = rill_topology_to_dot(topo);
    assert_non_null(strstr(dot, "digraph topology {"));
    assert_non_null(
        strstr(dot, "\"KSTREAM-FILTER-0000000001\" -> \"KSTREAM-MAPVALUES-0000000002\""));
    assert_non_null(strstr(dot, "\"KSTREAM-SINK-0000000003\" -> \"topic:output\""));
    rill_free(dot);
    rill_topology_unref(topo);
}

/* ---- Processor API ---- */

typedef struct {
    int64_t count;
    int wall, stream;
} counter_state_t;

static int counter_wall(rill_context_t *ctx, void *state, int64_t now)
{
    counter_state_t *s = state;
    s->wall++;
    rill_record_t rec = {
        .key = rill_buf_str("wall"),
        .value = rill_arena_printf(rill_context_arena(ctx), "%lld", (long long)s->count),
        .timestamp = now};
    return rill_context_forward(ctx, &rec);
}

static int counter_stream(rill_context_t *ctx, void *state, int64_t now)
{
    ((counter_state_t *)state)->stream++;
    rill_record_t rec = {.key = rill_buf_str("stream"),
                         .value =
                             rill_arena_printf(rill_context_arena(ctx), "%lld", (long long)now),
                         .timestamp = now};
    return rill_context_forward(ctx, &rec);
}

static int counter_init(rill_context_t *ctx, void *arg, void **state)
{
    counter_state_t *s = calloc(1, sizeof *s);
    *state = s;
    assert_int_equal(rill_context_schedule(ctx, 1000, RILL_PUNCTUATE_WALL_CLOCK, counter_wall), 0);
    assert_int_equal(rill_context_schedule(ctx, 100, RILL_PUNCTUATE_STREAM_TIME, counter_stream),
                     0);
    assert_string_equal(rill_context_task_id(ctx), "0_0");
    return 0;
}

static int counter_process(rill_context_t *ctx, void *state, const rill_record_t *rec)
{
    counter_state_t *s = state;
    s->count++;
    if (rec->value.len == 4 && memcmp(rec->value.data, "boom", 4) == 0)
        return rill_context_fail(ctx, RILL_EPROCESS, "value 'boom' at offset %lld",
                                 (long long)rec->offset);
    return 0;
}

static void counter_close(rill_context_t *ctx, void *state)
{
    free(state);
}

static const rill_processor_ops counter_ops = {counter_init, counter_process, counter_close};

static void test_processor_api_punctuators(void **state)
{
    char err[512];
    rill_topology_t *topo = rill_topology_new();
    rill_stream_t *p =
        rill_stream_process(rill_stream_from_topic(topo, "in", NULL), &counter_ops, NULL, NULL);
    rill_stream_to(p, "out", NULL);
    rill_conf_t *conf = string_conf();
    rill_test_driver_t *td = rill_test_driver_new(topo, conf, 5000, err, sizeof err);
    rill_test_record_t rec;
    /* Stream time: fires at the first record (t=10), then when time passes 110, not before. */
    assert_int_equal(rill_test_driver_pipe_str(td, "in", "a", "x", 10), 0);
    assert_int_equal(rill_test_driver_pipe_str(td, "in", "a", "x", 109), 0);
    assert_int_equal(rill_test_driver_pipe_str(td, "in", "a", "x", 50), 0);
    assert_int_equal(rill_test_driver_unread(td, "out"), 1);
    assert_int_equal(rill_test_driver_pipe_str(td, "in", "a", "x", 110), 0);
    assert_int_equal(rill_test_driver_unread(td, "out"), 2);
    assert_int_equal(rill_test_driver_read(td, "out", &rec), 0);
    assert_string_equal(rec.value.data, "10");
    assert_int_equal(rill_test_driver_read(td, "out", &rec), 0);
    assert_string_equal(rec.value.data, "110");
    /* Wall clock: nothing at +999 ms, one at +1000 ms, one (not three) after +3000 ms. */
    assert_int_equal(rill_test_driver_advance_wall_clock(td, 999), 0);
    assert_int_equal(rill_test_driver_unread(td, "out"), 0);
    assert_int_equal(rill_test_driver_advance_wall_clock(td, 1), 0);
    assert_int_equal(rill_test_driver_read(td, "out", &rec), 0);
    assert_string_equal(rec.key.data, "wall");
    assert_string_equal(rec.value.data, "4");
    assert_int_equal(rec.timestamp, 6000);
    assert_int_equal(rill_test_driver_advance_wall_clock(td, 3000), 0);
    assert_int_equal(rill_test_driver_unread(td, "out"), 1);
    /* A processor error names the task, the node and the cause. */
    assert_int_equal(rill_test_driver_pipe_str(td, "in", "a", "boom", 200), RILL_EPROCESS);
    assert_non_null(strstr(rill_test_driver_error(td), "task 0_0, node 'KSTREAM-PROCESSOR-"));
    assert_non_null(strstr(rill_test_driver_error(td), "value 'boom' at offset 4"));
    rill_test_driver_destroy(td);
    rill_conf_destroy(conf);
    rill_topology_unref(topo);
}

/* ---- record errors ---- */

static int handled;
static rill_handler_result_t count_and_continue(void *ud, const rill_record_t *raw, int err,
                                                const char *reason)
{
    handled++;
    assert_non_null(strstr(reason, "topic 'in' partition 0 offset 1"));
    return RILL_HANDLER_CONTINUE;
}

static void test_deserialization_fail_and_continue(void **state)
{
    char err[512];
    rill_topology_t *topo = rill_topology_new();
    rill_source_opts_t opts = {.value_serde = rill_serde_json()};
    rill_stream_to(rill_stream_from_topic(topo, "in", &opts), "out",
                   &(rill_sink_opts_t){.value_serde = rill_serde_json()});
    rill_conf_t *conf = string_conf();
    rill_test_driver_t *td = rill_test_driver_new(topo, conf, 0, err, sizeof err);
    assert_int_equal(rill_test_driver_pipe_str(td, "in", "k", "{\"a\":1}", 1), 0);
    assert_int_equal(rill_test_driver_pipe_str(td, "in", "k", "{\"a\":", 2), RILL_ESERDE);
    const char *e = rill_test_driver_error(td);
    assert_non_null(strstr(e, "cannot deserialize the value of the record at topic 'in' "
                              "partition 0 offset 1"));
    rill_test_driver_destroy(td);

    /* continue: the bad record is skipped with a log line and counted. */
    char err2[256];
    assert_int_equal(rill_conf_set(conf, "default.deserialization.exception.handler", "continue",
                                   err2, sizeof err2),
                     0);
    td = rill_test_driver_new(topo, conf, 0, err, sizeof err);
    assert_int_equal(rill_test_driver_pipe_str(td, "in", "k", "{\"a\":1}", 1), 0);
    assert_int_equal(rill_test_driver_pipe_str(td, "in", "k", "not json", 2), 0);
    assert_int_equal(rill_test_driver_pipe_str(td, "in", "k", "[2]", 3), 0);
    assert_int_equal(rill_test_driver_metric(td, "records-skipped"), 1);
    assert_int_equal(rill_test_driver_unread(td, "out"), 2);
    rill_test_driver_destroy(td);

    /* A user handler (the dead letter queue hook) sees the raw record and the reason. */
    handled = 0;
    rill_conf_set_record_error_handler(conf, count_and_continue, NULL);
    td = rill_test_driver_new(topo, conf, 0, err, sizeof err);
    assert_int_equal(rill_test_driver_pipe_str(td, "in", "k", "{}", 1), 0);
    assert_int_equal(rill_test_driver_pipe_str(td, "in", "k", "{", 2), 0);
    assert_int_equal(handled, 1);
    /* A negative timestamp goes the same way. */
    rill_test_driver_destroy(td);
    rill_conf_destroy(conf);
    rill_topology_unref(topo);
}

static void test_headers_and_metadata_pass_through(void **state)
{
    char err[256];
    rill_topology_t *topo = rill_topology_new();
    rill_stream_to(
        rill_stream_filter(rill_stream_from_topic(topo, "in", NULL), starts_with_a, NULL), "out",
        NULL);
    rill_conf_t *conf = string_conf();
    rill_test_driver_t *td = rill_test_driver_new(topo, conf, 0, err, sizeof err);
    rill_header_t h[] = {{"trace", rill_buf_str("abc")}, {"empty", {NULL, 0}}};
    assert_int_equal(rill_test_driver_pipe_headers(td, "in", -1, rill_buf_str("k"),
                                                   rill_buf_str("apple"), 42, h, 2),
                     0);
    rill_test_record_t rec;
    assert_int_equal(rill_test_driver_read(td, "out", &rec), 0);
    assert_int_equal(rec.header_count, 2);
    assert_string_equal(rec.headers[0].name, "trace");
    assert_string_equal(rec.headers[0].value.data, "abc");
    assert_null(rec.headers[1].value.data);
    assert_int_equal(rec.timestamp, 42);
    rill_test_driver_destroy(td);
    rill_conf_destroy(conf);
    rill_topology_unref(topo);
}

/* An empty string is a value, not a tombstone, on every serde path. */
static void test_empty_is_not_null(void **state)
{
    char err[256];
    rill_topology_t *topo = rill_topology_new();
    rill_stream_t *s = rill_stream_from_topic(topo, "in", NULL);
    rill_stream_to(s, "as-string", NULL);
    rill_stream_to(
        s, "as-bytes",
        &(rill_sink_opts_t){.key_serde = rill_serde_bytes(), .value_serde = rill_serde_bytes()});
    rill_conf_t *conf = string_conf();
    rill_test_driver_t *td = rill_test_driver_new(topo, conf, 0, err, sizeof err);
    assert_int_equal(rill_test_driver_pipe_str(td, "in", "", "", 1), 0);
    assert_int_equal(rill_test_driver_pipe_str(td, "in", NULL, NULL, 2), 0);
    const char *topics[] = {"as-string", "as-bytes"};
    for (int i = 0; i < 2; i++) {
        rill_test_record_t rec;
        assert_int_equal(rill_test_driver_read(td, topics[i], &rec), 0);
        assert_non_null(rec.key.data);
        assert_non_null(rec.value.data);
        assert_int_equal(rec.value.len, 0);
        assert_int_equal(rill_test_driver_read(td, topics[i], &rec), 0);
        assert_null(rec.key.data);
        assert_null(rec.value.data);
    }
    rill_test_driver_destroy(td);
    rill_conf_destroy(conf);
    rill_topology_unref(topo);
}

/* Headers: a processor reads one, another replaces them; a record's own pass unchanged. */
static int stamp_headers(void *ud, rill_context_t *ctx, const rill_record_t *rec, rill_buf_t *out)
{
    const rill_header_t *trace = rill_record_header(rec, "trace");
    *out =
        rill_arena_printf(rill_context_arena(ctx), "trace=%.*s", trace ? (int)trace->value.len : 4,
                          trace ? (const char *)trace->value.data : "none");
    return 0;
}

static int replace_headers(rill_context_t *ctx, void *state, const rill_record_t *rec)
{
    rill_header_t h[] = {{"origin", rill_buf_str("rill")}};
    rill_record_t out = *rec;
    out.headers = rill_arena_headers(rill_context_arena(ctx), h, 1);
    return rill_context_forward(ctx, &out);
}

static const rill_processor_ops replace_ops = {NULL, replace_headers, NULL};

static void test_headers_read_and_replaced(void **state)
{
    char err[256];
    rill_topology_t *topo = rill_topology_new();
    rill_stream_t *s = rill_stream_from_topic(topo, "in", NULL);
    rill_stream_to(rill_stream_map_values(s, stamp_headers, NULL), "stamped", NULL);
    rill_stream_to(rill_stream_process(s, &replace_ops, NULL, NULL), "replaced", NULL);
    rill_conf_t *conf = string_conf();
    rill_test_driver_t *td = rill_test_driver_new(topo, conf, 0, err, sizeof err);
    rill_header_t h[] = {{"trace", rill_buf_str("t-1")}};
    assert_int_equal(
        rill_test_driver_pipe_headers(td, "in", -1, rill_buf_str("k"), rill_buf_str("v"), 1, h, 1),
        0);
    assert_int_equal(rill_test_driver_pipe_str(td, "in", "k", "v", 2), 0);
    rill_test_record_t rec;
    assert_int_equal(rill_test_driver_read(td, "stamped", &rec), 0);
    assert_string_equal(rec.value.data, "trace=t-1");
    assert_int_equal(rec.header_count, 1); /* passed through unchanged */
    assert_int_equal(rill_test_driver_read(td, "stamped", &rec), 0);
    assert_string_equal(rec.value.data, "trace=none");
    assert_int_equal(rec.header_count, 0);
    assert_int_equal(rill_test_driver_read(td, "replaced", &rec), 0);
    assert_int_equal(rec.header_count, 1);
    assert_string_equal(rec.headers[0].name, "origin");
    assert_string_equal(rec.headers[0].value.data, "rill");
    rill_test_driver_destroy(td);
    rill_conf_destroy(conf);
    rill_topology_unref(topo);
}

/* ---- fixes from review ---- */

/* A branch renamed after the split still gets its records. */
static void test_renamed_branch_still_routes(void **state)
{
    const kv_t in[] = {{"1", "apple", 1}, {"2", "kiwi", 2}};
    const kv_t a[] = {{"1", "apple", 1}};
    rill_topology_t *topo = rill_topology_new();
    rill_split_t *sp = rill_stream_split(rill_stream_from_topic(topo, "in", NULL), "sp-");
    rill_stream_t *ba = rill_stream_as(rill_split_branch(sp, "a", starts_with_a, NULL), "only-a");
    rill_stream_to(ba, "a", NULL);
    rill_stream_to(rill_split_default(sp, "rest"), "rest", NULL);
    assert_string_equal(rill_stream_name(ba), "only-a");
    run_table(topo, in, 2, "a", a, 1);
    rill_topology_unref(topo);
}

/* A flat_map that ignores rill_emit()'s result cannot make a failed send look processed. */
static int emit_and_ignore(void *ud, rill_context_t *ctx, const rill_record_t *rec,
                           rill_emitter_t *out)
{
    (void)rill_emit(out, rec->key, rec->value);
    return 0;
}

static int32_t out_of_range(void *ud, const char *topic, const rill_record_t *rec, int32_t n)
{
    return n + 5;
}

static void test_ignored_send_failure_still_fails(void **state)
{
    char err[512];
    rill_topology_t *topo = rill_topology_new();
    rill_stream_t *s =
        rill_stream_flat_map(rill_stream_from_topic(topo, "in", NULL), emit_and_ignore, NULL);
    rill_stream_to(s, "out", &(rill_sink_opts_t){.partitioner = out_of_range});
    rill_conf_t *conf = string_conf();
    rill_test_driver_t *td = rill_test_driver_new(topo, conf, 0, err, sizeof err);
    assert_int_equal(rill_test_driver_pipe_str(td, "in", "k", "v", 1), RILL_EPROCESS);
    assert_non_null(strstr(rill_test_driver_error(td), "the partitioner chose partition 6"));
    rill_test_driver_destroy(td);
    rill_conf_destroy(conf);
    rill_topology_unref(topo);
}

/* A stream-time punctuator of 1 ms meeting a jump of a year fires once, at once, and is then
 * due one interval after the new stream time. */
static int jumps;
static int count_jump(rill_context_t *ctx, void *state, int64_t now)
{
    jumps++;
    return 0;
}
static int jumper_init(rill_context_t *ctx, void *arg, void **state)
{
    return rill_context_schedule(ctx, 1, RILL_PUNCTUATE_STREAM_TIME, count_jump);
}
static const rill_processor_ops jumper_ops = {jumper_init, NULL, NULL};

static void test_punctuator_jump_is_one_step(void **state)
{
    char err[256];
    rill_topology_t *topo = rill_topology_new();
    rill_stream_process(rill_stream_from_topic(topo, "in", NULL), &jumper_ops, NULL, NULL);
    rill_conf_t *conf = string_conf();
    rill_test_driver_t *td = rill_test_driver_new(topo, conf, 0, err, sizeof err);
    jumps = 0;
    assert_int_equal(rill_test_driver_pipe_str(td, "in", "k", "v", 1), 0);
    int64_t year = 365LL * 24 * 3600 * 1000;
    assert_int_equal(rill_test_driver_pipe_str(td, "in", "k", "v", 1 + year), 0);
    assert_int_equal(jumps, 2);
    assert_int_equal(rill_test_driver_pipe_str(td, "in", "k", "v", 1 + year), 0);
    assert_int_equal(jumps, 2);
    assert_int_equal(rill_test_driver_pipe_str(td, "in", "k", "v", 2 + year), 0);
    assert_int_equal(jumps, 3);
    rill_test_driver_destroy(td);
    rill_conf_destroy(conf);
    rill_topology_unref(topo);
}

/* The driver gives a repartition topic the partition count the repartition asked for. */
static void test_driver_repartition_partitions(void **state)
{
    char err[256];
    rill_topology_t *topo = rill_topology_new();
    rill_stream_t *r =
        rill_stream_repartition(rill_stream_from_topic(topo, "in", NULL), "eight", 8, NULL);
    rill_stream_to(r, "out", NULL);
    rill_conf_t *conf = string_conf();
    rill_test_driver_t *td = rill_test_driver_new(topo, conf, 0, err, sizeof err);
    int32_t used = 0;
    for (int i = 0; i < 200; i++) {
        char key[16];
        snprintf(key, sizeof key, "key-%d", i);
        assert_int_equal(rill_test_driver_pipe_str(td, "in", key, "v", i), 0);
    }
    rill_test_record_t rec;
    while (rill_test_driver_read(td, "dsl-test-eight-repartition", &rec) == 0) {
        assert_true(rec.partition >= 0 && rec.partition < 8);
        used |= 1 << rec.partition;
    }
    assert_int_equal(used, 0xff); /* 200 keys over 8 partitions: every one used */
    rill_test_driver_destroy(td);
    rill_conf_destroy(conf);
    rill_topology_unref(topo);
}

/* ---- timestamps ---- */

/* Event time from the value ("<ms>:<payload>"); a value without it is invalid (-1). */
static int64_t time_from_value(void *ud, const rill_record_t *rec, int64_t partition_time)
{
    const char *v = rec->value.data;
    if (!v || !strchr(v, ':'))
        return -1;
    return strtoll(v, NULL, 10);
}

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void test_timestamp_extractors(void **state)
{
    char err[256];
    rill_topology_t *topo = rill_topology_new();
    rill_stream_to(rill_stream_from_topic(topo, "in", NULL), "out", NULL);
    rill_conf_t *conf = string_conf();
    rill_test_record_t rec;

    /* A user function: the timestamp comes from the value; a negative one is invalid. */
    rill_conf_set_timestamp_extractor(conf, time_from_value, NULL);
    rill_test_driver_t *td = rill_test_driver_new(topo, conf, 0, err, sizeof err);
    assert_int_equal(rill_test_driver_pipe_str(td, "in", "k", "1234:a", 1), 0);
    assert_int_equal(rill_test_driver_read(td, "out", &rec), 0);
    assert_int_equal(rec.timestamp, 1234);
    assert_int_equal(rill_test_driver_pipe_str(td, "in", "k", "no time", 2), RILL_EINVAL);
    assert_non_null(strstr(rill_test_driver_error(td), "invalid timestamp of the record at "
                                                       "topic 'in' partition 0 offset 1: the "
                                                       "timestamp -1 is negative"));
    rill_test_driver_destroy(td);

    /* A per-source extractor wins over the configured one. */
    rill_topology_t *topo2 = rill_topology_new();
    rill_source_opts_t opts = {.timestamp_fn = time_from_value};
    rill_stream_to(rill_stream_from_topic(topo2, "in", &opts), "out", NULL);
    rill_conf_set_timestamp_extractor(conf, NULL, NULL);
    td = rill_test_driver_new(topo2, conf, 0, err, sizeof err);
    assert_int_equal(rill_test_driver_pipe_str(td, "in", "k", "77:b", 5), 0);
    assert_int_equal(rill_test_driver_read(td, "out", &rec), 0);
    assert_int_equal(rec.timestamp, 77);
    rill_test_driver_destroy(td);
    rill_topology_unref(topo2);

    /* wallclock: the time of processing, whatever the record says. */
    assert_int_equal(
        rill_conf_set(conf, "default.timestamp.extractor", "wallclock", err, sizeof err), 0);
    td = rill_test_driver_new(topo, conf, 0, err, sizeof err);
    int64_t before = now_ms();
    assert_int_equal(rill_test_driver_pipe_str(td, "in", "k", "x", 5), 0);
    int64_t after = now_ms();
    assert_int_equal(rill_test_driver_read(td, "out", &rec), 0);
    assert_true(rec.timestamp >= before && rec.timestamp <= after);
    rill_test_driver_destroy(td);

    /* record (the default): the Kafka record's own timestamp. */
    assert_int_equal(rill_conf_set(conf, "default.timestamp.extractor", "record", err, sizeof err),
                     0);
    td = rill_test_driver_new(topo, conf, 0, err, sizeof err);
    assert_int_equal(rill_test_driver_pipe_str(td, "in", "k", "x", 42), 0);
    assert_int_equal(rill_test_driver_read(td, "out", &rec), 0);
    assert_int_equal(rec.timestamp, 42);
    assert_int_equal(rill_test_driver_pipe_str(td, "in", "k", "x", -5), RILL_EINVAL);
    rill_test_driver_destroy(td);
    rill_conf_destroy(conf);
    rill_topology_unref(topo);
}

/* A user function, an init or a punctuator that returns an error without rill_context_fail
 * fails naming its node, the code and (for a record) the record; a reason given is kept. */
static int fail_quietly(void *ud, rill_context_t *ctx, const rill_record_t *rec, rill_buf_t *out)
{
    return rec->offset == 1 ? -1 : 0;
}
static int init_quietly(rill_context_t *ctx, void *arg, void **state)
{
    return -1;
}
static int init_loudly(rill_context_t *ctx, void *arg, void **state)
{
    return rill_context_fail(ctx, RILL_ECONFIG, "no lookup table at /nowhere");
}
static int punctuate_quietly(rill_context_t *ctx, void *state, int64_t now)
{
    return now >= 10 ? RILL_EIO : 0;
}
static int init_punctuator(rill_context_t *ctx, void *arg, void **state)
{
    return rill_context_schedule(ctx, 10, RILL_PUNCTUATE_STREAM_TIME, punctuate_quietly);
}
static const rill_processor_ops init_quietly_ops = {init_quietly, NULL, NULL};
static const rill_processor_ops init_loudly_ops = {init_loudly, NULL, NULL};
static const rill_processor_ops punctuate_quietly_ops = {init_punctuator, NULL, NULL};

/* Pipes two records through topo and returns the code of the first that failed; the driver's
 * error is copied into err. */
static int pipe_two(rill_topology_t *topo, char *err, size_t size)
{
    rill_conf_t *conf = string_conf();
    rill_test_driver_t *td = rill_test_driver_new(topo, conf, 0, err, size);
    assert_non_null(td);
    int rc = rill_test_driver_pipe_str(td, "in", "k", "v", 1);
    if (!rc)
        rc = rill_test_driver_pipe_str(td, "in", "k", "v", 20);
    snprintf(err, size, "%s", rill_test_driver_error(td));
    rill_test_driver_destroy(td);
    rill_conf_destroy(conf);
    rill_topology_unref(topo);
    return rc;
}

static void expect_in(const char *err, const char *const *needles)
{
    for (; *needles; needles++)
        if (!strstr(err, *needles))
            fail_msg("expected '%s' in '%s'", *needles, err);
}

static void test_unexplained_failures_name_the_node(void **state)
{
    char err[1024];
    rill_topology_t *topo = rill_topology_new();
    rill_stream_t *in = rill_stream_from_topic(topo, "in", NULL);
    rill_stream_to(rill_stream_as(rill_stream_map_values(in, fail_quietly, NULL), "enrich"), "out",
                   NULL);
    assert_int_equal(pipe_two(topo, err, sizeof err), -1);
    expect_in(err, (const char *[]){"node 'enrich'", "returned -1 (RILL_EINVAL",
                                    "without calling rill_context_fail",
                                    "topic 'in' partition 0 offset 1", NULL});

    /* An init that fails is a processor's error, not an out-of-memory, and says which one. */
    topo = rill_topology_new();
    rill_stream_as(rill_stream_process(rill_stream_from_topic(topo, "in", NULL), &init_quietly_ops,
                                       NULL, NULL),
                   "lookup");
    assert_int_equal(pipe_two(topo, err, sizeof err), RILL_EPROCESS);
    expect_in(err, (const char *[]){"node 'lookup'", "init returned -1 (RILL_EINVAL", NULL});

    topo = rill_topology_new();
    rill_stream_as(
        rill_stream_process(rill_stream_from_topic(topo, "in", NULL), &init_loudly_ops, NULL, NULL),
        "lookup");
    assert_int_equal(pipe_two(topo, err, sizeof err), RILL_EPROCESS);
    expect_in(err, (const char *[]){"node 'lookup': no lookup table at /nowhere", NULL});

    topo = rill_topology_new();
    rill_stream_as(rill_stream_process(rill_stream_from_topic(topo, "in", NULL),
                                       &punctuate_quietly_ops, NULL, NULL),
                   "ticker");
    assert_int_equal(pipe_two(topo, err, sizeof err), RILL_EIO);
    expect_in(err,
              (const char *[]){"node 'ticker'", "its punctuator returned -12 (RILL_EIO", NULL});
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_filter_and_filter_not),
        cmocka_unit_test(test_map_map_values_select_key),
        cmocka_unit_test(test_map_swaps_null_value),
        cmocka_unit_test(test_flat_map_and_values),
        cmocka_unit_test(test_peek_foreach_merge),
        cmocka_unit_test(test_split_first_match_wins),
        cmocka_unit_test(test_dynamic_topic_and_partitioner),
        cmocka_unit_test(test_repartition_across_partitions),
        cmocka_unit_test(test_pattern_source),
        cmocka_unit_test(test_validation_errors),
        cmocka_unit_test(test_missing_serde_names_node),
        cmocka_unit_test(test_describe_matches_kafka_streams_shape),
        cmocka_unit_test(test_dot_escapes_names),
        cmocka_unit_test(test_processor_api_punctuators),
        cmocka_unit_test(test_deserialization_fail_and_continue),
        cmocka_unit_test(test_headers_and_metadata_pass_through),
        cmocka_unit_test(test_timestamp_extractors),
        cmocka_unit_test(test_empty_is_not_null),
        cmocka_unit_test(test_headers_read_and_replaced),
        cmocka_unit_test(test_renamed_branch_still_routes),
        cmocka_unit_test(test_ignored_send_failure_still_fails),
        cmocka_unit_test(test_punctuator_jump_is_one_step),
        cmocka_unit_test(test_driver_repartition_partitions),
        cmocka_unit_test(test_unexplained_failures_name_the_node),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
