/*
 * The built-in join processors, with Kafka Streams' semantics record for record:
 *
 * - Stream-stream (KStreamJoinWindow, KStreamKStreamJoin): each side's records go into the side's
 *   window store (RILL_JOP_WINDOW, after being forwarded), and each side's join processor
 *   (RILL_JOP_STREAM_STREAM) looks its record up in the other side's store. The window stores
 *   retain duplicates (as Kafka Streams': a sequence number after the timestamp in the key), so
 *   a put is one blind write and the values of one key and timestamp join in the order they came.
 *   Left and outer joins keep unmatched records in a shared key-value store ordered by
 *   (timestamp, side, key) and emit them, joined with null, once stream time passes their
 *   window's end plus grace (the fix of KAFKA-10847: no early (left, null) later followed by the
 *   match); a match deletes the other side's entry. Stream time is the largest timestamp either
 *   side of the join has seen in the task (shared by the two processors of a task).
 * - Stream-table (KStreamKTableJoinProcessor): a stream record joins the table store's value for
 *   its key; table updates reach no join processor.
 * - Table-table (KTableKTableInnerJoin, ...LeftJoin, ...RightJoin, ...OuterJoin): an update of one
 *   side joins the other side's stored row and forwards the change (new and old joined values),
 *   so downstream tables see retractions.
 *
 * Stores hold serialized bytes (the spec's serdes, or the defaults); joiners see the views those
 * serdes decode.
 */
#include "operators_int.h"

#include <string.h>

typedef struct {
    rill_join_spec_t spec;
} join_arg_t;

/* What the two stream-stream processors of one task share (Kafka Streams' TimeTracker). */
typedef struct {
    int64_t stream_time; /* the largest timestamp either side has seen */
    int64_t min_time;    /* the oldest unmatched record's timestamp, or INT64_MAX */
    int64_t next_emit;   /* wall clock of the next scan for closed windows */
    bool started;        /* set by the first of the two processors to start */
} join_time_t;

typedef struct {
    const rill_join_spec_t *spec;
    const rill_serde_t *ks, *this_vs, *other_vs;
    rill_window_handle_t *ws; /* WINDOW: this side's; STREAM_STREAM: the other side's */
    task_store_t *other;      /* STREAM_STREAM: the other side's store (its observed time) */
    rill_kv_store_t *kv;      /* STREAM_TABLE, TABLE_TABLE: the other side's table */
    rill_kv_store_t *outer;   /* STREAM_STREAM, left and outer joins: unmatched records;
                               * STREAM_TABLE with grace: the stream records held back */
    bool versioned;           /* STREAM_TABLE: kv is versioned (joins as of the record's time) */
    int64_t observed;         /* STREAM_TABLE: the largest timestamp the processor has seen */
    int64_t held_min;         /* STREAM_TABLE with grace: no held record is older (INT64_MIN:
                               * not known) */
    join_time_t *time;
    join_time_t own_time;  /* an inner join's (stream time is not used there) */
    int64_t before, after; /* this side's look-back and look-ahead */
    int64_t retention;     /* of the window stores: before + after + grace */
    rill_bytes_t kb, vb, lb, ob;
    rill_bytes_t hb; /* STREAM_TABLE with grace: the held records being released */
    uint64_t skipped_logged;
} join_state_t;

void *rill_join_arg_new(const rill_join_spec_t *spec)
{
    join_arg_t *a = rill_calloc(1, sizeof *a);
    if (!a)
        return NULL;
    a->spec = *spec;
    a->spec.store = spec->store ? rill_strdup(spec->store) : NULL;
    a->spec.outer_store = spec->outer_store ? rill_strdup(spec->outer_store) : NULL;
    if ((spec->store && !a->spec.store) || (spec->outer_store && !a->spec.outer_store)) {
        rill_free((char *)a->spec.store);
        rill_free((char *)a->spec.outer_store);
        rill_free(a);
        return NULL;
    }
    rill_serde_ref(a->spec.key_serde);
    rill_serde_ref(a->spec.this_value_serde);
    rill_serde_ref(a->spec.other_value_serde);
    return a;
}

void rill_join_arg_free(void *p)
{
    join_arg_t *a = p;
    if (!a)
        return;
    rill_free((char *)a->spec.store);
    rill_free((char *)a->spec.outer_store);
    rill_serde_unref(a->spec.key_serde);
    rill_serde_unref(a->spec.this_value_serde);
    rill_serde_unref(a->spec.other_value_serde);
    rill_free(a);
}

/* ---- helpers ---- */

static void put_u32(uint8_t *out, uint32_t v)
{
    out[0] = (uint8_t)(v >> 24);
    out[1] = (uint8_t)(v >> 16);
    out[2] = (uint8_t)(v >> 8);
    out[3] = (uint8_t)v;
}

