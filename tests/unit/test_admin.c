/*
 * The admin tools' parts that need no cluster: the times and durations the `rill` command reads
 * (ISO-8601 both ways, zones, fractions, epoch milliseconds, and what is refused), and the JSON
 * pretty-printer `rill dlq show` uses.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <rill/admin.h>
#include <rill/serde.h>

#include "engine/internal_topics.h"

#include <string.h>

static void test_datetimes(void **state)
{
    static const struct {
        const char *text;
        int64_t ms;
    } good[] = {
        {"1970-01-01T00:00:00Z", 0},
        {"1970-01-01T00:00:00.001Z", 1},
        {"2026-12-02T08:00:00Z", 1796198400000},
        {"2026-12-02T08:00:00.250", 1796198400250},
        {"2026-12-02T09:30:00+01:30", 1796198400000},
        {"2026-12-02T03:00:00-05:00", 1796198400000},
        {"2026-12-02T08:00", 1796198400000},
        {"2026-12-02", 1796169600000},
        {"2000-02-29T12:00:00Z", 951825600000},
        {"1796198400000", 1796198400000},
    };
    for (size_t i = 0; i < sizeof good / sizeof *good; i++) {
        int64_t ms = -1;
        assert_int_equal(rill_admin_parse_datetime(good[i].text, &ms), 0);
        assert_int_equal(ms, good[i].ms);
    }
    static const char *const bad[] = {"",
                                      "yesterday",
                                      "2026-13-01T00:00:00Z",
                                      "2026-12-02T",
                                      "2026-12-02T25:00",
                                      "2026-12-02T08:00:00Q",
                                      "2026-12-02T08:00:00.Z",
                                      "-5"};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        int64_t ms;
        assert_int_equal(rill_admin_parse_datetime(bad[i], &ms), RILL_EINVAL);
    }
}

static void test_durations(void **state)
{
    static const struct {
        const char *text;
        int64_t ms;
    } good[] = {
        {"PT1H", 3600000}, {"PT30M", 1800000},       {"PT0.5S", 500},
        {"P1D", 86400000}, {"P1DT1H1M1S", 90061000}, {"PT1H30M", 5400000},
    };
    for (size_t i = 0; i < sizeof good / sizeof *good; i++) {
        int64_t ms = -1;
        assert_int_equal(rill_admin_parse_duration(good[i].text, &ms), 0);
        assert_int_equal(ms, good[i].ms);
    }
    static const char *const bad[] = {"", "P", "PT", "1H", "PT1D", "P1H", "PT-1H", "PT1X"};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        int64_t ms;
        assert_int_equal(rill_admin_parse_duration(bad[i], &ms), RILL_EINVAL);
    }
}

static void test_json_pretty(void **state)
{
    const char *text = "{\"b\":1,\"a\":[true,null],\"s\":\"x\"}";
    char *p = rill_json_pretty(text, strlen(text));
    assert_non_null(p);
    assert_string_equal(p,
                        "{\n  \"b\": 1,\n  \"a\": [\n    true,\n    null\n  ],\n  \"s\": \"x\"\n}");
    rill_free(p);
    p = rill_json_pretty("42", 2);
    assert_non_null(p);
    assert_string_equal(p, "42");
    rill_free(p);
    assert_null(rill_json_pretty("{\"a\":", 5));
    assert_null(rill_json_pretty("\xff\xfe", 2));
    assert_null(rill_json_pretty(NULL, 0));
}

/* The tools count an app's retry topics with its internal topics: rill reset deletes them,
 * rill replay does not copy them as inputs. */
static void test_retry_topic_names(void **state)
{
    (void)state;
    assert_true(rill__is_retry_topic("orders", "orders-retry-1000"));
    assert_true(rill__is_retry_topic("orders", "orders-retry-5"));
    assert_false(rill__is_retry_topic("orders", "orders-retry-"));
    assert_false(rill__is_retry_topic("orders", "orders-retry-10s"));
    assert_false(rill__is_retry_topic("orders", "orders-v2-retry-1000"));
    assert_false(rill__is_retry_topic("orders", "order-retry-1000"));
    assert_false(rill__is_retry_topic("orders", "orders-retry"));
    assert_true(rill__is_retry_topic("orders-v2", "orders-v2-retry-1000"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_datetimes),
        cmocka_unit_test(test_retry_topic_names),
        cmocka_unit_test(test_durations),
        cmocka_unit_test(test_json_pretty),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
