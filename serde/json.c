/*
 * The json serde and the rill_json_* values: reads, edits, the writer; the one file in Rill that
 * includes jansson, which is left two jobs: rill_json_pack() (its format language, for values
 * made by hand, off the hot path) and the words of a parse error (below). Parsing itself is
 * serde/json_simd.cc's, over simdjson.
 *
 * A JSON value is a view whose data is a rill_json_t * and whose len is JSON_VALUE_LEN (1). The
 * length is never a byte count: it only marks the view as non-null, and 1 was chosen over
 * sizeof(void *) so a JSON value can never be mistaken for a native int64 or double (both 8
 * bytes) by rill_value_i64() and friends. Everything a value needs is in its arena (the value,
 * its text, its index, copies made by readers), so a reset frees it all with no per-value
 * release, and a warm arena means no allocation per record.
 *
 * Serializing a value whose text is compact and canonical (what the writer, an edit's new
 * member and rill_json_pack() make, and most inputs) copies the text. Any other value is
 * written again: whitespace dropped, strings re-escaped, numbers kept as written (so 1.50 stays
 * 1.50, where jansson printed 1.5), members in their order. Nothing here has mutable state of its
 * own, so the serde is thread-safe; jansson allocates with its own allocator.
 */
#include "json_int.h"

#include <jansson.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define JSON_VALUE_LEN 1

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

static rill_buf_t as_view(rill_json_t *doc)
{
    return doc ? (rill_buf_t){doc, JSON_VALUE_LEN} : (rill_buf_t){NULL, 0};
}

/* len bytes of text, then RILL__JSON_PADDING zero bytes (initialised: simdjson reads them). */
static char *alloc_padded(rill_arena_t *arena, size_t len)
{
    char *p = rill_arena_alloc(arena, len + RILL__JSON_PADDING);
    if (p)
        memset(p + len, 0, RILL__JSON_PADDING);
    return p;
}

/* A value over text (padded, in arena), not indexed yet. */
static rill_json_t *new_value(rill_arena_t *arena, const char *text, size_t len, bool canon)
{
    rill_json_t *doc = rill_arena_alloc(arena, sizeof *doc);
    if (!doc)
        return NULL;
    memset(doc, 0, sizeof *doc);
    doc->text = text;
    doc->len = len;
    doc->arena = arena;
    doc->canon = canon;
    return doc;
}

/* ---- Parsing ---- */

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

/*
 * The words for a parse error. simdjson says where it stopped and a generic reason
 * ("TAPE_ERROR"); jansson names the token, line and column, and the errors of Rill's earlier
 * jansson parser are what users and tests know. A bad record is rare, so it is parsed again with
 * jansson for its message, and simdjson's offset is the fallback if jansson accepts the text
 * (the two disagree on little: simdjson rejects integers beyond 2^64, jansson beyond 2^63).
 */
static void describe_error(const void *text, size_t len, size_t offset, const char *reason,
                           char *errstr, size_t errstr_size)
{
    json_error_t err;
    json_t *doc = json_loadb(text, len, JSON_DECODE_ANY, &err);
    if (!doc) {
        set_err(errstr, errstr_size, "invalid JSON at byte %zu (line %d, column %d): %s",
                error_offset(&err), err.line, err.column, err.text);
        return;
    }
    json_decref(doc);
    int line = 1, column = 0;
    for (size_t i = 0; i < offset && i < len; i++, column++)
        if (((const char *)text)[i] == '\n')
            line++, column = -1;
    set_err(errstr, errstr_size, "invalid JSON at byte %zu (line %d, column %d): %s", offset, line,
            column + 1, reason);
}

int rill_json_parse(rill_arena_t *arena, const void *text, size_t len, rill_buf_t *out,
                    char *errstr, size_t errstr_size)
{
    if (!arena || !out || (!text && len)) {
        set_err(errstr, errstr_size, "rill_json_parse: %s is NULL", !arena ? "arena" : "out");
        return RILL_EINVAL;
    }
    *out = (rill_buf_t){NULL, 0};
    char *copy = alloc_padded(arena, len);
    rill_json_t *doc = copy ? new_value(arena, copy, len, false) : NULL;
    if (!doc) {
        set_err(errstr, errstr_size, "json deserializer: out of memory");
        return RILL_ENOMEM;
    }
    if (len)
        memcpy(copy, text, len);
    size_t offset = 0;
    const char *reason = "";
    int rc = rill__json_index(doc, &offset, &reason);
    if (rc == RILL_ENOMEM) {
        set_err(errstr, errstr_size, "json deserializer: out of memory");
        return rc;
    }
    if (rc) {
        describe_error(text, len, offset, reason, errstr, errstr_size);
        return rc;
    }
    *out = as_view(doc);
    return 0;
}

