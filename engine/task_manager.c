/*
 * The task manager. A task is (sub-topology, partition); its slots are the (topic, partition)s
 * that feed it. A new task restores before it processes: its slots are inactive and their
 * partitions paused on the consumer until the changelog reader says it is done, then resumed
 * (and sought back to the first record dropped meanwhile, if librdkafka delivered one before the
 * pause took effect). An eager rebalance revokes every partition and assigns them again: a task
 * revoked this way is suspended (kept open, its stores with it) and resumed if the assignment
 * gives it back, instead of being closed and made and restored again.
 */
#include "task_manager.h"

#include "internal_topics.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

/* Another stream thread of this instance may still hold a task's stores (RocksDB's lock file):
 * it closes them when it handles its own revocation. The task is retried every step, as Kafka
 * Streams retries a task whose state directory is locked, but not for ever. */
#define TASK_LOCK_WAIT_MS 30000
#define TASK_RETRY_MS     100

typedef enum { T_WAITING, T_RESTORING, T_RUNNING, T_SUSPENDED } task_state_t;

/* The grouped slots of one task: group_pg/group_slots[start .. start + n). */
typedef struct {
    size_t start, n;
} group_t;

typedef struct {
    int st;
    int32_t partition;
    rill_task_t *task; /* NULL while waiting */
    task_state_t state;
    int64_t wait_until, next_try;         /* monotonic ms, while waiting */
    cell_t pub[RILL__TASK_COUNTERS];      /* the task's counters for the metrics scrape */
    cell_t pub_skipped[RILL_SKIP_CAUSES]; /* and its skipped records by cause */
    rill_task_metrics_t base; /* the counters of the tasks a rewind replaced in this ref: its
                               * published counters go on from them, never back */
} task_ref_t;

struct task_manager {
    const thread_ctx_t *ctx;
    const char *name;
    const rill_task_env_t *env;
    changelog_reader_t *reader;
    rd_kafka_t *consumer;
    rd_kafka_queue_t *cq; /* the consumer's queue (what revoked partition queues go back to) */
    int wake_fd;
    void (*closing)(void *ud, rill_task_t *task, int32_t partition);
    int64_t *(*ends)(void *ud, rill_task_t *task, int32_t partition);
    void *closing_ud;
    slot_t *slots;
    size_t nslots, last_slot;
    /* The tasks fed by several slots (find_groups): rebuilt when the slots change. */
    pg_partition_t **group_pg;
    slot_t **group_slots;
    group_t *groups;
    size_t ngroups, group_cap;
    /* The slots of one topic (the last one seen) by partition: most apps read one topic, or
     * runs of one, so most records find their slot in one load. Rebuilt when the slots change. */
    const rd_kafka_topic_t *by_partition_rkt;
    slot_t **by_partition;
    int32_t by_partition_n, by_partition_cap;
    task_ref_t *tasks;
    size_t ntasks;
    rill_task_metrics_t closed; /* the counters of tasks already closed */
};

task_manager_t *rill__tm_new(const thread_ctx_t *ctx, const char *name, const rill_task_env_t *env)
{
    task_manager_t *tm = rill_calloc(1, sizeof *tm);
    if (tm) {
        tm->wake_fd = -1;
        tm->ctx = ctx;
        tm->name = name;
        tm->env = env;
    }
    return tm;
}

void rill__tm_bind(task_manager_t *tm, changelog_reader_t *reader, rd_kafka_t *consumer,
                   void (*closing)(void *ud, rill_task_t *task, int32_t partition),
                   int64_t *(*ends)(void *ud, rill_task_t *task, int32_t partition), void *ud)
{
    tm->reader = reader;
    tm->consumer = consumer;
    tm->closing = closing;
    tm->ends = ends;
    tm->closing_ud = ud;
}

/* Marks the slots that share their task with another slot (their records are ordered by
 * timestamp across the task's partitions, see partition_group.h) and lists them by task, once
 * per change of the slots, for the drain. Room for the lists grows only with an assignment
 * (a revocation has fewer slots); returns 0 or RILL_ENOMEM. */
static int find_groups(task_manager_t *tm)
{
    if (tm->nslots > tm->group_cap) {
        pg_partition_t **pg = rill_realloc(tm->group_pg, tm->nslots * sizeof *pg);
        if (pg)
            tm->group_pg = pg;
        slot_t **gs = pg ? rill_realloc(tm->group_slots, tm->nslots * sizeof *gs) : NULL;
        group_t *g = gs ? rill_realloc(tm->groups, tm->nslots * sizeof *g) : NULL;
        if (gs)
            tm->group_slots = gs;
        if (g)
            tm->groups = g;
        if (!g) {
            tm->ngroups = 0;
            return RILL_ENOMEM;
        }
        tm->group_cap = tm->nslots;
    }
    for (size_t i = 0; i < tm->nslots; i++) {
        slot_t *a = &tm->slots[i];
        a->grouped = a->pq != NULL; /* a slot keeps the queue it was given */
        for (size_t j = 0; j < tm->nslots && !a->grouped && !a->retry; j++)
            a->grouped =
                j != i && tm->slots[j].st == a->st && tm->slots[j].partition == a->partition;
    }
    /* Each group from its first slot: its members in slot order. */
    size_t at = 0;
    tm->ngroups = 0;
    for (size_t i = 0; i < tm->nslots; i++) {
        const slot_t *a = &tm->slots[i];
        bool first = a->grouped;
        for (size_t j = 0; j < i && first; j++)
            first = !(tm->slots[j].st == a->st && tm->slots[j].partition == a->partition);
        if (!first)
            continue;
        group_t *g = &tm->groups[tm->ngroups++];
        g->start = at;
        for (size_t j = i; j < tm->nslots; j++)
            if (tm->slots[j].st == a->st && tm->slots[j].partition == a->partition) {
                tm->group_pg[at] = &tm->slots[j].pg;
                tm->group_slots[at++] = &tm->slots[j];
            }
        g->n = at - g->start;
    }
    return 0;
}

