/*
 * The leader election. Every eligible instance joins one Kafka consumer group
 * (schema.registry.group.id) subscribed to the store's topic, which has one partition: the
 * group's assignor gives that partition to exactly one member, and that member leads. The
 * election consumer never reads (what it is assigned is paused); it only keeps the membership
 * alive, and Kafka's group protocol moves the partition, so the lead, when a member leaves or
 * dies (after session.timeout.ms).
 *
 * Who leads is learned from the group itself: each member's client.id is the URL it serves, and
 * DescribeConsumerGroups tells which member holds the partition. Confluent's registry elects
 * through the group protocol too (its own protocol type, with the URL in the member metadata,
 * which librdkafka does not let a client set); this is the same idea on the standard consumer
 * protocol.
 *
 * On the embedded mock cluster there is one instance and it leads.
 */
#include "registry_int.h"

#include <librdkafka/rdkafka.h>
#include <stdio.h>
#include <string.h>

struct reg_election {
    rill_registry_t *reg;
    rd_kafka_t *rk;    /* the group member, when eligible */
    rd_kafka_t *admin; /* asks the group who leads: rk, or a client of its own */
    pthread_t thread;
    bool thread_started;
    atomic_bool stop;
    atomic_bool leader;
    bool always; /* embedded: leads, no group */
    pthread_mutex_t lock;
    char leader_url[256]; /* cached (lock) */
};

static bool holds_partition(const rd_kafka_topic_partition_list_t *parts, const char *topic)
{
    for (int i = 0; parts && i < parts->cnt; i++)
        if (parts->elems[i].partition == 0 && strcmp(parts->elems[i].topic, topic) == 0)
            return true;
    return false;
}

static void rebalanced(rd_kafka_t *rk, rd_kafka_resp_err_t err,
                       rd_kafka_topic_partition_list_t *parts, void *opaque)
{
    reg_election_t *el = opaque;
    const char *topic = rill__reg_conf(el->reg->conf, REG_CONF_TOPIC);
    pthread_mutex_lock(&el->lock);
    el->leader_url[0] = 0; /* learned again when needed */
    pthread_mutex_unlock(&el->lock);
    if (err == RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS) {
        rd_kafka_assign(rk, parts);
        rd_kafka_pause_partitions(rk, parts);
        bool lead = holds_partition(parts, topic);
        if (lead && !atomic_load(&el->leader)) {
            /* A new leader first reads everything the old one wrote. */
            if (rill__reg_store_sync(el->reg->store, 10000))
                rill_log(RILL_LOG_WARN, "registry",
                         "became the leader but could not read topic '%s' to its end within "
                         "10 s; each write reads it to its end first",
                         topic);
            rill_log(RILL_LOG_NOTICE, "registry", "%s is now the leader (group '%s')",
                     el->reg->advertised, rill__reg_conf(el->reg->conf, REG_CONF_GROUP_ID));
        }
        atomic_store(&el->leader, lead);
    } else {
        if (atomic_load(&el->leader))
            rill_log(RILL_LOG_NOTICE, "registry", "%s is no longer the leader",
                     el->reg->advertised);
        atomic_store(&el->leader, false);
        rd_kafka_assign(rk, NULL);
    }
}

static void *election_main(void *arg)
{
    reg_election_t *el = arg;
    while (!atomic_load(&el->stop)) {
        rd_kafka_message_t *m = rd_kafka_consumer_poll(el->rk, 100);
        if (m) {
            if (m->err)
                rill_log(RILL_LOG_WARN, "registry", "leader election: %s",
                         rd_kafka_message_errstr(m));
            rd_kafka_message_destroy(m);
        }
    }
    return NULL;
}

