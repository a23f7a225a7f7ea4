/*
 * Values as text and as JSON (serde/text.c): each built-in serde's text form serializes to the
 * bytes its serializer writes, and its bytes come back as the JSON a reader expects (strings
 * escaped, numbers exact, JSON as written, bytes and custom serdes as base64, null as null);
 * text a serde cannot take is refused naming the text and the serde.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <rill/serde.h>

#include <stdio.h>
#include <string.h>

/* from_text with serde, then to_json of the bytes: the JSON text (static buffer). */
static const char *round_trip(const rill_serde_t *serde, const char *text)
{
    static char json[1024];
    char err[256];
    rill_bytes_t bytes = {0}, out = {0};
    if (rill_serde_from_text(serde, text, &bytes, err, sizeof err))
        fail_msg("%s: %s", rill_serde_name(serde), err);
    assert_int_equal(
        rill_serde_to_json(serde, (rill_buf_t){bytes.data ? (void *)bytes.data : "", bytes.len},
                           &out, err, sizeof err),
        0);
    snprintf(json, sizeof json, "%.*s", (int)out.len, (const char *)out.data);
    rill_bytes_free(&bytes);
    rill_bytes_free(&out);
    return json;
}

static void test_round_trips(void **state)
{
    (void)state;
    assert_string_equal(round_trip(rill_serde_string(), "plain"), "\"plain\"");
    assert_string_equal(round_trip(rill_serde_string(), "a \"q\" \\ é\n"),
                        "\"a \\\"q\\\" \\\\ é\\n\"");
    assert_string_equal(round_trip(rill_serde_int32(), "-2147483648"), "-2147483648");
    assert_string_equal(round_trip(rill_serde_int64(), "9223372036854775807"),
                        "9223372036854775807");
    assert_string_equal(round_trip(rill_serde_double(), "0.1"), "0.10000000000000001");
    assert_string_equal(round_trip(rill_serde_json(), "{\"a\":[1,2.50,\"x\"]}"),
                        "{\"a\":[1,2.50,\"x\"]}");
    assert_string_equal(round_trip(rill_serde_bytes(), "hello"), "\"aGVsbG8=\"");
}

/* The bytes each serializer writes are what from_text gives (int64: big-endian, as Kafka's). */
static void test_bytes_are_the_serializers(void **state)
{
    (void)state;
    char err[256];
    rill_bytes_t b = {0};
    assert_int_equal(rill_serde_from_text(rill_serde_int64(), "258", &b, err, sizeof err), 0);
    static const uint8_t be[8] = {0, 0, 0, 0, 0, 0, 1, 2};
    assert_int_equal(b.len, 8);
    assert_memory_equal(b.data, be, 8);
    assert_int_equal(rill_serde_from_text(rill_serde_string(), "k", &b, err, sizeof err), 0);
    assert_int_equal(b.len, 1); /* emptied first */
    rill_bytes_free(&b);
}

static void test_refusals_name_the_culprit(void **state)
{
    (void)state;
    static const struct {
        const char *serde, *text, *says;
    } bad[] = {
        {"int32", "2147483648", "'2147483648' is not an integer the int32 serde can hold"},
        {"int64", "12x", "'12x' is not an integer the int64 serde can hold"},
        {"int64", "", "'' is not an integer"},
        {"double", "one", "'one' is not a number"},
        {"json", "{\"a\":", "'{\"a\":' is not JSON"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        const rill_serde_t *s = !strcmp(bad[i].serde, "int32")    ? rill_serde_int32()
                                : !strcmp(bad[i].serde, "int64")  ? rill_serde_int64()
                                : !strcmp(bad[i].serde, "double") ? rill_serde_double()
                                                                  : rill_serde_json();
        char err[256] = "";
        rill_bytes_t b = {0};
        assert_int_equal(rill_serde_from_text(s, bad[i].text, &b, err, sizeof err), RILL_EINVAL);
        if (!strstr(err, bad[i].says))
            fail_msg("%s '%s': \"%s\" does not say \"%s\"", bad[i].serde, bad[i].text, err,
                     bad[i].says);
        rill_bytes_free(&b);
    }
}

static int opaque_serialize(void *state, rill_buf_t value, rill_bytes_t *out, bool *is_null,
                            char *errstr, size_t errstr_size)
{
    (void)state, (void)errstr, (void)errstr_size;
    *is_null = false;
    return rill_bytes_append(out, value.data, value.len);
}

static int opaque_deserialize(void *state, rill_buf_t bytes, rill_arena_t *arena, rill_buf_t *value,
                              char *errstr, size_t errstr_size)
{
    (void)state, (void)arena, (void)errstr, (void)errstr_size;
    *value = bytes;
    return 0;
}

static void test_other_values(void **state)
{
    (void)state;
    char err[256];
    rill_bytes_t out = {0};
    /* A null is null, whatever the serde. */
    assert_int_equal(
        rill_serde_to_json(rill_serde_int64(), (rill_buf_t){NULL, 0}, &out, err, sizeof err), 0);
    assert_int_equal(out.len, 4);
    assert_memory_equal(out.data, "null", 4);
    /* A double JSON cannot write. */
    out.len = 0;
    rill_bytes_t b = {0};
    assert_int_equal(rill_serde_from_text(rill_serde_double(), "nan", &b, err, sizeof err), 0);
    assert_int_equal(
        rill_serde_to_json(rill_serde_double(), (rill_buf_t){b.data, b.len}, &out, err, sizeof err),
        0);
    assert_int_equal(out.len, 5);
    assert_memory_equal(out.data, "\"NaN\"", 5);
    /* Bytes an int64 serde cannot read: an error, not a number. */
    out.len = 0;
    assert_int_equal(
        rill_serde_to_json(rill_serde_int64(), (rill_buf_t){"abc", 3}, &out, err, sizeof err),
        RILL_ESERDE);
    assert_non_null(strstr(err, "the int64 serde cannot read the stored bytes"));
    /* A custom serde: its bytes as base64; no text form. */
    static const rill_serde_ops ops = {"opaque", opaque_serialize, opaque_deserialize, NULL};
    rill_serde_t *custom = rill_serde_new(&ops, NULL);
    out.len = 0;
    assert_int_equal(rill_serde_to_json(custom, (rill_buf_t){"\x01\x02", 2}, &out, err, sizeof err),
                     0);
    assert_int_equal(out.len, 6);
    assert_memory_equal(out.data, "\"AQI=\"", 6);
    assert_int_equal(rill_serde_from_text(custom, "x", &b, err, sizeof err), RILL_EINVAL);
    assert_non_null(strstr(err, "the opaque serde has no text form"));
    rill_serde_unref(custom);
    rill_bytes_free(&b);
    rill_bytes_free(&out);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_round_trips),
        cmocka_unit_test(test_bytes_are_the_serializers),
        cmocka_unit_test(test_refusals_name_the_culprit),
        cmocka_unit_test(test_other_values),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