/* Drops a slot's queued records: whoever takes the partition next fetches them again (what its
 * partition queue still holds is dropped by librdkafka at the seek or pause that follows). */
static void drop_queued(slot_t *s)
{
    rill__rq_clear(&s->pg.queue);
}

/* Gives a grouped slot its partition's own queue, taken out of the consumer's (before the
 * assignment starts fetching: librdkafka then never forwards it), waking the loop. */
static void take_partition_queue(task_manager_t *tm, slot_t *s)
{
    if (!s->grouped || s->pq || !tm->consumer)
        return;
    s->pq = rd_kafka_queue_get_partition(tm->consumer, s->topic, s->partition);
    if (!s->pq)
        return; /* unknown partition: its records come through the consumer's queue */
    rd_kafka_queue_forward(s->pq, NULL);
    if (tm->wake_fd >= 0)
        rd_kafka_queue_io_event_enable(s->pq, tm->wake_fd, "p", 1);
}

/* Hands a revoked slot's partition queue back to the consumer's queue. */
static void give_back_partition_queue(task_manager_t *tm, slot_t *s)
{
    if (!s->pq)
        return;
    rd_kafka_queue_io_event_enable(s->pq, -1, NULL, 0);
    rd_kafka_queue_forward(s->pq, tm->cq);
    rd_kafka_queue_destroy(s->pq);
    s->pq = NULL;
}

void rill__tm_set_queues(task_manager_t *tm, rd_kafka_queue_t *cq, int wake_fd)
{
    tm->cq = cq;
    tm->wake_fd = wake_fd;
}

slot_t *rill__tm_slots(task_manager_t *tm, size_t *n)
{
    *n = tm->nslots;
    return tm->slots;
}

size_t rill__tm_group_count(const task_manager_t *tm)
{
    return tm->ngroups;
}

size_t rill__tm_group(task_manager_t *tm, size_t g, pg_partition_t ***parts, slot_t ***slots)
{
    *parts = tm->group_pg + tm->groups[g].start;
    *slots = tm->group_slots + tm->groups[g].start;
    return tm->groups[g].n;
}

void rill__tm_drop_queued(task_manager_t *tm)
{
    for (size_t i = 0; i < tm->nslots; i++) {
        drop_queued(&tm->slots[i]);
        give_back_partition_queue(tm, &tm->slots[i]);
    }
}

static void set_active(task_manager_t *tm, rill_task_t *task, bool active)
{
    for (size_t s = 0; s < tm->nslots; s++)
        if (tm->slots[s].task == task)
            tm->slots[s].active = active;
}

/* Pauses or resumes the slots of task on the consumer; resumed ones are sought back to the first
 * record dropped while they were inactive (or to where a rewind put them). */
static void pause_resume(task_manager_t *tm, rill_task_t *task, bool resume)
{
    if (!tm->consumer)
        return;
    rd_kafka_topic_partition_list_t *list = rd_kafka_topic_partition_list_new(4);
    rd_kafka_topic_partition_list_t *seek = rd_kafka_topic_partition_list_new(4);
    for (size_t s = 0; s < tm->nslots; s++) {
        slot_t *sl = &tm->slots[s];
        if (sl->task != task || sl->active == resume)
            continue;
        rd_kafka_topic_partition_list_add(list, sl->topic, sl->partition);
        int64_t to = sl->next_offset;
        if (sl->dropped_from >= 0 && (to < 0 || sl->dropped_from < to))
            to = sl->dropped_from;
        if (resume && to >= 0)
            rd_kafka_topic_partition_list_add(seek, sl->topic, sl->partition)->offset = to;
        sl->dropped_from = -1;
        sl->pg.at_end = false; /* reported again after the resume */
    }
    if (list->cnt) {
        rd_kafka_resp_err_t err = resume ? rd_kafka_resume_partitions(tm->consumer, list)
                                         : rd_kafka_pause_partitions(tm->consumer, list);
        if (err)
            rill_log(RILL_LOG_WARN, "thread", "%s: cannot %s %d partition(s): %s", tm->name,
                     resume ? "resume" : "pause", list->cnt, rd_kafka_err2str(err));
    }
    if (seek->cnt) {
        /* Asynchronous (no timeout): the position is local to the consumer. */
        rd_kafka_error_t *error = rd_kafka_seek_partitions(tm->consumer, seek, 0);
        if (error) {
            rill_log(RILL_LOG_WARN, "thread", "%s: cannot seek: %s", tm->name,
                     rd_kafka_error_string(error));
            rd_kafka_error_destroy(error);
        }
    }
    rd_kafka_topic_partition_list_destroy(list);
    rd_kafka_topic_partition_list_destroy(seek);
}