static uint32_t get_u32(const uint8_t *in)
{
    return (uint32_t)in[0] << 24 | (uint32_t)in[1] << 16 | (uint32_t)in[2] << 8 | in[3];
}

/* Appends one element (4-byte big-endian length, then the bytes) to a value list. */
static int list_append(rill_bytes_t *b, rill_buf_t v)
{
    uint8_t len[4];
    put_u32(len, (uint32_t)v.len);
    return rill_bytes_append(b, len, 4) || rill_bytes_append(b, v.len ? v.data : "", v.len)
               ? RILL_ENOMEM
               : 0;
}

/* Steps through a value list: the next element into *v; false at its end (or a torn list). */
static bool list_next(rill_buf_t list, size_t *at, rill_buf_t *v)
{
    if (*at + 4 > list.len)
        return false;
    const uint8_t *p = (const uint8_t *)list.data + *at;
    size_t n = get_u32(p);
    if (*at + 4 + n > list.len)
        return false;
    *v = (rill_buf_t){p + 4, n};
    *at += 4 + n;
    return true;
}

/* Kafka Streams' joiner order: the user's joiner always takes (left, right). */
static int join_values(rill_context_t *ctx, const join_state_t *st, rill_buf_t key,
                       rill_buf_t this_value, rill_buf_t other_value, rill_buf_t *out)
{
    const rill_join_spec_t *s = st->spec;
    return s->right_side ? s->joiner(s->ud, ctx, key, other_value, this_value, out)
                         : s->joiner(s->ud, ctx, key, this_value, other_value, out);
}

static int forward(rill_context_t *ctx, const rill_record_t *in, rill_buf_t key, rill_buf_t value,
                   int64_t ts)
{
    rill_record_t out = *in;
    out.key = key;
    out.value = value;
    out.timestamp = ts;
    return rill_context_forward(ctx, &out);
}

/* A record the join cannot use (a null key or value): counted, and logged now and then. */
static void skip(rill_context_t *ctx, join_state_t *st, const rill_record_t *rec, const char *why)
{
    rill__op_skip(ctx, rec, why, &st->skipped_logged);
}

static int store_failed(rill_context_t *ctx, const char *store, int rc)
{
    return rill_context_fail(ctx, rc, "cannot use store '%s': %s", store, rill_strerror(rc));
}

/* Makes st->lb the value list old (what a read that returned read_rc found) with vbytes appended;
 * 0, or a code after rill_context_fail(). */
static int list_extend(rill_context_t *ctx, join_state_t *st, int read_rc, rill_buf_t old,
                       rill_buf_t vbytes, const char *store)
{
    st->lb.len = 0;
    if (read_rc && read_rc != RILL_ENOENT)
        return store_failed(ctx, store, read_rc);
    if ((read_rc == 0 && rill_bytes_append(&st->lb, old.len ? old.data : "", old.len)) ||
        list_append(&st->lb, vbytes))
        return rill_context_fail(ctx, RILL_ENOMEM, "out of memory");
    return 0;
}

/* ---- init and close ---- */

