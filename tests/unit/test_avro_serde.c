/*
 * Unit tests for the Avro serde and the schema registry client (serde.h, the Avro block):
 * Confluent's wire format checked against a vector computed by hand, every Avro type round
 * tripped and its body checked byte for byte against avro-c's own encoder and decoder, errors
 * that name the schema id, subject, byte and field, the writer's checks, subject name
 * strategies, use.latest.version, no allocation per record once warm, and the registry client
 * over HTTP against a test double.
 *
 * FAKE REGISTRY (a test double, not Rill's registry): fake_* below is a few lines of
 * libmicrohttpd that answer the four endpoints the client uses, in the shapes of Confluent's API
 * reference, and count requests. It is to be replaced by rill-registry (registry/) when that
 * lands.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <rill/app.h>
#include <rill/dsl.h>
#include <rill/serde.h>
#include <rill/test_driver.h>

#include <avro.h>
#include <jansson.h>
#include <microhttpd.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- Counting allocator ---- */

static atomic_long n_allocs;
static atomic_long n_live;

static void *count_malloc(size_t n)
{
    void *p = malloc(n);
    if (p) {
        atomic_fetch_add(&n_allocs, 1);
        atomic_fetch_add(&n_live, 1);
    }
    return p;
}

static void *count_realloc(void *old, size_t n)
{
    void *p = realloc(old, n);
    if (p) {
        atomic_fetch_add(&n_allocs, 1);
        if (!old)
            atomic_fetch_add(&n_live, 1);
    }
    return p;
}

static void count_free(void *p)
{
    if (p)
        atomic_fetch_sub(&n_live, 1);
    free(p);
}

static long live_at_setup;

static int group_setup(void **state)
{
    return rill_set_allocator(count_malloc, count_realloc, count_free);
}

static int group_teardown(void **state)
{
    return rill_set_allocator(NULL, NULL, NULL);
}

static int setup(void **state)
{
    live_at_setup = atomic_load(&n_live);
    *state = rill_arena_new(4096);
    return *state ? 0 : -1;
}

static int teardown(void **state)
{
    rill_arena_destroy(*state);
    assert_int_equal(atomic_load(&n_live), live_at_setup);
    return 0;
}

/* ---- Schemas and helpers ---- */

static const char *pair_schema =
    "{\"type\":\"record\",\"name\":\"Pair\",\"namespace\":\"t\",\"fields\":["
    "{\"name\":\"a\",\"type\":\"int\"},{\"name\":\"s\",\"type\":\"string\"},"
    "{\"name\":\"n\",\"type\":[\"null\",\"long\"]}]}";

static const char *all_schema =
    "{\"type\":\"record\",\"name\":\"All\",\"namespace\":\"com.acme\",\"fields\":["
    "{\"name\":\"nul\",\"type\":\"null\"},"
    "{\"name\":\"b\",\"type\":\"boolean\"},"
    "{\"name\":\"i\",\"type\":\"int\"},"
    "{\"name\":\"l\",\"type\":\"long\"},"
    "{\"name\":\"f\",\"type\":\"float\"},"
    "{\"name\":\"d\",\"type\":\"double\"},"
    "{\"name\":\"by\",\"type\":\"bytes\"},"
    "{\"name\":\"s\",\"type\":\"string\"},"
    "{\"name\":\"e\",\"type\":{\"type\":\"enum\",\"name\":\"Color\","
    "\"symbols\":[\"RED\",\"GREEN\",\"BLUE\"]}},"
    "{\"name\":\"fx\",\"type\":{\"type\":\"fixed\",\"name\":\"Id4\",\"size\":4}},"
    "{\"name\":\"arr\",\"type\":{\"type\":\"array\",\"items\":\"int\"}},"
    "{\"name\":\"m\",\"type\":{\"type\":\"map\",\"values\":\"string\"}},"
    "{\"name\":\"u\",\"type\":[\"null\",\"string\",{\"type\":\"record\",\"name\":\"Inner\","
    "\"fields\":[{\"name\":\"x\",\"type\":\"int\"},"
    "{\"name\":\"tags\",\"type\":{\"type\":\"array\",\"items\":\"string\"}}]}]},"
    "{\"name\":\"inner\",\"type\":\"Inner\"},"
    "{\"name\":\"opt\",\"type\":[\"null\",\"string\"]}]}";

static rill_serde_t *mock_serde(const char *schema, const char *topic, rill_registry_client_t *reg)
{
    const char *conf[] = {"schema.registry.url", "mock://", "topic", topic, "schema", schema, NULL};
    char err[256] = "";
    rill_serde_t *serde = rill_serde_avro_new(conf, reg, err, sizeof err);
    if (!serde)
        fail_msg("rill_serde_avro_new: %s", err);
    return serde;
}

static void serialize_ok(rill_serde_t *serde, rill_buf_t value, rill_bytes_t *out)
{
    bool is_null = true;
    char err[256] = "";
    int rc = rill_serde_serialize(serde, value, out, &is_null, err, sizeof err);
    if (rc)
        fail_msg("serialize: %s (%s)", err, rill_err_name(rc));
    assert_false(is_null);
}

static rill_buf_t deserialize_ok(rill_serde_t *serde, const void *data, size_t len,
                                 rill_arena_t *arena)
{
    rill_buf_t value = {0};
    char err[256] = "";
    int rc = rill_serde_deserialize(serde, (rill_buf_t){data, len}, arena, &value, err, sizeof err);
    if (rc)
        fail_msg("deserialize: %s (%s)", err, rill_err_name(rc));
    assert_int_equal(value.len, 2);
    return value;
}

/* Deserializes bytes that must fail; returns the message. */
static const char *deserialize_bad(rill_serde_t *serde, const void *data, size_t len,
                                   rill_arena_t *arena)
{
    static char err[512];
    rill_buf_t value = {"x", 1};
    err[0] = 0;
    int rc = rill_serde_deserialize(serde, (rill_buf_t){data, len}, arena, &value, err, sizeof err);
    assert_int_equal(rc, RILL_ESERDE);
    assert_null(value.data);
    return err;
}

static void assert_contains(const char *s, const char *part)
{
    if (!strstr(s, part))
        fail_msg("\"%s\" does not contain \"%s\"", s, part);
}

static void assert_str(const void *v, const char *path, const char *want)
{
    rill_buf_t got;
    assert_int_equal(rill_avro_get_str(v, path, &got), 0);
    assert_int_equal(got.len, strlen(want));
    assert_memory_equal(got.data, want, got.len);
}

/* ---- Wire format ---- */

/* Pair{a=-3, s="hi", n=300}: magic 0, id 1 (the mock's first), then the body. Hand computed:
 * zig-zag(-3) = 5; "hi" = length 2 (zig-zag 4) then the bytes; the union's branch 1 (zig-zag 2)
 * then zig-zag(300) = 600 = 0xd8 0x04 as a varint. */
static const uint8_t pair_bytes[] = {0x00, 0x00, 0x00, 0x00, 0x01, 0x05,
                                     0x04, 'h',  'i',  0x02, 0xd8, 0x04};

static void test_wire_format(void **state)
{
    rill_arena_t *arena = *state;
    rill_serde_t *serde = mock_serde(pair_schema, "pairs", NULL);
    const rill_avro_codec_t *schema = rill_serde_avro_codec(serde);
    assert_string_equal(rill_avro_codec_name(schema), "t.Pair");
    rill_buf_t rec = rill_avro_record_new(arena, schema);
    assert_non_null(rec.data);
    assert_int_equal(rill_avro_set_int((void *)rec.data, "a", -3), 0);
    assert_int_equal(rill_avro_set_str((void *)rec.data, "s", "hi", 2), 0);
    assert_int_equal(rill_avro_set_int((void *)rec.data, "n", 300), 0);
    rill_bytes_t out = {0};
    serialize_ok(serde, rec, &out);
    assert_int_equal(out.len, sizeof pair_bytes);
    assert_memory_equal(out.data, pair_bytes, sizeof pair_bytes);

    rill_buf_t v = deserialize_ok(serde, pair_bytes, sizeof pair_bytes, arena);
    int64_t i;
    assert_int_equal(rill_avro_get_int(v.data, "a", &i), 0);
    assert_int_equal(i, -3);
    assert_str(v.data, "s", "hi");
    /* Zero copy: the string points into the input. */
    rill_buf_t s;
    rill_avro_get_str(v.data, "s", &s);
    assert_ptr_equal(s.data, pair_bytes + 7);
    assert_int_equal(rill_avro_get_int(v.data, "n", &i), 0);
    assert_int_equal(i, 300);
    assert_int_equal(rill_avro_branch(v.data, "n"), 1);
    assert_int_equal(rill_avro_type(v.data, "n"), RILL_AVRO_LONG);
    assert_int_equal(rill_avro_get_int(v.data, "nope", &i), RILL_ENOENT);

    /* A null (a tombstone) both ways. */
    bool is_null = false;
    assert_int_equal(rill_serde_serialize(serde, (rill_buf_t){0}, &out, &is_null, NULL, 0), 0);
    assert_true(is_null);
    rill_buf_t nv = {"x", 1};
    assert_int_equal(rill_serde_deserialize(serde, (rill_buf_t){0}, arena, &nv, NULL, 0), 0);
    assert_null(nv.data);
    rill_bytes_free(&out);
    rill_serde_unref(serde);
}

/* ---- Every type, against avro-c ---- */

