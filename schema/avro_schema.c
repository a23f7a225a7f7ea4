/*
 * avro_schema.c — parsing and validating Avro schemas (Avro 1.11 specification, "Schema
 * Declaration"), named types and namespaces, schema references, field defaults.
 *
 * jansson parses the text; the parser walks the tree into avro_node_t nodes (avro_int.h) while
 * keeping a JSON path ("fields[2].type") so an error names its culprit. Named types are entered
 * in the names table before their fields are parsed, so a record may refer to itself. Defaults
 * are checked once the whole schema is parsed: a default may be of a record type whose fields
 * are not all parsed yet when the default is met (a recursive record).
 */
#include "avro_int.h"

#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define MAX_REF_DEPTH 32

typedef struct {
    avro_node_t *type;
    json_t *def;
    char *path;     /* where the default is, */
    char *ref_name; /* in which reference (NULL: the schema itself) */
} pending_default_t;

typedef struct {
    rill_avro_schema_t *schema;
    const rill_avro_parse_opts_t *opts;
    avro_node_t **named;
    size_t named_count, named_cap;
    pending_default_t *defaults;
    size_t default_count, default_cap;
    avro_path_t path;
    const char *ref_name; /* the reference being parsed, for errors; NULL: the schema itself */
    bool external;
    int ref_depth;
    char *err;
    size_t err_size;
    bool failed;
} parser_t;

static const char *const type_names[] = {
    [RILL_AVRO_NULL] = "null",   [RILL_AVRO_BOOLEAN] = "boolean", [RILL_AVRO_INT] = "int",
    [RILL_AVRO_LONG] = "long",   [RILL_AVRO_FLOAT] = "float",     [RILL_AVRO_DOUBLE] = "double",
    [RILL_AVRO_BYTES] = "bytes", [RILL_AVRO_STRING] = "string",   [RILL_AVRO_RECORD] = "record",
    [RILL_AVRO_ENUM] = "enum",   [RILL_AVRO_ARRAY] = "array",     [RILL_AVRO_MAP] = "map",
    [RILL_AVRO_UNION] = "union", [RILL_AVRO_FIXED] = "fixed",
};

const char *rill_avro_type_name(rill_avro_type_t type)
{
    return (unsigned)type <= RILL_AVRO_FIXED ? type_names[type] : NULL;
}

const char *rill__avro_type_upper(rill_avro_type_t type, char buf[16])
{
    const char *name = rill_avro_type_name(type);
    size_t i = 0;
    for (; name && name[i] && i < 15; i++)
        buf[i] = (char)(name[i] - 'a' + 'A');
    buf[i] = 0;
    return buf;
}

/* ---- strings ---- */

void rill__avro_str_add(avro_str_t *b, const char *s, size_t n)
{
    if (b->failed)
        return;
    if (b->len + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 64;
        while (cap < b->len + n + 1)
            cap *= 2;
        char *grown = rill_realloc(b->s, cap);
        if (!grown) {
            b->failed = true;
            return;
        }
        b->s = grown;
        b->cap = cap;
    }
    memcpy(b->s + b->len, s, n);
    b->len += n;
    b->s[b->len] = 0;
}

void rill__avro_str_cstr(avro_str_t *b, const char *s)
{
    rill__avro_str_add(b, s, strlen(s));
}

void rill__avro_str_printf(avro_str_t *b, const char *fmt, ...)
{
    char small[256];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(small, sizeof small, fmt, ap);
    va_end(ap);
    if (n < 0) {
        b->failed = true;
        return;
    }
    if ((size_t)n < sizeof small) {
        rill__avro_str_add(b, small, (size_t)n);
        return;
    }
    char *big = rill_malloc((size_t)n + 1);
    if (!big) {
        b->failed = true;
        return;
    }
    va_start(ap, fmt);
    vsnprintf(big, (size_t)n + 1, fmt, ap);
    va_end(ap);
    rill__avro_str_add(b, big, (size_t)n);
    rill_free(big);
}

bool rill__avro_grow(void *items, size_t *cap, size_t count, size_t elem_size)
{
    if (count < *cap)
        return true;
    size_t grown_cap = *cap ? *cap * 2 : 16;
    void *old;
    memcpy(&old, items, sizeof old);
    void *grown = rill_realloc(old, grown_cap * elem_size);
    if (!grown)
        return false;
    memcpy(items, &grown, sizeof grown);
    *cap = grown_cap;
    return true;
}

size_t rill__avro_path_push(avro_path_t *path, const char *fmt, ...)
{
    size_t saved = path->len;
    if (path->len + 1 < sizeof path->buf) {
        va_list ap;
        va_start(ap, fmt);
        int n = vsnprintf(path->buf + path->len, sizeof path->buf - path->len, fmt, ap);
        va_end(ap);
        if (n > 0)
            path->len += (size_t)n;
        if (path->len >= sizeof path->buf)
            path->len = sizeof path->buf - 1;
    }
    return saved;
}

void rill__avro_path_pop(avro_path_t *path, size_t saved)
{
    path->len = saved;
    path->buf[saved] = 0;
}

/* ---- errors and paths ---- */

