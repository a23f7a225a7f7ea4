/*
 * The poison corpus (tests/common/poison.h) on the embedded cluster: 1,600 orders and 400
 * numbers, 737 of them bad (all the corpus's kinds but the note over its topic's limit, which
 * the embedded cluster does not enforce), read by an app with the three handlers at continue,
 * a dead letter queue and errors.dead.letter.queue.dropped.records. It stays RUNNING; every
 * good record comes out once, every bad one is in the dead letter queue once with its bytes and
 * headers, each key's sum is right, and the metrics say the same.
 */
#define _GNU_SOURCE /* nftw's FTW_DEPTH | FTW_PHYS */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <rill/app.h>
#include <rill/dsl.h>

#include "../common/embedded_app.h"
#include "../common/kafka_util.h"
#include "../common/poison.h"
#include "../common/temp_dir.h"

static char state_dir[64];

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
    assert_int_equal(rill_app_close(app, 10000), 0);
    poison_check(&p, bootstrap, "embedded");

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