static void fill_all(void *r)
{
    assert_int_equal(rill_avro_set_null(r, "nul"), 0);
    assert_int_equal(rill_avro_set_bool(r, "b", true), 0);
    assert_int_equal(rill_avro_set_int(r, "i", -123456), 0);
    assert_int_equal(rill_avro_set_int(r, "l", INT64_MIN + 1), 0);
    assert_int_equal(rill_avro_set_double(r, "f", 1.5), 0);
    assert_int_equal(rill_avro_set_double(r, "d", -2.25e300), 0);
    assert_int_equal(rill_avro_set_str(r, "by", "\x00\xff\x01", 3), 0);
    assert_int_equal(rill_avro_set_str(r, "s", "h\xc3\xa9llo", 6), 0);
    assert_int_equal(rill_avro_set_str(r, "e", "BLUE", 4), 0);
    assert_int_equal(rill_avro_set_str(r, "fx", "ABCD", 4), 0);
    assert_int_equal(rill_avro_set_array(r, "arr", 3), 0);
    assert_int_equal(rill_avro_set_int(r, "arr[0]", 1), 0);
    assert_int_equal(rill_avro_set_int(r, "arr[1]", -1), 0);
    assert_int_equal(rill_avro_set_int(r, "arr[2]", 1000000), 0);
    assert_int_equal(rill_avro_set_map(r, "m", 2), 0);
    assert_int_equal(rill_avro_set_key(r, "m[0]", "k1", 2), 0);
    assert_int_equal(rill_avro_set_str(r, "m[0]", "v1", 2), 0);
    assert_int_equal(rill_avro_set_key(r, "m[1]", "k2", 2), 0);
    assert_int_equal(rill_avro_set_str(r, "m[1]", "", 0), 0);
    /* The union takes its record branch, made by set_record. */
    assert_int_equal(rill_avro_set_record(r, "u"), 0);
    assert_int_equal(rill_avro_set_int(r, "u.x", 7), 0);
    assert_int_equal(rill_avro_set_array(r, "u.tags", 1), 0);
    assert_int_equal(rill_avro_set_str(r, "u.tags[0]", "t", 1), 0);
    /* A nested record (not a union) is made as its path is first set. */
    assert_int_equal(rill_avro_set_int(r, "inner.x", 8), 0);
    assert_int_equal(rill_avro_set_array(r, "inner.tags", 0), 0);
    /* opt is left unset: a nullable union writes null. */
}

/* A serde of all_schema for topic, and the record fill_all() makes, serialized into out. */
static rill_serde_t *all_record(rill_arena_t *arena, const char *topic, rill_bytes_t *out)
{
    rill_serde_t *serde = mock_serde(all_schema, topic, NULL);
    rill_buf_t rec = rill_avro_record_new(arena, rill_serde_avro_codec(serde));
    fill_all((void *)rec.data);
    serialize_ok(serde, rec, out);
    return serde;
}

/* The same value built with avro-c's generic values. */
static size_t avro_c_encode(uint8_t *buf, size_t size, avro_schema_t schema, avro_value_t *val)
{
    avro_value_t f, e, b;
    avro_value_get_by_name(val, "nul", &f, NULL);
    avro_value_set_null(&f);
    avro_value_get_by_name(val, "b", &f, NULL);
    avro_value_set_boolean(&f, 1);
    avro_value_get_by_name(val, "i", &f, NULL);
    avro_value_set_int(&f, -123456);
    avro_value_get_by_name(val, "l", &f, NULL);
    avro_value_set_long(&f, INT64_MIN + 1);
    avro_value_get_by_name(val, "f", &f, NULL);
    avro_value_set_float(&f, 1.5f);
    avro_value_get_by_name(val, "d", &f, NULL);
    avro_value_set_double(&f, -2.25e300);
    avro_value_get_by_name(val, "by", &f, NULL);
    avro_value_set_bytes(&f, "\x00\xff\x01", 3);
    avro_value_get_by_name(val, "s", &f, NULL);
    avro_value_set_string_len(&f, "h\xc3\xa9llo", 7); /* avro-c counts the NUL */
    avro_value_get_by_name(val, "e", &f, NULL);
    avro_value_set_enum(&f, 2);
    avro_value_get_by_name(val, "fx", &f, NULL);
    avro_value_set_fixed(&f, "ABCD", 4);
    avro_value_get_by_name(val, "arr", &f, NULL);
    int items[] = {1, -1, 1000000};
    for (int i = 0; i < 3; i++) {
        avro_value_append(&f, &e, NULL);
        avro_value_set_int(&e, items[i]);
    }
    avro_value_get_by_name(val, "m", &f, NULL);
    avro_value_add(&f, "k1", &e, NULL, NULL);
    avro_value_set_string(&e, "v1");
    avro_value_add(&f, "k2", &e, NULL, NULL);
    avro_value_set_string(&e, "");
    avro_value_get_by_name(val, "u", &f, NULL);
    avro_value_set_branch(&f, 2, &b);
    avro_value_get_by_name(&b, "x", &e, NULL);
    avro_value_set_int(&e, 7);
    avro_value_get_by_name(&b, "tags", &e, NULL);
    avro_value_t t;
    avro_value_append(&e, &t, NULL);
    avro_value_set_string(&t, "t");
    avro_value_get_by_name(val, "inner", &f, NULL);
    avro_value_get_by_name(&f, "x", &e, NULL);
    avro_value_set_int(&e, 8);
    avro_value_get_by_name(val, "opt", &f, NULL);
    avro_value_set_branch(&f, 0, &b);
    avro_value_set_null(&b);
    avro_writer_t w = avro_writer_memory((char *)buf, (int64_t)size);
    assert_int_equal(avro_value_write(w, val), 0);
    size_t n = (size_t)avro_writer_tell(w);
    avro_writer_free(w);
    (void)schema;
    return n;
}

static void test_every_type_against_avro_c(void **state)
{
    rill_arena_t *arena = *state;
    rill_serde_t *serde = mock_serde(all_schema, "all", NULL);
    rill_buf_t rec = rill_avro_record_new(arena, rill_serde_avro_codec(serde));
    fill_all((void *)rec.data);
    assert_null(rill_avro_error(rec.data));
    rill_bytes_t out = {0};
    serialize_ok(serde, rec, &out);

    avro_schema_t schema;
    assert_int_equal(avro_schema_from_json_length(all_schema, strlen(all_schema), &schema), 0);
    avro_value_iface_t *iface = avro_generic_class_from_schema(schema);
    avro_value_t val;
    avro_generic_value_new(iface, &val);
    uint8_t buf[1024];
    size_t n = avro_c_encode(buf, sizeof buf, schema, &val);
    /* Our body is avro-c's, byte for byte. */
    assert_int_equal(out.len, 5 + n);
    assert_memory_equal(out.data + 5, buf, n);
    /* And avro-c reads ours back equal to its own value. */
    avro_value_t back;
    avro_generic_value_new(iface, &back);
    avro_reader_t reader = avro_reader_memory((const char *)out.data + 5, (int64_t)out.len - 5);
    assert_int_equal(avro_value_read(reader, &back), 0);
    assert_true(avro_value_equal(&val, &back));
    avro_reader_free(reader);
    avro_value_decref(&back);
    avro_value_decref(&val);
    avro_value_iface_decref(iface);
    avro_schema_decref(schema);

    /* Our reader gets every value back. */
    rill_buf_t v = deserialize_ok(serde, out.data, out.len, arena);
    const void *d = v.data;
    bool bo;
    int64_t i;
    double x;
    size_t len;
    assert_int_equal(rill_avro_is_null(d, "nul"), 1);
    assert_int_equal(rill_avro_get_bool(d, "b", &bo), 0);
    assert_true(bo);
    assert_int_equal(rill_avro_get_int(d, "i", &i), 0);
    assert_int_equal(i, -123456);
    assert_int_equal(rill_avro_get_int(d, "l", &i), 0);
    assert_true(i == INT64_MIN + 1);
    assert_int_equal(rill_avro_get_double(d, "f", &x), 0);
    assert_true(x == 1.5);
    assert_int_equal(rill_avro_get_double(d, "d", &x), 0);
    assert_true(x == -2.25e300);
    rill_buf_t by;
    assert_int_equal(rill_avro_get_str(d, "by", &by), 0);
    assert_int_equal(by.len, 3);
    assert_memory_equal(by.data, "\x00\xff\x01", 3);
    assert_str(d, "s", "h\xc3\xa9llo");
    int idx;
    assert_string_equal(rill_avro_get_enum(d, "e", &idx), "BLUE");
    assert_int_equal(idx, 2);
    assert_str(d, "e", "BLUE");
    assert_str(d, "fx", "ABCD");
    assert_int_equal(rill_avro_len(d, "arr", &len), 0);
    assert_int_equal(len, 3);
    assert_int_equal(rill_avro_get_int(d, "arr[2]", &i), 0);
    assert_int_equal(i, 1000000);
    assert_int_equal(rill_avro_get_int(rill_avro_at(rill_avro_get(d, "arr"), 1), NULL, &i), 0);
    assert_int_equal(i, -1);
    assert_null(rill_avro_get(d, "arr[3]"));
    assert_int_equal(rill_avro_len(d, "m", &len), 0);
    assert_int_equal(len, 2);
    assert_str(d, "m.k1", "v1");
    assert_str(d, "m.k2", "");
    assert_str(d, "m[0]", "v1");
    rill_buf_t key;
    assert_int_equal(rill_avro_key_at(rill_avro_get(d, "m"), 1, &key), 0);
    assert_int_equal(key.len, 2);
    assert_memory_equal(key.data, "k2", 2);
    assert_int_equal(rill_avro_branch(d, "u"), 2);
    assert_int_equal(rill_avro_type(d, "u"), RILL_AVRO_RECORD);
    assert_int_equal(rill_avro_get_int(d, "u.x", &i), 0);
    assert_int_equal(i, 7);
    assert_str(d, "u.tags[0]", "t");
    assert_int_equal(rill_avro_get_int(d, "inner.x", &i), 0);
    assert_int_equal(i, 8);
    assert_int_equal(rill_avro_len(d, "inner.tags", &len), 0);
    assert_int_equal(len, 0);
    assert_int_equal(rill_avro_is_null(d, "opt"), 1);
    assert_int_equal(rill_avro_branch(d, "opt"), 0);
    char text[512];
    assert_int_equal(rill_avro_format(d, text, sizeof text), 0);
    assert_string_equal(text, "{\"nul\":null,\"b\":true,\"i\":-123456,\"l\":-9223372036854775807,"
                              "\"f\":1.5,\"d\":-2.25e+300,\"by\":\"\\u0000\\u00ff"
                              "\\u0001\",\"s\":\"h\xc3\xa9llo\",\"e\":\"BLUE\",\"fx\":\"ABCD\","
                              "\"arr\":[1,-1,1000000],\"m\":{\"k1\":\"v1\",\"k2\":\"\"},"
                              "\"u\":{\"x\":7,\"tags\":[\"t\"]},\"inner\":{\"x\":8,\"tags\":[]},"
                              "\"opt\":null}");

    /* A decoded value serializes back to the same bytes (pass-through). */
    rill_bytes_t again = {0};
    serialize_ok(serde, v, &again);
    assert_int_equal(again.len, out.len);
    assert_memory_equal(again.data, out.data, out.len);
    rill_bytes_free(&again);
    rill_bytes_free(&out);
    rill_serde_unref(serde);
}

