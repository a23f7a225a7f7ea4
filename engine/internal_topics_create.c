/*
 * The app's internal topics, made at start: each is sized (a repartition topic by its own count,
 * else by the join it feeds, else by the widest source of the sub-topology that writes it; a
 * changelog as the sources of its store's sub-topology), joins' co-partitioning is checked, the
 * missing ones are created (on the embedded cluster directly, on a real one with CreateTopics:
 * changelogs compacted, windowed ones also deleted past their retention, repartition topics
 * without time retention), and the app waits until the cluster's metadata lists them all.
 * Their names are internal_topics.c's.
 */
#include "engine_int.h"
#include "copartition.h"
#include "internal_topics.h"

#include <librdkafka/rdkafka_mock.h>

#include <stdio.h>
#include <string.h>
#include <time.h>

/* An internal topic's partitions: its own, or the widest source topic of the sub-topology that
 * writes it (as Kafka Streams decides). Internal sources upstream are resolved first, so this
 * runs to a fixed point. */
typedef struct {
    rill_app_t *app;
    int st;
    int32_t max;
    bool unresolved;
} width_walk_t;

static void widest_source(void *ud, const char *topic, bool internal, int32_t partitions)
{
    width_walk_t *w = ud;
    int32_t n = rill__app_partitions(w->app, topic);
    if (n < 0)
        w->unresolved = true;
    else if (n > w->max)
        w->max = n;
}

typedef struct {
    rill_app_t *app;
    bool progress, pending;
    int rc;
} internal_walk_t;

static void size_internal(void *ud, const char *topic, bool internal, int st, int32_t partitions)
{
    internal_walk_t *w = ud;
    if (!internal || rill__app_partitions(w->app, topic) > 0)
        return;
    if (partitions <= 0) {
        width_walk_t ww = {w->app, st, 0, false};
        rill__topology_source_topics(w->app->topo, st, w->app->env.application_id, widest_source,
                                     &ww);
        if (ww.unresolved || ww.max <= 0) {
            w->pending = true;
            return;
        }
        partitions = ww.max;
    }
    w->rc = w->rc ? w->rc : rill__app_remember_topic(w->app, topic, partitions);
    w->progress = true;
}

/* A topic just created may not be in every broker's metadata yet; a consumer that subscribes
 * before it is would get no partition of it. Wait (bounded) until the metadata lists every
 * internal topic with its partitions, as Kafka Streams does before it starts. */
static bool is_internal(const rill_app_t *app, const char *name);

static int wait_for_internal_topics(rill_app_t *app, char *errstr, size_t errstr_size)
{
    int64_t timeout = RILL_CONF_INT(app->conf, CLUSTER_CONNECT_TIMEOUT_MS);
    int64_t start = rill_monotonic_ms();
    for (;;) {
        const rd_kafka_metadata_t *md = NULL;
        const char *missing = NULL;
        if (rd_kafka_metadata(app->admin, 1, NULL, &md, 5000) == 0) {
            for (size_t i = 0; i < app->ntopics && !missing; i++) {
                const char *name = app->topics[i].name;
                if (!is_internal(app, name))
                    continue;
                bool ready = false;
                for (int t = 0; t < md->topic_cnt && !ready; t++)
                    ready = strcmp(md->topics[t].topic, name) == 0 && !md->topics[t].err &&
                            md->topics[t].partition_cnt == app->topics[i].partitions;
                if (!ready)
                    missing = name;
            }
            rd_kafka_metadata_destroy(md);
            if (!missing)
                return 0;
        }
        if (rill_monotonic_ms() - start > timeout) {
            snprintf(errstr, errstr_size,
                     "internal topic '%s' did not appear in the cluster's metadata within %lld "
                     "ms",
                     missing ? missing : "?", (long long)timeout);
            return RILL_ETIMEDOUT;
        }
        struct timespec pause = {0, 100 * 1000000}; /* metadata polling, bounded above */
        nanosleep(&pause, NULL);
    }
}

/* Returns whether name is an internal topic of the app (a repartition topic or a changelog). */
/* Returns whether the app makes topic name when it is missing: its internal topics, its dead
 * letter queue and its retry topics. */
