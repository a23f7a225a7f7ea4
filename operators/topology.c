/*
 * The processor graph: nodes added by name, then validated and split into sub-topologies by
 * rill_topology_build(). Sub-topologies are the connected components of the graph where edges
 * are parent/child links (a topic between a sink and a source does not connect them), numbered
 * in the order of their first node, as Kafka Streams numbers them. What drivers read of a built
 * topology is in topology_facts.c.
 */
#include "operators_int.h"

#include <assert.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

rill_topology_t *rill_topology_new(void)
{
    rill_topology_t *topo = rill_calloc(1, sizeof *topo);
    if (topo)
        atomic_init(&topo->refs, 1);
    return topo;
}

rill_topology_t *rill_topology_ref(rill_topology_t *topo)
{
    if (topo)
        atomic_fetch_add(&topo->refs, 1);
    return topo;
}

static void free_strv(char **v, size_t n)
{
    for (size_t i = 0; v && i < n; i++)
        rill_free(v[i]);
    rill_free(v);
}

static void node_free(node_t *node)
{
    if (!node)
        return;
    rill_free(node->name);
    free_strv(node->parent_names, node->nparents);
    rill_free(node->parents);
    rill_free(node->children);
    if (node->arg_free)
        node->arg_free(node->arg);
    free_strv(node->topics, node->ntopics);
    rill_free(node->pattern);
    if (node->has_regex)
        regfree(&node->regex);
    rill_serde_unref(node->key_serde);
    rill_serde_unref(node->value_serde);
    rill_free(node->topic);
    rill_free(node);
}

void rill_topology_unref(rill_topology_t *topo)
{
    if (!topo || atomic_fetch_sub(&topo->refs, 1) != 1)
        return;
    for (size_t i = 0; i < topo->n; i++)
        node_free(topo->nodes[i]);
    rill_free(topo->nodes);
    while (topo->attachments) {
        attachment_t *a = topo->attachments;
        topo->attachments = a->next;
        a->free_fn(a->p);
        rill_free(a);
    }
    for (int i = 0; i < topo->nsub; i++)
        rill_free(topo->sub_order[i]);
    rill_free(topo->sub_order);
    rill_free(topo->sub_n);
    for (size_t i = 0; i < topo->nstores; i++) {
        store_def_t *sd = &topo->stores[i];
        rill_free((char *)sd->spec.name);
        rill_serde_unref(sd->spec.key_serde);
        rill_serde_unref(sd->spec.value_serde);
        free_strv(sd->processor_names, sd->nprocessors);
    }
    rill_free(topo->stores);
    rill_free(topo);
}

/* ---- state stores ---- */

int rill_topology_find_store(const rill_topology_t *topo, const char *name)
{
    for (size_t i = 0; topo && name && i < topo->nstores; i++)
        if (strcmp(topo->stores[i].spec.name, name) == 0)
            return (int)i;
    return -1;
}

int rill_topology_connect_store(rill_topology_t *topo, const char *store, const char *processor)
{
    if (!topo || !store || !processor)
        return RILL_EINVAL;
    if (topo->built)
        return rill_topology_fail(topo, "store '%s' connected after the topology was built", store);
    int i = rill_topology_find_store(topo, store);
    if (i < 0)
        return rill_topology_fail(topo,
                                  "cannot connect processor '%s' to store '%s': no such "
                                  "store",
                                  processor, store);
    store_def_t *sd = &topo->stores[i];
    for (size_t k = 0; k < sd->nprocessors; k++)
        if (strcmp(sd->processor_names[k], processor) == 0)
            return 0;
    char *name = rill_strdup(processor);
    char **v = name ? rill_realloc(sd->processor_names, (sd->nprocessors + 1) * sizeof *v) : NULL;
    if (!v) {
        rill_free(name);
        return rill_topology_fail(topo, "out of memory connecting store '%s'", store);
    }
    sd->processor_names = v;
    v[sd->nprocessors++] = name;
    return 0;
}

