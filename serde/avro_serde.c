/*
 * The Avro serde (rill_serde_avro_new): values in Confluent's wire format (magic byte 0, the
 * 4-byte big-endian schema id, the Avro body), schema ids found through the registry client with
 * Confluent's subject name strategies, auto.register.schemas and use.latest.version, and values
 * read with a reader schema when one is configured.
 *
 * The registry is asked once per schema: ids by schema (serializing) and schemas by id
 * (deserializing) are kept for the serde's life in lists that only grow, so a found entry is
 * read without a lock; the last one used sits in an atomic slot, one load per record.
 */
#include "avro_int.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef enum { STRATEGY_TOPIC, STRATEGY_RECORD, STRATEGY_TOPIC_RECORD } strategy_t;

/* A schema known by id: made once, never freed before the serde, so a reader holding one needs
 * no lock. The lists of entries only grow, by the head under the serde's lock, and an entry is
 * published whole (a release store of the head), so finding one takes no lock (lookup()). */
typedef struct id_entry {
    int32_t id;
    rill_avro_codec_t *schema;
    char *subject;        /* for error messages; may be NULL */
    avro_resolver_t *res; /* reading with a reader schema of another text: the plan */
    avro_plan_t *plan;
    char *plan_err; /* the writer schema cannot be read with the reader's: why */
    struct id_entry *next;
} id_entry_t;

typedef struct {
    rill_registry_client_t *registry;
    bool auto_register, use_latest, is_key;
    strategy_t strategy;
    char *topic;
    rill_avro_codec_t *writer;   /* may be NULL until use.latest.version fetches it */
    rill_avro_codec_t *reader;   /* reader.schema: values are read as this schema, or NULL */
    atomic_int writer_id;        /* -1 until known */
    pthread_mutex_t lock;        /* adding to the lists, and the first use of writer */
    _Atomic(id_entry_t *) by_id; /* read by deserialize */
    /* Schemas other than the writer's that serialize met (their id found in our subject), each
     * referenced: an object kept alive cannot be freed and its address given to another. */
    _Atomic(id_entry_t *) by_schema;
} avro_state_t;

static void entries_free(id_entry_t *e)
{
    while (e) {
        id_entry_t *next = e->next;
        rill_avro_codec_unref(e->schema);
        rill__avro_resolver_free(e->res);
        rill_free(e->plan_err);
        rill_free(e->subject);
        rill_free(e);
        e = next;
    }
}

static void avro_destroy(void *p)
{
    avro_state_t *s = p;
    if (!s)
        return;
    entries_free(atomic_load_explicit(&s->by_id, memory_order_relaxed));
    entries_free(atomic_load_explicit(&s->by_schema, memory_order_relaxed));
    rill_avro_codec_unref(s->writer);
    rill_avro_codec_unref(s->reader);
    rill_registry_client_unref(s->registry);
    rill_free(s->topic);
    pthread_mutex_destroy(&s->lock);
    rill_free(s);
}

/* The entry of list with this id, or this schema object when schema is not NULL; no lock. The
 * newest entry comes first (a topic's current schema, once it is met), and a read writes
 * nothing, so threads that share the serde share its cache lines read-only. */
static id_entry_t *lookup(_Atomic(id_entry_t *) *list, int32_t id, const rill_avro_codec_t *schema)
{
    id_entry_t *e = atomic_load_explicit(list, memory_order_acquire);
    while (e && (schema ? e->schema != schema : e->id != id))
        e = e->next;
    return e;
}

/* Adds e, complete, at the head of list; under the serde's lock. */
static void publish(_Atomic(id_entry_t *) *list, id_entry_t *e)
{
    e->next = atomic_load_explicit(list, memory_order_relaxed);
    atomic_store_explicit(list, e, memory_order_release);
}

