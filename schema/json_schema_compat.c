/*
 * json_schema_compat.c — JSON Schema compatibility for the registry, with the semantics of
 * Confluent Schema Registry's JSON Schema diff (json-schema-provider, package ...json.diff,
 * read for semantics only; the test cases of diff-schema-examples.json are ported as data in
 * tests/unit/test_json_schema_compat.c).
 *
 * diff(original, update) walks both schemas side by side and records differences, each a
 * Confluent difference type at a schema path; the update can read all data valid under the
 * original when every difference is in the compatible set (Confluent's strict set). BACKWARD is
 * diff(old, new), FORWARD diff(new, old), FULL both. An object's content model is open when
 * additionalProperties is absent or true, closed when it is false, partially open when it is a
 * schema or patternProperties cover a name; a property added to or removed from a partially open
 * model is compatible when the covering schema and the property's agree. $ref within a document
 * is followed, once per pair of schemas (recursive schemas end).
 */
#include <rill/schema.h>

#include <jansson.h>
#include <math.h>
#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    const json_t *o, *u;
} pair_t;

typedef struct {
    const json_t *odoc, *udoc;
    pair_t seen[256]; /* pairs being compared, so recursive schemas end */
    int nseen;
    int incompatible;
    int count;
    char *out;
    size_t out_size, out_len;
    int quiet; /* a trial diff: count incompatibility only */
} dctx_t;

/* Confluent's compatible differences (its strict set). */
static const char *const compatible[] = {
    "ID_CHANGED",
    "DESCRIPTION_CHANGED",
    "TITLE_CHANGED",
    "DEFAULT_CHANGED",
    "SCHEMA_REMOVED",
    "TYPE_EXTENDED",
    "MAX_LENGTH_INCREASED",
    "MAX_LENGTH_REMOVED",
    "MIN_LENGTH_DECREASED",
    "MIN_LENGTH_REMOVED",
    "PATTERN_REMOVED",
    "MAXIMUM_INCREASED",
    "MAXIMUM_REMOVED",
    "MINIMUM_DECREASED",
    "MINIMUM_REMOVED",
    "EXCLUSIVE_MAXIMUM_INCREASED",
    "EXCLUSIVE_MAXIMUM_REMOVED",
    "EXCLUSIVE_MINIMUM_DECREASED",
    "EXCLUSIVE_MINIMUM_REMOVED",
    "MULTIPLE_OF_REDUCED",
    "MULTIPLE_OF_REMOVED",
    "REQUIRED_ATTRIBUTE_WITH_DEFAULT_ADDED",
    "REQUIRED_ATTRIBUTE_REMOVED",
    "DEPENDENCY_ARRAY_NARROWED",
    "DEPENDENCY_ARRAY_REMOVED",
    "DEPENDENCY_SCHEMA_REMOVED",
    "MAX_PROPERTIES_INCREASED",
    "MAX_PROPERTIES_REMOVED",
    "MIN_PROPERTIES_DECREASED",
    "MIN_PROPERTIES_REMOVED",
    "ADDITIONAL_PROPERTIES_ADDED",
    "ADDITIONAL_PROPERTIES_EXTENDED",
    "PROPERTY_WITH_EMPTY_SCHEMA_ADDED_TO_OPEN_CONTENT_MODEL",
    "REQUIRED_PROPERTY_WITH_DEFAULT_ADDED_TO_UNOPEN_CONTENT_MODEL",
    "OPTIONAL_PROPERTY_ADDED_TO_UNOPEN_CONTENT_MODEL",
    "PROPERTY_WITH_FALSE_REMOVED_FROM_CLOSED_CONTENT_MODEL",
    "PROPERTY_REMOVED_FROM_OPEN_CONTENT_MODEL",
    "PROPERTY_ADDED_IS_COVERED_BY_PARTIALLY_OPEN_CONTENT_MODEL",
    "PROPERTY_REMOVED_IS_COVERED_BY_PARTIALLY_OPEN_CONTENT_MODEL",
    "MAX_ITEMS_INCREASED",
    "MAX_ITEMS_REMOVED",
    "MIN_ITEMS_DECREASED",
    "MIN_ITEMS_REMOVED",
    "MAX_CONTAINS_INCREASED",
    "MAX_CONTAINS_REMOVED",
    "MIN_CONTAINS_DECREASED",
    "MIN_CONTAINS_REMOVED",
    "UNIQUE_ITEMS_REMOVED",
    "ADDITIONAL_ITEMS_ADDED",
    "ADDITIONAL_ITEMS_EXTENDED",
    "ITEM_WITH_EMPTY_SCHEMA_ADDED_TO_OPEN_CONTENT_MODEL",
    "ITEM_ADDED_TO_CLOSED_CONTENT_MODEL",
    "ITEM_WITH_FALSE_REMOVED_FROM_CLOSED_CONTENT_MODEL",
    "ITEM_REMOVED_FROM_OPEN_CONTENT_MODEL",
    "ITEM_ADDED_IS_COVERED_BY_PARTIALLY_OPEN_CONTENT_MODEL",
    "ITEM_REMOVED_IS_COVERED_BY_PARTIALLY_OPEN_CONTENT_MODEL",
    "ENUM_ARRAY_EXTENDED",
    "COMBINED_TYPE_EXTENDED",
    "PRODUCT_TYPE_NARROWED",
    "SUM_TYPE_EXTENDED",
    "NOT_TYPE_NARROWED",
    NULL,
};

