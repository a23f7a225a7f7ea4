/*
 * The poison corpus (tests/common/poison.h) on a real Apache Kafka broker (RILL_TEST_BOOTSTRAP)
 * under exactly_once_v2, with SIGKILLs: 6,400 orders and 1,600 numbers, 3,045 of them bad in
 * every way the corpus has (bad JSON, wrong shape, invalid UTF-8, numbers beyond int64 or of the
 * wrong size, a marker the user's map fails, null keys the sum drops, outputs larger than the
 * producer sends and notes larger than their topic's max.message.bytes), flow in while the app
 * (this binary run again with --child) is killed three times, each inside a transaction with
 * records in it, and restarted over its state directory; a fourth run finishes the input and
 * closes cleanly. Read committed, every good record came out exactly once, each key's sum is
 * exact, and every bad record is in the dead letter queue exactly once with its bytes and
 * headers: a dead letter is in its record's transaction, so a kill neither loses one nor writes
 * one twice.
 */
#define _GNU_SOURCE
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

#include "../common/clock.h"
#include "../common/child_app.h"
#include "../common/kafka_util.h"
#include "../common/poison.h"
#include "../common/temp_dir.h"

#define ORDERS 6400
#define NUMS   1600
#define KILLS  3
#define CHUNKS 64 /* the feeder sends the corpus in this many paced chunks */

static const char *bootstrap;
static char run_id[32];

static void conf_set(rill_conf_t *conf, const char *key, const char *value)
{
    char err[256];
    if (rill_conf_set(conf, key, value, err, sizeof err))
        fail_msg("%s=%s: %s", key, value, err);
}

/* The child: argv "--child" LABEL FD BOOTSTRAP PREFIX STATE_DIR TS0. Runs the corpus app under
 * exactly_once_v2 until SIGTERM. */
static int child_main(char **argv)
{
    int ready_fd = atoi(argv[3]);
    bootstrap = argv[4];
    rill_set_log_cb(NULL, NULL, getenv("RILL_DEBUG") ? RILL_LOG_DEBUG : RILL_LOG_WARN);
    poison_t p;
    poison_make(&p, argv[5], ORDERS, NUMS, atoll(argv[7]), true);
    rill_topology_t *topo = poison_topology(&p);
    rill_conf_t *conf = rill_conf_new();
    conf_set(conf, "application.id", p.app_id);
    conf_set(conf, "bootstrap.servers", bootstrap);
    conf_set(conf, "state.dir", argv[6]);
    conf_set(conf, "processing.guarantee", "exactly_once_v2");
    conf_set(conf, "commit.interval.ms", "100");
    /* A killed member leaves the group when its session times out: keep that short. */
    conf_set(conf, "consumer.session.timeout.ms", "6000");
    conf_set(conf, "consumer.heartbeat.interval.ms", "1000");
    for (const char *const *s = poison_settings(&p); *s; s += 2)
        conf_set(conf, s[0], s[1]);
    char err[512];
    rill_app_t *app = rill_app_new(topo, conf, err, sizeof err);
    if (!app) {
        fprintf(stderr, "child %s: %s\n", argv[2], err);
        return 1;
    }
    int rc = child_app_run(app, ready_fd);
    if (rc)
        fprintf(stderr, "child %s: %s\n", argv[2], rill_app_error(app, err, sizeof err));
    rill_app_destroy(app);
    rill_topology_unref(topo);
    poison_free(&p);
    return rc;
}

/* The feeder: the corpus in CHUNKS paced chunks (orders and numbers alike), so input flows
 * while the app is killed and restarted. */
typedef struct {
    const poison_t *p;
    atomic_int sent;
    int rc;
} feeder_t;

static void *feed(void *arg)
{
    feeder_t *f = arg;
    const poison_t *p = f->p;
    rd_kafka_t *prod = kafka_admin(bootstrap); /* a producer client */
    if (!prod) {
        f->rc = -1;
        return NULL;
    }
    for (int c = 0; c < CHUNKS && !f->rc; c++) {
        int o0 = p->norders * c / CHUNKS, o1 = p->norders * (c + 1) / CHUNKS;
        int n0 = p->nnums * c / CHUNKS, n1 = p->nnums * (c + 1) / CHUNKS;
        f->rc = poison_send(p, prod, o0, o1);
        if (!f->rc)
            f->rc = poison_send(p, prod, p->norders + n0, p->norders + n1);
        atomic_store(&f->sent, o1 + n1);
        sleep_ms(250);
    }
    rd_kafka_destroy(prod);
    return NULL;
}

static void poison_count(void *ud, const rd_kafka_message_t *m)
{
    (void)ud, (void)m;
}

