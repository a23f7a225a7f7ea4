/*
 * Configuration: the property table, validation errors that name the key, librdkafka
 * pass-through with consumer./producer. scopes, reserved keys, config files with line numbers,
 * and the generated Markdown.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <rill/app.h>
#include <rill/main.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <unistd.h>

static void expect_error(rill_conf_t *conf, const char *key, const char *value, const char *needle)
{
    char err[512] = "";
    assert_int_equal(rill_conf_set(conf, key, value, err, sizeof err), RILL_ECONFIG);
    if (!strstr(err, needle))
        fail_msg("setting %s=%s: expected '%s' in '%s'", key, value, needle, err);
}

static void test_defaults_come_from_the_table(void **state)
{
    rill_conf_t *conf = rill_conf_new();
    size_t n;
    const rill_conf_property_t *props = rill_conf_properties(&n);
    assert_true(n >= 10);
    for (size_t i = 0; i < n; i++) {
        assert_non_null(props[i].doc);
        assert_true(strlen(props[i].doc) > 10);
        assert_string_equal(rill_conf_get(conf, props[i].name), props[i].default_value);
    }
    assert_string_equal(rill_conf_get(conf, "processing.guarantee"), "at_least_once");
    assert_null(rill_conf_get(conf, "no.such.key"));
    rill_conf_destroy(conf);
}

static void test_bad_values_name_the_key(void **state)
{
    rill_conf_t *conf = rill_conf_new();
    expect_error(conf, "num.stream.threads", "two", "num.stream.threads: 'two' is not an integer");
    expect_error(conf, "num.stream.threads", "0", "num.stream.threads: 0 is out of range (1..256)");
    expect_error(conf, "num.stream.threads", "300", "out of range");
    expect_error(conf, "commit.interval.ms", "", "not an integer");
    expect_error(
        conf, "processing.guarantee", "exactly_twice",
        "processing.guarantee: 'exactly_twice' is not one of at_least_once|exactly_once_v2");
    expect_error(conf, "default.key.serde", "avro", "default.key.serde: 'avro' is not one of");
    expect_error(conf, "application.id", "", "application.id must not be empty");
    expect_error(conf, "application.id", "my app", "character ' ' at position 2");
    expect_error(conf, "commit.intervall.ms", "100",
                 "unknown configuration key 'commit.intervall.ms'");
    expect_error(conf, "group.id", "x", "group.id is set by Rill itself");
    expect_error(conf, "consumer.enable.auto.commit", "true", "is set by Rill itself");
    /* Co-partitioning needs the range assignor: the reason is in the error. */
    expect_error(conf, "consumer.partition.assignment.strategy", "cooperative-sticky",
                 "co-partitioning");
    expect_error(conf, "repartition.purge.interval.ms", "10", "out of range (1000..)");
    expect_error(conf, "send.queue.full.timeout.ms", "-1", "out of range");
    expect_error(conf, "windowstore.changelog.additional.retention.ms", "x", "not an integer");
    expect_error(conf, "producer.acks", "0", "producer.acks=0: Rill's producers need acks=all");
    expect_error(conf, "acks", "1", "acks=1: Rill's producers need acks=all");
    expect_error(conf, "request.required.acks", "1", "Rill's producers need acks=all");
    expect_error(conf, "producer.enable.idempotence", "false", "need idempotence");
    /* A bad value of a librdkafka property is librdkafka's message, with the key. */
    expect_error(conf, "linger.ms", "-5", "linger.ms");
    /* Nothing was changed by the failures. */
    assert_string_equal(rill_conf_get(conf, "num.stream.threads"), "1");
    rill_conf_destroy(conf);
}