int rill_topology_add_store(rill_topology_t *topo, const rill_store_spec_t *spec,
                            const char *const *processors)
{
    if (!topo || !spec)
        return RILL_EINVAL;
    if (!spec->name || !*spec->name)
        return rill_topology_fail(topo, "a state store needs a name");
    if (topo->built)
        return rill_topology_fail(topo, "store '%s' added after the topology was built",
                                  spec->name);
    if (rill_topology_find_store(topo, spec->name) >= 0)
        return rill_topology_fail(topo, "a state store called '%s' already exists", spec->name);
    if (rill__topology_check_name(topo, "store name", spec->name, NULL))
        return RILL_ETOPOLOGY;
    if (spec->type != RILL_STORE_KV && spec->type != RILL_STORE_WINDOW &&
        spec->type != RILL_STORE_SESSION && spec->type != RILL_STORE_VERSIONED)
        return rill_topology_fail(topo, "store '%s' has an unknown type %d", spec->name,
                                  (int)spec->type);
    if (spec->backend != RILL_STORE_DEFAULT && spec->backend != RILL_STORE_ROCKSDB &&
        spec->backend != RILL_STORE_IN_MEMORY)
        return rill_topology_fail(topo, "store '%s' has an unknown backend %d", spec->name,
                                  spec->backend);
    if (spec->type != RILL_STORE_KV && spec->retention_ms <= 0)
        return rill_topology_fail(
            topo, "%s store '%s' needs a positive retention",
            spec->type == RILL_STORE_VERSIONED ? "versioned" : "window or session", spec->name);
    store_def_t *v = rill_realloc(topo->stores, (topo->nstores + 1) * sizeof *v);
    if (!v)
        return rill_topology_fail(topo, "out of memory adding store '%s'", spec->name);
    topo->stores = v;
    store_def_t *sd = &v[topo->nstores];
    *sd = (store_def_t){.spec = *spec, .subtopology = -1};
    sd->spec.name = rill_strdup(spec->name);
    if (!sd->spec.name)
        return rill_topology_fail(topo, "out of memory adding store '%s'", spec->name);
    if (sd->spec.type != RILL_STORE_KV && sd->spec.segment_ms <= 0) {
        int64_t half = sd->spec.retention_ms / 2;
        sd->spec.segment_ms = half > RILL__MIN_SEGMENT_MS ? half : RILL__MIN_SEGMENT_MS;
    }
    rill_serde_ref(sd->spec.key_serde);
    rill_serde_ref(sd->spec.value_serde);
    int index = (int)topo->nstores++;
    for (size_t k = 0; processors && processors[k]; k++)
        if (rill_topology_connect_store(topo, spec->name, processors[k]))
            return RILL_ETOPOLOGY;
    return index;
}

int rill_topology_store_count(const rill_topology_t *topo)
{
    return topo ? (int)topo->nstores : 0;
}

const rill_store_spec_t *rill_topology_store(const rill_topology_t *topo, int i, int *st)
{
    if (!topo || i < 0 || (size_t)i >= topo->nstores)
        return NULL;
    if (st)
        *st = topo->stores[i].subtopology;
    return &topo->stores[i].spec;
}

int rill_topology_fail(rill_topology_t *topo, const char *fmt, ...)
{
    if (topo && !topo->error[0]) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(topo->error, sizeof topo->error, fmt, ap);
        va_end(ap);
    }
    return RILL_ETOPOLOGY;
}

int rill_topology_attach(rill_topology_t *topo, void *p, void (*free_fn)(void *))
{
    if (!topo || !free_fn)
        return RILL_EINVAL;
    attachment_t *a = rill_malloc(sizeof *a);
    if (!a)
        return RILL_ENOMEM;
    a->p = p;
    a->free_fn = free_fn;
    a->next = topo->attachments;
    topo->attachments = a;
    return 0;
}

const char *rill_topology_next_name(rill_topology_t *topo, const char *prefix, char *buf,
                                    size_t buf_size)
{
    snprintf(buf, buf_size, "%s-%010llu", prefix, (unsigned long long)topo->name_counter++);
    return buf;
}

