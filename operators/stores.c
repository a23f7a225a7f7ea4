/*
 * A task's state stores: each wraps a store of the state layer with the task's record cache and
 * the store's changelog, and the task's checkpoint file records how far each changelog is in
 * the stores on disk.
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
 *
 * A window store that retains duplicates (a stream-stream join's) keys its entries and changelog
 * records by (key, start, sequence number) and writes blind, never reading first. Its changelog
 * may also hold records of the layout Rill used before, one value list per (key, start); restore
 * reads both (restore_duplicates()).
 *
 * Under exactly-once the stores are transactional (rill_store_set_transactional): what reaches
 * them waits in their pending batches until the driver's transaction has committed, and then
 * rill__task_commit_stores() writes it with the changelog offsets it reaches. The offsets live in
 * the stores (no checkpoint file), so a task that crashed restores only what its changelogs hold
 * past its stores' last commit.
 */
#include "operators_int.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

static const char *type_name(rill_store_type_t t)
{
    return t == RILL_STORE_KV          ? "key-value"
           : t == RILL_STORE_WINDOW    ? "window"
           : t == RILL_STORE_VERSIONED ? "versioned"
                                       : "session";
}

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
static int reserve(rill_bytes_t *b, size_t n)
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

/* The checkpoint's entries for the task's changelogs (its own partition only). */
static void checkpoint_entry(void *ud, const char *topic, int32_t partition, int64_t offset)
{
    rill_task_t *task = ud;
    for (size_t i = 0; i < task->nstores; i++)
        if (partition == task->partition && strcmp(task->stores[i].changelog, topic) == 0)
            task->stores[i].checkpoint = offset;
}

static bool persistent(const task_store_t *ts)
{
    return ts->backend == RILL_STORE_ROCKSDB;
}

int rill__task_checkpoint(rill_task_t *task, const int64_t *end_offsets)
{
    if (!task->dir)
        return 0;
    int n = 0;
    for (size_t c = 0; c < task->nchangelogs; c++) {
        task_store_t *ts = &task->stores[task->changelogs[c]];
        if (!persistent(ts))
            continue;
        int rc = ts->kv       ? rill_store_flush(ts->kv)
                 : ts->ws     ? rill_window_store_flush(ts->ws)
                 : ts->vstore ? rill_versioned_store_flush(ts->vstore)
                              : rill_session_store_flush(ts->ss);
        if (rc) {
            snprintf(task->error, sizeof task->error, "task %s: cannot flush store '%s': %s",
                     task->id, ts->def->spec.name, rill_strerror(rc));
            return rc;
        }
        if (end_offsets[c] >= 0)
            n++;
    }
    char path[1100], line[400];
    snprintf(path, sizeof path, "%s/.checkpoint", task->dir);
    rill_bytes_t lines = {0};
    int rc = 0;
    for (size_t c = 0; c < task->nchangelogs && !rc; c++) {
        task_store_t *ts = &task->stores[task->changelogs[c]];
        if (persistent(ts) && end_offsets[c] >= 0) {
            int len = snprintf(line, sizeof line, "%s %d %lld\n", ts->changelog, task->partition,
                               (long long)end_offsets[c]);
            rc = rill_bytes_append(&lines, line, (size_t)len);
        }
    }
    char why[800] = "out of memory";
    if (!rc)
        rc = rill__checkpoint_write(path, n, &lines, why, sizeof why);
    rill_bytes_free(&lines);
    if (rc) {
        snprintf(task->error, sizeof task->error, "task %s: %s", task->id, why);
        return RILL_EIO;
    }
    for (size_t c = 0; c < task->nchangelogs; c++) {
        task_store_t *ts = &task->stores[task->changelogs[c]];
        if (persistent(ts) && end_offsets[c] >= 0)
            ts->checkpoint = end_offsets[c];
    }
    task->writes_since_checkpoint = 0;
    return 0;
}

uint64_t rill__task_changelog_writes(const rill_task_t *task)
{
    return task->writes_since_checkpoint;
}

