/*
 * The Streams DSL: each call adds one node to the topology under the stream's node, with a
 * generated KSTREAM-<OP>-<counter> name like Kafka Streams', and returns a stream handle on it.
 * Handles are owned by the topology. The stream remembers the serdes that still describe its
 * records, so sinks and repartitions default to them, as Kafka Streams does.
 */
#include "dsl_int.h"

#include <stdio.h>
#include <string.h>

struct rill_split {
    rill_topology_t *topo;
    int node;
    void *arg; /* the branch processor's arg, owned by the topology */
    char prefix[200];
    int count;
    rill_serde_t *key_serde, *value_serde;
    bool key_changed;
};

rill_stream_t *rill__stream_new(rill_topology_t *topo, int node, rill_serde_t *ks, rill_serde_t *vs)
{
    if (node < 0) {
        /* Whatever failed, the build must fail too, not run a topology missing a node. */
        rill_topology_fail(topo, "a DSL operation failed: %s", rill_strerror(node));
        return NULL;
    }
    rill_stream_t *s = rill_calloc(1, sizeof *s);
    if (!s || rill_topology_attach(topo, s, rill_free)) {
        rill_free(s);
        rill_topology_fail(topo, "out of memory building the topology");
        return NULL;
    }
    s->topo = topo;
    s->node = node;
    s->key_serde = ks;
    s->value_serde = vs;
    return s;
}

int rill__add_built_in(rill_topology_t *topo, const char *node, const rill_processor_ops *ops,
                       void *arg, void (*arg_free)(void *), int parent)
{
    const char *parents[] = {rill_topology_node_name(topo, parent), NULL};
    int idx =
        arg ? rill_topology_add_processor(topo, node, ops, arg, arg_free, parents) : RILL_ENOMEM;
    if (idx < 0)
        arg_free(arg); /* ownership moves only on success */
    return idx;
}

int rill__keyed_node(rill_stream_t *s, const char *name, rill_serde_t *ks, rill_serde_t *vs)
{
    if (!s->key_changed)
        return s->node;
    char source[320];
    snprintf(source, sizeof source, "%s-repartition-source", name);
    const char *parents[] = {rill_topology_node_name(s->topo, s->node), NULL};
    rill_sink_opts_t o = {.key_serde = ks, .value_serde = vs};
    return rill_topology_add_repartition(s->topo, name, source, 0, &o, parents);
}

static int add_op(rill_stream_t *parent, const char *prefix, rill_op_t op, void (*fn)(void),
                  void *ud)
{
    char name[64];
    const char *parents[] = {rill_topology_node_name(parent->topo, parent->node), NULL};
    rill_topology_next_name(parent->topo, prefix, name, sizeof name);
    if (!fn && op != RILL_OP_PASS && op != RILL_OP_BRANCH)
        return rill_topology_fail(parent->topo, "%s after '%s' has no function", prefix,
                                  parents[0]);
    void *arg = rill_op_arg_new(op, fn, ud);
    if (!arg)
        return RILL_ENOMEM;
    int idx = rill_topology_add_processor(parent->topo, name, rill_op_ops(op), arg,
                                          rill_op_arg_free, parents);
    if (idx < 0)
        rill_op_arg_free(arg);
    return idx;
}

/* Adds a processor that forwards records unchanged (merge, branch outputs). */
int rill__add_pass(rill_topology_t *topo, const char *name, const char *const *parents)
{
    void *arg = rill_op_arg_new(RILL_OP_PASS, NULL, NULL);
    if (!arg)
        return RILL_ENOMEM;
    int idx = rill_topology_add_processor(topo, name, rill_op_ops(RILL_OP_PASS), arg,
                                          rill_op_arg_free, parents);
    if (idx < 0)
        rill_op_arg_free(arg); /* ownership moves only on success */
    return idx;
}

rill_stream_t *rill_stream_from(rill_topology_t *topo, const char *const *topics,
                                const rill_source_opts_t *opts)
{
    if (!topo)
        return NULL;
    char name[64];
    rill_topology_next_name(topo, "KSTREAM-SOURCE", name, sizeof name);
    int idx = rill_topology_add_source(topo, name, topics, NULL, opts);
    return rill__stream_new(topo, idx, opts ? opts->key_serde : NULL,
                            opts ? opts->value_serde : NULL);
}

