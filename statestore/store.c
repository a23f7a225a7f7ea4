/*
 * The public key-value store API: argument checks, then a call through the backend's ops
 * (memory.c, rocksdb.cc). Also the pieces every backend shares: the error message, the key
 * order, and rill_store_wipe().
 */
#define _GNU_SOURCE /* nftw's FTW_DEPTH and FTW_PHYS */
#include "statestore_int.h"

#include <errno.h>
#include <ftw.h>
#include <stdio.h>
#include <string.h>

/* A view may be null (data NULL) only when empty; keys may be empty but not null. */
static bool buf_ok(rill_buf_t b)
{
    return b.data || b.len == 0;
}

static bool key_ok(rill_buf_t key)
{
    return key.data != NULL;
}

int rill__store_key_cmp(const void *a, size_t alen, const void *b, size_t blen)
{
    size_t n = alen < blen ? alen : blen;
    int c = n ? memcmp(a, b, n) : 0;
    if (c)
        return c;
    return alen < blen ? -1 : alen > blen;
}

int rill__store_base_init(rill_store_t *store, const rill_store_ops *ops,
                          rill_store_backend_t backend)
{
    store->ops = ops;
    store->backend = backend;
    store->err[0] = '\0';
    return pthread_mutex_init(&store->err_lock, NULL) ? RILL_ENOMEM : 0;
}

void rill__store_base_fini(rill_store_t *store)
{
    pthread_mutex_destroy(&store->err_lock);
}

int rill__store_set_error(rill_store_t *store, int code, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    pthread_mutex_lock(&store->err_lock);
    vsnprintf(store->err, sizeof store->err, fmt, ap);
    pthread_mutex_unlock(&store->err_lock);
    va_end(ap);
    return code;
}

/* ---- Env ---- */

rill_store_env_t *rill_store_env_new(size_t memory_bytes, char *errstr, size_t errstr_size)
{
    char dummy[1];
    if (!errstr || !errstr_size) {
        errstr = dummy;
        errstr_size = sizeof dummy;
    }
    if (memory_bytes == 0) {
        snprintf(errstr, errstr_size, "store env: the memory bound must be more than 0 bytes");
        return NULL;
    }
    return rill__rocksdb_env_new(memory_bytes, errstr, errstr_size);
}

void rill_store_env_destroy(rill_store_env_t *env)
{
    if (env)
        rill__rocksdb_env_destroy(env);
}

size_t rill_store_env_usage(const rill_store_env_t *env)
{
    return env ? rill__rocksdb_env_usage(env) : 0;
}

/* ---- Stores ---- */

rill_store_t *rill_store_open(rill_store_backend_t backend, rill_store_env_t *env, const char *path,
                              char *errstr, size_t errstr_size)
{
    return rill__store_open_hinted(backend, env, path, 0, errstr, errstr_size);
}

rill_store_t *rill__store_open_hinted(rill_store_backend_t backend, rill_store_env_t *env,
                                      const char *path, size_t hint_suffix, char *errstr,
                                      size_t errstr_size)
{
    char dummy[1];
    if (!errstr || !errstr_size) {
        errstr = dummy;
        errstr_size = sizeof dummy;
    }
    /* Here no app offers a choice, so the default is RocksDB, as in Kafka Streams. */
    switch (backend) {
    case RILL_STORE_IN_MEMORY:
        return rill__memory_store_open(errstr, errstr_size);
    case RILL_STORE_DEFAULT:
    case RILL_STORE_ROCKSDB:
        if (!path || !*path) {
            snprintf(errstr, errstr_size, "a RocksDB store needs a directory path");
            return NULL;
        }
        if (!env) {
            snprintf(errstr, errstr_size, "RocksDB store %s: no store env given", path);
            return NULL;
        }
        return rill__rocksdb_store_open(env, path, hint_suffix, errstr, errstr_size);
    }
    snprintf(errstr, errstr_size, "unknown store backend %d", (int)backend);
    return NULL;
}

void rill_store_close(rill_store_t *store)
{
    if (store)
        store->ops->close(store);
}

/* nftw callback: removes one entry; the depth-first walk empties a directory before it. */
static int wipe_one(const char *fpath, const struct stat *sb, int typeflag, struct FTW *ftwbuf)
{
    if (remove(fpath) != 0 && errno != ENOENT)
        return -1;
    return 0;
}

int rill_store_wipe(const char *path)
{
    if (!path || !*path)
        return RILL_EINVAL;
    if (nftw(path, wipe_one, 16, FTW_DEPTH | FTW_PHYS) != 0)
        return errno == ENOENT ? 0 : RILL_EIO;
    return 0;
}

