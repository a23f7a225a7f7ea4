/*
 * The JSON Schema serde: JSON values (as the json serde's, rill_json_*) in Confluent's JSON
 * Schema wire format: byte 0 the magic 0, bytes 1-4 the schema id (big-endian), then the JSON
 * text. Reading validates each document against its writer's schema, fetched from the registry
 * by id once and compiled once (schema/'s validator); writing validates against the serde's
 * schema, registered (or looked up) once per topic. A document that does not validate is
 * refused naming the schema id, the subject when known, the instance path and the keyword, so
 * the deserialization or production handler gets it (and the dead letter queue).
 *
 * Per record: an atomic load and a short list walk to find the compiled schema, the validation
 * (no allocation when warm), and the json serde's own work; no lock, no request.
 */
#include "avro_int.h"

#include <rill/schema.h>

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct compiled {
    int32_t id;
    rill_json_schema_t *schema;
    struct compiled *next;
} compiled_t;

/* Where one topic's key or value goes: its subject, id and the schema written with (the serde's,
 * or the subject's latest with use.latest.version). Made once, never freed before the serde. */
typedef struct target {
    char *topic;
    bool is_key;
    char *subject;
    int32_t id;
    rill_json_schema_t *latest; /* use.latest.version: owned; else NULL (the serde's writer) */
    struct target *next;
} target_t;

typedef struct {
    rill_registry_client_t *registry;
    bool auto_register, use_latest, is_key;
    char *topic; /* conf's, when the record's is not known */
    char *text;  /* the writer schema (NULL with use.latest.version) */
    rill_json_schema_t *writer;
    pthread_mutex_t lock;        /* the lists' growth */
    _Atomic(target_t *) targets; /* for writing: published whole, read without a lock */
    _Atomic(compiled_t *) ids;   /* for reading: likewise */
} js_state_t;

#define err rill__serde_err

static void js_destroy(void *state)
{
    js_state_t *s = state;
    for (compiled_t *c = atomic_load(&s->ids), *next; c; c = next) {
        next = c->next;
        rill_json_schema_destroy(c->schema);
        rill_free(c);
    }
    for (target_t *t = atomic_load(&s->targets), *next; t; t = next) {
        next = t->next;
        rill_json_schema_destroy(t->latest);
        rill_free(t->topic);
        rill_free(t->subject);
        rill_free(t);
    }
    rill_json_schema_destroy(s->writer);
    rill_registry_client_unref(s->registry);
    pthread_mutex_destroy(&s->lock);
    rill_free(s->topic);
    rill_free(s->text);
    rill_free(s);
}

/* The compiled schema of id: from the list, or fetched, compiled and added. */
static const rill_json_schema_t *schema_of(js_state_t *s, int32_t id, char *errstr,
                                           size_t errstr_size)
{
    for (compiled_t *c = atomic_load_explicit(&s->ids, memory_order_acquire); c; c = c->next)
        if (c->id == id)
            return c->schema;
    pthread_mutex_lock(&s->lock);
    const rill_json_schema_t *found = NULL;
    for (compiled_t *c = atomic_load(&s->ids); c && !found; c = c->next)
        if (c->id == id)
            found = c->schema;
    if (!found) {
        const char *text = NULL;
        char why[400];
        compiled_t *c = rill_calloc(1, sizeof *c);
        if (!c) {
            err(errstr, errstr_size, "json schema: out of memory");
        } else if (rill_registry_client_schema_of_type(s->registry, id, "JSON", &text, why,
                                                       sizeof why)) {
            err(errstr, errstr_size, "json schema: schema id %d: %s", id, why);
            rill_free(c);
        } else if (!(c->schema = rill_json_schema_new(text, strlen(text), why, sizeof why))) {
            err(errstr, errstr_size, "json schema: schema id %d does not compile: %s", id, why);
            rill_free(c);
        } else {
            c->id = id;
            c->next = atomic_load(&s->ids);
            atomic_store_explicit(&s->ids, c, memory_order_release);
            found = c->schema;
        }
    }
    pthread_mutex_unlock(&s->lock);
    return found;
}