/* ---- opening and closing ---- */

static int64_t committed_offset(task_store_t *ts)
{
    return ts->kv       ? rill_store_committed_offset(ts->kv)
           : ts->ws     ? rill_window_store_committed_offset(ts->ws)
           : ts->vstore ? rill_versioned_store_committed_offset(ts->vstore)
                        : rill_session_store_committed_offset(ts->ss);
}

static int commit_store(task_store_t *ts, int64_t offset)
{
    return ts->kv       ? rill_store_commit(ts->kv, offset)
           : ts->ws     ? rill_window_store_commit(ts->ws, offset)
           : ts->vstore ? rill_versioned_store_commit(ts->vstore, offset)
                        : rill_session_store_commit(ts->ss, offset);
}

static const char *store_error(task_store_t *ts)
{
    /* Window and session stores keep no message of their own. */
    return ts->kv ? rill_store_error(ts->kv) : "see the log";
}

static void close_one(task_store_t *ts)
{
    if (!ts->global)
        rill_store_close(ts->kv);
    rill_window_store_close(ts->ws);
    rill_session_store_close(ts->ss);
    rill_versioned_store_close(ts->vstore);
    rill__cache_free(ts->cache);
    rill__cache_free(ts->spare);
    ts->kv = NULL;
    ts->ws = NULL;
    ts->ss = NULL;
    ts->vstore = NULL;
    ts->cache = NULL;
    ts->spare = NULL;
    ts->memo_state = RILL__OLD_UNKNOWN;
}

static int open_one_at(rill_task_t *task, task_store_t *ts, char *errstr, size_t errstr_size);

/* Opens a store. Under exactly-once a RocksDB store says itself which offset of its changelog
 * it holds; one that cannot say (never committed, or written without exactly-once) is wiped and
 * restored from the start. */
static int open_one(rill_task_t *task, task_store_t *ts, char *errstr, size_t errstr_size)
{
    if (!task->env.exactly_once || !persistent(ts) || !ts->changelog[0] || ts->checkpoint < 0)
        return open_one_at(task, ts, errstr, errstr_size);
    int rc = open_one_at(task, ts, errstr, errstr_size);
    if (rc)
        return rc;
    ts->checkpoint = committed_offset(ts);
    if (ts->checkpoint >= 0)
        return 0;
    rill_log(RILL_LOG_INFO, "state",
             "task %s: store '%s' records no committed changelog offset: it is restored from the "
             "start of %s",
             task->id, ts->def->spec.name, ts->changelog);
    close_one(ts);
    return open_one_at(task, ts, errstr, errstr_size);
}

/*
 * A window or session store's segments are named by id = time / segment_ms, so they mean nothing
 * under another segment_ms (a changed spec, or a store written before the default narrowed): the
 * file "segment-ms" in the store's directory records the width its segments were made with. A
 * store without it, or made with another width, is wiped and restored from the start of its
 * changelog (as a store without a checkpoint is). Returns 0, or RILL_EIO (errstr set).
 */
