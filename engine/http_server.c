/*
 * The app's HTTP servers (http_server.h) on libmicrohttpd: a daemon with its own polling thread
 * (epoll), at most 64 connections, 30 s idle timeout; its messages go to Rill's log. Bound to
 * one IPv4 address, which a warning names when it is not loopback.
 */
#include "engine_int.h"
#include "http_server.h"

#include <microhttpd.h>

#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#define MAX_HEADERS 8

struct http_server {
    struct MHD_Daemon *daemon;
    http_handler_fn handler;
    void *ud;
    char prop[64];
    char url[300];
};

struct http_request {
    struct MHD_Connection *conn;
    enum MHD_Result result;
    bool replied;
    int nheaders;
    char headers[MAX_HEADERS][2][256];
};

static int hex(char c)
{
    return c >= '0' && c <= '9'   ? c - '0'
           : c >= 'a' && c <= 'f' ? c - 'a' + 10
           : c >= 'A' && c <= 'F' ? c - 'A' + 10
                                  : -1;
}

static void queue(http_request_t *req, unsigned status, const char *type, struct MHD_Response *r)
{
    req->replied = true;
    if (!r) {
        req->result = MHD_NO;
        return;
    }
    MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, type);
    MHD_add_response_header(r, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
    for (int i = 0; i < req->nheaders; i++)
        MHD_add_response_header(r, req->headers[i][0], req->headers[i][1]);
    req->result = MHD_queue_response(req->conn, status, r);
    MHD_destroy_response(r);
}

void rill__http_reply(http_request_t *req, unsigned status, const char *type, const char *text)
{
    queue(req, status, type,
          MHD_create_response_from_buffer(strlen(text), (void *)text, MHD_RESPMEM_MUST_COPY));
}

void rill__http_reply_take(http_request_t *req, unsigned status, const char *type,
                           rill_bytes_t *body)
{
    /* The buffer is Rill's allocator's: the response frees it with rill_free when it is done
     * with it. Ownership passes only when the response is made. */
    struct MHD_Response *r =
        MHD_create_response_from_buffer_with_free_callback(body->len, body->data, rill_free);
    if (!r)
        rill_bytes_free(body);
    *body = (rill_bytes_t){0};
    queue(req, status, type, r);
}

void rill__http_reply_static(http_request_t *req, unsigned status, const char *type,
                             const void *data, size_t len)
{
    queue(req, status, type,
          MHD_create_response_from_buffer(len, (void *)data, MHD_RESPMEM_PERSISTENT));
}

const char *rill__http_arg(http_request_t *req, const char *name)
{
    return MHD_lookup_connection_value(req->conn, MHD_GET_ARGUMENT_KIND, name);
}

const char *rill__http_header(http_request_t *req, const char *name)
{
    return MHD_lookup_connection_value(req->conn, MHD_HEADER_KIND, name);
}

void rill__http_add_header(http_request_t *req, const char *name, const char *value)
{
    if (req->nheaders == MAX_HEADERS)
        return;
    snprintf(req->headers[req->nheaders][0], sizeof req->headers[0][0], "%s", name);
    snprintf(req->headers[req->nheaders][1], sizeof req->headers[0][1], "%s", value);
    req->nheaders++;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *c, const char *url,
                                  const char *method, const char *version, const char *data,
                                  size_t *data_size, void **state)
{
    (void)version, (void)data, (void)data_size, (void)state;
    http_server_t *s = cls;
    http_request_t req = {.conn = c, .result = MHD_NO};
    if (strcmp(method, "GET") != 0 && strcmp(method, "HEAD") != 0) {
        static const char msg[] = "only GET and HEAD\n";
        rill__http_add_header(&req, "Allow", "GET, HEAD");
        rill__http_reply_static(&req, MHD_HTTP_METHOD_NOT_ALLOWED, RILL__HTTP_TEXT, msg,
                                sizeof msg - 1);
        return req.result;
    }
    s->handler(s->ud, &req, url);
    if (!req.replied)
        rill__http_reply(&req, MHD_HTTP_INTERNAL_SERVER_ERROR, RILL__HTTP_TEXT, "no answer\n");
    return req.result;
}

/* Percent-decodes s in place (what libmicrohttpd does by default), but leaves "%00" as it is: a
 * NUL would cut the path or argument short and answer for another key. Returns the new length. */
