/*
 * Reading with a reader schema, and the defaults of a schema's fields.
 *
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
#include "avro_int.h"

#include <jansson.h>

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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

struct avro_plan {
    uint8_t kind;
    const anode_t *w;     /* the writer's declared type */
    const anode_t *rdecl; /* the reader's declared type: a union, or rnode */
    const anode_t *rnode;
    int32_t rbranch;             /* the reader union's branch, or -1 */
    uint32_t n;                  /* sub's length */
    avro_plan_t **sub;           /* records: per reader field; arrays, maps: [0]; writer unions:
                               per writer branch (NULL: the branch cannot be read) */
    int32_t *wfield;             /* records: the writer's field per reader field, -1: default */
    rill_avro_value_t *defaults; /* records: per reader field, when wfield is -1 */
    int32_t *enum_map;           /* enums: reader symbol per writer symbol, -1: none */
    char *why;                   /* writer union branches that cannot be read: the reason */
};

/* Everything a resolution owns: its plans and the memory of its defaults, freed together. */
struct avro_resolver {
    void **allocs;
    size_t n, cap;
    json_t *named; /* the named types by full name: their JSON objects */
    bool owns_named;
    avro_plan_t **memo; /* plans made so far, for recursive records */
    size_t nmemo, capmemo;
    char err[400];    /* the last failure, with its field path */
    char reason[160]; /* the same without the path */
    avro_where_t path;
};

/* Makes room for one more element in the array *items (n used, *cap allocated, elements of
 * size bytes), doubling it from first; false when the allocation fails (*items kept). */
static bool grow(void *items, size_t *cap, size_t n, size_t size, size_t first)
{
    if (n < *cap)
        return true;
    size_t grown_cap = *cap ? *cap * 2 : first;
    void *old, *grown;
    memcpy(&old, items, sizeof old);
    if (!(grown = rill_realloc(old, grown_cap * size)))
        return false;
    memcpy(items, &grown, sizeof grown);
    *cap = grown_cap;
    return true;
}

static void *res_alloc(avro_resolver_t *rs, size_t size)
{
    if (!grow(&rs->allocs, &rs->cap, rs->n, sizeof *rs->allocs, 32))
        return NULL;
    void *p = rill_calloc(1, size ? size : 1);
    if (p)
        rs->allocs[rs->n++] = p;
    return p;
}

void rill__avro_resolver_free(avro_resolver_t *rs)
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