static int check_segment_width(rill_task_t *task, task_store_t *ts, const char *path, char *errstr,
                               size_t errstr_size)
{
    const rill_store_spec_t *spec = &ts->def->spec;
    char marker[1200];
    snprintf(marker, sizeof marker, "%s/segment-ms", path);
    long long width = -1;
    /* A store that retains duplicates says so after the width: one written before its layout
     * had sequence numbers (or for another spec) holds entries this one cannot read. */
    char layout[16] = "";
    const char *want = spec->retain_duplicates ? "duplicates" : "";
    FILE *f = fopen(marker, "r");
    if (f) {
        if (fscanf(f, "%lld", &width) != 1)
            width = -1;
        else if (fscanf(f, "%15s", layout) != 1)
            layout[0] = '\0';
        fclose(f);
    }
    if (width == spec->segment_ms && strcmp(layout, want) == 0)
        return 0;
    struct stat st;
    if (stat(path, &st) == 0) {
        char was[60] = "an unrecorded width";
        if (width >= 0)
            snprintf(was, sizeof was, "%lld ms%s%s", width, layout[0] ? " " : "", layout);
        rill_log(RILL_LOG_INFO, "state",
                 "task %s: store '%s' holds segments of %s, not %lld ms%s%s: it is restored from "
                 "the start of %s",
                 task->id, spec->name, was, (long long)spec->segment_ms, want[0] ? " " : "", want,
                 ts->changelog[0] ? ts->changelog : "nothing (it has no changelog)");
        ts->checkpoint = -1;
        if (rill_store_wipe(path)) {
            snprintf(errstr, errstr_size, "task %s: cannot wipe store directory %s", task->id,
                     path);
            return RILL_EIO;
        }
    }
    bool ok = rill__make_dirs(path) == 0 && (f = fopen(marker, "w")) != NULL;
    if (ok) {
        ok = fprintf(f, "%lld%s%s\n", (long long)spec->segment_ms, want[0] ? " " : "", want) > 0;
        ok &= fclose(f) == 0;
    }
    if (!ok) {
        snprintf(errstr, errstr_size, "task %s: cannot write %.600s", task->id, marker);
        return RILL_EIO;
    }
    return 0;
}

static int open_one_at(rill_task_t *task, task_store_t *ts, char *errstr, size_t errstr_size)
{
    const rill_store_spec_t *spec = &ts->def->spec;
    char path[1100] = "";
    if (persistent(ts)) {
        snprintf(path, sizeof path, "%s/%s", task->dir, spec->name);
        /* Without a checkpoint the changelog is replayed from its start: what the store holds
         * may include keys the changelog has since deleted, so it starts empty. */
        if (ts->changelog[0] && ts->checkpoint < 0 && rill_store_wipe(path)) {
            snprintf(errstr, errstr_size, "task %s: cannot wipe store directory %s", task->id,
                     path);
            return RILL_EIO;
        }
        if (spec->type != RILL_STORE_KV && check_segment_width(task, ts, path, errstr, errstr_size))
            return RILL_EIO;
    }
    char why[512] = "";
    if (spec->type == RILL_STORE_KV)
        ts->kv = rill_store_open(ts->backend, task->env.store_env, path, why, sizeof why);
    else if (spec->type == RILL_STORE_VERSIONED)
        ts->vstore =
            rill_versioned_store_open(ts->backend, task->env.store_env, path, spec->retention_ms,
                                      spec->segment_ms, why, sizeof why);
    else if (spec->type == RILL_STORE_WINDOW) {
        ts->ws = rill_window_store_open(ts->backend, task->env.store_env, path, spec->retention_ms,
                                        spec->segment_ms, why, sizeof why);
        if (ts->ws && spec->retain_duplicates)
            rill_window_store_retain_duplicates(ts->ws);
    } else
        ts->ss = rill_session_store_open(ts->backend, task->env.store_env, path, spec->retention_ms,
                                         spec->segment_ms, why, sizeof why);
    if (!ts->kv && !ts->ws && !ts->ss && !ts->vstore) {
        snprintf(errstr, errstr_size, "task %s: cannot open %s store '%s': %s", task->id,
                 type_name(spec->type), spec->name, why[0] ? why : "out of memory");
        return RILL_EIO;
    }
    if (task->env.exactly_once) {
        int rc = ts->kv       ? rill_store_set_transactional(ts->kv)
                 : ts->ws     ? rill_window_store_set_transactional(ts->ws)
                 : ts->vstore ? rill_versioned_store_set_transactional(ts->vstore)
                              : rill_session_store_set_transactional(ts->ss);
        if (rc) {
            snprintf(errstr, errstr_size, "task %s: cannot make store '%s' transactional: %s",
                     task->id, spec->name, rill_strerror(rc));
            return rc;
        }
    }
    /* A versioned store never caches (nor do Kafka Streams'): folding puts would lose versions. */
    if (!spec->no_caching && task->env.cache_max_bytes > 0 && !ts->vstore) {
        ts->cache = rill__cache_new();
        ts->spare = rill__cache_new();
        if (!ts->cache || !ts->spare) {
            snprintf(errstr, errstr_size, "task %s: cannot make the record cache of store '%s'",
                     task->id, spec->name);
            return RILL_ENOMEM;
        }
    }
    return 0;
}

