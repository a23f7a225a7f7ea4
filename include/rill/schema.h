/*
 * schema.h — schema models and compatibility checks for a Confluent-compatible schema registry
 * (rill-registry) and for the serdes that resolve a writer's schema to a reader's.
 *
 * Avro: rill_avro_schema_parse() validates a schema as the Avro 1.11 specification does and
 * gives an immutable, reference-counted rill_avro_schema_t: its Parsing Canonical Form, its
 * CRC-64-AVRO fingerprint and a normalized form (what the registry compares to decide "same
 * schema"). rill_avro_compatible() applies the specification's schema-resolution rules to one
 * reader/writer pair; rill_compat_check_avro() applies a Confluent compatibility level to a new
 * schema and the previous versions of a subject. Results are lists of issues naming the path
 * (as "/fields/3/type/symbols") and the kind, with Confluent's error type names.
 *
 * JSON Schema: rill_json_schema_new() compiles a schema once (any draft from 4 to 2020-12),
 * rill_json_schema_validate() checks many documents against it from any thread, and
 * rill_json_schema_compatible() answers the registry's pairwise question for a level.
 *
 * Ownership: strings returned by a schema are borrowed from it; a result is the caller's, freed
 * with rill_compat_result_destroy(). Threads: a parsed schema is immutable and may be shared and
 * used from any thread; ref/unref are atomic.
 */
#ifndef RILL_SCHEMA_H
#define RILL_SCHEMA_H

#include <rill/rill.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ---- Compatibility levels and results (shared by every schema type) ---- */

/* Confluent's compatibility levels. */
typedef enum {
    RILL_COMPAT_NONE,
    RILL_COMPAT_BACKWARD,
    RILL_COMPAT_BACKWARD_TRANSITIVE,
    RILL_COMPAT_FORWARD,
    RILL_COMPAT_FORWARD_TRANSITIVE,
    RILL_COMPAT_FULL,
    RILL_COMPAT_FULL_TRANSITIVE,
} rill_compat_level_t;

/* Returns the static Confluent name of level ("BACKWARD_TRANSITIVE"), or NULL if unknown. */
RILL_EXTERN const char *rill_compat_level_name(rill_compat_level_t level);
/* Sets *level from a Confluent name (case-insensitive); returns 0 or RILL_EINVAL. */
RILL_EXTERN int rill_compat_level_parse(const char *name, rill_compat_level_t *level);

/* One incompatibility. The strings are borrowed from the result that holds it. */
typedef struct {
    /* The kind, in the enum of the schema type's checker (rill_avro_incompat_t for Avro), and
     * its Confluent errorType name ("TYPE_MISMATCH"), static. */
    int kind;
    const char *error_type;
    /* Where, in the reader schema: "/", "/fields/1/type/symbols" for Avro. */
    const char *path;
    /* The detail, for Avro as Avro's checker words it: "reader type: INT not compatible with
     * writer type: LONG", "[C, D]". */
    const char *detail;
    /* Confluent's verbose line: "{errorType:'TYPE_MISMATCH', description:'...',
     * additionalInfo:'...'}", worded with new/old for a level check, reader/writer for a pair. */
    const char *message;
    /* For a level check: the index, in the previous array, of the version it was checked
     * against; 0 for a pair check. */
    size_t previous_index;
    /* For a level check: whether the new schema was the reader (a backward check). */
    bool new_is_reader;
} rill_compat_issue_t;

/* The issues a check found: none means compatible. */
typedef struct rill_compat_result rill_compat_result_t;

/* Returns how many issues result holds (0: compatible). */
RILL_EXTERN size_t rill_compat_result_count(const rill_compat_result_t *result);
/* Returns issue i (borrowed from result), or NULL past the end. */
RILL_EXTERN const rill_compat_issue_t *rill_compat_result_at(const rill_compat_result_t *result,
                                                             size_t i);
/* Frees result. NULL is fine. */
RILL_EXTERN void rill_compat_result_destroy(rill_compat_result_t *result);

/* ---- Avro schemas (schema/avro_schema.c, schema/avro_canonical.c) ---- */