static int is_compatible(const char *type)
{
    for (int i = 0; compatible[i]; i++)
        if (!strcmp(compatible[i], type))
            return 1;
    return 0;
}

/* Appends to out (size bytes, *len used), cutting at the end; out stays terminated. */
static void __attribute__((format(printf, 4, 5)))
append(char *out, size_t size, size_t *len, const char *fmt, ...)
{
    if (!out || *len + 1 >= size)
        return;
    va_list ap;
    va_start(ap, fmt);
    int k = vsnprintf(out + *len, size - *len, fmt, ap);
    va_end(ap);
    if (k > 0)
        *len += (size_t)k;
    if (*len >= size)
        *len = size - 1;
}

/* Records a difference; the message lists the incompatible ones. */
static void add(dctx_t *c, const char *type, const char *path)
{
    if (!*type || is_compatible(type)) /* "": no difference */
        return;
    c->incompatible = 1;
    if (c->quiet)
        return;
    append(c->out, c->out_size, &c->out_len, "%s%s at #%s", c->count++ ? "; " : "", type,
           *path ? path : "/");
}

static void join(char *out, size_t n, const char *path, const char *seg)
{
    if (snprintf(out, n, "%s/%s", path, seg) >= (int)n)
        out[n - 1] = 0; /* a path that long is cut, only in messages */
}

/* Follows $ref within doc (JSON Pointer fragments only). */
static const json_t *deref(const json_t *doc, const json_t *s)
{
    for (int hops = 0; hops < 32 && json_is_object(s); hops++) {
        const json_t *r = json_object_get(s, "$ref");
        const char *ref = json_string_value(r);
        if (!ref || ref[0] != '#')
            return s;
        const json_t *t = doc;
        const char *p = ref + 1;
        while (t && *p == '/') {
            char seg[256];
            size_t o = 0;
            for (p++; *p && *p != '/' && o + 1 < sizeof seg; p++) {
                if (p[0] == '~' && (p[1] == '0' || p[1] == '1'))
                    seg[o++] = p[1] == '0' ? '~' : '/', p++;
                else
                    seg[o++] = *p;
            }
            seg[o] = 0;
            t = json_is_array(t) ? json_array_get(t, (size_t)atol(seg)) : json_object_get(t, seg);
        }
        if (!t)
            return s;
        s = t;
    }
    return s;
}

/* The empty schema: true, {} or one with only annotations. */
static int is_empty(const json_t *s)
{
    if (json_is_true(s))
        return 1;
    if (!json_is_object(s))
        return 0;
    const char *k;
    const json_t *v;
    static const char *const meta[] = {"$schema", "$id",      "id",    "title",       "description",
                                       "default", "$comment", "$defs", "definitions", NULL};
    json_object_foreach((json_t *)s, k, v)
    {
        int m = 0;
        for (int i = 0; meta[i] && !m; i++)
            m = !strcmp(k, meta[i]);
        if (!m)
            return 0;
    }
    return 1;
}

enum { TN = 1, TB = 2, TO = 4, TA = 8, TNUM = 16, TS = 32, TI = 64 };

static unsigned type_bits(const json_t *s)
{
    const json_t *t = json_object_get(s, "type");
    static const char *const names[] = {"null",   "boolean", "object", "array",
                                        "number", "string",  "integer"};
    unsigned bits = 0;
    const json_t *one = t;
    size_t i = 0, n = json_is_array(t) ? json_array_size(t) : 1;
    for (; t && i < n; i++) {
        if (json_is_array(t))
            one = json_array_get(t, i);
        for (int b = 0; b < 7; b++)
            if (json_is_string(one) && !strcmp(json_string_value(one), names[b]))
                bits |= 1u << b;
    }
    return bits;
}

static int popcount(unsigned v)
{
    return __builtin_popcount(v);
}

static void diff(dctx_t *c, const json_t *o, const json_t *u, const char *path);

/* Would data valid under o be valid under u? A quiet trial diff. */
static int trial(dctx_t *c, const json_t *o, const json_t *u)
{
    dctx_t t = *c;
    t.quiet = 1;
    t.incompatible = 0;
    diff(&t, o, u, "");
    return !t.incompatible;
}

