/*
 * The Avro serde's values (rill_avro_value_t, avro_int.h): a decoded or built value is a tree in
 * the record's arena whose strings point into the input bytes (one pass, no malloc once the
 * arena is warm, no copy). This file walks paths ("order.lines[2].sku") through that tree and
 * reads values with the typed getters; the writer (avro_build.c) walks the same paths.
 */
#include "avro_int.h"

#include <stdio.h>
#include <string.h>

/* Walks path from v for a reader: NULL when a step does not exist. */
static rill_avro_value_t *walk(const void *from, const char *path)
{
    rill_avro_value_t *v = (rill_avro_value_t *)from;
    if (!v || !path)
        return v;
    const char *p = path;
    while (*p && v) {
        avro_seg_t seg;
        p = avro_seg_name(p, &seg);
        if (seg.len)
            v = avro_child_by_name(v, &seg);
        size_t i;
        while (v && *p == '[')
            v = avro_seg_index(&p, &i) ? avro_child_at(v, i) : NULL;
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

/* The value at path when its type is one of types (AVRO_BIT()s), else NULL: what each typed
 * getter starts with. */
static const rill_avro_value_t *get_of(const void *v, const char *path, unsigned types)
{
    const rill_avro_value_t *x = rill_avro_get(v, path);
    return x && (types >> x->node->type & 1) ? x : NULL;
}

#define INTS  (AVRO_BIT(RILL_AVRO_INT) | AVRO_BIT(RILL_AVRO_LONG))
#define REALS (AVRO_BIT(RILL_AVRO_FLOAT) | AVRO_BIT(RILL_AVRO_DOUBLE))

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
    const rill_avro_value_t *x = get_of(v, path, INTS);
    if (x && out)
        *out = x->u.i;
    return x ? 0 : RILL_ENOENT;
}

int rill_avro_get_double(const void *v, const char *path, double *out)
{
    const rill_avro_value_t *x = get_of(v, path, REALS | INTS);
    if (x && out)
        *out = (REALS >> x->node->type & 1) ? x->u.d : (double)x->u.i;
    return x ? 0 : RILL_ENOENT;
}

int rill_avro_get_bool(const void *v, const char *path, bool *out)
{
    const rill_avro_value_t *x = get_of(v, path, AVRO_BIT(RILL_AVRO_BOOLEAN));
    if (x && out)
        *out = x->u.i != 0;
    return x ? 0 : RILL_ENOENT;
}

int rill_avro_get_str(const void *v, const char *path, rill_buf_t *out)
{
    const rill_avro_value_t *x = get_of(v, path,
                                        AVRO_BIT(RILL_AVRO_STRING) | AVRO_BIT(RILL_AVRO_BYTES) |
                                            AVRO_BIT(RILL_AVRO_FIXED) | AVRO_BIT(RILL_AVRO_ENUM));
    if (x && out)
        *out = x->node->type == RILL_AVRO_ENUM
                   ? (rill_buf_t){x->node->names[x->u.i], x->node->name_lens[x->u.i]}
                   : (rill_buf_t){x->u.s.p, x->u.s.len};
    return x ? 0 : RILL_ENOENT;
}

const char *rill_avro_get_enum(const void *v, const char *path, int *index)
{
    const rill_avro_value_t *x = get_of(v, path, AVRO_BIT(RILL_AVRO_ENUM));
    if (x && index)
        *index = (int)x->u.i;
    return x ? x->node->names[x->u.i] : NULL;
}

int rill_avro_is_null(const void *v, const char *path)
{
    const rill_avro_value_t *x = rill_avro_get(v, path);
    return x ? x->node->type == RILL_AVRO_NULL : RILL_ENOENT;
}

int rill_avro_len(const void *v, const char *path, size_t *n)
{
    const rill_avro_value_t *x = get_of(
        v, path, AVRO_BIT(RILL_AVRO_ARRAY) | AVRO_BIT(RILL_AVRO_MAP) | AVRO_BIT(RILL_AVRO_RECORD));
    if (x && n)
        *n = x->node->type == RILL_AVRO_RECORD ? x->node->n : x->u.c.n;
    return x ? 0 : RILL_ENOENT;
}

const rill_avro_value_t *rill_avro_at(const void *v, size_t i)
{
    rill_avro_value_t *x = v ? avro_child_at((rill_avro_value_t *)v, i) : NULL;
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

void rill__avro_where_format(const avro_where_t *path, char *buf, size_t size)
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
