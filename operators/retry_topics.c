/*
 * Retry topics (non-blocking retries, as Spring Kafka's retryable topics): a record whose
 * processing failed with an error the processing handler answers retry goes, as read, to
 * "<application.id>-retry-<delay>" for the first of errors.retry.topics.delays.ms, then the next,
 * and after the last to the dead letter queue. Each carries its own headers, the dead letter's
 * error headers (naming the original topic, partition and offset) and two of Rill's:
 * __rill.retry.attempt (how many times it failed) and __rill.retry.due.ms (the wall-clock time,
 * the driver's clock in the test driver, from which it may be processed again: the failure's
 * time plus the delay). The record keeps its own timestamp, so a window or a join sees the same
 * event time when it is processed again.
 *
 * The driver reading a retry topic hands each record to rill__task_process_retry(), which says
 * when it is not due yet (the driver keeps it and goes on with other partitions), and otherwise
 * processes it through the source that read it first, as that record: its original topic,
 * partition and offset, its headers without the retry ones.
 */
#include "operators_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define ATTEMPT_HEADER "__rill.retry.attempt"
#define DUE_HEADER     "__rill.retry.due.ms"

const char *const rill__retry_attempt_header = ATTEMPT_HEADER;

int rill__retry_delays_parse(const char *text, int64_t *delays, int max, char *errstr,
                             size_t errstr_size)
{
    int n = 0;
    const char *p = text;
    while (p && *p) {
        char *end;
        long long d = strtoll(p, &end, 10);
        while (*end == ' ')
            end++;
        if (end == p || d <= 0 || (*end && *end != ',')) {
            snprintf(errstr, errstr_size,
                     "errors.retry.topics.delays.ms: '%s' is not a comma-separated list of "
                     "positive delays in ms",
                     text);
            return RILL_ECONFIG;
        }
        if (n == max) {
            snprintf(errstr, errstr_size, "errors.retry.topics.delays.ms: at most %d delays", max);
            return RILL_ECONFIG;
        }
        delays[n++] = d;
        p = *end ? end + 1 : end;
        while (*p == ' ')
            p++;
        if (*end && !*p) {
            snprintf(errstr, errstr_size, "errors.retry.topics.delays.ms: '%s' ends with a comma",
                     text);
            return RILL_ECONFIG;
        }
    }
    return n;
}

void rill__retry_topic_name(char *buf, size_t size, const char *app_id, int64_t delay)
{
    snprintf(buf, size, "%s-retry-%lld", app_id, (long long)delay);
}

bool rill__retry_topic_is(const rill_task_env_t *env, const char *topic)
{
    for (int i = 0; i < env->nretry_delays; i++) {
        char name[300];
        rill__retry_topic_name(name, sizeof name, env->application_id, env->retry_delays[i]);
        if (strcmp(name, topic) == 0)
            return true;
    }
    return false;
}

/* Returns header name's value in headers (the last one), or a NULL view. */
static rill_buf_t header(const rill_headers_t *headers, const char *name)
{
    rill_buf_t v = {NULL, 0};
    for (size_t i = 0; i < rill_headers_count(headers); i++) {
        const rill_header_t *h = rill_headers_at(headers, i);
        if (strcmp(h->name, name) == 0)
            v = h->value;
    }
    return v;
}

/* Reads a header's decimal value; def when it is missing or not a number. */
static int64_t header_int(const rill_headers_t *headers, const char *name, int64_t def)
{
    rill_buf_t v = header(headers, name);
    char text[32];
    if (!v.data || v.len == 0 || v.len >= sizeof text)
        return def;
    memcpy(text, v.data, v.len);
    text[v.len] = 0;
    char *end;
    long long n = strtoll(text, &end, 10);
    return *end ? def : n;
}

bool rill__retry_header(const char *name)
{
    return strncmp(name, "__rill.retry.", 13) == 0 || strncmp(name, "__streams.errors.", 17) == 0;
}

