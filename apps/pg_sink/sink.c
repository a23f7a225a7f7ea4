/*
 * rill-pg-sink's loop. A consumer of a group polls records into a batch (each record's row made
 * at once: its event id, text copies NUL-terminated in the batch's arena, for libpq); the batch
 * is written when it holds batch_size records, when its first record has waited batch_ms, before
 * partitions are revoked, and at a stop. A record is destroyed only once its transaction is
 * over, so bytea values are sent from librdkafka's buffers without a copy.
 *
 * Exactly one row per event, whatever is killed when: a transaction holds a batch's rows and its
 * partitions' next offsets, so after a crash the rows and the offsets agree, and a restart reads
 * the offsets and starts each partition there (records written before the crash and read again
 * are never written twice: the row is keyed by the event id, and ON CONFLICT keeps one). Kafka's
 * committed offsets are written after each transaction for lag monitoring and never read.
 */
#include "sink.h"

#include <rill/rill.h>
#include <rill/serde.h>

#include <librdkafka/rdkafka.h>

#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define COMPONENT "pg-sink"

static volatile sig_atomic_t stop_requested;

void pg_sink_stop(void)
{
    stop_requested = 1;
}

/* An assigned partition: where PostgreSQL has it (stored) and where the batch takes it (next). */
typedef struct {
    char *topic;
    rd_kafka_topic_t *rkt; /* the topic's handle, as its records carry it (for a quick match) */
    int32_t partition;
    int64_t stored, next;
    bool in_batch;
} part_t;

typedef struct {
    const pg_sink_opts_t *opts;
    rd_kafka_t *rk;
    pg_store_t *store;
    part_t *parts;
    int nparts, cap_parts;
    /* The batch. */
    rd_kafka_message_t **msgs;
    pg_row_t *rows;
    int n;
    int64_t batch_t0;
    rill_arena_t *arena;
    pg_offset_t *offsets; /* one per partition in the batch, for pg_store_write */
    bool failed;
    /* Progress. */
    int64_t records, transactions, inserted, skipped, last_records, last_lag, last_log, t0;
    rd_kafka_resp_err_t last_err;
    int64_t last_err_log;
    /* The timestamp column's date and time of the last second seen (arena_timestamp). */
    int64_t ts_second;
    char ts_text[64]; /* 19 used; room for any int gmtime_r gives */
} sink_t;

static part_t *find_part(sink_t *s, rd_kafka_topic_t *rkt, const char *topic, int32_t partition)
{
    for (int i = 0; i < s->nparts; i++) {
        part_t *p = &s->parts[i];
        if (p->partition != partition)
            continue;
        if (p->rkt == rkt && rkt)
            return p;
        if (strcmp(p->topic, topic ? topic : rd_kafka_topic_name(rkt)) == 0) {
            p->rkt = rkt;
            return p;
        }
    }
    return NULL;
}

/* ---- writing a batch ---- */

static void release_batch(sink_t *s)
{
    for (int i = 0; i < s->n; i++)
        rd_kafka_message_destroy(s->msgs[i]);
    s->n = 0;
    if (s->arena)
        rill_arena_reset(s->arena);
    for (int i = 0; i < s->nparts; i++)
        s->parts[i].in_batch = false;
}

/* Seeks every assigned partition to the offset PostgreSQL holds: after another writer moved one
 * (this instance lost its partitions and has not heard yet), it goes on from the truth. */