static bool fail(parser_t *p, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Records the first error, prefixed with the path (and the reference being parsed). Returns
 * false so callers can `return fail(...)`. */
static bool fail(parser_t *p, const char *fmt, ...)
{
    if (p->failed)
        return false;
    p->failed = true;
    if (!p->err || !p->err_size)
        return false;
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    const char *path = p->path.len ? p->path.buf : "(top level)";
    if (p->ref_name)
        snprintf(p->err, p->err_size, "reference '%s': %s: %s", p->ref_name, path, msg);
    else
        snprintf(p->err, p->err_size, "%s: %s", path, msg);
    return false;
}

#define path_push(p, ...)  rill__avro_path_push(&(p)->path, __VA_ARGS__)
#define path_pop(p, saved) rill__avro_path_pop(&(p)->path, saved)

/* ".name" after a non-empty path, "name" at the top. */
static size_t path_key(parser_t *p, const char *key)
{
    return path_push(p, p->path.len ? ".%s" : "%s", key);
}

/* ---- nodes ---- */

static avro_node_t *node_new(parser_t *p, rill_avro_type_t type)
{
    avro_node_t *node = rill_calloc(1, sizeof *node);
    if (!node) {
        fail(p, "out of memory");
        return NULL;
    }
    node->type = type;
    node->external = p->external;
    node->next_owned = p->schema->nodes;
    p->schema->nodes = node;
    return node;
}

static void free_strings(char **v, size_t n)
{
    for (size_t i = 0; i < n; i++)
        rill_free(v[i]);
    rill_free(v);
}

static void node_free(avro_node_t *node)
{
    rill_free(node->fullname);
    free_strings(node->aliases, node->alias_count);
    for (size_t i = 0; i < node->field_count; i++) {
        avro_field_t *f = &node->fields[i];
        rill_free(f->name);
        rill_free(f->def_text);
        free_strings(f->aliases, f->alias_count);
    }
    rill_free(node->fields);
    free_strings(node->symbols, node->symbol_count);
    rill_free(node->branches);
    rill_free(node);
}

static char *dup_or_fail(parser_t *p, const char *s)
{
    char *copy = rill_strdup(s);
    if (!copy)
        fail(p, "out of memory");
    return copy;
}

/* ---- names ---- */

static bool primitive_type(const char *s, rill_avro_type_t *type)
{
    for (rill_avro_type_t t = RILL_AVRO_NULL; t <= RILL_AVRO_STRING; t++)
        if (strcmp(s, type_names[t]) == 0) {
            *type = t;
            return true;
        }
    return false;
}

/* A name component: [A-Za-z_][A-Za-z0-9_]*. */
static bool valid_name(const char *s, size_t n)
{
    if (n == 0)
        return false;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        bool alpha = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || c == '_';
        if (!alpha && !(i > 0 && c >= '0' && c <= '9'))
            return false;
    }
    return true;
}

/* A namespace: a dotted sequence of names; anything with lax_namespaces (Confluent reads the
 * schemas it already stores so, as AvroSchemaValidateNamesTest shows). */
static bool valid_namespace(const parser_t *p, const char *s, size_t n)
{
    if (p->opts && p->opts->lax_namespaces)
        return true;
    for (;;) {
        const char *dot = memchr(s, '.', n);
        size_t len = dot ? (size_t)(dot - s) : n;
        if (!valid_name(s, len))
            return false;
        if (!dot)
            return true;
        n -= len + 1;
        s = dot + 1;
    }
}

/* A name, or a full name: a namespace, a dot and a name. The name is always checked. */
static bool valid_fullname(const parser_t *p, const char *s)
{
    const char *dot = strrchr(s, '.');
    if (!dot)
        return valid_name(s, strlen(s));
    return valid_name(dot + 1, strlen(dot + 1)) && valid_namespace(p, s, (size_t)(dot - s));
}

/* Makes the full name of name in namespace ns (a name with a dot is already full). */
static char *make_fullname(parser_t *p, const char *name, const char *ns)
{
    if (strchr(name, '.') || !ns || !*ns)
        return dup_or_fail(p, name);
    size_t n = strlen(ns) + 1 + strlen(name) + 1;
    char *full = rill_malloc(n);
    if (!full) {
        fail(p, "out of memory");
        return NULL;
    }
    snprintf(full, n, "%s.%s", ns, name);
    return full;
}

static avro_node_t *find_named(parser_t *p, const char *fullname)
{
    for (size_t i = 0; i < p->named_count; i++)
        if (strcmp(p->named[i]->fullname, fullname) == 0)
            return p->named[i];
    return NULL;
}

static bool define_named(parser_t *p, avro_node_t *node)
{
    if (find_named(p, node->fullname))
        return fail(p, "the name '%s' is already defined", node->fullname);
    if (!rill__avro_grow(&p->named, &p->named_cap, p->named_count, sizeof *p->named))
        return fail(p, "out of memory");
    p->named[p->named_count++] = node;
    return true;
}

static avro_node_t *parse_root(parser_t *p, const char *text, size_t len);

