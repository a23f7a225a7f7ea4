/*
 * Session stores (statestore.h): a segmented store (segments.h) whose entries are keyed by the
 * session layout, key bytes then the session's end then its start (8 bytes each, big-endian, sign
 * bit flipped), and segmented by end, as Kafka Streams' SessionKeySchema does. A key's sessions
 * are thus ordered by end then start, and the sessions a new record may merge with (end >=
 * earliest_end, start <= latest_start) are one range per segment from earliest_end's segment on,
 * filtered on start and on the exact key (keys are not length-prefixed: "a" and "a\0x" share a
 * prefix).
 *
 * Expiry: a session whose end is older than observed - retention (observed: the largest end put)
 * is expired; put refuses it, get and the iterators do not return it.
 */
#include "segments.h"

#include <stdio.h>
#include <string.h>

#define SESSION_SUFFIX_LEN (2 * RILL__TIME_LEN)

struct rill_session_store {
    rill__segments_t *segs;
};

struct rill_session_iter {
    rill__segments_iter_t *segs;
    bool match_key;    /* exactly key, start <= latest_start; otherwise every live session */
    rill_buf_t key;    /* a copy, after the struct */
    int64_t min_end;   /* the earliest end kept: earliest_end, or the expiry bound if later */
    int64_t max_start; /* the latest start kept */
};

/* ---- Layout ---- */

size_t rill_session_key(rill_buf_t key, int64_t start, int64_t end, uint8_t *out)
{
    if (key.len)
        memcpy(out, key.data, key.len);
    rill__time_encode(end, out + key.len);
    rill__time_encode(start, out + key.len + RILL__TIME_LEN);
    return key.len + SESSION_SUFFIX_LEN;
}

int rill_session_key_split(rill_buf_t layout, rill_buf_t *key, int64_t *start, int64_t *end)
{
    if (layout.len < SESSION_SUFFIX_LEN || !layout.data)
        return RILL_EINVAL;
    size_t klen = layout.len - SESSION_SUFFIX_LEN;
    const uint8_t *suffix = (const uint8_t *)layout.data + klen;
    if (key)
        *key = (rill_buf_t){layout.data, klen};
    if (end)
        *end = rill__time_decode(suffix);
    if (start)
        *start = rill__time_decode(suffix + RILL__TIME_LEN);
    return 0;
}

/* ---- Store ---- */

rill_session_store_t *rill_session_store_open(rill_store_backend_t backend, rill_store_env_t *env,
                                              const char *path, int64_t retention_ms,
                                              int64_t segment_ms, char *errstr, size_t errstr_size)
{
    char dummy[1];
    if (!errstr) {
        errstr = dummy;
        errstr_size = sizeof dummy;
    }
    rill_session_store_t *ss = rill_malloc(sizeof *ss);
    if (!ss) {
        snprintf(errstr, errstr_size, "session store: out of memory");
        return NULL;
    }
    /* A key's new session ends at or after its last: an insert beside its key's last one. */
    ss->segs = rill__segments_open(backend, env, path, retention_ms, segment_ms, SESSION_SUFFIX_LEN,
                                   "session store", errstr, errstr_size);
    if (!ss->segs) {
        rill_free(ss);
        return NULL;
    }
    return ss;
}

void rill_session_store_close(rill_session_store_t *ss)
{
    if (!ss)
        return;
    rill__segments_close(ss->segs);
    rill_free(ss);
}

/* Builds the layout of (key, start, end) in the store's scratch buffer; NULL when out of
 * memory. */
static uint8_t *layout_of(rill_session_store_t *ss, rill_buf_t key, int64_t start, int64_t end,
                          size_t *len)
{
    uint8_t *layout = rill__segments_scratch(ss->segs, key.len + SESSION_SUFFIX_LEN);
    if (layout)
        *len = rill_session_key(key, start, end, layout);
    return layout;
}

int rill_session_store_put(rill_session_store_t *ss, rill_buf_t key, int64_t start, int64_t end,
                           rill_buf_t value)
{
    if (!ss || !rill__key_ok(key) || !rill__value_ok(value) || end < start ||
        key.len > SIZE_MAX - SESSION_SUFFIX_LEN)
        return RILL_EINVAL;
    size_t n;
    uint8_t *layout = layout_of(ss, key, start, end, &n);
    if (!layout)
        return RILL_ENOMEM;
    return rill__segments_put(ss->segs, end, (rill_buf_t){layout, n}, value);
}

/* A session layout's timestamp: its end, which segments it. */
static int64_t session_ts(rill_buf_t layout)
{
    return rill__time_decode((const uint8_t *)layout.data + layout.len - SESSION_SUFFIX_LEN);
}

