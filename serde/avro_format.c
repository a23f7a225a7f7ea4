/*
 * Printing an Avro value as JSON (rill_avro_format), for logs, errors and tests: records and maps
 * as objects, bytes and fixed as strings of code points 0-255 (as Avro's JSON encoding writes
 * them), unions as their value (not wrapped in the branch's name), reals in the shortest form
 * that reads back the same. Truncated output ends with "...".
 */
#include "avro_int.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <math.h>
#include <string.h>

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
    if (!v->set || depth > AVRO_MAX_DEPTH) {
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
        /* JSON has no NaN or infinity: the strings Avro's Java JSON encoder writes. */
        if (!isfinite(v->u.d)) {
            const char *word = isnan(v->u.d) ? "\"NaN\""
                               : v->u.d > 0  ? "\"Infinity\""
                                             : "\"-Infinity\"";
            fput(f, word, strlen(word));
            break;
        }
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
