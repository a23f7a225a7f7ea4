/*
 * A small producer for feeding topics from C (demos, tests, replay tools) without exposing
 * librdkafka's API: acks=all, idempotence, murmur2 partitioning like the Java clients.
 */
#include "engine_int.h"

#include <stdio.h>
#include <string.h>

struct rill_producer {
    rd_kafka_t *rk;
    char error[512];
};

static void producer_dr(rd_kafka_t *rk, const rd_kafka_message_t *msg, void *opaque)
{
    rill_producer_t *p = opaque;
    if (msg->err && !p->error[0])
        snprintf(p->error, sizeof p->error, "delivery to '%s' failed: %s",
                 rd_kafka_topic_name(msg->rkt), rd_kafka_err2str(msg->err));
}

rill_producer_t *rill_producer_new(const char *bootstrap_servers, char *errstr, size_t errstr_size)
{
    rill_producer_t *p = rill_calloc(1, sizeof *p);
    if (!p || !bootstrap_servers) {
        snprintf(errstr, errstr_size, p ? "bootstrap_servers is NULL" : "out of memory");
        rill_free(p);
        return NULL;
    }
    rd_kafka_conf_t *kconf = rd_kafka_conf_new();
    const char *kv[][2] = {{"bootstrap.servers", bootstrap_servers},
                           {"acks", "all"},
                           {"enable.idempotence", "true"},
                           {"partitioner", "murmur2_random"},
                           {"linger.ms", "5"}};
    for (size_t i = 0; i < sizeof kv / sizeof kv[0]; i++)
        if (rd_kafka_conf_set(kconf, kv[i][0], kv[i][1], errstr, errstr_size)) {
            rd_kafka_conf_destroy(kconf);
            rill_free(p);
            return NULL;
        }
    rd_kafka_conf_set_opaque(kconf, p);
    rd_kafka_conf_set_dr_msg_cb(kconf, producer_dr);
    rd_kafka_conf_set_log_cb(kconf, rill__kafka_log_cb);
    if (!(p->rk = rd_kafka_new(RD_KAFKA_PRODUCER, kconf, errstr, errstr_size))) {
        rd_kafka_conf_destroy(kconf);
        rill_free(p);
        return NULL;
    }
    return p;
}

int rill_producer_send(rill_producer_t *p, const char *topic, int32_t partition, rill_buf_t key,
                       rill_buf_t value, int64_t timestamp)
{
    if (!p || !topic)
        return RILL_EINVAL;
    for (;;) {
        rd_kafka_resp_err_t err = rd_kafka_producev(
            p->rk, RD_KAFKA_V_TOPIC(topic),
            RD_KAFKA_V_PARTITION(partition < 0 ? RD_KAFKA_PARTITION_UA : partition),
            RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_KEY(key.data, key.len),
            RD_KAFKA_V_VALUE((void *)value.data, value.len), RD_KAFKA_V_TIMESTAMP(timestamp),
            RD_KAFKA_V_END);
        if (!err)
            break;
        if (err != RD_KAFKA_RESP_ERR__QUEUE_FULL) {
            snprintf(p->error, sizeof p->error, "cannot produce to '%s': %s", topic,
                     rd_kafka_err2str(err));
            return RILL_EKAFKA;
        }
        rd_kafka_poll(p->rk, 100);
    }
    rd_kafka_poll(p->rk, 0);
    return 0;
}

int rill_producer_flush(rill_producer_t *p, int64_t timeout_ms)
{
    if (!p)
        return RILL_EINVAL;
    if (rd_kafka_flush(p->rk, (int)timeout_ms))
        return RILL_ETIMEDOUT;
    if (p->error[0]) {
        rill_log(RILL_LOG_ERROR, "producer", "%s", p->error);
        return RILL_EKAFKA;
    }
    return 0;
}

void rill_producer_destroy(rill_producer_t *p)
{
    if (!p)
        return;
    rd_kafka_flush(p->rk, 5000);
    rd_kafka_destroy(p->rk);
    rill_free(p);
}
