/*
 * The `_schemas` topic: one partition, compacted, written only by the leader, read from its start
 * by every instance. A reader thread applies each record to the state (under reg->lock) and
 * moves `applied` on; a write waits for its own record to come back through the reader, so that
 * what the registry answers is what any instance reads next (Confluent's KafkaStore does the
 * same: a put waits until the store's reader has consumed its offset).
 *
 * Without kafkastore.bootstrap.servers the store runs on librdkafka's mock cluster, which lives
 * in this process and vanishes with it (one instance, no election: it leads).
 */
#include "registry_int.h"

#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

struct reg_store {
    rill_registry_t *reg;
    rd_kafka_t *mock_owner;
    rd_kafka_mock_cluster_t *mock;
    char *bootstrap;
    const char *topic;
    rd_kafka_t *producer;
    rd_kafka_t *reader;
    pthread_t thread;
    bool thread_started;
    atomic_bool stop;
    pthread_cond_t applied_cond; /* with reg->lock */
    int64_t applied;             /* the next offset the reader will apply (reg->lock) */
    char reader_error[256];      /* the reader's last error (reg->lock) */
};

/* The outcome of one produce, filled by its delivery report. */
typedef struct {
    bool done;
    rd_kafka_resp_err_t err;
    int64_t offset;
} delivery_t;

static void quiet_log(const rd_kafka_t *rk, int level, const char *fac, const char *buf)
{
    (void)rk;
    if (level <= 4 && strcmp(fac, "CONFWARN") != 0)
        rill_log(level <= 3 ? RILL_LOG_ERROR : RILL_LOG_WARN, "registry", "kafka: %s", buf);
}

void *rill__reg_store_client_conf(const reg_store_t *store)
{
    const rill_registry_conf_t *conf = store->reg->conf;
    rd_kafka_conf_t *kc = rd_kafka_conf_new();
    char kerr[256];
    rd_kafka_conf_set(kc, "bootstrap.servers", store->bootstrap, kerr, sizeof kerr);
    rd_kafka_conf_set_log_cb(kc, quiet_log);
    for (size_t i = 0; i < conf->nkafka; i++)
        if (rd_kafka_conf_set(kc, conf->kafka[2 * i], conf->kafka[2 * i + 1], kerr, sizeof kerr))
            rill_log(RILL_LOG_WARN, "registry", "kafkastore.%s: %s (ignored)", conf->kafka[2 * i],
                     kerr);
    return kc;
}

static void deadline_in(struct timespec *ts, int ms)
{
    clock_gettime(CLOCK_REALTIME, ts);
    ts->tv_sec += ms / 1000;
    ts->tv_nsec += (long)(ms % 1000) * 1000000;
    if (ts->tv_nsec >= 1000000000) {
        ts->tv_sec++;
        ts->tv_nsec -= 1000000000;
    }
}

static void delivered(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque)
{
    (void)rk;
    (void)opaque;
    delivery_t *d = m->_private;
    d->err = m->err;
    d->offset = m->offset;
    d->done = true;
}

/* ---- the reader ---- */

static void *reader_main(void *arg)
{
    reg_store_t *store = arg;
    rill_registry_t *reg = store->reg;
    while (!atomic_load(&store->stop)) {
        rd_kafka_message_t *m = rd_kafka_consumer_poll(store->reader, 100);
        if (!m)
            continue;
        if (m->err && m->err != RD_KAFKA_RESP_ERR__PARTITION_EOF) {
            pthread_mutex_lock(&reg->lock);
            snprintf(store->reader_error, sizeof store->reader_error, "%s",
                     rd_kafka_message_errstr(m));
            pthread_mutex_unlock(&reg->lock);
            rill_log(RILL_LOG_WARN, "registry", "reading topic '%s': %s", store->topic,
                     rd_kafka_message_errstr(m));
        } else if (!m->err) {
            char why[300];
            pthread_mutex_lock(&reg->lock);
            if (rill__state_apply(&reg->state, m->key, m->key_len, m->payload, m->len, why,
                                  sizeof why) > 0)
                rill_log(RILL_LOG_INFO, "registry", "topic '%s' offset %lld skipped: %s",
                         store->topic, (long long)m->offset, why);
            store->applied = m->offset + 1;
            pthread_cond_broadcast(&store->applied_cond);
            pthread_mutex_unlock(&reg->lock);
        }
        rd_kafka_message_destroy(m);
    }
    return NULL;
}

