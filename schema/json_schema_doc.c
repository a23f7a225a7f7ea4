/*
 * json_schema_doc.c — the instance tokenizer of the JSON Schema validator (json_schema_int.h).
 *
 * Why not jansson or simdjson here: jansson allocates a node per value (about 25 mallocs for a
 * ten-field event), and simdjson lives in serde/, the layer above. This recursive-descent scanner
 * writes fixed-size tokens into an array the caller keeps, so a warm validator allocates nothing.
 */
#include "json_schema_int.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#define MAX_DEPTH 512

typedef struct {
    const unsigned char *s;
    size_t pos, len;
    rill__jtoks_t *out;
    int err;
    const char *why;
} scan_t;

static inline __attribute__((always_inline)) int push(scan_t *sc)
{
    rill__jtoks_t *t = sc->out;
    if (t->count == t->cap) {
        uint32_t cap = t->cap ? 2 * t->cap : 64;
        rill__jtok_t *toks = rill_realloc(t->toks, cap * sizeof *toks);
        if (!toks) {
            sc->err = RILL_ENOMEM;
            return -1;
        }
        t->toks = toks;
        t->cap = cap;
    }
    memset(&t->toks[t->count], 0, sizeof t->toks[0]);
    return (int)t->count++;
}

static int bad(scan_t *sc, const char *why)
{
    if (!sc->err) {
        sc->err = RILL_ESERDE;
        sc->why = why;
    }
    return -1;
}

static inline __attribute__((always_inline)) void skip_ws(scan_t *sc)
{
    while (sc->pos < sc->len) {
        unsigned char c = sc->s[sc->pos];
        if (c != ' ' && c != '\t' && c != '\n' && c != '\r')
            return;
        sc->pos++;
    }
}

static int hex4(const unsigned char *p)
{
    int v = 0;
    for (int i = 0; i < 4; i++) {
        int c = p[i], d;
        if (c >= '0' && c <= '9')
            d = c - '0';
        else if (c >= 'a' && c <= 'f')
            d = c - 'a' + 10;
        else if (c >= 'A' && c <= 'F')
            d = c - 'A' + 10;
        else
            return -1;
        v = v * 16 + d;
    }
    return v;
}

/* Length of the UTF-8 sequence at p (at most n bytes), or 0 when it is not well formed. */
static size_t utf8_len(const unsigned char *p, size_t n)
{
    unsigned char c = p[0];
    size_t k;
    uint32_t min, cp;
    if (c < 0xC2)
        return 0;
    if (c < 0xE0)
        k = 2, min = 0x80, cp = c & 0x1F;
    else if (c < 0xF0)
        k = 3, min = 0x800, cp = c & 0x0F;
    else if (c < 0xF5)
        k = 4, min = 0x10000, cp = c & 0x07;
    else
        return 0;
    if (n < k)
        return 0;
    for (size_t i = 1; i < k; i++) {
        if ((p[i] & 0xC0) != 0x80)
            return 0;
        cp = (cp << 6) | (p[i] & 0x3F);
    }
    if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
        return 0;
    return k;
}

static int scan_string(scan_t *sc)
{
    int ti = push(sc);
    if (ti < 0)
        return -1;
    rill__jtok_t *t = &sc->out->toks[ti];
    t->type = RILL__JT_STRING;
    size_t p = ++sc->pos; /* past the quote */
    t->off = (uint32_t)p;
    while (p < sc->len) {
        /* eight plain bytes at a time (printable ASCII, not a quote or backslash): most text */
        while (p + 8 <= sc->len) {
            uint64_t w;
            memcpy(&w, sc->s + p, 8);
            const uint64_t ones = 0x0101010101010101ull, high = 0x8080808080808080ull;
            uint64_t q = w ^ (ones * '"'), b = w ^ (ones * '\\');
            uint64_t special = (w & high) | ((q - ones) & ~q & high) | ((b - ones) & ~b & high) |
                               ((w - ones * 0x20) & ~w & high);
            if (special) {
                /* the lowest flagged byte is a real one: borrows only run upwards */
#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
                p += (size_t)__builtin_ctzll(special) / 8;
#else
                p += (size_t)__builtin_clzll(special) / 8;
#endif
                break;
            }
            p += 8;
        }
        if (p >= sc->len)
            break;
        unsigned char c = sc->s[p];
        if (c == '"') {
            t->len = (uint32_t)(p - t->off);
            sc->pos = p + 1;
            return ti;
        }
        if (c == '\\') {
            t->esc = 1;
            if (p + 1 >= sc->len)
                break;
            c = sc->s[p + 1];
            if (c == 'u') {
                if (p + 6 > sc->len || hex4(sc->s + p + 2) < 0)
                    return bad(sc, "bad \\u escape");
                p += 6;
            } else if (c && strchr("\"\\/bfnrt", c)) {
                p += 2;
            } else {
                return bad(sc, "bad escape");
            }
        } else if (c < 0x20) {
            return bad(sc, "control character in string");
        } else if (c < 0x80) {
            p++;
        } else {
            size_t k = utf8_len(sc->s + p, sc->len - p);
            if (!k)
                return bad(sc, "invalid UTF-8");
            p += k;
        }
    }
    return bad(sc, "unterminated string");
}