int rill__task_open_stores(rill_task_t *task, char *errstr, size_t errstr_size)
{
    const rill_topology_t *topo = task->topo;
    size_t n = 0, nglobal = 0;
    for (size_t k = 0; k < topo->nstores; k++) {
        n += topo->stores[k].subtopology == task->st && !topo->stores[k].global;
        nglobal += topo->stores[k].global && task->env.global;
    }
    if (n + nglobal == 0)
        return 0;
    task->stores = rill_calloc(n + nglobal, sizeof *task->stores);
    task->changelogs = rill_calloc(n + 1, sizeof *task->changelogs);
    if (!task->stores || !task->changelogs) {
        snprintf(errstr, errstr_size, "out of memory opening the stores of task %s", task->id);
        return RILL_ENOMEM;
    }
    bool any_persistent = false;
    for (size_t k = 0; k < topo->nstores; k++) {
        if (topo->stores[k].subtopology != task->st)
            continue;
        task_store_t *ts = &task->stores[task->nstores++];
        ts->def = &topo->stores[k];
        ts->task = task;
        ts->checkpoint = -1;
        ts->backend =
            ts->def->spec.backend ? ts->def->spec.backend : task->env.default_store_backend;
        if (ts->backend == RILL_STORE_DEFAULT)
            ts->backend = RILL_STORE_ROCKSDB;
        if (!ts->def->spec.no_logging) {
            char suffix[280];
            snprintf(suffix, sizeof suffix, "%s-changelog", ts->def->spec.name);
            rill__internal_topic(task->env.application_id, suffix, ts->changelog,
                                 sizeof ts->changelog);
            task->changelogs[task->nchangelogs++] = task->nstores - 1;
        }
        any_persistent |= persistent(ts);
    }
    if (any_persistent) {
        if (!task->env.state_dir || !task->env.store_env) {
            snprintf(errstr, errstr_size,
                     "task %s has RocksDB stores but its driver gave no state directory", task->id);
            return RILL_EINVAL;
        }
        size_t len = strlen(task->env.state_dir) + strlen(task->id) + 2;
        task->dir = rill_malloc(len);
        if (!task->dir) {
            snprintf(errstr, errstr_size, "out of memory opening the stores of task %s", task->id);
            return RILL_ENOMEM;
        }
        snprintf(task->dir, len, "%s/%s", task->env.state_dir, task->id);
        if (rill__make_dirs(task->dir)) {
            snprintf(errstr, errstr_size, "task %s: cannot create state directory %s: %s", task->id,
                     task->dir, strerror(errno));
            return RILL_EIO;
        }
        char path[1100], why[600] = "";
        /* One owner at a time: another stream thread of this instance may still have the task
         * open (it closes it when it handles its revocation). Nothing here may read its
         * checkpoint or wipe its stores before it has: the caller retries on RILL_EBUSY. A
         * flock conflicts between two descriptors of one process, unlike RocksDB's own lock,
         * which only the open of the database would find, after the wipe. */
        int lrc = rill__dir_lock(task->dir, &task->dir_lock, path, sizeof path);
        if (lrc) {
            snprintf(errstr, errstr_size, "task %s: %s %s: %s", task->id,
                     lrc == RILL_EBUSY
                         ? "its state directory is in use (by another stream thread?):"
                         : "cannot lock its state directory",
                     path, strerror(errno));
            return lrc;
        }
        snprintf(path, sizeof path, "%s/.checkpoint", task->dir);
        int r = rill__checkpoint_read(path, checkpoint_entry, task, why, sizeof why);
        if (r < 0) {
            rill_log(RILL_LOG_WARN, "state",
                     "task %s: the checkpoint is corrupt (%s): every store is restored from the "
                     "start of its changelog",
                     task->id, why);
            for (size_t i = 0; i < task->nstores; i++)
                task->stores[i].checkpoint = -1;
        } else if (r == 0 && task->nchangelogs > 0 && !task->env.exactly_once) {
            rill_log(RILL_LOG_INFO, "state",
                     "task %s: no checkpoint in %s: its stores are restored from the start of "
                     "their changelogs",
                     task->id, task->dir);
        }
        /* Under exactly-once the stores record their offsets themselves; a checkpoint file
         * left by at-least-once says nothing about them. Opening them decides. */
        if (task->env.exactly_once) {
            if (r == 1 && unlink(path) != 0)
                rill_log(RILL_LOG_WARN, "state", "task %s: cannot remove %s: %s", task->id, path,
                         strerror(errno));
            for (size_t i = 0; i < task->nstores; i++)
                /* 0: ask the store (open_one) */
                task->stores[i].checkpoint = persistent(&task->stores[i]) ? 0 : -1;
        }
    }
    size_t cached = 0;
    for (size_t i = 0; i < task->nstores; i++) {
        int rc = open_one(task, &task->stores[i], errstr, errstr_size);
        if (rc)
            return rc;
        cached += task->stores[i].cache != NULL;
    }
    /* The budget is the task's; each cached store gets an equal share of it. */
    for (size_t i = 0; i < task->nstores; i++)
        task->stores[i].cache_share = task->env.cache_max_bytes / (cached ? cached : 1);
    /* Handles on the app's global stores, last: nothing above (checkpoints, opening, caches)
     * concerns them. */
    for (size_t k = 0; nglobal && k < topo->nstores; k++)
        if (topo->stores[k].global)
            task->stores[task->nstores++] = (task_store_t){
                .def = &topo->stores[k],
                .task = task,
                .backend = RILL_STORE_DEFAULT,
                .checkpoint = -1,
                .kv = rill__global_store(task->env.global, topo->stores[k].spec.name),
                .global = true,
            };
    return 0;
}

