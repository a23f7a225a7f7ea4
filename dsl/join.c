/*
 * The joins of the DSL: each adds the built-in join processors (rill_join_ops) and their stores,
 * named as Kafka Streams names them, so describe() reads the same:
 *
 * - stream-stream (KStreamImplJoin): KSTREAM-WINDOWED-<n> under each side (its window store
 *   "<KSTREAM-JOINTHIS-n>-store" or "<KSTREAM-JOINOTHER-n>-store"), the two join processors
 *   (KSTREAM-JOINTHIS / -OUTERTHIS, KSTREAM-JOINOTHER / -OUTEROTHER) and KSTREAM-MERGE-<n>; left
 * and outer joins share "KSTREAM-OUTERSHARED-<n>-store" for unmatched records. rill_join_opts_t's
 *   name gives "<name>-this-windowed", "<name>-this-join", ..., "<name>-merge"; its store_name
 *   "<store_name>-this-join-store", "<store_name>-outer-shared-join-store", ...
 * - stream-table (KStreamKTableJoin): KSTREAM-JOIN-<n> or KSTREAM-LEFTJOIN-<n> ("<name>"), reading
 *   the table's store.
 * - table-table (KTableImpl.doJoin): KTABLE-JOINTHIS-<n> / -JOINOTHER- (-OUTERTHIS-, -OUTEROTHER-,
 *   -LEFTTHIS-, -LEFTOTHER-...) and KTABLE-MERGE-<n>, each side reading the other's store.
 *
 * A side whose key may have changed goes through a repartition topic first, named after the join
 * ("<name>-left-repartition") or after the side's node, as Kafka Streams does.
 */
#include "dsl_int.h"

#include <stdio.h>
#include <string.h>

/* Adds a join processor called name under the parents; returns its index. */
static int add_join_node(rill_topology_t *topo, const char *name, const rill_join_spec_t *spec,
                         const char *const *parents)
{
    void *arg = rill_join_arg_new(spec);
    if (!arg)
        return rill_topology_fail(topo, "out of memory adding '%s'", name);
    int idx =
        rill_topology_add_processor(topo, name, rill_join_ops(), arg, rill_join_arg_free, parents);
    if (idx < 0)
        rill_join_arg_free(arg);
    return idx;
}

/* Adds a store connected to the NULL-terminated procs; 0 or a code. */
static int add_join_store(rill_topology_t *topo, const char *name, rill_store_type_t type,
                          int64_t retention, const rill_join_opts_t *opts, rill_serde_t *ks,
                          rill_serde_t *vs, const char *const *procs)
{
    rill_store_spec_t spec = {
        .name = name,
        .type = type,
        .backend = opts ? opts->backend : RILL_STORE_DEFAULT,
        .no_logging = opts && opts->no_logging,
        .no_caching = true, /* as Kafka Streams: a join's stores never cache */
        .retention_ms = retention,
        .key_serde = ks,
        .value_serde = vs,
        .internal = true,
        .retain_duplicates = type == RILL_STORE_WINDOW,
    };
    int i = rill_topology_add_store(topo, &spec, procs);
    return i < 0 ? i : 0;
}

/* Both sides' repartitioning, named "<name>-left"/"-right" or after each side's node. */
static int join_sides(rill_stream_t *left, rill_stream_t *right, const rill_join_opts_t *opts,
                      rill_serde_t *ks, rill_serde_t *lvs, rill_serde_t *rvs, int *lnode,
                      int *rnode)
{
    char lname[300], rname[300];
    const char *name = opts ? opts->name : NULL;
    snprintf(lname, sizeof lname, "%s%s",
             name ? name : rill_topology_node_name(left->topo, left->node), name ? "-left" : "");
    snprintf(rname, sizeof rname, "%s%s",
             name ? name : rill_topology_node_name(right->topo, right->node), name ? "-right" : "");
    *lnode = rill__keyed_node(left, lname, ks, lvs);
    *rnode = rill__keyed_node(right, rname, ks, rvs);
    return *lnode < 0 ? *lnode : *rnode < 0 ? *rnode : 0;
}

/* "<name><suffix>" when the user named the join, else a generated "<prefix>-<n>". */
static const char *node_name(rill_topology_t *topo, const char *name, const char *suffix,
                             const char *prefix, char *buf, size_t size)
{
    if (name) {
        snprintf(buf, size, "%s%s", name, suffix);
        return buf;
    }
    return rill_topology_next_name(topo, prefix, buf, size);
}

