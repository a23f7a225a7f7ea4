/*
 * The versioning strategies of docs/schemas.md, each as the page shows it, against a real
 * rill-registry (on the embedded cluster, over HTTP) and through the test driver:
 *   1. additive changes with defaults under BACKWARD: the registry accepts a field with a
 *      default and refuses one without (40901); a reader on the new schema reads old records
 *      with the default filled in;
 *   2. upcasters: records of versions 1 and 2 of a schema (a breaking change, under NONE) are
 *      read through rill_serde_upcasting(), and the processor sees version 2 only; the version
 *      comes from the registry (Avro) or from a header (JSON); a version the reader does not know
 *      goes to the dead letter queue naming it;
 *   3. a new major version in a topic of its own, with a bridge topology that maps the old
 *      topic's records into the new one, so v2 consumers read one topic of one schema.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "../common/http_client.h"
#include "../common/test_records.h"

#include <jansson.h>
#include <rill/dsl.h>
#include <rill/registry.h>
#include <rill/test_driver.h>

static rill_registry_t *registry;
static const char *url;

#define ORDER_V1                                                                                   \
    "{\"type\":\"record\",\"name\":\"Order\",\"namespace\":\"shop\",\"fields\":["                  \
    "{\"name\":\"id\",\"type\":\"long\"},{\"name\":\"cents\",\"type\":\"long\"}]}"
#define ORDER_V2                                                                                   \
    "{\"type\":\"record\",\"name\":\"Order\",\"namespace\":\"shop\",\"fields\":["                  \
    "{\"name\":\"id\",\"type\":\"long\"},{\"name\":\"cents\",\"type\":\"long\"},"                  \
    "{\"name\":\"currency\",\"type\":\"string\",\"default\":\"EUR\"}]}"
#define ORDER_V3_NO_DEFAULT                                                                        \
    "{\"type\":\"record\",\"name\":\"Order\",\"namespace\":\"shop\",\"fields\":["                  \
    "{\"name\":\"id\",\"type\":\"long\"},{\"name\":\"cents\",\"type\":\"long\"},"                  \
    "{\"name\":\"currency\",\"type\":\"string\",\"default\":\"EUR\"},"                             \
    "{\"name\":\"region\",\"type\":\"string\"}]}"

#define PERSON_V1                                                                                  \
    "{\"type\":\"record\",\"name\":\"Person\",\"namespace\":\"crm\",\"fields\":["                  \
    "{\"name\":\"id\",\"type\":\"long\"},{\"name\":\"name\",\"type\":\"string\"}]}"
#define PERSON_V2                                                                                  \
    "{\"type\":\"record\",\"name\":\"Person\",\"namespace\":\"crm\",\"fields\":["                  \
    "{\"name\":\"id\",\"type\":\"long\"},{\"name\":\"first\",\"type\":\"string\"},"                \
    "{\"name\":\"last\",\"type\":\"string\"}]}"
#define PERSON_V3                                                                                  \
    "{\"type\":\"record\",\"name\":\"Person\",\"namespace\":\"crm\",\"fields\":["                  \
    "{\"name\":\"id\",\"type\":\"long\"},{\"name\":\"first\",\"type\":\"string\"},"                \
    "{\"name\":\"last\",\"type\":\"string\"},"                                                     \
    "{\"name\":\"title\",\"type\":\"string\",\"default\":\"\"}]}"

static void assert_contains(const char *s, const char *part)
{
    if (!s || !strstr(s, part))
        fail_msg("\"%s\" does not contain \"%s\"", s ? s : "(null)", part);
}

static rill_serde_t *avro_serde(const char *topic, const char *schema, const char *reader)
{
    const char *conf[9] = {"schema.registry.url", url, "topic", topic};
    size_t n = 4;
    if (schema) {
        conf[n++] = "schema";
        conf[n++] = schema;
    }
    if (reader) {
        conf[n++] = "reader.schema";
        conf[n++] = reader;
    }
    char err[512] = "";
    rill_serde_t *serde = rill_serde_avro_new(conf, NULL, err, sizeof err);
    if (!serde)
        fail_msg("rill_serde_avro_new: %s", err);
    return serde;
}

/* Serializes rec with serde into a new copy; the caller frees it. */
static rill_bytes_t encode(rill_serde_t *serde, rill_buf_t rec)
{
    rill_bytes_t out = {0};
    bool is_null = false;
    char err[512] = "";
    if (rill_serde_serialize(serde, rec, &out, &is_null, err, sizeof err))
        fail_msg("serialize: %s", err);
    return out;
}

