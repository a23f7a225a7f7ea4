/*
 * registry_int.h — the private parts of rill-registry (registry/): never included outside.
 *
 * How the files divide the work:
 *   config.c    the configuration keys (one table) and the properties file;
 *   state.c     what the registry knows (schemas by id, subjects and their versions, configs,
 *               modes), changed only by applying `_schemas` records, in Confluent's format;
 *   api.c       the REST API: a request (method, path, query, body) to a status and a JSON body,
 *               with no HTTP in it, so tests call it directly;
 *   http.c      the HTTP server (libmicrohttpd): bodies, basic auth, TLS, content types;
 *   store.c     the `_schemas` topic (librdkafka): created when missing, read by a thread of its
 *               own into the state, written by the leader, each write waited for until it is read
 *               back (so a reply is never ahead of the state);
 *   election.c  the leader election through a Kafka consumer group, and who the leader is;
 *   forward.c   a follower's write, forwarded to the leader (libcurl);
 *   registry.c  the lifecycle: new, start, stop, destroy.
 *
 * Threads: HTTP requests run on libmicrohttpd's threads, the store's reader and the election on
 * one thread each. reg->lock guards the state; reg->write_lock makes the leader's writes one at a
 * time (a write reads the state, decides, writes and waits for the read-back).
 */
#ifndef RILL_REGISTRY_INT_H
#define RILL_REGISTRY_INT_H

#include <rill/registry.h>

#include <jansson.h>
#include <pthread.h>
#include <stdatomic.h>

/* ---- configuration (config.c) ---- */

#define REG_CONF_KEYS(X)                                                                           \
    X(LISTENERS, "listeners", "http://127.0.0.1:8081",                                             \
      "the URL to serve: http or https, a host (loopback by default) and a port (0: any)")         \
    X(HOST_NAME, "host.name", "",                                                                  \
      "the host other instances reach this one at (default: the listener's host)")                 \
    X(BOOTSTRAP, "kafkastore.bootstrap.servers", "",                                               \
      "the Kafka cluster of the store (none: librdkafka's mock cluster, in memory)")               \
    X(TOPIC, "kafkastore.topic", "_schemas", "the compacted topic that holds everything")          \
    X(REPLICATION, "kafkastore.topic.replication.factor", "3",                                     \
      "the topic's replication factor when the registry creates it (at most the brokers)")         \
    X(TIMEOUT_MS, "kafkastore.timeout.ms", "10000",                                                \
      "how long a write waits to be stored and read back")                                         \
    X(INIT_TIMEOUT_MS, "kafkastore.init.timeout.ms", "60000",                                      \
      "how long start waits to create the topic and read it to its end")                           \
    X(GROUP_ID, "schema.registry.group.id", "schema-registry",                                     \
      "the consumer group in which instances elect their leader")                                  \
    X(ELIGIBLE, "leader.eligibility", "true", "whether this instance may become the leader")       \
    X(COMPATIBILITY, "schema.compatibility.level", "BACKWARD",                                     \
      "the global compatibility level until one is set through /config")                           \
    X(AUTH_METHOD, "authentication.method", "NONE", "NONE, or BASIC (HTTP basic auth)")            \
    X(USERS_FILE, "authentication.users.file", "",                                                 \
      "for BASIC: a file of \"user: password\" lines (Jetty's HashLoginService format)")           \
    X(SSL_CERT, "ssl.certificate.location", "",                                                    \
      "for an https listener: the server's certificate chain (PEM)")                               \
    X(SSL_KEY, "ssl.key.location", "", "for an https listener: the server's private key (PEM)")

enum {
#define REG_CONF_ENUM(id, name, def, doc) REG_CONF_##id,
    REG_CONF_KEYS(REG_CONF_ENUM)
#undef REG_CONF_ENUM
        REG_CONF_COUNT
};

struct rill_registry_conf {
    char *values[REG_CONF_COUNT];
    char **kafka; /* "key", "value" pairs passed to the Kafka clients */
    size_t nkafka;
};

/* Returns the value of key id (never NULL). */
const char *rill__reg_conf(const rill_registry_conf_t *conf, int id);
/* Returns the value of key id as an integer. */
long rill__reg_conf_int(const rill_registry_conf_t *conf, int id);

