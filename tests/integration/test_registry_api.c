/*
 * rill-registry's REST API on the embedded cluster, through real HTTP: registering (idempotent,
 * one id per schema across subjects), reading by id, subject and version, lookups, soft and
 * permanent deletes, config, mode (READONLY, IMPORT with ids), references, and the answers to bad
 * input (status and Confluent's error_code both). Then a second instance rebuilt from the first's
 * topic alone. The cases follow Confluent's API reference and its RestApiTest
 * (io.confluent.kafka.schemaregistry.rest.RestApiTest: testBasic,
 * testRegisterSameSchemaOnDifferentSubject, testDeleteSchemaVersionBasic,
 * testSubjectCompatibilityAfterDeletingSubject, testImportMode...).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "../common/http_client.h"

#include <jansson.h>
#include <unistd.h>
#include <librdkafka/rdkafka.h>
#include <rill/registry.h>

static const char *base; /* the registry under test */

#define S1                                                                                         \
    "{\"type\":\"record\",\"name\":\"Order\",\"fields\":[{\"name\":\"id\",\"type\":\"long\"}]}"
#define S2                                                                                         \
    "{\"type\":\"record\",\"name\":\"Order\",\"fields\":[{\"name\":\"id\",\"type\":\"long\"},"     \
    "{\"name\":\"note\",\"type\":\"string\",\"default\":\"\"}]}"

/* A request body {"schema": text} (text escaped), new. */
static char *schema_body(const char *text, const char *extra)
{
    json_t *doc = json_pack("{s:s}", "schema", text);
    if (extra) {
        json_t *more = json_loads(extra, 0, NULL);
        json_object_update(doc, more);
        json_decref(more);
    }
    char *body = json_dumps(doc, JSON_COMPACT);
    json_decref(doc);
    return body;
}

/* Calls method path with body and checks the status; when code is non-zero, the error_code; returns
 * the parsed answer (json_decref) or NULL for a body that is not JSON. */
static json_t *expect(const char *method, const char *path, const char *body, int status, int code)
{
    char *out = NULL;
    int got = http_call(method, base, path, body, &out);
    if (got != status)
        fail_msg("%s %s: status %d, expected %d: %s", method, path, got, status, out ? out : "");
    json_t *doc = out ? json_loads(out, JSON_DECODE_ANY, NULL) : NULL;
    if (code) {
        json_t *ec = json_object_get(doc, "error_code");
        if (json_integer_value(ec) != code)
            fail_msg("%s %s: error_code %lld, expected %d: %s", method, path,
                     (long long)json_integer_value(ec), code, out ? out : "");
        assert_non_null(json_string_value(json_object_get(doc, "message")));
    }
    free(out);
    return doc;
}

static int expect_id(const char *path, const char *body)
{
    json_t *doc = expect("POST", path, body, 200, 0);
    int id = (int)json_integer_value(json_object_get(doc, "id"));
    json_decref(doc);
    return id;
}

/* Asserts that GET path answers the JSON text want (compared as JSON). */
static void expect_json(const char *path, const char *want)
{
    json_t *doc = expect("GET", path, NULL, 200, 0);
    json_t *w = json_loads(want, JSON_DECODE_ANY, NULL);
    if (!json_equal(doc, w)) {
        char *got = json_dumps(doc, JSON_COMPACT | JSON_ENCODE_ANY);
        fail_msg("GET %s: %s, expected %s", path, got, want);
    }
    json_decref(doc);
    json_decref(w);
}

