/*
 * The poison corpus of the failed-records tests: good orders mixed with bad records of the kinds
 * the failed-events issue names that a source or a user function refuses, the app that reads
 * them, and the check of what came out.
 *
 * Two input topics:
 * - "<prefix>-orders": string keys, JSON values {"id":i,"amount":a}. Record i is of kind
 *   poison_kind(i): good, or bad JSON, a wrong shape (amount not a number), invalid UTF-8 in
 *   the key or in a JSON string, an amount beyond int64 (which the JSON serde refuses), or a
 *   marker ("fail":true) on which the user's map fails the record.
 * - "<prefix>-nums": string keys, int32 values; every 5th has 3 bytes (a wrong-size number).
 *
 * The app maps each order to its amount (decimal text) into "<prefix>-amounts", sums the
 * amounts of each key into "<prefix>-sums", and maps each number to its decimal text into
 * "<prefix>-nums-out". Both handlers are at continue with a dead letter queue
 * "<prefix>-dlq". What must come out: every good record once (amounts, nums-out), each key's
 * sum over its good orders, and every bad record in the dead letter queue once, with its key
 * and value bytes, its timestamp, and headers naming its topic, class and application.
 *
 * The checker reads every partition to its end (read_committed), so a record written twice, or
 * one of an aborted transaction shown, would be counted. Header-only;
 * include after cmocka.h and the Rill headers.
 */
#ifndef RILL_TESTS_POISON_H
#define RILL_TESTS_POISON_H

#include <rill/app.h>
#include <rill/dsl.h>

#include <librdkafka/rdkafka.h>

#include "kafka_util.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define POISON_PARTITIONS 4
#define POISON_KEYS       20

typedef enum {
    POISON_GOOD,
    POISON_BAD_JSON,       /* deserialization: the text ends inside the object */
    POISON_WRONG_SHAPE,    /* processing: amount is a string */
    POISON_BAD_UTF8_KEY,   /* deserialization: 0xff in the string key */
    POISON_BAD_UTF8_VALUE, /* deserialization: 0xfe in a JSON string */
    POISON_OVERFLOW,       /* deserialization: amount beyond int64 (the JSON serde's limit) */
    POISON_MARKER,         /* processing: the user's map fails "fail":true */
    POISON_NULL_KEY,       /* dropped: the sum cannot group a null key (its amount goes out) */
    POISON_HUGE_OUTPUT,    /* production: its amount text (1.2 MB) is more than a producer sends */
    POISON_NOTE_TOO_BIG,   /* production: its note is more than the notes topic takes */
    POISON_NUM_GOOD,       /* a 4-byte int32 */
    POISON_NUM_WRONG_SIZE, /* deserialization: 3 bytes for an int32 */
    POISON_KINDS
} poison_kind_t;

static const char *const poison_kind_names[POISON_KINDS] = {
    "good",        "bad JSON",         "wrong shape", "invalid UTF-8 key", "invalid UTF-8 in JSON",
    "overflow",    "marker",           "null key",    "huge output",       "note over the limit",
    "good number", "wrong-size number"};

/* The notes topic's max.message.bytes (its own limit, far below the producer's). */
#define POISON_NOTES_MAX_BYTES 4096
/* A big note's length. */
#define POISON_NOTE_BYTES 6000
/* A huge output's length: more than a producer's message.max.bytes (1,000,000). */
#define POISON_HUGE_BYTES (1200 * 1000)

/* The kind of order i: of every 32, 18 good, two of each of the first seven bad kinds but
 * one, one of that; one order in 256 makes a huge output, one in 64 a big note (topic_limits:
 * the embedded cluster does not enforce a topic's max.message.bytes). */
static inline poison_kind_t poison_kind(int i, bool topic_limits)
{
    static const poison_kind_t bad[] = {
        POISON_BAD_JSON, POISON_WRONG_SHAPE, POISON_BAD_UTF8_KEY, POISON_BAD_UTF8_VALUE,
        POISON_OVERFLOW, POISON_MARKER,      POISON_NULL_KEY};
    if (i % 256 == 31)
        return POISON_HUGE_OUTPUT;
    if (i % 64 == 63 && topic_limits)
        return POISON_NOTE_TOO_BIG;
    int r = i % 32;
    if (r >= 18 && r < 25)
        return bad[r - 18];
    if (r >= 25 && r < 31)
        return bad[r - 25];
    return POISON_GOOD;
}