static int join_init(rill_context_t *ctx, void *arg, void **state)
{
    const rill_join_spec_t *s = &((join_arg_t *)arg)->spec;
    join_state_t *st = rill_calloc(1, sizeof *st);
    if (!st)
        return RILL_ENOMEM;
    *state = st;
    st->spec = s;
    const rill_task_env_t *env = &ctx->task->env;
    st->ks = s->key_serde ? s->key_serde : env->default_key_serde;
    st->this_vs = s->this_value_serde ? s->this_value_serde : env->default_value_serde;
    st->other_vs = s->other_value_serde ? s->other_value_serde : env->default_value_serde;
    if (s->op == RILL_JOP_WINDOW)
        st->other_vs = st->this_vs; /* unused */
    if (!st->ks || !st->this_vs || !st->other_vs)
        return rill_context_fail(ctx, RILL_ECONFIG,
                                 "no %s serde for the join's store '%s': give one or set a default",
                                 st->ks ? "value" : "key", s->store ? s->store : "(none)");
    if (s->op != RILL_JOP_WINDOW && !s->joiner)
        return rill_context_fail(ctx, RILL_ETOPOLOGY, "the join has no joiner");
    st->before = s->right_side ? s->windows.after_ms : s->windows.before_ms;
    st->after = s->right_side ? s->windows.before_ms : s->windows.after_ms;
    st->retention = s->windows.before_ms + s->windows.after_ms + s->windows.grace_ms;
    switch (s->op) {
    case RILL_JOP_WINDOW:
    case RILL_JOP_STREAM_STREAM:
        st->ws = rill_context_window_store(ctx, s->store);
        if (!st->ws)
            return rill_context_fail(ctx, RILL_ETOPOLOGY,
                                     "window store '%s' is not connected to it",
                                     s->store ? s->store : "(none)");
        st->other = (task_store_t *)st->ws;
        if (s->op == RILL_JOP_WINDOW)
            break;
        if (s->outer_store) {
            st->outer = rill_context_kv_store(ctx, s->outer_store);
            if (!st->outer)
                return rill_context_fail(ctx, RILL_ETOPOLOGY, "store '%s' is not connected to it",
                                         s->outer_store);
        }
        /* Stream time matters to left and outer joins only: both processors of the task find
         * one block under the outer store they share. */
        st->time = st->outer ? rill__task_shared(ctx, st->outer, sizeof *st->time) : &st->own_time;
        if (!st->time)
            return RILL_ENOMEM;
        if (!st->time->started)
            *st->time = (join_time_t){INT64_MIN, INT64_MAX, 0, true};
        break;
    case RILL_JOP_STREAM_TABLE:
    case RILL_JOP_TABLE_TABLE:
        st->kv = rill_context_kv_store(ctx, s->store);
        if (!st->kv)
            return rill_context_fail(ctx, RILL_ETOPOLOGY, "store '%s' is not connected to it",
                                     s->store ? s->store : "(none)");
        st->versioned = rill_kv_is_versioned(st->kv);
        st->observed = INT64_MIN;
        st->held_min = INT64_MIN; /* what a restored buffer holds is not known yet */
        if (s->op != RILL_JOP_STREAM_TABLE || s->windows.grace_ms <= 0)
            break;
        if (!st->versioned)
            return rill_context_fail(ctx, RILL_ETOPOLOGY,
                                     "a grace period needs a versioned table; store '%s' is not",
                                     s->store ? s->store : "(none)");
        st->outer = s->outer_store ? rill_context_kv_store(ctx, s->outer_store) : NULL;
        if (!st->outer)
            return rill_context_fail(ctx, RILL_ETOPOLOGY, "store '%s' is not connected to it",
                                     s->outer_store ? s->outer_store : "(none)");
        break;
    }
    return 0;
}

static void join_close(rill_context_t *ctx, void *state)
{
    (void)ctx;
    join_state_t *st = state;
    if (!st)
        return;
    rill_bytes_free(&st->kb);
    rill_bytes_free(&st->vb);
    rill_bytes_free(&st->lb);
    rill_bytes_free(&st->ob);
    rill_bytes_free(&st->hb);
    rill_free(st);
}

/* ---- stream-stream ---- */

/* RILL_JOP_WINDOW: forwards the record, then adds its value under its key and timestamp to this
 * side's window store, beside any others there (a null key never joins; a null value is never
 * kept). */
static int window_process(rill_context_t *ctx, join_state_t *st, const rill_record_t *rec)
{
    int rc = rill_context_forward(ctx, rec);
    if (rc || !rec->key.data || !rec->value.data)
        return rc;
    rill_buf_t kbytes, vbytes;
    if ((rc = rill__op_ser(ctx, st->ks, rec->key, &st->kb, &kbytes, "key")) ||
        (rc = rill__op_ser(ctx, st->this_vs, rec->value, &st->vb, &vbytes, "value")))
        return rc;
    if (!kbytes.data || !vbytes.data)
        return 0;
    rc = rill_window_handle_put(st->ws, kbytes, rec->timestamp, vbytes, rec->timestamp);
    if (rc == RILL_ENOENT) {
        /* Older than the store's retention: the record joined what the other side holds, but
         * the other side's later records can no longer find it. Counted as dropped, as Kafka
         * Streams' window store counts an expired put. */
        ctx->task->metrics.late_dropped++;
        return 0;
    }
    return rc ? store_failed(ctx, st->spec->store, rc) : 0;
}

/* The outer store's key: the timestamp (8 bytes, big-endian, sign bit flipped, so keys sort by
 * time), the side (0 right, 1 left: Kafka Streams' order at one timestamp), the key's bytes. */
static rill_buf_t outer_key(rill_bytes_t *b, int64_t ts, bool left, rill_buf_t kbytes)
{
    uint8_t head[9];
    rill_encode_i64(head, (int64_t)((uint64_t)ts ^ (UINT64_C(1) << 63)));
    head[8] = left ? 1 : 0;
    b->len = 0;
    if (rill_bytes_append(b, head, sizeof head) ||
        rill_bytes_append(b, kbytes.len ? kbytes.data : "", kbytes.len))
        return (rill_buf_t){NULL, 0};
    return (rill_buf_t){b->data, b->len};
}

