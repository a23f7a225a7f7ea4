/*
 * Avro's binary encoding (the specification's "Binary Encoding"): zig-zag varints, lengths,
 * blocks of arrays and maps, unions by branch index. decode() reads a body into a value tree in
 * the arena, strings pointing into the input; encode() writes a value tree. Both walk the
 * compiled schema (anode_t) and name the field path in their errors.
 */
#include "avro_int.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

/* ---- Decoding ---- */

typedef struct {
    const uint8_t *p, *start, *end;
    rill_arena_t *arena;
    avro_where_t path;
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
    rill__avro_where_format(&d->path, where, sizeof where);
    rill__serde_err(d->errstr, d->errstr_size, "avro: schema id %d%s%s%s: byte %zu, field %s: %s",
                    d->id, d->subject ? " (subject " : "", d->subject ? d->subject : "",
                    d->subject ? ")" : "", d->base + (size_t)(d->p - d->start), where, why);
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

/* A length of node (a string or bytes; NULL: a map key) that fits in what is left. The name for
 * the error is found only on an error. */
static int read_len(dec_t *d, size_t *len, const anode_t *node)
{
    int64_t n;
    int rc = read_long(d, &n);
    if (rc)
        return rc;
    const char *what = "map key";
    if (n < 0 || (uint64_t)n > (uint64_t)(d->end - d->p)) {
        if (node)
            what = rill_avro_type_name((rill_avro_type_t)node->type);
        if (n < 0)
            return dec_fail(d, "%s length %" PRId64 " is negative", what, n);
        return dec_fail(d, "%s of %" PRId64 " bytes runs past the end (%zu left)", what, n,
                        (size_t)(d->end - d->p));
    }
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
    if (depth >= AVRO_MAX_DEPTH)
        return dec_fail(d, "nested more than %d deep", AVRO_MAX_DEPTH);
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
                if ((rc = read_len(d, &len, NULL)))
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
        if ((rc = read_len(d, &v->u.s.len, node)))
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
        if (depth >= AVRO_MAX_DEPTH)
            return dec_fail(d, "nested more than %d deep", AVRO_MAX_DEPTH);
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

int rill__avro_decode(const anode_t *root, const uint8_t *p, const uint8_t *end, size_t base,
                      int32_t id, const char *subject, rill_arena_t *arena, rill_avro_value_t *v,
                      char *errstr, size_t errstr_size)
{
    /* Field by field: an initializer would zero the path's 1.5 KB for every record. */
    dec_t d;
    d.p = d.start = p;
    d.end = end;
    d.arena = arena;
    d.path.depth = 0;
    d.errstr = errstr;
    d.errstr_size = errstr_size;
    d.id = id;
    d.subject = subject;
    d.base = base;
    int rc = decode(&d, root, v);
    if (!rc && d.p != d.end)
        rc = dec_fail(&d, "%zu bytes left over after the value", (size_t)(d.end - d.p));
    return rc;
}

/* ---- Encoding ---- */

typedef struct {
    rill_bytes_t *out;
    avro_where_t path;
    char *errstr;
    size_t errstr_size;
} enc_t;

static int enc_fail(enc_t *e, const char *why)
{
    char where[200];
    rill__avro_where_format(&e->path, where, sizeof where);
    rill__serde_err(e->errstr, e->errstr_size, "avro: field %s: %s", where, why);
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
        if (depth >= AVRO_MAX_DEPTH)
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
        if (depth >= AVRO_MAX_DEPTH)
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

int rill__avro_encode(const rill_avro_value_t *v, rill_bytes_t *out, char *errstr,
                      size_t errstr_size)
{
    enc_t e;
    e.out = out;
    e.path.depth = 0;
    e.errstr = errstr;
    e.errstr_size = errstr_size;
    return encode(&e, v);
}