static int js_deserialize(void *state, rill_buf_t bytes, rill_arena_t *arena, rill_buf_t *value,
                          char *errstr, size_t errstr_size)
{
    js_state_t *s = state;
    if (!bytes.data)
        return 0; /* null */
    const uint8_t *b = bytes.data;
    int32_t id;
    if (wire_header_read("json schema", bytes, &id, errstr, errstr_size))
        return RILL_ESERDE;
    const rill_json_schema_t *schema = schema_of(s, id, errstr, errstr_size);
    if (!schema)
        return RILL_ESERDE;
    char why[400];
    int rc = rill_json_schema_validate(schema, b + RILL__WIRE_HEADER_SIZE,
                                       bytes.len - RILL__WIRE_HEADER_SIZE, why, sizeof why);
    if (rc)
        return err(errstr, errstr_size, "json schema: schema id %d: %s", id, why), rc;
    return rill_json_parse(arena, b + RILL__WIRE_HEADER_SIZE, bytes.len - RILL__WIRE_HEADER_SIZE,
                           value, errstr, errstr_size);
}

static const target_t *find_target(const target_t *t, const char *topic, bool is_key)
{
    for (; t; t = t->next)
        if (t->is_key == is_key && (t->topic == topic || strcmp(t->topic, topic) == 0))
            return t;
    return NULL;
}

/* Where topic's key or value goes: found, or asked of the registry once and added. */
static const target_t *target_of(js_state_t *s, const char *topic, bool is_key, char *errstr,
                                 size_t errstr_size)
{
    if (!topic) {
        err(errstr, errstr_size,
            "json schema serializer: no topic to name the subject after (set \"topic\")");
        return NULL;
    }
    const target_t *found =
        find_target(atomic_load_explicit(&s->targets, memory_order_acquire), topic, is_key);
    if (found)
        return found;
    pthread_mutex_lock(&s->lock);
    if (!(found = find_target(atomic_load(&s->targets), topic, is_key))) {
        target_t *t = rill_calloc(1, sizeof *t);
        char why[400];
        int rc = t && (t->topic = rill_strdup(topic)) ? 0 : RILL_ENOMEM;
        size_t n = strlen(topic) + 7;
        if (!rc && !(t->subject = rill_malloc(n)))
            rc = RILL_ENOMEM;
        if (rc) {
            snprintf(why, sizeof why, "out of memory");
        } else {
            snprintf(t->subject, n, "%s-%s", topic, is_key ? "key" : "value");
            t->is_key = is_key;
            if (s->use_latest) {
                const char *text = NULL;
                rc = rill_registry_client_latest(s->registry, t->subject, &t->id, NULL, &text, why,
                                                 sizeof why);
                if (!rc && !(t->latest = rill_json_schema_new(text, strlen(text), why, sizeof why)))
                    rc = RILL_ESERDE;
            } else {
                rc = s->auto_register
                         ? rill_registry_client_register_type(s->registry, t->subject, "JSON",
                                                              s->text, &t->id, why, sizeof why)
                         : rill_registry_client_lookup_type(s->registry, t->subject, "JSON",
                                                            s->text, &t->id, NULL, why, sizeof why);
            }
        }
        if (rc) {
            err(errstr, errstr_size, "json schema serializer: subject %s-%s: %s", topic,
                is_key ? "key" : "value", why);
            if (t) {
                rill_json_schema_destroy(t->latest);
                rill_free(t->topic);
                rill_free(t->subject);
                rill_free(t);
            }
        } else {
            t->next = atomic_load(&s->targets);
            atomic_store_explicit(&s->targets, t, memory_order_release);
            found = t;
        }
    }
    pthread_mutex_unlock(&s->lock);
    return found;
}