/* Avro's schema types. */
typedef enum {
    RILL_AVRO_NULL,
    RILL_AVRO_BOOLEAN,
    RILL_AVRO_INT,
    RILL_AVRO_LONG,
    RILL_AVRO_FLOAT,
    RILL_AVRO_DOUBLE,
    RILL_AVRO_BYTES,
    RILL_AVRO_STRING,
    RILL_AVRO_RECORD,
    RILL_AVRO_ENUM,
    RILL_AVRO_ARRAY,
    RILL_AVRO_MAP,
    RILL_AVRO_UNION,
    RILL_AVRO_FIXED,
} rill_avro_type_t;

/* A parsed, validated Avro schema: immutable and reference-counted. */
typedef struct rill_avro_schema rill_avro_schema_t;

/*
 * Finds the text of a schema that defines the named type name (a full name), for schema
 * references: sets *text to a view that stays valid until the parse call returns and returns 0,
 * or returns RILL_ENOENT when it knows no such type (or another negative code to fail the parse).
 */
typedef int (*rill_avro_resolve_cb)(void *opaque, const char *name, rill_buf_t *text);

/* How to parse. A zeroed struct (or NULL) parses a self-contained schema, defaults validated. */
typedef struct {
    /* Texts of referenced schemas, parsed first in this order into the same names, as the
     * registry's resolved references are (the types they define may be used by name). */
    const char *const *refs;
    size_t ref_count;
    /* Called for a name no schema parsed so far defines (may be NULL). */
    rill_avro_resolve_cb resolve;
    void *opaque;
    /* Do not check field and enum defaults against their types (Avro's validateDefaults=false,
     * which Confluent uses for schemas already stored). */
    bool lax_defaults;
    /* Accept any namespace, names still checked (Confluent's parse of a stored schema). */
    bool lax_namespaces;
} rill_avro_parse_opts_t;

/*
 * Parses and validates the Avro schema in the len bytes of json. Returns a new schema (one
 * reference), or NULL with the reason in errstr, naming the JSON path of the culprit
 * ("fields[2].type: unknown type 'Foo'").
 */
RILL_EXTERN rill_avro_schema_t *rill_avro_schema_parse(const char *json, size_t len,
                                                       const rill_avro_parse_opts_t *opts,
                                                       char *errstr, size_t errstr_size);
/* Parses a self-contained schema, defaults validated: rill_avro_schema_parse() without
 * options. Returns a new schema or NULL with the reason in errstr. */
RILL_EXTERN rill_avro_schema_t *rill_avro_schema_new(const char *json, size_t len, char *errstr,
                                                     size_t errstr_size);
/* Adds a reference to schema and returns it (NULL is fine). @thread any */
RILL_EXTERN rill_avro_schema_t *rill_avro_schema_ref(rill_avro_schema_t *schema);
/* Drops a reference; the last one frees the schema. NULL is fine. @thread any */
RILL_EXTERN void rill_avro_schema_unref(rill_avro_schema_t *schema);
/* Returns the type of the schema's top level. */
RILL_EXTERN rill_avro_type_t rill_avro_schema_type(const rill_avro_schema_t *schema);
/* Returns the full name of the top-level type ("com.acme.Order"), or for an unnamed type its
 * type name ("long", "array", "union"); borrowed from the schema. */
RILL_EXTERN const char *rill_avro_schema_name(const rill_avro_schema_t *schema);
/* Returns the schema's JSON text as it was given (NUL-terminated), borrowed from the schema. */
RILL_EXTERN const char *rill_avro_schema_text(const rill_avro_schema_t *schema);
/* Returns the logical type of the top-level type ("timestamp-millis"), or NULL when it has none
 * or an invalid one (which the specification says to ignore). Static. */
