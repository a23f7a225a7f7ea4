/*
 * The json serde and the rill_json_* helpers: the one file in Rill that includes jansson.
 *
 * A JSON value is a view whose data is a json_t * and whose len is JSON_VALUE_LEN (1). The length
 * is never a byte count: it only marks the view as non-null, and 1 was chosen over sizeof(void *)
 * so a JSON value can never be mistaken for a native int64 or double (both 8 bytes) by
 * rill_value_i64() and friends. Documents made here belong to the arena they were made in: a
 * deferred json_decref releases them at its reset. Nothing here has mutable state, so the serde is
 * thread-safe; jansson allocates with its own allocator.
 */
#include <rill/serde.h>

#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#define JSON_VALUE_LEN 1

/* Compact like Kafka's JSON converters; ENCODE_ANY mirrors DECODE_ANY so scalars round-trip. */
#define JSON_DUMP_FLAGS (JSON_COMPACT | JSON_ENCODE_ANY)

static void __attribute__((format(printf, 3, 4)))
set_err(char *errstr, size_t errstr_size, const char *fmt, ...)
{
    if (!errstr || !errstr_size)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(errstr, errstr_size, fmt, ap);
    va_end(ap);
}

static void json_release(void *doc)
{
    json_decref(doc);
}

/* Hands doc to arena; on failure doc is released and a null view returned. */
static rill_buf_t arena_adopt(rill_arena_t *arena, json_t *doc)
{
    rill_buf_t view = {NULL, 0};
    if (rill_arena_defer(arena, json_release, doc) != 0) {
        json_decref(doc);
        return view;
    }
    view.data = doc;
    view.len = JSON_VALUE_LEN;
    return view;
}

/*
 * Turns jansson's position into a 0-based byte offset. For most errors jansson has consumed the
 * offending token, so its position is one past the token's last byte; for undecodable UTF-8 it
 * stops before the bad byte, so its position is already that byte's offset.
 */
static size_t error_offset(const json_error_t *err)
{
    if (err->position <= 0)
        return 0;
    if (json_error_code(err) == json_error_invalid_utf8)
        return (size_t)err->position;
    return (size_t)err->position - 1;
}

struct dump_ctx {
    rill_bytes_t *out;
    int rc;
};

static int dump_cb(const char *buffer, size_t size, void *data)
{
    struct dump_ctx *ctx = data;
    ctx->rc = rill_bytes_append(ctx->out, buffer, size);
    return ctx->rc ? -1 : 0;
}

/*
 * Writes the document as compact JSON. jansson streams its output through dump_cb straight into
 * out, one pass and no intermediate string, so a reused out buffer means no allocation of ours.
 */
static int json_serialize(void *state, rill_buf_t value, rill_bytes_t *out, bool *is_null,
                          char *errstr, size_t errstr_size)
{
    if (!value.data) {
        *is_null = true;
        return 0;
    }
    if (value.len != JSON_VALUE_LEN) {
        set_err(errstr, errstr_size,
                "json value must be a json_t * view of length %d (see rill_json_pack), got "
                "length %zu",
                JSON_VALUE_LEN, value.len);
        return RILL_ESERDE;
    }
    struct dump_ctx ctx = {out, 0};
    if (json_dump_callback(value.data, dump_cb, &ctx, JSON_DUMP_FLAGS) != 0) {
        if (ctx.rc) {
            set_err(errstr, errstr_size, "json serializer: out of memory");
            return ctx.rc;
        }
        /* jansson refuses circular documents; nothing else is expected here. */
        set_err(errstr, errstr_size, "json serializer: jansson cannot encode this document");
        return RILL_ESERDE;
    }
    return 0;
}

