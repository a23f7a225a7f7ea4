/*
 * Configuration: ONE table of Rill's properties (name, type, default, range, doc), from which
 * validation, defaults and docs/CONFIGURATION.md all come. Keys not in the table are librdkafka's:
 * they are checked against librdkafka at set time, so a typo is an error naming the key, and
 * passed through to both clients, or to one behind "consumer." / "producer.".
 */
#include "engine_int.h"
#include "clients.h"

#include <ctype.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <errno.h>
#include <sys/stat.h>

static const rill_conf_property_t props[] = {
#define RILL_CONF_ROW(id, name, type, def, range, doc)                                             \
    {name,                                                                                         \
     type == RILL_CONF_T_INT    ? "int"                                                            \
     : type == RILL_CONF_T_ENUM ? "enum"                                                           \
                                : "string",                                                        \
     def, range, doc},
#define STRING RILL_CONF_T_STRING
#define INT    RILL_CONF_T_INT
#define ENUM   RILL_CONF_T_ENUM
    RILL_CONF_PROPS(RILL_CONF_ROW)
#undef STRING
#undef INT
#undef ENUM
#undef RILL_CONF_ROW
};

#define NPROPS (sizeof props / sizeof props[0])

const rill_conf_property_t *rill_conf_properties(size_t *count)
{
    if (count)
        *count = NPROPS;
    return props;
}

static int prop_index(const char *key)
{
    for (size_t i = 0; i < NPROPS; i++)
        if (strcmp(props[i].name, key) == 0)
            return (int)i;
    return -1;
}

rill_conf_t *rill_conf_new(void)
{
    rill_conf_t *conf = rill_calloc(1, sizeof *conf);
    if (!conf)
        return NULL;
    conf->values = rill_calloc(NPROPS, sizeof *conf->values);
    if (!conf->values) {
        rill_free(conf);
        return NULL;
    }
    for (size_t i = 0; i < NPROPS; i++) {
        if (!(conf->values[i] = rill_strdup(props[i].default_value))) {
            rill_conf_destroy(conf);
            return NULL;
        }
        conf->ints[i] = strtoll(props[i].default_value, NULL, 10);
    }
    return conf;
}

void rill_conf_destroy(rill_conf_t *conf)
{
    if (!conf)
        return;
    for (size_t i = 0; conf->values && i < NPROPS; i++)
        rill_free(conf->values[i]);
    rill_free(conf->values);
    for (size_t i = 0; i < conf->npass; i++) {
        rill_free(conf->pass[i].key);
        rill_free(conf->pass[i].value);
    }
    rill_free(conf->pass);
    rill_free(conf);
}

rill_conf_t *rill_conf_dup(const rill_conf_t *conf)
{
    rill_conf_t *copy = rill_conf_new();
    if (!copy || !conf)
        return copy;
    /* The values were validated when set (or are defaults, like an unset application.id):
     * copy them as they are. */
    for (size_t i = 0; i < NPROPS; i++) {
        char *v = rill_strdup(conf->values[i]);
        if (!v)
            goto fail;
        rill_free(copy->values[i]);
        copy->values[i] = v;
        copy->ints[i] = conf->ints[i];
    }
    if (conf->npass) {
        copy->pass = rill_calloc(conf->npass, sizeof *copy->pass);
        if (!copy->pass)
            goto fail;
        for (size_t i = 0; i < conf->npass; i++) {
            copy->pass[i].scope = conf->pass[i].scope;
            copy->pass[i].key = rill_strdup(conf->pass[i].key);
            copy->pass[i].value = rill_strdup(conf->pass[i].value);
            copy->npass++;
            if (!copy->pass[i].key || !copy->pass[i].value)
                goto fail;
        }
    }
    copy->timestamp_fn = conf->timestamp_fn;
    copy->timestamp_ud = conf->timestamp_ud;
    copy->error_handler = conf->error_handler;
    copy->error_handler_ud = conf->error_handler_ud;
    memcpy(copy->handlers, conf->handlers, sizeof copy->handlers);
    memcpy(copy->handler_ud, conf->handler_ud, sizeof copy->handler_ud);
    return copy;
fail:
    rill_conf_destroy(copy);
    return NULL;
}

