/*
 * The application: owns the configuration, the topology and the stream threads, and folds the
 * threads' states into the app's. Start learns the cluster's topics (app_topics.c, which also
 * holds the embedded cluster), creates the internal topics (internal_topics_create.c), opens
 * the state, then starts the threads.
 */
#include "engine_int.h"
#include "metrics_int.h"
#include "global_thread.h"
#include "thread_ctx.h"

#include <errno.h>
#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

static const char *state_names[] = {
/* How long a close waits when the app closes itself (after an error, or when destroyed). */
#define CLOSE_DEFAULT_MS 30000
/* How long a closing thread waits for the others' final commits (see ARCHITECTURE.md,
 * "Shutdown"), at most. */
#define CLOSE_BARRIER_MS 10000

#define RILL_STATE_NAME(name) #name,
    RILL_STATE_MAP(RILL_STATE_NAME)
#undef RILL_STATE_NAME
};

const char *rill_state_name(rill_state_t state)
{
    if ((unsigned)state < sizeof state_names / sizeof state_names[0])
        return state_names[state];
    return "UNKNOWN";
}

void rill__kafka_log_cb(const rd_kafka_t *rk, int level, const char *fac, const char *buf)
{
    rill_log_level_t l = level <= 3   ? RILL_LOG_ERROR
                         : level <= 4 ? RILL_LOG_WARN
                         : level <= 6 ? RILL_LOG_INFO
                                      : RILL_LOG_DEBUG;
    rill_log(l, "kafka", "%s: %s: %s", rd_kafka_name(rk), fac, buf);
}

/* Moves the state to `to` when the rules allow (ERROR and NOT_RUNNING are final, a shutdown only
 * ends); call with the lock held. Returns whether it moved, and the old state in *from. */
static bool move_locked(rill_app_t *app, rill_state_t to, rill_state_t *from)
{
    *from = app->state;
    bool allowed = *from != to && *from != RILL_STATE_NOT_RUNNING &&
                   !(*from == RILL_STATE_ERROR && to != RILL_STATE_ERROR) &&
                   !(*from == RILL_STATE_PENDING_SHUTDOWN && to != RILL_STATE_NOT_RUNNING &&
                     to != RILL_STATE_ERROR);
    if (allowed) {
        app->state = to;
        pthread_cond_broadcast(&app->cond);
    }
    return allowed;
}

/* Tells the log and the listener; call without the lock (the listener may read the app). */
static void notify(rill_app_t *app, rill_state_t from, rill_state_t to)
{
    rill_log(RILL_LOG_INFO, "app", "state %s -> %s", rill_state_name(from), rill_state_name(to));
    if (app->listener)
        app->listener(app->listener_ud, to, from);
}

static void set_state(rill_app_t *app, rill_state_t to)
{
    rill_state_t from;
    pthread_mutex_lock(&app->lock);
    bool moved = move_locked(app, to, &from);
    pthread_mutex_unlock(&app->lock);
    if (moved)
        notify(app, from, to);
}

