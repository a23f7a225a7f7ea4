/*
 * The serde object, the byte buffer serializers write into, and the built-in serdes bytes,
 * string, int32, int64 and double. The json serde lives in json.c (the only file that includes
 * jansson); its ops table is shared with this file as rill__serde_json_ops.
 *
 * Built-in serdes are static objects with no mutable state, so any thread may use them at once;
 * their ref and unref do nothing. Custom serdes are heap objects counted with C11 atomics.
 */
#include <rill/serde.h>

#include "avro_int.h"

#include <assert.h>
#include <math.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>

struct rill_serde {
    const rill_serde_ops *ops;
    const rill_serde_ctx_ops *ctx_ops; /* NULL: the serde needs no record */
    void *state;
    bool builtin;     /* static object: reference counting is a no-op */
    atomic_uint refs; /* custom serdes only */
};

/* Defined in json.c. Declared here rather than in a serde_int.h because it is the only symbol the
 * two files share. */
extern const rill_serde_ops rill__serde_json_ops;

static const rill_buf_t null_view = {NULL, 0};

#define set_err rill__serde_err

/* Writes a message into the caller's errstr, which may be NULL or of size 0. Shared with the
 * Avro serde and the registry client through avro_int.h. */
void rill__serde_err(char *errstr, size_t errstr_size, const char *fmt, ...)
{
    if (!errstr || !errstr_size)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(errstr, errstr_size, fmt, ap);
    va_end(ap);
}

/* ---- Byte buffer ---- */

int rill_bytes_append(rill_bytes_t *b, const void *data, size_t len)
{
    if (!b || (!data && len))
        return RILL_EINVAL;
    if (len == 0)
        return 0;
    if (len > b->cap - b->len) {
        if (len > SIZE_MAX - b->len)
            return RILL_ENOMEM;
        size_t need = b->len + len;
        /* Doubling keeps appends amortised O(1); a buffer reused across records stops growing
         * once it fits the largest one, so the hot path no longer allocates. */
        size_t cap = b->cap ? b->cap : 64;
        while (cap < need)
            cap = cap > SIZE_MAX / 2 ? need : cap * 2;
        uint8_t *p = rill_realloc(b->data, cap);
        if (!p)
            return RILL_ENOMEM;
        b->data = p;
        b->cap = cap;
    }
    memcpy(b->data + b->len, data, len);
    b->len += len;
    return 0;
}

void rill_bytes_free(rill_bytes_t *b)
{
    if (!b)
        return;
    rill_free(b->data);
    b->data = NULL;
    b->len = 0;
    b->cap = 0;
}

/* ---- Serde objects ---- */

rill_serde_t *rill_serde_new(const rill_serde_ops *ops, void *state)
{
    return rill_serde_new_ctx(ops, NULL, state);
}

rill_serde_t *rill_serde_new_ctx(const rill_serde_ops *ops, const rill_serde_ctx_ops *ctx_ops,
                                 void *state)
{
    if (!ops || !ops->name || !ops->serialize || !ops->deserialize)
        return NULL;
    rill_serde_t *serde = rill_malloc(sizeof *serde);
    if (!serde)
        return NULL;
    serde->ops = ops;
    serde->ctx_ops = ctx_ops;
    serde->state = state;
    serde->builtin = false;
    atomic_init(&serde->refs, 1);
    return serde;
}

rill_serde_t *rill_serde_ref(rill_serde_t *serde)
{
    /* Taking a reference needs no ordering: the caller already holds one. */
    if (serde && !serde->builtin)
        atomic_fetch_add_explicit(&serde->refs, 1, memory_order_relaxed);
    return serde;
}

void rill_serde_unref(rill_serde_t *serde)
{
    if (!serde || serde->builtin)
        return;
    /* acq_rel: every other holder's use of the state happens before destroy runs. */
    unsigned prev = atomic_fetch_sub_explicit(&serde->refs, 1, memory_order_acq_rel);
    assert(prev > 0);
    if (prev != 1)
        return;
    if (serde->ops->destroy)
        serde->ops->destroy(serde->state);
    rill_free(serde);
}

