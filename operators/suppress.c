/*
 * suppress, as Kafka Streams' KTableSuppressProcessor: a table's updates wait in the node's
 * store, one per key (the latest, at the first update's buffer time), and are emitted oldest
 * first once stream time passes their time limit, or for final results once their window
 * closes (its end plus grace, and the gap for sessions); a full buffer emits its oldest or,
 * when so set, fails. An in-memory index orders the buffered keys by buffer time; it is rebuilt
 * from the store after a restore.
 */
#include "operators_int.h"

enum { SUP_PUT = 0, SUP_DELETE = 1 };

/* The index key: the buffer time (8 bytes, big-endian, sign flipped) then the key bytes. */
static int index_key(sop_state_t *st, int64_t when, rill_buf_t kbytes, rill_buf_t *out)
{
    uint64_t u = (uint64_t)when ^ (1ULL << 63);
    uint8_t t[8];
    for (int i = 7; i >= 0; i--, u >>= 8)
        t[i] = (uint8_t)u;
    st->ib.len = 0;
    if (rill_bytes_append(&st->ib, t, 8) ||
        rill_bytes_append(&st->ib, kbytes.len ? kbytes.data : "", kbytes.len))
        return RILL_ENOMEM;
    *out = (rill_buf_t){st->ib.data, st->ib.len};
    return 0;
}

static int64_t index_time(rill_buf_t ikey)
{
    const uint8_t *p = ikey.data;
    uint64_t u = 0;
    for (int i = 0; i < 8; i++)
        u = u << 8 | p[i];
    return (int64_t)(u ^ (1ULL << 63));
}

/* Rebuilds the time index from the buffer store (after a restore) on first use. */
static int build_index(rill_context_t *ctx, sop_state_t *st)
{
    if (st->indexed)
        return 0;
    rill_store_iter_t *it = rill_kv_range(st->kv, NULL, NULL, false);
    if (!it)
        return rill_context_fail(ctx, RILL_EIO, "cannot read the suppression buffer");
    rill_buf_t k, v, ik;
    int rc = 0;
    while (rc == 0 && rill_store_iter_next(it, &k, &v)) {
        rill_buf_t entry;
        if (rill_stored_split(v, &entry, NULL) || entry.len < 9)
            continue;
        if (!(rc = index_key(st, index_time((rill_buf_t){entry.data, 8}), k, &ik)))
            rc = rill_store_put(st->index, ik, (rill_buf_t){"", 0});
        st->buffered++;
        st->buffered_bytes += k.len + entry.len;
    }
    rill_store_iter_close(it);
    st->indexed = rc == 0;
    return rc;
}

/* Emits the buffered update whose index key is ikey, and forgets it. */
static int emit(rill_context_t *ctx, sop_state_t *st, rill_buf_t ikey)
{
    rill_arena_t *arena = rill_context_arena(ctx);
    rill_buf_t ik = rill_arena_copy(arena, ikey.data, ikey.len);
    if (!ik.data)
        return rill_context_fail(ctx, RILL_ENOMEM, "out of memory");
    rill_buf_t kbytes = {(const uint8_t *)ik.data + 8, ik.len - 8}, entry, key, value;
    int64_t ts;
    int rc = rill_kv_get(st->kv, kbytes, &entry, &ts);
    if (rc == 0 && entry.len >= 9) {
        const uint8_t *e = entry.data;
        rill_buf_t vbytes =
            e[8] == SUP_PUT ? (rill_buf_t){e + 9, entry.len - 9} : (rill_buf_t){NULL, 0};
        st->buffered--;
        st->buffered_bytes -= kbytes.len + entry.len;
        if ((rc = rill__op_de(ctx, st->ks, kbytes, &key, "key")) ||
            (rc = rill__op_de(ctx, st->vs, vbytes, &value, "value")))
            return rc;
        if ((rc = rill_kv_put(st->kv, kbytes, (rill_buf_t){NULL, 0}, ts)))
            return rc;
        if ((rc = rill_store_delete(st->index, ik)))
            return rc;
        /* Final results never need a tombstone: the window had no result to take back. */
        if (!value.data && st->spec->until_window_closes)
            return 0;
        rill_record_t out = {.key = key,
                             .value = value,
                             .timestamp = ts,
                             .partition = rill_context_partition(ctx),
                             .offset = -1};
        return rill_context_forward_change(ctx, &out, (rill_buf_t){NULL, 0});
    }
    return rc == RILL_ENOENT || rc == 0 ? rill_store_delete(st->index, ik) : rc;
}

/* Emits every buffered update whose buffer time is at most until, oldest first; with max set,
 * at most max of them. */
