/*
 * json_simd.cc: the JSON parser, over simdjson's On-Demand API; the one file in Rill that
 * includes simdjson. It exports the plain C functions of json_int.h and catches every exception
 * at that boundary (simdjson's error-code API throws none, but the standard library may).
 *
 * Why simdjson: on 1M Nexmark bids, jansson as Rill used it (parse into a tree, rebuild, dump)
 * cost 6.5 us a bid; simdjson's On-Demand parse with a direct writer 0.24 us, with byte-identical
 * output. On-Demand builds no tree: stage 1 finds every structural character of the text with
 * SIMD instructions (and checks UTF-8), then this file walks the values once, validating each
 * (numbers parsed, strings' escapes checked, literals spelled right) and recording, for an
 * object, each member's key, the span of its value's text, its number or string. Readers then
 * look members up in that table; the text itself is what the serializer copies out.
 *
 * One parser per thread (thread_local): it keeps its buffers across documents, so a thread
 * allocates only when a document larger than any before arrives. A walk never starts another,
 * so the one parser is never in use twice.
 */
#include "json_int.h"

#include <simdjson.h>

#include <cstring>
#include <new>

using namespace simdjson;

static_assert(RILL__JSON_PADDING >= SIMDJSON_PADDING, "the text must be padded for simdjson");