/* Declared in avro_int.h: lets a serde module reach its own state behind a rill_serde_t. */
void *rill__serde_state(const rill_serde_t *serde, const rill_serde_ops *ops)
{
    return serde && serde->ops == ops ? serde->state : NULL;
}

const char *rill_serde_name(const rill_serde_t *serde)
{
    return serde ? serde->ops->name : NULL;
}

const rill_serde_ops *rill__serde_ops_of(const rill_serde_t *serde)
{
    return serde ? serde->ops : NULL;
}

/*
 * Empties out and clears *is_null before calling the serde, so a serializer only appends and only
 * sets the flag for a null. On failure out is left empty, so a half-written encoding can never be
 * produced by mistake, and errstr always says something even when a custom serde wrote nothing.
 */
int rill_serde_serialize(const rill_serde_t *serde, rill_buf_t value, rill_bytes_t *out,
                         bool *is_null, char *errstr, size_t errstr_size)
{
    return rill_serde_serialize_ctx(serde, NULL, value, out, is_null, errstr, errstr_size);
}

int rill_serde_serialize_ctx(const rill_serde_t *serde, rill_serde_ctx_t *ctx, rill_buf_t value,
                             rill_bytes_t *out, bool *is_null, char *errstr, size_t errstr_size)
{
    if (!serde || !out || !is_null || (!value.data && value.len)) {
        set_err(errstr, errstr_size, "invalid argument to rill_serde_serialize");
        return RILL_EINVAL;
    }
    out->len = 0;
    *is_null = false;
    if (errstr && errstr_size)
        errstr[0] = '\0';
    int rc =
        ctx && serde->ctx_ops && serde->ctx_ops->serialize
            ? serde->ctx_ops->serialize(serde->state, ctx, value, out, is_null, errstr, errstr_size)
            : serde->ops->serialize(serde->state, value, out, is_null, errstr, errstr_size);
    if (rc != 0) {
        out->len = 0;
        *is_null = false;
        if (errstr && errstr_size && !errstr[0])
            set_err(errstr, errstr_size, "%s serializer failed: %s", serde->ops->name,
                    rill_strerror(rc));
    }
    return rc;
}

/* Like rill_serde_serialize: *value is a null view unless the serde succeeds. */
int rill_serde_deserialize(const rill_serde_t *serde, rill_buf_t bytes, rill_arena_t *arena,
                           rill_buf_t *value, char *errstr, size_t errstr_size)
{
    return rill_serde_deserialize_ctx(serde, NULL, bytes, arena, value, errstr, errstr_size);
}

int rill_serde_deserialize_ctx(const rill_serde_t *serde, const rill_serde_ctx_t *ctx,
                               rill_buf_t bytes, rill_arena_t *arena, rill_buf_t *value,
                               char *errstr, size_t errstr_size)
{
    if (!serde || !value || (!bytes.data && bytes.len)) {
        set_err(errstr, errstr_size, "invalid argument to rill_serde_deserialize");
        return RILL_EINVAL;
    }
    *value = null_view;
    if (errstr && errstr_size)
        errstr[0] = '\0';
    int rc = ctx && serde->ctx_ops && serde->ctx_ops->deserialize
                 ? serde->ctx_ops->deserialize(serde->state, ctx, bytes, arena, value, errstr,
                                               errstr_size)
                 : serde->ops->deserialize(serde->state, bytes, arena, value, errstr, errstr_size);
    if (rc != 0) {
        *value = null_view;
        if (errstr && errstr_size && !errstr[0])
            set_err(errstr, errstr_size, "%s deserializer failed: %s", serde->ops->name,
                    rill_strerror(rc));
    }
    return rc;
}

/* ---- Big-endian helpers ---- */

void rill_encode_i32(uint8_t out[4], int32_t v)
{
    uint32_t u = (uint32_t)v;
    out[0] = (uint8_t)(u >> 24);
    out[1] = (uint8_t)(u >> 16);
    out[2] = (uint8_t)(u >> 8);
    out[3] = (uint8_t)u;
}

