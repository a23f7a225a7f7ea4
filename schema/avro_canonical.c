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
 * The normalized form is the same walk keeping what schema resolution and Confluent's
 * normalization keep: logicalType (with precision and scale), field defaults, enum defaults,
 * aliases (full names for named types, sorted), and a field's order when not ascending. doc
 * and other properties go. A type defined by a referenced schema is written by its name only,
 * as Confluent writes a schema whose references are resolved elsewhere.
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

static void put_quoted(writer_t *w, const char *s)
{
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
        rill__avro_str_printf(&w->out, ",\"precision\":%ld,\"scale\":%ld", node->precision,
                              node->scale);
}

static void put_json(writer_t *w, json_t *v)
{
    /* Sorted keys: two spellings of one record default normalize alike. */
    char *text = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY | JSON_SORT_KEYS);
    if (!text) {
        w->out.failed = true;
        return;
    }
    put(w, text);
    free(text); /* jansson's allocator */
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
        if (w->normalized && f->def) {
            put(w, ",\"default\":");
            put_json(w, f->def);
        }
        put_aliases(w, f->aliases, f->alias_count);
        if (w->normalized && f->order) {
            put(w, ",\"order\":");
            put_quoted(w, f->order);
        }
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
            if (w->normalized && node->enum_default) {
                put(w, ",\"default\":");
                put_quoted(w, node->enum_default);
            }
        } else {
            rill__avro_str_printf(&w->out, ",\"size\":%zu", node->size);
            put_logical(w, node);
        }
        put_aliases(w, node->aliases, node->alias_count);
        put(w, "}");
        return;
    default: /* primitives */
        if (w->normalized && node->logical) {
            put(w, "{\"type\":");
            put_quoted(w, rill_avro_type_name(node->type));
            put_logical(w, node);
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