int rill__task_reset_store(rill_task_t *task, size_t i, char *errstr, size_t errstr_size)
{
    if (i >= task->nchangelogs)
        return RILL_EINVAL;
    task_store_t *ts = &task->stores[task->changelogs[i]];
    close_one(ts);
    ts->checkpoint = -1; /* open_one wipes what is on disk */
    return open_one(task, ts, errstr, errstr_size);
}

void rill__task_close_stores(rill_task_t *task)
{
    for (size_t i = 0; task->stores && i < task->nstores; i++) {
        task_store_t *ts = &task->stores[i];
        close_one(ts);
        rill_bytes_free(&ts->scratch);
        rill_bytes_free(&ts->keybuf);
        rill_bytes_free(&ts->flushbuf);
        rill_bytes_free(&ts->memo);
        rill_free(ts->items);
        rill_free(ts->writes);
        rill_free(ts->written);
    }
    rill_free(task->stores);
    rill_free(task->changelogs);
    rill_free(task->dir);
    if (task->dir_lock >= 0)
        close(task->dir_lock); /* releases the flock, after every store has closed */
    task->dir_lock = -1;
    rill_free(task->restore_writes);
    task->restore_writes = NULL;
    task->stores = NULL;
    task->nstores = 0;
}

/* ---- changelog accessors ---- */

size_t rill__task_changelog_count(const rill_task_t *task)
{
    return task->nchangelogs;
}

const char *rill__task_changelog_topic(const rill_task_t *task, size_t i)
{
    return i < task->nchangelogs ? task->stores[task->changelogs[i]].changelog : NULL;
}

const char *rill__task_changelog_store(const rill_task_t *task, size_t i)
{
    return i < task->nchangelogs ? task->stores[task->changelogs[i]].def->spec.name : NULL;
}

