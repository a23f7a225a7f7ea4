/*
 * Helpers the Kafka integration tests share: create and delete topics, read a topic back, check
 * committed offsets, wait (bounded) for a counter. A verifier uses plain librdkafka, not Rill, so
 * it checks Rill from the outside. Header-only: each test binary includes it once.
 */
#ifndef RILL_TESTS_KAFKA_UTIL_H
#define RILL_TESTS_KAFKA_UTIL_H

#include <librdkafka/rdkafka.h>

#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* The real broker's address from RILL_TEST_BOOTSTRAP; NULL after saying that test is skipped.
 * Skipped, not failed: scripts/check also runs every test binary under valgrind, without a
 * broker. */
static inline const char *kafka_test_bootstrap(const char *test)
{
    const char *b = getenv("RILL_TEST_BOOTSTRAP");
    if (b && *b)
        return b;
    fprintf(stderr,
            "%s: skipped: set RILL_TEST_BOOTSTRAP to a real broker's address "
            "(scripts/kafka up prints it); `make check` does this for you\n",
            test);
    return NULL;
}

/* A client for admin requests and metadata (a producer that sends nothing); NULL on error. */
static inline rd_kafka_t *kafka_admin(const char *bootstrap)
{
    char err[256];
    rd_kafka_conf_t *kc = rd_kafka_conf_new();
    rd_kafka_conf_set(kc, "bootstrap.servers", bootstrap, err, sizeof err);
    rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_PRODUCER, kc, err, sizeof err);
    if (!rk)
        rd_kafka_conf_destroy(kc);
    return rk;
}

/* Creates topic (replication 1) with the topic configs of the NULL-terminated (name, value)
 * pairs of configs (may be NULL); returns the broker's answer, or -1 when none came in 30 s. */
static inline int kafka_create_topic_with(const char *bootstrap, const char *topic, int partitions,
                                          const char *const *configs)
{
    char err[256];
    rd_kafka_t *rk = kafka_admin(bootstrap);
    if (!rk)
        return -1;
    rd_kafka_NewTopic_t *nt = rd_kafka_NewTopic_new(topic, partitions, 1, err, sizeof err);
    for (size_t i = 0; configs && configs[i]; i += 2)
        rd_kafka_NewTopic_set_config(nt, configs[i], configs[i + 1]);
    rd_kafka_queue_t *q = rd_kafka_queue_new(rk);
    rd_kafka_CreateTopics(rk, &nt, 1, NULL, q);
    rd_kafka_event_t *ev = rd_kafka_queue_poll(q, 30000);
    int rc = -1;
    if (ev) {
        size_t n;
        const rd_kafka_topic_result_t **res =
            rd_kafka_CreateTopics_result_topics(rd_kafka_event_CreateTopics_result(ev), &n);
        rc = n == 1 ? (int)rd_kafka_topic_result_error(res[0]) : -1;
        rd_kafka_event_destroy(ev);
    }
    rd_kafka_queue_destroy(q);
    rd_kafka_NewTopic_destroy(nt);
    rd_kafka_destroy(rk);
    return rc;
}

/* Creates topic (replication 1); returns the broker's answer, or -1 when none came in 30 s. */
static inline int kafka_create_topic(const char *bootstrap, const char *topic, int partitions)
{
    return kafka_create_topic_with(bootstrap, topic, partitions, NULL);
}

/* Deletes up to 8 topics (best effort: a leftover topic only costs the broker disk). */
static inline void kafka_delete_topics(const char *bootstrap, const char *const *topics, int n)
{
    rd_kafka_t *rk = kafka_admin(bootstrap);
    if (!rk)
        return;
    rd_kafka_DeleteTopic_t *dt[8];
    n = n < 8 ? n : 8;
    for (int i = 0; i < n; i++)
        dt[i] = rd_kafka_DeleteTopic_new(topics[i]);
    rd_kafka_queue_t *q = rd_kafka_queue_new(rk);
    rd_kafka_DeleteTopics(rk, dt, (size_t)n, NULL, q);
    rd_kafka_event_t *ev = rd_kafka_queue_poll(q, 30000);
    if (ev)
        rd_kafka_event_destroy(ev);
    rd_kafka_queue_destroy(q);
    rd_kafka_DeleteTopic_destroy_array(dt, (size_t)n);
    rd_kafka_destroy(rk);
}

/* Reads topic from the start in a fresh group until expect records came or 20 s passed without
 * one; copies up to expect values into values (may be NULL). Returns how many it read. */