static int reseek(sink_t *s)
{
    char err[512];
    pg_offset_t *o = s->offsets;
    for (int i = 0; i < s->nparts; i++)
        o[i] = (pg_offset_t){s->parts[i].topic, s->parts[i].partition, -1, -1};
    if (pg_store_read_offsets(s->store, s->opts->group, o, s->nparts, err, sizeof err) != 0) {
        rill_log(RILL_LOG_ERROR, COMPONENT, "%s", err);
        return -1;
    }
    rd_kafka_topic_partition_list_t *list = rd_kafka_topic_partition_list_new(s->nparts);
    for (int i = 0; i < s->nparts; i++) {
        s->parts[i].stored = s->parts[i].next = o[i].stored;
        rd_kafka_topic_partition_list_add(list, o[i].topic, o[i].partition)->offset =
            o[i].stored >= 0
                ? o[i].stored
                : (s->opts->start_at_end ? RD_KAFKA_OFFSET_END : RD_KAFKA_OFFSET_BEGINNING);
    }
    rd_kafka_error_t *error = rd_kafka_seek_partitions(s->rk, list, 10000);
    int rc = 0;
    if (error) {
        rill_log(RILL_LOG_ERROR, COMPONENT, "cannot seek to the stored offsets: %s",
                 rd_kafka_error_string(error));
        rd_kafka_error_destroy(error);
        rc = -1;
    }
    rd_kafka_topic_partition_list_destroy(list);
    return rc;
}

/* Writes the batch in one transaction. Returns 0 (written, or given up after another writer
 * moved an offset: read again from the stored offsets) or -1 (the sink fails). */
static int flush(sink_t *s)
{
    if (s->n == 0 || s->failed)
        return s->failed ? -1 : 0;
    int n = 0;
    for (int i = 0; i < s->nparts; i++)
        if (s->parts[i].in_batch)
            s->offsets[n++] = (pg_offset_t){s->parts[i].topic, s->parts[i].partition,
                                            s->parts[i].stored, s->parts[i].next};
    pg_write_stats_t stats;
    char err[1024];
    int records = s->n;
    int rc = pg_store_write(s->store, s->opts->group, s->rows, s->n, s->offsets, n, &stats, err,
                            sizeof err);
    release_batch(s);
    if (rc == PG_STALE) {
        rill_log(RILL_LOG_WARN, COMPONENT,
                 "%s: batch of %d records rolled back; reading the "
                 "stored offsets again",
                 err, records);
        if (reseek(s) != 0)
            s->failed = true;
        return s->failed ? -1 : 0;
    }
    if (rc != 0) {
        rill_log(RILL_LOG_ERROR, COMPONENT, "%s", err);
        s->failed = true;
        return -1;
    }
    s->records += records;
    s->transactions++;
    s->inserted += stats.inserted;
    s->skipped += stats.skipped;
    /* Committed: the partitions' positions move, and Kafka hears of them (for lag tools only:
     * asynchronous, and never read back). */
    rd_kafka_topic_partition_list_t *list = rd_kafka_topic_partition_list_new(n);
    for (int i = 0; i < n; i++) {
        part_t *p = find_part(s, NULL, s->offsets[i].topic, s->offsets[i].partition);
        p->stored = p->next;
        rd_kafka_topic_partition_list_add(list, p->topic, p->partition)->offset = p->next;
    }
    rd_kafka_commit(s->rk, list, 1);
    rd_kafka_topic_partition_list_destroy(list);
    return 0;
}

/* ---- adding a record ---- */

/* Sets *id to m's event id (NUL-terminated in the arena). 0, or -1 with why in err. */
static int event_id(sink_t *s, const rd_kafka_message_t *m, rill_buf_t *id, char *err,
                    size_t err_size)
{
    const pg_sink_opts_t *o = s->opts;
    *id = (rill_buf_t){NULL, 0};
    if (o->id_from == PG_ID_KEY) {
        if (!m->key) {
            snprintf(err, err_size, "the record has no key (the event id: --id key)");
            return -1;
        }
        *id = rill_arena_copy(s->arena, m->key, m->key_len);
    } else if (o->id_from == PG_ID_HEADER) {
        rd_kafka_headers_t *hdrs = NULL;
        const void *v = NULL;
        size_t len = 0;
        if (rd_kafka_message_headers(m, &hdrs) != 0 ||
            rd_kafka_header_get_last(hdrs, o->id_name, &v, &len) != 0 || !v) {
            snprintf(err, err_size, "the record has no header '%s' (the event id)", o->id_name);
            return -1;
        }
        *id = rill_arena_copy(s->arena, v, len);
    } else {
        rill_buf_t doc, member;
        char perr[256];
        if (!m->payload) {
            snprintf(err, err_size, "the record has no value (the event id is its member '%s')",
                     o->id_name);
            return -1;
        }
        if (rill_json_parse(s->arena, m->payload, m->len, &doc, perr, sizeof perr) != 0) {
            snprintf(err, err_size, "the value is not JSON (%s)", perr);
            return -1;
        }
        if (rill_json_get_str(doc.data, o->id_name, &member) == 0) {
            *id = rill_arena_copy(s->arena, member.data, member.len);
        } else if (rill_json_get(doc.data, o->id_name, &member) == 0 &&
                   rill_json_type(member.data) != RILL_JSON_NULL) {
            rill_buf_t text = rill_json_text(member.data); /* a number, say: its JSON text */
            *id = rill_arena_copy(s->arena, text.data, text.len);
        } else {
            snprintf(err, err_size, "the value has no member '%s' (the event id)", o->id_name);
            return -1;
        }
    }
    if (!id->data) {
        snprintf(err, err_size, "out of memory");
        return -1;
    }
    if (memchr(id->data, 0, id->len)) {
        snprintf(err, err_size, "the event id holds a NUL byte");
        return -1;
    }
    return 0;
}

