/*
 * CloudEvents 1.0 over Kafka (the spec's Kafka protocol binding), as a serde that wraps the
 * serde of the event's data.
 *
 * Reading takes either mode, as the binding says a receiver tells them apart: a record whose
 * content-type header starts with "application/cloudevents" is structured (the value is the
 * whole event as JSON, its data in "data", or in "data_base64" when it is not JSON); otherwise
 * a record with a ce_specversion header is binary (attributes in ce_<name> headers,
 * content-type is datacontenttype, the value is the data). Anything else, or an event missing a
 * required attribute (id, source, type, specversion 1.0), is refused naming what is wrong, so
 * the deserialization handler (and the dead letter queue) gets it. Writing uses the mode the
 * serde was made with. Everything lives in the record's arena: the JSON is Rill's (lazy views
 * and a writer into the arena), base64 is OpenSSL's.
 */
#include <rill/serde.h>

#include <openssl/evp.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

typedef struct {
    rill_serde_t *inner;
    rill_cloudevents_mode_t mode;
} ce_state_t;

#define CONTENT_TYPE_STRUCTURED "application/cloudevents+json; charset=UTF-8"

static int fail(char *errstr, size_t errstr_size, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static int fail(char *errstr, size_t errstr_size, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    if (errstr && errstr_size)
        vsnprintf(errstr, errstr_size, fmt, ap);
    va_end(ap);
    return RILL_ESERDE;
}

/* A C string of view v in arena. */
static const char *cstr(rill_arena_t *arena, rill_buf_t v)
{
    rill_buf_t c = rill_arena_copy(arena, v.data ? v.data : "", v.len);
    char *s = rill_arena_alloc(arena, v.len + 1);
    if (!s)
        return NULL;
    memcpy(s, c.data, v.len);
    s[v.len] = 0;
    return s;
}

static bool is_required(const char *name)
{
    return strcmp(name, "id") == 0 || strcmp(name, "source") == 0 || strcmp(name, "type") == 0 ||
           strcmp(name, "specversion") == 0;
}

/* Puts attribute name = value into ev: a known one in its field, another among the
 * extensions (ext, of room cap). */
static void set_attribute(rill_cloudevent_t *ev, rill_header_t *ext, size_t cap, const char *name,
                          const char *value, rill_arena_t *arena)
{
    const char **field = strcmp(name, "id") == 0                ? &ev->id
                         : strcmp(name, "source") == 0          ? &ev->source
                         : strcmp(name, "type") == 0            ? &ev->type
                         : strcmp(name, "specversion") == 0     ? &ev->specversion
                         : strcmp(name, "subject") == 0         ? &ev->subject
                         : strcmp(name, "time") == 0            ? &ev->time
                         : strcmp(name, "dataschema") == 0      ? &ev->dataschema
                         : strcmp(name, "datacontenttype") == 0 ? &ev->datacontenttype
                                                                : NULL;
    if (field) {
        *field = value;
    } else if (ev->extension_count < cap) {
        ext[ev->extension_count].name = name;
        ext[ev->extension_count].value = rill_buf_str(value);
        ev->extension_count++;
        (void)arena;
    }
}

/* Checks the required attributes; 0 or RILL_ESERDE naming the first missing one. */
static int validate(const rill_cloudevent_t *ev, const char *mode, char *errstr, size_t errstr_size)
{
    const char *names[] = {"specversion", "id", "source", "type"};
    const char *values[] = {ev->specversion, ev->id, ev->source, ev->type};
    for (int i = 0; i < 4; i++)
        if (!values[i] || !values[i][0])
            return fail(errstr, errstr_size,
                        "not a valid CloudEvent (%s mode): the required attribute '%s' is %s", mode,
                        names[i], values[i] ? "empty" : "missing");
    if (strcmp(ev->specversion, "1.0") != 0)
        return fail(errstr, errstr_size,
                    "CloudEvent (%s mode) of specversion '%s': only 1.0 is supported", mode,
                    ev->specversion);
    return 0;
}

static const rill_header_t *find_header(const rill_headers_t *h, const char *name)
{
    size_t n = rill_headers_count(h);
    for (size_t i = 0; i < n; i++) {
        const rill_header_t *x = rill_headers_at(h, i);
        if (strcasecmp(x->name, name) == 0)
            return x;
    }
    return NULL;
}

/* Decodes the data bytes with the inner serde into ev->data. */
static int decode_data(ce_state_t *st, rill_buf_t bytes, rill_arena_t *arena, rill_cloudevent_t *ev,
                       char *errstr, size_t errstr_size)
{
    char why[300];
    if (rill_serde_deserialize(st->inner, bytes, arena, &ev->data, why, sizeof why))
        return fail(errstr, errstr_size, "CloudEvent '%s' from '%s': its data: %s",
                    ev->id ? ev->id : "", ev->source ? ev->source : "", why);
    return 0;
}

static int read_binary(ce_state_t *st, const rill_headers_t *h, rill_buf_t bytes,
                       rill_arena_t *arena, rill_cloudevent_t *ev, char *errstr, size_t errstr_size)
{
    size_t n = rill_headers_count(h);
    rill_header_t *ext = rill_arena_alloc(arena, (n ? n : 1) * sizeof *ext);
    if (!ext)
        return RILL_ENOMEM;
    ev->extensions = ext;
    for (size_t i = 0; i < n; i++) {
        const rill_header_t *x = rill_headers_at(h, i);
        const char *value = cstr(arena, x->value);
        if (!value)
            return RILL_ENOMEM;
        if (strncmp(x->name, "ce_", 3) == 0)
            set_attribute(ev, ext, n, x->name + 3, value, arena);
        else if (strcasecmp(x->name, "content-type") == 0)
            ev->datacontenttype = value;
    }
    int rc = validate(ev, "binary", errstr, errstr_size);
    return rc ? rc : decode_data(st, bytes, arena, ev, errstr, errstr_size);
}

static int read_structured(ce_state_t *st, rill_buf_t bytes, rill_arena_t *arena,
                           rill_cloudevent_t *ev, char *errstr, size_t errstr_size)
{
    char why[300] = "";
    rill_buf_t doc;
    if (rill_json_parse(arena, bytes.data, bytes.len, &doc, why, sizeof why) ||
        rill_json_type(doc.data) != RILL_JSON_OBJECT)
        return fail(errstr, errstr_size, "CloudEvent (structured mode) is not a JSON object: %s",
                    why[0] ? why : "another JSON value");
    /* The attributes: the known ones by name, then the other members (extensions). */
    static const char *const known[] = {"specversion", "id",   "source",     "type",
                                        "subject",     "time", "dataschema", "datacontenttype"};
    size_t members = rill_json_member_count(doc.data);
    rill_header_t *ext = rill_arena_alloc(arena, (members ? members : 1) * sizeof *ext);
    if (!ext)
        return RILL_ENOMEM;
    ev->extensions = ext;
    for (size_t i = 0; i < sizeof known / sizeof known[0]; i++) {
        rill_buf_t v;
        if (rill_json_get_str(doc.data, known[i], &v) == 0) {
            const char *s = cstr(arena, v);
            if (!s)
                return RILL_ENOMEM;
            set_attribute(ev, ext, members, known[i], s, arena);
        } else if (is_required(known[i]) && rill_json_get(doc.data, known[i], &v) == 0) {
            return fail(errstr, errstr_size,
                        "not a valid CloudEvent (structured mode): '%s' must be a string",
                        known[i]);
        }
    }
    for (size_t i = 0; i < members; i++) {
        rill_buf_t key, v;
        if (rill_json_member_at(doc.data, i, &key, &v))
            return RILL_ENOMEM;
        const char *name = cstr(arena, key);
        if (!name)
            return RILL_ENOMEM;
        bool known_name = strcmp(name, "data") == 0 || strcmp(name, "data_base64") == 0;
        for (size_t k = 0; k < sizeof known / sizeof known[0] && !known_name; k++)
            known_name = strcmp(name, known[k]) == 0;
        if (known_name)
            continue;
        /* An extension: a string's value, or another JSON value's text. */
        rill_buf_t sv;
        const char *value = rill_json_type(v.data) == RILL_JSON_STRING &&
                                    rill_json_get_str(doc.data, name, &sv) == 0
                                ? cstr(arena, sv)
                                : cstr(arena, rill_json_text(v.data));
        if (!value)
            return RILL_ENOMEM;
        set_attribute(ev, ext, members, name, value, arena);
    }
    int rc = validate(ev, "structured", errstr, errstr_size);
    if (rc)
        return rc;
    rill_buf_t data;
    if (rill_json_get(doc.data, "data", &data) == 0) {
        rill_buf_t dt = rill_json_text(data.data);
        return decode_data(st, dt, arena, ev, errstr, errstr_size);
    }
    rill_buf_t b64;
    if (rill_json_get_str(doc.data, "data_base64", &b64) == 0) {
        unsigned char *raw = rill_arena_alloc(arena, b64.len / 4 * 3 + 3);
        if (!raw)
            return RILL_ENOMEM;
        int len = b64.len ? EVP_DecodeBlock(raw, b64.data, (int)b64.len) : 0;
        if (len < 0 || b64.len % 4)
            return fail(errstr, errstr_size, "CloudEvent '%s' from '%s': data_base64 is not base64",
                        ev->id, ev->source);
        /* EVP_DecodeBlock counts the padding's bytes as data. */
        const char *end = (const char *)b64.data + b64.len;
        for (int pad = 0; pad < 2 && b64.len && end[-1 - pad] == '='; pad++)
            len--;
        return decode_data(st, (rill_buf_t){raw, (size_t)len}, arena, ev, errstr, errstr_size);
    }
    ev->data = (rill_buf_t){NULL, 0}; /* an event without data */
    return 0;
}

static int ce_deserialize_ctx(void *state, const rill_serde_ctx_t *ctx, rill_buf_t bytes,
                              rill_arena_t *arena, rill_buf_t *value, char *errstr,
                              size_t errstr_size)
{
    ce_state_t *st = state;
    if (!bytes.data)
        return 0; /* a tombstone is not an event */
    if (!arena)
        return fail(errstr, errstr_size, "the cloudevents deserializer needs an arena");
    rill_cloudevent_t *ev = rill_arena_alloc(arena, sizeof *ev);
    if (!ev)
        return RILL_ENOMEM;
    memset(ev, 0, sizeof *ev);
    const rill_headers_t *h = ctx ? ctx->headers : NULL;
    const rill_header_t *ct = find_header(h, "content-type");
    int rc;
    if (ct && ct->value.len >= 23 &&
        strncasecmp(ct->value.data, "application/cloudevents", 23) == 0)
        rc = read_structured(st, bytes, arena, ev, errstr, errstr_size);
    else if (find_header(h, "ce_specversion"))
        rc = read_binary(st, h, bytes, arena, ev, errstr, errstr_size);
    else if (!ctx)
        rc = read_structured(st, bytes, arena, ev, errstr, errstr_size);
    else
        rc = fail(errstr, errstr_size,
                  "not a CloudEvent: the record has no ce_specversion header (binary mode) and "
                  "its content-type is %s%.*s%s, not application/cloudevents+json (structured "
                  "mode)",
                  ct ? "'" : "", ct ? (int)ct->value.len : 4,
                  ct ? (const char *)ct->value.data : "none", ct ? "'" : "");
    if (rc)
        return rc;
    *value = (rill_buf_t){ev, sizeof *ev};
    return 0;
}

static int ce_deserialize(void *state, rill_buf_t bytes, rill_arena_t *arena, rill_buf_t *value,
                          char *errstr, size_t errstr_size)
{
    return ce_deserialize_ctx(state, NULL, bytes, arena, value, errstr, errstr_size);
}

/* The event a value holds, checked. */
static const rill_cloudevent_t *event_of(rill_buf_t value, char *errstr, size_t errstr_size)
{
    if (value.len != sizeof(rill_cloudevent_t) || !value.data) {
        fail(errstr, errstr_size,
             "the cloudevents serializer takes a view of a rill_cloudevent_t (%zu bytes), got "
             "%zu bytes",
             sizeof(rill_cloudevent_t), value.len);
        return NULL;
    }
    return value.data;
}

static int write_binary(ce_state_t *st, rill_serde_ctx_t *ctx, const rill_cloudevent_t *ev,
                        rill_bytes_t *out, bool *is_null, char *errstr, size_t errstr_size)
{
    if (!ctx || !ctx->arena)
        return fail(errstr, errstr_size,
                    "a binary-mode CloudEvent is written by a sink (its attributes are headers); "
                    "use the structured mode elsewhere");
    size_t have = rill_headers_count(ctx->headers);
    size_t cap = have + 9 + ev->extension_count;
    rill_header_t *h = rill_arena_alloc(ctx->arena, cap * sizeof *h);
    if (!h)
        return RILL_ENOMEM;
    size_t n = 0;
    /* The output keeps its other headers; its ce_ ones and content-type are the event's. */
    for (size_t i = 0; i < have; i++) {
        const rill_header_t *x = rill_headers_at(ctx->headers, i);
        if (strncmp(x->name, "ce_", 3) != 0 && strcasecmp(x->name, "content-type") != 0)
            h[n++] = *x;
    }
    const char *names[] = {"ce_specversion", "ce_id",   "ce_source",     "ce_type",
                           "ce_subject",     "ce_time", "ce_dataschema", "content-type"};
    const char *values[] = {ev->specversion, ev->id,   ev->source,     ev->type,
                            ev->subject,     ev->time, ev->dataschema, ev->datacontenttype};
    for (int i = 0; i < 8; i++)
        if (values[i])
            h[n++] = (rill_header_t){names[i], rill_buf_str(values[i])};
    for (size_t i = 0; i < ev->extension_count; i++) {
        rill_buf_t name = rill_arena_printf(ctx->arena, "ce_%s", ev->extensions[i].name);
        if (!name.data)
            return RILL_ENOMEM;
        h[n++] = (rill_header_t){name.data, ev->extensions[i].value};
    }
    const rill_headers_t *headers = rill_arena_headers(ctx->arena, h, n);
    if (!headers)
        return RILL_ENOMEM;
    char why[300];
    bool null = false;
    if (ev->data.data && rill_serde_serialize(st->inner, ev->data, out, &null, why, sizeof why))
        return fail(errstr, errstr_size, "CloudEvent '%s': its data: %s", ev->id, why);
    /* serialize emptied out; a null data makes an empty value, not a tombstone. */
    (void)is_null;
    ctx->headers = headers;
    return 0;
}

static int write_structured(ce_state_t *st, rill_serde_ctx_t *ctx, const rill_cloudevent_t *ev,
                            rill_bytes_t *out, char *errstr, size_t errstr_size)
{
    rill_arena_t *arena = ctx && ctx->arena ? ctx->arena : NULL;
    rill_arena_t *own = NULL;
    if (!arena && !(arena = own = rill_arena_new(4096)))
        return RILL_ENOMEM;
    rill_json_writer_t w;
    rill_json_writer_init(&w, arena);
    rill_json_write_object(&w);
    const char *names[] = {"specversion", "id",   "source",     "type",
                           "subject",     "time", "dataschema", "datacontenttype"};
    const char *values[] = {ev->specversion, ev->id,   ev->source,     ev->type,
                            ev->subject,     ev->time, ev->dataschema, ev->datacontenttype};
    for (int i = 0; i < 8; i++)
        if (values[i]) {
            rill_json_write_key(&w, names[i]);
            rill_json_write_str(&w, values[i], strlen(values[i]));
        }
    for (size_t i = 0; i < ev->extension_count; i++) {
        rill_json_write_key(&w, ev->extensions[i].name);
        rill_json_write_str(&w, ev->extensions[i].value.data, ev->extensions[i].value.len);
    }
    int rc = 0;
    if (ev->data.data) {
        if (st->inner == rill_serde_json()) {
            rill_json_write_key(&w, "data");
            rill_json_write_value(&w, ev->data);
        } else {
            rill_bytes_t data = {0};
            char why[300];
            bool null = false;
            rc = rill_serde_serialize(st->inner, ev->data, &data, &null, why, sizeof why);
            if (rc) {
                fail(errstr, errstr_size, "CloudEvent '%s': its data: %s", ev->id, why);
            } else {
                char *b64 = rill_arena_alloc(arena, (data.len + 2) / 3 * 4 + 1);
                if (!b64) {
                    rc = RILL_ENOMEM;
                } else {
                    int len = EVP_EncodeBlock((unsigned char *)b64, data.data, (int)data.len);
                    rill_json_write_key(&w, "data_base64");
                    rill_json_write_str(&w, b64, (size_t)len);
                }
            }
            rill_bytes_free(&data);
        }
    }
    rill_json_write_end(&w);
    rill_buf_t doc = rill_json_writer_finish(&w);
    if (!rc && !doc.data)
        rc = fail(errstr, errstr_size, "CloudEvent '%s': cannot write it as JSON", ev->id);
    if (!rc) {
        rill_buf_t text = rill_json_text(doc.data);
        rc = rill_bytes_append(out, text.data, text.len);
    }
    if (!rc && ctx && ctx->arena) {
        /* Its content type says it is structured; the other headers stay. */
        size_t have = rill_headers_count(ctx->headers);
        rill_header_t *h = rill_arena_alloc(ctx->arena, (have + 1) * sizeof *h);
        if (!h) {
            rc = RILL_ENOMEM;
        } else {
            size_t n = 0;
            for (size_t i = 0; i < have; i++) {
                const rill_header_t *x = rill_headers_at(ctx->headers, i);
                if (strcasecmp(x->name, "content-type") != 0 && strncmp(x->name, "ce_", 3) != 0)
                    h[n++] = *x;
            }
            h[n++] = (rill_header_t){"content-type", rill_buf_str(CONTENT_TYPE_STRUCTURED)};
            const rill_headers_t *headers = rill_arena_headers(ctx->arena, h, n);
            if (headers)
                ctx->headers = headers;
            else
                rc = RILL_ENOMEM;
        }
    }
    rill_arena_destroy(own);
    return rc;
}

static int ce_serialize_ctx(void *state, rill_serde_ctx_t *ctx, rill_buf_t value, rill_bytes_t *out,
                            bool *is_null, char *errstr, size_t errstr_size)
{
    ce_state_t *st = state;
    if (!value.data) {
        *is_null = true;
        return 0;
    }
    const rill_cloudevent_t *ev = event_of(value, errstr, errstr_size);
    if (!ev)
        return RILL_ESERDE;
    int rc = validate(ev, st->mode == RILL_CLOUDEVENTS_BINARY ? "binary" : "structured", errstr,
                      errstr_size);
    if (rc)
        return rc;
    return st->mode == RILL_CLOUDEVENTS_BINARY
               ? write_binary(st, ctx, ev, out, is_null, errstr, errstr_size)
               : write_structured(st, ctx, ev, out, errstr, errstr_size);
}

static int ce_serialize(void *state, rill_buf_t value, rill_bytes_t *out, bool *is_null,
                        char *errstr, size_t errstr_size)
{
    return ce_serialize_ctx(state, NULL, value, out, is_null, errstr, errstr_size);
}

static void ce_destroy(void *state)
{
    ce_state_t *st = state;
    rill_serde_unref(st->inner);
    rill_free(st);
}

static const rill_serde_ops ce_ops = {.name = "cloudevents",
                                      .serialize = ce_serialize,
                                      .deserialize = ce_deserialize,
                                      .destroy = ce_destroy};
static const rill_serde_ctx_ops ce_ctx_ops = {.serialize = ce_serialize_ctx,
                                              .deserialize = ce_deserialize_ctx};

rill_serde_t *rill_serde_cloudevents(rill_serde_t *data, rill_cloudevents_mode_t mode)
{
    if (!data || (mode != RILL_CLOUDEVENTS_BINARY && mode != RILL_CLOUDEVENTS_STRUCTURED))
        return NULL;
    ce_state_t *st = rill_malloc(sizeof *st);
    if (!st)
        return NULL;
    st->inner = rill_serde_ref(data);
    st->mode = mode;
    rill_serde_t *serde = rill_serde_new_ctx(&ce_ops, &ce_ctx_ops, st);
    if (!serde)
        ce_destroy(st);
    return serde;
}

const char *rill_cloudevent_extension(const rill_cloudevent_t *ev, const char *name)
{
    for (size_t i = 0; ev && i < ev->extension_count; i++)
        if (strcmp(ev->extensions[i].name, name) == 0)
            return ev->extensions[i].value.data;
    return NULL;
}