/* Whether a join of a (its node a_node) and b may be built: one topology, and a joiner. */
static bool join_ok(rill_topology_t *a, int a_node, rill_topology_t *b, rill_joiner_fn joiner)
{
    if (a != b) {
        rill_topology_fail(a, "cannot join streams or tables of different topologies");
        return false;
    }
    if (!joiner) {
        rill_topology_fail(a, "the join after '%s' has no joiner",
                           rill_topology_node_name(a, a_node));
        return false;
    }
    return true;
}

/* ---- stream-stream ---- */

rill_join_windows_t rill_join_windows(int64_t time_difference_ms, int64_t grace_ms)
{
    return (rill_join_windows_t){time_difference_ms, time_difference_ms, grace_ms};
}

static rill_stream_t *stream_stream(rill_stream_t *left, rill_stream_t *right,
                                    rill_joiner_fn joiner, void *ud, rill_join_windows_t w,
                                    const rill_join_opts_t *opts, bool left_outer, bool right_outer)
{
    if (!left || !right || !join_ok(left->topo, left->node, right->topo, joiner))
        return NULL;
    rill_topology_t *topo = left->topo;
    if (w.before_ms < 0 || w.after_ms < 0 || w.grace_ms < 0 || w.before_ms + w.after_ms < 0) {
        rill_topology_fail(topo,
                           "the join after '%s': join windows need before, after and grace >= 0 "
                           "(got %lld, %lld, %lld)",
                           rill_topology_node_name(topo, left->node), (long long)w.before_ms,
                           (long long)w.after_ms, (long long)w.grace_ms);
        return NULL;
    }
    rill_serde_t *ks = opts && opts->key_serde ? opts->key_serde : left->key_serde;
    rill_serde_t *lvs = opts && opts->left_value_serde ? opts->left_value_serde : left->value_serde;
    rill_serde_t *rvs =
        opts && opts->right_value_serde ? opts->right_value_serde : right->value_serde;
    int lnode, rnode;
    if (join_sides(left, right, opts, ks, lvs, rvs, &lnode, &rnode))
        return NULL;
    const char *name = opts ? opts->name : NULL;
    const char *store_name = opts ? opts->store_name : NULL;
    char this_win[300], other_win[300], this_gen[64], other_gen[64], this_join[300],
        other_join[300], merge[300];
    node_name(topo, name, "-this-windowed", "KSTREAM-WINDOWED", this_win, sizeof this_win);
    node_name(topo, name, "-other-windowed", "KSTREAM-WINDOWED", other_win, sizeof other_win);
    rill_topology_next_name(topo, right_outer ? "KSTREAM-OUTERTHIS" : "KSTREAM-JOINTHIS", this_gen,
                            sizeof this_gen);
    rill_topology_next_name(topo, left_outer ? "KSTREAM-OUTEROTHER" : "KSTREAM-JOINOTHER",
                            other_gen, sizeof other_gen);
    const char *this_suffix = right_outer ? "-outer-this-join" : "-this-join";
    const char *other_suffix = left_outer ? "-outer-other-join" : "-other-join";
    snprintf(this_join, sizeof this_join, "%s", name ? name : this_gen);
    if (name)
        snprintf(this_join, sizeof this_join, "%s%s", name, this_suffix);
    snprintf(other_join, sizeof other_join, "%s", other_gen);
    if (name)
        snprintf(other_join, sizeof other_join, "%s%s", name, other_suffix);
    node_name(topo, name, "-merge", "KSTREAM-MERGE", merge, sizeof merge);
    char this_store[320], other_store[320], outer_store[320];
    snprintf(this_store, sizeof this_store, "%s%s-store", store_name ? store_name : this_gen,
             store_name ? this_suffix : "");
    snprintf(other_store, sizeof other_store, "%s%s-store", store_name ? store_name : other_gen,
             store_name ? other_suffix : "");
    const char *gen_prefix = right_outer ? "KSTREAM-OUTERTHIS-" : "KSTREAM-JOINTHIS-";
    if (store_name)
        snprintf(outer_store, sizeof outer_store, "%s%s-store", store_name,
                 right_outer ? "-outer-shared-join" : "-left-shared-join");
    else
        snprintf(outer_store, sizeof outer_store, "KSTREAM-OUTERSHARED-%s-store",
                 this_gen + strlen(gen_prefix));

    /* The windowed nodes put each side's records in its store; the join nodes look them up. */
    rill_join_spec_t win = {.op = RILL_JOP_WINDOW, .windows = w, .key_serde = ks};
    const char *lparent[] = {rill_topology_node_name(topo, lnode), NULL};
    const char *rparent[] = {rill_topology_node_name(topo, rnode), NULL};
    win.store = this_store;
    win.this_value_serde = lvs;
    if (add_join_node(topo, this_win, &win, lparent) < 0)
        return NULL;
    win.store = other_store;
    win.this_value_serde = rvs;
    win.right_side = true;
    if (add_join_node(topo, other_win, &win, rparent) < 0)
        return NULL;
    rill_join_spec_t js = {
        .op = RILL_JOP_STREAM_STREAM,
        .store = other_store,
        .outer_store = left_outer ? outer_store : NULL,
        .outer = left_outer,
        .windows = w,
        .joiner = joiner,
        .ud = ud,
        .key_serde = ks,
        .this_value_serde = lvs,
        .other_value_serde = rvs,
    };
    const char *this_parent[] = {this_win, NULL}, *other_parent[] = {other_win, NULL};
    if (add_join_node(topo, this_join, &js, this_parent) < 0)
        return NULL;
    js.store = this_store;
    js.right_side = true;
    js.outer = right_outer;
    js.this_value_serde = rvs;
    js.other_value_serde = lvs;
    if (add_join_node(topo, other_join, &js, other_parent) < 0)
        return NULL;
    const char *merge_parents[] = {this_join, other_join, NULL};
    int idx = rill__add_pass(topo, merge, merge_parents);
    if (idx < 0)
        return NULL;
    int64_t retention = w.before_ms + w.after_ms + w.grace_ms;
    const char *this_users[] = {this_win, other_join, NULL};
    const char *other_users[] = {other_win, this_join, NULL};
    const char *outer_users[] = {this_join, other_join, NULL};
    if (add_join_store(topo, this_store, RILL_STORE_WINDOW, retention, opts, ks, lvs, this_users) ||
        add_join_store(topo, other_store, RILL_STORE_WINDOW, retention, opts, ks, rvs,
                       other_users) ||
        (left_outer &&
         add_join_store(topo, outer_store, RILL_STORE_KV, 0, opts, ks, NULL, outer_users)))
        return NULL;
    return rill__stream_new(topo, idx, ks, opts ? opts->value_serde : NULL);
}

