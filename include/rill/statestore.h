/*
 * statestore.h — the state layer: ordered key-value stores of bytes, with an in-memory backend
 * and a RocksDB backend, and the window, session and versioned stores built on them.
 *
 * Stores here know nothing of Kafka: changelogs, the record cache and checkpoints belong to the
 * task runtime (processor.h), which wraps these stores. Keys and values are opaque bytes ordered
 * lexicographically (memcmp, then shorter first), as RocksDB's default comparator orders them.
 *
 * Ownership and lifetime: a value or key view a store returns is borrowed until the next call on
 * the same store (or iterator); copy what must live longer.
 *
 * Threads: one thread owns a store (the stream thread of its task): it writes, and it may use the
 * borrowed views. Other threads (interactive queries) may read at the same time, through
 * rill_store_get_copy() and iterators only; close must come after every other call has returned.
 */
#ifndef RILL_STATESTORE_H
#define RILL_STATESTORE_H

#include <rill/rill.h>
#include <rill/serde.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Which implementation holds a store's data. */
typedef enum {
    RILL_STORE_DEFAULT = 0, /* where a choice is offered: the app's default.dsl.store */
    RILL_STORE_ROCKSDB = 1, /* on disk under a directory, memory bounded by the store env */
    RILL_STORE_IN_MEMORY,   /* an ordered map in memory; rebuilt from the changelog on start */
} rill_store_backend_t;

/* Memory shared by every RocksDB store of an app: one block cache and one write-buffer manager
 * charged to it, so the whole app's RocksDB memory stays under one bound. */
typedef struct rill_store_env rill_store_env_t;

/* Returns a new env bounding RocksDB memory to memory_bytes (block cache and memtables
 * together), or NULL with the reason in errstr. */
RILL_EXTERN rill_store_env_t *rill_store_env_new(size_t memory_bytes, char *errstr,
                                                 size_t errstr_size);
/* Frees an env; every store opened with it must be closed first. NULL is fine. */
RILL_EXTERN void rill_store_env_destroy(rill_store_env_t *env);
/* Returns the bytes the env's block cache and memtables hold now. */
RILL_EXTERN size_t rill_store_env_usage(const rill_store_env_t *env);

/* ---- Key-value stores ------------------------------------------------------------------ */

typedef struct rill_store rill_store_t;
typedef struct rill_store_iter rill_store_iter_t;

/*
 * Opens (creating it if needed) a store. RocksDB stores live in directory path (parents are
 * created) and need env; the write-ahead log is off, because the changelog is the log: call
 * rill_store_flush() before recording what the store holds (transactional commits, below, go
 * through the log). In-memory stores ignore path and env
 * (both may be NULL). Returns NULL with the reason (naming path) in errstr.
 */
RILL_EXTERN rill_store_t *rill_store_open(rill_store_backend_t backend, rill_store_env_t *env,
                                          const char *path, char *errstr, size_t errstr_size);
/* Closes a store (RocksDB: flushes memtables first) and frees it. NULL is fine. */
RILL_EXTERN void rill_store_close(rill_store_t *store);
/* Deletes a closed RocksDB store's directory path and everything in it; 0 or RILL_EIO. */
RILL_EXTERN int rill_store_wipe(const char *path);
/* Returns the store's backend. */
RILL_EXTERN rill_store_backend_t rill_store_backend(const rill_store_t *store);

/* Looks key up: 0 with *value set (borrowed until the next call on the store), or RILL_ENOENT.
 * RILL_EIO when the backend fails (see rill_store_error). */
RILL_EXTERN int rill_store_get(rill_store_t *store, rill_buf_t key, rill_buf_t *value);
/* Looks key up and copies its value into out (replacing its contents): 0, RILL_ENOENT,
 * RILL_ENOMEM or RILL_EIO. Safe from any thread. */
RILL_EXTERN int rill_store_get_copy(rill_store_t *store, rill_buf_t key, rill_bytes_t *out);
/* Sets key to value (copied); a null value (data NULL) deletes key. 0, RILL_ENOMEM or RILL_EIO. */
RILL_EXTERN int rill_store_put(rill_store_t *store, rill_buf_t key, rill_buf_t value);
/* Deletes key (no error when absent). 0 or RILL_EIO. */
RILL_EXTERN int rill_store_delete(rill_store_t *store, rill_buf_t key);

/* One write of a batch: value.data NULL deletes. */
typedef struct {
    rill_buf_t key;
    rill_buf_t value;
} rill_store_write_t;