/* Asks the caller's resolver for the schema that defines fullname and parses it. */
static avro_node_t *resolve_reference(parser_t *p, const char *fullname)
{
    const rill_avro_parse_opts_t *opts = p->opts;
    if (!opts || !opts->resolve)
        return NULL;
    if (p->ref_depth >= MAX_REF_DEPTH) {
        fail(p, "references nested deeper than %d while resolving '%s'", MAX_REF_DEPTH, fullname);
        return NULL;
    }
    rill_buf_t text = {0};
    int rc = opts->resolve(opts->opaque, fullname, &text);
    if (rc == RILL_ENOENT)
        return NULL;
    if (rc != 0) {
        fail(p, "the reference resolver failed for '%s': %s", fullname, rill_strerror(rc));
        return NULL;
    }
    /* The reference is parsed with a path of its own; the caller's path is restored after. */
    avro_path_t saved_path = p->path;
    const char *saved_ref = p->ref_name;
    bool saved_external = p->external;
    p->path.len = 0;
    p->path.buf[0] = 0;
    p->ref_name = fullname;
    p->external = true;
    p->ref_depth++;
    avro_node_t *parsed = parse_root(p, text.data, text.len);
    p->ref_depth--;
    p->external = saved_external;
    p->ref_name = saved_ref;
    p->path = saved_path;
    if (!parsed)
        return NULL;
    avro_node_t *node = find_named(p, fullname);
    if (!node)
        fail(p, "the schema the resolver gave for '%s' does not define it", fullname);
    return node;
}

/* Looks a type name up: relative to the enclosing namespace, then in the null namespace (as
 * Avro's Java parser does), then through the resolver. */
static avro_node_t *lookup_named(parser_t *p, const char *ref, const char *ns)
{
    char *full = make_fullname(p, ref, ns);
    if (!full)
        return NULL;
    avro_node_t *node = find_named(p, full);
    if (!node && strcmp(full, ref) != 0)
        node = find_named(p, ref);
    if (!node && !p->failed)
        node = resolve_reference(p, full);
    if (!node && !p->failed && strcmp(full, ref) != 0)
        node = resolve_reference(p, ref);
    if (!node && !p->failed)
        fail(p, "unknown type '%s'", full);
    rill_free(full);
    return node;
}

/* ---- attributes ---- */

/* Reads an optional string attribute: true and *out (NULL if absent), or false on error. */
static bool opt_string(parser_t *p, json_t *obj, const char *key, const char **out)
{
    json_t *v = json_object_get(obj, key);
    *out = NULL;
    if (!v)
        return true;
    if (!json_is_string(v) || strlen(json_string_value(v)) != json_string_length(v)) {
        size_t saved = path_key(p, key);
        fail(p, "'%s' must be a string (without NUL)", key);
        path_pop(p, saved);
        return false;
    }
    *out = json_string_value(v);
    return true;
}

/* Reads "aliases": an array of names, made full in ns when full_names is set (named types);
 * field aliases are plain names. */
static bool parse_aliases(parser_t *p, json_t *obj, const char *ns, bool full_names, char ***out,
                          size_t *count)
{
    json_t *arr = json_object_get(obj, "aliases");
    *out = NULL;
    *count = 0;
    if (!arr)
        return true;
    size_t saved = path_key(p, "aliases");
    bool ok = true;
    if (!json_is_array(arr)) {
        ok = fail(p, "'aliases' must be an array of names");
    } else if (json_array_size(arr)) {
        *out = rill_calloc(json_array_size(arr), sizeof **out);
        if (!*out)
            ok = fail(p, "out of memory");
        for (size_t i = 0; ok && i < json_array_size(arr); i++) {
            json_t *a = json_array_get(arr, i);
            const char *s = json_string_value(a);
            size_t item = path_push(p, "[%zu]", i);
            if (!s || !(full_names ? valid_fullname(p, s) : valid_name(s, strlen(s))))
                ok = fail(p, "an alias must be a %s", full_names ? "name" : "field name");
            else if (((*out)[i] = full_names ? make_fullname(p, s, ns) : dup_or_fail(p, s)))
                (*count)++;
            else
                ok = false;
            path_pop(p, item);
        }
    }
    path_pop(p, saved);
    return ok;
}

/* Reads name, namespace and aliases of a named type into node; *node_ns gets the namespace its
 * contents are in (borrowed from node->fullname's copy: the caller frees it). */
static bool parse_named(parser_t *p, json_t *obj, const char *ns, avro_node_t *node, char **node_ns)
{
    const char *name, *space = NULL, *doc;
    json_t *space_j = json_object_get(obj, "namespace");
    if (!opt_string(p, obj, "name", &name) || !opt_string(p, obj, "doc", &doc) ||
        (!json_is_null(space_j) && !opt_string(p, obj, "namespace", &space)))
        return false;
    if (!name)
        return fail(p, "a %s needs a 'name'", type_names[node->type]);
    if (json_is_null(space_j))
        space = ""; /* the null namespace, explicitly */
    if (!valid_fullname(p, name)) {
        size_t saved = path_key(p, "name");
        fail(p, "'%s' is not a valid name", name);
        path_pop(p, saved);
        return false;
    }
    if (space && *space && !valid_namespace(p, space, strlen(space))) {
        size_t saved = path_key(p, "namespace");
        fail(p, "'%s' is not a valid namespace", space);
        path_pop(p, saved);
        return false;
    }
    node->fullname = make_fullname(p, name, space ? space : ns);
    if (!node->fullname)
        return false;
    const char *dot = strrchr(node->fullname, '.');
    node->name = dot ? dot + 1 : node->fullname;
    rill_avro_type_t prim;
    if (primitive_type(node->name, &prim))
        return fail(p, "the name '%s' is a primitive type's", node->name);
    *node_ns = dot ? rill_malloc((size_t)(dot - node->fullname) + 1) : rill_strdup("");
    if (!*node_ns)
        return fail(p, "out of memory");
    if (dot) {
        memcpy(*node_ns, node->fullname, (size_t)(dot - node->fullname));
        (*node_ns)[dot - node->fullname] = 0;
    }
    if (!parse_aliases(p, obj, *node_ns, true, &node->aliases, &node->alias_count))
        return false;
    return define_named(p, node);
}

