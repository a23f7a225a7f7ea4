/*
 * The record collector. A sink names its topic on every record; the collector turns the name
 * into a producer topic handle (producev by name would look the topic up inside librdkafka) and
 * keeps, per handle, the highest acknowledged offset of each partition: sized when the handle is
 * made, so delivery reports do not allocate on the hot path.
 */
#include "collector.h"

#include <stdatomic.h>
#include <stdio.h>
#include <string.h>

/* Back-pressure: how long a send waits for room in the producer's queue before it fails, as
 * the Java producer's max.block.ms (60 s); the thread serves delivery reports meanwhile. */
#define QUEUE_FULL_TIMEOUT_MS 60000
#define QUEUE_FULL_POLL_MS    100

typedef struct {
    char *name;
    rd_kafka_topic_t *rkt;
    int32_t partitions;
    int64_t *acked; /* acked[p]: highest acknowledged offset of partition p, -1: none */
    int32_t nacked;
} out_topic_t;

struct collector {
    const thread_ctx_t *ctx;
    const char *name;
    rd_kafka_t *producer;
    out_topic_t *outs;
    size_t nouts;
    size_t last; /* the last topic used: sinks send runs to one topic */
    int (*before_send)(void *ud);
    void *before_send_ud;
    bool sent;
    char error[512];
    char send_error[256]; /* why the last send failed, for the sink's message */
    atomic_int_fast64_t produced;
};

collector_t *rill__collector_new(const thread_ctx_t *ctx, const char *name)
{
    collector_t *c = rill_calloc(1, sizeof *c);
    if (c) {
        c->ctx = ctx;
        c->name = name;
    }
    return c;
}

static void drop_topics(collector_t *c)
{
    for (size_t i = 0; i < c->nouts; i++) {
        if (c->outs[i].rkt)
            rd_kafka_topic_destroy(c->outs[i].rkt);
        rill_free(c->outs[i].name);
        rill_free(c->outs[i].acked);
    }
    c->nouts = 0;
    c->last = 0;
}

void rill__collector_destroy(collector_t *c)
{
    if (!c)
        return;
    drop_topics(c);
    rill_free(c->outs);
    rill_free(c);
}

void rill__collector_bind(collector_t *c, rd_kafka_t *producer)
{
    /* The topics (and the handles sinks hold of them) stay; their producer handles are made
     * again, and what the old producer had acknowledged is forgotten with it. */
    for (size_t i = 0; i < c->nouts; i++) {
        out_topic_t *o = &c->outs[i];
        if (o->rkt)
            rd_kafka_topic_destroy(o->rkt);
        o->rkt = producer ? rd_kafka_topic_new(producer, o->name, NULL) : NULL;
        for (int32_t p = 0; p < o->nacked; p++)
            o->acked[p] = -1;
    }
    c->producer = producer;
}

void rill__collector_set_before_send(collector_t *c, int (*fn)(void *ud), void *ud)
{
    c->before_send = fn;
    c->before_send_ud = ud;
}

static out_topic_t *find(collector_t *c, const char *topic)
{
    if (c->last < c->nouts && strcmp(c->outs[c->last].name, topic) == 0)
        return &c->outs[c->last];
    for (size_t i = 0; i < c->nouts; i++)
        if (strcmp(c->outs[i].name, topic) == 0) {
            c->last = i;
            return &c->outs[i];
        }
    return NULL;
}