/* How many times a record of kind k comes out: once, in an output or the dead letter queue; a
 * null key and a big note twice (its amount, and a dead letter). */
static inline int poison_expected_seen(poison_kind_t k)
{
    return k == POISON_NULL_KEY || k == POISON_NOTE_TOO_BIG ? 2 : 1;
}

/* Whether an order of kind k has its amount in the amounts topic. */
static inline bool poison_has_amount(poison_kind_t k)
{
    return k == POISON_GOOD || k == POISON_NULL_KEY || k == POISON_NOTE_TOO_BIG;
}

/* Whether an order of kind k counts in its key's sum. */
static inline bool poison_in_sum(poison_kind_t k)
{
    return k == POISON_GOOD || k == POISON_HUGE_OUTPUT || k == POISON_NOTE_TOO_BIG;
}

/* The kind of number j. */
static inline poison_kind_t poison_num_kind(int j)
{
    return j % 5 == 4 ? POISON_NUM_WRONG_SIZE : POISON_NUM_GOOD;
}

static inline bool poison_kind_is_deserialization(poison_kind_t k)
{
    return k == POISON_BAD_JSON || k == POISON_BAD_UTF8_KEY || k == POISON_BAD_UTF8_VALUE ||
           k == POISON_OVERFLOW || k == POISON_NUM_WRONG_SIZE;
}

/* The exception class and the failing node's name prefix of kind k's dead letter. */
static inline void poison_kind_failure(poison_kind_t k, const char **class, const char **node)
{
    if (poison_kind_is_deserialization(k))
        *class = "rill.DeserializationError", *node = "KSTREAM-SOURCE-";
    else if (k == POISON_NULL_KEY)
        *class = "rill.DroppedRecord", *node = "KSTREAM-AGGREGATE-";
    else if (k == POISON_HUGE_OUTPUT || k == POISON_NOTE_TOO_BIG)
        *class = "rill.ProductionError", *node = "KSTREAM-SINK-";
    else
        *class = "rill.ProcessingError", *node = "KSTREAM-MAPVALUES-";
}

/* One record of the corpus, as produced. */
typedef struct {
    poison_kind_t kind;
    int topic; /* 0: orders, 1: nums */
    char key[16];
    size_t key_len;
    char value[POISON_NOTE_BYTES + 64];
    size_t value_len;
    int64_t timestamp;
    int64_t amount;    /* good orders */
    int seen;          /* dead letters (bad) or outputs (good) that named it */
    int32_t partition; /* where it was written (poison_check reads the inputs back) */
    int64_t offset;
} poison_record_t;

/* The corpus and the names of its topics. */
typedef struct {
    char orders[96], nums[96], amounts[96], sums[96], nums_out[96], notes[96], dlq[96];
    char app_id[96];
    poison_record_t *recs;
    int n, norders, nnums;
    int good_orders; /* orders whose amount goes out: good ones, null keys, big notes */
    int good_nums, bad;
    int64_t sums_expected[POISON_KEYS];
} poison_t;

/* Makes the corpus of norders orders and nnums numbers, its topics named after prefix, record
 * timestamps from ts0 on; with topic_limits, notes over the notes topic's max.message.bytes
 * (which the embedded cluster does not enforce). Free it with poison_free(). */