static void text_changed(dctx_t *c, const json_t *o, const json_t *u, const char *kw,
                         const char *type, const char *path)
{
    const json_t *a = json_object_get(o, kw), *b = json_object_get(u, kw);
    if ((a || b) && !json_equal(a, b))
        add(c, type, path);
}

/* A numeric bound: lower says a larger value is tighter (minimum, minLength...). */
static void bound(dctx_t *c, const json_t *o, const json_t *u, const char *kw, const char *name,
                  int lower, const char *path)
{
    const json_t *a = json_object_get(o, kw), *b = json_object_get(u, kw);
    if (!json_is_number(a) && !json_is_number(b))
        return;
    char type[64], p[512];
    join(p, sizeof p, path, kw);
    if (!json_is_number(b)) {
        snprintf(type, sizeof type, "%s_REMOVED", name);
    } else if (!json_is_number(a)) {
        snprintf(type, sizeof type, "%s_ADDED", name);
    } else {
        double x = json_number_value(a), y = json_number_value(b);
        if (x == y)
            return;
        snprintf(type, sizeof type, "%s_%s", name, y > x ? "INCREASED" : "DECREASED");
        (void)lower;
    }
    add(c, type, p);
}

static void diff_numbers(dctx_t *c, const json_t *o, const json_t *u, const char *path)
{
    bound(c, o, u, "maximum", "MAXIMUM", 0, path);
    bound(c, o, u, "minimum", "MINIMUM", 1, path);
    bound(c, o, u, "exclusiveMaximum", "EXCLUSIVE_MAXIMUM", 0, path);
    bound(c, o, u, "exclusiveMinimum", "EXCLUSIVE_MINIMUM", 1, path);
    const json_t *a = json_object_get(o, "multipleOf"), *b = json_object_get(u, "multipleOf");
    char p[512];
    join(p, sizeof p, path, "multipleOf");
    if (json_is_number(a) && !json_is_number(b)) {
        add(c, "MULTIPLE_OF_REMOVED", p);
    } else if (!json_is_number(a) && json_is_number(b)) {
        add(c, "MULTIPLE_OF_ADDED", p);
    } else if (json_is_number(a) && json_number_value(a) != json_number_value(b)) {
        double x = json_number_value(a), y = json_number_value(b);
        double q = x / y;
        add(c, fabs(q - nearbyint(q)) < 1e-9 ? "MULTIPLE_OF_REDUCED" : "MULTIPLE_OF_CHANGED", p);
    }
}

static void diff_strings(dctx_t *c, const json_t *o, const json_t *u, const char *path)
{
    bound(c, o, u, "maxLength", "MAX_LENGTH", 0, path);
    bound(c, o, u, "minLength", "MIN_LENGTH", 1, path);
    const json_t *a = json_object_get(o, "pattern"), *b = json_object_get(u, "pattern");
    char p[512];
    join(p, sizeof p, path, "pattern");
    if (a && !b)
        add(c, "PATTERN_REMOVED", p);
    else if (!a && b)
        add(c, "PATTERN_ADDED", p);
    else if (a && !json_equal(a, b))
        add(c, "PATTERN_CHANGED", p);
}

static int in_array(const json_t *arr, const json_t *v)
{
    size_t i;
    const json_t *x;
    json_array_foreach(arr, i, x) if (json_equal(x, v)) return 1;
    return 0;
}

static int is_required(const json_t *s, const char *name)
{
    const json_t *r = json_object_get(s, "required");
    size_t i;
    const json_t *x;
    json_array_foreach(r, i,
                       x) if (json_is_string(x) && !strcmp(json_string_value(x), name)) return 1;
    return 0;
}

/* The schema that covers a name absent from properties: a matching patternProperties schema,
 * else additionalProperties. Sets *open when the model is fully open. */
static const json_t *covering(const json_t *s, const char *name, int *open)
{
    const json_t *pp = json_object_get(s, "patternProperties");
    const char *k;
    const json_t *v;
    *open = 0;
    json_object_foreach((json_t *)pp, k, v)
    {
        int err;
        PCRE2_SIZE off;
        pcre2_code *re =
            pcre2_compile((PCRE2_SPTR)k, PCRE2_ZERO_TERMINATED, PCRE2_UTF, &err, &off, NULL);
        if (!re)
            continue;
        pcre2_match_data *md = pcre2_match_data_create_from_pattern(re, NULL);
        int m = md && pcre2_match(re, (PCRE2_SPTR)name, strlen(name), 0, 0, md, NULL) >= 0;
        pcre2_match_data_free(md);
        pcre2_code_free(re);
        if (m)
            return v;
    }
    const json_t *ap = json_object_get(s, "additionalProperties");
    if (!ap || json_is_true(ap)) {
        *open = 1;
        return NULL;
    }
    return json_is_false(ap) ? NULL : ap;
}

