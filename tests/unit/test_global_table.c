/*
 * Global tables and global stores through the test driver and on their own: a processor of any
 * task reading a global store (every partition of its topic, whatever the task's partition),
 * updates and tombstones arriving at once, null keys skipped, writes refused; the names Kafka
 * Streams gives a global table's parts, describe() and the DOT output; the topology's checks;
 * and the global stores' checkpoint (a reopened set reads only the tail).
 *
 * The reference for names and the description is Kafka Streams' StreamsBuilder.globalTable()
 * and TopologyDescription (InternalTopologyBuilder.GlobalStore.toString()).
 */
#define _GNU_SOURCE /* nftw's FTW_DEPTH | FTW_PHYS */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <rill/dsl.h>
#include <rill/test_driver.h>

#include "operators/task.h"

#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static char state_dir[64]; /* a mkdtemp directory under /tmp, removed by the group teardown */

static int rm_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
    return remove(path);
}

static int group_setup(void **state)
{
    snprintf(state_dir, sizeof state_dir, "/tmp/rill-global-XXXXXX");
    return mkdtemp(state_dir) ? 0 : -1;
}

static int group_teardown(void **state)
{
    return nftw(state_dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

static rill_conf_t *conf_new(const char *default_store)
{
    rill_conf_t *conf = rill_conf_new();
    char err[256];
    assert_non_null(conf);
    assert_int_equal(rill_conf_set(conf, "application.id", "global-test", err, sizeof err), 0);
    assert_int_equal(rill_conf_set(conf, "state.dir", state_dir, err, sizeof err), 0);
    assert_int_equal(rill_conf_set(conf, "default.key.serde", "string", err, sizeof err), 0);
    assert_int_equal(rill_conf_set(conf, "default.value.serde", "string", err, sizeof err), 0);
    if (default_store)
        assert_int_equal(rill_conf_set(conf, "default.dsl.store", default_store, err, sizeof err),
                         0);
    return conf;
}

/* ---- a processor that looks each view's user up in the global table ---------------------- */

typedef struct {
    const char *store;
    bool put; /* try to write the global store too */
} lookup_arg_t;

typedef struct {
    rill_kv_store_t *kv;
    bool put;
} lookup_state_t;

static int lookup_init(rill_context_t *ctx, void *arg, void **state)
{
    const lookup_arg_t *a = arg;
    lookup_state_t *s = rill_malloc(sizeof *s);
    if (!s)
        return RILL_ENOMEM;
    s->kv = rill_context_kv_store(ctx, a->store);
    s->put = a->put;
    *state = s;
    return s->kv ? 0 : rill_context_fail(ctx, RILL_ENOENT, "no store '%s'", a->store);
}

/* Forwards "<value>@<region>" (or "<value>@none") keyed by the record's key. */
static int lookup_process(rill_context_t *ctx, void *state, const rill_record_t *rec)
{
    lookup_state_t *s = state;
    if (s->put)
        return rill_kv_put(s->kv, rec->key, rec->value, rec->timestamp);
    rill_buf_t region;
    int64_t ts;
    int rc = rill_kv_get(s->kv, rec->value, &region, &ts);
    if (rc && rc != RILL_ENOENT)
        return rc;
    char *out = rill_arena_alloc(rill_context_arena(ctx), 256);
    if (!out)
        return RILL_ENOMEM;
    int n = snprintf(out, 256, "%.*s@%.*s/%d", (int)rec->value.len, (const char *)rec->value.data,
                     rc ? 4 : (int)region.len, rc ? "none" : (const char *)region.data,
                     rill_context_partition(ctx));
    rill_record_t fwd = *rec;
    fwd.value = (rill_buf_t){out, (size_t)n};
    return rill_context_forward(ctx, &fwd);
}

static void lookup_close(rill_context_t *ctx, void *state)
{
    rill_free(state);
}

static const rill_processor_ops lookup_ops = {lookup_init, lookup_process, lookup_close};

/* users (a global table) and views (a stream: key page, value user) -> out. */
static rill_topology_t *lookup_topology(const rill_materialized_t *m, lookup_arg_t *arg)
{
    rill_topology_t *topo = rill_topology_new();
    assert_non_null(topo);
    rill_global_table_t *gt = rill_global_table_from(topo, "users", NULL, m);
    assert_non_null(gt);
    arg->store = rill_global_table_store_name(gt);
    rill_stream_t *views = rill_stream_from_topic(topo, "views", NULL);
    rill_stream_t *joined = rill_stream_process(views, &lookup_ops, arg, NULL);
    assert_int_equal(rill_stream_to(joined, "out", NULL), 0);
    return topo;
}

static void expect_out(rill_test_driver_t *td, const char *key, const char *value)
{
    rill_test_record_t r;
    assert_int_equal(rill_test_driver_read(td, "out", &r), 0);
    assert_int_equal(r.key.len, strlen(key));
    assert_memory_equal(r.key.data, key, r.key.len);
    char got[256];
    snprintf(got, sizeof got, "%.*s", (int)r.value.len, (const char *)r.value.data);
    assert_string_equal(got, value);
}

static void run_lookup(const char *default_store)
{
    lookup_arg_t arg = {0};
    rill_topology_t *topo = lookup_topology(NULL, &arg);
    rill_conf_t *conf = conf_new(default_store);
    char err[512];
    rill_test_driver_t *td = rill_test_driver_new(topo, conf, 0, err, sizeof err);
    assert_non_null(td);
    /* The global topic has 3 partitions, the stream 4: every task sees every user. */
    assert_int_equal(rill_test_driver_set_partitions(td, "users", 3), 0);
    assert_int_equal(rill_test_driver_set_partitions(td, "views", 4), 0);
    /* A table: {input topic, key, value (NULL: tombstone), then the expected output of the
     * views that follow}. */
    assert_int_equal(rill_test_driver_pipe_str(td, "users", "alice", "eu", 1), 0);
    assert_int_equal(rill_test_driver_pipe_str(td, "users", "bob", "us", 2), 0);
    assert_int_equal(rill_test_driver_pipe_str(td, "users", "carol", "asia", 3), 0);
    assert_int_equal(
        rill_test_driver_pipe(td, "views", 0, rill_buf_str("home"), rill_buf_str("alice"), 10), 0);
    assert_int_equal(
        rill_test_driver_pipe(td, "views", 3, rill_buf_str("cart"), rill_buf_str("bob"), 11), 0);
    assert_int_equal(
        rill_test_driver_pipe(td, "views", 2, rill_buf_str("home"), rill_buf_str("dave"), 12), 0);
    expect_out(td, "home", "alice@eu/0");
    expect_out(td, "cart", "bob@us/3");
    expect_out(td, "home", "dave@none/2");
    /* An update, a tombstone and a record without a key, each there for the next record. */
    assert_int_equal(rill_test_driver_pipe_str(td, "users", "alice", "africa", 20), 0);
    assert_int_equal(rill_test_driver_pipe_str(td, "users", "bob", NULL, 21), 0);
    assert_int_equal(
        rill_test_driver_pipe(td, "users", 1, (rill_buf_t){NULL, 0}, rill_buf_str("lost"), 22), 0);
    assert_int_equal(
        rill_test_driver_pipe(td, "views", 1, rill_buf_str("a"), rill_buf_str("alice"), 30), 0);
    assert_int_equal(
        rill_test_driver_pipe(td, "views", 1, rill_buf_str("b"), rill_buf_str("bob"), 31), 0);
    expect_out(td, "a", "alice@africa/1");
    expect_out(td, "b", "bob@none/1");
    assert_int_equal(rill_test_driver_unread(td, "out"), 0);
    /* The driver shows the global store for any partition: stored values carry the record's
     * timestamp; the tombstone deleted bob and the keyless record went nowhere. */
    rill_store_t *s0 = rill_test_driver_kv_store(td, arg.store, 0);
    assert_non_null(s0);
    assert_ptr_equal(rill_test_driver_kv_store(td, arg.store, 3), s0);
    rill_buf_t stored, value;
    int64_t ts;
    assert_int_equal(rill_store_get(s0, rill_buf_str("alice"), &stored), 0);
    assert_int_equal(rill_stored_split(stored, &value, &ts), 0);
    assert_int_equal(value.len, 6);
    assert_memory_equal(value.data, "africa", 6);
    assert_int_equal(ts, 20);
    assert_int_equal(rill_store_get(s0, rill_buf_str("bob"), &stored), RILL_ENOENT);
    assert_int_equal(rill_store_approx_count(s0) <= 3, true);
    rill_store_iter_t *it = rill_store_range(s0, NULL, NULL, false);
    int n = 0;
    rill_buf_t k, v;
    while (rill_store_iter_next(it, &k, &v))
        n++;
    rill_store_iter_close(it);
    assert_int_equal(n, 2); /* alice, carol */
    /* Tasks processed only the views. */
    assert_int_equal(rill_test_driver_metric(td, "records-processed"), 5);
    rill_test_driver_destroy(td);
    rill_conf_destroy(conf);
    rill_topology_unref(topo);
}

static void test_lookup_rocksdb(void **state)
{
    run_lookup(NULL);
}

static void test_lookup_in_memory(void **state)
{
    run_lookup("in_memory");
}

/* A task's write to a global store fails the record, naming the store. */
static void test_put_refused(void **state)
{
    lookup_arg_t arg = {.put = true};
    rill_topology_t *topo = lookup_topology(&(rill_materialized_t){.name = "users-store"}, &arg);
    assert_string_equal(arg.store, "users-store");
    rill_conf_t *conf = conf_new(NULL);
    char err[512];
    rill_test_driver_t *td = rill_test_driver_new(topo, conf, 0, err, sizeof err);
    assert_non_null(td);
    assert_int_equal(rill_test_driver_pipe_str(td, "views", "home", "alice", 1), RILL_EINVAL);
    const char *why = rill_test_driver_error(td);
    assert_non_null(strstr(why, "'users-store'"));
    assert_non_null(strstr(why, "global store, read-only"));
    assert_int_equal(rill_store_get(rill_test_driver_kv_store(td, "users-store", 0),
                                    rill_buf_str("home"), &(rill_buf_t){0}),
                     RILL_ENOENT);
    rill_test_driver_destroy(td);
    rill_conf_destroy(conf);
    rill_topology_unref(topo);
}

/* What a sink writes to a global table's topic goes into the store too, before the next record
 * (Kafka Streams' TopologyTestDriver does the same). */
static void test_sink_feeds_global(void **state)
{
    lookup_arg_t arg = {0};
    rill_topology_t *topo = lookup_topology(NULL, &arg);
    assert_int_equal(rill_stream_to(rill_stream_from_topic(topo, "signups", NULL), "users", NULL),
                     0);
    rill_conf_t *conf = conf_new("in_memory");
    char err[512];
    rill_test_driver_t *td = rill_test_driver_new(topo, conf, 0, err, sizeof err);
    assert_non_null(td);
    assert_int_equal(rill_test_driver_pipe_str(td, "signups", "erin", "oceania", 1), 0);
    assert_int_equal(rill_test_driver_pipe_str(td, "views", "home", "erin", 2), 0);
    expect_out(td, "home", "erin@oceania/0");
    assert_int_equal(rill_test_driver_unread(td, "users"), 1); /* and it is output as well */
    rill_test_driver_destroy(td);
    rill_conf_destroy(conf);
    rill_topology_unref(topo);
}

/* Names and the description, as Kafka Streams 3.9 prints them for
 * builder.globalTable("users"); builder.stream("views").process(...).to("out"): the generated
 * store name comes first, and the global store's sub-topology is numbered among the others. */
static void test_describe(void **state)
{
    lookup_arg_t arg = {0};
    rill_topology_t *topo = lookup_topology(NULL, &arg);
    assert_string_equal(arg.store, "users-STATE-STORE-0000000000");
    char err[256];
    assert_int_equal(rill_topology_build(topo, err, sizeof err), 0);
    char *d = rill_topology_describe(topo);
    assert_non_null(d);
    assert_string_equal(d, "Topologies:\n"
                           "   Sub-topology: 0 for global store (will not generate tasks)\n"
                           "    Source: KSTREAM-SOURCE-0000000001 (topics: [users])\n"
                           "      --> KTABLE-SOURCE-0000000002\n"
                           "    Processor: KTABLE-SOURCE-0000000002 (stores: "
                           "[users-STATE-STORE-0000000000])\n"
                           "      --> none\n"
                           "      <-- KSTREAM-SOURCE-0000000001\n"
                           "   Sub-topology: 1\n"
                           "    Source: KSTREAM-SOURCE-0000000003 (topics: [views])\n"
                           "      --> KSTREAM-PROCESSOR-0000000004\n"
                           "    Processor: KSTREAM-PROCESSOR-0000000004 (stores: [])\n"
                           "      --> KSTREAM-SINK-0000000005\n"
                           "      <-- KSTREAM-SOURCE-0000000003\n"
                           "    Sink: KSTREAM-SINK-0000000005 (topic: out)\n"
                           "      <-- KSTREAM-PROCESSOR-0000000004\n"
                           "\n");
    rill_free(d);
    char *dot = rill_topology_to_dot(topo);
    assert_non_null(dot);
    assert_non_null(strstr(dot, "label=\"Sub-topology 0 (global store)\""));
    assert_non_null(strstr(dot, "\"store:users-STATE-STORE-0000000000\" [shape=cylinder"));
    assert_non_null(strstr(dot, "\"KTABLE-SOURCE-0000000002\" -> "
                                "\"store:users-STATE-STORE-0000000000\""));
    assert_non_null(strstr(dot, "\"topic:users\" -> \"KSTREAM-SOURCE-0000000001\""));
    rill_free(dot);
    /* The global store is queryable, whatever its name. */
    int k = rill_topology_find_store(topo, arg.store);
    assert_true(k >= 0);
    const rill_store_spec_t *spec = rill_topology_store(topo, k, NULL);
    assert_false(spec->internal);
    assert_true(spec->no_logging);
    assert_true(rill__topology_store_global(topo, k));
    rill_topology_unref(topo);
}

static int noop_process(rill_context_t *ctx, void *state, const rill_record_t *rec)
{
    return 0;
}
static const rill_processor_ops noop_ops = {NULL, noop_process, NULL};

/* What the topology refuses, naming the culprit. */
static void test_checks(void **state)
{
    char err[512];
    /* A node under a global store's nodes. */
    rill_topology_t *topo = rill_topology_new();
    rill_global_table_from(topo, "users", NULL, &(rill_materialized_t){.name = "u"});
    const char *parents[] = {"KTABLE-SOURCE-0000000001", NULL};
    assert_true(rill_topology_add_processor(topo, "child", &noop_ops, NULL, NULL, parents) >= 0);
    assert_int_equal(rill_topology_build(topo, err, sizeof err), RILL_ETOPOLOGY);
    assert_non_null(strstr(err, "node 'child' has 'KTABLE-SOURCE-0000000001', a node of a global "
                                "store"));
    rill_topology_unref(topo);
    /* A window store cannot be global. */
    topo = rill_topology_new();
    rill_store_spec_t ws = {.name = "w", .type = RILL_STORE_WINDOW, .retention_ms = 1000};
    assert_int_equal(rill_topology_add_global_store(topo, &ws, "src", "t", NULL, "proc"),
                     RILL_ETOPOLOGY);
    assert_int_equal(rill_topology_build(topo, err, sizeof err), RILL_ETOPOLOGY);
    assert_non_null(strstr(err, "global store 'w' must be a key-value store"));
    rill_topology_unref(topo);
    /* A topic is read by one source: a stream and a global table cannot share it. */
    topo = rill_topology_new();
    rill_stream_from_topic(topo, "users", NULL);
    assert_null(rill_global_table_from(topo, "users", NULL, NULL));
    assert_int_equal(rill_topology_build(topo, err, sizeof err), RILL_ETOPOLOGY);
    assert_non_null(strstr(err, "topic 'users' is already read by source"));
    rill_topology_unref(topo);
    /* Connecting a processor to a global store is allowed (it reads it anyway) and does not
     * join the two sub-topologies. */
    topo = rill_topology_new();
    rill_global_table_t *gt =
        rill_global_table_from(topo, "users", NULL, &(rill_materialized_t){.name = "u"});
    rill_stream_t *s =
        rill_stream_process(rill_stream_from_topic(topo, "views", NULL), &noop_ops, NULL, NULL);
    assert_int_equal(rill_topology_connect_store(topo, "u", rill_stream_name(s)), 0);
    assert_int_equal(rill_topology_build(topo, err, sizeof err), 0);
    assert_int_equal(rill__topology_subtopology_count(topo), 2);
    int st = -1;
    assert_non_null(rill_topology_store(topo, rill_topology_find_store(topo, "u"), &st));
    assert_int_equal(st, 0);
    assert_string_equal(rill_global_table_store_name(gt), "u");
    /* The global topic is no task's source. */
    int sst, source;
    assert_int_equal(rill__topology_find_source(topo, "app", "users", &sst, &source), RILL_ENOENT);
    assert_int_equal(rill__topology_find_source(topo, "app", "views", &sst, &source), 0);
    assert_int_equal(sst, 1);
    rill_topology_unref(topo);
}

/* ---- the global stores' checkpoint --------------------------------------------------------- */

static void apply_one(rill_global_t *g, int32_t p, int64_t offset, const char *key,
                      const char *value)
{
    rill_record_t r = {.key = rill_buf_str(key),
                       .value = rill_buf_str(value),
                       .timestamp = 100 + offset,
                       .topic = "users",
                       .partition = p,
                       .offset = offset};
    assert_int_equal(rill__global_apply(g, 0, &r, 1), 0);
}

static void test_checkpoint(void **state)
{
    rill_topology_t *topo = rill_topology_new();
    rill_global_table_from(topo, "users", NULL, &(rill_materialized_t){.name = "u"});
    char err[512], dir[128];
    assert_int_equal(rill_topology_build(topo, err, sizeof err), 0);
    snprintf(dir, sizeof dir, "%s/checkpoint", state_dir);
    rill_store_env_t *senv = rill_store_env_new(16 << 20, err, sizeof err);
    assert_non_null(senv);
    rill_task_env_t env = {.state_dir = dir, .store_env = senv};
    rill_global_t *g = rill__global_open(topo, &env, err, sizeof err);
    assert_non_null(g);
    assert_int_equal(rill__global_count(g), 1);
    assert_string_equal(rill__global_topic(g, 0), "users");
    assert_string_equal(rill__global_name(g, 0), "u");
    assert_int_equal(rill__global_find_topic(g, "users"), 0);
    assert_int_equal(rill__global_find_topic(g, "views"), -1);
    assert_int_equal(rill__global_offset(g, 0, 0), -1);
    /* A second owner of the directory is refused while the first has it. */
    assert_null(rill__global_open(topo, &env, err, sizeof err));
    assert_non_null(strstr(err, "in use"));
    apply_one(g, 0, 0, "a", "1");
    apply_one(g, 0, 1, "b", "2");
    apply_one(g, 2, 7, "c", "3");
    assert_int_equal(rill__global_writes(g), 3);
    assert_int_equal(rill__global_checkpoint(g), 0);
    assert_int_equal(rill__global_writes(g), 0);
    rill__global_close(g);
    /* Reopened: the stores hold what they held, and each partition resumes after its last
     * record; a partition never read starts from its beginning. */
    g = rill__global_open(topo, &env, err, sizeof err);
    assert_non_null(g);
    assert_int_equal(rill__global_offset(g, 0, 0), 2);
    assert_int_equal(rill__global_offset(g, 0, 1), -1);
    assert_int_equal(rill__global_offset(g, 0, 2), 8);
    rill_bytes_t out = {0};
    assert_int_equal(rill_store_get_copy(rill__global_store(g, "u"), rill_buf_str("c"), &out), 0);
    rill_buf_t value;
    int64_t ts;
    assert_int_equal(rill_stored_split((rill_buf_t){out.data, out.len}, &value, &ts), 0);
    assert_int_equal(ts, 107);
    assert_memory_equal(value.data, "3", 1);
    /* A reset (a checkpoint outside the topic) empties the store and forgets the offsets. */
    assert_int_equal(rill__global_reset(g, 0), 0);
    assert_int_equal(rill__global_offset(g, 0, 0), -1);
    assert_int_equal(rill_store_get_copy(rill__global_store(g, "u"), rill_buf_str("c"), &out),
                     RILL_ENOENT);
    rill__global_close(g);
    /* A corrupt checkpoint loads everything again, from an empty store. */
    char path[256];
    snprintf(path, sizeof path, "%s/global/.checkpoint", dir);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs("0\n2\nusers 0 5\n", f);
    fclose(f);
    g = rill__global_open(topo, &env, err, sizeof err);
    assert_non_null(g);
    assert_int_equal(rill__global_offset(g, 0, 0), -1);
    rill__global_close(g);
    rill_bytes_free(&out);
    rill_store_env_destroy(senv);
    rill_topology_unref(topo);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_lookup_rocksdb),
        cmocka_unit_test(test_lookup_in_memory),
        cmocka_unit_test(test_put_refused),
        cmocka_unit_test(test_describe),
        cmocka_unit_test(test_checks),
        cmocka_unit_test(test_checkpoint),
        cmocka_unit_test(test_sink_feeds_global),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