/* The subject a schema goes under, by the strategy; NULL when the topic is needed and unknown. */
static char *subject_of(const avro_state_t *s, const rill_avro_codec_t *schema)
{
    const char *name = schema ? rill_avro_codec_name(schema) : NULL;
    const char *suffix = s->is_key ? "-key" : "-value";
    char buf[512];
    switch (s->strategy) {
    case STRATEGY_TOPIC:
        if (!s->topic)
            return NULL;
        snprintf(buf, sizeof buf, "%s%s", s->topic, suffix);
        break;
    case STRATEGY_RECORD:
        if (!name)
            return NULL;
        snprintf(buf, sizeof buf, "%s", name);
        break;
    case STRATEGY_TOPIC_RECORD:
        if (!s->topic || !name)
            return NULL;
        snprintf(buf, sizeof buf, "%s-%s", s->topic, name);
        break;
    }
    return rill_strdup(buf);
}

/* Finds the id of schema in our subject: registers it or looks it up, as configured. */
static int id_for(avro_state_t *s, const rill_avro_codec_t *schema, int32_t *id, char *errstr,
                  size_t errstr_size)
{
    char *subject = subject_of(s, schema);
    if (!subject) {
        rill__serde_err(
            errstr, errstr_size,
            "avro serializer: the subject name strategy needs the topic (set \"topic\" in "
            "the serde's config)");
        return RILL_ESERDE;
    }
    char why[256] = "";
    int rc = s->auto_register ? rill_registry_client_register(s->registry, subject, schema->text,
                                                              id, why, sizeof why)
                              : rill_registry_client_lookup(s->registry, subject, schema->text, id,
                                                            NULL, why, sizeof why);
    if (rc)
        rill__serde_err(errstr, errstr_size, "avro serializer: subject %s: %s", subject, why);
    rill_free(subject);
    return rc ? RILL_ESERDE : 0;
}

/* The writer schema and its id, found on first use (a registry request) and then read with one
 * atomic load. */
static int writer_id(avro_state_t *s, int32_t *id, char *errstr, size_t errstr_size)
{
    int known = atomic_load_explicit(&s->writer_id, memory_order_acquire);
    if (known >= 0) {
        *id = known;
        return 0;
    }
    int rc = 0;
    pthread_mutex_lock(&s->lock);
    if ((known = atomic_load_explicit(&s->writer_id, memory_order_relaxed)) >= 0) {
        *id = known;
    } else if (s->use_latest) {
        char *subject = subject_of(s, s->writer);
        const char *text;
        char why[256] = "";
        int32_t got;
        rc = subject ? rill_registry_client_latest(s->registry, subject, &got, NULL, &text, why,
                                                   sizeof why)
                     : RILL_ESERDE;
        if (!subject)
            rill__serde_err(errstr, errstr_size,
                            "avro serializer: use.latest.version needs the subject "
                            "(set \"topic\", or \"schema\" for the record strategy)");
        else if (rc)
            rill__serde_err(errstr, errstr_size, "avro serializer: latest version of %s: %s",
                            subject, why);
        if (!rc && !s->writer &&
            !(s->writer = rill_avro_codec_new(text, strlen(text), why, sizeof why))) {
            rill__serde_err(errstr, errstr_size, "avro serializer: latest schema of %s (id %d): %s",
                            subject, got, why);
            rc = RILL_ESERDE;
        }
        rill_free(subject);
        if (!rc) {
            *id = got;
            atomic_store_explicit(&s->writer_id, got, memory_order_release);
        }
    } else if (!s->writer) {
        rill__serde_err(errstr, errstr_size, "avro serializer: no writer schema (set \"schema\")");
        rc = RILL_ESERDE;
    } else if (!(rc = id_for(s, s->writer, id, errstr, errstr_size))) {
        atomic_store_explicit(&s->writer_id, *id, memory_order_release);
    }
    pthread_mutex_unlock(&s->lock);
    return rc ? RILL_ESERDE : 0;
}

