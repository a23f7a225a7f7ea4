/*
 * rill_stream_dedupe under exactly_once_v2 on a real Apache Kafka broker (scripts/kafka starts
 * one; its address comes in RILL_TEST_BOOTSTRAP), killed: ids flow in, each sent twice (the copy
 * 500 ids later, within the TTL), while the app is SIGKILLed twice mid-stream and restarted over
 * its state directory, each kill landing in a transaction that has written outputs. A
 * read_committed reader then finds every id in the output exactly once: the store's writes, the
 * outputs and the input offsets commit together, so an aborted transaction takes its outputs and
 * its memory of them back together. A read_uncommitted reader finds the aborted outputs too:
 * the kills did abort transactions. Then the same at-least-once: no id is missing (a record
 * read again whose store entry outlived its output passes as a replay). Record times are the
 * wall clock's of an hour ago, well within the topics' retention, so the broker deletes nothing
 * mid-test.
 *
 * The killed app is this binary re-executed with "--child" (see child_main).
 */
#define _GNU_SOURCE /* nftw */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <rill/app.h>
#include <rill/dsl.h>

#include <pthread.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include "../common/child_app.h"
#include "../common/clock.h"
#include "../common/kafka_util.h"
#include "../common/temp_dir.h"

#define IDS        6000
#define COPY_LAG   500 /* the copy of id i comes with id i + COPY_LAG */
#define PARTITIONS 4

static const char *bootstrap;
static char run_id[64], state_dir[64];

/* The app: in -> dedupe by key (TTL 1 h) -> out, exactly_once_v2 (at_least_once for an
 * application.id "dd-alo-..."), run until SIGTERM. argv:
 * --child LABEL FD BOOTSTRAP IN OUT APP_ID STATE_DIR (tests/common/child_app.h). */
static int child_main(char **argv)
{
    int ready_fd = atoi(argv[3]);
    bootstrap = argv[4];
    argv += 3; /* IN is argv[2] from here on */
    rill_set_log_cb(NULL, NULL, getenv("RILL_DEBUG") ? RILL_LOG_DEBUG : RILL_LOG_WARN);
    rill_topology_t *topo = rill_topology_new();
    rill_stream_t *s = rill_stream_dedupe(rill_stream_from_topic(topo, argv[2], NULL),
                                          rill_dedupe_by_key(), 3600 * 1000, NULL);
    rill_stream_to(s, argv[3], NULL);
    const char *kv[] = {"application.id",
                        argv[4],
                        "bootstrap.servers",
                        bootstrap,
                        "state.dir",
                        argv[5],
                        "processing.guarantee",
                        strncmp(argv[4], "dd-alo-", 7) == 0 ? "at_least_once" : "exactly_once_v2",
                        "commit.interval.ms",
                        "100",
                        "default.key.serde",
                        "string",
                        "default.value.serde",
                        "string",
                        "consumer.session.timeout.ms",
                        "6000",
                        NULL};
    rill_conf_t *conf = rill_conf_new();
    char err[512];
    for (size_t i = 0; kv[i]; i += 2)
        if (rill_conf_set(conf, kv[i], kv[i + 1], err, sizeof err)) {
            fprintf(stderr, "child: %s: %s\n", kv[i], err);
            return 1;
        }
    rill_app_t *app = rill_app_new(topo, conf, err, sizeof err);
    if (!app) {
        fprintf(stderr, "child: %s\n", err);
        return 1;
    }
    int rc = child_app_run(app, ready_fd);
    fprintf(stderr, "child: %s after %lld records, %lld duplicates dropped%s%s\n",
            rc ? "failed" : "closed", (long long)rill_app_metric(app, "records-processed"),
            (long long)rill_app_metric(app, "duplicates-dropped"), rc ? ": " : "",
            rc ? rill_app_error(app, err, sizeof err) : "");
    rill_app_destroy(app);
    rill_topology_unref(topo);
    return rc;
}

