/*
 * The app's metrics endpoint (metrics.listen) on the embedded cluster, through real HTTP: a
 * filter-map app is fed 1,000 records and 10 that do not deserialize, and its /metrics must say
 * what it did (processed 1,000, skipped 10, 500 outputs in the end-to-end histogram, 4 tasks
 * RUNNING, lag 0 on every partition once caught up, the brokers' round trips), in a well-formed
 * Prometheus text exposition (every sample after its family's HELP and TYPE, histograms'
 * buckets cumulative with +Inf equal to _count). /healthz and /readyz answer as the app's state
 * goes; a metrics.listen not of the form host:port is refused when set, and one that cannot be
 * served fails the start, each naming it. At metrics.recording.level DEBUG a count's store says
 * each get, put and flush, and each node the records it processed; a restore shows per store.
 */
#define _GNU_SOURCE /* nftw's FTW_DEPTH | FTW_PHYS (temp_dir.h) */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "../common/embedded_app.h"
#include "../common/filter_map.h"
#include "../common/http_client.h"
#include "../common/run_command.h"
#include "../common/temp_dir.h"

#include <rill/app.h>
#include <rill/dsl.h>
#include <rill/statestore.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <regex.h>
#include <sys/socket.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/* Sums the values of the samples of series name (exact name, before '{' or ' ') whose labels
 * contain every "k=\"v\"" of must (NULL-terminated, may be NULL); *found counts them. */
static double sum_of(const char *text, const char *name, const char *const *must, int *found)
{
    double sum = 0;
    int n = 0;
    size_t len = strlen(name);
    for (const char *line = text; line && *line;
         line = strchr(line, '\n') ? strchr(line, '\n') + 1 : NULL) {
        if (strncmp(line, name, len) != 0 || (line[len] != '{' && line[len] != ' '))
            continue;
        const char *eol = strchr(line, '\n');
        size_t l = eol ? (size_t)(eol - line) : strlen(line);
        char buf[1024];
        snprintf(buf, sizeof buf, "%.*s", (int)l, line);
        bool ok = true;
        for (size_t i = 0; must && must[i]; i++)
            ok = ok && strstr(buf, must[i]);
        if (!ok)
            continue;
        const char *sp = strrchr(buf, ' ');
        sum += strtod(sp + 1, NULL);
        n++;
    }
    if (found)
        *found = n;
    return sum;
}

/* Checks the exposition's form: comments are HELP or TYPE, a family's TYPE comes before its
 * samples, each sample is name{labels} value, and each histogram's +Inf bucket equals _count. */
static void assert_well_formed(const char *text)
{
    regex_t sample, help, type;
    assert_int_equal(regcomp(&sample,
                             "^([a-zA-Z_:][a-zA-Z0-9_:]*)(\\{([a-zA-Z_][a-zA-Z0-9_]*=\"([^\"\\\\]|"
                             "\\\\.)*\",?)*\\})? (-?[0-9.eE+-]+|\\+Inf|NaN)$",
                             REG_EXTENDED),
                     0);
    assert_int_equal(regcomp(&help, "^# HELP [a-zA-Z_:][a-zA-Z0-9_:]* .+$", REG_EXTENDED), 0);
    assert_int_equal(regcomp(&type, "^# TYPE ([a-zA-Z_:][a-zA-Z0-9_:]*) (counter|gauge|histogram)$",
                             REG_EXTENDED),
                     0);
    char family[128] = "", ftype[16] = "";
    int lines = 0;
    for (const char *line = text; *line;) {
        const char *eol = strchr(line, '\n');
        assert_non_null(eol); /* every line ends with a newline */
        char buf[2048];
        snprintf(buf, sizeof buf, "%.*s", (int)(eol - line), line);
        regmatch_t m[2];
        if (!strncmp(buf, "# HELP", 6)) {
            if (regexec(&help, buf, 0, NULL, 0))
                fail_msg("bad HELP line: %s", buf);
        } else if (!strncmp(buf, "# TYPE", 6)) {
            if (regexec(&type, buf, 2, m, 0))
                fail_msg("bad TYPE line: %s", buf);
            snprintf(family, sizeof family, "%.*s", (int)(m[1].rm_eo - m[1].rm_so),
                     buf + m[1].rm_so);
            snprintf(ftype, sizeof ftype, "%s", strrchr(buf, ' ') + 1);
        } else {
            if (regexec(&sample, buf, 2, m, 0))
                fail_msg("bad sample line: %s", buf);
            char name[128];
            snprintf(name, sizeof name, "%.*s", (int)(m[1].rm_eo - m[1].rm_so), buf + m[1].rm_so);
            size_t fl = strlen(family);
            bool mine = !strcmp(name, family) ||
                        (!strcmp(ftype, "histogram") && !strncmp(name, family, fl) &&
                         (!strcmp(name + fl, "_bucket") || !strcmp(name + fl, "_sum") ||
                          !strcmp(name + fl, "_count")));
            if (!mine)
                fail_msg("sample %s outside its family (the last TYPE was %s)", name, family);
            lines++;
        }
        line = eol + 1;
    }
    assert_true(lines > 50);
    regfree(&sample);
    regfree(&help);
    regfree(&type);
}

