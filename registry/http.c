/*
 * The HTTP side of rill-registry, on libmicrohttpd (Debian's libmicrohttpd-dev): a request's
 * body is gathered, checked against basic auth when asked for, handed to the API (api.c) and its
 * answer sent with Confluent's content type. libmicrohttpd serves each connection on a thread of
 * its own: a write waits for the store there (a few milliseconds), and a slow one holds up no
 * other request. TLS is libmicrohttpd's (GnuTLS) when the listener is https.
 */
#include "registry_int.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <microhttpd.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CONTENT_TYPE "application/vnd.schemaregistry.v1+json"
#define MAX_BODY     (16u << 20) /* a schema of 16 MB is refused */

struct reg_http {
    rill_registry_t *reg;
    struct MHD_Daemon *daemon;
    json_t *users; /* user -> password, for BASIC */
    char *cert, *key;
};

/* One request's body, gathered over the calls libmicrohttpd makes. */
typedef struct {
    char *data;
    size_t len;
    bool too_large;
} body_t;

static const char *query_value(void *ud, const char *name)
{
    return MHD_lookup_connection_value(ud, MHD_GET_ARGUMENT_KIND, name);
}

typedef struct {
    char *buf;
    size_t len, cap;
} text_t;

static void text_add(text_t *t, const char *s, size_t n)
{
    if (t->len + n + 1 > t->cap) {
        size_t cap = (t->len + n + 1) * 2;
        char *grown = realloc(t->buf, cap);
        if (!grown)
            return;
        t->buf = grown;
        t->cap = cap;
    }
    memcpy(t->buf + t->len, s, n);
    t->len += n;
    t->buf[t->len] = 0;
}

static void text_escaped(text_t *t, const char *s)
{
    for (; s && *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~') {
            text_add(t, (const char *)&c, 1);
        } else {
            char hex[4];
            snprintf(hex, sizeof hex, "%%%02X", c);
            text_add(t, hex, 3);
        }
    }
}

/* Rebuilds the query string (for forwarding) from the decoded arguments. */
static enum MHD_Result add_argument(void *ud, enum MHD_ValueKind kind, const char *key,
                                    const char *value)
{
    (void)kind;
    text_t *t = ud;
    if (t->len)
        text_add(t, "&", 1);
    text_escaped(t, key);
    if (value) {
        text_add(t, "=", 1);
        text_escaped(t, value);
    }
    return MHD_YES;
}

static enum MHD_Result send_json(struct MHD_Connection *c, int status, char *body)
{
    struct MHD_Response *r =
        MHD_create_response_from_buffer(strlen(body), body, MHD_RESPMEM_MUST_FREE);
    MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, CONTENT_TYPE);
    enum MHD_Result rc = MHD_queue_response(c, (unsigned)status, r);
    MHD_destroy_response(r);
    return rc;
}

static bool authorized(reg_http_t *http, struct MHD_Connection *c)
{
    if (!http->users)
        return true;
    char *pass = NULL;
    char *user = MHD_basic_auth_get_username_password(c, &pass);
    const char *want = user ? json_string_value(json_object_get(http->users, user)) : NULL;
    bool ok = want && pass && strcmp(want, pass) == 0;
    MHD_free(user);
    MHD_free(pass);
    return ok;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *c, const char *url,
                                  const char *method, const char *version, const char *upload_data,
                                  size_t *upload_data_size, void **state)
{
    (void)version;
    reg_http_t *http = cls;
    body_t *b = *state;
    if (!b) {
        b = calloc(1, sizeof *b);
        if (!b)
            return MHD_NO;
        *state = b;
        return MHD_YES;
    }
    if (*upload_data_size) {
        if (b->len + *upload_data_size > MAX_BODY) {
            b->too_large = true;
        } else {
            char *grown = realloc(b->data, b->len + *upload_data_size + 1);
            if (!grown)
                return MHD_NO;
            memcpy(grown + b->len, upload_data, *upload_data_size);
            b->len += *upload_data_size;
            grown[b->len] = 0;
            b->data = grown;
        }
        *upload_data_size = 0;
        return MHD_YES;
    }
    if (!authorized(http, c)) {
        char *body = strdup("{\"error_code\":401,\"message\":\"Unauthorized: this registry "
                            "asks for HTTP basic authentication\"}");
        struct MHD_Response *r =
            MHD_create_response_from_buffer(strlen(body), body, MHD_RESPMEM_MUST_FREE);
        MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, CONTENT_TYPE);
        enum MHD_Result rc = MHD_queue_basic_auth_fail_response(c, "rill-registry", r);
        MHD_destroy_response(r);
        return rc;
    }
    if (b->too_large)
        return send_json(c, 413,
                         strdup("{\"error_code\":42209,\"message\":\"The request body is larger "
                                "than 16 MB\"}"));
    text_t query = {0};
    MHD_get_connection_values(c, MHD_GET_ARGUMENT_KIND, add_argument, &query);
    const char *fwd = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "X-Rill-Forwarded");
    reg_request_t req = {
        .method = method,
        .path = url,
        .query = query_value,
        .query_ud = c,
        .raw_query = query.buf ? query.buf : "",
        .body = b->data,
        .body_len = b->len,
        .forwarded = fwd && strcmp(fwd, "true") == 0,
        .authorization = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Authorization"),
    };
    int status = 500;
    char *answer = NULL;
    rill__api_handle(http->reg, &req, &status, &answer);
    free(query.buf);
    return send_json(c, status, answer ? answer : strdup("{}"));
}

static void on_done(void *cls, struct MHD_Connection *c, void **state,
                    enum MHD_RequestTerminationCode why)
{
    (void)cls;
    (void)c;
    (void)why;
    body_t *b = *state;
    if (b) {
        free(b->data);
        free(b);
    }
    *state = NULL;
}

