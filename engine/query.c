/*
 * Interactive queries: reads of an app's named stores from any thread. The app's query lock
 * (held for writing by a stream thread only while it adds or closes a task) keeps every task a
 * query sees alive; the stores themselves allow concurrent readers (statestore.h).
 */
#include "engine_int.h"
#include "global_thread.h"

#include <stdio.h>
#include <string.h>

typedef struct {
    rill_app_t *app;
    const rill_store_spec_t *spec;
    int st;
    int32_t partitions;
    rill_store_t *global; /* a global store: every instance holds all of it */
} target_t;

static void widest(void *ud, const char *topic, bool internal, int32_t partitions)
{
    target_t *t = ud;
    int32_t n = rill__app_partitions(t->app, topic);
    if (n > t->partitions)
        t->partitions = n;
}

/* Finds a queryable store of the given type. */
static int target(rill_app_t *app, const char *store, rill_store_type_t type, target_t *out)
{
    if (!app || !store)
        return RILL_EINVAL;
    rill_state_t s = rill_app_state(app);
    if (s != RILL_STATE_RUNNING && s != RILL_STATE_REBALANCING)
        return RILL_ESTATE;
    int i = rill_topology_find_store(app->topo, store);
    if (i < 0)
        return RILL_ENOENT;
    *out = (target_t){.app = app};
    out->spec = rill_topology_store(app->topo, i, &out->st);
    if (out->spec->internal)
        return RILL_ENOENT; /* generated names are not an interface */
    if (out->spec->type != type)
        return RILL_EINVAL;
    if (rill__topology_store_global(app->topo, i)) {
        /* Queryable once loaded, as Kafka Streams' global stores are once its global thread
         * runs. */
        if (!rill__global_thread_ready(app->global_thread))
            return RILL_ESTATE;
        out->global = rill__global_store(app->global, store);
        return out->global ? 0 : RILL_ENOENT;
    }
    rill__topology_source_topics(app->topo, out->st, app->env.application_id, widest, out);
    return 0;
}

/* Runs fn over the tasks of the target's sub-topology (one partition, or all when < 0), under
 * the query lock. Returns how many tasks it saw. */
static int each_task(const target_t *t, int32_t partition,
                     bool (*fn)(void *ud, rill_task_t *task, int32_t partition), void *ud)
{
    int seen = 0;
    pthread_rwlock_rdlock(&t->app->query_lock);
    for (int i = 0; i < t->app->nthreads; i++)
        if (t->app->threads[i])
            seen += rill__thread_tasks(t->app->threads[i], t->st, partition, fn, ud);
    pthread_rwlock_unlock(&t->app->query_lock);
    return seen;
}

static int32_t partition_of(const target_t *t, rill_buf_t key)
{
    if (t->partitions <= 1 || !key.data)
        return 0;
    return rd_kafka_msg_partitioner_murmur2(NULL, key.data, key.len, t->partitions, NULL, NULL);
}

static bool found_task(void *ud, rill_task_t *task, int32_t partition)
{
    *(bool *)ud = true;
    return false;
}

int rill_app_query_partition(rill_app_t *app, const char *store, rill_buf_t key, int32_t *partition,
                             bool *local)
{
    target_t t;
    int rc = target(app, store, RILL_STORE_KV, &t);
    if (rc == RILL_EINVAL)
        rc = target(app, store, RILL_STORE_WINDOW, &t);
    if (rc == RILL_EINVAL)
        rc = target(app, store, RILL_STORE_SESSION, &t);
    if (rc)
        return rc;
    if (t.global) { /* as Kafka Streams' queryMetadataForKey: here, and no partition */
        *partition = -1;
        *local = true;
        return 0;
    }
    *partition = partition_of(&t, key);
    *local = false;
    each_task(&t, *partition, found_task, local);
    return 0;
}

bool rill__app_query_held(rill_app_t *app, const char *store, int32_t partition)
{
    target_t t;
    int rc = target(app, store, RILL_STORE_KV, &t);
    if (rc == RILL_EINVAL)
        rc = target(app, store, RILL_STORE_WINDOW, &t);
    if (rc == RILL_EINVAL)
        rc = target(app, store, RILL_STORE_SESSION, &t);
    return !rc && !t.global && each_task(&t, partition, NULL, NULL) > 0;
}

/* ---- key-value stores ---- */

typedef struct {
    const char *store;
    rill_buf_t key;
    rill_bytes_t *out;
    int64_t *ts;
    int rc;
} get_t;

static void get_from(get_t *g, rill_store_t *s);

static bool get_one(void *ud, rill_task_t *task, int32_t partition)
{
    get_t *g = ud;
    get_from(g, rill__task_kv_store(task, g->store));
    return false;
}

static void get_from(get_t *g, rill_store_t *s)
{
    if (!s) {
        g->rc = RILL_ENOENT;
        return;
    }
    g->rc = rill_store_get_copy(s, g->key, g->out);
    if (g->rc == 0) {
        rill_buf_t value;
        int64_t ts;
        if (rill_stored_split((rill_buf_t){g->out->data, g->out->len}, &value, &ts)) {
            g->rc = RILL_EIO;
            return;
        }
        memmove(g->out->data, value.data, value.len);
        g->out->len = value.len;
        if (g->ts)
            *g->ts = ts;
    }
}

int rill_app_query_get(rill_app_t *app, const char *store, rill_buf_t key, rill_bytes_t *value,
                       int64_t *timestamp)
{
    target_t t;
    int rc = target(app, store, RILL_STORE_KV, &t);
    if (rc || !value)
        return rc ? rc : RILL_EINVAL;
    get_t g = {store, key, value, timestamp, RILL_ENOENT};
    if (t.global)
        get_from(&g, t.global);
    else
        each_task(&t, partition_of(&t, key), get_one, &g);
    return g.rc;
}

