/*
 * The stateful DSL: grouping, aggregations, windows, tables and suppress. Each operation adds a
 * built-in stateful processor (rill_sop_ops) and, where it keeps state, a store connected to it,
 * named as Kafka Streams names them (KSTREAM-AGGREGATE-STATE-STORE-<n>, ...). A grouping whose
 * key may have changed goes through a repartition topic named after the aggregation's store.
 */
#include "dsl_int.h"

#include <stdio.h>
#include <string.h>

struct rill_grouped {
    rill_topology_t *topo;
    int node;
    rill_serde_t *key_serde, *value_serde;
    bool repartition;
    const char *name; /* the repartition's name, when given (copied into name_buf) */
    char name_buf[200];
    int repartitioned; /* the named repartition's source once made (one for every aggregation) */
};

struct rill_windowed_stream {
    rill_grouped_t *grouped;
    rill_windows_t windows;
};

struct rill_grouped_table {
    rill_topology_t *topo;
    int node;
    rill_serde_t *key_serde, *value_serde;
    char name_buf[200];
    int repartitioned; /* the named repartition's source once made */
};

/* Allocates a handle owned by the topology. */
static void *handle(rill_topology_t *topo, size_t size)
{
    void *p = rill_calloc(1, size);
    if (!p || rill_topology_attach(topo, p, rill_free)) {
        rill_free(p);
        rill_topology_fail(topo, "out of memory building the topology");
        return NULL;
    }
    return p;
}

/* Keeps a serde made here alive as long as the topology. */
static rill_serde_t *own_serde(rill_topology_t *topo, rill_serde_t *serde)
{
    if (!serde) {
        rill_topology_fail(topo, "out of memory making a serde");
        return NULL;
    }
    if (rill_topology_attach(topo, serde, (void (*)(void *))rill_serde_unref)) {
        rill_serde_unref(serde);
        rill_topology_fail(topo, "out of memory building the topology");
        return NULL;
    }
    return serde;
}

/* Adds a stateful processor called name under parent; returns its index. */
static int add_sop(rill_topology_t *topo, const char *name, const rill_sop_spec_t *spec, int parent)
{
    const char *parents[] = {rill_topology_node_name(topo, parent), NULL};
    void *arg = rill_sop_arg_new(spec);
    if (!arg)
        return rill_topology_fail(topo, "out of memory adding '%s'", name);
    int idx =
        rill_topology_add_processor(topo, name, rill_sop_ops(), arg, rill_sop_arg_free, parents);
    if (idx < 0)
        rill_sop_arg_free(arg);
    return idx;
}

const char *rill__add_store(rill_topology_t *topo, const char *store, const char *node,
                            rill_store_type_t type, const rill_materialized_t *m, rill_serde_t *ks,
                            rill_serde_t *vs, int64_t retention)
{
    rill_store_spec_t spec = {
        .name = store,
        .type = type,
        .backend = m ? m->backend : RILL_STORE_DEFAULT,
        .no_logging = m && m->no_logging,
        .no_caching = m && m->no_caching,
        .retention_ms = retention,
        .key_serde = ks,
        .value_serde = vs,
        .internal = !(m && m->name),
    };
    const char *procs[] = {node, NULL};
    int i = rill_topology_add_store(topo, &spec, procs);
    return i < 0 ? NULL : rill_topology_store(topo, i, NULL)->name;
}

static rill_table_t *table_new(rill_topology_t *topo, int node, rill_serde_t *ks, rill_serde_t *vs,
                               const char *store)
{
    if (node < 0)
        return NULL;
    rill_table_t *t = handle(topo, sizeof *t);
    if (t)
        *t = (rill_table_t){topo, node, ks, vs, store, false, {0}, false};
    return t;
}

/* ---- grouping ---- */

static rill_grouped_t *group(rill_stream_t *stream, int node, bool repartition,
                             const rill_grouped_opts_t *opts, rill_serde_t *ks)
{
    rill_grouped_t *g = handle(stream->topo, sizeof *g);
    if (!g)
        return NULL;
    g->topo = stream->topo;
    g->node = node;
    g->key_serde = opts && opts->key_serde ? opts->key_serde : ks;
    g->value_serde = opts && opts->value_serde ? opts->value_serde : stream->value_serde;
    g->repartition = repartition;
    g->repartitioned = -1;
    if (opts && opts->name) {
        snprintf(g->name_buf, sizeof g->name_buf, "%s", opts->name);
        g->name = g->name_buf;
    }
    return g;
}

