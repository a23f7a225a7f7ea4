/*
 * Upcasting: a serde over an inner one that reads every version of a schema and hands
 * processors the current one (rill_serde_upcasting in <rill/serde.h>, docs/schemas.md).
 *
 * Per record it finds the record's version, lets the inner serde decode the bytes, then runs the
 * upcasters from that version up to the current one. With a registry the version is the writer
 * schema's version in its subject: the schema id is read from the Confluent wire header and
 * looked up in a small table of atomics (id and version packed in one word, filled by
 * compare-and-swap on the first record of each id), so a known id costs no lock and no request;
 * only a new id asks the registry client (one request per id and process).
 */
#include "avro_int.h"

#include <limits.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>

#define set_err     rill__serde_err
#define CACHE_SLOTS 64 /* schema ids remembered without a lock; more are asked of the client */

typedef struct {
    rill_serde_t *inner;
    int32_t current, oldest;
    rill_upcaster_t *by_from; /* [v] maps version v to v + 1, for oldest <= v < current */
    rill_registry_client_t *registry;
    char *subject;
    char *header;
    size_t header_len;
    int32_t default_version;
    rill_version_fn version_of;
    void *version_ud;
    /* The registry's answers: (id << 32 | version), 0 = empty; versions are >= 1. Valid for the
     * topic first read (its name's pointer, and a compare when another pointer comes). */
    _Atomic uint64_t ids[CACHE_SLOTS];
    const char *_Atomic cache_topic;
    bool cache_is_key;
    pthread_mutex_t first_lock; /* taken until cache_topic is set */
} upcast_t;

static size_t slot_of(int32_t id)
{
    return ((uint32_t)id * 2654435761u) % CACHE_SLOTS;
}

static int32_t cached_version(upcast_t *u, int32_t id)
{
    size_t s = slot_of(id);
    for (size_t i = 0; i < CACHE_SLOTS; i++) {
        uint64_t e = atomic_load_explicit(&u->ids[(s + i) % CACHE_SLOTS], memory_order_acquire);
        if (!e)
            return 0;
        if ((int32_t)(uint32_t)(e >> 32) == id)
            return (int32_t)(uint32_t)e;
    }
    return 0;
}

static void cache_version(upcast_t *u, int32_t id, int32_t version)
{
    uint64_t want = (uint64_t)(uint32_t)id << 32 | (uint32_t)version;
    size_t s = slot_of(id);
    for (size_t i = 0; i < CACHE_SLOTS; i++) {
        _Atomic uint64_t *slot = &u->ids[(s + i) % CACHE_SLOTS];
        uint64_t e = 0;
        if (atomic_compare_exchange_strong_explicit(slot, &e, want, memory_order_release,
                                                    memory_order_acquire) ||
            (int32_t)(uint32_t)(e >> 32) == id)
            return;
    }
}

/* True when the cache serves ctx's topic (the first one this serde read, by pointer or name). */
static bool cache_serves(upcast_t *u, const rill_serde_ctx_t *ctx)
{
    if (u->subject)
        return true;
    const char *topic = ctx ? ctx->topic : NULL;
    if (!topic)
        return false;
    const char *first = atomic_load_explicit(&u->cache_topic, memory_order_acquire);
    if (!first) { /* the first record: once per serde */
        pthread_mutex_lock(&u->first_lock);
        if (!(first = atomic_load_explicit(&u->cache_topic, memory_order_acquire))) {
            u->cache_is_key = ctx->is_key; /* written before the pointer is published */
            atomic_store_explicit(&u->cache_topic, topic, memory_order_release);
            first = topic;
        }
        pthread_mutex_unlock(&u->first_lock);
    }
    return u->cache_is_key == ctx->is_key && (first == topic || !strcmp(first, topic));
}

static int version_from_registry(upcast_t *u, const rill_serde_ctx_t *ctx, rill_buf_t bytes,
                                 int32_t *version, char *errstr, size_t errstr_size)
{
    int32_t id;
    if (wire_header_read(NULL, bytes, &id, errstr, errstr_size))
        return RILL_ESERDE;
    bool cacheable = cache_serves(u, ctx);
    if (cacheable && (*version = cached_version(u, id)) > 0)
        return 0;
    char subject[512];
    if (u->subject)
        snprintf(subject, sizeof subject, "%s", u->subject);
    else if (ctx && ctx->topic)
        snprintf(subject, sizeof subject, "%s-%s", ctx->topic, ctx->is_key ? "key" : "value");
    else
        return set_err(errstr, errstr_size,
                       "schema id %d: no subject to find its version in (set subject, or read "
                       "the serde from a topic)",
                       id),
               RILL_ESERDE;
    char why[256] = "";
    int rc = rill_registry_client_version_of(u->registry, subject, id, version, why, sizeof why);
    if (rc)
        return set_err(errstr, errstr_size, "schema id %d: no version in subject %s (%s)", id,
                       subject, why),
               RILL_ESERDE;
    if (*version < 1)
        return set_err(errstr, errstr_size, "schema id %d: version %d in subject %s", id, *version,
                       subject),
               RILL_ESERDE;
    if (cacheable)
        cache_version(u, id, *version);
    return 0;
}