/* Applies n writes atomically (all or none, in order). 0, RILL_ENOMEM or RILL_EIO. */
RILL_EXTERN int rill_store_write_batch(rill_store_t *store, const rill_store_write_t *writes,
                                       size_t n);

/*
 * Returns an iterator over the keys k with from <= k <= to, in ascending order (descending when
 * reverse). from or to NULL means unbounded on that side. The iterator sees a consistent snapshot
 * of the store as of this call. NULL with RILL_ENOMEM/RILL_EIO left in rill_store_error.
 */
RILL_EXTERN rill_store_iter_t *rill_store_range(rill_store_t *store, const rill_buf_t *from,
                                                const rill_buf_t *to, bool reverse);
/* Returns an iterator over the keys that start with prefix, ascending. */
RILL_EXTERN rill_store_iter_t *rill_store_prefix(rill_store_t *store, rill_buf_t prefix);
/* Moves to the next entry: true with key and value set (borrowed until the next call on the
 * iterator), false at the end. */
RILL_EXTERN bool rill_store_iter_next(rill_store_iter_t *it, rill_buf_t *key, rill_buf_t *value);
/* Frees an iterator. NULL is fine. */
RILL_EXTERN void rill_store_iter_close(rill_store_iter_t *it);

/* Makes every write so far durable on disk (RocksDB: flushes memtables; in memory: no-op).
 * 0 or RILL_EIO. */
RILL_EXTERN int rill_store_flush(rill_store_t *store);
/* Returns an estimate of the number of keys (exact for in-memory stores). */
RILL_EXTERN uint64_t rill_store_approx_count(rill_store_t *store);
/* Returns the last backend error message of the store, borrowed ("" when none). */
RILL_EXTERN const char *rill_store_error(const rill_store_t *store);

/*
 * Transactions (exactly-once). After rill_store_set_transactional(), called on the thread that
 * owns the store, RocksDB writes wait in a pending batch until rill_store_commit(): the owner's
 * reads and iterators see them, other threads' reads see committed data only, and closing
 * without a commit discards them. A commit writes them and the changelog offset they reach in
 * one atomic write through RocksDB's write-ahead log, so after a crash the store holds exactly
 * what it held at its last commit, and says which offset that was. Iterators that read pending
 * writes must be closed before a commit. In-memory stores apply writes at once and record no
 * offset (they start empty and are restored in full).
 */
/* Makes the store transactional, owned by the calling thread: 0, RILL_ENOMEM. */
RILL_EXTERN int rill_store_set_transactional(rill_store_t *store);
/* Commits the pending writes and, when changelog_offset >= 0, records it, atomically: 0,
 * RILL_EIO, or RILL_EINVAL while an iterator over pending writes is open. */
RILL_EXTERN int rill_store_commit(rill_store_t *store, int64_t changelog_offset);
/* Returns the changelog offset recorded by the last commit, or -1 when there is none. */
RILL_EXTERN int64_t rill_store_committed_offset(rill_store_t *store);

/* ---- Window stores --------------------------------------------------------------------- */

/*
 * A window store maps (key, window start) to a value, and forgets windows whose start is older
 * than the observed stream time minus retention. It is segmented by time like Kafka Streams'
 * (segment_ms wide; each segment one key-value store, so expiry drops whole segments). Within a
 * segment, entries are in the order of their layout, rill_window_key() (key bytes then start:
 * key then start for keys of one length), which is also the key of the changelog records.
 * Reopen a RocksDB window store with the segment_ms it was made with; its observed time is then
 * the start of its newest segment until a put moves it. Threads: put, get and flush belong to
 * the owner; fetch, fetch_range, all and the iterators may run on any thread (iterators hold
 * their segments, so they stay valid if the owner drops them).
 */
typedef struct rill_window_store rill_window_store_t;
typedef struct rill_window_iter rill_window_iter_t;

/* Opens a window store (RocksDB segments under path/<segment-id>); NULL with errstr set. */
RILL_EXTERN rill_window_store_t *rill_window_store_open(rill_store_backend_t backend,
                                                        rill_store_env_t *env, const char *path,
                                                        int64_t retention_ms, int64_t segment_ms,
                                                        char *errstr, size_t errstr_size);
/* Closes and frees a window store. NULL is fine. */
RILL_EXTERN void rill_window_store_close(rill_window_store_t *ws);
/* Puts value for (key, start); a null value deletes. Advances the store's observed stream time to
 * start if later. Returns 0, or RILL_ENOENT when the window has already expired (nothing is
 * written), or RILL_ENOMEM/RILL_EIO. */
RILL_EXTERN int rill_window_store_put(rill_window_store_t *ws, rill_buf_t key, int64_t start,
                                      rill_buf_t value);