const char *rill_topology_node_name(const rill_topology_t *topo, int index)
{
    if (!topo || index < 0 || (size_t)index >= topo->n)
        return NULL;
    return topo->nodes[index]->name;
}

int rill__topology_find_node(const rill_topology_t *topo, const char *name)
{
    for (size_t i = 0; i < topo->n; i++)
        if (strcmp(topo->nodes[i]->name, name) == 0)
            return (int)i;
    return -1;
}

static char **dup_strv(const char *const *v, size_t *n)
{
    size_t count = 0;
    while (v && v[count])
        count++;
    char **out = rill_calloc(count + 1, sizeof *out);
    if (!out)
        return NULL;
    for (size_t i = 0; i < count; i++) {
        if (!(out[i] = rill_strdup(v[i]))) {
            free_strv(out, i);
            return NULL;
        }
    }
    *n = count;
    return out;
}

/* Checks the common preconditions and appends a node; returns its index or a negative code. */
static int add_node(rill_topology_t *topo, node_t *node, const char *name,
                    const char *const *parents, bool need_parents)
{
    int rc = 0;
    if (topo->built)
        rc = rill_topology_fail(topo, "cannot add node '%s': the topology is already built",
                                name ? name : "(null)");
    else if (!name || !*name)
        rc = rill_topology_fail(topo, "a node needs a non-empty name");
    else if (rill__topology_find_node(topo, name) >= 0)
        rc = rill_topology_fail(topo, "duplicate node name '%s'", name);
    else if (need_parents && (!parents || !parents[0]))
        rc = rill_topology_fail(topo, "node '%s' is dangling: it has no parent", name);
    if (rc) {
        node_free(node);
        return rc;
    }
    node->name = rill_strdup(name);
    if (parents)
        node->parent_names = dup_strv(parents, &node->nparents);
    if (!node->name || (parents && !node->parent_names)) {
        node_free(node);
        rill_topology_fail(topo, "out of memory adding node '%s'", name);
        return RILL_ENOMEM;
    }
    if (topo->n == topo->cap) {
        size_t cap = topo->cap ? topo->cap * 2 : 16;
        node_t **nodes = rill_realloc(topo->nodes, cap * sizeof *nodes);
        if (!nodes) {
            node_free(node);
            rill_topology_fail(topo, "out of memory adding node '%s'", name);
            return RILL_ENOMEM;
        }
        topo->nodes = nodes;
        topo->cap = cap;
    }
    node->subtopology = -1;
    topo->nodes[topo->n] = node;
    return (int)topo->n++;
}

static node_t *node_new(node_kind_t kind)
{
    node_t *node = rill_calloc(1, sizeof *node);
    if (node)
        node->kind = kind;
    return node;
}

static int add_source_impl(rill_topology_t *topo, const char *name, const char *const *topics,
                           const char *pattern, const rill_source_opts_t *opts)
{
    if (!topo)
        return RILL_EINVAL;
    if ((!topics || !topics[0]) == !pattern)
        return rill_topology_fail(topo, "source '%s' needs either topics or a pattern",
                                  name ? name : "(null)");
    for (size_t t = 0; topics && topics[t]; t++)
        if (rill__topology_check_name(topo, "topic", topics[t], name ? name : "(null)"))
            return RILL_ETOPOLOGY;
    node_t *node = node_new(NODE_SOURCE);
    if (!node)
        return RILL_ENOMEM;
    if (pattern) {
        node->pattern = rill_strdup(pattern);
        /* A pattern must match the whole topic name, as Java's Pattern.matches() does. */
        char anchored[600];
        snprintf(anchored, sizeof anchored, "^(%s)$", pattern);
        int err = regcomp(&node->regex, anchored, REG_EXTENDED | REG_NOSUB);
        if (err) {
            char why[128];
            regerror(err, &node->regex, why, sizeof why);
            node_free(node);
            return rill_topology_fail(topo, "source '%s': bad topic pattern '%s': %s",
                                      name ? name : "(null)", pattern, why);
        }
        node->has_regex = true;
    } else {
        node->topics = dup_strv(topics, &node->ntopics);
    }
    if (opts) {
        node->key_serde = rill_serde_ref(opts->key_serde);
        node->value_serde = rill_serde_ref(opts->value_serde);
        node->timestamp_fn = opts->timestamp_fn;
        node->timestamp_ud = opts->timestamp_ud;
    }
    if ((pattern && !node->pattern) || (!pattern && !node->topics)) {
        node_free(node);
        return RILL_ENOMEM;
    }
    for (size_t t = 0; t < node->ntopics; t++)
        for (size_t i = 0; i < topo->n; i++)
            for (size_t u = 0; u < topo->nodes[i]->ntopics; u++)
                if (strcmp(topo->nodes[i]->topics[u], node->topics[t]) == 0) {
                    int rc = rill_topology_fail(
                        topo, "source '%s': topic '%s' is already read by source '%s'",
                        name ? name : "(null)", node->topics[t], topo->nodes[i]->name);
                    node_free(node);
                    return rc;
                }
    return add_node(topo, node, name, NULL, false);
}

