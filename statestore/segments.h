/*
 * segments.h — the segmented store under window, session and versioned stores (private to
 * statestore/).
 *
 * A segmented store splits its entries by a timestamp carried in each layout key (a window's
 * start, a session's end) into segments segment_ms wide; each live segment is one key-value store
 * (RocksDB under path/<segment-id>, or in memory). It tracks the observed stream time (the largest
 * timestamp put) and drops whole segments once they fall out of retention, so expiry costs one
 * directory removal instead of one delete per entry. It knows nothing of the layout beyond the
 * timestamp its callers hand it with each key.
 *
 * Threads: the owner thread (the one that puts) calls everything; other threads may only create,
 * advance and close iterators, and read the observed time. See segments.c for how a segment that
 * the owner drops stays valid under an iterator that still reads it.
 */
#ifndef RILL_STATESTORE_SEGMENTS_H
#define RILL_STATESTORE_SEGMENTS_H

#include <rill/statestore.h>

typedef struct rill__segments rill__segments_t;
typedef struct rill__segments_iter rill__segments_iter_t;

/* Bytes of one encoded timestamp in a layout key. */
#define RILL__TIME_LEN 8

/* Writes t as 8 bytes big-endian with the sign bit flipped, so that the bytes sort as the
 * numbers do (INT64_MIN is all zeros, INT64_MAX all ones). */
void rill__time_encode(int64_t t, uint8_t *out);
/* Reads back what rill__time_encode() wrote. */
int64_t rill__time_decode(const uint8_t *in);
/* Orders two byte strings as the stores do: memcmp, then the shorter first. */
int rill__bytes_cmp(rill_buf_t a, rill_buf_t b);

/* Keys may be empty but not null, as in the key-value stores. */
static inline bool rill__key_ok(rill_buf_t key)
{
    return key.data != NULL;
}
/* A value with data NULL is null (a delete), and then holds no bytes. */
static inline bool rill__value_ok(rill_buf_t value)
{
    return value.data != NULL || value.len == 0;
}

/*
 * Opens a segmented store. what names it in messages ("window store"). A RocksDB one reopens the
 * segments it finds under path (subdirectories named by a segment id) and takes as observed time
 * the start of the newest one, a lower bound of the true value that the changelog restore then
 * raises; segments already out of retention by that time are dropped. hint_suffix is passed to
 * every segment's rill__store_open_hinted(). NULL with errstr set.
 */
rill__segments_t *rill__segments_open(rill_store_backend_t backend, rill_store_env_t *env,
                                      const char *path, int64_t retention_ms, int64_t segment_ms,
                                      size_t hint_suffix, const char *what, char *errstr,
                                      size_t errstr_size);
/* Closes every segment and frees the store; iterators still open keep their segments alive. */
void rill__segments_close(rill__segments_t *segs);

/* Returns the observed stream time, or INT64_MIN before any put. @thread any */
int64_t rill__segments_observed(const rill__segments_t *segs);
/* Returns the smallest timestamp that has not expired: observed - retention (saturated), or
 * INT64_MIN before any put. @thread any */
int64_t rill__segments_min_live(const rill__segments_t *segs);

/*
 * Writes value (null: deletes) under layout, an entry of timestamp ts: advances the observed
 * time to ts if later and drops the segments that this expires. 0; RILL_ENOENT when ts is
 * already expired (nothing is written, the time does not move); RILL_ENOMEM or RILL_EIO (the
 * time does not move either).
 */
int rill__segments_put(rill__segments_t *segs, int64_t ts, rill_buf_t layout, rill_buf_t value);
/* Applies n writes (layout keys, whose timestamps ts_of reads) as n rill__segments_put() calls
 * in order would, with one write batch per segment; written[i] says whether write i was taken
 * (false: too late, expired). 0, RILL_ENOMEM or RILL_EIO; not atomic across segments. */
int rill__segments_write_batch(rill__segments_t *segs, const rill_store_write_t *writes, size_t n,
                               int64_t (*ts_of)(rill_buf_t layout), bool *written);
/* Looks layout (an entry of timestamp ts) up: 0 with *value borrowed until the next call on segs,
 * RILL_ENOENT (also when expired), RILL_EIO. */
int rill__segments_get(rill__segments_t *segs, int64_t ts, rill_buf_t layout, rill_buf_t *value);
/* Flushes every segment: 0 or the first error. */
int rill__segments_flush(rill__segments_t *segs);
/* Makes every segment's store transactional (rill_store_set_transactional), those opened later
 * too: 0 or the first error. */
int rill__segments_set_transactional(rill__segments_t *segs);
/* Commits every segment's store with offset (rill_store_commit): 0 or the first error. A crash
 * between two segments' commits leaves them at different offsets: the store's is the smallest. */
int rill__segments_commit(rill__segments_t *segs, int64_t offset);
/* Returns the smallest committed offset of the segments, or -1 when one has none or there are
 * no segments. */
int64_t rill__segments_committed_offset(rill__segments_t *segs);
/* Returns a buffer of at least n bytes owned by segs (for building layout keys on the owner
 * thread), valid until the next call; NULL when out of memory. */
uint8_t *rill__segments_scratch(rill__segments_t *segs, size_t n);

/* ---- By segment id, for stores that choose the segment themselves (versioned.c) ---- */

/* Returns the id of the segment that holds timestamp ts. */
int64_t rill__segments_id_of(const rill__segments_t *segs, int64_t ts);
/* Moves the observed time to t if later and drops the segments that this expires. */
void rill__segments_advance(rill__segments_t *segs, int64_t t);
/* Sets *id to the smallest live segment id >= *id: true, or false when there is none. */
bool rill__segments_next_id(const rill__segments_t *segs, int64_t *id);
/* Whether the store has no live segment. */
bool rill__segments_empty(const rill__segments_t *segs);
/* Looks layout up in segment id (not filtered by expiry): 0 with *value borrowed until the next
 * call on that segment, RILL_ENOENT (no such segment or entry), RILL_EIO. */
int rill__segments_get_in(rill__segments_t *segs, int64_t id, rill_buf_t layout, rill_buf_t *value);
/* Writes value (null: deletes) under layout in segment id, opening it for a non-null value; the
 * observed time does not move. 0; RILL_ENOENT when segment id has expired; RILL_ENOMEM, RILL_EIO.
 */
int rill__segments_put_in(rill__segments_t *segs, int64_t id, rill_buf_t layout, rill_buf_t value);

/*
 * Returns an iterator over the entries of the segments that cover [ts_from, ts_to] (ascending,
 * or descending when reverse), each segment ranged over [lo, hi] (NULL: unbounded; copied).
 * ts_from > ts_to gives an empty iterator. NULL when out of memory or when the first segment's
 * iterator cannot be made. @thread any
 */
rill__segments_iter_t *rill__segments_iter_new(rill__segments_t *segs, int64_t ts_from,
                                               int64_t ts_to, const rill_buf_t *lo,
                                               const rill_buf_t *hi, bool reverse);
/* Moves to the next entry: true with key and value borrowed until the next call on it. A later
 * segment's iterator that cannot be made ends the iteration early (logged). @thread any */
bool rill__segments_iter_next(rill__segments_iter_t *it, rill_buf_t *key, rill_buf_t *value);
/* Frees an iterator and releases its segments. NULL is fine. @thread any */
void rill__segments_iter_close(rill__segments_iter_t *it);

#endif
