/*
 * The app's metrics endpoint (metrics.listen): libmicrohttpd on one internal thread of its own
 * (epoll), serving
 *   /metrics   the app's metrics in Prometheus' text format (version 0.0.4);
 *   /healthz   200 while the process serves (the app exists);
 *   /readyz    200 when the app is RUNNING (every task restored and processing), else 503
 *              with the state;
 *   /          the status page (status_page.c): built on its first request (Graphviz draws the
 *              topology) and kept;
 *   /status.json  the app's status, which the page fetches every 2 s (status_json.c);
 * and 404 for anything else. A scrape builds its text on this thread (metrics_scrape.c): the
 * stream threads never wait for it. Private to engine/.
 */
#include "metrics_int.h"

#include <microhttpd.h>

#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct metrics_server {
    rill_app_t *app;
    struct MHD_Daemon *daemon;
    char url[300];
    /* The status page, built on the first request of / (the daemon's one thread serves every
     * request, so nothing else touches it). */
    rill_bytes_t page;
    bool page_built;
};

#define PROMETHEUS_TEXT "text/plain; version=0.0.4; charset=utf-8"
#define HTML            "text/html; charset=utf-8"
#define JSON            "application/json"

/* Queues response r (NULL: MHD_NO) with type and status, and drops this function's reference. */
static enum MHD_Result queue(struct MHD_Connection *c, unsigned status, const char *type,
                             struct MHD_Response *r)
{
    if (!r)
        return MHD_NO;
    MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, type);
    MHD_add_response_header(r, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
    enum MHD_Result rc = MHD_queue_response(c, status, r);
    MHD_destroy_response(r);
    return rc;
}

static enum MHD_Result reply(struct MHD_Connection *c, unsigned status, const char *type,
                             void *body, size_t len, enum MHD_ResponseMemoryMode mode)
{
    return queue(c, status, type, MHD_create_response_from_buffer(len, body, mode));
}

static enum MHD_Result text(struct MHD_Connection *c, unsigned status, const char *msg)
{
    return reply(c, status, "text/plain; charset=utf-8", (void *)msg, strlen(msg),
                 MHD_RESPMEM_MUST_COPY);
}

/* Answers with the text make() appends (the scrape, the status JSON), made for this request. */
static enum MHD_Result generated(struct MHD_Connection *c, rill_app_t *app,
                                 int (*make)(rill_app_t *app, rill_bytes_t *out), const char *type)
{
    rill_bytes_t out = {0};
    if (make(app, &out)) {
        rill_bytes_free(&out);
        return text(c, MHD_HTTP_INTERNAL_SERVER_ERROR, "out of memory\n");
    }
    /* The buffer is handed to the response, not copied: it is Rill's allocator's, so the
     * response frees it with rill_free when it is done with it. Ownership passes only when the
     * response is made. */
    struct MHD_Response *r =
        MHD_create_response_from_buffer_with_free_callback(out.len, out.data, rill_free);
    if (!r)
        rill_bytes_free(&out);
    return queue(c, MHD_HTTP_OK, type, r);
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *c, const char *url,
                                  const char *method, const char *version, const char *data,
                                  size_t *data_size, void **state)
{
    (void)version, (void)data, (void)data_size, (void)state;
    metrics_server_t *s = cls;
    if (strcmp(method, "GET") != 0 && strcmp(method, "HEAD") != 0) {
        static const char msg[] = "only GET and HEAD\n";
        struct MHD_Response *r =
            MHD_create_response_from_buffer(sizeof msg - 1, (void *)msg, MHD_RESPMEM_PERSISTENT);
        if (!r)
            return MHD_NO;
        MHD_add_response_header(r, "Allow", "GET, HEAD");
        enum MHD_Result rc = MHD_queue_response(c, MHD_HTTP_METHOD_NOT_ALLOWED, r);
        MHD_destroy_response(r);
        return rc;
    }
    if (strcmp(url, "/metrics") == 0)
        return generated(c, s->app, rill__app_scrape, PROMETHEUS_TEXT);
    if (strcmp(url, "/status.json") == 0)
        return generated(c, s->app, rill__app_status_json, JSON);
    if (strcmp(url, "/") == 0) {
        if (!s->page_built) {
            s->page.len = 0;
            if (rill__status_page_build(s->app, &s->page))
                return text(c, MHD_HTTP_INTERNAL_SERVER_ERROR, "out of memory\n");
            s->page_built = true;
        }
        return reply(c, MHD_HTTP_OK, HTML, s->page.data, s->page.len, MHD_RESPMEM_PERSISTENT);
    }
    if (strcmp(url, "/healthz") == 0)
        return text(c, MHD_HTTP_OK, "ok\n");
    if (strcmp(url, "/readyz") == 0) {
        rill_state_t st = rill_app_state(s->app);
        char msg[64];
        snprintf(msg, sizeof msg, "%s\n", rill_state_name(st));
        return text(c, st == RILL_STATE_RUNNING ? MHD_HTTP_OK : MHD_HTTP_SERVICE_UNAVAILABLE, msg);
    }
    return text(c, MHD_HTTP_NOT_FOUND,
                "not found: try /, /status.json, /metrics, /healthz or /readyz\n");
}