static char *read_file(const char *path, char *errstr, size_t errstr_size)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        snprintf(errstr, errstr_size, "%s: %s", path, strerror(errno));
        return NULL;
    }
    text_t t = {0};
    char buf[4096];
    size_t n;
    while ((n = fread(buf, 1, sizeof buf, f)) > 0)
        text_add(&t, buf, n);
    fclose(f);
    if (!t.buf)
        snprintf(errstr, errstr_size, "%s: empty", path);
    return t.buf;
}

/* Reads a users file: "user: password[,role...]" lines, as Jetty's HashLoginService. */
static json_t *read_users(const char *path, char *errstr, size_t errstr_size)
{
    FILE *f = fopen(path, "r");
    if (!f) {
        snprintf(errstr, errstr_size, "authentication.users.file %s: %s", path, strerror(errno));
        return NULL;
    }
    json_t *users = json_object();
    char line[1024];
    int n = 0;
    while (fgets(line, sizeof line, f)) {
        n++;
        char *s = line;
        while (isspace((unsigned char)*s))
            s++;
        if (!*s || *s == '#')
            continue;
        char *colon = strchr(s, ':');
        if (!colon) {
            snprintf(errstr, errstr_size,
                     "authentication.users.file %s:%d: expected user: password", path, n);
            json_decref(users);
            fclose(f);
            return NULL;
        }
        *colon = 0;
        char *pass = colon + 1;
        while (isspace((unsigned char)*pass))
            pass++;
        pass[strcspn(pass, ",\r\n")] = 0;
        char *end = s + strlen(s);
        while (end > s && isspace((unsigned char)end[-1]))
            *--end = 0;
        json_object_set_new(users, s, json_string(pass));
    }
    fclose(f);
    return users;
}

reg_http_t *rill__http_start(rill_registry_t *reg, char *url, size_t url_size, char *errstr,
                             size_t errstr_size)
{
    const char *listener = rill__reg_conf(reg->conf, REG_CONF_LISTENERS);
    bool tls = strncmp(listener, "https://", 8) == 0;
    char host[200];
    const char *hp = listener + (tls ? 8 : 7);
    const char *colon = strrchr(hp, ':');
    snprintf(host, sizeof host, "%.*s", (int)(colon - hp), hp);
    int port = atoi(colon + 1);
    struct addrinfo hints = {.ai_family = AF_INET, .ai_socktype = SOCK_STREAM}, *ai = NULL;
    if (getaddrinfo(host[0] ? host : "0.0.0.0", NULL, &hints, &ai) || !ai) {
        snprintf(errstr, errstr_size, "listeners=%s: cannot resolve host '%s'", listener, host);
        return NULL;
    }
    struct sockaddr_in addr;
    memcpy(&addr, ai->ai_addr, sizeof addr);
    freeaddrinfo(ai);
    addr.sin_port = htons((uint16_t)port);
    reg_http_t *http = rill_calloc(1, sizeof *http);
    if (!http) {
        snprintf(errstr, errstr_size, "out of memory");
        return NULL;
    }
    http->reg = reg;
    if (strcasecmp(rill__reg_conf(reg->conf, REG_CONF_AUTH_METHOD), "BASIC") == 0) {
        const char *file = rill__reg_conf(reg->conf, REG_CONF_USERS_FILE);
        if (!file[0]) {
            snprintf(errstr, errstr_size,
                     "authentication.method=BASIC needs authentication.users.file");
            goto fail;
        }
        if (!(http->users = read_users(file, errstr, errstr_size)))
            goto fail;
    }
    unsigned flags =
        MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_THREAD_PER_CONNECTION | MHD_USE_ERROR_LOG;
    if (tls) {
        const char *cert = rill__reg_conf(reg->conf, REG_CONF_SSL_CERT);
        const char *key = rill__reg_conf(reg->conf, REG_CONF_SSL_KEY);
        if (!cert[0] || !key[0]) {
            snprintf(errstr, errstr_size,
                     "listeners=%s: an https listener needs ssl.certificate.location and "
                     "ssl.key.location",
                     listener);
            goto fail;
        }
        if (!(http->cert = read_file(cert, errstr, errstr_size)) ||
            !(http->key = read_file(key, errstr, errstr_size)))
            goto fail;
        flags |= MHD_USE_TLS;
    }
    http->daemon = MHD_start_daemon(
        flags, (uint16_t)port, NULL, NULL, on_request, http, MHD_OPTION_SOCK_ADDR, &addr,
        MHD_OPTION_NOTIFY_COMPLETED, on_done, http, MHD_OPTION_CONNECTION_LIMIT, 256u,
        MHD_OPTION_CONNECTION_TIMEOUT, 60u, tls ? MHD_OPTION_HTTPS_MEM_CERT : MHD_OPTION_END,
        http->cert, MHD_OPTION_HTTPS_MEM_KEY, http->key, MHD_OPTION_END);
    if (!http->daemon) {
        snprintf(errstr, errstr_size, "listeners=%s: cannot serve there (%s)", listener,
                 errno ? strerror(errno) : "libmicrohttpd refused");
        goto fail;
    }
    const union MHD_DaemonInfo *info = MHD_get_daemon_info(http->daemon, MHD_DAEMON_INFO_BIND_PORT);
    snprintf(url, url_size, "%s://%s:%u", tls ? "https" : "http", host,
             info ? info->port : (unsigned)port);
    return http;
fail:
    rill__http_stop(http);
    return NULL;
}

void rill__http_stop(reg_http_t *http)
{
    if (!http)
        return;
    if (http->daemon)
        MHD_stop_daemon(http->daemon);
    json_decref(http->users);
    free(http->cert);
    free(http->key);
    rill_free(http);
}
