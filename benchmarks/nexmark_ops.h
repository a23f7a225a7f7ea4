/*
 * nexmark_ops.h: the processors of the stateless Nexmark workloads (benchmarks/WORKLOADS.md) and
 * the bids' event time, shared by bench-rill-pipe and bench-json-cost so that the cost measured
 * without a broker is the cost of the code the benchmark runs. Static functions over the public
 * API; each returns as the DSL's callbacks do.
 */
#ifndef RILL_BENCH_NEXMARK_OPS_H
#define RILL_BENCH_NEXMARK_OPS_H

#include <rill/dsl.h>

/* Nexmark q1: the same bid with price * 89 / 100: one member edited in place, the rest of the
 * bid's text copied as it came. */
static inline int to_euros(void *ud, rill_context_t *ctx, const rill_record_t *rec, rill_buf_t *out)
{
    int64_t price;
    if (rill_json_get_int(rec->value.data, "price", &price))
        return rill_context_fail(ctx, RILL_EPROCESS, "not a bid at offset %lld",
                                 (long long)rec->offset);
    *out = rill_json_set_int(rill_context_arena(ctx), rec->value.data, "price", price * 89 / 100);
    return out->data ? 0 : rill_context_fail(ctx, RILL_ENOMEM, "cannot build the bid");
}

/* Nexmark q2: bids of every 123rd auction, as {auction, price}. */
static inline bool auction_mod_123(void *ud, const rill_record_t *rec)
{
    int64_t auction;
    return rill_json_get_int(rec->value.data, "auction", &auction) == 0 && auction % 123 == 0;
}

static inline int auction_price(void *ud, rill_context_t *ctx, const rill_record_t *rec,
                                rill_buf_t *out)
{
    int64_t auction = 0, price = 0;
    rill_json_get_int(rec->value.data, "auction", &auction);
    rill_json_get_int(rec->value.data, "price", &price);
    rill_json_writer_t w;
    rill_json_writer_init(&w, rill_context_arena(ctx));
    rill_json_write_object(&w);
    rill_json_write_key(&w, "auction");
    rill_json_write_int(&w, auction);
    rill_json_write_key(&w, "price");
    rill_json_write_int(&w, price);
    rill_json_write_end(&w);
    *out = rill_json_writer_finish(&w);
    return out->data ? 0 : rill_context_fail(ctx, RILL_ENOMEM, "cannot build the output");
}

/* Event time: the bid's dateTime (a record without one is invalid: the record error handler). */
static inline int64_t bid_time(void *ud, const rill_record_t *rec, int64_t partition_time)
{
    int64_t t;
    if (!rec->value.data || rill_json_get_int(rec->value.data, "dateTime", &t))
        return -1;
    return t;
}

#endif