rill_grouped_t *rill_stream_group_by_key(rill_stream_t *stream, const rill_grouped_opts_t *opts)
{
    if (!stream)
        return NULL;
    return group(stream, stream->node, stream->key_changed, opts, stream->key_serde);
}

rill_grouped_t *rill_stream_group_by(rill_stream_t *stream, rill_map_one_fn fn, void *ud,
                                     const rill_grouped_opts_t *opts)
{
    if (!stream)
        return NULL;
    rill_stream_t *keyed = rill_stream_select_key(stream, fn, ud);
    if (!keyed)
        return NULL;
    return group(keyed, keyed->node, true, opts, NULL);
}

/* The node aggregations of g hang under: g's node, or the source of a repartition named after
 * the store (so the topic is "<application.id>-<store>-repartition", as in Kafka Streams). */
static int grouped_parent(rill_grouped_t *g, const char *store)
{
    if (!g->repartition)
        return g->node;
    if (g->name && g->repartitioned >= 0)
        return g->repartitioned;
    char source[300];
    const char *name = g->name ? g->name : store;
    snprintf(source, sizeof source, "%s-repartition-source", name);
    const char *parents[] = {rill_topology_node_name(g->topo, g->node), NULL};
    rill_sink_opts_t o = {.key_serde = g->key_serde, .value_serde = g->value_serde};
    char sink[300];
    snprintf(sink, sizeof sink, "%s", name);
    int idx = rill_topology_add_repartition(g->topo, sink, source, 0, &o, parents);
    if (g->name)
        g->repartitioned = idx;
    return idx;
}

static bool windows_ok(rill_topology_t *topo, const rill_windows_t *w)
{
    const char *bad = NULL;
    if (w->grace_ms < 0)
        bad = "the grace period is negative";
    else if ((w->kind == RILL_WINDOWS_TUMBLING || w->kind == RILL_WINDOWS_HOPPING ||
              w->kind == RILL_WINDOWS_SLIDING) &&
             w->size_ms <= 0)
        bad = "the window size must be positive";
    else if (w->kind == RILL_WINDOWS_HOPPING && (w->advance_ms <= 0 || w->advance_ms > w->size_ms))
        bad = "a hopping window's advance must be positive and at most its size";
    else if (w->kind == RILL_WINDOWS_SESSION && w->gap_ms <= 0)
        bad = "a session window's gap must be positive";
    else if (w->kind < RILL_WINDOWS_NONE || w->kind > RILL_WINDOWS_SESSION)
        bad = "unknown window kind";
    if (bad)
        rill_topology_fail(topo, "invalid windows: %s", bad);
    return bad == NULL;
}