static bool is_internal(const rill_app_t *app, const char *name)
{
    return rill__topic_kind(app->env.application_id, name) != RILL_TOPIC_USER ||
           (app->env.dlq_topic && strcmp(name, app->env.dlq_topic) == 0) ||
           rill__retry_topic_is(&app->env, name);
}

/* The dead letter queue, when one is named and missing: as wide as the widest source topic. */
static int size_dead_letter_queue(rill_app_t *app)
{
    const char *dlq = app->env.dlq_topic;
    if (!dlq || rill__app_partitions(app, dlq) > 0)
        return 0;
    int32_t widest = 1;
    for (int st = 0; st < rill__topology_subtopology_count(app->topo); st++) {
        width_walk_t ww = {app, st, 0, false};
        rill__topology_source_topics(app->topo, st, app->env.application_id, widest_source, &ww);
        if (ww.max > widest)
            widest = ww.max;
    }
    return rill__app_remember_topic(app, dlq, widest);
}

typedef struct {
    rill_app_t *app;
    int32_t min, max;
} span_t;

static void source_span(void *ud, const char *topic, bool internal, int32_t partitions)
{
    span_t *w = ud;
    int32_t n = rill__app_partitions(w->app, topic);
    if (n > 0 && (w->min == 0 || n < w->min))
        w->min = n;
    if (n > w->max)
        w->max = n;
}

/* The retry topics (errors.retry.topics.delays.ms), when missing: as wide as the sources. A
 * record goes back to the task of the partition it was read from, on the member that has that
 * partition of the retry topic: the range assignor gives partition p of topics of one width to
 * one member, so every source must have the retry topics' width. */
static int size_retry_topics(rill_app_t *app, char *errstr, size_t errstr_size)
{
    if (!app->env.nretry_delays)
        return 0;
    span_t span = {app, 0, 0};
    for (int st = 0; st < rill__topology_subtopology_count(app->topo); st++)
        rill__topology_source_topics(app->topo, st, app->env.application_id, source_span, &span);
    if (span.min != span.max) {
        snprintf(errstr, errstr_size,
                 "errors.retry.topics.delays.ms: the retry topics need every source topic to have "
                 "one partition count (they have %d to %d), so that a retried record comes back to "
                 "the instance of its task",
                 span.min, span.max);
        return RILL_ECONFIG;
    }
    for (int i = 0; i < app->env.nretry_delays; i++) {
        char name[300];
        rill__retry_topic_name(name, sizeof name, app->env.application_id,
                               app->env.retry_delays[i]);
        int32_t n = rill__app_partitions(app, name);
        if (n > 0 && n != span.max) {
            snprintf(errstr, errstr_size,
                     "retry topic '%s' has %d partitions; the sources have %d: it must have as "
                     "many",
                     name, n, span.max);
            return RILL_ECONFIG;
        }
        int rc = n > 0 ? 0 : rill__app_remember_topic(app, name, span.max > 0 ? span.max : 1);
        if (rc) {
            snprintf(errstr, errstr_size, "out of memory");
            return rc;
        }
    }
    return 0;
}

/* Returns the store whose changelog name is, or NULL. */
static const rill_store_spec_t *changelog_store(const rill_app_t *app, const char *name)
{
    for (int k = 0; k < rill_topology_store_count(app->topo); k++) {
        const rill_store_spec_t *spec = rill_topology_store(app->topo, k, NULL);
        char cl[600];
        rill__changelog_topic(cl, sizeof cl, app->env.application_id, spec->name);
        if (strcmp(cl, name) == 0)
            return spec;
    }
    return NULL;
}

/* Sets a changelog's topic configuration: compacted, and for windowed stores also deleted
 * after the store's retention plus windowstore.changelog.additional.retention.ms (a day by
 * default, as in Kafka Streams). */