static void test_poison_corpus_with_kills(void **state)
{
    (void)state;
    double t0 = now_s();
    char prefix[64], state_dir[64], log[512], ts0[32];
    snprintf(prefix, sizeof prefix, "poison-%s", run_id);
    assert_int_equal(temp_dir_make(state_dir, "poison-kafka"), 0);
    const char *logs = getenv("RILL_TEST_LOG_DIR") ? getenv("RILL_TEST_LOG_DIR") : "/tmp";
    snprintf(log, sizeof log, "%s/%s-app.log", logs, prefix);
    int64_t base = wall_ms() - 3600000;
    snprintf(ts0, sizeof ts0, "%lld", (long long)base);
    poison_t p;
    poison_make(&p, prefix, ORDERS, NUMS, base, true);
    const char *topics[] = {p.orders, p.nums, p.amounts, p.sums, p.nums_out};
    for (int i = 0; i < 5; i++)
        assert_int_equal(kafka_create_topic(bootstrap, topics[i], POISON_PARTITIONS), 0);
    char limit[16];
    snprintf(limit, sizeof limit, "%d", POISON_NOTES_MAX_BYTES);
    const char *notes_config[] = {"max.message.bytes", limit, NULL};
    assert_int_equal(kafka_create_topic_with(bootstrap, p.notes, POISON_PARTITIONS, notes_config),
                     0);

    feeder_t f = {.p = &p};
    atomic_store(&f.sent, 0);
    pthread_t feeder;
    assert_int_equal(pthread_create(&feeder, NULL, feed, &f), 0);
    rd_kafka_t *reader = kafka_offsets_reader(bootstrap, p.app_id);
    assert_non_null(reader);
    const char *inputs[] = {p.orders, p.nums};
    rd_kafka_t *committed = kafka_isolated_client(bootstrap, "read_committed");
    rd_kafka_t *uncommitted = kafka_isolated_client(bootstrap, "read_uncommitted");
    assert_true(committed && uncommitted);
    const char *args[] = {bootstrap, prefix, state_dir, ts0, NULL};
    int64_t last = 0;
    for (int k = 0; k < KILLS; k++) {
        char label[16];
        snprintf(label, sizeof label, "%d", k + 1);
        child_app_t c = child_app_spawn(label, log, args);
        child_app_wait_running(&c);
        /* Kill it once it has committed 300 records more than the last one had, a moment after
         * a commit, while input still flows. */
        int64_t now = 0;
        for (int waited = 0;
             (now = kafka_committed_sum(reader, inputs, 2, POISON_PARTITIONS)) < last + 300;
             waited += 20) {
            if (waited > 60000)
                fail_msg("run %d committed %lld offsets, not %lld, within 60 s", k + 1,
                         (long long)now, (long long)last + 300);
            sleep_ms(20);
        }
        /* ... and then in a transaction with amounts in it, not committed yet (the first kill's
         * for sure; later ones may see the open transaction of the run killed before, which the
         * broker aborts after transaction.timeout.ms). */
        char why[256];
        for (int waited = 0; kafka_open_transaction(committed, uncommitted, p.amounts,
                                                    POISON_PARTITIONS, why, sizeof why) != 1;
             waited += 5) {
            if (waited > 60000)
                fail_msg("run %d opened no transaction with records within 60 s", k + 1);
            sleep_ms(5);
        }
        child_app_kill(&c);
        printf("  SIGKILL run %d: %lld offsets committed shortly before, %d of %d records sent; "
               "%s\n",
               k + 1, (long long)now, atomic_load(&f.sent), p.n, why);
        last = now;
    }
    pthread_join(feeder, NULL);
    assert_int_equal(f.rc, 0);
    assert_true(atomic_load(&f.sent) == p.n);

    /* The last run reads to the ends of both inputs and closes cleanly. */
    child_app_t c = child_app_spawn("last", log, args);
    child_app_wait_running(&c);
    kafka_wait_committed_at_end(bootstrap, p.app_id, p.orders, POISON_PARTITIONS, 90000);
    kafka_wait_committed_at_end(bootstrap, p.app_id, p.nums, POISON_PARTITIONS, 90000);
    child_app_stop(&c);
    rd_kafka_destroy(reader);
    rd_kafka_destroy(committed);
    rd_kafka_destroy(uncommitted);

    /* The killed runs' transactions are aborted once their timeout passes. */
    const char *outputs[] = {p.amounts, p.sums, p.nums_out, p.notes, p.dlq};
    for (int i = 0; i < 5; i++)
        kafka_wait_no_open_transaction(bootstrap, outputs[i], POISON_PARTITIONS, 60000);
    poison_check(&p, bootstrap, "real broker, exactly_once_v2, 3 SIGKILLs");
    /* A kill did land in a transaction with records: the log holds more than read_committed
     * shows. */
    int all_amounts = kafka_read_to_end(bootstrap, "read_uncommitted", POISON_PARTITIONS, p.amounts,
                                        poison_count, NULL);
    printf("  amounts in the log: %d, of which %d aborted\n", all_amounts,
           all_amounts - p.good_orders);
    assert_true(all_amounts > p.good_orders);
    printf("  (%.1f s)\n", now_s() - t0);
    const char *all[] = {p.orders, p.nums, p.amounts, p.sums, p.nums_out, p.notes, p.dlq};
    kafka_delete_topics(bootstrap, all, 7);
    poison_free(&p);
    temp_dir_remove(state_dir);
}

int main(int argc, char **argv)
{
    if (argc == 8 && strcmp(argv[1], "--child") == 0)
        return child_main(argv);
    if (!(bootstrap = kafka_test_bootstrap("test_poison_kafka")))
        return 0;
    snprintf(run_id, sizeof run_id, "%ld-%d", (long)time(NULL), (int)getpid());
    srand((unsigned)getpid());
    rill_set_log_cb(NULL, NULL, getenv("RILL_DEBUG") ? RILL_LOG_DEBUG : RILL_LOG_WARN);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(test_poison_corpus_with_kills, child_app_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