static char *get(const char *url, const char *path, int *status)
{
    char *out = NULL;
    *status = http_call("GET", url, path, NULL, &out);
    return out;
}

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void test_metrics_say_what_the_app_did(void **state)
{
    (void)state;
    char dir[64], err[512];
    assert_int_equal(temp_dir_make(dir, "metrics"), 0);
    rill_topology_t *topo = rill_topology_new();
    rill_stream_t *s = rill_stream_from_topic(topo, "input", NULL);
    rill_stream_to(rill_stream_map_values(rill_stream_filter(s, even, NULL), tag, NULL), "output",
                   NULL);
    rill_app_t *app = embedded_app_new(topo, "metrics-e2e", dir, watched_conf);
    assert_null(rill_app_metrics_url(app)); /* not started */
    rill_producer_t *p = rill_producer_new(rill_app_bootstrap_servers(app), err, sizeof err);
    assert_non_null(p);
    produce_numbered(p, 1000);
    produce_not_utf8(p, 10);
    assert_int_equal(rill_producer_flush(p, 10000), 0);
    assert_int_equal(rill_app_start(app), 0);
    const char *url = rill_app_metrics_url(app);
    assert_non_null(url);
    assert_true(!strncmp(url, "http://127.0.0.1:", 17));
    int status = 0;
    free(get(url, "/healthz", &status));
    assert_int_equal(status, 200);
    assert_int_equal(rill_app_wait_state(app, RILL_STATE_RUNNING, 30000), 0);
    char *body = get(url, "/readyz", &status);
    assert_int_equal(status, 200);
    assert_string_equal(body, "RUNNING\n");
    free(body);

    /* Wait (bounded) until every record is processed and the statistics show the lag at 0 on
     * the 4 partitions. */
    char *text = NULL;
    int64_t deadline = now_ms() + 30000;
    for (;;) {
        free(text);
        text = get(url, "/metrics", &status);
        assert_int_equal(status, 200);
        int parts = 0;
        double lag = sum_of(text, "rill_consumer_lag", NULL, &parts);
        if (sum_of(text, "rill_records_processed_total", NULL, NULL) == 1000 &&
            sum_of(text, "rill_records_skipped_total", NULL, NULL) == 10 && parts == 4 &&
            lag == 0 && sum_of(text, "rill_record_e2e_latency_seconds_count", NULL, NULL) == 500 &&
            strstr(text, "\nrill_producer_queue_messages{")) /* the producer's statistics too */
            break;
        if (now_ms() > deadline)
            fail_msg("the metrics did not reach the app's counts within 30 s:\n%s", text);
        struct timespec pause = {0, 100 * 1000000};
        nanosleep(&pause, NULL);
    }
    assert_well_formed(text);
    /* Prometheus' own linter agrees (promtool, from scripts/setup's prometheus package). */
    char path[] = "/tmp/rill-metrics-XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
    close(fd);
    char cmd[256], lint[4096];
    snprintf(cmd, sizeof cmd, "promtool check metrics < %s", path);
    if (run(cmd, lint, sizeof lint))
        fail_msg("promtool check metrics: %s", lint);
    unlink(path);
    const char *running[] = {"state=\"RUNNING\"", NULL};
    assert_int_equal(sum_of(text, "rill_app_state", running, NULL), 1);
    assert_int_equal(sum_of(text, "rill_stream_threads", NULL, NULL), 1);
    const char *created[] = {"state=\"CREATED\"", NULL};
    assert_int_equal(sum_of(text, "rill_app_state", created, NULL), 0);
    int tasks = 0;
    assert_int_equal(sum_of(text, "rill_task_info", running, &tasks), 4);
    assert_int_equal(tasks, 4);
    const char *deser[] = {"cause=\"deserialization\"", NULL};
    assert_int_equal(sum_of(text, "rill_records_skipped_total", deser, NULL), 10);
    const char *app_label[] = {"application_id=\"metrics-e2e\"", NULL};
    int series = 0;
    sum_of(text, "rill_records_processed_total", app_label, &series);
    assert_int_equal(series, 4); /* one per task */
    /* Every record went through a batch; the histograms' counts agree with their buckets. */
    assert_true(sum_of(text, "rill_process_latency_seconds_count", NULL, NULL) >= 1010);
    const char *inf[] = {"le=\"+Inf\"", NULL};
    assert_int_equal(sum_of(text, "rill_record_e2e_latency_seconds_bucket", inf, NULL), 500);
    assert_int_equal(sum_of(text, "rill_records_produced_total", NULL, NULL), 500);
    assert_true(sum_of(text, "rill_commits_total", NULL, NULL) >= 1);
    int brokers = 0;
    const char *consumer[] = {"client=\"consumer\"", NULL};
    assert_true(sum_of(text, "rill_broker_requests_total", consumer, &brokers) > 0);
    if (brokers != 3) /* the embedded cluster's 3 brokers */
        fail_msg("%d brokers:\n%s", brokers, strstr(text, "# HELP rill_broker_requests_total"));
    /* The producer's statistics: it talked to the brokers that lead the output's partitions,
     * and its queue has a gauge. */
    const char *producer[] = {"client=\"producer\"", NULL};
    assert_true(sum_of(text, "rill_broker_requests_total", producer, &brokers) > 0);
    assert_true(brokers >= 1 && brokers <= 3);
    int queues = 0;
    sum_of(text, "rill_producer_queue_messages", NULL, &queues);
    assert_int_equal(queues, 1);
    assert_int_equal(sum_of(text, "rill_rocksdb_memory_bound_bytes", NULL, NULL), 67108864);
    free(text);

    /* The same text without HTTP. */
    char *direct = rill_app_metrics_text(app);
    assert_non_null(direct);
    assert_int_equal(sum_of(direct, "rill_records_processed_total", NULL, NULL), 1000);
    rill_free(direct);

    /* The live view, once: what the app did, and the lag of each partition. */
    char view[8192];
    assert_int_equal(run_rill(view, sizeof view, "metrics --connect %s --once --interval 0.2",
                              url + strlen("http://")),
                     0);
    if (getenv("RILL_TEST_SHOW")) /* what docs/monitoring.md shows */
        fputs(view, stdout);
    const char *says[] = {"rill metrics: metrics-e2e at http://127.0.0.1:",
                          "state RUNNING",
                          "tasks 4 (4 running)",
                          "processed 1000 (",
                          "produced 500 (",
                          "skipped 10 (",
                          "dead letters 0"};
    for (size_t i = 0; i < sizeof says / sizeof says[0]; i++)
        if (!strstr(view, says[i]))
            fail_msg("rill metrics does not say \"%s\":\n%s", says[i], view);
    regex_t lag_line;
    assert_int_equal(regcomp(&lag_line, "\ninput +[0-3] +0\n", REG_EXTENDED), 0);
    int lag_lines = 0;
    for (const char *v = view; !regexec(&lag_line, v, 0, NULL, 0); lag_lines++)
        v = strstr(v, "\ninput ") + 1;
    regfree(&lag_line);
    if (lag_lines != 4)
        fail_msg("%d lag lines, not 4:\n%s", lag_lines, view);
    assert_int_equal(run_rill(view, sizeof view, "metrics --connect 127.0.0.1:1 --once"), 1);
    assert_non_null(strstr(view, "rill metrics: GET http://127.0.0.1:1/metrics"));

    free(get(url, "/nope", &status));
    assert_int_equal(status, 404);
    assert_int_equal(rill_app_close(app, 10000), 0);
    body = get(url, "/readyz", &status);
    assert_int_equal(status, 503);
    assert_string_equal(body, "NOT_RUNNING\n");
    free(body);
    text = get(url, "/metrics", &status);
    const char *stopped[] = {"state=\"NOT_RUNNING\"", NULL};
    assert_int_equal(sum_of(text, "rill_app_state", stopped, NULL), 1);
    assert_int_equal(sum_of(text, "rill_stream_threads", NULL, NULL), 0); /* none alive now */
    free(text);
    rill_producer_destroy(p);
    rill_app_destroy(app);
    rill_topology_unref(topo);
    temp_dir_remove(dir);
}