static void outer_key_split(rill_buf_t k, int64_t *ts, bool *left, rill_buf_t *kbytes)
{
    const uint8_t *p = k.data;
    *ts = (int64_t)((uint64_t)rill_decode_i64(p) ^ (UINT64_C(1) << 63));
    *left = p[8] != 0;
    *kbytes = (rill_buf_t){p + 9, k.len - 9};
}

/* Emits the unmatched records whose window closed, oldest first, joined with null, and deletes
 * them (Kafka Streams' emitNonJoinedOuterRecords, with its throttle and its early way out). */
static int emit_closed(rill_context_t *ctx, join_state_t *st, const rill_record_t *rec)
{
    join_time_t *t = st->time;
    const rill_join_windows_t *w = &st->spec->windows;
    /* Kafka Streams computes this in Java's wrapping arithmetic: with no unmatched record known
     * (min_time at its maximum) the sum wraps negative and the scan goes on. Rill does the same,
     * so a restarted task (whose restored store holds records min_time does not know) scans. */
    int64_t closes = (int64_t)((uint64_t)t->min_time + (uint64_t)st->after + (uint64_t)w->grace_ms);
    if (closes >= t->stream_time)
        return 0;
    int64_t now = rill_context_wall_clock(ctx);
    if (now < t->next_emit)
        return 0;
    t->next_emit = now + ctx->task->env.outer_join_emit_interval_ms;
    t->min_time = INT64_MAX;
    rill_store_iter_t *it = rill_kv_range(st->outer, NULL, NULL, false);
    if (!it)
        return store_failed(ctx, st->spec->outer_store, RILL_EIO);
    bool left_open = false, right_open = false;
    int rc = 0;
    st->ob.len = 0; /* the keys emitted, each after its 4-byte length */
    rill_buf_t k, stored;
    while (!rc && rill_store_iter_next(it, &k, &stored)) {
        if (k.len < 9)
            continue;
        int64_t ts;
        bool left;
        rill_buf_t kbytes, list;
        outer_key_split(k, &ts, &left, &kbytes);
        t->min_time = ts;
        if (left_open && right_open)
            break;
        /* A left record looks ahead after_ms, a right one before_ms. */
        int64_t look = left ? w->after_ms : w->before_ms;
        if (ts + look + w->grace_ms >= t->stream_time) {
            if (left)
                left_open = true;
            else
                right_open = true;
            continue;
        }
        if (rill_stored_split(stored, &list, NULL)) {
            rc = store_failed(ctx, st->spec->outer_store, RILL_EIO);
            break;
        }
        if (list_append(&st->ob, k)) {
            rc = rill_context_fail(ctx, RILL_ENOMEM, "out of memory");
            break;
        }
        /* Views into the iterator's entry: the joiner gets decoded copies in the arena. */
        rill_buf_t kview, v, vview, out, none = {NULL, 0};
        if ((rc = rill__op_de(ctx, st->ks, kbytes, &kview, "key")))
            break;
        const rill_serde_t *vs = left == !st->spec->right_side ? st->this_vs : st->other_vs;
        for (size_t at = 0; !rc && list_next(list, &at, &v);) {
            if ((rc = rill__op_de(ctx, vs, v, &vview, "value")))
                break;
            rc = left ? st->spec->joiner(st->spec->ud, ctx, kview, vview, none, &out)
                      : st->spec->joiner(st->spec->ud, ctx, kview, none, vview, &out);
            if (!rc)
                rc = forward(ctx, rec, kview, out, ts);
        }
    }
    rill_store_iter_close(it);
    /* Deleted once the scan is over (what was emitted is in st->ob). */
    rill_buf_t done;
    for (size_t at = 0; !rc && list_next((rill_buf_t){st->ob.data, st->ob.len}, &at, &done);) {
        int64_t ts;
        bool left;
        rill_buf_t kbytes;
        outer_key_split(done, &ts, &left, &kbytes);
        rc = rill_kv_put(st->outer, done, (rill_buf_t){NULL, 0}, ts);
        if (rc)
            rc = store_failed(ctx, st->spec->outer_store, rc);
    }
    return rc;
}

/* RILL_JOP_STREAM_STREAM: joins a record with the other side's records of its key in the
 * window; a left or outer join keeps it unmatched until its window closes. */
