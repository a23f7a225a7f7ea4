/*
 * `rill metrics --connect HOST:PORT`: a live terminal view of a running app, like top. It reads
 * the app's /metrics (metrics.listen; libcurl) every interval and shows its state, throughput
 * (rates from one scrape to the next), latencies, lag per partition and errors. On a terminal
 * the screen is redrawn in place until Ctrl-C (elsewhere a view follows another, as top -b);
 * --once prints one view (two scrapes an interval apart, for the rates) and exits.
 */
#include "metrics_view.h"

#include <rill/serde.h> /* rill_bytes_t */

#include <curl/curl.h>

#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/* One sample: name, the text between its braces, its value. */
typedef struct {
    char name[96];
    char labels[512];
    double value;
} sample_t;

typedef struct {
    sample_t *s;
    size_t n, cap;
    double at; /* when it was taken (monotonic s) */
} scrape_t;

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static size_t on_body(char *data, size_t size, size_t n, void *ud)
{
    return rill_bytes_append(ud, data, size * n) ? 0 : size * n;
}

static void parse_line(scrape_t *sc, const char *line, size_t len)
{
    if (!len || line[0] == '#')
        return;
    sample_t x;
    memset(&x, 0, sizeof x);
    size_t i = 0;
    while (i < len && line[i] != '{' && line[i] != ' ' && i < sizeof x.name - 1)
        x.name[i] = line[i], i++;
    if (i < len && line[i] == '{') {
        size_t j = ++i;
        bool quoted = false;
        while (i < len && (quoted || line[i] != '}')) {
            if (quoted && line[i] == '\\' && i + 1 < len)
                i++; /* an escape: the next character is the value's */
            else if (line[i] == '"')
                quoted = !quoted;
            i++;
        }
        snprintf(x.labels, sizeof x.labels, "%.*s", (int)(i - j), line + j);
        i++;
    }
    char num[64];
    snprintf(num, sizeof num, "%.*s", (int)(len > i ? len - i : 0), line + i);
    x.value = strtod(num, NULL);
    if (sc->n == sc->cap) {
        size_t cap = sc->cap ? sc->cap * 2 : 256;
        sample_t *s = rill_realloc(sc->s, cap * sizeof *s);
        if (!s)
            return;
        sc->s = s;
        sc->cap = cap;
    }
    sc->s[sc->n++] = x;
}

/* Scrapes url/metrics into *sc; 0, or -1 with why in errstr. */
static int take(CURL *c, const char *url, scrape_t *sc, char *errstr, size_t errstr_size)
{
    char full[512];
    snprintf(full, sizeof full, "%s/metrics", url);
    rill_bytes_t body = {0};
    curl_easy_setopt(c, CURLOPT_URL, full);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &body);
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, 5000L);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    CURLcode cc = curl_easy_perform(c);
    long status = 0;
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
    if (cc != CURLE_OK || status != 200) {
        if (cc != CURLE_OK)
            snprintf(errstr, errstr_size, "GET %.300s: %s", full, curl_easy_strerror(cc));
        else
            snprintf(errstr, errstr_size, "GET %.300s: HTTP %ld", full, status);
        rill_bytes_free(&body);
        return -1;
    }
    sc->n = 0;
    sc->at = now_s();
    const char *p = (const char *)body.data, *end = p + body.len;
    while (p < end) {
        const char *eol = memchr(p, '\n', (size_t)(end - p));
        size_t len = eol ? (size_t)(eol - p) : (size_t)(end - p);
        parse_line(sc, p, len);
        p += len + 1;
    }
    rill_bytes_free(&body);
    return 0;
}

/* The value of label key in labels (name="value",...), unescaped into buf ("" when absent). */
static const char *label(const char *labels, const char *key, char *buf, size_t size)
{
    buf[0] = 0;
    size_t kl = strlen(key);
    const char *p = labels;
    while (*p) { /* label by label: a name, '=', a quoted value with escapes, ',' */
        const char *eq = strchr(p, '=');
        if (!eq || eq[1] != '"')
            return buf;
        bool mine = (size_t)(eq - p) == kl && !strncmp(p, key, kl);
        size_t n = 0;
        for (p = eq + 2; *p && *p != '"'; p++) {
            char ch = *p;
            if (ch == '\\' && p[1])
                ch = *++p == 'n' ? '\n' : *p;
            if (mine && n + 1 < size)
                buf[n++] = ch;
        }
        if (mine) {
            buf[n] = 0;
            return buf;
        }
        if (*p == '"')
            p++;
        if (*p == ',')
            p++;
    }
    return buf;
}

/* The sum of the samples of name (whose labels contain with, when not NULL). */
static double sum(const scrape_t *sc, const char *name, const char *with)
{
    double t = 0;
    for (size_t i = 0; i < sc->n; i++)
        if (!strcmp(sc->s[i].name, name) && (!with || strstr(sc->s[i].labels, with)))
            t += sc->s[i].value;
    return t;
}

/* A rate between two scrapes, per second (0 without a previous one). */
static double rate(const scrape_t *now, const scrape_t *before, const char *name)
{
    if (!before || now->at <= before->at)
        return 0;
    double d = sum(now, name, NULL) - sum(before, name, NULL);
    return d > 0 ? d / (now->at - before->at) : 0;
}

/* The average of a histogram in seconds (sum / count), or 0. */
static double avg(const scrape_t *sc, const char *hist)
{
    char n[128], s[128];
    snprintf(n, sizeof n, "%s_count", hist);
    snprintf(s, sizeof s, "%s_sum", hist);
    double count = sum(sc, n, NULL);
    return count > 0 ? sum(sc, s, NULL) / count : 0;
}

