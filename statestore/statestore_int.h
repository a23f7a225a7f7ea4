/*
 * Private declarations of the state layer: the base of every key-value store and iterator, the
 * vtable (rill_store_ops) through which store.c reaches a backend, and the backends' entry points.
 * Never included outside statestore/. Included by C++ (rocksdb.cc), hence the extern "C".
 *
 * A backend's store struct begins with a rill_store_t and its iterator struct with a
 * rill_store_iter_t, so store.c can pass them around as the public types. store.c validates
 * arguments; the ops may assume them valid (keys are never null views).
 */
#ifndef RILL_STATESTORE_INT_H
#define RILL_STATESTORE_INT_H

#include <rill/statestore.h>

#include <pthread.h>
#include <stdarg.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct rill_store_ops rill_store_ops;

struct rill_store {
    const rill_store_ops *ops;
    rill_store_backend_t backend;
    /* The last error message. Reader threads may fail too (get_copy, iterators), so it is written
     * under err_lock; rill_store_error() hands out the buffer itself. */
    pthread_mutex_t err_lock;
    char err[512];
};

struct rill_store_iter {
    const rill_store_ops *ops;
};

/* What a backend implements. Writes, get and flush come from the owner thread; get_copy, range,
 * approx_count and the iterator functions from any thread. */
struct rill_store_ops {
    /* Flushes (RocksDB) and frees the store. Iterators may still be open: they stay usable,
     * and a RocksDB store's DB closes with the last of them. */
    void (*close)(rill_store_t *store);
    int (*get)(rill_store_t *store, rill_buf_t key, rill_buf_t *value);
    /* out is emptied (len 0) by the caller. */
    int (*get_copy)(rill_store_t *store, rill_buf_t key, rill_bytes_t *out);
    /* put and delete are batches of one. */
    int (*write_batch)(rill_store_t *store, const rill_store_write_t *writes, size_t n);
    /* Keys from <= k <= to (k < to when to_exclusive); NULL bounds are open. */
    rill_store_iter_t *(*range)(rill_store_t *store, const rill_buf_t *from, const rill_buf_t *to,
                                bool to_exclusive, bool reverse);
    bool (*iter_next)(rill_store_iter_t *it, rill_buf_t *key, rill_buf_t *value);
    void (*iter_close)(rill_store_iter_t *it);
    int (*flush)(rill_store_t *store);
    uint64_t (*approx_count)(rill_store_t *store);
    /* See rill_store_set_transactional, rill_store_commit, rill_store_committed_offset. */
    int (*set_transactional)(rill_store_t *store);
    int (*commit)(rill_store_t *store, int64_t offset);
    int64_t (*committed_offset)(rill_store_t *store);
};

/* Initializes the base of a store a backend has just allocated. 0 or RILL_ENOMEM. */
int rill__store_base_init(rill_store_t *store, const rill_store_ops *ops,
                          rill_store_backend_t backend);
/* Releases what rill__store_base_init set up (not the store's memory). */
void rill__store_base_fini(rill_store_t *store);
/* Records the store's last error message (printf-style); returns code, for tail calls. */
int rill__store_set_error(rill_store_t *store, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/*
 * Like rill_store_range(), with to exclusive when to_exclusive: window and session stores
 * (and rill_store_prefix) scan half-open ranges.
 */
rill_store_iter_t *rill__store_range(rill_store_t *store, const rill_buf_t *from,
                                     const rill_buf_t *to, bool to_exclusive, bool reverse);

/* Orders keys as RocksDB's BytewiseComparator: memcmp, then the shorter first. */
int rill__store_key_cmp(const void *a, size_t alen, const void *b, size_t blen);

/* The in-memory backend (memory.c). */
rill_store_t *rill__memory_store_open(char *errstr, size_t errstr_size);

/* Opens a store as rill_store_open(); a RocksDB one's memtables keep an insert hint per key
 * prefix, the key without its last hint_suffix bytes (0: none). For layouts of key bytes then a
 * time that grows per key (window and session stores), where an insert lands beside the last
 * one of its key. */
rill_store_t *rill__store_open_hinted(rill_store_backend_t backend, rill_store_env_t *env,
                                      const char *path, size_t hint_suffix, char *errstr,
                                      size_t errstr_size);

/* The RocksDB backend (rocksdb.cc); hint_suffix as rill__store_open_hinted(). */
rill_store_t *rill__rocksdb_store_open(rill_store_env_t *env, const char *path, size_t hint_suffix,
                                       char *errstr, size_t errstr_size);
rill_store_env_t *rill__rocksdb_env_new(size_t memory_bytes, char *errstr, size_t errstr_size);
void rill__rocksdb_env_destroy(rill_store_env_t *env);
size_t rill__rocksdb_env_usage(const rill_store_env_t *env);

#ifdef __cplusplus
}
#endif
#endif
