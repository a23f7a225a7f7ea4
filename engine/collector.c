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
    bool changelog;    /* a store's changelog: a write it loses breaks the store, always fatal */
    bool no_e2e;       /* a changelog, the dead letter queue or a retry topic: not an output
                        * whose end-to-end latency counts */
    int64_t max_bytes; /* the topic's max.message.bytes, checked before a send (0: no check) */
} out_topic_t;

/* What a record batch of one record takes beyond its key, value and headers' bytes, at most
 * (Kafka's v2 format: the batch header, 61 bytes; the record's length, key and value lengths
 * and header count, varints of 5 bytes at most, its attributes and, alone in its batch, its
 * timestamp and offset deltas, 1 byte each); each header adds its name, its value and two
 * varints of 5 bytes at most. */
#define BATCH_OVERHEAD 84

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
    char send_error[256];         /* why the last send failed, for the sink's message */
    rd_kafka_resp_err_t send_err; /* and its code */
    atomic_int_fast64_t produced;
    atomic_int_fast64_t skipped; /* outputs the production handler dropped from reports */
    atomic_int_fast64_t dead;    /* and sent to the dead letter queue */
    uint64_t skipped_logged_at;
    int eos_retries; /* rewinds asked for by retriable delivery failures since the last commit */
    bool rewind_asked;
    /* End-to-end latency (KIP-613): the wall clock at the batch's start (set by the thread, as
     * Kafka Streams caches its system time per loop) minus each output's record timestamp. */
    int64_t now_ms;
    hist_t e2e;
};

/* Exactly-once: how many rewinds a cause that passes (a timeout, a broker away) may cause
 * without a commit between them before the app fails; each waits longer (the retry backoff,
 * doubled each time). */
#define EOS_TRANSIENT_REWINDS 10

/* The opaque of a produced record: its topic's index + 1 in the low 32 bits, and how many
 * times a retriable delivery failure sent it again above them. */
#define OPAQUE_TOPIC(op)   ((size_t)((uintptr_t)(op)&0xffffffffu))
#define OPAQUE_ATTEMPT(op) ((int)((uintptr_t)(op) >> 32))

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
    size_t len = strlen(topic);
    *o = (out_topic_t){.name = rill_strdup(topic),
                       .partitions = -1,
                       .changelog = len > 10 && strcmp(topic + len - 10, "-changelog") == 0};
    if (!o->name)
        return NULL;
    const rill_task_env_t *env = &c->ctx->env;
    o->no_e2e = o->changelog || (env->dlq_topic && strcmp(topic, env->dlq_topic) == 0) ||
                rill__retry_topic_is(env, topic);
    o->rkt = rd_kafka_topic_new(c->producer, topic, NULL);
    if (!o->rkt) {
        rill_free(o->name);
        return NULL;
    }
    o->partitions = c->ctx->events.partitions(c->ctx->events.ud, topic);
    /* A compressed batch may be smaller than its records: then only the broker can tell. */
    char codec[32] = "";
    size_t codec_size = sizeof codec;
    if (c->ctx->events.max_bytes &&
        rd_kafka_conf_get(rd_kafka_conf(c->producer), "compression.codec", codec, &codec_size) ==
            RD_KAFKA_CONF_OK &&
        strcmp(codec, "none") == 0)
        o->max_bytes = c->ctx->events.max_bytes(c->ctx->events.ud, topic);
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
    /* o is found again by its index after a poll: a delivery report it serves may learn a new
     * topic (a dead letter queue's), which moves c->outs. */
    const size_t oi = (size_t)(o - c->outs);
    if (!o->no_e2e && timestamp > 0)
        hist_observe(&c->e2e,
                     c->now_ms > timestamp ? (uint64_t)(c->now_ms - timestamp) * 1000000 : 0);
    if (!o->rkt) {
        snprintf(c->send_error, sizeof c->send_error, "the thread has no producer at the moment");
        c->send_err = RD_KAFKA_RESP_ERR__STATE;
        return RILL_ESTATE;
    }
    if (c->before_send && c->before_send(c->before_send_ud)) {
        snprintf(c->send_error, sizeof c->send_error, "the producer's transaction did not begin");
        c->send_err = RD_KAFKA_RESP_ERR__STATE;
        return RILL_EKAFKA;
    }
    size_t header_count = rill_headers_count(headers);
    if (o->max_bytes > 0) {
        size_t bytes = (key ? key->len : 0) + (value ? value->len : 0) + BATCH_OVERHEAD;
        for (size_t i = 0; i < header_count; i++)
            bytes += strlen(headers->items[i].name) + headers->items[i].value.len + 10;
        if ((int64_t)bytes > o->max_bytes) {
            snprintf(c->send_error, sizeof c->send_error,
                     "%s: the record takes about %zu bytes, more than topic '%s' takes "
                     "(max.message.bytes=%lld)",
                     rd_kafka_err2str(RD_KAFKA_RESP_ERR_MSG_SIZE_TOO_LARGE), bytes, o->name,
                     (long long)o->max_bytes);
            c->send_err = RD_KAFKA_RESP_ERR_MSG_SIZE_TOO_LARGE;
            return RILL_EKAFKA;
        }
    }
    rd_kafka_headers_t *hdrs = NULL;
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
            c->send_err = err;
            return RILL_EKAFKA;
        }
        /* The producer's queue is full: serve delivery reports until it drains. A task cannot
         * stop in the middle of a record, so this waits, as Kafka Streams' send does. */
        int64_t now = rill_monotonic_ms();
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
            c->send_err = RD_KAFKA_RESP_ERR__QUEUE_FULL;
            return RILL_ETIMEDOUT;
        }
        rd_kafka_poll(c->producer, QUEUE_FULL_POLL_MS);
        o = &c->outs[oi];
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

