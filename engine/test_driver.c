/*
 * The test driver: tasks run on the caller's thread against an in-memory collector. Every topic
 * is a list of stored records; records sinks write to internal (repartition) topics are fed to
 * the downstream tasks, in the order they were written, before pipe returns. Keys are
 * partitioned with librdkafka's murmur2 partitioner, as the Java clients do; a null key goes to
 * partition 0, so runs are deterministic.
 */
#include "engine_int.h"
#include "internal_topics.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    rill_test_record_t rec;
    rill_header_t *headers;
    int64_t offset; /* in its partition */
} stored_t;

typedef struct {
    char *name;
    int32_t partitions;
    bool internal;
    bool global; /* a global store's topic: what sinks write to it goes into the store */
    bool retry;  /* a retry topic: its records go back to their task once due */
    stored_t *recs;
    size_t n, cap;
    size_t read;   /* next record rill_test_driver_read() returns */
    size_t fed;    /* next record fed to downstream tasks (internal topics) */
    int64_t *ends; /* per partition, the offset the next record gets */
    int32_t nends;
} topic_t;

typedef struct {
    int st;
    int32_t partition;
    rill_task_t *task;
} task_slot_t;

/* A record held back: its task backs off (an in-place retry), it or one before it waits. */
typedef struct {
    size_t topic, rec; /* td->topics[topic].recs[rec] */
    rill_task_t *task;
    int source; /* -1: a record of a retry topic */
} held_t;

struct rill_test_driver {
    rill_topology_t *topo;
    rill_conf_t *conf;
    rill_task_env_t env;
    int64_t now;
    topic_t *topics;
    size_t ntopics;
    task_slot_t *tasks;
    size_t ntasks;
    char error[1024];
    rill_arena_t *scratch; /* copies of piped headers */
    char *state_dir;       /* a fresh directory of its own, wiped on destroy */
    rill_store_env_t *store_env;
    rill_global_t *global; /* the global stores: a record piped to their topic goes in at once */
    held_t *held;          /* in order; those of one task run in turn once its backoff ends */
    size_t nheld;
};

static topic_t *topic_find(const rill_test_driver_t *td, const char *name)
{
    for (size_t i = 0; i < td->ntopics; i++)
        if (strcmp(td->topics[i].name, name) == 0)
            return &td->topics[i];
    return NULL;
}

/* The partition count a repartition declared for the internal topic called name, if any. */
typedef struct {
    const char *name;
    int32_t partitions;
} declared_t;

static void find_declared(void *ud, const char *topic, bool internal, int st, int32_t partitions)
{
    declared_t *d = ud;
    if (internal && strcmp(topic, d->name) == 0 && partitions > 0)
        d->partitions = partitions;
}

/* The widest user topic of a join's sub-topology that reads the internal topic called name (0:
 * none reads it), which is the count the app gives it (engine/copartition.c): a foreign-key
 * join's subscription topic takes the right table's, its response topic the left table's. */
typedef struct {
    const rill_test_driver_t *td;
    const char *name;
    bool reads;
    int32_t widest;
} join_width_t;

static void join_source(void *ud, const char *topic, bool internal, int32_t partitions)
{
    (void)partitions;
    join_width_t *w = ud;
    if (internal) {
        w->reads = w->reads || strcmp(topic, w->name) == 0;
        return;
    }
    const topic_t *t = topic_find(w->td, topic);
    int32_t n = t ? t->partitions : 1;
    if (n > w->widest)
        w->widest = n;
}

static int32_t join_width(const rill_test_driver_t *td, const char *name)
{
    for (int st = 0; st < rill__topology_subtopology_count(td->topo); st++) {
        if (!rill__topology_has_join(td->topo, st))
            continue;
        join_width_t w = {td, name, false, 0};
        rill__topology_source_topics(td->topo, st, td->env.application_id, join_source, &w);
        if (w.reads && w.widest > 0)
            return w.widest;
    }
    return 0;
}

