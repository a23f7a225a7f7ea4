/*
 * Global stores (Kafka Streams' global state): one set per app instance, not per task. Each
 * holds every partition of its topic, which is its changelog; a record goes in as it is, stored
 * as task stores store values (an 8-byte timestamp, the record's, then the value): the latest
 * value per key, a null value deletes, and a record without a key is skipped (Kafka Streams
 * drops those too). Nothing is deserialized: the bytes are the topic's.
 *
 * RocksDB stores live in "<state dir>/global/<store>", and "<state dir>/global/.checkpoint"
 * (the task checkpoint's format) records, for every partition of every topic, the offset after
 * the last record the stores on disk hold, so a restart reads only the tail. A store that the
 * checkpoint does not cover is wiped first: it may hold keys its topic has deleted since. An
 * in-memory store always loads in full.
 *
 * Threads: one thread writes (the app's global thread, or the test driver's caller); tasks of
 * every stream thread and interactive queries read at the same time, through
 * rill_store_get_copy() and iterators, which the stores allow (statestore.h).
 */
#include "operators_int.h"

#include <errno.h>
#include <stdarg.h>
#include <string.h>
#include <unistd.h>

typedef struct {
    const store_def_t *def;
    const char *topic; /* borrowed from the source node */
    rill_store_backend_t backend;
    rill_store_t *kv;
    int64_t *next;  /* per partition: the offset after the last record applied; -1: none */
    int32_t nparts; /* entries of next */
} global_store_t;

struct rill_global {
    global_store_t *stores;
    size_t n;
    rill_store_env_t *store_env;
    char *dir;   /* "<state dir>/global"; NULL when no store is on disk */
    int lock_fd; /* flock'ed "<dir>/.lock"; -1: none */
    rill_bytes_t scratch;
    rill_store_write_t *writes;
    size_t writes_cap;
    uint64_t writes_since_checkpoint;
    char error[1024];
};

