/*
 * Interactive queries over HTTP (query.listen, engine/query_server.c) on the embedded cluster, one
 * instance holding every partition: a count and a windowed count of 300 records over 30 keys
 * (w0..w29, 10 each, in 1 s windows) answer through real HTTP what an independent count of the
 * input says: every key's count, key ranges and prefixes with the rows memcmp order puts there,
 * a limit that truncates and says so, windows whose counts add up to the key's; and the errors:
 * an absent key (404 naming it), an unknown store (404), a store of another kind (400), a key
 * the key serde cannot take, a bad integer argument, another method (405), the app closed (503
 * with Retry-After), and a malformed query.listen refused when set. Two instances: each key
 * answered by the one holding its partition, refused with 421 naming it by the other, keys with
 * '/', '+' and a space in the path; HEAD.
 */
#define _GNU_SOURCE /* nftw's FTW_DEPTH | FTW_PHYS (temp_dir.h) */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "../common/embedded_app.h"
#include "../common/http_client.h"
#include "../common/temp_dir.h"

#include <rill/app.h>
#include <rill/dsl.h>

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

enum { KEYS = 30, PER_KEY = 10, WIN_MS = 1000 };

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* GETs base+path: the status, and the body parsed as JSON in *doc (NULL when it is not). */
static int get_json(const char *base, const char *path, json_t **doc)
{
    char *body = NULL;
    int status = http_call("GET", base, path, NULL, &body);
    *doc = body ? json_loads(body, 0, NULL) : NULL;
    if (body && !*doc)
        fail_msg("GET %s: not JSON: %s", path, body);
    free(body);
    return status;
}

/* The rows of a list answer, checked to be an object with "rows" and "truncated". */
static json_t *rows_of(json_t *doc, bool *truncated)
{
    json_t *rows = json_object_get(doc, "rows");
    assert_true(json_is_array(rows));
    *truncated = json_is_true(json_object_get(doc, "truncated"));
    return rows;
}

/* Keys k of w0..w(KEYS-1) with from <= k <= to (memcmp, shorter first: strcmp here). */
static int keys_between(const char *from, const char *to)
{
    int n = 0;
    for (int i = 0; i < KEYS; i++) {
        char k[16];
        snprintf(k, sizeof k, "w%d", i);
        n += strcmp(k, from) >= 0 && strcmp(k, to) <= 0;
    }
    return n;
}