static int add_processor_impl(rill_topology_t *topo, const char *name,
                              const rill_processor_ops *ops, void *arg, void (*arg_free)(void *),
                              const char *const *parents)
{
    if (!topo)
        return RILL_EINVAL;
    if (!ops)
        return rill_topology_fail(topo, "processor '%s' has no operations", name ? name : "(null)");
    node_t *node = node_new(NODE_PROCESSOR);
    if (!node)
        return RILL_ENOMEM;
    int idx = add_node(topo, node, name, parents, true);
    /* Ownership of arg moves only on success. */
    if (idx >= 0) {
        node->ops = ops;
        node->arg = arg;
        node->arg_free = arg_free;
    }
    return idx;
}

static void set_sink_opts(node_t *node, const rill_sink_opts_t *opts)
{
    if (!opts)
        return;
    node->key_serde = rill_serde_ref(opts->key_serde);
    node->value_serde = rill_serde_ref(opts->value_serde);
    node->partitioner = opts->partitioner;
    node->partitioner_ud = opts->partitioner_ud;
}

static int add_sink_impl(rill_topology_t *topo, const char *name, const char *topic,
                         rill_topic_extractor_fn extractor, void *extractor_ud,
                         const rill_sink_opts_t *opts, const char *const *parents)
{
    if (!topo)
        return RILL_EINVAL;
    if (!topic == !extractor)
        return rill_topology_fail(topo, "sink '%s' needs either a topic or a topic extractor",
                                  name ? name : "(null)");
    if (topic && rill__topology_check_name(topo, "topic", topic, name ? name : "(null)"))
        return RILL_ETOPOLOGY;
    node_t *node = node_new(NODE_SINK);
    if (!node)
        return RILL_ENOMEM;
    node->ops = &rill__sink_ops;
    node->topic = topic ? rill_strdup(topic) : NULL;
    node->extractor = extractor;
    node->extractor_ud = extractor_ud;
    set_sink_opts(node, opts);
    if (topic && !node->topic) {
        node_free(node);
        return RILL_ENOMEM;
    }
    return add_node(topo, node, name, parents, true);
}

/* A sink called sink_name writing to the internal topic suffix and a source called source_name
 * reading it; returns the source's index. */
static int add_internal_impl(rill_topology_t *topo, const char *suffix, const char *sink_name,
                             const char *source_name, int32_t partitions,
                             const rill_sink_opts_t *opts, const char *const *parents)
{
    node_t *sink = node_new(NODE_SINK);
    if (!sink)
        return RILL_ENOMEM;
    sink->ops = &rill__sink_ops;
    sink->topic = rill_strdup(suffix);
    sink->internal = true;
    sink->partitions = partitions;
    set_sink_opts(sink, opts);
    int rc = add_node(topo, sink, sink_name, parents, true);
    if (rc < 0)
        return rc;
    const char *topics[] = {suffix, NULL};
    rill_source_opts_t sopts = {0};
    if (opts) {
        sopts.key_serde = opts->key_serde;
        sopts.value_serde = opts->value_serde;
    }
    rc = add_source_impl(topo, source_name, topics, NULL, &sopts);
    if (rc >= 0) {
        topo->nodes[rc]->internal = true;
        topo->nodes[rc]->partitions = partitions;
    }
    return rc;
}