void rill_encode_i64(uint8_t out[8], int64_t v)
{
    uint64_t u = (uint64_t)v;
    for (int i = 7; i >= 0; i--) {
        out[i] = (uint8_t)u;
        u >>= 8;
    }
}

int64_t rill_decode_i64(const uint8_t in[8])
{
    uint64_t u = 0;
    for (int i = 0; i < 8; i++)
        u = (u << 8) | in[i];
    /* Two's complement conversion without implementation-defined behaviour. */
    return u <= INT64_MAX ? (int64_t)u : -(int64_t)(UINT64_MAX - u) - 1;
}

static int32_t decode_i32(const uint8_t in[4])
{
    uint32_t u = (uint32_t)in[0] << 24 | (uint32_t)in[1] << 16 | (uint32_t)in[2] << 8 | in[3];
    return u <= INT32_MAX ? (int32_t)u : -(int32_t)(UINT32_MAX - u) - 1;
}

/* ---- bytes ---- */

static int bytes_serialize(void *state, rill_buf_t value, rill_bytes_t *out, bool *is_null,
                           char *errstr, size_t errstr_size)
{
    if (!value.data) {
        *is_null = true;
        return 0;
    }
    return rill_bytes_append(out, value.data, value.len);
}

/* Zero copy: the value is the input view, so it lives as long as the bytes do. */
static int bytes_deserialize(void *state, rill_buf_t bytes, rill_arena_t *arena, rill_buf_t *value,
                             char *errstr, size_t errstr_size)
{
    *value = bytes;
    return 0;
}

static const rill_serde_ops bytes_ops = {
    .name = "bytes", .serialize = bytes_serialize, .deserialize = bytes_deserialize};

/* ---- string ---- */

/*
 * Returns the offset of the first byte of s that cannot be part of well-formed UTF-8 (RFC 3629:
 * no overlong forms, no surrogates, nothing above U+10FFFF), or len when s is valid. When s ends
 * inside a sequence, *truncated is set and the offset is that of the sequence's lead byte.
 */
static size_t utf8_check(const uint8_t *s, size_t len, bool *truncated)
{
    size_t i = 0;
    *truncated = false;
    while (i < len) {
        /* Most keys and values are ASCII: skip them eight bytes at a time. */
        if (len - i >= 8) {
            uint64_t w;
            memcpy(&w, s + i, sizeof w);
            if (!(w & UINT64_C(0x8080808080808080))) {
                i += 8;
                continue;
            }
        }
        uint8_t c = s[i];
        if (c < 0x80) {
            i++;
            continue;
        }
        /* n continuation bytes follow; the first lies in [lo, hi], the others in [80, bf]. */
        size_t n;
        uint8_t lo = 0x80, hi = 0xbf;
        if (c >= 0xc2 && c <= 0xdf) {
            n = 1;
        } else if (c == 0xe0) {
            n = 2;
            lo = 0xa0; /* no overlong 3-byte forms */
        } else if (c == 0xed) {
            n = 2;
            hi = 0x9f; /* no surrogates */
        } else if (c >= 0xe1 && c <= 0xef) {
            n = 2;
        } else if (c == 0xf0) {
            n = 3;
            lo = 0x90; /* no overlong 4-byte forms */
        } else if (c == 0xf4) {
            n = 3;
            hi = 0x8f; /* nothing above U+10FFFF */
        } else if (c >= 0xf1 && c <= 0xf3) {
            n = 3;
        } else {
            return i; /* continuation byte, c0, c1 or f5..ff */
        }
        for (size_t k = 1; k <= n; k++) {
            if (i + k >= len) {
                *truncated = true;
                return i;
            }
            uint8_t cc = s[i + k];
            if (cc < (k == 1 ? lo : 0x80) || cc > (k == 1 ? hi : 0xbf))
                return i + k;
        }
        i += n + 1;
    }
    return len;
}