static void test_good_values_and_pass_through(void **state)
{
    char err[256];
    rill_conf_t *conf = rill_conf_new();
    assert_int_equal(rill_conf_set(conf, "num.stream.threads", "4", err, sizeof err), 0);
    assert_int_equal(rill_conf_set(conf, "default.value.serde", "json", err, sizeof err), 0);
    assert_int_equal(rill_conf_set(conf, "default.key.serde", "", err, sizeof err), 0);
    assert_int_equal(rill_conf_set(conf, "linger.ms", "20", err, sizeof err), 0);
    assert_int_equal(rill_conf_set(conf, "consumer.fetch.min.bytes", "1024", err, sizeof err), 0);
    assert_int_equal(rill_conf_set(conf, "producer.compression.type", "lz4", err, sizeof err), 0);
    assert_string_equal(rill_conf_get(conf, "num.stream.threads"), "4");
    /* A copy carries everything. */
    rill_conf_t *copy = rill_conf_dup(conf);
    assert_non_null(copy);
    assert_string_equal(rill_conf_get(copy, "default.value.serde"), "json");
    rill_conf_destroy(copy);
    rill_conf_destroy(conf);
}

static void test_config_file_errors_name_file_and_line(void **state)
{
    char path[] = "/tmp/rill-conf-XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    const char *text = "# a comment\n\napplication.id = orders\n"
                       "num.stream.threads=2\nnot a pair\n";
    assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
    close(fd);
    char err[512];
    rill_conf_t *conf = rill_conf_new();
    assert_int_equal(rill_conf_load_file(conf, path, err, sizeof err), RILL_ECONFIG);
    assert_non_null(strstr(err, ":5: expected key=value, got 'not a pair'"));
    /* The lines before the bad one were applied, trimmed. */
    assert_string_equal(rill_conf_get(conf, "application.id"), "orders");
    assert_string_equal(rill_conf_get(conf, "num.stream.threads"), "2");
    fd = open(path, O_WRONLY | O_TRUNC);
    const char *bad = "application.id=x\nnum.stream.threads=many\n";
    assert_int_equal(write(fd, bad, strlen(bad)), (ssize_t)strlen(bad));
    close(fd);
    assert_int_equal(rill_conf_load_file(conf, path, err, sizeof err), RILL_ECONFIG);
    assert_non_null(strstr(err, ":2: num.stream.threads: 'many' is not an integer"));
    unlink(path);
    assert_int_equal(rill_conf_load_file(conf, path, err, sizeof err), RILL_ECONFIG);
    assert_non_null(strstr(err, "cannot open config file"));
    rill_conf_destroy(conf);
}

/* Whitespace around keys and values is dropped for every key, Rill's and librdkafka's, as
 * Kafka's configuration does: "num.stream.threads= 4" is 4, not " 4". */
static void test_whitespace_is_trimmed(void **state)
{
    rill_conf_t *conf = rill_conf_new();
    char err[512];
    assert_int_equal(rill_conf_set(conf, "num.stream.threads", " 4", err, sizeof err), 0);
    assert_string_equal(rill_conf_get(conf, "num.stream.threads"), "4");
    assert_int_equal(rill_conf_set(conf, " commit.interval.ms\t", "250 \n", err, sizeof err), 0);
    assert_string_equal(rill_conf_get(conf, "commit.interval.ms"), "250");
    assert_int_equal(rill_conf_set(conf, "application.id", " orders ", err, sizeof err), 0);
    assert_string_equal(rill_conf_get(conf, "application.id"), "orders");
    /* librdkafka's keys too: "linger.ms" with a trailing space would be a bad integer there. */
    assert_int_equal(rill_conf_set(conf, " producer.linger.ms ", " 20 ", err, sizeof err), 0);
    /* --config "num.stream.threads= 4", as rill_main() splits it. */
    rill_main_args_t args;
    char opt[] = "--config", kv[] = "num.stream.threads= 3", *argv[] = {"app", opt, kv, NULL};
    assert_int_equal(rill_main_parse(3, argv, conf, &args, err, sizeof err), 0);
    assert_string_equal(rill_conf_get(conf, "num.stream.threads"), "3");
    /* Blank is empty: */
    expect_error(conf, "num.stream.threads", "  ", "num.stream.threads: '' is not an integer");
    rill_conf_destroy(conf);
}

/* The properties with rules of their own: a replication factor of 0, an empty state.dir and a
 * dead letter topic Kafka would refuse are errors naming the key. */