rill_stream_t *rill_stream_from_topic(rill_topology_t *topo, const char *topic,
                                      const rill_source_opts_t *opts)
{
    const char *topics[] = {topic, NULL};
    if (!topic) {
        rill_topology_fail(topo, "rill_stream_from_topic: topic is NULL");
        return NULL;
    }
    return rill_stream_from(topo, topics, opts);
}

rill_stream_t *rill_stream_from_pattern(rill_topology_t *topo, const char *pattern,
                                        const rill_source_opts_t *opts)
{
    if (!topo)
        return NULL;
    if (!pattern) {
        rill_topology_fail(topo, "rill_stream_from_pattern: pattern is NULL");
        return NULL;
    }
    char name[64];
    rill_topology_next_name(topo, "KSTREAM-SOURCE", name, sizeof name);
    int idx = rill_topology_add_source(topo, name, NULL, pattern, opts);
    return rill__stream_new(topo, idx, opts ? opts->key_serde : NULL,
                            opts ? opts->value_serde : NULL);
}

rill_stream_t *rill_stream_as(rill_stream_t *stream, const char *name)
{
    if (!stream)
        return NULL;
    const char *old = rill_topology_node_name(stream->topo, stream->node);
    if (!name || rill_topology_rename(stream->topo, old, name) < 0)
        rill_topology_fail(stream->topo, "cannot name node '%s' '%s'", old, name ? name : "(null)");
    return stream;
}

const char *rill_stream_name(const rill_stream_t *stream)
{
    return stream ? rill_topology_node_name(stream->topo, stream->node) : NULL;
}

#define STREAM_OP(fname, fntype, prefix, op, keep_key, keep_value)                                 \
    rill_stream_t *fname(rill_stream_t *stream, fntype fn, void *ud)                               \
    {                                                                                              \
        if (!stream)                                                                               \
            return NULL;                                                                           \
        int idx = add_op(stream, prefix, op, (void (*)(void))fn, ud);                              \
        rill_stream_t *out =                                                                       \
            rill__stream_new(stream->topo, idx, keep_key ? stream->key_serde : NULL,               \
                             keep_value ? stream->value_serde : NULL);                             \
        if (out)                                                                                   \
            out->key_changed = stream->key_changed || !keep_key;                                   \
        return out;                                                                                \
    }

STREAM_OP(rill_stream_filter, rill_predicate_fn, "KSTREAM-FILTER", RILL_OP_FILTER, 1, 1)
STREAM_OP(rill_stream_filter_not, rill_predicate_fn, "KSTREAM-FILTER", RILL_OP_FILTER_NOT, 1, 1)
STREAM_OP(rill_stream_map, rill_map_fn, "KSTREAM-MAP", RILL_OP_MAP, 0, 0)
STREAM_OP(rill_stream_map_values, rill_map_one_fn, "KSTREAM-MAPVALUES", RILL_OP_MAP_VALUES, 1, 0)
STREAM_OP(rill_stream_select_key, rill_map_one_fn, "KSTREAM-KEY-SELECT", RILL_OP_SELECT_KEY, 0, 1)
STREAM_OP(rill_stream_flat_map, rill_flat_map_fn, "KSTREAM-FLATMAP", RILL_OP_FLAT_MAP, 0, 0)
STREAM_OP(rill_stream_flat_map_values, rill_flat_map_fn, "KSTREAM-FLATMAPVALUES",
          RILL_OP_FLAT_MAP_VALUES, 1, 0)
STREAM_OP(rill_stream_peek, rill_action_fn, "KSTREAM-PEEK", RILL_OP_PEEK, 1, 1)

int rill_stream_foreach(rill_stream_t *stream, rill_action_fn fn, void *ud)
{
    if (!stream)
        return RILL_EINVAL;
    int idx = add_op(stream, "KSTREAM-FOREACH", RILL_OP_FOREACH, (void (*)(void))fn, ud);
    return idx < 0 ? idx : 0;
}

rill_stream_t *rill_stream_merge(rill_stream_t *a, rill_stream_t *b)
{
    if (!a || !b)
        return NULL;
    if (a->topo != b->topo) {
        rill_topology_fail(a->topo, "cannot merge streams of different topologies");
        return NULL;
    }
    char name[64];
    rill_topology_next_name(a->topo, "KSTREAM-MERGE", name, sizeof name);
    const char *parents[] = {rill_topology_node_name(a->topo, a->node),
                             rill_topology_node_name(b->topo, b->node), NULL};
    int idx = rill__add_pass(a->topo, name, parents);
    /* The merged stream keeps a serde only where both sides agree on it. */
    rill_stream_t *out =
        rill__stream_new(a->topo, idx, a->key_serde == b->key_serde ? a->key_serde : NULL,
                         a->value_serde == b->value_serde ? a->value_serde : NULL);
    if (out)
        out->key_changed = a->key_changed || b->key_changed;
    return out;
}

