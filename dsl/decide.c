/*
 * Event-sourced aggregates in the DSL (rill_stream_decide): the decide processor
 * (rill_decide_ops) named KSTREAM-DECIDE-<n> (or opts->name), its key-value store of the
 * aggregates' states KSTREAM-DECIDE-STATE-STORE-<n> (or opts->store), a sink of the events to
 * opts->event_topic and a sink "<node>-replies" of the replies to opts->reply_topic. When the key
 * may have changed, a repartition topic named after the store comes first, as aggregations do,
 * so each aggregate's commands meet in one task. The node forwards the events to every child
 * but the reply sink, so the stream returned is the events'.
 */
#include "dsl_int.h"

#include <stdio.h>

/* Why the call cannot make a decide node, or NULL. */
static const char *decide_problem(rill_decide_fn decide, rill_evolve_fn evolve,
                                  const rill_decide_opts_t *opts)
{
    if (!decide)
        return "its decide function is NULL";
    if (!evolve)
        return "its evolve function is NULL";
    if (!opts || !opts->event_topic || !opts->event_topic[0])
        return "it has no event topic (opts->event_topic)";
    if (opts->reply_topic && !opts->reply_topic[0])
        return "its reply topic is empty";
    if (opts->correlation_header && !opts->correlation_header[0])
        return "its correlation header name is empty";
    if (opts->expected_version_header && !opts->expected_version_header[0])
        return "its expected-version header name is empty";
    return NULL;
}

rill_stream_t *rill_stream_decide(rill_stream_t *commands, rill_decide_fn decide,
                                  rill_evolve_fn evolve, void *ud, const rill_decide_opts_t *opts)
{
    if (!commands)
        return NULL;
    rill_topology_t *topo = commands->topo;
    const char *after = rill_topology_node_name(topo, commands->node);
    const char *bad = decide_problem(decide, evolve, opts);
    if (bad) {
        rill_topology_fail(topo, "decide after '%s': %s", after, bad);
        return NULL;
    }
    char store_gen[96], node_gen[96], replies[300];
    const char *store = opts->store ? opts->store
                                    : rill_topology_next_name(topo, "KSTREAM-DECIDE-STATE-STORE",
                                                              store_gen, sizeof store_gen);
    const char *node =
        opts->name ? opts->name
                   : rill_topology_next_name(topo, "KSTREAM-DECIDE", node_gen, sizeof node_gen);
    snprintf(replies, sizeof replies, "%s-replies", node);
    rill_serde_t *ks = commands->key_serde;
    int parent = rill__keyed_node(commands, store, ks, commands->value_serde);
    if (parent < 0)
        return rill__stream_new(topo, parent, NULL, NULL);
    rill_decide_spec_t spec = {
        .decide = decide,
        .evolve = evolve,
        .ud = ud,
        .store = store,
        .reply_node = opts->reply_topic ? replies : NULL,
        .correlation_header =
            opts->correlation_header ? opts->correlation_header : "correlation-id",
        .expected_version_header =
            opts->expected_version_header ? opts->expected_version_header : "expected-version",
        .key_serde = ks,
    };
    int idx = rill__add_built_in(topo, node, rill_decide_ops(), rill_decide_arg_new(&spec),
                                 rill_decide_arg_free, parent);
    if (idx < 0)
        return rill__stream_new(topo, idx, NULL, NULL);
    /* The state is the version and the user's bytes (operators/decide.c): bytes to a query. */
    rill_materialized_t m = {
        .name = opts->store, .backend = opts->backend, .no_caching = opts->no_caching};
    if (!rill__add_store(topo, store, node, RILL_STORE_KV, &m, ks, rill_serde_bytes(), 0))
        return NULL;
    if (opts->reply_topic) {
        const char *decider[] = {node, NULL};
        rill_sink_opts_t o = {.key_serde = ks, .value_serde = rill_serde_string()};
        int rc = rill_topology_add_sink(topo, replies, opts->reply_topic, NULL, NULL, &o, decider);
        if (rc < 0)
            return rill__stream_new(topo, rc, NULL, NULL);
    }
    rill_stream_t *events = rill__stream_new(topo, idx, ks, opts->event_serde);
    if (events && rill_stream_to(events, opts->event_topic, NULL))
        return NULL;
    return events;
}
