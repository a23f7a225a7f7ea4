/*
 * json_schema.c — the JSON Schema validator: a schema compiled once into a graph of nodes, and
 * instances validated against it (include/rill/schema.h).
 *
 * Why our own: Debian 12 has no C validator, and its C++ ones fall short of draft 2020-12
 * (libvalijson-dev 1.0 knows drafts 3, 4 and 7 and crashes on 2020-12's unevaluated* and
 * $dynamicRef tests; rapidjson-dev 1.1.0 is draft-04 only and aborts in the draft-04 suite). The
 * figures are in docs/ARCHITECTURE.md. This file reads schemas with jansson (compile time only)
 * and instances with the tokenizer of json_schema_doc.c; `pattern` uses PCRE2, closer to
 * ECMA-262 than POSIX regex (\d, \w, lookahead, \uXXXX with PCRE2_EXTRA_ALT_BSUX).
 *
 * Compiling resolves every $ref once, so validation follows pointers: no lookup by name or URI
 * per instance. Nodes are memoized by the schema object they come from, which makes recursive
 * schemas a cycle of nodes, not an endless compile. Validation stops at the first failing
 * keyword; inside anyOf, oneOf, not, if and contains failures are expected and stay quiet, so the
 * message always names a keyword whose failure fails the whole instance.
 *
 * Per validation a thread reuses its scratch (token array, unescape buffers, PCRE2 match data,
 * the annotation bitsets of unevaluated*) kept under a pthread key: no allocation once warm.
 * $dynamicRef ($recursiveRef in 2019-09) follows the dynamic scope: a schema with dynamic anchors
 * keeps the stack of resources entered (others check a flag per node). Not supported:
 * references to other documents (the compile fails), vocabularies chosen by a custom metaschema.
 */
#include <rill/schema.h>

#include "json_schema_int.h"

#define PCRE2_CODE_UNIT_WIDTH 8
#include <jansson.h>
#include <math.h>
#include <pcre2.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum {
    T_NULL = 1,
    T_BOOL = 2,
    T_OBJECT = 4,
    T_ARRAY = 8,
    T_NUMBER = 16,
    T_STRING = 32,
    T_INTEGER = 64,
};

typedef struct node node_t;

/* A property name the object keywords mention: in properties, required, dependentRequired or
 * dependentSchemas. One table lets a single pass over an instance's members serve them all. */
typedef struct {
    const char *name;
    size_t len;
    node_t *prop;
    uint8_t required;
    node_t *dep_schema;
    uint32_t *dep_req; /* indexes into the table */
    uint32_t ndep_req;
} named_t;

typedef struct {
    pcre2_code *re;
    node_t *node;
} ppattern_t;

typedef struct {
    node_t **v;
    size_t n;
} nodes_t;

struct node {
    int8_t boolean; /* -1: a schema object; 0: the false schema; 1: true */
    uint8_t types;  /* T_* bits; 0: any */
    uint8_t has_min, has_max, has_xmin, has_xmax, has_mult, unique, has_named_checks;
    double min, max, xmin, xmax, mult;
    int64_t min_len, max_len, min_items, max_items, min_contains, max_contains, min_props,
        max_props;
    pcre2_code *pattern;
    const json_t *enum_, *const_; /* borrowed from the schema's document */
    nodes_t prefix;
    node_t *items, *contains;
    named_t *named;
    size_t nnamed;
    ppattern_t *pprops;
    size_t npprops;
    node_t *additional, *property_names;
    nodes_t all_of, any_of, one_of;
    node_t *not_, *if_, *then_, *else_, *ref;
    node_t *uneval_props, *uneval_items; /* 2019-09 and later */
    node_t *dyn_ref;                     /* $dynamicRef's (or $recursiveRef's) static target */
    const char *dyn_name;                /* when that target has the dynamic anchor: its name */
    const json_t *resource;              /* the schema resource holding this one (dynamic scope) */
    uint8_t scoped; /* the schema has dynamic anchors: this node tracks the dynamic scope */
    uint8_t contains_evaluates; /* 2020-12: items contains matched are evaluated */
};

/* A $dynamicAnchor (2019-09: $recursiveAnchor, name "") of a schema resource. */
typedef struct {
    const json_t *resource;
    const char *name;
    node_t *node;
    const json_t *obj; /* compile time: the anchor's schema and base */
    const char *base;
} dyn_anchor_t;

struct rill_json_schema {
    json_t *doc;
    node_t *root;
    dyn_anchor_t *anchors;
    size_t nanchors;
    void **allocs; /* everything below, freed with the schema */
    size_t nallocs, cap;
    pcre2_code **res;
    size_t nres, rescap;
};

/* ---- compile ---- */

typedef struct {
    const json_t *obj;
    char *uri; /* a schema object's base URI, or a resource's URI (with #anchor for anchors) */
} uri_entry_t;

typedef struct {
    const json_t *obj;
    node_t *node;
} memo_t;

typedef struct {
    rill_json_schema_t *schema;
    int dialect; /* 4, 6, 7, 2019, 2020 */
    uri_entry_t *bases, *resources;
    size_t nbases, capbases, nresources, capresources;
    memo_t *memo;
    size_t nmemo, capmemo;
    dyn_anchor_t *anchors;
    size_t nanchors, capanchors;
    char **strs;
    size_t nstrs, capstrs;
    char path[512]; /* the schema location being compiled, for messages */
    size_t pathlen;
    char *errstr;
    size_t errstr_size;
    int failed;
    int nesting; /* of compile calls */
} cctx_t;

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