static int __attribute__((format(printf, 2, 3))) res_fail(avro_resolver_t *rs, const char *fmt, ...)
{
    char where[200];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(rs->reason, sizeof rs->reason, fmt, ap);
    va_end(ap);
    rill__avro_where_format(&rs->path, where, sizeof where);
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
static json_t *named_json(avro_resolver_t *rs, const anode_t *node)
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
static bool names_match(avro_resolver_t *rs, const anode_t *w, const anode_t *r)
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
static bool readable(avro_resolver_t *rs, const anode_t *w, const anode_t *r, bool exact)
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

static int default_value(avro_resolver_t *rs, const anode_t *decl, json_t *j,
                         rill_avro_value_t *out, int depth);

/* A string, bytes or fixed default: j's text copied into the resolver's memory, *len bytes; NULL
 * with *rc. */
static uint8_t *default_text(avro_resolver_t *rs, json_t *j, size_t *len, int *rc)
{
    const char *s = json_string_value(j);
    if (!s) {
        *rc = res_fail(rs, "default is not a string");
        return NULL;
    }
    *len = json_string_length(j);
    uint8_t *p = res_alloc(rs, *len);
    *rc = RILL_ENOMEM;
    if (p)
        memcpy(p, s, *len);
    return p;
}

/* Bytes and fixed defaults are JSON strings whose code points 0-255 are the bytes: decoded in
 * place (each byte is written at or before the one it is read from). */
static int default_bytes(avro_resolver_t *rs, json_t *j, rill_avro_value_t *out)
{
    size_t len;
    int rc;
    uint8_t *p = default_text(rs, j, &len, &rc);
    if (!p)
        return rc;
    const uint8_t *s = p;
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

static int default_value(avro_resolver_t *rs, const anode_t *decl, json_t *j,
                         rill_avro_value_t *out, int depth)
{
    if (depth > AVRO_MAX_DEPTH)
        return res_fail(rs, "default nested too deep");
    avro_value_init(out, decl);
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
        size_t len;
        int rc;
        uint8_t *p = default_text(rs, j, &len, &rc);
        if (!p)
            return rc;
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
        int k = s ? rill__avro_symbol_of(node, s, strlen(s)) : -1;
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
int rill__avro_codec_defaults(rill_avro_codec_t *schema, char *errstr, size_t errstr_size)
{
    avro_resolver_t *aux = rill_calloc(1, sizeof *aux);
    json_error_t jerr;
    json_t *doc = json_loads(schema->text, JSON_DECODE_ANY, &jerr);
    if (!aux || !doc || !(aux->named = json_object())) {
        rill__serde_err(errstr, errstr_size, "avro schema: %s",
                        aux && !doc ? jerr.text : "out of memory");
        json_decref(doc);
        rill__avro_resolver_free(aux);
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
                rill__serde_err(errstr, errstr_size, "invalid Avro schema: field %s of %s: %s",
                                node->names[i], node->fullname, aux->reason);
                return RILL_ECONFIG;
            }
        }
    }
    return 0;
}

static avro_plan_t *make_plan(avro_resolver_t *rs, const anode_t *w, const anode_t *rdecl,
                              int depth);

/* The plan of writer record w read as reader record r. */
static int plan_record(avro_resolver_t *rs, avro_plan_t *p, const anode_t *w, const anode_t *r,
                       int depth)
{
    json_t *fields = json_object_get(named_json(rs, r), "fields");
    p->n = r->n;
    p->sub = res_alloc(rs, r->n * sizeof *p->sub);
    p->wfield = res_alloc(rs, r->n * sizeof *p->wfield);
    p->defaults = res_alloc(rs, r->n * sizeof *p->defaults);
    if (!p->sub || !p->wfield || !p->defaults)
        return RILL_ENOMEM;
    int d = rs->path.depth;
    if (d >= AVRO_MAX_DEPTH)
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
static avro_plan_t *make_plan_in(avro_resolver_t *rs, const anode_t *w, const anode_t *rdecl,
                                 int depth)
{
    if (depth > 4 * AVRO_MAX_DEPTH) {
        res_fail(rs, "schemas nested too deep");
        return NULL;
    }
    for (size_t i = 0; i < rs->nmemo; i++)
        if (rs->memo[i]->w == w && rs->memo[i]->rdecl == rdecl)
            return rs->memo[i];
    avro_plan_t *p = res_alloc(rs, sizeof *p);
    if (!p)
        return NULL;
    p->w = w;
    p->rdecl = rdecl;
    p->rbranch = -1;
    if (!grow(&rs->memo, &rs->capmemo, rs->nmemo, sizeof *rs->memo, 16))
        return NULL;
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
        int dk = def ? rill__avro_symbol_of(r, def, strlen(def)) : -1;
        for (uint32_t i = 0; i < w->n; i++) {
            int k = rill__avro_symbol_of(r, w->names[i], w->name_lens[i]);
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
static avro_plan_t *make_plan(avro_resolver_t *rs, const anode_t *w, const anode_t *rdecl,
                              int depth)
{
    size_t memo = rs->nmemo;
    avro_plan_t *p = make_plan_in(rs, w, rdecl, depth);
    if (!p)
        rs->nmemo = memo;
    return p;
}

avro_resolver_t *rill__avro_resolver_new(const rill_avro_codec_t *writer,
                                         const rill_avro_codec_t *reader, avro_plan_t **root,
                                         char *errstr, size_t errstr_size)
{
    avro_resolver_t *rs = rill_calloc(1, sizeof *rs);
    if (!rs) {
        rill__serde_err(errstr, errstr_size, "out of memory");
        return NULL;
    }
    rs->named = reader->aux->named; /* borrowed: the reader schema outlives the resolution */
    if (!(*root = make_plan(rs, writer->root, reader->root, 0))) {
        rill__serde_err(errstr, errstr_size, "%s", rs->err[0] ? rs->err : "out of memory");
        rill__avro_resolver_free(rs);
        return NULL;
    }
    return rs;
}

typedef struct {
    rill_arena_t *arena;
    avro_where_t path;
    const char *why;
} proj_t;

/* Applies plan p to the writer's value w, making out (the reader's) in the arena. */
static int project(proj_t *pj, const avro_plan_t *p, const rill_avro_value_t *w,
                   rill_avro_value_t *out)
{
    if (p->kind == P_WRITER_UNION) {
        const avro_plan_t *q =
            w->branch >= 0 && (uint32_t)w->branch < p->n ? p->sub[w->branch] : NULL;
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
        if (d >= AVRO_MAX_DEPTH)
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
        if (d >= AVRO_MAX_DEPTH)
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

int rill__avro_project(const avro_plan_t *plan, const rill_avro_value_t *w, rill_arena_t *arena,
                       rill_avro_value_t *out, char *err, size_t err_size)
{
    proj_t pj;
    pj.arena = arena;
    pj.path.depth = 0;
    pj.why = "out of memory";
    int rc = project(&pj, plan, w, out);
    if (rc) {
        char where[200];
        rill__avro_where_format(&pj.path, where, sizeof where);
        snprintf(err, err_size, "field %s: %s", where, pj.why);
    }
    return rc;
}