static void test_queries_over_http(void **state)
{
    (void)state;
    char dir[64], err[512];
    assert_int_equal(temp_dir_make(dir, "query-http"), 0);
    rill_topology_t *topo = rill_topology_new();
    rill_grouped_t *g = rill_stream_group_by_key(
        rill_stream_from_topic(topo, "words",
                               &(rill_source_opts_t){.key_serde = rill_serde_string(),
                                                     .value_serde = rill_serde_string()}),
        NULL);
    rill_grouped_count(g, &(rill_materialized_t){.name = "counts"});
    rill_windowed_count(rill_grouped_windowed_by(g, rill_windows_tumbling(WIN_MS, 0)),
                        &(rill_materialized_t){.name = "wcounts", .retention_ms = 86400000});
    /* No record cache: the stores hold every count as soon as it is processed. */
    const char *extra[] = {"query.listen", "127.0.0.1:0", "statestore.cache.max.bytes", "0", NULL};
    rill_app_t *app = embedded_app_new(topo, "query-http", dir, extra);
    rill_producer_t *p = rill_producer_new(rill_app_bootstrap_servers(app), err, sizeof err);
    assert_non_null(p);
    for (int i = 0; i < KEYS * PER_KEY; i++) {
        char k[16];
        snprintf(k, sizeof k, "w%d", i % KEYS);
        /* Record times spread over 5 windows per key. */
        assert_int_equal(rill_producer_send(p, "words", -1, rill_buf_str(k), rill_buf_str("x"),
                                            1000000 + (int64_t)(i / KEYS) * 500),
                         0);
    }
    assert_int_equal(rill_producer_flush(p, 10000), 0);
    assert_null(rill_app_query_url(app)); /* not started */
    assert_int_equal(rill_app_start(app), 0);
    const char *url = rill_app_query_url(app);
    assert_non_null(url);
    assert_true(!strncmp(url, "http://127.0.0.1:", 17));
    int64_t deadline = now_ms() + 30000;
    while (rill_app_metric(app, "records-processed") < KEYS * PER_KEY ||
           rill_app_state(app) != RILL_STATE_RUNNING) {
        if (now_ms() > deadline)
            fail_msg("300 records not processed within 30 s");
        struct timespec pause = {0, 50 * 1000000};
        nanosleep(&pause, NULL);
    }

    /* The stores. */
    json_t *doc;
    assert_int_equal(get_json(url, "/stores", &doc), 200);
    json_t *stores = json_object_get(doc, "stores");
    assert_int_equal(json_array_size(stores), 2);
    char *text = json_dumps(stores, JSON_COMPACT);
    assert_non_null(strstr(text, "{\"name\":\"counts\",\"type\":\"key-value\"}"));
    assert_non_null(strstr(text, "{\"name\":\"wcounts\",\"type\":\"window\"}"));
    free(text);
    json_decref(doc);

    /* Every key's count. */
    for (int i = 0; i < KEYS; i++) {
        char path[64], k[16];
        snprintf(k, sizeof k, "w%d", i);
        snprintf(path, sizeof path, "/stores/counts/keys/%s", k);
        assert_int_equal(get_json(url, path, &doc), 200);
        assert_string_equal(json_string_value(json_object_get(doc, "key")), k);
        assert_int_equal(json_integer_value(json_object_get(doc, "value")), PER_KEY);
        json_int_t part = json_integer_value(json_object_get(doc, "partition"));
        assert_true(part >= 0 && part < 4);
        assert_true(json_integer_value(json_object_get(doc, "timestamp")) >= 1000000);
        json_decref(doc);
    }
    assert_int_equal(get_json(url, "/stores/counts/keys/nope", &doc), 404);
    assert_non_null(strstr(json_string_value(json_object_get(doc, "error")), "no key 'nope'"));
    json_decref(doc);

    /* Ranges and prefixes: the rows an independent filter of the keys says, each counted 10. */
    static const char *const ranges[][2] = {{"w1", "w2"}, {"w0", "w9"}, {"w25", "w3"}};
    for (size_t r = 0; r < sizeof ranges / sizeof ranges[0]; r++) {
        char path[128];
        snprintf(path, sizeof path, "/stores/counts/range?from=%s&to=%s", ranges[r][0],
                 ranges[r][1]);
        assert_int_equal(get_json(url, path, &doc), 200);
        bool truncated;
        json_t *rows = rows_of(doc, &truncated);
        assert_false(truncated);
        if ((int)json_array_size(rows) != keys_between(ranges[r][0], ranges[r][1]))
            fail_msg("%s: %zu rows, not %d", path, json_array_size(rows),
                     keys_between(ranges[r][0], ranges[r][1]));
        size_t i;
        json_t *row;
        json_array_foreach(rows, i, row)
        {
            const char *k = json_string_value(json_object_get(row, "key"));
            assert_true(strcmp(k, ranges[r][0]) >= 0 && strcmp(k, ranges[r][1]) <= 0);
            assert_int_equal(json_integer_value(json_object_get(row, "value")), PER_KEY);
        }
        json_decref(doc);
    }
    bool truncated;
    assert_int_equal(get_json(url, "/stores/counts/range", &doc), 200);
    assert_int_equal(json_array_size(rows_of(doc, &truncated)), KEYS);
    assert_false(truncated);
    json_decref(doc);
    assert_int_equal(get_json(url, "/stores/counts/prefix/w1", &doc), 200);
    assert_int_equal(json_array_size(rows_of(doc, &truncated)), 11); /* w1, w10..w19 */
    json_decref(doc);
    assert_int_equal(get_json(url, "/stores/counts/range?limit=5", &doc), 200);
    assert_int_equal(json_array_size(rows_of(doc, &truncated)), 5);
    assert_true(truncated);
    json_decref(doc);

    /* Windows: w3's windows hold its 10 records, each window aligned to 1 s. */
    assert_int_equal(get_json(url, "/stores/wcounts/windows?key=w3", &doc), 200);
    json_t *rows = rows_of(doc, &truncated);
    json_int_t total = 0;
    size_t i;
    json_t *row;
    json_array_foreach(rows, i, row)
    {
        assert_string_equal(json_string_value(json_object_get(row, "key")), "w3");
        assert_int_equal(json_integer_value(json_object_get(row, "start")) % WIN_MS, 0);
        total += json_integer_value(json_object_get(row, "value"));
    }
    assert_int_equal(total, PER_KEY);
    assert_int_equal(json_array_size(rows), 5); /* 1,000,000 + 0..4,500 ms: 5 windows */
    json_decref(doc);
    assert_int_equal(get_json(url, "/stores/wcounts/windows?key=w3&from=1002000&to=1002000", &doc),
                     200);
    assert_int_equal(json_array_size(rows_of(doc, &truncated)), 1);
    json_decref(doc);

    /* Errors, each naming its culprit. */
    static const struct {
        const char *path;
        int status;
        const char *says;
    } bad[] = {
        {"/stores/nope/keys/w1", 404, "no queryable store 'nope'"},
        {"/stores/counts/windows?key=w1", 400, "store 'counts' is not a window store"},
        {"/stores/wcounts/keys/w1", 400, "not a key-value store"},
        {"/stores/counts/range?limit=0", 400, "limit=0 is not an integer"},
        {"/stores/wcounts/windows?key=w1&from=x", 400, "from=x is not an integer"},
        {"/stores/counts/sessions", 400, "sessions need ?key="},
        {"/stores/counts/frobnicate", 404, "not found"},
        {"/elsewhere", 404, "try /stores"},
    };
    for (size_t b = 0; b < sizeof bad / sizeof bad[0]; b++) {
        int status = get_json(url, bad[b].path, &doc);
        const char *why = json_string_value(json_object_get(doc, "error"));
        if (status != bad[b].status || !why || !strstr(why, bad[b].says))
            fail_msg("GET %s: %d %s, not %d saying \"%s\"", bad[b].path, status,
                     why ? why : "(no error)", bad[b].status, bad[b].says);
        json_decref(doc);
    }
    char *body = NULL;
    assert_int_equal(http_call("POST", url, "/stores/counts/keys/w1", "{}", &body), 405);
    free(body);

    /* Closed: 503 and a Retry-After, not a wrong answer. */
    assert_int_equal(rill_app_close(app, 10000), 0);
    assert_int_equal(get_json(url, "/stores/counts/keys/w1", &doc), 503);
    assert_non_null(strstr(json_string_value(json_object_get(doc, "error")), "not running"));
    json_decref(doc);
    rill_producer_destroy(p);
    rill_app_destroy(app);
    rill_topology_unref(topo);
    temp_dir_remove(dir);
}