static inline void poison_make(poison_t *p, const char *prefix, int norders, int nnums, int64_t ts0,
                               bool topic_limits)
{
    memset(p, 0, sizeof *p);
    snprintf(p->orders, sizeof p->orders, "%s-orders", prefix);
    snprintf(p->nums, sizeof p->nums, "%s-nums", prefix);
    snprintf(p->amounts, sizeof p->amounts, "%s-amounts", prefix);
    snprintf(p->sums, sizeof p->sums, "%s-sums", prefix);
    snprintf(p->nums_out, sizeof p->nums_out, "%s-nums-out", prefix);
    snprintf(p->notes, sizeof p->notes, "%s-notes", prefix);
    snprintf(p->dlq, sizeof p->dlq, "%s-dlq", prefix);
    snprintf(p->app_id, sizeof p->app_id, "%s-app", prefix);
    p->recs = calloc((size_t)(norders + nnums), sizeof *p->recs);
    assert_non_null(p->recs);
    p->norders = norders, p->nnums = nnums, p->n = norders + nnums;
    for (int i = 0; i < norders; i++) {
        poison_record_t *r = &p->recs[i];
        r->kind = poison_kind(i, topic_limits);
        r->topic = 0;
        r->timestamp = ts0 + i;
        int k = i % POISON_KEYS;
        r->key_len = (size_t)snprintf(r->key, sizeof r->key,
                                      r->kind == POISON_BAD_UTF8_KEY ? "c\xff%d" : "c%02d", k);
        if (r->kind == POISON_NULL_KEY)
            r->key_len = 0; /* sent as a null key */
        r->amount = i % 97 + 1;
        const char *fmt = NULL;
        switch (r->kind) {
        case POISON_BAD_JSON:
            fmt = "{\"id\":%d,\"amount\":";
            break;
        case POISON_WRONG_SHAPE:
            fmt = "{\"id\":%d,\"amount\":\"lots\"}";
            break;
        case POISON_BAD_UTF8_VALUE:
            fmt = "{\"id\":%d,\"amount\":3,\"note\":\"caf\xfe\"}";
            break;
        case POISON_OVERFLOW:
            fmt = "{\"id\":%d,\"amount\":99999999999999999999}";
            break;
        case POISON_MARKER:
            fmt = "{\"id\":%d,\"amount\":5,\"fail\":true}";
            break;
        case POISON_HUGE_OUTPUT:
            fmt = "{\"id\":%d,\"amount\":7,\"huge\":true}";
            r->amount = 7;
            break;
        default:
            break;
        }
        if (fmt) {
            r->value_len = (size_t)snprintf(r->value, sizeof r->value, fmt, i);
        } else if (r->kind == POISON_NOTE_TOO_BIG) {
            int n = snprintf(r->value, sizeof r->value,
                             "{\"id\":%d,\"amount\":%" PRId64 ",\"note\":\"", i, r->amount);
            memset(r->value + n, 'n', POISON_NOTE_BYTES);
            memcpy(r->value + n + POISON_NOTE_BYTES, "\"}", 2);
            r->value_len = (size_t)n + POISON_NOTE_BYTES + 2;
        } else {
            r->value_len = (size_t)snprintf(r->value, sizeof r->value,
                                            "{\"id\":%d,\"amount\":%" PRId64 "}", i, r->amount);
        }
        p->good_orders += poison_has_amount(r->kind);
        if (poison_in_sum(r->kind))
            p->sums_expected[k] += r->amount;
        p->bad += r->kind != POISON_GOOD;
    }
    for (int j = 0; j < nnums; j++) {
        poison_record_t *r = &p->recs[norders + j];
        r->kind = poison_num_kind(j);
        r->topic = 1;
        r->timestamp = ts0 + j;
        r->key_len = (size_t)snprintf(r->key, sizeof r->key, "n%d", j % POISON_KEYS);
        uint32_t v = (uint32_t)(1000 + j);
        unsigned char *b = (unsigned char *)r->value;
        if (r->kind == POISON_NUM_WRONG_SIZE) { /* 3 bytes that name j */
            b[0] = (unsigned char)(v >> 16), b[1] = (unsigned char)(v >> 8),
            b[2] = (unsigned char)v;
            r->value_len = 3;
            p->bad++;
        } else {
            b[0] = (unsigned char)(v >> 24), b[1] = (unsigned char)(v >> 16);
            b[2] = (unsigned char)(v >> 8), b[3] = (unsigned char)v;
            r->value_len = 4;
            p->good_nums++;
        }
    }
}

static inline void poison_free(poison_t *p)
{
    free(p->recs);
    p->recs = NULL;
}

/* Sends records [from, to) of the corpus (in corpus order: orders, then numbers) with prod (a
 * librdkafka producer, such as kafka_admin()'s), each with a header "corpus" = its index, which
 * a dead letter must carry on; 0 or a librdkafka error. */