/* Arrays in several blocks, one with a negative count and a byte size, as Java's buffered
 * encoders write them: [1, 2] and {"a": 3}. */
static void test_blocks(void **state)
{
    const char *schema = "{\"type\":\"record\",\"name\":\"B\",\"fields\":["
                         "{\"name\":\"a\",\"type\":{\"type\":\"array\",\"items\":\"int\"}},"
                         "{\"name\":\"m\",\"type\":{\"type\":\"map\",\"values\":\"int\"}}]}";
    rill_serde_t *serde = mock_serde(schema, "b", NULL);
    rill_buf_t rec = rill_avro_record_new(*state, rill_serde_avro_codec(serde));
    rill_avro_set_array((void *)rec.data, "a", 0);
    rill_avro_set_map((void *)rec.data, "m", 0);
    rill_bytes_t out = {0};
    serialize_ok(serde, rec, &out); /* registers the schema: id 1 */
    const uint8_t bytes[] = {0,    0, 0,    0,    1,    0x01, 0x02, 0x02, 0x02,
                             0x04, 0, 0x01, 0x04, 0x02, 'a',  0x06, 0x00};
    rill_buf_t v = deserialize_ok(serde, bytes, sizeof bytes, *state);
    int64_t i;
    size_t n;
    assert_int_equal(rill_avro_len(v.data, "a", &n), 0);
    assert_int_equal(n, 2);
    assert_int_equal(rill_avro_get_int(v.data, "a[0]", &i), 0);
    assert_int_equal(i, 1);
    assert_int_equal(rill_avro_get_int(v.data, "a[1]", &i), 0);
    assert_int_equal(i, 2);
    assert_int_equal(rill_avro_get_int(v.data, "m.a", &i), 0);
    assert_int_equal(i, 3);
    rill_bytes_free(&out);
    rill_serde_unref(serde);
}

/* Blocks of empty items (nulls) cost no bytes: bounded over all blocks (2^20 items), so a
 * record of a few bytes cannot make the decoder take gigabytes (found by review: 38 bytes took
 * 1.8 GB before). Blocks within the bound still decode. */
static void test_blocks_of_nulls_bounded(void **state)
{
    const char *schema = "{\"type\":\"record\",\"name\":\"N\",\"fields\":["
                         "{\"name\":\"a\",\"type\":{\"type\":\"array\",\"items\":\"null\"}}]}";
    rill_serde_t *serde = mock_serde(schema, "n", NULL);
    rill_buf_t rec = rill_avro_record_new(*state, rill_serde_avro_codec(serde));
    rill_avro_set_array((void *)rec.data, "a", 0);
    rill_bytes_t out = {0};
    serialize_ok(serde, rec, &out); /* registers the schema: id 1 */
    /* 40 blocks of 2^19 nulls: count 2^19 is zig-zag 2^20 = varint 80 80 40. */
    uint8_t bytes[5 + 40 * 3 + 1] = {0, 0, 0, 0, 1};
    for (int b = 0; b < 40; b++) {
        bytes[5 + 3 * b] = 0x80;
        bytes[6 + 3 * b] = 0x80;
        bytes[7 + 3 * b] = 0x40;
    }
    bytes[sizeof bytes - 1] = 0;
    assert_contains(deserialize_bad(serde, bytes, sizeof bytes, *state),
                    "at most 2^20 empty items");
    /* Two such blocks (2^20 items) are within the bound. */
    uint8_t two[5 + 2 * 3 + 1] = {0, 0, 0, 0, 1, 0x80, 0x80, 0x40, 0x80, 0x80, 0x40, 0};
    rill_buf_t v = deserialize_ok(serde, two, sizeof two, *state);
    size_t n;
    assert_int_equal(rill_avro_len(v.data, "a", &n), 0);
    assert_int_equal(n, (size_t)1 << 20);
    rill_bytes_free(&out);
    rill_serde_unref(serde);
}

/* ---- Errors ---- */

static void test_bad_input_names_byte_and_field(void **state)
{
    rill_arena_t *arena = *state;
    rill_bytes_t out = {0};
    rill_serde_t *serde = all_record(arena, "orders", &out);
    uint8_t bad[1024];
    memcpy(bad, out.data, out.len);

    const char *err = deserialize_bad(serde, "\x01\x00\x00\x00\x01\x00", 6, arena);
    assert_contains(err, "byte 0: magic byte is 0x01, not 0");
    err = deserialize_bad(serde, "\x00\x00\x01", 3, arena);
    assert_contains(err, "3 bytes: too short");
    err = deserialize_bad(serde, "\x00\x00\x00\x00\x63\x00", 6, arena);
    assert_contains(err, "schema id 99: unknown to the registry at mock://");
    assert_contains(err, "40403");

    /* Truncated inside u.tags[0] (the last string of the union's record). The body holds: nul
     * (0), b (1), i (3), l (10), f (4), d (8), by (4), s (7), e (1), fx (4), arr (1+1+1+3+1),
     * m (1+3+3+3+1+1), u (branch 1, x 1, tags count 1, "t" 2, end 1). */
    size_t u_tag = 0 + 1 + 3 + 10 + 4 + 8 + 4 + 7 + 1 + 4 + 7 + 12 + 1 + 1 + 1;
    err = deserialize_bad(serde, bad, 5 + u_tag + 1, arena);
    assert_contains(err, "schema id 1 (subject orders-value)");
    char want[64];
    snprintf(want, sizeof want, "byte %zu, field u.tags[0]:", 5 + u_tag + 1);
    assert_contains(err, want);
    assert_contains(err, "runs past the end");

    /* A bad union branch in u. */
    size_t u_at = u_tag - 3;
    bad[5 + u_at] = 0x06; /* branch 3 of 3 */
    err = deserialize_bad(serde, bad, out.len, arena);
    snprintf(want, sizeof want, "byte %zu, field u: union branch 3 out of range", 5 + u_at + 1);
    assert_contains(err, want);
    bad[5 + u_at] = 0x04;

    /* A boolean that is neither 0 nor 1. */
    bad[5] = 7;
    err = deserialize_bad(serde, bad, out.len, arena);
    assert_contains(err, "byte 5, field b: boolean byte is 0x07");
    bad[5] = 1;

    /* A bad enum index, and bytes left over. */
    size_t e_at = 1 + 3 + 10 + 4 + 8 + 4 + 7;
    bad[5 + e_at] = 0x08;
    err = deserialize_bad(serde, bad, out.len, arena);
    assert_contains(err, "field e: enum index 4 out of range (com.acme.Color has 3 symbols)");
    bad[5 + e_at] = 0x04;
    bad[out.len] = 0;
    err = deserialize_bad(serde, bad, out.len + 1, arena);
    assert_contains(err, "1 bytes left over");
    rill_bytes_free(&out);
    rill_serde_unref(serde);
}

static void test_writer_checks(void **state)
{
    rill_arena_t *arena = *state;
    rill_serde_t *serde = mock_serde(all_schema, "w", NULL);
    const rill_avro_codec_t *schema = rill_serde_avro_codec(serde);
    rill_buf_t rec = rill_avro_record_new(arena, schema);
    void *r = (void *)rec.data;
    assert_int_equal(rill_avro_set_str(r, "i", "x", 1), RILL_ESERDE);
    assert_string_equal(rill_avro_error(r),
                        "avro writer: field i: a string given, the schema says int");
    /* Only the first error is kept; each call still reports its own code. */
    assert_int_equal(rill_avro_set_int(r, "i", INT64_C(1) << 40), RILL_ESERDE);
    assert_int_equal(rill_avro_set_int(r, "nope", 1), RILL_ENOENT);
    assert_int_equal(rill_avro_set_str(r, "e", "PINK", 4), RILL_ESERDE);
    assert_int_equal(rill_avro_set_str(r, "fx", "ABC", 3), RILL_ESERDE);
    assert_int_equal(rill_avro_set_null(r, "s"), RILL_ESERDE);
    assert_int_equal(rill_avro_set_int(r, "arr[0]", 1), RILL_ENOENT);

    rill_buf_t fresh = rill_avro_record_new(arena, schema);
    r = (void *)fresh.data;
    char err[256];
    bool is_null;
    rill_bytes_t out = {0};
    assert_int_equal(rill_avro_set_str(r, "e", "PINK", 4), RILL_ESERDE);
    assert_string_equal(rill_avro_error(r),
                        "avro writer: field e: 'PINK' is not a symbol of enum com.acme.Color");
    assert_int_equal(rill_serde_serialize(serde, fresh, &out, &is_null, err, sizeof err),
                     RILL_ESERDE);
    assert_string_equal(err, "avro writer: field e: 'PINK' is not a symbol of enum com.acme.Color");

    /* Unset fields that are not nullable are named at serialize. */
    fresh = rill_avro_record_new(arena, schema);
    r = (void *)fresh.data;
    fill_all(r);
    rill_buf_t partial = rill_avro_record_new(arena, schema);
    assert_int_equal(rill_serde_serialize(serde, partial, &out, &is_null, err, sizeof err),
                     RILL_ESERDE);
    assert_string_equal(err, "avro: field b: not set (no default, not nullable)");
    assert_int_equal(rill_avro_set_record(r, "inner"), 0); /* a fresh, empty inner */
    assert_int_equal(rill_serde_serialize(serde, fresh, &out, &is_null, err, sizeof err),
                     RILL_ESERDE);
    assert_string_equal(err, "avro: field inner.x: not set (no default, not nullable)");
    assert_int_equal(out.len, 0);

    /* Not an Avro value. */
    assert_int_equal(
        rill_serde_serialize(serde, (rill_buf_t){"abc", 3}, &out, &is_null, err, sizeof err),
        RILL_ESERDE);
    assert_contains(err, "got length 3");
    rill_bytes_free(&out);
    rill_serde_unref(serde);
}