/* Returns a consumer of a new group subscribed to topic from its start (close and destroy it). */
static inline rd_kafka_t *kafka_reader(const char *bootstrap, const char *topic)
{
    char err[256], group[128];
    snprintf(group, sizeof group, "verifier-%d-%d", (int)time(NULL), rand());
    rd_kafka_conf_t *kc = rd_kafka_conf_new();
    rd_kafka_conf_set(kc, "bootstrap.servers", bootstrap, err, sizeof err);
    rd_kafka_conf_set(kc, "group.id", group, err, sizeof err);
    rd_kafka_conf_set(kc, "auto.offset.reset", "earliest", err, sizeof err);
    rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_CONSUMER, kc, err, sizeof err);
    rd_kafka_poll_set_consumer(rk);
    rd_kafka_topic_partition_list_t *sub = rd_kafka_topic_partition_list_new(1);
    rd_kafka_topic_partition_list_add(sub, topic, RD_KAFKA_PARTITION_UA);
    rd_kafka_subscribe(rk, sub);
    rd_kafka_topic_partition_list_destroy(sub);
    return rk;
}

/* A consumer handle that never joins group, to read its committed offsets (destroy it). */
static inline rd_kafka_t *kafka_offsets_reader(const char *bootstrap, const char *group)
{
    char err[256];
    rd_kafka_conf_t *kc = rd_kafka_conf_new();
    rd_kafka_conf_set(kc, "bootstrap.servers", bootstrap, err, sizeof err);
    rd_kafka_conf_set(kc, "group.id", group, err, sizeof err);
    rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_CONSUMER, kc, err, sizeof err);
    if (!rk)
        rd_kafka_conf_destroy(kc);
    return rk;
}

/* The sum of the committed offsets of rk's group on partitions 0..partitions-1 of each of the n
 * topics (-1 when they cannot be read). */
static inline int64_t kafka_committed_sum(rd_kafka_t *rk, const char *const *topics, int n,
                                          int partitions)
{
    rd_kafka_topic_partition_list_t *list = rd_kafka_topic_partition_list_new(n * partitions);
    for (int t = 0; t < n; t++)
        for (int p = 0; p < partitions; p++)
            rd_kafka_topic_partition_list_add(list, topics[t], p);
    int64_t sum = -1;
    if (rd_kafka_committed(rk, list, 10000) == 0) {
        sum = 0;
        for (int i = 0; i < list->cnt; i++)
            if (list->elems[i].offset > 0)
                sum += list->elems[i].offset;
    }
    rd_kafka_topic_partition_list_destroy(list);
    return sum;
}

/* Returns the partition count of topic as the cluster's metadata says, or -1. */
static inline int kafka_partition_count(const char *bootstrap, const char *topic)
{
    rd_kafka_t *admin = kafka_admin(bootstrap);
    const rd_kafka_metadata_t *md = NULL;
    int n = -1;
    if (admin && rd_kafka_metadata(admin, 1, NULL, &md, 10000) == RD_KAFKA_RESP_ERR_NO_ERROR) {
        for (int t = 0; t < md->topic_cnt; t++)
            if (strcmp(md->topics[t].topic, topic) == 0)
                n = md->topics[t].partition_cnt;
        rd_kafka_metadata_destroy(md);
    }
    if (admin)
        rd_kafka_destroy(admin);
    return n;
}

/* Returns how many records topic holds: the sum of the end offsets of its first partitions
 * (-1 when one is not known). */
static inline int64_t kafka_topic_records(const char *bootstrap, const char *topic,
                                          int32_t partitions)
{
    rd_kafka_t *admin = kafka_admin(bootstrap);
    int64_t total = 0, lo, hi;
    for (int32_t part = 0; part < partitions && total >= 0; part++)
        total =
            rd_kafka_query_watermark_offsets(admin, topic, part, &lo, &hi, 10000) ? -1 : total + hi;
    rd_kafka_destroy(admin);
    return total;
}

/* Reads topic from its start, calling each(ud, message, n) for the n-th record (from 0), until
 * expect records came or none came for 20 s; returns how many came. */
static inline int kafka_read_each(const char *bootstrap, const char *topic, int expect,
                                  void (*each)(void *ud, const rd_kafka_message_t *m, int n),
                                  void *ud)
{
    rd_kafka_t *rk = kafka_reader(bootstrap, topic);
    int n = 0;
    for (int idle = 0; n < expect && idle < 200; idle++) {
        rd_kafka_message_t *m = rd_kafka_consumer_poll(rk, 100);
        if (!m)
            continue;
        if (!m->err) {
            if (each)
                each(ud, m, n);
            n++;
            idle = 0;
        }
        rd_kafka_message_destroy(m);
    }
    rd_kafka_consumer_close(rk);
    rd_kafka_destroy(rk);
    return n;
}