/* Keys the key serde cannot take: an int64 store queried with a word. */
static void test_key_text_is_checked(void **state)
{
    (void)state;
    char dir[64];
    assert_int_equal(temp_dir_make(dir, "query-http-int"), 0);
    rill_topology_t *topo = rill_topology_new();
    rill_table_from(
        topo, "ids",
        &(rill_source_opts_t){.key_serde = rill_serde_int64(), .value_serde = rill_serde_string()},
        &(rill_materialized_t){.name = "by-id"});
    const char *extra[] = {"query.listen", "127.0.0.1:0", NULL};
    rill_app_t *app = embedded_app_new(topo, "query-http-int", dir, extra);
    char err[512];
    rill_producer_t *p = rill_producer_new(rill_app_bootstrap_servers(app), err, sizeof err);
    assert_non_null(p);
    int64_t id = 42; /* big-endian, as Kafka's LongSerializer writes it */
    uint8_t be[8];
    for (int b = 0; b < 8; b++)
        be[b] = (uint8_t)((uint64_t)id >> (56 - 8 * b));
    assert_int_equal(
        rill_producer_send(p, "ids", -1, (rill_buf_t){be, 8}, rill_buf_str("forty-two"), 1000), 0);
    assert_int_equal(rill_producer_flush(p, 10000), 0);
    assert_int_equal(rill_app_start(app), 0);
    const char *url = rill_app_query_url(app);
    json_t *doc = NULL;
    int64_t deadline = now_ms() + 30000;
    while (get_json(url, "/stores/by-id/keys/42", &doc) != 200) {
        json_decref(doc);
        if (now_ms() > deadline)
            fail_msg("key 42 not queryable within 30 s");
        struct timespec pause = {0, 50 * 1000000};
        nanosleep(&pause, NULL);
    }
    assert_int_equal(json_integer_value(json_object_get(doc, "key")), 42);
    assert_string_equal(json_string_value(json_object_get(doc, "value")), "forty-two");
    json_decref(doc);
    assert_int_equal(get_json(url, "/stores/by-id/keys/forty", &doc), 400);
    assert_non_null(
        strstr(json_string_value(json_object_get(doc, "error")), "'forty' is not an integer"));
    json_decref(doc);
    assert_int_equal(rill_app_close(app, 10000), 0);
    rill_producer_destroy(p);
    rill_app_destroy(app);
    rill_topology_unref(topo);
    temp_dir_remove(dir);

    /* A malformed query.listen is refused when set. */
    rill_conf_t *conf = rill_conf_new();
    assert_int_equal(rill_conf_set(conf, "query.listen", "localhost", err, sizeof err),
                     RILL_ECONFIG);
    assert_non_null(strstr(err, "query.listen"));
    rill_conf_destroy(conf);
}

