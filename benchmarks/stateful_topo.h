/*
 * The stateful benchmark's topologies (bench-stateful), shared with tests/unit/test_record_cache.c
 * so that the test counts allocations on the very aggregation the benchmark measures.
 *
 * Records: string keys, int64 values (Kafka's LongSerde). Results go to the topic "out".
 */
#ifndef RILL_BENCH_STATEFUL_TOPO_H
#define RILL_BENCH_STATEFUL_TOPO_H

#include <rill/dsl.h>
#include <rill/processor.h>
#include "operators/task.h" /* the task runtime: not API, linked from librill.a */
#include <rill/serde.h>

static inline int stateful_zero(void *ud, rill_context_t *ctx, rill_buf_t *out)
{
    (void)ud;
    *out = rill_arena_i64(rill_context_arena(ctx), 0);
    return 0;
}

static inline int stateful_add(void *ud, rill_context_t *ctx, rill_buf_t key, rill_buf_t value,
                               rill_buf_t agg, rill_buf_t *out)
{
    (void)ud, (void)key;
    *out = rill_arena_i64(rill_context_arena(ctx), rill_value_i64(agg) + rill_value_i64(value));
    return 0;
}

/* topic -> group by key -> hopping windows of 10 s every 1 s, the sum of the values (or, when
 * tumbling, windows of 1 s and a count) -> "out". */
static inline rill_topology_t *stateful_topology(const char *topic, bool tumbling)
{
    rill_topology_t *topo = rill_topology_new();
    rill_source_opts_t in = {.key_serde = rill_serde_string(), .value_serde = rill_serde_int64()};
    rill_grouped_t *g = rill_stream_group_by_key(rill_stream_from_topic(topo, topic, &in), NULL);
    rill_table_t *t;
    if (tumbling) {
        t = rill_windowed_count(rill_grouped_windowed_by(g, rill_windows_tumbling(1000, 0)), NULL);
    } else {
        rill_materialized_t m = {.value_serde = rill_serde_int64()};
        t = rill_windowed_aggregate(
            rill_grouped_windowed_by(g, rill_windows_hopping(10000, 1000, 0)), stateful_zero,
            stateful_add, NULL, NULL, &m);
    }
    rill_stream_to(rill_table_to_stream(t), "out", NULL);
    return topo;
}

#endif
