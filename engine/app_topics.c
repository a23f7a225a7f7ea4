/*
 * An app's topics at start: the client that asks the cluster (the admin client, a producer
 * handle), the embedded cluster when there is no bootstrap.servers (librdkafka's mock, with the
 * app's source, sink and global topics made in it), the partition counts of the source and
 * global topics (a missing one is an error), the sink topics (asked for by name, so a cluster
 * that creates topics on demand does), and the table of known topics the threads read.
 */
#include "engine_int.h"

#include <librdkafka/rdkafka_mock.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

int32_t rill__app_partitions(const rill_app_t *app, const char *topic)
{
    for (size_t i = 0; i < app->ntopics; i++)
        if (strcmp(app->topics[i].name, topic) == 0)
            return app->topics[i].partitions;
    return -1;
}

int64_t rill__app_max_bytes(const rill_app_t *app, const char *topic)
{
    for (size_t i = 0; i < app->nlimits; i++)
        if (strcmp(app->limits[i].name, topic) == 0)
            return app->limits[i].max_bytes;
    return 0;
}

int rill__app_remember_topic(rill_app_t *app, const char *name, int32_t partitions)
{
    for (size_t i = 0; i < app->ntopics; i++)
        if (strcmp(app->topics[i].name, name) == 0) {
            app->topics[i].partitions = partitions;
            return 0;
        }
    topic_info_t *t = rill_realloc(app->topics, (app->ntopics + 1) * sizeof *t);
    if (!t)
        return RILL_ENOMEM;
    app->topics = t;
    if (!(t[app->ntopics].name = rill_strdup(name)))
        return RILL_ENOMEM;
    t[app->ntopics].max_bytes = 0;
    t[app->ntopics++].partitions = partitions;
    return 0;
}

static rd_kafka_t *admin_client(const char *bootstrap, const rill_conf_t *conf, char *errstr,
                                size_t errstr_size)
{
    rd_kafka_conf_t *kconf = rd_kafka_conf_new();
    rd_kafka_conf_set_log_cb(kconf, rill__kafka_log_cb);
    char kerr[256];
    rd_kafka_t *rk = NULL;
    if (rd_kafka_conf_set(kconf, "bootstrap.servers", bootstrap, kerr, sizeof kerr))
        snprintf(errstr, errstr_size, "bootstrap.servers: %s", kerr);
    else if (rill__conf_apply(conf, kconf, SCOPE_PRODUCER, kerr, sizeof kerr))
        snprintf(errstr, errstr_size, "%s", kerr); /* librdkafka's message names the property */
    else if (!(rk = rd_kafka_new(RD_KAFKA_PRODUCER, kconf, kerr, sizeof kerr)))
        snprintf(errstr, errstr_size, "cannot create the admin client: %s", kerr);
    if (!rk)
        rd_kafka_conf_destroy(kconf);
    return rk;
}

typedef struct {
    rill_app_t *app;
    int32_t partitions;
    int rc;
} topic_walk_t;

static void create_embedded_topic(void *ud, const char *topic, bool internal, int32_t partitions)
{
    topic_walk_t *w = ud;
    if (internal || rill__app_partitions(w->app, topic) > 0)
        return;
    rd_kafka_mock_topic_create(w->app->mock, topic, w->partitions, 1);
    if (!w->rc)
        w->rc = rill__app_remember_topic(w->app, topic, w->partitions);
}

static void create_embedded_sink(void *ud, const char *topic, bool internal, int st,
                                 int32_t partitions)
{
    if (!internal)
        create_embedded_topic(ud, topic, false, partitions);
}

/* The bare handle that hosts the mock cluster has no bootstrap.servers by design: drop
 * librdkafka's warning about that, keep the rest. */
static void mock_owner_log_cb(const rd_kafka_t *rk, int level, const char *fac, const char *buf)
{
    if (strcmp(fac, "CONFWARN") != 0)
        rill__kafka_log_cb(rk, level, fac, buf);
}

