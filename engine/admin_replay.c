/*
 * Side-by-side replay: a past time range of application A's inputs, made ready for a fresh
 * application id B. The topology lives in the user's program, and Rill's sources read a topic to
 * its end and on, so the range is bounded by copying it: for each input topic T, the records of
 * each partition from the first offset at or after `from` up to the first at or after `to`
 * (offsetsForTimes: a partition's range is by offset, as a reset by time is) go to "<B>.<T>",
 * partition for partition, with their keys, values, timestamps and headers. The user then runs
 * the program with application.id=B on the "<B>.*" topics and its outputs renamed, and compares
 * them with A's (docs/cli.md).
 */
#include "admin_int.h"
#include "internal_topics.h"

#include <stdio.h>
#include <string.h>

typedef struct {
    rd_kafka_t *producer;
    const char *new_id;
    int64_t copied;
    char *errstr;
    size_t errstr_size;
} copy_t;

static int copy_one(void *ud, const rd_kafka_message_t *m)
{
    copy_t *c = ud;
    char dest[512];
    snprintf(dest, sizeof dest, "%s.%s", c->new_id, rd_kafka_topic_name(m->rkt));
    rd_kafka_headers_t *h = NULL;
    if (rd_kafka_message_headers(m, &h) == RD_KAFKA_RESP_ERR_NO_ERROR)
        h = rd_kafka_headers_copy(h);
    else
        h = rd_kafka_headers_new(0);
    rd_kafka_timestamp_type_t tstype;
    int64_t ts = rd_kafka_message_timestamp(m, &tstype);
    for (;;) {
        rd_kafka_resp_err_t err = rd_kafka_producev(
            c->producer, RD_KAFKA_V_TOPIC(dest), RD_KAFKA_V_PARTITION(m->partition),
            RD_KAFKA_V_KEY(m->key, m->key_len), RD_KAFKA_V_VALUE(m->payload, m->len),
            RD_KAFKA_V_TIMESTAMP(ts), RD_KAFKA_V_HEADERS(h),
            RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_END);
        if (!err) {
            c->copied++;
            return 0;
        }
        if (err != RD_KAFKA_RESP_ERR__QUEUE_FULL) {
            rd_kafka_headers_destroy(h);
            return rill__admin_fail(RILL_EKAFKA, c->errstr, c->errstr_size,
                                    "cannot copy %s-%d offset %lld to '%s': %s",
                                    rd_kafka_topic_name(m->rkt), m->partition, (long long)m->offset,
                                    dest, rd_kafka_err2str(err));
        }
        rd_kafka_poll(c->producer, 100);
    }
}

/* Creates topic with partitions (the broker's replication factor). The embedded cluster does not
 * answer CreateTopics, and makes a topic (with its default count) when first asked about it:
 * there an existing empty topic of the right count is taken as is. */
