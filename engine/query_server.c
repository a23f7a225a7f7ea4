/*
 * Interactive queries over HTTP (query.listen; docs/queries.md), on an HTTP server of its own
 * (http_server.h), answering from this instance's stores through the interactive queries of
 * app.h (query.c):
 *   GET /stores/<store>/keys/<key>                 a key-value store's key
 *   GET /stores/<store>/range[?from=K&to=K]        a key range (both ends inclusive, optional)
 *   GET /stores/<store>/prefix/<prefix>            the keys that start with prefix
 *   GET /stores/<store>/windows?key=K&from=MS&to=MS  a window store's windows of key (key
 *                                                  absent: every key) starting in [from, to]
 *   GET /stores/<store>/sessions?key=K             a session store's sessions of key
 *   GET /stores                                    the queryable stores
 * Keys in the URL are text (rill_serde_from_text: strings as they are, numbers in decimal, JSON
 * as JSON) serialized with the store's key serde; answers are JSON, keys and values as the
 * store's serdes read them (rill_serde_to_json). Lists stop at ?limit= rows (1,000 by default,
 * at most 100,000) and then say "truncated": true. A key whose partition this instance does not
 * hold gets 421 naming the partition; an app that is not running (or rebalancing) 503 with
 * Retry-After. Private to engine/.
 */
#include "engine_int.h"
#include "http_server.h"

#include <jansson.h>

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define DEFAULT_LIMIT 1000
#define MAX_LIMIT     100000

struct query_server {
    rill_app_t *app;
    http_server_t *http;
};

/* The JSON of a string, appended to out. */
/* An answer that could not be written whole (out of memory): the request gets 500, never a
 * cut JSON. Each server's requests are served on its one thread. */
static _Thread_local bool out_of_memory;

static void put(rill_bytes_t *out, const char *s)
{
    if (rill_bytes_append(out, s, strlen(s)))
        out_of_memory = true;
}

/* Length of the valid UTF-8 sequence at s (n bytes left), or 0 when it is not one. */
static size_t utf8_len(const unsigned char *s, size_t n)
{
    size_t len = s[0] < 0x80             ? 1
                 : (s[0] & 0xe0) == 0xc0 ? 2
                 : (s[0] & 0xf0) == 0xe0 ? 3
                 : (s[0] & 0xf8) == 0xf0 ? 4
                                         : 0;
    if (!len || len > n || (len == 2 && s[0] < 0xc2))
        return 0;
    for (size_t i = 1; i < len; i++)
        if ((s[i] & 0xc0) != 0x80)
            return 0;
    return len;
}

/* The JSON of a message, appended to out: bytes that are not UTF-8 (a key of the bytes serde, a
 * cut) become U+FFFD, so the message is never lost. */
static void json_text(rill_bytes_t *out, const char *s)
{
    rill_bytes_t clean = {0};
    const unsigned char *p = (const unsigned char *)(s ? s : "");
    for (size_t n = strlen((const char *)p); n;) {
        size_t len = utf8_len(p, n);
        if (rill_bytes_append(&clean, len ? (const void *)p : "\xef\xbf\xbd", len ? len : 3))
            out_of_memory = true;
        p += len ? len : 1;
        n -= len ? len : 1;
    }
    json_t *v = json_stringn(clean.data ? (const char *)clean.data : "", clean.len);
    char *t = v ? json_dumps(v, JSON_ENCODE_ANY | JSON_COMPACT) : NULL;
    json_decref(v);
    rill_bytes_free(&clean);
    if (!t || rill_bytes_append(out, t, strlen(t)))
        out_of_memory = true;
    free(t);
}

/* Replies with body (taken), or 500 when it could not be written whole. */
static void reply_json(http_request_t *req, unsigned status, rill_bytes_t *body)
{
    if (out_of_memory) {
        rill_bytes_free(body);
        rill__http_reply(req, 500, RILL__HTTP_JSON, "{\"error\":\"out of memory\"}\n");
        return;
    }
    rill__http_reply_take(req, status, RILL__HTTP_JSON, body);
}

/* Answers {"error": why} with status. */
static void error(http_request_t *req, unsigned status, const char *why)
{
    rill_bytes_t out = {0};
    put(&out, "{\"error\":");
    json_text(&out, why);
    put(&out, "}\n");
    reply_json(req, status, &out);
}