/* Waits (reg->lock held) until the reader has applied offsets below end. */
static int wait_applied(reg_store_t *store, int64_t end, int timeout_ms)
{
    struct timespec deadline;
    deadline_in(&deadline, timeout_ms);
    while (store->applied < end)
        if (pthread_cond_timedwait(&store->applied_cond, &store->reg->lock, &deadline))
            return store->applied < end ? RILL_ETIMEDOUT : 0;
    return 0;
}

/* ---- the topic ---- */

/* Returns the partitions of the topic (0: none), or -1 with errstr. */
static int topic_partitions(reg_store_t *store, int *brokers, char *errstr, size_t errstr_size)
{
    /* All topics: a request naming the topic would make a broker that auto-creates topics
     * create it, with its default partition count. */
    const struct rd_kafka_metadata *md = NULL;
    rd_kafka_resp_err_t err = rd_kafka_metadata(store->producer, 1, NULL, &md, 10000);
    if (err) {
        snprintf(errstr, errstr_size, "cannot read the metadata of topic '%s' from %s: %s",
                 store->topic, store->bootstrap, rd_kafka_err2str(err));
        return -1;
    }
    int n = 0;
    for (int i = 0; i < md->topic_cnt; i++)
        if (strcmp(md->topics[i].topic, store->topic) == 0 && !md->topics[i].err)
            n = md->topics[i].partition_cnt;
    *brokers = md->broker_cnt;
    rd_kafka_metadata_destroy(md);
    return n;
}

static int create_topic(reg_store_t *store, int brokers, char *errstr, size_t errstr_size)
{
    long rf = rill__reg_conf_int(store->reg->conf, REG_CONF_REPLICATION);
    if (rf > brokers)
        rf = brokers;
    char kerr[256];
    rd_kafka_NewTopic_t *nt = rd_kafka_NewTopic_new(store->topic, 1, (int)rf, kerr, sizeof kerr);
    if (!nt) {
        snprintf(errstr, errstr_size, "topic '%s': %s", store->topic, kerr);
        return RILL_EINVAL;
    }
    rd_kafka_NewTopic_set_config(nt, "cleanup.policy", "compact");
    rd_kafka_AdminOptions_t *o = rd_kafka_AdminOptions_new(store->producer, RD_KAFKA_ADMIN_OP_ANY);
    rd_kafka_AdminOptions_set_operation_timeout(o, 10000, kerr, sizeof kerr);
    rd_kafka_queue_t *q = rd_kafka_queue_new(store->producer);
    rd_kafka_CreateTopics(store->producer, &nt, 1, o, q);
    rd_kafka_event_t *ev = rd_kafka_queue_poll(q, 15000);
    int rc = 0;
    if (!ev || rd_kafka_event_error(ev)) {
        snprintf(errstr, errstr_size, "cannot create topic '%s': %s", store->topic,
                 ev ? rd_kafka_event_error_string(ev) : "no answer within 15 s");
        rc = RILL_EKAFKA;
    } else {
        size_t n;
        const rd_kafka_topic_result_t **res =
            rd_kafka_CreateTopics_result_topics(rd_kafka_event_CreateTopics_result(ev), &n);
        rd_kafka_resp_err_t err = n == 1 ? rd_kafka_topic_result_error(res[0]) : 0;
        if (err && err != RD_KAFKA_RESP_ERR_TOPIC_ALREADY_EXISTS) {
            snprintf(errstr, errstr_size, "cannot create topic '%s': %s", store->topic,
                     rd_kafka_topic_result_error_string(res[0]));
            rc = RILL_EKAFKA;
        } else if (!err) {
            rill_log(RILL_LOG_INFO, "registry",
                     "created topic '%s' (1 partition, replication factor %ld, compacted)",
                     store->topic, rf);
        }
    }
    if (ev)
        rd_kafka_event_destroy(ev);
    rd_kafka_queue_destroy(q);
    rd_kafka_AdminOptions_destroy(o);
    rd_kafka_NewTopic_destroy(nt);
    return rc;
}