static void test_register_and_read(void **state)
{
    (void)state;
    char *b1 = schema_body(S1, NULL);
    int id1 = expect_id("/subjects/orders-value/versions", b1);
    assert_true(id1 >= 1);
    /* The same schema again, and written with other whitespace: the same id, no new version. */
    assert_int_equal(expect_id("/subjects/orders-value/versions", b1), id1);
    char *spaced = schema_body("{ \"type\": \"record\", \"name\": \"Order\", \"fields\": "
                               "[ { \"name\": \"id\", \"type\": \"long\" } ] }",
                               NULL);
    assert_int_equal(expect_id("/subjects/orders-value/versions", spaced), id1);
    /* In another subject: the same global id. */
    assert_int_equal(expect_id("/subjects/copy-value/versions", b1), id1);
    expect_json("/subjects/orders-value/versions", "[1]");
    /* A compatible evolution (a field with a default) is version 2 with a new id. */
    char *b2 = schema_body(S2, NULL);
    int id2 = expect_id("/subjects/orders-value/versions", b2);
    assert_int_not_equal(id2, id1);
    expect_json("/subjects/orders-value/versions", "[1,2]");
    json_t *v = expect("GET", "/subjects/orders-value/versions/latest", NULL, 200, 0);
    assert_string_equal(json_string_value(json_object_get(v, "subject")), "orders-value");
    assert_int_equal(json_integer_value(json_object_get(v, "version")), 2);
    assert_int_equal(json_integer_value(json_object_get(v, "id")), id2);
    assert_string_equal(json_string_value(json_object_get(v, "schema")), S2);
    assert_null(json_object_get(v, "schemaType")); /* AVRO is not named, as Confluent */
    json_decref(v);
    /* /schema is the schema's text itself. */
    char *raw = NULL;
    assert_int_equal(http_call("GET", base, "/subjects/orders-value/versions/1/schema", NULL, &raw),
                     200);
    assert_string_equal(raw, S1);
    free(raw);
    char path[128];
    snprintf(path, sizeof path, "/schemas/ids/%d", id1);
    v = expect("GET", path, NULL, 200, 0);
    assert_string_equal(json_string_value(json_object_get(v, "schema")), S1);
    json_decref(v);
    snprintf(path, sizeof path, "/schemas/ids/%d/subjects", id1);
    expect_json(path, "[\"orders-value\",\"copy-value\"]");
    snprintf(path, sizeof path, "/schemas/ids/%d/versions", id1);
    expect_json(path, "[{\"subject\":\"orders-value\",\"version\":1},"
                      "{\"subject\":\"copy-value\",\"version\":1}]");
    expect_json("/schemas/types", "[\"JSON\",\"AVRO\"]");
    /* Lookup: which version a schema is. */
    v = expect("POST", "/subjects/orders-value", b1, 200, 0);
    assert_int_equal(json_integer_value(json_object_get(v, "version")), 1);
    assert_int_equal(json_integer_value(json_object_get(v, "id")), id1);
    json_decref(v);
    /* Bad input, each with its code. */
    json_decref(expect("GET", "/schemas/ids/9999", NULL, 404, 40403));
    json_decref(expect("GET", "/subjects/nobody/versions", NULL, 404, 40401));
    json_decref(expect("GET", "/subjects/orders-value/versions/7", NULL, 404, 40402));
    json_decref(expect("GET", "/subjects/orders-value/versions/abc", NULL, 422, 42202));
    json_decref(expect("GET", "/subjects/orders-value/versions/0", NULL, 422, 42202));
    char *other = schema_body("{\"type\":\"record\",\"name\":\"Other\",\"fields\":[]}", NULL);
    json_decref(expect("POST", "/subjects/orders-value", other, 404, 40403));
    json_decref(expect("POST", "/subjects/nobody", b1, 404, 40401));
    json_decref(expect("POST", "/subjects/orders-value/versions", "{\"schema\":\"{not json\"}", 422,
                       42201));
    json_decref(expect("POST", "/subjects/orders-value/versions", "{\"schema\":42}", 422, 42201));
    char *proto = schema_body("syntax = \"proto3\";", "{\"schemaType\":\"PROTOBUF\"}");
    json_decref(expect("POST", "/subjects/orders-value/versions", proto, 422, 42201));
    json_decref(expect("GET", "/no/such/path", NULL, 404, 404));
    free(b1);
    free(b2);
    free(spaced);
    free(other);
    free(proto);
}

