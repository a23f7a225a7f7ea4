/*
 * rill_stream_decide as an app on the embedded cluster (4 partitions a topic), with the bank
 * account of ../common/bank.h. Under exactly_once_v2: random commands over several accounts
 * give exactly the events and the replies a model of the bank predicts, each reply with its
 * command's correlation id, and the event topic folds to the model's balances and versions.
 * Then a restart on an empty state directory: the states come back from their changelog, and the
 * commands after it continue the versions and balances where they were.
 */
#define _GNU_SOURCE /* nftw's FTW_DEPTH | FTW_PHYS */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <rill/app.h>
#include <rill/dsl.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "../common/bank.h"
#include "../common/embedded_app.h"
#include "../common/kafka_util.h"
#include "../common/temp_dir.h"

#define ACCOUNTS  12
#define COMMANDS  300 /* per round */
#define BASE_TIME INT64_C(1700000000000)

static char state_dir[64];

/* What the model expects: each account, and each command's reply by its correlation id. */
typedef struct {
    bank_account_t accounts[ACCOUNTS];
    char replies[2 * COMMANDS][160];
    int sent, events, rejected;
} model_t;

/* Sends COMMANDS random commands, correlation ids "c<n>" from model->sent on, and models them. */
static void produce_round(rd_kafka_t *p, const char *topic, model_t *model)
{
    for (int i = 0; i < COMMANDS; i++) {
        int a = rand() % ACCOUNTS, c = model->sent++;
        char key[16], value[32], corr[16];
        snprintf(key, sizeof key, "acct-%d", a);
        snprintf(corr, sizeof corr, "c%d", c);
        bank_random_command(value, sizeof value);
        int n = bank_model(&model->accounts[a], value, model->replies[c], sizeof model->replies[c]);
        if (n < 0)
            model->rejected++;
        else
            model->events += n;
        assert_int_equal(
            rd_kafka_producev(p, RD_KAFKA_V_TOPIC(topic), RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
                              RD_KAFKA_V_KEY(key, strlen(key)),
                              RD_KAFKA_V_VALUE(value, strlen(value)),
                              RD_KAFKA_V_TIMESTAMP(BASE_TIME + c),
                              RD_KAFKA_V_HEADER("correlation-id", corr, -1), RD_KAFKA_V_END),
            RD_KAFKA_RESP_ERR_NO_ERROR);
    }
    assert_int_equal(rd_kafka_flush(p, 10000), RD_KAFKA_RESP_ERR_NO_ERROR);
}

/* A producer of bootstrap that keeps the order of each key's commands (idempotent). */
static rd_kafka_t *producer(const char *bootstrap)
{
    char err[256];
    rd_kafka_conf_t *kc = rd_kafka_conf_new();
    assert_int_equal(rd_kafka_conf_set(kc, "bootstrap.servers", bootstrap, err, sizeof err), 0);
    assert_int_equal(rd_kafka_conf_set(kc, "enable.idempotence", "true", err, sizeof err), 0);
    rd_kafka_t *p = rd_kafka_new(RD_KAFKA_PRODUCER, kc, err, sizeof err);
    if (!p)
        fail_msg("rd_kafka_new: %s", err);
    return p;
}

/* The event topic folded, and the replies checked against the model, as they are read. */
typedef struct {
    const model_t *model;
    bank_account_t folded[ACCOUNTS];
    int seen[2 * COMMANDS];
    int bad;
} check_t;

static int account_of(const rd_kafka_message_t *m)
{
    int a = -1;
    char key[16];
    if (m->key_len < sizeof key) {
        memcpy(key, m->key, m->key_len);
        key[m->key_len] = 0;
        sscanf(key, "acct-%d", &a);
    }
    return a >= 0 && a < ACCOUNTS ? a : -1;
}

static void fold_event(void *ud, const rd_kafka_message_t *m)
{
    check_t *c = ud;
    int a = account_of(m);
    if (a < 0 || !bank_fold(&c->folded[a], (rill_buf_t){m->payload, m->len}) ||
        c->folded[a].balance < 0)
        c->bad++;
}

static void check_reply(void *ud, const rd_kafka_message_t *m)
{
    check_t *c = ud;
    rd_kafka_headers_t *hdrs = NULL;
    const void *v;
    size_t len;
    char corr[16];
    int n = -1;
    if (rd_kafka_message_headers(m, &hdrs) || !hdrs ||
        rd_kafka_header_get_last(hdrs, "correlation-id", &v, &len) || len >= sizeof corr) {
        c->bad++;
        return;
    }
    memcpy(corr, v, len);
    corr[len] = 0;
    if (sscanf(corr, "c%d", &n) != 1 || n < 0 || n >= c->model->sent) {
        c->bad++;
        return;
    }
    const char *want = c->model->replies[n];
    if (c->seen[n]++ || m->len != strlen(want) || memcmp(m->payload, want, m->len) != 0) {
        printf("reply %s: '%.*s', want '%s'\n", corr, (int)m->len, (const char *)m->payload, want);
        c->bad++;
    }
}