static int utf8_validate(rill_buf_t text, char *errstr, size_t errstr_size)
{
    const uint8_t *s = text.data;
    bool truncated;
    size_t at = utf8_check(s, text.len, &truncated);
    if (at == text.len)
        return 0;
    if (truncated)
        set_err(errstr, errstr_size, "invalid UTF-8 at byte %zu (0x%02x): truncated sequence", at,
                s[at]);
    else
        set_err(errstr, errstr_size, "invalid UTF-8 at byte %zu (0x%02x)", at, s[at]);
    return RILL_ESERDE;
}

/* Validates too, so Rill never writes text that a string deserializer (ours or Kafka's) would
 * reject or mangle. */
static int string_serialize(void *state, rill_buf_t value, rill_bytes_t *out, bool *is_null,
                            char *errstr, size_t errstr_size)
{
    if (!value.data) {
        *is_null = true;
        return 0;
    }
    int rc = utf8_validate(value, errstr, errstr_size);
    return rc ? rc : rill_bytes_append(out, value.data, value.len);
}

/* Zero copy like bytes; the view is not NUL-terminated. */
static int string_deserialize(void *state, rill_buf_t bytes, rill_arena_t *arena, rill_buf_t *value,
                              char *errstr, size_t errstr_size)
{
    if (bytes.data) {
        int rc = utf8_validate(bytes, errstr, errstr_size);
        if (rc)
            return rc;
    }
    *value = bytes;
    return 0;
}

static const rill_serde_ops string_ops = {
    .name = "string", .serialize = string_serialize, .deserialize = string_deserialize};

/* ---- Numbers ----
 *
 * On the wire: big-endian, exactly as Kafka's IntegerSerializer, LongSerializer and
 * DoubleSerializer. As values: a native number in the arena (see rill_arena_i32 and friends).
 */

/* Checks that a native value view holds a number of size bytes. */
static int check_native(const char *name, size_t size, rill_buf_t value, char *errstr,
                        size_t errstr_size)
{
    if (value.len == size)
        return 0;
    set_err(errstr, errstr_size, "%s value must be a native %zu-byte number, got %zu bytes", name,
            size, value.len);
    return RILL_ESERDE;
}

/* Checks the wire length and that there is an arena to decode into. */
static int check_wire(const char *name, size_t size, rill_buf_t bytes, rill_arena_t *arena,
                      char *errstr, size_t errstr_size)
{
    if (bytes.len != size) {
        set_err(errstr, errstr_size, "%s expects %zu bytes, got %zu", name, size, bytes.len);
        return RILL_ESERDE;
    }
    if (!arena) {
        set_err(errstr, errstr_size, "%s deserializer needs an arena", name);
        return RILL_EINVAL;
    }
    return 0;
}

static int arena_result(const char *name, rill_buf_t made, rill_buf_t *value, char *errstr,
                        size_t errstr_size)
{
    if (!made.data) {
        set_err(errstr, errstr_size, "%s deserializer: out of memory", name);
        return RILL_ENOMEM;
    }
    *value = made;
    return 0;
}

static int int32_serialize(void *state, rill_buf_t value, rill_bytes_t *out, bool *is_null,
                           char *errstr, size_t errstr_size)
{
    if (!value.data) {
        *is_null = true;
        return 0;
    }
    int rc = check_native("int32", sizeof(int32_t), value, errstr, errstr_size);
    if (rc)
        return rc;
    uint8_t wire[4];
    rill_encode_i32(wire, rill_value_i32(value));
    return rill_bytes_append(out, wire, sizeof wire);
}

static int int32_deserialize(void *state, rill_buf_t bytes, rill_arena_t *arena, rill_buf_t *value,
                             char *errstr, size_t errstr_size)
{
    if (!bytes.data)
        return 0;
    int rc = check_wire("int32", 4, bytes, arena, errstr, errstr_size);
    if (rc)
        return rc;
    return arena_result("int32", rill_arena_i32(arena, decode_i32(bytes.data)), value, errstr,
                        errstr_size);
}

static const rill_serde_ops int32_ops = {
    .name = "int32", .serialize = int32_serialize, .deserialize = int32_deserialize};

