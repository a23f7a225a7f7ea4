/*
 * The Prometheus text writer (engine/prometheus.c) and the histogram cells (base/metric_cells.h):
 * label values and HELP texts escaped as the exposition format says, buckets cumulative with
 * +Inf equal to _count and the sum in seconds, and the bucket of a value at each edge.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "engine/prometheus.h"

#include <string.h>

static char *text_of(rill_bytes_t *b)
{
    assert_int_equal(rill_bytes_append(b, "", 1), 0);
    return (char *)b->data;
}

static void test_escaping(void **state)
{
    (void)state;
    rill_bytes_t out = {0};
    prom_t p;
    rill__prom_init(&p, &out);
    rill__prom_family(&p, "rill_x_total", "counter", "A help with \\ and\na newline.");
    const char *labels[] = {"topic", "a\"b\\c\nd", "partition", "3", NULL};
    rill__prom_sample_u64(&p, "rill_x_total", labels, 18446744073709551615u);
    rill__prom_sample(&p, "rill_x_total", NULL, 0.5);
    assert_int_equal(rill__prom_finish(&p), 0);
    assert_string_equal(text_of(&out), "# HELP rill_x_total A help with \\\\ and\\na newline.\n"
                                       "# TYPE rill_x_total counter\n"
                                       "rill_x_total{topic=\"a\\\"b\\\\c\\nd\",partition=\"3\"} "
                                       "18446744073709551615\n"
                                       "rill_x_total 0.5\n");
    rill_bytes_free(&out);
}

static void test_histogram(void **state)
{
    (void)state;
    hist_t h;
    memset(&h, 0, sizeof h);
    hist_observe(&h, 100);               /* <= 128 ns: bucket 0 */
    hist_observe_n(&h, 1000000, 3);      /* 1 ms, 3 times: <= 2^20 ns */
    hist_observe(&h, (uint64_t)1 << 50); /* past the top: +Inf */
    assert_int_equal(hist_count(&h), 5);
    rill_bytes_t out = {0};
    prom_t p;
    rill__prom_init(&p, &out);
    const char *labels[] = {"thread", "t1", NULL};
    rill__prom_histogram(&p, "rill_lat_seconds", labels, &h);
    assert_int_equal(rill__prom_finish(&p), 0);
    const char *t = text_of(&out);
    assert_non_null(strstr(t, "rill_lat_seconds_bucket{thread=\"t1\",le=\"1.28e-07\"} 1\n"));
    assert_non_null(strstr(t, "rill_lat_seconds_bucket{thread=\"t1\",le=\"0.000524288\"} 1\n"));
    assert_non_null(strstr(t, "rill_lat_seconds_bucket{thread=\"t1\",le=\"0.001048576\"} 4\n"));
    assert_non_null(strstr(t, "rill_lat_seconds_bucket{thread=\"t1\",le=\"4398.04651\"} 4\n"));
    assert_non_null(strstr(t, "rill_lat_seconds_bucket{thread=\"t1\",le=\"+Inf\"} 5\n"));
    assert_non_null(strstr(t, "rill_lat_seconds_count{thread=\"t1\"} 5\n"));
    /* 100 ns + 3 ms + 2^50 ns, in seconds */
    assert_non_null(strstr(t, "rill_lat_seconds_sum{thread=\"t1\"} 1125899.909842"));
    /* 37 buckets, then the sum and the count */
    int lines = 0;
    for (const char *c = t; *c; c++)
        lines += *c == '\n';
    assert_int_equal(lines, HIST_BUCKETS + 1 + 2);
    rill_bytes_free(&out);
}

static void test_bucket_edges(void **state)
{
    (void)state;
    const struct {
        uint64_t ns;
        int bucket;
    } cases[] = {
        {0, 0},
        {1, 0},
        {128, 0},
        {129, 1},
        {256, 1},
        {257, 2},
        {(uint64_t)1 << 42, HIST_BUCKETS - 1},
        {((uint64_t)1 << 42) + 1, HIST_BUCKETS},
        {UINT64_MAX, HIST_BUCKETS},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        if (hist_bucket(cases[i].ns) != cases[i].bucket)
            fail_msg("%llu ns: bucket %d, not %d", (unsigned long long)cases[i].ns,
                     hist_bucket(cases[i].ns), cases[i].bucket);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_escaping),
        cmocka_unit_test(test_histogram),
        cmocka_unit_test(test_bucket_edges),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