/* What a produce error is for the production handler: fatal (Kafka Streams' fatal ones:
 * security, fencing, a producer in a bad state; no handler may pass over them), retriable (the
 * cluster may get better: timeouts, leaders moving, too few replicas, a topic not there yet), or
 * neither (too large, an invalid record: the same again would fail the same way). */
static int error_class(rd_kafka_resp_err_t err)
{
    switch (err) {
    case RD_KAFKA_RESP_ERR__FATAL:
    case RD_KAFKA_RESP_ERR__FENCED:
    case RD_KAFKA_RESP_ERR__STATE:
    case RD_KAFKA_RESP_ERR__AUTHENTICATION:
    case RD_KAFKA_RESP_ERR_PRODUCER_FENCED:
    case RD_KAFKA_RESP_ERR_INVALID_PRODUCER_EPOCH:
    case RD_KAFKA_RESP_ERR_INVALID_PRODUCER_ID_MAPPING:
    case RD_KAFKA_RESP_ERR_OUT_OF_ORDER_SEQUENCE_NUMBER:
    case RD_KAFKA_RESP_ERR_TOPIC_AUTHORIZATION_FAILED:
    case RD_KAFKA_RESP_ERR_CLUSTER_AUTHORIZATION_FAILED:
    case RD_KAFKA_RESP_ERR_TRANSACTIONAL_ID_AUTHORIZATION_FAILED:
    case RD_KAFKA_RESP_ERR_SASL_AUTHENTICATION_FAILED:
    case RD_KAFKA_RESP_ERR_SECURITY_DISABLED:
    case RD_KAFKA_RESP_ERR_TOPIC_EXCEPTION:
    case RD_KAFKA_RESP_ERR_UNKNOWN:
        return RILL_SEND_FATAL;
    case RD_KAFKA_RESP_ERR__QUEUE_FULL:
    case RD_KAFKA_RESP_ERR__MSG_TIMED_OUT:
    case RD_KAFKA_RESP_ERR__TIMED_OUT:
    case RD_KAFKA_RESP_ERR__TRANSPORT:
    case RD_KAFKA_RESP_ERR__UNKNOWN_TOPIC:
    case RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART:
    case RD_KAFKA_RESP_ERR_LEADER_NOT_AVAILABLE:
    case RD_KAFKA_RESP_ERR_NOT_LEADER_FOR_PARTITION:
    case RD_KAFKA_RESP_ERR_REQUEST_TIMED_OUT:
    case RD_KAFKA_RESP_ERR_NETWORK_EXCEPTION:
    case RD_KAFKA_RESP_ERR_NOT_ENOUGH_REPLICAS:
    case RD_KAFKA_RESP_ERR_NOT_ENOUGH_REPLICAS_AFTER_APPEND:
    case RD_KAFKA_RESP_ERR_KAFKA_STORAGE_ERROR:
        return RILL_SEND_RETRIABLE;
    default:
        return 0;
    }
}

