/*
 * The task runtime: one sub-topology instantiated for one partition. A record enters through a
 * source (deserialized into the task's arena), travels depth-first through the processors by
 * direct calls, and leaves through sinks into the driver's collector. The arena is reset when
 * the record is done, so in steady state nothing here allocates.
 */
#include "operators_int.h"

#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

/* ---- context ---- */

/* Explains a failure that inst's code (what: "process", "init", a punctuator) returned without
 * rill_context_fail: it names the node, the code and, when rec is given, the record, so an app
 * never fails with an empty message. A reason given by rill_context_fail is kept. Returns rc.
 * Cold and out of line, so rill__forward_one stays small enough to inline on the record path. */
__attribute__((cold, noinline)) static int unexplained(node_inst_t *inst, int rc, const char *what,
                                                       const rill_record_t *rec)
{
    rill_task_t *task = inst->ctx.task;
    if (task->error[0]) {
        /* A store said why (into the task's error): this node is where it failed. */
        if (!task->failed_node) {
            const char *why = task->error;
            size_t id_len = strlen(task->id);
            if (strncmp(why, "task ", 5) == 0 && strncmp(why + 5, task->id, id_len) == 0 &&
                (why[5 + id_len] == ',' || why[5 + id_len] == ':') && why[6 + id_len] == ' ')
                why += 7 + id_len;
            task->failed_node = inst->node->name;
            snprintf(task->failed_why, sizeof task->failed_why, "%.700s", why);
        }
        return rc;
    }
    char where[400] = "";
    if (rec)
        snprintf(where, sizeof where, " at the record at topic '%s' partition %d offset %lld",
                 rec->topic ? rec->topic : "(none)", rec->partition, (long long)rec->offset);
    snprintf(task->failed_why, sizeof task->failed_why,
             "%s returned %d (%s, %s)%s without calling rill_context_fail, so it gave no reason",
             what, rc, rill_err_name(rc), rill_strerror(rc), where);
    snprintf(task->error, sizeof task->error, "task %s, node '%s': %s", task->id, inst->node->name,
             task->failed_why);
    if (!task->failed_node) /* the first failure of the record is its cause */
        task->failed_node = inst->node->name;
    return rc;
}

/* Counts a record of a node at metrics.recording.level DEBUG: out of line and cold, so that at
 * INFO the record path pays a test and a branch. */
__attribute__((noinline, cold)) static void count_node(node_inst_t *inst)
{
    cell_add(&inst->processed, 1);
}

/* One node's share of a record; always inlined into rill_context_forward (the record path),
 * which gcc stops doing by itself once the node count's test is in. */
static inline __attribute__((always_inline)) int forward_one(node_inst_t *child,
                                                             const rill_record_t *rec)
{
    const rill_processor_ops *ops = child->node->ops;
    if (__builtin_expect(child->metered, 0))
        count_node(child);
    if (!ops || !ops->process)
        return rill_context_forward(&child->ctx, rec);
    int rc = ops->process(&child->ctx, child->state, rec);
    /* The deepest node that fails explains first; the nodes above find the error set. */
    return rc ? unexplained(child, rc, "its function", rec) : 0;
}

int rill__forward_one(node_inst_t *child, const rill_record_t *rec)
{
    return forward_one(child, rec);
}

int rill_context_forward(rill_context_t *ctx, const rill_record_t *rec)
{
    node_inst_t *inst = ctx->inst;
    for (size_t i = 0; i < inst->nchildren; i++) {
        int rc = forward_one(inst->children[i], rec);
        if (rc)
            return rc;
    }
    return 0;
}

int rill__child_index(const node_inst_t *inst, const char *name)
{
    for (size_t i = 0; i < inst->nchildren; i++)
        if (strcmp(inst->children[i]->node->name, name) == 0)
            return (int)i;
    return -1;
}

int rill_context_forward_to(rill_context_t *ctx, const char *child, const rill_record_t *rec)
{
    int i = rill__child_index(ctx->inst, child);
    if (i < 0)
        return rill_context_fail(ctx, RILL_ENOENT, "node has no child called '%s'", child);
    return rill__forward_one(ctx->inst->children[i], rec);
}