int64_t rill__task_changelog_offset(const rill_task_t *task, size_t i)
{
    return i < task->nchangelogs ? task->stores[task->changelogs[i]].checkpoint : -1;
}

/* Writes (layout key, value or null at ts) into the store itself, bypassing cache and log.
 * Window and session stores return RILL_ENOENT for an expired window. */
static int store_write(task_store_t *ts, rill_buf_t layout, rill_buf_t value, int64_t ts_ms)
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

/* The sequence numbers a restore gives the values of a record of the former layout: the top
 * bit set, which the sequence numbers of puts never have, so that they meet none of them. */
#define FORMER_SEQ UINT32_C(0x80000000)

/*
 * Restores a changelog record of a store that retains duplicates. Rill writes its records keyed
 * (key, start, sequence number) with the plain value; before, it wrote one record per (key,
 * start), a value list (each value after its 4-byte big-endian length) that grew with each
 * duplicate. A changelog may hold both. The record's timestamp is the window start in both
 * layouts (a join stores each record at its own time), which tells them apart: the 8 bytes
 * before the last 4 encode it in the new layout, the last 8 in the former. Both at once would
 * take a sequence number with its top bit set, which puts never give, when start >= 0. A
 * former record's values become entries numbered FORMER_SEQ + their index: a later record of
 * the same window (its list, longer) writes them again, and adds the new ones. The task's puts
 * go on numbering after the last record restored, so they meet no number the store holds.
 */
static int restore_duplicates(task_store_t *ts, const rill_record_t *raw)
{
    uint8_t enc[8];
    rill_buf_t key = raw->key;
    rill_window_key((rill_buf_t){NULL, 0}, raw->timestamp, enc);
    const uint8_t *k = key.data;
    uint32_t seq = 0;
    bool now = key.len >= 12 && memcmp(k + key.len - 12, enc, 8) == 0 &&
               rill_window_dup_key_split(key, NULL, NULL, &seq) == 0 && !(seq & FORMER_SEQ);
    if (!raw->value.data)
        return 0; /* never logged: a store of duplicates has nothing to delete */
    if (now) {
        ts->seq = seq; /* the changelog's order is the puts': the task's next put follows it */
        return store_write(ts, key, raw->value, raw->timestamp);
    }
    if (key.len < 8 || memcmp(k + key.len - 8, enc, 8) != 0)
        return RILL_EINVAL;
    rill_buf_t user = {key.data, key.len - 8}, list = raw->value;
    if (reserve(&ts->keybuf, key.len + 4))
        return RILL_ENOMEM;
    for (size_t at = 0, i = 0; at < list.len; i++) {
        const uint8_t *p = (const uint8_t *)list.data + at;
        if (list.len - at < 4)
            return RILL_EINVAL; /* not a value list */
        size_t n = (size_t)p[0] << 24 | (size_t)p[1] << 16 | (size_t)p[2] << 8 | p[3];
        if (n > list.len - at - 4)
            return RILL_EINVAL;
        size_t len =
            rill_window_dup_key(user, raw->timestamp, FORMER_SEQ + (uint32_t)i, ts->keybuf.data);
        int rc = store_write(ts, (rill_buf_t){ts->keybuf.data, len}, (rill_buf_t){p + 4, n},
                             raw->timestamp);
        if (rc)
            return rc;
        at += 4 + n;
    }
    return 0;
}