static void test_config_errors(void **state)
{
    char err[256];
    const char *no_url[] = {"schema", pair_schema, NULL};
    assert_null(rill_serde_avro_new(no_url, NULL, err, sizeof err));
    assert_string_equal(err, "avro serde: schema.registry.url is required");
    const char *bad_key[] = {"schema.registry.url", "mock://", "auto.register", "true", NULL};
    assert_null(rill_serde_avro_new(bad_key, NULL, err, sizeof err));
    assert_string_equal(err, "avro serde: unknown configuration key \"auto.register\"");
    const char *bad_bool[] = {"schema.registry.url", "mock://", "use.latest.version", "yes", NULL};
    assert_null(rill_serde_avro_new(bad_bool, NULL, err, sizeof err));
    assert_string_equal(err, "avro serde: use.latest.version must be true or false, not \"yes\"");
    const char *bad_strategy[] = {"schema.registry.url", "mock://", "subject.name.strategy", "Nope",
                                  NULL};
    assert_null(rill_serde_avro_new(bad_strategy, NULL, err, sizeof err));
    assert_contains(err, "subject.name.strategy \"Nope\"");
    const char *bad_schema[] = {"schema.registry.url", "mock://", "schema", "{\"type\":\"nope\"}",
                                NULL};
    assert_null(rill_serde_avro_new(bad_schema, NULL, err, sizeof err));
    assert_contains(err, "avro serde: schema: invalid Avro schema");
    /* Defaults are checked when the schema is made, as Java's parser checks them. */
    const char *bad_default[] = {"schema.registry.url", "mock://", "reader.schema",
                                 "{\"type\":\"record\",\"name\":\"User\",\"fields\":["
                                 "{\"name\":\"x\",\"type\":[\"null\",\"int\"],"
                                 "\"default\":3}]}",
                                 NULL};
    assert_null(rill_serde_avro_new(bad_default, NULL, err, sizeof err));
    assert_string_equal(err, "avro serde: reader.schema: invalid Avro schema: field x of User: "
                             "default is not null");
    const char *bad_url[] = {"schema.registry.url", "ftp://x", NULL};
    assert_null(rill_serde_avro_new(bad_url, NULL, err, sizeof err));
    assert_contains(err, "is not http://, https:// or mock://");
}

/* A writer field left unset takes its default (the hand-computed body: the default 42 as
 * zig-zag 84 = 0x54, then "d" and the null branch of the unset opt). */
static void test_writer_defaults(void **state)
{
    const char *schema = "{\"type\":\"record\",\"name\":\"D\",\"fields\":["
                         "{\"name\":\"n\",\"type\":\"int\",\"default\":42},"
                         "{\"name\":\"s\",\"type\":\"string\",\"default\":\"d\"},"
                         "{\"name\":\"opt\",\"type\":[\"null\",\"int\"]}]}";
    rill_serde_t *serde = mock_serde(schema, "d", NULL);
    rill_buf_t rec = rill_avro_record_new(*state, rill_serde_avro_codec(serde));
    rill_bytes_t out = {0};
    serialize_ok(serde, rec, &out);
    const uint8_t want[] = {0, 0, 0, 0, 1, 0x54, 0x02, 'd', 0x00};
    assert_int_equal(out.len, sizeof want);
    assert_memory_equal(out.data, want, sizeof want);
    rill_bytes_free(&out);
    rill_serde_unref(serde);
}

/* ---- Subjects ---- */

static void subject_case(rill_arena_t *arena, const char *strategy, const char *is_key,
                         const char *want_subject)
{
    char err[256] = "";
    rill_registry_client_t *reg = rill_registry_client_new("mock://", NULL, err, sizeof err);
    const char *conf[] = {"schema.registry.url",
                          "unused: the registry is given",
                          "subject.name.strategy",
                          strategy,
                          "is.key",
                          is_key,
                          "topic",
                          "orders",
                          "schema",
                          pair_schema,
                          NULL};
    rill_serde_t *serde = rill_serde_avro_new(conf, reg, err, sizeof err);
    assert_non_null(serde);
    rill_buf_t rec = rill_avro_record_new(arena, rill_serde_avro_codec(serde));
    rill_avro_set_int((void *)rec.data, "a", 1);
    rill_avro_set_str((void *)rec.data, "s", "", 0);
    rill_bytes_t out = {0};
    serialize_ok(serde, rec, &out);
    int32_t id, version;
    assert_int_equal(
        rill_registry_client_lookup(reg, want_subject, pair_schema, &id, &version, err, sizeof err),
        0);
    assert_int_equal(id, 1);
    assert_int_equal(version, 1);
    rill_bytes_free(&out);
    rill_serde_unref(serde);
    rill_registry_client_unref(reg);
}

static void test_subject_name_strategies(void **state)
{
    subject_case(*state, "TopicNameStrategy", "false", "orders-value");
    subject_case(*state, "TopicNameStrategy", "true", "orders-key");
    subject_case(*state, "io.confluent.kafka.serializers.subject.RecordNameStrategy", "false",
                 "t.Pair");
    subject_case(*state, "TopicRecordNameStrategy", "false", "orders-t.Pair");
}

static void test_use_latest_and_no_auto_register(void **state)
{
    rill_arena_t *arena = *state;
    char err[256] = "";
    rill_registry_client_t *reg = rill_registry_client_new("mock://", NULL, err, sizeof err);
    int32_t id;
    /* Not registered: auto.register.schemas=false fails, naming the subject. */
    const char *lookup_only[] = {"schema.registry.url",
                                 "mock://",
                                 "auto.register.schemas",
                                 "false",
                                 "topic",
                                 "orders",
                                 "schema",
                                 pair_schema,
                                 NULL};
    rill_serde_t *serde = rill_serde_avro_new(lookup_only, reg, err, sizeof err);
    rill_buf_t rec = rill_avro_record_new(arena, rill_serde_avro_codec(serde));
    rill_avro_set_int((void *)rec.data, "a", 1);
    rill_avro_set_str((void *)rec.data, "s", "x", 1);
    rill_bytes_t out = {0};
    bool is_null;
    assert_int_equal(rill_serde_serialize(serde, rec, &out, &is_null, err, sizeof err),
                     RILL_ESERDE);
    assert_contains(err, "subject orders-value: error_code 40401");
    /* Registered by someone else (ids 1, then 2): found by lookup. */
    assert_int_equal(rill_registry_client_register(reg, "other", all_schema, &id, err, sizeof err),
                     0);
    assert_int_equal(
        rill_registry_client_register(reg, "orders-value", pair_schema, &id, err, sizeof err), 0);
    assert_int_equal(id, 2);
    serialize_ok(serde, rec, &out);
    assert_int_equal(out.data[4], 2);
    rill_serde_unref(serde);

    /* use.latest.version: no schema of our own; the latest one is fetched once. */
    const char *latest[] = {
        "schema.registry.url", "mock://", "use.latest.version", "true", "topic", "orders", NULL};
    serde = rill_serde_avro_new(latest, reg, err, sizeof err);
    assert_non_null(serde);
    const rill_avro_codec_t *schema = rill_serde_avro_codec(serde);
    assert_non_null(schema);
    assert_string_equal(rill_avro_codec_name(schema), "t.Pair");
    rec = rill_avro_record_new(arena, schema);
    rill_avro_set_int((void *)rec.data, "a", 1);
    rill_avro_set_str((void *)rec.data, "s", "x", 1);
    serialize_ok(serde, rec, &out);
    assert_int_equal(out.data[4], 2);
    rill_bytes_free(&out);
    rill_serde_unref(serde);
    rill_registry_client_unref(reg);
}

/* A value read by one serde (its writer schema, id 1 in "in-value") is written by a serde of
 * another topic: its schema is registered there (same text, so the same id) and kept. */
static void test_pass_through_foreign_schema(void **state)
{
    rill_arena_t *arena = *state;
    char err[256] = "";
    rill_registry_client_t *reg = rill_registry_client_new("mock://", NULL, err, sizeof err);
    rill_serde_t *in = mock_serde(pair_schema, "in", reg);
    const char *conf[] = {"schema.registry.url", "mock://", "topic", "out", NULL};
    rill_serde_t *out_serde = rill_serde_avro_new(conf, reg, err, sizeof err);
    assert_non_null(out_serde);
    rill_buf_t rec = rill_avro_record_new(arena, rill_serde_avro_codec(in));
    rill_avro_set_int((void *)rec.data, "a", 5);
    rill_avro_set_str((void *)rec.data, "s", "x", 1);
    rill_bytes_t b = {0};
    serialize_ok(in, rec, &b);
    rill_buf_t v = deserialize_ok(in, b.data, b.len, arena);
    rill_bytes_t b2 = {0};
    serialize_ok(out_serde, v, &b2);
    assert_int_equal(b2.len, b.len);
    assert_memory_equal(b2.data, b.data, b.len);
    assert_int_equal(
        rill_registry_client_lookup(reg, "out-value", pair_schema, NULL, NULL, err, sizeof err), 0);
    rill_bytes_free(&b);
    rill_bytes_free(&b2);
    rill_serde_unref(in);
    rill_serde_unref(out_serde);
    rill_registry_client_unref(reg);
}

