/*
 * The dead letter queue's tools: scan the dead letters a filter selects (decoding the
 * __streams.errors.* headers that operators/errors.c writes, KIP-1034's names), group them by
 * error class and node, show one, and replay them to the topic and partition they were read
 * from. A replayed record is the input as it was (key, value, timestamp, its own headers) with
 * RILL_DLQ_REPLAY_HEADER counting replays: when it fails again its dead letter carries that
 * count, and a record that reached the limit is refused, so a record that always fails cannot
 * go round for ever.
 */
#include "admin_int.h"

#include <rill/serde.h>

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define ERRORS_PREFIX "__streams.errors."

typedef struct {
    const rill_dlq_filter_t *filter;
    rill_dlq_record_cb each;
    void *ud;
    rill_header_t *headers; /* scratch, grown */
    size_t headers_cap;
    /* The decoded headers of the record at hand. */
    char exception[256], error_class[256], message[2048], node[256], topic[256], app[256];
} scan_t;

/* Copies a header's value into buf as a string. */
static void header_str(const rill_header_t *h, char *buf, size_t size)
{
    size_t n = h->value.len < size - 1 ? h->value.len : size - 1;
    if (n)
        memcpy(buf, h->value.data, n);
    buf[n] = 0;
}

static int scan_message(void *ud, const rd_kafka_message_t *m)
{
    scan_t *s = ud;
    const rill_dlq_filter_t *f = s->filter;
    rd_kafka_timestamp_type_t tstype;
    int64_t ts = rd_kafka_message_timestamp(m, &tstype);
    if (f->since_ms >= 0 && ts < f->since_ms)
        return 0;
    rd_kafka_headers_t *hdrs = NULL;
    size_t n = 0;
    if (rd_kafka_message_headers(m, &hdrs) == RD_KAFKA_RESP_ERR_NO_ERROR)
        n = rd_kafka_header_cnt(hdrs);
    if (n > s->headers_cap) {
        rill_header_t *g = rill_realloc(s->headers, n * sizeof *g);
        if (!g)
            return RILL_ENOMEM;
        s->headers = g;
        s->headers_cap = n;
    }
    char *exception = s->exception, *message = s->message, *node = s->node, *topic = s->topic,
         *app = s->app, num[32];
    exception[0] = message[0] = node[0] = topic[0] = app[0] = 0;
    rill_dlq_record_t r = {
        .partition = m->partition,
        .offset = m->offset,
        .timestamp = ts,
        .key = {m->key, m->key ? m->key_len : 0},
        .value = {m->payload, m->payload ? m->len : 0},
        .headers = s->headers,
        .header_count = n,
        .exception = exception,
        .message = message,
        .node = node,
        .source_topic = topic,
        .source_partition = -1,
        .source_offset = -1,
        .application_id = app,
    };
    for (size_t i = 0; i < n; i++) {
        const void *v;
        size_t len;
        const char *name;
        rd_kafka_header_get_all(hdrs, i, &name, &v, &len);
        rill_header_t *h = &s->headers[i];
        *h = (rill_header_t){name, {v, v ? len : 0}};
        if (strncmp(name, ERRORS_PREFIX, sizeof ERRORS_PREFIX - 1) != 0) {
            if (strcmp(name, RILL_DLQ_REPLAY_HEADER) == 0) {
                header_str(h, num, sizeof num);
                r.replays = atoi(num);
            }
            continue;
        }
        const char *what = name + sizeof ERRORS_PREFIX - 1;
        if (strcmp(what, "exception") == 0)
            header_str(h, exception, sizeof s->exception);
        else if (strcmp(what, "message") == 0)
            header_str(h, message, sizeof s->message);
        else if (strcmp(what, "processor.node.id") == 0)
            header_str(h, node, sizeof s->node);
        else if (strcmp(what, "topic") == 0)
            header_str(h, topic, sizeof s->topic);
        else if (strcmp(what, "application.id") == 0)
            header_str(h, app, sizeof s->app);
        else if (strcmp(what, "partition") == 0)
            header_str(h, num, sizeof num), r.source_partition = atoi(num);
        else if (strcmp(what, "offset") == 0)
            header_str(h, num, sizeof num), r.source_offset = atoll(num);
    }
    /* The class is the exception up to its "(code)". */
    char *class = s->error_class;
    size_t cl = strcspn(exception, "(");
    memcpy(class, exception, cl);
    class[cl] = 0;
    r.error_class = class;
    if (f->error_class && strcmp(f->error_class, class) != 0 &&
        strcmp(f->error_class, exception) != 0)
        return 0;
    return s->each(s->ud, &r);
}

