/*
 * Unit tests for the windowed keys of serde.h: the time- and session-windowed serdes (wire bytes
 * checked against layouts computed by hand from Kafka Streams' WindowKeySchema.toBinary and
 * SessionKeySchema.toBinary), their errors, names and reference counting, rill_arena_windowed,
 * and rill_windowed_format against Kafka Streams' Windowed.toString.
 *
 * Every test runs with a counting allocator that can fail the Nth allocation, and with its own
 * arena; the teardown destroys the arena and asserts that nothing allocated through the hook is
 * still live. jansson allocates with its own allocator, which valgrind checks instead.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <rill/serde.h>

#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define N_ELEMS(a) (sizeof(a) / sizeof *(a))

/* ---- Counting allocator ---- */

static atomic_long n_allocs; /* malloc calls and reallocs of NULL */
static atomic_long n_live;
static atomic_long fail_in; /* > 0: the fail_in-th allocation from now fails, then all succeed */
static long live_at_setup;  /* so one failed test's leak does not fail the ones after it */

/* Counts down fail_in; true for the allocation that must fail. */
static bool should_fail(void)
{
    long n = atomic_load(&fail_in);
    if (n <= 0)
        return false;
    atomic_store(&fail_in, n - 1);
    return n == 1;
}

static void *count_malloc(size_t n)
{
    if (should_fail())
        return NULL;
    void *p = malloc(n);
    if (p) {
        atomic_fetch_add(&n_allocs, 1);
        atomic_fetch_add(&n_live, 1);
    }
    return p;
}