static rill_test_driver_t *driver_of(rill_topology_t *topo)
{
    char err[512] = "";
    rill_conf_t *conf = rill_conf_new();
    const char *kv[] = {"deserialization.exception.handler", "continue",
                        "errors.dead.letter.queue.topic.name", "dlq", NULL};
    for (size_t i = 0; kv[i]; i += 2)
        assert_int_equal(rill_conf_set(conf, kv[i], kv[i + 1], err, sizeof err), 0);
    rill_test_driver_t *td = rill_test_driver_new(topo, conf, 0, err, sizeof err);
    rill_conf_destroy(conf);
    if (!td)
        fail_msg("rill_test_driver_new: %s", err);
    return td;
}

static void pipe_bytes(rill_test_driver_t *td, const char *topic, rill_bytes_t b, int64_t ts)
{
    if (rill_test_driver_pipe(td, topic, -1, rill_buf_str("k"), (rill_buf_t){b.data, b.len}, ts))
        fail_msg("pipe: %s", rill_test_driver_error(td));
}

/* The next record of topic, its value as a C string in buf. */
static const char *read_str(rill_test_driver_t *td, const char *topic, char *buf, size_t size)
{
    rill_test_record_t r;
    if (rill_test_driver_read(td, topic, &r))
        fail_msg("no record left in %s", topic);
    snprintf(buf, size, "%.*s", (int)r.value.len, r.value.data ? (const char *)r.value.data : "");
    return buf;
}

/* The error message header of the next dead letter, into buf. */
static const char *next_dead_letter(rill_test_driver_t *td, char *buf, size_t size)
{
    rill_test_record_t r;
    if (rill_test_driver_read(td, "dlq", &r))
        fail_msg("no record left in dlq");
    const char *msg = header(&r, "__streams.errors.message", buf, size);
    if (!msg)
        fail_msg("a dead letter without __streams.errors.message");
    return msg;
}

static void set_compatibility(const char *subject, const char *level)
{
    char path[256], body[128];
    snprintf(path, sizeof path, "/config/%s", subject);
    snprintf(body, sizeof body, "{\"compatibility\":\"%s\"}", level);
    if (http_call("PUT", url, path, body, NULL) != 200)
        fail_msg("PUT %s failed", path);
}

/* ---- 1. Additive changes with defaults (BACKWARD) ---- */

static int order_line(void *ud, rill_context_t *ctx, const rill_record_t *rec, rill_buf_t *out)
{
    (void)ud;
    int64_t id = 0, cents = 0;
    rill_buf_t cur = {0};
    if (rill_avro_get_int(rec->value.data, "id", &id) ||
        rill_avro_get_int(rec->value.data, "cents", &cents) ||
        rill_avro_get_str(rec->value.data, "currency", &cur))
        return rill_context_fail(ctx, RILL_ESERDE, "an order without id, cents or currency");
    *out = rill_arena_printf(rill_context_arena(ctx), "%lld %lld %.*s", (long long)id,
                             (long long)cents, (int)cur.len, (const char *)cur.data);
    return out->data ? 0 : RILL_ENOMEM;
}

