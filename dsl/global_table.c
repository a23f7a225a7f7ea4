/*
 * Global tables: a global store (rill_topology_add_global_store) named and numbered as Kafka
 * Streams' StreamsBuilder.globalTable() names its parts: the store first ("<topic>-STATE-STORE-
 * <n>" unless named), then the source ("KSTREAM-SOURCE-<n>") and the processor
 * ("KTABLE-SOURCE-<n>").
 */
#include "dsl_int.h"

#include <stdio.h>

rill_global_table_t *rill_global_table_from(rill_topology_t *topo, const char *topic,
                                            const rill_source_opts_t *opts,
                                            const rill_materialized_t *m)
{
    if (!topo)
        return NULL;
    if (!topic) {
        rill_topology_fail(topo, "a global table needs a topic");
        return NULL;
    }
    char store_gen[300], source[96], node[96];
    const char *store = rill__table_store_name(topo, topic, m, store_gen, sizeof store_gen);
    rill_topology_next_name(topo, "KSTREAM-SOURCE", source, sizeof source);
    rill_topology_next_name(topo, "KTABLE-SOURCE", node, sizeof node);
    /* As Kafka Streams: the source reads with Consumed's serdes, which default to the
     * materialization's, and the store is described by the materialization's, which default to
     * Consumed's. */
    rill_source_opts_t sopts = opts ? *opts : (rill_source_opts_t){0};
    if (!sopts.key_serde && m)
        sopts.key_serde = m->key_serde;
    if (!sopts.value_serde && m)
        sopts.value_serde = m->value_serde;
    rill_store_spec_t spec = {
        .name = store,
        .type = RILL_STORE_KV,
        .backend = m ? m->backend : RILL_STORE_DEFAULT,
        .key_serde = m && m->key_serde ? m->key_serde : sopts.key_serde,
        .value_serde = m && m->value_serde ? m->value_serde : sopts.value_serde,
    };
    int k = rill_topology_add_global_store(topo, &spec, source, topic, &sopts, node);
    if (k < 0)
        return NULL;
    rill_global_table_t *gt = rill_calloc(1, sizeof *gt);
    if (!gt || rill_topology_attach(topo, gt, rill_free)) {
        rill_free(gt);
        rill_topology_fail(topo, "out of memory building the topology");
        return NULL;
    }
    const rill_store_spec_t *s = rill_topology_store(topo, k, NULL);
    *gt = (rill_global_table_t){topo, s->name, s->key_serde, s->value_serde};
    return gt;
}

const char *rill_global_table_store_name(const rill_global_table_t *gt)
{
    return gt ? gt->store : NULL;
}