static int stream_stream_process(rill_context_t *ctx, join_state_t *st, const rill_record_t *rec)
{
    const rill_join_spec_t *s = st->spec;
    join_time_t *t = st->time;
    int64_t ts = rec->timestamp;
    if (ts > t->stream_time)
        t->stream_time = ts;
    rill_buf_t none = {NULL, 0}, out;
    int rc;
    if (s->outer && !rec->key.data && rec->value.data) {
        /* Kafka Streams 4: a null key cannot join, but a left or outer join still emits it. */
        if ((rc = join_values(ctx, st, rec->key, rec->value, none, &out)))
            return rc;
        return forward(ctx, rec, rec->key, out, ts);
    }
    if (!rec->key.data || !rec->value.data) {
        skip(ctx, st, rec, rec->key.data ? "a null value cannot join" : "a null key cannot join");
        return 0;
    }
    if (st->outer && ts == t->stream_time && (rc = emit_closed(ctx, st, rec)))
        return rc;
    int64_t from = ts - st->before > 0 ? ts - st->before : 0;
    int64_t to = ts + st->after > 0 ? ts + st->after : 0;
    /* What the other store still holds: Kafka Streams' window store hides entries at or before
     * its observed time minus its retention. */
    int64_t observed = rill_window_store_observed_time(st->other->ws);
    if (observed != INT64_MIN && observed - st->retention + 1 > from)
        from = observed - st->retention + 1;
    rill_buf_t kbytes;
    if ((rc = rill__op_ser(ctx, st->ks, rec->key, &st->kb, &kbytes, "key")))
        return rc;
    bool matched = false;
    if (from <= to) {
        rill_window_iter_t *it = rill_window_handle_fetch(st->ws, kbytes, from, to);
        if (!it)
            return store_failed(ctx, s->store, RILL_EIO);
        rill_buf_t wkey, stored, v, vview;
        int64_t start;
        while (!rc && rill_window_iter_next(it, &wkey, &start, &stored)) {
            if (rill_stored_split(stored, &v, NULL)) {
                rc = store_failed(ctx, s->store, RILL_EIO);
                break;
            }
            matched = true;
            if (st->outer) {
                /* The other side's record found its match: it is no longer unmatched. */
                rill_buf_t ok = outer_key(&st->ob, start, s->right_side, kbytes), found;
                if (!ok.data) {
                    rc = rill_context_fail(ctx, RILL_ENOMEM, "out of memory");
                    break;
                }
                rc = rill_kv_get(st->outer, ok, &found, NULL);
                if (rc == 0)
                    rc = rill_kv_put(st->outer, ok, none, start);
                if (rc == RILL_ENOENT)
                    rc = 0;
                if (rc) {
                    rc = store_failed(ctx, s->outer_store, rc);
                    break;
                }
            }
            if ((rc = rill__op_de(ctx, st->other_vs, v, &vview, "value")) ||
                (rc = join_values(ctx, st, rec->key, rec->value, vview, &out)))
                break;
            rc = forward(ctx, rec, rec->key, out, start > ts ? start : ts);
        }
        rill_window_iter_close(it);
        if (rc)
            return rc;
    }
    if (matched || !s->outer)
        return 0;
    if (!st->outer || to < t->stream_time) {
        /* Its window closed already (an out-of-order record): no need to keep it. */
        if ((rc = join_values(ctx, st, rec->key, rec->value, none, &out)))
            return rc;
        return forward(ctx, rec, rec->key, out, ts);
    }
    if (ts < t->min_time)
        t->min_time = ts;
    rill_buf_t vbytes, ok = outer_key(&st->ob, ts, !s->right_side, kbytes), old;
    if (!ok.data)
        return rill_context_fail(ctx, RILL_ENOMEM, "out of memory");
    if ((rc = rill__op_ser(ctx, st->this_vs, rec->value, &st->vb, &vbytes, "value")))
        return rc;
    rc = rill_kv_get(st->outer, ok, &old, NULL);
    if ((rc = list_extend(ctx, st, rc, old, vbytes, s->outer_store)))
        return rc;
    rc = rill_kv_put(st->outer, ok, (rill_buf_t){st->lb.data, st->lb.len}, ts);
    return rc ? store_failed(ctx, s->outer_store, rc) : 0;
}

/* ---- stream-table ---- */

/* Reads the other side's row of the key whose bytes are kbytes: its decoded value (a null view
 * when there is none) and timestamp. */
static int other_row(rill_context_t *ctx, join_state_t *st, rill_buf_t kbytes, rill_buf_t *value,
                     int64_t *ts)
{
    rill_buf_t stored;
    *value = (rill_buf_t){NULL, 0};
    int rc = rill_kv_get(st->kv, kbytes, &stored, ts);
    if (rc == RILL_ENOENT)
        return 0;
    if (rc)
        return store_failed(ctx, st->spec->store, rc);
    return rill__op_de(ctx, st->other_vs, stored, value, "table value");
}

