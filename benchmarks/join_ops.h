/*
 * join_ops.h: the stream-stream-join workload's windows and joiner (benchmarks/WORKLOADS.md),
 * shared by bench-rill-pipe and bench-join-cost so that the cost measured without a broker is
 * the cost of the code the benchmark runs.
 */
#ifndef RILL_BENCH_JOIN_OPS_H
#define RILL_BENCH_JOIN_OPS_H

#include <rill/dsl.h>

#include <string.h>

#define SSJ_WINDOW_MS 1000  /* stream-stream-join's time difference */
#define SSJ_GRACE_MS  60000 /* stream-stream-join: more than one side runs ahead of the other */

/* stream-stream-join's joiner: the left value, then the right one. */
static inline int ssj_concat(void *ud, rill_context_t *ctx, rill_buf_t key, rill_buf_t left,
                             rill_buf_t right, rill_buf_t *out)
{
    (void)ud;
    (void)key;
    char *p = rill_arena_alloc(rill_context_arena(ctx), left.len + right.len);
    if (!p)
        return rill_context_fail(ctx, RILL_ENOMEM, "out of memory");
    memcpy(p, left.data, left.len);
    memcpy(p + left.len, right.data, right.len);
    *out = (rill_buf_t){p, left.len + right.len};
    return 0;
}

#endif