static int add_repartition_impl(rill_topology_t *topo, const char *name, const char *source_name,
                                int32_t partitions, const rill_sink_opts_t *opts,
                                const char *const *parents)
{
    if (!topo || !name || !source_name || partitions < 0)
        return topo ? rill_topology_fail(topo, "repartition needs a name, a source name and "
                                               "a partition count >= 0")
                    : RILL_EINVAL;
    if (rill__topology_check_name(topo, "repartition name", name, NULL))
        return RILL_ETOPOLOGY;
    char suffix[300], sink_name[320];
    snprintf(suffix, sizeof suffix, "%s-repartition", name);
    snprintf(sink_name, sizeof sink_name, "%s-sink", name);
    return add_internal_impl(topo, suffix, sink_name, source_name, partitions, opts, parents);
}

/* The public add functions: out of memory anywhere becomes the topology's error too, so a
 * topology missing a node can never build. */
static int remember_oom(rill_topology_t *topo, int rc, const char *name)
{
    if (rc == RILL_ENOMEM)
        rill_topology_fail(topo, "out of memory adding node '%s'", name ? name : "(null)");
    return rc;
}

int rill_topology_add_source(rill_topology_t *topo, const char *name, const char *const *topics,
                             const char *pattern, const rill_source_opts_t *opts)
{
    return remember_oom(topo, add_source_impl(topo, name, topics, pattern, opts), name);
}

int rill_topology_add_processor(rill_topology_t *topo, const char *name,
                                const rill_processor_ops *ops, void *arg, void (*arg_free)(void *),
                                const char *const *parents)
{
    return remember_oom(topo, add_processor_impl(topo, name, ops, arg, arg_free, parents), name);
}

int rill_topology_add_sink(rill_topology_t *topo, const char *name, const char *topic,
                           rill_topic_extractor_fn extractor, void *extractor_ud,
                           const rill_sink_opts_t *opts, const char *const *parents)
{
    return remember_oom(
        topo, add_sink_impl(topo, name, topic, extractor, extractor_ud, opts, parents), name);
}

int rill_topology_add_repartition(rill_topology_t *topo, const char *name, const char *source_name,
                                  int32_t partitions, const rill_sink_opts_t *opts,
                                  const char *const *parents)
{
    return remember_oom(
        topo, add_repartition_impl(topo, name, source_name, partitions, opts, parents), name);
}

int rill_topology_add_internal_topic(rill_topology_t *topo, const char *topic,
                                     const char *sink_name, const char *source_name,
                                     int32_t partitions, const rill_sink_opts_t *opts,
                                     const char *const *parents)
{
    if (!topo || !topic || !sink_name || !source_name || partitions < 0)
        return topo ? rill_topology_fail(topo, "an internal topic needs a name, a sink name, a "
                                               "source name and a partition count >= 0")
                    : RILL_EINVAL;
    if (rill__topology_check_name(topo, "internal topic", topic, sink_name))
        return RILL_ETOPOLOGY;
    return remember_oom(
        topo, add_internal_impl(topo, topic, sink_name, source_name, partitions, opts, parents),
        sink_name);
}

/* The processor of a global store never runs: every driver puts the records of the store's
 * topic into the store as they are (rill__global_apply), as Kafka Streams restores a global
 * store; it is a node so that descriptions show it. */
static const rill_processor_ops global_ops = {NULL, NULL, NULL};

