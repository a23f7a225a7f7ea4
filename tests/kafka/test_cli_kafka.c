/*
 * `rill reset` and `rill replay` on a real broker (RILL_TEST_BOOTSTRAP; the embedded cluster
 * answers neither DescribeGroups nor DeleteTopics). The app counts records per group key through
 * a repartition topic into a changelogged store and writes the counts out.
 *
 * - reset refuses while the app runs (a live member), a dry run prints the plan and changes
 *   nothing (offsets, internal topics, state folder), and a reset --to-datetime of the first
 *   record's time moves every input offset to 0, deletes the changelog and repartition topics and
 *   wipes the state folder, but keeps the changelog of another app whose id extends this one's:
 *   the rerun's final counts are those of the first run, byte for byte.
 * - replay copies the records of [from, to) of A's inputs (found from A's committed offsets) into
 *   "<B>.<topic>"; the same program run as B on that topic counts exactly those records, beside
 *   A, whose offsets stay where they were; a second replay into B is refused.
 */
#define _GNU_SOURCE /* nftw's FTW_DEPTH | FTW_PHYS */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <rill/app.h>
#include <rill/dsl.h>

#include <librdkafka/rdkafka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "../common/kafka_util.h"
#include "../common/run_command.h"
#include "../common/temp_dir.h"

#define PARTITIONS 4
#define RECORDS    400
#define KEYS       40 /* input keys k0..k39 */
#define GROUPS     7  /* counted by g<key number % 7> */

static const char *bootstrap;
static char run_id[32];
static char state_dir[64];
static int64_t base_ms; /* record i has timestamp base_ms + 1000 i */

/* The group key of an input key "k<n>": "g<n % 7>". */
static int group_of(void *ud, rill_context_t *ctx, const rill_record_t *rec, rill_buf_t *out)
{
    (void)ud;
    char key[16];
    snprintf(key, sizeof key, "%.*s", (int)rec->key.len, (const char *)rec->key.data);
    int n = atoi(key + 1);
    *out = rill_arena_printf(rill_context_arena(ctx), "g%d", n % GROUPS);
    return out->data ? 0 : RILL_ENOMEM;
}

static rill_topology_t *counting(const char *input, const char *output)
{
    rill_topology_t *topo = rill_topology_new();
    rill_grouped_opts_t go = {.name = "by-group"};
    rill_grouped_t *g =
        rill_stream_group_by(rill_stream_from_topic(topo, input, NULL), group_of, NULL, &go);
    rill_materialized_t m = {.name = "counts"};
    rill_sink_opts_t so = {.value_serde = rill_serde_int64()};
    assert_int_equal(rill_stream_to(rill_table_to_stream(rill_grouped_count(g, &m)), output, &so),
                     0);
    assert_int_equal(rill_topology_build(topo, NULL, 0), 0);
    return topo;
}

/* Runs the counting app app_id over input until its commits reach the input's end. */
static void run_app(const char *app_id, const char *input, const char *output)
{
    rill_topology_t *topo = counting(input, output);
    rill_conf_t *conf = rill_conf_new();
    char err[512];
    const char *kv[][2] = {{"application.id", app_id},      {"bootstrap.servers", bootstrap},
                           {"default.key.serde", "string"}, {"default.value.serde", "string"},
                           {"commit.interval.ms", "200"},   {"state.dir", state_dir},
                           {"replication.factor", "1"},     {"session.timeout.ms", "6000"}};
    for (size_t i = 0; i < sizeof kv / sizeof *kv; i++)
        if (rill_conf_set(conf, kv[i][0], kv[i][1], err, sizeof err))
            fail_msg("%s: %s", kv[i][0], err);
    rill_app_t *app = rill_app_new(topo, conf, err, sizeof err);
    if (!app)
        fail_msg("rill_app_new: %s", err);
    assert_int_equal(rill_app_start(app), 0);
    assert_int_equal(rill_app_wait_state(app, RILL_STATE_RUNNING, 60000), 0);
    /* Done when the commits reach the end of the input and of the repartition topic (the
     * counts are flushed before the offsets are committed). */
    char repartition[128];
    snprintf(repartition, sizeof repartition, "%s-by-group-repartition", app_id);
    kafka_wait_committed_at_end(bootstrap, app_id, input, PARTITIONS, 60000);
    kafka_wait_committed_at_end(bootstrap, app_id, repartition, PARTITIONS, 60000);
    /* While it runs, a reset is refused: the group has a live member. */
    char out[8192];
    assert_int_equal(run_rill(out, sizeof out,
                              "reset --bootstrap-servers %s --application-id %s --input-topics %s",
                              bootstrap, app_id, input),
                     3);
    if (!strstr(out, "live member"))
        fail_msg("%s", out);
    assert_int_equal(rill_app_close(app, 30000), 0);
    rill_app_destroy(app);
    rill_topology_unref(topo);
}