static void *count_realloc(void *old, size_t n)
{
    if (should_fail())
        return NULL;
    void *p = realloc(old, n);
    if (p && !old) {
        atomic_fetch_add(&n_allocs, 1);
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

static int group_setup(void **state)
{
    return rill_set_allocator(count_malloc, count_realloc, count_free);
}

static int group_teardown(void **state)
{
    return rill_set_allocator(NULL, NULL, NULL);
}

/* Each test gets an arena in *state. */
static int setup(void **state)
{
    atomic_store(&fail_in, 0);
    live_at_setup = atomic_load(&n_live);
    *state = rill_arena_new(4096);
    return *state ? 0 : -1;
}

static int teardown(void **state)
{
    atomic_store(&fail_in, 0);
    rill_arena_destroy(*state);
    /* Everything the test made through the hook is gone. */
    assert_int_equal(atomic_load(&n_live), live_at_setup);
    return 0;
}

/* ---- Helpers ---- */

static rill_buf_t view(const void *data, size_t len)
{
    rill_buf_t v = {data, len};
    return v;
}

static void serialize_ok(rill_serde_t *serde, rill_buf_t value, rill_bytes_t *out)
{
    bool is_null = true;
    char err[256] = "";
    int rc = rill_serde_serialize(serde, value, out, &is_null, err, sizeof err);
    if (rc != 0)
        fail_msg("%s serialize: %s (%s)", rill_serde_name(serde), err, rill_err_name(rc));
    assert_false(is_null);
}

static rill_buf_t deserialize_ok(rill_serde_t *serde, rill_buf_t bytes, rill_arena_t *arena)
{
    rill_buf_t value = {"junk", 4};
    char err[256] = "";
    int rc = rill_serde_deserialize(serde, bytes, arena, &value, err, sizeof err);
    if (rc != 0)
        fail_msg("%s deserialize: %s (%s)", rill_serde_name(serde), err, rill_err_name(rc));
    return value;
}

/* Deserializes bytes and returns the windowed key, checking the view's shape. */
static rill_windowed_t windowed_ok(rill_serde_t *serde, rill_buf_t bytes, rill_arena_t *arena)
{
    rill_buf_t value = deserialize_ok(serde, bytes, arena);
    assert_non_null(value.data);
    assert_int_equal(value.len, sizeof(rill_windowed_t));
    rill_windowed_t w;
    memcpy(&w, value.data, sizeof w);
    return w;
}

static void assert_out(const rill_bytes_t *out, const void *want, size_t len)
{
    assert_int_equal(out->len, len);
    if (len)
        assert_memory_equal(out->data, want, len);
}

/* Expects deserialize to fail with rc and an errstr containing want. */
static void deserialize_fails(rill_serde_t *serde, rill_buf_t bytes, rill_arena_t *arena, int rc,
                              const char *want)
{
    rill_buf_t value = {"junk", 4};
    char err[256] = "";
    assert_int_equal(rill_serde_deserialize(serde, bytes, arena, &value, err, sizeof err), rc);
    assert_null(value.data);
    if (!strstr(err, want))
        fail_msg("errstr \"%s\" does not contain \"%s\"", err, want);
}

/* Expects serialize to fail with rc and an errstr containing want; out is left empty. */
static void serialize_fails(rill_serde_t *serde, rill_buf_t value, int rc, const char *want)
{
    rill_bytes_t out = {0};
    bool is_null = true;
    char err[256] = "";
    assert_int_equal(rill_serde_serialize(serde, value, &out, &is_null, err, sizeof err), rc);
    assert_int_equal(out.len, 0);
    assert_false(is_null);
    if (!strstr(err, want))
        fail_msg("errstr \"%s\" does not contain \"%s\"", err, want);
    rill_bytes_free(&out);
}

/* Formats into a roomy buffer and compares, checking the returned length too. */
static void assert_format(const rill_windowed_t *w, const rill_serde_t *inner, const char *want)
{
    char buf[256];
    memset(buf, 'X', sizeof buf);
    int n = rill_windowed_format(w, inner, buf, sizeof buf);
    assert_string_equal(buf, want);
    assert_int_equal(n, (int)strlen(want));
}

static rill_windowed_t windowed(rill_buf_t key, int64_t start, int64_t end)
{
    rill_windowed_t w = {key, start, end};
    return w;
}

/* A custom serde: serializes text upper-cased, deserializes into an arena copy, refuses "bad" when
 * serializing, and counts its destruction. */
typedef struct {
    int *destroyed;
} upper_state_t;

static int upper_serialize(void *state, rill_buf_t value, rill_bytes_t *out, bool *is_null,
                           char *errstr, size_t errstr_size)
{
    if (!value.data) {
        *is_null = true;
        return 0;
    }
    if (value.len == 3 && memcmp(value.data, "bad", 3) == 0) {
        snprintf(errstr, errstr_size, "upper refuses \"bad\"");
        return RILL_ESERDE;
    }
    for (size_t i = 0; i < value.len; i++) {
        char c = ((const char *)value.data)[i];
        if (c >= 'a' && c <= 'z')
            c = (char)(c - 'a' + 'A');
        int rc = rill_bytes_append(out, &c, 1);
        if (rc)
            return rc;
    }
    return 0;
}

static int upper_deserialize(void *state, rill_buf_t bytes, rill_arena_t *arena, rill_buf_t *value,
                             char *errstr, size_t errstr_size)
{
    *value = rill_arena_copy(arena, bytes.data, bytes.len);
    return bytes.data && !value->data ? RILL_ENOMEM : 0;
}

static void upper_destroy(void *state)
{
    upper_state_t *upper = state;
    (*upper->destroyed)++;
    rill_free(upper);
}

static const rill_serde_ops upper_ops = {.name = "upper",
                                         .serialize = upper_serialize,
                                         .deserialize = upper_deserialize,
                                         .destroy = upper_destroy};

static rill_serde_t *upper_new(int *destroyed)
{
    upper_state_t *upper = rill_malloc(sizeof *upper);
    assert_non_null(upper);
    upper->destroyed = destroyed;
    rill_serde_t *serde = rill_serde_new(&upper_ops, upper);
    assert_non_null(serde);
    return serde;
}

/* ---- Construction, names, references ---- */

static void test_names(void **state)
{
    rill_serde_t *t = rill_serde_time_windowed(rill_serde_string(), 60000);
    rill_serde_t *s = rill_serde_session_windowed(rill_serde_int64());
    assert_non_null(t);
    assert_non_null(s);
    assert_string_equal(rill_serde_name(t), "time-windowed(string)");
    assert_string_equal(rill_serde_name(s), "session-windowed(int64)");

    /* A windowed serde is a serde like any other, so it can be an inner one. */
    rill_serde_t *nested = rill_serde_time_windowed(s, 1);
    assert_non_null(nested);
    assert_string_equal(rill_serde_name(nested), "time-windowed(session-windowed(int64))");
    rill_serde_unref(t);
    rill_serde_unref(s); /* nested still holds s */
    assert_string_equal(rill_serde_name(nested), "time-windowed(session-windowed(int64))");
    rill_serde_unref(nested);
}

static void test_constructor_invalid(void **state)
{
    long allocs = atomic_load(&n_allocs);
    assert_null(rill_serde_time_windowed(NULL, 1000));
    assert_null(rill_serde_time_windowed(rill_serde_string(), 0));
    assert_null(rill_serde_time_windowed(rill_serde_string(), -1000));
    assert_null(rill_serde_time_windowed(rill_serde_string(), INT64_MIN));
    assert_null(rill_serde_session_windowed(NULL));
    assert_int_equal(atomic_load(&n_allocs), allocs);
}

/* The windowed serde holds a reference on its inner serde and drops it when destroyed. */
static void test_inner_reference(void **state)
{
    int destroyed = 0;
    rill_serde_t *inner = upper_new(&destroyed);
    rill_serde_t *t = rill_serde_time_windowed(inner, 1000);
    rill_serde_t *s = rill_serde_session_windowed(inner);
    assert_non_null(t);
    assert_non_null(s);
    assert_string_equal(rill_serde_name(t), "time-windowed(upper)");
    assert_string_equal(rill_serde_name(s), "session-windowed(upper)");

    rill_serde_unref(inner); /* the caller's reference */
    assert_int_equal(destroyed, 0);

    /* The inner serde still works through the windowed one. */
    rill_bytes_t out = {0};
    rill_windowed_t w = windowed(rill_buf_str("ab"), 5, 6);
    serialize_ok(t, view(&w, sizeof w), &out);
    static const uint8_t want[] = {'A', 'B', 0, 0, 0, 0, 0, 0, 0, 5};
    assert_out(&out, want, sizeof want);
    rill_bytes_free(&out);

    assert_ptr_equal(rill_serde_ref(t), t);
    rill_serde_unref(t);
    rill_serde_unref(t);
    assert_int_equal(destroyed, 0); /* s still holds it */
    rill_serde_unref(s);
    assert_int_equal(destroyed, 1);
}

/* ---- Wire format: time windows ---- */

static void test_time_string_wire(void **state)
{
    rill_arena_t *arena = *state;
    rill_serde_t *serde = rill_serde_time_windowed(rill_serde_string(), 500);
    rill_bytes_t out = {0};

    /* Kafka Streams: "a" (61) then start 1000 = 0x3e8 as a big-endian long. */
    rill_buf_t key = rill_arena_windowed(arena, rill_buf_str("a"), 1000, 1500);
    assert_int_equal(key.len, sizeof(rill_windowed_t));
    serialize_ok(serde, key, &out);
    static const uint8_t want[] = {0x61, 0, 0, 0, 0, 0, 0, 0x03, 0xe8};
    assert_out(&out, want, sizeof want);

    rill_windowed_t w = windowed_ok(serde, view(out.data, out.len), arena);
    assert_int_equal(w.key.len, 1);
    assert_memory_equal(w.key.data, "a", 1);
    assert_int_equal(w.start, 1000);
    assert_int_equal(w.end, 1500); /* start + window size */

    /* The end on the view is not written: Kafka's serializer only writes the start. */
    key = rill_arena_windowed(arena, rill_buf_str("a"), 1000, 123456);
    serialize_ok(serde, key, &out);
    assert_out(&out, want, sizeof want);

    /* A longer key, UTF-8 included. */
    key = rill_arena_windowed(arena, rill_buf_str("h\xc3\xa9llo"), 0x0102030405060708, 0);
    serialize_ok(serde, key, &out);
    static const uint8_t want2[] = {'h', 0xc3, 0xa9, 'l', 'l', 'o', 1, 2, 3, 4, 5, 6, 7, 8};
    assert_out(&out, want2, sizeof want2);
    w = windowed_ok(serde, view(out.data, out.len), arena);
    assert_int_equal(w.key.len, 6);
    assert_memory_equal(w.key.data, "h\xc3\xa9llo", 6);
    assert_int_equal(w.start, 0x0102030405060708);
    assert_int_equal(w.end, 0x0102030405060708 + 500);

    rill_bytes_free(&out);
    rill_serde_unref(serde);
}

static void test_time_int64_wire(void **state)
{
    rill_arena_t *arena = *state;
    rill_serde_t *serde = rill_serde_time_windowed(rill_serde_int64(), 60000);
    rill_bytes_t out = {0};

    /* LongSerializer(42) then start 60000 = 0xea60. */
    rill_buf_t key = rill_arena_windowed(arena, rill_arena_i64(arena, 42), 60000, 120000);
    serialize_ok(serde, key, &out);
    static const uint8_t want[] = {0, 0, 0, 0, 0, 0, 0, 42, 0, 0, 0, 0, 0, 0, 0xea, 0x60};
    assert_out(&out, want, sizeof want);

    rill_windowed_t w = windowed_ok(serde, view(out.data, out.len), arena);
    assert_int_equal(w.key.len, sizeof(int64_t));
    assert_int_equal(rill_value_i64(w.key), 42);
    assert_int_equal(w.start, 60000);
    assert_int_equal(w.end, 120000);

    /* A negative inner key keeps its two's complement bytes. */
    key = rill_arena_windowed(arena, rill_arena_i64(arena, -2), 0, 0);
    serialize_ok(serde, key, &out);
    static const uint8_t want_neg[] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xfe,
                                       0,    0,    0,    0,    0,    0,    0,    0};
    assert_out(&out, want_neg, sizeof want_neg);
    w = windowed_ok(serde, view(out.data, out.len), arena);
    assert_int_equal(rill_value_i64(w.key), -2);
    assert_int_equal(w.start, 0);
    assert_int_equal(w.end, 60000);

    rill_bytes_free(&out);
    rill_serde_unref(serde);
}

static void test_time_json_round_trip(void **state)
{
    rill_arena_t *arena = *state;
    rill_serde_t *serde = rill_serde_time_windowed(rill_serde_json(), 10);
    rill_bytes_t out = {0};

    rill_buf_t doc = rill_json_pack(arena, "{s:s}", "user", "alice");
    assert_non_null(doc.data);
    serialize_ok(serde, rill_arena_windowed(arena, doc, 256, 266), &out);
    static const char text[] = "{\"user\":\"alice\"}";
    assert_int_equal(out.len, strlen(text) + 8);
    assert_memory_equal(out.data, text, strlen(text));
    static const uint8_t start[] = {0, 0, 0, 0, 0, 0, 1, 0};
    assert_memory_equal(out.data + strlen(text), start, 8);

    rill_windowed_t w = windowed_ok(serde, view(out.data, out.len), arena);
    assert_string_equal(rill_json_get_string(w.key.data, "user"), "alice");
    assert_int_equal(w.start, 256);
    assert_int_equal(w.end, 266);

    rill_bytes_free(&out);
    rill_serde_unref(serde);
}

/* ---- Wire format: session windows ---- */

static void test_session_string_wire(void **state)
{
    rill_arena_t *arena = *state;
    rill_serde_t *serde = rill_serde_session_windowed(rill_serde_string());
    rill_bytes_t out = {0};

    /* Kafka Streams: "a", then end 2000 = 0x7d0, then start 1000 = 0x3e8. */
    serialize_ok(serde, rill_arena_windowed(arena, rill_buf_str("a"), 1000, 2000), &out);
    static const uint8_t want[] = {0x61, 0, 0, 0, 0, 0, 0,    0x07, 0xd0,
                                   0,    0, 0, 0, 0, 0, 0x03, 0xe8};
    assert_out(&out, want, sizeof want);

    rill_windowed_t w = windowed_ok(serde, view(out.data, out.len), arena);
    assert_int_equal(w.key.len, 1);
    assert_memory_equal(w.key.data, "a", 1);
    assert_int_equal(w.start, 1000);
    assert_int_equal(w.end, 2000);

    /* A session of one event: start == end. */
    serialize_ok(serde, rill_arena_windowed(arena, rill_buf_str("bob"), 7, 7), &out);
    static const uint8_t want1[] = {'b', 'o', 'b', 0, 0, 0, 0, 0, 0, 0, 7, 0, 0, 0, 0, 0, 0, 0, 7};
    assert_out(&out, want1, sizeof want1);
    w = windowed_ok(serde, view(out.data, out.len), arena);
    assert_int_equal(w.start, 7);
    assert_int_equal(w.end, 7);

    rill_bytes_free(&out);
    rill_serde_unref(serde);
}

static void test_session_int64_and_json(void **state)
{
    rill_arena_t *arena = *state;
    rill_serde_t *serde = rill_serde_session_windowed(rill_serde_int64());
    rill_bytes_t out = {0};

    serialize_ok(serde, rill_arena_windowed(arena, rill_arena_i64(arena, 258), 1, 2), &out);
    static const uint8_t want[] = {0, 0, 0, 0, 0, 0, 1, 2, 0, 0, 0, 0,
                                   0, 0, 0, 2, 0, 0, 0, 0, 0, 0, 0, 1};
    assert_out(&out, want, sizeof want);
    rill_windowed_t w = windowed_ok(serde, view(out.data, out.len), arena);
    assert_int_equal(rill_value_i64(w.key), 258);
    assert_int_equal(w.start, 1);
    assert_int_equal(w.end, 2);
    rill_serde_unref(serde);

    serde = rill_serde_session_windowed(rill_serde_json());
    rill_buf_t doc = rill_json_pack(arena, "[i,s]", 1, "x");
    serialize_ok(serde, rill_arena_windowed(arena, doc, 100, 200), &out);
    static const char text[] = "[1,\"x\"]";
    assert_int_equal(out.len, strlen(text) + 16);
    assert_memory_equal(out.data, text, strlen(text));
    w = windowed_ok(serde, view(out.data, out.len), arena);
    assert_int_equal(w.key.len, 1); /* a JSON view */
    char buf[64];
    assert_int_equal(rill_json_format(w.key.data, buf, sizeof buf), 0);
    assert_string_equal(buf, text);
    assert_int_equal(w.start, 100);
    assert_int_equal(w.end, 200);

    rill_bytes_free(&out);
    rill_serde_unref(serde);
}

/* ---- Timestamps at the edges ---- */

static void test_negative_and_large_timestamps(void **state)
{
    rill_arena_t *arena = *state;
    rill_serde_t *time = rill_serde_time_windowed(rill_serde_string(), 1000);
    rill_serde_t *session = rill_serde_session_windowed(rill_serde_string());
    rill_bytes_t out = {0};

    /* Plain two's complement, not sign-flipped: -1 is eight ff bytes. */
    serialize_ok(time, rill_arena_windowed(arena, rill_buf_str("k"), -1, 999), &out);
    static const uint8_t minus_one[] = {'k', 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff};
    assert_out(&out, minus_one, sizeof minus_one);
    rill_windowed_t w = windowed_ok(time, view(out.data, out.len), arena);
    assert_int_equal(w.start, -1);
    assert_int_equal(w.end, 999);

    serialize_ok(time, rill_arena_windowed(arena, rill_buf_str("k"), -5000, 0), &out);
    w = windowed_ok(time, view(out.data, out.len), arena);
    assert_int_equal(w.start, -5000);
    assert_int_equal(w.end, -4000);

    serialize_ok(time, rill_arena_windowed(arena, rill_buf_str("k"), INT64_MIN, 0), &out);
    static const uint8_t min[] = {'k', 0x80, 0, 0, 0, 0, 0, 0, 0};
    assert_out(&out, min, sizeof min);
    w = windowed_ok(time, view(out.data, out.len), arena);
    assert_true(w.start == INT64_MIN);
    assert_true(w.end == INT64_MIN + 1000);

    /* The end saturates at INT64_MAX instead of overflowing, as Kafka's timeWindowForSize. */
    static const int64_t near_max[] = {INT64_MAX, INT64_MAX - 999, INT64_MAX - 1000};
    for (size_t i = 0; i < N_ELEMS(near_max); i++) {
        serialize_ok(time, rill_arena_windowed(arena, rill_buf_str("k"), near_max[i], 0), &out);
        w = windowed_ok(time, view(out.data, out.len), arena);
        assert_true(w.start == near_max[i]);
        assert_true(w.end == INT64_MAX);
    }
    static const uint8_t max[] = {'k', 0x7f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff};
    serialize_ok(time, rill_arena_windowed(arena, rill_buf_str("k"), INT64_MAX, 0), &out);
    assert_out(&out, max, sizeof max);

    /* Sessions: both bounds negative, and the full range. */
    serialize_ok(session, rill_arena_windowed(arena, rill_buf_str(""), -256, -1), &out);
    static const uint8_t neg[] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
                                  0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x00};
    assert_out(&out, neg, sizeof neg);
    w = windowed_ok(session, view(out.data, out.len), arena);
    assert_int_equal(w.key.len, 0);
    assert_non_null(w.key.data); /* an empty string, not a null */
    assert_int_equal(w.start, -256);
    assert_int_equal(w.end, -1);

    serialize_ok(session, rill_arena_windowed(arena, rill_buf_str("z"), INT64_MIN, INT64_MAX),
                 &out);
    static const uint8_t full[] = {'z',  0x7f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
                                   0x80, 0,    0,    0,    0,    0,    0,    0};
    assert_out(&out, full, sizeof full);
    w = windowed_ok(session, view(out.data, out.len), arena);
    assert_true(w.start == INT64_MIN);
    assert_true(w.end == INT64_MAX);

    rill_bytes_free(&out);
    rill_serde_unref(time);
    rill_serde_unref(session);
}