/* A serde keeps a reference to the codecs of the values it wrote (it knows them by address): a
 * codec freed by its owner cannot have its address given to a codec of another schema, whose
 * values would then get the first one's id. */
static void test_foreign_codec_kept(void **state)
{
    rill_arena_t *arena = *state;
    char err[256] = "";
    rill_registry_client_t *reg = rill_registry_client_new("mock://", NULL, err, sizeof err);
    const char *conf[] = {"schema.registry.url", "mock://", "topic", "kept", NULL};
    rill_serde_t *serde = rill_serde_avro_new(conf, reg, err, sizeof err);
    assert_non_null(serde);
    int32_t ids[2];
    for (int i = 0; i < 2; i++) {
        const char *text = i ? all_schema : pair_schema;
        rill_avro_codec_t *codec = rill_avro_codec_new(text, strlen(text), err, sizeof err);
        assert_non_null(codec);
        rill_arena_reset(arena);
        rill_buf_t rec = rill_avro_record_new(arena, codec);
        if (i) {
            fill_all((void *)rec.data);
        } else {
            rill_avro_set_int((void *)rec.data, "a", 1);
            rill_avro_set_str((void *)rec.data, "s", "x", 1);
        }
        rill_bytes_t b = {0};
        serialize_ok(serde, rec, &b);
        assert_true(b.len >= 5);
        ids[i] = (int32_t)((uint32_t)b.data[1] << 24 | (uint32_t)b.data[2] << 16 |
                           (uint32_t)b.data[3] << 8 | b.data[4]);
        int32_t want = -1;
        assert_int_equal(
            rill_registry_client_lookup(reg, "kept-value", text, &want, NULL, err, sizeof err), 0);
        assert_int_equal(ids[i], want);
        rill_bytes_free(&b);
        /* The serde holds the codec: dropping ours frees nothing (teardown checks that the
         * serde frees it). */
        long live = atomic_load(&n_live);
        rill_avro_codec_unref(codec);
        assert_int_equal(atomic_load(&n_live), live);
    }
    assert_int_not_equal(ids[0], ids[1]);
    rill_serde_unref(serde);
    rill_registry_client_unref(reg);
}

/* ---- Reading with a reader schema (the Avro specification's "Schema Resolution") ---- */

static const char *user_v1 =
    "{\"type\":\"record\",\"name\":\"User\",\"namespace\":\"t\",\"fields\":["
    "{\"name\":\"id\",\"type\":\"int\"},{\"name\":\"name\",\"type\":\"string\"},"
    "{\"name\":\"dropped\",\"type\":\"string\"},"
    "{\"name\":\"color\",\"type\":{\"type\":\"enum\",\"name\":\"Color\","
    "\"symbols\":[\"RED\",\"GREEN\",\"BLUE\"]}},"
    "{\"name\":\"tags\",\"type\":{\"type\":\"array\",\"items\":\"int\"}},"
    "{\"name\":\"u\",\"type\":[\"null\",\"int\"]},"
    "{\"name\":\"sub\",\"type\":{\"type\":\"record\",\"name\":\"Sub\",\"fields\":["
    "{\"name\":\"a\",\"type\":\"int\"}]}},"
    "{\"name\":\"s\",\"type\":[\"null\",\"string\"]}]}";

/* v2 reads v1: promotions (int -> long, string -> bytes, int -> double in an array, int ->
 * long inside a union), a reordered enum with a default for BLUE, a nested record with an added
 * field, a field renamed with an alias, added fields with defaults (int, null union, map,
 * record), a removed field, and a writer union read as a plain string. */
static const char *user_v2 =
    "{\"type\":\"record\",\"name\":\"User\",\"namespace\":\"t\",\"fields\":["
    "{\"name\":\"added\",\"type\":\"int\",\"default\":42},"
    "{\"name\":\"id\",\"type\":\"long\"},{\"name\":\"name\",\"type\":\"bytes\"},"
    "{\"name\":\"title\",\"type\":\"string\",\"aliases\":[\"dropped\"]},"
    "{\"name\":\"color\",\"type\":{\"type\":\"enum\",\"name\":\"Color\","
    "\"symbols\":[\"GREEN\",\"RED\",\"PINK\"],\"default\":\"PINK\"}},"
    "{\"name\":\"tags\",\"type\":{\"type\":\"array\",\"items\":\"double\"}},"
    "{\"name\":\"u\",\"type\":[\"null\",\"long\"]},"
    "{\"name\":\"sub\",\"type\":{\"type\":\"record\",\"name\":\"Sub\",\"fields\":["
    "{\"name\":\"a\",\"type\":\"int\"},{\"name\":\"b\",\"type\":\"string\",\"default\":\"x\"}]}},"
    "{\"name\":\"opt\",\"type\":[\"null\",\"string\"],\"default\":null},"
    "{\"name\":\"m\",\"type\":{\"type\":\"map\",\"values\":\"bytes\"},"
    "\"default\":{\"k\":\"\\u00ff\"}},"
    "{\"name\":\"rec\",\"type\":{\"type\":\"record\",\"name\":\"R\",\"fields\":["
    "{\"name\":\"z\",\"type\":\"int\",\"default\":1},{\"name\":\"w\",\"type\":\"string\"}]},"
    "\"default\":{\"w\":\"dw\"}},"
    "{\"name\":\"s\",\"type\":\"string\"}]}";

/* Writes a v1 User through writer. */
static void write_user(rill_serde_t *writer, rill_arena_t *arena, const char *color, bool s_null,
                       rill_bytes_t *out)
{
    rill_buf_t rec = rill_avro_record_new(arena, rill_serde_avro_codec(writer));
    void *r = (void *)rec.data;
    rill_avro_set_int(r, "id", 7);
    rill_avro_set_str(r, "name", "ann", 3);
    rill_avro_set_str(r, "dropped", "dr", 2);
    rill_avro_set_str(r, "color", color, strlen(color));
    rill_avro_set_array(r, "tags", 2);
    rill_avro_set_int(r, "tags[0]", 3);
    rill_avro_set_int(r, "tags[1]", -4);
    rill_avro_set_int(r, "u", 9);
    rill_avro_set_int(r, "sub.a", 5);
    if (s_null)
        rill_avro_set_null(r, "s");
    else
        rill_avro_set_str(r, "s", "str", 3);
    assert_null(rill_avro_error(r));
    serialize_ok(writer, rec, out);
}

static void test_reader_schema_resolution(void **state)
{
    rill_arena_t *arena = *state;
    char err[512] = "";
    rill_registry_client_t *reg = rill_registry_client_new("mock://", NULL, err, sizeof err);
    rill_serde_t *writer = mock_serde(user_v1, "users", reg);
    const char *conf[] = {"schema.registry.url", "mock://", "topic", "users",
                          "reader.schema",       user_v2,   NULL};
    rill_serde_t *reader = rill_serde_avro_new(conf, reg, err, sizeof err);
    if (!reader)
        fail_msg("%s", err);
    rill_bytes_t out = {0};
    write_user(writer, arena, "RED", false, &out);
    rill_buf_t v = deserialize_ok(reader, out.data, out.len, arena);
    const void *d = v.data;
    int64_t i;
    double x;
    size_t n;
    assert_int_equal(rill_avro_get_int(d, "added", &i), 0);
    assert_int_equal(i, 42);
    assert_int_equal(rill_avro_type(d, "id"), RILL_AVRO_LONG);
    assert_int_equal(rill_avro_get_int(d, "id", &i), 0);
    assert_int_equal(i, 7);
    assert_int_equal(rill_avro_type(d, "name"), RILL_AVRO_BYTES);
    assert_str(d, "name", "ann");
    assert_str(d, "title", "dr");
    int idx;
    assert_string_equal(rill_avro_get_enum(d, "color", &idx), "RED");
    assert_int_equal(idx, 1);
    assert_int_equal(rill_avro_type(d, "tags[1]"), RILL_AVRO_DOUBLE);
    assert_int_equal(rill_avro_get_double(d, "tags[1]", &x), 0);
    assert_true(x == -4.0);
    assert_int_equal(rill_avro_type(d, "u"), RILL_AVRO_LONG);
    assert_int_equal(rill_avro_branch(d, "u"), 1);
    assert_int_equal(rill_avro_get_int(d, "sub.a", &i), 0);
    assert_int_equal(i, 5);
    assert_str(d, "sub.b", "x");
    assert_int_equal(rill_avro_is_null(d, "opt"), 1);
    assert_str(d, "m.k", "\xff");
    assert_int_equal(rill_avro_get_int(d, "rec.z", &i), 0);
    assert_int_equal(i, 1);
    assert_str(d, "rec.w", "dw");
    assert_str(d, "s", "str");
    assert_null(rill_avro_get(d, "dropped"));
    assert_int_equal(rill_avro_len(d, NULL, &n), 0);
    assert_int_equal(n, 12);

    /* BLUE is not the reader's: the enum's default. */
    write_user(writer, arena, "BLUE", false, &out);
    v = deserialize_ok(reader, out.data, out.len, arena);
    assert_string_equal(rill_avro_get_enum(v.data, "color", NULL), "PINK");

    /* The reader's s is a string: a record whose writer union holds null cannot be read, and
     * says which field; the others still can. */
    write_user(writer, arena, "GREEN", true, &out);
    const char *why = deserialize_bad(reader, out.data, out.len, arena);
    assert_contains(why, "avro: schema id 1 (subject users-value) read as t.User: field s: "
                         "writer's null cannot be read as string");

    /* The value read is of the reader's schema: it serializes as that (registered under the
     * reader serde's subject: a new id). */
    write_user(writer, arena, "GREEN", false, &out);
    v = deserialize_ok(reader, out.data, out.len, arena);
    rill_bytes_t again = {0};
    serialize_ok(reader, v, &again);
    assert_int_equal(again.data[4], 2);
    rill_buf_t back = deserialize_ok(reader, again.data, again.len, arena);
    assert_str(back.data, "rec.w", "dw");
    rill_bytes_free(&again);
    rill_bytes_free(&out);
    rill_serde_unref(reader);
    rill_serde_unref(writer);
    rill_registry_client_unref(reg);
}