/* ---- logical types ---- */

/* Keeps a logical type annotation when it is valid for node; the specification says an
 * invalid one is ignored (the underlying type stands), which is what Avro's Java parser does. */
static void parse_logical(json_t *obj, avro_node_t *node)
{
    static const struct {
        const char *name;
        rill_avro_type_t type;
    } simple[] = {
        {"uuid", RILL_AVRO_STRING},
        {"date", RILL_AVRO_INT},
        {"time-millis", RILL_AVRO_INT},
        {"time-micros", RILL_AVRO_LONG},
        {"timestamp-millis", RILL_AVRO_LONG},
        {"timestamp-micros", RILL_AVRO_LONG},
        {"timestamp-nanos", RILL_AVRO_LONG},
        {"local-timestamp-millis", RILL_AVRO_LONG},
        {"local-timestamp-micros", RILL_AVRO_LONG},
        {"local-timestamp-nanos", RILL_AVRO_LONG},
    };
    const char *lt = json_string_value(json_object_get(obj, "logicalType"));
    if (!lt)
        return;
    for (size_t i = 0; i < sizeof simple / sizeof simple[0]; i++)
        if (strcmp(lt, simple[i].name) == 0) {
            if (node->type == simple[i].type)
                node->logical = simple[i].name;
            return;
        }
    if (strcmp(lt, "duration") == 0) {
        if (node->type == RILL_AVRO_FIXED && node->size == 12)
            node->logical = "duration";
        return;
    }
    if (strcmp(lt, "decimal") != 0 ||
        (node->type != RILL_AVRO_BYTES && node->type != RILL_AVRO_FIXED))
        return;
    json_t *prec = json_object_get(obj, "precision"), *scale = json_object_get(obj, "scale");
    if (!json_is_integer(prec) || (scale && !json_is_integer(scale)))
        return;
    long precision = (long)json_integer_value(prec);
    long sc = scale ? (long)json_integer_value(scale) : 0;
    if (precision <= 0 || sc < 0 || sc > precision)
        return;
    if (node->type == RILL_AVRO_FIXED) {
        /* The largest precision a two's-complement number of size bytes holds. */
        double max = floor(log10(pow(2, 8.0 * (double)node->size - 1) - 1));
        if ((double)precision > max)
            return;
    }
    node->logical = "decimal";
    node->precision = precision;
    node->scale = sc;
}

/* ---- types ---- */

static avro_node_t *parse_type(parser_t *p, json_t *j, const char *ns);

static bool add_pending_default(parser_t *p, avro_node_t *type, json_t *def)
{
    if (p->opts && p->opts->lax_defaults)
        return true;
    if (!rill__avro_grow(&p->defaults, &p->default_cap, p->default_count, sizeof *p->defaults))
        return fail(p, "out of memory");
    char *path = dup_or_fail(p, p->path.buf);
    char *ref_name = p->ref_name ? dup_or_fail(p, p->ref_name) : NULL;
    if (!path || (p->ref_name && !ref_name)) {
        rill_free(path);
        return false;
    }
    p->defaults[p->default_count++] = (pending_default_t){type, def, path, ref_name};
    return true;
}

static bool parse_fields(parser_t *p, json_t *obj, const char *ns, avro_node_t *node)
{
    json_t *fields = json_object_get(obj, "fields");
    size_t saved = path_key(p, "fields");
    if (!json_is_array(fields)) {
        fail(p, "a record needs 'fields', an array");
        path_pop(p, saved);
        return false;
    }
    path_pop(p, saved);
    size_t n = json_array_size(fields);
    if (n && !(node->fields = rill_calloc(n, sizeof *node->fields)))
        return fail(p, "out of memory");
    for (size_t i = 0; i < n; i++) {
        json_t *fj = json_array_get(fields, i);
        size_t at = path_push(p, p->path.len ? ".fields[%zu]" : "fields[%zu]", i);
        avro_field_t *f = &node->fields[i];
        const char *name, *doc, *order;
        bool ok = json_is_object(fj) || fail(p, "a field must be an object");
        ok = ok && opt_string(p, fj, "name", &name) && opt_string(p, fj, "doc", &doc) &&
             opt_string(p, fj, "order", &order);
        if (ok && !name)
            ok = fail(p, "a field needs a 'name'");
        if (ok && !valid_name(name, strlen(name)))
            ok = fail(p, "'%s' is not a valid field name", name);
        for (size_t k = 0; ok && k < i; k++)
            if (strcmp(node->fields[k].name, name) == 0)
                ok = fail(p, "a second field named '%s' in record '%s'", name, node->fullname);
        if (ok && order && strcmp(order, "ascending") && strcmp(order, "descending") &&
            strcmp(order, "ignore"))
            ok = fail(p, "'order' must be ascending, descending or ignore, not '%s'", order);
        if (ok) {
            f->name = dup_or_fail(p, name);
            f->json = fj;
            f->order = !order            ? NULL
                       : order[0] == 'd' ? "descending"
                       : order[0] == 'i' ? "ignore"
                                         : NULL;
            ok = f->name != NULL;
            node->field_count = i + 1; /* so that node_free frees what was made */
        }
        ok = ok && parse_aliases(p, fj, ns, false, &f->aliases, &f->alias_count);
        if (ok) {
            json_t *tj = json_object_get(fj, "type");
            size_t t = path_key(p, "type");
            if (!tj)
                ok = fail(p, "a field needs a 'type'");
            else
                ok = (f->type = parse_type(p, tj, ns)) != NULL;
            path_pop(p, t);
        }
        if (ok && (f->def = json_object_get(fj, "default"))) {
            size_t d = path_key(p, "default");
            ok = add_pending_default(p, f->type, f->def);
            path_pop(p, d);
        }
        path_pop(p, at);
        if (!ok)
            return false;
    }
    return true;
}