static out_topic_t *out_topic(collector_t *c, const char *topic)
{
    out_topic_t *o = find(c, topic);
    if (o || !c->producer)
        return o; /* topics are learned only while a producer is bound */
    out_topic_t *outs = rill_realloc(c->outs, (c->nouts + 1) * sizeof *outs);
    if (!outs)
        return NULL;
    c->outs = outs;
    o = &outs[c->nouts];
    *o = (out_topic_t){rill_strdup(topic), NULL, -1, NULL, 0};
    if (!o->name)
        return NULL;
    o->rkt = rd_kafka_topic_new(c->producer, topic, NULL);
    if (!o->rkt) {
        rill_free(o->name);
        return NULL;
    }
    o->partitions = c->ctx->events.partitions(c->ctx->events.ud, topic);
    if (o->partitions > 0 && (o->acked = rill_malloc((size_t)o->partitions * sizeof *o->acked))) {
        for (int32_t p = 0; p < o->partitions; p++)
            o->acked[p] = -1;
        o->nacked = o->partitions;
    }
    c->last = c->nouts++;
    return o;
}

static int send_out(collector_t *c, out_topic_t *o, int32_t partition, const rill_buf_t *key,
                    const rill_buf_t *value, int64_t timestamp, const rill_headers_t *headers)
{
    if (!o->rkt) {
        snprintf(c->send_error, sizeof c->send_error, "the thread has no producer at the moment");
        return RILL_ESTATE;
    }
    if (c->before_send && c->before_send(c->before_send_ud)) {
        snprintf(c->send_error, sizeof c->send_error, "the producer's transaction did not begin");
        return RILL_EKAFKA;
    }
    rd_kafka_headers_t *hdrs = NULL;
    size_t header_count = rill_headers_count(headers);
    if (header_count) {
        hdrs = rd_kafka_headers_new(header_count);
        for (size_t i = 0; i < header_count; i++)
            rd_kafka_header_add(hdrs, headers->items[i].name, -1, headers->items[i].value.data,
                                (ssize_t)headers->items[i].value.len);
    }
    int64_t full_since = -1;
    for (;;) {
        rd_kafka_resp_err_t err = rd_kafka_producev(
            c->producer, RD_KAFKA_V_RKT(o->rkt),
            RD_KAFKA_V_PARTITION(partition < 0 ? RD_KAFKA_PARTITION_UA : partition),
            RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
            RD_KAFKA_V_KEY(key ? key->data : NULL, key ? key->len : 0),
            RD_KAFKA_V_VALUE(value ? (void *)value->data : NULL, value ? value->len : 0),
            RD_KAFKA_V_TIMESTAMP(timestamp), RD_KAFKA_V_HEADERS(hdrs),
            RD_KAFKA_V_OPAQUE((void *)(uintptr_t)(o - c->outs + 1)), RD_KAFKA_V_END);
        if (!err) {
            c->sent = true; /* the next commit flushes it, even without new offsets */
            return 0;
        }
        if (err != RD_KAFKA_RESP_ERR__QUEUE_FULL) {
            if (hdrs)
                rd_kafka_headers_destroy(hdrs);
            snprintf(c->send_error, sizeof c->send_error, "%s", rd_kafka_err2str(err));
            return RILL_EKAFKA;
        }
        /* The producer's queue is full: serve delivery reports until it drains. A task cannot
         * stop in the middle of a record, so this waits, as Kafka Streams' send does. */
        int64_t now = rill__monotonic_ms();
        if (full_since < 0)
            full_since = now;
        int64_t limit = RILL_CONF_INT(c->ctx->conf, SEND_QUEUE_FULL_TIMEOUT_MS);
        if (now - full_since >= limit) {
            if (hdrs)
                rd_kafka_headers_destroy(hdrs);
            snprintf(c->send_error, sizeof c->send_error,
                     "the producer's queue stayed full for %lld ms (is the cluster reachable? "
                     "send.queue.full.timeout.ms)",
                     (long long)limit);
            return RILL_ETIMEDOUT;
        }
        rd_kafka_poll(c->producer, QUEUE_FULL_POLL_MS);
    }
}

static int collector_send(void *opaque, const char *topic, int32_t partition, const rill_buf_t *key,
                          const rill_buf_t *value, int64_t timestamp, const rill_headers_t *headers)
{
    collector_t *c = opaque;
    out_topic_t *o = out_topic(c, topic);
    if (!o) {
        snprintf(c->send_error, sizeof c->send_error, "out of memory");
        return RILL_ENOMEM;
    }
    return send_out(c, o, partition, key, value, timestamp, headers);
}