/* The aggregations of grouped streams, windowed (w not NULL) or not. */
static rill_table_t *aggregate(rill_grouped_t *g, const rill_windows_t *w, rill_sop_spec_t spec,
                               const rill_materialized_t *m, rill_serde_t *default_vs,
                               const char *what)
{
    rill_topology_t *topo = g->topo;
    if (w && !windows_ok(topo, w))
        return NULL;
    char store_gen[96], node[96], prefix[64];
    snprintf(prefix, sizeof prefix, "KSTREAM-%s-STATE-STORE", what);
    const char *store =
        m && m->name ? m->name : rill_topology_next_name(topo, prefix, store_gen, sizeof store_gen);
    int parent = grouped_parent(g, store);
    if (parent < 0)
        return NULL;
    snprintf(prefix, sizeof prefix, "KSTREAM-%s", what);
    rill_topology_next_name(topo, prefix, node, sizeof node);
    rill_serde_t *ks = m && m->key_serde ? m->key_serde : g->key_serde;
    rill_serde_t *vs = m && m->value_serde ? m->value_serde : default_vs;
    rill_store_type_t type = RILL_STORE_KV;
    int64_t retention = 0;
    rill_serde_t *table_ks = ks;
    if (w) {
        spec.windows = *w;
        int64_t span = w->kind == RILL_WINDOWS_SESSION ? w->gap_ms : w->size_ms;
        retention = span + w->grace_ms;
        if (m && m->retention_ms) {
            if (m->retention_ms < retention) {
                rill_topology_fail(topo,
                                   "the retention of store '%s' (%lld ms) must be at least the "
                                   "window size plus grace (%lld ms)",
                                   store, (long long)m->retention_ms, (long long)retention);
                return NULL;
            }
            retention = m->retention_ms;
        }
        type = w->kind == RILL_WINDOWS_SESSION ? RILL_STORE_SESSION : RILL_STORE_WINDOW;
        if (!ks) {
            rill_topology_fail(topo,
                               "windowed aggregation '%s' needs the key serde (to make its "
                               "windowed key serde): give it to the source, the grouping or "
                               "the materialized options",
                               node);
            return NULL;
        }
        table_ks =
            own_serde(topo, type == RILL_STORE_SESSION ? rill_serde_session_windowed(ks)
                                                       : rill_serde_time_windowed(ks, w->size_ms));
        if (!table_ks)
            return NULL;
    }
    spec.op = RILL_SOP_AGGREGATE;
    spec.store = store;
    spec.key_serde = ks;
    spec.value_serde = vs;
    int idx = add_sop(topo, node, &spec, parent);
    if (idx < 0)
        return NULL;
    const char *sname = rill__add_store(topo, store, node, type, m, ks, vs, retention);
    if (!sname)
        return NULL;
    rill_table_t *t = table_new(topo, idx, table_ks, vs, sname);
    if (t && w) {
        t->windowed = true;
        t->windows = *w;
    }
    return t;
}

rill_table_t *rill_grouped_count(rill_grouped_t *g, const rill_materialized_t *m)
{
    if (!g)
        return NULL;
    rill_sop_spec_t spec = {.agg = RILL_AGG_COUNT};
    return aggregate(g, NULL, spec, m, rill_serde_int64(), "AGGREGATE");
}

rill_table_t *rill_grouped_reduce(rill_grouped_t *g, rill_reducer_fn fn, void *ud,
                                  const rill_materialized_t *m)
{
    if (!g)
        return NULL;
    if (!fn) {
        rill_topology_fail(g->topo, "reduce has no reducer function");
        return NULL;
    }
    rill_sop_spec_t spec = {.agg = RILL_AGG_REDUCE, .reduce_adder = fn, .ud = ud};
    return aggregate(g, NULL, spec, m, g->value_serde, "REDUCE");
}

rill_table_t *rill_grouped_aggregate(rill_grouped_t *g, rill_initializer_fn init,
                                     rill_aggregator_fn adder, void *ud,
                                     const rill_materialized_t *m)
{
    if (!g)
        return NULL;
    if (!init || !adder) {
        rill_topology_fail(g->topo, "aggregate needs an initializer and an adder");
        return NULL;
    }
    rill_sop_spec_t spec = {
        .agg = RILL_AGG_AGGREGATE, .initializer = init, .adder = adder, .ud = ud};
    return aggregate(g, NULL, spec, m, NULL, "AGGREGATE");
}

/* ---- windows ---- */

rill_windows_t rill_windows_tumbling(int64_t size_ms, int64_t grace_ms)
{
    return (rill_windows_t){RILL_WINDOWS_TUMBLING, size_ms, size_ms, 0, grace_ms};
}

rill_windows_t rill_windows_hopping(int64_t size_ms, int64_t advance_ms, int64_t grace_ms)
{
    return (rill_windows_t){RILL_WINDOWS_HOPPING, size_ms, advance_ms, 0, grace_ms};
}

rill_windows_t rill_windows_sliding(int64_t time_difference_ms, int64_t grace_ms)
{
    return (rill_windows_t){RILL_WINDOWS_SLIDING, time_difference_ms, 0, 0, grace_ms};
}

rill_windows_t rill_windows_session(int64_t gap_ms, int64_t grace_ms)
{
    return (rill_windows_t){RILL_WINDOWS_SESSION, 0, 0, gap_ms, grace_ms};
}

rill_windowed_stream_t *rill_grouped_windowed_by(rill_grouped_t *g, rill_windows_t windows)
{
    if (!g)
        return NULL;
    rill_windowed_stream_t *ws = handle(g->topo, sizeof *ws);
    if (ws) {
        ws->grouped = g;
        ws->windows = windows;
    }
    return ws;
}