int rill_context_schedule(rill_context_t *ctx, int64_t interval_ms, rill_punctuation_t type,
                          rill_punctuate_cb cb)
{
    rill_task_t *task = ctx->task;
    if (interval_ms <= 0 || !cb || !task->initialising)
        return RILL_EINVAL;
    punctuator_t *p = rill_realloc(task->punctuators, (task->npunct + 1) * sizeof *p);
    if (!p)
        return RILL_ENOMEM;
    task->punctuators = p;
    p[task->npunct++] = (punctuator_t){
        .inst = ctx->inst,
        .interval = interval_ms,
        .type = type,
        .cb = cb,
        .next = type == RILL_PUNCTUATE_WALL_CLOCK ? rill_context_wall_clock(ctx) + interval_ms
                                                  : INT64_MIN,
    };
    return 0;
}

int rill_context_fail(rill_context_t *ctx, int code, const char *fmt, ...)
{
    rill_task_t *task = ctx->task;
    char msg[768];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    snprintf(task->error, sizeof task->error, "task %s, node '%s': %s", task->id,
             ctx->inst->node->name, msg);
    if (!task->failed_node) { /* the first failure of the record is its cause */
        task->failed_node = ctx->inst->node->name;
        snprintf(task->failed_why, sizeof task->failed_why, "%s", msg);
    }
    return code ? code : RILL_EPROCESS;
}

void rill__op_skip(rill_context_t *ctx, const rill_record_t *rec, const char *why,
                   uint64_t *logged_at)
{
    uint64_t n = ++ctx->task->metrics.skipped;
    ctx->task->metrics.skipped_by[RILL_SKIP_DROPPED]++;
    rill_task_t *task = ctx->task;
    if (task->env.dlq_dropped_records) {
        int rc = rill__task_dropped_dead_letter(task, ctx->inst->node->name, why);
        if (rc && !task->sink_rc)
            task->sink_rc = rc; /* reported for the record, as a sink's failure */
    }
    if (*logged_at && n - *logged_at < 1000)
        return;
    *logged_at = n;
    rill_log(
        RILL_LOG_WARN, "task",
        "task %s, node '%s': skipped the record at topic '%s' partition %d offset %lld: %s%s%s "
        "(records-skipped counts them; this line comes once per 1,000)",
        ctx->task->id, ctx->inst->node->name, rec->topic ? rec->topic : "(none)", rec->partition,
        (long long)rec->offset, why,
        task->env.dlq_dropped_records ? "; in the dead letter queue " : "",
        task->env.dlq_dropped_records ? task->env.dlq_topic : "");
}

rill_arena_t *rill_context_arena(rill_context_t *ctx)
{
    return ctx->task->arena;
}

const char *rill_context_application_id(const rill_context_t *ctx)
{
    return ctx->task->env.application_id;
}

const char *rill_context_task_id(const rill_context_t *ctx)
{
    return ctx->task->id;
}

int32_t rill_context_partition(const rill_context_t *ctx)
{
    return ctx->task->partition;
}

const char *rill_context_node_name(const rill_context_t *ctx)
{
    return ctx->inst->node->name;
}

int64_t rill_context_stream_time(const rill_context_t *ctx)
{
    return ctx->task->stream_time;
}

int64_t rill__task_wall_clock(const rill_task_t *task)
{
    const rill_task_env_t *env = &task->env;
    return env->wall_clock ? env->wall_clock(env->wall_clock_ud) : rill_wall_clock_ms();
}

int64_t rill_context_wall_clock(const rill_context_t *ctx)
{
    return rill__task_wall_clock(ctx->task);
}

int rill_context_forward_change(rill_context_t *ctx, const rill_record_t *rec, rill_buf_t old_value)
{
    rill_task_t *task = ctx->task;
    rill_buf_t saved = task->old_value;
    task->old_value = old_value;
    int rc = rill_context_forward(ctx, rec);
    task->old_value = saved;
    return rc;
}

rill_buf_t rill_context_old_value(const rill_context_t *ctx)
{
    return ctx->task->old_value;
}