void rill__tm_backoff(task_manager_t *tm, slot_t *slot, int64_t offset)
{
    rill_task_t *task = slot->task;
    pause_resume(tm, task, false);
    /* At the resume each partition of the task is sought back to its first record not
     * processed: the one that failed, the ones queued for the task's turn (dropped here). */
    for (size_t s = 0; s < tm->nslots; s++) {
        slot_t *sl = &tm->slots[s];
        if (sl->task != task)
            continue;
        int64_t from = sl == slot ? offset : rill__rq_head_offset(&sl->pg.queue);
        if (from >= 0 && (sl->dropped_from < 0 || from < sl->dropped_from))
            sl->dropped_from = from;
        drop_queued(sl);
    }
    set_active(tm, task, false);
}

/* Pauses or resumes one partition; a resumed one is sought to offset. */
static void pause_resume_one(task_manager_t *tm, slot_t *sl, bool resume, int64_t offset)
{
    if (!tm->consumer)
        return;
    rd_kafka_topic_partition_list_t *list = rd_kafka_topic_partition_list_new(1);
    rd_kafka_topic_partition_list_add(list, sl->topic, sl->partition)->offset = offset;
    rd_kafka_resp_err_t err = resume ? rd_kafka_resume_partitions(tm->consumer, list)
                                     : rd_kafka_pause_partitions(tm->consumer, list);
    rd_kafka_error_t *error =
        resume && offset >= 0 ? rd_kafka_seek_partitions(tm->consumer, list, 0) : NULL;
    if (err || error)
        rill_log(RILL_LOG_WARN, "thread", "%s: cannot %s '%s' [%d]: %s", tm->name,
                 resume ? "resume" : "pause", sl->topic, sl->partition,
                 error ? rd_kafka_error_string(error) : rd_kafka_err2str(err));
    if (error)
        rd_kafka_error_destroy(error);
    rd_kafka_topic_partition_list_destroy(list);
}

void rill__tm_pause_retry(task_manager_t *tm, slot_t *slot, int64_t offset, int64_t due)
{
    pause_resume_one(tm, slot, false, -1);
    slot->active = false;
    slot->dropped_from = offset; /* records after it, fetched meanwhile, are dropped */
    slot->due = due > 0 ? due : 1;
}

rill_task_t *rill__tm_task(const task_manager_t *tm, int st, int32_t partition)
{
    for (size_t i = 0; i < tm->ntasks; i++)
        if (tm->tasks[i].st == st && tm->tasks[i].partition == partition &&
            tm->tasks[i].state == T_RUNNING)
            return tm->tasks[i].task;
    return NULL;
}

int64_t rill__tm_resume_backoffs(task_manager_t *tm, int64_t now)
{
    int64_t next = INT64_MAX;
    for (size_t s = 0; s < tm->nslots; s++) {
        slot_t *sl = &tm->slots[s];
        if (!sl->retry || !sl->due)
            continue;
        if (sl->due <= now) {
            pause_resume_one(tm, sl, true, sl->dropped_from);
            sl->due = 0;
            sl->dropped_from = -1;
            sl->active = true;
        } else if (sl->due < next) {
            next = sl->due;
        }
    }
    for (size_t i = 0; i < tm->ntasks; i++) {
        task_ref_t *ref = &tm->tasks[i];
        int64_t until =
            ref->task && ref->state == T_RUNNING ? rill__task_backoff_until(ref->task) : 0;
        if (!until)
            continue;
        if (until <= now) {
            rill__task_backoff_end(ref->task);
            pause_resume(tm, ref->task, true);
            set_active(tm, ref->task, true);
        } else if (until < next) {
            next = until;
        }
    }
    return next;
}

/* Marks a task running (its slots process), under the query lock: queries see it from here. */
static void run(task_manager_t *tm, task_ref_t *ref)
{
    pthread_rwlock_wrlock(tm->ctx->query_lock);
    ref->state = T_RUNNING;
    pthread_rwlock_unlock(tm->ctx->query_lock);
    pause_resume(tm, ref->task, true);
    set_active(tm, ref->task, true);
}

void rill__tm_restored(void *ud, rill_task_t *task)
{
    task_manager_t *tm = ud;
    for (size_t i = 0; i < tm->ntasks; i++)
        if (tm->tasks[i].task == task && tm->tasks[i].state == T_RESTORING) {
            rill_log(RILL_LOG_INFO, "thread", "%s: task %s restored", tm->name,
                     rill__task_id(task));
            run(tm, &tm->tasks[i]);
        }
}

