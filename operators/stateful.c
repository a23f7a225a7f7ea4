/*
 * The built-in stateful processors: aggregations (plain, tumbling, hopping, sliding and session
 * windows), tables (source, filter, map_values, to_stream, group_by and its aggregation) and
 * suppress (its buffer in suppress.c). Their semantics follow Kafka Streams' (KStreamAggregate,
 * KStreamWindowAggregate, KStreamSlidingWindowAggregate, KStreamSessionWindowAggregate,
 * KTableSource, KTableFilter, KTableRepartitionMap, KTableAggregate, KTableSuppressProcessor).
 *
 * Stores hold serialized bytes (the spec's serdes, or the defaults); user functions see values
 * as those serdes decode them. A store that caches forwards nothing when written: its flush
 * listener forwards the folded updates when the cache is written through.
 */
#include "operators_int.h"

#include <string.h>

typedef struct {
    rill_sop_spec_t spec;
} sop_arg_t;

void *rill_sop_arg_new(const rill_sop_spec_t *spec)
{
    sop_arg_t *a = rill_calloc(1, sizeof *a);
    if (!a)
        return NULL;
    a->spec = *spec;
    a->spec.store = spec->store ? rill_strdup(spec->store) : NULL;
    if (spec->store && !a->spec.store) {
        rill_free(a);
        return NULL;
    }
    rill_serde_ref(a->spec.key_serde);
    rill_serde_ref(a->spec.value_serde);
    return a;
}

void rill_sop_arg_free(void *p)
{
    sop_arg_t *a = p;
    if (!a)
        return;
    rill_free((char *)a->spec.store);
    rill_serde_unref(a->spec.key_serde);
    rill_serde_unref(a->spec.value_serde);
    rill_free(a);
}

/* ---- helpers ---- */

int rill__op_ser(rill_context_t *ctx, const rill_serde_t *serde, rill_buf_t view, rill_bytes_t *b,
                 rill_buf_t *out, const char *what)
{
    if (!view.data) {
        *out = (rill_buf_t){NULL, 0};
        return 0;
    }
    bool null = false;
    char why[256];
    b->len = 0;
    if (rill_serde_serialize(serde, view, b, &null, why, sizeof why))
        return rill_context_fail(ctx, RILL_ESERDE, "cannot serialize the %s with the %s serde: %s",
                                 what, rill_serde_name(serde), why);
    *out = null ? (rill_buf_t){NULL, 0} : (rill_buf_t){b->data ? (void *)b->data : "", b->len};
    return 0;
}

int rill__op_de(rill_context_t *ctx, const rill_serde_t *serde, rill_buf_t bytes, rill_buf_t *view,
                const char *what)
{
    if (!bytes.data) {
        *view = (rill_buf_t){NULL, 0};
        return 0;
    }
    rill_arena_t *arena = rill_context_arena(ctx);
    rill_buf_t copy = rill_arena_copy(arena, bytes.len ? bytes.data : "", bytes.len);
    if (!copy.data)
        return rill_context_fail(ctx, RILL_ENOMEM, "out of memory");
    char why[256];
    if (rill_serde_deserialize(serde, copy, arena, view, why, sizeof why))
        return rill_context_fail(ctx, RILL_ESERDE,
                                 "cannot deserialize the stored %s with the %s serde: %s", what,
                                 rill_serde_name(serde), why);
    return 0;
}

static int forward_change(rill_context_t *ctx, const rill_record_t *in, rill_buf_t key,
                          rill_buf_t value, int64_t ts, rill_buf_t old)
{
    rill_record_t out = *in;
    out.key = key;
    out.value = value;
    out.timestamp = ts;
    return rill_context_forward_change(ctx, &out, old);
}

/* The first record an aggregation skips is logged, then one in 1,000 (as late records are):
 * enough to see that null keys arrive, not a line per record. */
void rill__sop_skip(rill_context_t *ctx, const rill_record_t *rec, const char *why)
{
    rill__op_skip(ctx, rec, why, &ctx->task->stateful_skip_logged_at);
}

