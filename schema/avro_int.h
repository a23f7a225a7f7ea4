/*
 * avro_int.h — the Avro schema model shared by schema/avro_*.c; never leaves schema/.
 *
 * A schema owns every node it parsed in one list (nodes), so named-type references, recursive
 * ones included, are plain pointers to the defining node and freeing is one walk of the list.
 * Defaults stay jansson values: the parsed documents (roots) live as long as the schema.
 */
#ifndef RILL_SCHEMA_AVRO_INT_H
#define RILL_SCHEMA_AVRO_INT_H

#include <rill/schema.h>

#include <jansson.h>
#include <stdarg.h>
#include <stdatomic.h>

/* The public rill_avro_node_t is this struct. */
typedef struct rill_avro_node avro_node_t;

typedef struct {
    char *name;
    json_t *json; /* the field's object, borrowed: its doc and other properties */
    avro_node_t *type;
    json_t *def;    /* borrowed from the schema's roots; NULL: no default */
    char *def_text; /* def as compact JSON, made once the schema is parsed */
    char **aliases;
    size_t alias_count;
    const char *order; /* "ascending" (NULL), "descending" or "ignore" */
} avro_field_t;

struct rill_avro_node {
    rill_avro_type_t type;
    avro_node_t *next_owned; /* the schema's list of nodes */
    json_t *json;            /* the type's object, borrowed; NULL for a bare name ("int") */
    /* Logical type annotation, when valid for the underlying type; NULL otherwise. */
    const char *logical;
    long precision, scale; /* decimal only */
    /* Named types. */
    char *fullname;
    const char *name; /* the last component of fullname */
    char **aliases;   /* full names */
    size_t alias_count;
    bool external; /* defined by a referenced schema */
    /* record */
    avro_field_t *fields;
    size_t field_count;
    /* enum */
    char **symbols;
    size_t symbol_count;
    const char *enum_default; /* one of symbols, or NULL */
    /* array items, map values */
    avro_node_t *items;
    /* union */
    avro_node_t **branches;
    size_t branch_count;
    /* fixed */
    size_t size;
};

struct rill_avro_schema {
    atomic_uint refs;
    avro_node_t *top;
    avro_node_t *nodes;
    json_t **roots;
    size_t root_count;
    char *text; /* as given */
    char *canonical;
    char *normalized;
    uint64_t fingerprint;
};

/* A growable NUL-terminated string. */
typedef struct {
    char *s;
    size_t len, cap;
    bool failed; /* an allocation failed: the text is incomplete */
} avro_str_t;

void rill__avro_str_add(avro_str_t *b, const char *s, size_t n);
void rill__avro_str_cstr(avro_str_t *b, const char *s);
void rill__avro_str_printf(avro_str_t *b, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* Makes room for one more element in the array *items (count used, *cap allocated, elements
 * of elem_size bytes), doubling it; returns false when the allocation fails (*items kept). */
bool rill__avro_grow(void *items, size_t *cap, size_t count, size_t elem_size);

/* A path into a schema, for messages: "fields[2].type" (parser), "/fields/2/type" (checker). */
typedef struct {
    char buf[2048];
    size_t len;
} avro_path_t;

/* Appends the formatted component to path (truncated when full); returns the previous length,
 * for rill__avro_path_pop(). */
size_t rill__avro_path_push(avro_path_t *path, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* Restores path to length saved. */
void rill__avro_path_pop(avro_path_t *path, size_t saved);

/* Writes the Parsing Canonical Form (normalized == false) or the normalized form of schema into
 * a new string; NULL on allocation failure. */
char *rill__avro_write_form(const rill_avro_schema_t *schema, bool normalized);

/* Whether a named reader type reads a named writer type by its name (or aliases). */
bool rill__avro_names_match(const avro_node_t *reader, const avro_node_t *writer);

/* Writes into buf and returns the upper-case name Avro's checker uses in messages ("INT"). */
const char *rill__avro_type_upper(rill_avro_type_t type, char buf[16]);

#endif
