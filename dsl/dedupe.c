/*
 * Dedupe in the DSL (rill_stream_dedupe): the dedupe processor (rill_dedupe_ops) named
 * KSTREAM-DEDUPE-<n>, its window store KSTREAM-DEDUPE-STATE-STORE-<n> (or the name m gives), and,
 * when the id is the key and the key may have changed, a repartition topic named after the store
 * first, as aggregations do, so each id's records meet in one task.
 */
#include "dsl_int.h"

#include <stdio.h>

rill_dedupe_id_t rill_dedupe_by_key(void)
{
    return (rill_dedupe_id_t){.kind = RILL_DEDUPE_KEY};
}

rill_dedupe_id_t rill_dedupe_by_header(const char *name)
{
    return (rill_dedupe_id_t){.kind = RILL_DEDUPE_HEADER, .header = name};
}

rill_dedupe_id_t rill_dedupe_by_function(rill_map_one_fn fn, void *ud)
{
    return (rill_dedupe_id_t){.kind = RILL_DEDUPE_FUNCTION, .fn = fn, .ud = ud};
}

/* Why id cannot be used, or NULL. */
static const char *id_problem(const rill_dedupe_id_t *id)
{
    switch (id->kind) {
    case RILL_DEDUPE_KEY:
        return NULL;
    case RILL_DEDUPE_HEADER:
        return id->header && id->header[0] ? NULL : "its header name is NULL or empty";
    case RILL_DEDUPE_FUNCTION:
        return id->fn ? NULL : "its id function is NULL";
    }
    return "its id is of no known kind";
}

rill_stream_t *rill_stream_dedupe(rill_stream_t *stream, rill_dedupe_id_t id, int64_t ttl_ms,
                                  const rill_materialized_t *m)
{
    if (!stream)
        return NULL;
    rill_topology_t *topo = stream->topo;
    const char *after = rill_topology_node_name(topo, stream->node);
    const char *bad = id_problem(&id);
    if (bad) {
        rill_topology_fail(topo, "dedupe after '%s': %s", after, bad);
        return NULL;
    }
    /* The store holds buckets for 2 * ttl (operators/dedupe.c); a quarter of the range keeps
     * every bucket computation clear of overflow. */
    if (ttl_ms <= 0 || ttl_ms > INT64_MAX / 4) {
        rill_topology_fail(topo,
                           "dedupe after '%s': the TTL (%lld ms) must be positive and below "
                           "2^61 ms",
                           after, (long long)ttl_ms);
        return NULL;
    }
    char store_gen[96], node[96];
    const char *store = m && m->name ? m->name
                                     : rill_topology_next_name(topo, "KSTREAM-DEDUPE-STATE-STORE",
                                                               store_gen, sizeof store_gen);
    rill_serde_t *ks = m && m->key_serde ? m->key_serde : stream->key_serde;
    bool repartition = id.kind == RILL_DEDUPE_KEY && stream->key_changed;
    int parent =
        repartition ? rill__keyed_node(stream, store, ks, stream->value_serde) : stream->node;
    if (parent < 0)
        return rill__stream_new(topo, parent, NULL, NULL);
    rill_topology_next_name(topo, "KSTREAM-DEDUPE", node, sizeof node);
    rill_dedupe_spec_t spec = {
        .id = id,
        .store = store,
        .ttl_ms = ttl_ms,
        .key_serde = id.kind == RILL_DEDUPE_KEY ? ks : NULL,
    };
    int idx = rill__add_built_in(topo, node, rill_dedupe_ops(), rill_dedupe_arg_new(&spec),
                                 rill_dedupe_arg_free, parent);
    if (idx < 0)
        return rill__stream_new(topo, idx, NULL, NULL);
    if (!rill__add_store(topo, store, node, RILL_STORE_WINDOW, m, spec.key_serde, NULL, 2 * ttl_ms))
        return NULL;
    rill_stream_t *out =
        rill__stream_new(topo, idx, repartition ? ks : stream->key_serde, stream->value_serde);
    if (out)
        out->key_changed = !repartition && stream->key_changed;
    return out;
}