/* Makes sure the topic exists with one partition (created when missing). */
static int ensure_topic(reg_store_t *store, char *errstr, size_t errstr_size)
{
    if (store->mock)
        return rd_kafka_mock_topic_create(store->mock, store->topic, 1, 1) ? RILL_EKAFKA : 0;
    int brokers = 0;
    int64_t deadline =
        rill_monotonic_ms() + rill__reg_conf_int(store->reg->conf, REG_CONF_INIT_TIMEOUT_MS);
    for (;;) {
        int n = topic_partitions(store, &brokers, errstr, errstr_size);
        if (n > 1) {
            snprintf(errstr, errstr_size,
                     "topic '%s' has %d partitions: the store needs exactly one (its records "
                     "are ordered)",
                     store->topic, n);
            return RILL_ECONFIG;
        }
        if (n == 1)
            return 0;
        if (n == 0) {
            int rc = create_topic(store, brokers, errstr, errstr_size);
            if (rc)
                return rc;
        }
        if (rill_monotonic_ms() > deadline) {
            if (n == 0)
                snprintf(errstr, errstr_size, "topic '%s' did not appear after its creation",
                         store->topic);
            return RILL_ETIMEDOUT;
        }
        struct timespec pause = {0, 200 * 1000000};
        nanosleep(&pause, NULL);
    }
}

/* ---- open, write, close ---- */

static rd_kafka_t *client(reg_store_t *store, rd_kafka_type_t type, char *errstr,
                          size_t errstr_size)
{
    rd_kafka_conf_t *kc = rill__reg_store_client_conf(store);
    char kerr[256];
    if (type == RD_KAFKA_PRODUCER) {
        rd_kafka_conf_set(kc, "enable.idempotence", "true", kerr, sizeof kerr);
        rd_kafka_conf_set(kc, "acks", "all", kerr, sizeof kerr);
        rd_kafka_conf_set(kc, "linger.ms", "0", kerr, sizeof kerr);
        rd_kafka_conf_set_dr_msg_cb(kc, delivered);
    } else {
        rd_kafka_conf_set(kc, "enable.partition.eof", "false", kerr, sizeof kerr);
        rd_kafka_conf_set(kc, "enable.auto.commit", "false", kerr, sizeof kerr);
        /* A broker answers a fetch as soon as a record arrives; librdkafka's mock cluster only
         * when the wait is over, and a write waits for its read-back: short waits there (a
         * write took 190 ms with 100, 45 ms with 5). */
        rd_kafka_conf_set(kc, "fetch.wait.max.ms", store->mock ? "5" : "100", kerr, sizeof kerr);
        /* assign() wants a group.id; the reader never joins it nor commits. */
        rd_kafka_conf_set(kc, "group.id", "rill-registry-reader", kerr, sizeof kerr);
    }
    rd_kafka_t *rk = rd_kafka_new(type, kc, kerr, sizeof kerr);
    if (!rk) {
        rd_kafka_conf_destroy(kc);
        snprintf(errstr, errstr_size, "cannot make the store's Kafka %s: %s",
                 type == RD_KAFKA_PRODUCER ? "producer" : "consumer", kerr);
    }
    return rk;
}

