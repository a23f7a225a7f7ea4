/*
 * avro_int.h: what the Avro serde's files (serde/avro_*.c) share with each other, and what the
 * registry serdes (Avro, JSON Schema) share with serde/registry_client.c. Private to serde/.
 *
 * The Avro serde, one job a file: avro_codec.c compiles avro-c's schema into a tree of nodes
 * (the one file that includes <avro.h>); avro_value.c is the rill_avro_value_t view, its paths
 * and getters; avro_binary.c decodes and encodes Avro's binary form; avro_build.c is the writer
 * (rill_avro_record_new and the setters); avro_format.c prints a value as JSON; avro_resolve.c
 * reads the schema's defaults and aliases and resolves a writer's schema to a reader's;
 * avro_serde.c is the rill_serde_t with Confluent's wire format and the registry client's cache.
 */
#ifndef RILL_SERDE_AVRO_INT_H
#define RILL_SERDE_AVRO_INT_H

#include <rill/serde.h>

#include <stdarg.h>
#include <stdatomic.h>
#include <string.h>

/* Defined in serde.c: writes a message into errstr (which may be NULL or of size 0). */
void rill__serde_err(char *errstr, size_t errstr_size, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Confluent's wire header, before the body of every registry serde's record: the magic byte 0,
 * then the schema id in 4 bytes, big-endian. */
#define RILL__WIRE_HEADER_SIZE 5

/* Defined in avro_serde.c: writes into errstr why bytes is not in Confluent's wire format, naming
 * its length when it is too short, else byte 0's value, after "who: " when who is not NULL. */
void rill__wire_header_err(const char *who, rill_buf_t bytes, char *errstr, size_t errstr_size);

/* Reads Confluent's wire header at the front of bytes into *id (the body starts at
 * RILL__WIRE_HEADER_SIZE). 0, or RILL_ESERDE with errstr as rill__wire_header_err() writes it.
 * Inline: every record a registry serde reads goes through it. */
static inline int wire_header_read(const char *who, rill_buf_t bytes, int32_t *id, char *errstr,
                                   size_t errstr_size)
{
    const uint8_t *b = bytes.data;
    if (bytes.len < RILL__WIRE_HEADER_SIZE || b[0] != 0) {
        rill__wire_header_err(who, bytes, errstr, errstr_size);
        return RILL_ESERDE;
    }
    *id = (int32_t)((uint32_t)b[1] << 24 | (uint32_t)b[2] << 16 | (uint32_t)b[3] << 8 | b[4]);
    return 0;
}

/* Writes Confluent's wire header of schema id into out. */
static inline void wire_header_write(uint8_t out[RILL__WIRE_HEADER_SIZE], int32_t id)
{
    out[0] = 0;
    rill_encode_i32(out + 1, id);
}

/* The registry client's base URL, for error messages, borrowed ("mock://" for a mock). */
const char *rill__registry_url(const rill_registry_client_t *registry);

/* Defined in serde.c: the state of serde when its ops are ops, else NULL. */
void *rill__serde_state(const rill_serde_t *serde, const rill_serde_ops *ops);

/* What the registry serdes (Avro, JSON Schema) are configured with, as Confluent's serializers
 * name it; the strings are borrowed from the conf array. */
typedef struct {
    const char *url, *user_info, *schema, *reader_schema, *topic, *strategy;
    bool auto_register, use_latest, is_key;
} rill__registry_serde_conf_t;

/* Reads conf (key, value pairs, NULL-terminated) into *out (defaults first: auto.register.schemas
 * true); what ("avro serde") names the serde in errors; with_reader: reader.schema and
 * subject.name.strategy are known keys. 0 or RILL_ECONFIG naming the key. */
int rill__registry_serde_conf(const char *what, const char *const *conf, bool with_reader,
                              rill__registry_serde_conf_t *out, char *errstr, size_t errstr_size);
/* The registry client of a registry serde: registry (referenced) when given, else a new one for
 * conf's URL. NULL with errstr. */
rill_registry_client_t *rill__registry_serde_client(const char *what,
                                                    const rill__registry_serde_conf_t *conf,
                                                    rill_registry_client_t *registry, char *errstr,
                                                    size_t errstr_size);

/* ---- The Avro serde's internals (serde/avro_*.c) ---- */

#define AVRO_VALUE_LEN 2  /* the view length that marks an Avro value */
#define AVRO_MAX_DEPTH 64 /* nesting of values, against stack exhaustion by hostile input */
#define AVRO_BIT(t)    (1u << (t)) /* a set of rill_avro_type_t */

struct avro_obj_t; /* avro-c's avro_schema_t, seen only by avro_codec.c */
typedef struct avro_resolver avro_resolver_t;
typedef struct avro_plan avro_plan_t;

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

struct rill_avro_codec {
    atomic_uint refs;
    avro_resolver_t *aux; /* the JSON's named types (defaults, aliases) and the defaults' memory */
    anode_t *root;
    anode_t **nodes; /* every node, owned */
    struct avro_obj_t **srcs;
    size_t nnodes, cap;
    struct avro_obj_t *avro;
    char *text;
};

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

/* The path's next segment: a name (possibly empty) then indexes "[n]". */
typedef struct {
    const char *name;
    size_t len;
    uint64_t key; /* the first 8 bytes of the name, as anode_t's name_keys */
} avro_seg_t;

/* Where the codec is, for error messages: the field names, map keys and indexes walked. */
typedef struct {
    struct {
        const char *name; /* NULL: an index */
        size_t len;
        size_t index;
    } seg[AVRO_MAX_DEPTH + 1];
    int depth;
} avro_where_t;

static inline rill_buf_t avro_view(avro_doc_t *doc)
{
    return (rill_buf_t){doc, AVRO_VALUE_LEN};
}

/* Makes v an unset value declared as decl. */
static inline void avro_value_init(rill_avro_value_t *v, const anode_t *decl)
{
    memset(v, 0, sizeof *v);
    v->node = v->decl = decl;
    v->branch = -1;
}

/* The path helpers of the getters (avro_value.c) and the setters (avro_build.c), inline: called
 * per segment, and a call each cost 7% on bench-avro-cost serx (callgrind). */

/* Reads a segment's name, making its key on the way (one pass over the bytes: the first eight
 * make the key, the rest are only scanned). */
static inline const char *avro_seg_name(const char *p, avro_seg_t *seg)
{
    /* The bytes that end a segment's name: NUL, '.' and '['. */
    static const uint8_t seg_end[256] = {[0] = 1, ['.'] = 1, ['['] = 1};
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

/* Parses "[n]" at *p and moves *p past it; false when *p holds no index. (By hand: strtoull costs a
 * hundred instructions, more than the rest of a field's walk.) */
static inline bool avro_seg_index(const char **p, size_t *index)
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

/* Record v's field or map v's entry (the last of the key) named seg, or NULL. */
static inline rill_avro_value_t *avro_child_by_name(rill_avro_value_t *v, const avro_seg_t *seg)
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

/* Record v's field, or array or map v's element, at i; NULL when none. */
static inline rill_avro_value_t *avro_child_at(rill_avro_value_t *v, size_t i)
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

/* avro_value.c: where as "a.b[2].c" into buf ("(the top-level value)" when at the top). */
void rill__avro_where_format(const avro_where_t *where, char *buf, size_t size);

/* avro_binary.c: decodes the Avro body [p, end) of schema id (subject may be NULL; base: the
 * bytes before p, for offsets) into *v in arena; the whole body must be read. 0, RILL_ESERDE
 * with errstr naming the id, the byte offset and the field, or RILL_ENOMEM. */
int rill__avro_decode(const anode_t *root, const uint8_t *p, const uint8_t *end, size_t base,
                      int32_t id, const char *subject, rill_arena_t *arena, rill_avro_value_t *v,
                      char *errstr, size_t errstr_size);
/* avro_binary.c: appends v's binary encoding to out; RILL_ESERDE naming the field not set. */
int rill__avro_encode(const rill_avro_value_t *v, rill_bytes_t *out, char *errstr,
                      size_t errstr_size);

/* avro_build.c: the index of enum node's symbol s (len bytes), or -1. */
int rill__avro_symbol_of(const anode_t *node, const void *s, size_t len);

/* avro_resolve.c: reads schema's JSON for its named types and its fields' defaults (into
 * schema->aux and the record nodes' defaults). 0, or RILL_ECONFIG/RILL_ENOMEM with errstr. */
int rill__avro_codec_defaults(rill_avro_codec_t *schema, char *errstr, size_t errstr_size);
/* avro_resolve.c: compiles writer read as reader into *plan, owned by the resolver returned;
 * NULL with the reason in errstr. reader must outlive the resolver. */
avro_resolver_t *rill__avro_resolver_new(const rill_avro_codec_t *writer,
                                         const rill_avro_codec_t *reader, avro_plan_t **plan,
                                         char *errstr, size_t errstr_size);
/* avro_resolve.c: frees rs and its plans; accepts NULL. */
void rill__avro_resolver_free(avro_resolver_t *rs);
/* avro_resolve.c: makes out, the reader's value of the writer's value w, in arena. 0, or
 * RILL_ESERDE / RILL_ENOMEM with "field <path>: <why>" in err. */
int rill__avro_project(const avro_plan_t *plan, const rill_avro_value_t *w, rill_arena_t *arena,
                       rill_avro_value_t *out, char *err, size_t err_size);

/* The ops a serde was made with (serde.c): which serde it is, whatever its name says. */
const rill_serde_ops *rill__serde_ops_of(const rill_serde_t *serde);
/* Whether serde is an Avro serde (avro_serde.c) or a JSON Schema one (json_schema_serde.c). */
bool rill__serde_is_avro(const rill_serde_t *serde);
bool rill__serde_is_json_schema(const rill_serde_t *serde);

#endif