int rill_topology_add_global_store(rill_topology_t *topo, const rill_store_spec_t *spec,
                                   const char *source_name, const char *topic,
                                   const rill_source_opts_t *opts, const char *processor_name)
{
    if (!topo)
        return RILL_EINVAL;
    if (!spec || !source_name || !topic || !processor_name)
        return rill_topology_fail(topo, "a global store needs a spec, a source name, a topic and "
                                        "a processor name");
    if (spec->type != RILL_STORE_KV)
        return rill_topology_fail(topo, "global store '%s' must be a key-value store",
                                  spec->name ? spec->name : "(null)");
    const char *topics[] = {topic, NULL}, *parents[] = {source_name, NULL};
    int src = rill_topology_add_source(topo, source_name, topics, NULL, opts);
    if (src < 0)
        return src;
    topo->nodes[src]->global = true;
    int proc = rill_topology_add_processor(topo, processor_name, &global_ops, NULL, NULL, parents);
    if (proc < 0)
        return proc;
    topo->nodes[proc]->global = true;
    /* The topic is the store's changelog, and records go in as they come. */
    rill_store_spec_t gs = *spec;
    gs.no_logging = true;
    gs.no_caching = true;
    const char *procs[] = {processor_name, NULL};
    int k = rill_topology_add_store(topo, &gs, procs);
    if (k >= 0)
        topo->stores[k].global = true;
    return k;
}

int rill_topology_rename(rill_topology_t *topo, const char *old_name, const char *new_name)
{
    if (!topo || !old_name || !new_name || !*new_name)
        return RILL_EINVAL;
    if (topo->built)
        return rill_topology_fail(topo, "cannot rename '%s': the topology is built", old_name);
    int idx = rill__topology_find_node(topo, old_name);
    if (idx < 0)
        return RILL_ENOENT;
    if (strcmp(old_name, new_name) == 0)
        return 0;
    if (rill__topology_find_node(topo, new_name) >= 0)
        return rill_topology_fail(topo, "duplicate node name '%s'", new_name);
    char *copy = rill_strdup(new_name);
    if (!copy)
        return RILL_ENOMEM;
    /* Children refer to their parents by name: follow the rename. */
    for (size_t i = 0; i < topo->n; i++)
        for (size_t p = 0; p < topo->nodes[i]->nparents; p++)
            if (strcmp(topo->nodes[i]->parent_names[p], old_name) == 0) {
                char *c = rill_strdup(new_name);
                if (!c) {
                    rill_free(copy);
                    return RILL_ENOMEM;
                }
                rill_free(topo->nodes[i]->parent_names[p]);
                topo->nodes[i]->parent_names[p] = c;
            }
    for (size_t k = 0; k < topo->nstores; k++)
        for (size_t p = 0; p < topo->stores[k].nprocessors; p++)
            if (strcmp(topo->stores[k].processor_names[p], old_name) == 0) {
                char *c = rill_strdup(new_name);
                if (!c) {
                    rill_free(copy);
                    return RILL_ENOMEM;
                }
                rill_free(topo->stores[k].processor_names[p]);
                topo->stores[k].processor_names[p] = c;
            }
    rill_free(topo->nodes[idx]->name);
    topo->nodes[idx]->name = copy;
    return 0;
}

/* ---- build ---- */

static int find_root(int *up, int i)
{
    while (up[i] != i)
        i = up[i] = up[up[i]];
    return i;
}

/* Depth-first search for a cycle; colour 0 unvisited, 1 on the stack, 2 done. */
static int find_cycle(const rill_topology_t *topo, int i, char *colour)
{
    colour[i] = 1;
    const node_t *node = topo->nodes[i];
    for (size_t c = 0; c < node->nchildren; c++) {
        int child = node->children[c];
        if (colour[child] == 1)
            return child;
        if (colour[child] == 0) {
            int found = find_cycle(topo, child, colour);
            if (found >= 0)
                return found;
        }
    }
    colour[i] = 2;
    return -1;
}

/* Appends i to order after all its parents (within its sub-topology). */
static void topo_visit(const rill_topology_t *topo, int i, char *seen, int *order, size_t *n)
{
    if (seen[i])
        return;
    seen[i] = 1;
    const node_t *node = topo->nodes[i];
    for (size_t p = 0; p < node->nparents; p++)
        topo_visit(topo, node->parents[p], seen, order, n);
    order[(*n)++] = i;
}

static int build_fail(const rill_topology_t *topo, char *errstr, size_t size, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static int build_fail(const rill_topology_t *topo, char *errstr, size_t size, const char *fmt, ...)
{
    if (errstr && size) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(errstr, size, fmt, ap);
        va_end(ap);
    }
    return RILL_ETOPOLOGY;
}