static int changelog_config(const rill_app_t *app, rd_kafka_NewTopic_t *nt,
                            const rill_store_spec_t *spec)
{
    if (spec->type == RILL_STORE_KV)
        return rd_kafka_NewTopic_set_config(nt, "cleanup.policy", "compact") ? RILL_ECONFIG : 0;
    char ms[32];
    if (spec->type == RILL_STORE_VERSIONED) {
        /* As Kafka Streams: compaction keeps every version still within the history retention. */
        snprintf(ms, sizeof ms, "%lld", (long long)(spec->retention_ms + 24 * 3600 * 1000LL));
        return rd_kafka_NewTopic_set_config(nt, "cleanup.policy", "compact") ||
                       rd_kafka_NewTopic_set_config(nt, "min.compaction.lag.ms", ms)
                   ? RILL_ECONFIG
                   : 0;
    }
    snprintf(ms, sizeof ms, "%lld",
             (long long)(spec->retention_ms +
                         RILL_CONF_INT(app->conf, WINDOWSTORE_CHANGELOG_ADDITIONAL_RETENTION_MS)));
    if (rd_kafka_NewTopic_set_config(nt, "cleanup.policy", "compact,delete") ||
        rd_kafka_NewTopic_set_config(nt, "retention.ms", ms))
        return RILL_ECONFIG;
    return 0;
}

static int32_t known_partitions(void *ud, const char *topic)
{
    return rill__app_partitions(ud, topic);
}

static int size_topic(void *ud, const char *topic, int32_t n)
{
    return rill__app_remember_topic(ud, topic, n);
}

