/*
 * avro_int.h: what serde/avro.c (schemas, values, the codec, the serde) and
 * serde/registry_client.c (the registry client) share. Private to serde/.
 */
#ifndef RILL_SERDE_AVRO_INT_H
#define RILL_SERDE_AVRO_INT_H

#include <rill/serde.h>

#include <stdarg.h>

/* Defined in serde.c: writes a message into errstr (which may be NULL or of size 0). */
void rill__serde_err(char *errstr, size_t errstr_size, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* The registry client's base URL, for error messages, borrowed ("mock://" for a mock). */
const char *rill__registry_url(const rill_registry_client_t *registry);

/* Defined in serde.c: the state of serde when its ops are ops, else NULL. */
void *rill__serde_state(const rill_serde_t *serde, const rill_serde_ops *ops);

/* What the registry serdes (Avro, JSON Schema) are configured with, as Confluent's serializers
 * name it; the strings are borrowed from the conf array. */
typedef struct {
    const char *url, *user_info, *schema, *reader_schema, *topic, *strategy;
    bool auto_register, use_latest, is_key;
} rill__registry_serde_conf_t;

/* Reads conf (key, value pairs, NULL-terminated) into *out (defaults first: auto.register.schemas
 * true); what ("avro serde") names the serde in errors; with_reader: reader.schema and
 * subject.name.strategy are known keys. 0 or RILL_ECONFIG naming the key. */
int rill__registry_serde_conf(const char *what, const char *const *conf, bool with_reader,
                              rill__registry_serde_conf_t *out, char *errstr, size_t errstr_size);
/* The registry client of a registry serde: registry (referenced) when given, else a new one for
 * conf's URL. NULL with errstr. */
rill_registry_client_t *rill__registry_serde_client(const char *what,
                                                    const rill__registry_serde_conf_t *conf,
                                                    rill_registry_client_t *registry, char *errstr,
                                                    size_t errstr_size);

#endif
