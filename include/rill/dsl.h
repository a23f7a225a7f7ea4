/*
 * dsl.h — the Streams DSL in C: build a topology by chaining operations on streams.
 *
 * A rill_stream_t is a handle on one node of a topology; the topology owns it, and it lives as
 * long as the topology. DSL calls never fail loudly: a mistake (a NULL function, a bad name) is
 * remembered by the topology and reported, with the node named, by rill_topology_build(). A call
 * given a NULL stream returns NULL, so a chain broken by running out of memory stays NULL.
 * Build a topology on one thread; once built it may be shared.
 *
 * User functions receive records whose key and value are views as the stream's serdes decoded
 * them (see serde.h). Values a function makes must outlive the call: put them in the arena of the
 * context (rill_context_arena) or in static storage.
 */
#ifndef RILL_DSL_H
#define RILL_DSL_H

#include <rill/processor.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct rill_stream rill_stream_t;

/* Returns a stream of the records of the NULL-terminated topic list topics; opts may be NULL. */
rill_stream_t *rill_stream_from(rill_topology_t *topo, const char *const *topics,
                                const rill_source_opts_t *opts);
/* Returns a stream of one topic; opts may be NULL. */
rill_stream_t *rill_stream_from_topic(rill_topology_t *topo, const char *topic,
                                      const rill_source_opts_t *opts);
/* Returns a stream of every topic matching the POSIX extended regular expression pattern. */
rill_stream_t *rill_stream_from_pattern(rill_topology_t *topo, const char *pattern,
                                        const rill_source_opts_t *opts);

/* Names the node that made stream (instead of the generated KSTREAM-... name); returns stream. */
rill_stream_t *rill_stream_as(rill_stream_t *stream, const char *name);
/* Returns the name of the node that made stream, borrowed. */
const char *rill_stream_name(const rill_stream_t *stream);

/* Keeps the records for which pred is true. */
rill_stream_t *rill_stream_filter(rill_stream_t *stream, rill_predicate_fn pred, void *ud);
/* Keeps the records for which pred is false. */
rill_stream_t *rill_stream_filter_not(rill_stream_t *stream, rill_predicate_fn pred, void *ud);
/* Replaces key and value; both serdes fall back to the defaults unless given at the sink. */
rill_stream_t *rill_stream_map(rill_stream_t *stream, rill_map_fn fn, void *ud);
/* Replaces the value; the key serde is kept. */
rill_stream_t *rill_stream_map_values(rill_stream_t *stream, rill_map_one_fn fn, void *ud);
/* Replaces the key; the value serde is kept. */
rill_stream_t *rill_stream_select_key(rill_stream_t *stream, rill_map_one_fn fn, void *ud);
/* Replaces each record with zero or more new pairs. */
rill_stream_t *rill_stream_flat_map(rill_stream_t *stream, rill_flat_map_fn fn, void *ud);
/* Replaces each value with zero or more values, keeping the key: fn emits pairs whose key is
 * ignored. */
rill_stream_t *rill_stream_flat_map_values(rill_stream_t *stream, rill_flat_map_fn fn, void *ud);
/* Calls fn on each record and passes it on unchanged. */
rill_stream_t *rill_stream_peek(rill_stream_t *stream, rill_action_fn fn, void *ud);
/* Calls fn on each record; a terminal operation. Returns 0 or RILL_EINVAL. */
int rill_stream_foreach(rill_stream_t *stream, rill_action_fn fn, void *ud);
/* Returns a stream of the records of a and b both. */
rill_stream_t *rill_stream_merge(rill_stream_t *a, rill_stream_t *b);

/* Splits a stream: each record goes to the first branch whose predicate holds, or to the
 * default branch, or is dropped. Branches are named "<split name><branch name>". */
typedef struct rill_split rill_split_t;
/* Starts a split of stream; name (may be NULL) prefixes the branch names. */
rill_split_t *rill_stream_split(rill_stream_t *stream, const char *name);
/* Adds a branch taking the records pred accepts; returns the branch's stream. */
rill_stream_t *rill_split_branch(rill_split_t *split, const char *name, rill_predicate_fn pred,
                                 void *ud);
/* Adds the default branch (records no predicate took); returns its stream. */
rill_stream_t *rill_split_default(rill_split_t *split, const char *name);

/* Writes the stream to topic; opts (serdes, partitioner) may be NULL. Returns 0 or RILL_EINVAL. */
int rill_stream_to(rill_stream_t *stream, const char *topic, const rill_sink_opts_t *opts);
/* Writes each record to the topic extractor names for it. */
int rill_stream_to_dynamic(rill_stream_t *stream, rill_topic_extractor_fn extractor, void *ud,
                           const rill_sink_opts_t *opts);
/* Repartitions by the current key through the internal topic
 * "<application.id>-<name>-repartition" (name NULL: generated); partitions 0 means as many as
 * the source. The returned stream starts a new sub-topology. */
rill_stream_t *rill_stream_repartition(rill_stream_t *stream, const char *name, int32_t partitions,
                                       const rill_sink_opts_t *opts);
/* Adds a user processor (Processor API) under stream; ops is borrowed, arg owned on success and
 * released with arg_free. Returns the stream of what the processor forwards. */
rill_stream_t *rill_stream_process(rill_stream_t *stream, const rill_processor_ops *ops, void *arg,
                                   void (*arg_free)(void *));

#ifdef __cplusplus
}
#endif
#endif