int rill_topology_build(rill_topology_t *topo, char *errstr, size_t errstr_size)
{
    if (!topo)
        return RILL_EINVAL;
    /* A DSL call made after the build fails too, and is reported by a second build. */
    if (topo->error[0])
        return build_fail(topo, errstr, errstr_size, "invalid topology: %s", topo->error);
    if (topo->built)
        return 0;
    if (topo->n == 0)
        return build_fail(topo, errstr, errstr_size, "invalid topology: it has no source node");
    size_t n = topo->n;
    /* Resolve parents and children. */
    for (size_t i = 0; i < n; i++) {
        node_t *node = topo->nodes[i];
        rill_free(node->parents);
        node->parents = rill_calloc(node->nparents + 1, sizeof(int));
        if (!node->parents)
            return RILL_ENOMEM;
        for (size_t p = 0; p < node->nparents; p++) {
            int parent = rill__topology_find_node(topo, node->parent_names[p]);
            if (parent < 0)
                return build_fail(topo, errstr, errstr_size,
                                  "invalid topology: node '%s' is dangling: its parent '%s' "
                                  "does not exist",
                                  node->name, node->parent_names[p]);
            if (topo->nodes[parent]->kind == NODE_SINK)
                return build_fail(topo, errstr, errstr_size,
                                  "invalid topology: node '%s' has sink '%s' as its parent; a "
                                  "sink has no children",
                                  node->name, node->parent_names[p]);
            if (topo->nodes[parent]->global && !node->global)
                return build_fail(topo, errstr, errstr_size,
                                  "invalid topology: node '%s' has '%s', a node of a global "
                                  "store, as its parent; processors read a global store by its "
                                  "name instead",
                                  node->name, node->parent_names[p]);
            node->parents[p] = parent;
        }
    }
    for (size_t i = 0; i < n; i++) {
        rill_free(topo->nodes[i]->children);
        topo->nodes[i]->children = NULL;
        topo->nodes[i]->nchildren = 0;
    }
    for (size_t i = 0; i < n; i++) {
        node_t *node = topo->nodes[i];
        for (size_t p = 0; p < node->nparents; p++) {
            node_t *parent = topo->nodes[node->parents[p]];
            int *children = rill_realloc(parent->children, (parent->nchildren + 1) * sizeof(int));
            if (!children)
                return RILL_ENOMEM;
            children[parent->nchildren++] = (int)i;
            parent->children = children;
        }
    }
    /* Cycles. */
    char *colour = rill_calloc(n, 1);
    int *up = rill_calloc(n, sizeof(int));
    if (!colour || !up) {
        rill_free(colour);
        rill_free(up);
        return RILL_ENOMEM;
    }
    for (size_t i = 0; i < n; i++) {
        int cyc = colour[i] ? -1 : find_cycle(topo, (int)i, colour);
        if (cyc >= 0) {
            rill_free(colour);
            rill_free(up);
            return build_fail(topo, errstr, errstr_size,
                              "invalid topology: there is a cycle through node '%s'",
                              topo->nodes[cyc]->name);
        }
    }
    /* Sub-topologies: union-find over parent links, numbered by first node. */
    for (size_t i = 0; i < n; i++)
        up[i] = (int)i;
    for (size_t i = 0; i < n; i++)
        for (size_t p = 0; p < topo->nodes[i]->nparents; p++) {
            int a = find_root(up, (int)i), b = find_root(up, topo->nodes[i]->parents[p]);
            if (a != b)
                up[a > b ? a : b] = a < b ? a : b;
        }
    /* Processors sharing a store run in one task, so they share a sub-topology. */
    for (size_t k = 0; k < topo->nstores; k++) {
        store_def_t *sd = &topo->stores[k];
        int first = -1;
        for (size_t p = 0; p < sd->nprocessors; p++) {
            int node = rill__topology_find_node(topo, sd->processor_names[p]);
            bool global_node = node >= 0 && topo->nodes[node]->global && !sd->global;
            if (node < 0 || topo->nodes[node]->kind != NODE_PROCESSOR || global_node) {
                rill_free(colour);
                rill_free(up);
                return build_fail(topo, errstr, errstr_size,
                                  "invalid topology: store '%s' is connected to '%s', %s",
                                  sd->spec.name, sd->processor_names[p],
                                  global_node ? "the processor of a global store"
                                              : "which is not a processor of the topology");
            }
            /* A global store is every task's to read: it binds no sub-topologies together. */
            if (sd->global)
                continue;
            if (first < 0) {
                first = node;
                continue;
            }
            int a = find_root(up, first), b = find_root(up, node);
            if (a != b)
                up[a > b ? a : b] = a < b ? a : b;
        }
    }
    int nsub = 0;
    for (size_t i = 0; i < n; i++) {
        int root = find_root(up, (int)i);
        if (topo->nodes[root]->subtopology < 0)
            topo->nodes[root]->subtopology = nsub++;
        topo->nodes[i]->subtopology = topo->nodes[root]->subtopology;
    }
    /* A failed build may be retried: drop what an earlier attempt made. */
    for (int s = 0; s < topo->nsub; s++)
        rill_free(topo->sub_order[s]);
    rill_free(topo->sub_order);
    rill_free(topo->sub_n);
    topo->nsub = 0;
    topo->sub_order = rill_calloc((size_t)nsub, sizeof *topo->sub_order);
    topo->sub_n = rill_calloc((size_t)nsub, sizeof *topo->sub_n);
    memset(colour, 0, n);
    bool ok = topo->sub_order && topo->sub_n;
    if (ok)
        topo->nsub = nsub; /* from here on, unref frees sub_order[0..nsub) */
    for (int s = 0; ok && s < nsub; s++) {
        topo->sub_order[s] = rill_calloc(n, sizeof(int));
        ok = topo->sub_order[s] != NULL;
        for (size_t i = 0; ok && i < n; i++)
            if (topo->nodes[i]->subtopology == s)
                topo_visit(topo, (int)i, colour, topo->sub_order[s], &topo->sub_n[s]);
    }
    rill_free(colour);
    rill_free(up);
    if (!ok)
        return RILL_ENOMEM;
    for (int s = 0; s < nsub; s++) {
        bool has_source = false;
        for (size_t k = 0; k < topo->sub_n[s]; k++)
            has_source |= topo->nodes[topo->sub_order[s][k]]->kind == NODE_SOURCE;
        if (!has_source)
            return build_fail(topo, errstr, errstr_size,
                              "invalid topology: node '%s' is dangling: no source reaches it",
                              topo->nodes[topo->sub_order[s][0]]->name);
    }
    for (size_t k = 0; k < topo->nstores; k++) {
        store_def_t *sd = &topo->stores[k];
        sd->subtopology =
            sd->nprocessors
                ? topo->nodes[rill__topology_find_node(topo, sd->processor_names[0])]->subtopology
                : -1;
        if (sd->subtopology < 0)
            return build_fail(topo, errstr, errstr_size,
                              "invalid topology: store '%s' is connected to no processor",
                              sd->spec.name);
    }
    topo->built = true;
    return 0;
}

int rill__topology_check_serdes(const rill_topology_t *topo, const rill_serde_t *default_key,
                                const rill_serde_t *default_value, char *errstr, size_t errstr_size)
{
    for (size_t i = 0; topo && i < topo->n; i++) {
        const node_t *node = topo->nodes[i];
        if (node->kind == NODE_PROCESSOR)
            continue;
        const char *what = node->kind == NODE_SOURCE ? "source" : "sink";
        if (!node->key_serde && !default_key)
            return build_fail(topo, errstr, errstr_size,
                              "%s '%s' has no key serde and default.key.serde is not set", what,
                              node->name);
        if (!node->value_serde && !default_value)
            return build_fail(topo, errstr, errstr_size,
                              "%s '%s' has no value serde and default.value.serde is not set", what,
                              node->name);
    }
    return 0;
}