namespace
{

thread_local ondemand::parser tl_parser;

bool is_ws(char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

const char *skip_ws(const char *p)
{
    while (is_ws(*p))
        p++;
    return p;
}

/* Length of a scalar's token without the whitespace that follows it. */
size_t trimmed(std::string_view tok)
{
    size_t n = tok.size();
    while (n && is_ws(tok[n - 1]))
        n--;
    return n;
}

/* The closing quote of the string whose opening quote is at p (stage 1 found it closed). */
const char *string_end(const char *p, bool *escaped)
{
    *escaped = false;
    for (p++;; p++) {
        if (*p == '"')
            return p;
        if (*p == '\\') {
            *escaped = true;
            p++;
        }
    }
}

struct walker {
    rill_json_t *doc;
    bool nomem = false;
};

/* Copies s into the arena (strings and keys with escapes, which simdjson unescapes into its
 * own buffer, reused by the next string). */
const char *keep(walker &w, std::string_view s)
{
    char *p = static_cast<char *>(rill_arena_alloc(w.doc->arena, s.size() + 1));
    if (!p) {
        w.nomem = true;
        return nullptr;
    }
    memcpy(p, s.data(), s.size());
    p[s.size()] = 0;
    return p;
}

rill__json_field_t *add_field(walker &w)
{
    rill_json_t *doc = w.doc;
    if (doc->nfields == doc->cap) {
        uint32_t cap = doc->cap ? 2 * doc->cap : 16;
        auto *fields = static_cast<rill__json_field_t *>(
            rill_arena_alloc(doc->arena, cap * sizeof(rill__json_field_t)));
        if (!fields) {
            w.nomem = true;
            return nullptr;
        }
        if (doc->nfields)
            memcpy(fields, doc->fields, doc->nfields * sizeof *fields);
        doc->fields = fields;
        doc->cap = cap;
    }
    rill__json_field_t *f = &doc->fields[doc->nfields++];
    memset(f, 0, sizeof *f);
    return f;
}

std::string_view token(ondemand::value &v)
{
    return v.raw_json_token();
}

std::string_view token(ondemand::document &d)
{
    std::string_view tok;
    return d.raw_json_token().get(tok) ? std::string_view() : tok;
}

/*
 * Validates value v; *end gets the end of its text, *canon whether it is written as the writer
 * would (compact, strings without escapes). With f, also records its type, text, number and
 * string; with members (the top-level object), each member into w.doc->fields.
 */
template <typename V>
error_code walk(walker &w, V &v, const char **end, bool *canon, rill__json_field_t *f,
                bool members);

template <typename V>
error_code walk_object(walker &w, V &v, const char *start, const char **end, bool *canon,
                       bool members)
{
    ondemand::object obj;
    error_code e = v.get_object().get(obj);
    if (e)
        return e;
    const char *expect = start + 1, *last = start + 1;
    bool any = false;
    for (auto item : obj) {
        ondemand::field fld;
        if ((e = std::move(item).get(fld)))
            return e;
        const char *kq = fld.key().raw() - 1;
        bool esc;
        const char *kend = string_end(kq, &esc);
        *canon = *canon && !esc && kq == expect;
        rill__json_field_t *f = nullptr;
        if (members) {
            if (!(f = add_field(w)))
                return MEMALLOC;
            f->key = kq + 1;
            f->key_len = (uint32_t)(kend - kq - 1);
        }
        if (esc) {
            std::string_view uk;
            if ((e = fld.unescaped_key().get(uk)))
                return e;
            if (f && (f->key_len = (uint32_t)uk.size(), !(f->key = keep(w, uk))))
                return MEMALLOC;
        }
        ondemand::value child = fld.value();
        const char *vstart = token(child).data();
        const char *vend;
        bool vcanon = true;
        if ((e = walk(w, child, &vend, &vcanon, f, false)))
            return e;
        if (f)
            f->canon = vcanon && !esc;
        *canon = *canon && vcanon && kend[1] == ':' && vstart == kend + 2;
        expect = vend + 1;
        last = vend;
        any = true;
    }
    const char *close = skip_ws(last);
    *canon = *canon && close == last && (any || start[1] == '}');
    *end = close + 1;
    return SUCCESS;
}

template <typename V>
error_code walk_array(walker &w, V &v, const char *start, const char **end, bool *canon)
{
    ondemand::array arr;
    error_code e = v.get_array().get(arr);
    if (e)
        return e;
    const char *expect = start + 1, *last = start + 1;
    for (auto item : arr) {
        ondemand::value el;
        if ((e = std::move(item).get(el)))
            return e;
        const char *vstart = token(el).data();
        const char *vend;
        if ((e = walk(w, el, &vend, canon, nullptr, false)))
            return e;
        *canon = *canon && vstart == expect;
        expect = vend + 1;
        last = vend;
    }
    const char *close = skip_ws(last);
    *canon = *canon && close == last;
    *end = close + 1;
    return SUCCESS;
}

template <typename V>
error_code walk(walker &w, V &v, const char **end, bool *canon, rill__json_field_t *f, bool members)
{
    ondemand::json_type t;
    error_code e = v.type().get(t);
    if (e)
        return e;
    std::string_view tok = token(v);
    const char *start = tok.data();
    if (!start)
        return TAPE_ERROR;
    rill__json_field_t scratch;
    if (!f)
        f = &scratch;
    f->val = start;
    switch (t) {
    case ondemand::json_type::object:
        f->type = RILL_JSON_OBJECT;
        e = walk_object(w, v, start, end, canon, members);
        break;
    case ondemand::json_type::array:
        f->type = RILL_JSON_ARRAY;
        e = walk_array(w, v, start, end, canon);
        break;
    case ondemand::json_type::number: {
        ondemand::number n;
        if ((e = v.get_number().get(n)))
            return e;
        switch (n.get_number_type()) {
        case ondemand::number_type::signed_integer:
            f->type = RILL_JSON_INTEGER;
            f->num.i = n.get_int64();
            break;
        case ondemand::number_type::unsigned_integer:
            f->type = RILL_JSON_REAL;
            f->unsigned_ = true;
            f->num.d = (double)n.get_uint64();
            break;
        default:
            f->type = RILL_JSON_REAL;
            f->num.d = n.get_double();
            break;
        }
        *end = start + trimmed(tok);
        break;
    }
    case ondemand::json_type::string: {
        bool esc;
        const char *q = string_end(start, &esc);
        f->type = RILL_JSON_STRING;
        if (esc) {
            std::string_view s;
            if ((e = v.get_string().get(s)))
                return e;
            f->str_len = (uint32_t)s.size();
            if (!(f->str = f->cstr = keep(w, s)))
                return MEMALLOC;
            *canon = false;
        } else {
            f->str = start + 1;
            f->str_len = (uint32_t)(q - start - 1);
        }
        *end = q + 1;
        break;
    }
    case ondemand::json_type::boolean: {
        bool b;
        if ((e = v.get_bool().get(b)))
            return e;
        f->type = b ? RILL_JSON_TRUE : RILL_JSON_FALSE;
        *end = start + trimmed(tok);
        break;
    }
    case ondemand::json_type::null: {
        bool null;
        if ((e = v.is_null().get(null)))
            return e;
        if (!null)
            return N_ATOM_ERROR;
        f->type = RILL_JSON_NULL;
        *end = start + trimmed(tok);
        break;
    }
    }
    if (e)
        return e;
    f->val_len = (uint32_t)(*end - start);
    return SUCCESS;
}

int index_text(rill_json_t *doc, size_t *err_offset, const char **reason)
{
    walker w{doc};
    ondemand::document d;
    error_code e = tl_parser.iterate(doc->text, doc->len, doc->len + RILL__JSON_PADDING).get(d);
    bool iterated = !e;
    const char *end = doc->text;
    bool canon = true;
    doc->nfields = 0;
    if (!e)
        e = walk(w, d, &end, &canon, &doc->self, true);
    /* 3.0's document has no at_end(): what follows the value must be whitespace only. */
    if (!e && skip_ws(end) != doc->text + doc->len)
        e = TRAILING_CONTENT;
    if (w.nomem || e == MEMALLOC)
        return RILL_ENOMEM;
    if (e) {
        const char *at = nullptr;
        *err_offset =
            !iterated || d.current_location().get(at) || !at ? doc->len : (size_t)(at - doc->text);
        *reason = error_message(e);
        return RILL_ESERDE;
    }
    doc->type = doc->self.type;
    doc->canon = canon && doc->self.val == doc->text && end == doc->text + doc->len;
    doc->indexed = true;
    return 0;
}

template <typename V> void rewrite(rill_json_writer_t *w, V &v);

template <typename V> void rewrite(rill_json_writer_t *w, V &v)
{
    ondemand::json_type t;
    if (v.type().get(t)) {
        w->err = RILL_ESERDE;
        return;
    }
    switch (t) {
    case ondemand::json_type::object: {
        ondemand::object obj;
        if (v.get_object().get(obj)) {
            w->err = RILL_ESERDE;
            return;
        }
        rill__json_put(w, "{", 1);
        bool first = true;
        for (auto item : obj) {
            ondemand::field fld;
            std::string_view key;
            if (std::move(item).get(fld) || fld.unescaped_key().get(key)) {
                w->err = RILL_ESERDE;
                return;
            }
            if (!first)
                rill__json_put(w, ",", 1);
            first = false;
            rill__json_put_str(w, key.data(), key.size());
            rill__json_put(w, ":", 1);
            ondemand::value child = fld.value();
            rewrite(w, child);
        }
        rill__json_put(w, "}", 1);
        return;
    }
    case ondemand::json_type::array: {
        ondemand::array arr;
        if (v.get_array().get(arr)) {
            w->err = RILL_ESERDE;
            return;
        }
        rill__json_put(w, "[", 1);
        bool first = true;
        for (auto item : arr) {
            ondemand::value el;
            if (std::move(item).get(el)) {
                w->err = RILL_ESERDE;
                return;
            }
            if (!first)
                rill__json_put(w, ",", 1);
            first = false;
            rewrite(w, el);
        }
        rill__json_put(w, "]", 1);
        return;
    }
    case ondemand::json_type::string: {
        std::string_view s;
        if (v.get_string().get(s)) {
            w->err = RILL_ESERDE;
            return;
        }
        rill__json_put_str(w, s.data(), s.size());
        return;
    }
    default: { /* numbers as written, literals */
        std::string_view tok = token(v);
        rill__json_put(w, tok.data(), trimmed(tok));
        return;
    }
    }
}

} // namespace

extern "C" int rill__json_index(rill_json_t *doc, size_t *err_offset, const char **reason)
{
    try {
        return index_text(doc, err_offset, reason);
    } catch (const std::bad_alloc &) {
        return RILL_ENOMEM;
    } catch (...) {
        *err_offset = 0;
        *reason = "unexpected exception in the JSON parser";
        return RILL_ESERDE;
    }
}

extern "C" void rill__json_rewrite(rill_json_writer_t *w, const char *text, size_t len)
{
    try {
        ondemand::document d;
        if (tl_parser.iterate(text, len, len + RILL__JSON_PADDING).get(d)) {
            w->err = RILL_ESERDE;
            return;
        }
        rewrite(w, d);
    } catch (const std::bad_alloc &) {
        w->err = RILL_ENOMEM;
    } catch (...) {
        w->err = RILL_ESERDE;
    }
}
