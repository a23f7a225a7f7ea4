/*
 * Co-partitioning of joins, checked when an app starts: partition p of every topic a join's
 * sub-topology reads must hold the same keys, so every such topic must have the same partition
 * count. As Kafka Streams' CopartitionedTopicsEnforcer: a repartition topic that feeds a join and
 * has no count of its own takes the count of the join's widest user topic; two user topics that
 * differ fail the start, naming both and their counts. Private to engine/.
 */
#ifndef RILL_ENGINE_COPARTITION_H
#define RILL_ENGINE_COPARTITION_H

#include "operators/task.h"

/* What the check needs to know of the app's topics: a topic's partition count (-1: unknown),
 * and how to give an internal topic its count (0 or a code). */
typedef struct {
    int32_t (*partitions)(void *ud, const char *topic);
    int (*set_partitions)(void *ud, const char *topic, int32_t n);
    void *ud;
} copartition_topics_t;

/* Gives the unsized repartition topics that feed a join the count of its widest user topic. */
int rill__copartition_size(const rill_topology_t *topo, const char *app_id,
                           const copartition_topics_t *topics);
/* Checks every join's topics have one partition count: 0, or RILL_ETOPOLOGY with errstr naming
 * two topics that differ and their counts. */
int rill__copartition_check(const rill_topology_t *topo, const char *app_id,
                            const copartition_topics_t *topics, char *errstr, size_t errstr_size);

#endif
