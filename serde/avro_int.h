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

#endif
