/*
 * The Avro serde: schemas, values (getters and setters), the binary codec and the serde with
 * Confluent's wire format. The one file in Rill that includes avro-c.
 *
 * avro-c parses and checks schemas (names, namespaces, references, recursion); each schema is
 * then compiled into a small tree of nodes that this file's codec walks. The codec is our own
 * rather than avro-c's avro_value_read/avro_value_write because, measured on avro-c 1.11.1, its
 * generic values allocate per string read (a wrapped buffer each), are mutable state that one
 * thread at a time may use (a serde is shared by threads), and copy every string; Avro's binary
 * encoding is small (zig-zag varints, lengths, blocks) and the tests check our codec against
 * avro-c's both ways. A decoded value is a tree in the record's arena whose strings point into
 * the input bytes: one pass, no malloc once the arena is warm, no copy.
 */
#include "avro_int.h"

#include <avro.h>
#include <jansson.h>

#include <assert.h>
#include <inttypes.h>
#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define AVRO_VALUE_LEN 2  /* the view length that marks an Avro value */
#define MAX_DEPTH      64 /* nesting of values, against stack exhaustion by hostile input */
#define ERR_SIZE       256

#define set_err rill__serde_err

/* ---- Schemas ---- */

/* A compiled schema node. names are field names (records) or symbols (enums), borrowed from
 * avro-c's schema, which the rill_avro_codec_t keeps alive. */
typedef struct anode anode_t;
struct anode {
    uint8_t type;  /* rill_avro_type_t */
    uint32_t n;    /* fields, symbols or branches */
    anode_t **sub; /* records: field types; unions: branches; arrays, maps: [0] the items */
    const char **names;
    uint32_t *name_lens;
    uint64_t *name_keys; /* the first 8 bytes of each name, zero padded (see name_key) */
    char *fullname;      /* named types; else the type's name (static) */
    int64_t fixed_size;  /* fixed */
    int null_branch;     /* unions: the null branch, or -1 */
    bool may_be_empty;   /* arrays and maps: an element can take no bytes (a count bound) */
    struct rill_avro_value *defaults; /* records: each field's default (set: it has one) */
};

typedef struct resolver resolver_t;
static void resolver_free(resolver_t *rs);
static int schema_defaults(rill_avro_codec_t *schema, char *errstr, size_t errstr_size);

struct rill_avro_codec {
    atomic_uint refs;
    resolver_t *aux; /* the JSON's named types (defaults, aliases) and the defaults' memory */
    anode_t *root;
    anode_t **nodes; /* every node, owned */
    avro_schema_t *srcs;
    size_t nnodes, cap;
    avro_schema_t avro;
    char *text;
};

