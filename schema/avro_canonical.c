/*
 * avro_canonical.c — the Parsing Canonical Form of a schema, its CRC-64-AVRO fingerprint, and
 * the normalized form the registry compares.
 *
 * Parsing Canonical Form, as the specification's rules say: [PRIMITIVES] primitives as bare
 * names; [FULLNAMES] full names, no namespace; [STRIP] only type, name, fields, symbols, items,
 * values, size; [ORDER] in that order; [STRINGS] no escapes (names and symbols are validated
 * to [A-Za-z0-9_.] so none is needed); [INTEGERS] plain decimal; [WHITESPACE] none. A named
 * type is written out where it is first met and by its full name after.
 *
 * The normalized form is what Confluent's normalize=true compares (AvroSchemaUtils'
 * toNormalizedString, read for its semantics): the same walk keeping everything that can make
 * two schemas different to a registry: logical types (decimal's scale only when not 0), doc,
 * aliases (full names for named types, sorted), field order when not ascending, field and enum
 * defaults (object keys sorted; integers written as reals where the type is float or double),
 * and every other property, sorted by key. A type defined by a referenced schema is written by
 * its name only. Attributes come in Confluent's order; the text is not promised byte for byte
 * equal to Confluent's (number spelling may differ), only equal for equal schemas.
 */
#include "avro_int.h"

#include <stdlib.h>
#include <string.h>

typedef struct {
    avro_str_t out;
    const avro_node_t **seen;
    size_t seen_count, seen_cap;
    bool normalized;
} writer_t;

static bool seen_before(writer_t *w, const avro_node_t *node)
{
    for (size_t i = 0; i < w->seen_count; i++)
        if (w->seen[i] == node)
            return true;
    if (!rill__avro_grow(&w->seen, &w->seen_cap, w->seen_count, sizeof *w->seen)) {
        w->out.failed = true;
        return true;
    }
    w->seen[w->seen_count++] = node;
    return false;
}

static void put(writer_t *w, const char *s)
{
    rill__avro_str_cstr(&w->out, s);
}

static void put_json(writer_t *w, json_t *v)
{
    char *text = v ? json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY | JSON_SORT_KEYS) : NULL;
    if (!text) {
        w->out.failed = true;
        return;
    }
    put(w, text);
    free(text); /* jansson's allocator */
}

/* Names and symbols need no escapes; only a lax namespace (any text) may. */
static void put_quoted(writer_t *w, const char *s)
{
    if (strpbrk(s, "\"\\\x01\x02\x03\x04\x05\x06\x07\x08\t\n\x0b\x0c\r\x0e\x0f\x10\x11\x12\x13\x14"
                   "\x15\x16\x17\x18\x19\x1a\x1b\x1c\x1d\x1e\x1f")) {
        json_t *str = json_string(s);
        put_json(w, str);
        json_decref(str);
        return;
    }
    put(w, "\"");
    put(w, s);
    put(w, "\"");
}