RILL_EXTERN const char *rill_avro_schema_logical_type(const rill_avro_schema_t *schema);
/* Returns the schema's Parsing Canonical Form (the specification's rules), borrowed. */
RILL_EXTERN const char *rill_avro_schema_canonical(const rill_avro_schema_t *schema);
/* Returns the CRC-64-AVRO (Rabin) fingerprint of the Parsing Canonical Form. */
RILL_EXTERN uint64_t rill_avro_schema_fingerprint(const rill_avro_schema_t *schema);
/*
 * Returns the normalized form, borrowed: canonical (full names, a fixed attribute order, no
 * whitespace) but keeping all that Confluent's normalize=true keeps: defaults, aliases (sorted
 * full names), field order, logical types, doc and other properties (sorted). Types defined by
 * referenced schemas appear by name. Equal normalized forms mean the same schema to the
 * registry (two spellings of one schema normalize alike).
 */
RILL_EXTERN const char *rill_avro_schema_normalized(const rill_avro_schema_t *schema);
/* Returns the CRC-64-AVRO fingerprint of the len bytes at data. */
RILL_EXTERN uint64_t rill_avro_crc64(const void *data, size_t len);
/* Returns the static Avro name of type ("record"), or NULL. */
RILL_EXTERN const char *rill_avro_type_name(rill_avro_type_t type);

/*
 * The parsed model, read-only, for writer -> reader resolution: a node is a type, borrowed from
 * its schema (valid while the schema is). Named types are one node wherever they are used, so a
 * recursive schema is a graph: walk it with a set of visited named nodes.
 */
typedef struct rill_avro_node rill_avro_node_t;

/* Returns the top-level type of schema. */
RILL_EXTERN const rill_avro_node_t *rill_avro_schema_root(const rill_avro_schema_t *schema);
/* Returns the type of node. */
RILL_EXTERN rill_avro_type_t rill_avro_node_type(const rill_avro_node_t *node);
/* Returns the full name of a record, enum or fixed node, or NULL. */
RILL_EXTERN const char *rill_avro_node_name(const rill_avro_node_t *node);
/* Returns the valid logical type of node ("decimal"), or NULL; for decimal, sets *precision
 * and *scale when they are not NULL. */
RILL_EXTERN const char *rill_avro_node_logical_type(const rill_avro_node_t *node, int *precision,
                                                    int *scale);
/* Returns how many children node has: a record's fields, a union's branches, an enum's
 * symbols, 1 for an array or a map, 0 otherwise. */
RILL_EXTERN size_t rill_avro_node_count(const rill_avro_node_t *node);
/* Returns child i: a record's field i's type, a union's branch i, an array's items or a map's
 * values (i 0); NULL otherwise. */
RILL_EXTERN const rill_avro_node_t *rill_avro_node_child(const rill_avro_node_t *node, size_t i);
/* Returns the name of a record's field i, or NULL. */
RILL_EXTERN const char *rill_avro_node_field_name(const rill_avro_node_t *node, size_t i);
/* Returns the index of the field of record node called name (or having name as an alias when
 * aliases is set), or -1. */
RILL_EXTERN long rill_avro_node_field_index(const rill_avro_node_t *node, const char *name,
                                            bool aliases);
/* Returns the default of a record's field i as compact JSON text ("0", "null", "{\"a\":1}"),
 * or NULL when it has none. */
RILL_EXTERN const char *rill_avro_node_field_default(const rill_avro_node_t *node, size_t i);
/* Returns symbol i of an enum node, or NULL. */
RILL_EXTERN const char *rill_avro_node_symbol(const rill_avro_node_t *node, size_t i);
/* Returns the default symbol of an enum node, or NULL. */
RILL_EXTERN const char *rill_avro_node_enum_default(const rill_avro_node_t *node);
/* Returns the size of a fixed node, 0 for other types. */
RILL_EXTERN size_t rill_avro_node_fixed_size(const rill_avro_node_t *node);
/* Returns whether a named reader node reads a named writer node by name: equal unqualified
 * names or a reader alias naming the writer's full name (what compatibility checks). */
RILL_EXTERN bool rill_avro_node_names_match(const rill_avro_node_t *reader,
                                            const rill_avro_node_t *writer);

/* ---- Avro compatibility (schema/avro_compat.c) ---- */

