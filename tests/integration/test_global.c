/*
 * Global tables on the embedded cluster: the global thread loads every partition of the global
 * topic before any task processes (a task's first record already sees the whole table), keeps
 * the store current while the app runs (updates and tombstones reach the tasks and interactive
 * queries), and a restart reads only what came after its checkpoint.
 */
#define _GNU_SOURCE /* nftw's FTW_DEPTH | FTW_PHYS */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <rill/app.h>
#include <rill/dsl.h>

#include <librdkafka/rdkafka.h>

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "../common/clock.h"
#include "../common/kafka_util.h"
#include "../common/temp_dir.h"

#define REGIONS 500

static char state_dir[64];

static rill_conf_t *conf_for(const char *app_id, const char *bootstrap)
{
    rill_conf_t *conf = rill_conf_new();
    char err[256];
    assert_int_equal(rill_conf_set(conf, "application.id", app_id, err, sizeof err), 0);
    assert_int_equal(rill_conf_set(conf, "default.key.serde", "string", err, sizeof err), 0);
    assert_int_equal(rill_conf_set(conf, "default.value.serde", "string", err, sizeof err), 0);
    assert_int_equal(rill_conf_set(conf, "commit.interval.ms", "200", err, sizeof err), 0);
    assert_int_equal(rill_conf_set(conf, "state.dir", state_dir, err, sizeof err), 0);
    if (bootstrap) {
        assert_int_equal(rill_conf_set(conf, "bootstrap.servers", bootstrap, err, sizeof err), 0);
        /* The embedded cluster's coordinator waits a session for the members of a group that is
         * up (ARCHITECTURE.md): the shortest one, as the embedded app sets itself. */
        assert_int_equal(
            rill_conf_set(conf, "consumer.session.timeout.ms", "6000", err, sizeof err), 0);
    }
    return conf;
}

/* ---- a processor that checks the global store at its task's first record, and looks each
 * view's region up ---- */

static atomic_int first_records; /* tasks that processed a record */
static atomic_int first_short;   /* of them, those whose first look found the table incomplete */
static atomic_int views;         /* records processed */
static pthread_mutex_t seen_lock = PTHREAD_MUTEX_INITIALIZER;
static char seen_r7[64]; /* the last value a view of region r7 found */

static int lookup_init(rill_context_t *ctx, void *arg, void **state)
{
    *state = rill_context_kv_store(ctx, "regions-store");
    return *state ? 0 : rill_context_fail(ctx, RILL_ENOENT, "no global store");
}

static int lookup_process(rill_context_t *ctx, void *state, const rill_record_t *rec)
{
    rill_kv_store_t *kv = state;
    if (rec->offset == 0) {
        /* The first record of this task (offset 0 of its partition): the table is all there. */
        rill_store_iter_t *it = rill_kv_range(kv, NULL, NULL, false);
        int n = 0;
        rill_buf_t k, v;
        while (it && rill_store_iter_next(it, &k, &v))
            n++;
        rill_store_iter_close(it);
        atomic_fetch_add(&first_records, 1);
        if (n < REGIONS)
            atomic_fetch_add(&first_short, 1);
    }
    rill_buf_t region = {0};
    int rc = rill_kv_get(kv, rec->value, &region, NULL);
    if (rc && rc != RILL_ENOENT)
        return rc;
    if (rec->value.len == 2 && memcmp(rec->value.data, "r7", 2) == 0) {
        pthread_mutex_lock(&seen_lock);
        snprintf(seen_r7, sizeof seen_r7, "%.*s", rc ? 4 : (int)region.len,
                 rc ? "none" : (const char *)region.data);
        pthread_mutex_unlock(&seen_lock);
    }
    atomic_fetch_add(&views, 1);
    rill_record_t out = *rec;
    out.value = rc ? rill_buf_str("none") : region;
    return rill_context_forward(ctx, &out);
}

static const rill_processor_ops lookup_ops = {lookup_init, lookup_process, NULL};

static rill_topology_t *topology(void)
{
    rill_topology_t *topo = rill_topology_new();
    assert_non_null(rill_global_table_from(topo, "regions", NULL,
                                           &(rill_materialized_t){.name = "regions-store"}));
    rill_stream_t *s = rill_stream_from_topic(topo, "views", NULL);
    assert_int_equal(
        rill_stream_to(rill_stream_process(s, &lookup_ops, NULL, NULL), "enriched", NULL), 0);
    return topo;
}