reg_election_t *rill__election_start(rill_registry_t *reg, char *errstr, size_t errstr_size)
{
    reg_election_t *el = rill_calloc(1, sizeof *el);
    if (!el) {
        snprintf(errstr, errstr_size, "out of memory");
        return NULL;
    }
    el->reg = reg;
    pthread_mutex_init(&el->lock, NULL);
    if (rill__reg_store_embedded(reg->store)) {
        el->always = true;
        atomic_store(&el->leader, true);
        return el;
    }
    if (strcmp(rill__reg_conf(reg->conf, REG_CONF_ELIGIBLE), "true") != 0) {
        rill_log(RILL_LOG_INFO, "registry",
                 "leader.eligibility=false: this instance forwards every write");
        char kerr[256];
        rd_kafka_conf_t *kc = rill__reg_store_client_conf(reg->store);
        el->admin = rd_kafka_new(RD_KAFKA_PRODUCER, kc, kerr, sizeof kerr);
        if (!el->admin) {
            rd_kafka_conf_destroy(kc);
            snprintf(errstr, errstr_size, "leader election: %s", kerr);
            rill__election_stop(el);
            return NULL;
        }
        return el;
    }
    rd_kafka_conf_t *kc = rill__reg_store_client_conf(reg->store);
    char kerr[256];
    const char *group = rill__reg_conf(reg->conf, REG_CONF_GROUP_ID);
    if (rd_kafka_conf_set(kc, "group.id", group, kerr, sizeof kerr) ||
        rd_kafka_conf_set(kc, "client.id", reg->advertised, kerr, sizeof kerr) ||
        rd_kafka_conf_set(kc, "enable.auto.commit", "false", kerr, sizeof kerr) ||
        rd_kafka_conf_set(kc, "partition.assignment.strategy", "range", kerr, sizeof kerr)) {
        rd_kafka_conf_destroy(kc);
        snprintf(errstr, errstr_size, "leader election: %s", kerr);
        rill__election_stop(el);
        return NULL;
    }
    /* Kafka's consumer default (45 s) would leave the registry without a leader that long after
     * one dies: Confluent's registry uses 10 s. kafkastore.session.timeout.ms overrides it. */
    bool own_timeout = false;
    for (size_t i = 0; i < reg->conf->nkafka; i++)
        own_timeout |= strcmp(reg->conf->kafka[2 * i], "session.timeout.ms") == 0;
    if (!own_timeout)
        rd_kafka_conf_set(kc, "session.timeout.ms", "10000", kerr, sizeof kerr);
    rd_kafka_conf_set_rebalance_cb(kc, rebalanced);
    rd_kafka_conf_set_opaque(kc, el);
    el->rk = rd_kafka_new(RD_KAFKA_CONSUMER, kc, kerr, sizeof kerr);
    if (!el->rk) {
        rd_kafka_conf_destroy(kc);
        snprintf(errstr, errstr_size, "leader election: %s", kerr);
        rill__election_stop(el);
        return NULL;
    }
    rd_kafka_topic_partition_list_t *sub = rd_kafka_topic_partition_list_new(1);
    rd_kafka_topic_partition_list_add(sub, rill__reg_conf(reg->conf, REG_CONF_TOPIC),
                                      RD_KAFKA_PARTITION_UA);
    rd_kafka_resp_err_t err = rd_kafka_subscribe(el->rk, sub);
    rd_kafka_topic_partition_list_destroy(sub);
    if (err || pthread_create(&el->thread, NULL, election_main, el)) {
        snprintf(errstr, errstr_size, "leader election: cannot join group '%s': %s", group,
                 err ? rd_kafka_err2str(err) : "no thread");
        rill__election_stop(el);
        return NULL;
    }
    el->thread_started = true;
    el->admin = el->rk;
    return el;
}

bool rill__election_leader(reg_election_t *el)
{
    return el && atomic_load(&el->leader);
}