/* Calls each(ud, m) for every record of partitions 0..partitions-1 of topic that a reader with
 * isolation ("read_committed" or "read_uncommitted") sees, reading each from its start to its
 * end; returns how many, or -1 if an end was not reached within 60 s of silence. */
static inline int kafka_read_to_end(const char *bootstrap, const char *isolation, int partitions,
                                    const char *topic,
                                    void (*each)(void *ud, const rd_kafka_message_t *m), void *ud)
{
    char err[256];
    rd_kafka_conf_t *kc = rd_kafka_conf_new();
    rd_kafka_conf_set(kc, "bootstrap.servers", bootstrap, err, sizeof err);
    rd_kafka_conf_set(kc, "group.id", "verifier-to-end", err, sizeof err);
    rd_kafka_conf_set(kc, "enable.partition.eof", "true", err, sizeof err);
    rd_kafka_conf_set(kc, "enable.auto.commit", "false", err, sizeof err);
    rd_kafka_conf_set(kc, "isolation.level", isolation, err, sizeof err);
    rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_CONSUMER, kc, err, sizeof err);
    if (!rk) {
        rd_kafka_conf_destroy(kc);
        return -1;
    }
    rd_kafka_poll_set_consumer(rk);
    rd_kafka_topic_partition_list_t *list = rd_kafka_topic_partition_list_new(partitions);
    for (int i = 0; i < partitions; i++)
        rd_kafka_topic_partition_list_add(list, topic, i)->offset = RD_KAFKA_OFFSET_BEGINNING;
    rd_kafka_assign(rk, list);
    rd_kafka_topic_partition_list_destroy(list);
    int n = 0, at_end = 0;
    bool ended[256] = {0};
    /* Only records and ends count as progress: a repeating error ends the read after 60 s. */
    for (int idle = 0; at_end < partitions && idle < 600; idle++) {
        rd_kafka_message_t *m = rd_kafka_consumer_poll(rk, 100);
        if (!m)
            continue;
        if (m->err == RD_KAFKA_RESP_ERR__PARTITION_EOF) {
            idle = 0;
            if (m->partition >= 0 && m->partition < partitions && m->partition < 256 &&
                !ended[m->partition]) {
                ended[m->partition] = true;
                at_end++;
            }
        } else if (!m->err) {
            idle = 0;
            each(ud, m);
            n++;
        }
        rd_kafka_message_destroy(m);
    }
    rd_kafka_consumer_close(rk);
    rd_kafka_destroy(rk);
    return at_end == partitions ? n : -1;
}

/* A consumer that only assigns, to ask for watermarks as a reader with isolation sees them. */
static inline rd_kafka_t *kafka_isolated_client(const char *bootstrap, const char *isolation)
{
    char err[256];
    rd_kafka_conf_t *kc = rd_kafka_conf_new();
    rd_kafka_conf_set(kc, "bootstrap.servers", bootstrap, err, sizeof err);
    rd_kafka_conf_set(kc, "group.id", "verifier-watermarks", err, sizeof err);
    rd_kafka_conf_set(kc, "isolation.level", isolation, err, sizeof err);
    rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_CONSUMER, kc, err, sizeof err);
    if (!rk)
        rd_kafka_conf_destroy(kc);
    return rk;
}

/* Returns 1 when a transaction is open on some partition 0..partitions-1 of topic (its last
 * stable offset, the end read_committed readers see, is below its high watermark), 0 when none
 * is, -1 when the offsets cannot be read; why says where. */
static inline int kafka_open_transaction(rd_kafka_t *committed, rd_kafka_t *uncommitted,
                                         const char *topic, int partitions, char *why,
                                         size_t why_size)
{
    for (int p = 0; p < partitions; p++) {
        int64_t lo, lso, hw;
        if (rd_kafka_query_watermark_offsets(committed, topic, p, &lo, &lso, 10000) ||
            rd_kafka_query_watermark_offsets(uncommitted, topic, p, &lo, &hw, 10000)) {
            snprintf(why, why_size, "%s [%d]: cannot read its offsets", topic, p);
            return -1;
        }
        if (lso != hw) {
            snprintf(
                why, why_size,
                "%s [%d]: last stable offset %lld, high watermark %lld (a transaction is open)",
                topic, p, (long long)lso, (long long)hw);
            return 1;
        }
    }
    return 0;
}

/* Waits (bounded) until no transaction is open on topic: a killed producer's open transaction
 * is aborted by the broker after its transaction.timeout.ms. */