/* Parses any JSON value (not only objects and arrays) into a document owned by arena. */
static int json_deserialize(void *state, rill_buf_t bytes, rill_arena_t *arena, rill_buf_t *value,
                            char *errstr, size_t errstr_size)
{
    if (!bytes.data)
        return 0;
    if (!arena) {
        set_err(errstr, errstr_size, "json deserializer needs an arena");
        return RILL_EINVAL;
    }
    json_error_t err;
    json_t *doc = json_loadb(bytes.data, bytes.len, JSON_DECODE_ANY, &err);
    if (!doc) {
        if (json_error_code(&err) == json_error_out_of_memory) {
            set_err(errstr, errstr_size, "json deserializer: out of memory");
            return RILL_ENOMEM;
        }
        set_err(errstr, errstr_size, "invalid JSON at byte %zu (line %d, column %d): %s",
                error_offset(&err), err.line, err.column, err.text);
        return RILL_ESERDE;
    }
    rill_buf_t view = arena_adopt(arena, doc);
    if (!view.data) {
        set_err(errstr, errstr_size, "json deserializer: out of memory");
        return RILL_ENOMEM;
    }
    *value = view;
    return 0;
}

const rill_serde_ops rill__serde_json_ops = {"json", json_serialize, json_deserialize, NULL};

const char *rill_json_get_string(const void *doc, const char *key)
{
    if (!doc || !key)
        return NULL;
    return json_string_value(json_object_get(doc, key));
}

/* A real is accepted when it holds an integer that fits in int64 (3.0 but not 3.5), since many
 * JSON writers do not distinguish the two. */
int rill_json_get_int(const void *doc, const char *key, int64_t *out)
{
    if (!key || !out)
        return RILL_EINVAL;
    json_t *member = doc ? json_object_get(doc, key) : NULL;
    if (json_is_integer(member)) {
        *out = json_integer_value(member);
        return 0;
    }
    if (json_is_real(member)) {
        double d = json_real_value(member);
        /* -2^63 <= d < 2^63, then integral: the cast is defined only inside that range. */
        if (d >= -9223372036854775808.0 && d < 9223372036854775808.0 && (double)(int64_t)d == d) {
            *out = (int64_t)d;
            return 0;
        }
    }
    return RILL_ENOENT;
}

int rill_json_get_double(const void *doc, const char *key, double *out)
{
    if (!key || !out)
        return RILL_EINVAL;
    json_t *member = doc ? json_object_get(doc, key) : NULL;
    if (!json_is_number(member))
        return RILL_ENOENT;
    *out = json_number_value(member);
    return 0;
}

rill_buf_t rill_json_pack(rill_arena_t *arena, const char *fmt, ...)
{
    rill_buf_t view = {NULL, 0};
    if (!arena || !fmt) {
        rill_log(RILL_LOG_ERROR, "serde", "rill_json_pack: %s is NULL", arena ? "fmt" : "arena");
        return view;
    }
    json_error_t err;
    va_list ap;
    va_start(ap, fmt);
    json_t *doc = json_vpack_ex(&err, 0, fmt, ap);
    va_end(ap);
    if (!doc) {
        rill_log(RILL_LOG_ERROR, "serde", "rill_json_pack(\"%s\"): %s (%s, position %d)", fmt,
                 err.text, err.source, err.position);
        return view;
    }
    view = arena_adopt(arena, doc);
    if (!view.data)
        rill_log(RILL_LOG_ERROR, "serde", "rill_json_pack(\"%s\"): out of memory", fmt);
    return view;
}

int rill_json_format(const void *doc, char *buf, size_t size)
{
    if (!buf || !size)
        return RILL_EINVAL;
    if (!doc) {
        snprintf(buf, size, "null");
        return 0;
    }
    size_t n = json_dumpb(doc, buf, size - 1, JSON_COMPACT | JSON_ENCODE_ANY);
    if (n == 0)
        return RILL_ESERDE;
    if (n > size - 1) {
        /* Truncated: json_dumpb wrote nothing usable past size - 1; mark the cut. */
        n = size - 1;
        if (size > 4)
            memcpy(buf + size - 4, "...", 3);
    }
    buf[n] = 0;
    return 0;
}