/* GETs base+path with the response header name's value copied into value (empty: none). */
static int get_with_header(const char *base, const char *path, const char *name, char *value,
                           size_t size, json_t **doc)
{
    char url[1024], *body = NULL;
    snprintf(url, sizeof url, "%s%s", base, path);
    CURL *curl = curl_easy_init();
    http_body_t b = {0};
    curl_easy_setopt(curl, CURLOPT_URL, url);
    curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, http_take);
    curl_easy_setopt(curl, CURLOPT_WRITEDATA, &b);
    curl_easy_setopt(curl, CURLOPT_TIMEOUT, 30L);
    curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
    long code = -1;
    value[0] = 0;
    if (curl_easy_perform(curl) == CURLE_OK) {
        curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &code);
        struct curl_header *h;
        if (curl_easy_header(curl, name, 0, CURLH_HEADER, -1, &h) == CURLHE_OK)
            snprintf(value, size, "%s", h->value);
    }
    curl_easy_cleanup(curl);
    body = b.data;
    *doc = body ? json_loads(body, 0, NULL) : NULL;
    free(body);
    return (int)code;
}

static bool both_running(rill_app_t *a, rill_app_t *b, int64_t processed)
{
    return rill_app_state(a) == RILL_STATE_RUNNING && rill_app_state(b) == RILL_STATE_RUNNING &&
           rill_app_metric(a, "records-processed") + rill_app_metric(b, "records-processed") >=
               processed;
}

/* Two instances of one app share the partitions: each key is answered (200, its count) by the
 * one that holds its partition and refused with 421 and that partition by the other; keys with
 * '/', '+' and spaces in the path; HEAD. */