static void produce_regions(rill_producer_t *p, int from, int to, const char *prefix)
{
    for (int i = from; i < to; i++) {
        char k[16], v[32];
        snprintf(k, sizeof k, "r%d", i);
        snprintf(v, sizeof v, "%s%d", prefix, i);
        assert_int_equal(rill_producer_send(p, "regions", -1, rill_buf_str(k), rill_buf_str(v), i),
                         0);
    }
    assert_int_equal(rill_producer_flush(p, 10000), 0);
}

/* ---- restoration, as a restore listener hears it ---- */

static atomic_int loaded;     /* records the global store loaded (on_batch) */
static atomic_long load_from; /* the smallest offset a load started at */
static atomic_int load_ends;  /* partitions whose load ended */

static void on_start(void *ud, const char *store, const char *topic, int32_t partition,
                     int64_t from, int64_t end)
{
    if (strcmp(store, "regions-store") != 0)
        return;
    if (from < atomic_load(&load_from))
        atomic_store(&load_from, from);
}

static void on_batch(void *ud, const char *store, const char *topic, int32_t partition,
                     int64_t next, uint64_t n)
{
    if (strcmp(store, "regions-store") == 0)
        atomic_fetch_add(&loaded, (int)n);
}

static void on_end(void *ud, const char *store, const char *topic, int32_t partition,
                   uint64_t total)
{
    if (strcmp(store, "regions-store") == 0)
        atomic_fetch_add(&load_ends, 1);
}

static const rill_restore_listener_t listener = {on_start, on_batch, on_end, NULL};

static void reset_listener(void)
{
    atomic_store(&loaded, 0);
    atomic_store(&load_from, INT64_MAX);
    atomic_store(&load_ends, 0);
}

static bool count_one(void *ud, rill_buf_t key, rill_buf_t value, int64_t ts)
{
    (*(int *)ud)++;
    return true;
}

static void test_loaded_first_then_kept_current(void **state)
{
    char err[512];
    rill_topology_t *topo = topology();
    rill_app_t *app = rill_app_new(topo, conf_for("global-a", NULL), err, sizeof err);
    assert_non_null(app);
    reset_listener();
    rill_app_set_restore_listener(app, &listener);
    const char *bootstrap = rill_app_bootstrap_servers(app);
    rill_producer_t *p = rill_producer_new(bootstrap, err, sizeof err);
    assert_non_null(p);
    /* The table first, then views on every partition: the views wait for the table. */
    produce_regions(p, 0, REGIONS, "region-");
    for (int i = 0; i < 40; i++) {
        char k[16], v[16];
        snprintf(k, sizeof k, "page%d", i);
        snprintf(v, sizeof v, "r%d", i * 7 % REGIONS);
        assert_int_equal(rill_producer_send(p, "views", -1, rill_buf_str(k), rill_buf_str(v), i),
                         0);
    }
    assert_int_equal(rill_producer_flush(p, 10000), 0);
    assert_int_equal(rill_app_start(app), 0);
    assert_int_equal(rill_app_wait_state(app, RILL_STATE_RUNNING, 30000), 0);
    wait_counter(&views, 40, 30000);
    assert_int_equal(atomic_load(&loaded), REGIONS);
    assert_int_equal(atomic_load(&load_ends), 4); /* every partition of the global topic */
    assert_int_equal(atomic_load(&load_from), 0);
    assert_true(atomic_load(&first_records) >= 1);
    assert_int_equal(atomic_load(&first_short), 0);
    char values[40][32];
    assert_int_equal(kafka_read_all(bootstrap, "enriched", 40, values), 40);
    for (int i = 0; i < 40; i++)
        assert_true(strncmp(values[i], "region-", 7) == 0);

    /* The store answers queries here, for every key. */
    rill_bytes_t out = {0};
    int32_t partition = 0;
    bool local = false;
    assert_int_equal(
        rill_app_query_partition(app, "regions-store", rill_buf_str("r3"), &partition, &local), 0);
    assert_true(local);
    assert_int_equal(partition, -1);
    assert_int_equal(rill_app_query_get(app, "regions-store", rill_buf_str("r3"), &out, NULL), 0);
    assert_int_equal(out.len, strlen("region-3"));
    assert_memory_equal(out.data, "region-3", out.len);
    int n = 0;
    assert_int_equal(rill_app_query_all(app, "regions-store", count_one, &n), 0);
    assert_int_equal(n, REGIONS);

    /* Updates and tombstones made while the app runs reach the tasks and the queries. */
    assert_int_equal(
        rill_producer_send(p, "regions", -1, rill_buf_str("r7"), rill_buf_str("updated"), 1000), 0);
    assert_int_equal(
        rill_producer_send(p, "regions", -1, rill_buf_str("r8"), (rill_buf_t){0}, 1001), 0);
    assert_int_equal(rill_producer_flush(p, 10000), 0);
    bool updated = false;
    for (int i = 0; i < 150 && !updated; i++) {
        assert_int_equal(
            rill_producer_send(p, "views", -1, rill_buf_str("late"), rill_buf_str("r7"), 2000 + i),
            0);
        assert_int_equal(rill_producer_flush(p, 10000), 0);
        sleep_ms(200);
        pthread_mutex_lock(&seen_lock);
        updated = strcmp(seen_r7, "updated") == 0;
        pthread_mutex_unlock(&seen_lock);
    }
    assert_true(updated);
    assert_int_equal(rill_app_query_get(app, "regions-store", rill_buf_str("r7"), &out, NULL), 0);
    assert_memory_equal(out.data, "updated", out.len);
    int rc = 0;
    for (int i = 0; i < 100; i++, sleep_ms(100))
        if ((rc = rill_app_query_get(app, "regions-store", rill_buf_str("r8"), &out, NULL)) ==
            RILL_ENOENT)
            break;
    assert_int_equal(rc, RILL_ENOENT);
    rill_bytes_free(&out);
    assert_int_equal(rill_app_close(app, 10000), 0);
    rill_producer_destroy(p);
    rill_app_destroy(app);
    rill_topology_unref(topo);
}