/* Sets row column c to len bytes of data: as they are for a bytea column, else as text copied
 * NUL-terminated (text cannot hold NUL, so a value with one is refused). */
static int set_value(sink_t *s, pg_row_t *row, pg_col_t c, const void *data, size_t len, char *err,
                     size_t err_size)
{
    if (!data || !s->opts->pg.columns[c] || !*s->opts->pg.columns[c])
        return 0;
    if (pg_store_column_is_bytes(s->store, c)) {
        row->values[c] = data;
        row->lens[c] = (int)len;
        return 0;
    }
    if (memchr(data, 0, len)) {
        snprintf(err, err_size, "its %s holds a NUL byte, which a text column cannot",
                 c == PG_COL_KEY ? "key" : "value");
        return -1;
    }
    rill_buf_t copy = rill_arena_copy(s->arena, data, len);
    if (!copy.data) {
        snprintf(err, err_size, "out of memory");
        return -1;
    }
    row->values[c] = copy.data;
    return 0;
}

/* Returns v in decimal, NUL-terminated in the arena, or NULL. By hand: printf's machinery cost
 * 5,000 instructions a record for a row's three numbers (callgrind). */
static const char *arena_i64(rill_arena_t *arena, int64_t v)
{
    char digits[24], *end = digits + sizeof digits, *p = end;
    uint64_t u = v < 0 ? 0 - (uint64_t)v : (uint64_t)v;
    do
        *--p = (char)('0' + u % 10);
    while (u /= 10);
    if (v < 0)
        *--p = '-';
    return rill_arena_copy(arena, p, (size_t)(end - p)).data;
}

/* Returns timestamp ts (ms since the epoch) as PostgreSQL reads a timestamptz, UTC
 * ("2026-12-02 08:48:34.126+00"), in the arena, or NULL. The date and time of the last second
 * seen are kept: the records of a batch mostly share a few seconds. */
static const char *arena_timestamp(sink_t *s, int64_t ts)
{
    int64_t sec = ts / 1000;
    if (sec != s->ts_second) {
        time_t t = (time_t)sec;
        struct tm tm;
        gmtime_r(&t, &tm);
        snprintf(s->ts_text, sizeof s->ts_text, "%04d-%02d-%02d %02d:%02d:%02d", tm.tm_year + 1900,
                 tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec);
        s->ts_second = sec;
    }
    size_t n = strlen(s->ts_text);
    char *out = rill_arena_alloc(s->arena, n + 8);
    if (!out)
        return NULL;
    int ms = (int)(ts % 1000);
    memcpy(out, s->ts_text, n);
    out[n] = '.';
    out[n + 1] = (char)('0' + ms / 100);
    out[n + 2] = (char)('0' + ms / 10 % 10);
    out[n + 3] = (char)('0' + ms % 10);
    memcpy(out + n + 4, "+00", 4);
    return out;
}