static void diff_objects(dctx_t *c, const json_t *o, const json_t *u, const char *path)
{
    const json_t *op = json_object_get(o, "properties"), *up = json_object_get(u, "properties");
    const char *k;
    const json_t *v;
    char p[512];
    json_object_foreach((json_t *)up, k, v)
    {
        join(p, sizeof p, path, "properties");
        char pk[512];
        join(pk, sizeof pk, p, k);
        const json_t *ov = json_object_get(op, k);
        if (ov) {
            diff(c, ov, v, pk);
            if (is_required(u, k) && !is_required(o, k)) {
                char pr[512];
                join(p, sizeof p, path, "required");
                join(pr, sizeof pr, p, k);
                add(c,
                    json_object_get(deref(c->udoc, v), "default")
                        ? "REQUIRED_ATTRIBUTE_WITH_DEFAULT_ADDED"
                        : "REQUIRED_ATTRIBUTE_ADDED",
                    pr);
            }
            continue;
        }
        int open;
        const json_t *cov = covering(o, k, &open);
        int req = is_required(u, k);
        int has_default = json_object_get(deref(c->udoc, v), "default") != NULL;
        if (open) {
            if (is_empty(v))
                add(c, "PROPERTY_WITH_EMPTY_SCHEMA_ADDED_TO_OPEN_CONTENT_MODEL", pk);
            else if (req)
                add(c,
                    has_default ? "REQUIRED_PROPERTY_WITH_DEFAULT_ADDED_TO_OPEN_CONTENT_MODEL"
                                : "REQUIRED_PROPERTY_ADDED_TO_OPEN_CONTENT_MODEL",
                    pk);
            else
                add(c, "OPTIONAL_PROPERTY_ADDED_TO_OPEN_CONTENT_MODEL", pk);
            continue;
        }
        if (cov) {
            /* data under o may hold the name, valid under the covering schema */
            diff(c, cov, v, pk);
            add(c,
                trial(c, cov, v) ? "PROPERTY_ADDED_IS_COVERED_BY_PARTIALLY_OPEN_CONTENT_MODEL"
                                 : "PROPERTY_ADDED_NOT_COVERED_BY_PARTIALLY_OPEN_CONTENT_MODEL",
                pk);
        }
        if (req)
            add(c,
                has_default ? "REQUIRED_PROPERTY_WITH_DEFAULT_ADDED_TO_UNOPEN_CONTENT_MODEL"
                            : "REQUIRED_PROPERTY_ADDED_TO_UNOPEN_CONTENT_MODEL",
                pk);
        else
            add(c, "OPTIONAL_PROPERTY_ADDED_TO_UNOPEN_CONTENT_MODEL", pk);
    }
    json_object_foreach((json_t *)op, k, v)
    {
        if (json_object_get(up, k))
            continue;
        join(p, sizeof p, path, "properties");
        char pk[512];
        join(pk, sizeof pk, p, k);
        int open;
        const json_t *cov = covering(u, k, &open);
        if (open)
            add(c, "PROPERTY_REMOVED_FROM_OPEN_CONTENT_MODEL", pk);
        else if (json_is_false(v))
            add(c, "PROPERTY_WITH_FALSE_REMOVED_FROM_CLOSED_CONTENT_MODEL", pk);
        else if (cov) {
            diff(c, v, cov, pk);
            add(c,
                trial(c, v, cov) ? "PROPERTY_REMOVED_IS_COVERED_BY_PARTIALLY_OPEN_CONTENT_MODEL"
                                 : "PROPERTY_REMOVED_NOT_COVERED_BY_PARTIALLY_OPEN_CONTENT_MODEL",
                pk);
        } else
            add(c, "PROPERTY_REMOVED_FROM_CLOSED_CONTENT_MODEL", pk);
    }
    /* a name the original required and the update does not */
    const json_t *x;
    size_t i;
    json_array_foreach(json_object_get(o, "required"), i, x)
    {
        if (json_is_string(x) && !is_required(u, json_string_value(x))) {
            char pr[512];
            join(p, sizeof p, path, "required");
            join(pr, sizeof pr, p, json_string_value(x));
            add(c, "REQUIRED_ATTRIBUTE_REMOVED", pr);
        }
    }
    const json_t *oa = json_object_get(o, "additionalProperties");
    const json_t *ua = json_object_get(u, "additionalProperties");
    join(p, sizeof p, path, "additionalProperties");
    int o_open = !oa || json_is_true(oa), u_open = !ua || json_is_true(ua);
    if (json_is_false(oa) && !json_is_false(ua))
        add(c, "ADDITIONAL_PROPERTIES_ADDED", p);
    else if (!json_is_false(oa) && json_is_false(ua))
        add(c, "ADDITIONAL_PROPERTIES_REMOVED", p);
    else if (o_open && !u_open)
        add(c, "ADDITIONAL_PROPERTIES_NARROWED", p);
    else if (!o_open && u_open)
        add(c, "ADDITIONAL_PROPERTIES_EXTENDED", p);
    else if (oa && ua && !o_open && !json_is_false(oa))
        diff(c, oa, ua, p);
    bound(c, o, u, "maxProperties", "MAX_PROPERTIES", 0, path);
    bound(c, o, u, "minProperties", "MIN_PROPERTIES", 1, path);
    /* dependencies: arrays (dependentRequired) and schemas (dependentSchemas) */
    static const char *const dkw[] = {"dependencies", "dependentRequired", "dependentSchemas",
                                      NULL};
    for (int d = 0; dkw[d]; d++) {
        const json_t *od = json_object_get(o, dkw[d]), *ud = json_object_get(u, dkw[d]);
        char pd[512];
        join(pd, sizeof pd, path, dkw[d]);
        json_object_foreach((json_t *)ud, k, v)
        {
            const json_t *ov = json_object_get(od, k);
            char pk[512];
            join(pk, sizeof pk, pd, k);
            if (json_is_array(v)) {
                if (!ov)
                    add(c, "DEPENDENCY_ARRAY_ADDED", pk);
                else if (json_is_array(ov) && !json_equal(ov, v)) {
                    int sub = 1, sup = 1;
                    json_array_foreach(v, i, x) sub &= in_array(ov, x);
                    json_array_foreach(ov, i, x) sup &= in_array(v, x);
                    add(c,
                        sub   ? "DEPENDENCY_ARRAY_NARROWED"
                        : sup ? "DEPENDENCY_ARRAY_EXTENDED"
                              : "DEPENDENCY_ARRAY_CHANGED",
                        pk);
                }
            } else if (!ov) {
                add(c, "DEPENDENCY_SCHEMA_ADDED", pk);
            } else {
                diff(c, ov, v, pk);
            }
        }
        json_object_foreach((json_t *)od, k, v)
        {
            if (json_object_get(ud, k))
                continue;
            char pk[512];
            join(pk, sizeof pk, pd, k);
            add(c, json_is_array(v) ? "DEPENDENCY_ARRAY_REMOVED" : "DEPENDENCY_SCHEMA_REMOVED", pk);
        }
    }
}