/* Folds value into the aggregate found (or not) for key; result in *out. */
static int fold(rill_context_t *ctx, const rill_sop_spec_t *s, rill_buf_t key, rill_buf_t value,
                bool found, rill_buf_t agg, bool subtract, rill_buf_t *out)
{
    rill_arena_t *arena = rill_context_arena(ctx);
    switch (s->agg) {
    case RILL_AGG_COUNT: {
        int64_t n = found && agg.len == sizeof(int64_t) ? rill_value_i64(agg) : 0;
        *out = rill_arena_i64(arena, subtract ? n - 1 : n + 1);
        return out->data ? 0 : rill_context_fail(ctx, RILL_ENOMEM, "out of memory");
    }
    case RILL_AGG_REDUCE:
        if (!found) {
            *out = subtract ? (rill_buf_t){NULL, 0} : value;
            return 0;
        }
        if (subtract)
            return s->reduce_subtractor(s->ud, ctx, agg, value, out);
        return s->reduce_adder(s->ud, ctx, agg, value, out);
    case RILL_AGG_AGGREGATE:
        if (!found) {
            int rc = s->initializer(s->ud, ctx, &agg);
            if (rc)
                return rc;
        }
        if (subtract)
            return s->subtractor(s->ud, ctx, key, value, agg, out);
        return s->adder(s->ud, ctx, key, value, agg, out);
    }
    return RILL_EINVAL;
}

/* ---- flush listener: what a caching store forwards ---- */

static int on_flush(rill_context_t *ctx, void *state, rill_buf_t layout, rill_buf_t new_bytes,
                    rill_buf_t old_bytes, int64_t ts)
{
    sop_state_t *st = state;
    const rill_sop_spec_t *s = st->spec;
    rill_arena_t *arena = rill_context_arena(ctx);
    rill_buf_t key, kview, nv, ov;
    int64_t start = 0, end = 0;
    int rc;
    if (st->ws) {
        if (rill_window_key_split(layout, &key, &start))
            return RILL_EINVAL;
        end = start + s->windows.size_ms;
    } else if (st->ss) {
        if (rill_session_key_split(layout, &key, &start, &end))
            return RILL_EINVAL;
    } else {
        key = layout;
    }
    if ((rc = rill__op_de(ctx, st->ks, key, &kview, "key")) ||
        (rc = rill__op_de(ctx, st->vs, new_bytes, &nv, "value")) ||
        (rc = rill__op_de(ctx, st->vs, old_bytes, &ov, "value")))
        return rc;
    if (st->ws || st->ss) {
        kview = rill_arena_windowed(arena, kview, start, end);
        if (!kview.data)
            return rill_context_fail(ctx, RILL_ENOMEM, "out of memory");
    }
    rill_record_t rec = {.key = kview,
                         .value = nv,
                         .timestamp = ts,
                         .partition = rill_context_partition(ctx),
                         .offset = -1};
    return rill_context_forward_change(ctx, &rec, ov);
}

/* ---- init and close ---- */

static int sop_init(rill_context_t *ctx, void *arg, void **state)
{
    const rill_sop_spec_t *s = &((sop_arg_t *)arg)->spec;
    sop_state_t *st = rill_calloc(1, sizeof *st);
    if (!st)
        return RILL_ENOMEM;
    *state = st;
    st->spec = s;
    st->observed = INT64_MIN;
    st->ks = s->key_serde ? s->key_serde : ctx->task->env.default_key_serde;
    st->vs = s->value_serde ? s->value_serde : ctx->task->env.default_value_serde;
    if (s->store && (!st->ks || !st->vs))
        return rill_context_fail(ctx, RILL_ECONFIG,
                                 "no %s serde for store '%s': give one or set a default",
                                 st->ks ? "value" : "key", s->store ? s->store : "(none)");
    if (s->store) {
        st->kv = rill_context_kv_store(ctx, s->store);
        st->ws = rill_context_window_store(ctx, s->store);
        st->ss = rill_context_session_store(ctx, s->store);
        if (!st->kv && !st->ws && !st->ss)
            return rill_context_fail(ctx, RILL_ETOPOLOGY, "store '%s' is not connected to it",
                                     s->store);
        /* Suppression emits by itself: its buffer never forwards on flush. */
        if (s->op != RILL_SOP_SUPPRESS)
            st->cached = rill_context_on_store_flush(ctx, s->store, on_flush);
    }
    if (s->op == RILL_SOP_SUPPRESS) {
        char why[200];
        st->index = rill_store_open(RILL_STORE_IN_MEMORY, NULL, NULL, why, sizeof why);
        if (!st->index)
            return RILL_ENOMEM;
    }
    return 0;
}