rill_table_t *rill_windowed_count(rill_windowed_stream_t *ws, const rill_materialized_t *m)
{
    if (!ws)
        return NULL;
    rill_sop_spec_t spec = {.agg = RILL_AGG_COUNT};
    return aggregate(ws->grouped, &ws->windows, spec, m, rill_serde_int64(), "AGGREGATE");
}

rill_table_t *rill_windowed_reduce(rill_windowed_stream_t *ws, rill_reducer_fn fn, void *ud,
                                   const rill_materialized_t *m)
{
    if (!ws)
        return NULL;
    if (!fn) {
        rill_topology_fail(ws->grouped->topo, "reduce has no reducer function");
        return NULL;
    }
    rill_sop_spec_t spec = {.agg = RILL_AGG_REDUCE, .reduce_adder = fn, .ud = ud};
    return aggregate(ws->grouped, &ws->windows, spec, m, ws->grouped->value_serde, "REDUCE");
}

rill_table_t *rill_windowed_aggregate(rill_windowed_stream_t *ws, rill_initializer_fn init,
                                      rill_aggregator_fn adder, rill_merger_fn merger, void *ud,
                                      const rill_materialized_t *m)
{
    if (!ws)
        return NULL;
    if (!init || !adder || (ws->windows.kind == RILL_WINDOWS_SESSION && !merger)) {
        rill_topology_fail(ws->grouped->topo, "a windowed aggregate needs an initializer and an "
                                              "adder (and a merger for session windows)");
        return NULL;
    }
    rill_sop_spec_t spec = {
        .agg = RILL_AGG_AGGREGATE, .initializer = init, .adder = adder, .merger = merger, .ud = ud};
    return aggregate(ws->grouped, &ws->windows, spec, m, NULL, "AGGREGATE");
}

/* ---- tables ---- */

const char *rill__table_store_name(rill_topology_t *topo, const char *topic,
                                   const rill_materialized_t *m, char *buf, size_t size)
{
    if (m && m->name)
        return m->name;
    char gen[96];
    rill_topology_next_name(topo, "STATE-STORE", gen, sizeof gen);
    snprintf(buf, size, "%s-%s", topic, gen);
    return buf;
}

const char *rill__table_store(rill_table_t *t)
{
    if (t->store)
        return t->store;
    /* Not materialized (a filter or map_values without a store name): a table source node
     * under it keeps its rows, as the table's value getter does in Kafka Streams. */
    char node[96], store[160];
    rill_topology_next_name(t->topo, "KTABLE-SOURCE", node, sizeof node);
    char gen[96];
    rill_topology_next_name(t->topo, "STATE-STORE", gen, sizeof gen);
    snprintf(store, sizeof store, "%s-%s", rill_topology_node_name(t->topo, t->node), gen);
    rill_sop_spec_t spec = {.op = RILL_SOP_TABLE_SOURCE,
                            .store = store,
                            .key_serde = t->key_serde,
                            .value_serde = t->value_serde};
    if (add_sop(t->topo, node, &spec, t->node) < 0)
        return NULL;
    t->store =
        rill__add_store(t->topo, store, node, RILL_STORE_KV, NULL, t->key_serde, t->value_serde, 0);
    return t->store;
}

rill_table_t *rill__table_merge(rill_topology_t *topo, const char *name, const char *const *parents,
                                rill_serde_t *ks, rill_serde_t *vs, const rill_materialized_t *m)
{
    const char *store = m && m->name ? m->name : NULL;
    int idx;
    if (!store) {
        idx = rill__add_pass(topo, name, parents);
    } else {
        if (m->key_serde)
            ks = m->key_serde;
        if (m->value_serde)
            vs = m->value_serde;
        rill_sop_spec_t spec = {
            .op = RILL_SOP_TABLE_SOURCE, .store = store, .key_serde = ks, .value_serde = vs};
        void *arg = rill_sop_arg_new(&spec);
        if (!arg)
            return NULL;
        idx = rill_topology_add_processor(topo, name, rill_sop_ops(), arg, rill_sop_arg_free,
                                          parents);
        if (idx < 0) {
            rill_sop_arg_free(arg);
            return NULL;
        }
        if (!(store = rill__add_store(topo, store, name, RILL_STORE_KV, m, ks, vs, 0)))
            return NULL;
    }
    return table_new(topo, idx, ks, vs, store);
}