static void __attribute__((format(printf, 2, 3))) cfail(cctx_t *c, const char *fmt, ...)
{
    if (c->failed)
        return;
    c->failed = 1;
    char msg[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    /* a deep location keeps its last part, so the reason still fits a caller's buffer */
    const char *path = c->pathlen > 160 ? c->path + c->pathlen - 150 : c->path;
    set_err(c->errstr, c->errstr_size, "schema at #%s%s: %s", path == c->path ? "" : "...", path,
            msg);
}

static int grow(void **v, size_t *cap, size_t n, size_t elem)
{
    if (n < *cap)
        return 0;
    size_t ncap = *cap ? 2 * *cap : 16;
    void *p = rill_realloc(*v, ncap * elem);
    if (!p)
        return -1;
    *v = p;
    *cap = ncap;
    return 0;
}

/* Memory that lives as long as the schema. */
static void *salloc(cctx_t *c, size_t n)
{
    rill_json_schema_t *s = c->schema;
    void *p = n ? rill_calloc(1, n) : NULL;
    if (!n)
        return NULL;
    if (!p || grow((void **)&s->allocs, &s->cap, s->nallocs, sizeof(void *))) {
        rill_free(p);
        cfail(c, "out of memory");
        return NULL;
    }
    s->allocs[s->nallocs++] = p;
    return p;
}

/* A string that lives until the end of the compile. */
static char *cstr(cctx_t *c, const char *s, size_t n)
{
    char *p = rill_malloc(n + 1);
    if (!p || grow((void **)&c->strs, &c->capstrs, c->nstrs, sizeof(char *))) {
        rill_free(p);
        cfail(c, "out of memory");
        return NULL;
    }
    memcpy(p, s, n);
    p[n] = 0;
    c->strs[c->nstrs++] = p;
    return p;
}

static size_t path_push(cctx_t *c, const char *seg)
{
    size_t saved = c->pathlen;
    int k = snprintf(c->path + c->pathlen, sizeof c->path - c->pathlen, "/%s", seg);
    if (k > 0)
        c->pathlen = strlen(c->path);
    return saved;
}

static void path_pop(cctx_t *c, size_t saved)
{
    c->pathlen = saved;
    c->path[saved] = 0;
}

/* The URI without its fragment. */
static size_t uri_doc_len(const char *uri)
{
    const char *h = strchr(uri, '#');
    return h ? (size_t)(h - uri) : strlen(uri);
}

/* RFC 3986 section 5.2.4, on the path in place. */
static void remove_dots(char *path)
{
    char *out = path, *in = path;
    while (*in) {
        if (!strncmp(in, "../", 3)) {
            in += 3;
        } else if (!strncmp(in, "./", 2)) {
            in += 2;
        } else if (!strncmp(in, "/./", 3)) {
            in += 2;
        } else if (!strcmp(in, "/.")) {
            in[1] = 0;
        } else if (!strncmp(in, "/../", 4) || !strcmp(in, "/..")) {
            in += 3;
            if (*in == '/')
                ; /* "/../x" -> "/x" */
            else
                *--in = '/';
            while (out > path && *--out != '/')
                ;
        } else if (!strcmp(in, ".") || !strcmp(in, "..")) {
            *in = 0;
        } else {
            do
                *out++ = *in++;
            while (*in && *in != '/');
        }
    }
    *out = 0;
}

/* Resolves ref against base (RFC 3986 section 5.2, enough for schema identifiers). */
static char *uri_resolve(cctx_t *c, const char *base, const char *ref)
{
    size_t rs = strcspn(ref, ":/?#");
    if (ref[rs] == ':' && rs > 0)
        return cstr(c, ref, strlen(ref));
    size_t blen = uri_doc_len(base);
    if (ref[0] == '#' || !ref[0]) {
        char buf[2048];
        snprintf(buf, sizeof buf, "%.*s%s", (int)blen, base, ref);
        return cstr(c, buf, strlen(buf));
    }
    /* base = scheme ":" ["//" authority] path */
    size_t scheme = strcspn(base, ":");
    size_t auth_end = scheme + 1;
    if (!strncmp(base + scheme, "://", 3)) {
        auth_end = scheme + 3;
        while (auth_end < blen && base[auth_end] != '/' && base[auth_end] != '?')
            auth_end++;
    }
    char buf[2048];
    if (ref[0] == '/' && ref[1] == '/') {
        snprintf(buf, sizeof buf, "%.*s:%s", (int)scheme, base, ref);
    } else if (ref[0] == '/') {
        snprintf(buf, sizeof buf, "%.*s%s", (int)auth_end, base, ref);
    } else {
        size_t q = auth_end + strcspn(base + auth_end, "?#");
        size_t dir = q;
        while (dir > auth_end && base[dir - 1] != '/')
            dir--;
        if (dir == auth_end && auth_end > scheme + 1)
            snprintf(buf, sizeof buf, "%.*s/%s", (int)auth_end, base, ref);
        else
            snprintf(buf, sizeof buf, "%.*s%s", (int)dir, base, ref);
    }
    /* Remove dot segments from the path part (after the authority, before ? or #). */
    size_t pstart = auth_end <= strlen(buf) ? auth_end : strlen(buf);
    size_t pend = pstart + strcspn(buf + pstart, "?#");
    char tail[2048];
    snprintf(tail, sizeof tail, "%s", buf + pend);
    buf[pend] = 0;
    remove_dots(buf + pstart);
    size_t k = strlen(buf);
    snprintf(buf + k, sizeof buf - k, "%s", tail);
    return cstr(c, buf, strlen(buf));
}

static int add_uri(cctx_t *c, uri_entry_t **v, size_t *n, size_t *cap, const json_t *obj, char *uri)
{
    if (!uri)
        return -1;
    if (grow((void **)v, cap, *n, sizeof **v)) {
        cfail(c, "out of memory");
        return -1;
    }
    (*v)[(*n)++] = (uri_entry_t){obj, uri};
    return 0;
}

static const char *base_of(cctx_t *c, const json_t *obj)
{
    for (size_t i = 0; i < c->nbases; i++)
        if (c->bases[i].obj == obj)
            return c->bases[i].uri;
    return NULL;
}

static const json_t *resource(cctx_t *c, const char *uri, size_t len)
{
    for (size_t i = 0; i < c->nresources; i++) {
        const char *u = c->resources[i].uri;
        size_t ul = strlen(u);
        /* "x" and "x#" are the same document */
        if (ul && u[ul - 1] == '#')
            ul--;
        if (ul == len && !memcmp(u, uri, len))
            return c->resources[i].obj;
    }
    return NULL;
}

/* Keywords whose value is a schema, an array of schemas, or an object of schemas. */
static const char *const one_kw[] = {"additionalItems",
                                     "additionalProperties",
                                     "contains",
                                     "propertyNames",
                                     "not",
                                     "if",
                                     "then",
                                     "else",
                                     "items",
                                     "unevaluatedItems",
                                     "unevaluatedProperties",
                                     "contentSchema",
                                     NULL};
static const char *const arr_kw[] = {"allOf", "anyOf", "oneOf", "prefixItems", "items", NULL};
static const char *const map_kw[] = {"properties",  "patternProperties", "$defs",
                                     "definitions", "dependentSchemas",  "dependencies",
                                     NULL};

/* First pass: the base URI of every schema object and the URIs of resources and anchors. */
static void walk(cctx_t *c, const json_t *s, const char *base, int depth)
{
    if (!json_is_object(s) || c->failed || depth > 200)
        return;
    const char *idkw = c->dialect == 4 ? "id" : "$id";
    const json_t *id = json_object_get(s, idkw);
    int ref_only = c->dialect <= 7 && json_object_get(s, "$ref");
    if (json_is_string(id) && !ref_only) {
        const char *v = json_string_value(id);
        if (v[0] == '#' && c->dialect <= 7) {
            add_uri(c, &c->resources, &c->nresources, &c->capresources, s, uri_resolve(c, base, v));
        } else {
            char *nb = uri_resolve(c, base, v);
            if (!nb)
                return;
            nb[uri_doc_len(nb)] = 0;
            base = nb;
            add_uri(c, &c->resources, &c->nresources, &c->capresources, s, nb);
        }
    }
    static const char *const anchors[] = {"$anchor", "$dynamicAnchor", NULL};
    for (int i = 0; anchors[i] && c->dialect >= 2019; i++) {
        const json_t *a = json_object_get(s, anchors[i]);
        if (json_is_string(a)) {
            char buf[1024];
            snprintf(buf, sizeof buf, "%.*s#%s", (int)uri_doc_len(base), base,
                     json_string_value(a));
            add_uri(c, &c->resources, &c->nresources, &c->capresources, s,
                    cstr(c, buf, strlen(buf)));
        }
    }
    const json_t *da = c->dialect == 2020 ? json_object_get(s, "$dynamicAnchor") : NULL;
    const json_t *ra = c->dialect == 2019 ? json_object_get(s, "$recursiveAnchor") : NULL;
    if (json_is_string(da) || json_is_true(ra)) {
        if (grow((void **)&c->anchors, &c->capanchors, c->nanchors, sizeof *c->anchors)) {
            cfail(c, "out of memory");
            return;
        }
        c->anchors[c->nanchors++] = (dyn_anchor_t){.resource = resource(c, base, strlen(base)),
                                                   .name = da ? json_string_value(da) : "",
                                                   .obj = s,
                                                   .base = base};
    }
    if (add_uri(c, &c->bases, &c->nbases, &c->capbases, s, (char *)base))
        return;
    if (ref_only)
        return;
    for (int i = 0; one_kw[i]; i++)
        walk(c, json_object_get(s, one_kw[i]), base, depth + 1);
    for (int i = 0; arr_kw[i]; i++) {
        const json_t *a = json_object_get(s, arr_kw[i]);
        size_t k;
        const json_t *v;
        if (json_is_array(a))
            json_array_foreach(a, k, v) walk(c, v, base, depth + 1);
    }
    for (int i = 0; map_kw[i]; i++) {
        const json_t *m = json_object_get(s, map_kw[i]);
        const char *key;
        const json_t *v;
        if (json_is_object(m))
            json_object_foreach((json_t *)m, key, v) walk(c, v, base, depth + 1);
    }
}

/* Percent-decodes a URI fragment into out (at most n bytes). */
static void pct_decode(const char *in, char *out, size_t n)
{
    size_t o = 0;
    for (; *in && o + 1 < n; in++) {
        if (in[0] == '%' && in[1] && in[2]) {
            char hex[3] = {in[1], in[2], 0};
            char *end;
            long v = strtol(hex, &end, 16);
            if (!*end) {
                out[o++] = (char)v;
                in += 2;
                continue;
            }
        }
        out[o++] = *in;
    }
    out[o] = 0;
}

/* Follows the JSON Pointer ptr (decoded) from doc. */
static const json_t *pointer(const json_t *doc, const char *ptr)
{
    while (doc && *ptr == '/') {
        ptr++;
        char seg[512];
        size_t o = 0;
        for (; *ptr && *ptr != '/' && o + 1 < sizeof seg; ptr++) {
            if (ptr[0] == '~' && ptr[1] == '0')
                seg[o++] = '~', ptr++;
            else if (ptr[0] == '~' && ptr[1] == '1')
                seg[o++] = '/', ptr++;
            else
                seg[o++] = *ptr;
        }
        seg[o] = 0;
        if (json_is_object(doc)) {
            doc = json_object_get(doc, seg);
        } else if (json_is_array(doc)) {
            char *end;
            unsigned long i = strtoul(seg, &end, 10);
            doc = *seg && !*end ? json_array_get(doc, i) : NULL;
        } else {
            doc = NULL;
        }
    }
    return *ptr ? NULL : doc;
}

static node_t *compile(cctx_t *c, const json_t *s, const char *base);

static node_t *compile_ref(cctx_t *c, const json_t *s, const char *kw, const char *base,
                           const json_t **target_out)
{
    const json_t *r = json_object_get(s, kw);
    if (!r)
        return NULL;
    size_t saved = path_push(c, kw);
    node_t *n = NULL;
    if (!json_is_string(r)) {
        cfail(c, "%s must be a string", kw);
        goto out;
    }
    char *abs = uri_resolve(c, base, json_string_value(r));
    if (!abs)
        goto out;
    size_t dl = uri_doc_len(abs);
    const json_t *doc = resource(c, abs, dl);
    if (!doc) {
        cfail(c, "cannot resolve \"%s\": references to other documents are not supported", abs);
        goto out;
    }
    const json_t *target = doc;
    const char *frag = abs[dl] ? abs + dl + 1 : "";
    if (frag[0] == '/') {
        char dec[1024];
        pct_decode(frag, dec, sizeof dec);
        target = pointer(doc, dec);
    } else if (frag[0]) {
        target = resource(c, abs, strlen(abs));
    }
    if (!target) {
        cfail(c, "cannot resolve \"%s\"", abs);
        goto out;
    }
    const char *tb = base_of(c, target);
    if (!tb) {
        /* a pointer into a place the walk did not visit: the document's base */
        tb = cstr(c, abs, dl);
    }
    if (tb)
        n = compile(c, target, tb);
    if (target_out)
        *target_out = target;
out:
    path_pop(c, saved);
    return n;
}

static node_t *compile_kw(cctx_t *c, const json_t *s, const char *kw, const char *base)
{
    const json_t *v = json_object_get(s, kw);
    if (!v)
        return NULL;
    size_t saved = path_push(c, kw);
    node_t *n = compile(c, v, base);
    path_pop(c, saved);
    return n;
}

static void compile_list(cctx_t *c, const json_t *s, const char *kw, const char *base, nodes_t *out)
{
    const json_t *a = json_object_get(s, kw);
    if (!a)
        return;
    size_t saved = path_push(c, kw);
    if (!json_is_array(a) ||
        (!json_array_size(a) && strcmp(kw, "prefixItems") && strcmp(kw, "items"))) {
        cfail(c, "must be a non-empty array of schemas");
    } else {
        out->n = json_array_size(a);
        out->v = salloc(c, out->n * sizeof *out->v);
        for (size_t i = 0; i < out->n && !c->failed; i++) {
            char idx[24];
            snprintf(idx, sizeof idx, "%zu", i);
            size_t s2 = path_push(c, idx);
            out->v[i] = compile(c, json_array_get(a, i), base);
            path_pop(c, s2);
        }
    }
    path_pop(c, saved);
}

/* Reads a non-negative integer keyword into *out (left alone when absent). */
static void get_count(cctx_t *c, const json_t *s, const char *kw, int64_t *out)
{
    const json_t *v = json_object_get(s, kw);
    if (!v)
        return;
    double d = json_number_value(v);
    if (!json_is_number(v) || d < 0 || floor(d) != d) {
        size_t saved = path_push(c, kw);
        cfail(c, "must be a non-negative integer");
        path_pop(c, saved);
        return;
    }
    *out = d > 9e18 ? INT64_MAX : (int64_t)d;
}

static void get_num(cctx_t *c, const json_t *s, const char *kw, double *out, uint8_t *has)
{
    const json_t *v = json_object_get(s, kw);
    if (!v)
        return;
    if (!json_is_number(v)) {
        size_t saved = path_push(c, kw);
        cfail(c, "must be a number");
        path_pop(c, saved);
        return;
    }
    *out = json_number_value(v);
    *has = 1;
}

/*
 * ECMA-262's \p{...} takes General_Category values by their long names (\p{Letter},
 * \p{gc=Decimal_Number}); PCRE2 10.42 knows the short ones only. Rewrites them into out (n
 * bytes); returns 0, or -1 when the pattern does not fit.
 */
static int ecma_properties(const char *src, char *out, size_t n)
{
    static const char *const names[][2] = {
        {"Letter", "L"},
        {"Cased_Letter", "L&"},
        {"Uppercase_Letter", "Lu"},
        {"Lowercase_Letter", "Ll"},
        {"Titlecase_Letter", "Lt"},
        {"Modifier_Letter", "Lm"},
        {"Other_Letter", "Lo"},
        {"Mark", "M"},
        {"Nonspacing_Mark", "Mn"},
        {"Spacing_Mark", "Mc"},
        {"Enclosing_Mark", "Me"},
        {"Number", "N"},
        {"Decimal_Number", "Nd"},
        {"digit", "Nd"},
        {"Letter_Number", "Nl"},
        {"Other_Number", "No"},
        {"Punctuation", "P"},
        {"punct", "P"},
        {"Connector_Punctuation", "Pc"},
        {"Dash_Punctuation", "Pd"},
        {"Open_Punctuation", "Ps"},
        {"Close_Punctuation", "Pe"},
        {"Initial_Punctuation", "Pi"},
        {"Final_Punctuation", "Pf"},
        {"Other_Punctuation", "Po"},
        {"Symbol", "S"},
        {"Math_Symbol", "Sm"},
        {"Currency_Symbol", "Sc"},
        {"Modifier_Symbol", "Sk"},
        {"Other_Symbol", "So"},
        {"Separator", "Z"},
        {"Space_Separator", "Zs"},
        {"Line_Separator", "Zl"},
        {"Paragraph_Separator", "Zp"},
        {"Other", "C"},
        {"Control", "Cc"},
        {"cntrl", "Cc"},
        {"Format", "Cf"},
        {"Surrogate", "Cs"},
        {"Private_Use", "Co"},
        {"Unassigned", "Cn"},
    };
    size_t o = 0;
    for (const char *p = src; *p;) {
        if (p[0] == '\\' && (p[1] == 'p' || p[1] == 'P') && p[2] == '{') {
            const char *name = p + 3, *end = strchr(name, '}');
            if (end) {
                if (!strncmp(name, "General_Category=", 17))
                    name += 17;
                else if (!strncmp(name, "gc=", 3))
                    name += 3;
                size_t len = (size_t)(end - name);
                const char *to = NULL;
                for (size_t i = 0; i < sizeof names / sizeof *names && !to; i++)
                    if (strlen(names[i][0]) == len && !strncmp(names[i][0], name, len))
                        to = names[i][1];
                if (to || name != p + 3) { /* "gc=Lu" -> "Lu" too */
                    int k = snprintf(out + o, n - o, "\\%c{%.*s}", p[1],
                                     to ? (int)strlen(to) : (int)len, to ? to : name);
                    if (k < 0 || (size_t)k >= n - o)
                        return -1;
                    o += (size_t)k;
                    p = end + 1;
                    continue;
                }
            }
        }
        if (p[0] == '\\' &&
            p[1]) { /* an escape is copied whole: an escaped backslash before "p{" stays */
            if (o + 2 >= n)
                return -1;
            out[o++] = *p++;
        }
        if (o + 1 >= n)
            return -1;
        out[o++] = *p++;
    }
    out[o] = 0;
    return 0;
}

static pcre2_code *compile_re(cctx_t *c, const char *kw, const char *src)
{
    int code;
    PCRE2_SIZE off;
    char rewritten[4096];
    if (strstr(src, "\\p{") || strstr(src, "\\P{")) {
        if (ecma_properties(src, rewritten, sizeof rewritten) == 0)
            src = rewritten;
    }
    pcre2_compile_context *cc = pcre2_compile_context_create(NULL);
    if (!cc) {
        cfail(c, "out of memory");
        return NULL;
    }
    pcre2_set_compile_extra_options(cc, PCRE2_EXTRA_ALT_BSUX);
    pcre2_code *re =
        pcre2_compile((PCRE2_SPTR)src, PCRE2_ZERO_TERMINATED,
                      PCRE2_UTF | PCRE2_ALT_BSUX | PCRE2_DOLLAR_ENDONLY, &code, &off, cc);
    pcre2_compile_context_free(cc);
    if (!re) {
        PCRE2_UCHAR msg[128];
        pcre2_get_error_message(code, msg, sizeof msg);
        size_t saved = path_push(c, kw);
        cfail(c, "bad regular expression \"%s\" at offset %zu: %s", src, (size_t)off, msg);
        path_pop(c, saved);
        return NULL;
    }
    /* No pcre2_jit_compile: JIT code reads memory valgrind takes for uninitialised, and the
     * interpreter costs little on the short strings of events. */
    rill_json_schema_t *sc = c->schema;
    if (grow((void **)&sc->res, &sc->rescap, sc->nres, sizeof *sc->res)) {
        pcre2_code_free(re);
        cfail(c, "out of memory");
        return NULL;
    }
    sc->res[sc->nres++] = re;
    return re;
}

static uint8_t type_bit(const char *t)
{
    static const struct {
        const char *name;
        uint8_t bit;
    } map[] = {{"null", T_NULL},      {"boolean", T_BOOL},  {"object", T_OBJECT},
               {"array", T_ARRAY},    {"number", T_NUMBER}, {"string", T_STRING},
               {"integer", T_INTEGER}};
    for (size_t i = 0; i < sizeof map / sizeof *map; i++)
        if (!strcmp(t, map[i].name))
            return map[i].bit;
    return 0;
}

static void compile_type(cctx_t *c, const json_t *s, node_t *n)
{
    const json_t *t = json_object_get(s, "type");
    if (!t)
        return;
    size_t saved = path_push(c, "type");
    if (json_is_string(t)) {
        n->types = type_bit(json_string_value(t));
        if (!n->types)
            cfail(c, "unknown type \"%s\"", json_string_value(t));
    } else if (json_is_array(t)) {
        size_t i;
        const json_t *v;
        json_array_foreach(t, i, v)
        {
            uint8_t b = json_is_string(v) ? type_bit(json_string_value(v)) : 0;
            if (!b)
                cfail(c, "not a type name");
            n->types |= b;
        }
        if (!json_array_size(t))
            n->types = 0x80; /* no type: nothing is valid */
    } else {
        cfail(c, "must be a string or an array");
    }
    path_pop(c, saved);
}

static named_t *named_get(cctx_t *c, node_t *n, const char *name, size_t len)
{
    for (size_t i = 0; i < n->nnamed; i++)
        if (n->named[i].len == len && !memcmp(n->named[i].name, name, len))
            return &n->named[i];
    /* the table is sized before filling (count_named), so this never reallocates */
    named_t *e = &n->named[n->nnamed++];
    e->name = name;
    e->len = len;
    return e;
}

static size_t count_named(const json_t *s)
{
    size_t k = 0;
    static const char *const kws[] = {"properties", "dependentRequired", "dependentSchemas",
                                      "dependencies", NULL};
    for (int i = 0; kws[i]; i++) {
        const json_t *m = json_object_get(s, kws[i]);
        if (json_is_object(m)) {
            const char *key;
            const json_t *v;
            json_object_foreach((json_t *)m, key, v)
            {
                k++;
                if (json_is_array(v))
                    k += json_array_size(v);
            }
        }
    }
    const json_t *r = json_object_get(s, "required");
    if (json_is_array(r))
        k += json_array_size(r);
    return k;
}

static void compile_object(cctx_t *c, const json_t *s, node_t *n, const char *base)
{
    size_t cap = count_named(s);
    n->named = salloc(c, cap * sizeof *n->named);
    if (cap && !n->named)
        return; /* out of memory, reported */
    const json_t *props = json_object_get(s, "properties");
    const char *key;
    const json_t *v;
    if (json_is_object(props)) {
        size_t saved = path_push(c, "properties");
        json_object_foreach((json_t *)props, key, v)
        {
            size_t s2 = path_push(c, key);
            named_t *e = named_get(c, n, key, strlen(key));
            e->prop = compile(c, v, base);
            path_pop(c, s2);
        }
        path_pop(c, saved);
    }
    const json_t *req = json_object_get(s, "required");
    if (req) {
        size_t i;
        if (!json_is_array(req))
            cfail(c, "required must be an array");
        json_array_foreach(req, i, v)
        {
            if (!json_is_string(v)) {
                cfail(c, "required must hold strings");
                break;
            }
            named_get(c, n, json_string_value(v), json_string_length(v))->required = 1;
            n->has_named_checks = 1;
        }
    }
    /* dependentRequired and dependentSchemas; draft-07's dependencies is either */
    static const char *const deps[] = {"dependentRequired", "dependentSchemas", "dependencies",
                                       NULL};
    for (int d = 0; deps[d] && n->named; d++) {
        const json_t *m = json_object_get(s, deps[d]);
        if (!m)
            continue;
        size_t saved = path_push(c, deps[d]);
        if (!json_is_object(m))
            cfail(c, "must be an object");
        json_object_foreach((json_t *)m, key, v)
        {
            named_t *e = named_get(c, n, key, strlen(key));
            size_t idx = (size_t)(e - n->named);
            n->has_named_checks = 1;
            if (json_is_array(v) && d != 1) {
                uint32_t *req_idx = salloc(c, (json_array_size(v) + 1) * sizeof *req_idx);
                size_t i;
                const json_t *r;
                uint32_t k = 0;
                json_array_foreach(v, i, r)
                {
                    if (!json_is_string(r) || !req_idx) {
                        cfail(c, "must hold strings");
                        break;
                    }
                    named_t *t = named_get(c, n, json_string_value(r), json_string_length(r));
                    e = &n->named[idx]; /* named_get never moves the table, but be plain */
                    req_idx[k++] = (uint32_t)(t - n->named);
                }
                e->dep_req = req_idx;
                e->ndep_req = k;
            } else {
                size_t s2 = path_push(c, key);
                e->dep_schema = compile(c, v, base);
                path_pop(c, s2);
            }
        }
        path_pop(c, saved);
    }
    const json_t *pp = json_object_get(s, "patternProperties");
    if (json_is_object(pp)) {
        size_t saved = path_push(c, "patternProperties");
        n->pprops = salloc(c, json_object_size(pp) * sizeof *n->pprops);
        json_object_foreach((json_t *)pp, key, v)
        {
            if (!n->pprops)
                break;
            size_t s2 = path_push(c, key);
            ppattern_t *p = &n->pprops[n->npprops++];
            p->re = compile_re(c, "", key);
            p->node = compile(c, v, base);
            path_pop(c, s2);
        }
        path_pop(c, saved);
    }
    n->additional = compile_kw(c, s, "additionalProperties", base);
    n->property_names = compile_kw(c, s, "propertyNames", base);
    get_count(c, s, "minProperties", &n->min_props);
    get_count(c, s, "maxProperties", &n->max_props);
}

static void compile_array(cctx_t *c, const json_t *s, node_t *n, const char *base)
{
    const json_t *items = json_object_get(s, "items");
    if (c->dialect == 2020) {
        compile_list(c, s, "prefixItems", base, &n->prefix);
        if (json_is_array(items)) /* the pre-2020 tuple form, kept for old schemas */
            compile_list(c, s, "items", base, &n->prefix);
        else
            n->items = compile_kw(c, s, "items", base);
    } else if (json_is_array(items)) {
        compile_list(c, s, "items", base, &n->prefix);
        n->items = compile_kw(c, s, "additionalItems", base);
    } else {
        n->items = compile_kw(c, s, "items", base);
    }
    n->contains = compile_kw(c, s, "contains", base);
    n->min_contains = 1;
    if (c->dialect >= 2019) {
        get_count(c, s, "minContains", &n->min_contains);
        get_count(c, s, "maxContains", &n->max_contains);
    }
    get_count(c, s, "minItems", &n->min_items);
    get_count(c, s, "maxItems", &n->max_items);
    const json_t *u = json_object_get(s, "uniqueItems");
    n->unique = json_is_true(u);
}

static void compile_numeric(cctx_t *c, const json_t *s, node_t *n)
{
    get_num(c, s, "minimum", &n->min, &n->has_min);
    get_num(c, s, "maximum", &n->max, &n->has_max);
    const json_t *xmin = json_object_get(s, "exclusiveMinimum");
    const json_t *xmax = json_object_get(s, "exclusiveMaximum");
    if (c->dialect == 4) { /* draft-04: booleans that make minimum and maximum exclusive */
        if (json_is_true(xmin) && n->has_min)
            n->xmin = n->min, n->has_xmin = 1, n->has_min = 0;
        if (json_is_true(xmax) && n->has_max)
            n->xmax = n->max, n->has_xmax = 1, n->has_max = 0;
    } else {
        get_num(c, s, "exclusiveMinimum", &n->xmin, &n->has_xmin);
        get_num(c, s, "exclusiveMaximum", &n->xmax, &n->has_xmax);
    }
    get_num(c, s, "multipleOf", &n->mult, &n->has_mult);
    if (n->has_mult && n->mult <= 0) {
        size_t saved = path_push(c, "multipleOf");
        cfail(c, "must be greater than 0");
        path_pop(c, saved);
    }
}

static node_t *compile_node(cctx_t *c, const json_t *s, const char *base);

/* Compiles s, memoized; the nesting is bounded so a deep schema cannot exhaust the stack. */
static node_t *compile(cctx_t *c, const json_t *s, const char *base)
{
    if (c->failed)
        return NULL;
    if (c->nesting >= 200) {
        cfail(c, "subschemas nested deeper than 200");
        return NULL;
    }
    c->nesting++;
    node_t *n = compile_node(c, s, base);
    c->nesting--;
    return n;
}

static node_t *compile_node(cctx_t *c, const json_t *s, const char *base)
{
    for (size_t i = 0; i < c->nmemo; i++)
        if (c->memo[i].obj == s)
            return c->memo[i].node;
    node_t *n = salloc(c, sizeof *n);
    if (!n)
        return NULL;
    if (grow((void **)&c->memo, &c->capmemo, c->nmemo, sizeof *c->memo)) {
        cfail(c, "out of memory");
        return NULL;
    }
    c->memo[c->nmemo++] = (memo_t){s, n};
    n->min_len = n->max_len = n->max_items = n->max_contains = n->max_props = -1;
    if (json_is_boolean(s)) {
        n->boolean = json_is_true(s);
        return n;
    }
    if (!json_is_object(s)) {
        cfail(c, "a schema must be an object or a boolean");
        return NULL;
    }
    n->boolean = -1;
    const char *b = base_of(c, s);
    if (b)
        base = b;
    n->resource = resource(c, base, strlen(base));
    if (json_object_get(s, "$ref")) {
        n->ref = compile_ref(c, s, "$ref", base, NULL);
        if (c->dialect <= 7) /* before 2019-09, $ref's siblings are ignored */
            return n;
    }
    if (!n->ref && c->dialect >= 2019) {
        const char *dyn = c->dialect == 2020 ? "$dynamicRef" : "$recursiveRef";
        const json_t *target = NULL;
        n->dyn_ref = compile_ref(c, s, dyn, base, &target);
        /* dynamic only when the static target holds the anchor the fragment names */
        const char *ref = json_string_value(json_object_get(s, dyn));
        const char *frag = ref ? strchr(ref, '#') : NULL;
        const json_t *anchor = json_object_get(target, "$dynamicAnchor");
        if (c->dialect == 2020 && frag && json_is_string(anchor) &&
            !strcmp(frag + 1, json_string_value(anchor)))
            n->dyn_name = json_string_value(anchor);
        if (c->dialect == 2019 && json_is_true(json_object_get(target, "$recursiveAnchor")))
            n->dyn_name = "";
    }
    compile_type(c, s, n);
    n->enum_ = json_object_get(s, "enum");
    if (n->enum_ && !json_is_array(n->enum_))
        cfail(c, "enum must be an array");
    n->const_ = json_object_get(s, "const");
    compile_numeric(c, s, n);
    get_count(c, s, "minLength", &n->min_len);
    get_count(c, s, "maxLength", &n->max_len);
    const json_t *pat = json_object_get(s, "pattern");
    if (pat) {
        if (json_is_string(pat))
            n->pattern = compile_re(c, "pattern", json_string_value(pat));
        else
            cfail(c, "pattern must be a string");
    }
    compile_array(c, s, n, base);
    compile_object(c, s, n, base);
    compile_list(c, s, "allOf", base, &n->all_of);
    compile_list(c, s, "anyOf", base, &n->any_of);
    compile_list(c, s, "oneOf", base, &n->one_of);
    n->not_ = compile_kw(c, s, "not", base);
    if (c->dialect >= 2019) {
        n->uneval_props = compile_kw(c, s, "unevaluatedProperties", base);
        n->uneval_items = compile_kw(c, s, "unevaluatedItems", base);
        n->contains_evaluates = c->dialect == 2020;
    }
    if (c->dialect >= 7) {
        n->if_ = compile_kw(c, s, "if", base);
        if (n->if_) {
            n->then_ = compile_kw(c, s, "then", base);
            n->else_ = compile_kw(c, s, "else", base);
        }
    }
    return n;
}

static int dialect_of(const json_t *doc)
{
    const json_t *sv = json_is_object(doc) ? json_object_get(doc, "$schema") : NULL;
    const char *s = json_is_string(sv) ? json_string_value(sv) : "";
    if (strstr(s, "draft-04"))
        return 4;
    if (strstr(s, "draft-06"))
        return 6;
    if (strstr(s, "draft-07"))
        return 7;
    if (strstr(s, "2019-09"))
        return 2019;
    return 2020;
}

void rill_json_schema_destroy(rill_json_schema_t *schema)
{
    if (!schema)
        return;
    for (size_t i = 0; i < schema->nres; i++)
        pcre2_code_free(schema->res[i]);
    rill_free(schema->res);
    for (size_t i = 0; i < schema->nallocs; i++)
        rill_free(schema->allocs[i]);
    rill_free(schema->allocs);
    json_decref(schema->doc);
    rill_free(schema);
}

rill_json_schema_t *rill_json_schema_new(const char *text, size_t len, char *errstr,
                                         size_t errstr_size)
{
    if (!text) {
        set_err(errstr, errstr_size, "rill_json_schema_new: text is NULL");
        return NULL;
    }
    json_error_t jerr;
    json_t *doc = json_loadb(text, len, JSON_DECODE_ANY | JSON_ALLOW_NUL, &jerr);
    if (!doc) {
        set_err(errstr, errstr_size, "schema is not JSON: %s (line %d, column %d)", jerr.text,
                jerr.line, jerr.column);
        return NULL;
    }
    rill_json_schema_t *schema = rill_calloc(1, sizeof *schema);
    if (!schema) {
        json_decref(doc);
        set_err(errstr, errstr_size, "out of memory");
        return NULL;
    }
    schema->doc = doc;
    cctx_t c = {.schema = schema, .errstr = errstr, .errstr_size = errstr_size};
    c.dialect = dialect_of(doc);
    const char *root = "rill:/schema.json";
    add_uri(&c, &c.resources, &c.nresources, &c.capresources, doc, cstr(&c, root, strlen(root)));
    walk(&c, doc, root, 0);
    schema->root = compile(&c, doc, root);
    if (c.nanchors && !c.failed) {
        schema->anchors = salloc(&c, c.nanchors * sizeof *schema->anchors);
        for (size_t i = 0; schema->anchors && i < c.nanchors; i++) {
            schema->anchors[i] = c.anchors[i];
            schema->anchors[i].node = compile(&c, c.anchors[i].obj, c.anchors[i].base);
            schema->anchors[i].obj = NULL; /* compile-time only */
            schema->anchors[i].base = NULL;
        }
        schema->nanchors = schema->anchors ? c.nanchors : 0;
        for (size_t i = 0; i < c.nmemo; i++)
            c.memo[i].node->scoped = 1;
    }
    for (size_t i = 0; i < c.nstrs; i++)
        rill_free(c.strs[i]);
    rill_free(c.strs);
    rill_free(c.bases);
    rill_free(c.resources);
    rill_free(c.memo);
    rill_free(c.anchors);
    if (c.failed || !schema->root) {
        if (!c.failed)
            set_err(errstr, errstr_size, "out of memory");
        rill_json_schema_destroy(schema);
        return NULL;
    }
    return schema;
}

/* ---- validate ---- */

/* A thread's reusable memory, under a pthread key so a thread that ends frees it. */
typedef struct {
    rill__jtoks_t toks;
    char *buf[2];
    size_t bufcap[2];
    pcre2_match_data *md;
    uint64_t *ev; /* bitsets of evaluated members or items, a stack */
    size_t evtop, evcap;
} scratch_t;

static pthread_key_t scratch_key;
static pthread_once_t scratch_once = PTHREAD_ONCE_INIT;
static int scratch_key_ok;

static void scratch_free(void *p)
{
    scratch_t *s = p;
    if (!s)
        return;
    rill_free(s->toks.toks);
    rill_free(s->buf[0]);
    rill_free(s->buf[1]);
    rill_free(s->ev);
    pcre2_match_data_free(s->md);
    rill_free(s);
}

static void scratch_init(void)
{
    scratch_key_ok = pthread_key_create(&scratch_key, scratch_free) == 0;
}

static scratch_t *scratch_get(void)
{
    pthread_once(&scratch_once, scratch_init);
    if (!scratch_key_ok)
        return NULL;
    scratch_t *s = pthread_getspecific(scratch_key);
    if (s)
        return s;
    s = rill_calloc(1, sizeof *s);
    if (!s)
        return NULL;
    s->md = pcre2_match_data_create(1, NULL);
    if (!s->md || pthread_setspecific(scratch_key, s)) {
        scratch_free(s);
        return NULL;
    }
    return s;
}

#define MAX_PATH 64

typedef struct {
    const rill__jtok_t *t;
    const char *text;
    size_t len;
    scratch_t *s;
    int quiet;    /* inside anyOf/oneOf/not/if/contains: failures are not the answer */
    int reported; /* the message is written */
    int nomem;
    int nesting; /* of v_node calls */
    const rill_json_schema_t *schema;
    const json_t *scope[MAX_PATH]; /* the dynamic scope: resources entered, outermost first */
    int nscope;
    int depth;               /* of the instance path */
    uint32_t path[MAX_PATH]; /* a member's key token, or an element's index */
    uint8_t path_idx[MAX_PATH];
    char *errstr;
    size_t errstr_size;
} vctx_t;

static void push_path(vctx_t *c, uint32_t v, uint8_t is_idx)
{
    if (c->depth < MAX_PATH) {
        c->path[c->depth] = v;
        c->path_idx[c->depth] = is_idx;
    }
    c->depth++;
}

static void __attribute__((format(printf, 3, 4)))
vfail(vctx_t *c, const char *kw, const char *fmt, ...)
{
    if (c->quiet || c->reported || !c->errstr || !c->errstr_size)
        return;
    c->reported = 1;
    char path[512];
    size_t o = 0;
    path[0] = 0;
    int shown = c->depth < MAX_PATH ? c->depth : MAX_PATH;
    for (int i = 0; i < shown && o + 16 < sizeof path; i++) {
        path[o++] = '/';
        if (c->path_idx[i]) {
            o += (size_t)snprintf(path + o, sizeof path - o, "%u", c->path[i]);
            continue;
        }
        const rill__jtok_t *k = &c->t[c->path[i]];
        for (uint32_t j = 0; j < k->len && o + 4 < sizeof path; j++) {
            char ch = c->text[k->off + j];
            if (ch == '~' || ch == '/') {
                path[o++] = '~';
                ch = ch == '~' ? '0' : '1';
            }
            path[o++] = ch;
        }
        path[o] = 0;
    }
    if (shown < c->depth)
        snprintf(path + o, sizeof path - o, "/...");
    char detail[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(detail, sizeof detail, fmt, ap);
    va_end(ap);
    set_err(c->errstr, c->errstr_size, "%s: \"%s\" failed: %s", o ? path : "(root)", kw, detail);
}

static int put_utf8(char *o, uint32_t cp)
{
    if (cp < 0x80) {
        o[0] = (char)cp;
        return 1;
    }
    if (cp < 0x800) {
        o[0] = (char)(0xC0 | (cp >> 6));
        o[1] = (char)(0x80 | (cp & 0x3F));
        return 2;
    }
    if (cp < 0x10000) {
        o[0] = (char)(0xE0 | (cp >> 12));
        o[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
        o[2] = (char)(0x80 | (cp & 0x3F));
        return 3;
    }
    o[0] = (char)(0xF0 | (cp >> 18));
    o[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
    o[2] = (char)(0x80 | ((cp >> 6) & 0x3F));
    o[3] = (char)(0x80 | (cp & 0x3F));
    return 4;
}

static uint32_t hexval(const char *p)
{
    uint32_t v = 0;
    for (int i = 0; i < 4; i++) {
        char ch = p[i];
        v = v * 16 + (uint32_t)(ch <= '9' ? ch - '0' : (ch | 0x20) - 'a' + 10);
    }
    return v;
}

/* The string token ti's value: a view of the text, or unescaped into buffer which (0 or 1). */
static int str_of(vctx_t *c, uint32_t ti, int which, const char **p, size_t *n)
{
    const rill__jtok_t *t = &c->t[ti];
    const char *src = c->text + t->off;
    if (!t->esc) {
        *p = src;
        *n = t->len;
        return 0;
    }
    scratch_t *s = c->s;
    if (s->bufcap[which] < t->len) {
        char *b = rill_realloc(s->buf[which], t->len);
        if (!b) {
            c->nomem = 1;
            return -1;
        }
        s->buf[which] = b;
        s->bufcap[which] = t->len;
    }
    char *o = s->buf[which];
    size_t k = 0;
    for (uint32_t i = 0; i < t->len; i++) {
        char ch = src[i];
        if (ch != '\\') {
            o[k++] = ch;
            continue;
        }
        ch = src[++i];
        switch (ch) {
        case 'b':
            o[k++] = '\b';
            break;
        case 'f':
            o[k++] = '\f';
            break;
        case 'n':
            o[k++] = '\n';
            break;
        case 'r':
            o[k++] = '\r';
            break;
        case 't':
            o[k++] = '\t';
            break;
        case 'u': {
            uint32_t cp = hexval(src + i + 1);
            i += 4;
            if (cp >= 0xD800 && cp < 0xDC00 && i + 6 < t->len && src[i + 1] == '\\' &&
                src[i + 2] == 'u') {
                uint32_t lo = hexval(src + i + 3);
                if (lo >= 0xDC00 && lo < 0xE000) {
                    cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
                    i += 6;
                }
            }
            k += (size_t)put_utf8(o + k, cp); /* 6 bytes of text make at most 4 */
            break;
        }
        default:
            o[k++] = ch;
        }
    }
    *p = o;
    *n = k;
    return 0;
}

/*
 * Clinger's fast path: a decimal without exponent, with at most 15 significant digits and at
 * most 22 after the point, is an exact integer divided by an exact power of ten, which IEEE
 * rounds once, as strtod does. Most numbers of events take it (strtod cost 2.3k instructions
 * of a 13k validation).
 */
static int fast_number(const char *s, size_t n, double *out)
{
    static const double p10[] = {1e0,  1e1,  1e2,  1e3,  1e4,  1e5,  1e6,  1e7,
                                 1e8,  1e9,  1e10, 1e11, 1e12, 1e13, 1e14, 1e15,
                                 1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22};
    size_t i = 0;
    int neg = s[0] == '-', digits = 0, frac = -1;
    uint64_t m = 0;
    for (i = (size_t)neg; i < n; i++) {
        char ch = s[i];
        if (ch == '.' && frac < 0) {
            frac = 0;
            continue;
        }
        if (ch < '0' || ch > '9')
            return 0; /* an exponent: strtod */
        m = m * 10 + (uint64_t)(ch - '0');
        digits += m != 0;
        frac += frac >= 0;
        if (digits > 15 || frac > 22)
            return 0;
    }
    double d = (double)m;
    if (frac > 0)
        d /= p10[frac];
    *out = neg ? -d : d;
    return 1;
}

static double num_of(vctx_t *c, uint32_t ti)
{
    const rill__jtok_t *t = &c->t[ti];
    double fast;
    if (fast_number(c->text + t->off, t->len, &fast))
        return fast;
    char buf[64];
    if (t->len < sizeof buf) {
        memcpy(buf, c->text + t->off, t->len);
        buf[t->len] = 0;
        return strtod(buf, NULL);
    }
    /* a long number: a character that is no part of a number follows it (the tokenizer saw
     * it), so strtod stops in time, unless the number ends the text: only that one is copied */
    if (t->off + t->len < c->len)
        return strtod(c->text + t->off, NULL);
    char *p = rill_malloc(t->len + 1);
    if (!p) {
        c->nomem = 1;
        return 0;
    }
    memcpy(p, c->text + t->off, t->len);
    p[t->len] = 0;
    double d = strtod(p, NULL);
    rill_free(p);
    return d;
}

static uint8_t inst_type(vctx_t *c, uint32_t ti)
{
    switch (c->t[ti].type) {
    case RILL__JT_NULL:
        return T_NULL;
    case RILL__JT_TRUE:
    case RILL__JT_FALSE:
        return T_BOOL;
    case RILL__JT_NUMBER:
        if (!c->t[ti].real)
            return T_NUMBER | T_INTEGER;
        double d = num_of(c, ti);
        return isfinite(d) && floor(d) == d ? T_NUMBER | T_INTEGER : T_NUMBER;
    case RILL__JT_STRING:
        return T_STRING;
    case RILL__JT_ARRAY:
        return T_ARRAY;
    default:
        return T_OBJECT;
    }
}

/* Does instance token ti equal the schema's JSON value j (enum, const)? */
static int eq_json(vctx_t *c, uint32_t ti, const json_t *j)
{
    const rill__jtok_t *t = &c->t[ti];
    const char *p;
    size_t n;
    switch (t->type) {
    case RILL__JT_NULL:
        return json_is_null(j);
    case RILL__JT_TRUE:
        return json_is_true(j);
    case RILL__JT_FALSE:
        return json_is_false(j);
    case RILL__JT_NUMBER:
        return json_is_number(j) && num_of(c, ti) == json_number_value(j);
    case RILL__JT_STRING:
        if (!json_is_string(j) || str_of(c, ti, 0, &p, &n))
            return 0;
        return n == json_string_length(j) && !memcmp(p, json_string_value(j), n);
    case RILL__JT_ARRAY: {
        if (!json_is_array(j) || json_array_size(j) != t->n)
            return 0;
        uint32_t e = ti + 1;
        for (uint32_t i = 0; i < t->n; i++, e = c->t[e].next)
            if (!eq_json(c, e, json_array_get(j, i)))
                return 0;
        return 1;
    }
    default: {
        if (!json_is_object(j) || json_object_size(j) != t->n)
            return 0;
        uint32_t k = ti + 1;
        for (uint32_t i = 0; i < t->n; i++) {
            uint32_t v = k + 1;
            if (str_of(c, k, 0, &p, &n))
                return 0;
            const json_t *jv = json_object_getn(j, p, n);
            if (!jv || !eq_json(c, v, jv))
                return 0;
            k = c->t[v].next;
        }
        return 1;
    }
    }
}

/* Are instance tokens a and b equal JSON values (uniqueItems)? */
static int eq_tok(vctx_t *c, uint32_t a, uint32_t b)
{
    const rill__jtok_t *ta = &c->t[a], *tb = &c->t[b];
    if (ta->type != tb->type)
        return 0;
    const char *pa, *pb;
    size_t na, nb;
    switch (ta->type) {
    case RILL__JT_NUMBER:
        return num_of(c, a) == num_of(c, b);
    case RILL__JT_STRING:
        if (str_of(c, a, 0, &pa, &na) || str_of(c, b, 1, &pb, &nb))
            return 0;
        return na == nb && !memcmp(pa, pb, na);
    case RILL__JT_ARRAY: {
        if (ta->n != tb->n)
            return 0;
        uint32_t ea = a + 1, eb = b + 1;
        for (uint32_t i = 0; i < ta->n; i++, ea = c->t[ea].next, eb = c->t[eb].next)
            if (!eq_tok(c, ea, eb))
                return 0;
        return 1;
    }
    case RILL__JT_OBJECT: {
        if (ta->n != tb->n)
            return 0;
        uint32_t ka = a + 1;
        for (uint32_t i = 0; i < ta->n; i++, ka = c->t[ka + 1].next) {
            uint32_t kb = b + 1, j;
            for (j = 0; j < tb->n; j++, kb = c->t[kb + 1].next) {
                if (str_of(c, ka, 0, &pa, &na) || str_of(c, kb, 1, &pb, &nb))
                    return 0;
                if (na == nb && !memcmp(pa, pb, na))
                    break;
            }
            if (j == tb->n || !eq_tok(c, ka + 1, kb + 1))
                return 0;
        }
        return 1;
    }
    default:
        return 1; /* null, true, false: the type says it all */
    }
}

/*
 * Annotations for unevaluatedProperties and unevaluatedItems: which members (by position) or
 * items of the instance at hand some keyword evaluated. Only a schema that has, or sits in place
 * under one that has, an unevaluated* keyword collects them (ev != NULL); a failed subschema's
 * are dropped. The bitsets live on a per-thread stack, addressed by offset because it may grow.
 */
typedef struct {
    size_t off;
    uint32_t words;
} eval_t;

static int ev_open(vctx_t *c, eval_t *ev, uint32_t children)
{
    scratch_t *s = c->s;
    ev->words = (children + 63) / 64;
    ev->off = s->evtop;
    if (s->evtop + ev->words > s->evcap) {
        size_t cap = s->evcap ? 2 * s->evcap : 64;
        while (cap < s->evtop + ev->words)
            cap *= 2;
        uint64_t *p = rill_realloc(s->ev, cap * sizeof *p);
        if (!p) {
            c->nomem = 1;
            return -1;
        }
        s->ev = p;
        s->evcap = cap;
    }
    if (ev->words) /* a scalar or an empty container has no children to mark */
        memset(s->ev + ev->off, 0, ev->words * sizeof *s->ev);
    s->evtop += ev->words;
    return 0;
}

static void ev_close(vctx_t *c, const eval_t *ev)
{
    c->s->evtop = ev->off;
}

static void ev_mark(vctx_t *c, const eval_t *ev, uint32_t i)
{
    if (ev)
        c->s->ev[ev->off + i / 64] |= 1ull << (i % 64);
}

static int ev_has(vctx_t *c, const eval_t *ev, uint32_t i)
{
    return (c->s->ev[ev->off + i / 64] >> (i % 64)) & 1;
}

static void ev_merge(vctx_t *c, const eval_t *into, const eval_t *from)
{
    for (uint32_t w = 0; into && w < into->words; w++)
        c->s->ev[into->off + w] |= c->s->ev[from->off + w];
}

static uint32_t children_of(vctx_t *c, uint32_t ti)
{
    uint8_t t = c->t[ti].type;
    return t == RILL__JT_ARRAY || t == RILL__JT_OBJECT ? c->t[ti].n : 0;
}

static int v_node(const node_t *n, uint32_t ti, vctx_t *c, const eval_t *ev);

/* Validates n in place (same instance) and merges its annotations into ev when it passes. */
static int v_inplace(const node_t *n, uint32_t ti, vctx_t *c, const eval_t *ev)
{
    if (!ev)
        return v_node(n, ti, c, NULL);
    eval_t tmp;
    if (ev_open(c, &tmp, children_of(c, ti)))
        return 0;
    int ok = v_node(n, ti, c, &tmp);
    if (ok)
        ev_merge(c, ev, &tmp);
    ev_close(c, &tmp);
    return ok;
}

static int matches(vctx_t *c, pcre2_code *re, const char *p, size_t len)
{
    return pcre2_match(re, (PCRE2_SPTR)p, len, 0, 0, c->s->md, NULL) >= 0;
}

static int v_string(const node_t *n, uint32_t ti, vctx_t *c)
{
    if (n->min_len < 0 && n->max_len < 0 && !n->pattern)
        return 1;
    const char *p;
    size_t len;
    if (str_of(c, ti, 0, &p, &len))
        return 0;
    if (n->min_len >= 0 || n->max_len >= 0) {
        int64_t cps = 0;
        for (size_t i = 0; i < len; i++)
            cps += ((unsigned char)p[i] & 0xC0) != 0x80;
        if (n->min_len >= 0 && cps < n->min_len) {
            vfail(c, "minLength", "%lld characters, fewer than %lld", (long long)cps,
                  (long long)n->min_len);
            return 0;
        }
        if (n->max_len >= 0 && cps > n->max_len) {
            vfail(c, "maxLength", "%lld characters, more than %lld", (long long)cps,
                  (long long)n->max_len);
            return 0;
        }
    }
    if (n->pattern && !matches(c, n->pattern, p, len)) {
        vfail(c, "pattern", "does not match");
        return 0;
    }
    return 1;
}

static int v_number(const node_t *n, uint32_t ti, vctx_t *c)
{
    if (!n->has_min && !n->has_max && !n->has_xmin && !n->has_xmax && !n->has_mult)
        return 1;
    double d = num_of(c, ti);
    if (n->has_min && d < n->min) {
        vfail(c, "minimum", "%g is less than %g", d, n->min);
        return 0;
    }
    if (n->has_max && d > n->max) {
        vfail(c, "maximum", "%g is greater than %g", d, n->max);
        return 0;
    }
    if (n->has_xmin && d <= n->xmin) {
        vfail(c, "exclusiveMinimum", "%g is not greater than %g", d, n->xmin);
        return 0;
    }
    if (n->has_xmax && d >= n->xmax) {
        vfail(c, "exclusiveMaximum", "%g is not less than %g", d, n->xmax);
        return 0;
    }
    if (n->has_mult) {
        double q = d / n->mult;
        /* a quotient off an integer by rounding only (0.0075 / 0.0001) still counts */
        if (!isfinite(q) || fabs(q - nearbyint(q)) > 1e-9 * fmax(1.0, fabs(q))) {
            vfail(c, "multipleOf", "%g is not a multiple of %g", d, n->mult);
            return 0;
        }
    }
    return 1;
}

static int v_array(const node_t *n, uint32_t ti, vctx_t *c, const eval_t *ev)
{
    const rill__jtok_t *t = &c->t[ti];
    if (n->min_items >= 0 && t->n < n->min_items) {
        vfail(c, "minItems", "%u items, fewer than %lld", t->n, (long long)n->min_items);
        return 0;
    }
    if (n->max_items >= 0 && t->n > n->max_items) {
        vfail(c, "maxItems", "%u items, more than %lld", t->n, (long long)n->max_items);
        return 0;
    }
    if (n->prefix.n || n->items) {
        uint32_t e = ti + 1;
        for (uint32_t i = 0; i < t->n; i++, e = c->t[e].next) {
            const node_t *sub = i < n->prefix.n ? n->prefix.v[i] : n->items;
            if (!sub)
                break;
            push_path(c, i, 1);
            int ok = v_node(sub, e, c, NULL);
            c->depth--;
            if (!ok)
                return 0;
            ev_mark(c, ev, i);
        }
    }
    if (n->contains) {
        int64_t found = 0;
        uint32_t e = ti + 1;
        c->quiet++;
        int all = ev && n->contains_evaluates; /* every match is an annotation then */
        for (uint32_t i = 0; i < t->n; i++, e = c->t[e].next) {
            int hit = v_node(n->contains, e, c, NULL);
            found += hit;
            if (hit && all)
                ev_mark(c, ev, i);
            if (!all && n->max_contains < 0 && found >= n->min_contains)
                break;
            if (n->max_contains >= 0 && found > n->max_contains)
                break;
        }
        c->quiet--;
        if (found < n->min_contains) {
            vfail(c, n->min_contains == 1 ? "contains" : "minContains",
                  "%lld matching items, fewer than %lld", (long long)found,
                  (long long)n->min_contains);
            return 0;
        }
        if (n->max_contains >= 0 && found > n->max_contains) {
            vfail(c, "maxContains", "more than %lld matching items", (long long)n->max_contains);
            return 0;
        }
    }
    if (n->unique && t->n > 1) {
        uint32_t a = ti + 1;
        for (uint32_t i = 0; i < t->n; i++, a = c->t[a].next) {
            uint32_t b = c->t[a].next;
            for (uint32_t j = i + 1; j < t->n; j++, b = c->t[b].next) {
                if (eq_tok(c, a, b)) {
                    vfail(c, "uniqueItems", "items %u and %u are equal", i, j);
                    return 0;
                }
            }
        }
    }
    return 1;
}

static int v_object(const node_t *n, uint32_t ti, vctx_t *c, const eval_t *ev)
{
    const rill__jtok_t *t = &c->t[ti];
    if (n->min_props >= 0 && t->n < n->min_props) {
        vfail(c, "minProperties", "%u properties, fewer than %lld", t->n, (long long)n->min_props);
        return 0;
    }
    if (n->max_props >= 0 && t->n > n->max_props) {
        vfail(c, "maxProperties", "%u properties, more than %lld", t->n, (long long)n->max_props);
        return 0;
    }
    if (!n->nnamed && !n->npprops && !n->additional && !n->property_names)
        return 1;
    /* which named entries the instance has: a word on the stack for most schemas */
    uint64_t local[4] = {0}, *seen = local;
    size_t words = (n->nnamed + 63) / 64;
    if (n->has_named_checks && words > 4) {
        seen = rill_calloc(words, sizeof *seen);
        if (!seen) {
            c->nomem = 1;
            return 0;
        }
    }
    int ok = 1;
    uint32_t k = ti + 1;
    for (uint32_t m = 0; m < t->n && ok; m++) {
        uint32_t v = k + 1;
        const char *p;
        size_t len;
        if (str_of(c, k, 0, &p, &len)) {
            ok = 0;
            break;
        }
        int matched = 0;
        const named_t *e = NULL;
        for (size_t i = 0; i < n->nnamed; i++) {
            if (n->named[i].len == len && !memcmp(n->named[i].name, p, len)) {
                e = &n->named[i];
                if (n->has_named_checks)
                    seen[i / 64] |= 1ull << (i % 64);
                break;
            }
        }
        push_path(c, k, 0);
        if (n->property_names) {
            ok = v_node(n->property_names, k, c, NULL);
            if (!ok)
                vfail(c, "propertyNames", "the name is not valid");
        }
        if (ok && e && e->prop) {
            matched = 1;
            ok = v_node(e->prop, v, c, NULL);
        }
        for (size_t i = 0; ok && i < n->npprops; i++) {
            if (str_of(c, k, 0, &p, &len)) {
                ok = 0;
                break;
            }
            if (matches(c, n->pprops[i].re, p, len)) {
                matched = 1;
                ok = v_node(n->pprops[i].node, v, c, NULL);
            }
        }
        if (ok && !matched && n->additional) {
            if (n->additional->boolean == 0) { /* name the keyword that forbids the member */
                vfail(c, "additionalProperties", "property not allowed");
                ok = 0;
            } else {
                ok = v_node(n->additional, v, c, NULL);
            }
            matched = 1;
        }
        if (matched)
            ev_mark(c, ev, m);
        c->depth--;
        k = c->t[v].next;
    }
    for (size_t i = 0; ok && n->has_named_checks && i < n->nnamed; i++) {
        const named_t *e = &n->named[i];
        int has = (seen[i / 64] >> (i % 64)) & 1;
        if (e->required && !has) {
            vfail(c, "required", "property \"%.*s\" is missing", (int)e->len, e->name);
            ok = 0;
        } else if (has) {
            for (uint32_t j = 0; ok && j < e->ndep_req; j++) {
                uint32_t r = e->dep_req[j];
                if (!((seen[r / 64] >> (r % 64)) & 1)) {
                    vfail(c, "dependentRequired", "\"%.*s\" requires \"%.*s\"", (int)e->len,
                          e->name, (int)n->named[r].len, n->named[r].name);
                    ok = 0;
                }
            }
            if (ok && e->dep_schema)
                ok = v_inplace(e->dep_schema, ti, c, ev);
        }
    }
    if (seen != local)
        rill_free(seen);
    return ok;
}

static int v_keywords(const node_t *n, uint32_t ti, vctx_t *c, const eval_t *ev);
static int v_unevaluated(const node_t *n, uint32_t ti, vctx_t *c, const eval_t *ev);

static int v_node(const node_t *n, uint32_t ti, vctx_t *c, const eval_t *ev)
{
    if (n->boolean >= 0) {
        if (!n->boolean)
            vfail(c, "false", "no value is valid here");
        return n->boolean;
    }
    if (c->nesting >= 1000) { /* a schema that recurses without consuming the instance */
        vfail(c, "$ref", "recursion too deep");
        return 0;
    }
    c->nesting++;
    /* the dynamic scope matters only to a schema with dynamic anchors */
    int entered =
        n->scoped && c->nscope < MAX_PATH && (!c->nscope || c->scope[c->nscope - 1] != n->resource);
    if (entered)
        c->scope[c->nscope++] = n->resource;
    int ok;
    if (n->uneval_props || n->uneval_items) {
        /* this schema needs its own annotations; its parent may want them too */
        eval_t own;
        if (ev_open(c, &own, children_of(c, ti)))
            return 0;
        ok = v_keywords(n, ti, c, &own) && v_unevaluated(n, ti, c, &own);
        if (ok)
            ev_merge(c, ev, &own);
        ev_close(c, &own);
    } else {
        ok = v_keywords(n, ti, c, ev);
    }
    if (entered)
        c->nscope--;
    c->nesting--;
    return ok;
}

/* unevaluatedItems and unevaluatedProperties: the children no other keyword evaluated. */
static int v_unevaluated(const node_t *n, uint32_t ti, vctx_t *c, const eval_t *ev)
{
    const rill__jtok_t *t = &c->t[ti];
    const node_t *u = t->type == RILL__JT_ARRAY    ? n->uneval_items
                      : t->type == RILL__JT_OBJECT ? n->uneval_props
                                                   : NULL;
    if (!u)
        return 1;
    int object = t->type == RILL__JT_OBJECT;
    uint32_t e = ti + 1;
    for (uint32_t i = 0; i < t->n; i++) {
        uint32_t value = object ? e + 1 : e;
        if (!ev_has(c, ev, i)) {
            push_path(c, object ? e : i, !object);
            int ok = u->boolean == 0 ? 0 : v_node(u, value, c, NULL);
            if (!ok && u->boolean == 0)
                vfail(c, object ? "unevaluatedProperties" : "unevaluatedItems", "not allowed");
            c->depth--;
            if (!ok)
                return 0;
            ev_mark(c, ev, i);
        }
        e = c->t[value].next;
    }
    return 1;
}

/* $dynamicRef: the outermost resource in the dynamic scope with the anchor wins. */
static int __attribute__((noinline))
v_dynamic_ref(const node_t *n, uint32_t ti, vctx_t *c, const eval_t *ev)
{
    const node_t *target = n->dyn_ref;
    for (int i = 0; n->dyn_name && i < c->nscope && target == n->dyn_ref; i++)
        for (size_t a = 0; a < c->schema->nanchors; a++) {
            const dyn_anchor_t *d = &c->schema->anchors[a];
            if (d->resource == c->scope[i] && !strcmp(d->name, n->dyn_name)) {
                target = d->node;
                break;
            }
        }
    return v_inplace(target, ti, c, ev);
}

static int v_keywords(const node_t *n, uint32_t ti, vctx_t *c, const eval_t *ev)
{
    if (n->ref && !v_inplace(n->ref, ti, c, ev))
        return 0;
    if (__builtin_expect(n->dyn_ref != NULL, 0) && !v_dynamic_ref(n, ti, c, ev))
        return 0;
    if (n->types) {
        uint8_t it = inst_type(c, ti);
        if (!(it & n->types)) {
            static const char *const names[] = {"null",   "boolean", "object", "array",
                                                "number", "string",  "integer"};
            int b = 0;
            while (b < 6 && !(it & (1 << b)))
                b++;
            if (it & T_INTEGER)
                b = 6;
            vfail(c, "type", "%s is not allowed", names[b]);
            return 0;
        }
    }
    if (n->enum_) {
        size_t i;
        const json_t *v;
        int found = 0;
        json_array_foreach(n->enum_, i, v) if ((found = eq_json(c, ti, v))) break;
        if (!found) {
            vfail(c, "enum", "not one of the values");
            return 0;
        }
    }
    if (n->const_ && !eq_json(c, ti, n->const_)) {
        vfail(c, "const", "not the value");
        return 0;
    }
    int ok = 1;
    switch (c->t[ti].type) {
    case RILL__JT_NUMBER:
        ok = v_number(n, ti, c);
        break;
    case RILL__JT_STRING:
        ok = v_string(n, ti, c);
        break;
    case RILL__JT_ARRAY:
        ok = v_array(n, ti, c, ev);
        break;
    case RILL__JT_OBJECT:
        ok = v_object(n, ti, c, ev);
        break;
    }
    if (!ok)
        return 0;
    for (size_t i = 0; i < n->all_of.n; i++)
        if (!v_inplace(n->all_of.v[i], ti, c, ev))
            return 0;
    if (n->any_of.n) {
        c->quiet++;
        size_t hits = 0;
        for (size_t i = 0; i < n->any_of.n && (ev || !hits); i++)
            hits += (size_t)v_inplace(n->any_of.v[i], ti, c, ev); /* with ev: every match */
        c->quiet--;
        if (!hits) {
            vfail(c, "anyOf", "no subschema matches");
            return 0;
        }
    }
    if (n->one_of.n) {
        c->quiet++;
        size_t hits = 0;
        for (size_t i = 0; i < n->one_of.n && hits < 2; i++)
            hits += (size_t)v_inplace(n->one_of.v[i], ti, c, ev); /* merged only if alone */
        c->quiet--;
        if (hits != 1) {
            vfail(c, "oneOf", hits ? "more than one subschema matches" : "no subschema matches");
            return 0;
        }
    }
    if (n->not_) {
        c->quiet++;
        int r = v_node(n->not_, ti, c, NULL);
        c->quiet--;
        if (r) {
            vfail(c, "not", "the value matches the negated schema");
            return 0;
        }
    }
    if (n->if_) {
        c->quiet++;
        int r = v_inplace(n->if_, ti, c, ev);
        c->quiet--;
        const node_t *branch = r ? n->then_ : n->else_;
        if (branch && !v_inplace(branch, ti, c, ev))
            return 0;
    }
    return 1;
}

int rill_json_schema_validate(const rill_json_schema_t *schema, const void *json_text, size_t len,
                              char *errstr, size_t errstr_size)
{
    if (!schema || (!json_text && len)) {
        set_err(errstr, errstr_size, "rill_json_schema_validate: %s is NULL",
                !schema ? "schema" : "json_text");
        return RILL_EINVAL;
    }
    scratch_t *s = scratch_get();
    if (!s) {
        set_err(errstr, errstr_size, "out of memory");
        return RILL_ENOMEM;
    }
    int rc = rill__json_tokenize(&s->toks, json_text ? json_text : "", len, errstr, errstr_size);
    if (rc)
        return rc;
    /* fields one by one: the path and scope arrays need no zeroing (depth and nscope say how
     * much of them is live), and zeroing them cost 190 instructions a validation */
    vctx_t c;
    c.t = s->toks.toks;
    c.text = json_text;
    c.len = len;
    c.s = s;
    c.quiet = c.reported = c.nomem = c.nesting = c.depth = c.nscope = 0;
    c.schema = schema;
    c.errstr = errstr;
    c.errstr_size = errstr_size;
    s->evtop = 0;
    int ok = v_node(schema->root, 0, &c, NULL);
    if (c.nomem) {
        set_err(errstr, errstr_size, "out of memory");
        return RILL_ENOMEM;
    }
    if (!ok && !c.reported)
        set_err(errstr, errstr_size, "(root): not valid");
    return ok ? 0 : RILL_ESERDE;
}
