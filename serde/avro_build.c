/*
 * The Avro serde's writer: rill_avro_record_new() makes a record of a schema in the arena, and
 * the setters fill it by path, making the records, arrays and maps they pass through. A union
 * takes the first branch that accepts the value given (int -> long -> float -> double as Avro
 * promotes). A setter's failure is also kept in the record (the first one), and the serializer
 * reports it, naming the field.
 */
#include "avro_int.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#define AVRO_ERR_SIZE 256

static int __attribute__((format(printf, 4, 5)))
set_fail(avro_doc_t *doc, const char *path, int rc, const char *fmt, ...)
{
    if (!doc->err && doc->arena && (doc->err = rill_arena_alloc(doc->arena, AVRO_ERR_SIZE))) {
        char why[160];
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(why, sizeof why, fmt, ap);
        va_end(ap);
        snprintf(doc->err, AVRO_ERR_SIZE, "avro writer: field %s: %s",
                 path && *path ? path : "(top)", why);
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
        avro_value_init(&items[i], node->type == RILL_AVRO_RECORD ? node->sub[i] : node->sub[0]);
    slot->u.c.items = items;
    slot->u.c.keys = keys;
    slot->u.c.n = count;
    return 0;
}

rill_buf_t rill_avro_record_new(rill_arena_t *arena, const rill_avro_codec_t *schema)
{
    if (!arena || !schema || schema->root->type != RILL_AVRO_RECORD)
        return (rill_buf_t){NULL, 0};
    avro_doc_t *doc = rill_arena_alloc(arena, sizeof *doc);
    if (!doc)
        return (rill_buf_t){NULL, 0};
    avro_value_init(&doc->v, schema->root);
    doc->schema = schema;
    doc->arena = arena;
    doc->err = NULL;
    if (make_container(doc, &doc->v, -1, 0))
        return (rill_buf_t){NULL, 0};
    return avro_view(doc);
}

/* Walks path for a setter, making the records it passes through. */
static rill_avro_value_t *walk_set(avro_doc_t *doc, const char *path, int *rc)
{
    rill_avro_value_t *v = &doc->v;
    const char *p = path ? path : "";
    *rc = RILL_ENOENT;
    while (*p && v) {
        avro_seg_t seg;
        p = avro_seg_name(p, &seg);
        if (seg.len) {
            if (!v->set) {
                int b = pick(v, AVRO_BIT(RILL_AVRO_RECORD), NULL, NULL);
                if (b == -2 || make_container(doc, v, b, 0)) {
                    set_fail(doc, path, RILL_ENOENT, "'%.*s' is not in a record", (int)seg.len,
                             seg.name);
                    return NULL;
                }
            }
            v = avro_child_by_name(v, &seg);
            if (!v) {
                set_fail(doc, path, RILL_ENOENT, "no field '%.*s' in the schema", (int)seg.len,
                         seg.name);
                return NULL;
            }
        }
        size_t i;
        while (v && *p == '[') {
            if (!avro_seg_index(&p, &i) || !(v = avro_child_at(v, i))) {
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

/* What each setter starts with: record's slot at path, made on the way; NULL with *rc (and the
 * record's error set), or with RILL_EINVAL when record is not a writer's (*doc NULL). */
static rill_avro_value_t *slot_at(void *record, const char *path, avro_doc_t **doc, int *rc)
{
    avro_doc_t *d = record;
    *doc = d && d->arena ? d : NULL;
    *rc = RILL_EINVAL;
    return *doc ? walk_set(*doc, path, rc) : NULL;
}

/* A value of the wrong type for slot: RILL_ESERDE saying what was given ("a real") and what the
 * schema says. */
static int mismatch(avro_doc_t *doc, const char *path, const rill_avro_value_t *slot,
                    const char *given)
{
    return set_fail(doc, path, RILL_ESERDE, "%s given, the schema says %s", given,
                    declared_name(slot));
}

/* slot's branch *b of one of types (AVRO_BIT()s), else mismatch(). */
static int pick_given(avro_doc_t *doc, const char *path, const rill_avro_value_t *slot,
                      unsigned types, const char *given, int *b)
{
    *b = pick(slot, types, NULL, NULL);
    return *b != -2 ? 0 : mismatch(doc, path, slot, given);
}

#define REALS (AVRO_BIT(RILL_AVRO_FLOAT) | AVRO_BIT(RILL_AVRO_DOUBLE))

static bool int_fits(const anode_t *node, const void *arg)
{
    int64_t v = *(const int64_t *)arg;
    return node->type != RILL_AVRO_INT || (v >= INT32_MIN && v <= INT32_MAX);
}

int rill_avro_set_int(void *record, const char *path, int64_t v)
{
    avro_doc_t *doc;
    int rc;
    rill_avro_value_t *slot = slot_at(record, path, &doc, &rc);
    if (!slot)
        return rc;
    int b = pick(slot, AVRO_BIT(RILL_AVRO_INT) | AVRO_BIT(RILL_AVRO_LONG), int_fits, &v);
    if (b != -2) {
        choose(slot, b);
        slot->u.i = v;
        return 0;
    }
    if ((b = pick(slot, REALS, NULL, NULL)) != -2) {
        choose(slot, b);
        slot->u.d = (double)v;
        return 0;
    }
    if (pick(slot, AVRO_BIT(RILL_AVRO_INT), NULL, NULL) != -2)
        return set_fail(doc, path, RILL_ESERDE, "%" PRId64 " does not fit in an int", v);
    return mismatch(doc, path, slot, "an integer");
}

int rill_avro_set_double(void *record, const char *path, double v)
{
    avro_doc_t *doc;
    int rc, b;
    rill_avro_value_t *slot = slot_at(record, path, &doc, &rc);
    if (!slot || (rc = pick_given(doc, path, slot, REALS, "a real", &b)))
        return rc;
    choose(slot, b);
    slot->u.d = v;
    return 0;
}

int rill_avro_set_bool(void *record, const char *path, bool v)
{
    avro_doc_t *doc;
    int rc, b;
    rill_avro_value_t *slot = slot_at(record, path, &doc, &rc);
    if (!slot || (rc = pick_given(doc, path, slot, AVRO_BIT(RILL_AVRO_BOOLEAN), "a boolean", &b)))
        return rc;
    choose(slot, b);
    slot->u.i = v;
    return 0;
}

int rill__avro_symbol_of(const anode_t *node, const void *s, size_t len)
{
    for (uint32_t i = 0; i < node->n; i++)
        if (node->name_lens[i] == len && !memcmp(node->names[i], s, len))
            return (int)i;
    return -1;
}

typedef struct {
    const void *s;
    size_t len;
} text_t;

static bool str_fits(const anode_t *node, const void *arg)
{
    const text_t *t = arg;
    if (node->type == RILL_AVRO_FIXED)
        return (uint64_t)node->fixed_size == t->len;
    if (node->type == RILL_AVRO_ENUM)
        return rill__avro_symbol_of(node, t->s, t->len) >= 0;
    return true;
}

int rill_avro_set_str(void *record, const char *path, const void *s, size_t len)
{
    avro_doc_t *doc;
    int rc;
    rill_avro_value_t *slot = slot_at(record, path, &doc, &rc);
    if (!slot)
        return rc;
    if (!s && len)
        return set_fail(doc, path, RILL_EINVAL, "NULL text");
    text_t t = {s ? s : "", len};
    unsigned mask = AVRO_BIT(RILL_AVRO_STRING) | AVRO_BIT(RILL_AVRO_BYTES) |
                    AVRO_BIT(RILL_AVRO_FIXED) | AVRO_BIT(RILL_AVRO_ENUM);
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
        return mismatch(doc, path, slot, "a string");
    }
    choose(slot, b);
    if (slot->node->type == RILL_AVRO_ENUM) {
        slot->u.i = rill__avro_symbol_of(slot->node, t.s, t.len);
    } else {
        slot->u.s.p = t.s;
        slot->u.s.len = len;
    }
    return 0;
}

int rill_avro_set_null(void *record, const char *path)
{
    avro_doc_t *doc;
    int rc, b;
    rill_avro_value_t *slot = slot_at(record, path, &doc, &rc);
    if (!slot || (rc = pick_given(doc, path, slot, AVRO_BIT(RILL_AVRO_NULL), "null", &b)))
        return rc;
    choose(slot, b);
    return 0;
}

static int set_container(void *record, const char *path, int type, size_t n)
{
    avro_doc_t *doc;
    int rc, b;
    rill_avro_value_t *slot = slot_at(record, path, &doc, &rc);
    if (!slot || (rc = pick_given(doc, path, slot, AVRO_BIT(type),
                                  rill_avro_type_name((rill_avro_type_t)type), &b)))
        return rc;
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
    avro_doc_t *doc = record;
    if (!doc || !doc->arena || !path || (!key && len))
        return RILL_EINVAL;
    /* The entry is the last "[i]" of path; its map is what comes before. */
    const char *open = strrchr(path, '[');
    size_t i;
    const char *q = open;
    if (!open || !avro_seg_index(&q, &i) || *q)
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
