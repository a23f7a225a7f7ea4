/*
 * Out of memory, everywhere: fail the Nth allocation Rill makes, for every N, while building a
 * topology with the DSL, building it, creating a test driver and running records through a
 * filter, a map, a split and a repartition; and through a global table read by a stream. Every run
 * must end cleanly (an error code, never a crash), and under valgrind or LeakSanitizer nothing may
 * leak.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <rill/dsl.h>
#include <rill/test_driver.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../common/oom_alloc.h"

static bool keep(void *ud, const rill_record_t *rec)
{
    return rec->value.len > 1;
}

static int upper(void *ud, rill_context_t *ctx, const rill_record_t *rec, rill_buf_t *out)
{
    *out = rill_arena_printf(rill_context_arena(ctx), "%.*s!", (int)rec->value.len,
                             (const char *)rec->value.data);
    return out->data ? 0 : rill_context_fail(ctx, RILL_ENOMEM, "arena");
}

static bool short_value(void *ud, const rill_record_t *rec)
{
    return rec->value.len < 5;
}

/* What a scenario adds to the topology, and what it pipes (0, or the first error). */
typedef struct {
    const char *app_id, *store; /* store: default.dsl.store, NULL for the default */
    void (*build)(rill_topology_t *topo);
    int (*drive)(rill_test_driver_t *td);
} scenario_t;

/* Runs one whole scenario; returns 0 when everything worked, a negative code when something
 * failed cleanly. */
static int run(const scenario_t *sc)
{
    char err[512];
    int rc = RILL_ENOMEM;
    rill_conf_t *conf = rill_conf_new();
    rill_topology_t *topo = rill_topology_new();
    rill_test_driver_t *td = NULL;
    if (!conf || !topo)
        goto out;
    if (rill_conf_set(conf, "application.id", sc->app_id, err, sizeof err) ||
        rill_conf_set(conf, "default.key.serde", "string", err, sizeof err) ||
        rill_conf_set(conf, "default.value.serde", "string", err, sizeof err) ||
        (sc->store && rill_conf_set(conf, "default.dsl.store", sc->store, err, sizeof err)))
        goto out;
    sc->build(topo);
    if ((rc = rill_topology_build(topo, err, sizeof err)))
        goto out;
    char *text = rill_topology_describe(topo);
    rill_free(text);
    td = rill_test_driver_new(topo, conf, 0, err, sizeof err);
    rc = td ? sc->drive(td) : RILL_ENOMEM;
out:
    rill_test_driver_destroy(td);
    rill_topology_unref(topo);
    rill_conf_destroy(conf);
    return rc;
}

/* A filter, a map, a split and a repartition. */
static void build_stateless(rill_topology_t *topo)
{
    rill_stream_t *s = rill_stream_from_topic(topo, "in", NULL);
    rill_stream_t *m = rill_stream_map_values(rill_stream_filter(s, keep, NULL), upper, NULL);
    rill_split_t *split = rill_stream_split(m, "len-");
    rill_stream_to(rill_split_branch(split, "short", short_value, NULL), "short", NULL);
    rill_stream_t *rest = rill_split_default(split, "long");
    rill_stream_to(rill_stream_repartition(rest, "long", 2, NULL), "long", NULL);
}

static int drive_stateless(rill_test_driver_t *td)
{
    int rc = 0;
    const char *values[] = {"a", "bb", "ccccccc", "dd", "eeeeeeeeee"};
    for (int i = 0; i < 5 && rc == 0; i++)
        rc = rill_test_driver_pipe_str(td, "in", values[i], values[i], i);
    if (rc == 0 &&
        (rill_test_driver_unread(td, "short") != 2 || rill_test_driver_unread(td, "long") != 2))
        fail_msg("a run that reported success lost records");
    return rc;
}

/* Looks each record's value up in the global store "g" and forwards what it found. */
static int lookup_init(rill_context_t *ctx, void *arg, void **state)
{
    *state = rill_context_kv_store(ctx, "g");
    return *state ? 0 : rill_context_fail(ctx, RILL_ENOENT, "no store");
}