/* libmicrohttpd's own messages (a bind that fails, a connection refused) go to Rill's log. */
static void mhd_log(void *ud, const char *fmt, va_list ap)
{
    (void)ud;
    char msg[512];
    vsnprintf(msg, sizeof msg, fmt, ap);
    size_t n = strlen(msg);
    while (n && msg[n - 1] == '\n')
        msg[--n] = 0;
    rill_log(RILL_LOG_WARN, "metrics", "libmicrohttpd: %s", msg);
}

metrics_server_t *rill__metrics_server_start(rill_app_t *app, const char *listen, char *errstr,
                                             size_t errstr_size)
{
    char host[256];
    int port;
    if (rill__host_port_split(listen, host, sizeof host, &port)) {
        snprintf(errstr, errstr_size, "metrics.listen=%s: %s", listen, RILL__HOST_PORT_FORM);
        return NULL;
    }
    struct addrinfo hints = {.ai_family = AF_INET, .ai_socktype = SOCK_STREAM}, *ai = NULL;
    if (getaddrinfo(host, NULL, &hints, &ai) || !ai) {
        snprintf(errstr, errstr_size, "metrics.listen=%s: cannot resolve host '%s'", listen, host);
        return NULL;
    }
    struct sockaddr_in addr;
    memcpy(&addr, ai->ai_addr, sizeof addr);
    freeaddrinfo(ai);
    addr.sin_port = htons((uint16_t)port);
    if ((ntohl(addr.sin_addr.s_addr) >> 24) != 127)
        rill_log(RILL_LOG_WARN, "metrics",
                 "metrics.listen=%s is not a loopback address: the metrics are served to other "
                 "hosts",
                 listen);
    metrics_server_t *s = rill_calloc(1, sizeof *s);
    if (!s) {
        snprintf(errstr, errstr_size, "out of memory");
        return NULL;
    }
    s->app = app;
    errno = 0;
    s->daemon = MHD_start_daemon(
        MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL | MHD_USE_ERROR_LOG, (uint16_t)port, NULL,
        NULL, on_request, s, MHD_OPTION_EXTERNAL_LOGGER, mhd_log,
        NULL, /* first, so that every message of the daemon's goes there */
        MHD_OPTION_SOCK_ADDR, &addr, MHD_OPTION_CONNECTION_LIMIT, 64u,
        MHD_OPTION_CONNECTION_TIMEOUT, 30u, MHD_OPTION_END);
    if (!s->daemon) {
        snprintf(errstr, errstr_size, "metrics.listen=%s: cannot serve there (%s)", listen,
                 errno ? strerror(errno) : "libmicrohttpd refused");
        rill_free(s);
        return NULL;
    }
    const union MHD_DaemonInfo *info = MHD_get_daemon_info(s->daemon, MHD_DAEMON_INFO_BIND_PORT);
    char ip[INET_ADDRSTRLEN] = "";
    inet_ntop(AF_INET, &addr.sin_addr, ip, sizeof ip);
    snprintf(s->url, sizeof s->url, "http://%s:%u", ip, info ? info->port : (unsigned)port);
    rill_log(RILL_LOG_INFO, "metrics", "serving %s/ (status page), /metrics, /healthz and /readyz",
             s->url);
    return s;
}

const char *rill__metrics_server_url(const metrics_server_t *s)
{
    return s ? s->url : NULL;
}

void rill__metrics_server_stop(metrics_server_t *s)
{
    if (!s)
        return;
    MHD_stop_daemon(s->daemon);
    rill_bytes_free(&s->page);
    rill_free(s);
}
