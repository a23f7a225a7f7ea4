/*
 * rill_stream_dedupe as an app on the embedded cluster (4 partitions a topic), restarted: the
 * memory of the ids outlives the instance. A second instance on an empty state directory
 * restores the dedupe store from its changelog, and the ids sent again after the restart are
 * dropped, under at-least-once and under exactly_once_v2 (transactional stores, the changelog
 * read read_committed). Every id comes out exactly once and the metric counts every duplicate.
 */
#define _GNU_SOURCE /* nftw's FTW_DEPTH | FTW_PHYS */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <rill/app.h>
#include <rill/dsl.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "../common/embedded_app.h"
#include "../common/kafka_util.h"
#include "../common/temp_dir.h"

#define IDS       50 /* sent before the restart, and again after it */
#define NEW_IDS   10 /* sent after it only */
#define BASE_TIME INT64_C(1700000000000)

static char state_dir[64];

/* The id of a value "<id>:<n>": its prefix. */
static int id_of_value(void *ud, rill_context_t *ctx, const rill_record_t *rec, rill_buf_t *out)
{
    (void)ud, (void)ctx;
    const char *v = rec->value.data, *colon = v ? memchr(v, ':', rec->value.len) : NULL;
    *out = colon ? (rill_buf_t){v, (size_t)(colon - v)} : (rill_buf_t){NULL, 0};
    return 0;
}

/* Sends ids [from, to): key "k<i>", value "e<i>:<round>", at BASE_TIME + round * 1000 + i (all
 * within the TTL of an hour). */
static void produce_ids(rill_producer_t *p, int from, int to, int round)
{
    char k[16], v[32];
    for (int i = from; i < to; i++) {
        snprintf(k, sizeof k, "k%d", i);
        snprintf(v, sizeof v, "e%d:%d", i, round);
        assert_int_equal(rill_producer_send(p, "dd-in", -1, rill_buf_str(k), rill_buf_str(v),
                                            BASE_TIME + round * 1000 + i),
                         0);
    }
    assert_int_equal(rill_producer_flush(p, 10000), 0);
}

/* The values of dd-out, as many as fit, and how many there were. */
typedef struct {
    int n;
    char values[2 * (IDS + NEW_IDS)][32];
} outputs_t;

static void add_output(void *ud, const rd_kafka_message_t *m)
{
    outputs_t *out = ud;
    if (out->n < (int)(sizeof out->values / sizeof out->values[0]))
        snprintf(out->values[out->n], 32, "%.*s", (int)m->len, (const char *)m->payload);
    out->n++;
}

/* Reads dd-out to its end (read_uncommitted: the embedded cluster hides no aborted records
 * anyway) and checks that it holds n records, ids 0 .. n - 1, each once, the first IDS from
 * round 0 (the records before the restart, not their resends). */
static void assert_each_id_once(const char *bootstrap, int n)
{
    static outputs_t out;
    out.n = 0;
    assert_int_equal(
        kafka_read_to_end(bootstrap, "read_uncommitted", 4, "dd-out", add_output, &out), n);
    const char(*values)[32] = out.values;
    int seen[IDS + NEW_IDS] = {0};
    for (int m = 0; m < n; m++) {
        int id, round;
        if (sscanf(values[m], "e%d:%d", &id, &round) != 2 || id < 0 || id >= n)
            fail_msg("unexpected output '%s'", values[m]);
        if (seen[id]++ || round != (id < IDS ? 0 : 1))
            fail_msg("output '%s': id %d came out again, or from the wrong round", values[m], id);
    }
}

/* The first instance sees ids 0 .. IDS - 1; the second (the same extra settings, an empty state
 * directory) sees them again and NEW_IDS new ones, and drops every record of an id seen before
 * (the resends, and under exactly-once the first round, which it reads again: reread is how
 * many), so each id comes out once. */