static void sop_close(rill_context_t *ctx, void *state)
{
    sop_state_t *st = state;
    if (!st)
        return;
    rill_store_close(st->index);
    rill_bytes_free(&st->kb);
    rill_bytes_free(&st->vb);
    rill_bytes_free(&st->ib);
    rill_free(st);
}

/* ---- aggregations ---- */

/* Reads the current aggregate of a key (in a window when ws, a session when ss). */
static int read_agg(rill_context_t *ctx, sop_state_t *st, rill_buf_t kbytes, int64_t start,
                    bool *found, rill_buf_t *agg, int64_t *agg_ts)
{
    rill_buf_t stored;
    int rc = st->ws ? rill_window_handle_get(st->ws, kbytes, start, &stored, agg_ts)
                    : rill_kv_get(st->kv, kbytes, &stored, agg_ts);
    *found = rc == 0;
    if (rc == RILL_ENOENT) {
        *agg = (rill_buf_t){NULL, 0};
        return 0;
    }
    if (rc)
        return rill_context_fail(ctx, rc, "cannot read store '%s': %s", st->spec->store,
                                 rill_strerror(rc));
    return rill__op_de(ctx, st->vs, stored, agg, "aggregate");
}

/* Updates one aggregate (of a window starting at start when windowed) with rec. */
static int update(rill_context_t *ctx, sop_state_t *st, const rill_record_t *rec, rill_buf_t kbytes,
                  int64_t start, int64_t end, bool subtract, rill_buf_t value)
{
    const rill_sop_spec_t *s = st->spec;
    bool found;
    rill_buf_t old, nv, vbytes;
    int64_t old_ts = INT64_MIN;
    int rc = read_agg(ctx, st, kbytes, start, &found, &old, &old_ts);
    if (rc)
        return rc;
    if (subtract && !found && s->agg == RILL_AGG_REDUCE)
        return 0;
    if ((rc = fold(ctx, s, rec->key, value, found, old, subtract, &nv)))
        return rc;
    if ((rc = rill__op_ser(ctx, st->vs, nv, &st->vb, &vbytes, "aggregate")))
        return rc;
    int64_t ts = found && old_ts > rec->timestamp ? old_ts : rec->timestamp;
    rc = st->ws ? rill_window_handle_put(st->ws, kbytes, start, vbytes, ts)
                : rill_kv_put(st->kv, kbytes, vbytes, ts);
    if (rc == RILL_ENOENT && st->ws) {
        rill_context_drop_late(ctx, rec, start, end);
        return 0;
    }
    if (rc)
        return rc;
    if (st->cached)
        return 0;
    rill_buf_t key = rec->key;
    if (st->ws) {
        key = rill_arena_windowed(rill_context_arena(ctx), rec->key, start, end);
        if (!key.data)
            return rill_context_fail(ctx, RILL_ENOMEM, "out of memory");
    }
    return forward_change(ctx, rec, key, nv, ts, found ? old : (rill_buf_t){NULL, 0});
}

/* Puts an aggregate nv (at ts) for the window [start, end] of key and forwards it unless the
 * store caches. */
static int put_window(rill_context_t *ctx, sop_state_t *st, const rill_record_t *rec,
                      rill_buf_t kbytes, int64_t start, int64_t end, rill_buf_t nv, int64_t ts,
                      rill_buf_t old)
{
    rill_buf_t vbytes;
    int rc = rill__op_ser(ctx, st->vs, nv, &st->vb, &vbytes, "aggregate");
    if (rc)
        return rc;
    rc = rill_window_handle_put(st->ws, kbytes, start, vbytes, ts);
    if (rc == RILL_ENOENT) {
        rill_context_drop_late(ctx, rec, start, end);
        return 0;
    }
    if (rc || st->cached)
        return rc;
    rill_buf_t key = rill_arena_windowed(rill_context_arena(ctx), rec->key, start, end);
    if (!key.data)
        return rill_context_fail(ctx, RILL_ENOMEM, "out of memory");
    return forward_change(ctx, rec, key, nv, ts, old);
}