void rill_context_drop_late(rill_context_t *ctx, const rill_record_t *rec, int64_t window_start,
                            int64_t window_end)
{
    rill_task_t *task = ctx->task;
    char reason[400];
    snprintf(reason, sizeof reason,
             "task %s, node '%s': dropped a late record (topic '%s' partition %d offset %lld, "
             "timestamp %lld): its window [%lld, %lld) had closed at stream time %lld",
             task->id, ctx->inst->node->name, rec->topic ? rec->topic : "(none)", rec->partition,
             (long long)rec->offset, (long long)rec->timestamp, (long long)window_start,
             (long long)window_end, (long long)task->stream_time);
    task->metrics.late_dropped++;
    /* The first late record, then one line per 1000: enough to see it, not a flood. */
    if (task->metrics.late_dropped == 1 ||
        task->metrics.late_dropped - task->late_logged_at >= 1000) {
        rill_log(RILL_LOG_WARN, "window", "%s (%llu late records so far)", reason,
                 (unsigned long long)task->metrics.late_dropped);
        task->late_logged_at = task->metrics.late_dropped;
    }
    if (task->env.late_record)
        task->env.late_record(task->env.late_record_ud, rec, reason);
    int rc = rill__task_late_dead_letter(task, ctx->inst->node->name, reason);
    if (rc && !task->sink_rc)
        task->sink_rc = rc; /* reported for the record, as a sink's failure */
}

/* ---- the sink processor ---- */

typedef struct {
    char topic[512]; /* resolved: internal topics get the application id */
    int32_t handle;  /* the collector's handle of topic (fixed topics); -1: not yet resolved */
} sink_state_t;

static int sink_init(rill_context_t *ctx, void *arg, void **state)
{
    const node_t *node = ctx->inst->node;
    sink_state_t *s = rill_calloc(1, sizeof *s);
    if (!s)
        return RILL_ENOMEM;
    if (node->topic && node->internal)
        rill__internal_topic(ctx->task->env.application_id, node->topic, s->topic, sizeof s->topic);
    else if (node->topic)
        snprintf(s->topic, sizeof s->topic, "%s", node->topic);
    s->handle = -1;
    *state = s;
    return 0;
}

static int sink_send(rill_context_t *ctx, void *state, const rill_record_t *rec);
static int serialize_failed(rill_context_t *ctx, const char *topic, const char *part,
                            const rill_serde_t *serde, const char *why);
static int send_failed(rill_context_t *ctx, sink_state_t *s, rill_production_failure_t *f,
                       const rill_record_t *rec, const rill_headers_t *headers);

static int sink_process(rill_context_t *ctx, void *state, const rill_record_t *rec)
{
    int rc = sink_send(ctx, state, rec);
    if (rc && !ctx->task->sink_rc)
        ctx->task->sink_rc = rc;
    ctx->task->effects++; /* sent, or tried: a retry in place would send it again */
    return rc;
}

static int sink_send(rill_context_t *ctx, void *state, const rill_record_t *rec)
{
    rill_task_t *task = ctx->task;
    const node_t *node = ctx->inst->node;
    sink_state_t *s = state;
    const char *topic = s->topic;
    if (node->extractor) {
        topic = node->extractor(node->extractor_ud, rec);
        if (!topic || !*topic)
            return rill_context_fail(ctx, RILL_EPROCESS,
                                     "the topic extractor chose no topic for the record from "
                                     "%s-%d@%lld",
                                     rec->topic ? rec->topic : "(none)", rec->partition,
                                     (long long)rec->offset);
    }
    const rill_serde_t *ks = ctx->inst->key_serde, *vs = ctx->inst->value_serde;
    char why[256];
    rill_buf_t key = rec->key, value = rec->value;
    /* What the serdes may know: the topic, and the headers (which they may replace). */
    rill_serde_ctx_t sc = {topic, true, rec->headers, task->arena};
    if (ks) {
        bool null = false;
        task->kbuf.len = 0;
        if (rill_serde_serialize_ctx(ks, &sc, rec->key, &task->kbuf, &null, why, sizeof why))
            return serialize_failed(ctx, topic, "key", ks, why);
        /* An empty value is not a null one: never let a NULL buffer stand for it. */
        key = null ? (rill_buf_t){NULL, 0}
                   : (rill_buf_t){task->kbuf.data ? (void *)task->kbuf.data : "", task->kbuf.len};
    }
    if (vs) {
        bool null = false;
        task->vbuf.len = 0;
        sc.is_key = false;
        if (rill_serde_serialize_ctx(vs, &sc, rec->value, &task->vbuf, &null, why, sizeof why))
            return serialize_failed(ctx, topic, "value", vs, why);
        value = null ? (rill_buf_t){NULL, 0}
                     : (rill_buf_t){task->vbuf.data ? (void *)task->vbuf.data : "", task->vbuf.len};
    }
    int32_t partition = -1;
    const rill_collector_t *col = &task->env.collector;
    if (node->partitioner) {
        int32_t count = col->partition_count(col->opaque, topic);
        if (count <= 0)
            return rill_context_fail(ctx, RILL_EPROCESS,
                                     "cannot partition: the partition count of topic '%s' is "
                                     "unknown",
                                     topic);
        partition = node->partitioner(node->partitioner_ud, topic, rec, count);
        if (partition >= count)
            return rill_context_fail(ctx, RILL_EPROCESS,
                                     "the partitioner chose partition %d of topic '%s', which "
                                     "has %d",
                                     partition, topic, count);
    }
    /* A fixed topic is named to the collector once; a dynamic one on every record. */
    if (!node->extractor && col->resolve && s->handle < 0)
        s->handle = col->resolve(col->opaque, topic);
    int rc = !node->extractor && s->handle >= 0
                 ? col->send_to(col->opaque, s->handle, partition, key.data ? &key : NULL,
                                value.data ? &value : NULL, rec->timestamp, sc.headers)
                 : col->send(col->opaque, topic, partition, key.data ? &key : NULL,
                             value.data ? &value : NULL, rec->timestamp, sc.headers);
    if (rc) {
        rill_production_failure_t f = {topic, partition, key, value, rc, false, false, 0};
        return send_failed(ctx, s, &f, rec, sc.headers);
    }
    return 0;
}