/* Makes ref's task and starts its restore; 1 when the stores are still held elsewhere (retry). */
static int make_task(task_manager_t *tm, task_ref_t *ref, char *why, size_t why_size)
{
    char err[1024];
    int rc = 0;
    rill_task_t *task =
        rill__task_open(tm->ctx->topo, ref->st, ref->partition, tm->env, &rc, err, sizeof err);
    if (!task) {
        if (rc == RILL_EBUSY && rill_monotonic_ms() < ref->wait_until)
            return 1;
        snprintf(why, why_size, "cannot create task %d_%d: %s", ref->st, ref->partition, err);
        return rc == RILL_EBUSY ? RILL_ETIMEDOUT : RILL_EPROCESS;
    }
    pthread_rwlock_wrlock(tm->ctx->query_lock);
    ref->task = task;
    ref->state = T_RESTORING;
    pthread_rwlock_unlock(tm->ctx->query_lock);
    for (size_t s = 0; s < tm->nslots; s++)
        if (tm->slots[s].st == ref->st && tm->slots[s].partition == ref->partition &&
            !tm->slots[s].task)
            tm->slots[s].task = task;
    rill_log(RILL_LOG_INFO, "thread", "%s: created task %s", tm->name, rill__task_id(task));
    rc = rill__reader_add(tm->reader, task, ref->partition, NULL, why, why_size);
    if (rc < 0)
        return rc;
    if (rc == 1)
        run(tm, ref);
    return 0;
}

static task_ref_t *find_task(task_manager_t *tm, int st, int32_t partition)
{
    for (size_t i = 0; i < tm->ntasks; i++)
        if (tm->tasks[i].st == st && tm->tasks[i].partition == partition)
            return &tm->tasks[i];
    return NULL;
}

/* Resumes a suspended task. Its stores hold what this thread wrote, but the group may have given
 * the partition to another member meanwhile (this one missed a generation) whose writes they lack:
 * so it catches up on its changelogs from where this thread's writes end (a changelog nobody
 * else wrote to ends there: its end-of-partition comes in one fetch), and runs after that. */
static int resume(task_manager_t *tm, task_ref_t *ref, char *why, size_t why_size)
{
    int64_t *from = tm->ends ? tm->ends(tm->closing_ud, ref->task, ref->partition) : NULL;
    if (tm->ends && !from) {
        snprintf(why, why_size, "out of memory resuming task %s", rill__task_id(ref->task));
        return RILL_ENOMEM;
    }
    pthread_rwlock_wrlock(tm->ctx->query_lock);
    ref->state = T_RESTORING;
    pthread_rwlock_unlock(tm->ctx->query_lock);
    int rc = rill__reader_add(tm->reader, ref->task, ref->partition, from, why, why_size);
    rill_free(from);
    if (rc < 0)
        return rc;
    rill_log(RILL_LOG_INFO, "thread", "%s: resumed task %s", tm->name, rill__task_id(ref->task));
    if (rc == 1) {
        pthread_rwlock_wrlock(tm->ctx->query_lock);
        ref->state = T_RUNNING;
        pthread_rwlock_unlock(tm->ctx->query_lock);
    }
    return 0;
}

/* Returns the task of (st, partition), made (or waiting) if new, resumed if suspended. */
static task_ref_t *get_task(task_manager_t *tm, int st, int32_t partition, char *why,
                            size_t why_size)
{
    task_ref_t *ref = find_task(tm, st, partition);
    if (ref) {
        if (ref->state == T_SUSPENDED && resume(tm, ref, why, why_size))
            return NULL;
        return ref;
    }
    pthread_rwlock_wrlock(tm->ctx->query_lock);
    task_ref_t *tasks = rill_realloc(tm->tasks, (tm->ntasks + 1) * sizeof *tasks);
    if (tasks) {
        tm->tasks = tasks;
        int64_t now = rill_monotonic_ms();
        tasks[tm->ntasks++] = (task_ref_t){.st = st,
                                           .partition = partition,
                                           .state = T_WAITING,
                                           .wait_until = now + TASK_LOCK_WAIT_MS,
                                           .next_try = now};
    }
    pthread_rwlock_unlock(tm->ctx->query_lock);
    if (!tasks) {
        snprintf(why, why_size, "out of memory creating task %d_%d", st, partition);
        return NULL;
    }
    return &tm->tasks[tm->ntasks - 1];
}

static bool task_used(const task_manager_t *tm, const task_ref_t *ref)
{
    for (size_t s = 0; s < tm->nslots; s++)
        if (tm->slots[s].st == ref->st && tm->slots[s].partition == ref->partition)
            return true;
    return false;
}

typedef enum { UNUSED, UNUSED_SUSPENDED, UNUSED_NOT_SUSPENDED } which_t;

static bool closes(const task_manager_t *tm, const task_ref_t *ref, which_t which)
{
    if (task_used(tm, ref))
        return false;
    return which == UNUSED || (which == UNUSED_SUSPENDED) == (ref->state == T_SUSPENDED);
}

/* Closes the tasks no slot uses (of the kind which says). */
static void close_unused(task_manager_t *tm, which_t which)
{
    /* Checkpoints first, outside the query lock. */
    for (size_t i = 0; i < tm->ntasks; i++) {
        task_ref_t *ref = &tm->tasks[i];
        if (!closes(tm, ref, which) || !ref->task)
            continue;
        if (ref->state == T_RESTORING)
            rill__reader_remove(tm->reader, ref->task);
        else if (ref->state != T_WAITING && tm->closing)
            tm->closing(tm->closing_ud, ref->task, ref->partition);
    }
    size_t keep = 0;
    pthread_rwlock_wrlock(tm->ctx->query_lock);
    for (size_t i = 0; i < tm->ntasks; i++) {
        task_ref_t *ref = &tm->tasks[i];
        if (!closes(tm, ref, which)) {
            tm->tasks[keep++] = *ref;
            continue;
        }
        if (ref->task) {
            rill_log(RILL_LOG_INFO, "thread", "%s: closed task %s", tm->name,
                     rill__task_id(ref->task));
            rill__task_metrics_add(&tm->closed, rill__task_metrics(ref->task));
            rill__task_destroy(ref->task);
        }
    }
    tm->ntasks = keep;
    pthread_rwlock_unlock(tm->ctx->query_lock);
}