rill_stream_t *rill_stream_join(rill_stream_t *left, rill_stream_t *right, rill_joiner_fn joiner,
                                void *ud, rill_join_windows_t windows, const rill_join_opts_t *opts)
{
    return stream_stream(left, right, joiner, ud, windows, opts, false, false);
}

rill_stream_t *rill_stream_left_join(rill_stream_t *left, rill_stream_t *right,
                                     rill_joiner_fn joiner, void *ud, rill_join_windows_t windows,
                                     const rill_join_opts_t *opts)
{
    return stream_stream(left, right, joiner, ud, windows, opts, true, false);
}

rill_stream_t *rill_stream_outer_join(rill_stream_t *left, rill_stream_t *right,
                                      rill_joiner_fn joiner, void *ud, rill_join_windows_t windows,
                                      const rill_join_opts_t *opts)
{
    return stream_stream(left, right, joiner, ud, windows, opts, true, true);
}

/* ---- stream-table ---- */

static rill_stream_t *stream_table(rill_stream_t *stream, rill_table_t *table,
                                   rill_joiner_fn joiner, void *ud, const rill_join_opts_t *opts,
                                   bool left)
{
    if (!stream || !table || !join_ok(stream->topo, stream->node, table->topo, joiner))
        return NULL;
    rill_topology_t *topo = stream->topo;
    rill_serde_t *ks = opts && opts->key_serde ? opts->key_serde : stream->key_serde;
    rill_serde_t *svs =
        opts && opts->left_value_serde ? opts->left_value_serde : stream->value_serde;
    rill_serde_t *tvs =
        opts && opts->right_value_serde ? opts->right_value_serde : table->value_serde;
    const char *name = opts ? opts->name : NULL;
    char gen[64];
    const char *node =
        node_name(topo, name, "", left ? "KSTREAM-LEFTJOIN" : "KSTREAM-JOIN", gen, sizeof gen);
    int parent = rill__keyed_node(stream, name ? name : rill_topology_node_name(topo, stream->node),
                                  ks, svs);
    const char *store = rill__table_store(table);
    if (parent < 0 || !store)
        return NULL;
    int64_t grace = opts ? opts->grace_ms : 0;
    char buffer[160];
    snprintf(buffer, sizeof buffer, "%s-Buffer", node);
    if (grace < 0 || (grace > 0 && !table->versioned)) {
        rill_topology_fail(topo,
                           grace < 0 ? "join '%s': a negative grace period"
                                     : "join '%s': a grace period needs a versioned table (its "
                                       "table's store '%s' is not)",
                           node, store);
        return NULL;
    }
    int si = rill_topology_find_store(topo, store);
    int64_t history = si >= 0 ? rill_topology_store(topo, si, NULL)->retention_ms : 0;
    if (grace > history && table->versioned) {
        /* As Kafka Streams: a held record must still find the versions it joins. */
        rill_topology_fail(topo,
                           "join '%s': its grace period (%lld ms) is longer than the history "
                           "retention of its versioned table's store '%s' (%lld ms)",
                           node, (long long)grace, store, (long long)history);
        return NULL;
    }
    rill_join_spec_t js = {
        .op = RILL_JOP_STREAM_TABLE,
        .store = store,
        .outer_store = grace > 0 ? buffer : NULL,
        .windows = {.grace_ms = grace},
        .outer = left,
        .joiner = joiner,
        .ud = ud,
        .key_serde = table->key_serde ? table->key_serde : ks,
        .this_value_serde = svs,
        .other_value_serde = tvs,
    };
    const char *parents[] = {rill_topology_node_name(topo, parent), NULL};
    int idx = add_join_node(topo, node, &js, parents);
    if (idx < 0 || rill_topology_connect_store(topo, store, node) < 0)
        return NULL;
    const char *users[] = {node, NULL};
    if (grace > 0 && add_join_store(topo, buffer, RILL_STORE_KV, 0, opts, ks, svs, users) < 0)
        return NULL;
    return rill__stream_new(topo, idx, ks, opts ? opts->value_serde : NULL);
}

