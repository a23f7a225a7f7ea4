/*
 * Internal topic names. The suffixes are Kafka Streams' (so tools that know its internal topics,
 * and its reset tool, recognise Rill's), and only this file spells them.
 */
#include "internal_topics.h"

#include <stdio.h>
#include <string.h>

#define CHANGELOG_SUFFIX   "-changelog"
#define REPARTITION_SUFFIX "-repartition"
/* A foreign-key join's subscription and response topics (KTableImpl.doJoinOnForeignKey):
 * "KTABLE-FK-JOIN-SUBSCRIPTION-REGISTRATION-<n>-topic", "...-SUBSCRIPTION-RESPONSE-<n>-topic".
 * Kafka Streams treats them as repartition topics. */
#define FK_JOIN_PREFIX "KTABLE-FK-JOIN-SUBSCRIPTION-"
#define FK_JOIN_SUFFIX "-topic"

static bool ends_with(const char *name, size_t n, const char *suffix, size_t suffix_len)
{
    return n > suffix_len && memcmp(name + n - suffix_len, suffix, suffix_len) == 0;
}

int rill__changelog_topic(char *buf, size_t size, const char *application_id, const char *store)
{
    return snprintf(buf, size, "%s-%s" CHANGELOG_SUFFIX, application_id, store);
}

rill_topic_kind_t rill__topic_kind(const char *application_id, const char *name)
{
    size_t app_len = strlen(application_id), n = strlen(name);
    if (strncmp(name, application_id, app_len) != 0 || name[app_len] != '-')
        return RILL_TOPIC_USER;
    /* The name part must not be empty: "<app>--changelog" is a user's topic. */
    const char *rest = name + app_len + 1;
    size_t rest_len = n - app_len - 1;
    if (ends_with(rest, rest_len, REPARTITION_SUFFIX, sizeof REPARTITION_SUFFIX - 1))
        return RILL_TOPIC_REPARTITION;
    if (strncmp(rest, FK_JOIN_PREFIX, sizeof FK_JOIN_PREFIX - 1) == 0 &&
        ends_with(rest, rest_len, FK_JOIN_SUFFIX, sizeof FK_JOIN_SUFFIX - 1))
        return RILL_TOPIC_REPARTITION;
    if (ends_with(rest, rest_len, CHANGELOG_SUFFIX, sizeof CHANGELOG_SUFFIX - 1))
        return RILL_TOPIC_CHANGELOG;
    return RILL_TOPIC_USER;
}

bool rill__is_retry_topic(const char *application_id, const char *name)
{
    static const char infix[] = "-retry-";
    size_t app_len = strlen(application_id);
    if (strncmp(name, application_id, app_len) != 0 ||
        strncmp(name + app_len, infix, sizeof infix - 1) != 0)
        return false;
    const char *delay = name + app_len + sizeof infix - 1;
    if (!*delay)
        return false;
    for (; *delay; delay++)
        if (*delay < '0' || *delay > '9')
            return false;
    return true;
}
