/*
 * The app's HTTP servers (metrics.listen, query.listen): libmicrohttpd on one internal thread of
 * its own per server (epoll), started on a "host:port" property, with answers made by a
 * handler. The one place the engine includes <microhttpd.h>; the handlers see only what is
 * here. No HTTP is served on a stream thread: a handler reads the app under its query lock, as
 * any other thread does. Private to engine/.
 */
#ifndef RILL_ENGINE_HTTP_SERVER_H
#define RILL_ENGINE_HTTP_SERVER_H

#include <rill/serde.h>

#include <stdbool.h>
#include <stddef.h>

typedef struct http_server http_server_t;
typedef struct http_request http_request_t;

/* Answers req (GET or HEAD; others get 405 before this is called): path is the URL's path,
 * percent-decoded, without its query. Call one of the rill__http_reply* functions once. */
typedef void (*http_handler_fn)(void *ud, http_request_t *req, const char *path);

/* Starts serving on listen ("host:port", port 0: any free one) for the property prop (named in
 * errors and logs), calling handler; what says what is served, for the log line. NULL with the
 * reason (naming prop=listen) in errstr. */
http_server_t *rill__http_serve(const char *prop, const char *listen, const char *what,
                                http_handler_fn handler, void *ud, char *errstr,
                                size_t errstr_size);
/* Stops serving (waits for requests in progress) and frees the server. NULL is fine. */
void rill__http_close(http_server_t *s);
/* Returns "http://ip:port", the address served (the port the system chose for port 0). */
const char *rill__http_url(const http_server_t *s);

/* Returns the value of the URL's query argument name, percent-decoded, or NULL. Borrowed until
 * the reply. */
const char *rill__http_arg(http_request_t *req, const char *name);
/* Returns the value of request header name, or NULL. Borrowed until the reply. */
const char *rill__http_header(http_request_t *req, const char *name);
/* Adds a header to the reply (before it is made); name and value are copied. */
void rill__http_add_header(http_request_t *req, const char *name, const char *value);
/* Replies with status, content type and a copy of text. */
void rill__http_reply(http_request_t *req, unsigned status, const char *type, const char *text);
/* Replies with status, type and body's bytes, taking them (body is emptied): no copy. */
void rill__http_reply_take(http_request_t *req, unsigned status, const char *type,
                           rill_bytes_t *body);
/* Replies with status, type and len bytes at data, which outlive the server (no copy). */
void rill__http_reply_static(http_request_t *req, unsigned status, const char *type,
                             const void *data, size_t len);

#define RILL__HTTP_TEXT "text/plain; charset=utf-8"
#define RILL__HTTP_JSON "application/json"

#endif