static void test_reader_schema_mismatch(void **state)
{
    rill_arena_t *arena = *state;
    char err[512] = "";
    rill_registry_client_t *reg = rill_registry_client_new("mock://", NULL, err, sizeof err);
    rill_serde_t *writer = mock_serde(user_v1, "users", reg);
    rill_bytes_t out = {0};
    write_user(writer, arena, "BLUE", false, &out);
    struct {
        const char *reader, *want;
    } cases[] = {
        {"{\"type\":\"record\",\"name\":\"User\",\"namespace\":\"t\",\"fields\":["
         "{\"name\":\"must\",\"type\":\"int\"}]}",
         "cannot be read with the reader schema t.User: field must: not in the writer's schema "
         "t.User and no default"},
        {"{\"type\":\"record\",\"name\":\"Other\",\"fields\":[]}",
         "field (the top-level value): writer's t.User cannot be read as Other (names or sizes "
         "differ)"},
        {"{\"type\":\"record\",\"name\":\"User\",\"fields\":[{\"name\":\"id\",\"type\":\"string\"}]"
         "}",
         "field id: writer's int cannot be read as string"},
        /* An enum without a default: BLUE fails the record, naming the field. */
        {"{\"type\":\"record\",\"name\":\"User\",\"fields\":[{\"name\":\"color\",\"type\":{"
         "\"type\":\"enum\",\"name\":\"Color\",\"symbols\":[\"RED\"]}}]}",
         "read as User: field color: the writer's enum symbol is not the reader's"},
    };
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        const char *conf[] = {"schema.registry.url", "mock://",       "topic", "users",
                              "reader.schema",       cases[c].reader, NULL};
        rill_serde_t *reader = rill_serde_avro_new(conf, reg, err, sizeof err);
        assert_non_null(reader);
        assert_contains(deserialize_bad(reader, out.data, out.len, arena), cases[c].want);
        rill_serde_unref(reader);
    }
    rill_bytes_free(&out);
    rill_serde_unref(writer);
    rill_registry_client_unref(reg);
}

/* A recursive record (a linked list) read with a reader that promotes and adds a field. */
static void test_reader_schema_recursive(void **state)
{
    rill_arena_t *arena = *state;
    const char *w = "{\"type\":\"record\",\"name\":\"Node\",\"fields\":[{\"name\":\"v\","
                    "\"type\":\"int\"},{\"name\":\"next\",\"type\":[\"null\",\"Node\"]}]}";
    const char *r = "{\"type\":\"record\",\"name\":\"Node\",\"fields\":[{\"name\":\"v\","
                    "\"type\":\"long\"},{\"name\":\"next\",\"type\":[\"null\",\"Node\"]},"
                    "{\"name\":\"w\",\"type\":\"int\",\"default\":-1}]}";
    char err[512] = "";
    rill_registry_client_t *reg = rill_registry_client_new("mock://", NULL, err, sizeof err);
    rill_serde_t *writer = mock_serde(w, "list", reg);
    const char *conf[] = {"schema.registry.url", "mock://", "reader.schema", r, NULL};
    rill_serde_t *reader = rill_serde_avro_new(conf, reg, err, sizeof err);
    rill_buf_t rec = rill_avro_record_new(arena, rill_serde_avro_codec(writer));
    void *x = (void *)rec.data;
    assert_int_equal(rill_avro_set_int(x, "v", 1), 0);
    assert_int_equal(rill_avro_set_record(x, "next"), 0);
    assert_int_equal(rill_avro_set_int(x, "next.v", 2), 0);
    assert_int_equal(rill_avro_set_record(x, "next.next"), 0);
    assert_int_equal(rill_avro_set_int(x, "next.next.v", 3), 0);
    rill_bytes_t out = {0};
    serialize_ok(writer, rec, &out);
    rill_buf_t v = deserialize_ok(reader, out.data, out.len, arena);
    char text[256];
    rill_avro_format(v.data, text, sizeof text);
    assert_string_equal(text,
                        "{\"v\":1,\"next\":{\"v\":2,\"next\":{\"v\":3,\"next\":null,\"w\":-1},"
                        "\"w\":-1},\"w\":-1}");
    assert_int_equal(rill_avro_type(v.data, "next.next.v"), RILL_AVRO_LONG);
    rill_bytes_free(&out);
    rill_serde_unref(reader);
    rill_serde_unref(writer);
    rill_registry_client_unref(reg);
}

/* Every truncation of a valid record fails cleanly, and 20,000 random corruptions (fixed seed)
 * either decode or fail with RILL_ESERDE and a message; the ASan build checks no read strays
 * past the input (a poor man's fuzzer, until the tree has libFuzzer targets). */
static void test_truncated_and_corrupted_input(void **state)
{
    rill_arena_t *arena = *state;
    rill_bytes_t out = {0};
    rill_serde_t *serde = all_record(arena, "fuzz", &out);
    char err[512];
    for (size_t len = 0; len < out.len; len++) {
        /* An exact-size copy on the heap, so ASan sees a read one past the end. */
        uint8_t *copy = malloc(len ? len : 1);
        memcpy(copy, out.data, len);
        rill_buf_t v;
        err[0] = 0;
        assert_int_equal(
            rill_serde_deserialize(serde, (rill_buf_t){copy, len}, arena, &v, err, sizeof err),
            RILL_ESERDE);
        assert_true(err[0] != 0);
        free(copy);
    }
    unsigned seed = 12345;
    int decoded = 0;
    for (int round = 0; round < 20000; round++) {
        rill_arena_reset(arena);
        uint8_t *copy = malloc(out.len);
        memcpy(copy, out.data, out.len);
        for (int k = 0; k < 1 + round % 3; k++) {
            seed = seed * 1103515245 + 12345;
            size_t at = 5 + (seed >> 8) % (out.len - 5);
            seed = seed * 1103515245 + 12345;
            copy[at] = (uint8_t)(seed >> 16);
        }
        rill_buf_t v;
        int rc =
            rill_serde_deserialize(serde, (rill_buf_t){copy, out.len}, arena, &v, err, sizeof err);
        if (rc == 0) {
            decoded++;
            rill_avro_format(v.data, err, sizeof err);
        } else {
            assert_int_equal(rc, RILL_ESERDE);
        }
        free(copy);
    }
    printf("random corruptions: %d of 20000 still decode, the rest fail cleanly\n", decoded);
    rill_bytes_free(&out);
    rill_serde_unref(serde);
}

/* One serde shared by four threads, each with its own arena, reading records of two schema ids
 * (the first use of each races between threads). */
typedef struct {
    rill_serde_t *serde;
    const rill_bytes_t *inputs; /* two records, of ids 1 and 2 */
    int ok;
} thread_arg_t;

static void *thread_main(void *p)
{
    thread_arg_t *a = p;
    rill_arena_t *arena = rill_arena_new(4096);
    rill_bytes_t out = {0};
    for (int i = 0; i < 2000; i++) {
        rill_arena_reset(arena);
        const rill_bytes_t *in = &a->inputs[i % 2];
        rill_buf_t v;
        bool is_null;
        if (rill_serde_deserialize(a->serde, (rill_buf_t){in->data, in->len}, arena, &v, NULL, 0) ||
            rill_serde_serialize(a->serde, v, &out, &is_null, NULL, 0) || out.len != in->len ||
            memcmp(out.data, in->data, in->len))
            break;
        a->ok++;
    }
    rill_bytes_free(&out);
    rill_arena_destroy(arena);
    return NULL;
}

static void test_shared_by_threads(void **state)
{
    rill_arena_t *arena = *state;
    char err[256] = "";
    rill_registry_client_t *reg = rill_registry_client_new("mock://", NULL, err, sizeof err);
    rill_serde_t *pairs = mock_serde(pair_schema, "shared", reg);
    rill_serde_t *alls = mock_serde(all_schema, "shared2", reg);
    rill_bytes_t inputs[2] = {{0}, {0}};
    rill_buf_t rec = rill_avro_record_new(arena, rill_serde_avro_codec(pairs));
    rill_avro_set_int((void *)rec.data, "a", 1);
    rill_avro_set_str((void *)rec.data, "s", "x", 1);
    serialize_ok(pairs, rec, &inputs[0]);
    rec = rill_avro_record_new(arena, rill_serde_avro_codec(alls));
    fill_all((void *)rec.data);
    serialize_ok(alls, rec, &inputs[1]);
    /* A reader of its own: both ids are new to it, and its serialize registers the second. */
    const char *conf[] = {"schema.registry.url", "mock://", "topic", "shared", NULL};
    rill_serde_t *serde = rill_serde_avro_new(conf, reg, err, sizeof err);
    pthread_t threads[4];
    thread_arg_t args[4];
    for (int t = 0; t < 4; t++) {
        args[t] = (thread_arg_t){serde, inputs, 0};
        assert_int_equal(pthread_create(&threads[t], NULL, thread_main, &args[t]), 0);
    }
    for (int t = 0; t < 4; t++) {
        pthread_join(threads[t], NULL);
        assert_int_equal(args[t].ok, 2000);
    }
    rill_bytes_free(&inputs[0]);
    rill_bytes_free(&inputs[1]);
    rill_serde_unref(serde);
    rill_serde_unref(pairs);
    rill_serde_unref(alls);
    rill_registry_client_unref(reg);
}