static size_t unescape(void *cls, struct MHD_Connection *c, char *s)
{
    (void)cls, (void)c;
    char *w = s;
    for (const char *r = s; *r;) {
        int hi, lo;
        if (r[0] == '%' && (hi = hex(r[1])) >= 0 && (lo = hex(r[2])) >= 0 && (hi | lo)) {
            *w++ = (char)(hi << 4 | lo);
            r += 3;
        } else {
            *w++ = *r++;
        }
    }
    *w = 0;
    return (size_t)(w - s);
}

/* libmicrohttpd's own messages (a bind that fails, a connection refused) go to Rill's log. */
static void mhd_log(void *ud, const char *fmt, va_list ap)
{
    http_server_t *s = ud;
    char msg[512];
    vsnprintf(msg, sizeof msg, fmt, ap);
    size_t n = strlen(msg);
    while (n && msg[n - 1] == '\n')
        msg[--n] = 0;
    rill_log(RILL_LOG_WARN, "http", "%s: libmicrohttpd: %s", s->prop, msg);
}

http_server_t *rill__http_serve(const char *prop, const char *listen, const char *what,
                                http_handler_fn handler, void *ud, char *errstr, size_t errstr_size)
{
    char host[256];
    int port;
    if (rill__host_port_split(listen, host, sizeof host, &port)) {
        snprintf(errstr, errstr_size, "%s=%s: %s", prop, listen, RILL__HOST_PORT_FORM);
        return NULL;
    }
    struct addrinfo hints = {.ai_family = AF_INET, .ai_socktype = SOCK_STREAM}, *ai = NULL;
    if (getaddrinfo(host, NULL, &hints, &ai) || !ai) {
        snprintf(errstr, errstr_size, "%s=%s: cannot resolve host '%s'", prop, listen, host);
        return NULL;
    }
    struct sockaddr_in addr;
    memcpy(&addr, ai->ai_addr, sizeof addr);
    freeaddrinfo(ai);
    addr.sin_port = htons((uint16_t)port);
    if ((ntohl(addr.sin_addr.s_addr) >> 24) != 127)
        rill_log(RILL_LOG_WARN, "http",
                 "%s=%s is not a loopback address: other hosts are served too", prop, listen);
    http_server_t *s = rill_calloc(1, sizeof *s);
    if (!s) {
        snprintf(errstr, errstr_size, "out of memory");
        return NULL;
    }
    s->handler = handler;
    s->ud = ud;
    snprintf(s->prop, sizeof s->prop, "%s", prop);
    errno = 0;
    s->daemon = MHD_start_daemon(
        MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL | MHD_USE_ERROR_LOG, (uint16_t)port, NULL,
        NULL, on_request, s, MHD_OPTION_EXTERNAL_LOGGER, mhd_log,
        s, /* first, so that every message of the daemon's goes there */
        MHD_OPTION_UNESCAPE_CALLBACK, unescape, NULL, MHD_OPTION_SOCK_ADDR, &addr,
        MHD_OPTION_CONNECTION_LIMIT, 64u, MHD_OPTION_CONNECTION_TIMEOUT, 30u, MHD_OPTION_END);
    if (!s->daemon) {
        snprintf(errstr, errstr_size, "%s=%s: cannot serve there (%s)", prop, listen,
                 errno ? strerror(errno) : "libmicrohttpd refused");
        rill_free(s);
        return NULL;
    }
    const union MHD_DaemonInfo *info = MHD_get_daemon_info(s->daemon, MHD_DAEMON_INFO_BIND_PORT);
    char ip[INET_ADDRSTRLEN] = "";
    inet_ntop(AF_INET, &addr.sin_addr, ip, sizeof ip);
    snprintf(s->url, sizeof s->url, "http://%s:%u", ip, info ? info->port : (unsigned)port);
    rill_log(RILL_LOG_INFO, "http", "%s: serving %s on %s", prop, what, s->url);
    return s;
}

const char *rill__http_url(const http_server_t *s)
{
    return s ? s->url : NULL;
}

void rill__http_close(http_server_t *s)
{
    if (!s)
        return;
    MHD_stop_daemon(s->daemon);
    rill_free(s);
}
