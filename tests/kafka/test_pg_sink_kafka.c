/*
 * rill-pg-sink against a real broker (RILL_TEST_BOOTSTRAP) and a real PostgreSQL 15
 * (RILL_TEST_PG_URL; scripts/postgres up prints one, and `make check` passes both):
 * - SIGKILLs at random moments mid-run, a SIGTERM, restarts: every event id has exactly one row,
 *   the amounts add up to the input's over distinct ids (the input holds duplicate ids on other
 *   partitions), and the offsets table holds every partition's end offset;
 * - a record PostgreSQL refuses (a value that is not JSON, for a jsonb column) stops the sink,
 *   whose error names the record's topic, partition and offset and PostgreSQL's message, and
 *   nothing of its batch is written;
 * - an offset moved by another writer under a running sink: its next transaction commits
 *   nothing, and it goes on from the offsets table.
 * The sink runs as a child process (bin/rill-pg-sink); the test watches its progress in the
 * offsets table, never by sleeping and hoping.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include "../common/kafka_util.h"

#include <rill/app.h>

#include <libpq-fe.h>

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#define EVENTS     20000
#define PARTITIONS 4
#define KILLS      5

static const char *bootstrap, *pg_url;
static char run_id[64];
static pid_t live_child;

static void sleep_ms(int ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000};
    nanosleep(&ts, NULL);
}

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static PGconn *pg_connect(void)
{
    PGconn *conn = PQconnectdb(pg_url);
    if (PQstatus(conn) != CONNECTION_OK)
        fail_msg("cannot connect to %s: %s", pg_url, PQerrorMessage(conn));
    return conn;
}

/* Runs sql and returns the first column of its first row as an integer (-1 when none). */
static int64_t pg_int(PGconn *conn, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int64_t pg_int(PGconn *conn, const char *fmt, ...)
{
    char sql[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(sql, sizeof sql, fmt, ap);
    va_end(ap);
    PGresult *res = PQexec(conn, sql);
    ExecStatusType st = PQresultStatus(res);
    if (st != PGRES_TUPLES_OK && st != PGRES_COMMAND_OK) {
        char msg[512];
        snprintf(msg, sizeof msg, "%s", PQresultErrorMessage(res));
        PQclear(res);
        fail_msg("%s: %s", sql, msg);
    }
    int64_t v = st == PGRES_TUPLES_OK && PQntuples(res) > 0 && !PQgetisnull(res, 0, 0)
                    ? strtoll(PQgetvalue(res, 0, 0), NULL, 10)
                    : -1;
    PQclear(res);
    return v;
}

/* What one sink run needs: its names, and the log its children append to. */
typedef struct {
    char topic[96], group[96], table[96], offsets[96], log[512];
    const char *id, *batch;
} sink_run_t;

static void sink_run_init(sink_run_t *r, const char *label, const char *id, const char *batch)
{
    snprintf(r->topic, sizeof r->topic, "pg-sink-%s-%s", label, run_id);
    snprintf(r->group, sizeof r->group, "pg-sink-%s-%s", label, run_id);
    snprintf(r->table, sizeof r->table, "events_%s_%s", label, run_id);
    snprintf(r->offsets, sizeof r->offsets, "offsets_%s_%s", label, run_id);
    for (char *c = r->table; *c; c++)
        *c = *c == '-' ? '_' : *c;
    for (char *c = r->offsets; *c; c++)
        *c = *c == '-' ? '_' : *c;
    snprintf(r->log, sizeof r->log, "%s/pg-sink-%s-%s.log",
             getenv("RILL_TEST_LOG_DIR") ? getenv("RILL_TEST_LOG_DIR") : "/tmp", label, run_id);
    r->id = id;
    r->batch = batch;
}

/* Starts bin/rill-pg-sink on r. Between fork and exec only async-signal-safe calls: the test
 * has librdkafka's threads. */
static pid_t spawn_sink(const sink_run_t *r)
{
    char instance[128];
    snprintf(instance, sizeof instance, "group.instance.id=%s-1", r->group);
    /* Static membership: a restarted sink takes its partitions back at once, instead of waiting
     * for the killed member's session to time out. */
    const char *argv[] = {RILL_BIN_DIR "/rill-pg-sink",
                          "--bootstrap-servers",
                          bootstrap,
                          "--group",
                          r->group,
                          "--topic",
                          r->topic,
                          "--pg",
                          pg_url,
                          "--table",
                          r->table,
                          "--offsets-table",
                          r->offsets,
                          "--id",
                          r->id,
                          "--batch-size",
                          r->batch,
                          "--batch-ms",
                          "50",
                          "--progress-ms",
                          "1000",
                          "--config",
                          instance,
                          "--config",
                          "session.timeout.ms=6000",
                          NULL};
    fflush(stdout);
    pid_t pid = fork();
    if (pid == 0) {
        prctl(PR_SET_PDEATHSIG, SIGKILL); /* never outlive the test */
        int fd = open(r->log, O_WRONLY | O_CREAT | O_APPEND, 0644);
        if (fd >= 0) {
            dup2(fd, 1);
            dup2(fd, 2);
        }
        execv(argv[0], (char *const *)argv);
        _exit(127);
    }
    assert_true(pid > 0);
    live_child = pid;
    return pid;
}

/* Waits (at most timeout_ms) for pid to exit; returns its wait status, or -1 on timeout. */
static int wait_exit(pid_t pid, int timeout_ms)
{
    int status;
    for (int64_t deadline = now_ms() + timeout_ms; now_ms() < deadline; sleep_ms(10)) {
        pid_t w = waitpid(pid, &status, WNOHANG);
        if (w == pid) {
            live_child = 0;
            return status;
        }
    }
    return -1;
}

static void kill_live_child_at_teardown(void)
{
    if (live_child > 0) {
        kill(live_child, SIGKILL);
        waitpid(live_child, NULL, 0);
        live_child = 0;
    }
}

static int teardown(void **state)
{
    kill_live_child_at_teardown();
    return 0;
}

/* The records offsets table holds for r's group: the sum of its next offsets, 0 before any
 * (the table may not exist yet, before the sink's first start). */
static int64_t stored_sum(PGconn *conn, const sink_run_t *r)
{
    PGresult *res = PQexec(conn, "SELECT 1"); /* keeps conn usable after a failed query */
    PQclear(res);
    char sql[512];
    snprintf(sql, sizeof sql, "SELECT coalesce(sum(next_offset), 0) FROM %s WHERE group_id = '%s'",
             r->offsets, r->group);
    res = PQexec(conn, sql);
    int64_t v =
        PQresultStatus(res) == PGRES_TUPLES_OK ? strtoll(PQgetvalue(res, 0, 0), NULL, 10) : 0;
    PQclear(res);
    return v;
}

/* Waits until the stored offsets reach at_least (polled every 5 ms, so a kill that follows lands
 * soon after a commit, or inside the next transaction); fails past timeout_ms or if pid died. */
static int64_t wait_stored(PGconn *conn, const sink_run_t *r, pid_t pid, int64_t at_least,
                           int timeout_ms)
{
    int64_t v = 0, deadline = now_ms() + timeout_ms;
    while ((v = stored_sum(conn, r)) < at_least) {
        int status;
        if (waitpid(pid, &status, WNOHANG) == pid) {
            live_child = 0;
            fail_msg("the sink exited (status %d) at %lld stored offsets of %lld; see %s", status,
                     (long long)v, (long long)at_least, r->log);
        }
        if (now_ms() > deadline)
            fail_msg("only %lld of %lld offsets stored within %d ms; see %s", (long long)v,
                     (long long)at_least, timeout_ms, r->log);
        sleep_ms(5);
    }
    return v;
}

static void produce_events(const char *topic, int64_t *distinct, int64_t *amount_sum)
{
    char err[256];
    rill_producer_t *p = rill_producer_new(bootstrap, err, sizeof err);
    assert_non_null(p);
    static int amount_of[EVENTS];
    *distinct = 0;
    *amount_sum = 0;
    for (int i = 0; i < EVENTS; i++) {
        /* Every tenth record repeats an earlier event (a producer's retry, say) with a key of
         * its own, so the copy usually lands on another partition than the first. */
        int ev = i % 10 == 9 ? rand() % i : i;
        if (ev != i && ev % 10 == 9)
            ev--; /* a copy of an original event, not of a copy */
        if (ev == i) {
            amount_of[i] = 1 + (int)(((unsigned)i * 7919u) % 1000u);
            ++*distinct;
            *amount_sum += amount_of[i];
        }
        char key[32], value[128];
        snprintf(key, sizeof key, "k-%d", i);
        snprintf(value, sizeof value, "{\"id\":\"ev-%06d\",\"amount\":%d,\"seq\":%d}", ev,
                 amount_of[ev], i);
        assert_int_equal(rill_producer_send(p, topic, -1, rill_buf_str(key), rill_buf_str(value),
                                            1700000000000 + i),
                         0);
    }
    assert_int_equal(rill_producer_flush(p, 30000), 0);
    rill_producer_destroy(p);
}

/* How many lines of file path contain text. */
static int count_lines(const char *path, const char *text)
{
    FILE *f = fopen(path, "r");
    if (!f)
        return 0;
    char line[8192];
    int n = 0;
    while (fgets(line, sizeof line, f))
        n += strstr(line, text) != NULL;
    fclose(f);
    return n;
}

static bool file_has(const char *path, const char *text)
{
    return count_lines(path, text) > 0;
}

/* Waits until the sinks started on r have logged `runs` assignments: the last one runs (its
 * signal handlers are in place; a SIGTERM before them would kill it). */
static void wait_running(const sink_run_t *r, int runs)
{
    for (int64_t deadline = now_ms() + 30000; count_lines(r->log, "] assigned ") < runs;
         sleep_ms(10))
        if (now_ms() > deadline)
            fail_msg("the sink (run %d) was not assigned its partitions within 30 s; see %s", runs,
                     r->log);
}

static void drop_tables(PGconn *conn, const sink_run_t *r)
{
    char sql[512];
    snprintf(sql, sizeof sql, "DROP TABLE IF EXISTS %s, %s", r->table, r->offsets);
    PQclear(PQexec(conn, sql));
}

static void test_sigkills_leave_one_row_per_event(void **state)
{
    sink_run_t r;
    sink_run_init(&r, "kill", "json:id", "200");
    assert_int_equal(kafka_create_topic(bootstrap, r.topic, PARTITIONS), 0);
    int64_t t0 = now_ms(), distinct, amount_sum;
    produce_events(r.topic, &distinct, &amount_sum);
    PGconn *conn = pg_connect();

    int kills = 0, terms = 0;
    pid_t pid = spawn_sink(&r);
    for (int k = 1; k <= KILLS + 1; k++) {
        /* A random point in the k-th sixth of the run, a random few ms after it was seen, and
         * always after this run of the sink wrote a transaction or more. */
        int64_t at = EVENTS * (k - 1) / (KILLS + 1) + rand() % (EVENTS / (KILLS + 1));
        int64_t base = stored_sum(conn, &r) + 1 + rand() % 600;
        at = at > base ? at : base;
        at = at < EVENTS - 1000 ? at : EVENTS - 1000; /* before the end: mid-run */
        int64_t seen = wait_stored(conn, &r, pid, at, 30000);
        sleep_ms(rand() % 20);
        if (k == 3) {
            /* One SIGTERM among the kills: a clean stop after the current transaction. */
            assert_int_equal(kill(pid, SIGTERM), 0);
            int status = wait_exit(pid, 30000);
            assert_true(status >= 0 && WIFEXITED(status) && WEXITSTATUS(status) == 0);
            terms++;
        } else {
            assert_int_equal(kill(pid, SIGKILL), 0);
            int status = wait_exit(pid, 10000);
            assert_true(status >= 0 && WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
            kills++;
        }
        printf("  %s the sink at %lld stored offsets (of %d)\n", k == 3 ? "SIGTERM" : "SIGKILL",
               (long long)seen, EVENTS);
        pid = spawn_sink(&r);
    }
    wait_stored(conn, &r, pid, EVENTS, 60000);
    wait_running(&r, KILLS + 2);
    assert_int_equal(kill(pid, SIGTERM), 0);
    int status = wait_exit(pid, 30000);
    assert_true(status >= 0 && WIFEXITED(status) && WEXITSTATUS(status) == 0);

    int64_t rows = pg_int(conn, "SELECT count(*) FROM %s", r.table);
    int64_t ids = pg_int(conn, "SELECT count(DISTINCT event_id) FROM %s", r.table);
    int64_t sum = pg_int(conn, "SELECT sum((payload->>'amount')::bigint) FROM %s", r.table);
    /* Each row points at a record of its event: the id in its payload is its own. */
    int64_t mismatched =
        pg_int(conn, "SELECT count(*) FROM %s WHERE payload->>'id' <> event_id", r.table);
    /* The timestamp column holds the record's timestamp, to the millisecond. */
    int64_t bad_times = pg_int(conn,
                               "SELECT count(*) FROM %s WHERE \"timestamp\" IS DISTINCT FROM "
                               "to_timestamp((1700000000000 + (payload->>'seq')::bigint) / 1000.0)",
                               r.table);
    printf("  %d events (%lld distinct ids, amounts %lld), %d SIGKILLs + %d SIGTERM: %lld rows, "
           "sum %lld, %.1f s\n",
           EVENTS, (long long)distinct, (long long)amount_sum, kills, terms, (long long)rows,
           (long long)sum, (double)(now_ms() - t0) / 1000.0);
    assert_int_equal(rows, distinct);
    assert_int_equal(ids, distinct);
    assert_int_equal(sum, amount_sum);
    assert_int_equal(mismatched, 0);
    assert_int_equal(bad_times, 0);

    /* The offsets table holds each partition's end, and nothing else. */
    rd_kafka_t *admin = kafka_admin(bootstrap);
    int64_t total = 0;
    for (int p = 0; p < PARTITIONS; p++) {
        int64_t lo, hi;
        assert_int_equal(rd_kafka_query_watermark_offsets(admin, r.topic, p, &lo, &hi, 10000), 0);
        int64_t stored = pg_int(conn,
                                "SELECT next_offset FROM %s WHERE group_id = '%s' AND topic = "
                                "'%s' AND partition = %d",
                                r.offsets, r.group, r.topic, p);
        if (stored != hi)
            fail_msg("%s [%d]: the offsets table holds %lld, the end is %lld", r.topic, p,
                     (long long)stored, (long long)hi);
        total += hi;
    }
    rd_kafka_destroy(admin);
    assert_int_equal(total, EVENTS);
    assert_int_equal(pg_int(conn, "SELECT count(*) FROM %s", r.offsets), PARTITIONS);

    drop_tables(conn, &r);
    PQfinish(conn);
    const char *topics[] = {r.topic};
    kafka_delete_topics(bootstrap, topics, 1);
}

/* Produces records first..last (keys id-<i>, values {"n":i}) to partition 0 of topic. */
static void produce_numbered(const char *topic, int first, int last)
{
    char err[256];
    rill_producer_t *p = rill_producer_new(bootstrap, err, sizeof err);
    assert_non_null(p);
    for (int i = first; i <= last; i++) {
        char key[16], value[32];
        snprintf(key, sizeof key, "id-%d", i);
        snprintf(value, sizeof value, "{\"n\":%d}", i);
        assert_int_equal(
            rill_producer_send(p, topic, 0, rill_buf_str(key), rill_buf_str(value), -1), 0);
    }
    assert_int_equal(rill_producer_flush(p, 30000), 0);
    rill_producer_destroy(p);
}

static void test_a_refused_record_is_named(void **state)
{
    sink_run_t r;
    sink_run_init(&r, "bad", "key", "10");
    assert_int_equal(kafka_create_topic(bootstrap, r.topic, 1), 0);
    produce_numbered(r.topic, 0, 1);
    char err[256];
    rill_producer_t *p = rill_producer_new(bootstrap, err, sizeof err);
    assert_non_null(p);
    assert_int_equal(
        rill_producer_send(p, r.topic, 0, rill_buf_str("id-2"), rill_buf_str("not json"), -1), 0);
    assert_int_equal(rill_producer_flush(p, 30000), 0);
    rill_producer_destroy(p);
    produce_numbered(r.topic, 3, 3);

    pid_t pid = spawn_sink(&r);
    int status = wait_exit(pid, 60000);
    assert_true(status >= 0 && WIFEXITED(status) && WEXITSTATUS(status) == 1);
    char want[256];
    snprintf(want, sizeof want, "%s [0] offset 2 (event id 'id-2')", r.topic);
    if (!file_has(r.log, want) || !file_has(r.log, "invalid input syntax for type json"))
        fail_msg("the sink's log (%s) does not name the record (%s) and PostgreSQL's message",
                 r.log, want);
    PGconn *conn = pg_connect();
    /* The four records were one batch: none of it is written, nor its offset. */
    assert_int_equal(pg_int(conn, "SELECT count(*) FROM %s", r.table), 0);
    assert_int_equal(pg_int(conn, "SELECT count(*) FROM %s", r.offsets), 0);
    printf("  refused: %s\n", want);
    drop_tables(conn, &r);
    PQfinish(conn);
    const char *topics[] = {r.topic};
    kafka_delete_topics(bootstrap, topics, 1);
}

/* Another writer moves an offset under a running sink (as an instance that took the partition
 * over would): the sink's next transaction commits nothing, and it goes on from the table. */
static void test_a_moved_offset_is_followed(void **state)
{
    sink_run_t r;
    sink_run_init(&r, "moved", "key", "10");
    assert_int_equal(kafka_create_topic(bootstrap, r.topic, 1), 0);
    produce_numbered(r.topic, 0, 2);
    PGconn *conn = pg_connect();
    pid_t pid = spawn_sink(&r);
    wait_stored(conn, &r, pid, 3, 30000);
    pg_int(conn, "UPDATE %s SET next_offset = 1 WHERE group_id = '%s'", r.offsets, r.group);
    produce_numbered(r.topic, 3, 4);
    wait_stored(conn, &r, pid, 5, 30000);
    assert_int_equal(kill(pid, SIGTERM), 0);
    int status = wait_exit(pid, 30000);
    assert_true(status >= 0 && WIFEXITED(status) && WEXITSTATUS(status) == 0);
    assert_int_equal(pg_int(conn, "SELECT count(*) FROM %s", r.table), 5);
    assert_int_equal(pg_int(conn, "SELECT count(DISTINCT event_id) FROM %s", r.table), 5);
    if (!file_has(r.log, "another writer moved it"))
        fail_msg("the sink's log (%s) does not say that its offset moved", r.log);
    drop_tables(conn, &r);
    PQfinish(conn);
    const char *topics[] = {r.topic};
    kafka_delete_topics(bootstrap, topics, 1);
}

int main(void)
{
    bootstrap = getenv("RILL_TEST_BOOTSTRAP");
    pg_url = getenv("RILL_TEST_PG_URL");
    if (!bootstrap || !*bootstrap || !pg_url || !*pg_url) {
        /* Skipped, not failed: scripts/check also runs test binaries without servers. */
        fprintf(stderr, "test_pg_sink_kafka: skipped: set RILL_TEST_BOOTSTRAP to a real broker's "
                        "address (scripts/kafka up) and RILL_TEST_PG_URL to a PostgreSQL URL "
                        "(scripts/postgres up); `make check` does this for you\n");
        return 0;
    }
    snprintf(run_id, sizeof run_id, "%ld-%d", (long)time(NULL), (int)getpid());
    srand((unsigned)getpid());
    rill_set_log_cb(NULL, NULL, getenv("RILL_DEBUG") ? RILL_LOG_DEBUG : RILL_LOG_WARN);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(test_sigkills_leave_one_row_per_event, teardown),
        cmocka_unit_test_teardown(test_a_refused_record_is_named, teardown),
        cmocka_unit_test_teardown(test_a_moved_offset_is_followed, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