static topic_t *topic_get(rill_test_driver_t *td, const char *name)
{
    topic_t *t = topic_find(td, name);
    if (t)
        return t;
    topic_t *topics = rill_realloc(td->topics, (td->ntopics + 1) * sizeof *topics);
    if (!topics)
        return NULL;
    td->topics = topics;
    t = &topics[td->ntopics];
    memset(t, 0, sizeof *t);
    if (!(t->name = rill_strdup(name)))
        return NULL;
    t->partitions = 1;
    /* Internal topics get as many partitions as the widest topic known so far. */
    const char *app_id = td->env.application_id;
    t->internal = rill__topic_kind(app_id, name) == RILL_TOPIC_REPARTITION;
    t->global = rill__global_find_topic(td->global, name) >= 0;
    t->retry = rill__retry_topic_is(&td->env, name);
    for (size_t i = 0; t->retry && i < td->ntopics; i++) /* as wide as the widest, as the app */
        if (topics[i].partitions > t->partitions)
            t->partitions = topics[i].partitions;
    if (t->internal) {
        /* As the app sizes them: the count the repartition gave, else the widest topic. */
        declared_t d = {name, 0};
        rill__topology_sink_topics(td->topo, app_id, find_declared, &d);
        for (size_t i = 0; !d.partitions && i < td->ntopics; i++)
            if (topics[i].partitions > t->partitions)
                t->partitions = topics[i].partitions;
        int32_t joined = d.partitions ? 0 : join_width(td, name);
        if (d.partitions || joined)
            t->partitions = d.partitions ? d.partitions : joined;
    }
    td->ntopics++;
    return t;
}

static int64_t driver_clock(void *ud)
{
    return ((rill_test_driver_t *)ud)->now;
}

static void *dup_bytes(const rill_buf_t *b)
{
    if (!b || !b->data)
        return NULL;
    char *p = rill_malloc(b->len + 1);
    if (p) {
        memcpy(p, b->data, b->len);
        p[b->len] = 0; /* so string values print directly in tests */
    }
    return p;
}

static int32_t partition_for(const rill_buf_t *key, int32_t count)
{
    if (!key || !key->data || count <= 1)
        return 0;
    return rd_kafka_msg_partitioner_murmur2(NULL, key->data, key->len, count, NULL, NULL);
}

static int collector_send(void *opaque, const char *topic, int32_t partition, const rill_buf_t *key,
                          const rill_buf_t *value, int64_t timestamp, const rill_headers_t *hdrs)
{
    size_t header_count = rill_headers_count(hdrs);
    const rill_header_t *headers = header_count ? hdrs->items : NULL;
    rill_test_driver_t *td = opaque;
    topic_t *t = topic_get(td, topic);
    if (!t)
        return RILL_ENOMEM;
    if (partition < 0)
        partition = partition_for(key, t->partitions);
    if (t->n == t->cap) {
        size_t cap = t->cap ? t->cap * 2 : 16;
        stored_t *recs = rill_realloc(t->recs, cap * sizeof *recs);
        if (!recs)
            return RILL_ENOMEM;
        t->recs = recs;
        t->cap = cap;
    }
    if (partition >= t->nends) {
        int64_t *ends = rill_realloc(t->ends, (size_t)(partition + 1) * sizeof *ends);
        if (!ends)
            return RILL_ENOMEM;
        memset(ends + t->nends, 0, (size_t)(partition + 1 - t->nends) * sizeof *ends);
        t->ends = ends;
        t->nends = partition + 1;
    }
    stored_t *s = &t->recs[t->n];
    memset(s, 0, sizeof *s);
    s->offset = t->ends[partition]++;
    s->rec.key = (rill_buf_t){dup_bytes(key), key ? key->len : 0};
    s->rec.value = (rill_buf_t){dup_bytes(value), value ? value->len : 0};
    s->rec.timestamp = timestamp;
    s->rec.partition = partition;
    if (header_count) {
        s->headers = rill_calloc(header_count, sizeof *s->headers);
        for (size_t i = 0; s->headers && i < header_count; i++) {
            s->headers[i].name = rill_strdup(headers[i].name);
            s->headers[i].value = (rill_buf_t){dup_bytes(&headers[i].value), headers[i].value.len};
        }
        s->rec.headers = s->headers;
        s->rec.header_count = s->headers ? header_count : 0;
    }
    t->n++;
    return 0;
}

static int32_t collector_partitions(void *opaque, const char *topic)
{
    topic_t *t = topic_get(opaque, topic);
    return t ? t->partitions : RILL_ENOMEM;
}