static const char *collector_send_error(void *opaque)
{
    const collector_t *c = opaque;
    return c->send_error;
}

static int32_t collector_resolve(void *opaque, const char *topic)
{
    collector_t *c = opaque;
    out_topic_t *o = out_topic(c, topic);
    return o ? (int32_t)(o - c->outs) : RILL_ENOMEM;
}

static int collector_send_to(void *opaque, int32_t handle, int32_t partition, const rill_buf_t *key,
                             const rill_buf_t *value, int64_t timestamp,
                             const rill_headers_t *headers)
{
    collector_t *c = opaque;
    if (handle < 0 || (size_t)handle >= c->nouts)
        return RILL_EINVAL;
    return send_out(c, &c->outs[handle], partition, key, value, timestamp, headers);
}

/* The partition count of a sink's topic, for partitioners. The app learned the counts of every
 * topic it knows at start; a topic only a dynamic sink names is asked of the cluster once. */
static int32_t partition_count(void *opaque, const char *topic)
{
    collector_t *c = opaque;
    out_topic_t *o = out_topic(c, topic);
    if (!o)
        return RILL_ENOMEM;
    if (o->partitions <= 0) {
        const rd_kafka_metadata_t *md;
        if (rd_kafka_metadata(c->producer, 0, o->rkt, &md, 10000) == 0) {
            if (md->topic_cnt == 1 && !md->topics[0].err)
                o->partitions = md->topics[0].partition_cnt;
            rd_kafka_metadata_destroy(md);
        }
    }
    return o->partitions > 0 ? o->partitions : RILL_ENOENT;
}

rill_collector_t rill__collector_iface(collector_t *c)
{
    return (rill_collector_t){collector_send,    partition_count,   c,
                              collector_resolve, collector_send_to, collector_send_error};
}

void rill__collector_delivered(collector_t *c, const rd_kafka_message_t *msg)
{
    if (msg->err) {
        if (!c->error[0])
            snprintf(c->error, sizeof c->error,
                     "a record to topic '%s' partition %d was not delivered: %s",
                     rd_kafka_topic_name(msg->rkt), msg->partition, rd_kafka_err2str(msg->err));
        return;
    }
    atomic_fetch_add_explicit(&c->produced, 1, memory_order_relaxed);
    size_t idx = (size_t)(uintptr_t)msg->_private;
    if (idx < 1 || idx > c->nouts || msg->partition < 0)
        return; /* sent through a producer since replaced */
    out_topic_t *o = &c->outs[idx - 1];
    if (msg->partition >= o->nacked) {
        int32_t n = msg->partition + 1;
        int64_t *acked = rill_realloc(o->acked, (size_t)n * sizeof *acked);
        if (!acked)
            return; /* a checkpoint then claims less than the store holds: harmless */
        for (int32_t p = o->nacked; p < n; p++)
            acked[p] = -1;
        o->acked = acked;
        o->nacked = n;
    }
    if (msg->offset > o->acked[msg->partition])
        o->acked[msg->partition] = msg->offset;
}

int64_t rill__collector_acked_end(collector_t *c, const char *topic, int32_t partition)
{
    out_topic_t *o = find(c, topic);
    if (!o || partition < 0 || partition >= o->nacked || o->acked[partition] < 0)
        return -1;
    return o->acked[partition] + 1;
}

const char *rill__collector_error(const collector_t *c)
{
    return c->error;
}

void rill__collector_clear_error(collector_t *c)
{
    c->error[0] = 0;
}

bool rill__collector_take_sent(collector_t *c)
{
    bool sent = c->sent;
    c->sent = false;
    return sent;
}

int64_t rill__collector_produced(const collector_t *c)
{
    return atomic_load_explicit(&((collector_t *)c)->produced, memory_order_relaxed);
}