static int cmp_strings(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* ["a","b"] */
static void put_list(writer_t *w, char *const *strings, size_t count)
{
    put(w, "[");
    for (size_t i = 0; i < count; i++) {
        if (i)
            put(w, ",");
        put_quoted(w, strings[i]);
    }
    put(w, "]");
}

/* ,"aliases":[...] sorted, in the normalized form only. */
static void put_aliases(writer_t *w, char **aliases, size_t count)
{
    if (!w->normalized || !count)
        return;
    char **sorted = rill_malloc(count * sizeof *sorted);
    if (!sorted) {
        w->out.failed = true;
        return;
    }
    memcpy(sorted, aliases, count * sizeof *sorted);
    qsort(sorted, count, sizeof *sorted, cmp_strings);
    put(w, ",\"aliases\":");
    put_list(w, sorted, count);
    rill_free(sorted);
}

static void put_logical(writer_t *w, const avro_node_t *node)
{
    if (!w->normalized || !node->logical)
        return;
    put(w, ",\"logicalType\":");
    put_quoted(w, node->logical);
    if (node->precision)
        rill__avro_str_printf(&w->out, ",\"precision\":%ld", node->precision);
    if (node->scale)
        rill__avro_str_printf(&w->out, ",\"scale\":%ld", node->scale);
}

/* A new reference to default value v as type reads it: integers become reals where the type
 * is float or double (1 and 1.0 are one default of a double), through arrays, maps, records
 * and a union's first branch. NULL when jansson cannot allocate. */
static json_t *typed_default(const avro_node_t *type, json_t *v)
{
    if (type->type == RILL_AVRO_UNION && type->branch_count)
        type = type->branches[0];
    const char *key;
    json_t *item, *out;
    switch (type->type) {
    case RILL_AVRO_FLOAT:
    case RILL_AVRO_DOUBLE:
        return json_is_integer(v) ? json_real((double)json_integer_value(v)) : json_incref(v);
    case RILL_AVRO_ARRAY:
        if (!json_is_array(v) || !(out = json_array()))
            return json_is_array(v) ? NULL : json_incref(v);
        for (size_t i = 0; i < json_array_size(v); i++)
            if (json_array_append_new(out, typed_default(type->items, json_array_get(v, i)))) {
                json_decref(out);
                return NULL;
            }
        return out;
    case RILL_AVRO_MAP:
    case RILL_AVRO_RECORD:
        if (!json_is_object(v) || !(out = json_object()))
            return json_is_object(v) ? NULL : json_incref(v);
        json_object_foreach(v, key, item)
        {
            const avro_node_t *t = type->type == RILL_AVRO_MAP ? type->items : NULL;
            for (size_t i = 0; !t && i < type->field_count; i++)
                if (strcmp(type->fields[i].name, key) == 0)
                    t = type->fields[i].type;
            if (json_object_set_new(out, key, t ? typed_default(t, item) : json_incref(item))) {
                json_decref(out);
                return NULL;
            }
        }
        return out;
    default:
        return json_incref(v);
    }
}

/* The keys a rule reads, by where they appear. */
static const char *const field_keys[] = {"name",  "type",    "doc", "default",
                                         "order", "aliases", NULL};
static const char *const type_keys[] = {"type",    "name",   "namespace", "doc",
                                        "aliases", "fields", "symbols",   "items",
                                        "values",  "size",   NULL};
static const char *const enum_keys[] = {"default", NULL};
static const char *const logical_keys[] = {"logicalType", "precision", "scale", NULL};

static bool in_list(const char *key, const char *const *list)
{
    for (; list && *list; list++)
        if (strcmp(key, *list) == 0)
            return true;
    return false;
}

/* How many properties of obj no rule consumes (keys in neither reserved list). */
static size_t count_props(json_t *obj, const char *const *reserved, const char *const *also)
{
    size_t n = 0;
    const char *key;
    json_t *value;
    json_object_foreach(obj, key, value)
    {
        n += !in_list(key, reserved) && !in_list(key, also);
    }
    return n;
}

/* Writes the properties of obj that no rule consumed (keys in neither reserved list), sorted
 * by key, in the normalized form. */
static void put_props(writer_t *w, json_t *obj, const char *const *reserved,
                      const char *const *also)
{
    if (!w->normalized || !json_is_object(obj))
        return;
    size_t n = 0, count = json_object_size(obj);
    const char **keys = count ? rill_malloc(count * sizeof *keys) : NULL;
    if (count && !keys) {
        w->out.failed = true;
        return;
    }
    const char *key;
    json_t *value;
    json_object_foreach(obj, key, value)
    {
        if (!in_list(key, reserved) && !in_list(key, also))
            keys[n++] = key;
    }
    qsort(keys, n, sizeof *keys, cmp_strings);
    for (size_t i = 0; i < n; i++) {
        put(w, ",");
        json_t *name = json_string(keys[i]);
        put_json(w, name);
        json_decref(name);
        put(w, ":");
        put_json(w, json_object_get(obj, keys[i]));
    }
    rill_free(keys);
}

/* Writes ,"doc":"..." in the normalized form (a named type's only when not empty, as
 * Confluent). */
static void put_doc(writer_t *w, json_t *obj, bool even_empty)
{
    json_t *doc = w->normalized ? json_object_get(obj, "doc") : NULL;
    if (!json_is_string(doc) || (!even_empty && !json_string_length(doc)))
        return;
    put(w, ",\"doc\":");
    put_json(w, doc);
}

static void write_node(writer_t *w, const avro_node_t *node);

static void write_fields(writer_t *w, const avro_node_t *node)
{
    put(w, ",\"fields\":[");
    for (size_t i = 0; i < node->field_count; i++) {
        const avro_field_t *f = &node->fields[i];
        if (i)
            put(w, ",");
        put(w, "{\"name\":");
        put_quoted(w, f->name);
        put(w, ",\"type\":");
        write_node(w, f->type);
        if (w->normalized && f->order) {
            put(w, ",\"order\":");
            put_quoted(w, f->order);
        }
        put_doc(w, f->json, true);
        put_aliases(w, f->aliases, f->alias_count);
        if (w->normalized && f->def) {
            json_t *def = typed_default(f->type, f->def);
            put(w, ",\"default\":");
            put_json(w, def);
            json_decref(def);
        }
        put_props(w, f->json, field_keys, NULL);
        put(w, "}");
    }
    put(w, "]");
}

static void write_node(writer_t *w, const avro_node_t *node)
{
    switch (node->type) {
    case RILL_AVRO_ARRAY:
    case RILL_AVRO_MAP:
        put(w, node->type == RILL_AVRO_ARRAY ? "{\"type\":\"array\",\"items\":"
                                             : "{\"type\":\"map\",\"values\":");
        write_node(w, node->items);
        put_props(w, node->json, type_keys, NULL);
        put(w, "}");
        return;
    case RILL_AVRO_UNION:
        put(w, "[");
        for (size_t i = 0; i < node->branch_count; i++) {
            if (i)
                put(w, ",");
            write_node(w, node->branches[i]);
        }
        put(w, "]");
        return;
    case RILL_AVRO_RECORD:
    case RILL_AVRO_ENUM:
    case RILL_AVRO_FIXED:
        if ((w->normalized && node->external) || seen_before(w, node)) {
            put_quoted(w, node->fullname);
            return;
        }
        put(w, "{\"name\":");
        put_quoted(w, node->fullname);
        put(w, ",\"type\":");
        put_quoted(w, rill_avro_type_name(node->type));
        if (node->type == RILL_AVRO_RECORD) {
            write_fields(w, node);
        } else if (node->type == RILL_AVRO_ENUM) {
            put(w, ",\"symbols\":");
            put_list(w, node->symbols, node->symbol_count);
        } else {
            rill__avro_str_printf(&w->out, ",\"size\":%zu", node->size);
            put_logical(w, node);
        }
        put_doc(w, node->json, false);
        put_aliases(w, node->aliases, node->alias_count);
        if (w->normalized && node->enum_default) {
            put(w, ",\"default\":");
            put_quoted(w, node->enum_default);
        }
        put_props(w, node->json, type_keys,
                  node->type == RILL_AVRO_ENUM ? enum_keys
                  : node->logical              ? logical_keys
                                               : NULL);
        put(w, "}");
        return;
    default: /* primitives */
        if (w->normalized && (node->logical || count_props(node->json, type_keys,
                                                           node->logical ? logical_keys : NULL))) {
            put(w, "{\"type\":");
            put_quoted(w, rill_avro_type_name(node->type));
            put_logical(w, node);
            put_props(w, node->json, type_keys, node->logical ? logical_keys : NULL);
            put(w, "}");
        } else {
            put_quoted(w, rill_avro_type_name(node->type));
        }
        return;
    }
}

char *rill__avro_write_form(const rill_avro_schema_t *schema, bool normalized)
{
    writer_t w = {.normalized = normalized};
    write_node(&w, schema->top);
    rill_free(w.seen);
    if (w.out.failed) {
        rill_free(w.out.s);
        return NULL;
    }
    return w.out.s;
}

/* CRC-64-AVRO, the specification's "Schema Fingerprints" algorithm (a Rabin fingerprint),
 * bit by bit rather than through its 256-entry table: fingerprints are taken once a schema, off
 * any hot path, and this needs no table shared between threads. */
#define CRC64_EMPTY 0xc15d213aa4d7a795ULL

uint64_t rill_avro_crc64(const void *data, size_t len)
{
    const unsigned char *p = data;
    uint64_t fp = CRC64_EMPTY;
    for (size_t i = 0; i < len; i++) {
        fp ^= p[i];
        for (int j = 0; j < 8; j++)
            fp = (fp >> 1) ^ (CRC64_EMPTY & -(fp & 1));
    }
    return fp;
}