rill_stream_t *rill_stream_table_join(rill_stream_t *stream, rill_table_t *table,
                                      rill_joiner_fn joiner, void *ud, const rill_join_opts_t *opts)
{
    return stream_table(stream, table, joiner, ud, opts, false);
}

rill_stream_t *rill_stream_table_left_join(rill_stream_t *stream, rill_table_t *table,
                                           rill_joiner_fn joiner, void *ud,
                                           const rill_join_opts_t *opts)
{
    return stream_table(stream, table, joiner, ud, opts, true);
}

/* ---- table-table ---- */

static rill_table_t *table_table(rill_table_t *left, rill_table_t *right, rill_joiner_fn joiner,
                                 void *ud, const rill_materialized_t *m, bool left_outer,
                                 bool right_outer)
{
    if (!left || !right || !join_ok(left->topo, left->node, right->topo, joiner))
        return NULL;
    rill_topology_t *topo = left->topo;
    const char *lstore = rill__table_store(left), *rstore = rill__table_store(right);
    if (!lstore || !rstore)
        return NULL;
    /* Node names are generated: m names the result's store, not the join (a Named in Kafka
     * Streams, which Rill's table joins do not take). */
    const char *name = NULL;
    char merge[300], this_join[300], other_join[300];
    node_name(topo, name, "", "KTABLE-MERGE", merge, sizeof merge);
    node_name(topo, name, "-join-this", "KTABLE-JOINTHIS", this_join, sizeof this_join);
    node_name(topo, name, "-join-other", "KTABLE-JOINOTHER", other_join, sizeof other_join);
    rill_serde_t *ks = left->key_serde ? left->key_serde : right->key_serde;
    rill_join_spec_t js = {
        .op = RILL_JOP_TABLE_TABLE,
        .store = rstore,
        .outer = left_outer,
        .other_outer = right_outer,
        .joiner = joiner,
        .ud = ud,
        .key_serde = ks,
        .this_value_serde = left->value_serde,
        .other_value_serde = right->value_serde,
    };
    const char *lparent[] = {rill_topology_node_name(topo, left->node), NULL};
    const char *rparent[] = {rill_topology_node_name(topo, right->node), NULL};
    if (add_join_node(topo, this_join, &js, lparent) < 0 ||
        rill_topology_connect_store(topo, rstore, this_join) < 0)
        return NULL;
    js.store = lstore;
    js.right_side = true;
    js.outer = right_outer;
    js.other_outer = left_outer;
    js.this_value_serde = right->value_serde;
    js.other_value_serde = left->value_serde;
    if (add_join_node(topo, other_join, &js, rparent) < 0 ||
        rill_topology_connect_store(topo, lstore, other_join) < 0)
        return NULL;
    const char *parents[] = {this_join, other_join, NULL};
    return rill__table_merge(topo, merge, parents, ks, NULL, m);
}

