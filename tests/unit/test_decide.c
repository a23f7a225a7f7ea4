/*
 * rill_stream_decide through the test driver, with the bank account of ../common/bank.h:
 * accepted commands make events and replies (with the correlation id), an overdraft and an
 * expected-version mismatch are rejected with their reasons, thousands of random commands leave
 * a store equal to an independent fold of the event topic (and to the latest changelog value of
 * each account), on both store backends; null keys, a failing decide or evolve, a rejection
 * after events, a decision of no event, no reply topic, a changed key (repartition) and the
 * build's refusals.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <rill/app.h>
#include <rill/dsl.h>
#include <rill/test_driver.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../common/bank.h"

#define APP "test-driver"

static rill_topology_t *bank_topology(const rill_decide_opts_t *over, rill_store_backend_t backend)
{
    rill_topology_t *topo = rill_topology_new();
    rill_decide_opts_t o = over ? *over
                                : (rill_decide_opts_t){.event_topic = "events",
                                                       .reply_topic = "replies",
                                                       .store = "accounts"};
    o.backend = backend;
    rill_stream_t *events = rill_stream_decide(rill_stream_from_topic(topo, "cmd", NULL),
                                               bank_decide, bank_evolve, NULL, &o);
    assert_non_null(events);
    return topo;
}

static rill_test_driver_t *driver(rill_topology_t *topo, const char *handler)
{
    rill_conf_t *conf = rill_conf_new();
    char err[512];
    assert_int_equal(rill_conf_set(conf, "default.key.serde", "string", err, sizeof err), 0);
    assert_int_equal(rill_conf_set(conf, "default.value.serde", "string", err, sizeof err), 0);
    if (handler)
        assert_int_equal(
            rill_conf_set(conf, "processing.exception.handler", handler, err, sizeof err), 0);
    rill_test_driver_t *td = rill_test_driver_new(topo, conf, 0, err, sizeof err);
    if (!td)
        fail_msg("rill_test_driver_new: %s", err);
    rill_conf_destroy(conf);
    return td;
}

/* Pipes command value for account key (NULL: null) with the headers correlation-id=corr and
 * expected-version=expected when not NULL; returns pipe's result. */
static int send(rill_test_driver_t *td, const char *key, const char *value, const char *corr,
                const char *expected)
{
    rill_header_t h[2];
    size_t n = 0;
    if (corr)
        h[n++] = (rill_header_t){"correlation-id", rill_buf_str(corr)};
    if (expected)
        h[n++] = (rill_header_t){"expected-version", rill_buf_str(expected)};
    rill_buf_t k = key ? rill_buf_str(key) : (rill_buf_t){NULL, 0};
    return rill_test_driver_pipe_headers(td, "cmd", -1, k, rill_buf_str(value), 7, h, n);
}

/* Reads the next record of topic and checks its key, value and correlation header (NULL:
 * none). */
static void expect(rill_test_driver_t *td, const char *topic, const char *key, const char *value,
                   const char *corr)
{
    rill_test_record_t r;
    assert_int_equal(rill_test_driver_read(td, topic, &r), 0);
    if (r.key.len != strlen(key) || (r.key.len && memcmp(r.key.data, key, r.key.len) != 0) ||
        r.value.len != strlen(value) || memcmp(r.value.data, value, r.value.len) != 0)
        fail_msg("%s: got %.*s = %.*s, want %s = %s", topic, (int)r.key.len,
                 (const char *)r.key.data, (int)r.value.len, (const char *)r.value.data, key,
                 value);
    assert_int_equal(r.timestamp, 7);
    assert_int_equal(r.header_count, corr ? 1 : 0);
    if (corr) {
        assert_string_equal(r.headers[0].name, "correlation-id");
        assert_int_equal(r.headers[0].value.len, strlen(corr));
        assert_memory_equal(r.headers[0].value.data, corr, strlen(corr));
    }
}

/* The version and balance of account key in store "accounts" (of any partition's task);
 * false when no task holds it. */