/* Adds m to the batch, which then owns it. Returns 0, or -1 (logged, naming the record). */
static int add(sink_t *s, rd_kafka_message_t *m)
{
    const char *topic = rd_kafka_topic_name(m->rkt);
    part_t *p = find_part(s, m->rkt, topic, m->partition);
    if (!p || m->offset < p->next) {
        /* Not ours any more (fetched before a revocation), or before the stored offset. */
        rd_kafka_message_destroy(m);
        return 0;
    }
    pg_row_t *row = &s->rows[s->n];
    *row = (pg_row_t){.topic = topic, .partition = m->partition, .offset = m->offset};
    char err[512];
    rill_buf_t id;
    int rc = event_id(s, m, &id, err, sizeof err);
    if (rc == 0) {
        row->values[PG_COL_ID] = id.data;
        rc = set_value(s, row, PG_COL_PAYLOAD, m->payload, m->len, err, sizeof err);
    }
    if (rc == 0)
        rc = set_value(s, row, PG_COL_KEY, m->key, m->key_len, err, sizeof err);
    if (rc == 0) {
        row->values[PG_COL_TOPIC] = topic;
        row->values[PG_COL_PARTITION] = arena_i64(s->arena, m->partition);
        row->values[PG_COL_OFFSET] = arena_i64(s->arena, m->offset);
        rd_kafka_timestamp_type_t tstype;
        int64_t ts = rd_kafka_message_timestamp(m, &tstype);
        if (ts >= 0 && !(row->values[PG_COL_TIMESTAMP] = arena_timestamp(s, ts))) {
            snprintf(err, sizeof err, "out of memory");
            rc = -1;
        }
        if (!row->values[PG_COL_PARTITION] || !row->values[PG_COL_OFFSET]) {
            snprintf(err, sizeof err, "out of memory");
            rc = -1;
        }
    }
    if (rc != 0) {
        rill_log(RILL_LOG_ERROR, COMPONENT, "%s [%" PRId32 "] offset %" PRId64 ": %s", topic,
                 m->partition, m->offset, err);
        rd_kafka_message_destroy(m);
        s->failed = true;
        return -1;
    }
    if (s->n == 0)
        s->batch_t0 = rill_monotonic_ms();
    s->msgs[s->n++] = m;
    p->next = m->offset + 1;
    p->in_batch = true;
    return 0;
}

/* ---- assignment ---- */

static const char *start_name(int64_t offset)
{
    return offset == RD_KAFKA_OFFSET_END ? "its end" : "its start";
}

/* New partitions: their offsets from PostgreSQL, then the consumer starts each there. */
static void assign(sink_t *s, rd_kafka_topic_partition_list_t *list, bool cooperative)
{
    if (s->nparts + list->cnt > s->cap_parts) {
        int cap = s->nparts + list->cnt;
        part_t *parts = realloc(s->parts, (size_t)cap * sizeof *parts);
        pg_offset_t *offsets = realloc(s->offsets, (size_t)cap * sizeof *offsets);
        if (parts)
            s->parts = parts;
        if (offsets)
            s->offsets = offsets;
        if (!parts || !offsets) {
            rill_log(RILL_LOG_ERROR, COMPONENT, "out of memory");
            s->failed = true;
            return;
        }
        s->cap_parts = cap;
    }
    pg_offset_t *o = s->offsets;
    for (int i = 0; i < list->cnt; i++)
        o[i] = (pg_offset_t){list->elems[i].topic, list->elems[i].partition, -1, -1};
    char err[512];
    if (pg_store_read_offsets(s->store, s->opts->group, o, list->cnt, err, sizeof err) != 0) {
        rill_log(RILL_LOG_ERROR, COMPONENT, "%s", err);
        s->failed = true;
        return;
    }
    char line[1024];
    size_t len = 0;
    line[0] = 0;
    for (int i = 0; i < list->cnt; i++) {
        rd_kafka_topic_partition_t *e = &list->elems[i];
        char *topic = strdup(e->topic);
        if (!topic) {
            rill_log(RILL_LOG_ERROR, COMPONENT, "out of memory");
            s->failed = true;
            return;
        }
        s->parts[s->nparts++] =
            (part_t){topic, NULL, e->partition, o[i].stored, o[i].stored, false};
        e->offset = o[i].stored >= 0
                        ? o[i].stored
                        : (s->opts->start_at_end ? RD_KAFKA_OFFSET_END : RD_KAFKA_OFFSET_BEGINNING);
        if (len < sizeof line - 64) {
            char at[24];
            snprintf(at, sizeof at, "%" PRId64, e->offset);
            len += (size_t)snprintf(line + len, sizeof line - len, "%s%s [%" PRId32 "] at %s",
                                    i ? ", " : "", e->topic, e->partition,
                                    e->offset >= 0 ? at : start_name(e->offset));
        }
    }
    rill_log(RILL_LOG_INFO, COMPONENT,
             "assigned %d partition(s), from the offsets in PostgreSQL: %s", list->cnt, line);
    if (cooperative) {
        rd_kafka_error_t *error = rd_kafka_incremental_assign(s->rk, list);
        if (error) {
            rill_log(RILL_LOG_ERROR, COMPONENT, "cannot assign: %s", rd_kafka_error_string(error));
            rd_kafka_error_destroy(error);
            s->failed = true;
        }
    } else if (rd_kafka_assign(s->rk, list) != 0) {
        rill_log(RILL_LOG_ERROR, COMPONENT, "cannot assign the partitions");
        s->failed = true;
    }
}