int rill_dlq_scan(rill_admin_t *admin, const rill_dlq_filter_t *f, rill_dlq_record_cb each,
                  void *ud, rill_admin_progress_cb progress, void *progress_ud, char *errstr,
                  size_t errstr_size)
{
    if (!admin || !f || !f->topic || !each)
        return rill__admin_fail(RILL_EINVAL, errstr, errstr_size, "no dead letter queue topic");
    int n = rill__admin_partitions(admin, f->topic, errstr, errstr_size);
    if (n < 0)
        return n;
    if (n == 0)
        return rill__admin_fail(RILL_ENOENT, errstr, errstr_size, "no topic '%s'", f->topic);
    if (f->partition >= n)
        return rill__admin_fail(RILL_ENOENT, errstr, errstr_size,
                                "topic '%s' has no partition %d (it has %d)", f->topic,
                                f->partition, n);
    rill__admin_range_t *ranges = rill_calloc((size_t)n, sizeof *ranges);
    if (!ranges)
        return rill__admin_fail(RILL_ENOMEM, errstr, errstr_size, "out of memory");
    size_t count = 0;
    int rc = 0;
    for (int p = 0; p < n && !rc; p++) {
        if (f->partition >= 0 && p != f->partition)
            continue;
        int64_t lo, hi;
        if ((rc = rill__admin_watermarks(admin, f->topic, p, &lo, &hi, errstr, errstr_size)))
            break;
        rill__admin_range_t *r = &ranges[count++];
        *r = (rill__admin_range_t){f->topic, p, lo, hi};
        if (f->from_offset > r->start)
            r->start = f->from_offset;
        if (f->to_offset >= 0 && f->to_offset + 1 < r->stop)
            r->stop = f->to_offset + 1;
    }
    scan_t s = {.filter = f, .each = each, .ud = ud};
    if (!rc)
        rc = rill__admin_read_ranges(admin, ranges, count, scan_message, &s, progress, progress_ud,
                                     errstr, errstr_size);
    rill_free(s.headers);
    rill_free(ranges);
    return rc;
}

/* ---- list ---- */

typedef struct {
    rill_dlq_group_t *groups;
    size_t count, cap;
} list_t;

static int list_one(void *ud, const rill_dlq_record_t *r)
{
    list_t *l = ud;
    rill_dlq_group_t *g = NULL;
    for (size_t i = 0; i < l->count && !g; i++)
        if (strcmp(l->groups[i].error_class, r->error_class) == 0 &&
            strcmp(l->groups[i].node, r->node) == 0)
            g = &l->groups[i];
    if (!g) {
        if (l->count == l->cap) {
            size_t cap = l->cap ? l->cap * 2 : 8;
            rill_dlq_group_t *n = rill_realloc(l->groups, cap * sizeof *n);
            if (!n)
                return RILL_ENOMEM;
            l->groups = n;
            l->cap = cap;
        }
        g = &l->groups[l->count++];
        memset(g, 0, sizeof *g);
        snprintf(g->error_class, sizeof g->error_class, "%s", r->error_class);
        snprintf(g->node, sizeof g->node, "%s", r->node);
        g->first_ms = g->last_ms = r->timestamp;
    }
    g->count++;
    if (r->timestamp < g->first_ms)
        g->first_ms = r->timestamp;
    if (r->timestamp > g->last_ms)
        g->last_ms = r->timestamp;
    return 0;
}

static int by_count(const void *a, const void *b)
{
    const rill_dlq_group_t *x = a, *y = b;
    if (x->count != y->count)
        return x->count > y->count ? -1 : 1;
    int c = strcmp(x->error_class, y->error_class);
    return c ? c : strcmp(x->node, y->node);
}

int rill_dlq_list(rill_admin_t *admin, const rill_dlq_filter_t *filter, rill_dlq_group_t **groups,
                  size_t *count, rill_admin_progress_cb progress, void *ud, char *errstr,
                  size_t errstr_size)
{
    if (!groups || !count)
        return rill__admin_fail(RILL_EINVAL, errstr, errstr_size, "no result");
    list_t l = {0};
    int rc = rill_dlq_scan(admin, filter, list_one, &l, progress, ud, errstr, errstr_size);
    if (rc == RILL_ENOMEM)
        rill__admin_fail(rc, errstr, errstr_size, "out of memory");
    if (rc) {
        rill_free(l.groups);
        return rc;
    }
    if (l.count)
        qsort(l.groups, l.count, sizeof *l.groups, by_count);
    *groups = l.groups;
    *count = l.count;
    return 0;
}