static child_app_t spawn_child(const char *in, const char *out, const char *app_id, int n)
{
    char log[256], label[16];
    snprintf(log, sizeof log, "%s/dedupe-child-%s-%d.log",
             getenv("RILL_TEST_LOG_DIR") ? getenv("RILL_TEST_LOG_DIR") : "/tmp", run_id, n);
    snprintf(label, sizeof label, "%d", n);
    const char *args[] = {bootstrap, in, out, app_id, state_dir, NULL};
    child_app_t c = child_app_spawn(label, log, args);
    child_app_wait_running(&c);
    return c;
}

/* The input: step j sends id j and, from step COPY_LAG on, the copy of id j - COPY_LAG, both at
 * base + j ms; 40 records every 50 ms or so, so it flows through the kills. */
typedef struct {
    const char *topic;
    atomic_int sent;
    int rc;
} feeder_t;

static void *feed(void *arg)
{
    feeder_t *f = arg;
    char err[256], k[16], v[24];
    rill_producer_t *p = rill_producer_new(bootstrap, err, sizeof err);
    if (!p) {
        f->rc = -1;
        return NULL;
    }
    const int64_t base = wall_ms() - 3600 * 1000;
    for (int j = 0; j < IDS + COPY_LAG && !f->rc; j++) {
        for (int copy = 0; copy < 2 && !f->rc; copy++) {
            int id = copy ? j - COPY_LAG : j;
            if (id < 0 || id >= IDS)
                continue;
            snprintf(k, sizeof k, "id-%05d", id);
            snprintf(v, sizeof v, "%d:%d", id, copy);
            f->rc = rill_producer_send(p, f->topic, -1, rill_buf_str(k), rill_buf_str(v), base + j);
            atomic_fetch_add(&f->sent, 1);
        }
        if (j % 20 == 19) {
            f->rc = f->rc ? f->rc : rill_producer_flush(p, 30000);
            sleep_ms(50);
        }
    }
    if (!f->rc)
        f->rc = rill_producer_flush(p, 30000);
    rill_producer_destroy(p);
    return NULL;
}

/* Waits until app_id's committed offsets on in sum to at least want. */
static int64_t wait_committed(const char *app_id, const char *in, int64_t want)
{
    rd_kafka_t *rk = kafka_offsets_reader(bootstrap, app_id);
    assert_non_null(rk);
    int64_t sum = 0;
    for (int waited = 0; (sum = kafka_committed_sum(rk, &in, 1, PARTITIONS)) < want; waited += 50) {
        if (waited > 120000)
            fail_msg("only %lld input offsets committed of %lld within 120 s", (long long)sum,
                     (long long)want);
        sleep_ms(50);
    }
    rd_kafka_destroy(rk);
    return sum;
}

/* A handle on out's ends as a reader of isolation sees them: read_committed, the last stable
 * offsets (before the first record of a transaction still open); read_uncommitted, the ends. */
static rd_kafka_t *ends_reader(const char *isolation)
{
    char err[256];
    rd_kafka_conf_t *kc = rd_kafka_conf_new();
    rd_kafka_conf_set(kc, "bootstrap.servers", bootstrap, err, sizeof err);
    rd_kafka_conf_set(kc, "group.id", "dd-ends", err, sizeof err);
    rd_kafka_conf_set(kc, "isolation.level", isolation, err, sizeof err);
    rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_CONSUMER, kc, err, sizeof err);
    assert_non_null(rk);
    return rk;
}

/* The sum of topic's ends as rk sees them (ListOffsets at rk's isolation level), or -1. */
static int64_t ends_sum(rd_kafka_t *rk, const char *topic)
{
    int64_t sum = 0;
    for (int i = 0; i < PARTITIONS; i++) {
        int64_t lo, hi;
        if (rd_kafka_query_watermark_offsets(rk, topic, i, &lo, &hi, 10000))
            return -1;
        sum += hi;
    }
    return sum;
}

/* SIGKILLs c inside a transaction that has written to out, so that it certainly aborts: once out
 * shows records beyond its stable end (a transaction open, its outputs written), stops c
 * (SIGSTOP) and checks that the stable end stays behind for 300 ms, which it would not if the
 * commit had been sent already (the coordinator writes the markers within milliseconds), then
 * kills it; else lets it go on and looks again. Returns how many outputs the transaction had
 * written (all aborted: the next instance's producer fences it). */
