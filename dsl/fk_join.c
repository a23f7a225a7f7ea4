/*
 * The foreign-key table-table joins (KTableImpl.doJoinOnForeignKey), with Kafka Streams' nodes,
 * internal topics and stores, named in its order so describe() reads the same:
 *
 *   left table -> KTABLE-FK-JOIN-SUBSCRIPTION-REGISTRATION-<n> (SUBSCRIBE) -> KTABLE-SINK-<n>
 *     -> "KTABLE-FK-JOIN-SUBSCRIPTION-REGISTRATION-<n>-topic" (partitioned by the foreign key)
 *     -> KTABLE-SOURCE-<n> -> KTABLE-FK-JOIN-SUBSCRIPTION-PROCESSOR-<n> (RECEIVE, with the store
 *     KTABLE-FK-JOIN-SUBSCRIPTION-STATE-STORE-<n>) -> KTABLE-FK-JOIN-SUBSCRIPTION-PROCESSOR-<n>
 *     (SUBSCRIPTION, reading the right table's store) -> KTABLE-SINK-<n>;
 *   right table -> KTABLE-FK-JOIN-SUBSCRIPTION-PROCESSOR-<n> (FOREIGN) -> the same sink
 *     -> "KTABLE-FK-JOIN-SUBSCRIPTION-RESPONSE-<n>-topic" (partitioned as the left row was)
 *     -> KTABLE-SOURCE-<n> -> KTABLE-FK-JOIN-SUBSCRIPTION-RESPONSE-RESOLVER-PROCESSOR-<n>
 *     (RESOLVE, reading the left table's store) -> KTABLE-FK-JOIN-OUTPUT-<n>.
 *
 * The internal topics carry bytes (the processors write Kafka Streams' wire formats), so their
 * sinks and sources use the bytes serde.
 */
#include "dsl_int.h"

#include <stdio.h>

/* Adds a foreign-key join processor called name under parent, connected to store when it is not
 * NULL. */
static int add_fk_node(rill_topology_t *topo, const char *name, const rill_fk_join_spec_t *spec,
                       const char *parent, const char *store)
{
    void *arg = rill_fk_join_arg_new(spec);
    if (!arg)
        return rill_topology_fail(topo, "out of memory adding '%s'", name);
    const char *parents[] = {parent, NULL};
    int idx = rill_topology_add_processor(topo, name, rill_fk_join_ops(), arg,
                                          rill_fk_join_arg_free, parents);
    if (idx < 0) {
        rill_fk_join_arg_free(arg);
        return idx;
    }
    if (store)
        return rill_topology_connect_store(topo, store, name);
    return idx;
}

/* The internal topic "<base>-topic", with a sink and a source of bytes. */
static int add_topic(rill_topology_t *topo, const char *base, const char *sink, const char *source,
                     rill_partitioner_fn partitioner, const char *const *parents)
{
    char topic[128];
    snprintf(topic, sizeof topic, "%s-topic", base);
    rill_sink_opts_t o = {
        .key_serde = rill_serde_bytes(),
        .value_serde = rill_serde_bytes(),
        .partitioner = partitioner,
    };
    return rill_topology_add_internal_topic(topo, topic, sink, source, 0, &o, parents);
}