static bool parse_enum(parser_t *p, json_t *obj, avro_node_t *node)
{
    json_t *symbols = json_object_get(obj, "symbols");
    size_t saved = path_key(p, "symbols");
    bool ok = json_is_array(symbols) || fail(p, "an enum needs 'symbols', an array of names");
    size_t n = ok ? json_array_size(symbols) : 0;
    if (ok && n && !(node->symbols = rill_calloc(n, sizeof *node->symbols)))
        ok = fail(p, "out of memory");
    for (size_t i = 0; ok && i < n; i++) {
        const char *s = json_string_value(json_array_get(symbols, i));
        size_t at = path_push(p, "[%zu]", i);
        if (!s || !valid_name(s, strlen(s)))
            ok = fail(p, "an enum symbol must be a name");
        for (size_t k = 0; ok && k < i; k++)
            if (strcmp(node->symbols[k], s) == 0)
                ok = fail(p, "the symbol '%s' appears twice", s);
        if (ok && (node->symbols[i] = dup_or_fail(p, s)))
            node->symbol_count++;
        else
            ok = false;
        path_pop(p, at);
    }
    path_pop(p, saved);
    json_t *def = json_object_get(obj, "default");
    if (ok && def) {
        /* Checked even with lax_defaults: Avro's Java parser always refuses such an enum. */
        saved = path_key(p, "default");
        const char *s = json_string_value(def);
        for (size_t i = 0; s && i < node->symbol_count && !node->enum_default; i++)
            if (strcmp(node->symbols[i], s) == 0)
                node->enum_default = node->symbols[i];
        if (!node->enum_default)
            ok = fail(p, "the enum default must be one of the symbols of '%s'", node->fullname);
        path_pop(p, saved);
    }
    return ok;
}

static bool parse_fixed(parser_t *p, json_t *obj, avro_node_t *node)
{
    json_t *size = json_object_get(obj, "size");
    if (json_is_integer(size) && json_integer_value(size) >= 0) {
        node->size = (size_t)json_integer_value(size);
        return true;
    }
    size_t saved = path_key(p, "size");
    fail(p, "a fixed needs a 'size', a non-negative integer");
    path_pop(p, saved);
    return false;
}

static avro_node_t *parse_union(parser_t *p, json_t *arr, const char *ns)
{
    avro_node_t *node = node_new(p, RILL_AVRO_UNION);
    size_t n = json_array_size(arr);
    if (!node || (n && !(node->branches = rill_calloc(n, sizeof *node->branches)))) {
        fail(p, "out of memory");
        return NULL;
    }
    for (size_t i = 0; i < n; i++) {
        size_t at = path_push(p, "[%zu]", i);
        avro_node_t *b = parse_type(p, json_array_get(arr, i), ns);
        bool ok = b != NULL;
        if (ok && b->type == RILL_AVRO_UNION)
            ok = fail(p, "a union may not immediately contain another union");
        for (size_t k = 0; ok && k < i; k++) {
            avro_node_t *o = node->branches[k];
            bool named = b->fullname != NULL;
            if (o->type == b->type && (!named || strcmp(o->fullname, b->fullname) == 0))
                ok = fail(p, "the union already has a branch of type '%s'",
                          named ? b->fullname : type_names[b->type]);
        }
        path_pop(p, at);
        if (!ok)
            return NULL;
        node->branches[node->branch_count++] = b;
    }
    return node;
}