static int evict_until(rill_context_t *ctx, sop_state_t *st, int64_t until, uint64_t max)
{
    /* Only the entries that are due: the range ends at the 8-byte time prefix of until + 1
     * (an index key is that prefix and the key bytes, so it sorts after the bare prefix). */
    uint8_t bound[8];
    uint64_t u = (uint64_t)(until == INT64_MAX ? INT64_MAX : until + 1) ^ (1ULL << 63);
    for (int i = 7; i >= 0; i--, u >>= 8)
        bound[i] = (uint8_t)u;
    rill_buf_t to = {bound, sizeof bound};
    rill_store_iter_t *it =
        rill_store_range(st->index, NULL, until == INT64_MAX ? NULL : &to, false);
    if (!it)
        return rill_context_fail(ctx, RILL_ENOMEM, "out of memory");
    rill_buf_t ik, v;
    int rc = 0;
    /* The iterator is a snapshot: emitting (which deletes from the index) does not disturb it. */
    for (uint64_t done = 0; rc == 0 && (!max || done < max) && rill_store_iter_next(it, &ik, &v);
         done++) {
        if (index_time(ik) > until)
            break;
        rc = emit(ctx, st, ik);
    }
    rill_store_iter_close(it);
    return rc;
}

int rill__sop_suppress(rill_context_t *ctx, sop_state_t *st, const rill_record_t *rec)
{
    const rill_sop_spec_t *s = st->spec;
    int rc = build_index(ctx, st);
    if (rc)
        return rc;
    if (rec->timestamp > st->observed)
        st->observed = rec->timestamp;
    rill_buf_t kbytes, vbytes, ik;
    if ((rc = rill__op_ser(ctx, st->ks, rec->key, &st->kb, &kbytes, "key")) ||
        (rc = rill__op_ser(ctx, st->vs, rec->value, &st->vb, &vbytes, "value")))
        return rc;
    if (!kbytes.data) {
        rill__sop_skip(ctx, rec, "suppress needs a key");
        return 0;
    }
    int64_t when;
    if (s->until_window_closes) {
        if (rec->key.len != sizeof(rill_windowed_t))
            return rill_context_fail(ctx, RILL_ETOPOLOGY,
                                     "suppress until the window closes needs windowed keys");
        when = ((const rill_windowed_t *)rec->key.data)->end;
    } else {
        when = rec->timestamp;
    }
    /* A key already buffered keeps its first buffer time. */
    rill_buf_t entry;
    int64_t old_ts;
    bool present = rill_kv_get(st->kv, kbytes, &entry, &old_ts) == 0 && entry.len >= 9;
    if (present) {
        when = index_time((rill_buf_t){entry.data, 8});
        st->buffered--;
        st->buffered_bytes -= kbytes.len + entry.len;
    }
    /* entry: buffer time (as in the index), flag, value bytes */
    rill_bytes_t *b = &st->ib;
    if ((rc = index_key(st, when, (rill_buf_t){NULL, 0}, &ik)))
        return rc;
    uint8_t flag = vbytes.data ? SUP_PUT : SUP_DELETE;
    if (rill_bytes_append(b, &flag, 1) ||
        rill_bytes_append(b, vbytes.len ? vbytes.data : "", vbytes.len))
        return rill_context_fail(ctx, RILL_ENOMEM, "out of memory");
    rill_buf_t e = {b->data, b->len};
    if ((rc = rill_kv_put(st->kv, kbytes, e, rec->timestamp)))
        return rc;
    st->buffered++;
    st->buffered_bytes += kbytes.len + e.len;
    if (!present) {
        if ((rc = index_key(st, when, kbytes, &ik)) ||
            (rc = rill_store_put(st->index, ik, (rill_buf_t){"", 0})))
            return rc;
    }
    /* A session may still grow until stream time passes its end by gap plus grace. */
    int64_t limit = !s->until_window_closes ? s->time_limit_ms
                    : s->windows.kind == RILL_WINDOWS_SESSION
                        ? s->windows.grace_ms + s->windows.gap_ms
                        : s->windows.grace_ms;
    if ((rc = evict_until(ctx, st, st->observed - limit, 0)))
        return rc;
    while ((s->max_records && st->buffered > s->max_records) ||
           (s->max_bytes && st->buffered_bytes > s->max_bytes)) {
        if (s->shut_down_when_full)
            return rill_context_fail(
                ctx, RILL_EPROCESS,
                "the suppression buffer is full (%llu records, %llu bytes; "
                "max %llu records, %llu bytes) and is set to shut down "
                "when full",
                (unsigned long long)st->buffered, (unsigned long long)st->buffered_bytes,
                (unsigned long long)s->max_records, (unsigned long long)s->max_bytes);
        if ((rc = evict_until(ctx, st, INT64_MAX, 1)))
            return rc;
    }
    return 0;
}