rill_test_driver_t *rill_test_driver_new(rill_topology_t *topo, const rill_conf_t *conf,
                                         int64_t start_ms, char *errstr, size_t errstr_size)
{
    if (!topo) {
        snprintf(errstr, errstr_size, "rill_test_driver_new: topology is NULL");
        return NULL;
    }
    if (rill_topology_build(topo, errstr, errstr_size))
        return NULL;
    rill_test_driver_t *td = rill_calloc(1, sizeof *td);
    if (!td)
        return NULL;
    td->topo = rill_topology_ref(topo);
    td->now = start_ms;
    td->conf = conf ? rill_conf_dup(conf) : rill_conf_new();
    td->scratch = rill_arena_new(1024);
    if (!td->conf || !td->scratch) {
        snprintf(errstr, errstr_size, "out of memory");
        rill_test_driver_destroy(td);
        return NULL;
    }
    if (!*RILL_CONF_STR(td->conf, APPLICATION_ID))
        rill_conf_set(td->conf, "application.id", "test-driver", NULL, 0);
    if (rill__conf_task_env(td->conf, &td->env, errstr, errstr_size) ||
        rill__topology_check_serdes(topo, td->env.default_key_serde, td->env.default_value_serde,
                                    errstr, errstr_size)) {
        rill_test_driver_destroy(td);
        return NULL;
    }
    td->env.collector =
        (rill_collector_t){collector_send, collector_partitions, td, NULL, NULL, NULL, NULL, NULL};
    td->env.wall_clock = driver_clock;
    td->env.wall_clock_ud = td;
    /* Stores live in a fresh directory under state.dir, so drivers never share state. */
    if (rill_topology_store_count(topo) > 0) {
        const char *root = RILL_CONF_STR(td->conf, STATE_DIR);
        size_t len = strlen(root) + 32;
        td->state_dir = rill_malloc(len);
        if (td->state_dir) {
            snprintf(td->state_dir, len, "%s/test-driver-XXXXXX", root);
            rill__make_dirs(root);
        }
        if (!td->state_dir || !mkdtemp(td->state_dir)) {
            snprintf(errstr, errstr_size, "cannot create a state directory under %s (state.dir)",
                     root);
            rill_free(td->state_dir);
            td->state_dir = NULL;
            rill_test_driver_destroy(td);
            return NULL;
        }
        td->store_env = rill_store_env_new(
            (size_t)RILL_CONF_INT(td->conf, ROCKSDB_MEMORY_MAX_BYTES), errstr, errstr_size);
        if (!td->store_env) {
            rill_test_driver_destroy(td);
            return NULL;
        }
        td->env.state_dir = td->state_dir;
        td->env.store_env = td->store_env;
        if (!(td->global = rill__global_open(topo, &td->env, errstr, errstr_size))) {
            rill_test_driver_destroy(td);
            return NULL;
        }
        td->env.global = td->global;
    }
    return td;
}

void rill_test_driver_destroy(rill_test_driver_t *td)
{
    if (!td)
        return;
    for (size_t i = 0; i < td->ntasks; i++)
        rill__task_destroy(td->tasks[i].task);
    rill_free(td->tasks);
    rill_free(td->held);
    rill__global_close(td->global);
    rill_store_env_destroy(td->store_env);
    if (td->state_dir)
        rill_store_wipe(td->state_dir);
    rill_free(td->state_dir);
    for (size_t i = 0; i < td->ntopics; i++) {
        topic_t *t = &td->topics[i];
        for (size_t r = 0; r < t->n; r++) {
            rill_free((void *)t->recs[r].rec.key.data);
            rill_free((void *)t->recs[r].rec.value.data);
            for (size_t h = 0; t->recs[r].headers && h < t->recs[r].rec.header_count; h++) {
                rill_free((void *)t->recs[r].headers[h].name);
                rill_free((void *)t->recs[r].headers[h].value.data);
            }
            rill_free(t->recs[r].headers);
        }
        rill_free(t->recs);
        rill_free(t->ends);
        rill_free(t->name);
    }
    rill_free(td->topics);
    rill_arena_destroy(td->scratch);
    rill_conf_destroy(td->conf);
    rill_topology_unref(td->topo);
    rill_free(td);
}

int rill_test_driver_set_partitions(rill_test_driver_t *td, const char *topic, int32_t n)
{
    if (!td || !topic || n < 1)
        return RILL_EINVAL;
    topic_t *t = topic_get(td, topic);
    if (!t)
        return RILL_ENOMEM;
    t->partitions = n;
    return 0;
}

/* Returns the task of (st, partition), made on first use; NULL with *rc set (RILL_ENOMEM, or the
 * task's code: RILL_EPROCESS for a processor whose init failed) and td->error saying why. */
