/*
 * Failed records: what a task does with a record its source cannot deserialize or a processor
 * fails. The handler of the error's kind decides (a user's exception handler, else the
 * deserialization.exception.handler / processing.exception.handler property: fail or
 * continue); before the decision takes effect the record goes to the dead letter queue when
 * errors.dead.letter.queue.topic.name is set, as Kafka Streams' built-in handlers do since
 * KIP-1034 (ExceptionHandlerUtils in apache/kafka streams/.../errors builds the same record):
 * the input's key and value bytes unchanged, its timestamp, its headers, and headers saying
 * what failed where. The dead letter goes through the task's collector, so under exactly-once
 * it is in the transaction of the record's offset.
 */
#include "operators_int.h"

#include <stdio.h>
#include <string.h>

static const char *const kind_names[RILL_ERROR_KINDS] = {
    [RILL_ERROR_DESERIALIZATION] = "deserialization",
    [RILL_ERROR_PROCESSING] = "processing",
    [RILL_ERROR_PRODUCTION] = "production",
};

/* The exception class the dead letter names: a stable string to group failures by. */
static const char *const kind_classes[RILL_ERROR_KINDS] = {
    [RILL_ERROR_DESERIALIZATION] = "rill.DeserializationError",
    [RILL_ERROR_PROCESSING] = "rill.ProcessingError",
    [RILL_ERROR_PRODUCTION] = "rill.ProductionError",
};

enum { ERROR_HEADERS = 9 };

int rill__task_send_failed_record(rill_task_t *task, const rill_error_context_t *c,
                                  const char *topic, int32_t partition, const char *class,
                                  const rill_header_t *extra, size_t nextra, char *why,
                                  size_t why_size)
{
    rill_arena_t *a = task->arena;
    size_t n = rill_headers_count(c->headers), k = 0;
    rill_header_t *h = rill_arena_alloc(a, (n + nextra + ERROR_HEADERS) * sizeof *h);
    rill_buf_t exception = rill_arena_printf(a, "%s(%s)", class, rill_err_name(c->error));
    rill_buf_t part = rill_arena_printf(a, "%d", c->partition);
    rill_buf_t offset = rill_arena_printf(a, "%lld", (long long)c->offset);
    rill_buf_t timestamp = rill_arena_printf(a, "%lld", (long long)c->timestamp);
    if (!h || !exception.data || !part.data || !offset.data || !timestamp.data) {
        snprintf(why, why_size, "out of memory");
        return RILL_ENOMEM;
    }
    /* The record's own headers, less those an earlier failure added (a record sent on from a
     * retry topic, or replayed from a dead letter queue), so they do not pile up. */
    for (size_t i = 0; i < n; i++)
        if (!rill__retry_header(rill_headers_at(c->headers, i)->name))
            h[k++] = *rill_headers_at(c->headers, i);
    for (size_t i = 0; i < nextra; i++)
        h[k++] = extra[i];
    const rill_header_t errors[ERROR_HEADERS] = {
        {"__streams.errors.exception", exception},
        {"__streams.errors.message", rill_buf_str(c->message)},
        {"__streams.errors.topic", rill_buf_str(c->topic ? c->topic : "")},
        {"__streams.errors.partition", part},
        {"__streams.errors.offset", offset},
        {"__streams.errors.timestamp", timestamp},
        {"__streams.errors.processor.node.id", rill_buf_str(c->node ? c->node : "")},
        {"__streams.errors.task.id", rill_buf_str(c->task_id)},
        {"__streams.errors.application.id", rill_buf_str(c->application_id)},
    };
    memcpy(h + k, errors, sizeof errors);
    const rill_headers_t *headers = rill_arena_headers(a, h, k + ERROR_HEADERS);
    if (!headers) {
        snprintf(why, why_size, "out of memory");
        return RILL_ENOMEM;
    }
    const rill_collector_t *col = &task->env.collector;
    int rc = col->send(col->opaque, topic, partition, c->key.data ? &c->key : NULL,
                       c->value.data ? &c->value : NULL, c->timestamp, headers);
    if (rc)
        snprintf(why, why_size, "%s", rill__collector_why(col, rc));
    return rc;
}

/* Writes the dead letter of c, naming the exception class (and, for a record retried through
 * retry topics, how many times it failed); 0 or a code with why. */