static const char *const type_names[] = {"null",   "boolean", "int",    "long",   "float",
                                         "double", "bytes",   "string", "record", "enum",
                                         "array",  "map",     "union",  "fixed"};

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
    resolver_free(schema->aux);
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
    n->fullname = (char *)type_names[type];
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
        if (schema->srcs[i] == src && schema->nodes[i]->fullname != type_names[0])
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
        set_err(errstr, errstr_size, "rill_avro_codec_new: json is NULL");
        return NULL;
    }
    rill_avro_codec_t *schema = rill_calloc(1, sizeof *schema);
    if (!schema || !(schema->text = rill_malloc(len + 1))) {
        rill_free(schema);
        set_err(errstr, errstr_size, "avro schema: out of memory");
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
        set_err(errstr, errstr_size, "invalid Avro schema: %.*s", n, why);
        schema_free(schema);
        return NULL;
    }
    if (!(schema->root = compile(schema, schema->avro, 0))) {
        set_err(errstr, errstr_size, "avro schema: out of memory or unsupported type");
        schema_free(schema);
        return NULL;
    }
    if (schema_defaults(schema, errstr, errstr_size)) {
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

/* ---- Values ---- */

struct rill_avro_value {
    const anode_t *node; /* the value's own type: a union's branch */
    const anode_t *decl; /* the declared type: the union, or node */
    int32_t branch;      /* the union branch, or -1 */
    bool set;            /* false: a writer's value not set yet */
    union {
        int64_t i; /* boolean, int, long, enum index */
        double d;  /* float, double */
        struct {
            const uint8_t *p;
            size_t len;
        } s; /* string, bytes, fixed */
        struct {
            rill_avro_value_t *items; /* record fields, array elements, map values */
            rill_buf_t *keys;         /* map keys */
            size_t n;
        } c;
    } u;
};

/* A top-level value: what a view points at. The value comes first, so a doc is a value. */
typedef struct {
    rill_avro_value_t v;
    const rill_avro_codec_t *schema;
    rill_arena_t *arena; /* writers: where nested values are made */
    char *err;           /* writers: the first setter's error, in the arena */
} avro_doc_t;

static rill_buf_t as_view(avro_doc_t *doc)
{
    return (rill_buf_t){doc, AVRO_VALUE_LEN};
}

static void init_value(rill_avro_value_t *v, const anode_t *decl)
{
    memset(v, 0, sizeof *v);
    v->node = v->decl = decl;
    v->branch = -1;
}

/* The path's next segment: a name (possibly empty) then indexes "[n]"; *rest is after it. */
typedef struct {
    const char *name;
    size_t len;
    uint64_t key; /* name_key() of the name */
} seg_t;

/* The bytes that end a segment's name: NUL, '.' and '['. */
static const uint8_t seg_end[256] = {[0] = 1, ['.'] = 1, ['['] = 1};

/* Reads a segment's name, making its key on the way (one pass over the bytes: the first eight
 * make the key, the rest are only scanned). */
static const char *seg_name(const char *p, seg_t *seg)
{
    uint64_t k = 0;
    seg->name = p;
    for (unsigned shift = 0; shift < 64 && !seg_end[(uint8_t)*p]; p++, shift += 8)
        k |= (uint64_t)(uint8_t)*p << shift;
    while (!seg_end[(uint8_t)*p])
        p++;
    seg->len = (size_t)(p - seg->name);
    seg->key = k;
    return p;
}

/* Parses "[n]" at *p; returns false when *p holds no index. (By hand: strtoull costs a hundred
 * instructions, more than the rest of a field's walk.) */
static bool seg_index(const char **p, size_t *index)
{
    const char *q = *p;
    if (*q++ != '[' || *q < '0' || *q > '9')
        return false;
    size_t n = 0;
    while (*q >= '0' && *q <= '9') {
        if (n > (SIZE_MAX - 9) / 10)
            return false;
        n = n * 10 + (size_t)(*q++ - '0');
    }
    if (*q != ']')
        return false;
    *index = n;
    *p = q + 1;
    return true;
}

static rill_avro_value_t *child_by_name(rill_avro_value_t *v, const seg_t *seg)
{
    if (!v->set)
        return NULL;
    const anode_t *node = v->node;
    if (node->type == RILL_AVRO_RECORD) {
        for (uint32_t i = 0; i < node->n; i++)
            if (node->name_keys[i] == seg->key && node->name_lens[i] == seg->len &&
                (seg->len <= 8 || !memcmp(node->names[i] + 8, seg->name + 8, seg->len - 8)))
                return &v->u.c.items[i];
    } else if (node->type == RILL_AVRO_MAP) {
        /* The last entry of a key counts, as in Java's HashMap built by the reader. */
        for (size_t i = v->u.c.n; i-- > 0;)
            if (v->u.c.keys[i].len == seg->len &&
                (!seg->len || !memcmp(v->u.c.keys[i].data, seg->name, seg->len)))
                return &v->u.c.items[i];
    }
    return NULL;
}

static rill_avro_value_t *child_at(rill_avro_value_t *v, size_t i)
{
    if (!v->set)
        return NULL;
    switch (v->node->type) {
    case RILL_AVRO_ARRAY:
    case RILL_AVRO_MAP:
    case RILL_AVRO_RECORD:
        return i < (v->node->type == RILL_AVRO_RECORD ? v->node->n : v->u.c.n) ? &v->u.c.items[i]
                                                                               : NULL;
    default:
        return NULL;
    }
}

/* Walks path from v for a reader: NULL when a step does not exist. */
static rill_avro_value_t *walk(const void *from, const char *path)
{
    rill_avro_value_t *v = (rill_avro_value_t *)from;
    if (!v || !path)
        return v;
    const char *p = path;
    while (*p && v) {
        seg_t seg;
        p = seg_name(p, &seg);
        if (seg.len)
            v = child_by_name(v, &seg);
        size_t i;
        while (v && *p == '[')
            v = seg_index(&p, &i) ? child_at(v, i) : NULL;
        if (*p == '.')
            p++;
        else if (*p)
            return NULL;
    }
    return v;
}

const rill_avro_value_t *rill_avro_get(const void *v, const char *path)
{
    rill_avro_value_t *x = walk(v, path);
    return x && x->set ? x : NULL;
}

int rill_avro_type(const void *v, const char *path)
{
    if (!v)
        return RILL_EINVAL;
    const rill_avro_value_t *x = rill_avro_get(v, path);
    return x ? x->node->type : RILL_ENOENT;
}

int rill_avro_branch(const void *v, const char *path)
{
    const rill_avro_value_t *x = rill_avro_get(v, path);
    return x ? x->branch : RILL_ENOENT;
}

int rill_avro_get_int(const void *v, const char *path, int64_t *out)
{
    const rill_avro_value_t *x = rill_avro_get(v, path);
    if (!x || (x->node->type != RILL_AVRO_INT && x->node->type != RILL_AVRO_LONG))
        return RILL_ENOENT;
    if (out)
        *out = x->u.i;
    return 0;
}

int rill_avro_get_double(const void *v, const char *path, double *out)
{
    const rill_avro_value_t *x = rill_avro_get(v, path);
    if (!x)
        return RILL_ENOENT;
    double d;
    switch (x->node->type) {
    case RILL_AVRO_FLOAT:
    case RILL_AVRO_DOUBLE:
        d = x->u.d;
        break;
    case RILL_AVRO_INT:
    case RILL_AVRO_LONG:
        d = (double)x->u.i;
        break;
    default:
        return RILL_ENOENT;
    }
    if (out)
        *out = d;
    return 0;
}

int rill_avro_get_bool(const void *v, const char *path, bool *out)
{
    const rill_avro_value_t *x = rill_avro_get(v, path);
    if (!x || x->node->type != RILL_AVRO_BOOLEAN)
        return RILL_ENOENT;
    if (out)
        *out = x->u.i != 0;
    return 0;
}

int rill_avro_get_str(const void *v, const char *path, rill_buf_t *out)
{
    const rill_avro_value_t *x = rill_avro_get(v, path);
    if (!x)
        return RILL_ENOENT;
    rill_buf_t b;
    switch (x->node->type) {
    case RILL_AVRO_STRING:
    case RILL_AVRO_BYTES:
    case RILL_AVRO_FIXED:
        b = (rill_buf_t){x->u.s.p, x->u.s.len};
        break;
    case RILL_AVRO_ENUM:
        b = (rill_buf_t){x->node->names[x->u.i], x->node->name_lens[x->u.i]};
        break;
    default:
        return RILL_ENOENT;
    }
    if (out)
        *out = b;
    return 0;
}

const char *rill_avro_get_enum(const void *v, const char *path, int *index)
{
    const rill_avro_value_t *x = rill_avro_get(v, path);
    if (!x || x->node->type != RILL_AVRO_ENUM)
        return NULL;
    if (index)
        *index = (int)x->u.i;
    return x->node->names[x->u.i];
}

int rill_avro_is_null(const void *v, const char *path)
{
    const rill_avro_value_t *x = rill_avro_get(v, path);
    return x ? x->node->type == RILL_AVRO_NULL : RILL_ENOENT;
}

int rill_avro_len(const void *v, const char *path, size_t *n)
{
    const rill_avro_value_t *x = rill_avro_get(v, path);
    if (!x)
        return RILL_ENOENT;
    size_t len;
    switch (x->node->type) {
    case RILL_AVRO_ARRAY:
    case RILL_AVRO_MAP:
        len = x->u.c.n;
        break;
    case RILL_AVRO_RECORD:
        len = x->node->n;
        break;
    default:
        return RILL_ENOENT;
    }
    if (n)
        *n = len;
    return 0;
}

const rill_avro_value_t *rill_avro_at(const void *v, size_t i)
{
    rill_avro_value_t *x = v ? child_at((rill_avro_value_t *)v, i) : NULL;
    return x && x->set ? x : NULL;
}

int rill_avro_key_at(const void *v, size_t i, rill_buf_t *key)
{
    const rill_avro_value_t *x = v;
    if (!x || !x->set)
        return RILL_ENOENT;
    if (x->node->type == RILL_AVRO_MAP && i < x->u.c.n) {
        *key = x->u.c.keys[i];
        return 0;
    }
    if (x->node->type == RILL_AVRO_RECORD && i < x->node->n) {
        *key = (rill_buf_t){x->node->names[i], x->node->name_lens[i]};
        return 0;
    }
    return RILL_ENOENT;
}

/* ---- Error paths ---- */

/* Where the codec is, for error messages: the field names, map keys and indexes walked. */
typedef struct {
    struct {
        const char *name; /* NULL: an index */
        size_t len;
        size_t index;
    } seg[MAX_DEPTH + 1];
    int depth;
} path_t;

static void path_format(const path_t *path, char *buf, size_t size)
{
    size_t n = 0;
    buf[0] = 0;
    for (int i = 0; i < path->depth && n < size; i++) {
        int w = path->seg[i].name ? snprintf(buf + n, size - n, "%s%.*s", n ? "." : "",
                                             (int)path->seg[i].len, path->seg[i].name)
                                  : snprintf(buf + n, size - n, "[%zu]", path->seg[i].index);
        n += w > 0 ? (size_t)w : 0;
    }
    if (!buf[0])
        snprintf(buf, size, "(the top-level value)");
}

/* ---- Decoding ---- */

typedef struct {
    const uint8_t *p, *start, *end;
    rill_arena_t *arena;
    path_t path;
    char *errstr;
    size_t errstr_size;
    int32_t id;
    const char *subject; /* may be NULL */
    size_t base;         /* bytes before start (the wire header), for offsets */
} dec_t;

static int __attribute__((format(printf, 2, 3))) dec_fail(dec_t *d, const char *fmt, ...)
{
    char why[160], where[200];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(why, sizeof why, fmt, ap);
    va_end(ap);
    path_format(&d->path, where, sizeof where);
    set_err(d->errstr, d->errstr_size, "avro: schema id %d%s%s%s: byte %zu, field %s: %s", d->id,
            d->subject ? " (subject " : "", d->subject ? d->subject : "", d->subject ? ")" : "",
            d->base + (size_t)(d->p - d->start), where, why);
    return RILL_ESERDE;
}

/* Out of memory while decoding: not the record's fault, so not RILL_ESERDE (the task stops
 * rather than skip good records). */
static int dec_oom(dec_t *d)
{
    dec_fail(d, "out of memory");
    return RILL_ENOMEM;
}

static int read_long(dec_t *d, int64_t *out)
{
    uint64_t u = 0;
    for (int shift = 0; shift < 64; shift += 7) {
        if (d->p == d->end)
            return dec_fail(d, "input ends inside a varint");
        uint8_t b = *d->p++;
        u |= (uint64_t)(b & 0x7f) << shift;
        if (!(b & 0x80)) {
            *out = (int64_t)(u >> 1) ^ -(int64_t)(u & 1);
            return 0;
        }
    }
    return dec_fail(d, "varint longer than 10 bytes");
}

static int read_len(dec_t *d, size_t *len, const char *what)
{
    int64_t n;
    int rc = read_long(d, &n);
    if (rc)
        return rc;
    if (n < 0)
        return dec_fail(d, "%s length %" PRId64 " is negative", what, n);
    if ((uint64_t)n > (uint64_t)(d->end - d->p))
        return dec_fail(d, "%s of %" PRId64 " bytes runs past the end (%zu left)", what, n,
                        (size_t)(d->end - d->p));
    *len = (size_t)n;
    return 0;
}

static int decode(dec_t *d, const anode_t *decl, rill_avro_value_t *v);

/* Reads an array's or map's blocks: a count (negative: followed by a byte size), the items, and
 * a count of 0 at the end. The first block's count sizes the items; later blocks grow them. */
static int decode_blocks(dec_t *d, const anode_t *node, rill_avro_value_t *v)
{
    bool map = node->type == RILL_AVRO_MAP;
    size_t n = 0, cap = 0;
    rill_avro_value_t *items = NULL;
    rill_buf_t *keys = NULL;
    int depth = d->path.depth;
    if (depth >= MAX_DEPTH)
        return dec_fail(d, "nested more than %d deep", MAX_DEPTH);
    for (;;) {
        int64_t count;
        int rc = read_long(d, &count);
        if (rc)
            return rc;
        if (count == 0)
            break;
        if (count < 0) {
            int64_t size;
            if (count == INT64_MIN)
                return dec_fail(d, "block count out of range");
            count = -count;
            if ((rc = read_long(d, &size)))
                return rc;
        }
        size_t left = (size_t)(d->end - d->p);
        /* Items of no bytes (null, empty records) are bounded over all the blocks, not per
         * block: 38 bytes of blocks of 2^20 nulls would otherwise take gigabytes. */
        if (node->may_be_empty ? n + (uint64_t)count > ((uint64_t)1 << 20)
                               : (uint64_t)count > (uint64_t)left)
            return dec_fail(d, "block of %" PRId64 " items cannot fit in the %zu bytes left%s",
                            count, left, node->may_be_empty ? " (at most 2^20 empty items)" : "");
        size_t total = n + (size_t)count;
        rill_avro_value_t *grown = items;
        rill_buf_t *kgrown = keys;
        if (total > cap) { /* doubling: the arena keeps what it gave, so copy little */
            size_t ncap = cap ? cap * 2 : 8;
            while (ncap < total)
                ncap *= 2;
            grown = rill_arena_alloc(d->arena, ncap * sizeof *grown);
            kgrown = map ? rill_arena_alloc(d->arena, ncap * sizeof *kgrown) : NULL;
            if (!grown || (map && !kgrown))
                return dec_oom(d);
            if (n) {
                memcpy(grown, items, n * sizeof *items);
                if (map)
                    memcpy(kgrown, keys, n * sizeof *keys);
            }
            cap = ncap;
        }
        items = grown;
        keys = kgrown;
        d->path.depth = depth + 1;
        for (size_t i = n; i < total; i++) {
            if (map) {
                size_t len;
                d->path.seg[depth].name = "";
                d->path.seg[depth].len = 0;
                if ((rc = read_len(d, &len, "map key")))
                    return rc;
                keys[i] = (rill_buf_t){d->p, len};
                d->p += len;
                d->path.seg[depth].name = (const char *)keys[i].data;
                d->path.seg[depth].len = len;
            } else {
                d->path.seg[depth].name = NULL;
                d->path.seg[depth].index = i;
            }
            if ((rc = decode(d, node->sub[0], &items[i])))
                return rc;
        }
        d->path.depth = depth;
        n = total;
    }
    v->u.c.items = items;
    v->u.c.keys = keys;
    v->u.c.n = n;
    return 0;
}

static int decode(dec_t *d, const anode_t *decl, rill_avro_value_t *v)
{
    const anode_t *node = decl;
    v->decl = decl;
    v->branch = -1;
    v->set = true;
    int rc;
    if (node->type == RILL_AVRO_UNION) {
        int64_t b;
        if ((rc = read_long(d, &b)))
            return rc;
        if (b < 0 || b >= node->n)
            return dec_fail(d, "union branch %" PRId64 " out of range (the union has %u)", b,
                            node->n);
        v->branch = (int32_t)b;
        node = node->sub[b];
    }
    v->node = node;
    switch (node->type) {
    case RILL_AVRO_NULL:
        return 0;
    case RILL_AVRO_BOOLEAN:
        if (d->p == d->end)
            return dec_fail(d, "input ends before a boolean");
        if (*d->p > 1)
            return dec_fail(d, "boolean byte is 0x%02x, not 0 or 1", *d->p);
        v->u.i = *d->p++;
        return 0;
    case RILL_AVRO_INT:
    case RILL_AVRO_ENUM:
        if ((rc = read_long(d, &v->u.i)))
            return rc;
        if (node->type == RILL_AVRO_ENUM && (v->u.i < 0 || v->u.i >= node->n))
            return dec_fail(d, "enum index %" PRId64 " out of range (%s has %u symbols)", v->u.i,
                            node->fullname, node->n);
        if (v->u.i < INT32_MIN || v->u.i > INT32_MAX)
            return dec_fail(d, "int %" PRId64 " out of range", v->u.i);
        return 0;
    case RILL_AVRO_LONG:
        return read_long(d, &v->u.i);
    case RILL_AVRO_FLOAT: {
        if (d->end - d->p < 4)
            return dec_fail(d, "input ends inside a float");
        uint32_t u = (uint32_t)d->p[0] | (uint32_t)d->p[1] << 8 | (uint32_t)d->p[2] << 16 |
                     (uint32_t)d->p[3] << 24;
        float f;
        memcpy(&f, &u, sizeof f);
        v->u.d = f;
        d->p += 4;
        return 0;
    }
    case RILL_AVRO_DOUBLE: {
        if (d->end - d->p < 8)
            return dec_fail(d, "input ends inside a double");
        uint64_t u = 0;
        for (int i = 7; i >= 0; i--)
            u = u << 8 | d->p[i];
        memcpy(&v->u.d, &u, sizeof u);
        d->p += 8;
        return 0;
    }
    case RILL_AVRO_STRING:
    case RILL_AVRO_BYTES:
        if ((rc = read_len(d, &v->u.s.len, type_names[node->type])))
            return rc;
        v->u.s.p = d->p;
        d->p += v->u.s.len;
        return 0;
    case RILL_AVRO_FIXED:
        if ((uint64_t)(d->end - d->p) < (uint64_t)node->fixed_size)
            return dec_fail(d, "input ends inside fixed %s of %" PRId64 " bytes", node->fullname,
                            node->fixed_size);
        v->u.s.p = d->p;
        v->u.s.len = (size_t)node->fixed_size;
        d->p += v->u.s.len;
        return 0;
    case RILL_AVRO_RECORD: {
        int depth = d->path.depth;
        if (depth >= MAX_DEPTH)
            return dec_fail(d, "nested more than %d deep", MAX_DEPTH);
        v->u.c.items = rill_arena_alloc(d->arena, (node->n ? node->n : 1) * sizeof *v->u.c.items);
        if (!v->u.c.items)
            return dec_oom(d);
        v->u.c.n = node->n;
        d->path.depth = depth + 1;
        for (uint32_t i = 0; i < node->n; i++) {
            d->path.seg[depth].name = node->names[i];
            d->path.seg[depth].len = node->name_lens[i];
            if ((rc = decode(d, node->sub[i], &v->u.c.items[i])))
                return rc;
        }
        d->path.depth = depth;
        return 0;
    }
    case RILL_AVRO_ARRAY:
    case RILL_AVRO_MAP:
        return decode_blocks(d, node, v);
    default:
        return dec_fail(d, "unsupported type");
    }
}

/* ---- Encoding ---- */

typedef struct {
    rill_bytes_t *out;
    path_t path;
    char *errstr;
    size_t errstr_size;
} enc_t;

static int enc_fail(enc_t *e, const char *why)
{
    char where[200];
    path_format(&e->path, where, sizeof where);
    set_err(e->errstr, e->errstr_size, "avro: field %s: %s", where, why);
    return RILL_ESERDE;
}

/* Appends n bytes: straight into out when they fit (the common case once out has grown), so a
 * field costs no call. */
static inline int put(rill_bytes_t *out, const void *data, size_t n)
{
    if (n && n <= out->cap - out->len) {
        memcpy(out->data + out->len, data, n);
        out->len += n;
        return 0;
    }
    return rill_bytes_append(out, data, n);
}

/* A zig-zag varint: straight into out when 10 bytes fit, else through a buffer. */
static int put_long(rill_bytes_t *out, int64_t v)
{
    uint8_t buf[10];
    bool direct = out->cap - out->len >= sizeof buf;
    uint8_t *p = direct ? out->data + out->len : buf;
    uint64_t u = ((uint64_t)v << 1) ^ (uint64_t)(v >> 63);
    size_t n = 0;
    while (u > 0x7f) {
        p[n++] = (uint8_t)(u | 0x80);
        u >>= 7;
    }
    p[n++] = (uint8_t)u;
    if (!direct)
        return rill_bytes_append(out, buf, n);
    out->len += n;
    return 0;
}

static int encode(enc_t *e, const rill_avro_value_t *v)
{
    if (!v->set) {
        if (v->decl->type == RILL_AVRO_NULL)
            return 0;
        if (v->decl->type == RILL_AVRO_UNION && v->decl->null_branch >= 0)
            return put_long(e->out, v->decl->null_branch);
        return enc_fail(e, "not set (no default, not nullable)");
    }
    int rc;
    if (v->decl->type == RILL_AVRO_UNION && (rc = put_long(e->out, v->branch)))
        return rc;
    const anode_t *node = v->node;
    switch (node->type) {
    case RILL_AVRO_NULL:
        return 0;
    case RILL_AVRO_BOOLEAN: {
        uint8_t b = v->u.i != 0;
        return put(e->out, &b, 1);
    }
    case RILL_AVRO_INT:
    case RILL_AVRO_LONG:
    case RILL_AVRO_ENUM:
        return put_long(e->out, v->u.i);
    case RILL_AVRO_FLOAT: {
        float f = (float)v->u.d;
        uint32_t u;
        memcpy(&u, &f, sizeof u);
        uint8_t b[4] = {(uint8_t)u, (uint8_t)(u >> 8), (uint8_t)(u >> 16), (uint8_t)(u >> 24)};
        return put(e->out, b, 4);
    }
    case RILL_AVRO_DOUBLE: {
        uint64_t u;
        memcpy(&u, &v->u.d, sizeof u);
        uint8_t b[8];
        for (int i = 0; i < 8; i++)
            b[i] = (uint8_t)(u >> (8 * i));
        return put(e->out, b, 8);
    }
    case RILL_AVRO_STRING:
    case RILL_AVRO_BYTES:
        if ((rc = put_long(e->out, (int64_t)v->u.s.len)))
            return rc;
        /* fall through */
    case RILL_AVRO_FIXED:
        return put(e->out, v->u.s.p, v->u.s.len);
    case RILL_AVRO_RECORD: {
        int depth = e->path.depth;
        if (depth >= MAX_DEPTH)
            return enc_fail(e, "nested too deep");
        e->path.depth = depth + 1;
        for (uint32_t i = 0; i < node->n; i++) {
            e->path.seg[depth].name = node->names[i];
            e->path.seg[depth].len = node->name_lens[i];
            /* A field left unset takes its default, as Java's GenericRecordBuilder does. */
            const rill_avro_value_t *f = &v->u.c.items[i];
            if (!f->set && node->defaults[i].set)
                f = &node->defaults[i];
            if ((rc = encode(e, f)))
                return rc;
        }
        e->path.depth = depth;
        return 0;
    }
    case RILL_AVRO_ARRAY:
    case RILL_AVRO_MAP: {
        int depth = e->path.depth;
        if (depth >= MAX_DEPTH)
            return enc_fail(e, "nested too deep");
        /* One block, as Java's encoder writes it. */
        if (v->u.c.n && (rc = put_long(e->out, (int64_t)v->u.c.n)))
            return rc;
        e->path.depth = depth + 1;
        for (size_t i = 0; i < v->u.c.n; i++) {
            e->path.seg[depth].name = NULL;
            e->path.seg[depth].index = i;
            if (node->type == RILL_AVRO_MAP) {
                const rill_buf_t *k = &v->u.c.keys[i];
                if (!k->data)
                    return enc_fail(e, "map key not set");
                if ((rc = put_long(e->out, (int64_t)k->len)) || (rc = put(e->out, k->data, k->len)))
                    return rc;
            }
            if ((rc = encode(e, &v->u.c.items[i])))
                return rc;
        }
        e->path.depth = depth;
        return put_long(e->out, 0);
    }
    default:
        return enc_fail(e, "unsupported type");
    }
}

/* ---- Writing values ---- */

rill_buf_t rill_avro_record_new(rill_arena_t *arena, const rill_avro_codec_t *schema)
{
    if (!arena || !schema || schema->root->type != RILL_AVRO_RECORD)
        return (rill_buf_t){NULL, 0};
    avro_doc_t *doc = rill_arena_alloc(arena, sizeof *doc);
    if (!doc)
        return (rill_buf_t){NULL, 0};
    init_value(&doc->v, schema->root);
    doc->schema = schema;
    doc->arena = arena;
    doc->err = NULL;
    const anode_t *node = schema->root;
    doc->v.u.c.items = rill_arena_alloc(arena, (node->n ? node->n : 1) * sizeof(rill_avro_value_t));
    if (!doc->v.u.c.items)
        return (rill_buf_t){NULL, 0};
    for (uint32_t i = 0; i < node->n; i++)
        init_value(&doc->v.u.c.items[i], node->sub[i]);
    doc->v.u.c.n = node->n;
    doc->v.set = true;
    return as_view(doc);
}

static int __attribute__((format(printf, 4, 5)))
set_fail(avro_doc_t *doc, const char *path, int rc, const char *fmt, ...)
{
    if (!doc->err && doc->arena && (doc->err = rill_arena_alloc(doc->arena, ERR_SIZE))) {
        char why[160];
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(why, sizeof why, fmt, ap);
        va_end(ap);
        snprintf(doc->err, ERR_SIZE, "avro writer: field %s: %s", path && *path ? path : "(top)",
                 why);
    }
    return rc;
}

/* Makes slot (declared as decl) a value of branch b's (or decl's own) type. */
static void choose(rill_avro_value_t *slot, int b)
{
    const anode_t *decl = slot->decl;
    slot->branch = b;
    slot->node = b >= 0 ? decl->sub[b] : decl;
    slot->set = true;
}

/* The first branch of slot's declared type (or the type itself, b = -1) of one of the types in
 * mask (bits of rill_avro_type_t) that accept(node, arg) says takes the value; -2 when none. */
static int pick(const rill_avro_value_t *slot, unsigned mask,
                bool (*accept)(const anode_t *, const void *), const void *arg)
{
    const anode_t *decl = slot->decl;
    if (decl->type != RILL_AVRO_UNION)
        return (mask >> decl->type & 1) && (!accept || accept(decl, arg)) ? -1 : -2;
    for (uint32_t i = 0; i < decl->n; i++)
        if ((mask >> decl->sub[i]->type & 1) && (!accept || accept(decl->sub[i], arg)))
            return (int)i;
    return -2;
}

static int make_container(avro_doc_t *doc, rill_avro_value_t *slot, int b, size_t n)
{
    choose(slot, b);
    const anode_t *node = slot->node;
    size_t count = node->type == RILL_AVRO_RECORD ? node->n : n;
    rill_avro_value_t *items = rill_arena_alloc(doc->arena, (count ? count : 1) * sizeof *items);
    rill_buf_t *keys = NULL;
    if (node->type == RILL_AVRO_MAP &&
        (keys = rill_arena_alloc(doc->arena, (count ? count : 1) * sizeof *keys)))
        memset(keys, 0, (count ? count : 1) * sizeof *keys);
    if (!items || (node->type == RILL_AVRO_MAP && !keys)) {
        slot->set = false;
        return RILL_ENOMEM;
    }
    for (size_t i = 0; i < count; i++)
        init_value(&items[i], node->type == RILL_AVRO_RECORD ? node->sub[i] : node->sub[0]);
    slot->u.c.items = items;
    slot->u.c.keys = keys;
    slot->u.c.n = count;
    return 0;
}

#define BIT(t) (1u << (t))

/* Walks path for a setter, making the records it passes through. */
static rill_avro_value_t *walk_set(avro_doc_t *doc, const char *path, int *rc)
{
    rill_avro_value_t *v = &doc->v;
    const char *p = path ? path : "";
    *rc = RILL_ENOENT;
    while (*p && v) {
        seg_t seg;
        p = seg_name(p, &seg);
        if (seg.len) {
            if (!v->set) {
                int b = pick(v, BIT(RILL_AVRO_RECORD), NULL, NULL);
                if (b == -2 || make_container(doc, v, b, 0)) {
                    set_fail(doc, path, RILL_ENOENT, "'%.*s' is not in a record", (int)seg.len,
                             seg.name);
                    return NULL;
                }
            }
            v = child_by_name(v, &seg);
            if (!v) {
                set_fail(doc, path, RILL_ENOENT, "no field '%.*s' in the schema", (int)seg.len,
                         seg.name);
                return NULL;
            }
        }
        size_t i;
        while (v && *p == '[') {
            if (!seg_index(&p, &i) || !(v = child_at(v, i))) {
                set_fail(doc, path, RILL_ENOENT, "no such element (set the array or map first)");
                return NULL;
            }
        }
        if (*p == '.')
            p++;
        else if (*p) {
            set_fail(doc, path, RILL_EINVAL, "bad path");
            *rc = RILL_EINVAL;
            return NULL;
        }
    }
    *rc = 0;
    return v;
}

static const char *declared_name(const rill_avro_value_t *slot)
{
    return slot->decl->type == RILL_AVRO_UNION ? "union without such a branch"
                                               : slot->decl->fullname;
}

static avro_doc_t *as_doc(void *record)
{
    avro_doc_t *doc = record;
    return doc && doc->arena ? doc : NULL;
}

static bool int_fits(const anode_t *node, const void *arg)
{
    int64_t v = *(const int64_t *)arg;
    return node->type != RILL_AVRO_INT || (v >= INT32_MIN && v <= INT32_MAX);
}

int rill_avro_set_int(void *record, const char *path, int64_t v)
{
    avro_doc_t *doc = as_doc(record);
    int rc;
    rill_avro_value_t *slot = doc ? walk_set(doc, path, &rc) : NULL;
    if (!slot)
        return doc ? rc : RILL_EINVAL;
    int b = pick(slot, BIT(RILL_AVRO_INT) | BIT(RILL_AVRO_LONG), int_fits, &v);
    if (b != -2) {
        choose(slot, b);
        slot->u.i = v;
        return 0;
    }
    b = pick(slot, BIT(RILL_AVRO_FLOAT) | BIT(RILL_AVRO_DOUBLE), NULL, NULL);
    if (b != -2) {
        choose(slot, b);
        slot->u.d = (double)v;
        return 0;
    }
    if (pick(slot, BIT(RILL_AVRO_INT), NULL, NULL) != -2)
        return set_fail(doc, path, RILL_ESERDE, "%" PRId64 " does not fit in an int", v);
    return set_fail(doc, path, RILL_ESERDE, "an integer given, the schema says %s",
                    declared_name(slot));
}

int rill_avro_set_double(void *record, const char *path, double v)
{
    avro_doc_t *doc = as_doc(record);
    int rc;
    rill_avro_value_t *slot = doc ? walk_set(doc, path, &rc) : NULL;
    if (!slot)
        return doc ? rc : RILL_EINVAL;
    int b = pick(slot, BIT(RILL_AVRO_FLOAT) | BIT(RILL_AVRO_DOUBLE), NULL, NULL);
    if (b == -2)
        return set_fail(doc, path, RILL_ESERDE, "a real given, the schema says %s",
                        declared_name(slot));
    choose(slot, b);
    slot->u.d = v;
    return 0;
}

int rill_avro_set_bool(void *record, const char *path, bool v)
{
    avro_doc_t *doc = as_doc(record);
    int rc;
    rill_avro_value_t *slot = doc ? walk_set(doc, path, &rc) : NULL;
    if (!slot)
        return doc ? rc : RILL_EINVAL;
    int b = pick(slot, BIT(RILL_AVRO_BOOLEAN), NULL, NULL);
    if (b == -2)
        return set_fail(doc, path, RILL_ESERDE, "a boolean given, the schema says %s",
                        declared_name(slot));
    choose(slot, b);
    slot->u.i = v;
    return 0;
}

typedef struct {
    const void *s;
    size_t len;
} text_t;

static int symbol_of(const anode_t *node, const text_t *t)
{
    for (uint32_t i = 0; i < node->n; i++)
        if (node->name_lens[i] == t->len && !memcmp(node->names[i], t->s, t->len))
            return (int)i;
    return -1;
}

static bool str_fits(const anode_t *node, const void *arg)
{
    const text_t *t = arg;
    if (node->type == RILL_AVRO_FIXED)
        return (uint64_t)node->fixed_size == t->len;
    if (node->type == RILL_AVRO_ENUM)
        return symbol_of(node, t) >= 0;
    return true;
}

int rill_avro_set_str(void *record, const char *path, const void *s, size_t len)
{
    avro_doc_t *doc = as_doc(record);
    int rc;
    rill_avro_value_t *slot = doc ? walk_set(doc, path, &rc) : NULL;
    if (!slot)
        return doc ? rc : RILL_EINVAL;
    if (!s && len)
        return set_fail(doc, path, RILL_EINVAL, "NULL text");
    text_t t = {s ? s : "", len};
    unsigned mask =
        BIT(RILL_AVRO_STRING) | BIT(RILL_AVRO_BYTES) | BIT(RILL_AVRO_FIXED) | BIT(RILL_AVRO_ENUM);
    int b = pick(slot, mask, str_fits, &t);
    if (b == -2) {
        b = pick(slot, mask, NULL, NULL);
        const anode_t *n = b == -2 ? NULL : b >= 0 ? slot->decl->sub[b] : slot->decl;
        if (n && n->type == RILL_AVRO_ENUM)
            return set_fail(doc, path, RILL_ESERDE, "'%.*s' is not a symbol of enum %s", (int)len,
                            (const char *)t.s, n->fullname);
        if (n && n->type == RILL_AVRO_FIXED)
            return set_fail(doc, path, RILL_ESERDE, "%zu bytes given, fixed %s has %" PRId64, len,
                            n->fullname, n->fixed_size);
        return set_fail(doc, path, RILL_ESERDE, "a string given, the schema says %s",
                        declared_name(slot));
    }
    choose(slot, b);
    if (slot->node->type == RILL_AVRO_ENUM) {
        slot->u.i = symbol_of(slot->node, &t);
    } else {
        slot->u.s.p = t.s;
        slot->u.s.len = len;
    }
    return 0;
}

int rill_avro_set_null(void *record, const char *path)
{
    avro_doc_t *doc = as_doc(record);
    int rc;
    rill_avro_value_t *slot = doc ? walk_set(doc, path, &rc) : NULL;
    if (!slot)
        return doc ? rc : RILL_EINVAL;
    int b = pick(slot, BIT(RILL_AVRO_NULL), NULL, NULL);
    if (b == -2)
        return set_fail(doc, path, RILL_ESERDE, "null given, the schema says %s",
                        declared_name(slot));
    choose(slot, b);
    return 0;
}

static int set_container(void *record, const char *path, int type, size_t n)
{
    avro_doc_t *doc = as_doc(record);
    int rc;
    rill_avro_value_t *slot = doc ? walk_set(doc, path, &rc) : NULL;
    if (!slot)
        return doc ? rc : RILL_EINVAL;
    int b = pick(slot, BIT(type), NULL, NULL);
    if (b == -2)
        return set_fail(doc, path, RILL_ESERDE, "%s given, the schema says %s", type_names[type],
                        declared_name(slot));
    if ((rc = make_container(doc, slot, b, n)))
        return set_fail(doc, path, rc, "out of memory");
    return 0;
}

int rill_avro_set_record(void *record, const char *path)
{
    return set_container(record, path, RILL_AVRO_RECORD, 0);
}

int rill_avro_set_array(void *record, const char *path, size_t n)
{
    return set_container(record, path, RILL_AVRO_ARRAY, n);
}

int rill_avro_set_map(void *record, const char *path, size_t n)
{
    return set_container(record, path, RILL_AVRO_MAP, n);
}

int rill_avro_set_key(void *record, const char *path, const char *key, size_t len)
{
    avro_doc_t *doc = as_doc(record);
    if (!doc || !path || (!key && len))
        return RILL_EINVAL;
    /* The entry is the last "[i]" of path; its map is what comes before. */
    const char *open = strrchr(path, '[');
    size_t i;
    const char *q = open;
    if (!open || !seg_index(&q, &i) || *q)
        return set_fail(doc, path, RILL_EINVAL, "a map entry's path ends with [i]");
    char map_path[256];
    if ((size_t)(open - path) >= sizeof map_path)
        return set_fail(doc, path, RILL_EINVAL, "path too long");
    memcpy(map_path, path, (size_t)(open - path));
    map_path[open - path] = 0;
    int rc;
    rill_avro_value_t *map = walk_set(doc, map_path, &rc);
    if (!map)
        return rc;
    if (!map->set || map->node->type != RILL_AVRO_MAP || i >= map->u.c.n)
        return set_fail(doc, path, RILL_ENOENT, "no such map entry (set the map first)");
    map->u.c.keys[i] = (rill_buf_t){key ? key : "", len};
    return 0;
}

const char *rill_avro_error(const void *record)
{
    const avro_doc_t *doc = record;
    return doc && doc->arena ? doc->err : NULL;
}

/* ---- Formatting ---- */

typedef struct {
    char *buf;
    size_t size, len;
} fmt_t;

static void fput(fmt_t *f, const char *s, size_t n)
{
    if (f->len < f->size) {
        size_t room = f->size - f->len;
        memcpy(f->buf + f->len, s, n < room ? n : room);
    }
    f->len += n;
}

static void fprint(fmt_t *f, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void fprint(fmt_t *f, const char *fmt, ...)
{
    char tmp[64];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(tmp, sizeof tmp, fmt, ap);
    va_end(ap);
    fput(f, tmp, n > 0 ? (size_t)n : 0);
}

static void fstr(fmt_t *f, const uint8_t *s, size_t n, bool bytes)
{
    fput(f, "\"", 1);
    for (size_t i = 0; i < n; i++) {
        uint8_t c = s[i];
        if (c == '"' || c == '\\')
            fprint(f, "\\%c", c);
        else if (c < 0x20 || (bytes && c >= 0x7f))
            fprint(f, "\\u%04x", c);
        else
            fput(f, (const char *)&s[i], 1);
    }
    fput(f, "\"", 1);
}

static void format_value(fmt_t *f, const rill_avro_value_t *v, int depth)
{
    if (!v->set || depth > MAX_DEPTH) {
        fput(f, "null", 4);
        return;
    }
    const anode_t *node = v->node;
    switch (node->type) {
    case RILL_AVRO_NULL:
        fput(f, "null", 4);
        break;
    case RILL_AVRO_BOOLEAN:
        fput(f, v->u.i ? "true" : "false", v->u.i ? 4 : 5);
        break;
    case RILL_AVRO_INT:
    case RILL_AVRO_LONG:
        fprint(f, "%" PRId64, v->u.i);
        break;
    case RILL_AVRO_FLOAT:
    case RILL_AVRO_DOUBLE: {
        /* The shortest form that reads back the same, as the JSON writer does. */
        char tmp[40];
        for (int prec = 15; prec <= 17; prec++) {
            snprintf(tmp, sizeof tmp, "%.*g", prec, v->u.d);
            if (strtod(tmp, NULL) == v->u.d)
                break;
        }
        fput(f, tmp, strlen(tmp));
        break;
    }
    case RILL_AVRO_STRING:
    case RILL_AVRO_BYTES:
    case RILL_AVRO_FIXED:
        fstr(f, v->u.s.p, v->u.s.len, node->type != RILL_AVRO_STRING);
        break;
    case RILL_AVRO_ENUM:
        fstr(f, (const uint8_t *)node->names[v->u.i], node->name_lens[v->u.i], false);
        break;
    case RILL_AVRO_RECORD:
    case RILL_AVRO_MAP: {
        bool rec = node->type == RILL_AVRO_RECORD;
        size_t n = rec ? node->n : v->u.c.n;
        fput(f, "{", 1);
        for (size_t i = 0; i < n; i++) {
            if (i)
                fput(f, ",", 1);
            if (rec)
                fstr(f, (const uint8_t *)node->names[i], node->name_lens[i], false);
            else
                fstr(f, v->u.c.keys[i].data, v->u.c.keys[i].len, false);
            fput(f, ":", 1);
            format_value(f, &v->u.c.items[i], depth + 1);
        }
        fput(f, "}", 1);
        break;
    }
    case RILL_AVRO_ARRAY:
        fput(f, "[", 1);
        for (size_t i = 0; i < v->u.c.n; i++) {
            if (i)
                fput(f, ",", 1);
            format_value(f, &v->u.c.items[i], depth + 1);
        }
        fput(f, "]", 1);
        break;
    default:
        break;
    }
}

int rill_avro_format(const void *v, char *buf, size_t size)
{
    if (!buf || !size)
        return RILL_EINVAL;
    if (!v) {
        snprintf(buf, size, "null");
        return 0;
    }
    fmt_t f = {buf, size - 1, 0};
    format_value(&f, v, 0);
    if (f.len > f.size) {
        f.len = f.size;
        if (size > 4)
            memcpy(buf + size - 4, "...", 3);
    }
    buf[f.len] = 0;
    return 0;
}

/* ---- Reading with a reader schema ---- */

/*
 * Writer -> reader resolution by the Avro specification's rules ("Schema Resolution"): record
 * fields matched by name (or the reader field's aliases), writer fields the reader lacks
 * skipped, reader fields the writer lacks filled from their default; int -> long -> float ->
 * double and string <-> bytes promoted; enum symbols mapped by name (an unknown one takes the
 * reader enum's default); unions resolved on either side. avro-c's resolver cannot do it (it
 * rejects reader fields with defaults, and its parser drops defaults and aliases), so the
 * defaults and aliases are read from the reader schema's JSON with jansson.
 *
 * A plan is compiled once per (writer schema, reader schema) pair, when a schema id is first
 * seen, and applied to each decoded value: it copies the writer's values into a tree of the
 * reader's schema in the arena (strings still point into the input; defaults point into the
 * plan's memory).
 */
typedef enum {
    P_SAME,
    P_INT_TO_DOUBLE,
    P_INT_TO_FLOAT,
    P_ENUM,
    P_RECORD,
    P_ARRAY,
    P_MAP,
    P_WRITER_UNION
} plan_kind_t;

typedef struct plan plan_t;
struct plan {
    uint8_t kind;
    const anode_t *w;     /* the writer's declared type */
    const anode_t *rdecl; /* the reader's declared type: a union, or rnode */
    const anode_t *rnode;
    int32_t rbranch;             /* the reader union's branch, or -1 */
    uint32_t n;                  /* sub's length */
    plan_t **sub;                /* records: per reader field; arrays, maps: [0]; writer unions:
                                    per writer branch (NULL: the branch cannot be read) */
    int32_t *wfield;             /* records: the writer's field per reader field, -1: default */
    rill_avro_value_t *defaults; /* records: per reader field, when wfield is -1 */
    int32_t *enum_map;           /* enums: reader symbol per writer symbol, -1: none */
    char *why;                   /* writer union branches that cannot be read: the reason */
};

/* Everything a resolution owns: its plans and the memory of its defaults, freed together. */
struct resolver {
    void **allocs;
    size_t n, cap;
    json_t *named; /* the named types by full name: their JSON objects */
    bool owns_named;
    plan_t **memo; /* plans made so far, for recursive records */
    size_t nmemo, capmemo;
    char err[400];    /* the last failure, with its field path */
    char reason[160]; /* the same without the path */
    path_t path;
};

static void *res_alloc(resolver_t *rs, size_t size)
{
    if (rs->n == rs->cap) {
        size_t cap = rs->cap ? rs->cap * 2 : 32;
        void **allocs = rill_realloc(rs->allocs, cap * sizeof *allocs);
        if (!allocs)
            return NULL;
        rs->allocs = allocs;
        rs->cap = cap;
    }
    void *p = rill_calloc(1, size ? size : 1);
    if (p)
        rs->allocs[rs->n++] = p;
    return p;
}

static void resolver_free(resolver_t *rs)
{
    if (!rs)
        return;
    for (size_t i = 0; i < rs->n; i++)
        rill_free(rs->allocs[i]);
    rill_free(rs->allocs);
    rill_free(rs->memo);
    if (rs->owns_named)
        json_decref(rs->named);
    rill_free(rs);
}

static int __attribute__((format(printf, 2, 3))) res_fail(resolver_t *rs, const char *fmt, ...)
{
    char where[200];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(rs->reason, sizeof rs->reason, fmt, ap);
    va_end(ap);
    path_format(&rs->path, where, sizeof where);
    snprintf(rs->err, sizeof rs->err, "field %s: %s", where, rs->reason);
    return RILL_ESERDE;
}

/* Collects the named types of a schema's JSON by full name (namespaces as the spec says). */
static void collect_named(json_t *named, json_t *j, const char *ns)
{
    if (json_is_array(j)) {
        size_t i;
        json_t *b;
        json_array_foreach(j, i, b) collect_named(named, b, ns);
        return;
    }
    if (!json_is_object(j))
        return;
    const char *type = json_string_value(json_object_get(j, "type"));
    if (!type) {
        collect_named(named, json_object_get(j, "type"), ns);
        return;
    }
    bool is_named = !strcmp(type, "record") || !strcmp(type, "error") || !strcmp(type, "enum") ||
                    !strcmp(type, "fixed");
    char full[512];
    if (is_named) {
        const char *name = json_string_value(json_object_get(j, "name"));
        const char *own = json_string_value(json_object_get(j, "namespace"));
        if (!name)
            return;
        const char *dot = strrchr(name, '.');
        if (dot) {
            snprintf(full, sizeof full, "%s", name);
        } else {
            const char *space = own ? own : ns;
            snprintf(full, sizeof full, "%s%s%s", space && *space ? space : "",
                     space && *space ? "." : "", name);
        }
        json_object_set(named, full, j);
        /* What the type holds is in its own name's namespace, as the spec says. */
        char space[512];
        const char *last = strrchr(full, '.');
        snprintf(space, sizeof space, "%.*s", last ? (int)(last - full) : 0, full);
        json_t *fields = json_object_get(j, "fields");
        size_t i;
        json_t *f;
        json_array_foreach(fields, i, f) collect_named(named, json_object_get(f, "type"), space);
        return;
    }
    collect_named(named, json_object_get(j, "items"), ns);
    collect_named(named, json_object_get(j, "values"), ns);
}

/* The JSON object of the reader's named type node, or NULL. */
static json_t *named_json(resolver_t *rs, const anode_t *node)
{
    return json_object_get(rs->named, node->fullname);
}

/* The unqualified part of a full name. */
static const char *short_name(const char *full)
{
    const char *dot = strrchr(full, '.');
    return dot ? dot + 1 : full;
}

/* Do the writer's and the reader's named types match: the same unqualified name, or the writer's
 * name among the reader's aliases? */
static bool names_match(resolver_t *rs, const anode_t *w, const anode_t *r)
{
    if (!strcmp(short_name(w->fullname), short_name(r->fullname)))
        return true;
    json_t *aliases = json_object_get(named_json(rs, r), "aliases");
    size_t i;
    json_t *a;
    json_array_foreach(aliases, i, a)
    {
        const char *s = json_string_value(a);
        if (s && (!strcmp(s, w->fullname) || !strcmp(short_name(s), short_name(w->fullname))))
            return true;
    }
    return false;
}

/* Can a writer value of type w be read as r (both not unions), by kind alone? */
static bool readable(resolver_t *rs, const anode_t *w, const anode_t *r, bool exact)
{
    int wt = w->type, rt = r->type;
    if (wt == rt) {
        if (wt == RILL_AVRO_RECORD || wt == RILL_AVRO_ENUM || wt == RILL_AVRO_FIXED)
            return names_match(rs, w, r) &&
                   (wt != RILL_AVRO_FIXED || w->fixed_size == r->fixed_size);
        return true;
    }
    if (exact)
        return false;
    switch (wt) {
    case RILL_AVRO_INT:
        return rt == RILL_AVRO_LONG || rt == RILL_AVRO_FLOAT || rt == RILL_AVRO_DOUBLE;
    case RILL_AVRO_LONG:
        return rt == RILL_AVRO_FLOAT || rt == RILL_AVRO_DOUBLE;
    case RILL_AVRO_FLOAT:
        return rt == RILL_AVRO_DOUBLE;
    case RILL_AVRO_STRING:
        return rt == RILL_AVRO_BYTES;
    case RILL_AVRO_BYTES:
        return rt == RILL_AVRO_STRING;
    default:
        return false;
    }
}

static int default_value(resolver_t *rs, const anode_t *decl, json_t *j, rill_avro_value_t *out,
                         int depth);

/* Bytes and fixed defaults are JSON strings whose code points 0-255 are the bytes. */
static int default_bytes(resolver_t *rs, json_t *j, rill_avro_value_t *out)
{
    const char *s = json_string_value(j);
    if (!s)
        return res_fail(rs, "default is not a string");
    size_t len = json_string_length(j);
    uint8_t *p = res_alloc(rs, len);
    if (!p)
        return RILL_ENOMEM;
    size_t n = 0;
    for (size_t i = 0; i < len; n++) {
        uint8_t c = (uint8_t)s[i];
        if (c < 0x80) {
            p[n] = c;
            i++;
        } else if ((c & 0xe0) == 0xc0 && c <= 0xc3 && i + 1 < len) {
            p[n] = (uint8_t)((c & 0x1f) << 6 | ((uint8_t)s[i + 1] & 0x3f));
            i += 2;
        } else {
            return res_fail(rs, "default has a character above U+00FF for bytes");
        }
    }
    out->u.s.p = p;
    out->u.s.len = n;
    return 0;
}

static int default_value(resolver_t *rs, const anode_t *decl, json_t *j, rill_avro_value_t *out,
                         int depth)
{
    if (depth > MAX_DEPTH)
        return res_fail(rs, "default nested too deep");
    init_value(out, decl);
    out->set = true;
    const anode_t *node = decl;
    if (decl->type == RILL_AVRO_UNION) {
        /* A union's default is of its first branch. */
        if (!decl->n)
            return res_fail(rs, "default for an empty union");
        out->branch = 0;
        node = out->node = decl->sub[0];
    }
    switch (node->type) {
    case RILL_AVRO_NULL:
        return json_is_null(j) ? 0 : res_fail(rs, "default is not null");
    case RILL_AVRO_BOOLEAN:
        if (!json_is_boolean(j))
            return res_fail(rs, "default is not a boolean");
        out->u.i = json_is_true(j);
        return 0;
    case RILL_AVRO_INT:
    case RILL_AVRO_LONG:
        if (!json_is_integer(j))
            return res_fail(rs, "default is not an integer");
        out->u.i = json_integer_value(j);
        if (node->type == RILL_AVRO_INT && (out->u.i < INT32_MIN || out->u.i > INT32_MAX))
            return res_fail(rs, "default %" PRId64 " does not fit in an int", out->u.i);
        return 0;
    case RILL_AVRO_FLOAT:
    case RILL_AVRO_DOUBLE:
        if (!json_is_number(j))
            return res_fail(rs, "default is not a number");
        out->u.d = json_number_value(j);
        return 0;
    case RILL_AVRO_STRING: {
        const char *s = json_string_value(j);
        if (!s)
            return res_fail(rs, "default is not a string");
        size_t len = json_string_length(j);
        uint8_t *p = res_alloc(rs, len);
        if (!p)
            return RILL_ENOMEM;
        memcpy(p, s, len);
        out->u.s.p = p;
        out->u.s.len = len;
        return 0;
    }
    case RILL_AVRO_BYTES:
        return default_bytes(rs, j, out);
    case RILL_AVRO_FIXED: {
        int rc = default_bytes(rs, j, out);
        if (!rc && out->u.s.len != (size_t)node->fixed_size)
            return res_fail(rs, "default of %zu bytes for fixed %s of %" PRId64, out->u.s.len,
                            node->fullname, node->fixed_size);
        return rc;
    }
    case RILL_AVRO_ENUM: {
        const char *s = json_string_value(j);
        text_t t = {s, s ? strlen(s) : 0};
        int k = s ? symbol_of(node, &t) : -1;
        if (k < 0)
            return res_fail(rs, "default is not a symbol of %s", node->fullname);
        out->u.i = k;
        return 0;
    }
    case RILL_AVRO_ARRAY:
    case RILL_AVRO_MAP: {
        bool map = node->type == RILL_AVRO_MAP;
        if (map ? !json_is_object(j) : !json_is_array(j))
            return res_fail(rs, "default is not a JSON %s", map ? "object" : "array");
        size_t n = map ? json_object_size(j) : json_array_size(j);
        out->u.c.items = res_alloc(rs, n * sizeof *out->u.c.items);
        out->u.c.keys = map ? res_alloc(rs, n * sizeof *out->u.c.keys) : NULL;
        if (!out->u.c.items || (map && !out->u.c.keys))
            return RILL_ENOMEM;
        out->u.c.n = n;
        if (!map) {
            for (size_t i = 0; i < n; i++) {
                int rc = default_value(rs, node->sub[0], json_array_get(j, i), &out->u.c.items[i],
                                       depth + 1);
                if (rc)
                    return rc;
            }
            return 0;
        }
        size_t i = 0;
        const char *k;
        json_t *v;
        json_object_foreach(j, k, v)
        {
            size_t len = strlen(k);
            char *key = res_alloc(rs, len);
            if (!key)
                return RILL_ENOMEM;
            memcpy(key, k, len);
            out->u.c.keys[i] = (rill_buf_t){key, len};
            int rc = default_value(rs, node->sub[0], v, &out->u.c.items[i++], depth + 1);
            if (rc)
                return rc;
        }
        return 0;
    }
    case RILL_AVRO_RECORD: {
        if (!json_is_object(j))
            return res_fail(rs, "default is not a JSON object");
        json_t *fields = json_object_get(named_json(rs, node), "fields");
        out->u.c.items = res_alloc(rs, node->n * sizeof *out->u.c.items);
        if (!out->u.c.items)
            return RILL_ENOMEM;
        out->u.c.n = node->n;
        for (uint32_t i = 0; i < node->n; i++) {
            json_t *v = json_object_get(j, node->names[i]);
            if (!v)
                v = json_object_get(json_array_get(fields, i), "default");
            if (!v)
                return res_fail(rs, "default lacks field %s, which has no default", node->names[i]);
            int rc = default_value(rs, node->sub[i], v, &out->u.c.items[i], depth + 1);
            if (rc)
                return rc;
        }
        return 0;
    }
    default:
        return res_fail(rs, "no default for this type");
    }
}

/*
 * Reads the schema's JSON again with jansson (avro-c's parser drops defaults and aliases): the
 * named types by full name, and each record field's default as a value, made once and owned by
 * the schema. An invalid default fails the schema, as Java's parser does since Avro 1.9.
 */
static int schema_defaults(rill_avro_codec_t *schema, char *errstr, size_t errstr_size)
{
    resolver_t *aux = rill_calloc(1, sizeof *aux);
    json_error_t jerr;
    json_t *doc = json_loads(schema->text, JSON_DECODE_ANY, &jerr);
    if (!aux || !doc || !(aux->named = json_object())) {
        set_err(errstr, errstr_size, "avro schema: %s", aux && !doc ? jerr.text : "out of memory");
        json_decref(doc);
        resolver_free(aux);
        return RILL_ENOMEM;
    }
    aux->owns_named = true;
    schema->aux = aux;
    collect_named(aux->named, doc, "");
    json_decref(doc);
    for (size_t k = 0; k < schema->nnodes; k++) {
        anode_t *node = schema->nodes[k];
        if (node->type != RILL_AVRO_RECORD)
            continue;
        json_t *fields = json_object_get(named_json(aux, node), "fields");
        if (!(node->defaults = res_alloc(aux, node->n * sizeof *node->defaults)))
            return RILL_ENOMEM;
        for (uint32_t i = 0; i < node->n; i++) {
            json_t *def = json_object_get(json_array_get(fields, i), "default");
            aux->path.depth = 0;
            if (def && default_value(aux, node->sub[i], def, &node->defaults[i], 0)) {
                set_err(errstr, errstr_size, "invalid Avro schema: field %s of %s: %s",
                        node->names[i], node->fullname, aux->reason);
                return RILL_ECONFIG;
            }
        }
    }
    return 0;
}

static plan_t *make_plan(resolver_t *rs, const anode_t *w, const anode_t *rdecl, int depth);

/* The plan of writer record w read as reader record r. */
static int plan_record(resolver_t *rs, plan_t *p, const anode_t *w, const anode_t *r, int depth)
{
    json_t *fields = json_object_get(named_json(rs, r), "fields");
    p->n = r->n;
    p->sub = res_alloc(rs, r->n * sizeof *p->sub);
    p->wfield = res_alloc(rs, r->n * sizeof *p->wfield);
    p->defaults = res_alloc(rs, r->n * sizeof *p->defaults);
    if (!p->sub || !p->wfield || !p->defaults)
        return RILL_ENOMEM;
    int d = rs->path.depth;
    if (d >= MAX_DEPTH)
        return res_fail(rs, "nested too deep");
    rs->path.depth = d + 1;
    for (uint32_t i = 0; i < r->n; i++) {
        rs->path.seg[d].name = r->names[i];
        rs->path.seg[d].len = r->name_lens[i];
        json_t *fj = json_array_get(fields, i);
        int found = -1;
        for (uint32_t k = 0; k < w->n && found < 0; k++)
            if (!strcmp(w->names[k], r->names[i]))
                found = (int)k;
        json_t *aliases = json_object_get(fj, "aliases");
        size_t ai;
        json_t *a;
        json_array_foreach(aliases, ai, a) for (uint32_t k = 0; k < w->n && found < 0;
                                                k++) if (json_string_value(a) &&
                                                         !strcmp(w->names[k], json_string_value(a)))
            found = (int)k;
        p->wfield[i] = found;
        if (found >= 0) {
            if (!(p->sub[i] = make_plan(rs, w->sub[found], r->sub[i], depth + 1)))
                return RILL_ESERDE;
        } else if (r->defaults[i].set) {
            p->defaults[i] = r->defaults[i];
        } else {
            return res_fail(rs, "not in the writer's schema %s and no default", w->fullname);
        }
    }
    rs->path.depth = d;
    return 0;
}

/*
 * The plan of a writer value declared w read as reader type rdecl; NULL with rs->err on a
 * mismatch the reader cannot read. Plans of record pairs are memoised so recursive schemas
 * finish.
 */
static plan_t *make_plan_in(resolver_t *rs, const anode_t *w, const anode_t *rdecl, int depth)
{
    if (depth > 4 * MAX_DEPTH) {
        res_fail(rs, "schemas nested too deep");
        return NULL;
    }
    for (size_t i = 0; i < rs->nmemo; i++)
        if (rs->memo[i]->w == w && rs->memo[i]->rdecl == rdecl)
            return rs->memo[i];
    plan_t *p = res_alloc(rs, sizeof *p);
    if (!p)
        return NULL;
    p->w = w;
    p->rdecl = rdecl;
    p->rbranch = -1;
    if (rs->nmemo == rs->capmemo) {
        size_t cap = rs->capmemo ? rs->capmemo * 2 : 16;
        plan_t **memo = rill_realloc(rs->memo, cap * sizeof *memo);
        if (!memo)
            return NULL;
        rs->memo = memo;
        rs->capmemo = cap;
    }
    rs->memo[rs->nmemo++] = p;
    if (w->type == RILL_AVRO_UNION) {
        /* Each writer branch on its own; a branch the reader cannot read fails only the records
         * that use it, as the spec says. */
        p->kind = P_WRITER_UNION;
        p->n = w->n;
        if (!(p->sub = res_alloc(rs, w->n * sizeof *p->sub)))
            return NULL;
        for (uint32_t b = 0; b < w->n; b++) {
            rs->err[0] = rs->reason[0] = 0;
            p->sub[b] = make_plan(rs, w->sub[b], rdecl, depth + 1);
            if (!p->sub[b] && !p->why) {
                size_t len = strlen(rs->reason) + 1;
                if ((p->why = res_alloc(rs, len)))
                    memcpy(p->why, rs->reason, len);
            }
        }
        rs->err[0] = rs->reason[0] = 0;
        return p;
    }
    const anode_t *r = rdecl;
    if (rdecl->type == RILL_AVRO_UNION) {
        /* The first branch of the same type, else the first one it promotes to. */
        int k = -1;
        for (int pass = 0; pass < 2 && k < 0; pass++)
            for (uint32_t b = 0; b < rdecl->n && k < 0; b++)
                if (readable(rs, w, rdecl->sub[b], pass == 0))
                    k = (int)b;
        if (k < 0) {
            res_fail(rs, "writer's %s is in none of the reader union's branches", w->fullname);
            return NULL;
        }
        p->rbranch = k;
        r = rdecl->sub[k];
    }
    p->rnode = r;
    if (!readable(rs, w, r, false)) {
        if (w->type == r->type)
            res_fail(rs, "writer's %s cannot be read as %s (names or sizes differ)", w->fullname,
                     r->fullname);
        else
            res_fail(rs, "writer's %s cannot be read as %s", w->fullname, r->fullname);
        return NULL;
    }
    switch (r->type) {
    case RILL_AVRO_FLOAT:
    case RILL_AVRO_DOUBLE:
        p->kind = w->type == RILL_AVRO_INT || w->type == RILL_AVRO_LONG
                      ? (r->type == RILL_AVRO_FLOAT ? P_INT_TO_FLOAT : P_INT_TO_DOUBLE)
                      : P_SAME;
        return p;
    case RILL_AVRO_ENUM: {
        p->kind = P_ENUM;
        if (!(p->enum_map = res_alloc(rs, w->n * sizeof *p->enum_map)))
            return NULL;
        const char *def = json_string_value(json_object_get(named_json(rs, r), "default"));
        text_t dt = {def, def ? strlen(def) : 0};
        int dk = def ? symbol_of(r, &dt) : -1;
        for (uint32_t i = 0; i < w->n; i++) {
            text_t t = {w->names[i], w->name_lens[i]};
            int k = symbol_of(r, &t);
            p->enum_map[i] = k >= 0 ? k : dk;
        }
        p->n = w->n;
        return p;
    }
    case RILL_AVRO_RECORD:
        p->kind = P_RECORD;
        return plan_record(rs, p, w, r, depth) ? NULL : p;
    case RILL_AVRO_ARRAY:
    case RILL_AVRO_MAP:
        p->kind = r->type == RILL_AVRO_ARRAY ? P_ARRAY : P_MAP;
        p->n = 1;
        if (!(p->sub = res_alloc(rs, sizeof *p->sub)))
            return NULL;
        return (p->sub[0] = make_plan(rs, w->sub[0], r->sub[0], depth + 1)) ? p : NULL;
    default:
        p->kind = P_SAME;
        return p;
    }
}

/* A failed plan leaves the memo as it found it: what it memoised is incomplete, and another
 * field of the same pair of types would otherwise take it for a finished plan. */
static plan_t *make_plan(resolver_t *rs, const anode_t *w, const anode_t *rdecl, int depth)
{
    size_t memo = rs->nmemo;
    plan_t *p = make_plan_in(rs, w, rdecl, depth);
    if (!p)
        rs->nmemo = memo;
    return p;
}

/* Compiles the resolution of writer to reader; NULL with the reason in errstr. */
static resolver_t *resolver_new(const rill_avro_codec_t *writer, const rill_avro_codec_t *reader,
                                plan_t **root, char *errstr, size_t errstr_size)
{
    resolver_t *rs = rill_calloc(1, sizeof *rs);
    if (!rs) {
        set_err(errstr, errstr_size, "out of memory");
        return NULL;
    }
    rs->named = reader->aux->named; /* borrowed: the reader schema outlives the resolution */
    if (!(*root = make_plan(rs, writer->root, reader->root, 0))) {
        set_err(errstr, errstr_size, "%s", rs->err[0] ? rs->err : "out of memory");
        resolver_free(rs);
        return NULL;
    }
    return rs;
}

typedef struct {
    rill_arena_t *arena;
    path_t path;
    const char *why;
} proj_t;

/* Applies plan p to the writer's value w, making out (the reader's) in the arena. */
static int project(proj_t *pj, const plan_t *p, const rill_avro_value_t *w, rill_avro_value_t *out)
{
    if (p->kind == P_WRITER_UNION) {
        const plan_t *q = w->branch >= 0 && (uint32_t)w->branch < p->n ? p->sub[w->branch] : NULL;
        if (!q) {
            pj->why = p->why ? p->why : "the writer's union branch cannot be read";
            return RILL_ESERDE;
        }
        return project(pj, q, w, out);
    }
    out->decl = p->rdecl;
    out->node = p->rnode;
    out->branch = p->rbranch;
    out->set = true;
    switch (p->kind) {
    case P_SAME:
        out->u = w->u;
        return 0;
    case P_INT_TO_DOUBLE:
        out->u.d = (double)w->u.i;
        return 0;
    case P_INT_TO_FLOAT:
        out->u.d = (float)w->u.i;
        return 0;
    case P_ENUM:
        if (p->enum_map[w->u.i] < 0) {
            pj->why = "the writer's enum symbol is not the reader's, and the reader's enum has no "
                      "default";
            return RILL_ESERDE;
        }
        out->u.i = p->enum_map[w->u.i];
        return 0;
    case P_RECORD: {
        rill_avro_value_t *items = rill_arena_alloc(pj->arena, (p->n ? p->n : 1) * sizeof *items);
        if (!items)
            return RILL_ENOMEM;
        int d = pj->path.depth;
        if (d >= MAX_DEPTH)
            return RILL_ESERDE;
        pj->path.depth = d + 1;
        for (uint32_t i = 0; i < p->n; i++) {
            pj->path.seg[d].name = p->rnode->names[i];
            pj->path.seg[d].len = p->rnode->name_lens[i];
            int rc = p->wfield[i] < 0
                         ? (items[i] = p->defaults[i], 0)
                         : project(pj, p->sub[i], &w->u.c.items[p->wfield[i]], &items[i]);
            if (rc)
                return rc;
        }
        pj->path.depth = d;
        out->u.c.items = items;
        out->u.c.keys = NULL;
        out->u.c.n = p->n;
        return 0;
    }
    case P_ARRAY:
    case P_MAP: {
        size_t n = w->u.c.n;
        rill_avro_value_t *items = rill_arena_alloc(pj->arena, (n ? n : 1) * sizeof *items);
        if (!items)
            return RILL_ENOMEM;
        int d = pj->path.depth;
        if (d >= MAX_DEPTH)
            return RILL_ESERDE;
        pj->path.depth = d + 1;
        for (size_t i = 0; i < n; i++) {
            pj->path.seg[d].name = NULL;
            pj->path.seg[d].index = i;
            int rc = project(pj, p->sub[0], &w->u.c.items[i], &items[i]);
            if (rc)
                return rc;
        }
        pj->path.depth = d;
        out->u.c.items = items;
        out->u.c.keys = w->u.c.keys; /* immutable: shared */
        out->u.c.n = n;
        return 0;
    }
    default:
        return RILL_ESERDE;
    }
}

/* ---- The serde ---- */

typedef enum { STRATEGY_TOPIC, STRATEGY_RECORD, STRATEGY_TOPIC_RECORD } strategy_t;

/* A schema known by id: made once, never freed before the serde, so a reader holding one needs
 * no lock. */
typedef struct id_entry {
    int32_t id;
    rill_avro_codec_t *schema;
    char *subject;   /* for error messages; may be NULL */
    resolver_t *res; /* reading with a reader schema of another text: the plan */
    plan_t *plan;
    char *plan_err; /* the writer schema cannot be read with the reader's: why */
    struct id_entry *next;
} id_entry_t;

typedef struct {
    rill_registry_client_t *registry;
    bool auto_register, use_latest, is_key;
    strategy_t strategy;
    char *topic;
    rill_avro_codec_t *writer; /* may be NULL until use.latest.version fetches it */
    rill_avro_codec_t *reader; /* reader.schema: values are read as this schema, or NULL */
    atomic_int writer_id;      /* -1 until known */
    pthread_mutex_t lock;      /* the lists and the first use of writer */
    id_entry_t *by_id;         /* read by deserialize */
    id_entry_t *by_schema;     /* foreign schemas that serialize met (id found in our subject) */
    _Atomic(id_entry_t *) last_id;
    _Atomic(id_entry_t *) last_schema;
} avro_state_t;

static void entries_free(id_entry_t *e, bool own_schema)
{
    while (e) {
        id_entry_t *next = e->next;
        if (own_schema)
            rill_avro_codec_unref(e->schema);
        resolver_free(e->res);
        rill_free(e->plan_err);
        rill_free(e->subject);
        rill_free(e);
        e = next;
    }
}

static void avro_destroy(void *p)
{
    avro_state_t *s = p;
    if (!s)
        return;
    entries_free(s->by_id, true);
    entries_free(s->by_schema, false);
    rill_avro_codec_unref(s->writer);
    rill_avro_codec_unref(s->reader);
    rill_registry_client_unref(s->registry);
    rill_free(s->topic);
    pthread_mutex_destroy(&s->lock);
    rill_free(s);
}

/* The subject a schema goes under, by the strategy; NULL when the topic is needed and unknown. */
static char *subject_of(const avro_state_t *s, const rill_avro_codec_t *schema)
{
    const char *name = schema ? rill_avro_codec_name(schema) : NULL;
    const char *suffix = s->is_key ? "-key" : "-value";
    char buf[512];
    switch (s->strategy) {
    case STRATEGY_TOPIC:
        if (!s->topic)
            return NULL;
        snprintf(buf, sizeof buf, "%s%s", s->topic, suffix);
        break;
    case STRATEGY_RECORD:
        if (!name)
            return NULL;
        snprintf(buf, sizeof buf, "%s", name);
        break;
    case STRATEGY_TOPIC_RECORD:
        if (!s->topic || !name)
            return NULL;
        snprintf(buf, sizeof buf, "%s-%s", s->topic, name);
        break;
    }
    return rill_strdup(buf);
}

/* Finds the id of schema in our subject: registers it or looks it up, as configured. */
static int id_for(avro_state_t *s, const rill_avro_codec_t *schema, int32_t *id, char *errstr,
                  size_t errstr_size)
{
    char *subject = subject_of(s, schema);
    if (!subject) {
        set_err(errstr, errstr_size,
                "avro serializer: the subject name strategy needs the topic (set \"topic\" in "
                "the serde's config)");
        return RILL_ESERDE;
    }
    char why[256] = "";
    int rc = s->auto_register ? rill_registry_client_register(s->registry, subject, schema->text,
                                                              id, why, sizeof why)
                              : rill_registry_client_lookup(s->registry, subject, schema->text, id,
                                                            NULL, why, sizeof why);
    if (rc)
        set_err(errstr, errstr_size, "avro serializer: subject %s: %s", subject, why);
    rill_free(subject);
    return rc ? RILL_ESERDE : 0;
}

/* The writer schema and its id, found on first use (a registry request) and then read with one
 * atomic load. */
static int writer_id(avro_state_t *s, int32_t *id, char *errstr, size_t errstr_size)
{
    int known = atomic_load_explicit(&s->writer_id, memory_order_acquire);
    if (known >= 0) {
        *id = known;
        return 0;
    }
    int rc = 0;
    pthread_mutex_lock(&s->lock);
    if ((known = atomic_load_explicit(&s->writer_id, memory_order_relaxed)) >= 0) {
        *id = known;
    } else if (s->use_latest) {
        char *subject = subject_of(s, s->writer);
        const char *text;
        char why[256] = "";
        int32_t got;
        rc = subject ? rill_registry_client_latest(s->registry, subject, &got, NULL, &text, why,
                                                   sizeof why)
                     : RILL_ESERDE;
        if (!subject)
            set_err(errstr, errstr_size,
                    "avro serializer: use.latest.version needs the subject "
                    "(set \"topic\", or \"schema\" for the record strategy)");
        else if (rc)
            set_err(errstr, errstr_size, "avro serializer: latest version of %s: %s", subject, why);
        if (!rc && !s->writer &&
            !(s->writer = rill_avro_codec_new(text, strlen(text), why, sizeof why))) {
            set_err(errstr, errstr_size, "avro serializer: latest schema of %s (id %d): %s",
                    subject, got, why);
            rc = RILL_ESERDE;
        }
        rill_free(subject);
        if (!rc) {
            *id = got;
            atomic_store_explicit(&s->writer_id, got, memory_order_release);
        }
    } else if (!s->writer) {
        set_err(errstr, errstr_size, "avro serializer: no writer schema (set \"schema\")");
        rc = RILL_ESERDE;
    } else if (!(rc = id_for(s, s->writer, id, errstr, errstr_size))) {
        atomic_store_explicit(&s->writer_id, *id, memory_order_release);
    }
    pthread_mutex_unlock(&s->lock);
    return rc ? RILL_ESERDE : 0;
}

/*
 * The id of a value's schema when it is not the writer's object (a value read by another serde,
 * or by this one from a schema id): the writer's id when the texts are the same, else the
 * schema's own id in our subject. Found once per schema object, then one atomic load.
 */
static int other_id(avro_state_t *s, const rill_avro_codec_t *schema, int32_t *id, char *errstr,
                    size_t errstr_size)
{
    id_entry_t *e = atomic_load_explicit(&s->last_schema, memory_order_acquire);
    if (e && e->schema == schema) {
        *id = e->id;
        return 0;
    }
    int32_t wid = -1;
    int rc = 0;
    if ((s->use_latest || s->writer) && (rc = writer_id(s, &wid, errstr, errstr_size)))
        return rc;
    bool same = s->writer && !strcmp(schema->text, s->writer->text);
    if (!same && s->use_latest) {
        set_err(errstr, errstr_size,
                "avro serializer: value of schema %s is not the latest version's",
                schema->root->fullname);
        return RILL_ESERDE;
    }
    pthread_mutex_lock(&s->lock);
    for (e = s->by_schema; e && e->schema != schema; e = e->next)
        ;
    if (!e) {
        int32_t got = wid;
        if (same || !(rc = id_for(s, schema, &got, errstr, errstr_size))) {
            if ((e = rill_calloc(1, sizeof *e))) {
                e->id = got;
                e->schema = (rill_avro_codec_t *)schema;
                e->next = s->by_schema;
                s->by_schema = e;
            } else {
                rc = RILL_ENOMEM;
            }
        }
    }
    if (e) {
        *id = e->id;
        atomic_store_explicit(&s->last_schema, e, memory_order_release);
    }
    pthread_mutex_unlock(&s->lock);
    return rc;
}

static int avro_serialize(void *state, rill_buf_t value, rill_bytes_t *out, bool *is_null,
                          char *errstr, size_t errstr_size)
{
    avro_state_t *s = state;
    if (!value.data) {
        *is_null = true;
        return 0;
    }
    if (value.len != AVRO_VALUE_LEN) {
        set_err(errstr, errstr_size,
                "avro value must be a view made by rill_avro_record_new() or an Avro serde "
                "(length %d), got length %zu",
                AVRO_VALUE_LEN, value.len);
        return RILL_ESERDE;
    }
    const avro_doc_t *doc = value.data;
    if (doc->err) {
        set_err(errstr, errstr_size, "%s", doc->err);
        return RILL_ESERDE;
    }
    /* With use.latest.version the writer is set by the first use, under the lock: read it only
     * after writer_id() (its atomic load orders the read). */
    int32_t id;
    int rc = s->use_latest ? writer_id(s, &id, errstr, errstr_size) : 0;
    if (!rc)
        rc = doc->schema == s->writer ? writer_id(s, &id, errstr, errstr_size)
                                      : other_id(s, doc->schema, &id, errstr, errstr_size);
    if (rc)
        return rc;
    uint8_t header[5] = {0};
    rill_encode_i32(header + 1, id);
    if ((rc = rill_bytes_append(out, header, sizeof header)))
        return rc;
    enc_t e;
    e.out = out;
    e.path.depth = 0;
    e.errstr = errstr;
    e.errstr_size = errstr_size;
    return encode(&e, &doc->v);
}

/* The schema of id: one atomic load when it is the last one seen, else the list under the lock,
 * else a registry request (once per id). */
static id_entry_t *schema_by_id(avro_state_t *s, int32_t id, char *errstr, size_t errstr_size)
{
    id_entry_t *e = atomic_load_explicit(&s->last_id, memory_order_acquire);
    if (e && e->id == id)
        return e;
    pthread_mutex_lock(&s->lock);
    for (e = s->by_id; e && e->id != id; e = e->next)
        ;
    if (!e) {
        const char *text;
        char why[256] = "";
        rill_avro_codec_t *schema = NULL;
        if (rill_registry_client_schema(s->registry, id, &text, why, sizeof why))
            set_err(errstr, errstr_size, "avro: schema id %d: unknown to the registry at %s: %s",
                    id, rill__registry_url(s->registry), why);
        else if (s->writer && !strcmp(text, s->writer->text))
            /* Our own writer schema: the same object, so serializing a value read back needs no
             * lookup (and no string comparison) to find its id. */
            schema = rill_avro_codec_ref(s->writer);
        else if (!(schema = rill_avro_codec_new(text, strlen(text), why, sizeof why)))
            set_err(errstr, errstr_size, "avro: schema id %d: %s", id, why);
        if (schema && (e = rill_calloc(1, sizeof *e))) {
            e->id = id;
            e->schema = schema;
            e->subject = subject_of(s, schema);
            if (s->reader && strcmp(s->reader->text, schema->text) &&
                !(e->res = resolver_new(schema, s->reader, &e->plan, why, sizeof why)))
                e->plan_err = rill_strdup(why);
            e->next = s->by_id;
            s->by_id = e;
        } else if (schema) {
            rill_avro_codec_unref(schema);
            set_err(errstr, errstr_size, "avro: schema id %d: out of memory", id);
        }
    }
    if (e)
        atomic_store_explicit(&s->last_id, e, memory_order_release);
    pthread_mutex_unlock(&s->lock);
    return e;
}

static int avro_deserialize(void *state, rill_buf_t bytes, rill_arena_t *arena, rill_buf_t *value,
                            char *errstr, size_t errstr_size)
{
    avro_state_t *s = state;
    if (!bytes.data)
        return 0;
    if (!arena) {
        set_err(errstr, errstr_size, "avro deserializer needs an arena");
        return RILL_EINVAL;
    }
    const uint8_t *p = bytes.data;
    if (bytes.len < 5) {
        set_err(errstr, errstr_size,
                "avro: %zu bytes: too short for Confluent's wire format (magic byte 0 and a "
                "4-byte schema id)",
                bytes.len);
        return RILL_ESERDE;
    }
    if (p[0] != 0) {
        set_err(errstr, errstr_size,
                "avro: byte 0: magic byte is 0x%02x, not 0 (not Confluent's wire format)", p[0]);
        return RILL_ESERDE;
    }
    int32_t id = (int32_t)((uint32_t)p[1] << 24 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 8 |
                           (uint32_t)p[4]);
    id_entry_t *e = schema_by_id(s, id, errstr, errstr_size);
    if (!e)
        return RILL_ESERDE;
    avro_doc_t *doc = rill_arena_alloc(arena, sizeof *doc);
    if (!doc) {
        set_err(errstr, errstr_size, "avro: schema id %d: out of memory", id);
        return RILL_ENOMEM;
    }
    doc->schema = e->schema;
    doc->arena = arena;
    doc->err = NULL;
    /* Field by field: an initializer would zero the path's 1.5 KB for every record. */
    dec_t d;
    d.p = d.start = p + 5;
    d.end = p + bytes.len;
    d.arena = arena;
    d.path.depth = 0;
    d.errstr = errstr;
    d.errstr_size = errstr_size;
    d.id = id;
    d.subject = e->subject;
    d.base = 5;
    int rc = decode(&d, e->schema->root, &doc->v);
    if (!rc && d.p != d.end)
        rc = dec_fail(&d, "%zu bytes left over after the value", (size_t)(d.end - d.p));
    if (rc)
        return rc;
    if (e->plan_err || e->plan) {
        const char *sub = e->subject;
        if (e->plan_err) {
            set_err(errstr, errstr_size,
                    "avro: schema id %d%s%s%s cannot be read with the reader schema %s: %s", id,
                    sub ? " (subject " : "", sub ? sub : "", sub ? ")" : "",
                    s->reader->root->fullname, e->plan_err);
            return RILL_ESERDE;
        }
        avro_doc_t *read = rill_arena_alloc(arena, sizeof *read);
        if (!read)
            return RILL_ENOMEM;
        *read = *doc;
        read->schema = s->reader;
        proj_t pj;
        pj.arena = arena;
        pj.path.depth = 0;
        pj.why = "out of memory";
        if ((rc = project(&pj, e->plan, &doc->v, &read->v))) {
            char where[200];
            path_format(&pj.path, where, sizeof where);
            set_err(errstr, errstr_size, "avro: schema id %d%s%s%s read as %s: field %s: %s", id,
                    sub ? " (subject " : "", sub ? sub : "", sub ? ")" : "",
                    s->reader->root->fullname, where, pj.why);
            return rc == RILL_ENOMEM ? RILL_ENOMEM : RILL_ESERDE;
        }
        doc = read;
    }
    *value = as_view(doc);
    return 0;
}

static const rill_serde_ops avro_ops = {"avro", avro_serialize, avro_deserialize, avro_destroy};

static int parse_strategy(const char *v, strategy_t *out)
{
    /* Confluent's Java class names end with the strategy's name. */
    const char *dot = strrchr(v, '.');
    const char *name = dot ? dot + 1 : v;
    if (!strcmp(name, "TopicNameStrategy"))
        *out = STRATEGY_TOPIC;
    else if (!strcmp(name, "RecordNameStrategy"))
        *out = STRATEGY_RECORD;
    else if (!strcmp(name, "TopicRecordNameStrategy"))
        *out = STRATEGY_TOPIC_RECORD;
    else
        return RILL_ECONFIG;
    return 0;
}

rill_serde_t *rill_serde_avro_new(const char *const *conf, rill_registry_client_t *registry,
                                  char *errstr, size_t errstr_size)
{
    avro_state_t *s = rill_calloc(1, sizeof *s);
    if (!s) {
        set_err(errstr, errstr_size, "avro serde: out of memory");
        return NULL;
    }
    pthread_mutex_init(&s->lock, NULL);
    atomic_init(&s->writer_id, -1);
    rill__registry_serde_conf_t c;
    int rc = rill__registry_serde_conf("avro serde", conf, true, &c, errstr, errstr_size);
    const char *schema = c.schema, *reader = c.reader_schema;
    if (!rc) {
        s->auto_register = c.auto_register;
        s->use_latest = c.use_latest;
        s->is_key = c.is_key;
        if (c.topic && !(s->topic = rill_strdup(c.topic)))
            rc = RILL_ENOMEM;
    }
    if (!rc && c.strategy && (rc = parse_strategy(c.strategy, &s->strategy)))
        set_err(errstr, errstr_size,
                "avro serde: subject.name.strategy \"%s\" is not TopicNameStrategy, "
                "RecordNameStrategy or TopicRecordNameStrategy",
                c.strategy);
    if (!rc && schema) {
        char why[256];
        if (!(s->writer = rill_avro_codec_new(schema, strlen(schema), why, sizeof why))) {
            set_err(errstr, errstr_size, "avro serde: schema: %s", why);
            rc = RILL_ECONFIG;
        }
    }
    if (!rc && reader) {
        char why[256];
        if (!(s->reader = rill_avro_codec_new(reader, strlen(reader), why, sizeof why))) {
            set_err(errstr, errstr_size, "avro serde: reader.schema: %s", why);
            rc = RILL_ECONFIG;
        }
    }
    if (!rc && !(s->registry =
                     rill__registry_serde_client("avro serde", &c, registry, errstr, errstr_size)))
        rc = RILL_ECONFIG;
    rill_serde_t *serde = rc ? NULL : rill_serde_new(&avro_ops, s);
    if (!serde) {
        if (!rc)
            set_err(errstr, errstr_size, "avro serde: out of memory");
        avro_destroy(s);
    }
    return serde;
}

const rill_avro_codec_t *rill_serde_avro_codec(const rill_serde_t *serde)
{
    avro_state_t *s = rill__serde_state(serde, &avro_ops);
    if (!s)
        return NULL;
    if (s->use_latest) {
        int32_t id;
        char why[256];
        if (writer_id(s, &id, why, sizeof why))
            return NULL;
    }
    return s->writer;
}