static bool stored(rill_test_driver_t *td, const char *key, uint64_t *version, int64_t *balance)
{
    for (int32_t p = 0; p < 8; p++) {
        rill_store_t *kv = rill_test_driver_kv_store(td, "accounts", p);
        rill_buf_t raw, value;
        if (!kv || rill_store_get(kv, rill_buf_str(key), &raw) != 0)
            continue;
        assert_int_equal(rill_stored_split(raw, &value, NULL), 0);
        assert_true(value.len >= 8);
        const uint8_t *b = value.data;
        *version = 0;
        for (int i = 0; i < 8; i++)
            *version = *version << 8 | b[i];
        *balance = bank_balance((rill_buf_t){b + 8, value.len - 8});
        return true;
    }
    return false;
}

static void expect_stored(rill_test_driver_t *td, const char *key, uint64_t version,
                          int64_t balance)
{
    uint64_t v;
    int64_t b;
    assert_true(stored(td, key, &v, &b));
    assert_int_equal(v, version);
    assert_int_equal(b, balance);
}

static void test_accepted_commands(void **state)
{
    (void)state;
    rill_topology_t *topo = bank_topology(NULL, RILL_STORE_DEFAULT);
    rill_test_driver_t *td = driver(topo, NULL);
    assert_int_equal(send(td, "acct", "deposit:100", "c1", NULL), 0);
    assert_int_equal(send(td, "acct", "double:5", "c2", NULL), 0);
    assert_int_equal(send(td, "acct", "withdraw:30", NULL, NULL), 0);
    expect(td, "events", "acct", "deposited:100", "c1");
    expect(td, "events", "acct", "deposited:5", "c2");
    expect(td, "events", "acct", "deposited:5", "c2");
    expect(td, "events", "acct", "withdrew:30", NULL);
    expect(td, "replies", "acct", "{\"status\":\"accepted\",\"version\":1,\"events\":1}", "c1");
    expect(td, "replies", "acct", "{\"status\":\"accepted\",\"version\":3,\"events\":2}", "c2");
    expect(td, "replies", "acct", "{\"status\":\"accepted\",\"version\":4,\"events\":1}", NULL);
    assert_int_equal(rill_test_driver_unread(td, "events"), 0);
    assert_int_equal(rill_test_driver_unread(td, "replies"), 0);
    expect_stored(td, "acct", 4, 80);
    rill_test_driver_destroy(td);
    rill_topology_unref(topo);
}

static void test_overdraft_rejected(void **state)
{
    (void)state;
    rill_topology_t *topo = bank_topology(NULL, RILL_STORE_DEFAULT);
    rill_test_driver_t *td = driver(topo, NULL);
    assert_int_equal(send(td, "acct", "deposit:50", "c1", NULL), 0);
    assert_int_equal(send(td, "acct", "withdraw:80", "c9", NULL), 0);
    assert_int_equal(send(td, "acct", "deposit:0", "c10", NULL), 0);
    expect(td, "events", "acct", "deposited:50", "c1");
    assert_int_equal(rill_test_driver_unread(td, "events"), 0);
    expect(td, "replies", "acct", "{\"status\":\"accepted\",\"version\":1,\"events\":1}", "c1");
    expect(td, "replies", "acct",
           "{\"status\":\"rejected\",\"version\":1,\"reason\":\"insufficient funds: balance 50, "
           "withdrawal 80\"}",
           "c9");
    expect(td, "replies", "acct",
           "{\"status\":\"rejected\",\"version\":1,\"reason\":\"a deposit must be positive\"}",
           "c10");
    expect_stored(td, "acct", 1, 50);
    rill_test_driver_destroy(td);
    rill_topology_unref(topo);
}

static void test_expected_version(void **state)
{
    (void)state;
    rill_topology_t *topo = bank_topology(NULL, RILL_STORE_DEFAULT);
    rill_test_driver_t *td = driver(topo, NULL);
    assert_int_equal(send(td, "acct", "deposit:10", "a", "0"), 0);
    assert_int_equal(send(td, "acct", "deposit:10", "b", "0"), 0);
    assert_int_equal(send(td, "acct", "deposit:10", "c", "x1"), 0);
    assert_int_equal(send(td, "acct", "deposit:10", "d", "99999999999999999999999"), 0);
    assert_int_equal(send(td, "acct", "deposit:10", "e", "1"), 0);
    expect(td, "replies", "acct", "{\"status\":\"accepted\",\"version\":1,\"events\":1}", "a");
    expect(td, "replies", "acct",
           "{\"status\":\"rejected\",\"version\":1,\"reason\":\"expected version 0, actual "
           "version 1\"}",
           "b");
    expect(td, "replies", "acct",
           "{\"status\":\"rejected\",\"version\":1,\"reason\":\"the expected-version header "
           "('x1') is not a version (a decimal count)\"}",
           "c");
    expect(td, "replies", "acct",
           "{\"status\":\"rejected\",\"version\":1,\"reason\":\"the expected-version header "
           "('99999999999999999999999') is not a version (a decimal count)\"}",
           "d");
    expect(td, "replies", "acct", "{\"status\":\"accepted\",\"version\":2,\"events\":1}", "e");
    assert_int_equal(rill_test_driver_unread(td, "events"), 2);
    expect_stored(td, "acct", 2, 20);
    rill_test_driver_destroy(td);
    rill_topology_unref(topo);
}

