/*
 * The librdkafka clients of a stream thread (its consumer, its producer, its restore consumer)
 * and the settings Rill gives them, in one table with the reason for each. Private to engine/.
 */
#ifndef RILL_ENGINE_CLIENTS_H
#define RILL_ENGINE_CLIENTS_H

#include "thread_ctx.h"

typedef enum { CLIENT_CONSUMER, CLIENT_PRODUCER, CLIENT_RESTORE } client_kind_t;

/* The callbacks a client is made with (NULL: none); opaque is passed to each. */
typedef struct {
    void *opaque;
    void (*rebalance)(rd_kafka_t *rk, rd_kafka_resp_err_t err,
                      rd_kafka_topic_partition_list_t *parts, void *opaque);
    void (*offset_commit)(rd_kafka_t *rk, rd_kafka_resp_err_t err,
                          rd_kafka_topic_partition_list_t *offsets, void *opaque);
    void (*delivery)(rd_kafka_t *rk, const rd_kafka_message_t *msg, void *opaque);
    int (*stats)(rd_kafka_t *rk, char *json, size_t len, void *opaque);
} client_callbacks_t;

/* Returns a new client of kind for the thread of ctx, with Rill's settings, the user's
 * pass-through properties and cb; NULL with errstr saying why. */
rd_kafka_t *rill__client_new(const thread_ctx_t *ctx, client_kind_t kind,
                             const client_callbacks_t *cb, char *errstr, size_t errstr_size);
/* Returns whether key (a librdkafka property) is one Rill sets itself and users may not; *why
 * (when not NULL) gets the reason. */
bool rill__client_reserved(const char *key, const char **why);
/* Calls fn for each setting Rill gives its clients (kind name, key, value, forced, reason):
 * the source of the table in docs/CONFIGURATION.md. */
void rill__client_settings(void (*fn)(void *ud, const char *clients, const char *key,
                                      const char *value, bool forced, const char *reason),
                           void *ud);

#endif