/* The kinds of incompatibility, as Avro's and Confluent's SchemaIncompatibilityType. */
typedef enum {
    RILL_AVRO_READER_FIELD_MISSING_DEFAULT_VALUE,
    RILL_AVRO_TYPE_MISMATCH,
    RILL_AVRO_MISSING_ENUM_SYMBOLS,
    RILL_AVRO_MISSING_UNION_BRANCH,
    RILL_AVRO_NAME_MISMATCH,
    RILL_AVRO_FIXED_SIZE_MISMATCH,
} rill_avro_incompat_t;

/* Returns the static name of kind ("TYPE_MISMATCH"), or NULL. */
RILL_EXTERN const char *rill_avro_incompat_name(rill_avro_incompat_t kind);

/*
 * Checks whether data written with writer can be read with reader, by the Avro specification's
 * schema-resolution rules (logical types ignored, as Confluent does). On success returns 0 and
 * sets *result to a new result (empty when compatible); returns RILL_EINVAL or RILL_ENOMEM.
 */
RILL_EXTERN int rill_avro_compatible(const rill_avro_schema_t *reader,
                                     const rill_avro_schema_t *writer,
                                     rill_compat_result_t **result);

/*
 * Applies level to new_schema and the previous versions of its subject, oldest first (the
 * latest is previous[count - 1]): BACKWARD reads the latest with the new schema, FORWARD reads
 * the new with the latest, FULL both; the _TRANSITIVE levels check every previous version.
 * On success returns 0 and sets *result to a new result (empty when compatible).
 */
RILL_EXTERN int rill_compat_check_avro(rill_compat_level_t level,
                                       const rill_avro_schema_t *new_schema,
                                       const rill_avro_schema_t *const *previous, size_t count,
                                       rill_compat_result_t **result);

/* ---- JSON Schema (schema/json_schema*.c) ---- */

/*
 * A compiled JSON Schema. The dialect comes from the root's "$schema" (draft-04, -06, -07,
 * 2019-09, 2020-12; 2020-12 when absent). Supported: the core and validation vocabularies
 * (unevaluatedProperties and unevaluatedItems included), with $ref, $defs/definitions, $id and
 * $anchor, $dynamicRef/$dynamicAnchor within one document; "format" and the content
 * keywords are annotations (not asserted). A $ref to another document fails the compile.
 */
typedef struct rill_json_schema rill_json_schema_t;

/* Compiles the schema text (len bytes, JSON); returns a new schema, or NULL with the reason
 * (naming the schema location) in errstr. */
RILL_EXTERN rill_json_schema_t *rill_json_schema_new(const char *text, size_t len, char *errstr,
                                                     size_t errstr_size);
/* Frees a compiled schema. NULL is fine. */
RILL_EXTERN void rill_json_schema_destroy(rill_json_schema_t *schema);
/* Validates the JSON text json_text (len bytes): returns 0 when it is valid, RILL_ESERDE when it
 * is not JSON or not valid (errstr names the instance path, like /items/3/price, and the failing
 * keyword), RILL_EINVAL or RILL_ENOMEM. @thread any. No allocation once the thread's scratch
 * buffers have grown to the largest document. */
RILL_EXTERN int rill_json_schema_validate(const rill_json_schema_t *schema, const void *json_text,
                                          size_t len, char *errstr, size_t errstr_size);

/*
 * Checks whether the JSON Schema new_text can follow old_text at level (BACKWARD: data written
 * with old is valid under new; FORWARD: data written with new is valid under old; FULL: both;
 * a _TRANSITIVE level is checked like its pairwise one). Returns 0 when compatible, RILL_ESERDE
 * when not (errstr lists the differences as Confluent names them, each with its schema path,
 * e.g. "TYPE_NARROWED at #/properties/age"), RILL_EINVAL when a schema is not JSON or level is
 * unknown. The rules are Confluent's (see schema/json_schema_compat.c).
 */
RILL_EXTERN int rill_json_schema_compatible(const char *new_text, size_t new_len,
                                            const char *old_text, size_t old_len,
                                            rill_compat_level_t level, char *errstr,
                                            size_t errstr_size);

#ifdef __cplusplus
}
#endif
#endif