static int send_dead_letter(rill_task_t *task, const rill_error_context_t *c, const char *class,
                            char *why, size_t why_size)
{
    if (!task->retry_attempt)
        return rill__task_send_failed_record(task, c, task->env.dlq_topic, -1, class, NULL, 0, why,
                                             why_size);
    rill_buf_t attempts = rill_arena_printf(task->arena, "%d", task->retry_attempt + 1);
    if (!attempts.data) {
        snprintf(why, why_size, "out of memory");
        return RILL_ENOMEM;
    }
    const rill_header_t extra = {rill__retry_attempt_header, attempts};
    return rill__task_send_failed_record(task, c, task->env.dlq_topic, -1, class, &extra, 1, why,
                                         why_size);
}

/* The error context of raw (NULL: no input record, as in a punctuator), which node of task
 * failed with err and message. */
static rill_error_context_t error_context(const rill_task_t *task, const rill_record_t *raw,
                                          rill_error_kind_t kind, const char *node, int err,
                                          const char *message)
{
    static const rill_record_t none = {.partition = -1, .offset = -1, .timestamp = -1};
    if (!raw)
        raw = &none;
    return (rill_error_context_t){
        .kind = kind,
        .topic = raw->topic,
        .partition = raw->partition,
        .offset = raw->offset,
        .timestamp = raw->timestamp,
        .headers = raw->headers,
        .key = raw->key,
        .value = raw->value,
        .node = node,
        .task_id = task->id,
        .application_id = task->env.application_id ? task->env.application_id : "",
        .error = err,
        .message = message,
        .output_partition = -1,
    };
}

/* What follows a handler's decision r on c: the dead letter (when set), then for continue the
 * skip (counted, logged once per 1,000). Returns 0 (skipped), or c->error (fail) with the
 * task's error set when the dead letter could not be sent; for fail, the caller says why. */
static int after_decision(rill_task_t *task, const rill_error_context_t *c, rill_handler_result_t r,
                          bool *dlq_failed)
{
    *dlq_failed = false;
    const rill_task_env_t *env = &task->env;
    if (env->dlq_topic) {
        char sent[256];
        int rc = send_dead_letter(task, c, kind_classes[c->kind], sent, sizeof sent);
        if (rc) {
            /* Truncated if it must: the message leads. */
            int len =
                snprintf(task->error, sizeof task->error, "task %s: %s", task->id, c->message);
            if (len >= 0 && (size_t)len < sizeof task->error)
                snprintf(task->error + len, sizeof task->error - (size_t)len,
                         "; and it cannot go to the dead letter queue '%.200s': %.200s",
                         env->dlq_topic, sent);
            *dlq_failed = true;
            return rc;
        }
        task->metrics.dead_letters++;
    }
    if (r != RILL_HANDLER_CONTINUE)
        return c->error;
    uint64_t n = ++task->metrics.skipped;
    task->metrics.skipped_by[c->kind]++;
    if (!task->failed_logged_at || n - task->failed_logged_at >= 1000) {
        task->failed_logged_at = n;
        rill_log(RILL_LOG_WARN, "task",
                 "task %s: skipped (%s.exception.handler): %s%s%s (records-skipped counts "
                 "them; this line comes once per 1,000)",
                 task->id, kind_names[c->kind], c->message,
                 env->dlq_topic ? "; in the dead letter queue " : "",
                 env->dlq_topic ? env->dlq_topic : "");
    }
    return 0;
}

/* Whether raw, which failed and may run again, runs again in place: the task backs off (its
 * driver pauses it) and gets the same record again, from its source. */
static bool retry_in_place(rill_task_t *task, const rill_record_t *raw, const char *message)
{
    const rill_task_env_t *env = &task->env;
    const char *topic = raw->topic ? raw->topic : "";
    if (raw->partition != task->inplace_partition || raw->offset != task->inplace_offset ||
        strcmp(topic, task->inplace_topic) != 0) {
        task->inplace_tries = 0;
        task->inplace_partition = raw->partition;
        task->inplace_offset = raw->offset;
        snprintf(task->inplace_topic, sizeof task->inplace_topic, "%s", topic);
    }
    if (task->inplace_tries < env->inplace_attempts) {
        int shift = task->inplace_tries < 20 ? task->inplace_tries : 20;
        int64_t wait = env->inplace_backoff_ms << shift;
        int64_t now = rill__task_wall_clock(task);
        task->backoff_until = now + wait;
        task->inplace_tries++;
        rill_log(RILL_LOG_WARN, "task",
                 "task %s: %s: retrying in place in %lld ms (try %d of %d; the task's partitions "
                 "wait)",
                 task->id, message, (long long)wait, task->inplace_tries, env->inplace_attempts);
        return true;
    }
    task->inplace_offset = -2; /* done with it: a later delivery starts afresh */
    return false;
}

