/*
 * A task's state stores: opening and closing them, and the task's checkpoint. Each wraps a store
 * of the state layer with the task's record cache and the store's changelog; the checkpoint
 * file records how far each changelog is in the stores on disk. Restoring them from their
 * changelogs is store_restore.c; what processors and queries do with them (reads, writes
 * through the cache and the changelog, flushes, the handles) is store_access.c.
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
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

const char *rill__store_type_name(rill_store_type_t t)
{
    return t == RILL_STORE_KV          ? "key-value"
           : t == RILL_STORE_WINDOW    ? "window"
           : t == RILL_STORE_VERSIONED ? "versioned"
                                       : "session";
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

int rill__store_commit(task_store_t *ts, int64_t offset)
{
    return ts->kv       ? rill_store_commit(ts->kv, offset)
           : ts->ws     ? rill_window_store_commit(ts->ws, offset)
           : ts->vstore ? rill_versioned_store_commit(ts->vstore, offset)
                        : rill_session_store_commit(ts->ss, offset);
}

const char *rill__store_error(task_store_t *ts)
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
                 rill__store_type_name(spec->type), spec->name, why[0] ? why : "out of memory");
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
        ts->metered = task->env.debug_metrics;
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
                .metered = task->env.debug_metrics,
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
        int rc = rill__store_commit(ts, offset);
        if (rc) {
            snprintf(task->error, sizeof task->error, "task %s: cannot commit store '%s': %s",
                     task->id, ts->def->spec.name, rill__store_error(ts));
            return rc;
        }
        if (offset >= 0)
            ts->checkpoint = offset;
    }
    return 0;
}