static void test_additive_with_defaults(void **state)
{
    rill_arena_t *arena = *state;
    rill_serde_t *v1 = avro_serde("orders", ORDER_V1, NULL);
    rill_serde_t *v2 = avro_serde("orders", ORDER_V2, NULL);
    rill_serde_t *v3 = avro_serde("orders", ORDER_V3_NO_DEFAULT, NULL);

    rill_buf_t o1 = rill_avro_record_new(arena, rill_serde_avro_codec(v1));
    rill_avro_set_int((void *)o1.data, "id", 1);
    rill_avro_set_int((void *)o1.data, "cents", 1250);
    rill_bytes_t b1 = encode(v1, o1);
    rill_buf_t o2 = rill_avro_record_new(arena, rill_serde_avro_codec(v2));
    rill_avro_set_int((void *)o2.data, "id", 2);
    rill_avro_set_int((void *)o2.data, "cents", 990);
    rill_avro_set_str((void *)o2.data, "currency", "USD", 3);
    rill_bytes_t b2 = encode(v2, o2);

    /* A new field without a default cannot read the old records: the registry refuses it. */
    rill_buf_t o3 = rill_avro_record_new(arena, rill_serde_avro_codec(v3));
    rill_avro_set_int((void *)o3.data, "id", 3);
    rill_avro_set_int((void *)o3.data, "cents", 1);
    rill_avro_set_str((void *)o3.data, "region", "north", 5);
    rill_bytes_t b3 = {0};
    bool is_null = false;
    char err[512] = "";
    assert_int_equal(rill_serde_serialize(v3, o3, &b3, &is_null, err, sizeof err), RILL_ESERDE);
    assert_contains(err, "40901");
    char *versions = NULL;
    assert_int_equal(http_call("GET", url, "/subjects/orders-value/versions", NULL, &versions),
                     200);
    assert_string_equal(versions, "[1,2]");
    free(versions);

    /* A consumer on v2 reads both: the v1 order in EUR, the default. */
    rill_serde_t *reader = avro_serde("orders", NULL, ORDER_V2);
    rill_topology_t *topo = rill_topology_new();
    rill_source_opts_t in = {.key_serde = rill_serde_string(), .value_serde = reader};
    rill_sink_opts_t out = {.key_serde = rill_serde_string(), .value_serde = rill_serde_string()};
    rill_stream_t *s = rill_stream_from_topic(topo, "orders", &in);
    assert_int_equal(rill_stream_to(rill_stream_map_values(s, order_line, NULL), "lines", &out), 0);
    rill_test_driver_t *td = driver_of(topo);
    pipe_bytes(td, "orders", b1, 1);
    pipe_bytes(td, "orders", b2, 2);
    char buf[256];
    assert_string_equal(read_str(td, "lines", buf, sizeof buf), "1 1250 EUR");
    assert_string_equal(read_str(td, "lines", buf, sizeof buf), "2 990 USD");
    assert_int_equal(rill_test_driver_unread(td, "dlq"), 0);
    rill_test_driver_destroy(td);
    rill_topology_unref(topo);
    rill_bytes_free(&b1);
    rill_bytes_free(&b2);
    rill_bytes_free(&b3);
    rill_serde_unref(v1);
    rill_serde_unref(v2);
    rill_serde_unref(v3);
    rill_serde_unref(reader);
}

/* ---- 2. Upcasters ---- */

/* Where a name's last word starts: after its last space (0 when it has none). */
static size_t after_last_space(rill_buf_t name)
{
    size_t cut = name.len;
    while (cut && ((const char *)name.data)[cut - 1] != ' ')
        cut--;
    return cut;
}

/* Person v1 -> v2 in Avro: "name" splits at its last space into first and last. ud is the v2
 * schema (the reader's codec). The strings are views into the record's bytes: no copy. */