int64_t rill__task_backoff_until(const rill_task_t *task)
{
    return task->backoff_until;
}

void rill__task_backoff_end(rill_task_t *task)
{
    task->backoff_until = 0;
}

int rill__task_failed(rill_task_t *task, const rill_record_t *raw, rill_error_kind_t kind,
                      const char *node, int err, const char *what, const char *why)
{
    char message[900];
    const char *topic = raw->topic ? raw->topic : "(none)";
    if (kind == RILL_ERROR_PROCESSING)
        snprintf(message, sizeof message,
                 "node '%s': %s (the record at topic '%s' partition %d offset %lld)",
                 node ? node : "(unknown)", why, topic, raw->partition, (long long)raw->offset);
    else
        snprintf(message, sizeof message,
                 "%s of the record at topic '%s' partition %d offset %lld: %s (node '%s')", what,
                 topic, raw->partition, (long long)raw->offset, why, node ? node : "(unknown)");
    const rill_error_context_t c = error_context(task, raw, kind, node, err, message);
    const rill_task_env_t *env = &task->env;
    rill_handler_result_t r = env->continue_on[kind] ? RILL_HANDLER_CONTINUE : RILL_HANDLER_FAIL;
    if (env->handler[kind])
        r = env->handler[kind](env->handler_ud[kind], &c);
    else if (kind == RILL_ERROR_DESERIALIZATION && env->error_handler)
        r = env->error_handler(env->error_handler_ud, raw, err, message);
    bool retry = kind == RILL_ERROR_PROCESSING &&
                 (r == RILL_HANDLER_RETRY || (env->retry_all && !env->handler[kind]));
    if (retry && task->effects != task->effects_at_start) {
        /* A retry runs the record again from its source, in place or from a retry topic: exact
         * only when the failed try left nothing behind (no store written, the record cache
         * included; no output sent). A processor keeping state outside stores must be
         * idempotent. This one did leave something: a second run would apply it twice. */
        rill_log(RILL_LOG_WARN, "task",
                 "task %s: %s: not retried: it wrote a store or sent an output before failing, "
                 "which a second run would apply twice",
                 task->id, message);
        r = env->dlq_topic ? RILL_HANDLER_CONTINUE : RILL_HANDLER_FAIL;
        retry = false;
    }
    if (retry && env->inplace_attempts && retry_in_place(task, raw, message)) {
        task->metrics.processed--; /* a try, not a record: counted when it is done */
        return RILL_TASK_BACKOFF;
    }
    if (retry && !env->nretry_delays && env->inplace_attempts) {
        /* In-place retries used up, and no retry topics: as after the last retry topic. */
        r = env->dlq_topic ? RILL_HANDLER_CONTINUE : RILL_HANDLER_FAIL;
    } else if (retry && env->nretry_delays) {
        char sent[256];
        int rc = rill__task_retry_later(task, &c, sent, sizeof sent);
        if (rc == 0)
            return 0;
        if (rc != RILL_ENOENT) {
            snprintf(task->error, sizeof task->error,
                     "task %s, %.500s; and it cannot go to a retry topic: %.200s", task->id,
                     message, sent);
            return rc;
        }
        /* Out of retry topics: to the dead letter queue, and skipped when there is one (the
         * record had its chances); failed when there is none, so it is never lost silently. */
        r = env->dlq_topic ? RILL_HANDLER_CONTINUE : RILL_HANDLER_FAIL;
    }
    bool dlq_failed;
    int rc =
        after_decision(task, &c, r == RILL_HANDLER_CONTINUE ? r : RILL_HANDLER_FAIL, &dlq_failed);
    if (rc && !dlq_failed)
        snprintf(task->error, sizeof task->error, "task %s%s%s", task->id,
                 kind == RILL_ERROR_PROCESSING ? ", " : ": ", message);
    return rc;
}

/* Whether the error is one no handler may pass over (Kafka Streams' fatal ones: security,
 * fencing, a producer gone), whatever the collector said: the app's state would be wrong. */
static bool always_fatal(const rill_production_failure_t *f)
{
    return f->fatal || f->error == RILL_ENOMEM || f->error == RILL_ESTATE;
}