static int start_embedded(rill_app_t *app, char *errstr, size_t errstr_size)
{
    rd_kafka_conf_t *kconf = rd_kafka_conf_new();
    rd_kafka_conf_set_log_cb(kconf, mock_owner_log_cb);
    char kerr[256];
    app->mock_owner = rd_kafka_new(RD_KAFKA_PRODUCER, kconf, kerr, sizeof kerr);
    if (!app->mock_owner) {
        rd_kafka_conf_destroy(kconf);
        snprintf(errstr, errstr_size, "cannot start the embedded cluster: %s", kerr);
        return RILL_EKAFKA;
    }
    int brokers = (int)RILL_CONF_INT(app->conf, EMBEDDED_BROKERS);
    app->mock = rd_kafka_mock_cluster_new(app->mock_owner, brokers);
    if (!app->mock) {
        snprintf(errstr, errstr_size, "cannot start the embedded cluster (librdkafka mock)");
        return RILL_EKAFKA;
    }
    app->bootstrap = rill_strdup(rd_kafka_mock_cluster_bootstraps(app->mock));
    if (!app->bootstrap)
        return RILL_ENOMEM;
    if (!(app->admin = admin_client(app->bootstrap, app->conf, errstr, errstr_size)))
        return RILL_EKAFKA;
    topic_walk_t w = {app, (int32_t)RILL_CONF_INT(app->conf, EMBEDDED_PARTITIONS), 0};
    for (int st = 0; st < rill__topology_subtopology_count(app->topo); st++)
        rill__topology_source_topics(app->topo, st, app->env.application_id, create_embedded_topic,
                                     &w);
    rill__topology_sink_topics(app->topo, app->env.application_id, create_embedded_sink, &w);
    rill__topology_global_topics(app->topo, create_embedded_topic, &w);
    /* At NOTICE: even an app that logs only warnings says where its data goes. */
    rill_log(RILL_LOG_NOTICE, "app",
             "no bootstrap.servers: started the embedded Kafka cluster (librdkafka's mock "
             "cluster, %d brokers) at %s; its topics live in memory and vanish with the app, "
             "and it does not hide aborted transactions from read_committed readers. Set "
             "bootstrap.servers to use a real cluster.",
             brokers, app->bootstrap);
    if (rill__conf_eos(app->conf))
        rill_log(RILL_LOG_WARN, "app",
                 "processing.guarantee=exactly_once_v2 on the embedded cluster: transactions "
                 "run, but the mock cluster neither hides aborted records from read_committed "
                 "readers nor keeps the offsets committed in transactions, so nothing here is "
                 "exactly once. Use a real cluster (bootstrap.servers) for exactly-once.");
    return w.rc;
}

/* Learns the partition count of every source topic; a missing one is an error. */
typedef struct {
    rill_app_t *app;
    const rd_kafka_metadata_t *md;
    char *errstr;
    size_t errstr_size;
    int rc;
} source_walk_t;

static void check_source(void *ud, const char *topic, bool internal, int32_t partitions)
{
    source_walk_t *w = ud;
    if (internal || w->rc)
        return;
    for (int i = 0; i < w->md->topic_cnt; i++)
        if (strcmp(w->md->topics[i].topic, topic) == 0 && !w->md->topics[i].err) {
            w->rc = rill__app_remember_topic(w->app, topic, w->md->topics[i].partition_cnt);
            return;
        }
    snprintf(w->errstr, w->errstr_size,
             "source topic '%s' does not exist on the cluster at %s; create it before starting "
             "the app",
             topic, w->app->bootstrap);
    w->rc = RILL_ENOENT;
}

/* Asks the cluster for topic by name: 0 when it exists, else the topic's error. */
static rd_kafka_resp_err_t named_topic(rd_kafka_t *rk, const char *topic)
{
    rd_kafka_topic_t *rkt = rd_kafka_topic_new(rk, topic, NULL);
    if (!rkt)
        return RD_KAFKA_RESP_ERR__INVALID_ARG;
    const rd_kafka_metadata_t *md = NULL;
    rd_kafka_resp_err_t kerr = rd_kafka_metadata(rk, 0, rkt, &md, 10000);
    if (!kerr) {
        kerr = md->topic_cnt == 1 ? md->topics[0].err : RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART;
        rd_kafka_metadata_destroy(md);
    }
    rd_kafka_topic_destroy(rkt);
    /* Just created by the broker, the topic has no leader yet: it exists. */
    return kerr == RD_KAFKA_RESP_ERR_LEADER_NOT_AVAILABLE ? 0 : kerr;
}

/* A sink topic missing from the metadata is asked for by name. The admin client is a producer
 * handle, whose metadata request for a named topic lets the broker create it: a cluster with
 * auto.create.topics.enable creates it now, as the first record would have. A KRaft broker
 * answers UNKNOWN_TOPIC_OR_PARTITION while it creates the topic (Kafka 4.4), so the request is
 * repeated for up to 3 s. A cluster that does not create it makes the app fail at start, naming
 * the topic, instead of at the first record, 30 s (the producer's metadata propagation wait)
 * later. */