static void test_two_instances(void **state)
{
    (void)state;
    char dir1[64], dir2[64], err[512];
    assert_int_equal(temp_dir_make(dir1, "query-http-a"), 0);
    assert_int_equal(temp_dir_make(dir2, "query-http-b"), 0);
    rill_topology_t *topo = rill_topology_new();
    rill_grouped_count(
        rill_stream_group_by_key(
            rill_stream_from_topic(topo, "words",
                                   &(rill_source_opts_t){.key_serde = rill_serde_string(),
                                                         .value_serde = rill_serde_string()}),
            NULL),
        &(rill_materialized_t){.name = "counts"});
    const char *extra[] = {"query.listen", "127.0.0.1:0", "statestore.cache.max.bytes", "0", NULL};
    rill_app_t *a = embedded_app_new(topo, "query-http-two", dir1, extra);
    const char *extra2[] = {"query.listen", "127.0.0.1:0", "statestore.cache.max.bytes", "0",
                            "bootstrap.servers", rill_app_bootstrap_servers(a),
                            /* By address it does not get the embedded default session timeout:
                             * a rebalance would wait 45 s for it (test_queries does the same). */
                            "consumer.session.timeout.ms", "6000", NULL};
    rill_app_t *b = embedded_app_new(topo, "query-http-two", dir2, extra2);
    rill_producer_t *p = rill_producer_new(rill_app_bootstrap_servers(a), err, sizeof err);
    assert_non_null(p);
    static const char *const odd[] = {"a/b", "c+d", "e f"};
    enum { N = 40 };
    char keys[N + 3][16];
    /* First the group settles (each instance runs 2 of the 4 tasks), then the records come: no
     * task moves while they are counted, so at-least-once counts each once. */
    assert_int_equal(rill_app_start(a), 0);
    assert_int_equal(rill_app_start(b), 0);
    int64_t deadline = now_ms() + 60000;
    while (!both_running(a, b, 0) || rill_app_metric(a, "tasks") == 0 ||
           rill_app_metric(b, "tasks") == 0 ||
           rill_app_metric(a, "tasks") + rill_app_metric(b, "tasks") != 4) {
        if (now_ms() > deadline)
            fail_msg("the two instances did not share the 4 tasks within 60 s (%lld and %lld)",
                     (long long)rill_app_metric(a, "tasks"),
                     (long long)rill_app_metric(b, "tasks"));
        struct timespec pause = {0, 50 * 1000000};
        nanosleep(&pause, NULL);
    }
    int64_t total = 0;
    for (int i = 0; i < N + 3; i++) {
        if (i < N)
            snprintf(keys[i], sizeof keys[i], "k%d", i);
        else
            snprintf(keys[i], sizeof keys[i], "%s", odd[i - N]);
        for (int r = 0; r <= i % 3; r++, total++) /* key i counted i % 3 + 1 times */
            assert_int_equal(
                rill_producer_send(p, "words", -1, rill_buf_str(keys[i]), rill_buf_str("x"), 1000),
                0);
    }
    assert_int_equal(rill_producer_flush(p, 10000), 0);
    while (!both_running(a, b, total)) {
        if (now_ms() > deadline + 30000)
            fail_msg("the two instances did not process %lld records", (long long)total);
        struct timespec pause = {0, 50 * 1000000};
        nanosleep(&pause, NULL);
    }
    const char *urls[2] = {rill_app_query_url(a), rill_app_query_url(b)};
    int answered[2] = {0, 0};
    for (int i = 0; i < N + 3; i++) {
        char path[96], esc[48] = "";
        /* The path: '/' and '+' as they are, a space as %20. */
        for (const char *c = keys[i]; *c; c++)
            strncat(esc, *c == ' ' ? "%20" : (char[]){*c, 0}, sizeof esc - strlen(esc) - 1);
        snprintf(path, sizeof path, "/stores/counts/keys/%s", esc);
        int status[2];
        char part[2][32];
        json_t *doc[2];
        /* A rebalance may still be settling: 503 (never a wrong answer) until one instance
         * answers and the other refuses, within a bound. */
        int64_t until = now_ms() + 30000;
        for (;;) {
            for (int n = 0; n < 2; n++)
                status[n] = get_with_header(urls[n], path, "Rill-Partition", part[n],
                                            sizeof part[n], &doc[n]);
            for (int n = 0; n < 2; n++)
                if (status[n] == 200 &&
                    json_integer_value(json_object_get(doc[n], "value")) != i % 3 + 1)
                    fail_msg("%s: a wrong count from instance %d", path, n);
            if ((status[0] == 200 && status[1] == 421) || (status[0] == 421 && status[1] == 200))
                break;
            if (now_ms() > until || (status[0] != 503 && status[1] != 503))
                fail_msg("%s: %d and %d, not one 200 and one 421", path, status[0], status[1]);
            json_decref(doc[0]);
            json_decref(doc[1]);
            struct timespec pause = {0, 50 * 1000000};
            nanosleep(&pause, NULL);
        }
        int here = status[0] == 200 ? 0 : 1, there = 1 - here;
        answered[here]++;
        assert_string_equal(json_string_value(json_object_get(doc[here], "key")), keys[i]);
        assert_int_equal(json_integer_value(json_object_get(doc[here], "value")), i % 3 + 1);
        /* The refusal names the partition the answer came from. */
        assert_int_equal(atoi(part[there]),
                         json_integer_value(json_object_get(doc[here], "partition")));
        assert_non_null(strstr(json_string_value(json_object_get(doc[there], "error")),
                               "which this instance does not hold"));
        json_decref(doc[0]);
        json_decref(doc[1]);
    }
    /* Both hold some of the 4 partitions (the range assignor splits them 2 and 2). */
    assert_true(answered[0] > 0 && answered[1] > 0);
    /* HEAD: the status, no body. */
    char url[256];
    snprintf(url, sizeof url, "%s/stores", urls[0]);
    CURL *curl = curl_easy_init();
    http_body_t hb = {0};
    curl_easy_setopt(curl, CURLOPT_URL, url);
    curl_easy_setopt(curl, CURLOPT_NOBODY, 1L);
    curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, http_take);
    curl_easy_setopt(curl, CURLOPT_WRITEDATA, &hb);
    curl_easy_setopt(curl, CURLOPT_TIMEOUT, 30L);
    long code = -1;
    assert_int_equal(curl_easy_perform(curl), CURLE_OK);
    curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &code);
    curl_easy_cleanup(curl);
    assert_int_equal(code, 200);
    assert_int_equal(hb.len, 0);
    free(hb.data);
    assert_int_equal(rill_app_close(b, 10000), 0);
    assert_int_equal(rill_app_close(a, 10000), 0);
    rill_producer_destroy(p);
    rill_app_destroy(b);
    rill_app_destroy(a);
    rill_topology_unref(topo);
    temp_dir_remove(dir1);
    temp_dir_remove(dir2);
}

int main(void)
{
    rill_set_log_cb(NULL, NULL, RILL_LOG_WARN);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_queries_over_http),
        cmocka_unit_test(test_key_text_is_checked),
        cmocka_unit_test(test_two_instances),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