static int int64_serialize(void *state, rill_buf_t value, rill_bytes_t *out, bool *is_null,
                           char *errstr, size_t errstr_size)
{
    if (!value.data) {
        *is_null = true;
        return 0;
    }
    int rc = check_native("int64", sizeof(int64_t), value, errstr, errstr_size);
    if (rc)
        return rc;
    uint8_t wire[8];
    rill_encode_i64(wire, rill_value_i64(value));
    return rill_bytes_append(out, wire, sizeof wire);
}

static int int64_deserialize(void *state, rill_buf_t bytes, rill_arena_t *arena, rill_buf_t *value,
                             char *errstr, size_t errstr_size)
{
    if (!bytes.data)
        return 0;
    int rc = check_wire("int64", 8, bytes, arena, errstr, errstr_size);
    if (rc)
        return rc;
    return arena_result("int64", rill_arena_i64(arena, rill_decode_i64(bytes.data)), value, errstr,
                        errstr_size);
}

static const rill_serde_ops int64_ops = {
    .name = "int64", .serialize = int64_serialize, .deserialize = int64_deserialize};

/* Java's DoubleSerializer writes Double.doubleToLongBits(), which folds every NaN into the
 * canonical 0x7ff8000000000000; we do the same so the bytes match. Other values, -0.0 included,
 * keep their bits. Deserializing keeps the bits as they are (Double.longBitsToDouble). */
static int double_serialize(void *state, rill_buf_t value, rill_bytes_t *out, bool *is_null,
                            char *errstr, size_t errstr_size)
{
    if (!value.data) {
        *is_null = true;
        return 0;
    }
    int rc = check_native("double", sizeof(double), value, errstr, errstr_size);
    if (rc)
        return rc;
    double d = rill_value_double(value);
    uint64_t bits = UINT64_C(0x7ff8000000000000);
    if (!isnan(d))
        memcpy(&bits, &d, sizeof bits);
    uint8_t wire[8];
    rill_encode_i64(wire, (int64_t)bits);
    return rill_bytes_append(out, wire, sizeof wire);
}

static int double_deserialize(void *state, rill_buf_t bytes, rill_arena_t *arena, rill_buf_t *value,
                              char *errstr, size_t errstr_size)
{
    if (!bytes.data)
        return 0;
    int rc = check_wire("double", 8, bytes, arena, errstr, errstr_size);
    if (rc)
        return rc;
    uint64_t bits = (uint64_t)rill_decode_i64(bytes.data);
    double d;
    memcpy(&d, &bits, sizeof d);
    return arena_result("double", rill_arena_double(arena, d), value, errstr, errstr_size);
}

static const rill_serde_ops double_ops = {
    .name = "double", .serialize = double_serialize, .deserialize = double_deserialize};

/* ---- Built-in objects ---- */

static rill_serde_t serde_bytes = {.ops = &bytes_ops, .builtin = true};
static rill_serde_t serde_string = {.ops = &string_ops, .builtin = true};
static rill_serde_t serde_int32 = {.ops = &int32_ops, .builtin = true};
static rill_serde_t serde_int64 = {.ops = &int64_ops, .builtin = true};
static rill_serde_t serde_double = {.ops = &double_ops, .builtin = true};
static rill_serde_t serde_json = {.ops = &rill__serde_json_ops, .builtin = true};

rill_serde_t *rill_serde_bytes(void)
{
    return &serde_bytes;
}

rill_serde_t *rill_serde_string(void)
{
    return &serde_string;
}

rill_serde_t *rill_serde_int32(void)
{
    return &serde_int32;
}

rill_serde_t *rill_serde_int64(void)
{
    return &serde_int64;
}

rill_serde_t *rill_serde_double(void)
{
    return &serde_double;
}

rill_serde_t *rill_serde_json(void)
{
    return &serde_json;
}

rill_serde_t *rill_serde_by_name(const char *name)
{
    static rill_serde_t *const builtins[] = {&serde_bytes, &serde_string, &serde_int32,
                                             &serde_int64, &serde_double, &serde_json};
    if (!name)
        return NULL;
    for (size_t i = 0; i < sizeof builtins / sizeof *builtins; i++)
        if (strcmp(builtins[i]->ops->name, name) == 0)
            return builtins[i];
    return NULL;
}