int rill__task_retry_later(rill_task_t *task, const rill_error_context_t *c, char *why,
                           size_t why_size)
{
    const rill_task_env_t *env = &task->env;
    int attempt = task->retry_attempt + 1; /* the failures so far, this one included */
    if (attempt > env->nretry_delays)
        return RILL_ENOENT; /* out of retry topics: the dead letter queue's turn */
    int64_t delay = env->retry_delays[attempt - 1];
    int64_t now = rill__task_wall_clock(task);
    char topic[300];
    rill__retry_topic_name(topic, sizeof topic, env->application_id, delay);
    rill_arena_t *a = task->arena;
    rill_buf_t attempt_text = rill_arena_printf(a, "%d", attempt);
    rill_buf_t due_text = rill_arena_printf(a, "%lld", (long long)(now + delay));
    if (!attempt_text.data || !due_text.data) {
        snprintf(why, why_size, "out of memory");
        return RILL_ENOMEM;
    }
    const rill_header_t extra[] = {{ATTEMPT_HEADER, attempt_text}, {DUE_HEADER, due_text}};
    int rc = rill__task_send_failed_record(task, c, topic, c->partition, "rill.ProcessingError",
                                           extra, 2, why, why_size);
    if (rc)
        return rc;
    task->metrics.retried++;
    rill_log(RILL_LOG_INFO, "task", "task %s: %s: to %s (attempt %d, due in %lld ms)", task->id,
             c->message, topic, attempt, (long long)delay);
    return 0;
}

/* Copies the original topic of raw (a record of a retry topic) into topic; false when it has
 * none. */
static bool original_topic(const rill_record_t *raw, char *topic, size_t size)
{
    rill_buf_t t = header(raw->headers, "__streams.errors.topic");
    if (!t.data || t.len >= size)
        return false;
    memcpy(topic, t.data, t.len);
    topic[t.len] = 0;
    return true;
}

int rill__retry_subtopology(const rill_topology_t *topo, const char *app_id,
                            const rill_record_t *raw, int *source)
{
    char topic[256];
    int st;
    if (!original_topic(raw, topic, sizeof topic) ||
        rill__topology_find_source(topo, app_id, topic, &st, source))
        return RILL_ENOENT;
    return st;
}

int rill__task_process_retry(rill_task_t *task, const rill_record_t *raw, int64_t now, int64_t *due)
{
    const rill_headers_t *headers = raw->headers;
    *due = header_int(headers, DUE_HEADER, 0);
    if (now < *due)
        return RILL_RETRY_NOT_DUE;
    /* The record as first read: its topic, partition and offset from the error headers. */
    char topic[256];
    int source;
    if (!original_topic(raw, topic, sizeof topic) ||
        rill__retry_subtopology(task->topo, task->env.application_id, raw, &source) != task->st) {
        snprintf(task->error, sizeof task->error,
                 "task %s: the record at topic '%s' partition %d offset %lld names no topic this "
                 "task reads in its __streams.errors.topic header",
                 task->id, raw->topic ? raw->topic : "(none)", raw->partition,
                 (long long)raw->offset);
        return RILL_EINVAL;
    }
    /* Its own headers, without the retry ones. A record has few: one beyond the array keeps
     * them all. */
    enum { MAX_KEPT = 64 };
    rill_header_t kept[MAX_KEPT];
    size_t n = rill_headers_count(headers), k = 0;
    for (size_t i = 0; i < n && k < MAX_KEPT; i++)
        if (!rill__retry_header(rill_headers_at(headers, i)->name))
            kept[k++] = *rill_headers_at(headers, i);
    rill_headers_t own = {kept, k, NULL};
    rill_record_t again = *raw;
    again.topic = topic;
    again.partition = (int32_t)header_int(headers, "__streams.errors.partition", raw->partition);
    again.offset = header_int(headers, "__streams.errors.offset", -1);
    again.headers = n <= MAX_KEPT ? &own : headers;
    task->retry_attempt = (int)header_int(headers, ATTEMPT_HEADER, 1);
    int rc = rill__task_process(task, source, &again);
    task->retry_attempt = 0;
    return rc;
}