reg_store_t *rill__reg_store_open(rill_registry_t *reg, char *errstr, size_t errstr_size)
{
    reg_store_t *store = rill_calloc(1, sizeof *store);
    if (!store) {
        snprintf(errstr, errstr_size, "out of memory");
        return NULL;
    }
    store->reg = reg;
    store->topic = rill__reg_conf(reg->conf, REG_CONF_TOPIC);
    pthread_cond_init(&store->applied_cond, NULL);
    const char *bootstrap = rill__reg_conf(reg->conf, REG_CONF_BOOTSTRAP);
    if (!bootstrap[0]) {
        char kerr[256];
        rd_kafka_conf_t *kc = rd_kafka_conf_new();
        rd_kafka_conf_set_log_cb(kc, quiet_log);
        store->mock_owner = rd_kafka_new(RD_KAFKA_PRODUCER, kc, kerr, sizeof kerr);
        if (!store->mock_owner)
            rd_kafka_conf_destroy(kc);
        store->mock = store->mock_owner ? rd_kafka_mock_cluster_new(store->mock_owner, 1) : NULL;
        if (!store->mock) {
            snprintf(errstr, errstr_size, "cannot start the embedded cluster (librdkafka mock)");
            goto fail;
        }
        bootstrap = rd_kafka_mock_cluster_bootstraps(store->mock);
        rill_log(RILL_LOG_NOTICE, "registry",
                 "no kafkastore.bootstrap.servers: storing in the embedded Kafka cluster "
                 "(librdkafka's mock cluster) at %s; what is registered vanishes with this "
                 "process. Set kafkastore.bootstrap.servers to keep it.",
                 bootstrap);
    }
    store->bootstrap = rill_strdup(bootstrap);
    if (!store->bootstrap ||
        !(store->producer = client(store, RD_KAFKA_PRODUCER, errstr, errstr_size)))
        goto fail;
    int rc = ensure_topic(store, errstr, errstr_size);
    if (rc)
        goto fail;
    int64_t low = 0, high = 0;
    rd_kafka_resp_err_t err =
        rd_kafka_query_watermark_offsets(store->producer, store->topic, 0, &low, &high, 10000);
    if (err) {
        snprintf(errstr, errstr_size, "cannot read the end of topic '%s': %s", store->topic,
                 rd_kafka_err2str(err));
        goto fail;
    }
    if (!(store->reader = client(store, RD_KAFKA_CONSUMER, errstr, errstr_size)))
        goto fail;
    rd_kafka_topic_partition_list_t *parts = rd_kafka_topic_partition_list_new(1);
    rd_kafka_topic_partition_list_add(parts, store->topic, 0)->offset = RD_KAFKA_OFFSET_BEGINNING;
    err = rd_kafka_assign(store->reader, parts);
    rd_kafka_topic_partition_list_destroy(parts);
    if (err) {
        snprintf(errstr, errstr_size, "cannot read topic '%s': %s", store->topic,
                 rd_kafka_err2str(err));
        goto fail;
    }
    pthread_mutex_lock(&reg->lock);
    store->applied = low;
    pthread_mutex_unlock(&reg->lock);
    if (pthread_create(&store->thread, NULL, reader_main, store)) {
        snprintf(errstr, errstr_size, "cannot start the store's reader thread");
        goto fail;
    }
    store->thread_started = true;
    /* Rebuild: read to the end known now, saying how far it got every second. */
    long timeout = rill__reg_conf_int(reg->conf, REG_CONF_INIT_TIMEOUT_MS);
    int64_t started = rill_monotonic_ms();
    pthread_mutex_lock(&reg->lock);
    while (store->applied < high && rill_monotonic_ms() - started < timeout) {
        wait_applied(store, high, 1000);
        if (store->applied < high)
            rill_log(RILL_LOG_INFO, "registry", "reading topic '%s': offset %lld of %lld",
                     store->topic, (long long)store->applied, (long long)high);
    }
    bool done = store->applied >= high;
    int64_t records = reg->state.records;
    pthread_mutex_unlock(&reg->lock);
    if (!done) {
        snprintf(errstr, errstr_size,
                 "read topic '%s' only to offset %lld of %lld within %ld ms "
                 "(kafkastore.init.timeout.ms)",
                 store->topic, (long long)store->applied, (long long)high, timeout);
        goto fail;
    }
    rill_log(RILL_LOG_INFO, "registry", "read topic '%s' to its end: %lld records in %lld ms",
             store->topic, (long long)records, (long long)(rill_monotonic_ms() - started));
    return store;
fail:
    rill__reg_store_close(store);
    return NULL;
}