/* ---- Through a topology: bad records go to the deserialization handler ---- */

static const char *header_of(const rill_test_record_t *rec, const char *name, char *buf,
                             size_t size)
{
    for (size_t i = 0; i < rec->header_count; i++)
        if (!strcmp(rec->headers[i].name, name)) {
            snprintf(buf, size, "%.*s", (int)rec->headers[i].value.len,
                     (const char *)rec->headers[i].value.data);
            return buf;
        }
    return "";
}

/* in (Avro) -> out (Avro, another topic and subject): good records pass through, one that is
 * not Confluent's wire format, one of an unknown id and a truncated one go to the dead letter
 * queue with the serde's message. */
static void test_topology_dead_letters(void **state)
{
    rill_arena_t *arena = *state;
    char err[512] = "";
    rill_registry_client_t *reg = rill_registry_client_new("mock://", NULL, err, sizeof err);
    rill_serde_t *in_serde = mock_serde(pair_schema, "in", reg);
    const char *out_conf[] = {"schema.registry.url", "mock://", "topic", "out", NULL};
    rill_serde_t *out_serde = rill_serde_avro_new(out_conf, reg, err, sizeof err);
    rill_topology_t *topo = rill_topology_new();
    rill_source_opts_t in = {.key_serde = rill_serde_string(), .value_serde = in_serde};
    rill_sink_opts_t out = {.key_serde = rill_serde_string(), .value_serde = out_serde};
    rill_stream_t *s = rill_stream_from_topic(topo, "in", &in);
    assert_int_equal(rill_stream_to(s, "out", &out), 0);
    rill_conf_t *conf = rill_conf_new();
    const char *kv[] = {"deserialization.exception.handler", "continue",
                        "errors.dead.letter.queue.topic.name", "dlq", NULL};
    for (size_t i = 0; kv[i]; i += 2)
        assert_int_equal(rill_conf_set(conf, kv[i], kv[i + 1], err, sizeof err), 0);
    rill_test_driver_t *td = rill_test_driver_new(topo, conf, 0, err, sizeof err);
    if (!td)
        fail_msg("rill_test_driver_new: %s", err);
    rill_conf_destroy(conf);

    rill_bytes_t good = {0};
    rill_buf_t rec = rill_avro_record_new(arena, rill_serde_avro_codec(in_serde));
    rill_avro_set_int((void *)rec.data, "a", 1);
    rill_avro_set_str((void *)rec.data, "s", "ok", 2);
    serialize_ok(in_serde, rec, &good);
    rill_buf_t key = {"k", 1};
    struct {
        rill_buf_t value;
        const char *why;
    } bad[] = {
        {{"\x01\x00\x00\x00\x01\x02", 6}, "byte 0: magic byte is 0x01, not 0"},
        {{"\x00\x00\x00\x00\x09\x02", 6}, "schema id 9: unknown to the registry"},
        {{good.data, good.len - 1},
         "schema id 1 (subject in-value): byte 9, field n: input ends inside a varint"},
    };
    assert_int_equal(rill_test_driver_pipe(td, "in", -1, key, (rill_buf_t){good.data, good.len}, 1),
                     0);
    for (size_t i = 0; i < 3; i++)
        assert_int_equal(rill_test_driver_pipe(td, "in", -1, key, bad[i].value, 2 + (int64_t)i), 0);
    assert_int_equal(rill_test_driver_pipe(td, "in", -1, key, (rill_buf_t){good.data, good.len}, 9),
                     0);
    rill_test_record_t r;
    for (int i = 0; i < 2; i++) {
        assert_int_equal(rill_test_driver_read(td, "out", &r), 0);
        /* Re-registered under out-value: the same text, the same id. */
        assert_int_equal(r.value.len, good.len);
        assert_memory_equal(r.value.data, good.data, good.len);
    }
    assert_int_equal(rill_test_driver_unread(td, "out"), 0);
    char buf[512];
    for (size_t i = 0; i < 3; i++) {
        assert_int_equal(rill_test_driver_read(td, "dlq", &r), 0);
        assert_contains(header_of(&r, "__streams.errors.message", buf, sizeof buf), bad[i].why);
    }
    assert_int_equal(rill_test_driver_metric(td, "records-skipped"), 3);
    assert_int_equal(
        rill_registry_client_lookup(reg, "out-value", pair_schema, NULL, NULL, err, sizeof err), 0);
    rill_test_driver_destroy(td);
    rill_topology_unref(topo);
    rill_bytes_free(&good);
    rill_serde_unref(in_serde);
    rill_serde_unref(out_serde);
    rill_registry_client_unref(reg);
}

/* ---- No allocation per record ---- */

static void test_no_allocation_when_warm(void **state)
{
    rill_arena_t *arena = *state;
    rill_serde_t *serde = mock_serde(all_schema, "hot", NULL);
    const rill_avro_codec_t *schema = rill_serde_avro_codec(serde);
    rill_bytes_t out = {0}, again = {0};
    long before = 0;
    for (int round = 0; round < 1000; round++) {
        if (round == 10)
            before = atomic_load(&n_allocs);
        rill_arena_reset(arena);
        rill_buf_t rec = rill_avro_record_new(arena, schema);
        fill_all((void *)rec.data);
        serialize_ok(serde, rec, &out);
        rill_buf_t v = deserialize_ok(serde, out.data, out.len, arena);
        int64_t i;
        assert_int_equal(rill_avro_get_int(v.data, "u.x", &i), 0);
        serialize_ok(serde, v, &again);
    }
    assert_int_equal(atomic_load(&n_allocs) - before, 0);
    rill_bytes_free(&out);
    rill_bytes_free(&again);
    rill_serde_unref(serde);
}

/* ---- The registry client over HTTP, against FAKE REGISTRY (a test double) ---- */

typedef struct {
    struct MHD_Daemon *daemon;
    int port;
    atomic_int requests;
    pthread_mutex_t lock;
    json_t *schemas;             /* array: index i is id i + 1 */
    json_t *subjects;            /* object: subject -> array of ids (version v at v - 1) */
    const char *user, *password; /* required when user is set */
    char last_content_type[128];
} fake_t;

typedef struct {
    rill_bytes_t body;
} upload_t;

static enum MHD_Result fake_reply(struct MHD_Connection *c, unsigned status, json_t *doc)
{
    char *text = json_dumps(doc, JSON_COMPACT);
    json_decref(doc);
    struct MHD_Response *r =
        MHD_create_response_from_buffer(strlen(text), text, MHD_RESPMEM_MUST_FREE);
    MHD_add_response_header(r, "Content-Type", "application/vnd.schemaregistry.v1+json");
    enum MHD_Result rc = MHD_queue_response(c, status, r);
    MHD_destroy_response(r);
    return rc;
}

static enum MHD_Result fake_error(struct MHD_Connection *c, unsigned status, int code,
                                  const char *msg)
{
    return fake_reply(c, status, json_pack("{s:i,s:s}", "error_code", code, "message", msg));
}

/* The id of text, registering it when add (the same text gets the same id everywhere). */
static int fake_id_of(fake_t *f, const char *text, bool add)
{
    size_t i;
    json_t *s;
    json_array_foreach(f->schemas, i, s) if (!strcmp(json_string_value(s), text)) return (int)i + 1;
    if (!add)
        return 0;
    json_array_append_new(f->schemas, json_string(text));
    return (int)json_array_size(f->schemas);
}

static enum MHD_Result fake_answer(fake_t *f, struct MHD_Connection *c, const char *url,
                                   const char *method, const rill_bytes_t *body)
{
    if (f->user) {
        char *pass = NULL;
        char *user = MHD_basic_auth_get_username_password(c, &pass);
        bool ok = user && pass && !strcmp(user, f->user) && !strcmp(pass, f->password);
        MHD_free(user);
        MHD_free(pass);
        if (!ok)
            return fake_error(c, 401, 401, "Unauthorized");
    }
    int id;
    char subject[256], tail[64] = "";
    if (sscanf(url, "/schemas/ids/%d", &id) == 1 && !strcmp(method, "GET")) {
        json_t *s = id > 0 ? json_array_get(f->schemas, (size_t)id - 1) : NULL;
        if (!s) {
            char msg[64];
            snprintf(msg, sizeof msg, "Schema %d not found", id);
            return fake_error(c, 404, 40403, msg);
        }
        return fake_reply(c, 200, json_pack("{s:O}", "schema", s));
    }
    if (sscanf(url, "/subjects/%255[^/]%63s", subject, tail) < 1)
        return fake_error(c, 404, 404, "HTTP 404 Not Found");
    json_t *versions = json_object_get(f->subjects, subject);
    if (!strcmp(method, "GET") && !strcmp(tail, "/versions/latest")) {
        if (!versions)
            return fake_error(c, 404, 40401, "Subject not found.");
        size_t n = json_array_size(versions);
        json_int_t sid = json_integer_value(json_array_get(versions, n - 1));
        return fake_reply(c, 200,
                          json_pack("{s:s,s:I,s:i,s:O}", "subject", subject, "id", sid, "version",
                                    (int)n, "schema", json_array_get(f->schemas, (size_t)sid - 1)));
    }
    if (strcmp(method, "POST"))
        return fake_error(c, 405, 405, "HTTP 405 Method Not Allowed");
    json_error_t jerr;
    json_t *req = json_loadb((const char *)body->data, body->len, 0, &jerr);
    const char *text = json_string_value(json_object_get(req, "schema"));
    enum MHD_Result rc;
    if (!text) {
        rc = fake_error(c, 422, 42201, "Invalid schema");
    } else if (!strcmp(tail, "/versions")) {
        int sid = fake_id_of(f, text, true);
        if (!versions) {
            versions = json_array();
            json_object_set_new(f->subjects, subject, versions);
        }
        bool have = false;
        size_t i;
        json_t *v;
        json_array_foreach(versions, i, v) have |= json_integer_value(v) == sid;
        if (!have)
            json_array_append_new(versions, json_integer(sid));
        rc = fake_reply(c, 200, json_pack("{s:i}", "id", sid));
    } else if (!tail[0]) {
        int sid = fake_id_of(f, text, false);
        int version = 0;
        size_t i;
        json_t *v;
        json_array_foreach(versions, i, v) if (json_integer_value(v) == sid) version = (int)i + 1;
        if (!versions)
            rc = fake_error(c, 404, 40401, "Subject not found.");
        else if (!version)
            rc = fake_error(c, 404, 40403, "Schema not found");
        else
            rc = fake_reply(c, 200,
                            json_pack("{s:s,s:i,s:i,s:s}", "subject", subject, "id", sid, "version",
                                      version, "schema", text));
    } else {
        rc = fake_error(c, 404, 404, "HTTP 404 Not Found");
    }
    json_decref(req);
    return rc;
}