/* Runs an instance of "global-b" against the cluster at bootstrap until its store holds
 * expect keys; returns how many records its global thread loaded. */
static int run_b(const char *bootstrap, int expect)
{
    char err[512];
    rill_topology_t *topo = topology();
    rill_app_t *app = rill_app_new(topo, conf_for("global-b", bootstrap), err, sizeof err);
    assert_non_null(app);
    reset_listener();
    rill_app_set_restore_listener(app, &listener);
    assert_int_equal(rill_app_start(app), 0);
    assert_int_equal(rill_app_wait_state(app, RILL_STATE_RUNNING, 30000), 0);
    int n = 0;
    assert_int_equal(rill_app_query_all(app, "regions-store", count_one, &n), 0);
    assert_int_equal(n, expect);
    assert_int_equal(rill_app_close(app, 10000), 0);
    rill_app_destroy(app);
    rill_topology_unref(topo);
    return atomic_load(&loaded);
}

static void test_restart_reads_the_tail(void **state)
{
    char err[512];
    /* An app that hosts the embedded cluster; the instances under test reach it by address, so
     * the topics outlive them. */
    rill_topology_t *host_topo = topology();
    rill_app_t *host = rill_app_new(host_topo, conf_for("global-host", NULL), err, sizeof err);
    assert_non_null(host);
    const char *bootstrap = rill_app_bootstrap_servers(host);
    rill_producer_t *p = rill_producer_new(bootstrap, err, sizeof err);
    assert_non_null(p);
    produce_regions(p, 0, REGIONS, "first-");
    assert_int_equal(run_b(bootstrap, REGIONS), REGIONS);
    char path[200];
    snprintf(path, sizeof path, "%s/global-b/global/.checkpoint", state_dir);
    assert_int_equal(access(path, R_OK), 0);
    /* 100 new keys and 50 updates: the restart reads those 150 records only, from where its
     * checkpoint says, and keeps the 500 it had. */
    produce_regions(p, REGIONS, REGIONS + 100, "second-");
    produce_regions(p, 0, 50, "again-");
    assert_int_equal(run_b(bootstrap, REGIONS + 100), 150);
    assert_true(atomic_load(&load_from) > 0);
    /* A checkpoint past the end of its topic (the topic was made again, say) wipes the store,
     * which then loads in full. */
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fprintf(f, "0\n4\nregions 0 99999\nregions 1 99999\nregions 2 99999\nregions 3 99999\n");
    fclose(f);
    assert_int_equal(run_b(bootstrap, REGIONS + 100), REGIONS + 150);
    rill_producer_destroy(p);
    rill_app_destroy(host);
    rill_topology_unref(host_topo);
}

int main(void)
{
    if (temp_dir_make(state_dir, "global-it"))
        return 1;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_loaded_first_then_kept_current),
        cmocka_unit_test(test_restart_reads_the_tail),
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    temp_dir_remove(state_dir);
    return rc;
}