/* A slot for partition p of a retry topic: no task of its own (each record names its own). */
static int add_retry_slot(task_manager_t *tm, const rd_kafka_topic_partition_t *p, char *why,
                          size_t why_size)
{
    slot_t *slots = rill_realloc(tm->slots, (tm->nslots + 1) * sizeof *slots);
    char *topic = slots ? rill_strdup(p->topic) : NULL;
    if (slots)
        tm->slots = slots;
    if (!topic) {
        snprintf(why, why_size, "out of memory taking '%s' [%d]", p->topic, p->partition);
        return RILL_ENOMEM;
    }
    slots[tm->nslots++] = (slot_t){
        .topic = topic,
        .partition = p->partition,
        .st = -1,
        .source = -1,
        .active = true,
        .retry = true,
        .first_offset = -1,
        .next_offset = -1,
        .committed = -1,
        .dropped_from = -1,
        .pg = {.idle_since = -1},
    };
    return 0;
}

int rill__tm_assign(task_manager_t *tm, const rd_kafka_topic_partition_list_t *parts, char *why,
                    size_t why_size)
{
    tm->by_partition_rkt = NULL; /* the slots are about to move */
    for (int i = 0; i < parts->cnt; i++) {
        const rd_kafka_topic_partition_t *p = &parts->elems[i];
        int st, source;
        if (rill__retry_topic_is(tm->env, p->topic)) {
            if (add_retry_slot(tm, p, why, why_size))
                return RILL_ENOMEM;
            continue;
        }
        if (rill__topology_find_source(tm->ctx->topo, tm->ctx->env.application_id, p->topic, &st,
                                       &source)) {
            rill_log(RILL_LOG_WARN, "thread", "%s: assigned '%s' [%d], which no source reads",
                     tm->name, p->topic, p->partition);
            continue;
        }
        task_ref_t *ref = get_task(tm, st, p->partition, why, why_size);
        if (!ref)
            return RILL_ENOMEM;
        slot_t *slots = rill_realloc(tm->slots, (tm->nslots + 1) * sizeof *slots);
        if (!slots) {
            snprintf(why, why_size, "out of memory taking '%s' [%d]", p->topic, p->partition);
            return RILL_ENOMEM;
        }
        tm->slots = slots;
        slots[tm->nslots] = (slot_t){
            .topic = rill_strdup(p->topic),
            .partition = p->partition,
            .st = st,
            .source = source,
            .task = ref->task,
            .active = ref->state == T_RUNNING,
            .repartition =
                rill__topic_kind(tm->ctx->env.application_id, p->topic) == RILL_TOPIC_REPARTITION,
            .first_offset = -1,
            .next_offset = -1,
            .committed = -1,
            .dropped_from = -1,
            .pg = {.idle_since = -1},
        };
        if (!slots[tm->nslots].topic) {
            snprintf(why, why_size, "out of memory taking '%s' [%d]", p->topic, p->partition);
            return RILL_ENOMEM;
        }
        tm->nslots++;
    }
    tm->by_partition_rkt = NULL; /* the slots moved */
    if (find_groups(tm)) {
        snprintf(why, why_size, "out of memory grouping the partitions of the tasks");
        return RILL_ENOMEM;
    }
    for (size_t i = 0; i < tm->nslots; i++)
        take_partition_queue(tm, &tm->slots[i]);
    /* Suspended tasks the assignment did not give back go now: their stores' locks may be
     * wanted by another thread of the instance. */
    close_unused(tm, UNUSED_SUSPENDED);
    for (size_t i = 0; i < tm->ntasks; i++)
        if (tm->tasks[i].state == T_WAITING) {
            int rc = make_task(tm, &tm->tasks[i], why, why_size);
            if (rc < 0)
                return rc;
        }
    return 0;
}

void rill__tm_pause_inactive(task_manager_t *tm)
{
    if (!tm->consumer)
        return;
    rd_kafka_topic_partition_list_t *list = rd_kafka_topic_partition_list_new(4);
    for (size_t s = 0; s < tm->nslots; s++)
        if (!tm->slots[s].active)
            rd_kafka_topic_partition_list_add(list, tm->slots[s].topic, tm->slots[s].partition);
    if (list->cnt)
        rd_kafka_pause_partitions(tm->consumer, list);
    rd_kafka_topic_partition_list_destroy(list);
}

