/*
 * registry.h — rill-registry, a schema registry that speaks Confluent Schema Registry's REST API
 * and stores what it knows in a compacted Kafka topic (`_schemas`) in Confluent's record format,
 * so Confluent's serializers, tools and other registries interoperate with it.
 *
 * A registry is configured with string keys (Confluent's names where Confluent has one:
 * "listeners", "kafkastore.bootstrap.servers", "kafkastore.topic", "schema.compatibility.level",
 * "schema.registry.group.id", "leader.eligibility", "host.name"; `rill-registry --help` lists
 * them all). Without "kafkastore.bootstrap.servers" it runs on librdkafka's mock cluster, in
 * memory, as Rill apps do. Any number of instances may share one topic: they elect a leader
 * through a Kafka consumer group, the leader alone writes, and followers forward writes to it.
 *
 * Ownership: rill_registry_new() takes the conf over on success. Threads: the calls below may be
 * made from any thread; the registry serves HTTP on threads of its own.
 */
#ifndef RILL_REGISTRY_H
#define RILL_REGISTRY_H

#include <rill/rill.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct rill_registry_conf rill_registry_conf_t;
typedef struct rill_registry rill_registry_t;

/* Returns a new configuration with every key at its default, or NULL. */
RILL_EXTERN rill_registry_conf_t *rill_registry_conf_new(void);
/* Destroys conf. NULL is fine. */
RILL_EXTERN void rill_registry_conf_destroy(rill_registry_conf_t *conf);
/* Sets key to value (the value is checked; "kafkastore.<librdkafka key>" passes a key to the
 * registry's Kafka clients). Returns 0, or RILL_ECONFIG with the key named in errstr. */
RILL_EXTERN int rill_registry_conf_set(rill_registry_conf_t *conf, const char *key,
                                       const char *value, char *errstr, size_t errstr_size);
/* Sets every "key=value" line of the properties file at path ('#' and '!' start comments).
 * Returns 0, RILL_EIO or RILL_ECONFIG, naming the file, the line and the key in errstr. */
RILL_EXTERN int rill_registry_conf_load(rill_registry_conf_t *conf, const char *path, char *errstr,
                                        size_t errstr_size);
/* Writes the configuration keys, their defaults and what they do to out, one per line. */
RILL_EXTERN void rill_registry_conf_describe(void (*out)(void *ud, const char *line), void *ud);

/* Returns a new registry over conf (taken over on success), not started, or NULL with the
 * reason in errstr. */
RILL_EXTERN rill_registry_t *rill_registry_new(rill_registry_conf_t *conf, char *errstr,
                                               size_t errstr_size);
/* Starts the registry: creates the topic when it is missing, reads it to its end (logging its
 * progress), joins the leader election and serves HTTP. Returns 0, or a code with the reason in
 * errstr. */
RILL_EXTERN int rill_registry_start(rill_registry_t *reg, char *errstr, size_t errstr_size);
/* Returns the URL the registry serves ("http://127.0.0.1:8081"; with the port the system chose
 * when the listener asked for port 0), borrowed; "" before start. */
RILL_EXTERN const char *rill_registry_url(const rill_registry_t *reg);
/* Returns whether this instance is the leader (the one that writes). */
RILL_EXTERN bool rill_registry_is_leader(const rill_registry_t *reg);
/* Returns the Kafka bootstrap servers the registry stores in (the mock cluster's when embedded),
 * borrowed; "" before start. */
RILL_EXTERN const char *rill_registry_bootstrap_servers(const rill_registry_t *reg);
/* Stops serving and leaves the election; a stopped registry can only be destroyed. */
RILL_EXTERN void rill_registry_stop(rill_registry_t *reg);
/* Stops reg if it runs and frees it. NULL is fine. */
RILL_EXTERN void rill_registry_destroy(rill_registry_t *reg);

#ifdef __cplusplus
}
#endif
#endif
