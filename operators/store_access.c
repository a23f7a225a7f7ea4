/*
 * What processors and interactive queries do with a task's stores: reads, writes through the
 * record cache and the changelog, flushes, and the handles (rill_kv_*, rill_window_handle_*,
 * rill_session_handle_*).
 *
 * Values are stored as an 8-byte big-endian timestamp (of the record that wrote them) followed by
 * the value. Changelog records carry the plain value, the timestamp as the record's, and the
 * store's layout key (the key; for window and session stores rill_window_key/rill_session_key).
 *
 * The record cache (cache.c) holds a cached store's dirty entries only, in the order of their
 * last write. Repeated writes of a key fold there until the task flushes it (at commit, before a
 * range read, or when the store's share of the task's cache budget is spent), and only then reach
 * the store (one write batch per store, or per segment), the changelog and, through the flush
 * listener, the downstream nodes.
 */
#include "operators_int.h"

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

static void put_be64(uint8_t *out, int64_t v)
{
    uint64_t u = (uint64_t)v;
    for (int i = 7; i >= 0; i--, u >>= 8)
        out[i] = (uint8_t)u;
}

static int64_t get_be64(const uint8_t *in)
{
    uint64_t u = 0;
    for (int i = 0; i < 8; i++)
        u = u << 8 | in[i];
    return (int64_t)u;
}

int rill_stored_split(rill_buf_t stored, rill_buf_t *value, int64_t *ts)
{
    if (!stored.data || stored.len < 8)
        return RILL_EINVAL;
    if (ts)
        *ts = get_be64(stored.data);
    if (value)
        *value = (rill_buf_t){(const uint8_t *)stored.data + 8, stored.len - 8};
    return 0;
}

/* Composes prefix bytes, a timestamp and value into b (emptied first). */
static int compose(rill_bytes_t *b, const uint8_t *prefix, size_t plen, int64_t ts,
                   rill_buf_t value)
{
    uint8_t t[8];
    put_be64(t, ts);
    b->len = 0;
    if (rill_bytes_append(b, prefix, plen) || rill_bytes_append(b, t, 8) ||
        rill_bytes_append(b, value.data ? value.data : "", value.len))
        return RILL_ENOMEM;
    return 0;
}

/* Appends a stored value (timestamp, then value) to b. */
static int compose_append(rill_bytes_t *b, int64_t ts, rill_buf_t value)
{
    uint8_t t[8];
    put_be64(t, ts);
    if (rill_bytes_append(b, t, 8) || rill_bytes_append(b, value.data ? value.data : "", value.len))
        return RILL_ENOMEM;
    return 0;
}

/* Grows b to hold at least n bytes. */
int rill__bytes_reserve(rill_bytes_t *b, size_t n)
{
    if (b->cap >= n)
        return 0;
    uint8_t *p = rill_realloc(b->data, n);
    if (!p)
        return RILL_ENOMEM;
    b->data = p;
    b->cap = n;
    return 0;
}

/* Writes (layout key, value or null at ts) into the store itself, bypassing cache and log.
 * Window and session stores return RILL_ENOENT for an expired window. */
int rill__store_write(task_store_t *ts, rill_buf_t layout, rill_buf_t value, int64_t ts_ms)
{
    /* A versioned store keeps each version's timestamp itself: it takes the plain value. */
    if (ts->vstore)
        return rill_versioned_store_put(ts->vstore, layout, value, ts_ms);
    rill_buf_t stored = {NULL, 0};
    if (value.data) {
        if (compose(&ts->scratch, NULL, 0, ts_ms, value))
            return RILL_ENOMEM;
        stored = (rill_buf_t){ts->scratch.data, ts->scratch.len};
    }
    if (ts->kv)
        return rill_store_put(ts->kv, layout, stored);
    if (ts->ws && ts->def->spec.retain_duplicates) {
        /* The layout holds the sequence number already: written as it is. */
        rill_store_write_t w = {layout, stored};
        bool written;
        int rc = rill_window_store_write_batch(ts->ws, &w, 1, &written);
        return rc ? rc : written ? 0 : RILL_ENOENT;
    }
    if (ts->ws) {
        rill_buf_t key;
        int64_t start;
        if (rill_window_key_split(layout, &key, &start))
            return RILL_EINVAL;
        return rill_window_store_put(ts->ws, key, start, stored);
    }
    rill_buf_t key;
    int64_t start, end;
    if (rill_session_key_split(layout, &key, &start, &end))
        return RILL_EINVAL;
    return rill_session_store_put(ts->ss, key, start, end, stored);
}