/*
 * The id of a value's schema when it is not the writer's object (a value read by another serde,
 * or by this one from a schema id): the writer's id when the texts are the same, else the
 * schema's own id in our subject. Found once per schema object, then from the list (no lock).
 */
static int other_id(avro_state_t *s, const rill_avro_codec_t *schema, int32_t *id, char *errstr,
                    size_t errstr_size)
{
    id_entry_t *e = lookup(&s->by_schema, 0, schema);
    if (e) {
        *id = e->id;
        return 0;
    }
    int32_t wid = -1;
    int rc = 0;
    if ((s->use_latest || s->writer) && (rc = writer_id(s, &wid, errstr, errstr_size)))
        return rc;
    bool same = s->writer && !strcmp(schema->text, s->writer->text);
    if (!same && s->use_latest) {
        rill__serde_err(errstr, errstr_size,
                        "avro serializer: value of schema %s is not the latest version's",
                        schema->root->fullname);
        return RILL_ESERDE;
    }
    pthread_mutex_lock(&s->lock);
    if (!(e = lookup(&s->by_schema, 0, schema))) {
        int32_t got = wid;
        if (same || !(rc = id_for(s, schema, &got, errstr, errstr_size))) {
            if ((e = rill_calloc(1, sizeof *e))) {
                e->id = got;
                e->schema = rill_avro_codec_ref((rill_avro_codec_t *)schema);
                publish(&s->by_schema, e);
            } else {
                rc = RILL_ENOMEM;
            }
        }
    }
    if (e)
        *id = e->id;
    pthread_mutex_unlock(&s->lock);
    return rc;
}

static int avro_serialize(void *state, rill_buf_t value, rill_bytes_t *out, bool *is_null,
                          char *errstr, size_t errstr_size)
{
    avro_state_t *s = state;
    if (!value.data) {
        *is_null = true;
        return 0;
    }
    if (value.len != AVRO_VALUE_LEN) {
        rill__serde_err(errstr, errstr_size,
                        "avro value must be a view made by rill_avro_record_new() or an Avro serde "
                        "(length %d), got length %zu",
                        AVRO_VALUE_LEN, value.len);
        return RILL_ESERDE;
    }
    const avro_doc_t *doc = value.data;
    if (doc->err) {
        rill__serde_err(errstr, errstr_size, "%s", doc->err);
        return RILL_ESERDE;
    }
    /* With use.latest.version the writer is set by the first use, under the lock: read it only
     * after writer_id() (its atomic load orders the read). */
    int32_t id;
    int rc = s->use_latest || doc->schema == s->writer ? writer_id(s, &id, errstr, errstr_size) : 0;
    if (!rc && doc->schema != s->writer)
        rc = other_id(s, doc->schema, &id, errstr, errstr_size);
    if (rc)
        return rc;
    uint8_t header[RILL__WIRE_HEADER_SIZE];
    wire_header_write(header, id);
    if ((rc = rill_bytes_append(out, header, sizeof header)))
        return rc;
    return rill__avro_encode(&doc->v, out, errstr, errstr_size);
}

/* The schema of id: from the list without a lock, else a registry request (once per id, under
 * the lock). */