/* Answers a query's failure rc (not 0) for store. */
static void failed(http_request_t *req, int rc, const char *store, const char *kind)
{
    char why[512];
    switch (rc) {
    case RILL_ENOENT:
        snprintf(why, sizeof why, "no queryable store '%s' (GET /stores lists them)", store);
        return error(req, 404, why);
    case RILL_EINVAL:
        snprintf(why, sizeof why, "store '%s' is not a %s store", store, kind);
        return error(req, 400, why);
    case RILL_ESTATE:
        rill__http_add_header(req, "Retry-After", "1");
        return error(req, 503,
                     "the app is not running (starting, rebalancing, restoring or closing): try "
                     "again");
    default:
        snprintf(why, sizeof why, "store '%s': %s", store, rill_strerror(rc));
        return error(req, 500, why);
    }
}

/* The store's serdes (the app's defaults when it names none; bytes when neither does). */
static int serdes(rill_app_t *app, const char *store, const rill_serde_t **ks,
                  const rill_serde_t **vs)
{
    int i = rill_topology_find_store(app->topo, store);
    if (i < 0)
        return RILL_ENOENT;
    int st;
    const rill_store_spec_t *spec = rill_topology_store(app->topo, i, &st);
    if (spec->internal)
        return RILL_ENOENT;
    *ks = spec->key_serde ? spec->key_serde : app->env.default_key_serde;
    *vs = spec->value_serde ? spec->value_serde : app->env.default_value_serde;
    if (!*ks)
        *ks = rill_serde_bytes();
    if (!*vs)
        *vs = rill_serde_bytes();
    return 0;
}

/* What a list query's callback keeps, under the query lock: each row's bytes, copied as they
 * are (a header, then the key's and the value's bytes), up to limit rows and MAX_BYTES; the
 * JSON is made after the lock is released (a serde may fetch a schema from a registry), so no
 * stream thread waits for it. */
typedef struct {
    uint32_t klen, vlen; /* vlen UINT32_MAX: a null value */
    int64_t ts, start, end;
} row_t;

#define MAX_BYTES (64u << 20)

typedef struct {
    rill_app_t *app;
    rill_bytes_t raw; /* row_t, key bytes, value bytes; again */
    const rill_serde_t *ks, *vs;
    long rows, limit;
    bool truncated, oom;
    bool keyed;      /* one key's rows, whose task key_here() found running */
    int fields;      /* 0: key-value rows; 1: and "start"; 2: and "start", "end" */
    char error[512]; /* a row the serdes could not read */
} rows_t;

static bool keep(rows_t *r, rill_buf_t key, rill_buf_t value, int64_t ts, int64_t start,
                 int64_t end)
{
    if (r->rows == r->limit || r->raw.len + key.len + value.len > MAX_BYTES) {
        r->truncated = true;
        return false;
    }
    row_t h = {(uint32_t)key.len, value.data ? (uint32_t)value.len : UINT32_MAX, ts, start, end};
    if (rill_bytes_append(&r->raw, &h, sizeof h) ||
        rill_bytes_append(&r->raw, key.data ? key.data : "", key.len) ||
        rill_bytes_append(&r->raw, value.data ? value.data : "", value.len)) {
        r->oom = true;
        return false;
    }
    r->rows++;
    return true;
}

static bool kv_row(void *ud, rill_buf_t key, rill_buf_t value, int64_t timestamp)
{
    return keep(ud, key, value, timestamp, 0, 0);
}

static bool window_row(void *ud, rill_buf_t key, int64_t start, rill_buf_t value, int64_t timestamp)
{
    return keep(ud, key, value, timestamp, start, 0);
}

static bool session_row(void *ud, rill_buf_t key, int64_t start, int64_t end, rill_buf_t value,
                        int64_t timestamp)
{
    return keep(ud, key, value, timestamp, start, end);
}

/* Appends "key":K,"value":V (the serdes' JSON) to out; false with error set when one fails. */
static bool key_value(rill_bytes_t *out, const rill_serde_t *ks, const rill_serde_t *vs,
                      rill_buf_t key, rill_buf_t value, char *error, size_t error_size)
{
    put(out, "\"key\":");
    if (rill_serde_to_json(ks, key, out, error, error_size))
        return false;
    put(out, ",\"value\":");
    return rill_serde_to_json(vs, value, out, error, error_size) == 0;
}