static void test_deletes(void **state)
{
    (void)state;
    char *b1 = schema_body(S1, NULL), *b2 = schema_body(S2, NULL);
    expect_id("/subjects/del-value/versions", b1);
    expect_id("/subjects/del-value/versions", b2);
    /* A version: soft, then for good (permanent before soft is refused). */
    json_decref(
        expect("DELETE", "/subjects/del-value/versions/2?permanent=true", NULL, 404, 40407));
    json_t *v = expect("DELETE", "/subjects/del-value/versions/2", NULL, 200, 0);
    assert_int_equal(json_integer_value(v), 2);
    json_decref(v);
    expect_json("/subjects/del-value/versions", "[1]");
    expect_json("/subjects/del-value/versions?deleted=true", "[1,2]");
    json_decref(expect("GET", "/subjects/del-value/versions/2", NULL, 404, 40402));
    json_decref(expect("GET", "/subjects/del-value/versions/2?deleted=true", NULL, 200, 0));
    json_decref(expect("DELETE", "/subjects/del-value/versions/2", NULL, 404, 40406));
    json_decref(expect("DELETE", "/subjects/del-value/versions/2?permanent=true", NULL, 200, 0));
    expect_json("/subjects/del-value/versions?deleted=true", "[1]");
    /* The subject: soft (its live versions listed), then for good. */
    json_decref(expect("DELETE", "/subjects/del-value?permanent=true", NULL, 404, 40405));
    expect_json("/subjects/del-value/versions", "[1]");
    v = expect("DELETE", "/subjects/del-value", NULL, 200, 0);
    assert_int_equal(json_array_size(v), 1);
    assert_int_equal(json_integer_value(json_array_get(v, 0)), 1);
    json_decref(v);
    json_decref(expect("DELETE", "/subjects/del-value", NULL, 404, 40404));
    json_decref(expect("GET", "/subjects/del-value/versions", NULL, 404, 40401));
    json_t *list = expect("GET", "/subjects", NULL, 200, 0);
    size_t i;
    json_t *s;
    json_array_foreach(list, i, s) assert_string_not_equal(json_string_value(s), "del-value");
    json_decref(list);
    list = expect("GET", "/subjects?deleted=true", NULL, 200, 0);
    bool listed = false;
    json_array_foreach(list, i, s) listed |= strcmp(json_string_value(s), "del-value") == 0;
    assert_true(listed);
    json_decref(list);
    /* Registered again after a soft delete: the next version, the same id. */
    int id1 = expect_id("/subjects/orders-value/versions", b1);
    assert_int_equal(expect_id("/subjects/del-value/versions", b1), id1);
    expect_json("/subjects/del-value/versions", "[2]");
    json_decref(expect("DELETE", "/subjects/del-value", NULL, 200, 0));
    json_decref(expect("DELETE", "/subjects/del-value?permanent=true", NULL, 200, 0));
    json_decref(expect("GET", "/subjects/del-value/versions?deleted=true", NULL, 404, 40401));
    free(b1);
    free(b2);
}

static void test_config_and_mode(void **state)
{
    (void)state;
    json_decref(expect("PUT", "/config", "{\"compatibility\":\"SIDEWAYS\"}", 422, 42203));
    json_decref(expect("GET", "/config/orders-value", NULL, 404, 40408));
    expect_json("/config/orders-value?defaultToGlobal=true",
                "{\"compatibilityLevel\":\"BACKWARD\"}");
    expect_json("/config", "{\"compatibilityLevel\":\"BACKWARD\"}");
    expect_json("/mode", "{\"mode\":\"READWRITE\"}");
    /* A subject's level: set, read, removed. */
    json_t *v =
        expect("PUT", "/config/orders-value", "{\"compatibility\":\"full_transitive\"}", 200, 0);
    assert_string_equal(json_string_value(json_object_get(v, "compatibility")), "FULL_TRANSITIVE");
    json_decref(v);
    expect_json("/config/orders-value", "{\"compatibilityLevel\":\"FULL_TRANSITIVE\"}");
    json_decref(expect("DELETE", "/config/orders-value", NULL, 200, 0));
    json_decref(expect("GET", "/config/orders-value", NULL, 404, 40408));
    /* READONLY refuses writes, reads go on. */
    json_decref(expect("PUT", "/mode", "{\"mode\":\"READONLY\"}", 200, 0));
    char *b = schema_body("{\"type\":\"record\",\"name\":\"Ro\",\"fields\":[]}", NULL);
    json_decref(expect("POST", "/subjects/ro-value/versions", b, 422, 42205));
    json_decref(expect("GET", "/subjects/orders-value/versions", NULL, 200, 0));
    json_decref(expect("PUT", "/mode", "{\"mode\":\"SIDEWAYS\"}", 422, 42204));
    /* IMPORT: refused while schemas exist unless forced; then ids and versions are given. */
    json_decref(expect("PUT", "/mode", "{\"mode\":\"IMPORT\"}", 422, 42204));
    json_decref(expect("PUT", "/mode?force=true", "{\"mode\":\"IMPORT\"}", 200, 0));
    char *imported = schema_body("{\"type\":\"record\",\"name\":\"Imp\",\"fields\":[]}",
                                 "{\"id\":500,\"version\":7}");
    assert_int_equal(expect_id("/subjects/imported-value/versions", imported), 500);
    expect_json("/subjects/imported-value/versions", "[7]");
    /* An id taken by another schema is refused. */
    char *clash = schema_body("{\"type\":\"record\",\"name\":\"Clash\",\"fields\":[]}",
                              "{\"id\":500,\"version\":1}");
    json_decref(expect("POST", "/subjects/clash-value/versions", clash, 422, 42205));
    json_decref(expect("PUT", "/mode", "{\"mode\":\"READWRITE\"}", 200, 0));
    /* Out of IMPORT, new ids continue above the imported one. */
    assert_true(expect_id("/subjects/ro-value/versions", b) > 500);
    json_decref(expect("POST", "/subjects/clash-value/versions", clash, 422, 42205));
    free(b);
    free(imported);
    free(clash);
}

