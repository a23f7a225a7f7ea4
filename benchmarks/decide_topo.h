/*
 * The decide benchmark's aggregate (bench-decide-cost), shared with
 * tests/unit/test_record_cache.c so that the test counts allocations on the very decider the
 * benchmark measures: an account of int64 commands (string keys, Kafka's LongSerde values).
 * An even command withdraws twice itself (rejected when it overdraws), an odd one deposits
 * itself; events (to "out") and states are int64 too, replies go to "replies".
 */
#ifndef RILL_BENCH_DECIDE_TOPO_H
#define RILL_BENCH_DECIDE_TOPO_H

#include <rill/dsl.h>
#include <rill/serde.h>

static inline int i64_decide(void *ud, rill_context_t *ctx, const rill_record_t *cmd,
                             rill_buf_t state, rill_decision_t *out)
{
    (void)ud;
    int64_t v = rill_value_i64(cmd->value), balance = state.data ? rill_value_i64(state) : 0;
    if (v % 2 == 0 && 2 * v > balance)
        return rill_decision_reject(out, "insufficient funds");
    return rill_decision_emit(out, rill_arena_i64(rill_context_arena(ctx), v % 2 ? v : -2 * v));
}

static inline int i64_evolve(void *ud, rill_context_t *ctx, rill_buf_t state, rill_buf_t event,
                             rill_buf_t *out)
{
    (void)ud;
    int64_t balance = state.data ? rill_value_i64(state) : 0;
    *out = rill_arena_i64(rill_context_arena(ctx), balance + rill_value_i64(event));
    return 0;
}

/* "in" -> decide (the store on backend, cached unless no_caching) -> "out", "replies". */
static inline rill_topology_t *decide_topology(rill_store_backend_t backend, bool no_caching)
{
    rill_topology_t *topo = rill_topology_new();
    rill_source_opts_t in = {.key_serde = rill_serde_string(), .value_serde = rill_serde_int64()};
    rill_decide_opts_t o = {.event_topic = "out",
                            .reply_topic = "replies",
                            .event_serde = rill_serde_int64(),
                            .backend = backend,
                            .no_caching = no_caching};
    if (!rill_stream_decide(rill_stream_from_topic(topo, "in", &in), i64_decide, i64_evolve, NULL,
                            &o)) {
        rill_topology_unref(topo);
        return NULL;
    }
    return topo;
}

#endif