static int conf_error(char *errstr, size_t size, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static int conf_error(char *errstr, size_t size, const char *fmt, ...)
{
    if (errstr && size) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(errstr, size, fmt, ap);
        va_end(ap);
    }
    return RILL_ECONFIG;
}

/* Whether v is in an INT property's range: alternatives "lo..hi", "lo.." or "n", split by '|'
 * ("-1|1..32767": -1, or 1 to 32767). */
static bool in_range(long long v, const char *range)
{
    for (const char *r = range; r && *r;) {
        char *end;
        long long lo = strtoll(r, &end, 10), hi = lo;
        if (end[0] == '.' && end[1] == '.') {
            end += 2;
            hi = *end && *end != '|' ? strtoll(end, &end, 10) : LLONG_MAX;
        }
        if (v >= lo && v <= hi)
            return true;
        r = strchr(end, '|');
        r = r ? r + 1 : NULL;
    }
    return false;
}

int rill__host_port_split(const char *value, char *host, size_t host_size, int *port)
{
    const char *colon = strrchr(value, ':');
    char *end = NULL;
    /* Digits only (strtol would take spaces and a sign); one colon (no IPv6 literal). */
    long p = colon && isdigit((unsigned char)colon[1]) ? strtol(colon + 1, &end, 10) : -1;
    if (!colon || colon == value || memchr(value, ':', (size_t)(colon - value)) || !end || *end ||
        p > 65535 || (size_t)(colon - value) >= host_size)
        return -1;
    snprintf(host, host_size, "%.*s", (int)(colon - value), value);
    *port = (int)p;
    return 0;
}

/* Checks value against the property's type and range, and the rules of the properties that
 * have their own: names Kafka must accept, a state directory that is not empty, an address. */
static int validate(const rill_conf_property_t *p, const char *value, char *errstr, size_t size)
{
    char why[300];
    rill_conf_id_t id = (rill_conf_id_t)(p - props);
    if (strcmp(p->type, "int") == 0) {
        char *end;
        errno = 0;
        long long v = strtoll(value, &end, 10);
        if (!*value || *end || errno)
            return conf_error(errstr, size, "%s: '%s' is not an integer", p->name, value);
        if (!in_range(v, p->range))
            return conf_error(errstr, size, "%s: %lld is out of range (%s)", p->name, v, p->range);
    } else if (strcmp(p->type, "enum") == 0) {
        size_t n = strlen(value);
        const char *r = p->range;
        bool ok = false;
        while (r && !ok) {
            const char *bar = strchr(r, '|');
            size_t len = bar ? (size_t)(bar - r) : strlen(r);
            ok = len == n && strncmp(r, value, n) == 0;
            r = bar ? bar + 1 : NULL;
        }
        if (!ok)
            return conf_error(errstr, size, "%s: '%s' is not one of %s", p->name, value, p->range);
    } else if (id == RILL_CONF_APPLICATION_ID) {
        if (!*value)
            return conf_error(errstr, size, "application.id must not be empty");
        if (rill__check_name(value, why, sizeof why))
            return conf_error(errstr, size, "application.id: %s", why);
    } else if (id == RILL_CONF_ERRORS_DEAD_LETTER_QUEUE_TOPIC_NAME) {
        if (*value && rill__check_name(value, why, sizeof why))
            return conf_error(errstr, size, "%s: %s", p->name, why);
    } else if ((id == RILL_CONF_METRICS_LISTEN || id == RILL_CONF_QUERY_LISTEN) && *value) {
        char host[256];
        int port;
        if (rill__host_port_split(value, host, sizeof host, &port))
            return conf_error(errstr, size, "%s: '%s' is %s", p->name, value, RILL__HOST_PORT_FORM);
    } else if (id == RILL_CONF_STATE_DIR && !*value) {
        return conf_error(errstr, size,
                          "state.dir must not be empty (it is the directory of the local stores)");
    }
    return 0;
}

/* Whitespace around a key or a value is dropped, as Kafka's configuration does (ConfigDef
 * trims every value, java.util.Properties the keys): "num.stream.threads= 4" sets 4. */
static bool is_blank(char c)
{
    return c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '\f' || c == '\v';
}