static int person_v1_to_v2(void *ud, rill_arena_t *arena, rill_buf_t value, rill_buf_t *out,
                           char *errstr, size_t errstr_size)
{
    int64_t id = 0;
    rill_buf_t name = {0};
    if (rill_avro_get_int(value.data, "id", &id) || rill_avro_get_str(value.data, "name", &name)) {
        snprintf(errstr, errstr_size, "a v1 person without id or name");
        return RILL_ESERDE;
    }
    size_t cut = after_last_space(name);
    const char *s = name.data;
    rill_buf_t p = rill_avro_record_new(arena, ud);
    if (!p.data)
        return RILL_ENOMEM;
    void *r = (void *)p.data;
    int rc = rill_avro_set_int(r, "id", id);
    if (!rc)
        rc = cut ? rill_avro_set_str(r, "first", s, cut - 1) : rill_avro_set_str(r, "first", "", 0);
    if (!rc)
        rc = rill_avro_set_str(r, "last", s + cut, name.len - cut);
    if (rc) {
        snprintf(errstr, errstr_size, "%s", rill_avro_error(r) ? rill_avro_error(r) : "set");
        return rc;
    }
    *out = p;
    return 0;
}

/* Processors see v2 only: "id first|last". */
static int person_line(void *ud, rill_context_t *ctx, const rill_record_t *rec, rill_buf_t *out)
{
    (void)ud;
    int64_t id = 0;
    rill_buf_t first = {0}, last = {0};
    if (rill_avro_get_int(rec->value.data, "id", &id) ||
        rill_avro_get_str(rec->value.data, "first", &first) ||
        rill_avro_get_str(rec->value.data, "last", &last))
        return rill_context_fail(ctx, RILL_ESERDE, "not a v2 person");
    *out =
        rill_arena_printf(rill_context_arena(ctx), "%lld %.*s|%.*s", (long long)id, (int)first.len,
                          (const char *)first.data, (int)last.len, (const char *)last.data);
    return out->data ? 0 : RILL_ENOMEM;
}

static rill_bytes_t person_v1(rill_arena_t *arena, rill_serde_t *serde, int64_t id,
                              const char *name)
{
    rill_buf_t p = rill_avro_record_new(arena, rill_serde_avro_codec(serde));
    rill_avro_set_int((void *)p.data, "id", id);
    rill_avro_set_str((void *)p.data, "name", name, strlen(name));
    return encode(serde, p);
}

static rill_bytes_t person_v2(rill_arena_t *arena, rill_serde_t *serde, int64_t id,
                              const char *first, const char *last)
{
    rill_buf_t p = rill_avro_record_new(arena, rill_serde_avro_codec(serde));
    rill_avro_set_int((void *)p.data, "id", id);
    rill_avro_set_str((void *)p.data, "first", first, strlen(first));
    rill_avro_set_str((void *)p.data, "last", last, strlen(last));
    return encode(serde, p);
}