static int lookup_process(rill_context_t *ctx, void *state, const rill_record_t *rec)
{
    rill_record_t out = *rec;
    int rc = rill_kv_get(state, rec->value, &out.value, NULL);
    if (rc == RILL_ENOENT)
        out.value = rill_buf_str("none");
    else if (rc)
        return rc;
    return rill_context_forward(ctx, &out);
}

static const rill_processor_ops lookup_ops = {lookup_init, lookup_process, NULL};

/* A global table and a stream that reads it. */
static void build_global(rill_topology_t *topo)
{
    rill_global_table_from(topo, "regions", NULL, &(rill_materialized_t){.name = "g"});
    rill_stream_t *s = rill_stream_from_topic(topo, "in", NULL);
    rill_stream_to(rill_stream_process(s, &lookup_ops, NULL, NULL), "out", NULL);
}

static int drive_global(rill_test_driver_t *td)
{
    int rc = rill_test_driver_pipe_str(td, "regions", "a", "eu", 0);
    if (!rc)
        rc = rill_test_driver_pipe_str(td, "in", "x", "a", 1);
    if (!rc)
        rc = rill_test_driver_pipe_str(td, "in", "y", "b", 2);
    if (rc == 0 && rill_test_driver_unread(td, "out") != 2)
        fail_msg("a run that reported success lost records");
    return rc;
}

/* A foreign-key join: the right table's key after the value's '|'. */
static int after_bar(void *ud, rill_context_t *ctx, const rill_record_t *rec, rill_buf_t *out)
{
    const char *bar = rec->value.data ? memchr(rec->value.data, '|', rec->value.len) : NULL;
    *out = bar ? (rill_buf_t){bar + 1, rec->value.len - (size_t)(bar + 1 - (char *)rec->value.data)}
               : (rill_buf_t){NULL, 0};
    return 0;
}

static int right_only(void *ud, rill_context_t *ctx, rill_buf_t key, rill_buf_t left,
                      rill_buf_t right, rill_buf_t *out)
{
    *out = right;
    return 0;
}

static void build_fk_join(rill_topology_t *topo)
{
    rill_table_t *left = rill_table_from(topo, "left", NULL, NULL);
    rill_table_t *right = rill_table_from(topo, "right", NULL, NULL);
    rill_table_t *joined = rill_table_fk_join(left, right, after_bar, NULL, right_only, NULL, NULL);
    rill_stream_to(rill_table_to_stream(joined), "out", NULL);
}

static int drive_fk_join(rill_test_driver_t *td)
{
    int rc = rill_test_driver_pipe_str(td, "right", "r1", "eu", 0);
    if (!rc)
        rc = rill_test_driver_pipe_str(td, "left", "a", "x|r1", 1);
    if (!rc)
        rc = rill_test_driver_pipe_str(td, "right", "r1", "us", 2);
    if (rc == 0 && rill_test_driver_unread(td, "out") != 2)
        fail_msg("a run that reported success lost records");
    return rc;
}

static void run_failing(const scenario_t *sc)
{
    rill_set_allocator(oom_malloc, oom_realloc, free);
    long n;
    for (n = 0;; n++) {
        countdown = n;
        failures = 0;
        int rc = run(sc);
        if (failures == 0) {
            assert_int_equal(rc, 0); /* no allocation failed: everything must have worked */
            break;
        }
        assert_true(rc != 0 || failures > 0);
    }
    countdown = -1;
    rill_set_allocator(NULL, NULL, NULL);
    printf("out of memory at each of the %ld allocations of the scenario: all clean\n", n);
    assert_true(n > 20);
}

static void test_every_allocation_may_fail(void **state)
{
    run_failing(&(scenario_t){"oom", NULL, build_stateless, drive_stateless});
}

static void test_every_allocation_may_fail_global(void **state)
{
    /* In memory: RocksDB's own allocations do not go through the hook. */
    run_failing(&(scenario_t){"oom-global", "in_memory", build_global, drive_global});
}

static void test_every_allocation_may_fail_fk_join(void **state)
{
    run_failing(&(scenario_t){"oom-fk", "in_memory", build_fk_join, drive_fk_join});
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_every_allocation_may_fail),
        cmocka_unit_test(test_every_allocation_may_fail_global),
        cmocka_unit_test(test_every_allocation_may_fail_fk_join),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
