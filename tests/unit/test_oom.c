/*
 * Out of memory, everywhere: fail the Nth allocation Rill makes, for every N, while building a
 * topology with the DSL, building it, creating a test driver and running records through a
 * filter, a map, a split and a repartition. Every run must end cleanly (an error code, never a
 * crash), and under valgrind or LeakSanitizer nothing may leak.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <rill/dsl.h>
#include <rill/test_driver.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static long countdown = -1; /* allocations left before one fails; -1: never fail */
static long failures;

static void *oom_malloc(size_t n)
{
    if (countdown == 0) {
        failures++;
        return NULL;
    }
    if (countdown > 0)
        countdown--;
    return malloc(n);
}

static void *oom_realloc(void *p, size_t n)
{
    if (countdown == 0) {
        failures++;
        return NULL;
    }
    if (countdown > 0)
        countdown--;
    return realloc(p, n);
}

static bool keep(void *ud, const rill_record_t *rec)
{
    return rec->value.len > 1;
}

static int upper(void *ud, rill_context_t *ctx, const rill_record_t *rec, rill_buf_t *out)
{
    *out = rill_arena_printf(rill_context_arena(ctx), "%.*s!", (int)rec->value.len,
                             (const char *)rec->value.data);
    return out->data ? 0 : rill_context_fail(ctx, RILL_ENOMEM, "arena");
}

static bool short_value(void *ud, const rill_record_t *rec)
{
    return rec->value.len < 5;
}

/* One whole scenario; returns 0 when everything worked, a negative code when something failed
 * cleanly. */
static int scenario(void)
{
    char err[512];
    int rc = RILL_ENOMEM;
    rill_conf_t *conf = rill_conf_new();
    rill_topology_t *topo = rill_topology_new();
    rill_test_driver_t *td = NULL;
    if (!conf || !topo)
        goto out;
    if (rill_conf_set(conf, "application.id", "oom", err, sizeof err) ||
        rill_conf_set(conf, "default.key.serde", "string", err, sizeof err) ||
        rill_conf_set(conf, "default.value.serde", "string", err, sizeof err))
        goto out;
    rill_stream_t *s = rill_stream_from_topic(topo, "in", NULL);
    rill_stream_t *m = rill_stream_map_values(rill_stream_filter(s, keep, NULL), upper, NULL);
    rill_split_t *split = rill_stream_split(m, "len-");
    rill_stream_to(rill_split_branch(split, "short", short_value, NULL), "short", NULL);
    rill_stream_t *rest = rill_split_default(split, "long");
    rill_stream_to(rill_stream_repartition(rest, "long", 2, NULL), "long", NULL);
    if ((rc = rill_topology_build(topo, err, sizeof err)))
        goto out;
    char *text = rill_topology_describe(topo);
    rill_free(text);
    td = rill_test_driver_new(topo, conf, 0, err, sizeof err);
    if (!td) {
        rc = RILL_ENOMEM;
        goto out;
    }
    const char *values[] = {"a", "bb", "ccccccc", "dd", "eeeeeeeeee"};
    for (int i = 0; i < 5 && rc == 0; i++)
        rc = rill_test_driver_pipe_str(td, "in", values[i], values[i], i);
    if (rc == 0 &&
        (rill_test_driver_unread(td, "short") != 2 || rill_test_driver_unread(td, "long") != 2))
        fail_msg("a run that reported success lost records");
out:
    rill_test_driver_destroy(td);
    rill_topology_unref(topo);
    rill_conf_destroy(conf);
    return rc;
}

static void test_every_allocation_may_fail(void **state)
{
    rill_set_allocator(oom_malloc, oom_realloc, free);
    long n;
    for (n = 0;; n++) {
        countdown = n;
        failures = 0;
        int rc = scenario();
        if (failures == 0) {
            assert_int_equal(rc, 0); /* no allocation failed: everything must have worked */
            break;
        }
        assert_true(rc != 0 || failures > 0);
    }
    countdown = -1;
    rill_set_allocator(NULL, NULL, NULL);
    printf("out of memory at each of the %ld allocations of the scenario: all clean\n", n);
    assert_true(n > 20);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_every_allocation_may_fail),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