rill_store_backend_t rill_store_backend(const rill_store_t *store)
{
    return store->backend;
}

int rill_store_get(rill_store_t *store, rill_buf_t key, rill_buf_t *value)
{
    if (!store || !value || !key_ok(key))
        return RILL_EINVAL;
    return store->ops->get(store, key, value);
}

int rill_store_get_copy(rill_store_t *store, rill_buf_t key, rill_bytes_t *out)
{
    if (!store || !out || !key_ok(key))
        return RILL_EINVAL;
    out->len = 0;
    return store->ops->get_copy(store, key, out);
}

int rill_store_put(rill_store_t *store, rill_buf_t key, rill_buf_t value)
{
    if (!store || !key_ok(key) || !buf_ok(value))
        return RILL_EINVAL;
    rill_store_write_t w = {key, value};
    return store->ops->write_batch(store, &w, 1);
}

int rill_store_delete(rill_store_t *store, rill_buf_t key)
{
    if (!store || !key_ok(key))
        return RILL_EINVAL;
    rill_store_write_t w = {key, {NULL, 0}};
    return store->ops->write_batch(store, &w, 1);
}

int rill_store_write_batch(rill_store_t *store, const rill_store_write_t *writes, size_t n)
{
    if (!store || (!writes && n))
        return RILL_EINVAL;
    for (size_t i = 0; i < n; i++)
        if (!key_ok(writes[i].key) || !buf_ok(writes[i].value))
            return RILL_EINVAL;
    if (n == 0)
        return 0;
    return store->ops->write_batch(store, writes, n);
}

rill_store_iter_t *rill__store_range(rill_store_t *store, const rill_buf_t *from,
                                     const rill_buf_t *to, bool to_exclusive, bool reverse)
{
    return store->ops->range(store, from, to, to_exclusive, reverse);
}

rill_store_iter_t *rill_store_range(rill_store_t *store, const rill_buf_t *from,
                                    const rill_buf_t *to, bool reverse)
{
    if (!store || (from && !key_ok(*from)) || (to && !key_ok(*to)))
        return NULL;
    return store->ops->range(store, from, to, false, reverse);
}

/*
 * The keys starting with prefix are those in [prefix, succ) where succ is prefix without its
 * trailing 0xFF bytes, its last byte incremented. A prefix of only 0xFF bytes (or an empty one)
 * has no successor: every key >= prefix starts with it, so the range is unbounded above.
 */
rill_store_iter_t *rill_store_prefix(rill_store_t *store, rill_buf_t prefix)
{
    if (!store || !key_ok(prefix))
        return NULL;
    const uint8_t *p = prefix.data;
    size_t n = prefix.len;
    while (n > 0 && p[n - 1] == 0xFF)
        n--;
    if (n == 0)
        return store->ops->range(store, &prefix, NULL, true, false);
    uint8_t small[64];
    uint8_t *succ = n <= sizeof small ? small : rill_malloc(n);
    if (!succ) {
        rill__store_set_error(store, RILL_ENOMEM, "out of memory");
        return NULL;
    }
    memcpy(succ, p, n);
    succ[n - 1]++;
    rill_buf_t to = {succ, n};
    rill_store_iter_t *it = store->ops->range(store, &prefix, &to, true, false);
    if (succ != small)
        rill_free(succ);
    return it;
}

bool rill_store_iter_next(rill_store_iter_t *it, rill_buf_t *key, rill_buf_t *value)
{
    if (!it || !key || !value)
        return false;
    return it->ops->iter_next(it, key, value);
}

void rill_store_iter_close(rill_store_iter_t *it)
{
    if (it)
        it->ops->iter_close(it);
}

int rill_store_flush(rill_store_t *store)
{
    if (!store)
        return RILL_EINVAL;
    return store->ops->flush(store);
}

uint64_t rill_store_approx_count(rill_store_t *store)
{
    return store ? store->ops->approx_count(store) : 0;
}

int rill_store_set_transactional(rill_store_t *store)
{
    return store ? store->ops->set_transactional(store) : RILL_EINVAL;
}

int rill_store_commit(rill_store_t *store, int64_t changelog_offset)
{
    return store ? store->ops->commit(store, changelog_offset) : RILL_EINVAL;
}

int64_t rill_store_committed_offset(rill_store_t *store)
{
    return store ? store->ops->committed_offset(store) : -1;
}

const char *rill_store_error(const rill_store_t *store)
{
    return store ? store->err : "";
}
