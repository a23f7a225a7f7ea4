/*
 * Private declarations of the engine: the configuration's internals, shared by the app, the
 * stream threads and the test driver. Never included outside engine/.
 */
#ifndef RILL_ENGINE_INT_H
#define RILL_ENGINE_INT_H

#include <rill/app.h>
#include <rill/test_driver.h>

#include <librdkafka/rdkafka.h>

typedef enum { SCOPE_BOTH, SCOPE_CONSUMER, SCOPE_PRODUCER } conf_scope_t;

typedef struct {
    conf_scope_t scope;
    char *key;
    char *value;
} passthrough_t;

struct rill_conf {
    char **values; /* one per property of the table, never NULL */
    passthrough_t *pass;
    size_t npass;
    rill_timestamp_fn timestamp_fn;
    void *timestamp_ud;
    rill_record_error_handler_fn error_handler;
    void *error_handler_ud;
};

/* Returns the value of a Rill property (the default when unset); asserts the key exists. */
const char *rill__conf_str(const rill_conf_t *conf, const char *key);
/* Returns an int property. */
int64_t rill__conf_int(const rill_conf_t *conf, const char *key);
/* Fills the parts of a task environment the configuration decides (serdes, extractor,
 * error handler). Returns 0 or RILL_ECONFIG naming the property. */
int rill__conf_task_env(const rill_conf_t *conf, rill_task_env_t *env, char *errstr,
                        size_t errstr_size);
/* Applies the pass-through properties of scope (and both) to a librdkafka configuration. */
int rill__conf_apply(const rill_conf_t *conf, rd_kafka_conf_t *kconf, conf_scope_t scope,
                     char *errstr, size_t errstr_size);

#endif