/* The tuple part of an array schema (prefixItems, or items as an array) and the rest. */
static const json_t *tuple(const json_t *s, const json_t **rest)
{
    const json_t *items = json_object_get(s, "items");
    const json_t *prefix = json_object_get(s, "prefixItems");
    if (json_is_array(prefix)) {
        *rest = items;
        return prefix;
    }
    if (json_is_array(items)) {
        *rest = json_object_get(s, "additionalItems");
        return items;
    }
    *rest = items;
    return NULL;
}

/* The schema for items past the tuple (additionalItems, or items after prefixItems): absent or
 * true is open, false closed, a schema partially open. */
static void rest_diff(dctx_t *c, const json_t *orest, const json_t *urest, const char *p)
{
    int o_open = !orest || json_is_true(orest), u_open = !urest || json_is_true(urest);
    if (json_is_false(orest) && !json_is_false(urest))
        add(c, "ADDITIONAL_ITEMS_ADDED", p);
    else if (!json_is_false(orest) && json_is_false(urest))
        add(c, "ADDITIONAL_ITEMS_REMOVED", p);
    else if (o_open && !u_open)
        add(c, "ADDITIONAL_ITEMS_NARROWED", p);
    else if (!o_open && u_open)
        add(c, "ADDITIONAL_ITEMS_EXTENDED", p);
    else if (!o_open && !json_is_false(orest))
        diff(c, orest, urest, p);
}