/* A sliding window as the store holds it: its aggregate and the largest timestamp in it. */
typedef struct {
    bool have;
    rill_buf_t agg;
    int64_t ts;
} slide_agg_t;

/* Adds rec to the window [start, start + size] whose aggregate so far is base (none: a new
 * window), unless the window has closed (then the record is late for it). */
static int slide_update(rill_context_t *ctx, sop_state_t *st, const rill_record_t *rec,
                        rill_buf_t kbytes, int64_t start, slide_agg_t base, int64_t close)
{
    const int64_t end = start + st->spec->windows.size_ms;
    if (end < close) {
        rill_context_drop_late(ctx, rec, start, end);
        return 0;
    }
    rill_buf_t nv;
    int rc = fold(ctx, st->spec, rec->key, rec->value, base.have, base.agg, false, &nv);
    if (rc)
        return rc;
    int64_t ts = base.have && base.ts > rec->timestamp ? base.ts : rec->timestamp;
    return put_window(ctx, st, rec, kbytes, start, end, nv, ts,
                      base.have ? base.agg : (rill_buf_t){NULL, 0});
}

/*
 * Sliding windows, with Kafka Streams' semantics (KStreamSlidingWindowAggregate): windows are
 * [start, start + size], both ends inclusive, and exist only where records make them differ: the
 * window that ends at each record, and the one that starts just after it when a later record
 * falls in it. Each stored aggregate's timestamp is the largest record timestamp in its window,
 * which is how a new record learns whether windows next to it hold records. Records earlier than
 * size share one window [0, size].
 */
static int sliding(rill_context_t *ctx, sop_state_t *st, const rill_record_t *rec,
                   rill_buf_t kbytes)
{
    const int64_t size = st->spec->windows.size_ms, t = rec->timestamp;
    const int64_t close = st->observed - st->spec->windows.grace_ms;
    if (t + 1 + size <= close) {
        rill_context_drop_late(ctx, rec, t - size, t);
        return 0;
    }
    const bool early = t < size;
    int64_t from = early ? 0 : (t - 2 * size > 0 ? t - 2 * size : 0);
    rill_window_iter_t *it = rill_window_handle_fetch(st->ws, kbytes, from, t + 1);
    if (!it)
        return rill_context_fail(ctx, RILL_EIO, "cannot read window store '%s'", st->spec->store);
    /* Read every window first: updating while iterating would see our own writes. */
    typedef struct {
        int64_t start;
        slide_agg_t a;
    } win_t;
    rill_arena_t *arena = rill_context_arena(ctx);
    win_t *wins = NULL;
    size_t n = 0, cap = 0;
    rill_buf_t k, v;
    int64_t start;
    int rc = 0;
    while (rc == 0 && rill_window_iter_next(it, &k, &start, &v)) {
        if (n == cap) {
            cap = cap ? 2 * cap : 8;
            win_t *w = rill_arena_alloc(arena, cap * sizeof *w);
            if (!w) {
                rc = rill_context_fail(ctx, RILL_ENOMEM, "out of memory");
                break;
            }
            if (n)
                memcpy(w, wins, n * sizeof *w);
            wins = w;
        }
        rill_buf_t val;
        if (rill_stored_split(v, &val, &wins[n].a.ts)) {
            rc = rill_context_fail(ctx, RILL_EIO, "a stored window value is too short");
            break;
        }
        wins[n].start = start;
        wins[n].a.have = true;
        rc = rill__op_de(ctx, st->vs, val, &wins[n].a.agg, "window aggregate");
        n++;
    }
    rill_window_iter_close(it);
    if (rc)
        return rc;
    slide_agg_t left = {0}, right = {0}, combined = {0};
    bool left_created = false, right_created = false, have_prev = false;
    int64_t prev = 0;
    if (early) {
        /* Kafka Streams reads these forwards: windows inside [0, t] update in start order. */
        for (size_t i = 0; rc == 0 && i < n; i++) {
            const int64_t s = wins[i].start;
            const slide_agg_t a = wins[i].a;
            if (s == 0) {
                combined = a;
                if (a.ts < t) {
                    prev = a.ts;
                    have_prev = true;
                }
            } else if (s <= t) {
                right = a;
                rc = slide_update(ctx, st, rec, kbytes, s, a, close);
            } else if (s == t + 1) {
                right_created = true;
            }
        }
        if (rc)
            return rc;
        if (!right.have && combined.have && combined.ts > t)
            right = combined;
        if (!right_created && right.have && right.ts > t &&
            (rc = put_window(ctx, st, rec, kbytes, t + 1, t + 1 + size, right.agg, right.ts,
                             (rill_buf_t){NULL, 0})))
            return rc;
        bool prev_right_exists = false;
        for (size_t i = 0; i < n; i++)
            prev_right_exists |= have_prev && wins[i].start == prev + 1;
        if (have_prev && !prev_right_exists &&
            (rc = slide_update(ctx, st, rec, kbytes, prev + 1, (slide_agg_t){0}, close)))
            return rc;
        return slide_update(ctx, st, rec, kbytes, 0, combined, close);
    }
    /* Newest first, as Kafka Streams' reverse iteration updates them. */
    for (size_t i = n; rc == 0 && i-- > 0;) {
        const int64_t s = wins[i].start, e = s + size;
        const slide_agg_t a = wins[i].a;
        if (s == t + 1) {
            right_created = true;
        } else if (e > t && s <= t) {
            if (!right.have)
                right = a;
            rc = slide_update(ctx, st, rec, kbytes, s, a, close);
        } else if (e == t) {
            left_created = true;
            if (a.ts >= t) /* a record at t was here before: every window exists already */
                return slide_update(ctx, st, rec, kbytes, s, a, close);
            prev = a.ts;
            have_prev = true;
            rc = slide_update(ctx, st, rec, kbytes, s, a, close);
        } else if (e < t) {
            left = a;
            prev = a.ts;
            have_prev = true;
            break;
        }
    }
    if (rc)
        return rc;
    bool prev_right_exists = false;
    for (size_t i = 0; i < n; i++)
        prev_right_exists |= have_prev && wins[i].start == prev + 1;
    /* The previous record's right window, now that this record falls in it. */
    if (have_prev && !prev_right_exists && prev + 1 + size >= t &&
        (rc = slide_update(ctx, st, rec, kbytes, prev + 1, (slide_agg_t){0}, close)))
        return rc;
    if (!left_created) {
        slide_agg_t base = have_prev && t - size <= prev ? left : (slide_agg_t){0};
        if ((rc = slide_update(ctx, st, rec, kbytes, t - size, base, close)))
            return rc;
    }
    /* This record's right window holds what the window found to its right holds after it. */
    if (!right_created && right.have && right.ts > t)
        rc = put_window(ctx, st, rec, kbytes, t + 1, t + 1 + size, right.agg, right.ts,
                        (rill_buf_t){NULL, 0});
    return rc;
}