static rill_task_t *task_for(rill_test_driver_t *td, int st, int32_t partition, int *rc)
{
    for (size_t i = 0; i < td->ntasks; i++)
        if (td->tasks[i].st == st && td->tasks[i].partition == partition)
            return td->tasks[i].task;
    *rc = RILL_ENOMEM;
    task_slot_t *tasks = rill_realloc(td->tasks, (td->ntasks + 1) * sizeof *tasks);
    if (!tasks) {
        snprintf(td->error, sizeof td->error, "out of memory creating task %d_%d", st, partition);
        return NULL;
    }
    td->tasks = tasks;
    rill_task_t *task =
        rill__task_open(td->topo, st, partition, &td->env, rc, td->error, sizeof td->error);
    if (!task)
        return NULL;
    tasks[td->ntasks++] = (task_slot_t){st, partition, task};
    return task;
}

/* The stored record h names, as a task reads it (headers in *hdrs, the topic's name in name). */
static rill_record_t held_record(const rill_test_driver_t *td, const held_t *h,
                                 rill_headers_t *hdrs, char *name, size_t name_size)
{
    const stored_t *s = &td->topics[h->topic].recs[h->rec];
    snprintf(name, name_size, "%s", td->topics[h->topic].name);
    *hdrs = (rill_headers_t){s->rec.headers, s->rec.header_count, NULL};
    return (rill_record_t){s->rec.key, s->rec.value,     s->rec.timestamp, hdrs,
                           name,       s->rec.partition, s->offset};
}

/* Returns whether a record of task waits (held back, so the ones after it wait too). */
static bool task_held(const rill_test_driver_t *td, const rill_task_t *task)
{
    for (size_t i = 0; i < td->nheld; i++)
        if (td->held[i].task == task)
            return true;
    return false;
}

static int hold(rill_test_driver_t *td, const held_t *h)
{
    held_t *held = rill_realloc(td->held, (td->nheld + 1) * sizeof *held);
    if (!held)
        return RILL_ENOMEM;
    td->held = held;
    held[td->nheld++] = *h;
    return 0;
}

/* Runs the record h names through its task; RILL_TASK_BACKOFF when the task backs off. */
static int run_held(rill_test_driver_t *td, const held_t *h)
{
    rill_headers_t hdrs;
    char name[512];
    rill_record_t raw = held_record(td, h, &hdrs, name, sizeof name);
    int64_t due;
    int rc = h->source >= 0 ? rill__task_process(h->task, h->source, &raw)
                            : rill__task_process_retry(h->task, &raw, td->now, &due);
    if (rc && rc != RILL_TASK_BACKOFF)
        snprintf(td->error, sizeof td->error, "%s", rill__task_error(h->task));
    return rc;
}

/* Runs h now, or holds it when its task waits or backs off (as the app pauses a task that
 * backs off, while the others go on). */
static int run_or_hold(rill_test_driver_t *td, const held_t *h)
{
    if (task_held(td, h->task))
        return hold(td, h);
    int rc = run_held(td, h);
    return rc == RILL_TASK_BACKOFF ? hold(td, h) : rc;
}

/* Runs the held records whose task's backoff has ended, in order; a task that backs off again
 * keeps its records. */
static int run_due_held(rill_test_driver_t *td)
{
    size_t keep = 0;
    for (size_t i = 0; i < td->nheld; i++) {
        held_t h = td->held[i];
        bool waits = false;
        for (size_t k = 0; k < keep && !waits; k++)
            waits = td->held[k].task == h.task;
        int64_t until = rill__task_backoff_until(h.task);
        int rc = 0;
        if (!waits && until <= td->now) {
            rill__task_backoff_end(h.task);
            rc = run_held(td, &h);
            if (rc == 0)
                continue;
        }
        td->held[keep++] = h;
        if (rc && rc != RILL_TASK_BACKOFF) {
            memmove(&td->held[keep], &td->held[i + 1], (td->nheld - i - 1) * sizeof h);
            td->nheld = keep + td->nheld - i - 1;
            return rc;
        }
    }
    td->nheld = keep;
    return 0;
}

/* Runs record rec of topic ti through the task reading (topic, partition). */
static int deliver(rill_test_driver_t *td, size_t ti, size_t ri)
{
    rill_headers_t hdrs;
    char topic[512];
    held_t h = {ti, ri, NULL, 0};
    rill_record_t raw = held_record(td, &h, &hdrs, topic, sizeof topic);
    int st, g = rill__global_find_topic(td->global, topic);
    if (g >= 0) {
        int rc = rill__global_apply(td->global, (size_t)g, &raw, 1);
        if (rc)
            snprintf(td->error, sizeof td->error, "%s", rill__global_error(td->global));
        return rc;
    }
    if (rill__topology_find_source(td->topo, td->env.application_id, topic, &st, &h.source))
        return 0; /* nobody reads this topic: it is only an output */
    int rc;
    if (!(h.task = task_for(td, st, raw.partition, &rc)))
        return rc;
    return run_or_hold(td, &h);
}