void rill__tm_revoke(task_manager_t *tm, const rd_kafka_topic_partition_list_t *parts, bool suspend)
{
    size_t keep = 0;
    for (size_t s = 0; s < tm->nslots; s++) {
        bool revoked = parts == NULL;
        for (int i = 0; parts && i < parts->cnt && !revoked; i++)
            revoked = parts->elems[i].partition == tm->slots[s].partition &&
                      strcmp(parts->elems[i].topic, tm->slots[s].topic) == 0;
        if (revoked) {
            give_back_partition_queue(tm, &tm->slots[s]);
            rill_free(tm->slots[s].topic);
            rill__rq_free(&tm->slots[s].pg.queue);
        } else
            tm->slots[keep++] = tm->slots[s];
    }
    tm->nslots = keep;
    tm->last_slot = 0;
    tm->by_partition_rkt = NULL;
    find_groups(tm); /* fewer slots: no allocation */
    if (suspend) {
        pthread_rwlock_wrlock(tm->ctx->query_lock);
        for (size_t i = 0; i < tm->ntasks; i++)
            if (tm->tasks[i].state == T_RUNNING && !task_used(tm, &tm->tasks[i])) {
                tm->tasks[i].state = T_SUSPENDED;
                rill_log(RILL_LOG_INFO, "thread", "%s: suspended task %s", tm->name,
                         rill__task_id(tm->tasks[i].task));
            }
        pthread_rwlock_unlock(tm->ctx->query_lock);
    }
    /* Restoring and waiting tasks close: their restore starts again where it stopped. */
    close_unused(tm, suspend ? UNUSED_NOT_SUSPENDED : UNUSED);
}

int rill__tm_step(task_manager_t *tm, char *why, size_t why_size)
{
    int64_t now = rill_monotonic_ms();
    for (size_t i = 0; i < tm->ntasks; i++) {
        task_ref_t *ref = &tm->tasks[i];
        if (ref->state != T_WAITING || now < ref->next_try)
            continue;
        if (ref->next_try == ref->wait_until - TASK_LOCK_WAIT_MS)
            rill_log(RILL_LOG_INFO, "thread",
                     "%s: the stores of task %d_%d are still open in another thread: waiting",
                     tm->name, ref->st, ref->partition);
        ref->next_try = now + TASK_RETRY_MS;
        int rc = make_task(tm, ref, why, why_size);
        if (rc < 0)
            return rc;
    }
    return 0;
}

bool rill__tm_all_running(const task_manager_t *tm)
{
    for (size_t i = 0; i < tm->ntasks; i++)
        if (tm->tasks[i].state == T_WAITING || tm->tasks[i].state == T_RESTORING)
            return false;
    return true;
}

bool rill__tm_waiting(const task_manager_t *tm)
{
    for (size_t i = 0; i < tm->ntasks; i++)
        if (tm->tasks[i].state == T_WAITING)
            return true;
    return false;
}

/* Indexes the slots of s's topic by partition (the cache of rill__tm_slot_for). */
static void index_topic(task_manager_t *tm, const slot_t *s)
{
    int32_t n = 0;
    for (size_t i = 0; i < tm->nslots; i++)
        if (tm->slots[i].rkt == s->rkt && tm->slots[i].partition >= n)
            n = tm->slots[i].partition + 1;
    if (n > tm->by_partition_cap) {
        slot_t **idx = rill_realloc(tm->by_partition, (size_t)n * sizeof *idx);
        if (!idx)
            return; /* no cache: the scan still finds slots */
        tm->by_partition = idx;
        tm->by_partition_cap = n;
    }
    for (int32_t p = 0; p < n; p++)
        tm->by_partition[p] = NULL;
    for (size_t i = 0; i < tm->nslots; i++)
        if (tm->slots[i].rkt == s->rkt)
            tm->by_partition[tm->slots[i].partition] = &tm->slots[i];
    tm->by_partition_n = n;
    tm->by_partition_rkt = s->rkt;
}

slot_t *rill__tm_slot_for(task_manager_t *tm, const rd_kafka_message_t *msg)
{
    if (msg->rkt == tm->by_partition_rkt && msg->partition >= 0 &&
        msg->partition < tm->by_partition_n && tm->by_partition[msg->partition])
        return tm->by_partition[msg->partition];
    /* Messages come in runs from one partition: try the last slot first. */
    if (tm->last_slot < tm->nslots) {
        slot_t *s = &tm->slots[tm->last_slot];
        if (s->rkt == msg->rkt && s->partition == msg->partition)
            return s;
    }
    const char *topic = NULL;
    for (size_t i = 0; i < tm->nslots; i++) {
        slot_t *s = &tm->slots[i];
        if (s->partition != msg->partition)
            continue;
        if (s->rkt != msg->rkt) {
            if (s->rkt)
                continue;
            if (!topic)
                topic = rd_kafka_topic_name(msg->rkt);
            if (strcmp(topic, s->topic) != 0)
                continue;
            s->rkt = msg->rkt;
        }
        tm->last_slot = i;
        index_topic(tm, s);
        return s;
    }
    return NULL;
}

size_t rill__tm_running_count(const task_manager_t *tm)
{
    size_t n = 0;
    for (size_t i = 0; i < tm->ntasks; i++)
        n += tm->tasks[i].state == T_RUNNING;
    return n;
}

rill_task_t *rill__tm_running(const task_manager_t *tm, size_t i, int32_t *partition)
{
    for (size_t k = 0; k < tm->ntasks; k++) {
        if (tm->tasks[k].state != T_RUNNING)
            continue;
        if (i-- == 0) {
            if (partition)
                *partition = tm->tasks[k].partition;
            return tm->tasks[k].task;
        }
    }
    return NULL;
}