/* ---- Errors ---- */

static void test_too_short(void **state)
{
    rill_arena_t *arena = *state;
    rill_serde_t *time = rill_serde_time_windowed(rill_serde_bytes(), 1000);
    rill_serde_t *session = rill_serde_session_windowed(rill_serde_bytes());
    static const uint8_t bytes[16] = {0};

    deserialize_fails(time, view(bytes, 7), arena, RILL_ESERDE,
                      "time-windowed(bytes) key has 7 bytes; at least 8 are needed");
    deserialize_fails(time, view(bytes, 0), arena, RILL_ESERDE,
                      "key has 0 bytes; at least 8 are needed (the inner key, then the window's "
                      "8-byte start)");
    deserialize_fails(session, view(bytes, 15), arena, RILL_ESERDE,
                      "session-windowed(bytes) key has 15 bytes; at least 16 are needed (the inner "
                      "key, then the window's 8-byte end and 8-byte start)");
    deserialize_fails(session, view(bytes, 8), arena, RILL_ESERDE, "has 8 bytes; at least 16");

    /* Exactly the suffix: an empty inner key, which bytes accepts. */
    rill_windowed_t w = windowed_ok(time, view(bytes, 8), arena);
    assert_int_equal(w.key.len, 0);
    assert_ptr_equal(w.key.data, bytes);
    w = windowed_ok(session, view(bytes, 16), arena);
    assert_int_equal(w.key.len, 0);
    assert_int_equal(w.start, 0);
    assert_int_equal(w.end, 0);

    rill_serde_unref(time);
    rill_serde_unref(session);
}