static int js_serialize_ctx(void *state, rill_serde_ctx_t *ctx, rill_buf_t value, rill_bytes_t *out,
                            bool *is_null, char *errstr, size_t errstr_size)
{
    js_state_t *s = state;
    if (!value.data) {
        *is_null = true;
        return 0;
    }
    if (!s->writer && !s->use_latest)
        return err(errstr, errstr_size,
                   "json schema serializer: no schema to write with (set \"schema\", or "
                   "use.latest.version=true)"),
               RILL_ESERDE;
    const target_t *t = target_of(s, ctx && ctx->topic ? ctx->topic : s->topic,
                                  ctx ? ctx->is_key : s->is_key, errstr, errstr_size);
    if (!t)
        return RILL_ESERDE;
    int32_t id = t->id;
    /* The JSON text after 5 bytes of header: written, then moved up once. */
    bool null = false;
    int rc;
    if ((rc = rill_serde_serialize(rill_serde_json(), value, out, &null, errstr, errstr_size)))
        return rc;
    char why[400];
    if ((rc = rill_json_schema_validate(t->latest ? t->latest : s->writer, out->data, out->len, why,
                                        sizeof why)))
        return err(errstr, errstr_size, "json schema serializer: subject %s (schema id %d): %s",
                   t->subject, id, why),
               rc;
    size_t len = out->len;
    uint8_t head[RILL__WIRE_HEADER_SIZE];
    wire_header_write(head, id);
    if ((rc = rill_bytes_append(out, head, sizeof head)))
        return rc;
    memmove(out->data + sizeof head, out->data, len);
    memcpy(out->data, head, sizeof head);
    return 0;
}

static int js_serialize(void *state, rill_buf_t value, rill_bytes_t *out, bool *is_null,
                        char *errstr, size_t errstr_size)
{
    return js_serialize_ctx(state, NULL, value, out, is_null, errstr, errstr_size);
}

static const rill_serde_ops js_ops = {.name = "json-schema",
                                      .serialize = js_serialize,
                                      .deserialize = js_deserialize,
                                      .destroy = js_destroy};

bool rill__serde_is_json_schema(const rill_serde_t *serde)
{
    return rill__serde_ops_of(serde) == &js_ops;
}
static const rill_serde_ctx_ops js_ctx_ops = {.serialize = js_serialize_ctx};

rill_serde_t *rill_serde_json_schema_new(const char *const *conf, rill_registry_client_t *registry,
                                         char *errstr, size_t errstr_size)
{
    js_state_t *s = rill_calloc(1, sizeof *s);
    if (!s) {
        err(errstr, errstr_size, "json schema serde: out of memory");
        return NULL;
    }
    pthread_mutex_init(&s->lock, NULL);
    atomic_init(&s->targets, NULL);
    atomic_init(&s->ids, NULL);
    rill__registry_serde_conf_t c;
    int rc = rill__registry_serde_conf("json schema serde", conf, false, &c, errstr, errstr_size);
    if (!rc) {
        s->auto_register = c.auto_register;
        s->use_latest = c.use_latest;
        s->is_key = c.is_key;
        if ((c.topic && !(s->topic = rill_strdup(c.topic))) ||
            (c.schema && !(s->text = rill_strdup(c.schema))))
            rc = RILL_ENOMEM;
    }
    char why[400];
    if (!rc && c.schema &&
        !(s->writer = rill_json_schema_new(c.schema, strlen(c.schema), why, sizeof why))) {
        err(errstr, errstr_size, "json schema serde: schema: %s", why);
        rc = RILL_ECONFIG;
    }
    if (!rc && !(s->registry = rill__registry_serde_client("json schema serde", &c, registry,
                                                           errstr, errstr_size)))
        rc = RILL_ECONFIG;
    rill_serde_t *serde = rc ? NULL : rill_serde_new_ctx(&js_ops, &js_ctx_ops, s);
    if (!serde) {
        if (!rc)
            err(errstr, errstr_size, "json schema serde: out of memory");
        js_destroy(s);
    }
    return serde;
}