rill_table_t *rill_table_from(rill_topology_t *topo, const char *topic,
                              const rill_source_opts_t *opts, const rill_materialized_t *m)
{
    rill_stream_t *src = rill_stream_from_topic(topo, topic, opts);
    if (!src)
        return NULL;
    char store_gen[300], node[96];
    const char *store = rill__table_store_name(topo, topic, m, store_gen, sizeof store_gen);
    rill_topology_next_name(topo, "KTABLE-SOURCE", node, sizeof node);
    rill_serde_t *ks = m && m->key_serde ? m->key_serde : src->key_serde;
    rill_serde_t *vs = m && m->value_serde ? m->value_serde : src->value_serde;
    rill_sop_spec_t spec = {
        .op = RILL_SOP_TABLE_SOURCE, .store = store, .key_serde = ks, .value_serde = vs};
    bool versioned = m && m->versioned;
    if (versioned && m->history_retention_ms <= 0) {
        rill_topology_fail(topo,
                           "table '%s' of topic '%s' is versioned: it needs a positive "
                           "history_retention_ms",
                           node, topic);
        return NULL;
    }
    int idx = add_sop(topo, node, &spec, src->node);
    if (idx < 0)
        return NULL;
    const char *sname =
        rill__add_store(topo, store, node, versioned ? RILL_STORE_VERSIONED : RILL_STORE_KV, m, ks,
                        vs, versioned ? m->history_retention_ms : 0);
    rill_table_t *t = sname ? table_new(topo, idx, ks, vs, sname) : NULL;
    if (t)
        t->versioned = versioned;
    return t;
}

/* A table operation that may be materialized (m with a name). */
static rill_table_t *table_op(rill_table_t *t, const char *prefix, rill_sop_spec_t spec,
                              const rill_materialized_t *m, rill_serde_t *vs)
{
    char node[96];
    rill_topology_next_name(t->topo, prefix, node, sizeof node);
    const char *store = m && m->name ? m->name : NULL;
    rill_serde_t *ks = m && m->key_serde ? m->key_serde : t->key_serde;
    if (m && m->value_serde)
        vs = m->value_serde;
    spec.store = store;
    spec.key_serde = ks;
    spec.value_serde = vs;
    if (m && m->versioned) {
        rill_topology_fail(t->topo, "'%s': only rill_table_from materializes a versioned table",
                           node);
        return NULL;
    }
    int idx = add_sop(t->topo, node, &spec, t->node);
    if (idx < 0)
        return NULL;
    const char *sname = NULL;
    if (store && !(sname = rill__add_store(t->topo, store, node, RILL_STORE_KV, m, ks, vs, 0)))
        return NULL;
    rill_table_t *out = table_new(t->topo, idx, ks, vs, sname);
    if (out) {
        out->windowed = t->windowed;
        out->windows = t->windows;
    }
    return out;
}

static rill_table_t *filter(rill_table_t *t, rill_predicate_fn pred, void *ud, bool not,
                            const rill_materialized_t *m)
{
    if (!t)
        return NULL;
    if (!pred) {
        rill_topology_fail(t->topo, "table filter has no predicate");
        return NULL;
    }
    rill_sop_spec_t spec = {.op = RILL_SOP_TABLE_FILTER, .pred = pred, .filter_not = not, .ud = ud};
    return table_op(t, "KTABLE-FILTER", spec, m, t->value_serde);
}

rill_table_t *rill_table_filter(rill_table_t *t, rill_predicate_fn pred, void *ud,
                                const rill_materialized_t *m)
{
    return filter(t, pred, ud, false, m);
}

rill_table_t *rill_table_filter_not(rill_table_t *t, rill_predicate_fn pred, void *ud,
                                    const rill_materialized_t *m)
{
    return filter(t, pred, ud, true, m);
}

