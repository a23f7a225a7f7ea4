/*
 * Internal topic names, in one place: "<application.id>-<store>-changelog" and
 * "<application.id>-<name>-repartition", as Kafka Streams names them. Private to engine/.
 */
#ifndef RILL_ENGINE_INTERNAL_TOPICS_H
#define RILL_ENGINE_INTERNAL_TOPICS_H

#include <stdbool.h>
#include <stddef.h>

typedef enum {
    RILL_TOPIC_USER,        /* not one of the app's internal topics */
    RILL_TOPIC_CHANGELOG,   /* <application.id>-<store>-changelog */
    RILL_TOPIC_REPARTITION, /* <application.id>-<name>-repartition, and a foreign-key join's
                             * <application.id>-KTABLE-FK-JOIN-SUBSCRIPTION-...-topic */
} rill_topic_kind_t;

/* Writes the changelog topic of store into buf; returns the name's length (as snprintf). */
int rill__changelog_topic(char *buf, size_t size, const char *application_id, const char *store);
/* Returns which kind of topic name is for the app application_id. */
rill_topic_kind_t rill__topic_kind(const char *application_id, const char *name);
/* Returns whether name is one of the app's retry topics, "<application.id>-retry-<delay>"
 * (operators/retry_topics.c); the tools count them with the internal topics. */
bool rill__is_retry_topic(const char *application_id, const char *name);

#endif