static void test_references(void **state)
{
    (void)state;
    char *money = schema_body("{\"type\":\"record\",\"name\":\"Money\",\"namespace\":\"shop\","
                              "\"fields\":[{\"name\":\"cents\",\"type\":\"long\"}]}",
                              NULL);
    int money_id = expect_id("/subjects/money/versions", money);
    char *payment = schema_body(
        "{\"type\":\"record\",\"name\":\"Payment\",\"namespace\":\"shop\",\"fields\":"
        "[{\"name\":\"amount\",\"type\":\"shop.Money\"}]}",
        "{\"references\":[{\"name\":\"shop.Money\",\"subject\":\"money\",\"version\":1}]}");
    int payment_id = expect_id("/subjects/payments-value/versions", payment);
    assert_int_not_equal(payment_id, money_id);
    char path[64];
    snprintf(path, sizeof path, "[%d]", payment_id);
    expect_json("/subjects/money/versions/1/referencedby", path);
    json_t *v = expect("GET", "/subjects/payments-value/versions/1", NULL, 200, 0);
    json_t *refs = json_object_get(v, "references");
    assert_int_equal(json_array_size(refs), 1);
    assert_string_equal(json_string_value(json_object_get(json_array_get(refs, 0), "subject")),
                        "money");
    json_decref(v);
    /* A referenced version cannot go; a reference to a missing version is refused. */
    json_decref(expect("DELETE", "/subjects/money/versions/1", NULL, 422, 42206));
    json_decref(expect("DELETE", "/subjects/money", NULL, 422, 42206));
    char *dangling = schema_body(
        "{\"type\":\"record\",\"name\":\"Refund\",\"namespace\":\"shop\",\"fields\":"
        "[{\"name\":\"amount\",\"type\":\"shop.Money\"}]}",
        "{\"references\":[{\"name\":\"shop.Money\",\"subject\":\"money\",\"version\":9}]}");
    json_decref(expect("POST", "/subjects/refunds-value/versions", dangling, 422, 42201));
    free(money);
    free(payment);
    free(dangling);
}

/* A second instance with only the first one's topic: it knows everything the first does. A
 * record of a kind this registry does not know (a newer Confluent's) is skipped. */
static void test_rebuild_from_topic(void **state)
{
    rill_registry_t *first = *state;
    char err[512];
    rd_kafka_conf_t *kc = rd_kafka_conf_new();
    rd_kafka_conf_set(kc, "bootstrap.servers", rill_registry_bootstrap_servers(first), err,
                      sizeof err);
    rd_kafka_t *p = rd_kafka_new(RD_KAFKA_PRODUCER, kc, err, sizeof err);
    const char *key = "{\"keytype\":\"CONTEXT\",\"tenant\":\"default\",\"context\":\".x\","
                      "\"magic\":0}";
    assert_int_equal(rd_kafka_producev(p, RD_KAFKA_V_TOPIC("_schemas"), RD_KAFKA_V_PARTITION(0),
                                       RD_KAFKA_V_KEY(key, strlen(key)), RD_KAFKA_V_VALUE("{}", 2),
                                       RD_KAFKA_V_END),
                     0);
    assert_int_equal(rd_kafka_flush(p, 10000), 0);
    rd_kafka_destroy(p);

    rill_registry_conf_t *conf = rill_registry_conf_new();
    assert_int_equal(
        rill_registry_conf_set(conf, "listeners", "http://127.0.0.1:0", err, sizeof err), 0);
    assert_int_equal(rill_registry_conf_set(conf, "kafkastore.bootstrap.servers",
                                            rill_registry_bootstrap_servers(first), err,
                                            sizeof err),
                     0);
    assert_int_equal(rill_registry_conf_set(conf, "leader.eligibility", "false", err, sizeof err),
                     0);
    rill_registry_t *second = rill_registry_new(conf, err, sizeof err);
    assert_non_null(second);
    if (rill_registry_start(second, err, sizeof err))
        fail_msg("start: %s", err);
    const char *paths[] = {"/subjects",
                           "/subjects?deleted=true",
                           "/subjects/orders-value/versions",
                           "/subjects/orders-value/versions/2",
                           "/subjects/imported-value/versions/7",
                           "/subjects/payments-value/versions/1",
                           "/subjects/money/versions/1/referencedby",
                           "/schemas/ids/500",
                           "/config",
                           "/mode"};
    for (size_t i = 0; i < sizeof paths / sizeof paths[0]; i++) {
        char *a = NULL, *b = NULL;
        int sa = http_call("GET", rill_registry_url(first), paths[i], NULL, &a);
        int sb = http_call("GET", rill_registry_url(second), paths[i], NULL, &b);
        assert_int_equal(sa, 200);
        assert_int_equal(sb, sa);
        json_t *ja = json_loads(a, JSON_DECODE_ANY, NULL),
               *jb = json_loads(b, JSON_DECODE_ANY, NULL);
        if (!json_equal(ja, jb))
            fail_msg("GET %s: the first says %s, the rebuilt one %s", paths[i], a, b);
        json_decref(ja);
        json_decref(jb);
        free(a);
        free(b);
    }
    rill_registry_destroy(second);
}