/* ---- state (state.c) ---- */

/* The compatibility levels, as /config names them. */
#define REG_LEVELS(X)                                                                              \
    X(NONE)                                                                                        \
    X(BACKWARD)                                                                                    \
    X(BACKWARD_TRANSITIVE)                                                                         \
    X(FORWARD)                                                                                     \
    X(FORWARD_TRANSITIVE)                                                                          \
    X(FULL)                                                                                        \
    X(FULL_TRANSITIVE)

/* The registry's knowledge. Every field is a jansson value owned by the state:
 *   schemas   "id" -> {"schema", "schemaType", "references"} (what /schemas/ids/{id} serves)
 *   identity  "<type>\n<references>\n<schema, compact>" -> id: the same schema, the same id
 *   subjects  subject -> [{"version", "id", "deleted"}...], by version
 *   config    subject -> {"compatibilityLevel", ...} ("" is the global one)
 *   mode      subject -> "READWRITE" | "READONLY" | "IMPORT" ("" is the global one) */
typedef struct {
    json_t *schemas;
    json_t *identity;
    json_t *subjects;
    json_t *config;
    json_t *mode;
    int max_id;
    int64_t records; /* records applied */
} reg_state_t;

/* Makes an empty state. 0 or RILL_ENOMEM. */
int rill__state_init(reg_state_t *st);
/* Frees what the state holds. */
void rill__state_free(reg_state_t *st);
/* Applies one `_schemas` record: key and value are its JSON texts (value NULL for a tombstone).
 * A record the registry does not know (another key type, bad JSON) is skipped; returns 0 when
 * applied, 1 when skipped (why in errstr). */
int rill__state_apply(reg_state_t *st, const void *key, size_t key_len, const void *value,
                      size_t value_len, char *errstr, size_t errstr_size);
/* Returns the identity key of a schema: a new string (free()). */
char *rill__state_identity(const char *type, json_t *references, const char *schema);
/* Returns the versions array of subject (borrowed), or NULL. */
json_t *rill__state_versions(const reg_state_t *st, const char *subject);
/* Returns the entry of version v of subject (borrowed), or NULL. deleted: count soft-deleted. */
json_t *rill__state_version(const reg_state_t *st, const char *subject, int v, bool deleted);
/* Returns the latest version entry of subject (borrowed), or NULL. */
json_t *rill__state_latest(const reg_state_t *st, const char *subject, bool deleted);
/* Returns schema id's entry (borrowed), or NULL. */
json_t *rill__state_schema(const reg_state_t *st, int id);
/* Returns whether any version (soft-deleted ones included when deleted) of any subject uses id. */
bool rill__state_id_used(const reg_state_t *st, int id, bool deleted);
/* Returns the compatibility level that applies to subject ("" for the global one). */
const char *rill__state_level(const reg_state_t *st, const char *subject, const char *fallback);
/* Returns the mode that applies to subject ("" for the global one). */
const char *rill__state_mode(const reg_state_t *st, const char *subject);

/* ---- the `_schemas` records (state.c) ---- */

/* Returns the key of version v of subject, JSON text, new (free()). */
char *rill__key_schema(const char *subject, int version);
/* Returns the key of a subject's (NULL: the global) config, mode, delete or clear record. */
char *rill__key_subject(const char *keytype, const char *subject);

/* ---- compatibility (compat.c) ---- */

/* Checks schema (type, text, references) against the schemas previous (an array of ids, oldest
 * first) as level asks: a non-transitive level against the last one only, a transitive one
 * against all, in the level's direction (BACKWARD: the new schema reads data of the old).
 * Returns 0 when compatible; 1 when not, with one message per problem appended to messages;
 * or a negative code (the schema does not parse) with the reason in messages. */
int rill__compat_check(const reg_state_t *st, const char *level, const char *type,
                       const char *schema, json_t *references, json_t *previous, json_t *messages);
/* Checks that schema is a valid schema of type (references resolved against st). 0, or
 * RILL_EINVAL with the reason in errstr. */
int rill__schema_validate(const reg_state_t *st, const char *type, const char *schema,
                          json_t *references, char *errstr, size_t errstr_size);
/* Returns schema in the form that decides identity (normalized when normalize): a new string
 * (free()), or NULL when it does not parse. */