static int collector_send_class(void *opaque)
{
    const collector_t *c = opaque;
    return error_class(c->send_err);
}

/* Waits ms serving the producer (its delivery reports), for a production retry's backoff. */
static void collector_backoff(void *opaque, int64_t ms)
{
    collector_t *c = opaque;
    int64_t until = rill_monotonic_ms() + ms;
    for (int64_t now = rill_monotonic_ms(); now < until; now = rill_monotonic_ms()) {
        if (c->producer)
            rd_kafka_poll(c->producer, (int)(until - now));
        else
            break;
    }
}

rill_collector_t rill__collector_iface(collector_t *c)
{
    return (rill_collector_t){collector_send,       partition_count,   c,
                              collector_resolve,    collector_send_to, collector_send_error,
                              collector_send_class, collector_backoff};
}

/* Sends the output of a failed delivery (msg) to the dead letter queue: its bytes and headers,
 * and the error headers naming the output's topic and partition (the input record is not
 * known here). 0 or a code. */
static int dead_letter_output(collector_t *c, const rd_kafka_message_t *msg, const char *message)
{
    const char *dlq = c->ctx->env.dlq_topic;
    out_topic_t *d = out_topic(c, dlq);
    if (!d || !d->rkt)
        return RILL_ENOMEM;
    rd_kafka_headers_t *in = NULL, *h;
    if (rd_kafka_message_headers((rd_kafka_message_t *)msg, &in) == 0 && in)
        h = rd_kafka_headers_copy(in);
    else
        h = rd_kafka_headers_new(9);
    char exception[128], partition[16], timestamp[24];
    snprintf(exception, sizeof exception, "rill.ProductionError(%s)", rd_kafka_err2name(msg->err));
    snprintf(partition, sizeof partition, "%d", msg->partition);
    snprintf(timestamp, sizeof timestamp, "%lld", (long long)rd_kafka_message_timestamp(msg, NULL));
    const char *app = c->ctx->env.application_id ? c->ctx->env.application_id : "";
    const char *const kv[][2] = {
        {"__streams.errors.exception", exception},
        {"__streams.errors.message", message},
        {"__streams.errors.topic", rd_kafka_topic_name(msg->rkt)},
        {"__streams.errors.partition", partition},
        {"__streams.errors.offset", "-1"},
        {"__streams.errors.timestamp", timestamp},
        {"__streams.errors.processor.node.id", ""},
        {"__streams.errors.task.id", ""},
        {"__streams.errors.application.id", app},
    };
    for (size_t i = 0; i < sizeof kv / sizeof kv[0]; i++)
        rd_kafka_header_add(h, kv[i][0], -1, kv[i][1], -1);
    rd_kafka_resp_err_t err = rd_kafka_producev(
        c->producer, RD_KAFKA_V_RKT(d->rkt), RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
        RD_KAFKA_V_KEY(msg->key, msg->key_len), RD_KAFKA_V_VALUE(msg->payload, msg->len),
        RD_KAFKA_V_TIMESTAMP(rd_kafka_message_timestamp(msg, NULL)), RD_KAFKA_V_HEADERS(h),
        RD_KAFKA_V_OPAQUE((void *)(uintptr_t)(d - c->outs + 1)), RD_KAFKA_V_END);
    if (err) {
        rd_kafka_headers_destroy(h);
        return RILL_EKAFKA;
    }
    c->sent = true;
    atomic_fetch_add_explicit(&c->dead, 1, memory_order_relaxed);
    return 0;
}

