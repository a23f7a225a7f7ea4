/*
 * schema.h — schemas for the registry and the serdes: JSON Schema validation and compatibility
 * (and Avro's schema model and compatibility, in its own block).
 *
 * Compiled schemas are immutable: one may be used from any thread at once. The caller owns what
 * a _new() function returns and frees it with the matching _destroy(), which accepts NULL.
 */
#ifndef RILL_SCHEMA_H
#define RILL_SCHEMA_H

#include <rill/rill.h>

#ifdef __cplusplus
extern "C" {
#endif

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

/* Compatibility levels of the schema registry; the _TRANSITIVE ones are the registry's loop over
 * the pairwise check. */
typedef enum {
    RILL_COMPAT_NONE,
    RILL_COMPAT_BACKWARD,
    RILL_COMPAT_BACKWARD_TRANSITIVE,
    RILL_COMPAT_FORWARD,
    RILL_COMPAT_FORWARD_TRANSITIVE,
    RILL_COMPAT_FULL,
    RILL_COMPAT_FULL_TRANSITIVE,
} rill_compat_level_t;

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