/* Session windows, as Kafka Streams' KStreamSessionWindowAggregate. */
static int session(rill_context_t *ctx, sop_state_t *st, const rill_record_t *rec,
                   rill_buf_t kbytes)
{
    const rill_sop_spec_t *s = st->spec;
    const int64_t t = rec->timestamp, gap = s->windows.gap_ms;
    /* As Kafka Streams since 3.3: a session may still grow until stream time passes its end by
     * the gap plus the grace. */
    const int64_t close = st->observed - s->windows.grace_ms - gap;
    rill_session_iter_t *it = rill_session_handle_find(st->ss, kbytes, t - gap, t + gap);
    if (!it)
        return rill_context_fail(ctx, RILL_EIO, "cannot read session store '%s'", s->store);
    rill_arena_t *arena = rill_context_arena(ctx);
    int64_t mstart = t, mend = t;
    rill_buf_t agg = {NULL, 0};
    int rc = s->agg == RILL_AGG_AGGREGATE ? s->initializer(s->ud, ctx, &agg) : 0;
    bool have = s->agg == RILL_AGG_AGGREGATE;
    typedef struct {
        int64_t start, end;
        rill_buf_t value;
        int64_t ts;
    } merged_t;
    merged_t *merged = NULL;
    size_t n = 0;
    rill_buf_t k, v;
    int64_t start, end;
    while (rc == 0 && rill_session_iter_next(it, &k, &start, &end, &v)) {
        merged_t *m = rill_arena_alloc(arena, (n + 1) * sizeof *m);
        if (!m) {
            rc = rill_context_fail(ctx, RILL_ENOMEM, "out of memory");
            break;
        }
        if (n)
            memcpy(m, merged, n * sizeof *m);
        merged = m;
        rill_buf_t val, view;
        int64_t ts;
        if (rill_stored_split(v, &val, &ts)) {
            rc = rill_context_fail(ctx, RILL_EIO, "a stored session value is too short");
            break;
        }
        if ((rc = rill__op_de(ctx, st->vs, val, &view, "session aggregate")))
            break;
        merged[n++] = (merged_t){start, end, view, ts};
        mstart = start < mstart ? start : mstart;
        mend = end > mend ? end : mend;
        if (!have) {
            agg = view;
            have = true;
        } else if (s->agg == RILL_AGG_COUNT) {
            agg = rill_arena_i64(arena, rill_value_i64(agg) + rill_value_i64(view));
        } else if (s->agg == RILL_AGG_REDUCE) {
            rc = s->reduce_adder(s->ud, ctx, agg, view, &agg);
        } else {
            rc = s->merger(s->ud, ctx, rec->key, agg, view, &agg);
        }
    }
    rill_session_iter_close(it);
    if (rc)
        return rc;
    if (mend < close) {
        rill_context_drop_late(ctx, rec, mstart, mend);
        return 0;
    }
    int64_t ts = t;
    for (size_t i = 0; i < n; i++) {
        ts = merged[i].ts > ts ? merged[i].ts : ts;
        if (merged[i].start == mstart && merged[i].end == mend)
            continue; /* rewritten below */
        /* The merged session's tombstone carries that session's end as its timestamp. */
        if ((rc = rill_session_handle_put(st->ss, kbytes, merged[i].start, merged[i].end,
                                          (rill_buf_t){NULL, 0}, merged[i].end)))
            return rc;
        if (!st->cached) {
            rill_buf_t wk = rill_arena_windowed(arena, rec->key, merged[i].start, merged[i].end);
            if (!wk.data)
                return rill_context_fail(ctx, RILL_ENOMEM, "out of memory");
            if ((rc = forward_change(ctx, rec, wk, (rill_buf_t){NULL, 0}, merged[i].end,
                                     merged[i].value)))
                return rc;
        }
    }
    rill_buf_t nv, vbytes;
    if (!have)
        nv = s->agg == RILL_AGG_COUNT ? rill_arena_i64(arena, 1) : rec->value;
    else if ((rc = fold(ctx, s, rec->key, rec->value, true, agg, false, &nv)))
        return rc;
    if ((rc = rill__op_ser(ctx, st->vs, nv, &st->vb, &vbytes, "session aggregate")))
        return rc;
    rill_buf_t previous = {NULL, 0};
    for (size_t i = 0; i < n; i++)
        if (merged[i].start == mstart && merged[i].end == mend)
            previous = merged[i].value;
    if ((rc = rill_session_handle_put(st->ss, kbytes, mstart, mend, vbytes, ts)))
        return rc == RILL_ENOENT ? 0 : rc;
    if (st->cached)
        return 0;
    rill_buf_t wk = rill_arena_windowed(arena, rec->key, mstart, mend);
    if (!wk.data)
        return rill_context_fail(ctx, RILL_ENOMEM, "out of memory");
    return forward_change(ctx, rec, wk, nv, ts, previous);
}