rill_split_t *rill_stream_split(rill_stream_t *stream, const char *name)
{
    if (!stream)
        return NULL;
    rill_split_t *split = rill_calloc(1, sizeof *split);
    if (!split || rill_topology_attach(stream->topo, split, rill_free)) {
        rill_free(split);
        rill_topology_fail(stream->topo, "out of memory building the topology");
        return NULL;
    }
    split->topo = stream->topo;
    split->key_serde = stream->key_serde;
    split->value_serde = stream->value_serde;
    split->key_changed = stream->key_changed;
    char gen[64];
    if (!name)
        name = rill_topology_next_name(stream->topo, "KSTREAM-BRANCH", gen, sizeof gen);
    snprintf(split->prefix, sizeof split->prefix, "%s", name);
    const char *parents[] = {rill_topology_node_name(stream->topo, stream->node), NULL};
    split->arg = rill_op_arg_new(RILL_OP_BRANCH, NULL, NULL);
    split->node = split->arg
                      ? rill_topology_add_processor(stream->topo, name, rill_op_ops(RILL_OP_BRANCH),
                                                    split->arg, rill_op_arg_free, parents)
                      : RILL_ENOMEM;
    if (split->node < 0) {
        rill_op_arg_free(split->arg);
        rill_topology_fail(stream->topo, "cannot add split '%s': %s", name,
                           rill_strerror(split->node));
        return NULL;
    }
    return split;
}

static rill_stream_t *split_add(rill_split_t *split, const char *name, rill_predicate_fn pred,
                                void *ud)
{
    char child[300], gen[32];
    if (!name) {
        snprintf(gen, sizeof gen, "%d", ++split->count);
        name = gen;
    }
    snprintf(child, sizeof child, "%s%s", split->prefix, name);
    const char *parents[] = {rill_topology_node_name(split->topo, split->node), NULL};
    int idx = rill__add_pass(split->topo, child, parents);
    if (idx >= 0 && rill_op_branch_add(split->arg, pred, ud, idx)) {
        rill_topology_fail(split->topo, "out of memory adding branch '%s'", child);
        return NULL;
    }
    rill_stream_t *out = rill__stream_new(split->topo, idx, split->key_serde, split->value_serde);
    if (out)
        out->key_changed = split->key_changed;
    return out;
}

rill_stream_t *rill_split_branch(rill_split_t *split, const char *name, rill_predicate_fn pred,
                                 void *ud)
{
    if (!split)
        return NULL;
    if (!pred) {
        rill_topology_fail(split->topo, "branch '%s' of split '%s' has no predicate",
                           name ? name : "(unnamed)", split->prefix);
        return NULL;
    }
    return split_add(split, name, pred, ud);
}

rill_stream_t *rill_split_default(rill_split_t *split, const char *name)
{
    if (!split)
        return NULL;
    return split_add(split, name ? name : "0", NULL, NULL);
}

/* What a serde's values are in memory (see serde.h): raw bytes (bytes, string), a native number
 * (int32, int64, double), a JSON value or a windowed key; NULL for a custom serde, whose values
 * only it knows, so a custom serde is never refused. */
static const char *serde_form(const rill_serde_t *serde)
{
    if (!serde)
        return NULL;
    if (serde == rill_serde_bytes() || serde == rill_serde_string())
        return "raw bytes";
    if (serde == rill_serde_int32() || serde == rill_serde_int64() || serde == rill_serde_double())
        return rill_serde_name(serde);
    if (serde == rill_serde_json())
        return "JSON values";
    const char *name = rill_serde_name(serde);
    if (!strncmp(name, "time-windowed(", 14) || !strncmp(name, "session-windowed(", 17))
        return "windowed keys";
    return NULL;
}

/* Fails the topology when the serde given to the sink called node cannot encode what the stream
 * carries: the string serde given a count's native int64 would write its 8 little-endian bytes
 * as text, silently. Rill refuses rather than converts (Kafka Streams fails such a record with a
 * ClassCastException at run time); the user converts with rill_stream_map_values. */