/* Returns a new copy of s without its leading and trailing whitespace, or NULL. */
static char *trimmed(const char *s)
{
    while (is_blank(*s))
        s++;
    size_t n = strlen(s);
    while (n && is_blank(s[n - 1]))
        n--;
    char *copy = rill_malloc(n + 1);
    if (copy) {
        memcpy(copy, s, n);
        copy[n] = 0;
    }
    return copy;
}

static int conf_set_trimmed(rill_conf_t *conf, const char *key, const char *value, char *errstr,
                            size_t errstr_size)
{
    int i = prop_index(key);
    if (i >= 0) {
        int rc = validate(&props[i], value, errstr, errstr_size);
        if (rc)
            return rc;
        char *copy = rill_strdup(value);
        if (!copy)
            return RILL_ENOMEM;
        rill_free(conf->values[i]);
        conf->values[i] = copy;
        conf->ints[i] = strtoll(copy, NULL, 10); /* validated: an integer, for INT properties */
        return 0;
    }
    conf_scope_t scope = SCOPE_BOTH;
    const char *kkey = key;
    if (strncmp(key, "consumer.", 9) == 0) {
        scope = SCOPE_CONSUMER;
        kkey = key + 9;
    } else if (strncmp(key, "producer.", 9) == 0) {
        scope = SCOPE_PRODUCER;
        kkey = key + 9;
    }
    const char *why;
    if (rill__client_reserved(kkey, &why))
        return conf_error(errstr, errstr_size, "%s is set by Rill itself: %s", key, why);
    /* Ask librdkafka whether it knows the key and accepts the value. */
    rd_kafka_conf_t *probe = rd_kafka_conf_new();
    char kerr[256];
    rd_kafka_conf_res_t res = rd_kafka_conf_set(probe, kkey, value, kerr, sizeof kerr);
    rd_kafka_conf_destroy(probe);
    if (res == RD_KAFKA_CONF_UNKNOWN)
        return conf_error(errstr, errstr_size,
                          "unknown configuration key '%s' (neither a Rill property nor a "
                          "librdkafka one)",
                          key);
    if (res != RD_KAFKA_CONF_OK)
        return conf_error(errstr, errstr_size, "%s: %s", key, kerr);
    /* At-least-once flushes before it commits: that only means "acknowledged by the in-sync
     * replicas" with acks=all. */
    if ((strcmp(kkey, "acks") == 0 || strcmp(kkey, "request.required.acks") == 0) &&
        strcmp(value, "all") != 0 && strcmp(value, "-1") != 0)
        return conf_error(errstr, errstr_size,
                          "%s=%s: Rill's producers need acks=all (every in-sync replica has the "
                          "record before its input's offset is committed)",
                          key, value);
    /* Idempotence keeps a retried send from writing a record twice, or out of order. */
    if (strcmp(kkey, "enable.idempotence") == 0 && strcmp(value, "true") != 0)
        return conf_error(errstr, errstr_size,
                          "%s=%s: Rill's producers need idempotence (a retried send must not "
                          "write a record twice)",
                          key, value);
    for (size_t p = 0; p < conf->npass; p++)
        if (conf->pass[p].scope == scope && strcmp(conf->pass[p].key, kkey) == 0) {
            char *copy = rill_strdup(value);
            if (!copy)
                return RILL_ENOMEM;
            rill_free(conf->pass[p].value);
            conf->pass[p].value = copy;
            return 0;
        }
    passthrough_t *pass = rill_realloc(conf->pass, (conf->npass + 1) * sizeof *pass);
    if (!pass)
        return RILL_ENOMEM;
    conf->pass = pass;
    pass[conf->npass] = (passthrough_t){scope, rill_strdup(kkey), rill_strdup(value)};
    if (!pass[conf->npass].key || !pass[conf->npass].value) {
        rill_free(pass[conf->npass].key);
        rill_free(pass[conf->npass].value);
        return RILL_ENOMEM;
    }
    conf->npass++;
    return 0;
}

int rill_conf_set(rill_conf_t *conf, const char *key, const char *value, char *errstr,
                  size_t errstr_size)
{
    if (!conf || !key || !value)
        return conf_error(errstr, errstr_size, "rill_conf_set: NULL argument");
    char *k = trimmed(key), *v = trimmed(value);
    int rc = k && v ? conf_set_trimmed(conf, k, v, errstr, errstr_size) : RILL_ENOMEM;
    rill_free(k);
    rill_free(v);
    return rc;
}

