/*
 * What the registry knows, and the `_schemas` records that change it.
 *
 * The records are Confluent's (their storage classes, io.confluent.kafka.schemaregistry.storage:
 * SchemaKey, ConfigKey, ModeKey, DeleteSubjectKey, ClearSubjectKey, NoopKey and their values):
 * the key is JSON {"keytype": ..., "subject": ..., "version": ..., "magic": ...} and the value
 * JSON, or null for a tombstone (a version deleted for good, a config or mode removed). Reading
 * the topic from its start and applying every record rebuilds the state; a record of a kind this
 * registry does not know (ASSOC, CONTEXT, a newer one) is skipped, not an error.
 *
 * The containers are jansson's objects and arrays (hash tables and vectors kept well by others).
 */
#include "registry_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int rill__state_init(reg_state_t *st)
{
    memset(st, 0, sizeof *st);
    st->schemas = json_object();
    st->identity = json_object();
    st->subjects = json_object();
    st->config = json_object();
    st->mode = json_object();
    if (!st->schemas || !st->identity || !st->subjects || !st->config || !st->mode) {
        rill__state_free(st);
        return RILL_ENOMEM;
    }
    return 0;
}

void rill__state_free(reg_state_t *st)
{
    json_decref(st->schemas);
    json_decref(st->identity);
    json_decref(st->subjects);
    json_decref(st->config);
    json_decref(st->mode);
    memset(st, 0, sizeof *st);
}

char *rill__state_identity(const char *type, json_t *references, const char *schema)
{
    char *refs = references && json_array_size(references)
                     ? json_dumps(references, JSON_COMPACT | JSON_SORT_KEYS)
                     : NULL;
    size_t n = strlen(type) + (refs ? strlen(refs) : 0) + strlen(schema) + 3;
    char *key = malloc(n);
    if (key)
        snprintf(key, n, "%s\n%s\n%s", type, refs ? refs : "", schema);
    free(refs);
    return key;
}

static char *key_text(json_t *key)
{
    char *text = json_dumps(key, JSON_COMPACT | JSON_PRESERVE_ORDER);
    json_decref(key);
    return text;
}

char *rill__key_schema(const char *subject, int version)
{
    return key_text(json_pack("{s:s, s:s, s:i, s:i}", "keytype", "SCHEMA", "subject", subject,
                              "version", version, "magic", 1));
}

char *rill__key_subject(const char *keytype, const char *subject)
{
    return key_text(json_pack("{s:s, s:o, s:i}", "keytype", keytype, "subject",
                              subject && subject[0] ? json_string(subject) : json_null(), "magic",
                              0));
}

json_t *rill__state_versions(const reg_state_t *st, const char *subject)
{
    return json_object_get(st->subjects, subject);
}

json_t *rill__state_version(const reg_state_t *st, const char *subject, int v, bool deleted)
{
    json_t *versions = rill__state_versions(st, subject);
    size_t i;
    json_t *e;
    json_array_foreach(versions, i, e)
    {
        if (json_integer_value(json_object_get(e, "version")) == v &&
            (deleted || !json_is_true(json_object_get(e, "deleted"))))
            return e;
    }
    return NULL;
}

json_t *rill__state_latest(const reg_state_t *st, const char *subject, bool deleted)
{
    json_t *versions = rill__state_versions(st, subject);
    for (size_t i = json_array_size(versions); i-- > 0;) {
        json_t *e = json_array_get(versions, i);
        if (deleted || !json_is_true(json_object_get(e, "deleted")))
            return e;
    }
    return NULL;
}

json_t *rill__state_schema(const reg_state_t *st, int id)
{
    char k[16];
    snprintf(k, sizeof k, "%d", id);
    return json_object_get(st->schemas, k);
}

bool rill__state_id_used(const reg_state_t *st, int id, bool deleted)
{
    const char *subject;
    json_t *versions;
    json_object_foreach(st->subjects, subject, versions)
    {
        size_t i;
        json_t *e;
        json_array_foreach(versions, i, e)
        {
            if (json_integer_value(json_object_get(e, "id")) == id &&
                (deleted || !json_is_true(json_object_get(e, "deleted"))))
                return true;
        }
    }
    return false;
}

const char *rill__state_level(const reg_state_t *st, const char *subject, const char *fallback)
{
    json_t *c = subject && subject[0] ? json_object_get(st->config, subject) : NULL;
    const char *level = json_string_value(json_object_get(c, "compatibilityLevel"));
    if (level)
        return level;
    level =
        json_string_value(json_object_get(json_object_get(st->config, ""), "compatibilityLevel"));
    return level ? level : fallback;
}

const char *rill__state_mode(const reg_state_t *st, const char *subject)
{
    const char *mode =
        subject && subject[0] ? json_string_value(json_object_get(st->mode, subject)) : NULL;
    if (mode)
        return mode;
    mode = json_string_value(json_object_get(st->mode, ""));
    return mode ? mode : "READWRITE";
}

/* Puts entry (taken) into subject's versions, in version order, replacing the same version. */
static int put_version(reg_state_t *st, const char *subject, json_t *entry)
{
    json_t *versions = json_object_get(st->subjects, subject);
    if (!versions) {
        versions = json_array();
        if (json_object_set_new(st->subjects, subject, versions)) {
            json_decref(entry);
            return RILL_ENOMEM;
        }
    }
    json_int_t v = json_integer_value(json_object_get(entry, "version"));
    size_t i;
    for (i = 0; i < json_array_size(versions); i++) {
        json_int_t at = json_integer_value(json_object_get(json_array_get(versions, i), "version"));
        if (at == v)
            return json_array_set_new(versions, i, entry) ? RILL_ENOMEM : 0;
        if (at > v)
            break;
    }
    return json_array_insert_new(versions, i, entry) ? RILL_ENOMEM : 0;
}