static int check_sink_serde(const rill_stream_t *stream, const char *node, const char *topic,
                            const char *what, const rill_serde_t *carried,
                            const rill_serde_t *given)
{
    const char *from = serde_form(carried), *to = serde_form(given);
    if (!from || !to || !strcmp(from, to))
        return 0;
    return rill_topology_fail(stream->topo,
                              "sink '%s'%s%s%s: its %s serde '%s' cannot encode the stream's %ss, "
                              "which are %s (made by the '%s' serde); give the sink a serde of the "
                              "same kind, or convert the %ss first (rill_stream_map_values)",
                              node, topic ? " (topic '" : "", topic ? topic : "", topic ? "')" : "",
                              what, rill_serde_name(given), what, from, rill_serde_name(carried),
                              what);
}

/* A sink's serdes: the ones given, else the stream's. Fails the topology (see check_sink_serde)
 * and returns RILL_ETOPOLOGY when a given serde cannot encode the stream's keys or values. */
static int sink_opts(const rill_stream_t *stream, const char *node, const char *topic,
                     const rill_sink_opts_t *opts, rill_sink_opts_t *o)
{
    *o = opts ? *opts : (rill_sink_opts_t){0};
    int rc = 0;
    if (!o->key_serde)
        o->key_serde = stream->key_serde;
    else
        rc = check_sink_serde(stream, node, topic, "key", stream->key_serde, o->key_serde);
    if (!o->value_serde)
        o->value_serde = stream->value_serde;
    else if (!rc)
        rc = check_sink_serde(stream, node, topic, "value", stream->value_serde, o->value_serde);
    return rc;
}

int rill_stream_to(rill_stream_t *stream, const char *topic, const rill_sink_opts_t *opts)
{
    if (!stream || !topic)
        return stream ? rill_topology_fail(stream->topo, "rill_stream_to: topic is NULL")
                      : RILL_EINVAL;
    char name[64];
    rill_topology_next_name(stream->topo, "KSTREAM-SINK", name, sizeof name);
    const char *parents[] = {rill_topology_node_name(stream->topo, stream->node), NULL};
    rill_sink_opts_t o;
    int rc = sink_opts(stream, name, topic, opts, &o);
    if (rc)
        return rc;
    int idx = rill_topology_add_sink(stream->topo, name, topic, NULL, NULL, &o, parents);
    return idx < 0 ? idx : 0;
}

int rill_stream_to_dynamic(rill_stream_t *stream, rill_topic_extractor_fn extractor, void *ud,
                           const rill_sink_opts_t *opts)
{
    if (!stream || !extractor)
        return stream ? rill_topology_fail(stream->topo, "rill_stream_to_dynamic: no extractor")
                      : RILL_EINVAL;
    char name[64];
    rill_topology_next_name(stream->topo, "KSTREAM-SINK", name, sizeof name);
    const char *parents[] = {rill_topology_node_name(stream->topo, stream->node), NULL};
    rill_sink_opts_t o;
    int rc = sink_opts(stream, name, NULL, opts, &o);
    if (rc)
        return rc;
    int idx = rill_topology_add_sink(stream->topo, name, NULL, extractor, ud, &o, parents);
    return idx < 0 ? idx : 0;
}

rill_stream_t *rill_stream_repartition(rill_stream_t *stream, const char *name, int32_t partitions,
                                       const rill_sink_opts_t *opts)
{
    if (!stream)
        return NULL;
    char gen[64], source[300];
    if (!name)
        name = rill_topology_next_name(stream->topo, "KSTREAM-REPARTITION", gen, sizeof gen);
    snprintf(source, sizeof source, "%s-source", name);
    const char *parents[] = {rill_topology_node_name(stream->topo, stream->node), NULL};
    rill_sink_opts_t o;
    if (sink_opts(stream, name, NULL, opts, &o))
        return NULL;
    int idx = rill_topology_add_repartition(stream->topo, name, source, partitions, &o, parents);
    return rill__stream_new(stream->topo, idx, o.key_serde, o.value_serde);
}

rill_stream_t *rill_stream_process(rill_stream_t *stream, const rill_processor_ops *ops, void *arg,
                                   void (*arg_free)(void *))
{
    if (!stream)
        return NULL;
    char name[64];
    rill_topology_next_name(stream->topo, "KSTREAM-PROCESSOR", name, sizeof name);
    const char *parents[] = {rill_topology_node_name(stream->topo, stream->node), NULL};
    int idx = rill_topology_add_processor(stream->topo, name, ops, arg, arg_free, parents);
    rill_stream_t *out = rill__stream_new(stream->topo, idx, NULL, NULL);
    if (out)
        out->key_changed = true; /* a processor may forward any key */
    return out;
}