/* Applies n puts whose keys are window layouts (rill_window_key), as n rill_window_store_put()
 * calls in order would, in one write batch per segment: written[i] is false for a write whose
 * window had expired. 0, RILL_EINVAL (a key shorter than a layout), RILL_ENOMEM or RILL_EIO. */
RILL_EXTERN int rill_window_store_write_batch(rill_window_store_t *ws,
                                              const rill_store_write_t *writes, size_t n,
                                              bool *written);
/* Gets the value of (key, start): 0 (value borrowed until the next call), RILL_ENOENT. */
RILL_EXTERN int rill_window_store_get(rill_window_store_t *ws, rill_buf_t key, int64_t start,
                                      rill_buf_t *value);
/* Returns an iterator over the windows of key whose start is in [from, to], by start. */
RILL_EXTERN rill_window_iter_t *rill_window_store_fetch(rill_window_store_t *ws, rill_buf_t key,
                                                        int64_t from, int64_t to, bool reverse);
/* Returns an iterator over every window of keys in [key_from, key_to] (NULL: unbounded) whose
 * start is in [from, to], ordered by segment, then layout. */
RILL_EXTERN rill_window_iter_t *rill_window_store_fetch_range(rill_window_store_t *ws,
                                                              const rill_buf_t *key_from,
                                                              const rill_buf_t *key_to,
                                                              int64_t from, int64_t to);
/* Returns an iterator over every live window. */
RILL_EXTERN rill_window_iter_t *rill_window_store_all(rill_window_store_t *ws);
/* Moves to the next window: true with key, start and value set (borrowed until the next call). */
RILL_EXTERN bool rill_window_iter_next(rill_window_iter_t *it, rill_buf_t *key, int64_t *start,
                                       rill_buf_t *value);
/* Frees an iterator. NULL is fine. */
RILL_EXTERN void rill_window_iter_close(rill_window_iter_t *it);
/* Flushes every segment (see rill_store_flush). */
RILL_EXTERN int rill_window_store_flush(rill_window_store_t *ws);
/* Makes every segment transactional (see rill_store_set_transactional). */
RILL_EXTERN int rill_window_store_set_transactional(rill_window_store_t *ws);
/* Commits every segment with changelog_offset (see rill_store_commit). */
RILL_EXTERN int rill_window_store_commit(rill_window_store_t *ws, int64_t changelog_offset);
/* Returns the smallest offset committed in a segment, -1 when a segment (or every) has none. */
RILL_EXTERN int64_t rill_window_store_committed_offset(rill_window_store_t *ws);
/* Returns the store's observed stream time (largest start put), or INT64_MIN. */
RILL_EXTERN int64_t rill_window_store_observed_time(const rill_window_store_t *ws);

/*
 * Makes ws keep every value put (Kafka Streams' retainDuplicates, for the stream-stream join's
 * stores): from then on its layouts are rill_window_dup_key()'s, (key, start, sequence number),
 * a put adds an entry under the store's next sequence number (from 1 at each open, so a reopened
 * store's puts may meet numbers it holds: give the layouts yourself, through write batches, to
 * number across opens) and replaces or deletes nothing, a write batch writes the layouts it is
 * given, get answers RILL_EINVAL, and iterators give each entry of a window in sequence order.
 * Call it before the first write; 0 or RILL_EINVAL.
 */
RILL_EXTERN int rill_window_store_retain_duplicates(rill_window_store_t *ws);

/* Writes the window-store layout of (key, start) into out (key bytes then start as 8 bytes
 * big-endian with the sign bit flipped, so negative starts sort first); returns the length,
 * key.len + 8. out must hold that much. */
RILL_EXTERN size_t rill_window_key(rill_buf_t key, int64_t start, uint8_t *out);
/* Splits a window-store layout key back: 0, or RILL_EINVAL when shorter than 8 bytes. */
RILL_EXTERN int rill_window_key_split(rill_buf_t layout, rill_buf_t *key, int64_t *start);
/* Writes the layout of a store that retains duplicates: rill_window_key()'s, then seq (4 bytes
 * big-endian); returns the length, key.len + 12. out must hold that much. */
RILL_EXTERN size_t rill_window_dup_key(rill_buf_t key, int64_t start, uint32_t seq, uint8_t *out);
/* Splits such a layout back (any of key, start, seq may be NULL): 0, or RILL_EINVAL when shorter
 * than 12 bytes. */
RILL_EXTERN int rill_window_dup_key_split(rill_buf_t layout, rill_buf_t *key, int64_t *start,
                                          uint32_t *seq);