static int make_topic(rill_admin_t *admin, const char *topic, int partitions, char *errstr,
                      size_t errstr_size)
{
    int have = rill__admin_partitions(admin, topic, errstr, errstr_size);
    if (have < 0)
        return have;
    if (have == 0) {
        char kerr[256];
        rd_kafka_NewTopic_t *nt = rd_kafka_NewTopic_new(topic, partitions, -1, kerr, sizeof kerr);
        if (!nt)
            return rill__admin_fail(RILL_EINVAL, errstr, errstr_size, "topic '%s': %s", topic,
                                    kerr);
        rd_kafka_AdminOptions_t *o = rd_kafka_AdminOptions_new(admin->rk, RD_KAFKA_ADMIN_OP_ANY);
        rd_kafka_AdminOptions_set_operation_timeout(o, admin->timeout_ms, kerr, sizeof kerr);
        rd_kafka_queue_t *q = rd_kafka_queue_new(admin->rk);
        rd_kafka_CreateTopics(admin->rk, &nt, 1, o, q);
        rd_kafka_event_t *ev = rd_kafka_queue_poll(q, admin->timeout_ms + 5000);
        int rc = 0;
        if (!ev || rd_kafka_event_error(ev)) {
            rc = rill__admin_fail(RILL_EKAFKA, errstr, errstr_size, "cannot create topic '%s': %s",
                                  topic, ev ? rd_kafka_event_error_string(ev) : "no answer");
        } else {
            size_t n;
            const rd_kafka_topic_result_t **res =
                rd_kafka_CreateTopics_result_topics(rd_kafka_event_CreateTopics_result(ev), &n);
            if (n == 1 && rd_kafka_topic_result_error(res[0]))
                rc = rill__admin_fail(RILL_EKAFKA, errstr, errstr_size,
                                      "cannot create topic '%s': %s", topic,
                                      rd_kafka_topic_result_error_string(res[0]));
        }
        if (ev)
            rd_kafka_event_destroy(ev);
        rd_kafka_queue_destroy(q);
        rd_kafka_AdminOptions_destroy(o);
        rd_kafka_NewTopic_destroy(nt);
        return rc;
    }
    if (have != partitions)
        return rill__admin_fail(RILL_EEXIST, errstr, errstr_size,
                                "topic '%s' exists with %d partitions where its source has %d",
                                topic, have, partitions);
    for (int p = 0; p < have; p++) {
        int64_t lo, hi;
        int rc = rill__admin_watermarks(admin, topic, p, &lo, &hi, errstr, errstr_size);
        if (rc)
            return rc;
        if (hi > 0)
            return rill__admin_fail(RILL_EEXIST, errstr, errstr_size,
                                    "topic '%s' exists and holds records: a replay needs a "
                                    "new application id",
                                    topic);
    }
    return 0;
}

/* Sets *topics to A's input topics: those of its committed offsets that are not internal. */
static int find_inputs(rill_admin_t *admin, const char *app, char ***topics, size_t *count,
                       char *errstr, size_t errstr_size)
{
    rd_kafka_topic_partition_list_t *c = rill__admin_committed(admin, app, errstr, errstr_size);
    if (!c)
        return RILL_EKAFKA;
    *topics = rill_calloc((size_t)c->cnt + 1, sizeof **topics);
    *count = 0;
    int rc = *topics ? 0 : RILL_ENOMEM;
    for (int i = 0; !rc && i < c->cnt; i++) {
        const char *t = c->elems[i].topic;
        bool seen = false;
        for (size_t j = 0; j < *count; j++)
            seen = seen || strcmp((*topics)[j], t) == 0;
        if (seen || rill__topic_kind(app, t) != RILL_TOPIC_USER || rill__is_retry_topic(app, t))
            continue;
        if (!((*topics)[*count] = rill_strdup(t)))
            rc = RILL_ENOMEM;
        else
            ++*count;
    }
    rd_kafka_topic_partition_list_destroy(c);
    if (!rc && !*count)
        rc = rill__admin_fail(RILL_ENOENT, errstr, errstr_size,
                              "group '%s' has no committed offsets of input topics: name them "
                              "with --input-topics",
                              app);
    else if (rc == RILL_ENOMEM)
        rill__admin_fail(rc, errstr, errstr_size, "out of memory");
    if (rc) {
        rill__admin_names_free(*topics, *count);
        *topics = NULL;
        *count = 0;
    }
    return rc;
}