static inline int poison_send(const poison_t *p, rd_kafka_t *prod, int from, int to)
{
    for (int i = from; i < to; i++) {
        const poison_record_t *r = &p->recs[i];
        char index[16];
        int len = snprintf(index, sizeof index, "%d", i);
        rd_kafka_resp_err_t err;
        while ((err = rd_kafka_producev(prod, RD_KAFKA_V_TOPIC(r->topic ? p->nums : p->orders),
                                        RD_KAFKA_V_KEY(r->key_len ? r->key : NULL, r->key_len),
                                        RD_KAFKA_V_VALUE((void *)r->value, r->value_len),
                                        RD_KAFKA_V_TIMESTAMP(r->timestamp),
                                        RD_KAFKA_V_HEADER("corpus", index, len),
                                        RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
                                        RD_KAFKA_V_END)) == RD_KAFKA_RESP_ERR__QUEUE_FULL)
            rd_kafka_poll(prod, 10);
        if (err)
            return (int)err;
    }
    return (int)rd_kafka_flush(prod, 30000);
}

/* ---- the app ---- */

/* The user's fix: once set, the map no longer fails orders marked "fail":true. */
static atomic_bool poison_marker_fixed;

/* An order's amount as decimal text; fails a record whose amount is not an int64, or that is
 * marked "fail":true (the user's own rule). */
static inline int poison_amount(void *ud, rill_context_t *ctx, const rill_record_t *rec,
                                rill_buf_t *out)
{
    (void)ud;
    int64_t amount;
    bool marked = false;
    if (rill_json_get_bool(rec->value.data, "fail", &marked) == 0 && marked &&
        !atomic_load(&poison_marker_fixed))
        return rill_context_fail(ctx, RILL_EPROCESS, "the order is marked to fail");
    if (rill_json_get_int(rec->value.data, "amount", &amount))
        return rill_context_fail(ctx, RILL_EPROCESS, "the order has no integer amount");
    bool huge = false;
    if (rill_json_get_bool(rec->value.data, "huge", &huge) == 0 && huge && amount < 10) {
        /* The amount after POISON_HUGE_BYTES - 1 zeros: more than the producer sends. */
        char *big = rill_arena_alloc(rill_context_arena(ctx), POISON_HUGE_BYTES);
        if (!big)
            return RILL_ENOMEM;
        memset(big, '0', POISON_HUGE_BYTES - 1);
        big[POISON_HUGE_BYTES - 1] = (char)('0' + amount);
        *out = (rill_buf_t){big, POISON_HUGE_BYTES};
        return 0;
    }
    *out = rill_arena_printf(rill_context_arena(ctx), "%" PRId64, amount);
    return out->data ? 0 : RILL_ENOMEM;
}

/* The decimal number b holds (its digits; b is not NUL-terminated). */
static inline int64_t poison_parse(rill_buf_t b)
{
    int64_t v = 0;
    for (size_t i = 0; i < b.len; i++)
        v = v * 10 + (((const char *)b.data)[i] - '0');
    return v;
}

/* Whether an order has a note. */
static inline bool poison_has_note(void *ud, const rill_record_t *rec)
{
    (void)ud;
    rill_buf_t note;
    return rill_json_get_str(rec->value.data, "note", &note) == 0;
}

/* An order's note. */
static inline int poison_note(void *ud, rill_context_t *ctx, const rill_record_t *rec,
                              rill_buf_t *out)
{
    (void)ud, (void)ctx;
    return rill_json_get_str(rec->value.data, "note", out) ? RILL_EINVAL : 0;
}

static inline int poison_zero(void *ud, rill_context_t *ctx, rill_buf_t *out)
{
    (void)ud, (void)ctx;
    *out = rill_buf_str("0");
    return 0;
}

static inline int poison_add(void *ud, rill_context_t *ctx, rill_buf_t key, rill_buf_t value,
                             rill_buf_t agg, rill_buf_t *out)
{
    (void)ud, (void)key;
    *out = rill_arena_printf(rill_context_arena(ctx), "%" PRId64,
                             poison_parse(agg) + poison_parse(value));
    return out->data ? 0 : RILL_ENOMEM;
}

static inline int poison_num_text(void *ud, rill_context_t *ctx, const rill_record_t *rec,
                                  rill_buf_t *out)
{
    (void)ud;
    *out = rill_arena_printf(rill_context_arena(ctx), "%d", *(const int32_t *)rec->value.data);
    return out->data ? 0 : RILL_ENOMEM;
}

