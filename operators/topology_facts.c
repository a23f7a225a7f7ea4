/*
 * What the drivers of a built topology (the app and its stream threads, the test driver) read
 * of it: the sub-topologies, their source topics and patterns, whether one holds a join, the
 * sink topics, which source reads a topic, the global stores and their topics, and the full
 * names of internal topics. Declared in task.h, and in operators_int.h for the two that the
 * layer's own files use (rill__internal_topic, rill__topology_global_source).
 */
#include "operators_int.h"

#include <stdio.h>
#include <string.h>

int rill__topology_subtopology_count(const rill_topology_t *topo)
{
    return topo && topo->built ? topo->nsub : 0;
}

const char *rill__internal_topic(const char *app_id, const char *suffix, char *buf, size_t size)
{
    snprintf(buf, size, "%s-%s", app_id, suffix);
    return buf;
}

/* The partition count of an internal topic: its own, else -1 ("as the upstream sources"). */
void rill__topology_source_topics(const rill_topology_t *topo, int st, const char *app_id,
                                  void (*cb)(void *ud, const char *topic, bool internal,
                                             int32_t partitions),
                                  void *ud)
{
    for (size_t k = 0; k < topo->sub_n[st]; k++) {
        const node_t *node = topo->nodes[topo->sub_order[st][k]];
        if (node->kind != NODE_SOURCE || node->global)
            continue;
        for (size_t t = 0; t < node->ntopics; t++) {
            char full[512];
            const char *name =
                node->internal ? rill__internal_topic(app_id, node->topics[t], full, sizeof full)
                               : node->topics[t];
            cb(ud, name, node->internal, node->partitions);
        }
    }
}

bool rill__topology_has_join(const rill_topology_t *topo, int st)
{
    for (size_t k = 0; k < topo->sub_n[st]; k++)
        if (topo->nodes[topo->sub_order[st][k]]->ops == rill_join_ops() ||
            topo->nodes[topo->sub_order[st][k]]->ops == rill_fk_join_ops())
            return true;
    return false;
}

void rill__topology_source_patterns(const rill_topology_t *topo, int st,
                                    void (*cb)(void *ud, const char *pattern), void *ud)
{
    for (size_t k = 0; k < topo->sub_n[st]; k++) {
        const node_t *node = topo->nodes[topo->sub_order[st][k]];
        if (node->kind == NODE_SOURCE && node->pattern)
            cb(ud, node->pattern);
    }
}

void rill__topology_sink_topics(const rill_topology_t *topo, const char *app_id,
                                void (*cb)(void *ud, const char *topic, bool internal, int st,
                                           int32_t partitions),
                                void *ud)
{
    for (size_t i = 0; i < topo->n; i++) {
        const node_t *node = topo->nodes[i];
        if (node->kind != NODE_SINK || !node->topic)
            continue;
        char full[512];
        cb(ud,
           node->internal ? rill__internal_topic(app_id, node->topic, full, sizeof full)
                          : node->topic,
           node->internal, node->subtopology, node->partitions);
    }
}

int rill__topology_find_source(const rill_topology_t *topo, const char *app_id, const char *topic,
                               int *st, int *source)
{
    size_t prefix = strlen(app_id);
    for (size_t i = 0; i < topo->n; i++) {
        const node_t *node = topo->nodes[i];
        if (node->kind != NODE_SOURCE || node->global)
            continue;
        bool match = false;
        for (size_t t = 0; !match && t < node->ntopics; t++) {
            if (node->internal)
                match = strncmp(topic, app_id, prefix) == 0 && topic[prefix] == '-' &&
                        strcmp(topic + prefix + 1, node->topics[t]) == 0;
            else
                match = strcmp(topic, node->topics[t]) == 0;
        }
        if (!match && node->has_regex)
            match = regexec(&node->regex, topic, 0, NULL, 0) == 0;
        if (match) {
            *st = node->subtopology;
            *source = (int)i;
            return 0;
        }
    }
    return RILL_ENOENT;
}

const node_t *rill__topology_global_source(const rill_topology_t *topo, size_t k)
{
    const store_def_t *sd = &topo->stores[k];
    int proc =
        sd->global && topo->built ? rill__topology_find_node(topo, sd->processor_names[0]) : -1;
    return proc < 0 ? NULL : topo->nodes[topo->nodes[proc]->parents[0]];
}

void rill__topology_global_topics(const rill_topology_t *topo,
                                  void (*cb)(void *ud, const char *topic, bool internal,
                                             int32_t partitions),
                                  void *ud)
{
    for (size_t k = 0; topo && k < topo->nstores; k++) {
        const node_t *src = rill__topology_global_source(topo, k);
        if (src)
            cb(ud, src->topics[0], false, 0);
    }
}

bool rill__topology_store_global(const rill_topology_t *topo, int k)
{
    return topo && k >= 0 && (size_t)k < topo->nstores && topo->stores[k].global;
}