static int scan_number(scan_t *sc)
{
    const unsigned char *s = sc->s;
    size_t p = sc->pos, n = sc->len;
    int ti = push(sc);
    if (ti < 0)
        return -1;
    rill__jtok_t *t = &sc->out->toks[ti];
    t->type = RILL__JT_NUMBER;
    t->off = (uint32_t)p;
    if (p < n && s[p] == '-')
        p++;
    if (p < n && s[p] == '0') {
        p++;
    } else if (p < n && s[p] >= '1' && s[p] <= '9') {
        while (p < n && s[p] >= '0' && s[p] <= '9')
            p++;
    } else {
        return bad(sc, "bad number");
    }
    if (p < n && s[p] == '.') {
        t->real = 1;
        p++;
        if (p >= n || s[p] < '0' || s[p] > '9')
            return bad(sc, "bad number");
        while (p < n && s[p] >= '0' && s[p] <= '9')
            p++;
    }
    if (p < n && (s[p] == 'e' || s[p] == 'E')) {
        t->real = 1;
        p++;
        if (p < n && (s[p] == '+' || s[p] == '-'))
            p++;
        if (p >= n || s[p] < '0' || s[p] > '9')
            return bad(sc, "bad number");
        while (p < n && s[p] >= '0' && s[p] <= '9')
            p++;
    }
    t->len = (uint32_t)(p - t->off);
    sc->pos = p;
    return ti;
}

static int scan_literal(scan_t *sc, const char *word, uint8_t type)
{
    size_t k = strlen(word);
    if (sc->len - sc->pos < k || memcmp(sc->s + sc->pos, word, k))
        return bad(sc, "unexpected character");
    int ti = push(sc);
    if (ti < 0)
        return -1;
    sc->out->toks[ti].type = type;
    sc->out->toks[ti].off = (uint32_t)sc->pos;
    sc->out->toks[ti].len = (uint32_t)k;
    sc->pos += k;
    return ti;
}

static int scan_value(scan_t *sc, int depth);

/* An array or an object: its children follow it; n and next are set when it closes. */
static int scan_container(scan_t *sc, int depth, int object)
{
    if (depth >= MAX_DEPTH)
        return bad(sc, "nesting too deep");
    int ti = push(sc);
    if (ti < 0)
        return -1;
    sc->out->toks[ti].type = object ? RILL__JT_OBJECT : RILL__JT_ARRAY;
    sc->out->toks[ti].off = (uint32_t)sc->pos;
    sc->pos++;
    uint32_t n = 0;
    char close = object ? '}' : ']';
    skip_ws(sc);
    if (sc->pos < sc->len && sc->s[sc->pos] == close) {
        sc->pos++;
    } else {
        for (;;) {
            skip_ws(sc);
            if (object) {
                if (sc->pos >= sc->len || sc->s[sc->pos] != '"')
                    return bad(sc, "expected a member name");
                if (scan_string(sc) < 0)
                    return -1;
                skip_ws(sc);
                if (sc->pos >= sc->len || sc->s[sc->pos] != ':')
                    return bad(sc, "expected ':'");
                sc->pos++;
            }
            if (scan_value(sc, depth + 1) < 0)
                return -1;
            n++;
            skip_ws(sc);
            if (sc->pos < sc->len && sc->s[sc->pos] == ',') {
                sc->pos++;
                continue;
            }
            if (sc->pos < sc->len && sc->s[sc->pos] == close) {
                sc->pos++;
                break;
            }
            return bad(sc, object ? "expected ',' or '}'" : "expected ',' or ']'");
        }
    }
    sc->out->toks[ti].n = n;
    sc->out->toks[ti].len = (uint32_t)(sc->pos - sc->out->toks[ti].off);
    sc->out->toks[ti].next = sc->out->count;
    return ti;
}

static int scan_value(scan_t *sc, int depth)
{
    skip_ws(sc);
    if (sc->pos >= sc->len)
        return bad(sc, "unexpected end");
    int ti;
    switch (sc->s[sc->pos]) {
    case '{':
        return scan_container(sc, depth, 1);
    case '[':
        return scan_container(sc, depth, 0);
    case '"':
        ti = scan_string(sc);
        break;
    case 't':
        ti = scan_literal(sc, "true", RILL__JT_TRUE);
        break;
    case 'f':
        ti = scan_literal(sc, "false", RILL__JT_FALSE);
        break;
    case 'n':
        ti = scan_literal(sc, "null", RILL__JT_NULL);
        break;
    default:
        ti = scan_number(sc);
        break;
    }
    if (ti >= 0)
        sc->out->toks[ti].next = (uint32_t)ti + 1;
    return ti;
}

int rill__json_tokenize(rill__jtoks_t *toks, const char *text, size_t len, char *errstr,
                        size_t errstr_size)
{
    if (len > UINT32_MAX - 1) {
        snprintf(errstr, errstr_size, "JSON text too large");
        return RILL_ESERDE;
    }
    scan_t sc = {.s = (const unsigned char *)text, .len = len, .out = toks};
    toks->count = 0;
    if (scan_value(&sc, 0) >= 0) {
        skip_ws(&sc);
        if (sc.pos != sc.len)
            bad(&sc, "trailing characters");
    }
    if (!sc.err)
        return 0;
    if (errstr && errstr_size) {
        if (sc.err == RILL_ENOMEM)
            snprintf(errstr, errstr_size, "out of memory");
        else
            snprintf(errstr, errstr_size, "invalid JSON at byte %zu: %s", sc.pos, sc.why);
    }
    return sc.err;
}
