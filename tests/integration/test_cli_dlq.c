/*
 * `rill dlq list|show|replay` on the embedded cluster, against a running app whose map fails
 * the records marked poison (the bug) and sends them to its dead letter queue. The tool groups
 * them by class and node, shows one decoded (its headers and its JSON pretty-printed); a replay
 * before the fix makes them fail again, counted by the replay header; a dry run sends nothing;
 * after the fix (the failing callback switched off), a replay with --max-replays 1 sends each
 * failed record once and refuses the copies that already went round, so the app's output holds
 * every input record exactly once. `rill reset` refuses the embedded cluster, which cannot tell
 * whether the group has live members.
 */
#define _GNU_SOURCE /* nftw's FTW_DEPTH | FTW_PHYS */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <rill/app.h>
#include <rill/dsl.h>

#include <librdkafka/rdkafka.h>

#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "../common/embedded_app.h"
#include "../common/kafka_util.h"
#include "../common/run_command.h"
#include "../common/temp_dir.h"

#define TOTAL  200
#define POISON 20 /* every 10th record */

static char state_dir[64];
static atomic_bool broken = true;

/* The app's map: a poison record fails while the bug is in. */
static int check(void *ud, rill_context_t *ctx, const rill_record_t *rec, rill_buf_t *out)
{
    (void)ud;
    if (atomic_load(&broken) && memmem(rec->value.data, rec->value.len, "\"poison\":true", 13))
        return rill_context_fail(ctx, RILL_EPROCESS, "a poison record");
    *out = rec->value;
    return 0;
}

/* Sum of the end offsets of topic's 4 partitions. */
static int64_t end_offsets(const char *bootstrap, const char *topic)
{
    rd_kafka_t *rk = kafka_admin(bootstrap);
    int64_t total = 0, lo, hi;
    for (int32_t p = 0; p < 4; p++) {
        assert_int_equal(rd_kafka_query_watermark_offsets(rk, topic, p, &lo, &hi, 10000), 0);
        total += hi;
    }
    rd_kafka_destroy(rk);
    return total;
}

/* Waits (30 s at most) until topic holds n records. */
static void wait_records(const char *bootstrap, const char *topic, int64_t n)
{
    int64_t have = 0;
    for (int i = 0; i < 300 && (have = end_offsets(bootstrap, topic)) < n; i++)
        nanosleep(&(struct timespec){0, 100 * 1000 * 1000}, NULL);
    assert_int_equal(have, n);
}

static void count_id(void *ud, const rd_kafka_message_t *m, int n)
{
    int *seen = ud, id = -1;
    (void)n;
    char v[64];
    snprintf(v, sizeof v, "%.*s", (int)m->len, (const char *)m->payload);
    if (sscanf(v, "{\"id\":%d", &id) == 1 && id >= 0 && id < TOTAL)
        seen[id]++;
}