/* ---- Reading ---- */

static rill_json_t *index_of(const void *value)
{
    rill_json_t *doc = (rill_json_t *)value;
    if (doc && !doc->indexed) {
        size_t offset;
        const char *reason;
        if (rill__json_index(doc, &offset, &reason) != 0)
            return NULL; /* out of memory: made text is valid */
    }
    return doc;
}

/* The member key of doc (the last when there are several), or NULL. */
static rill__json_field_t *member(const void *value, const char *key)
{
    rill_json_t *doc = index_of(value);
    if (!doc || !key || doc->type != RILL_JSON_OBJECT)
        return NULL;
    size_t len = strlen(key);
    for (uint32_t i = doc->nfields; i-- > 0;) {
        rill__json_field_t *f = &doc->fields[i];
        if (f->key_len == len && memcmp(f->key, key, len) == 0)
            return f;
    }
    return NULL;
}

int rill_json_type(const void *value)
{
    rill_json_t *doc = index_of(value);
    return doc ? doc->type : RILL_EINVAL;
}

rill_buf_t rill_json_text(const void *value)
{
    const rill_json_t *doc = value;
    return doc ? (rill_buf_t){doc->text, doc->len} : (rill_buf_t){NULL, 0};
}

const char *rill_json_get_string(const void *doc, const char *key)
{
    rill__json_field_t *f = member(doc, key);
    if (!f || f->type != RILL_JSON_STRING)
        return NULL;
    if (!f->cstr) {
        char *p = rill_arena_alloc(((const rill_json_t *)doc)->arena, f->str_len + 1);
        if (!p)
            return NULL;
        memcpy(p, f->str, f->str_len);
        p[f->str_len] = 0;
        f->cstr = p;
    }
    return f->cstr;
}

int rill_json_get_str(const void *doc, const char *key, rill_buf_t *out)
{
    if (!key || !out)
        return RILL_EINVAL;
    rill__json_field_t *f = member(doc, key);
    if (!f || f->type != RILL_JSON_STRING)
        return RILL_ENOENT;
    *out = (rill_buf_t){f->str, f->str_len};
    return 0;
}

/* A real is accepted when it holds an integer that fits in int64 (3.0 but not 3.5), since many
 * JSON writers do not distinguish the two. */