static int aggregate(rill_context_t *ctx, sop_state_t *st, const rill_record_t *rec)
{
    const rill_sop_spec_t *s = st->spec;
    if (!rec->key.data || !rec->value.data) {
        rill__sop_skip(ctx, rec, rec->key.data ? "its value is null" : "its key is null");
        return 0;
    }
    if (rec->timestamp > st->observed)
        st->observed = rec->timestamp;
    rill_buf_t kbytes;
    int rc = rill__op_ser(ctx, st->ks, rec->key, &st->kb, &kbytes, "key");
    if (rc)
        return rc;
    const rill_windows_t *w = &s->windows;
    switch (w->kind) {
    case RILL_WINDOWS_NONE:
        return update(ctx, st, rec, kbytes, 0, 0, false, rec->value);
    case RILL_WINDOWS_SLIDING:
        return sliding(ctx, st, rec, kbytes);
    case RILL_WINDOWS_SESSION:
        return session(ctx, st, rec, kbytes);
    case RILL_WINDOWS_TUMBLING:
    case RILL_WINDOWS_HOPPING: {
        const int64_t t = rec->timestamp, size = w->size_ms;
        const int64_t adv = w->kind == RILL_WINDOWS_TUMBLING ? size : w->advance_ms;
        const int64_t close = st->observed - w->grace_ms;
        int64_t first = t - size + adv > 0 ? (t - size + adv) / adv * adv : 0;
        for (int64_t start = first; start <= t; start += adv) {
            int64_t end = start + size;
            if (end <= close) {
                rill_context_drop_late(ctx, rec, start, end);
                continue;
            }
            if ((rc = update(ctx, st, rec, kbytes, start, end, false, rec->value)))
                return rc;
        }
        return 0;
    }
    }
    return RILL_EINVAL;
}