rd_kafka_topic_partition_list_t *rill__tm_offsets(const task_manager_t *tm)
{
    rd_kafka_topic_partition_list_t *list =
        rd_kafka_topic_partition_list_new((int)(tm->nslots ? tm->nslots : 1));
    for (size_t i = 0; i < tm->nslots; i++) {
        const slot_t *s = &tm->slots[i];
        if (s->next_offset > s->committed)
            rd_kafka_topic_partition_list_add(list, s->topic, s->partition)->offset =
                s->next_offset;
    }
    return list;
}

void rill__tm_committed(task_manager_t *tm)
{
    for (size_t i = 0; i < tm->nslots; i++)
        if (tm->slots[i].next_offset > tm->slots[i].committed)
            tm->slots[i].committed = tm->slots[i].next_offset;
}

static slot_t *slot_named(task_manager_t *tm, const char *topic, int32_t partition)
{
    for (size_t s = 0; s < tm->nslots; s++)
        if (tm->slots[s].partition == partition && strcmp(tm->slots[s].topic, topic) == 0)
            return &tm->slots[s];
    return NULL;
}

void rill__tm_commit_failed(task_manager_t *tm, const rd_kafka_topic_partition_list_t *offsets)
{
    for (int i = 0; offsets && i < offsets->cnt; i++) {
        slot_t *s = slot_named(tm, offsets->elems[i].topic, offsets->elems[i].partition);
        if (s)
            s->committed = -1;
    }
}

rd_kafka_topic_partition_list_t *rill__tm_purgeable(const task_manager_t *tm)
{
    rd_kafka_topic_partition_list_t *list = NULL;
    for (size_t i = 0; i < tm->nslots; i++) {
        const slot_t *s = &tm->slots[i];
        if (!s->repartition || s->committed <= 0)
            continue;
        if (!list)
            list = rd_kafka_topic_partition_list_new(4);
        rd_kafka_topic_partition_list_add(list, s->topic, s->partition)->offset = s->committed;
    }
    return list;
}

/* How long a rewind waits for the group's committed offsets (a rare path: after an abort, or
 * when the producer was renewed); without an answer it goes by what the thread knows. */
#define REWIND_QUERY_TIMEOUT_MS 10000

/* Where a partition goes back to at a rewind. What this thread committed is the floor: under
 * exactly-once nobody else commits for a partition it owns, and a group's answer that reads as
 * unknown or as less (an answer read while the coordinator moves) is not believed. The group's
 * answer wins when it is further: a commit whose outcome the thread did not learn (its producer
 * failed at the commit, the new producer completed it). With neither, the first record the thread
 * processed since the assignment is where the consumer started; a partition that processed
 * nothing has nothing to undo (-1: left alone). */
static int64_t rewind_target(const slot_t *s, const rd_kafka_topic_partition_t *group)
{
    int64_t to = s->committed;
    if (group && !group->err && group->offset >= 0 && group->offset > to)
        to = group->offset;
    if (to < 0)
        to = s->first_offset;
    return to;
}