/* The inner serde's failures come through with their reason, prefixed with the windowed name. */
static void test_inner_errors(void **state)
{
    rill_arena_t *arena = *state;
    rill_serde_t *strings = rill_serde_time_windowed(rill_serde_string(), 1000);
    rill_serde_t *longs = rill_serde_session_windowed(rill_serde_int64());

    static const uint8_t bad_utf8[] = {'a', 0xff, 0, 0, 0, 0, 0, 0, 0, 1};
    deserialize_fails(strings, view(bad_utf8, sizeof bad_utf8), arena, RILL_ESERDE,
                      "time-windowed(string) inner key: invalid UTF-8 at byte 1 (0xff)");
    serialize_fails(strings, rill_arena_windowed(arena, view(bad_utf8, 2), 0, 0), RILL_ESERDE,
                    "time-windowed(string) inner key: invalid UTF-8 at byte 1 (0xff)");

    /* 16 bytes: an empty int64, which the int64 serde refuses. */
    static const uint8_t sixteen[16] = {0};
    deserialize_fails(longs, view(sixteen, 16), arena, RILL_ESERDE,
                      "session-windowed(int64) inner key: int64 expects 8 bytes, got 0");
    serialize_fails(longs, rill_arena_windowed(arena, rill_buf_str("abc"), 0, 0), RILL_ESERDE,
                    "session-windowed(int64) inner key: int64 value must be a native 8-byte "
                    "number, got 3 bytes");

    rill_serde_unref(strings);
    rill_serde_unref(longs);
}