static enum MHD_Result fake_handler(void *cls, struct MHD_Connection *c, const char *url,
                                    const char *method, const char *version,
                                    const char *upload_data, size_t *upload_data_size,
                                    void **con_cls)
{
    fake_t *f = cls;
    upload_t *up = *con_cls;
    if (!up) {
        *con_cls = up = calloc(1, sizeof *up);
        return up ? MHD_YES : MHD_NO;
    }
    if (*upload_data_size) {
        rill_bytes_append(&up->body, upload_data, *upload_data_size);
        *upload_data_size = 0;
        return MHD_YES;
    }
    atomic_fetch_add(&f->requests, 1);
    const char *ct = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Content-Type");
    pthread_mutex_lock(&f->lock);
    if (ct)
        snprintf(f->last_content_type, sizeof f->last_content_type, "%s", ct);
    enum MHD_Result rc = fake_answer(f, c, url, method, &up->body);
    pthread_mutex_unlock(&f->lock);
    return rc;
}

static void fake_done(void *cls, struct MHD_Connection *c, void **con_cls,
                      enum MHD_RequestTerminationCode toe)
{
    upload_t *up = *con_cls;
    if (up) {
        rill_bytes_free(&up->body);
        free(up);
    }
}

static void fake_start(fake_t *f)
{
    memset(f, 0, sizeof *f);
    pthread_mutex_init(&f->lock, NULL);
    f->schemas = json_array();
    f->subjects = json_object();
    f->daemon = MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_ERROR_LOG, 0, NULL, NULL,
                                 fake_handler, f, MHD_OPTION_NOTIFY_COMPLETED, fake_done, f,
                                 MHD_OPTION_LISTENING_ADDRESS_REUSE, 1, MHD_OPTION_END);
    assert_non_null(f->daemon);
    const union MHD_DaemonInfo *info = MHD_get_daemon_info(f->daemon, MHD_DAEMON_INFO_BIND_PORT);
    f->port = info->port;
}

static void fake_stop(fake_t *f)
{
    MHD_stop_daemon(f->daemon);
    json_decref(f->schemas);
    json_decref(f->subjects);
    pthread_mutex_destroy(&f->lock);
}

static void test_registry_client_http(void **state)
{
    fake_t f;
    fake_start(&f);
    f.user = "alice";
    f.password = "s3cret";
    char url[64], err[512] = "";
    snprintf(url, sizeof url, "http://127.0.0.1:%d/", f.port);

    /* Without credentials: the 401 body becomes the error. */
    rill_registry_client_t *anon = rill_registry_client_new(url, NULL, err, sizeof err);
    int32_t id = 0, version = 0;
    assert_int_equal(rill_registry_client_register(anon, "s", pair_schema, &id, err, sizeof err),
                     RILL_ESERDE);
    assert_string_equal(err, "POST /subjects/s/versions: HTTP 401, error_code 401: Unauthorized");
    rill_registry_client_unref(anon);

    rill_registry_client_t *reg = rill_registry_client_new(url, "alice:s3cret", err, sizeof err);
    assert_non_null(reg);
    /* A subject that needs escaping in the URL. */
    assert_int_equal(rill_registry_client_register(reg, "a b&c", pair_schema, &id, err, sizeof err),
                     0);
    assert_int_equal(id, 1);
    assert_string_equal(f.last_content_type, "application/vnd.schemaregistry.v1+json");
    assert_int_equal(rill_registry_client_register(reg, "a b&c", pair_schema, &id, err, sizeof err),
                     0);
    assert_int_equal(rill_registry_client_requests(reg), 1); /* cached */
    assert_int_equal(
        rill_registry_client_lookup(reg, "a b&c", pair_schema, &id, &version, err, sizeof err), 0);
    assert_int_equal(version, 1);
    assert_int_equal(rill_registry_client_requests(reg), 2);
    assert_int_equal(
        rill_registry_client_lookup(reg, "nope", pair_schema, &id, &version, err, sizeof err),
        RILL_ENOENT);
    assert_string_equal(err, "POST /subjects/nope: HTTP 404, error_code 40401: Subject not found.");
    const char *text = NULL;
    assert_int_equal(rill_registry_client_schema(reg, 1, &text, err, sizeof err), 0);
    assert_string_equal(text, pair_schema);
    assert_int_equal(rill_registry_client_schema(reg, 42, &text, err, sizeof err), RILL_ENOENT);
    assert_string_equal(err,
                        "GET /schemas/ids/42: HTTP 404, error_code 40403: Schema 42 not found");
    /* A run of records with that id asks once: the answer is remembered for 10 s. */
    uint64_t asked = rill_registry_client_requests(reg);
    for (int i = 0; i < 100; i++)
        assert_int_equal(rill_registry_client_schema(reg, 42, &text, err, sizeof err), RILL_ENOENT);
    assert_int_equal(rill_registry_client_requests(reg), asked);
    assert_string_equal(err, "GET /schemas/ids/42: HTTP 404, error_code 40403: Schema 42 not "
                             "found (asked less than 10 s ago)");
    assert_int_equal(rill_registry_client_register(reg, "a b&c", all_schema, &id, err, sizeof err),
                     0);
    assert_int_equal(id, 2);
    assert_int_equal(
        rill_registry_client_latest(reg, "a b&c", &id, &version, &text, err, sizeof err), 0);
    assert_int_equal(id, 2);
    assert_int_equal(version, 2);
    assert_string_equal(text, all_schema);
    rill_registry_client_unref(reg);

    /* Nothing listening. */
    fake_stop(&f);
    reg = rill_registry_client_new(url, NULL, err, sizeof err);
    assert_int_equal(rill_registry_client_schema(reg, 1, &text, err, sizeof err), RILL_EIO);
    assert_contains(err, "GET http://127.0.0.1:");
    rill_registry_client_unref(reg);
}

/* 10,000 records through a producer serde and a consumer serde with clients of their own: one
 * request each (the producer's register; the consumer's GET by id). */
static void test_requests_per_10000_records(void **state)
{
    rill_arena_t *arena = *state;
    fake_t f;
    fake_start(&f);
    char url[64], err[512] = "";
    snprintf(url, sizeof url, "http://127.0.0.1:%d", f.port);
    const char *pconf[] = {"schema.registry.url", url, "topic", "orders", "schema",
                           pair_schema,           NULL};
    const char *cconf[] = {"schema.registry.url", url, "topic", "orders", NULL};
    rill_serde_t *producer = rill_serde_avro_new(pconf, NULL, err, sizeof err);
    rill_serde_t *consumer = rill_serde_avro_new(cconf, NULL, err, sizeof err);
    assert_non_null(producer);
    assert_non_null(consumer);
    const rill_avro_codec_t *schema = rill_serde_avro_codec(producer);
    rill_bytes_t out = {0};
    for (int i = 0; i < 10000; i++) {
        rill_arena_reset(arena);
        rill_buf_t rec = rill_avro_record_new(arena, schema);
        rill_avro_set_int((void *)rec.data, "a", i);
        rill_avro_set_str((void *)rec.data, "s", "abc", 3);
        rill_avro_set_null((void *)rec.data, "n");
        serialize_ok(producer, rec, &out);
        rill_buf_t v = deserialize_ok(consumer, out.data, out.len, arena);
        int64_t a;
        assert_int_equal(rill_avro_get_int(v.data, "a", &a), 0);
        assert_int_equal(a, i);
    }
    assert_int_equal(atomic_load(&f.requests), 2);
    printf("registry requests for 10000 records: %d (producer 1, consumer 1)\n",
           atomic_load(&f.requests));

    /* An id the registry does not know: the message names it, and the registry's answer. */
    const char *err2 = deserialize_bad(consumer, "\x00\x00\x00\x00\x07\x02", 6, arena);
    assert_contains(err2, "avro: schema id 7: unknown to the registry at http://127.0.0.1:");
    assert_contains(err2, "error_code 40403: Schema 7 not found");
    rill_bytes_free(&out);
    rill_serde_unref(producer);
    rill_serde_unref(consumer);
    fake_stop(&f);
}

#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)

int main(void)
{
    const struct CMUnitTest tests[] = {
        T(test_wire_format),
        T(test_every_type_against_avro_c),
        T(test_blocks),
        T(test_blocks_of_nulls_bounded),
        T(test_bad_input_names_byte_and_field),
        T(test_writer_checks),
        T(test_config_errors),
        T(test_writer_defaults),
        T(test_subject_name_strategies),
        T(test_use_latest_and_no_auto_register),
        T(test_pass_through_foreign_schema),
        T(test_foreign_codec_kept),
        T(test_reader_schema_resolution),
        T(test_reader_schema_mismatch),
        T(test_reader_schema_recursive),
        T(test_truncated_and_corrupted_input),
        T(test_shared_by_threads),
        T(test_topology_dead_letters),
        T(test_no_allocation_when_warm),
        T(test_registry_client_http),
        T(test_requests_per_10000_records),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
