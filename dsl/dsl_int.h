/*
 * Private declarations of the DSL layer, shared by dsl.c (streams) and stateful.c (grouping,
 * aggregations, windows, tables). Never included outside dsl/.
 */
#ifndef RILL_DSL_INT_H
#define RILL_DSL_INT_H

#include <rill/dsl.h>

struct rill_stream {
    rill_topology_t *topo;
    int node;
    rill_serde_t *key_serde; /* borrowed: the topology's nodes hold the references */
    rill_serde_t *value_serde;
    bool key_changed; /* an operation since the last repartition may have changed the key */
};

/* A global table: its store, which every task reads by name. */
struct rill_global_table {
    rill_topology_t *topo;
    const char *store;       /* borrowed from the topology's store spec */
    rill_serde_t *key_serde; /* of the stored keys and values; borrowed: the spec holds them */
    rill_serde_t *value_serde;
};

struct rill_table {
    rill_topology_t *topo;
    int node;
    rill_serde_t *key_serde, *value_serde;
    const char *store; /* borrowed from the topology's store spec; NULL: not materialized */
    bool windowed;
    rill_windows_t windows;
    bool versioned; /* its store is a versioned store (rill_table_from with m->versioned) */
};

/* Returns the name of the store holding t's rows, materializing t first when it is not (a table
 * source node under it); NULL after failing the topology. */
const char *rill__table_store(rill_table_t *t);
/* Adds the node called name that merges a table-table join's two sides (parents): a pass, or
 * when m names a store, a table source materializing the result there. Returns the table. */
rill_table_t *rill__table_merge(rill_topology_t *topo, const char *name, const char *const *parents,
                                rill_serde_t *ks, rill_serde_t *vs, const rill_materialized_t *m);

/* Returns a new stream handle on node (owned by the topology), or NULL after failing the
 * topology when node is an error. */
rill_stream_t *rill__stream_new(rill_topology_t *topo, int node, rill_serde_t *ks,
                                rill_serde_t *vs);
/* Returns the store name of a table of topic: m->name, or "<topic>-STATE-STORE-<n>" (made in buf)
 * as Kafka Streams names it. */
const char *rill__table_store_name(rill_topology_t *topo, const char *topic,
                                   const rill_materialized_t *m, char *buf, size_t size);
/* Adds the store of an operation (connected to the processor called node): m's backend, logging,
 * caching and name (a store m does not name is internal), the serdes ks and vs for queries, and
 * retention (windowed stores). Returns its name as the topology holds it, or NULL. */
const char *rill__add_store(rill_topology_t *topo, const char *store, const char *node,
                            rill_store_type_t type, const rill_materialized_t *m, rill_serde_t *ks,
                            rill_serde_t *vs, int64_t retention);
/* Returns the node an operation by key hangs under: s's own, or when s's key may have changed,
 * the source of a repartition topic named name ("<application.id>-<name>-repartition", its
 * source "<name>-repartition-source") written with ks and vs. A negative code when it fails. */
int rill__keyed_node(rill_stream_t *s, const char *name, rill_serde_t *ks, rill_serde_t *vs);
/* Adds the built-in processor called node (ops, arg) under the node with index parent; arg,
 * when not NULL, is owned by the topology on success and freed with arg_free on failure (NULL:
 * RILL_ENOMEM). Returns the node's index or a negative code. */
int rill__add_built_in(rill_topology_t *topo, const char *node, const rill_processor_ops *ops,
                       void *arg, void (*arg_free)(void *), int parent);
/* Adds a processor that forwards records unchanged. */
int rill__add_pass(rill_topology_t *topo, const char *name, const char *const *parents);

#endif