/* The corpus app's topology. */
static inline rill_topology_t *poison_topology(const poison_t *p)
{
    rill_topology_t *topo = rill_topology_new();
    rill_source_opts_t orders_in = {.key_serde = rill_serde_string(),
                                    .value_serde = rill_serde_json()};
    rill_stream_t *orders = rill_stream_from_topic(topo, p->orders, &orders_in);
    rill_stream_t *amounts = rill_stream_map_values(orders, poison_amount, NULL);
    assert_int_equal(rill_stream_to(amounts, p->amounts, NULL), 0);
    rill_stream_t *notes = rill_stream_map_values(rill_stream_filter(orders, poison_has_note, NULL),
                                                  poison_note, NULL);
    assert_int_equal(rill_stream_to(notes, p->notes, NULL), 0);
    rill_materialized_t m = {.name = "sums", .value_serde = rill_serde_string()};
    rill_table_t *sums = rill_grouped_aggregate(rill_stream_group_by_key(amounts, NULL),
                                                poison_zero, poison_add, NULL, &m);
    assert_int_equal(rill_stream_to(rill_table_to_stream(sums), p->sums, NULL), 0);
    rill_source_opts_t nums_in = {.key_serde = rill_serde_string(),
                                  .value_serde = rill_serde_int32()};
    assert_int_equal(
        rill_stream_to(rill_stream_map_values(rill_stream_from_topic(topo, p->nums, &nums_in),
                                              poison_num_text, NULL),
                       p->nums_out, NULL),
        0);
    return topo;
}

/* The settings the corpus app runs with, (key, value) pairs ending in NULL. */
static inline const char *const *poison_settings(const poison_t *p)
{
    static const char *s[15];
    s[0] = "deserialization.exception.handler", s[1] = "continue";
    s[2] = "processing.exception.handler", s[3] = "continue";
    s[4] = "production.exception.handler", s[5] = "continue";
    s[6] = "errors.dead.letter.queue.topic.name", s[7] = p->dlq;
    s[8] = "errors.dead.letter.queue.dropped.records", s[9] = "true";
    s[10] = "default.key.serde", s[11] = "string";
    s[12] = "default.value.serde", s[13] = "string";
    s[14] = NULL;
    return s;
}

/* ---- the check ---- */

typedef struct {
    poison_t *p;
    int bad_headers; /* dead letters whose headers were wrong */
    int unknown;     /* records that match nothing of the corpus */
    char first_problem[256];
    int64_t sums[POISON_KEYS];
    const char *app_id;
} poison_check_t;

/* Keeps the first problem the check met, to fail with. */
__attribute__((format(printf, 2, 3))) static inline void poison_problem(poison_check_t *c,
                                                                        const char *fmt, ...)
{
    if (c->first_problem[0])
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(c->first_problem, sizeof c->first_problem, fmt, ap);
    va_end(ap);
}

/* The value of header name of m as a NUL-terminated string in buf ("" when absent). */
static inline const char *poison_header(const rd_kafka_message_t *m, const char *name, char *buf,
                                        size_t size)
{
    rd_kafka_headers_t *h = NULL;
    const void *v = NULL;
    size_t len = 0;
    buf[0] = 0;
    if (rd_kafka_message_headers((rd_kafka_message_t *)m, &h) == 0 &&
        rd_kafka_header_get_last(h, name, &v, &len) == 0 && v)
        snprintf(buf, size, "%.*s", (int)len, (const char *)v);
    return buf;
}

/* An input record: where its corpus record went (its "corpus" header). */
static inline void poison_input(void *ud, const rd_kafka_message_t *m)
{
    poison_check_t *c = ud;
    char b[16];
    int i = atoi(poison_header(m, "corpus", b, sizeof b));
    if (!b[0] || i < 0 || i >= c->p->n) {
        c->unknown++;
        poison_problem(c, "an input record without a corpus index (partition %d offset %lld)",
                       (int)m->partition, (long long)m->offset);
        return;
    }
    c->p->recs[i].partition = m->partition;
    c->p->recs[i].offset = m->offset;
}