static void diff_arrays(dctx_t *c, const json_t *o, const json_t *u, const char *path)
{
    bound(c, o, u, "maxItems", "MAX_ITEMS", 0, path);
    bound(c, o, u, "minItems", "MIN_ITEMS", 1, path);
    bound(c, o, u, "maxContains", "MAX_CONTAINS", 0, path);
    bound(c, o, u, "minContains", "MIN_CONTAINS", 1, path);
    char p[512];
    int ou = json_is_true(json_object_get(o, "uniqueItems"));
    int uu = json_is_true(json_object_get(u, "uniqueItems"));
    join(p, sizeof p, path, "uniqueItems");
    if (ou != uu)
        add(c, ou ? "UNIQUE_ITEMS_REMOVED" : "UNIQUE_ITEMS_ADDED", p);
    const json_t *orest, *urest;
    const json_t *ot = tuple(o, &orest), *ut = tuple(u, &urest);
    const char *restkw = json_object_get(u, "prefixItems") ? "items" : "additionalItems";
    size_t on = json_array_size(ot), un = json_array_size(ut);
    if (!ot && !ut) {
        join(p, sizeof p, path, "items");
        if (orest || urest)
            diff(c, orest, urest, p); /* one absent: SCHEMA_ADDED or _REMOVED */
        /* additionalItems without a tuple means nothing, but Confluent compares it */
        const json_t *oa = json_object_get(o, "additionalItems");
        const json_t *ua = json_object_get(u, "additionalItems");
        join(p, sizeof p, path, "additionalItems");
        if (oa || ua)
            rest_diff(c, oa, ua, p);
        return;
    }
    int o_open = !orest || json_is_true(orest), u_open = !urest || json_is_true(urest);
    for (size_t i = 0; i < (on > un ? on : un); i++) {
        char idx[24];
        snprintf(idx, sizeof idx, "%zu", i);
        join(p, sizeof p, path, json_object_get(u, "prefixItems") ? "prefixItems" : "items");
        char pi[512];
        join(pi, sizeof pi, p, idx);
        const json_t *a = json_array_get(ot, i), *b = json_array_get(ut, i);
        if (a && b) {
            diff(c, a, b, pi);
        } else if (b) { /* an item the original described with its rest schema */
            if (o_open)
                add(c,
                    is_empty(b) ? "ITEM_WITH_EMPTY_SCHEMA_ADDED_TO_OPEN_CONTENT_MODEL"
                                : "ITEM_ADDED_TO_OPEN_CONTENT_MODEL",
                    pi);
            else if (json_is_false(orest))
                add(c, "ITEM_ADDED_TO_CLOSED_CONTENT_MODEL", pi);
            else {
                diff(c, orest, b, pi);
                add(c,
                    trial(c, orest, b) ? "ITEM_ADDED_IS_COVERED_BY_PARTIALLY_OPEN_CONTENT_MODEL"
                                       : "ITEM_ADDED_NOT_COVERED_BY_PARTIALLY_OPEN_CONTENT_MODEL",
                    pi);
            }
        } else {
            if (u_open)
                add(c, "ITEM_REMOVED_FROM_OPEN_CONTENT_MODEL", pi);
            else if (json_is_false(a))
                add(c, "ITEM_WITH_FALSE_REMOVED_FROM_CLOSED_CONTENT_MODEL", pi);
            else if (json_is_false(urest))
                add(c, "ITEM_REMOVED_FROM_CLOSED_CONTENT_MODEL", pi);
            else {
                diff(c, a, urest, pi);
                add(c,
                    trial(c, a, urest) ? "ITEM_REMOVED_IS_COVERED_BY_PARTIALLY_OPEN_CONTENT_MODEL"
                                       : "ITEM_REMOVED_NOT_COVERED_BY_PARTIALLY_OPEN_CONTENT_MODEL",
                    pi);
            }
        }
    }
    join(p, sizeof p, path, restkw);
    rest_diff(c, orest, urest, p);
}

static const char *combinator(const json_t *s)
{
    static const char *const kws[] = {"oneOf", "anyOf", "allOf", NULL};
    for (int i = 0; kws[i]; i++)
        if (json_is_array(json_object_get(s, kws[i])))
            return kws[i];
    return NULL;
}

/* The number of distinct subschemas (Confluent ignores duplicates). */
static size_t distinct(const json_t *arr)
{
    size_t n = 0, i, j;
    const json_t *x;
    json_array_foreach(arr, i, x)
    {
        for (j = 0; j < i && !json_equal(json_array_get(arr, j), x); j++)
            ;
        n += j == i;
    }
    return n;
}

/* Does some (any = 1) or every (any = 0) pair of a from-subschema and a to-subschema pass a
 * trial diff? from or to may be a single schema (not an array). */
static int pairs(dctx_t *c, const json_t *from, const json_t *to, int any_from, int any_to)
{
    size_t nf = json_is_array(from) ? json_array_size(from) : 1;
    size_t nt = json_is_array(to) ? json_array_size(to) : 1;
    int outer = !any_from;
    for (size_t i = 0; i < nf; i++) {
        const json_t *f = json_is_array(from) ? json_array_get(from, i) : from;
        int inner = !any_to;
        for (size_t j = 0; j < nt; j++) {
            int ok = trial(c, f, json_is_array(to) ? json_array_get(to, j) : to);
            inner = any_to ? inner || ok : inner && ok;
        }
        outer = any_from ? outer || inner : outer && inner;
    }
    return outer;
}

/* Sizes and subschemas of two combinations of the same kind (sum: anyOf/oneOf; product). */
static void same_kind(dctx_t *c, const json_t *os, const json_t *us, int product, const char *path)
{
    size_t on = distinct(os), un = distinct(us);
    if (un > on)
        add(c, product ? "PRODUCT_TYPE_EXTENDED" : "SUM_TYPE_EXTENDED", path);
    else if (un < on)
        add(c, product ? "PRODUCT_TYPE_NARROWED" : "SUM_TYPE_NARROWED", path);
    /* a sum: every original member reads as some update member; a product: every update
     * member reads what some original member allowed */
    size_t i;
    const json_t *x;
    json_array_foreach(product ? us : os, i, x)
    {
        if (product ? !pairs(c, os, x, 1, 0) : !pairs(c, x, us, 0, 1)) {
            add(c, "COMBINED_TYPE_SUBSCHEMAS_CHANGED", path);
            return;
        }
    }
}