static int version_from_header(upcast_t *u, const rill_serde_ctx_t *ctx, int32_t *version,
                               char *errstr, size_t errstr_size)
{
    const rill_headers_t *hs = ctx ? ctx->headers : NULL;
    size_t n = rill_headers_count(hs);
    const rill_header_t *found = NULL;
    for (size_t i = 0; i < n; i++) { /* the last one counts, as Kafka's lastHeader */
        const rill_header_t *h = rill_headers_at(hs, i);
        if (!strncmp(h->name, u->header, u->header_len) && !h->name[u->header_len])
            found = h;
    }
    if (!found) {
        if (u->default_version)
            return *version = u->default_version, 0;
        return set_err(errstr, errstr_size, "no header %s", u->header), RILL_ESERDE;
    }
    int64_t v = 0;
    const char *s = found->value.data;
    size_t len = found->value.len;
    for (size_t i = 0; i < len && v <= INT32_MAX; i++) {
        if (s[i] < '0' || s[i] > '9') {
            v = -1;
            break;
        }
        v = v * 10 + (s[i] - '0');
    }
    if (!s || !len || v < 1 || v > INT32_MAX)
        return set_err(errstr, errstr_size, "header %s: \"%.*s\" is not a version (1, 2, ...)",
                       u->header, (int)(len < 40 ? len : 40), s ? s : ""),
               RILL_ESERDE;
    *version = (int32_t)v;
    return 0;
}

static int up_deserialize_ctx(void *state, const rill_serde_ctx_t *ctx, rill_buf_t bytes,
                              rill_arena_t *arena, rill_buf_t *value, char *errstr,
                              size_t errstr_size)
{
    upcast_t *u = state;
    if (!bytes.data) /* a tombstone has no version */
        return rill_serde_deserialize_ctx(u->inner, ctx, bytes, arena, value, errstr, errstr_size);
    const char *topic = ctx && ctx->topic ? ctx->topic : "(no topic)";
    char why[384] = "";
    int32_t v = 0;
    int rc = u->registry ? version_from_registry(u, ctx, bytes, &v, why, sizeof why)
             : u->header ? version_from_header(u, ctx, &v, why, sizeof why)
                         : u->version_of(u->version_ud, ctx, bytes, &v, why, sizeof why);
    if (rc)
        return set_err(errstr, errstr_size, "upcasting (topic %s): %s", topic,
                       why[0] ? why : rill_err_name(rc)),
               RILL_ESERDE;
    if (v > u->current)
        return set_err(errstr, errstr_size,
                       "upcasting (topic %s): written with version %d, newer than this reader's "
                       "%d",
                       topic, v, u->current),
               RILL_ESERDE;
    if (v < u->oldest)
        return set_err(errstr, errstr_size,
                       "upcasting (topic %s): version %d has no upcaster (the oldest is from %d)",
                       topic, v, u->oldest),
               RILL_ESERDE;
    if ((rc = rill_serde_deserialize_ctx(u->inner, ctx, bytes, arena, value, errstr, errstr_size)))
        return rc;
    for (; v < u->current; v++) {
        const rill_upcaster_t *up = &u->by_from[v];
        rill_buf_t out = {0};
        why[0] = 0;
        if ((rc = up->fn(up->ud, arena, *value, &out, why, sizeof why))) {
            *value = (rill_buf_t){0};
            return set_err(errstr, errstr_size, "upcasting (topic %s) from version %d to %d: %s",
                           topic, v, v + 1, why[0] ? why : rill_err_name(rc)),
                   RILL_ESERDE;
        }
        *value = out;
    }
    return 0;
}

static int up_deserialize(void *state, rill_buf_t bytes, rill_arena_t *arena, rill_buf_t *value,
                          char *errstr, size_t errstr_size)
{
    return up_deserialize_ctx(state, NULL, bytes, arena, value, errstr, errstr_size);
}

static int up_serialize_ctx(void *state, rill_serde_ctx_t *ctx, rill_buf_t value, rill_bytes_t *out,
                            bool *is_null, char *errstr, size_t errstr_size)
{
    upcast_t *u = state;
    return rill_serde_serialize_ctx(u->inner, ctx, value, out, is_null, errstr, errstr_size);
}