/* The production handler's answer to an output that could not be serialized: 0 (dropped) or
 * the code with the task's error set. */
__attribute__((cold, noinline)) static int serialize_failed(rill_context_t *ctx, const char *topic,
                                                            const char *part,
                                                            const rill_serde_t *serde,
                                                            const char *why)
{
    char what[64], cause[400];
    snprintf(what, sizeof what, "serialize the %s of", part);
    snprintf(cause, sizeof cause, "the %s serde: %s", rill_serde_name(serde), why);
    rill_production_failure_t f = {topic, -1, {NULL, 0}, {NULL, 0}, RILL_ESERDE, false, false, 0};
    int rc = rill__task_production_failed(ctx->task, ctx->inst->node->name, what, &f, cause);
    return rc == RILL_PRODUCTION_RETRY ? RILL_ESERDE : rc; /* not retriable: never */
}

/* The production handler's answer to an output the collector refused (f): sent again while it
 * says retry, else 0 (dropped) or the code with the task's error set. */
__attribute__((cold, noinline)) static int send_failed(rill_context_t *ctx, sink_state_t *s,
                                                       rill_production_failure_t *f,
                                                       const rill_record_t *rec,
                                                       const rill_headers_t *headers)
{
    const rill_collector_t *col = &ctx->task->env.collector;
    const node_t *node = ctx->inst->node;
    const rill_buf_t *key = f->key.data ? &f->key : NULL, *value = f->value.data ? &f->value : NULL;
    for (;;) {
        int cls = col->send_class ? col->send_class(col->opaque) : 0;
        f->retriable = (cls & RILL_SEND_RETRIABLE) != 0;
        f->fatal = (cls & RILL_SEND_FATAL) != 0;
        char why[256];
        snprintf(why, sizeof why, "%s", rill__collector_why(col, f->error));
        int rc = rill__task_production_failed(ctx->task, node->name, "send", f, why);
        if (rc != RILL_PRODUCTION_RETRY)
            return rc;
        f->attempt++;
        f->error = !node->extractor && s->handle >= 0
                       ? col->send_to(col->opaque, s->handle, f->partition, key, value,
                                      rec->timestamp, headers)
                       : col->send(col->opaque, f->topic, f->partition, key, value, rec->timestamp,
                                   headers);
        if (!f->error)
            return 0;
    }
}

const char *rill__collector_why(const rill_collector_t *col, int rc)
{
    const char *why = col->send_error ? col->send_error(col->opaque) : NULL;
    return why && why[0] ? why : rill_strerror(rc);
}

static void sink_close(rill_context_t *ctx, void *state)
{
    rill_free(state);
}