static void duration(double seconds, char *buf, size_t size)
{
    if (seconds < 1e-3)
        snprintf(buf, size, "%.1f us", seconds * 1e6);
    else if (seconds < 1)
        snprintf(buf, size, "%.1f ms", seconds * 1e3);
    else
        snprintf(buf, size, "%.2f s", seconds);
}

static void render(FILE *out, const char *url, const scrape_t *sc, const scrape_t *before)
{
    char app[128] = "?", state[32] = "?", buf[128];
    for (size_t i = 0; i < sc->n; i++) {
        if (!strcmp(sc->s[i].name, "rill_app_info"))
            label(sc->s[i].labels, "application_id", app, sizeof app);
        if (!strcmp(sc->s[i].name, "rill_app_state") && sc->s[i].value == 1)
            label(sc->s[i].labels, "state", state, sizeof state);
    }
    time_t t = time(NULL);
    char clock[16];
    strftime(clock, sizeof clock, "%H:%M:%S", localtime(&t));
    int running = 0, tasks = 0;
    for (size_t i = 0; i < sc->n; i++)
        if (!strcmp(sc->s[i].name, "rill_task_info")) {
            tasks++;
            running += strstr(sc->s[i].labels, "state=\"RUNNING\"") != NULL;
        }
    fprintf(out,
            "rill metrics: %s at %s   state %s   threads %.0f   tasks %d (%d running)   %s\n\n",
            app, url, state, sum(sc, "rill_stream_threads", NULL), tasks, running, clock);
    fprintf(out, "records      processed %.0f (%.0f/s)   produced %.0f (%.0f/s)\n",
            sum(sc, "rill_records_processed_total", NULL),
            rate(sc, before, "rill_records_processed_total"),
            sum(sc, "rill_records_produced_total", NULL),
            rate(sc, before, "rill_records_produced_total"));
    fprintf(
        out,
        "errors       skipped %.0f (%.1f/s)   dead letters %.0f   late dropped %.0f   "
        "retried %.0f\n",
        sum(sc, "rill_records_skipped_total", NULL), rate(sc, before, "rill_records_skipped_total"),
        sum(sc, "rill_dead_letters_total", NULL), sum(sc, "rill_late_records_dropped_total", NULL),
        sum(sc, "rill_records_retried_total", NULL));
    char process[32], e2e[32], commit[32];
    duration(avg(sc, "rill_process_latency_seconds"), process, sizeof process);
    duration(avg(sc, "rill_record_e2e_latency_seconds"), e2e, sizeof e2e);
    duration(avg(sc, "rill_commit_latency_seconds"), commit, sizeof commit);
    fprintf(out, "latency      process %s   end-to-end %s   commit %s (averages)\n", process, e2e,
            commit);
    fprintf(
        out, "commits      %.0f   transactions committed %.0f, aborted %.0f   rebalances %.0f\n",
        sum(sc, "rill_commits_total", NULL), sum(sc, "rill_transactions_committed_total", NULL),
        sum(sc, "rill_transactions_aborted_total", NULL), sum(sc, "rill_rebalances_total", NULL));
    fprintf(out, "brokers      requests %.0f   errors %.0f   timeouts %.0f\n",
            sum(sc, "rill_broker_requests_total", NULL),
            sum(sc, "rill_broker_request_errors_total", NULL),
            sum(sc, "rill_broker_request_timeouts_total", NULL));
    fprintf(out, "\n%-40s %9s %12s\n", "lag: topic", "partition", "lag");
    int lags = 0;
    for (size_t i = 0; i < sc->n; i++)
        if (!strcmp(sc->s[i].name, "rill_consumer_lag")) {
            char topic[256], part[16];
            label(sc->s[i].labels, "topic", topic, sizeof topic);
            label(sc->s[i].labels, "partition", part, sizeof part);
            fprintf(out, "%-40s %9s %12.0f\n", topic, part, sc->s[i].value);
            lags++;
        }
    if (!lags)
        fprintf(out, "(no lag yet: the consumers' statistics come every statistics.interval.ms)\n");
    (void)buf;
}

static volatile sig_atomic_t stop;
static void on_sigint(int sig)
{
    (void)sig;
    stop = 1;
}

int rill__cli_metrics(const char *connect, double interval_s, bool once)
{
    char url[300];
    snprintf(url, sizeof url, "%s%s", strncmp(connect, "http", 4) ? "http://" : "", connect);
    CURL *c = curl_easy_init();
    if (!c) {
        fprintf(stderr, "rill metrics: cannot start libcurl\n");
        return 1;
    }
    scrape_t a = {0}, b = {0}, *now = &a, *before = NULL;
    char err[512];
    int rc = 0;
    bool tty = !once && isatty(STDOUT_FILENO);
    signal(SIGINT, on_sigint);
    if (take(c, url, now, err, sizeof err)) {
        fprintf(stderr, "rill metrics: %s\n", err);
        rc = 1;
    }
    while (!rc && !stop) {
        struct timespec pause = {(time_t)interval_s,
                                 (long)((interval_s - (double)(time_t)interval_s) * 1e9)};
        nanosleep(&pause, NULL);
        before = now;
        now = now == &a ? &b : &a;
        if (take(c, url, now, err, sizeof err)) {
            fprintf(stderr, "rill metrics: %s\n", err);
            rc = 1;
            break;
        }
        if (tty)
            fputs("\033[H\033[2J", stdout); /* home, clear */
        render(stdout, url, now, before);
        fflush(stdout);
        if (once)
            break;
    }
    rill_free(a.s);
    rill_free(b.s);
    curl_easy_cleanup(c);
    return rc;
}