int rill__app_create_internal_topics(rill_app_t *app, char *errstr, size_t errstr_size)
{
    int rc;
    /* A repartition topic feeding a join takes the join's count first (co-partitioning). */
    copartition_topics_t cp = {known_partitions, size_topic, app};
    if ((rc = rill__copartition_size(app->topo, app->env.application_id, &cp)))
        return rc;
    internal_walk_t w = {app, true, false, 0};
    while (w.progress && !w.rc) {
        w.progress = w.pending = false;
        rill__topology_sink_topics(app->topo, app->env.application_id, size_internal, &w);
    }
    if (w.rc)
        return w.rc;
    if (w.pending) {
        snprintf(errstr, errstr_size,
                 "cannot size the repartition topics: their upstream sources have no known "
                 "partition count (give rill_stream_repartition() a partition count)");
        return RILL_ETOPOLOGY;
    }
    if ((rc =
             rill__copartition_check(app->topo, app->env.application_id, &cp, errstr, errstr_size)))
        return rc;
    /* Changelogs: as wide as the sources of their store's sub-topology. */
    for (int k = 0; k < rill_topology_store_count(app->topo); k++) {
        int st;
        const rill_store_spec_t *spec = rill_topology_store(app->topo, k, &st);
        if (spec->no_logging)
            continue;
        width_walk_t ww = {app, st, 0, false};
        rill__topology_source_topics(app->topo, st, app->env.application_id, widest_source, &ww);
        char name[600];
        rill__changelog_topic(name, sizeof name, app->env.application_id, spec->name);
        if (ww.max <= 0) {
            snprintf(errstr, errstr_size,
                     "cannot size changelog '%s': its sources have no known "
                     "partition count",
                     name);
            return RILL_ETOPOLOGY;
        }
        if ((rc = rill__app_remember_topic(app, name, ww.max)))
            return rc;
    }
    if ((rc = size_dead_letter_queue(app)))
        return rc;
    if ((rc = size_retry_topics(app, errstr, errstr_size)))
        return rc;
    /* Create them: on the mock cluster directly, on a real one with CreateTopics. */
    size_t app_len = strlen(app->env.application_id);
    rd_kafka_NewTopic_t **nts = rill_calloc(app->ntopics + 1, sizeof *nts);
    size_t nnt = 0;
    int rf = (int)RILL_CONF_INT(app->conf, REPLICATION_FACTOR);
    if (rf < 0 && !app->embedded) {
        /* As Kafka Streams' users are told to: 3 where the cluster can hold 3 copies. */
        const rd_kafka_metadata_t *md = NULL;
        if (rd_kafka_metadata(app->admin, 0, NULL, &md, 10000) == 0) {
            if (md->broker_cnt >= 3)
                rf = 3;
            rd_kafka_metadata_destroy(md);
        }
    }
    (void)app_len;
    /* Only the missing ones: a restart must not need the right to create topics (and the
     * embedded cluster, reached through bootstrap.servers by a second instance, never answers
     * CreateTopics). */
    const rd_kafka_metadata_t *md = NULL;
    if (!app->embedded && rd_kafka_metadata(app->admin, 1, NULL, &md, 10000) != 0)
        md = NULL;
    for (size_t i = 0; nts && i < app->ntopics; i++) {
        const char *name = app->topics[i].name;
        if (!is_internal(app, name))
            continue;
        bool exists = false;
        for (int k = 0; md && k < md->topic_cnt && !exists; k++)
            exists = strcmp(md->topics[k].topic, name) == 0 && !md->topics[k].err;
        if (exists)
            continue;
        if (app->embedded) {
            rd_kafka_mock_topic_create(app->mock, name, app->topics[i].partitions, 1);
            continue;
        }
        char kerr[256];
        nts[nnt] = rd_kafka_NewTopic_new(name, app->topics[i].partitions, rf, kerr, sizeof kerr);
        const rill_store_spec_t *spec = nts[nnt] ? changelog_store(app, name) : NULL;
        /* Repartition topics keep records whatever their timestamps (a replay of old events
         * must not lose them to the broker's time retention); the app deletes what it has
         * committed instead (purge_repartitions). */
        bool dlq = (app->env.dlq_topic && strcmp(name, app->env.dlq_topic) == 0) ||
                   rill__retry_topic_is(&app->env, name);
        bool bad = spec  ? changelog_config(app, nts[nnt], spec) != 0
                   : dlq ? false /* the broker's defaults */
                         : nts[nnt] && rd_kafka_NewTopic_set_config(nts[nnt], "retention.ms", "-1");
        if (nts[nnt] && bad) {
            snprintf(kerr, sizeof kerr, "cannot set its configuration");
            rd_kafka_NewTopic_destroy(nts[nnt]);
            nts[nnt] = NULL;
        }
        if (!nts[nnt]) {
            snprintf(errstr, errstr_size, "cannot create internal topic '%s': %s", name, kerr);
            for (size_t k = 0; k < nnt; k++)
                rd_kafka_NewTopic_destroy(nts[k]);
            rill_free(nts);
            return RILL_ECONFIG;
        }
        nnt++;
    }
    if (md)
        rd_kafka_metadata_destroy(md);
    rc = nts ? 0 : RILL_ENOMEM;
    if (nnt) {
        rd_kafka_queue_t *q = rd_kafka_queue_new(app->admin);
        rd_kafka_CreateTopics(app->admin, nts, nnt, NULL, q);
        rd_kafka_event_t *ev =
            rd_kafka_queue_poll(q, (int)RILL_CONF_INT(app->conf, CLUSTER_CONNECT_TIMEOUT_MS));
        const rd_kafka_CreateTopics_result_t *res =
            ev ? rd_kafka_event_CreateTopics_result(ev) : NULL;
        if (!res) {
            snprintf(errstr, errstr_size, "creating the internal topics timed out");
            rc = RILL_ETIMEDOUT;
        } else {
            size_t cnt;
            const rd_kafka_topic_result_t **tr = rd_kafka_CreateTopics_result_topics(res, &cnt);
            for (size_t i = 0; i < cnt && !rc; i++) {
                rd_kafka_resp_err_t e = rd_kafka_topic_result_error(tr[i]);
                if (e && e != RD_KAFKA_RESP_ERR_TOPIC_ALREADY_EXISTS) {
                    snprintf(errstr, errstr_size, "cannot create internal topic '%s': %s",
                             rd_kafka_topic_result_name(tr[i]),
                             rd_kafka_topic_result_error_string(tr[i]));
                    rc = RILL_EKAFKA;
                }
            }
        }
        if (ev)
            rd_kafka_event_destroy(ev);
        rd_kafka_queue_destroy(q);
    }
    for (size_t i = 0; i < nnt; i++)
        rd_kafka_NewTopic_destroy(nts[i]);
    rill_free(nts);
    if (!rc && !app->embedded)
        rc = wait_for_internal_topics(app, errstr, errstr_size);
    return rc;
}