static int fail(rill_global_t *g, int rc, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static int fail(rill_global_t *g, int rc, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(g->error, sizeof g->error, fmt, ap);
    va_end(ap);
    return rc;
}

/* Makes room for partition p in s->next (new entries: -1). */
static int grow(global_store_t *s, int32_t p)
{
    if (p < s->nparts)
        return 0;
    int64_t *next = rill_realloc(s->next, (size_t)(p + 1) * sizeof *next);
    if (!next)
        return RILL_ENOMEM;
    for (int32_t k = s->nparts; k <= p; k++)
        next[k] = -1;
    s->next = next;
    s->nparts = p + 1;
    return 0;
}

static void checkpoint_entry(void *ud, const char *topic, int32_t partition, int64_t offset)
{
    rill_global_t *g = ud;
    for (size_t i = 0; i < g->n; i++)
        if (g->stores[i].backend == RILL_STORE_ROCKSDB && strcmp(g->stores[i].topic, topic) == 0 &&
            partition >= 0 && grow(&g->stores[i], partition) == 0)
            g->stores[i].next[partition] = offset;
}

static bool covered(const global_store_t *s)
{
    for (int32_t p = 0; p < s->nparts; p++)
        if (s->next[p] >= 0)
            return true;
    return false;
}

static int open_store(rill_global_t *g, global_store_t *s)
{
    char path[1100] = "", why[512] = "";
    if (s->backend == RILL_STORE_ROCKSDB) {
        snprintf(path, sizeof path, "%s/%s", g->dir, s->def->spec.name);
        if (!covered(s) && rill_store_wipe(path))
            return fail(g, RILL_EIO, "cannot wipe global store directory %s", path);
    }
    s->kv = rill_store_open(s->backend, g->store_env, path, why, sizeof why);
    if (!s->kv)
        return fail(g, RILL_EIO, "cannot open global store '%s': %s", s->def->spec.name,
                    why[0] ? why : "out of memory");
    return 0;
}

/* Takes the directory's lock, then reads the checkpoint. */
static int open_dir(rill_global_t *g, const char *state_dir)
{
    size_t len = strlen(state_dir) + sizeof "/global";
    if (!(g->dir = rill_malloc(len)))
        return fail(g, RILL_ENOMEM, "out of memory opening the global stores");
    snprintf(g->dir, len, "%s/global", state_dir);
    if (rill__make_dirs(g->dir))
        return fail(g, RILL_EIO, "cannot create the global state directory %s: %s", g->dir,
                    strerror(errno));
    char path[1100], why[600] = "";
    int rc = rill__dir_lock(g->dir, &g->lock_fd, path, sizeof path);
    if (rc)
        return fail(g, rc, "%s %s: %s",
                    rc == RILL_EBUSY
                        ? "the global state directory is in use (by another instance?):"
                        : "cannot lock the global state directory",
                    path, strerror(errno));
    snprintf(path, sizeof path, "%s/.checkpoint", g->dir);
    int r = rill__checkpoint_read(path, checkpoint_entry, g, why, sizeof why);
    if (r < 0) {
        rill_log(RILL_LOG_WARN, "state",
                 "the global checkpoint is corrupt (%s): every global store loads from the start "
                 "of its topic",
                 why);
        for (size_t i = 0; i < g->n; i++)
            for (int32_t p = 0; p < g->stores[i].nparts; p++)
                g->stores[i].next[p] = -1;
    } else if (r == 0) {
        rill_log(RILL_LOG_INFO, "state",
                 "no checkpoint in %s: the global stores load from the start of their topics",
                 g->dir);
    }
    return 0;
}

rill_global_t *rill__global_open(const rill_topology_t *topo, const rill_task_env_t *env,
                                 char *errstr, size_t errstr_size)
{
    rill_global_t *g = rill_calloc(1, sizeof *g);
    if (!g) {
        snprintf(errstr, errstr_size, "out of memory opening the global stores");
        return NULL;
    }
    g->lock_fd = -1;
    g->store_env = env->store_env;
    size_t n = 0;
    for (size_t k = 0; k < topo->nstores; k++)
        n += rill__topology_global_source(topo, k) != NULL;
    g->stores = n ? rill_calloc(n, sizeof *g->stores) : NULL;
    if (n && !g->stores) {
        snprintf(errstr, errstr_size, "out of memory opening the global stores");
        rill__global_close(g);
        return NULL;
    }
    bool on_disk = false;
    for (size_t k = 0; k < topo->nstores; k++) {
        const node_t *src = rill__topology_global_source(topo, k);
        if (!src)
            continue;
        global_store_t *s = &g->stores[g->n++];
        s->def = &topo->stores[k];
        s->topic = src->topics[0];
        s->backend = s->def->spec.backend ? s->def->spec.backend : env->default_store_backend;
        if (s->backend == RILL_STORE_DEFAULT)
            s->backend = RILL_STORE_ROCKSDB;
        on_disk |= s->backend == RILL_STORE_ROCKSDB;
    }
    int rc = 0;
    if (on_disk && (!env->state_dir || !env->store_env))
        rc = fail(g, RILL_EINVAL,
                  "the global stores are RocksDB stores but the driver gave no "
                  "state directory");
    else if (on_disk)
        rc = open_dir(g, env->state_dir);
    for (size_t i = 0; !rc && i < g->n; i++)
        rc = open_store(g, &g->stores[i]);
    if (rc) {
        snprintf(errstr, errstr_size, "%s", g->error);
        rill__global_close(g);
        return NULL;
    }
    return g;
}

void rill__global_close(rill_global_t *g)
{
    if (!g)
        return;
    for (size_t i = 0; i < g->n; i++) {
        rill_store_close(g->stores[i].kv);
        rill_free(g->stores[i].next);
    }
    rill_free(g->stores);
    if (g->lock_fd >= 0)
        close(g->lock_fd); /* after every store has closed */
    rill_free(g->dir);
    rill_bytes_free(&g->scratch);
    rill_free(g->writes);
    rill_free(g);
}

size_t rill__global_count(const rill_global_t *g)
{
    return g ? g->n : 0;
}

const char *rill__global_topic(const rill_global_t *g, size_t i)
{
    return g && i < g->n ? g->stores[i].topic : NULL;
}

const char *rill__global_name(const rill_global_t *g, size_t i)
{
    return g && i < g->n ? g->stores[i].def->spec.name : NULL;
}

int rill__global_find_topic(const rill_global_t *g, const char *topic)
{
    for (size_t i = 0; g && topic && i < g->n; i++)
        if (strcmp(g->stores[i].topic, topic) == 0)
            return (int)i;
    return -1;
}

int64_t rill__global_offset(const rill_global_t *g, size_t i, int32_t partition)
{
    if (!g || i >= g->n || partition < 0 || partition >= g->stores[i].nparts)
        return -1;
    return g->stores[i].next[partition];
}

int rill__global_apply(rill_global_t *g, size_t i, const rill_record_t *raw, size_t n)
{
    if (i >= g->n)
        return RILL_EINVAL;
    global_store_t *s = &g->stores[i];
    if (n > g->writes_cap) {
        rill_store_write_t *w = rill_realloc(g->writes, n * sizeof *w);
        if (!w)
            return fail(g, RILL_ENOMEM, "out of memory updating global store '%s'",
                        s->def->spec.name);
        g->writes = w;
        g->writes_cap = n;
    }
    ssize_t w = rill__stored_batch(&g->scratch, g->writes, raw, n, true);
    if (w < 0)
        return fail(g, RILL_ENOMEM, "out of memory updating global store '%s'", s->def->spec.name);
    int rc = w ? rill_store_write_batch(s->kv, g->writes, (size_t)w) : 0;
    if (rc)
        return fail(g, rc, "cannot update global store '%s' from %s offsets %lld..%lld: %s",
                    s->def->spec.name, s->topic, (long long)raw[0].offset,
                    (long long)raw[n - 1].offset, rill_store_error(s->kv));
    for (size_t k = 0; k < n; k++) {
        if (grow(s, raw[k].partition))
            return fail(g, RILL_ENOMEM, "out of memory updating global store '%s'",
                        s->def->spec.name);
        if (raw[k].offset + 1 > s->next[raw[k].partition])
            s->next[raw[k].partition] = raw[k].offset + 1;
    }
    g->writes_since_checkpoint += n;
    return 0;
}

int rill__global_reset(rill_global_t *g, size_t i)
{
    if (i >= g->n)
        return RILL_EINVAL;
    global_store_t *s = &g->stores[i];
    rill_store_close(s->kv);
    s->kv = NULL;
    for (int32_t p = 0; p < s->nparts; p++)
        s->next[p] = -1;
    return open_store(g, s); /* wipes what is on disk: nothing is covered now */
}

uint64_t rill__global_writes(const rill_global_t *g)
{
    return g ? g->writes_since_checkpoint : 0;
}

int rill__global_checkpoint(rill_global_t *g)
{
    if (!g || !g->dir)
        return 0;
    rill_bytes_t lines = {0};
    int count = 0, rc = 0;
    for (size_t i = 0; i < g->n && !rc; i++) {
        global_store_t *s = &g->stores[i];
        if (s->backend != RILL_STORE_ROCKSDB)
            continue;
        if ((rc = rill_store_flush(s->kv)))
            return fail(g, rc, "cannot flush global store '%s': %s", s->def->spec.name,
                        rill_store_error(s->kv));
        for (int32_t p = 0; p < s->nparts && !rc; p++) {
            if (s->next[p] < 0)
                continue;
            char line[400];
            int len =
                snprintf(line, sizeof line, "%s %d %lld\n", s->topic, p, (long long)s->next[p]);
            rc = rill_bytes_append(&lines, line, (size_t)len);
            count++;
        }
    }
    char path[1100], why[800] = "out of memory writing the global checkpoint";
    snprintf(path, sizeof path, "%s/.checkpoint", g->dir);
    if (!rc)
        rc = rill__checkpoint_write(path, count, &lines, why, sizeof why);
    rill_bytes_free(&lines);
    if (rc)
        return fail(g, RILL_EIO, "%s", why);
    g->writes_since_checkpoint = 0;
    return 0;
}

rill_store_t *rill__global_store(const rill_global_t *g, const char *name)
{
    for (size_t i = 0; g && name && i < g->n; i++)
        if (strcmp(g->stores[i].def->spec.name, name) == 0)
            return g->stores[i].kv;
    return NULL;
}

const char *rill__global_error(const rill_global_t *g)
{
    return g ? g->error : "";
}