/* Parses the complex type named by type in the object obj. */
static avro_node_t *parse_complex(parser_t *p, json_t *obj, const char *type, const char *ns)
{
    rill_avro_type_t t;
    if (strcmp(type, "record") == 0 || strcmp(type, "error") == 0)
        t = RILL_AVRO_RECORD;
    else if (strcmp(type, "enum") == 0)
        t = RILL_AVRO_ENUM;
    else if (strcmp(type, "fixed") == 0)
        t = RILL_AVRO_FIXED;
    else if (strcmp(type, "array") == 0)
        t = RILL_AVRO_ARRAY;
    else if (strcmp(type, "map") == 0)
        t = RILL_AVRO_MAP;
    else
        return lookup_named(p, type, ns);
    avro_node_t *node = node_new(p, t);
    if (!node)
        return NULL;
    node->json = obj;
    bool ok = true;
    if (t == RILL_AVRO_ARRAY || t == RILL_AVRO_MAP) {
        const char *key = t == RILL_AVRO_ARRAY ? "items" : "values";
        json_t *inner = json_object_get(obj, key);
        size_t saved = path_key(p, key);
        if (!inner)
            ok = fail(p, "an %s needs '%s'", type_names[t], key);
        else
            ok = (node->items = parse_type(p, inner, ns)) != NULL;
        path_pop(p, saved);
        return ok ? node : NULL;
    }
    char *node_ns = NULL;
    /* The size comes first: a fixed's logical type depends on it. */
    ok = (t != RILL_AVRO_FIXED || parse_fixed(p, obj, node)) &&
         parse_named(p, obj, ns, node, &node_ns);
    if (ok && t == RILL_AVRO_RECORD)
        ok = parse_fields(p, obj, node_ns, node);
    else if (ok && t == RILL_AVRO_ENUM)
        ok = parse_enum(p, obj, node);
    rill_free(node_ns);
    if (ok && t == RILL_AVRO_FIXED)
        parse_logical(obj, node);
    return ok ? node : NULL;
}

static avro_node_t *parse_type(parser_t *p, json_t *j, const char *ns)
{
    rill_avro_type_t prim;
    if (json_is_string(j)) {
        const char *s = json_string_value(j);
        if (strlen(s) != json_string_length(j)) {
            fail(p, "a type name must not contain NUL");
            return NULL;
        }
        if (primitive_type(s, &prim))
            return node_new(p, prim);
        if (!valid_fullname(p, s)) {
            fail(p, "'%s' is not a type", s);
            return NULL;
        }
        return lookup_named(p, s, ns);
    }
    if (json_is_array(j))
        return parse_union(p, j, ns);
    if (!json_is_object(j)) {
        fail(p, "a schema must be a string, an object or an array");
        return NULL;
    }
    json_t *tj = json_object_get(j, "type");
    if (!json_is_string(tj)) {
        size_t saved = path_key(p, "type");
        fail(p, tj ? "'type' must be a string" : "a schema object needs a 'type'");
        path_pop(p, saved);
        return NULL;
    }
    const char *type = json_string_value(tj);
    if (primitive_type(type, &prim)) {
        avro_node_t *node = node_new(p, prim);
        if (node) {
            node->json = j;
            parse_logical(j, node);
        }
        return node;
    }
    return parse_complex(p, j, type, ns);
}

/* ---- defaults ---- */

/* Whether s (UTF-8) holds only code points up to U+00FF, as bytes and fixed defaults must;
 * *count gets how many. */
static bool latin1_string(const char *s, size_t len, size_t *count)
{
    *count = 0;
    for (size_t i = 0; i < len; (*count)++) {
        unsigned char c = (unsigned char)s[i];
        if (c < 0x80)
            i++;
        else if ((c == 0xc2 || c == 0xc3) && i + 1 < len)
            i += 2;
        else
            return false;
    }
    return true;
}

/* Whether v is a valid value of type (the first branch for a union), as the specification's
 * table of default values says. */
static bool valid_default(const avro_node_t *type, json_t *v)
{
    size_t count;
    switch (type->type) {
    case RILL_AVRO_NULL:
        return json_is_null(v);
    case RILL_AVRO_BOOLEAN:
        return json_is_boolean(v);
    case RILL_AVRO_INT:
        return json_is_integer(v) && json_integer_value(v) >= INT32_MIN &&
               json_integer_value(v) <= INT32_MAX;
    case RILL_AVRO_LONG:
        return json_is_integer(v);
    case RILL_AVRO_FLOAT:
    case RILL_AVRO_DOUBLE:
        return json_is_number(v);
    case RILL_AVRO_BYTES:
        return json_is_string(v) &&
               latin1_string(json_string_value(v), json_string_length(v), &count);
    case RILL_AVRO_STRING:
        return json_is_string(v);
    case RILL_AVRO_FIXED:
        return json_is_string(v) &&
               latin1_string(json_string_value(v), json_string_length(v), &count) &&
               count == type->size;
    case RILL_AVRO_ENUM:
        if (!json_is_string(v))
            return false;
        for (size_t i = 0; i < type->symbol_count; i++)
            if (strcmp(type->symbols[i], json_string_value(v)) == 0)
                return true;
        return false;
    case RILL_AVRO_ARRAY: {
        if (!json_is_array(v))
            return false;
        for (size_t i = 0; i < json_array_size(v); i++)
            if (!valid_default(type->items, json_array_get(v, i)))
                return false;
        return true;
    }
    case RILL_AVRO_MAP: {
        const char *key;
        json_t *value;
        if (!json_is_object(v))
            return false;
        json_object_foreach(v, key, value)
        {
            if (!valid_default(type->items, value))
                return false;
        }
        return true;
    }
    case RILL_AVRO_RECORD:
        if (!json_is_object(v))
            return false;
        for (size_t i = 0; i < type->field_count; i++) {
            const avro_field_t *f = &type->fields[i];
            json_t *fv = json_object_get(v, f->name);
            if (!fv ? !f->def : !valid_default(f->type, fv))
                return false;
        }
        return true;
    case RILL_AVRO_UNION:
        return type->branch_count && valid_default(type->branches[0], v);
    }
    return false;
}