static void thread_failed(void *ud, int err, const char *message);
static void app_fail(rill_app_t *app, int err, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void app_fail(rill_app_t *app, int err, const char *fmt, ...)
{
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    thread_failed(app, err, msg);
}

static void thread_failed(void *ud, int err, const char *message)
{
    rill_app_t *app = ud;
    bool first;
    pthread_mutex_lock(&app->lock);
    first = !app->error[0];
    if (first)
        snprintf(app->error, sizeof app->error, "%s", message);
    pthread_mutex_unlock(&app->lock);
    if (!first)
        return;
    rill_log(RILL_LOG_ERROR, "app", "%s", message);
    if (app->error_handler)
        app->error_handler(app->error_handler_ud, err, message);
    set_state(app, RILL_STATE_ERROR);
    /* Shut the whole client down, as Kafka Streams' SHUTDOWN_CLIENT does. Under the lock:
     * rill_app_close() frees threads (rill__thread_stop takes only the thread's stop lock). */
    pthread_mutex_lock(&app->lock);
    for (int i = 0; i < app->nthreads; i++)
        if (app->threads[i])
            rill__thread_stop(app->threads[i], rill_monotonic_ms() + CLOSE_DEFAULT_MS);
    pthread_mutex_unlock(&app->lock);
}

/* Returns a CLOCK_MONOTONIC timespec for deadline_ms (the clock app->cond waits on). */
static struct timespec abs_time(int64_t deadline_ms)
{
    return (struct timespec){deadline_ms / 1000, (deadline_ms % 1000) * 1000000};
}

static void thread_changed(void *ud)
{
    rill_app_t *app = ud;
    /* Decide and change the state in one critical section, so two threads changing at once
     * cannot leave the app RUNNING while one of them rebalances. */
    pthread_mutex_lock(&app->lock);
    bool all = true;
    for (int i = 0; i < app->nthreads; i++)
        all = all && app->threads[i] && rill__thread_running(app->threads[i]);
    rill_state_t to = all ? RILL_STATE_RUNNING : RILL_STATE_REBALANCING, from = app->state;
    bool moved = (from == RILL_STATE_RUNNING || from == RILL_STATE_REBALANCING) &&
                 move_locked(app, to, &from);
    pthread_mutex_unlock(&app->lock);
    if (moved)
        notify(app, from, to);
}

static void thread_committed(void *ud, int64_t deadline_ms)
{
    rill_app_t *app = ud;
    int64_t barrier = rill_monotonic_ms() + CLOSE_BARRIER_MS;
    struct timespec deadline = abs_time(barrier < deadline_ms ? barrier : deadline_ms);
    pthread_mutex_lock(&app->lock);
    app->committed_threads++;
    pthread_cond_broadcast(&app->cond);
    while (app->committed_threads < app->started_threads)
        if (pthread_cond_timedwait(&app->cond, &app->lock, &deadline) == ETIMEDOUT) {
            rill_log(RILL_LOG_WARN, "app",
                     "closing: %d of %d stream threads committed in time; leaving the group "
                     "anyway",
                     app->committed_threads, app->started_threads);
            break;
        }
    pthread_mutex_unlock(&app->lock);
}

static void thread_exited(void *ud)
{
    rill_app_t *app = ud;
    pthread_mutex_lock(&app->lock);
    app->exited_threads++;
    pthread_cond_broadcast(&app->cond);
    pthread_mutex_unlock(&app->lock);
}

static int64_t thread_max_bytes(void *ud, const char *topic)
{
    return rill__app_max_bytes(ud, topic);
}

static int32_t thread_partitions(void *ud, const char *topic)
{
    return rill__app_partitions(ud, topic);
}

/* ---- lifecycle ---- */

rill_app_t *rill_app_new(rill_topology_t *topo, rill_conf_t *conf, char *errstr, size_t errstr_size)
{
    if (!topo || !conf) {
        snprintf(errstr, errstr_size, "rill_app_new: topology and configuration are required");
        return NULL;
    }
    if (!*RILL_CONF_STR(conf, APPLICATION_ID)) {
        snprintf(errstr, errstr_size, "application.id is not set; every app needs one");
        return NULL;
    }
    if (rill_topology_build(topo, errstr, errstr_size))
        return NULL;
    rill_app_t *app = rill_calloc(1, sizeof *app);
    if (!app) {
        snprintf(errstr, errstr_size, "out of memory");
        return NULL;
    }
    pthread_mutex_init(&app->lock, NULL);
    /* Every wait on it is bounded on the monotonic clock. */
    pthread_condattr_t cattr;
    pthread_condattr_init(&cattr);
    pthread_condattr_setclock(&cattr, CLOCK_MONOTONIC);
    pthread_cond_init(&app->cond, &cattr);
    pthread_condattr_destroy(&cattr);
    /* Writers first: a stream thread adding or closing a task must not wait behind a stream
     * of queries (glibc's default lets readers overtake a waiting writer indefinitely). */
    pthread_rwlockattr_t attr;
    pthread_rwlockattr_init(&attr);
    pthread_rwlockattr_setkind_np(&attr, PTHREAD_RWLOCK_PREFER_WRITER_NONRECURSIVE_NP);
    pthread_rwlock_init(&app->query_lock, &attr);
    pthread_rwlockattr_destroy(&attr);
    app->state = RILL_STATE_CREATED;
    app->conf = conf;
    if (rill__conf_task_env(conf, &app->env, errstr, errstr_size) ||
        rill__topology_check_serdes(topo, app->env.default_key_serde, app->env.default_value_serde,
                                    errstr, errstr_size) ||
        rill__topology_check_names(topo, app->env.application_id, errstr, errstr_size)) {
        app->conf = NULL; /* ownership moves only on success */
        rill_app_destroy(app);
        return NULL;
    }
    app->topo = rill_topology_ref(topo);
    int rc = rill__app_connect(app, errstr, errstr_size);
    app->nthreads = (int)RILL_CONF_INT(conf, NUM_STREAM_THREADS);
    app->threads = rill_calloc((size_t)app->nthreads, sizeof *app->threads);
    if (!rc && !app->threads)
        rc = RILL_ENOMEM;
    if (rc) {
        app->conf = NULL;
        rill_app_destroy(app);
        return NULL;
    }
    return app;
}

void rill_app_set_state_listener(rill_app_t *app, rill_state_listener_fn fn, void *ud)
{
    app->listener = fn;
    app->listener_ud = ud;
}

void rill_app_set_error_handler(rill_app_t *app, rill_error_handler_fn fn, void *ud)
{
    app->error_handler = fn;
    app->error_handler_ud = ud;
}

/* Reads this instance's process id from <state dir>/rill-process-id, or makes one (16 random
 * hex digits). It names the transactional producers, so a restarted instance fences its
 * predecessor's. */
static int load_process_id(rill_app_t *app, char *errstr, size_t errstr_size)
{
    char path[1100];
    snprintf(path, sizeof path, "%s/rill-process-id", app->state_dir);
    FILE *f = fopen(path, "r");
    if (f) {
        bool ok = fscanf(f, "%32[0-9a-f]", app->process_id) == 1;
        fclose(f);
        if (ok && strlen(app->process_id) == 16)
            return 0;
        rill_log(RILL_LOG_WARN, "app", "%s is not a process id: making a new one", path);
    }
    uint8_t bytes[8];
    FILE *r = fopen("/dev/urandom", "r");
    bool got = r && fread(bytes, 1, sizeof bytes, r) == sizeof bytes;
    if (r)
        fclose(r);
    if (!got) {
        snprintf(errstr, errstr_size, "cannot read /dev/urandom for a process id");
        return RILL_EIO;
    }
    for (int i = 0; i < 8; i++)
        snprintf(app->process_id + 2 * i, 3, "%02x", bytes[i]);
    f = fopen(path, "w");
    if (!f || fprintf(f, "%s\n", app->process_id) < 0 || fclose(f)) {
        snprintf(errstr, errstr_size, "cannot write %.900s: %s", path, strerror(errno));
        return RILL_EIO;
    }
    return 0;
}

/* Makes the app's state directory and the RocksDB memory its stores share. */
static int open_state(rill_app_t *app, char *errstr, size_t errstr_size)
{
    const char *root = RILL_CONF_STR(app->conf, STATE_DIR);
    size_t len = strlen(root) + strlen(app->env.application_id) + 2;
    if (!(app->state_dir = rill_malloc(len)))
        return RILL_ENOMEM;
    snprintf(app->state_dir, len, "%s/%s", root, app->env.application_id);
    if (rill__make_dirs(app->state_dir)) {
        snprintf(errstr, errstr_size, "cannot create the state directory %s (state.dir): %s",
                 app->state_dir, strerror(errno));
        return RILL_EIO;
    }
    if (app->env.exactly_once || rill__conf_eos(app->conf)) {
        /* The process id names the transactional producers: two instances sharing it would
         * fence each other. One instance per state directory, as in Kafka Streams. */
        char lock[1100];
        snprintf(lock, sizeof lock, "%s/.lock", app->state_dir);
        app->lock_fd = open(lock, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
        if (app->lock_fd < 0 || flock(app->lock_fd, LOCK_EX | LOCK_NB) != 0) {
            snprintf(errstr, errstr_size,
                     "the state directory %.900s is in use by another instance of '%s' (give "
                     "each instance its own state.dir)",
                     app->state_dir, app->env.application_id);
            return RILL_ESTATE;
        }
    }
    if (load_process_id(app, errstr, errstr_size))
        return RILL_EIO;
    rill_store_env_t *env = rill_store_env_new(
        (size_t)RILL_CONF_INT(app->conf, ROCKSDB_MEMORY_MAX_BYTES), errstr, errstr_size);
    if (!env)
        return RILL_EIO;
    pthread_mutex_lock(&app->lock); /* a metrics scrape reads it */
    app->store_env = env;
    pthread_mutex_unlock(&app->lock);
    app->env.state_dir = app->state_dir;
    app->env.store_env = app->store_env;
    app->env.exactly_once = rill__conf_eos(app->conf);
    return 0;
}

void rill_app_set_restore_listener(rill_app_t *app, const rill_restore_listener_t *listener)
{
    app->restore_listener = listener ? *listener : (rill_restore_listener_t){0};
}

/* The context of stream thread index (-1: the global thread). */
static thread_ctx_t thread_ctx(rill_app_t *app, int index)
{
    return (thread_ctx_t){
        .index = index,
        .topo = app->topo,
        .conf = app->conf,
        .bootstrap = app->bootstrap,
        .embedded = app->embedded,
        .eos = rill__conf_eos(app->conf),
        .process_id = app->process_id,
        .env = app->env,
        .query_lock = &app->query_lock,
        .restore_listener = app->restore_listener,
        .topics = app->topic_names,
        .ntopics = app->ntopics,
        .events = {app, thread_changed, thread_failed, thread_committed, thread_partitions,
                   thread_exited, thread_max_bytes},
    };
}

/* Starts the stream threads' OS threads (made already). */
static int start_stream_threads(rill_app_t *app)
{
    int rc = 0;
    for (int i = 0; i < app->nthreads && !rc; i++) {
        rc = rill__thread_start(app->threads[i]);
        if (!rc) {
            pthread_mutex_lock(&app->lock);
            app->started_threads++;
            pthread_mutex_unlock(&app->lock);
        }
    }
    return rc;
}

/* The global stores are loaded (on the global thread): the stream threads start, unless the app
 * is closing or failed meanwhile. Under the lock, so a close either sees them started (and
 * stops them) or keeps them from starting. */
static void global_ready(void *ud)
{
    rill_app_t *app = ud;
    int rc = 0;
    pthread_mutex_lock(&app->lock);
    for (int i = 0; i < app->nthreads && !rc && app->state == RILL_STATE_REBALANCING; i++)
        if ((rc = rill__thread_start(app->threads[i])) == 0)
            app->started_threads++;
    pthread_mutex_unlock(&app->lock);
    if (rc)
        app_fail(app, rc, "cannot start the stream threads");
}

/* Opens the global stores and starts the thread that loads them; the stream threads start when
 * it is done (global_ready), as Kafka Streams' start() waits for its global thread. */
static int start_global_thread(rill_app_t *app, char *errstr, size_t errstr_size)
{
    thread_ctx_t ctx = thread_ctx(app, -1); /* only its failed and partitions events are used */
    global_events_t ev = {app, global_ready, thread_failed};
    app->global_thread = rill__global_thread_new(&ctx, app->global, &ev, errstr, errstr_size);
    if (!app->global_thread)
        return RILL_EKAFKA;
    return rill__global_thread_start(app->global_thread);
}

int rill_app_start(rill_app_t *app)
{
    if (!app)
        return RILL_EINVAL;
    if (app->started || app->closed || rill_app_state(app) != RILL_STATE_CREATED)
        return RILL_ESTATE; /* an app runs once: make a new one to run again */
    app->started = true;
    char err[1024] = "";
    const char *listen = RILL_CONF_STR(app->conf, METRICS_LISTEN);
    if (listen[0] && !(app->metrics = rill__metrics_server_start(app, listen, err, sizeof err))) {
        app_fail(app, RILL_ECONFIG, "cannot start: %s", err);
        return RILL_ECONFIG;
    }
    const char *qlisten = RILL_CONF_STR(app->conf, QUERY_LISTEN);
    if (qlisten[0] && !(app->queries = rill__query_server_start(app, qlisten, err, sizeof err))) {
        app_fail(app, RILL_ECONFIG, "cannot start: %s", err);
        return RILL_ECONFIG;
    }
    int rc = rill__app_learn_topics(app, err, sizeof err);
    if (rc == RILL_ETIMEDOUT) {
        app_fail(app, rc, "%s", err);
        return rc;
    }
    if (!rc)
        rc = rill__app_create_internal_topics(app, err, sizeof err);
    if (rc) {
        app_fail(app, rc, "cannot start: %s", err);
        return rc;
    }
    if ((rill_topology_store_count(app->topo) > 0 || rill__conf_eos(app->conf)) &&
        (rc = open_state(app, err, sizeof err))) {
        app_fail(app, rc, "cannot start: %s", err);
        return rc;
    }
    if (rill_topology_store_count(app->topo) > 0 &&
        !(app->global = rill__global_open(app->topo, &app->env, err, sizeof err))) {
        app_fail(app, RILL_EIO, "cannot start: %s", err);
        return RILL_EIO;
    }
    app->env.global = rill__global_count(app->global) ? app->global : NULL;
    if (!app->env.global) {
        rill__global_close(app->global);
        app->global = NULL;
    }
    set_state(app, RILL_STATE_REBALANCING);
    app->topic_names = rill_calloc(app->ntopics + 1, sizeof *app->topic_names);
    if (!app->topic_names) {
        app_fail(app, RILL_ENOMEM, "cannot start: out of memory");
        return RILL_ENOMEM;
    }
    for (size_t i = 0; i < app->ntopics; i++)
        app->topic_names[i] = app->topics[i].name;
    for (int i = 0; i < app->nthreads && !rc; i++) {
        thread_ctx_t ctx = thread_ctx(app, i);
        stream_thread_t *t = rill__thread_new(&ctx, err, sizeof err);
        pthread_mutex_lock(&app->lock); /* a metrics scrape may be reading the slots */
        app->threads[i] = t;
        pthread_mutex_unlock(&app->lock);
        rc = t ? 0 : RILL_EKAFKA;
    }
    if (!rc && app->global)
        rc = start_global_thread(app, err, sizeof err);
    else if (!rc)
        rc = start_stream_threads(app);
    if (rc) {
        app_fail(app, rc, "cannot start the stream threads: %s", err);
        return rc;
    }
    rill_log(RILL_LOG_INFO, "app", "started application '%s' with %d stream thread(s) on %s",
             app->env.application_id, app->nthreads, app->bootstrap);
    return 0;
}

int rill_app_wait_state(rill_app_t *app, rill_state_t state, int64_t timeout_ms)
{
    if (timeout_ms < 0)
        timeout_ms = 0;
    struct timespec deadline = abs_time(rill_monotonic_ms() + timeout_ms);
    int rc = 0;
    pthread_mutex_lock(&app->lock);
    while (app->state != state && app->state != RILL_STATE_ERROR &&
           app->state != RILL_STATE_NOT_RUNNING) {
        if (pthread_cond_timedwait(&app->cond, &app->lock, &deadline) == ETIMEDOUT) {
            rc = RILL_ETIMEDOUT;
            break;
        }
    }
    if (!rc && app->state != state)
        rc = RILL_ESTATE;
    pthread_mutex_unlock(&app->lock);
    return rc;
}

int rill_app_close(rill_app_t *app, int64_t timeout_ms)
{
    if (!app || timeout_ms < 0)
        return RILL_EINVAL;
    if (app->closed && !app->close_pending)
        return 0;
    int64_t deadline_ms = rill_monotonic_ms() + timeout_ms;
    if (!app->closed) {
        app->closed = true;
        set_state(app, RILL_STATE_PENDING_SHUTDOWN);
        pthread_mutex_lock(&app->lock);
        for (int i = 0; i < app->nthreads; i++)
            if (app->threads[i])
                rill__thread_stop(app->threads[i], deadline_ms);
        pthread_mutex_unlock(&app->lock);
    }
    /* Wait (bounded) until every started thread's loop has ended; past the deadline the threads
     * go on closing, and a later close or rill_app_destroy() waits for them (as Kafka Streams'
     * close(Duration) returns false and leaves its threads shutting down). */
    struct timespec deadline = abs_time(deadline_ms);
    pthread_mutex_lock(&app->lock);
    bool timed_out = false;
    while (app->exited_threads < app->started_threads && !timed_out)
        timed_out = pthread_cond_timedwait(&app->cond, &app->lock, &deadline) == ETIMEDOUT &&
                    app->exited_threads < app->started_threads;
    pthread_mutex_unlock(&app->lock);
    if (timed_out) {
        app->close_pending = true;
        rill_log(RILL_LOG_WARN, "app",
                 "closing application '%s': its stream threads did not stop within %lld ms",
                 app->env.application_id, (long long)timeout_ms);
        return RILL_ETIMEDOUT;
    }
    app->close_pending = false;
    int rc = 0;
    /* Each slot is emptied under the lock before the thread is freed, so the metric and failure
     * paths (which read the slots under it) never see it. */
    for (int i = 0; i < app->nthreads; i++) {
        pthread_mutex_lock(&app->lock);
        stream_thread_t *t = app->threads[i];
        pthread_mutex_unlock(&app->lock);
        if (!t)
            continue;
        if (rill__thread_join(t))
            rc = RILL_EUNKNOWN;
        /* Queries read the slots under the query lock, the metrics under the app lock. */
        pthread_rwlock_wrlock(&app->query_lock);
        pthread_mutex_lock(&app->lock);
        /* Its counters stay in the app's (a gauge, "tasks", is 0 once it is gone). */
        for (int m = 0; m < RILL__METRICS; m++)
            if (m != RILL__METRIC_TASKS)
                app->closed_metrics[m] += rill__thread_metric(t, m);
        app->threads[i] = NULL;
        pthread_mutex_unlock(&app->lock);
        pthread_rwlock_unlock(&app->query_lock);
        rill__thread_destroy(t);
    }
    /* The global thread goes last: tasks read its stores until they close. */
    if (app->global_thread) {
        rill__global_thread_stop(app->global_thread);
        if (rill__global_thread_join(app->global_thread))
            rc = RILL_EUNKNOWN;
        rill__global_thread_destroy(app->global_thread);
        app->global_thread = NULL;
    }
    set_state(app, RILL_STATE_NOT_RUNNING);
    rill_log(RILL_LOG_INFO, "app", "application '%s' closed", app->env.application_id);
    return rc;
}

void rill_app_destroy(rill_app_t *app)
{
    if (!app)
        return;
    /* Waits for the threads however long they take: nothing may outlive the app. */
    while (app->started && rill_app_close(app, CLOSE_DEFAULT_MS) == RILL_ETIMEDOUT)
        ;
    rill__metrics_server_stop(app->metrics); /* before what a scrape reads goes */
    rill__query_server_stop(app->queries);   /* and what a query reads */
    rill_free(app->threads);
    rill__app_disconnect(app);
    rill_conf_destroy(app->conf);
    rill_topology_unref(app->topo);
    rill__global_close(app->global);
    rill_store_env_destroy(app->store_env);
    if (app->lock_fd > 0)
        close(app->lock_fd); /* releases the lock */
    rill_free(app->state_dir);
    pthread_rwlock_destroy(&app->query_lock);
    pthread_cond_destroy(&app->cond);
    pthread_mutex_destroy(&app->lock);
    rill_free(app);
}

rill_state_t rill_app_state(rill_app_t *app)
{
    pthread_mutex_lock(&app->lock);
    rill_state_t s = app->state;
    pthread_mutex_unlock(&app->lock);
    return s;
}

const char *rill_app_error(rill_app_t *app, char *buf, size_t buf_size)
{
    pthread_mutex_lock(&app->lock);
    snprintf(buf, buf_size, "%s", app->error);
    pthread_mutex_unlock(&app->lock);
    return buf;
}

const char *rill_app_bootstrap_servers(const rill_app_t *app)
{
    return app ? app->bootstrap : NULL;
}

int64_t rill_app_metric(rill_app_t *app, const char *name)
{
    int index = app ? rill__metric_index(name) : -1;
    if (index < 0)
        return -1;
    pthread_mutex_lock(&app->lock);
    int64_t sum = app->closed_metrics[index];
    for (int i = 0; i < app->nthreads; i++)
        if (app->threads[i])
            sum += rill__thread_metric(app->threads[i], index);
    pthread_mutex_unlock(&app->lock);
    return sum;
}

const char *rill_app_metrics_url(const rill_app_t *app)
{
    return app ? rill__metrics_server_url(app->metrics) : NULL;
}

const char *rill_app_query_url(const rill_app_t *app)
{
    return app ? rill__query_server_url(app->queries) : NULL;
}