/* The last value of each group key in topic from the offsets start (NULL: 0) to the end. */
typedef struct {
    int64_t count[GROUPS];
    char bytes[GROUPS][8];
    bool seen[GROUPS];
} finals_t;

static void read_finals(const char *topic, const int64_t *start, finals_t *f)
{
    memset(f, 0, sizeof *f);
    char err[256];
    rd_kafka_conf_t *kc = rd_kafka_conf_new();
    rd_kafka_conf_set(kc, "bootstrap.servers", bootstrap, err, sizeof err);
    rd_kafka_conf_set(kc, "group.id", "cli-reader", err, sizeof err);
    rd_kafka_conf_set(kc, "enable.partition.eof", "true", err, sizeof err);
    rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_CONSUMER, kc, err, sizeof err);
    rd_kafka_poll_set_consumer(rk);
    rd_kafka_topic_partition_list_t *a = rd_kafka_topic_partition_list_new(PARTITIONS);
    for (int p = 0; p < PARTITIONS; p++)
        rd_kafka_topic_partition_list_add(a, topic, p)->offset = start ? start[p] : 0;
    rd_kafka_assign(rk, a);
    rd_kafka_topic_partition_list_destroy(a);
    for (int eofs = 0, idle = 0; eofs < PARTITIONS && idle < 300;) {
        rd_kafka_message_t *m = rd_kafka_consumer_poll(rk, 100);
        if (!m) {
            idle++;
            continue;
        }
        idle = 0;
        if (m->err == RD_KAFKA_RESP_ERR__PARTITION_EOF) {
            eofs++;
        } else if (!m->err && m->key_len == 2 && m->len == 8) {
            int g = ((const char *)m->key)[1] - '0';
            assert_true(g >= 0 && g < GROUPS);
            memcpy(f->bytes[g], m->payload, 8);
            const uint8_t *b = m->payload;
            f->count[g] = 0;
            for (int i = 0; i < 8; i++)
                f->count[g] = f->count[g] << 8 | b[i];
            f->seen[g] = true;
        }
        rd_kafka_message_destroy(m);
    }
    rd_kafka_consumer_close(rk);
    rd_kafka_destroy(rk);
}

static void end_offsets(const char *topic, int64_t end[PARTITIONS])
{
    rd_kafka_t *rk = kafka_admin(bootstrap);
    for (int p = 0; p < PARTITIONS; p++) {
        int64_t lo;
        assert_int_equal(rd_kafka_query_watermark_offsets(rk, topic, p, &lo, &end[p], 10000), 0);
    }
    rd_kafka_destroy(rk);
}

static void produce_input(const char *topic)
{
    char err[512];
    rill_producer_t *p = rill_producer_new(bootstrap, err, sizeof err);
    assert_non_null(p);
    for (int i = 0; i < RECORDS; i++) {
        char key[16];
        snprintf(key, sizeof key, "k%d", i % KEYS);
        assert_int_equal(rill_producer_send(p, topic, -1, rill_buf_str(key), rill_buf_str("x"),
                                            base_ms + 1000LL * i),
                         0);
    }
    assert_int_equal(rill_producer_flush(p, 30000), 0);
    rill_producer_destroy(p);
}