static bool check_defaults(parser_t *p)
{
    for (size_t i = 0; i < p->default_count; i++) {
        pending_default_t *d = &p->defaults[i];
        if (valid_default(d->type, d->def))
            continue;
        char *text = json_dumps(d->def, JSON_COMPACT | JSON_ENCODE_ANY);
        const avro_node_t *t = d->type;
        const char *what =
            t->type == RILL_AVRO_UNION && t->branch_count ? "first branch of the union, " : "";
        if (t->type == RILL_AVRO_UNION && t->branch_count)
            t = t->branches[0];
        snprintf(p->path.buf, sizeof p->path.buf, "%s", d->path);
        p->path.len = strlen(p->path.buf);
        p->ref_name = d->ref_name;
        fail(p, "the default %.80s is not a valid value of the field's type (%s%s)",
             text ? text : "?", what, t->fullname ? t->fullname : type_names[t->type]);
        free(text);
        return false;
    }
    return true;
}

/* ---- the parse ---- */

/* Parses one schema text (the schema or a referenced one) into p's names; returns its top. */
static avro_node_t *parse_root(parser_t *p, const char *text, size_t len)
{
    json_error_t jerr;
    json_t *root =
        json_loadb(text ? text : "", text ? len : 0, JSON_DECODE_ANY | JSON_ALLOW_NUL, &jerr);
    if (!root) {
        fail(p, "invalid JSON at line %d, column %d: %s", jerr.line, jerr.column, jerr.text);
        return NULL;
    }
    rill_avro_schema_t *schema = p->schema;
    json_t **grown = rill_realloc(schema->roots, (schema->root_count + 1) * sizeof *grown);
    if (!grown) {
        json_decref(root);
        fail(p, "out of memory");
        return NULL;
    }
    schema->roots = grown;
    schema->roots[schema->root_count++] = root;
    return parse_type(p, root, "");
}

/* Writes every field default as compact JSON text, for rill_avro_node_field_default(). */
static bool make_default_texts(parser_t *p, rill_avro_schema_t *schema)
{
    for (avro_node_t *node = schema->nodes; node; node = node->next_owned)
        for (size_t i = 0; i < node->field_count; i++) {
            avro_field_t *f = &node->fields[i];
            if (!f->def)
                continue;
            char *text = json_dumps(f->def, JSON_COMPACT | JSON_ENCODE_ANY);
            f->def_text = text ? rill_strdup(text) : NULL;
            free(text); /* jansson's allocator */
            if (!f->def_text)
                return fail(p, "out of memory");
        }
    return true;
}

static void schema_free(rill_avro_schema_t *schema)
{
    for (avro_node_t *node = schema->nodes, *next; node; node = next) {
        next = node->next_owned;
        node_free(node);
    }
    for (size_t i = 0; i < schema->root_count; i++)
        json_decref(schema->roots[i]);
    rill_free(schema->roots);
    rill_free(schema->text);
    rill_free(schema->canonical);
    rill_free(schema->normalized);
    rill_free(schema);
}

rill_avro_schema_t *rill_avro_schema_parse(const char *json, size_t len,
                                           const rill_avro_parse_opts_t *opts, char *errstr,
                                           size_t errstr_size)
{
    if (errstr && errstr_size)
        errstr[0] = 0;
    if (!json) {
        if (errstr && errstr_size)
            snprintf(errstr, errstr_size, "no schema text");
        return NULL;
    }
    rill_avro_schema_t *schema = rill_calloc(1, sizeof *schema);
    if (!schema) {
        if (errstr && errstr_size)
            snprintf(errstr, errstr_size, "out of memory");
        return NULL;
    }
    atomic_init(&schema->refs, 1);
    parser_t p = {.schema = schema, .opts = opts, .err = errstr, .err_size = errstr_size};
    bool ok = true;
    for (size_t i = 0; ok && opts && i < opts->ref_count; i++) {
        char label[32];
        snprintf(label, sizeof label, "refs[%zu]", i);
        p.ref_name = label;
        p.external = true;
        const char *text = opts->refs[i];
        ok = parse_root(&p, text, text ? strlen(text) : 0) != NULL;
        p.ref_name = NULL;
        p.external = false;
    }
    ok = ok && (schema->top = parse_root(&p, json, len)) != NULL;
    ok = ok && check_defaults(&p);
    for (size_t i = 0; i < p.default_count; i++) {
        rill_free(p.defaults[i].path);
        rill_free(p.defaults[i].ref_name);
    }
    rill_free(p.defaults);
    rill_free(p.named);
    if (ok && !(schema->text = rill_malloc(len + 1)))
        ok = fail(&p, "out of memory");
    if (ok) {
        memcpy(schema->text, json, len);
        schema->text[len] = 0;
        ok = make_default_texts(&p, schema);
    }
    if (ok) {
        schema->canonical = rill__avro_write_form(schema, false);
        schema->normalized = rill__avro_write_form(schema, true);
        if (!schema->canonical || !schema->normalized)
            ok = fail(&p, "out of memory");
        else
            schema->fingerprint = rill_avro_crc64(schema->canonical, strlen(schema->canonical));
    }
    if (!ok) {
        schema_free(schema);
        return NULL;
    }
    return schema;
}

