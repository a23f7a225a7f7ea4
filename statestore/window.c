/*
 * Window stores (statestore.h): a segmented store (segments.h) whose entries are keyed by the
 * window layout, key bytes then the window start (8 bytes, big-endian, sign bit flipped), and
 * segmented by start. The layout orders one key's windows by start, so fetching one key is one
 * range per segment. Keys are not length-prefixed, so a key that starts with another ("a" and
 * "a\0x") can fall inside the other's range: every iterator filters on the exact key (or key
 * range) and on time, as Kafka Streams' WindowKeySchema does. The same goes for key ranges: a
 * segment's entries come in layout order, which is key order only among keys of one length. Keys
 * may be empty but not null, as in the key-value stores.
 *
 * Duplicates (rill_window_store_retain_duplicates): the layout gets a 4-byte big-endian sequence
 * number after the start, so a put never meets an entry to replace and needs no read first (the
 * stream-stream join's stores, as Kafka Streams' retainDuplicates); a window's entries come in
 * sequence order. seq_len says which layout the store uses, for splitting and bounds.
 *
 * Expiry: a window whose start is older than observed - retention is expired; put refuses it and
 * iterators clamp their time bounds to observed - retention (taken when they are made), so they do
 * not return windows of a segment that is still alive but partly expired.
 */
#include "segments.h"

#include <stdio.h>
#include <string.h>

#define SEQ_LEN 4

struct rill_window_store {
    rill__segments_t *segs;
    size_t seq_len; /* 0, or SEQ_LEN when the store retains duplicates */
    uint32_t seq;   /* the last sequence number a put gave (duplicates) */
};

/* What an iterator keeps of the entries a segment range gives it. */
typedef enum {
    MATCH_KEY,   /* exactly key_from */
    MATCH_RANGE, /* key_from <= key <= key_to, each bound optional */
    MATCH_ALL,
} match_t;

struct rill_window_iter {
    rill__segments_iter_t *segs;
    size_t seq_len; /* the store's */
    match_t match;
    bool has_from, has_to;
    rill_buf_t key_from, key_to; /* copies, after the struct */
    int64_t from, to;
};

/* ---- Layout ---- */

size_t rill_window_key(rill_buf_t key, int64_t start, uint8_t *out)
{
    if (key.len)
        memcpy(out, key.data, key.len);
    rill__time_encode(start, out + key.len);
    return key.len + RILL__TIME_LEN;
}

int rill_window_key_split(rill_buf_t layout, rill_buf_t *key, int64_t *start)
{
    if (layout.len < RILL__TIME_LEN || !layout.data)
        return RILL_EINVAL;
    size_t klen = layout.len - RILL__TIME_LEN;
    if (key)
        *key = (rill_buf_t){layout.data, klen};
    if (start)
        *start = rill__time_decode((const uint8_t *)layout.data + klen);
    return 0;
}

size_t rill_window_dup_key(rill_buf_t key, int64_t start, uint32_t seq, uint8_t *out)
{
    size_t n = rill_window_key(key, start, out);
    out[n] = (uint8_t)(seq >> 24);
    out[n + 1] = (uint8_t)(seq >> 16);
    out[n + 2] = (uint8_t)(seq >> 8);
    out[n + 3] = (uint8_t)seq;
    return n + SEQ_LEN;
}