/* ---- Session stores -------------------------------------------------------------------- */

/*
 * A session store maps (key, session start, session end) to a value, segmented by end time and
 * in layout order within a segment (rill_session_key(): key, end, start; the changelog key too).
 * Sessions whose end is older than observed stream time minus retention are forgotten. Threads
 * as for window stores.
 */
typedef struct rill_session_store rill_session_store_t;
typedef struct rill_session_iter rill_session_iter_t;

/* Opens a session store; NULL with errstr set. */
RILL_EXTERN rill_session_store_t *rill_session_store_open(rill_store_backend_t backend,
                                                          rill_store_env_t *env, const char *path,
                                                          int64_t retention_ms, int64_t segment_ms,
                                                          char *errstr, size_t errstr_size);
/* Closes and frees a session store. NULL is fine. */
RILL_EXTERN void rill_session_store_close(rill_session_store_t *ss);
/* Puts value for the session (key, start, end); a null value removes it. 0, RILL_ENOENT when
 * expired, RILL_ENOMEM/RILL_EIO. */
RILL_EXTERN int rill_session_store_put(rill_session_store_t *ss, rill_buf_t key, int64_t start,
                                       int64_t end, rill_buf_t value);
/* Applies n puts whose keys are session layouts (rill_session_key), as n
 * rill_session_store_put() calls in order would, in one write batch per segment: written[i] is
 * false for a write whose session had expired. 0, RILL_EINVAL, RILL_ENOMEM or RILL_EIO. */
RILL_EXTERN int rill_session_store_write_batch(rill_session_store_t *ss,
                                               const rill_store_write_t *writes, size_t n,
                                               bool *written);
/* Gets one session's value: 0 (borrowed) or RILL_ENOENT. */
RILL_EXTERN int rill_session_store_get(rill_session_store_t *ss, rill_buf_t key, int64_t start,
                                       int64_t end, rill_buf_t *value);
/* Returns an iterator over the sessions of key with end >= earliest_end and start <=
 * latest_start (the sessions a record at those bounds may merge with), by end then start. */
RILL_EXTERN rill_session_iter_t *rill_session_store_find(rill_session_store_t *ss, rill_buf_t key,
                                                         int64_t earliest_end,
                                                         int64_t latest_start);
/* Returns an iterator over every live session. */
RILL_EXTERN rill_session_iter_t *rill_session_store_all(rill_session_store_t *ss);
/* Moves to the next session: true with key, start, end and value set (borrowed). */
RILL_EXTERN bool rill_session_iter_next(rill_session_iter_t *it, rill_buf_t *key, int64_t *start,
                                        int64_t *end, rill_buf_t *value);
/* Frees an iterator. NULL is fine. */
RILL_EXTERN void rill_session_iter_close(rill_session_iter_t *it);
/* Flushes every segment. */
RILL_EXTERN int rill_session_store_flush(rill_session_store_t *ss);
/* Makes every segment transactional (see rill_store_set_transactional). */
RILL_EXTERN int rill_session_store_set_transactional(rill_session_store_t *ss);
/* Commits every segment with changelog_offset (see rill_store_commit). */
RILL_EXTERN int rill_session_store_commit(rill_session_store_t *ss, int64_t changelog_offset);
/* Returns the smallest offset committed in a segment, -1 when a segment (or every) has none. */
RILL_EXTERN int64_t rill_session_store_committed_offset(rill_session_store_t *ss);

/* Writes the session-store layout of (key, start, end) into out (key, end, start; 8 bytes each,
 * big-endian, sign flipped); returns key.len + 16. */
RILL_EXTERN size_t rill_session_key(rill_buf_t key, int64_t start, int64_t end, uint8_t *out);
/* Splits a session-store layout key: 0 or RILL_EINVAL when shorter than 16 bytes. */
RILL_EXTERN int rill_session_key_split(rill_buf_t layout, rill_buf_t *key, int64_t *start,
                                       int64_t *end);

/* ---- Versioned key-value stores ------------------------------------------------------- */

