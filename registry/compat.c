/*
 * Schemas for the registry: validating one (with its references resolved from the state), the
 * form that decides "the same schema", and compatibility: which versions a level compares a new
 * schema with, in which direction, answered by the schema layer (include/rill/schema.h).
 */
#include "registry_int.h"

#include <rill/schema.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The texts of the schemas a schema references, each one's own references first (depth first,
 * as Confluent resolves them), into texts (a new array of borrowed strings). */
static int collect_refs(const reg_state_t *st, json_t *references, json_t *texts, int depth,
                        char *errstr, size_t errstr_size)
{
    if (depth > 32) {
        snprintf(errstr, errstr_size, "references nest deeper than 32");
        return RILL_EINVAL;
    }
    size_t i;
    json_t *ref;
    json_array_foreach(references, i, ref)
    {
        const char *subject = json_string_value(json_object_get(ref, "subject"));
        int version = (int)json_integer_value(json_object_get(ref, "version"));
        json_t *entry = subject ? rill__state_version(st, subject, version, true) : NULL;
        json_t *s =
            entry ? rill__state_schema(st, (int)json_integer_value(json_object_get(entry, "id")))
                  : NULL;
        if (!s) {
            snprintf(errstr, errstr_size, "references[%zu]: subject '%s' version %d not found", i,
                     subject ? subject : "", version);
            return RILL_EINVAL;
        }
        int rc = collect_refs(st, json_object_get(s, "references"), texts, depth + 1, errstr,
                              errstr_size);
        if (rc)
            return rc;
        json_array_append(texts, json_object_get(s, "schema"));
    }
    return 0;
}

/* Parses an Avro schema with its references; NULL with errstr. stored: Confluent's lenience for
 * schemas already registered (isNew=false). */
static rill_avro_schema_t *parse_avro(const reg_state_t *st, const char *schema, json_t *refs,
                                      bool stored, char *errstr, size_t errstr_size)
{
    json_t *texts = json_array();
    rill_avro_schema_t *parsed = NULL;
    if (collect_refs(st, refs, texts, 0, errstr, errstr_size) == 0) {
        size_t n = json_array_size(texts);
        const char **list = calloc(n ? n : 1, sizeof *list);
        if (list) {
            for (size_t i = 0; i < n; i++)
                list[i] = json_string_value(json_array_get(texts, i));
            rill_avro_parse_opts_t opts = {
                .refs = list, .ref_count = n, .lax_defaults = stored, .lax_namespaces = stored};
            parsed = rill_avro_schema_parse(schema, strlen(schema), &opts, errstr, errstr_size);
            free(list);
        }
    }
    json_decref(texts);
    return parsed;
}

char *rill__schema_canonical(const char *type, const char *schema, bool normalize)
{
    if (normalize && strcmp(type, "AVRO") == 0) {
        char why[256];
        rill_avro_parse_opts_t opts = {.lax_defaults = true, .lax_namespaces = true};
        rill_avro_schema_t *parsed =
            rill_avro_schema_parse(schema, strlen(schema), &opts, why, sizeof why);
        if (parsed) {
            char *text = strdup(rill_avro_schema_normalized(parsed));
            rill_avro_schema_unref(parsed);
            return text;
        }
    }
    json_error_t jerr;
    json_t *doc = json_loads(schema, JSON_DECODE_ANY, &jerr);
    if (!doc)
        return NULL;
    /* Normalized JSON Schema: members sorted (their order means nothing). */
    size_t flags = JSON_COMPACT | JSON_ENCODE_ANY;
    flags |= normalize ? JSON_SORT_KEYS : JSON_PRESERVE_ORDER;
    char *text = json_dumps(doc, flags);
    json_decref(doc);
    return text;
}

int rill__schema_validate(const reg_state_t *st, const char *type, const char *schema,
                          json_t *references, char *errstr, size_t errstr_size)
{
    if (strcmp(type, "AVRO") == 0) {
        rill_avro_schema_t *parsed = parse_avro(st, schema, references, false, errstr, errstr_size);
        if (!parsed)
            return RILL_EINVAL;
        rill_avro_schema_unref(parsed);
        return 0;
    }
    rill_json_schema_t *compiled =
        rill_json_schema_new(schema, strlen(schema), errstr, errstr_size);
    if (!compiled)
        return RILL_EINVAL;
    rill_json_schema_destroy(compiled);
    return 0;
}

static void add_messages(const rill_compat_result_t *result, json_t *messages)
{
    for (size_t i = 0; i < rill_compat_result_count(result); i++)
        json_array_append_new(messages, json_string(rill_compat_result_at(result, i)->message));
}