/* ---- random commands: the store is a fold of the events ---------------------------------- */

#define ACCOUNTS 20
#define COMMANDS 3000

static int account_of(rill_buf_t key)
{
    int i;
    char buf[16];
    assert_true(key.len < sizeof buf);
    memcpy(buf, key.data, key.len);
    buf[key.len] = 0;
    assert_int_equal(sscanf(buf, "acct-%d", &i), 1);
    assert_true(i >= 0 && i < ACCOUNTS);
    return i;
}

static void run_random(rill_store_backend_t backend)
{
    rill_topology_t *topo = bank_topology(NULL, backend);
    rill_test_driver_t *td = driver(topo, NULL);
    assert_int_equal(rill_test_driver_set_partitions(td, "cmd", 4), 0);
    bank_account_t model[ACCOUNTS] = {{0}};
    srand(14);
    int accepted = 0, rejected = 0;
    for (int c = 0; c < COMMANDS; c++) {
        int a = rand() % ACCOUNTS;
        char key[16], value[32], corr[16], want[160];
        snprintf(key, sizeof key, "acct-%d", a);
        snprintf(corr, sizeof corr, "c%d", c);
        bank_random_command(value, sizeof value);
        if (bank_model(&model[a], value, want, sizeof want) < 0)
            rejected++;
        else
            accepted++;
        assert_int_equal(send(td, key, value, corr, NULL), 0);
        expect(td, "replies", key, want, corr);
    }
    if (rejected < COMMANDS / 20 || accepted < COMMANDS / 2)
        fail_msg("%d accepted, %d rejected: not a mix", accepted, rejected);

    /* The event topic folded here, apart from the store. */
    bank_account_t fold[ACCOUNTS] = {{0}};
    rill_test_record_t r;
    while (rill_test_driver_read(td, "events", &r) == 0) {
        bank_account_t *f = &fold[account_of(r.key)];
        if (!bank_fold(f, r.value))
            fail_msg("unexpected event '%.*s'", (int)r.value.len, (const char *)r.value.data);
        assert_true(f->balance >= 0); /* never an overdraft, at any point of the log */
    }
    /* The changelog's latest value of each account is what a restore would load. */
    rill_buf_t last[ACCOUNTS] = {{0}};
    while (rill_test_driver_read(td, APP "-accounts-changelog", &r) == 0)
        last[account_of(r.key)] = r.value;
    for (int a = 0; a < ACCOUNTS; a++) {
        char key[16];
        snprintf(key, sizeof key, "acct-%d", a);
        assert_int_equal(fold[a].balance, model[a].balance);
        assert_int_equal(fold[a].version, model[a].version);
        if (!model[a].version)
            continue;
        expect_stored(td, key, fold[a].version, fold[a].balance);
        assert_int_equal(last[a].len, 16);
        uint64_t v = 0;
        for (int i = 0; i < 8; i++)
            v = v << 8 | ((const uint8_t *)last[a].data)[i];
        assert_int_equal(v, fold[a].version);
        assert_int_equal(bank_balance((rill_buf_t){(const uint8_t *)last[a].data + 8, 8}),
                         fold[a].balance);
    }
    printf("%s: %d commands over %d accounts, %d accepted, %d rejected; the store equals the "
           "fold of the event topic and the changelog's latest values\n",
           backend == RILL_STORE_IN_MEMORY ? "in memory" : "RocksDB", COMMANDS, ACCOUNTS, accepted,
           rejected);
    rill_test_driver_destroy(td);
    rill_topology_unref(topo);
}

static void test_random_commands_in_memory(void **state)
{
    (void)state;
    run_random(RILL_STORE_IN_MEMORY);
}