/* Reads the version of a versioned table's row valid at as_of (KIP-914), as other_row. */
static int other_row_as_of(rill_context_t *ctx, join_state_t *st, rill_buf_t kbytes, int64_t as_of,
                           rill_buf_t *value)
{
    rill_buf_t stored;
    *value = (rill_buf_t){NULL, 0};
    int rc = rill_kv_get_as_of(st->kv, kbytes, as_of, &stored, NULL);
    if (rc == RILL_ENOENT)
        return 0;
    if (rc)
        return store_failed(ctx, st->spec->store, rc);
    return rill__op_de(ctx, st->other_vs, stored, value, "table value");
}

/* Joins a stream record with the table (its key mapped first, for a global table): the row as
 * it is now, or for a versioned table the version valid at the record's timestamp
 * (KStreamKTableJoinProcessor.doJoin). table_key is the row's key, a null view for a left join's
 * null-key record (which joins null). */
static int stream_table_join(rill_context_t *ctx, join_state_t *st, const rill_record_t *rec,
                             rill_buf_t table_key)
{
    rill_buf_t other = {NULL, 0}, kbytes, out;
    int rc;
    int64_t ts;
    if (table_key.data &&
        ((rc = rill__op_ser(ctx, st->ks, table_key, &st->kb, &kbytes, "join key")) ||
         (rc = st->versioned ? other_row_as_of(ctx, st, kbytes, rec->timestamp, &other)
                             : other_row(ctx, st, kbytes, &other, &ts))))
        return rc;
    if (!other.data && !st->spec->outer)
        return 0;
    if ((rc = join_values(ctx, st, rec->key, rec->value, other, &out)))
        return rc;
    return forward(ctx, rec, rec->key, out, rec->timestamp);
}

/* A held record's key in the grace buffer: its timestamp (big-endian, sign bit flipped so the
 * byte order is the time order) then the serialized key, Kafka Streams' time-first layout.
 * Records of one key and timestamp share an entry: a value list, in arrival order (Kafka Streams
 * tells them apart by a sequence number that ends the key). */
static void held_time(uint8_t *t, int64_t ts)
{
    uint64_t u = (uint64_t)ts ^ (1ULL << 63);
    for (int i = 7; i >= 0; i--, u >>= 8)
        t[i] = (uint8_t)u;
}

static rill_buf_t held_key(rill_bytes_t *b, int64_t ts, rill_buf_t kbytes)
{
    uint8_t t[8];
    held_time(t, ts);
    b->len = 0;
    if (rill_bytes_append(b, t, 8) ||
        rill_bytes_append(b, kbytes.len ? kbytes.data : "", kbytes.len))
        return (rill_buf_t){NULL, 0};
    return (rill_buf_t){b->data, b->len};
}

static int64_t held_ts(const uint8_t *p)
{
    uint64_t u = 0;
    for (int i = 0; i < 8; i++)
        u = u << 8 | p[i];
    return (int64_t)(u ^ (1ULL << 63));
}

/* Makes a held record's element of its buffer entry in st->hb: a list of its value, then each
 * header's name and value (a flag byte, 1 when the value is not null, then its bytes): Kafka
 * Streams keeps a held record's headers with it. */
static int held_element(join_state_t *st, rill_buf_t vbytes, const rill_headers_t *headers)
{
    st->hb.len = 0;
    if (list_append(&st->hb, vbytes))
        return RILL_ENOMEM;
    size_t n = rill_headers_count(headers);
    for (size_t i = 0; i < n; i++) {
        const rill_header_t *h = rill_headers_at(headers, i);
        uint8_t len[4], flag = h->value.data != NULL;
        put_u32(len, (uint32_t)(1 + h->value.len));
        if (list_append(&st->hb, rill_buf_str(h->name)) || rill_bytes_append(&st->hb, len, 4) ||
            rill_bytes_append(&st->hb, &flag, 1) ||
            rill_bytes_append(&st->hb, h->value.len ? h->value.data : "", h->value.len))
            return RILL_ENOMEM;
    }
    return 0;
}

/* Splits a held element into its value's bytes and its headers (made in the record's arena;
 * their values are views into elem). 0, RILL_EIO for a torn element, or RILL_ENOMEM. */
static int held_split(rill_context_t *ctx, rill_buf_t elem, rill_buf_t *vbytes,
                      const rill_headers_t **headers)
{
    size_t at = 0, n = 0;
    rill_buf_t name, v;
    *headers = NULL;
    if (!list_next(elem, &at, vbytes))
        return RILL_EIO;
    const size_t first = at;
    while (list_next(elem, &at, &name) && list_next(elem, &at, &v))
        n++;
    if (n == 0)
        return 0;
    rill_arena_t *arena = rill_context_arena(ctx);
    rill_header_t *items = rill_arena_alloc(arena, n * sizeof *items);
    if (!items)
        return RILL_ENOMEM;
    at = first;
    for (size_t i = 0; i < n; i++) {
        list_next(elem, &at, &name);
        list_next(elem, &at, &v);
        char *copy = rill_arena_alloc(arena, name.len + 1);
        if (!copy)
            return RILL_ENOMEM;
        if (v.len < 1)
            return RILL_EIO;
        memcpy(copy, name.len ? name.data : "", name.len);
        copy[name.len] = 0;
        const uint8_t *p = v.data;
        items[i] =
            (rill_header_t){copy, p[0] ? (rill_buf_t){p + 1, v.len - 1} : (rill_buf_t){NULL, 0}};
    }
    *headers = rill_arena_headers(arena, items, n);
    return *headers ? 0 : RILL_ENOMEM;
}