rill_table_t *rill_table_map_values(rill_table_t *t, rill_map_one_fn fn, void *ud,
                                    const rill_materialized_t *m)
{
    if (!t)
        return NULL;
    if (!fn) {
        rill_topology_fail(t->topo, "table map_values has no function");
        return NULL;
    }
    rill_sop_spec_t spec = {.op = RILL_SOP_TABLE_MAP_VALUES, .map = fn, .ud = ud};
    return table_op(t, "KTABLE-MAPVALUES", spec, m, NULL);
}

rill_stream_t *rill_table_to_stream(rill_table_t *t)
{
    if (!t)
        return NULL;
    char node[96];
    rill_topology_next_name(t->topo, "KTABLE-TOSTREAM", node, sizeof node);
    rill_sop_spec_t spec = {.op = RILL_SOP_TO_STREAM};
    int idx = add_sop(t->topo, node, &spec, t->node);
    return rill__stream_new(t->topo, idx, t->key_serde, t->value_serde);
}

const char *rill_table_store_name(const rill_table_t *t)
{
    return t ? t->store : NULL;
}

rill_grouped_table_t *rill_table_group_by(rill_table_t *t, rill_map_fn fn, void *ud,
                                          const rill_grouped_opts_t *opts)
{
    if (!t)
        return NULL;
    if (!fn) {
        rill_topology_fail(t->topo, "table group_by has no function");
        return NULL;
    }
    char node[96];
    rill_topology_next_name(t->topo, "KTABLE-SELECT", node, sizeof node);
    rill_sop_spec_t spec = {.op = RILL_SOP_TABLE_REGROUP, .regroup = fn, .ud = ud};
    int idx = add_sop(t->topo, node, &spec, t->node);
    if (idx < 0)
        return NULL;
    rill_grouped_table_t *gt = handle(t->topo, sizeof *gt);
    if (!gt)
        return NULL;
    gt->topo = t->topo;
    gt->node = idx;
    gt->repartitioned = -1;
    gt->key_serde = opts && opts->key_serde ? opts->key_serde : NULL;
    gt->value_serde = opts && opts->value_serde ? opts->value_serde : NULL;
    if (opts && opts->name)
        snprintf(gt->name_buf, sizeof gt->name_buf, "%s", opts->name);
    return gt;
}

static rill_table_t *table_aggregate(rill_grouped_table_t *gt, rill_sop_spec_t spec,
                                     const rill_materialized_t *m, rill_serde_t *default_vs,
                                     const char *what)
{
    rill_topology_t *topo = gt->topo;
    if (!gt->value_serde) {
        rill_topology_fail(topo, "a table's group_by needs the value serde of the regrouped "
                                 "rows (rill_grouped_opts_t.value_serde) for its repartition "
                                 "topic");
        return NULL;
    }
    char store_gen[96], node[96], prefix[64], source[300];
    snprintf(prefix, sizeof prefix, "KTABLE-%s-STATE-STORE", what);
    const char *store =
        m && m->name ? m->name : rill_topology_next_name(topo, prefix, store_gen, sizeof store_gen);
    const char *name = gt->name_buf[0] ? gt->name_buf : store;
    snprintf(source, sizeof source, "%s-repartition-source", name);
    int parent = gt->name_buf[0] ? gt->repartitioned : -1;
    if (parent < 0) {
        rill_serde_t *change = own_serde(topo, rill_serde_change(gt->value_serde));
        if (!change)
            return NULL;
        rill_sink_opts_t o = {.key_serde = gt->key_serde, .value_serde = change};
        const char *parents[] = {rill_topology_node_name(topo, gt->node), NULL};
        parent = rill_topology_add_repartition(topo, name, source, 0, &o, parents);
        if (parent < 0)
            return NULL;
        if (gt->name_buf[0])
            gt->repartitioned = parent;
    }
    snprintf(prefix, sizeof prefix, "KTABLE-%s", what);
    rill_topology_next_name(topo, prefix, node, sizeof node);
    rill_serde_t *ks = m && m->key_serde ? m->key_serde : gt->key_serde;
    rill_serde_t *vs = m && m->value_serde ? m->value_serde : default_vs;
    spec.op = RILL_SOP_TABLE_AGGREGATE;
    spec.store = store;
    spec.key_serde = ks;
    spec.value_serde = vs;
    int idx = add_sop(topo, node, &spec, parent);
    if (idx < 0)
        return NULL;
    const char *sname = rill__add_store(topo, store, node, RILL_STORE_KV, m, ks, vs, 0);
    return sname ? table_new(topo, idx, ks, vs, sname) : NULL;
}