/* Sends msg again, its attempt counted in the opaque; 0 or a code. */
static int send_again(collector_t *c, const rd_kafka_message_t *msg, int attempt)
{
    rd_kafka_headers_t *in = NULL, *h = NULL;
    if (rd_kafka_message_headers((rd_kafka_message_t *)msg, &in) == 0 && in)
        h = rd_kafka_headers_copy(in);
    uintptr_t op = (uintptr_t)OPAQUE_TOPIC(msg->_private) | ((uintptr_t)attempt << 32);
    rd_kafka_resp_err_t err = rd_kafka_producev(
        c->producer, RD_KAFKA_V_RKT(msg->rkt), RD_KAFKA_V_PARTITION(msg->partition),
        RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_KEY(msg->key, msg->key_len),
        RD_KAFKA_V_VALUE(msg->payload, msg->len),
        RD_KAFKA_V_TIMESTAMP(rd_kafka_message_timestamp(msg, NULL)), RD_KAFKA_V_HEADERS(h),
        RD_KAFKA_V_OPAQUE((void *)op), RD_KAFKA_V_END);
    if (err && h)
        rd_kafka_headers_destroy(h);
    return err ? RILL_EKAFKA : 0;
}

/*
 * A record the cluster did not take (its delivery report failed). Purges follow an abort or a
 * producer renewal, which rewind: nothing to do. Fatal causes, and changelog writes, fail. For
 * the rest the production handler decides, with what the report knows: the output (topic,
 * partition, bytes), not the input record, long processed. At-least-once: continue drops the
 * output (dead letter: the output itself), retry sends it again (librdkafka's own retries with
 * retry.backoff.ms were made before the report came). Exactly-once: librdkafka must abort the
 * transaction the record was in, so a retry is the rewind to the last commit that follows
 * (bounded, backing off), and continue cannot be honoured: it fails, saying so.
 */
__attribute__((cold, noinline)) static void delivery_failed(collector_t *c,
                                                            const rd_kafka_message_t *msg)
{
    rd_kafka_resp_err_t err = msg->err;
    if (err == RD_KAFKA_RESP_ERR__PURGE_QUEUE || err == RD_KAFKA_RESP_ERR__PURGE_INFLIGHT)
        return;
    const rill_task_env_t *env = &c->ctx->env;
    size_t idx = OPAQUE_TOPIC(msg->_private);
    int attempt = OPAQUE_ATTEMPT(msg->_private);
    bool changelog = idx >= 1 && idx <= c->nouts && c->outs[idx - 1].changelog;
    const char *topic = rd_kafka_topic_name(msg->rkt);
    int cls = error_class(err);
    char message[600];
    snprintf(message, sizeof message, "a record to topic '%s' partition %d was not delivered: %s",
             topic, msg->partition, rd_kafka_err2str(err));
    rill_handler_result_t r = RILL_HANDLER_FAIL;
    if (!(cls & RILL_SEND_FATAL) && !changelog) {
        rill_error_context_t ctx = {
            .kind = RILL_ERROR_PRODUCTION,
            .partition = -1,
            .offset = -1,
            .timestamp = rd_kafka_message_timestamp(msg, NULL),
            .task_id = "",
            .application_id = env->application_id ? env->application_id : "",
            .error = RILL_EKAFKA,
            .message = message,
            .output_topic = topic,
            .output_partition = msg->partition,
            .output_key = {msg->key, msg->key_len},
            .output_value = {msg->payload, msg->len},
            .retriable = (cls & RILL_SEND_RETRIABLE) != 0,
        };
        r = env->continue_on[RILL_ERROR_PRODUCTION] ? RILL_HANDLER_CONTINUE
            : env->retry_production                 ? RILL_HANDLER_RETRY
                                                    : RILL_HANDLER_FAIL;
        if (env->handler[RILL_ERROR_PRODUCTION])
            r = env->handler[RILL_ERROR_PRODUCTION](env->handler_ud[RILL_ERROR_PRODUCTION], &ctx);
    }
    const char *why = "";
    /* Exactly-once, a cause that passes (a timeout, a broker away): the transaction aborts and
     * the thread rewinds to its last commit, as Kafka Streams treats a TimeoutException under
     * exactly-once (the task is corrupted, not the app): nothing is dropped, so the handler's
     * default fail is not needed. Bounded: EOS_TRANSIENT_REWINDS without a commit. */
    if (c->ctx->eos && r == RILL_HANDLER_FAIL && (cls & RILL_SEND_RETRIABLE) &&
        c->eos_retries < EOS_TRANSIENT_REWINDS) {
        rill_log(RILL_LOG_WARN, "thread",
                 "%s: %s: the transaction aborts and the thread rewinds to its last commit "
                 "(rewind %d of at most %d without a commit)",
                 c->name, message, c->eos_retries + (c->rewind_asked ? 0 : 1),
                 EOS_TRANSIENT_REWINDS);
        if (!c->rewind_asked)
            c->eos_retries++;
        c->rewind_asked = true;
        return;
    }
    if (r == RILL_HANDLER_RETRY && (cls & RILL_SEND_RETRIABLE)) {
        int done = c->ctx->eos ? c->eos_retries : attempt;
        if (done < env->production_retries) {
            rill_log(RILL_LOG_WARN, "thread", "%s: %s: retrying (retry %d of %d%s)", c->name,
                     message, done + 1, env->production_retries,
                     c->ctx->eos ? ": the transaction aborts, the thread rewinds" : "");
            if (!c->ctx->eos && send_again(c, msg, attempt + 1) == 0)
                return;
            if (c->ctx->eos) {
                if (!c->rewind_asked)
                    c->eos_retries++;
                c->rewind_asked = true;
                return;
            }
        }
        why = "; out of retries (production.exception.handler.retries)";
    } else if (r == RILL_HANDLER_RETRY) {
        why = "; the handler said retry, but the cause is not retriable";
    } else if (r == RILL_HANDLER_CONTINUE && c->ctx->eos) {
        why = "; production.exception.handler continue cannot drop an output of an exactly-once "
              "transaction, which librdkafka must then abort (docs/retries.md)";
    } else if (r == RILL_HANDLER_CONTINUE) {
        if (env->dlq_topic && dead_letter_output(c, msg, message))
            why = "; and it cannot go to the dead letter queue";
        else {
            uint64_t n =
                (uint64_t)atomic_fetch_add_explicit(&c->skipped, 1, memory_order_relaxed) + 1;
            if (!c->skipped_logged_at || n - c->skipped_logged_at >= 1000) {
                c->skipped_logged_at = n;
                rill_log(RILL_LOG_WARN, "thread",
                         "%s: skipped (production.exception.handler): %s%s%s (records-skipped "
                         "counts them; this line comes once per 1,000)",
                         c->name, message, env->dlq_topic ? "; in the dead letter queue " : "",
                         env->dlq_topic ? env->dlq_topic : "");
            }
            return;
        }
    }
    if (!c->error[0])
        snprintf(c->error, sizeof c->error, "%.300s%.200s", message, why);
}