const char *rill_conf_get(const rill_conf_t *conf, const char *key)
{
    int i = conf && key ? prop_index(key) : -1;
    return i >= 0 ? conf->values[i] : NULL;
}

const char *rill__conf_str_at(const rill_conf_t *conf, rill_conf_id_t id)
{
    return conf->values[id];
}

int64_t rill__conf_int_at(const rill_conf_t *conf, rill_conf_id_t id)
{
    return conf->ints[id];
}

int rill_conf_load_file(rill_conf_t *conf, const char *path, char *errstr, size_t errstr_size)
{
    FILE *f = fopen(path, "r");
    if (!f)
        return conf_error(errstr, errstr_size, "cannot open config file '%s': %s", path,
                          strerror(errno));
    /* fopen() opens a directory for reading, and the first read fails: say so rather than
     * load nothing. */
    struct stat st;
    if (fstat(fileno(f), &st) == 0 && S_ISDIR(st.st_mode)) {
        fclose(f);
        return conf_error(errstr, errstr_size, "config file '%s' is a directory", path);
    }
    char line[4096], err[512];
    int lineno = 0, rc = 0;
    while (!rc && fgets(line, sizeof line, f)) {
        lineno++;
        char *s = line;
        while (*s == ' ' || *s == '\t')
            s++;
        size_t n = strlen(s);
        while (n && (s[n - 1] == '\n' || s[n - 1] == '\r' || s[n - 1] == ' '))
            s[--n] = 0;
        if (!*s || *s == '#')
            continue;
        char *eq = strchr(s, '=');
        if (!eq) {
            rc = conf_error(errstr, errstr_size, "%s:%d: expected key=value, got '%s'", path,
                            lineno, s);
            break;
        }
        *eq = 0;
        char *k = s, *v = eq + 1;
        size_t kn = strlen(k);
        while (kn && (k[kn - 1] == ' ' || k[kn - 1] == '\t'))
            k[--kn] = 0;
        while (*v == ' ' || *v == '\t')
            v++;
        if ((rc = rill_conf_set(conf, k, v, err, sizeof err)))
            conf_error(errstr, errstr_size, "%s:%d: %s", path, lineno, err);
    }
    if (!rc && ferror(f))
        rc = conf_error(errstr, errstr_size, "cannot read config file '%s': %s", path,
                        strerror(errno));
    fclose(f);
    return rc;
}

void rill_conf_set_timestamp_extractor(rill_conf_t *conf, rill_timestamp_fn fn, void *ud)
{
    conf->timestamp_fn = fn;
    conf->timestamp_ud = ud;
}

void rill_conf_set_exception_handler(rill_conf_t *conf, rill_error_kind_t kind,
                                     rill_exception_handler_fn fn, void *ud)
{
    if (!conf || kind < 0 || kind >= RILL_ERROR_KINDS)
        return;
    conf->handlers[kind] = fn;
    conf->handler_ud[kind] = ud;
}

void rill_conf_set_record_error_handler(rill_conf_t *conf, rill_record_error_handler_fn fn,
                                        void *ud)
{
    conf->error_handler = fn;
    conf->error_handler_ud = ud;
}

static int64_t wallclock_extractor(void *ud, const rill_record_t *rec, int64_t partition_time)
{
    return rill_wall_clock_ms();
}