static void run(const char *app_id, rill_dedupe_id_t id, const char *const *settings, int reread)
{
    rill_topology_t *topo = rill_topology_new();
    rill_stream_t *s = rill_stream_dedupe(rill_stream_from_topic(topo, "dd-in", NULL), id,
                                          3600 * 1000, &(rill_materialized_t){.name = "seen"});
    assert_int_equal(rill_stream_to(s, "dd-out", NULL), 0);
    char one[96], two[96], err[512];
    snprintf(one, sizeof one, "%s/%s-one", state_dir, app_id);
    snprintf(two, sizeof two, "%s/%s-two", state_dir, app_id);
    rill_app_t *first = embedded_app_new(topo, app_id, one, settings);
    const char *bootstrap = rill_app_bootstrap_servers(first);
    rill_producer_t *p = rill_producer_new(bootstrap, err, sizeof err);
    assert_non_null(p);
    produce_ids(p, 0, IDS, 0);
    assert_int_equal(rill_app_start(first), 0);
    embedded_wait_metric(first, "records-processed", IDS);
    assert_int_equal(rill_app_metric(first, "duplicates-dropped"), 0);
    assert_int_equal(rill_app_close(first, 30000), 0);

    /* Another instance on an empty state directory (the first's cluster lives until the first
     * is destroyed): its store comes from the changelog. */
    const char *more[16];
    size_t k = 0;
    for (; settings && settings[k]; k++)
        more[k] = settings[k];
    more[k++] = "bootstrap.servers";
    more[k++] = bootstrap;
    more[k] = NULL;
    rill_app_t *second = embedded_app_new(topo, app_id, two, more);
    produce_ids(p, 0, IDS + NEW_IDS, 1);
    assert_int_equal(rill_app_start(second), 0);
    /* Done when every input record is processed: under at-least-once when the commits reach
     * the input's end; under exactly-once (the embedded cluster keeps no transactional commits)
     * when all of the input, the first round included, is. Read after the close, when the
     * counters are final (they keep their values). */
    if (reread)
        embedded_wait_metric(second, "records-processed", reread + IDS + NEW_IDS);
    else
        kafka_wait_committed_at_end(bootstrap, app_id, "dd-in", 4, 60000);
    assert_int_equal(rill_app_close(second, 30000), 0);
    int64_t processed = rill_app_metric(second, "records-processed");
    int64_t dropped = rill_app_metric(second, "duplicates-dropped");
    int64_t restored = rill_app_metric(second, "records-restored");
    assert_int_equal(processed, reread + IDS + NEW_IDS);
    assert_int_equal(dropped, reread + IDS); /* only the new ids passed */
    assert_int_equal(restored, IDS);         /* the changelog: one entry per id */
    assert_each_id_once(bootstrap, IDS + NEW_IDS);
    printf("%s: %d ids; after the restart %lld records processed, %lld dropped as duplicates, "
           "%d new passed; %lld changelog records restored\n",
           app_id, IDS + NEW_IDS, (long long)processed, (long long)dropped, NEW_IDS,
           (long long)restored);
    rill_app_destroy(second);
    rill_producer_destroy(p);
    rill_app_destroy(first);
    rill_topology_unref(topo);
}

/* By key, at-least-once: the first instance committed its offsets at close, so the second reads
 * the resends and the new ids only. */
static void test_restart_restores_from_changelog(void **state)
{
    (void)state;
    run("dd-alo", rill_dedupe_by_key(), NULL, 0);
}

/* By an id in the value, exactly_once_v2: transactional stores, the changelog restored
 * read_committed. The mock cluster keeps no offsets committed in transactions
 * (../shared/FACTS.md), so the second instance reads the first round again too: the restored
 * memory drops it, and still each id comes out once. */
static void test_exactly_once_restart(void **state)
{
    (void)state;
    const char *const eos[] = {"processing.guarantee", "exactly_once_v2", NULL};
    run("dd-eos", rill_dedupe_by_function(id_of_value, NULL), eos, IDS);
}

int main(void)
{
    if (temp_dir_make(state_dir, "dd-it"))
        return 1;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_restart_restores_from_changelog),
        cmocka_unit_test(test_exactly_once_restart),
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    temp_dir_remove(state_dir);
    return rc;
}