static int up_serialize(void *state, rill_buf_t value, rill_bytes_t *out, bool *is_null,
                        char *errstr, size_t errstr_size)
{
    return up_serialize_ctx(state, NULL, value, out, is_null, errstr, errstr_size);
}

static void up_destroy(void *state)
{
    upcast_t *u = state;
    rill_serde_unref(u->inner);
    rill_registry_client_unref(u->registry);
    rill_free(u->by_from);
    rill_free(u->subject);
    rill_free(u->header);
    pthread_mutex_destroy(&u->first_lock);
    rill_free(u);
}

static const rill_serde_ops up_ops = {.name = "upcasting",
                                      .serialize = up_serialize,
                                      .deserialize = up_deserialize,
                                      .destroy = up_destroy};
static const rill_serde_ctx_ops up_ctx_ops = {.serialize = up_serialize_ctx,
                                              .deserialize = up_deserialize_ctx};

/* Checks opts; fills u's chain. 0 or RILL_EINVAL naming the culprit. */
static int chain_of(upcast_t *u, const rill_upcast_opts_t *o, char *errstr, size_t errstr_size)
{
    int sources = !!o->registry + !!o->version_header + !!o->version_of;
    if (sources != 1)
        return set_err(errstr, errstr_size,
                       "upcasting: set exactly one of registry, version_header and version_of "
                       "(%d set)",
                       sources),
               RILL_EINVAL;
    if (o->current < 1)
        return set_err(errstr, errstr_size, "upcasting: current version %d (must be 1 or more)",
                       o->current),
               RILL_EINVAL;
    if (o->default_version < 0 || o->default_version > o->current)
        return set_err(errstr, errstr_size, "upcasting: default_version %d not in 0..%d",
                       o->default_version, o->current),
               RILL_EINVAL;
    if (!(u->by_from = rill_calloc((size_t)o->current, sizeof *u->by_from)))
        return RILL_ENOMEM;
    u->oldest = o->current;
    for (size_t i = 0; i < o->upcaster_count; i++) {
        const rill_upcaster_t *up = &o->upcasters[i];
        if (up->from < 1 || up->from >= o->current || !up->fn)
            return set_err(errstr, errstr_size,
                           "upcasting: upcaster %zu maps from version %d (must be 1..%d, with a "
                           "function)",
                           i, up->from, o->current - 1),
                   RILL_EINVAL;
        if (u->by_from[up->from].fn)
            return set_err(errstr, errstr_size, "upcasting: two upcasters from version %d",
                           up->from),
                   RILL_EINVAL;
        u->by_from[up->from] = *up;
        if (up->from < u->oldest)
            u->oldest = up->from;
    }
    for (int32_t v = u->oldest; v < o->current; v++)
        if (!u->by_from[v].fn)
            return set_err(errstr, errstr_size,
                           "upcasting: no upcaster from version %d to %d (the chain from %d to "
                           "%d has a gap)",
                           v, v + 1, u->oldest, o->current),
                   RILL_EINVAL;
    if (o->default_version && o->default_version < u->oldest)
        return set_err(errstr, errstr_size,
                       "upcasting: default_version %d has no upcaster (the oldest is from %d)",
                       o->default_version, u->oldest),
               RILL_EINVAL;
    return 0;
}

rill_serde_t *rill_serde_upcasting(rill_serde_t *inner, const rill_upcast_opts_t *opts,
                                   char *errstr, size_t errstr_size)
{
    if (!inner || !opts) {
        set_err(errstr, errstr_size, "upcasting: no %s", inner ? "options" : "inner serde");
        return NULL;
    }
    upcast_t *u = rill_calloc(1, sizeof *u);
    if (!u) {
        set_err(errstr, errstr_size, "upcasting: out of memory");
        return NULL;
    }
    pthread_mutex_init(&u->first_lock, NULL);
    int rc = chain_of(u, opts, errstr, errstr_size);
    u->inner = rill_serde_ref(inner);
    u->current = opts->current;
    u->registry = rill_registry_client_ref(opts->registry);
    u->default_version = opts->default_version;
    u->version_of = opts->version_of;
    u->version_ud = opts->version_ud;
    if (!rc && opts->subject && !(u->subject = rill_strdup(opts->subject)))
        rc = RILL_ENOMEM;
    if (!rc && opts->version_header) {
        if (!(u->header = rill_strdup(opts->version_header)))
            rc = RILL_ENOMEM;
        else
            u->header_len = strlen(u->header);
    }
    rill_serde_t *serde = rc ? NULL : rill_serde_new_ctx(&up_ops, &up_ctx_ops, u);
    if (!serde) {
        if (rc == RILL_ENOMEM || !rc)
            set_err(errstr, errstr_size, "upcasting: out of memory");
        up_destroy(u);
    }
    return serde;
}