/* Waits (bounded) until /metrics at url satisfies done(text); returns the text (free). */
static char *wait_metrics(const char *url, bool (*done)(const char *text), const char *what)
{
    int64_t deadline = now_ms() + 30000;
    for (;;) {
        int status = 0;
        char *text = get(url, "/metrics", &status);
        if (status == 200 && text && done(text))
            return text;
        if (now_ms() > deadline)
            fail_msg("no %s within 30 s:\n%s", what, text ? text : "(no answer)");
        free(text);
        struct timespec pause = {0, 100 * 1000000};
        nanosleep(&pause, NULL);
    }
}

static bool counted_300(const char *text)
{
    return sum_of(text, "rill_records_processed_total", NULL, NULL) == 300;
}

/* The record cache written through at least once (a commit), at DEBUG. */
static bool flushed(const char *text)
{
    const char *flush[] = {"op=\"flush\"", NULL};
    return sum_of(text, "rill_store_latency_seconds_count", flush, NULL) >= 1;
}

static bool restored(const char *text)
{
    const char *running[] = {"state=\"RUNNING\"", NULL};
    return sum_of(text, "rill_app_state", running, NULL) == 1 &&
           sum_of(text, "rill_records_restored_total", NULL, NULL) > 0 &&
           sum_of(text, "rill_restore_remaining_records", NULL, NULL) == 0;
}