int rill_json_get_int(const void *doc, const char *key, int64_t *out)
{
    if (!key || !out)
        return RILL_EINVAL;
    rill__json_field_t *f = member(doc, key);
    if (f && f->type == RILL_JSON_INTEGER) {
        *out = f->num.i;
        return 0;
    }
    if (f && f->type == RILL_JSON_REAL) {
        double d = f->num.d;
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
    rill__json_field_t *f = member(doc, key);
    if (!f || (f->type != RILL_JSON_INTEGER && f->type != RILL_JSON_REAL))
        return RILL_ENOENT;
    *out = f->type == RILL_JSON_INTEGER ? (double)f->num.i : f->num.d;
    return 0;
}

int rill_json_get_bool(const void *doc, const char *key, bool *out)
{
    if (!key || !out)
        return RILL_EINVAL;
    rill__json_field_t *f = member(doc, key);
    if (!f || (f->type != RILL_JSON_TRUE && f->type != RILL_JSON_FALSE))
        return RILL_ENOENT;
    *out = f->type == RILL_JSON_TRUE;
    return 0;
}

/* A member as a value of its own: a scalar is indexed already (its field is its index); an
 * object or array is indexed when first read. */
int rill_json_get(const void *value, const char *key, rill_buf_t *out)
{
    if (!key || !out)
        return RILL_EINVAL;
    rill__json_field_t *f = member(value, key);
    if (!f)
        return RILL_ENOENT;
    const rill_json_t *parent = value;
    rill_json_t *doc = new_value(parent->arena, f->val, f->val_len, f->canon);
    if (!doc)
        return RILL_ENOMEM;
    if (f->type != RILL_JSON_OBJECT && f->type != RILL_JSON_ARRAY) {
        doc->self = *f;
        doc->type = f->type;
        doc->indexed = true;
    }
    *out = as_view(doc);
    return 0;
}

size_t rill_json_member_count(const void *doc)
{
    rill_json_t *d = index_of(doc);
    return d && d->type == RILL_JSON_OBJECT ? d->nfields : 0;
}

int rill_json_member_at(const void *doc, size_t i, rill_buf_t *key, rill_buf_t *value)
{
    rill_json_t *d = index_of(doc);
    if (!key || !value)
        return RILL_EINVAL;
    if (!d || d->type != RILL_JSON_OBJECT || i >= d->nfields)
        return RILL_ENOENT;
    rill__json_field_t *f = &d->fields[i];
    rill_json_t *v = new_value(d->arena, f->val, f->val_len, f->canon);
    if (!v)
        return RILL_ENOMEM;
    if (f->type != RILL_JSON_OBJECT && f->type != RILL_JSON_ARRAY) {
        v->self = *f;
        v->type = f->type;
        v->indexed = true;
    }
    *key = (rill_buf_t){f->key, f->key_len};
    *value = as_view(v);
    return 0;
}

/* ---- The writer ---- */

void rill_json_writer_init(rill_json_writer_t *w, rill_arena_t *arena)
{
    memset(w, 0, sizeof *w);
    w->arena = arena;
    if (!arena)
        w->err = RILL_EINVAL;
}

/* The buffer always keeps RILL__JSON_PADDING bytes spare, so the text is padded when done. */
void rill__json_put(rill_json_writer_t *w, const void *data, size_t n)
{
    if (w->err)
        return;
    if (w->cap - w->len < n + RILL__JSON_PADDING) {
        size_t cap = w->cap ? 2 * w->cap : 256;
        while (cap - w->len < n + RILL__JSON_PADDING)
            cap *= 2;
        char *buf = rill_arena_alloc(w->arena, cap);
        if (!buf) {
            w->err = RILL_ENOMEM;
            return;
        }
        if (w->len)
            memcpy(buf, w->buf, w->len);
        w->buf = buf;
        w->cap = cap;
    }
    memcpy(w->buf + w->len, data, n);
    w->len += n;
}

static bool needs_escape(unsigned char c)
{
    return c == '"' || c == '\\' || c < 0x20;
}

bool rill__json_plain(const char *s, size_t len)
{
    for (size_t i = 0; i < len; i++)
        if (needs_escape((unsigned char)s[i]))
            return false;
    return true;
}

/* Escapes as jansson did (so outputs stay what they were): '"', '\\', the five short control
 * escapes, other control characters as \u00XX; '/' and non-ASCII UTF-8 as they are. */
void rill__json_put_str(rill_json_writer_t *w, const char *s, size_t len)
{
    rill__json_put(w, "\"", 1);
    size_t run = 0;
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        if (!needs_escape(c))
            continue;
        rill__json_put(w, s + run, i - run);
        run = i + 1;
        char esc[7] = {'\\', (char)c, 0};
        size_t n = 2;
        switch (c) {
        case '"':
        case '\\':
            break;
        case '\b':
            esc[1] = 'b';
            break;
        case '\f':
            esc[1] = 'f';
            break;
        case '\n':
            esc[1] = 'n';
            break;
        case '\r':
            esc[1] = 'r';
            break;
        case '\t':
            esc[1] = 't';
            break;
        default:
            n = (size_t)snprintf(esc, sizeof esc, "\\u%04x", c);
        }
        rill__json_put(w, esc, n);
    }
    rill__json_put(w, s + run, len - run);
    rill__json_put(w, "\"", 1);
}

/* Before a value or a key: the comma that separates it from the previous one. */
static void separate(rill_json_writer_t *w)
{
    if (w->comma)
        rill__json_put(w, ",", 1);
    w->comma = true;
}