/* Asks the group which member holds the partition; its client.id is its URL. */
static int describe_leader(reg_election_t *el, char *url, size_t size)
{
    rd_kafka_t *rk = el->admin;
    char kerr[256];
    if (!rk)
        return RILL_ENOENT;
    const char *group = rill__reg_conf(el->reg->conf, REG_CONF_GROUP_ID);
    const char *topic = rill__reg_conf(el->reg->conf, REG_CONF_TOPIC);
    rd_kafka_queue_t *q = rd_kafka_queue_new(rk);
    rd_kafka_AdminOptions_t *o =
        rd_kafka_AdminOptions_new(rk, RD_KAFKA_ADMIN_OP_DESCRIBECONSUMERGROUPS);
    rd_kafka_AdminOptions_set_request_timeout(o, 5000, kerr, sizeof kerr);
    rd_kafka_DescribeConsumerGroups(rk, &group, 1, o, q);
    /* The answer, or the request's own timeout, comes well within 30 s. */
    rd_kafka_event_t *ev = rd_kafka_queue_poll(q, 30000);
    int rc = RILL_ENOENT;
    if (ev && !rd_kafka_event_error(ev)) {
        size_t n = 0;
        const rd_kafka_ConsumerGroupDescription_t **groups =
            rd_kafka_DescribeConsumerGroups_result_groups(
                rd_kafka_event_DescribeConsumerGroups_result(ev), &n);
        for (size_t g = 0; g < n && rc; g++) {
            if (rd_kafka_ConsumerGroupDescription_error(groups[g]))
                continue;
            size_t members = rd_kafka_ConsumerGroupDescription_member_count(groups[g]);
            for (size_t i = 0; i < members && rc; i++) {
                const rd_kafka_MemberDescription_t *m =
                    rd_kafka_ConsumerGroupDescription_member(groups[g], i);
                const rd_kafka_MemberAssignment_t *as = rd_kafka_MemberDescription_assignment(m);
                if (as && holds_partition(rd_kafka_MemberAssignment_partitions(as), topic)) {
                    snprintf(url, size, "%s", rd_kafka_MemberDescription_client_id(m));
                    rc = 0;
                }
            }
        }
    }
    if (ev)
        rd_kafka_event_destroy(ev);
    rd_kafka_AdminOptions_destroy(o);
    rd_kafka_queue_destroy(q);
    return rc;
}

int rill__election_leader_url(reg_election_t *el, char *url, size_t size)
{
    url[0] = 0;
    if (!el || el->always)
        return RILL_ENOENT;
    pthread_mutex_lock(&el->lock);
    snprintf(url, size, "%s", el->leader_url);
    pthread_mutex_unlock(&el->lock);
    if (url[0])
        return 0;
    if (describe_leader(el, url, size))
        return RILL_ENOENT;
    pthread_mutex_lock(&el->lock);
    snprintf(el->leader_url, sizeof el->leader_url, "%s", url);
    pthread_mutex_unlock(&el->lock);
    return 0;
}

void rill__election_forget(reg_election_t *el)
{
    if (!el)
        return;
    pthread_mutex_lock(&el->lock);
    el->leader_url[0] = 0;
    pthread_mutex_unlock(&el->lock);
}

void rill__election_stop(reg_election_t *el)
{
    if (!el)
        return;
    atomic_store(&el->stop, true);
    if (el->thread_started)
        pthread_join(el->thread, NULL);
    if (el->rk) {
        /* Leave the group (so another instance leads at once), but not for longer than 5 s: a
         * cluster that cannot be reached must not keep the registry from stopping. */
        rd_kafka_queue_t *q = rd_kafka_queue_new(el->rk);
        rd_kafka_error_t *error = rd_kafka_consumer_close_queue(el->rk, q);
        if (error)
            rd_kafka_error_destroy(error);
        for (int i = 0; i < 50 && !error && !rd_kafka_consumer_closed(el->rk); i++) {
            rd_kafka_event_t *ev = rd_kafka_queue_poll(q, 100);
            if (ev && rd_kafka_event_type(ev) == RD_KAFKA_EVENT_REBALANCE) {
                /* The revocation the close makes: this queue serves it, not the callback. */
                atomic_store(&el->leader, false);
                rd_kafka_assign(el->rk, NULL);
            }
            if (ev)
                rd_kafka_event_destroy(ev);
        }
        if (!rd_kafka_consumer_closed(el->rk))
            rill_log(RILL_LOG_WARN, "registry",
                     "left the leader election without telling the group (its coordinator "
                     "did not answer within 5 s): another instance leads after the session "
                     "timeout");
        rd_kafka_queue_destroy(q);
        rd_kafka_destroy_flags(el->rk, RD_KAFKA_DESTROY_F_NO_CONSUMER_CLOSE);
    } else if (el->admin) {
        rd_kafka_destroy(el->admin);
    }
    pthread_mutex_destroy(&el->lock);
    rill_free(el);
}
