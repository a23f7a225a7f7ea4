/*
 * The REST API of Confluent Schema Registry, as its API reference describes it and its REST
 * resources behave (io.confluent.kafka.schemaregistry.rest.resources: SchemasResource,
 * SubjectsResource, SubjectVersionsResource, CompatibilityResource, ConfigResource,
 * ModeResource; codes from rest/exceptions/Errors.java). A request is a method, a path, a query
 * and a body; the answer a status and a JSON body, or an error body
 * {"error_code": N, "message": "..."} whose message names what was asked for.
 *
 * Reads take the state's lock and answer from the state. Writes go to the leader: a follower
 * forwards them (forward.c); the leader decides under the write lock, writes the records and
 * waits until its reader has applied them, so the answer and every later read agree.
 */
#include "registry_int.h"

#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* What a handler produced. */
typedef struct {
    int status;
    json_t *body;  /* the JSON answer, or NULL */
    char *raw;     /* or a raw answer (a schema's text), new */
    char *forward; /* forwarded: the leader's answer, new */
} answer_t;

static void ok(answer_t *a, json_t *body)
{
    a->status = 200;
    a->body = body;
}

static void fail(answer_t *a, int status, int code, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static void fail(answer_t *a, int status, int code, const char *fmt, ...)
{
    char message[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(message, sizeof message, fmt, ap);
    va_end(ap);
    a->status = status;
    json_decref(a->body);
    a->body = json_pack("{s:i, s:s}", "error_code", code, "message", message);
}

static bool flag(const reg_request_t *req, const char *name)
{
    const char *v = req->query ? req->query(req->query_ud, name) : NULL;
    return v && strcasecmp(v, "true") == 0;
}

static const char *param(const reg_request_t *req, const char *name)
{
    return req->query ? req->query(req->query_ud, name) : NULL;
}

static bool is_deleted(json_t *entry)
{
    return json_is_true(json_object_get(entry, "deleted"));
}

static int entry_int(json_t *entry, const char *field)
{
    return (int)json_integer_value(json_object_get(entry, field));
}

/* Parses a version: "latest" and -1 are the latest; else 1..2^31-1. 0 or 42202. */
static int parse_version(answer_t *a, const char *text, int *v)
{
    if (strcasecmp(text, "latest") == 0 || strcmp(text, "-1") == 0) {
        *v = -1;
        return 0;
    }
    char *end;
    errno = 0;
    long n = strtol(text, &end, 10);
    if (errno || *end || end == text || n < 1 || n > INT_MAX) {
        fail(a, 422, 42202,
             "The specified version '%s' is not a valid version id: expected 1 to 2147483647, "
             "\"latest\" or -1",
             text);
        return -1;
    }
    *v = (int)n;
    return 0;
}

/* Finds subject's version v (-1: the latest), failing a with 40401 or 40402. */
static json_t *find_version(answer_t *a, const reg_state_t *st, const char *subject, int v,
                            bool deleted)
{
    json_t *versions = rill__state_versions(st, subject);
    bool live = false;
    size_t i;
    json_t *e;
    json_array_foreach(versions, i, e) live |= !is_deleted(e);
    if (!versions || (!live && !deleted)) {
        fail(a, 404, 40401, "Subject '%s' not found.", subject);
        return NULL;
    }
    json_t *entry = v < 0 ? rill__state_latest(st, subject, deleted)
                          : rill__state_version(st, subject, v, deleted);
    if (!entry) {
        if (v < 0)
            fail(a, 404, 40402, "Version latest not found for subject '%s'.", subject);
        else
            fail(a, 404, 40402, "Version %d not found for subject '%s'.", v, subject);
    }
    return entry;
}

/* The schema as the API shows it, for version entry of subject (or NULL: by id only). */
static json_t *schema_view(const reg_state_t *st, const char *subject, json_t *entry, int id)
{
    json_t *s = rill__state_schema(st, id);
    if (!s)
        return NULL;
    json_t *view = json_object();
    if (subject) {
        json_object_set_new(view, "subject", json_string(subject));
        json_object_set_new(view, "version", json_integer(entry_int(entry, "version")));
    }
    json_object_set_new(view, "id", json_integer(id));
    const char *type = json_string_value(json_object_get(s, "schemaType"));
    if (type && strcmp(type, "AVRO") != 0)
        json_object_set_new(view, "schemaType", json_string(type));
    json_t *refs = json_object_get(s, "references");
    if (json_array_size(refs))
        json_object_set(view, "references", refs);
    json_object_set(view, "schema", json_object_get(s, "schema"));
    return view;
}

/* ---- /schemas ---- */

static void get_schema_by_id(rill_registry_t *reg, const reg_request_t *req, answer_t *a,
                             const char *id_text, const char *rest)
{
    char *end;
    long id = strtol(id_text, &end, 10);
    reg_state_t *st = &reg->state;
    json_t *s = *end || id < 1 || id > INT_MAX ? NULL : rill__state_schema(st, (int)id);
    if (!s || !rill__state_id_used(st, (int)id, true)) {
        fail(a, 404, 40403, "Schema %s not found", id_text);
        return;
    }
    bool deleted = flag(req, "deleted");
    if (!rest) {
        json_t *view = schema_view(st, NULL, NULL, (int)id);
        json_object_del(view, "id");
        ok(a, view);
    } else if (strcmp(rest, "schema") == 0) {
        a->status = 200;
        a->raw = strdup(json_string_value(json_object_get(s, "schema")));
    } else if (strcmp(rest, "subjects") == 0 || strcmp(rest, "versions") == 0) {
        bool versions = strcmp(rest, "versions") == 0;
        json_t *out = json_array();
        const char *subject;
        json_t *vs;
        json_object_foreach(st->subjects, subject, vs)
        {
            size_t i;
            json_t *e;
            bool listed = false;
            json_array_foreach(vs, i, e)
            {
                if (entry_int(e, "id") != id || (is_deleted(e) && !deleted) || listed)
                    continue;
                if (versions)
                    json_array_append_new(out, json_pack("{s:s, s:i}", "subject", subject,
                                                         "version", entry_int(e, "version")));
                else {
                    json_array_append_new(out, json_string(subject));
                    listed = true;
                }
            }
        }
        ok(a, out);
    } else {
        fail(a, 404, 404, "HTTP 404 Not Found");
    }
}

/* ---- /subjects ---- */

static bool has_live(json_t *versions)
{
    size_t i;
    json_t *e;
    json_array_foreach(versions, i, e) if (!is_deleted(e)) return true;
    return false;
}

/* The ids of subject's live versions, oldest first: a new array. */
static json_t *live_ids(const reg_state_t *st, const char *subject)
{
    json_t *ids = json_array();
    size_t i;
    json_t *e;
    json_array_foreach(rill__state_versions(st, subject), i, e)
    {
        if (!is_deleted(e))
            json_array_append_new(ids, json_integer(entry_int(e, "id")));
    }
    return ids;
}

static void list_subjects(rill_registry_t *reg, const reg_request_t *req, answer_t *a)
{
    const char *prefix = param(req, "subjectPrefix");
    bool deleted = flag(req, "deleted"), only = flag(req, "deletedOnly");
    json_t *out = json_array();
    const char *subject;
    json_t *vs;
    json_object_foreach(reg->state.subjects, subject, vs)
    {
        if (prefix && strncmp(subject, prefix, strlen(prefix)) != 0)
            continue;
        bool live = has_live(vs);
        if (only ? !live : (live || deleted))
            json_array_append_new(out, json_string(subject));
    }
    ok(a, out);
}

static void list_versions(rill_registry_t *reg, const reg_request_t *req, answer_t *a,
                          const char *subject)
{
    bool deleted = flag(req, "deleted"), only = flag(req, "deletedOnly");
    json_t *vs = rill__state_versions(&reg->state, subject);
    if (!vs || (!deleted && !only && !has_live(vs))) {
        fail(a, 404, 40401, "Subject '%s' not found.", subject);
        return;
    }
    json_t *out = json_array();
    size_t i;
    json_t *e;
    json_array_foreach(vs, i, e)
    {
        bool d = is_deleted(e);
        if (only ? d : (!d || deleted))
            json_array_append_new(out, json_integer(entry_int(e, "version")));
    }
    ok(a, out);
}

static void get_version(rill_registry_t *reg, const reg_request_t *req, answer_t *a,
                        const char *subject, const char *vtext, const char *rest)
{
    int v;
    if (parse_version(a, vtext, &v))
        return;
    reg_state_t *st = &reg->state;
    json_t *entry = find_version(a, st, subject, v, flag(req, "deleted"));
    if (!entry)
        return;
    if (!rest) {
        ok(a, schema_view(st, subject, entry, entry_int(entry, "id")));
    } else if (strcmp(rest, "schema") == 0) {
        json_t *s = rill__state_schema(st, entry_int(entry, "id"));
        a->status = 200;
        a->raw = strdup(json_string_value(json_object_get(s, "schema")));
    } else if (strcmp(rest, "referencedby") == 0) {
        json_t *out = json_array();
        const char *id;
        json_t *s;
        json_object_foreach(st->schemas, id, s)
        {
            size_t i;
            json_t *ref;
            json_array_foreach(json_object_get(s, "references"), i, ref)
            {
                const char *rs = json_string_value(json_object_get(ref, "subject"));
                if (rs && strcmp(rs, subject) == 0 &&
                    entry_int(ref, "version") == entry_int(entry, "version") &&
                    rill__state_id_used(st, atoi(id), false)) {
                    json_array_append_new(out, json_integer(atoi(id)));
                    break;
                }
            }
        }
        ok(a, out);
    } else {
        fail(a, 404, 404, "HTTP 404 Not Found");
    }
}

/* The body of a register, lookup or compatibility request: {"schema", "schemaType",
 * "references"}. Fails a with 42201 (or 422 for a body that is not JSON). */
typedef struct {
    json_t *doc;
    const char *schema, *type;
    json_t *references;
} schema_body_t;

static int parse_schema_body(answer_t *a, const reg_request_t *req, schema_body_t *b)
{
    json_error_t jerr;
    memset(b, 0, sizeof *b);
    b->doc = json_loadb(req->body ? req->body : "", req->body_len, 0, &jerr);
    if (!json_is_object(b->doc)) {
        fail(a, 400, 400, "Unrecognized request body: %s", b->doc ? "not an object" : jerr.text);
        return -1;
    }
    b->schema = json_string_value(json_object_get(b->doc, "schema"));
    if (!b->schema) {
        fail(a, 422, 42201, "Invalid schema: the body has no \"schema\" string");
        return -1;
    }
    b->type = json_string_value(json_object_get(b->doc, "schemaType"));
    if (!b->type)
        b->type = "AVRO";
    if (strcmp(b->type, "AVRO") != 0 && strcmp(b->type, "JSON") != 0) {
        fail(a, 422, 42201, "Invalid schema: schemaType %s is not supported (AVRO or JSON)",
             b->type);
        return -1;
    }
    b->references = json_object_get(b->doc, "references");
    if (b->references && !json_is_array(b->references) && !json_is_null(b->references)) {
        fail(a, 422, 42201, "Invalid schema: \"references\" must be an array");
        return -1;
    }
    if (!json_is_array(b->references))
        b->references = NULL;
    return 0;
}

/* The id of schema body b if subject has it as a version (deleted ones when deleted): the
 * version's entry, or NULL. */
static json_t *version_with_schema(const reg_state_t *st, const char *subject,
                                   const schema_body_t *b, bool normalize, bool deleted)
{
    char *mine = rill__schema_canonical(b->type, b->schema, normalize);
    if (!mine)
        return NULL;
    json_t *found = NULL;
    json_t *vs = rill__state_versions(st, subject);
    for (size_t i = json_array_size(vs); i-- > 0 && !found;) {
        json_t *e = json_array_get(vs, i);
        if (is_deleted(e) && !deleted)
            continue;
        json_t *s = rill__state_schema(st, entry_int(e, "id"));
        const char *type = json_string_value(json_object_get(s, "schemaType"));
        if (!type || strcmp(type, b->type) != 0)
            continue;
        json_t *refs = json_object_get(s, "references");
        json_t *none = json_array();
        bool same_refs = json_equal(refs ? refs : none, b->references ? b->references : none);
        json_decref(none);
        if (!same_refs)
            continue;
        char *theirs = rill__schema_canonical(type, json_string_value(json_object_get(s, "schema")),
                                              normalize);
        if (theirs && strcmp(theirs, mine) == 0)
            found = e;
        free(theirs);
    }
    free(mine);
    return found;
}

static void lookup(rill_registry_t *reg, const reg_request_t *req, answer_t *a, const char *subject)
{
    schema_body_t b;
    if (parse_schema_body(a, req, &b) == 0) {
        reg_state_t *st = &reg->state;
        bool deleted = flag(req, "deleted");
        json_t *vs = rill__state_versions(st, subject);
        char why[1024];
        if (rill__schema_validate(st, b.type, b.schema, b.references, why, sizeof why))
            fail(a, 422, 42201, "Invalid schema: %s", why);
        else if (!vs || (!deleted && !has_live(vs)))
            fail(a, 404, 40401, "Subject '%s' not found.", subject);
        else {
            json_t *e = version_with_schema(st, subject, &b, flag(req, "normalize"), deleted);
            if (e)
                ok(a, schema_view(st, subject, e, entry_int(e, "id")));
            else
                fail(a, 404, 40403, "Schema not found in subject '%s'", subject);
        }
    }
    json_decref(b.doc);
}

/* ---- writes (the leader's) ---- */

/* Writes key = value to the store, or key's tombstone when tombstone (a value that could not be
 * made, NULL, is out of memory, never a tombstone). 0, or a's error set. */
static int write_record(rill_registry_t *reg, answer_t *a, const char *key, json_t *value,
                        bool tombstone)
{
    char *text = value ? json_dumps(value, JSON_COMPACT | JSON_PRESERVE_ORDER) : NULL;
    char why[512];
    int rc = key && (tombstone || text)
                 ? rill__reg_store_write(reg->store, key, tombstone ? NULL : text, why, sizeof why)
                 : RILL_ENOMEM;
    free(text);
    if (rc)
        rill_log(RILL_LOG_WARN, "registry", "a write to the store failed: %s",
                 rc == RILL_ENOMEM ? "out of memory" : why);
    if (rc == RILL_ETIMEDOUT)
        fail(a, 500, 50002, "The write to the store timed out: %s", why);
    else if (rc)
        fail(a, 500, 50001, "The write to the store failed: %s",
             rc == RILL_ENOMEM ? "out of memory" : why);
    return rc;
}

static bool writable(rill_registry_t *reg, answer_t *a, const char *subject, bool import)
{
    const char *mode = rill__state_mode(&reg->state, subject);
    if (strcmp(mode, "READONLY") == 0 || strcmp(mode, "READONLY_OVERRIDE") == 0 ||
        (strcmp(mode, "IMPORT") == 0 && !import)) {
        fail(a, 422, 42205, "Subject '%s' is in %s mode: the operation is not permitted",
             subject ? subject : "", mode);
        return false;
    }
    return true;
}

/* Checks the references of b: each names an existing subject version. */
static int check_references(answer_t *a, const reg_state_t *st, const schema_body_t *b)
{
    size_t i;
    json_t *ref;
    json_array_foreach(b->references, i, ref)
    {
        const char *name = json_string_value(json_object_get(ref, "name"));
        const char *subject = json_string_value(json_object_get(ref, "subject"));
        json_t *version = json_object_get(ref, "version");
        if (!name || !subject || !json_is_integer(version)) {
            fail(a, 422, 42201,
                 "Invalid schema: references[%zu] needs a name, a subject and a version", i);
            return -1;
        }
        if (!rill__state_version(st, subject, (int)json_integer_value(version), false)) {
            fail(a, 422, 42201,
                 "Invalid schema: references[%zu] ('%s') names subject '%s' version %lld, "
                 "which does not exist",
                 i, name, subject, (long long)json_integer_value(version));
            return -1;
        }
    }
    return 0;
}

static void register_schema(rill_registry_t *reg, const reg_request_t *req, answer_t *a,
                            const char *subject)
{
    schema_body_t b;
    if (parse_schema_body(a, req, &b)) {
        json_decref(b.doc);
        return;
    }
    reg_state_t *st = &reg->state;
    bool import = strcmp(rill__state_mode(st, subject), "IMPORT") == 0;
    json_t *want_id = json_object_get(b.doc, "id");
    json_t *want_version = json_object_get(b.doc, "version");
    bool normalize =
        flag(req, "normalize") ||
        json_is_true(json_object_get(json_object_get(st->config, subject), "normalize")) ||
        json_is_true(json_object_get(json_object_get(st->config, ""), "normalize"));
    char why[1024];
    json_t *same;
    if (!writable(reg, a, subject, import))
        goto done;
    if (import && !json_is_integer(want_id)) {
        fail(a, 422, 42205, "Subject '%s' is in IMPORT mode: a registration must give its id",
             subject);
        goto done;
    }
    if (check_references(a, st, &b))
        goto done;
    if (rill__schema_validate(st, b.type, b.schema, b.references, why, sizeof why)) {
        fail(a, 422, 42201, "Invalid schema: %s", why);
        goto done;
    }
    if ((same = version_with_schema(st, subject, &b, normalize, false)) &&
        (!json_is_integer(want_id) || json_integer_value(want_id) == entry_int(same, "id"))) {
        ok(a, json_pack("{s:i}", "id", entry_int(same, "id")));
        goto done;
    }
    if (!import) {
        json_t *messages = json_array();
        json_t *previous = live_ids(st, subject);
        int rc = rill__compat_check(
            st, rill__state_level(st, subject, rill__reg_conf(reg->conf, REG_CONF_COMPATIBILITY)),
            b.type, b.schema, b.references, previous, messages);
        json_decref(previous);
        if (rc) {
            char *list = json_dumps(messages, JSON_COMPACT);
            if (rc > 0)
                fail(a, 409, 40901,
                     "Schema being registered is incompatible with an earlier schema for "
                     "subject '%s': %s",
                     subject, list ? list : "[]");
            else
                fail(a, 422, 42201, "Invalid schema: %s", list ? list : "");
            free(list);
            json_decref(messages);
            goto done;
        }
        json_decref(messages);
    }
    /* The id: the one the same schema has anywhere, else the next. */
    char *canonical = rill__schema_canonical(b.type, b.schema, normalize);
    const char *stored = canonical ? canonical : b.schema;
    char *identity = rill__state_identity(b.type, b.references, stored);
    json_t *known = identity ? json_object_get(st->identity, identity) : NULL;
    free(identity);
    int id = known ? (int)json_integer_value(known) : st->max_id + 1;
    if (json_is_integer(want_id)) {
        if (!import) {
            fail(a, 422, 42205, "An id (%lld) may be given only in IMPORT mode",
                 (long long)json_integer_value(want_id));
            free(canonical);
            goto done;
        }
        json_t *holder = rill__state_schema(st, (int)json_integer_value(want_id));
        if (holder && (!known || json_integer_value(known) != json_integer_value(want_id))) {
            fail(a, 422, 42205, "Schema id %lld is taken by another schema",
                 (long long)json_integer_value(want_id));
            free(canonical);
            goto done;
        }
        id = (int)json_integer_value(want_id);
    }
    json_t *latest = rill__state_latest(st, subject, true);
    int version = latest ? entry_int(latest, "version") + 1 : 1;
    if (json_is_integer(want_version) && json_integer_value(want_version) > 0) {
        if (!import && json_integer_value(want_version) != version) {
            fail(a, 422, 42201, "Invalid schema: version %lld is not one more than the latest (%d)",
                 (long long)json_integer_value(want_version), version - 1);
            free(canonical);
            goto done;
        }
        version = (int)json_integer_value(want_version);
    }
    json_t *value = json_pack("{s:s, s:i, s:i, s:s, s:o, s:s, s:b}", "subject", subject, "version",
                              version, "id", id, "schemaType", b.type, "references",
                              b.references ? json_incref(b.references) : json_array(), "schema",
                              normalize ? stored : b.schema, "deleted", 0);
    if (strcmp(b.type, "AVRO") == 0)
        json_object_del(value, "schemaType");
    free(canonical);
    char *key = rill__key_schema(subject, version);
    if (write_record(reg, a, key, value, false) == 0)
        ok(a, json_pack("{s:i}", "id", id));
    free(key);
    json_decref(value);
done:
    json_decref(b.doc);
}

/* The subjects whose live versions reference subject (version v, or any when v < 0), other
 * than subject itself. */
static bool referenced(const reg_state_t *st, const char *subject, int v)
{
    const char *id;
    json_t *s;
    json_object_foreach(st->schemas, id, s)
    {
        size_t i;
        json_t *ref;
        json_array_foreach(json_object_get(s, "references"), i, ref)
        {
            const char *rs = json_string_value(json_object_get(ref, "subject"));
            if (rs && strcmp(rs, subject) == 0 && (v < 0 || entry_int(ref, "version") == v) &&
                rill__state_id_used(st, atoi(id), false))
                return true;
        }
    }
    return false;
}

static void delete_subject(rill_registry_t *reg, const reg_request_t *req, answer_t *a,
                           const char *subject)
{
    reg_state_t *st = &reg->state;
    bool permanent = flag(req, "permanent");
    json_t *vs = rill__state_versions(st, subject);
    if (!vs) {
        fail(a, 404, 40401, "Subject '%s' not found.", subject);
        return;
    }
    if (!writable(reg, a, subject, false))
        return;
    bool live = has_live(vs);
    if (!permanent && !live) {
        fail(a, 404, 40404, "Subject '%s' was soft deleted; delete it with permanent=true",
             subject);
        return;
    }
    if (permanent && live) {
        fail(a, 404, 40405,
             "Subject '%s' was not soft deleted first; delete it without permanent=true first",
             subject);
        return;
    }
    if (referenced(st, subject, -1)) {
        fail(a, 422, 42206, "Subject '%s' has a version that other schemas reference", subject);
        return;
    }
    json_t *out = json_array();
    json_t *copy = json_deep_copy(vs);
    size_t i;
    json_t *e;
    int last = 0;
    json_array_foreach(copy, i, e)
    {
        if (!permanent && is_deleted(e))
            continue;
        json_array_append_new(out, json_integer(entry_int(e, "version")));
        last = entry_int(e, "version");
    }
    int rc = 0;
    if (!permanent) {
        char *key = rill__key_subject("DELETE_SUBJECT", subject);
        json_t *value = json_pack("{s:s, s:i}", "subject", subject, "version", last);
        rc = write_record(reg, a, key, value, false);
        free(key);
        json_decref(value);
    } else {
        for (size_t j = json_array_size(copy); j-- > 0 && !rc;) {
            char *key = rill__key_schema(subject, entry_int(json_array_get(copy, j), "version"));
            rc = write_record(reg, a, key, NULL, true);
            free(key);
        }
        const char *kinds[] = {"CONFIG", "MODE"};
        json_t *maps[] = {st->config, st->mode};
        for (int k = 0; k < 2 && !rc; k++)
            if (json_object_get(maps[k], subject)) {
                char *key = rill__key_subject(kinds[k], subject);
                rc = write_record(reg, a, key, NULL, true);
                free(key);
            }
        if (!rc) {
            char *key = rill__key_subject("CLEAR_SUBJECT", subject);
            json_t *value = json_pack("{s:s}", "subject", subject);
            rc = write_record(reg, a, key, value, false);
            free(key);
            json_decref(value);
        }
    }
    json_decref(copy);
    if (rc)
        json_decref(out);
    else
        ok(a, out);
}

static void delete_version(rill_registry_t *reg, const reg_request_t *req, answer_t *a,
                           const char *subject, const char *vtext)
{
    int v;
    if (parse_version(a, vtext, &v))
        return;
    reg_state_t *st = &reg->state;
    bool permanent = flag(req, "permanent");
    /* "latest" is the latest live version, or for a permanent delete the latest of all. */
    json_t *entry = find_version(a, st, subject, v, v > 0 || permanent);
    if (!entry)
        return;
    if (!writable(reg, a, subject, false))
        return;
    v = entry_int(entry, "version");
    if (!permanent && is_deleted(entry)) {
        fail(a, 404, 40406, "Subject '%s' version %d was soft deleted", subject, v);
        return;
    }
    if (permanent && !is_deleted(entry)) {
        fail(a, 404, 40407,
             "Subject '%s' version %d was not soft deleted first; delete it without "
             "permanent=true first",
             subject, v);
        return;
    }
    if (referenced(st, subject, v)) {
        fail(a, 422, 42206, "Subject '%s' version %d is referenced by other schemas", subject, v);
        return;
    }
    char *key = rill__key_schema(subject, v);
    json_t *value = NULL;
    if (!permanent) {
        json_t *s = rill__state_schema(st, entry_int(entry, "id"));
        value = json_pack(
            "{s:s, s:i, s:i, s:O, s:O, s:O, s:b}", "subject", subject, "version", v, "id",
            entry_int(entry, "id"), "schemaType", json_object_get(s, "schemaType"), "references",
            json_object_get(s, "references"), "schema", json_object_get(s, "schema"), "deleted", 1);
        const char *type = json_string_value(json_object_get(value, "schemaType"));
        if (type && strcmp(type, "AVRO") == 0)
            json_object_del(value, "schemaType");
    }
    if (write_record(reg, a, key, value, permanent) == 0)
        ok(a, json_integer(v));
    free(key);
    json_decref(value);
}

/* ---- /compatibility ---- */

static void check_compatibility(rill_registry_t *reg, const reg_request_t *req, answer_t *a,
                                const char *subject, const char *vtext)
{
    schema_body_t b;
    if (parse_schema_body(a, req, &b)) {
        json_decref(b.doc);
        return;
    }
    reg_state_t *st = &reg->state;
    const char *level =
        rill__state_level(st, subject, rill__reg_conf(reg->conf, REG_CONF_COMPATIBILITY));
    json_t *messages = json_array();
    int rc;
    json_t *previous;
    if (vtext) {
        /* Against one version: the level's direction, that version alone. */
        int v;
        json_t *entry;
        if (parse_version(a, vtext, &v))
            goto done;
        if (v < 0 && !rill__state_latest(st, subject, false)) {
            /* Nothing to be incompatible with (Confluent answers so, too). */
            previous = json_array();
        } else {
            if (!(entry = find_version(a, st, subject, v, false)))
                goto done;
            previous = json_pack("[i]", entry_int(entry, "id"));
        }
    } else {
        previous = live_ids(st, subject);
    }
    rc = rill__compat_check(st, level, b.type, b.schema, b.references, previous, messages);
    json_decref(previous);
    if (rc < 0 && !flag(req, "verbose")) {
        char *list = json_dumps(messages, JSON_COMPACT);
        fail(a, 422, 42201, "Invalid schema: %s", list ? list : "");
        free(list);
        goto done;
    }
    /* Verbose: an invalid schema is incompatible, with the reason among the messages. */
    json_t *out = json_pack("{s:b}", "is_compatible", rc == 0);
    if (flag(req, "verbose"))
        json_object_set(out, "messages", messages);
    ok(a, out);
done:
    json_decref(messages);
    json_decref(b.doc);
}

/* ---- /config and /mode ---- */

static bool level_name(const char *v, char *out, size_t size)
{
    static const char *const levels[] = {
#define REG_LEVEL_NAME(l) #l,
        REG_LEVELS(REG_LEVEL_NAME)
#undef REG_LEVEL_NAME
    };
    for (size_t i = 0; v && i < sizeof levels / sizeof levels[0]; i++)
        if (strcasecmp(v, levels[i]) == 0) {
            snprintf(out, size, "%s", levels[i]);
            return true;
        }
    return false;
}

static void config(rill_registry_t *reg, const reg_request_t *req, answer_t *a, const char *subject)
{
    reg_state_t *st = &reg->state;
    const char *key_subject = subject ? subject : "";
    if (strcmp(req->method, "GET") == 0) {
        json_t *c = json_object_get(st->config, key_subject);
        if (!c && subject && !flag(req, "defaultToGlobal")) {
            fail(a, 404, 40408, "Subject '%s' has no compatibility level of its own", subject);
            return;
        }
        if (!c)
            c = json_object_get(st->config, "");
        json_t *out = c ? json_deep_copy(c) : json_object();
        if (!json_object_get(out, "compatibilityLevel"))
            json_object_set_new(out, "compatibilityLevel",
                                json_string(rill__reg_conf(reg->conf, REG_CONF_COMPATIBILITY)));
        ok(a, out);
        return;
    }
    if (strcmp(req->method, "DELETE") == 0) {
        json_t *c = json_object_get(st->config, key_subject);
        if (subject && !rill__state_versions(st, subject) && !c) {
            fail(a, 404, 40401, "Subject '%s' not found.", subject);
            return;
        }
        json_t *before =
            c ? json_deep_copy(c)
              : json_pack(
                    "{s:s}", "compatibilityLevel",
                    rill__state_level(st, NULL, rill__reg_conf(reg->conf, REG_CONF_COMPATIBILITY)));
        char *key = rill__key_subject("CONFIG", subject);
        if (write_record(reg, a, key, NULL, true) == 0)
            ok(a, before);
        else
            json_decref(before);
        free(key);
        return;
    }
    json_error_t jerr;
    json_t *doc = json_loadb(req->body ? req->body : "", req->body_len, 0, &jerr);
    char level[32];
    const char *asked = json_string_value(json_object_get(doc, "compatibility"));
    if (!asked)
        asked = json_string_value(json_object_get(doc, "compatibilityLevel"));
    if (!json_is_object(doc)) {
        fail(a, 400, 400, "Unrecognized request body: %s", doc ? "not an object" : jerr.text);
    } else if (!level_name(asked, level, sizeof level)) {
        fail(a, 422, 42203,
             "Invalid compatibility level '%s': expected NONE, BACKWARD, BACKWARD_TRANSITIVE, "
             "FORWARD, FORWARD_TRANSITIVE, FULL or FULL_TRANSITIVE",
             asked ? asked : "");
    } else {
        json_t *value = json_pack("{s:s}", "compatibilityLevel", level);
        json_t *normalize = json_object_get(doc, "normalize");
        if (json_is_boolean(normalize))
            json_object_set(value, "normalize", normalize);
        char *key = rill__key_subject("CONFIG", subject);
        if (write_record(reg, a, key, value, false) == 0) {
            json_t *out = json_pack("{s:s}", "compatibility", level);
            if (json_is_boolean(normalize))
                json_object_set(out, "normalize", normalize);
            ok(a, out);
        }
        free(key);
        json_decref(value);
    }
    json_decref(doc);
}

static void mode(rill_registry_t *reg, const reg_request_t *req, answer_t *a, const char *subject)
{
    reg_state_t *st = &reg->state;
    const char *key_subject = subject ? subject : "";
    if (strcmp(req->method, "GET") == 0) {
        const char *m = json_string_value(json_object_get(st->mode, key_subject));
        if (!m && subject && !flag(req, "defaultToGlobal")) {
            fail(a, 404, 40409, "Subject '%s' has no mode of its own", subject);
            return;
        }
        ok(a, json_pack("{s:s}", "mode", m ? m : rill__state_mode(st, NULL)));
        return;
    }
    if (strcmp(req->method, "DELETE") == 0) {
        if (!subject) {
            fail(a, 405, 405, "HTTP 405 Method Not Allowed");
            return;
        }
        if (!json_object_get(st->mode, subject)) { /* Confluent: 40401 then, too */
            fail(a, 404, 40401, "Subject '%s' not found.", subject);
            return;
        }
        const char *before = rill__state_mode(st, subject);
        json_t *out = json_pack("{s:s}", "mode", before);
        char *key = rill__key_subject("MODE", subject);
        if (write_record(reg, a, key, NULL, true) == 0)
            ok(a, out);
        else
            json_decref(out);
        free(key);
        return;
    }
    json_error_t jerr;
    json_t *doc = json_loadb(req->body ? req->body : "", req->body_len, 0, &jerr);
    const char *m = json_string_value(json_object_get(doc, "mode"));
    if (!json_is_object(doc)) {
        fail(a, 400, 400, "Unrecognized request body: %s", doc ? "not an object" : jerr.text);
    } else if (!m || (strcmp(m, "READWRITE") != 0 && strcmp(m, "READONLY") != 0 &&
                      strcmp(m, "READONLY_OVERRIDE") != 0 && strcmp(m, "IMPORT") != 0)) {
        fail(a, 422, 42204, "Invalid mode '%s': expected READWRITE, READONLY or IMPORT",
             m ? m : "");
    } else if (strcmp(m, "IMPORT") == 0 && !flag(req, "force") &&
               (subject ? has_live(rill__state_versions(st, subject))
                        : json_object_size(st->subjects) > 0)) {
        fail(a, 422, 42204,
             "Cannot enter IMPORT mode: schemas exist%s%s (force=true to do it anyway)",
             subject ? " in subject " : "", subject ? subject : "");
    } else {
        json_t *value = json_pack("{s:o, s:s}", "subject",
                                  subject ? json_string(subject) : json_null(), "mode", m);
        char *key = rill__key_subject("MODE", subject);
        if (write_record(reg, a, key, value, false) == 0)
            ok(a, json_pack("{s:s}", "mode", m));
        free(key);
        json_decref(value);
    }
    json_decref(doc);
}

/* ---- routing ---- */

/* Splits path into at most n segments (in buf); returns how many. */
static int split(const char *path, char *buf, size_t size, char **seg, int n)
{
    snprintf(buf, size, "%s", path);
    int count = 0;
    for (char *p = strtok(buf, "/"); p && count < n; p = strtok(NULL, "/"))
        seg[count++] = p;
    return strtok(NULL, "/") ? n + 1 : count;
}

static bool is_write(const reg_request_t *req)
{
    if (strcmp(req->method, "GET") == 0 || strcmp(req->method, "HEAD") == 0)
        return false;
    /* A lookup and a compatibility check are POSTs that only read. */
    if (strncmp(req->path, "/compatibility/", 15) == 0)
        return false;
    if (strcmp(req->method, "POST") == 0 && strncmp(req->path, "/subjects/", 10) == 0 &&
        !strstr(req->path + 10, "/versions"))
        return false;
    return true;
}

static void route(rill_registry_t *reg, const reg_request_t *req, answer_t *a)
{
    char buf[2048];
    char *s[6];
    int n = split(req->path, buf, sizeof buf, s, 6);
    const char *m = req->method;
    bool get = strcmp(m, "GET") == 0, post = strcmp(m, "POST") == 0, put = strcmp(m, "PUT") == 0,
         del = strcmp(m, "DELETE") == 0;
    if (n == 0 && get) {
        ok(a, json_object());
    } else if (n >= 1 && strcmp(s[0], "schemas") == 0) {
        if (n == 2 && get && strcmp(s[1], "types") == 0)
            ok(a, json_pack("[s, s]", "JSON", "AVRO"));
        else if ((n == 3 || n == 4) && get && strcmp(s[1], "ids") == 0)
            get_schema_by_id(reg, req, a, s[2], n == 4 ? s[3] : NULL);
        else
            fail(a, 404, 404, "HTTP 404 Not Found");
    } else if (n >= 1 && strcmp(s[0], "subjects") == 0) {
        if (n == 1 && get)
            list_subjects(reg, req, a);
        else if (n == 2 && post)
            lookup(reg, req, a, s[1]);
        else if (n == 2 && del)
            delete_subject(reg, req, a, s[1]);
        else if (n == 3 && strcmp(s[2], "versions") == 0 && get)
            list_versions(reg, req, a, s[1]);
        else if (n == 3 && strcmp(s[2], "versions") == 0 && post)
            register_schema(reg, req, a, s[1]);
        else if ((n == 4 || n == 5) && strcmp(s[2], "versions") == 0 && get)
            get_version(reg, req, a, s[1], s[3], n == 5 ? s[4] : NULL);
        else if (n == 4 && strcmp(s[2], "versions") == 0 && del)
            delete_version(reg, req, a, s[1], s[3]);
        else
            fail(a, n <= 5 ? 405 : 404, n <= 5 ? 405 : 404, "HTTP %s",
                 n <= 5 ? "405 Method Not Allowed" : "404 Not Found");
    } else if (n >= 3 && strcmp(s[0], "compatibility") == 0 && strcmp(s[1], "subjects") == 0 &&
               post && (n == 4 || n == 5) && strcmp(s[3], "versions") == 0) {
        check_compatibility(reg, req, a, s[2], n == 5 ? s[4] : NULL);
    } else if (n >= 1 && n <= 2 && strcmp(s[0], "config") == 0 && (get || put || del)) {
        config(reg, req, a, n == 2 ? s[1] : NULL);
    } else if (n >= 1 && n <= 2 && strcmp(s[0], "mode") == 0 && (get || put || del)) {
        mode(reg, req, a, n == 2 ? s[1] : NULL);
    } else {
        fail(a, 404, 404, "HTTP 404 Not Found");
    }
}

void rill__api_handle(rill_registry_t *reg, const reg_request_t *req, int *status, char **body)
{
    answer_t a = {0};
    bool write = is_write(req);
    if (write && !rill_registry_is_leader(reg)) {
        char url[256], why[512];
        if (req->forwarded || rill__election_leader_url(reg->election, url, sizeof url)) {
            fail(&a, 500, 50004, "No leader is known to take the write; try again shortly");
        } else {
            char path_query[2300];
            snprintf(path_query, sizeof path_query, "%s%s%s", req->path,
                     req->raw_query && req->raw_query[0] ? "?" : "",
                     req->raw_query ? req->raw_query : "");
            int st = 0;
            char *response = NULL;
            if (rill__forward(reg, url, req, path_query, &st, &response, why, sizeof why) == 0) {
                a.status = st;
                a.forward = response;
                /* Read your writes here too: the answer waits until this instance's reader has
                 * read what the leader wrote. */
                if (st == 200 && rill__reg_store_sync(reg->store, 5000))
                    rill_log(RILL_LOG_WARN, "registry",
                             "a forwarded write was answered before this instance read it back "
                             "(its reader is more than 5 s behind)");
            } else {
                rill__election_forget(reg->election);
                fail(&a, 500, 50003, "Error while forwarding the request to the leader at %s: %s",
                     url, why);
            }
        }
    } else if (write) {
        pthread_mutex_lock(&reg->write_lock);
        /* A leader decides on everything written before it: a new one may not have read its
         * predecessor's last writes yet (ids are max + 1). */
        if (rill__reg_store_sync(reg->store,
                                 (int)rill__reg_conf_int(reg->conf, REG_CONF_TIMEOUT_MS))) {
            fail(&a, 500, 50002,
                 "The store could not be read to its end before the write; try again shortly");
        } else {
            pthread_mutex_lock(&reg->lock);
            /* The state is read under reg->lock; write_record lets it go while it waits. */
            route(reg, req, &a);
            pthread_mutex_unlock(&reg->lock);
        }
        pthread_mutex_unlock(&reg->write_lock);
    } else {
        pthread_mutex_lock(&reg->lock);
        route(reg, req, &a);
        pthread_mutex_unlock(&reg->lock);
    }
    *status = a.status ? a.status : 500;
    if (a.forward)
        *body = a.forward;
    else if (a.raw)
        *body = a.raw;
    else {
        *body = a.body ? json_dumps(a.body, JSON_COMPACT | JSON_PRESERVE_ORDER | JSON_ENCODE_ANY)
                       : strdup("{\"error_code\":50001,\"message\":\"out of memory\"}");
        json_decref(a.body);
    }
}