static void test_upcasters_by_registry_version(void **state)
{
    rill_arena_t *arena = *state;
    set_compatibility("people-value", "NONE"); /* v2 renames: a breaking change */
    rill_serde_t *w1 = avro_serde("people", PERSON_V1, NULL);
    rill_serde_t *w2 = avro_serde("people", PERSON_V2, NULL);
    rill_serde_t *w3 = avro_serde("people", PERSON_V3, NULL);
    rill_bytes_t in[] = {
        person_v1(arena, w1, 1, "Ada Lovelace"),   person_v2(arena, w2, 2, "Grace", "Hopper"),
        person_v1(arena, w1, 3, "Alan M. Turing"), person_v2(arena, w3, 4, "Edsger", "Dijkstra"),
        person_v1(arena, w1, 5, "Plato"),
    };
    char err[512] = "";
    rill_registry_client_t *client = rill_registry_client_new(url, NULL, err, sizeof err);
    assert_non_null(client);
    rill_avro_codec_t *v2 = rill_avro_codec_new(PERSON_V2, strlen(PERSON_V2), err, sizeof err);
    assert_non_null(v2);
    rill_serde_t *plain = avro_serde("people", NULL, NULL); /* decodes each record as written */
    rill_upcaster_t ups[] = {{.from = 1, .fn = person_v1_to_v2, .ud = v2}};
    rill_upcast_opts_t o = {
        .current = 2, .upcasters = ups, .upcaster_count = 1, .registry = client};
    rill_serde_t *people = rill_serde_upcasting(plain, &o, err, sizeof err);
    if (!people)
        fail_msg("rill_serde_upcasting: %s", err);

    rill_topology_t *topo = rill_topology_new();
    rill_source_opts_t src = {.key_serde = rill_serde_string(), .value_serde = people};
    rill_sink_opts_t out = {.key_serde = rill_serde_string(), .value_serde = rill_serde_string()};
    rill_stream_t *s = rill_stream_from_topic(topo, "people", &src);
    assert_int_equal(rill_stream_to(rill_stream_map_values(s, person_line, NULL), "lines", &out),
                     0);
    rill_test_driver_t *td = driver_of(topo);
    uint64_t before = 0;
    for (int round = 0; round < 2; round++) {
        if (round == 1)
            before = rill_registry_client_requests(client);
        for (size_t i = 0; i < 5; i++)
            pipe_bytes(td, "people", in[i], (int64_t)i);
    }
    /* The second round asked the registry nothing: versions are cached by id. */
    assert_int_equal(rill_registry_client_requests(client), before);
    char buf[256];
    for (int round = 0; round < 2; round++) {
        assert_string_equal(read_str(td, "lines", buf, sizeof buf), "1 Ada|Lovelace");
        assert_string_equal(read_str(td, "lines", buf, sizeof buf), "2 Grace|Hopper");
        assert_string_equal(read_str(td, "lines", buf, sizeof buf), "3 Alan M.|Turing");
        assert_string_equal(read_str(td, "lines", buf, sizeof buf), "5 |Plato");
        /* Version 3 is newer than this reader: a dead letter naming it, nothing lost. */
        assert_contains(next_dead_letter(td, buf, sizeof buf),
                        "upcasting (topic people): written with version 3, newer than this "
                        "reader's 2");
    }
    assert_int_equal(rill_test_driver_unread(td, "lines"), 0);
    assert_int_equal(rill_test_driver_metric(td, "records-skipped"), 2);
    rill_test_driver_destroy(td);
    rill_topology_unref(topo);
    for (size_t i = 0; i < 5; i++)
        rill_bytes_free(&in[i]);
    rill_serde_unref(people);
    rill_serde_unref(plain);
    rill_serde_unref(w1);
    rill_serde_unref(w2);
    rill_serde_unref(w3);
    rill_avro_codec_unref(v2);
    rill_registry_client_unref(client);
}

/* The JSON flavour: {"id":1,"name":"Ada Lovelace"} -> {"id":1,"first":"Ada","last":"Lovelace"}. */
static int json_person_v1_to_v2(void *ud, rill_arena_t *arena, rill_buf_t value, rill_buf_t *out,
                                char *errstr, size_t errstr_size)
{
    (void)ud;
    int64_t id = 0;
    rill_buf_t name = {0};
    if (rill_json_get_int(value.data, "id", &id) || rill_json_get_str(value.data, "name", &name)) {
        snprintf(errstr, errstr_size, "a v1 person without id or name");
        return RILL_ESERDE;
    }
    size_t cut = after_last_space(name);
    rill_json_writer_t w;
    rill_json_writer_init(&w, arena);
    rill_json_write_object(&w);
    rill_json_write_key(&w, "id");
    rill_json_write_int(&w, id);
    rill_json_write_key(&w, "first");
    rill_json_write_str(&w, name.data, cut ? cut - 1 : 0);
    rill_json_write_key(&w, "last");
    rill_json_write_str(&w, (const char *)name.data + cut, name.len - cut);
    rill_json_write_end(&w);
    *out = rill_json_writer_finish(&w);
    return out->data ? 0 : RILL_ENOMEM;
}

