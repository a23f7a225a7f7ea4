/*
 * A client's statistics (kafka_stats.h). The stats callback only copies the document (a memcpy
 * under a mutex held for a pointer swap); the first scrape after it parses it (a jansson tree,
 * kept under a second mutex that only scrapes take), so the stream thread never parses JSON.
 * The fields read are librdkafka's documented ones (STATISTICS.md): topics.<t>.partitions.<p>
 * .hi_offset, .ls_offset, .app_offset, .next_offset, .fetchq_cnt and .fetch_state,
 * brokers.<b>.nodeid, .source, .rtt.avg/.p99, .tx, .txerrs, .req_timeouts, .rxerrs.
 */
#include "kafka_stats.h"

#include <rill/rill.h>

#include <jansson.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

struct kafka_stats {
    bool read_committed;      /* the end is the last stable offset */
    pthread_mutex_t raw_lock; /* the callback's and a scrape's hand-over */
    char *raw;                /* the newest document, not parsed yet (NULL: none) */
    size_t raw_len;
    pthread_mutex_t lock; /* the scrapes' */
    json_t *doc;          /* the last document parsed, or NULL */
};

kafka_stats_t *rill__kstats_new(bool read_committed)
{
    kafka_stats_t *s = rill_calloc(1, sizeof *s);
    if (s) {
        s->read_committed = read_committed;
        pthread_mutex_init(&s->raw_lock, NULL);
        pthread_mutex_init(&s->lock, NULL);
    }
    return s;
}

void rill__kstats_destroy(kafka_stats_t *s)
{
    if (!s)
        return;
    json_decref(s->doc);
    rill_free(s->raw);
    pthread_mutex_destroy(&s->raw_lock);
    pthread_mutex_destroy(&s->lock);
    rill_free(s);
}

static int64_t int_at(json_t *obj, const char *key)
{
    return (int64_t)json_integer_value(json_object_get(obj, key));
}

void rill__kstats_take(kafka_stats_t *s, const char *json, size_t len)
{
    char *copy = rill_malloc(len ? len : 1);
    if (!copy)
        return; /* the scrape keeps the document before */
    memcpy(copy, json, len);
    pthread_mutex_lock(&s->raw_lock);
    char *old = s->raw;
    s->raw = copy;
    s->raw_len = len;
    pthread_mutex_unlock(&s->raw_lock);
    rill_free(old);
}

/* Parses the newest document, if one came since the last scrape; s->lock held. A document that
 * does not parse leaves the one before. */
static void refresh(kafka_stats_t *s)
{
    pthread_mutex_lock(&s->raw_lock);
    char *raw = s->raw;
    size_t len = s->raw_len;
    s->raw = NULL;
    pthread_mutex_unlock(&s->raw_lock);
    if (!raw)
        return;
    json_t *doc = json_loadb(raw, len, 0, NULL);
    rill_free(raw);
    if (!json_is_object(doc)) {
        json_decref(doc);
        return;
    }
    json_decref(s->doc);
    s->doc = doc;
}

bool rill__kstats_queue(kafka_stats_t *s, int64_t *messages, int64_t *bytes)
{
    if (!s)
        return false;
    pthread_mutex_lock(&s->lock);
    refresh(s);
    bool known = s->doc != NULL;
    *messages = int_at(s->doc, "msg_cnt");
    *bytes = int_at(s->doc, "msg_size");
    pthread_mutex_unlock(&s->lock);
    return known;
}

void rill__kstats_each(kafka_stats_t *s,
                       void (*lag)(void *ud, const char *topic, int32_t partition, int64_t lag),
                       void (*broker)(void *ud, const kafka_broker_stats_t *b), void *ud)
{
    if (!s)
        return;
    pthread_mutex_lock(&s->lock);
    refresh(s);
    const char *name;
    json_t *v;
    json_object_foreach(lag ? json_object_get(s->doc, "topics") : NULL, name, v)
    {
        const char *pname;
        json_t *p;
        json_object_foreach(json_object_get(v, "partitions"), pname, p)
        {
            /* Kafka Streams' records-lag: the end (the last stable offset under read_committed)
             * minus the position the app has consumed to, not minus the committed offset
             * (librdkafka's consumer_lag), which under exactly-once never moves: the offsets
             * go through the producer. When nothing waits in the fetch queue and the fetcher is
             * at the end, the lag is 0, whatever control records (transaction markers) sit
             * between the last record consumed and the end. */
            int64_t id = int_at(p, "partition");
            int64_t end = int_at(p, s->read_committed ? "ls_offset" : "hi_offset");
            int64_t at = int_at(p, "app_offset"), next = int_at(p, "next_offset");
            const char *state = json_string_value(json_object_get(p, "fetch_state"));
            /* -1 is the internal UA partition; offsets of -1 are not known yet. */
            if (id < 0 || end < 0 || !state || strcmp(state, "none") == 0)
                continue;
            int64_t l = int_at(p, "fetchq_cnt") == 0 && next >= end ? 0 : at >= 0 ? end - at : -1;
            if (l >= 0)
                lag(ud, name, (int32_t)id, l);
        }
    }
    json_object_foreach(broker ? json_object_get(s->doc, "brokers") : NULL, name, v)
    {
        int64_t id = int_at(v, "nodeid");
        const char *source = json_string_value(json_object_get(v, "source"));
        /* Bootstrap entries have no id; the "logical" GroupCoordinator and the "internal" one
         * are not brokers of their own. */
        if (id < 0 || (source && (!strcmp(source, "logical") || !strcmp(source, "internal"))))
            continue;
        json_t *rtt = json_object_get(v, "rtt");
        kafka_broker_stats_t b = {
            .name = name,
            .id = (int32_t)id,
            .rtt_avg_us = int_at(rtt, "avg"),
            .rtt_p99_us = int_at(rtt, "p99"),
            .requests = int_at(v, "tx"),
            .request_errors = int_at(v, "txerrs"),
            .request_timeouts = int_at(v, "req_timeouts"),
            .response_errors = int_at(v, "rxerrs"),
        };
        broker(ud, &b);
    }
    pthread_mutex_unlock(&s->lock);
}