int rill_window_dup_key_split(rill_buf_t layout, rill_buf_t *key, int64_t *start, uint32_t *seq)
{
    if (layout.len < RILL__TIME_LEN + SEQ_LEN || !layout.data)
        return RILL_EINVAL;
    const uint8_t *p = (const uint8_t *)layout.data + layout.len - SEQ_LEN;
    if (seq)
        *seq = (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
    return rill_window_key_split((rill_buf_t){layout.data, layout.len - SEQ_LEN}, key, start);
}

/* Splits a layout of ws's kind. */
static int layout_split(size_t seq_len, rill_buf_t layout, rill_buf_t *key, int64_t *start)
{
    return seq_len ? rill_window_dup_key_split(layout, key, start, NULL)
                   : rill_window_key_split(layout, key, start);
}

/* ---- Store ---- */

rill_window_store_t *rill_window_store_open(rill_store_backend_t backend, rill_store_env_t *env,
                                            const char *path, int64_t retention_ms,
                                            int64_t segment_ms, char *errstr, size_t errstr_size)
{
    char dummy[1];
    if (!errstr) {
        errstr = dummy;
        errstr_size = sizeof dummy;
    }
    rill_window_store_t *ws = rill_calloc(1, sizeof *ws);
    if (!ws) {
        snprintf(errstr, errstr_size, "window store: out of memory");
        return NULL;
    }
    /* Records come in time order per key, so a put lands beside its key's last one: the insert
     * hint's prefix is the key (with duplicates, the key and the start's upper half, which
     * changes once in 49 days). */
    ws->segs = rill__segments_open(backend, env, path, retention_ms, segment_ms, RILL__TIME_LEN,
                                   "window store", errstr, errstr_size);
    if (!ws->segs) {
        rill_free(ws);
        return NULL;
    }
    return ws;
}

void rill_window_store_close(rill_window_store_t *ws)
{
    if (!ws)
        return;
    rill__segments_close(ws->segs);
    rill_free(ws);
}

int rill_window_store_retain_duplicates(rill_window_store_t *ws)
{
    if (!ws)
        return RILL_EINVAL;
    ws->seq_len = SEQ_LEN;
    return 0;
}

int rill_window_store_put(rill_window_store_t *ws, rill_buf_t key, int64_t start, rill_buf_t value)
{
    if (!ws || !rill__key_ok(key) || !rill__value_ok(value) ||
        key.len > SIZE_MAX - RILL__TIME_LEN - SEQ_LEN)
        return RILL_EINVAL;
    if (ws->seq_len && !value.data)
        return 0; /* a duplicate is never replaced, so a null value has nothing to delete */
    uint8_t *layout = rill__segments_scratch(ws->segs, key.len + RILL__TIME_LEN + ws->seq_len);
    if (!layout)
        return RILL_ENOMEM;
    size_t n = ws->seq_len ? rill_window_dup_key(key, start, ++ws->seq, layout)
                           : rill_window_key(key, start, layout);
    return rill__segments_put(ws->segs, start, (rill_buf_t){layout, n}, value);
}

/* A window layout's timestamp: its start. */
static int64_t window_ts(rill_buf_t layout)
{
    return rill__time_decode((const uint8_t *)layout.data + layout.len - RILL__TIME_LEN);
}

/* The same for a layout with a sequence number. */
static int64_t dup_window_ts(rill_buf_t layout)
{
    return rill__time_decode((const uint8_t *)layout.data + layout.len - RILL__TIME_LEN - SEQ_LEN);
}

int rill_window_store_write_batch(rill_window_store_t *ws, const rill_store_write_t *writes,
                                  size_t n, bool *written)
{
    if (!ws || (n && (!writes || !written)))
        return RILL_EINVAL;
    for (size_t i = 0; i < n; i++)
        if (!writes[i].key.data || writes[i].key.len < RILL__TIME_LEN + ws->seq_len ||
            !rill__value_ok(writes[i].value))
            return RILL_EINVAL;
    return rill__segments_write_batch(ws->segs, writes, n, ws->seq_len ? dup_window_ts : window_ts,
                                      written);
}

int rill_window_store_get(rill_window_store_t *ws, rill_buf_t key, int64_t start, rill_buf_t *value)
{
    if (!ws || ws->seq_len || !rill__key_ok(key) || !value || key.len > SIZE_MAX - RILL__TIME_LEN)
        return RILL_EINVAL;
    uint8_t *layout = rill__segments_scratch(ws->segs, key.len + RILL__TIME_LEN);
    if (!layout)
        return RILL_ENOMEM;
    size_t n = rill_window_key(key, start, layout);
    return rill__segments_get(ws->segs, start, (rill_buf_t){layout, n}, value);
}

int rill_window_store_flush(rill_window_store_t *ws)
{
    if (!ws)
        return RILL_EINVAL;
    return rill__segments_flush(ws->segs);
}

int rill_window_store_set_transactional(rill_window_store_t *ws)
{
    return ws ? rill__segments_set_transactional(ws->segs) : RILL_EINVAL;
}

int rill_window_store_commit(rill_window_store_t *ws, int64_t changelog_offset)
{
    return ws ? rill__segments_commit(ws->segs, changelog_offset) : RILL_EINVAL;
}

int64_t rill_window_store_committed_offset(rill_window_store_t *ws)
{
    return ws ? rill__segments_committed_offset(ws->segs) : -1;
}

int64_t rill_window_store_observed_time(const rill_window_store_t *ws)
{
    return ws ? rill__segments_observed(ws->segs) : INT64_MIN;
}

/* ---- Iterators ---- */

/* Makes an iterator with room for n bytes after it (for its key copies and its range bounds,
 * which the segment iterator copies again). */
static rill_window_iter_t *iter_alloc(size_t n)
{
    if (n > SIZE_MAX - sizeof(rill_window_iter_t))
        return NULL;
    return rill_calloc(1, sizeof(rill_window_iter_t) + n);
}

static uint8_t *iter_bytes(rill_window_iter_t *it)
{
    return (uint8_t *)(it + 1);
}

/* The first bound of time not yet expired, or the caller's from if later. */
static int64_t live_from(rill_window_store_t *ws, int64_t from)
{
    int64_t min_live = rill__segments_min_live(ws->segs);
    return from > min_live ? from : min_live;
}

rill_window_iter_t *rill_window_store_fetch(rill_window_store_t *ws, rill_buf_t key, int64_t from,
                                            int64_t to, bool reverse)
{
    if (!ws || !rill__key_ok(key) || key.len > (SIZE_MAX - 2 * RILL__TIME_LEN - 2 * SEQ_LEN) / 3)
        return NULL;
    size_t blen = key.len + RILL__TIME_LEN + ws->seq_len;
    rill_window_iter_t *it = iter_alloc(key.len + 2 * blen);
    if (!it)
        return NULL;
    uint8_t *bytes = iter_bytes(it), *lo = bytes + key.len, *hi = lo + blen;
    if (key.len)
        memcpy(bytes, key.data, key.len);
    it->seq_len = ws->seq_len;
    it->match = MATCH_KEY;
    it->key_from = (rill_buf_t){bytes, key.len};
    it->from = live_from(ws, from);
    it->to = to;
    /* Every entry of the key's length inside [key+from, key+to] is one of key's windows (with
     * duplicates: [key+from, key+to+the largest sequence number]). */
    rill_buf_t blo = {lo, rill_window_key(key, it->from, lo)};
    rill_buf_t bhi = {hi, ws->seq_len ? rill_window_dup_key(key, to, UINT32_MAX, hi)
                                      : rill_window_key(key, to, hi)};
    it->segs = rill__segments_iter_new(ws->segs, it->from, to, &blo, &bhi, reverse);
    if (!it->segs) {
        rill_free(it);
        return NULL;
    }
    return it;
}

rill_window_iter_t *rill_window_store_fetch_range(rill_window_store_t *ws,
                                                  const rill_buf_t *key_from,
                                                  const rill_buf_t *key_to, int64_t from,
                                                  int64_t to)
{
    if (!ws || (key_from && !rill__key_ok(*key_from)) || (key_to && !rill__key_ok(*key_to)))
        return NULL;
    size_t flen = key_from ? key_from->len : 0, tlen = key_to ? key_to->len : 0;
    if (flen > SIZE_MAX / 4 || tlen > SIZE_MAX / 4)
        return NULL;
    rill_window_iter_t *it = iter_alloc(flen + 2 * tlen + RILL__TIME_LEN + SEQ_LEN);
    if (!it)
        return NULL;
    uint8_t *bytes = iter_bytes(it), *hi = bytes + flen + tlen;
    it->seq_len = ws->seq_len;
    it->match = MATCH_RANGE;
    it->from = live_from(ws, from);
    it->to = to;
    if (key_from) {
        if (flen)
            memcpy(bytes, key_from->data, flen);
        it->key_from = (rill_buf_t){bytes, flen};
        it->has_from = true;
    }
    rill_buf_t bhi = {hi, 0};
    if (key_to) {
        if (tlen)
            memcpy(bytes + flen, key_to->data, tlen);
        it->key_to = (rill_buf_t){bytes + flen, tlen};
        it->has_to = true;
        /*
         * The layout does not order keys of different lengths: "a" + start can sort after "ab"
         * + start. The smallest bound that still covers every k + start with k <= key_to is the
         * run of 0xff bytes that key_to starts with, then eight 0xff (Kafka Streams'
         * OrderedBytes.upperRange); the filter drops the keys past key_to that it lets in.
         * key_from itself is a tight lower bound: k >= key_from implies k + start > key_from.
         */
        size_t n = 0;
        while (n < tlen && ((const uint8_t *)key_to->data)[n] == 0xff)
            n++;
        memset(hi, 0xff, n + RILL__TIME_LEN + SEQ_LEN);
        bhi.len = n + RILL__TIME_LEN + ws->seq_len;
    }
    int64_t ts_from = it->from, ts_to = to;
    if (key_from && key_to && rill__bytes_cmp(*key_from, *key_to) > 0)
        ts_from = 1, ts_to = 0; /* an empty key range: an empty iterator */
    it->segs = rill__segments_iter_new(ws->segs, ts_from, ts_to, key_from ? &it->key_from : NULL,
                                       key_to ? &bhi : NULL, false);
    if (!it->segs) {
        rill_free(it);
        return NULL;
    }
    return it;
}

rill_window_iter_t *rill_window_store_all(rill_window_store_t *ws)
{
    if (!ws)
        return NULL;
    rill_window_iter_t *it = iter_alloc(0);
    if (!it)
        return NULL;
    it->seq_len = ws->seq_len;
    it->match = MATCH_ALL;
    it->from = rill__segments_min_live(ws->segs);
    it->to = INT64_MAX;
    it->segs = rill__segments_iter_new(ws->segs, it->from, it->to, NULL, NULL, false);
    if (!it->segs) {
        rill_free(it);
        return NULL;
    }
    return it;
}

static bool iter_keeps(const rill_window_iter_t *it, rill_buf_t k, int64_t start)
{
    if (start < it->from || start > it->to)
        return false;
    switch (it->match) {
    case MATCH_KEY:
        return rill__bytes_cmp(k, it->key_from) == 0;
    case MATCH_RANGE:
        return (!it->has_from || rill__bytes_cmp(k, it->key_from) >= 0) &&
               (!it->has_to || rill__bytes_cmp(k, it->key_to) <= 0);
    case MATCH_ALL:
        return true;
    }
    return false;
}

bool rill_window_iter_next(rill_window_iter_t *it, rill_buf_t *key, int64_t *start,
                           rill_buf_t *value)
{
    if (!it)
        return false;
    rill_buf_t layout, v, k;
    int64_t s;
    while (rill__segments_iter_next(it->segs, &layout, &v)) {
        if (layout_split(it->seq_len, layout, &k, &s) != 0 || !iter_keeps(it, k, s))
            continue;
        if (key)
            *key = k;
        if (start)
            *start = s;
        if (value)
            *value = v;
        return true;
    }
    return false;
}

void rill_window_iter_close(rill_window_iter_t *it)
{
    if (!it)
        return;
    rill__segments_iter_close(it->segs);
    rill_free(it);
}