int rill__task_restore(rill_task_t *task, size_t i, const rill_record_t *raw)
{
    if (i >= task->nchangelogs)
        return RILL_EINVAL;
    task_store_t *ts = &task->stores[task->changelogs[i]];
    ts->memo_state = RILL__OLD_UNKNOWN; /* the store changes under any memo */
    int rc = ts->ws && ts->def->spec.retain_duplicates
                 ? restore_duplicates(ts, raw)
                 : store_write(ts, raw->key, raw->value, raw->timestamp);
    if (rc == RILL_ENOENT)
        rc = 0; /* a window, or a version, that has expired since it was logged */
    if (rc == RILL_EINVAL) {
        snprintf(task->error, sizeof task->error,
                 "task %s: changelog %s partition %d offset %lld has a key of %zu bytes, too "
                 "short for a %s store",
                 task->id, ts->changelog, raw->partition, (long long)raw->offset, raw->key.len,
                 type_name(ts->def->spec.type));
        return rc;
    }
    if (rc) {
        snprintf(task->error, sizeof task->error,
                 "task %s: cannot restore store '%s' from %s offset %lld: %s", task->id,
                 ts->def->spec.name, ts->changelog, (long long)raw->offset, rill_strerror(rc));
        return rc;
    }
    task->metrics.restored++;
    task->writes_since_checkpoint++; /* the store moved past its checkpoint */
    return 0;
}

/* After a restore batch: the store holds the changelog up to the batch's last record; under
 * exactly-once it commits that with the offset after it. */