static void check_sink(void *ud, const char *topic, bool internal, int st, int32_t partitions)
{
    source_walk_t *w = ud;
    if (internal || w->rc)
        return;
    for (int i = 0; i < w->md->topic_cnt; i++)
        if (strcmp(w->md->topics[i].topic, topic) == 0 && !w->md->topics[i].err)
            return;
    rd_kafka_resp_err_t kerr = named_topic(w->app->admin, topic);
    for (int tries = 0; kerr == RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART && tries < 15; tries++) {
        struct timespec pause = {0, 200 * 1000000};
        nanosleep(&pause, NULL);
        kerr = named_topic(w->app->admin, topic);
    }
    if (!kerr)
        return;
    if (kerr == RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART)
        snprintf(w->errstr, w->errstr_size,
                 "sink topic '%s' does not exist on the cluster at %s, which does not create "
                 "topics on demand (auto.create.topics.enable=false); create it before starting "
                 "the app",
                 topic, w->app->bootstrap);
    else
        snprintf(w->errstr, w->errstr_size, "cannot learn sink topic '%s' on the cluster at %s: %s",
                 topic, w->app->bootstrap, rd_kafka_err2str(kerr));
    w->rc = RILL_ENOENT;
}

/* How long the start waits for the sink topics' configs: they are a help, not a need. */
#define SINK_LIMITS_TIMEOUT_MS 3000

/* The sink topics' names, for one DescribeConfigs request. */
typedef struct {
    rd_kafka_ConfigResource_t **res;
    size_t n, cap;
} sink_names_t;

static void add_sink_name(void *ud, const char *topic, bool internal, int st, int32_t partitions)
{
    sink_names_t *s = ud;
    if (internal || s->n == s->cap)
        return;
    s->res[s->n++] = rd_kafka_ConfigResource_new(RD_KAFKA_RESOURCE_TOPIC, topic);
}

/* Learns each sink topic's max.message.bytes (DescribeConfigs), so that a sink refuses a record
 * larger than that before it is sent: under exactly-once a record the broker refuses makes the
 * transaction abort, and the production handler could not skip it. Without an answer (an old
 * broker, no permission) the limit stays unknown and the broker's refusal decides, as before. */
static int learn_sink_limits(rill_app_t *app, int timeout_ms)
{
    sink_names_t s = {.cap = 256};
    s.res = rill_calloc(s.cap, sizeof *s.res);
    if (!s.res)
        return RILL_ENOMEM;
    rill__topology_sink_topics(app->topo, app->env.application_id, add_sink_name, &s);
    /* librdkafka's mock cluster (named by its id) does not answer DescribeConfigs. */
    char *id = rd_kafka_clusterid(app->admin, 0);
    bool mock = id && strncmp(id, "mockCluster", 11) == 0;
    rd_kafka_mem_free(app->admin, id);
    if (s.n && !mock) {
        rd_kafka_queue_t *q = rd_kafka_queue_new(app->admin);
        rd_kafka_AdminOptions_t *opts =
            rd_kafka_AdminOptions_new(app->admin, RD_KAFKA_ADMIN_OP_DESCRIBECONFIGS);
        char kerr[256];
        rd_kafka_AdminOptions_set_request_timeout(opts, timeout_ms, kerr, sizeof kerr);
        rd_kafka_DescribeConfigs(app->admin, s.res, s.n, opts, q);
        rd_kafka_AdminOptions_destroy(opts);
        rd_kafka_event_t *ev = rd_kafka_queue_poll(q, timeout_ms + 1000);
        const rd_kafka_DescribeConfigs_result_t *r =
            ev ? rd_kafka_event_DescribeConfigs_result(ev) : NULL;
        size_t nres = 0;
        const rd_kafka_ConfigResource_t **res =
            r ? rd_kafka_DescribeConfigs_result_resources(r, &nres) : NULL;
        for (size_t i = 0; i < nres; i++) {
            if (rd_kafka_ConfigResource_error(res[i]))
                continue;
            size_t nc = 0;
            const rd_kafka_ConfigEntry_t **cfg = rd_kafka_ConfigResource_configs(res[i], &nc);
            for (size_t k = 0; k < nc; k++) {
                const char *v = rd_kafka_ConfigEntry_value(cfg[k]);
                if (strcmp(rd_kafka_ConfigEntry_name(cfg[k]), "max.message.bytes") != 0 || !v)
                    continue;
                topic_info_t *l = rill_realloc(app->limits, (app->nlimits + 1) * sizeof *l);
                if (!l)
                    break; /* the limit stays unknown */
                app->limits = l;
                l[app->nlimits] = (topic_info_t){rill_strdup(rd_kafka_ConfigResource_name(res[i])),
                                                 -1, strtoll(v, NULL, 10)};
                if (l[app->nlimits].name)
                    app->nlimits++;
            }
        }
        if (!r)
            rill_log(RILL_LOG_INFO, "app",
                     "the cluster did not say its sink topics' max.message.bytes (%s): a record "
                     "larger than a topic takes is found when the broker refuses it",
                     ev ? rd_kafka_event_error_string(ev) : "no answer");
        if (ev)
            rd_kafka_event_destroy(ev);
        rd_kafka_queue_destroy(q);
    }
    for (size_t i = 0; i < s.n; i++)
        rd_kafka_ConfigResource_destroy(s.res[i]);
    rill_free(s.res);
    return 0;
}