int rill__conf_task_env(const rill_conf_t *conf, rill_task_env_t *env, char *errstr,
                        size_t errstr_size)
{
    env->application_id = RILL_CONF_STR(conf, APPLICATION_ID);
    const char *ks = RILL_CONF_STR(conf, DEFAULT_KEY_SERDE);
    const char *vs = RILL_CONF_STR(conf, DEFAULT_VALUE_SERDE);
    env->default_key_serde = *ks ? rill_serde_by_name(ks) : NULL;
    env->default_value_serde = *vs ? rill_serde_by_name(vs) : NULL;
    if ((*ks && !env->default_key_serde) || (*vs && !env->default_value_serde))
        return conf_error(errstr, errstr_size, "default serde '%s' is not built in",
                          *ks && !env->default_key_serde ? ks : vs);
    env->timestamp_fn = conf->timestamp_fn;
    env->timestamp_ud = conf->timestamp_ud;
    if (!env->timestamp_fn &&
        strcmp(RILL_CONF_STR(conf, DEFAULT_TIMESTAMP_EXTRACTOR), "wallclock") == 0)
        env->timestamp_fn = wallclock_extractor;
    env->error_handler = conf->error_handler;
    env->error_handler_ud = conf->error_handler_ud;
    const char *deser = RILL_CONF_STR(conf, DESERIALIZATION_EXCEPTION_HANDLER);
    if (!*deser)
        deser = RILL_CONF_STR(conf, DEFAULT_DESERIALIZATION_EXCEPTION_HANDLER);
    env->continue_on[RILL_ERROR_DESERIALIZATION] = strcmp(deser, "continue") == 0;
    env->continue_on[RILL_ERROR_PROCESSING] =
        strcmp(RILL_CONF_STR(conf, PROCESSING_EXCEPTION_HANDLER), "continue") == 0;
    for (int k = 0; k < RILL_ERROR_KINDS; k++) {
        env->handler[k] = conf->handlers[k];
        env->handler_ud[k] = conf->handler_ud[k];
    }
    const char *dlq = RILL_CONF_STR(conf, ERRORS_DEAD_LETTER_QUEUE_TOPIC_NAME);
    env->dlq_topic = *dlq ? dlq : NULL;
    env->dlq_dropped_records =
        strcmp(RILL_CONF_STR(conf, ERRORS_DEAD_LETTER_QUEUE_DROPPED_RECORDS), "true") == 0;
    env->dlq_late_records =
        env->dlq_dropped_records ||
        strcmp(RILL_CONF_STR(conf, ERRORS_DEAD_LETTER_QUEUE_LATE_RECORDS), "true") == 0;
    int nd =
        rill__retry_delays_parse(RILL_CONF_STR(conf, ERRORS_RETRY_TOPICS_DELAYS_MS),
                                 env->retry_delays, RILL_RETRY_TOPICS_MAX, errstr, errstr_size);
    if (nd < 0)
        return nd;
    env->nretry_delays = nd;
    env->retry_all = strcmp(RILL_CONF_STR(conf, ERRORS_RETRY_TOPICS_PROCESSING), "all") == 0;
    env->inplace_attempts = (int)RILL_CONF_INT(conf, ERRORS_RETRY_IN_PLACE_ATTEMPTS);
    env->inplace_backoff_ms = RILL_CONF_INT(conf, ERRORS_RETRY_IN_PLACE_BACKOFF_MS);
    const char *prod = RILL_CONF_STR(conf, PRODUCTION_EXCEPTION_HANDLER);
    env->continue_on[RILL_ERROR_PRODUCTION] = strcmp(prod, "continue") == 0;
    env->retry_production = strcmp(prod, "retry") == 0;
    env->production_retries = (int)RILL_CONF_INT(conf, PRODUCTION_EXCEPTION_HANDLER_RETRIES);
    env->production_backoff_ms = RILL_CONF_INT(conf, PRODUCTION_EXCEPTION_HANDLER_RETRY_BACKOFF_MS);
    env->default_store_backend = strcmp(RILL_CONF_STR(conf, DEFAULT_DSL_STORE), "in_memory") == 0
                                     ? RILL_STORE_IN_MEMORY
                                     : RILL_STORE_ROCKSDB;
    env->cache_max_bytes = (size_t)RILL_CONF_INT(conf, STATESTORE_CACHE_MAX_BYTES);
    env->outer_join_emit_interval_ms = RILL_CONF_INT(conf, OUTER_JOIN_EMIT_INTERVAL_MS);
    env->debug_metrics = strcmp(RILL_CONF_STR(conf, METRICS_RECORDING_LEVEL), "INFO") != 0;
    return 0;
}