/* Adds to ranges the offset range of each partition of topic between from_ms and to_ms. */
static int plan_topic(rill_admin_t *admin, const char *topic, const rill_replay_options_t *o,
                      rill__admin_range_t **ranges, size_t *count, char *errstr, size_t errstr_size)
{
    int n = rill__admin_partitions(admin, topic, errstr, errstr_size);
    if (n <= 0)
        return n < 0 ? n
                     : rill__admin_fail(RILL_ENOENT, errstr, errstr_size, "no topic '%s'", topic);
    rill__admin_range_t *g = rill_realloc(*ranges, (*count + (size_t)n) * sizeof *g);
    rd_kafka_topic_partition_list_t *from = rd_kafka_topic_partition_list_new(n);
    rd_kafka_topic_partition_list_t *to = rd_kafka_topic_partition_list_new(n);
    int rc = g && from && to ? 0 : rill__admin_fail(RILL_ENOMEM, errstr, errstr_size, "no memory");
    if (g)
        *ranges = g;
    for (int p = 0; !rc && p < n; p++) {
        rd_kafka_topic_partition_list_add(from, topic, p)->offset = o->from_ms;
        rd_kafka_topic_partition_list_add(to, topic, p)->offset = o->to_ms;
    }
    if (!rc)
        rc = rill__admin_offsets_for_times(admin, from, errstr, errstr_size);
    if (!rc)
        rc = rill__admin_offsets_for_times(admin, to, errstr, errstr_size);
    for (int p = 0; !rc && p < n; p++)
        (*ranges)[(*count)++] =
            (rill__admin_range_t){topic, p, from->elems[p].offset, to->elems[p].offset};
    if (!rc && !o->dry_run) {
        char dest[512];
        snprintf(dest, sizeof dest, "%s.%s", o->new_application_id, topic);
        rc = make_topic(admin, dest, n, errstr, errstr_size);
    }
    if (from)
        rd_kafka_topic_partition_list_destroy(from);
    if (to)
        rd_kafka_topic_partition_list_destroy(to);
    return rc;
}

int rill_replay_prepare(rill_admin_t *admin, const rill_replay_options_t *o,
                        rill_admin_progress_cb progress, void *ud, rill_replay_result_t *result,
                        char *errstr, size_t errstr_size)
{
    if (!admin || !o || !result || !o->application_id || !o->new_application_id ||
        !*o->new_application_id || o->to_ms <= o->from_ms)
        return rill__admin_fail(RILL_EINVAL, errstr, errstr_size,
                                "a replay needs two application ids and --from before --to");
    if (strcmp(o->application_id, o->new_application_id) == 0)
        return rill__admin_fail(RILL_EINVAL, errstr, errstr_size,
                                "the new application id must differ from '%s'", o->application_id);
    *result = (rill_replay_result_t){0};
    rd_kafka_topic_partition_list_t *b =
        rill__admin_committed(admin, o->new_application_id, errstr, errstr_size);
    if (!b)
        return RILL_EKAFKA;
    int used = 0;
    for (int i = 0; i < b->cnt; i++)
        used += b->elems[i].offset >= 0;
    rd_kafka_topic_partition_list_destroy(b);
    if (used)
        return rill__admin_fail(RILL_EEXIST, errstr, errstr_size,
                                "group '%s' already has committed offsets: a replay needs a new "
                                "application id",
                                o->new_application_id);
    char **found = NULL;
    size_t found_count = 0;
    const char *const *topics = o->input_topics;
    size_t topic_count = o->input_topic_count;
    int rc = 0;
    if (!topics || !topic_count) {
        if ((rc = find_inputs(admin, o->application_id, &found, &found_count, errstr, errstr_size)))
            return rc;
        topics = (const char *const *)found;
        topic_count = found_count;
    }
    rill__admin_range_t *ranges = NULL;
    size_t count = 0;
    for (size_t t = 0; !rc && t < topic_count; t++)
        rc = plan_topic(admin, topics[t], o, &ranges, &count, errstr, errstr_size);
    result->topics = rc ? 0 : topic_count;
    for (size_t i = 0; !rc && i < count; i++)
        result->records += ranges[i].stop > ranges[i].start ? ranges[i].stop - ranges[i].start : 0;
    if (!rc && !o->dry_run) {
        rill__admin_delivery_t delivery;
        copy_t c = {NULL, o->new_application_id, 0, errstr, errstr_size};
        if (!(c.producer = rill__admin_producer(admin, &delivery, errstr, errstr_size)))
            rc = RILL_EKAFKA;
        if (!rc)
            rc = rill__admin_read_ranges(admin, ranges, count, copy_one, &c, progress, ud, errstr,
                                         errstr_size);
        if (c.producer) {
            char why[512];
            int prc = rill__admin_producer_close(c.producer, &delivery, why, sizeof why);
            if (prc && !rc)
                rc = rill__admin_fail(prc, errstr, errstr_size, "%s", why);
        }
        /* Records of a range that are transaction markers are not copied. */
        result->records = c.copied;
    }
    rill_free(ranges);
    rill__admin_names_free(found, found_count);
    return rc;
}