/* The writer keeps which containers are open as bits of w->objects (1: an object), so it
 * nests 64 deep. */
static void open_container(rill_json_writer_t *w, bool object)
{
    if (w->depth == 64) {
        w->err = RILL_EINVAL;
        return;
    }
    separate(w);
    rill__json_put(w, object ? "{" : "[", 1);
    w->objects = w->objects << 1 | object;
    w->depth++;
    w->comma = false;
}

void rill_json_write_object(rill_json_writer_t *w)
{
    open_container(w, true);
}

void rill_json_write_array(rill_json_writer_t *w)
{
    open_container(w, false);
}

void rill_json_write_end(rill_json_writer_t *w)
{
    if (w->depth == 0) {
        w->err = RILL_EINVAL;
        return;
    }
    rill__json_put(w, w->objects & 1 ? "}" : "]", 1);
    w->objects >>= 1;
    w->depth--;
    w->comma = true;
}

void rill_json_write_key(rill_json_writer_t *w, const char *key)
{
    if (!key) {
        w->err = RILL_EINVAL;
        return;
    }
    separate(w);
    rill__json_put_str(w, key, strlen(key));
    rill__json_put(w, ":", 1);
    w->comma = false;
}

/* Decimal digits of v into the end of buf; returns where they start. */
static char *int_digits(int64_t v, char *end)
{
    uint64_t u = v < 0 ? (uint64_t)0 - (uint64_t)v : (uint64_t)v;
    char *p = end;
    do
        *--p = (char)('0' + u % 10);
    while (u /= 10);
    if (v < 0)
        *--p = '-';
    return p;
}

void rill_json_write_int(rill_json_writer_t *w, int64_t v)
{
    char buf[24];
    char *p = int_digits(v, buf + sizeof buf);
    separate(w);
    rill__json_put(w, p, (size_t)(buf + sizeof buf - p));
}

void rill_json_write_double(rill_json_writer_t *w, double v)
{
    if (!isfinite(v)) {
        w->err = RILL_EINVAL;
        return;
    }
    char buf[40];
    int n = 0;
    for (int prec = 15; prec <= 17; prec++) {
        n = snprintf(buf, sizeof buf, "%.*g", prec, v);
        if (strtod(buf, NULL) == v)
            break;
    }
    /* A real stays a real when read back: 2.0, not 2. */
    if (!strpbrk(buf, ".eE"))
        n += snprintf(buf + n, sizeof buf - (size_t)n, ".0");
    separate(w);
    rill__json_put(w, buf, (size_t)n);
}

void rill_json_write_str(rill_json_writer_t *w, const char *s, size_t len)
{
    if (!s && len) {
        w->err = RILL_EINVAL;
        return;
    }
    separate(w);
    rill__json_put_str(w, s ? s : "", len);
}

void rill_json_write_bool(rill_json_writer_t *w, bool v)
{
    separate(w);
    rill__json_put(w, v ? "true" : "false", v ? 4 : 5);
}

void rill_json_write_null(rill_json_writer_t *w)
{
    separate(w);
    rill__json_put(w, "null", 4);
}

/* Writes value compact: its text when that is canonical, else written again. */
static void put_value(rill_json_writer_t *w, const rill_json_t *doc)
{
    if (!doc->edited) {
        if (doc->canon)
            rill__json_put(w, doc->text, doc->len);
        else
            rill__json_rewrite(w, doc->text, doc->len);
        return;
    }
    rill__json_put(w, "{", 1);
    for (uint32_t i = 0; i < doc->nfields; i++) {
        const rill__json_field_t *f = &doc->fields[i];
        if (i)
            rill__json_put(w, ",", 1);
        rill__json_put_str(w, f->key, f->key_len);
        rill__json_put(w, ":", 1);
        if (f->canon)
            rill__json_put(w, f->val, f->val_len);
        else
            rill__json_rewrite(w, f->val, f->val_len);
    }
    rill__json_put(w, "}", 1);
}

void rill_json_write_value(rill_json_writer_t *w, rill_buf_t value)
{
    if (!value.data || value.len != JSON_VALUE_LEN) {
        w->err = RILL_EINVAL;
        return;
    }
    separate(w);
    put_value(w, value.data);
}