static int64_t kill_mid_transaction(child_app_t *c, int n, const char *out, int sent)
{
    rd_kafka_t *stable = ends_reader("read_committed"), *all = ends_reader("read_uncommitted");
    int64_t open = 0;
    for (double t0 = now_s(); open <= 0; sleep_ms(2)) {
        if (now_s() - t0 > 60)
            fail_msg("child %d: no transaction seen open with outputs within 60 s", n);
        int64_t lso = ends_sum(stable, out), end = ends_sum(all, out);
        if (lso < 0 || end <= lso)
            continue;
        assert_int_equal(kill(c->pid, SIGSTOP), 0);
        bool held = true;
        for (double t1 = now_s(); held && now_s() - t1 < 0.3; sleep_ms(20))
            held = ends_sum(stable, out) == lso;
        if (held)
            open = ends_sum(all, out) - lso;
        else
            assert_int_equal(kill(c->pid, SIGCONT), 0);
    }
    child_app_kill(c);
    rd_kafka_destroy(stable);
    rd_kafka_destroy(all);
    printf("  SIGKILL child %d in a transaction with %lld outputs written, %d records sent\n", n,
           (long long)open, sent);
    return open;
}

static int ids_seen[IDS];
static atomic_int bad_outputs;

static void count_id(void *ud, const rd_kafka_message_t *m)
{
    (void)ud;
    int id, copy;
    char v[32];
    snprintf(v, sizeof v, "%.*s", (int)m->len, (const char *)m->payload);
    if (sscanf(v, "%d:%d", &id, &copy) == 2 && id >= 0 && id < IDS)
        ids_seen[id]++;
    else
        atomic_fetch_add(&bad_outputs, 1);
}

static void count_record(void *ud, const rd_kafka_message_t *m)
{
    (void)m;
    (*(int *)ud)++;
}

/* SIGKILLs c (at-least-once) while in holds records app_id has not committed: read, most of
 * them, and their outputs and store entries sent, so the next instance reads them again. */
static void kill_uncommitted(child_app_t *c, int n, const char *app_id, const char *in, int sent)
{
    rd_kafka_t *offsets = kafka_offsets_reader(bootstrap, app_id),
               *ends = ends_reader("read_uncommitted");
    assert_non_null(offsets);
    int64_t committed = 0, end = 0;
    for (double t0 = now_s(); end <= committed; sleep_ms(2)) {
        if (now_s() - t0 > 60)
            fail_msg("child %d: its commits stayed at the input's end for 60 s", n);
        committed = kafka_committed_sum(offsets, &in, 1, PARTITIONS);
        end = ends_sum(ends, in);
    }
    child_app_kill(c);
    rd_kafka_destroy(offsets);
    rd_kafka_destroy(ends);
    printf("  SIGKILL child %d: %lld input records not committed, %d records sent\n", n,
           (long long)(end - committed), sent);
}

/* Runs the app (application.id "dd-<guarantee>-<run>", its guarantee) over in while the feeder
 * sends, SIGKILLing it twice, each time once it has committed some more, inside a transaction
 * with outputs (exactly-once) or with input not committed (at-least-once), and restarting it; stops
 * it once the input is committed to its end. Returns how many outputs the killed transactions had
 * written (0 at-least-once). */
static int64_t run_killed(const char *guarantee, const char *in, const char *out)
{
    char app_id[96];
    snprintf(app_id, sizeof app_id, "dd-%s-%s", guarantee, run_id);
    assert_int_equal(kafka_create_topic(bootstrap, in, PARTITIONS), 0);
    assert_int_equal(kafka_create_topic(bootstrap, out, PARTITIONS), 0);
    feeder_t f = {.topic = in};
    pthread_t feeder;
    assert_int_equal(pthread_create(&feeder, NULL, feed, &f), 0);
    child_app_t child = spawn_child(in, out, app_id, 1);
    int64_t aborted = 0;
    for (int n = 1; n <= 2; n++) {
        /* Once the app has committed some of what came since: a killed member's session (6 s)
         * must time out before the next one gets the partitions. */
        wait_committed(app_id, in, 1500 * n);
        if (strcmp(guarantee, "eos") == 0)
            aborted += kill_mid_transaction(&child, n, out, atomic_load(&f.sent));
        else
            kill_uncommitted(&child, n, app_id, in, atomic_load(&f.sent));
        child = spawn_child(in, out, app_id, n + 1);
    }
    assert_int_equal(pthread_join(feeder, NULL), 0);
    assert_int_equal(f.rc, 0);
    assert_int_equal(atomic_load(&f.sent), 2 * IDS);
    wait_committed(app_id, in, 2 * IDS);
    child_app_stop(&child);
    return aborted;
}