/* A count's store restored from its changelog by a second instance with an empty state
 * directory: rill_records_restored_total counts what it read, rill_restore_remaining_records
 * comes back to 0, and the tasks run. */
static void test_restore_shows_in_the_metrics(void **state)
{
    (void)state;
    char dir1[64], dir2[64], err[512];
    assert_int_equal(temp_dir_make(dir1, "metrics-restore-1"), 0);
    assert_int_equal(temp_dir_make(dir2, "metrics-restore-2"), 0);
    rill_topology_t *topo = rill_topology_new();
    rill_grouped_count(rill_stream_group_by_key(rill_stream_from_topic(topo, "words", NULL), NULL),
                       &(rill_materialized_t){.name = "counts", .backend = RILL_STORE_ROCKSDB});
    const char *extra[] = {"metrics.listen", "127.0.0.1:0", "metrics.recording.level", "DEBUG",
                           NULL};
    rill_app_t *first = embedded_app_new(topo, "metrics-restore", dir1, extra);
    rill_producer_t *p = rill_producer_new(rill_app_bootstrap_servers(first), err, sizeof err);
    assert_non_null(p);
    for (int i = 0; i < 300; i++) {
        char k[16];
        snprintf(k, sizeof k, "w%d", i % 30);
        assert_int_equal(
            rill_producer_send(p, "words", -1, rill_buf_str(k), rill_buf_str("1"), 1000 + i), 0);
    }
    assert_int_equal(rill_producer_flush(p, 10000), 0);
    assert_int_equal(rill_app_start(first), 0);
    free(wait_metrics(rill_app_metrics_url(first), counted_300, "300 records processed"));
    /* Each record read its key's count once: from the record cache or, first, from the store. */
    int64_t hits = rill_app_metric(first, "cache-hits"),
            misses = rill_app_metric(first, "cache-misses");
    if (hits + misses != 300 || misses < 30)
        fail_msg("cache hits %lld + misses %lld: not 300 reads with at least 30 misses (30 keys)",
                 (long long)hits, (long long)misses);
    /* At DEBUG, the store's operations: each record one get and one put of its key, the
     * record cache written through at least once (at a commit); no delete, no range. And the
     * processor nodes: each of the two (source, count) processed every record. */
    char *debug = wait_metrics(rill_app_metrics_url(first), flushed, "a flush of the cache");
    const char *store_get[] = {"store=\"counts\"", "op=\"get\"", NULL};
    const char *store_put[] = {"store=\"counts\"", "op=\"put\"", NULL};
    const char *store_flush[] = {"store=\"counts\"", "op=\"flush\"", NULL};
    const char *store_range[] = {"op=\"range\"", NULL};
    int series = 0;
    double gets = sum_of(debug, "rill_store_latency_seconds_count", store_get, &series),
           puts = sum_of(debug, "rill_store_latency_seconds_count", store_put, NULL),
           flushes = sum_of(debug, "rill_store_latency_seconds_count", store_flush, NULL),
           ranges = sum_of(debug, "rill_store_latency_seconds_count", store_range, NULL);
    if (gets != 300 || puts != 300 || flushes < 1 || ranges != 0 || series < 1)
        fail_msg("the store's operations are %.0f gets, %.0f puts, %.0f flushes, %.0f ranges "
                 "(%d series), not 300, 300, at least 1 and 0",
                 gets, puts, flushes, ranges, series);
    assert_true(sum_of(debug, "rill_store_latency_seconds_sum", store_get, NULL) > 0);
    const char *src[] = {"node=\"KSTREAM-SOURCE-0000000000\"", NULL};
    const char *agg[] = {"node=\"KSTREAM-AGGREGATE-0000000001\"", NULL};
    if (sum_of(debug, "rill_node_records_processed_total", src, NULL) != 300 ||
        sum_of(debug, "rill_node_records_processed_total", agg, NULL) != 300 ||
        sum_of(debug, "rill_node_records_processed_total", NULL, NULL) != 600)
        fail_msg("the nodes did not each process 300 records:\n%s",
                 strstr(debug, "# HELP rill_node_records_processed_total"));
    assert_well_formed(debug);
    free(debug);
    assert_int_equal(rill_app_close(first, 10000), 0); /* commits: the changelog is written */

    /* The same app on the same cluster, with nothing on disk. */
    const char *extra2[] = {"metrics.listen", "127.0.0.1:0", "bootstrap.servers",
                            rill_app_bootstrap_servers(first), NULL};
    rill_app_t *second = embedded_app_new(topo, "metrics-restore", dir2, extra2);
    assert_int_equal(rill_app_start(second), 0);
    char *text = wait_metrics(rill_app_metrics_url(second), restored, "restore");
    double n = sum_of(text, "rill_records_restored_total", NULL, NULL);
    if (n < 30) /* every key's count, at least once */
        fail_msg("%.0f records restored, not at least 30:\n%s", n, text);
    /* The store's own: the same records, and nothing left; at INFO no operation metrics. */
    const char *counts[] = {"store=\"counts\"", NULL};
    int stores = 0;
    if (sum_of(text, "rill_store_records_restored_total", counts, &stores) != n || stores != 4 ||
        sum_of(text, "rill_store_restore_remaining_records", counts, NULL) != 0)
        fail_msg("the store's restore metrics do not say %.0f records restored in 4 tasks:\n%s", n,
                 strstr(text, "# HELP rill_store_records_restored_total"));
    assert_null(strstr(text, "rill_store_latency_seconds"));
    assert_null(strstr(text, "rill_node_records_processed_total"));
    free(text);
    assert_int_equal(rill_app_close(second, 10000), 0);
    rill_app_destroy(second);
    rill_producer_destroy(p);
    rill_app_destroy(first);
    rill_topology_unref(topo);
    temp_dir_remove(dir1);
    temp_dir_remove(dir2);
}