rill_buf_t rill_json_writer_finish(rill_json_writer_t *w)
{
    if (w->err || w->depth || !w->len)
        return (rill_buf_t){NULL, 0};
    memset(w->buf + w->len, 0, RILL__JSON_PADDING); /* room kept by rill__json_put */
    return as_view(new_value(w->arena, w->buf, w->len, true));
}

/* ---- Edits ---- */

/*
 * A copy of doc (an indexed object) whose member key gets the value in *f (key set here): the
 * new value shares doc's text and strings, and has a table of its own, one member longer.
 */
static rill_buf_t with_member(rill_arena_t *arena, const void *value, const char *key,
                              rill__json_field_t *f)
{
    rill_json_t *doc = index_of(value);
    if (!arena || !doc || !key || doc->type != RILL_JSON_OBJECT)
        return (rill_buf_t){NULL, 0};
    rill_json_t *copy = rill_arena_alloc(arena, sizeof *copy);
    rill__json_field_t *fields = rill_arena_alloc(arena, (doc->nfields + 1) * sizeof *fields);
    if (!copy || !fields)
        return (rill_buf_t){NULL, 0};
    *copy = *doc;
    if (doc->nfields)
        memcpy(fields, doc->fields, doc->nfields * sizeof *fields);
    copy->fields = fields;
    copy->cap = doc->nfields + 1;
    copy->arena = arena;
    copy->edited = true;
    rill__json_field_t *old = member(copy, key);
    if (old) {
        f->key = old->key;
        f->key_len = old->key_len;
        f->canon = f->canon && old->canon; /* the key's spelling */
        *old = *f;
    } else {
        size_t len = strlen(key);
        char *k = rill_arena_alloc(arena, len);
        if (!k)
            return (rill_buf_t){NULL, 0};
        memcpy(k, key, len);
        f->key = k;
        f->key_len = (uint32_t)len;
        fields[copy->nfields++] = *f;
    }
    return as_view(copy);
}

rill_buf_t rill_json_set_int(rill_arena_t *arena, const void *doc, const char *key, int64_t v)
{
    char buf[24];
    char *digits = int_digits(v, buf + sizeof buf);
    size_t len = (size_t)(buf + sizeof buf - digits);
    char *text = arena ? alloc_padded(arena, len) : NULL;
    if (!text)
        return (rill_buf_t){NULL, 0};
    memcpy(text, digits, len);
    rill__json_field_t f = {.val = text,
                            .val_len = (uint32_t)len,
                            .type = RILL_JSON_INTEGER,
                            .canon = true,
                            .num.i = v};
    return with_member(arena, doc, key, &f);
}

rill_buf_t rill_json_set_str(rill_arena_t *arena, const void *doc, const char *key, const char *s,
                             size_t len)
{
    rill_json_writer_t w;
    rill_json_writer_init(&w, arena);
    rill_json_write_str(&w, s, len);
    rill_buf_t text = rill_json_writer_finish(&w);
    if (!text.data)
        return text;
    const rill_json_t *t = text.data;
    rill__json_field_t f = {.val = t->text,
                            .val_len = (uint32_t)t->len,
                            .type = RILL_JSON_STRING,
                            .canon = true,
                            .str = t->text + 1,
                            .str_len = (uint32_t)len};
    if (!rill__json_plain(s, len)) {
        char *copy = rill_arena_alloc(arena, len + 1);
        if (!copy)
            return (rill_buf_t){NULL, 0};
        memcpy(copy, s, len);
        copy[len] = 0;
        f.str = f.cstr = copy;
    }
    return with_member(arena, doc, key, &f);
}

rill_buf_t rill_json_set(rill_arena_t *arena, const void *doc, const char *key, rill_buf_t value)
{
    if (!value.data || value.len != JSON_VALUE_LEN || !arena)
        return (rill_buf_t){NULL, 0};
    const rill_json_t *v = value.data;
    if (v->edited) { /* its text is not the value: write it out first */
        rill_json_writer_t w;
        rill_json_writer_init(&w, arena);
        rill_json_write_value(&w, value);
        value = rill_json_writer_finish(&w);
        if (!value.data)
            return value;
        v = value.data;
    }
    if (!(v = index_of(v)))
        return (rill_buf_t){NULL, 0};
    rill__json_field_t f = v->self;
    f.canon = v->canon;
    return with_member(arena, doc, key, &f);
}