static void test_random_commands_rocksdb(void **state)
{
    (void)state;
    run_random(RILL_STORE_ROCKSDB);
}

/* ---- edges ------------------------------------------------------------------------------- */

static void test_null_key_skipped(void **state)
{
    (void)state;
    rill_topology_t *topo = bank_topology(NULL, RILL_STORE_DEFAULT);
    rill_test_driver_t *td = driver(topo, NULL);
    assert_int_equal(send(td, NULL, "deposit:5", "c1", NULL), 0);
    assert_int_equal(rill_test_driver_metric(td, "records-skipped"), 1);
    assert_int_equal(rill_test_driver_unread(td, "events"), 0);
    /* Its caller learns it was refused, by its correlation id. */
    expect(td, "replies", "",
           "{\"status\":\"rejected\",\"version\":0,\"reason\":\"its key (the aggregate's id) is "
           "null\"}",
           "c1");
    assert_int_equal(rill_test_driver_unread(td, "replies"), 0);
    rill_test_driver_destroy(td);
    rill_topology_unref(topo);
}

/* A decide that fails stops the app under the default handler, naming node and reason; under
 * "continue" the command is dropped with nothing written. So is a decision whose events evolve
 * refuses: neither its first event nor its reply comes out, and the state stays. */
static void test_failures_write_nothing(void **state)
{
    (void)state;
    rill_topology_t *topo = bank_topology(NULL, RILL_STORE_DEFAULT);
    rill_test_driver_t *td = driver(topo, NULL);
    assert_int_equal(send(td, "acct", "deposit:5", NULL, NULL), 0);
    assert_int_not_equal(send(td, "acct", "fail", NULL, NULL), 0);
    const char *err = rill_test_driver_error(td);
    if (!strstr(err, "KSTREAM-DECIDE-") || !strstr(err, "the bank cannot decide 'fail'"))
        fail_msg("the error names no node or reason: %s", err);
    rill_test_driver_destroy(td);

    td = driver(topo, "continue");
    assert_int_equal(send(td, "acct", "deposit:5", NULL, NULL), 0);
    assert_int_equal(send(td, "acct", "fail", NULL, NULL), 0);
    assert_int_equal(send(td, "acct", "bogus", NULL, NULL), 0);
    assert_int_equal(send(td, "acct", "deposit:1", NULL, NULL), 0);
    expect(td, "events", "acct", "deposited:5", NULL);
    expect(td, "events", "acct", "deposited:1", NULL);
    assert_int_equal(rill_test_driver_unread(td, "events"), 0);
    expect(td, "replies", "acct", "{\"status\":\"accepted\",\"version\":1,\"events\":1}", NULL);
    expect(td, "replies", "acct", "{\"status\":\"accepted\",\"version\":2,\"events\":1}", NULL);
    assert_int_equal(rill_test_driver_unread(td, "replies"), 0);
    expect_stored(td, "acct", 2, 6);
    rill_test_driver_destroy(td);
    rill_topology_unref(topo);
}

/* A read model downstream of the events that fails on the second event of a double deposit. */
static int fail_second(void *ud, rill_context_t *ctx, const rill_record_t *rec, rill_buf_t *out)
{
    int *seen = ud;
    if (++*seen == 2)
        return rill_context_fail(ctx, RILL_EINVAL, "the read model refuses event %d", *seen);
    *out = rec->value;
    return 0;
}

/* A node downstream of the events failing after one of a command's two events went out stops
 * the task even under "continue": the event topic would hold an event the state lacks. */
static void test_downstream_failure_stops(void **state)
{
    (void)state;
    rill_topology_t *topo = rill_topology_new();
    rill_decide_opts_t o = {.event_topic = "events", .reply_topic = "replies", .store = "accounts"};
    rill_stream_t *events = rill_stream_decide(rill_stream_from_topic(topo, "cmd", NULL),
                                               bank_decide, bank_evolve, NULL, &o);
    int seen = 0;
    rill_stream_to(rill_stream_map_values(events, fail_second, &seen), "model", NULL);
    rill_test_driver_t *td = driver(topo, "continue");
    assert_int_not_equal(send(td, "acct", "double:3", NULL, NULL), 0);
    const char *err = rill_test_driver_error(td);
    if (!strstr(err, "at its event 2 of 2, after events went out") || !strstr(err, "'accounts'"))
        fail_msg("the error does not say events went out: %s", err);
    assert_int_equal(rill_test_driver_unread(td, "replies"), 0);
    rill_test_driver_destroy(td);
    rill_topology_unref(topo);
}