const rill_processor_ops rill__sink_ops = {sink_init, sink_process, sink_close};

/* ---- task ---- */

rill_task_t *rill__task_new(const rill_topology_t *topo, int st, int32_t partition,
                            const rill_task_env_t *env, char *errstr, size_t errstr_size)
{
    return rill__task_open(topo, st, partition, env, NULL, errstr, errstr_size);
}

rill_task_t *rill__task_open(const rill_topology_t *topo, int st, int32_t partition,
                             const rill_task_env_t *env, int *rc, char *errstr, size_t errstr_size)
{
    if (rc)
        *rc = RILL_EPROCESS;
    if (!topo || !topo->built || st < 0 || st >= topo->nsub || !env || !env->application_id ||
        !env->collector.send) {
        snprintf(errstr, errstr_size, "rill__task_new: invalid arguments");
        return NULL;
    }
    rill_task_t *task = rill_calloc(1, sizeof *task);
    if (!task)
        goto oom;
    task->dir_lock = -1;
    task->topo = topo;
    task->st = st;
    task->partition = partition;
    task->env = *env;
    task->stream_time = INT64_MIN;
    snprintf(task->id, sizeof task->id, "%d_%d", st, partition);
    task->ninst = topo->sub_n[st];
    task->insts = rill_calloc(task->ninst, sizeof *task->insts);
    task->by_index = rill_calloc(topo->n, sizeof *task->by_index);
    task->arena = rill_arena_new(16384);
    if (!task->insts || !task->by_index || !task->arena)
        goto oom;
    /* Instances follow the sub-topology's topological order, so parents come first. */
    for (size_t k = 0; k < task->ninst; k++) {
        node_inst_t *inst = &task->insts[k];
        inst->index = topo->sub_order[st][k];
        inst->node = topo->nodes[inst->index];
        inst->metered = env->debug_metrics;
        inst->ctx.task = task;
        inst->ctx.inst = inst;
        task->by_index[inst->index] = inst;
        const rill_serde_t *ks =
            inst->node->key_serde ? inst->node->key_serde : env->default_key_serde;
        const rill_serde_t *vs =
            inst->node->value_serde ? inst->node->value_serde : env->default_value_serde;
        inst->key_serde = ks == rill_serde_bytes() ? NULL : ks;
        inst->value_serde = vs == rill_serde_bytes() ? NULL : vs;
        inst->children = rill_calloc(inst->node->nchildren + 1, sizeof *inst->children);
        if (!inst->children)
            goto oom;
    }
    for (size_t k = 0; k < task->ninst; k++) {
        node_inst_t *inst = &task->insts[k];
        for (size_t c = 0; c < inst->node->nchildren; c++)
            for (size_t j = 0; j < task->ninst; j++)
                if (task->insts[j].index == inst->node->children[c])
                    inst->children[inst->nchildren++] = &task->insts[j];
    }
    int orc = rill__task_open_stores(task, errstr, errstr_size);
    if (orc) {
        if (rc)
            *rc = orc;
        rill__task_destroy(task);
        return NULL;
    }
    task->initialising = true;
    for (size_t k = 0; k < task->ninst; k++) {
        node_inst_t *inst = &task->insts[k];
        const rill_processor_ops *ops = inst->node->ops;
        int rc = ops && ops->init ? ops->init(&inst->ctx, inst->node->arg, &inst->state) : 0;
        if (rc) {
            unexplained(inst, rc, "init", NULL);
            snprintf(errstr, errstr_size, "%s", task->error);
            task->initialising = false;
            rill__task_destroy(task);
            return NULL;
        }
        inst->initialised = true;
    }
    task->initialising = false;
    return task;
oom:
    if (rc)
        *rc = RILL_ENOMEM;
    snprintf(errstr, errstr_size, "out of memory creating task %d_%d", st, partition);
    rill__task_destroy(task);
    return NULL;
}

struct task_shared {
    const void *key;
    struct task_shared *next;
    max_align_t block[];
};

void *rill__task_shared(rill_context_t *ctx, const void *key, size_t size)
{
    rill_task_t *task = ctx->task;
    for (struct task_shared *s = task->shared; s; s = s->next)
        if (s->key == key)
            return s->block;
    struct task_shared *s = rill_calloc(1, sizeof *s + size);
    if (!s)
        return NULL;
    s->key = key;
    s->next = task->shared;
    task->shared = s;
    return s->block;
}