static void drop_version(reg_state_t *st, const char *subject, json_int_t v)
{
    json_t *versions = json_object_get(st->subjects, subject);
    for (size_t i = 0; i < json_array_size(versions); i++)
        if (json_integer_value(json_object_get(json_array_get(versions, i), "version")) == v) {
            json_array_remove(versions, i);
            break;
        }
    if (versions && json_array_size(versions) == 0)
        json_object_del(st->subjects, subject);
}

static int apply_schema(reg_state_t *st, json_t *key, json_t *value, char *errstr,
                        size_t errstr_size)
{
    const char *subject = json_string_value(json_object_get(key, "subject"));
    json_t *version = json_object_get(key, "version");
    if (!subject || !json_is_integer(version)) {
        snprintf(errstr, errstr_size, "a SCHEMA key without subject or version");
        return 1;
    }
    if (!value || json_is_null(value)) {
        drop_version(st, subject, json_integer_value(version));
        return 0;
    }
    json_t *id = json_object_get(value, "id");
    const char *schema = json_string_value(json_object_get(value, "schema"));
    if (!json_is_integer(id) || !schema) {
        snprintf(errstr, errstr_size, "a SCHEMA value of '%s' version %lld without id or schema",
                 subject, (long long)json_integer_value(version));
        return 1;
    }
    const char *type = json_string_value(json_object_get(value, "schemaType"));
    if (!type)
        type = "AVRO";
    json_t *refs = json_object_get(value, "references");
    char idkey[16];
    snprintf(idkey, sizeof idkey, "%lld", (long long)json_integer_value(id));
    if (!json_object_get(st->schemas, idkey)) {
        json_t *entry =
            json_pack("{s:s, s:s, s:o}", "schema", schema, "schemaType", type, "references",
                      json_is_array(refs) ? json_incref(refs) : json_array());
        if (!entry || json_object_set_new(st->schemas, idkey, entry))
            return RILL_ENOMEM;
        char *canonical = rill__schema_canonical(type, schema, false);
        char *identity = rill__state_identity(type, refs, canonical ? canonical : schema);
        free(canonical);
        if (!identity)
            return RILL_ENOMEM;
        json_object_set_new(st->identity, identity, json_integer(json_integer_value(id)));
        free(identity);
    }
    if (json_integer_value(id) > st->max_id)
        st->max_id = (int)json_integer_value(id);
    json_t *entry = json_pack("{s:I, s:I, s:b}", "version", json_integer_value(version), "id",
                              json_integer_value(id), "deleted",
                              json_is_true(json_object_get(value, "deleted")));
    return entry ? put_version(st, subject, entry) : RILL_ENOMEM;
}

/* CONFIG and MODE: the subject's (or, for a null subject, the global) value, or its removal. */
static int apply_setting(json_t *map, json_t *key, json_t *value, const char *field)
{
    const char *subject = json_string_value(json_object_get(key, "subject"));
    if (!subject)
        subject = "";
    if (!value || json_is_null(value)) {
        json_object_del(map, subject);
        return 0;
    }
    json_t *v = field ? json_object_get(value, field) : value;
    if (!v)
        return 1;
    return json_object_set(map, subject, v) ? RILL_ENOMEM : 0;
}

static int apply_delete_subject(reg_state_t *st, json_t *value)
{
    const char *subject = json_string_value(json_object_get(value, "subject"));
    json_t *upto = json_object_get(value, "version");
    json_t *versions = subject ? json_object_get(st->subjects, subject) : NULL;
    size_t i;
    json_t *e;
    json_array_foreach(versions, i, e)
    {
        if (!json_is_integer(upto) ||
            json_integer_value(json_object_get(e, "version")) <= json_integer_value(upto))
            json_object_set_new(e, "deleted", json_true());
    }
    return 0;
}

int rill__state_apply(reg_state_t *st, const void *key, size_t key_len, const void *value,
                      size_t value_len, char *errstr, size_t errstr_size)
{
    json_error_t jerr;
    json_t *k = key ? json_loadb(key, key_len, 0, &jerr) : NULL;
    if (!k) {
        snprintf(errstr, errstr_size, "a record whose key is not JSON: %s",
                 key ? jerr.text : "no key");
        return 1;
    }
    json_t *v = NULL;
    if (value) {
        v = json_loadb(value, value_len, JSON_DECODE_ANY, &jerr);
        if (!v) {
            snprintf(errstr, errstr_size, "a record whose value is not JSON: %s", jerr.text);
            json_decref(k);
            return 1;
        }
    }
    const char *type = json_string_value(json_object_get(k, "keytype"));
    int rc;
    if (!type) {
        snprintf(errstr, errstr_size, "a record whose key has no keytype");
        rc = 1;
    } else if (strcmp(type, "SCHEMA") == 0) {
        rc = apply_schema(st, k, v, errstr, errstr_size);
    } else if (strcmp(type, "CONFIG") == 0) {
        rc = apply_setting(st->config, k, v, NULL);
    } else if (strcmp(type, "MODE") == 0) {
        rc = apply_setting(st->mode, k, v, "mode");
    } else if (strcmp(type, "DELETE_SUBJECT") == 0) {
        rc = v ? apply_delete_subject(st, v) : 0;
    } else if (strcmp(type, "CLEAR_SUBJECT") == 0 || strcmp(type, "NOOP") == 0) {
        rc = 0; /* Confluent clears caches on these; the state has none */
    } else {
        snprintf(errstr, errstr_size, "a record of key type %s, which this registry skips", type);
        rc = 1;
    }
    json_decref(k);
    json_decref(v);
    if (rc == 0)
        st->records++;
    return rc;
}
