/*
 * A map_values function the produce-error tests share: it makes a value larger than a
 * producer's message.max.bytes (1,000,000 by default), so the send fails with "Message size too
 * large". Header-only: each test binary includes it once.
 */
#ifndef RILL_TESTS_OVERSIZE_H
#define RILL_TESTS_OVERSIZE_H

#include <rill/dsl.h>

#include <string.h>

/* The value's size: 1.2 MB. */
#define OVERSIZE_VALUE_BYTES (1200 * 1000)

/* Replaces the value with OVERSIZE_VALUE_BYTES bytes of 'x' (in the record's arena). */
static inline int oversize_value(void *ud, rill_context_t *ctx, const rill_record_t *rec,
                                 rill_buf_t *out)
{
    (void)ud, (void)rec;
    void *big = rill_arena_alloc(rill_context_arena(ctx), OVERSIZE_VALUE_BYTES);
    if (!big)
        return rill_context_fail(ctx, RILL_ENOMEM, "out of memory");
    memset(big, 'x', OVERSIZE_VALUE_BYTES);
    *out = (rill_buf_t){big, OVERSIZE_VALUE_BYTES};
    return 0;
}

#endif