int rill__reg_store_write(reg_store_t *store, const char *key, const char *value, char *errstr,
                          size_t errstr_size)
{
    rill_registry_t *reg = store->reg;
    long timeout = rill__reg_conf_int(reg->conf, REG_CONF_TIMEOUT_MS);
    delivery_t d = {0};
    rd_kafka_resp_err_t err = rd_kafka_producev(
        store->producer, RD_KAFKA_V_TOPIC(store->topic), RD_KAFKA_V_PARTITION(0),
        RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_KEY(key, strlen(key)),
        RD_KAFKA_V_VALUE((void *)value, value ? strlen(value) : 0), RD_KAFKA_V_OPAQUE(&d),
        RD_KAFKA_V_END);
    if (err) {
        snprintf(errstr, errstr_size, "cannot write to topic '%s': %s", store->topic,
                 rd_kafka_err2str(err));
        return RILL_EKAFKA;
    }
    /* The delivery report comes on this thread's poll; the state's lock is let go meanwhile. */
    pthread_mutex_unlock(&reg->lock);
    int64_t deadline = rill_monotonic_ms() + timeout;
    while (!d.done && rill_monotonic_ms() < deadline)
        rd_kafka_poll(store->producer, 20);
    if (!d.done)
        rd_kafka_purge(store->producer, RD_KAFKA_PURGE_F_QUEUE | RD_KAFKA_PURGE_F_INFLIGHT);
    while (!d.done)
        rd_kafka_poll(store->producer, 20);
    pthread_mutex_lock(&reg->lock);
    if (d.err) {
        char fatal[256] = "";
        if (rd_kafka_fatal_error(store->producer, fatal, sizeof fatal)) {
            /* An idempotent producer's fatal error stops every later write: a new producer
             * (a new producer id) writes on. */
            rill_log(RILL_LOG_ERROR, "registry",
                     "the store's producer failed for good (%s): making a new one", fatal);
            char why[256];
            rd_kafka_t *fresh = client(store, RD_KAFKA_PRODUCER, why, sizeof why);
            if (fresh) {
                rd_kafka_destroy(store->producer);
                store->producer = fresh;
            }
        }
        snprintf(errstr, errstr_size, "topic '%s' did not take the record: %s", store->topic,
                 rd_kafka_err2str(d.err));
        return d.err == RD_KAFKA_RESP_ERR__PURGE_QUEUE || d.err == RD_KAFKA_RESP_ERR__PURGE_INFLIGHT
                   ? RILL_ETIMEDOUT
                   : RILL_EKAFKA;
    }
    int left = (int)(deadline - rill_monotonic_ms());
    if (wait_applied(store, d.offset + 1, left > 0 ? left : 1)) {
        snprintf(errstr, errstr_size,
                 "the record was written to topic '%s' at offset %lld but not read back within "
                 "%ld ms%s%s",
                 store->topic, (long long)d.offset, timeout, store->reader_error[0] ? ": " : "",
                 store->reader_error);
        return RILL_ETIMEDOUT;
    }
    return 0;
}

int rill__reg_store_sync(reg_store_t *store, int timeout_ms)
{
    int64_t low = 0, high = 0;
    /* The reader's handle: the producer may be replaced (by a write) while this runs. */
    if (rd_kafka_query_watermark_offsets(store->reader, store->topic, 0, &low, &high, timeout_ms))
        return RILL_ETIMEDOUT;
    pthread_mutex_lock(&store->reg->lock);
    int rc = wait_applied(store, high, timeout_ms);
    pthread_mutex_unlock(&store->reg->lock);
    return rc;
}

const char *rill__reg_store_bootstrap(const reg_store_t *store)
{
    return store->bootstrap;
}

bool rill__reg_store_embedded(const reg_store_t *store)
{
    return store->mock != NULL;
}

void rill__reg_store_close(reg_store_t *store)
{
    if (!store)
        return;
    atomic_store(&store->stop, true);
    if (store->thread_started)
        pthread_join(store->thread, NULL);
    if (store->reader) /* it only assigns: there is no group to leave */
        rd_kafka_destroy_flags(store->reader, RD_KAFKA_DESTROY_F_NO_CONSUMER_CLOSE);
    if (store->producer) {
        rd_kafka_flush(store->producer, 5000);
        rd_kafka_destroy(store->producer);
    }
    if (store->mock)
        rd_kafka_mock_cluster_destroy(store->mock);
    if (store->mock_owner)
        rd_kafka_destroy(store->mock_owner);
    pthread_cond_destroy(&store->applied_cond);
    rill_free(store->bootstrap);
    rill_free(store);
}
