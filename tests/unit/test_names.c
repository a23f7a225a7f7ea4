/*
 * Names Kafka must accept: topic, repartition and store names follow Kafka's rules
 * ([a-zA-Z0-9._-], at most 249 characters) when the topology is built, and an application id is
 * refused by rill_app_new() when it would make an internal topic name longer than 249; each
 * error names the culprit (the node or store, the character or byte, the length).
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <rill/app.h>
#include <rill/dsl.h>

#include <stdio.h>
#include <string.h>

/* Builds topo and asserts that the build fails with needle in the error. */
static void expect_build_error(rill_topology_t *topo, const char *needle)
{
    char err[1024] = "";
    assert_int_equal(rill_topology_build(topo, err, sizeof err), RILL_ETOPOLOGY);
    if (!strstr(err, needle))
        fail_msg("expected '%s' in '%s'", needle, err);
    rill_topology_unref(topo);
}

static rill_sink_opts_t strings = {0};
static rill_source_opts_t source_strings = {0};

static void init_serdes(void)
{
    strings =
        (rill_sink_opts_t){.key_serde = rill_serde_string(), .value_serde = rill_serde_string()};
    source_strings =
        (rill_source_opts_t){.key_serde = rill_serde_string(), .value_serde = rill_serde_string()};
}

static void test_topic_names(void **state)
{
    init_serdes();
    rill_topology_t *topo = rill_topology_new();
    rill_stream_to(rill_stream_from_topic(topo, "page views", &source_strings), "out", NULL);
    expect_build_error(topo, "topic 'page views' is not a valid Kafka name: character ' ' at "
                             "position 4 is not allowed");

    topo = rill_topology_new();
    rill_stream_to(rill_stream_from_topic(topo, "in", &source_strings), "out/put", &strings);
    expect_build_error(topo, "node 'KSTREAM-SINK-0000000001': topic 'out/put' is not a valid "
                             "Kafka name: character '/' at position 3");

    topo = rill_topology_new();
    rill_stream_to(rill_stream_from_topic(topo, "caf\xc3\xa9", &source_strings), "out", NULL);
    expect_build_error(topo, "byte 0xc3 at position 3 is not allowed");

    char longname[260];
    memset(longname, 't', 250);
    longname[250] = 0;
    topo = rill_topology_new();
    rill_stream_to(rill_stream_from_topic(topo, longname, &source_strings), "out", NULL);
    expect_build_error(topo, "it is 250 characters long, more than Kafka's 249");

    topo = rill_topology_new();
    rill_stream_to(rill_stream_from_topic(topo, "..", &source_strings), "out", NULL);
    expect_build_error(topo, "'..' is not allowed");

    /* 249 characters and every allowed character are fine. */
    longname[249] = 0;
    topo = rill_topology_new();
    rill_stream_to(rill_stream_from_topic(topo, longname, &source_strings), "Out_put-1.v2", NULL);
    char err[512];
    assert_int_equal(rill_topology_build(topo, err, sizeof err), 0);
    rill_topology_unref(topo);
}

static int value_as_key(void *ud, rill_context_t *ctx, const rill_record_t *rec, rill_buf_t *out)
{
    *out = rec->value;
    return 0;
}

static void test_repartition_and_store_names(void **state)
{
    init_serdes();
    rill_topology_t *topo = rill_topology_new();
    rill_stream_t *s = rill_stream_from_topic(topo, "in", &source_strings);
    rill_stream_to(rill_stream_repartition(s, "by region", 0, NULL), "out", NULL);
    expect_build_error(topo, "repartition name 'by region' is not a valid Kafka name: character "
                             "' ' at position 2");

    topo = rill_topology_new();
    s = rill_stream_from_topic(topo, "in", &source_strings);
    rill_grouped_count(rill_stream_group_by_key(s, NULL),
                       &(rill_materialized_t){.name = "counts:v1"});
    expect_build_error(topo, "store name 'counts:v1' is not a valid Kafka name: character ':' at "
                             "position 6");

    topo = rill_topology_new();
    s = rill_stream_from_topic(topo, "in", &source_strings);
    rill_grouped_count(
        rill_stream_group_by(s, value_as_key, NULL, &(rill_grouped_opts_t){.name = "per\tkey"}),
        NULL);
    expect_build_error(topo, "byte 0x09 at position 3");
}

/* Returns a new configuration with application.id app_id and string serdes. */
static rill_conf_t *conf_for(const char *app_id)
{
    char err[256];
    rill_conf_t *conf = rill_conf_new();
    assert_int_equal(rill_conf_set(conf, "application.id", app_id, err, sizeof err), 0);
    assert_int_equal(rill_conf_set(conf, "default.key.serde", "string", err, sizeof err), 0);
    assert_int_equal(rill_conf_set(conf, "default.value.serde", "string", err, sizeof err), 0);
    return conf;
}

/* app_id's length is fine alone, but "<app_id>-<store>-changelog" or "<app_id>-<name>-repartition"
 * would pass 249 characters: rill_app_new() says which topic, before it starts anything. */
static void test_application_id_keeps_internal_topics_short(void **state)
{
    init_serdes();
    char app_id[240];
    memset(app_id, 'a', 220);
    app_id[220] = 0;
    rill_topology_t *topo = rill_topology_new();
    rill_stream_t *s = rill_stream_from_topic(topo, "in", NULL);
    rill_grouped_count(rill_stream_group_by_key(s, NULL),
                       &(rill_materialized_t){.name = "counts-per-customer"});
    char err[1024] = "";
    rill_conf_t *conf = conf_for(app_id);
    assert_null(rill_app_new(topo, conf, err, sizeof err));
    if (!strstr(err, "is too long for this topology: the changelog topic") ||
        !strstr(err, "-counts-per-customer-changelog' would be 250 characters, more than "
                     "Kafka's 249"))
        fail_msg("unexpected error: %s", err);
    rill_conf_destroy(conf); /* not taken over: rill_app_new failed */
    rill_topology_unref(topo);

    topo = rill_topology_new();
    s = rill_stream_from_topic(topo, "in", NULL);
    rill_stream_to(rill_stream_repartition(s, "by-customer-region", 0, NULL), "out", NULL);
    conf = conf_for(app_id);
    assert_null(rill_app_new(topo, conf, err, sizeof err));
    if (!strstr(err, "the internal topic") ||
        !strstr(err, "-by-customer-region-repartition' would be 251 characters"))
        fail_msg("unexpected error: %s", err);
    rill_conf_destroy(conf);

    /* A shorter id fits: the app is made (on the embedded cluster). */
    conf = conf_for("short");
    rill_app_t *app = rill_app_new(topo, conf, err, sizeof err);
    if (!app)
        fail_msg("rill_app_new: %s", err);
    rill_app_destroy(app);
    rill_topology_unref(topo);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_topic_names),
        cmocka_unit_test(test_repartition_and_store_names),
        cmocka_unit_test(test_application_id_keeps_internal_topics_short),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