void rill__task_destroy(rill_task_t *task)
{
    if (!task)
        return;
    for (size_t k = task->ninst; task->insts && k-- > 0;) {
        node_inst_t *inst = &task->insts[k];
        const rill_processor_ops *ops = inst->node ? inst->node->ops : NULL;
        if (inst->initialised && ops && ops->close)
            ops->close(&inst->ctx, inst->state);
        rill_free(inst->children);
    }
    rill__task_close_stores(task);
    for (struct task_shared *s = task->shared, *next; s; s = next) {
        next = s->next;
        rill_free(s);
    }
    rill_free(task->insts);
    rill_free(task->by_index);
    rill_free(task->punctuators);
    rill_arena_destroy(task->arena);
    rill_arena_destroy(task->flush_arena);
    rill_bytes_free(&task->kbuf);
    rill_bytes_free(&task->vbuf);
    rill_free(task);
}

static node_inst_t *inst_of(rill_task_t *task, int index)
{
    if (index < 0 || (size_t)index >= task->topo->n)
        return NULL;
    return task->by_index[index];
}

/* Bytes need no decoding and no encoding: the hot path skips the serde call (and, at the sink,
 * the copy into the scratch buffer). */
static inline int decode(const rill_serde_t *serde, const rill_serde_ctx_t *ctx, rill_buf_t bytes,
                         rill_arena_t *arena, rill_buf_t *value, char *why, size_t why_size)
{
    if (!serde) { /* bytes */
        *value = bytes;
        return 0;
    }
    return rill_serde_deserialize_ctx(serde, ctx, bytes, arena, value, why, why_size);
}

/* Returns whether a processor's error code is the record's fault (the processing handler
 * decides), not the task's: out of memory, a store or the cluster failing stop the task. */
static bool processing_error(int rc)
{
    return rc != RILL_ENOMEM && rc != RILL_EIO && rc != RILL_EKAFKA && rc != RILL_ETIMEDOUT &&
           rc != RILL_ECLOSED && rc != RILL_EBUSY && rc != RILL_ESTATE;
}

static int run_punctuator(rill_task_t *task, punctuator_t *p, int64_t now)
{
    task->metrics.punctuations++;
    task->error[0] = '\0';
    int rc = p->cb(&p->inst->ctx, p->inst->state, now);
    return rc ? unexplained(p->inst, rc, "its punctuator", NULL) : 0;
}

static int process_raw(rill_task_t *task, int source, const rill_record_t *raw);

int rill__task_process(rill_task_t *task, int source, const rill_record_t *raw)
{
    task->raw_in = raw; /* for the dead letter of a late record; on the caller's stack */
    int rc = process_raw(task, source, raw);
    task->raw_in = NULL;
    return rc;
}