static void test_property_rules(void **state)
{
    rill_conf_t *conf = rill_conf_new();
    char err[512];
    expect_error(conf, "replication.factor", "0",
                 "replication.factor: 0 is out of range (-1|1..32767)");
    expect_error(conf, "replication.factor", "-2", "replication.factor: -2 is out of range");
    expect_error(conf, "replication.factor", "40000", "out of range");
    assert_int_equal(rill_conf_set(conf, "replication.factor", "-1", err, sizeof err), 0);
    assert_int_equal(rill_conf_set(conf, "replication.factor", "3", err, sizeof err), 0);
    assert_string_equal(rill_conf_get(conf, "replication.factor"), "3");
    expect_error(conf, "state.dir", "", "state.dir must not be empty");
    expect_error(conf, "state.dir", " ", "state.dir must not be empty");
    assert_string_equal(rill_conf_get(conf, "state.dir"), "/tmp/rill");
    expect_error(conf, "errors.dead.letter.queue.topic.name", "dead letters",
                 "errors.dead.letter.queue.topic.name: character ' ' at position 4");
    expect_error(conf, "errors.dead.letter.queue.topic.name", "dl\xc3\xa9",
                 "byte 0xc3 at position 2");
    char longname[300];
    memset(longname, 'd', 250);
    longname[250] = 0;
    expect_error(conf, "errors.dead.letter.queue.topic.name", longname,
                 "it is 250 characters long, more than Kafka's 249");
    expect_error(conf, "application.id", "..", "application.id: '..' is not allowed");
    assert_int_equal(
        rill_conf_set(conf, "errors.dead.letter.queue.topic.name", "orders.dlq", err, sizeof err),
        0);
    assert_int_equal(
        rill_conf_set(conf, "errors.dead.letter.queue.topic.name", "", err, sizeof err), 0);
    rill_conf_destroy(conf);
}

/* A directory opens for reading and loads nothing: that is an error, not 0. */
static void test_config_file_that_is_a_directory(void **state)
{
    rill_conf_t *conf = rill_conf_new();
    char err[512] = "";
    char dir[] = "/tmp/rill-conf-dir-XXXXXX";
    assert_non_null(mkdtemp(dir));
    assert_int_equal(rill_conf_load_file(conf, dir, err, sizeof err), RILL_ECONFIG);
    assert_non_null(strstr(err, "is a directory"));
    assert_non_null(strstr(err, dir));
    rmdir(dir);
    rill_conf_destroy(conf);
}

static void test_markdown_lists_every_property(void **state)
{
    char *md = rill_conf_markdown();
    assert_non_null(md);
    size_t n;
    const rill_conf_property_t *props = rill_conf_properties(&n);
    for (size_t i = 0; i < n; i++) {
        char cell[128];
        snprintf(cell, sizeof cell, "| `%s` |", props[i].name);
        assert_non_null(strstr(md, cell));
    }
    /* Enum ranges keep their bars escaped so the table holds. */
    assert_non_null(strstr(md, "fail\\|continue"));
    rill_free(md);
}

static void test_error_names(void **state)
{
    assert_string_equal(rill_err_name(RILL_ECONFIG), "RILL_ECONFIG");
    assert_string_equal(rill_strerror(RILL_ETIMEDOUT), "timed out");
    assert_string_equal(rill_err_name(-999), "RILL_EUNKNOWN");
    assert_string_equal(rill_state_name(RILL_STATE_PENDING_SHUTDOWN), "PENDING_SHUTDOWN");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_defaults_come_from_the_table),
        cmocka_unit_test(test_bad_values_name_the_key),
        cmocka_unit_test(test_good_values_and_pass_through),
        cmocka_unit_test(test_config_file_errors_name_file_and_line),
        cmocka_unit_test(test_whitespace_is_trimmed),
        cmocka_unit_test(test_property_rules),
        cmocka_unit_test(test_config_file_that_is_a_directory),
        cmocka_unit_test(test_markdown_lists_every_property),
        cmocka_unit_test(test_error_names),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
