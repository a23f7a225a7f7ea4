/*
 * The app's metrics endpoint (metrics.listen), on an HTTP server of its own (http_server.h),
 * serving
 *   /metrics   the app's metrics in Prometheus' text format (version 0.0.4);
 *   /healthz   200 while the process serves (the app exists);
 *   /readyz    200 when the app is RUNNING (every task restored and processing), else 503
 *              with the state;
 *   /          the status page (status_page.c): built on its first request (Graphviz draws the
 *              topology) and kept;
 *   /status.json  the app's status, which the page fetches every 2 s (status_json.c);
 * and 404 for anything else. A scrape builds its text on the server's thread
 * (metrics_scrape.c): the stream threads never wait for it. Private to engine/.
 */
#include "http_server.h"
#include "metrics_int.h"

#include <stdio.h>
#include <string.h>

struct metrics_server {
    rill_app_t *app;
    http_server_t *http;
    /* The status page, built on the first request of / (the server's one thread serves every
     * request, so nothing else touches it). */
    rill_bytes_t page;
    bool page_built;
};

#define PROMETHEUS_TEXT "text/plain; version=0.0.4; charset=utf-8"
#define HTML            "text/html; charset=utf-8"

/* Answers with the text make() appends (the scrape, the status JSON), made for this request. */
static void generated(http_request_t *req, rill_app_t *app,
                      int (*make)(rill_app_t *app, rill_bytes_t *out), const char *type)
{
    rill_bytes_t out = {0};
    if (make(app, &out)) {
        rill_bytes_free(&out);
        rill__http_reply(req, 500, RILL__HTTP_TEXT, "out of memory\n");
        return;
    }
    rill__http_reply_take(req, 200, type, &out);
}

static void on_request(void *ud, http_request_t *req, const char *url)
{
    metrics_server_t *s = ud;
    if (strcmp(url, "/metrics") == 0)
        return generated(req, s->app, rill__app_scrape, PROMETHEUS_TEXT);
    if (strcmp(url, "/status.json") == 0)
        return generated(req, s->app, rill__app_status_json, RILL__HTTP_JSON);
    if (strcmp(url, "/") == 0) {
        if (!s->page_built) {
            s->page.len = 0;
            if (rill__status_page_build(s->app, &s->page))
                return rill__http_reply(req, 500, RILL__HTTP_TEXT, "out of memory\n");
            s->page_built = true;
        }
        return rill__http_reply_static(req, 200, HTML, s->page.data, s->page.len);
    }
    if (strcmp(url, "/healthz") == 0)
        return rill__http_reply(req, 200, RILL__HTTP_TEXT, "ok\n");
    if (strcmp(url, "/readyz") == 0) {
        rill_state_t st = rill_app_state(s->app);
        char msg[64];
        snprintf(msg, sizeof msg, "%s\n", rill_state_name(st));
        return rill__http_reply(req, st == RILL_STATE_RUNNING ? 200 : 503, RILL__HTTP_TEXT, msg);
    }
    rill__http_reply(req, 404, RILL__HTTP_TEXT,
                     "not found: try /, /status.json, /metrics, /healthz or /readyz\n");
}

metrics_server_t *rill__metrics_server_start(rill_app_t *app, const char *listen, char *errstr,
                                             size_t errstr_size)
{
    metrics_server_t *s = rill_calloc(1, sizeof *s);
    if (!s) {
        snprintf(errstr, errstr_size, "out of memory");
        return NULL;
    }
    s->app = app;
    s->http = rill__http_serve("metrics.listen", listen,
                               "/ (status page), /metrics, /healthz and /readyz", on_request, s,
                               errstr, errstr_size);
    if (!s->http) {
        rill_free(s);
        return NULL;
    }
    return s;
}

const char *rill__metrics_server_url(const metrics_server_t *s)
{
    return s ? rill__http_url(s->http) : NULL;
}

void rill__metrics_server_stop(metrics_server_t *s)
{
    if (!s)
        return;
    rill__http_close(s->http);
    rill_bytes_free(&s->page);
    rill_free(s);
}