char *rill__schema_canonical(const char *type, const char *schema, bool normalize);

/* ---- the Kafka store (store.c) ---- */

typedef struct reg_store reg_store_t;

/* Opens the store: the clients, the topic (created when missing) and its reader, which applies
 * every record to reg's state; returns once the reader has reached the topic's end. */
reg_store_t *rill__reg_store_open(rill_registry_t *reg, char *errstr, size_t errstr_size);
/* Writes one record (value NULL: a tombstone) and waits until the reader has applied it. 0, or
 * RILL_ETIMEDOUT / RILL_EKAFKA with the reason in errstr. Call with reg->write_lock and
 * reg->lock held: the wait lets reg->lock go (the reader takes it to apply the record), so the
 * state may have changed, by the reader only, when it returns. */
int rill__reg_store_write(reg_store_t *store, const char *key, const char *value, char *errstr,
                          size_t errstr_size);
/* Waits until the reader has applied everything in the topic now. 0 or RILL_ETIMEDOUT. */
int rill__reg_store_sync(reg_store_t *store, int timeout_ms);
/* Returns the bootstrap servers (borrowed). */
const char *rill__reg_store_bootstrap(const reg_store_t *store);
/* Returns whether the store runs on the mock cluster. */
bool rill__reg_store_embedded(const reg_store_t *store);
/* Returns the librdkafka configuration for a new client of the store (new; its owner destroys it
 * or hands it to rd_kafka_new). */
void *rill__reg_store_client_conf(const reg_store_t *store);
/* Closes the store. */
void rill__reg_store_close(reg_store_t *store);

/* ---- leader election (election.c) ---- */

typedef struct reg_election reg_election_t;

/* Joins the election (not when leader.eligibility is false). NULL with errstr on failure. */
reg_election_t *rill__election_start(rill_registry_t *reg, char *errstr, size_t errstr_size);
/* Returns whether this instance leads. @thread any */
bool rill__election_leader(reg_election_t *el);
/* Writes the leader's URL into url (""  when none is known). 0 or RILL_ENOENT. @thread any */
int rill__election_leader_url(reg_election_t *el, char *url, size_t size);
/* Forgets the leader's URL learned (a forward to it failed). @thread any */
void rill__election_forget(reg_election_t *el);
/* Leaves the election. */
void rill__election_stop(reg_election_t *el);

/* ---- the API (api.c) ---- */

/* A request: the method, the path (decoded), a query lookup, the body. */
typedef struct {
    const char *method;
    const char *path;
    const char *(*query)(void *ud, const char *name); /* NULL when absent */
    void *query_ud;
    const char *raw_query; /* the query as it came ("a=1&b=2"), for forwarding; may be "" */
    const char *body;
    size_t body_len;
    bool forwarded;            /* it came from a follower: never forward it again */
    const char *authorization; /* the request's Authorization header (forwarded as is), or NULL */
} reg_request_t;

/* Sends req to the leader at url (path_query: its path and query) and returns its status and
 * body (new, free()). 0, or RILL_EIO with the reason in errstr. (forward.c) */
int rill__forward(rill_registry_t *reg, const char *url, const reg_request_t *req,
                  const char *path_query, int *status, char **response, char *errstr,
                  size_t errstr_size);

/* Handles req: sets *status and *body (new JSON text, free()). */
void rill__api_handle(rill_registry_t *reg, const reg_request_t *req, int *status, char **body);

/* ---- HTTP (http.c) ---- */

typedef struct reg_http reg_http_t;

/* Serves reg's API at the listener; writes the URL it serves into url. */
reg_http_t *rill__http_start(rill_registry_t *reg, char *url, size_t url_size, char *errstr,
                             size_t errstr_size);
/* Stops serving. */
void rill__http_stop(reg_http_t *http);

/* ---- the registry (registry.c) ---- */

struct rill_registry {
    rill_registry_conf_t *conf;
    pthread_mutex_t lock; /* the state */
    pthread_mutex_t write_lock;
    reg_state_t state;
    reg_store_t *store;
    reg_election_t *election;
    reg_http_t *http;
    char url[256];
    char advertised[256]; /* the URL other instances forward to */
    atomic_bool started;
};

#endif