/* ---- show ---- */

/* Whether s is valid UTF-8 (shortest forms, no surrogates). */
static bool utf8_valid(const unsigned char *s, size_t n)
{
    for (size_t i = 0; i < n;) {
        unsigned c = s[i], cp;
        size_t k;
        if (c < 0x80) {
            i++;
            continue;
        } else if ((c & 0xe0) == 0xc0) {
            k = 1, cp = c & 0x1f;
        } else if ((c & 0xf0) == 0xe0) {
            k = 2, cp = c & 0x0f;
        } else if ((c & 0xf8) == 0xf0) {
            k = 3, cp = c & 0x07;
        } else {
            return false;
        }
        if (i + k >= n)
            return false;
        for (size_t j = 1; j <= k; j++) {
            if ((s[i + j] & 0xc0) != 0x80)
                return false;
            cp = (cp << 6) | (s[i + j] & 0x3f);
        }
        if ((k == 1 && cp < 0x80) || (k == 2 && cp < 0x800) || (k == 3 && cp < 0x10000) ||
            cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
            return false;
        i += k + 1;
    }
    return true;
}

/* Writes bytes as a quoted string: control bytes (and, when they are not UTF-8, bytes past
 * ASCII) as \xNN. */
static void put_bytes(rill__admin_text_t *t, rill_buf_t b)
{
    if (!b.data) {
        rill__admin_put(t, "null", 4);
        return;
    }
    const unsigned char *s = b.data;
    bool utf8 = utf8_valid(s, b.len);
    rill__admin_put(t, "\"", 1);
    for (size_t i = 0; i < b.len; i++) {
        if (s[i] == '"' || s[i] == '\\')
            rill__admin_putf(t, "\\%c", s[i]);
        else if (s[i] < 0x20 || s[i] == 0x7f || (s[i] >= 0x80 && !utf8))
            rill__admin_putf(t, "\\x%02x", s[i]);
        else
            rill__admin_put(t, &s[i], 1);
    }
    rill__admin_putf(t, "\" (%zu byte%s%s)", b.len, b.len == 1 ? "" : "s",
                     utf8 ? "" : ", not UTF-8");
}

static void put_payload(rill__admin_text_t *t, const char *what, rill_buf_t b)
{
    char *pretty = b.data ? rill_json_pretty(b.data, b.len) : NULL;
    if (pretty) {
        rill__admin_putf(t, "%s (JSON, %zu bytes):\n%s\n", what, b.len, pretty);
        rill_free(pretty);
        return;
    }
    rill__admin_putf(t, "%s: ", what);
    put_bytes(t, b);
    rill__admin_put(t, "\n", 1);
}

typedef struct {
    rill__admin_text_t t;
    bool found;
} show_t;

static int show_one(void *ud, const rill_dlq_record_t *r)
{
    show_t *show = ud;
    rill__admin_text_t *t = &show->t;
    show->found = true;
    rill__admin_putf(t, "partition %d offset %lld, timestamp %lld\n", r->partition,
                     (long long)r->offset, (long long)r->timestamp);
    rill__admin_putf(t, "error: %s at node '%s' of application '%s'\n",
                     r->exception[0] ? r->exception : "?", r->node, r->application_id);
    rill__admin_putf(t, "message: %s\n", r->message);
    rill__admin_putf(t, "read from: topic '%s' partition %d offset %lld\n", r->source_topic,
                     r->source_partition, (long long)r->source_offset);
    rill__admin_putf(t, "replays: %d\n", r->replays);
    rill__admin_putf(t, "headers (%zu):\n", r->header_count);
    for (size_t i = 0; i < r->header_count; i++) {
        rill__admin_putf(t, "  %s: ", r->headers[i].name);
        put_bytes(t, r->headers[i].value);
        rill__admin_put(t, "\n", 1);
    }
    put_payload(t, "key", r->key);
    put_payload(t, "value", r->value);
    return 0;
}

char *rill_dlq_show(rill_admin_t *admin, const char *topic, int32_t partition, int64_t offset,
                    char *errstr, size_t errstr_size)
{
    if (partition < 0 || offset < 0) {
        rill__admin_fail(RILL_EINVAL, errstr, errstr_size, "a partition and an offset, please");
        return NULL;
    }
    rill_dlq_filter_t f = {topic, partition, offset, offset, NULL, -1};
    show_t show = {{0}, false};
    rill__admin_putf(&show.t, "dead letter in '%s' ", topic ? topic : "");
    int rc = rill_dlq_scan(admin, &f, show_one, &show, NULL, NULL, errstr, errstr_size);
    if (!rc && !show.found)
        rill__admin_fail(RILL_ENOENT, errstr, errstr_size,
                         "no record at '%s' partition %d offset %lld", topic, partition,
                         (long long)offset);
    else if (!rc && show.t.oom)
        rill__admin_fail(RILL_ENOMEM, errstr, errstr_size, "out of memory");
    if (rc || !show.found || show.t.oom) {
        rill_free(show.t.text);
        return NULL;
    }
    return show.t.text;
}

/* ---- replay ---- */

typedef struct {
    rd_kafka_t *producer;
    int max_replays;
    bool dry_run;
    rill_dlq_replay_result_t *res;
    char *errstr;
    size_t errstr_size;
} replay_t;

static int replay_one(void *ud, const rill_dlq_record_t *r)
{
    replay_t *rp = ud;
    rill_dlq_replay_result_t *res = rp->res;
    res->selected++;
    if (res->first_offset < 0)
        res->first_offset = r->offset;
    res->last_offset = r->offset;
    if (!r->source_topic[0]) {
        res->unknown++;
        return 0;
    }
    if (r->replays >= rp->max_replays) {
        res->refused++;
        return 0;
    }
    res->replayed++;
    if (rp->dry_run)
        return 0;
    rd_kafka_headers_t *h = rd_kafka_headers_new(r->header_count + 1);
    for (size_t i = 0; i < r->header_count; i++) {
        const rill_header_t *x = &r->headers[i];
        if (strncmp(x->name, ERRORS_PREFIX, sizeof ERRORS_PREFIX - 1) == 0 ||
            strcmp(x->name, RILL_DLQ_REPLAY_HEADER) == 0)
            continue;
        rd_kafka_header_add(h, x->name, -1, x->value.data,
                            x->value.data ? (ssize_t)x->value.len : 0);
    }
    char count[16];
    snprintf(count, sizeof count, "%d", r->replays + 1);
    rd_kafka_header_add(h, RILL_DLQ_REPLAY_HEADER, -1, count, -1);
    for (;;) {
        rd_kafka_resp_err_t err = rd_kafka_producev(
            rp->producer, RD_KAFKA_V_TOPIC(r->source_topic),
            RD_KAFKA_V_PARTITION(r->source_partition >= 0 ? r->source_partition
                                                          : RD_KAFKA_PARTITION_UA),
            RD_KAFKA_V_KEY(r->key.data, r->key.len),
            RD_KAFKA_V_VALUE((void *)r->value.data, r->value.len),
            RD_KAFKA_V_TIMESTAMP(r->timestamp), RD_KAFKA_V_HEADERS(h),
            RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_END);
        if (!err)
            return 0;
        if (err != RD_KAFKA_RESP_ERR__QUEUE_FULL) {
            rd_kafka_headers_destroy(h);
            return rill__admin_fail(RILL_EKAFKA, rp->errstr, rp->errstr_size,
                                    "cannot send the dead letter at offset %lld to '%s': %s",
                                    (long long)r->offset, r->source_topic, rd_kafka_err2str(err));
        }
        rd_kafka_poll(rp->producer, 100);
    }
}

int rill_dlq_replay(rill_admin_t *admin, const rill_dlq_filter_t *filter, int max_replays,
                    bool dry_run, rill_admin_progress_cb progress, void *ud,
                    rill_dlq_replay_result_t *result, char *errstr, size_t errstr_size)
{
    if (!result || max_replays < 0)
        return rill__admin_fail(RILL_EINVAL, errstr, errstr_size, "bad arguments");
    *result = (rill_dlq_replay_result_t){.first_offset = -1, .last_offset = -1};
    rill__admin_delivery_t delivery;
    replay_t rp = {NULL, max_replays, dry_run, result, errstr, errstr_size};
    if (!dry_run && !(rp.producer = rill__admin_producer(admin, &delivery, errstr, errstr_size)))
        return RILL_EKAFKA;
    int rc = rill_dlq_scan(admin, filter, replay_one, &rp, progress, ud, errstr, errstr_size);
    if (rp.producer) {
        char why[512];
        int prc = rill__admin_producer_close(rp.producer, &delivery, why, sizeof why);
        if (prc && !rc)
            rc = rill__admin_fail(prc, errstr, errstr_size, "%s", why);
    }
    return rc;
}