/* Runs record ri of retry topic ti through the task that first read it, when it is due by the
 * driver's wall clock; *fed says whether it was (a record not due yet holds up its topic only:
 * every record there has the same delay, so the later ones are not due either). */
static int deliver_retry(rill_test_driver_t *td, size_t ti, size_t ri, bool *fed)
{
    rill_headers_t hdrs;
    char name[512];
    held_t h = {ti, ri, NULL, -1};
    rill_record_t raw = held_record(td, &h, &hdrs, name, sizeof name);
    int source, rc, st = rill__retry_subtopology(td->topo, td->env.application_id, &raw, &source);
    *fed = false;
    if (st < 0) {
        snprintf(td->error, sizeof td->error,
                 "the record at topic '%s' partition %d offset %lld of a retry topic names no "
                 "topic of the topology",
                 raw.topic, raw.partition, (long long)raw.offset);
        return RILL_EINVAL;
    }
    if (!(h.task = task_for(td, st, raw.partition, &rc)))
        return rc;
    if (!task_held(td, h.task)) {
        int64_t due;
        rc = rill__task_process_retry(h.task, &raw, td->now, &due);
        if (rc == RILL_RETRY_NOT_DUE)
            return 0;
        *fed = true;
        if (rc == RILL_TASK_BACKOFF)
            return hold(td, &h);
        if (rc)
            snprintf(td->error, sizeof td->error, "%s", rill__task_error(h.task));
        return rc;
    }
    *fed = true;
    return hold(td, &h);
}

/* Feeds the records of retry topics that are due to their tasks. */
static int drain_retries(rill_test_driver_t *td, bool *again)
{
    for (size_t i = 0; i < td->ntopics; i++) {
        bool fed = true;
        while (fed && td->topics[i].retry && td->topics[i].fed < td->topics[i].n) {
            int rc = deliver_retry(td, i, td->topics[i].fed, &fed);
            if (rc)
                return rc;
            if (fed) {
                td->topics[i].fed++;
                *again = true;
            }
        }
    }
    return 0;
}

/* Feeds records written to internal topics to their readers until none is left, and those
 * written to a global store's topic to the store (as Kafka Streams' driver does); and the due
 * records of retry topics. */
static int drain_internal(rill_test_driver_t *td)
{
    bool again = true;
    while (again) {
        again = false;
        int rc = drain_retries(td, &again);
        if (rc)
            return rc;
        for (size_t i = 0; i < td->ntopics; i++) {
            /* td->topics may move while delivering: index it afresh each time. */
            while ((td->topics[i].internal || td->topics[i].global) &&
                   td->topics[i].fed < td->topics[i].n) {
                int rc = deliver(td, i, td->topics[i].fed++);
                if (rc)
                    return rc;
                again = true;
            }
        }
    }
    return 0;
}

/* Like Kafka Streams' driver, which commits after every record: feeds internal topics, then
 * writes every task's record cache through (which may feed internal topics again). */
static int drain_and_flush(rill_test_driver_t *td)
{
    for (;;) {
        int rc = drain_internal(td);
        if (rc)
            return rc;
        uint64_t before = 0, after = 0;
        for (size_t i = 0; i < td->ntopics; i++)
            before += td->topics[i].n;
        for (size_t i = 0; i < td->ntasks; i++)
            if ((rc = rill__task_flush(td->tasks[i].task))) {
                snprintf(td->error, sizeof td->error, "%s", rill__task_error(td->tasks[i].task));
                return rc;
            }
        for (size_t i = 0; i < td->ntopics; i++)
            after += td->topics[i].n;
        if (after == before)
            return 0;
    }
}