/* Emits an event, rejects, then tries to emit again (refused); the quote and the newline of
 * the reason are escaped in the reply. */
static int emit_then_reject(void *ud, rill_context_t *ctx, const rill_record_t *cmd,
                            rill_buf_t state, rill_decision_t *out)
{
    (void)ud, (void)ctx, (void)cmd, (void)state;
    assert_int_equal(rill_decision_emit(out, (rill_buf_t){NULL, 0}), RILL_EINVAL);
    assert_int_equal(rill_decision_emit(out, rill_buf_str("deposited:1")), 0);
    assert_int_equal(rill_decision_reject(out, "no \"way\"\n"), 0);
    assert_int_equal(rill_decision_emit(out, rill_buf_str("deposited:2")), RILL_ESTATE);
    return 0;
}

static void test_rejection_discards_events(void **state)
{
    (void)state;
    rill_topology_t *topo = rill_topology_new();
    rill_decide_opts_t o = {.event_topic = "events", .reply_topic = "replies"};
    assert_non_null(rill_stream_decide(rill_stream_from_topic(topo, "cmd", NULL), emit_then_reject,
                                       bank_evolve, NULL, &o));
    rill_test_driver_t *td = driver(topo, NULL);
    assert_int_equal(send(td, "acct", "x", "c1", NULL), 0);
    assert_int_equal(rill_test_driver_unread(td, "events"), 0);
    expect(td, "replies", "acct",
           "{\"status\":\"rejected\",\"version\":0,\"reason\":\"no \\\"way\\\"\\u000a\"}", "c1");
    rill_test_driver_destroy(td);
    rill_topology_unref(topo);
}

/* Accepts every command with no event. */
static int emit_nothing(void *ud, rill_context_t *ctx, const rill_record_t *cmd, rill_buf_t state,
                        rill_decision_t *out)
{
    (void)ud, (void)ctx, (void)cmd, (void)state, (void)out;
    return 0;
}

/* A decision of no event is accepted at the same version, and writes no state. */
static void test_no_event_writes_no_state(void **state)
{
    (void)state;
    rill_topology_t *topo = rill_topology_new();
    rill_decide_opts_t o = {.event_topic = "events", .reply_topic = "replies", .store = "accounts"};
    assert_non_null(rill_stream_decide(rill_stream_from_topic(topo, "cmd", NULL), emit_nothing,
                                       bank_evolve, NULL, &o));
    rill_test_driver_t *td = driver(topo, NULL);
    assert_int_equal(send(td, "acct", "x", "c1", "0"), 0);
    assert_int_equal(send(td, "acct", "x", "c2", "0"), 0);
    expect(td, "replies", "acct", "{\"status\":\"accepted\",\"version\":0,\"events\":0}", "c1");
    expect(td, "replies", "acct", "{\"status\":\"accepted\",\"version\":0,\"events\":0}", "c2");
    assert_int_equal(rill_test_driver_unread(td, "events"), 0);
    assert_int_equal(rill_test_driver_metric(td, "changelog-writes"), 0);
    uint64_t v;
    int64_t b;
    assert_false(stored(td, "acct", &v, &b));
    rill_test_driver_destroy(td);
    rill_topology_unref(topo);
}

/* Without a reply topic only events come out (a rejected withdrawal: nothing at all); another
 * child of the returned stream sees the events; the node has the name given. */
static void test_no_replies(void **state)
{
    (void)state;
    rill_topology_t *topo = rill_topology_new();
    rill_decide_opts_t o = {.event_topic = "events", .store = "accounts", .name = "bank"};
    rill_stream_t *events =
        rill_stream_decide(rill_stream_merge(rill_stream_from_topic(topo, "cmd", NULL),
                                             rill_stream_from_topic(topo, "cmd2", NULL)),
                           bank_decide, bank_evolve, NULL, &o);
    assert_string_equal(rill_stream_name(events), "bank");
    assert_int_equal(rill_stream_to(events, "copy", NULL), 0);
    rill_test_driver_t *td = driver(topo, NULL);
    assert_int_equal(send(td, "acct", "deposit:3", NULL, NULL), 0);
    assert_int_equal(rill_test_driver_pipe_str(td, "cmd2", "acct", "withdraw:4", 7), 0);
    expect(td, "events", "acct", "deposited:3", NULL);
    expect(td, "copy", "acct", "deposited:3", NULL);
    assert_int_equal(rill_test_driver_unread(td, "events"), 0);
    assert_int_equal(rill_test_driver_unread(td, "copy"), 0);
    assert_int_equal(rill_test_driver_unread(td, "replies"), 0);
    expect_stored(td, "acct", 1, 3);
    rill_test_driver_destroy(td);
    rill_topology_unref(topo);
}

