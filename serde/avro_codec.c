/*
 * The Avro serde's codec objects (rill_avro_codec_t): a schema parsed by avro-c, compiled into
 * the tree of nodes (anode_t, avro_int.h) that the rest of the serde walks, and shared by
 * reference. The one file in Rill that includes avro-c.
 *
 * avro-c parses and checks schemas (names, namespaces, references, recursion); the codec itself
 * (avro_binary.c) is our own rather than avro-c's avro_value_read/avro_value_write because,
 * measured on avro-c 1.11.1, its generic values allocate per string read (a wrapped buffer
 * each), are mutable state that one thread at a time may use (a serde is shared by threads), and
 * copy every string; Avro's binary encoding is small (zig-zag varints, lengths, blocks) and the
 * tests check our codec against avro-c's both ways.
 */
#include "avro_int.h"

#include <avro.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void schema_free(rill_avro_codec_t *schema)
{
    if (!schema)
        return;
    for (size_t i = 0; i < schema->nnodes; i++) {
        anode_t *n = schema->nodes[i];
        rill_free(n->sub);
        rill_free(n->names);
        rill_free(n->name_lens);
        rill_free(n->name_keys);
        if (n->type == RILL_AVRO_RECORD || n->type == RILL_AVRO_ENUM || n->type == RILL_AVRO_FIXED)
            rill_free(n->fullname);
        rill_free(n);
    }
    rill_free(schema->nodes);
    rill_free(schema->srcs);
    rill__avro_resolver_free(schema->aux);
    if (schema->avro)
        avro_schema_decref(schema->avro);
    rill_free(schema->text);
    rill_free(schema);
}

static anode_t *new_node(rill_avro_codec_t *schema, avro_schema_t src, int type)
{
    if (schema->nnodes == schema->cap) {
        size_t cap = schema->cap ? schema->cap * 2 : 16;
        anode_t **nodes = rill_realloc(schema->nodes, cap * sizeof *nodes);
        if (!nodes)
            return NULL;
        schema->nodes = nodes;
        avro_schema_t *srcs = rill_realloc(schema->srcs, cap * sizeof *srcs);
        if (!srcs)
            return NULL;
        schema->srcs = srcs;
        schema->cap = cap;
    }
    anode_t *n = rill_calloc(1, sizeof *n);
    if (!n)
        return NULL;
    n->type = (uint8_t)type;
    n->fullname = (char *)rill_avro_type_name((rill_avro_type_t)type);
    n->null_branch = -1;
    schema->srcs[schema->nnodes] = src;
    schema->nodes[schema->nnodes++] = n;
    return n;
}

static char *full_name(avro_schema_t src)
{
    const char *name = avro_schema_name(src);
    const char *ns = avro_schema_namespace(src);
    if (!name)
        return NULL;
    size_t len = strlen(name) + (ns && *ns ? strlen(ns) + 1 : 0) + 1;
    char *s = rill_malloc(len);
    if (s)
        snprintf(s, len, "%s%s%s", ns && *ns ? ns : "", ns && *ns ? "." : "", name);
    return s;
}

/* A name's first 8 bytes as one number (little-endian, zero padded): a path's segment is
 * matched against a record's field names by length and key, and only the bytes past the eighth
 * are compared one by one (most field names have fewer). */
static uint64_t name_key(const char *s, size_t len)
{
    uint64_t k = 0;
    for (size_t i = 0; i < len && i < 8; i++)
        k |= (uint64_t)(uint8_t)s[i] << (8 * i);
    return k;
}