int rill__tm_rewind(task_manager_t *tm, char *why, size_t why_size)
{
    rd_kafka_topic_partition_list_t *group =
        rd_kafka_topic_partition_list_new((int)(tm->nslots ? tm->nslots : 1));
    for (size_t i = 0; i < tm->nslots; i++)
        rd_kafka_topic_partition_list_add(group, tm->slots[i].topic, tm->slots[i].partition);
    rd_kafka_resp_err_t err = tm->nslots
                                  ? rd_kafka_committed(tm->consumer, group, REWIND_QUERY_TIMEOUT_MS)
                                  : RD_KAFKA_RESP_ERR_NO_ERROR;
    if (err)
        rill_log(RILL_LOG_WARN, "thread",
                 "%s: rewinding: the group's committed offsets did not come (%s): going back to "
                 "this thread's own last commit",
                 tm->name, rd_kafka_err2str(err));
    rd_kafka_topic_partition_list_t *seek =
        rd_kafka_topic_partition_list_new((int)(tm->nslots ? tm->nslots : 1));
    for (size_t i = 0; i < tm->nslots; i++) {
        slot_t *s = &tm->slots[i];
        const rd_kafka_topic_partition_t *g =
            err ? NULL : rd_kafka_topic_partition_list_find(group, s->topic, s->partition);
        int64_t to = rewind_target(s, g);
        if (to < 0)
            to = rill__rq_head_offset(&s->pg.queue); /* queued, never processed: again */
        if (to >= 0) {
            rd_kafka_topic_partition_list_add(seek, s->topic, s->partition)->offset = to;
            s->pg.at_end = false; /* the consumer reports the end again after a seek */
        }
        s->next_offset = s->committed = to;
        s->dropped_from = -1;
        drop_queued(s);
    }
    rd_kafka_topic_partition_list_destroy(group);
    if (seek->cnt) {
        rd_kafka_error_t *error =
            rd_kafka_seek_partitions(tm->consumer, seek, REWIND_QUERY_TIMEOUT_MS);
        if (error) {
            snprintf(why, why_size, "cannot rewind to the committed offsets: %s",
                     rd_kafka_error_string(error));
            rd_kafka_error_destroy(error);
            rd_kafka_topic_partition_list_destroy(seek);
            return RILL_EKAFKA;
        }
        for (int i = 0; i < seek->cnt; i++)
            if (seek->elems[i].err)
                rill_log(RILL_LOG_WARN, "thread",
                         "%s: rewinding '%s' [%d] to offset %" PRId64
                         ": %s (sought again when its task resumes)",
                         tm->name, seek->elems[i].topic, seek->elems[i].partition,
                         seek->elems[i].offset, rd_kafka_err2str(seek->elems[i].err));
    }
    rd_kafka_topic_partition_list_destroy(seek);
    /* Every task is made again from its stores' committed state: under exactly-once a task's
     * stores may hold writes of the aborted transaction (dropped with the task); the new one
     * restores what its changelogs hold past its stores, read_committed. The old task goes first:
     * its RocksDB stores hold locks the new one needs. */
    for (size_t i = 0; i < tm->ntasks; i++) {
        task_ref_t *ref = &tm->tasks[i];
        if (!ref->task)
            continue;
        if (ref->state == T_RESTORING)
            rill__reader_remove(tm->reader, ref->task);
        rill_task_t *old = ref->task;
        pthread_rwlock_wrlock(tm->ctx->query_lock);
        rill__task_metrics_add(&tm->closed, rill__task_metrics(old));
        rill__task_metrics_add(&ref->base, rill__task_metrics(old));
        rill__task_destroy(old);
        ref->task = NULL;
        ref->state = T_WAITING;
        ref->wait_until = rill_monotonic_ms() + TASK_LOCK_WAIT_MS;
        pthread_rwlock_unlock(tm->ctx->query_lock);
        for (size_t s = 0; s < tm->nslots; s++)
            if (tm->slots[s].task == old) {
                tm->slots[s].task = NULL;
                tm->slots[s].active = false;
            }
    }
    rill__tm_pause_inactive(tm);
    for (size_t i = 0; i < tm->ntasks; i++) {
        int rc = make_task(tm, &tm->tasks[i], why, why_size);
        if (rc < 0)
            return rc;
    }
    return 0;
}

int rill__tm_query(task_manager_t *tm, int st, int32_t partition,
                   bool (*fn)(void *ud, rill_task_t *task, int32_t partition), void *ud)
{
    int seen = 0;
    for (size_t i = 0; i < tm->ntasks; i++) {
        const task_ref_t *ref = &tm->tasks[i];
        if ((fn && ref->state != T_RUNNING) || ref->st != st ||
            (partition >= 0 && ref->partition != partition))
            continue;
        if (!fn) { /* held, in whatever state */
            seen++;
            continue;
        }
        seen++;
        if (!fn(ud, ref->task, ref->partition))
            break;
    }
    return seen;
}

void rill__tm_metrics(const task_manager_t *tm, rill_task_metrics_t *sum, size_t *tasks)
{
    *sum = tm->closed;
    size_t up = 0;
    for (size_t i = 0; i < tm->ntasks; i++)
        if (tm->tasks[i].task) {
            /* "tasks" counts the tasks that are up: restored (running or suspended). */
            up += tm->tasks[i].state == T_RUNNING || tm->tasks[i].state == T_SUSPENDED;
            rill__task_metrics_add(sum, rill__task_metrics(tm->tasks[i].task));
        }
    *tasks = up;
}

void rill__tm_publish(task_manager_t *tm)
{
    for (size_t i = 0; i < tm->ntasks; i++)
        if (tm->tasks[i].task) {
            rill_task_metrics_t m = tm->tasks[i].base;
            rill__task_metrics_add(&m, rill__task_metrics(tm->tasks[i].task));
            for (int c = 0; c < RILL__TASK_COUNTERS; c++)
                cell_set(&tm->tasks[i].pub[c], rill__task_counter(&m, c));
            for (int c = 0; c < RILL_SKIP_CAUSES; c++)
                cell_set(&tm->tasks[i].pub_skipped[c], m.skipped_by[c]);
        }
}

void rill__tm_scrape(const task_manager_t *tm, void (*fn)(void *ud, const tm_task_view_t *task),
                     void *ud)
{
    static const char *const states[] = {"WAITING", "RESTORING", "RUNNING", "SUSPENDED"};
    for (size_t i = 0; i < tm->ntasks; i++)
        if (tm->tasks[i].task) {
            const task_ref_t *ref = &tm->tasks[i];
            tm_task_view_t view = {.id = rill__task_id(ref->task),
                                   .state = states[ref->state],
                                   .st = ref->st,
                                   .partition = ref->partition,
                                   .counters = ref->pub,
                                   .skipped_by = ref->pub_skipped,
                                   .task = ref->task};
            fn(ud, &view);
        }
}

void rill__tm_destroy(task_manager_t *tm)
{
    if (!tm)
        return;
    rill__tm_revoke(tm, NULL, false);
    rill_free(tm->slots);
    rill_free(tm->by_partition);
    rill_free(tm->group_pg);
    rill_free(tm->group_slots);
    rill_free(tm->groups);
    rill_free(tm->tasks);
    rill_free(tm);
}