int rill_test_driver_pipe_headers(rill_test_driver_t *td, const char *topic, int32_t partition,
                                  rill_buf_t key, rill_buf_t value, int64_t timestamp,
                                  const rill_header_t *headers, size_t header_count)
{
    if (!td || !topic)
        return RILL_EINVAL;
    topic_t *t = topic_get(td, topic);
    if (!t)
        return RILL_ENOMEM;
    if (partition < 0)
        partition = partition_for(&key, t->partitions);
    if (partition >= t->partitions) {
        snprintf(td->error, sizeof td->error, "topic '%s' has %d partitions; cannot pipe into %d",
                 topic, t->partitions, partition);
        return RILL_EINVAL;
    }
    /* Input records are remembered like any other, so their offsets are real positions. */
    rill_headers_t hdrs = {headers, header_count, NULL};
    int rc = collector_send(td, topic, partition, &key, &value, timestamp, &hdrs);
    if (rc)
        return rc;
    t = topic_find(td, topic);
    t->read = t->n; /* piped input is not output */
    t->fed = t->n;
    td->error[0] = 0;
    if ((rc = deliver(td, (size_t)(t - td->topics), t->n - 1)))
        return rc;
    return drain_and_flush(td);
}

int rill_test_driver_pipe(rill_test_driver_t *td, const char *topic, int32_t partition,
                          rill_buf_t key, rill_buf_t value, int64_t timestamp)
{
    return rill_test_driver_pipe_headers(td, topic, partition, key, value, timestamp, NULL, 0);
}

int rill_test_driver_pipe_str(rill_test_driver_t *td, const char *topic, const char *key,
                              const char *value, int64_t timestamp)
{
    return rill_test_driver_pipe(td, topic, -1, rill_buf_str(key), rill_buf_str(value), timestamp);
}

int rill_test_driver_advance_wall_clock(rill_test_driver_t *td, int64_t ms)
{
    if (!td || ms < 0)
        return RILL_EINVAL;
    td->now += ms;
    int held = run_due_held(td);
    if (held)
        return held;
    for (size_t i = 0; i < td->ntasks; i++) {
        int rc = rill__task_punctuate(td->tasks[i].task, td->now);
        if (rc) {
            snprintf(td->error, sizeof td->error, "%s", rill__task_error(td->tasks[i].task));
            return rc;
        }
    }
    return drain_and_flush(td);
}

int rill_test_driver_read(rill_test_driver_t *td, const char *topic, rill_test_record_t *out)
{
    topic_t *t = td && topic ? topic_find(td, topic) : NULL;
    if (!t || t->read >= t->n)
        return RILL_ENOENT;
    *out = t->recs[t->read++].rec;
    return 0;
}

size_t rill_test_driver_unread(const rill_test_driver_t *td, const char *topic)
{
    const topic_t *t = td && topic ? topic_find(td, topic) : NULL;
    return t ? t->n - t->read : 0;
}

const char *rill_test_driver_error(const rill_test_driver_t *td)
{
    return td ? td->error : "";
}

int64_t rill_test_driver_metric(const rill_test_driver_t *td, const char *name)
{
    /* The tasks' counters, as the app reports them (engine_int.h); the app's thread metrics
     * (records-produced, commits...) are not the driver's. */
    int index = td ? rill__metric_index(name) : -1;
    if (index < 0 || index >= RILL__TASK_COUNTERS)
        return -1;
    int64_t sum = 0;
    for (size_t i = 0; i < td->ntasks; i++)
        sum += (int64_t)rill__task_counter(rill__task_metrics(td->tasks[i].task), index);
    return sum;
}

/* The task of the store's sub-topology for partition, or NULL. */
static rill_task_t *store_task(rill_test_driver_t *td, const char *store, int32_t partition)
{
    int i = td && store ? rill_topology_find_store(td->topo, store) : -1, st;
    if (i < 0 || !rill_topology_store(td->topo, i, &st))
        return NULL;
    for (size_t k = 0; k < td->ntasks; k++)
        if (td->tasks[k].st == st && td->tasks[k].partition == partition)
            return td->tasks[k].task;
    return NULL;
}

rill_store_t *rill_test_driver_kv_store(rill_test_driver_t *td, const char *store,
                                        int32_t partition)
{
    rill_store_t *global = td ? rill__global_store(td->global, store) : NULL;
    if (global)
        return global; /* one for every partition */
    rill_task_t *task = store_task(td, store, partition);
    return task ? rill__task_kv_store(task, store) : NULL;
}

rill_window_store_t *rill_test_driver_window_store(rill_test_driver_t *td, const char *store,
                                                   int32_t partition)
{
    rill_task_t *task = store_task(td, store, partition);
    return task ? rill__task_window_store(task, store) : NULL;
}

rill_session_store_t *rill_test_driver_session_store(rill_test_driver_t *td, const char *store,
                                                     int32_t partition)
{
    rill_task_t *task = store_task(td, store, partition);
    return task ? rill__task_session_store(task, store) : NULL;
}