ssize_t rill__stored_batch(rill_bytes_t *buf, rill_store_write_t *writes, const rill_record_t *raw,
                           size_t n, bool skip_null_keys)
{
    /* Stored values (timestamp, value) side by side in buf; views are set once it stops
     * moving. The offset of each goes in the write's len until then. */
    buf->len = 0;
    size_t w = 0;
    for (size_t k = 0; k < n; k++) {
        if (skip_null_keys && !raw[k].key.data)
            continue;
        size_t at = buf->len;
        if (raw[k].value.data && compose_append(buf, raw[k].timestamp, raw[k].value))
            return -1;
        writes[w++] = (rill_store_write_t){raw[k].key, {NULL, at}};
    }
    w = 0;
    for (size_t k = 0; k < n; k++) {
        if (skip_null_keys && !raw[k].key.data)
            continue;
        rill_store_write_t *wr = &writes[w++];
        wr->value = raw[k].value.data
                        ? (rill_buf_t){buf->data + wr->value.len, 8 + raw[k].value.len}
                        : (rill_buf_t){NULL, 0};
    }
    return (ssize_t)w;
}

/* ---- writing through: store, changelog, listener ---- */

static int store_read(task_store_t *ts, rill_buf_t layout, rill_buf_t *stored)
{
    if (ts->kv)
        return rill_store_get(ts->kv, layout, stored);
    if (ts->ws) {
        rill_buf_t key;
        int64_t start;
        if (rill_window_key_split(layout, &key, &start))
            return RILL_EINVAL;
        return rill_window_store_get(ts->ws, key, start, stored);
    }
    rill_buf_t key;
    int64_t start, end;
    if (rill_session_key_split(layout, &key, &start, &end))
        return RILL_EINVAL;
    return rill_session_store_get(ts->ss, key, start, end, stored);
}

