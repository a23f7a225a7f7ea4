/*
 * The app's status as JSON (/status.json, which the status page fetches every 2 s): its state,
 * each thread and its tasks (state, sub-topology, the partitions they read, their counters), the
 * consumer lag of each partition, the brokers' round trips and errors, and the app's totals. It
 * reads what the metrics scrape reads (metrics_scrape.c: rill__app_views_begin, the task
 * manager's published cells, the consumers' statistics), under the same query lock, on the HTTP
 * server's thread; the counters keep rill__metric_name()'s names ("records-processed"), so the
 * page, rill_app_metric() and the Prometheus families say the same. Rates are the page's to
 * compute (between two fetches). Built with jansson: the names in it (topics, nodes, tasks) are
 * escaped as JSON, and the page puts them in the DOM as text, never as markup.
 */
#include "metrics_int.h"

#include "operators/task.h"

#include <jansson.h>
#include <string.h>

typedef struct {
    rill_app_t *app;
    const char *thread;
    json_t *tasks, *lag, *brokers, *partitions;
    int32_t partition;
    int err;
} status_t;

/* Appends v (a new reference, taken even on failure) to array a; a or v NULL (out of memory
 * before) fails. */
static void push(status_t *s, json_t *a, json_t *v)
{
    if (json_array_append_new(a, v))
        s->err = RILL_ENOMEM;
}

/* Sets obj[key] to v (as push()). */
static void set(status_t *s, json_t *obj, const char *key, json_t *v)
{
    if (json_object_set_new(obj, key, v))
        s->err = RILL_ENOMEM;
}

static void task_partition(void *ud, const char *topic, bool internal, int32_t partitions)
{
    status_t *s = ud;
    (void)internal, (void)partitions;
    push(s, s->partitions, json_pack("{s:s, s:i}", "topic", topic, "partition", s->partition));
}

static void task_entry(void *ud, const tm_task_view_t *task)
{
    status_t *s = ud;
    json_t *t = json_pack("{s:s, s:s, s:s, s:i}", "id", task->id, "thread", s->thread, "state",
                          task->state, "subtopology", task->st);
    /* A task reads its partition of each source topic of its sub-topology. */
    s->partitions = json_array();
    s->partition = task->partition;
    rill__topology_source_topics(s->app->topo, task->st, s->app->env.application_id, task_partition,
                                 s);
    set(s, t, "partitions", s->partitions);
    for (int c = 0; c < RILL__TASK_COUNTERS; c++)
        set(s, t, rill__metric_name(c), json_integer((json_int_t)cell_get(&task->counters[c])));
    json_t *by = json_object();
    for (int c = 0; c < RILL_SKIP_CAUSES; c++)
        set(s, by, rill__skip_causes[c], json_integer((json_int_t)cell_get(&task->skipped_by[c])));
    set(s, t, "skipped_by", by);
    push(s, s->tasks, t);
}

static void lag_entry(void *ud, const char *topic, int32_t partition, int64_t lag)
{
    status_t *s = ud;
    push(s, s->lag,
         json_pack("{s:s, s:s, s:i, s:I}", "thread", s->thread, "topic", topic, "partition",
                   partition, "lag", (json_int_t)lag));
}

static void broker_entry(void *ud, const kafka_broker_stats_t *b)
{
    status_t *s = ud;
    push(s, s->brokers,
         json_pack("{s:s, s:s, s:i, s:f, s:I, s:I, s:I}", "thread", s->thread, "name", b->name,
                   "id", b->id, "rtt_avg_ms", (double)b->rtt_avg_us / 1e3, "requests",
                   (json_int_t)b->requests, "errors",
                   (json_int_t)(b->request_errors + b->response_errors), "timeouts",
                   (json_int_t)b->request_timeouts));
}

int rill__app_status_json(rill_app_t *app, rill_bytes_t *out)
{
    status_t s = {.app = app};
    json_t *doc = json_pack("{s:s, s:s, s:I}", "application_id", app->env.application_id, "version",
                            rill_version(), "time_ms", (json_int_t)rill_wall_clock_ms());
    /* The app's totals, closed threads' and tasks' included (rill_app_metric). */
    json_t *totals = json_object();
    for (int i = 0; i < RILL__METRICS; i++)
        set(&s, totals, rill__metric_name(i),
            json_integer(rill_app_metric(app, rill__metric_name(i))));
    set(&s, doc, "totals", totals);
    json_t *threads = json_array();
    s.tasks = json_array();
    s.lag = json_array();
    s.brokers = json_array();

    rill_state_t state;
    thread_view_t views[RILL__SCRAPE_THREADS];
    int n = rill__app_views_begin(app, views, &state, NULL);
    for (int i = 0; i < n; i++) {
        json_t *t = json_pack("{s:s, s:b}", "name", views[i].name, "running", views[i].running);
        for (int m = RILL__TASK_COUNTERS; m < RILL__METRICS; m++)
            set(&s, t, rill__metric_name(m), json_integer(rill__thread_metric(views[i].thread, m)));
        set(&s, t, "transactions-committed",
            json_integer((json_int_t)cell_get(views[i].txn_commits)));
        set(&s, t, "transactions-aborted", json_integer((json_int_t)cell_get(views[i].txn_aborts)));
        push(&s, threads, t);
        s.thread = views[i].name;
        if (views[i].tm)
            rill__tm_scrape(views[i].tm, task_entry, &s);
        rill__kstats_each(views[i].stats, lag_entry, broker_entry, &s);
    }
    rill__app_views_end(app);

    set(&s, doc, "state", json_string(rill_state_name(state)));
    set(&s, doc, "threads", threads);
    set(&s, doc, "tasks", s.tasks);
    set(&s, doc, "lag", s.lag);
    set(&s, doc, "brokers", s.brokers);
    char *text = s.err ? NULL : json_dumps(doc, JSON_COMPACT);
    json_decref(doc);
    if (!text)
        return RILL_ENOMEM;
    int rc = rill_bytes_append(out, text, strlen(text)) ? RILL_ENOMEM : 0;
    free(text);
    return rc;
}