static void test_null_keys(void **state)
{
    rill_arena_t *arena = *state;
    rill_serde_t *serdes[] = {rill_serde_time_windowed(rill_serde_string(), 1000),
                              rill_serde_session_windowed(rill_serde_json())};
    for (size_t i = 0; i < N_ELEMS(serdes); i++) {
        rill_serde_t *serde = serdes[i];
        rill_bytes_t out = {0};
        bool is_null = false;
        char err[128];
        /* A null windowed key is a null on the wire, and back. */
        assert_int_equal(
            rill_serde_serialize(serde, view(NULL, 0), &out, &is_null, err, sizeof err), 0);
        assert_true(is_null);
        assert_int_equal(out.len, 0);
        rill_buf_t value = {"junk", 4};
        assert_int_equal(
            rill_serde_deserialize(serde, view(NULL, 0), arena, &value, err, sizeof err), 0);
        assert_null(value.data);
        assert_int_equal(value.len, 0);
        /* No arena is needed for a null. */
        assert_int_equal(
            rill_serde_deserialize(serde, view(NULL, 0), NULL, &value, err, sizeof err), 0);

        /* A window around a null inner key cannot be written (Kafka Streams cannot either). */
        serialize_fails(serde, rill_arena_windowed(arena, view(NULL, 0), 0, 1), RILL_ESERDE,
                        "cannot serialize a null inner key");
        rill_bytes_free(&out);
        rill_serde_unref(serde);
    }
}

