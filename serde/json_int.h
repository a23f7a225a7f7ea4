/*
 * json_int.h: what serde/json.c (the values, edits, the writer, the serde; C) and
 * serde/json_simd.cc (the parser, over simdjson; C++) share. Private to serde/.
 *
 * A rill_json_t is JSON text plus, once indexed, a table of its top-level members. The text is
 * always followed by RILL__JSON_PADDING readable bytes, because simdjson reads up to that far
 * past the end of its input: the parser copies its input into the arena with the padding
 * (which also makes the value independent of the input's lifetime: a store's buffer may be
 * reused before the record is done), and everything else that makes text makes it so too.
 */
#ifndef RILL_SERDE_JSON_INT_H
#define RILL_SERDE_JSON_INT_H

#include <rill/serde.h>

#ifdef __cplusplus
extern "C" {
#endif

/* simdjson 3.0's SIMDJSON_PADDING (json_simd.cc checks it at compile time). */
#define RILL__JSON_PADDING 64

/* A member (or, for a scalar value, the value itself). */
typedef struct {
    const char *key; /* unescaped: into the text when it has no escape, else the arena */
    uint32_t key_len;
    uint32_t val_len;
    const char *val;  /* the value's text as written, padded (see above) */
    const char *str;  /* strings: unescaped (zero copy when the text has no escape) */
    const char *cstr; /* strings: NUL-terminated copy, made by rill_json_get_string() */
    uint32_t str_len;
    uint8_t type;   /* rill_json_type_t */
    bool canon;     /* key and value are written exactly as rill_json_writer_t would */
    bool unsigned_; /* an integer in [2^63, 2^64): a REAL to readers, num.d */
    union {
        int64_t i; /* INTEGER */
        double d;  /* REAL */
    } num;
} rill__json_field_t;

struct rill_json {
    const char *text; /* as written; padded */
    size_t len;
    rill_arena_t *arena; /* where indexes, copies and edits of this value go */
    uint8_t type;
    bool indexed;
    bool canon;              /* the text is compact and canonical: serializing it is a copy */
    bool edited;             /* fields differ from text: serialize from the fields */
    rill__json_field_t self; /* scalars: the value */
    rill__json_field_t *fields;
    uint32_t nfields, cap;
};

/*
 * Validates doc->text in full and indexes it: type, self (scalars), fields (objects; each
 * member's value validated too, arrays' elements likewise) and canon. 0, RILL_ENOMEM, or
 * RILL_ESERDE with *err_offset the byte offset simdjson stopped at and *reason its message.
 * Catches every exception.
 */
int rill__json_index(rill_json_t *doc, size_t *err_offset, const char **reason);
/* Appends len bytes of valid JSON text (padded) to w compact and canonical: whitespace dropped,
 * strings re-escaped as the writer does. Catches every exception. */
void rill__json_rewrite(rill_json_writer_t *w, const char *text, size_t len);
/* Appends n bytes to w's buffer (growing it in the arena); sets w->err on failure. */
void rill__json_put(rill_json_writer_t *w, const void *data, size_t n);
/* Appends s as a quoted, escaped JSON string. */
void rill__json_put_str(rill_json_writer_t *w, const char *s, size_t len);
/* Whether the JSON string text s (unescaped, len bytes) is written as is by the writer: no '"',
 * '\\' or control character in it. */
bool rill__json_plain(const char *s, size_t len);

#ifdef __cplusplus
}
#endif
#endif