static int fail(task_store_t *ts, int rc, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static int fail(task_store_t *ts, int rc, const char *fmt, ...)
{
    char msg[600];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    snprintf(ts->task->error, sizeof ts->task->error, "task %s, store '%s': %s", ts->task->id,
             ts->def->spec.name, msg);
    return rc;
}

static int log_write(task_store_t *ts, rill_buf_t layout, rill_buf_t value, int64_t ts_ms)
{
    if (!ts->changelog[0])
        return 0;
    const rill_collector_t *col = &ts->task->env.collector;
    rill_buf_t key = layout.data ? layout : (rill_buf_t){"", 0};
    int rc = col->send(col->opaque, ts->changelog, ts->task->partition, &key,
                       value.data ? &value : NULL, ts_ms, NULL);
    if (rc) {
        if (!ts->task->sink_rc)
            ts->task->sink_rc = rc;
        return fail(ts, rc, "cannot write to changelog '%s': %s", ts->changelog,
                    rill__collector_why(col, rc));
    }
    ts->task->metrics.changelog_writes++;
    ts->task->writes_since_checkpoint++;
    return 0;
}

/* Writes one entry through to the store and its changelog (a store that does not cache). */
static int write_through(task_store_t *ts, rill_buf_t layout, rill_buf_t value, int64_t ts_ms)
{
    int rc = rill__store_write(ts, layout, value, ts_ms);
    if (rc == RILL_ENOENT) /* the window has expired; a version older than the history keeps */
        return ts->vstore ? RILL_ENOENT : 0;
    if (rc)
        return fail(ts, rc, "cannot write: %s", rill_strerror(rc));
    return log_write(ts, layout, value, ts_ms);
}

/* An entry of a flush: where its old value (what the store held) and its stored value
 * (timestamp, value) sit in the store's flush buffer. */
struct flush_item {
    const rill__cache_entry_t *e;
    size_t old_at, old_len, stored_at;
    bool has_old;
};

/* Grows the store's per-flush arrays to n entries. */
static int flush_reserve(task_store_t *ts, size_t n)
{
    if (n <= ts->items_cap)
        return 0;
    struct flush_item *items = rill_realloc(ts->items, n * sizeof *items);
    if (items)
        ts->items = items;
    rill_store_write_t *writes = rill_realloc(ts->writes, n * sizeof *writes);
    if (writes)
        ts->writes = writes;
    bool *written = rill_realloc(ts->written, n * sizeof *written);
    if (written)
        ts->written = written;
    if (!items || !writes || !written)
        return RILL_ENOMEM;
    ts->items_cap = n;
    return 0;
}

/* Writes a flush's batch into the store: one write batch (a window or session store: one per
 * segment). written[i] is false for an entry whose window expired while it waited. */
static int store_write_batch(task_store_t *ts, const rill_store_write_t *writes, size_t n,
                             bool *written)
{
    if (ts->ws)
        return rill_window_store_write_batch(ts->ws, writes, n, written);
    if (ts->ss)
        return rill_session_store_write_batch(ts->ss, writes, n, written);
    for (size_t i = 0; i < n; i++)
        written[i] = true;
    return rill_store_write_batch(ts->kv, writes, n);
}

/*
 * Writes every dirty entry of ts's cache through, in the order their keys were last written
 * (as Kafka Streams' caches evict): whatever downstream tracks time sees the updates as they
 * came, not in key order. Three passes, so the store takes one write batch: the values the store
 * holds are read (for the listener's old values) and the stored values composed; the batch is
 * written; then, entry by entry, the changelog record is sent and the listener told. While the
 * listener runs the store already holds the whole flush: what a read through the cache would
 * have answered a moment before.
 *
 * Writes that downstream nodes make while it runs (to this same store) go to the spare cache;
 * afterwards the flushed cache, emptied, is written again unless the spare took some. Nothing
 * here allocates once the buffers have grown to a flush's size.
 */
static int flush_entries(task_store_t *ts)
{
    if (!ts->cache || rill__cache_count(ts->cache) == 0)
        return 0;
    rill__cache_t *dirty = ts->cache;
    size_t n = rill__cache_count(dirty);
    if (flush_reserve(ts, n))
        return fail(ts, RILL_ENOMEM, "out of memory flushing the record cache");
    if (!ts->spare && !(ts->spare = rill__cache_new()))
        return fail(ts, RILL_ENOMEM, "out of memory flushing the record cache");
    ts->cache = ts->spare;
    ts->spare = NULL;
    ts->memo_state = RILL__OLD_UNKNOWN; /* the store is about to change */
    bool notify = ts->flush_fn != NULL;
    rill_bytes_t *buf = &ts->flushbuf;
    buf->len = 0;
    int rc = 0;
    size_t i = 0;
    for (const rill__cache_entry_t *e = rill__cache_first(dirty); e && !rc; e = e->next, i++) {
        struct flush_item *it = &ts->items[i];
        *it = (struct flush_item){.e = e};
        rill_buf_t layout = {e->data, e->klen}, stored;
        if (notify && e->old != RILL__OLD_UNKNOWN) {
            it->has_old = e->old == RILL__OLD_PRESENT;
        } else if (notify) {
            rc = store_read(ts, layout, &stored);
            rill_buf_t v;
            if (rc == 0 && rill_stored_split(stored, &v, NULL) == 0) {
                it->has_old = true;
                it->old_at = buf->len;
                it->old_len = v.len;
                rc = rill_bytes_append(buf, v.len ? v.data : "", v.len);
            } else if (rc == RILL_ENOENT) {
                rc = 0;
            } else if (rc) {
                rc = fail(ts, rc, "cannot read: %s", rill__store_error(ts));
                break;
            }
        }
        it->stored_at = buf->len;
        if (!rc && !e->deleted)
            rc = compose_append(buf, e->ts, rill__cache_value(e));
        if (rc == RILL_ENOMEM)
            rc = fail(ts, rc, "out of memory flushing the record cache");
    }
    for (i = 0; !rc && i < n; i++) {
        const rill__cache_entry_t *e = ts->items[i].e;
        ts->writes[i] = (rill_store_write_t){
            {e->data, e->klen},
            e->deleted ? (rill_buf_t){NULL, 0}
                       : (rill_buf_t){buf->data + ts->items[i].stored_at, 8 + e->vlen}};
    }
    if (!rc && (rc = store_write_batch(ts, ts->writes, n, ts->written)))
        rc = fail(ts, rc, "cannot write: %s", rill_strerror(rc));
    /* Each entry's forwarding gets a fresh arena, unless this flush runs inside another's
     * listener (whose values are still in use). Inside a record's processing that is the flush
     * arena, since the record's values live in the task's. */
    rill_task_t *task = ts->task;
    rill_arena_t *record_arena = task->arena;
    bool reset = task->flush_depth == 1 && notify;
    if (reset && task->processing) {
        if (!task->flush_arena)
            task->flush_arena = rill_arena_new(16384);
        if (task->flush_arena)
            task->arena = task->flush_arena;
        else
            reset = false;
    }
    for (i = 0; !rc && i < n; i++) {
        const struct flush_item *it = &ts->items[i];
        const rill__cache_entry_t *e = it->e;
        task->metrics.cache_flushed++;
        if (!ts->written[i])
            continue; /* the window expired while the entry waited in the cache */
        rill_buf_t layout = rill__cache_key(e), value = rill__cache_value(e);
        if ((rc = log_write(ts, layout, value, e->ts)))
            break;
        /* Deleting what was not there changes nothing downstream (Kafka Streams' caching stores
         * forward only when the new or the old value is not null). */
        if (!notify || (!value.data && !it->has_old))
            continue;
        if (reset)
            rill_arena_reset(task->arena);
        rill_buf_t old = rill__cache_old(e); /* known when the entry was made, or read above */
        if (it->has_old && e->old == RILL__OLD_UNKNOWN)
            old = (rill_buf_t){buf->data + it->old_at, it->old_len};
        node_inst_t *inst = ts->flush_inst;
        rc = ts->flush_fn(&inst->ctx, inst->state, layout, value, old, e->ts);
        if (!rc)
            rc = task->sink_rc;
    }
    task->arena = record_arena;
    rill__cache_clear(dirty);
    if (ts->spare) {
        rill__cache_free(dirty); /* a flush of this store ran inside this one's listener */
    } else if (rill__cache_count(ts->cache) == 0) {
        /* Nothing came in meanwhile (the usual case): the flushed cache, whose memory has grown
         * to the budget, stays the one written; the spare stays small. */
        ts->spare = ts->cache;
        ts->cache = dirty;
    } else {
        ts->spare = dirty;
    }
    return rc;
}

/* Writes ts's cache through (flush_entries). A flush of the same store from inside its own
 * listener (a node downstream writes to it past the budget, or reads a range of it) must not
 * reuse the buffers the outer flush is walking: it gets buffers of its own, freed after it. */
static int flush_cache(task_store_t *ts)
{
    int rc;
    ts->task->flush_depth++;
    if (!ts->flushing) {
        ts->flushing = true;
        rc = flush_entries(ts);
        ts->flushing = false;
        ts->task->flush_depth--;
        return rc;
    }
    task_store_t outer = *ts;
    ts->flushbuf = (rill_bytes_t){0};
    ts->items = NULL;
    ts->writes = NULL;
    ts->written = NULL;
    ts->items_cap = 0;
    rc = flush_entries(ts);
    ts->task->flush_depth--;
    rill_bytes_free(&ts->flushbuf);
    rill_free(ts->items);
    rill_free(ts->writes);
    rill_free(ts->written);
    ts->flushbuf = outer.flushbuf;
    ts->items = outer.items;
    ts->writes = outer.writes;
    ts->written = outer.written;
    ts->items_cap = outer.items_cap;
    return rc;
}

int rill__task_flush(rill_task_t *task)
{
    /* Upstream stores come first (the DSL adds them in order); what their listeners forward
     * may fill caches further down, which a later pass of the loop writes through. */
    for (int pass = 0; pass < 16; pass++) {
        bool any = false;
        for (size_t i = 0; i < task->nstores; i++) {
            task_store_t *ts = &task->stores[i];
            if (!ts->cache || rill__cache_count(ts->cache) == 0)
                continue;
            any = true;
            task->sink_rc = 0;
            uint64_t t0 = rill__meter_start(ts);
            int rc = flush_cache(ts);
            rill__meter_end(ts, RILL_STORE_OP_FLUSH, t0);
            if (!rc)
                rc = task->sink_rc;
            if (rc)
                return rc;
        }
        if (!any)
            break;
    }
    return 0;
}

/* Puts an entry (value null: delete) for layout into the cache, or writes it through when the
 * store does not cache. */
static int store_put(task_store_t *ts, rill_buf_t layout, rill_buf_t value, int64_t ts_ms)
{
    if (ts->global)
        return fail(ts, RILL_EINVAL,
                    "cannot write: it is a global store, read-only for tasks; it changes only "
                    "through its topic");
    ts->task->effects++; /* a retry would write it again */
    if (!ts->cache)
        return write_through(ts, layout, value, ts_ms);
    rill_buf_t old = {NULL, 0};
    bool memo = ts->memo_state != RILL__OLD_UNKNOWN && ts->memo_klen == layout.len &&
                memcmp(ts->memo.data, layout.data, layout.len) == 0;
    if (memo && ts->memo_state == RILL__OLD_PRESENT)
        old = (rill_buf_t){ts->memo.data + layout.len, ts->memo.len - layout.len};
    ts->memo_state = RILL__OLD_UNKNOWN;
    int rc = rill__cache_put(ts->cache, layout, value, ts_ms, memo ? &old : NULL);
    if (rc)
        return fail(ts, rc, "cannot write to the record cache: %s", rill_strerror(rc));
    if (rill__cache_bytes(ts->cache) > ts->cache_share)
        return flush_cache(ts);
    return 0;
}

/* Keeps what a read that missed the cache found (value NULL: nothing) for the put that may
 * follow. Without the memory for it, there is simply no memo. */
static void remember(task_store_t *ts, rill_buf_t layout, const rill_buf_t *value)
{
    ts->memo.len = 0;
    ts->memo_state = RILL__OLD_UNKNOWN;
    if (rill_bytes_append(&ts->memo, layout.len ? layout.data : "", layout.len) ||
        (value && rill_bytes_append(&ts->memo, value->len ? value->data : "", value->len)))
        return;
    ts->memo_klen = layout.len;
    ts->memo_state = value ? RILL__OLD_PRESENT : RILL__OLD_ABSENT;
}

/* Reads a global store, which another thread writes meanwhile: a copy, in the handle's buffer,
 * rather than a view the writer could move. */
static int global_get(task_store_t *ts, rill_buf_t key, rill_buf_t *value, int64_t *ts_ms)
{
    if (!ts->kv)
        return RILL_ENOENT;
    int rc = rill_store_get_copy(ts->kv, key, &ts->scratch);
    if (rc == 0 && rill_stored_split((rill_buf_t){ts->scratch.data, ts->scratch.len}, value, ts_ms))
        return fail(ts, RILL_EIO, "a stored value of %zu bytes is too short", ts->scratch.len);
    return rc;
}

/* Reads layout: the cache first, then the store. */
static int store_get(task_store_t *ts, rill_buf_t layout, rill_buf_t *value, int64_t *ts_ms)
{
    if (ts->global)
        return global_get(ts, layout, value, ts_ms);
    if (ts->vstore)
        return rill_versioned_store_get(ts->vstore, layout, value, ts_ms);
    const rill__cache_entry_t *e = ts->cache ? rill__cache_get(ts->cache, layout) : NULL;
    if (e) {
        ts->task->metrics.cache_hits++;
        if (e->deleted)
            return RILL_ENOENT;
        if (ts_ms)
            *ts_ms = e->ts;
        *value = rill__cache_value(e);
        return 0;
    }
    if (ts->cache)
        ts->task->metrics.cache_misses++;
    rill_buf_t raw;
    int rc = store_read(ts, layout, &raw);
    if (rc == 0 && rill_stored_split(raw, value, ts_ms))
        return fail(ts, RILL_EIO, "a stored value of %zu bytes is too short", raw.len);
    if (ts->cache && ts->flush_fn && (rc == 0 || rc == RILL_ENOENT))
        remember(ts, layout, rc == 0 ? value : NULL);
    return rc;
}

/* ---- the handles processors use ---- */

static task_store_t *find_store(rill_context_t *ctx, const char *name, rill_store_type_t type)
{
    rill_task_t *task = ctx->task;
    for (size_t i = 0; name && i < task->nstores; i++) {
        task_store_t *ts = &task->stores[i];
        rill_store_type_t t = ts->def->spec.type;
        if (strcmp(ts->def->spec.name, name) ||
            (t != type && !(t == RILL_STORE_VERSIONED && type == RILL_STORE_KV)))
            continue;
        if (ts->global)
            return ts; /* every node reads a global store, as in Kafka Streams */
        for (size_t p = 0; p < ts->def->nprocessors; p++)
            if (strcmp(ts->def->processor_names[p], ctx->inst->node->name) == 0)
                return ts;
        return NULL; /* not connected to this node */
    }
    return NULL;
}

rill_kv_store_t *rill_context_kv_store(rill_context_t *ctx, const char *name)
{
    return (rill_kv_store_t *)find_store(ctx, name, RILL_STORE_KV);
}

rill_window_handle_t *rill_context_window_store(rill_context_t *ctx, const char *name)
{
    return (rill_window_handle_t *)find_store(ctx, name, RILL_STORE_WINDOW);
}

rill_session_handle_t *rill_context_session_store(rill_context_t *ctx, const char *name)
{
    return (rill_session_handle_t *)find_store(ctx, name, RILL_STORE_SESSION);
}

bool rill_context_on_store_flush(rill_context_t *ctx, const char *name, rill_store_flush_fn fn)
{
    rill_task_t *task = ctx->task;
    for (size_t i = 0; name && i < task->nstores; i++) {
        task_store_t *ts = &task->stores[i];
        if (strcmp(ts->def->spec.name, name) == 0 && !ts->global) {
            ts->flush_inst = ctx->inst;
            ts->flush_fn = fn;
            return ts->cache != NULL;
        }
    }
    return false;
}

/* store_get and store_put, timed when the store is metered. */
static int metered_get(task_store_t *ts, rill_buf_t layout, rill_buf_t *value, int64_t *ts_ms)
{
    uint64_t t0 = rill__meter_start(ts);
    int rc = store_get(ts, layout, value, ts_ms);
    rill__meter_end(ts, RILL_STORE_OP_GET, t0);
    return rc;
}

static int metered_put(task_store_t *ts, rill_buf_t layout, rill_buf_t value, int64_t ts_ms)
{
    uint64_t t0 = rill__meter_start(ts);
    int rc = store_put(ts, layout, value, ts_ms);
    rill__meter_end(ts, value.data ? RILL_STORE_OP_PUT : RILL_STORE_OP_DELETE, t0);
    return rc;
}

int rill_kv_get(rill_kv_store_t *store, rill_buf_t key, rill_buf_t *value, int64_t *ts)
{
    return metered_get((task_store_t *)store, key, value, ts);
}

int rill_kv_put(rill_kv_store_t *store, rill_buf_t key, rill_buf_t value, int64_t ts)
{
    return metered_put((task_store_t *)store, key, value, ts);
}

int rill_kv_get_as_of(rill_kv_store_t *store, rill_buf_t key, int64_t as_of, rill_buf_t *value,
                      int64_t *ts)
{
    task_store_t *s = (task_store_t *)store;
    if (!s || !s->vstore)
        return RILL_EINVAL;
    uint64_t t0 = rill__meter_start(s);
    int rc = rill_versioned_store_get_as_of(s->vstore, key, as_of, value, ts, NULL);
    rill__meter_end(s, RILL_STORE_OP_GET, t0);
    return rc;
}

bool rill_kv_is_versioned(const rill_kv_store_t *store)
{
    return store && ((const task_store_t *)store)->def->spec.type == RILL_STORE_VERSIONED;
}

static rill_store_iter_t *kv_range(task_store_t *ts, const rill_buf_t *from, const rill_buf_t *to,
                                   bool reverse)
{
    if (ts->vstore)
        return NULL;
    if (ts->global)
        return ts->kv ? rill_store_range(ts->kv, from, to, reverse) : NULL;
    if (flush_cache(ts))
        return NULL;
    return rill_store_range(ts->kv, from, to, reverse);
}

/* A range's latency is the iterator's making (the cache written through first, the snapshot),
 * not its reads, which the caller paces (Kafka Streams' range-latency likewise). */
rill_store_iter_t *rill_kv_range(rill_kv_store_t *store, const rill_buf_t *from,
                                 const rill_buf_t *to, bool reverse)
{
    task_store_t *ts = (task_store_t *)store;
    uint64_t t0 = rill__meter_start(ts);
    rill_store_iter_t *it = kv_range(ts, from, to, reverse);
    rill__meter_end(ts, RILL_STORE_OP_RANGE, t0);
    return it;
}

/* Makes the layout key of a window in the store's key buffer (a null view when out of memory).
 * A store that retains duplicates gets the next sequence number; they wrap within 31 bits (as
 * Kafka Streams' do), the top bit being restore_duplicates()'s. */
static rill_buf_t window_layout(task_store_t *ts, rill_buf_t key, int64_t start)
{
    if (rill__bytes_reserve(&ts->keybuf, key.len + 12))
        return (rill_buf_t){NULL, 0};
    if (!ts->def->spec.retain_duplicates)
        return (rill_buf_t){ts->keybuf.data, rill_window_key(key, start, ts->keybuf.data)};
    ts->seq = (ts->seq + 1) & ~RILL__FORMER_SEQ;
    return (rill_buf_t){ts->keybuf.data, rill_window_dup_key(key, start, ts->seq, ts->keybuf.data)};
}

/* Makes the layout key of a session in the store's key buffer. */
static rill_buf_t session_layout(task_store_t *ts, rill_buf_t key, int64_t start, int64_t end)
{
    if (rill__bytes_reserve(&ts->keybuf, key.len + 16))
        return (rill_buf_t){NULL, 0};
    return (rill_buf_t){ts->keybuf.data, rill_session_key(key, start, end, ts->keybuf.data)};
}

int rill_window_handle_get(rill_window_handle_t *ws, rill_buf_t key, int64_t start,
                           rill_buf_t *value, int64_t *ts)
{
    task_store_t *s = (task_store_t *)ws;
    if (s->def->spec.retain_duplicates)
        return RILL_EINVAL; /* a window holds any number of values */
    rill_buf_t layout = window_layout(s, key, start);
    if (!layout.data)
        return RILL_ENOMEM;
    return metered_get(s, layout, value, ts);
}

int rill_window_handle_put(rill_window_handle_t *ws, rill_buf_t key, int64_t start,
                           rill_buf_t value, int64_t ts)
{
    task_store_t *s = (task_store_t *)ws;
    int64_t observed = rill_window_store_observed_time(s->ws);
    if (observed != INT64_MIN && start < observed - s->def->spec.retention_ms)
        return RILL_ENOENT;
    rill_buf_t layout = window_layout(s, key, start);
    if (!layout.data)
        return RILL_ENOMEM;
    return metered_put(s, layout, value, ts);
}

rill_window_iter_t *rill_window_handle_fetch(rill_window_handle_t *ws, rill_buf_t key, int64_t from,
                                             int64_t to)
{
    task_store_t *s = (task_store_t *)ws;
    uint64_t t0 = rill__meter_start(s);
    rill_window_iter_t *it =
        flush_cache(s) ? NULL : rill_window_store_fetch(s->ws, key, from, to, false);
    rill__meter_end(s, RILL_STORE_OP_RANGE, t0);
    return it;
}

int rill_session_handle_put(rill_session_handle_t *ss, rill_buf_t key, int64_t start, int64_t end,
                            rill_buf_t value, int64_t ts)
{
    task_store_t *s = (task_store_t *)ss;
    rill_buf_t layout = session_layout(s, key, start, end);
    if (!layout.data)
        return RILL_ENOMEM;
    return metered_put(s, layout, value, ts);
}

rill_session_iter_t *rill_session_handle_find(rill_session_handle_t *ss, rill_buf_t key,
                                              int64_t earliest_end, int64_t latest_start)
{
    task_store_t *s = (task_store_t *)ss;
    uint64_t t0 = rill__meter_start(s);
    rill_session_iter_t *it =
        flush_cache(s) ? NULL : rill_session_store_find(s->ss, key, earliest_end, latest_start);
    rill__meter_end(s, RILL_STORE_OP_RANGE, t0);
    return it;
}

/* ---- for interactive queries ---- */

static task_store_t *task_find(rill_task_t *task, const char *name, rill_store_type_t type)
{
    for (size_t i = 0; name && i < task->nstores; i++)
        if (strcmp(task->stores[i].def->spec.name, name) == 0 &&
            task->stores[i].def->spec.type == type && !task->stores[i].global)
            return &task->stores[i];
    return NULL;
}

rill_store_t *rill__task_kv_store(rill_task_t *task, const char *name)
{
    task_store_t *ts = task_find(task, name, RILL_STORE_KV);
    return ts ? ts->kv : NULL;
}

rill_window_store_t *rill__task_window_store(rill_task_t *task, const char *name)
{
    task_store_t *ts = task_find(task, name, RILL_STORE_WINDOW);
    return ts ? ts->ws : NULL;
}

rill_session_store_t *rill__task_session_store(rill_task_t *task, const char *name)
{
    task_store_t *ts = task_find(task, name, RILL_STORE_SESSION);
    return ts ? ts->ss : NULL;
}

/* ---- metrics, for the engine's scrape ---- */

size_t rill__task_store_count(const rill_task_t *task)
{
    return task->nstores;
}

void rill__task_store_metrics(const rill_task_t *task, size_t i, rill__store_metrics_t *m)
{
    const task_store_t *ts = &task->stores[i];
    *m = (rill__store_metrics_t){.name = ts->def->spec.name,
                                 .ops = ts->ops,
                                 .restored = &ts->restored,
                                 .restore_remaining = &ts->restore_remaining,
                                 .global = ts->global};
}

void rill__task_restore_left(rill_task_t *task, size_t i, uint64_t n)
{
    if (i < task->nchangelogs)
        cell_set(&task->stores[task->changelogs[i]].restore_remaining, n);
}
