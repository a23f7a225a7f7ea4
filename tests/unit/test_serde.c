/*
 * Unit tests for serde.h: the byte buffer, serde objects and reference counting, every built-in
 * serde (wire bytes checked against what Kafka's Java serializers produce), the JSON helpers, and
 * the promise that deserializing into a warm arena makes no allocation.
 *
 * Every test runs with a counting allocator installed through rill_set_allocator() and with its
 * own arena; the teardown destroys the arena and asserts that nothing allocated through the hook
 * is still live. jansson allocates with its own allocator, which valgrind checks instead.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <rill/serde.h>

#include <float.h>
#include <jansson.h>
#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define N_ELEMS(a) (sizeof(a) / sizeof *(a))

/* ---- Counting allocator ---- */

static atomic_long n_allocs; /* malloc calls and reallocs of NULL */
static atomic_long n_reallocs;
static atomic_long n_live;
static atomic_bool fail_allocs; /* while set, every allocation through the hook fails */
static long live_at_setup;      /* so one failed test's leak does not fail the ones after it */

static void *count_malloc(size_t n)
{
    if (atomic_load(&fail_allocs))
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
    if (atomic_load(&fail_allocs))
        return NULL;
    void *p = realloc(old, n);
    if (p) {
        if (old) {
            atomic_fetch_add(&n_reallocs, 1);
        } else {
            atomic_fetch_add(&n_allocs, 1);
            atomic_fetch_add(&n_live, 1);
        }
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
    atomic_store(&fail_allocs, false);
    live_at_setup = atomic_load(&n_live);
    *state = rill_arena_new(4096);
    return *state ? 0 : -1;
}

static int teardown(void **state)
{
    atomic_store(&fail_allocs, false);
    rill_arena_destroy(*state);
    rill_set_log_cb(NULL, NULL, RILL_LOG_INFO);
    /* Everything the test made through the hook is gone. */
    assert_int_equal(atomic_load(&n_live), live_at_setup);
    return 0;
}

/* ---- Helpers ---- */

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

static void assert_out(const rill_bytes_t *out, const void *want, size_t len)
{
    assert_int_equal(out->len, len);
    if (len)
        assert_memory_equal(out->data, want, len);
}

static rill_buf_t view(const void *data, size_t len)
{
    rill_buf_t v = {data, len};
    return v;
}

/* The built-ins, by accessor, for tests that run against all of them. */
static const struct {
    const char *name;
    rill_serde_t *(*get)(void);
} builtins[] = {
    {"bytes", rill_serde_bytes}, {"string", rill_serde_string}, {"int32", rill_serde_int32},
    {"int64", rill_serde_int64}, {"double", rill_serde_double}, {"json", rill_serde_json},
};

/* ---- Byte buffer ---- */

static void test_bytes_append_grows(void **state)
{
    rill_bytes_t b = {0};
    for (int i = 0; i < 1000; i++) {
        uint8_t c = (uint8_t)i;
        assert_int_equal(rill_bytes_append(&b, &c, 1), 0);
    }
    assert_int_equal(b.len, 1000);
    assert_true(b.cap >= b.len);
    for (int i = 0; i < 1000; i++)
        assert_int_equal(b.data[i], (uint8_t)i);
    assert_int_equal(rill_bytes_append(&b, NULL, 0), 0);
    assert_int_equal(b.len, 1000);

    rill_bytes_free(&b);
    assert_null(b.data);
    assert_int_equal(b.len, 0);
    assert_int_equal(b.cap, 0);
    rill_bytes_free(&b);
    rill_bytes_free(NULL);
}

static void test_bytes_append_invalid(void **state)
{
    rill_bytes_t b = {0};
    assert_int_equal(rill_bytes_append(NULL, "x", 1), RILL_EINVAL);
    assert_int_equal(rill_bytes_append(&b, NULL, 3), RILL_EINVAL);
    assert_null(b.data);
}

/* ---- Serde objects ---- */

static void test_by_name(void **state)
{
    for (size_t i = 0; i < N_ELEMS(builtins); i++) {
        rill_serde_t *serde = builtins[i].get();
        assert_non_null(serde);
        assert_ptr_equal(rill_serde_by_name(builtins[i].name), serde);
        assert_string_equal(rill_serde_name(serde), builtins[i].name);
    }
    static const char *const unknown[] = {"avro", "", "String", "int", "bytes "};
    for (size_t i = 0; i < N_ELEMS(unknown); i++)
        assert_null(rill_serde_by_name(unknown[i]));
    assert_null(rill_serde_by_name(NULL));
    assert_null(rill_serde_name(NULL));
}

static void test_builtins_ignore_refcount(void **state)
{
    long allocs = atomic_load(&n_allocs);
    for (size_t i = 0; i < N_ELEMS(builtins); i++) {
        rill_serde_t *serde = builtins[i].get();
        for (int k = 0; k < 3; k++)
            assert_ptr_equal(rill_serde_ref(serde), serde);
        for (int k = 0; k < 10; k++)
            rill_serde_unref(serde);
        assert_string_equal(rill_serde_name(serde), builtins[i].name);
    }
    assert_null(rill_serde_ref(NULL));
    rill_serde_unref(NULL);
    assert_int_equal(atomic_load(&n_allocs), allocs);
}

/* A custom serde: serializes text upper-cased, deserializes into an arena copy, and refuses an
 * empty input without writing errstr (the wrapper must then explain). */
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
    if (bytes.data && bytes.len == 0)
        return RILL_ESERDE;
    *value = rill_arena_copy(arena, bytes.data, bytes.len);
    return 0;
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

static void test_custom_serde_lifecycle(void **state)
{
    rill_arena_t *arena = *state;
    int destroyed = 0;
    rill_serde_t *serde = upper_new(&destroyed);
    assert_string_equal(rill_serde_name(serde), "upper");

    rill_bytes_t out = {0};
    serialize_ok(serde, rill_buf_str("abc-1"), &out);
    assert_out(&out, "ABC-1", 5);
    rill_buf_t value = deserialize_ok(serde, view("xyz", 3), arena);
    assert_int_equal(value.len, 3);
    assert_memory_equal(value.data, "xyz", 3);

    assert_ptr_equal(rill_serde_ref(serde), serde);
    assert_ptr_equal(rill_serde_ref(serde), serde);
    rill_serde_unref(serde);
    rill_serde_unref(serde);
    assert_int_equal(destroyed, 0);
    serialize_ok(serde, rill_buf_str("still alive"), &out);
    rill_serde_unref(serde);
    assert_int_equal(destroyed, 1);
    rill_bytes_free(&out);
}

static void test_custom_serde_default_errstr(void **state)
{
    int destroyed = 0;
    rill_serde_t *serde = upper_new(&destroyed);
    rill_buf_t value;
    char err[256] = "stale";
    assert_int_equal(rill_serde_deserialize(serde, view("", 0), *state, &value, err, sizeof err),
                     RILL_ESERDE);
    assert_null(value.data);
    assert_string_equal(err, "upper deserializer failed: serialization or deserialization failed");
    rill_serde_unref(serde);
    assert_int_equal(destroyed, 1);
}

static void test_custom_serde_new_invalid(void **state)
{
    int destroyed = 0;
    upper_state_t upper = {&destroyed};
    static const rill_serde_ops no_name = {.serialize = upper_serialize,
                                           .deserialize = upper_deserialize};
    static const rill_serde_ops no_ser = {.name = "x", .deserialize = upper_deserialize};
    static const rill_serde_ops no_de = {.name = "x", .serialize = upper_serialize};
    assert_null(rill_serde_new(NULL, &upper));
    assert_null(rill_serde_new(&no_name, &upper));
    assert_null(rill_serde_new(&no_ser, &upper));
    assert_null(rill_serde_new(&no_de, &upper));

    /* Ownership of state moves only on success: a failed new never destroys it. */
    atomic_store(&fail_allocs, true);
    assert_null(rill_serde_new(&upper_ops, &upper));
    atomic_store(&fail_allocs, false);
    assert_int_equal(destroyed, 0);
}

/* Holders on several threads take and drop references; destroy runs once, after the last. */
static void *ref_unref_thread(void *arg)
{
    for (int i = 0; i < 100000; i++)
        rill_serde_unref(rill_serde_ref(arg));
    return NULL;
}

static void test_custom_serde_refcount_threads(void **state)
{
    int destroyed = 0;
    rill_serde_t *serde = upper_new(&destroyed);
    pthread_t threads[4];
    for (size_t i = 0; i < N_ELEMS(threads); i++)
        assert_int_equal(pthread_create(&threads[i], NULL, ref_unref_thread, serde), 0);
    for (size_t i = 0; i < N_ELEMS(threads); i++)
        assert_int_equal(pthread_join(threads[i], NULL), 0);
    assert_int_equal(destroyed, 0);
    rill_serde_unref(serde);
    assert_int_equal(destroyed, 1);
}

/* ---- Nulls ---- */

static void test_null_serializes_to_tombstone(void **state)
{
    for (size_t i = 0; i < N_ELEMS(builtins); i++) {
        rill_bytes_t out = {0};
        assert_int_equal(rill_bytes_append(&out, "junk", 4), 0);
        bool is_null = false;
        char err[128];
        int rc =
            rill_serde_serialize(builtins[i].get(), view(NULL, 0), &out, &is_null, err, sizeof err);
        assert_int_equal(rc, 0);
        assert_true(is_null);
        assert_int_equal(out.len, 0);
        rill_bytes_free(&out);
    }
}

static void test_null_deserializes_to_null(void **state)
{
    for (size_t i = 0; i < N_ELEMS(builtins); i++) {
        rill_buf_t value = deserialize_ok(builtins[i].get(), view(NULL, 0), *state);
        assert_null(value.data);
        assert_int_equal(value.len, 0);
    }
}

/* ---- bytes ---- */

static void test_bytes_zero_copy(void **state)
{
    static const uint8_t raw[] = {0x00, 0xff, 0x80, 'a', 0x00};
    rill_serde_t *serde = rill_serde_bytes();
    rill_buf_t value = deserialize_ok(serde, view(raw, sizeof raw), *state);
    assert_ptr_equal(value.data, raw);
    assert_int_equal(value.len, sizeof raw);

    rill_bytes_t out = {0};
    serialize_ok(serde, value, &out);
    assert_out(&out, raw, sizeof raw);

    /* Empty is not null, either way. */
    value = deserialize_ok(serde, view(raw, 0), *state);
    assert_non_null(value.data);
    assert_int_equal(value.len, 0);
    serialize_ok(serde, value, &out);
    assert_int_equal(out.len, 0);
    rill_bytes_free(&out);
}

/* ---- string ---- */

static void test_string_round_trip(void **state)
{
    static const struct {
        const char *text;
        size_t len;
    } cases[] = {
        {"", 0},
        {"hello", 5},
        {"a\0b", 3},                         /* NUL is valid UTF-8 */
        {"h\xc3\xa9llo", 6},                 /* U+00E9 */
        {"\xe2\x82\xac", 3},                 /* U+20AC */
        {"\xed\x9f\xbf", 3},                 /* U+D7FF, just below the surrogates */
        {"\xee\x80\x80", 3},                 /* U+E000, just above them */
        {"\xef\xbf\xbf", 3},                 /* U+FFFF */
        {"\xf0\x9f\x98\x80", 4},             /* U+1F600 */
        {"\xf4\x8f\xbf\xbf", 4},             /* U+10FFFF, the last code point */
        {"0123456789abcdef\xc3\xa9xyz", 21}, /* fast ASCII path, then a sequence */
    };
    rill_serde_t *serde = rill_serde_string();
    rill_bytes_t out = {0};
    for (size_t i = 0; i < N_ELEMS(cases); i++) {
        rill_buf_t value = deserialize_ok(serde, view(cases[i].text, cases[i].len), *state);
        assert_ptr_equal(value.data, cases[i].text); /* zero copy */
        assert_int_equal(value.len, cases[i].len);
        serialize_ok(serde, value, &out);
        assert_out(&out, cases[i].text, cases[i].len);
    }
    rill_bytes_free(&out);
}

static void test_string_invalid_utf8(void **state)
{
    static const struct {
        const char *text;
        const char *err;
    } cases[] = {
        {"hello, \xff!", "invalid UTF-8 at byte 7 (0xff)"},
        {"\x80", "invalid UTF-8 at byte 0 (0x80)"},             /* lone continuation */
        {"ab\xc0\xaf", "invalid UTF-8 at byte 2 (0xc0)"},       /* overlong '/' */
        {"\xc1\xbf", "invalid UTF-8 at byte 0 (0xc1)"},         /* overlong */
        {"\xe0\x80\xaf", "invalid UTF-8 at byte 1 (0x80)"},     /* overlong 3-byte */
        {"x\xed\xa0\x80", "invalid UTF-8 at byte 2 (0xa0)"},    /* surrogate U+D800 */
        {"\xf0\x8f\xbf\xbf", "invalid UTF-8 at byte 1 (0x8f)"}, /* overlong 4-byte */
        {"\xf4\x90\x80\x80", "invalid UTF-8 at byte 1 (0x90)"}, /* U+110000 */
        {"\xf5\x80\x80\x80", "invalid UTF-8 at byte 0 (0xf5)"},
        {"a\xc3(", "invalid UTF-8 at byte 2 (0x28)"}, /* bad continuation */
        {"ab\xe2\x82", "invalid UTF-8 at byte 2 (0xe2): truncated sequence"},
        {"0123456789abcdef\xfe", "invalid UTF-8 at byte 16 (0xfe)"},
        {"01234567\xc3\xa9\xff", "invalid UTF-8 at byte 10 (0xff)"},
    };
    rill_serde_t *serde = rill_serde_string();
    for (size_t i = 0; i < N_ELEMS(cases); i++) {
        rill_buf_t bytes = rill_buf_str(cases[i].text);
        char err[128] = "";
        rill_buf_t value;
        assert_int_equal(rill_serde_deserialize(serde, bytes, *state, &value, err, sizeof err),
                         RILL_ESERDE);
        assert_string_equal(err, cases[i].err);
        assert_null(value.data);

        /* Rill never writes what it would refuse to read. */
        rill_bytes_t out = {0};
        bool is_null = true;
        err[0] = '\0';
        assert_int_equal(rill_serde_serialize(serde, bytes, &out, &is_null, err, sizeof err),
                         RILL_ESERDE);
        assert_string_equal(err, cases[i].err);
        assert_false(is_null);
        assert_int_equal(out.len, 0);
        rill_bytes_free(&out);
    }
}

/* ---- Numbers: wire bytes as Kafka's Java serializers write them ---- */

static void test_int32_wire(void **state)
{
    static const struct {
        int32_t v;
        uint8_t wire[4];
    } cases[] = {
        {0, {0x00, 0x00, 0x00, 0x00}},          {1, {0x00, 0x00, 0x00, 0x01}},
        {-1, {0xff, 0xff, 0xff, 0xff}},         {-2, {0xff, 0xff, 0xff, 0xfe}},
        {256, {0x00, 0x00, 0x01, 0x00}},        {0x12345678, {0x12, 0x34, 0x56, 0x78}},
        {INT32_MAX, {0x7f, 0xff, 0xff, 0xff}},  {INT32_MIN, {0x80, 0x00, 0x00, 0x00}},
        {-123456789, {0xf8, 0xa4, 0x32, 0xeb}},
    };
    rill_arena_t *arena = *state;
    rill_serde_t *serde = rill_serde_int32();
    rill_bytes_t out = {0};
    for (size_t i = 0; i < N_ELEMS(cases); i++) {
        uint8_t enc[4];
        rill_encode_i32(enc, cases[i].v);
        assert_memory_equal(enc, cases[i].wire, 4);

        serialize_ok(serde, rill_arena_i32(arena, cases[i].v), &out);
        assert_out(&out, cases[i].wire, 4);

        rill_buf_t value = deserialize_ok(serde, view(cases[i].wire, 4), arena);
        assert_int_equal(value.len, sizeof(int32_t));
        assert_int_equal(rill_value_i32(value), cases[i].v);
    }
    rill_bytes_free(&out);
}

static void test_int64_wire(void **state)
{
    static const struct {
        int64_t v;
        uint8_t wire[8];
    } cases[] = {
        {0, {0, 0, 0, 0, 0, 0, 0, 0}},
        {1, {0, 0, 0, 0, 0, 0, 0, 1}},
        {-1, {0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff}},
        {-2, {0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xfe}},
        {0x0102030405060708, {1, 2, 3, 4, 5, 6, 7, 8}},
        {INT64_C(1) << 40, {0, 0, 0x01, 0, 0, 0, 0, 0}},
        {-(INT64_C(1) << 40), {0xff, 0xff, 0xff, 0, 0, 0, 0, 0}},
        {INT64_MAX, {0x7f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff}},
        {INT64_MIN, {0x80, 0, 0, 0, 0, 0, 0, 0}},
        {1700000000000, {0x00, 0x00, 0x01, 0x8b, 0xcf, 0xe5, 0x68, 0x00}}, /* a timestamp */
    };
    rill_arena_t *arena = *state;
    rill_serde_t *serde = rill_serde_int64();
    rill_bytes_t out = {0};
    for (size_t i = 0; i < N_ELEMS(cases); i++) {
        uint8_t enc[8];
        rill_encode_i64(enc, cases[i].v);
        assert_memory_equal(enc, cases[i].wire, 8);
        assert_true(rill_decode_i64(cases[i].wire) == cases[i].v);

        serialize_ok(serde, rill_arena_i64(arena, cases[i].v), &out);
        assert_out(&out, cases[i].wire, 8);

        rill_buf_t value = deserialize_ok(serde, view(cases[i].wire, 8), arena);
        assert_int_equal(value.len, sizeof(int64_t));
        assert_true(rill_value_i64(value) == cases[i].v);
    }
    rill_bytes_free(&out);
}

static double from_bits(uint64_t bits)
{
    double d;
    memcpy(&d, &bits, sizeof d);
    return d;
}

static void test_double_wire(void **state)
{
    /* The input is given as bits so NaN payloads and -0.0 are exact. */
    static const struct {
        uint64_t bits;
        uint8_t wire[8];
    } cases[] = {
        {0x3ff0000000000000, {0x3f, 0xf0, 0, 0, 0, 0, 0, 0}},                   /* 1.0 */
        {0xc000000000000000, {0xc0, 0x00, 0, 0, 0, 0, 0, 0}},                   /* -2.0 */
        {0x0000000000000000, {0, 0, 0, 0, 0, 0, 0, 0}},                         /* 0.0 */
        {0x8000000000000000, {0x80, 0, 0, 0, 0, 0, 0, 0}},                      /* -0.0 */
        {0x3fb999999999999a, {0x3f, 0xb9, 0x99, 0x99, 0x99, 0x99, 0x99, 0x9a}}, /* 0.1 */
        {0x7fefffffffffffff, {0x7f, 0xef, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff}}, /* DBL_MAX */
        {0x0000000000000001, {0, 0, 0, 0, 0, 0, 0, 0x01}},                      /* smallest */
        {0x7ff0000000000000, {0x7f, 0xf0, 0, 0, 0, 0, 0, 0}},                   /* +inf */
        {0xfff0000000000000, {0xff, 0xf0, 0, 0, 0, 0, 0, 0}},                   /* -inf */
        {0x7ff8000000000000, {0x7f, 0xf8, 0, 0, 0, 0, 0, 0}},                   /* NaN */
        /* doubleToLongBits() folds every NaN into the canonical one. */
        {0xfff0000000000001, {0x7f, 0xf8, 0, 0, 0, 0, 0, 0}},
        {0x7ff800000000beef, {0x7f, 0xf8, 0, 0, 0, 0, 0, 0}},
    };
    rill_arena_t *arena = *state;
    rill_serde_t *serde = rill_serde_double();
    rill_bytes_t out = {0};
    for (size_t i = 0; i < N_ELEMS(cases); i++) {
        double d = from_bits(cases[i].bits);
        serialize_ok(serde, rill_arena_double(arena, d), &out);
        assert_out(&out, cases[i].wire, 8);

        rill_buf_t value = deserialize_ok(serde, view(cases[i].wire, 8), arena);
        assert_int_equal(value.len, sizeof(double));
        double got = rill_value_double(value);
        if (isnan(d)) {
            assert_true(isnan(got));
        } else {
            assert_memory_equal(&got, &d, sizeof d); /* bit for bit: keeps -0.0 */
        }
    }
    rill_bytes_free(&out);
}

/* Native value -> wire -> native value, for the extremes. */
static void test_number_round_trips(void **state)
{
    rill_arena_t *arena = *state;
    rill_bytes_t out = {0};

    static const int32_t i32s[] = {0, 1, -1, 42, -42, INT32_MIN, INT32_MAX, INT32_MIN + 1};
    for (size_t i = 0; i < N_ELEMS(i32s); i++) {
        serialize_ok(rill_serde_int32(), rill_arena_i32(arena, i32s[i]), &out);
        rill_buf_t value = deserialize_ok(rill_serde_int32(), view(out.data, out.len), arena);
        assert_int_equal(rill_value_i32(value), i32s[i]);
    }

    static const int64_t i64s[] = {
        0, 1, -1, -2, INT64_MIN, INT64_MAX, INT32_MIN, -(INT64_C(1) << 32), INT64_MIN + 1};
    for (size_t i = 0; i < N_ELEMS(i64s); i++) {
        serialize_ok(rill_serde_int64(), rill_arena_i64(arena, i64s[i]), &out);
        rill_buf_t value = deserialize_ok(rill_serde_int64(), view(out.data, out.len), arena);
        assert_true(rill_value_i64(value) == i64s[i]);
    }

    const double doubles[] = {
        0.0,    -0.0,     1.0,       -1.5, 0.1,      DBL_MAX,           -DBL_MAX,      DBL_MIN,
        5e-324, INFINITY, -INFINITY, NAN,  -DBL_MIN, 3.141592653589793, 1e300 * 1e-10, -1e-300};
    for (size_t i = 0; i < N_ELEMS(doubles); i++) {
        serialize_ok(rill_serde_double(), rill_arena_double(arena, doubles[i]), &out);
        rill_buf_t value = deserialize_ok(rill_serde_double(), view(out.data, out.len), arena);
        double got = rill_value_double(value);
        if (isnan(doubles[i])) {
            assert_true(isnan(got));
        } else {
            assert_memory_equal(&got, &doubles[i], sizeof got);
            assert_int_equal(signbit(got) != 0, signbit(doubles[i]) != 0);
        }
    }
    rill_bytes_free(&out);
}

static void test_number_wrong_wire_length(void **state)
{
    static const uint8_t zeros[16];
    static const struct {
        const char *serde;
        size_t len;
        const char *err;
    } cases[] = {
        {"int32", 0, "int32 expects 4 bytes, got 0"},
        {"int32", 3, "int32 expects 4 bytes, got 3"},
        {"int32", 5, "int32 expects 4 bytes, got 5"},
        {"int32", 8, "int32 expects 4 bytes, got 8"},
        {"int64", 0, "int64 expects 8 bytes, got 0"},
        {"int64", 4, "int64 expects 8 bytes, got 4"},
        {"int64", 5, "int64 expects 8 bytes, got 5"},
        {"int64", 9, "int64 expects 8 bytes, got 9"},
        {"double", 4, "double expects 8 bytes, got 4"},
        {"double", 16, "double expects 8 bytes, got 16"},
    };
    for (size_t i = 0; i < N_ELEMS(cases); i++) {
        char err[128] = "";
        rill_buf_t value = {"junk", 4};
        int rc = rill_serde_deserialize(rill_serde_by_name(cases[i].serde),
                                        view(zeros, cases[i].len), *state, &value, err, sizeof err);
        assert_int_equal(rc, RILL_ESERDE);
        assert_string_equal(err, cases[i].err);
        assert_null(value.data);
    }
}

static void test_serialize_wrong_value_length(void **state)
{
    static const uint8_t zeros[16];
    static const struct {
        const char *serde;
        size_t len;
        const char *err;
    } cases[] = {
        {"int32", 8, "int32 value must be a native 4-byte number, got 8 bytes"},
        {"int32", 0, "int32 value must be a native 4-byte number, got 0 bytes"},
        {"int64", 4, "int64 value must be a native 8-byte number, got 4 bytes"},
        {"double", 5, "double value must be a native 8-byte number, got 5 bytes"},
        {"json", 8,
         "json value must be a rill_json_t * view of length 1 (see rill_json_pack), got length 8"},
    };
    for (size_t i = 0; i < N_ELEMS(cases); i++) {
        rill_bytes_t out = {0};
        bool is_null = true;
        char err[128] = "";
        int rc = rill_serde_serialize(rill_serde_by_name(cases[i].serde), view(zeros, cases[i].len),
                                      &out, &is_null, err, sizeof err);
        assert_int_equal(rc, RILL_ESERDE);
        assert_string_equal(err, cases[i].err);
        assert_false(is_null);
        assert_int_equal(out.len, 0);
        rill_bytes_free(&out);
    }
}

/* ---- Arguments and errstr ---- */

static void test_serialize_empties_out_first(void **state)
{
    rill_bytes_t out = {0};
    assert_int_equal(rill_bytes_append(&out, "left over", 9), 0);
    serialize_ok(rill_serde_int32(), rill_arena_i32(*state, 1), &out);
    assert_out(&out, "\x00\x00\x00\x01", 4);
    rill_bytes_free(&out);
}

static void test_invalid_arguments(void **state)
{
    rill_arena_t *arena = *state;
    rill_bytes_t out = {0};
    rill_buf_t value;
    bool is_null;
    char err[128];
    rill_serde_t *serde = rill_serde_string();

    assert_int_equal(rill_serde_serialize(NULL, view("a", 1), &out, &is_null, err, sizeof err),
                     RILL_EINVAL);
    assert_int_equal(rill_serde_serialize(serde, view("a", 1), NULL, &is_null, err, sizeof err),
                     RILL_EINVAL);
    assert_int_equal(rill_serde_serialize(serde, view("a", 1), &out, NULL, err, sizeof err),
                     RILL_EINVAL);
    assert_int_equal(rill_serde_serialize(serde, view(NULL, 3), &out, &is_null, err, sizeof err),
                     RILL_EINVAL);
    assert_int_equal(rill_serde_deserialize(NULL, view("a", 1), arena, &value, err, sizeof err),
                     RILL_EINVAL);
    assert_int_equal(rill_serde_deserialize(serde, view("a", 1), arena, NULL, err, sizeof err),
                     RILL_EINVAL);
    assert_int_equal(rill_serde_deserialize(serde, view(NULL, 3), arena, &value, err, sizeof err),
                     RILL_EINVAL);

    /* Serdes that decode into the arena need one; bytes and string do not. */
    static const char *const need_arena[] = {"int32", "int64", "double", "json"};
    static const uint8_t eight[8] = {'1', ' ', ' ', ' ', ' ', ' ', ' ', ' '};
    for (size_t i = 0; i < N_ELEMS(need_arena); i++) {
        rill_serde_t *s = rill_serde_by_name(need_arena[i]);
        size_t len = strcmp(need_arena[i], "int32") == 0 ? 4 : 8;
        assert_int_equal(rill_serde_deserialize(s, view(eight, len), NULL, &value, err, sizeof err),
                         RILL_EINVAL);
        assert_non_null(strstr(err, "needs an arena"));
    }
    value = deserialize_ok(rill_serde_string(), view("ok", 2), NULL);
    assert_int_equal(value.len, 2);
}

static void test_errstr_may_be_null_or_short(void **state)
{
    rill_buf_t value;
    rill_bytes_t out = {0};
    bool is_null;
    rill_serde_t *serde = rill_serde_int64();
    assert_int_equal(rill_serde_deserialize(serde, view("12345", 5), *state, &value, NULL, 0),
                     RILL_ESERDE);
    assert_int_equal(rill_serde_serialize(serde, view("1234", 4), &out, &is_null, NULL, 0),
                     RILL_ESERDE);
    assert_int_equal(
        rill_serde_deserialize(rill_serde_json(), view("{", 1), *state, &value, NULL, 0),
        RILL_ESERDE);
    assert_int_equal(
        rill_serde_deserialize(rill_serde_string(), view("\xff", 1), *state, &value, NULL, 0),
        RILL_ESERDE);

    char err[10];
    memset(err, 'x', sizeof err);
    assert_int_equal(rill_serde_deserialize(serde, view("12345", 5), *state, &value, err, 0),
                     RILL_ESERDE);
    assert_int_equal(err[0], 'x'); /* size 0: untouched */
    assert_int_equal(
        rill_serde_deserialize(serde, view("12345", 5), *state, &value, err, sizeof err),
        RILL_ESERDE);
    assert_string_equal(err, "int64 exp"); /* truncated, terminated */
    rill_bytes_free(&out);
}

/* ---- json ---- */

static void test_json_round_trip(void **state)
{
    static const struct {
        const char *in;
        const char *out;
    } cases[] = {
        {"{\"a\": 1, \"b\": [true, null, \"x\"]}", "{\"a\":1,\"b\":[true,null,\"x\"]}"},
        {" [ ] ", "[]"},
        {"{}", "{}"},
        {"42", "42"},
        {"-1.5", "-1.5"},
        {"\"h\\u00e9\"", "\"h\xc3\xa9\""},
        {"null", "null"},                           /* JSON null is a document, not a tombstone */
        {"{\"z\":1,\"a\":2}", "{\"z\":1,\"a\":2}"}, /* key order kept */
        {"{\"n\":{\"m\":[1,[2,[3]]]}}", "{\"n\":{\"m\":[1,[2,[3]]]}}"},
    };
    rill_serde_t *serde = rill_serde_json();
    rill_bytes_t out = {0};
    for (size_t i = 0; i < N_ELEMS(cases); i++) {
        rill_buf_t value = deserialize_ok(serde, rill_buf_str(cases[i].in), *state);
        assert_non_null(value.data);
        assert_int_equal(value.len, 1);
        serialize_ok(serde, value, &out);
        assert_out(&out, cases[i].out, strlen(cases[i].out));
    }
    rill_bytes_free(&out);
}

static void test_json_parse_error_position(void **state)
{
    static const struct {
        const char *in;
        const char *prefix;
    } cases[] = {
        {"[1, 2, x]", "invalid JSON at byte 7 (line 1, column 8): invalid token"},
        {"{\"a\": 1,}", "invalid JSON at byte 8 (line 1, column 9): "},
        {"{\"a\":1} x", "invalid JSON at byte 8 (line 1, column 9): end of file expected"},
        {"{\"a\":\n  tru}", "invalid JSON at byte 10 (line 2, column 5): invalid token"},
        {"[\"ab\xc3(\"]", "invalid JSON at byte 4 (line 1, column 4): unable to decode byte 0xc3"},
        {"[1, 2", "invalid JSON at byte 4 (line 1, column 5): "},
        {"", "invalid JSON at byte 0 (line 1, column 0): "},
    };
    for (size_t i = 0; i < N_ELEMS(cases); i++) {
        char err[256] = "";
        rill_buf_t value = {"junk", 4};
        int rc = rill_serde_deserialize(rill_serde_json(), rill_buf_str(cases[i].in), *state,
                                        &value, err, sizeof err);
        assert_int_equal(rc, RILL_ESERDE);
        assert_null(value.data);
        if (strncmp(err, cases[i].prefix, strlen(cases[i].prefix)) != 0)
            fail_msg("case %zu: got \"%s\", want prefix \"%s\"", i, err, cases[i].prefix);
        assert_true(strlen(err) > strlen(cases[i].prefix)); /* jansson's reason follows */
    }
}

/* A value copies its text: the input may be reused at once (a store's buffer is). */
static void test_json_value_outlives_input(void **state)
{
    char input[] = "{\"k\":[1,2],\"s\":\"v\"}";
    rill_buf_t value = deserialize_ok(rill_serde_json(), rill_buf_str(input), *state);
    memset(input, 'x', sizeof input - 1);
    assert_string_equal(rill_json_get_string(value.data, "s"), "v");
    char buf[64];
    assert_int_equal(rill_json_format(value.data, buf, sizeof buf), 0);
    assert_string_equal(buf, "{\"k\":[1,2],\"s\":\"v\"}");
}

static void test_json_getters(void **state)
{
    rill_buf_t value = deserialize_ok(
        rill_serde_json(),
        rill_buf_str("{\"s\":\"str\",\"i\":42,\"neg\":-7,\"r\":2.5,\"ri\":3.0,\"big\":1e300,"
                     "\"b\":true,\"n\":null,\"o\":{},\"max\":9223372036854775807}"),
        *state);
    const void *doc = value.data;

    assert_string_equal(rill_json_get_string(doc, "s"), "str");
    static const char *const not_strings[] = {"i", "b", "n", "o", "missing"};
    for (size_t i = 0; i < N_ELEMS(not_strings); i++)
        assert_null(rill_json_get_string(doc, not_strings[i]));
    assert_null(rill_json_get_string(NULL, "s"));
    assert_null(rill_json_get_string(doc, NULL));

    static const struct {
        const char *key;
        int rc;
        int64_t v;
    } ints[] = {
        {"i", 0, 42},
        {"neg", 0, -7},
        {"ri", 0, 3},
        {"max", 0, INT64_MAX},
        {"r", RILL_ENOENT, 0},
        {"big", RILL_ENOENT, 0},
        {"s", RILL_ENOENT, 0},
        {"b", RILL_ENOENT, 0},
        {"n", RILL_ENOENT, 0},
        {"o", RILL_ENOENT, 0},
        {"missing", RILL_ENOENT, 0},
    };
    for (size_t i = 0; i < N_ELEMS(ints); i++) {
        int64_t v = -12345;
        assert_int_equal(rill_json_get_int(doc, ints[i].key, &v), ints[i].rc);
        assert_true(v == (ints[i].rc ? -12345 : ints[i].v)); /* untouched on failure */
    }

    static const struct {
        const char *key;
        int rc;
        double v;
    } reals[] = {
        {"r", 0, 2.5},         {"i", 0, 42.0},
        {"neg", 0, -7.0},      {"big", 0, 1e300},
        {"s", RILL_ENOENT, 0}, {"b", RILL_ENOENT, 0},
        {"n", RILL_ENOENT, 0}, {"missing", RILL_ENOENT, 0},
    };
    for (size_t i = 0; i < N_ELEMS(reals); i++) {
        double v = -1;
        assert_int_equal(rill_json_get_double(doc, reals[i].key, &v), reals[i].rc);
        assert_true(v == (reals[i].rc ? -1 : reals[i].v));
    }

    int64_t iv;
    double dv;
    assert_int_equal(rill_json_get_int(NULL, "i", &iv), RILL_ENOENT);
    assert_int_equal(rill_json_get_double(NULL, "r", &dv), RILL_ENOENT);
    assert_int_equal(rill_json_get_int(doc, NULL, &iv), RILL_EINVAL);
    assert_int_equal(rill_json_get_int(doc, "i", NULL), RILL_EINVAL);
    assert_int_equal(rill_json_get_double(doc, "r", NULL), RILL_EINVAL);

    /* A document that is not an object has no members. */
    rill_buf_t array = deserialize_ok(rill_serde_json(), rill_buf_str("[1]"), *state);
    assert_null(rill_json_get_string(array.data, "0"));
    assert_int_equal(rill_json_get_int(array.data, "0", &iv), RILL_ENOENT);
}

static struct {
    int calls;
    rill_log_level_t level;
    char component[32];
    char msg[512];
} logged;

static void capture_log(void *opaque, rill_log_level_t level, const char *component,
                        const char *msg)
{
    logged.calls++;
    logged.level = level;
    snprintf(logged.component, sizeof logged.component, "%s", component);
    snprintf(logged.msg, sizeof logged.msg, "%s", msg);
}

static void test_json_pack(void **state)
{
    rill_arena_t *arena = *state;
    rill_buf_t value = rill_json_pack(arena, "{s:s, s:I, s:f, s:b, s:[i,i]}", "name", "ann", "n",
                                      (json_int_t)7, "x", 0.5, "ok", 1, "l", 1, 2);
    assert_non_null(value.data);
    assert_int_equal(value.len, 1);
    assert_string_equal(rill_json_get_string(value.data, "name"), "ann");
    int64_t n;
    assert_int_equal(rill_json_get_int(value.data, "n", &n), 0);
    assert_int_equal(n, 7);

    rill_bytes_t out = {0};
    serialize_ok(rill_serde_json(), value, &out);
    const char *want = "{\"name\":\"ann\",\"n\":7,\"x\":0.5,\"ok\":true,\"l\":[1,2]}";
    assert_out(&out, want, strlen(want));
    rill_bytes_free(&out);
}

static void test_json_pack_failure_logs(void **state)
{
    memset(&logged, 0, sizeof logged);
    rill_set_log_cb(capture_log, NULL, RILL_LOG_DEBUG);

    rill_buf_t value = rill_json_pack(*state, "{s:i", "a", 1);
    assert_null(value.data);
    assert_int_equal(value.len, 0);
    assert_int_equal(logged.calls, 1);
    assert_int_equal(logged.level, RILL_LOG_ERROR);
    assert_string_equal(logged.component, "serde");
    assert_non_null(strstr(logged.msg, "rill_json_pack(\"{s:i\")"));

    value = rill_json_pack(*state, "{s:s}", "a", (const char *)NULL);
    assert_null(value.data);
    assert_int_equal(logged.calls, 2);

    value = rill_json_pack(NULL, "{}");
    assert_null(value.data);
    assert_int_equal(logged.calls, 3);
}

/* Serializes value with the json serde and compares it with want. */
static void assert_json(rill_buf_t value, const char *want)
{
    rill_bytes_t out = {0};
    assert_non_null(value.data);
    serialize_ok(rill_serde_json(), value, &out);
    if (out.len != strlen(want) || memcmp(out.data, want, out.len) != 0)
        fail_msg("got '%.*s', want '%s'", (int)out.len, (const char *)out.data, want);
    rill_bytes_free(&out);
}

static rill_buf_t parse_ok(rill_arena_t *arena, const char *text)
{
    char err[256] = "";
    rill_buf_t v;
    if (rill_json_parse(arena, text, strlen(text), &v, err, sizeof err) != 0)
        fail_msg("'%s': %s", text, err);
    return v;
}

/* Strings: views into the text when there is no escape, unescaped (\u escapes and surrogate
 * pairs into UTF-8) otherwise; types, booleans, nested objects, duplicate keys. */
static void test_json_reads(void **state)
{
    rill_buf_t v =
        parse_ok(*state, "{\"plain\":\"abc\",\"esc\":\"a\\\"b\\\\c\\n\\u00e9\\ud83d\\ude00\","
                         "\"t\":true,\"f\":false,\"n\":null,\"o\":{\"x\":1,\"y\":{\"z\":"
                         "\"deep\"}},\"a\":[1,{\"q\":2}],\"dup\":1,\"dup\":2,"
                         "\"k\\u0065y\":5}");
    const rill_json_t *doc = v.data;
    rill_buf_t s;
    assert_int_equal(rill_json_get_str(doc, "plain", &s), 0);
    assert_int_equal(s.len, 3);
    assert_memory_equal(s.data, "abc", 3);
    assert_true((const char *)s.data > (const char *)rill_json_text(doc).data); /* zero copy */
    assert_true((const char *)s.data <
                (const char *)rill_json_text(doc).data + rill_json_text(doc).len);
    assert_int_equal(rill_json_get_str(doc, "esc", &s), 0);
    const char want[] = "a\"b\\c\n\xc3\xa9\xf0\x9f\x98\x80";
    assert_int_equal(s.len, sizeof want - 1);
    assert_memory_equal(s.data, want, sizeof want - 1);
    assert_string_equal(rill_json_get_string(doc, "esc"), want);
    assert_int_equal(rill_json_get_str(doc, "t", &s), RILL_ENOENT);

    bool b = false;
    assert_int_equal(rill_json_get_bool(doc, "t", &b), 0);
    assert_true(b);
    assert_int_equal(rill_json_get_bool(doc, "f", &b), 0);
    assert_false(b);
    assert_int_equal(rill_json_get_bool(doc, "n", &b), RILL_ENOENT);

    assert_int_equal(rill_json_type(doc), RILL_JSON_OBJECT);
    rill_buf_t o, y, n;
    assert_int_equal(rill_json_get(doc, "o", &o), 0);
    assert_int_equal(rill_json_type(o.data), RILL_JSON_OBJECT);
    int64_t i;
    assert_int_equal(rill_json_get_int(o.data, "x", &i), 0);
    assert_int_equal(i, 1);
    assert_int_equal(rill_json_get(o.data, "y", &y), 0);
    assert_string_equal(rill_json_get_string(y.data, "z"), "deep");
    assert_json(y, "{\"z\":\"deep\"}");
    assert_int_equal(rill_json_get(doc, "a", &o), 0);
    assert_int_equal(rill_json_type(o.data), RILL_JSON_ARRAY);
    assert_json(o, "[1,{\"q\":2}]");
    assert_int_equal(rill_json_get(doc, "n", &n), 0);
    assert_int_equal(rill_json_type(n.data), RILL_JSON_NULL);
    assert_int_equal(rill_json_get(doc, "nope", &n), RILL_ENOENT);

    assert_int_equal(rill_json_get_int(doc, "dup", &i), 0); /* the last one counts */
    assert_int_equal(i, 2);
    assert_int_equal(rill_json_get_int(doc, "key", &i), 0); /* keys are unescaped */
    assert_int_equal(i, 5);
    assert_int_equal(rill_json_type(NULL), RILL_EINVAL);
}

/* Numbers: int64's edges, what lies beyond them, doubles. */
static void test_json_numbers(void **state)
{
    rill_buf_t v = parse_ok(*state, "{\"min\":-9223372036854775808,\"max\":9223372036854775807,"
                                    "\"over\":9223372036854775808,\"r\":-2.5e-3,\"e\":1E2,"
                                    "\"z\":-0,\"tiny\":5e-324}");
    int64_t i;
    double d;
    assert_int_equal(rill_json_get_int(v.data, "min", &i), 0);
    assert_true(i == INT64_MIN);
    assert_int_equal(rill_json_get_int(v.data, "max", &i), 0);
    assert_true(i == INT64_MAX);
    assert_int_equal(rill_json_get_int(v.data, "over", &i), RILL_ENOENT); /* a REAL */
    assert_int_equal(rill_json_get_double(v.data, "over", &d), 0);
    assert_true(d == 9223372036854775808.0);
    assert_int_equal(rill_json_get_double(v.data, "r", &d), 0);
    assert_true(d == -2.5e-3);
    assert_int_equal(rill_json_get_int(v.data, "e", &i), 0); /* an integral real */
    assert_int_equal(i, 100);
    assert_int_equal(rill_json_get_int(v.data, "z", &i), 0);
    assert_int_equal(i, 0);
    assert_int_equal(rill_json_get_double(v.data, "tiny", &d), 0);
    assert_true(d == 5e-324);
    /* Numbers are written as they came. */
    assert_json(v, "{\"min\":-9223372036854775808,\"max\":9223372036854775807,"
                   "\"over\":9223372036854775808,\"r\":-2.5e-3,\"e\":1E2,\"z\":-0,"
                   "\"tiny\":5e-324}");

    char err[256];
    rill_buf_t bad;
    assert_int_equal(rill_json_parse(*state, "[1e999]", 7, &bad, err, sizeof err), RILL_ESERDE);
    assert_non_null(strstr(err, "invalid JSON at byte"));
    assert_int_equal(rill_json_parse(*state, "[01]", 4, &bad, err, sizeof err), RILL_ESERDE);
    assert_int_equal(rill_json_parse(*state, "[1.]", 4, &bad, err, sizeof err), RILL_ESERDE);
}

/* More bad documents, each named by its byte offset; and whitespace everywhere is fine. */
static void test_json_errors_and_whitespace(void **state)
{
    static const struct {
        const char *in;
        const char *prefix;
    } cases[] = {
        {"{\"a\":\"x\\q\"}", "invalid JSON at byte 8 "},  /* bad escape */
        {"{\"a\" 1}", "invalid JSON at byte 5 "},         /* no colon */
        {"{\"a\":1 \"b\":2}", "invalid JSON at byte 9 "}, /* no comma */
        {"[\"\\ud800\"]", "invalid JSON at byte "},       /* lone surrogate */
        {"{\"a\":[1,2}", "invalid JSON at byte 9 "},      /* mismatched bracket */
        {"nul", "invalid JSON at byte "},
    };
    for (size_t i = 0; i < N_ELEMS(cases); i++) {
        char err[256] = "";
        rill_buf_t v = {"junk", 4};
        assert_int_equal(
            rill_json_parse(*state, cases[i].in, strlen(cases[i].in), &v, err, sizeof err),
            RILL_ESERDE);
        assert_null(v.data);
        if (strncmp(err, cases[i].prefix, strlen(cases[i].prefix)) != 0)
            fail_msg("case %zu: got \"%s\", want prefix \"%s\"", i, err, cases[i].prefix);
    }
    rill_buf_t v =
        parse_ok(*state, " \n{ \"a\" :\t[ 1 , { \"b\" : \"c d\" } ] ,\r\n \"e\" : null } ");
    assert_json(v, "{\"a\":[1,{\"b\":\"c d\"}],\"e\":null}");
    char buf[8];
    assert_int_equal(rill_json_format(v.data, buf, sizeof buf), 0);
    assert_string_equal(buf, "{\"a\"...");
}

/* Edits make a new value, keep the member's place and every other member's text, and leave the
 * original as it was. */
static void test_json_edits(void **state)
{
    rill_arena_t *arena = *state;
    rill_buf_t bid = parse_ok(arena, "{\"auction\":7,\"price\":100,\"url\":\"u\",\"o\":{\"p\":1}}");
    rill_buf_t q1 = rill_json_set_int(arena, bid.data, "price", 89);
    assert_json(q1, "{\"auction\":7,\"price\":89,\"url\":\"u\",\"o\":{\"p\":1}}");
    assert_json(bid, "{\"auction\":7,\"price\":100,\"url\":\"u\",\"o\":{\"p\":1}}");
    int64_t i;
    assert_int_equal(rill_json_get_int(q1.data, "price", &i), 0);
    assert_int_equal(i, 89);

    rill_buf_t more = rill_json_set_str(arena, q1.data, "note", "say \"hi\"\n", 9);
    assert_json(more, "{\"auction\":7,\"price\":89,\"url\":\"u\",\"o\":{\"p\":1},"
                      "\"note\":\"say \\\"hi\\\"\\n\"}");
    assert_string_equal(rill_json_get_string(more.data, "note"), "say \"hi\"\n");
    rill_buf_t min = rill_json_set_int(arena, more.data, "auction", INT64_MIN);
    assert_int_equal(rill_json_get_int(min.data, "auction", &i), 0);
    assert_true(i == INT64_MIN);

    /* A value from another document, edited itself; a member of a value with whitespace. */
    rill_buf_t inner = rill_json_set_int(arena, parse_ok(arena, "{ \"p\" : 1 }").data, "q", 2);
    rill_buf_t nested = rill_json_set(arena, parse_ok(arena, "{ \"a\" : [ 1 ] }").data, "o", inner);
    assert_json(nested, "{\"a\":[1],\"o\":{\"p\":1,\"q\":2}}");
    rill_buf_t o;
    assert_int_equal(rill_json_get(nested.data, "o", &o), 0);
    assert_int_equal(rill_json_get_int(o.data, "q", &i), 0);
    assert_int_equal(i, 2);

    /* Only objects have members to set. */
    assert_null(rill_json_set_int(arena, parse_ok(arena, "[1]").data, "a", 1).data);
    assert_null(rill_json_set_int(arena, NULL, "a", 1).data);
    assert_null(rill_json_set_int(NULL, bid.data, "a", 1).data);
}

/* The writer: escaping, nesting, numbers, values, and misuse reported at the end. */
static void test_json_writer(void **state)
{
    rill_arena_t *arena = *state;
    rill_json_writer_t w;
    rill_json_writer_init(&w, arena);
    rill_json_write_object(&w);
    rill_json_write_key(&w, "s");
    rill_json_write_str(&w, "q\"b\\s/\x01\t\xc3\xa9", 10);
    rill_json_write_key(&w, "k\"");
    rill_json_write_array(&w);
    rill_json_write_int(&w, INT64_MIN);
    rill_json_write_int(&w, 0);
    rill_json_write_double(&w, 0.1);
    rill_json_write_double(&w, 2.0);
    rill_json_write_double(&w, 1e300);
    rill_json_write_bool(&w, true);
    rill_json_write_null(&w);
    rill_json_write_object(&w);
    rill_json_write_end(&w);
    rill_json_write_array(&w);
    rill_json_write_end(&w);
    rill_json_write_value(&w, parse_ok(arena, "{ \"x\" : \"\\u0041\" }"));
    rill_json_write_end(&w);
    rill_json_write_end(&w);
    rill_buf_t v = rill_json_writer_finish(&w);
    const char *want =
        "{\"s\":\"q\\\"b\\\\s/\\u0001\\t\xc3\xa9\",\"k\\\"\":[-9223372036854775808,0,"
        "0.1,2.0,1e+300,true,null,{},[],{\"x\":\"A\"}]}";
    assert_json(v, want);
    /* What it wrote reads back. */
    assert_string_equal(rill_json_get_string(v.data, "s"), "q\"b\\s/\x01\t\xc3\xa9");
    assert_int_equal(rill_json_type(v.data), RILL_JSON_OBJECT);
    rill_buf_t back = parse_ok(arena, want);
    assert_json(back, want);

    /* Misuse and impossible values: a null view at the end. */
    rill_json_writer_init(&w, arena);
    rill_json_write_object(&w);
    assert_null(rill_json_writer_finish(&w).data); /* still open */
    rill_json_writer_init(&w, arena);
    rill_json_write_end(&w);
    assert_null(rill_json_writer_finish(&w).data);
    rill_json_writer_init(&w, arena);
    rill_json_write_double(&w, NAN);
    assert_null(rill_json_writer_finish(&w).data);
    rill_json_writer_init(&w, arena);
    assert_null(rill_json_writer_finish(&w).data); /* nothing written */
    rill_json_writer_init(&w, NULL);
    rill_json_write_int(&w, 1);
    assert_null(rill_json_writer_finish(&w).data);

    /* Long text grows the buffer. */
    rill_json_writer_init(&w, arena);
    rill_json_write_array(&w);
    for (int k = 0; k < 1000; k++)
        rill_json_write_int(&w, k);
    rill_json_write_end(&w);
    v = rill_json_writer_finish(&w);
    assert_non_null(v.data);
    assert_int_equal(rill_json_text(v.data).len, 3891);
}

/* ---- Allocation ---- */

/*
 * The hot-path promise: once the arena has grown to a record's needs, deserializing strings and
 * numbers makes no allocation through the hook, and serializing into a reused buffer neither.
 * JSON values (parse, read, edit, write, serialize) live in the arena too; simdjson's parser
 * keeps its buffers per thread across documents (its allocations are outside the hook).
 */
static void test_warm_arena_makes_no_allocation(void **state)
{
    rill_arena_t *arena = *state;
    static const uint8_t wire64[8] = {0x80, 0, 0, 0, 0, 0, 0, 0x01};
    static const uint8_t wire32[4] = {0xff, 0xff, 0xff, 0xfe};
    static const uint8_t wired[8] = {0x3f, 0xf0, 0, 0, 0, 0, 0, 0};
    static const char text[] = "h\xc3\xa9llo, w\xc3\xb6rld";
    rill_bytes_t out = {0};
    long before = 0;

    for (int iter = 0; iter < 1000; iter++) {
        if (iter == 1)
            before = atomic_load(&n_allocs) + atomic_load(&n_reallocs); /* warm from here */
        rill_buf_t s = deserialize_ok(rill_serde_string(), view(text, sizeof text - 1), arena);
        assert_ptr_equal(s.data, text);
        rill_buf_t i64 = deserialize_ok(rill_serde_int64(), view(wire64, 8), arena);
        assert_true(rill_value_i64(i64) == INT64_MIN + 1);
        rill_buf_t i32 = deserialize_ok(rill_serde_int32(), view(wire32, 4), arena);
        assert_int_equal(rill_value_i32(i32), -2);
        rill_buf_t d = deserialize_ok(rill_serde_double(), view(wired, 8), arena);
        assert_true(rill_value_double(d) == 1.0);
        rill_buf_t j = deserialize_ok(rill_serde_json(), rill_buf_str("{\"a\":1}"), arena);
        rill_buf_t bid = deserialize_ok(
            rill_serde_json(), rill_buf_str("{\"auction\":1,\"price\":100,\"url\":\"u\"}"), arena);
        int64_t price;
        assert_int_equal(rill_json_get_int(bid.data, "price", &price), 0);
        rill_buf_t edited = rill_json_set_int(arena, bid.data, "price", price * 89 / 100);
        serialize_ok(rill_serde_json(), edited, &out);
        rill_json_writer_t w;
        rill_json_writer_init(&w, arena);
        rill_json_write_object(&w);
        rill_json_write_key(&w, "price");
        rill_json_write_int(&w, price);
        rill_json_write_end(&w);
        serialize_ok(rill_serde_json(), rill_json_writer_finish(&w), &out);

        serialize_ok(rill_serde_int64(), i64, &out);
        serialize_ok(rill_serde_string(), s, &out);
        serialize_ok(rill_serde_json(), j, &out);
        rill_arena_reset(arena);
    }
    assert_int_equal(atomic_load(&n_allocs) + atomic_load(&n_reallocs), before);
    rill_bytes_free(&out);
}

static void test_out_of_memory(void **state)
{
    char err[128];
    bool is_null;
    rill_buf_t value;

    /* Appending to an empty buffer needs memory; the buffer is left as it was. */
    rill_bytes_t out = {0};
    atomic_store(&fail_allocs, true);
    assert_int_equal(rill_bytes_append(&out, "abc", 3), RILL_ENOMEM);
    assert_null(out.data);
    int64_t one = 1;
    assert_int_equal(
        rill_serde_serialize(rill_serde_int64(), view(&one, 8), &out, &is_null, err, sizeof err),
        RILL_ENOMEM);
    assert_int_equal(out.len, 0);
    atomic_store(&fail_allocs, false);

    /* An arena whose chunk is full must take an overflow block from the hook. */
    rill_arena_t *small = rill_arena_new(16);
    assert_non_null(small);
    assert_non_null(rill_arena_alloc(small, 16));
    atomic_store(&fail_allocs, true);
    static const uint8_t wire[8] = {0};
    static const char *const arena_serdes[] = {"int32", "int64", "double"};
    for (size_t i = 0; i < N_ELEMS(arena_serdes); i++) {
        size_t len = i == 0 ? 4 : 8;
        err[0] = '\0';
        assert_int_equal(rill_serde_deserialize(rill_serde_by_name(arena_serdes[i]),
                                                view(wire, len), small, &value, err, sizeof err),
                         RILL_ENOMEM);
        assert_null(value.data);
        assert_non_null(strstr(err, "out of memory"));
    }
    /* json: the document is parsed, then cannot be handed to the arena, and is released. */
    assert_int_equal(rill_serde_deserialize(rill_serde_json(), rill_buf_str("{\"a\":[1]}"), small,
                                            &value, err, sizeof err),
                     RILL_ENOMEM);
    assert_null(value.data);
    rill_set_log_cb(capture_log, NULL, RILL_LOG_DEBUG);
    value = rill_json_pack(small, "{s:i}", "a", 1);
    assert_null(value.data);
    assert_non_null(strstr(logged.msg, "out of memory"));
    atomic_store(&fail_allocs, false);
    rill_arena_destroy(small);
    rill_bytes_free(&out);
}

/* Built-ins have no mutable state: threads share them, each with its own arena and buffer. */
static void *serde_thread(void *arg)
{
    rill_arena_t *arena = rill_arena_new(256);
    rill_bytes_t out = {0};
    intptr_t bad = 0;
    for (int64_t i = 0; i < 20000 && arena; i++) {
        char err[128];
        bool is_null;
        rill_buf_t value;
        if (rill_serde_serialize(rill_serde_int64(), rill_arena_i64(arena, i), &out, &is_null, err,
                                 sizeof err) ||
            rill_serde_deserialize(rill_serde_int64(), view(out.data, out.len), arena, &value, err,
                                   sizeof err) ||
            rill_value_i64(value) != i)
            bad++;
        if (rill_serde_deserialize(rill_serde_json(), rill_buf_str("{\"k\":\"v\"}"), arena, &value,
                                   err, sizeof err) != 0) {
            bad++;
        } else {
            const char *k = rill_json_get_string(value.data, "k");
            bad += !k || strcmp(k, "v") != 0;
        }
        rill_arena_reset(arena);
    }
    rill_bytes_free(&out);
    rill_arena_destroy(arena);
    return (void *)(arena ? bad : -1);
}

static void test_builtins_shared_across_threads(void **state)
{
    pthread_t threads[4];
    for (size_t i = 0; i < N_ELEMS(threads); i++)
        assert_int_equal(pthread_create(&threads[i], NULL, serde_thread, NULL), 0);
    for (size_t i = 0; i < N_ELEMS(threads); i++) {
        void *bad;
        assert_int_equal(pthread_join(threads[i], &bad), 0);
        assert_int_equal((intptr_t)bad, 0);
    }
}

#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)

int main(void)
{
    const struct CMUnitTest tests[] = {
        T(test_bytes_append_grows),
        T(test_bytes_append_invalid),
        T(test_by_name),
        T(test_builtins_ignore_refcount),
        T(test_custom_serde_lifecycle),
        T(test_custom_serde_default_errstr),
        T(test_custom_serde_new_invalid),
        T(test_custom_serde_refcount_threads),
        T(test_null_serializes_to_tombstone),
        T(test_null_deserializes_to_null),
        T(test_bytes_zero_copy),
        T(test_string_round_trip),
        T(test_string_invalid_utf8),
        T(test_int32_wire),
        T(test_int64_wire),
        T(test_double_wire),
        T(test_number_round_trips),
        T(test_number_wrong_wire_length),
        T(test_serialize_wrong_value_length),
        T(test_serialize_empties_out_first),
        T(test_invalid_arguments),
        T(test_errstr_may_be_null_or_short),
        T(test_json_round_trip),
        T(test_json_parse_error_position),
        T(test_json_value_outlives_input),
        T(test_json_reads),
        T(test_json_numbers),
        T(test_json_errors_and_whitespace),
        T(test_json_edits),
        T(test_json_writer),
        T(test_json_getters),
        T(test_json_pack),
        T(test_json_pack_failure_logs),
        T(test_warm_arena_makes_no_allocation),
        T(test_out_of_memory),
        T(test_builtins_shared_across_threads),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