/* A dead letter: find its record by the bytes, check the headers. */
static inline void poison_dead_letter(void *ud, const rd_kafka_message_t *m)
{
    poison_check_t *c = ud;
    poison_t *p = c->p;
    int found = -1;
    for (int i = 0; i < p->n && found < 0; i++) {
        poison_record_t *r = &p->recs[i];
        if (r->kind != POISON_GOOD && r->kind != POISON_NUM_GOOD && r->value_len == m->len &&
            memcmp(r->value, m->payload, m->len) == 0 && r->key_len == m->key_len &&
            (!m->key_len || memcmp(r->key, m->key, m->key_len) == 0))
            found = i;
    }
    if (found < 0) {
        c->unknown++;
        poison_problem(c, "a dead letter matches no bad record: value '%.*s' (%d bytes)",
                       (int)(m->len < 60 ? m->len : 60), (const char *)m->payload, (int)m->len);
        return;
    }
    poison_record_t *r = &p->recs[found];
    r->seen++;
    char b[512], want[96];
    const char *topic = r->topic ? p->nums : p->orders;
    const char *class, *node;
    poison_kind_failure(r->kind, &class, &node);
    bool ok = strcmp(poison_header(m, "__streams.errors.topic", b, sizeof b), topic) == 0;
    ok = ok && strncmp(poison_header(m, "__streams.errors.exception", b, sizeof b), class,
                       strlen(class)) == 0;
    ok = ok && poison_header(m, "__streams.errors.message", b, sizeof b)[0];
    ok = ok &&
         strcmp(poison_header(m, "__streams.errors.application.id", b, sizeof b), c->app_id) == 0;
    snprintf(want, sizeof want, "%" PRId64, r->timestamp);
    ok = ok && strcmp(poison_header(m, "__streams.errors.timestamp", b, sizeof b), want) == 0;
    snprintf(want, sizeof want, "%d", (int)r->partition);
    ok = ok && strcmp(poison_header(m, "__streams.errors.partition", b, sizeof b), want) == 0;
    snprintf(want, sizeof want, "%" PRId64, r->offset);
    ok = ok && strcmp(poison_header(m, "__streams.errors.offset", b, sizeof b), want) == 0;
    /* The failing node: the source, the map, the aggregation or the sink. */
    ok = ok && strncmp(poison_header(m, "__streams.errors.processor.node.id", b, sizeof b), node,
                       strlen(node)) == 0;
    /* The task: "<sub-topology>_<partition>". */
    const char *task = poison_header(m, "__streams.errors.task.id", b, sizeof b);
    const char *under = strchr(task, '_');
    ok = ok && under && atoi(under + 1) == r->partition;
    /* The record's own headers come along. */
    snprintf(want, sizeof want, "%d", found);
    ok = ok && strcmp(poison_header(m, "corpus", b, sizeof b), want) == 0;
    ok = ok && rd_kafka_message_timestamp(m, NULL) == r->timestamp;
    if (!ok) {
        c->bad_headers++;
        char exc[128], msg[160];
        poison_problem(c, "the dead letter of a %s record (corpus %d) has wrong headers: %s: %s",
                       poison_kind_names[r->kind], found,
                       poison_header(m, "__streams.errors.exception", exc, sizeof exc),
                       poison_header(m, "__streams.errors.message", msg, sizeof msg));
    }
}

/* An output of a good order (amounts) or number (nums-out), by key and value. */
static inline void poison_output(poison_check_t *c, const rd_kafka_message_t *m, int topic)
{
    poison_t *p = c->p;
    for (int i = 0; i < p->n; i++) {
        poison_record_t *r = &p->recs[i];
        bool out = topic == 0 ? poison_has_amount(r->kind) : r->kind == POISON_NUM_GOOD;
        if (r->topic != topic || !out || r->key_len != m->key_len ||
            (m->key_len && memcmp(r->key, m->key, m->key_len) != 0) ||
            rd_kafka_message_timestamp(m, NULL) != r->timestamp)
            continue;
        char want[32];
        if (topic == 0)
            snprintf(want, sizeof want, "%" PRId64, r->amount);
        else
            snprintf(want, sizeof want, "%d", 1000 + (i - p->norders));
        if (strlen(want) == m->len && memcmp(want, m->payload, m->len) == 0) {
            r->seen++;
            return;
        }
    }
    c->unknown++;
    poison_problem(c, "an output matches no good record: '%.*s' (%d bytes)",
                   (int)(m->len < 60 ? m->len : 60), (const char *)m->payload, (int)m->len);
}

static inline void poison_amount_out(void *ud, const rd_kafka_message_t *m)
{
    poison_output(ud, m, 0);
}

static inline void poison_num_out(void *ud, const rd_kafka_message_t *m)
{
    poison_output(ud, m, 1);
}

/* A note: none should come out. */
static inline void poison_note_out(void *ud, const rd_kafka_message_t *m)
{
    poison_check_t *c = ud;
    c->unknown++;
    poison_problem(c, "a note of %d bytes came out (partition %d offset %lld)", (int)m->len,
                   (int)m->partition, (long long)m->offset);
}