/* oneOf/anyOf/allOf on both sides, or on one. Data valid under all of a product is valid under
 * a sum when one member of each agrees; a sum reads as a product when every pair agrees. */
static void diff_combined(dctx_t *c, const json_t *o, const json_t *u, const char *path)
{
    const char *oc = combinator(o), *uc = combinator(u);
    if (!oc && !uc)
        return;
    const json_t *os = oc ? json_object_get(o, oc) : NULL;
    const json_t *us = uc ? json_object_get(u, uc) : NULL;
    int oprod = oc && !strcmp(oc, "allOf"), uprod = uc && !strcmp(uc, "allOf");
    if (!oc) {
        if (uprod)
            add(c, pairs(c, o, us, 0, 0) ? "" : "TYPE_CHANGED", path);
        else
            add(c, pairs(c, o, us, 0, 1) ? "SUM_TYPE_EXTENDED" : "COMBINED_TYPE_CHANGED", path);
    } else if (!uc) {
        if (oprod)
            add(c, pairs(c, os, u, 1, 0) ? "PRODUCT_TYPE_NARROWED" : "COMBINED_TYPE_CHANGED", path);
        else
            add(c, pairs(c, os, u, 0, 0) ? "" : "COMBINED_TYPE_CHANGED", path);
    } else if (!strcmp(oc, uc)) {
        same_kind(c, os, us, oprod, path);
    } else if (oprod) { /* allOf -> anyOf or oneOf */
        if (!pairs(c, os, us, 1, 1)) {
            add(c, "COMBINED_TYPE_CHANGED", path);
            return;
        }
        add(c, "COMBINED_TYPE_EXTENDED", path);
        size_t on = distinct(os), un = distinct(us);
        if (un > on)
            add(c, "SUM_TYPE_EXTENDED", path);
        else if (un < on)
            add(c, "PRODUCT_TYPE_NARROWED", path);
    } else if (uprod) { /* anyOf or oneOf -> allOf */
        add(c, pairs(c, os, us, 0, 0) ? "COMBINED_TYPE_EXTENDED" : "COMBINED_TYPE_CHANGED", path);
    } else if (!strcmp(uc, "anyOf") || distinct(us) >= distinct(os)) {
        /* oneOf -> anyOf loosens; anyOf -> oneOf only with as many members (Confluent's rule) */
        add(c, "COMBINED_TYPE_EXTENDED", path);
        same_kind(c, os, us, 0, path);
    } else {
        add(c, "COMBINED_TYPE_CHANGED", path);
    }
}