/* Writes the kept rows as JSON objects, comma-separated, into out. */
static bool format_rows(rows_t *r, rill_bytes_t *out)
{
    size_t at = 0;
    for (long n = 0; n < r->rows; n++) {
        row_t h;
        memcpy(&h, r->raw.data + at, sizeof h);
        at += sizeof h;
        rill_buf_t key = {r->raw.data + at, h.klen};
        at += h.klen;
        rill_buf_t value = {h.vlen == UINT32_MAX ? NULL : r->raw.data + at,
                            h.vlen == UINT32_MAX ? 0 : h.vlen};
        at += value.len;
        put(out, n ? ",{" : "{");
        if (!key_value(out, r->ks, r->vs, key, value, r->error, sizeof r->error))
            return false;
        char t[128];
        if (r->fields == 2)
            snprintf(t, sizeof t, ",\"start\":%" PRId64 ",\"end\":%" PRId64, h.start, h.end);
        else if (r->fields == 1)
            snprintf(t, sizeof t, ",\"start\":%" PRId64, h.start);
        else
            t[0] = 0;
        put(out, t);
        snprintf(t, sizeof t, ",\"timestamp\":%" PRId64 "}", h.ts);
        put(out, t);
    }
    return true;
}

/* Parses an optional integer argument; false (answered 400) when it is not one. */
static bool int_arg(http_request_t *req, const char *name, int64_t def, int64_t lo, int64_t hi,
                    int64_t *v)
{
    const char *text = rill__http_arg(req, name);
    *v = def;
    if (!text)
        return true;
    char *end;
    errno = 0;
    long long n = strtoll(text, &end, 10);
    if (!*text || *end || errno || n < lo || n > hi) {
        char why[300];
        snprintf(why, sizeof why, "%s=%.100s is not an integer in [%" PRId64 ", %" PRId64 "]", name,
                 text, lo, hi);
        error(req, 400, why);
        return false;
    }
    *v = n;
    return true;
}

/* Serializes the text of a key; false (answered 400) when the key serde cannot take it. */
static bool key_bytes(http_request_t *req, const rill_serde_t *ks, const char *what,
                      const char *text, rill_bytes_t *out)
{
    char why[512], msg[700];
    if (!rill_serde_from_text(ks, text, out, why, sizeof why))
        return true;
    snprintf(msg, sizeof msg, "%s: %s", what, why);
    error(req, 400, msg);
    return false;
}

/* Finishes a list: {"store":S,"rows":[...],"truncated":b}. */
static void list_done(http_request_t *req, rows_t *r, int rc, const char *store, const char *kind)
{
    rill_bytes_t body = {0};
    if (rc == RILL_ENOENT && r->keyed)
        rc = RILL_ESTATE; /* the key's task left between the check and the read */
    if (!rc && r->oom)
        rc = RILL_ENOMEM;
    if (rc) {
        rill_bytes_free(&r->raw);
        return failed(req, rc, store, kind);
    }
    put(&body, "{\"store\":");
    json_text(&body, store);
    put(&body, ",\"rows\":[");
    bool ok = format_rows(r, &body); /* the lock is released: the serdes may take their time */
    put(&body, r->truncated ? "],\"truncated\":true}\n" : "],\"truncated\":false}\n");
    rill_bytes_free(&r->raw);
    if (!ok) {
        rill_bytes_free(&body);
        return error(req, 500, r->error);
    }
    reply_json(req, 200, &body);
}

/* Where the key's partition is: true when it is here and running; otherwise answered (421
 * naming the partition held elsewhere, 503 while it restores or moves, or the query's error). */
static bool key_here(query_server_t *s, http_request_t *req, const char *store, const char *kind,
                     rill_buf_t k, const char *key, int32_t *partition)
{
    bool local;
    int rc = rill_app_query_partition(s->app, store, k, partition, &local);
    if (!rc && !local && rill__app_query_held(s->app, store, *partition))
        rc = RILL_ESTATE; /* here, but restoring or in a rebalance: not elsewhere either */
    if (rc) {
        failed(req, rc, store, kind);
        return false;
    }
    if (local)
        return true;
    char why[700], part[16];
    snprintf(why, sizeof why,
             "key '%.200s' of store '%s' is in partition %d, which this instance does not hold",
             key, store, *partition);
    snprintf(part, sizeof part, "%d", *partition);
    rill__http_add_header(req, "Rill-Partition", part);
    error(req, 421, why);
    return false;
}