/* Partitions taken away: the batch is written first, while they are still this sink's. */
static void revoke(sink_t *s, rd_kafka_topic_partition_list_t *list, bool cooperative)
{
    flush(s);
    for (int i = 0; i < list->cnt; i++) {
        part_t *p = find_part(s, NULL, list->elems[i].topic, list->elems[i].partition);
        if (!p)
            continue;
        free(p->topic);
        *p = s->parts[--s->nparts];
    }
    rill_log(RILL_LOG_INFO, COMPONENT, "%d partition(s) revoked", list->cnt);
    if (cooperative) {
        rd_kafka_error_t *error = rd_kafka_incremental_unassign(s->rk, list);
        if (error)
            rd_kafka_error_destroy(error);
    } else {
        rd_kafka_assign(s->rk, NULL);
    }
}

static void on_rebalance(rd_kafka_t *rk, rd_kafka_resp_err_t err,
                         rd_kafka_topic_partition_list_t *list, void *opaque)
{
    sink_t *s = opaque;
    bool cooperative = strcmp(rd_kafka_rebalance_protocol(rk), "COOPERATIVE") == 0;
    if (err == RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS && !s->failed)
        assign(s, list, cooperative);
    else if (err == RD_KAFKA_RESP_ERR__REVOKE_PARTITIONS || s->failed)
        revoke(s, list, cooperative);
    else
        rd_kafka_assign(rk, NULL);
}

/* ---- the loop ---- */

static void progress(sink_t *s, bool final)
{
    int64_t now = rill_monotonic_ms();
    if (final) {
        double secs = (double)(now - s->t0) / 1000.0;
        rill_log(RILL_LOG_INFO, COMPONENT,
                 "stopped after %" PRId64 " records in %" PRId64 " transaction%s (%.1f s, %.0f "
                 "records/s): %" PRId64 " rows written, %" PRId64
                 " already there (duplicate event ids)",
                 s->records, s->transactions, s->transactions == 1 ? "" : "s", secs,
                 secs > 0 ? (double)s->records / secs : 0.0, s->inserted, s->skipped);
        return;
    }
    int64_t lag = 0;
    for (int i = 0; i < s->nparts; i++) {
        int64_t lo, hi;
        if (rd_kafka_get_watermark_offsets(s->rk, s->parts[i].topic, s->parts[i].partition, &lo,
                                           &hi) == 0 &&
            hi >= 0)
            lag += hi - (s->parts[i].stored >= 0 ? s->parts[i].stored : lo);
    }
    /* Idle and caught up: nothing to say (the line said so last time). */
    if (s->records == s->last_records && lag == s->last_lag)
        return;
    double secs = (double)(now - s->last_log) / 1000.0;
    rill_log(RILL_LOG_INFO, COMPONENT,
             "%" PRId64 " records in %" PRId64 " transaction%s: %" PRId64 " rows written, %" PRId64
             " already there (duplicate event ids); %.0f records/s; lag %" PRId64
             " on %d partition(s)",
             s->records, s->transactions, s->transactions == 1 ? "" : "s", s->inserted, s->skipped,
             secs > 0 ? (double)(s->records - s->last_records) / secs : 0.0, lag, s->nparts);
    s->last_log = now;
    s->last_records = s->records;
    s->last_lag = lag;
}