/* ---- The serde ---- */

/*
 * Writes the value as compact JSON: a copy of its text when that is canonical (the common
 * case), else written again into its arena, then copied once into out.
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
                "json value must be a rill_json_t * view of length %d (see rill_json_pack), got "
                "length %zu",
                JSON_VALUE_LEN, value.len);
        return RILL_ESERDE;
    }
    const rill_json_t *doc = value.data;
    if (doc->canon && !doc->edited)
        return rill_bytes_append(out, doc->text, doc->len);
    rill_json_writer_t w;
    rill_json_writer_init(&w, doc->arena);
    put_value(&w, doc);
    if (w.err) {
        set_err(errstr, errstr_size, "json serializer: %s",
                w.err == RILL_ENOMEM ? "out of memory" : "cannot write this value");
        return w.err;
    }
    return rill_bytes_append(out, w.buf, w.len);
}

/* Parses any JSON value (not only objects and arrays) into a value owned by arena. */
static int json_deserialize(void *state, rill_buf_t bytes, rill_arena_t *arena, rill_buf_t *value,
                            char *errstr, size_t errstr_size)
{
    if (!bytes.data)
        return 0;
    if (!arena) {
        set_err(errstr, errstr_size, "json deserializer needs an arena");
        return RILL_EINVAL;
    }
    return rill_json_parse(arena, bytes.data, bytes.len, value, errstr, errstr_size);
}

const rill_serde_ops rill__serde_json_ops = {
    .name = "json", .serialize = json_serialize, .deserialize = json_deserialize};

/* ---- Made by hand ---- */

/* jansson builds the value from the format; its compact dump goes into the arena as the text
 * of a new value, and jansson's tree is released at once. */
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
    json_t *tree = json_vpack_ex(&err, 0, fmt, ap);
    va_end(ap);
    if (!tree) {
        rill_log(RILL_LOG_ERROR, "serde", "rill_json_pack(\"%s\"): %s (%s, position %d)", fmt,
                 err.text, err.source, err.position);
        return view;
    }
    size_t flags = JSON_COMPACT | JSON_ENCODE_ANY;
    size_t len = json_dumpb(tree, NULL, 0, flags);
    char *text = len ? alloc_padded(arena, len) : NULL;
    if (text && json_dumpb(tree, text, len, flags) == len)
        view = as_view(new_value(arena, text, len, true));
    json_decref(tree);
    if (!view.data)
        rill_log(RILL_LOG_ERROR, "serde", "rill_json_pack(\"%s\"): out of memory", fmt);
    return view;
}

int rill_json_format(const void *value, char *buf, size_t size)
{
    if (!buf || !size)
        return RILL_EINVAL;
    const rill_json_t *doc = value;
    if (!doc) {
        snprintf(buf, size, "null");
        return 0;
    }
    const char *text = doc->text;
    size_t n = doc->len;
    if (!doc->canon || doc->edited) {
        rill_json_writer_t w;
        rill_json_writer_init(&w, doc->arena);
        put_value(&w, doc);
        if (w.err)
            return w.err;
        text = w.buf;
        n = w.len;
    }
    if (n > size - 1) {
        /* Cut short: mark the cut. */
        memcpy(buf, text, size - 1);
        n = size - 1;
        if (size > 4)
            memcpy(buf + size - 4, "...", 3);
    } else {
        memcpy(buf, text, n);
    }
    buf[n] = 0;
    return 0;
}

char *rill_json_pretty(const void *text, size_t len)
{
    if (!text)
        return NULL;
    json_error_t jerr;
    json_t *doc = json_loadb(text, len, JSON_DECODE_ANY, &jerr);
    if (!doc)
        return NULL;
    char *dumped = json_dumps(doc, JSON_INDENT(2) | JSON_PRESERVE_ORDER | JSON_ENCODE_ANY);
    json_decref(doc);
    /* jansson allocates with its own allocator; the caller frees with rill_free. */
    char *out = dumped ? rill_strdup(dumped) : NULL;
    free(dumped);
    return out;
}
