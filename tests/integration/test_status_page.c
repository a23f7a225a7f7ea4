/*
 * The status page (/ of metrics.listen) in a real browser: a filter-map app on the embedded
 * cluster, one node named with HTML's special characters, is fed 200 records and 5 that do not
 * deserialize; once /status.json says every record is processed (or skipped) and every
 * partition's lag is known, headless Chromium (Debian's chromium, scripts/setup) loads the page,
 * runs its script (which fetches /status.json) and dumps the DOM, which must hold the topology's
 * node names in the SVG Graphviz drew, each task RUNNING with its partition, a lag row per
 * partition, the 5 skipped records by cause, and the odd name escaped (text, not markup). Then
 * a screenshot, kept in the test logs (status-page.png: docs/monitoring.md shows one).
 * Chromium's output goes to a log file beside it (status-page-chromium.log).
 */
#define _GNU_SOURCE /* nftw's FTW_DEPTH | FTW_PHYS (temp_dir.h) */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "../common/clock.h"
#include "../common/embedded_app.h"
#include "../common/filter_map.h"
#include "../common/http_client.h"
#include "../common/run_command.h"
#include "../common/temp_dir.h"

#include <rill/app.h>
#include <rill/dsl.h>

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

/* Graphviz 2.42's dot layout leaks the virtual edges it makes for clusters (about 7 kB, once per
 * app: the page is built once). LeakSanitizer (the ASan build) is told to pass over those: they
 * are named by their frames in libgvplugin_dot_layout, which only the slow unwinder sees
 * (Graphviz is built without frame pointers). Unused in other builds. */
const char *__asan_default_options(void);
const char *__lsan_default_suppressions(void);
const char *__asan_default_options(void)
{
    return "fast_unwind_on_malloc=0";
}
const char *__lsan_default_suppressions(void)
{
    return "leak:libgvplugin_dot_layout.so\n";
}

#define ODD_NAME "tag<&>\"x'"

/* Reads the whole file path (NUL-terminated, free()), or NULL. */
static char *slurp(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *s = malloc((size_t)n + 1);
    size_t got = s ? fread(s, 1, (size_t)n, f) : 0;
    fclose(f);
    if (s)
        s[got] = 0;
    return s;
}

/* The DOM's table row whose data-key is key, up to its </tr> (a new string), or NULL. */
static char *row(const char *dom, const char *key)
{
    char attr[128];
    snprintf(attr, sizeof attr, "data-key=\"%s\"", key);
    const char *start = strstr(dom, attr), *end = start ? strstr(start, "</tr>") : NULL;
    return end ? strndup(start, (size_t)(end - start)) : NULL;
}

/* Waits (bounded) until /status.json shows 200 records processed, 5 skipped and the lag of 4
 * partitions;
 * checks its tasks, and returns the document. */
static json_t *wait_status(const char *url)
{
    double deadline = now_s() + 30;
    for (;;) {
        int status = 0;
        char *body = NULL;
        status = http_call("GET", url, "/status.json", NULL, &body);
        assert_int_equal(status, 200);
        json_error_t jerr;
        json_t *doc = json_loads(body, 0, &jerr);
        if (!doc)
            fail_msg("/status.json does not parse (%s): %s", jerr.text, body);
        json_t *totals = json_object_get(doc, "totals");
        if (json_integer_value(json_object_get(totals, "records-processed")) == 200 &&
            json_integer_value(json_object_get(totals, "records-skipped")) == 5 &&
            json_array_size(json_object_get(doc, "lag")) == 4) {
            free(body);
            return doc;
        }
        if (now_s() > deadline)
            fail_msg("/status.json did not reach 200 records and 4 lags within 30 s: %s", body);
        free(body);
        json_decref(doc);
        struct timespec pause = {0, 100 * 1000000};
        nanosleep(&pause, NULL);
    }
}

/* Runs headless Chromium on url with the extra arguments; its output to log (appended). Fails
 * the test when it does not exit 0 within 60 s. Returns its time in ms. */