/* Says in the task's error, as rill_context_fail does, that node failed with message (which
 * starts with "node '<node>': "); returns err. */
static int production_fail(rill_task_t *task, const char *node, int err, const char *message)
{
    snprintf(task->error, sizeof task->error, "task %s, %s", task->id, message);
    if (!task->failed_node) {
        task->failed_node = node;
        const char *why = strstr(message, "': ");
        snprintf(task->failed_why, sizeof task->failed_why, "%s", why ? why + 3 : message);
    }
    return err;
}

int rill__task_production_failed(rill_task_t *task, const char *node, const char *what,
                                 const rill_production_failure_t *f, const char *why)
{
    const rill_task_env_t *env = &task->env;
    const rill_record_t *raw = task->raw_in;
    char message[900];
    snprintf(message, sizeof message,
             "node '%s': cannot %s the record at topic '%s' partition %d offset %lld to topic "
             "'%s': %s",
             node ? node : "(unknown)", what, raw && raw->topic ? raw->topic : "(none)",
             raw ? raw->partition : -1, raw ? (long long)raw->offset : -1LL, f->topic, why);
    if (always_fatal(f))
        return production_fail(task, node, f->error, message);
    rill_error_context_t c =
        error_context(task, raw, RILL_ERROR_PRODUCTION, node, f->error, message);
    c.output_topic = f->topic;
    c.output_partition = f->partition;
    c.output_key = f->key;
    c.output_value = f->value;
    c.retriable = f->retriable;
    rill_handler_result_t r = env->continue_on[RILL_ERROR_PRODUCTION] ? RILL_HANDLER_CONTINUE
                              : env->retry_production                 ? RILL_HANDLER_RETRY
                                                                      : RILL_HANDLER_FAIL;
    if (env->handler[RILL_ERROR_PRODUCTION])
        r = env->handler[RILL_ERROR_PRODUCTION](env->handler_ud[RILL_ERROR_PRODUCTION], &c);
    if (r == RILL_HANDLER_RETRY) {
        if (f->retriable && f->attempt < env->production_retries) {
            int64_t wait = env->production_backoff_ms << (f->attempt < 20 ? f->attempt : 20);
            rill_log(RILL_LOG_WARN, "task", "task %s: retrying in %lld ms (retry %d of %d): %s",
                     task->id, (long long)wait, f->attempt + 1, env->production_retries, message);
            const rill_collector_t *col = &env->collector;
            if (col->backoff && wait > 0)
                col->backoff(col->opaque, wait);
            return RILL_PRODUCTION_RETRY;
        }
        rill_log(RILL_LOG_WARN, "task", "task %s: %s: failing (%s)", task->id, message,
                 f->retriable ? "out of retries: production.exception.handler.retries"
                              : "the handler said retry, but the cause is not retriable");
        r = RILL_HANDLER_FAIL;
    }
    bool dlq_failed;
    int rc = after_decision(task, &c, r, &dlq_failed);
    return rc && !dlq_failed ? production_fail(task, node, rc, message) : rc;
}

/* Writes the input record being processed to the dead letter queue as one node dropped. */
static int dropped_dead_letter(rill_task_t *task, const char *node, const char *class,
                               const char *what, const char *reason)
{
    const rill_record_t *raw = task->raw_in;
    if (!raw)
        return 0;
    const rill_error_context_t c =
        error_context(task, raw, RILL_ERROR_PROCESSING, node, RILL_EINVAL, reason);
    char sent[256];
    int rc = send_dead_letter(task, &c, class, sent, sizeof sent);
    if (rc) {
        snprintf(task->error, sizeof task->error,
                 "task %s: %s cannot go to the dead letter queue '%.200s': %.200s", task->id, what,
                 task->env.dlq_topic, sent);
        return rc;
    }
    task->metrics.dead_letters++;
    task->effects++; /* written: a retry of the record would write it again */
    return 0;
}

int rill__task_late_dead_letter(rill_task_t *task, const char *node, const char *reason)
{
    if (!task->env.dlq_topic || !task->env.dlq_late_records)
        return 0;
    return dropped_dead_letter(task, node, "rill.LateRecord", "a late record", reason);
}

int rill__task_dropped_dead_letter(rill_task_t *task, const char *node, const char *reason)
{
    if (!task->env.dlq_topic || !task->env.dlq_dropped_records)
        return 0;
    return dropped_dead_letter(task, node, "rill.DroppedRecord", "a dropped record", reason);
}