static int restored_to(rill_task_t *task, task_store_t *ts, const rill_record_t *last)
{
    ts->checkpoint = last->offset + 1;
    if (!task->env.exactly_once)
        return 0;
    int rc = commit_store(ts, ts->checkpoint);
    if (rc)
        snprintf(task->error, sizeof task->error,
                 "task %s: cannot commit store '%s' restored to %s offset %lld: %s", task->id,
                 ts->def->spec.name, ts->changelog, (long long)last->offset, store_error(ts));
    return rc;
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

int rill__task_restore_batch(rill_task_t *task, size_t i, const rill_record_t *raw, size_t n)
{
    if (i >= task->nchangelogs)
        return RILL_EINVAL;
    task_store_t *ts = &task->stores[task->changelogs[i]];
    ts->memo_state = RILL__OLD_UNKNOWN; /* the store changes under any memo */
    if (n == 0)
        return 0;
    if (!ts->kv || n < 2) {
        for (size_t k = 0; k < n; k++) {
            int rc = rill__task_restore(task, i, &raw[k]);
            if (rc)
                return rc;
        }
        return restored_to(task, ts, &raw[n - 1]);
    }
    if (n > task->restore_cap) {
        rill_store_write_t *w = rill_realloc(task->restore_writes, n * sizeof *w);
        if (!w)
            return RILL_ENOMEM;
        task->restore_writes = w;
        task->restore_cap = n;
    }
    if (rill__stored_batch(&ts->scratch, task->restore_writes, raw, n, false) < 0)
        return RILL_ENOMEM;
    int rc = rill_store_write_batch(ts->kv, task->restore_writes, n);
    if (rc) {
        snprintf(task->error, sizeof task->error,
                 "task %s: cannot restore store '%s' from %s offsets %lld..%lld: %s", task->id,
                 ts->def->spec.name, ts->changelog, (long long)raw[0].offset,
                 (long long)raw[n - 1].offset, rill_store_error(ts->kv));
        return rc;
    }
    task->metrics.restored += n;
    task->writes_since_checkpoint += n;
    return restored_to(task, ts, &raw[n - 1]);
}

int rill__task_commit_stores(rill_task_t *task, const int64_t *end_offsets)
{
    if (!task->env.exactly_once)
        return 0;
    for (size_t i = 0; i < task->nstores; i++) {
        task_store_t *ts = &task->stores[i];
        if (ts->global)
            continue;
        int64_t offset = -1;
        for (size_t c = 0; c < task->nchangelogs; c++)
            if (task->changelogs[c] == i && end_offsets && end_offsets[c] > ts->checkpoint)
                offset = end_offsets[c];
        int rc = commit_store(ts, offset);
        if (rc) {
            snprintf(task->error, sizeof task->error, "task %s: cannot commit store '%s': %s",
                     task->id, ts->def->spec.name, store_error(ts));
            return rc;
        }
        if (offset >= 0)
            ts->checkpoint = offset;
    }
    return 0;
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
    int rc = store_write(ts, layout, value, ts_ms);
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
                rc = fail(ts, rc, "cannot read: %s", store_error(ts));
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
            int rc = flush_cache(ts);
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
    ts->task->effects++; /* a retry in place would write it again */
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

int rill_kv_get(rill_kv_store_t *store, rill_buf_t key, rill_buf_t *value, int64_t *ts)
{
    return store_get((task_store_t *)store, key, value, ts);
}

int rill_kv_put(rill_kv_store_t *store, rill_buf_t key, rill_buf_t value, int64_t ts)
{
    return store_put((task_store_t *)store, key, value, ts);
}

int rill_kv_get_as_of(rill_kv_store_t *store, rill_buf_t key, int64_t as_of, rill_buf_t *value,
                      int64_t *ts)
{
    task_store_t *s = (task_store_t *)store;
    if (!s || !s->vstore)
        return RILL_EINVAL;
    return rill_versioned_store_get_as_of(s->vstore, key, as_of, value, ts, NULL);
}

bool rill_kv_is_versioned(const rill_kv_store_t *store)
{
    return store && ((const task_store_t *)store)->def->spec.type == RILL_STORE_VERSIONED;
}

rill_store_iter_t *rill_kv_range(rill_kv_store_t *store, const rill_buf_t *from,
                                 const rill_buf_t *to, bool reverse)
{
    task_store_t *ts = (task_store_t *)store;
    if (ts->vstore)
        return NULL;
    if (ts->global)
        return ts->kv ? rill_store_range(ts->kv, from, to, reverse) : NULL;
    if (flush_cache(ts))
        return NULL;
    return rill_store_range(ts->kv, from, to, reverse);
}

/* Makes the layout key of a window in the store's key buffer (a null view when out of memory).
 * A store that retains duplicates gets the next sequence number; they wrap within 31 bits (as
 * Kafka Streams' do), the top bit being restore_duplicates()'s. */
static rill_buf_t window_layout(task_store_t *ts, rill_buf_t key, int64_t start)
{
    if (reserve(&ts->keybuf, key.len + 12))
        return (rill_buf_t){NULL, 0};
    if (!ts->def->spec.retain_duplicates)
        return (rill_buf_t){ts->keybuf.data, rill_window_key(key, start, ts->keybuf.data)};
    ts->seq = (ts->seq + 1) & ~FORMER_SEQ;
    return (rill_buf_t){ts->keybuf.data, rill_window_dup_key(key, start, ts->seq, ts->keybuf.data)};
}

/* Makes the layout key of a session in the store's key buffer. */
static rill_buf_t session_layout(task_store_t *ts, rill_buf_t key, int64_t start, int64_t end)
{
    if (reserve(&ts->keybuf, key.len + 16))
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
    return store_get(s, layout, value, ts);
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
    return store_put(s, layout, value, ts);
}

rill_window_iter_t *rill_window_handle_fetch(rill_window_handle_t *ws, rill_buf_t key, int64_t from,
                                             int64_t to)
{
    task_store_t *s = (task_store_t *)ws;
    if (flush_cache(s))
        return NULL;
    return rill_window_store_fetch(s->ws, key, from, to, false);
}

int rill_session_handle_put(rill_session_handle_t *ss, rill_buf_t key, int64_t start, int64_t end,
                            rill_buf_t value, int64_t ts)
{
    task_store_t *s = (task_store_t *)ss;
    rill_buf_t layout = session_layout(s, key, start, end);
    if (!layout.data)
        return RILL_ENOMEM;
    return store_put(s, layout, value, ts);
}

rill_session_iter_t *rill_session_handle_find(rill_session_handle_t *ss, rill_buf_t key,
                                              int64_t earliest_end, int64_t latest_start)
{
    task_store_t *s = (task_store_t *)ss;
    if (flush_cache(s))
        return NULL;
    return rill_session_store_find(s->ss, key, earliest_end, latest_start);
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
