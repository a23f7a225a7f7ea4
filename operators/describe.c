/*
 * Describing a built topology: the text Kafka Streams' TopologyDescription prints, so users can
 * compare the two side by side, and a Graphviz DOT digraph with one cluster per sub-topology.
 */
#include "operators_int.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

static void sb_printf(rill_bytes_t *sb, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void sb_printf(rill_bytes_t *sb, const char *fmt, ...)
{
    char buf[1024];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    if (n > 0)
        rill_bytes_append(sb, buf, (size_t)n < sizeof buf ? (size_t)n : sizeof buf - 1);
}

/* Returns the builder's string (NUL-terminated) or NULL when an append ran out of memory. */
static char *sb_finish(rill_bytes_t *sb)
{
    if (rill_bytes_append(sb, "", 1) != 0) {
        rill_bytes_free(sb);
        return NULL;
    }
    return (char *)sb->data;
}

static void node_list(rill_bytes_t *sb, const rill_topology_t *topo, const int *idx, size_t n)
{
    if (n == 0) {
        sb_printf(sb, "none");
        return;
    }
    for (size_t i = 0; i < n; i++)
        sb_printf(sb, "%s%s", i ? ", " : "", topo->nodes[idx[i]]->name);
}

/* A node's size as Kafka Streams' InternalTopologyBuilder counts it for describe(): itself plus
 * its children's sizes (a node below two paths counts twice). Saturates instead of wrapping. */
static uint64_t subtree_size(const rill_topology_t *topo, int i, uint64_t *memo)
{
    if (memo[i])
        return memo[i];
    uint64_t size = 1;
    const node_t *node = topo->nodes[i];
    for (size_t c = 0; c < node->nchildren; c++) {
        uint64_t add = subtree_size(topo, node->children[c], memo);
        size = size > UINT64_MAX - add ? UINT64_MAX : size + add;
    }
    return memo[i] = size;
}

/* Sorts a sub-topology's n nodes as Kafka Streams' NodeComparator does (TopologyDescription):
 * larger sub-trees first, then by name. The topological order the tasks run in differs where
 * two nodes of one size are not named in the order they were made (KSTREAM-OUTERTHIS-0000000004
 * and KSTREAM-OUTEROTHER-0000000005 of an outer join). */
static void describe_order(const rill_topology_t *topo, int *order, size_t n, uint64_t *memo)
{
    for (size_t i = 1; i < n; i++) {
        int v = order[i];
        uint64_t sv = subtree_size(topo, v, memo);
        size_t j = i;
        for (; j > 0; j--) {
            int u = order[j - 1];
            uint64_t su = subtree_size(topo, u, memo);
            if (su > sv || (su == sv && strcmp(topo->nodes[u]->name, topo->nodes[v]->name) < 0))
                break;
            order[j] = u;
        }
        order[j] = v;
    }
}

char *rill_topology_describe(const rill_topology_t *topo)
{
    if (!topo || !topo->built)
        return NULL;
    uint64_t *memo = rill_calloc(topo->n ? topo->n : 1, sizeof *memo);
    int *order = rill_calloc(topo->n ? topo->n : 1, sizeof *order);
    if (!memo || !order) {
        rill_free(memo);
        rill_free(order);
        return NULL;
    }
    rill_bytes_t sb = {0};
    sb_printf(&sb, "Topologies:\n");
    for (int s = 0; s < topo->nsub; s++) {
        /* A global store's sub-topology is numbered among the others, as Kafka Streams does,
         * and printed as its TopologyDescription.GlobalStore is (no blank line after it). */
        bool global = topo->nodes[topo->sub_order[s][0]]->global;
        sb_printf(&sb, "   Sub-topology: %d%s\n", s,
                  global ? " for global store (will not generate tasks)" : "");
        memcpy(order, topo->sub_order[s], topo->sub_n[s] * sizeof *order);
        describe_order(topo, order, topo->sub_n[s], memo);
        for (size_t k = 0; k < topo->sub_n[s]; k++) {
            const node_t *node = topo->nodes[order[k]];
            switch (node->kind) {
            case NODE_SOURCE:
                if (node->pattern) {
                    sb_printf(&sb, "    Source: %s (topic pattern: %s)\n", node->name,
                              node->pattern);
                } else {
                    sb_printf(&sb, "    Source: %s (topics: [", node->name);
                    for (size_t t = 0; t < node->ntopics; t++)
                        sb_printf(&sb, "%s%s", t ? ", " : "", node->topics[t]);
                    sb_printf(&sb, "])\n");
                }
                break;
            case NODE_PROCESSOR:
                sb_printf(&sb, "    Processor: %s (stores: [", node->name);
                /* Other nodes read a global store without connecting to it, in Kafka Streams:
                 * only its own processor lists it. */
                for (size_t k = 0, shown = 0; k < topo->nstores; k++)
                    for (size_t p = 0; p < topo->stores[k].nprocessors; p++)
                        if (strcmp(topo->stores[k].processor_names[p], node->name) == 0 &&
                            (!topo->stores[k].global || node->global))
                            sb_printf(&sb, "%s%s", shown++ ? ", " : "", topo->stores[k].spec.name);
                sb_printf(&sb, "])\n");
                break;
            case NODE_SINK:
                if (node->topic)
                    sb_printf(&sb, "    Sink: %s (topic: %s)\n", node->name, node->topic);
                else
                    sb_printf(&sb, "    Sink: %s (extractor: per record)\n", node->name);
                break;
            }
            if (node->kind != NODE_SINK) {
                sb_printf(&sb, "      --> ");
                node_list(&sb, topo, node->children, node->nchildren);
                sb_printf(&sb, "\n");
            }
            if (node->kind != NODE_SOURCE) {
                sb_printf(&sb, "      <-- ");
                node_list(&sb, topo, node->parents, node->nparents);
                sb_printf(&sb, "\n");
            }
        }
        if (!global)
            sb_printf(&sb, "\n");
    }
    rill_free(memo);
    rill_free(order);
    return sb_finish(&sb);
}

/* Appends prefix and s as one DOT quoted string ("prefix:s"), its '"' and '\\' escaped, so any
 * name (a node called tag"<x>) stays one id. */
static void dot_id(rill_bytes_t *sb, const char *prefix, const char *s)
{
    rill_bytes_append(sb, "\"", 1);
    rill_bytes_append(sb, prefix, strlen(prefix));
    for (const char *run = s; *s; run = s) {
        s += strcspn(s, "\"\\");
        rill_bytes_append(sb, run, (size_t)(s - run));
        if (*s) {
            char esc[2] = {'\\', *s++};
            rill_bytes_append(sb, esc, 2);
        }
    }
    rill_bytes_append(sb, "\"", 1);
}

/* Appends "  from -> to;" (each a DOT id: prefix and name). */
static void dot_edge(rill_bytes_t *sb, const char *from_prefix, const char *from,
                     const char *to_prefix, const char *to)
{
    sb_printf(sb, "  ");
    dot_id(sb, from_prefix, from);
    sb_printf(sb, " -> ");
    dot_id(sb, to_prefix, to);
    sb_printf(sb, ";\n");
}

/* Appends a topic's (or pattern's) node: an ellipse labelled with its name. */
static void dot_topic(rill_bytes_t *sb, const char *prefix, const char *name)
{
    sb_printf(sb, "  ");
    dot_id(sb, prefix, name);
    sb_printf(sb, " [shape=ellipse,label=");
    dot_id(sb, "", name);
    sb_printf(sb, "];\n");
}

char *rill_topology_to_dot(const rill_topology_t *topo)
{
    if (!topo || !topo->built)
        return NULL;
    rill_bytes_t sb = {0};
    sb_printf(&sb, "digraph topology {\n  rankdir=LR;\n  node [fontname=\"Helvetica\"];\n");
    for (int s = 0; s < topo->nsub; s++) {
        bool global = topo->nodes[topo->sub_order[s][0]]->global;
        sb_printf(&sb, "  subgraph cluster_%d {\n    label=\"Sub-topology %d%s\";\n", s, s,
                  global ? " (global store)" : "");
        for (size_t k = 0; k < topo->sub_n[s]; k++) {
            const node_t *node = topo->nodes[topo->sub_order[s][k]];
            const char *shape = node->kind == NODE_SOURCE ? "invhouse"
                                : node->kind == NODE_SINK ? "house"
                                                          : "box";
            sb_printf(&sb, "    ");
            dot_id(&sb, "", node->name);
            sb_printf(&sb, " [shape=%s];\n", shape);
        }
        /* A global store is drawn in its sub-topology, as a cylinder. */
        for (size_t k = 0; global && k < topo->nstores; k++)
            if (topo->stores[k].global && topo->stores[k].subtopology == s) {
                const char *store = topo->stores[k].spec.name;
                sb_printf(&sb, "    ");
                dot_id(&sb, "store:", store);
                sb_printf(&sb, " [shape=cylinder,label=");
                dot_id(&sb, "", store);
                sb_printf(&sb, "];\n  ");
                dot_edge(&sb, "", topo->stores[k].processor_names[0], "store:", store);
            }
        sb_printf(&sb, "  }\n");
    }
    /* Topics are ellipses between the sub-topologies that write and read them. */
    for (size_t i = 0; i < topo->n; i++) {
        const node_t *node = topo->nodes[i];
        for (size_t c = 0; c < node->nchildren; c++)
            dot_edge(&sb, "", node->name, "", topo->nodes[node->children[c]]->name);
        if (node->kind == NODE_SOURCE) {
            for (size_t t = 0; t < node->ntopics; t++) {
                dot_topic(&sb, "topic:", node->topics[t]);
                dot_edge(&sb, "topic:", node->topics[t], "", node->name);
            }
            if (node->pattern) {
                dot_topic(&sb, "pattern:", node->pattern);
                dot_edge(&sb, "pattern:", node->pattern, "", node->name);
            }
        } else if (node->kind == NODE_SINK && node->topic) {
            dot_topic(&sb, "topic:", node->topic);
            dot_edge(&sb, "", node->name, "topic:", node->topic);
        }
    }
    sb_printf(&sb, "}\n");
    return sb_finish(&sb);
}