rill_table_t *rill_grouped_table_count(rill_grouped_table_t *gt, const rill_materialized_t *m)
{
    if (!gt)
        return NULL;
    rill_sop_spec_t spec = {.agg = RILL_AGG_COUNT};
    return table_aggregate(gt, spec, m, rill_serde_int64(), "AGGREGATE");
}

rill_table_t *rill_grouped_table_reduce(rill_grouped_table_t *gt, rill_reducer_fn adder,
                                        rill_reducer_fn subtractor, void *ud,
                                        const rill_materialized_t *m)
{
    if (!gt)
        return NULL;
    if (!adder || !subtractor) {
        rill_topology_fail(gt->topo, "a table reduce needs an adder and a subtractor");
        return NULL;
    }
    rill_sop_spec_t spec = {
        .agg = RILL_AGG_REDUCE, .reduce_adder = adder, .reduce_subtractor = subtractor, .ud = ud};
    return table_aggregate(gt, spec, m, gt->value_serde, "REDUCE");
}

rill_table_t *rill_grouped_table_aggregate(rill_grouped_table_t *gt, rill_initializer_fn init,
                                           rill_aggregator_fn adder, rill_aggregator_fn subtractor,
                                           void *ud, const rill_materialized_t *m)
{
    if (!gt)
        return NULL;
    if (!init || !adder || !subtractor) {
        rill_topology_fail(gt->topo,
                           "a table aggregate needs an initializer, an adder and a subtractor");
        return NULL;
    }
    rill_sop_spec_t spec = {.agg = RILL_AGG_AGGREGATE,
                            .initializer = init,
                            .adder = adder,
                            .subtractor = subtractor,
                            .ud = ud};
    return table_aggregate(gt, spec, m, NULL, "AGGREGATE");
}

/* ---- suppress ---- */

rill_table_t *rill_table_suppress(rill_table_t *t, const rill_suppressed_t *sup)
{
    if (!t)
        return NULL;
    if (!sup) {
        rill_topology_fail(t->topo, "suppress needs its options");
        return NULL;
    }
    if (sup->until_window_closes && !t->windowed) {
        rill_topology_fail(t->topo, "suppress until the window closes needs a windowed table");
        return NULL;
    }
    if (!sup->until_window_closes && sup->time_limit_ms < 0) {
        rill_topology_fail(t->topo, "suppress's time limit is negative");
        return NULL;
    }
    char node_gen[96], store[300];
    const char *node =
        sup->name ? sup->name
                  : rill_topology_next_name(t->topo, "KTABLE-SUPPRESS", node_gen, sizeof node_gen);
    if (sup->name) {
        snprintf(store, sizeof store, "%s-store", sup->name);
    } else {
        char gen[96];
        rill_topology_next_name(t->topo, "KTABLE-SUPPRESS-STATE-STORE", gen, sizeof gen);
        snprintf(store, sizeof store, "%s", gen);
    }
    rill_sop_spec_t spec = {
        .op = RILL_SOP_SUPPRESS,
        .store = store,
        .key_serde = t->key_serde,
        .value_serde = t->value_serde,
        .windows = t->windows,
        .until_window_closes = sup->until_window_closes,
        .time_limit_ms = sup->time_limit_ms,
        .max_records = sup->max_records,
        .max_bytes = sup->max_bytes,
        .shut_down_when_full = sup->shut_down_when_full,
    };
    int idx = add_sop(t->topo, node, &spec, t->node);
    if (idx < 0)
        return NULL;
    /* The buffer: in memory (it is small and read whole on start), logged, never cached. */
    rill_materialized_t m = {.backend = RILL_STORE_IN_MEMORY, .no_caching = true};
    if (!rill__add_store(t->topo, store, node, RILL_STORE_KV, &m, t->key_serde, t->value_serde, 0))
        return NULL;
    rill_table_t *out = table_new(t->topo, idx, t->key_serde, t->value_serde, NULL);
    if (out) {
        out->windowed = t->windowed;
        out->windows = t->windows;
    }
    return out;
}