static void diff(dctx_t *c, const json_t *o, const json_t *u, const char *path)
{
    o = deref(c->odoc, o);
    u = deref(c->udoc, u);
    for (int i = 0; i < c->nseen; i++)
        if (c->seen[i].o == o && c->seen[i].u == u)
            return;
    if (c->nseen == (int)(sizeof c->seen / sizeof *c->seen))
        return;
    c->seen[c->nseen++] = (pair_t){o, u};
    if (!o && u) {
        add(c, "SCHEMA_ADDED", path);
    } else if (o && !u) {
        add(c, "SCHEMA_REMOVED", path);
    } else if (is_empty(u)) {
        /* anything can change to the empty schema */
    } else if (json_is_false(o)) {
        /* nothing was valid: any update reads it */
    } else if (is_empty(o) || json_is_false(u) || !json_is_object(u) || !json_is_object(o)) {
        add(c, "TYPE_CHANGED", path);
    } else {
        text_changed(c, o, u, json_object_get(o, "$id") ? "$id" : "id", "ID_CHANGED", path);
        text_changed(c, o, u, "title", "TITLE_CHANGED", path);
        text_changed(c, o, u, "description", "DESCRIPTION_CHANGED", path);
        text_changed(c, o, u, "default", "DEFAULT_CHANGED", path);
        unsigned ot = type_bits(o), ut = type_bits(u);
        if (ot != ut) {
            unsigned on = ot & TI ? (ot & ~TI) | TNUM : ot; /* integer counts as number */
            if (!ut) {
                /* the type was dropped: wider */
            } else if (!ot) {
                if (!combinator(o)) /* else the combination decides (diff_combined) */
                    add(c, "TYPE_CHANGED", path);
            } else if (popcount(ot) == 1 && popcount(ut) == 1) {
                add(c,
                    ot == TI && ut == TNUM   ? "TYPE_EXTENDED"
                    : ot == TNUM && ut == TI ? "TYPE_NARROWED"
                                             : "TYPE_CHANGED",
                    path);
            } else if ((ot & ut) == ot || ((on & ut) == on && !(ot & TNUM))) {
                add(c, "SUM_TYPE_EXTENDED", path);
            } else if ((ot & ut) == ut) {
                add(c, "SUM_TYPE_NARROWED", path);
            } else {
                add(c, "TYPE_CHANGED", path);
            }
        }
        const json_t *oe = json_object_get(o, "enum"), *ue = json_object_get(u, "enum");
        const json_t *oc = json_object_get(o, "const"), *uc = json_object_get(u, "const");
        char p[512];
        if (oe && ue && !json_equal(oe, ue)) {
            size_t i;
            const json_t *x;
            int sup = 1;
            json_array_foreach(oe, i, x) sup &= in_array(ue, x);
            join(p, sizeof p, path, "enum");
            add(c, sup ? "ENUM_ARRAY_EXTENDED" : "ENUM_ARRAY_CHANGED", p);
        } else if (oe && !ue) {
            add(c, "PRODUCT_TYPE_NARROWED", path);
        } else if (!oe && ue) {
            add(c, "PRODUCT_TYPE_EXTENDED", path);
        }
        if (oc && uc && !json_equal(oc, uc)) {
            join(p, sizeof p, path, "const");
            add(c, "ENUM_ARRAY_CHANGED", p);
        } else if (!oc && uc) {
            add(c, "PRODUCT_TYPE_EXTENDED", path);
        }
        diff_numbers(c, o, u, path);
        diff_strings(c, o, u, path);
        diff_objects(c, o, u, path);
        diff_arrays(c, o, u, path);
        diff_combined(c, o, u, path);
        const json_t *on = json_object_get(o, "not"), *un = json_object_get(u, "not");
        if (on || un) {
            join(p, sizeof p, path, "not");
            if (!on)
                add(c, "TYPE_CHANGED", p);
            else if (un) {
                /* not: the inner schemas swap roles */
                int wider = trial(c, on, un);
                if (!json_equal(on, un))
                    add(c, wider ? "NOT_TYPE_EXTENDED" : "NOT_TYPE_NARROWED", p);
            }
        }
    }
    c->nseen--;
}

static int check(const json_t *reader, const json_t *writer, const char *dir, char *errstr,
                 size_t errstr_size, size_t *len)
{
    dctx_t c = {.odoc = writer, .udoc = reader, .out = errstr, .out_size = errstr_size};
    c.out_len = *len;
    append(errstr, errstr_size, &c.out_len, "%s%s: ", *len ? "; " : "", dir);
    diff(&c, writer, reader, "");
    if (c.incompatible)
        *len = c.out_len;
    else if (errstr && errstr_size > *len)
        errstr[*len] = 0;
    return c.incompatible;
}

int rill_json_schema_compatible(const char *new_text, size_t new_len, const char *old_text,
                                size_t old_len, rill_compat_level_t level, char *errstr,
                                size_t errstr_size)
{
    if (errstr && errstr_size)
        errstr[0] = 0;
    if (!new_text || !old_text || level < RILL_COMPAT_NONE || level > RILL_COMPAT_FULL_TRANSITIVE) {
        if (errstr && errstr_size)
            snprintf(errstr, errstr_size, "rill_json_schema_compatible: invalid argument");
        return RILL_EINVAL;
    }
    json_error_t jerr;
    json_t *nw = json_loadb(new_text, new_len, JSON_DECODE_ANY, &jerr);
    json_t *old = nw ? json_loadb(old_text, old_len, JSON_DECODE_ANY, &jerr) : NULL;
    if (!nw || !old) {
        if (errstr && errstr_size)
            snprintf(errstr, errstr_size, "%s schema is not JSON: %s", nw ? "old" : "new",
                     jerr.text);
        json_decref(nw);
        return RILL_EINVAL;
    }
    int bad = 0;
    size_t len = 0;
    int backward = level == RILL_COMPAT_BACKWARD || level == RILL_COMPAT_BACKWARD_TRANSITIVE ||
                   level == RILL_COMPAT_FULL || level == RILL_COMPAT_FULL_TRANSITIVE;
    int forward = level == RILL_COMPAT_FORWARD || level == RILL_COMPAT_FORWARD_TRANSITIVE ||
                  level == RILL_COMPAT_FULL || level == RILL_COMPAT_FULL_TRANSITIVE;
    if (backward)
        bad |= check(nw, old, "BACKWARD (new reads old)", errstr, errstr_size, &len);
    if (forward)
        bad |= check(old, nw, "FORWARD (old reads new)", errstr, errstr_size, &len);
    json_decref(nw);
    json_decref(old);
    return bad ? RILL_ESERDE : 0;
}