/* Joins, oldest first, every held record whose timestamp is at or before stream time minus
 * grace, and removes it from the buffer (RocksDBTimeOrderedKeyValueBuffer.evictWhile). The range
 * ends at the first key of limit + 1 (inclusive: only a held record of that time with an empty
 * key matches it, and is skipped), so the scan reads only what it releases; held_min skips the
 * scan while nothing held can be due. */
static int release_held(rill_context_t *ctx, join_state_t *st, const rill_record_t *rec)
{
    const int64_t limit = st->observed - st->spec->windows.grace_ms;
    if (st->held_min > limit)
        return 0;
    uint8_t end[8];
    held_time(end, limit + 1);
    rill_buf_t to = {end, sizeof end};
    rill_store_iter_t *it = rill_kv_range(st->outer, NULL, &to, false);
    if (!it)
        return store_failed(ctx, st->spec->outer_store, RILL_EIO);
    /* What is due is copied out (key, then its value list, each a list element) before any of it
     * is deleted: a transactional RocksDB store's iterator reads its pending batch, which a
     * write under it would change. */
    rill_buf_t hk, stored, list, v;
    int rc = 0;
    st->hb.len = 0;
    while (!rc && rill_store_iter_next(it, &hk, &stored)) {
        if (hk.len < 8 || rill_stored_split(stored, &list, NULL))
            rc = store_failed(ctx, st->spec->outer_store, RILL_EIO);
        else if (held_ts(hk.data) > limit)
            break;
        else if (list_append(&st->hb, hk) || list_append(&st->hb, list))
            rc = rill_context_fail(ctx, RILL_ENOMEM, "out of memory");
    }
    rill_store_iter_close(it);
    rill_buf_t due = {st->hb.data, st->hb.len};
    for (size_t at = 0; !rc && list_next(due, &at, &hk) && list_next(due, &at, &list);) {
        rill_record_t held = *rec;
        held.timestamp = held_ts(hk.data);
        held.topic = NULL;
        held.offset = -1;
        rill_buf_t kb = {(const uint8_t *)hk.data + 8, hk.len - 8};
        if ((rc = rill__op_de(ctx, st->ks, kb, &held.key, "held key")))
            break;
        for (size_t vat = 0; !rc && list_next(list, &vat, &v);) {
            rill_buf_t vbytes;
            if ((rc = held_split(ctx, v, &vbytes, &held.headers)))
                rc = rc == RILL_ENOMEM ? rill_context_fail(ctx, rc, "out of memory")
                                       : store_failed(ctx, st->spec->outer_store, rc);
            else if (!(rc = rill__op_de(ctx, st->this_vs, vbytes, &held.value, "held value")))
                rc = stream_table_join(ctx, st, &held, held.key);
        }
        if (!rc && (rc = rill_kv_put(st->outer, hk, (rill_buf_t){NULL, 0}, held.timestamp)))
            rc = store_failed(ctx, st->spec->outer_store, rc);
    }
    if (!rc)
        st->held_min = limit + 1;
    return rc;
}

/* Holds a record in the grace buffer: appends its value to its key and timestamp's list. */
static int hold(rill_context_t *ctx, join_state_t *st, const rill_record_t *rec)
{
    rill_buf_t kbytes, vbytes, old;
    int rc;
    if ((rc = rill__op_ser(ctx, st->ks, rec->key, &st->ob, &kbytes, "key")) ||
        (rc = rill__op_ser(ctx, st->this_vs, rec->value, &st->vb, &vbytes, "value")))
        return rc;
    rill_buf_t hk = held_key(&st->kb, rec->timestamp, kbytes);
    if (!hk.data)
        return rill_context_fail(ctx, RILL_ENOMEM, "out of memory");
    if (held_element(st, vbytes, rec->headers))
        return rill_context_fail(ctx, RILL_ENOMEM, "out of memory");
    rc = rill_kv_get(st->outer, hk, &old, NULL);
    if ((rc = list_extend(ctx, st, rc, old, (rill_buf_t){st->hb.data, st->hb.len},
                          st->spec->outer_store)))
        return rc;
    if ((rc = rill_kv_put(st->outer, hk, (rill_buf_t){st->lb.data, st->lb.len}, rec->timestamp)))
        return store_failed(ctx, st->spec->outer_store, rc);
    if (rec->timestamp < st->held_min)
        st->held_min = rec->timestamp;
    return 0;
}