/* The ids of out, read to its end with isolation, into ids_seen (reset first): returns how many
 * records; *missing and *twice the ids seen never and more than once. */
static int read_ids(const char *out, const char *isolation, int *missing, int *twice)
{
    memset(ids_seen, 0, sizeof ids_seen);
    atomic_store(&bad_outputs, 0);
    int n = kafka_read_to_end(bootstrap, isolation, PARTITIONS, out, count_id, NULL);
    *missing = *twice = 0;
    for (int i = 0; i < IDS; i++) {
        *missing += ids_seen[i] == 0;
        *twice += ids_seen[i] > 1;
    }
    assert_int_equal(atomic_load(&bad_outputs), 0);
    return n;
}

static void test_sigkill_twice_each_id_once(void **state)
{
    (void)state;
    char in[96], out[96];
    snprintf(in, sizeof in, "dd-in-%s", run_id);
    snprintf(out, sizeof out, "dd-out-%s", run_id);
    int64_t aborted = run_killed("eos", in, out);

    /* read_committed: IDS records, one per id; read_uncommitted: the aborted outputs too. */
    int missing, twice;
    int n = read_ids(out, "read_committed", &missing, &twice);
    int all = 0;
    int read =
        kafka_read_to_end(bootstrap, "read_uncommitted", PARTITIONS, out, count_record, &all);
    assert_int_equal(read, all);
    printf("  %d ids sent twice each (%d records), 2 SIGKILLs: %d outputs, %d ids missing, %d "
           "more than once; read_uncommitted %d (%lld written by the killed transactions)\n",
           IDS, 2 * IDS, n, missing, twice, all, (long long)aborted);
    assert_int_equal(missing, 0);
    assert_int_equal(twice, 0);
    assert_int_equal(n, IDS);
    assert_true(aborted > 0);
    assert_true(all >= n + aborted); /* the killed transactions' outputs, aborted */
}

/* At-least-once, killed twice: no id is lost. A record whose store entry was logged but whose
 * output was not, read again after the kill, finds its own entry and passes (a replay); ids may
 * come out more than once (at-least-once), never not at all. */
static void test_at_least_once_sigkill_loses_no_id(void **state)
{
    (void)state;
    char in[96], out[96];
    snprintf(in, sizeof in, "dd-alo-in-%s", run_id);
    snprintf(out, sizeof out, "dd-alo-out-%s", run_id);
    run_killed("alo", in, out);
    int missing, twice;
    int n = read_ids(out, "read_uncommitted", &missing, &twice);
    printf("  at-least-once, %d ids sent twice each, 2 SIGKILLs: %d outputs, %d ids missing, %d "
           "more than once\n",
           IDS, n, missing, twice);
    assert_int_equal(missing, 0);
    assert_true(n >= IDS);
}

int main(int argc, char **argv)
{
    if (argc == 9 && strcmp(argv[1], "--child") == 0)
        return child_main(argv);
    if (!(bootstrap = kafka_test_bootstrap("test_dedupe_kafka")))
        return 0;
    snprintf(run_id, sizeof run_id, "%ld-%d", (long)time(NULL), (int)getpid());
    if (temp_dir_make(state_dir, "dd-kafka"))
        return 1;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(test_sigkill_twice_each_id_once, child_app_teardown),
        cmocka_unit_test_teardown(test_at_least_once_sigkill_loses_no_id, child_app_teardown),
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    temp_dir_remove(state_dir);
    return rc;
}