static void test_dlq_list_show_replay(void **state)
{
    (void)state;
    rill_topology_t *topo = rill_topology_new();
    rill_stream_t *s = rill_stream_from_topic(topo, "cli-in", NULL);
    assert_int_equal(rill_stream_to(rill_stream_map_values(s, check, NULL), "cli-out", NULL), 0);
    const char *const extra[] = {"processing.exception.handler", "continue",
                                 "errors.dead.letter.queue.topic.name", "cli-dlq", NULL};
    rill_app_t *app = embedded_app_new(topo, "cli-it", state_dir, extra);
    const char *bootstrap = rill_app_bootstrap_servers(app);
    char err[512];
    rill_producer_t *p = rill_producer_new(bootstrap, err, sizeof err);
    assert_non_null(p);
    for (int i = 0; i < TOTAL; i++) {
        char key[16], value[64];
        snprintf(key, sizeof key, "k%d", i);
        snprintf(value, sizeof value, "{\"id\":%d,\"poison\":%s}", i,
                 i % 10 == 3 ? "true" : "false");
        assert_int_equal(
            rill_producer_send(p, "cli-in", -1, rill_buf_str(key), rill_buf_str(value), 1000 + i),
            0);
    }
    assert_int_equal(rill_producer_flush(p, 10000), 0);
    assert_int_equal(rill_app_start(app), 0);
    assert_int_equal(rill_app_wait_state(app, RILL_STATE_RUNNING, 30000), 0);
    wait_records(bootstrap, "cli-out", TOTAL - POISON);
    wait_records(bootstrap, "cli-dlq", POISON);

    char out[16384];
    /* list: one group, its class and node, its count. */
    assert_int_equal(
        run_rill(out, sizeof out, "dlq list --bootstrap-servers %s --topic cli-dlq", bootstrap), 0);
    assert_non_null(strstr(out, "      20  rill.ProcessingError"));
    assert_non_null(strstr(out, "KSTREAM-MAPVALUES-0000000001"));
    assert_non_null(strstr(out, "20 dead letters in 1 groups."));
    assert_non_null(strstr(out, "reading: 20/20 (100%)")); /* progress lines, not a bar */
    assert_int_equal(run_rill(out, sizeof out,
                              "dlq list --bootstrap-servers %s --topic cli-dlq --error-class "
                              "rill.DeserializationError",
                              bootstrap),
                     0);
    assert_non_null(strstr(out, "0 dead letters in 0 groups."));

    /* show: the first dead letter of a partition that has one. */
    int shown = 0;
    for (int part = 0; part < 4 && !shown; part++) {
        int rc = run_rill(out, sizeof out,
                          "dlq show --bootstrap-servers %s --topic cli-dlq "
                          "--partition %d --offset 0",
                          bootstrap, part);
        if (rc == 0) {
            shown = 1;
            assert_non_null(strstr(out, "error: rill.ProcessingError(RILL_EPROCESS) at node "
                                        "'KSTREAM-MAPVALUES-0000000001' of application 'cli-it'"));
            assert_non_null(strstr(out, "read from: topic 'cli-in' partition"));
            assert_non_null(strstr(out, "replays: 0\n"));
            assert_non_null(strstr(out, "  __streams.errors.task.id: \"0_"));
            assert_non_null(strstr(out, "value (JSON, "));
            assert_non_null(strstr(out, "  \"poison\": true\n}"));
        } else {
            assert_int_equal(rc, 1);
            assert_non_null(strstr(out, "no record at 'cli-dlq'"));
        }
    }
    assert_true(shown);

    /* A replay before the fix: they fail again, each dead letter now counting one replay. */
    assert_int_equal(
        run_rill(out, sizeof out, "dlq replay --bootstrap-servers %s --topic cli-dlq", bootstrap),
        0);
    assert_non_null(strstr(out, "Replayed: 20 selected"));
    assert_non_null(strstr(out, "20 sent to their source topics, 0 refused"));
    wait_records(bootstrap, "cli-dlq", 2 * POISON);
    assert_int_equal(end_offsets(bootstrap, "cli-in"), TOTAL + POISON);

    /* A dry run sends nothing, and says the second round's copies would be refused. */
    assert_int_equal(run_rill(out, sizeof out,
                              "dlq replay --bootstrap-servers %s --topic cli-dlq --max-replays "
                              "1 --dry-run",
                              bootstrap),
                     0);
    assert_non_null(strstr(out, "Dry run: 40 selected"));
    assert_non_null(strstr(out, "20 would be sent to their source topics, 20 refused"));
    nanosleep(&(struct timespec){0, 500 * 1000 * 1000}, NULL);
    assert_int_equal(end_offsets(bootstrap, "cli-in"), TOTAL + POISON);
    assert_int_equal(end_offsets(bootstrap, "cli-dlq"), 2 * POISON);

    /* The fix, then the replay: each failed record once. */
    atomic_store(&broken, false);
    assert_int_equal(run_rill(out, sizeof out,
                              "dlq replay --bootstrap-servers %s --topic cli-dlq --max-replays 1",
                              bootstrap),
                     0);
    assert_non_null(strstr(out, "20 sent to their source topics, 20 refused"));
    wait_records(bootstrap, "cli-out", TOTAL);
    assert_int_equal(rill_app_close(app, 10000), 0);
    assert_int_equal(end_offsets(bootstrap, "cli-out"), TOTAL);
    assert_int_equal(end_offsets(bootstrap, "cli-dlq"), 2 * POISON);
    static int seen[TOTAL];
    assert_int_equal(kafka_read_each(bootstrap, "cli-out", TOTAL, count_id, seen), TOTAL);
    for (int i = 0; i < TOTAL; i++)
        assert_int_equal(seen[i], 1);

    /* On a terminal (script(1) gives it one), the progress is a bar redrawn in place. */
    char cmd[1024];
    snprintf(cmd, sizeof cmd,
             "script -qec '" RILL_BIN_DIR "/rill dlq list --bootstrap-servers %s --topic cli-dlq' "
             "/dev/null",
             bootstrap);
    assert_int_equal(run(cmd, out, sizeof out), 0);
    assert_non_null(strstr(out, "\rreading [##############################] 100% 40/40"));
    assert_null(strstr(out, "reading: 40/40"));

    /* reset: the embedded cluster cannot say whether the group has members: refused. */
    assert_int_equal(run_rill(out, sizeof out,
                              "reset --bootstrap-servers %s --application-id cli-it "
                              "--input-topics cli-in --dry-run",
                              bootstrap),
                     1);
    assert_non_null(strstr(out, "asking for the members of group 'cli-it'"));

    rill_producer_destroy(p);
    rill_app_destroy(app);
    rill_topology_unref(topo);
}

int main(void)
{
    if (temp_dir_make(state_dir, "cli-it"))
        return 1;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_dlq_list_show_replay),
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    temp_dir_remove(state_dir);
    return rc;
}