static void test_wrong_length_view(void **state)
{
    rill_serde_t *serde = rill_serde_time_windowed(rill_serde_string(), 1000);
    char text[64];
    snprintf(text, sizeof text, "must be a rill_windowed_t view (%zu bytes",
             sizeof(rill_windowed_t));
    serialize_fails(serde, rill_buf_str("alice"), RILL_ESERDE, text);
    serialize_fails(serde, rill_buf_str("alice"), RILL_ESERDE, "got 5 bytes");
    rill_windowed_t w = windowed(rill_buf_str("a"), 0, 1);
    serialize_fails(serde, view(&w, sizeof w - 1), RILL_ESERDE, "time-windowed(string) value");
    serialize_fails(serde, view(&w, 0), RILL_ESERDE, "got 0 bytes");
    rill_serde_unref(serde);

    serde = rill_serde_session_windowed(rill_serde_int64());
    int64_t x = 1;
    serialize_fails(serde, view(&x, sizeof x), RILL_ESERDE,
                    "session-windowed(int64) value must be a rill_windowed_t view");
    rill_serde_unref(serde);
}

/* A session cannot end before it starts (Kafka's SessionWindow refuses it): both directions. */
static void test_session_end_before_start(void **state)
{
    rill_arena_t *arena = *state;
    rill_serde_t *serde = rill_serde_session_windowed(rill_serde_string());
    serialize_fails(serde, rill_arena_windowed(arena, rill_buf_str("a"), 10, 9), RILL_ESERDE,
                    "session window ends (9) before it starts (10)");
    static const uint8_t wire[] = {'a', 'b', 0, 0, 0, 0, 0, 0, 0, 9, 0, 0, 0, 0, 0, 0, 0, 10};
    deserialize_fails(serde, view(wire, sizeof wire), arena, RILL_ESERDE,
                      "session-windowed(string): session window end 9 (byte 2) is before its "
                      "start 10");
    rill_serde_unref(serde);
}

static void test_deserialize_needs_arena(void **state)
{
    rill_serde_t *serde = rill_serde_time_windowed(rill_serde_bytes(), 1000);
    static const uint8_t wire[9] = {'a'};
    deserialize_fails(serde, view(wire, sizeof wire), NULL, RILL_EINVAL, "needs an arena");
    rill_serde_unref(serde);
}

/* ---- rill_arena_windowed ---- */

static void test_arena_windowed(void **state)
{
    rill_arena_t *arena = *state;
    rill_buf_t key = rill_buf_str("k");
    rill_buf_t v = rill_arena_windowed(arena, key, -3, 4);
    assert_non_null(v.data);
    assert_int_equal(v.len, sizeof(rill_windowed_t));
    const rill_windowed_t *w = v.data;
    assert_ptr_equal(w->key.data, key.data); /* borrowed, not copied */
    assert_int_equal(w->key.len, 1);
    assert_int_equal(w->start, -3);
    assert_int_equal(w->end, 4);
    assert_int_equal((uintptr_t)v.data % _Alignof(rill_windowed_t), 0);

    /* A null inner key is allowed in the view; a malformed one is not. */
    v = rill_arena_windowed(arena, view(NULL, 0), 0, 0);
    assert_non_null(v.data);
    v = rill_arena_windowed(arena, view(NULL, 3), 0, 0);
    assert_null(v.data);
    assert_int_equal(v.len, 0);
    v = rill_arena_windowed(NULL, key, 0, 0);
    assert_null(v.data);
}

/* ---- rill_windowed_format ---- */

static void test_format_builtins(void **state)
{
    rill_arena_t *arena = *state;
    rill_windowed_t w = windowed(rill_buf_str("alice"), 60000, 120000);
    assert_format(&w, rill_serde_string(), "[alice@60000/120000]");

    w = windowed(rill_arena_i32(arena, -7), 0, 10);
    assert_format(&w, rill_serde_int32(), "[-7@0/10]");
    w = windowed(rill_arena_i64(arena, INT64_MIN), -5, -1);
    assert_format(&w, rill_serde_int64(), "[-9223372036854775808@-5/-1]");
    w = windowed(rill_arena_double(arena, 2.5), 1, 2);
    assert_format(&w, rill_serde_double(), "[2.5@1/2]");
    w = windowed(rill_arena_double(arena, 1e20), 1, 2);
    assert_format(&w, rill_serde_double(), "[1e+20@1/2]");

    w = windowed(rill_json_pack(arena, "{s:i,s:[b]}", "a", 1, "b", 1), 3, 4);
    assert_format(&w, rill_serde_json(), "[{\"a\":1,\"b\":[true]}@3/4]");
    w = windowed(rill_json_pack(arena, "s", "x"), 3, 4);
    assert_format(&w, rill_serde_json(), "[\"x\"@3/4]");

    /* Bytes: text when printable UTF-8, hex otherwise. */
    w = windowed(rill_buf_str("abc"), 0, 1);
    assert_format(&w, rill_serde_bytes(), "[abc@0/1]");
    w = windowed(rill_buf_str("caf\xc3\xa9"), 0, 1);
    assert_format(&w, rill_serde_bytes(), "[caf\xc3\xa9@0/1]");
    static const uint8_t bin[] = {0x0a, 0x1b};
    w = windowed(view(bin, 2), 0, 1);
    assert_format(&w, rill_serde_bytes(), "[0x0a1b@0/1]");
    w = windowed(view("a\x7f", 2), 0, 1); /* DEL */
    assert_format(&w, rill_serde_bytes(), "[0x617f@0/1]");
    w = windowed(view("\xc2\x85", 2), 0, 1); /* U+0085, a C1 control */
    assert_format(&w, rill_serde_bytes(), "[0xc285@0/1]");
    w = windowed(view("\xc3\x28", 2), 0, 1); /* invalid UTF-8 */
    assert_format(&w, rill_serde_bytes(), "[0xc328@0/1]");
    w = windowed(view("", 0), 0, 1);
    assert_format(&w, rill_serde_bytes(), "[@0/1]");
    /* Without a serde the bytes rules apply. */
    w = windowed(view(bin, 2), 0, 1);
    assert_format(&w, NULL, "[0x0a1b@0/1]");

    /* A number view of the wrong size is shown as the bytes it has. */
    w = windowed(view("\x01\x02", 2), 0, 1);
    assert_format(&w, rill_serde_int64(), "[0x0102@0/1]");

    /* A null inner key, whatever the serde. */
    w = windowed(view(NULL, 0), 1, 2);
    assert_format(&w, rill_serde_string(), "[null@1/2]");
    assert_format(&w, rill_serde_json(), "[null@1/2]");
    assert_format(&w, rill_serde_int64(), "[null@1/2]");
}