static inline void kafka_wait_no_open_transaction(const char *bootstrap, const char *topic,
                                                  int partitions, int timeout_ms)
{
    rd_kafka_t *c = kafka_isolated_client(bootstrap, "read_committed");
    rd_kafka_t *u = kafka_isolated_client(bootstrap, "read_uncommitted");
    char why[256] = "";
    for (int waited = 0; kafka_open_transaction(c, u, topic, partitions, why, sizeof why) != 0;
         waited += 100) {
        if (waited > timeout_ms)
            fail_msg("within %d ms: %s", timeout_ms, why);
        struct timespec ts = {0, 100 * 1000000};
        nanosleep(&ts, NULL);
    }
    rd_kafka_destroy(c);
    rd_kafka_destroy(u);
}

static inline void kafka_value_into(void *ud, const rd_kafka_message_t *m, int n)
{
    snprintf(((char(*)[32])ud)[n], 32, "%.*s", (int)m->len, (const char *)m->payload);
}

static inline int kafka_read_all(const char *bootstrap, const char *topic, int expect,
                                 char values[][32])
{
    return kafka_read_each(bootstrap, topic, expect, values ? kafka_value_into : NULL, values);
}

/* Returns whether group has committed, for every partition of topic, the partition's end; sets
 * *total to the sum of the ends, and says in why where the first gap is. */
static inline bool kafka_commits_at_end(const char *bootstrap, const char *group, const char *topic,
                                        int partitions, int64_t *total, char *why, size_t why_size)
{
    char err[256];
    rd_kafka_conf_t *kc = rd_kafka_conf_new();
    rd_kafka_conf_set(kc, "bootstrap.servers", bootstrap, err, sizeof err);
    rd_kafka_conf_set(kc, "group.id", group, err, sizeof err);
    rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_CONSUMER, kc, err, sizeof err);
    rd_kafka_topic_partition_list_t *list = rd_kafka_topic_partition_list_new(partitions);
    for (int i = 0; i < partitions; i++)
        rd_kafka_topic_partition_list_add(list, topic, i);
    bool at_end = rd_kafka_committed(rk, list, 10000) == 0;
    if (!at_end)
        snprintf(why, why_size, "group %s: cannot read its committed offsets", group);
    *total = 0;
    for (int i = 0; at_end && i < partitions; i++) {
        int64_t lo, hi;
        if (rd_kafka_query_watermark_offsets(rk, topic, i, &lo, &hi, 10000) != 0) {
            snprintf(why, why_size, "%s [%d]: cannot read its end offset", topic, i);
            at_end = false;
        } else if (list->elems[i].offset != hi) {
            snprintf(why, why_size, "group %s, %s [%d]: committed %lld, end %lld", group, topic, i,
                     (long long)list->elems[i].offset, (long long)hi);
            at_end = false;
        }
        *total += hi;
    }
    rd_kafka_topic_partition_list_destroy(list);
    rd_kafka_destroy(rk);
    return at_end;
}

/* Checks that group committed, for every partition of topic, the partition's end offset; returns
 * the sum of the ends (the number of records in the topic). */
static inline int64_t kafka_assert_committed_at_end(const char *bootstrap, const char *group,
                                                    const char *topic, int partitions)
{
    int64_t total;
    char why[256];
    if (!kafka_commits_at_end(bootstrap, group, topic, partitions, &total, why, sizeof why))
        fail_msg("%s", why);
    return total;
}

/* Waits (bounded) until group's commits reach the end of every partition of topic: after a
 * rebalance, at-least-once reprocesses from the last commit, and the commits catch up. */
static inline void kafka_wait_committed_at_end(const char *bootstrap, const char *group,
                                               const char *topic, int partitions, int timeout_ms)
{
    int64_t total;
    char why[256];
    for (int waited = 0;
         !kafka_commits_at_end(bootstrap, group, topic, partitions, &total, why, sizeof why);
         waited += 100) {
        if (waited > timeout_ms)
            fail_msg("within %d ms: %s", timeout_ms, why);
        struct timespec ts = {0, 100 * 1000000};
        nanosleep(&ts, NULL);
    }
}

/* Waits until *counter reaches n, at most timeout_ms, then asserts it did. At least n: under
 * at-least-once a rebalance (a missed heartbeat on a loaded machine) may repeat records, never
 * lose them; tests that mean "exactly" check the count themselves. The wait ends on the event;
 * the deadline only bounds a failure. */
static inline void wait_counter(atomic_int *counter, int n, int timeout_ms)
{
    for (int waited = 0; atomic_load(counter) < n && waited < timeout_ms; waited += 10) {
        struct timespec ts = {0, 10 * 1000000};
        nanosleep(&ts, NULL);
    }
    if (atomic_load(counter) < n)
        fail_msg("only %d of %d records within %d ms", atomic_load(counter), n, timeout_ms);
}

#endif