/* librdkafka's errors in the loop: fatal ones end the sink, others are logged (once per kind a
 * while: a missing topic is reported on every metadata refresh). */
static void consumer_error(sink_t *s, const rd_kafka_message_t *m)
{
    if (m->err == RD_KAFKA_RESP_ERR__PARTITION_EOF)
        return;
    char fatal[512];
    if (rd_kafka_fatal_error(s->rk, fatal, sizeof fatal)) {
        rill_log(RILL_LOG_ERROR, COMPONENT, "Kafka consumer: fatal error: %s", fatal);
        s->failed = true;
        return;
    }
    int64_t now = rill_monotonic_ms();
    if (m->err != s->last_err || now - s->last_err_log > 10000) {
        rill_log(RILL_LOG_WARN, COMPONENT, "Kafka consumer: %s%s%s",
                 m->rkt ? rd_kafka_topic_name(m->rkt) : "", m->rkt ? ": " : "",
                 rd_kafka_message_errstr(m));
        s->last_err = m->err;
        s->last_err_log = now;
    }
}

static rd_kafka_t *consumer_new(sink_t *s)
{
    const pg_sink_opts_t *o = s->opts;
    char err[512];
    rd_kafka_conf_t *kc = rd_kafka_conf_new();
    struct {
        const char *key, *value;
    } settings[] = {
        {"bootstrap.servers", o->bootstrap},
        {"group.id", o->group},
        /* Positions come from PostgreSQL; Kafka's commits are only written, by hand. */
        {"enable.auto.commit", "false"},
        {"enable.auto.offset.store", "false"},
        {"isolation.level", "read_committed"},
        {"enable.partition.eof", "false"},
    };
    for (size_t i = 0; i < sizeof settings / sizeof settings[0]; i++)
        if (settings[i].value && rd_kafka_conf_set(kc, settings[i].key, settings[i].value, err,
                                                   sizeof err) != RD_KAFKA_CONF_OK) {
            rill_log(RILL_LOG_ERROR, COMPONENT, "%s", err);
            rd_kafka_conf_destroy(kc);
            return NULL;
        }
    for (int i = 0; i < o->nkafka_conf; i++) {
        const char *eq = strchr(o->kafka_conf[i], '=');
        char key[256];
        if (!eq || eq == o->kafka_conf[i] || (size_t)(eq - o->kafka_conf[i]) >= sizeof key) {
            rill_log(RILL_LOG_ERROR, COMPONENT, "--config %s: want KEY=VALUE", o->kafka_conf[i]);
            rd_kafka_conf_destroy(kc);
            return NULL;
        }
        snprintf(key, sizeof key, "%.*s", (int)(eq - o->kafka_conf[i]), o->kafka_conf[i]);
        if (strcmp(key, "enable.auto.commit") == 0 || strcmp(key, "group.id") == 0) {
            rill_log(RILL_LOG_ERROR, COMPONENT, "--config %s: rill-pg-sink sets %s itself", key,
                     key);
            rd_kafka_conf_destroy(kc);
            return NULL;
        }
        if (rd_kafka_conf_set(kc, key, eq + 1, err, sizeof err) != RD_KAFKA_CONF_OK) {
            rill_log(RILL_LOG_ERROR, COMPONENT, "--config %s: %s", key, err);
            rd_kafka_conf_destroy(kc);
            return NULL;
        }
    }
    rd_kafka_conf_set_rebalance_cb(kc, on_rebalance);
    rd_kafka_conf_set_opaque(kc, s);
    rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_CONSUMER, kc, err, sizeof err);
    if (!rk) {
        rill_log(RILL_LOG_ERROR, COMPONENT, "cannot make the Kafka consumer: %s", err);
        rd_kafka_conf_destroy(kc);
        return NULL;
    }
    rd_kafka_poll_set_consumer(rk);
    return rk;
}