/* ---- tables ---- */

static int table_source(rill_context_t *ctx, sop_state_t *st, const rill_record_t *rec)
{
    if (!rec->key.data) {
        rill__sop_skip(ctx, rec, "a table record needs a key");
        return 0;
    }
    rill_buf_t kbytes, vbytes, old = {NULL, 0};
    int rc = rill__op_ser(ctx, st->ks, rec->key, &st->kb, &kbytes, "key");
    if (rc)
        return rc;
    int64_t latest = INT64_MIN;
    if (!st->cached) {
        rill_buf_t stored;
        rc = rill_kv_get(st->kv, kbytes, &stored, &latest);
        if (rc == 0 && (rc = rill__op_de(ctx, st->vs, stored, &old, "value")))
            return rc;
        if (rc && rc != RILL_ENOENT)
            return rc;
    }
    if ((rc = rill__op_ser(ctx, st->vs, rec->value, &st->vb, &vbytes, "value")))
        return rc;
    rc = rill_kv_put(st->kv, kbytes, vbytes, rec->timestamp);
    if (rill_kv_is_versioned(st->kv)) {
        /* A versioned table (KIP-914): an update older than the history is not put, and one
         * older than its key's latest version goes into the history only; neither is forwarded
         * (Kafka Streams forwards the latter marked not-latest, which its downstream table
         * operations then drop). Behind a tombstone (no latest value), reading the latest
         * again tells whether the put became it. */
        if (rc == RILL_ENOENT)
            return 0;
        if (!rc && old.data && rec->timestamp < latest)
            return 0;
        if (!rc && !old.data && rec->value.data) {
            rill_buf_t now;
            int64_t now_ts;
            int grc = rill_kv_get(st->kv, kbytes, &now, &now_ts);
            if (grc == RILL_ENOENT || (grc == 0 && now_ts != rec->timestamp))
                return 0;
            if (grc)
                return grc;
        }
    }
    if (rc)
        return rc;
    if (st->cached)
        return 0;
    if (!rec->value.data && !old.data)
        return 0; /* deleting what was not there changes nothing */
    return forward_change(ctx, rec, rec->key, rec->value, rec->timestamp, old);
}

/* Materializes a derived table's update when the node has a store. */
static int materialize(rill_context_t *ctx, sop_state_t *st, const rill_record_t *rec,
                       rill_buf_t value)
{
    if (!st->kv)
        return 0;
    rill_buf_t kbytes, vbytes;
    int rc = rill__op_ser(ctx, st->ks, rec->key, &st->kb, &kbytes, "key");
    if (!rc)
        rc = rill__op_ser(ctx, st->vs, value, &st->vb, &vbytes, "value");
    if (!rc)
        rc = rill_kv_put(st->kv, kbytes, vbytes, rec->timestamp);
    return rc;
}

static bool keeps(const rill_sop_spec_t *s, const rill_record_t *rec, rill_buf_t value)
{
    if (!value.data)
        return false;
    rill_record_t r = *rec;
    r.value = value;
    return s->pred(s->ud, &r) != s->filter_not;
}

static int table_filter(rill_context_t *ctx, sop_state_t *st, const rill_record_t *rec)
{
    rill_buf_t old = rill_context_old_value(ctx);
    rill_buf_t nv = keeps(st->spec, rec, rec->value) ? rec->value : (rill_buf_t){NULL, 0};
    rill_buf_t ov = keeps(st->spec, rec, old) ? old : (rill_buf_t){NULL, 0};
    if (!nv.data && !ov.data)
        return 0;
    int rc = materialize(ctx, st, rec, nv);
    if (rc || st->cached)
        return rc; /* a cached store forwards when it is written through */
    return forward_change(ctx, rec, rec->key, nv, rec->timestamp, ov);
}

