/*
 * compat_int.h — building compatibility results (include/rill/schema.h's rill_compat_result_t),
 * for the checkers of every schema type in schema/; never leaves schema/. Implemented in
 * avro_compat.c, with the levels' names.
 */
#ifndef RILL_SCHEMA_COMPAT_INT_H
#define RILL_SCHEMA_COMPAT_INT_H

#include <rill/schema.h>

/* Returns a new, empty result, or NULL. */
rill_compat_result_t *rill__compat_result_new(void);
/* Appends a copy of issue (its path, detail and message are copied; error_type is static);
 * returns 0 or RILL_ENOMEM (result unchanged). */
int rill__compat_result_add(rill_compat_result_t *result, const rill_compat_issue_t *issue);
/* Drops the issues past the first count (a check tried and rolled back). */
void rill__compat_result_truncate(rill_compat_result_t *result, size_t count);

#endif