static int subscribe(sink_t *s)
{
    rd_kafka_topic_partition_list_t *topics = rd_kafka_topic_partition_list_new(s->opts->ntopics);
    for (int i = 0; i < s->opts->ntopics; i++)
        rd_kafka_topic_partition_list_add(topics, s->opts->topics[i], RD_KAFKA_PARTITION_UA);
    rd_kafka_resp_err_t err = rd_kafka_subscribe(s->rk, topics);
    rd_kafka_topic_partition_list_destroy(topics);
    if (err) {
        rill_log(RILL_LOG_ERROR, COMPONENT, "cannot subscribe: %s", rd_kafka_err2str(err));
        return -1;
    }
    return 0;
}

int pg_sink_run(const pg_sink_opts_t *opts)
{
    sink_t s = {.opts = opts, .ts_second = -1};
    char err[1024];
    s.t0 = s.last_log = rill_monotonic_ms();
    s.store = pg_store_new(&opts->pg, err, sizeof err);
    if (!s.store) {
        rill_log(RILL_LOG_ERROR, COMPONENT, "%s", err);
        return 1;
    }
    s.msgs = calloc((size_t)opts->batch_size, sizeof *s.msgs);
    s.rows = calloc((size_t)opts->batch_size, sizeof *s.rows);
    s.arena = rill_arena_new(64 * 1024);
    if (!s.msgs || !s.rows || !s.arena || !(s.rk = consumer_new(&s)) || subscribe(&s) != 0) {
        if (!s.msgs || !s.rows || !s.arena)
            rill_log(RILL_LOG_ERROR, COMPONENT, "out of memory");
        s.failed = true;
    } else {
        rill_log(RILL_LOG_INFO, COMPONENT,
                 "group %s: topic(s) %s%s into table %s (offsets in %s), batches of up to %d "
                 "records or %d ms, ON CONFLICT DO %s",
                 opts->group, opts->topics[0], opts->ntopics > 1 ? ", ..." : "", opts->pg.table,
                 opts->pg.offsets_table, opts->batch_size, opts->batch_ms,
                 opts->pg.update ? "UPDATE" : "NOTHING");
    }
    while (!s.failed && !stop_requested) {
        int timeout = 100;
        if (s.n > 0) {
            int64_t left = s.batch_t0 + opts->batch_ms - rill_monotonic_ms();
            timeout = left < 0 ? 0 : left < timeout ? (int)left : timeout;
        }
        rd_kafka_message_t *m = rd_kafka_consumer_poll(s.rk, timeout);
        if (m && m->err) {
            consumer_error(&s, m);
            rd_kafka_message_destroy(m);
        } else if (m) {
            add(&s, m);
        }
        if (s.n > 0 &&
            (s.n == opts->batch_size || rill_monotonic_ms() - s.batch_t0 >= opts->batch_ms))
            flush(&s);
        if (opts->progress_ms > 0 && rill_monotonic_ms() - s.last_log >= opts->progress_ms) {
            progress(&s, false);
            s.last_log = rill_monotonic_ms();
        }
    }
    if (!s.failed && stop_requested)
        rill_log(RILL_LOG_INFO, COMPONENT, "stopping: writing the batch in hand (%d records)", s.n);
    flush(&s);
    if (s.rk) {
        rd_kafka_consumer_close(s.rk); /* revokes: flushes nothing more, leaves the group */
        if (!s.failed)
            progress(&s, true);
        rd_kafka_destroy(s.rk);
    }
    release_batch(&s);
    for (int i = 0; i < s.nparts; i++)
        free(s.parts[i].topic);
    free(s.parts);
    free(s.offsets);
    free(s.msgs);
    free(s.rows);
    rill_arena_destroy(s.arena);
    pg_store_destroy(s.store);
    return s.failed ? 1 : 0;
}