/* Commits counted once each: with no periodic commit (commit.interval.ms far away), an app that
 * processed records commits exactly once more when it closes (a synchronous commit, whose result
 * librdkafka 2.0 also posts to the offset commit callback), and commits nothing when idle. */
static void test_each_commit_counts_once(void **state)
{
    (void)state;
    char dir[64], err[512];
    assert_int_equal(temp_dir_make(dir, "metrics-commits"), 0);
    rill_topology_t *topo = rill_topology_new();
    rill_stream_to(rill_stream_from_topic(topo, "input", NULL), "output", NULL);
    const char *extra[] = {"commit.interval.ms", "3600000", NULL};
    rill_app_t *app = embedded_app_new(topo, "metrics-commits", dir, extra);
    rill_producer_t *p = rill_producer_new(rill_app_bootstrap_servers(app), err, sizeof err);
    assert_non_null(p);
    produce_numbered(p, 100);
    assert_int_equal(rill_producer_flush(p, 10000), 0);
    assert_int_equal(rill_app_start(app), 0);
    int64_t deadline = now_ms() + 30000;
    while (rill_app_metric(app, "records-processed") < 100) {
        if (now_ms() > deadline)
            fail_msg("100 records not processed within 30 s");
        struct timespec pause = {0, 50 * 1000000};
        nanosleep(&pause, NULL);
    }
    assert_int_equal(rill_app_metric(app, "commits"), 0);
    assert_int_equal(rill_app_close(app, 10000), 0);
    assert_int_equal(rill_app_metric(app, "commits"), 1);
    rill_producer_destroy(p);
    rill_app_destroy(app);
    rill_topology_unref(topo);
    temp_dir_remove(dir);
}