/* Reads both topics to their ends and checks them against the model exactly. */
static void check_outputs(const char *bootstrap, const model_t *model)
{
    static check_t c;
    memset(&c, 0, sizeof c);
    c.model = model;
    assert_int_equal(
        kafka_read_to_end(bootstrap, "read_committed", 4, "bank-events", fold_event, &c),
        model->events);
    assert_int_equal(
        kafka_read_to_end(bootstrap, "read_committed", 4, "bank-replies", check_reply, &c),
        model->sent);
    assert_int_equal(c.bad, 0);
    for (int a = 0; a < ACCOUNTS; a++) {
        assert_int_equal(c.folded[a].balance, model->accounts[a].balance);
        assert_int_equal(c.folded[a].version, model->accounts[a].version);
    }
}

static rill_topology_t *bank_topology(void)
{
    rill_topology_t *topo = rill_topology_new();
    rill_decide_opts_t o = {
        .event_topic = "bank-events", .reply_topic = "bank-replies", .store = "accounts"};
    assert_non_null(rill_stream_decide(rill_stream_from_topic(topo, "bank-commands", NULL),
                                       bank_decide, bank_evolve, NULL, &o));
    return topo;
}

/* Exactly once: one round of commands, processed by one instance, gives exactly the model's
 * events and replies. */
static void test_exactly_once_counts(void **state)
{
    (void)state;
    static model_t model;
    srand(1414);
    rill_topology_t *topo = bank_topology();
    char dir[96];
    snprintf(dir, sizeof dir, "%s/eos", state_dir);
    const char *const eos[] = {"processing.guarantee", "exactly_once_v2", NULL};
    rill_app_t *app = embedded_app_new(topo, "bank-eos", dir, eos);
    const char *bootstrap = rill_app_bootstrap_servers(app);
    rd_kafka_t *p = producer(bootstrap);
    produce_round(p, "bank-commands", &model);
    assert_int_equal(rill_app_start(app), 0);
    embedded_wait_metric(app, "records-processed", COMMANDS);
    assert_int_equal(rill_app_close(app, 30000), 0);
    assert_int_equal(rill_app_metric(app, "records-processed"), COMMANDS);
    check_outputs(bootstrap, &model);
    printf("exactly_once_v2: %d commands over %d accounts: %d events, %d replies (%d "
           "rejections), each as the model predicts\n",
           model.sent, ACCOUNTS, model.events, model.sent, model.rejected);
    rd_kafka_destroy(p);
    rill_app_destroy(app);
    rill_topology_unref(topo);
}

/* A restart on an empty state directory: the second instance restores the states from the
 * changelog, and its replies (versions, the balances in rejections) continue the first's. */
static void test_restart_restores_states(void **state)
{
    (void)state;
    static model_t model;
    srand(2828);
    rill_topology_t *topo = bank_topology();
    char one[96], two[96];
    snprintf(one, sizeof one, "%s/one", state_dir);
    snprintf(two, sizeof two, "%s/two", state_dir);
    rill_app_t *first = embedded_app_new(topo, "bank-restart", one, NULL);
    const char *bootstrap = rill_app_bootstrap_servers(first);
    rd_kafka_t *p = producer(bootstrap);
    produce_round(p, "bank-commands", &model);
    assert_int_equal(rill_app_start(first), 0);
    kafka_wait_committed_at_end(bootstrap, "bank-restart", "bank-commands", 4, 60000);
    assert_int_equal(rill_app_close(first, 30000), 0);

    const char *const more[] = {"bootstrap.servers", bootstrap, NULL};
    rill_app_t *second = embedded_app_new(topo, "bank-restart", two, more);
    produce_round(p, "bank-commands", &model);
    assert_int_equal(rill_app_start(second), 0);
    kafka_wait_committed_at_end(bootstrap, "bank-restart", "bank-commands", 4, 60000);
    assert_int_equal(rill_app_close(second, 30000), 0);
    int64_t restored = rill_app_metric(second, "records-restored");
    assert_int_equal(rill_app_metric(second, "records-processed"), COMMANDS);
    assert_true(restored >= ACCOUNTS / 2);
    check_outputs(bootstrap, &model);
    printf("restart: %d commands, then %d more on an empty state directory after %lld changelog "
           "records restored: %d events, %d replies, as the model predicts\n",
           COMMANDS, COMMANDS, (long long)restored, model.events, model.sent);
    rd_kafka_destroy(p);
    rill_app_destroy(second);
    rill_app_destroy(first);
    rill_topology_unref(topo);
}

int main(void)
{
    if (temp_dir_make(state_dir, "decide-it"))
        return 1;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_exactly_once_counts),
        cmocka_unit_test(test_restart_restores_states),
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    temp_dir_remove(state_dir);
    return rc;
}