/* Custom serdes print their wire bytes: a custom view's layout is the serde's own business. */
static void test_format_custom(void **state)
{
    int destroyed = 0;
    rill_serde_t *upper = upper_new(&destroyed);
    rill_windowed_t w = windowed(rill_buf_str("abc"), 1, 2);
    assert_format(&w, upper, "[ABC@1/2]");
    w = windowed(view("a\x01", 2), 1, 2);
    assert_format(&w, upper, "[0x4101@1/2]");

    /* The serde refuses the key: the code comes back and buf is empty. */
    w = windowed(rill_buf_str("bad"), 1, 2);
    char buf[32] = "stale";
    assert_int_equal(rill_windowed_format(&w, upper, buf, sizeof buf), RILL_ESERDE);
    assert_string_equal(buf, "");
    rill_serde_unref(upper);
    assert_int_equal(destroyed, 1);

    /* A windowed key inside a windowed key: the inner one's wire bytes. */
    rill_serde_t *inner = rill_serde_time_windowed(rill_serde_string(), 10);
    rill_windowed_t in = windowed(rill_buf_str("k"), 0x41, 0x51);
    w = windowed(view(&in, sizeof in), 5, 6);
    assert_format(&w, inner, "[0x6b0000000000000041@5/6]");
    rill_serde_unref(inner);
}

/* snprintf's contract: the needed length comes back, the buffer holds what fits, NUL-terminated. */
static void test_format_truncation(void **state)
{
    rill_arena_t *arena = *state;
    rill_windowed_t w = windowed(rill_buf_str("alice"), 60000, 120000);
    const char *full = "[alice@60000/120000]";
    int len = (int)strlen(full);
    for (size_t size = 0; size <= strlen(full) + 1; size++) {
        char buf[32];
        memset(buf, 'X', sizeof buf);
        assert_int_equal(rill_windowed_format(&w, rill_serde_string(), buf, size), len);
        if (size == 0) {
            assert_int_equal(buf[0], 'X'); /* nothing written */
            continue;
        }
        assert_int_equal(strlen(buf), size - 1 < (size_t)len ? size - 1 : (size_t)len);
        assert_memory_equal(buf, full, strlen(buf));
        assert_int_equal(buf[size], 'X'); /* nothing past size */
    }
    assert_int_equal(rill_windowed_format(&w, rill_serde_string(), NULL, 0), len);

    /* Truncation inside a hex key, and inside a JSON key. */
    static const uint8_t bin[40] = {0xff};
    w = windowed(view(bin, sizeof bin), 1, 2);
    char small[8];
    assert_int_equal(rill_windowed_format(&w, rill_serde_bytes(), small, sizeof small),
                     1 + 2 + 80 + 5);
    assert_string_equal(small, "[0xff00");
    w = windowed(rill_json_pack(arena, "{s:s}", "k", "vvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvv"), 1, 2);
    assert_int_equal(rill_windowed_format(&w, rill_serde_json(), small, sizeof small),
                     (int)strlen("[{\"k\":\"vvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvv\"}@1/2]"));
    assert_string_equal(small, "[{\"k\":\"");

    /* A long key printed fully into a big enough buffer. */
    char big[128];
    w = windowed(view(bin, sizeof bin), 1, 2);
    assert_int_equal(rill_windowed_format(&w, rill_serde_bytes(), big, sizeof big), 88);
    assert_int_equal(strlen(big), 88);
    assert_memory_equal(big, "[0xff0000", 9);
    assert_string_equal(big + 83, "@1/2]");
}

static void test_format_invalid(void **state)
{
    char buf[8];
    assert_int_equal(rill_windowed_format(NULL, rill_serde_string(), buf, sizeof buf), RILL_EINVAL);
    rill_windowed_t w = windowed(rill_buf_str("a"), 0, 1);
    assert_int_equal(rill_windowed_format(&w, rill_serde_string(), NULL, 4), RILL_EINVAL);
}