/* Starts a registry on the embedded cluster with extra key/value pairs (NULL-ended). */
static rill_registry_t *start_with(const char *const *extra)
{
    char err[512];
    rill_registry_conf_t *conf = rill_registry_conf_new();
    assert_int_equal(
        rill_registry_conf_set(conf, "listeners", "http://127.0.0.1:0", err, sizeof err), 0);
    for (size_t i = 0; extra[i]; i += 2)
        if (rill_registry_conf_set(conf, extra[i], extra[i + 1], err, sizeof err))
            fail_msg("%s", err);
    rill_registry_t *reg = rill_registry_new(conf, err, sizeof err);
    assert_non_null(reg);
    if (rill_registry_start(reg, err, sizeof err))
        fail_msg("start: %s", err);
    return reg;
}

/* HTTP basic auth: without credentials or with wrong ones 401, with a listed user the API. */
static void test_basic_auth(void **state)
{
    (void)state;
    char users[] = "/tmp/rill-registry-users-XXXXXX";
    int fd = mkstemp(users);
    assert_true(fd >= 0);
    const char *text = "# user: password[,role]\nalice: s3cret,admin\nbob:hunter2\n";
    assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
    close(fd);
    const char *extra[] = {"authentication.method", "BASIC", "authentication.users.file", users,
                           NULL};
    rill_registry_t *reg = start_with(extra);
    char url[256];
    snprintf(url, sizeof url, "%s/subjects", rill_registry_url(reg));
    char *out = NULL;
    assert_int_equal(http_call_auth("GET", url, NULL, NULL, &out), 401);
    assert_non_null(strstr(out, "\"error_code\":401"));
    free(out);
    assert_int_equal(http_call_auth("GET", url, NULL, "alice:wrong", NULL), 401);
    assert_int_equal(http_call_auth("GET", url, NULL, "mallory:s3cret", NULL), 401);
    assert_int_equal(http_call_auth("GET", url, NULL, "alice:s3cret", &out), 200);
    assert_string_equal(out, "[]");
    free(out);
    assert_int_equal(http_call_auth("GET", url, NULL, "bob:hunter2", NULL), 200);
    rill_registry_destroy(reg);
    unlink(users);
    /* A users file that is not there is an error at start, naming it. */
    char err[512];
    rill_registry_conf_t *conf = rill_registry_conf_new();
    rill_registry_conf_set(conf, "listeners", "http://127.0.0.1:0", err, sizeof err);
    rill_registry_conf_set(conf, "authentication.method", "BASIC", err, sizeof err);
    rill_registry_conf_set(conf, "authentication.users.file", "/nonexistent/users", err,
                           sizeof err);
    reg = rill_registry_new(conf, err, sizeof err);
    assert_int_not_equal(rill_registry_start(reg, err, sizeof err), 0);
    assert_non_null(strstr(err, "/nonexistent/users"));
    rill_registry_destroy(reg);
}

/* An https listener with a certificate made here by openssl: the API over TLS, and a client
 * that does not trust the certificate refused. */