/* RILL_JOP_STREAM_TABLE: a stream record joins its key's row of the table as it is now (a
 * versioned table's: as it was at the record's timestamp). A left join emits a record with a
 * null key at once, joined with null (Kafka Streams 4). With a grace period (KIP-923) a record
 * waits in the buffer until stream time reaches its timestamp plus grace, so table updates that
 * arrive late still meet it; one already older than that joins at once. */
static int stream_table_process(rill_context_t *ctx, join_state_t *st, const rill_record_t *rec)
{
    const rill_join_spec_t *s = st->spec;
    bool left = s->outer;
    rill_buf_t table_key = rec->key;
    int rc;
    if (rec->timestamp > st->observed)
        st->observed = rec->timestamp; /* before any drop, as Kafka Streams */
    /* A global table's join maps the record to the key of its row (KStreamGlobalKTableJoin). */
    if (s->key_mapper && (rc = s->key_mapper(s->key_mapper_ud, ctx, rec, &table_key)))
        return rc;
    if (!rec->value.data || (!table_key.data && !(left && !rec->key.data))) {
        skip(ctx, st, rec,
             rec->value.data ? "a null join key cannot join" : "a null value cannot join");
        return 0;
    }
    /* A null-key record of a left join cannot be held (nor can it be in Kafka Streams, whose
     * buffer refuses null keys): it joins null at once. */
    if (!st->outer || !rec->key.data || rec->timestamp < st->observed - s->windows.grace_ms)
        return stream_table_join(ctx, st, rec, table_key);
    if ((rc = hold(ctx, st, rec)))
        return rc;
    return release_held(ctx, st, rec);
}

/* ---- table-table ---- */

/* RILL_JOP_TABLE_TABLE: an update (new value, and the old one it replaces) of this side joins
 * the other side's row and forwards the joined change. Which rows count, by the two sides'
 * outer-ness: inner (neither), left join's left side (this one), its right side (the other
 * one), outer (both); as KTableKTableInnerJoin, LeftJoin, RightJoin and OuterJoin. */
static int table_table_process(rill_context_t *ctx, join_state_t *st, const rill_record_t *rec)
{
    const rill_join_spec_t *s = st->spec;
    if (!rec->key.data) {
        skip(ctx, st, rec, "a null key cannot join");
        return 0;
    }
    rill_buf_t new_v = rec->value, old_v = rill_context_old_value(ctx), other, kbytes;
    rill_buf_t none = {NULL, 0}, new_out = none, old_out = none;
    int64_t other_ts = -1;
    int rc;
    if ((rc = rill__op_ser(ctx, st->ks, rec->key, &st->kb, &kbytes, "key")) ||
        (rc = other_row(ctx, st, kbytes, &other, &other_ts)))
        return rc;
    int64_t ts = rec->timestamp;
    if (!other.data) {
        /* Without the other row only an outer side has results; an update that changes nothing
         * (no new and no old value) has none. */
        if (!s->outer || (!new_v.data && !old_v.data))
            return 0;
    } else if (other_ts > ts) {
        ts = other_ts;
    }
    /* The other side being outer (this is a left join's right side, or an outer join) joins this
     * side's missing value too: a deleted right row leaves (left, null). */
    bool any_this = s->other_outer && other.data;
    if (new_v.data || any_this) {
        if ((rc = join_values(ctx, st, rec->key, new_v, other, &new_out)))
            return rc;
    }
    if (old_v.data || any_this) {
        if ((rc = join_values(ctx, st, rec->key, old_v, other, &old_out)))
            return rc;
    }
    rill_record_t out = *rec;
    out.value = new_out;
    out.timestamp = ts;
    return rill_context_forward_change(ctx, &out, old_out);
}

static int join_process(rill_context_t *ctx, void *state, const rill_record_t *rec)
{
    join_state_t *st = state;
    switch (st->spec->op) {
    case RILL_JOP_WINDOW:
        return window_process(ctx, st, rec);
    case RILL_JOP_STREAM_STREAM:
        return stream_stream_process(ctx, st, rec);
    case RILL_JOP_STREAM_TABLE:
        return stream_table_process(ctx, st, rec);
    case RILL_JOP_TABLE_TABLE:
        return table_table_process(ctx, st, rec);
    }
    return RILL_EINVAL;
}

static const rill_processor_ops join_ops = {join_init, join_process, join_close};

const rill_processor_ops *rill_join_ops(void)
{
    return &join_ops;
}