/* ---- Allocation ---- */

/* Deserializing into a warm arena allocates nothing, the key view is zero copy for strings. */
static void test_warm_arena_makes_no_allocation(void **state)
{
    rill_arena_t *arena = *state;
    rill_serde_t *serde = rill_serde_time_windowed(rill_serde_string(), 1000);
    static const uint8_t wire[] = {'k', 'e', 'y', 0, 0, 0, 0, 0, 0, 0x03, 0xe8};
    rill_bytes_t out = {0};
    rill_windowed_t w = windowed_ok(serde, view(wire, sizeof wire), arena);
    serialize_ok(serde, view(&w, sizeof w), &out);
    rill_arena_reset(arena);

    long before = atomic_load(&n_allocs);
    for (int i = 0; i < 1000; i++) {
        w = windowed_ok(serde, view(wire, sizeof wire), arena);
        assert_ptr_equal(w.key.data, wire);
        serialize_ok(serde, view(&w, sizeof w), &out);
        assert_out(&out, wire, sizeof wire);
        rill_arena_reset(arena);
    }
    assert_int_equal(atomic_load(&n_allocs), before);
    rill_bytes_free(&out);
    rill_serde_unref(serde);
}

/* Fails every allocation in turn: each call either succeeds or fails cleanly with ENOMEM and
 * leaves nothing behind (the teardown counts), and the inner serde's count stays right. */
static void test_out_of_memory(void **state)
{
    int destroyed = 0;
    rill_serde_t *inner = upper_new(&destroyed);
    bool made = false;
    long n;
    for (n = 1; !made; n++) {
        atomic_store(&fail_in, n);
        rill_serde_t *serde = rill_serde_session_windowed(inner);
        made = atomic_load(&fail_in) > 0; /* the failure was not reached */
        atomic_store(&fail_in, 0);
        if (serde) {
            assert_string_equal(rill_serde_name(serde), "session-windowed(upper)");
            rill_serde_unref(serde);
        } else {
            assert_false(made);
        }
        assert_int_equal(destroyed, 0);
    }
    assert_int_equal(n, 4); /* the state and the serde object could each fail */
    rill_serde_t *serde = rill_serde_time_windowed(inner, 100);
    assert_non_null(serde);
    rill_serde_unref(inner);
    assert_int_equal(destroyed, 0);

    /* Serialize, deserialize into a full arena, and format a custom key. */
    static const uint8_t wire[] = {'A', 'B', 0, 0, 0, 0, 0, 0, 0, 9};
    rill_windowed_t w = windowed(rill_buf_str("ab"), 9, 109);
    made = false;
    for (n = 1; !made; n++) {
        rill_arena_t *arena = rill_arena_new(16);
        assert_non_null(arena);
        assert_non_null(rill_arena_alloc(arena, 16));
        rill_bytes_t out = {0};
        bool is_null;
        rill_buf_t value;
        char err[256] = "";
        char buf[32];

        atomic_store(&fail_in, n);
        int rs = rill_serde_serialize(serde, view(&w, sizeof w), &out, &is_null, err, sizeof err);
        int rd =
            rill_serde_deserialize(serde, view(wire, sizeof wire), arena, &value, err, sizeof err);
        int rf = rill_windowed_format(&w, inner, buf, sizeof buf);
        made = atomic_load(&fail_in) > 0;
        atomic_store(&fail_in, 0);

        assert_true(rs == 0 || rs == RILL_ENOMEM);
        if (rs == 0)
            assert_out(&out, wire, sizeof wire);
        assert_true(rd == 0 || rd == RILL_ENOMEM);
        if (rd == 0) {
            const rill_windowed_t *got = value.data;
            assert_memory_equal(got->key.data, "AB", 2);
            assert_int_equal(got->end, 109);
        } else {
            assert_null(value.data);
        }
        assert_true(rf == RILL_ENOMEM || rf == (int)strlen("[AB@9/109]"));
        assert_string_equal(buf, rf < 0 ? "" : "[AB@9/109]");
        assert_false(made && (rs || rd || rf < 0));
        rill_bytes_free(&out);
        rill_arena_destroy(arena);
    }
    /* Failures reached: the serialize buffer, the inner key's and the window's arena blocks, and
     * the buffer format serializes the custom key into. */
    assert_int_equal(n, 6);
    rill_serde_unref(serde);
    assert_int_equal(destroyed, 1);
}

#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)

int main(void)
{
    const struct CMUnitTest tests[] = {
        T(test_names),
        T(test_constructor_invalid),
        T(test_inner_reference),
        T(test_time_string_wire),
        T(test_time_int64_wire),
        T(test_time_json_round_trip),
        T(test_session_string_wire),
        T(test_session_int64_and_json),
        T(test_negative_and_large_timestamps),
        T(test_too_short),
        T(test_inner_errors),
        T(test_null_keys),
        T(test_wrong_length_view),
        T(test_session_end_before_start),
        T(test_deserialize_needs_arena),
        T(test_arena_windowed),
        T(test_format_builtins),
        T(test_format_custom),
        T(test_format_truncation),
        T(test_format_invalid),
        T(test_warm_arena_makes_no_allocation),
        T(test_out_of_memory),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