static void iso(int64_t ms, char *buf, size_t size)
{
    time_t s = (time_t)(ms / 1000);
    struct tm tm;
    gmtime_r(&s, &tm);
    strftime(buf, size, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

static bool exists(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0;
}

/* Makes group exist (as an app that ran does): it commits offset 0 of topic's partition 0. */
static void commit_group(const char *group, const char *topic)
{
    char err[256];
    rd_kafka_conf_t *kc = rd_kafka_conf_new();
    rd_kafka_conf_set(kc, "bootstrap.servers", bootstrap, err, sizeof err);
    rd_kafka_conf_set(kc, "group.id", group, err, sizeof err);
    rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_CONSUMER, kc, err, sizeof err);
    rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(1);
    rd_kafka_topic_partition_list_add(l, topic, 0)->offset = 0;
    assert_int_equal(rd_kafka_commit(rk, l, 0), 0);
    rd_kafka_topic_partition_list_destroy(l);
    rd_kafka_destroy(rk);
}

/* Names in and out after what and the run, creates them, fills in, and runs app over it. */
static void first_run(char in[64], char out[64], const char *what, const char *app)
{
    snprintf(in, 64, "cli-%s-in-%s", what, run_id);
    snprintf(out, 64, "cli-%s-out-%s", what, run_id);
    assert_int_equal(kafka_create_topic(bootstrap, in, PARTITIONS), 0);
    assert_int_equal(kafka_create_topic(bootstrap, out, PARTITIONS), 0);
    produce_input(in);
    run_app(app, in, out);
}

/* The dry runs of the other modes, over app's offsets at the end of in: each plan's target of
 * partition 0, whose end is end. */
static void reset_modes_planned(const char *app, const char *in)
{
    int64_t end[PARTITIONS];
    end_offsets(in, end);
    char file[128], out[16384], want[128];
    snprintf(file, sizeof file, "%s/offsets.csv", state_dir);
    FILE *f = fopen(file, "w");
    assert_non_null(f);
    fprintf(f, "# topic,partition,offset\n%s,0,5\n", in);
    fclose(f);
    const struct {
        const char *mode;
        int64_t to; /* of partition 0; -1: its end */
    } modes[] = {
        {"--to-earliest", 0},      {"--to-offset 3", 3},       {"--to-offset 100000", -1},
        {"--by-duration PT2H", 0}, {"--by-duration PT1M", -1}, {"--from-file", 5},
    };
    for (size_t i = 0; i < sizeof modes / sizeof *modes; i++) {
        bool from_file = strcmp(modes[i].mode, "--from-file") == 0;
        assert_int_equal(run_rill(out, sizeof out,
                                  "reset --bootstrap-servers %s --application-id %s "
                                  "--input-topics %s %s%s%s --dry-run",
                                  bootstrap, app, in, modes[i].mode, from_file ? " " : "",
                                  from_file ? file : ""),
                         0);
        snprintf(want, sizeof want, "    %s-0: %lld -> %lld\n", in, (long long)end[0],
                 (long long)(modes[i].to < 0 ? end[0] : modes[i].to));
        if (!strstr(out, want))
            fail_msg("%s: no \"%s\" in:\n%s", modes[i].mode, want, out);
    }
    kafka_assert_committed_at_end(bootstrap, app, in, PARTITIONS);
}

static void test_reset_then_rerun_reproduces_the_results(void **state)
{
    if (!bootstrap)
        skip();
    char in[64], out_topic[64], app[64], changelog[128], repartition[128], app_dir[128];
    snprintf(app, sizeof app, "cli-reset-%s", run_id);
    snprintf(changelog, sizeof changelog, "%s-counts-changelog", app);
    snprintf(repartition, sizeof repartition, "%s-by-group-repartition", app);
    snprintf(app_dir, sizeof app_dir, "%s/%s", state_dir, app);
    first_run(in, out_topic, "reset", app);
    int64_t end1[PARTITIONS];
    end_offsets(out_topic, end1);
    finals_t first;
    read_finals(out_topic, NULL, &first);
    int64_t sum = 0;
    for (int g = 0; g < GROUPS; g++)
        assert_true(first.seen[g]), sum += first.count[g];
    assert_int_equal(sum, RECORDS);
    assert_int_equal(kafka_partition_count(bootstrap, changelog), PARTITIONS);
    assert_int_equal(kafka_partition_count(bootstrap, repartition), PARTITIONS);
    assert_true(exists(app_dir));
    /* Another application whose id extends this one's: its changelog is named like ours. */
    char other[128], other_changelog[160];
    snprintf(other, sizeof other, "%s-v2", app);
    snprintf(other_changelog, sizeof other_changelog, "%s-counts-changelog", other);
    assert_int_equal(kafka_create_topic(bootstrap, other_changelog, 1), 0);
    commit_group(other, in);

    char when[64], out[16384];
    iso(base_ms, when, sizeof when);
    /* A dry run: the plan, and nothing changed. */
    assert_int_equal(run_rill(out, sizeof out,
                              "reset --bootstrap-servers %s --application-id %s --input-topics %s "
                              "--to-datetime %s --state-dir %s --dry-run",
                              bootstrap, app, in, when, state_dir),
                     0);
    char line[512];
    snprintf(line, sizeof line, "input offsets, to the first records at or after %.19s.000Z", when);
    assert_non_null(strstr(out, line));
    /* Every partition from its end (the committed offset) to 0. */
    for (int p = 0; p < PARTITIONS; p++) {
        snprintf(line, sizeof line, "    %s-%d: ", in, p);
        const char *at = strstr(out, line);
        if (!at || !strstr(at, " -> 0\n") || strstr(at, "(none)") == at + strlen(line))
            fail_msg("no \"%s... -> 0\" in:\n%s", line, out);
    }
    assert_non_null(strstr(out, "internal topics to delete (2):"));
    assert_non_null(strstr(out, changelog));
    assert_non_null(strstr(out, repartition));
    assert_non_null(strstr(out, "local state to wipe: "));
    assert_non_null(strstr(out, "Dry run: nothing was changed."));
    snprintf(line, sizeof line, "  kept, another application's: %s (group '%s')\n", other_changelog,
             other);
    if (!strstr(out, line))
        fail_msg("no \"%s\" in:\n%s", line, out);
    kafka_assert_committed_at_end(bootstrap, app, in, PARTITIONS);
    assert_int_equal(kafka_partition_count(bootstrap, changelog), PARTITIONS);
    assert_int_equal(kafka_partition_count(bootstrap, repartition), PARTITIONS);
    assert_true(exists(app_dir));

    /* The reset itself. */
    assert_int_equal(run_rill(out, sizeof out,
                              "reset --bootstrap-servers %s --application-id %s --input-topics %s "
                              "--to-datetime %s --state-dir %s",
                              bootstrap, app, in, when, state_dir),
                     0);
    if (!strstr(out, "Done: 4 partition offsets moved, 2 internal topics deleted, local state "
                     "wiped."))
        fail_msg("%s", out);
    assert_non_null(strstr(out, "resetting: 7/7 (100%)"));
    assert_int_equal(kafka_partition_count(bootstrap, changelog), -1);
    assert_int_equal(kafka_partition_count(bootstrap, repartition), -1);
    assert_false(exists(app_dir));
    assert_int_equal(kafka_partition_count(bootstrap, other_changelog), 1);

    /* The rerun: the same final counts, byte for byte. */
    run_app(app, in, out_topic);
    finals_t second;
    read_finals(out_topic, end1, &second);
    for (int g = 0; g < GROUPS; g++) {
        assert_true(second.seen[g]);
        assert_memory_equal(second.bytes[g], first.bytes[g], 8);
    }
    reset_modes_planned(app, in);
    const char *const topics[] = {in, out_topic, changelog, repartition, other_changelog};
    kafka_delete_topics(bootstrap, topics, 5);
}

static void test_replay_side_by_side(void **state)
{
    if (!bootstrap)
        skip();
    char in[64], out_topic[64], a[64], b[64], b_in[128], b_out[128];
    snprintf(a, sizeof a, "cli-a-%s", run_id);
    snprintf(b, sizeof b, "cli-b-%s", run_id);
    first_run(in, out_topic, "replay", a);
    snprintf(b_in, sizeof b_in, "%s.%s", b, in);
    snprintf(b_out, sizeof b_out, "%s.%s", b, out_topic);

    /* Records 100 to 299 by time. */
    char from[64], to[64], out[16384];
    iso(base_ms + 100000, from, sizeof from);
    iso(base_ms + 300000, to, sizeof to);
    assert_int_equal(run_rill(out, sizeof out,
                              "replay --bootstrap-servers %s --application-id %s "
                              "--new-application-id %s --from %s --to %s --dry-run",
                              bootstrap, a, b, from, to),
                     0);
    if (!strstr(out, "Dry run: 200 records of 1 input topics would be copied."))
        fail_msg("%s", out);
    assert_int_equal(kafka_partition_count(bootstrap, b_in), -1);
    assert_int_equal(run_rill(out, sizeof out,
                              "replay --bootstrap-servers %s --application-id %s "
                              "--new-application-id %s --from %s --to %s",
                              bootstrap, a, b, from, to),
                     0);
    if (!strstr(out, "Copied: 200 records of 1 input topics."))
        fail_msg("%s", out);
    assert_non_null(strstr(out, "copying: 200/200 (100%)"));
    assert_int_equal(kafka_partition_count(bootstrap, b_in), PARTITIONS);

    /* B beside A: the same program on the copy, its output renamed. */
    assert_int_equal(kafka_create_topic(bootstrap, b_out, PARTITIONS), 0);
    run_app(b, b_in, b_out);
    finals_t got;
    read_finals(b_out, NULL, &got);
    int64_t want[GROUPS] = {0};
    for (int i = 100; i < 300; i++)
        want[(i % KEYS) % GROUPS]++;
    for (int g = 0; g < GROUPS; g++)
        assert_int_equal(got.count[g], want[g]);
    kafka_assert_committed_at_end(bootstrap, a, in, PARTITIONS);

    /* B is used now: a second replay into it is refused. */
    assert_int_equal(run_rill(out, sizeof out,
                              "replay --bootstrap-servers %s --application-id %s "
                              "--new-application-id %s --from %s --to %s",
                              bootstrap, a, b, from, to),
                     3);
    assert_non_null(strstr(out, "already has committed offsets"));
    char ca[128], cb[128], ra[128], rb[128];
    snprintf(ca, sizeof ca, "%s-counts-changelog", a);
    snprintf(cb, sizeof cb, "%s-counts-changelog", b);
    snprintf(ra, sizeof ra, "%s-by-group-repartition", a);
    snprintf(rb, sizeof rb, "%s-by-group-repartition", b);
    const char *const topics[] = {in, out_topic, b_in, b_out, ca, cb, ra, rb};
    kafka_delete_topics(bootstrap, topics, 8);
}

int main(void)
{
    bootstrap = getenv("RILL_TEST_BOOTSTRAP");
    if (!bootstrap || !*bootstrap) {
        bootstrap = NULL;
        fprintf(stderr, "test_cli_kafka: skipped: set RILL_TEST_BOOTSTRAP to a real broker's "
                        "address (scripts/kafka up prints it); `make check` does this for you\n");
    }
    snprintf(run_id, sizeof run_id, "%ld-%d", (long)time(NULL), (int)getpid());
    /* An hour ago, on a whole second: --to-datetime and --from are given to the second. */
    base_ms = ((int64_t)time(NULL) - 3600) * 1000;
    if (temp_dir_make(state_dir, "cli-kafka"))
        return 1;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_reset_then_rerun_reproduces_the_results),
        cmocka_unit_test(test_replay_side_by_side),
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    temp_dir_remove(state_dir);
    return rc;
}