void rill__collector_delivered(collector_t *c, const rd_kafka_t *rk, const rd_kafka_message_t *msg)
{
    if (msg->err) {
        /* Exactly-once: a failure reported by a producer since replaced is of a transaction
         * already aborted, whose records the thread rewound to send again. */
        if (!(c->ctx->eos && rk && rk != c->producer))
            delivery_failed(c, msg);
        return;
    }
    atomic_fetch_add_explicit(&c->produced, 1, memory_order_relaxed);
    size_t idx = OPAQUE_TOPIC(msg->_private);
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

int64_t rill__collector_skipped(const collector_t *c, int64_t *dead_letters)
{
    collector_t *m = (collector_t *)c;
    *dead_letters = atomic_load_explicit(&m->dead, memory_order_relaxed);
    return atomic_load_explicit(&m->skipped, memory_order_relaxed);
}

int64_t rill__collector_txn_ended(collector_t *c, bool committed)
{
    int64_t wait = 0;
    if (c->rewind_asked && c->eos_retries > 0)
        wait = RILL_CONF_INT(c->ctx->conf, PRODUCTION_EXCEPTION_HANDLER_RETRY_BACKOFF_MS)
               << (c->eos_retries - 1 < 20 ? c->eos_retries - 1 : 20);
    c->rewind_asked = false;
    if (committed)
        c->eos_retries = 0;
    return wait;
}

void rill__collector_wait(collector_t *c, int64_t ms)
{
    collector_backoff(c, ms);
}

void rill__collector_set_now(collector_t *c, int64_t now_ms)
{
    c->now_ms = now_ms;
}

const hist_t *rill__collector_e2e(const collector_t *c)
{
    return &c->e2e;
}
