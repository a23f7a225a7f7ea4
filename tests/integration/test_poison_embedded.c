/*
 * The poison corpus (tests/common/poison.h) on the embedded cluster: 1,600 orders and 400
 * numbers, 737 of them bad (all the corpus's kinds but the note over its topic's limit, which
 * the embedded cluster does not enforce), read by an app with the three handlers at continue,
 * a dead letter queue and errors.dead.letter.queue.dropped.records. It stays RUNNING; every
 * good record comes out once, every bad one is in the dead letter queue once with its bytes and
 * headers, each key's sum is right, and the metrics say the same. Then the fix (the map stops
 * failing marked orders) and a replay of the processing failures (rill dlq replay's C API): the
 * marked orders come out once each, the wrong shapes fail into the queue again, and in +
 * replayed = out; a second replay refuses the ones that failed after a replay.
 */
#define _GNU_SOURCE /* nftw's FTW_DEPTH | FTW_PHYS */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <rill/admin.h>
#include <rill/app.h>
#include <rill/dsl.h>

#include "../common/embedded_app.h"
#include "../common/kafka_util.h"
#include "../common/poison.h"
#include "../common/temp_dir.h"

static char state_dir[64];

static void poison_counted(void *ud, const rd_kafka_message_t *m)
{
    (void)ud, (void)m;
}

static void test_the_poison_corpus(void **state)
{
    (void)state;
    poison_t p;
    poison_make(&p, "pe", 1600, 400, 1000, false);
    rill_topology_t *topo = poison_topology(&p);
    rill_app_t *app = embedded_app_new(topo, p.app_id, state_dir, poison_settings(&p));
    const char *bootstrap = rill_app_bootstrap_servers(app);
    /* (The embedded cluster makes a topic on first use, with POISON_PARTITIONS partitions.) */
    rd_kafka_t *prod = kafka_admin(bootstrap); /* a producer client */
    assert_non_null(prod);
    assert_int_equal(poison_send(&p, prod, 0, p.n), 0);
    assert_int_equal(rill_app_start(app), 0);
    assert_int_equal(rill_app_wait_state(app, RILL_STATE_RUNNING, 30000), 0);

    /* The app has read everything once its commits reach the ends of both inputs. */
    kafka_wait_committed_at_end(bootstrap, p.app_id, p.orders, POISON_PARTITIONS, 60000);
    kafka_wait_committed_at_end(bootstrap, p.app_id, p.nums, POISON_PARTITIONS, 60000);
    assert_int_equal(rill_app_state(app), RILL_STATE_RUNNING);
    assert_int_equal(rill_app_metric(app, "dead-letters"), p.bad);
    assert_int_equal(rill_app_metric(app, "records-skipped"), p.bad);
    poison_check(&p, bootstrap, "embedded");

    /* The fix: the map no longer fails marked orders. The processing failures go back to their
     * topic (rill dlq replay's C API), once: the marked orders come out, each once; the orders
     * of the wrong shape fail again, into the dead letter queue again. */
    int marked = 0, shaped = 0, null_keys = 0;
    for (int i = 0; i < p.norders; i++) {
        marked += p.recs[i].kind == POISON_MARKER;
        shaped += p.recs[i].kind == POISON_WRONG_SHAPE;
        null_keys += p.recs[i].kind == POISON_NULL_KEY;
    }
    atomic_store(&poison_marker_fixed, true);
    char err[512];
    rill_admin_t *admin = rill_admin_new(bootstrap, err, sizeof err);
    assert_non_null(admin);
    rill_dlq_filter_t filter = {.topic = p.dlq,
                                .partition = -1,
                                .from_offset = -1,
                                .to_offset = -1,
                                .error_class = "rill.ProcessingError",
                                .since_ms = -1};
    rill_dlq_replay_result_t res;
    assert_int_equal(rill_dlq_replay(admin, &filter, 1, false, NULL, NULL, &res, err, sizeof err),
                     0);
    assert_int_equal(res.replayed, marked + shaped);
    kafka_wait_committed_at_end(bootstrap, p.app_id, p.orders, POISON_PARTITIONS, 60000);
    int amounts = kafka_read_to_end(bootstrap, "read_uncommitted", POISON_PARTITIONS, p.amounts,
                                    poison_counted, NULL);
    int dead = kafka_read_to_end(bootstrap, "read_uncommitted", POISON_PARTITIONS, p.dlq,
                                 poison_counted, NULL);
    /* Each record, read or replayed, is in one place: an amount, a number or a dead letter (a
     * null key in two: its amount, and the sum's dead letter). */
    int out = amounts + p.good_nums + dead - null_keys;
    printf("  replayed %lld processing failures after the fix: amounts %d -> %d, dead letters %d "
           "-> %d; in %d + replayed %lld = out %d\n",
           (long long)res.replayed, p.good_orders, amounts, p.bad, dead, p.n,
           (long long)res.replayed, out);
    assert_int_equal(p.n + res.replayed, out);
    assert_int_equal(amounts, p.good_orders + marked);
    assert_int_equal(dead, p.bad + shaped);
    /* The wrong shapes' new dead letters carry their replay count (1): a second replay at
     * --max-replays 1 refuses them, so a record that keeps failing does not loop. */
    assert_int_equal(rill_dlq_replay(admin, &filter, 1, true, NULL, NULL, &res, err, sizeof err),
                     0);
    assert_int_equal(res.refused, shaped);
    rill_admin_destroy(admin);
    assert_int_equal(rill_app_close(app, 10000), 0);

    rd_kafka_destroy(prod);
    rill_app_destroy(app);
    rill_topology_unref(topo);
    poison_free(&p);
}

int main(void)
{
    if (temp_dir_make(state_dir, "poison-it"))
        return 1;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_the_poison_corpus),
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    temp_dir_remove(state_dir);
    return rc;
}