/*
 * A versioned store keeps, for each key, the versions it had over time, as Kafka Streams'
 * VersionedKeyValueStore (KIP-889) does. A put of (key, value, ts) records a version valid from
 * ts until the next version's timestamp (puts may come out of order and land in the middle of
 * the history); a null value (data NULL) is a tombstone: a version that says "no value from ts".
 * A put at the timestamp of an existing version replaces it. The store's observed time is the
 * largest timestamp put; versions that ended before observed - history_retention_ms may be
 * forgotten (whole segments of segment_ms go at once, by the end of their versions), and a put
 * older than that is refused. The newest version of a key is kept whatever its age. The
 * changelog of such a store is the puts themselves (key, value or tombstone, record timestamp
 * ts): replaying them in order rebuilds it. Threads: every call belongs to the owner thread; a
 * value returned is borrowed until the next call on the store. Reopen a RocksDB store with the
 * segment_ms it was made with; its observed time is then the start of its newest segment until
 * a put moves it (a lower bound, which only delays expiry).
 */
typedef struct rill_versioned_store rill_versioned_store_t;

/* The valid_to of a version that no later version ends: the key's latest. */
#define RILL_VERSION_OPEN INT64_MAX

/* Opens a versioned store (RocksDB: the latest values under path/latest, older versions in
 * segments under path/<segment-id>); NULL with the reason in errstr. */
RILL_EXTERN rill_versioned_store_t *
rill_versioned_store_open(rill_store_backend_t backend, rill_store_env_t *env, const char *path,
                          int64_t history_retention_ms, int64_t segment_ms, char *errstr,
                          size_t errstr_size);
/* Closes and frees a versioned store (RocksDB: flushes first). NULL is fine. */
RILL_EXTERN void rill_versioned_store_close(rill_versioned_store_t *vs);
/* Records the version (key, value from ts; a null value is a tombstone) and advances the observed
 * time to ts if later. 0 when applied; RILL_ENOENT, writing nothing, when ts < observed time -
 * history retention (Kafka Streams' PUT_RETURN_CODE_NOT_PUT); RILL_ENOMEM or RILL_EIO. */
RILL_EXTERN int rill_versioned_store_put(rill_versioned_store_t *vs, rill_buf_t key,
                                         rill_buf_t value, int64_t ts);
/* A tombstone put: rill_versioned_store_put(vs, key, null, ts), with the same results. */
RILL_EXTERN int rill_versioned_store_delete(rill_versioned_store_t *vs, rill_buf_t key, int64_t ts);

/* One put of a versioned write batch: value.data NULL is a tombstone. */
typedef struct {
    rill_buf_t key;
    rill_buf_t value;
    int64_t ts;
} rill_versioned_write_t;

/* Applies n puts as n rill_versioned_store_put() calls in order would (a changelog restore):
 * applied[i] is false for a put refused as too old. 0, RILL_EINVAL, RILL_ENOMEM or RILL_EIO
 * (the puts before the failing one stay applied). */
RILL_EXTERN int rill_versioned_store_write_batch(rill_versioned_store_t *vs,
                                                 const rill_versioned_write_t *writes, size_t n,
                                                 bool *applied);
/* Gets the latest version of key: 0 with *value (borrowed) and *valid_from (either may be NULL),
 * or RILL_ENOENT when the key has none or its latest is a tombstone. */
RILL_EXTERN int rill_versioned_store_get(rill_versioned_store_t *vs, rill_buf_t key,
                                         rill_buf_t *value, int64_t *valid_from);
/* Gets the version of key valid at as_of_ts (valid_from <= as_of_ts < valid_to; valid_to is
 * RILL_VERSION_OPEN for the latest): 0 with the out-parameters set (each may be NULL), or
 * RILL_ENOENT when none is (a tombstone, before the first version, or as_of_ts older than
 * observed time - history retention and the latest version later than as_of_ts). */
RILL_EXTERN int rill_versioned_store_get_as_of(rill_versioned_store_t *vs, rill_buf_t key,
                                               int64_t as_of_ts, rill_buf_t *value,
                                               int64_t *valid_from, int64_t *valid_to);
/* Makes every write so far durable (see rill_store_flush). */
RILL_EXTERN int rill_versioned_store_flush(rill_versioned_store_t *vs);
/* Makes the store transactional (see rill_store_set_transactional). */
RILL_EXTERN int rill_versioned_store_set_transactional(rill_versioned_store_t *vs);
/* Commits the history segments, then the latest values, with changelog_offset (see
 * rill_store_commit). */
RILL_EXTERN int rill_versioned_store_commit(rill_versioned_store_t *vs, int64_t changelog_offset);
/* Returns the smallest offset committed in its stores, -1 when one of them has none. */
RILL_EXTERN int64_t rill_versioned_store_committed_offset(rill_versioned_store_t *vs);
/* Returns the store's observed time (largest timestamp put), or INT64_MIN. */
RILL_EXTERN int64_t rill_versioned_store_observed_time(const rill_versioned_store_t *vs);

#ifdef __cplusplus
}
#endif
#endif