static int64_t chromium(const char *url, const char *args, const char *profile, const char *log,
                        const char *stdout_to)
{
    char cmd[2048], out[256];
    /* --no-sandbox: the tests run as root in a container, where Chromium's sandbox cannot
     * start. The profile is the test's own (no first-run state, no user's settings). */
    snprintf(cmd, sizeof cmd,
             "timeout 60 chromium --headless=new --no-sandbox --disable-gpu "
             "--disable-dev-shm-usage --no-first-run --no-default-browser-check "
             "--user-data-dir=%s %s '%s' >%s 2>>%s",
             profile, args, url, stdout_to, log);
    double t0 = now_s();
    int rc = run(cmd, out, sizeof out);
    if (rc)
        fail_msg("chromium exited %d (127: not installed, see scripts/setup); its log: %s", rc,
                 log);
    return (int64_t)((now_s() - t0) * 1000);
}

static void test_status_page_in_a_browser(void **state)
{
    (void)state;
    char dir[64], err[512];
    assert_int_equal(temp_dir_make(dir, "status-page"), 0);
    rill_topology_t *topo = rill_topology_new();
    rill_stream_t *s = rill_stream_from_topic(topo, "input", NULL);
    rill_stream_t *tagged = rill_stream_as(
        rill_stream_map_values(rill_stream_filter(s, even, NULL), tag, NULL), ODD_NAME);
    rill_stream_to(tagged, "output", NULL);
    rill_app_t *app = embedded_app_new(topo, "status-page", dir, watched_conf);
    rill_producer_t *p = rill_producer_new(rill_app_bootstrap_servers(app), err, sizeof err);
    assert_non_null(p);
    produce_not_utf8(p, 5);
    produce_numbered(p, 200);
    assert_int_equal(rill_app_start(app), 0);
    const char *url = rill_app_metrics_url(app);
    assert_non_null(url);
    assert_int_equal(rill_app_wait_state(app, RILL_STATE_RUNNING, 30000), 0);

    /* The JSON the page reads: 4 tasks RUNNING, each reading its partition of "input". */
    json_t *doc = wait_status(url);
    assert_string_equal(json_string_value(json_object_get(doc, "state")), "RUNNING");
    json_t *tasks = json_object_get(doc, "tasks");
    assert_int_equal(json_array_size(tasks), 4);
    for (size_t i = 0; i < 4; i++) {
        json_t *t = json_array_get(tasks, i);
        assert_string_equal(json_string_value(json_object_get(t, "state")), "RUNNING");
        json_t *parts = json_object_get(t, "partitions");
        assert_int_equal(json_array_size(parts), 1);
        assert_string_equal(json_string_value(json_object_get(json_array_get(parts, 0), "topic")),
                            "input");
        char id[16];
        snprintf(id, sizeof id, "0_%lld",
                 json_integer_value(json_object_get(json_array_get(parts, 0), "partition")));
        assert_string_equal(json_string_value(json_object_get(t, "id")), id);
    }
    json_decref(doc);

    /* The page as served: the SVG inline, the odd name escaped. */
    int status = 0;
    char *page = NULL, *again = NULL;
    status = http_call("GET", url, "/", NULL, &page);
    assert_int_equal(status, 200);
    assert_non_null(strstr(page, "<svg"));
    /* Graphviz's SVG escapes even '-' (&#45;). */
    assert_non_null(strstr(page, ">KSTREAM&#45;SOURCE&#45;0000000000<"));
    assert_non_null(strstr(page, ">tag&lt;&amp;&gt;&quot;x&#39;<"));
    assert_null(strstr(page, ODD_NAME));
    http_call("GET", url, "/", NULL, &again); /* built once: the same bytes */
    assert_string_equal(page, again);
    free(again);
    free(page);

    /* In the browser, after its script's first fetches (virtual time: no real wait). */
    char logs[512], log[600], dom_path[600], png[600], profile[600];
    const char *env_logs = getenv("RILL_TEST_LOG_DIR");
    snprintf(logs, sizeof logs, "%s", env_logs ? env_logs : RILL_BIN_DIR "/../test-logs");
    mkdir(logs, 0755);
    snprintf(log, sizeof log, "%s/status-page-chromium.log", logs);
    snprintf(dom_path, sizeof dom_path, "%s/status-page-dom.html", logs);
    snprintf(png, sizeof png, "%s/status-page.png", logs);
    snprintf(profile, sizeof profile, "%s/chromium-profile", dir);
    remove(log);
    remove(png);
    char page_url[400];
    snprintf(page_url, sizeof page_url, "%s/", url);
    int64_t dump_ms =
        chromium(page_url, "--virtual-time-budget=5000 --dump-dom", profile, log, dom_path);
    char *dom = slurp(dom_path);
    assert_non_null(dom);
    const char *names[] = {"KSTREAM-SOURCE-0000000000", "KSTREAM-FILTER-0000000001",
                           "KSTREAM-SINK-0000000003", ">input<", ">output<"};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        if (!strstr(dom, names[i]))
            fail_msg("the rendered page lacks \"%s\": see %s", names[i], dom_path);
    /* The odd name is text: escaped in the serialized DOM, never an element. */
    assert_non_null(strstr(dom, "tag&lt;&amp;&gt;"));
    assert_null(strstr(dom, "<&>"));
    assert_null(strstr(dom, "<tag"));
    for (int part = 0; part < 4; part++) {
        char key[32], want[64];
        snprintf(key, sizeof key, "0_%d", part);
        char *r = row(dom, key);
        if (!r)
            fail_msg("no row for task %s in the rendered page: see %s", key, dom_path);
        snprintf(want, sizeof want, "<td>input-%d</td>", part);
        if (!strstr(r, ">RUNNING</td>") || !strstr(r, want))
            fail_msg("task %s's row is not RUNNING on input-%d: %s", key, part, r);
        free(r);
        snprintf(key, sizeof key, "input-%d", part);
        r = row(dom, key);
        if (!r)
            fail_msg("no lag row for %s in the rendered page: see %s", key, dom_path);
        /* topic, partition, lag: 0, every record processed */
        snprintf(want, sizeof want,
                 "<td>input</td><td class=\"num\">%d</td><td class=\"num\">0</td>", part);
        if (!strstr(r, want))
            fail_msg("lag row %s is not \"%s\": %s", key, want, r);
        free(r);
    }
    assert_non_null(strstr(dom, "id=\"state\" class=\"state RUNNING\">RUNNING<"));
    /* The 5 records that did not deserialize, by their cause. */
    if (!strstr(dom, "<div class=\"v\">5</div><div class=\"l\">skipped: deserialization</div>"))
        fail_msg("no card of 5 records skipped at deserialization: see %s", dom_path);
    free(dom);

    char shot[800];
    snprintf(shot, sizeof shot,
             "--virtual-time-budget=5000 --hide-scrollbars --window-size=1280,900 "
             "--screenshot=%s",
             png);
    int64_t shot_ms = chromium(page_url, shot, profile, log, "/dev/null");
    struct stat st;
    assert_int_equal(stat(png, &st), 0);
    assert_true(st.st_size > 10000); /* a page, not a blank */
    FILE *f = fopen(log, "a");
    assert_non_null(f);
    fprintf(f, "test_status_page: --dump-dom took %lld ms, --screenshot %lld ms\n",
            (long long)dump_ms, (long long)shot_ms);
    fclose(f);

    rill_producer_destroy(p);
    assert_int_equal(rill_app_close(app, 10000), 0);
    rill_app_destroy(app);
    rill_topology_unref(topo);
    temp_dir_remove(dir);
}

int main(void)
{
    rill_set_log_cb(NULL, NULL, RILL_LOG_WARN);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_status_page_in_a_browser),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