static id_entry_t *schema_by_id(avro_state_t *s, int32_t id, char *errstr, size_t errstr_size)
{
    id_entry_t *e = lookup(&s->by_id, id, NULL);
    if (e)
        return e;
    pthread_mutex_lock(&s->lock);
    if (!(e = lookup(&s->by_id, id, NULL))) {
        const char *text;
        char why[256] = "";
        rill_avro_codec_t *schema = NULL;
        if (rill_registry_client_schema(s->registry, id, &text, why, sizeof why))
            rill__serde_err(errstr, errstr_size,
                            "avro: schema id %d: unknown to the registry at %s: %s", id,
                            rill__registry_url(s->registry), why);
        else if (s->writer && !strcmp(text, s->writer->text))
            /* Our own writer schema: the same object, so serializing a value read back needs no
             * lookup (and no string comparison) to find its id. */
            schema = rill_avro_codec_ref(s->writer);
        else if (!(schema = rill_avro_codec_new(text, strlen(text), why, sizeof why)))
            rill__serde_err(errstr, errstr_size, "avro: schema id %d: %s", id, why);
        if (schema && (e = rill_calloc(1, sizeof *e))) {
            e->id = id;
            e->schema = schema;
            e->subject = subject_of(s, schema);
            if (s->reader && strcmp(s->reader->text, schema->text) &&
                !(e->res = rill__avro_resolver_new(schema, s->reader, &e->plan, why, sizeof why)))
                e->plan_err = rill_strdup(why);
            publish(&s->by_id, e);
        } else if (schema) {
            rill_avro_codec_unref(schema);
            rill__serde_err(errstr, errstr_size, "avro: schema id %d: out of memory", id);
        }
    }
    pthread_mutex_unlock(&s->lock);
    return e;
}

/* Cold and out of line: wire_header_read() inlines only its two tests on the record path. */
__attribute__((cold, noinline)) void rill__wire_header_err(const char *who, rill_buf_t bytes,
                                                           char *errstr, size_t errstr_size)
{
    const char *sep = who ? ": " : "";
    if (bytes.len < RILL__WIRE_HEADER_SIZE)
        rill__serde_err(errstr, errstr_size,
                        "%s%s%zu bytes: too short for Confluent's wire format (magic byte 0 and a "
                        "4-byte schema id)",
                        who ? who : "", sep, bytes.len);
    else
        rill__serde_err(errstr, errstr_size,
                        "%s%sbyte 0: magic byte is 0x%02x, not 0 (not Confluent's wire format)",
                        who ? who : "", sep, ((const uint8_t *)bytes.data)[0]);
}

static int avro_deserialize(void *state, rill_buf_t bytes, rill_arena_t *arena, rill_buf_t *value,
                            char *errstr, size_t errstr_size)
{
    avro_state_t *s = state;
    if (!bytes.data)
        return 0;
    if (!arena) {
        rill__serde_err(errstr, errstr_size, "avro deserializer needs an arena");
        return RILL_EINVAL;
    }
    const uint8_t *p = bytes.data;
    int32_t id;
    if (wire_header_read("avro", bytes, &id, errstr, errstr_size))
        return RILL_ESERDE;
    id_entry_t *e = schema_by_id(s, id, errstr, errstr_size);
    if (!e)
        return RILL_ESERDE;
    avro_doc_t *doc = rill_arena_alloc(arena, sizeof *doc);
    if (!doc) {
        rill__serde_err(errstr, errstr_size, "avro: schema id %d: out of memory", id);
        return RILL_ENOMEM;
    }
    doc->schema = e->schema;
    doc->arena = arena;
    doc->err = NULL;
    int rc = rill__avro_decode(e->schema->root, p + RILL__WIRE_HEADER_SIZE, p + bytes.len,
                               RILL__WIRE_HEADER_SIZE, id, e->subject, arena, &doc->v, errstr,
                               errstr_size);
    if (rc)
        return rc;
    if (e->plan_err || e->plan) {
        const char *sub = e->subject;
        if (e->plan_err) {
            rill__serde_err(errstr, errstr_size,
                            "avro: schema id %d%s%s%s cannot be read with the reader schema %s: %s",
                            id, sub ? " (subject " : "", sub ? sub : "", sub ? ")" : "",
                            s->reader->root->fullname, e->plan_err);
            return RILL_ESERDE;
        }
        avro_doc_t *read = rill_arena_alloc(arena, sizeof *read);
        if (!read)
            return RILL_ENOMEM;
        *read = *doc;
        read->schema = s->reader;
        char why[400];
        if ((rc = rill__avro_project(e->plan, &doc->v, arena, &read->v, why, sizeof why))) {
            rill__serde_err(errstr, errstr_size, "avro: schema id %d%s%s%s read as %s: %s", id,
                            sub ? " (subject " : "", sub ? sub : "", sub ? ")" : "",
                            s->reader->root->fullname, why);
            return rc == RILL_ENOMEM ? RILL_ENOMEM : RILL_ESERDE;
        }
        doc = read;
    }
    *value = avro_view(doc);
    return 0;
}