/* Keys "<account>/<anything>" keyed by account: a changed key. */
static int account_prefix(void *ud, rill_context_t *ctx, const rill_record_t *rec, rill_buf_t *out)
{
    (void)ud, (void)ctx;
    const char *slash = memchr(rec->key.data, '/', rec->key.len);
    *out = (rill_buf_t){rec->key.data,
                        slash ? (size_t)(slash - (const char *)rec->key.data) : rec->key.len};
    return 0;
}

static void test_changed_key_repartitions(void **state)
{
    (void)state;
    rill_topology_t *topo = rill_topology_new();
    rill_decide_opts_t o = {.event_topic = "events", .reply_topic = "replies", .store = "accounts"};
    rill_stream_t *cmds =
        rill_stream_select_key(rill_stream_from_topic(topo, "cmd", NULL), account_prefix, NULL);
    assert_non_null(rill_stream_decide(cmds, bank_decide, bank_evolve, NULL, &o));
    rill_test_driver_t *td = driver(topo, NULL);
    assert_int_equal(rill_test_driver_set_partitions(td, "cmd", 4), 0);
    assert_int_equal(send(td, "acct/1", "deposit:3", NULL, NULL), 0);
    assert_int_equal(send(td, "acct/2", "deposit:4", NULL, NULL), 0);
    assert_int_equal(send(td, "acct/3", "withdraw:6", NULL, NULL), 0);
    assert_int_equal(rill_test_driver_unread(td, APP "-accounts-repartition"), 3);
    expect(td, "events", "acct", "deposited:3", NULL);
    expect(td, "events", "acct", "deposited:4", NULL);
    expect(td, "events", "acct", "withdrew:6", NULL);
    expect_stored(td, "acct", 3, 1);
    rill_test_driver_destroy(td);
    rill_topology_unref(topo);
}

static void expect_refused(const rill_decide_opts_t *o, bool evolve, const char *why)
{
    rill_topology_t *topo = rill_topology_new();
    rill_stream_t *cmds = rill_stream_from_topic(topo, "cmd", NULL);
    assert_null(rill_stream_decide(cmds, bank_decide, evolve ? bank_evolve : NULL, NULL, o));
    char err[512];
    assert_int_equal(rill_topology_build(topo, err, sizeof err), RILL_ETOPOLOGY);
    if (!strstr(err, "decide after 'KSTREAM-SOURCE-") || !strstr(err, why))
        fail_msg("the build's error '%s' does not say '%s'", err, why);
    rill_topology_unref(topo);
}

static void test_build_refusals(void **state)
{
    (void)state;
    rill_decide_opts_t ok = {.event_topic = "events"};
    expect_refused(&ok, false, "its evolve function is NULL");
    expect_refused(NULL, true, "it has no event topic");
    expect_refused(&(rill_decide_opts_t){.event_topic = ""}, true, "it has no event topic");
    expect_refused(&(rill_decide_opts_t){.event_topic = "e", .reply_topic = ""}, true,
                   "its reply topic is empty");
    assert_null(rill_stream_decide(NULL, bank_decide, bank_evolve, NULL, &ok));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_accepted_commands),
        cmocka_unit_test(test_overdraft_rejected),
        cmocka_unit_test(test_expected_version),
        cmocka_unit_test(test_random_commands_in_memory),
        cmocka_unit_test(test_random_commands_rocksdb),
        cmocka_unit_test(test_null_key_skipped),
        cmocka_unit_test(test_downstream_failure_stops),
        cmocka_unit_test(test_failures_write_nothing),
        cmocka_unit_test(test_rejection_discards_events),
        cmocka_unit_test(test_no_event_writes_no_state),
        cmocka_unit_test(test_no_replies),
        cmocka_unit_test(test_changed_key_repartitions),
        cmocka_unit_test(test_build_refusals),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
