/* Co-partitioning of joins (copartition.h). */
#include "copartition.h"

#include <stdio.h>
#include <string.h>

typedef struct {
    const copartition_topics_t *topics;
    bool sizing;
    int32_t widest; /* the widest user topic of the sub-topology */
    char first[512];
    int32_t first_n;
    char errstr[1024];
    int rc;
} walk_t;

static void widest_user(void *ud, const char *topic, bool internal, int32_t partitions)
{
    (void)partitions;
    walk_t *w = ud;
    int32_t n = internal ? -1 : w->topics->partitions(w->topics->ud, topic);
    if (n > w->widest)
        w->widest = n;
}

static void size_one(void *ud, const char *topic, bool internal, int32_t partitions)
{
    walk_t *w = ud;
    if (!internal || partitions > 0 || w->rc || w->topics->partitions(w->topics->ud, topic) > 0)
        return;
    w->rc = w->topics->set_partitions(w->topics->ud, topic, w->widest);
}

static void check_one(void *ud, const char *topic, bool internal, int32_t partitions)
{
    (void)internal;
    (void)partitions;
    walk_t *w = ud;
    int32_t n = w->topics->partitions(w->topics->ud, topic);
    if (w->rc || n <= 0)
        return;
    if (!w->first[0]) {
        snprintf(w->first, sizeof w->first, "%s", topic);
        w->first_n = n;
    } else if (n != w->first_n) {
        snprintf(w->errstr, sizeof w->errstr,
                 "a join needs co-partitioned topics, but topic '%s' has %d partition(s) and "
                 "topic '%s' has %d: give them the same count, or repartition one side "
                 "(rill_stream_repartition) to the other's count",
                 w->first, (int)w->first_n, topic, (int)n);
        w->rc = RILL_ETOPOLOGY;
    }
}

int rill__copartition_size(const rill_topology_t *topo, const char *app_id,
                           const copartition_topics_t *topics)
{
    for (int st = 0; st < rill__topology_subtopology_count(topo); st++) {
        if (!rill__topology_has_join(topo, st))
            continue;
        walk_t w = {.topics = topics, .sizing = true, .widest = -1};
        rill__topology_source_topics(topo, st, app_id, widest_user, &w);
        if (w.widest > 0)
            rill__topology_source_topics(topo, st, app_id, size_one, &w);
        if (w.rc)
            return w.rc;
    }
    return 0;
}

int rill__copartition_check(const rill_topology_t *topo, const char *app_id,
                            const copartition_topics_t *topics, char *errstr, size_t errstr_size)
{
    for (int st = 0; st < rill__topology_subtopology_count(topo); st++) {
        if (!rill__topology_has_join(topo, st))
            continue;
        walk_t w = {.topics = topics};
        rill__topology_source_topics(topo, st, app_id, check_one, &w);
        if (w.rc) {
            snprintf(errstr, errstr_size, "sub-topology %d: %s", st, w.errstr);
            return w.rc;
        }
    }
    return 0;
}