static void get_key(query_server_t *s, http_request_t *req, const char *store, const char *key)
{
    const rill_serde_t *ks, *vs;
    int rc = serdes(s->app, store, &ks, &vs);
    if (rc)
        return failed(req, rc, store, "key-value");
    rill_bytes_t kb = {0}, value = {0}, out = {0};
    int32_t partition;
    rill_buf_t k;
    if (!key_bytes(req, ks, "the key", key, &kb))
        goto done;
    k = (rill_buf_t){kb.data ? (const void *)kb.data : "", kb.len};
    if (!key_here(s, req, store, "key-value", k, key, &partition))
        goto done;
    int64_t ts = 0;
    rc = rill_app_query_get(s->app, store, k, &value, &ts);
    if (rc == RILL_ENOENT) { /* the store is there (serdes found it), and the key's task */
        char why[600];
        snprintf(why, sizeof why, "store '%s' has no key '%.200s'", store, key);
        error(req, 404, why);
        goto done;
    }
    if (rc) {
        failed(req, rc, store, "key-value");
        goto done;
    }
    char tail[96], why[512];
    put(&out, "{\"store\":");
    json_text(&out, store);
    put(&out, ",");
    if (!key_value(&out, ks, vs, k,
                   (rill_buf_t){value.data ? (const void *)value.data : "", value.len}, why,
                   sizeof why)) {
        error(req, 500, why);
        goto done;
    }
    snprintf(tail, sizeof tail, ",\"timestamp\":%" PRId64 ",\"partition\":%d}\n", ts, partition);
    put(&out, tail);
    reply_json(req, 200, &out);
done:
    rill_bytes_free(&kb);
    rill_bytes_free(&value);
    rill_bytes_free(&out);
}

static void list(query_server_t *s, http_request_t *req, const char *store, const char *op,
                 const char *rest)
{
    rows_t r = {.app = s->app};
    int rc = serdes(s->app, store, &r.ks, &r.vs);
    if (rc)
        return failed(req, rc, store, "queryable");
    /* In a rebalance a list would miss the partitions on their way here: not a partial answer. */
    if (rill_app_state(s->app) != RILL_STATE_RUNNING)
        return failed(req, RILL_ESTATE, store, "queryable");
    int64_t limit;
    if (!int_arg(req, "limit", DEFAULT_LIMIT, 1, MAX_LIMIT, &limit))
        return;
    r.limit = (long)limit;
    rill_bytes_t a = {0}, b = {0};
    const char *kind = "key-value";
    int32_t partition;
    if (strcmp(op, "range") == 0 && !*rest) {
        const char *from = rill__http_arg(req, "from"), *to = rill__http_arg(req, "to");
        if ((from && !key_bytes(req, r.ks, "from", from, &a)) ||
            (to && !key_bytes(req, r.ks, "to", to, &b)))
            goto done;
        rill_buf_t fb = {a.data ? (const void *)a.data : "", a.len};
        rill_buf_t tb = {b.data ? (const void *)b.data : "", b.len};
        rc = rill_app_query_range(s->app, store, from ? &fb : NULL, to ? &tb : NULL, kv_row, &r);
    } else if (strcmp(op, "prefix") == 0 && *rest == '/') {
        if (!key_bytes(req, r.ks, "the prefix", rest + 1, &a))
            goto done;
        rc = rill_app_query_prefix(
            s->app, store, (rill_buf_t){a.data ? (const void *)a.data : "", a.len}, kv_row, &r);
    } else if (strcmp(op, "windows") == 0 && !*rest) {
        kind = "window";
        r.fields = 1;
        const char *key = rill__http_arg(req, "key");
        int64_t from, to;
        if (!int_arg(req, "from", 0, 0, INT64_MAX, &from) ||
            !int_arg(req, "to", INT64_MAX, 0, INT64_MAX, &to) ||
            (key && !key_bytes(req, r.ks, "the key", key, &a)))
            goto done;
        rill_buf_t kb =
            key ? (rill_buf_t){a.data ? (const void *)a.data : "", a.len} : (rill_buf_t){NULL, 0};
        if (key && !key_here(s, req, store, kind, kb, key, &partition))
            goto done;
        r.keyed = key != NULL;
        rc = rill_app_query_windows(s->app, store, kb, from, to, window_row, &r);
    } else if (strcmp(op, "sessions") == 0 && !*rest) {
        kind = "session";
        r.fields = 2;
        const char *key = rill__http_arg(req, "key");
        if (!key) {
            error(req, 400, "sessions need ?key=");
            goto done;
        }
        rill_buf_t kb;
        if (!key_bytes(req, r.ks, "the key", key, &a))
            goto done;
        kb = (rill_buf_t){a.data ? (const void *)a.data : "", a.len};
        if (!key_here(s, req, store, kind, kb, key, &partition))
            goto done;
        r.keyed = true;
        rc = rill_app_query_sessions(s->app, store, kb, session_row, &r);
    } else {
        error(req, 404,
              "not found: /stores/<store>/keys/<key>, /range?from=&to=, /prefix/<prefix>, "
              "/windows?key=&from=&to= or /sessions?key=");
        goto done;
    }
    rill_bytes_free(&a);
    rill_bytes_free(&b);
    return list_done(req, &r, rc, store, kind);
done:
    rill_bytes_free(&a);
    rill_bytes_free(&b);
    rill_bytes_free(&r.raw);
}