int rill__conf_apply(const rill_conf_t *conf, rd_kafka_conf_t *kconf, conf_scope_t scope,
                     char *errstr, size_t errstr_size)
{
    for (size_t i = 0; i < conf->npass; i++) {
        const passthrough_t *p = &conf->pass[i];
        if (p->scope != SCOPE_BOTH && p->scope != scope)
            continue;
        if (rd_kafka_conf_set(kconf, p->key, p->value, errstr, errstr_size) != RD_KAFKA_CONF_OK)
            return RILL_ECONFIG;
    }
    return 0;
}

typedef struct {
    rill_bytes_t *sb;
    int rc;
} client_rows_t;

static void client_row(void *ud, const char *clients, const char *key, const char *value,
                       bool forced, const char *reason)
{
    client_rows_t *cr = ud;
    char row[1024];
    int n = snprintf(row, sizeof row, "| %s | `%s` | `%s` | %s | %s |\n", clients, key, value,
                     forced ? "forced" : "default", reason);
    if (!cr->rc)
        cr->rc =
            rill_bytes_append(cr->sb, row, (size_t)n < sizeof row ? (size_t)n : sizeof row - 1);
}

char *rill_conf_markdown(void)
{
    rill_bytes_t sb = {0};
    const char *head =
        "# Rill configuration\n\n"
        "<!-- Generated by `rill config --markdown` from the property table in "
        "engine/config.c; `make check` fails when this file is stale. -->\n\n"
        "Set properties with `rill_conf_set(conf, key, value, errstr, size)`, `--config "
        "key=value` or `--config-file FILE` (one `key=value` a line). Any other key is "
        "librdkafka's: it is checked against librdkafka and passed to both clients, or to one "
        "behind `consumer.` or `producer.` (for example `consumer.fetch.min.bytes=1`). "
        "Whitespace around a key or a value is dropped, for every key (as Kafka's "
        "configuration does): `num.stream.threads= 4` sets 4. What Rill gives librdkafka's "
        "clients itself is in the second table.\n\n"
        "| Property | Type | Default | Range | Description |\n"
        "|---|---|---|---|---|\n";
    int rc = rill_bytes_append(&sb, head, strlen(head));
    for (size_t i = 0; i < NPROPS && !rc; i++) {
        /* A '|' inside a cell would end it: escape the ones in enum ranges. */
        char range[256];
        size_t r = 0;
        for (const char *c = props[i].range; *c && r + 3 < sizeof range; c++) {
            if (*c == '|')
                range[r++] = '\\';
            range[r++] = *c;
        }
        range[r] = 0;
        char row[2048];
        int n = snprintf(row, sizeof row, "| `%s` | %s | %s%s%s | %s | %s |\n", props[i].name,
                         props[i].type, *props[i].default_value ? "`" : "",
                         *props[i].default_value ? props[i].default_value : "(none)",
                         *props[i].default_value ? "`" : "", range, props[i].doc);
        rc = rill_bytes_append(&sb, row, (size_t)n);
    }
    const char *clients =
        "\n## What Rill gives librdkafka's clients\n\n"
        "Generated from the table in engine/clients.c. A *default* is set before your "
        "pass-through properties, which may change it; a *forced* one after them, and "
        "`rill_conf_set` refuses its key as a pass-through (settings marked exactly-once are "
        "forced only under `exactly_once_v2`). `bootstrap.servers` is Rill's own property "
        "(first table): you set it, and Rill gives its value to every client.\n\n"
        "| Clients | librdkafka property | Value | Kind | Why |\n"
        "|---|---|---|---|---|\n";
    client_rows_t cr = {&sb, rc ? rc : rill_bytes_append(&sb, clients, strlen(clients))};
    rill__client_settings(client_row, &cr);
    rc = cr.rc;
    if (rc || rill_bytes_append(&sb, "", 1)) {
        rill_bytes_free(&sb);
        return NULL;
    }
    return (char *)sb.data;
}

bool rill__conf_eos(const rill_conf_t *conf)
{
    return strcmp(RILL_CONF_STR(conf, PROCESSING_GUARANTEE), "exactly_once_v2") == 0;
}

int64_t rill__conf_commit_interval(const rill_conf_t *conf)
{
    int64_t ms = RILL_CONF_INT(conf, COMMIT_INTERVAL_MS);
    return ms > 0 ? ms : rill__conf_eos(conf) ? 100 : 30000;
}