/* A metrics.listen that cannot be served fails the start, naming the property. */
static void test_bad_listen_fails_the_start(void **state)
{
    (void)state;
    char dir[64], err[512];
    assert_int_equal(temp_dir_make(dir, "metrics-bad"), 0);
    /* A port someone else holds. */
    int held = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t alen = sizeof a;
    assert_int_equal(bind(held, (struct sockaddr *)&a, sizeof a), 0);
    assert_int_equal(listen(held, 1), 0);
    assert_int_equal(getsockname(held, (struct sockaddr *)&a, &alen), 0);
    char taken[32];
    snprintf(taken, sizeof taken, "127.0.0.1:%d", ntohs(a.sin_port));
    /* Not host:port: refused when set, naming the property and the value. */
    const char *malformed[] = {"127.0.0.1", "127.0.0.1:99999", ":9464",    "127.0.0.1:",
                               "host:9x",   "host: 80",        "host:+80", "::1"};
    for (size_t i = 0; i < sizeof malformed / sizeof malformed[0]; i++) {
        rill_conf_t *conf = rill_conf_new();
        assert_int_equal(rill_conf_set(conf, "metrics.listen", malformed[i], err, sizeof err),
                         RILL_ECONFIG);
        if (!strstr(err, "metrics.listen") || !strstr(err, malformed[i]) ||
            !strstr(err, "not host:port"))
            fail_msg("the error does not name metrics.listen=%s: %s", malformed[i], err);
        rill_conf_destroy(conf);
    }
    /* Well-formed, but not to be served: the start fails. */
    const char *bad[] = {"no.such.host.invalid:9464", taken};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        rill_topology_t *topo = rill_topology_new();
        rill_stream_to(rill_stream_from_topic(topo, "input", NULL), "output", NULL);
        const char *extra[] = {"metrics.listen", bad[i], NULL};
        rill_app_t *app = embedded_app_new(topo, "metrics-bad", dir, extra);
        assert_int_not_equal(rill_app_start(app), 0);
        assert_int_equal(rill_app_state(app), RILL_STATE_ERROR);
        if (!strstr(rill_app_error(app, err, sizeof err), "metrics.listen"))
            fail_msg("the error does not name metrics.listen: %s", err);
        if (i == 1 && !strstr(err, "cannot serve there"))
            fail_msg("the port in use is not named as such: %s", err);
        rill_app_destroy(app);
        rill_topology_unref(topo);
    }
    close(held);
    temp_dir_remove(dir);
}

int main(void)
{
    rill_set_log_cb(NULL, NULL, RILL_LOG_WARN);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_metrics_say_what_the_app_did),
        cmocka_unit_test(test_restore_shows_in_the_metrics),
        cmocka_unit_test(test_bad_listen_fails_the_start),
        cmocka_unit_test(test_each_commit_counts_once),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