static int map_one(rill_context_t *ctx, const rill_sop_spec_t *s, const rill_record_t *rec,
                   rill_buf_t value, rill_buf_t *out)
{
    if (!value.data) {
        *out = (rill_buf_t){NULL, 0};
        return 0;
    }
    rill_record_t r = *rec;
    r.value = value;
    return s->map(s->ud, ctx, &r, out);
}

static int table_map_values(rill_context_t *ctx, sop_state_t *st, const rill_record_t *rec)
{
    rill_buf_t nv, ov;
    int rc = map_one(ctx, st->spec, rec, rec->value, &nv);
    if (!rc)
        rc = map_one(ctx, st->spec, rec, rill_context_old_value(ctx), &ov);
    if (!rc)
        rc = materialize(ctx, st, rec, nv);
    if (rc || st->cached)
        return rc;
    return forward_change(ctx, rec, rec->key, nv, rec->timestamp, ov);
}

static int table_regroup(rill_context_t *ctx, sop_state_t *st, const rill_record_t *rec)
{
    const rill_sop_spec_t *s = st->spec;
    rill_arena_t *arena = rill_context_arena(ctx);
    rill_buf_t sides[2] = {rill_context_old_value(ctx), rec->value};
    for (int i = 0; i < 2; i++) {
        if (!sides[i].data)
            continue;
        rill_record_t r = *rec;
        r.value = sides[i];
        rill_buf_t k = {NULL, 0}, v = {NULL, 0};
        int rc = s->regroup(s->ud, ctx, &r, &k, &v);
        if (rc)
            return rc;
        if (!k.data)
            continue; /* Kafka Streams drops a regrouped update whose key is null */
        rill_change_t *c = rill_arena_alloc(arena, sizeof *c);
        if (!c)
            return rill_context_fail(ctx, RILL_ENOMEM, "out of memory");
        *c = (rill_change_t){v, i == 0};
        r.key = k;
        r.value = (rill_buf_t){c, sizeof *c};
        if ((rc = rill_context_forward_change(ctx, &r, (rill_buf_t){NULL, 0})))
            return rc;
    }
    return 0;
}

static int table_aggregate(rill_context_t *ctx, sop_state_t *st, const rill_record_t *rec)
{
    if (!rec->key.data || rec->value.len != sizeof(rill_change_t)) {
        rill__sop_skip(ctx, rec, "a regrouped table update needs a key and a change value");
        return 0;
    }
    const rill_change_t *c = rec->value.data;
    if (!c->value.data)
        return 0;
    rill_buf_t kbytes;
    int rc = rill__op_ser(ctx, st->ks, rec->key, &st->kb, &kbytes, "key");
    if (rc)
        return rc;
    return update(ctx, st, rec, kbytes, 0, 0, c->subtract, c->value);
}

/* ---- dispatch ---- */

static int sop_process(rill_context_t *ctx, void *state, const rill_record_t *rec)
{
    sop_state_t *st = state;
    switch (st->spec->op) {
    case RILL_SOP_AGGREGATE:
        return aggregate(ctx, st, rec);
    case RILL_SOP_TABLE_SOURCE:
        return table_source(ctx, st, rec);
    case RILL_SOP_TABLE_FILTER:
        return table_filter(ctx, st, rec);
    case RILL_SOP_TABLE_MAP_VALUES:
        return table_map_values(ctx, st, rec);
    case RILL_SOP_TO_STREAM:
        return rill_context_forward_change(ctx, rec, (rill_buf_t){NULL, 0});
    case RILL_SOP_TABLE_REGROUP:
        return table_regroup(ctx, st, rec);
    case RILL_SOP_TABLE_AGGREGATE:
        return table_aggregate(ctx, st, rec);
    case RILL_SOP_SUPPRESS:
        return rill__sop_suppress(ctx, st, rec);
    }
    return RILL_EINVAL;
}

static const rill_processor_ops sop_ops = {sop_init, sop_process, sop_close};

const rill_processor_ops *rill_sop_ops(void)
{
    return &sop_ops;
}