/* Named types are compiled once: a reference (or a recursion) finds the node already made. */
static anode_t *compile(rill_avro_codec_t *schema, avro_schema_t src, int depth)
{
    if (depth > 1000)
        return NULL;
    while (src && avro_typeof(src) == AVRO_LINK)
        src = avro_schema_link_target(src);
    if (!src)
        return NULL;
    for (size_t i = 0; i < schema->nnodes; i++)
        if (schema->srcs[i] == src &&
            schema->nodes[i]->fullname != rill_avro_type_name(RILL_AVRO_NULL))
            if (is_avro_record(src) || is_avro_enum(src) || is_avro_fixed(src))
                return schema->nodes[i];
    static const struct {
        avro_type_t avro;
        rill_avro_type_t rill;
    } prims[] = {{AVRO_NULL, RILL_AVRO_NULL},     {AVRO_BOOLEAN, RILL_AVRO_BOOLEAN},
                 {AVRO_INT32, RILL_AVRO_INT},     {AVRO_INT64, RILL_AVRO_LONG},
                 {AVRO_FLOAT, RILL_AVRO_FLOAT},   {AVRO_DOUBLE, RILL_AVRO_DOUBLE},
                 {AVRO_BYTES, RILL_AVRO_BYTES},   {AVRO_STRING, RILL_AVRO_STRING},
                 {AVRO_RECORD, RILL_AVRO_RECORD}, {AVRO_ENUM, RILL_AVRO_ENUM},
                 {AVRO_ARRAY, RILL_AVRO_ARRAY},   {AVRO_MAP, RILL_AVRO_MAP},
                 {AVRO_UNION, RILL_AVRO_UNION},   {AVRO_FIXED, RILL_AVRO_FIXED}};
    int type = -1;
    for (size_t i = 0; i < sizeof prims / sizeof prims[0]; i++)
        if (prims[i].avro == avro_typeof(src))
            type = (int)prims[i].rill;
    if (type < 0)
        return NULL;
    anode_t *n = new_node(schema, src, type);
    if (!n)
        return NULL;
    switch (type) {
    case RILL_AVRO_RECORD:
    case RILL_AVRO_ENUM:
    case RILL_AVRO_FIXED:
        if (!(n->fullname = full_name(src)))
            return NULL;
        break;
    default:
        break;
    }
    switch (type) {
    case RILL_AVRO_RECORD:
    case RILL_AVRO_ENUM: {
        bool rec = type == RILL_AVRO_RECORD;
        n->n = rec ? (uint32_t)avro_schema_record_size(src)
                   : (uint32_t)avro_schema_enum_number_of_symbols(src);
        n->names = rill_calloc(n->n + 1, sizeof *n->names);
        n->name_lens = rill_calloc(n->n + 1, sizeof *n->name_lens);
        n->name_keys = rill_calloc(n->n + 1, sizeof *n->name_keys);
        if (rec)
            n->sub = rill_calloc(n->n + 1, sizeof *n->sub);
        if (!n->names || !n->name_lens || !n->name_keys || (rec && !n->sub))
            return NULL;
        for (uint32_t i = 0; i < n->n; i++) {
            n->names[i] = rec ? avro_schema_record_field_name(src, (int)i)
                              : avro_schema_enum_get(src, (int)i);
            if (!n->names[i])
                return NULL;
            n->name_lens[i] = (uint32_t)strlen(n->names[i]);
            n->name_keys[i] = name_key(n->names[i], n->name_lens[i]);
            if (rec &&
                !(n->sub[i] = compile(schema, avro_schema_record_field_get_by_index(src, (int)i),
                                      depth + 1)))
                return NULL;
        }
        break;
    }
    case RILL_AVRO_FIXED:
        n->fixed_size = avro_schema_fixed_size(src);
        break;
    case RILL_AVRO_ARRAY:
    case RILL_AVRO_MAP:
        n->n = 1;
        if (!(n->sub = rill_calloc(1, sizeof *n->sub)))
            return NULL;
        n->sub[0] = compile(schema,
                            type == RILL_AVRO_ARRAY ? avro_schema_array_items(src)
                                                    : avro_schema_map_values(src),
                            depth + 1);
        if (!n->sub[0])
            return NULL;
        n->may_be_empty = n->sub[0]->type == RILL_AVRO_NULL ||
                          (n->sub[0]->type == RILL_AVRO_FIXED && n->sub[0]->fixed_size == 0) ||
                          (n->sub[0]->type == RILL_AVRO_RECORD && n->sub[0]->n == 0);
        break;
    case RILL_AVRO_UNION:
        n->n = (uint32_t)avro_schema_union_size(src);
        if (!(n->sub = rill_calloc(n->n + 1, sizeof *n->sub)))
            return NULL;
        for (uint32_t i = 0; i < n->n; i++) {
            if (!(n->sub[i] = compile(schema, avro_schema_union_branch(src, (int)i), depth + 1)))
                return NULL;
            if (n->sub[i]->type == RILL_AVRO_NULL && n->null_branch < 0)
                n->null_branch = (int)i;
        }
        break;
    default:
        break;
    }
    return n;
}

rill_avro_codec_t *rill_avro_codec_new(const char *json, size_t len, char *errstr,
                                       size_t errstr_size)
{
    if (!json) {
        rill__serde_err(errstr, errstr_size, "rill_avro_codec_new: json is NULL");
        return NULL;
    }
    rill_avro_codec_t *schema = rill_calloc(1, sizeof *schema);
    if (!schema || !(schema->text = rill_malloc(len + 1))) {
        rill_free(schema);
        rill__serde_err(errstr, errstr_size, "avro schema: out of memory");
        return NULL;
    }
    memcpy(schema->text, json, len);
    schema->text[len] = 0;
    atomic_init(&schema->refs, 1);
    if (avro_schema_from_json_length(schema->text, len, &schema->avro)) {
        schema->avro = NULL;
        /* avro-c's messages end with a newline sometimes: trim it. */
        const char *why = avro_strerror();
        int n = (int)strcspn(why, "\n");
        rill__serde_err(errstr, errstr_size, "invalid Avro schema: %.*s", n, why);
        schema_free(schema);
        return NULL;
    }
    if (!(schema->root = compile(schema, schema->avro, 0))) {
        rill__serde_err(errstr, errstr_size, "avro schema: out of memory or unsupported type");
        schema_free(schema);
        return NULL;
    }
    if (rill__avro_codec_defaults(schema, errstr, errstr_size)) {
        schema_free(schema);
        return NULL;
    }
    return schema;
}

rill_avro_codec_t *rill_avro_codec_ref(rill_avro_codec_t *schema)
{
    if (schema)
        atomic_fetch_add_explicit(&schema->refs, 1, memory_order_relaxed);
    return schema;
}

void rill_avro_codec_unref(rill_avro_codec_t *schema)
{
    if (schema && atomic_fetch_sub_explicit(&schema->refs, 1, memory_order_acq_rel) == 1)
        schema_free(schema);
}

const char *rill_avro_codec_name(const rill_avro_codec_t *schema)
{
    return schema ? schema->root->fullname : NULL;
}

const char *rill_avro_codec_text(const rill_avro_codec_t *schema)
{
    return schema ? schema->text : NULL;
}