typedef struct {
    const char *store;
    const rill_buf_t *from, *to;
    bool prefix;
    rill_buf_t pfx;
    rill_query_fn fn;
    void *ud;
    int rc;
    bool stop;
} range_t;

static bool range_from(range_t *r, rill_store_t *s);

static bool range_one(void *ud, rill_task_t *task, int32_t partition)
{
    range_t *r = ud;
    return range_from(r, rill__task_kv_store(task, r->store));
}

static bool range_from(range_t *r, rill_store_t *s)
{
    rill_store_iter_t *it = !s          ? NULL
                            : r->prefix ? rill_store_prefix(s, r->pfx)
                                        : rill_store_range(s, r->from, r->to, false);
    if (!it) {
        r->rc = s ? RILL_ENOMEM : RILL_ENOENT;
        return false;
    }
    rill_buf_t k, v, value;
    int64_t ts;
    while (!r->stop && rill_store_iter_next(it, &k, &v))
        if (rill_stored_split(v, &value, &ts) == 0 && !r->fn(r->ud, k, value, ts))
            r->stop = true;
    rill_store_iter_close(it);
    return !r->stop;
}

static int range_query(rill_app_t *app, range_t *r)
{
    target_t t;
    int rc = target(app, r->store, RILL_STORE_KV, &t);
    if (rc || !r->fn)
        return rc ? rc : RILL_EINVAL;
    if (t.global)
        range_from(r, t.global);
    else
        each_task(&t, -1, range_one, r);
    return r->rc;
}

int rill_app_query_range(rill_app_t *app, const char *store, const rill_buf_t *from,
                         const rill_buf_t *to, rill_query_fn fn, void *ud)
{
    range_t r = {.store = store, .from = from, .to = to, .fn = fn, .ud = ud};
    return range_query(app, &r);
}

int rill_app_query_prefix(rill_app_t *app, const char *store, rill_buf_t prefix, rill_query_fn fn,
                          void *ud)
{
    range_t r = {.store = store, .prefix = true, .pfx = prefix, .fn = fn, .ud = ud};
    return range_query(app, &r);
}

int rill_app_query_all(rill_app_t *app, const char *store, rill_query_fn fn, void *ud)
{
    return rill_app_query_range(app, store, NULL, NULL, fn, ud);
}

/* ---- window and session stores ---- */

typedef struct {
    const char *store;
    rill_buf_t key;
    int64_t from, to;
    rill_window_query_fn wfn;
    rill_session_query_fn sfn;
    void *ud;
    int rc;
    bool stop;
} wq_t;

static bool window_one(void *ud, rill_task_t *task, int32_t partition)
{
    wq_t *q = ud;
    rill_window_store_t *s = rill__task_window_store(task, q->store);
    rill_window_iter_t *it = !s ? NULL
                             : q->key.data
                                 ? rill_window_store_fetch(s, q->key, q->from, q->to, false)
                                 : rill_window_store_fetch_range(s, NULL, NULL, q->from, q->to);
    if (!it) {
        q->rc = s ? RILL_ENOMEM : RILL_ENOENT;
        return false;
    }
    rill_buf_t k, v, value;
    int64_t start, ts;
    while (!q->stop && rill_window_iter_next(it, &k, &start, &v))
        if (rill_stored_split(v, &value, &ts) == 0 && !q->wfn(q->ud, k, start, value, ts))
            q->stop = true;
    rill_window_iter_close(it);
    return !q->stop;
}

int rill_app_query_windows(rill_app_t *app, const char *store, rill_buf_t key, int64_t from,
                           int64_t to, rill_window_query_fn fn, void *ud)
{
    target_t t;
    int rc = target(app, store, RILL_STORE_WINDOW, &t);
    if (rc || !fn)
        return rc ? rc : RILL_EINVAL;
    wq_t q = {.store = store, .key = key, .from = from, .to = to, .wfn = fn, .ud = ud};
    int seen = each_task(&t, key.data ? partition_of(&t, key) : -1, window_one, &q);
    return key.data && seen == 0 ? RILL_ENOENT : q.rc; /* the key's task is elsewhere */
}

static bool session_one(void *ud, rill_task_t *task, int32_t partition)
{
    wq_t *q = ud;
    rill_session_store_t *s = rill__task_session_store(task, q->store);
    rill_session_iter_t *it = s ? rill_session_store_find(s, q->key, INT64_MIN, INT64_MAX) : NULL;
    if (!it) {
        q->rc = s ? RILL_ENOMEM : RILL_ENOENT;
        return false;
    }
    rill_buf_t k, v, value;
    int64_t start, end, ts;
    while (!q->stop && rill_session_iter_next(it, &k, &start, &end, &v))
        if (rill_stored_split(v, &value, &ts) == 0 && !q->sfn(q->ud, k, start, end, value, ts))
            q->stop = true;
    rill_session_iter_close(it);
    return false;
}

int rill_app_query_sessions(rill_app_t *app, const char *store, rill_buf_t key,
                            rill_session_query_fn fn, void *ud)
{
    target_t t;
    int rc = target(app, store, RILL_STORE_SESSION, &t);
    if (rc || !fn || !key.data)
        return rc ? rc : RILL_EINVAL;
    wq_t q = {.store = store, .key = key, .sfn = fn, .ud = ud};
    int seen = each_task(&t, partition_of(&t, key), session_one, &q);
    return seen == 0 ? RILL_ENOENT : q.rc; /* the key's task is elsewhere */
}