rill_avro_schema_t *rill_avro_schema_ref(rill_avro_schema_t *schema)
{
    if (schema)
        atomic_fetch_add_explicit(&schema->refs, 1, memory_order_relaxed);
    return schema;
}

void rill_avro_schema_unref(rill_avro_schema_t *schema)
{
    if (schema && atomic_fetch_sub_explicit(&schema->refs, 1, memory_order_acq_rel) == 1)
        schema_free(schema);
}

rill_avro_type_t rill_avro_schema_type(const rill_avro_schema_t *schema)
{
    return schema->top->type;
}

rill_avro_schema_t *rill_avro_schema_new(const char *json, size_t len, char *errstr,
                                         size_t errstr_size)
{
    return rill_avro_schema_parse(json, len, NULL, errstr, errstr_size);
}

const char *rill_avro_schema_name(const rill_avro_schema_t *schema)
{
    return schema->top->fullname ? schema->top->fullname : type_names[schema->top->type];
}

const char *rill_avro_schema_text(const rill_avro_schema_t *schema)
{
    return schema->text;
}

/* ---- the read-only model ---- */

const rill_avro_node_t *rill_avro_schema_root(const rill_avro_schema_t *schema)
{
    return schema->top;
}

rill_avro_type_t rill_avro_node_type(const rill_avro_node_t *node)
{
    return node->type;
}

const char *rill_avro_node_name(const rill_avro_node_t *node)
{
    return node->fullname;
}

const char *rill_avro_node_logical_type(const rill_avro_node_t *node, int *precision, int *scale)
{
    if (precision)
        *precision = (int)node->precision;
    if (scale)
        *scale = (int)node->scale;
    return node->logical;
}

size_t rill_avro_node_count(const rill_avro_node_t *node)
{
    switch (node->type) {
    case RILL_AVRO_RECORD:
        return node->field_count;
    case RILL_AVRO_UNION:
        return node->branch_count;
    case RILL_AVRO_ENUM:
        return node->symbol_count;
    case RILL_AVRO_ARRAY:
    case RILL_AVRO_MAP:
        return 1;
    default:
        return 0;
    }
}

const rill_avro_node_t *rill_avro_node_child(const rill_avro_node_t *node, size_t i)
{
    switch (node->type) {
    case RILL_AVRO_RECORD:
        return i < node->field_count ? node->fields[i].type : NULL;
    case RILL_AVRO_UNION:
        return i < node->branch_count ? node->branches[i] : NULL;
    case RILL_AVRO_ARRAY:
    case RILL_AVRO_MAP:
        return i == 0 ? node->items : NULL;
    default:
        return NULL;
    }
}

const char *rill_avro_node_field_name(const rill_avro_node_t *node, size_t i)
{
    return i < node->field_count ? node->fields[i].name : NULL;
}

long rill_avro_node_field_index(const rill_avro_node_t *node, const char *name, bool aliases)
{
    for (size_t i = 0; name && i < node->field_count; i++)
        if (strcmp(node->fields[i].name, name) == 0)
            return (long)i;
    for (size_t i = 0; name && aliases && i < node->field_count; i++)
        for (size_t a = 0; a < node->fields[i].alias_count; a++)
            if (strcmp(node->fields[i].aliases[a], name) == 0)
                return (long)i;
    return -1;
}

const char *rill_avro_node_field_default(const rill_avro_node_t *node, size_t i)
{
    return i < node->field_count ? node->fields[i].def_text : NULL;
}

const char *rill_avro_node_symbol(const rill_avro_node_t *node, size_t i)
{
    return i < node->symbol_count ? node->symbols[i] : NULL;
}

const char *rill_avro_node_enum_default(const rill_avro_node_t *node)
{
    return node->enum_default;
}

size_t rill_avro_node_fixed_size(const rill_avro_node_t *node)
{
    return node->type == RILL_AVRO_FIXED ? node->size : 0;
}

bool rill__avro_names_match(const avro_node_t *reader, const avro_node_t *writer)
{
    if (!reader->fullname || !writer->fullname)
        return false;
    if (strcmp(reader->name, writer->name) == 0)
        return true;
    for (size_t i = 0; i < reader->alias_count; i++)
        if (strcmp(reader->aliases[i], writer->fullname) == 0)
            return true;
    return false;
}

bool rill_avro_node_names_match(const rill_avro_node_t *reader, const rill_avro_node_t *writer)
{
    return rill__avro_names_match(reader, writer);
}

const char *rill_avro_schema_logical_type(const rill_avro_schema_t *schema)
{
    return schema->top->logical;
}

const char *rill_avro_schema_canonical(const rill_avro_schema_t *schema)
{
    return schema->canonical;
}

const char *rill_avro_schema_normalized(const rill_avro_schema_t *schema)
{
    return schema->normalized;
}

uint64_t rill_avro_schema_fingerprint(const rill_avro_schema_t *schema)
{
    return schema->fingerprint;
}