static int json_person_line(void *ud, rill_context_t *ctx, const rill_record_t *rec,
                            rill_buf_t *out)
{
    (void)ud;
    const char *first = rill_json_get_string(rec->value.data, "first");
    const char *last = rill_json_get_string(rec->value.data, "last");
    if (!first || !last || rill_json_get_string(rec->value.data, "name"))
        return rill_context_fail(ctx, RILL_ESERDE, "not a v2 person");
    *out = rill_arena_printf(rill_context_arena(ctx), "%s|%s", first, last);
    return out->data ? 0 : RILL_ENOMEM;
}

static void test_upcasters_by_header(void **state)
{
    (void)state;
    rill_upcaster_t ups[] = {{.from = 1, .fn = json_person_v1_to_v2}};
    rill_upcast_opts_t o = {.current = 2,
                            .upcasters = ups,
                            .upcaster_count = 1,
                            .version_header = "schema-version",
                            .default_version = 1}; /* records from before versioning are v1 */
    char err[512] = "";
    rill_serde_t *people = rill_serde_upcasting(rill_serde_json(), &o, err, sizeof err);
    if (!people)
        fail_msg("rill_serde_upcasting: %s", err);
    rill_topology_t *topo = rill_topology_new();
    rill_source_opts_t src = {.key_serde = rill_serde_string(), .value_serde = people};
    rill_sink_opts_t out = {.key_serde = rill_serde_string(), .value_serde = rill_serde_string()};
    rill_stream_t *s = rill_stream_from_topic(topo, "people-json", &src);
    assert_int_equal(
        rill_stream_to(rill_stream_map_values(s, json_person_line, NULL), "lines", &out), 0);
    rill_test_driver_t *td = driver_of(topo);
    struct {
        const char *version; /* NULL: no header */
        const char *value;
    } in[] = {
        {NULL, "{\"id\":1,\"name\":\"Ada Lovelace\"}"},
        {"1", "{\"id\":2,\"name\":\"Alan Turing\"}"},
        {"2", "{\"id\":3,\"first\":\"Grace\",\"last\":\"Hopper\"}"},
        {"3", "{\"id\":4,\"first\":\"Edsger\",\"last\":\"Dijkstra\",\"title\":\"Prof.\"}"},
        {"two", "{\"id\":5,\"first\":\"Barbara\",\"last\":\"Liskov\"}"},
    };
    for (size_t i = 0; i < 5; i++) {
        rill_header_t h = {"schema-version", rill_buf_str(in[i].version ? in[i].version : "")};
        if (rill_test_driver_pipe_headers(td, "people-json", -1, rill_buf_str("k"),
                                          rill_buf_str(in[i].value), (int64_t)i, &h,
                                          in[i].version ? 1 : 0))
            fail_msg("pipe: %s", rill_test_driver_error(td));
    }
    char buf[256];
    assert_string_equal(read_str(td, "lines", buf, sizeof buf), "Ada|Lovelace");
    assert_string_equal(read_str(td, "lines", buf, sizeof buf), "Alan|Turing");
    assert_string_equal(read_str(td, "lines", buf, sizeof buf), "Grace|Hopper");
    assert_int_equal(rill_test_driver_unread(td, "lines"), 0);
    assert_contains(next_dead_letter(td, buf, sizeof buf),
                    "upcasting (topic people-json): written with version 3, newer than this "
                    "reader's 2");
    assert_contains(next_dead_letter(td, buf, sizeof buf),
                    "header schema-version: \"two\" is not a version");
    rill_test_driver_destroy(td);
    rill_topology_unref(topo);
    rill_serde_unref(people);
}