static void test_tls(void **state)
{
    (void)state;
    char dir[] = "/tmp/rill-registry-tls-XXXXXX";
    assert_non_null(mkdtemp(dir));
    char cmd[1024], cert[300], key[300];
    snprintf(cert, sizeof cert, "%s/cert.pem", dir);
    snprintf(key, sizeof key, "%s/key.pem", dir);
    snprintf(cmd, sizeof cmd,
             "openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=127.0.0.1 "
             "-addext subjectAltName=IP:127.0.0.1 -keyout %s -out %s 2>/dev/null",
             key, cert);
    assert_int_equal(system(cmd), 0);
    const char *extra[] = {"listeners", "https://127.0.0.1:0", "ssl.certificate.location",
                           cert,        "ssl.key.location",    key,
                           NULL};
    rill_registry_t *reg = start_with(extra);
    assert_int_equal(strncmp(rill_registry_url(reg), "https://", 8), 0);
    char url[256];
    snprintf(url, sizeof url, "%s/subjects", rill_registry_url(reg));
    /* Untrusted: curl refuses (no answer). Trusted: the API. */
    assert_int_equal(http_call_auth("GET", url, NULL, NULL, NULL), -1);
    CURL *curl = curl_easy_init();
    http_body_t b = {0};
    curl_easy_setopt(curl, CURLOPT_URL, url);
    curl_easy_setopt(curl, CURLOPT_CAINFO, cert);
    curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, http_take);
    curl_easy_setopt(curl, CURLOPT_WRITEDATA, &b);
    assert_int_equal(curl_easy_perform(curl), CURLE_OK);
    long code = 0;
    curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &code);
    curl_easy_cleanup(curl);
    assert_int_equal(code, 200);
    assert_string_equal(b.data, "[]");
    free(b.data);
    rill_registry_destroy(reg);
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    assert_int_equal(system(cmd), 0);
}

/* Bad configuration: each names its key. */
static void test_bad_configuration(void **state)
{
    (void)state;
    char err[512];
    rill_registry_conf_t *conf = rill_registry_conf_new();
    const char *bad[][2] = {{"listeners", "ftp://x:1"},
                            {"listeners", "http://nohost"},
                            {"schema.compatibility.level", "SIDEWAYS"},
                            {"leader.eligibility", "maybe"},
                            {"kafkastore.timeout.ms", "-5"},
                            {"authentication.method", "DIGEST"},
                            {"no.such.key", "1"}};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        err[0] = 0;
        assert_int_equal(rill_registry_conf_set(conf, bad[i][0], bad[i][1], err, sizeof err),
                         RILL_ECONFIG);
        assert_non_null(strstr(err, bad[i][0]));
    }
    const char *extra[] = {"listeners", "https://127.0.0.1:0", NULL};
    rill_registry_conf_set(conf, extra[0], extra[1], err, sizeof err);
    rill_registry_t *reg = rill_registry_new(conf, err, sizeof err);
    assert_int_not_equal(rill_registry_start(reg, err, sizeof err), 0);
    assert_non_null(strstr(err, "ssl.certificate.location"));
    rill_registry_destroy(reg);
}

static int setup(void **state)
{
    char err[512];
    curl_global_init(CURL_GLOBAL_DEFAULT);
    rill_set_log_cb(NULL, NULL, getenv("RILL_DEBUG") ? RILL_LOG_DEBUG : RILL_LOG_WARN);
    rill_registry_conf_t *conf = rill_registry_conf_new();
    if (rill_registry_conf_set(conf, "listeners", "http://127.0.0.1:0", err, sizeof err))
        return -1;
    rill_registry_t *reg = rill_registry_new(conf, err, sizeof err);
    if (!reg || rill_registry_start(reg, err, sizeof err)) {
        fprintf(stderr, "registry: %s\n", err);
        return -1;
    }
    base = rill_registry_url(reg);
    *state = reg;
    return 0;
}

static int teardown(void **state)
{
    rill_registry_destroy(*state);
    curl_global_cleanup();
    return 0;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_register_and_read),
        cmocka_unit_test(test_deletes),
        cmocka_unit_test(test_config_and_mode),
        cmocka_unit_test(test_references),
        cmocka_unit_test(test_rebuild_from_topic),
        cmocka_unit_test(test_basic_auth),
        cmocka_unit_test(test_tls),
        cmocka_unit_test(test_bad_configuration),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