static const rill_serde_ops avro_ops = {"avro", avro_serialize, avro_deserialize, avro_destroy};

bool rill__serde_is_avro(const rill_serde_t *serde)
{
    return rill__serde_ops_of(serde) == &avro_ops;
}

static int parse_strategy(const char *v, strategy_t *out)
{
    /* Confluent's Java class names end with the strategy's name. */
    const char *dot = strrchr(v, '.');
    const char *name = dot ? dot + 1 : v;
    if (!strcmp(name, "TopicNameStrategy"))
        *out = STRATEGY_TOPIC;
    else if (!strcmp(name, "RecordNameStrategy"))
        *out = STRATEGY_RECORD;
    else if (!strcmp(name, "TopicRecordNameStrategy"))
        *out = STRATEGY_TOPIC_RECORD;
    else
        return RILL_ECONFIG;
    return 0;
}

rill_serde_t *rill_serde_avro_new(const char *const *conf, rill_registry_client_t *registry,
                                  char *errstr, size_t errstr_size)
{
    avro_state_t *s = rill_calloc(1, sizeof *s);
    if (!s) {
        rill__serde_err(errstr, errstr_size, "avro serde: out of memory");
        return NULL;
    }
    pthread_mutex_init(&s->lock, NULL);
    atomic_init(&s->writer_id, -1);
    rill__registry_serde_conf_t c;
    int rc = rill__registry_serde_conf("avro serde", conf, true, &c, errstr, errstr_size);
    const char *schema = c.schema, *reader = c.reader_schema;
    if (!rc) {
        s->auto_register = c.auto_register;
        s->use_latest = c.use_latest;
        s->is_key = c.is_key;
        if (c.topic && !(s->topic = rill_strdup(c.topic)))
            rc = RILL_ENOMEM;
    }
    if (!rc && c.strategy && (rc = parse_strategy(c.strategy, &s->strategy)))
        rill__serde_err(errstr, errstr_size,
                        "avro serde: subject.name.strategy \"%s\" is not TopicNameStrategy, "
                        "RecordNameStrategy or TopicRecordNameStrategy",
                        c.strategy);
    if (!rc && schema) {
        char why[256];
        if (!(s->writer = rill_avro_codec_new(schema, strlen(schema), why, sizeof why))) {
            rill__serde_err(errstr, errstr_size, "avro serde: schema: %s", why);
            rc = RILL_ECONFIG;
        }
    }
    if (!rc && reader) {
        char why[256];
        if (!(s->reader = rill_avro_codec_new(reader, strlen(reader), why, sizeof why))) {
            rill__serde_err(errstr, errstr_size, "avro serde: reader.schema: %s", why);
            rc = RILL_ECONFIG;
        }
    }
    if (!rc && !(s->registry =
                     rill__registry_serde_client("avro serde", &c, registry, errstr, errstr_size)))
        rc = RILL_ECONFIG;
    rill_serde_t *serde = rc ? NULL : rill_serde_new(&avro_ops, s);
    if (!serde) {
        if (!rc)
            rill__serde_err(errstr, errstr_size, "avro serde: out of memory");
        avro_destroy(s);
    }
    return serde;
}

const rill_avro_codec_t *rill_serde_avro_codec(const rill_serde_t *serde)
{
    avro_state_t *s = rill__serde_state(serde, &avro_ops);
    if (!s)
        return NULL;
    if (s->use_latest) {
        int32_t id;
        char why[256];
        if (writer_id(s, &id, why, sizeof why))
            return NULL;
    }
    return s->writer;
}