rill_table_t *rill_table_join(rill_table_t *left, rill_table_t *right, rill_joiner_fn joiner,
                              void *ud, const rill_materialized_t *m)
{
    return table_table(left, right, joiner, ud, m, false, false);
}

rill_table_t *rill_table_left_join(rill_table_t *left, rill_table_t *right, rill_joiner_fn joiner,
                                   void *ud, const rill_materialized_t *m)
{
    return table_table(left, right, joiner, ud, m, true, false);
}

rill_table_t *rill_table_outer_join(rill_table_t *left, rill_table_t *right, rill_joiner_fn joiner,
                                    void *ud, const rill_materialized_t *m)
{
    return table_table(left, right, joiner, ud, m, true, true);
}

/* ---- stream-global table ---- */

static rill_stream_t *stream_global(rill_stream_t *stream, rill_global_table_t *gt,
                                    rill_map_one_fn key_mapper, void *mapper_ud,
                                    rill_joiner_fn joiner, void *ud, const rill_join_opts_t *opts,
                                    bool left)
{
    if (!stream || !gt || !join_ok(stream->topo, stream->node, gt->topo, joiner))
        return NULL;
    rill_topology_t *topo = stream->topo;
    if (!key_mapper) {
        rill_topology_fail(topo, "the global table join after '%s' has no key mapper",
                           rill_topology_node_name(topo, stream->node));
        return NULL;
    }
    const char *name = opts ? opts->name : NULL;
    char gen[64];
    const char *node =
        node_name(topo, name, "", left ? "KSTREAM-LEFTJOIN" : "KSTREAM-JOIN", gen, sizeof gen);
    rill_serde_t *ks = opts && opts->key_serde ? opts->key_serde : stream->key_serde;
    rill_join_spec_t js = {
        .op = RILL_JOP_STREAM_TABLE,
        .store = gt->store,
        .outer = left,
        .joiner = joiner,
        .ud = ud,
        .key_mapper = key_mapper,
        .key_mapper_ud = mapper_ud,
        .key_serde = gt->key_serde,
        .this_value_serde =
            opts && opts->left_value_serde ? opts->left_value_serde : stream->value_serde,
        .other_value_serde =
            opts && opts->right_value_serde ? opts->right_value_serde : gt->value_serde,
    };
    const char *parents[] = {rill_topology_node_name(topo, stream->node), NULL};
    int idx = add_join_node(topo, node, &js, parents);
    if (idx < 0)
        return NULL;
    rill_stream_t *out = rill__stream_new(topo, idx, ks, opts ? opts->value_serde : NULL);
    if (out)
        out->key_changed = stream->key_changed;
    return out;
}

rill_stream_t *rill_stream_global_join(rill_stream_t *stream, rill_global_table_t *gt,
                                       rill_map_one_fn key_mapper, void *mapper_ud,
                                       rill_joiner_fn joiner, void *ud,
                                       const rill_join_opts_t *opts)
{
    return stream_global(stream, gt, key_mapper, mapper_ud, joiner, ud, opts, false);
}

rill_stream_t *rill_stream_global_left_join(rill_stream_t *stream, rill_global_table_t *gt,
                                            rill_map_one_fn key_mapper, void *mapper_ud,
                                            rill_joiner_fn joiner, void *ud,
                                            const rill_join_opts_t *opts)
{
    return stream_global(stream, gt, key_mapper, mapper_ud, joiner, ud, opts, true);
}
