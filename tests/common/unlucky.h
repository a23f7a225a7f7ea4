/*
 * The failing map of the failed-record tests: an int32 value becomes "n=<v>", and 13 fails the
 * record (the marker of a bad record). Include after the Rill headers.
 */
#ifndef RILL_TESTS_UNLUCKY_H
#define RILL_TESTS_UNLUCKY_H

#include <rill/processor.h>

#include <stdint.h>

/* A rill_map_one_fn: "n=<v>" for the int32 value v; fails 13 with rill_context_fail. */
static inline int unlucky_describe(void *ud, rill_context_t *ctx, const rill_record_t *rec,
                                   rill_buf_t *out)
{
    (void)ud;
    int32_t v = *(const int32_t *)rec->value.data;
    if (v == 13)
        return rill_context_fail(ctx, RILL_EPROCESS, "13 is unlucky");
    *out = rill_arena_printf(rill_context_arena(ctx), "n=%d", v);
    return out->data ? 0 : RILL_ENOMEM;
}

/* Writes v big-endian into b, as Kafka's IntegerSerializer does. */
static inline void unlucky_be32(uint8_t b[4], int32_t v)
{
    b[0] = (uint8_t)((uint32_t)v >> 24);
    b[1] = (uint8_t)((uint32_t)v >> 16);
    b[2] = (uint8_t)((uint32_t)v >> 8);
    b[3] = (uint8_t)v;
}

#endif