static rill_table_t *fk_join(rill_table_t *left, rill_table_t *right, rill_map_one_fn foreign_key,
                             void *fk_ud, rill_joiner_fn joiner, void *ud,
                             const rill_materialized_t *m, bool left_join)
{
    if (!left || !right)
        return NULL;
    rill_topology_t *topo = left->topo;
    if (right->topo != topo) {
        rill_topology_fail(topo, "cannot join tables of different topologies");
        return NULL;
    }
    if (!foreign_key || !joiner) {
        rill_topology_fail(topo, "the foreign-key join after '%s' has no %s",
                           rill_topology_node_name(topo, left->node),
                           foreign_key ? "joiner" : "foreign key extractor");
        return NULL;
    }
    if (left->windowed || right->windowed) {
        rill_topology_fail(topo, "the foreign-key join after '%s' cannot join a windowed table",
                           rill_topology_node_name(topo, left->node));
        return NULL;
    }
    const char *lstore = rill__table_store(left), *rstore = rill__table_store(right);
    if (!lstore || !rstore)
        return NULL;
    /* Kafka Streams' names, generated in its order (one counter for nodes and stores). */
    char reg_topic[64], reg[64], reg_sink[64], reg_source[64], sub_store[80], receive[64],
        sub_join[64], foreign[64], resp_topic[64], resp_sink[64], resp_source[64], resolver[80],
        output[64], unused[80];
    rill_topology_next_name(topo, "KTABLE-FK-JOIN-SUBSCRIPTION-REGISTRATION", reg_topic,
                            sizeof reg_topic);
    rill_topology_next_name(topo, "KTABLE-FK-JOIN-SUBSCRIPTION-REGISTRATION", reg, sizeof reg);
    rill_topology_next_name(topo, "KTABLE-SINK", reg_sink, sizeof reg_sink);
    rill_topology_next_name(topo, "KTABLE-SOURCE", reg_source, sizeof reg_source);
    rill_topology_next_name(topo, "KTABLE-FK-JOIN-SUBSCRIPTION-STATE-STORE", sub_store,
                            sizeof sub_store);
    rill_topology_next_name(topo, "KTABLE-FK-JOIN-SUBSCRIPTION-PROCESSOR", receive, sizeof receive);
    rill_topology_next_name(topo, "KTABLE-FK-JOIN-SUBSCRIPTION-PROCESSOR", sub_join,
                            sizeof sub_join);
    rill_topology_next_name(topo, "KTABLE-FK-JOIN-SUBSCRIPTION-PROCESSOR", foreign, sizeof foreign);
    rill_topology_next_name(topo, "KTABLE-FK-JOIN-SUBSCRIPTION-RESPONSE", resp_topic,
                            sizeof resp_topic);
    rill_topology_next_name(topo, "KTABLE-SINK", resp_sink, sizeof resp_sink);
    rill_topology_next_name(topo, "KTABLE-SOURCE", resp_source, sizeof resp_source);
    rill_topology_next_name(topo, "KTABLE-FK-JOIN-SUBSCRIPTION-RESPONSE-RESOLVER-PROCESSOR",
                            resolver, sizeof resolver);
    rill_topology_next_name(topo, "KTABLE-FK-JOIN-OUTPUT", output, sizeof output);
    if (!m || !m->name) /* Kafka Streams names the result's store even when it keeps none */
        rill_topology_next_name(topo, "KTABLE-FK-JOIN-OUTPUT-STATE-STORE", unused, sizeof unused);

    rill_fk_join_spec_t spec = {
        .left_join = left_join,
        .foreign_key = foreign_key,
        .foreign_key_ud = fk_ud,
        .joiner = joiner,
        .ud = ud,
        .key_serde = left->key_serde,
        .value_serde = left->value_serde,
        .foreign_key_serde = right->key_serde,
        .foreign_value_serde = right->value_serde,
    };
    const char *lnode = rill_topology_node_name(topo, left->node);
    const char *rnode = rill_topology_node_name(topo, right->node);
    const char *reg_parents[] = {reg, NULL}, *resp_parents[] = {sub_join, foreign, NULL};
    const char *sub_users[] = {receive, foreign, NULL};
    rill_store_spec_t store = {
        .name = sub_store,
        .type = RILL_STORE_KV,
        .no_caching = true, /* RECEIVE forwards at once; its store is read by prefix scans */
        .internal = true,
    };
    spec.op = RILL_FKOP_SUBSCRIBE;
    if (add_fk_node(topo, reg, &spec, lnode, NULL) < 0 ||
        add_topic(topo, reg_topic, reg_sink, reg_source, NULL, reg_parents) < 0)
        return NULL;
    spec.op = RILL_FKOP_RECEIVE;
    spec.store = sub_store;
    if (add_fk_node(topo, receive, &spec, reg_source, NULL) < 0 ||
        rill_topology_add_store(topo, &store, sub_users) < 0)
        return NULL;
    spec.op = RILL_FKOP_SUBSCRIPTION;
    spec.store = rstore;
    if (add_fk_node(topo, sub_join, &spec, receive, rstore) < 0)
        return NULL;
    spec.op = RILL_FKOP_FOREIGN;
    spec.store = sub_store;
    if (add_fk_node(topo, foreign, &spec, rnode, NULL) < 0 ||
        add_topic(topo, resp_topic, resp_sink, resp_source, rill_fk_join_response_partition,
                  resp_parents) < 0)
        return NULL;
    spec.op = RILL_FKOP_RESOLVE;
    spec.store = lstore;
    if (add_fk_node(topo, resolver, &spec, resp_source, lstore) < 0)
        return NULL;
    const char *out_parents[] = {resolver, NULL};
    return rill__table_merge(topo, output, out_parents, left->key_serde, NULL, m);
}

rill_table_t *rill_table_fk_join(rill_table_t *left, rill_table_t *right,
                                 rill_map_one_fn foreign_key, void *fk_ud, rill_joiner_fn joiner,
                                 void *ud, const rill_materialized_t *m)
{
    return fk_join(left, right, foreign_key, fk_ud, joiner, ud, m, false);
}

rill_table_t *rill_table_fk_left_join(rill_table_t *left, rill_table_t *right,
                                      rill_map_one_fn foreign_key, void *fk_ud,
                                      rill_joiner_fn joiner, void *ud, const rill_materialized_t *m)
{
    return fk_join(left, right, foreign_key, fk_ud, joiner, ud, m, true);
}
