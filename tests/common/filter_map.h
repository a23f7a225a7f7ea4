/*
 * The filter-map app of the integration tests that watch a running app (its metrics, its status
 * page): even() keeps the records whose value ends in an even digit, tag() prefixes "v=",
 * produce_numbered() feeds "input" the values 0..n-1 under 37 keys and produce_not_utf8() records
 * that do not deserialize; watched_conf serves the app's metrics. Header-only; include after
 * cmocka.h.
 */
#ifndef RILL_TESTS_FILTER_MAP_H
#define RILL_TESTS_FILTER_MAP_H

#include <rill/app.h>
#include <rill/dsl.h>

#include <stdio.h>

/* A filter: the value's last digit is even. */
static inline bool even(void *ud, const rill_record_t *rec)
{
    (void)ud;
    const char *v = rec->value.data;
    return rec->value.len && (v[rec->value.len - 1] - '0') % 2 == 0;
}

/* A map_values: "v=" and the value, in the record's arena. */
static inline int tag(void *ud, rill_context_t *ctx, const rill_record_t *rec, rill_buf_t *out)
{
    (void)ud;
    *out = rill_arena_printf(rill_context_arena(ctx), "v=%.*s", (int)rec->value.len,
                             (const char *)rec->value.data);
    return out->data ? 0 : RILL_ENOMEM;
}

/* The configuration of a watched app (embedded_app_new's extra): metrics.listen on a free
 * loopback port, the consumers' statistics (the lag) every 500 ms, and records that do not
 * deserialize skipped. */
static const char *const watched_conf[] = {"metrics.listen",
                                           "127.0.0.1:0",
                                           "statistics.interval.ms",
                                           "500",
                                           "deserialization.exception.handler",
                                           "continue",
                                           NULL};

/* Sends n records to "input" (keys k0..k36, values "0".."n-1", timestamps from 1000) and
 * flushes; the test fails if one is refused. */
static inline void produce_numbered(rill_producer_t *p, int n)
{
    for (int i = 0; i < n; i++) {
        char k[16], v[16];
        snprintf(k, sizeof k, "k%d", i % 37);
        snprintf(v, sizeof v, "%d", i);
        assert_int_equal(
            rill_producer_send(p, "input", -1, rill_buf_str(k), rill_buf_str(v), 1000 + i), 0);
    }
    assert_int_equal(rill_producer_flush(p, 10000), 0);
}

/* Sends n records whose value is not UTF-8 (the string serde refuses them) to "input". */
static inline void produce_not_utf8(rill_producer_t *p, int n)
{
    for (int i = 0; i < n; i++)
        assert_int_equal(rill_producer_send(p, "input", -1, rill_buf_str("bad"),
                                            (rill_buf_t){"\xff\xfe", 2}, 5000 + i),
                         0);
}

#endif