/* GET /stores: the queryable stores, by name and kind. */
static void stores(query_server_t *s, http_request_t *req)
{
    static const char *const kinds[] = {"key-value", "window", "session", "versioned"};
    rill_bytes_t out = {0};
    put(&out, "{\"stores\":[");
    int n = 0;
    for (int i = 0; i < rill_topology_store_count(s->app->topo); i++) {
        int st;
        const rill_store_spec_t *spec = rill_topology_store(s->app->topo, i, &st);
        if (spec->internal)
            continue;
        put(&out, n++ ? ",{\"name\":" : "{\"name\":");
        json_text(&out, spec->name);
        put(&out, ",\"type\":");
        json_text(&out, kinds[spec->type]);
        put(&out, "}");
    }
    put(&out, "]}\n");
    rill__http_reply_take(req, 200, RILL__HTTP_JSON, &out);
}

static void on_request(void *ud, http_request_t *req, const char *path)
{
    query_server_t *s = ud;
    out_of_memory = false;
    if (strcmp(path, "/stores") == 0 || strcmp(path, "/stores/") == 0)
        return stores(s, req);
    if (strncmp(path, "/stores/", 8) != 0)
        return error(req, 404, "not found: try /stores");
    /* /stores/<store>/<op>[/<rest>]: store names have no '/' (Kafka's topic characters). */
    const char *name = path + 8, *slash = strchr(name, '/');
    if (!slash || slash == name)
        return error(req, 404, "not found: /stores/<store>/<keys|range|prefix|windows|sessions>");
    char store[256];
    if ((size_t)(slash - name) >= sizeof store) /* longer than any store's name */
        return error(req, 404, "no queryable store of that name (GET /stores lists them)");
    snprintf(store, sizeof store, "%.*s", (int)(slash - name), name);
    const char *op = slash + 1, *rest = strchr(op, '/');
    char opname[16];
    snprintf(opname, sizeof opname, "%.*s", (int)(rest ? rest - op : (long)strlen(op)), op);
    if (strcmp(opname, "keys") == 0 && rest && rest[1])
        return get_key(s, req, store, rest + 1);
    list(s, req, store, opname, rest ? rest : "");
}

query_server_t *rill__query_server_start(rill_app_t *app, const char *listen, char *errstr,
                                         size_t errstr_size)
{
    query_server_t *s = rill_calloc(1, sizeof *s);
    if (!s) {
        snprintf(errstr, errstr_size, "out of memory");
        return NULL;
    }
    s->app = app;
    s->http = rill__http_serve("query.listen", listen, "interactive queries at /stores", on_request,
                               s, errstr, errstr_size);
    if (!s->http) {
        rill_free(s);
        return NULL;
    }
    return s;
}

const char *rill__query_server_url(const query_server_t *s)
{
    return s ? rill__http_url(s->http) : NULL;
}

void rill__query_server_stop(query_server_t *s)
{
    if (!s)
        return;
    rill__http_close(s->http);
    rill_free(s);
}
