/*
 * json_schema_int.h — what the JSON Schema files of schema/ share: the instance tokenizer.
 *
 * An instance is tokenized into a flat array, each container followed by its children (an
 * object's as key, value, key, value), each token knowing the index past its subtree, so the
 * validator walks a document without building a tree or allocating per value.
 */
#ifndef RILL_SCHEMA_JSON_SCHEMA_INT_H
#define RILL_SCHEMA_JSON_SCHEMA_INT_H

#include <rill/rill.h>

enum {
    RILL__JT_NULL,
    RILL__JT_FALSE,
    RILL__JT_TRUE,
    RILL__JT_NUMBER,
    RILL__JT_STRING,
    RILL__JT_ARRAY,
    RILL__JT_OBJECT,
};

typedef struct {
    uint8_t type;
    uint8_t esc;  /* a string with escapes: unescape before comparing */
    uint8_t real; /* a number with a fraction or exponent */
    uint32_t off; /* the text of a scalar (a string's without its quotes) */
    uint32_t len;
    uint32_t n;    /* elements of an array, members of an object */
    uint32_t next; /* the index of the token after this one's subtree */
} rill__jtok_t;

/* A growable token array, reused across documents. */
typedef struct {
    rill__jtok_t *toks;
    uint32_t count;
    uint32_t cap;
} rill__jtoks_t;

/* Tokenizes len bytes of text (strict RFC 8259, UTF-8 checked, nesting up to 512) into toks;
 * returns 0, RILL_ESERDE with the byte offset in errstr, or RILL_ENOMEM. */
int rill__json_tokenize(rill__jtoks_t *toks, const char *text, size_t len, char *errstr,
                        size_t errstr_size);

#endif