/* A sum: the last one of each key is its total (a key's updates are in one partition, in
 * order). */
static inline void poison_sum(void *ud, const rd_kafka_message_t *m)
{
    poison_check_t *c = ud;
    char k[16] = "", v[32] = "";
    snprintf(k, sizeof k, "%.*s", (int)m->key_len, (const char *)m->key);
    snprintf(v, sizeof v, "%.*s", (int)m->len, (const char *)m->payload);
    int key = k[0] == 'c' ? atoi(k + 1) : -1;
    if (key < 0 || key >= POISON_KEYS) {
        c->unknown++;
        poison_problem(c, "a sum of an unknown key '%s'", k);
        return;
    }
    c->sums[key] = strtoll(v, NULL, 10);
}

/* Reads every output and the dead letter queue, and checks each record came out exactly once:
 * good ones in the outputs, bad ones in the dead letter queue, each key's sum right. Prints the
 * figures under label. */
static inline void poison_check(poison_t *p, const char *bootstrap, const char *label)
{
    poison_check_t c = {.p = p, .app_id = p->app_id};
    for (int i = 0; i < p->n; i++) {
        p->recs[i].seen = 0;
        p->recs[i].partition = -1;
    }
    int in = kafka_read_to_end(bootstrap, "read_uncommitted", POISON_PARTITIONS, p->orders,
                               poison_input, &c);
    in += kafka_read_to_end(bootstrap, "read_uncommitted", POISON_PARTITIONS, p->nums, poison_input,
                            &c);
    assert_int_equal(in, p->n);
    int dead = kafka_read_to_end(bootstrap, "read_committed", POISON_PARTITIONS, p->dlq,
                                 poison_dead_letter, &c);
    int amounts = kafka_read_to_end(bootstrap, "read_committed", POISON_PARTITIONS, p->amounts,
                                    poison_amount_out, &c);
    int nums = kafka_read_to_end(bootstrap, "read_committed", POISON_PARTITIONS, p->nums_out,
                                 poison_num_out, &c);
    int sums =
        kafka_read_to_end(bootstrap, "read_committed", POISON_PARTITIONS, p->sums, poison_sum, &c);
    /* Every note of the corpus is over the notes topic's limit: none may be there. */
    int notes = kafka_read_to_end(bootstrap, "read_committed", POISON_PARTITIONS, p->notes,
                                  poison_note_out, &c);
    int kinds[POISON_KINDS] = {0}, twice = 0, missing = 0;
    for (int i = 0; i < p->n; i++) {
        poison_record_t *r = &p->recs[i];
        int want = poison_expected_seen(r->kind);
        kinds[r->kind] += r->seen == want;
        twice += r->seen > want;
        missing += r->seen < want;
        if (r->seen != want && !c.first_problem[0])
            snprintf(c.first_problem, sizeof c.first_problem,
                     "corpus record %d (%s, key '%.*s') came out %d times", i,
                     poison_kind_names[r->kind], (int)r->key_len, r->key, r->seen);
    }
    int wrong_sums = 0;
    for (int k = 0; k < POISON_KEYS; k++)
        wrong_sums += c.sums[k] != p->sums_expected[k];
    printf("  %s: in %d (%d orders, %d numbers), %d bad; out: %d amounts, %d numbers, %d sums, "
           "%d notes, %d dead letters; missing %d, too many %d, unknown %d, wrong headers %d, "
           "wrong sums %d\n",
           label, p->n, p->norders, p->nnums, p->bad, amounts, nums, sums, notes, dead, missing,
           twice, c.unknown, c.bad_headers, wrong_sums);
    printf("  %s: bad records right, by kind:", label);
    for (int k = 0; k < POISON_KINDS; k++)
        if (k != POISON_GOOD && k != POISON_NUM_GOOD)
            printf(" %s %d;", poison_kind_names[k], kinds[k]);
    printf("\n");
    if (c.first_problem[0])
        fail_msg("%s: %s", label, c.first_problem);
    assert_int_equal(dead, p->bad);
    assert_int_equal(amounts, p->good_orders);
    assert_int_equal(nums, p->good_nums);
    assert_int_equal(notes, 0);
    assert_int_equal(missing + twice + c.unknown + c.bad_headers + wrong_sums, 0);
}

#endif