static int process_raw(rill_task_t *task, int source, const rill_record_t *raw)
{
    rill_arena_reset(task->arena);
    node_inst_t *inst = inst_of(task, source);
    if (!inst || inst->node->kind != NODE_SOURCE) {
        snprintf(task->error, sizeof task->error, "task %s has no source node %d", task->id,
                 source);
        return RILL_EINVAL;
    }
    const node_t *node = inst->node;
    const rill_serde_t *ks = inst->key_serde, *vs = inst->value_serde;
    rill_record_t rec = *raw;
    char why[512];
    const char *what = "cannot deserialize the key";
    rill_serde_ctx_t sc = {raw->topic, true, raw->headers, task->arena};
    int rc = decode(ks, &sc, raw->key, task->arena, &rec.key, why, sizeof why);
    if (rc == 0) {
        what = "cannot deserialize the value";
        sc.is_key = false;
        rc = decode(vs, &sc, raw->value, task->arena, &rec.value, why, sizeof why);
    }
    if (rc == RILL_ENOMEM) {
        /* Not the record's fault: stop rather than skip it. */
        snprintf(task->error, sizeof task->error, "task %s: out of memory deserializing", task->id);
        return rc;
    }
    if (rc)
        return rill__task_failed(task, raw, RILL_ERROR_DESERIALIZATION, node->name, RILL_ESERDE,
                                 what, why);
    rill_timestamp_fn tsfn = node->timestamp_fn ? node->timestamp_fn : task->env.timestamp_fn;
    if (tsfn) {
        void *ud = node->timestamp_fn ? node->timestamp_ud : task->env.timestamp_ud;
        /* Before any record, Kafka Streams passes -1 as the partition time. */
        rec.timestamp = tsfn(ud, &rec, task->stream_time == INT64_MIN ? -1 : task->stream_time);
    }
    if (rec.timestamp < 0) {
        snprintf(why, sizeof why, "the timestamp %lld is negative", (long long)rec.timestamp);
        return rill__task_failed(task, raw, RILL_ERROR_DESERIALIZATION, node->name, RILL_EINVAL,
                                 "invalid timestamp", why);
    }
    if (rec.timestamp > task->stream_time)
        task->stream_time = rec.timestamp;
    task->metrics.processed++;
    if (inst->metered)
        cell_add(&inst->processed, 1);
    task->sink_rc = 0;
    task->failed_node = NULL;
    task->error[0] = '\0'; /* so a failure below without a reason is told from one with */
    task->processing = true;
    task->effects_at_start = task->effects;
    rc = rill_context_forward(&inst->ctx, &rec);
    if (!rc)
        rc = task->sink_rc;
    if (rc) {
        task->processing = false;
        if (task->sink_rc || !processing_error(rc))
            return rc;
        /* A node said why with rill_context_fail, or a store into the task's error, or none. */
        char why2[sizeof task->error];
        snprintf(why2, sizeof why2, "%s",
                 task->failed_node ? task->failed_why
                 : task->error[0]  ? task->error
                                   : rill_strerror(rc));
        return rill__task_failed(task, raw, RILL_ERROR_PROCESSING, task->failed_node, rc, NULL,
                                 why2);
    }
    /* Stream-time punctuators fire once per advance past their next due time. */
    for (size_t i = 0; i < task->npunct; i++) {
        punctuator_t *p = &task->punctuators[i];
        if (p->type != RILL_PUNCTUATE_STREAM_TIME)
            continue;
        if (p->next == INT64_MIN)
            p->next = task->stream_time;
        if (task->stream_time >= p->next) {
            rill_arena_reset(task->arena);
            if ((rc = run_punctuator(task, p, task->stream_time)) || (rc = task->sink_rc)) {
                task->processing = false;
                return rc;
            }
            /* One step to the next due time, however far stream time jumped. */
            p->next += ((task->stream_time - p->next) / p->interval + 1) * p->interval;
        }
    }
    task->processing = false;
    return 0;
}

int rill__task_punctuate(rill_task_t *task, int64_t now)
{
    for (size_t i = 0; i < task->npunct; i++) {
        punctuator_t *p = &task->punctuators[i];
        if (p->type != RILL_PUNCTUATE_WALL_CLOCK || now < p->next)
            continue;
        rill_arena_reset(task->arena);
        task->sink_rc = 0;
        task->processing = true;
        int rc = run_punctuator(task, p, now);
        task->processing = false;
        if (!rc)
            rc = task->sink_rc;
        if (rc)
            return rc;
        p->next += ((now - p->next) / p->interval + 1) * p->interval;
    }
    return 0;
}

int64_t rill__task_next_punctuation(const rill_task_t *task)
{
    /* The end of an in-place retry's backoff wakes the driver as a punctuation does. */
    int64_t next = task->backoff_until ? task->backoff_until : INT64_MAX;
    for (size_t i = 0; i < task->npunct; i++)
        if (task->punctuators[i].type == RILL_PUNCTUATE_WALL_CLOCK &&
            task->punctuators[i].next < next)
            next = task->punctuators[i].next;
    return next;
}

const char *rill__task_error(const rill_task_t *task)
{
    return task->error;
}

const rill_task_metrics_t *rill__task_metrics(const rill_task_t *task)
{
    return &task->metrics;
}

int64_t rill__task_stream_time(const rill_task_t *task)
{
    return task->stream_time;
}

const char *rill__task_id(const rill_task_t *task)
{
    return task->id;
}

size_t rill__task_node_count(const rill_task_t *task)
{
    return task->ninst;
}

const char *rill__task_node_metrics(const rill_task_t *task, size_t i, const cell_t **processed)
{
    *processed = &task->insts[i].processed;
    return task->insts[i].node->name;
}