/* What the options refuse, each naming the culprit. */
static void test_upcasting_options(void **state)
{
    (void)state;
    char err[512];
    rill_upcaster_t gap[] = {{1, json_person_v1_to_v2, NULL}, {3, json_person_v1_to_v2, NULL}};
    rill_upcaster_t twice[] = {{1, json_person_v1_to_v2, NULL}, {1, json_person_v1_to_v2, NULL}};
    rill_upcaster_t past[] = {{4, json_person_v1_to_v2, NULL}};
    struct {
        rill_upcast_opts_t o;
        const char *why;
    } bad[] = {
        {{.current = 2}, "set exactly one of registry, version_header and version_of (0 set)"},
        {{.current = 0, .version_header = "v"}, "current version 0"},
        {{.current = 4, .upcasters = gap, .upcaster_count = 2, .version_header = "v"},
         "no upcaster from version 2 to 3"},
        {{.current = 2, .upcasters = twice, .upcaster_count = 2, .version_header = "v"},
         "two upcasters from version 1"},
        {{.current = 4, .upcasters = past, .upcaster_count = 1, .version_header = "v"},
         "upcaster 0 maps from version 4 (must be 1..3"},
        {{.current = 3,
          .upcasters = gap,
          .upcaster_count = 1,
          .version_header = "v",
          .default_version = 1},
         "no upcaster from version 2 to 3"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        err[0] = 0;
        assert_null(rill_serde_upcasting(rill_serde_json(), &bad[i].o, err, sizeof err));
        assert_contains(err, bad[i].why);
    }
    /* Version 1 only, no upcaster: every record passes as it is. */
    rill_upcast_opts_t one = {.current = 1, .version_header = "v", .default_version = 1};
    rill_serde_t *s = rill_serde_upcasting(rill_serde_json(), &one, err, sizeof err);
    assert_non_null(s);
    rill_serde_unref(s);
}

/* ---- 3. A new major version in a topic of its own, and a bridge ---- */

/* A map_values over the same upcaster: the bridge and an upcasting reader share one function. */
static int bridge_v1_to_v2(void *ud, rill_context_t *ctx, const rill_record_t *rec, rill_buf_t *out)
{
    char why[256] = "";
    int rc = person_v1_to_v2(ud, rill_context_arena(ctx), rec->value, out, why, sizeof why);
    return rc ? rill_context_fail(ctx, rc, "bridge people.v1 -> people.v2: %s", why) : 0;
}

static void test_topic_per_major_version_bridge(void **state)
{
    rill_arena_t *arena = *state;
    char err[512] = "";
    rill_serde_t *old_writer = avro_serde("people.v1", PERSON_V1, NULL);
    rill_serde_t *new_writer = avro_serde("people.v2", PERSON_V2, NULL);
    rill_serde_t *old_reader = avro_serde("people.v1", NULL, NULL);
    rill_avro_codec_t *v2 = rill_avro_codec_new(PERSON_V2, strlen(PERSON_V2), err, sizeof err);
    assert_non_null(v2);

    /* The bridge: people.v1 (old producers) -> people.v2, in the new schema. */
    rill_topology_t *topo = rill_topology_new();
    rill_source_opts_t src = {.key_serde = rill_serde_string(), .value_serde = old_reader};
    rill_sink_opts_t dst = {.key_serde = rill_serde_string(), .value_serde = new_writer};
    rill_stream_t *s = rill_stream_from_topic(topo, "people.v1", &src);
    assert_int_equal(
        rill_stream_to(rill_stream_map_values(s, bridge_v1_to_v2, v2), "people.v2", &dst), 0);
    rill_test_driver_t *td = driver_of(topo);
    const char *names[] = {"Ada Lovelace", "Alan Turing", "Barbara Liskov"};
    for (int i = 0; i < 3; i++) {
        rill_bytes_t b = person_v1(arena, old_writer, i + 1, names[i]);
        pipe_bytes(td, "people.v1", b, i);
        rill_bytes_free(&b);
    }
    /* A v2 consumer reads people.v2 only: every record of one schema, v2's id, as bridged. */
    int32_t v2_id = 0;
    rill_registry_client_t *client = rill_registry_client_new(url, NULL, err, sizeof err);
    assert_int_equal(rill_registry_client_lookup(client, "people.v2-value", PERSON_V2, &v2_id, NULL,
                                                 err, sizeof err),
                     0);
    rill_registry_client_unref(client);
    const char *want[] = {"1 Ada|Lovelace", "2 Alan|Turing", "3 Barbara|Liskov"};
    rill_serde_t *consumer = avro_serde("people.v2", NULL, NULL);
    for (int i = 0; i < 3; i++) {
        rill_test_record_t r;
        assert_int_equal(rill_test_driver_read(td, "people.v2", &r), 0);
        const uint8_t *b = r.value.data;
        assert_true(r.value.len > 5 && b[0] == 0);
        assert_int_equal((int32_t)((uint32_t)b[1] << 24 | b[2] << 16 | b[3] << 8 | b[4]), v2_id);
        rill_buf_t v = {0};
        assert_int_equal(rill_serde_deserialize(consumer, r.value, arena, &v, err, sizeof err), 0);
        rill_buf_t line = {0};
        int64_t id = 0;
        rill_buf_t first = {0}, last = {0};
        assert_int_equal(rill_avro_get_int(v.data, "id", &id), 0);
        assert_int_equal(rill_avro_get_str(v.data, "first", &first), 0);
        assert_int_equal(rill_avro_get_str(v.data, "last", &last), 0);
        line = rill_arena_printf(arena, "%lld %.*s|%.*s", (long long)id, (int)first.len,
                                 (const char *)first.data, (int)last.len, (const char *)last.data);
        assert_int_equal(line.len, strlen(want[i]));
        assert_memory_equal(line.data, want[i], line.len);
    }
    assert_int_equal(rill_test_driver_unread(td, "people.v2"), 0);
    /* The new topic's subject holds the v2 schema only, as its version 1. */
    char *versions = NULL;
    assert_int_equal(http_call("GET", url, "/subjects/people.v2-value/versions", NULL, &versions),
                     200);
    assert_string_equal(versions, "[1]");
    free(versions);
    rill_test_driver_destroy(td);
    rill_topology_unref(topo);
    rill_serde_unref(consumer);
    rill_serde_unref(old_writer);
    rill_serde_unref(new_writer);
    rill_serde_unref(old_reader);
    rill_avro_codec_unref(v2);
}

static int arena_setup(void **state)
{
    *state = rill_arena_new(0);
    return *state ? 0 : -1;
}

static int arena_teardown(void **state)
{
    rill_arena_destroy(*state);
    return 0;
}

static int group_setup(void **state)
{
    (void)state;
    char err[512] = "";
    rill_registry_conf_t *conf = rill_registry_conf_new();
    if (rill_registry_conf_set(conf, "listeners", "http://127.0.0.1:0", err, sizeof err))
        return -1;
    registry = rill_registry_new(conf, err, sizeof err);
    if (!registry || rill_registry_start(registry, err, sizeof err)) {
        fprintf(stderr, "registry: %s\n", err);
        return -1;
    }
    url = rill_registry_url(registry);
    return 0;
}

static int group_teardown(void **state)
{
    (void)state;
    rill_registry_destroy(registry);
    return 0;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_additive_with_defaults, arena_setup, arena_teardown),
        cmocka_unit_test_setup_teardown(test_upcasters_by_registry_version, arena_setup,
                                        arena_teardown),
        cmocka_unit_test_setup_teardown(test_upcasters_by_header, arena_setup, arena_teardown),
        cmocka_unit_test(test_upcasting_options),
        cmocka_unit_test_setup_teardown(test_topic_per_major_version_bridge, arena_setup,
                                        arena_teardown),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