int rill_session_store_write_batch(rill_session_store_t *ss, const rill_store_write_t *writes,
                                   size_t n, bool *written)
{
    if (!ss || (n && (!writes || !written)))
        return RILL_EINVAL;
    for (size_t i = 0; i < n; i++) {
        int64_t start, end;
        if (!writes[i].key.data || !rill__value_ok(writes[i].value) ||
            rill_session_key_split(writes[i].key, NULL, &start, &end) || end < start)
            return RILL_EINVAL;
    }
    return rill__segments_write_batch(ss->segs, writes, n, session_ts, written);
}

int rill_session_store_get(rill_session_store_t *ss, rill_buf_t key, int64_t start, int64_t end,
                           rill_buf_t *value)
{
    if (!ss || !rill__key_ok(key) || !value || key.len > SIZE_MAX - SESSION_SUFFIX_LEN)
        return RILL_EINVAL;
    size_t n;
    uint8_t *layout = layout_of(ss, key, start, end, &n);
    if (!layout)
        return RILL_ENOMEM;
    return rill__segments_get(ss->segs, end, (rill_buf_t){layout, n}, value);
}

int rill_session_store_flush(rill_session_store_t *ss)
{
    if (!ss)
        return RILL_EINVAL;
    return rill__segments_flush(ss->segs);
}

int rill_session_store_set_transactional(rill_session_store_t *ss)
{
    return ss ? rill__segments_set_transactional(ss->segs) : RILL_EINVAL;
}

int rill_session_store_commit(rill_session_store_t *ss, int64_t changelog_offset)
{
    return ss ? rill__segments_commit(ss->segs, changelog_offset) : RILL_EINVAL;
}

int64_t rill_session_store_committed_offset(rill_session_store_t *ss)
{
    return ss ? rill__segments_committed_offset(ss->segs) : -1;
}

/* ---- Iterators ---- */

rill_session_iter_t *rill_session_store_find(rill_session_store_t *ss, rill_buf_t key,
                                             int64_t earliest_end, int64_t latest_start)
{
    if (!ss || !rill__key_ok(key) || key.len > (SIZE_MAX - 2 * SESSION_SUFFIX_LEN) / 3)
        return NULL;
    size_t blen = key.len + SESSION_SUFFIX_LEN;
    rill_session_iter_t *it = rill_calloc(1, sizeof *it + key.len + 2 * blen);
    if (!it)
        return NULL;
    uint8_t *bytes = (uint8_t *)(it + 1), *lo = bytes + key.len, *hi = lo + blen;
    if (key.len)
        memcpy(bytes, key.data, key.len);
    int64_t min_live = rill__segments_min_live(ss->segs);
    it->match_key = true;
    it->key = (rill_buf_t){bytes, key.len};
    it->min_end = earliest_end > min_live ? earliest_end : min_live;
    it->max_start = latest_start;
    /* A session of any length may reach back to latest_start, so the end is unbounded above;
     * start <= latest_start is a filter. Every entry of key's length in the range is key's. */
    rill_buf_t blo = {lo, rill_session_key(key, INT64_MIN, it->min_end, lo)};
    rill_buf_t bhi = {hi, rill_session_key(key, INT64_MAX, INT64_MAX, hi)};
    it->segs = rill__segments_iter_new(ss->segs, it->min_end, INT64_MAX, &blo, &bhi, false);
    if (!it->segs) {
        rill_free(it);
        return NULL;
    }
    return it;
}

rill_session_iter_t *rill_session_store_all(rill_session_store_t *ss)
{
    if (!ss)
        return NULL;
    rill_session_iter_t *it = rill_calloc(1, sizeof *it);
    if (!it)
        return NULL;
    it->min_end = rill__segments_min_live(ss->segs);
    it->max_start = INT64_MAX;
    it->segs = rill__segments_iter_new(ss->segs, it->min_end, INT64_MAX, NULL, NULL, false);
    if (!it->segs) {
        rill_free(it);
        return NULL;
    }
    return it;
}

bool rill_session_iter_next(rill_session_iter_t *it, rill_buf_t *key, int64_t *start, int64_t *end,
                            rill_buf_t *value)
{
    if (!it)
        return false;
    rill_buf_t layout, v, k;
    int64_t s, e;
    while (rill__segments_iter_next(it->segs, &layout, &v)) {
        if (rill_session_key_split(layout, &k, &s, &e) != 0 || e < it->min_end ||
            s > it->max_start || (it->match_key && rill__bytes_cmp(k, it->key) != 0))
            continue;
        if (key)
            *key = k;
        if (start)
            *start = s;
        if (end)
            *end = e;
        if (value)
            *value = v;
        return true;
    }
    return false;
}

void rill_session_iter_close(rill_session_iter_t *it)
{
    if (!it)
        return;
    rill__segments_iter_close(it->segs);
    rill_free(it);
}