/* Remembers every topic of the metadata matching a source pattern. */
static void learn_pattern_topics(rill_app_t *app, const rd_kafka_metadata_t *md)
{
    for (int i = 0; i < md->topic_cnt; i++) {
        int st, source;
        if (!md->topics[i].err &&
            rill__topology_find_source(app->topo, app->env.application_id, md->topics[i].topic, &st,
                                       &source) == 0)
            rill__app_remember_topic(app, md->topics[i].topic, md->topics[i].partition_cnt);
    }
}

int rill__app_learn_topics(rill_app_t *app, char *errstr, size_t errstr_size)
{
    int timeout = (int)RILL_CONF_INT(app->conf, CLUSTER_CONNECT_TIMEOUT_MS);
    const rd_kafka_metadata_t *md = NULL;
    rd_kafka_resp_err_t kerr = rd_kafka_metadata(app->admin, 1, NULL, &md, timeout);
    if (kerr) {
        snprintf(errstr, errstr_size,
                 "cannot reach the Kafka cluster at bootstrap.servers=%s within %d ms "
                 "(cluster.connect.timeout.ms): %s",
                 app->bootstrap, timeout, rd_kafka_err2str(kerr));
        return RILL_ETIMEDOUT;
    }
    source_walk_t w = {app, md, errstr, errstr_size, 0};
    for (int st = 0; st < rill__topology_subtopology_count(app->topo) && !w.rc; st++)
        rill__topology_source_topics(app->topo, st, app->env.application_id, check_source, &w);
    if (!w.rc)
        rill__topology_global_topics(app->topo, check_source, &w);
    /* The embedded cluster's sink topics were made with it (start_embedded). */
    if (!w.rc && !app->embedded)
        rill__topology_sink_topics(app->topo, app->env.application_id, check_sink, &w);
    learn_pattern_topics(app, md);
    rd_kafka_metadata_destroy(md);
    if (!w.rc && !app->embedded)
        w.rc = learn_sink_limits(app, timeout < SINK_LIMITS_TIMEOUT_MS ? timeout
                                                                       : SINK_LIMITS_TIMEOUT_MS);
    return w.rc;
}

int rill__app_connect(rill_app_t *app, char *errstr, size_t errstr_size)
{
    const char *bootstrap = RILL_CONF_STR(app->conf, BOOTSTRAP_SERVERS);
    app->embedded = !*bootstrap;
    if (app->embedded)
        return start_embedded(app, errstr, errstr_size);
    if (!(app->bootstrap = rill_strdup(bootstrap))) {
        snprintf(errstr, errstr_size, "out of memory");
        return RILL_ENOMEM;
    }
    if (!(app->admin = admin_client(bootstrap, app->conf, errstr, errstr_size)))
        return RILL_ECONFIG;
    return 0;
}

void rill__app_disconnect(rill_app_t *app)
{
    for (size_t i = 0; i < app->ntopics; i++)
        rill_free(app->topics[i].name);
    rill_free(app->topics);
    for (size_t i = 0; i < app->nlimits; i++)
        rill_free(app->limits[i].name);
    rill_free(app->limits);
    rill_free(app->topic_names);
    if (app->admin)
        rd_kafka_destroy(app->admin);
    if (app->mock)
        rd_kafka_mock_cluster_destroy(app->mock);
    if (app->mock_owner)
        rd_kafka_destroy(app->mock_owner);
    rill_free(app->bootstrap);
}