static int check_avro(const reg_state_t *st, rill_compat_level_t level, const char *schema,
                      json_t *references, json_t *previous, json_t *messages)
{
    char why[1024];
    rill_avro_schema_t *fresh = parse_avro(st, schema, references, false, why, sizeof why);
    if (!fresh) {
        json_array_append_new(messages, json_string(why));
        return RILL_EINVAL;
    }
    size_t n = json_array_size(previous);
    rill_avro_schema_t **old = calloc(n ? n : 1, sizeof *old);
    int rc = old ? 0 : RILL_ENOMEM;
    size_t have = 0;
    for (size_t i = 0; i < n && !rc; i++) {
        json_t *s = rill__state_schema(st, (int)json_integer_value(json_array_get(previous, i)));
        const char *text = json_string_value(json_object_get(s, "schema"));
        if (!text)
            continue;
        old[have] = parse_avro(st, text, json_object_get(s, "references"), true, why, sizeof why);
        if (!old[have]) {
            /* A stored schema this registry cannot read: said, and not silently passed. */
            json_array_append_new(
                messages, json_sprintf("an earlier version (id %lld) does not parse: %s",
                                       json_integer_value(json_array_get(previous, i)), why));
            rc = 1;
            break;
        }
        have++;
    }
    if (!rc) {
        rill_compat_result_t *result = NULL;
        rc = rill_compat_check_avro(level, fresh, (const rill_avro_schema_t *const *)old, have,
                                    &result);
        if (rc == 0 && rill_compat_result_count(result)) {
            add_messages(result, messages);
            rc = 1;
        } else if (rc) {
            json_array_append_new(messages, json_string("the compatibility check failed"));
        }
        rill_compat_result_destroy(result);
    }
    for (size_t i = 0; i < have; i++)
        rill_avro_schema_unref(old[i]);
    free(old);
    rill_avro_schema_unref(fresh);
    return rc;
}

/* JSON Schema: the schema layer's pairwise checker, against the last version or, for a
 * transitive level, each of them. */
static int check_json(const reg_state_t *st, rill_compat_level_t level, const char *schema,
                      json_t *previous, json_t *messages)
{
    bool transitive = level == RILL_COMPAT_BACKWARD_TRANSITIVE ||
                      level == RILL_COMPAT_FORWARD_TRANSITIVE ||
                      level == RILL_COMPAT_FULL_TRANSITIVE;
    size_t n = json_array_size(previous);
    int result = 0;
    for (size_t i = transitive ? 0 : n - 1; i < n; i++) {
        int id = (int)json_integer_value(json_array_get(previous, i));
        const char *old = json_string_value(json_object_get(rill__state_schema(st, id), "schema"));
        if (!old)
            continue;
        char why[2048];
        int rc = rill_json_schema_compatible(schema, strlen(schema), old, strlen(old), level, why,
                                             sizeof why);
        if (rc == RILL_ESERDE) {
            json_array_append_new(messages, json_sprintf("%s (against schema id %d)", why, id));
            result = 1;
        } else if (rc) {
            json_array_append_new(messages, json_string(why));
            return RILL_EINVAL;
        }
    }
    return result;
}

int rill__compat_check(const reg_state_t *st, const char *level_name, const char *type,
                       const char *schema, json_t *references, json_t *previous, json_t *messages)
{
    rill_compat_level_t level;
    if (rill_compat_level_parse(level_name, &level)) {
        json_array_append_new(messages, json_sprintf("unknown compatibility level %s", level_name));
        return RILL_EINVAL;
    }
    /* Only versions of the same schema type are compared (a subject may hold several). */
    json_t *same = json_array();
    size_t i;
    json_t *id;
    json_array_foreach(previous, i, id)
    {
        json_t *s = rill__state_schema(st, (int)json_integer_value(id));
        const char *t = json_string_value(json_object_get(s, "schemaType"));
        if (t && strcmp(t, type) == 0)
            json_array_append(same, id);
        else if (t && level != RILL_COMPAT_NONE) {
            json_array_append_new(messages,
                                  json_sprintf("{errorType:'TYPE_MISMATCH', description:'The "
                                               "schema type changed from %s to %s'}",
                                               t, type));
            json_decref(same);
            return 1;
        }
    }
    int rc = 0;
    if (level == RILL_COMPAT_NONE || json_array_size(same) == 0)
        rc = 0;
    else if (strcmp(type, "AVRO") == 0)
        rc = check_avro(st, level, schema, references, same, messages);
    else
        rc = check_json(st, level, schema, same, messages);
    json_decref(same);
    return rc;
}
